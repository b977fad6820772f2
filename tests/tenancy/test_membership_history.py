"""People over time (issue 14): a firm admin ends a membership with a reason and a date; the
person keeps their account and records; the former firm sees its former members read-only;
another member firm invites them (issue 8's flow); the history is shown to the consortium
admin and to the person."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from lms.audit.models import AuditRecord
from lms.auth.models import User, UserSession
from lms.extensions import db
from lms.tenancy.models import Membership
from tests.access import PERSONAS, check_access
from tests.tenancy.pages import field_errors, table_rows

TODAY = date.today()
JOINED = date(2026, 1, 1)  # create_user's memberships start here

# endpoint: (method, url, who is "member with the permission", expected) — see tests/access.py.
PEOPLE_HISTORY_MATRIX = {
    "tenancy.end_membership": (
        "GET",
        "/firms/{firm}/people/{person}/end",
        "firm_admin",
        200,
    ),
    "tenancy.consortium_person": (
        "GET",
        "/consortia/{consortium}/people/{person}",
        "consortium_admin",
        200,
    ),
    # Everyone signed in sees their own history; a guest is sent to sign in.
    "tenancy.my_memberships": ("GET", "/account/memberships", "firm_admin", 200),
}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def consortium(create_consortium):
    return create_consortium()


@pytest.fixture
def firm_a(create_firm, consortium):
    return create_firm(consortium=consortium, name="甲机械")


@pytest.fixture
def firm_b(create_firm, consortium):
    return create_firm(consortium=consortium, name="乙电子")


@pytest.fixture
def admin_a(make_user, firm_a):
    return make_user(role="firm_admin", firm=firm_a, name="Admin A")


@pytest.fixture
def admin_b(make_user, firm_b):
    return make_user(role="firm_admin", firm=firm_b, name="Admin B")


@pytest.fixture
def worker(make_user, firm_a, in_db):
    user = make_user(role="worker", firm=firm_a, name="Moving Worker", mobile="13812345678")

    def number():
        m = db.session.scalars(select(Membership).where(Membership.user_id == user.id)).one()
        m.employee_no = "A-0042"
        db.session.commit()

    in_db(number)
    return user


@pytest.fixture
def clients(app, login):
    """A signed-in test client per user: clients(user)."""
    made = {}

    def get(user):
        if user.id not in made:
            made[user.id] = app.test_client()
            login(user, c=made[user.id])
        return made[user.id]

    return get


def memberships(in_db, user):
    def go():
        rows = db.session.scalars(
            select(Membership).where(Membership.user_id == user.id).order_by(Membership.id)
        ).all()
        return [
            (m.firm_id, m.role, m.ends_on, m.ended_reason, m.ended_note, m.ended_by_id)
            for m in rows
        ]

    return in_db(go)


def end_url(firm, person) -> str:
    return f"/firms/{firm.id}/people/{person.public_id}/end"


def end(client, firm, person, *, confirm=True, **values):
    """Fill in the end-membership form, then (with `confirm`) confirm it on the review page."""
    data = {"reason": "left", "note": "", "ends_on": TODAY.isoformat(), **values}
    review = client.post(end_url(firm, person), data=data)
    if not confirm or review.status_code != 200 or "confirmed" not in text(review):
        return review
    return client.post(end_url(firm, person), data={**data, "confirmed": "1"})


def names(response) -> list[str]:
    return [row[0]["text"] for row in table_rows(response.get_data(as_text=True)) if row]


def end_records(in_db) -> list:
    return in_db(
        lambda: [
            (r.actor_id, r.target_id, r.details)
            for r in db.session.scalars(
                select(AuditRecord).where(AuditRecord.action == "membership.end")
            )
        ]
    )


# --- ending a membership ------------------------------------------------------------------------


def test_ending_a_membership_asks_reason_and_date_then_confirms_and_keeps_the_account(
    app, in_db, clients, firm_a, admin_a, worker
):
    hr, own = clients(admin_a), clients(worker)
    form = hr.get(end_url(firm_a, worker))
    assert form.status_code == 200
    page = text(form)
    assert "Moving Worker" in page
    for label in ("Left the firm", "Moved to another member firm", "Contract ended", "Other"):
        assert label in page
    assert f'value="{TODAY.isoformat()}"' in page  # the end date defaults to today

    review = end(hr, firm_a, worker, confirm=False, reason="moved")
    assert review.status_code == 200
    assert "End the membership of Moving Worker in 甲机械?" in text(review)
    assert memberships(in_db, worker)[0][2] is None  # nothing ended yet: a review only
    change = hr.post(
        end_url(firm_a, worker),
        data={"reason": "moved", "note": "", "ends_on": TODAY.isoformat(), "change": "1"},
    )
    assert 'value="moved" checked' in change.get_data(as_text=True) or (
        'checked id="reason-1"' in change.get_data(as_text=True)
    )
    assert "End the membership of" not in text(change)

    done = end(hr, firm_a, worker, reason="moved")
    assert done.status_code == 302
    assert done.headers["Location"] == f"/firms/{firm_a.id}/people"
    assert memberships(in_db, worker) == [(firm_a.id, "worker", TODAY, "moved", None, admin_a.id)]
    [(actor, target, details)] = end_records(in_db)
    assert (actor, target) == (admin_a.id, worker.public_id)
    assert details["reason"] == "moved" and details["account_closed"] is False
    assert details["firm"] == firm_a.id and details["ends_on"] == TODAY.isoformat()

    # The account stays: the person is still signed in and sees their own records.
    assert in_db(lambda: db.session.get(User, worker.id).is_active_account) is True
    assert own.get("/transcript").status_code == 200
    assert own.get("/account/memberships").status_code == 200
    assert own.get("/").status_code == 200
    # … but no longer on the firm's current list.
    assert "Moving Worker" not in names(hr.get(f"/firms/{firm_a.id}/people"))


def test_a_past_end_date_is_kept_and_other_needs_details(in_db, clients, firm_a, admin_a, worker):
    hr = clients(admin_a)
    missing = end(hr, firm_a, worker, reason="other", note="  ")
    assert missing.status_code == 200
    assert field_errors(missing.get_data(as_text=True), "note") == [
        "Details: say in a few words why the membership ends."
    ]
    yesterday = TODAY - timedelta(days=1)
    done = end(hr, firm_a, worker, reason="other", note="Seconded", ends_on=yesterday.isoformat())
    assert done.status_code == 302
    assert memberships(in_db, worker)[0][2:5] == (yesterday, "other", "Seconded")


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (
            {"ends_on": (TODAY + timedelta(days=1)).isoformat()},
            "ends_on",
            "End date: choose today or an earlier date; a future date is not possible.",
        ),
        (
            {"ends_on": (JOINED - timedelta(days=1)).isoformat()},
            "ends_on",
            "End date: they joined on Jan 1, 2026; choose that day or later.",
        ),
        ({"ends_on": "31/12/2026"}, "ends_on", "End date: enter a date such as 2026-01-31."),
        ({"ends_on": ""}, "ends_on", "End date: enter a date such as 2026-01-31."),
        ({"reason": "fired"}, "reason", "Reason: choose why the membership ends."),
        ({"reason": ""}, "reason", "Reason: choose why the membership ends."),
        ({"note": "x" * 201}, "note", "Details: at most 200 characters."),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    in_db, clients, firm_a, admin_a, worker, values, field, message
):
    hr = clients(admin_a)
    for confirm in (False, True):
        data = {"reason": "left", "note": "", "ends_on": TODAY.isoformat(), **values}
        if confirm:
            data["confirmed"] = "1"
        response = hr.post(end_url(firm_a, worker), data=data)
        assert response.status_code == 200
        errors = field_errors(response.get_data(as_text=True), field)
        assert errors, (field, response.get_data(as_text=True)[:3000])
        assert errors == [message]
    assert memberships(in_db, worker)[0][2] is None
    assert end_records(in_db) == []


def test_a_double_submit_ends_once_and_ending_again_is_a_clear_message(
    in_db, clients, firm_a, admin_a, worker
):
    hr = clients(admin_a)
    data = {"reason": "left", "note": "", "ends_on": TODAY.isoformat(), "confirmed": "1"}
    first = hr.post(end_url(firm_a, worker), data=data)
    second = hr.post(end_url(firm_a, worker), data=data)
    assert first.status_code == 302
    assert second.status_code == 302
    assert second.headers["Location"] == f"/firms/{firm_a.id}/people?status=former"
    assert len(end_records(in_db)) == 1
    assert memberships(in_db, worker)[0][2] == TODAY

    again = hr.get(end_url(firm_a, worker), follow_redirects=True)
    assert again.status_code == 200
    assert "Moving Worker is no longer a member of 甲机械: the membership ended on" in text(again)
    assert len(end_records(in_db)) == 1


def test_closing_the_account_is_offered_only_to_someone_left_with_no_role(
    app, in_db, count, clients, create_firm, firm_a, firm_b, admin_a, worker, make_user
):
    hr, own = clients(admin_a), clients(worker)
    assert 'name="close_account"' in text(hr.get(end_url(firm_a, worker)))
    done = end(hr, firm_a, worker, close_account="y")
    assert done.status_code == 302
    assert in_db(lambda: db.session.get(User, worker.id).is_active_account) is False
    assert (
        count(UserSession, UserSession.user_id == worker.id, UserSession.revoked_at.is_(None)) == 0
    )
    assert own.get("/account").status_code == 302  # signed out everywhere
    assert end_records(in_db)[0][2]["account_closed"] is True

    # A person with a role in another firm keeps their account: no such option.
    two_jobs = make_user(role="worker", firm=firm_a, name="Two Jobs")
    in_db(
        lambda: (
            db.session.add(
                Membership(
                    user_id=two_jobs.id,
                    consortium_id=firm_b.consortium_id,
                    firm_id=firm_b.id,
                    role="trainer",
                    starts_on=JOINED,
                )
            ),
            db.session.commit(),
        )
    )
    form = text(hr.get(end_url(firm_a, two_jobs)))
    assert 'name="close_account"' not in form
    assert "They hold a role elsewhere, so their account stays open." in form
    assert end(hr, firm_a, two_jobs, close_account="y").status_code == 302
    assert in_db(lambda: db.session.get(User, two_jobs.id).is_active_account) is True
    two = clients(two_jobs)
    assert two.get(f"/firms/{firm_b.id}/people").status_code == 404  # a trainer, not an admin
    assert two.get("/account").status_code == 200


def test_an_admin_cannot_end_their_own_membership(in_db, clients, firm_a, admin_a):
    hr = clients(admin_a)
    assert f"/people/{admin_a.public_id}/end" not in text(hr.get(f"/firms/{firm_a.id}/people"))
    response = hr.post(
        end_url(firm_a, admin_a),
        data={"reason": "left", "ends_on": TODAY.isoformat(), "confirmed": "1"},
        follow_redirects=True,
    )
    assert "You cannot end your own membership." in text(response)
    assert memberships(in_db, admin_a)[0][2] is None


def test_workers_and_other_firms_cannot_end_a_membership(
    in_db, clients, firm_a, firm_b, admin_b, worker, make_user
):
    colleague = make_user(role="worker", firm=firm_a)
    data = {"reason": "left", "ends_on": TODAY.isoformat(), "confirmed": "1"}
    for caller in (colleague, admin_b):
        assert clients(caller).post(end_url(firm_a, worker), data=data).status_code == 404
    # Firm B's admin on their own firm's URL: the worker is not theirs.
    assert clients(admin_b).post(end_url(firm_b, worker), data=data).status_code == 404
    assert memberships(in_db, worker)[0][2] is None


# --- the former firm's view -----------------------------------------------------------------


def test_former_members_are_listed_read_only_with_when_and_why(
    in_db, clients, firm_a, admin_a, worker, make_user
):
    hr = clients(admin_a)
    stays = make_user(role="worker", firm=firm_a, name="Staying Worker")
    end(
        hr, firm_a, worker, reason="contract_ended", ends_on=(TODAY - timedelta(days=3)).isoformat()
    )

    current = hr.get(f"/firms/{firm_a.id}/people")
    assert sorted(names(current)) == sorted(["Admin A", "Staying Worker"])
    former = hr.get(f"/firms/{firm_a.id}/people?status=former")
    assert former.status_code == 200
    [row] = table_rows(former.get_data(as_text=True))
    cells = [c["text"] for c in row]
    assert cells[0] == "Moving Worker"
    assert cells[1] == "138****5678"
    assert cells[2] == "A-0042"
    assert cells[3] == "Jan 1, 2026"
    assert cells[5] == "Contract ended"
    page = text(former)
    assert "13812345678" not in page
    assert worker.email not in page
    # Read-only: no actions on a former member, and the page says what is still visible.
    for action in ("/end", "/skills", "/activation", "/transcript", "/deactivate"):
        assert f"{worker.public_id}{action}" not in page
    assert "Former members are shown read-only" in page
    assert "stay in this firm’s reports and hours ledger" in page
    assert stays.name not in page


def test_current_means_the_end_date_is_still_ahead(in_db, clients, firm_a, admin_a, make_user):
    """The rule of scope.current_membership_conditions: ends_on is the first day no longer a
    member, so an end date tomorrow is still current and one today is former."""
    hr = clients(admin_a)
    for name, ends_on in (("Ends Tomorrow", TODAY + timedelta(days=1)), ("Ended Today", TODAY)):
        person = make_user(name=name)
        in_db(
            lambda p=person, e=ends_on: (
                db.session.add(
                    Membership(
                        user_id=p.id,
                        consortium_id=firm_a.consortium_id,
                        firm_id=firm_a.id,
                        role="worker",
                        starts_on=JOINED,
                        ends_on=e,
                    )
                ),
                db.session.commit(),
            )
        )
    assert "Ends Tomorrow" in names(hr.get(f"/firms/{firm_a.id}/people"))
    assert "Ended Today" not in names(hr.get(f"/firms/{firm_a.id}/people"))
    former = hr.get(f"/firms/{firm_a.id}/people?status=former")
    assert names(former) == ["Ended Today"]
    assert "Not recorded" in text(former)  # ended before reasons were kept


def test_people_tables_are_labelled_for_phone_cards(clients, firm_a, admin_a, worker):
    hr = clients(admin_a)
    for url in (f"/firms/{firm_a.id}/people",):
        page = hr.get(url).get_data(as_text=True)
        assert 'class="people-table"' in page
        body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        assert re.findall(r"<td(?![^>]*data-label)", body) == []
    end(hr, firm_a, worker)
    page = hr.get(f"/firms/{firm_a.id}/people?status=former").get_data(as_text=True)
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert body.count("<td") == body.count("data-label=")


def test_an_unknown_status_filter_shows_current_members(clients, firm_a, admin_a, worker):
    response = clients(admin_a).get(f"/firms/{firm_a.id}/people?status=bogus")
    assert response.status_code == 200
    assert "Moving Worker" in names(response)


# --- moving to another member firm (issue 8's invitation) -----------------------------------


def _assigned_course(app, create_course, firm, person, admin, title):
    """A course assigned to `person` by `firm`'s admin."""
    from lms.courses.models import Course
    from lms.learning import service as learning
    from lms.tenancy.models import Firm

    course = create_course(firm, quiz=False, lessons=1, title=title)
    with app.test_request_context():
        learning.enroll(
            db.session.get(User, person.id),
            db.session.get(Course, course.id).versions[-1],
            source="firm",
            actor=db.session.get(User, admin.id),
            firm=db.session.get(Firm, firm.id),
        )
        db.session.commit()
    return course


def _invite_and_accept(hr_b, firm_b, person_client, mobile):
    response = hr_b.post(
        f"/firms/{firm_b.id}/people/invite",
        data={"name": "Moving Worker", "mobile": mobile, "email": "", "role": "worker"},
        follow_redirects=True,
    )
    found = re.findall(r'value="http://localhost/invite/([^"]+)"', response.get_data(as_text=True))
    assert len(found) == 1, response.get_data(as_text=True)[:3000]
    token = found[0]
    assert person_client.get(f"/invite/{token}").status_code == 200
    accepted = person_client.post(f"/invite/{token}")
    assert accepted.status_code == 302
    return token


@pytest.mark.parametrize("ended_in_a", [True, False], ids=["after-leaving-a", "while-still-in-a"])
def test_a_person_moves_to_another_member_firm_by_its_invitation(
    app, in_db, clients, create_course, firm_a, firm_b, admin_a, admin_b, worker, ended_in_a
):
    hr_a, hr_b, own = clients(admin_a), clients(admin_b), clients(worker)
    _assigned_course(app, create_course, firm_a, worker, admin_a, "甲厂安全规程")
    if ended_in_a:
        assert end(hr_a, firm_a, worker, reason="moved").status_code == 302

    _invite_and_accept(hr_b, firm_b, own, "13812345678")

    rows = memberships(in_db, worker)
    assert (firm_b.id, "worker", None, None, None, None) in rows
    assert len(rows) == 2
    # Firm B sees the person as its current member, with B's membership only.
    assert "Moving Worker" in names(hr_b.get(f"/firms/{firm_b.id}/people"))
    b_row = next(
        r
        for r in table_rows(hr_b.get(f"/firms/{firm_b.id}/people").get_data(as_text=True))
        if r[0]["text"] == "Moving Worker"
    )
    assert "A-0042" not in [c["text"] for c in b_row]  # A's employee number stays with A
    # … and none of firm A's assignments.
    assert "甲厂安全规程" not in text(hr_b.get(f"/firms/{firm_b.id}/enrollments"))
    transcript = hr_b.get(f"/firms/{firm_b.id}/people/{worker.public_id}/transcript")
    assert transcript.status_code == 200
    assert "甲厂安全规程" not in text(transcript)
    # The person keeps what is theirs.
    assert "甲厂安全规程" in text(own.get("/transcript"))
    # Firm A: a former member after leaving, a current one while still there.
    a_current = names(hr_a.get(f"/firms/{firm_a.id}/people"))
    a_former = names(hr_a.get(f"/firms/{firm_a.id}/people?status=former"))
    assert ("Moving Worker" in a_former) is ended_in_a
    assert ("Moving Worker" in a_current) is (not ended_in_a)
    assert "甲厂安全规程" in text(hr_a.get(f"/firms/{firm_a.id}/enrollments"))


# --- history ------------------------------------------------------------------------------------


def test_the_consortium_admin_and_the_person_see_the_membership_history(
    app,
    in_db,
    clients,
    make_user,
    create_consortium,
    consortium,
    firm_a,
    firm_b,
    admin_a,
    admin_b,
    worker,
):
    hr_a, hr_b, own = clients(admin_a), clients(admin_b), clients(worker)
    end(hr_a, firm_a, worker, reason="moved")
    _invite_and_accept(hr_b, firm_b, own, "13812345678")

    boss = clients(make_user(role="consortium_admin", consortium=consortium))
    listing = boss.get(f"/consortia/{consortium.id}/people")
    assert f"/consortia/{consortium.id}/people/{worker.public_id}" in listing.get_data(as_text=True)
    history = boss.get(f"/consortia/{consortium.id}/people/{worker.public_id}")
    assert history.status_code == 200
    rows = [[c["text"] for c in r] for r in table_rows(history.get_data(as_text=True))]
    assert [r[0] for r in rows] == ["乙电子", "甲机械"]  # newest first
    assert rows[1][2] == "A-0042" and rows[1][3] == "Jan 1, 2026"
    assert rows[1][5] == "Moved to another member firm"
    assert "Current" in rows[0][4]

    mine = own.get("/account/memberships")
    assert [[c["text"] for c in r][0] for r in table_rows(mine.get_data(as_text=True))] == [
        "乙电子",
        "甲机械",
    ]
    assert "/account/memberships" in own.get("/account").get_data(as_text=True)

    # A former member of the consortium is still found by its admin; nobody else's admin.
    end(hr_b, firm_b, worker, reason="left")
    former = boss.get(f"/consortia/{consortium.id}/people?status=former")
    assert names(former) == ["Moving Worker"]
    assert boss.get(f"/consortia/{consortium.id}/people/{worker.public_id}").status_code == 200
    stranger = clients(make_user(role="consortium_admin", consortium=create_consortium()))
    assert stranger.get(f"/consortia/{consortium.id}/people/{worker.public_id}").status_code == 404


# --- access matrix ------------------------------------------------------------------------------


def test_every_new_people_route_has_a_row(app):
    rows = {
        r.endpoint
        for r in app.url_map.iter_rules()
        if r.endpoint in ("tenancy.end_membership", "tenancy.consortium_person")
        or r.endpoint == "tenancy.my_memberships"
    }
    assert rows == PEOPLE_HISTORY_MATRIX.keys()


@pytest.fixture
def matrix_world(create_consortium, create_firm, create_user):
    consortium, elsewhere = create_consortium(), create_consortium()
    firm_a, firm_b = create_firm(consortium), create_firm(consortium)
    people = {
        "other_firm_worker": create_user(role="worker", firm=firm_b),
        "member_without": create_user(role="trainer", firm=firm_a),
        "consortium_admin": create_user(role="consortium_admin", consortium=consortium),
        "foreign_admin": create_user(role="consortium_admin", consortium=elsewhere),
        "firm_admin": create_user(role="firm_admin", firm=firm_a),
    }
    person = create_user(role="worker", firm=firm_a)
    ids = {"firm": firm_a.id, "consortium": consortium.id, "person": person.public_id}
    return people, ids


@pytest.mark.parametrize("endpoint", sorted(PEOPLE_HISTORY_MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_access(endpoint, persona, matrix_world, client, login):
    check_access(PEOPLE_HISTORY_MATRIX[endpoint], persona, *matrix_world, client, login)


def test_the_pages_render_for_chinese_speaking_admins_and_workers(
    create_user, clients, consortium, firm_a, worker
):
    """zh_CN dates and labels on every new page (the wording is checked in English above)."""
    hr = clients(create_user(role="firm_admin", firm=firm_a, locale="zh_CN"))
    boss = clients(create_user(role="consortium_admin", consortium=consortium, locale="zh_CN"))
    assert hr.get(end_url(firm_a, worker)).status_code == 200
    review = end(hr, firm_a, worker, confirm=False, reason="other", note="借调")
    assert review.status_code == 200 and "借调" in text(review)
    assert end(hr, firm_a, worker, reason="other", note="借调").status_code == 302
    former = hr.get(f"/firms/{firm_a.id}/people?status=former")
    assert former.status_code == 200
    assert "2026年1月1日" in text(former)
    for url in (
        f"/consortia/{consortium.id}/people?status=former",
        f"/consortia/{consortium.id}/people/{worker.public_id}",
    ):
        assert boss.get(url).status_code == 200, url
