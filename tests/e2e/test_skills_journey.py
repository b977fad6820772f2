"""Skills and gaps in the browser: a worker on a 375 px phone sets a goal, sees the chart, assesses
themself and follows a learning path; their firm's HR admin reads the gaps, rates a skill and
assigns a path on a desktop; the consortium admin (in English) reads the gaps across firms,
recomputes the recommendations and edits the taxonomy — every page scanned by axe."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from lms.demo.data import DEMO_PASSWORD
from lms.taxonomy.models import level_name
from tests.e2e.journey import check_accessibility, follow, sign_in, visit

pytestmark = pytest.mark.e2e

# A demo worker of 唐山冀东智能装备集团有限公司 (hr.jidong's firm) with a job role and a path with
# courses; not worker@demo.lms, so the worker's journey and the HR admin's do not meet.
RATED_PERSON = "彭宏伟"
NEW_SKILL_ID = "e2e_weld_inspection"
NEW_SKILL = ("焊缝外观检验", "Weld visual inspection")
NEW_ROLE_ID = "e2e_weld_inspector"
NEW_ROLE = ("焊缝检验员", "Weld inspector")


def _pattern(message: str) -> re.Pattern[str]:
    """A translated message with %(name)d / %(name)s placeholders as a regular expression."""
    parts = re.split(r"%\((\w+)\)([ds])", message)
    out = []
    for i, part in enumerate(parts):
        if i % 3 == 0:
            out.append(re.escape(part))
        elif i % 3 == 2:
            out.append(r"\d+" if part == "d" else r".+?")
    return re.compile("".join(out))


def _flash(page):
    return page.locator("main").get_by_role("status").first


def _no_horizontal_overflow(page) -> None:
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], f"{page.url}: scrollWidth {sizes[0]} > innerWidth {sizes[1]}"


def _column(table, header: str) -> int:
    """The 0-based index of a column among the cells (td) of a row whose first cell is a th."""
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    return headers.index(header) - 1


def _skill_row(page, skill_name: str):
    return page.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name=skill_name, exact=True)
    )


# --- 1. the worker on a phone ----------------------------------------------------------------


def test_worker_sets_a_goal_sees_the_chart_assesses_and_follows_a_path(phone_375, tr):
    page = phone_375
    problems: list[str] = []  # found on the way; the journey goes on and fails at its end
    visit(page, "/login")
    sign_in(page, tr, "worker@demo.lms", DEMO_PASSWORD)

    # Home: recommendations, each with the reason it is there.
    expect(page.get_by_role("heading", level=2, name=tr("Recommended for you"))).to_be_visible()
    reasons = page.locator("main .recs .reason")
    expect(reasons.first).to_be_visible()
    for reason in reasons.all_inner_texts():
        assert re.match(r"^(补齐岗位要求：|提升：)\S", reason), f"reason line {reason!r}"

    follow(page, page.locator("nav.bottomnav").get_by_role("link", name=tr("Skills")))
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("My skills"))
    _no_horizontal_overflow(page)

    # A goal: a role other than the current one.
    current = page.locator("main .big").first.inner_text().strip()
    goal_select = page.get_by_label(tr("Job role I am working towards"))
    options = goal_select.locator("option").evaluate_all(
        "os => os.map(o => ({value: o.value, label: o.textContent.trim()}))"
    )
    goal = next(o for o in options if o["value"] and o["label"] != current)
    goal_select.select_option(goal["value"])
    follow(page, page.get_by_role("button", name=tr("Save my goal")))
    expect(_flash(page)).to_have_text(tr("Your goal is saved."))
    expect(page.get_by_label(tr("Job role I am working towards"))).to_have_value(goal["value"])
    expect(
        page.get_by_role("heading", name=tr("Learning path to %(role)s") % {"role": goal["label"]})
    ).to_be_visible()
    expect(page.locator("main thead")).to_contain_text(tr("Target role requires"))

    # The chart bundle loads only on request, then draws an SVG without console errors.
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    show = page.get_by_role("button", name=tr("Show as a chart"))
    expect(show).to_be_visible()
    assert not page.evaluate(
        "() => [...document.scripts].some(s => s.src.includes('build/charts.js'))"
    ), "the chart bundle was loaded before the button was pressed"
    show.click()
    canvas = page.locator("main .chart-canvas")
    expect(canvas.locator("svg").first).to_be_attached()
    expect(canvas).to_be_visible()
    pressed = page.get_by_role("button", name=tr("Show as a chart"), include_hidden=True)
    expect(pressed).to_have_attribute("hidden", "")  # chart-loader.js hid it …
    if pressed.is_visible():  # … but is it gone from the screen? (checked at the end)
        problems.append(
            f"{page.url}: the {tr('Show as a chart')!r} button has the hidden attribute but is "
            "still displayed (the .button rule's display overrides [hidden])"
        )
    page.wait_for_timeout(300)  # let the chart finish its first paint
    assert errors == [], f"console errors after drawing the chart: {errors}"
    check_accessibility(page)
    _no_horizontal_overflow(page)

    # A self-assessment of a skill not yet self-assessed shows as unverified.
    table = page.get_by_role("region", name=tr("Skills and gaps"))
    rows = table.locator("tbody tr")
    unassessed = rows.filter(has_not=page.locator(".badge"))
    skill_name = unassessed.first.get_by_role("rowheader").inner_text().strip()
    page.get_by_label(tr("Skill"), exact=True).select_option(label=skill_name)
    page.get_by_label(tr("Level"), exact=True).select_option("2")
    page.get_by_label(tr("Note (optional)")).fill("e2e：自评")
    follow(page, page.get_by_role("button", name=tr("Save"), exact=True))
    expect(_flash(page)).to_have_text(tr("Your self-assessment is saved. It shows as unverified."))
    row = _skill_row(page, skill_name)
    column = _column(page.get_by_role("region", name=tr("Skills and gaps")), tr("Self-assessed"))
    expect(row.get_by_role("cell").nth(column)).to_have_text(
        f"{level_name(2, 'zh_CN')} {tr('unverified')}"
    )

    # That skill's evidence history.
    follow(page, row.get_by_role("link", name=skill_name, exact=True))
    expect(page.get_by_role("heading", level=1)).to_have_text(skill_name)
    evidence = page.get_by_role("region", name=tr("Evidence"))
    self_row = evidence.get_by_role("row").filter(has_text=tr("Self-assessment")).first
    expect(self_row).to_contain_text(tr("unverified"))
    expect(self_row).to_contain_text("e2e：自评")
    _no_horizontal_overflow(page)
    follow(page, page.get_by_role("link", name=tr("My skills")))

    # A learning path: enrol in the courses of one that are open now (prerequisites done).
    follow(page, page.get_by_role("link", name=tr("Follow a learning path")))
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("Learning path"))
    path = page.locator("main section.path").filter(has=page.locator("ol.path-steps")).first
    heading = path.get_by_role("heading", level=2).inner_text().strip()
    titles = [t.strip() for t in path.locator("ol.path-steps > li > a").all_inner_texts()]
    assert titles, f"no course in the path {heading!r}"
    ready = [
        t.strip()
        for t in path.locator('ol.path-steps > li[data-step="ready"] > a').all_inner_texts()
    ]
    assert ready, f"no course of the path {heading!r} is open now"
    _no_horizontal_overflow(page)
    role_select = page.get_by_label(tr("For the job role"))
    labels = [o.strip() for o in role_select.locator("option").all_inner_texts()]
    chosen = next(label for label in labels if label and label in heading)
    role_select.select_option(label=chosen)
    follow(
        page,
        page.get_by_role("button", name=tr("Enrol in the courses of this path open to you now")),
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("Learning path"))
    expect(_flash(page)).to_contain_text(ready[0])
    follow(page, page.get_by_role("link", name=tr("Go to my learning")))
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("My learning"))
    for title in ready:
        expect(page.get_by_role("heading", level=2, name=title, exact=True)).to_be_visible()
    assert not problems, "\n".join(problems)


# --- 2. the firm's HR admin on a desktop -----------------------------------------------------


def test_firm_admin_reads_gaps_rates_a_skill_and_assigns_a_path(desktop_page, tr):
    page = desktop_page
    visit(page, "/login")
    sign_in(page, tr, "hr.jidong@demo.lms", DEMO_PASSWORD)

    follow(page, page.locator("main").get_by_role("link", name=tr("Skill gaps"), exact=True))
    expect(page.get_by_role("heading", level=1)).to_contain_text(tr("Skill gaps"))
    heat_map = page.get_by_role(
        "img",
        name=tr(
            "Heat map of the share of workers with a gap, by job role and skill; "
            "the table below has the same figures."
        ),
    )
    expect(heat_map.locator("svg").first).to_be_attached()
    expect(heat_map).to_be_visible()
    check_accessibility(page)
    table = page.get_by_role("region", name=tr("Skill gaps by job role"))
    expect(table.get_by_role("table")).to_be_visible()
    expect(table.locator("tbody tr").first).to_be_visible()

    csv_link = page.get_by_role("link", name=tr("Export CSV"))
    response = page.request.get(csv_link.get_attribute("href"))
    assert response.ok, f"CSV: HTTP {response.status}"
    assert response.headers["content-type"].startswith("text/csv"), response.headers
    body = response.text().lstrip("\ufeff")
    assert body.splitlines()[0].startswith(tr("Job role")), body[:200]
    assert len(body.splitlines()) > 1

    # The people list → one person's skills and role.
    sidenav = page.get_by_role("navigation", name=tr("Administration"))
    follow(page, sidenav.get_by_role("link", name=re.compile(re.escape(tr("People")))).first)
    page.get_by_label(tr("Search by name, e-mail or mobile")).fill(RATED_PERSON)
    follow(page, page.locator("main form").get_by_role("button", name=tr("Search")))
    person_row = page.get_by_role("row").filter(has_text=RATED_PERSON).first
    follow(page, person_row.get_by_role("link", name=tr("Skills and role")))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        tr("Skills of %(name)s") % {"name": RATED_PERSON}
    )

    # A rating is verified evidence: it becomes the verified level in the table.
    table = page.get_by_role("region", name=tr("Skills and gaps"))
    skill_name = table.get_by_role("rowheader").first.inner_text().strip()
    page.get_by_label(tr("Skill"), exact=True).select_option(label=skill_name)
    page.get_by_label(tr("Level"), exact=True).select_option("5")
    page.get_by_label(tr("Note (optional)")).fill("e2e：现场考核")
    follow(page, page.get_by_role("button", name=tr("Save"), exact=True))
    expect(_flash(page)).to_have_text(tr("Rating saved: it counts as verified evidence."))
    table = page.get_by_role("region", name=tr("Skills and gaps"))
    column = _column(table, tr("Verified level"))
    expect(_skill_row(page, skill_name).get_by_role("cell").nth(column)).to_have_text(
        level_name(5, "zh_CN")
    )

    # Assign the whole learning path with a due date.
    due = date.today() + timedelta(days=60)
    page.get_by_label(tr("Due date")).fill(due.isoformat())
    follow(page, page.get_by_role("button", name=tr("Assign the whole path")))
    flash = _flash(page)
    expect(flash).to_have_text(
        _pattern(tr("Path assigned: %(assigned)d new courses, %(updated)d already assigned."))
    )
    assigned = int(re.search(r"\d+", flash.inner_text()).group())
    assert assigned > 0, flash.inner_text()


# --- 3. the consortium admin in English on a desktop -----------------------------------------


def test_consortium_admin_reads_gaps_recomputes_and_edits_the_taxonomy(desktop_page, tr, tr_en):
    page = desktop_page
    visit(page, "/login")
    follow(page, page.get_by_role("button", name="English"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    sign_in(page, tr_en, "consortium@demo.lms", DEMO_PASSWORD)

    main = page.locator("main")
    follow(page, main.get_by_role("link", name=tr_en("Skill gaps across firms"), exact=True))
    expect(page.get_by_role("heading", level=1)).to_contain_text(tr_en("Skill gaps across firms"))
    expect(
        page.get_by_role("heading", level=2, name=tr_en("Gaps no published course closes"))
    ).to_be_visible()
    uncovered = page.get_by_role("region", name=tr_en("Gaps no published course closes"))
    empty = main.get_by_text(tr_en("Every gap has a published course that closes it."))
    expect(uncovered.or_(empty)).to_be_visible()
    expect(page.get_by_role("heading", level=2, name=tr_en("Gaps by firm"))).to_be_visible()
    heat_map = page.get_by_role(
        "img",
        name=tr_en(
            "Heat map of the share of workers with a gap, by firm and skill; "
            "the table below has the same figures."
        ),
    )
    expect(heat_map.locator("svg").first).to_be_attached()
    check_accessibility(page)

    follow(page, page.get_by_role("button", name=tr_en("Recompute for every worker now")))
    expect(page).to_have_url(re.compile(r"/jobs/[^/]+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(tr_en("Recompute recommendations"))
    expect(main.get_by_role("status")).to_contain_text(tr_en("Finished"))
    done = main.get_by_text(_pattern(tr_en("Recommendations recomputed for %(n)d workers.")))
    expect(done).to_be_visible()
    workers = int(re.search(r"\d+", done.inner_text()).group())
    assert workers > 0, done.inner_text()

    # The taxonomy: a skill of the consortium's own …
    visit(page, "/")
    follow(page, main.get_by_role("link", name=tr_en("Skills"), exact=True))
    expect(page.get_by_role("heading", level=1)).to_contain_text(tr_en("Skills"))
    follow(page, page.get_by_role("link", name=tr_en("Add a skill")))
    page.get_by_label(tr_en("Skill id")).fill(NEW_SKILL_ID)
    category = page.get_by_label(tr_en("Category"))
    category.select_option(index=1)
    page.get_by_label(tr_en("Name (Chinese)")).fill(NEW_SKILL[0])
    page.get_by_label(tr_en("Name (English)")).fill(NEW_SKILL[1])
    follow(page, page.get_by_role("button", name=tr_en("Save"), exact=True))
    expect(_flash(page)).to_have_text(tr_en("Skill %(id)s added.") % {"id": NEW_SKILL_ID})
    page.get_by_label(tr_en("Search by name or id")).fill(NEW_SKILL_ID)
    follow(page, main.get_by_role("button", name=tr_en("Search")))
    found = page.get_by_role("region", name=tr_en("Skills")).get_by_role("row")
    expect(found.filter(has_text=NEW_SKILL_ID)).to_contain_text(NEW_SKILL[1])

    # … a job role requiring it at level 3 …
    follow(page, main.get_by_role("link", name=tr_en("Job roles"), exact=True))
    follow(page, page.get_by_role("link", name=tr_en("Create a job role")))
    page.get_by_label(tr_en("Job role id")).fill(NEW_ROLE_ID)
    page.get_by_label(tr_en("Name (Chinese)")).fill(NEW_ROLE[0])
    page.get_by_label(tr_en("Name (English)")).fill(NEW_ROLE[1])
    page.get_by_label(tr_en("Skill in row %(n)d") % {"n": 1}, exact=True).select_option(
        NEW_SKILL_ID
    )
    page.get_by_label(tr_en("Required level in row %(n)d") % {"n": 1}, exact=True).select_option(
        "3"
    )
    follow(page, page.get_by_role("button", name=tr_en("Save"), exact=True))
    expect(_flash(page)).to_have_text(tr_en("Job role %(id)s created.") % {"id": NEW_ROLE_ID})
    expect(page.get_by_role("heading", level=1)).to_contain_text(NEW_ROLE[1])
    required = page.get_by_role("region", name=tr_en("Required skills"))
    requirement = required.get_by_role("row").filter(has_text=NEW_SKILL_ID)
    expect(requirement).to_contain_text(NEW_SKILL[1])
    expect(requirement).to_contain_text(level_name(3, "en"))

    # … deactivated through the confirmation page.
    follow(page, main.get_by_role("link", name=tr_en("Deactivate"), exact=True))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        tr_en("Deactivate the job role %(name)s?") % {"name": NEW_ROLE[1]}
    )
    follow(page, page.get_by_role("button", name=tr_en("Deactivate job role")))
    expect(_flash(page)).to_have_text(
        tr_en("Job role %(name)s was deactivated.") % {"name": NEW_ROLE[1]}
    )
    expect(main).to_contain_text(tr_en("Deactivated"))
    expect(main.get_by_role("button", name=tr_en("Reactivate"))).to_be_visible()
