"""PAdES signatures on certificate PDFs (lms/certificates/signing.py): every PDF the service
makes validates with pyHanko against its consortium's certificate as the trust root, one
changed byte breaks it, the key is made once (also by racing processes), kept private and
reused, and the public verification page shows the certificate's fingerprint."""

from __future__ import annotations

import base64
import concurrent.futures
import datetime
import hashlib
import io
import multiprocessing
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from lms.certificates import service, signing
from lms.certificates.models import Certificate
from lms.core.storage import storage
from lms.extensions import db
from lms.tenancy.models import Consortium


def validate(pdf: bytes, trust_root_der: bytes):
    """pyHanko's verdict on the PDF's one signature, trusting only `trust_root_der`."""
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(trust_root_der)])
    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    # pyHanko's validation calls asyncio.run(), refused in a thread whose event loop runs (the
    # browser tests' Playwright loop, when they ran first in the same process): use a thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(validate_pdf_signature, signature, context).result()


def assert_signed_by(app, pdf: bytes, consortium_id: int) -> None:
    with app.app_context():
        root = signing.certificate_der(consortium_id)
    assert root is not None, "the consortium has a signing key once a PDF is signed"
    status = validate(pdf, root)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.bottom_line
    assert status.coverage.name == "ENTIRE_FILE"
    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES


def stored_pdf(app, issued) -> tuple[bytes, int]:
    with app.app_context():
        cert = db.session.get(Certificate, issued.id)
        return storage().read(cert.pdf_path), cert.consortium_id


@pytest.fixture
def issued_two(create_consortium, create_firm, create_user, create_course, certify):
    """Two certificates of one consortium (the second signed with the kept key)."""
    firm = create_firm(create_consortium(name="唐山市智能制造跨企业培训联合体"))
    course = create_course(firm, quiz=False, lessons=1)
    return [
        certify(create_user(role="worker", firm=firm, name=name), firm, course)
        for name in ("张三丰", "欧阳娜娜")
    ]


def test_issued_pdfs_validate_against_the_consortium_certificate(app, issued_two):
    for issued in issued_two:
        pdf, consortium_id = stored_pdf(app, issued)
        assert_signed_by(app, pdf, consortium_id)
    with app.app_context():
        certificate = asn1_x509.Certificate.load(signing.certificate_der(consortium_id))
        consortium = db.session.get(Consortium, consortium_id)
        assert certificate.subject.native["common_name"] == consortium.name
        assert certificate.issuer == certificate.subject  # self-signed: its own trust root
        validity = certificate["tbs_certificate"]["validity"]
        years = (validity["not_after"].native - validity["not_before"].native).days / 365.25
        assert 9.99 < years < 10.01


def test_changing_one_byte_of_the_signed_content_breaks_the_signature(app, issued_two):
    pdf, consortium_id = stored_pdf(app, issued_two[1])
    with app.app_context():
        root = signing.certificate_der(consortium_id)
    assert validate(pdf, root).intact
    # The producer string of the signed revision: the file still parses, the digest differs.
    at = pdf.index(b"WeasyPrint")
    tampered = pdf[:at] + b"w" + pdf[at + 1 :]
    status = validate(tampered, root)
    assert not status.intact and not status.bottom_line


def test_another_key_is_not_trusted(app, issued_two, tmp_path):
    pdf, _ = stored_pdf(app, issued_two[0])
    stranger = tmp_path / "stranger.pem"
    signing.create_key_file(stranger, name="Another consortium", code="XX")
    other_root = base64.b64decode(signing._PEM_CERTIFICATE.search(stranger.read_bytes())[1])
    status = validate(pdf, other_root)
    assert status.intact and not status.trusted and not status.bottom_line


def test_the_key_is_made_once_reused_and_private(app, issued_two):
    with app.app_context():
        consortium_id = db.session.get(Certificate, issued_two[0].id).consortium_id
        path = signing.key_path(consortium_id)
        first = path.stat()
        assert stat.S_IMODE(first.st_mode) == 0o600, oct(first.st_mode)
        assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no leftovers
        fingerprint = signing.fingerprint(consortium_id)
        # A new process (no key kept in memory) reads the same file and signs with it.
        signing._SIGNERS.clear()
        cert = db.session.get(Certificate, issued_two[1].id)
        again = service.pdf_bytes(cert)
        assert path.stat().st_ino == first.st_ino and path.stat().st_mtime == first.st_mtime
        assert signing.fingerprint(consortium_id) == fingerprint
    assert_signed_by(app, again, consortium_id)


def _make_key(path: str, start) -> str:
    start.wait()
    signing.create_key_file(Path(path), name="并发联合体", code="RACE")
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_racing_processes_end_with_one_key(tmp_path):
    path = tmp_path / "keys" / "consortium-1.pem"
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(2) as pool:
        start = manager.Event()
        pending = [pool.apply_async(_make_key, (str(path), start)) for _ in range(2)]
        start.set()
        seen = {result.get(timeout=120) for result in pending}
    assert seen == {hashlib.sha256(path.read_bytes()).hexdigest()}  # both read the winner's
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_re_render_is_signed_and_says_the_same(app, issued_two, tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not found: install poppler-utils (make test does)")
    stored, consortium_id = stored_pdf(app, issued_two[0])
    with app.app_context():
        again = service.pdf_bytes(db.session.get(Certificate, issued_two[0].id))
    assert_signed_by(app, again, consortium_id)

    def text(pdf: bytes, name: str) -> str:
        (tmp_path / name).write_bytes(pdf)
        return subprocess.run(
            ["pdftotext", "-layout", str(tmp_path / name), "-"],
            capture_output=True,
            check=True,
            text=True,
        ).stdout

    assert "张三丰" in text(again, "again.pdf")
    assert text(stored, "stored.pdf") == text(again, "again.pdf")


def test_downloads_are_signed_also_when_rendered_on_demand(app, client, login, issued_two):
    with app.app_context():
        cert = db.session.get(Certificate, issued_two[0].id)
        user, consortium_id = cert.user, cert.consortium_id
        os.unlink(storage().local_path(cert.pdf_path))  # lost: the download renders it again
    login(user)
    for _ in range(2):  # rendered on demand, then served from storage
        response = client.get(f"/certificates/{issued_two[0].public_id}.pdf")
        pdf = response.get_data()
        response.close()
        assert response.status_code == 200
        assert_signed_by(app, pdf, consortium_id)


def test_verify_page_shows_the_signing_certificate_fingerprint(app, client, issued_two):
    pdf, consortium_id = stored_pdf(app, issued_two[0])
    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    embedded = hashlib.sha256(signature.signer_cert.dump()).hexdigest().upper()
    page = client.get(f"/verify/{issued_two[0].public_code}").get_data(as_text=True)
    shown = ":".join(embedded[i : i + 2] for i in range(0, 64, 2))
    assert shown in page
    with app.app_context():
        assert signing.fingerprint(consortium_id) == shown


def test_an_unwritable_key_folder_leaves_the_certificate_without_a_pdf(
    app, monkeypatch, tmp_path, create_consortium, create_firm, create_user, certify
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setitem(app.config, "LMS_SIGNING_KEY_DIR", str(blocker / "keys"))
    firm = create_firm(create_consortium())
    issued = certify(create_user(role="worker", firm=firm), firm)
    with app.app_context():
        cert = db.session.get(Certificate, issued.id)
        assert cert.pdf_path is None  # never stored unsigned; rendered again on download
        with pytest.raises(signing.SigningError):
            service.pdf_bytes(cert)


def test_signing_works_inside_a_running_event_loop(app, issued_two):
    """An async server, or the test suite's browser, may run an event loop in this thread:
    pyHanko's coroutine then runs on its own loop (asyncio.run() would refuse)."""
    import asyncio

    from lms.certificates import service

    async def sign_from_a_running_loop():
        with app.test_request_context():
            cert = db.session.get(Certificate, issued_two[0].id)
            return service.pdf_bytes(cert), cert.consortium_id

    pdf, consortium_id = asyncio.run(sign_from_a_running_loop())
    assert_signed_by(app, pdf, consortium_id)


def test_pyhankos_command_line_validates_a_pdf_against_the_exported_certificate(
    app, issued_two, tmp_path
):
    """The README's check: `flask certificates signing-certificate CODE` then `pyhanko sign
    validate` (pyhanko-cli, a development tool) says the PDF is intact and trusted."""
    pdf, consortium_id = stored_pdf(app, issued_two[0])
    with app.app_context():
        code = db.session.get(Consortium, consortium_id).code
    exported = app.test_cli_runner().invoke(args=["certificates", "signing-certificate", code])
    assert exported.exit_code == 0, exported.output
    assert exported.output.startswith("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "root.pem").write_text(exported.output)
    (tmp_path / "cert.pdf").write_bytes(pdf)
    pyhanko = Path(sys.executable).with_name("pyhanko")

    def check(name: str, trust: str = "root.pem") -> subprocess.CompletedProcess:
        return subprocess.run(
            [pyhanko, "sign", "validate", "--executive-summary", "--trust", trust]
            + ["--trust-replace", "--no-revocation-check", name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    valid = check("cert.pdf")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert valid.stdout.strip().endswith(":VALID")
    other = app.test_cli_runner().invoke(args=["certificates", "signing-certificate", code])
    assert other.output == exported.output  # the same certificate every time
    (tmp_path / "stranger.pem").write_bytes(_stranger_certificate_pem())
    assert check("cert.pdf", trust="stranger.pem").returncode != 0
    tampered = bytearray(pdf)
    tampered[len(pdf) // 3] ^= 0x01
    (tmp_path / "tampered.pdf").write_bytes(bytes(tampered))
    assert check("tampered.pdf").returncode != 0


def test_the_signing_certificate_command_names_a_consortium_without_a_key(app, create_consortium):
    with app.app_context():
        code = create_consortium().code
    result = app.test_cli_runner().invoke(args=["certificates", "signing-certificate", code])
    assert result.exit_code == 1
    assert "first certificate PDF is signed" in result.output


def _stranger_certificate_pem() -> bytes:
    """A self-signed certificate of someone else (to trust instead of the consortium's)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)
