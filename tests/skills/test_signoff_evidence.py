"""Skill evidence from a trainer's sign-off of a practical task, beside course-completion
evidence for the same enrolment and skill (unique per enrolment + skill + source)."""

from __future__ import annotations

import yaml
from sqlalchemy import select

from lms.auth.models import User
from lms.courses.models import Lesson
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment
from lms.skills.models import SkillEvidence
from lms.skills.service import held_levels, record_signoff_evidence
from tests.conftest import ensure_skills, write_package
from tests.courses.helpers import import_dir


def _publish_practical(app, tmp_path, firm, practical_skills):
    """A course teaching so_a at 2, with one reading and a practical task certifying skills."""
    with app.app_context():
        ensure_skills(["so_a", "so_b"])
        db.session.commit()
    pkg = write_package(
        tmp_path,
        "so-course",
        lessons=1,
        quiz=False,
        practical=True,
        skills=[{"skill": "so_a", "level": 2}],
    )
    meta = yaml.safe_load((pkg / "course.yaml").read_text(encoding="utf-8"))
    meta["modules"][0]["lessons"][-1]["skills"] = practical_skills
    (pkg / "course.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    return import_dir(app, firm.id, pkg)


def _rows(user_id):
    return [
        (e.skill_id, e.level, e.source, e.is_verified, e.recorded_by_id)
        for e in db.session.scalars(
            select(SkillEvidence)
            .where(SkillEvidence.user_id == user_id)
            .order_by(SkillEvidence.source, SkillEvidence.skill_id)
        )
    ]


def test_a_sign_off_records_verified_evidence_once_and_completion_adds_course_evidence(
    app, tmp_path, create_firm, create_user
):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    trainer = create_user(role="trainer", firm=firm)
    course = _publish_practical(
        app, tmp_path, firm, [{"skill": "so_a", "level": 3}, {"skill": "so_b", "level": 2}]
    )
    with app.test_request_context():
        enrollment, _ = learning.enroll(
            db.session.get(User, worker.id),
            db.session.get(Lesson, course.lesson_ids["lessons/01.md"]).version,
        )
        practical = db.session.get(Lesson, course.lesson("practical:实操"))
        assert practical.data["skills"] == [
            {"skill": "so_a", "level": 3},
            {"skill": "so_b", "level": 2},
        ]
        signer = db.session.get(User, trainer.id)
        learning.sign_off_practical(signer, enrollment, practical)
        learning.sign_off_practical(signer, enrollment, practical)  # signed twice
        db.session.commit()
        enrollment_id = enrollment.id
        # Before the course is complete there is only sign-off evidence.
        assert _rows(worker.id) == [
            ("so_a", 3, "signoff", True, trainer.id),
            ("so_b", 2, "signoff", True, trainer.id),
        ]
        # Replaying the event records nothing more.
        again = record_signoff_evidence(
            db.session.get(Enrollment, enrollment_id), practical, signer
        )
        assert again == 0
    with app.test_request_context():
        enrollment = db.session.get(Enrollment, enrollment_id)
        reading = db.session.get(Lesson, course.lesson("lessons/01.md"))
        learning.record_progress(enrollment, reading, percent=100)
        db.session.commit()
        assert db.session.get(Enrollment, enrollment_id).status == "completed"
        # Course evidence for so_a on the same enrolment does not collide with the sign-off.
        assert _rows(worker.id) == [
            ("so_a", 2, "course", True, None),
            ("so_a", 3, "signoff", True, trainer.id),
            ("so_b", 2, "signoff", True, trainer.id),
        ]
        assert {e.enrollment_id for e in db.session.scalars(select(SkillEvidence))} == {
            enrollment_id
        }
        notes = set(
            db.session.scalars(select(SkillEvidence.note).where(SkillEvidence.source == "signoff"))
        )
        assert notes == {"实操"}  # the practical task's title
        assert held_levels(worker.id) == {"so_a": 3, "so_b": 2}


def test_completion_first_then_sign_off_both_recorded(app, tmp_path, create_firm, create_user):
    """The practical task is the last lesson: the sign-off completes the course in one go."""
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    trainer = create_user(role="trainer", firm=firm)
    course = _publish_practical(app, tmp_path, firm, [{"skill": "so_a", "level": 2}])
    with app.test_request_context():
        reading = db.session.get(Lesson, course.lesson("lessons/01.md"))
        enrollment, _ = learning.enroll(db.session.get(User, worker.id), reading.version)
        learning.record_progress(enrollment, reading, percent=100)
        practical = db.session.get(Lesson, course.lesson("practical:实操"))
        learning.sign_off_practical(db.session.get(User, trainer.id), enrollment, practical)
        db.session.commit()
        assert db.session.get(Enrollment, enrollment.id).status == "completed"
        # Same skill, same level, same enrolment: one row per source.
        assert _rows(worker.id) == [
            ("so_a", 2, "course", True, None),
            ("so_a", 2, "signoff", True, trainer.id),
        ]


def test_a_practical_without_skills_records_no_sign_off_evidence(
    app, tmp_path, create_firm, create_user
):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    trainer = create_user(role="trainer", firm=firm)
    course = _publish_practical(app, tmp_path, firm, [])
    with app.test_request_context():
        practical = db.session.get(Lesson, course.lesson("practical:实操"))
        enrollment, _ = learning.enroll(db.session.get(User, worker.id), practical.version)
        learning.sign_off_practical(db.session.get(User, trainer.id), enrollment, practical)
        db.session.commit()
        assert _rows(worker.id) == []
