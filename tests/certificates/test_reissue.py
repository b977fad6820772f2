"""Re-issue after a revocation (issue 13): a trainer, or the completion path, issues a new
certificate for the same enrolment (a new serial and code); the revoked one stays in the
registry naming its replacement, and its verification page says a newer one exists without
showing it. One live certificate per enrolment is a partial unique index (on SQLite and
PostgreSQL), and the migration's downgrade keeps each enrolment's latest certificate."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lms import create_app
from lms.auth.models import User
from lms.certificates import bulk, service
from lms.certificates.models import Certificate
from lms.extensions import db
from lms.learning.models import Enrollment
from lms.notifications.models import Notification
from tests.conftest import TEST_CONFIG

REASON = "考核记录有误"


@pytest.fixture
def world(app, create_consortium, create_firm, create_user, create_course, certify):
    consortium = create_consortium()
    firm = create_firm(consortium)
    people = {
        "worker": create_user(role="worker", firm=firm, name="张三丰"),
        "trainer": create_user(role="trainer", firm=firm),
        "admin": create_user(role="consortium_admin", consortium=consortium),
    }
    course = create_course(firm, quiz=False, lessons=1, title="安全生产培训")
    issued = certify(people["worker"], firm, course, months=12)
    with app.app_context():
        enrollment = db.session.get(Enrollment, issued.enrollment_id)
        enrollment_public_id = enrollment.public_id
    return SimpleNamespace(
        consortium=consortium,
        firm=firm,
        people=people,
        course=course,
        issued=issued,
        issue_url=f"/courses/{issued.slug}/learners/{enrollment_public_id}/certificate",
    )


def _revoke(app, world) -> None:
    with app.test_request_context():
        admin = db.session.get(User, world.people["admin"].id)
        service.revoke(admin, db.session.get(Certificate, world.issued.id), REASON)
        db.session.commit()


def _certs(enrollment_id: int) -> list[Certificate]:
    return list(
        db.session.scalars(
            select(Certificate)
            .where(Certificate.enrollment_id == enrollment_id)
            .order_by(Certificate.id)
        )
    )


def test_a_trainer_issues_a_new_certificate_after_a_revocation(app, client, login, world):
    login(world.people["trainer"])
    # While the certificate is live, "issue" only says it exists.
    client.post(world.issue_url)
    with app.app_context():
        assert len(_certs(world.issued.enrollment_id)) == 1

    _revoke(app, world)
    response = client.post(world.issue_url)
    assert response.status_code == 302
    again = client.post(world.issue_url)  # a double submit
    assert again.status_code == 302
    with app.app_context():
        old, new = _certs(world.issued.enrollment_id)
        assert old.id == world.issued.id
        assert old.revoked_at is not None and old.revoke_reason == REASON
        assert old.replaced_by_id == new.id and new.replaced_by_id is None
        assert new.revoked_at is None and new.status() == "valid"
        assert new.source == "trainer" and new.issued_by_id == world.people["trainer"].id
        assert new.serial != old.serial and new.public_code != old.public_code
        assert new.verification_code != old.verification_code
        assert new.pdf_path and new.pdf_path != old.pdf_path
        assert service.live_certificate_of(db.session.get(Enrollment, old.enrollment_id)) == new
        # The holder is told about the new one.
        issued_notes = db.session.scalars(
            select(Notification.params).where(Notification.kind == "certificate.issued")
        ).all()
        assert {p["serial"] for p in issued_notes} == {old.serial, new.serial}
        new_serial, old_serial = new.serial, old.serial
    page = client.get(f"/courses/{world.issued.slug}/learners").get_data(as_text=True)
    assert new_serial in page and old_serial in page
    assert "in place of the revoked" in page or "取代已撤销" in page


def test_the_completion_path_issues_again_after_a_revocation(app, world):
    _revoke(app, world)
    with app.test_request_context():
        enrollment = db.session.get(Enrollment, world.issued.enrollment_id)
        new = service.issue(enrollment)
        same = service.issue(enrollment)  # idempotent again
        db.session.commit()
        assert same.id == new.id
        old = db.session.get(Certificate, world.issued.id)
        assert new.id != old.id and new.source == "completion"
        assert old.replaced_by_id == new.id and old.status() == "revoked"
        assert [c.id for c in _certs(enrollment.id)] == [old.id, new.id]


def test_bulk_issuing_does_not_undo_a_revocation(app, world):
    """Bulk issues the missing certificates: a revoked one is not missing, it was withdrawn
    (re-issuing is a trainer's explicit decision)."""
    _revoke(app, world)
    with app.test_request_context():
        enrollment = db.session.get(Enrollment, world.issued.enrollment_id)
        assert bulk.cohort(world.course.id) == [enrollment]
        assert service.certificate_of(enrollment).id == world.issued.id
        job = SimpleNamespace(
            params={"course": world.course.id}, created_by_id=world.people["admin"].id
        )
        job.public_id = "reissue-test"
        result = bulk.bulk_job(job, lambda done, total: None)
        assert result["issued"] == 0
        assert len(_certs(enrollment.id)) == 1


def test_one_live_certificate_per_enrolment_is_enforced_by_the_database(app, world):
    with app.test_request_context():
        enrollment = db.session.get(Enrollment, world.issued.enrollment_id)
        live = db.session.get(Certificate, world.issued.id)
        columns = {
            c.key: getattr(live, c.key)
            for c in Certificate.__table__.columns
            if c.key not in ("id", "public_id", "serial", "public_code", "verification_code")
        }

        def another(n: int, **extra) -> None:
            values = {
                **columns,
                "public_id": f"dup{n}",
                "serial": f"DUP-{n}",
                "public_code": f"DUPCODE{n}",
                "verification_code": f"dup-verification-{n}",
                **extra,
            }
            with db.session.begin_nested():
                db.session.execute(sa.insert(Certificate).values(**values))

        with pytest.raises(IntegrityError):
            another(1)  # a second live certificate of the enrolment
        another(2, revoked_at=live.issued_at)  # revoked ones may be many
        assert len(_certs(enrollment.id)) == 2


def test_the_revoked_certificates_page_says_a_newer_one_exists_and_nothing_of_it(
    app, client, login, world
):
    _revoke(app, world)
    old_code = world.issued.public_code
    page = client.get(f"/verify/{old_code}").get_data(as_text=True)
    assert "newer certificate" not in page and "新的证书" not in page  # not replaced yet
    assert client.get(f"/verify/{old_code}.json").get_json()["replaced"] is False

    login(world.people["trainer"])
    client.post(world.issue_url)
    client.post("/logout")
    with app.app_context():
        old, new = _certs(world.issued.enrollment_id)
        new_serial, new_code = new.serial, new.public_code
    page = client.get(f"/verify/{old_code}").get_data(as_text=True)
    assert "status off" in page  # still revoked
    assert "newer certificate" in page or "新的证书" in page
    # Nothing of the new certificate: neither its number nor its code or address.
    assert new_serial not in page and new_code not in page
    doc = client.get(f"/verify/{old_code}.json").get_json()
    assert doc["status"] == "revoked" and doc["replaced"] is True
    assert new_serial not in str(doc)
    # The new certificate verifies as valid.
    assert client.get(f"/verify/{new_code}.json").get_json()["status"] == "valid"


def test_the_holder_sees_both_and_downloads_the_new_one(app, client, login, world):
    _revoke(app, world)
    login(world.people["trainer"])
    client.post(world.issue_url)
    client.post("/logout")
    with app.app_context():
        old, new = _certs(world.issued.enrollment_id)
        old_public, new_public, new_serial = old.public_id, new.public_id, new.serial
    login(world.people["worker"])
    page = client.get("/certificates").get_data(as_text=True)
    cards = page.split('<li class="card')[1:]
    (old_card,) = [c for c in cards if f"/certificates/{old_public}.pdf" in c]
    (new_card,) = [c for c in cards if f"/certificates/{new_public}.pdf" in c]
    assert "card-revoked" in old_card and new_serial in old_card  # "replaced by …"
    assert "card-revoked" not in new_card and "button primary" in new_card
    response = client.get(f"/certificates/{new_public}.pdf")
    assert response.status_code == 200 and b"/ByteRange" in response.data  # signed
    response.close()


# --- the migration ---------------------------------------------------------------------------


def _flask_db(app, *args: str) -> None:
    from tests.test_migrations import _logging_kept

    with _logging_kept():
        result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, (result.output, result.exception)


@pytest.fixture(params=["sqlite", "postgresql"])
def migration_app(request, tmp_path: Path):
    """An app on an empty database of its own (on PostgreSQL when LMS_TEST_DATABASE_URL is
    one), whose connections check no foreign keys: certificate rows alone are enough."""
    if request.param == "sqlite":
        app = create_app(
            {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'r.db'}"}
        )
        off = "PRAGMA foreign_keys=OFF"  # after the app's own listener, which turns them on
        server = name = None
    else:
        url = os.environ.get("LMS_TEST_DATABASE_URL", "")
        if not url.startswith("postgresql"):
            pytest.skip("LMS_TEST_DATABASE_URL is not a PostgreSQL URL")
        name = f"lms_reissue_{uuid.uuid4().hex[:12]}"
        server = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        fresh = sa.make_url(url).set(database=name).render_as_string(hide_password=False)
        app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": fresh})
        off = "SET session_replication_role = replica"
    with app.app_context():

        def no_foreign_keys(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute(off)
            cursor.close()
            if request.param == "postgresql":
                dbapi_connection.commit()

        sa.event.listen(db.engine, "connect", no_foreign_keys)
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()
        if server is not None:
            with server.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            server.dispose()


def test_downgrade_keeps_the_latest_certificate_of_each_enrolment(migration_app):
    app = migration_app
    _flask_db(app, "upgrade", "7d0200000002")
    row = {
        "consortium_id": 1,
        "user_id": 1,
        "course_id": 1,
        "version_id": 1,
        "source": "completion",
        "issued_at": datetime(2026, 1, 5, 2, 0, tzinfo=UTC),
        "completed_on": date(2026, 1, 5),
        "data": "{}",
        "badge_salt": "s",
        "reminded": "[]",
    }
    names = ("id", "enrollment_id", "public_id", "serial", "public_code")
    names += ("verification_code", "revoked_at", *row)
    table = sa.table("certificates", *(sa.column(k) for k in names))
    revoked_at = datetime(2026, 2, 1, tzinfo=UTC)
    with app.app_context(), db.engine.begin() as connection:
        for n, (enrollment_id, revoked) in enumerate([(7, True), (7, False), (8, True)], start=1):
            connection.execute(
                table.insert().values(
                    id=n,
                    enrollment_id=enrollment_id,
                    public_id=f"p{n}",
                    serial=f"S-{n}",
                    public_code=f"CODE{n}",
                    verification_code=f"v{n}",
                    revoked_at=revoked_at if revoked else None,
                    **row,
                )
            )
        connection.execute(sa.text("UPDATE certificates SET replaced_by_id = 2 WHERE id = 1"))
        # A second live certificate of enrolment 7 is refused by the partial unique index.
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(
                table.insert().values(
                    id=4,
                    enrollment_id=7,
                    public_id="p4",
                    serial="S-4",
                    public_code="CODE4",
                    verification_code="v4",
                    revoked_at=None,
                    **row,
                )
            )
    _flask_db(app, "downgrade", "7d0100000001")
    with app.app_context(), db.engine.connect() as connection:
        left = connection.execute(
            sa.text("SELECT id, enrollment_id FROM certificates ORDER BY id")
        ).all()
        assert [tuple(r) for r in left] == [(2, 7), (3, 8)]
        columns = {c["name"] for c in sa.inspect(connection).get_columns("certificates")}
        assert "replaced_by_id" not in columns and "revocation_pdf_path" not in columns
    _flask_db(app, "upgrade")
    with app.app_context(), db.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(sa.table("certificates")))
        assert count.scalar_one() == 2
