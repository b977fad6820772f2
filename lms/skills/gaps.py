"""Skill gaps: required level of a job role − held (verified) level, per skill, where positive.

For one worker (their current roles and target role) and as SQL aggregates for a firm or a
consortium (by firm, by job role, by skill), plus the gaps no published course closes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import selectinload

from lms.auth.models import User
from lms.courses.models import Course, CourseSkill, CourseVersion
from lms.extensions import db
from lms.skills.models import SkillEvidence
from lms.skills.service import skill_profile
from lms.taxonomy.models import JobRole, RoleSkill, Skill
from lms.tenancy.models import Membership
from lms.tenancy.scope import current_membership_conditions


@dataclass
class WorkerRoles:
    consortium_id: int | None
    firm_ids: list[int]
    current: list[JobRole]
    target: JobRole | None

    def required(self) -> dict[str, int]:
        """Levels the current roles and the target role require (the highest of them)."""
        levels: dict[str, int] = {}
        for role in [*self.current, *([self.target] if self.target else [])]:
            for req in role.requirements:
                levels[req.skill_id] = max(levels.get(req.skill_id, 0), req.level)
        return levels


def worker_roles(user: User, *, with_requirements: bool = False) -> WorkerRoles:
    """The worker's current job roles (one per current firm) and target role;
    `with_requirements`: with every role's required skills loaded (in one more statement)."""
    memberships = [
        m
        for m in user.memberships
        if m.is_current() and m.firm_id is not None and m.consortium.is_active
    ]
    consortium_id = memberships[0].consortium_id if memberships else None
    here = [m for m in memberships if m.consortium_id == consortium_id]
    current: list[JobRole] = []
    for m in here:
        if m.job_role is not None and m.job_role not in current:
            current.append(m.job_role)
    target = None
    if with_requirements:
        wanted = [r.id for r in current] + ([user.target_role_id] if user.target_role_id else [])
        loaded = {
            r.id: r
            for r in db.session.scalars(
                select(JobRole)
                .where(JobRole.id.in_(wanted))
                .options(selectinload(JobRole.requirements))
            )
        }
        target = loaded.get(user.target_role_id)
    elif user.target_role_id:
        target = db.session.get(JobRole, user.target_role_id)
    return WorkerRoles(consortium_id, [m.firm_id for m in here], current, target)


@dataclass
class SkillRow:
    skill: Skill
    held: int
    self_level: int
    current: int  # required by the current role(s), 0 if not required
    target: int  # required by the target role, 0 if not required
    history: list = field(default_factory=list)

    @property
    def current_gap(self) -> int:
        return max(0, self.current - self.held)

    @property
    def target_gap(self) -> int:
        return max(0, self.target - self.held)


def skill_rows(user: User, roles: WorkerRoles, *, skills=None) -> list[SkillRow]:
    """Every skill the worker holds or a role of theirs requires; biggest gaps first.
    `skills`: the taxonomy's skills by id (anything with `id` and `name(locale)`), when the
    caller keeps them."""
    profile = skill_profile(user.id)
    current: dict[str, int] = {}
    for role in roles.current:
        for req in role.requirements:
            current[req.skill_id] = max(current.get(req.skill_id, 0), req.level)
    target = {r.skill_id: r.level for r in roles.target.requirements} if roles.target else {}
    ids = set(profile) | set(current) | set(target)
    if skills is None:
        skills = {s.id: s for s in db.session.scalars(select(Skill).where(Skill.id.in_(ids)))}
    rows = [
        SkillRow(
            skills[s],
            profile.get(s, {}).get("level", 0),
            profile.get(s, {}).get("self", 0),
            current.get(s, 0),
            target.get(s, 0),
            profile.get(s, {}).get("history", []),
        )
        for s in ids
        if s in skills
    ]
    return sorted(rows, key=lambda r: (-r.current_gap, -r.target_gap, -r.held, r.skill.id))


# --- aggregates ----------------------------------------------------------------------------


def _held_levels():
    """(user_id, skill_id, level): the highest verified level per worker and skill."""
    return (
        select(
            SkillEvidence.user_id,
            SkillEvidence.skill_id,
            func.max(SkillEvidence.level).label("level"),
        )
        .where(SkillEvidence.is_verified.is_(True))
        .group_by(SkillEvidence.user_id, SkillEvidence.skill_id)
        .subquery()
    )


@dataclass(frozen=True)
class GapCell:
    group: int | str  # a firm id or a job role id
    skill_id: str
    workers: int  # current workers whose role requires the skill
    with_gap: int  # … of whom hold it below the required level
    total_gap: int  # sum of the levels missing

    @property
    def share(self) -> float:
        return self.with_gap / self.workers if self.workers else 0.0


def _requirements(consortium_id: int):
    """(FROM/WHERE of current workers × the skills their job role requires × their held
    level, held level expression). Callers add the columns and grouping they need."""
    held = _held_levels()
    held_level = func.coalesce(held.c.level, 0)
    query = (
        select()
        .select_from(Membership)
        .join(RoleSkill, RoleSkill.role_id == Membership.job_role_id)
        .join(User, User.id == Membership.user_id)
        .outerjoin(
            held,
            and_(held.c.user_id == Membership.user_id, held.c.skill_id == RoleSkill.skill_id),
        )
        .where(
            Membership.consortium_id == consortium_id,
            Membership.role == "worker",
            User.is_active_account.is_(True),
            *current_membership_conditions(),
        )
    )
    return query, held_level


def gap_cells(consortium_id: int, *, firm_id: int | None = None, by: str = "firm") -> list[GapCell]:
    """Workers requiring each skill and those with a gap, grouped by firm or by job role.

    One SQL aggregate over memberships × role requirements × held levels.
    """
    base, held_level = _requirements(consortium_id)
    group = Membership.firm_id if by == "firm" else Membership.job_role_id
    gap = held_level < RoleSkill.level
    query = base.add_columns(
        group,
        RoleSkill.skill_id,
        func.count(func.distinct(Membership.user_id)),
        func.count(func.distinct(case((gap, Membership.user_id)))),
        func.sum(case((gap, RoleSkill.level - held_level), else_=0)),
    ).group_by(group, RoleSkill.skill_id)
    if firm_id is not None:
        query = query.where(Membership.firm_id == firm_id)
    return [
        GapCell(g, s, n, gaps, int(total or 0))
        for g, s, n, gaps, total in db.session.execute(query)
    ]


def best_course_levels(consortium_id: int) -> dict[str, int]:
    """Per skill, the highest level a currently published course of the consortium teaches."""
    query = (
        select(CourseSkill.skill_id, func.max(CourseSkill.level))
        .join(CourseVersion, CourseVersion.id == CourseSkill.version_id)
        .join(Course, Course.id == CourseVersion.course_id)
        .where(Course.consortium_id == consortium_id, CourseVersion.status == "published")
        .group_by(CourseSkill.skill_id)
    )
    return dict(db.session.execute(query).all())


@dataclass(frozen=True)
class UncoveredGap:
    skill_id: str
    with_gap: int  # workers with a gap no course closes
    required: int  # the highest level those workers need
    best_course: int  # the highest level a published course teaches (0: none)


def uncovered_gaps(consortium_id: int) -> list[UncoveredGap]:
    """Gaps that no published course closes: what trainers should author next.

    A worker's gap on a skill is uncovered when the required level is above every level a
    published course of the consortium teaches for that skill.
    """
    best = best_course_levels(consortium_id)
    base, held_level = _requirements(consortium_id)
    query = (
        base.add_columns(
            RoleSkill.skill_id, RoleSkill.level, func.count(func.distinct(Membership.user_id))
        )
        .where(held_level < RoleSkill.level)
        .group_by(RoleSkill.skill_id, RoleSkill.level)
    )
    found: dict[str, list[int]] = {}
    for skill_id, level, workers in db.session.execute(query):
        if level > best.get(skill_id, 0):
            entry = found.setdefault(skill_id, [0, 0])
            entry[0] += workers
            entry[1] = max(entry[1], level)
    rows = [UncoveredGap(s, n, req, best.get(s, 0)) for s, (n, req) in found.items()]
    return sorted(rows, key=lambda r: (-r.with_gap, -r.required, r.skill_id))
