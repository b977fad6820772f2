"""Column types and helpers shared by every domain's models."""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context
from sqlalchemy import DateTime, TypeDecorator

# The moment utcnow() answers inside `as_of` (None: the clock). A context variable: each thread
# and task has its own, so it never reaches another thread's requests.
_AS_OF: ContextVar[datetime | None] = ContextVar("lms_as_of", default=None)


def utcnow() -> datetime:
    return _AS_OF.get() or datetime.now(UTC)


@contextmanager
def as_of(moment: datetime) -> Iterator[datetime]:
    """Inside the block utcnow() — and so the services, the column defaults and local_today()
    — answers `moment` (date.today() keeps the clock's day): the demo data and tests make a past
    history through the real services. Never in a request: refused there, except under TESTING
    (a test's request context)."""
    if moment.tzinfo is None:
        raise ValueError("as_of needs a tz-aware moment")
    if has_request_context() and not current_app.testing:
        raise RuntimeError("as_of is for the demo data and tests, never for a request")
    token = _AS_OF.set(moment.astimezone(UTC))
    try:
        yield moment
    finally:
        _AS_OF.reset(token)


def local_date(moment: datetime) -> date:
    """The date of a UTC moment in the app's time zone (LMS_TIMEZONE, Asia/Shanghai): what a
    person there calls that day, also between 00:00 and 08:00 when UTC is still on the day
    before."""
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def local_today() -> date:
    return local_date(utcnow())


def new_public_id() -> str:
    """A non-sequential id for URLs (about 128 bits)."""
    return secrets.token_urlsafe(16)


class UTCDateTime(TypeDecorator):
    """A tz-aware UTC timestamp on every database (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given for a UTC column")
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value
