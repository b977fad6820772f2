"""A course from first draft to a completed learner: a trainer writes it on a desktop, the
consortium admin approves it, and a worker finds it, learns it and passes its quiz on a
390 px phone — every page scanned by axe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from lms.demo.data import DEMO_PASSWORD
from tests.e2e.journey import follow, sign_in, visit

pytestmark = pytest.mark.e2e

SLUG = "e2e-forklift-safety"
TITLE = "叉车安全驾驶"
SUMMARY = "面向车间叉车司机：出车前检查、限速和安全装卸。"
MODULE = "安全操作"
TEXT_LESSON = "出车前检查"
TEXT_HEADING = "每日检查清单"
TEXT_BODY = f"## {TEXT_HEADING}\n\n- 检查轮胎和制动\n- 检查货叉有无裂纹\n- 确认喇叭和灯光正常\n"
QUIZ = "安全驾驶测验"
PROMPT = "厂区内叉车的最高限速是多少？"
RIGHT, WRONG = "10 km/h", "30 km/h"
EXPLANATION = "厂区内行驶不得超过 10 km/h，转弯和通道口还要更慢。"


def _flash(page):
    return page.locator("main .flash-success")


def _sign_out(page, tr) -> None:
    follow(page, page.locator("header").get_by_role("button", name=tr("Sign out")))
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("Sign in"))


def _trainer_writes_the_course_and_sends_it_for_review(page, tr) -> None:
    visit(page, "/login")
    sign_in(page, tr, "trainer@demo.lms", DEMO_PASSWORD)
    follow(page, page.locator("main").get_by_role("link", name=tr("New course"), exact=True))
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("New course"))

    page.get_by_label(tr("Web address")).fill(SLUG)
    page.get_by_label(tr("Title"), exact=True).fill(TITLE)
    page.get_by_label(tr("Language of the course")).select_option("zh-CN")
    page.get_by_label(tr("Summary"), exact=True).fill(SUMMARY)
    page.get_by_label(tr("Sector"), exact=True).select_option(label=tr("Smart manufacturing"))
    page.get_by_label(tr("Study hours")).fill("2")
    page.get_by_label(tr("Pass mark"), exact=True).fill("60")
    follow(page, page.get_by_role("button", name=tr("Create the course")))
    expect(_flash(page)).to_have_text(tr("Course created as a draft. Add its first module."))
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
    expect(page.locator("main")).to_contain_text(SLUG)

    adding = page.get_by_role("region", name=tr("Add a module"))
    adding.get_by_label(tr("Module title")).fill(MODULE)
    follow(page, adding.get_by_role("button", name=tr("Add the module")))
    module = page.get_by_role("region", name=re.compile(re.escape(MODULE)))
    expect(module.get_by_role("heading", level=3)).to_have_text(f"1. {MODULE}")

    # A reading lesson in Markdown: the live preview (JavaScript) and the Preview button (no
    # JavaScript) both show the rendered heading before the lesson is saved.
    follow(page, module.get_by_role("link", name=f"+ {tr('Reading')}"))
    page.get_by_label(tr("Title"), exact=True).fill(TEXT_LESSON)
    page.get_by_label(tr("Minutes to study")).fill("5")
    page.get_by_label(tr("Text (Markdown)")).fill(TEXT_BODY)
    preview = page.locator("#markdown-preview")
    expect(preview.get_by_role("heading", level=2)).to_have_text(TEXT_HEADING)
    expect(preview.get_by_role("listitem")).to_have_count(3)
    follow(page, page.get_by_role("button", name=tr("Preview"), exact=True))
    expect(preview.get_by_role("heading", level=2)).to_have_text(TEXT_HEADING)
    expect(page.get_by_label(tr("Text (Markdown)"))).to_have_value(TEXT_BODY)
    follow(page, page.get_by_role("button", name=tr("Save"), exact=True))
    expect(_flash(page)).to_have_text(tr("Lesson saved."))
    expect(module.get_by_role("link", name=TEXT_LESSON)).to_be_visible()

    # A quiz lesson, then its one single-choice question through the question builder.
    follow(page, module.get_by_role("link", name=f"+ {tr('Quiz')}"))
    page.get_by_label(tr("Title"), exact=True).fill(QUIZ)
    page.get_by_label(tr("Pass mark of the quiz")).fill("60")
    follow(page, page.get_by_role("button", name=tr("Save"), exact=True))
    expect(_flash(page)).to_have_text(tr("Quiz saved. Now add its questions."))
    questions = page.get_by_role("region", name=tr("Quiz questions"))
    expect(questions).to_contain_text(tr("No questions yet: add the first one."))
    follow(page, questions.get_by_role("link", name=f"+ {tr('Single choice')}"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(tr("Question %(n)d") % {"n": 1})
    page.get_by_label(tr("Question"), exact=True).fill(PROMPT)
    page.get_by_label(tr("Choice %(n)d") % {"n": 1}, exact=True).fill(RIGHT)
    page.get_by_label(tr("Choice %(n)d") % {"n": 2}, exact=True).fill(WRONG)
    correct = f"{tr('Correct')} ({tr('choice %(n)d') % {'n': 1}})"
    page.get_by_role("radio", name=correct, exact=True).check()
    page.get_by_label(tr("Explanation")).fill(EXPLANATION)
    follow(page, page.get_by_role("button", name=tr("Save the question")))
    expect(_flash(page)).to_have_text(tr("Question saved."))
    expect(questions.get_by_role("listitem")).to_have_count(1)
    expect(questions.get_by_role("listitem")).to_contain_text(PROMPT)

    follow(page, page.locator("main .eyebrow").get_by_role("link", name=TITLE))
    expect(page.get_by_role("region", name=tr("Before you can send it for review"))).to_have_count(
        0
    )
    follow(page, page.get_by_role("link", name=tr("Send for review")))
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("Send for review"))
    follow(page, page.locator("main form").get_by_role("button", name=tr("Send for review")))
    expect(_flash(page)).to_have_text(
        tr("Version %(n)d was sent for review. It is read-only until the consortium decides.")
        % {"n": 1}
    )
    expect(page.locator("main .page-head .status")).to_contain_text(tr("Waiting for review"))
    expect(page.get_by_role("link", name=tr("Send for review"))).to_have_count(0)
    _sign_out(page, tr)


def _consortium_admin_approves_it(page, tr) -> None:
    visit(page, "/login")
    sign_in(page, tr, "consortium@demo.lms", DEMO_PASSWORD)
    follow(page, page.locator("main").get_by_role("link", name=tr("Course review")))
    waiting = page.get_by_role("region", name=tr("Waiting for review"))
    row = waiting.get_by_role("row").filter(has_text=SLUG)
    expect(row).to_contain_text(TITLE)
    follow(page, row.get_by_role("link", name=tr("Review this version")))

    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
    content = page.locator("main")
    expect(content).to_contain_text(SUMMARY)
    expect(content.get_by_role("heading", name=TEXT_HEADING)).to_be_visible()
    expect(content).to_contain_text(PROMPT)
    expect(content.locator(".choice-list strong")).to_contain_text(RIGHT)  # marked correct
    decision = page.get_by_role("region", name=tr("Decision"))
    follow(page, decision.get_by_role("button", name=tr("Approve and publish")))
    expect(_flash(page)).to_have_text(
        tr("“%(title)s” version %(n)d is published in the catalogue.") % {"title": TITLE, "n": 1}
    )
    # No longer waiting; listed among the recent decisions as published.
    expect(page.get_by_role("row").filter(has_text=SLUG)).to_have_count(0)
    decided = page.locator("main .version-list li").filter(has_text=TITLE)
    expect(decided).to_contain_text(tr("Published"))
    _sign_out(page, tr)


def _worker_learns_it_on_a_phone(page, tr) -> None:
    visit(page, "/login")
    sign_in(page, tr, "worker@demo.lms", DEMO_PASSWORD)
    nav = page.locator("nav.bottomnav")
    follow(page, nav.get_by_role("link", name=tr("Courses")))
    page.get_by_label(tr("Search courses")).fill("叉车")
    follow(page, page.locator("main form").get_by_role("button", name=tr("Search")))
    follow(page, page.get_by_role("link", name=TITLE, exact=True))
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    outline = page.locator("main .outline")
    expect(outline).to_contain_text(TEXT_LESSON)
    expect(outline).to_contain_text(QUIZ)
    follow(page, page.get_by_role("button", name=tr("Enrol")))

    expect(page.get_by_role("heading", level=1)).to_have_text(TEXT_LESSON)
    lesson = page.locator("article.lesson")
    expect(lesson.get_by_role("heading", level=2)).to_have_text(TEXT_HEADING)
    expect(lesson.get_by_role("listitem")).to_have_count(3)
    follow(page, page.get_by_role("button", name=tr("Done, next lesson")))

    expect(page.get_by_role("heading", level=1)).to_have_text(QUIZ)
    follow(page, page.get_by_role("button", name=tr("Start the quiz")))
    question = page.locator("ol.questions > li").filter(has_text=PROMPT)
    expect(question.get_by_role("radio")).to_have_count(2)
    question.get_by_role("radio", name=RIGHT).check()
    follow(page, page.get_by_role("button", name=tr("Submit answers")))
    expect(page.locator("main")).to_contain_text(tr("Score: %(score)s / 100") % {"score": "100"})
    expect(page.locator(".status.ok").first).to_contain_text(tr("Passed"))
    expect(page.locator("ol.questions")).to_contain_text(EXPLANATION)

    follow(page, page.get_by_role("link", name=tr("Back to the lesson")))
    follow(page, page.get_by_role("navigation", name=tr("Course")).get_by_role("link", name=TITLE))
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.locator("main .status.ok")).to_contain_text(tr("Completed"))
    follow(page, nav.get_by_role("link", name=tr("Learning")))
    card = page.locator("main li.card").filter(
        has=page.get_by_role("heading", name=TITLE, exact=True)
    )
    expect(card.locator(".status.ok")).to_contain_text(tr("Completed"))


def test_trainer_writes_admin_approves_worker_completes_a_course(desktop_page, phone_page, tr):
    _trainer_writes_the_course_and_sends_it_for_review(desktop_page, tr)
    _consortium_admin_approves_it(desktop_page, tr)
    _worker_learns_it_on_a_phone(phone_page, tr)
