"""Quizzes worth taking twice (issue 13): a question bank with `draw` questions per attempt
that prefers questions not seen yet, a review policy for the correct answers, confirmation
before submitting unanswered questions, retry from the result page, the quiz as the primary
action until it is passed, and a countdown that carries the server's deadline."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.core.types import utcnow
from lms.courses.models import Lesson
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment, QuizAttempt
from tests.learning.conftest import QUIZ_EACH_TYPE

QUIZ_KEY = "quizzes/final.yaml"


def bank(size: int = 10, **settings) -> dict:
    """A quiz of `size` single-choice questions: question n has the right answer "n-对"."""
    return {
        "title": "题库测验",
        "pass_mark": 60,
        "attempts": 0,
        "shuffle": False,
        **settings,
        "questions": [
            {
                "type": "single",
                "prompt": f"第{n}题",
                "choices": [f"{n}-对", f"{n}-错"],
                "answer": f"{n}-对",
                "explanation": f"解释{n}",
            }
            for n in range(1, size + 1)
        ],
    }


class Learner:
    """A signed-in learner taking a course's quiz through the pages (no JavaScript)."""

    def __init__(self, app, client, course, enrolled):
        self.app = app
        self.client = client
        self.course = course
        self.enrolled = enrolled
        self.quiz_id = course.lesson(QUIZ_KEY)
        self.lesson_url = f"{enrolled.url}/lessons/{self.quiz_id}"

    def start(self):
        return self.client.post(f"{self.lesson_url}/attempts")

    def start_url(self) -> str:
        response = self.start()
        assert response.status_code == 302, response.status_code
        location = response.headers["Location"]
        assert "/attempts/" in location, location
        return location

    def page(self, url: str) -> str:
        response = self.client.get(url)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def attempts(self) -> list[QuizAttempt]:
        with self.app.app_context():
            rows = db.session.scalars(
                select(QuizAttempt)
                .where(QuizAttempt.enrollment_id == self.enrolled.id)
                .order_by(QuizAttempt.number)
            ).all()
            db.session.expunge_all()
            return list(rows)

    def last(self) -> QuizAttempt:
        return self.attempts()[-1]

    def prompts(self, attempt: QuizAttempt) -> list[str]:
        with self.app.app_context():
            lesson = db.session.get(Lesson, attempt.lesson_id)
            by_id = {q.id: q.prompt for q in lesson.questions}
            return [by_id[qid] for qid in attempt.question_ids]

    def answer_bank(self, url: str, *, right: int, confirm: bool = False):
        """Answer the bank questions of the attempt at `url`: the first `right` right, the
        rest wrong."""
        attempt = self.last()
        data = {}
        prompts = self.prompts(attempt)
        for i, (qid, prompt) in enumerate(zip(attempt.question_ids, prompts, strict=True)):
            n = prompt.removeprefix("第").removesuffix("题")
            data[f"q{qid}"] = f"{n}-对" if i < right else f"{n}-错"
        if confirm:
            data["confirm"] = "1"
        return self.client.post(url, data=data)


@pytest.fixture
def english_worker(create_user, firm):
    """A worker reading the pages in English (the messages the tests read)."""
    return create_user(role="worker", firm=firm, locale="en")


@pytest.fixture
def learner(app, client, firm, english_worker, publish, enrol, login):
    def make(quiz: dict, *, practical: bool = False, slug: str = "bank-course") -> Learner:
        course = publish(firm, slug, lessons=1, quiz=quiz, practical=practical)
        enrolled = enrol(english_worker, course)
        login(english_worker)
        return Learner(app, client, course, enrolled)

    return make


# --- the question bank: draw N per attempt ------------------------------------------------


def test_each_attempt_asks_draw_questions_of_the_bank(learner):
    p = learner(bank(10, draw=4))
    for _ in range(3):
        url = p.start_url()
        attempt = p.last()
        assert len(attempt.question_ids) == 4
        assert set(attempt.question_ids) <= set(p.course.question_ids[QUIZ_KEY])
        assert len(set(attempt.question_ids)) == 4
        # The page asks exactly the drawn questions.
        page = p.page(url)
        assert [int(x) for x in dict.fromkeys(re.findall(r'name="q(\d+)"', page))] == list(
            attempt.question_ids
        )
        p.answer_bank(url, right=0)


def test_later_attempts_ask_the_questions_not_seen_yet_first(learner):
    p = learner(bank(10, draw=4))
    drawn = []
    for _ in range(2):
        url = p.start_url()
        drawn.append(set(p.last().question_ids))
        p.answer_bank(url, right=0)
    # Draws differ between attempts: the second asks none of the first's questions.
    assert drawn[0].isdisjoint(drawn[1])
    unseen = set(p.course.question_ids[QUIZ_KEY]) - drawn[0] - drawn[1]
    assert len(unseen) == 2
    p.start_url()
    third = set(p.last().question_ids)
    # Two unseen questions remain: both are asked, with two of those seen once.
    assert unseen <= third


def test_once_every_question_was_asked_the_least_asked_come_first(learner):
    p = learner(bank(10, draw=6))
    for _ in range(3):
        url = p.start_url()
        p.answer_bank(url, right=0)
    counts = Counter(qid for a in p.attempts() for qid in a.question_ids)
    # 18 questions asked from 10: every question asked at least once, none more than twice.
    assert set(counts) == set(p.course.question_ids[QUIZ_KEY])
    assert set(counts.values()) == {1, 2}


def test_draws_differ_from_learner_to_learner_and_attempt_to_attempt(
    app, firm, worker, publish, enrol
):
    course = publish(firm, "random-draws", lessons=1, quiz=bank(10, draw=3))
    enrolled = enrol(worker, course)
    firsts = set()
    with app.test_request_context():
        enrollment = db.session.get(Enrollment, enrolled.id)
        quiz = db.session.get(Lesson, course.lesson(QUIZ_KEY))
        for _ in range(12):
            attempt = learning.start_attempt(enrollment, quiz)
            firsts.add(tuple(attempt.question_ids))
            learning.submit_attempt(attempt, {})
        db.session.rollback()
    assert len(firsts) > 1  # not the same three questions every time


def test_without_draw_every_question_is_asked_in_the_quiz_order(learner):
    p = learner(bank(5))
    p.start_url()
    assert p.last().question_ids == p.course.question_ids[QUIZ_KEY]


def test_a_drawn_shuffled_quiz_shuffles_only_the_drawn_questions(learner):
    p = learner(bank(8, draw=5, shuffle=True))
    p.start_url()
    attempt = p.last()
    assert len(attempt.question_ids) == 5
    assert set(attempt.choice_orders) == {str(q) for q in attempt.question_ids}


def test_the_pass_mark_applies_to_the_drawn_questions(learner):
    p = learner(bank(10, draw=4, pass_mark=75))
    url = p.start_url()
    p.answer_bank(url, right=3)  # 3 of the 4 drawn: 75, although 3 of 10 in the bank
    attempt = p.last()
    assert (attempt.score, attempt.is_passed) == (75.0, True)


def test_a_new_version_of_the_quiz_still_prefers_questions_not_seen(
    app, firm, english_worker, publish, enrol, login, client
):
    course = publish(firm, "versions", lessons=1, quiz=bank(6, draw=3))
    enrolled = enrol(english_worker, course)
    login(english_worker)
    first = Learner(app, client, course, enrolled)
    url = first.start_url()
    seen = set(first.prompts(first.last()))
    first.answer_bank(url, right=0)
    # Version 2 copies the questions into new rows; the learner moves to it.
    again = publish(firm, "versions", lessons=1, quiz=bank(6, draw=3), version=2)
    second = Learner(app, client, again, enrolled)
    second.start_url()
    assert second.last().lesson_id == again.lesson(QUIZ_KEY)
    assert seen.isdisjoint(second.prompts(second.last()))


def test_the_lesson_page_says_how_many_questions_an_attempt_draws(learner):
    p = learner(bank(10, draw=4))
    page = p.page(p.lesson_url)
    assert "4 per attempt, drawn from 10" in page


# --- review policy ------------------------------------------------------------------------

# What each situation shows: a failed attempt with attempts left, a pass, the last attempt failed.
REVIEW = {
    "never": (False, False, False),
    "after_pass": (False, True, False),
    "after_last": (False, False, True),
    "after_pass_or_last": (False, True, True),
    None: (False, True, True),  # the default
}


def _take(p: Learner, situation: str) -> str:
    """Bring the learner into the situation; the URL of the last attempt's result."""
    if situation == "failed":
        url = p.start_url()
        p.answer_bank(url, right=0)
    elif situation == "passed":
        url = p.start_url()
        p.answer_bank(url, right=2)
    else:  # the last of the two attempts failed too
        for _ in range(2):
            url = p.start_url()
            p.answer_bank(url, right=0)
    return url


@pytest.mark.parametrize("situation", ["failed", "passed", "last"])
@pytest.mark.parametrize("review", list(REVIEW), ids=[str(k) for k in REVIEW])
def test_the_review_policy_decides_when_answers_and_explanations_are_shown(
    learner, review, situation
):
    settings = {"attempts": 2, "pass_mark": 100}
    if review is not None:
        settings["review"] = review
    p = learner(bank(2, **settings))
    url = _take(p, situation)
    page = p.page(url)
    shown = REVIEW[review][["failed", "passed", "last"].index(situation)]
    assert ("解释1" in page) is shown
    if situation != "passed":
        # The right answer of a wrongly answered question ("1-对") appears only in a review.
        assert ("1-对" in page) is shown
        assert "1-错" in page  # the learner's own answer is always there
    # Always: the score, and which questions were right or wrong.
    assert "Score: " in page
    marks = re.findall(r'<span class="status (ok|off)">[✓✕]', page)
    assert len(marks) == 2
    # The lesson page links the attempt as its answers or as its result.
    lesson = p.page(p.lesson_url)
    assert ("See answers" in lesson) is shown
    assert ("See the result" in lesson) is not shown


def test_an_unknown_stored_review_value_falls_back_to_the_default(app, learner):
    p = learner(bank(2, attempts=1, pass_mark=100))
    with app.app_context():
        quiz = db.session.get(Lesson, p.quiz_id)
        quiz.data = {**quiz.data, "review": "sometimes"}
        db.session.commit()
    url = _take(p, "failed")  # the only attempt: the last one
    assert "解释1" in p.page(url)


# --- unanswered questions: confirm before grading -----------------------------------------


def test_submitting_with_unanswered_questions_asks_to_confirm_and_burns_no_attempt(learner):
    p = learner(QUIZ_EACH_TYPE)
    url = p.start_url()
    qids = p.course.question_ids[QUIZ_KEY]
    response = p.client.post(url, data={f"q{qids[0]}": "红色", f"q{qids[2]}": "false"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # The warning names how many and which, linking to them.
    warning = re.search(r'id="quiz-unanswered"[^>]*>(.*?)</div>', page, re.S)
    assert warning and "hidden" not in warning.group(0).split(">")[0]
    assert re.search(r"2\D+4", warning.group(1))
    assert re.findall(r'href="#question-(\d+)"', warning.group(1)) == ["2", "4"]
    assert re.search(r'<li class="card unanswered" id="question-2"', page)
    assert re.search(r'<li class="card unanswered" id="question-4"', page)
    # The answers given are kept, and confirming is offered.
    assert re.search(rf'name="q{qids[0]}" value="红色" checked', page)
    assert re.search(rf'name="q{qids[2]}" value="false" checked', page)
    confirm = re.search(r'<button type="submit" name="confirm" value="1"[^>]*>', page)
    assert confirm and "hidden" not in confirm.group(0)
    # Nothing graded, no attempt used: starting again resumes this attempt.
    attempt = p.last()
    assert (attempt.submitted_at, attempt.score, attempt.number) == (None, None, 1)
    assert p.start_url() == url
    assert len(p.attempts()) == 1


def test_an_empty_submit_burns_no_attempt(learner):
    p = learner({**QUIZ_EACH_TYPE, "attempts": 1})
    url = p.start_url()
    response = p.client.post(url, data={})
    assert response.status_code == 200
    assert re.search(r"4\D+4", response.get_data(as_text=True))
    assert p.last().submitted_at is None


def test_blank_text_counts_as_unanswered(learner):
    p = learner(QUIZ_EACH_TYPE)
    url = p.start_url()
    qids = p.course.question_ids[QUIZ_KEY]
    data = {
        f"q{qids[0]}": "红色",
        f"q{qids[1]}": ["安全帽"],
        f"q{qids[2]}": "true",
        f"q{qids[3]}": " \u3000 ",
    }
    page = p.client.post(url, data=data).get_data(as_text=True)
    assert re.findall(r'href="#question-(\d+)"', page) == ["4"]
    # Every kept answer, for each question type.
    assert re.search(rf'name="q{qids[1]}" value="安全帽" checked', page)
    assert not re.search(rf'name="q{qids[1]}" value="防护手套" checked', page)
    assert re.search(rf'name="q{qids[2]}" value="true" checked', page)
    assert p.last().submitted_at is None


def test_a_text_answer_is_kept_as_typed(learner):
    p = learner(QUIZ_EACH_TYPE)
    url = p.start_url()
    qids = p.course.question_ids[QUIZ_KEY]
    page = p.client.post(url, data={f"q{qids[3]}": 'T"ON<'}).get_data(as_text=True)
    assert f'name="q{qids[3]}" type="text" autocomplete="off" value="T&#34;ON&lt;"' in page


def test_confirming_grades_the_blanks_as_wrong(learner):
    p = learner(QUIZ_EACH_TYPE)
    url = p.start_url()
    qids = p.course.question_ids[QUIZ_KEY]
    response = p.client.post(url, data={f"q{qids[0]}": "红色", "confirm": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    attempt = p.last()
    assert (attempt.score, attempt.submitted_at is not None) == (25.0, True)


def test_all_questions_answered_are_graded_without_a_confirmation(learner):
    p = learner(bank(3))
    url = p.start_url()
    response = p.answer_bank(url, right=3)
    assert response.status_code == 302
    assert p.last().score == 100.0


def test_a_timed_out_attempt_is_graded_without_asking(app, learner):
    p = learner({**QUIZ_EACH_TYPE, "time_limit_minutes": 5})
    url = p.start_url()
    with app.app_context():
        attempt = db.session.scalars(select(QuizAttempt)).one()
        attempt.deadline_at = utcnow() - timedelta(seconds=5)  # sent within the grace
        db.session.commit()
    qids = p.course.question_ids[QUIZ_KEY]
    response = p.client.post(url, data={f"q{qids[0]}": "红色"})
    assert response.status_code == 302
    assert (p.last().score, p.last().submitted_at is not None) == (25.0, True)


def test_a_long_expired_attempt_is_still_graded_as_nothing(app, learner):
    p = learner({**QUIZ_EACH_TYPE, "time_limit_minutes": 5})
    url = p.start_url()
    with app.app_context():
        attempt = db.session.scalars(select(QuizAttempt)).one()
        attempt.deadline_at = utcnow() - timedelta(minutes=10)
        db.session.commit()
    qids = p.course.question_ids[QUIZ_KEY]
    assert p.client.post(url, data={f"q{qids[0]}": "红色"}).status_code == 302
    assert (p.last().score, p.last().is_passed) == (0.0, False)


def test_a_double_confirmed_submit_grades_once(learner):
    p = learner(bank(4))
    url = p.start_url()
    first = p.answer_bank(url, right=1, confirm=True)
    second = p.answer_bank(url, right=4, confirm=True)
    assert first.status_code == second.status_code == 302
    assert [(a.number, a.score) for a in p.attempts()] == [(1, 25.0)]


def test_a_replayed_submit_after_grading_neither_asks_nor_changes_anything(learner):
    p = learner(QUIZ_EACH_TYPE)
    url = p.start_url()
    qids = p.course.question_ids[QUIZ_KEY]
    p.client.post(url, data={f"q{qids[0]}": "红色", "confirm": "1"})
    replay = p.client.post(url, data={f"q{qids[0]}": "绿色"})
    assert replay.status_code == 302
    assert [(a.number, a.score) for a in p.attempts()] == [(1, 25.0)]


def test_the_answers_of_an_open_attempt_are_not_in_its_page(learner):
    p = learner(bank(3))
    page = p.page(p.start_url())
    for n in range(1, 4):
        assert f"解释{n}" not in page


# --- retry from the result page -----------------------------------------------------------


def _start_form(page: str, lesson_url: str) -> re.Match | None:
    return re.search(
        rf'<form method="post" action="{re.escape(lesson_url)}/attempts">\s*'
        r"(?:<input[^>]*csrf_token[^>]*>)?\s*"
        r'<button type="submit" class="([^"]*)">([^<]*)</button>',
        page,
    )


def test_a_failed_attempt_offers_try_again_as_the_primary_action(learner):
    p = learner(bank(2, attempts=3, pass_mark=100))
    url = p.start_url()
    p.answer_bank(url, right=1)
    page = p.page(url)
    retry = _start_form(page, p.lesson_url)
    assert retry, page
    assert "primary" in retry.group(1)
    assert retry.group(2).strip() == "Try again"
    assert "Attempts left: 2 of 3" in page
    back = re.search(rf'<a class="([^"]*)" href="{re.escape(p.lesson_url)}">', page)
    assert back and "primary" not in back.group(1)
    # Pressing it starts attempt 2.
    again = p.start_url()
    assert again != url
    assert [a.number for a in p.attempts()] == [1, 2]


def test_no_try_again_after_passing(learner):
    p = learner(bank(2, attempts=3))
    url = p.start_url()
    p.answer_bank(url, right=2)
    page = p.page(url)
    assert _start_form(page, p.lesson_url) is None
    back = re.search(rf'<a class="([^"]*)" href="{re.escape(p.lesson_url)}">', page)
    assert back and "primary" in back.group(1)


def test_no_try_again_when_every_attempt_is_used(learner):
    p = learner(bank(2, attempts=2, pass_mark=100))
    for _ in range(2):
        url = p.start_url()
        p.answer_bank(url, right=0)
    page = p.page(url)
    assert _start_form(page, p.lesson_url) is None
    assert "You have used all 2 attempts of this quiz." in page
    assert _start_form(p.page(p.lesson_url), p.lesson_url) is None


def test_an_earlier_result_offers_to_continue_the_open_attempt(learner):
    p = learner(bank(2, attempts=3, pass_mark=100))
    first = p.start_url()
    p.answer_bank(first, right=0)
    second = p.start_url()
    page = p.page(first)
    assert _start_form(page, p.lesson_url) is None
    assert re.search(rf'<a class="button primary wide" href="{re.escape(second)}"', page)


# --- the primary action on the lesson page ------------------------------------------------


def _next_lesson_class(page: str, learner: Learner) -> str:
    practical = learner.course.lesson("practical:实操")
    link = re.search(
        rf'<a class="([^"]*)" href="{re.escape(learner.enrolled.url)}/lessons/{practical}">',
        page,
    )
    assert link, "no next-lesson button"
    return link.group(1)


def test_the_quiz_is_the_primary_action_until_it_is_passed(learner):
    p = learner(bank(2, attempts=3, pass_mark=100), practical=True)
    # Before any attempt: start the quiz (primary); next lesson is secondary.
    page = p.page(p.lesson_url)
    start = _start_form(page, p.lesson_url)
    assert start and "primary" in start.group(1)
    assert "primary" not in _next_lesson_class(page, p).split()
    # After a failed attempt: try again (primary); next lesson still secondary.
    url = p.start_url()
    p.answer_bank(url, right=1)
    page = p.page(p.lesson_url)
    retry = _start_form(page, p.lesson_url)
    assert retry and "primary" in retry.group(1)
    assert retry.group(2).strip() == "Try again"
    assert page.index(retry.group(0)) < page.index(_next_lesson_class(page, p))
    assert "primary" not in _next_lesson_class(page, p).split()
    # After passing: no quiz button; next lesson is the primary action.
    url = p.start_url()
    p.answer_bank(url, right=2)
    page = p.page(p.lesson_url)
    assert _start_form(page, p.lesson_url) is None
    assert "primary" in _next_lesson_class(page, p).split()


def test_with_every_attempt_failed_next_lesson_is_the_only_action(learner):
    p = learner(bank(2, attempts=1, pass_mark=100), practical=True)
    p.answer_bank(p.start_url(), right=0)
    page = p.page(p.lesson_url)
    assert _start_form(page, p.lesson_url) is None
    assert "primary" in _next_lesson_class(page, p).split()


# --- the countdown ------------------------------------------------------------------------


def test_a_timed_attempt_carries_the_server_deadline_for_the_countdown(learner):
    p = learner({**QUIZ_EACH_TYPE, "time_limit_minutes": 5})
    page = p.page(p.start_url())
    attempt = p.last()
    box = re.search(r'<div class="[^"]*quiz-deadline[^"]*" id="quiz-deadline"([^>]*)>', page, re.S)
    assert box
    attrs = dict(re.findall(r'(data-[\w-]+)="([^"]*)"', box.group(1)))
    assert attrs["data-deadline"] == attempt.deadline_at.isoformat()
    assert attrs["data-deadline"].endswith("+00:00")  # an unambiguous moment
    assert 290 <= int(attrs["data-remaining"]) <= 300
    assert "{time}" in attrs["data-time-left"]
    # The deadline is readable without JavaScript; the countdown is filled in by quiz.js.
    assert "quiz-countdown" in page and 'role="timer" hidden' in page
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert all('src="' in attrs and not body.strip() for attrs, body in scripts)  # CSP
    assert any("/static/js/quiz.js" in attrs for attrs, _ in scripts)


def test_the_remaining_seconds_come_from_the_server_clock(app, learner):
    p = learner({**QUIZ_EACH_TYPE, "time_limit_minutes": 5})
    url = p.start_url()
    with app.app_context():
        attempt = db.session.scalars(select(QuizAttempt)).one()
        attempt.deadline_at = utcnow() + timedelta(seconds=42)
        db.session.commit()
    remaining = int(re.search(r'data-remaining="(\d+)"', p.page(url)).group(1))
    assert 40 <= remaining <= 42


def test_an_untimed_attempt_has_no_countdown(learner):
    p = learner(bank(2))
    page = p.page(p.start_url())
    assert "quiz-deadline" not in page and "data-remaining" not in page


def test_the_confirmation_counts_no_attempt_in_the_database(app, learner):
    p = learner(bank(3, attempts=1))
    url = p.start_url()
    for _ in range(3):
        assert p.client.post(url, data={}).status_code == 200
    with app.app_context():
        graded = db.session.scalar(
            select(func.count()).select_from(QuizAttempt).where(QuizAttempt.score.is_not(None))
        )
    assert graded == 0
    assert p.answer_bank(url, right=3).status_code == 302
    assert p.last().score == 100.0
