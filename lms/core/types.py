"""Column types and helpers shared by every domain's models."""

import secrets
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import DateTime, TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


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
