"""Every certificate-design route, for every kind of caller (as tests/test_access_matrix.py):
guest, worker of another firm, member without the permission (a worker and, separately, a firm
admin of the consortium's firm), member with it (certificate.manage: consortium admins), a
consortium admin, and an admin of another consortium (404: out of scope)."""

from __future__ import annotations

import pytest

from lms.certificates import designs
from lms.extensions import db
from lms.tenancy.models import Consortium
from tests.access import PERSONAS, assert_every_route_has_a_row, check_access

MANAGE = 200  # certificate.manage on the consortium (derived)

C = "/consortia/{consortium}/certificate-designs"

# endpoint: (method, url, who is "member with the permission", expected statuses in the
# order of PERSONAS). Placeholders are filled from the world below.
DESIGNS_MATRIX = {
    "certificate_designs.designs": ("GET", C, "consortium_admin", MANAGE),
    "certificate_designs.new_design": ("GET", C + "/new", "consortium_admin", MANAGE),
    "certificate_designs.edit_design": ("GET", C + "/{design}/edit", "consortium_admin", MANAGE),
    "certificate_designs.delete_design": (
        "GET",
        C + "/{design}/delete",
        "consortium_admin",
        MANAGE,
    ),
    "certificate_designs.preview": ("GET", C + "/{design}/preview.pdf", "consortium_admin", MANAGE),
    "certificate_designs.preview_default": (
        "GET",
        C + "/default/preview.pdf",
        "consortium_admin",
        MANAGE,
    ),
    "certificate_designs.course_validity": (
        "GET",
        C + "/courses/{course}/validity",
        "consortium_admin",
        MANAGE,
    ),
}


def test_every_design_route_has_a_row(app):
    assert_every_route_has_a_row(app, "certificate_designs.", DESIGNS_MATRIX)


@pytest.fixture
def matrix_world(app, create_consortium, create_firm, create_user, create_course):
    consortium = create_consortium()
    firm_a = create_firm(consortium)
    firm_b = create_firm(consortium)
    elsewhere = create_consortium()
    firm_z = create_firm(elsewhere)
    people = {
        "other_firm_worker": create_user(role="worker", firm=firm_b),
        "member_without": create_user(role="worker", firm=firm_a),
        "firm_admin": create_user(role="firm_admin", firm=firm_a),
        "consortium_admin": create_user(role="consortium_admin", consortium=consortium),
        "foreign_admin": create_user(role="consortium_admin", consortium=elsewhere),
        "foreign_firm_admin": create_user(role="firm_admin", firm=firm_z),
    }
    course = create_course(firm_a, quiz=False, lessons=1)
    with app.test_request_context():
        design = designs.create_design(
            people["consortium_admin"],
            db.session.get(Consortium, consortium.id),
            course_id=course.id,
            name="矩阵",
            texts=designs.default_texts(),
            primary_color="#123456",
            accent_color="#654321",
        )
        db.session.commit()
        ids = {"consortium": consortium.id, "design": design.id, "course": course.id}
    return people, ids


@pytest.mark.parametrize("endpoint", sorted(DESIGNS_MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_access(endpoint, persona, matrix_world, client, login):
    check_access(DESIGNS_MATRIX[endpoint], persona, *matrix_world, client, login)


@pytest.mark.parametrize("endpoint", sorted(DESIGNS_MATRIX))
@pytest.mark.parametrize("persona", ["firm_admin", "foreign_firm_admin"])
def test_firm_admins(endpoint, persona, matrix_world, client, login):
    """A firm admin of the consortium holds no certificate.manage, one of another consortium
    doesn't see it: the same 404 for both."""
    people, ids = matrix_world
    method, url, _holder, _expected = DESIGNS_MATRIX[endpoint]
    login(people[persona])
    response = client.open(url.format(**ids), method=method)
    response.close()
    assert response.status_code == 404, endpoint
