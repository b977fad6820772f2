"""Production-stack tests: gunicorn (gunicorn.conf.py) and Celery as separate processes on
loopback ports, against PostgreSQL and Redis.

Every test here is marked `stack`. Those needing PostgreSQL and Redis (`stack_env`) run when
LMS_TEST_DATABASE_URL is PostgreSQL and Redis answers: they use their own databases (PostgreSQL
`stack_tests`, made afresh, and Redis database 12, emptied). They are skipped on the SQLite
half of the suite; on the PostgreSQL half they are skipped without Redis, or fail when
LMS_REQUIRE_STACK=1 (CI).

The helpers are generic, for any test that needs real processes: `start_web(env, port)`,
`start_worker(env)`, `stop(proc, sig)`, `free_port()`, `migrate(env)`.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

from lms import PROJECT_ROOT
from tests.conftest import database_url

HERE = Path(__file__).resolve().parent
STACK_DATABASE = "stack_tests"
REDIS_URL = os.environ.get("LMS_TEST_REDIS_URL") or "redis://127.0.0.1:6379/12"
START_SECONDS = 60


def pytest_collection_modifyitems(config, items):
    """Every test in this folder is a production-stack test."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.stack)


def free_port() -> int:
    """A TCP port nobody listens on at the moment, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(name: str, command: list[str], env: dict) -> subprocess.Popen:
    """`command` in the checkout, its output in a log file of its own (`proc.log_path`)."""
    handle, path = tempfile.mkstemp(prefix=f"lms-{name}-", suffix=".log")
    with os.fdopen(handle, "wb") as log:
        proc = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=_tidy_env(env), stdout=log, stderr=subprocess.STDOUT
        )
    proc.log_path = Path(path)
    return proc


def _output(proc: subprocess.Popen) -> str:
    return proc.log_path.read_text(errors="replace")[-4000:]


def _tidy_env(env: dict) -> dict:
    return {k: v for k, v in env.items() if not k.startswith("PYTEST_")}


def start_web(env: dict, port: int, *, workers: int = 1) -> subprocess.Popen:
    """gunicorn with gunicorn.conf.py serving `lms:create_app()` on 127.0.0.1:`port`, once it
    answers /healthz."""
    proc = _spawn(
        "web",
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
        + ["-b", f"127.0.0.1:{port}", "-w", str(workers), "lms:create_app()"],
        env,
    )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited ({proc.returncode}):\n{_output(proc)}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    stop(proc, signal.SIGKILL)
    pytest.fail(f"gunicorn did not answer /healthz in {START_SECONDS} s:\n{_output(proc)}")


def start_worker(env: dict, *args: str) -> subprocess.Popen:
    """A Celery worker (`celery -A lms.worker worker`, extra `args` appended), once it says it
    is ready."""
    proc = _spawn(
        "worker",
        [sys.executable, "-m", "celery", "-A", "lms.worker", "worker", "--loglevel=info", *args],
        env,
    )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the Celery worker exited ({proc.returncode}):\n{_output(proc)}")
        if " ready." in proc.log_path.read_text(errors="replace"):
            return proc
        time.sleep(0.2)
    stop(proc, signal.SIGKILL)
    pytest.fail(f"the Celery worker was not ready in {START_SECONDS} s:\n{_output(proc)}")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    """Send `sig` to the process (SIGTERM: a graceful stop; SIGKILL: a crash) and wait for it;
    killed if it is still there after `timeout` seconds. Returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def flask(env: dict, *args: str) -> None:
    """`flask ARGS` in the checkout with the environment `env`; it must succeed."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=PROJECT_ROOT,
        env=_tidy_env(env),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def migrate(env: dict) -> None:
    """`flask db upgrade` on the environment's database (as `make serve` does first)."""
    flask(env, "db", "upgrade")


def base_env(tmp: Path) -> dict:
    """The environment of the app's processes: its own files and keys under `tmp`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env.update(
        LMS_SECRET_KEY="stack-test-secret-key-not-for-production",
        LMS_STORAGE_DIR=str(tmp / "storage"),
        LMS_SIGNING_KEY_DIR=str(tmp / "keys"),
        LMS_WEB_WORKERS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def missing(message: str) -> None:
    """Skip, or fail when LMS_REQUIRE_STACK=1 (CI)."""
    if os.environ.get("LMS_REQUIRE_STACK") == "1":
        pytest.fail(f"{message} (LMS_REQUIRE_STACK=1: stack tests are required)", pytrace=False)
    pytest.skip(message)


def _fresh_postgres_database(url: str, name: str) -> str:
    """Drop and create database `name` on the server of `url`; its SQLAlchemy URL."""
    server = make_url(url)
    admin = server.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False)


def postgres_and_redis(redis_url: str) -> str:
    """The suite's PostgreSQL URL, with Redis database `redis_url` emptied; a skip on the
    SQLite half, and a skip (or, with LMS_REQUIRE_STACK=1, a failure) when Redis is away."""
    url = database_url()
    if not url.startswith("postgres"):
        pytest.skip("stack tests run on the PostgreSQL half (LMS_TEST_DATABASE_URL)")
    try:
        redis.Redis.from_url(redis_url, socket_timeout=2).flushdb()
    except redis.RedisError as exc:
        missing(f"Redis at {redis_url} does not answer: {exc}")
    return url


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory) -> dict:
    """The app's environment on PostgreSQL `stack_tests` (migrated) and Redis database 12."""
    url = postgres_and_redis(REDIS_URL)
    try:
        stack_url = _fresh_postgres_database(url, STACK_DATABASE)
    except psycopg.Error as exc:
        missing(f"could not create the PostgreSQL database {STACK_DATABASE}: {exc}")
    env = base_env(tmp_path_factory.mktemp("stack"))
    env.update(LMS_DATABASE_URL=stack_url, LMS_REDIS_URL=REDIS_URL)
    migrate(env)
    return env


def demo_database(stack_env: dict, name: str, tmp: Path, **settings: str) -> dict:
    """The environment of the app on a PostgreSQL database `name` of its own (made afresh,
    migrated, with `flask demo load`), its files under `tmp`, plus `settings`."""
    env = base_env(tmp)
    url = _fresh_postgres_database(stack_env["LMS_DATABASE_URL"], name)
    env.update(LMS_DATABASE_URL=url, LMS_REDIS_URL=stack_env["LMS_REDIS_URL"], **settings)
    migrate(env)
    flask(env, "demo", "load")
    return env
