"""Forms for consortia, firms and people."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from lms.core.forms import choices
from lms.tenancy.labels import FIRM_KIND_LABELS, REGION_LABELS, ROLE_LABELS, SECTOR_LABELS


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ConsortiumForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=[DataRequired(_l("Enter the consortium's name.")), Length(max=120)]
    )
    code = StringField(
        _l("Code"),
        description=_l(
            "2–8 letters or digits; starts every certificate serial. Cannot change later."
        ),
        validators=[DataRequired(_l("Enter a code.")), Length(min=2, max=8)],
    )
    city = StringField(_l("City"), validators=[DataRequired(_l("Enter the city.")), Length(max=60)])
    region = SelectField(_l("Region"), choices=choices(REGION_LABELS.items()))
    sectors = MultiCheckboxField(
        _l("Focus sectors (one to three)"), choices=choices(SECTOR_LABELS.items())
    )


class FirmForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=[DataRequired(_l("Enter the firm's name.")), Length(max=120)]
    )
    kind = SelectField(_l("Kind"), choices=choices(FIRM_KIND_LABELS.items()))
    credit_code = StringField(
        _l("Unified social credit code"),
        description=_l("18 characters, as printed on the business licence."),
        validators=[DataRequired(_l("Enter the unified social credit code."))],
        render_kw={"autocapitalize": "characters", "spellcheck": "false"},
    )


class InviteForm(FlaskForm):
    name = StringField(
        _lp("person", "Name"),
        validators=[DataRequired(_l("Enter the person's name.")), Length(max=80)],
    )
    mobile = StringField(
        _l("Mobile number"), validators=[Optional(), Length(max=20)], render_kw={"inputmode": "tel"}
    )
    email = StringField(
        _l("E-mail"), validators=[Optional(), Length(max=254)], render_kw={"inputmode": "email"}
    )
    role = SelectField(_l("Role"))
    job_role = SelectField(_l("Job role"), validators=[Optional()])
    firm = SelectField(_l("Firm"), coerce=int)

    def __init__(self, *args, roles: tuple[str, ...], firms=None, job_roles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = choices((r, ROLE_LABELS[r]) for r in roles)
        if set(roles) <= {"consortium_admin", "auditor"}:
            del self.job_role
        else:
            self.job_role.choices = choices([("", _l("— none —")), *job_roles])
        if firms is None:
            del self.firm
        else:
            self.firm.choices = choices((f.id, f.name) for f in firms)


class ImportForm(FlaskForm):
    file = FileField(
        _l("CSV or Excel file"),
        validators=[FileRequired(_l("Choose a file to upload."))],
        render_kw={
            "accept": ".csv,.xlsx,text/csv,"
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        },
    )


class ConfirmForm(FlaskForm):
    """A form with only the CSRF token, for confirmations and one-click actions."""


# Why a membership ended, in the page's language (the codes are lms.tenancy.models.END_REASONS).
END_REASON_LABELS = {
    "left": _l("Left the firm"),
    "moved": _l("Moved to another member firm"),
    "contract_ended": _l("Contract ended"),
    "other": _l("Other reason"),
}


class EndMembershipForm(FlaskForm):
    """A firm admin ends a person's membership: why and from which day. Submitted once to
    review, then again with `confirmed` to act."""

    reason = RadioField(
        _l("Reason"),
        choices=choices(END_REASON_LABELS.items()),
        validators=[DataRequired(_l("Reason: choose why the membership ends."))],
        validate_choice=False,  # the service names an unknown reason, in the page's language
    )
    note = StringField(
        _l("Details"),
        description=_l("Required for “Other reason”; at most 200 characters."),
        validators=[Optional(), Length(max=200, message=_l("Details: at most 200 characters."))],
    )
    ends_on = DateField(
        _l("End date"),
        description=_l(
            "The first day they are no longer a member: today or an earlier date, not before "
            "they joined."
        ),
        validators=[DataRequired(_l("End date: enter a date such as 2026-01-31."))],
        invalid_value_message=_l("End date: enter a date such as 2026-01-31."),
    )
    close_account = BooleanField(
        _l(
            "Also close their account (they are signed out everywhere and can no longer sign "
            "in; their records are kept)"
        )
    )
    confirmed = HiddenField()
