"""Courses, their versions, modules, lessons and quiz questions.

A course belongs to a consortium and is authored by a member firm. Its content lives in
versions: a published version is immutable; editing works on the next draft. Lessons carry
a stable `key` (their path in the package) so learners keep progress across versions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.tenancy import Tenant, TenantOwned
from lms.core.types import UTCDateTime, utcnow
from lms.extensions import db

VERSION_STATES = ("draft", "submitted", "published", "returned", "archived")
LANGUAGES = ("zh-CN", "en")


class Course(TenantOwned, db.Model):
    __tablename__ = "courses"
    __tenant__ = Tenant(firm="firm_id")  # the authoring firm

    id: Mapped[int] = mapped_column(primary_key=True)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"), index=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    # Certificates of this course expire after this many months (None: they don't).
    certificate_months: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    firm = relationship("Firm")
    consortium = relationship("Consortium")
    versions: Mapped[list[CourseVersion]] = relationship(
        back_populates="course", order_by="CourseVersion.version"
    )

    __table_args__ = (UniqueConstraint("consortium_id", "slug", name="uq_courses_consortium_slug"),)

    def __repr__(self) -> str:
        return f"<Course {self.id} {self.slug}>"


class CourseAssessor(TenantOwned, db.Model):
    """A trainer the consortium admin designates to sign off a course's practical tasks, besides
    the trainers of the authoring firm (who always may): any member firm's or training base's."""

    __tablename__ = "course_assessors"
    __tenant__ = Tenant(parent="course_id")

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    designated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course = relationship("Course")
    user = relationship("User", foreign_keys=[user_id])

    __table_args__ = (UniqueConstraint("course_id", "user_id", name="uq_course_assessors_person"),)

    def __repr__(self) -> str:
        return f"<CourseAssessor course={self.course_id} user={self.user_id}>"


class CourseVersion(TenantOwned, db.Model):
    __tablename__ = "course_versions"
    __tenant__ = Tenant(parent="course_id")

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    sector: Mapped[str] = mapped_column(String(40))
    hours: Mapped[float] = mapped_column(Float, default=0)
    pass_mark: Mapped[int] = mapped_column(Integer, default=60)
    prerequisites: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Lower-cased title, summary, skill names and lesson titles: what catalogue search reads.
    search_text: Mapped[str] = mapped_column(Text, default="")
    review_comment: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    course: Mapped[Course] = relationship(back_populates="versions")
    modules: Mapped[list[Module]] = relationship(
        back_populates="version", order_by="Module.position", cascade="all, delete-orphan"
    )
    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="version",
        order_by="Lesson.position",
        cascade="all, delete-orphan",
        overlaps="module,lessons",
    )
    skill_levels: Mapped[list[CourseSkill]] = relationship(
        order_by="CourseSkill.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("course_id", "version", name="uq_course_versions_course_version"),
        CheckConstraint(f"status IN {VERSION_STATES!r}", name="status"),
        Index("ix_course_versions_status", "status"),
    )

    @property
    def skills(self) -> list[dict]:
        """[{skill, level}] as in course.yaml."""
        return [{"skill": s.skill_id, "level": s.level} for s in self.skill_levels]

    def __repr__(self) -> str:
        return f"<CourseVersion {self.course_id} v{self.version} {self.status}>"


class CourseSkill(db.Model):
    """A skill a course version teaches, and the level it reaches (1–5)."""

    __tablename__ = "course_skills"

    version_id: Mapped[int] = mapped_column(ForeignKey("course_versions.id"), primary_key=True)
    skill_id: Mapped[str] = mapped_column(ForeignKey("skills.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)

    skill = relationship("Skill")

    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 5", name="level"),
        Index("ix_course_skills_skill_level", "skill_id", "level"),
    )

    def __repr__(self) -> str:
        return f"<CourseSkill {self.version_id} {self.skill_id}:{self.level}>"


class Module(TenantOwned, db.Model):
    __tablename__ = "course_modules"
    __tenant__ = Tenant(parent="version_id")

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("course_versions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))

    version: Mapped[CourseVersion] = relationship(back_populates="modules")
    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="module", order_by="Lesson.position", overlaps="lessons,version"
    )

    def __repr__(self) -> str:
        return f"<Module {self.id} {self.position}>"


class Lesson(TenantOwned, db.Model):
    """One step of a course: text, video, file, quiz or practical task (see lesson_types)."""

    __tablename__ = "lessons"
    __tenant__ = Tenant(parent="version_id")

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("course_versions.id"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("course_modules.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order within the whole version
    key: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown source
    html: Mapped[str] = mapped_column(Text, default="")  # rendered and sanitised
    media_path: Mapped[str | None] = mapped_column(String(300))
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # per type: quiz or practical settings

    version: Mapped[CourseVersion] = relationship(back_populates="lessons", overlaps="lessons")
    module: Mapped[Module] = relationship(back_populates="lessons", overlaps="lessons,version")
    questions: Mapped[list[Question]] = relationship(
        back_populates="lesson", order_by="Question.position", cascade="all, delete-orphan"
    )

    __table_args__ = (UniqueConstraint("version_id", "key", name="uq_lessons_version_key"),)

    def __repr__(self) -> str:
        return f"<Lesson {self.id} {self.key}>"


class Question(TenantOwned, db.Model):
    __tablename__ = "questions"
    __tenant__ = Tenant(parent="lesson_id")

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(20))
    prompt: Mapped[str] = mapped_column(Text)
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[object] = mapped_column(JSON)
    explanation: Mapped[str] = mapped_column(Text, default="")

    lesson: Mapped[Lesson] = relationship(back_populates="questions")

    def __repr__(self) -> str:
        return f"<Question {self.id} {self.type}>"
