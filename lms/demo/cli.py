"""`flask demo load`"""

import click
from flask.cli import with_appcontext

from lms.demo.data import DEMO_PASSWORD, demo_logins, is_loaded, load_demo
from lms.extensions import db


@click.group("demo", help="Demo data.")
def demo_cli():
    pass


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Load only into a database without any users.")
@with_appcontext
def load(if_empty: bool):
    """Load the demo consortium, its firms and people (once)."""
    from lms.auth.service import count_users

    if is_loaded() or (if_empty and count_users() > 0):
        click.echo("Demo data is already there (or the database is in use); nothing loaded.")
    else:
        counts = load_demo()
        db.session.commit()
        click.echo(
            f"Demo data loaded: {counts['firms']} firms, {counts['accounts']} accounts, "
            f"{counts['courses']} courses, {counts['completions']} completions with "
            f"{counts['certificates']} certificates."
        )
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for login, role in demo_logins():
        click.echo(f"  {login:28} {role}")
