"""What workers hold: skill evidence, and the recommendation lists computed from it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.types import UTCDateTime, utcnow
from lms.extensions import db
from lms.taxonomy.models import Skill

EVIDENCE_SOURCES = ("course", "signoff", "certificate", "rating", "self")


class SkillEvidence(db.Model):
    """One piece of evidence that a worker holds a skill at a level; history is never rewritten.

    Self-assessments are unverified and never raise the verified level.
    """

    __tablename__ = "skill_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    skill_id: Mapped[str] = mapped_column(ForeignKey("skills.id"))
    level: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(12))
    is_verified: Mapped[bool] = mapped_column(Boolean, default=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Verified evidence above every verified level the worker held before in this skill
    # (set when recorded): "workers whose skill level rose" on dashboards.
    raises_level: Mapped[bool] = mapped_column(Boolean, default=False)

    skill: Mapped[Skill] = relationship()

    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 5", name="level"),
        CheckConstraint(f"source IN {EVIDENCE_SOURCES!r}", name="source"),
        # A completion or a sign-off is evidence once per enrolment and skill (events may repeat).
        Index(
            "uq_skill_evidence_enrollment_skill_source",
            "enrollment_id",
            "skill_id",
            "source",
            unique=True,
        ),
        Index("ix_skill_evidence_user_skill", "user_id", "skill_id"),
        Index(
            "ix_skill_evidence_raised",
            "recorded_at",
            # The same words as the queries' condition, so PostgreSQL matches the index to them.
            sqlite_where=text("raises_level IS true"),
            postgresql_where=text("raises_level IS true"),
        ),
    )

    def __repr__(self) -> str:
        return f"<SkillEvidence {self.user_id} {self.skill_id}:{self.level} {self.source}>"


class RecommendationList(db.Model):
    """A worker's stored top courses in one consortium, with the model that ranked them.

    `items` holds [{course, score, skill, held, required, closes, after}] (course and after are
    course ids; skill is the gap named in the reason). Rows are replaced by the batch job and by
    on-demand recomputation; a row whose model_version is not the current one is stale.
    """

    __tablename__ = "recommendation_lists"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(80))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    items: Mapped[list] = mapped_column(JSON, default=list)

    def __repr__(self) -> str:
        return f"<RecommendationList {self.user_id}@{self.consortium_id} {self.model_version}>"
