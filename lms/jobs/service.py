"""Starting and running background jobs.

With LMS_REDIS_URL set, a job is queued for a Celery worker (`celery -A lms.worker worker`);
without it (the embedded mode) it runs inline, in the request that started it. Either way its
state and progress live in the `jobs` table, which the job page polls.

A job kind is a function `(job, report) -> dict` listed in JOB_KINDS; `report(done, total)`
stores progress. Job functions must be safe to re-run: a failed job is simply started again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app

from lms.core.types import utcnow
from lms.extensions import db
from lms.jobs.models import Job

log = logging.getLogger(__name__)

# kind → function(job, report) -> result: the one list of everything that runs in the background.
# Each domain's job function is registered by the application factory (lms.create_app), so this
# package names no domain above it.
JOB_KINDS: dict[str, Callable] = {}


def register_job(kind: str, function: Callable) -> None:
    JOB_KINDS[kind] = function


def start_job(kind: str, *, actor=None, consortium=None, firm=None, params=None) -> Job:
    """Create the job row, commit it, and queue or run it."""
    if kind not in JOB_KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job(
        kind=kind,
        consortium_id=consortium.id if consortium is not None else None,
        firm_id=firm.id if firm is not None else None,
        created_by_id=actor.id if actor is not None else None,
        params=params or {},
    )
    db.session.add(job)
    db.session.commit()
    if current_app.config.get("LMS_REDIS_URL") and not current_app.config.get("LMS_JOBS_INLINE"):
        from lms.jobs.worker import run_job_task

        run_job_task.delay(job.id)
    else:
        run_job(job.id)
    return job


def run_job(job_id: int) -> Job | None:
    """Run one job to the end, storing its progress, result or failure."""
    job = db.session.get(Job, job_id)
    if job is None or job.is_finished:
        return job
    function = JOB_KINDS[job.kind]
    job.state, job.started_at, job.error = "running", utcnow(), ""
    db.session.commit()

    def report(done: int, total: int) -> None:
        job.progress, job.total = done, total
        db.session.commit()

    try:
        result = function(job, report)
    except Exception:
        db.session.rollback()
        log.exception("job %s (%s) failed", job.id, job.kind)
        job = db.session.get(Job, job_id)
        job.state, job.finished_at = "failed", utcnow()
        job.error = "internal"
        db.session.commit()
        return job
    job.result = result or {}
    job.state, job.finished_at = "done", utcnow()
    if job.total:
        job.progress = job.total
    db.session.commit()
    return job


def get_job_for(user, public_id: str) -> Job | None:
    """A job its starter may watch (anyone else gets None: a 404)."""
    job = db.session.scalars(db.select(Job).where(Job.public_id == public_id)).first()
    if job is None or job.created_by_id != user.id:
        return None
    return job
