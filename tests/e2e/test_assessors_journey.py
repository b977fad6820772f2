"""Assessors in the browser (issue 13), on the demo data: the consortium admin designates and
removes an assessor on a desktop; a worker of a firm without trainers asks for the sign-off
of a practical task on a phone; the training base's designated trainer opens the notification
and signs it off. Every page is scanned by axe."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from lms.auth.models import User
from lms.auth.passwords import hash_password
from lms.core.types import utcnow
from lms.demo.data import DEMO_PASSWORD
from lms.extensions import db
from lms.tenancy.models import Firm, Membership
from tests.e2e.journey import follow, sign_in, visit

pytestmark = pytest.mark.e2e

COURSE = "mes-basics"  # authored by 唐山华冶轧辊, a firm without trainers (lms/demo/data.py)
PRACTICAL = "实操：在MES中完成一个工单的全流程操作并做追溯查询"
ASSESSOR = "trainer.zhiyuan@demo.lms"  # 刘思远, designated for it in the demo data
ASSESSOR_NAME = "刘思远"
OTHER_TRAINER = "陈志强"  # trainer@demo.lms, of the chain leader
WORKER = "e2e.assessors@demo.lms"  # a worker of its own, so no other journey meets it
WORKER_NAME = "钱考评"


def _worker(app) -> None:
    """A worker of the course's authoring firm, created once for this journey."""
    with app.app_context():
        if db.session.scalars(select_user(WORKER)).first() is not None:
            return
        firm = db.session.scalars(
            db.select(Firm).where(Firm.name == "唐山华冶轧辊股份有限公司")
        ).one()
        user = User(
            name=WORKER_NAME,
            email=WORKER,
            password_hash=hash_password(DEMO_PASSWORD),
            password_changed_at=utcnow(),
        )
        db.session.add(user)
        db.session.add(
            Membership(user=user, consortium_id=firm.consortium_id, firm_id=firm.id, role="worker")
        )
        db.session.commit()


def select_user(email: str):
    return db.select(User).where(User.email == email)


def _no_horizontal_overflow(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width} px wide"


def _flash(page):
    return page.locator(".flash").first


def test_admin_designates_worker_asks_assessor_signs_off(
    desktop_page, phone_page, browser, live_server, tr
):
    _worker(live_server.app)

    # 1. The consortium admin, on a desktop: the course's assessors, one more, and removed.
    page = desktop_page
    visit(page, "/login")
    sign_in(page, tr, "consortium@demo.lms", DEMO_PASSWORD)
    visit(page, f"/courses/{COURSE}")
    follow(page, page.locator("main").get_by_role("link", name=tr("Assessors")))
    expect(page.get_by_role("heading", level=1)).to_contain_text(tr("Assessors"))
    current = page.get_by_role("region", name=tr("Who signs off now"))
    expect(current).to_contain_text(ASSESSOR_NAME)
    page.get_by_label(tr("Search trainers by name")).fill(OTHER_TRAINER)
    follow(page, page.locator("form.filters").get_by_role("button", name=tr("Search")))
    trainer = page.get_by_label(tr("Trainer"), exact=True)
    trainer.select_option(label=OTHER_TRAINER)
    follow(page, page.get_by_role("button", name=tr("Designate as assessor")))
    expect(_flash(page)).to_contain_text(OTHER_TRAINER)
    expect(current).to_contain_text(OTHER_TRAINER)
    row = current.locator("tr", has_text=OTHER_TRAINER)
    follow(page, row.get_by_role("link", name=tr("Remove")))
    expect(page.get_by_role("heading", level=1)).to_contain_text(OTHER_TRAINER)
    follow(page, page.locator("main").get_by_role("button", name=tr("Remove")))
    expect(current).not_to_contain_text(OTHER_TRAINER)
    expect(current).to_contain_text(ASSESSOR_NAME)

    # 2. The worker, on a phone: enrols, opens the practical task, sees who signs it off, asks.
    page = phone_page
    visit(page, "/login")
    sign_in(page, tr, WORKER, DEMO_PASSWORD)
    visit(page, f"/courses/{COURSE}")
    follow(page, page.get_by_role("button", name=tr("Enrol")))
    outline = page.locator("details.outline-panel")
    outline.locator("summary").click()
    follow(page, outline.get_by_role("link", name=PRACTICAL))
    box = page.locator(".assessors-box")
    expect(box).to_contain_text(tr("Who signs off"))
    expect(box).to_contain_text(ASSESSOR_NAME)
    _no_horizontal_overflow(page)
    lesson_url = page.url
    follow(page, box.get_by_role("button", name=tr("Ask for sign-off")))
    expect(_flash(page)).to_have_text(tr("Your request was sent to the assessors of this course."))
    follow(page, page.locator(".assessors-box").get_by_role("button", name=tr("Ask for sign-off")))
    expect(_flash(page)).to_have_text(
        tr("You already asked for this sign-off today; the assessors have been told.")
    )

    # 3. The designated trainer, on a phone: the notification leads to the worker; sign off.
    context = browser.new_context(
        base_url=live_server.url,
        bypass_csp=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    try:
        trainer_page = context.new_page()
        visit(trainer_page, "/login")
        sign_in(trainer_page, tr, ASSESSOR, DEMO_PASSWORD)
        visit(trainer_page, "/notifications")
        follow(trainer_page, trainer_page.locator("ul.notifications a", has_text=WORKER_NAME).first)
        cards = trainer_page.locator("main ul.cards > li")
        expect(cards).to_have_count(1)
        expect(cards.first).to_contain_text(WORKER_NAME)
        cards.first.get_by_label(tr("Comment (optional)")).fill("工单流程完整，追溯查询正确")
        follow(
            trainer_page, cards.first.get_by_role("button", name=tr("Sign off this practical task"))
        )
        expect(_flash(trainer_page)).to_contain_text(WORKER_NAME)
        _no_horizontal_overflow(trainer_page)
    finally:
        context.close()

    # 4. The worker sees the task signed off.
    visit(page, lesson_url.replace(live_server.url, ""))
    expect(page.locator("article.lesson .status.ok")).to_contain_text(
        tr("Signed off by your trainer.")
    )
    expect(page.get_by_role("button", name=tr("Ask for sign-off"))).to_have_count(0)
