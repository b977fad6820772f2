"""Lesson types, a registry keyed by type name (CONVENTIONS rule 7).

`completion` says how a learner finishes a lesson of the type: by viewing it, by passing its
quiz, or by a trainer's sign-off.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class LessonType:
    name: str
    label: object
    completion: str  # "view" | "quiz" | "signoff"
    media: str | None = None  # front-matter key naming its media file, if any


LESSON_TYPES: dict[str, LessonType] = {
    t.name: t
    for t in (
        LessonType("text", _l("Reading"), "view"),
        LessonType("video", _l("Video"), "view", media="video"),
        LessonType("file", _l("Document"), "view", media="file"),
        LessonType("quiz", _l("Quiz"), "quiz"),
        LessonType("practical", _l("Practical task"), "signoff"),
    )
}
# Types a lesson file's front matter may declare (quizzes and practicals come from course.yaml).
FILE_LESSON_TYPES = ("text", "video", "file")
