"""The figures of the consortium and firm dashboards (and the monthly report), as SQL
aggregates over a `Slice`. One definition per figure serves the headline, the breakdown tables,
the drill-down (`people_query`) and the exports; `definitions()` words it for the page.

Definitions (the period is the slice's months; its end is local midnight after its last day):
- enrolments, completions, certificates, training hours: events in the period. Completions
  are of enrolments made at any time, so they may exceed the period's enrolments;
- enrolments completed ("cohort"): of the enrolments made in the period, those completed by
  its end; completion rate = that ÷ the enrolments made in the period, so never above 100 %.
  Each row of a breakdown is the slice narrowed to that row: a month row is its own period
  (enrolments of the month completed by the month's end), as its drill-down link shows;
- people are counted once: workers enrolled (an enrolment made in the period), workers
  whose skill level rose (verified evidence in the period above every verified level they
  held before in that skill; evidence from ratings and sign-offs counts too, so it may exceed
  the workers enrolled) and active workers are different people, and their drill-downs list
  one row per person, their firms joined in one cell ("A厂、B厂"). The by-firm table counts a
  person under each firm of the slice they belong to (a firm's row equals that firm's
  dashboard), so its rows may add up to more than the total; the page says so;
- "as of" figures are taken at the period's end when the period is over, and at the moment
  of the request while it runs (`as_of`):
  - overdue: assignments (mandatory ones for the headline) due before that moment whose
    enrolment was neither completed nor withdrawn by then, and which existed then. Counted
    per assigning party (lms.learning.models.Assignment): a firm's figures, list and
    drill-down count the firm's own assignments (not another firm's assignment of a worker
    they share), the consortium's every firm's and its own;
  - active in the last 30 days: different workers with a learning event in the 30 days up to
    that moment. A past moment reads only timestamps that never move once written (a course
    started, a lesson finished, a quiz attempt started or submitted, a course completed), so a
    closed period's figure doesn't change with later activity; "now" also counts the latest
    saved progress (Enrollment.last_active_at), which is exact for the present only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property

from babel.dates import format_skeleton
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Select,
    String,
    distinct,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
)

from lms.certificates.models import Certificate
from lms.core.i18n import format_month
from lms.core.params import MAX_INT
from lms.core.types import utcnow
from lms.courses.models import Course, CourseSkill, CourseVersion
from lms.extensions import db
from lms.learning.models import Assignment, Enrollment, LessonProgress, QuizAttempt
from lms.reports.summary import (
    Slice,
    breakdowns,
    enrollment_filters,
    local_zone,
    month_expr,
    month_first_day,
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
    "cohort",
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
    "cohort": _l("Enrolments of the period completed by its end"),
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
    "cohort": _l("Of which completed"),
    "rate": _l("Completion rate (%)"),
    "certificates": _l("Certificates issued"),
    "hours": _l("Training hours"),
    "workers": _l("Workers enrolled"),
    "members": _l("Team members"),
    "overdue": _l("Overdue mandatory"),
    "raised": _l("Workers whose level rose"),
}
# The figures about people (each person once; their drill-downs list one row per person).
PEOPLE_METRICS = ("workers", "active", "raised")
ACTIVE_DAYS = 30


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
    for _i in range(11):
        first = prev_month(first)
    return first, last


def parse_filters(
    args, *, consortium_id: int, firm_id: int | None = None, choices: Choices | None = None
) -> Filters:
    """Read the filters; a bad value is reported on its field and ignored. `choices` (of the
    same consortium and firm) when the caller has them."""
    choices = choices or Choices(consortium_id, firm_id)
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
        if value is None or value not in {firm.id for firm in choices.firms}:
            f.errors["firm"] = _l("Choose a member firm from the list.")
        else:
            f.firm_id = value
    if args.get("course"):
        value = _int(args.get("course"))
        # Every course has a version from its creation on, so these are all its courses.
        if value is None or value not in choices.courses:
            f.errors["course"] = _l("Choose a course from the list.")
        else:
            f.course_id = value
    if args.get("sector"):
        if args["sector"] not in sectors(choices.courses):
            f.errors["sector"] = _l("Choose a sector from the list.")
        else:
            f.sector = args["sector"]
    if args.get("job_role"):
        if args["job_role"] not in {r.id for r in choices.roles}:
            f.errors["job_role"] = _l("Choose a job role from the list.")
        else:
            f.job_role_id = args["job_role"]
    if args.get("skill"):
        if args["skill"] not in choices.skills:
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


def course_lists(consortium_id: int) -> tuple[dict[int, dict], dict[int, list[str]]]:
    """course_info() and course_skills() in one query."""
    info: dict[int, dict] = {}
    taught: dict[int, list[str]] = {}
    rows = db.session.execute(
        select(
            CourseVersion.course_id,
            CourseVersion.title,
            CourseVersion.sector,
            Course.slug,
            CourseSkill.skill_id,
        )
        .join(Course, Course.id == CourseVersion.course_id)
        .outerjoin(CourseSkill, CourseSkill.version_id == CourseVersion.id)
        .where(CourseVersion.id.in_(current_versions(consortium_id)))
    )
    for course_id, title, sector, slug, skill_id in rows:
        info[course_id] = {"title": title, "sector": sector, "slug": slug}
        if skill_id is not None:
            taught.setdefault(course_id, []).append(skill_id)
    return info, taught


class Choices:
    """What a dashboard's filters can be set to, each list read once per request and only when
    first needed: the filters are checked against them, the page offers them, and the tables
    take their names from them."""

    def __init__(self, consortium_id: int, firm_id: int | None = None):
        self.consortium_id, self.firm_id = consortium_id, firm_id

    @cached_property
    def firms(self) -> list:
        """(id, name) of the consortium's firms, by name."""
        return db.session.execute(
            select(Firm.id, Firm.name)
            .where(Firm.consortium_id == self.consortium_id)
            .order_by(Firm.name)
        ).all()

    @cached_property
    def _courses(self) -> tuple[dict, dict]:
        return course_lists(self.consortium_id)

    @property
    def courses(self) -> dict[int, dict]:
        """course_info() of the consortium."""
        return self._courses[0]

    @property
    def taught(self) -> dict[int, list[str]]:
        """course_skills() of the consortium."""
        return self._courses[1]

    @cached_property
    def skills(self) -> dict[str, str]:
        """Skill id → name in the page's language, of the skills the consortium sees."""
        from lms.core.i18n import ui_locale
        from lms.taxonomy.models import Skill
        from lms.taxonomy.service import visible_skills

        locale = ui_locale()
        return {
            skill.id: skill.name(locale)
            for skill in db.session.scalars(select(Skill).where(visible_skills(self.consortium_id)))
        }

    @cached_property
    def roles(self) -> list:
        """The job roles of the consortium (and firm), inactive ones too, by name."""
        from lms.taxonomy.service import roles_for

        return list(
            db.session.scalars(roles_for(self.consortium_id, self.firm_id, include_inactive=True))
        )

    def role_options(self) -> list[tuple[str, str]]:
        """lms.taxonomy.service.role_options() of the consortium (and firm): the active roles."""
        from lms.core.i18n import ui_locale

        locale = ui_locale()
        return [(r.id, r.name(locale)) for r in self.roles if r.is_active]

    def role_names(self) -> dict[str, str]:
        """Job role id → name in the page's language, inactive roles too."""
        from lms.core.i18n import ui_locale

        locale = ui_locale()
        return {r.id: r.name(locale) for r in self.roles}


def make_slice(consortium_id: int, f: Filters, choices: Choices | None = None) -> Slice:
    """The slice of data the filters select; course, sector and skill become a set of courses.
    `choices` (of the same consortium) when the caller has them."""
    course_ids = None
    if f.course_id is not None or f.sector is not None or f.skill_id is not None:
        if choices is not None:
            info, taught = choices.courses, choices.taught
        else:
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


def period_end(s: Slice) -> datetime:
    """The end of the slice's period: local midnight after its last day (exclusive)."""
    return month_start(next_month(s.last))


def as_of(s: Slice) -> datetime | None:
    """The moment the "as of" figures (active, overdue) are taken at: the period's end when it
    is over, None (now) while it runs."""
    end = period_end(s)
    return end if end <= utcnow() else None


def _overdue_conditions(s: Slice, *, mandatory_only: bool) -> list:
    """Assignments of the slice (a firm's: its own) overdue as of `as_of(s)`; for a query from
    Assignment joined to Enrollment (_overdue_from)."""
    moment = as_of(s)
    if moment is None:
        # Now: the open assignments past their due date (the partial indexes' condition).
        dated = [
            Enrollment.completed_at.is_(None),
            Enrollment.withdrawn_at.is_(None),
            Assignment.due_on < _today(),
        ]
    else:
        dated = [
            or_(Enrollment.completed_at.is_(None), Enrollment.completed_at >= moment),
            or_(Enrollment.withdrawn_at.is_(None), Enrollment.withdrawn_at >= moment),
            Assignment.due_on < moment.astimezone(local_zone()).date(),
            Assignment.created_at < moment,
        ]
    conditions = [*enrollment_filters(s, Assignment), Assignment.due_on.is_not(None), *dated]
    if mandatory_only:
        conditions.append(Assignment.is_mandatory.is_(True))
    return conditions


def _overdue_from(query: Select) -> Select:
    return query.select_from(Assignment).join(Enrollment, Enrollment.id == Assignment.enrollment_id)


def overdue_count(s: Slice):
    """The number of overdue assignments (mandatory or not), as a scalar SELECT: the same as
    counting people_query(s, "overdue_all")."""
    return _overdue_from(select(func.count())).where(*_overdue_conditions(s, mandatory_only=False))


def overdue_list(s: Slice) -> Select:
    """people_query(s, "overdue_all") with the number of all its rows on each row (`total`), so
    that a page of it needs no count of its own."""
    return people_query(s, "overdue_all").add_columns(func.count().over().label("total"))


def activity(s: Slice):
    """(user_id, firm_id, at) of the learning events of the slice's enrolments in the 30 days
    up to `as_of(s)`, as a subquery: the people behind "active in the last 30 days".

    A past moment reads only timestamps written once (Enrollment.started_at and completed_at,
    LessonProgress.completed_at, QuizAttempt.started_at and submitted_at); now also reads
    Enrollment.last_active_at, the latest saved progress. Starting a course and finishing a
    lesson save progress too (lms.learning.service.record_progress), so their enrolments have
    last_active_at at or after them: that narrows those two scans to recently active
    enrolments (an index) without changing what they find."""
    E, P, Q = Enrollment, LessonProgress, QuizAttempt
    moment = as_of(s)
    upper = moment or utcnow() + timedelta(seconds=1)
    since = (moment or utcnow()) - timedelta(days=ACTIVE_DAYS)

    def events(at, *, join=None, recent=False):
        query = select(
            E.user_id.label("user_id"),
            func.coalesce(E.firm_id, 0).label("firm_id"),
            at.label("at"),
        ).select_from(E)
        if join is not None:
            query = query.join(join, join.enrollment_id == E.id)
        conditions = [*enrollment_filters(s), at >= since, at < upper]
        if recent:
            conditions.append(E.last_active_at >= since)
        return query.where(*conditions)

    parts = [
        events(E.completed_at),
        events(Q.started_at, join=Q),
        events(Q.submitted_at, join=Q),
    ]
    if moment is None:
        parts.append(events(E.last_active_at))
    else:
        parts += [events(E.started_at, recent=True), events(P.completed_at, join=P, recent=True)]
    return union_all(*parts).subquery("activity")


def cohort_counts(s: Slice) -> dict:
    """The enrolments made in the period and completed by its end: {"total": n, "firm": {id: n},
    "course": {id: n}} and "month": {month: the enrolments of that month completed by its end}
    (a month row is its own period). Counted live over the period's completions (an index)."""
    E = Enrollment
    start, end = month_start(s.first), period_end(s)
    out: dict = {"total": 0, "firm": {}, "course": {}, "month": {}}
    if start >= utcnow():
        return out
    enrolled_month = month_expr(E.enrolled_at)
    rows = (
        select(
            func.coalesce(E.firm_id, 0).label("firm_id"),
            E.course_id.label("course_id"),
            enrolled_month.label("month"),
            (enrolled_month == month_expr(E.completed_at)).label("same_month"),
        )
        .where(
            *enrollment_filters(s),
            E.completed_at >= start,
            E.completed_at < end,
            E.enrolled_at >= start,
            E.enrolled_at < end,
        )
        .cte("cohort")
    )
    none = null().cast(String)
    for kind, key, n in db.session.execute(
        union_all(
            select(literal("total"), none, func.count()).select_from(rows),
            select(literal("firm"), rows.c.firm_id.cast(String), func.count()).group_by(
                rows.c.firm_id
            ),
            select(literal("course"), rows.c.course_id.cast(String), func.count()).group_by(
                rows.c.course_id
            ),
            select(literal("month"), rows.c.month.cast(String), func.count())
            .where(rows.c.same_month)
            .group_by(rows.c.month),
        )
    ):
        if kind == "total":
            out["total"] = int(n)
        else:
            out[kind][int(key)] = int(n)
    return out


def rate(done: int, enrolled: int) -> float | None:
    """The completion rate in %: `done` is a part of `enrolled` (the cohort), so at most 100."""
    return round(100 * done / enrolled, 1) if enrolled else None


@dataclass
class Totals:
    """Everything the breakdown tables and the headline add up, fetched once per slice."""

    events: dict
    workers: dict
    raises: dict
    overdue: dict  # assigning firm id (None: the consortium) → overdue mandatory assignments
    cohort: dict
    active: int  # different workers active in the last 30 days


def totals(s: Slice) -> Totals:
    if db.session.get_bind().dialect.name == "postgresql":
        # The aggregates hash a few hundred thousand summary rows: let them in memory.
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
    # The two "as of" figures in one statement.
    events = activity(s)
    overdue: dict = {}
    active = 0
    for kind, firm_id, n in db.session.execute(
        union_all(
            _overdue_from(select(literal("overdue"), Assignment.firm_id, func.count()))
            .where(*_overdue_conditions(s, mandatory_only=True))
            .group_by(Assignment.firm_id),
            select(literal("active"), null(), func.count(distinct(events.c.user_id))),
        )
    ):
        if kind == "active":
            active = n
        else:
            overdue[firm_id] = n
    return Totals(
        breakdowns(s), worker_counts(s), skill_raises(s), overdue, cohort_counts(s), active
    )


def headline(s: Slice, t: Totals | None = None) -> dict:
    t = t or totals(s)
    enrolled, completed = t.events["total"]["enrolled"], t.events["total"]["completed"]
    return {
        "enrolled": int(enrolled),
        "completed": int(completed),
        "cohort": t.cohort["total"],
        "rate": rate(t.cohort["total"], int(enrolled)),
        "certificates": int(t.events["total"]["certificates"]),
        "hours": round(float(t.events["total"]["hours"]), 1),
        "workers": t.workers["workers"],
        "raised": t.workers["raised"],
        "active": t.active,
        "overdue": sum(t.overdue.values()),
    }


def _row(counts: dict | None, cohort: int = 0, **extra) -> dict:
    counts = counts or {}
    enrolled, completed = int(counts.get("enrolled", 0)), int(counts.get("completed", 0))
    return {
        "enrolled": enrolled,
        "completed": completed,
        "cohort": cohort,
        "rate": rate(cohort, enrolled),
        "certificates": int(counts.get("certificates", 0)),
        "hours": round(float(counts.get("hours", 0)), 1),
        **extra,
    }


def by_firm(s: Slice, t: Totals | None = None, *, firms: list | None = None) -> list[dict]:
    """Every firm of the consortium (those without activity too), by enrolments. A worker
    enrolled through two firms counts under each (each row equals that firm's dashboard).
    `firms` is Choices.firms when the caller has it."""
    t = t or totals(s)
    if firms is None:
        firms = Choices(s.consortium_id).firms
    rows = [
        _row(
            t.events["firm"].get(firm_id),
            t.cohort["firm"].get(firm_id, 0),
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
        _row(
            counts,
            t.cohort["course"].get(course_id, 0),
            course_id=course_id,
            **info.get(course_id, unknown),
        )
        for course_id, counts in t.events["course"].items()
    ]
    rows.sort(key=lambda r: (-r["enrolled"], r["course_id"]))
    return rows[:limit] if limit else rows


def by_month(s: Slice, t: Totals | None = None) -> list[dict]:
    """Each month as its own period (its rate: its enrolments completed by its end)."""
    t = t or totals(s)
    return [
        _row(t.events["month"].get(m), t.cohort["month"].get(m, 0), month=m, label=_month_text(m))
        for m in months(s.first, s.last)
    ]


def by_skill(
    s: Slice,
    *,
    limit: int | None = None,
    courses: list[dict] | None = None,
    t: Totals | None = None,
    choices: Choices | None = None,
) -> list[dict]:
    """Per skill: enrolments and completions of the courses that teach it, and the different
    workers of the slice whose level in it rose. `courses` is by_course(s) and `choices` the
    consortium's Choices when the caller has them."""
    from lms.core.i18n import ui_locale
    from lms.taxonomy.models import Skill

    t = t or totals(s)
    taught = course_skills(s.consortium_id) if choices is None else choices.taught
    sums: dict[str, dict] = {skill_id: {} for skill_id in t.raises}
    for r in by_course(s, t=t) if courses is None else courses:
        for skill_id in taught.get(r["course_id"], ()):
            row = sums.setdefault(skill_id, {})
            for key in ("enrolled", "completed", "cohort"):
                row[key] = row.get(key, 0) + r[key]
    names = {} if choices is None else choices.skills
    if missing := [skill_id for skill_id in sums if skill_id not in names]:
        # Skills the consortium doesn't see (none unless a worker's evidence is of another's).
        locale = ui_locale()
        names = {
            **names,
            **{
                skill.id: skill.name(locale)
                for skill in db.session.scalars(select(Skill).where(Skill.id.in_(missing)))
            },
        }
    rows = [
        {
            "skill_id": skill_id,
            "name": names.get(skill_id, skill_id),
            "enrolled": row.get("enrolled", 0),
            "completed": row.get("completed", 0),
            "cohort": row.get("cohort", 0),
            "rate": rate(row.get("cohort", 0), row.get("enrolled", 0)),
            "raised": int(t.raises.get(skill_id, 0)),
        }
        for skill_id, row in sums.items()
        if s.skill_id is None or skill_id == s.skill_id
    ]
    rows.sort(key=lambda r: (-r["enrolled"], -r["raised"], r["skill_id"]))
    return rows[:limit] if limit else rows


def by_job_role(s: Slice, *, names: dict[str, str] | None = None) -> list[dict]:
    """Team progress per job role: the firm's current workers in each role ("members"), and of
    their enrolments through the firm those of the period, the different workers behind them,
    the ones completed in it and by its end, and the firm's assignments of them overdue.
    `names` is Choices.role_names() when the caller has it."""
    from lms.core.i18n import ui_locale
    from lms.taxonomy.models import JobRole

    M, E = Membership, Enrollment
    start, end = month_start(s.first), period_end(s)
    role = func.coalesce(M.job_role_id, "").label("role")
    members = [
        M.consortium_id == s.consortium_id,
        M.role == "worker",
        *current_membership_conditions(),
        *([M.firm_id == s.firm_id] if s.firm_id is not None else []),
        *([M.job_role_id == s.job_role_id] if s.job_role_id is not None else []),
    ]
    empty = {"members": 0, "workers": 0, "enrolled": 0, "completed": 0, "cohort": 0, "overdue": 0}
    # In one statement: the members per role, one pass over the firm's enrolments of its
    # current workers, one over its assignments.
    in_period = (E.enrolled_at >= start) & (E.enrolled_at < end)
    zero = literal(0)
    A = Assignment
    found: dict[str, list] = {"members": [], "enrolments": [], "overdue": []}
    for kind, role_id, *counts in db.session.execute(
        union_all(
            select(literal("members"), role, func.count(), zero, zero, zero)
            .where(*members)
            .group_by(role),
            select(
                literal("enrolments"),
                role,
                func.count(distinct(E.user_id)).filter(in_period),
                func.count().filter(in_period),
                func.count().filter((E.completed_at >= start) & (E.completed_at < end)),
                func.count().filter(in_period & (E.completed_at < end)),
            )
            .select_from(E)
            .join(M, (M.user_id == E.user_id) & (M.firm_id == E.firm_id))
            .where(*enrollment_filters(s), *members)
            .group_by(role),
            _overdue_from(select(literal("overdue"), role, func.count(), zero, zero, zero))
            .join(M, (M.user_id == A.user_id) & (M.firm_id == A.firm_id))
            .where(*_overdue_conditions(s, mandatory_only=False), *members)
            .group_by(role),
        )
    ):
        found[kind].append((role_id, *counts))
    figures: dict[str, dict] = {}
    for role_id, n, *_zeros in found["members"]:
        figures[role_id] = {**empty, "members": n}
    for role_id, workers, enrolled, completed, cohort in found["enrolments"]:
        counts = figures.setdefault(role_id, dict(empty))
        counts.update(workers=workers, enrolled=enrolled, completed=completed, cohort=cohort)
    for role_id, overdue, *_zeros in found["overdue"]:
        figures.setdefault(role_id, dict(empty))["overdue"] = overdue
    locale = ui_locale()
    if names is None:
        names = {r.id: r.name(locale) for r in db.session.scalars(select(JobRole))}
    elif missing := [role_id for role_id in figures if role_id and role_id not in names]:
        # Roles from outside the consortium and firm (none unless a member was given one).
        names = {
            **names,
            **{
                r.id: r.name(locale)
                for r in db.session.scalars(select(JobRole).where(JobRole.id.in_(missing)))
            },
        }
    out = [
        {
            "job_role_id": role_id or None,
            "name": names.get(role_id) or _l("No job role"),
            **counts,
            "rate": rate(counts["cohort"], counts["enrolled"]),
        }
        for role_id, counts in figures.items()
    ]
    out.sort(key=lambda r: (-r["members"], str(r["name"])))
    return out


def chart_months(rows: list[dict], *, enrolled_label, completed_label, title) -> dict:
    return {
        "type": "bar",
        "horizontal": False,
        "title": str(title),
        "categories": [format_month(r["month"]) for r in rows],
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


def _list_separator() -> str:
    from lms.core.i18n import ui_locale

    return "、" if ui_locale() == "zh_CN" else ", "


def _firm_names(pairs):
    """user_id → the names of their firms among `pairs` (user_id, firm_id; 0: none), joined in
    one cell ("A厂、B厂"), as a subquery."""
    named = (
        select(pairs.c.user_id.label("user_id"), Firm.name.label("name"))
        .select_from(pairs)
        .join(Firm, Firm.id == pairs.c.firm_id)
        .distinct()
        .subquery("named")
    )
    separator = literal(_list_separator(), String)
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        joined = func.string_agg(named.c.name, aggregate_order_by(separator, named.c.name))
    else:
        named = select(named).order_by(named.c.user_id, named.c.name).subquery("ordered")
        joined = func.group_concat(named.c.name, separator)
    return (
        select(named.c.user_id.label("user_id"), joined.label("firm"))
        .group_by(named.c.user_id)
        .subquery("firm_names")
    )


def _one_row_per_person(source, *, latest: bool = False) -> Select:
    """One row per person of `source` (user_id, firm_id, and with `latest` the moment `at`):
    (user_id, name, mobile, firm: their firms joined; with `latest`, last_active_at)."""
    from lms.auth.models import User

    people = select(source.c.user_id.label("user_id"))
    if latest:
        people = people.add_columns(func.max(source.c.at).label("last_active_at"))
    people = people.group_by(source.c.user_id).subquery("people")
    names = _firm_names(source)
    query = (
        select(
            User.id.label("user_id"),
            User.name.label("name"),
            User.mobile.label("mobile"),
            names.c.firm.label("firm"),
            *([people.c.last_active_at] if latest else []),
        )
        .select_from(people)
        .join(User, User.id == people.c.user_id)
        .outerjoin(names, names.c.user_id == people.c.user_id)
    )
    if latest:
        return query.order_by(people.c.last_active_at.desc(), User.id)
    return query.order_by(User.name, User.id)


def people_query(s: Slice, metric: str) -> Select:
    """The rows behind a figure: one per person for the people figures (PEOPLE_METRICS), one
    per enrolment, certificate, credit or assignment for the others, newest first."""
    from lms.auth.models import User

    E = Enrollment
    start, end = month_start(s.first), period_end(s)
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
    if metric in ("enrolled", "completed", "cohort"):
        moment = E.completed_at if metric == "completed" else E.enrolled_at
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
            .where(*enrollment_filters(s), moment >= start, moment < end)
        )
        if metric == "cohort":
            query = query.where(E.completed_at >= start, E.completed_at < end)
        return query.order_by(moment.desc(), E.id)
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
    if metric == "active":
        return _one_row_per_person(activity(s), latest=True)
    return _one_row_per_person(worker_pairs(s, "enrolled" if metric == "workers" else "raised"))


# --- how each figure is counted -----------------------------------------------------------------


def _month_name(month: int) -> str:
    return format_skeleton("yMMM", month_first_day(month), locale=get_locale())


def as_of_text(s: Slice) -> str:
    """When the "as of" figures are taken, for the page: "as of now" or "as of the end of …"."""
    if as_of(s) is None:
        return _("as of now")
    return _("as of the end of %(month)s", month=_month_name(s.last))


def definitions(s: Slice) -> dict[str, str]:
    """How each headline figure is counted, in the current language (the page shows these)."""
    when = as_of_text(s)
    past = as_of(s) is not None
    return {
        "workers": _(
            "Different workers with an enrolment made in the period: each person once, however "
            "many courses or firms."
        ),
        "active": (
            _(
                "Different workers with learning recorded in the 30 days up to %(when)s: a "
                "course started, a lesson finished, a quiz attempt, a course completed. Later "
                "activity does not change it.",
                when=when,
            )
            if past
            else _(
                "Different workers with learning in the 30 days up to now: progress saved, a "
                "quiz attempt, a course completed."
            )
        ),
        "enrolled": _("Enrolments made in the period (a worker in two courses counts twice)."),
        "completed": _(
            "Courses completed in the period, whenever the enrolment was made; so it can be "
            "more than the period's enrolments."
        ),
        "cohort": _("Of the enrolments made in the period, those completed by its end."),
        "rate": _(
            "Enrolments of the period completed by its end divided by the enrolments made in "
            "the period (the denominator), so it can never exceed 100 percent."
        ),
        "overdue": _(
            "Mandatory assignments whose due date had passed %(when)s and whose enrolment was "
            "neither completed nor withdrawn by then; one per assignment, counted for the firm "
            "(or the consortium) that made it.",
            when=when,
        ),
        "certificates": _("Certificates issued in the period, revoked ones included."),
        "hours": _("Training hours credited in the period."),
        "raised": _(
            "Different workers whose verified evidence in the period (a completed course, a "
            "sign-off or a rating) put them above every level they held before in a skill. "
            "Ratings and sign-offs count too, so they need not have enrolled in the period."
        ),
    }


def definition_lines(s: Slice) -> list[str]:
    """Each headline figure's name and definition as one line ("名称：定义"), for the PDF."""
    from lms.core.i18n import ui_locale

    colon = "：" if ui_locale() == "zh_CN" else ": "
    return [f"{HEADLINE_LABELS[k]}{colon}{text}" for k, text in definitions(s).items()]
