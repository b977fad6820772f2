"""Starting and running background jobs, and the short tasks that follow a commit.

With LMS_REDIS_URL set, a job is queued for a Celery worker (`celery -A lms.worker worker`);
without it (the embedded mode) it runs inline, in the request that started it. Either way its
state and progress live in the `jobs` table, which the job page polls.

A job kind is a function `(job, report) -> dict` registered with `register_job`; `report(done,
total)` stores progress and commits. Job functions must be safe to re-run: a failed or stalled
job is simply started again, and nothing it already did is done twice.

Jobs you can trust:
- The row is committed before the job is queued, and a job that cannot be queued (Redis down)
  is marked failed at once with the reason, never left "queued".
- A job is claimed by one conditional UPDATE (queued → running, or running with a stale
  heartbeat → running again): a message delivered twice runs the job once.
- While a job runs in a worker, a heartbeat thread stamps its row every HEARTBEAT_SECONDS. The
  reaper (`reap_stalled`, run by Celery beat every minute) finds jobs whose heartbeat stopped for
  STALL_SECONDS (a killed worker) and queues them again, at most MAX_ATTEMPTS times in all, then
  marks them failed as "stalled". The job page says "stalled" as soon as the heartbeat is late.

Tasks (`after_commit(name, key)`) are the short pieces of work an action leaves behind: render a
certificate's PDF, for instance. They are queued only once the transaction that asked for them
has committed (and dropped if it rolls back), run by a worker, keyed by a business id so that
running one twice does no harm. In the embedded mode they run at the end of the request.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import event, func, or_, update
from sqlalchemy.orm import Session

from lms.core.types import utcnow
from lms.extensions import db
from lms.jobs.models import Job

log = logging.getLogger(__name__)

# kind → function(job, report) -> result: the one list of everything that runs in the background.
# Each domain's job function is registered by the application factory (lms.create_app), so this
# package names no domain above it.
JOB_KINDS: dict[str, Callable] = {}
# name → function(key): the tasks that follow a commit (registered the same way).
TASKS: dict[str, Callable[[Any], None]] = {}

HEARTBEAT_SECONDS = int(os.environ.get("LMS_JOB_HEARTBEAT_SECONDS", "15"))
# No heartbeat for this long: the worker running the job is gone.
STALL_SECONDS = int(os.environ.get("LMS_JOB_STALL_SECONDS", "120"))
QUEUED_STALL_SECONDS = 600  # queued this long without a worker taking it: queue it again
MAX_ATTEMPTS = 3

# Machine-readable reasons a job failed (the job page words them).
ERROR_INTERNAL = "internal"  # the job raised: details in the log, never on the page
ERROR_ENQUEUE = "enqueue"  # the queue (Redis) could not be reached
ERROR_STALLED = "stalled"  # its worker stopped MAX_ATTEMPTS times

_PENDING = "lms_tasks_pending"  # session.info: tasks asked for in the open transaction
_READY = "lms_tasks_ready"  # session.info: committed tasks waiting to run inline


# When the job was last heard of: its heartbeat, else its start (jobs of before heartbeats,
# left "running" by a worker that died, are stalled too).
_last_heard = func.coalesce(Job.heartbeat_at, Job.started_at, Job.created_at)


def register_job(kind: str, function: Callable) -> None:
    JOB_KINDS[kind] = function


def register_task(name: str, function: Callable[[Any], None]) -> None:
    TASKS[name] = function


def queued_mode() -> bool:
    """True when jobs and tasks go to Celery workers; False in the embedded mode (inline)."""
    return bool(current_app.config.get("LMS_REDIS_URL")) and not current_app.config.get(
        "LMS_JOBS_INLINE"
    )


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
    if queued_mode():
        _enqueue_job(job)
    else:
        run_job(job.id)
    return job


def _enqueue_job(job: Job) -> bool:
    """Hand the committed job to the queue; when the queue is unreachable the job is failed
    with that reason (its starter can start it again once the queue is back)."""
    from lms.jobs.worker import run_job_task

    try:
        run_job_task.apply_async((job.id,), retry=False)
    except Exception:  # any broker error: Redis down, refused, timed out
        log.exception("job %s (%s) could not be queued", job.id, job.kind)
        db.session.rollback()
        db.session.execute(
            update(Job)
            .where(Job.id == job.id, Job.state == "queued")
            .values(state="failed", error=ERROR_ENQUEUE, finished_at=utcnow())
        )
        db.session.commit()
        return False
    return True


def _claim(job_id: int) -> bool:
    """Take the job for this process: one conditional UPDATE, so of two deliveries of the same
    job (a redelivered message, the reaper's requeue) only one runs it."""
    now = utcnow()
    claimed = db.session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            or_(
                Job.state == "queued",
                (Job.state == "running") & (_last_heard < now - timedelta(seconds=STALL_SECONDS)),
            ),
        )
        .values(
            state="running",
            started_at=now,
            heartbeat_at=now,
            error="",
            attempts=Job.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(claimed)


class _Heartbeat:
    """Stamps the job's row every HEARTBEAT_SECONDS from its own connection while it runs."""

    def __init__(self, app, job_id: int):
        self.app, self.job_id = app, job_id
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat")
        self.thread.daemon = True

    def _beat(self) -> None:
        while not self.stopped.wait(HEARTBEAT_SECONDS):
            try:
                with self.app.app_context(), db.engine.begin() as connection:
                    connection.execute(
                        update(Job)
                        .where(Job.id == self.job_id, Job.state == "running")
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:  # the database is briefly away: the next beat tries again
                log.warning("job %s: heartbeat not stored", self.job_id, exc_info=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=HEARTBEAT_SECONDS)


def run_job(job_id: int) -> Job | None:
    """Run one job to the end, storing its progress, result or failure."""
    if not _claim(job_id):
        return db.session.get(Job, job_id)  # finished, or running elsewhere
    job = db.session.get(Job, job_id)
    function = JOB_KINDS[job.kind]

    def report(done: int, total: int) -> None:
        job.progress, job.total, job.heartbeat_at = done, total, utcnow()
        db.session.commit()

    beat = _Heartbeat(current_app._get_current_object(), job_id) if queued_mode() else None
    try:
        if beat is not None:
            with beat:
                result = function(job, report)
        else:
            result = function(job, report)
    except Exception:
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, job.kind)
        job = db.session.get(Job, job_id)
        job.state, job.finished_at = "failed", utcnow()
        job.error = ERROR_INTERNAL
        db.session.commit()
        run_ready_tasks()
        return job
    job.result = result or {}
    job.state, job.finished_at = "done", utcnow()
    if job.total:
        job.progress = job.total
    db.session.commit()
    run_ready_tasks()
    return job


def is_stalled(job: Job, now=None) -> bool:
    """Running, but its worker has not been heard of for STALL_SECONDS."""
    if job.state == "failed":
        return job.error == ERROR_STALLED
    if job.state != "running":
        return False
    heard = job.heartbeat_at or job.started_at or job.created_at
    return (now or utcnow()) - heard > timedelta(seconds=STALL_SECONDS)


def reap_stalled(now=None) -> dict:
    """Queue again the jobs whose worker is gone (or whose message was lost), and fail those
    that stalled MAX_ATTEMPTS times. Returns the counts."""
    now = now or utcnow()
    stalled_before = now - timedelta(seconds=STALL_SECONDS)
    lost_before = now - timedelta(seconds=QUEUED_STALL_SECONDS)
    candidates = db.session.scalars(
        db.select(Job).where(
            or_(
                (Job.state == "running") & (_last_heard < stalled_before),
                (Job.state == "queued") & (Job.created_at < lost_before),
            )
        )
    ).all()
    counts = {"requeued": 0, "failed": 0}
    for job in candidates:
        if job.state == "running" and job.attempts >= MAX_ATTEMPTS:
            failed = db.session.execute(
                update(Job)
                .where(Job.id == job.id, Job.state == "running", _last_heard < stalled_before)
                .values(state="failed", error=ERROR_STALLED, finished_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            db.session.commit()
            counts["failed"] += failed
            if failed:
                log.warning("job %s (%s) stalled %d times: failed", job.id, job.kind, job.attempts)
            continue
        log.warning("job %s (%s) %s: queued again", job.id, job.kind, job.state)
        if queued_mode():
            if _enqueue_job(job):
                counts["requeued"] += 1
        else:
            run_job(job.id)
            counts["requeued"] += 1
    return counts


def restart(job: Job) -> bool:
    """Start a failed or stalled job again (its starter's "Start again"): the same job, queued
    once more; False when it is not failed or stalled any more (a double submit restarts once)."""
    stale = utcnow() - timedelta(seconds=STALL_SECONDS)
    reset = db.session.execute(
        update(Job)
        .where(
            Job.id == job.id,
            or_(Job.state == "failed", (Job.state == "running") & (_last_heard < stale)),
        )
        .values(state="queued", error="", finished_at=None, attempts=0, created_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not reset:
        return False
    if queued_mode():
        _enqueue_job(job)
    else:
        run_job(job.id)
    return True


def get_job_for(user, public_id: str) -> Job | None:
    """A job its starter may watch (anyone else gets None: a 404)."""
    job = db.session.scalars(db.select(Job).where(Job.public_id == public_id)).first()
    if job is None or job.created_by_id != user.id:
        return None
    return job


# -- tasks that follow a commit ---------------------------------------------------------------


def after_commit(name: str, key: Any) -> None:
    """Run task `name` for `key` once the current transaction commits (never if it rolls
    back). The task must be idempotent: it may run twice, or be run again by a sweeper."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}")
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback() before any SQL drops the task too
    session.info.setdefault(_PENDING, []).append((name, key))


def run_task(name: str, key: Any) -> None:
    """Run one task now (a worker's side of `after_commit`), committing what it did."""
    try:
        TASKS[name](key)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("task %s(%r) failed", name, key)


def run_ready_tasks() -> int:
    """Run the committed tasks of this session that wait to run inline (embedded mode)."""
    ran = 0
    while ready := db.session.info.pop(_READY, None):
        for name, key in ready:
            run_task(name, key)
            ran += 1
    return ran


@event.listens_for(Session, "after_commit")
def _tasks_committed(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its transaction goes on
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    if not queued_mode():
        session.info.setdefault(_READY, []).extend(pending)
        return
    for name, key in pending:
        enqueue_task(name, key)


def run_task_soon(name: str, key: Any) -> None:
    """Run task `name` for `key` outside the current request and its transaction, without
    writing anything now (what a GET may ask for): queued for a worker, or, in the embedded
    mode, run with the session's other ready tasks when the request's view has returned
    (`run_ready_tasks`)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}")
    if queued_mode():
        enqueue_task(name, key)
    else:
        db.session.info.setdefault(_READY, []).append((name, key))


def enqueue_task(name: str, key: Any) -> bool:
    """Queue a task for a worker now (queued mode). When the broker is away the task is
    lost: every task has a sweeper that catches up (e.g. certificates.render_missing)."""
    from lms.jobs.worker import run_task_task

    try:
        run_task_task.apply_async((name, key), retry=False)
    except Exception:  # Redis down, refused, timed out
        log.exception("task %s(%r) could not be queued", name, key)
        return False
    return True


@event.listens_for(Session, "after_soft_rollback")
def _tasks_dropped(session, previous_transaction) -> None:
    if not previous_transaction.nested:  # a savepoint rolled back leaves its transaction's
        session.info.pop(_PENDING, None)


def init_app(app) -> None:
    """In the embedded mode, a request's committed tasks run when its view has returned."""

    @app.after_request
    def run_tasks_of_request(response):
        if not queued_mode():
            run_ready_tasks()
        return response
