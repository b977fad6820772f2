"""Navigation on a phone (390 x 844) and a desktop (1280 x 800) for every role: the user's own
destinations are there and each one opens, the current page is marked (nested pages too), the
phone's header is one compact row, the tab bar's labels fit, and no page scrolls sideways."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from lms.auth.models import User
from lms.demo.data import DEMO_PASSWORD
from lms.extensions import db
from lms.home.navigation import build_navigation
from lms.tenancy.models import Membership
from tests.e2e.conftest import TIMEOUT_MS
from tests.e2e.journey import follow, sign_in, visit

pytestmark = pytest.mark.e2e

ACCOUNTS = {
    "worker": "worker@demo.lms",
    "trainer": "trainer@demo.lms",
    "firm_admin": "hr.jidong@demo.lms",
    "consortium_admin": "consortium@demo.lms",
    "auditor": "auditor@demo.lms",
}
# What each role must (and must not) find in its navigation, whatever else it holds.
MUST_HAVE = {
    "worker": ["/learning", "/courses/", "/skills", "/certificates", "/transcript"],
    "trainer": [re.compile(r"^/authoring/firms/\d+/courses$")],
    "firm_admin": [
        re.compile(r"^/firms/\d+/people$"),
        re.compile(r"^/firms/\d+/enrollments$"),
        re.compile(r"^/firms/\d+/reports$"),
    ],
    "consortium_admin": [
        re.compile(r"^/consortia/\d+/firms$"),
        re.compile(r"^/review/consortia/\d+/courses$"),
        re.compile(r"^/consortia/\d+/reports$"),
        re.compile(r"^/consortia/\d+/audit$"),
    ],
    "auditor": [re.compile(r"^/consortia/\d+/audit$")],
}
LEARNER_PAGES = {"/learning", "/skills", "/certificates", "/transcript"}
PHONE_HEADER_MAX = 56
PHONE_CHROME_MAX = 120  # header + tab bar, of 844
MIN_LABEL_GAP = 4  # px between two tab labels


def _expected(app, login: str) -> dict:
    """The user's navigation as the model computes it: every item's url, and the tab bar's."""
    with app.test_request_context():
        user = db.session.scalars(select(User).where(User.email == login)).one()
        nav = build_navigation(user, "home.index", {})
        result = {"items": [i.url for i in nav.items], "tabs": [t.url for t in nav.tabs]}
        db.session.remove()
    return result


def _has(urls: list[str], want) -> bool:
    return any(want.match(u) if isinstance(want, re.Pattern) else u == want for u in urls)


def _check_role_items(role: str, urls: list[str]) -> None:
    for want in MUST_HAVE[role]:
        assert _has(urls, want), (role, want, urls)
    if role != "worker":
        assert not LEARNER_PAGES & set(urls), (role, urls)  # each role its own navigation
    assert len(urls) == len(set(urls)), urls


def _no_horizontal_overflow(page) -> None:
    sizes = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert sizes[0] <= sizes[1], f"{page.url}: the page is {sizes[0]} px wide in {sizes[1]} px"


def _check_phone_chrome(page) -> None:
    """One compact header row, a tab bar of at most five items whose labels fit, and together
    no more than the budget of the screen."""
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] <= PHONE_HEADER_MAX + 0.5, header
    tabs = page.locator("nav.bottomnav")
    expect(tabs).to_be_visible()
    bar = tabs.bounding_box()
    assert header["height"] + bar["height"] <= PHONE_CHROME_MAX, (header, bar)
    assert bar["y"] + bar["height"] <= page.viewport_size["height"] + 0.5, bar
    boxes = page.evaluate(
        """() => [...document.querySelectorAll('nav.bottomnav a')].map(a => {
          const tab = a.getBoundingClientRect(), label = a.querySelector('.tab-label');
          const box = label.getBoundingClientRect();
          return {text: label.textContent.trim(), tabLeft: tab.left, tabRight: tab.right,
                  left: box.left, right: box.right, height: box.height,
                  line: parseFloat(getComputedStyle(label).lineHeight),
                  scroll: label.scrollWidth, client: label.clientWidth};
        })"""
    )
    assert 2 <= len(boxes) <= 5, boxes
    for box in boxes:
        assert box["text"], box
        assert box["scroll"] <= box["client"] + 1, f"label overflows its tab: {box}"
        assert box["left"] >= box["tabLeft"] - 0.5 and box["right"] <= box["tabRight"] + 0.5, box
        assert box["height"] <= 2 * box["line"] + 1, f"label wraps more than once: {box}"
    for a, b in zip(boxes, boxes[1:], strict=False):
        assert b["left"] - a["right"] >= MIN_LABEL_GAP, f"labels run together: {a} {b}"
    _no_horizontal_overflow(page)


def _open_menu(page):
    menu = page.locator("header details.menu")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    panel = menu.get_by_role("navigation")
    expect(panel).to_be_visible()
    return panel


def _marked(nav, href: str) -> None:
    link = nav.locator(f'a[href="{href}"]')
    expect(link).to_have_attribute("aria-current", "page")
    expect(nav.locator('[aria-current="page"]')).to_have_count(1)


def _sign_in(page, tr, role: str) -> None:
    visit(page, "/login")
    sign_in(page, tr, ACCOUNTS[role], DEMO_PASSWORD)


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_phone_navigation_of_every_role(phone_page, live_server, tr, role):
    page = phone_page
    expected = _expected(live_server.app, ACCOUNTS[role])
    _check_role_items(role, expected["items"])
    _sign_in(page, tr, role)
    _check_phone_chrome(page)
    # The desktop's side menu is not shown on a phone; the menu is closed.
    expect(page.locator("nav.mainmenu")).to_be_hidden()
    expect(page.locator("header details.menu nav")).to_be_hidden()

    bar = page.get_by_role("navigation", name=tr("Main"), exact=True)
    tabs = [a.get_attribute("href") for a in bar.get_by_role("link").all()]
    assert tabs == expected["tabs"], (tabs, expected["tabs"])
    for href in tabs:
        follow(page, bar.locator(f'a[href="{href}"]'))
        _marked(bar, href)
        _check_phone_chrome(page)

    # Everything else is in the menu (a <details>: no script needed), and opens from there.
    in_menu_only = [u for u in expected["items"] if u not in tabs]
    for href in expected["items"]:
        panel = _open_menu(page)
        follow(page, panel.locator(f'a[href="{href}"]'))
        _marked(page.locator("header details.menu nav"), href)
        expect(page.locator("header details.menu nav")).to_be_hidden()  # closed after leaving
        dot = page.locator("header details.menu summary .menu-current")
        expect(dot).to_have_count(1 if href in in_menu_only and href != "/" else 0)
        _check_phone_chrome(page)


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_desktop_navigation_of_every_role(desktop_1280, live_server, tr, role):
    page = desktop_1280
    expected = _expected(live_server.app, ACCOUNTS[role])
    _sign_in(page, tr, role)
    menu = page.get_by_role("navigation", name=tr("Main menu"), exact=True)
    expect(menu).to_be_visible()
    expect(page.locator("nav.bottomnav")).to_be_hidden()
    expect(page.locator("header details.menu")).to_be_hidden()
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] <= PHONE_HEADER_MAX + 0.5, header
    assert [a.get_attribute("href") for a in menu.get_by_role("link").all()] == expected["items"]

    for href in expected["items"]:
        follow(page, menu.locator(f'a[href="{href}"]'))
        expect(menu).to_be_visible()
        _marked(menu, href)
        _no_horizontal_overflow(page)


def _desktop_nested(page, tr, role: str):
    """Open a page below one of the menu's pages; return the menu and the url to stay marked."""
    menu = page.get_by_role("navigation", name=tr("Main menu"), exact=True)
    main = page.locator("main")
    if role == "worker":
        follow(page, menu.locator('a[href="/courses/"]'))
        follow(page, main.locator('a[href^="/courses/"]:not([href="/courses/"])').first)
        return menu, "/courses/"
    if role == "trainer":
        mine = menu.locator('a[href^="/authoring/firms/"]')
        href = mine.get_attribute("href")
        follow(page, mine)
        follow(page, main.locator(f'h2 a[href^="{href}/"]').first)
        return menu, href
    if role == "firm_admin":
        people = menu.locator('a[href$="/people"]')
        href = people.get_attribute("href")
        follow(page, people)
        follow(page, main.get_by_role("link", name=tr("Skills and role")).first)
        return menu, href
    if role == "consortium_admin":
        dashboard = menu.locator('a[href$="/reports"]')
        href = dashboard.get_attribute("href")
        follow(page, dashboard)
        admin = page.get_by_role("navigation", name=tr("Administration"), exact=True)
        follow(page, admin.get_by_role("link", name=tr("Monthly report"), exact=True))
        _marked(admin, href + "/monthly")  # the page's own link in the admin navigation
        return menu, href
    audit = menu.locator('a[href$="/audit"]')
    href = audit.get_attribute("href")
    follow(page, audit)
    follow(page, main.get_by_role("button", name=tr("Filter"), exact=True))  # the log, filtered
    return menu, href


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_nested_pages_keep_their_section_marked(desktop_1280, phone_page, tr, role):
    page = desktop_1280
    _sign_in(page, tr, role)
    menu, href = _desktop_nested(page, tr, role)
    _marked(menu, href)

    if role == "worker":  # and the phone's tab bar, for a course page of the catalogue
        phone = phone_page
        _sign_in(phone, tr, role)
        bar = phone.get_by_role("navigation", name=tr("Main"), exact=True)
        follow(phone, bar.get_by_role("link", name=tr("Courses"), exact=True))
        follow(phone, phone.locator('main a[href^="/courses/"]:not([href="/courses/"])').first)
        _marked(bar, "/courses/")
        _check_phone_chrome(phone)


def _demo_worker_by_mobile(app) -> str:
    """A demo worker no other journey signs in as (their language choice is saved)."""
    with app.app_context():
        user = db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.role == "worker", User.email.is_(None), User.mobile.is_not(None))
            .order_by(User.id.desc())
        ).first()
        mobile = user.mobile
        db.session.remove()
    return mobile


def test_english_tab_labels_fit_and_do_not_run_together(phone_page, live_server, tr, tr_en):
    page = phone_page
    mobile = _demo_worker_by_mobile(live_server.app)
    visit(page, "/login")
    follow(page, page.get_by_role("button", name="English"))
    sign_in(page, tr_en, mobile, DEMO_PASSWORD)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    bar = page.get_by_role("navigation", name=tr_en("Main"), exact=True)
    labels = [t.strip() for t in bar.locator(".tab-label").all_inner_texts()]
    assert labels == [tr_en(x) for x in ("Learning", "Courses", "Skills", "Certificates", "Me")], (
        labels
    )
    _check_phone_chrome(page)
    for name in ("Certificates", "Skills"):
        follow(page, bar.get_by_role("link", name=tr_en(name), exact=True))
        _check_phone_chrome(page)
    # The language switch and sign-out are at the foot of the page on a phone.
    footer = page.get_by_role("contentinfo")
    follow(page, footer.get_by_role("button", name="中文"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    _check_phone_chrome(page)
    follow(page, footer.get_by_role("button", name=tr("Sign out")))
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("Sign in"))


@pytest.fixture
def desktop_1280(browser, live_url):
    """A 1280 x 800 laptop (the conftest's desktop is 1366 wide)."""
    context = browser.new_context(
        base_url=live_url,
        bypass_csp=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 1280, "height": 800},
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()
