"""The Celery worker's entry point: `celery -A lms.worker worker --loglevel=info`.

It gives the jobs package the application factory, so a task runs inside the full app.
"""

from lms import create_app
from lms.jobs.worker import celery_app, use_app_factory

use_app_factory(create_app)

__all__ = ["celery_app"]
