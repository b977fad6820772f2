"""`flask reports refresh` (daily: summarise closed months for the dashboards) and
`flask reports monthly` (monthly: send the pilot report to its subscribers)."""

import click
from flask.cli import with_appcontext

from lms.jobs.cli import run_job


@click.group("reports", help="Dashboards and reports.")
def reports_cli():
    pass


@reports_cli.command("refresh")
@click.option("--rebuild", is_flag=True, help="Recompute every month from the source tables.")
@with_appcontext
def refresh_command(rebuild: bool):
    """Summarise the months that closed since the last run (safe to run at any time).

    Cron, daily: 30 1 * * * flask reports refresh"""
    run_job("reports.refresh", {"rebuild": True} if rebuild else {})


@reports_cli.command("monthly")
@click.option("--month", default=None, help="The month to report, YYYY-MM; default: last month.")
@with_appcontext
def monthly_command(month: str | None):
    """Send the monthly pilot report to the consortium admins who subscribed to it.

    Each subscriber gets a notification with a link to the PDF and, when LMS_SMTP_URL is set,
    an e-mail with the PDF attached, in their language; never twice for the same month, so it
    is safe to run again. Cron, at 06:00 on the 2nd of each month (a day after the month
    ended, when its figures are final):

        0 6 2 * * flask reports monthly
    """
    from lms.reports.monthly import parse_month

    params = {}
    if month:
        value, error = parse_month(month)
        if error:
            raise click.BadParameter(str(error), param_hint="--month")
        params["month"] = value
    run_job("reports.monthly", params)
