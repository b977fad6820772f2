"""Crediting hours: once per completed enrolment (whatever the number of signals or races),
again for a recertification, on the local completion day; session credits for later."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from lms.audit.models import AuditRecord
from lms.auth.models import User
from lms.certificates import lifecycle
from lms.certificates import service as certificates
from lms.courses.models import Course
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment
from lms.tenancy.models import Firm
from lms.transcripts import service
from lms.transcripts.models import TrainingHours
from tests.transcripts.conftest import credits_of


def test_completing_a_course_credits_its_hours_once(app, create_firm, create_user, complete):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    enrollment_id = complete(worker, firm, hours=2.5)
    with app.test_request_context():
        (credit,) = credits_of(worker.id)
        assert credit.source == "course" and credit.enrollment_id == enrollment_id
        assert credit.hours == Decimal("2.5")
        assert credit.firm_id == firm.id and credit.consortium_id == firm.consortium_id
        enrollment = db.session.get(Enrollment, enrollment_id)
        assert credit.course_id == enrollment.course_id
        assert credit.credited_on == service.local_date(enrollment.completed_at)
        # The signal fires again (a retried job, a second handler run): still one credit.
        learning.course_completed.send(enrollment)
        learning.course_completed.send(enrollment)
        assert service.credit_course_hours(enrollment).id == credit.id
        db.session.commit()
        assert len(credits_of(worker.id)) == 1


def test_a_racing_insert_credits_once(app, create_firm, create_user, complete, monkeypatch):
    """Two transactions both see no credit and insert: the unique enrolment constraint lets
    one win; the other returns the winner's row instead of failing the completion."""
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    enrollment_id = complete(worker, firm)
    with app.test_request_context():
        enrollment = db.session.get(Enrollment, enrollment_id)
        (winner,) = credits_of(worker.id)
        seen = iter([None])  # the first look-up misses it, as in the other transaction
        original = service.credit_of
        monkeypatch.setattr(service, "credit_of", lambda e: next(seen, None) or original(e))
        credit = service.credit_course_hours(enrollment)
        assert credit.id == winner.id
        db.session.commit()
        assert len(credits_of(worker.id)) == 1


def test_the_credit_day_is_the_local_completion_day(app, create_firm, create_user, create_course):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    course = create_course(firm, quiz=False, lessons=1)
    with app.test_request_context():
        version = db.session.get(Course, course.id).versions[-1]
        enrollment, _ = learning.enroll(db.session.get(User, worker.id), version)
        # 16:30 UTC is 00:30 the next day in Shanghai.
        enrollment.status = "completed"
        enrollment.completed_at = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
        db.session.flush()
        assert service.credit_course_hours(enrollment).credited_on == date(2026, 3, 2)


def test_no_credit_before_completion_or_without_hours(app, create_firm, create_user, complete):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    complete(worker, firm, hours=0)
    with app.test_request_context():
        assert credits_of(worker.id) == []
        enrollment = db.session.scalars(
            select(Enrollment).where(Enrollment.user_id == worker.id)
        ).one()
        enrollment.status, enrollment.completed_at = "in_progress", None
        assert service.credit_course_hours(enrollment) is None


def test_a_recertification_credits_again(app, create_firm, create_user, complete):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    first_id = complete(worker, firm, hours=3)
    with app.test_request_context():
        first = db.session.get(Enrollment, first_id)
        cert = certificates.certificate_of(first)
        today = date.today()
        cert.expires_on = today - timedelta(days=1)
        again = lifecycle.recertify(cert, today)
        assert again is not None and again.id != first.id and again.source == "recert"
        for lesson in again.version.lessons:
            learning.record_progress(again, lesson, percent=100)
        db.session.commit()
        credits = credits_of(worker.id)
        assert [c.enrollment_id for c in credits] == [first.id, again.id]
        assert sum(c.hours for c in credits) == Decimal("6.0")


def test_session_hours_are_credited_once_per_worker_and_session(app, create_firm, create_user):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    trainer = create_user(role="trainer", firm=firm)
    with app.test_request_context():
        firm = db.session.get(Firm, firm.id)
        user = db.session.get(User, worker.id)
        actor = db.session.get(User, trainer.id)
        credit = service.credit_session_hours(
            actor, user, firm, "1.5", "session:42", date(2026, 9, 3)
        )
        again = service.credit_session_hours(actor, user, firm, 4, "session:42", date(2026, 9, 4))
        other = service.credit_session_hours(actor, user, firm, 2, "session:43", date(2026, 9, 5))
        db.session.commit()
        assert again.id == credit.id and other.id != credit.id
        rows = credits_of(worker.id)
        assert [(c.source, c.session_ref, c.hours, c.credited_on) for c in rows] == [
            ("session", "session:42", Decimal("1.5"), date(2026, 9, 3)),
            ("session", "session:43", Decimal("2.0"), date(2026, 9, 5)),
        ]
        assert all(c.enrollment_id is None and c.firm_id == firm.id for c in rows)
        audits = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == "hours.credit_session")
        ).all()
        assert len(audits) == 2 and audits[0].actor_id == trainer.id
        assert "session:42" in str(audits[0].details)


@pytest.mark.parametrize(
    ("hours", "ref", "on", "field"),
    [
        ("", "s1", date(2026, 1, 1), "hours"),
        ("abc", "s1", date(2026, 1, 1), "hours"),
        (0, "s1", date(2026, 1, 1), "hours"),
        (-1, "s1", date(2026, 1, 1), "hours"),
        ("NaN", "s1", date(2026, 1, 1), "hours"),
        (100000, "s1", date(2026, 1, 1), "hours"),
        (2, "  ", date(2026, 1, 1), "session_ref"),
        (2, "x" * 65, date(2026, 1, 1), "session_ref"),
        (2, "s1", None, "on"),
    ],
)
def test_bad_session_credits_name_the_field_and_change_nothing(
    app, create_firm, create_user, hours, ref, on, field
):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    with app.test_request_context():
        with pytest.raises(service.HoursError) as error:
            service.credit_session_hours(
                None, db.session.get(User, worker.id), db.session.get(Firm, firm.id), hours, ref, on
            )
        assert error.value.field == field
        assert db.session.scalars(select(TrainingHours)).all() == []


def test_course_and_session_credits_need_their_reference(app, create_firm, create_user):
    """The table itself refuses a course credit without an enrolment."""
    from sqlalchemy.exc import IntegrityError

    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    with app.test_request_context():
        db.session.add(
            TrainingHours(
                consortium_id=firm.consortium_id,
                firm_id=firm.id,
                user_id=worker.id,
                source="course",
                hours=Decimal("1.0"),
                credited_on=date(2026, 1, 1),
            )
        )
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
