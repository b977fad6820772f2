"""Forms of the skills pages: target role, self-assessment, ratings, paths."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from lms.core.forms import choices
from lms.taxonomy.models import level_name


def level_choices(locale: str):
    return choices(
        [("", _l("Choose a level"))] + [(str(n), level_name(n, locale)) for n in range(1, 6)]
    )


class TargetRoleForm(FlaskForm):
    target_role = SelectField(_l("Job role I am working towards"), validators=[Optional()])
    save_target = SubmitField(_l("Save my goal"))


class SkillLevelForm(FlaskForm):
    """A self-assessment by the worker, or a rating by their firm admin."""

    skill = SelectField(_l("Skill"), validators=[DataRequired(_l("Choose a skill."))])
    level = SelectField(_l("Level"), validators=[DataRequired(_l("Choose a level."))])
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=500)])
    save_level = SubmitField(_l("Save"))


class JobRoleForm(FlaskForm):
    job_role = SelectField(_l("Current job role"), validators=[Optional()])
    save_role = SubmitField(_l("Save job role"))


class PathForm(FlaskForm):
    """Enrol in (or assign) every course of a learning path at once."""

    role = SelectField(_l("For the job role"))
    due_on = DateField(_l("Due date"), validators=[Optional()])
    take_path = SubmitField(_l("Assign the whole path"))
