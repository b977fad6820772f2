"""The language switcher: Chinese first, English on request, kept after signing in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from lms.demo.data import DEMO_PASSWORD
from tests.e2e.journey import follow, sign_in, visit

pytestmark = pytest.mark.e2e


def test_guest_switches_to_english_signs_in_and_switches_back(phone_page, live_url, tr, tr_en):
    page = phone_page
    html = page.locator("html")

    visit(page, "/login")
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("Sign in"))

    follow(page, page.get_by_role("button", name="English"))
    expect(page).to_have_url(re.compile(re.escape(live_url) + r"/login$"))
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(tr_en("Sign in"))

    sign_in(page, tr_en, "trainer@demo.lms", DEMO_PASSWORD)
    expect(page).to_have_url(re.compile(re.escape(live_url) + r"/$"))
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        tr_en("Hello, %(name)s") % {"name": "陈志强"}
    )

    follow(page, page.get_by_role("button", name="中文"))
    expect(page).to_have_url(re.compile(re.escape(live_url) + r"/$"))
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        tr("Hello, %(name)s") % {"name": "陈志强"}
    )
    expect(page.get_by_role("button", name="English")).to_be_visible()
