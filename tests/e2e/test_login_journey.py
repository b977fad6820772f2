"""Signing in and out on a phone and on a desktop, and the first steps of the two admins."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from lms.auth.models import User
from lms.demo.data import DEMO_PASSWORD, FIRMS
from lms.extensions import db
from lms.tenancy.models import Firm, Membership
from tests.e2e.journey import follow, sign_in, visit

pytestmark = pytest.mark.e2e

GENERIC_LOGIN_ERROR = (
    "The account or password is not correct. After 5 failed attempts an account is locked "
    "for 15 minutes."
)
MASKED_MOBILE = re.compile(r"^\d{3}\*{4}\d{4}$")


@pytest.fixture(params=["phone", "desktop"])
def page(request):
    return request.getfixturevalue(f"{request.param}_page")


def _at(live_url: str, path: str) -> re.Pattern:
    return re.compile(re.escape(live_url + path) + r"(\?.*)?$")


def test_worker_signs_in_opens_account_and_signs_out(page, live_url, tr):
    visit(page, "/")
    expect(page).to_have_url(_at(live_url, "/login"))
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("Sign in"))

    sign_in(page, tr, "worker@demo.lms", DEMO_PASSWORD)
    expect(page).to_have_url(_at(live_url, "/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        tr("Hello, %(name)s") % {"name": "张伟"}
    )

    if page.viewport_size["width"] < 900:  # phones use the bottom navigation
        nav = page.get_by_role("navigation", name=tr("Main"))
        follow(page, nav.get_by_role("link", name=tr("Me")))
    else:
        follow(page, page.locator("header").get_by_role("link", name="张伟"))
    expect(page).to_have_url(_at(live_url, "/account"))
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("My account"))
    expect(page.locator("main")).to_contain_text("worker@demo.lms")

    follow(page, page.get_by_role("button", name=tr("Sign out")))
    expect(page).to_have_url(_at(live_url, "/login"))
    expect(page.get_by_role("status")).to_have_text(tr("You have signed out."))
    expect(page.get_by_role("button", name=tr("Sign out"))).to_have_count(0)

    visit(page, "/account")  # the session is really gone
    expect(page).to_have_url(_at(live_url, "/login"))


def test_wrong_password_shows_the_generic_error_and_does_not_sign_in(page, live_url, tr):
    visit(page, "/login")
    sign_in(page, tr, "worker@demo.lms", "not-the-password")

    expect(page).to_have_url(_at(live_url, "/login"))
    password = page.get_by_label(tr("Password"), exact=True)
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_attribute("aria-describedby", "password-error")
    error = page.locator(".field", has=page.locator("#password")).locator("#password-error")
    expect(error).to_have_text(tr(GENERIC_LOGIN_ERROR))
    expect(page.get_by_role("button", name=tr("Sign out"))).to_have_count(0)

    visit(page, "/")
    expect(page).to_have_url(_at(live_url, "/login"))


def _worker_with_mobile(app, firm_name: str) -> tuple[str, str]:
    with app.app_context():
        user = db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .join(Firm, Firm.id == Membership.firm_id)
            .where(Firm.name == firm_name, Membership.role == "worker", User.mobile.is_not(None))
            .order_by(User.id)
        ).first()
        return user.name, user.mobile


def test_firm_admin_searches_people_and_sees_masked_mobiles(desktop_page, live_server, tr):
    page = desktop_page
    firm_name = FIRMS[0][1]
    name, mobile = _worker_with_mobile(live_server.app, firm_name)

    visit(page, "/login")
    sign_in(page, tr, "hr.jidong@demo.lms", DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        tr("Hello, %(name)s") % {"name": "赵海燕"}
    )
    follow(page, page.locator("main").get_by_role("link", name=tr("People"), exact=True))
    expect(page.get_by_role("heading", level=1)).to_contain_text(tr("People"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(firm_name)

    people = page.locator("main table").first
    mobiles = people.locator("tbody td.mono")
    expect(mobiles.first).to_be_visible()
    masked = [text.strip() for text in mobiles.all_inner_texts() if text.strip()]
    assert masked and all(MASKED_MOBILE.match(text) for text in masked), masked

    page.get_by_label(tr("Search by name, e-mail or mobile")).fill(name)
    follow(page, page.locator("main").get_by_role("button", name=tr("Search")))
    expect(page).to_have_url(re.compile(r"/people\?q="))
    rows = people.locator("tbody tr")
    expect(rows.first).to_be_visible()
    for row in rows.all():
        expect(row.locator("td").first).to_contain_text(name)
    found = [text.strip() for text in mobiles.all_inner_texts()]
    assert f"{mobile[:3]}****{mobile[7:]}" in found, found
    assert all(MASKED_MOBILE.match(text) for text in found if text), found
    assert mobile not in page.content()


def test_consortium_admin_opens_member_firms(desktop_page, live_url, tr):
    page = desktop_page
    visit(page, "/login")
    sign_in(page, tr, "consortium@demo.lms", DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        tr("Hello, %(name)s") % {"name": "王建国"}
    )
    follow(page, page.locator("main").get_by_role("link", name=tr("Member firms")))
    expect(page).to_have_url(re.compile(re.escape(live_url) + r"/consortia/\d+/firms$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(tr("Member firms"))
    table = page.get_by_role("table")
    for _key, firm_name, *_rest in FIRMS:
        expect(table).to_contain_text(firm_name)
