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
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from lms.core.forms import choices as select_choices
from lms.core.i18n import ui_locale
from lms.courses.authoring_limits import QUESTION_LIMITS, WithinLimit
from lms.courses.quiz_settings import DEFAULT_REVIEW, MAX_DRAW, REVIEW_POLICIES
from lms.taxonomy.models import level_name
from lms.tenancy.forms import MultiCheckboxField
from lms.tenancy.labels import SECTOR_LABELS

LANGUAGE_LABELS = {"zh-CN": "中文", "en": "English"}
MAX_CHOICES = 6
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

    FIELDS_BY_TYPE = {
        "text": {"title", "module", "minutes", "body"},
        "video": {"title", "module", "minutes", "body"},
        "file": {"title", "module", "minutes", "body"},
        "quiz": {
            "title",
            "module",
            "pass_mark",
            "attempts",
            "shuffle",
            "time_limit_minutes",
            "draw",
            "review",
        },
        "practical": {"title", "module", "checklist", "skills"},
    }

    def __init__(self, *args, lesson_type: str, modules=None, skills=(), **kwargs):
        super().__init__(*args, **kwargs)
        keep = self.FIELDS_BY_TYPE[lesson_type]
        for name in set(self.FIELDS_BY_TYPE["text"] | self.FIELDS_BY_TYPE["quiz"]) | {
            "checklist",
            "skills",
        }:
            if name not in keep and name != "module":
                delattr(self, name)
        if lesson_type != "text":
            delattr(self, "preview")
        if lesson_type in ("video", "file"):
            self.body.label.text = _l("Description (Markdown, optional)")
        if lesson_type == "practical":
            self.title.description = _l(
                "A practical task is known by its title: renaming it makes it a new task, "
                "and sign-offs of the old title do not carry over to the next version."
            )
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
        if lesson_type == "video":
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
    """A quiz question; which answer fields it has depends on the question type."""

    prompt = TextAreaField(
        _l("Question"),
        description=_l("At most %(n)d characters.", n=QUESTION_LIMITS["prompt"]),
        validators=[DataRequired(_l("Enter the question.")), WithinLimit("prompt")],
        render_kw={"rows": 3},
    )
    choices = FieldList(StringField(_l("Choice")), label=_l("Choices"))
    correct_one = RadioField(_l("Correct choice"), validate_choice=False)
    correct_many = MultiCheckboxField(_l("Correct choices"), validate_choice=False)
    truth = RadioField(
        _l("The statement is"),
        choices=select_choices((("true", _l("True")), ("false", _l("False")))),
        validate_choice=False,
    )
    accepted = TextAreaField(
        _l("Accepted answers"),
        description=_l(
            "One per line. Case, full-width characters and extra spaces are ignored when "
            "answers are compared."
        ),
        render_kw={"rows": 3},
    )
    explanation = TextAreaField(
        _l("Explanation"),
        description=_l("Shown to the learner after the attempt."),
        validators=[WithinLimit("explanation")],
        render_kw={"rows": 2},
    )

    def __init__(self, *args, question_type: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.question_type = question_type
        if question_type in ("single", "multiple"):
            while len(self.choices.entries) < MAX_CHOICES:
                self.choices.append_entry()
            indices = select_choices((str(i), str(i + 1)) for i in range(len(self.choices.entries)))
            self.correct_one.choices = indices
            self.correct_many.choices = indices
            if question_type == "single":
                del self.correct_many
            else:
                del self.correct_one
            del self.truth, self.accepted
        elif question_type == "true_false":
            del self.choices, self.correct_one, self.correct_many, self.accepted
        else:
            del self.choices, self.correct_one, self.correct_many, self.truth

    @classmethod
    def data_of(cls, question) -> dict:
        """Form data of a stored question."""
        data = {"prompt": question.prompt, "explanation": question.explanation}
        texts = [str(c) for c in question.choices or []]
        if question.type == "single":
            data["choices"] = texts
            data["correct_one"] = (
                str(texts.index(str(question.answer))) if str(question.answer) in texts else None
            )
        elif question.type == "multiple":
            data["choices"] = texts
            answer = question.answer if isinstance(question.answer, list) else []
            data["correct_many"] = [str(texts.index(str(a))) for a in answer if str(a) in texts]
        elif question.type == "true_false":
            data["truth"] = "true" if question.answer is True else "false"
        else:
            accepted = question.answer if isinstance(question.answer, list) else [question.answer]
            data["accepted"] = "\n".join(str(a) for a in accepted if a is not None)
        return data

    def definition(self) -> tuple[list, object, dict]:
        """(choices, answer, form errors) from the form, as the question type registry wants
        them; a correct mark on an empty choice is a form error."""
        errors: dict[str, list] = {}
        qtype = self.question_type
        if qtype in ("single", "multiple"):
            # Marks name a row by its position: the page always posts every row (empty ones
            # too), and FieldList numbers the rows it receives 0..n-1.
            rows = [(str(i), (e.data or "").strip()) for i, e in enumerate(self.choices)]
            texts = [text for _i, text in rows if text]
            marked = [self.correct_one.data] if qtype == "single" and self.correct_one.data else []
            if qtype == "multiple":
                marked = list(self.correct_many.data or [])
            by_index = dict(rows)
            if any(not by_index.get(i) for i in marked):
                errors["answer"] = [_l("A choice marked correct is empty.")]
            answers = [by_index[i] for i in marked if by_index.get(i)]
            if qtype == "single":
                return texts, (answers[0] if answers else None), errors
            return texts, answers, errors
        if qtype == "true_false":
            truth = {"true": True, "false": False}.get(self.truth.data)
            return [], truth, errors
        accepted = [line.strip() for line in (self.accepted.data or "").splitlines()]
        return [], [a for a in accepted if a], errors


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
