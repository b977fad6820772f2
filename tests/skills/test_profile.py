"""Worker skill profiles: evidence from completed courses, self-assessment kept apart."""

from __future__ import annotations

from sqlalchemy import func, select

from lms.auth.models import User
from lms.courses.models import CourseVersion
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment
from lms.skills.models import SkillEvidence
from lms.skills.service import (
    held_levels,
    record_course_evidence,
    record_self_assessment,
    skill_profile,
)
from lms.taxonomy.service import import_seed_taxonomy


def _complete(app, create_course, firm, worker, skills):
    with app.app_context():
        import_seed_taxonomy()
        db.session.commit()
    course = create_course(firm, lessons=1, quiz=False, skills=skills)
    with app.test_request_context():
        version = db.session.scalars(
            select(CourseVersion).where(CourseVersion.course_id == course.id)
        ).one()
        enrollment, _ = learning.enroll(db.session.get(User, worker.id), version)
        learning.record_progress(enrollment, version.lessons[0], percent=100)
        db.session.commit()
        return enrollment.id


def test_completing_a_course_records_its_skills_once_as_verified_evidence(
    app, create_firm, create_user, create_course
):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    enrollment_id = _complete(
        app,
        create_course,
        firm,
        worker,
        [{"skill": "plc_programming", "level": 3}, {"skill": "hmi_scada", "level": 2}],
    )
    with app.test_request_context():
        assert held_levels(worker.id) == {"plc_programming": 3, "hmi_scada": 2}
        # The event may be replayed: the evidence stays single.
        assert record_course_evidence(db.session.get(Enrollment, enrollment_id)) == 0
        count = db.session.scalar(select(func.count()).select_from(SkillEvidence))
        assert count == 2


def test_self_assessment_is_unverified_and_does_not_raise_the_level(
    app, create_firm, create_user, create_course
):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    _complete(app, create_course, firm, worker, [{"skill": "plc_programming", "level": 2}])
    with app.test_request_context():
        record_self_assessment(db.session.get(User, worker.id), "plc_programming", 4, "自评")
        db.session.commit()
        profile = skill_profile(worker.id)["plc_programming"]
        assert (profile["level"], profile["self"]) == (2, 4)
        assert [e.source for e in profile["history"]] == ["self", "course"]
        assert held_levels(worker.id) == {"plc_programming": 2}
