"""The Celery side of background jobs (used when LMS_REDIS_URL is set).

Start a worker with: `celery -A lms.worker worker --loglevel=info` (lms/worker.py gives this
module the application factory: jobs sit below every domain and import none of them).
"""

from __future__ import annotations

import os

from celery import Celery, Task

celery_app = Celery("lms")
celery_app.conf.update(
    broker_url=os.environ.get("LMS_REDIS_URL") or "memory://",
    task_ignore_result=True,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)
_flask_app = None
_app_factory = None


def use_app_factory(factory) -> None:
    """How a worker process builds the Flask app its tasks run in."""
    global _app_factory
    _app_factory = factory


def _app():
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
        with _app().app_context():
            return self.run(*args, **kwargs)


@celery_app.task(base=FlaskTask, name="lms.run_job")
def run_job_task(job_id: int) -> None:
    from lms.jobs.service import run_job

    run_job(job_id)
