"""Every certificates route, for every kind of caller (as tests/test_access_matrix.py): guest,
worker of another firm, member without the permission, member with it, consortium admin, and
an admin of another consortium (404: out of scope). The public verification and Open Badges
routes answer everyone."""

from __future__ import annotations

import pytest

from tests.access import LOGIN, PERSONAS, assert_every_route_has_a_row, check_access

PUBLIC = 200  # @public: everyone
ADMIN = 200  # report.view / certificate.manage: derived from the declaration

C = "/consortia/{consortium}"

# endpoint: (method, url, who is "member with the permission", expected statuses in the
# order of PERSONAS). Placeholders are filled from the world below; "member_without" is a
# worker of the certificate's firm who doesn't hold it.
CERTIFICATES_MATRIX = {
    "certificates.verify_lookup": ("GET", "/verify", "firm_admin", PUBLIC),
    "certificates.verify": ("GET", "/verify/{public_code}", "firm_admin", PUBLIC),
    "certificates.verify_json": ("GET", "/verify/{public_code}.json", "firm_admin", PUBLIC),
    "certificates.badge_assertion": (
        "GET",
        "/badges/assertions/{badge_code}",
        "firm_admin",
        PUBLIC,
    ),
    "certificates.badge_class": (
        "GET",
        "/badges/classes/{consortium_code}/{slug}",
        "firm_admin",
        PUBLIC,
    ),
    "certificates.badge_image": (
        "GET",
        "/badges/classes/{consortium_code}/{slug}/image.svg",
        "firm_admin",
        PUBLIC,
    ),
    "certificates.badge_issuer": ("GET", "/badges/issuers/{consortium}", "firm_admin", PUBLIC),
    "certificates.my_certificates": ("GET", "/certificates", "holder", 200),
    # the holder, report.view on the certificate's firm or on its consortium; others 404
    "certificates.download": (
        "GET",
        "/certificates/{certificate}.pdf",
        "firm_admin",
        (LOGIN, 404, 404, 200, 200, 404),
    ),
    "certificates.firm_certificates": ("GET", "/firms/{firm}/certificates", "firm_admin", ADMIN),
    "certificates.consortium_certificates": (
        "GET",
        C + "/certificates",
        "consortium_admin",
        ADMIN,
    ),
    "certificates.revoke": (
        "GET",
        C + "/certificates/{certificate}/revoke",
        "consortium_admin",
        ADMIN,
    ),
    "certificates.bulk": ("GET", C + "/certificates/bulk", "consortium_admin", ADMIN),
    # only the job's starter (the consortium admin here); anyone else 404
    "certificates.bulk_zip": (
        "GET",
        "/jobs/{job}/certificates.zip",
        "consortium_admin",
        (LOGIN, 404, 404, 200, 200, 404),
    ),
    # trainers of the course's firm (already issued: a flash and back to the learners page)
    "certificates.trainer_issue": (
        "POST",
        "/courses/{slug}/learners/{enrollment}/certificate",
        "trainer",
        302,
    ),
}


def test_every_certificates_route_has_a_row(app):
    assert_every_route_has_a_row(app, "certificates.", CERTIFICATES_MATRIX)


@pytest.fixture
def matrix_world(app, create_consortium, create_firm, create_user, create_course, certify):
    consortium = create_consortium()
    firm_a = create_firm(consortium)
    firm_b = create_firm(consortium)
    elsewhere = create_consortium()
    firm_z = create_firm(elsewhere)
    people = {
        "holder": create_user(role="worker", firm=firm_a),
        "other_firm_worker": create_user(role="worker", firm=firm_b),
        "member_without": create_user(role="worker", firm=firm_a),
        "firm_admin": create_user(role="firm_admin", firm=firm_a),
        "consortium_admin": create_user(role="consortium_admin", consortium=consortium),
        "foreign_admin": create_user(role="firm_admin", firm=firm_z),
        "trainer": create_user(role="trainer", firm=firm_a),
    }
    issued = certify(people["holder"], firm_a, create_course(firm_a, quiz=False, lessons=1))
    ids = {
        "consortium": consortium.id,
        "consortium_code": issued.consortium_code,
        "firm": firm_a.id,
        "public_code": issued.public_code,
        "badge_code": issued.badge_code,
        "slug": issued.slug,
        "certificate": issued.public_id,
        **_bulk_ids(app, issued, people["consortium_admin"], consortium),
    }
    return people, ids


def _bulk_ids(app, issued, admin, consortium) -> dict:
    """A finished bulk job of the consortium admin (with its ZIP) and the holder's enrolment."""
    from lms.certificates.bulk import KIND, zip_key
    from lms.core.storage import storage
    from lms.core.types import utcnow
    from lms.extensions import db
    from lms.jobs.models import Job
    from lms.learning.models import Enrollment

    with app.app_context():
        job = Job(kind=KIND, consortium_id=consortium.id, created_by_id=admin.id, state="done")
        db.session.add(job)
        db.session.flush()
        job.finished_at, job.result = utcnow(), {"zip": zip_key(job)}
        storage().save(zip_key(job), b"PK\x05\x06" + b"\0" * 18)
        db.session.commit()
        return {
            "job": job.public_id,
            "enrollment": db.session.get(Enrollment, issued.enrollment_id).public_id,
        }


@pytest.mark.parametrize("endpoint", sorted(CERTIFICATES_MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_access(endpoint, persona, matrix_world, client, login):
    check_access(CERTIFICATES_MATRIX[endpoint], persona, *matrix_world, client, login)
