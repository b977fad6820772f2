"""Revocation that means it (issue 13): the revoked certificate's PDF is a stamped, unsigned
revocation notice rendered once when it is revoked, its Open Badges assertion answers 410 Gone
with the revocation, the lists show the revoked state and offer no old file, and a double
submit revokes once."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from flask_babel import force_locale, format_date
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import func, select

from lms.audit.models import AuditRecord
from lms.auth.models import User
from lms.certificates import service
from lms.certificates.models import Certificate
from lms.core.storage import storage
from lms.core.types import local_date
from lms.extensions import db
from lms.jobs.service import run_ready_tasks
from lms.notifications.models import Notification
from tests.certificates.test_signing import assert_signed_by

REASON = "考试作弊，证据见档案"


def _get(client, url):
    """GET and close (a file response holds its file open until closed)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def _text_pages(pdf: bytes, tmp_path) -> list[str]:
    """The text layer of each page (poppler's pdftotext)."""
    if shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None:
        if os.environ.get("LMS_REQUIRE_E2E") == "1":
            pytest.fail("pdftotext/pdfinfo not found (poppler-utils)")
        pytest.skip("pdftotext/pdfinfo not found: install poppler-utils")
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(
        ["pdfinfo", str(path)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    pages = int(next(line for line in info.splitlines() if line.startswith("Pages:")).split()[1])
    return [
        subprocess.run(
            ["pdftotext", "-f", str(n), "-l", str(n), str(path), "-"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        for n in range(1, pages + 1)
    ]


def _revoke(client, login, consortium, admin, issued, reason=REASON):
    login(admin)
    url = f"/consortia/{consortium.id}/certificates/{issued.public_id}/revoke"
    response = client.post(url, data={"reason": reason})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    client.post("/logout")
    return response


def _cert(issued) -> Certificate:
    return db.session.get(Certificate, issued.id)


# --- the PDF ---------------------------------------------------------------------------------


def test_a_revoked_certificate_downloads_as_a_stamped_unsigned_notice(
    app, client, login, two_firms, tmp_path
):
    consortium, _a, _b, people, certs = two_firms
    issued = certs["a1"]
    login(people["a1"])
    original = _get(client, f"/certificates/{issued.public_id}.pdf")
    assert original.status_code == 200
    assert_signed_by(app, original.data, consortium.id)  # the valid, signed certificate
    client.post("/logout")

    _revoke(client, login, consortium, people["consortium_admin"], issued)
    with app.app_context():
        cert = _cert(issued)
        # Rendered and stored by the revocation, before anyone downloads it.
        assert cert.revocation_pdf_path and storage().exists(cert.revocation_pdf_path)
        assert cert.revocation_pdf_path != cert.pdf_path
        assert storage().read(cert.pdf_path) == original.data  # the issued file stays on record
        revoked_at = cert.revoked_at

    login(people["a1"])
    notice = _get(client, f"/certificates/{issued.public_id}.pdf")
    assert notice.status_code == 200 and notice.mimetype == "application/pdf"
    assert notice.data.startswith(b"%PDF") and notice.data != original.data
    assert "revoked" in notice.headers["Content-Disposition"]
    # Not signed at all: no signature a PDF reader could show as valid.
    assert PdfFileReader(io.BytesIO(notice.data)).embedded_signatures == []
    assert b"/ByteRange" not in notice.data

    pages = _text_pages(notice.data, tmp_path)
    assert pages
    with app.test_request_context(), force_locale("zh_CN"):
        day = format_date(local_date(revoked_at), "long")
    for text in pages:  # stamped on every page
        flat = "".join(text.split())
        assert "REVOKED" in flat and "已撤销" in flat
        assert "".join(day.split()) in flat
        assert "考试作弊" in flat
    assert "张三丰" in "".join(pages[0].split())  # still the certificate it was

    # Stored once: the next download is the same file, not a new render.
    assert _get(client, f"/certificates/{issued.public_id}.pdf").data == notice.data
    client.post("/logout")

    # The consortium admin downloads the same notice.
    login(people["consortium_admin"])
    assert _get(client, f"/certificates/{issued.public_id}.pdf").data == notice.data


def test_a_notice_missing_from_storage_is_made_on_the_first_download(
    app, client, login, two_firms, tmp_path
):
    """Certificates revoked before notices existed (or whose render failed) get one too."""
    consortium, _a, _b, people, certs = two_firms
    issued = certs["a2"]
    with app.test_request_context():
        admin = db.session.get(User, people["consortium_admin"].id)
        cert = _cert(issued)
        service.revoke(admin, cert, "信息有误")
        cert.revocation_pdf_path = None
        db.session.commit()
        original = storage().read(cert.pdf_path)
    login(people["a2"])
    notice = _get(client, f"/certificates/{issued.public_id}.pdf")
    assert notice.status_code == 200 and notice.data != original
    assert PdfFileReader(io.BytesIO(notice.data)).embedded_signatures == []
    assert "已撤销" in "".join(_text_pages(notice.data, tmp_path)[0].split())
    with app.app_context():
        assert _cert(issued).revocation_pdf_path is not None


def test_the_stamp_is_in_the_holders_language(
    app, create_consortium, create_firm, create_user, certify, tmp_path
):
    consortium = create_consortium()
    firm = create_firm(consortium)
    worker = create_user(role="worker", firm=firm, locale="en")
    issued = certify(worker, firm)
    admin = create_user(role="consortium_admin", consortium=consortium)
    with app.test_request_context():
        service.revoke(db.session.get(User, admin.id), _cert(issued), "Wrong person")
        db.session.commit()
        run_ready_tasks()  # as at the end of a request: the notice is made after the commit
        pdf = storage().read(_cert(issued).revocation_pdf_path)
    flat = " ".join(_text_pages(pdf, tmp_path)[0].split())
    assert "REVOKED / 已撤销" in flat
    assert "Revoked on" in flat and "Reason: Wrong person" in flat


# --- the Open Badges assertion and the verification page ------------------------------------


def test_the_assertion_of_a_revoked_certificate_is_410_gone_with_the_revocation(
    app, client, login, two_firms
):
    consortium, _a, _b, people, certs = two_firms
    issued = certs["b1"]
    url = f"/badges/assertions/{issued.badge_code}"
    assert client.get(url).status_code == 200
    _revoke(client, login, consortium, people["consortium_admin"], issued)

    gone = client.get(url)
    assert gone.status_code == 410
    body = gone.get_json()
    assert set(body) == {"id", "revoked", "revocationReason"}
    assert body["id"] == f"http://localhost{url}" and body["revoked"] is True
    with app.app_context():
        revoked_on = local_date(_cert(issued).revoked_at).isoformat()
    assert revoked_on in body["revocationReason"]
    # As on the verification page: the admin's own words are not public.
    assert "考试作弊" not in gone.get_data(as_text=True)

    # The verification page and its JSON say the same.
    page = client.get(f"/verify/{issued.public_code}").get_data(as_text=True)
    assert "status off" in page and "考试作弊" not in page
    assert url not in page  # no link to an assertion that is gone
    doc = client.get(f"/verify/{issued.public_code}.json").get_json()
    assert doc["status"] == "revoked" and doc["revoked_on"] == revoked_on
    assert doc["replaced"] is False

    # A certificate that is not revoked still answers 200.
    assert client.get(f"/badges/assertions/{certs['a1'].badge_code}").status_code == 200


# --- the lists ---------------------------------------------------------------------------------


def test_the_holders_list_shows_the_revocation_and_offers_no_old_file(
    app, client, login, two_firms
):
    consortium, _a, _b, people, certs = two_firms
    issued = certs["a1"]
    _revoke(client, login, consortium, people["consortium_admin"], issued)
    login(people["a1"])
    page = client.get("/certificates").get_data(as_text=True)
    (card,) = [c for c in page.split('<li class="card')[1:] if issued.serial in c]
    card = card[: card.index("</li>")]
    assert "card-revoked" in card and "status off" in card
    assert "考试作弊" in card  # the holder sees why
    assert "button primary" not in card  # no "Download PDF" button for it
    assert f"/certificates/{issued.public_id}.pdf" in card  # the notice, labelled as such
    assert f"/badges/assertions/{issued.badge_code}" not in card
    assert "Download PDF" not in card and "下载 PDF" not in card


def test_the_admins_list_labels_the_revoked_pdf_as_a_notice(app, client, login, two_firms):
    consortium, _a, _b, people, certs = two_firms
    _revoke(client, login, consortium, people["consortium_admin"], certs["a1"])
    login(people["consortium_admin"])
    listing = client.get(f"/consortia/{consortium.id}/certificates?status=revoked")
    text = listing.get_data(as_text=True)
    row = text[text.index(certs["a1"].serial) :]
    row = row[: row.index("</tr>")]
    assert f"/certificates/{certs['a1'].public_id}.pdf" in row
    assert "Download PDF" not in row and "下载 PDF" not in row


# --- once ----------------------------------------------------------------------------------------


def test_a_double_revoke_has_one_effect(app, client, login, two_firms, monkeypatch):
    consortium, _a, _b, people, certs = two_firms
    issued = certs["a2"]
    renders = []
    real = service.store_revocation_pdf
    monkeypatch.setattr(service, "store_revocation_pdf", lambda c: renders.append(1) or real(c))
    _revoke(client, login, consortium, people["consortium_admin"], issued, reason="第一次")
    _revoke(client, login, consortium, people["consortium_admin"], issued, reason="第二次")
    with app.test_request_context():
        # and the service called again (a replayed request that got past the view)
        service.revoke(db.session.get(User, people["consortium_admin"].id), _cert(issued), "三")
        db.session.commit()
        cert = _cert(issued)
        assert cert.revoke_reason == "第一次"
        assert renders == [1]
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditRecord)
                .where(AuditRecord.action == "certificate.revoke")
            )
            == 1
        )
        notes = db.session.scalars(
            select(Notification).where(Notification.kind == "certificate.revoked")
        ).all()
        assert [(n.user_id, n.params["serial"]) for n in notes] == [
            (people["a2"].id, issued.serial)
        ]


def test_a_revocation_that_loses_the_race_changes_nothing(app, two_firms):
    """The claim is one UPDATE … WHERE revoked_at IS NULL: a certificate revoked by another
    request since it was loaded is left as that request revoked it."""
    consortium, _a, _b, people, certs = two_firms
    with app.test_request_context():
        admin = db.session.get(User, people["consortium_admin"].id)
        stale = _cert(certs["b1"])
        db.session.execute(
            Certificate.__table__.update()
            .where(Certificate.id == stale.id)
            .values(revoked_at=datetime(2026, 1, 5, 2, 0, tzinfo=UTC), revoke_reason="另一位管理员")
        )
        service.revoke(admin, stale, "晚到的撤销")
        db.session.commit()
        cert = _cert(certs["b1"])
        assert cert.revoke_reason == "另一位管理员"
        assert cert.revocation_pdf_path is None  # the winner's request renders its notice
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditRecord)
                .where(AuditRecord.action == "certificate.revoke")
            )
            == 0
        )
