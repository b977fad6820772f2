"""A small consortium with events in several months, for exact dashboard figures.

Consortium C: firm F1 (workers w1, w2, role r1) and F2 (worker w3, role r2); consortium D:
firm F3 (worker w4), whose data must never show up in C's figures. Courses: A (sector
smart-manufacturing, teaches s1) and B (industrial-internet, teaches s2), both of C; Z of D.

    w1  A  enrolled 3 months ago, completed 2 months ago: certificate, 8 h, s1 raised to 3
    w1  B  enrolled this month, in progress, active now
    w2  A  enrolled 2 months ago, assigned by F1: mandatory, due 10 days ago: overdue;
           self-assessed s1 (no raise)
    w3  A  enrolled and completed this month: certificate, 8 h, s1 raised to 2
    w3  B  enrolled 5 months ago, withdrawn
    w4  Z  enrolled and completed this month (consortium D)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from lms.certificates.models import Certificate
from lms.core.types import utcnow
from lms.courses.models import Course, CourseSkill, CourseVersion
from lms.extensions import db
from lms.learning.models import Assignment, Enrollment
from lms.reports.summary import local_zone, month_of, month_start, prev_month
from lms.skills.models import SkillEvidence
from lms.transcripts.models import TrainingHours
from tests.conftest import ensure_skills


def months_ago(n: int) -> datetime:
    """The 15th, noon local time, n months before this one (n = 0: a second ago)."""
    if n == 0:
        return utcnow() - timedelta(seconds=1)
    month = month_of(utcnow())
    for _ in range(n):
        month = prev_month(month)
    return month_start(month) + timedelta(days=14, hours=12)


def local_day(moment: datetime) -> date:
    return moment.astimezone(local_zone()).date()


@dataclass
class World:
    c: int
    d: int
    f1: int
    f2: int
    f3: int
    a: int
    b: int
    z: int
    users: dict
    admins: dict


@pytest.fixture
def world(app, create_consortium, create_firm, create_user, create_course, create_role):
    consortium = create_consortium(code="C")
    other = create_consortium(code="D")
    f1 = create_firm(consortium, name="=SUM(1) 一厂")
    f2 = create_firm(consortium, name="二厂")
    f3 = create_firm(other, name="外联体厂")
    create_role("r1", {"s1": 3}, consortium=consortium)
    create_role("r2", {"s2": 3}, consortium=consortium)
    users = {
        "w1": create_user(role="worker", firm=f1, job_role="r1", name="张一", mobile="13800000001"),
        "w2": create_user(
            role="worker", firm=f1, job_role="r1", name="=王二", mobile="13800000002"
        ),
        "w3": create_user(role="worker", firm=f2, job_role="r2", name="李三", mobile="13800000003"),
        "w4": create_user(role="worker", firm=f3, name="赵四", mobile="13800000004"),
    }
    admins = {
        "consortium": create_user(role="consortium_admin", consortium=consortium),
        "f1": create_user(role="firm_admin", firm=f1),
        "f2": create_user(role="firm_admin", firm=f2),
        "d": create_user(role="consortium_admin", consortium=other),
    }
    course_a = create_course(f1, quiz=False, lessons=2, title="课程A")
    course_b = create_course(f2, quiz=False, lessons=2, title="课程B")
    course_z = create_course(f3, quiz=False, lessons=2, title="课程Z")
    with app.app_context():
        ensure_skills(["s1", "s2"])
        versions = {}
        for course, sector, skill in (
            (course_a, "smart-manufacturing", "s1"),
            (course_b, "industrial-internet", "s2"),
            (course_z, "smart-manufacturing", "s1"),
        ):
            version = db.session.get(Course, course.id).versions[-1]
            version.sector = sector
            version.hours = 8
            db.session.add(CourseSkill(version_id=version.id, skill_id=skill, level=3))
            versions[course.id] = version.id

        def enrol(user, course, firm, enrolled, *, completed=None, **kw):
            e = Enrollment(
                consortium_id=db.session.get(Course, course.id).consortium_id,
                firm_id=firm.id,
                user_id=users[user].id,
                course_id=course.id,
                version_id=versions[course.id],
                status="completed" if completed else kw.pop("status", "enrolled"),
                enrolled_at=enrolled,
                completed_at=completed,
                **kw,
            )
            db.session.add(e)
            db.session.flush()
            if completed:
                db.session.add(
                    Certificate(
                        serial=f"S-{e.id}",
                        verification_code=f"code-{e.id}",
                        consortium_id=e.consortium_id,
                        firm_id=firm.id,
                        user_id=e.user_id,
                        course_id=course.id,
                        version_id=e.version_id,
                        enrollment_id=e.id,
                        issued_at=completed,
                        completed_on=local_day(completed),
                    )
                )
                db.session.add(
                    TrainingHours(
                        consortium_id=e.consortium_id,
                        firm_id=firm.id,
                        user_id=e.user_id,
                        source="course",
                        enrollment_id=e.id,
                        course_id=course.id,
                        hours=Decimal("8.0"),
                        credited_on=local_day(completed),
                    )
                )
            return e

        w1_a = enrol("w1", course_a, f1, months_ago(3), completed=months_ago(2))
        enrol(
            "w1",
            course_b,
            f1,
            months_ago(0),
            status="in_progress",
            started_at=months_ago(0),
            last_active_at=utcnow(),
        )
        w2_a = enrol(
            "w2",
            course_a,
            f1,
            months_ago(2),
            source="firm",
            assigned_by_id=admins["f1"].id,
            is_mandatory=True,
            due_on=local_day(utcnow()) - timedelta(days=10),
        )
        db.session.add(  # F1's assignment, which the enrolment's due date and flag are
            Assignment(
                consortium_id=w2_a.consortium_id,
                firm_id=f1.id,
                party_key=f1.id,
                enrollment_id=w2_a.id,
                user_id=w2_a.user_id,
                course_id=course_a.id,
                assigned_by_id=admins["f1"].id,
                source="firm",
                due_on=w2_a.due_on,
                is_mandatory=True,
            )
        )
        w3_a = enrol("w3", course_a, f2, months_ago(0), completed=months_ago(0))
        enrol(
            "w3",
            course_b,
            f2,
            months_ago(5),
            status="withdrawn",
            withdrawn_at=months_ago(4),
        )
        enrol("w4", course_z, f3, months_ago(0), completed=months_ago(0))
        for user, level, when, verified, raises, enrollment in (
            ("w1", 3, months_ago(2), True, True, w1_a.id),
            ("w2", 4, months_ago(1), False, False, None),
            ("w3", 2, months_ago(0), True, True, w3_a.id),
            ("w4", 2, months_ago(0), True, True, None),
        ):
            db.session.add(
                SkillEvidence(
                    user_id=users[user].id,
                    skill_id="s1",
                    level=level,
                    source="course" if verified else "self",
                    is_verified=verified,
                    raises_level=raises,
                    recorded_at=when,
                    enrollment_id=enrollment,
                )
            )
        db.session.commit()
        assert db.session.get(CourseVersion, versions[course_a.id]).sector == "smart-manufacturing"
    return World(
        consortium.id,
        other.id,
        f1.id,
        f2.id,
        f3.id,
        course_a.id,
        course_b.id,
        course_z.id,
        users,
        admins,
    )
