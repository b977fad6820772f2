"""The migration scripts build the schema the models describe, on SQLite and PostgreSQL;
the demo data loads once."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from lms import create_app
from lms.extensions import db
from tests.conftest import TEST_CONFIG

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _script_directory() -> ScriptDirectory:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_the_migration_scripts_have_exactly_one_head():
    script = _script_directory()
    heads = script.get_heads()
    assert len(heads) == 1, heads
    assert len(script.get_bases()) == 1
    # Every revision is reachable from the head: no orphaned branch.
    chain = {rev.revision for rev in script.walk_revisions("base", "heads")}
    assert chain == {rev.revision for rev in script.walk_revisions()}


@contextmanager
def _logging_kept() -> Iterator[None]:
    """migrations/env.py calls logging.config.fileConfig, which replaces handlers and levels;
    put things back for the rest of the test run."""
    loggers = [logging.getLogger()] + [
        lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    saved = {lg: (lg.disabled, lg.level, list(lg.handlers), lg.propagate) for lg in loggers}
    try:
        yield
    finally:
        for lg in [logging.getLogger()] + [
            lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)
        ]:
            disabled, level, handlers, propagate = saved.get(lg, (False, logging.NOTSET, [], True))
            lg.disabled, lg.propagate = disabled, propagate
            lg.setLevel(level)
            lg.handlers[:] = handlers


def _flask_db(app, *args: str) -> None:
    """Run `flask db ...` against `app`."""
    with _logging_kept():
        result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, (result.output, result.exception)


def _differences(app) -> list:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def _revision(app) -> str | None:
    with app.app_context(), db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _tables(app) -> set[str]:
    with app.app_context():
        return set(sa.inspect(db.engine).get_table_names())


def _dispose(app) -> None:
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def sqlite_app(tmp_path):
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.db'}"})
    yield app
    _dispose(app)


@pytest.fixture
def postgres_app():
    url = os.environ.get("LMS_TEST_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        pytest.skip("LMS_TEST_DATABASE_URL is not a PostgreSQL URL")
    name = f"lms_migrations_{uuid.uuid4().hex[:12]}"
    server = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    fresh = sa.make_url(url).set(database=name).render_as_string(hide_password=False)
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": fresh})
    try:
        yield app
    finally:
        _dispose(app)
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def _assert_upgrade_builds_the_models_schema(app) -> None:
    assert _tables(app) == set()
    _flask_db(app, "upgrade")
    assert _revision(app) == _script_directory().get_current_head()
    assert _tables(app) == set(db.metadata.tables) | {"alembic_version"}
    assert _differences(app) == []


def test_flask_db_upgrade_on_a_fresh_sqlite_file_matches_the_models(sqlite_app):
    _assert_upgrade_builds_the_models_schema(sqlite_app)


def test_flask_db_upgrade_on_a_fresh_postgresql_database_matches_the_models(postgres_app):
    _assert_upgrade_builds_the_models_schema(postgres_app)


def test_downgrade_to_base_and_upgrade_again_on_sqlite(sqlite_app):
    _flask_db(sqlite_app, "upgrade")
    _flask_db(sqlite_app, "downgrade", "base")
    assert _tables(sqlite_app) == {"alembic_version"}
    _flask_db(sqlite_app, "upgrade")
    assert _differences(sqlite_app) == []


def test_downgrade_to_base_and_upgrade_again_on_postgresql(postgres_app):
    _flask_db(postgres_app, "upgrade")
    _flask_db(postgres_app, "downgrade", "base")
    assert _tables(postgres_app) == {"alembic_version"}
    _flask_db(postgres_app, "upgrade")
    assert _differences(postgres_app) == []


def test_the_test_app_is_unaffected_by_the_migration_apps(app, sqlite_app, client):
    _flask_db(sqlite_app, "upgrade")
    with app.app_context():
        url = db.engine.url.render_as_string(hide_password=False)
        assert url == app.config["SQLALCHEMY_DATABASE_URI"]
    with sqlite_app.app_context():
        assert str(db.engine.url) == sqlite_app.config["SQLALCHEMY_DATABASE_URI"]
    assert client.get("/readyz").get_json()["database"] == "ok"


# --- demo data ---------------------------------------------------------------------------


def _demo_summary(app) -> dict:
    from lms.core.codes import normalize_uscc
    from lms.tenancy.models import Consortium, Firm, Membership

    with app.app_context():
        consortium = db.session.scalars(select(Consortium).where(Consortium.code == "TS")).one()
        firms = db.session.scalars(select(Firm).where(Firm.consortium_id == consortium.id)).all()
        today = date.today()
        current_workers = db.session.execute(
            select(Membership.firm_id, func.count(func.distinct(Membership.user_id)))
            .where(
                Membership.consortium_id == consortium.id,
                Membership.role == "worker",
                Membership.starts_on <= today,
                sa.or_(Membership.ends_on.is_(None), Membership.ends_on > today),
            )
            .group_by(Membership.firm_id)
        ).all()
        workers_by_firm = dict(current_workers)
        return {
            "consortia": db.session.scalar(
                select(func.count()).select_from(Consortium).where(Consortium.code == "TS")
            ),
            "firms": {f.id: (f.kind, f.credit_code) for f in firms},
            "codes_valid": all(normalize_uscc(f.credit_code) == f.credit_code for f in firms),
            "workers_by_firm": workers_by_firm,
            "workers": db.session.scalar(
                select(func.count(func.distinct(Membership.user_id))).where(
                    Membership.consortium_id == consortium.id,
                    Membership.role == "worker",
                    Membership.starts_on <= today,
                    sa.or_(Membership.ends_on.is_(None), Membership.ends_on > today),
                )
            ),
            "users": db.session.scalar(
                select(func.count()).select_from(db.metadata.tables["users"])
            ),
            "memberships": db.session.scalar(
                select(func.count()).select_from(db.metadata.tables["memberships"])
            ),
        }


def test_flask_demo_load_loads_workers_across_firms_of_different_kinds_once(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "worker@demo.lms" in result.output  # the demo logins are printed

    first = _demo_summary(app)
    assert first["consortia"] == 1
    assert first["codes_valid"] is True
    assert len({code for _kind, code in first["firms"].values()}) == len(first["firms"])
    assert first["workers"] >= 60
    firms_with_workers = [fid for fid, n in first["workers_by_firm"].items() if n > 0]
    assert len(firms_with_workers) >= 4
    assert len({first["firms"][fid][0] for fid in firms_with_workers}) >= 4

    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0, (again.output, again.exception)
    assert _demo_summary(app) == first


def test_demo_load_if_empty_leaves_a_database_in_use_alone(app, create_user):
    create_user()
    result = app.test_cli_runner().invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0, (result.output, result.exception)
    from lms.tenancy.models import Consortium

    with app.app_context():
        assert db.session.scalars(select(Consortium).where(Consortium.code == "TS")).first() is None


def test_demo_dispatched_workers_are_current_only_at_their_present_firm(app):
    from lms.tenancy.models import Firm
    from lms.tenancy.scope import list_people

    assert app.test_cli_runner().invoke(args=["demo", "load"]).exit_code == 0
    with app.app_context():
        firms = {f.kind: f for f in db.session.scalars(select(Firm)).all()}
        hr_people = set(db.session.scalars(list_people(firms["hr_service"])).all())
        at_leader = set(db.session.scalars(list_people(firms["chain_leader"])).all())
        at_champion = set(db.session.scalars(list_people(firms["single_champion"])).all())
        dispatched = hr_people & at_leader
        assert len(dispatched) == 3
        assert not dispatched & at_champion


def test_demo_logins_work(app, client):
    from lms.demo.data import DEMO_PASSWORD

    assert app.test_cli_runner().invoke(args=["demo", "load"]).exit_code == 0
    response = client.post("/login", data={"login": "worker@demo.lms", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
