"""Outages: with Redis or the database unreachable, or a connection killed mid-request, a request
gets a translated 503 with Retry-After that renders without the database (JSON for JSON
callers), never the raw "Internal Server Error"; rate limits fall back to memory; /readyz names
what is down; and the session loader writes at most once a minute, not on every request.

The shared services are never stopped: Redis is an unused port and the database an unreachable
PostgreSQL, in apps of their own."""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from datetime import timedelta

import pytest
import redis
from flask import Flask
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import create_engine, event, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import scoped_session, sessionmaker
from sqlalchemy.pool import NullPool

from lms import create_app
from lms.auth.models import UserSession
from lms.certificates.codes import new_code
from lms.core.types import utcnow
from lms.extensions import db, limiter
from tests.conftest import PASSWORD, TEST_CONFIG, database_kind, database_url

DEAD_REDIS = "redis://127.0.0.1:1/0"
DEAD_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/x"
LIVE_REDIS = "redis://127.0.0.1:6379/11"
EN = {"Accept-Language": "en"}
UNAVAILABLE = "Temporarily unavailable"
UNAVAILABLE_TEXT = (
    "The site cannot reach its database or another service it needs right now. Wait a minute "
    "and try again; if you were saving something, check afterwards that it was saved."
)
COOKIE = "lms_session"


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def assert_unavailable_page(response) -> None:
    """The translated 503 page (English here), with Retry-After, and nothing of a raw 500."""
    text = page_text(response)
    assert response.status_code == 503
    # 30 s, or when the route's rate-limit window ends if that is later (Flask-Limiter).
    assert int(response.headers["Retry-After"]) >= 30
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.mimetype == "text/html"
    assert UNAVAILABLE in text and UNAVAILABLE_TEXT in text
    assert "Internal Server Error" not in text


@pytest.fixture
def build_app(monkeypatch):
    """build_app(**config): another app on the test database (its rows come through the
    test's session). The limiter is one object for every app of the process: an app built
    here rebinds its storage (and may mark it dead), so the test app's is put back afterwards,
    and the connections of the apps' own engines are closed."""
    for name in ("_storage", "_limiter", "_storage_dead", "_fallback_storage", "_fallback_limiter"):
        monkeypatch.setattr(limiter, name, getattr(limiter, name))
    monkeypatch.setattr(limiter, "_storage_options", dict(limiter._storage_options))
    built = []

    def build(**config):
        built.append(
            create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url(), **config})
        )
        return built[-1]

    yield build
    for other in built:
        with other.app_context():
            db.engine.dispose()


@pytest.fixture
def redis_down(build_app):
    """An app whose Redis (rate limits, jobs, readiness) is an unused port."""
    return build_app(LMS_REDIS_URL=DEAD_REDIS, RATELIMIT_STORAGE_URI=DEAD_REDIS)


def dead_session():
    engine = create_engine(DEAD_DATABASE, connect_args={"connect_timeout": 2}, poolclass=NullPool)
    return scoped_session(sessionmaker(bind=engine))


@pytest.fixture
def worker(create_user, create_firm):
    return create_user(role="worker", firm=create_firm())


@dataclass
class Outage:
    app: Flask
    cookie: str  # the session cookie of `worker`, who signed in before the outage

    def guest(self):
        return self.app.test_client()

    def signed_in(self):
        client = self.app.test_client()
        client.set_cookie(COOKIE, self.cookie)
        return client


@pytest.fixture
def database_down(build_app, monkeypatch, client, login, worker) -> Outage:
    """An app whose database is unreachable: its engine (for /readyz) and the session every
    request uses. `worker` signed in before (same secret key, same session rows)."""
    login(worker)
    cookie = client.get_cookie(COOKIE).value
    down = build_app(
        SQLALCHEMY_DATABASE_URI=DEAD_DATABASE,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "connect_args": {"connect_timeout": 2}},
    )
    monkeypatch.setattr(db, "session", dead_session())
    return Outage(down, cookie)


# --- Redis down -------------------------------------------------------------------------------


def test_sign_in_and_verification_work_while_redis_is_down(redis_down, worker):
    client = redis_down.test_client()
    response = client.post("/login", data={"login": worker.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/account", headers=EN).status_code == 200
    # The public verification page (rate-limited): a code that opens nothing.
    guest = redis_down.test_client()
    response = guest.get(f"/verify/{new_code()}", headers=EN)
    assert response.status_code == 404
    assert 'name="serial"' in page_text(response)


def test_rate_limits_still_count_in_memory_while_redis_is_down(build_app, worker):
    down = build_app(
        LMS_REDIS_URL=DEAD_REDIS, RATELIMIT_STORAGE_URI=DEAD_REDIS, LMS_LOGIN_RATE_LIMIT="3/minute"
    )
    client = down.test_client()
    wrong = {"login": worker.email, "password": "Wrong-Password-1"}
    statuses = [client.post("/login", data=wrong, headers=EN).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_readyz_names_redis_when_it_is_down(redis_down):
    response = redis_down.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "database": "ok",
        "redis": "unreachable",
    }


def test_readyz_checks_redis_when_it_answers(build_app):
    try:
        redis.Redis.from_url(LIVE_REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    response = build_app(LMS_REDIS_URL=LIVE_REDIS).test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_readyz_without_redis_checks_the_database_only(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    "error",
    [
        redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:1."),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
        BrokerError("Error 111 connecting to 127.0.0.1:1."),
        PoolTimeoutError("QueuePool limit of size 5 overflow 10 reached"),
        OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly")),
    ],
    ids=["redis-refused", "redis-timeout", "broker", "pool-timeout", "connection-lost"],
)
def test_a_service_lost_inside_a_page_is_a_503(app, client, worker, login, monkeypatch, error):
    """Whatever the page was doing (queueing a job, reading a row) when its service went away."""
    login(worker)
    account = app.view_functions["auth.account"]

    @functools.wraps(account)
    def lost(*args, **kwargs):
        raise error

    monkeypatch.setitem(app.view_functions, "auth.account", lost)
    assert_unavailable_page(client.get("/account", headers=EN))


# --- the database down ------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/account", "/learning", "/courses/", "/notifications"])
def test_signed_in_pages_are_a_503_page_while_the_database_is_down(database_down, url):
    down = database_down.signed_in()
    response = down.get(url, headers=EN)
    assert_unavailable_page(response)
    # A page may simply be asked for again; the page has no menus (they need the database).
    assert f'href="{url}"' in page_text(response)
    assert "Sign out" not in page_text(response)


def test_a_form_sent_while_the_database_is_down_is_a_503_page(database_down):
    down = database_down.signed_in()
    response = down.post("/account", data={"name": "李娜", "locale": "en"}, headers=EN)
    assert_unavailable_page(response)
    assert "Try again" not in page_text(response)  # not for a POST: it would not resend it


def test_guest_pages_that_need_the_database_are_a_503(database_down, worker):
    guest = database_down.guest()
    assert_unavailable_page(guest.get(f"/verify/{new_code()}", headers=EN))
    sign_in = {"login": worker.email, "password": PASSWORD}
    assert_unavailable_page(guest.post("/login", data=sign_in, headers=EN))


def test_json_callers_get_a_json_503(database_down):
    down = database_down.signed_in()
    # The lesson player's autosave (a JSON endpoint) and a job's status polled for JSON.
    for response in (
        down.post("/learn/abc/lessons/1/progress", json={"percent": 10}, headers=EN),
        down.get("/jobs/abc/status", headers={**EN, "Accept": "application/json"}),
    ):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "30"
        assert response.get_json() == {"error": UNAVAILABLE_TEXT}


def test_readyz_is_a_503_naming_the_database_for_guests_and_signed_in_callers(database_down):
    for caller in (database_down.guest(), database_down.signed_in()):
        response = caller.get("/readyz")
        assert response.status_code == 503
        assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
        # The process itself is alive, and its stylesheet (of the 503 page) is served.
        assert caller.get("/healthz").status_code == 200
        with caller.get("/static/css/app.css") as stylesheet:
            assert stylesheet.status_code == 200


def test_the_500_page_needs_no_database(app, client, login, create_user, monkeypatch):
    """A bug in a page of a signed-in user: the 500 page is the standalone one, whatever state
    the database is in (here: gone by the time the page fails)."""
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    login(create_user(locale="en"))  # the page is in the user's language
    account = app.view_functions["auth.account"]

    @functools.wraps(account)
    def broken(*args, **kwargs):
        monkeypatch.setattr(db, "session", dead_session())
        raise RuntimeError("a bug")

    monkeypatch.setitem(app.view_functions, "auth.account", broken)
    response = client.get("/account", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 500
    text = page_text(response)
    assert "Something went wrong" in text
    assert "Internal Server Error" not in text
    assert "Sign out" not in text


@pytest.mark.skipif(database_kind() != "postgresql", reason="pg_terminate_backend: PostgreSQL")
def test_a_backend_killed_mid_request_is_a_503_and_the_next_requests_succeed(
    build_app, monkeypatch
):
    """The request's own connection is terminated from another one while the request runs:
    that request is the 503 page; the next one gets a fresh connection, and so does one after
    every idle connection of the pool was terminated too (pool_pre_ping)."""
    pg = build_app()
    # Real pooled connections of this app, not the test's rolled-back one.
    monkeypatch.setattr(db, "session", db._make_scoped_session({}))
    pids = []
    with pg.app_context():
        engine = db.engine
    event.listen(engine, "connect", lambda dbapi, _record: pids.append(dbapi.info.backend_pid))
    admin = create_engine(database_url(), poolclass=NullPool)

    def terminate(*backends):
        with admin.connect() as connection:
            for pid in backends:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    verify = pg.view_functions["certificates.verify"]
    killed = []

    @functools.wraps(verify)
    def killed_mid_request(code):
        if not killed:
            own = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            terminate(own)
            killed.append(own)
        return verify(code)

    monkeypatch.setitem(pg.view_functions, "certificates.verify", killed_mid_request)
    client = pg.test_client()
    try:
        assert_unavailable_page(client.get(f"/verify/{new_code()}", headers=EN))
        assert client.get(f"/verify/{new_code()}", headers=EN).status_code == 404
        terminate(*pids)
        assert client.get(f"/verify/{new_code()}", headers=EN).status_code == 404
        assert killed and killed[0] in pids
    finally:
        admin.dispose()


# --- no write on every request ----------------------------------------------------------------


def test_the_session_row_is_written_at_most_once_a_minute(app, client, login, worker):
    login(worker)
    writes = []

    def record(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("UPDATE USER_SESSIONS"):
            writes.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(5):
            assert client.get("/account").status_code == 200
        assert writes == []
        with app.app_context():  # a minute and more since the last request
            db.session.execute(
                update(UserSession)
                .where(UserSession.user_id == worker.id)
                .values(last_seen_at=utcnow() - timedelta(minutes=2))
            )
            db.session.commit()
        writes.clear()
        for _ in range(5):
            assert client.get("/account").status_code == 200
        assert len(writes) == 1
        with app.app_context():
            row = db.session.scalars(
                select(UserSession).where(UserSession.user_id == worker.id)
            ).one()
            assert utcnow() - row.last_seen_at < timedelta(minutes=1)
    finally:
        event.remove(engine, "before_cursor_execute", record)
