"""The backup drill (lms/ops/backup.py): a small world with issued, signed certificates is
backed up, wiped and restored into a second database and fresh folders, then compared: the row
counts of every table, the SHA-256 of every certificate PDF, the fingerprint on the verification
page against the PDF's signer, the keys' permissions. A restore without the key folder makes
signing refuse (no new key appears), and damaged or too new archives are refused.

Each test builds its own app (`create_app`) on its own databases and tmp folders: on SQLite two
files, on PostgreSQL (when LMS_TEST_DATABASE_URL is one) the databases backup_src and
backup_dst on the same server, dropped afterwards. The suite's rolled-back transaction is not
used (a restore replaces the whole database)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app
from flask_migrate import upgrade
from pyhanko.pdf_utils.reader import PdfFileReader

from lms import create_app
from lms.auth.models import User
from lms.certificates import render, service, signing
from lms.certificates.models import Certificate
from lms.courses.models import Course
from lms.extensions import db, limiter
from lms.learning import service as learning
from lms.ops import backup as ops
from tests.conftest import TEST_CONFIG, database_kind, database_url


@pytest.fixture(autouse=True)
def _rollback():
    """Overrides the suite's rolled-back transaction: these tests own their databases."""
    yield


def _missing(message: str):
    if os.environ.get("LMS_REQUIRE_E2E") == "1":
        pytest.fail(f"{message} (LMS_REQUIRE_E2E=1: the PDF tests are required)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def pdfs():
    """Certificates are rendered by WeasyPrint with a CJK font: skipped without them."""
    try:
        import weasyprint  # noqa: F401

        render.font_path()
    except (OSError, render.RenderError) as exc:
        _missing(f"certificate PDFs cannot be rendered here: {exc}")


@pytest.fixture
def databases(tmp_path):
    """Two empty databases of the suite's kind: the source and the restore target."""
    if database_kind() == "sqlite":
        yield f"sqlite:///{tmp_path / 'src.sqlite3'}", f"sqlite:///{tmp_path / 'dst.sqlite3'}"
        return
    server = sa.make_url(database_url())
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    names = ("backup_src", "backup_dst")

    def drop():
        with admin.connect() as connection:
            for name in names:
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    drop()
    with admin.connect() as connection:
        for name in names:
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield tuple(server.set(database=name).render_as_string(False) for name in names)
    finally:
        drop()
        admin.dispose()


def _make_app(url: str, folder: Path):
    app = create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": url,
            "LMS_STORAGE_DIR": str(folder / "storage"),
            "LMS_SIGNING_KEY_DIR": str(folder / "keys"),
            "LMS_BASE_URL": "https://lms.example.cn",
            "TEST_SECRET_KEY_FILE": str(folder / "instance" / "secret_key"),
        }
    )
    return app


@pytest.fixture
def instances(databases, tmp_path, monkeypatch):
    """(source app, target app): the instance backed up and the one restored into, each
    with its own database, storage, key folder and secret key file."""
    # The instance's own secret key file goes into the archive (not one from the environment).
    monkeypatch.delenv("LMS_SECRET_KEY", raising=False)
    monkeypatch.setattr(
        ops, "secret_key_path", lambda: Path(current_app.config["TEST_SECRET_KEY_FILE"])
    )
    source = _make_app(databases[0], tmp_path / "src")
    target = _make_app(databases[1], tmp_path / "dst")
    secret = tmp_path / "src" / "instance" / "secret_key"
    secret.parent.mkdir(parents=True)
    secret.write_text("the-instance-secret-key")
    secret.chmod(0o600)
    with source.app_context():
        upgrade()  # a real schema with its alembic revision, as `flask db upgrade` makes it
    yield source, target
    for app in (source, target):
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(instances):
    """The suite's factories (create_user, create_course …) build the world in the source."""
    return instances[0]


@pytest.fixture
def world(app, create_firm, create_user, create_course):
    """Three certified workers of one consortium (signed PDFs) and their firm admin."""
    firm = create_firm()
    course = create_course(firm, quiz=False, lessons=1)
    admin = create_user(role="firm_admin", firm=firm)
    workers = [create_user(role="worker", firm=firm, name=n) for n in ("张三丰", "李四", "王五")]
    with app.test_request_context():
        version = db.session.get(Course, course.id).versions[-1]
        for worker in workers:
            enrollment, _ = learning.enroll(db.session.get(User, worker.id), version)
            for lesson in version.lessons:
                learning.record_progress(enrollment, lesson, percent=100)
            db.session.commit()
        ids = db.session.scalars(sa.select(Certificate.id)).all()
        for cert_id in ids:  # made by the render task already, else now
            service.ensure_pdf(cert_id)
        certificates = db.session.scalars(select_certificates()).all()
        assert len(certificates) == 3 and all(c.signing_fingerprint for c in certificates)
    return firm, admin, workers


def select_certificates():
    return sa.select(Certificate).order_by(Certificate.serial)


def snapshot(app) -> dict:
    """What must survive: row counts, each certificate's PDF hash and stored fingerprint."""
    with app.app_context():
        with db.engine.connect() as connection:
            counts = ops.row_counts(connection)
        certificates = {
            c.serial: {
                "code": c.public_code,
                "public_id": c.public_id,
                "pdf": c.pdf_path,
                "sha256": c.pdf_sha256,
                "fingerprint": c.signing_fingerprint,
                "stored": hashlib.sha256(
                    (Path(app.config["LMS_STORAGE_DIR"]) / c.pdf_path).read_bytes()
                ).hexdigest(),
            }
            for c in db.session.scalars(select_certificates())
        }
    return {"counts": counts, "certificates": certificates}


def signer_fingerprint(pdf: bytes) -> str:
    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    return hashlib.sha256(signature.signer_cert.dump()).hexdigest().upper()


def wipe(app, folder: Path) -> None:
    """The source instance is gone: database emptied, storage, keys and secret key deleted."""
    with app.app_context():
        db.session.remove()
        db.drop_all()
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        db.engine.dispose()
    shutil.rmtree(folder)


def test_backup_wipe_restore_gives_back_the_same_world(app, instances, world, tmp_path, pdfs):
    source, target = instances
    before = snapshot(source)
    archive = tmp_path / "backups" / "lms.tar.gz"
    result = source.test_cli_runner().invoke(args=["ops", "backup", str(archive)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["database"] == database_kind()
    assert manifest["row_counts"] == before["counts"]
    with source.app_context():
        assert manifest["alembic_revision"] in ops.known_revisions()[1]  # the head
    assert set(manifest["members"]) == names - {"manifest.json"}
    assert {f"storage/{c['pdf']}" for c in before["certificates"].values()} <= names
    assert "secret_key" in names and any(n.startswith("keys/consortium-") for n in names)
    wipe(source, tmp_path / "src")

    result = target.test_cli_runner().invoke(args=["ops", "restore", str(archive)])
    assert result.exit_code == 0, result.output
    for table, count in before["counts"].items():
        assert f"  {table}: {count}\n" in result.output  # the counts it restored, printed
    after = snapshot(target)
    assert after["counts"] == before["counts"]
    assert after["counts"]["certificates"] == 3 and after["counts"]["users"] == 4
    assert after["certificates"] == before["certificates"]
    for cert in after["certificates"].values():
        assert cert["stored"] == cert["sha256"]  # every PDF, byte for byte

    keys = Path(target.config["LMS_SIGNING_KEY_DIR"])
    (key,) = keys.iterdir()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    secret = tmp_path / "dst" / "instance" / "secret_key"
    assert secret.read_text() == "the-instance-secret-key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600

    # The verification page shows the fingerprint of the key that signed each restored PDF.
    client = target.test_client()
    with target.app_context():
        limiter.reset()
    for cert in after["certificates"].values():
        pdf = (Path(target.config["LMS_STORAGE_DIR"]) / cert["pdf"]).read_bytes()
        signer = signer_fingerprint(pdf)
        assert signer == cert["fingerprint"]
        page = client.get(f"/verify/{cert['code']}", headers={"Accept-Language": "en"})
        assert signing.format_fingerprint(signer) in page.get_data(as_text=True)
        assert "key rotated" not in page.get_data(as_text=True)
        data = client.get(f"/verify/{cert['code']}.json").get_json()
        assert data["signing_fingerprint"] == signing.format_fingerprint(signer)
        assert data["key_rotated"] is False
    check = target.test_cli_runner().invoke(args=["ops", "check"])
    assert check.exit_code == 0, check.output

    # A key replaced by hand (rotated): the page keeps showing the key that signed the PDF,
    # and says that the consortium's current key is another one.
    original = key.read_bytes()
    key.unlink()
    signing.create_key_file(key, name="Rotated", code="NEW")
    page = client.get(f"/verify/{cert['code']}", headers={"Accept-Language": "en"})
    assert signing.format_fingerprint(signer) in page.get_data(as_text=True)
    assert "key rotated" in page.get_data(as_text=True)
    assert client.get(f"/verify/{cert['code']}.json").get_json()["key_rotated"] is True
    check = target.test_cli_runner().invoke(args=["ops", "check"])
    assert check.exit_code == 0 and "signed by another key" in check.output, check.output

    # A second restore over the now non-empty database wants --yes, and changes nothing.
    again = target.test_cli_runner().invoke(args=["ops", "restore", str(archive)])
    assert again.exit_code != 0 and "--yes" in again.output
    assert snapshot(target) == after
    again = target.test_cli_runner().invoke(args=["ops", "restore", "--yes", str(archive)])
    assert again.exit_code == 0, again.output
    assert snapshot(target) == after
    assert key.read_bytes() == original  # the archive's key replaced the rotated one


def test_a_restore_without_the_keys_never_makes_a_new_key(
    app, instances, world, tmp_path, pdfs, login
):
    source, target = instances
    firm, admin, workers = world
    archive = tmp_path / "lms.tar.gz"
    with source.app_context():
        ops.backup(archive, say=lambda line: None)
    wipe(source, tmp_path / "src")
    with target.app_context():
        ops.restore(archive, say=lambda line: None)
    keys = Path(target.config["LMS_SIGNING_KEY_DIR"])
    shutil.rmtree(keys)  # the key folder was not kept
    storage = Path(target.config["LMS_STORAGE_DIR"])
    shutil.rmtree(storage / "certificates")  # nor the PDFs: each must be rendered again

    with target.test_request_context(headers={"Accept-Language": "en"}):
        cert = db.session.scalars(select_certificates()).first()
        stored = cert.signing_fingerprint
        with pytest.raises(signing.MissingKeyError) as refused:
            service.ensure_pdf(cert.id)
        assert "Restore the key folder from the backup" in str(refused.value.message)
        db.session.rollback()
        assert db.session.get(Certificate, cert.id).signing_fingerprint == stored
    assert not keys.exists()  # no new key file appeared

    # The holder's download says so (translated, 503) instead of a PDF signed by another key;
    # the app keeps working.
    client = target.test_client()
    with target.app_context():
        limiter.reset()
        public_id = db.session.get(Certificate, cert.id).public_id
        holder = db.session.get(User, cert.user_id)
        holder.locale = "en"  # the message below is checked in English
        db.session.commit()
        db.session.refresh(holder)
        db.session.expunge(holder)
    login(holder, c=client)
    response = client.get(f"/certificates/{public_id}.pdf", headers={"Accept-Language": "en"})
    assert response.status_code == 503
    assert "signing key" in response.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200
    assert not keys.exists()
    page = client.get(f"/verify/{snapshot_code(target, cert.id)}")
    assert signing.format_fingerprint(stored) in page.get_data(as_text=True)

    check = target.test_cli_runner().invoke(args=["ops", "check"])
    assert check.exit_code == 1
    assert "is missing" in check.output and "restore it from the backup" in check.output

    # With the key folder back, rendering signs with the original key again.
    with target.app_context():
        ops.restore(archive, yes=True, say=lambda line: None)
    shutil.rmtree(storage / "certificates")
    with target.test_request_context():
        cert = service.ensure_pdf(cert.id)
        assert signer_fingerprint((storage / cert.pdf_path).read_bytes()) == stored
        assert cert.signing_fingerprint == stored


def snapshot_code(app, cert_id: int) -> str:
    with app.app_context():
        return db.session.get(Certificate, cert_id).public_code


def _rewrite(archive: Path, out: Path, change) -> None:
    """A copy of the archive with `change(name, data) -> data` applied to every member."""
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = change(member.name, src.extractfile(member).read())
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))


def test_damaged_newer_or_foreign_archives_are_refused(app, instances, tmp_path, create_firm):
    source, target = instances
    create_firm()
    archive = tmp_path / "lms.tar.gz"
    with source.app_context():
        ops.backup(archive, say=lambda line: None)
        counts = _counts()

    def flip(name, data):
        return data[:-1] + bytes([data[-1] ^ 1]) if name.startswith("database/") else data

    def newer(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["alembic_revision"] = "ffffffffffff"
        return json.dumps(manifest).encode()

    _rewrite(archive, tmp_path / "flipped.tar.gz", flip)
    _rewrite(archive, tmp_path / "newer.tar.gz", newer)
    (tmp_path / "truncated.tar.gz").write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    expected = {
        "flipped.tar.gz": "SHA-256 mismatch in database/",
        "newer.tar.gz": "newer than this code knows",
        "truncated.tar.gz": "damaged or not a backup archive",
    }
    for name, message in expected.items():
        result = target.test_cli_runner().invoke(args=["ops", "restore", str(tmp_path / name)])
        assert result.exit_code != 0 and message in result.output, (name, result.output)
    with target.app_context():
        assert sum(_counts().values()) == 0  # nothing was restored
    # The archive itself is fine.
    with target.app_context():
        ops.restore(archive, say=lambda line: None)
        assert _counts() == counts


def _counts() -> dict:
    with db.engine.connect() as connection:
        return ops.row_counts(connection)
