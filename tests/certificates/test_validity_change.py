"""Validity changes never issue an already-expired certificate silently (issue 13): the page
shows what a change means for the course's issued certificates before it is saved (they keep
their expiry date), a certificate issued after a change counts the validity from its day of
issue, and the reminder job sends at most one expiry reminder per certificate per run."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from lms.auth.models import User
from lms.certificates import designs, lifecycle, service
from lms.certificates.models import Certificate
from lms.core.types import local_date, local_today, utcnow
from lms.courses.models import Course
from lms.extensions import db
from lms.learning.models import Enrollment
from lms.notifications.models import Notification
from tests.certificates.conftest import set_dates
from tests.certificates.test_bulk import complete_quietly


@pytest.fixture
def world(app, create_consortium, create_firm, create_user, create_course, certify):
    """A course valid 24 months with two certificates: one issued today, one issued 400 days
    ago; and a learner who completed without a certificate."""
    consortium = create_consortium()
    firm = create_firm(consortium)
    people = {
        "admin": create_user(role="consortium_admin", consortium=consortium),
        "w1": create_user(role="worker", firm=firm),
        "w2": create_user(role="worker", firm=firm),
        "w3": create_user(role="worker", firm=firm),
        "trainer": create_user(role="trainer", firm=firm),
    }
    course = create_course(firm, quiz=False, lessons=1, title="高处作业安全")
    fresh = certify(people["w1"], firm, course, months=24)
    old = certify(people["w2"], firm, course, months=24)
    with app.app_context():
        cert = db.session.get(Certificate, old.id)
        cert.issued_at = utcnow() - timedelta(days=400)
        cert.expires_on = local_today() + timedelta(days=330)
        db.session.commit()
    waiting = complete_quietly(app, people["w3"], course)
    return SimpleNamespace(
        consortium=consortium,
        course=course,
        people=people,
        fresh=fresh,
        old=old,
        waiting=waiting,
        url=f"/consortia/{consortium.id}/certificate-designs/courses/{course.id}/validity",
    )


def _months(app, course_id: int) -> int | None:
    with app.app_context():
        return db.session.get(Course, course_id).certificate_months


def test_the_page_shows_how_many_issued_certificates_keep_their_expiry(client, login, world):
    login(world.people["admin"])
    page = client.get(world.url).get_data(as_text=True)
    assert "issued and not revoked: 2" in page or "未撤销的证书：2" in page


def test_a_change_is_shown_with_its_effect_before_it_is_saved(app, client, login, world):
    login(world.people["admin"])
    expiries = {}
    with app.app_context():
        for key in ("fresh", "old"):
            expiries[key] = db.session.get(Certificate, getattr(world, key).id).expires_on

    # Shortened to 12 months: the one issued 400 days ago would already have expired.
    shown = client.post(world.url, data={"months": "12"})
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    assert "validity-preview" in page
    assert "issued and not revoked: 2" in page or "未撤销的证书：2" in page
    assert "1 of them would already have expired" in page or "其中 1 张" in page
    assert "no certificate yet: 1" in page or "尚无证书的学员：1" in page
    assert 'name="confirmed" type="hidden" value="12"' in page
    assert _months(app, world.course.id) == 24  # nothing saved yet

    # Another value typed in before confirming is shown first, too.
    other = client.post(world.url, data={"months": "36", "confirmed": "12"})
    assert other.status_code == 200 and "validity-preview" in other.get_data(as_text=True)
    assert "of them would already have expired." not in other.get_data(as_text=True)
    assert _months(app, world.course.id) == 24

    saved = client.post(world.url, data={"months": "12", "confirmed": "12"})
    assert saved.status_code == 302
    assert _months(app, world.course.id) == 12
    again = client.post(world.url, data={"months": "12", "confirmed": "12"})  # double submit
    assert again.status_code == 302
    with app.app_context():
        from lms.audit.models import AuditRecord

        actions = db.session.scalars(
            select(AuditRecord.action).where(AuditRecord.action == "design.validity")
        ).all()
        assert len(actions) == 1
        # Issued certificates keep their expiry: the dates printed on them.
        for key in ("fresh", "old"):
            cert = db.session.get(Certificate, getattr(world, key).id)
            assert cert.expires_on == expiries[key] and cert.status() == "valid"


def test_removing_the_expiry_is_shown_too(app, client, login, world):
    login(world.people["admin"])
    shown = client.post(world.url, data={"months": ""})
    assert shown.status_code == 200
    assert 'name="confirmed" type="hidden" value="none"' in shown.get_data(as_text=True)
    assert client.post(world.url, data={"months": "", "confirmed": "none"}).status_code == 302
    assert _months(app, world.course.id) is None


def test_the_same_value_saves_without_a_preview(app, client, login, world):
    login(world.people["admin"])
    assert client.post(world.url, data={"months": "24"}).status_code == 302


def test_validity_impact_counts(app, world):
    with app.app_context():
        course = db.session.get(Course, world.course.id)
        impact = designs.validity_impact(course, 12)
        assert (impact.issued, impact.would_be_expired, impact.awaiting) == (2, 1, 1)
        assert designs.validity_impact(course, 24).would_be_expired == 0
        assert designs.validity_impact(course, None).would_be_expired == 0
        # Revoked certificates are not counted: they no longer count anyway.
        cert = db.session.get(Certificate, world.old.id)
        cert.revoked_at = utcnow()
        db.session.flush()
        assert designs.validity_impact(course, 12).issued == 1
        db.session.rollback()


# --- issuing after a change -------------------------------------------------------------------


def test_a_certificate_issued_after_the_validity_was_shortened_is_not_expired(
    app, client, login, world
):
    """A completion 18 months ago, certified today with a 12-month validity: valid for 12
    months from today (counted from the completion it would be expired on issue)."""
    with app.app_context():
        enrollment = db.session.scalars(
            select(Enrollment).where(Enrollment.public_id == world.waiting)
        ).one()
        enrollment.completed_at = utcnow() - timedelta(days=548)
        db.session.get(Course, world.course.id).certificate_months = 12
        db.session.commit()
    login(world.people["trainer"])
    response = client.post(f"/courses/{world.course.slug}/learners/{world.waiting}/certificate")
    assert response.status_code == 302
    with app.test_request_context():
        cert = db.session.scalars(
            select(Certificate).where(Certificate.user_id == world.people["w3"].id)
        ).one()
        today = local_today()
        assert cert.completed_on < today - timedelta(days=500)
        assert cert.expires_on == service._add_months(today, 12)
        assert cert.status() == "valid"
        assert cert.data["expires_on"] == cert.expires_on.isoformat()  # as printed
        # The daily run neither calls it expired nor reassigns the course.
        assert lifecycle.handle_expired(today) == 0
        assert lifecycle.send_expiry_reminders(today) == 0


def test_expiry_counts_from_the_day_of_issue(app, create_firm, create_user, certify):
    firm = create_firm()
    issued = certify(create_user(role="worker", firm=firm), firm, months=6)
    with app.test_request_context():
        cert = db.session.get(Certificate, issued.id)
        assert cert.expires_on == service.expiry_for(cert.course, local_date(cert.issued_at))
        assert service.expiry_for(SimpleNamespace(certificate_months=None), date.today()) is None


# --- reminders ----------------------------------------------------------------------------------


def test_a_certificate_five_days_from_expiry_gets_one_reminder_per_run(app, world):
    today = date(2027, 3, 10)
    with app.test_request_context():
        set_dates(world.fresh.id, expires_on=today + timedelta(days=5))
        set_dates(world.old.id, expires_on=None)
        worker = db.session.get(User, world.people["w1"].id)
        lifecycle.run(today)
        notes = db.session.scalars(
            select(Notification).where(
                Notification.kind == "certificate.expiring", Notification.user_id == worker.id
            )
        ).all()
        assert [n.params["days"] for n in notes] == [7]  # the most urgent, and only that one
        assert sorted(db.session.get(Certificate, world.fresh.id).reminded) == [7, 30]
        lifecycle.run(today)
        lifecycle.run(today + timedelta(days=1))
        count = db.session.scalars(
            select(Notification.id).where(Notification.kind == "certificate.expiring")
        ).all()
        assert len(count) == 1  # the worker's; the firm has no admin here


def test_each_run_sends_at_most_one_reminder_per_certificate(app, world):
    """Whatever was recorded before (here: nothing), one run never sends both thresholds."""
    with app.test_request_context():
        set_dates(world.old.id, expires_on=None)
        expires = date(2027, 6, 30)
        set_dates(world.fresh.id, expires_on=expires)
        for days_left in (40, 30, 12, 7, 3, 0):
            before = _expiring(world.people["w1"].id)
            lifecycle.send_expiry_reminders(expires - timedelta(days=days_left))
            db.session.commit()
            assert len(_expiring(world.people["w1"].id)) - len(before) <= 1
        assert [n.params["days"] for n in _expiring(world.people["w1"].id)] == [30, 7]


def _expiring(user_id: int) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.kind == "certificate.expiring", Notification.user_id == user_id)
            .order_by(Notification.id)
        )
    )
