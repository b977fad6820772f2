"""Every authoring and review route, for every kind of caller (as tests/test_access_matrix.py):
guest, worker of another firm, member without the permission, member with it, consortium
admin, and an admin of another consortium (404: the firm or consortium is out of scope)."""

from __future__ import annotations

import pytest

from lms.auth.models import User
from lms.courses import authoring as service
from lms.extensions import db
from lms.tenancy.models import Firm
from tests.access import PERSONAS, assert_every_route_has_a_row, check_access

from . import steps
from .conftest import version_of

AUTHOR = 200  # course.author on the firm (its trainers): each caller's answer is derived
AUTHOR_302 = 302
REVIEW = 200  # course.approve on the consortium
REVIEW_302 = 302

D = "/authoring/firms/{firm}/courses/draft-course/v1"  # a draft of firm A
R = "/review/consortia/{consortium}/courses/review-course/v1"  # a submitted version

# endpoint: (method, url, who is "member with the permission", expected statuses in the
# order of PERSONAS). Placeholders are filled from the world below.
AUTHORING_MATRIX = {
    "authoring.my_courses": ("GET", "/authoring/firms/{firm}/courses", "trainer", AUTHOR),
    "authoring.new_course": ("GET", "/authoring/firms/{firm}/courses/new", "trainer", AUTHOR),
    "authoring.course": ("GET", "/authoring/firms/{firm}/courses/draft-course", "trainer", AUTHOR),
    "authoring.version": ("GET", D, "trainer", AUTHOR),
    "authoring.edit_course": ("GET", D + "/edit", "trainer", AUTHOR),
    "authoring.new_version": (
        "POST",
        "/authoring/firms/{firm}/courses/draft-course/versions",
        "trainer",
        AUTHOR_302,
    ),
    "authoring.new_module": ("GET", D + "/modules/new", "trainer", AUTHOR),
    "authoring.edit_module": ("GET", D + "/modules/{module}/edit", "trainer", AUTHOR),
    "authoring.move_module": ("POST", D + "/modules/{module}/move", "trainer", AUTHOR_302),
    "authoring.delete_module": ("GET", D + "/modules/{module}/delete", "trainer", AUTHOR),
    "authoring.new_lesson": (
        "GET",
        D + "/modules/{module}/lessons/new?type=text",
        "trainer",
        AUTHOR,
    ),
    "authoring.edit_lesson": ("GET", D + "/lessons/{lesson}/edit", "trainer", AUTHOR),
    "authoring.move_lesson": ("POST", D + "/lessons/{lesson}/move", "trainer", AUTHOR_302),
    "authoring.delete_lesson": ("GET", D + "/lessons/{lesson}/delete", "trainer", AUTHOR),
    "authoring.preview": ("POST", D + "/preview", "trainer", AUTHOR),
    "authoring.upload_media": ("POST", D + "/lessons/{video}/media", "trainer", AUTHOR),
    "authoring.upload_image": ("POST", D + "/lessons/{lesson}/images", "trainer", AUTHOR),
    "authoring.new_question": (
        "GET",
        D + "/lessons/{quiz}/questions/new?type=single",
        "trainer",
        AUTHOR,
    ),
    "authoring.edit_question": (
        "GET",
        D + "/lessons/{quiz}/questions/{question}/edit",
        "trainer",
        AUTHOR,
    ),
    "authoring.move_question": (
        "POST",
        D + "/lessons/{quiz}/questions/{question}/move",
        "trainer",
        AUTHOR_302,
    ),
    "authoring.delete_question": (
        "GET",
        D + "/lessons/{quiz}/questions/{question}/delete",
        "trainer",
        AUTHOR,
    ),
    "authoring.submit_version": ("GET", D + "/submit", "trainer", AUTHOR),
    "authoring.review_queue": (
        "GET",
        "/review/consortia/{consortium}/courses",
        "consortium_admin",
        REVIEW,
    ),
    "authoring.review_version": ("GET", R, "consortium_admin", REVIEW),
    "authoring.approve_version": ("POST", R + "/approve", "consortium_admin", REVIEW_302),
    "authoring.return_version": ("POST", R + "/return", "consortium_admin", REVIEW),
}


def test_every_authoring_route_has_a_row(app):
    assert_every_route_has_a_row(app, "authoring.", AUTHORING_MATRIX)


@pytest.fixture
def matrix_world(app, create_consortium, create_firm, create_user, skills):
    consortium = create_consortium()
    firm_a = create_firm(consortium)
    firm_b = create_firm(consortium)
    elsewhere = create_consortium()
    firm_z = create_firm(elsewhere)
    people = {
        "other_firm_worker": create_user(role="worker", firm=firm_b),
        "member_without": create_user(role="worker", firm=firm_a),
        "trainer": create_user(role="trainer", firm=firm_a),
        "consortium_admin": create_user(role="consortium_admin", consortium=consortium),
        "foreign_admin": create_user(role="firm_admin", firm=firm_z),
    }
    steps.build_course_via_service(app, firm_a, people["trainer"], "review-course", "待审课程")
    with app.test_request_context():
        trainer = db.session.get(User, people["trainer"].id)
        version = service.create_course(
            trainer,
            db.session.get(Firm, firm_a.id),
            slug="draft-course",
            title="草稿课程",
            language="zh-CN",
            summary="草稿。",
            sector="smart-manufacturing",
            hours=1,
            pass_mark=60,
        )
        module = service.add_module(trainer, version, title="模块")
        service.add_lesson(trainer, module, type="text", title="阅读", body="正文")
        service.add_lesson(trainer, module, type="video", title="视频")
        quiz = service.add_lesson(trainer, module, type="quiz", title="测验")
        service.add_question(
            trainer, quiz, type="true_false", prompt="对吗？", choices=[], answer=True
        )
        db.session.commit()
    draft = version_of(app, "draft-course")
    quiz = next(x for x in draft["lessons"] if x["type"] == "quiz")
    ids = {
        "firm": firm_a.id,
        "consortium": consortium.id,
        "module": draft["modules"][0]["id"],
        "lesson": next(x["id"] for x in draft["lessons"] if x["type"] == "text"),
        "video": next(x["id"] for x in draft["lessons"] if x["type"] == "video"),
        "quiz": quiz["id"],
        "question": quiz["questions"][0]["id"],
    }
    return people, ids


@pytest.mark.parametrize("endpoint", sorted(AUTHORING_MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_access(endpoint, persona, matrix_world, client, login):
    check_access(AUTHORING_MATRIX[endpoint], persona, *matrix_world, client, login)


# --- the same boundaries, named -------------------------------------------------------------


def test_a_trainer_of_another_firm_gets_403_on_the_firm_and_404_for_its_course_under_their_own(
    app, client, login, world
):
    steps.build_course_via_service(app, world.firm, world.trainer, "firm-a-course", "A 的课程")
    login(world.other_trainer)
    assert client.get(f"/authoring/firms/{world.firm.id}/courses").status_code == 404
    assert (
        client.get(f"/authoring/firms/{world.firm.id}/courses/firm-a-course/v1").status_code == 404
    )
    own = f"/authoring/firms/{world.other_firm.id}/courses/firm-a-course"
    assert client.get(own).status_code == 404
    assert client.get(own + "/v1").status_code == 404
    assert client.post(own + "/v1/submit").status_code == 404


def test_a_trainer_of_another_consortium_gets_404(app, client, login, world):
    steps.build_course_via_service(app, world.firm, world.trainer, "firm-a-course", "A 的课程")
    login(world.foreign_trainer)
    assert (
        client.get(f"/authoring/firms/{world.firm.id}/courses/firm-a-course/v1").status_code == 404
    )
    assert client.get(f"/review/consortia/{world.consortium.id}/courses").status_code == 404


def test_a_worker_gets_403_and_a_trainer_cannot_review(app, client, login, world):
    steps.build_course_via_service(app, world.firm, world.trainer, "firm-a-course", "A 的课程")
    login(world.worker)
    assert client.get(f"/authoring/firms/{world.firm.id}/courses").status_code == 404
    assert client.post(f"/authoring/firms/{world.firm.id}/courses/new").status_code == 404
    trainer = app.test_client()
    login(world.trainer, c=trainer)
    review = f"/review/consortia/{world.consortium.id}/courses/firm-a-course/v1"
    assert trainer.get(review).status_code == 404
    assert trainer.post(review + "/approve").status_code == 404
    assert version_of(app, "firm-a-course")["status"] == "submitted"


def test_drafts_are_not_open_to_reviewers(app, client, login, world):
    with app.test_request_context():
        service.create_course(
            db.session.get(User, world.trainer.id),
            db.session.get(Firm, world.firm.id),
            slug="private-draft",
            title="私有草稿",
            language="zh-CN",
            summary="草稿。",
            sector="smart-manufacturing",
            hours=1,
            pass_mark=60,
        )
        db.session.commit()
    login(world.admin)
    url = f"/review/consortia/{world.consortium.id}/courses/private-draft/v1"
    assert client.get(url).status_code == 404
    assert client.post(url + "/approve").status_code == 404
