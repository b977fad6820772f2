"""Dashboard figures come from two halves that are added up in SQL:

- the summary tables (lms/reports/models.py): every event before the consortium's
  `summarised_until`, written by `refresh` (the "reports.refresh" job: hourly on the Celery beat
  schedule, or cron `flask reports refresh`), never by a page: GET requests write nothing;
- what came after, counted live from enrolments, certificates, training hours and skill
  evidence with the same GROUP BY — a short span, so a cheap query.

A refresh recomputes the month it left off in and the months after it, up to a few minutes
ago (transactions still open then have committed by the next refresh, which recomputes that
month again). How fresh the summaries are changes only the speed, never a figure. A filter
the summaries can't answer (a job role; for different workers also a course, sector or
skill, or more than two calendar years) makes the live half cover the whole period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import (
    Float,
    Integer,
    Select,
    case,
    cast,
    delete,
    distinct,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union,
    union_all,
)
from sqlalchemy.orm import aliased

from lms.certificates.models import Certificate
from lms.core.sql import insert_with_conflicts
from lms.core.types import utcnow
from lms.extensions import db
from lms.learning.models import Enrollment
from lms.reports.models import (
    ReportCourseMonth,
    ReportCube,
    ReportFirmMonth,
    ReportSkillMonth,
    ReportState,
    ReportWorker,
)
from lms.skills.models import SkillEvidence
from lms.tenancy.models import Membership
from lms.tenancy.scope import current_membership_conditions
from lms.transcripts.models import TrainingHours

# --- months ----------------------------------------------------------------------------------


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def month_of(moment: datetime | date) -> int:
    """The yyyymm month of a moment (in the local time zone) or of a date."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(local_zone())
    return moment.year * 100 + moment.month


def next_month(month: int) -> int:
    year, mon = divmod(month, 100)
    return (year + 1) * 100 + 1 if mon == 12 else month + 1


def prev_month(month: int) -> int:
    year, mon = divmod(month, 100)
    return (year - 1) * 100 + 12 if mon == 1 else month - 1


def months(first: int, last: int) -> list[int]:
    out = []
    while first <= last:
        out.append(first)
        first = next_month(first)
    return out


def month_start(month: int) -> datetime:
    """Local midnight of the month's first day, in UTC."""
    year, mon = divmod(month, 100)
    return datetime(year, mon, 1, tzinfo=local_zone()).astimezone(UTC)


def month_first_day(month: int) -> date:
    return date(month // 100, month % 100, 1)


def closed_through(now: datetime | None = None) -> int:
    """The last month that ended at least a day ago (late commits have landed by then)."""
    return prev_month(month_of((now or utcnow()) - timedelta(days=1)))


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def month_expr(column, *, is_date: bool = False):
    """SQL for the yyyymm month of a timestamp column (local time) or a date column."""
    if _dialect() == "postgresql":
        value = (
            column
            if is_date
            else func.timezone(current_app.config["BABEL_DEFAULT_TIMEZONE"], column)
        )
        return cast(func.to_char(value, "YYYYMM"), Integer)
    if is_date:
        return cast(func.strftime("%Y%m", column), Integer)
    offset = local_zone().utcoffset(datetime.now()) or timedelta()
    return cast(
        func.strftime("%Y%m", column, f"{int(offset.total_seconds() // 60):+d} minutes"), Integer
    )


COUNTS = ("enrolled", "completed", "certificates", "hours")
_TICK = timedelta(microseconds=1)


# --- what a query covers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Slice:
    """A consortium's data narrowed by the dashboard filters, over months first..last."""

    consortium_id: int
    first: int
    last: int
    firm_id: int | None = None
    course_ids: tuple[int, ...] | None = None  # from a course, sector or skill filter
    skill_id: str | None = None
    job_role_id: str | None = None
    until: datetime | None = None  # the summaries hold every event before this

    @property
    def cube_summarised(self) -> bool:
        return self.job_role_id is None

    @property
    def workers_summarised(self) -> bool:
        """Different workers come from ReportWorker rows of one two-year window."""
        return (
            self.job_role_id is None
            and self.course_ids is None
            and self.skill_id is None
            and self.last // 100 - self.first // 100 <= 1
        )

    def _cut(self, summarised: bool) -> datetime | None:
        return self.until if summarised else None

    def live_range(self, summarised: bool) -> tuple[datetime, datetime] | None:
        """The UTC time range counted live, or None when the summaries cover everything."""
        start = month_start(self.first)
        cut = self._cut(summarised)
        if cut is not None:
            start = max(start, cut)
        end = min(month_start(next_month(self.last)), utcnow() + timedelta(seconds=1))
        return (start, end) if start < end else None

    def stored_months(self, summarised: bool) -> tuple[int, int] | None:
        """The months whose summary rows count (the last one may hold only its first part)."""
        cut = self._cut(summarised)
        if cut is None:
            return None
        last = min(self.last, month_of(cut - timedelta(microseconds=1)))
        return (self.first, last) if self.first <= last else None


def _members_of_role(s: Slice):
    """Users holding the job role in a firm of the consortium (the job role filter); with a
    firm, in that firm (as the firm dashboard's team-progress table counts them)."""
    query = select(Membership.user_id).where(
        Membership.consortium_id == s.consortium_id,
        Membership.job_role_id == s.job_role_id,
        *current_membership_conditions(),
    )
    if s.firm_id is not None:
        query = query.where(Membership.firm_id == s.firm_id)
    return query


def enrollment_filters(s: Slice, model=Enrollment) -> list:
    conditions = [model.consortium_id == s.consortium_id]
    if s.firm_id is not None:
        conditions.append(model.firm_id == s.firm_id)
    if s.course_ids is not None:
        conditions.append(model.course_id.in_(s.course_ids))
    if s.job_role_id is not None:
        conditions.append(model.user_id.in_(_members_of_role(s)))
    return conditions


def _live_events(s: Slice, start: datetime, end: datetime, *, summarising=False) -> list[Select]:
    """(firm_id, course_id, month, enrolled, completed, certificates, hours) counted live:
    one SELECT per source table, to be put in a UNION ALL.

    Hours are credited on a date, not at a moment: a refresh (`summarising`, `end` being its
    cutoff) takes the days before the cutoff's, and the live half the cutoff's day on."""
    E, C, H = Enrollment, Certificate, TrainingHours
    zero, zero_f = literal(0), cast(literal(0), Float)

    # Usually the live range is this month alone: then the month needs no computing per row.
    single = month_of(start) == month_of(end - timedelta(microseconds=1))

    def part(model, moment, counts, *, is_date=False, lower=start, upper=end):
        month = literal(month_of(start)) if single else month_expr(moment, is_date=is_date)
        firm = func.coalesce(model.firm_id, 0)
        course = func.coalesce(model.course_id, 0)
        return (
            select(
                firm.label("firm_id"),
                course.label("course_id"),
                month.label("month"),
                *counts,
            )
            .where(*enrollment_filters(s, model), moment >= lower, moment < upper)
            .group_by(firm, course, *([] if single else [month]))
        )

    def counts(which, value=None):
        return [
            (value if name == which else zero_f if name == "hours" else zero).label(name)
            for name in COUNTS
        ]

    local = local_zone()
    return [
        part(E, E.enrolled_at, counts("enrolled", func.count())),
        part(E, E.completed_at, counts("completed", func.count())),
        part(C, C.issued_at, counts("certificates", func.count())),
        part(
            H,
            H.credited_on,
            counts("hours", cast(func.sum(H.hours), Float)),
            is_date=True,
            lower=start.astimezone(local).date(),
            upper=end.astimezone(local).date()
            if summarising
            else (end - _TICK).astimezone(local).date() + timedelta(days=1),
        ),
    ]


def _sums(source) -> list:
    return [func.coalesce(func.sum(source.c[n]), 0).label(n) for n in COUNTS]


def _stored(model, s: Slice, months_range, key) -> Select:
    """(key, month, counts) of a summary table, narrowed by the slice's firm and courses."""
    conditions = [model.consortium_id == s.consortium_id, model.month.between(*months_range)]
    if s.firm_id is not None and hasattr(model, "firm_id"):
        conditions.append(model.firm_id == s.firm_id)
    if s.course_ids is not None and hasattr(model, "course_id"):
        conditions.append(model.course_id.in_(s.course_ids))
    return select(
        getattr(model, key).label("key"), model.month, *(getattr(model, n) for n in COUNTS)
    ).where(*conditions)


def breakdowns(s: Slice) -> dict[str, dict]:
    """The event counts of the slice: {"total": counts, "firm": {id: counts}, "month": {...},
    "course": {...}}, in one statement.

    Firms and months come from ReportFirmMonth (ReportCube when courses are filtered), courses
    from ReportCourseMonth (ReportCube when a firm is), the open months from one live CTE.
    """
    stored = s.stored_months(s.cube_summarised)
    live_range = s.live_range(s.cube_summarised)
    live = (
        union_all(*_live_events(s, *live_range)).cte("live").prefix_with("MATERIALIZED")
        if live_range
        else None
    )
    streams = {}
    for name, key, summary in (
        ("f", "firm_id", ReportFirmMonth if s.course_ids is None else ReportCube),
        ("c", "course_id", ReportCourseMonth if s.firm_id is None else ReportCube),
    ):
        parts = [_stored(summary, s, stored, key)] if stored else []
        if live is not None:
            parts.append(
                select(live.c[key].label("key"), live.c.month, *(live.c[n] for n in COUNTS))
            )
        if not parts:  # an empty period
            parts.append(
                select(
                    literal(0).label("key"),
                    literal(0).label("month"),
                    *(literal(0).label(n) for n in COUNTS),
                ).where(false())
            )
        streams[name] = (parts[0] if len(parts) == 1 else union_all(*parts)).cte(name)
    f, c = streams["f"], streams["c"]
    rows = db.session.execute(
        union_all(
            select(literal("total").label("kind"), cast(null(), Integer).label("key"), *_sums(f)),
            select(literal("firm"), f.c.key, *_sums(f)).group_by(f.c.key),
            select(literal("month"), f.c.month, *_sums(f)).group_by(f.c.month),
            select(literal("course"), c.c.key, *_sums(c)).group_by(c.c.key),
        )
    ).all()
    out: dict[str, dict] = {"total": dict.fromkeys(COUNTS, 0)}
    out.update(firm={}, month={}, course={})
    for kind, key, *values in rows:
        counts = dict(zip(COUNTS, values, strict=True))
        if kind == "total":
            out["total"] = counts
        else:
            out[kind][key] = counts
    return out


def _window_mask(first: int, last: int) -> int:
    """The bits of months first..last in the ReportWorker rows of year `last // 100`."""
    year, mask = last // 100, 0
    for month in months(first, last):
        mask |= 1 << (month % 100 + (11 if month // 100 == year else -1))
    return mask


def _raised_live(s: Slice, start, end, *columns) -> Select:
    """`columns` over the verified evidence of [start, end) that raised a level, with the
    worker's current membership (M: its firm) in the consortium, narrowed by the slice."""
    SE, M = SkillEvidence, Membership
    query = (
        select(*columns)
        .select_from(SE)
        .join(M, M.user_id == SE.user_id)
        .where(
            SE.raises_level.is_(True),
            SE.recorded_at >= start,
            SE.recorded_at < end,
            M.consortium_id == s.consortium_id,
            M.firm_id.is_not(None),
            *current_membership_conditions(),
        )
    )
    if s.firm_id is not None:
        query = query.where(M.firm_id == s.firm_id)
    if s.skill_id is not None:
        # A skill filter counts rises in that skill, whatever taught it.
        query = query.where(SE.skill_id == s.skill_id)
    elif s.course_ids is not None:
        query = query.join(Enrollment, Enrollment.id == SE.enrollment_id).where(
            Enrollment.course_id.in_(s.course_ids)
        )
    if s.job_role_id is not None:
        query = query.where(SE.user_id.in_(_members_of_role(s)))
    return query


def _live_pairs(s: Slice, kind: str, start, end) -> Select:
    """(firm_id, user_id) of the workers enrolled ("enrolled"; firm 0 for none) or whose level
    rose ("raised"; each firm they belong to) in [start, end)."""
    if kind == "enrolled":
        E = Enrollment
        return select(
            func.coalesce(E.firm_id, 0).label("firm_id"), E.user_id.label("user_id")
        ).where(*enrollment_filters(s), E.enrolled_at >= start, E.enrolled_at < end)
    return _raised_live(
        s, start, end, Membership.firm_id.label("firm_id"), SkillEvidence.user_id.label("user_id")
    )


def _hit(kind: str, mask: int):
    column = ReportWorker.enrolled_months if kind == "enrolled" else ReportWorker.raised_months
    return column.op("&")(mask) != 0


def worker_counts(s: Slice) -> dict:
    """Different workers enrolled ("workers") and whose level rose ("raised") in the slice,
    and the workers enrolled per firm ("by_firm"), in one statement.

    From the summary: one scan of the window's ReportWorker rows (firm 0 holds each worker
    once, whatever their firms). Live: the workers of the short live span whom the summary
    doesn't count already."""
    W = ReportWorker
    out: dict = {"workers": 0, "raised": 0, "by_firm": {}}
    stored = s.stored_months(s.workers_summarised)
    year, mask = s.last // 100, _window_mask(*stored) if stored else 0
    total_firm = s.firm_id or 0
    parts = []
    if stored:
        conditions = [W.consortium_id == s.consortium_id, W.year == year]
        if s.firm_id is not None:
            conditions.append(W.firm_id == s.firm_id)
        parts.append(
            select(
                literal("stored"),
                W.firm_id,
                func.sum(case((_hit("enrolled", mask), 1), else_=0)),
                func.sum(case((_hit("raised", mask), 1), else_=0)),
            )
            .where(*conditions)
            .group_by(W.firm_id)
        )
    live = s.live_range(s.workers_summarised)

    def uncounted(kind: str, *, per_firm: bool) -> Select:
        pairs = _live_pairs(s, kind, *live).subquery()
        people = func.count(distinct(pairs.c.user_id))
        query = (
            select(literal("by_firm"), pairs.c.firm_id, people, literal(0))
            .where(pairs.c.firm_id != 0)
            .group_by(pairs.c.firm_id)
            if per_firm
            else select(
                literal("workers" if kind == "enrolled" else "raised"),
                literal(total_firm),
                people,
                literal(0),
            )
        )
        if stored:
            query = query.where(
                ~select(W.id)
                .where(
                    W.consortium_id == s.consortium_id,
                    W.year == year,
                    W.firm_id == (pairs.c.firm_id if per_firm else total_firm),
                    W.user_id == pairs.c.user_id,
                    _hit(kind, mask),
                )
                .exists()
            )
        return query

    if live is not None:
        parts += [
            uncounted("enrolled", per_firm=False),
            uncounted("raised", per_firm=False),
            uncounted("enrolled", per_firm=True),
        ]
    if not parts:
        return out
    for kind, firm_id, enrolled, raised in db.session.execute(union_all(*parts)):
        enrolled, raised = int(enrolled or 0), int(raised or 0)
        if kind == "stored":
            if firm_id == total_firm:
                out["workers"] += enrolled
                out["raised"] += raised
            if firm_id:
                out["by_firm"][firm_id] = out["by_firm"].get(firm_id, 0) + enrolled
        elif kind == "by_firm":
            out["by_firm"][firm_id] = out["by_firm"].get(firm_id, 0) + enrolled
        else:
            out[kind] += enrolled
    return out


def worker_pairs(s: Slice, kind: str):
    """Distinct (firm_id, user_id) of the workers enrolled in the slice ("enrolled") or whose
    verified skill level rose in it ("raised"), as a subquery: the people behind the counts."""
    W, other = ReportWorker, aliased(ReportWorker)
    parts = []
    stored = s.stored_months(s.workers_summarised)
    if stored:
        year, mask = s.last // 100, _window_mask(*stored)
        conditions = [W.consortium_id == s.consortium_id, W.year == year, _hit(kind, mask)]
        if s.firm_id is not None:
            conditions.append(W.firm_id == s.firm_id)
        # Firm 0 rows only for workers who count in no firm (they have no firm row).
        in_a_firm = (
            select(other.id)
            .where(
                other.consortium_id == W.consortium_id,
                other.year == W.year,
                other.user_id == W.user_id,
                other.firm_id != 0,
            )
            .exists()
        )
        parts.append(
            select(W.firm_id.label("firm_id"), W.user_id.label("user_id")).where(
                *conditions, or_(W.firm_id != 0, ~in_a_firm)
            )
        )
    live = s.live_range(s.workers_summarised)
    if live:
        parts.append(_live_pairs(s, kind, *live))
    if not parts:
        parts.append(
            select(literal(0).label("firm_id"), literal(0).label("user_id")).where(false())
        )
    return (union(*parts) if len(parts) > 1 else parts[0].distinct()).subquery("pairs")


def skill_raises(s: Slice) -> dict[str, int]:
    """Skill id → different workers of the slice whose verified level in it rose in the
    period (a person once per skill, whatever their firms or how often it rose): the same
    people as the "raised" drill-down narrowed to the skill. Counted live over the
    evidence's partial index (ix_skill_evidence_raised): people can't be summed over months."""
    SE = SkillEvidence
    start = month_start(s.first)
    end = min(month_start(next_month(s.last)), utcnow() + timedelta(seconds=1))
    if start >= end:
        return {}
    query = _raised_live(
        s, start, end, SE.skill_id.label("skill_id"), func.count(distinct(SE.user_id))
    ).group_by(SE.skill_id)
    return {skill_id: int(n) for skill_id, n in db.session.execute(query)}


# --- refreshing the summaries -------------------------------------------------------------------


def _earliest_month(consortium_id: int) -> int | None:
    found = [
        db.session.scalar(
            select(func.min(Enrollment.enrolled_at)).where(
                Enrollment.consortium_id == consortium_id
            )
        ),
        db.session.scalar(
            select(func.min(TrainingHours.credited_on)).where(
                TrainingHours.consortium_id == consortium_id
            )
        ),
        db.session.scalar(
            select(func.min(SkillEvidence.recorded_at)).where(SkillEvidence.raises_level.is_(True))
        ),
    ]
    found = [month_of(f) for f in found if f is not None]
    return min(found) if found else None


# Events of the last minutes may belong to transactions still open: they are left to the live
# half (and the next refresh) rather than summarised half-seen.
REFRESH_MARGIN = timedelta(minutes=5)


def refresh(consortium_id: int, *, now: datetime | None = None, rebuild: bool = False) -> int:
    """Summarise what happened since the last refresh, up to a few minutes ago: the month the
    last one left off in, and those after it, are recomputed (all months with `rebuild`).

    Safe to run at any time and from several processes: the consortium's state row is locked
    while its months are written. Returns the number of months written. Doesn't commit.
    """
    cutoff = (now or utcnow()) - REFRESH_MARGIN
    db.session.execute(
        insert_with_conflicts(ReportState)
        .values(consortium_id=consortium_id, summarised_until=None, refreshed_at=utcnow())
        .on_conflict_do_nothing(index_elements=["consortium_id"])
    )
    state = db.session.scalars(
        select(ReportState).where(ReportState.consortium_id == consortium_id).with_for_update()
    ).one()
    db.session.refresh(state)
    if rebuild:
        for model in (*MONTHLY_SUMMARIES, ReportWorker):
            db.session.execute(delete(model).where(model.consortium_id == consortium_id))
        state.summarised_until = None
    until = state.summarised_until
    if until is not None and until >= cutoff:
        return 0
    first = month_of(until - _TICK) if until is not None else _earliest_month(consortium_id)
    state.summarised_until, state.refreshed_at = cutoff, utcnow()
    if first is None:
        return 0
    last = month_of(cutoff - _TICK)
    s = Slice(consortium_id, first, last)
    start = month_start(first)
    for model in MONTHLY_SUMMARIES:
        db.session.execute(
            delete(model).where(
                model.consortium_id == consortium_id, model.month.between(first, last)
            )
        )
    live = union_all(*_live_events(s, start, cutoff, summarising=True)).subquery()
    _summarise(ReportCube, live, ("firm_id", "course_id", "month"), consortium_id)
    cube = (
        select(ReportCube)
        .where(ReportCube.consortium_id == consortium_id, ReportCube.month.between(first, last))
        .subquery()
    )
    _summarise(ReportFirmMonth, cube, ("firm_id", "month"), consortium_id)
    _summarise(ReportCourseMonth, cube, ("course_id", "month"), consortium_id)
    SE, M = SkillEvidence, Membership
    skill_month = month_expr(SE.recorded_at)
    rises = _raised_live(s, start, cutoff, M.firm_id, SE.skill_id, skill_month, func.count())
    db.session.execute(
        ReportSkillMonth.__table__.insert().from_select(
            ["firm_id", "skill_id", "month", "raises", "consortium_id"],
            rises.group_by(M.firm_id, SE.skill_id, skill_month).add_columns(literal(consortium_id)),
        )
    )
    E = Enrollment
    enrolled = select(
        func.coalesce(E.firm_id, 0).label("firm_id"),
        E.user_id.label("user_id"),
        month_expr(E.enrolled_at).label("month"),
    ).where(E.consortium_id == consortium_id, E.enrolled_at >= start, E.enrolled_at < cutoff)
    raised = _raised_live(
        s,
        start,
        cutoff,
        M.firm_id.label("firm_id"),
        SE.user_id.label("user_id"),
        skill_month.label("month"),
    )
    for query, column in ((enrolled, "enrolled_months"), (raised, "raised_months")):
        _mark_months(consortium_id, query, column)
    if _dialect() == "postgresql":
        # Fresh statistics, so the planner knows how big the summaries now are.
        for model in (*MONTHLY_SUMMARIES, ReportWorker):
            db.session.execute(text(f"ANALYZE {model.__tablename__}"))
    return len(months(first, last))


def _mark_months(consortium_id: int, query: Select, column: str) -> None:
    """Set the bits of `query`'s (firm_id, user_id, month) in ReportWorker rows: in the firm's
    row and the firm-0 (any firm) row, of the month's year and of the next (the window)."""
    pairs = query.subquery()
    rows = union(
        select(pairs.c.firm_id, pairs.c.user_id, pairs.c.month),
        select(literal(0), pairs.c.user_id, pairs.c.month),
    ).subquery()
    other = "raised_months" if column == "enrolled_months" else "enrolled_months"
    for shift, offset in ((0, 11), (1, -1)):  # bit 11+m in its year's row, m−1 in the next's
        year = cast(rows.c.month / 100 + shift, Integer)
        # Months are distinct within a group, so the sum of their bits is their OR.
        bits = func.sum(literal(1).op("<<")(rows.c.month % 100 + offset))
        statement = insert_with_conflicts(ReportWorker).from_select(
            ["consortium_id", "year", "firm_id", "user_id", column, other],
            select(literal(consortium_id), year, rows.c.firm_id, rows.c.user_id, bits, literal(0))
            .where(true())  # SQLite: INSERT … SELECT … ON CONFLICT needs a WHERE to parse
            .group_by(year, rows.c.firm_id, rows.c.user_id),
        )
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=["consortium_id", "year", "firm_id", "user_id"],
                set_={column: getattr(ReportWorker, column).op("|")(statement.excluded[column])},
            )
        )


MONTHLY_SUMMARIES = (ReportCube, ReportFirmMonth, ReportCourseMonth, ReportSkillMonth)


def _summarise(model, source, keys: tuple[str, ...], consortium_id: int) -> None:
    """INSERT INTO model SELECT keys, SUM(counts) FROM source GROUP BY keys."""
    groups = [source.c[k] for k in keys]
    db.session.execute(
        model.__table__.insert().from_select(
            ["consortium_id", *keys, *COUNTS],
            select(
                literal(consortium_id), *groups, *(func.sum(source.c[n]) for n in COUNTS)
            ).group_by(*groups),
        )
    )


def summarised_until(consortium_id: int) -> datetime | None:
    return db.session.scalar(
        select(ReportState.summarised_until).where(ReportState.consortium_id == consortium_id)
    )


def refresh_all(*, rebuild: bool = False) -> dict[int, int]:
    """Refresh every consortium (the "reports.refresh" job and `flask reports refresh`)."""
    from lms.tenancy.models import Consortium

    done = {}
    for consortium_id in db.session.scalars(select(Consortium.id).order_by(Consortium.id)).all():
        done[consortium_id] = refresh(consortium_id, rebuild=rebuild)
        db.session.commit()
    if _dialect() == "postgresql":
        # Outside a transaction: VACUUM marks the pages all-visible, which lets the worker
        # counts read ix_report_workers_counts alone.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) report_workers")
    return done


def refresh_job(job, report) -> dict:
    done = refresh_all(rebuild=bool(job.params.get("rebuild")))
    report(len(done), len(done))
    return {"consortia": len(done), "months": sum(done.values())}
