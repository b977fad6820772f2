"""Invitation links: single use, expiry, withdrawal, existing accounts, double submits."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditRecord
from lms.auth.models import User
from lms.core.types import utcnow
from lms.extensions import db
from lms.tenancy.models import Invitation, Membership
from tests.auth.conftest import STRONG_PASSWORD, field_errors, invite_token, page_text, sid

TOO_COMMON = "This password is too common; choose one that is hard to guess."
PERSONAL = "Do not use your name, e-mail or mobile number in the password."


@pytest.fixture
def firm(create_firm, create_role):
    create_role("cnc_operator", name_en="CNC operator")
    create_role("hr", name_en="HR")
    return create_firm()


@pytest.fixture
def firm_admin_client(app, firm, create_user, login):
    admin = create_user(role="firm_admin", firm=firm)
    c = app.test_client()
    login(admin, c=c)
    return c


def invite_worker(client, firm, **fields):
    data = {
        "name": "王芳",
        "email": "wang.fang@example.com",
        "mobile": "",
        "role": "worker",
        "job_role": "cnc_operator",
        **fields,
    }
    return client.post(f"/firms/{firm.id}/people/invite", data=data, follow_redirects=True)


def accept(client, token, password=STRONG_PASSWORD, confirm=None, locale="zh_CN"):
    return client.post(
        f"/invite/{token}",
        data={"password": password, "confirm": confirm or password, "locale": locale},
    )


def memberships_of(app, user_id):
    with app.app_context():
        return [
            (m.firm_id, m.consortium_id, m.role, m.job_role_id)
            for m in db.session.scalars(select(Membership).where(Membership.user_id == user_id))
        ]


def count_users(app, email):
    with app.app_context():
        return db.session.scalar(select(func.count(User.id)).where(User.email == email))


def test_invited_worker_sets_a_password_and_is_signed_in_with_the_role(
    app, firm, firm_admin_client, load
):
    response = invite_worker(firm_admin_client, firm)
    assert response.status_code == 200
    token = invite_token(response)

    invitee = app.test_client()
    page = invitee.get(f"/invite/{token}")
    assert page.status_code == 200
    assert "王芳" in page_text(page)

    response = accept(invitee, token, locale="en")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert sid(invitee) is not None
    home = invitee.get("/")
    assert home.status_code == 200 and "王芳" in page_text(home)

    user = load.user_by_email("wang.fang@example.com")
    assert user.password_hash and user.locale == "en" and user.is_active_account
    assert memberships_of(app, user.id) == [(firm.id, firm.consortium_id, "worker", "cnc_operator")]
    assert load.invitation(token).accepted_at is not None
    assert invitee.post("/logout").status_code == 302
    again = invitee.post(
        "/login", data={"login": "wang.fang@example.com", "password": STRONG_PASSWORD}
    )
    assert again.status_code == 302


def test_invitation_password_must_follow_the_policy_with_the_error_on_the_field(
    app, firm, firm_admin_client, load, tr
):
    token = invite_token(invite_worker(firm_admin_client, firm, name="Zhangwei"))
    invitee = app.test_client()

    response = accept(invitee, token, password="qwertyuiop")
    assert response.status_code == 200
    assert tr(TOO_COMMON) in " ".join(field_errors(response, "password"))

    response = accept(invitee, token, password="Zhangwei-Rocks-77")
    assert field_errors(response, "password") == [tr(PERSONAL)]

    response = accept(invitee, token, password="wang.fang@example.com-2026")
    assert field_errors(response, "password") == [tr(PERSONAL)]

    response = accept(invitee, token, password=STRONG_PASSWORD, confirm="Something-Else-12")
    assert field_errors(response, "confirm") == [tr("The two passwords are not the same.")]

    assert sid(invitee) is None
    assert load.user_by_email("wang.fang@example.com") is None
    assert load.invitation(token).accepted_at is None
    # After all those attempts the link still works.
    assert accept(invitee, token).status_code == 302


def test_password_may_not_contain_the_local_part_of_the_email(app, firm, firm_admin_client, tr):
    token = invite_token(invite_worker(firm_admin_client, firm, email="liuyang88@example.com"))
    response = accept(app.test_client(), token, password="Liuyang88-Secret!")
    assert field_errors(response, "password") == [tr(PERSONAL)]


def test_invitation_link_works_only_once(app, firm, firm_admin_client, tr):
    token = invite_token(invite_worker(firm_admin_client, firm))
    assert accept(app.test_client(), token).status_code == 302

    reuse = app.test_client().get(f"/invite/{token}")
    assert reuse.status_code == 404
    assert tr("This invitation has already been used. Sign in instead.") in page_text(reuse)
    reuse_post = accept(app.test_client(), token, password="Another-Password-55")
    assert reuse_post.status_code == 404
    assert count_users(app, "wang.fang@example.com") == 1


def test_double_submit_of_the_accept_form_creates_one_user(app, firm, firm_admin_client, tr):
    token = invite_token(invite_worker(firm_admin_client, firm))
    invitee = app.test_client()
    first = accept(invitee, token)
    second = app.test_client().post(
        f"/invite/{token}",
        data={"password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD, "locale": "zh_CN"},
    )
    assert first.status_code == 302
    assert second.status_code == 404
    assert tr("This invitation has already been used. Sign in instead.") in page_text(second)
    assert count_users(app, "wang.fang@example.com") == 1
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == "wang.fang@example.com"))
        assert (
            db.session.scalar(
                select(func.count(Membership.id)).where(Membership.user_id == user_id)
            )
            == 1
        )
        assert (
            db.session.scalar(
                select(func.count(AuditRecord.id)).where(
                    AuditRecord.action == "invitation.accept", AuditRecord.actor_id == user_id
                )
            )
            == 1
        )


def test_expired_invitation_cannot_be_used(app, firm, firm_admin_client, load, update, tr):
    token = invite_token(invite_worker(firm_admin_client, firm))
    invitation = load.invitation(token)
    assert invitation.expires_at - utcnow() > timedelta(days=6)
    update(Invitation, invitation.id, expires_at=utcnow() - timedelta(minutes=1))

    invitee = app.test_client()
    expired = "This invitation has expired. Ask your administrator for a new one."
    response = invitee.get(f"/invite/{token}")
    assert response.status_code == 404
    assert tr(expired) in page_text(response)
    response = accept(invitee, token)
    assert response.status_code == 404
    assert tr(expired) in page_text(response)
    assert load.user_by_email("wang.fang@example.com") is None


def test_withdrawn_invitation_cannot_be_used(app, firm, firm_admin_client, load, tr):
    token = invite_token(invite_worker(firm_admin_client, firm))
    invitation = load.invitation(token)
    people = firm_admin_client.get(f"/firms/{firm.id}/people")
    assert f"/invitations/{invitation.public_id}/revoke" in people.get_data(as_text=True)

    response = firm_admin_client.post(f"/firms/{firm.id}/invitations/{invitation.public_id}/revoke")
    assert response.status_code == 302
    assert load.invitation(token).revoked_at is not None

    withdrawn = "This invitation was withdrawn. Ask your administrator for a new one."
    invitee = app.test_client()
    response = invitee.get(f"/invite/{token}")
    assert response.status_code == 404
    assert tr(withdrawn) in page_text(response)
    assert accept(invitee, token).status_code == 404
    assert load.user_by_email("wang.fang@example.com") is None


def test_a_new_invitation_replaces_the_pending_one(app, firm, firm_admin_client, load, tr):
    first = invite_token(invite_worker(firm_admin_client, firm))
    second = invite_token(invite_worker(firm_admin_client, firm))
    assert first != second
    assert load.invitation(first).revoked_at is not None
    assert accept(app.test_client(), second).status_code == 302
    assert app.test_client().get(f"/invite/{first}").status_code == 404


def test_unknown_invitation_token_is_not_found(client, tr):
    response = client.get("/invite/not-a-real-token")
    assert response.status_code == 404
    assert tr("This invitation link is not valid.") in page_text(response)


def _flash_shape(response, token: str) -> list[str]:
    """The messages flashed after inviting, with the one varying link blanked out."""
    flashes = re.findall(r'<div class="flash[^"]*".*?</div>', page_text(response), re.S)
    return [f.replace(token, "TOKEN") for f in flashes]


@pytest.fixture
def account_elsewhere(create_firm, create_user):
    """A worker of a firm of another consortium, with a password."""
    return create_user(role="worker", firm=create_firm(consortium=None), mobile="13800001111")


def test_inviting_an_account_of_another_firm_answers_as_for_a_new_person_and_attaches_nothing(
    app, firm, firm_admin_client, account_elsewhere, load
):
    """Issue 12, hole 1: an existing account is never attached by someone else's invitation,
    and the inviting admin cannot tell that it exists."""
    before = memberships_of(app, account_elsewhere.id)
    existing = invite_worker(
        firm_admin_client, firm, name="某人", email="", mobile="+86 138 0000 1111"
    )
    new = invite_worker(firm_admin_client, firm, name="新人", email="", mobile="13800002222")

    assert existing.status_code == new.status_code == 200
    assert _flash_shape(existing, invite_token(existing)) == _flash_shape(new, invite_token(new))
    assert len(_flash_shape(new, invite_token(new))) == 1
    assert account_elsewhere.name not in page_text(existing)
    assert memberships_of(app, account_elsewhere.id) == before
    invitation = load.invitation(invite_token(existing))
    assert (invitation.firm_id, invitation.mobile, invitation.accepted_at) == (
        firm.id,
        "13800001111",
        None,
    )


def test_the_account_holder_accepts_the_invitation_while_signed_in(
    app, firm, firm_admin_client, account_elsewhere, login, load, tr
):
    token = invite_token(invite_worker(firm_admin_client, firm, email="", mobile="13800001111"))
    holder = app.test_client()
    signed_out = holder.get(f"/invite/{token}")
    assert f"/login?next=/invite/{token}" in signed_out.get_data(as_text=True)

    login(account_elsewhere, c=holder)
    page = holder.get(f"/invite/{token}")
    assert page.status_code == 200
    assert firm.name in page_text(page)
    assert memberships_of(app, account_elsewhere.id) == memberships_of(app, account_elsewhere.id)
    response = holder.post(f"/invite/{token}")
    assert response.status_code == 302
    assert (firm.id, firm.consortium_id, "worker", "cnc_operator") in memberships_of(
        app, account_elsewhere.id
    )
    assert load.invitation(token).accepted_at is not None
    again = holder.post(f"/invite/{token}")
    assert again.status_code == 404
    assert [m[0] for m in memberships_of(app, account_elsewhere.id)].count(firm.id) == 1


def test_the_invitation_link_cannot_set_the_password_of_an_existing_account(
    app, firm, firm_admin_client, account_elsewhere, load, tr
):
    token = invite_token(invite_worker(firm_admin_client, firm, email="", mobile="13800001111"))
    with app.app_context():
        hash_before = db.session.get(User, account_elsewhere.id).password_hash

    response = accept(app.test_client(), token)

    assert response.status_code == 200
    assert field_errors(response, "password")
    with app.app_context():
        assert db.session.get(User, account_elsewhere.id).password_hash == hash_before
    assert firm.id not in [m[0] for m in memberships_of(app, account_elsewhere.id)]
    assert load.invitation(token).accepted_at is None


def test_an_invitation_for_someone_else_cannot_be_accepted_by_a_signed_in_account(
    app, firm, firm_admin_client, create_user, login, load
):
    token = invite_token(invite_worker(firm_admin_client, firm))
    stranger = create_user(role="worker", firm=firm, mobile="13800003333")
    other = app.test_client()
    login(stranger, c=other)

    assert other.get(f"/invite/{token}").status_code == 404
    assert other.post(f"/invite/{token}").status_code == 404
    assert load.invitation(token).accepted_at is None
    assert [m[2] for m in memberships_of(app, stranger.id)] == ["worker"]


def test_a_member_of_the_firm_is_given_another_role_directly(
    app, firm, firm_admin_client, create_user, tr
):
    member = create_user(role="worker", firm=firm, mobile="13800004444")
    response = invite_worker(
        firm_admin_client, firm, name="x", email="", mobile="13800004444", role="trainer"
    )
    assert tr("%(name)s already has an account and was given the role.", name=member.name) in (
        page_text(response)
    )
    assert {(m[0], m[2]) for m in memberships_of(app, member.id)} == {
        (firm.id, "worker"),
        (firm.id, "trainer"),
    }
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(Invitation.id)).where(Invitation.firm_id == firm.id)
            )
            == 0
        )


def test_consortium_admin_invites_a_firm_admin(
    app, create_firm, create_user, create_consortium, create_role, login, load
):
    create_role("hr", name_en="HR")
    consortium = create_consortium()
    firm = create_firm(consortium=consortium)
    admin = create_user(role="consortium_admin", consortium=consortium)
    admin_client = app.test_client()
    login(admin, c=admin_client)
    response = admin_client.post(
        f"/consortia/{firm.consortium_id}/invite",
        data={
            "name": "赵强",
            "email": "zhao.qiang@example.com",
            "mobile": "",
            "role": "firm_admin",
            "firm": str(firm.id),
            "job_role": "hr",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    token = invite_token(response)

    invitee = app.test_client()
    assert accept(invitee, token).status_code == 302
    user = load.user_by_email("zhao.qiang@example.com")
    assert memberships_of(app, user.id) == [(firm.id, firm.consortium_id, "firm_admin", "hr")]
    # The new firm admin can manage the firm's people right away.
    assert invitee.get(f"/firms/{firm.id}/people").status_code == 200


def test_worker_cannot_invite_people(app, firm, create_user, login):
    worker = create_user(role="worker", firm=firm)
    c = app.test_client()
    login(worker, c=c)
    response = invite_worker(c, firm)
    assert response.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count(Invitation.id))) == 0


def test_a_job_role_of_another_firm_or_an_inactive_one_cannot_be_given(
    app, firm, create_firm, create_role, create_user
):
    from lms.taxonomy.models import JobRole
    from lms.tenancy.service import TenancyError, add_membership

    with app.app_context():
        consortium = db.session.get(type(firm), firm.id).consortium
    other = create_firm(consortium=consortium)
    create_role("their_role", firm=other)
    create_role("old_role")
    admin, person = create_user(role="firm_admin", firm=firm), create_user()
    with app.test_request_context():
        db.session.get(JobRole, "old_role").is_active = False
        actor, someone = db.session.get(User, admin.id), db.session.get(User, person.id)
        here = db.session.get(type(firm), firm.id)
        for role_id in ("their_role", "old_role", "no_such_role"):
            with pytest.raises(TenancyError) as caught:
                add_membership(
                    actor,
                    someone,
                    consortium=here.consortium,
                    firm=here,
                    role="worker",
                    job_role_id=role_id,
                )
            assert caught.value.field == "job_role"
        assert someone.memberships == []
        db.session.rollback()
