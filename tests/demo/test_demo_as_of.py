"""`as_of` (lms.core.types), how the demo data makes its past through the services: inside the
block utcnow(), local_today() and every column default answer the given moment; outside it,
in another thread and in a (non-test) request, the clock does."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask

from lms.core.types import as_of, local_today, utcnow

MOMENT = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)  # 2 July, 07:30 in Shanghai


def test_inside_as_of_utcnow_and_today_answer_the_moment_and_after_it_the_clock(ctx):
    with as_of(MOMENT) as moment:
        assert moment == MOMENT
        assert utcnow() == MOMENT
        assert local_today() == date(2026, 7, 2)  # the site's day (Asia/Shanghai)
        with as_of(MOMENT + timedelta(days=3)):
            assert utcnow() == MOMENT + timedelta(days=3)
        assert utcnow() == MOMENT
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_moment_in_another_zone_is_kept_in_utc(ctx):
    from zoneinfo import ZoneInfo

    with as_of(MOMENT.astimezone(ZoneInfo("Asia/Shanghai"))):
        assert utcnow() == MOMENT and utcnow().tzinfo == UTC


def test_column_defaults_take_the_moment(app, ctx, create_user):
    from lms.audit.models import AuditRecord
    from lms.audit.service import record_action
    from lms.auth.models import User
    from lms.extensions import db

    user = db.session.get(User, create_user().id)
    with as_of(MOMENT):
        record_action(user, "demo.test", user)
        db.session.flush()
    record = db.session.scalars(
        db.select(AuditRecord).where(AuditRecord.action == "demo.test")
    ).one()
    assert record.created_at == MOMENT


def test_another_thread_keeps_the_clock(ctx):
    seen = []
    with as_of(MOMENT):
        thread = threading.Thread(target=lambda: seen.append(utcnow()))
        thread.start()
        thread.join()
    assert seen and seen[0] > MOMENT + timedelta(days=30)


def test_a_naive_moment_is_refused(ctx):
    with pytest.raises(ValueError), as_of(datetime(2026, 7, 1)):
        pass


def test_never_in_a_request_of_a_running_site():
    site = Flask("site")  # not TESTING: what serves real requests
    with site.test_request_context("/"), pytest.raises(RuntimeError), as_of(MOMENT):
        pass
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)
