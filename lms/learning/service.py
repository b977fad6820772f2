"""Learning: enrol, follow lessons, take quizzes, get signed off, complete — exactly once."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby

from blinker import Namespace
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, case, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from lms.audit.models import AuditRecord
from lms.audit.service import record_action
from lms.auth.models import User
from lms.core.types import local_date, local_today, utcnow
from lms.courses.assessors import assessors_of
from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.models import Course, CourseVersion, Lesson, Module, Question
from lms.courses.question_types import QUESTION_TYPES
from lms.courses.quiz_settings import quiz_draw, quiz_review
from lms.extensions import db
from lms.learning.models import (
    Assignment,
    Enrollment,
    LessonProgress,
    PracticalSignoff,
    QuizAttempt,
)
from lms.tenancy.models import Firm

signals = Namespace()
# Sent once per enrolment when a course is completed: sender=Enrollment. Skills and
# certificates subscribe to it.
course_completed = signals.signal("course-completed")
practical_signed_off = signals.signal("practical-signed-off")
# Sent when an admin assigns a course (sender=Enrollment; actor, again=True when a withdrawn
# enrolment is assigned afresh), and when an assignment is about to move the due date (before it
# is set: sender=Enrollment; actor, due_on). Notifications subscribe to both.
enrollment_assigned = signals.signal("enrollment-assigned")
due_date_changing = signals.signal("due-date-changing")
# Sent by enroll() whenever a worker becomes enrolled (a new enrolment, or a withdrawn one
# active again), however it came about (self, assignment, a learning path): sender=Enrollment.
# Skills subscribes (the worker's stored recommendations are stale).
enrolled = signals.signal("enrolled")
# Sent when a learner asks for a practical task to be signed off, at most once per learner,
# task and day (sender=Enrollment; lesson, learner, assessor_ids: who may sign it off, day: the
# local date, ISO). Notifications subscribe (the assessors are told).
signoff_requested = signals.signal("signoff-requested")


class LearningError(ValueError):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def active_enrollment(user: User, course: Course) -> Enrollment | None:
    return db.session.scalars(
        select(Enrollment).where(
            Enrollment.user_id == user.id,
            Enrollment.course_id == course.id,
            Enrollment.withdrawn_at.is_(None),
        )
    ).first()


def missing_prerequisites(user: User, version: CourseVersion) -> list[Course]:
    """Prerequisite courses of `version` the user has not completed."""
    if not version.prerequisites:
        return []
    courses = db.session.scalars(
        select(Course).where(
            Course.consortium_id == version.course.consortium_id,
            Course.slug.in_(version.prerequisites),
        )
    ).all()
    done = set(
        db.session.scalars(
            select(Enrollment.course_id).where(
                Enrollment.user_id == user.id,
                Enrollment.status == "completed",
                Enrollment.course_id.in_([c.id for c in courses]),
            )
        )
    )
    return [c for c in courses if c.id not in done]


def prerequisite_courses(user: User, version: CourseVersion) -> tuple[dict[str, Course], set[int]]:
    """The prerequisite courses of `version` by slug, their versions loaded, and the ids of
    those the user has not completed (what the course page shows), in one query."""
    if not version.prerequisites:
        return {}, set()
    completed = exists().where(
        Enrollment.user_id == user.id,
        Enrollment.course_id == Course.id,
        Enrollment.status == "completed",
    )
    rows = (
        db.session.execute(
            select(Course, completed)
            .where(
                Course.consortium_id == version.course.consortium_id,
                Course.slug.in_(version.prerequisites),
            )
            .options(joinedload(Course.versions))
        )
        .unique()
        .all()
    )
    return {c.slug: c for c, _done in rows}, {c.id for c, done in rows if not done}


def _worker_firm(user: User, consortium_id: int) -> Firm | None:
    for m in user.memberships:
        if m.is_current() and m.consortium_id == consortium_id and m.firm is not None:
            return m.firm
    return None


def enroll(
    user: User,
    version: CourseVersion,
    *,
    source: str = "self",
    actor: User | None = None,
    due_on: date | None = None,
    is_mandatory: bool = False,
    check_prerequisites: bool = True,
    firm: Firm | None = None,
) -> tuple[Enrollment, bool]:
    """Enrol `user` in the course of `version`; returns (enrolment, created).

    An existing active enrolment is returned as it is (a double click enrols once); the
    unique index settles races between two requests. An assigned enrolment (source other than
    "self") gets the assignment of its party (see assigning_firm_id; `firm` names it); a
    withdrawn one that comes back keeps the other parties' assignments as they are.
    """
    course = version.course
    existing = active_enrollment(user, course)
    if existing is not None:
        return existing, False
    if check_prerequisites:
        missing = missing_prerequisites(user, version)
        if missing:
            from lms.courses.service import published_version

            names = "、".join(
                (published_version(c).title if published_version(c) else c.slug) for c in missing
            )
            raise LearningError(
                _l("Complete the prerequisite course first: %(names)s.", names=names)
            )
    worker_firm = _worker_firm(user, course.consortium_id)
    party = (
        assigning_firm_id(actor, user, course.consortium_id, source=source, firm=firm)
        if source != "self"
        else None
    )
    withdrawn = db.session.scalars(
        select(Enrollment)
        .where(
            Enrollment.user_id == user.id,
            Enrollment.course_id == course.id,
            Enrollment.withdrawn_at.is_not(None),
        )
        .order_by(Enrollment.withdrawn_at.desc())
    ).first()
    if withdrawn is not None:
        # Coming back: the old enrolment (and its progress) is active again.
        withdrawn.withdrawn_at = None
        withdrawn.status = "in_progress" if withdrawn.started_at else "enrolled"
        withdrawn.version_id = version.id
        withdrawn.source = source
        try:
            with db.session.begin_nested():
                db.session.flush()
        except IntegrityError:
            return active_enrollment(user, course), False
        if source != "self":
            # The party assigns afresh; what other parties assigned stays theirs.
            _lock(withdrawn)
            _put_assignment(
                withdrawn,
                actor=actor,
                firm_id=party,
                source=source,
                due_on=due_on,
                is_mandatory=is_mandatory,
                replace=True,
            )
            _audit_assignment(actor, withdrawn, firm_id=party, due_on=due_on)
        apply_assignments(withdrawn)
        enrollment_assigned.send(withdrawn, actor=actor, again=True)
        enrolled.send(withdrawn)
        return withdrawn, True
    enrollment = Enrollment(
        consortium_id=course.consortium_id,
        firm_id=worker_firm.id if worker_firm else None,
        user_id=user.id,
        course_id=course.id,
        version_id=version.id,
        source=source,
        assigned_by_id=actor.id if actor and source != "self" else None,
        due_on=due_on,
        is_mandatory=is_mandatory,
    )
    try:
        with db.session.begin_nested():
            db.session.add(enrollment)
    except IntegrityError:
        return active_enrollment(user, course), False
    if source != "self":
        # A new enrolment has no other party's assignment: its values are this one's.
        _put_assignment(
            enrollment,
            actor=actor,
            firm_id=party,
            source=source,
            due_on=due_on,
            is_mandatory=is_mandatory,
        )
        _audit_assignment(actor, enrollment, firm_id=party, due_on=due_on)
        enrollment_assigned.send(enrollment, actor=actor, again=False)
    enrolled.send(enrollment)
    return enrollment, True


def withdraw(actor: User, enrollment: Enrollment) -> None:
    if enrollment.status == "completed":
        raise LearningError(_l("A completed course cannot be withdrawn from."))
    if enrollment.withdrawn_at is None:
        enrollment.status = "withdrawn"
        enrollment.withdrawn_at = utcnow()
        record_action(
            actor, "enrollment.withdraw", enrollment, consortium_id=enrollment.consortium_id
        )
        db.session.flush()


def learning_list(user: User) -> Select:
    """The user's active enrolments with their versions and courses, roughly in learning order
    (learning_order() puts them exactly in it)."""
    return (
        select(Enrollment)
        .where(Enrollment.user_id == user.id, Enrollment.withdrawn_at.is_(None))
        .options(joinedload(Enrollment.version), joinedload(Enrollment.course))
        .order_by(
            case(
                (Enrollment.status == "completed", 3),
                (Enrollment.due_on < date.today(), 0),
                (Enrollment.status == "enrolled", 2),
                else_=1,
            ),
            Enrollment.due_on.is_(None),
            Enrollment.due_on,
            Enrollment.enrolled_at,
            Enrollment.id,
        )
    )


def _learning_group(enrollment: Enrollment, today: date) -> int:
    """0 overdue, 1 started (in progress or failed), 2 not started, 3 completed."""
    if enrollment.status == "completed":
        return 3
    if enrollment.due_on is not None and enrollment.due_on < today:
        return 0
    return 2 if enrollment.status == "enrolled" else 1


def learning_order(enrollments, *, today: date | None = None) -> list[Enrollment]:
    """A worker's enrolments in the order to take them: overdue first, then those in progress,
    then those not started, each by due date (none last), a course after its prerequisites,
    then by enrolment time (so a learning path's courses keep the path's order); completed
    courses last, the latest first. Ties end on the id: the order is stable."""
    today = today or date.today()

    def key(e: Enrollment):
        group = _learning_group(e, today)
        if group == 3:
            done_at = e.completed_at or e.enrolled_at
            return (group, False, date.min, -done_at.timestamp(), -e.id)
        return (group, e.due_on is None, e.due_on or date.min, e.enrolled_at.timestamp(), e.id)

    result: list[Enrollment] = []
    for head, run in groupby(sorted(enrollments, key=key), key=lambda e: key(e)[:3]):
        run = list(run)
        if head[0] == 3:
            result += run
            continue
        while run:  # the first whose prerequisites among the run are placed already
            here = {e.course.slug for e in run}
            ready = next(
                (e for e in run if not here.intersection(e.version.prerequisites or ())),
                run[0],  # prerequisites in a cycle: keep the order they have
            )
            result.append(ready)
            run.remove(ready)
    return result


# --- the player ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutlineLesson:
    """What the player's outline and its previous and next links show of a lesson."""

    id: int
    key: str
    type: str
    title: str
    position: int


@dataclass(frozen=True)
class OutlineModule:
    title: str
    lessons: tuple[OutlineLesson, ...]


def player_outline(version: CourseVersion) -> tuple[OutlineModule, ...]:
    """The version's modules in order, each with its lessons in order (plain values, not their
    text), in one query: the cost of a page of the player hardly grows with the course."""
    rows = db.session.execute(
        select(
            Module.id,
            Module.title,
            Lesson.id,
            Lesson.key,
            Lesson.type,
            Lesson.title,
            Lesson.position,
        )
        .outerjoin(Lesson, Lesson.module_id == Module.id)
        .where(Module.version_id == version.id)
        .order_by(Module.position, Module.id, Lesson.position)
    ).all()
    modules: dict[int, tuple[str, list[OutlineLesson]]] = {}
    for module_id, module_title, *lesson in rows:
        _title, lessons = modules.setdefault(module_id, (module_title, []))
        if lesson[0] is not None:  # a module without lessons has one row of NULLs
            lessons.append(OutlineLesson(*lesson))
    return tuple(OutlineModule(title, tuple(lessons)) for title, lessons in modules.values())


def lesson_sequence(outline: tuple[OutlineModule, ...]) -> list[OutlineLesson]:
    """The lessons of an outline in the course's order (as `CourseVersion.lessons`)."""
    return sorted((x for m in outline for x in m.lessons), key=lambda x: x.position)


# --- progress --------------------------------------------------------------------------------


def progress_map(enrollment: Enrollment) -> dict[str, LessonProgress]:
    return {
        p.lesson_key: p
        for p in db.session.scalars(
            select(LessonProgress).where(LessonProgress.enrollment_id == enrollment.id)
        )
    }


def record_progress(
    enrollment: Enrollment, lesson: Lesson, *, percent: int, position_seconds: float = 0
) -> None:
    """Save progress idempotently: values only grow, and concurrent saves never lose one.

    One INSERT ... ON CONFLICT DO NOTHING, then one UPDATE computing the maximum in SQL, so
    two tabs can save at once without a read-modify-write race.
    """
    percent = max(0, min(100, int(percent)))
    position_seconds = max(0.0, float(position_seconds))
    now = utcnow()
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    db.session.execute(
        dialect_insert(LessonProgress)
        .values(
            enrollment_id=enrollment.id,
            lesson_key=lesson.key,
            percent=0,
            position_seconds=0,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["enrollment_id", "lesson_key"])
    )
    done_now = percent >= 100 and LESSON_TYPES[lesson.type].completes_on_view
    db.session.execute(
        update(LessonProgress)
        .where(
            LessonProgress.enrollment_id == enrollment.id, LessonProgress.lesson_key == lesson.key
        )
        .values(
            percent=case((LessonProgress.percent < percent, percent), else_=LessonProgress.percent),
            position_seconds=case(
                (LessonProgress.position_seconds < position_seconds, position_seconds),
                else_=LessonProgress.position_seconds,
            ),
            completed_at=(
                func.coalesce(LessonProgress.completed_at, now)
                if done_now
                else LessonProgress.completed_at
            ),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment.id)
        .values(
            last_lesson_key=lesson.key,
            status=case((Enrollment.status == "enrolled", "in_progress"), else_=Enrollment.status),
            started_at=func.coalesce(Enrollment.started_at, now),
            last_active_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.expire(enrollment)
    if done_now:
        check_completion(enrollment)


def _mark_done(enrollment: Enrollment, lesson: Lesson) -> None:
    """Completion of a quiz or practical lesson (100 %, completed now)."""
    record_progress(enrollment, lesson, percent=100)
    db.session.execute(
        update(LessonProgress)
        .where(
            LessonProgress.enrollment_id == enrollment.id,
            LessonProgress.lesson_key == lesson.key,
            LessonProgress.completed_at.is_(None),
        )
        .values(completed_at=utcnow())
        .execution_options(synchronize_session=False)
    )


# --- quizzes ---------------------------------------------------------------------------------


def attempts_of(enrollment: Enrollment, lesson: Lesson) -> list[QuizAttempt]:
    return list(
        db.session.scalars(
            select(QuizAttempt)
            .where(QuizAttempt.enrollment_id == enrollment.id, QuizAttempt.lesson_key == lesson.key)
            .order_by(QuizAttempt.number)
        )
    )


def start_attempt(enrollment: Enrollment, lesson: Lesson) -> QuizAttempt:
    """Start (or resume the open) attempt: draws the quiz's questions (all, or `draw` of them,
    preferring those the learner has seen least) and shuffles when the quiz says so."""
    assert LESSON_TYPES[lesson.type].has_questions
    attempts = attempts_of(enrollment, lesson)
    open_attempt = next((a for a in attempts if a.submitted_at is None), None)
    if open_attempt is not None and not _expired(open_attempt):
        return open_attempt
    if open_attempt is not None:
        submit_attempt(open_attempt, {})  # time ran out: grade what was saved (nothing)
        attempts = attempts_of(enrollment, lesson)
    if any(a.is_passed for a in attempts):
        raise LearningError(_l("You have already passed this quiz."))
    limit = lesson.data.get("attempts") or 0
    if limit and len(attempts) >= limit:
        raise LearningError(_l("You have used all %(n)d attempts of this quiz.", n=limit))
    rng = random.SystemRandom()
    question_ids = _draw_questions(lesson, _times_seen(lesson, attempts), rng)
    drawn = set(question_ids)
    shuffle = bool(lesson.data.get("shuffle"))
    if shuffle:
        rng.shuffle(question_ids)
    # The order each question's choices (or items) are shown in: the question type decides.
    choice_orders = {}
    for q in lesson.questions:
        if q.id in drawn:
            order = QUESTION_TYPES[q.type].presented(q, rng, shuffle=shuffle)
            if order is not None:
                choice_orders[str(q.id)] = order
    minutes = lesson.data.get("time_limit_minutes")
    now = utcnow()
    attempt = QuizAttempt(
        enrollment_id=enrollment.id,
        lesson_id=lesson.id,
        lesson_key=lesson.key,
        number=len(attempts) + 1,
        question_ids=question_ids,
        choice_orders=choice_orders,
        started_at=now,
        deadline_at=now + timedelta(minutes=minutes) if minutes else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(attempt)
    except IntegrityError:  # another tab started the same attempt number
        return next(a for a in attempts_of(enrollment, lesson) if a.submitted_at is None)
    return attempt


def _times_seen(lesson: Lesson, attempts: list[QuizAttempt]) -> Counter:
    """Question id of `lesson` → how many of the learner's `attempts` asked it. Attempts at an
    earlier version of the quiz asked other question rows: those count by their prompt."""
    seen = Counter(qid for a in attempts if a.lesson_id == lesson.id for qid in a.question_ids)
    older = {qid for a in attempts if a.lesson_id != lesson.id for qid in a.question_ids}
    if older:
        by_prompt = {q.prompt: q.id for q in lesson.questions}
        prompts = db.session.execute(
            select(Question.id, Question.prompt).where(Question.id.in_(older))
        ).all()
        prompt_of = dict(prompts)
        for a in attempts:
            if a.lesson_id != lesson.id:
                seen.update(
                    by_prompt[prompt_of[qid]]
                    for qid in a.question_ids
                    if prompt_of.get(qid) in by_prompt
                )
    return seen


def _draw_questions(lesson: Lesson, seen: Counter, rng: random.Random) -> list[int]:
    """The question ids one attempt asks, in the quiz's order: every question, or `draw` of
    them at random among those asked least often so far (unseen ones first)."""
    bank = [q.id for q in lesson.questions]
    count = quiz_draw(lesson.data, len(bank))
    if count >= len(bank):
        return bank
    pool = list(bank)
    rng.shuffle(pool)
    pool.sort(key=lambda qid: seen[qid])  # stable: random among the equally often seen
    chosen = set(pool[:count])
    return [qid for qid in bank if qid in chosen]


@dataclass
class QuizState:
    """Where a learner stands with one quiz: attempts, what they may do next, what they may see."""

    lesson: Lesson
    attempts: list[QuizAttempt]

    @property
    def limit(self) -> int:
        """Attempts allowed; 0 = unlimited."""
        return self.lesson.data.get("attempts") or 0

    @property
    def submitted(self) -> list[QuizAttempt]:
        return [a for a in self.attempts if a.submitted_at is not None]

    @property
    def open_attempt(self) -> QuizAttempt | None:
        return next((a for a in self.attempts if a.submitted_at is None), None)

    @property
    def is_passed(self) -> bool:
        return any(a.is_passed for a in self.attempts)

    @property
    def remaining(self) -> int | None:
        """Attempts the learner may still start (None: unlimited)."""
        if not self.limit:
            return None
        return max(0, self.limit - len(self.attempts))

    @property
    def used_up(self) -> bool:
        """Every allowed attempt was taken and graded."""
        return bool(self.limit) and len(self.submitted) >= self.limit

    @property
    def can_start(self) -> bool:
        """A new attempt may be started now (not passed, none open, attempts left)."""
        return not self.is_passed and self.open_attempt is None and self.remaining != 0

    @property
    def review(self) -> str:
        return quiz_review(self.lesson.data)

    @property
    def shows_answers(self) -> bool:
        """The review policy lets results show the correct answers and explanations."""
        review = self.review
        return (review in ("after_pass", "after_pass_or_last") and self.is_passed) or (
            review in ("after_last", "after_pass_or_last") and self.used_up
        )

    @property
    def bank_size(self) -> int:
        return len(self.lesson.questions)

    @property
    def draw(self) -> int:
        """Questions each attempt asks."""
        return quiz_draw(self.lesson.data, self.bank_size)


def quiz_state(enrollment: Enrollment, lesson: Lesson) -> QuizState:
    assert LESSON_TYPES[lesson.type].has_questions
    return QuizState(lesson, attempts_of(enrollment, lesson))


def is_blank(response) -> bool:
    """No answer given: nothing, empty or blank text, or a list of those."""
    if response is None:
        return True
    if isinstance(response, list):
        return all(is_blank(r) for r in response)
    return not str(response).strip()


def unanswered_questions(attempt: QuizAttempt, responses: dict) -> list[int]:
    """Numbers (1-based, in the attempt's order) of the questions `responses` leaves blank,
    which the learner confirms before grading; none once the attempt is graded or its time is
    up (a timed-out attempt is graded as it is)."""
    if attempt.submitted_at is not None or (
        attempt.deadline_at is not None and utcnow() >= attempt.deadline_at
    ):
        return []
    types = {q.id: QUESTION_TYPES[q.type] for q in attempt.lesson.questions}
    return [
        n
        for n, qid in enumerate(attempt.question_ids, start=1)
        if (types[qid].is_unanswered if qid in types else is_blank)(responses.get(str(qid)))
    ]


def _expired(attempt: QuizAttempt) -> bool:
    # A minute of grace for the round trip of the submit itself.
    return attempt.deadline_at is not None and utcnow() > attempt.deadline_at + timedelta(minutes=1)


def submit_attempt(attempt: QuizAttempt, responses: dict) -> QuizAttempt:
    """Grade once: a replayed submit returns the first result unchanged."""
    if attempt.submitted_at is not None:
        return attempt
    lesson = attempt.lesson
    questions = {q.id: q for q in lesson.questions}
    late = _expired(attempt)
    results, earned = {}, 0.0
    for qid in attempt.question_ids:
        q = questions.get(qid)
        if q is None:
            continue
        response = None if late else responses.get(str(qid))
        kind = QUESTION_TYPES[q.type]
        ok = kind.grade(q.choices, q.answer, response)
        # The share of the question earned: all or nothing, or partial where the type says so.
        credit = 1.0 if ok else max(0.0, min(1.0, kind.credit(q.choices, q.answer, response)))
        earned += credit
        results[str(qid)] = {"correct": ok, "response": response}
        if 0 < credit < 1:
            results[str(qid)]["credit"] = round(credit, 4)
    total = len(attempt.question_ids) or 1
    score = round(100 * earned / total, 1)
    pass_mark = lesson.data.get("pass_mark", 60)
    claimed = db.session.execute(
        update(QuizAttempt)
        .where(QuizAttempt.id == attempt.id, QuizAttempt.submitted_at.is_(None))
        .values(
            submitted_at=utcnow(),
            answers=responses,
            results=results,
            score=score,
            is_passed=score >= pass_mark,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(attempt)
    if claimed and attempt.is_passed:
        enrollment = db.session.get(Enrollment, attempt.enrollment_id)
        _mark_done(enrollment, lesson)
        check_completion(enrollment)
    return attempt


# --- practical tasks -------------------------------------------------------------------------


def sign_off_practical(trainer: User, enrollment: Enrollment, lesson: Lesson, comment: str = ""):
    assert LESSON_TYPES[lesson.type].needs_signoff
    exists = db.session.scalars(
        select(PracticalSignoff).where(
            PracticalSignoff.enrollment_id == enrollment.id,
            PracticalSignoff.lesson_key == lesson.key,
        )
    ).first()
    if exists is None:
        try:
            with db.session.begin_nested():
                db.session.add(
                    PracticalSignoff(
                        enrollment_id=enrollment.id,
                        lesson_key=lesson.key,
                        signed_by_id=trainer.id,
                        comment=comment.strip(),
                    )
                )
        except IntegrityError:
            pass
        record_action(
            trainer,
            "practical.sign_off",
            enrollment,
            consortium_id=enrollment.consortium_id,
            details={"lesson": lesson.key},
        )
        practical_signed_off.send(enrollment, lesson=lesson, trainer=trainer)
    _mark_done(enrollment, lesson)
    check_completion(enrollment)


SIGNOFF_REQUEST = "practical.signoff_request"


def signoff_requested_today(enrollment: Enrollment, lesson: Lesson) -> bool:
    """Whether the learner already asked today (local date) for `lesson` to be signed off."""
    since = utcnow() - timedelta(days=1)  # covers the local day; the exact day is checked below
    records = db.session.scalars(
        select(AuditRecord).where(
            AuditRecord.consortium_id == enrollment.consortium_id,
            AuditRecord.created_at >= since,
            AuditRecord.action == SIGNOFF_REQUEST,
            AuditRecord.target_type == "Enrollment",
            AuditRecord.target_id == enrollment.public_id,
        )
    )
    today = local_today()
    return any(
        (r.details or {}).get("lesson") == lesson.key and local_date(r.created_at) == today
        for r in records
    )


def request_signoff(learner: User, enrollment: Enrollment, lesson: Lesson) -> bool:
    """The learner asks the course's assessors to sign off the practical task `lesson` (they
    are notified through `signoff_requested`). Once per learner, task and day: False when it
    was already asked today. LearningError when it is signed off already or nobody may sign
    it off yet."""
    assert LESSON_TYPES[lesson.type].needs_signoff
    if lesson_done(lesson, progress_map(enrollment)):
        raise LearningError(_l("This task is already signed off."))
    assessors = [a for a in assessors_of(enrollment.course) if a.user.id != learner.id]
    if not assessors:
        raise LearningError(
            _l(
                "Nobody can sign off this task yet. Ask your firm admin to have the consortium "
                "designate an assessor for this course."
            )
        )
    if signoff_requested_today(enrollment, lesson):
        return False
    record_action(
        learner,
        SIGNOFF_REQUEST,
        enrollment,
        consortium_id=enrollment.consortium_id,
        details={"lesson": lesson.key},
    )
    db.session.flush()
    signoff_requested.send(
        enrollment,
        lesson=lesson,
        learner=learner,
        assessor_ids=[a.user.id for a in assessors],
        day=local_today().isoformat(),
    )
    return True


# --- completion ------------------------------------------------------------------------------


def lesson_done(lesson: Lesson, progress: dict[str, LessonProgress]) -> bool:
    p = progress.get(lesson.key)
    return p is not None and p.completed_at is not None


def check_completion(enrollment: Enrollment) -> bool:
    """Complete the enrolment if every lesson is done; recorded once, then the event fires."""
    db.session.flush()
    version = db.session.get(CourseVersion, enrollment.version_id)
    progress = progress_map(enrollment)
    if not all(lesson_done(lesson, progress) for lesson in version.lessons):
        return False
    scores = db.session.scalars(
        select(func.max(QuizAttempt.score))
        .where(QuizAttempt.enrollment_id == enrollment.id, QuizAttempt.is_passed.is_(True))
        .group_by(QuizAttempt.lesson_key)
    ).all()
    score = round(sum(scores) / len(scores), 1) if scores else None
    claimed = db.session.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment.id, Enrollment.completed_at.is_(None))
        .values(status="completed", completed_at=utcnow(), score=score)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(enrollment)
    if claimed:
        record_action(
            None,
            "enrollment.complete",
            enrollment,
            consortium_id=enrollment.consortium_id,
            details={"score": score},
        )
        course_completed.send(enrollment)
    return True


# --- assignment by admins ----------------------------------------------------------------------


def assign_course(
    actor: User,
    version: CourseVersion,
    users: list[User],
    *,
    source: str,
    due_on: date | None,
    is_mandatory: bool,
    firm: Firm | None = None,
) -> dict:
    """Assign a course to many workers as one party: `firm` (its admin, or a consortium admin
    on that firm's page; see assigning_firm_id when None) or, with source "consortium", the
    consortium. Only that party's assignment of each enrolment is created or updated: another
    firm's assignment of the same worker and course stays exactly as it was.

    Returns counts: "assigned" — new assignments of this party (workers already enrolled
    through someone else included); "updated" — this party's earlier assignments that got the
    new due date or the mandatory flag; "unchanged" — already assigned so, or completed.
    """
    if due_on is not None and due_on < local_today():  # the site's day (and the demo's as_of)
        raise LearningError(_l("The due date is in the past."))
    counts = {"assigned": 0, "updated": 0, "unchanged": 0}
    consortium_id = version.course.consortium_id
    # Each worker once, in id order: concurrent assignments lock enrolments in one order.
    for user in sorted({u.id: u for u in users}.values(), key=lambda u: u.id):
        party = assigning_firm_id(actor, user, consortium_id, source=source, firm=firm)
        enrollment, created = enroll(
            user,
            version,
            source=source,
            actor=actor,
            due_on=due_on,
            is_mandatory=is_mandatory,
            check_prerequisites=False,
            firm=db.session.get(Firm, party) if party is not None else None,
        )
        if created:
            counts["assigned"] += 1
            continue
        if enrollment.status == "completed":
            counts["unchanged"] += 1
            continue
        outcome = record_assignment(
            enrollment,
            actor=actor,
            firm_id=party,
            source=source,
            due_on=due_on,
            is_mandatory=is_mandatory,
        )
        counts["assigned" if outcome == "new" else outcome] += 1
    db.session.flush()
    return counts


# --- assignments: one row per assigning party ------------------------------------------------


def assigning_firm_id(
    actor: User | None,
    user: User,
    consortium_id: int,
    *,
    source: str,
    firm: Firm | None = None,
) -> int | None:
    """The party an assignment of `user` belongs to: None for the consortium (source
    "consortium"), else `firm` when given; otherwise the firm of the worker's that `actor`
    administers, or (a consortium admin, the system) the worker's own firm."""
    if source == "consortium":
        return None
    if firm is not None:
        return firm.id
    theirs = {
        m.firm_id
        for m in user.memberships
        if m.is_current() and m.consortium_id == consortium_id and m.firm_id is not None
    }
    if actor is not None:
        administered = sorted(
            m.firm_id
            for m in actor.memberships
            if m.is_current() and m.role == "firm_admin" and m.firm_id in theirs
        )
        if administered:
            return administered[0]
    worker_firm = _worker_firm(user, consortium_id)
    return worker_firm.id if worker_firm else None


def _lock(enrollment: Enrollment) -> None:
    """Hold the enrolment's row (PostgreSQL; SQLite has one writer anyway) and read it again:
    two parties assigning it at once take turns, and the second sees the first's assignment
    and the values it set."""
    db.session.scalars(
        select(Enrollment)
        .where(Enrollment.id == enrollment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _own_assignment(enrollment: Enrollment, firm_id: int | None) -> Assignment | None:
    return db.session.scalars(
        select(Assignment).where(
            Assignment.enrollment_id == enrollment.id, Assignment.party_key == (firm_id or 0)
        )
    ).first()


def _put_assignment(
    enrollment: Enrollment,
    *,
    actor: User | None,
    firm_id: int | None,
    source: str,
    due_on: date | None,
    is_mandatory: bool,
    replace: bool = False,
) -> str:
    """Create or update the party's own assignment of `enrollment` (no other row is touched);
    "new", "updated" or "unchanged".

    Assigning again sets the party's due date when one is given and adds the mandatory flag
    (an assignment without a date or flag takes none away); a recertification keeps the
    earlier date; `replace` (a withdrawn enrolment assigned afresh) sets both as given.
    """
    row = _own_assignment(enrollment, firm_id)
    if row is None:
        row = Assignment(
            consortium_id=enrollment.consortium_id,
            firm_id=firm_id,
            party_key=firm_id or 0,
            enrollment_id=enrollment.id,
            user_id=enrollment.user_id,
            course_id=enrollment.course_id,
            assigned_by_id=actor.id if actor else None,
            source=source,
            due_on=due_on,
            is_mandatory=is_mandatory,
        )
        try:
            with db.session.begin_nested():
                db.session.add(row)
            return "new"
        except IntegrityError:  # the same party's concurrent request was first
            row = _own_assignment(enrollment, firm_id)
    if replace:
        due, mandatory = due_on, is_mandatory
    elif source == "recert":
        due = min(row.due_on or due_on, due_on) if due_on else row.due_on
        mandatory = row.is_mandatory or is_mandatory
    else:
        due, mandatory = due_on or row.due_on, row.is_mandatory or is_mandatory
    if (due, mandatory) == (row.due_on, row.is_mandatory):
        return "unchanged"
    row.due_on, row.is_mandatory, row.updated_at = due, mandatory, utcnow()
    if actor is not None:
        row.assigned_by_id = actor.id
    db.session.flush()
    return "updated"


def effective_values(enrollment: Enrollment) -> tuple[date | None, bool, int | None]:
    """(due_on, is_mandatory, assigned_by_id) the enrolment's assignments give it: the earliest
    due date, mandatory if any assignment is, the assigner of the earliest-due assignment
    (of the first one when none has a date)."""
    rows = db.session.scalars(
        select(Assignment).where(Assignment.enrollment_id == enrollment.id).order_by(Assignment.id)
    ).all()
    if not rows:
        return None, False, None
    dated = sorted((r for r in rows if r.due_on is not None), key=lambda r: (r.due_on, r.id))
    first = dated[0] if dated else rows[0]
    return first.due_on, any(r.is_mandatory for r in rows), first.assigned_by_id


def apply_assignments(enrollment: Enrollment, values: tuple | None = None) -> bool:
    """Set the enrolment's due date, mandatory flag and assigner — what the worker sees and
    every report reads — from its assignments (`values`: effective_values() when the caller
    has them); whether anything changed."""
    values = effective_values(enrollment) if values is None else values
    if values == (enrollment.due_on, enrollment.is_mandatory, enrollment.assigned_by_id):
        return False
    enrollment.due_on, enrollment.is_mandatory, enrollment.assigned_by_id = values
    db.session.flush()
    return True


def _adopt_unrecorded(enrollment: Enrollment) -> None:
    """An enrolment given a due date or the mandatory flag without an assignment (written
    directly, as a recertification did) gets one for them first, so that recomputing keeps
    them: the party as in the migration that introduced assignments."""
    if not (enrollment.due_on or enrollment.is_mandatory or enrollment.source != "self"):
        return
    if db.session.scalar(
        select(Assignment.id).where(Assignment.enrollment_id == enrollment.id).limit(1)
    ):
        return
    firm_id = enrollment.firm_id
    if enrollment.source == "consortium":
        firm_id = None
    elif enrollment.source == "firm" and enrollment.assigned_by_id is not None:
        assigner = db.session.get(User, enrollment.assigned_by_id)
        worker = db.session.get(User, enrollment.user_id)
        administered = [
            m.firm_id
            for m in assigner.memberships
            if m.role == "firm_admin"
            and m.consortium_id == enrollment.consortium_id
            and m.firm_id is not None
        ]
        theirs = {m.firm_id for m in worker.memberships}
        if administered:
            firm_id = min(
                administered,
                key=lambda f: (f != enrollment.firm_id, f not in theirs, f),
            )
    source = enrollment.source if enrollment.source != "self" else "firm"
    if firm_id is None and source == "firm":
        source = "consortium"
    db.session.add(
        Assignment(
            consortium_id=enrollment.consortium_id,
            firm_id=firm_id,
            party_key=firm_id or 0,
            enrollment_id=enrollment.id,
            user_id=enrollment.user_id,
            course_id=enrollment.course_id,
            assigned_by_id=enrollment.assigned_by_id,
            source=source,
            due_on=enrollment.due_on,
            is_mandatory=enrollment.is_mandatory,
        )
    )
    db.session.flush()


def record_assignment(
    enrollment: Enrollment,
    *,
    actor: User | None,
    firm_id: int | None,
    source: str,
    due_on: date | None,
    is_mandatory: bool,
) -> str:
    """Assign an active enrolment as one party (`firm_id`, None for the consortium) and
    recompute what the enrolment shows; "new", "updated" or "unchanged". The way for any
    domain to assign an existing enrolment (a recertification: source "recert", actor None,
    the worker's firm). Tells the worker when the due date they see changes; audited."""
    _lock(enrollment)
    _adopt_unrecorded(enrollment)
    outcome = _put_assignment(
        enrollment,
        actor=actor,
        firm_id=firm_id,
        source=source,
        due_on=due_on,
        is_mandatory=is_mandatory,
    )
    if outcome == "unchanged":
        return outcome
    values = effective_values(enrollment)
    due_date_changing.send(enrollment, actor=actor, due_on=values[0])  # before it is set
    apply_assignments(enrollment, values)
    if actor is not None:
        _audit_assignment(actor, enrollment, firm_id=firm_id, due_on=due_on, change=outcome)
    return outcome


def _audit_assignment(actor, enrollment, *, firm_id, due_on, change: str = "new") -> None:
    record_action(
        actor,
        "enrollment.assign",
        enrollment,
        consortium_id=enrollment.consortium_id,
        details={
            "course": enrollment.course_id,
            "due_on": str(due_on) if due_on else None,
            "firm": firm_id,
            **({"change": change} if change != "new" else {}),
        },
    )


def firm_workers(firm: Firm, *, job_role_id: str | None = None) -> list[User]:
    """Current workers of a firm, optionally those with one job role."""
    from lms.tenancy.models import Membership
    from lms.tenancy.scope import current_membership_conditions

    query = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.firm_id == firm.id,
            Membership.role == "worker",
            User.is_active_account.is_(True),
            *current_membership_conditions(),
        )
    )
    if job_role_id:
        query = query.where(Membership.job_role_id == job_role_id)
    return list(db.session.scalars(query.distinct().order_by(User.name)))


def firm_job_roles(firm: Firm) -> list:
    """The job roles the firm's current people hold."""
    from lms.taxonomy.models import JobRole
    from lms.tenancy.models import Membership
    from lms.tenancy.scope import current_membership_conditions

    held = select(Membership.job_role_id).where(
        Membership.firm_id == firm.id, *current_membership_conditions()
    )
    return list(
        db.session.scalars(
            select(JobRole).where(JobRole.id.in_(held)).order_by(JobRole.name_zh, JobRole.id)
        )
    )


def workers_from_file(firm: Firm, data: bytes) -> tuple[list[User], list[str]]:
    """Workers named in a CSV/XLSX by mobile, e-mail or employee number (one per row).

    Returns the users and one error per row that names nobody of this firm.
    """
    from lms.tenancy.importer import ImportFileError, read_table

    rows = read_table("assign", data)
    if not rows:
        raise ImportFileError(_l("The file is empty."))
    workers = {u.id: u for u in firm_workers(firm)}
    by_key: dict[str, User] = {}
    from lms.tenancy.models import Membership

    for m in db.session.scalars(
        select(Membership).where(Membership.firm_id == firm.id, Membership.user_id.in_(workers))
    ):
        user = workers[m.user_id]
        for key in (user.mobile, user.email, m.employee_no):
            if key:
                by_key[key.casefold()] = user
    found, errors = {}, []
    header = [c.strip().casefold() for c in rows[0]]
    start = (
        1
        if any(
            h in ("mobile", "手机号", "e-mail", "email", "邮箱", "employee number", "工号")
            for h in header
        )
        else 0
    )
    for line, cells in enumerate(rows[start:], start=start + 1):
        values = [c.strip() for c in cells if c and c.strip()]
        if not values:
            continue
        user = next((by_key[v.casefold()] for v in values if v.casefold() in by_key), None)
        if user is None:
            errors.append(
                str(
                    _l(
                        "Row %(row)d: no worker of this firm has %(value)s.",
                        row=line,
                        value=values[0],
                    )
                )
            )
        else:
            found[user.id] = user
    return list(found.values()), errors


def list_enrollments(
    *,
    firm: Firm | None = None,
    course: Course | None = None,
    status: str = "",
    overdue: bool = False,
):
    """Active enrolments of a firm's workers (and of those the firm assigned) or of one
    course, due first (a query)."""
    query = select(Enrollment).where(Enrollment.withdrawn_at.is_(None))
    if firm is not None:
        # The firm's workers, and whomever the firm assigned (a worker it placed elsewhere).
        assigned = select(Assignment.enrollment_id).where(Assignment.firm_id == firm.id)
        query = query.where(or_(Enrollment.firm_id == firm.id, Enrollment.id.in_(assigned)))
    if course is not None:
        query = query.where(Enrollment.course_id == course.id)
    if status:
        query = query.where(Enrollment.status == status)
    if overdue:
        query = query.where(Enrollment.status != "completed")
        if firm is not None:
            # Overdue for this firm: its own assignment is past due (not another firm's).
            late = select(Assignment.enrollment_id).where(
                Assignment.firm_id == firm.id, Assignment.due_on < date.today()
            )
            query = query.where(Enrollment.id.in_(late))
        else:
            query = query.where(Enrollment.due_on < date.today())
    return query.order_by(
        Enrollment.due_on.is_(None), Enrollment.due_on, Enrollment.enrolled_at.desc()
    )


def own_assignments(firm: Firm, enrollments) -> dict[int, Assignment]:
    """Enrolment id → the firm's own assignment of it, for those of `enrollments` it assigned
    (what the firm sees and reminds about; another firm's assignment stays its own)."""
    ids = [e.id for e in enrollments]
    if not ids:
        return {}
    rows = db.session.scalars(
        select(Assignment).where(Assignment.firm_id == firm.id, Assignment.enrollment_id.in_(ids))
    )
    return {a.enrollment_id: a for a in rows}


def progress_percent(enrollment: Enrollment) -> int:
    """Share of the version's lessons done, in percent."""
    lessons = enrollment.version.lessons
    if not lessons:
        return 0
    progress = progress_map(enrollment)
    return round(100 * sum(lesson_done(x, progress) for x in lessons) / len(lessons))


def pending_signoffs(enrollment: Enrollment) -> list[Lesson]:
    progress = progress_map(enrollment)
    return [
        x
        for x in enrollment.version.lessons
        if LESSON_TYPES[x.type].needs_signoff and not lesson_done(x, progress)
    ]


def connect_signals() -> None:
    """Learners still on a course move to its newly published version."""
    from lms.courses.service import version_published

    version_published.connect(_on_version_published, weak=False)


def _on_version_published(version, **_kw) -> None:
    # Progress is keyed by lesson key, so it carries over for every lesson that still exists.
    db.session.execute(
        update(Enrollment)
        .where(
            Enrollment.course_id == version.course_id,
            Enrollment.status.in_(("enrolled", "in_progress")),
        )
        .values(version_id=version.id)
        .execution_options(synchronize_session=False)
    )
