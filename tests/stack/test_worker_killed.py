"""A Celery worker killed (`kill -9`) in the middle of a bulk certificate job: the job is
taken up again and ends done within the visibility timeout, and its effect happens once (one
certificate per completion, every PDF in the ZIP)."""

from __future__ import annotations

import io
import signal
import time
import zipfile

import pytest
from celery import Celery
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms import create_app
from lms.certificates.models import Certificate
from lms.core.storage import storage
from lms.extensions import db
from lms.jobs.models import Job
from lms.learning.models import Enrollment
from lms.tenancy.models import Membership
from tests.stack.conftest import REDIS_URL, demo_database, start_worker, stop

# Short timings for the test (production: heartbeat 15 s, stall 120 s, visibility 600 s).
TIMINGS = {
    "LMS_JOB_HEARTBEAT_SECONDS": "1",
    "LMS_JOB_STALL_SECONDS": "4",
    "LMS_JOB_REAP_SECONDS": "2",
    "LMS_JOB_VISIBILITY_SECONDS": "20",
}


@pytest.fixture(scope="module")
def demo_env(stack_env, tmp_path_factory):
    return demo_database(stack_env, "stack_faults", tmp_path_factory.mktemp("faults"), **TIMINGS)


def _app(env):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": env["LMS_DATABASE_URL"],
            "LMS_STORAGE_DIR": env["LMS_STORAGE_DIR"],
            "LMS_SIGNING_KEY_DIR": env["LMS_SIGNING_KEY_DIR"],
            "LMS_REDIS_URL": REDIS_URL,
        }
    )


def _wait(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    pytest.fail(f"{what} within {seconds} s")


def test_a_worker_killed_mid_job_leaves_a_job_that_ends_done_once(demo_env, tmp_path):
    """(The test's own sessions: `db.session` is bound to the test database here.)"""
    app = _app(demo_env)
    with app.app_context():
        engine = db.engine
    try:
        _kill_and_recover(app, engine, demo_env, tmp_path)
    finally:
        engine.dispose()


def _kill_and_recover(app, engine, demo_env, tmp_path):
    with Session(engine) as session:
        course_id, cohort = session.execute(
            select(Enrollment.course_id, func.count(Enrollment.id))
            .where(Enrollment.status == "completed")
            .group_by(Enrollment.course_id)
            .order_by(func.count(Enrollment.id).desc())
        ).first()
        admin_id = session.scalar(
            select(Membership.user_id).where(Membership.role == "consortium_admin")
        )
        consortium_id = session.scalar(
            select(Membership.consortium_id).where(Membership.user_id == admin_id)
        )
        job = Job(
            kind="certificates.bulk",
            consortium_id=consortium_id,
            created_by_id=admin_id,
            params={"course": course_id, "firm": None},
        )
        session.add(job)
        session.commit()
        job_id = job.id

    def state():
        with Session(engine) as session:
            found = session.get(Job, job_id)
            return (found.state, found.attempts, found.progress)

    first = start_worker(demo_env, "--pool", "solo", "--concurrency", "1")
    try:
        Celery(broker=REDIS_URL).send_task("lms.run_job", args=(job_id,))
        _wait(lambda: state()[0] == "running", 60, "the first worker did not take the job")
        stop(first, signal.SIGKILL)
    finally:
        stop(first, signal.SIGKILL)
    killed_state = state()
    assert killed_state[0] == "running", f"finished before the kill: {killed_state}"

    schedule = tmp_path / "beat-schedule"
    second = start_worker(
        demo_env, "--pool", "solo", "--concurrency", "1", "-B", "--schedule", str(schedule)
    )
    try:
        visibility = int(TIMINGS["LMS_JOB_VISIBILITY_SECONDS"])
        _wait(lambda: state()[0] in ("done", "failed"), visibility + 60, "the job did not end")
    finally:
        stop(second)
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert job.state == "done", job.error
        assert job.attempts >= 2
        assert job.result["issued"] + job.result["existing"] == cohort
        # Once: one live certificate per completion of the course.
        per_enrollment = session.execute(
            select(Certificate.enrollment_id, func.count(Certificate.id))
            .where(Certificate.course_id == course_id, Certificate.revoked_at.is_(None))
            .group_by(Certificate.enrollment_id)
        ).all()
        assert len(per_enrollment) == cohort
        assert all(count == 1 for _id, count in per_enrollment)
        with app.test_request_context():
            archive = zipfile.ZipFile(io.BytesIO(storage().read(job.result["zip"])))
        live = session.scalars(
            select(Certificate.serial).where(
                Certificate.course_id == course_id, Certificate.revoked_at.is_(None)
            )
        ).all()
        assert sorted(archive.namelist()) == sorted(f"{s}.pdf" for s in live)
