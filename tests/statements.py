"""Counting the SQL statements a piece of work runs (the per-page budgets of issue 16)."""

from __future__ import annotations

import re
from contextlib import contextmanager

from sqlalchemy import event

# Transaction control, not work: BEGIN (SQLite's BEGIN IMMEDIATE), COMMIT and the savepoints
# the suite's rolled-back test transaction adds.
_NOT_COUNTED = re.compile(
    r"^\s*(BEGIN|COMMIT|SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b", re.I
)


@contextmanager
def counted_statements(engine):
    """The SQL statements executed on `engine` inside the block (whitespace folded), less
    transaction control."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if not _NOT_COUNTED.match(statement):
            statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
