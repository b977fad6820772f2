"""The training_hours migration backfills a credit for every enrolment completed before it, on
the local (UTC+8) completion day, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa

from lms.extensions import db
from tests.test_migrations import _flask_db, postgres_app, sqlite_app  # noqa: F401

BEFORE, REVISION = "6c0100000001", "6c0200000002"

ROWS = [
    "INSERT INTO consortia (id, code, name, city, region, sectors, is_active, created_at)"
    " VALUES (1, 'TS', '联合体', '唐山', 'east', '[]', TRUE, '2026-01-01 00:00:00')",
    "INSERT INTO firms (id, consortium_id, name, kind, credit_code, is_active, created_at)"
    " VALUES (1, 1, '企业', 'college', '91130200MA0000001X', TRUE, '2026-01-01 00:00:00')",
    "INSERT INTO users (id, public_id, name, mobile, locale, is_platform_admin,"
    " is_active_account, failed_login_count, created_at) VALUES"
    " (1, 'u1', '张三', '13900000000', 'zh_CN', FALSE, TRUE, 0, '2026-01-01 00:00:00'),"
    " (2, 'u2', '李四', '13900000001', 'zh_CN', FALSE, TRUE, 0, '2026-01-01 00:00:00')",
    "INSERT INTO courses (id, consortium_id, firm_id, slug, created_at)"
    " VALUES (1, 1, 1, 'plc', '2026-01-01 00:00:00'), (2, 1, 1, 'free', '2026-01-01 00:00:00'),"
    " (3, 1, 1, 'net', '2026-01-01 00:00:00')",
    "INSERT INTO course_versions (id, course_id, version, status, language, title, summary,"
    " sector, hours, pass_mark, prerequisites, search_text, created_at) VALUES"
    " (1, 1, 1, 'published', 'zh-CN', 'PLC', '', 'x', 2.5, 60, '[]', '', '2026-01-01 00:00:00'),"
    " (2, 1, 2, 'published', 'zh-CN', 'PLC', '', 'x', 4, 60, '[]', '', '2026-01-01 00:00:00'),"
    " (3, 2, 1, 'published', 'zh-CN', 'Free', '', 'x', 0, 60, '[]', '', '2026-01-01 00:00:00'),"
    " (4, 3, 1, 'published', 'zh-CN', 'Net', '', 'x', 1, 60, '[]', '', '2026-01-01 00:00:00')",
]
# (id, user, course, version, status, completed_at UTC, withdrawn_at): 1 completed late in the
# UTC evening (the next day in Shanghai), 2 completed and set aside by a recertification, 3 its
# recertification completed too (a microsecond before local midnight), 4 in progress, 5
# completed with a course of no hours.
ENROLMENTS = [
    (1, 1, 1, 1, "completed", "2026-03-01 16:30:00.000000", None),
    (2, 2, 1, 1, "completed", "2025-06-01 02:00:00.000000", "2026-05-01 00:00:00.000000"),
    (3, 2, 1, 2, "completed", "2026-05-10 15:59:59.999999", None),
    (4, 1, 3, 4, "in_progress", None, None),
    (5, 1, 2, 3, "completed", "2026-02-01 08:00:00.000000", None),
]


def _seed(app) -> None:
    with app.app_context(), db.engine.begin() as connection:
        for statement in ROWS:
            connection.execute(sa.text(statement))
        # Timestamps as SQLite stores them (UTC text); PostgreSQL reads them as UTC too.
        insert = sa.text(
            "INSERT INTO enrollments (id, public_id, consortium_id, firm_id, user_id, course_id,"
            " version_id, status, source, is_mandatory, enrolled_at, completed_at, withdrawn_at)"
            " VALUES (:id, :public_id, 1, 1, :user, :course, :version, :status, 'self', FALSE,"
            " :enrolled, :completed, :withdrawn)"
        )
        for eid, user, course, version, status, completed, withdrawn in ENROLMENTS:
            connection.execute(
                insert,
                {
                    "id": eid,
                    "public_id": f"e{eid}",
                    "user": user,
                    "course": course,
                    "version": version,
                    "status": status,
                    "enrolled": "2025-01-01 00:00:00.000000",
                    "completed": _moment(completed, connection),
                    "withdrawn": _moment(withdrawn, connection),
                },
            )


def _moment(text: str | None, connection):
    """SQLite stores the text as it is; PostgreSQL gets an aware UTC datetime."""
    if text is None or connection.dialect.name == "sqlite":
        return text
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _credits(app) -> list[tuple]:
    from sqlalchemy import select

    from lms.transcripts.models import TrainingHours

    # db.engine, not db.session: the test session is bound to the main test database.
    table = TrainingHours.__table__
    columns = ("enrollment_id", "user_id", "hours", "credited_on", "firm_id", "course_id")
    with app.app_context(), db.engine.connect() as connection:
        query = select(*(table.c[name] for name in columns)).order_by(table.c.enrollment_id)
        return [tuple(row) for row in connection.execute(query)]


def _assert_backfill(app) -> None:
    _flask_db(app, "upgrade", BEFORE)
    _seed(app)
    _flask_db(app, "upgrade", REVISION)
    assert _credits(app) == [
        (1, 1, Decimal("2.5"), date(2026, 3, 2), 1, 1),
        (2, 2, Decimal("2.5"), date(2025, 6, 1), 1, 1),
        (3, 2, Decimal("4.0"), date(2026, 5, 10), 1, 1),
    ]
    _flask_db(app, "downgrade", BEFORE)
    _flask_db(app, "upgrade", REVISION)
    assert len(_credits(app)) == 3


def test_the_migration_backfills_completed_enrolments_on_sqlite(sqlite_app):  # noqa: F811
    _assert_backfill(sqlite_app)


def test_the_migration_backfills_completed_enrolments_on_postgresql(postgres_app):  # noqa: F811
    _assert_backfill(postgres_app)
