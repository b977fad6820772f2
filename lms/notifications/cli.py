"""`flask notifications ...`"""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from lms.jobs.cli import run_job, today_option


@click.group("notifications", help="Notifications.")
def notifications_cli():
    pass


@notifications_cli.command("remind")
@today_option
@with_appcontext
def remind_command(today: datetime | None):
    """Courses due in 3 days and overdue ones (to workers and firm admins), then e-mails.

    Safe to run any number of times a day (cron: once a day)."""
    run_job("notifications.reminders", {"today": today.date().isoformat()} if today else {})
