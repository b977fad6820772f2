"""`flask ops backup|restore|check`: run them with the app stopped, or at least idle, for a
restore; a backup is consistent while the app runs."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from lms.ops import backup as ops


@click.group("ops", help="Backup, restore and checks of this instance.")
def ops_cli():
    pass


def _say(line: str) -> None:
    click.echo(line)


@ops_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path):
    """Write one archive (tar.gz, mode 0600) of the database, stored files, signing keys and
    secret key to PATH. Keep it off this machine: it holds the keys."""
    try:
        ops.backup(path, say=_say)
    except ops.OpsError as exc:
        raise click.ClickException(str(exc)) from exc


@ops_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace a database that is not empty.")
@with_appcontext
def restore_command(path: Path, yes: bool):
    """Restore the archive at PATH into this instance (database, files, keys, secret key),
    after checking it is intact; prints the row counts restored and then the key check."""
    try:
        ops.restore(path, yes=yes, say=_say)
    except ops.OpsError as exc:
        raise click.ClickException(str(exc)) from exc
    if ops.check(say=_say):
        raise click.ClickException("restored, but signing keys are missing (see above)")


@ops_cli.command("check")
@with_appcontext
def check_command():
    """Report consortia whose signing key is missing although certificates were signed with
    it (exit status 1), or whose key differs from the one that signed."""
    if ops.check(say=_say):
        raise click.ClickException("signing keys are missing: restore them from the backup")
    click.echo("ok")
