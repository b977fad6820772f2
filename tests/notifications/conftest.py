"""Fixtures for notification tests: two firms of one consortium (and one elsewhere), their
admins and workers, a published course, and helpers to enrol with a due date."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from lms.auth.models import User
from lms.courses.models import Course
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment
from lms.notifications.models import Notification

TODAY = date.today()


@pytest.fixture
def town(create_consortium, create_firm, create_user, create_course):
    consortium = create_consortium()
    firm, other_firm = create_firm(consortium), create_firm(consortium)
    foreign_firm = create_firm(create_consortium())
    en = {"locale": "en"}
    return SimpleNamespace(
        consortium=consortium,
        firm=firm,
        other_firm=other_firm,
        admin=create_user(role="firm_admin", firm=firm, name="王管理", **en),
        second_admin=create_user(role="firm_admin", firm=firm, name="赵管理"),
        other_admin=create_user(role="firm_admin", firm=other_firm, name="钱管理"),
        foreign_admin=create_user(role="firm_admin", firm=foreign_firm),
        consortium_admin=create_user(role="consortium_admin", consortium=consortium),
        worker=create_user(role="worker", firm=firm, name="张三", **en),
        worker2=create_user(role="worker", firm=firm, name="李四"),
        other_worker=create_user(role="worker", firm=other_firm, name="孙五"),
        course=create_course(firm, title="安全生产培训"),
    )


def enrol(town, worker, *, due_in: int | None, source="firm", actor=None) -> Enrollment:
    """Enrol `worker` in the town's course, due `due_in` days from today (negative: past);
    call inside a context."""
    course = db.session.get(Course, town.course.id)
    actor = db.session.get(User, (actor or town.admin).id) if source != "self" else None
    enrollment, created = learning.enroll(
        db.session.get(User, worker.id),
        course.versions[-1],
        source=source,
        actor=actor,
        due_on=TODAY + timedelta(days=due_in) if due_in is not None else None,
        check_prerequisites=False,
    )
    assert created
    db.session.flush()
    return enrollment


def notes(kind: str | None = None, user=None) -> list[Notification]:
    query = select(Notification).order_by(Notification.id)
    if kind:
        query = query.where(Notification.kind == kind)
    if user is not None:
        query = query.where(Notification.user_id == user.id)
    return list(db.session.scalars(query))
