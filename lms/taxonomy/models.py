"""The skills taxonomy: categories, skills and job roles with stable string ids (shared rows
belong to no consortium; a consortium or firm may add its own)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    and_,
    false,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.tenancy import Tenant, TenantOwned
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
