"""Forms of the certificate pages (no JavaScript needed)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from lms.core.forms import choices

MAX_REASON = 500


class RevokeForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for revoking"),
        validators=[
            DataRequired(message=_l("Give the reason for revoking.")),
            Length(max=MAX_REASON),
        ],
        description=_l(
            "The verification page will show the certificate as revoked with the date; "
            "the reason is kept in the records and the audit log."
        ),
    )


class BulkIssueForm(FlaskForm):
    """Bulk issuing: a published course, and everyone who completed it or one firm's."""

    course = SelectField(_l("Course"), validators=[DataRequired(message=_l("Choose a course."))])
    target = RadioField(
        _l("Issue for"),
        choices=choices(
            [
                ("cohort", _l("Everyone who completed the course")),
                ("firm", _l("The completers of one firm")),
            ]
        ),
        default="cohort",
    )
    firm = SelectField(_l("Firm"), validate_choice=False)


class VerifyForm(FlaskForm):
    """The public look-up: a certificate's number and its verification code, as printed (the
    number alone opens nothing: serials count up)."""

    serial = StringField(
        _l("Certificate no."),
        validators=[
            DataRequired(message=_l("Enter the certificate number.")),
            Length(max=40),
        ],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )
    code = StringField(
        _l("Verification code"),
        validators=[
            DataRequired(message=_l("Enter the verification code.")),
            Length(max=40),
        ],
        description=_l(
            "As printed next to the certificate number, for example %(code)s.",
            code="7K3M-Q9XD-2RTB",
        ),
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )
