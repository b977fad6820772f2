"""Consortia and member firms: create, edit, deactivate, invite; each action is audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lms.auth.models import User
from lms.extensions import db
from lms.tenancy.models import Consortium, Firm, Invitation, Membership
from tests.conftest import PASSWORD, valid_credit_code
from tests.tenancy.pages import field_errors, mentions

NEW_CODE = "91350100M000100Y43"


@pytest.fixture
def consortium(create_consortium):
    return create_consortium()


@pytest.fixture
def consortium_admin(make_user, consortium):
    return make_user(role="consortium_admin", consortium=consortium)


@pytest.fixture
def platform_admin(make_user):
    return make_user(is_platform_admin=True)


def _firm(in_db, **where) -> Firm | None:
    def go():
        return db.session.scalars(select(Firm).filter_by(**where)).first()

    return in_db(go)


def _assert_audited(record: dict, *, actor, target_type, target_id, consortium_id) -> None:
    assert record["actor_id"] == actor.id
    assert record["target_type"] == target_type
    assert record["target_id"] == str(target_id)
    assert record["consortium_id"] == consortium_id
    assert record["ip"] == "127.0.0.1"
    assert record["created_at"] is not None


# --- member firms ------------------------------------------------------------------------


def test_consortium_admin_creates_a_firm_with_the_code_stored_upper_case(
    client, login, in_db, consortium, consortium_admin, audit_records
):
    login(consortium_admin)
    response = client.post(
        f"/consortia/{consortium.id}/firms/new",
        data={
            "name": " 福州精密机械有限公司 ",
            "kind": "chain_leader",
            "credit_code": NEW_CODE.lower(),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/consortia/{consortium.id}/firms")

    firm = _firm(in_db, credit_code=NEW_CODE)
    assert firm is not None
    assert (firm.name, firm.kind, firm.consortium_id, firm.is_active) == (
        "福州精密机械有限公司",
        "chain_leader",
        consortium.id,
        True,
    )
    [record] = audit_records("firm.create")
    _assert_audited(
        record,
        actor=consortium_admin,
        target_type="Firm",
        target_id=firm.id,
        consortium_id=consortium.id,
    )
    listing = client.get(f"/consortia/{consortium.id}/firms").get_data(as_text=True)
    assert "福州精密机械有限公司" in listing and NEW_CODE in listing


@pytest.mark.parametrize(
    "code, named",
    [
        ("91350100M000100Y4", ["18", "17"]),  # needs 18 characters, has 17
        ("91350100M000100O43", ["16", "O"]),  # the 16th character, O, is not allowed
        ("91350100M000100Y44", ["3", "4"]),  # the check character should be 3, not 4
    ],
    ids=["length", "forbidden-letter", "check-character"],
)
def test_a_bad_credit_code_re_renders_the_form_with_the_error_next_to_the_field(
    client, login, count, consortium, consortium_admin, audit_records, code, named
):
    login(consortium_admin)
    firms_before = count(Firm)
    response = client.post(
        f"/consortia/{consortium.id}/firms/new",
        data={"name": "坏代码公司", "kind": "specialized_sme", "credit_code": code},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    [error] = field_errors(html, "credit_code")
    assert all(mentions(error, token) for token in named), error
    assert 'aria-invalid="true"' in html
    assert "坏代码公司" in html  # what was typed is kept
    assert count(Firm) == firms_before
    assert audit_records("firm.create") == []


def test_a_credit_code_already_registered_is_refused(
    client, login, count, create_firm, create_consortium, consortium, consortium_admin
):
    elsewhere = create_firm(consortium=create_consortium())
    login(consortium_admin)
    response = client.post(
        f"/consortia/{consortium.id}/firms/new",
        data={"name": "重复公司", "kind": "specialized_sme", "credit_code": elsewhere.credit_code},
    )
    assert response.status_code == 200
    assert len(field_errors(response.get_data(as_text=True), "credit_code")) == 1
    assert count(Firm, Firm.credit_code == elsewhere.credit_code) == 1
    assert count(Firm, Firm.consortium_id == consortium.id) == 0


def test_a_firm_without_a_name_is_refused(client, login, count, consortium, consortium_admin):
    login(consortium_admin)
    response = client.post(
        f"/consortia/{consortium.id}/firms/new",
        data={"name": "", "kind": "specialized_sme", "credit_code": NEW_CODE},
    )
    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True), "name")
    assert count(Firm, Firm.consortium_id == consortium.id) == 0


def test_consortium_admin_edits_a_firm(
    client, login, in_db, create_firm, consortium, consortium_admin, audit_records
):
    firm = create_firm(consortium=consortium)
    login(consortium_admin)
    form = client.get(f"/firms/{firm.id}/edit").get_data(as_text=True)
    assert firm.credit_code in form and firm.name in form

    response = client.post(
        f"/firms/{firm.id}/edit",
        data={"name": "新名称有限公司", "kind": "hr_service", "credit_code": firm.credit_code},
    )
    assert response.status_code == 302
    saved = _firm(in_db, id=firm.id)
    assert (saved.name, saved.kind, saved.credit_code) == (
        "新名称有限公司",
        "hr_service",
        firm.credit_code,
    )
    [record] = audit_records("firm.update")
    _assert_audited(
        record,
        actor=consortium_admin,
        target_type="Firm",
        target_id=firm.id,
        consortium_id=consortium.id,
    )


def test_editing_a_firm_to_another_firms_credit_code_is_refused(
    client, login, in_db, create_firm, consortium, consortium_admin, audit_records
):
    firm, other = create_firm(consortium=consortium), create_firm(consortium=consortium)
    login(consortium_admin)
    response = client.post(
        f"/firms/{firm.id}/edit",
        data={"name": "改名", "kind": firm.kind, "credit_code": other.credit_code.lower()},
    )
    assert response.status_code == 200
    assert len(field_errors(response.get_data(as_text=True), "credit_code")) == 1
    saved = _firm(in_db, id=firm.id)
    assert (saved.name, saved.credit_code) == (firm.name, firm.credit_code)
    assert audit_records("firm.update") == []


def test_deactivation_asks_for_confirmation_then_deactivates_and_reactivation_restores(
    client, login, in_db, create_firm, consortium, consortium_admin, audit_records
):
    firm = create_firm(consortium=consortium)
    login(consortium_admin)

    confirm = client.get(f"/firms/{firm.id}/deactivate")
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert firm.name in page and '<form method="post">' in page
    assert _firm(in_db, id=firm.id).is_active is True  # a GET changes nothing

    assert client.post(f"/firms/{firm.id}/deactivate").status_code == 302
    assert _firm(in_db, id=firm.id).is_active is False
    listing = client.get(f"/consortia/{consortium.id}/firms").get_data(as_text=True)
    assert 'class="status off"' in listing and f"/firms/{firm.id}/activate" in listing

    assert client.post(f"/firms/{firm.id}/activate").status_code == 302
    assert _firm(in_db, id=firm.id).is_active is True

    for action in ("firm.deactivate", "firm.activate"):
        [record] = audit_records(action)
        _assert_audited(
            record,
            actor=consortium_admin,
            target_type="Firm",
            target_id=firm.id,
            consortium_id=consortium.id,
        )


def test_deactivating_an_inactive_firm_again_writes_no_second_record(
    client, login, create_firm, consortium, consortium_admin, audit_records
):
    firm = create_firm(consortium=consortium)
    login(consortium_admin)
    client.post(f"/firms/{firm.id}/deactivate")
    client.post(f"/firms/{firm.id}/deactivate")
    assert len(audit_records("firm.deactivate")) == 1


def test_firm_admins_of_a_deactivated_firm_lose_access_to_its_people_page(
    app, client, login, create_firm, consortium, consortium_admin, make_user
):
    firm = create_firm(consortium=consortium)
    firm_admin = make_user(role="firm_admin", firm=firm)
    hr = app.test_client()
    login(firm_admin, c=hr)
    assert hr.get(f"/firms/{firm.id}/people").status_code == 200

    login(consortium_admin)
    client.post(f"/firms/{firm.id}/deactivate")
    assert hr.get(f"/firms/{firm.id}/people").status_code in (404, 404)
    assert hr.get(f"/firms/{firm.id}/people/import").status_code in (404, 404)

    client.post(f"/firms/{firm.id}/activate")
    assert hr.get(f"/firms/{firm.id}/people").status_code == 200


def test_only_consortium_admins_manage_firms(client, login, create_firm, consortium, make_user):
    firm = create_firm(consortium=consortium)
    for role in ("firm_admin", "worker", "trainer"):
        user = make_user(role=role, firm=firm)
        c = client.application.test_client()
        login(user, c=c)
        assert c.get(f"/consortia/{consortium.id}/firms").status_code == 404
        assert c.post(f"/firms/{firm.id}/deactivate").status_code == 404
        assert (
            c.post(
                f"/consortia/{consortium.id}/firms/new",
                data={"name": "X", "kind": "chain_leader", "credit_code": NEW_CODE},
            ).status_code
            == 404
        )


# --- consortia (platform admin) ----------------------------------------------------------


def _consortium_form(**kw) -> dict:
    data = {
        "name": "福州市数字经济跨企业培训联合体",
        "code": "fz",
        "city": "福州",
        "region": "east",
        "sectors": ["electronics", "industrial-internet"],
    }
    data.update(kw)
    return data


def _consortium(in_db, code: str) -> Consortium | None:
    return in_db(
        lambda: db.session.scalars(select(Consortium).where(Consortium.code == code)).first()
    )


def test_platform_admin_creates_a_consortium(client, login, in_db, platform_admin, audit_records):
    login(platform_admin)
    response = client.post("/admin/consortia/new", data=_consortium_form())
    assert response.status_code == 302
    consortium = _consortium(in_db, "FZ")
    assert consortium is not None
    assert (consortium.name, consortium.city, consortium.region) == (
        "福州市数字经济跨企业培训联合体",
        "福州",
        "east",
    )
    assert sorted(consortium.sectors) == ["electronics", "industrial-internet"]
    [record] = audit_records("consortium.create")
    _assert_audited(
        record,
        actor=platform_admin,
        target_type="Consortium",
        target_id=consortium.id,
        consortium_id=consortium.id,
    )
    assert "福州市数字经济跨企业培训联合体" in client.get("/admin/consortia").get_data(as_text=True)


@pytest.mark.parametrize(
    "sectors",
    [
        [],
        ["electronics", "automotive", "new-energy", "textiles"],
    ],
    ids=["none", "four"],
)
def test_a_consortium_needs_one_to_three_sectors(
    client, login, count, platform_admin, audit_records, sectors
):
    login(platform_admin)
    before = count(Consortium)
    response = client.post("/admin/consortia/new", data=_consortium_form(sectors=sectors))
    assert response.status_code == 200
    assert len(field_errors(response.get_data(as_text=True), "sectors")) == 1
    assert count(Consortium) == before
    assert audit_records("consortium.create") == []


def test_three_sectors_are_accepted(client, login, in_db, platform_admin):
    login(platform_admin)
    sectors = ["electronics", "automotive", "new-energy"]
    response = client.post(
        "/admin/consortia/new", data=_consortium_form(code="X3", sectors=sectors)
    )
    assert response.status_code == 302
    assert sorted(_consortium(in_db, "X3").sectors) == sorted(sectors)


def test_a_duplicate_consortium_code_is_refused(
    client, login, count, create_consortium, platform_admin
):
    create_consortium(code="DUP")
    login(platform_admin)
    response = client.post("/admin/consortia/new", data=_consortium_form(code="dup"))
    assert response.status_code == 200
    assert len(field_errors(response.get_data(as_text=True), "code")) == 1
    assert count(Consortium, Consortium.code == "DUP") == 1


def test_platform_admin_edits_a_consortium_but_not_its_code(
    client, login, in_db, create_consortium, platform_admin, audit_records
):
    consortium = create_consortium(code="OLD")
    login(platform_admin)
    response = client.post(
        f"/admin/consortia/{consortium.id}/edit",
        data=_consortium_form(
            name="新名字", code="NEW", city="厦门", region="central", sectors=["textiles"]
        ),
    )
    assert response.status_code == 302
    saved = in_db(lambda: db.session.get(Consortium, consortium.id))
    assert (saved.name, saved.city, saved.region, saved.sectors, saved.code) == (
        "新名字",
        "厦门",
        "central",
        ["textiles"],
        "OLD",
    )
    [record] = audit_records("consortium.update")
    _assert_audited(
        record,
        actor=platform_admin,
        target_type="Consortium",
        target_id=consortium.id,
        consortium_id=consortium.id,
    )


def test_editing_a_consortium_still_enforces_one_to_three_sectors(
    client, login, in_db, create_consortium, platform_admin
):
    consortium = create_consortium()
    login(platform_admin)
    response = client.post(
        f"/admin/consortia/{consortium.id}/edit",
        data=_consortium_form(code=consortium.code, sectors=[]),
    )
    assert response.status_code == 200
    assert in_db(lambda: db.session.get(Consortium, consortium.id).sectors) == consortium.sectors


def test_only_platform_admins_manage_consortia(client, login, consortium, consortium_admin):
    login(consortium_admin)
    assert client.get("/admin/consortia").status_code == 404
    assert client.post("/admin/consortia/new", data=_consortium_form()).status_code == 404
    assert client.get(f"/admin/consortia/{consortium.id}/edit").status_code == 404
    assert client.get(f"/admin/consortia/{consortium.id}/invite").status_code == 404


def test_platform_admin_invites_a_consortium_admin_who_can_then_manage_firms(
    app, client, login, in_db, create_consortium, platform_admin, audit_records
):
    consortium = create_consortium()
    login(platform_admin)
    response = client.post(
        f"/admin/consortia/{consortium.id}/invite",
        data={"name": "林主任", "email": "Lin.Director@Example.com", "role": "consortium_admin"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    link = re.search(
        r'class="invite-link" type="text" readonly value="([^"]+)"', response.get_data(as_text=True)
    ).group(1)
    invitation = in_db(
        lambda: db.session.scalars(
            select(Invitation).where(Invitation.consortium_id == consortium.id)
        ).one()
    )
    assert (invitation.role, invitation.email, invitation.firm_id) == (
        "consortium_admin",
        "lin.director@example.com",
        None,
    )
    [record] = audit_records("invitation.create")
    _assert_audited(
        record,
        actor=platform_admin,
        target_type="Invitation",
        target_id=invitation.public_id,
        consortium_id=consortium.id,
    )

    newcomer = app.test_client()
    path = link.split("localhost", 1)[1]
    assert newcomer.get(path).status_code == 200
    accepted = newcomer.post(path, data={"password": PASSWORD, "confirm": PASSWORD, "locale": "en"})
    assert accepted.status_code == 302
    user = in_db(
        lambda: db.session.scalars(
            select(User).where(User.email == "lin.director@example.com")
        ).one()
    )
    roles = in_db(
        lambda: [
            (m.role, m.consortium_id, m.firm_id)
            for m in db.session.scalars(select(Membership).where(Membership.user_id == user.id))
        ]
    )
    assert roles == [("consortium_admin", consortium.id, None)]
    assert newcomer.get(f"/consortia/{consortium.id}/firms").status_code == 200


# The audit log page has its own module: tests/tenancy/test_audit_log.py.


def test_credit_codes_of_the_fixture_factory_are_valid():
    from lms.core.codes import normalize_uscc

    assert normalize_uscc(valid_credit_code(12345)) == valid_credit_code(12345)
