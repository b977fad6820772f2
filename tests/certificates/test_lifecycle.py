"""The certificate lifecycle: reminders 30 and 7 days before expiry (worker and firm admin),
expiry notices and recertification — each exactly once — and the `certificates remind` CLI."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from lms.certificates import lifecycle
from lms.certificates.models import Certificate
from lms.core.types import utcnow
from lms.extensions import db
from lms.learning.models import Enrollment
from lms.notifications.models import Notification
from tests.certificates.conftest import set_dates

EXPIRES = date(2027, 6, 30)


def _notes(kind: str, user_id: int | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.kind == kind)
    if user_id is not None:
        query = query.where(Notification.user_id == user_id)
    return list(db.session.scalars(query.order_by(Notification.id)))


def _enrolments(user_id: int, course_id: int) -> list[Enrollment]:
    return list(
        db.session.scalars(
            select(Enrollment)
            .where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)
            .order_by(Enrollment.id)
        )
    )


@pytest.fixture
def world(create_consortium, create_firm, create_user, create_course, certify):
    consortium = create_consortium()
    firm, other_firm = create_firm(consortium), create_firm(consortium)
    people = {
        "worker": create_user(role="worker", firm=firm, name="张三丰"),
        "admin": create_user(role="firm_admin", firm=firm),
        "other_admin": create_user(role="firm_admin", firm=other_firm),
    }
    course = create_course(firm, quiz=False, lessons=1, title="安全生产培训")
    issued = certify(people["worker"], firm, course, months=12)
    return people, issued


def test_the_issued_certificate_is_announced(app, world):
    people, issued = world
    with app.app_context():
        (note,) = _notes("certificate.issued")
        assert note.user_id == people["worker"].id
        assert note.params["serial"] == issued.serial and note.url == "/certificates"


def test_reminder_schedule(app, world):
    people, issued = world
    worker, admin, other_admin = people["worker"], people["admin"], people["other_admin"]
    with app.test_request_context():
        set_dates(issued.id, expires_on=EXPIRES)

        assert lifecycle.send_expiry_reminders(EXPIRES - timedelta(days=40)) == 0
        assert _notes("certificate.expiring") == []

        # 30 days before: the worker and the firm's admin, not another firm's admin.
        assert lifecycle.send_expiry_reminders(EXPIRES - timedelta(days=30)) == 2
        db.session.commit()
        notes = _notes("certificate.expiring")
        assert {n.user_id for n in notes} == {worker.id, admin.id}
        assert {n.params["days"] for n in notes} == {30}
        assert _notes("certificate.expiring", other_admin.id) == []
        by_user = {n.user_id: n for n in notes}
        assert "name" not in by_user[worker.id].params
        assert by_user[admin.id].params["name"] == "张三丰"
        assert by_user[admin.id].url.startswith("/firms/")
        assert db.session.get(Certificate, issued.id).reminded == [30]

        # The same day again, and the days after: nothing new.
        assert lifecycle.send_expiry_reminders(EXPIRES - timedelta(days=30)) == 0
        assert lifecycle.send_expiry_reminders(EXPIRES - timedelta(days=20)) == 0
        assert len(_notes("certificate.expiring")) == 2

        # 7 days before: the "7" reminder, once.
        assert lifecycle.send_expiry_reminders(EXPIRES - timedelta(days=7)) == 2
        assert lifecycle.send_expiry_reminders(EXPIRES - timedelta(days=6)) == 0
        db.session.commit()
        sevens = [n for n in _notes("certificate.expiring") if n.params["days"] == 7]
        assert {n.user_id for n in sevens} == {worker.id, admin.id}
        assert sorted(db.session.get(Certificate, issued.id).reminded) == [7, 30]


def test_first_seen_a_few_days_before_expiry_gets_only_the_7_day_reminder(app, world):
    people, issued = world
    with app.test_request_context():
        set_dates(issued.id, expires_on=EXPIRES)
        assert lifecycle.send_expiry_reminders(EXPIRES - timedelta(days=5)) == 2
        assert {n.params["days"] for n in _notes("certificate.expiring")} == {7}
        assert lifecycle.send_expiry_reminders(EXPIRES - timedelta(days=4)) == 0


def test_expiry_notifies_and_reassigns_once(app, world):
    people, issued = world
    worker, admin = people["worker"], people["admin"]
    today = EXPIRES + timedelta(days=1)
    with app.test_request_context():
        set_dates(issued.id, expires_on=EXPIRES)
        assert lifecycle.handle_expired(EXPIRES) == 0  # the last valid day
        assert lifecycle.handle_expired(today) == 1
        db.session.commit()
        notes = _notes("certificate.expired")
        assert {n.user_id for n in notes} == {worker.id, admin.id}
        due = (today + timedelta(days=30)).isoformat()
        assert all(n.params["due_on"] == due for n in notes)
        assert all(n.params["expires_on"] == EXPIRES.isoformat() for n in notes)

        old, new = _enrolments(worker.id, issued.course_id)
        assert old.id == issued.enrollment_id
        assert old.status == "completed" and old.withdrawn_at is not None  # kept, set aside
        assert new.source == "recert" and new.status == "enrolled"
        assert new.due_on == today + timedelta(days=30) and new.is_mandatory
        # The worker's firm's assignment (issue 12: one row per assigning party).
        assert [(a.firm_id, a.source, a.due_on, a.is_mandatory) for a in new.assignments] == [
            (new.firm_id, "recert", today + timedelta(days=30), True)
        ]
        assert 0 in db.session.get(Certificate, issued.id).reminded

        # Running again (the same day, or later) changes nothing.
        assert lifecycle.handle_expired(today) == 0
        assert lifecycle.handle_expired(today + timedelta(days=3)) == 0
        assert lifecycle.send_expiry_reminders(today) == 0
        db.session.commit()
        assert len(_notes("certificate.expired")) == 2
        assert len(_enrolments(worker.id, issued.course_id)) == 2


def test_expiry_handled_once_even_if_the_mark_is_lost(app, world):
    """The notification key alone stops a second run (e.g. a concurrent one)."""
    people, issued = world
    today = EXPIRES + timedelta(days=1)
    with app.test_request_context():
        set_dates(issued.id, expires_on=EXPIRES)
        lifecycle.handle_expired(today)
        cert = db.session.get(Certificate, issued.id)
        cert.reminded = []
        db.session.commit()
        assert lifecycle.handle_expired(today) == 0
        assert len(_notes("certificate.expired")) == 2
        assert len(_enrolments(people["worker"].id, issued.course_id)) == 2


def test_revoked_certificates_never_remind(app, world):
    people, issued = world
    with app.test_request_context():
        set_dates(issued.id, expires_on=EXPIRES)
        cert = db.session.get(Certificate, issued.id)
        cert.revoked_at, cert.revoke_reason = utcnow(), "test"
        db.session.commit()
        for days in (30, 7, 1):
            assert lifecycle.send_expiry_reminders(EXPIRES - timedelta(days=days)) == 0
        assert lifecycle.handle_expired(EXPIRES + timedelta(days=1)) == 0
        assert _notes("certificate.expiring") == [] and _notes("certificate.expired") == []
        assert len(_enrolments(people["worker"].id, issued.course_id)) == 1


def test_certificates_without_expiry_are_left_alone(app, world):
    people, issued = world
    with app.test_request_context():
        set_dates(issued.id, expires_on=None)
        result = lifecycle.run(date(2040, 1, 1))
        assert result["reminders"] == 0 and result["expired"] == 0


def test_cli_remind_with_today(app, world, monkeypatch):
    people, issued = world
    with app.app_context():
        set_dates(issued.id, expires_on=EXPIRES)
    runner = app.test_cli_runner()
    day = (EXPIRES - timedelta(days=30)).isoformat()
    result = runner.invoke(args=["certificates", "remind", "--today", day])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["today"] == day and summary["reminders"] == 2 and summary["emailed"] == 0
    assert runner.invoke(args=["certificates", "remind", "--today", day]).output.count(
        '"reminders": 0'
    )
    result = runner.invoke(args=["certificates", "remind", "--today", "2027-13-01"])
    assert result.exit_code != 0
    with app.app_context():
        assert len(_notes("certificate.expiring")) == 2
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 3


def test_lifecycle_emails_when_smtp_is_configured(app, world, fake_smtp):
    people, issued = world
    sent = fake_smtp.sent
    with app.test_request_context():
        set_dates(issued.id, expires_on=EXPIRES)
        # Only recent notifications are e-mailed: the "issued" one is recent too.
        result = lifecycle.run(EXPIRES - timedelta(days=30))
        assert result["reminders"] == 2 and result["emailed"] == 3
        assert sorted(m["To"] for m in sent) == sorted(
            [people["worker"].email, people["worker"].email, people["admin"].email]
        )
        assert lifecycle.run(EXPIRES - timedelta(days=30))["emailed"] == 0
        assert len(sent) == 3


def test_completing_the_recertification_earns_a_new_certificate_on_the_same_version(app, world):
    from lms.certificates import service
    from lms.learning import service as learning

    people, issued = world
    worker = people["worker"]
    with app.test_request_context():
        set_dates(issued.id, expires_on=EXPIRES)
        lifecycle.handle_expired(EXPIRES + timedelta(days=1))
        old, new = _enrolments(worker.id, issued.course_id)
        assert new.version_id == old.version_id  # the same published version
        for lesson in new.version.lessons:
            learning.record_progress(new, lesson, percent=100)
        db.session.commit()
        renewed = service.certificate_of(new)
        assert renewed is not None and renewed.serial != issued.serial
        assert renewed.status() == "valid"
        assert service.certificate_of(old).serial == issued.serial  # the old one stays
        assert service.issue(new).id == renewed.id  # and still once per completion
