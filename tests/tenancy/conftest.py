"""Helpers for the tenancy tests: English-speaking users, database checks between requests,
and audit records."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditRecord
from lms.extensions import db


@pytest.fixture
def make_user(create_user):
    """create_user with English as the user's language, so page texts are predictable."""

    def make(**kw):
        kw.setdefault("locale", "en")
        return create_user(**kw)

    return make


@pytest.fixture
def in_db(app):
    """Run `fn()` in a fresh app context (between requests) and return its result."""

    def run(fn):
        with app.app_context():
            return fn()

    return run


@pytest.fixture
def count(in_db):
    """Number of rows of a model, optionally filtered: count(User, User.name == "x")."""

    def do(model, *where):
        return in_db(
            lambda: db.session.scalar(select(func.count()).select_from(model).where(*where))
        )

    return do


@pytest.fixture
def audit_records(in_db):
    """The audit records of one action as plain dicts, oldest first."""

    def fetch(action: str) -> list[dict]:
        def go():
            rows = db.session.scalars(
                select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id)
            ).all()
            return [
                {
                    "actor_id": r.actor_id,
                    "action": r.action,
                    "target_type": r.target_type,
                    "target_id": r.target_id,
                    "consortium_id": r.consortium_id,
                    "ip": r.ip,
                    "details": r.details,
                    "created_at": r.created_at,
                }
                for r in rows
            ]

        return in_db(go)

    return fetch
