"""A worker on a 390 px phone: find a course, enrol, learn every lesson, pass the quizzes and
see the course completed — every page scanned by axe."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from lms.demo.data import DEMO_PASSWORD
from tests.e2e.journey import follow, sign_in, visit

pytestmark = pytest.mark.e2e

COURSE = Path(__file__).resolve().parents[2] / "courses" / "industrial-networks"


def _answers() -> dict[str, object]:
    """Prompt → answer for every quiz question of the course, read from its package."""
    answers = {}
    for quiz in (COURSE / "quizzes").glob("*.yaml"):
        for q in yaml.safe_load(quiz.read_text(encoding="utf-8"))["questions"]:
            answers[q["prompt"].strip()] = (q["type"], q["answer"])
    return answers


def _answer_quiz(page, answers) -> None:
    for item in page.locator("ol.questions > li").all():
        legend = item.locator("legend").inner_text()
        prompt = next(p for p in answers if legend.strip().startswith(p))
        qtype, answer = answers[prompt]
        if qtype == "single":
            item.locator(f'input[type=radio][value="{answer}"]').check()
        elif qtype == "multiple":
            for choice in answer:
                item.locator(f'input[type=checkbox][value="{choice}"]').check()
        elif qtype == "true_false":
            item.locator(f'input[type=radio][value="{"true" if answer else "false"}"]').check()
        else:
            item.locator("input[type=text]").fill(answer[0] if isinstance(answer, list) else answer)


def test_worker_enrols_learns_passes_the_quizzes_and_completes_on_a_phone(phone_page, live_url, tr):
    page = phone_page
    answers = _answers()
    visit(page, "/login")
    sign_in(page, tr, "worker.jinggong@demo.lms", DEMO_PASSWORD)

    follow(page, page.locator("nav.bottomnav").get_by_role("link", name=tr("Courses")))
    page.get_by_label(tr("Search courses")).fill("MQTT")
    follow(page, page.locator("main form").get_by_role("button", name=tr("Search")))
    follow(page, page.get_by_role("link", name="Industrial networks", exact=False).first)
    follow(page, page.get_by_role("button", name=tr("Enrol")))

    for _step in range(40):
        start = page.get_by_role("button", name=tr("Start the quiz"))
        if start.count():
            follow(page, start)
            _answer_quiz(page, answers)
            follow(page, page.get_by_role("button", name=tr("Submit answers")))
            expect(page.locator(".status.ok").first).to_contain_text(tr("Passed"))
            follow(page, page.get_by_role("link", name=tr("Back to the lesson")))
            following = page.get_by_role("link", name=tr("Next lesson"))
            if not following.count():
                break
            follow(page, following)
            continue
        done = page.locator(".lesson-actions button")
        label = done.inner_text()
        follow(page, done)
        if label in (tr("Mark as done"), tr("Done")) or "/courses/" in page.url:
            break
    else:
        pytest.fail("the course did not end within 40 steps")

    visit(page, "/courses/industrial-networks")
    expect(page.locator("main")).to_contain_text(tr("Completed"))
    visit(page, "/learning")
    expect(page.locator("main")).to_contain_text(tr("Completed"))
