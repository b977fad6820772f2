"""A bulk certificate job during completions (the review's failure: the job held the serial
counter's row lock across 20 renders, so every completing learner waited 17–37 s).

On PostgreSQL with the demo data: the bulk job runs in a thread and is held in the middle of
its renders; meanwhile another connection takes the next serial (what every completion does)
with a lock timeout of a few seconds, and issues a certificate for a completion. Both succeed at
once, because each certificate of the job was committed on its own and nothing is locked while
a PDF is made. Then the job is let go and ends done, with one certificate per completion."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select, text, update

from lms import create_app
from lms.certificates import bulk, service
from lms.certificates.models import Certificate
from lms.core.types import local_date, utcnow
from lms.extensions import db
from lms.jobs import service as jobs
from lms.jobs.models import Job
from lms.learning.models import Enrollment
from lms.tenancy.models import Consortium, Membership
from tests.stack.conftest import demo_database

WAIT = 60  # seconds: generous bounds, never measured


@pytest.fixture(autouse=True)
def _rollback():
    """This module's sessions commit for real, on a database of its own (not the suite's
    rolled-back test transaction)."""
    yield


@pytest.fixture(scope="module")
def demo_app(stack_env, tmp_path_factory):
    env = demo_database(stack_env, "stack_bulk", tmp_path_factory.mktemp("bulk"))
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": env["LMS_DATABASE_URL"],
            "LMS_STORAGE_DIR": env["LMS_STORAGE_DIR"],
            "LMS_SIGNING_KEY_DIR": env["LMS_SIGNING_KEY_DIR"],
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_completions_go_on_while_a_bulk_job_renders(demo_app, monkeypatch):
    app = demo_app
    with app.app_context():
        course_id = db.session.execute(
            select(Enrollment.course_id)
            .where(Enrollment.status == "completed")
            .group_by(Enrollment.course_id)
            .order_by(func.count(Enrollment.id).desc())
        ).scalar()
        admin_id, consortium_id = db.session.execute(
            select(Membership.user_id, Membership.consortium_id).where(
                Membership.role == "consortium_admin"
            )
        ).first()
        # Completions without a certificate, for the job to issue (as when a course starts
        # issuing certificates after its first learners completed it).
        of_course = Certificate.course_id == course_id
        db.session.execute(update(Certificate).where(of_course).values(replaced_by_id=None))
        db.session.execute(delete(Certificate).where(of_course))
        job = Job(
            kind=bulk.KIND,
            consortium_id=consortium_id,
            created_by_id=admin_id,
            params={"course": course_id, "firm": None},
        )
        db.session.add(job)
        db.session.commit()
        job_id = job.id
        db.session.remove()

    rendering, release = threading.Event(), threading.Event()
    real_ensure_pdf = service.ensure_pdf

    def slow_render(cert_id):
        rendering.set()  # the job is in the middle of its renders
        assert release.wait(WAIT)
        return real_ensure_pdf(cert_id)

    # Renders are held (the job issues every certificate first, each committed on its own).
    monkeypatch.setattr(service, "ensure_pdf", slow_render)
    outcome = {}

    def run():
        with app.app_context():
            try:
                outcome["job"] = jobs.run_job(job_id).state
            finally:
                db.session.remove()

    worker = threading.Thread(target=run, name="bulk-job")
    worker.start()
    try:
        assert rendering.wait(WAIT), "the bulk job never reached its renders"
        with app.app_context():
            db.session.execute(text("SET LOCAL lock_timeout = '3s'"))
            consortium = db.session.get(Consortium, consortium_id)
            # What every completion does: the next serial of the year, then the certificate.
            serial = service.next_serial(consortium, local_date(utcnow()).year)
            db.session.commit()
            assert serial.startswith(f"{consortium.code}-")
            running = db.session.get(Job, job_id)
            assert running.state == "running"  # still held: the serial did not wait for it
            db.session.remove()
    finally:
        release.set()
        worker.join(WAIT)
    assert outcome.get("job") == "done"
    with app.app_context():
        per_enrollment = db.session.execute(
            select(func.count(Certificate.id))
            .where(Certificate.course_id == course_id, Certificate.revoked_at.is_(None))
            .group_by(Certificate.enrollment_id)
        ).scalars()
        assert set(per_enrollment) == {1}
        db.session.remove()
