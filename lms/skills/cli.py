"""`flask skills ...`"""

from pathlib import Path

import click
import yaml
from flask.cli import with_appcontext

from lms.extensions import db
from lms.skills.service import TaxonomyError, import_taxonomy


@click.group("skills", help="Skills taxonomy.")
def skills_cli():
    pass


@skills_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_command(path: Path):
    """Load categories, skills and job roles from a taxonomy YAML file."""
    try:
        counts = import_taxonomy(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (TaxonomyError, yaml.YAMLError, KeyError) as exc:
        db.session.rollback()
        raise click.ClickException(f"{path}: {exc}") from exc
    db.session.commit()
    click.echo(
        f"Imported {counts['categories']} categories, {counts['skills']} skills and "
        f"{counts['roles']} job roles."
    )
