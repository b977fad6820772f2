"""Notifications: once per event, unread count and badge, open / mark read, e-mail once."""

from __future__ import annotations

import smtplib

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from lms.auth.models import User
from lms.extensions import db
from lms.notifications import service
from lms.notifications.models import Notification, NotificationPreference

PARAMS = {"course": "安全生产培训", "serial": "S-1", "expires_on": "2027-07-01"}


def _count(**where) -> int:
    query = select(func.count()).select_from(Notification)
    for name, value in where.items():
        query = query.where(getattr(Notification, name) == value)
    return db.session.scalar(query)


@pytest.fixture
def worker(create_firm, create_user):
    return create_user(role="worker", firm=create_firm())


def test_notify_once_per_key(ctx, worker):
    first = service.notify(worker, "certificate.expiring", "k:1", "/certificates", **PARAMS)
    assert first is not None
    assert service.notify(worker, "certificate.expiring", "k:1", "/certificates", **PARAMS) is None
    db.session.commit()
    assert _count(key="k:1") == 1


def test_a_racing_duplicate_is_refused_by_the_database(ctx, worker, monkeypatch):
    service.notify(worker, "certificate.issued", "k:race", None, **PARAMS)
    db.session.commit()
    # The other process didn't see the row yet: the pre-check finds nothing, the insert fails.
    monkeypatch.setattr(db.session, "scalar", lambda *a, **k: None)
    assert service.notify(worker, "certificate.issued", "k:race", None, **PARAMS) is None
    monkeypatch.undo()
    db.session.commit()  # the session is still usable (the insert was in a savepoint)
    assert _count(key="k:race") == 1


def test_unknown_kind_is_an_error(ctx, worker):
    with pytest.raises(ValueError):
        service.notify(worker, "no.such.kind", "k:x")


def test_message_in_the_viewers_language(ctx, worker):
    n = service.notify(worker, "certificate.expiring", "k:lang", None, **PARAMS)
    with force_locale("en"):
        text = service.message(n)
    assert "安全生产培训" in text and "expires on" in text and "2027" in text
    admin_view = service.notify(
        worker, "certificate.expiring", "k:lang2", None, name="李四", **PARAMS
    )
    with force_locale("en"):
        assert service.message(admin_view).startswith("The certificate of 李四")


def test_unread_count_mark_read_and_badge(client, login, app, worker):
    with app.test_request_context():
        for i in range(3):
            service.notify(worker.id, "certificate.issued", f"k:u{i}", "/certificates", **PARAMS)
        db.session.commit()
        assert service.unread_count(worker) == 3
    login(worker)
    page = client.get("/notifications").get_data(as_text=True)
    assert "安全生产培训" in page
    assert '<span class="badge">3<' in page  # the top bar's badge
    with app.app_context():
        first = db.session.scalars(select(Notification).where(Notification.key == "k:u0")).one()
        public_id = first.public_id
    response = client.get(f"/notifications/{public_id}/open")
    assert response.status_code == 302 and response.headers["Location"].endswith("/certificates")
    with app.app_context():
        assert service.unread_count(worker) == 2
    assert client.post("/notifications/read").status_code == 302
    with app.app_context():
        assert service.unread_count(worker) == 0
    assert '<span class="badge">' not in client.get("/notifications").get_data(as_text=True)


def test_mark_all_read_spares_what_arrived_after_the_page(app, client, login, worker):
    with app.test_request_context():
        shown = service.notify(worker.id, "certificate.issued", "k:a", None, **PARAMS)
        db.session.commit()
        upto = shown.id
        service.notify(worker.id, "certificate.issued", "k:b", None, **PARAMS)
        db.session.commit()
    login(worker)
    client.post("/notifications/read", data={"upto": upto})
    with app.app_context():
        assert service.unread_count(worker) == 1


def test_someone_elses_notification_is_not_found(app, client, login, worker, create_user):
    other = create_user()
    with app.test_request_context():
        n = service.notify(worker.id, "certificate.issued", "k:mine", "/certificates", **PARAMS)
        db.session.commit()
        public_id, n_id = n.public_id, n.id
    login(other)
    assert client.get(f"/notifications/{public_id}/open").status_code == 404
    assert client.get("/notifications/nope/open").status_code == 404
    with app.app_context():
        assert db.session.get(Notification, n_id).read_at is None


def test_open_never_redirects_elsewhere(app, client, login, worker):
    with app.test_request_context():
        n = service.notify(worker.id, "certificate.issued", "k:ext", "//evil.example/x", **PARAMS)
        db.session.commit()
        public_id = n.public_id
    login(worker)
    response = client.get(f"/notifications/{public_id}/open")
    assert response.headers["Location"].endswith("/notifications")


def test_email_preferences_page(app, client, login, worker):
    login(worker)
    response = client.post("/notifications/preferences", data={"email": ["certificate.issued"]})
    assert response.status_code == 302
    with app.app_context():
        pref = db.session.get(NotificationPreference, worker.id)
        assert set(pref.email_off) == set(service.KINDS) - {"certificate.issued"}
    page = client.get("/notifications").get_data(as_text=True)
    assert 'value="certificate.issued" checked' in page
    assert 'value="certificate.expired" >' in page or 'value="certificate.expired">' in page


# --- e-mail ----------------------------------------------------------------------------------


def test_email_sent_once_when_smtp_is_configured(app, ctx, fake_smtp, monkeypatch, create_user):
    monkeypatch.setitem(app.config, "LMS_SMTP_URL", "smtp://lms%40x.cn:s3cret@mail.example:587")
    monkeypatch.setitem(app.config, "LMS_BASE_URL", "https://lms.example")
    wants = create_user(locale="en")
    opted_out = create_user()
    no_address = create_user(email=None)
    service.set_email_kinds(db.session.get(User, opted_out.id), set())
    for user in (wants, opted_out, no_address):
        service.notify(
            user.id, "certificate.issued", f"k:mail:{user.id}", "/certificates", **PARAMS
        )
    db.session.commit()

    assert service.send_pending_emails() == 1
    sent = fake_smtp.sent
    assert len(sent) == 1 and sent[0]["To"] == wants.email
    assert "Certificate issued" in sent[0]["Subject"]  # the recipient's language (en)
    body = sent[0].get_content()
    assert "安全生产培训" in body and "https://lms.example/notifications/" in body
    assert fake_smtp.instances[0].logged_in == ("lms@x.cn", "s3cret")
    assert fake_smtp.instances[0].port == 587

    assert service.send_pending_emails() == 0  # never twice
    assert len(fake_smtp.sent) == 1
    assert _count(user_id=wants.id) == 1


def test_no_email_without_smtp(app, ctx, fake_smtp, monkeypatch, worker):
    monkeypatch.setitem(app.config, "LMS_SMTP_URL", None)
    service.notify(worker.id, "certificate.issued", "k:nosmtp", None, **PARAMS)
    db.session.commit()
    assert service.send_pending_emails() == 0
    assert fake_smtp.instances == []
    n = db.session.scalars(select(Notification).where(Notification.key == "k:nosmtp")).one()
    assert n.emailed_at is None


def test_a_failed_send_is_retried_next_time(app, ctx, fake_smtp, monkeypatch, worker):
    monkeypatch.setitem(app.config, "LMS_SMTP_URL", "smtp://mail.example")
    service.notify(worker.id, "certificate.issued", "k:retry", None, **PARAMS)
    db.session.commit()

    def refuse(self, msg):
        raise smtplib.SMTPRecipientsRefused({})

    with monkeypatch.context() as m:
        m.setattr(fake_smtp, "send_message", refuse)
        assert service.send_pending_emails() == 0
    assert service.send_pending_emails() == 1


def test_email_job(app, ctx, fake_smtp, monkeypatch, worker):
    from lms.jobs.service import start_job

    monkeypatch.setitem(app.config, "LMS_SMTP_URL", "smtp://mail.example")
    service.notify(worker.id, "certificate.issued", "k:job", None, **PARAMS)
    db.session.commit()
    job = start_job("notifications.email")
    assert job.state == "done" and job.result == {"emailed": 1}
