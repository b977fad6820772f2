"""Forms of course authoring and review (every one a FlaskForm with its CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from lms.core.forms import choices as select_choices
from lms.core.i18n import LANGUAGE_NAMES, ui_locale
from lms.courses.authoring_limits import QUESTION_LIMITS, WithinLimit
from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.question_types import QUESTION_TYPES
from lms.courses.quiz_settings import DEFAULT_REVIEW, MAX_DRAW, REVIEW_POLICIES
from lms.taxonomy.models import level_name
from lms.tenancy.forms import MultiCheckboxField
from lms.tenancy.labels import SECTOR_LABELS

LANGUAGE_LABELS = LANGUAGE_NAMES  # 中文 / 英文 on a Chinese page, Chinese / English otherwise
SKILL_ROWS = 3  # empty skill rows offered below the chosen ones (no JavaScript needed)


class SkillRowForm(Form):
    """One skill and the level it reaches (a sub-form: the outer form carries the CSRF token)."""

    skill = SelectField(_l("Skill"), validate_choice=False)
    level = SelectField(_l("Level"), coerce=int, validate_choice=False)


def _skill_rows(field: FieldList, skills, *, pad: bool) -> None:
    """Fill the choices of every skill row, and offer a few empty rows on a fresh form."""
    if pad:
        while len(field.entries) < len([e for e in field.entries if e.form.skill.data]) + (
            SKILL_ROWS
        ):
            field.append_entry()
    locale = ui_locale()
    skill_choices = select_choices(
        [("", _l("— none —"))] + [(s.id, f"{s.name(locale)} ({s.id})") for s in skills]
    )
    level_choices = select_choices((n, level_name(n, locale)) for n in range(1, 6))
    for entry in field.entries:
        entry.form.skill.choices = skill_choices
        entry.form.level.choices = level_choices


def skill_values(field: FieldList) -> list[tuple[str, int]]:
    """The (skill id, level) pairs of the filled rows."""
    out = []
    for entry in field.entries:
        skill = entry.form.skill.data
        if skill:
            level = entry.form.level.data
            out.append((skill, level if isinstance(level, int) else 0))
    return out


class CourseForm(FlaskForm):
    slug = StringField(
        _l("Web address"),
        description=_l(
            "Lower-case letters, digits and dashes, e.g. plc-basics. It appears in the "
            "course's address and cannot change later."
        ),
        validators=[DataRequired(_l("Enter the web address.")), Length(max=80)],
        render_kw={"autocapitalize": "none", "spellcheck": "false", "autocomplete": "off"},
    )
    title = StringField(
        _l("Title"), validators=[DataRequired(_l("Enter a title.")), Length(max=200)]
    )
    language = SelectField(
        _l("Language of the course"), choices=select_choices(LANGUAGE_LABELS.items())
    )
    summary = TextAreaField(
        _l("Summary"),
        description=_l("Two or three sentences for the catalogue: who it is for, what they learn."),
        validators=[DataRequired(_l("Write a short summary for the catalogue.")), Length(max=2000)],
        render_kw={"rows": 3},
    )
    sector = SelectField(_l("Sector"), choices=select_choices(SECTOR_LABELS.items()))
    hours = DecimalField(
        _l("Study hours"),
        places=1,
        validators=[
            InputRequired(_l("Enter the study hours.")),
            NumberRange(min=0.1, max=1000, message=_l("Between 0.1 and 1000 hours.")),
        ],
        render_kw={"inputmode": "decimal"},
    )
    pass_mark = IntegerField(
        _l("Pass mark"),
        default=60,
        description=_l("The average quiz score (0–100) a learner needs to complete the course."),
        validators=[
            InputRequired(_l("Enter the pass mark.")),
            NumberRange(min=0, max=100, message=_l("A whole number from 0 to 100.")),
        ],
        render_kw={"inputmode": "numeric"},
    )
    skills = FieldList(FormField(SkillRowForm), label=_l("Skills taught, and the level reached"))
    prerequisites = MultiCheckboxField(_l("Prerequisites (published courses)"))

    def __init__(self, *args, skills=(), prerequisites=(), editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        _skill_rows(self.skills, skills, pad=not self.is_submitted())
        self.prerequisites.choices = select_choices(
            (slug, f"{title} ({slug})") for slug, title in prerequisites
        )
        if editing:
            del self.slug

    def meta_values(self) -> dict:
        return {
            "title": self.title.data,
            "language": self.language.data,
            "summary": self.summary.data,
            "sector": self.sector.data,
            "hours": float(self.hours.data) if self.hours.data is not None else None,
            "pass_mark": self.pass_mark.data,
            "skills": skill_values(self.skills),
            "prerequisites": list(self.prerequisites.data or []),
        }


class ModuleForm(FlaskForm):
    title = StringField(
        _l("Module title"), validators=[DataRequired(_l("Enter a title.")), Length(max=200)]
    )


class MoveForm(FlaskForm):
    position = IntegerField(
        _l("Position"), validators=[InputRequired(), NumberRange(min=0, max=9999)]
    )


class LessonForm(FlaskForm):
    """One form for every lesson type; fields a type does not use are removed."""

    title = StringField(
        _l("Title"), validators=[DataRequired(_l("Enter a title.")), Length(max=200)]
    )
    module = SelectField(_l("Module"), coerce=int)
    minutes = IntegerField(
        _l("Minutes to study"),
        validators=[Optional(), NumberRange(min=0, max=600, message=_l("0 to 600 minutes."))],
        render_kw={"inputmode": "numeric"},
    )
    body = TextAreaField(
        _l("Text (Markdown)"),
        description=_l(
            "Markdown: # heading, **bold**, - list, [link](https://…). HTML is not allowed."
        ),
        render_kw={"rows": 14, "class": "markdown-input"},
    )
    pass_mark = IntegerField(
        _l("Pass mark of the quiz"),
        default=60,
        validators=[
            InputRequired(_l("Enter the pass mark.")),
            NumberRange(min=0, max=100, message=_l("A whole number from 0 to 100.")),
        ],
        render_kw={"inputmode": "numeric"},
    )
    attempts = IntegerField(
        _l("Attempts allowed"),
        default=0,
        description=_l("0 means unlimited."),
        validators=[
            InputRequired(_l("Enter the number of attempts.")),
            NumberRange(min=0, max=99, message=_l("0 (unlimited) to 99.")),
        ],
        render_kw={"inputmode": "numeric"},
    )
    shuffle = BooleanField(_l("Shuffle questions and choices for each attempt"))
    draw = IntegerField(
        _l("Questions per attempt"),
        description=_l(
            "Leave empty to ask every question. With a number, each attempt draws that many "
            "questions at random, those the learner has not seen yet first; the pass mark "
            "applies to the drawn questions."
        ),
        validators=[
            Optional(),
            NumberRange(min=1, max=MAX_DRAW, message=_l("1 to %(max)d questions.", max=MAX_DRAW)),
        ],
        render_kw={"inputmode": "numeric"},
    )
    review = SelectField(
        _l("Show the correct answers and explanations"),
        choices=select_choices(REVIEW_POLICIES.items()),
        default=DEFAULT_REVIEW,
        description=_l("Until then, learners see their score and which questions were wrong."),
    )
    time_limit_minutes = IntegerField(
        _l("Time limit in minutes"),
        description=_l("Leave empty for no time limit."),
        validators=[Optional(), NumberRange(min=1, max=600, message=_l("1 to 600 minutes."))],
        render_kw={"inputmode": "numeric"},
    )
    checklist = TextAreaField(
        _l("Checklist"),
        description=_l("One step per line; the trainer checks each step when signing off."),
        render_kw={"rows": 6},
    )
    skills = FieldList(FormField(SkillRowForm), label=_l("Skills this task certifies (optional)"))
    save = SubmitField(_l("Save"))
    preview = SubmitField(_l("Preview"))

    # The fields every lesson has; the type names the others it uses (LessonType.form_fields).
    COMMON_FIELDS = {"csrf_token", "title", "module", "save", "preview"}

    def __init__(self, *args, lesson_type: str, modules=None, skills=(), **kwargs):
        super().__init__(*args, **kwargs)
        kind = LESSON_TYPES[lesson_type]
        keep = kind.form_fields
        for name in [name for name in self._fields if name not in self.COMMON_FIELDS]:
            if name not in keep:
                delattr(self, name)
        if not kind.has_preview:
            delattr(self, "preview")
        if kind.body_label is not None and self.body is not None:
            self.body.label.text = kind.body_label
        if kind.title_help is not None:
            self.title.description = kind.title_help
        if self.skills is not None:
            _skill_rows(self.skills, skills, pad=not self.is_submitted())
        if "module" in keep:
            if modules is None:
                delattr(self, "module")
            else:
                self.module.choices = select_choices((m.id, m.title) for m in modules)

    def settings(self) -> dict:
        if self.checklist is not None:
            return {
                "checklist": (self.checklist.data or "").splitlines(),
                "skills": skill_values(self.skills),
            }
        if self.pass_mark is not None:
            return {
                "pass_mark": self.pass_mark.data,
                "attempts": self.attempts.data,
                "shuffle": self.shuffle.data,
                "time_limit_minutes": self.time_limit_minutes.data,
                "draw": self.draw.data,
                "review": self.review.data,
            }
        return {}


# The lesson editor is one form (templates/authoring/lesson_form.html): the upload fields sit
# in sections of their own but belong to it, so an upload posts the text as typed with it.
EDITOR_FORM_ID = "lesson-form"


class MediaForm(FlaskForm):
    """The video of a video lesson or the document of a file lesson."""

    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file to upload."))])

    def __init__(self, *args, lesson_type: str, limit_mb: str, **kwargs):
        super().__init__(*args, **kwargs)
        if "video" in LESSON_TYPES[lesson_type].media_categories:
            self.file.label.text = _l("Video file")
            self.file.description = _l("MP4 or WebM, up to %(mb)s MB.", mb=limit_mb)
            self.file.render_kw = {"accept": "video/mp4,video/webm", "form": EDITOR_FORM_ID}
        else:
            self.file.label.text = _l("Document")
            self.file.description = _l("PDF, up to %(mb)s MB.", mb=limit_mb)
            self.file.render_kw = {"accept": "application/pdf,.pdf", "form": EDITOR_FORM_ID}


class ImageForm(FlaskForm):
    image = FileField(
        _l("Image"),
        validators=[FileRequired(_l("Choose an image to upload."))],
        render_kw={"accept": "image/png,image/jpeg,image/gif,image/webp", "form": EDITOR_FORM_ID},
    )
    alt = StringField(
        _l("What the image shows"),
        description=_l("Read aloud to people who cannot see the image; also shown if it fails."),
        validators=[
            DataRequired(_l("Describe the image for people who cannot see it.")),
            Length(max=120),
        ],
        render_kw={"form": EDITOR_FORM_ID},
    )


class QuestionForm(FlaskForm):
    """A quiz question: its prompt, the answer fields of its type (QuestionType.form_fields)
    and an explanation. Make one with question_form()."""

    prompt = TextAreaField(
        _l("Question"),
        description=_l("At most %(n)d characters.", n=QUESTION_LIMITS["prompt"]),
        validators=[DataRequired(_l("Enter the question.")), WithinLimit("prompt")],
        render_kw={"rows": 3},
    )

    def __init__(self, *args, question_type: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.question_type = question_type
        self.kind = QUESTION_TYPES[question_type]
        self.kind.prepare_form(self)

    @staticmethod
    def data_of(question) -> dict:
        """Form data of a stored question."""
        return {
            "prompt": question.prompt,
            "explanation": question.explanation,
            **QUESTION_TYPES[question.type].form_data(question),
        }

    def definition(self) -> tuple[list, object, dict]:
        """(choices, answer, form errors) from the form, as the question type registry wants
        them (e.g. a correct mark on an empty choice is a form error)."""
        return self.kind.from_form(self)

    def field_of(self, part: str) -> str:
        """The form field that shows the problems of a part of the definition (a key of
        question_problems(): prompt, choices, answer, explanation)."""
        return self.kind.form_errors_at.get(part, part)


_QUESTION_FORMS: dict[str, type[QuestionForm]] = {}


def question_form(question_type: str, **kwargs) -> QuestionForm:
    """The question form of a type: the prompt, the type's answer fields, the explanation."""
    form_class = _QUESTION_FORMS.get(question_type)
    if form_class is None:
        kind = QUESTION_TYPES[question_type]
        fields = {
            **kind.form_fields(),
            "explanation": TextAreaField(
                _l("Explanation"),
                description=_l("Shown to the learner after the attempt."),
                validators=[WithinLimit("explanation")],
                render_kw={"rows": 2},
            ),
        }
        name = "".join(part.title() for part in question_type.split("_")) + "QuestionForm"
        form_class = _QUESTION_FORMS[question_type] = type(name, (QuestionForm,), fields)
    return form_class(question_type=question_type, **kwargs)


class ReturnForm(FlaskForm):
    comment = TextAreaField(
        _l("What should the trainers change?"),
        description=_l("The trainers see this comment on their course page."),
        validators=[
            DataRequired(_l("Tell the trainers what to change.")),
            Length(max=4000, message=_l("Keep the comment under 4000 characters.")),
        ],
        render_kw={"rows": 5},
    )
