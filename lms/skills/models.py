"""The skills taxonomy: categories and skills with stable string ids (shared by all consortia)."""

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
    and_,
    false,
    or_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.tenancy import Tenant, TenantOwned
from lms.core.types import UTCDateTime, utcnow
from lms.extensions import db

# China's national vocational skill levels (职业技能等级), 1 = lowest.
LEVEL_NAMES = {
    1: ("五级/初级工", "Level 5 – junior worker"),
    2: ("四级/中级工", "Level 4 – intermediate worker"),
    3: ("三级/高级工", "Level 3 – senior worker"),
    4: ("二级/技师", "Level 2 – technician"),
    5: ("一级/高级技师", "Level 1 – senior technician"),
}


class SkillCategory(db.Model):
    __tablename__ = "skill_categories"

    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))

    def __repr__(self) -> str:
        return f"<SkillCategory {self.id}>"


class Skill(TenantOwned, db.Model):
    __tablename__ = "skills"
    __tenant__ = Tenant(shared=True)  # a NULL consortium: the shared taxonomy

    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    category_id: Mapped[str] = mapped_column(ForeignKey("skill_categories.id"), index=True)
    # Skills a consortium added itself (None: the shared taxonomy).
    consortium_id: Mapped[int | None] = mapped_column(ForeignKey("consortia.id"), index=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")

    category: Mapped[SkillCategory] = relationship()

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh

    def __repr__(self) -> str:
        return f"<Skill {self.id}>"


def level_name(level: int, locale: str) -> str:
    """'3 · 三级/高级工' — the number and the national name, as the product shows levels."""
    zh, en = LEVEL_NAMES[level]
    return f"{level} · {en if locale.startswith('en') else zh}"


class JobRole(TenantOwned, db.Model):
    """A job role and the skill levels it requires.

    Shared roles (from the taxonomy) have no consortium; a consortium or a firm may add its own.
    """

    __tablename__ = "job_roles"
    __tenant__ = Tenant(firm="firm_id", shared=True)

    @classmethod
    def tenant_clause(
        cls, *, consortium_ids, firm_id=None, parent_id=None, own_only=False, user_id=None
    ):
        """A firm sees the shared roles, its consortium's and its own; a consortium sees the
        shared roles, its own and its firms'. `own_only` (editing): the firm's own roles, or
        the consortium's own (a firm's roles are edited under the firm)."""
        inside = cls.consortium_id.in_(list(consortium_ids)) if consortium_ids else false()
        if firm_id is not None:
            own = and_(inside, cls.firm_id == firm_id)
            seen = or_(own, and_(inside, cls.firm_id.is_(None)))
        else:
            own = and_(inside, cls.firm_id.is_(None))
            seen = inside
        return own if own_only else or_(seen, cls.consortium_id.is_(None))

    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    consortium_id: Mapped[int | None] = mapped_column(ForeignKey("consortia.id"), index=True)
    firm_id: Mapped[int | None] = mapped_column(ForeignKey("firms.id"), index=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    occupation_name: Mapped[str | None] = mapped_column(String(120))
    occupation_code: Mapped[str | None] = mapped_column(String(20))
    occupation_edition: Mapped[str | None] = mapped_column(String(10))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    requirements: Mapped[list[RoleSkill]] = relationship(
        cascade="all, delete-orphan", order_by="RoleSkill.position"
    )

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh

    def __repr__(self) -> str:
        return f"<JobRole {self.id}>"


class RoleSkill(db.Model):
    """A skill a job role requires, at a level 1–5."""

    __tablename__ = "role_skills"

    role_id: Mapped[str] = mapped_column(ForeignKey("job_roles.id"), primary_key=True)
    skill_id: Mapped[str] = mapped_column(ForeignKey("skills.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)

    skill: Mapped[Skill] = relationship()

    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 5", name="level"),)

    def __repr__(self) -> str:
        return f"<RoleSkill {self.role_id} {self.skill_id}:{self.level}>"


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
