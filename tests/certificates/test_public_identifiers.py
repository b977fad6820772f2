"""What the public certificate pages give away (issue 12, hole 5): serials count up, so a serial
alone opens nothing — the verification page, its JSON, the QR code and the badges are addressed
by a random verification code printed next to the serial — and the Open Badges assertion never
carries a hash of a phone number, whose few possible values could all be hashed with the
published salt."""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import subprocess
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from lms.auth.models import User
from lms.certificates import codes, service
from lms.certificates.models import Certificate
from lms.certificates.serials import make_serial
from lms.core.storage import storage
from lms.extensions import db
from tests.certificates.conftest import without_csrf
from tests.conftest import valid_credit_code
from tests.test_migrations import _flask_db, postgres_app, sqlite_app  # noqa: F401 (fixtures)

CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def _wrong_check(serial: str) -> str:
    return serial[:-1] + ("0" if serial[-1] != "0" else "1")


def _other_code(code: str) -> str:
    return code[:-1] + ("0" if code[-1] != "0" else "1")


# --- serials open nothing -------------------------------------------------------------------


def test_every_serial_address_gives_the_same_page_and_no_name(client, two_firms):
    _c, _a, _b, _people, certs = two_firms
    real = [c.serial for c in certs.values()]
    prefix, year = real[0].split("-")[:2]
    missing = [
        make_serial(prefix, int(year), 999_999),  # well formed, never issued
        make_serial("ZZ", 1999, 1),  # another consortium, another year
        _wrong_check(real[0]),  # a real serial with a wrong check character
    ]
    pages = {}
    for serial in real + missing + [real[1].lower()]:
        response = client.get(f"/verify/{serial}")
        assert response.status_code == 200, serial
        pages[serial] = response.get_data(as_text=True)
        as_json = client.get(f"/verify/{serial}.json")
        assert as_json.status_code == 404 and as_json.get_json() == {"status": "not_found"}
    assert len({without_csrf(page) for page in pages.values()}) == 1
    page = next(iter(pages.values()))
    for secret in ("张三丰", "张*丰", "李四", "李*", "王五", "王*", "安全生产培训"):
        assert secret not in page, secret
    assert not any(serial in page for serial in real + missing)  # nothing of the path echoed
    assert 'name="serial"' in page and 'name="code"' in page  # the form asks for the code


def test_the_form_needs_serial_and_code_and_a_wrong_pair_looks_missing(client, two_firms):
    _c, _a, _b, _people, certs = two_firms
    a1, a2 = certs["a1"], certs["a2"]
    prefix, year = a1.serial.split("-")[:2]
    never = make_serial(prefix, int(year), 999_999)
    tries = [
        (a1.serial, _other_code(a1.public_code)),  # a real serial, a wrong code
        (a1.serial, a2.public_code),  # a real serial with another certificate's code
        (never, a1.public_code),  # a real code with a serial never issued
        (never, _other_code(a1.public_code)),  # neither
        (a1.serial, "not a code"),
    ]
    bodies = set()
    for serial, code in tries:
        response = client.post("/verify", data={"serial": serial, "code": code})
        assert response.status_code == 404, (serial, code)
        body = without_csrf(response.get_data(as_text=True))
        assert "张*丰" not in body and "安全生产培训" not in body
        # the form keeps what was typed; apart from that, every miss is the same page
        bodies.add(body.replace(f'value="{serial}"', "").replace(f'value="{code}"', ""))
    assert len(bodies) == 1

    found = client.post("/verify", data={"serial": a1.serial.lower(), "code": a1.public_code})
    assert found.status_code == 303
    assert found.headers["Location"].endswith(f"/verify/{a1.public_code}")
    typed = client.post(
        "/verify", data={"serial": f" {a1.serial} ", "code": codes.format_code(a1.public_code)}
    )
    assert typed.status_code == 303

    empty = client.post("/verify", data={"serial": a1.serial, "code": ""})
    assert empty.status_code == 200 and 'class="error"' in empty.get_data(as_text=True)
    assert client.get("/verify").status_code == 200


def test_a_wrong_code_is_the_same_not_found_as_a_missing_one(client, two_firms):
    code = two_firms[4]["a1"].public_code
    wrong = client.get(f"/verify/{_other_code(code)}")
    missing = client.get(f"/verify/{'0' * 12 if code != '0' * 12 else '1' * 12}")
    assert wrong.status_code == missing.status_code == 404
    assert without_csrf(wrong.get_data(as_text=True)) == without_csrf(
        missing.get_data(as_text=True)
    )


def test_the_right_code_shows_the_holder_masked_with_the_serial(client, two_firms):
    a1 = two_firms[4]["a1"]
    response = client.get(f"/verify/{a1.public_code}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "张*丰" in page and "张三丰" not in page
    assert a1.serial in page and codes.format_code(a1.public_code) in page
    assert client.get(f"/verify/{a1.public_code}.json").get_json()["serial"] == a1.serial


def test_lookups_are_rate_limited_like_every_public_page(client, two_firms):
    a1 = two_firms[4]["a1"]
    for _ in range(30):
        response = client.post("/verify", data={"serial": a1.serial, "code": "0" * 12})
        assert response.status_code == 404
    assert client.post("/verify", data={"serial": a1.serial, "code": "1" * 12}).status_code == 429
    assert client.get(f"/verify/{a1.public_code}").status_code == 429
    assert client.get(f"/verify/{a1.serial}").status_code == 429


# --- the codes ------------------------------------------------------------------------------


def test_codes_are_unguessable_in_form():
    assert len(codes.ALPHABET) == 32 and set(codes.ALPHABET) == CROCKFORD
    assert codes.LENGTH * math.log2(len(codes.ALPHABET)) >= 50
    many = [codes.new_code() for _ in range(2000)]
    assert len(set(many)) == len(many)
    assert all(len(c) == codes.LENGTH and set(c) <= CROCKFORD for c in many)
    assert set("".join(many)) == CROCKFORD  # every character is drawn
    assert codes.format_code("7K3MQ9XD2RTB") == "7K3M-Q9XD-2RTB"
    assert codes.normalize_code(" 7k3m-q9xd 2rtb ") == "7K3MQ9XD2RTB"
    assert codes.normalize_code("O1IL") == "0111"  # read as Crockford reads them


def test_issued_codes_are_stored_unique_and_unrelated_to_the_serial(
    app, create_consortium, create_firm, create_user, create_course, certify
):
    firm = create_firm(create_consortium())
    course = create_course(firm, quiz=False, lessons=1)
    issued = [certify(create_user(role="worker", firm=firm), firm, course) for _ in range(4)]
    with app.app_context():
        stored = {c.id: c for c in db.session.scalars(sa.select(Certificate))}
        for one in issued:
            cert = stored[one.id]
            assert cert.public_code == one.public_code
            assert codes.is_code(cert.public_code)
            assert cert.public_code not in cert.serial.replace("-", "")
            assert re.fullmatch(r"[0-9a-f]{32}", cert.badge_salt)
            assert service.verify_url(cert).endswith(f"/verify/{cert.public_code}")
        assert len({c.public_code for c in stored.values()}) == len(stored)
        assert len({c.badge_salt for c in stored.values()}) == len(stored)
        column = Certificate.__table__.c.public_code
        assert column.unique and not column.nullable


# --- Open Badges ----------------------------------------------------------------------------


def _hashes(text: str, salts: list[str]) -> set[str]:
    return {
        hashlib.sha256(value.encode()).hexdigest()
        for salt in [*salts, ""]
        for value in (text + salt, salt + text)
    }


@pytest.mark.parametrize("with_email", [True, False])
def test_the_assertion_carries_no_phone_number_and_no_serial(
    app, client, create_firm, create_user, certify, with_email
):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm, **({} if with_email else {"email": None}))
    issued = certify(worker, firm)
    response = client.get(f"/badges/assertions/{issued.badge_code}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assertion = response.get_json()
    with app.app_context():
        cert = db.session.get(Certificate, issued.id)
        user = db.session.get(User, worker.id)
        mobile, email, serial, cert_id = user.mobile, user.email, cert.serial, cert.id

    # no phone number, in clear or hashed with any salt the document publishes
    salts = re.findall(r'"salt":\s*"([^"]*)"', body)
    assert mobile and mobile not in body and mobile[-8:] not in body
    for phone in (mobile, f"+86{mobile}", f"86{mobile}"):
        assert not _hashes(phone, salts) & set(re.findall(r"[0-9a-f]{64}", body)), phone
    assert assertion["recipient"]["type"] in ("email", "url")

    # addressed by random codes: no serial, no sequence number, no database id
    for url in (assertion["id"], assertion["evidence"]):
        assert serial not in url and serial.split("-")[-1][:-1] not in url
        assert not re.search(rf"/{cert_id}(/|$)", url)
    assert assertion["evidence"].endswith(f"/verify/{issued.public_code}")
    assert serial not in body

    if with_email:
        recipient = assertion["recipient"]
        assert recipient["hashed"] is True and recipient["salt"] == cert.badge_salt
        digest = hashlib.sha256((email.lower() + cert.badge_salt).encode()).hexdigest()
        assert recipient["identity"] == f"sha256${digest}" and email not in body
    else:
        assert assertion["recipient"] == {
            "type": "url",
            "hashed": False,
            "identity": assertion["evidence"],
        }


def test_the_assertion_is_open_badges_2_0(client, two_firms):
    assertion = client.get(f"/badges/assertions/{two_firms[4]['a1'].badge_code}").get_json()
    assert assertion["@context"] == "https://w3id.org/openbadges/v2"
    assert assertion["type"] == "Assertion"
    for key in ("id", "recipient", "badge", "verification", "issuedOn"):
        assert key in assertion, key  # the required properties
    assert set(assertion["recipient"]) == {"type", "hashed", "salt", "identity"}
    assert isinstance(assertion["recipient"]["hashed"], bool)
    datetime.fromisoformat(assertion["issuedOn"])


# --- what links to a certificate -----------------------------------------------------------


def test_pages_link_certificates_by_code(app, client, login, two_firms):
    consortium, firm_a, _b, people, certs = two_firms
    login(people["a1"])
    mine = client.get("/certificates").get_data(as_text=True)
    assert f'/verify/{certs["a1"].public_code}"' in mine
    assert codes.format_code(certs["a1"].public_code) in mine  # the holder can share it
    transcript = client.get("/transcript").get_data(as_text=True)
    assert f'/verify/{certs["a1"].public_code}"' in transcript
    client.post("/logout")
    login(people["consortium_admin"])
    for url in (f"/firms/{firm_a.id}/certificates", f"/consortia/{consortium.id}/certificates"):
        page = client.get(url).get_data(as_text=True)
        linked = re.findall(r'href="/verify/([^"]+)"', page)
        assert linked and all(codes.is_code(code) for code in linked), linked
    assert not re.search(r"/verify/[A-Z0-9]+-\d{4}-", mine + transcript)


def _missing(message: str) -> None:
    if os.environ.get("LMS_REQUIRE_E2E") == "1":
        pytest.fail(f"{message} (LMS_REQUIRE_E2E=1: the PDF tests are required)", pytrace=False)
    pytest.skip(message)


def test_the_pdf_prints_the_code_and_its_qr_code_carries_the_code_address(
    app, create_firm, create_user, certify, tmp_path
):
    for tool in ("pdftotext", "pdftoppm"):
        if shutil.which(tool) is None:
            _missing(f"{tool} not found: install the Debian package poppler-utils")
    try:
        import zxingcpp
        from PIL import Image
    except ImportError:
        _missing("zxing-cpp is not installed: make test installs it from requirements/dev.txt")
    firm = create_firm()
    issued = certify(create_user(role="worker", firm=firm), firm)
    with app.app_context():
        cert = db.session.get(Certificate, issued.id)
        (tmp_path / "c.pdf").write_bytes(storage().read(cert.pdf_path))
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(tmp_path / "c.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert issued.serial in text and codes.format_code(issued.public_code) in text
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "150",
            "-png",
            "-singlefile",
            str(tmp_path / "c.pdf"),
            str(tmp_path / "p"),
        ],
        check=True,
        timeout=60,
    )
    with Image.open(tmp_path / "p.png") as image:
        found = [b.text for b in zxingcpp.read_barcodes(image)]
    assert found == [f"http://localhost/verify/{issued.public_code}"]


# --- the migration gives existing certificates their codes ----------------------------------

BEFORE = "6c0400000004"  # the revision before the codes


@pytest.fixture(params=["sqlite", "postgres"])
def migration_app(request):
    return request.getfixturevalue(f"{request.param}_app")


def _certificates_with_their_parents(app, count: int) -> dict[int, str]:
    """`count` certificates of a consortium, one per worker (Core inserts through the models'
    tables, so their defaults apply); returns the badge codes by id."""
    tables = db.metadata.tables
    now = datetime.now(UTC)
    with app.app_context(), db.engine.begin() as connection:

        def add(table: str, **values) -> int:
            return connection.execute(tables[table].insert().values(**values)).inserted_primary_key[
                0
            ]

        consortium = add("consortia", code="MG", name="迁移联合体", city="唐山", region="east")
        firm = add(
            "firms",
            consortium_id=consortium,
            name="迁移企业",
            kind="specialized_sme",
            credit_code=valid_credit_code(990_001),
        )
        course = add("courses", consortium_id=consortium, firm_id=firm, slug="migration")
        version = add(
            "course_versions",
            course_id=course,
            version=1,
            language="zh-CN",
            title="迁移课程",
            sector="smart-manufacturing",
            status="published",
        )
        badge_codes = {}
        for i in range(1, count + 1):
            user = add("users", name=f"工人{i}", mobile=f"1380000{i:04d}")
            enrollment = add(
                "enrollments",
                consortium_id=consortium,
                firm_id=firm,
                user_id=user,
                course_id=course,
                version_id=version,
                status="completed",
                completed_at=now,
            )
            badge_codes[
                add(
                    "certificates",
                    serial=make_serial("MG", 2026, i),
                    verification_code=f"badge-{i}",
                    consortium_id=consortium,
                    firm_id=firm,
                    user_id=user,
                    course_id=course,
                    version_id=version,
                    enrollment_id=enrollment,
                    completed_on=date(2026, 1, 1),
                )
            ] = f"badge-{i}"
        return badge_codes


def test_the_migration_gives_existing_certificates_random_codes(migration_app):
    """Certificates issued before the codes (made at the head, the codes' columns then taken
    away by going one revision down) get random ones on the way up."""
    app = migration_app
    _flask_db(app, "upgrade")
    badge_codes = _certificates_with_their_parents(app, 25)
    _flask_db(app, "downgrade", BEFORE)
    with app.app_context(), db.engine.connect() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("certificates")}
        assert "public_code" not in columns and "badge_salt" not in columns
    _flask_db(app, "upgrade")
    with app.app_context(), db.engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT id, public_code, badge_salt, verification_code FROM certificates")
        ).all()
        assert {r.id: r.verification_code for r in rows} == badge_codes  # badges kept
        assert all(codes.is_code(r.public_code) for r in rows)
        assert all(re.fullmatch(r"[0-9a-f]{32}", r.badge_salt) for r in rows)
        assert len({r.public_code for r in rows}) == len({r.badge_salt for r in rows}) == 25
        inspector = sa.inspect(connection)
        columns = {c["name"]: c for c in inspector.get_columns("certificates")}
        assert not columns["public_code"]["nullable"] and not columns["badge_salt"]["nullable"]
        unique = {
            u["name"]: u["column_names"] for u in inspector.get_unique_constraints("certificates")
        }
        assert unique["uq_certificates_public_code"] == ["public_code"]
        checks = {c["name"] for c in inspector.get_check_constraints("certificates")}
        assert "ck_certificates_source" in checks  # SQLite's table copy kept it
