"""The assignments migration gives every assigned enrolment one assignment with its own values,
of the party that assigned it, on SQLite and PostgreSQL; self-enrolments get none."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from lms.extensions import db
from tests.test_migrations import (  # noqa: F401
    _flask_db,
    _script_directory,
    postgres_app,
    sqlite_app,
)

REVISION = "f156272e310b"
T0 = "2026-01-01 00:00:00"

ROWS = [
    "INSERT INTO consortia (id, code, name, city, region, sectors, is_active, created_at)"
    " VALUES (1, 'TS', '联合体', '唐山', 'east', '[]', TRUE, '2026-01-01 00:00:00')",
    "INSERT INTO firms (id, consortium_id, name, kind, credit_code, is_active, created_at) VALUES"
    " (1, 1, '冀东', 'chain_leader', '91130200MA0000001X', TRUE, '2026-01-01 00:00:00'),"
    " (2, 1, '众才', 'hr_service', '91130200MA0000002X', TRUE, '2026-01-01 00:00:00')",
    "INSERT INTO users (id, public_id, name, mobile, locale, is_platform_admin,"
    " is_active_account, failed_login_count, created_at) VALUES"
    + ",".join(
        f" ({i}, 'u{i}', '用户{i}', '1390000000{i}', 'zh_CN', FALSE, TRUE, 0, '{T0}')"
        for i in range(1, 6)
    ),
    # 1: placed by firm 2 in firm 1 (both); 2: firm 1's; 3: firm 1's admin; 4: firm 2's admin;
    # 5: the consortium admin.
    "INSERT INTO memberships (id, user_id, consortium_id, firm_id, role, starts_on, created_at)"
    " VALUES (1, 1, 1, 2, 'worker', '2026-01-01', '2026-01-01 00:00:00'),"
    " (2, 1, 1, 1, 'worker', '2026-01-01', '2026-01-01 00:00:00'),"
    " (3, 2, 1, 1, 'worker', '2026-01-01', '2026-01-01 00:00:00'),"
    " (4, 3, 1, 1, 'firm_admin', '2026-01-01', '2026-01-01 00:00:00'),"
    " (5, 4, 1, 2, 'firm_admin', '2026-01-01', '2026-01-01 00:00:00'),"
    " (6, 5, 1, NULL, 'consortium_admin', '2026-01-01', '2026-01-01 00:00:00')",
    "INSERT INTO courses (id, consortium_id, firm_id, slug, created_at) VALUES"
    + ",".join(f" ({i}, 1, 1, 'c{i}', '{T0}')" for i in range(1, 7)),
    "INSERT INTO course_versions (id, course_id, version, status, language, title, summary,"
    " sector, hours, pass_mark, prerequisites, search_text, created_at) VALUES"
    + ",".join(
        f" ({i}, {i}, 1, 'published', 'zh-CN', 'C{i}', '', 'x', 1, 60, '[]', '', '{T0}')"
        for i in range(1, 7)
    ),
]
# (id, user, course, enrolment's firm, source, assigned by, due on, mandatory, withdrawn)
ENROLMENTS = [
    (1, 1, 1, 1, "firm", 4, "2026-03-01", True, False),  # firm 2's admin: firm 2's
    (2, 2, 1, 1, "firm", 3, "2026-03-02", False, False),  # firm 1's
    (3, 2, 2, 1, "consortium", 5, "2026-03-03", True, False),  # the consortium's
    (4, 2, 3, 1, "self", None, "2026-03-04", False, False),  # self-enrolled, given a date
    (5, 2, 4, 1, "self", None, None, False, False),  # self-enrolled: no assignment
    (6, 1, 2, 1, "recert", None, "2026-03-06", True, False),  # the worker's firm
    (7, 2, 5, 1, "firm", 5, "2026-03-07", False, False),  # consortium admin on firm 1's page
    (8, 2, 6, 1, "firm", 3, None, True, True),  # withdrawn: kept with its enrolment
]


def _seed(app) -> None:
    with app.app_context(), db.engine.begin() as connection:
        for statement in ROWS:
            connection.execute(sa.text(statement))
        insert = sa.text(
            "INSERT INTO enrollments (id, public_id, consortium_id, firm_id, user_id, course_id,"
            " version_id, status, source, assigned_by_id, due_on, is_mandatory, enrolled_at,"
            " withdrawn_at) VALUES (:id, :public_id, 1, :firm, :user, :course, :course,"
            " :status, :source, :by, :due, :mandatory, :enrolled, :withdrawn)"
        ).bindparams(sa.bindparam("due", type_=sa.Date), sa.bindparam("mandatory", sa.Boolean))
        for eid, user, course, firm, source, by, due, mandatory, withdrawn in ENROLMENTS:
            connection.execute(
                insert,
                {
                    "id": eid,
                    "public_id": f"e{eid}",
                    "firm": firm,
                    "user": user,
                    "course": course,
                    "status": "withdrawn" if withdrawn else "enrolled",
                    "source": source,
                    "by": by,
                    "due": date.fromisoformat(due) if due else None,
                    "mandatory": mandatory,
                    "enrolled": T0,
                    "withdrawn": "2026-02-01 00:00:00" if withdrawn else None,
                },
            )


def _assignments(app) -> list[tuple]:
    from lms.learning.models import Assignment

    table = Assignment.__table__
    columns = (
        "enrollment_id",
        "firm_id",
        "party_key",
        "source",
        "assigned_by_id",
        "due_on",
        "is_mandatory",
        "user_id",
        "course_id",
    )
    with app.app_context(), db.engine.connect() as connection:
        query = sa.select(*(table.c[name] for name in columns)).order_by(table.c.enrollment_id)
        rows = [tuple(row) for row in connection.execute(query)]
        public_ids = connection.execute(sa.select(table.c.public_id)).scalars().all()
        assert len(set(public_ids)) == len(rows) and all(len(p) >= 20 for p in public_ids)
        return rows


def _assert_backfill(app) -> None:
    before = _script_directory().get_revision(REVISION).down_revision
    _flask_db(app, "upgrade", before)
    _seed(app)
    _flask_db(app, "upgrade", REVISION)
    d = date.fromisoformat
    assert _assignments(app) == [
        (1, 2, 2, "firm", 4, d("2026-03-01"), True, 1, 1),
        (2, 1, 1, "firm", 3, d("2026-03-02"), False, 2, 1),
        (3, None, 0, "consortium", 5, d("2026-03-03"), True, 2, 2),
        (4, 1, 1, "firm", None, d("2026-03-04"), False, 2, 3),
        (6, 1, 1, "recert", None, d("2026-03-06"), True, 1, 2),
        (7, 1, 1, "firm", 5, d("2026-03-07"), False, 2, 5),
        (8, 1, 1, "firm", 3, None, True, 2, 6),
    ]
    _flask_db(app, "downgrade", before)
    _flask_db(app, "upgrade", REVISION)
    assert len(_assignments(app)) == 7


def test_the_migration_backfills_one_assignment_per_assigned_enrolment_on_sqlite(
    sqlite_app,  # noqa: F811
):
    _assert_backfill(sqlite_app)


def test_the_migration_backfills_one_assignment_per_assigned_enrolment_on_postgresql(
    postgres_app,  # noqa: F811
):
    _assert_backfill(postgres_app)
