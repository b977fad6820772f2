"""The worker transcript: every course taken with status, dates, score, hours and certificate;
the PDF (Chinese name and titles in the text layer, an embedded font subset, no phone); and who
may open whose (a foreign firm's admin gets a 404, a firm admin sees the firm's rows only)."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from lms.auth.models import User
from lms.extensions import db
from lms.learning import service as learning
from lms.transcripts import service
from tests.pdftools import require_poppler, run
from tests.transcripts.conftest import enrollment_of


def _get(client, url: str):
    response = client.get(url)
    body = response.get_data()
    response.close()
    return response, body


def _pdf_text(response, tmp_path) -> tuple[str, str]:
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    path = tmp_path / "transcript.pdf"
    path.write_bytes(response.get_data())
    response.close()
    return run("pdftotext", "-enc", "UTF-8", str(path), "-"), run("pdffonts", str(path))


def _withdrawn_course(app, world, create_course):
    """张三丰 also enrolled in a course and withdrew."""
    course = create_course(world.firm_a, quiz=False, lessons=1, title="数字孪生入门")
    with app.test_request_context():
        from lms.courses.models import Course

        user = db.session.get(User, world.people["a1"].id)
        enrollment, _ = learning.enroll(user, db.session.get(Course, course.id).versions[-1])
        learning.withdraw(user, enrollment)
        db.session.commit()
    return course


def test_the_worker_sees_every_course_taken_with_hours_and_certificates(
    app, world, client, login, create_course
):
    _withdrawn_course(app, world, create_course)
    login(world.people["a1"])
    response, body = _get(client, "/transcript")
    html = body.decode()
    assert response.status_code == 200
    for title in ("PLC编程与调试", "安全生产培训", "工业网络基础", "数字孪生入门"):
        assert title in html
    assert "Withdrawn" in html
    assert "6.5" in html  # 2 + 1.5 + 3 hours
    with app.app_context():
        enrollment = enrollment_of(world.people["a1"].id, world.courses["plc"].id)
        from lms.certificates.service import certificate_of

        cert = certificate_of(enrollment)
        assert cert.serial in html
        assert f"/certificates/{cert.public_id}.pdf" in html
    # Someone else's transcript isn't in it.
    assert "王五" not in html and "李四" not in html
    assert "/transcript.pdf" in html


def test_the_transcript_totals(app, world):
    with app.test_request_context():
        user = db.session.get(User, world.people["a1"].id)
        totals = service.transcript_totals(user)
        assert totals == {"taken": 3, "completed": 3, "hours": service._tenths(6.5)}
        firm_b = service.TranscriptScope(consortium_id=world.consortium.id, firm_id=world.firm_b.id)
        assert service.transcript_totals(user, firm_b)["taken"] == 0


def test_the_transcript_pdf_has_the_chinese_name_and_titles_in_an_embedded_subset(
    app, world, client, login, tmp_path
):
    require_poppler("pdftotext", "pdffonts")
    login(world.people["a1"])
    text, fonts = _pdf_text(client.get("/transcript.pdf"), tmp_path)
    for expected in ("张三丰", "PLC编程与调试", "安全生产培训", "工业网络基础"):
        assert expected in text, expected
    assert world.consortium.name in text
    assert "/verify/" in text
    # ID-free: no phone number, no e-mail.
    assert world.people["a1"].mobile not in text and "@" not in text
    rows = fonts.splitlines()[2:]
    assert rows, fonts
    for row in rows:
        parts = row.split()
        assert parts[-5] == "yes", row  # embedded
    assert any(row.split()[-4] == "yes" for row in rows), fonts  # a subset


def test_the_pdf_is_in_the_workers_language(app, world, client, login, tmp_path):
    require_poppler("pdftotext", "pdffonts")
    with app.app_context():
        db.session.get(User, world.people["admin_a"].id).locale = "zh_CN"
        db.session.commit()
    admin = app.test_client()
    login(world.people["admin_a"], c=admin)
    url = f"/firms/{world.firm_a.id}/people/{world.people['a1'].public_id}/transcript.pdf"
    text, _fonts = _pdf_text(admin.get(url), tmp_path)
    # The worker's language (English), not the admin's (Chinese).
    assert "Training transcript" in text and "张三丰" in text


def test_a_long_history_runs_over_several_pages_with_the_header_repeated(
    app, world, create_course, complete, tmp_path
):
    require_poppler("pdftotext", "pdffonts")
    for n in range(45):
        complete(
            world.people["a2"],
            course=create_course(world.firm_a, quiz=False, lessons=1, title=f"课程{n:02d}"),
        )
    with app.test_request_context():
        pdf = service.transcript_pdf(db.session.get(User, world.people["a2"].id))
    path = tmp_path / "long.pdf"
    path.write_bytes(pdf)
    info = run("pdfinfo", str(path)) if shutil.which("pdfinfo") else ""
    pages = [p for p in run("pdftotext", "-enc", "UTF-8", str(path), "-").split("\f") if p.strip()]
    assert len(pages) >= 2, info
    for page in pages:
        assert "课程" in page and ("学时" in page or "Hours" in page)
    assert "课程44" in pages[-1]


def test_a_firm_admin_opens_a_workers_transcript_with_the_firms_rows_only(
    app, world, client, login, complete, create_course
):
    # 张三丰 also trained for firm B before (a credit of firm B).
    course = create_course(world.firm_b, quiz=False, lessons=1, title="曹妃甸课程")
    with app.app_context():
        from lms.learning.models import Enrollment

        enrollment_id = complete(world.people["a1"], course=course)
        db.session.get(Enrollment, enrollment_id).firm_id = world.firm_b.id
        db.session.commit()
    login(world.people["admin_a"])
    url = f"/firms/{world.firm_a.id}/people/{world.people['a1'].public_id}/transcript"
    response, body = _get(client, url)
    html = body.decode()
    assert response.status_code == 200
    assert "PLC编程与调试" in html and "曹妃甸课程" not in html
    # The consortium admin, through the same firm, sees the consortium's rows.
    admin = app.test_client()
    login(world.people["consortium_admin"], c=admin)
    response, body = _get(admin, url)
    assert response.status_code == 200 and "曹妃甸课程" in body.decode()


@pytest.mark.parametrize("suffix", ["", ".pdf"])
def test_another_firms_admin_gets_a_404_through_their_firm_and_403_through_ours(
    app, world, client, login, suffix
):
    person = world.people["a1"].public_id
    login(world.people["admin_b"])
    # Through their own firm: the person isn't theirs.
    response, _ = _get(client, f"/firms/{world.firm_b.id}/people/{person}/transcript{suffix}")
    assert response.status_code == 404
    # Through firm A: not their firm.
    response, _ = _get(client, f"/firms/{world.firm_a.id}/people/{person}/transcript{suffix}")
    assert response.status_code == 404


def test_an_admin_of_another_consortium_gets_a_404(
    app, world, client, login, create_firm, create_user
):
    stranger = create_user(role="firm_admin", firm=create_firm())
    login(stranger)
    url = f"/firms/{world.firm_a.id}/people/{world.people['a1'].public_id}/transcript"
    assert _get(client, url)[0].status_code == 404


def test_a_worker_cannot_open_a_colleagues_transcript(app, world, client, login):
    login(world.people["a2"])
    url = f"/firms/{world.firm_a.id}/people/{world.people['a1'].public_id}/transcript"
    assert _get(client, url)[0].status_code == 404
    response, body = _get(client, "/transcript")
    assert "张三丰" not in body.decode() and "PLC编程与调试" in body.decode()


def test_an_empty_transcript_says_what_to_do(app, client, login, create_user, create_firm):
    login(create_user(role="worker", firm=create_firm()))
    response, body = _get(client, "/transcript")
    assert response.status_code == 200
    assert 'class="empty"' in body.decode()


def test_session_credits_appear_on_the_transcript(app, world, client, login):
    with app.test_request_context():
        service.credit_session_hours(
            None,
            db.session.get(User, world.people["a1"].id),
            world.firm_a,
            2,
            "现场实训-2026-09",
            date(2026, 9, 3),
        )
        db.session.commit()
    login(world.people["a1"])
    html = _get(client, "/transcript")[1].decode()
    assert "现场实训-2026-09" in html and "8.5" in html


def test_the_transcript_is_linked_from_learning_account_and_the_persons_skills(
    app, world, client, login
):
    login(world.people["a1"])
    for url in ("/learning", "/account"):
        assert 'href="/transcript"' in _get(client, url)[1].decode(), url
    admin = app.test_client()
    login(world.people["admin_a"], c=admin)
    person = world.people["a1"].public_id
    html = _get(admin, f"/firms/{world.firm_a.id}/people/{person}/skills")[1].decode()
    assert f'href="/firms/{world.firm_a.id}/people/{person}/transcript"' in html
