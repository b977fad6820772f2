"""Quizzes through the player: start → submit, scoring and pass/fail, explanations after
submitting, replayed submits, the attempt limit, shuffling, the server-side time limit,
fill-in-the-blank normalisation, and the grading of every question type."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.core.types import utcnow
from lms.courses.models import Lesson, Question
from lms.courses.question_types import QUESTION_TYPES, normalize_text
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment, QuizAttempt
from tests.learning.conftest import QUIZ_EACH_TYPE

QUIZ_KEY = "quizzes/final.yaml"


@pytest.fixture
def quiz_course(firm, publish):
    """publish a course with one lesson and the given quiz (default: one question per type)."""

    def make(quiz: dict | None = None, slug: str = "quiz-course"):
        return publish(firm, slug, lessons=1, quiz=quiz or QUIZ_EACH_TYPE)

    return make


class Player:
    """A signed-in learner taking a course's quiz through the pages."""

    def __init__(self, client, course, enrolled):
        self.client = client
        self.course = course
        self.enrolled = enrolled
        self.quiz_id = course.lesson(QUIZ_KEY)
        self.question_ids = course.question_ids[QUIZ_KEY]

    def start(self):
        return self.client.post(f"{self.enrolled.url}/lessons/{self.quiz_id}/attempts")

    def start_attempt_url(self) -> str:
        response = self.start()
        assert response.status_code == 302
        location = response.headers["Location"]
        assert re.search(rf"{re.escape(self.enrolled.url)}/attempts/[\w-]+$", location), location
        return location

    def submit(self, url: str, answers: dict[int, object], *, confirm: bool = True):
        """answers: {question position: value} → form fields q<question id>; `confirm`: the
        learner confirmed sending unanswered questions (tests/learning/test_quiz_bank.py)."""
        data = {f"q{self.question_ids[pos]}": value for pos, value in answers.items()}
        if confirm:
            data["confirm"] = "1"
        return self.client.post(url, data=data)

    def page(self, url: str) -> str:
        response = self.client.get(url)
        assert response.status_code == 200
        return response.get_data(as_text=True)


@pytest.fixture
def player(quiz_course, worker, enrol, login, client):
    def make(quiz: dict | None = None) -> Player:
        course = quiz_course(quiz)
        enrolled = enrol(worker, course)
        login(worker)
        return Player(client, course, enrolled)

    return make


def attempts(enrollment_id: int) -> list[tuple]:
    return [
        (a.number, a.score, a.is_passed, a.submitted_at is not None)
        for a in db.session.scalars(
            select(QuizAttempt)
            .where(QuizAttempt.enrollment_id == enrollment_id)
            .order_by(QuizAttempt.number)
        )
    ]


ALL_RIGHT = {0: "红色", 1: ["安全帽", "防护手套"], 2: "false", 3: "TON"}


# --- start, submit, score ----------------------------------------------------------------


def test_all_answers_right_scores_100_and_passes_the_quiz(app, player):
    p = player()
    url = p.start_attempt_url()
    response = p.submit(url, ALL_RIGHT)
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    with app.app_context():
        assert attempts(p.enrolled.id) == [(1, 100.0, True, True)]
        lesson_done = learning.lesson_done(
            db.session.get(Lesson, p.quiz_id),
            learning.progress_map(db.session.get(Enrollment, p.enrolled.id)),
        )
    assert lesson_done
    assert "100" in p.page(url)


def test_score_counts_right_answers_and_pass_mark_decides(app, player):
    p = player()  # pass mark 75
    url = p.start_attempt_url()
    p.submit(url, {0: "红色", 1: ["安全帽", "防护手套"], 2: "true", 3: "TON"})  # 3 of 4
    with app.app_context():
        assert attempts(p.enrolled.id) == [(1, 75.0, True, True)]


def test_below_the_pass_mark_fails_and_the_lesson_stays_open(app, player):
    p = player()
    url = p.start_attempt_url()
    p.submit(url, {0: "绿色", 1: ["安全帽"], 2: "false", 3: "KG"})  # 1 of 4
    with app.app_context():
        assert attempts(p.enrolled.id) == [(1, 25.0, False, True)]
    lesson_page = p.page(f"{p.enrolled.url}/lessons/{p.quiz_id}")
    assert f'action="{p.enrolled.url}/lessons/{p.quiz_id}/attempts"' in lesson_page


def test_unanswered_questions_count_as_wrong(app, player):
    p = player()
    url = p.start_attempt_url()
    p.submit(url, {0: "红色"})
    with app.app_context():
        assert attempts(p.enrolled.id) == [(1, 25.0, False, True)]


def test_explanations_and_correct_answers_are_shown_only_after_submitting(player):
    p = player()
    url = p.start_attempt_url()
    before = p.page(url)
    for q in QUIZ_EACH_TYPE["questions"]:
        assert q["prompt"] in before
        assert q["explanation"] not in before
    p.submit(url, {0: "绿色", 1: ["安全帽", "防护手套"], 2: "false", 3: "TON"})
    after = p.page(url)
    for q in QUIZ_EACH_TYPE["questions"]:
        assert q["explanation"] in after
    # The wrong answer is shown with the right one.
    assert "绿色" in after and "红色" in after
    assert 'name="q' not in after  # no form any more


def test_a_replayed_submit_counts_once(app, player):
    p = player()
    url = p.start_attempt_url()
    p.submit(url, {0: "红色"})
    replay = p.submit(url, ALL_RIGHT)
    assert replay.status_code == 302
    with app.app_context():
        assert attempts(p.enrolled.id) == [(1, 25.0, False, True)]
        assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 1


def test_starting_twice_resumes_the_open_attempt(app, player):
    p = player()
    first = p.start_attempt_url()
    again = p.start_attempt_url()
    assert again == first
    with app.app_context():
        assert attempts(p.enrolled.id) == [(1, None, False, False)]


def test_the_attempt_limit_is_enforced(app, player):
    p = player({**QUIZ_EACH_TYPE, "attempts": 2})
    for _ in range(2):
        p.submit(p.start_attempt_url(), {0: "绿色"})
    refused = p.start()
    assert refused.status_code == 302
    assert refused.headers["Location"].endswith(f"/lessons/{p.quiz_id}")
    page = p.client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "flash-error" in page
    # No button that can only be refused: the page says the attempts are used up.
    assert f'action="{p.enrolled.url}/lessons/{p.quiz_id}/attempts"' not in page
    with app.app_context():
        assert [a[0] for a in attempts(p.enrolled.id)] == [1, 2]


def test_the_attempt_limit_message_says_how_many_attempts(app, firm, worker, publish, enrol):
    course = publish(firm, "limited", lessons=1, quiz={**QUIZ_EACH_TYPE, "attempts": 1})
    enrolled = enrol(worker, course)
    with app.test_request_context():
        enrollment = db.session.get(Enrollment, enrolled.id)
        quiz = db.session.get(Lesson, course.lesson(QUIZ_KEY))
        learning.submit_attempt(learning.start_attempt(enrollment, quiz), {})
        with pytest.raises(learning.LearningError) as raised:
            learning.start_attempt(enrollment, quiz)
        assert "1" in str(raised.value.message)


def test_a_passed_quiz_cannot_be_started_again(app, player):
    p = player()
    p.submit(p.start_attempt_url(), ALL_RIGHT)
    refused = p.start()
    assert refused.headers["Location"].endswith(f"/lessons/{p.quiz_id}")
    with app.app_context():
        assert len(attempts(p.enrolled.id)) == 1


def test_another_learners_attempt_is_not_found(app, player, create_user, firm, login):
    p = player()
    url = p.start_attempt_url()
    other = app.test_client()
    login(create_user(role="worker", firm=firm), c=other)
    assert other.get(url).status_code == 404
    assert other.post(url, data={f"q{p.question_ids[0]}": "红色"}).status_code == 404
    with app.app_context():
        assert attempts(p.enrolled.id) == [(1, None, False, False)]


# --- shuffling ---------------------------------------------------------------------------

MANY_QUESTIONS = {
    "title": "乱序测验",
    "pass_mark": 100,
    "attempts": 0,
    "shuffle": True,
    "questions": [
        {
            "type": "single",
            "prompt": f"第{n}题",
            "choices": [f"{n}-A", f"{n}-B", f"{n}-C", f"{n}-D"],
            "answer": f"{n}-A",
        }
        for n in range(1, 9)
    ],
}


def test_shuffled_quiz_orders_questions_and_choices_per_attempt(app, firm, worker, publish, enrol):
    course = publish(firm, "shuffled", lessons=1, quiz=MANY_QUESTIONS)
    enrolled = enrol(worker, course)
    definition = course.question_ids[QUIZ_KEY]
    orders, choice_orders = [], []
    with app.test_request_context():
        enrollment = db.session.get(Enrollment, enrolled.id)
        quiz = db.session.get(Lesson, course.lesson(QUIZ_KEY))
        choices = {q.id: q.choices for q in quiz.questions}
        for _ in range(5):
            attempt = learning.start_attempt(enrollment, quiz)
            orders.append(list(attempt.question_ids))
            choice_orders.append(dict(attempt.choice_orders))
            learning.submit_attempt(attempt, {})
        db.session.commit()
    for order in orders:
        assert sorted(order) == sorted(definition)
    assert any(order != definition for order in orders)
    for attempt_choices in choice_orders:
        assert set(attempt_choices) == {str(qid) for qid in definition}
        for qid, order in attempt_choices.items():
            assert sorted(order) == sorted(choices[int(qid)])
    assert any(order != choices[int(qid)] for c in choice_orders for qid, order in c.items())


def test_the_attempt_page_shows_the_shuffled_order(
    app, firm, worker, publish, enrol, login, client
):
    course = publish(firm, "shuffled", lessons=1, quiz=MANY_QUESTIONS)
    enrolled = enrol(worker, course)
    login(worker)
    p = Player(client, course, enrolled)
    url = p.start_attempt_url()
    page = p.page(url)
    with app.app_context():
        attempt = db.session.scalars(select(QuizAttempt)).one()
        question_ids, choice_orders = attempt.question_ids, attempt.choice_orders
    shown = [int(x) for x in dict.fromkeys(re.findall(r'name="q(\d+)"', page))]
    assert shown == question_ids
    first = question_ids[0]
    shown_choices = re.findall(rf'name="q{first}" value="([^"]+)"', page)
    assert shown_choices == choice_orders[str(first)]


def test_an_unshuffled_quiz_keeps_the_definition_order(app, firm, worker, publish, enrol):
    course = publish(firm, "ordered", lessons=1, quiz={**MANY_QUESTIONS, "shuffle": False})
    enrolled = enrol(worker, course)
    with app.test_request_context():
        enrollment = db.session.get(Enrollment, enrolled.id)
        quiz = db.session.get(Lesson, course.lesson(QUIZ_KEY))
        for _ in range(3):
            attempt = learning.start_attempt(enrollment, quiz)
            assert attempt.question_ids == course.question_ids[QUIZ_KEY]
            assert attempt.choice_orders == {str(q.id): q.choices for q in quiz.questions}
            learning.submit_attempt(attempt, {})


# --- time limit --------------------------------------------------------------------------


def test_time_limit_is_enforced_on_the_server(app, player):
    p = player({**QUIZ_EACH_TYPE, "time_limit_minutes": 5})
    url = p.start_attempt_url()
    with app.app_context():
        attempt = db.session.scalars(select(QuizAttempt)).one()
        assert attempt.deadline_at is not None
        attempt.deadline_at = utcnow() - timedelta(minutes=10)
        db.session.commit()
    p.submit(url, ALL_RIGHT)
    with app.app_context():
        attempt = db.session.scalars(select(QuizAttempt)).one()
        assert (attempt.score, attempt.is_passed) == (0, False)
        assert attempt.submitted_at is not None
        assert all(r == {"correct": False, "response": None} for r in attempt.results.values())
        assert learning.progress_map(db.session.get(Enrollment, p.enrolled.id)) == {}


def test_answers_within_the_time_limit_count(app, player):
    p = player({**QUIZ_EACH_TYPE, "time_limit_minutes": 5})
    url = p.start_attempt_url()
    assert "flash-warning" in p.page(url)  # the deadline is shown
    p.submit(url, ALL_RIGHT)
    with app.app_context():
        assert attempts(p.enrolled.id) == [(1, 100.0, True, True)]


def test_an_expired_open_attempt_is_closed_when_the_learner_starts_again(app, player):
    p = player({**QUIZ_EACH_TYPE, "time_limit_minutes": 5})
    first = p.start_attempt_url()
    with app.app_context():
        attempt = db.session.scalars(select(QuizAttempt)).one()
        attempt.deadline_at = utcnow() - timedelta(minutes=10)
        db.session.commit()
    second = p.start_attempt_url()
    assert second != first
    with app.app_context():
        assert attempts(p.enrolled.id) == [(1, 0.0, False, True), (2, None, False, False)]


# --- fill in the blank -------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["ＴＯＮ", " ton ", "Ton", "TON", "ｔｏｎ", "\u3000TON\u3000"])
def test_fill_blank_accepts_full_width_spaces_and_any_case(app, player, typed):
    p = player()
    url = p.start_attempt_url()
    p.submit(url, {3: typed})
    with app.app_context():
        attempt = db.session.scalars(select(QuizAttempt)).one()
        assert attempt.results[str(p.question_ids[3])]["correct"] is True
        assert attempt.score == 25.0


@pytest.mark.parametrize("typed", ["TONS", "T O N", "", "吨"])
def test_fill_blank_rejects_other_answers(app, player, typed):
    p = player()
    p.submit(p.start_attempt_url(), {3: typed})
    with app.app_context():
        attempt = db.session.scalars(select(QuizAttempt)).one()
        assert attempt.results[str(p.question_ids[3])]["correct"] is False


# --- grading of each question type -------------------------------------------------------


def grade(kind: str, choices, answer, response) -> bool:
    return QUESTION_TYPES[kind].grade(choices, answer, response)


def test_registry_has_the_five_question_types():
    assert set(QUESTION_TYPES) == {"single", "multiple", "true_false", "fill_blank", "ordering"}


def test_single_choice_grading():
    choices = ["红色", "绿色", "蓝色"]
    assert grade("single", choices, "红色", "红色")
    assert not grade("single", choices, "红色", "绿色")
    assert not grade("single", choices, "红色", None)
    assert not grade("single", choices, "红色", ["红色"])
    assert not grade("single", choices, "红色", " 红色")
    assert grade("single", ["1", "2"], 2, "2")  # YAML numbers compare as text


def test_multiple_choice_grading_needs_exactly_the_right_set():
    choices = ["安全帽", "手套", "手机"]
    answer = ["安全帽", "手套"]
    assert grade("multiple", choices, answer, ["安全帽", "手套"])
    assert grade("multiple", choices, answer, ["手套", "安全帽"])
    assert not grade("multiple", choices, answer, ["安全帽"])
    assert not grade("multiple", choices, answer, ["安全帽", "手套", "手机"])
    assert not grade("multiple", choices, answer, "安全帽")
    assert not grade("multiple", choices, answer, None)
    assert not grade("multiple", choices, answer, [])


def test_true_false_grading():
    assert grade("true_false", [], True, "true")
    assert not grade("true_false", [], True, "false")
    assert grade("true_false", [], False, "false")
    assert not grade("true_false", [], False, "true")
    assert not grade("true_false", [], False, None)
    assert not grade("true_false", [], False, "")
    assert not grade("true_false", [], True, "yes")


def test_fill_blank_grading_accepts_any_listed_answer_normalised():
    assert grade("fill_blank", [], ["可编程控制器", "PLC"], "可编程控制器")
    assert grade("fill_blank", [], ["可编程控制器", "PLC"], " ｐｌｃ ")
    assert grade("fill_blank", [], "Modbus TCP", "modbus   tcp")
    assert not grade("fill_blank", [], "Modbus TCP", "modbustcp")
    assert not grade("fill_blank", [], "TON", None)
    assert not grade("fill_blank", [], "TON", ["TON"])


def test_normalize_text_folds_width_case_and_spaces():
    assert normalize_text("ＴＯＮ") == normalize_text(" ton ") == normalize_text("Ton") == "ton"
    assert normalize_text("Ａ\u3000Ｂ\tc") == "a b c"


@pytest.mark.parametrize(
    ("kind", "choices", "answer", "expected"),
    [
        ("single", ["A", "B"], "A", []),
        ("single", ["A"], "A", ["needs a list of at least 2 choices"]),
        ("single", ["A", "A"], "A", ["choices must be different from each other"]),
        ("single", ["A", "B"], "C", ["answer 'C' is not one of the choices"]),
        ("multiple", ["A", "B", "C"], ["A", "C"], []),
        ("multiple", ["A", "B"], "A", ["answer must be a list of the correct choices"]),
        ("multiple", ["A", "B"], ["A", "D"], ["answer 'D' is not one of the choices"]),
        ("true_false", [], True, []),
        ("true_false", ["对", "错"], True, ["true_false questions have no choices"]),
        ("true_false", [], "yes", ["answer must be true or false"]),
        ("fill_blank", [], "TON", []),
        ("fill_blank", [], ["吨", "t"], []),
        ("fill_blank", [], "", ["answer must be a text or a list of accepted texts"]),
        ("fill_blank", [], ["吨", " "], ["answer must be a text or a list of accepted texts"]),
        ("fill_blank", [], None, ["answer must be a text or a list of accepted texts"]),
        ("fill_blank", ["x", "y"], "x", ["fill_blank questions have no choices"]),
    ],
)
def test_each_type_checks_its_definition(kind, choices, answer, expected):
    assert QUESTION_TYPES[kind].problems(choices, answer) == expected


def test_stored_questions_grade_like_their_definitions(app, quiz_course):
    course = quiz_course()
    with app.app_context():
        questions = db.session.scalars(
            select(Question).where(Question.id.in_(course.question_ids[QUIZ_KEY]))
        ).all()
        right = {
            "single": "红色",
            "multiple": ["防护手套", "安全帽"],
            "true_false": "false",
            "fill_blank": "ｔｏｎ",
        }
        for q in questions:
            assert QUESTION_TYPES[q.type].grade(q.choices, q.answer, right[q.type]), q.type
