"""The Celery worker's entry point: `celery -A lms.worker worker --loglevel=info` (and
`celery -A lms.worker beat` for the schedule).

It gives the jobs package the application factory, so a task runs inside the full app, and
loads what rendering needs (the certificate font, the stylesheets) once per worker process when
it starts, not inside the first job.
"""

import logging

from celery.signals import worker_process_init

from lms import create_app
from lms.jobs.worker import celery_app, flask_app, use_app_factory

use_app_factory(create_app)

__all__ = ["celery_app"]


@worker_process_init.connect
def _warm_up(**_kw) -> None:
    from lms.certificates.render import warm_up

    with flask_app().app_context():
        try:
            warm_up()
        except Exception:  # no font installed: the renders will say so
            logging.getLogger(__name__).warning("could not load the certificate fonts")
