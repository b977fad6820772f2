"""Signing in and out: identifiers, generic failures, fresh and revocable sessions,
remember-me, lockout, per-IP rate limit and CSRF."""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import func, select

from lms import create_app
from lms.audit.models import AuditRecord
from lms.auth.models import User, UserSession
from lms.core.types import utcnow
from lms.extensions import db, limiter
from tests.auth.conftest import COOKIE, page_text, sid
from tests.conftest import PASSWORD, TEST_CONFIG


def post_login(client, login, password=PASSWORD, **extra):
    return client.post("/login", data={"login": login, "password": password, **extra})


def set_cookie_header(response, name=COOKIE) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")
    return headers[0]


# --- identifiers ------------------------------------------------------------------------------


def test_user_signs_in_with_email_in_any_case(client, create_user):
    user = create_user(email="li.na@example.com")
    response = post_login(client, "  Li.Na@Example.COM ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert user.name in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    "typed",
    ["13912345678", "139 1234 5678", "+86 139 1234 5678", "+8613912345678", "139-1234-5678"],
)
def test_user_signs_in_with_mobile_number_as_typed(client, create_user, typed):
    user = create_user(email=None, mobile="13912345678")
    response = post_login(client, typed)
    assert response.status_code == 302
    assert user.name in client.get("/").get_data(as_text=True)


def test_sign_in_follows_only_local_next_targets(client, create_user):
    user = create_user()
    response = client.post("/login?next=/account", data={"login": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/account"
    client.post("/logout")
    response = client.post(
        "/login?next=//evil.example/x", data={"login": user.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_wrong_password_and_unknown_account_get_the_same_generic_answer(
    client, create_user, generic_login_error
):
    user = create_user()
    wrong = post_login(client, user.email, "Not-The-Password-1")
    unknown = post_login(client, "nobody@example.com", "Not-The-Password-1")
    unknown_mobile = post_login(client, "13000000000", "Not-The-Password-1")
    for response in (wrong, unknown, unknown_mobile):
        assert response.status_code == 200
        assert generic_login_error in page_text(response)
    assert sid(client) is None


def test_deactivated_account_cannot_sign_in_even_with_the_right_password(
    app, client, create_user, generic_login_error
):
    user = create_user(is_active_account=False)
    response = post_login(client, user.email)
    assert response.status_code == 200
    assert generic_login_error in page_text(response)
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(UserSession.id)).where(UserSession.user_id == user.id)
            )
            == 0
        )


# --- server-side sessions -----------------------------------------------------------------------


def test_sign_in_starts_a_new_session_with_a_new_cookie(client, create_user, load, login):
    user = create_user()
    client.get("/login")  # an anonymous visit already carries a session cookie
    anonymous_cookie = client.get_cookie(COOKIE).value

    login(user)
    first_cookie, first_sid = client.get_cookie(COOKIE).value, sid(client)
    assert first_cookie != anonymous_cookie
    first_row = load.session_for(first_sid)
    assert first_row.user_id == user.id and first_row.revoked_at is None

    client.post("/logout")
    login(user)
    second_cookie, second_sid = client.get_cookie(COOKIE).value, sid(client)
    assert second_cookie not in (anonymous_cookie, first_cookie)
    assert second_sid != first_sid
    second_row = load.session_for(second_sid)
    assert second_row.id != first_row.id
    assert load.session_for(first_sid).revoked_at is not None  # the old row stays dead
    assert [r.id for r in load.sessions(user.id)] == [first_row.id, second_row.id]


def test_sign_in_discards_anything_planted_in_the_anonymous_session(
    client, create_user, load, login
):
    victim = create_user()
    with client.session_transaction() as s:
        s["sid"] = "planted-by-an-attacker"
        s["_user_id"] = "999999"
    login(victim)
    token = sid(client)
    assert token != "planted-by-an-attacker"
    assert load.session_for(token).user_id == victim.id
    with client.session_transaction() as s:
        assert s["_user_id"] == str(victim.id)


def test_session_cookie_alone_is_useless_without_its_server_side_row(app, client, create_user):
    user = create_user()
    with client.session_transaction() as s:
        s["sid"] = "never-issued"
        s["_user_id"] = str(user.id)
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_logout_revokes_the_session_on_the_server(app, client, create_user, load, login):
    user = create_user()
    login(user)
    token = sid(client)

    stolen = app.test_client()
    stolen.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    assert stolen.get("/account").status_code == 200

    response = client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"

    replay = stolen.get("/account")
    assert replay.status_code == 302
    assert replay.headers["Location"].startswith("/login")
    assert load.session_for(token).revoked_at is not None
    assert client.get("/account").headers["Location"].startswith("/login")


def test_logout_only_accepts_post(client, create_user, login):
    login(create_user())
    assert client.get("/logout").status_code == 405
    assert client.get("/account").status_code == 200


# --- remember me ------------------------------------------------------------------------------


def test_remember_me_keeps_the_session_for_at_most_14_days(client, create_user, load, login):
    user = create_user()
    before = utcnow()
    response = login(user, remember=True)
    after = utcnow()

    header = set_cookie_header(response)
    attributes = {
        part.split("=", 1)[0].strip().lower(): part.split("=", 1)[-1].strip()
        for part in header.split(";")[1:]
    }
    assert "expires" in attributes
    expires = parsedate_to_datetime(attributes["expires"])
    assert before + timedelta(days=13) < expires <= after + timedelta(days=14, seconds=1)
    if "max-age" in attributes:
        assert 13 * 86400 < int(attributes["max-age"]) <= 14 * 86400

    row = load.session_for(sid(client))
    assert row.is_remembered
    assert before + timedelta(days=13) < row.expires_at <= after + timedelta(days=14)
    with client.session_transaction() as s:
        assert s.permanent


def test_without_remember_me_the_cookie_ends_with_the_browser(
    app, client, create_user, load, login
):
    user = create_user()
    before = utcnow()
    response = login(user)
    header = set_cookie_header(response).lower()
    assert "expires=" not in header and "max-age=" not in header

    row = load.session_for(sid(client))
    assert not row.is_remembered
    assert row.expires_at <= before + app.config["LMS_SESSION_IDLE"] + timedelta(seconds=5)
    assert row.expires_at < before + timedelta(days=1)


def test_expired_server_side_session_signs_the_browser_out(
    client, create_user, load, login, update
):
    user = create_user()
    login(user, remember=True)
    row = load.session_for(sid(client))
    update(UserSession, row.id, expires_at=utcnow() - timedelta(seconds=1))
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- lockout ----------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_for_15_minutes(
    app, client, create_user, load, update, generic_login_error
):
    user = create_user()
    for _ in range(5):
        response = post_login(client, user.email, "Wrong-Password-77")
        assert response.status_code == 200
        assert generic_login_error in page_text(response)

    locked = load(User, user.id)
    assert locked.locked_until is not None
    remaining = locked.locked_until - utcnow()
    assert timedelta(minutes=14) < remaining <= timedelta(minutes=15)

    # The right password is refused with the very same answer while locked.
    response = post_login(client, user.email)
    assert response.status_code == 200
    assert generic_login_error in page_text(response)
    assert sid(client) is None

    with app.app_context():
        records = db.session.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "auth.lockout", AuditRecord.target_id == user.public_id
            )
        ).all()
        assert len(records) == 1
        assert records[0].actor_id is None and records[0].target_type == "User"
        assert records[0].ip == "127.0.0.1"

    update(User, user.id, locked_until=utcnow() - timedelta(seconds=1))
    response = post_login(client, user.email)
    assert response.status_code == 302
    assert load(User, user.id).failed_login_count == 0


def test_four_wrong_passwords_do_not_lock_and_a_success_resets_the_count(client, create_user, load):
    user = create_user()
    for _ in range(4):
        post_login(client, user.email, "Wrong-Password-77")
    assert load(User, user.id).failed_login_count == 4
    assert post_login(client, user.email).status_code == 302
    reloaded = load(User, user.id)
    assert reloaded.failed_login_count == 0 and reloaded.locked_until is None
    assert reloaded.last_login_at is not None


# --- per-IP rate limit ------------------------------------------------------------------------


@pytest.fixture
def strict_app(app):
    """A second app on the same database with a login limit of 3 per minute.

    The extensions are module-level singletons; a second create_app() re-binds them (the
    limiter gets a fresh in-memory storage, the same one the main app then uses), which is
    harmless because every setting that differs is read from the current app's config.
    """
    strict = create_app(
        {
            **TEST_CONFIG,
            "LMS_LOGIN_RATE_LIMIT": "3 per minute",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        }
    )
    limiter.reset()
    yield strict
    limiter.reset()
    with strict.app_context():
        db.engine.dispose()


def test_fourth_login_post_from_one_ip_in_a_minute_is_refused_with_429(strict_app, tr):
    client = strict_app.test_client()
    for _ in range(3):
        assert post_login(client, "nobody@example.com", "Whatever-123").status_code == 200
    response = post_login(client, "nobody@example.com", "Whatever-123")
    assert response.status_code == 429
    body = page_text(response)
    assert tr("Too many requests") in body
    assert tr("Too many attempts in a short time. Wait a minute and try again.") in body
    assert "Traceback" not in body
    assert response.headers.get("Retry-After")

    response_en = client.post(
        "/login",
        data={"login": "a@example.com", "password": "x"},
        headers={"Accept-Language": "en"},
    )
    assert tr("Too many requests", "en") in page_text(response_en)

    # Reading the form is not limited, and another address has its own budget.
    assert client.get("/login").status_code == 200
    other = strict_app.test_client()
    response = other.post(
        "/login",
        data={"login": "nobody@example.com", "password": "Whatever-123"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    assert response.status_code == 200


def test_rate_limit_also_applies_to_correct_credentials(strict_app, create_user):
    user = create_user()
    client = strict_app.test_client()
    for _ in range(3):
        post_login(client, user.email, "Wrong-Password-77")
    assert post_login(client, user.email).status_code == 429


def test_main_app_still_works_next_to_a_second_app(strict_app, client, create_user, login):
    user = create_user()
    login(user)
    assert client.get("/account").status_code == 200


# --- CSRF -------------------------------------------------------------------------------------


def test_login_post_without_csrf_token_is_refused_and_changes_nothing(
    app, create_user, load, monkeypatch, tr
):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    user = create_user()
    client = app.test_client()

    response = post_login(client, user.email)
    assert response.status_code == 400
    assert tr("The form expired or was sent twice. Reload the page and submit it again.") in (
        page_text(response)
    )
    assert sid(client) is None
    response = post_login(client, user.email, "Wrong-Password-77")
    assert response.status_code == 400
    reloaded = load(User, user.id)
    assert reloaded.last_login_at is None and reloaded.failed_login_count == 0
    assert load.sessions(user.id) == []

    # With the token from the form the same sign-in works.
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    response = post_login(client, user.email, csrf_token=token)
    assert response.status_code == 302
