"""Per-user choices: each kind on or off in the app and by e-mail."""

from __future__ import annotations

import pytest

from lms.auth.models import User
from lms.extensions import db
from lms.notifications import service
from lms.notifications.models import NotificationPreference

ALWAYS = {"certificate.issued", "certificate.expiring", "certificate.expired"}
ALWAYS |= {"assignment.reminder"}


@pytest.fixture
def worker(create_firm, create_user):
    return create_user(role="worker", firm=create_firm(), locale="en")


def test_new_kinds_are_registered_with_a_label_and_templates():
    for kind in (
        "assignment.given",
        "assignment.due_soon",
        "assignment.overdue",
        "assignment.reminder",
        "course.approved",
        "course.returned",
    ):
        assert kind in service.KINDS and service.KINDS[kind].messages
    assert {k for k, v in service.KINDS.items() if v.always} == ALWAYS


def test_turned_off_in_the_app_means_not_notified(ctx, worker):
    user = db.session.get(User, worker.id)
    service.set_preferences(user, app=set(service.optional_kinds()) - {"assignment.overdue"})
    assert service.notify(user, "assignment.overdue", "k:off", None, course="c") is None
    assert service.notify(user, "assignment.given", "k:on", None, course="c") is not None
    # Kinds that must arrive ignore the choice, even when it names them.
    pref = db.session.get(NotificationPreference, worker.id)
    pref.app_off = sorted(service.KINDS)
    db.session.flush()
    assert service.notify(user, "assignment.reminder", "k:rem", None, course="c") is not None
    assert service.notify(user, "certificate.issued", "k:cert", None, course="c") is not None
    assert service.notify(user, "course.approved", "k:appr", None, course="c") is None


def test_notify_many_skips_sent_keys_and_opt_outs(ctx, worker, create_user):
    other = create_user()
    service.set_preferences(db.session.get(User, other.id), app=set())
    service.notify(worker.id, "assignment.given", "k:m1", None, course="c")
    added = service.notify_many(
        [
            service.Pending(worker.id, "assignment.given", "k:m1", None, {"course": "c"}),
            service.Pending(worker.id, "assignment.due_soon", "k:m2", None, {"course": "c"}),
            service.Pending(worker.id, "assignment.due_soon", "k:m2", None, {"course": "c"}),
            service.Pending(other.id, "assignment.due_soon", "k:m3", None, {"course": "c"}),
            service.Pending(other.id, "assignment.reminder", "k:m4", None, {"course": "c"}),
        ]
    )
    assert [n.key for n in added] == ["k:m2", "k:m4"]
    with pytest.raises(ValueError):
        service.notify_many([service.Pending(worker.id, "nope", "k:x", None, {})])


def test_the_page_offers_both_channels(client, login, worker):
    login(worker)
    page = client.get("/notifications").get_data(as_text=True)
    for kind in service.optional_kinds():
        assert f'name="app" value="{kind}" checked' in page
    for kind in ALWAYS:
        assert f'name="app" value="{kind}"' not in page
        assert f'name="email" value="{kind}" checked' in page
    assert "Always" in page and 'name="app_choices"' in page


def test_saving_choices_twice_has_one_effect(app, client, login, worker):
    login(worker)
    data = {
        "app_choices": "1",
        "app": ["assignment.given", "course.returned"],
        "email": ["certificate.issued", "assignment.overdue"],
    }
    for _ in range(2):
        response = client.post("/notifications/preferences", data=data)
        assert response.status_code == 302
    with app.app_context():
        pref = db.session.get(NotificationPreference, worker.id)
        assert set(pref.app_off) == set(service.optional_kinds()) - {
            "assignment.given",
            "course.returned",
        }
        assert set(pref.email_off) == set(service.KINDS) - {
            "certificate.issued",
            "assignment.overdue",
        }
        assert db.session.query(NotificationPreference).filter_by(user_id=worker.id).count() == 1
    page = client.get("/notifications").get_data(as_text=True)
    assert 'name="app" value="assignment.given" checked' in page
    assert 'name="app" value="assignment.overdue" >' in page
    assert "Your notification choices are saved." in page


def test_a_post_without_the_app_part_leaves_app_choices_alone(app, client, login, worker):
    with app.app_context():
        service.set_preferences(db.session.get(User, worker.id), app={"assignment.given"})
        db.session.commit()
    login(worker)
    client.post("/notifications/preferences", data={"email": ["certificate.issued"]})
    with app.app_context():
        pref = db.session.get(NotificationPreference, worker.id)
        assert "assignment.given" not in pref.app_off and "course.approved" in pref.app_off


def test_unknown_kinds_are_ignored(app, client, login, worker):
    login(worker)
    client.post(
        "/notifications/preferences",
        data={"app_choices": "1", "app": ["no.such", "assignment.given"], "email": ["x.y"]},
    )
    with app.app_context():
        pref = db.session.get(NotificationPreference, worker.id)
        assert "no.such" not in pref.app_off and "assignment.given" not in pref.app_off
        assert set(pref.email_off) == set(service.KINDS)


def test_the_preferences_form_needs_csrf(app, client, login, worker, monkeypatch):
    login(worker)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post("/notifications/preferences", data={"app_choices": "1"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(NotificationPreference, worker.id) is None
