"""Every skills-taxonomy and job-role route, for every kind of caller (as
tests/test_access_matrix.py): guest, worker of another firm, member without the permission,
member with it, consortium admin, and an admin of another consortium (404: out of scope)."""

from __future__ import annotations

import pytest

from lms.extensions import db
from lms.taxonomy.models import Skill, SkillCategory
from tests.access import PERSONAS, assert_every_route_has_a_row, check_access

MANAGE = 200  # taxonomy.manage / role.manage (derived)
MANAGE_302 = 302

C = "/consortia/{consortium}"
F = "/firms/{firm}"

# endpoint: (method, url, who is "member with the permission", expected statuses in the
# order of PERSONAS). Placeholders are filled from the world below.
TAXONOMY_MATRIX = {
    "taxonomy.skills": ("GET", C + "/skills", "consortium_admin", MANAGE),
    "taxonomy.new_skill": ("GET", C + "/skills/new", "consortium_admin", MANAGE),
    "taxonomy.edit_skill": ("GET", C + "/skills/{own_skill}/edit", "consortium_admin", MANAGE),
    "taxonomy.consortium_roles": ("GET", C + "/roles", "consortium_admin", MANAGE),
    "taxonomy.new_consortium_role": ("GET", C + "/roles/new", "consortium_admin", MANAGE),
    "taxonomy.consortium_role": ("GET", C + "/roles/{shared_role}", "consortium_admin", MANAGE),
    "taxonomy.edit_consortium_role": (
        "GET",
        C + "/roles/{consortium_role}/edit",
        "consortium_admin",
        MANAGE,
    ),
    "taxonomy.deactivate_consortium_role": (
        "GET",
        C + "/roles/{consortium_role}/deactivate",
        "consortium_admin",
        MANAGE,
    ),
    "taxonomy.activate_consortium_role": (
        "POST",
        C + "/roles/{consortium_role}/activate",
        "consortium_admin",
        MANAGE_302,
    ),
    "taxonomy.copy_role": ("GET", C + "/roles/{shared_role}/copy", "consortium_admin", MANAGE),
    # role.manage on the firm: its firm admins, and the consortium's admins on each firm.
    "taxonomy.firm_roles": ("GET", F + "/roles", "firm_admin", MANAGE),
    "taxonomy.new_firm_role": ("GET", F + "/roles/new", "firm_admin", MANAGE),
    "taxonomy.firm_role": ("GET", F + "/roles/{firm_role}", "firm_admin", MANAGE),
    "taxonomy.edit_firm_role": ("GET", F + "/roles/{firm_role}/edit", "firm_admin", MANAGE),
    "taxonomy.deactivate_firm_role": (
        "GET",
        F + "/roles/{firm_role}/deactivate",
        "firm_admin",
        MANAGE,
    ),
    "taxonomy.activate_firm_role": (
        "POST",
        F + "/roles/{firm_role}/activate",
        "firm_admin",
        MANAGE_302,
    ),
}


def test_every_taxonomy_route_has_a_row(app):
    assert_every_route_has_a_row(app, "taxonomy.", TAXONOMY_MATRIX)


@pytest.fixture
def matrix_world(app, create_consortium, create_firm, create_user, create_role):
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
        "foreign_admin": create_user(role="firm_admin", firm=firm_z),
    }
    with app.app_context():
        db.session.add(SkillCategory(id="m_cat", name_zh="类别", name_en="Category"))
        db.session.add(
            Skill(
                id="m_own",
                category_id="m_cat",
                consortium_id=consortium.id,
                name_zh="本联合体技能",
                name_en="Own skill",
            )
        )
        db.session.commit()
    create_role("m_shared", {"m_own_shared": 2})
    create_role("m_consortium", {"m_own_shared": 3}, consortium=consortium)
    create_role("m_firm", {"m_own_shared": 1}, firm=firm_a)
    ids = {
        "consortium": consortium.id,
        "firm": firm_a.id,
        "own_skill": "m_own",
        "shared_role": "m_shared",
        "consortium_role": "m_consortium",
        "firm_role": "m_firm",
    }
    return people, ids


@pytest.mark.parametrize("endpoint", sorted(TAXONOMY_MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_access(endpoint, persona, matrix_world, client, login):
    check_access(TAXONOMY_MATRIX[endpoint], persona, *matrix_world, client, login)
