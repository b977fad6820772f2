"""Transcript and training-hours fixtures: courses completed through the learning service (the
course_completed signal credits the hours and issues the certificate), and a consortium of two
firms with workers, admins and credits on known dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from lms.auth.models import User
from lms.courses.models import Course
from lms.extensions import db, limiter
from lms.learning import service as learning
from lms.learning.models import Enrollment
from lms.transcripts.models import TrainingHours


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app):
    with app.app_context():
        limiter.reset()
    yield


@pytest.fixture
def complete(app, create_course):
    """complete(user, firm=None, course=None, hours=None, on=None) -> enrolment id: enrol and do
    every lesson; `hours` sets the version's hours first, `on` moves the credit to that day."""

    def make(user, firm=None, course=None, *, hours=None, on: date | None = None) -> int:
        course = course or create_course(firm, quiz=False, lessons=1)
        with app.test_request_context():
            c = db.session.get(Course, course.id)
            version = c.versions[-1]
            if hours is not None:
                version.hours = hours
            enrollment, _ = learning.enroll(db.session.get(User, user.id), version)
            for lesson in version.lessons:
                learning.record_progress(enrollment, lesson, percent=100)
            if on is not None:
                credit = db.session.scalars(
                    select(TrainingHours).where(TrainingHours.enrollment_id == enrollment.id)
                ).one()
                credit.credited_on = on
            db.session.commit()
            return enrollment.id

    return make


def credits_of(user_id: int) -> list[TrainingHours]:
    return list(
        db.session.scalars(
            select(TrainingHours).where(TrainingHours.user_id == user_id).order_by(TrainingHours.id)
        )
    )


@dataclass
class World:
    consortium: object
    firm_a: object
    firm_b: object
    people: dict
    courses: dict


@pytest.fixture
def world(app, create_consortium, create_firm, create_user, create_course, complete):
    """Firm A: 张三丰 (2 + 1.5 hours in 2026, 3 in 2025), 李四 (2 in 2026); firm B: 王五 (4 in
    2026). Admins of both firms and of the consortium."""
    consortium = create_consortium(name="唐山市智能制造跨企业培训联合体")
    firm_a = create_firm(consortium, name="冀东智能装备")
    firm_b = create_firm(consortium, name="曹妃甸电子")
    # English pages: the assertions read messages whether or not the catalogues are compiled.
    people = {
        "a1": create_user(role="worker", firm=firm_a, name="张三丰", locale="en"),
        "a2": create_user(role="worker", firm=firm_a, name="李四", locale="en"),
        "b1": create_user(role="worker", firm=firm_b, name="王五", locale="en"),
        "admin_a": create_user(role="firm_admin", firm=firm_a, locale="en"),
        "admin_b": create_user(role="firm_admin", firm=firm_b, locale="en"),
        "consortium_admin": create_user(
            role="consortium_admin", consortium=consortium, locale="en"
        ),
    }
    courses = {
        "plc": create_course(firm_a, quiz=False, lessons=1, title="PLC编程与调试"),
        "safety": create_course(firm_a, quiz=False, lessons=1, title="安全生产培训"),
        "old": create_course(firm_a, quiz=False, lessons=1, title="工业网络基础"),
    }
    complete(people["a1"], course=courses["plc"], hours=2, on=date(2026, 3, 2))
    complete(people["a1"], course=courses["safety"], hours=1.5, on=date(2026, 5, 20))
    complete(people["a1"], course=courses["old"], hours=3, on=date(2025, 12, 31))
    complete(people["a2"], course=courses["plc"], on=date(2026, 4, 1))
    complete(people["b1"], course=courses["safety"], hours=4, on=date(2026, 6, 1))
    return World(consortium, firm_a, firm_b, people, courses)


def enrollment_of(user_id: int, course_id: int) -> Enrollment:
    return db.session.scalars(
        select(Enrollment)
        .where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)
        .order_by(Enrollment.id.desc())
    ).first()


ZERO = Decimal("0.0")
