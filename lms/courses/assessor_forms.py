"""The consortium admin's form for designating a course's assessors."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import DataRequired


class DesignateForm(FlaskForm):
    # The choices (trainers grouped by firm) are set by the view; a posted person who is no
    # longer on the list is judged by the service, which says why.
    trainer = SelectField(
        _l("Trainer"),
        validators=[DataRequired(_l("Choose a trainer."))],
        validate_choice=False,
    )
