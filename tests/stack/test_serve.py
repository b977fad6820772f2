"""`make serve` (scripts/serve.py): refuses without PostgreSQL and Redis; otherwise migrates, runs
gunicorn, a Celery worker and beat, and stops all three on Ctrl+C."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time

import pytest

from scripts.serve import refusal
from tests.stack.conftest import PROJECT_ROOT, free_port, stop

POSTGRES = "postgresql+psycopg://lms@127.0.0.1:5432/lms"
REDIS = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("database", "redis", "named"),
    [
        (None, REDIS, "LMS_DATABASE_URL"),
        ("sqlite:////srv/lms/instance/lms.sqlite3", REDIS, "LMS_DATABASE_URL"),
        (POSTGRES, None, "LMS_REDIS_URL"),
        (POSTGRES, " ", "LMS_REDIS_URL"),
    ],
)
def test_serve_refuses_without_postgresql_and_redis_and_says_which(database, redis, named):
    env = {k: v for k, v in {"LMS_DATABASE_URL": database, "LMS_REDIS_URL": redis}.items() if v}
    assert named in refusal(env)


def test_serve_accepts_postgresql_and_redis():
    assert refusal({"LMS_DATABASE_URL": POSTGRES, "LMS_REDIS_URL": REDIS}) is None


def answer(port: int, path: str) -> tuple[int, dict] | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    except OSError:
        return None
    finally:
        conn.close()


def test_serve_runs_the_stack_and_ctrl_c_stops_all_of_it(stack_env, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "scripts/serve.py", "--bind", f"127.0.0.1:{port}"],
            cwd=PROJECT_ROOT,
            env=stack_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while answer(port, "/readyz") is None and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-4000:]
            time.sleep(0.3)
        ready = answer(port, "/readyz")
        assert ready is not None and ready[0] == 200 and ready[1]["status"] == "ok", ready
    finally:
        code = stop(proc, signal.SIGINT, timeout=60)
    output = log.read_text(errors="replace")
    assert code == 0, output[-4000:]
    assert answer(port, "/healthz") is None  # gunicorn is gone
    assert "celery@" in output and "beat: Starting" in output  # the worker and beat ran
    assert "killed" not in output  # each stopped by itself
