"""Issuing exactly once, serials, automatic issue on completion, expiry, status, masking and
revocation; plus parallel issuing on PostgreSQL (its own database: the per-test rollback would
hide the other connection's commit)."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url

from lms.audit.models import AuditRecord
from lms.certificates import service
from lms.certificates.codes import format_code
from lms.certificates.models import Certificate
from lms.certificates.serials import SERIAL_RE, is_valid
from lms.core.types import local_date
from lms.extensions import db
from lms.learning.models import Enrollment


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_issue_is_idempotent(app, create_user, create_firm, certify):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    issued = certify(worker, firm)
    with app.test_request_context():
        enrollment = db.session.get(Enrollment, issued.enrollment_id)
        again = service.issue(enrollment)
        third = service.issue(enrollment, source="bulk")
        db.session.commit()
        assert again.serial == third.serial == issued.serial
        assert _count(Certificate, Certificate.user_id == worker.id) == 1
        assert _count(AuditRecord, AuditRecord.action == "certificate.issue") == 1


def test_serial_check_character_and_sequence(
    app, create_consortium, create_firm, create_user, create_course, certify
):
    consortium = create_consortium()
    firm = create_firm(consortium)
    course = create_course(firm, quiz=False, lessons=1)
    serials = [
        certify(create_user(role="worker", firm=firm), firm, course).serial for _ in range(3)
    ]
    year = date.today().year
    numbers = []
    for serial in serials:
        assert is_valid(serial), serial
        prefix, serial_year, number, _check = SERIAL_RE.match(serial).groups()
        assert prefix == consortium.code.upper() and int(serial_year) == year
        numbers.append(int(number))
        # a single changed character or a wrong check character is caught
        body, check = serial[:-1], serial[-1]
        assert not is_valid(body + ("0" if check != "0" else "1"))
    assert numbers == [1, 2, 3]


def test_completion_issues_automatically_with_the_snapshot(app, create_user, create_firm, certify):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm, name="张三丰")
    issued = certify(worker, firm)
    with app.app_context():
        cert = db.session.get(Certificate, issued.id)
        enrollment = db.session.get(Enrollment, issued.enrollment_id)
        assert enrollment.status == "completed"
        assert cert.source == "completion" and cert.firm_id == firm.id
        assert cert.data["name"] == "张三丰"
        assert cert.completed_on == local_date(enrollment.completed_at)  # the day in China
        assert cert.expires_on is None and cert.status() == "valid"
        assert len(cert.verification_code) >= 22  # ≥ 128 bits, URL-safe base64


def test_expiry_from_course_months(app, create_user, create_firm, certify):
    firm = create_firm()
    issued = certify(create_user(role="worker", firm=firm), firm, months=12)
    with app.app_context():
        cert = db.session.get(Certificate, issued.id)
        done = cert.completed_on
        assert cert.expires_on == service._add_months(done, 12)
        assert cert.expires_on.year == done.year + 1 and cert.expires_on.month == done.month
        assert cert.data["expires_on"] == cert.expires_on.isoformat()


def test_add_months_clamps_month_ends():
    assert service._add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert service._add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert service._add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)


def test_status_valid_expired_revoked(app, create_consortium, create_user, create_firm, certify):
    consortium = create_consortium()
    firm = create_firm(consortium)
    admin = create_user(role="consortium_admin", consortium=consortium)
    issued = certify(create_user(role="worker", firm=firm), firm, months=6)
    with app.test_request_context():
        cert = db.session.get(Certificate, issued.id)
        assert cert.status() == "valid"
        assert cert.status(today=cert.expires_on) == "valid"  # valid through its last day
        assert cert.status(today=cert.expires_on + timedelta(days=1)) == "expired"
        service.revoke(db.session.get(type(admin), admin.id), cert, "舞弊")
        db.session.commit()
        assert cert.status() == "revoked"
        assert cert.status(today=cert.expires_on + timedelta(days=1)) == "revoked"


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三丰", "张*丰"),
        ("张三", "张*"),
        ("李", "李"),
        ("欧阳娜娜", "欧**娜"),
        ("", ""),
        (" 王五 ", "王*"),
    ],
)
def test_mask_name(name, masked):
    assert service.mask_name(name) == masked


def test_revoke_requires_a_reason_and_is_audited_once(
    app, create_consortium, create_user, create_firm, certify
):
    consortium = create_consortium()
    firm = create_firm(consortium)
    admin = create_user(role="consortium_admin", consortium=consortium)
    issued = certify(create_user(role="worker", firm=firm), firm)
    with app.test_request_context():
        cert = db.session.get(Certificate, issued.id)
        actor = db.session.get(type(admin), admin.id)
        for blank in ("", "   ", None):
            with pytest.raises(service.CertificateError) as error:
                service.revoke(actor, cert, blank)
            assert error.value.field == "reason"
        assert cert.revoked_at is None
        service.revoke(actor, cert, "证书信息有误")
        first = cert.revoked_at
        service.revoke(actor, cert, "second click")
        db.session.commit()
        cert = db.session.get(Certificate, issued.id)
        assert cert.revoked_at == first and cert.revoke_reason == "证书信息有误"
        assert cert.revoked_by_id == admin.id
        assert (
            _count(
                AuditRecord,
                AuditRecord.action == "certificate.revoke",
            )
            == 1
        )


def test_find_by_serial_and_code_needs_both_as_printed(app, create_user, create_firm, certify):
    firm = create_firm()
    issued = certify(create_user(role="worker", firm=firm), firm)
    other = certify(create_user(role="worker", firm=firm), firm)
    serial, code = issued.serial, issued.public_code
    with app.app_context():
        assert service.find_by_serial_and_code(serial, code).id == issued.id
        typed = service.find_by_serial_and_code(f" {serial.lower()} ", format_code(code).lower())
        assert typed.id == issued.id
        wrong = serial[:-1] + ("0" if serial[-1] != "0" else "1")
        assert service.find_by_serial_and_code(wrong, code) is None
        assert service.find_by_serial_and_code(serial, other.public_code) is None
        assert service.find_by_serial_and_code(other.serial, code) is None
        assert service.find_by_serial_and_code(serial, "") is None
        assert service.find_by_serial_and_code("not a serial", code) is None
        assert service.find_by_code(code).id == issued.id
        assert service.find_by_code(serial) is None  # a serial opens nothing


# --- parallel issuing on PostgreSQL --------------------------------------------------------

THREADS = 4


def _postgres_url() -> str | None:
    url = os.environ.get("LMS_TEST_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


@pytest.fixture
def race_app(tmp_path):
    from lms import create_app
    from tests.conftest import TEST_CONFIG

    base = make_url(_postgres_url())
    name = f"lms_cert_race_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    rolled_back_session = db.session
    db.session = db._make_scoped_session({})  # ordinary sessions, one per app context
    try:
        app = create_app(
            {
                **TEST_CONFIG,
                "SQLALCHEMY_DATABASE_URI": base.set(database=name).render_as_string(
                    hide_password=False
                ),
                "LMS_STORAGE_DIR": str(tmp_path / "storage"),
                "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": THREADS + 2, "max_overflow": 0},
            }
        )
        with app.app_context():
            db.metadata.create_all(db.engine)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        db.session = rolled_back_session
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.skipif(_postgres_url() is None, reason="needs LMS_TEST_DATABASE_URL on PostgreSQL")
def test_parallel_issuing_makes_one_certificate(race_app):
    from lms.auth.models import User
    from lms.courses import authoring
    from lms.learning import service as learning
    from lms.tenancy.models import Consortium, Firm, Membership

    app = race_app
    with app.test_request_context():
        consortium = Consortium(code="RACE", name="并发联合体", city="唐山", region="east")
        firm = Firm(
            consortium=consortium, name="并发公司", kind="college", credit_code="91130200MA0RACE01"
        )
        trainer = User(name="培训师", email="t@example.com")
        reviewer = User(name="管理员", email="a@example.com")
        worker = User(name="张三丰", email="w@example.com")
        db.session.add_all([consortium, firm, trainer, reviewer, worker])
        db.session.flush()
        for user, role, firm_id in (
            (trainer, "trainer", firm.id),
            (worker, "worker", firm.id),
            (reviewer, "consortium_admin", None),
        ):
            db.session.add(
                Membership(
                    user=user,
                    consortium_id=consortium.id,
                    firm_id=firm_id,
                    role=role,
                    starts_on=date(2026, 1, 1),
                )
            )
        version = authoring.create_course(
            trainer,
            firm,
            slug="race",
            title="并发课程",
            language="zh-CN",
            summary="摘要。",
            sector="smart-manufacturing",
            hours=1,
            pass_mark=60,
        )
        module = authoring.add_module(trainer, version, title="模块")
        authoring.add_lesson(trainer, module, type="text", title="课", body="正文")
        assert authoring.submit_version(trainer, version)
        assert authoring.approve_version(reviewer, version)
        enrollment, _ = learning.enroll(worker, version)
        # Completed without the completion event, so the threads below are the first issuers.
        db.session.execute(
            update(Enrollment)
            .where(Enrollment.id == enrollment.id)
            .values(status="completed", completed_at=func.now())
        )
        db.session.commit()
        enrollment_id = enrollment.id

    barrier = threading.Barrier(THREADS)
    results, errors = [], []

    def run():
        try:
            with app.test_request_context():
                enrollment = db.session.get(Enrollment, enrollment_id)
                barrier.wait(timeout=30)
                results.append(service.issue(enrollment).serial)
                db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(results) == THREADS and len(set(results)) == 1
    with app.app_context():
        rows = db.session.scalars(select(Certificate)).all()
        assert [c.serial for c in rows] == results[:1]
        assert is_valid(rows[0].serial)
        assert _count(AuditRecord, AuditRecord.action == "certificate.issue") == 1
        db.session.remove()


def test_re_rendering_from_the_stored_data_gives_the_same_content(
    app, create_consortium, create_firm, create_user, certify, tmp_path
):
    import shutil
    import subprocess

    from lms.certificates.models import Certificate
    from lms.core.storage import storage
    from lms.extensions import db

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not found: install poppler-utils (make test does)")
    firm = create_firm(create_consortium())
    issued = certify(create_user(role="worker", firm=firm, name="欧阳娜娜"), firm)

    def text(pdf: bytes, name: str) -> str:
        path = tmp_path / name
        path.write_bytes(pdf)
        return subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
        ).stdout

    with app.test_request_context():
        cert = db.session.get(Certificate, issued.id)
        stored = storage().read(cert.pdf_path)
        again = service.pdf_bytes(cert)
    assert "欧阳娜娜" in text(stored, "stored.pdf")
    assert text(stored, "stored.pdf") == text(again, "again.pdf")
