"""The reminders job: due in 3 days and overdue, to the right people, never twice."""

from __future__ import annotations

import json
from datetime import timedelta

from flask_babel import force_locale
from sqlalchemy import func, select, text

from lms.auth.models import User
from lms.core.types import utcnow
from lms.extensions import db
from lms.learning.models import Enrollment
from lms.notifications import reminders, service
from lms.notifications.models import Notification
from lms.tenancy.models import Membership

from .conftest import TODAY, enrol, notes


def _ids(items) -> list[int]:
    return sorted(n.user_id for n in items)


def test_due_soon_within_three_days_once(ctx, town):
    due = {d: enrol(town, w, due_in=d) for d, w in ((0, town.worker), (3, town.worker2))}
    enrol(town, town.other_worker, due_in=4)  # too early yet
    assert reminders.send_due_soon(TODAY) == 2
    sent = notes("assignment.due_soon")
    assert _ids(sent) == sorted([town.worker.id, town.worker2.id])
    assert {n.params["due_on"] for n in sent} == {
        due[0].due_on.isoformat(),
        due[3].due_on.isoformat(),
    }
    assert sent[0].params["course"] == "安全生产培训"
    assert sent[0].url == f"/learn/{due[0].public_id}"
    # The next runs, the same day or the following ones, add nothing for the same due date.
    assert reminders.send_due_soon(TODAY) == 0
    assert reminders.send_due_soon(TODAY + timedelta(days=1)) == 1  # the one due in 4 days
    assert reminders.send_due_soon(TODAY + timedelta(days=1)) == 0
    assert len(notes("assignment.due_soon")) == 3


def test_a_new_due_date_is_a_new_reminder(ctx, town):
    e = enrol(town, town.worker, due_in=2)
    assert reminders.send_due_soon(TODAY) == 1
    e.due_on = TODAY + timedelta(days=3)
    db.session.flush()
    assert reminders.send_due_soon(TODAY) == 1
    assert reminders.send_due_soon(TODAY) == 0


def test_completed_and_withdrawn_enrolments_get_nothing(ctx, town):
    done = enrol(town, town.worker, due_in=1)
    done.status, done.completed_at = "completed", utcnow()
    gone = enrol(town, town.worker2, due_in=1)
    gone.status, gone.withdrawn_at = "withdrawn", utcnow()
    late_done = enrol(town, town.other_worker, due_in=-2)
    late_done.status, late_done.completed_at = "completed", utcnow()
    db.session.flush()
    assert reminders.send_due_soon(TODAY) == 0
    assert reminders.send_overdue(TODAY) == 0
    assert notes("assignment.due_soon") == [] and notes("assignment.overdue") == []


def test_overdue_to_the_worker_and_each_admin_of_their_firm_only(ctx, town):
    e = enrol(town, town.worker, due_in=-1)
    assert reminders.send_overdue(TODAY) == 3
    sent = notes("assignment.overdue")
    assert _ids(sent) == sorted([town.worker.id, town.admin.id, town.second_admin.id])
    for_admin = next(n for n in sent if n.user_id == town.admin.id)
    assert for_admin.params["name"] == "张三"
    assert for_admin.url == f"/firms/{town.firm.id}/enrollments?overdue=1"
    for_worker = next(n for n in sent if n.user_id == town.worker.id)
    assert "name" not in for_worker.params
    with force_locale("en"):
        assert service.message(for_admin).startswith("张三 has not completed “安全生产培训”")
        assert "was due on" in service.message(for_worker)
    # Nobody of the other firm, of another consortium, nor a consortium admin.
    for outsider in (town.other_admin, town.foreign_admin, town.consortium_admin):
        assert notes(user=outsider) == []
    # Never twice: again today, tomorrow, next week.
    for day in (0, 1, 7):
        assert reminders.send_overdue(TODAY + timedelta(days=day)) == 0
    assert len(notes("assignment.overdue")) == 3
    assert e.due_on < TODAY


def test_the_other_firms_overdue_goes_to_its_own_admin(ctx, town):
    enrol(town, town.other_worker, due_in=-3)
    assert reminders.send_overdue(TODAY) == 2
    assert _ids(notes("assignment.overdue")) == sorted([town.other_worker.id, town.other_admin.id])


def test_a_worker_who_left_the_firm_is_not_reported_to_its_admins(ctx, town):
    enrol(town, town.worker, due_in=-1)
    membership = db.session.scalars(
        select(Membership).where(Membership.user_id == town.worker.id)
    ).one()
    membership.ends_on = TODAY
    db.session.flush()
    assert reminders.send_overdue(TODAY) == 1
    assert _ids(notes("assignment.overdue")) == [town.worker.id]


def test_an_old_overdue_enrolment_is_left_alone(ctx, town):
    days = reminders.OVERDUE_LOOKBACK.days
    enrol(town, town.worker, due_in=-(days + 1))
    enrol(town, town.worker2, due_in=-days)
    assert reminders.send_overdue(TODAY) == 3  # the second worker and the firm's two admins
    assert town.worker.id not in _ids(notes("assignment.overdue"))


def test_the_scan_walks_every_batch(ctx, town, create_user, monkeypatch):
    monkeypatch.setattr(reminders, "BATCH", 2)
    workers = [create_user(role="worker", firm=town.firm) for _ in range(4)]
    for i, w in enumerate([town.worker, town.worker2, *workers]):
        enrol(town, w, due_in=i % 2)  # ties on the due date across batches
    assert reminders.send_due_soon(TODAY) == 6
    assert reminders.send_due_soon(TODAY) == 0


def test_in_app_opt_out_spares_the_worker_not_the_admin(ctx, town):
    service.set_preferences(
        db.session.get(User, town.worker.id),
        app=set(service.optional_kinds()) - {"assignment.due_soon", "assignment.overdue"},
    )
    enrol(town, town.worker, due_in=-1)
    enrol(town, town.worker2, due_in=1)
    service.set_preferences(db.session.get(User, town.worker2.id), app=set())
    assert reminders.send_due_soon(TODAY) == 0
    assert reminders.send_overdue(TODAY) == 2
    assert _ids(notes("assignment.overdue")) == sorted([town.admin.id, town.second_admin.id])
    assert reminders.send_overdue(TODAY) == 0


def test_an_inactive_worker_gets_nothing(ctx, town):
    enrol(town, town.worker, due_in=1)
    db.session.get(User, town.worker.id).is_active_account = False
    db.session.flush()
    assert reminders.send_due_soon(TODAY) == 0


def test_the_scan_can_use_the_due_date_index(ctx, town):
    bind = db.session.get_bind()
    explain = "EXPLAIN QUERY PLAN" if bind.dialect.name == "sqlite" else "EXPLAIN"
    if bind.dialect.name == "postgresql":
        # An empty table is read whole; what matters is that the partial index applies.
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
    for after in (None, (TODAY, 1)):
        query = reminders._scan(town.consortium.id, TODAY, TODAY, after)
        compiled = query.compile(bind, compile_kwargs={"literal_binds": True})
        plan = db.session.execute(text(f"{explain} {compiled}")).all()
        assert any("ix_enrollments_open_due" in str(row) for row in plan), plan


# --- the job, the CLI, e-mail ---------------------------------------------------------------


def test_job_and_cli_are_safe_to_run_again(app, town):
    with app.test_request_context():
        enrol(town, town.worker, due_in=2)
        enrol(town, town.worker2, due_in=-1)
        db.session.commit()
    runner = app.test_cli_runner()
    day = TODAY.isoformat()
    result = runner.invoke(args=["notifications", "remind", "--today", day])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary == {"today": day, "due_soon": 1, "overdue": 3, "emailed": 0}
    for _ in range(2):
        again = runner.invoke(args=["notifications", "remind", "--today", day])
        assert json.loads(again.output.strip().splitlines()[-1])["due_soon"] == 0
        assert '"overdue": 0' in again.output
    assert runner.invoke(args=["notifications", "remind", "--today", "2026-02-30"]).exit_code != 0
    with app.app_context():
        count = db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.kind.in_(["assignment.due_soon", "assignment.overdue"]))
        )
        assert count == 4


def test_reminders_job_kind(app, town):
    from lms.jobs.service import JOB_KINDS, start_job

    assert "notifications.reminders" in JOB_KINDS
    with app.test_request_context():
        enrol(town, town.worker, due_in=1)
        db.session.commit()
        job = start_job("notifications.reminders", params={"today": TODAY.isoformat()})
        assert job.state == "done" and job.result["due_soon"] == 1


def test_run_emails_each_reminder_once(app, town, fake_smtp):
    with app.test_request_context():
        enrol(town, town.worker, due_in=-1)
        db.session.commit()
        first = reminders.run(TODAY)
        # assignment.given (at enrolment, to the worker) + overdue to the worker and 2 admins
        assert first["overdue"] == 3 and first["emailed"] == 4
        assert reminders.run(TODAY)["emailed"] == 0
    subjects = sorted(str(m["Subject"]) for m in fake_smtp.sent)
    assert len(subjects) == 4
    to_worker = [m for m in fake_smtp.sent if m["To"] == town.worker.email]
    assert any("Course overdue" in str(m["Subject"]) for m in to_worker)  # worker reads English


def test_withdrawn_enrolment_is_not_scanned(ctx, town):
    e = enrol(town, town.worker, due_in=-1)
    e.withdrawn_at, e.status = utcnow(), "withdrawn"
    db.session.flush()
    rows = [r for batch in reminders._batches(TODAY - timedelta(days=5), TODAY) for r in batch]
    assert rows == []
    assert db.session.get(Enrollment, e.id) is not None
