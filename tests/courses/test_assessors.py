"""Assessors of a course (issue 13): who may be designated, who may sign off, the consortium
admin's page to designate and remove them, and its access matrix."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from flask_login import AnonymousUserMixin
from sqlalchemy import func, select

from lms.audit.models import AuditRecord
from lms.courses import assessors
from lms.courses.models import Course, CourseAssessor
from lms.extensions import db
from tests.access import PERSONAS, assert_every_route_has_a_row, check_access
from tests.courses.assessors_world import (
    add_membership,
    build_world,
    course_of,
    end_trainer_role,
    fresh,
)

ALLOWED = 200


@pytest.fixture
def w(app, create_consortium, create_firm, create_user, create_course):
    return build_world(app, create_consortium, create_firm, create_user, create_course)


def _rows(course_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(CourseAssessor)
        .where(CourseAssessor.course_id == course_id)
    )


def _audit(action: str) -> list[AuditRecord]:
    return db.session.scalars(select(AuditRecord).where(AuditRecord.action == action)).all()


# --- designation rules ---------------------------------------------------------------------------


def test_a_trainer_of_another_member_firm_is_designated_once_and_audited(ctx, w):
    course, admin, trainer = course_of(w), fresh(w.admin), fresh(w.base_trainer)
    row, created = assessors.designate(admin, course, trainer)
    assert created and row.user_id == trainer.id and row.designated_by_id == admin.id
    again, created_again = assessors.designate(admin, course, trainer)  # a double submit
    assert again.id == row.id and not created_again
    assert _rows(course.id) == 1
    [record] = _audit("course.assessor_designate")
    assert record.actor_id == admin.id and record.consortium_id == course.consortium_id
    assert record.details == {"slug": course.slug, "user": trainer.public_id}


@pytest.mark.parametrize(
    "who", ["learner", "firm_admin", "admin", "closed_trainer", "foreign_trainer"]
)
def test_only_current_trainers_of_an_active_member_firm_may_be_designated(ctx, w, who):
    course, person = course_of(w), fresh(getattr(w, who))
    with pytest.raises(assessors.AssessorError) as exc, force_locale("en"):
        assessors.designate(fresh(w.admin), course, person)
    assert exc.value.field == "trainer"
    with force_locale("en"):
        assert str(exc.value.message) == (
            f"{person.name} is not a current trainer of a member firm of this consortium: only "
            "trainers can be designated as assessors."
        )
    assert _rows(course.id) == 0 and _audit("course.assessor_designate") == []


def test_a_trainer_whose_role_ended_cannot_be_designated(ctx, w):
    end_trainer_role(w.base_trainer)
    with pytest.raises(assessors.AssessorError):
        assessors.designate(fresh(w.admin), course_of(w), fresh(w.base_trainer))


def test_nobody_chosen_and_a_trainer_of_the_authoring_firm_are_refused_with_the_reason(
    ctx, w, create_user
):
    course = course_of(w)
    with pytest.raises(assessors.AssessorError) as nobody, force_locale("en"):
        assessors.designate(fresh(w.admin), course, None)
    with force_locale("en"):
        assert str(nobody.value.message) == "Choose a trainer."
    own = create_user(role="trainer", firm=w.author, name="赵本厂")
    with pytest.raises(assessors.AssessorError) as exc:
        assessors.designate(fresh(w.admin), course, fresh(own))
    with force_locale("en"):
        assert "is a trainer of the authoring firm" in str(exc.value.message)


def test_removing_withdraws_the_designation_once(ctx, w):
    course, admin, trainer = course_of(w), fresh(w.admin), fresh(w.base_trainer)
    assessors.designate(admin, course, trainer)
    assert assessors.remove(admin, course, trainer) is True
    assert assessors.remove(admin, course, trainer) is False  # twice: harmless
    assert _rows(course.id) == 0
    assert len(_audit("course.assessor_remove")) == 1
    assert not assessors.may_sign_off(trainer, course)


# --- who may sign off ----------------------------------------------------------------------------


def test_may_sign_off_for_each_role(ctx, w, create_user):
    course = course_of(w)
    own = create_user(role="trainer", firm=w.author, name="赵本厂")
    assessors.designate(fresh(w.admin), course, fresh(w.base_trainer))
    expected = {
        own: True,  # the authoring firm's trainer, always
        w.base_trainer: True,  # designated
        w.other_trainer: False,  # a trainer of the consortium, not designated
        w.closed_trainer: False,
        w.foreign_trainer: False,
        w.learner: False,
        w.firm_admin: False,
        w.admin: False,  # the consortium admin designates, but does not sign off
    }
    for person, allowed in expected.items():
        assert assessors.may_sign_off(fresh(person), course) is allowed, person.name
    assert assessors.may_sign_off(AnonymousUserMixin(), course) is False
    assert assessors.may_sign_off(None, course) is False


def test_a_designated_trainer_who_stops_being_a_trainer_stops_signing_off(ctx, w):
    course = course_of(w)
    assessors.designate(fresh(w.admin), course, fresh(w.base_trainer))
    end_trainer_role(w.base_trainer)
    db.session.expire_all()
    assert not assessors.may_sign_off(fresh(w.base_trainer), course)
    assert [a.user.name for a in assessors.assessors_of(course)] == []
    [d] = assessors.designations(course)
    assert d.user.id == w.base_trainer.id and not d.is_current


def test_a_designated_trainer_of_a_deactivated_firm_stops_signing_off(ctx, w):
    course = course_of(w)
    assessors.designate(fresh(w.admin), course, fresh(w.base_trainer))
    fresh(w.base).is_active = False
    db.session.flush()
    assert not assessors.may_sign_off(fresh(w.base_trainer), course)


def test_assessors_of_names_the_authoring_trainers_and_the_designated_ones(ctx, w, create_user):
    course = course_of(w)
    assert assessors.assessors_of(course) == []  # the firm has no trainer: nobody yet
    own = create_user(role="trainer", firm=w.author, name="赵本厂")
    assessors.designate(fresh(w.admin), course, fresh(w.base_trainer))
    add_membership(w.base_trainer, w.other, "trainer")  # trains at two member firms
    db.session.expire_all()
    found = {a.user.name: a for a in assessors.assessors_of(course_of(w))}
    assert set(found) == {"赵本厂", "刘思远"}
    assert found["赵本厂"].is_authoring and not found["赵本厂"].is_designated
    assert found["赵本厂"].firm_names == "唐山华冶轧辊"
    assert found["刘思远"].is_designated and not found["刘思远"].is_authoring
    assert {f.name for f in found["刘思远"].firms} == {"唐山实训基地", "唐山精工传感"}
    assert own.id == found["赵本厂"].user.id


def test_eligible_trainers_are_grouped_by_firm_and_leave_out_current_assessors(ctx, w, create_user):
    course = course_of(w)
    create_user(role="trainer", firm=w.author, name="赵本厂")
    groups, truncated = assessors.eligible_trainers(course)
    assert not truncated
    # The training base first; no worker, no one of the authoring firm, closed or elsewhere.
    assert [(f.name, [u.name for u in people]) for f, people in groups] == [
        ("唐山实训基地", ["刘思远"]),
        ("唐山精工传感", ["陈其他"]),
    ]
    assessors.designate(fresh(w.admin), course, fresh(w.base_trainer))
    groups, _ = assessors.eligible_trainers(course)
    assert [u.name for _f, people in groups for u in people] == ["陈其他"]
    groups, _ = assessors.eligible_trainers(course, search="其他")
    assert [u.name for _f, people in groups for u in people] == ["陈其他"]
    assert assessors.eligible_trainers(course, search="无此人") == ([], False)
    groups, truncated = assessors.eligible_trainers(course, limit=0)
    assert groups == [] and truncated


# --- the consortium admin's page -----------------------------------------------------------------


def _url(w, suffix: str = "") -> str:
    return f"/consortia/{w.consortium.id}/courses/{w.course.slug}/assessors{suffix}"


def test_the_admin_designates_a_trainer_on_the_course_page_of_assessors(app, client, login, w):
    login(w.admin)
    page = client.get(_url(w)).get_data(as_text=True)
    assert "Nobody can sign off the practical tasks of this course yet" in page
    assert "刘思远" in page and "陈其他" in page  # offered, grouped by firm
    assert '<optgroup label="唐山实训基地' in page
    assert "周外地" not in page and "张学员" not in page and "郑停用" not in page
    response = client.post(_url(w), data={"trainer": w.base_trainer.public_id})
    assert response.status_code == 302 and response.headers["Location"].endswith(_url(w))
    again = client.post(_url(w), data={"trainer": w.base_trainer.public_id})  # double submit
    assert again.status_code == 302
    page = client.get(_url(w)).get_data(as_text=True)
    assert "刘思远" in page and "Designated" in page
    assert f"/assessors/{w.base_trainer.public_id}/remove" in page
    with app.app_context():
        assert _rows(w.course.id) == 1


def test_a_refused_designation_is_a_form_error_naming_the_field(app, client, login, w):
    login(w.admin)
    empty = client.post(_url(w), data={"trainer": ""})
    assert empty.status_code == 200
    assert 'id="trainer-error">Choose a trainer.' in empty.get_data(as_text=True)
    worker = client.post(_url(w), data={"trainer": w.learner.public_id})
    assert worker.status_code == 200
    body = worker.get_data(as_text=True)
    assert "张学员 is not a current trainer of a member firm of this consortium" in body
    assert 'aria-invalid="true"' in body
    foreign = client.post(_url(w), data={"trainer": w.foreign_trainer.public_id})
    assert "Choose a trainer." in foreign.get_data(as_text=True)  # not a person of this place
    with app.app_context():
        assert _rows(w.course.id) == 0


def test_the_search_narrows_the_trainers_offered(client, login, w):
    login(w.admin)
    page = client.get(_url(w) + "?q=其他").get_data(as_text=True)
    assert "陈其他" in page and "刘思远" not in page
    assert "?q=" in page  # the add form keeps the search
    none = client.get(_url(w) + "?q=无此人").get_data(as_text=True)
    assert "No trainer of another member firm matches" in none


def test_removing_an_assessor_asks_first_and_a_second_submit_says_it_is_done(app, client, login, w):
    login(w.admin)
    client.post(_url(w), data={"trainer": w.base_trainer.public_id})
    remove = _url(w, f"/{w.base_trainer.public_id}/remove")
    confirm = client.get(remove)
    assert confirm.status_code == 200
    assert "Remove 刘思远 as an assessor of “安全生产基础”?" in confirm.get_data(as_text=True)
    with app.app_context():
        assert _rows(w.course.id) == 1  # a GET changes nothing
    assert client.post(remove).status_code == 302
    second = client.post(remove, follow_redirects=True)
    assert "This trainer was already removed." in second.get_data(as_text=True)
    assert client.get(remove).status_code == 404  # nobody left to remove
    with app.app_context():
        assert _rows(w.course.id) == 0


def test_a_course_of_another_consortium_is_not_found(client, login, w, create_course):
    foreign = create_course(w.elsewhere, practical=True)
    login(w.admin)
    url = f"/consortia/{w.consortium.id}/courses/{foreign.slug}/assessors"
    assert client.get(url).status_code == 404


def test_admins_find_the_page_from_the_course_and_learners_pages(client, login, w):
    login(w.admin)
    course_page = client.get(f"/courses/{w.course.slug}").get_data(as_text=True)
    assert _url(w) in course_page
    learners = client.get(f"/courses/{w.course.slug}/learners").get_data(as_text=True)
    assert _url(w) in learners
    client.post("/logout")
    login(w.learner)
    assert _url(w) not in client.get(f"/courses/{w.course.slug}").get_data(as_text=True)


# --- access matrix -------------------------------------------------------------------------------

# endpoint: (method, url, who is "member with the permission", expected) as in
# tests/test_access_matrix.py. The assessors pages need course.approve on the consortium
# (its admins); the learner asks for sign-off on their own enrolment only.
ASSESSORS_MATRIX = {
    "assessors.course_assessors": (
        "GET",
        "/consortia/{consortium}/courses/{course}/assessors",
        "consortium_admin",
        ALLOWED,
    ),
    "assessors.remove_assessor": (
        "GET",
        "/consortia/{consortium}/courses/{course}/assessors/{assessor}/remove",
        "consortium_admin",
        ALLOWED,
    ),
    "learning.ask_signoff": (
        "POST",
        "/learn/{enrollment}/lessons/{practical}/signoff-request",
        "member_without",
        (302, 404, 302, 302, 404, 404),
    ),
}


def test_every_assessors_route_has_a_row(app):
    assessor_rows = {k: v for k, v in ASSESSORS_MATRIX.items() if k.startswith("assessors.")}
    assert_every_route_has_a_row(app, "assessors.", assessor_rows)
    assert "learning.ask_signoff" in {r.endpoint for r in app.url_map.iter_rules()}


@pytest.fixture
def matrix_world(app, create_consortium, create_firm, create_user, create_course):
    from lms.learning import service as learning

    consortium = create_consortium()
    firm_a, firm_b = create_firm(consortium), create_firm(consortium, kind="college")
    firm_z = create_firm(create_consortium())
    people = {
        "other_firm_worker": create_user(role="worker", firm=firm_b),
        "member_without": create_user(role="worker", firm=firm_a),
        "consortium_admin": create_user(role="consortium_admin", consortium=consortium),
        "foreign_admin": create_user(role="firm_admin", firm=firm_z),
    }
    assessor = create_user(role="trainer", firm=firm_b)
    course = create_course(firm_a, practical=True, lessons=1, quiz=False)
    with app.test_request_context():
        c = db.session.get(Course, course.id)
        assessors.designate(fresh(people["consortium_admin"]), c, fresh(assessor))
        enrollment, _ = learning.enroll(fresh(people["member_without"]), c.versions[-1])
        practical = next(x for x in c.versions[-1].lessons if x.type == "practical")
        db.session.commit()
        ids = {
            "consortium": consortium.id,
            "course": course.slug,
            "assessor": assessor.public_id,
            "enrollment": enrollment.public_id,
            "practical": practical.id,
        }
    return people, ids


@pytest.mark.parametrize("endpoint", sorted(ASSESSORS_MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_access(endpoint, persona, matrix_world, client, login):
    check_access(ASSESSORS_MATRIX[endpoint], persona, *matrix_world, client, login)
