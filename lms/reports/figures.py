"""The figures of the consortium and firm dashboards, as SQL aggregates over a `Slice`.

Definitions (also shown on the page):
- enrolments, completions, certificates, training hours: events in the period;
- completion rate: completions ÷ enrolments of the period;
- workers enrolled: different workers with an enrolment made in the period;
- workers whose skill level rose: different workers with verified evidence in the period above
  every verified level they held before in that skill;
- active in the last 30 days and overdue mandatory assignments: as of now (not the period);
- overdue assignments are counted per assigning party (lms.learning.models.Assignment): a firm's
  figures, list and drill-down count the firm's own assignments (not another firm's assignment
  of a worker they share), the consortium's every firm's and its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, distinct, func, select, text

from lms.certificates.models import Certificate
from lms.core.params import MAX_INT
from lms.core.types import utcnow
from lms.courses.models import Course, CourseSkill, CourseVersion
from lms.extensions import db
from lms.learning.models import Assignment, Enrollment
from lms.reports.summary import (
    Slice,
    breakdowns,
    enrollment_filters,
    local_zone,
    month_of,
    month_start,
    months,
    next_month,
    prev_month,
    skill_raises,
    summarised_until,
    worker_counts,
    worker_pairs,
)
from lms.tenancy.models import Firm, Membership
from lms.tenancy.scope import current_membership_conditions
from lms.transcripts.models import TrainingHours

MAX_MONTHS = 60
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")

HEADLINES = (
    "workers",
    "active",
    "enrolled",
    "completed",
    "rate",
    "overdue",
    "certificates",
    "hours",
    "raised",
)
HEADLINE_LABELS = {
    "workers": _l("Workers enrolled"),
    "active": _l("Active in the last 30 days"),
    "enrolled": _l("Enrolments"),
    "completed": _l("Completions"),
    "rate": _l("Completion rate"),
    "overdue": _l("Overdue mandatory assignments"),
    "certificates": _l("Certificates issued"),
    "hours": _l("Training hours"),
    "raised": _l("Workers whose skill level rose"),
}
# Column titles of the breakdown tables (dashboard, exports and the monthly report).
COLUMN_LABELS = {
    "enrolled": _l("Enrolments"),
    "completed": _l("Completions"),
    "rate": _l("Completion rate (%)"),
    "certificates": _l("Certificates issued"),
    "hours": _l("Training hours"),
    "workers": _l("Workers enrolled"),
    "overdue": _l("Overdue mandatory"),
    "raised": _l("Skill-level rises"),
}


# --- filters -------------------------------------------------------------------------------------


@dataclass
class Filters:
    """The dashboard filters as given in the query string, checked against the consortium."""

    first: int
    last: int
    firm_id: int | None = None
    course_id: int | None = None
    sector: str | None = None
    job_role_id: str | None = None
    skill_id: str | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def args(self) -> dict:
        """The filters as query-string arguments (for links that keep them)."""
        out = {"from": _month_text(self.first), "to": _month_text(self.last)}
        for name, value in (
            ("firm", self.firm_id),
            ("course", self.course_id),
            ("sector", self.sector),
            ("job_role", self.job_role_id),
            ("skill", self.skill_id),
        ):
            if value is not None:
                out[name] = value
        return out


def _month_text(month: int) -> str:
    return f"{month // 100:04d}-{month % 100:02d}"


def default_period() -> tuple[int, int]:
    """The last twelve months, this one included."""
    last = month_of(utcnow())
    first = last
    for _ in range(11):
        first = prev_month(first)
    return first, last


def parse_filters(args, *, consortium_id: int, firm_id: int | None = None) -> Filters:
    """Read the filters; a bad value is reported on its field and ignored."""
    first, last = default_period()
    f = Filters(first, last, firm_id=firm_id)
    months_given = {}
    for name in ("from", "to"):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        match = _MONTH.match(raw)
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
            f.errors[name] = _l("Give a month as YYYY-MM, e.g. 2026-03.")
            continue
        months_given[name] = int(match.group(1)) * 100 + int(match.group(2))
    first = months_given.get("from", f.first)
    last = months_given.get("to", max(f.last, first) if "from" in months_given else f.last)
    if first > last:
        f.errors["to"] = _l("The end month must not be before the start month.")
    elif len(months(first, last)) > MAX_MONTHS:
        f.errors["to"] = _l("Choose at most %(n)d months.", n=MAX_MONTHS)
    else:
        f.first, f.last = first, last
    if firm_id is None and args.get("firm"):
        value = _int(args.get("firm"))
        if (
            value is None
            or db.session.scalar(
                select(Firm.id).where(Firm.id == value, Firm.consortium_id == consortium_id)
            )
            is None
        ):
            f.errors["firm"] = _l("Choose a member firm from the list.")
        else:
            f.firm_id = value
    if args.get("course"):
        value = _int(args.get("course"))
        if (
            value is None
            or db.session.scalar(
                select(Course.id).where(Course.id == value, Course.consortium_id == consortium_id)
            )
            is None
        ):
            f.errors["course"] = _l("Choose a course from the list.")
        else:
            f.course_id = value
    if args.get("sector"):
        if args["sector"] not in sectors(course_info(consortium_id)):
            f.errors["sector"] = _l("Choose a sector from the list.")
        else:
            f.sector = args["sector"]
    if args.get("job_role"):
        from lms.taxonomy.service import roles_for

        ids = {
            r.id
            for r in db.session.scalars(roles_for(consortium_id, firm_id, include_inactive=True))
        }
        if args["job_role"] not in ids:
            f.errors["job_role"] = _l("Choose a job role from the list.")
        else:
            f.job_role_id = args["job_role"]
    if args.get("skill"):
        from lms.taxonomy.service import known_skill_ids

        if args["skill"] not in known_skill_ids(consortium_id):
            f.errors["skill"] = _l("Choose a skill from the list.")
        else:
            f.skill_id = args["skill"]
    return f


def _int(value) -> int | None:
    """An id from the address; None (a field error) if it is not one the database can hold."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_INT else None


# --- courses -------------------------------------------------------------------------------------


def current_versions(consortium_id: int) -> Select:
    """Each course's current version: the published one, else its latest."""
    ranked = (
        select(
            CourseVersion.id,
            CourseVersion.course_id,
            func.row_number()
            .over(
                partition_by=CourseVersion.course_id,
                order_by=[
                    (CourseVersion.status == "published").desc(),
                    CourseVersion.version.desc(),
                ],
            )
            .label("rank"),
        )
        .join(Course, Course.id == CourseVersion.course_id)
        .where(Course.consortium_id == consortium_id)
        .subquery()
    )
    return select(ranked.c.id).where(ranked.c.rank == 1)


def course_info(consortium_id: int) -> dict[int, dict]:
    """Course id → title, sector and slug of its current version (one query per page)."""
    rows = db.session.execute(
        select(CourseVersion.course_id, CourseVersion.title, CourseVersion.sector, Course.slug)
        .join(Course, Course.id == CourseVersion.course_id)
        .where(CourseVersion.id.in_(current_versions(consortium_id)))
    ).all()
    return {r.course_id: {"title": r.title, "sector": r.sector, "slug": r.slug} for r in rows}


def sectors(info: dict[int, dict]) -> list[str]:
    """The sectors of the courses in course_info()."""
    return sorted({c["sector"] for c in info.values() if c["sector"]})


def course_skills(consortium_id: int) -> dict[int, list[str]]:
    """Course id → the skills its current version teaches."""
    out: dict[int, list[str]] = {}
    rows = db.session.execute(
        select(CourseVersion.course_id, CourseSkill.skill_id)
        .join(CourseVersion, CourseVersion.id == CourseSkill.version_id)
        .where(CourseSkill.version_id.in_(current_versions(consortium_id)))
    )
    for course_id, skill_id in rows:
        out.setdefault(course_id, []).append(skill_id)
    return out


def make_slice(consortium_id: int, f: Filters) -> Slice:
    """The slice of data the filters select; course, sector and skill become a set of courses."""
    course_ids = None
    if f.course_id is not None or f.sector is not None or f.skill_id is not None:
        info = course_info(consortium_id)
        taught = course_skills(consortium_id) if f.skill_id else {}
        course_ids = tuple(
            sorted(
                cid
                for cid, c in info.items()
                if (f.course_id is None or cid == f.course_id)
                and (f.sector is None or c["sector"] == f.sector)
                and (f.skill_id is None or f.skill_id in taught.get(cid, ()))
            )
        )
    return Slice(
        consortium_id,
        f.first,
        f.last,
        firm_id=f.firm_id,
        course_ids=course_ids,
        skill_id=f.skill_id,
        job_role_id=f.job_role_id,
        until=summarised_until(consortium_id),
    )


# --- figures -------------------------------------------------------------------------------------


def _today() -> date:
    return utcnow().astimezone(local_zone()).date()


def _overdue_conditions(s: Slice, *, mandatory_only: bool) -> list:
    """Assignments of the slice (a firm's: its own) past their due date, of open enrolments;
    for a query from Assignment joined to Enrollment (_overdue_from)."""
    conditions = [
        *enrollment_filters(s, Assignment),
        Enrollment.completed_at.is_(None),
        Enrollment.withdrawn_at.is_(None),
        Assignment.due_on.is_not(None),
        Assignment.due_on < _today(),
    ]
    if mandatory_only:
        conditions.append(Assignment.is_mandatory.is_(True))
    return conditions


def _overdue_from(query: Select) -> Select:
    return query.select_from(Assignment).join(Enrollment, Enrollment.id == Assignment.enrollment_id)


def overdue_count(s: Slice):
    """The number of overdue assignments (mandatory or not), as a scalar SELECT: the same as
    counting people_query(s, "overdue_all")."""
    return _overdue_from(select(func.count())).where(*_overdue_conditions(s, mandatory_only=False))


def _active_since():
    return utcnow() - timedelta(days=30)


def rate(completed: int, enrolled: int) -> float | None:
    return round(100 * completed / enrolled, 1) if enrolled else None


@dataclass
class Totals:
    """Everything the breakdown tables add up, fetched once per slice (three statements)."""

    events: dict
    workers: dict
    raises: dict
    overdue: dict  # assigning firm id (None: the consortium) → overdue mandatory assignments


def totals(s: Slice) -> Totals:
    if db.session.get_bind().dialect.name == "postgresql":
        # The aggregates hash a few hundred thousand summary rows: let them in memory.
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
    overdue = dict(
        db.session.execute(
            _overdue_from(select(Assignment.firm_id, func.count()))
            .where(*_overdue_conditions(s, mandatory_only=True))
            .group_by(Assignment.firm_id)
        ).all()
    )
    return Totals(breakdowns(s), worker_counts(s), skill_raises(s), overdue)


def headline(s: Slice, t: Totals | None = None) -> dict:
    t = t or totals(s)
    enrolled, completed = t.events["total"]["enrolled"], t.events["total"]["completed"]
    return {
        "enrolled": int(enrolled),
        "completed": int(completed),
        "rate": rate(int(completed), int(enrolled)),
        "certificates": int(t.events["total"]["certificates"]),
        "hours": round(float(t.events["total"]["hours"]), 1),
        "workers": t.workers["workers"],
        "raised": t.workers["raised"],
        "active": db.session.scalar(
            select(func.count(distinct(Enrollment.user_id))).where(
                *enrollment_filters(s), Enrollment.last_active_at >= _active_since()
            )
        ),
        "overdue": sum(t.overdue.values()),
    }


def _row(counts: dict | None, **extra) -> dict:
    counts = counts or {}
    enrolled, completed = int(counts.get("enrolled", 0)), int(counts.get("completed", 0))
    return {
        "enrolled": enrolled,
        "completed": completed,
        "rate": rate(completed, enrolled),
        "certificates": int(counts.get("certificates", 0)),
        "hours": round(float(counts.get("hours", 0)), 1),
        **extra,
    }


def by_firm(s: Slice, t: Totals | None = None) -> list[dict]:
    """Every firm of the consortium (those without activity too), by enrolments."""
    t = t or totals(s)
    firms = db.session.execute(
        select(Firm.id, Firm.name).where(Firm.consortium_id == s.consortium_id).order_by(Firm.name)
    ).all()
    rows = [
        _row(
            t.events["firm"].get(firm_id),
            firm_id=firm_id,
            name=name,
            workers=t.workers["by_firm"].get(firm_id, 0),
            overdue=t.overdue.get(firm_id, 0),
        )
        for firm_id, name in firms
        if s.firm_id is None or firm_id == s.firm_id
    ]
    rows.sort(key=lambda r: (-r["enrolled"], r["name"]))
    return rows


def by_course(
    s: Slice, *, limit: int | None = None, t: Totals | None = None, info: dict | None = None
) -> list[dict]:
    t = t or totals(s)
    info = course_info(s.consortium_id) if info is None else info
    unknown = {"title": "?", "sector": "", "slug": ""}
    rows = [
        _row(counts, course_id=course_id, **info.get(course_id, unknown))
        for course_id, counts in t.events["course"].items()
    ]
    rows.sort(key=lambda r: (-r["enrolled"], r["course_id"]))
    return rows[:limit] if limit else rows


def by_month(s: Slice, t: Totals | None = None) -> list[dict]:
    t = t or totals(s)
    return [
        _row(t.events["month"].get(m), month=m, label=_month_text(m))
        for m in months(s.first, s.last)
    ]


def by_skill(
    s: Slice,
    *,
    limit: int | None = None,
    courses: list[dict] | None = None,
    t: Totals | None = None,
) -> list[dict]:
    """Per skill: enrolments and completions of the courses that teach it, and the verified
    level rises of the slice's workers in it. `courses` is by_course(s) when the caller has it."""
    from lms.core.i18n import ui_locale
    from lms.taxonomy.models import Skill

    t = t or totals(s)
    taught = course_skills(s.consortium_id)
    sums: dict[str, dict] = {skill_id: {} for skill_id in t.raises}
    for r in by_course(s, t=t) if courses is None else courses:
        for skill_id in taught.get(r["course_id"], ()):
            row = sums.setdefault(skill_id, {})
            row["enrolled"] = row.get("enrolled", 0) + r["enrolled"]
            row["completed"] = row.get("completed", 0) + r["completed"]
    locale = ui_locale()
    names = {
        skill.id: skill.name(locale)
        for skill in db.session.scalars(select(Skill).where(Skill.id.in_(list(sums))))
    }
    rows = [
        {
            "skill_id": skill_id,
            "name": names.get(skill_id, skill_id),
            "enrolled": row.get("enrolled", 0),
            "completed": row.get("completed", 0),
            "rate": rate(row.get("completed", 0), row.get("enrolled", 0)),
            "raised": int(t.raises.get(skill_id, 0)),
        }
        for skill_id, row in sums.items()
        if s.skill_id is None or skill_id == s.skill_id
    ]
    rows.sort(key=lambda r: (-r["enrolled"], -r["raised"], r["skill_id"]))
    return rows[:limit] if limit else rows


def by_job_role(s: Slice) -> list[dict]:
    """Team progress per job role: the firm's current workers in each role, and their
    enrolments and completions in the period and the firm's assignments of them overdue now."""
    from lms.core.i18n import ui_locale
    from lms.taxonomy.models import JobRole

    M, E = Membership, Enrollment
    start, end = month_start(s.first), month_start(next_month(s.last))
    role = func.coalesce(M.job_role_id, "").label("role")
    members = [
        M.consortium_id == s.consortium_id,
        M.role == "worker",
        *current_membership_conditions(),
        *([M.firm_id == s.firm_id] if s.firm_id is not None else []),
        *([M.job_role_id == s.job_role_id] if s.job_role_id is not None else []),
    ]
    figures: dict[str, dict] = {}
    for role_id, workers in db.session.execute(
        select(role, func.count()).where(*members).group_by(role)
    ):
        figures[role_id] = {"workers": workers, "enrolled": 0, "completed": 0, "overdue": 0}
    # One pass over the firm's enrolments of its current workers, one over its assignments.
    for role_id, enrolled, completed in db.session.execute(
        select(
            role,
            func.count().filter((E.enrolled_at >= start) & (E.enrolled_at < end)),
            func.count().filter((E.completed_at >= start) & (E.completed_at < end)),
        )
        .select_from(E)
        .join(M, (M.user_id == E.user_id) & (M.firm_id == E.firm_id))
        .where(*enrollment_filters(s), *members)
        .group_by(role)
    ):
        counts = figures.setdefault(role_id, {"workers": 0, "overdue": 0})
        counts.update(enrolled=enrolled, completed=completed)
    A = Assignment
    for role_id, overdue in db.session.execute(
        _overdue_from(select(role, func.count()))
        .join(M, (M.user_id == A.user_id) & (M.firm_id == A.firm_id))
        .where(*_overdue_conditions(s, mandatory_only=False), *members)
        .group_by(role)
    ):
        counts = figures.setdefault(role_id, {"workers": 0, "enrolled": 0, "completed": 0})
        counts["overdue"] = overdue
    locale = ui_locale()
    names = {r.id: r.name(locale) for r in db.session.scalars(select(JobRole))}
    out = [
        {
            "job_role_id": role_id or None,
            "name": names.get(role_id) or _l("No job role"),
            **counts,
            "rate": rate(counts["completed"], counts["enrolled"]),
        }
        for role_id, counts in figures.items()
    ]
    out.sort(key=lambda r: (-r["workers"], str(r["name"])))
    return out


def chart_months(rows: list[dict], *, enrolled_label, completed_label, title) -> dict:
    return {
        "type": "bar",
        "horizontal": False,
        "title": str(title),
        "categories": [r["label"] for r in rows],
        "series": [
            {"name": str(enrolled_label), "data": [r["enrolled"] for r in rows]},
            {"name": str(completed_label), "data": [r["completed"] for r in rows]},
        ],
    }


def chart_bars(
    rows: list[dict], label_key: str, *, series: list[tuple[str, object]], title
) -> dict:
    return {
        "type": "bar",
        "horizontal": True,
        "title": str(title),
        "categories": [str(r[label_key]) for r in rows],
        "series": [
            {"name": str(name), "data": [r[key] or 0 for r in rows]} for key, name in series
        ],
    }


# --- the people behind a number ---------------------------------------------------------------

METRICS = (*(k for k in HEADLINES if k != "rate"), "overdue_all")
METRIC_LABELS = {
    **{k: v for k, v in HEADLINE_LABELS.items() if k != "rate"},
    "overdue_all": _l("Overdue assignments"),
}


def people_query(s: Slice, metric: str) -> Select:
    """The rows behind a figure, newest first: (user, firm, course or skill, date, detail)."""
    from lms.auth.models import User

    E = Enrollment
    start, end = month_start(s.first), month_start(next_month(s.last))
    person = (User.id.label("user_id"), User.name.label("name"), User.mobile.label("mobile"))
    firm = Firm.name.label("firm")
    if metric in ("overdue", "overdue_all"):
        # One row per overdue assignment, with the firm that assigned it (the enrolment's
        # public id is what a firm admin's reminder names).
        A = Assignment
        return (
            _overdue_from(
                select(
                    *person,
                    firm,
                    E.public_id.label("enrollment_id"),
                    E.course_id.label("course_id"),
                    E.enrolled_at.label("enrolled_at"),
                    E.completed_at.label("completed_at"),
                    A.due_on.label("due_on"),
                    E.status.label("status"),
                    E.last_active_at.label("last_active_at"),
                    A.is_mandatory.label("is_mandatory"),
                )
            )
            .join(User, User.id == A.user_id)
            .outerjoin(Firm, Firm.id == A.firm_id)
            .where(*_overdue_conditions(s, mandatory_only=metric == "overdue"))
            .order_by(A.due_on, A.id)
        )
    if metric in ("enrolled", "completed", "active"):
        moment = {"enrolled": E.enrolled_at, "completed": E.completed_at}.get(metric)
        query = (
            select(
                *person,
                firm,
                E.public_id.label("enrollment_id"),
                E.course_id.label("course_id"),
                E.enrolled_at.label("enrolled_at"),
                E.completed_at.label("completed_at"),
                E.due_on.label("due_on"),
                E.status.label("status"),
                E.last_active_at.label("last_active_at"),
                E.is_mandatory.label("is_mandatory"),
            )
            .join(User, User.id == E.user_id)
            .outerjoin(Firm, Firm.id == E.firm_id)
        )
        if metric == "active":
            return query.where(
                *enrollment_filters(s), E.last_active_at >= _active_since()
            ).order_by(E.last_active_at.desc(), E.id)

        return query.where(*enrollment_filters(s), moment >= start, moment < end).order_by(
            moment.desc(), E.id
        )
    if metric == "certificates":
        C = Certificate

        return (
            select(
                *person,
                firm,
                C.course_id.label("course_id"),
                C.serial.label("serial"),
                C.public_code.label("public_code"),
                C.issued_at.label("issued_at"),
                C.revoked_at.label("revoked_at"),
                C.expires_on.label("expires_on"),
            )
            .join(User, User.id == C.user_id)
            .outerjoin(Firm, Firm.id == C.firm_id)
            .where(*enrollment_filters(s, C), C.issued_at >= start, C.issued_at < end)
            .order_by(C.issued_at.desc(), C.id)
        )
    if metric == "hours":
        H = TrainingHours

        local = local_zone()
        return (
            select(
                *person,
                firm,
                H.course_id.label("course_id"),
                H.hours.label("hours"),
                H.credited_on.label("credited_on"),
            )
            .join(User, User.id == H.user_id)
            .outerjoin(Firm, Firm.id == H.firm_id)
            .where(
                *enrollment_filters(s, H),
                H.credited_on >= start.astimezone(local).date(),
                H.credited_on < end.astimezone(local).date(),
            )
            .order_by(H.credited_on.desc(), H.id)
        )
    kind = "enrolled" if metric == "workers" else "raised"
    pairs = worker_pairs(s, kind)
    return (
        select(*person, firm)
        .select_from(pairs)
        .join(User, User.id == pairs.c.user_id)
        .outerjoin(Firm, Firm.id == pairs.c.firm_id)
        .order_by(Firm.name, User.name, User.id)
    )
