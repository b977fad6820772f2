"""LMS_REPORTS_DATABASE_URL: report pages read from a replica, everything else (and every
write) from the primary. Two SQLite files stand in for the primary and its replica."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lms import create_app
from lms.core.replica import reading_replica
from lms.extensions import RoutingSession, db
from lms.taxonomy.models import SkillCategory

REPORT_VIEWS = (
    "reports.consortium_dashboard",
    "reports.firm_dashboard",
    "reports.consortium_people",
    "reports.firm_people",
    "course_reports.course_analytics",
    "transcripts.firm_hours",
    "transcripts.consortium_hours",
)


@pytest.fixture
def two_databases(tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_REPORTS_DATABASE_URL", f"sqlite:///{tmp_path / 'replica.sqlite3'}")
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'primary.sqlite3'}"}
    )
    with app.app_context():
        db.metadata.create_all(db.engines[None], tables=[SkillCategory.__table__])
        db.metadata.create_all(db.engines["reports"], tables=[SkillCategory.__table__])
        for engine, name in ((db.engines[None], "primary"), (db.engines["reports"], "replica")):
            with engine.begin() as connection:
                connection.execute(
                    SkillCategory.__table__.insert().values(id="c", name_zh=name, name_en=name)
                )
    yield app
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()
    # Flask-SQLAlchemy keeps one metadata per bind key for every app of the process: the
    # other tests' app has no replica.
    db.metadatas.pop("reports", None)


def _name(session) -> str:
    return session.scalar(select(SkillCategory.name_en).where(SkillCategory.id == "c"))


def test_reads_inside_go_to_the_replica_and_writes_to_the_primary(two_databases):
    with two_databases.app_context():
        session = RoutingSession(db)  # the app's own kind (the tests' db.session is pinned)
        assert _name(session) == "primary"
        session.rollback()
        with reading_replica():
            assert _name(session) == "replica"
            session.add(SkillCategory(id="new", name_zh="新", name_en="new"))
            session.commit()  # the write goes to the primary
        assert session.get(SkillCategory, "new") is not None
        with db.engines["reports"].connect() as replica:
            assert replica.execute(select(SkillCategory.id)).scalars().all() == ["c"]
        session.close()


def test_without_the_setting_everything_reads_the_primary(app):
    with app.app_context():
        assert "reports" not in db.engines
        session = RoutingSession(db)
        with reading_replica():
            assert session.get_bind(clause=select(SkillCategory)) is db.engines[None]


def test_the_report_pages_read_from_the_replica(app):
    for endpoint in REPORT_VIEWS:
        assert getattr(app.view_functions[endpoint], "reads_replica", False), endpoint
