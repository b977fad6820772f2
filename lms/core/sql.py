"""SQL the two supported databases (SQLite and PostgreSQL) spell alike but import apart."""

from __future__ import annotations

from lms.extensions import db


def insert_with_conflicts(model):
    """An INSERT for `model` that has ON CONFLICT (the session's database's own INSERT)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)
