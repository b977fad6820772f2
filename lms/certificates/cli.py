"""`flask certificates ...`"""

from __future__ import annotations

import ssl
from datetime import datetime

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from lms.certificates import signing
from lms.extensions import db
from lms.jobs.cli import run_job, today_option
from lms.tenancy.models import Consortium


@click.group("certificates", help="Certificates.")
def certificates_cli():
    pass


@certificates_cli.command("render-missing")
@with_appcontext
def render_missing_command():
    """Render the PDFs of certificates that have none yet (Celery beat runs this every five
    minutes; with cron, run it as often)."""
    from lms.certificates.service import render_missing

    click.echo(f"{render_missing()} certificates rendered")


@certificates_cli.command("remind")
@today_option
@with_appcontext
def remind_command(today: datetime | None):
    """Expiry reminders (30 and 7 days), expired notices and recertification, then e-mails.

    Safe to run any number of times a day (cron: once a day)."""
    run_job("certificates.lifecycle", {"today": today.date().isoformat()} if today else {})


@certificates_cli.command("signing-certificate")
@click.argument("code")
@with_appcontext
def signing_certificate_command(code: str):
    """Print the public signing certificate (PEM) of the consortium CODE.

    Check a certificate PDF against it: pyhanko sign validate --trust FILE --trust-replace PDF"""
    consortium = db.session.scalars(select(Consortium).where(Consortium.code == code)).first()
    der = signing.certificate_der(consortium.id) if consortium else None
    if der is None:
        raise click.ClickException(
            f"No signing certificate for consortium {code!r}: "
            "it is made when the consortium's first certificate PDF is signed."
        )
    click.echo(ssl.DER_cert_to_PEM_cert(der), nl=False)
