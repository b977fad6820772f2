"""What the `flask ... ` commands that start a background job share."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext


def today_option(func):
    """A `--today YYYY-MM-DD` option: run a daily job as if it were that day."""
    return click.option(
        "--today",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Run as if it were this day (YYYY-MM-DD); default: today.",
    )(func)


def run_job(kind: str, params: dict) -> None:
    """Start the job (inline, or queued with LMS_REDIS_URL) and print its result."""
    from lms.jobs.service import start_job

    job = start_job(kind, params=params)
    if job.state == "failed":
        raise click.ClickException(f"job {job.public_id} failed; see the log")
    if job.state != "done":
        click.echo(f"queued job {job.public_id}")
        return
    click.echo(json.dumps(job.result, sort_keys=True))


@click.group("jobs", help="Background jobs.")
def jobs_cli():
    pass


@jobs_cli.command("reap")
@with_appcontext
def reap_command():
    """Queue again the jobs whose worker stopped, fail those that stalled too often (Celery
    beat runs this every minute; with cron, run it every minute)."""
    from lms.jobs.service import reap_stalled

    click.echo(json.dumps(reap_stalled(), sort_keys=True))
