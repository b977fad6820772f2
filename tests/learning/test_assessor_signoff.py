"""Sign-off by a course's assessors (issue 13): a designated trainer of another firm signs off
and the learner completes; the consortium admin follows without sign-off buttons; a refused
sign-off keeps the comment; the learner sees who signs off and asks them, once a day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from lms.audit.models import AuditRecord
from lms.courses import assessors
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment, PracticalSignoff
from lms.notifications import service as notifications
from lms.notifications.models import Notification
from tests.courses.assessors_world import add_membership, build_world, course_of, fresh


@pytest.fixture
def w(app, create_consortium, create_firm, create_user, create_course):
    world = build_world(app, create_consortium, create_firm, create_user, create_course)
    with app.test_request_context():
        course = course_of(world)
        version = course.versions[-1]
        enrollment, _ = learning.enroll(fresh(world.learner), version)
        for lesson in version.lessons:
            if lesson.type != "practical":
                learning.record_progress(enrollment, lesson, percent=100)
        practical = next(x for x in version.lessons if x.type == "practical")
        db.session.commit()
        world.enrollment_id, world.enrollment = enrollment.id, enrollment.public_id
        world.practical = practical.id
    world.learners_url = f"/courses/{world.course.slug}/learners"
    world.signoff_url = f"{world.learners_url}/{world.enrollment}/signoff/{world.practical}"
    world.lesson_url = f"/learn/{world.enrollment}/lessons/{world.practical}"
    world.ask_url = f"{world.lesson_url}/signoff-request"
    return world


def _designate(app, w, trainer=None):
    with app.test_request_context():
        assessors.designate(fresh(w.admin), course_of(w), fresh(trainer or w.base_trainer))
        db.session.commit()


def _remove(app, w, trainer=None):
    with app.test_request_context():
        assessors.remove(fresh(w.admin), course_of(w), fresh(trainer or w.base_trainer))
        db.session.commit()


def _status(app, w) -> str:
    with app.app_context():
        return db.session.get(Enrollment, w.enrollment_id).status


def _signoffs(app, w) -> list[PracticalSignoff]:
    with app.app_context():
        return db.session.scalars(
            select(PracticalSignoff).where(PracticalSignoff.enrollment_id == w.enrollment_id)
        ).all()


# --- signing off ---------------------------------------------------------------------------------


def test_a_designated_assessor_of_another_firm_signs_off_and_the_learner_completes(
    app, client, login, w
):
    login(w.base_trainer)
    assert client.get(w.learners_url).status_code == 404  # not an assessor yet
    _designate(app, w)
    page = client.get(w.learners_url)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "张学员" in body and w.signoff_url in body
    assert "Sign off this practical task" in body
    response = client.post(w.signoff_url, data={"comment": "接线规范"})
    assert response.status_code == 302
    assert _status(app, w) == "completed"
    [signoff] = _signoffs(app, w)
    assert signoff.signed_by_id == w.base_trainer.id and signoff.comment == "接线规范"


def test_the_assessors_course_page_links_to_the_learners_page(app, client, login, w):
    _designate(app, w)
    login(w.base_trainer)
    assert w.learners_url in client.get(f"/courses/{w.course.slug}").get_data(as_text=True)
    client.post("/logout")
    login(w.other_trainer)  # a trainer who is no assessor of this course
    assert w.learners_url not in client.get(f"/courses/{w.course.slug}").get_data(as_text=True)
    assert client.get(w.learners_url).status_code == 404


def test_the_consortium_admin_follows_learners_without_sign_off_buttons(app, client, login, w):
    _designate(app, w)
    login(w.admin)
    page = client.get(w.learners_url)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "张学员" in body
    assert "/signoff/" not in body and "Sign off this practical task" not in body
    assert "Waiting for sign-off:" in body
    # Without a trainer role the sign-off itself is not theirs: the 404 of a missing page.
    assert client.post(w.signoff_url, data={"comment": "好"}).status_code == 404
    assert _signoffs(app, w) == []


def test_a_sign_off_refused_after_the_assessor_was_removed_keeps_the_comment(app, client, login, w):
    _designate(app, w)
    login(w.base_trainer)
    assert w.signoff_url in client.get(w.learners_url).get_data(as_text=True)
    _remove(app, w)  # meanwhile, the consortium admin removes them
    response = client.post(w.signoff_url, data={"comment": "动作规范，可以通过"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "动作规范，可以通过" in body
    assert "The sign-off was not recorded: you are not (or no longer) an assessor" in body
    assert "张学员" not in body  # they no longer see the course's learners
    assert _signoffs(app, w) == [] and _status(app, w) != "completed"


def test_a_refused_sign_off_on_the_learners_page_keeps_the_comment_next_to_its_field(
    app, client, login, w
):
    # A consortium admin who is also a trainer of a member firm sees the learners page but
    # may not sign off: the page comes back with the comment and the reason, without a button.
    with app.app_context():
        add_membership(w.admin, w.other, "trainer")
        db.session.commit()
    login(w.admin)
    response = client.post(w.signoff_url, data={"comment": "请复核"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    field = f'id="comment-{w.enrollment_id}-{w.practical}"'
    assert field in body and ">请复核</textarea>" in body
    assert f'id="comment-{w.enrollment_id}-{w.practical}-error"' in body
    assert "Sign off this practical task" not in body
    assert _signoffs(app, w) == []


def test_a_too_long_comment_is_a_form_error_and_signs_nothing_off(app, client, login, w):
    _designate(app, w)
    login(w.base_trainer)
    response = client.post(w.signoff_url, data={"comment": "长" * 501})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "长" * 501 in body and 'aria-invalid="true"' in body
    assert "Sign off this practical task" in body  # they may still sign off
    assert _signoffs(app, w) == []


def test_unauthorised_callers_still_get_the_404(app, client, login, w):
    for person in (w.learner, w.other_learner, w.firm_admin, w.foreign_trainer):
        login(person)
        assert client.post(w.signoff_url, data={"comment": "x"}).status_code == 404, person.name
        client.post("/logout")
    assert _signoffs(app, w) == []


# --- the learner's side --------------------------------------------------------------------------


def test_the_learner_is_told_nobody_can_sign_off_yet_and_whom_to_ask(client, login, w):
    login(w.learner)
    body = client.get(w.lesson_url).get_data(as_text=True)
    assert "Nobody can sign off this task yet. Ask your firm admin" in body
    assert "Ask for sign-off" not in body
    response = client.post(w.ask_url, follow_redirects=True)
    assert "Nobody can sign off this task yet" in response.get_data(as_text=True)


def test_the_learner_sees_the_assessors_by_name_and_firm(app, client, login, w):
    _designate(app, w)
    login(w.learner)
    body = client.get(w.lesson_url).get_data(as_text=True)
    assert "Who signs off" in body
    assert "刘思远" in body and "唐山实训基地" in body
    assert "Ask for sign-off" in body and w.ask_url in body


def _requests(app) -> list[Notification]:
    with app.app_context():
        return db.session.scalars(
            select(Notification).where(Notification.kind == "practical.signoff_requested")
        ).all()


def test_asking_for_sign_off_notifies_the_assessors_once_a_day(app, client, login, w):
    _designate(app, w)
    _designate(app, w, w.other_trainer)
    login(w.learner)
    first = client.post(w.ask_url)
    assert first.status_code == 302 and first.headers["Location"].endswith(w.lesson_url)
    sent = _requests(app)
    assert sorted(n.user_id for n in sent) == sorted([w.base_trainer.id, w.other_trainer.id])
    n = sent[0]
    assert n.params == {"name": "张学员", "course": "安全生产基础", "task": "实操"}
    assert n.url == f"{w.learners_url}?learner={w.enrollment}"
    with app.test_request_context(), force_locale("en"):
        assert notifications.message(n) == (
            "张学员 asks you to sign off the practical task “实操” of the course “安全生产基础”."
        )
    again = client.get(w.lesson_url)  # the flash of the first press
    assert "Your request was sent to the assessors of this course." in again.get_data(as_text=True)
    second = client.post(w.ask_url, follow_redirects=True)
    assert "You already asked for this sign-off today" in second.get_data(as_text=True)
    assert len(_requests(app)) == 2
    # The next day they may ask again.
    with app.app_context():
        for record in db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == learning.SIGNOFF_REQUEST)
        ):
            record.created_at -= timedelta(days=1)
        db.session.commit()
    with app.test_request_context():
        enrollment = db.session.get(Enrollment, w.enrollment_id)
        lesson = next(x for x in enrollment.version.lessons if x.id == w.practical)
        assert learning.request_signoff(fresh(w.learner), enrollment, lesson) is True
        db.session.commit()


def test_the_notification_leads_the_assessor_to_that_learner(app, client, login, w):
    _designate(app, w)
    with app.test_request_context():  # a second learner, who must not be on the filtered page
        course = course_of(w)
        learning.enroll(fresh(w.other_learner), course.versions[-1])
        db.session.commit()
    login(w.learner)
    client.post(w.ask_url)
    client.post("/logout")
    [n] = _requests(app)
    login(w.base_trainer)
    body = client.get(n.url).get_data(as_text=True)
    assert "张学员" in body and "李同学" not in body
    assert "Show all learners" in body
    assert "李同学" in client.get(w.learners_url).get_data(as_text=True)


def test_a_signed_off_task_cannot_be_asked_for_again(app, client, login, w):
    _designate(app, w)
    login(w.base_trainer)
    client.post(w.signoff_url, data={"comment": ""})
    client.post("/logout")
    login(w.learner)
    body = client.get(w.lesson_url).get_data(as_text=True)
    assert "Ask for sign-off" not in body
    response = client.post(w.ask_url, follow_redirects=True)
    assert "This task is already signed off." in response.get_data(as_text=True)
    assert _requests(app) == []


def test_asking_is_only_for_practical_tasks_of_ones_own_enrolment(app, client, login, w):
    _designate(app, w)
    with app.app_context():
        enrollment = db.session.get(Enrollment, w.enrollment_id)
        reading = next(x for x in enrollment.version.lessons if x.type != "practical")
        reading_id = reading.id
    login(w.learner)
    assert (
        client.post(f"/learn/{w.enrollment}/lessons/{reading_id}/signoff-request").status_code
        == 400
    )
    client.post("/logout")
    login(w.other_learner)
    assert client.post(w.ask_url).status_code == 404
    assert _requests(app) == []


def test_an_assessor_enrolled_in_the_course_cannot_sign_off_their_own_task(app, client, login, w):
    _designate(app, w)
    with app.test_request_context():
        course = course_of(w)
        version = course.versions[-1]
        own, _ = learning.enroll(fresh(w.base_trainer), version)
        practical = next(x for x in version.lessons if x.type == "practical")
        db.session.commit()
        own_url = f"{w.learners_url}/{own.public_id}/signoff/{practical.id}"
        own_id = own.id
    login(w.base_trainer)
    body = client.get(w.learners_url).get_data(as_text=True)
    assert own_url not in body and w.signoff_url in body  # a button for the others only
    page = client.post(own_url, data={"comment": "自己签"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "cannot sign off your own practical task" in text and "自己签" in text
    with app.app_context():
        assert (
            db.session.scalars(
                select(PracticalSignoff).where(PracticalSignoff.enrollment_id == own_id)
            ).all()
            == []
        )
