"""Smoke test of bench/load.py, so the load benchmark can't rot: 12 users for 15 seconds
against the real stack (gunicorn, a Celery worker, PostgreSQL database `lms_load_smoke`, Redis
database 13) with a bulk certificate job started during the run, then its integrity checker
against that database with the run's own log of acknowledged actions, as it is and with a lost
and a duplicated action put into it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench import load
from tests.stack.conftest import postgres_and_redis

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/13"
KEYS = {
    "users",
    "rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "errors",
    "baseline_rps",
    "lost_updates",
    "duplicate_rows",
    "kinds",
    "bulk",
}


@pytest.fixture(scope="module")
def smoke_url() -> str:
    """The bench's own database on the suite's PostgreSQL server (the bench makes it afresh)."""
    url = postgres_and_redis(REDIS_URL)  # the bench flushes its Redis database itself too
    return sa.engine.make_url(url).set(database="lms_load_smoke").render_as_string(False)


@pytest.fixture(scope="module")
def smoke_run(smoke_url, tmp_path_factory):
    """One tiny run: its last line as JSON and its log of acknowledged actions."""
    actions = tmp_path_factory.mktemp("load") / "actions.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LMS_"))}
    env.update(
        LMS_BENCH_DATABASE_URL=smoke_url,
        LMS_LOAD_REDIS_URL=REDIS_URL,
        LMS_LOAD_USERS="12",
        LMS_LOAD_SECONDS="15",
        LMS_LOAD_BASELINE_SECONDS="1",
        LMS_LOAD_THINK_SECONDS="0.1-0.3",
        LMS_LOAD_TIMEOUT="400",
        LMS_LOAD_ACTIONS_OUT=str(actions),
    )
    done = subprocess.run(
        [sys.executable, "bench/load.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=450,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), json.loads(actions.read_text())


def test_small_run_ends_with_the_figures_and_loses_nothing(smoke_run):
    result, actions = smoke_run
    assert set(result) >= KEYS
    assert result["users"] == 12
    assert result["requests"] > 0 and result["baseline_rps"] > 0
    assert result["errors"] == 0, result["kinds"]
    assert result["lost_updates"] == 0, result["lost"]
    assert result["duplicate_rows"] == 0, result["duplicates"]
    # Every user signed in (the bulk job's admin too), and the checker had saves to check.
    assert result["acknowledged"]["sign_ins"] >= 12 + 1
    assert result["acknowledged"]["progress_saves"] == len(actions["progress"]) > 0


def test_checker_counts_what_the_database_lacks_or_has_twice(smoke_url, smoke_run):
    _result, actions = smoke_run
    assert load.check_integrity(smoke_url, actions)["lost_updates"] == 0

    # An acknowledged save of more than is stored, an enrolment and a quiz submit that never
    # happened (3 lost), and the newest attempt made without a start sent for it (1 duplicate).
    key = next(iter(actions["progress"]))
    actions["progress"][key] = 101
    actions["enrolments"].append("no-such-enrolment")
    actions["submits"].append("no-such-attempt")
    engine = sa.create_engine(smoke_url)
    with engine.connect() as conn:
        newest, pid, lesson_key = conn.execute(
            sa.text(
                "SELECT a.id, e.public_id, a.lesson_key FROM quiz_attempts a "
                "JOIN enrollments e ON e.id = a.enrollment_id ORDER BY a.id DESC LIMIT 1"
            )
        ).one()
    engine.dispose()
    actions["before"]["attempt_max_id"] = newest - 1
    actions["attempts_sent"][f"{pid}|{lesson_key}"] = 0

    found = load.check_integrity(smoke_url, actions)
    assert found["lost"] == {**found["lost"], "progress": 1, "enrolments": 1, "quiz_submits": 1}
    assert found["lost_updates"] == 3
    assert found["duplicates"]["attempts"] == 1
    assert found["duplicate_rows"] == 1


def test_the_bulk_job_started_during_the_run_ends_done_without_errors(smoke_run):
    """Whether completions fall inside the job's few seconds depends on timing, so that is
    shown deterministically by tests/stack/test_bulk_during_completions.py; here the job
    started from its form during the run ends done and nothing errs while it runs."""
    result, _actions = smoke_run
    bulk = result["bulk"]
    assert bulk["state"] == "done", bulk
    assert bulk["errors_during"] == 0
