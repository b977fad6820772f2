"""Smoke test of bench/pages.py, so the pages benchmark can't rot: a tiny world (200 workers,
20 courses) in PostgreSQL database `lms_pages_test`, every page measured for a fraction of a
second under gunicorn; then `--reuse` of that world to profile one page.

The benchmark is not imported here: bench/learning.py sets LMS_SECRET_KEY on import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.conftest import database_url
from tests.stack.conftest import missing

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "home",
    "home_14",
    "learning",
    "catalogue",
    "catalogue_search",
    "course_page",
    "lesson_10",
    "lesson_500",
    "quiz",
    "attempt",
    "skills",
    "certificates",
    "consortium_dashboard",
    "firm_dashboard",
]
KEYS = {
    "baseline_rps",
    "course_page_rps",
    "home_rps",
    "learning_rps",
    "catalogue_rps",
    "lesson_rps_10",
    "lesson_rps_500",
    "home_rps_14",
    "errors",
    "targets",
}


@pytest.fixture(scope="module")
def pages_url() -> str:
    """The bench's own database on the suite's PostgreSQL server (the bench makes it afresh)."""
    url = database_url()
    if not url.startswith("postgres"):
        pytest.skip("the pages benchmark runs on the PostgreSQL half (LMS_TEST_DATABASE_URL)")
    server = sa.engine.make_url(url)
    try:
        admin = server.set(drivername="postgresql", database="postgres")
        psycopg.connect(admin.render_as_string(hide_password=False), connect_timeout=5).close()
    except psycopg.Error as exc:
        missing(f"PostgreSQL does not answer: {exc}")
    return server.set(database="lms_pages_test").render_as_string(hide_password=False)


def bench(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LMS_"))}
    env.update(
        LMS_BENCH_DATABASE_URL=url,
        LMS_PAGES_WORKERS="200",
        LMS_PAGES_COURSES="20",
        LMS_PAGES_SESSIONS="20",
        LMS_PAGES_SECONDS="0.6",
        LMS_PAGES_CONCURRENCY="2",
        LMS_PAGES_WEB_WORKERS="1",
        LMS_PAGES_WEB_THREADS="4",
        LMS_PAGES_PROFILE_REQUESTS="5",
    )
    return subprocess.run(
        [sys.executable, "bench/pages.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def output(done: subprocess.CompletedProcess) -> str:
    """What a failure shows: the printed table and targets (not the JSON line), stderr."""
    lines = [line for line in done.stdout.splitlines() if not line.startswith("{")]
    return "\n".join(lines)[-4000:] + "\n" + done.stderr[-4000:]


@pytest.fixture(scope="module")
def tiny_run(pages_url) -> dict:
    done = bench(pages_url)
    assert done.returncode == 0, output(done)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_tiny_run_measures_every_page_without_errors(tiny_run):
    result = tiny_run
    assert set(result) >= KEYS
    assert result["errors"] == 0 and result["errors_in_process"] == []
    assert result["baseline_rps"] > 0
    for page in PAGES:
        assert result[f"{page}_rps"] > 0, page
        assert result[f"{page}_errors"] == 0, page
        # Every signed-in page reads at least the session: its statements were counted.
        assert result[f"{page}_queries"] >= 1, page
        for figure in ("p50_ms", "p95_ms", "cpu_ms"):
            assert result[f"{page}_{figure}"] is not None, (page, figure)
    assert result["lesson_rps_500"] == result["lesson_500_rps"]
    assert all(isinstance(passed, bool) for passed in result["targets"].values())
    assert "lesson_500 >= 0.8 x lesson_10" in result["targets"]


def test_reuse_skips_the_seed_and_profile_prints_the_top_functions(pages_url, tiny_run):
    done = bench(pages_url, "--reuse", "--profile", "home")
    assert done.returncode == 0, output(done)
    assert "reusing the seeded world" in done.stdout
    assert "profile of home: 5 requests" in done.stdout and "{200: 5}" in done.stdout
    assert "cumulative" in done.stdout
