"""One's own account settings, deactivation by a firm admin, and `flask accounts create-admin`."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from lms.auth.models import User
from lms.extensions import db
from lms.tenancy.models import Membership
from tests.auth.conftest import STRONG_PASSWORD, field_errors, page_text, sid
from tests.conftest import PASSWORD

# --- own name and language --------------------------------------------------------------------


def test_user_changes_own_name_and_language(app, client, create_user, load, login, tr):
    user = create_user(locale="zh_CN")
    login(user)
    response = client.post("/account", data={"name": "  Li Na  ", "locale": "en"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"

    changed = load(User, user.id)
    assert (changed.name, changed.locale) == ("Li Na", "en")
    page = client.get("/account")
    assert '<html lang="en">' in page.get_data(as_text=True)
    assert tr("Your settings were saved.", "en") in page_text(page)
    with client.session_transaction() as s:
        assert s["locale"] == "en"

    client.post("/account", data={"name": "Li Na", "locale": "zh_CN"})
    chinese = client.get("/account").get_data(as_text=True)
    assert '<html lang="zh-CN">' in chinese
    # The language switcher offers the other language.
    assert 'name="locale" value="en"' in chinese


def test_language_switcher_offers_english_on_chinese_pages(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert 'name="locale" value="en"' in page
    client.post("/locale", data={"locale": "en", "next": "/login"})
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert 'name="locale" value="zh_CN"' in page


def test_account_form_refuses_an_empty_name_and_an_unknown_language(
    client, create_user, load, login, tr
):
    user = create_user()
    login(user)
    response = client.post("/account", data={"name": "   ", "locale": "en"})
    assert response.status_code == 200
    assert field_errors(response, "name") == [tr("Enter your name.")]
    response = client.post("/account", data={"name": "Li Na", "locale": "fr"})
    assert response.status_code == 200
    assert field_errors(response, "locale")
    unchanged = load(User, user.id)
    assert (unchanged.name, unchanged.locale) == (user.name, user.locale)


def test_account_page_needs_a_signed_in_user(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


# --- deactivation -------------------------------------------------------------------------------


def test_deactivated_worker_is_signed_out_everywhere_at_once(
    app, create_firm, create_user, load, login, generic_login_error
):
    firm = create_firm()
    admin = create_user(role="firm_admin", firm=firm)
    worker = create_user(role="worker", firm=firm)
    phone, laptop, admin_client = app.test_client(), app.test_client(), app.test_client()
    login(worker, c=phone)
    login(worker, remember=True, c=laptop)
    login(admin, c=admin_client)
    assert phone.get("/account").status_code == 200
    assert laptop.get("/account").status_code == 200

    response = admin_client.post(f"/firms/{firm.id}/people/{worker.public_id}/deactivate")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/firms/{firm.id}/people"

    for device in (phone, laptop):
        response = device.get("/account")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    assert not load(User, worker.id).is_active_account
    assert all(row.revoked_at is not None for row in load.sessions(worker.id))

    retry = app.test_client().post("/login", data={"login": worker.email, "password": PASSWORD})
    assert retry.status_code == 200
    assert generic_login_error in page_text(retry)
    # The admin who did it stays signed in.
    assert admin_client.get(f"/firms/{firm.id}/people").status_code == 200


def test_person_with_a_role_elsewhere_keeps_their_account(
    app, create_firm, create_user, login, load
):
    firm = create_firm()
    other = create_firm(consortium=None)
    admin = create_user(role="firm_admin", firm=firm)
    worker = create_user(role="worker", firm=firm)
    with app.app_context():
        db.session.add(
            Membership(
                user_id=worker.id,
                consortium_id=other.consortium_id,
                firm_id=other.id,
                role="worker",
                starts_on=date(2026, 1, 1),
            )
        )
        db.session.commit()
    phone, admin_client = app.test_client(), app.test_client()
    login(worker, c=phone)
    login(admin, c=admin_client)
    admin_client.post(f"/firms/{firm.id}/people/{worker.public_id}/deactivate")
    assert load(User, worker.id).is_active_account
    assert phone.get("/account").status_code == 200


def test_firm_admin_cannot_deactivate_themselves(app, create_firm, create_user, load, login):
    firm = create_firm()
    admin = create_user(role="firm_admin", firm=firm)
    c = app.test_client()
    login(admin, c=c)
    c.post(f"/firms/{firm.id}/people/{admin.public_id}/deactivate")
    assert load(User, admin.id).is_active_account
    assert c.get("/account").status_code == 200


# --- flask accounts create-admin ----------------------------------------------------------------


def run_create_admin(app, *lines):
    return app.test_cli_runner().invoke(
        args=["accounts", "create-admin"], input="".join(f"{line}\n" for line in lines)
    )


def find_user(app, email):
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).first()
        if user is not None:
            db.session.expunge(user)
        return user


def test_create_admin_command_creates_a_platform_admin(app, client):
    result = run_create_admin(
        app, "Platform Admin", "Root@Example.com", "", STRONG_PASSWORD, STRONG_PASSWORD
    )
    assert result.exit_code == 0, result.output
    assert "Platform admin created: root@example.com" in result.output
    admin = find_user(app, "root@example.com")
    assert admin.is_platform_admin and admin.mobile is None
    assert admin.password_hash and STRONG_PASSWORD not in admin.password_hash

    response = client.post(
        "/login", data={"login": "root@example.com", "password": STRONG_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/admin/consortia").status_code == 200


@pytest.mark.parametrize(
    ("password", "message", "values"),
    [
        ("short", "Use at least %(n)d characters.", {"n": 10}),
        ("qwertyuiop", "This password is too common; choose one that is hard to guess.", {}),
        (
            "Administrator-2026!",
            "Do not use your name, e-mail or mobile number in the password.",
            {},
        ),
    ],
)
def test_create_admin_command_refuses_a_weak_password(app, password, message, values, tr):
    result = run_create_admin(app, "Administrator", "root@example.com", "", password, password)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert tr(message, **values) in result.output
    assert find_user(app, "root@example.com") is None


def test_create_admin_command_refuses_a_taken_email(app, create_user, tr):
    existing = create_user()
    result = run_create_admin(app, "Second", existing.email, "", STRONG_PASSWORD, STRONG_PASSWORD)
    assert result.exit_code == 1
    assert tr("Another account already uses this e-mail or mobile number.") in result.output


def test_create_admin_command_asks_again_when_the_passwords_differ(app):
    result = run_create_admin(
        app,
        "Platform Admin",
        "",
        "139 0000 2222",
        STRONG_PASSWORD,
        "Different-Password-8",
        STRONG_PASSWORD,
        STRONG_PASSWORD,
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        admin = db.session.scalars(select(User).where(User.mobile == "13900002222")).one()
        assert admin.is_platform_admin and admin.email is None


def test_session_token_is_not_stored_in_clear(client, create_user, load, login):
    user = create_user()
    login(user)
    token = sid(client)
    row = load.session_for(token)
    assert row is not None and token not in row.token_hash
