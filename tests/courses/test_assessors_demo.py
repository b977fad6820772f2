"""The demo data (issue 13): every demo course with a practical task has someone who may sign
it off, so every demo course can be completed."""

from __future__ import annotations

from sqlalchemy import select

from lms.audit.models import AuditRecord
from lms.courses import assessors
from lms.courses.models import Course
from lms.courses.service import published_version
from lms.demo.data import DEMO_ASSESSORS
from lms.extensions import db
from lms.tenancy.models import Consortium


def test_every_demo_course_with_a_practical_has_an_assessor(app):
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, (result.output, result.exception)
    with app.test_request_context():
        consortium = db.session.scalars(select(Consortium).where(Consortium.code == "TS")).one()
        courses = db.session.scalars(
            select(Course).where(Course.consortium_id == consortium.id).order_by(Course.slug)
        ).all()
        with_practical = [
            c for c in courses if any(x.type == "practical" for x in published_version(c).lessons)
        ]
        assert len(with_practical) >= 7
        nobody = [c.slug for c in with_practical if not assessors.assessors_of(c)]
        assert nobody == []
        for course in with_practical:
            people = assessors.assessors_of(course)
            assert all(assessors.may_sign_off(a.user, course) for a in people), course.slug
            if not any(a.is_authoring for a in people):
                # A firm without trainers: someone the consortium admin designated.
                assert any(a.is_designated for a in people), course.slug
        # The designations name real demo courses and were made as in real use (audited).
        assert set(DEMO_ASSESSORS) <= {c.slug for c in courses}
        designated = db.session.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "course.assessor_designate",
                AuditRecord.consortium_id == consortium.id,
            )
        ).all()
        assert len(designated) == sum(len(v) for v in DEMO_ASSESSORS.values())
        assert {r.actor.email for r in designated} == {"consortium@demo.lms"}
