"""`flask certificates ...`"""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from lms.jobs.cli import run_job, today_option


@click.group("certificates", help="Certificates.")
def certificates_cli():
    pass


@certificates_cli.command("remind")
@today_option
@with_appcontext
def remind_command(today: datetime | None):
    """Expiry reminders (30 and 7 days), expired notices and recertification, then e-mails.

    Safe to run any number of times a day (cron: once a day)."""
    run_job("certificates.lifecycle", {"today": today.date().isoformat()} if today else {})
