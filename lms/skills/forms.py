"""Forms of the taxonomy pages: a consortium's own skills and job roles (no JavaScript needed)."""

from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from lms.core.i18n import ui_locale
from lms.taxonomy.models import level_name
from lms.taxonomy.service import (
    ID_PATTERN,
    ID_RULE,
    MAX_EDITION,
    MAX_NAME,
    OCCUPATION_CODE_PATTERN,
    OCCUPATION_CODE_RULE,
)

ROWS = 15  # required-skill rows a role form offers at least
EMPTY_ROWS = 5  # and at least this many empty ones below the filled rows

_ID_KW = {"autocapitalize": "none", "spellcheck": "false", "autocomplete": "off"}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _id_field(label):
    return StringField(
        label,
        description=ID_RULE,
        validators=[DataRequired(_l("Enter an id.")), Regexp(ID_PATTERN, message=ID_RULE)],
        filters=[_strip],
        render_kw=_ID_KW,
    )


def _name_fields():
    too_long = _l("At most %(n)d characters.", n=MAX_NAME)
    return (
        StringField(
            _l("Name (Chinese)"),
            validators=[
                DataRequired(_l("Enter the Chinese name.")),
                Length(max=MAX_NAME, message=too_long),
            ],
            render_kw={"lang": "zh-CN"},
        ),
        StringField(
            _l("Name (English)"),
            validators=[
                DataRequired(_l("Enter the English name.")),
                Length(max=MAX_NAME, message=too_long),
            ],
            render_kw={"lang": "en"},
        ),
    )


def _submitted() -> bool:
    return bool(request) and request.method in ("POST", "PUT", "PATCH", "DELETE")


class SkillForm(FlaskForm):
    skill_id = _id_field(_l("Skill id"))
    category_id = SelectField(
        _l("Category"), validators=[DataRequired(_l("Choose a category."))], validate_choice=False
    )
    name_zh, name_en = _name_fields()
    description_zh = TextAreaField(
        _l("Description (Chinese, optional)"), validators=[Optional()], render_kw={"lang": "zh-CN"}
    )
    description_en = TextAreaField(
        _l("Description (English, optional)"), validators=[Optional()], render_kw={"lang": "en"}
    )

    def __init__(self, *args, categories=(), editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.skill_id  # the id never changes; the page shows it as text
        locale = ui_locale()
        self.category_id.choices = [SelectChoice("", _l("— choose —"))] + [
            SelectChoice(c.id, c.name_en if locale == "en" else c.name_zh) for c in categories
        ]


class RequirementRowForm(Form):
    """One required skill and its level (a sub-form: the outer form carries the CSRF token)."""

    skill = SelectField(_l("Skill"), validate_choice=False)
    level = SelectField(_l("Level"), validate_choice=False)


class RoleForm(FlaskForm):
    role_id = _id_field(_l("Job role id"))
    name_zh, name_en = _name_fields()
    occupation_code = StringField(
        _l("National occupation code (optional)"),
        description=_l("As in the national occupational classification, e.g. 6-31-01-03."),
        validators=[Optional(), Regexp(OCCUPATION_CODE_PATTERN, message=OCCUPATION_CODE_RULE)],
        filters=[_strip],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"},
    )
    occupation_name = StringField(
        _l("Occupation name (optional)"),
        validators=[
            Optional(),
            Length(max=MAX_NAME, message=_l("At most %(n)d characters.", n=MAX_NAME)),
        ],
    )
    occupation_edition = StringField(
        _l("Edition of the classification (optional)"),
        description=_l("The year of the edition, e.g. 2022."),
        validators=[
            Optional(),
            Length(max=MAX_EDITION, message=_l("At most %(n)d characters.", n=MAX_EDITION)),
        ],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    requirements = FieldList(FormField(RequirementRowForm), label=_l("Required skills"))

    def __init__(self, *args, skills=(), role=None, editing: bool = False, **kwargs):
        if role is not None and not _submitted():
            kwargs.setdefault("data", role_data(role))
        super().__init__(*args, **kwargs)
        if editing:
            del self.role_id
        # Messages about the required skills as a whole and per row (set by the view).
        self.requirement_errors: list = []
        filled = sum(1 for e in self.requirements.entries if e.form.skill.data)
        while len(self.requirements.entries) < max(ROWS, filled + EMPTY_ROWS):
            self.requirements.append_entry()
        skill_choices = skill_select_choices(skills)
        level_choices = [SelectChoice("", _l("— level —"))] + [
            SelectChoice(str(n), level_name(n, ui_locale())) for n in range(1, 6)
        ]
        for entry in self.requirements.entries:
            entry.form.skill.choices = skill_choices
            entry.form.level.choices = level_choices

    def requirement_rows(self) -> list[tuple[str, str]]:
        """(skill id, level) as posted, one per row, blank rows included (rows keep numbers)."""
        return [(e.form.skill.data or "", e.form.level.data or "") for e in self.requirements]

    def values(self) -> dict:
        return {
            "name_zh": self.name_zh.data,
            "name_en": self.name_en.data,
            "occupation_code": self.occupation_code.data or "",
            "occupation_name": self.occupation_name.data or "",
            "occupation_edition": self.occupation_edition.data or "",
            "requirements": self.requirement_rows(),
        }


def role_data(role) -> dict:
    """A role as the initial data of RoleForm."""
    return {
        "role_id": role.id,
        "name_zh": role.name_zh,
        "name_en": role.name_en,
        "occupation_code": role.occupation_code or "",
        "occupation_name": role.occupation_name or "",
        "occupation_edition": role.occupation_edition or "",
        "requirements": [{"skill": r.skill_id, "level": str(r.level)} for r in role.requirements],
    }


def skill_select_choices(skills) -> list[SelectChoice]:
    """Options of a skill picker: "— none —", then the skills grouped by category (optgroups)."""
    locale = ui_locale()
    out = [SelectChoice("", _l("— none —"))]
    for skill in skills:
        category = skill.category
        group = category.name_en if locale == "en" else category.name_zh
        out.append(SelectChoice(skill.id, f"{skill.name(locale)} ({skill.id})", optgroup=group))
    return out


class CopyRoleForm(FlaskForm):
    role_id = _id_field(_l("Id of the copy"))
    name_zh, name_en = _name_fields()
