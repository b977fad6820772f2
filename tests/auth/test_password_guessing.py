"""Guessing a password through the password-change form: every wrong current password counts
towards the same lockout as a failed sign-in, a locked account's change is refused like a wrong
password (its sessions stay), and all password forms share one per-IP rate limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lms import create_app
from lms.audit.models import AuditRecord
from lms.auth.models import User
from lms.core.types import utcnow
from lms.extensions import db, limiter
from tests.auth.conftest import STRONG_PASSWORD, field_errors, page_text, sid
from tests.conftest import PASSWORD, TEST_CONFIG

WRONG = "Not-My-Password-1"


def change_password(client, current: str, new: str = STRONG_PASSWORD):
    return client.post(
        "/account/password", data={"current_password": current, "password": new, "confirm": new}
    )


@pytest.fixture
def refusal(tr):
    """What a refused password change shows: the wrong-password error and the lockout rule."""
    return (
        tr("The current password is not correct."),
        tr(
            "After %(count)d failed attempts an account is locked for %(minutes)d minutes.",
            count=5,
            minutes=15,
        ),
    )


def assert_refused(response, refusal) -> None:
    wrong, lockout = refusal
    assert response.status_code == 200
    assert field_errors(response, "current_password") == [wrong]
    assert lockout in page_text(response)


def lockout_records(app, user) -> list[AuditRecord]:
    with app.app_context():
        return db.session.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "auth.lockout", AuditRecord.target_id == user.public_id
            )
        ).all()


def test_five_wrong_current_passwords_lock_the_account_as_sign_in_does(
    app, client, create_user, load, login, refusal, generic_login_error
):
    user = create_user()
    login(user)
    for _ in range(4):
        assert_refused(change_password(client, WRONG), refusal)
    assert load(User, user.id).failed_login_count == 4
    assert load(User, user.id).locked_until is None

    assert_refused(change_password(client, WRONG), refusal)
    locked = load(User, user.id)
    assert timedelta(minutes=14) < locked.locked_until - utcnow() <= timedelta(minutes=15)
    assert locked.password_hash == user.password_hash

    (record,) = lockout_records(app, user)
    assert record.actor_id is None and record.target_type == "User"
    assert record.ip == "127.0.0.1"

    # Sign-in elsewhere is locked too, even with the right password ...
    other = app.test_client()
    response = other.post("/login", data={"login": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert generic_login_error in page_text(response)
    assert sid(other) is None
    # ... while the session that made the guesses is not signed out.
    assert client.get("/account").status_code == 200
    assert all(row.revoked_at is None for row in load.sessions(user.id))


def test_locked_account_cannot_change_its_password_even_with_the_right_one(
    app, client, create_user, load, login, update, refusal
):
    user = create_user()
    phone = app.test_client()
    login(user)
    login(user, c=phone)
    update(User, user.id, locked_until=utcnow() + timedelta(minutes=10))

    response = change_password(client, PASSWORD)
    assert_refused(response, refusal)
    reloaded = load(User, user.id)
    assert reloaded.password_hash == user.password_hash
    assert reloaded.failed_login_count == 0  # attempts while locked are not counted
    # Both devices stay signed in.
    assert client.get("/account").status_code == 200
    assert phone.get("/account").status_code == 200


def test_wrong_sign_ins_and_wrong_current_passwords_add_up_to_one_lockout(
    app, client, create_user, load, login, refusal
):
    user = create_user()
    login(user)
    other = app.test_client()
    for _ in range(3):
        other.post("/login", data={"login": user.email, "password": WRONG})
    assert load(User, user.id).failed_login_count == 3
    for _ in range(2):
        assert_refused(change_password(client, WRONG), refusal)
    assert load(User, user.id).locked_until is not None
    assert len(lockout_records(app, user)) == 1


def test_right_current_password_changes_it_and_clears_the_count(
    client, create_user, load, login, refusal
):
    user = create_user()
    login(user)
    for _ in range(4):
        change_password(client, WRONG)
    response = change_password(client, PASSWORD)
    assert response.status_code == 302
    changed = load(User, user.id)
    assert changed.password_hash != user.password_hash
    assert (changed.failed_login_count, changed.locked_until) == (0, None)


def test_a_lock_that_has_expired_lets_the_right_password_through(
    client, create_user, load, login, update
):
    user = create_user()
    login(user)
    update(User, user.id, locked_until=utcnow() - timedelta(seconds=1), failed_login_count=0)
    assert change_password(client, PASSWORD).status_code == 302
    assert load(User, user.id).locked_until is None


# --- one per-IP rate limit for every password form ----------------------------------------


@pytest.fixture
def strict_app(app):
    """A second app on the same database allowing 3 password posts a minute per address (see
    tests/auth/test_login.py for why a second app is harmless)."""
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


def test_password_changes_and_sign_ins_share_one_rate_limit(strict_app, create_user, load, tr):
    user = create_user()
    client = strict_app.test_client()
    response = client.post("/login", data={"login": user.email, "password": PASSWORD})
    assert response.status_code == 302  # 1
    assert change_password(client, WRONG).status_code == 200  # 2
    assert change_password(client, WRONG).status_code == 200  # 3

    refused = change_password(client, WRONG)
    assert refused.status_code == 429
    assert tr("Too many attempts in a short time. Wait a minute and try again.") in (
        page_text(refused)
    )
    assert load(User, user.id).failed_login_count == 2  # the refused guess was never checked
    # Sign-in and invitation links from the same address are out of budget as well.
    assert (
        client.post("/login", data={"login": user.email, "password": PASSWORD}).status_code == 429
    )
    assert client.post("/invite/some-token", data={}).status_code == 429
    # Reading the form is not limited, and another address has its own budget.
    assert client.get("/account/password").status_code == 200
    other = strict_app.test_client()
    response = other.post(
        "/login",
        data={"login": user.email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    assert response.status_code == 302


def test_guesses_spread_over_invitation_links_count_against_sign_in(strict_app, create_user):
    user = create_user()
    client = strict_app.test_client()
    for _ in range(3):
        client.post("/invite/no-such-token", data={"password": WRONG, "confirm": WRONG})
    response = client.post("/login", data={"login": user.email, "password": PASSWORD})
    assert response.status_code == 429
