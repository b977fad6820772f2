"""A certificate from completion to revocation: a worker on a 390 px phone completes a course,
finds the certificate under 证书, downloads its PDF (name, serial and verification code in the
text layer, a QR code that decodes to the public verification page of that code); anyone can
verify it without signing in and sees only the masked name — by the QR code, or by typing the
serial and the code, never by the serial alone; the consortium admin revokes it on a desktop
with a reason, and the public page then says so — every page scanned by axe.

The PDF checks need poppler-utils (pdftotext, pdftoppm), a CJK font and zxing-cpp: the journey is
skipped when one is missing, and fails instead under LMS_REQUIRE_E2E=1 (CI)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import yaml
from playwright.sync_api import expect

from lms.demo.data import DEMO_PASSWORD
from tests.e2e.conftest import TIMEOUT_MS
from tests.e2e.journey import check_accessibility, follow, sign_in, visit, work_through_course

pytestmark = pytest.mark.e2e

# The one demo course with neither a practical task (a trainer's sign-off) nor a prerequisite.
# The learning journey takes it too, but as worker.jinggong: the two enrolments never meet.
COURSE = Path(__file__).resolve().parents[2] / "courses" / "industrial-networks"
COURSE_TITLE = yaml.safe_load((COURSE / "course.yaml").read_text(encoding="utf-8"))["title"]
WORKER = "worker@demo.lms"
WORKER_NAME = "张伟"  # lms/demo/data.py NAMED_ACCOUNTS
MASKED_NAME = "张*"  # certificates.service.mask_name: 张三丰 → 张*丰, 张伟 → 张*
ADMIN = "consortium@demo.lms"
REASON = "e2e：培训记录核查发现代考，撤销证书"


def _missing(message: str) -> None:
    if os.environ.get("LMS_REQUIRE_E2E") == "1":
        pytest.fail(f"{message} (LMS_REQUIRE_E2E=1: the PDF checks are required)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def pdf_tools():
    """poppler-utils, a CJK font for the renderer and zxing-cpp, or skip (fail in CI)."""
    from lms.certificates import render

    for tool in ("pdftotext", "pdftoppm"):
        if shutil.which(tool) is None:
            _missing(f"{tool} not found: install the Debian package poppler-utils (make test does)")
    try:
        render.font_path()
    except render.RenderError as exc:
        _missing(str(exc))
    try:
        import zxingcpp
    except ImportError:
        _missing("zxing-cpp is not installed: make test installs it from requirements/dev.txt")
    return zxingcpp


@pytest.fixture
def anonymous_phone(browser, live_url):
    """A fresh phone context with no session: what someone scanning the QR code gets."""
    context = browser.new_context(
        base_url=live_url,
        bypass_csp=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _today_label() -> str:
    """Today as the |date filter shows it in Chinese (Babel's medium format)."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return f"{today.year}年{today.month}月{today.day}日"


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


# --- completing the course (as the learning journey does) -------------------------------------


def _complete_the_course(page, tr) -> None:
    follow(page, page.locator("nav.bottomnav").get_by_role("link", name=tr("Courses")))
    page.get_by_label(tr("Search courses")).fill("MQTT")
    follow(page, page.locator("main form").get_by_role("button", name=tr("Search")))
    follow(page, page.get_by_role("link", name=COURSE_TITLE, exact=True).first)
    follow(page, page.get_by_role("button", name=tr("Enrol")))

    work_through_course(page, tr, COURSE)
    visit(page, f"/courses/{COURSE.name}")
    expect(page.locator("main")).to_contain_text(tr("Completed"))


def _certificate_card(page):
    return page.locator("main li.card").filter(
        has=page.get_by_role("heading", level=2, name=COURSE_TITLE, exact=True)
    )


# --- the journey -------------------------------------------------------------------------------


def test_worker_earns_downloads_verifies_and_admin_revokes_a_certificate(
    pdf_tools, phone_page, desktop_page, anonymous_phone, live_url, tr, tmp_path
):
    zxingcpp = pdf_tools
    page = phone_page

    # 1. The worker completes the course on a phone …
    visit(page, "/login")
    sign_in(page, tr, WORKER, DEMO_PASSWORD)
    _complete_the_course(page, tr)

    # … and finds the new certificate under 证书 in the bottom navigation.
    follow(page, page.locator("nav.bottomnav").get_by_role("link", name=tr("Certificates")))
    expect(page.get_by_role("heading", level=1)).to_have_text(tr("My certificates"))
    card = _certificate_card(page)
    expect(card).to_have_count(1)
    expect(card.locator(".status.ok")).to_contain_text(tr("Valid"))
    serial = card.locator(".eyebrow .mono").inner_text().strip()
    assert re.fullmatch(r"[A-Z]+-\d{4}-\d+[0-9A-Z]", serial), f"serial {serial!r}"
    expect(card).to_contain_text(tr("Completed on %(date)s") % {"date": _today_label()})
    verify_href = card.get_by_role("link", name=tr("Verification page")).get_attribute("href")
    code = urlsplit(verify_href).path.removeprefix("/verify/")
    # 12 characters of Crockford's base32 (no I, L, O, U), printed in groups of four
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{12}", code), verify_href
    printed_code = "-".join(code[i : i + 4] for i in range(0, 12, 4))
    expect(card).to_contain_text(tr("Verification code %(code)s") % {"code": printed_code})

    # 2. The PDF, fetched with the worker's session.
    href = card.get_by_role("link", name=tr("Download PDF")).get_attribute("href")
    response = page.request.get(href)
    assert response.status == 200, f"{href}: HTTP {response.status}"
    assert response.headers["content-type"].startswith("application/pdf"), response.headers
    body = response.body()
    assert body.startswith(b"%PDF"), body[:20]
    pdf = tmp_path / f"{serial}.pdf"
    pdf.write_bytes(body)

    text = run("pdftotext", "-enc", "UTF-8", str(pdf), "-")
    assert WORKER_NAME in text, f"{WORKER_NAME} not in the PDF's text layer: {text[:300]!r}"
    assert serial in text, f"{serial} not in the PDF's text layer: {text[:300]!r}"
    assert printed_code in text, f"{printed_code} not in the PDF's text layer: {text[:300]!r}"

    run("pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf),
        str(tmp_path / "page1"))  # fmt: skip
    from PIL import Image

    with Image.open(tmp_path / "page1.png") as image:
        found = zxingcpp.read_barcodes(image)
    codes = [b.text for b in found if b.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(codes) == 1, f"QR codes on page 1: {codes}"
    qr_url = urlsplit(codes[0])
    assert qr_url.scheme in ("http", "https"), codes[0]
    assert qr_url.path == f"/verify/{code}", f"the QR code says {codes[0]!r}"

    # 3. Anyone scanning it, without signing in: valid, the name masked, never in full.
    anon = anonymous_phone
    visit(anon, qr_url.path)
    expect(anon.get_by_role("heading", level=1)).to_have_text(tr("Certificate verification"))
    main = anon.locator("main")
    expect(main.locator(".status.ok")).to_contain_text(tr("Valid certificate"))
    expect(main).to_contain_text(serial)
    expect(main).to_contain_text(COURSE_TITLE)
    holder = main.locator("dt", has_text=tr("Holder")).locator("xpath=following-sibling::dd[1]")
    expect(holder).to_have_text(MASKED_NAME)
    assert WORKER_NAME not in anon.content(), f"{anon.url}: the full name is on the public page"
    expect(anon.get_by_role("button", name=tr("Sign out"))).to_have_count(0)  # signed out

    data = anon.request.get(f"/verify/{code}.json")
    assert data.status == 200, f"/verify/{code}.json: HTTP {data.status}"
    doc = data.json()
    assert doc["status"] == "valid" and doc["holder"] == MASKED_NAME, doc
    assert doc["serial"] == serial and doc["revoked_on"] is None, doc
    assert WORKER_NAME not in data.text(), doc

    # The serial alone (the address on PDFs issued before codes) opens nothing: it asks for
    # the code, the page is the same for any serial …
    visit(anon, f"/verify/{serial}")
    main = anon.locator("main")
    expect(main.locator(".status")).to_have_count(0)
    content = main.inner_text()
    assert COURSE_TITLE not in content and MASKED_NAME not in content, content
    assert serial not in content, content
    # … a wrong code is "not found" …
    wrong = ("0" if code[0] != "0" else "1") + code[1:]
    main.get_by_label(tr("Certificate no.")).fill(serial)
    main.get_by_label(tr("Verification code")).fill(wrong)
    with anon.expect_navigation() as navigation:
        main.get_by_role("button", name=tr("Verify")).click()
    assert navigation.value.status == 404, navigation.value.status
    expect(main.locator(".status.off")).to_contain_text(tr("No certificate was found."))
    assert COURSE_TITLE not in main.inner_text()
    check_accessibility(anon)
    # … and the code as printed (any case, with its hyphens) opens the certificate.
    main.get_by_label(tr("Verification code")).fill(printed_code.lower())
    follow(anon, main.get_by_role("button", name=tr("Verify")))
    assert urlsplit(anon.url).path == qr_url.path, anon.url
    expect(main.locator(".status.ok")).to_contain_text(tr("Valid certificate"))
    expect(main).to_contain_text(serial)

    # 4. The consortium admin revokes it on a desktop, through the confirmation page.
    admin = desktop_page
    visit(admin, "/login")
    sign_in(admin, tr, ADMIN, DEMO_PASSWORD)
    follow(admin, admin.locator("main").get_by_role("link", name=tr("Certificates"), exact=True))
    expect(admin.get_by_role("heading", level=1)).to_contain_text(tr("Certificates"))
    assert re.search(r"/consortia/\d+/certificates$", admin.url), admin.url
    admin.get_by_label(tr("Search by certificate no., course or name")).fill(serial)
    follow(admin, admin.locator("main form").get_by_role("button", name=tr("Search")))
    row = admin.get_by_role("row").filter(has_text=serial)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(WORKER_NAME)  # the admin sees the full name
    expect(row.locator(".status.ok")).to_be_visible()
    follow(admin, row.get_by_role("link", name=tr("Revoke"), exact=True))
    expect(admin.get_by_role("heading", level=1)).to_have_text(
        tr("Revoke certificate %(serial)s") % {"serial": serial}
    )
    expect(admin.locator("main")).to_contain_text(WORKER_NAME)

    # Without a reason nothing happens …
    follow(admin, admin.get_by_role("button", name=tr("Revoke certificate")))
    expect(admin.locator("main")).to_contain_text(tr("Give the reason for revoking."))
    data = anon.request.get(f"/verify/{code}.json")
    assert data.json()["status"] == "valid", data.text()

    # … with one, it is revoked.
    admin.get_by_label(tr("Reason for revoking")).fill(REASON)
    follow(admin, admin.get_by_role("button", name=tr("Revoke certificate")))
    assert re.search(r"/consortia/\d+/certificates$", admin.url), admin.url
    expect(admin.locator("main .flash-success")).to_have_text(
        tr("Certificate %(serial)s is revoked.") % {"serial": serial}
    )
    row = admin.get_by_role("row").filter(has_text=serial)
    expect(row.locator(".status.off")).to_have_text(
        "✕ " + tr("Revoked on %(date)s") % {"date": _today_label()}
    )
    expect(row).to_contain_text(tr("Reason: %(reason)s") % {"reason": REASON})
    expect(row.get_by_role("link", name=tr("Revoke"), exact=True)).to_have_count(0)

    # 5. The public page now says revoked, with the date (and still no full name, no reason).
    visit(anon, qr_url.path)
    main = anon.locator("main")
    expect(main.locator(".status.off")).to_have_text(
        "✕ " + tr("Revoked on %(date)s") % {"date": _today_label()}
    )
    expect(main.locator(".status.ok")).to_have_count(0)
    content = anon.content()
    assert WORKER_NAME not in content, f"{anon.url}: the full name is on the public page"
    assert REASON not in content, f"{anon.url}: the reason for revoking is on the public page"
    doc = anon.request.get(f"/verify/{code}.json").json()
    assert doc["status"] == "revoked", doc
    assert doc["revoked_on"] == datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat(), doc

    # 6. The worker's own list shows it revoked too.
    follow(page, page.locator("nav.bottomnav").get_by_role("link", name=tr("Certificates")))
    expect(_certificate_card(page).locator(".status.off")).to_contain_text(tr("Revoked"))
