"""Every notifications route, for every kind of caller (as tests/test_access_matrix.py): a
notification is its recipient's only — anyone else gets a 404."""

from __future__ import annotations

import pytest

from lms.extensions import db
from lms.notifications import service
from tests.access import LOGIN, PERSONAS, assert_every_route_has_a_row, check_access

SIGNED_IN = 200  # any signed-in caller (derived)
POSTED = 302

# endpoint: (method, url, who is "member with the permission", expected statuses in the
# order of PERSONAS); "member_with" is the notification's recipient.
NOTIFICATIONS_MATRIX = {
    "notifications.index": ("GET", "/notifications", "recipient", SIGNED_IN),
    "notifications.mark_all_read": ("POST", "/notifications/read", "recipient", POSTED),
    "notifications.preferences": ("POST", "/notifications/preferences", "recipient", POSTED),
    "notifications.open": (
        "GET",
        "/notifications/{notification}/open",
        "recipient",
        (LOGIN, 404, 404, 302, 404, 404),
    ),
    # A firm admin's one-click reminder: enrollment.assign on the firm (its admins and the
    # consortium's); another consortium's admin doesn't see the firm (404).
    "notifications.remind_overdue": ("POST", "/firms/{firm}/overdue/remind", "firm_admin", 302),
}


def test_every_notifications_route_has_a_row(app):
    assert_every_route_has_a_row(app, "notifications.", NOTIFICATIONS_MATRIX)


@pytest.fixture
def matrix_world(app, create_consortium, create_firm, create_user):
    consortium = create_consortium()
    firm_a, firm_b = create_firm(consortium), create_firm(consortium)
    firm_z = create_firm(create_consortium())
    people = {
        "recipient": create_user(role="worker", firm=firm_a),
        "other_firm_worker": create_user(role="worker", firm=firm_b),
        "member_without": create_user(role="worker", firm=firm_a),
        "consortium_admin": create_user(role="consortium_admin", consortium=consortium),
        "foreign_admin": create_user(role="firm_admin", firm=firm_z),
        "firm_admin": create_user(role="firm_admin", firm=firm_a),
    }
    with app.test_request_context():
        n = service.notify(
            people["recipient"].id,
            "certificate.issued",
            "matrix:1",
            "/certificates",
            course="安全生产",
            serial="X",
        )
        db.session.commit()
        ids = {"notification": n.public_id, "firm": firm_a.id}
    return people, ids


@pytest.mark.parametrize("endpoint", sorted(NOTIFICATIONS_MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_access(endpoint, persona, matrix_world, client, login):
    check_access(NOTIFICATIONS_MATRIX[endpoint], persona, *matrix_world, client, login)
