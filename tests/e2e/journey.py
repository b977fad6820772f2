"""Helpers for the browser journeys: navigate or submit, then scan the page with axe-core."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from playwright.sync_api import expect

from lms import PROJECT_ROOT

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import Locator, Page

AXE_JS = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")

_RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({
      target: n.target.join(" "), html: n.html, summary: n.failureSummary,
    })),
  }));
}"""


def check_accessibility(page: Page) -> None:
    """Fail on every serious or critical axe-core violation of the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_JS))
    violations = [v for v in page.evaluate(_RUN_AXE) if v["impact"] in BLOCKING_IMPACTS]
    if not violations:
        return
    lines = [f"Accessibility violations on {page.url}:"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"]:
            lines.append(f"    at {node['target']}: {node['html'][:200]}")
            for detail in (node["summary"] or "").splitlines():
                lines.append(f"      {detail}")
    pytest.fail("\n".join(lines), pytrace=False)


def visit(page: Page, path: str) -> None:
    """Open a path of the live server (following redirects), then scan the page."""
    response = page.goto(path)
    assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
    check_accessibility(page)


def follow(page: Page, target: Locator) -> None:
    """Click a link or submit button, wait for the page it leads to, then scan that page."""
    with page.expect_navigation() as navigation:
        target.click()
    response = navigation.value
    assert response is not None and response.ok, f"{page.url}: HTTP {response and response.status}"
    check_accessibility(page)


def sign_in(page: Page, tr: Callable[[str], str], login: str, password: str) -> None:
    """Fill in the sign-in form on the current page (in the language of `tr`) and send it."""
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("Sign in"))
    page.get_by_label(tr("E-mail or mobile number")).fill(login)
    page.get_by_label(tr("Password"), exact=True).fill(password)
    follow(page, page.locator("main").get_by_role("button", name=tr("Sign in")))


# --- learning ------------------------------------------------------------------------------


def quiz_answers(package: Path) -> dict[str, tuple[str, object]]:
    """Prompt → (type, answer) for every quiz question of a course package."""
    answers = {}
    for quiz in (package / "quizzes").glob("*.yaml"):
        for q in yaml.safe_load(quiz.read_text(encoding="utf-8"))["questions"]:
            answers[q["prompt"].strip()] = (q["type"], q["answer"])
    return answers


def answer_quiz(page: Page, answers: dict) -> None:
    """Tick or type the right answer to every question of the quiz on the page."""
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
        elif qtype == "ordering":  # each item's place, in a select labelled by the item
            for place, text in enumerate(answer, start=1):
                item.get_by_label(str(text), exact=True).select_option(str(place))
        else:
            item.locator("input[type=text]").fill(answer[0] if isinstance(answer, list) else answer)


def work_through_course(page: Page, tr: Callable[[str], str], package: Path) -> None:
    """From the first lesson of an enrolled course to its end: every lesson marked done and
    every quiz passed with the answers of the course package."""
    answers = quiz_answers(package)
    for _step in range(40):
        start = page.get_by_role("button", name=tr("Start the quiz"))
        if start.count():
            follow(page, start)
            answer_quiz(page, answers)
            follow(page, page.get_by_role("button", name=tr("Submit answers")))
            expect(page.locator(".status.ok").first).to_contain_text(tr("Passed"))
            follow(page, page.get_by_role("link", name=tr("Back to the lesson")))
            following = page.get_by_role("link", name=tr("Next lesson"))
            if not following.count():
                return
            follow(page, following)
            continue
        done = page.locator(".lesson-actions button")
        label = done.inner_text()
        follow(page, done)
        if label in (tr("Mark as done"), tr("Done")) or "/courses/" in page.url:
            return
    pytest.fail("the course did not end within 40 steps")
