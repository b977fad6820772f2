"""Smoke test of bench/reports.py, so the benchmark can't rot: seeding at a tiny scale on
SQLite, the summary refresh, one consortium dashboard request and a small XLSX export."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

pytest.importorskip("lms.reports.summary")
pytest.importorskip("lms.reports.views")

from bench import reports as bench  # noqa: E402
from lms.extensions import db  # noqa: E402


@pytest.fixture
def own_session():
    """An ordinary session for the bench's own app and database while the test runs (the
    suite's autouse fixture pins db.session to the test database's connection)."""
    pinned = db.session
    db.session = db._make_scoped_session({})
    try:
        yield
    finally:
        db.session = pinned


def test_bench_seeds_sqlite_and_measures_dashboard_and_export(tmp_path, own_session, monkeypatch):
    from lms.reports.summary import refresh_all

    monkeypatch.setattr(bench, "RUNS", 1)
    monkeypatch.setattr(bench, "WARMUP", 0)
    monkeypatch.setattr(bench, "EXPORT_ROWS", 1000)
    world = bench.generate(0.002, int(time.time()) // 60 * 60)
    frames = world["frames"]
    url = f"sqlite:///{tmp_path}/bench.sqlite3"
    app = bench.make_app(url, str(tmp_path / "storage"))
    try:
        bench.prepare_schema(app)
        bench.bulk_load(url, world)
        with app.app_context():
            counts = {
                table: db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))  # noqa: S608
                for table in ("users", "enrollments", "lesson_progress", "skill_evidence")
            }
            refresh_all()
            db.session.commit()
            assert db.session.scalar(sa.text("SELECT count(*) FROM report_cube")) > 0
            db.session.remove()
        assert counts == {table: frames[table].rows for table in counts}
        assert frames["enrollments"].rows == 2000
        assert frames["users"].rows == 200 + 1 + bench.FIRMS  # workers and the admins

        client = bench.sign_in(app, world["consortium_admin"][0])
        (elapsed,) = bench.timed_get(client, f"/consortia/{world['consortium_id']}/reports")
        assert elapsed > 0

        world["export_period"] = bench.export_period(
            frames["enrollments"].columns["enrolled_at"].values
        )
        export = bench.measure_export(app, world, tmp_path / "export.xlsx")
        # measure_export read the file back: header, row count, a "=" name neutralised.
        assert export["export_rows"] == 1000
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
