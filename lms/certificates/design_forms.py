"""Forms of the certificate design pages: texts per key and language, colours, logo and seal."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields import ColorField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from lms.certificates.designs import (
    MAX_MONTHS,
    MAX_NAME,
    MAX_TEXT,
    MIN_MONTHS,
    TEXT_KEYS,
    default_texts,
    text_field,
)

TEXT_LABELS = {
    "title": _l("Title"),
    "statement": _l("Statement below the name"),
    "skills_heading": _l("Heading of the skills"),
    "issuer_label": _l("Label of the issuer"),
    "verify_hint": _l("Hint next to the QR code"),
}
COLOR_MESSAGE = _l("Give a colour as # and six hexadecimal digits, e.g. #1d4e89.")
IMAGE_HINT = _l("PNG or JPEG, at most 1 MB. The file's content is checked, not its name.")


class DesignForm(FlaskForm):
    name = StringField(
        _l("Name of the design"),
        validators=[DataRequired(message=_l("Give the design a name.")), Length(max=MAX_NAME)],
    )
    primary_color = ColorField(
        _l("Main colour"),
        validators=[
            DataRequired(message=COLOR_MESSAGE),
            Regexp(r"^#[0-9a-fA-F]{6}$", message=COLOR_MESSAGE),
        ],
    )
    accent_color = ColorField(
        _l("Accent colour"),
        validators=[
            DataRequired(message=COLOR_MESSAGE),
            Regexp(r"^#[0-9a-fA-F]{6}$", message=COLOR_MESSAGE),
        ],
    )
    logo = FileField(_l("Logo"), description=IMAGE_HINT)
    seal = FileField(_l("Seal"), description=IMAGE_HINT)
    remove_logo = BooleanField(_l("Remove the logo"))
    remove_seal = BooleanField(_l("Remove the seal"))

    def text_fields(self):
        """[(key, zh field, en field)] in the template's order."""
        return [(k, self[text_field(k, "zh")], self[text_field(k, "en")]) for k in TEXT_KEYS]

    def texts(self) -> dict:
        return {k: {"zh": zh.data, "en": en.data} for k, zh, en in self.text_fields()}

    def fill_texts(self, texts: dict | None) -> None:
        """Prefill the texts (GET): the design's, else the default template's."""
        base = default_texts()
        for key, values in (texts or {}).items():
            if key in base:
                base[key].update({lang: v for lang, v in values.items() if v})
        for key, zh, en in self.text_fields():
            zh.data, en.data = base[key]["zh"], base[key]["en"]


class NewDesignForm(DesignForm):
    place = SelectField(_l("For"), choices=[], validate_choice=True)


def _add_text_fields(form_class) -> None:
    for key in TEXT_KEYS:
        for lang in ("zh", "en"):
            field_class = TextAreaField if key == "statement" else StringField
            setattr(
                form_class,
                text_field(key, lang),
                field_class(
                    _l("%(text)s (Chinese)", text=TEXT_LABELS[key])
                    if lang == "zh"
                    else _l("%(text)s (English)", text=TEXT_LABELS[key]),
                    validators=[
                        DataRequired(message=_l("Fill in this text.")),
                        Length(max=MAX_TEXT[key], message=_l("At most %(max)d characters.")),
                    ],
                    render_kw={"maxlength": MAX_TEXT[key]},
                ),
            )


_add_text_fields(DesignForm)


class ValidityForm(FlaskForm):
    months = IntegerField(
        _l("Certificates valid for (months)"),
        validators=[
            Optional(),
            NumberRange(
                min=MIN_MONTHS,
                max=MAX_MONTHS,
                message=_l("Between %(min)s and %(max)s months, or empty for no expiry."),
            ),
        ],
        description=_l(
            "Counted from the day each certificate is issued. Empty: certificates of this "
            "course don't expire. A change applies to certificates issued from now on."
        ),
        render_kw={"min": MIN_MONTHS, "max": MAX_MONTHS, "inputmode": "numeric"},
    )
    # Set when the change was shown with its effect on issued certificates: the validity it
    # was shown for (a different value typed in is shown first, too).
    confirmed = HiddenField()
