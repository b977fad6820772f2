"""Forms for assigning courses."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from lms.core.forms import choices
from lms.tenancy.forms import MultiCheckboxField


class AssignForm(FlaskForm):
    course = SelectField(_l("Course"), validators=[DataRequired(_l("Choose a course."))])
    target = RadioField(
        _l("Assign to"),
        choices=choices(
            [
                ("job_role", _l("Everyone with a job role")),
                ("people", _l("Chosen people")),
                ("file", _l("People listed in a CSV or Excel file")),
            ]
        ),
        default="job_role",
    )
    job_role = SelectField(_l("Job role"), validators=[Optional()])
    people = MultiCheckboxField(_l("People"), validators=[Optional()])
    file = FileField(
        _l("File with one mobile number, e-mail or employee number per row"),
        render_kw={"accept": ".csv,.xlsx"},
    )
    due_on = DateField(_l("Due date"), validators=[Optional()])
    is_mandatory = BooleanField(_l("Mandatory"))


class ConsortiumAssignForm(FlaskForm):
    course = SelectField(_l("Course"), validators=[DataRequired(_l("Choose a course."))])
    firms = MultiCheckboxField(_l("Firms"))
    job_role = SelectField(_l("Only this job role"), validators=[Optional()])
    due_on = DateField(_l("Due date"), validators=[Optional()])
    is_mandatory = BooleanField(_l("Mandatory"))


class SignOffForm(FlaskForm):
    comment = TextAreaField(_l("Comment (optional)"), validators=[Optional(), Length(max=500)])
