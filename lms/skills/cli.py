"""`flask skills ...`"""

from pathlib import Path

import click
import yaml
from flask.cli import with_appcontext

from lms.extensions import db
from lms.taxonomy.service import TaxonomyError, import_taxonomy


@click.group("skills", help="Skills taxonomy.")
def skills_cli():
    pass


@skills_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_command(path: Path):
    """Load categories, skills and job roles from a taxonomy YAML file."""
    from lms.courses.yamllines import YamlError, load

    try:
        data, lines = load(path.read_text(encoding="utf-8"))
        counts = import_taxonomy(data, lines=lines, filename=str(path))
    except YamlError as exc:
        raise click.ClickException(f"{path}:{exc.line}: {exc.message}") from exc
    except TaxonomyError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(
        f"Imported {counts['categories']} categories, {counts['skills']} skills and "
        f"{counts['roles']} job roles."
    )


@click.group("recommend", help="Course recommendations.")
def recommend_cli():
    pass


@recommend_cli.command("evaluate")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--k", "k", default=5, show_default=True, help="Length of each list.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option(
    "--dump",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every worker's list as CSV (worker_id, rank, course_slug, reason).",
)
def evaluate_command(dataset: Path, k: int, as_json: bool, dump: Path | None):
    """Score the recommender and two baselines (most popular, random) on a dataset folder."""
    import json

    from lms.skills.evaluate import dump_lists, evaluate, load_dataset

    try:
        data = load_dataset(dataset)
    except (OSError, KeyError, ValueError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{dataset}: cannot read the dataset: {exc}") from exc
    metrics, lists = evaluate(data, k=k)
    if dump:
        names = {s: text.split(" ")[0] for s, text in data.skill_texts.items()}
        dump_lists(dump, lists, names, {c.slug: c for c in data.courses})
    if as_json:
        click.echo(json.dumps(metrics, ensure_ascii=False))
        return
    columns = [f"gap_coverage@{k}", f"hit_rate@{k}", f"ndcg@{k}", "prerequisite_violations"]
    click.echo(f"{'':12}" + "".join(f"{c:>26}" for c in columns))
    for name, row in metrics.items():
        click.echo(f"{name:12}" + "".join(f"{row[c]:>26}" for c in columns))
