"""Training hours (学时): a ledger of credited hours, one row per credit.

A completed course credits its version's hours once per enrolment (a recertification is a new
enrolment, so it credits again); an attended in-person session will credit its hours under a
`session_ref` of its own. Reports sum this table by firm, consortium, worker and period.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.types import UTCDateTime, utcnow
from lms.extensions import db

SOURCES = ("course", "session")


class TrainingHours(db.Model):
    """Hours credited to a worker on a (local) day, from a completed course or a session.

    `hours` is NUMERIC(6, 1), not a float: totals for a subsidy claim are sums of many
    tenths (1.5 + 0.1 + …), and a decimal column sums them exactly on every database.
    """

    __tablename__ = "training_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed by (consortium_id, credited_on) below, which serves consortium_id alone too.
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"))
    # The firm the worker trained for (the enrolment's firm): its subsidy claim counts it.
    firm_id: Mapped[int | None] = mapped_column(ForeignKey("firms.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(12))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    session_ref: Mapped[str | None] = mapped_column(String(64))
    hours: Mapped[Decimal] = mapped_column(Numeric(6, 1))
    # The local (app time zone) date of the completion or session.
    credited_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user = relationship("User")

    __table_args__ = (
        # One credit per completed enrolment, whatever the races or repeated signals.
        UniqueConstraint("enrollment_id", name="uq_training_hours_enrollment"),
        # One credit per worker and session (NULLs never collide: course credits are free).
        UniqueConstraint("user_id", "session_ref", name="uq_training_hours_user_session"),
        CheckConstraint(f"source IN {SOURCES!r}", name="source"),
        CheckConstraint(
            "(source = 'course' AND enrollment_id IS NOT NULL)"
            " OR (source = 'session' AND session_ref IS NOT NULL)",
            name="origin",
        ),
        CheckConstraint("hours > 0", name="hours"),
        Index("ix_training_hours_consortium_credited", "consortium_id", "credited_on"),
        Index("ix_training_hours_firm_credited", "firm_id", "credited_on"),
        Index("ix_training_hours_user_credited", "user_id", "credited_on"),
    )

    def __repr__(self) -> str:
        return f"<TrainingHours {self.id} user={self.user_id} {self.hours} {self.source}>"
