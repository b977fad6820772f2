"""Two first visits of one worker at once cannot collide (issue 16): a page never ranks a
list itself, and two rankings of the same worker storing at the same moment (two processes
running the refresh task) both succeed, leaving one list. On PostgreSQL with real commits (the
old delete-then-insert gave one of them a UniqueViolation)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select

from lms import create_app
from lms.auth.models import User
from lms.demo.data import DEMO_PASSWORD
from lms.extensions import db
from lms.skills import recommendations
from lms.skills.models import RecommendationList
from lms.tenancy.models import Membership
from tests.stack.conftest import demo_database

WAIT = 30


@pytest.fixture(autouse=True)
def _rollback():
    """This module's sessions commit for real, on a database of its own."""
    yield


@pytest.fixture(scope="module")
def demo_app(stack_env, tmp_path_factory):
    env = demo_database(stack_env, "stack_recs", tmp_path_factory.mktemp("recs"))
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": env["LMS_DATABASE_URL"],
            "LMS_STORAGE_DIR": env["LMS_STORAGE_DIR"],
            "LMS_REDIS_URL": None,  # embedded mode: a requested ranking runs after the view
            "RATELIMIT_STORAGE_URI": "memory://",
            "WTF_CSRF_ENABLED": False,
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _a_worker_without_a_list(app) -> tuple[int, int]:
    with app.app_context():
        user_id, consortium_id = db.session.execute(
            select(Membership.user_id, Membership.consortium_id)
            .where(Membership.role == "worker", Membership.job_role_id.is_not(None))
            .order_by(Membership.id)
        ).first()
        db.session.execute(delete(RecommendationList).where(RecommendationList.user_id == user_id))
        db.session.commit()
        return user_id, consortium_id


def _lists_of(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).where(RecommendationList.user_id == user_id))


def test_two_rankings_of_one_worker_storing_at_once_both_succeed(demo_app, monkeypatch):
    app = demo_app
    user_id, consortium_id = _a_worker_without_a_list(app)
    both_ranked = threading.Barrier(2, timeout=WAIT)
    real_store = recommendations._store

    def store_together(*args, **kwargs):
        both_ranked.wait()  # both have ranked and found no list: they store at the same time
        return real_store(*args, **kwargs)

    monkeypatch.setattr(recommendations, "_store", store_together)
    errors = []

    def refresh():
        with app.app_context():
            try:
                recommendations.refresh_task([consortium_id, [user_id]])
                db.session.commit()
            except Exception as exc:  # noqa: BLE001  (the test reports any failure)
                errors.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert errors == []
    assert _lists_of(app, user_id) == 1


def test_two_first_visits_at_once_both_get_the_page(demo_app):
    app = demo_app
    user_id, _consortium_id = _a_worker_without_a_list(app)
    with app.app_context():
        user = db.session.get(User, user_id)
        login = user.email or user.mobile
    start = threading.Barrier(2, timeout=WAIT)
    statuses = []

    def visit():
        client = app.test_client()
        response = client.post("/login", data={"login": login, "password": DEMO_PASSWORD})
        assert response.status_code == 302
        start.wait()
        statuses.append(client.get("/").status_code)

    threads = [threading.Thread(target=visit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert statuses == [200, 200]
    assert _lists_of(app, user_id) == 1  # asked for by both, ranked, stored once
