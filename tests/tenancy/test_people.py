"""People pages of a firm and of a consortium: current members only, masked, searchable,
paginated, deactivation, and no way into another consortium."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from lms.auth.models import User, UserSession
from lms.extensions import db
from lms.tenancy.models import Membership
from tests.tenancy.pages import flashes, people_total, table_rows

TODAY = date.today()


@pytest.fixture
def consortium(create_consortium):
    return create_consortium()


@pytest.fixture
def firm(create_firm, consortium):
    return create_firm(consortium=consortium, name="甲公司")


@pytest.fixture
def firm_admin(make_user, firm):
    return make_user(role="firm_admin", firm=firm, name="Admin HR")


@pytest.fixture
def consortium_admin(make_user, consortium):
    return make_user(role="consortium_admin", consortium=consortium)


@pytest.fixture
def add_membership(in_db):
    def add(user, firm, *, role="worker", starts_on=None, ends_on=None, **kw):
        def go():
            db.session.add(
                Membership(
                    user_id=user.id,
                    consortium_id=firm.consortium_id,
                    firm_id=firm.id,
                    role=role,
                    starts_on=starts_on or TODAY - timedelta(days=400),
                    ends_on=ends_on,
                    **kw,
                )
            )
            db.session.commit()

        in_db(go)

    return add


def _names(html: str) -> list[str]:
    return [row[0]["text"] for row in table_rows(html) if row]


def _people(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, url
    return _names(response.get_data(as_text=True))


# --- the firm's people page ---------------------------------------------------------------


def test_firm_people_page_lists_only_current_members_of_that_firm(
    client, login, create_firm, consortium, firm, firm_admin, make_user, add_membership
):
    other_firm = create_firm(consortium=consortium)
    here = make_user(role="worker", firm=firm, name="Here Worker")
    make_user(role="worker", firm=other_firm, name="Other Firm Worker")
    left = make_user(name="Left Worker")
    add_membership(left, firm, ends_on=TODAY - timedelta(days=1))
    leaves_today = make_user(name="Leaves Today")
    add_membership(leaves_today, firm, ends_on=TODAY)
    not_yet = make_user(name="Starts Tomorrow")
    add_membership(not_yet, firm, starts_on=TODAY + timedelta(days=1))
    make_user(name="Nobody Anywhere")

    login(firm_admin)
    names = _people(client, f"/firms/{firm.id}/people")
    assert sorted(names) == sorted([firm_admin.name, here.name])


def test_firm_people_page_masks_mobile_numbers(client, login, firm, firm_admin, make_user):
    worker = make_user(
        role="worker",
        firm=firm,
        name="Masked Worker",
        mobile="13812345678",
        email="masked.worker@example.com",
    )
    login(firm_admin)
    html = client.get(f"/firms/{firm.id}/people").get_data(as_text=True)
    assert worker.name in html
    assert "138****5678" in html
    assert "13812345678" not in html
    assert "12345678" not in html
    assert "masked.worker@example.com" not in html
    assert firm_admin.mobile not in html


def test_people_are_found_by_name_or_mobile(client, login, firm, firm_admin, make_user):
    make_user(role="worker", firm=firm, name="张三丰", mobile="13755501111")
    make_user(role="worker", firm=firm, name="李四光", mobile="13955502222")
    login(firm_admin)
    assert _people(client, f"/firms/{firm.id}/people?q=三丰") == ["张三丰"]
    assert _people(client, f"/firms/{firm.id}/people?q=13955502222") == ["李四光"]
    assert _people(client, f"/firms/{firm.id}/people?q=555") == ["张三丰", "李四光"]
    html = client.get(f"/firms/{firm.id}/people?q=王五").get_data(as_text=True)
    assert _names(html) == []
    assert people_total(html) == 0
    assert '<p class="empty">' in html


def test_people_pages_are_paginated_by_25(client, login, firm, firm_admin, make_user):
    for i in range(1, 28):
        make_user(role="worker", firm=firm, name=f"Worker {i:02d}")
    login(firm_admin)

    first = client.get(f"/firms/{firm.id}/people").get_data(as_text=True)
    assert people_total(first) == 28
    assert "page=3" not in first
    assert _names(first) == [firm_admin.name] + [f"Worker {i:02d}" for i in range(1, 25)]
    assert f"/firms/{firm.id}/people?page=2" in first.replace("&amp;", "&")

    second = _people(client, f"/firms/{firm.id}/people?page=2")
    assert second == ["Worker 25", "Worker 26", "Worker 27"]

    assert _people(client, f"/firms/{firm.id}/people?page=9") == []


def test_search_results_are_paginated_with_the_search_kept(
    client, login, firm, firm_admin, make_user
):
    for i in range(1, 30):
        make_user(role="worker", firm=firm, name=f"Welder {i:02d}")
    login(firm_admin)
    first = client.get(f"/firms/{firm.id}/people?q=Welder").get_data(as_text=True)
    assert people_total(first) == 29
    assert "page=2" in first and "q=Welder" in first
    assert _people(client, f"/firms/{firm.id}/people?q=Welder&page=2") == [
        f"Welder {i}" for i in range(26, 30)
    ]


# --- the consortium's people page ---------------------------------------------------------


def test_consortium_people_page_lists_people_of_all_firms_and_filters_by_firm(
    client, login, create_firm, create_consortium, consortium, firm, consortium_admin, make_user
):
    firm_b = create_firm(consortium=consortium, name="乙公司")
    a = make_user(role="worker", firm=firm, name="Worker A")
    b = make_user(role="trainer", firm=firm_b, name="Trainer B")
    make_user(role="worker", firm=create_firm(consortium=create_consortium()), name="Outsider")
    login(consortium_admin)

    everyone = _people(client, f"/consortia/{consortium.id}/people")
    assert sorted(everyone) == sorted([a.name, b.name, consortium_admin.name])
    assert _people(client, f"/consortia/{consortium.id}/people?firm={firm.id}") == [a.name]
    assert _people(client, f"/consortia/{consortium.id}/people?firm={firm_b.id}") == [b.name]
    assert _people(client, f"/consortia/{consortium.id}/people?q=Trainer") == [b.name]


def test_firm_people_cannot_see_the_consortium_people_page(
    client, login, consortium, firm, firm_admin
):
    login(firm_admin)
    assert client.get(f"/consortia/{consortium.id}/people").status_code == 404


def test_a_dispatched_worker_appears_only_at_the_firm_of_the_current_assignment(
    client, app, login, create_firm, consortium, consortium_admin, make_user, add_membership
):
    hr_service = create_firm(consortium=consortium, kind="hr_service", name="众才人力")
    firm_a = create_firm(consortium=consortium, name="Firm A")
    firm_b = create_firm(consortium=consortium, name="Firm B")
    worker = make_user(role="worker", firm=hr_service, name="Dispatched Worker")
    add_membership(
        worker, firm_a, starts_on=TODAY - timedelta(days=200), ends_on=TODAY - timedelta(days=30)
    )
    add_membership(
        worker, firm_b, starts_on=TODAY - timedelta(days=29), ends_on=TODAY + timedelta(days=150)
    )
    admin_a = make_user(role="firm_admin", firm=firm_a, name="Admin A")
    admin_b = make_user(role="firm_admin", firm=firm_b, name="Admin B")

    client_a, client_b = app.test_client(), app.test_client()
    login(admin_a, c=client_a)
    login(admin_b, c=client_b)
    assert worker.name not in _people(client_a, f"/firms/{firm_a.id}/people")
    assert worker.name in _people(client_b, f"/firms/{firm_b.id}/people")
    assert worker.name in _people(client_b, f"/firms/{firm_b.id}/people?q=Dispatched")
    assert worker.name not in _people(client_a, f"/firms/{firm_a.id}/people?q=Dispatched")

    login(consortium_admin)
    url = f"/consortia/{consortium.id}/people"
    assert worker.name in _people(client, url)
    assert worker.name not in _people(client, f"{url}?firm={firm_a.id}")
    assert worker.name in _people(client, f"{url}?firm={firm_b.id}")
    assert worker.name in _people(client, f"{url}?firm={hr_service.id}")


def test_a_former_member_is_not_found_by_searching_for_their_mobile(
    client, login, firm, firm_admin, make_user, add_membership
):
    former = make_user(name="Former Worker", mobile="13612344321")
    add_membership(former, firm, ends_on=TODAY - timedelta(days=5))
    login(firm_admin)
    assert _people(client, f"/firms/{firm.id}/people?q=13612344321") == []
    assert _people(client, f"/firms/{firm.id}/people?q=Former") == []


# --- deactivating a person ----------------------------------------------------------------


def _memberships(in_db, user) -> list[tuple]:
    return in_db(
        lambda: [
            (m.firm_id, m.role, m.ends_on)
            for m in db.session.scalars(
                select(Membership).where(Membership.user_id == user.id).order_by(Membership.id)
            )
        ]
    )


def _account_active(in_db, user) -> bool:
    return in_db(lambda: db.session.get(User, user.id).is_active_account)


def test_deactivating_a_person_ends_their_membership_and_closes_the_account(
    app, client, login, in_db, count, firm, firm_admin, make_user, audit_records
):
    worker = make_user(role="worker", firm=firm, name="Leaving Worker")
    worker_client = app.test_client()
    login(worker, c=worker_client)
    assert worker_client.get("/").status_code == 200

    login(firm_admin)
    url = f"/firms/{firm.id}/people/{worker.public_id}/deactivate"
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Leaving Worker" in confirm.get_data(as_text=True)
    assert '<form method="post">' in confirm.get_data(as_text=True)
    assert _memberships(in_db, worker) == [(firm.id, "worker", None)]

    response = client.post(url)
    assert response.status_code == 302
    assert _memberships(in_db, worker) == [(firm.id, "worker", TODAY)]
    assert _account_active(in_db, worker) is False
    assert (
        count(UserSession, UserSession.user_id == worker.id, UserSession.revoked_at.is_(None)) == 0
    )
    assert worker.name not in _people(client, f"/firms/{firm.id}/people")

    # Signed out everywhere at once, and cannot sign in again.
    assert worker_client.get("/").status_code == 302
    again = worker_client.post("/login", data={"login": worker.email, "password": "x" * 12})
    assert again.status_code == 200

    [record] = audit_records("person.deactivate")
    assert record["actor_id"] == firm_admin.id
    assert record["target_type"] == "User" and record["target_id"] == worker.public_id
    assert record["consortium_id"] == firm.consortium_id
    assert record["ip"] == "127.0.0.1"
    assert record["details"] == {"firm": firm.id}


def test_deactivating_a_person_with_a_role_elsewhere_keeps_the_account_open(
    client, login, in_db, create_firm, consortium, firm, firm_admin, make_user, add_membership
):
    other_firm = create_firm(consortium=consortium)
    worker = make_user(role="worker", firm=firm, name="Two Jobs")
    add_membership(worker, other_firm, role="trainer")
    login(firm_admin)
    client.post(f"/firms/{firm.id}/people/{worker.public_id}/deactivate")

    assert _account_active(in_db, worker) is True
    assert sorted(_memberships(in_db, worker), key=lambda m: m[0]) == sorted(
        [(firm.id, "worker", TODAY), (other_firm.id, "trainer", None)], key=lambda m: m[0]
    )


def test_a_firm_admin_cannot_deactivate_themselves(
    client, login, in_db, firm, firm_admin, audit_records
):
    login(firm_admin)
    page = client.get(f"/firms/{firm.id}/people").get_data(as_text=True)
    assert f"/people/{firm_admin.public_id}/deactivate" not in page

    response = client.post(
        f"/firms/{firm.id}/people/{firm_admin.public_id}/deactivate", follow_redirects=True
    )
    assert response.status_code == 200
    assert len(flashes(response.get_data(as_text=True), "error")) == 1
    assert flashes(response.get_data(as_text=True), "success") == []
    assert _memberships(in_db, firm_admin) == [(firm.id, "firm_admin", None)]
    assert _account_active(in_db, firm_admin) is True
    assert audit_records("person.deactivate") == []
    assert client.get(f"/firms/{firm.id}/people").status_code == 200


def test_workers_and_trainers_cannot_deactivate_anyone(client, login, in_db, firm, make_user):
    victim = make_user(role="worker", firm=firm)
    trainer = make_user(role="trainer", firm=firm)
    login(trainer)
    assert client.post(f"/firms/{firm.id}/people/{victim.public_id}/deactivate").status_code == 404
    assert _account_active(in_db, victim) is True


# --- cross-tenant ------------------------------------------------------------------------


def test_a_firm_admin_gets_404_for_firms_and_people_of_another_consortium(
    client, login, in_db, create_consortium, create_firm, firm, firm_admin, make_user
):
    other_consortium = create_consortium()
    other_firm = create_firm(consortium=other_consortium)
    stranger = make_user(role="worker", firm=other_firm, name="Stranger")
    login(firm_admin)

    for url in (
        f"/firms/{other_firm.id}/people",
        f"/firms/{other_firm.id}/people?q=Stranger",
        f"/firms/{other_firm.id}/people/import",
        f"/firms/{other_firm.id}/people/invite",
        f"/firms/{other_firm.id}/edit",
        f"/firms/{other_firm.id}/deactivate",
        f"/firms/{other_firm.id}/people/{stranger.public_id}/deactivate",
        f"/firms/{firm.id}/people/{stranger.public_id}/deactivate",
        f"/consortia/{other_consortium.id}/people",
        f"/consortia/{other_consortium.id}/firms",
        f"/consortia/{other_consortium.id}/audit",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Stranger" not in response.get_data(as_text=True)

    for url in (
        f"/firms/{firm.id}/people/{stranger.public_id}/deactivate",
        f"/firms/{firm.id}/people/{stranger.public_id}/activation",
        f"/firms/{other_firm.id}/people/{stranger.public_id}/deactivate",
        f"/firms/{other_firm.id}/activate",
    ):
        assert client.post(url).status_code == 404, url
    assert _account_active(in_db, stranger) is True
    assert _memberships(in_db, stranger) == [(other_firm.id, "worker", None)]


def test_a_consortium_admin_gets_404_for_another_consortiums_firms_and_people(
    client, login, in_db, create_consortium, create_firm, consortium_admin, make_user
):
    other_consortium = create_consortium()
    other_firm = create_firm(consortium=other_consortium)
    stranger = make_user(role="worker", firm=other_firm)
    login(consortium_admin)
    for url in (
        f"/consortia/{other_consortium.id}/people",
        f"/consortia/{other_consortium.id}/firms",
        f"/consortia/{other_consortium.id}/firms/new",
        f"/firms/{other_firm.id}/edit",
        f"/firms/{other_firm.id}/people",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/firms/{other_firm.id}/deactivate").status_code == 404
    assert in_db(lambda: db.session.get(type(other_firm), other_firm.id).is_active) is True
    assert _account_active(in_db, stranger) is True


def test_the_consortium_firm_filter_does_not_reveal_people_of_another_consortium(
    client, login, create_consortium, create_firm, consortium, consortium_admin, make_user
):
    other_firm = create_firm(consortium=create_consortium())
    make_user(role="worker", firm=other_firm, name="Stranger")
    login(consortium_admin)
    html = client.get(f"/consortia/{consortium.id}/people?firm={other_firm.id}").get_data(
        as_text=True
    )
    assert "Stranger" not in html


def test_unknown_ids_answer_404(client, login, firm, firm_admin):
    login(firm_admin)
    assert client.get("/firms/999999/people").status_code == 404
    assert client.get(f"/firms/{firm.id}/people/nosuchperson/deactivate").status_code == 404
    assert client.get("/consortia/999999/people").status_code == 404
