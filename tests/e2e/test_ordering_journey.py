"""A worker answers the ordering question (排序题) of 安全生产基础's final quiz on a 390 px phone
(issue 13, the registries own their types): with JavaScript by moving the items with ↑/↓ (the
places follow), and without JavaScript by choosing each item's place in its select; a partly
numbered question is asked about first, a partly right order earns part of the question, and the
review shows the correct order once the quiz is passed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from lms.auth.models import User
from lms.auth.passwords import hash_password
from lms.core.types import utcnow
from lms.courses.models import Course
from lms.courses.service import published_version
from lms.demo.data import DEMO_PASSWORD
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment, QuizAttempt
from lms.tenancy.models import Firm, Membership
from tests.e2e.journey import answer_quiz, follow, quiz_answers, sign_in, visit

pytestmark = pytest.mark.e2e

PACKAGE = Path(__file__).resolve().parents[2] / "courses" / "workplace-safety"
QUIZ_KEY = "quizzes/final.yaml"
QUIZ = yaml.safe_load((PACKAGE / QUIZ_KEY).read_text(encoding="utf-8"))
ORDERING = next(q for q in QUIZ["questions"] if q["type"] == "ordering")
STEPS = [str(item) for item in ORDERING["answer"]]


def _enrolled(app, email: str, name: str) -> tuple[str, int]:
    """A worker of their own (no other journey meets them), enrolled in the course: (enrolment
    public id, final quiz lesson id)."""
    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == email)).first()
        if user is None:
            firm = db.session.scalars(db.select(Firm).order_by(Firm.id)).first()
            user = User(
                name=name,
                email=email,
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
        course = db.session.scalars(db.select(Course).where(Course.slug == PACKAGE.name)).one()
        version = published_version(course)
        enrollment, _ = learning.enroll(user, version, check_prerequisites=False)
        quiz = next(x for x in version.lessons if x.key == QUIZ_KEY)
        db.session.commit()
        return enrollment.public_id, quiz.id


def _last_attempt(app, enrollment_id: str) -> QuizAttempt:
    with app.app_context():
        attempt = db.session.scalars(
            db.select(QuizAttempt)
            .join(Enrollment, Enrollment.id == QuizAttempt.enrollment_id)
            .where(Enrollment.public_id == enrollment_id, QuizAttempt.lesson_key == QUIZ_KEY)
            .order_by(QuizAttempt.id.desc())
        ).first()
        db.session.expunge(attempt)
        return attempt


def _ordering(page):
    return page.locator("ol.questions > li", has=page.locator("ol[data-ordering]"))


def _shown(question) -> list[str]:
    return [t.strip() for t in question.locator(".ordering-text").all_inner_texts()]


def _places(question) -> list[str]:
    return [s.input_value() for s in question.locator("select").all()]


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_with_javascript_the_worker_moves_the_items_into_order(phone_page, live_server, tr):
    app, page = live_server.app, phone_page
    enrollment_id, quiz_id = _enrolled(app, "e2e.ordering@demo.lms", "孙排序")
    visit(page, "/login")
    sign_in(page, tr, "e2e.ordering@demo.lms", DEMO_PASSWORD)
    visit(page, f"/learn/{enrollment_id}/lessons/{quiz_id}")
    follow(page, page.get_by_role("button", name=tr("Start the quiz")))

    question = _ordering(page)
    expect(question.locator("legend")).to_contain_text(ORDERING["prompt"])
    shown = _shown(question)
    assert sorted(shown) == sorted(STEPS) and shown != STEPS  # shuffled, never in order
    assert _places(question) == [""] * len(STEPS)  # nothing chosen for the learner
    _fits(page)

    # ↑ moves an item up and numbers every item as shown.
    for target, item in enumerate(STEPS):
        while _shown(question).index(item) > target:
            up = question.get_by_role("button", name=tr("Move “%(title)s” up") % {"title": item})
            up.click()
            expect(up).to_be_focused()  # the thumb stays on the button it pressed
    assert _shown(question) == STEPS
    assert _places(question) == [str(n) for n in range(1, len(STEPS) + 1)]
    # ↓ too, and a place chosen in a select puts the list in that order.
    question.get_by_role("button", name=tr("Move “%(title)s” down") % {"title": STEPS[0]}).click()
    assert _shown(question) == [STEPS[1], STEPS[0], *STEPS[2:]]
    question.get_by_label(STEPS[0], exact=True).select_option("1")
    question.get_by_label(STEPS[1], exact=True).select_option("2")
    assert _shown(question) == STEPS and _places(question) == ["1", "2", "3", "4", "5"]
    expect(question.locator(".ordering-moves button").first).to_have_css("min-height", "44px")

    answers = {p: a for p, a in quiz_answers(PACKAGE).items() if p != ORDERING["prompt"].strip()}
    answers[ORDERING["prompt"].strip()] = ("ordering", STEPS)  # already in order: kept
    answer_quiz(page, answers)
    follow(page, page.get_by_role("button", name=tr("Submit answers")))
    expect(page.locator(".quiz-result .status.ok")).to_contain_text(tr("Passed"))
    attempt = _last_attempt(app, enrollment_id)
    assert attempt.score == 100
    review = page.locator("ol.questions > li", has_text=ORDERING["prompt"])
    expect(review.locator("ol.ordering-review").first.locator("li")).to_have_text(
        [re.compile(re.escape(item)) for item in STEPS]
    )
    _fits(page)


def _go(page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.ok, path


def _submit(page, button) -> None:
    with page.expect_navigation():
        button.click()


def test_without_javascript_the_worker_numbers_the_items(browser, live_server, tr):
    app = live_server.app
    enrollment_id, quiz_id = _enrolled(app, "e2e.ordering.nojs@demo.lms", "周排序")
    context = browser.new_context(
        base_url=live_server.url,
        java_script_enabled=False,
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        _go(page, "/login")
        page.get_by_label(tr("E-mail or mobile number")).fill("e2e.ordering.nojs@demo.lms")
        page.get_by_label(tr("Password"), exact=True).fill(DEMO_PASSWORD)
        _submit(page, page.locator("main").get_by_role("button", name=tr("Sign in")))
        _go(page, f"/learn/{enrollment_id}/lessons/{quiz_id}")
        _submit(page, page.get_by_role("button", name=tr("Start the quiz")))

        question = _ordering(page)
        expect(question.locator(".ordering-moves")).to_have_count(0)  # no script, no buttons
        shown = _shown(question)
        answer_quiz(page, quiz_answers(PACKAGE))  # every question right, then:
        # Two places only: the server asks first, and keeps what was chosen.
        for item in STEPS[1:4]:
            question.get_by_label(item, exact=True).select_option("")
        _submit(page, page.get_by_role("button", name=tr("Submit answers")))
        warning = page.locator("#quiz-unanswered")
        expect(warning).to_be_visible()
        expect(warning).to_contain_text(
            tr("Questions without an answer: %(n)s of %(total)s.")
            % {"n": 1, "total": len(QUIZ["questions"])}
        )
        question = _ordering(page)
        assert _shown(question) == shown  # the same order as before
        assert question.get_by_label(STEPS[0], exact=True).input_value() == "1"
        assert question.get_by_label(STEPS[4], exact=True).input_value() == "5"
        _fits(page)

        # Every place, two neighbours swapped: 3 of 5 in place.
        for place, item in zip((2, 1, 3, 4, 5), STEPS, strict=True):
            question.get_by_label(item, exact=True).select_option(str(place))
        _submit(page, page.get_by_role("button", name=tr("Submit answers")))
        expect(page.locator(".quiz-result")).to_be_visible()
        attempt = _last_attempt(app, enrollment_id)
        total = len(QUIZ["questions"])
        assert attempt.score == round(100 * (total - 1 + 0.6) / total, 1) and attempt.is_passed
        review = page.locator("ol.questions > li", has_text=ORDERING["prompt"])
        expect(review).to_contain_text(tr("partly right (%(share)s)") % {"share": "60%"})
        expect(review).to_contain_text(tr("Correct order:"))  # passed: the answers are shown
        expect(review.locator("ol.ordering-review").last.locator("li")).to_have_text(STEPS)
    finally:
        context.close()
