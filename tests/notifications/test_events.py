"""Notifications sent by other services in their own transaction: a course assigned, a course
version approved or sent back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale

from lms.auth.models import User
from lms.courses import authoring
from lms.courses.models import Course
from lms.extensions import db
from lms.learning import service as learning
from lms.notifications import service
from lms.tenancy.models import Firm
from tests.conftest import ensure_skills

from .conftest import TODAY, enrol, notes


def _assign(town, users, *, due_in=None, source="firm", actor=None):
    course = db.session.get(Course, town.course.id)
    return learning.assign_course(
        db.session.get(User, (actor or town.admin).id),
        course.versions[-1],
        [db.session.get(User, u.id) for u in users],
        source=source,
        due_on=TODAY + timedelta(days=due_in) if due_in is not None else None,
        is_mandatory=True,
    )


def test_assigning_a_course_tells_each_worker_once(ctx, town):
    _assign(town, [town.worker, town.worker2], due_in=10)
    given = notes("assignment.given")
    assert sorted(n.user_id for n in given) == sorted([town.worker.id, town.worker2.id])
    due = (TODAY + timedelta(days=10)).isoformat()
    assert all(n.params == {"course": "安全生产培训", "due_on": due} for n in given)
    assert given[0].url.startswith("/learn/")
    with force_locale("en"):
        assert service.message(given[0]).startswith(
            "You have been assigned the course “安全生产培训”. Complete it by"
        )
    # A double submit of the same assignment adds nothing.
    _assign(town, [town.worker, town.worker2], due_in=10)
    assert len(notes("assignment.given")) == 2


def test_a_new_due_date_for_an_enrolled_worker_is_told(ctx, town):
    _assign(town, [town.worker], due_in=10)
    _assign(town, [town.worker], due_in=5)
    dues = [n.params["due_on"] for n in notes("assignment.given")]
    assert dues == [(TODAY + timedelta(days=d)).isoformat() for d in (10, 5)]
    _assign(town, [town.worker])  # no due date: nothing new to say
    assert len(notes("assignment.given")) == 2


def test_self_enrolment_tells_nobody_but_a_later_assignment_does(ctx, town):
    enrol(town, town.worker, due_in=None, source="self")
    assert notes("assignment.given") == []
    _assign(town, [town.worker], due_in=7)
    assert len(notes("assignment.given", user=town.worker)) == 1


def test_consortium_assignment_without_due_date(ctx, town):
    _assign(town, [town.other_worker], source="consortium", actor=town.consortium_admin)
    (n,) = notes("assignment.given")
    assert n.user_id == town.other_worker.id and n.params["due_on"] is None
    with force_locale("en"):
        assert service.message(n) == "You have been assigned the course “安全生产培训”."


def test_withdrawn_then_assigned_again_is_a_new_message(ctx, town):
    _assign(town, [town.worker], due_in=7)
    enrollment = learning.active_enrollment(
        db.session.get(User, town.worker.id), db.session.get(Course, town.course.id)
    )
    learning.withdraw(db.session.get(User, town.worker.id), enrollment)
    _assign(town, [town.worker], due_in=7)
    assert len(notes("assignment.given")) == 2


def test_the_notification_rolls_back_with_the_assignment(app, town):
    with app.test_request_context():
        _assign(town, [town.worker], due_in=7)
        db.session.rollback()
        assert notes("assignment.given") == []


# --- course review --------------------------------------------------------------------------


@pytest.fixture
def trainer(create_user, town):
    return create_user(role="trainer", firm=town.firm, locale="en")


def _submitted(town, trainer, slug="review-me"):
    ensure_skills(["t-notif"])
    actor = db.session.get(User, trainer.id)
    version = authoring.create_course(
        actor,
        db.session.get(Firm, town.firm.id),
        slug=slug,
        title="数控车床入门",
        language="zh-CN",
        summary="摘要。",
        sector="smart-manufacturing",
        hours=1,
        pass_mark=60,
        skills=[("t-notif", 1)],
    )
    module = authoring.add_module(actor, version, title="模块")
    authoring.add_lesson(actor, module, type="text", title="课", body="正文")
    assert authoring.submit_version(actor, version)
    return version


def test_returned_then_approved_tells_the_submitter(ctx, town, trainer):
    version = _submitted(town, trainer)
    reviewer = db.session.get(User, town.consortium_admin.id)
    assert authoring.return_version(reviewer, version, comment="请补充安全注意事项。")
    (returned,) = notes("course.returned")
    assert returned.user_id == trainer.id
    assert returned.params == {
        "course": "数控车床入门",
        "version": 1,
        "comment": "请补充安全注意事项。",
    }
    assert returned.url == f"/authoring/firms/{town.firm.id}/courses/review-me/v1"
    with force_locale("en"):
        text = service.message(returned)
    assert "sent back for changes" in text and "请补充安全注意事项。" in text
    # A second round: resubmitted, sent back again — a second message; then approved.
    actor = db.session.get(User, trainer.id)
    assert authoring.submit_version(actor, version)
    assert authoring.return_version(reviewer, version, comment="再改一处。")
    assert [n.params["comment"] for n in notes("course.returned")] == [
        "请补充安全注意事项。",
        "再改一处。",
    ]
    assert authoring.submit_version(actor, version)
    assert authoring.approve_version(reviewer, version)
    (approved,) = notes("course.approved")
    assert approved.user_id == trainer.id and approved.params["version"] == 1
    # A replayed approval changes nothing and says nothing.
    assert not authoring.approve_version(reviewer, version)
    assert len(notes("course.approved")) == 1
    assert notes(user=town.admin) == []


def test_the_submitter_not_the_creator_is_told(ctx, town, trainer, create_user):
    colleague = create_user(role="trainer", firm=town.firm)
    version = _submitted(town, trainer, slug="two-authors")
    version.status = "returned"
    db.session.flush()
    assert authoring.submit_version(db.session.get(User, colleague.id), version)
    assert authoring.approve_version(db.session.get(User, town.consortium_admin.id), version)
    assert [n.user_id for n in notes("course.approved")] == [colleague.id]
