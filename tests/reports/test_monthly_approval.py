"""Approval of the monthly pilot report (lms/reports/approval.py): a consortium admin reviews a
closed month and approves it (confirmation step, one approval however often submitted, audited;
an open month is refused); an approved month is frozen (page and PDF identical after new
activity); its PDF carries the approver, the date and the seal and is signed with the
consortium's key; the seal upload checks the image and names the field.

Messages are compared as the pages render them for the fixtures' users (zh_CN, via _text), so
these tests hold before and after the zh-CN catalogue has the new strings."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from lms.audit.models import AuditRecord
from lms.core.storage import storage
from lms.core.types import local_date, utcnow
from lms.extensions import db
from lms.learning.models import Enrollment
from lms.reports import approval, monthly
from lms.reports.models import MonthlyReport, MonthlyReportSetting
from lms.reports.summary import month_of, month_start, prev_month, refresh
from lms.tenancy.models import Consortium
from tests.certificates.test_signing import assert_signed_by
from tests.pdftools import require_poppler, run
from tests.reports.conftest import World

NOT_AN_IMAGE = (
    "This is not a PNG or JPEG image, or it is damaged. Its content was checked, not its name."
)


def _text(app, message, locale: str = "zh_CN") -> str:
    with app.test_request_context(), force_locale(locale):
        return str(message)


def _last_month(app) -> int:
    with app.app_context():
        return prev_month(month_of(utcnow()))


def _this_month(app) -> int:
    with app.app_context():
        return month_of(utcnow())


def _png(size=(120, 120), color=(200, 20, 20, 255), fmt="PNG") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA" if fmt == "PNG" else "RGB", size, color[: 4 if fmt == "PNG" else 3]).save(
        buffer, fmt
    )
    return buffer.getvalue()


def _audits(action: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)
    )


def _report(consortium_id: int, month: int) -> MonthlyReport | None:
    return db.session.scalars(
        select(MonthlyReport).where(
            MonthlyReport.consortium_id == consortium_id, MonthlyReport.month == month
        )
    ).first()


def _figures_html(page: str) -> str:
    """The page's figures section (the tables the month's figures are printed in)."""
    start = page.index('id="figures-title"')
    return page[start : page.index("</section>", start)]


def _approve(client, world: World, month: int, note: str = "") -> None:
    """Review then approve `month` as the signed-in admin (the two steps of the page)."""
    text = monthly.month_text(month)
    base = f"/consortia/{world.c}/reports/monthly"
    response = client.post(f"{base}/review", data={"month": text})
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"].endswith(f"{base}/approve?month={text}")
    confirm = client.get(response.headers["Location"])
    assert confirm.status_code == 200
    token = re.search(r'name="token" value="([0-9a-f]{64})"', confirm.get_data(as_text=True))[1]
    response = client.post(f"{base}/approve", data={"month": text, "token": token, "note": note})
    assert response.status_code == 302


@pytest.fixture
def seal_png() -> bytes:
    return _png()


@pytest.fixture
def en_admin(create_user, world: World):
    """A second consortium admin of C who reads English (the PDF then is in English)."""
    return create_user(
        role="consortium_admin", consortium=SimpleNamespace(id=world.c), locale="en", name="Ada"
    )


# --- approving --------------------------------------------------------------------------------


def test_a_closed_month_is_reviewed_confirmed_and_approved_once(app, world, client, login):
    admin = world.admins["consortium"]
    login(admin)
    month = _last_month(app)
    text = monthly.month_text(month)
    base = f"/consortia/{world.c}/reports/monthly"

    page = client.get(f"{base}?month={text}").get_data(as_text=True)
    assert _text(app, _l("Draft — not approved")) in page
    assert f'action="{base}/review"' in page

    # The confirmation step shows the figures and the rule, and approves nothing yet.
    client.post(f"{base}/review", data={"month": text})
    confirm = client.get(f"{base}/approve?month={text}").get_data(as_text=True)
    assert _text(app, _l("Approve these figures?")) in confirm
    assert 'id="monthly-headline"' in confirm
    with app.app_context():
        assert _report(world.c, month).status == "draft"
        assert _audits("report.approve") == 0

    token = re.search(r'name="token" value="([0-9a-f]{64})"', confirm)[1]
    form = {"month": text, "token": token, "note": "经联合体理事会审议"}
    first = client.post(f"{base}/approve", data=form)
    second = client.post(f"{base}/approve", data=form)  # a double submit
    assert first.status_code == second.status_code == 302
    with app.app_context():
        report = _report(world.c, month)
        assert report.status == "approved" and report.approved_by_id == admin.id
        assert report.approver_name == admin.name and report.note == "经联合体理事会审议"
        assert _audits("report.approve") == 1
        record = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == "report.approve")
        ).one()
        assert record.consortium_id == world.c and record.details["month"] == text
        assert set(report.pdf_paths) == {"zh_CN", "en"}  # rendered once, by the job
        assert all(storage().exists(k) for k in report.pdf_paths.values())
        approved_at = report.approved_at

    page = client.get(f"{base}?month={text}").get_data(as_text=True)
    with app.test_request_context(), force_locale("zh_CN"):
        from flask_babel import format_date

        refused = str(
            _l(
                "The report of %(month)s was already approved by %(name)s on %(date)s. An "
                "approved report is final.",
                month=monthly.month_label(month),
                name=admin.name,
                date=format_date(local_date(approved_at), "long"),
            )
        )
    assert refused in page  # the second submit's message
    assert 'id="approval-status"' in page and "经联合体理事会审议" in page
    assert f'action="{base}/review"' not in page  # nothing left to approve

    # Reviewing or approving again is refused, with the same message; nothing changes.
    response = client.post(f"{base}/review", data={"month": text})
    assert response.status_code == 302
    assert refused in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert _report(world.c, month).approved_at == approved_at
        assert _audits("report.approve") == 1


def test_an_open_month_cannot_be_approved(app, world, client, login):
    login(world.admins["consortium"])
    month = _this_month(app)
    text = monthly.month_text(month)
    base = f"/consortia/{world.c}/reports/monthly"
    page = client.get(f"{base}?month={text}").get_data(as_text=True)
    assert f'action="{base}/review"' not in page
    assert _text(app, _l("Draft — not approved")) in page

    response = client.post(f"{base}/review", data={"month": text})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    with app.test_request_context(), force_locale("zh_CN"):
        message = str(
            _l(
                "Only a month that is over can be approved; %(month)s is not over yet.",
                month=monthly.month_label(month),
            )
        )
    assert message in page
    # Not even with a hand-made approval.
    client.post(f"{base}/approve", data={"month": text, "token": "0" * 64})
    with app.app_context():
        assert _report(world.c, month) is None
        assert _audits("report.approve") == 0


def test_approval_needs_the_reviewed_figures_and_a_short_note(app, world, client, login):
    login(world.admins["consortium"])
    month = _last_month(app)
    text = monthly.month_text(month)
    base = f"/consortia/{world.c}/reports/monthly"
    # Without a review: told to review first.
    response = client.get(f"{base}/approve?month={text}")
    assert response.status_code == 302
    client.post(f"{base}/review", data={"month": text})
    with app.app_context():
        token = _report(world.c, month).digest
    # A stale token (the figures were reviewed again and differ): refused.
    client.post(f"{base}/approve", data={"month": text, "token": "f" * 64})
    # A note too long: the confirmation page again, naming the field, nothing approved.
    response = client.post(
        f"{base}/approve", data={"month": text, "token": token, "note": "长" * 501}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="note-error"' in page
    assert _text(app, _l("Note (optional)")) in page
    # A month that is not YYYY-MM: back to the page, which names the field.
    response = client.post(f"{base}/review", data={"month": "2026-13"})
    assert response.status_code == 302 and "month=2026-13" in response.headers["Location"]
    with app.app_context():
        assert _report(world.c, month).status == "draft"
        assert _audits("report.approve") == 0


def test_a_firm_admin_and_another_consortiums_admin_cannot_approve(app, world, client, login):
    month = monthly.month_text(_last_month(app))
    for user in (world.admins["f1"], world.admins["d"]):
        login(user)
        base = f"/consortia/{world.c}/reports/monthly"
        assert client.post(f"{base}/review", data={"month": month}).status_code == 404
        assert client.post(f"{base}/approve", data={"month": month}).status_code == 404
        assert client.get(f"/consortia/{world.c}/reports/seal").status_code == 404
        client.post("/logout")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MonthlyReport)) == 0


# --- frozen -------------------------------------------------------------------------------------


def test_an_approved_month_gives_the_same_page_and_pdf_after_new_activity(
    app, world, client, login, tmp_path
):
    require_poppler("pdftotext")
    login(world.admins["consortium"])
    month = _last_month(app)
    text = monthly.month_text(month)
    base = f"/consortia/{world.c}/reports/monthly"
    _approve(client, world, month)

    def generate() -> tuple[str, bytes, str]:
        page = client.get(f"{base}?month={text}").get_data(as_text=True)
        response = client.get(f"{base}.pdf?month={text}")
        pdf = response.get_data()
        response.close()
        assert response.status_code == 200 and pdf.startswith(b"%PDF-")
        path = tmp_path / "report.pdf"
        path.write_bytes(pdf)
        return (
            _figures_html(page),
            pdf,
            run("pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"),
        )

    before = generate()
    with app.app_context():
        live_before = monthly.monthly_context(db.session.get(Consortium, world.c), month, "zh_CN")

    # New activity dated in the approved month: two workers enrol in course B and one completes.
    with app.app_context():
        moment = month_start(month) + timedelta(days=3)
        for user, status in (("w2", "completed"), ("w3", "enrolled")):
            db.session.add(
                Enrollment(
                    consortium_id=world.c,
                    firm_id=world.f1 if user == "w2" else world.f2,
                    user_id=world.users[user].id,
                    course_id=world.b,
                    version_id=db.session.scalars(
                        select(Enrollment.version_id).where(Enrollment.course_id == world.b)
                    ).first(),
                    status=status,
                    enrolled_at=moment,
                    completed_at=moment + timedelta(days=1) if status == "completed" else None,
                )
            )
        db.session.commit()
        refresh(world.c, rebuild=True)
        db.session.commit()
        live_after = monthly.monthly_context(db.session.get(Consortium, world.c), month, "zh_CN")
    assert live_after["headline"] != live_before["headline"]  # the live figures did change

    after = generate()
    assert after[0] == before[0]  # the page's figures
    assert after[1] == before[1]  # the PDF, byte for byte (stored once)
    assert after[2] == before[2]
    # A draft month is still live: this month's page follows the new activity.
    with app.app_context():
        assert _report(world.c, _this_month(app)) is None


def test_the_snapshot_is_what_the_page_shows_in_each_language(app, world, client, login, en_admin):
    login(world.admins["consortium"])
    month = _last_month(app)
    _approve(client, world, month)
    with app.app_context():
        report = _report(world.c, month)
        zh = approval.snapshot_context(report, "zh_CN")
        en = approval.snapshot_context(report, "en")
    assert zh["lang"] == "zh-CN" and en["lang"] == "en"
    assert str(zh["charts"]["trend"]).startswith("<svg")  # Markup again, not escaped text
    client.post("/logout")
    login(en_admin)  # another admin of C sees the approved status, in English
    page = client.get(
        f"/consortia/{world.c}/reports/monthly?month={monthly.month_text(month)}"
    ).get_data(as_text=True)
    assert "Approved by " in page and "This report is approved and final" in page
    for row in en["headline"]:
        assert row["label"].replace("&", "&amp;") in page


# --- the PDF ------------------------------------------------------------------------------------


def test_the_approved_pdf_has_the_approver_the_date_the_seal_and_a_valid_signature(
    app, world, client, login, en_admin, seal_png, tmp_path
):
    require_poppler("pdftotext", "pdfimages")
    login(en_admin)
    assert (
        client.post(
            f"/consortia/{world.c}/reports/seal",
            data={"seal": (io.BytesIO(seal_png), "seal.png")},
            content_type="multipart/form-data",
        ).status_code
        == 302
    )
    month = _last_month(app)
    text = monthly.month_text(month)
    # The draft PDF: live, marked as a draft, not signed.
    response = client.get(f"/consortia/{world.c}/reports/monthly.pdf?month={text}")
    draft = response.get_data()
    response.close()
    assert PdfFileReader(io.BytesIO(draft)).embedded_signatures == []
    (tmp_path / "draft.pdf").write_bytes(draft)
    draft_text = run("pdftotext", "-enc", "UTF-8", str(tmp_path / "draft.pdf"), "-")
    assert "Draft — not approved" in draft_text

    _approve(client, world, month, note="Reviewed by the board")
    response = client.get(f"/consortia/{world.c}/reports/monthly.pdf?month={text}")
    pdf = response.get_data()
    response.close()
    assert response.status_code == 200
    assert f"monthly-report-C-{text}.pdf" in response.headers["Content-Disposition"]
    path = tmp_path / "approved.pdf"
    path.write_bytes(pdf)
    pdf_text = " ".join(run("pdftotext", "-enc", "UTF-8", str(path), "-").split())
    with app.test_request_context(), force_locale("en"):
        from flask_babel import format_date

        report = _report(world.c, month)
        day = format_date(local_date(report.approved_at), "long")
    assert f"Approved by Ada on {day}" in pdf_text
    assert "Reviewed by the board" in pdf_text and "Draft" not in pdf_text
    images = run("pdfimages", "-list", str(path)).splitlines()[2:]
    assert any(line.split()[3:5] == ["120", "120"] for line in images), images  # the seal
    assert_signed_by(app, pdf, world.c)  # intact, trusted, covering the entire file

    # The Chinese PDF was stored too, signed as well; the e-mail attaches the stored one.
    with app.test_request_context():
        report = _report(world.c, month)
        zh = storage().read(report.pdf_paths["zh_CN"])
        note = SimpleNamespace(params={"consortium_id": world.c, "month": text})
        attached = monthly.email_attachments(note, db.session.merge(en_admin))
    assert_signed_by(app, zh, world.c)
    assert attached[0][2] == pdf


def test_approval_without_a_seal_works_and_invites_one(app, world, client, login, tmp_path):
    require_poppler("pdfimages")
    login(world.admins["consortium"])
    month = _last_month(app)
    page = client.get(f"/consortia/{world.c}/reports/monthly").get_data(as_text=True)
    assert _text(app, _l("Upload the consortium’s seal")) in page
    _approve(client, world, month)
    response = client.get(
        f"/consortia/{world.c}/reports/monthly.pdf?month={monthly.month_text(month)}"
    )
    pdf = response.get_data()
    response.close()
    (tmp_path / "r.pdf").write_bytes(pdf)
    assert run("pdfimages", "-list", str(tmp_path / "r.pdf")).splitlines()[2:] == []
    assert_signed_by(app, pdf, world.c)


def test_a_pdf_not_yet_rendered_is_not_rendered_in_the_request(app, world, client, login):
    """With a worker, the PDFs are stored a moment after the approval: until then the download
    says so instead of rendering."""
    login(world.admins["consortium"])
    month = _last_month(app)
    text = monthly.month_text(month)
    _approve(client, world, month)
    with app.app_context():
        report = _report(world.c, month)
        report.pdf_paths = {}
        db.session.commit()
    response = client.get(f"/consortia/{world.c}/reports/monthly.pdf?month={text}")
    assert response.status_code == 302
    with app.test_request_context(), force_locale("zh_CN"):
        message = str(
            _l(
                "The signed PDF of %(month)s is being prepared. Try again in a minute.",
                month=monthly.month_label(month),
            )
        )
    assert message in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        from lms.jobs.models import Job

        job = Job(kind=approval.JOB_KIND, params={"report_id": _report(world.c, month).id})
        assert approval.pdf_job(job, None)["stored"] == 2
    response = client.get(f"/consortia/{world.c}/reports/monthly.pdf?month={text}")
    response.close()
    assert response.status_code == 200


# --- the seal ------------------------------------------------------------------------------------


def _upload(client, world, data: bytes, name: str = "seal.png"):
    # Encoded in memory: the test client would spool a big body to a file it never closes.
    boundary, body = encode_multipart({"seal": FileStorage(io.BytesIO(data), filename=name)})
    return client.post(
        f"/consortia/{world.c}/reports/seal",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: b"<html>not an image</html>",
            NOT_AN_IMAGE,
        ),
        (
            lambda: _png((20, 20), fmt="GIF"),
            NOT_AN_IMAGE,
        ),
        (
            lambda: _png()[:-20],
            NOT_AN_IMAGE,
        ),
        (lambda: _png((4001, 10)), "The image may be at most %(n)d pixels wide and high."),
        (
            lambda: b"\x89PNG\r\n\x1a\n" + b"0" * (1024 * 1024 + 10),
            "The image is larger than 1 MB.",
        ),
        (lambda: b"", "The file is empty."),
    ],
    ids=["html", "gif", "truncated", "too-wide", "too-big", "empty"],
)
def test_a_bad_seal_is_refused_naming_the_field(app, world, client, login, make, message):
    login(world.admins["consortium"])
    response = _upload(client, world, make())
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    with app.test_request_context(), force_locale("zh_CN"):
        expected = str(
            _l(
                "Seal image: %(error)s",
                error=_l(message, n=4000) if "%(n)d" in message else _l(message),
            )
        )
    assert expected in page and 'aria-invalid="true"' in page
    with app.app_context():
        assert db.session.get(MonthlyReportSetting, world.c) is None
        assert _audits("report.seal") == 0


def test_a_seal_is_uploaded_previewed_and_replaced(app, world, client, login, seal_png):
    login(world.admins["consortium"])
    seal_url = f"/consortia/{world.c}/reports/seal.img"
    assert client.get(seal_url).status_code == 404
    page = client.get(f"/consortia/{world.c}/reports/seal").get_data(as_text=True)
    assert 'id="seal-preview"' not in page

    response = _upload(client, world, seal_png)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'id="seal-preview" src="{seal_url}"' in page
    assert client.get(seal_url).get_data() == seal_png

    jpeg = _png((64, 64), fmt="JPEG")
    assert _upload(client, world, jpeg, "whatever.png").status_code == 302
    served = client.get(seal_url)
    assert served.get_data() == jpeg and served.mimetype == "image/jpeg"
    with app.app_context():
        assert _audits("report.seal") == 2
        assert db.session.get(MonthlyReportSetting, world.c).seal_path.endswith(".jpg")


def test_an_approved_report_keeps_the_seal_it_was_approved_with(
    app, world, client, login, seal_png
):
    login(world.admins["consortium"])
    month = _last_month(app)
    text = monthly.month_text(month)
    _upload(client, world, seal_png)
    _approve(client, world, month)
    _upload(client, world, _png((64, 64), fmt="JPEG"))
    kept = client.get(f"/consortia/{world.c}/reports/seal.img?month={text}")
    assert kept.get_data() == seal_png


def test_the_certificate_designs_seal_is_used_when_the_report_has_none(
    app, world, client, login, seal_png
):
    from lms.certificates.models import CertificateTemplate

    with app.app_context():
        storage().save("certificate-designs/x/seal.png", seal_png)
        db.session.add(
            CertificateTemplate(
                consortium_id=world.c, name="Default", seal_path="certificate-designs/x/seal.png"
            )
        )
        db.session.commit()
    login(world.admins["consortium"])
    page = client.get(f"/consortia/{world.c}/reports/seal").get_data(as_text=True)
    assert 'id="seal-preview"' in page
    assert client.get(f"/consortia/{world.c}/reports/seal.img").get_data() == seal_png
