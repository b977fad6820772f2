"""A firm admin's one-click reminder to overdue workers: its own firm's only, once a day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from lms.audit.models import AuditRecord
from lms.auth.models import User
from lms.core.types import utcnow
from lms.extensions import db
from lms.notifications import reminders, service
from lms.tenancy.models import Firm

from .conftest import TODAY, enrol, notes


@pytest.fixture
def cases(app, town):
    """Overdue enrolments: two of the firm's workers, one of the other firm's."""
    with app.test_request_context():
        late = enrol(town, town.worker, due_in=-2)
        late2 = enrol(town, town.worker2, due_in=-1)
        foreign = enrol(town, town.other_worker, due_in=-1, actor=town.other_admin)
        db.session.commit()
        return {
            "late": late.public_id,
            "late2": late2.public_id,
            "foreign": foreign.public_id,
        }


def _flash(client) -> str:
    with client.session_transaction() as session:
        return " ".join(str(m) for _, m in session.get("_flashes", []))


def _reminders(app, user=None):
    with app.app_context():
        return notes("assignment.reminder", user=user)


URL = "/firms/{}/overdue/remind"


def test_remind_one_overdue_worker_once_a_day(app, client, login, town, cases):
    login(town.admin)
    response = client.post(
        URL.format(town.firm.id), data={"enrollment": cases["late"], "next": "/firms/1/x?y=1"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/firms/1/x?y=1"
    assert "1 reminder sent." in _flash(client)
    (n,) = _reminders(app)
    assert n.user_id == town.worker.id and n.params["by"] == "王管理"
    with app.test_request_context(), force_locale("en"):
        assert service.message(n).startswith(
            "王管理 reminds you to complete the course “安全生产培训”"
        )
    # The double submit, or a second click today: nothing more.
    client.post(URL.format(town.firm.id), data={"enrollment": cases["late"]})
    assert "Already reminded today" in _flash(client)
    assert len(_reminders(app)) == 1
    with app.app_context():
        audit = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == "enrollment.remind")
        ).all()
        assert [(a.actor_id, a.target_id) for a in audit] == [(town.admin.id, cases["late"])]


def test_several_at_once_and_a_not_overdue_one_is_ignored(app, client, login, town, cases):
    with app.test_request_context():
        done = enrol(town, town.second_admin, due_in=-3)
        done.status, done.completed_at = "completed", utcnow()
        db.session.commit()
        done_id = done.public_id
    login(town.admin)
    response = client.post(
        URL.format(town.firm.id), data={"enrollment": [cases["late"], cases["late2"], done_id]}
    )
    assert response.headers["Location"].endswith(f"/firms/{town.firm.id}/enrollments?overdue=1")
    assert "2 reminders sent." in _flash(client)
    assert sorted(n.user_id for n in _reminders(app)) == sorted([town.worker.id, town.worker2.id])
    client.post(URL.format(town.firm.id), data={"enrollment": done_id})
    assert "Nothing to remind" in _flash(client)


def test_another_firms_enrolment_is_not_found(app, client, login, town, cases):
    login(town.admin)
    for wanted in ([cases["foreign"]], [cases["late"], cases["foreign"]], ["no-such-id"]):
        response = client.post(URL.format(town.firm.id), data={"enrollment": wanted})
        assert response.status_code == 404
    assert _reminders(app) == []


def test_a_firm_outside_the_consortium_is_not_found(app, client, login, town, cases):
    login(town.foreign_admin)
    assert client.post(URL.format(town.firm.id), data={"all": "1"}).status_code == 404
    assert _reminders(app) == []


def test_a_worker_may_not_remind(app, client, login, town, cases):
    login(town.worker2)
    response = client.post(URL.format(town.firm.id), data={"enrollment": cases["late"]})
    assert response.status_code == 404
    assert _reminders(app) == []


def test_remind_all_overdue_of_the_firm_only(app, client, login, town, cases):
    login(town.admin)
    client.post(URL.format(town.firm.id), data={"all": "1"})
    assert "2 reminders sent." in _flash(client)
    assert town.other_worker.id not in [n.user_id for n in _reminders(app)]
    client.post(URL.format(town.firm.id), data={"all": "1"})
    assert "Already reminded today" in _flash(client)
    assert len(_reminders(app)) == 2


def test_the_consortium_admin_may_remind(app, client, login, town, cases):
    login(town.consortium_admin)
    response = client.post(URL.format(town.other_firm.id), data={"enrollment": cases["foreign"]})
    assert response.status_code == 302
    assert [n.user_id for n in _reminders(app)] == [town.other_worker.id]


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\t/evil.example", "javascript:x"]
)
def test_next_must_be_a_local_path(app, client, login, town, cases, target):
    login(town.admin)
    response = client.post(
        URL.format(town.firm.id), data={"enrollment": cases["late"], "next": target}
    )
    assert response.headers["Location"].endswith(f"/firms/{town.firm.id}/enrollments?overdue=1")


def test_the_reminder_arrives_even_if_turned_off(app, client, login, town, cases):
    with app.app_context():
        service.set_preferences(db.session.get(User, town.worker.id), app=set())
        db.session.commit()
    login(town.admin)
    client.post(URL.format(town.firm.id), data={"enrollment": cases["late"]})
    assert len(_reminders(app, town.worker)) == 1


def test_the_service_counts_and_skips(ctx, town):
    late = enrol(town, town.worker, due_in=-1)
    soon = enrol(town, town.worker2, due_in=1)
    theirs = enrol(town, town.other_worker, due_in=-1, actor=town.other_admin)
    admin = db.session.get(User, town.admin.id)
    firm = db.session.get(Firm, town.firm.id)
    assert reminders.remind_overdue(admin, firm, [late, soon, theirs]) == 1
    assert reminders.remind_overdue(admin, firm, [late]) == 0
    # Tomorrow is another day.
    tomorrow = TODAY + timedelta(days=1)
    assert reminders.remind_overdue(admin, firm, [late], today=tomorrow) == 1
    assert reminders.reminded_today([late, soon]) == {late.id}


def test_enrolments_page_has_the_buttons(app, client, login, town, cases):
    login(town.admin)
    page = client.get(f"/firms/{town.firm.id}/enrollments").get_data(as_text=True)
    assert f'action="/firms/{town.firm.id}/overdue/remind"' in page
    assert page.count('name="enrollment"') == 2
    assert 'name="all" value="1"' in page
    client.post(URL.format(town.firm.id), data={"enrollment": cases["late"]})
    page = client.get(f"/firms/{town.firm.id}/enrollments?overdue=1").get_data(as_text=True)
    assert page.count('name="enrollment"') == 1
    assert "Reminded today" in page
    assert 'name="next" value="/firms/' in page


def test_the_reminder_form_needs_csrf(app, client, login, town, cases, monkeypatch):
    login(town.admin)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post(URL.format(town.firm.id), data={"enrollment": cases["late"]})
    assert response.status_code == 400
    assert _reminders(app) == []
