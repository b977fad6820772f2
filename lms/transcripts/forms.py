"""The period filter of the training-hours pages (a GET form: no CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, Form, SelectField
from wtforms.validators import Optional

from lms.transcripts.service import Period

MAX_DAYS = 366 * 10  # ten years: a claim period, not the history of the world


class PeriodForm(Form):
    """From/to dates (inclusive); both empty means this calendar year."""

    start = DateField(
        _l("From"),
        validators=[Optional()],
        invalid_value_message=_l("From: enter a date such as 2026-01-31."),
    )
    end = DateField(
        _l("To"),
        validators=[Optional()],
        invalid_value_message=_l("To: enter a date such as 2026-12-31."),
    )

    def __init__(self, formdata, default: Period, **kwargs):
        super().__init__(formdata, **kwargs)
        self.default = default

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        start, end = self.start.data or self.default.start, self.end.data or self.default.end
        if end < start:
            self.end.errors = [_l("To: the end date is before the start date.")]
            return False
        if (end - start).days > MAX_DAYS:
            self.end.errors = [_l("To: choose a period of at most ten years.")]
            return False
        return True

    def period(self) -> Period:
        """The chosen period (call after validate(); the default where a date is missing)."""
        if self.start.errors or self.end.errors:
            return self.default
        return Period(self.start.data or self.default.start, self.end.data or self.default.end)


class ConsortiumPeriodForm(PeriodForm):
    firm = SelectField(_l("Firm"), validators=[Optional()], validate_choice=False)
