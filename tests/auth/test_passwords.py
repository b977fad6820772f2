"""The password policy (standard and MLPS), the 90-day rotation and changing one's password."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lms.auth.models import User
from lms.auth.passwords import password_problems
from lms.core.types import utcnow
from tests.auth.conftest import STRONG_PASSWORD, field_errors, page_text, sid
from tests.conftest import PASSWORD

TOO_SHORT = "Use at least %(n)d characters."
TOO_COMMON = "This password is too common; choose one that is hard to guess."
PERSONAL = "Do not use your name, e-mail or mobile number in the password."
CLASSES = "Use at least three of: lower-case letters, capital letters, digits, symbols."


@pytest.fixture
def mlps(app, monkeypatch):
    monkeypatch.setitem(app.config, "LMS_PASSWORD_POLICY", "mlps")


@pytest.fixture
def user_with_password_age(create_user, update):
    """A user whose password was last set `days` ago."""

    def make(days: int) -> User:
        user = create_user()
        update(User, user.id, password_changed_at=utcnow() - timedelta(days=days))
        return user

    return make


def problems(password, personal=()):
    return password_problems(password, personal=personal)


# --- the standard policy ----------------------------------------------------------------------


def test_a_long_uncommon_password_passes(ctx):
    assert problems(STRONG_PASSWORD) == []
    assert problems("lantern violet quarry") == []


def test_password_shorter_than_10_characters_is_refused(ctx, tr):
    assert tr(TOO_SHORT, n=10) in problems("Xq7-vT2!")
    assert problems("Xq7-vT2!pz") == []


@pytest.mark.parametrize("password", ["password123", "qwertyuiop", "Password123", "iloveyou12"])
def test_common_passwords_are_refused_in_any_case(ctx, tr, password):
    assert tr(TOO_COMMON) in problems(password)


@pytest.mark.parametrize(
    "password", ["1234567890", "9876543210", "abcdefghijkl", "aaaaaaaaaaaa", "abababababab"]
)
def test_trivial_runs_and_repeats_are_refused(ctx, tr, password):
    assert tr(TOO_COMMON) in problems(password)


@pytest.mark.parametrize(
    "password",
    ["Zhangwei-Rocks-77", "my-ZHANGWEI-pass", "zw@example.com-secret", "x13912345678x"],
)
def test_password_containing_the_name_email_or_mobile_is_refused(ctx, tr, password):
    personal = ("Zhangwei", "zw@example.com", "13912345678")
    assert tr(PERSONAL) in problems(password, personal)


def test_short_personal_values_do_not_block_passwords(ctx):
    # A two-character name would otherwise forbid far too many passwords.
    assert problems("Lantern-Li-Quarry", personal=("Li", "", "")) == []


def test_every_problem_is_reported_at_once(ctx, tr):
    found = problems("1234", personal=("1234",))
    assert tr(TOO_SHORT, n=10) in found
    assert tr(TOO_COMMON) in found


# --- the MLPS profile -------------------------------------------------------------------------


def test_mlps_requires_three_character_classes(ctx, mlps, tr):
    assert tr(CLASSES) in problems("lantern-violet-quarry")  # lower + symbols
    assert tr(CLASSES) in problems("LanternVioletQuarry")  # lower + upper
    assert problems("Lantern-violet-quarry") == []
    assert problems("lantern-violet-42") == []


def test_standard_policy_does_not_count_character_classes(ctx):
    assert problems("lantern-violet-quarry") == []


def test_mlps_forces_a_password_change_after_90_days(
    app, client, user_with_password_age, login, mlps, tr
):
    user = user_with_password_age(91)
    login(user)

    for path in ("/", "/account", "/firms/1/people"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/account/password?expired=1"

    page = client.get("/account/password?expired=1")
    assert page.status_code == 200
    assert tr("Your password is older than 90 days. Choose a new one to continue.") in (
        page_text(page)
    )
    assert client.get("/healthz").status_code == 200

    # Signing out is still possible.
    response = client.post("/logout")
    assert response.headers["Location"] == "/login"
    assert client.get("/account").headers["Location"].startswith("/login")

    login(user)
    assert client.get("/").headers["Location"] == "/account/password?expired=1"
    weak = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": "lantern-violet-quarry",
            "confirm": "lantern-violet-quarry",
        },
    )
    assert weak.status_code == 200
    assert tr(CLASSES) in " ".join(field_errors(weak, "password"))

    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": STRONG_PASSWORD,
            "confirm": STRONG_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert client.get("/").status_code == 200
    assert client.get("/account").status_code == 200


def test_mlps_lets_a_recent_password_through(client, user_with_password_age, login, mlps):
    user = user_with_password_age(89)
    login(user)
    assert client.get("/account").status_code == 200


def test_standard_policy_never_forces_a_change(client, user_with_password_age, login):
    user = user_with_password_age(400)
    login(user)
    assert client.get("/account").status_code == 200


# --- changing one's own password --------------------------------------------------------------


def test_wrong_current_password_is_reported_on_its_field(client, create_user, load, login, tr):
    user = create_user()
    login(user)
    response = client.post(
        "/account/password",
        data={
            "current_password": "Not-My-Password-1",
            "password": STRONG_PASSWORD,
            "confirm": STRONG_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert field_errors(response, "current_password") == [
        tr("The current password is not correct.")
    ]
    assert load(User, user.id).password_hash == user.password_hash


def test_new_password_must_follow_the_policy_and_match(client, create_user, login, tr):
    user = create_user()
    login(user)
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": "qwertyuiop", "confirm": "qwertyuiop"},
    )
    assert tr(TOO_COMMON) in " ".join(field_errors(response, "password"))
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": STRONG_PASSWORD,
            "confirm": STRONG_PASSWORD + "x",
        },
    )
    assert field_errors(response, "confirm") == [tr("The two passwords are not the same.")]
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": PASSWORD, "confirm": PASSWORD},
    )
    assert field_errors(response, "password") == [
        tr("Choose a password different from the current one.")
    ]


def test_changing_the_password_signs_out_other_sessions_but_keeps_this_one(
    app, client, create_user, load, login
):
    user = create_user()
    login(user)
    other = app.test_client()
    login(user, c=other)
    assert other.get("/account").status_code == 200
    kept = sid(client)

    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": STRONG_PASSWORD,
            "confirm": STRONG_PASSWORD,
        },
    )
    assert response.status_code == 302

    assert client.get("/account").status_code == 200
    assert other.get("/account").headers["Location"].startswith("/login")
    live = [r for r in load.sessions(user.id) if r.revoked_at is None]
    assert [row.id for row in live] == [load.session_for(kept).id]
    changed = load(User, user.id)
    assert changed.password_changed_at > user.password_changed_at

    # The old password no longer works; the new one does.
    third = app.test_client()
    assert third.post("/login", data={"login": user.email, "password": PASSWORD}).status_code == 200
    response = third.post("/login", data={"login": user.email, "password": STRONG_PASSWORD})
    assert response.status_code == 302
