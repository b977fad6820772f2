"""Trainer analytics of one course: enrolments, the lesson funnel, time, quiz items, sign-offs.

Every count is an SQL aggregate over the course's enrolments (GROUP BY in the database). Quiz
item statistics are the one exception: answers live in JSON, which SQLite and PostgreSQL can't
aggregate alike, so the submitted first attempts of one quiz are streamed in batches and summed
up as they pass. The course is already scoped by the caller; nothing here loads a person's
contact data, and the only list of people (pending sign-offs) carries name and firm.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from sqlalchemy import (
    Select,
    and_,
    case,
    distinct,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import contains_eager, joinedload

from lms.auth.models import User
from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.models import Course, CourseVersion, Lesson, Question
from lms.courses.question_types import QUESTION_TYPES
from lms.courses.service import latest_version, published_version
from lms.extensions import db
from lms.jobs.exports import ExportTable
from lms.learning.models import Enrollment, LessonProgress, PracticalSignoff, QuizAttempt
from lms.tenancy.models import Firm

# Item flags (classical test theory rules of thumb).
HARD_BELOW = 0.3
EASY_ABOVE = 0.95
WEAK_BELOW = 0.2
STREAM_BATCH = 500  # quiz attempts fetched per round trip
# Lesson types whose progress remembers a position played (video): the video time figure.
_POSITION_TYPES = [name for name, kind in LESSON_TYPES.items() if kind.tracks_position]

FLAG_LABELS = {
    "hard": _l("Hard: under %(share)s correct", share="30%"),
    "easy": _l("Easy: over %(share)s correct", share="95%"),
    "weak": _l("Weak discrimination: under %(value)s", value="0.2"),
}


@dataclass(frozen=True)
class CourseFilters:
    """What the page narrows the course's enrolments to."""

    version: CourseVersion | None = None  # None: every version
    enrolled_from: date | None = None  # local dates, both inclusive
    enrolled_to: date | None = None
    firm: Firm | None = None


def course_title(course: Course) -> str:
    """The title learners see: the published version's, else the newest version's."""
    shown = published_version(course) or latest_version(course)
    return shown.title if shown else course.slug


def report_versions(course: Course) -> list[CourseVersion]:
    """Versions learners can be enrolled in (published or archived), newest first."""
    return [v for v in reversed(course.versions) if v.status in ("published", "archived")]


def funnel_version(course: Course, filters: CourseFilters) -> CourseVersion | None:
    """Whose lesson list the funnel follows: the chosen version, else the published one (else
    the newest that was published)."""
    if filters.version is not None:
        return filters.version
    versions = report_versions(course)
    return published_version(course) or (versions[0] if versions else None)


def _local_midnight(day: date) -> datetime:
    """Start of `day` in the site's time zone (the period filter's dates are local dates)."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.combine(day, time.min, tzinfo=zone)


def enrollment_conditions(course: Course, filters: CourseFilters) -> list:
    """SQL conditions selecting the course's enrolments that match the filters."""
    conditions = [
        Enrollment.course_id == course.id,
        Enrollment.consortium_id == course.consortium_id,
    ]
    if filters.version is not None:
        conditions.append(Enrollment.version_id == filters.version.id)
    if filters.enrolled_from is not None:
        conditions.append(Enrollment.enrolled_at >= _local_midnight(filters.enrolled_from))
    if filters.enrolled_to is not None:
        end = _local_midnight(filters.enrolled_to + timedelta(days=1))
        conditions.append(Enrollment.enrolled_at < end)
    if filters.firm is not None:
        conditions.append(Enrollment.firm_id == filters.firm.id)
    return conditions


def _enrolled_ids(course: Course, filters: CourseFilters) -> Select:
    return select(Enrollment.id).where(*enrollment_conditions(course, filters))


# --- enrolments and time ---------------------------------------------------------------------


@dataclass
class Summary:
    total: int = 0
    withdrawn: int = 0
    started: int = 0
    completed: int = 0
    overdue: int = 0
    pending_signoffs: int = 0
    # Time to complete (completed_at − started_at) over completed enrolments, in seconds.
    average_seconds: float | None = None
    median_seconds: float | None = None
    # Per enrolment that started: planned minutes of the lessons it completed, and the furthest
    # video positions reached (seconds) summed over video lessons.
    planned_minutes: float | None = None
    video_seconds: float | None = None

    @property
    def active(self) -> int:
        return self.total - self.withdrawn

    @property
    def completion_rate(self) -> float | None:
        """Completed ÷ active (not withdrawn) enrolments."""
        return self.completed / self.active if self.active else None


def _seconds_between(start, end):
    """SQL: seconds from `start` to `end` (two timestamp columns)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def enrollment_summary(course: Course, filters: CourseFilters) -> Summary:
    """Counts by state, time to complete and study time, in a handful of aggregate queries."""
    conditions = enrollment_conditions(course, filters)
    overdue = and_(
        Enrollment.withdrawn_at.is_(None),
        Enrollment.status != "completed",
        Enrollment.due_on < date.today(),  # as Enrollment.is_overdue and the firm's list
    )
    total, withdrawn, started, completed, late = db.session.execute(
        select(
            func.count(Enrollment.id),
            func.count(Enrollment.withdrawn_at),
            func.count(Enrollment.started_at),
            func.count(Enrollment.completed_at),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
        ).where(*conditions)
    ).one()
    summary = Summary(total, withdrawn, started, completed, int(late))
    if not total:
        return summary
    duration = _seconds_between(Enrollment.started_at, Enrollment.completed_at)
    done = [*conditions, Enrollment.completed_at.is_not(None), Enrollment.started_at.is_not(None)]
    average = db.session.scalar(select(func.avg(duration)).where(*done))
    summary.average_seconds = None if average is None else float(average)  # Decimal on PG
    summary.median_seconds = _median(duration, done)
    if started:
        # The lessons of each enrolment's own version: minutes and types as its learner saw them.
        planned, video = db.session.execute(
            select(
                func.coalesce(
                    func.sum(case((LessonProgress.completed_at.is_not(None), Lesson.minutes))), 0
                ),
                func.coalesce(
                    func.sum(
                        case((Lesson.type.in_(_POSITION_TYPES), LessonProgress.position_seconds))
                    ),
                    0,
                ),
            )
            .join(Enrollment, Enrollment.id == LessonProgress.enrollment_id)
            .join(
                Lesson,
                and_(
                    Lesson.version_id == Enrollment.version_id,
                    Lesson.key == LessonProgress.lesson_key,
                ),
            )
            .where(*conditions)
        ).one()
        summary.planned_minutes = float(planned) / started
        summary.video_seconds = float(video) / started
    version = funnel_version(course, filters)
    if version is not None:
        summary.pending_signoffs = sum(
            db.session.scalar(
                select(func.count(Enrollment.id)).where(
                    *conditions, Enrollment.withdrawn_at.is_(None), _pending(lesson, version)
                )
            )
            for lesson in version.lessons
            if LESSON_TYPES[lesson.type].needs_signoff
        )
    return summary


def _median(expression, conditions: list) -> float | None:
    """The median of an SQL expression: the middle one or two values by ORDER BY … OFFSET
    (portable; PostgreSQL's percentile_cont has no SQLite twin)."""
    count = db.session.scalar(select(func.count()).where(*conditions).select_from(Enrollment))
    if not count:
        return None
    values = db.session.scalars(
        select(expression)
        .where(*conditions)
        .order_by(expression)
        .offset((count - 1) // 2)
        .limit(2 - count % 2)
    ).all()
    return sum(float(v) for v in values) / len(values)


# --- the lesson funnel -----------------------------------------------------------------------


@dataclass
class FunnelStep:
    lesson: Lesson
    reached: int
    completed: int
    lost: int  # completed the step before (enrolled, for the first) but not this one
    is_biggest_drop: bool = False


@dataclass
class Funnel:
    version: CourseVersion | None
    enrolled: int
    steps: list[FunnelStep] = field(default_factory=list)

    @property
    def biggest_drop(self) -> FunnelStep | None:
        return next((s for s in self.steps if s.is_biggest_drop), None)

    def share(self, count: int) -> float | None:
        return count / self.enrolled if self.enrolled else None


def lesson_funnel(course: Course, filters: CourseFilters) -> Funnel:
    """Per lesson of the funnel version, in course order: enrolments that reached it (any
    progress, or a quiz attempt) and that completed it; the biggest loss is flagged."""
    version = funnel_version(course, filters)
    enrolled = db.session.scalar(
        select(func.count(Enrollment.id)).where(*enrollment_conditions(course, filters))
    )
    funnel = Funnel(version, enrolled)
    if version is None or not version.lessons:
        return funnel
    ids = _enrolled_ids(course, filters)
    keys = [lesson.key for lesson in version.lessons]
    quiz_keys = [x.key for x in version.lessons if LESSON_TYPES[x.type].has_questions]
    # Progress is keyed by lesson key, so it counts across versions; a quiz lesson's page
    # saves no progress by itself, so an attempt counts as having reached it.
    touches = [
        select(
            LessonProgress.enrollment_id.label("enrollment_id"),
            LessonProgress.lesson_key.label("lesson_key"),
            case((LessonProgress.completed_at.is_not(None), 1), else_=0).label("done"),
        ).where(LessonProgress.enrollment_id.in_(ids), LessonProgress.lesson_key.in_(keys))
    ]
    if quiz_keys:
        touches.append(
            select(QuizAttempt.enrollment_id, QuizAttempt.lesson_key, literal(0)).where(
                QuizAttempt.enrollment_id.in_(ids), QuizAttempt.lesson_key.in_(quiz_keys)
            )
        )
    touched = union_all(*touches).subquery()
    counts = {
        key: (reached, completed)
        for key, reached, completed in db.session.execute(
            select(
                touched.c.lesson_key,
                func.count(distinct(touched.c.enrollment_id)),
                func.count(distinct(case((touched.c.done == 1, touched.c.enrollment_id)))),
            ).group_by(touched.c.lesson_key)
        )
    }
    before = enrolled
    for lesson in version.lessons:
        reached, completed = counts.get(lesson.key, (0, 0))
        funnel.steps.append(FunnelStep(lesson, reached, completed, max(0, before - completed)))
        before = completed
    worst = max(funnel.steps, key=lambda s: s.lost)
    if worst.lost > 0:
        worst.is_biggest_drop = True  # the first lesson with the largest loss
    return funnel


# --- quiz items --------------------------------------------------------------------------------


@dataclass
class _Sums:
    """Running sums for one item: n, Σx, Σr, Σr², Σxr (x item score 0/1, r rest score)."""

    n: int = 0
    x: int = 0
    r: float = 0
    rr: float = 0
    xr: float = 0

    def add(self, score: int, rest: int) -> None:
        self.n += 1
        self.x += score
        self.r += rest
        self.rr += rest * rest
        self.xr += score * rest

    def correlation(self) -> float | None:
        """Pearson correlation of x and r (point-biserial, as x is 0/1); None if either is
        constant."""
        spread = (self.n * self.x - self.x * self.x) * (self.n * self.rr - self.r * self.r)
        if self.n < 2 or spread <= 0:
            return None
        return (self.n * self.xr - self.x * self.r) / math.sqrt(spread)


@dataclass
class ItemStat:
    question: Question
    number: int  # 1-based position in the quiz
    answered: int
    correct: int
    discrimination: float | None

    @property
    def share_correct(self) -> float | None:
        return self.correct / self.answered if self.answered else None

    @property
    def flags(self) -> list[str]:
        return item_flags(self.share_correct, self.discrimination)


def item_flags(share_correct: float | None, discrimination: float | None) -> list[str]:
    """Keys of FLAG_LABELS that apply to an item."""
    flags = []
    if share_correct is not None and share_correct < HARD_BELOW:
        flags.append("hard")
    if share_correct is not None and share_correct > EASY_ABOVE:
        flags.append("easy")
    if discrimination is not None and discrimination < WEAK_BELOW:
        flags.append("weak")
    return flags


@dataclass
class QuizStats:
    lesson: Lesson
    attempts: int  # every submitted attempt at this quiz
    learners: int  # first attempts analysed
    items: list[ItemStat]


def quiz_item_stats(course: Course, filters: CourseFilters) -> list[QuizStats]:
    """Per quiz lesson of the funnel version: share correct and discrimination per question."""
    version = funnel_version(course, filters)
    if version is None:
        return []
    ids = _enrolled_ids(course, filters)
    return [
        _quiz_stats(lesson, ids)
        for lesson in version.lessons
        if LESSON_TYPES[lesson.type].has_questions
    ]


def _quiz_stats(lesson: Lesson, ids: Select) -> QuizStats:
    """Item statistics of one quiz over each enrolment's first submitted attempt at it.

    Only attempts at this lesson count (questions are copied per version, so another version's
    attempts answer other question rows). Discrimination is the corrected item–total
    correlation: item score against the score on the quiz's other questions.
    """
    submitted = [
        QuizAttempt.lesson_id == lesson.id,
        QuizAttempt.submitted_at.is_not(None),
        QuizAttempt.enrollment_id.in_(ids),
    ]
    attempts = db.session.scalar(select(func.count(QuizAttempt.id)).where(*submitted))
    first = (
        select(QuizAttempt.enrollment_id, func.min(QuizAttempt.number).label("number"))
        .where(*submitted)
        .group_by(QuizAttempt.enrollment_id)
        .subquery()
    )
    questions = {q.id: q for q in lesson.questions}
    sums = {qid: _Sums() for qid in questions}
    learners = 0
    rows = db.session.execute(
        select(QuizAttempt.results)
        .join(
            first,
            and_(
                QuizAttempt.enrollment_id == first.c.enrollment_id,
                QuizAttempt.number == first.c.number,
            ),
        )
        .where(QuizAttempt.lesson_id == lesson.id)
        .execution_options(yield_per=STREAM_BATCH)
    )
    for (results,) in rows:
        learners += 1
        scores = {}
        for key, result in (results or {}).items():
            qid = int(key) if str(key).isdigit() else None
            if qid in sums:
                scores[qid] = 1 if isinstance(result, dict) and result.get("correct") else 0
        total = sum(scores.values())
        for qid, score in scores.items():
            sums[qid].add(score, total - score)
    items = [
        ItemStat(q, n, sums[q.id].n, sums[q.id].x, sums[q.id].correlation())
        for n, q in enumerate(lesson.questions, 1)
    ]
    return QuizStats(lesson, attempts, learners, items)


def answer_text(question: Question) -> str:
    """The correct answer as one line of text, as its question type writes it."""
    return QUESTION_TYPES[question.type].answer_text(question)


# --- practical sign-offs -----------------------------------------------------------------------


def _pending(practical: Lesson, version: CourseVersion):
    """SQL condition on Enrollment: it reached `practical` (opened it, or completed every
    non-practical lesson before it; with none before, started the course) and nobody has
    signed it off yet."""
    before = [
        x.key
        for x in version.lessons
        if x.position < practical.position and not LESSON_TYPES[x.type].needs_signoff
    ]
    opened = exists().where(
        LessonProgress.enrollment_id == Enrollment.id, LessonProgress.lesson_key == practical.key
    )
    if before:
        done_before = (
            select(func.count(LessonProgress.id))
            .where(
                LessonProgress.enrollment_id == Enrollment.id,
                LessonProgress.lesson_key.in_(before),
                LessonProgress.completed_at.is_not(None),
            )
            .scalar_subquery()
        ) == len(before)
    else:
        done_before = Enrollment.started_at.is_not(None)
    signed = exists().where(
        PracticalSignoff.enrollment_id == Enrollment.id,
        PracticalSignoff.lesson_key == practical.key,
    )
    return and_(or_(opened, done_before), ~signed)


def _practicals(version: CourseVersion | None) -> list[Lesson]:
    if version is None:
        return []
    return [x for x in version.lessons if LESSON_TYPES[x.type].needs_signoff]


def pending_signoffs(course: Course, filters: CourseFilters) -> Select:
    """Active enrolments waiting for at least one practical sign-off (a query, for paging)."""
    version = funnel_version(course, filters)
    practicals = _practicals(version)
    query = select(Enrollment).join(User, User.id == Enrollment.user_id)
    if not practicals:
        return query.where(false())
    return (
        query.where(
            *enrollment_conditions(course, filters),
            Enrollment.withdrawn_at.is_(None),
            or_(*(_pending(x, version) for x in practicals)),
        )
        .options(contains_eager(Enrollment.user), joinedload(Enrollment.firm))
        .order_by(User.name, Enrollment.id)
    )


def pending_tasks(
    course: Course, filters: CourseFilters, enrollments: list[Enrollment]
) -> dict[int, list[Lesson]]:
    """The practical tasks each of these enrolments (one page) waits for."""
    version = funnel_version(course, filters)
    tasks: dict[int, list[Lesson]] = {e.id: [] for e in enrollments}
    if not enrollments:
        return tasks
    for practical in _practicals(version):
        for enrollment_id in db.session.scalars(
            select(Enrollment.id).where(
                Enrollment.id.in_(list(tasks)), _pending(practical, version)
            )
        ):
            tasks[enrollment_id].append(practical)
    return tasks


def pending_signoff_rows(course: Course, filters: CourseFilters) -> Iterator[tuple]:
    """(name, firm, module, task) per pending sign-off, task by task, by name."""
    version = funnel_version(course, filters)
    for practical in _practicals(version):
        yield from db.session.execute(
            select(User.name, Firm.name, literal(practical.module.title), literal(practical.title))
            .select_from(Enrollment)
            .join(User, User.id == Enrollment.user_id)
            .outerjoin(Firm, Firm.id == Enrollment.firm_id)
            .where(
                *enrollment_conditions(course, filters),
                Enrollment.withdrawn_at.is_(None),
                _pending(practical, version),
            )
            .order_by(User.name, Enrollment.id)
        )


# --- export tables (a registry keyed by the page's `table` argument) ---------------------------


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 1)


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def summary_table(course: Course, filters: CourseFilters) -> ExportTable:
    s = enrollment_summary(course, filters)
    version = filters.version
    rows = [
        (_l("Course"), course_title(course)),
        (_l("Version"), version.version if version else str(_l("All versions"))),
        (_l("Enrolled from"), filters.enrolled_from),
        (_l("Enrolled to"), filters.enrolled_to),
        (_l("Firm"), filters.firm.name if filters.firm else str(_l("All firms"))),
        (_l("Enrolments"), s.total),
        (_l("Active (not withdrawn)"), s.active),
        (_l("Started"), s.started),
        (_l("Completed"), s.completed),
        (_l("Completion rate (completed ÷ active)"), _round(s.completion_rate)),
        (_l("Withdrawn"), s.withdrawn),
        (_l("Overdue"), s.overdue),
        (_l("Practical sign-offs pending"), s.pending_signoffs),
        (_l("Average time to complete (hours)"), _hours(s.average_seconds)),
        (_l("Median time to complete (hours)"), _hours(s.median_seconds)),
        (
            _l("Estimated study time per learner who started (minutes)"),
            _round(s.planned_minutes, 1),
        ),
        (_l("Video watched per learner who started (minutes)"), _minutes(s.video_seconds)),
    ]
    return ExportTable(
        filename=f"{course.slug}-summary",
        header=[_l("Figure"), _l("Value")],
        rows=[(str(label), value) for label, value in rows],
        title=str(_l("Enrolments and time")),
    )


def funnel_table(course: Course, filters: CourseFilters) -> ExportTable:
    funnel = lesson_funnel(course, filters)
    return ExportTable(
        filename=f"{course.slug}-funnel",
        header=[
            _l("No."),
            _l("Lesson"),
            _l("Type"),
            _l("Reached"),
            _l("Reached (share of enrolments)"),
            _l("Completed"),
            _l("Completed (share of enrolments)"),
            _l("Stopped here"),
            _l("Biggest drop"),
        ],
        rows=[
            (
                n,
                s.lesson.title,
                str(LESSON_TYPES[s.lesson.type].label),
                s.reached,
                _round(funnel.share(s.reached)),
                s.completed,
                _round(funnel.share(s.completed)),
                s.lost,
                str(_l("Yes")) if s.is_biggest_drop else "",
            )
            for n, s in enumerate(funnel.steps, 1)
        ],
        title=str(_l("Funnel")),
    )


def items_table(course: Course, filters: CourseFilters) -> ExportTable:
    rows = []
    for quiz in quiz_item_stats(course, filters):
        for item in quiz.items:
            rows.append(
                (
                    quiz.lesson.title,
                    item.number,
                    item.question.prompt,
                    str(QUESTION_TYPES[item.question.type].label),
                    answer_text(item.question),
                    item.answered,
                    _round(item.share_correct),
                    _round(item.discrimination),
                    "; ".join(str(FLAG_LABELS[f]) for f in item.flags),
                )
            )
    return ExportTable(
        filename=f"{course.slug}-quiz-items",
        header=[
            _l("Quiz"),
            _l("No."),
            _l("Question"),
            _l("Type"),
            _l("Correct answer"),
            _l("Learners who answered"),
            _l("Share correct"),
            _l("Discrimination"),
            _l("Flags"),
        ],
        rows=rows,
        title=str(_l("Quiz items")),
    )


def signoffs_table(course: Course, filters: CourseFilters) -> ExportTable:
    return ExportTable(
        filename=f"{course.slug}-pending-signoffs",
        header=[_lp("person", "Name"), _l("Firm"), _l("Module"), _l("Practical task")],
        rows=pending_signoff_rows(course, filters),
        title=str(_l("Pending sign-offs")),
    )


EXPORT_TABLES: dict[str, Callable[..., ExportTable]] = {
    "summary": summary_table,
    "funnel": funnel_table,
    "items": items_table,
    "signoffs": signoffs_table,
}


def export_table(name: str, course: Course, filters: CourseFilters) -> ExportTable:
    """The named table of the page with its filters; KeyError for an unknown name."""
    return EXPORT_TABLES[name](course, filters)
