"""Helpers for the browser journeys: navigate or submit, then scan the page with axe-core."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
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
