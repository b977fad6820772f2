"""`flask accounts ...`"""

import click
from flask.cli import with_appcontext

from lms.auth import service
from lms.extensions import db


@click.group("accounts", help="Manage accounts.")
def accounts_cli():
    pass


@accounts_cli.command("create-admin")
@click.option("--name", prompt="Name / 姓名")
@click.option("--email", prompt="E-mail / 邮箱 (blank if none)", default="", show_default=False)
@click.option("--mobile", prompt="Mobile / 手机号 (blank if none)", default="", show_default=False)
@click.password_option("--password", prompt="Password / 密码")
@with_appcontext
def create_admin(name, email, mobile, password):
    """Create a platform admin interactively (there are no default accounts)."""
    try:
        user = service.create_platform_admin(
            name=name, email=email or None, mobile=mobile or None, password=password
        )
    except service.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    click.echo(f"Platform admin created: {user.email or user.mobile}")
