"""A worker takes a timed quiz with a question bank on a phone (issue 13, quizzes): the
countdown shows the server's deadline and runs down, submitting with unanswered questions asks
first (in the browser, before anything is sent), a failed attempt offers "Try again" without
giving the answers away, the next attempt asks the questions not seen yet, the countdown warns
at one minute and sends the answers at zero, and the quiz stays the primary action."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from lms.auth.models import User
from lms.auth.passwords import hash_password
from lms.core.types import utcnow
from lms.courses.models import Course, Lesson
from lms.courses.service import published_version
from lms.demo.data import DEMO_PASSWORD
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment, QuizAttempt
from lms.tenancy.models import Firm, Membership
from tests.e2e.journey import follow, sign_in, visit

pytestmark = pytest.mark.e2e

COURSE = "mes-basics"  # its final quiz draws 8 of 10 questions, 20 minutes, 3 attempts
QUIZ_KEY = "quizzes/final.yaml"
MODULE_QUIZ_KEY = "quizzes/module1.yaml"  # followed by the lessons of module 2
WORKER = "e2e.quizzes@demo.lms"  # a worker of its own, so no other journey meets it


def _enrolled_worker(app) -> tuple[str, int, int]:
    """The worker, enrolled in the course: (enrolment public id, final quiz lesson id, module 1
    quiz lesson id)."""
    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == WORKER)).first()
        if user is None:
            firm = (
                db.session.scalars(
                    db.select(Firm).where(Firm.name == "唐山精工机械有限公司")
                ).first()
                or db.session.scalars(db.select(Firm).order_by(Firm.id)).first()
            )
            user = User(
                name="钱测验",
                email=WORKER,
                password_hash=hash_password(DEMO_PASSWORD),
                password_changed_at=utcnow(),
            )
            db.session.add(user)
            db.session.add(
                Membership(
                    user=user, consortium_id=firm.consortium_id, firm_id=firm.id, role="worker"
                )
            )
            db.session.flush()
        course = db.session.scalars(db.select(Course).where(Course.slug == COURSE)).one()
        version = published_version(course)
        enrollment, _ = learning.enroll(user, version, check_prerequisites=False)
        quiz = next(x for x in version.lessons if x.key == QUIZ_KEY)
        module_quiz = next(x for x in version.lessons if x.key == MODULE_QUIZ_KEY)
        db.session.commit()
        return enrollment.public_id, quiz.id, module_quiz.id


def _attempts(app, enrollment_id: str) -> list[QuizAttempt]:
    with app.app_context():
        enrollment = db.session.scalars(
            db.select(Enrollment).where(Enrollment.public_id == enrollment_id)
        ).one()
        rows = db.session.scalars(
            db.select(QuizAttempt)
            .where(QuizAttempt.enrollment_id == enrollment.id, QuizAttempt.lesson_key == QUIZ_KEY)
            .order_by(QuizAttempt.number)
        ).all()
        db.session.expunge_all()
        return list(rows)


def _move_deadline(app, attempt_id: int, seconds: int) -> None:
    with app.app_context():
        attempt = db.session.get(QuizAttempt, attempt_id)
        attempt.deadline_at = utcnow() + timedelta(seconds=seconds)
        db.session.commit()


def _seconds(text: str) -> int:
    match = re.search(r"(\d+):(\d\d)(?::(\d\d))?", text)
    assert match, text
    parts = [int(x) for x in match.groups() if x is not None]
    total = 0
    for part in parts:
        total = total * 60 + part
    return total


def test_a_worker_takes_a_timed_bank_quiz_twice_on_a_phone(phone_page, live_server, tr):
    app, page = live_server.app, phone_page
    enrollment_id, quiz_id, module_quiz_id = _enrolled_worker(app)
    with app.app_context():
        bank = len(db.session.get(Lesson, quiz_id).questions)
    lesson_path = f"/learn/{enrollment_id}/lessons/{quiz_id}"
    visit(page, "/login")
    sign_in(page, tr, WORKER, DEMO_PASSWORD)

    # A quiz not passed yet is the primary action; the next lesson is secondary.
    visit(page, f"/learn/{enrollment_id}/lessons/{module_quiz_id}")
    expect(page.get_by_role("button", name=tr("Start the quiz"))).to_have_class(
        re.compile(r"\bprimary\b")
    )
    next_lesson = page.locator(".lesson-actions a.button", has_text=tr("Next lesson"))
    expect(next_lesson).to_be_visible()
    expect(next_lesson).not_to_have_class(re.compile(r"\bprimary\b"))

    visit(page, lesson_path)
    expect(page.locator("main .facts")).to_contain_text(
        tr("%(n)d per attempt, drawn from %(total)d") % {"n": 8, "total": bank}
    )
    follow(page, page.get_by_role("button", name=tr("Start the quiz")))

    # The attempt: 8 questions drawn, a countdown from the server's deadline that runs down.
    questions = page.locator("ol.questions > li")
    expect(questions).to_have_count(8)
    clock = page.locator("#quiz-countdown")
    expect(clock).to_be_visible()
    expect(clock).to_contain_text(re.compile(r"\d+:\d\d"))
    first = _seconds(clock.inner_text())
    assert 19 * 60 <= first <= 20 * 60
    page.wait_for_timeout(2100)
    assert _seconds(clock.inner_text()) < first
    # Without JavaScript the deadline is text; it stays for everyone.
    expect(page.locator("#quiz-deadline p").first).not_to_be_empty()

    # Submitting with one question answered: the browser asks first, nothing is sent.
    answered = questions.first.locator("input").first
    if answered.get_attribute("type") == "text":
        answered.fill("不知道")
    else:
        answered.check()
    url = page.url
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.get_by_role("button", name=tr("Submit answers")).click()
    warning = page.locator("#quiz-unanswered")
    expect(warning).to_be_visible()
    assert posts == []  # asked in the browser: nothing was sent
    expect(warning.locator("a")).to_have_count(7)
    expect(warning).to_contain_text("7")
    expect(page.locator("ol.questions > li.unanswered")).to_have_count(7)
    expect(page.locator("li.unanswered .quiz-not-answered")).to_have_count(7)  # in words
    # Answering one of them takes it off the list's marks at once.
    second = questions.nth(1).locator("input").first
    if second.get_attribute("type") == "text":
        second.fill("不知道")
    else:
        second.check()
    expect(page.locator("ol.questions > li.unanswered")).to_have_count(6)
    assert page.url == url
    [attempt] = _attempts(app, enrollment_id)
    assert attempt.submitted_at is None
    confirm = page.get_by_role("button", name=tr("Submit anyway"))
    expect(confirm).to_be_visible()
    follow(page, confirm)

    # The result: failed, no right answers or explanations yet, and "Try again" first.
    expect(page.locator(".quiz-result .status.off")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(tr("Correct answer:"))
    retry = page.get_by_role("button", name=tr("Try again"))
    expect(retry).to_have_class(re.compile(r"\bprimary\b"))
    first_attempt = _attempts(app, enrollment_id)[0]
    assert first_attempt.submitted_at is not None and not first_attempt.is_passed
    follow(page, retry)

    # Attempt 2 asks the 2 questions attempt 1 did not.
    attempts = _attempts(app, enrollment_id)
    assert [a.number for a in attempts] == [1, 2]
    with app.app_context():
        all_ids = {q.id for q in db.session.get(Lesson, quiz_id).questions}
    assert all_ids - set(attempts[0].question_ids) <= set(attempts[1].question_ids)
    assert attempts[0].question_ids != attempts[1].question_ids

    # One minute left: a warning; at zero the answers are sent without asking.
    _move_deadline(app, attempts[1].id, 62)
    visit(page, page.url)
    expect(page.locator("#quiz-deadline")).to_have_class(
        re.compile("quiz-deadline-near"), timeout=8000
    )
    expect(page.locator("#quiz-countdown-alert")).not_to_be_empty()
    _move_deadline(app, attempts[1].id, 2)
    visit(page, page.url)
    expect(page.locator(".quiz-result")).to_be_visible(timeout=8000)
    second = _attempts(app, enrollment_id)[1]
    assert second.submitted_at is not None and second.score == 0

    # Back on the lesson: the quiz (one attempt left) is still the primary action.
    visit(page, lesson_path)
    expect(page.get_by_role("button", name=tr("Try again"))).to_have_class(
        re.compile(r"\bprimary\b")
    )
