"""Lesson types, a registry keyed by type name (CONVENTIONS rule 7).

Each type owns what differs between lesson types, so that code outside asks
`LESSON_TYPES[lesson.type]` instead of comparing type names:

- how a learner completes it (`completion`): by viewing it, by passing its quiz, or by a
  trainer's sign-off;
- its content: Markdown text and minutes (`has_body`), a media file (`media`: its front-matter
  key; `media_categories`: the uploads it takes), quiz questions (`has_questions`), and its
  `data` (a quiz's settings, a practical task's checklist and skills);
- its place in a course package: the course.yaml entry that brings it (`entry`), whether a
  lesson file's front matter may name it (`in_front_matter`), and its export (`export`);
- authoring: the lesson form's fields (`form_fields`), form data and settings, their
  validation (`clean_data`), what keeps it from review (`problems`), its key;
- its templates: templates/learning/lessons/<name>.html (the player) and
  templates/authoring/lessons/<name>.html (the editor's fields and the read-only preview);
- its label.
"""

from __future__ import annotations

import yaml
from flask_babel import lazy_gettext as _l

from lms.courses.question_types import QUESTION_FIELD_LABELS, QUESTION_TYPES, question_problems
from lms.courses.quiz_settings import (
    DEFAULT_REVIEW,
    MAX_DRAW,
    REVIEW_POLICIES,
    bank_data,
    quiz_review,
)

MAX_TITLE = 200  # the column


def dump_yaml(data) -> str:
    """YAML as course packages write it: keys in order, Chinese as it is."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


class LessonType:
    name = ""
    label = _l("Lesson")
    completion = "view"  # "view" | "quiz" | "signoff"
    # The course.yaml lesson entry that brings it: {file: lessons/…md}, {quiz: quizzes/…yaml}
    # or {practical: title, checklist: […]}.
    entry = "file"
    in_front_matter = False  # a lesson file's front matter may say `type: <name>`
    has_body = False  # Markdown text and minutes to study
    has_preview = False  # the editor previews its Markdown
    body_label = None  # the text field's label, when not the default
    media: str | None = None  # front-matter key naming its media file, if it has one
    media_categories: tuple[str, ...] = ()  # upload categories its file may be
    media_label = None  # the heading of its file in the editor
    media_view: str | None = None  # how the editor shows the file: "video" | "link"
    tracks_position = False  # progress remembers the position played (video)
    has_questions = False
    title_is_key = False  # known by its title (a practical task): renaming makes it new
    key_prefix = "lessons/"
    key_suffix = ".md"
    max_title = MAX_TITLE
    title_help = None  # the title field's description in the editor
    # Said when a new lesson of the type is saved, if the editor stays open for its next step.
    saved_next = None
    form_fields: frozenset[str] = frozenset({"title", "module"})

    @property
    def completes_on_view(self) -> bool:
        return self.completion == "view"

    @property
    def needs_signoff(self) -> bool:
        return self.completion == "signoff"

    def title_key(self, title: str) -> str:
        """The key of a lesson known by its title."""
        return f"{self.key_prefix}{title}"

    # --- authoring ------------------------------------------------------------------------

    def form_data(self, lesson) -> dict:
        """The lesson form's data of a stored lesson, besides title and module."""
        return {}

    def clean_data(self, settings: dict, problems, *, check_skills) -> dict:
        """The lesson's validated `data` from its settings (the lesson form's settings()); each
        problem goes to `problems.add(field, message)`. `check_skills(pairs)`: the validated
        (skill, level) pairs, or None with its problems recorded."""
        return {}

    def problems(self, lesson) -> list:
        """What keeps the lesson from being submitted for review (translated)."""
        return []

    # --- packages -------------------------------------------------------------------------

    def export(self, lesson) -> tuple[dict, dict[str, str]]:
        """The lesson's course.yaml entry and its files ({package path: text})."""
        raise NotImplementedError


class _MarkdownLesson(LessonType):
    """A lesson file: lessons/*.md with front matter, its text in Markdown."""

    in_front_matter = True
    has_body = True
    form_fields = frozenset({"title", "module", "minutes", "body"})

    def form_data(self, lesson) -> dict:
        return {"minutes": lesson.minutes, "body": lesson.body}

    def export(self, lesson):
        front = {"title": lesson.title, "minutes": lesson.minutes}
        if self.name != DEFAULT_FILE_TYPE:
            front["type"] = self.name
        if self.media:
            front[self.media] = lesson.media_path
        return {self.entry: lesson.key}, {lesson.key: f"---\n{dump_yaml(front)}---\n{lesson.body}"}


class TextLesson(_MarkdownLesson):
    name = "text"
    label = _l("Reading")
    has_preview = True

    def problems(self, lesson):
        if not lesson.body.strip():
            return [_l("Lesson “%(lesson)s” has no text.", lesson=lesson.title)]
        return []


class VideoLesson(_MarkdownLesson):
    name = "video"
    label = _l("Video")
    body_label = _l("Description (Markdown, optional)")
    media = "video"
    media_categories = ("video",)
    media_label = _l("Video")
    media_view = "video"
    tracks_position = True
    saved_next = _l("Lesson saved. Now upload its file.")

    def problems(self, lesson):
        if not lesson.media_path:
            return [_l("Lesson “%(lesson)s”: upload its video.", lesson=lesson.title)]
        return []


class FileLesson(_MarkdownLesson):
    name = "file"
    label = _l("Document")
    body_label = _l("Description (Markdown, optional)")
    media = "file"
    media_categories = ("document",)
    media_label = _l("Document")
    media_view = "link"
    saved_next = _l("Lesson saved. Now upload its file.")

    def problems(self, lesson):
        if not lesson.media_path:
            return [_l("Lesson “%(lesson)s”: upload its document.", lesson=lesson.title)]
        return []


class QuizLesson(LessonType):
    """A quiz: quizzes/*.yaml with its settings and questions (lms.courses.question_types)."""

    name = "quiz"
    label = _l("Quiz")
    completion = "quiz"
    entry = "quiz"
    has_questions = True
    key_prefix = "quizzes/"
    key_suffix = ".yaml"
    saved_next = _l("Quiz saved. Now add its questions.")
    form_fields = frozenset(
        {
            "title",
            "module",
            "pass_mark",
            "attempts",
            "shuffle",
            "time_limit_minutes",
            "draw",
            "review",
        }
    )

    def form_data(self, lesson):
        return {
            "pass_mark": lesson.data.get("pass_mark", 60),
            "attempts": lesson.data.get("attempts", 0),
            "shuffle": lesson.data.get("shuffle", False),
            "time_limit_minutes": lesson.data.get("time_limit_minutes"),
            "draw": lesson.data.get("draw"),
            "review": quiz_review(lesson.data),
        }

    def clean_data(self, settings, problems, *, check_skills):
        pass_mark = settings.get("pass_mark", 60)
        attempts = settings.get("attempts") or 0
        limit = settings.get("time_limit_minutes") or None
        if not _whole(pass_mark) or not 0 <= pass_mark <= 100:
            problems.add("pass_mark", _l("The pass mark is a whole number from 0 to 100."))
        if not _whole(attempts) or not 0 <= attempts <= 99:
            problems.add("attempts", _l("Attempts: 0 (unlimited) to 99."))
        if limit is not None and (not _whole(limit) or not 1 <= limit <= 600):
            problems.add(
                "time_limit_minutes", _l("The time limit is 1 to 600 minutes, or empty for none.")
            )
        # A draw larger than the quiz's questions is allowed while editing (the questions may
        # come later); problems() keeps such a version from being submitted.
        draw = settings.get("draw") or None
        if draw is not None and (not _whole(draw) or not 1 <= draw <= MAX_DRAW):
            problems.add(
                "draw", _l("Questions per attempt: 1 to %(max)d, or empty for all.", max=MAX_DRAW)
            )
        review = settings.get("review") or DEFAULT_REVIEW
        if not isinstance(review, str) or review not in REVIEW_POLICIES:
            problems.add("review", _l("Choose when to show the correct answers."))
        data = {
            "pass_mark": pass_mark,
            "attempts": attempts,
            "shuffle": bool(settings.get("shuffle")),
        }
        if limit:
            data["time_limit_minutes"] = limit
        data.update(bank_data(draw=draw, review=review))
        return data

    def problems(self, lesson):
        name = lesson.title
        if not lesson.questions:
            return [_l("Quiz “%(lesson)s” has no questions.", lesson=name)]
        found = []
        if lesson.data.get("draw", 0) > len(lesson.questions):
            found.append(
                _l(
                    "Quiz “%(lesson)s” asks %(draw)d questions per attempt but has only "
                    "%(count)d: add questions or ask fewer.",
                    lesson=name,
                    draw=lesson.data["draw"],
                    count=len(lesson.questions),
                )
            )
        for n, q in enumerate(lesson.questions, start=1):
            for field, messages in question_problems(
                q.type, q.prompt, q.choices, q.answer, q.explanation
            ).items():
                found += [
                    _l(
                        "Quiz “%(lesson)s”, question %(n)d, %(field)s: %(message)s",
                        lesson=name,
                        n=n,
                        field=QUESTION_FIELD_LABELS.get(field, field),
                        message=m,
                    )
                    for m in messages
                ]
        return found

    def export(self, lesson):
        data = lesson.data
        quiz = {
            "title": lesson.title,
            "pass_mark": data.get("pass_mark", 60),
            "attempts": data.get("attempts", 0),
            "shuffle": data.get("shuffle", False),
            **(
                {"time_limit_minutes": data["time_limit_minutes"]}
                if data.get("time_limit_minutes")
                else {}
            ),
            **bank_data(draw=data.get("draw"), review=data.get("review")),
            "questions": [
                {
                    "type": q.type,
                    "prompt": q.prompt,
                    **QUESTION_TYPES[q.type].to_package(q),
                    "explanation": q.explanation,
                }
                for q in lesson.questions
            ],
        }
        return {self.entry: lesson.key}, {lesson.key: dump_yaml(quiz)}


class PracticalLesson(LessonType):
    """A practical task: a checklist a trainer signs off, optionally certifying skills."""

    name = "practical"
    label = _l("Practical task")
    completion = "signoff"
    entry = "practical"
    title_is_key = True
    key_prefix = "practical:"
    key_suffix = ""
    max_title = 180  # its key is "practical:<title>", in a 200-character column
    title_help = _l(
        "A practical task is known by its title: renaming it makes it a new task, "
        "and sign-offs of the old title do not carry over to the next version."
    )
    form_fields = frozenset({"title", "module", "checklist", "skills"})

    def form_data(self, lesson):
        return {
            "checklist": "\n".join(lesson.data.get("checklist", [])),
            "skills": [dict(s) for s in lesson.data.get("skills", [])],
        }

    def clean_data(self, settings, problems, *, check_skills):
        checklist = [" ".join(item.split()) for item in settings.get("checklist") or []]
        checklist = [item for item in checklist if item]
        if not checklist:
            problems.add("checklist", _l("Write the checklist: one step per line."))
        skills = check_skills(list(settings.get("skills") or [])) or []
        return {"checklist": checklist, "skills": [{"skill": s, "level": n} for s, n in skills]}

    def problems(self, lesson):
        if not lesson.data.get("checklist"):
            return [_l("Practical task “%(lesson)s” has no checklist.", lesson=lesson.title)]
        return []

    def export(self, lesson):
        entry = {self.entry: lesson.title, "checklist": lesson.data.get("checklist", [])}
        if lesson.data.get("skills"):
            entry["skills"] = lesson.data["skills"]
        return entry, {}


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


LESSON_TYPES: dict[str, LessonType] = {
    t.name: t for t in (TextLesson(), VideoLesson(), FileLesson(), QuizLesson(), PracticalLesson())
}
# A lesson file without `type:` in its front matter.
DEFAULT_FILE_TYPE = "text"
# Types a lesson file's front matter may declare (quizzes and practicals come from course.yaml).
FILE_LESSON_TYPES = tuple(n for n, t in LESSON_TYPES.items() if t.in_front_matter)
# The front-matter keys that name a lesson's media file.
MEDIA_KEYS = tuple(t.media for t in LESSON_TYPES.values() if t.media)
