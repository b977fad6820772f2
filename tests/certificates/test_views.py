"""Verification page and JSON, Open Badges, a firm's and a consortium's certificate lists,
revocation, CSV export and PDF downloads."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from lms.audit.models import AuditRecord
from lms.certificates.codes import format_code
from lms.certificates.models import Certificate
from lms.extensions import db
from tests.certificates.conftest import set_dates, without_csrf


def _get(client, url):
    """GET and close (a file response holds its file open until closed)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


# --- verification ---------------------------------------------------------------------------


def test_verify_valid_shows_masked_name_only(client, two_firms):
    _c, _a, _b, _people, certs = two_firms
    serial, code = certs["a1"].serial, certs["a1"].public_code
    page = client.get(f"/verify/{code}").get_data(as_text=True)
    assert "张*丰" in page and "张三丰" not in page
    assert serial in page and "安全生产培训" in page
    assert format_code(code) in page
    assert f"/verify/{code}.json" in page
    assert f"/badges/assertions/{certs['a1'].badge_code}" in page
    data = client.get(f"/verify/{code}.json").get_json()
    assert data == {
        "serial": serial,
        "status": "valid",
        "holder": "张*丰",
        "course": "安全生产培训",
        "completed_on": datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat(),  # the day there
        "expires_on": None,
        "revoked_on": None,
        "issuer": data["issuer"],
        # The key that signed its PDF (tests/certificates/test_signing.py checks the value).
        "signing_fingerprint": data["signing_fingerprint"],
        "key_rotated": False,
    }
    assert data["signing_fingerprint"] and data["signing_fingerprint"] in page
    assert data["issuer"].startswith("Consortium ")
    assert "张三丰" not in client.get(f"/verify/{code}.json").get_data(as_text=True)


def test_the_code_is_read_as_people_type_it(client, two_firms):
    code = two_firms[4]["a1"].public_code
    for typed in (format_code(code), code.lower(), code.replace("0", "o").replace("1", "l")):
        assert client.get(f"/verify/{typed}").status_code == 200, typed


def test_verify_expired_and_revoked(app, client, login, two_firms):
    _c, _a, _b, people, certs = two_firms
    with app.app_context():
        set_dates(certs["a2"].id, expires_on=date.today() - timedelta(days=3))
    page = client.get(f"/verify/{certs['a2'].public_code}").get_data(as_text=True)
    assert "Expired on" in page or "过期" in page
    assert client.get(f"/verify/{certs['a2'].public_code}.json").get_json()["status"] == "expired"
    login(people["consortium_admin"])
    consortium = _c
    client.post(
        f"/consortia/{consortium.id}/certificates/{certs['b1'].public_id}/revoke",
        data={"reason": "考试作弊"},
    )
    client.post("/logout")
    page = client.get(f"/verify/{certs['b1'].public_code}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    with app.app_context():
        revoked_at = db.session.get(Certificate, certs["b1"].id).revoked_at
    assert ("Revoked on" in text or "撤销" in text) and "考试作弊" not in text  # no reason public
    assert str(revoked_at.year) in text
    data = client.get(f"/verify/{certs['b1'].public_code}.json").get_json()
    revoked_on = revoked_at.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert data["status"] == "revoked" and data["revoked_on"] == revoked_on  # the day there
    assert data["holder"] == "王*"


def test_codes_that_open_nothing_all_get_the_same_404_page(client, two_firms):
    code = two_firms[4]["a1"].public_code
    candidates = [
        "0" * 12 if code != "0" * 12 else "1" * 12,  # well formed, never issued
        code[:-1] + ("0" if code[-1] != "0" else "1"),  # one character off a real one
        code[:-1],  # too short
        "not-a-code",  # malformed
        "<img src=x onerror=alert(1)>",  # nothing of the request is echoed
    ]
    bodies = set()
    for candidate in candidates:
        response = client.get(f"/verify/{candidate}")
        assert response.status_code == 404, candidate
        bodies.add(without_csrf(response.get_data(as_text=True)))
        as_json = client.get(f"/verify/{candidate}.json")
        assert as_json.status_code == 404 and as_json.get_json() == {"status": "not_found"}
    assert len(bodies) == 1
    assert "onerror" not in bodies.pop()


def test_verify_is_rate_limited(client, two_firms):
    code = two_firms[4]["a1"].public_code
    statuses = [client.get(f"/verify/{code}").status_code for _ in range(30)]
    assert set(statuses) == {200}
    # the page, the JSON, the form and the badges share one budget per address
    assert client.get(f"/verify/{code}.json").status_code == 429
    assert client.post("/verify", data={"serial": "x", "code": "y"}).status_code == 429
    assert client.get(f"/badges/assertions/{two_firms[4]['a1'].badge_code}").status_code == 429


# --- Open Badges ------------------------------------------------------------------------------


def test_open_badges_assertion_class_and_issuer(app, client, login, two_firms):
    consortium, _a, _b, people, certs = two_firms
    cert = certs["a1"]
    response = client.get(f"/badges/assertions/{cert.badge_code}")
    assert response.status_code == 200 and response.mimetype == "application/ld+json"
    assertion = response.get_json()
    assert assertion["@context"] == "https://w3id.org/openbadges/v2"
    assert assertion["type"] == "Assertion"
    assert assertion["id"] == f"http://localhost/badges/assertions/{cert.badge_code}"
    assert assertion["verification"] == {"type": "HostedBadge"}
    recipient = assertion["recipient"]
    assert recipient["type"] == "email" and recipient["hashed"] is True
    import hashlib

    with app.app_context():
        from lms.auth.models import User

        email = db.session.get(User, people["a1"].id).email
    expected = hashlib.sha256((email.lower() + recipient["salt"]).encode()).hexdigest()
    assert recipient["identity"] == f"sha256${expected}"
    body = response.get_data(as_text=True)
    assert email not in body and "张三丰" not in body and people["a1"].mobile not in body
    assert "revoked" not in assertion and "expires" not in assertion
    assert assertion["issuedOn"].startswith(date.today().isoformat()[:4])

    badge = client.get(assertion["badge"].removeprefix("http://localhost"))
    assert badge.status_code == 200
    badge_class = badge.get_json()
    assert badge_class["type"] == "BadgeClass" and badge_class["id"] == assertion["badge"]
    assert badge_class["name"] == "安全生产培训"
    assert badge_class["description"]
    assert badge_class["criteria"]["narrative"]
    assert isinstance(badge_class["tags"], list)
    image = client.get(badge_class["image"].removeprefix("http://localhost"))
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"
    assert "安全生产培训" in image.get_data(as_text=True)

    issuer = client.get(badge_class["issuer"].removeprefix("http://localhost")).get_json()
    assert issuer["type"] == "Issuer" and issuer["id"] == badge_class["issuer"]
    assert issuer["name"] == consortium.name and issuer["url"].startswith("http")

    # revoked: the hosted assertion answers 410 Gone with the revocation (Open Badges 2.0);
    # its reason is the public one, as on the verification page, not the admin's words
    login(people["consortium_admin"])
    client.post(
        f"/consortia/{consortium.id}/certificates/{cert.public_id}/revoke",
        data={"reason": "信息有误"},
    )
    gone = client.get(f"/badges/assertions/{cert.badge_code}")
    assert gone.status_code == 410
    revoked = gone.get_json()
    assert revoked["id"] == assertion["id"] and revoked["revoked"] is True
    assert revoked["revocationReason"] and "信息有误" not in gone.get_data(as_text=True)

    for url in (
        "/badges/assertions/nope",
        f"/badges/classes/{consortium.code}/no-such-course",
        "/badges/issuers/999999",
    ):
        missing = client.get(url)
        assert missing.status_code == 404 and missing.get_json() == {"status": "not_found"}


def test_badge_expiry_and_the_url_recipient_without_an_email(
    app, client, create_firm, create_user, certify
):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm, email=None)
    cert = certify(worker, firm, months=12)
    assertion = client.get(f"/badges/assertions/{cert.badge_code}").get_json()
    assert assertion["recipient"] == {
        "type": "url",
        "hashed": False,
        "identity": f"http://localhost/verify/{cert.public_code}",
    }
    assert assertion["evidence"] == assertion["recipient"]["identity"]
    assert assertion["expires"].startswith(str(date.today().year + 1))


# --- the worker's own -------------------------------------------------------------------------


def test_worker_sees_and_downloads_own_certificate_only(client, login, two_firms):
    _c, _a, _b, people, certs = two_firms
    login(people["a1"])
    page = client.get("/certificates").get_data(as_text=True)
    assert certs["a1"].serial in page and certs["a2"].serial not in page
    assert f"/badges/assertions/{certs['a1'].badge_code}" in page
    pdf = _get(client, f"/certificates/{certs['a1'].public_id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert _get(client, f"/certificates/{certs['a2'].public_id}.pdf").status_code == 404
    assert _get(client, "/certificates/nope.pdf").status_code == 404


def test_worker_without_certificates_sees_the_empty_state(client, login, create_user, create_firm):
    login(create_user(role="worker", firm=create_firm()))
    page = client.get("/certificates").get_data(as_text=True)
    assert "/learn" in page


# --- the firm admin ---------------------------------------------------------------------------


def test_firm_admin_sees_only_their_firm(client, login, two_firms):
    _c, firm_a, firm_b, people, certs = two_firms
    login(people["firm_admin_a"])
    page = client.get(f"/firms/{firm_a.id}/certificates").get_data(as_text=True)
    assert page.count("/verify/") == 2
    assert certs["a1"].serial in page and certs["a2"].serial in page
    assert certs["b1"].serial not in page
    assert "张三丰" in page and "李四" in page and "王五" not in page  # their own workers
    assert people["a1"].mobile not in page  # mobiles masked
    assert client.get(f"/firms/{firm_b.id}/certificates").status_code == 404
    assert _get(client, f"/certificates/{certs['a2'].public_id}.pdf").data.startswith(b"%PDF")
    assert _get(client, f"/certificates/{certs['b1'].public_id}.pdf").status_code == 404
    # search and status filter
    search = client.get(f"/firms/{firm_a.id}/certificates?q={certs['a2'].serial}")
    text = search.get_data(as_text=True)
    assert certs["a2"].serial in text and certs["a1"].serial not in text
    by_course = client.get(f"/firms/{firm_a.id}/certificates?q=安全生产").get_data(as_text=True)
    assert by_course.count("/verify/") == 2
    revoked = client.get(f"/firms/{firm_a.id}/certificates?status=revoked")
    assert "/verify/" not in revoked.get_data(as_text=True)
    valid = client.get(f"/firms/{firm_a.id}/certificates?status=valid").get_data(as_text=True)
    assert valid.count("/verify/") == 2


def test_firm_list_is_paginated(app, client, login, two_firms):
    _c, firm_a, _b, people, _certs = two_firms
    login(people["firm_admin_a"])
    app.config["LMS_PAGE_SIZE"], size = 1, app.config["LMS_PAGE_SIZE"]
    try:
        first = client.get(f"/firms/{firm_a.id}/certificates").get_data(as_text=True)
        second = client.get(f"/firms/{firm_a.id}/certificates?page=2").get_data(as_text=True)
    finally:
        app.config["LMS_PAGE_SIZE"] = size
    assert first.count("/verify/") == 1 and second.count("/verify/") == 1
    assert "page=2" in first


# --- the consortium admin -------------------------------------------------------------------


def test_consortium_admin_lists_filters_and_exports(app, client, login, two_firms):
    consortium, firm_a, firm_b, people, certs = two_firms
    with app.app_context():
        set_dates(certs["a2"].id, expires_on=date.today() - timedelta(days=1))
    login(people["consortium_admin"])
    url = f"/consortia/{consortium.id}/certificates"
    page = client.get(url).get_data(as_text=True)
    assert page.count("/verify/") == 3
    only_b = client.get(f"{url}?firm={firm_b.id}").get_data(as_text=True)
    assert only_b.count("/verify/") == 1 and certs["b1"].serial in only_b
    expired = client.get(f"{url}?status=expired").get_data(as_text=True)
    assert expired.count("/verify/") == 1 and certs["a2"].serial in expired
    assert _get(client, f"/certificates/{certs['b1'].public_id}.pdf").data.startswith(b"%PDF")

    response = client.get(f"{url}?format=csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 4
    by_serial = {r[0]: r for r in rows[1:]}
    assert set(by_serial) == {c.serial for c in certs.values()}
    a1 = by_serial[certs["a1"].serial]
    assert (
        a1[1] == "张三丰"
        and a1[2] != people["a1"].mobile
        and a1[2].endswith(people["a1"].mobile[-4:])
    )
    assert a1[3] == firm_a.name and a1[4] == "安全生产培训"
    assert by_serial[certs["b1"].serial][3] == firm_b.name
    filtered = client.get(f"{url}?format=csv&firm={firm_b.id}").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(filtered.lstrip("\ufeff"))))) == 2


def test_revoke_through_the_confirmation_page(app, client, login, two_firms):
    consortium, _a, _b, people, certs = two_firms
    login(people["consortium_admin"])
    url = f"/consortia/{consortium.id}/certificates/{certs['a1'].public_id}/revoke"
    page = client.get(url)
    assert page.status_code == 200
    assert certs["a1"].serial in page.get_data(as_text=True)
    assert 'name="reason"' in page.get_data(as_text=True)

    empty = client.post(url, data={"reason": "   "})
    assert empty.status_code == 200 and 'class="error"' in empty.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Certificate, certs["a1"].id).revoked_at is None

    done = client.post(url, data={"reason": "冒名顶替"})
    assert done.status_code == 302
    again = client.post(url, data={"reason": "第二次"})  # a double submit
    assert again.status_code == 302
    with app.app_context():
        cert = db.session.get(Certificate, certs["a1"].id)
        assert cert.revoked_at is not None and cert.revoke_reason == "冒名顶替"
        assert cert.revoked_by_id == people["consortium_admin"].id
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditRecord)
                .where(AuditRecord.action == "certificate.revoke")
            )
            == 1
        )
    listing = client.get(f"/consortia/{consortium.id}/certificates?status=revoked")
    text = listing.get_data(as_text=True)
    assert text.count("/verify/") == 1 and "冒名顶替" in text
    assert f"{url}" not in text  # no second revoke link
    # an admin of another consortium, or a firm admin, can't reach it
    client.post("/logout")
    login(people["firm_admin_a"])
    assert client.get(url).status_code == 404
    other = client.get(f"/consortia/{consortium.id}/certificates/{certs['a2'].public_id}/revoke")
    assert other.status_code == 404


def test_revoke_of_another_consortiums_certificate_is_404(
    client, login, two_firms, create_consortium, create_user
):
    consortium, _a, _b, _people, certs = two_firms
    elsewhere = create_consortium()
    admin = create_user(role="consortium_admin", consortium=elsewhere)
    login(admin)
    url = f"/consortia/{elsewhere.id}/certificates/{certs['a1'].public_id}/revoke"
    assert client.get(url).status_code == 404
    assert client.get(f"/consortia/{consortium.id}/certificates").status_code == 404
    assert _get(client, f"/certificates/{certs['a1'].public_id}.pdf").status_code == 404


def test_a_holder_who_left_the_firm_still_downloads_but_its_admin_no_longer_can(
    app, client, login, two_firms
):
    from lms.tenancy.models import Membership

    _c, _a, _b, people, certs = two_firms
    with app.app_context():
        for m in db.session.scalars(
            db.select(Membership).where(Membership.user_id == people["a1"].id)
        ):
            m.ends_on = date.today()  # left the firm (and the consortium) today
        db.session.commit()
    login(people["a1"])
    response = _get(client, f"/certificates/{certs['a1'].public_id}.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    other = app.test_client()
    login(people["firm_admin_b"], c=other)  # an admin of another firm of the consortium
    assert _get(other, f"/certificates/{certs['a1'].public_id}.pdf").status_code == 404
