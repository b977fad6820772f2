"""My learning, the lesson player, quizzes and withdrawal (workers, phone first)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    get_template_attribute,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.orm import joinedload

from lms.core.access import signed_in
from lms.core.params import json_endpoint, json_number, json_object
from lms.core.types import utcnow
from lms.courses.assessors import assessors_of
from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.models import Lesson
from lms.courses.question_types import QUESTION_TYPES
from lms.extensions import db
from lms.learning import service
from lms.learning.models import Enrollment, QuizAttempt
from lms.tenancy.forms import ConfirmForm
from lms.tenancy.scope import current_scope

bp = Blueprint("learning", __name__)

# Far beyond any lesson video (a week, in seconds), still a plain float in every database.
MAX_POSITION = 7 * 24 * 3600

# What the learner's pages show of an enrolment besides itself, loaded with it (one query).
WITH_COURSE = (joinedload(Enrollment.version), joinedload(Enrollment.course))


def _lesson(enrollment, lesson_id: int) -> Lesson:
    return current_scope().get(Lesson, id=lesson_id, within=enrollment.version)


def _own(enrollment_id: str, *, options=()) -> Enrollment:
    """One of the user's own enrolments (in one of their consortia), else 404."""
    return current_scope().get(
        Enrollment, public_id=enrollment_id, user_id=current_user.id, options=options
    )


def _active(enrollment):
    if enrollment.withdrawn_at is not None:
        abort(404)
    return enrollment


# --- the player's outline --------------------------------------------------------------------

# Stands for the enrolment's public id in the kept pieces of an outline (escaped text never
# holds a "<": nothing else can be taken for it).
_ENROLLMENT = "<enrollment>"


@dataclass(frozen=True)
class PlayerOutline:
    """A version's lessons in course order, and its outline as pieces of HTML: per module its
    start, (lesson, item done, item not done) per lesson, and its end."""

    lessons: list[service.OutlineLesson]
    modules: tuple[tuple[str, tuple, str], ...]


def player_outline(version) -> PlayerOutline:
    """The outline of `version` in the current language.

    A published (or archived) version never changes, so its outline is rendered once per
    language and kept in this process, keyed by everything that identifies the version's
    content (as catalogue_views.version_fragments does): a page of the player then costs the
    same in a course of 500 lessons as in one of 10 — no query, no template work per lesson.
    """
    key = (version.id, version.status, version.published_at, version.title, str(get_locale()))
    cache = current_app.extensions.setdefault("lms_player_outlines", {})
    if key in cache:
        return cache[key]
    template = "learning/_outline.html"
    start, end = (get_template_attribute(template, n) for n in ("module_start", "module_end"))
    item = get_template_attribute(template, "item")
    outline = service.player_outline(version)
    modules = []
    for module in outline:
        items = []
        for lesson in module.lessons:
            link = url_for("learning.lesson", enrollment_id="ENROLLMENT", lesson_id=lesson.id)
            url = Markup(str(escape(link)).replace("ENROLLMENT", _ENROLLMENT))  # noqa: S704
            items.append(
                (lesson, str(item(lesson, True, False, url)), str(item(lesson, False, False, url)))
            )
        modules.append((str(start(module)), tuple(items), str(end())))
    value = PlayerOutline(service.lesson_sequence(outline), tuple(modules))
    if version.status in ("published", "archived"):
        if len(cache) > 1000:
            cache.clear()
        cache[key] = value
    return value


def outline_html(outline: PlayerOutline, enrollment, lesson, done_keys: set[str]) -> Markup:
    """The outline for one learner: the lessons they have done marked, `lesson` current."""
    parts = []
    for start, items, end in outline.modules:
        parts.append(start)
        for x, done_item, todo_item in items:
            if x.id == lesson.id:
                current = get_template_attribute("learning/_outline.html", "item")
                parts.append(str(current(x, x.key in done_keys, True, "")))
            else:
                parts.append(done_item if x.key in done_keys else todo_item)
        parts.append(end)
    html = "".join(parts).replace(_ENROLLMENT, str(escape(enrollment.public_id)))
    return Markup(html)  # noqa: S704  (pieces rendered by an autoescaping template)


@bp.get("/learning")
@signed_in
def my_learning():
    enrollments = service.learning_order(
        db.session.scalars(service.learning_list(current_user)).all()
    )
    return render_template("learning/my_learning.html", enrollments=enrollments)


@bp.get("/learn/<enrollment_id>")
@signed_in
def resume(enrollment_id: str):
    """Continue where the learner left off: the last lesson, else the first not done."""
    enrollment = _active(_own(enrollment_id, options=WITH_COURSE))
    lessons = player_outline(enrollment.version).lessons
    progress = service.progress_map(enrollment)
    target = next((x for x in lessons if x.key == enrollment.last_lesson_key), None)
    if target is None or service.lesson_done(target, progress):
        target = next((x for x in lessons if not service.lesson_done(x, progress)), None)
    target = target or lessons[0]
    return redirect(url_for("learning.lesson", enrollment_id=enrollment_id, lesson_id=target.id))


@bp.get("/learn/<enrollment_id>/lessons/<int:lesson_id>")
@signed_in
def lesson(enrollment_id: str, lesson_id: int):
    enrollment = _active(_own(enrollment_id, options=WITH_COURSE))
    lesson = _lesson(enrollment, lesson_id)
    outline = player_outline(enrollment.version)
    lessons = outline.lessons
    index = next(i for i, x in enumerate(lessons) if x.id == lesson.id)
    progress = service.progress_map(enrollment)
    done_keys = {key for key, row in progress.items() if row.completed_at is not None}
    kind = LESSON_TYPES[lesson.type]
    quiz = service.quiz_state(enrollment, lesson) if kind.has_questions else None
    attempts = quiz.attempts if quiz else []
    return render_template(
        "learning/lesson.html",
        enrollment=enrollment,
        lesson=lesson,
        lessons=lessons,
        index=index,
        outline_html=outline_html(outline, enrollment, lesson, done_keys),
        previous=lessons[index - 1] if index > 0 else None,
        next=lessons[index + 1] if index + 1 < len(lessons) else None,
        progress=progress,
        done=service.lesson_done(lesson, progress),
        attempts=attempts,
        quiz=quiz,
        lesson_type=kind,
        form=ConfirmForm(),
        # A practical task not signed off yet: who may sign it off (the learner may ask them).
        assessors=(
            assessors_of(enrollment.course)
            if kind.needs_signoff and not service.lesson_done(lesson, progress)
            else []
        ),
    )


@bp.post("/learn/<enrollment_id>/lessons/<int:lesson_id>/progress")
@signed_in
@json_endpoint
def save_progress(enrollment_id: str, lesson_id: int):
    """Autosave from the player: {"percent": 0-100, "position": seconds}; idempotent, values
    only grow."""
    data = json_object()
    percent = json_number(data, "percent", default=0, minimum=0, maximum=100)
    position = json_number(data, "position", default=0, minimum=0, maximum=MAX_POSITION)
    enrollment = _active(_own(enrollment_id))
    lesson = _lesson(enrollment, lesson_id)
    service.record_progress(enrollment, lesson, percent=int(percent), position_seconds=position)
    db.session.commit()
    row = service.progress_map(enrollment).get(lesson.key)
    return jsonify(
        percent=row.percent,
        position=row.position_seconds,
        completed=row.completed_at is not None,
        course_completed=enrollment.status == "completed",
    )


@bp.post("/learn/<enrollment_id>/lessons/<int:lesson_id>/done")
@signed_in
def mark_done(enrollment_id: str, lesson_id: int):
    """'Done, next' without JavaScript: completes a reading/video/file lesson."""
    enrollment = _active(_own(enrollment_id))
    lesson = _lesson(enrollment, lesson_id)
    if ConfirmForm().validate_on_submit() and LESSON_TYPES[lesson.type].completes_on_view:
        service.record_progress(enrollment, lesson, percent=100)
        db.session.commit()
        if enrollment.status == "completed":
            flash(_l("Course completed. Well done!"), "success")
            return redirect(url_for("courses.course_page", slug=enrollment.course.slug))
    lessons = enrollment.version.lessons
    index = lessons.index(lesson)
    if index + 1 < len(lessons):
        return redirect(
            url_for("learning.lesson", enrollment_id=enrollment_id, lesson_id=lessons[index + 1].id)
        )
    return redirect(url_for("learning.lesson", enrollment_id=enrollment_id, lesson_id=lesson.id))


@bp.post("/learn/<enrollment_id>/lessons/<int:lesson_id>/signoff-request")
@signed_in
def ask_signoff(enrollment_id: str, lesson_id: int):
    """'Ask for sign-off' on a practical task: the course's assessors are notified, at most
    once a day; a second press says so."""
    enrollment = _active(_own(enrollment_id))
    lesson = _lesson(enrollment, lesson_id)
    if not LESSON_TYPES[lesson.type].needs_signoff or not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        sent = service.request_signoff(current_user, enrollment, lesson)
    except service.LearningError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        if sent:
            flash(_l("Your request was sent to the assessors of this course."), "success")
        else:
            flash(
                _l("You already asked for this sign-off today; the assessors have been told."),
                "info",
            )
    return redirect(url_for("learning.lesson", enrollment_id=enrollment_id, lesson_id=lesson_id))


@bp.post("/learn/<enrollment_id>/lessons/<int:lesson_id>/attempts")
@signed_in
def start_attempt(enrollment_id: str, lesson_id: int):
    enrollment = _active(_own(enrollment_id))
    lesson = _lesson(enrollment, lesson_id)
    if not LESSON_TYPES[lesson.type].has_questions or not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        attempt = service.start_attempt(enrollment, lesson)
    except service.LearningError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(
            url_for("learning.lesson", enrollment_id=enrollment_id, lesson_id=lesson_id)
        )
    db.session.commit()
    return redirect(
        url_for("learning.attempt", enrollment_id=enrollment_id, attempt_id=attempt.public_id)
    )


def _attempt(enrollment, attempt_id: str) -> QuizAttempt:
    attempt = db.session.scalars(
        db.select(QuizAttempt)
        .where(QuizAttempt.public_id == attempt_id, QuizAttempt.enrollment_id == enrollment.id)
        .options(joinedload(QuizAttempt.lesson))
    ).first()
    if attempt is None:
        abort(404)
    return attempt


@bp.route("/learn/<enrollment_id>/attempts/<attempt_id>", methods=["GET", "POST"])
@signed_in
def attempt(enrollment_id: str, attempt_id: str):
    """An attempt: its questions while open, its result once graded. A submit that leaves
    questions blank comes back with the answers kept and asks to confirm (field `confirm`)."""
    enrollment = _own(enrollment_id, options=WITH_COURSE)
    attempt = _attempt(enrollment, attempt_id)
    lesson = attempt.lesson
    form = ConfirmForm()
    responses, unanswered = {}, []
    if request.method == "POST" and form.validate_on_submit():
        for qid in attempt.question_ids:
            q = next((x for x in lesson.questions if x.id == qid), None)
            if q is None:
                continue
            # Each question type reads its own answer fields (q<id>…) from the form.
            responses[str(qid)] = QUESTION_TYPES[q.type].parse_response(request.form, f"q{qid}", q)
        if not request.form.get("confirm"):
            unanswered = service.unanswered_questions(attempt, responses)
        if not unanswered:
            service.submit_attempt(attempt, responses)
            db.session.commit()
            return redirect(
                url_for("learning.attempt", enrollment_id=enrollment_id, attempt_id=attempt_id)
            )
    questions = {q.id: q for q in lesson.questions}
    deadline_seconds = None
    if attempt.deadline_at is not None and attempt.submitted_at is None:
        deadline_seconds = max(0, int((attempt.deadline_at - utcnow()).total_seconds()))
    return render_template(
        "learning/attempt.html",
        enrollment=enrollment,
        attempt=attempt,
        lesson=lesson,
        questions=[questions[qid] for qid in attempt.question_ids if qid in questions],
        form=form,
        question_types=QUESTION_TYPES,
        quiz=service.quiz_state(enrollment, lesson),
        responses=responses,
        unanswered=unanswered,
        deadline_seconds=deadline_seconds,
    )


@bp.route("/learn/<enrollment_id>/withdraw", methods=["GET", "POST"])
@signed_in
def withdraw(enrollment_id: str):
    enrollment = _active(_own(enrollment_id))
    form = ConfirmForm()
    back = url_for("learning.my_learning")
    if form.validate_on_submit():
        try:
            service.withdraw(current_user, enrollment)
        except service.LearningError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_l("You withdrew from %(title)s.", title=enrollment.version.title), "success")
        return redirect(back)
    if enrollment.is_mandatory:
        text = _l(
            "This course was assigned to you as mandatory; your firm admin will see that "
            "you withdrew."
        )
    else:
        text = _l("Your progress is kept if you enrol again later.")
    return render_template(
        "tenancy/confirm.html",
        form=form,
        title=_l("Withdraw from %(title)s?", title=enrollment.version.title),
        text=text,
        button=_lp("enrollment", "Withdraw"),
        back=back,
    )
