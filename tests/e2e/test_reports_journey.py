"""The reports of issue 6 in the browser, on the demo data: the consortium admin (desktop,
English) reads the dashboard, narrows it, drills down to the people behind a figure, exports
them and downloads the monthly PDF; a firm's HR admin (375 px phone, Chinese) reminds an
overdue worker once and downloads a worker's transcript from the training hours; a trainer
(desktop, Chinese) reads a course's funnel and exports it; a worker (phone, Chinese) downloads
their transcript. Every page is scanned by axe; console errors fail a journey.

The journeys share one live server: none relies on what another did or did not do before it
(the reminder journey looks up which overdue enrolment has not been reminded today)."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from datetime import date, datetime

import openpyxl
import pytest
from babel.support import Translations
from playwright.sync_api import expect
from sqlalchemy import select

from lms.demo.data import DEMO_PASSWORD, FIRMS
from lms.extensions import db
from lms.learning.models import Enrollment
from lms.notifications.models import Notification
from tests.e2e.conftest import TIMEOUT_MS
from tests.e2e.journey import check_accessibility, follow, sign_in, visit

pytestmark = pytest.mark.e2e

JIDONG = next(name for key, name, *_ in FIRMS if key == "jidong")  # hr.jidong's firm
TRAINER_COURSE = "industrial-robot-safety"  # a course of the trainer's firm with learners
PHONE_WIDTH = 375
PDF_TIMEOUT_MS = 60_000  # WeasyPrint on a shared 2-core machine
MASKED_MOBILE = re.compile(r"^\d{3}\*{4}\d{4}$")
UNMASKED_MOBILE = re.compile(r"(?<!\d)1\d{10}(?!\d)")
CJK = re.compile(r"[\u4e00-\u9fff]")
BOM = b"\xef\xbb\xbf"
# The dashboard's figure tiles, in their order on the page (lms/reports/figures.HEADLINE_LABELS).
TILES = (
    "Workers enrolled",
    "Active in the last 30 days",
    "Enrolments",
    "Completions",
    "Enrolments of the period completed by its end",
    "Completion rate",
    "Overdue mandatory assignments",
    "Certificates issued",
    "Training hours",
    "Workers whose skill level rose",
)
PEOPLE_COLUMNS = (
    "Mobile",
    "Firm",
    "Course",
    "Enrolled",
    "Completed",
    "Due",
    "Status",
    "Last active",
)


@pytest.fixture(scope="session")
def zh(translations_dir) -> Translations:
    """The Chinese catalogue, for ngettext and pgettext (the `tr` fixture is gettext only)."""
    return Translations.load(str(translations_dir), ["zh_CN", "zh_Hans_CN", "zh"])


@pytest.fixture(scope="session")
def en(translations_dir) -> Translations:
    return Translations.load(str(translations_dir), ["en"])


# --- helpers -----------------------------------------------------------------------------------


def _console_errors(page) -> list[str]:
    """A list that collects the page's console errors and uncaught exceptions from now on
    (except the 404 of the /favicon.ico Chromium asks for by itself: the app has no icon)."""
    errors: list[str] = []

    def on_console(message) -> None:
        source = (message.location or {}).get("url", "")
        if message.type == "error" and not source.endswith("/favicon.ico"):
            errors.append(f"{page.url}: {message.text} ({source})")

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    return errors


def _no_horizontal_overflow(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{page.url}: the page is {width} px wide on a 375 px phone"


def _flash(page):
    return page.locator("main .flash").first


def _number(text: str) -> float:
    """A figure as the page shows it (1,234 / 12.5 / 87.5 %) as a number."""
    cleaned = text.replace(",", "").replace("%", "").strip()
    assert re.fullmatch(r"\d+(\.\d+)?", cleaned), f"not a number: {text!r}"
    return float(cleaned)


def _table(region) -> tuple[list[str], list[list[str]]]:
    """The column titles and the cell texts (th and td) of each body row of a table."""
    header = [t.strip() for t in region.locator("thead th").all_inner_texts()]
    rows = region.locator("tbody tr").evaluate_all(
        "trs => trs.map(tr => [...tr.cells].map(c => c.innerText.trim()))"
    )
    return header, rows


def _tiles(page) -> dict[str, str]:
    """Label → value of the figure tiles."""
    tiles = page.locator("main dl.figures > .figure")
    # The term itself (an "as of" note may follow it in the <dt>).
    labels = [t.strip() for t in tiles.locator("dt .figure-term").all_inner_texts()]
    values = [t.strip() for t in tiles.locator("dd").all_inner_texts()]
    return dict(zip(labels, values, strict=True))


def _iso_month(shown: str) -> str:
    """A month as the English pages show it ("Jan 2026") as a month field takes it."""
    return datetime.strptime(shown, "%b %Y").strftime("%Y-%m")


def _tile_link(page, label: str):
    return (
        page.locator("main dl.figures > .figure")
        .filter(has=page.locator("dt .figure-term", has_text=re.compile(rf"^{re.escape(label)}$")))
        .locator("dd a")
    )


def _section(page, heading: str):
    """The <section> of the main column headed (h2) `heading`."""
    return page.locator("main section").filter(
        has=page.get_by_role("heading", level=2, name=heading, exact=True)
    )


def _chart_spec(page, canvas) -> dict:
    data_id = canvas.get_attribute("data-chart")
    return page.evaluate(f"() => JSON.parse(document.getElementById('{data_id}').textContent)")


def _download(page, link, folder, *, timeout: int = TIMEOUT_MS) -> tuple[str, bytes]:
    """Click a download link or button; (the file's name, its bytes)."""
    with page.expect_download(timeout=timeout) as info:
        link.click()
    download = info.value
    assert download.failure() is None, f"download failed: {download.failure()}"
    path = folder / download.suggested_filename
    download.save_as(path)
    return download.suggested_filename, path.read_bytes()


def _pdf_text(data: bytes, folder, name: str) -> str:
    assert data.startswith(b"%PDF"), f"{name} is not a PDF: {data[:20]!r}"
    path = folder / name
    path.write_bytes(data)
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout.decode("utf-8")


def _squash(text: str) -> str:
    """Text without white space: pdftotext breaks long lines where the PDF wraps them."""
    return re.sub(r"\s+", "", text)


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM), f"the CSV does not start with a UTF-8 BOM: {data[:10]!r}"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _reminder_keys(app, enrollment_public_id: str) -> list[str]:
    """Keys of the reminder notifications ever sent for the enrolment (one per day at most)."""
    with app.app_context():
        try:
            enrollment = db.session.scalar(
                select(Enrollment).where(Enrollment.public_id == enrollment_public_id)
            )
            assert enrollment is not None, enrollment_public_id
            return list(
                db.session.scalars(
                    select(Notification.key).where(
                        Notification.kind == "assignment.reminder",
                        Notification.user_id == enrollment.user_id,
                        Notification.key.like(f"assignment.reminder:{enrollment.id}:%"),
                    )
                )
            )
        finally:
            db.session.remove()


# --- 1. the consortium admin, desktop, English -------------------------------------------------


def test_consortium_admin_narrows_the_dashboard_drills_down_exports_and_gets_the_monthly_pdf(
    desktop_page, tr_en, en, tmp_path
):
    page = desktop_page
    errors = _console_errors(page)
    visit(page, "/login")
    follow(page, page.get_by_role("button", name="English"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    sign_in(page, tr_en, "consortium@demo.lms", DEMO_PASSWORD)
    main = page.locator("main")

    # Home → the dashboard: every figure tile, the month chart drawn next to its table.
    follow(page, main.get_by_role("link", name=tr_en("Consortium dashboard"), exact=True))
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(tr_en("Consortium dashboard"))
    consortium_name = heading.locator(".muted").inner_text().strip()
    assert CJK.search(consortium_name), f"consortium name {consortium_name!r}"
    tiles = _tiles(page)
    assert list(tiles) == [tr_en(label) for label in TILES], list(tiles)
    for label, value in tiles.items():
        assert value == "–" or re.fullmatch(r"[\d,.]+( %)?", value), f"{label}: {value!r}"
    enrolments = tr_en("Enrolments")
    total = _number(tiles[enrolments])
    assert total > 0, tiles

    months = _section(page, tr_en("By month"))
    canvas = months.locator(".chart-canvas")
    expect(canvas.locator("svg").first).to_be_attached()
    expect(canvas).to_be_visible()
    header, month_rows = _table(page.get_by_role("region", name=tr_en("By month")))
    column = header.index(enrolments)
    spec = _chart_spec(page, canvas)
    assert spec["categories"] == [r[0] for r in month_rows], spec["categories"]
    assert spec["series"][0]["data"] == [_number(r[column]) for r in month_rows], spec
    active = [r[0] for r in month_rows if _number(r[column])]
    assert active, month_rows
    check_accessibility(page)  # with the charts drawn

    header, firm_rows = _table(page.get_by_role("region", name=tr_en("By member firm")))
    column = header.index(enrolments)
    by_firm = {r[0]: _number(r[column]) for r in firm_rows}
    assert by_firm[JIDONG] > 0, by_firm

    # Filters: one firm and the months with activity (all of them: the tile must then equal
    # the firm's row of the unfiltered table).
    filters = main.locator("details.report-filters")
    filters.locator("summary").click()
    page.get_by_label(tr_en("Firm"), exact=True).select_option(label=JIDONG)
    page.get_by_label(tr_en("From month")).fill(_iso_month(active[0]))
    page.get_by_label(tr_en("To month")).fill(_iso_month(month_rows[-1][0]))
    follow(page, page.get_by_role("button", name=tr_en("Apply filters")))
    expect(filters.locator("summary")).to_contain_text(tr_en("narrowed"))
    expect(filters.locator("summary")).to_contain_text(active[0])
    narrowed = _tiles(page)
    assert narrowed != tiles, narrowed
    assert _number(narrowed[enrolments]) == by_firm[JIDONG], (narrowed, by_firm)
    assert _number(narrowed[enrolments]) < total
    header, firm_rows = _table(page.get_by_role("region", name=tr_en("By member firm")))
    assert [r[0] for r in firm_rows] == [JIDONG], firm_rows
    header, month_rows_now = _table(page.get_by_role("region", name=tr_en("By month")))
    column = header.index(enrolments)
    assert month_rows_now[0][0] == active[0] and len(month_rows_now) < len(month_rows)
    assert sum(_number(r[column]) for r in month_rows_now) == by_firm[JIDONG]

    # A breakdown's export has the filters applied: the one firm, its enrolments.
    firms = _section(page, tr_en("By member firm"))
    name, data = _download(page, firms.get_by_role("link", name="CSV"), tmp_path)
    assert name.endswith("-firms.csv"), name
    rows = _csv_rows(data)
    assert rows[0][0] == tr_en("Firm") and enrolments in rows[0], rows[0]
    assert [r[0] for r in rows[1:]] == [JIDONG], rows
    assert float(rows[1][rows[0].index(enrolments)]) == by_firm[JIDONG], rows

    # The people behind the figure: as many as the figure says, mobile numbers masked.
    follow(page, _tile_link(page, enrolments))
    expect(page.get_by_role("heading", level=1)).to_contain_text(enrolments)
    expect(main).to_contain_text(tr_en("Mobile numbers are masked."))
    count = main.locator("p.muted").filter(has_text=re.compile(r"^\d+ rows?$")).inner_text()
    assert int(count.split()[0]) == by_firm[JIDONG], count
    region = page.get_by_role("region", name=enrolments)
    header, people = _table(region)
    assert people, "the people list is empty"
    mobile, firm = header.index(tr_en("Mobile")), header.index(tr_en("Firm"))
    mobiles = [r[mobile] for r in people if r[mobile]]
    assert mobiles and all(MASKED_MOBILE.match(m) for m in mobiles), mobiles
    assert {r[firm] for r in people} == {JIDONG}, people
    assert not UNMASKED_MOBILE.search(main.inner_text()), "an unmasked mobile number is shown"

    # Its exports: CSV (BOM, header, every row, masked) and Excel.
    expected_header = [en.pgettext("person", "Name"), *(tr_en(c) for c in PEOPLE_COLUMNS)]
    exports = main.locator(".page-head .export-links")
    name, data = _download(page, exports.get_by_role("link", name="CSV"), tmp_path)
    assert name.endswith(".csv"), name
    rows = _csv_rows(data)
    assert rows[0] == expected_header, rows[0]
    assert len(rows) - 1 == by_firm[JIDONG], len(rows)
    assert all(MASKED_MOBILE.match(r[1]) for r in rows[1:] if r[1]), [r[1] for r in rows]
    assert {r[2] for r in rows[1:]} == {JIDONG}
    name, data = _download(page, exports.get_by_role("link", name="Excel"), tmp_path)
    assert name.endswith(".xlsx"), name
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        sheet_rows = list(workbook.active.iter_rows(values_only=True))
    finally:
        workbook.close()
    assert list(sheet_rows[0]) == expected_header, sheet_rows[0]
    assert len(sheet_rows) - 1 == by_firm[JIDONG], len(sheet_rows)
    assert all(MASKED_MOBILE.match(r[1]) for r in sheet_rows[1:] if r[1])

    # The monthly report of last month, as a PDF.
    nav = page.get_by_role("navigation", name=tr_en("Administration"))
    follow(page, nav.get_by_role("link", name=tr_en("Monthly report"), exact=True))
    expect(page.get_by_role("heading", level=1)).to_contain_text(tr_en("Monthly pilot report"))
    month = page.get_by_label(tr_en("Month"), exact=True).input_value()
    assert re.fullmatch(r"\d{4}-\d{2}", month), month
    name, data = _download(
        page,
        main.get_by_role("button", name=tr_en("Download PDF")),
        tmp_path,
        timeout=PDF_TIMEOUT_MS,
    )
    assert name.endswith(f"{month}.pdf"), name
    text = _pdf_text(data, tmp_path, "monthly.pdf")
    assert _squash(consortium_name) in _squash(text), text[:500]
    assert JIDONG in _squash(text), text[:500]
    assert errors == [], f"console errors: {errors}"


# --- 2. the firm's HR admin, 375 px phone, Chinese ---------------------------------------------


def test_firm_admin_on_a_phone_reminds_an_overdue_worker_once_and_downloads_a_transcript(
    phone_375, tr, zh, live_server, tmp_path
):
    page = phone_375
    errors = _console_errors(page)
    visit(page, "/login")
    sign_in(page, tr, "hr.jidong@demo.lms", DEMO_PASSWORD)
    main = page.locator("main")
    _no_horizontal_overflow(page)

    follow(page, main.get_by_role("link", name=tr("Dashboard"), exact=True))
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(tr("Dashboard"))
    expect(heading).to_contain_text(JIDONG)
    expect(main.locator("dl.figures > .figure")).to_have_count(len(TILES))
    _no_horizontal_overflow(page)

    # The filters are folded away on a phone; open them.
    filters = main.locator("details.report-filters")
    apply = page.get_by_role("button", name=tr("Apply filters"))
    expect(apply).to_be_hidden()
    filters.locator("summary").click()
    expect(apply).to_be_visible()
    expect(page.get_by_label(tr("From month"))).to_be_visible()
    expect(page.get_by_label(tr("Job role"), exact=True)).to_be_visible()
    check_accessibility(page)
    _no_horizontal_overflow(page)

    # The overdue list: tick a worker not yet reminded today, remind, then remind again.
    expect(page.get_by_role("heading", level=2, name=tr("Overdue assignments"))).to_be_visible()
    overdue = page.get_by_role("region", name=tr("Overdue assignments"))
    candidates = overdue.get_by_role("checkbox").evaluate_all("boxes => boxes.map(b => b.value)")
    assert candidates, "the demo firm has no overdue assignment"
    today = date.today().isoformat()
    before = {pid: _reminder_keys(live_server.app, pid) for pid in candidates}
    chosen = next(
        (pid for pid in candidates if not any(k.endswith(today) for k in before[pid])), None
    )
    assert chosen, f"every overdue enrolment on the page was already reminded today: {before}"
    box = overdue.locator(f'input[type=checkbox][value="{chosen}"]')
    box.check()
    follow(page, page.get_by_role("button", name=tr("Remind the selected workers")))
    expect(_flash(page)).to_have_text(
        zh.ngettext("%(num)d reminder sent.", "%(num)d reminders sent.", 1) % {"num": 1}
    )
    after = _reminder_keys(live_server.app, chosen)
    assert len(after) == len(before[chosen]) + 1, (before[chosen], after)
    assert any(k.endswith(today) for k in after), after
    expect(page.get_by_role("heading", level=1)).to_contain_text(tr("Dashboard"))
    _no_horizontal_overflow(page)

    overdue.locator(f'input[type=checkbox][value="{chosen}"]').check()
    follow(page, page.get_by_role("button", name=tr("Remind the selected workers")))
    expect(_flash(page)).to_have_text(tr("Already reminded today: no reminder sent."))
    assert _reminder_keys(live_server.app, chosen) == after, "a second reminder was sent today"

    # Training hours → a worker's transcript → its PDF.
    nav = page.get_by_role("navigation", name=tr("Administration"))
    follow(page, nav.get_by_role("link", name=tr("Training hours"), exact=True))
    expect(page.get_by_role("heading", level=1)).to_contain_text(tr("Training hours"))
    _no_horizontal_overflow(page)
    workers = page.get_by_role("region", name=tr("Training hours per worker"))
    person = workers.locator("tbody tr td:first-child a").first
    expect(person).to_be_visible()
    person_name = person.inner_text().strip()
    follow(page, person)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        tr("Transcript of %(name)s") % {"name": person_name}
    )
    header, taken = _table(page.get_by_role("region", name=tr("Courses taken")))
    assert taken, "the transcript lists no course"
    _no_horizontal_overflow(page)
    name, data = _download(
        page, main.get_by_role("link", name=tr("Download PDF")), tmp_path, timeout=PDF_TIMEOUT_MS
    )
    assert name.endswith(".pdf"), name
    text = _pdf_text(data, tmp_path, "person.pdf")
    assert person_name in text, text[:500]
    course = taken[0][header.index(tr("Course"))].splitlines()[0]
    assert _squash(course) in _squash(text), (course, text[:500])
    assert errors == [], f"console errors: {errors}"


# --- 3. the trainer, desktop, Chinese ----------------------------------------------------------


def test_trainer_reads_the_funnel_of_their_course_and_exports_it(desktop_page, tr, tmp_path):
    page = desktop_page
    errors = _console_errors(page)
    visit(page, "/login")
    sign_in(page, tr, "trainer@demo.lms", DEMO_PASSWORD)
    main = page.locator("main")

    follow(page, main.get_by_role("link", name=tr("My courses"), exact=True))
    card = main.locator("li.card").filter(has_text=TRAINER_COURSE)
    follow(page, card.get_by_role("heading", level=2).get_by_role("link"))
    follow(page, main.get_by_role("link", name=tr("See it in the catalogue")))
    follow(page, main.get_by_role("link", name=tr("Learners and sign-offs")))
    expect(page.get_by_role("heading", level=1)).to_contain_text(tr("Learners"))
    expect(main.locator("ul.cards > li.card").first).to_be_visible()
    follow(page, main.get_by_role("link", name=tr("Course analytics"), exact=True))
    expect(page.get_by_role("heading", level=1)).to_contain_text(tr("Course analytics"))

    # The funnel: its table and, beside it, the chart of the same figures.
    funnel = _section(page, tr("Where learners stop"))
    header, rows = _table(page.get_by_role("region", name=tr("Where learners stop")))
    assert rows[0][1] == tr("Enrolled") and int(rows[0][2]) > 0, rows[0]
    steps = rows[1:]
    assert steps, "the funnel has no lesson"
    canvas = funnel.locator(".chart-canvas")
    expect(canvas.locator("svg").first).to_be_attached()
    expect(canvas).to_be_visible()
    assert len(_chart_spec(page, canvas)["categories"]) == len(steps)
    check_accessibility(page)  # with the charts drawn

    name, data = _download(page, funnel.get_by_role("link", name="CSV"), tmp_path)
    assert name == f"{TRAINER_COURSE}-funnel.csv", name
    csv_rows = _csv_rows(data)
    assert csv_rows[0][:2] == [tr("No."), tr("Lesson")], csv_rows[0]
    assert len(csv_rows) - 1 == len(steps), csv_rows
    titles = [r[1].splitlines()[0] for r in steps]
    assert [r[1] for r in csv_rows[1:]] == titles, (csv_rows, titles)
    assert [int(r[3]) for r in csv_rows[1:]] == [int(r[2].split()[0]) for r in steps]
    assert errors == [], f"console errors: {errors}"


# --- 4. the worker, 375 px phone, Chinese ------------------------------------------------------


def test_worker_on_a_phone_opens_and_downloads_their_transcript(phone_375, tr, tmp_path):
    page = phone_375
    errors = _console_errors(page)
    visit(page, "/login")
    sign_in(page, tr, "worker.jinggong@demo.lms", DEMO_PASSWORD)
    main = page.locator("main")
    _no_horizontal_overflow(page)

    follow(page, page.locator("nav.bottomnav").get_by_role("link", name=tr("Learning")))
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("My learning"))
    _no_horizontal_overflow(page)
    follow(
        page,
        main.get_by_role("link", name=tr("My transcript: every course, hours and certificate")),
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("My transcript"))
    titles = [t.strip() for t in main.locator("ul.cards > li.card h2").all_inner_texts()]
    assert titles, "the transcript lists no course"
    _no_horizontal_overflow(page)

    link = main.get_by_role("link", name=tr("Download PDF"))
    response = page.request.get(link.get_attribute("href"), timeout=PDF_TIMEOUT_MS)
    assert response.ok, f"transcript PDF: HTTP {response.status}"
    assert response.headers["content-type"] == "application/pdf", response.headers
    assert response.headers["content-disposition"].startswith("attachment"), response.headers
    name, data = _download(page, link, tmp_path, timeout=PDF_TIMEOUT_MS)
    assert name.endswith(".pdf"), name
    text = _pdf_text(data, tmp_path, "mine.pdf")
    assert "黄欣怡" in text, text[:500]
    for title in titles:
        assert _squash(title) in _squash(text), (title, text[:500])
    assert errors == [], f"console errors: {errors}"
