"""Concurrent requests on PostgreSQL: row locks and conditional UPDATEs make many
simultaneous clicks have the effect of one (the per-test rollback would hide commits from
other connections, so these tests use their own database)."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import date

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from lms.audit.models import AuditRecord
from lms.auth.models import User
from lms.courses import authoring as service
from lms.courses.models import CourseVersion, Module
from lms.extensions import db
from lms.tenancy.models import Consortium, Firm, Membership

THREADS = 8


def _postgres_url() -> str | None:
    url = os.environ.get("LMS_TEST_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


pytestmark = pytest.mark.skipif(
    _postgres_url() is None, reason="needs LMS_TEST_DATABASE_URL on PostgreSQL"
)


@pytest.fixture
def race_app(tmp_path):
    from lms import create_app
    from tests.conftest import TEST_CONFIG

    base = make_url(_postgres_url())
    name = f"lms_authoring_race_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    rolled_back_session = db.session
    db.session = db._make_scoped_session({})  # ordinary sessions, one per app context
    try:
        app = create_app(
            {
                **TEST_CONFIG,
                "SQLALCHEMY_DATABASE_URI": base.set(database=name).render_as_string(
                    hide_password=False
                ),
                "LMS_STORAGE_DIR": str(tmp_path / "storage"),
                "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": THREADS + 2, "max_overflow": 0},
            }
        )
        with app.app_context():
            db.metadata.create_all(db.engine)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        db.session = rolled_back_session
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _at_once(app, action) -> list:
    """Run `action()` in THREADS app contexts released together; each commits its own work."""
    barrier = threading.Barrier(THREADS)
    results, errors = [], []

    def run():
        try:
            with app.test_request_context():
                barrier.wait(timeout=30)
                results.append(action())
                db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    return results


def test_simultaneous_clicks_submit_approve_and_edit_once(race_app):
    app = race_app
    with app.test_request_context():
        consortium = Consortium(code="RACE", name="并发联合体", city="唐山", region="east")
        firm = Firm(
            consortium=consortium, name="并发公司", kind="college", credit_code="91130200MA0RACE01"
        )
        trainer = User(name="培训师", email="t@example.com")
        reviewer = User(name="管理员", email="a@example.com")
        db.session.add_all([consortium, firm, trainer, reviewer])
        db.session.flush()
        for user, role, firm_id in (
            (trainer, "trainer", firm.id),
            (reviewer, "consortium_admin", None),
        ):
            db.session.add(
                Membership(
                    user=user,
                    consortium_id=consortium.id,
                    firm_id=firm_id,
                    role=role,
                    starts_on=date(2026, 1, 1),
                )
            )
        version = service.create_course(
            trainer,
            firm,
            slug="race",
            title="并发课程",
            language="zh-CN",
            summary="摘要。",
            sector="smart-manufacturing",
            hours=1,
            pass_mark=60,
        )
        module = service.add_module(trainer, version, title="模块")
        service.add_lesson(trainer, module, type="text", title="课", body="正文")
        db.session.commit()
        ids = {
            "trainer": trainer.id,
            "admin": reviewer.id,
            "v1": version.id,
            "course": version.course_id,
        }

    def user(key):
        return db.session.get(User, ids[key])

    def v1():
        return db.session.get(CourseVersion, ids["v1"])

    submitted = _at_once(app, lambda: service.submit_version(user("trainer"), v1()))
    approved = _at_once(app, lambda: service.approve_version(user("admin"), v1()))
    made = _at_once(app, lambda: service.create_next_version(user("trainer"), v1().course)[1])
    with app.app_context():
        v2_id = db.session.scalar(
            select(CourseVersion.id).where(
                CourseVersion.course_id == ids["course"], CourseVersion.version == 2
            )
        )
    _at_once(
        app,
        lambda: (
            service.add_module(
                user("trainer"), db.session.get(CourseVersion, v2_id), title="新模块"
            ).id
        ),
    )
    assert sorted(submitted) == [False] * (THREADS - 1) + [True]
    assert sorted(approved) == [False] * (THREADS - 1) + [True]
    assert sorted(made) == [False] * (THREADS - 1) + [True]
    with app.app_context():
        versions = db.session.execute(
            select(CourseVersion.version, CourseVersion.status)
            .where(CourseVersion.course_id == ids["course"])
            .order_by(CourseVersion.version)
        ).all()
        assert [tuple(v) for v in versions] == [(1, "published"), (2, "draft")]
        titles = db.session.scalars(
            select(Module.title).where(Module.version_id == v2_id).order_by(Module.position)
        ).all()
        assert titles == ["模块", "新模块"]
        counts = dict(
            db.session.execute(
                select(AuditRecord.action, func.count()).group_by(AuditRecord.action)
            ).all()
        )
        assert counts == {
            "course.create": 1,
            "course.submit": 1,
            "course.publish": 1,
            "course.new_version": 1,
        }
        db.session.remove()
