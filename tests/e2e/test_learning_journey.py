"""A worker on a 390 px phone: find a course, enrol, learn every lesson, pass the quizzes and
see the course completed — every page scanned by axe."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from lms.demo.data import DEMO_PASSWORD
from tests.e2e.journey import follow, sign_in, visit, work_through_course

pytestmark = pytest.mark.e2e

COURSE = Path(__file__).resolve().parents[2] / "courses" / "industrial-networks"


def test_worker_enrols_learns_passes_the_quizzes_and_completes_on_a_phone(phone_page, live_url, tr):
    page = phone_page
    visit(page, "/login")
    sign_in(page, tr, "worker.jinggong@demo.lms", DEMO_PASSWORD)

    follow(page, page.locator("nav.bottomnav").get_by_role("link", name=tr("Courses")))
    page.get_by_label(tr("Search courses")).fill("MQTT")
    follow(page, page.locator("main form").get_by_role("button", name=tr("Search")))
    follow(page, page.get_by_role("link", name="Industrial networks", exact=False).first)
    follow(page, page.get_by_role("button", name=tr("Enrol")))

    work_through_course(page, tr, COURSE)

    visit(page, "/courses/industrial-networks")
    expect(page.locator("main")).to_contain_text(tr("Completed"))
    visit(page, "/learning")
    expect(page.locator("main")).to_contain_text(tr("Completed"))
