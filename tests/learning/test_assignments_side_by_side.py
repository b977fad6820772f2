"""Two assigning parties, one enrolment: each firm's assignment (and the consortium's) is its own
row, side by side; nobody's action changes another party's row; the enrolment carries the
effective values (the earliest due date, mandatory if any assignment is) that the worker sees.

The review case (issue 12, hole 2): three workers placed by an HR-service firm ("firm 4") in a
manufacturer ("firm 1") belong to both. Firm 4 assigns a course; firm 1's admin then assigns it
by job role. Before, the reply said "assigned to 0 people; 3 already enrolled got the new due
date" and firm 4's assignments carried firm 1's due date, flag and assigner from then on."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lms.auth.models import User
from lms.core.types import utcnow
from lms.courses.models import Course
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Assignment, Enrollment
from lms.notifications.models import Notification
from lms.tenancy.models import Firm, Membership
from tests.learning.test_progress import _postgres_url, private_postgres_app  # noqa: F401

TODAY = date.today()
SOON = TODAY + timedelta(days=10)
LATER = TODAY + timedelta(days=20)


@pytest.fixture
def place(app, create_consortium, create_firm, create_user, create_role, create_course):
    """Firm 1 (a manufacturer) and firm 4 (the HR-service firm that placed three workers in
    firm 1: they belong to both, as fitters at firm 1), their admins, a consortium admin, a
    worker of firm 1 only, and a course."""
    consortium = create_consortium()
    firm1 = create_firm(consortium, name="唐山冀东智能装备", kind="chain_leader")
    firm4 = create_firm(consortium, name="唐山众才人力资源", kind="hr_service")
    create_role("fitter", name_zh="装配钳工")
    en = {"locale": "en"}
    shared = [create_user(role="worker", firm=firm4, name=f"派遣{i}") for i in range(3)]
    with app.app_context():
        for user in shared:
            db.session.add(
                Membership(
                    user_id=user.id,
                    consortium_id=consortium.id,
                    firm_id=firm1.id,
                    role="worker",
                    job_role_id="fitter",
                    starts_on=date(2026, 1, 1),
                )
            )
        db.session.commit()
    return SimpleNamespace(
        app=app,
        consortium=consortium,
        firm1=firm1,
        firm4=firm4,
        admin1=create_user(role="firm_admin", firm=firm1, name="冀东HR", **en),
        admin4=create_user(role="firm_admin", firm=firm4, name="众才HR", **en),
        consortium_admin=create_user(role="consortium_admin", consortium=consortium, **en),
        shared=shared,
        own=create_user(role="worker", firm=firm1, name="本厂工人"),
        course=create_course(firm1, title="设备点检"),
    )


def _as(place, login, user):
    """A client of its own signed in as `user` (admins of different firms side by side)."""
    c = place.app.test_client()
    login(user, c=c)
    return c


def _flash(client) -> str:
    with client.session_transaction() as session:
        return " ".join(str(m) for _, m in session.get("_flashes", []))


def _version_id(place) -> int:
    with place.app.app_context():
        return db.session.get(Course, place.course.id).versions[-1].id


def _post_firm_assign(client, firm, version_id, *, due_on, mandatory, **target):
    data = {"course": str(version_id), "due_on": due_on.isoformat() if due_on else "", **target}
    if mandatory:
        data["is_mandatory"] = "y"
    return client.post(f"/firms/{firm.id}/assign", data=data)


def _enrolments(place) -> dict[int, tuple]:
    """worker id → (due_on, is_mandatory, assigned_by_id) of their active enrolment."""
    with place.app.app_context():
        return {
            e.user_id: (e.due_on, e.is_mandatory, e.assigned_by_id)
            for e in db.session.scalars(
                select(Enrollment).where(
                    Enrollment.course_id == place.course.id, Enrollment.withdrawn_at.is_(None)
                )
            )
        }


def _assignments(place) -> dict[tuple[int, int | None], tuple]:
    """(worker id, assigning firm id or None) → (due_on, is_mandatory, assigned_by_id, source)."""
    with place.app.app_context():
        return {
            (a.user_id, a.firm_id): (a.due_on, a.is_mandatory, a.assigned_by_id, a.source)
            for a in db.session.scalars(
                select(Assignment).where(Assignment.course_id == place.course.id)
            )
        }


# --- the review case, through the pages ---------------------------------------------------------


def test_firm_1_assigning_by_job_role_leaves_firm_4s_assignments_as_they_were(app, login, place):
    version_id = _version_id(place)
    client = _as(place, login, place.admin4)
    response = _post_firm_assign(
        client,
        place.firm4,
        version_id,
        due_on=SOON,
        mandatory=True,
        target="people",
        people=[u.public_id for u in place.shared],
    )
    assert response.status_code == 302
    assert "Assigned to 3 people" in _flash(client)

    client = _as(place, login, place.admin1)
    response = _post_firm_assign(
        client,
        place.firm1,
        version_id,
        due_on=LATER,
        mandatory=False,
        target="job_role",
        job_role="fitter",
    )
    assert response.status_code == 302
    reply = _flash(client)
    # What the workers see: firm 4's earlier due date, mandatory, assigned by firm 4's admin.
    assert _enrolments(place) == {u.id: (SOON, True, place.admin4.id) for u in place.shared}
    # Three new assignments of firm 1 (the workers were enrolled through firm 4), none updated.
    assert "Assigned to 3 people; 0 of your earlier assignments were updated" in reply, reply
    rows = _assignments(place)
    for u in place.shared:
        assert rows[(u.id, place.firm4.id)] == (SOON, True, place.admin4.id, "firm")
        assert rows[(u.id, place.firm1.id)] == (LATER, False, place.admin1.id, "firm")
    assert len(rows) == 6


def test_a_firm_admins_reassignment_updates_only_its_own_row(app, login, place):
    version_id = _version_id(place)
    people = [u.public_id for u in place.shared]
    client = _as(place, login, place.admin1)
    _post_firm_assign(
        client,
        place.firm1,
        version_id,
        due_on=SOON,
        mandatory=False,
        target="job_role",
        job_role="fitter",
    )
    client = _as(place, login, place.admin4)
    _post_firm_assign(
        client,
        place.firm4,
        version_id,
        due_on=LATER,
        mandatory=True,
        target="people",
        people=people,
    )
    assert "Assigned to 3 people; 0 of your earlier" in _flash(client)
    before4 = {k: v for k, v in _assignments(place).items() if k[1] == place.firm4.id}
    # Firm 1 moves its own due date after firm 4's: firm 4's rows don't move, and the
    # workers now see firm 4's date (the earliest), mandatory (firm 4's flag) and its admin.
    later_still = LATER + timedelta(days=5)
    client = _as(place, login, place.admin1)
    _post_firm_assign(
        client,
        place.firm1,
        version_id,
        due_on=later_still,
        mandatory=False,
        target="job_role",
        job_role="fitter",
    )
    assert "Assigned to 0 people; 3 of your earlier assignments were updated" in _flash(client)
    rows = _assignments(place)
    assert {k: v for k, v in rows.items() if k[1] == place.firm4.id} == before4
    for u in place.shared:
        assert rows[(u.id, place.firm1.id)] == (later_still, False, place.admin1.id, "firm")
    assert _enrolments(place) == {u.id: (LATER, True, place.admin4.id) for u in place.shared}
    # The double submit: the effect of one, and the reply says nothing changed.
    _post_firm_assign(
        client,
        place.firm1,
        version_id,
        due_on=later_still,
        mandatory=False,
        target="job_role",
        job_role="fitter",
    )
    reply = _flash(client)
    assert "Assigned to 0 people; 0 of your earlier assignments were updated; 3" in reply, reply
    assert _assignments(place) == rows
    with app.app_context():
        count = db.session.scalar(
            select(db.func.count()).where(Enrollment.course_id == place.course.id)
        )
        assert count == 3


def test_a_consortium_admins_assignment_is_its_own_row(app, login, place):
    version_id = _version_id(place)
    client = _as(place, login, place.admin4)
    _post_firm_assign(
        client,
        place.firm4,
        version_id,
        due_on=LATER,
        mandatory=False,
        target="people",
        people=[u.public_id for u in place.shared],
    )
    client = _as(place, login, place.consortium_admin)
    response = client.post(
        f"/consortia/{place.consortium.id}/assign",
        data={
            "course": str(version_id),
            "firms": [str(place.firm1.id)],
            "due_on": SOON.isoformat(),
            "is_mandatory": "y",
        },
    )
    assert response.status_code == 302
    # Firm 1's current workers: the three shared ones (new for the consortium) and its own.
    assert "Assigned to 4 people; 0 of your earlier assignments were updated" in _flash(client)
    rows = _assignments(place)
    for u in place.shared:
        assert rows[(u.id, place.firm4.id)] == (LATER, False, place.admin4.id, "firm")
        assert rows[(u.id, None)] == (SOON, True, place.consortium_admin.id, "consortium")
    assert rows[(place.own.id, None)] == (SOON, True, place.consortium_admin.id, "consortium")
    assert _enrolments(place)[place.shared[0].id] == (SOON, True, place.consortium_admin.id)
    # Firm 4 assigns again: the consortium's row stays as it is.
    client = _as(place, login, place.admin4)
    _post_firm_assign(
        client,
        place.firm4,
        version_id,
        due_on=TODAY + timedelta(days=3),
        mandatory=False,
        target="people",
        people=[u.public_id for u in place.shared],
    )
    again = _assignments(place)
    for u in place.shared:
        assert again[(u.id, None)] == rows[(u.id, None)]
    assert _enrolments(place)[place.shared[0].id] == (
        TODAY + timedelta(days=3),
        True,  # the consortium's assignment is mandatory
        place.admin4.id,
    )
    with app.app_context():
        party_keys = {(a.firm_id, a.party_key) for a in db.session.scalars(select(Assignment))}
        assert party_keys == {(None, 0), (place.firm4.id, place.firm4.id)}


# --- the service ---------------------------------------------------------------------------------


def _users(*people) -> list[User]:
    return [db.session.get(User, p.id) for p in people]


def _assign(place, admin, people, *, firm, due_on, mandatory=False, source="firm"):
    version = db.session.get(Course, place.course.id).versions[-1]
    return learning.assign_course(
        db.session.get(User, admin.id),
        version,
        _users(*people),
        source=source,
        due_on=due_on,
        is_mandatory=mandatory,
        firm=db.session.get(Firm, firm.id) if firm is not None else None,
    )


def _enrolment(place, worker) -> Enrollment:
    return db.session.scalars(
        select(Enrollment).where(
            Enrollment.user_id == worker.id,
            Enrollment.course_id == place.course.id,
            Enrollment.withdrawn_at.is_(None),
        )
    ).one()


def _row(place, worker, firm):
    return db.session.scalars(
        select(Assignment).where(
            Assignment.enrollment_id == _enrolment(place, worker).id,
            Assignment.party_key == (firm.id if firm is not None else 0),
        )
    ).one()


def day(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


def _due(place, worker, firm, days: int) -> None:
    """Let time pass: the firm's assignment of `worker` is due `days` from today."""
    _row(place, worker, firm).due_on = TODAY + timedelta(days=days)
    learning.apply_assignments(_enrolment(place, worker))


def test_the_reply_counts_new_assignments_own_updates_and_the_rest(ctx, place):
    counts = _assign(place, place.admin4, place.shared[:2], firm=place.firm4, due_on=SOON)
    assert counts == {"assigned": 2, "updated": 0, "unchanged": 0}
    done = _assign(place, place.admin1, [place.own], firm=place.firm1, due_on=SOON)
    assert done["assigned"] == 1
    e = _enrolment(place, place.own)
    e.status, e.completed_at = "completed", utcnow()
    db.session.flush()
    # Firm 1: two workers enrolled through firm 4 (new for firm 1), one not yet enrolled, and
    # its own worker who completed the course (nothing to do); a worker listed twice counts once.
    everyone = [*place.shared, place.shared[0], place.own]
    counts = _assign(place, place.admin1, everyone, firm=place.firm1, due_on=LATER)
    assert counts == {"assigned": 3, "updated": 0, "unchanged": 1}
    counts = _assign(place, place.admin1, everyone, firm=place.firm1, due_on=SOON, mandatory=True)
    assert counts == {"assigned": 0, "updated": 3, "unchanged": 1}
    assert _row(place, place.shared[0], place.firm4).due_on == SOON
    assert not _row(place, place.shared[0], place.firm4).is_mandatory


def test_the_earliest_due_date_is_what_the_worker_sees_whoever_set_it(ctx, place):
    worker = place.shared[0]
    _assign(place, place.admin4, [worker], firm=place.firm4, due_on=LATER)
    _assign(place, place.admin1, [worker], firm=place.firm1, due_on=SOON, mandatory=True)
    e = _enrolment(place, worker)
    assert (e.due_on, e.is_mandatory, e.assigned_by_id) == (SOON, True, place.admin1.id)
    firm4_row = _row(place, worker, place.firm4)
    stamp = firm4_row.updated_at
    # Firm 1 moves its date past firm 4's: the worker now sees firm 4's, still mandatory.
    _assign(place, place.admin1, [worker], firm=place.firm1, due_on=LATER + timedelta(days=1))
    assert (e.due_on, e.is_mandatory, e.assigned_by_id) == (LATER, True, place.admin4.id)
    assert (firm4_row.due_on, firm4_row.is_mandatory, firm4_row.updated_at) == (
        LATER,
        False,
        stamp,
    )
    # The worker's list orders by the date they see.
    from lms.learning.service import learning_list

    assert db.session.scalars(learning_list(db.session.get(User, worker.id))).all() == [e]


def test_each_firm_sees_and_reminds_about_its_own_overdue_assignments(ctx, place):
    from lms.notifications import reminders
    from lms.reports import figures

    s0, s1, s2 = place.shared
    _assign(place, place.admin4, place.shared, firm=place.firm4, due_on=SOON, mandatory=True)
    _assign(place, place.admin1, [s0, s1, place.own], firm=place.firm1, due_on=LATER)
    _due(place, s0, place.firm4, -5)
    _due(place, s0, place.firm1, -2)
    _due(place, s1, place.firm1, -1)  # firm 4's assignment of s1 is not due yet
    _due(place, place.own, place.firm1, -3)
    e0, e1, e2, own = (_enrolment(place, w) for w in (s0, s1, s2, place.own))
    assert (e0.due_on, e0.is_mandatory, e0.assigned_by_id) == (
        TODAY - timedelta(days=5),
        True,
        place.admin4.id,
    )
    assert (e1.due_on, e1.is_mandatory, e1.assigned_by_id) == (
        TODAY - timedelta(days=1),
        True,
        place.admin1.id,
    )

    def firm_slice(firm):
        f = figures.parse_filters({}, consortium_id=place.consortium.id, firm_id=firm and firm.id)
        return figures.make_slice(place.consortium.id, f)

    def people(s, metric):
        return [
            (r.enrollment_id, (r.due_on - TODAY).days, r.is_mandatory, r.firm)
            for r in db.session.execute(figures.people_query(s, metric))
        ]

    f1, f4, everyone = firm_slice(place.firm1), firm_slice(place.firm4), firm_slice(None)
    name1, name4 = "唐山冀东智能装备", "唐山众才人力资源"
    # Each firm's overdue list: its own assignments with its own dates and flags.
    assert people(f1, "overdue_all") == [
        (own.public_id, -3, False, name1),
        (e0.public_id, -2, False, name1),
        (e1.public_id, -1, False, name1),
    ]
    assert people(f4, "overdue_all") == [(e0.public_id, -5, True, name4)]
    # Every figure equals its drill-down.
    for s in (f1, f4, everyone):
        assert db.session.scalar(figures.overdue_count(s)) == len(people(s, "overdue_all"))
        assert figures.headline(s)["overdue"] == len(people(s, "overdue"))
    assert [figures.headline(s)["overdue"] for s in (f1, f4, everyone)] == [0, 1, 1]
    assert db.session.scalar(figures.overdue_count(everyone)) == 4
    by_firm = {r["firm_id"]: r["overdue"] for r in figures.by_firm(everyone)}
    assert by_firm == {place.firm1.id: 0, place.firm4.id: 1}
    roles = {r["job_role_id"]: r["overdue"] for r in figures.by_job_role(f1)}
    assert roles == {"fitter": 2, None: 1}
    # The firm's page of assignments, "only overdue".
    overdue1 = db.session.scalars(learning.list_enrollments(firm=place.firm1, overdue=True))
    assert {e.id for e in overdue1} == {e0.id, e1.id, own.id}
    overdue4 = db.session.scalars(learning.list_enrollments(firm=place.firm4, overdue=True))
    assert [e.id for e in overdue4] == [e0.id]
    listed4 = db.session.scalars(learning.list_enrollments(firm=place.firm4)).all()
    assert {e.id for e in listed4} == {e0.id, e1.id, e2.id}

    # The daily job: the worker once per enrolment (the date they see); each firm's admins
    # about their own assignment.
    assert reminders.send_overdue(TODAY) == 7
    sent = db.session.scalars(
        select(Notification).where(Notification.kind == "assignment.overdue")
    ).all()
    got = sorted((n.user_id, n.params["due_on"], n.url) for n in sent)
    mine = f"/learn/{e0.public_id}"
    list1 = f"/firms/{place.firm1.id}/enrollments?overdue=1"
    list4 = f"/firms/{place.firm4.id}/enrollments?overdue=1"
    assert got == sorted(
        [
            (s0.id, day(-5), mine),
            (s1.id, day(-1), f"/learn/{e1.public_id}"),
            (place.own.id, day(-3), f"/learn/{own.public_id}"),
            (place.admin4.id, day(-5), list4),
            (place.admin1.id, day(-2), list1),
            (place.admin1.id, day(-1), list1),
            (place.admin1.id, day(-3), list1),
        ]
    )
    assert reminders.send_overdue(TODAY) == 0
    assert reminders.send_due_soon(TODAY) == 0  # s2 is due in 10 days

    # One-click reminders: the firm's own overdue assignments, with its own date.
    admin4, firm4 = db.session.get(User, place.admin4.id), db.session.get(Firm, place.firm4.id)
    assert reminders.is_overdue(e1) and not reminders.is_overdue(e1, firm=firm4)
    assert reminders.firm_enrollments(firm4, [e1.public_id]) == [e1]
    assert reminders.remind_overdue(admin4, firm4, [e1]) == 0
    assert reminders.remind_all_overdue(admin4, firm4) == (1, 1)
    (note,) = db.session.scalars(
        select(Notification).where(Notification.kind == "assignment.reminder")
    ).all()
    assert (note.user_id, note.params["due_on"], note.params["by"]) == (s0.id, day(-5), "众才HR")
    admin1, firm1 = db.session.get(User, place.admin1.id), db.session.get(Firm, place.firm1.id)
    # A worker hears at most one reminder a day per course, whichever firm sends it.
    assert reminders.remind_all_overdue(admin1, firm1) == (2, 3)
    assert reminders.firm_enrollments(firm1, [e2.public_id]) is None  # firm 4's alone


def test_a_withdrawn_enrolment_assigned_again_keeps_the_other_firms_assignment(ctx, place):
    worker = place.shared[0]
    _assign(place, place.admin4, [worker], firm=place.firm4, due_on=LATER, mandatory=True)
    learning.withdraw(db.session.get(User, worker.id), _enrolment(place, worker))
    counts = _assign(place, place.admin1, [worker], firm=place.firm1, due_on=SOON)
    assert counts == {"assigned": 1, "updated": 0, "unchanged": 0}
    e = _enrolment(place, worker)
    assert (e.due_on, e.is_mandatory, e.assigned_by_id) == (SOON, True, place.admin1.id)
    row4 = _row(place, worker, place.firm4)
    assert (row4.due_on, row4.is_mandatory, row4.assigned_by_id) == (LATER, True, place.admin4.id)


def test_the_same_firms_concurrent_request_makes_one_assignment(ctx, place, monkeypatch):
    worker = place.shared[0]
    _assign(place, place.admin4, [worker], firm=place.firm4, due_on=LATER)
    _assign(place, place.admin1, [worker], firm=place.firm1, due_on=LATER)
    # The other request inserted firm 1's row between this one's look and its insert.
    real = learning._own_assignment
    calls = []

    def late_look(enrollment, firm_id):
        calls.append(firm_id)
        return None if len(calls) == 1 else real(enrollment, firm_id)

    monkeypatch.setattr(learning, "_own_assignment", late_look)
    counts = _assign(place, place.admin1, [worker], firm=place.firm1, due_on=SOON)
    assert counts == {"assigned": 0, "updated": 1, "unchanged": 0}
    assert _row(place, worker, place.firm1).due_on == SOON
    assert _row(place, worker, place.firm4).due_on == LATER
    e = _enrolment(place, worker)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(
            Assignment(
                consortium_id=e.consortium_id,
                firm_id=place.firm1.id,
                party_key=place.firm1.id,
                enrollment_id=e.id,
                user_id=e.user_id,
                course_id=e.course_id,
                source="firm",
            )
        )
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(  # the party key is the firm's id, never another
            Assignment(
                consortium_id=e.consortium_id,
                firm_id=place.firm1.id,
                party_key=0,
                enrollment_id=e.id,
                user_id=e.user_id,
                course_id=e.course_id,
                source="firm",
            )
        )


def test_a_consortium_admin_on_a_firms_page_assigns_for_that_firm(ctx, place):
    worker = place.shared[0]
    _assign(place, place.admin1, [worker], firm=place.firm1, due_on=LATER)
    counts = _assign(place, place.consortium_admin, [worker], firm=place.firm4, due_on=SOON)
    assert counts["assigned"] == 1
    assert _row(place, worker, place.firm4).assigned_by_id == place.consortium_admin.id
    assert _row(place, worker, place.firm1).due_on == LATER


def test_without_a_named_firm_the_admins_own_firm_is_the_party(ctx, place):
    """The path assignment on a person's skills page names no firm: a firm admin assigns as
    the firm of the worker's they administer."""
    worker = place.shared[1]
    _assign(place, place.admin4, [worker], firm=None, due_on=LATER)
    _assign(place, place.admin1, [worker], firm=None, due_on=SOON)
    assert _row(place, worker, place.firm4).assigned_by_id == place.admin4.id
    assert _row(place, worker, place.firm1).assigned_by_id == place.admin1.id


def test_a_recertification_keeps_the_earlier_date_and_touches_no_other_firm(ctx, place):
    worker = place.shared[0]
    _assign(place, place.admin4, [worker], firm=place.firm4, due_on=LATER)
    _assign(place, place.admin1, [worker], firm=place.firm1, due_on=SOON)
    e = _enrolment(place, worker)
    outcome = learning.record_assignment(
        e, actor=None, firm_id=place.firm1.id, source="recert", due_on=LATER, is_mandatory=True
    )
    assert outcome == "updated"
    row1 = _row(place, worker, place.firm1)
    assert (row1.due_on, row1.is_mandatory, row1.assigned_by_id) == (SOON, True, place.admin1.id)
    row4 = _row(place, worker, place.firm4)
    assert (row4.due_on, row4.is_mandatory) == (LATER, False)
    assert (e.due_on, e.is_mandatory) == (SOON, True)


def test_a_date_set_without_an_assignment_is_kept_as_one(ctx, place):
    """A recertification that wrote the enrolment's date directly (before it went through the
    service) is not lost when a firm assigns the course: it becomes the worker's firm's."""
    worker = place.own
    version = db.session.get(Course, place.course.id).versions[-1]
    e, _ = learning.enroll(db.session.get(User, worker.id), version)
    e.source, e.due_on, e.is_mandatory = "recert", SOON, True
    db.session.flush()
    _assign(place, place.admin4, [worker], firm=place.firm4, due_on=LATER)
    assert (e.due_on, e.is_mandatory) == (SOON, True)
    rows = db.session.scalars(select(Assignment).where(Assignment.enrollment_id == e.id)).all()
    assert sorted((r.firm_id, r.source, r.due_on) for r in rows) == sorted(
        [(place.firm1.id, "recert", SOON), (place.firm4.id, "firm", LATER)]
    )


def test_the_firms_overdue_list_and_the_admins_scan_can_use_the_assignment_indexes(ctx, place):
    from sqlalchemy import text

    from lms.notifications import reminders
    from lms.reports import figures

    bind = db.session.get_bind()
    explain = "EXPLAIN QUERY PLAN" if bind.dialect.name == "sqlite" else "EXPLAIN"
    if bind.dialect.name == "postgresql":
        # An empty table is read whole; what matters is that the partial index applies.
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
    f = figures.parse_filters({}, consortium_id=place.consortium.id, firm_id=place.firm1.id)
    firm_list = figures.people_query(figures.make_slice(place.consortium.id, f), "overdue_all")
    scan = reminders._scan_assignments(place.consortium.id, TODAY, TODAY, None)
    for query in (firm_list, scan):
        compiled = query.compile(bind, compile_kwargs={"literal_binds": True})
        plan = db.session.execute(text(f"{explain} {compiled}")).all()
        assert any("ix_assignments_" in str(row) for row in plan), plan


# --- concurrency on PostgreSQL ---------------------------------------------------------------


@pytest.mark.skipif(_postgres_url() is None, reason="needs LMS_TEST_DATABASE_URL on PostgreSQL")
def test_parties_assigning_at_once_each_keep_one_row_and_the_earliest_date_wins(
    private_postgres_app,  # noqa: F811
    tmp_path,
):
    import threading

    from lms.courses.package import read_package
    from lms.courses.service import import_package
    from lms.tenancy.models import Consortium
    from tests.conftest import _PASSWORD_HASH, valid_credit_code, write_package

    app = private_postgres_app
    with app.test_request_context():
        consortium = Consortium(
            code="SIDE", name="并行指派", city="唐山", region="east", sectors=[]
        )
        firm1 = Firm(
            consortium=consortium,
            name="冀东",
            kind="chain_leader",
            credit_code=valid_credit_code(515151),
        )
        firm4 = Firm(
            consortium=consortium,
            name="众才",
            kind="hr_service",
            credit_code=valid_credit_code(525252),
        )
        people = {
            key: User(name=key, email=f"{key}@example.com", password_hash=_PASSWORD_HASH)
            for key in ("worker", "admin1", "admin4", "cadmin")
        }
        db.session.add_all([consortium, firm1, firm4, *people.values()])
        db.session.flush()
        for key, firm, role in (
            ("worker", firm1, "worker"),
            ("worker", firm4, "worker"),
            ("admin1", firm1, "firm_admin"),
            ("admin4", firm4, "firm_admin"),
            ("cadmin", None, "consortium_admin"),
        ):
            db.session.add(
                Membership(
                    user=people[key],
                    consortium_id=consortium.id,
                    firm_id=firm.id if firm else None,
                    role=role,
                    starts_on=date(2026, 1, 1),
                )
            )
        package = read_package(
            write_package(tmp_path / "pkgs", "side-by-side", lessons=1, quiz=False),
            known_skills=set(),
            known_courses=set(),
        )
        version, _ = import_package(None, consortium, firm1, package)
        db.session.flush()
        learning.assign_course(
            people["admin4"],
            version,
            [people["worker"]],
            source="firm",
            due_on=LATER,
            is_mandatory=False,
            firm=firm4,
        )
        db.session.commit()
        ids = {key: u.id for key, u in people.items()}
        firm_ids = {"admin1": firm1.id, "admin4": firm4.id, "cadmin": None}
        version_id = version.id

    # (who, due in days, mandatory): each party twice (a double submit), in a mixed order.
    plan = [
        ("admin1", 15, False),
        ("cadmin", 12, True),
        ("admin4", 9, False),
        ("admin1", 15, False),
        ("admin4", 9, False),
        ("cadmin", 12, True),
    ]
    barrier = threading.Barrier(len(plan))
    errors: list[BaseException] = []

    def assign(who: str, days: int, mandatory: bool) -> None:
        from lms.courses.models import CourseVersion

        try:
            with app.test_request_context():
                actor = db.session.get(User, ids[who])
                worker = db.session.get(User, ids["worker"])
                version = db.session.get(CourseVersion, version_id)
                firm = db.session.get(Firm, firm_ids[who]) if firm_ids[who] else None
                barrier.wait(timeout=30)
                learning.assign_course(
                    actor,
                    version,
                    [worker],
                    source="consortium" if firm is None else "firm",
                    due_on=TODAY + timedelta(days=days),
                    is_mandatory=mandatory,
                    firm=firm,
                )
                db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=assign, args=step) for step in plan]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    with app.app_context():
        rows = db.session.scalars(select(Assignment).order_by(Assignment.party_key)).all()
        got = {(r.firm_id, (r.due_on - TODAY).days, r.is_mandatory) for r in rows}
        assert len(rows) == 3
        assert got == {
            (None, 12, True),
            (firm_ids["admin1"], 15, False),
            (firm_ids["admin4"], 9, False),
        }
        e = db.session.scalars(select(Enrollment)).one()
        assert (e.due_on, e.is_mandatory, e.assigned_by_id) == (
            TODAY + timedelta(days=9),
            True,
            ids["admin4"],
        )
        db.session.remove()
