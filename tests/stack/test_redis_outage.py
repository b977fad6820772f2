"""Redis stopped and started under the production stack (gunicorn and a Celery worker on a
Redis server of the test's own): while it is down, sign-in and the public verification page
work, /readyz says Redis is unreachable, and a job started then fails at once with the reason
(never a 500, never a job left "queued"); once it is back, the same job starts again and runs."""

from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest
import requests

from tests.stack.conftest import demo_database, free_port, start_web, start_worker, stop
from tests.stack.test_two_processes import get, post_form, sign_in

TIMEOUT = 30
JOB_LINK = re.compile(r"/jobs/([^/?#]+)")


def _redis_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        probe = subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
        )
        if probe.stdout.strip() == "PONG":
            return proc
        time.sleep(0.1)
    stop(proc, signal.SIGKILL)
    pytest.fail("redis-server did not start")


@pytest.fixture(scope="module")
def outage(stack_env, tmp_path_factory):
    """(base URL, the Redis port, a function starting Redis again): gunicorn and a worker."""
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    env = demo_database(
        {**stack_env, "LMS_REDIS_URL": redis_url},
        "stack_redis",
        tmp_path_factory.mktemp("redis-outage"),
    )
    server = {"proc": _redis_server(port)}
    web_port = free_port()
    web = start_web(env, web_port)
    worker = start_worker(env, "--pool", "solo")
    try:
        yield f"http://127.0.0.1:{web_port}", server, port
    finally:
        stop(web)
        stop(worker)
        stop(server["proc"])


def _job_state(client, base, public_id) -> dict:
    return get(client, f"{base}/jobs/{public_id}/status").json()


def _start_job(client, base) -> str:
    """A consortium admin recomputes the recommendations (a background job)."""
    page = f"{base}/consortia/1/skills/gaps"
    response = post_form(client, page, {}, action=f"{base}/consortia/1/recommendations")
    assert response.status_code == 302, response.text[-2000:]
    return JOB_LINK.search(response.headers["Location"])[1]


def test_redis_stopped_and_started(outage):
    base, server, port = outage
    admin = requests.Session()
    sign_in(admin, base, "consortium@demo.lms")
    assert get(admin, f"{base}/readyz").json()["redis"] == "ok"

    stop(server["proc"])  # Redis goes away
    ready = get(admin, f"{base}/readyz")
    assert ready.status_code == 503 and ready.json()["redis"] == "unreachable"
    worker = requests.Session()
    sign_in(worker, base, "worker@demo.lms")  # sign-in counts its limit in memory now
    assert get(worker, f"{base}/").status_code == 200
    assert get(requests.Session(), f"{base}/verify").status_code == 200
    public_id = _start_job(admin, base)
    state = _job_state(admin, base, public_id)
    assert state["state"] == "failed" and state["finished"]
    page = get(admin, f"{base}/jobs/{public_id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200

    server["proc"] = _redis_server(port)  # Redis is back
    assert get(admin, f"{base}/readyz").status_code == 200
    restarted = post_form(
        admin, f"{base}/jobs/{public_id}", {}, action=f"{base}/jobs/{public_id}/restart"
    )
    assert restarted.status_code == 302
    deadline = time.monotonic() + 120
    while (state := _job_state(admin, base, public_id))["state"] != "done":
        assert state["state"] != "failed", state
        assert time.monotonic() < deadline, state
        time.sleep(0.5)
