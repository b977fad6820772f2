"""Every registered question type through the quiz pages (issue 13, the registries own their
types): its answer input on the attempt page, the learner's answer read back from the form by
its type, graded, and shown in the review as its type's template does."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from lms.courses.models import Question
from lms.courses.question_types import QUESTION_TYPES
from lms.extensions import db
from lms.learning.models import QuizAttempt
from tests.courses.test_type_registries import QUESTION_EXAMPLES

QUIZ_KEY = "quizzes/final.yaml"
QUIZ = {
    "title": "每种题型",
    "pass_mark": 60,
    "attempts": 2,
    "shuffle": True,
    "questions": [
        {"type": kind, **definition, "explanation": f"解析：{kind}"}
        for kind, (definition, _stored) in QUESTION_EXAMPLES.items()
    ],
}


def _shown(html: str, qid: int) -> list[str]:
    return [unescape(v) for v in re.findall(rf'name="q{qid}-item" value="([^"]*)"', html)]


def _post(kind: str, question, response, html: str) -> list[tuple[str, str]]:
    """The form fields a learner's browser posts for `response` to a question of `kind`."""
    name = f"q{question.id}"
    if kind == "ordering":  # a place per item, the items in the order the page shows them
        places = {item: str(n) for n, item in enumerate(response, start=1)}
        return [
            pair
            for item in _shown(html, question.id)
            for pair in ((f"{name}-item", item), (name, places.get(item, "")))
        ]
    if isinstance(response, list):
        return [(name, r) for r in response]
    return [(name, response)]


WRONG = {
    "single": "绿色",
    "multiple": ["手机"],
    "true_false": "true",
    "fill_blank": "千克",
    "ordering": ["验证", "上锁", "断电", "停机"],  # reversed: no item in its place
}


def test_every_type_has_a_way_to_be_answered_here():
    assert set(WRONG) == set(QUESTION_TYPES)


@pytest.fixture
def learner(app, firm, create_user, publish, enrol, login, client):
    worker = create_user(role="worker", firm=firm, locale="en")
    course = publish(firm, "every-question-type", lessons=1, quiz=QUIZ)
    enrolled = enrol(worker, course)
    login(worker)
    with app.app_context():
        questions = {
            q.type: q
            for q in db.session.scalars(
                select(Question).where(Question.id.in_(course.question_ids[QUIZ_KEY]))
            )
        }
        db.session.expunge_all()
    start = client.post(f"{enrolled.url}/lessons/{course.lesson(QUIZ_KEY)}/attempts")
    assert start.status_code == 302
    return client, start.headers["Location"], questions


def _attempt(app) -> QuizAttempt:
    with app.app_context():
        attempt = db.session.scalars(select(QuizAttempt)).one()
        db.session.expunge(attempt)
        return attempt


@pytest.mark.parametrize("right", [True, False], ids=["all right", "all wrong"])
def test_every_type_is_answered_graded_and_reviewed_through_the_pages(app, learner, right):
    client, url, questions = learner
    html = client.get(url).get_data(as_text=True)
    for kind, q in questions.items():
        assert f'name="q{q.id}"' in html, kind  # its input, from its own template
        assert f"({QUESTION_TYPES[kind].label})" in html
    responses = {
        kind: QUESTION_TYPES[kind].correct_response(q) if right else WRONG[kind]
        for kind, q in questions.items()
    }
    form = [pair for kind, q in questions.items() for pair in _post(kind, q, responses[kind], html)]
    assert client.post(url, data=MultiDict(form)).status_code == 302

    attempt = _attempt(app)
    assert attempt.score == (100 if right else 0)
    for kind, q in questions.items():
        result = attempt.results[str(q.id)]
        assert result["correct"] is right, kind
        assert result["response"] == responses[kind], kind  # read back as its type reads it

    review = client.get(url).get_data(as_text=True)
    verdicts = re.findall(r'class="status (?:ok|off)">(✓ correct|✕ wrong)</span>', review)
    assert verdicts == ["✓ correct" if right else "✕ wrong"] * len(questions)
    # Passed: the explanations (and for wrong answers the correct ones) are shown; failed with
    # an attempt left: neither, by the default review policy.
    for kind in questions:
        assert (f"解析：{kind}" in review) is right, kind
    assert "Correct answer:" not in review and "Correct order:" not in review
