"""The quiz editor's bank settings (issue 13, quizzes): "Questions per attempt" (`draw`) and
when the correct answers are shown (`review`), next to the other quiz settings; validated in
the form and the service, and a draw larger than the quiz keeps the version from review."""

from __future__ import annotations

import re

import pytest

from lms.auth.models import User
from lms.courses import authoring as service
from lms.courses.models import CourseVersion, Lesson
from lms.extensions import db

from . import steps
from .conftest import base_url, errors_in, lesson_by_title, statuses, text_of, version_of


@pytest.fixture
def quiz_course(app, client, login, world):
    """A draft course with one module and a quiz lesson "期末测验"; the trainer is signed in."""
    firm, slug = world.firm, "bank-course"
    login(world.trainer)
    steps.create_course(client, firm, slug, "题库课程")
    steps.add_module(client, firm, slug, "模块")
    module_id = version_of(app, slug)["modules"][0]["id"]
    r = steps.add_lesson(
        client,
        firm,
        slug,
        module_id,
        "quiz",
        {"title": "期末测验", "pass_mark": "60", "attempts": "3", "draw": ""},
    )
    assert r.status_code == 302
    quiz = lesson_by_title(version_of(app, slug), "期末测验")
    return firm, slug, quiz["id"]


def edit(client, firm, slug, lesson_id, **fields):
    data = {"save": "1", "title": "期末测验", "pass_mark": "60", "attempts": "3", **fields}
    return client.post(f"{base_url(firm, slug)}/lessons/{lesson_id}/edit", data=data)


def quiz_data(app, slug) -> dict:
    return lesson_by_title(version_of(app, slug), "期末测验")["data"]


def add_questions(client, firm, slug, lesson_id, count, *, first=0):
    for n in range(first, first + count):
        r = steps.add_question(
            client,
            firm,
            slug,
            lesson_id,
            "true_false",
            {"prompt": f"判断{n}", "truth": "true"},
        )
        assert r.status_code == 302, text_of(r)


def test_a_new_quiz_with_empty_settings_asks_every_question_with_the_default_review(
    app, quiz_course
):
    _firm, slug, _id = quiz_course
    assert quiz_data(app, slug) == {"pass_mark": 60, "attempts": 3, "shuffle": False}


def test_the_editor_saves_draw_and_review_and_shows_them_again(app, client, quiz_course):
    firm, slug, lesson_id = quiz_course
    add_questions(client, firm, slug, lesson_id, 3)
    r = edit(client, firm, slug, lesson_id, draw="2", review="never")
    assert r.status_code == 302
    assert quiz_data(app, slug) == {
        "pass_mark": 60,
        "attempts": 3,
        "shuffle": False,
        "draw": 2,
        "review": "never",
    }
    page = text_of(client.get(f"{base_url(firm, slug)}/lessons/{lesson_id}/edit"))
    assert re.search(r'<input[^>]*id="draw"[^>]*value="2"', page)
    assert re.search(r'<option selected value="never">|<option value="never" selected>', page)
    assert "The quiz has 3 questions." in page
    # Labels of every policy, in the order of the list.
    options = re.findall(r'<option[^>]*value="(\w+)"', page.split('id="review"')[1])[:4]
    assert options == ["after_pass_or_last", "after_pass", "after_last", "never"]


def test_clearing_draw_and_choosing_the_default_review_stores_neither(app, client, quiz_course):
    firm, slug, lesson_id = quiz_course
    add_questions(client, firm, slug, lesson_id, 2)
    edit(client, firm, slug, lesson_id, draw="2", review="after_last")
    assert quiz_data(app, slug)["review"] == "after_last"
    r = edit(client, firm, slug, lesson_id, draw="", review="after_pass_or_last")
    assert r.status_code == 302
    assert quiz_data(app, slug) == {"pass_mark": 60, "attempts": 3, "shuffle": False}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"draw": "0"}, "draw", "1 to 500 questions."),
        ({"draw": "501"}, "draw", "1 to 500 questions."),
        ({"draw": "三"}, "draw", "Not a valid integer value."),
        ({"review": "sometimes"}, "review", "Not a valid choice."),
    ],
)
def test_a_bad_setting_is_shown_next_to_its_field_and_nothing_is_saved(
    app, client, quiz_course, fields, field, message
):
    firm, slug, lesson_id = quiz_course
    before = quiz_data(app, slug)
    r = edit(client, firm, slug, lesson_id, **{"pass_mark": "70", **fields})
    page = text_of(r)
    assert r.status_code == 200
    assert message in errors_in(page)
    assert re.search(rf'<p class="error" id="{field}-error">', page)
    assert quiz_data(app, slug) == before


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"draw": 0}, None),  # empty: every question
        ({"draw": -2}, "draw"),
        ({"draw": 501}, "draw"),
        ({"draw": True}, "draw"),
        ({"draw": "3"}, "draw"),
        ({"review": "later"}, "review"),
        ({"review": ["never"]}, "review"),
    ],
)
def test_the_service_checks_the_settings_too(app, world, quiz_course, settings, field):
    _firm, _slug, lesson_id = quiz_course
    with app.test_request_context():
        lesson = db.session.get(Lesson, lesson_id)
        actor = db.session.get(User, world.trainer.id)
        if field is None:
            service.update_lesson(actor, lesson, title="期末测验", settings=settings)
            assert "draw" not in lesson.data
        else:
            with pytest.raises(service.AuthoringError) as raised:
                service.update_lesson(actor, lesson, title="期末测验", settings=settings)
            assert raised.value.field == field
        db.session.rollback()


def test_a_draw_larger_than_the_quiz_keeps_the_version_from_review(app, client, quiz_course):
    firm, slug, lesson_id = quiz_course
    add_questions(client, firm, slug, lesson_id, 2)
    edit(client, firm, slug, lesson_id, draw="5")  # allowed while the questions are written
    r = steps.submit(client, firm, slug)
    assert r.status_code == 200
    assert (
        "Quiz “期末测验” asks 5 questions per attempt but has only 2: add questions or ask fewer."
        in text_of(r)
    )
    assert statuses(app, slug) == {1: "draft"}
    add_questions(client, firm, slug, lesson_id, 3, first=2)
    with app.app_context():
        version = db.session.get(CourseVersion, version_of(app, slug)["id"])
        assert [str(p) for p in service.version_problems(version)] == []
    assert steps.submit(client, firm, slug).status_code == 302
    assert statuses(app, slug) == {1: "submitted"}
    # The submitted version's read-only outline names the draw.
    assert "5 drawn per attempt" in text_of(client.get(base_url(firm, slug)))


def test_a_bad_draw_and_a_bad_review_are_reported_together(app, world, quiz_course):
    _firm, _slug, lesson_id = quiz_course
    with app.test_request_context():
        lesson = db.session.get(Lesson, lesson_id)
        actor = db.session.get(User, world.trainer.id)
        with pytest.raises(service.AuthoringError) as raised:
            service.update_lesson(
                actor, lesson, title="期末测验", settings={"draw": -1, "review": "later"}
            )
        assert set(raised.value.errors) >= {"draw", "review"}
        db.session.rollback()
