"""A consortium for the assessor tests: a course with a practical task from a firm without
trainers, a training base whose trainer can be designated, and everyone around them."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from lms.auth.models import User
from lms.courses.models import Course
from lms.extensions import db
from lms.tenancy.models import Membership

EN = {"locale": "en"}


def build_world(app, create_consortium, create_firm, create_user, create_course):
    consortium = create_consortium()
    author = create_firm(consortium, name="唐山华冶轧辊", kind="single_champion")
    base = create_firm(consortium, name="唐山实训基地", kind="college")
    other = create_firm(consortium, name="唐山精工传感", kind="specialized_sme")
    closed = create_firm(consortium, name="已停用企业", is_active=False)
    elsewhere = create_firm(create_consortium(), name="外地企业")
    w = SimpleNamespace(
        consortium=consortium,
        author=author,
        base=base,
        other=other,
        closed=closed,
        elsewhere=elsewhere,
        base_trainer=create_user(role="trainer", firm=base, name="刘思远", **EN),
        other_trainer=create_user(role="trainer", firm=other, name="陈其他", **EN),
        closed_trainer=create_user(role="trainer", firm=closed, name="郑停用"),
        foreign_trainer=create_user(role="trainer", firm=elsewhere, name="周外地", **EN),
        learner=create_user(role="worker", firm=author, name="张学员", **EN),
        other_learner=create_user(role="worker", firm=other, name="李同学", **EN),
        firm_admin=create_user(role="firm_admin", firm=author, name="孙人事", **EN),
        admin=create_user(role="consortium_admin", consortium=consortium, name="王建国", **EN),
        course=create_course(author, practical=True, lessons=1, quiz=False, title="安全生产基础"),
    )
    return w


def fresh(obj):
    """The same row in the current session."""
    return db.session.get(type(obj), obj.id)


def end_trainer_role(user: User) -> None:
    """The person stops being a trainer (their membership ends yesterday); call in a context."""
    for m in db.session.get(User, user.id).memberships:
        if m.role == "trainer":
            m.starts_on = date(2026, 1, 1)
            m.ends_on = date.today()
    db.session.flush()


def add_membership(user: User, firm, role: str) -> None:
    db.session.add(
        Membership(
            user_id=user.id,
            consortium_id=firm.consortium_id,
            firm_id=firm.id,
            role=role,
            starts_on=date(2026, 1, 1),
        )
    )
    db.session.flush()


def course_of(w) -> Course:
    return db.session.get(Course, w.course.id)
