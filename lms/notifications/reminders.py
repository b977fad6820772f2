"""Reminders of assigned courses: due soon, overdue (the daily job) and a firm admin's reminder.

Run daily (the "notifications.reminders" job; `flask notifications remind` from cron):

- `send_due_soon(today)`: an active, unfinished enrolment due within 3 days (today included)
  gets "assignment.due_soon" — to the worker.
- `send_overdue(today)`: one past its due date gets "assignment.overdue" — to the worker, once
  per enrolment (its due date is the earliest of its assignments); and each firm's assignment
  past its own due date to that firm's current admins (while the worker still works there).
  Two firms that assigned one worker the same course each hear of their own assignment; a
  consortium-level assignment is followed on the consortium's dashboard.

The worker's scan is SQL over the open enrolments of a window of due dates, consortium by
consortium on the partial index ix_enrollments_open_due (consortium_id, due_on); the admins'
over the firms' assignments of open enrolments on ix_assignments_consortium_due. Both walk
batches in (due_on, id) order; each batch looks up the keys already sent in one query. A key
names the enrolment, the due date and the recipient, so running the job any number of times a
day sends each message once — and a new due date is a new event.
Overdue enrolments are looked at for OVERDUE_LOOKBACK days after their due date (the daily run
handles each within a day; the window only bounds the scan, and keeps the first run from
announcing years-old cases).

`remind_overdue(actor, firm, enrollments)`: a firm admin's one-click reminder about the firm's
own overdue assignments (at most one per enrolment per day: the date is in the key), audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from lms.audit.service import record_action
from lms.auth.models import User
from lms.courses.models import CourseVersion
from lms.extensions import db
from lms.learning.models import Assignment, Enrollment
from lms.notifications.models import Notification
from lms.notifications.service import Pending, notify_many, path_for, send_pending_emails
from lms.tenancy.models import Consortium, Firm, Membership
from lms.tenancy.scope import current_membership_conditions

DUE_SOON_DAYS = 3
OVERDUE_LOOKBACK = timedelta(days=30)
BATCH = 500


def _open() -> list:
    """SQL conditions: the enrolment is active and not completed (completed_at and
    withdrawn_at as in the partial index ix_enrollments_open_due, status for the rest)."""
    return [
        Enrollment.withdrawn_at.is_(None),
        Enrollment.completed_at.is_(None),
        Enrollment.status != "completed",
    ]


def _scan(consortium_id: int, first: date, last: date, after: tuple[date, int] | None):
    """One batch of the scan: open enrolments of active users of the consortium due between
    `first` and `last` (inclusive) after the (due_on, id) `after`."""
    query = (
        select(
            Enrollment.id,
            Enrollment.public_id,
            Enrollment.user_id,
            Enrollment.firm_id,
            Enrollment.due_on,
            CourseVersion.title,
            User.name,
        )
        .join(CourseVersion, CourseVersion.id == Enrollment.version_id)
        .join(User, User.id == Enrollment.user_id)
        .where(
            Enrollment.consortium_id == consortium_id,
            Enrollment.due_on >= first,
            Enrollment.due_on <= last,
            *_open(),
            User.is_active_account.is_(True),
        )
        .order_by(Enrollment.due_on, Enrollment.id)
        .limit(BATCH)
    )
    if after is not None:
        query = query.where(
            or_(
                Enrollment.due_on > after[0],
                and_(Enrollment.due_on == after[0], Enrollment.id > after[1]),
            )
        )
    return query


def _scan_assignments(consortium_id: int, first: date, last: date, after):
    """One batch of the admins' scan: firms' assignments of open enrolments of active users of
    the consortium, due between `first` and `last` (inclusive), after the (due_on, id)
    `after`."""
    A = Assignment
    query = (
        select(
            A.id,
            A.enrollment_id,
            A.firm_id,
            A.due_on,
            Enrollment.user_id,
            CourseVersion.title,
            User.name,
        )
        .join(Enrollment, Enrollment.id == A.enrollment_id)
        .join(CourseVersion, CourseVersion.id == Enrollment.version_id)
        .join(User, User.id == Enrollment.user_id)
        .where(
            A.consortium_id == consortium_id,
            A.due_on >= first,
            A.due_on <= last,
            A.firm_id.is_not(None),
            *_open(),
            User.is_active_account.is_(True),
        )
        .order_by(A.due_on, A.id)
        .limit(BATCH)
    )
    if after is not None:
        query = query.where(or_(A.due_on > after[0], and_(A.due_on == after[0], A.id > after[1])))
    return query


def _batches(first: date, last: date, scan=_scan) -> Iterator[list]:
    """The scan, BATCH rows at a time: consortium by consortium (the index leads with it),
    each walked with keyset pagination on (due_on, id) — no offset, no row loaded twice."""
    for consortium_id in db.session.scalars(select(Consortium.id).order_by(Consortium.id)).all():
        after: tuple[date, int] | None = None
        while True:
            rows = db.session.execute(scan(consortium_id, first, last, after)).all()
            if not rows:
                break
            yield rows
            after = (rows[-1].due_on, rows[-1].id)


def _worker_url(public_id: str) -> str:
    return path_for("learning.resume", enrollment_id=public_id)


def send_due_soon(today: date) -> int:
    """Send "due soon" to the workers of enrolments due within DUE_SOON_DAYS; returns how many
    notifications were added."""
    added = 0
    for rows in _batches(today, today + timedelta(days=DUE_SOON_DAYS)):
        added += len(
            notify_many(
                [
                    Pending(
                        row.user_id,
                        "assignment.due_soon",
                        f"assignment.due_soon:{row.id}:{row.due_on.isoformat()}",
                        _worker_url(row.public_id),
                        {"course": row.title, "due_on": row.due_on.isoformat()},
                    )
                    for row in rows
                ]
            )
        )
        db.session.flush()
    return added


def _still_in_firm(rows, today: date) -> set[tuple[int, int]]:
    """(user id, firm id) of the batch's workers who still hold a current role in that firm."""
    firm_ids = {row.firm_id for row in rows if row.firm_id is not None}
    if not firm_ids:
        return set()
    return set(
        db.session.execute(
            select(Membership.user_id, Membership.firm_id).where(
                Membership.firm_id.in_(firm_ids),
                Membership.user_id.in_({row.user_id for row in rows}),
                *current_membership_conditions(today),
            )
        ).all()
    )


def _firm_admins(firm_ids: set[int], today: date) -> dict[int, list[int]]:
    """firm id → ids of its current, active firm admins."""
    admins: dict[int, list[int]] = {firm_id: [] for firm_id in firm_ids}
    if not firm_ids:
        return admins
    for user_id, firm_id in db.session.execute(
        select(Membership.user_id, Membership.firm_id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.firm_id.in_(firm_ids),
            Membership.role == "firm_admin",
            User.is_active_account.is_(True),
            *current_membership_conditions(today),
        )
        .distinct()
    ):
        admins[firm_id].append(user_id)
    return admins


def send_overdue(today: date) -> int:
    """Send "overdue" to the worker for enrolments past their due date, and to each firm's
    admins for the firm's assignments past theirs (up to OVERDUE_LOOKBACK ago); returns how
    many notifications were added."""
    added = 0
    first, last = today - OVERDUE_LOOKBACK, today - timedelta(days=1)
    for rows in _batches(first, last):
        items = []
        for row in rows:
            due = row.due_on.isoformat()
            items.append(
                Pending(
                    row.user_id,
                    "assignment.overdue",
                    f"assignment.overdue:{row.id}:{due}:{row.user_id}",
                    _worker_url(row.public_id),
                    {"course": row.title, "due_on": due},
                )
            )
        added += len(notify_many(items))
        db.session.flush()
    for rows in _batches(first, last, _scan_assignments):
        members = _still_in_firm(rows, today)
        admins = _firm_admins({firm_id for _, firm_id in members}, today)
        items = []
        for row in rows:
            if (row.user_id, row.firm_id) not in members:
                continue  # the firm's admins follow their current workers only
            due = row.due_on.isoformat()
            url = path_for("assignments.firm_enrollments", firm_id=row.firm_id, overdue=1)
            for admin_id in admins.get(row.firm_id, []):
                if admin_id != row.user_id:
                    items.append(
                        Pending(
                            admin_id,
                            "assignment.overdue",
                            f"assignment.overdue:{row.enrollment_id}:{due}:{admin_id}",
                            url,
                            {"course": row.title, "due_on": due, "name": row.name},
                        )
                    )
        added += len(notify_many(items))
        db.session.flush()
    return added


def run(today: date | None = None) -> dict:
    """Both scans for `today`, then the e-mails (when SMTP is set); commits (a job's unit of
    work)."""
    today = today or date.today()
    due_soon = send_due_soon(today)
    db.session.commit()
    overdue = send_overdue(today)
    db.session.commit()
    emailed = send_pending_emails()
    db.session.commit()
    return {
        "today": today.isoformat(),
        "due_soon": due_soon,
        "overdue": overdue,
        "emailed": emailed,
    }


def reminders_job(job, report) -> dict:
    """The "notifications.reminders" background job (params: optional "today", YYYY-MM-DD)."""
    today = job.params.get("today") if job.params else None
    return run(date.fromisoformat(today) if today else None)


# --- a firm admin's reminder -----------------------------------------------------------------


def is_overdue(
    enrollment: Enrollment, today: date | None = None, *, firm: Firm | None = None
) -> bool:
    """Active, not completed and past its due date — with `firm`, past the due date of that
    firm's own assignment."""
    today = today or date.today()
    if enrollment.withdrawn_at is not None or enrollment.status == "completed":
        return False
    if firm is not None:
        return enrollment.id in _overdue_for(firm, [enrollment.id], today)
    return enrollment.due_on is not None and enrollment.due_on < today


def _overdue_for(firm: Firm, enrollment_ids, today: date) -> dict[int, date]:
    """Enrolment id → the due date of the firm's own assignment of it, for those of
    `enrollment_ids` whose assignment by the firm is past due."""
    ids = sorted(set(enrollment_ids))
    found: dict[int, date] = {}
    for start in range(0, len(ids), BATCH):
        found.update(
            db.session.execute(
                select(Assignment.enrollment_id, Assignment.due_on).where(
                    Assignment.firm_id == firm.id,
                    Assignment.enrollment_id.in_(ids[start : start + BATCH]),
                    Assignment.due_on < today,
                )
            ).all()
        )
    return found


def firm_enrollments(firm: Firm, public_ids: list[str]) -> list[Enrollment] | None:
    """The firm's enrolments with these public ids — of its workers, or assigned by it; None
    when any of them is not the firm's (unknown or another firm's: the caller answers 404)."""
    wanted = sorted({p for p in public_ids if p})
    assigned = select(Assignment.enrollment_id).where(Assignment.firm_id == firm.id)
    found: list[Enrollment] = []
    for start in range(0, len(wanted), BATCH):
        found += db.session.scalars(
            select(Enrollment)
            .where(
                Enrollment.public_id.in_(wanted[start : start + BATCH]),
                or_(Enrollment.firm_id == firm.id, Enrollment.id.in_(assigned)),
            )
            .options(selectinload(Enrollment.version))
        )
    if len(found) != len(wanted):
        return None
    return found


def _reminder_key(enrollment_id: int, today: date) -> str:
    return f"assignment.reminder:{enrollment_id}:{today.isoformat()}"


def remind_overdue(actor: User, firm: Firm, enrollments, *, today: date | None = None) -> int:
    """Remind the workers of `enrollments` whose assignment by the firm is overdue (others are
    skipped) — each at most once a day — and audit each reminder sent. Returns how many were
    sent."""
    today = today or date.today()
    open_ = {
        e.id: e
        for e in enrollments
        if e.withdrawn_at is None and e.status != "completed" and e.completed_at is None
    }
    due = _overdue_for(firm, list(open_), today)
    chosen = {i: open_[i] for i in due}
    items = [
        Pending(
            e.user_id,
            "assignment.reminder",
            _reminder_key(e.id, today),
            _worker_url(e.public_id),
            {"course": e.version.title, "due_on": due[e.id].isoformat(), "by": actor.name},
        )
        for e in chosen.values()
    ]
    sent = notify_many(items)
    by_key = {_reminder_key(e.id, today): e for e in chosen.values()}
    for n in sent:
        e = by_key[n.key]
        record_action(
            actor,
            "enrollment.remind",
            e,
            consortium_id=e.consortium_id,
            details={"firm": firm.id, "due_on": due[e.id].isoformat()},
        )
    db.session.flush()
    return len(sent)


def overdue_of_firm(firm: Firm, today: date | None = None) -> Iterator[list[Enrollment]]:
    """Every enrolment whose assignment by the firm is overdue, BATCH at a time."""
    today = today or date.today()
    after = 0
    while True:
        batch = list(
            db.session.scalars(
                select(Enrollment)
                .join(Assignment, Assignment.enrollment_id == Enrollment.id)
                .where(
                    Assignment.firm_id == firm.id,
                    Assignment.due_on < today,
                    Enrollment.id > after,
                    *_open(),
                )
                .order_by(Enrollment.id)
                .limit(BATCH)
                .options(selectinload(Enrollment.version))
            )
        )
        if not batch:
            return
        yield batch
        after = batch[-1].id


def remind_all_overdue(actor: User, firm: Firm, *, today: date | None = None) -> tuple[int, int]:
    """Remind every worker whose assignment by the firm is overdue; returns (reminders sent,
    overdue enrolments)."""
    today = today or date.today()
    sent = overdue = 0
    for batch in overdue_of_firm(firm, today):
        overdue += len(batch)
        sent += remind_overdue(actor, firm, batch, today=today)
    return sent, overdue


def reminded_today(enrollments, today: date | None = None) -> set[int]:
    """Ids of those `enrollments` whose worker was reminded today (one query)."""
    today = today or date.today()
    keys = {_reminder_key(e.id, today): e.id for e in enrollments}
    if not keys:
        return set()
    return {
        keys[k]
        for k in db.session.scalars(select(Notification.key).where(Notification.key.in_(keys)))
    }
