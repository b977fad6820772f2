"""`flask certificates ...`"""

from __future__ import annotations

import json
from datetime import datetime

import click
from flask.cli import with_appcontext


@click.group("certificates", help="Certificates.")
def certificates_cli():
    pass


@certificates_cli.command("remind")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Run as if it were this day (YYYY-MM-DD); default: today.",
)
@with_appcontext
def remind_command(today: datetime | None):
    """Expiry reminders (30 and 7 days), expired notices and recertification, then e-mails.

    Safe to run any number of times a day (cron: once a day)."""
    from lms.jobs.service import start_job

    params = {"today": today.date().isoformat()} if today else {}
    job = start_job("certificates.lifecycle", params=params)
    if job.state == "failed":
        raise click.ClickException(f"job {job.public_id} failed; see the log")
    if job.state != "done":
        click.echo(f"queued job {job.public_id}")
        return
    click.echo(json.dumps(job.result, sort_keys=True))
