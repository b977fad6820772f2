"""Imported people who never set a password get activation links, one by one or as a CSV."""

import csv
import io

from sqlalchemy import select

from lms.auth.models import User
from lms.extensions import db
from lms.tenancy.models import Invitation


def _csv_rows(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff"), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_lists_a_working_link_for_each_person_not_yet_activated(
    client, create_firm, make_user, login, in_db
):
    firm = create_firm()
    admin = make_user(role="firm_admin", firm=firm)
    pending = make_user(role="worker", firm=firm, password_hash=None, name="=HYPERLINK(1)")
    make_user(role="worker", firm=firm)  # has a password: not listed
    login(admin)

    page = client.get(f"/firms/{firm.id}/people").get_data(as_text=True)
    assert "1 person has not activated" in page

    response = client.post(f"/firms/{firm.id}/people/activation-links")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    header, *rows = _csv_rows(response)
    assert header == ["Name", "Mobile", "E-mail", "Activation link"]
    assert len(rows) == 1
    name, mobile, _email, link = rows[0]
    assert name == "'=HYPERLINK(1)", "a formula-looking cell is neutralised"
    assert mobile == pending.mobile

    client.post("/logout")
    token = link.rsplit("/", 1)[1]
    response = client.post(
        f"/invite/{token}",
        data={"password": "Lathe-Spindle-93", "confirm": "Lathe-Spindle-93", "locale": "en"},
    )
    assert response.status_code == 302
    assert in_db(lambda: db.session.get(User, pending.id).password_hash) is not None


def test_a_new_download_replaces_the_links_of_the_earlier_one(
    client, create_firm, make_user, login, in_db
):
    firm = create_firm()
    admin = make_user(role="firm_admin", firm=firm)
    make_user(role="worker", firm=firm, password_hash=None)
    login(admin)
    first = _csv_rows(client.post(f"/firms/{firm.id}/people/activation-links"))[1][3]
    client.post(f"/firms/{firm.id}/people/activation-links")

    def live_invitations():
        return db.session.scalars(
            select(Invitation).where(Invitation.firm_id == firm.id, Invitation.revoked_at.is_(None))
        ).all()

    assert len(in_db(live_invitations)) == 1
    client.post("/logout")
    page = client.get(first.replace("http://localhost", "")).get_data(as_text=True)
    assert "withdrawn" in page or "撤回" in page


def test_with_everyone_activated_the_download_says_so_instead(
    client, create_firm, make_user, login
):
    firm = create_firm()
    admin = make_user(role="firm_admin", firm=firm)
    make_user(role="worker", firm=firm)
    login(admin)
    response = client.post(f"/firms/{firm.id}/people/activation-links", follow_redirects=True)
    assert "Everyone in this firm has activated" in response.get_data(as_text=True)


def test_single_activation_link_is_refused_for_an_activated_person(
    client, create_firm, make_user, login
):
    firm = create_firm()
    admin = make_user(role="firm_admin", firm=firm)
    active = make_user(role="worker", firm=firm)
    login(admin)
    response = client.post(
        f"/firms/{firm.id}/people/{active.public_id}/activation", follow_redirects=True
    )
    assert "already activated" in response.get_data(as_text=True)
