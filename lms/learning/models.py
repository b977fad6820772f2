"""Enrolments, lesson progress, quiz attempts and practical sign-offs."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.tenancy import Tenant, TenantOwned
from lms.core.types import UTCDateTime, new_public_id, utcnow
from lms.extensions import db

ENROLLMENT_STATES = ("enrolled", "in_progress", "completed", "failed", "withdrawn")
STATUS_LABELS = {
    "enrolled": _l("Not started"),
    "in_progress": _l("In progress"),
    "completed": _l("Completed"),
    "failed": _l("Failed"),
    "withdrawn": _l("Withdrawn"),
}
# "recert": assigned again when the certificate of the course expired (certificates lifecycle).
SOURCES = ("self", "firm", "consortium", "recert")
ASSIGNMENT_SOURCES = ("firm", "consortium", "recert")
OPEN_DUE = "completed_at IS NULL AND withdrawn_at IS NULL AND due_on IS NOT NULL"


class Enrollment(TenantOwned, db.Model):
    __tablename__ = "enrollments"
    __tenant__ = Tenant(firm="firm_id")

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"), index=True)
    firm_id: Mapped[int | None] = mapped_column(ForeignKey("firms.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("course_versions.id"))
    status: Mapped[str] = mapped_column(String(12), default="enrolled")
    source: Mapped[str] = mapped_column(String(12), default="self")
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_on: Mapped[date | None] = mapped_column(Date)
    is_mandatory: Mapped[bool] = mapped_column(Boolean, default=False)
    last_lesson_key: Mapped[str | None] = mapped_column(String(200))
    score: Mapped[float | None] = mapped_column(Float)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last time the learner saved progress ("active in the last 30 days" on dashboards).
    last_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User", foreign_keys=[user_id])
    course = relationship("Course")
    version = relationship("CourseVersion")
    firm = relationship("Firm")
    progress: Mapped[list[LessonProgress]] = relationship(back_populates="enrollment")
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="enrollment", order_by="Assignment.id"
    )

    __table_args__ = (
        CheckConstraint(f"status IN {ENROLLMENT_STATES!r}", name="status"),
        CheckConstraint(f"source IN {SOURCES!r}", name="source"),
        # One active enrolment per worker and course: a double click enrols once.
        Index(
            "uq_enrollments_active_user_course",
            "user_id",
            "course_id",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
        Index("ix_enrollments_firm_status", "firm_id", "status"),
        # Dashboards: events of a period, consortium-wide or for one firm.
        Index("ix_enrollments_consortium_enrolled", "consortium_id", "enrolled_at"),
        Index("ix_enrollments_consortium_completed", "consortium_id", "completed_at"),
        Index("ix_enrollments_firm_enrolled", "firm_id", "enrolled_at"),
        Index("ix_enrollments_firm_completed", "firm_id", "completed_at"),
        Index("ix_enrollments_consortium_active", "consortium_id", "last_active_at", "user_id"),
        Index("ix_enrollments_firm_active", "firm_id", "last_active_at", "user_id"),
        # Open assignments with a due date: the overdue figures and lists (consortium-wide,
        # one firm's, and the mandatory ones counted per firm from the index alone).
        Index(
            "ix_enrollments_firm_open_due",
            "firm_id",
            "due_on",
            sqlite_where=text(OPEN_DUE),
            postgresql_where=text(OPEN_DUE),
        ),
        Index(
            "ix_enrollments_mandatory_open_due",
            "consortium_id",
            "due_on",
            "firm_id",
            sqlite_where=text(f"is_mandatory IS true AND {OPEN_DUE}"),
            postgresql_where=text(f"is_mandatory IS true AND {OPEN_DUE}"),
        ),
        Index(
            "ix_enrollments_open_due",
            "consortium_id",
            "due_on",
            sqlite_where=text(
                "completed_at IS NULL AND withdrawn_at IS NULL AND due_on IS NOT NULL"
            ),
            postgresql_where=text(
                "completed_at IS NULL AND withdrawn_at IS NULL AND due_on IS NOT NULL"
            ),
        ),
    )

    @property
    def is_overdue(self) -> bool:
        return bool(self.due_on and self.due_on < date.today() and self.status != "completed")

    def __repr__(self) -> str:
        return f"<Enrollment {self.public_id} {self.status}>"


class Assignment(db.Model):
    """One assigning party's assignment of an enrolment: a firm's (`firm_id`, the firm whose
    admin assigned it) or the consortium's (`firm_id` NULL). Each party writes only its own
    row, so two firms that share a worker assign the same course side by side.

    The enrolment's due_on, is_mandatory and assigned_by_id are the effective values, computed
    from its assignments by lms.learning.service.apply_assignments: the earliest due date,
    mandatory if any assignment is, the assigner of the earliest-due one.
    """

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"))
    firm_id: Mapped[int | None] = mapped_column(ForeignKey("firms.id"))
    # The party: firm_id, or 0 for the consortium (a unique constraint can't compare NULLs).
    party_key: Mapped[int] = mapped_column(Integer)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(12))
    due_on: Mapped[date | None] = mapped_column(Date)
    is_mandatory: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    enrollment: Mapped[Enrollment] = relationship(back_populates="assignments")
    firm = relationship("Firm")
    assigned_by = relationship("User", foreign_keys=[assigned_by_id])

    __table_args__ = (
        UniqueConstraint("enrollment_id", "party_key", name="uq_assignments_enrollment_party"),
        CheckConstraint("party_key = coalesce(firm_id, 0)", name="party_key"),
        CheckConstraint(f"source IN {ASSIGNMENT_SOURCES!r}", name="source"),
        # A firm's assignments with a due date: its overdue list, figures and reminders.
        Index(
            "ix_assignments_firm_due",
            "firm_id",
            "due_on",
            sqlite_where=text("due_on IS NOT NULL"),
            postgresql_where=text("due_on IS NOT NULL"),
        ),
        # The consortium's: its overdue figures and the daily reminder scan.
        Index(
            "ix_assignments_consortium_due",
            "consortium_id",
            "due_on",
            sqlite_where=text("due_on IS NOT NULL"),
            postgresql_where=text("due_on IS NOT NULL"),
        ),
    )

    def __repr__(self) -> str:
        return f"<Assignment {self.public_id} enrollment={self.enrollment_id} firm={self.firm_id}>"


class LessonProgress(db.Model):
    """How far a learner got in one lesson; percent and position only ever grow."""

    __tablename__ = "lesson_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    lesson_key: Mapped[str] = mapped_column(String(200))
    percent: Mapped[int] = mapped_column(Integer, default=0)
    position_seconds: Mapped[float] = mapped_column(Float, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    enrollment: Mapped[Enrollment] = relationship(back_populates="progress")

    __table_args__ = (
        UniqueConstraint("enrollment_id", "lesson_key", name="uq_lesson_progress_enrollment_key"),
        CheckConstraint("percent BETWEEN 0 AND 100", name="percent"),
    )

    def __repr__(self) -> str:
        return f"<LessonProgress {self.enrollment_id} {self.lesson_key} {self.percent}%>"


class QuizAttempt(db.Model):
    """One try at a quiz; its state lives on the server (start → submit)."""

    __tablename__ = "quiz_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id"))
    lesson_key: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    question_ids: Mapped[list[int]] = mapped_column(JSON)
    choice_orders: Mapped[dict] = mapped_column(JSON, default=dict)
    answers: Mapped[dict | None] = mapped_column(JSON)
    results: Mapped[dict | None] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float)
    is_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    enrollment = relationship("Enrollment")
    lesson = relationship("Lesson")

    __table_args__ = (
        UniqueConstraint("enrollment_id", "lesson_key", "number", name="uq_quiz_attempts_number"),
    )

    def __repr__(self) -> str:
        return f"<QuizAttempt {self.public_id} #{self.number}>"


class PracticalSignoff(db.Model):
    """A trainer's sign-off of a learner's practical task."""

    __tablename__ = "practical_signoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    lesson_key: Mapped[str] = mapped_column(String(200))
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str] = mapped_column(Text, default="")
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    signed_by = relationship("User")

    __table_args__ = (
        UniqueConstraint("enrollment_id", "lesson_key", name="uq_practical_signoffs_key"),
    )

    def __repr__(self) -> str:
        return f"<PracticalSignoff {self.enrollment_id} {self.lesson_key}>"
