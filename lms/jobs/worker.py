"""The Celery side of background jobs (used when LMS_REDIS_URL is set).

Start a worker with `celery -A lms.worker worker --loglevel=info` and the schedule with
`celery -A lms.worker beat` (lms/worker.py gives this module the application factory: jobs sit
below every domain and import none of them).

Delivery: a task is acknowledged when it has finished (late ack), so a worker killed mid-job
leaves its message unacknowledged and Redis hands it out again after VISIBILITY_SECONDS; a
worker process lost by the pool (killed child) gives it back at once. The job row's claim makes
a second delivery of a job that is still running (or done) do nothing, and the reaper queues
again, well before that, a job whose heartbeat stopped (lms.jobs.service).
"""

from __future__ import annotations

import os

from celery import Celery, Task
from celery.schedules import crontab

# Longer than the reaper takes to notice a dead worker (service.STALL_SECONDS plus a minute of
# beat), so the reaper acts first; a redelivery after it finds the job claimed and does nothing.
VISIBILITY_SECONDS = int(os.environ.get("LMS_JOB_VISIBILITY_SECONDS", "600"))

# What runs on a schedule (Celery beat), in the consortium's time zone. The same jobs can be
# run by cron with the `flask ... ` commands of the README instead.
BEAT_SCHEDULE = {
    "reap-stalled-jobs": {
        "task": "lms.reap_stalled",
        "schedule": float(os.environ.get("LMS_JOB_REAP_SECONDS", "60")),
    },
    "render-missing-certificates": {
        "task": "lms.run_task",
        "schedule": 300.0,
        "args": ("certificates.render_missing", None),
    },
    "refresh-reports": {
        "task": "lms.start_scheduled",
        "schedule": crontab(minute=30),
        "args": ("reports.refresh",),
    },
    "certificate-lifecycle": {
        "task": "lms.start_scheduled",
        "schedule": crontab(hour=7, minute=0),
        "args": ("certificates.lifecycle",),
    },
    "assignment-reminders": {
        "task": "lms.start_scheduled",
        "schedule": crontab(hour=7, minute=5),
        "args": ("notifications.reminders",),
    },
    "monthly-report": {
        "task": "lms.start_scheduled",
        "schedule": crontab(day_of_month=2, hour=6, minute=0),
        "args": ("reports.monthly",),
    },
}

celery_app = Celery("lms")
celery_app.conf.update(
    broker_url=os.environ.get("LMS_REDIS_URL") or "memory://",
    broker_transport_options={"visibility_timeout": VISIBILITY_SECONDS},
    broker_connection_retry_on_startup=True,
    # Sending a message when Redis is down fails at once instead of retrying for ever inside a
    # request (the caller marks the job failed).
    broker_connection_timeout=3,
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    timezone=os.environ.get("LMS_TIMEZONE", "Asia/Shanghai"),
    beat_schedule=BEAT_SCHEDULE,
)
_flask_app = None
_app_factory = None


def use_app_factory(factory) -> None:
    """How a worker process builds the Flask app its tasks run in."""
    global _app_factory
    _app_factory = factory


def flask_app():
    global _flask_app
    if _flask_app is None:
        if _app_factory is None:
            raise RuntimeError("start the worker with `celery -A lms.worker worker`")
        _flask_app = _app_factory()
    return _flask_app


class FlaskTask(Task):
    def __call__(self, *args, **kwargs):
        from flask import has_app_context

        if has_app_context():
            return self.run(*args, **kwargs)
        with flask_app().app_context():
            try:
                return self.run(*args, **kwargs)
            finally:
                from lms.extensions import db

                db.session.remove()


@celery_app.task(base=FlaskTask, name="lms.run_job")
def run_job_task(job_id: int) -> None:
    from lms.jobs.service import run_job

    run_job(job_id)


@celery_app.task(base=FlaskTask, name="lms.run_task")
def run_task_task(name: str, key) -> None:
    from lms.jobs.service import run_task

    run_task(name, key)


@celery_app.task(base=FlaskTask, name="lms.reap_stalled")
def reap_stalled_task() -> None:
    from lms.jobs.service import reap_stalled

    reap_stalled()


@celery_app.task(base=FlaskTask, name="lms.start_scheduled")
def start_scheduled_task(kind: str) -> None:
    from lms.jobs.service import start_job

    start_job(kind)
