"""`flask courses validate|import|export`"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from lms.courses import service
from lms.courses.models import Course
from lms.courses.package import Package, find_packages, read_package
from lms.extensions import db
from lms.taxonomy.service import known_skill_ids
from lms.tenancy.models import Consortium, Firm


@click.group("courses", help="Course packages.")
def courses_cli():
    pass


def read_all(
    paths: list[Path], known_courses: set[str], consortium_id: int | None = None
) -> list[Package]:
    """Read every package; prerequisites may name courses of the same batch; slugs are unique.

    Skills are the shared ones and, given a consortium, those it added."""
    slugs_in_batch: dict[str, str] = {}
    for path in paths:
        raw = (path / "course.yaml") if path.is_dir() else None
        if raw is not None and raw.exists():
            import yaml

            try:
                slug = (yaml.safe_load(raw.read_text(encoding="utf-8")) or {}).get("slug")
            except (yaml.YAMLError, AttributeError):
                slug = None
            if isinstance(slug, str):
                slugs_in_batch.setdefault(slug, str(path))
    packages = []
    seen: dict[str, str] = {}
    skills = known_skill_ids(consortium_id)
    for path in paths:
        package = read_package(
            path, known_skills=skills, known_courses=known_courses | set(slugs_in_batch)
        )
        if package.slug:
            if package.slug in seen:
                package.problems.append(
                    f"course.yaml:1: duplicate slug {package.slug!r} (also in {seen[package.slug]})"
                )
            seen.setdefault(package.slug, str(path))
        packages.append(package)
    return packages


def _report(packages: list[Package]) -> int:
    bad = 0
    for package in packages:
        for problem in package.problems:
            click.echo(f"{package.source}/{problem}", err=True)
        bad += bool(package.problems)
    return bad


def _consortium(code: str | None) -> Consortium:
    query = select(Consortium)
    if code:
        query = query.where(Consortium.code == code.upper())
    found = db.session.scalars(query).all()
    if len(found) != 1:
        raise click.ClickException(
            "name the consortium with --consortium CODE" if found else "no such consortium"
        )
    return found[0]


@courses_cli.command("validate")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--consortium", "code", help="Consortium code (its courses count as known).")
@with_appcontext
def validate_command(path: Path, code: str | None):
    """Check one package (folder or .zip) or a folder of packages; print every problem."""
    consortium = _consortium(code) if code else None
    known = service.course_slugs(consortium) if consortium else set()
    packages = read_all(find_packages(path), known, consortium.id if consortium else None)
    bad = _report(packages)
    if bad:
        raise SystemExit(1)
    click.echo(f"{len(packages)} package(s) valid.")


@courses_cli.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--consortium", "code", help="Consortium code (needed if there are several).")
@click.option("--firm", "credit_code", help="Authoring firm's credit code (default: first firm).")
@with_appcontext
def import_command(path: Path, code: str | None, credit_code: str | None):
    """Import and publish packages; if any package is invalid nothing changes."""
    consortium = _consortium(code)
    firm = _authoring_firm(consortium, credit_code)
    counts = import_packages(find_packages(path), consortium, lambda slug: firm)
    if counts is None:
        raise SystemExit(1)
    db.session.commit()
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


def import_packages(paths: list[Path], consortium: Consortium, firm_for) -> dict | None:
    """Validate all, then import all in the caller's transaction (None if any is invalid)."""
    packages = read_all(paths, service.course_slugs(consortium), consortium.id)
    if _report(packages):
        return None
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    # Prerequisites first, so every course's prerequisites exist when it is imported.
    for package in _in_dependency_order(packages):
        try:
            _version, outcome = service.import_package(
                None, consortium, firm_for(package.slug), package
            )
        except service.CourseError as exc:
            db.session.rollback()
            click.echo(f"{package.source}/{exc.message}", err=True)
            return None
        counts[outcome] += 1
    return counts


def _in_dependency_order(packages: list[Package]) -> list[Package]:
    by_slug = {p.slug: p for p in packages}
    done: list[Package] = []

    def visit(p: Package, stack: tuple[str, ...] = ()):
        if p in done or p.slug in stack:
            return
        for pre in p.meta.get("prerequisites", []):
            if pre in by_slug:
                visit(by_slug[pre], (*stack, p.slug))
        done.append(p)

    for p in packages:
        visit(p)
    return done


def _authoring_firm(consortium: Consortium, credit_code: str | None) -> Firm:
    query = select(Firm).where(Firm.consortium_id == consortium.id).order_by(Firm.id)
    if credit_code:
        query = query.where(Firm.credit_code == credit_code.upper())
    firm = db.session.scalars(query).first()
    if firm is None:
        raise click.ClickException("no such firm in this consortium")
    return firm


@courses_cli.command("export")
@click.argument("slug")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--consortium", "code", help="Consortium code (needed if there are several).")
@with_appcontext
def export_command(slug: str, out: Path, code: str | None):
    """Write the latest version of a course as a package folder OUT/SLUG."""
    consortium = _consortium(code)
    course = db.session.scalars(
        select(Course).where(Course.consortium_id == consortium.id, Course.slug == slug)
    ).first()
    if course is None or not course.versions:
        raise click.ClickException(f"no course {slug!r}")
    root = service.export_version(service.latest_version(course), out)
    click.echo(f"Exported to {root}")
