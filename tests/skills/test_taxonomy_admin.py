"""Editing the skills taxonomy and job roles in the browser: consortium admins add their own
skills and roles (shared ones stay read-only), firm admins keep their firm's roles; errors name
the field or row and write nothing; everything is audited."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditRecord
from lms.extensions import db
from lms.taxonomy.models import JobRole, RoleSkill, Skill, SkillCategory
from lms.taxonomy.service import roles_for
from lms.tenancy.models import Membership

# --- the world ---------------------------------------------------------------------------------


@pytest.fixture
def world(app, create_consortium, create_firm, create_user, create_role):
    consortium = create_consortium(code="TS")
    firm = create_firm(consortium)
    other_firm = create_firm(consortium)
    elsewhere = create_consortium()
    create_firm(elsewhere)
    with app.app_context():
        db.session.add_all(
            [
                SkillCategory(id="t_auto", name_zh="自动化", name_en="Automation"),
                SkillCategory(id="t_safety", name_zh="安全", name_en="Safety"),
            ]
        )
        db.session.add_all(
            [
                Skill(id="plc_basics", category_id="t_auto", name_zh="PLC基础", name_en="PLC"),
                Skill(id="robot_ops", category_id="t_auto", name_zh="机器人操作", name_en="Robots"),
                Skill(id="loto", category_id="t_safety", name_zh="上锁挂牌", name_en="Lockout"),
                Skill(
                    id="our_welding",
                    category_id="t_auto",
                    consortium_id=consortium.id,
                    name_zh="本地焊接",
                    name_en="Our welding",
                ),
                Skill(
                    id="their_skill",
                    category_id="t_auto",
                    consortium_id=elsewhere.id,
                    name_zh="他们的技能",
                    name_en="Their skill",
                ),
            ]
        )
        db.session.commit()
    en = {"locale": "en"}
    return SimpleNamespace(
        consortium=consortium,
        firm=firm,
        other_firm=other_firm,
        elsewhere=elsewhere,
        admin=create_user(role="consortium_admin", consortium=consortium, **en),
        firm_admin=create_user(role="firm_admin", firm=firm, **en),
        other_firm_admin=create_user(role="firm_admin", firm=other_firm, **en),
        foreign_admin=create_user(role="consortium_admin", consortium=elsewhere, **en),
        shared_role=create_role(
            "shared_tech",
            {"plc_basics": 3, "loto": 2},
            name_zh="共享技术员",
            name_en="Shared technician",
            occupation_code="6-31-01-03",
            occupation_edition="2022",
        ),
        consortium_role=create_role(
            "ts_operator", {"robot_ops": 2}, consortium=consortium, name_en="TS operator"
        ),
        firm_role=create_role("a_fitter", {"plc_basics": 2}, firm=firm, name_en="A fitter"),
        other_firm_role=create_role("b_fitter", {"loto": 1}, firm=other_firm, name_en="B fitter"),
        foreign_role=create_role("z_role", {"loto": 1}, consortium=elsewhere, name_en="Z role"),
    )


def _get(app, model, key):
    with app.app_context():
        row = db.session.get(model, key)
        if row is not None and isinstance(row, JobRole):
            _ = [(r.skill_id, r.level, r.position) for r in row.requirements]
        db.session.expunge_all()
        return row


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _audits(app, action: str) -> list[AuditRecord]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id)
        ).all()
        db.session.expunge_all()
        return rows


def _requirements(app, role_id: str) -> list[tuple[str, int]]:
    with app.app_context():
        rows = db.session.scalars(
            select(RoleSkill).where(RoleSkill.role_id == role_id).order_by(RoleSkill.position)
        ).all()
        return [(r.skill_id, r.level) for r in rows]


def _text(response) -> str:
    return response.get_data(as_text=True)


def skill_form(**kw) -> dict:
    data = {
        "skill_id": "our_painting",
        "category_id": "t_auto",
        "name_zh": "喷涂",
        "name_en": "Painting",
        "description_zh": "",
        "description_en": "",
    }
    data.update(kw)
    return data


def role_form(rows=(("plc_basics", "3"), ("robot_ops", "2")), total=15, **kw) -> dict:
    """A role form as the browser posts it: every row, blank ones included."""
    data = {
        "role_id": "ts_maintainer",
        "name_zh": "维修工",
        "name_en": "Maintainer",
        "occupation_code": "6-31-01-03",
        "occupation_name": "电工",
        "occupation_edition": "2022",
    }
    rows = list(rows) + [("", "")] * (total - len(rows))
    for i, (skill, level) in enumerate(rows):
        data[f"requirements-{i}-skill"] = skill
        data[f"requirements-{i}-level"] = level
    data.update(kw)
    return data


# --- skills --------------------------------------------------------------------------------------


def test_consortium_admin_adds_a_skill_of_their_own_and_it_is_audited(app, client, login, world):
    login(world.admin)
    url = f"/consortia/{world.consortium.id}/skills/new"
    assert client.get(url).status_code == 200
    response = client.post(url, data=skill_form(description_en="Spray painting"))
    assert response.status_code == 302
    skill = _get(app, Skill, "our_painting")
    assert skill.consortium_id == world.consortium.id
    assert (skill.category_id, skill.name_zh, skill.name_en) == ("t_auto", "喷涂", "Painting")
    assert skill.description_en == "Spray painting"
    [record] = _audits(app, "skill.create")
    assert (record.actor_id, record.target_id) == (world.admin.id, "our_painting")
    assert record.consortium_id == world.consortium.id
    listing = _text(client.get(response.headers["Location"]))
    assert "Painting" in listing and "our_painting" in listing


def test_an_own_skill_is_edited_but_its_id_stays(app, client, login, world):
    login(world.admin)
    url = f"/consortia/{world.consortium.id}/skills/our_welding/edit"
    page = _text(client.get(url))
    assert "our_welding" in page and 'name="skill_id"' not in page
    data = skill_form(skill_id="renamed", category_id="t_safety", name_en="Safe welding")
    assert client.post(url, data=data).status_code == 302
    skill = _get(app, Skill, "our_welding")
    assert (skill.category_id, skill.name_en) == ("t_safety", "Safe welding")
    assert _get(app, Skill, "renamed") is None
    [record] = _audits(app, "skill.update")
    assert set(record.details["changed"]) >= {"category_id", "name_en"}
    # Saving the same again changes nothing and writes no second record.
    assert client.post(url, data=data).status_code == 302
    assert len(_audits(app, "skill.update")) == 1


def test_shared_skills_are_listed_without_edit_and_editing_one_is_a_404(app, client, login, world):
    login(world.admin)
    listing = _text(client.get(f"/consortia/{world.consortium.id}/skills"))
    assert "plc_basics" in listing and "Read-only" in listing
    assert f"/consortia/{world.consortium.id}/skills/plc_basics/edit" not in listing
    assert f"/consortia/{world.consortium.id}/skills/our_welding/edit" in listing
    url = f"/consortia/{world.consortium.id}/skills/plc_basics/edit"
    assert client.get(url).status_code == 404
    assert client.post(url, data=skill_form(name_en="Hacked")).status_code == 404
    assert _get(app, Skill, "plc_basics").name_en == "PLC"
    assert _audits(app, "skill.update") == []


def test_another_consortiums_skill_is_invisible(app, client, login, world):
    login(world.admin)
    listing = _text(client.get(f"/consortia/{world.consortium.id}/skills?q=skill"))
    assert "their_skill" not in listing
    url = f"/consortia/{world.consortium.id}/skills/their_skill/edit"
    assert client.get(url).status_code == 404
    assert client.post(url, data=skill_form(name_en="Hacked")).status_code == 404
    assert _get(app, Skill, "their_skill").name_en == "Their skill"
    # Its own admins can't reach the list of ours either.
    foreign = app.test_client()
    login(world.foreign_admin, c=foreign)
    assert foreign.get(f"/consortia/{world.consortium.id}/skills").status_code == 404


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"skill_id": "Bad Id"}, "skill_id", "lower-case letters"),
        ({"skill_id": "x"}, "skill_id", "lower-case letters"),
        ({"skill_id": "plc_basics"}, "skill_id", "This id is taken"),
        ({"skill_id": "their_skill"}, "skill_id", "This id is taken"),
        ({"category_id": "nope"}, "category_id", "Choose a category"),
        ({"name_zh": "  "}, "name_zh", "Enter the Chinese name"),
        ({"name_en": "x" * 121}, "name_en", "At most 120 characters"),
    ],
)
def test_a_bad_skill_is_refused_next_to_its_field_and_nothing_is_written(
    app, client, login, world, data, field, message
):
    login(world.admin)
    before = _count(app, Skill)
    response = client.post(f"/consortia/{world.consortium.id}/skills/new", data=skill_form(**data))
    assert response.status_code == 200
    page = _text(response)
    assert re.search(rf'id="{field}-error">[^<]*{message}', page), page
    assert _count(app, Skill) == before
    assert _audits(app, "skill.create") == []


def test_skills_are_searched_filtered_by_category_and_owner(app, client, login, world):
    login(world.admin)
    base = f"/consortia/{world.consortium.id}/skills"
    page = _text(client.get(base + "?category=t_safety"))
    assert "loto" in page and "plc_basics" not in page
    page = _text(client.get(base + "?owner=ours"))
    assert "our_welding" in page and "plc_basics" not in page
    page = _text(client.get(base + "?q=robot"))
    assert "robot_ops" in page and "loto" not in page
    # Underscores are literal in the search, not wildcards.
    page = _text(client.get(base + "?q=c_b"))
    assert "plc_basics" in page and "our_welding" not in page
    page = _text(client.get(base + "?q=nothing-like-this"))
    assert "No skill matches" in page


def test_skills_are_paginated(app, client, login, world):
    app.config["LMS_PAGE_SIZE"], before = 2, app.config["LMS_PAGE_SIZE"]
    try:
        login(world.admin)
        page = _text(client.get(f"/consortia/{world.consortium.id}/skills"))
        assert "Page 1 of 2" in page and "4 skills" in page
    finally:
        app.config["LMS_PAGE_SIZE"] = before


# --- job roles: consortium admins --------------------------------------------------------------


def test_consortium_admin_creates_a_role_with_required_skills(app, client, login, world):
    login(world.admin)
    url = f"/consortia/{world.consortium.id}/roles/new"
    rows = [("plc_basics", "3"), ("", ""), ("our_welding", "4"), ("", "2")]
    response = client.post(url, data=role_form(rows=rows))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/consortia/{world.consortium.id}/roles/ts_maintainer"
    )
    role = _get(app, JobRole, "ts_maintainer")
    assert (role.consortium_id, role.firm_id, role.is_active) == (world.consortium.id, None, True)
    assert (role.occupation_code, role.occupation_name, role.occupation_edition) == (
        "6-31-01-03",
        "电工",
        "2022",
    )
    # Blank rows (even one with a level but no skill) are ignored; order is kept.
    assert _requirements(app, "ts_maintainer") == [("plc_basics", 3), ("our_welding", 4)]
    [record] = _audits(app, "role.create")
    assert record.target_id == "ts_maintainer" and record.consortium_id == world.consortium.id
    assert record.details["requirements"] == [["plc_basics", 3], ["our_welding", 4]]
    detail = _text(client.get(response.headers["Location"]))
    assert "3 · Level 3 – senior worker" in detail and "4 · Level 2 – technician" in detail
    assert "6-31-01-03" in detail and "Our consortium" in detail


def test_levels_are_shown_with_their_national_names_in_chinese(
    app, client, login, world, create_user
):
    login(create_user(role="consortium_admin", consortium=world.consortium))
    page = _text(client.get(f"/consortia/{world.consortium.id}/roles/shared_tech"))
    assert "3 · 三级/高级工" in page and "2 · 四级/中级工" in page
    form = _text(client.get(f"/consortia/{world.consortium.id}/roles/new"))
    assert ">3 · 三级/高级工</option>" in form


def test_the_role_form_offers_fifteen_rows_and_at_least_five_empty_ones(
    app, client, login, world, create_role
):
    login(world.admin)
    page = _text(client.get(f"/consortia/{world.consortium.id}/roles/new"))
    assert page.count('name="requirements-14-skill"') == 1
    assert 'name="requirements-15-skill"' not in page
    # Skills are grouped by category, shared and our own, never another consortium's.
    assert '<optgroup label="Automation">' in page and '<optgroup label="Safety">' in page
    assert 'value="our_welding"' in page and 'value="their_skill"' not in page
    create_role("big_role", {f"s{i:02d}": 2 for i in range(14)}, consortium=world.consortium)
    page = _text(client.get(f"/consortia/{world.consortium.id}/roles/big_role/edit"))
    assert 'name="requirements-18-skill"' in page and 'name="requirements-19-skill"' not in page
    row_14 = re.search(r'name="requirements-13-skill".*?</select>', page, re.S).group(0)
    assert '<option selected value="s13">' in row_14


def test_row_errors_name_the_row_and_nothing_is_written(app, client, login, world):
    login(world.admin)
    rows = [("plc_basics", "3"), ("their_skill", "2"), ("plc_basics", "4"), ("loto", "")]
    response = client.post(f"/consortia/{world.consortium.id}/roles/new", data=role_form(rows=rows))
    assert response.status_code == 200
    page = _text(response)
    assert "Row 2: unknown skill “their_skill”" in page
    assert "Row 3: this skill is already required in row 1." in page
    assert "Row 4: choose a level from 1 to 5." in page
    assert 'id="requirements-2-skill-error"' in page  # next to row 3's skill
    assert _get(app, JobRole, "ts_maintainer") is None
    assert _count(app, RoleSkill, RoleSkill.role_id == "ts_maintainer") == 0
    assert _audits(app, "role.create") == []


def test_field_and_row_errors_are_reported_in_the_same_round(app, client, login, world):
    login(world.admin)
    rows = [("loto", "2"), ("loto", "3")]
    data = role_form(rows=rows, occupation_code="6-31", name_zh="")
    response = client.post(f"/consortia/{world.consortium.id}/roles/new", data=data)
    page = _text(response)
    assert 'id="occupation_code-error"' in page and 'id="name_zh-error"' in page
    assert "Row 2: this skill is already required in row 1." in page
    assert _get(app, JobRole, "ts_maintainer") is None


def test_a_role_needs_at_least_one_skill(app, client, login, world):
    login(world.admin)
    response = client.post(f"/consortia/{world.consortium.id}/roles/new", data=role_form(rows=[]))
    assert response.status_code == 200
    assert "Choose at least one required skill." in _text(response)
    assert _get(app, JobRole, "ts_maintainer") is None


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"occupation_code": "6-31-1-03"}, "occupation_code", "national format"),
        ({"occupation_code": "63101 03"}, "occupation_code", "national format"),
        ({"role_id": "9lives"}, "role_id", "lower-case letters"),
        ({"role_id": "shared_tech"}, "role_id", "This id is taken"),
        ({"role_id": "z_role"}, "role_id", "This id is taken"),
        ({"role_id": "new"}, "role_id", "This id is taken"),
        ({"name_en": ""}, "name_en", "Enter the English name"),
        ({"occupation_edition": "2022-edition"}, "occupation_edition", "At most 10 characters"),
    ],
)
def test_a_bad_role_field_is_refused_next_to_the_field(
    app, client, login, world, data, field, message
):
    login(world.admin)
    before = _count(app, JobRole)
    response = client.post(f"/consortia/{world.consortium.id}/roles/new", data=role_form(**data))
    assert response.status_code == 200
    assert re.search(rf'id="{field}-error">[^<]*{message}', _text(response))
    assert _count(app, JobRole) == before
    assert _audits(app, "role.create") == []


def test_a_double_submitted_role_is_created_once(app, client, login, world):
    login(world.admin)
    url = f"/consortia/{world.consortium.id}/roles/new"
    assert client.post(url, data=role_form()).status_code == 302
    again = client.post(url, data=role_form())
    assert again.status_code == 200 and "This id is taken" in _text(again)
    assert _count(app, JobRole, JobRole.id == "ts_maintainer") == 1
    assert len(_audits(app, "role.create")) == 1


def test_a_consortium_role_is_edited_and_its_requirements_replaced(app, client, login, world):
    login(world.admin)
    url = f"/consortia/{world.consortium.id}/roles/ts_operator/edit"
    page = _text(client.get(url))
    assert 'name="role_id"' not in page and "ts_operator" in page
    rows = [("loto", "1"), ("robot_ops", "4"), ("our_welding", "2")]
    data = role_form(rows=rows, name_en="Operator", occupation_code="")
    assert client.post(url, data=data).status_code == 302
    role = _get(app, JobRole, "ts_operator")
    assert role.name_en == "Operator" and role.occupation_code is None
    assert _requirements(app, "ts_operator") == [("loto", 1), ("robot_ops", 4), ("our_welding", 2)]
    [record] = _audits(app, "role.update")
    assert "requirements" in record.details["changed"]
    # A second identical save is one effect.
    assert client.post(url, data=data).status_code == 302
    assert len(_audits(app, "role.update")) == 1
    # Dropping a skill deletes its requirement row.
    assert client.post(url, data=role_form(rows=[("loto", "2")], name_en="Operator")).status_code
    assert _requirements(app, "ts_operator") == [("loto", 2)]


def test_an_edit_with_a_bad_row_changes_nothing(app, client, login, world):
    login(world.admin)
    url = f"/consortia/{world.consortium.id}/roles/ts_operator/edit"
    rows = [("loto", "1"), ("nonexistent", "2")]
    response = client.post(url, data=role_form(rows=rows, name_en="Changed"))
    assert response.status_code == 200
    assert "Row 2: unknown skill “nonexistent”" in _text(response)
    assert _get(app, JobRole, "ts_operator").name_en == "TS operator"
    assert _requirements(app, "ts_operator") == [("robot_ops", 2)]


def test_shared_roles_are_read_only_for_consortium_admins(app, client, login, world):
    login(world.admin)
    base = f"/consortia/{world.consortium.id}/roles/shared_tech"
    page = _text(client.get(base))
    assert "Shared technician" in page and base + "/edit" not in page and base + "/copy" in page
    assert client.get(base + "/edit").status_code == 404
    assert client.post(base + "/edit", data=role_form(name_en="Hacked")).status_code == 404
    assert client.post(base + "/deactivate").status_code == 404
    role = _get(app, JobRole, "shared_tech")
    assert role.name_en == "Shared technician" and role.is_active


def test_a_shared_role_is_copied_into_the_consortium(app, client, login, world):
    login(world.admin)
    url = f"/consortia/{world.consortium.id}/roles/shared_tech/copy"
    page = _text(client.get(url))
    assert 'value="shared_tech_ts"' in page  # <old id>_<consortium code in lower case>
    data = {"role_id": "shared_tech_ts", "name_zh": "本地技术员", "name_en": "Our technician"}
    response = client.post(url, data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/roles/shared_tech_ts/edit")
    copy = _get(app, JobRole, "shared_tech_ts")
    assert (copy.consortium_id, copy.firm_id, copy.name_en) == (
        world.consortium.id,
        None,
        "Our technician",
    )
    assert (copy.occupation_code, copy.occupation_edition) == ("6-31-01-03", "2022")
    assert _requirements(app, "shared_tech_ts") == [("plc_basics", 3), ("loto", 2)]
    [record] = _audits(app, "role.copy")
    assert record.details["from"] == "shared_tech"
    assert client.get(response.headers["Location"]).status_code == 200  # editable
    # The shared original is untouched; copying again under the same id is refused.
    assert _requirements(app, "shared_tech") == [("plc_basics", 3), ("loto", 2)]
    again = client.post(url, data=data)
    assert again.status_code == 200 and "This id is taken" in _text(again)


def test_the_consortium_role_list_shows_every_owner_and_filters_by_firm(app, client, login, world):
    login(world.admin)
    base = f"/consortia/{world.consortium.id}/roles"
    page = _text(client.get(base))
    for role_id in ("shared_tech", "ts_operator", "a_fitter", "b_fitter"):
        assert role_id in page
    assert "z_role" not in page
    # A firm's role opens under its firm.
    assert f"/firms/{world.firm.id}/roles/a_fitter" in page
    page = _text(client.get(f"{base}?owner={world.firm.id}"))
    assert "a_fitter" in page and "b_fitter" not in page and "shared_tech" not in page
    page = _text(client.get(f"{base}?owner=shared"))
    assert "shared_tech" in page and "ts_operator" not in page


# --- job roles: firm admins ----------------------------------------------------------------------


def test_firm_admin_creates_a_firm_role(app, client, login, world):
    login(world.firm_admin)
    base = f"/firms/{world.firm.id}/roles"
    listing = _text(client.get(base))
    for role_id in ("shared_tech", "ts_operator", "a_fitter"):
        assert role_id in listing
    assert "b_fitter" not in listing and "z_role" not in listing
    response = client.post(base + "/new", data=role_form(role_id="a_welder"))
    assert response.status_code == 302
    role = _get(app, JobRole, "a_welder")
    assert (role.consortium_id, role.firm_id) == (world.consortium.id, world.firm.id)
    [record] = _audits(app, "role.create")
    assert record.details["firm"] == world.firm.id
    assert "Our firm" in _text(client.get(response.headers["Location"]))


def test_firm_admin_cannot_touch_another_firms_or_the_consortiums_roles(app, client, login, world):
    login(world.firm_admin)
    own = f"/firms/{world.firm.id}/roles"
    # Another firm's role seen through one's own firm: out of scope.
    assert client.get(f"{own}/b_fitter").status_code == 404
    assert client.post(f"{own}/b_fitter/edit", data=role_form(name_en="X")).status_code == 404
    assert client.post(f"{own}/b_fitter/deactivate").status_code == 404
    # Another firm's pages: no permission there.
    assert client.get(f"/firms/{world.other_firm.id}/roles").status_code == 404
    assert client.get(f"/firms/{world.other_firm.id}/roles/b_fitter/edit").status_code == 404
    # The consortium's and the shared roles: readable, not editable.
    assert client.get(f"{own}/ts_operator").status_code == 200
    assert client.post(f"{own}/ts_operator/edit", data=role_form(name_en="X")).status_code == 404
    assert client.post(f"{own}/shared_tech/deactivate").status_code == 404
    assert client.get(f"/consortia/{world.consortium.id}/roles").status_code == 404
    assert client.get(f"/consortia/{world.consortium.id}/roles/ts_operator/edit").status_code == 404
    assert client.get(f"/consortia/{world.consortium.id}/skills").status_code == 404
    assert _get(app, JobRole, "b_fitter").name_en == "B fitter"
    assert _get(app, JobRole, "ts_operator").name_en == "TS operator"
    assert _get(app, JobRole, "b_fitter").is_active and _get(app, JobRole, "shared_tech").is_active


def test_a_firm_role_is_not_editable_under_the_consortium_url_but_under_the_firm(
    app, client, login, world
):
    login(world.admin)
    assert client.get(f"/consortia/{world.consortium.id}/roles/a_fitter").status_code == 200
    url = f"/consortia/{world.consortium.id}/roles/a_fitter/edit"
    assert client.get(url).status_code == 404
    url = f"/firms/{world.firm.id}/roles/a_fitter/edit"
    response = client.post(url, data=role_form(rows=[("loto", "3")], name_en="Fitter"))
    assert response.status_code == 302
    assert _requirements(app, "a_fitter") == [("loto", 3)]


def test_an_admin_of_another_consortium_gets_404(app, client, login, world):
    login(world.foreign_admin)
    assert client.get(f"/consortia/{world.consortium.id}/roles").status_code == 404
    assert client.get(f"/firms/{world.firm.id}/roles/a_fitter").status_code == 404
    own = f"/consortia/{world.elsewhere.id}/roles"
    assert client.get(f"{own}/ts_operator").status_code == 404
    assert client.get(f"{own}/a_fitter").status_code == 404
    assert client.get(f"{own}/shared_tech").status_code == 200


# --- deactivation ------------------------------------------------------------------------------


def test_deactivation_asks_for_confirmation_and_keeps_existing_holders(
    app, client, login, world, create_user
):
    holder = create_user(role="worker", firm=world.firm, job_role="a_fitter")
    login(world.firm_admin)
    url = f"/firms/{world.firm.id}/roles/a_fitter/deactivate"
    page = _text(client.get(url))
    assert "Deactivate the job role A fitter?" in page
    assert _get(app, JobRole, "a_fitter").is_active  # the GET changed nothing
    response = client.post(url)
    assert response.status_code == 302
    assert not _get(app, JobRole, "a_fitter").is_active
    assert _count(app, RoleSkill, RoleSkill.role_id == "a_fitter") == 1  # nothing deleted
    held = Membership.user_id == holder.id, Membership.job_role_id == "a_fitter"
    assert _count(app, Membership, *held) == 1  # who holds it keeps it
    [record] = _audits(app, "role.deactivate")
    assert (record.target_id, record.consortium_id) == ("a_fitter", world.consortium.id)
    # Twice is once.
    client.post(url)
    assert len(_audits(app, "role.deactivate")) == 1
    with app.app_context():
        usable = db.session.scalars(roles_for(world.consortium.id, world.firm.id)).all()
        assert "a_fitter" not in {r.id for r in usable}
    listing = _text(client.get(f"/firms/{world.firm.id}/roles"))
    assert "Deactivated" in listing
    assert client.post(f"/firms/{world.firm.id}/roles/a_fitter/activate").status_code == 302
    assert _get(app, JobRole, "a_fitter").is_active
    assert len(_audits(app, "role.activate")) == 1


def test_consortium_admin_deactivates_a_consortium_role(app, client, login, world):
    login(world.admin)
    url = f"/consortia/{world.consortium.id}/roles/ts_operator/deactivate"
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 302
    assert not _get(app, JobRole, "ts_operator").is_active


# --- roles_for --------------------------------------------------------------------------------


def test_roles_for_gives_shared_consortium_and_the_firms_roles(app, world, create_role):
    create_role("old_role", consortium=world.consortium, is_active=False)
    with app.app_context():

        def ids(*args, **kw) -> set[str]:
            return {r.id for r in db.session.scalars(roles_for(*args, **kw))}

        assert ids(world.consortium.id) == {"shared_tech", "ts_operator"}
        assert ids(world.consortium.id, world.firm.id) == {"shared_tech", "ts_operator", "a_fitter"}
        assert ids(world.consortium.id, world.other_firm.id) == {
            "shared_tech",
            "ts_operator",
            "b_fitter",
        }
        assert "old_role" in ids(world.consortium.id, include_inactive=True)
        assert ids(world.elsewhere.id) == {"shared_tech", "z_role"}
