"""Certificate lifecycle: reminders before expiry, and recertification when one expires.

Run daily (the "certificates.lifecycle" job; `flask certificates remind` from cron):

- `send_expiry_reminders(today)`: a certificate expiring within 30 days gets the "30" reminder,
  within 7 days the "7" one — to the worker and to the admins of the worker's firm. Only the
  nearest threshold is sent (a certificate first seen 5 days before expiry gets the "7" one,
  not both); the thresholds passed are recorded in `cert.reminded`.
- `handle_expired(today)`: a certificate past its expiry date is announced once ("0" in
  `cert.reminded`) and its course is assigned again (source "recert", due in 30 days).

Revoked certificates, and those the worker has already renewed (a later valid certificate of the
same course), get neither. Each notification has a key per certificate, threshold and recipient,
so running twice — or twice at once — sends nothing new.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lms.audit.service import record_action
from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.core.types import utcnow
from lms.extensions import db
from lms.learning.models import Enrollment
from lms.notifications.service import notify, path_for, send_pending_emails
from lms.tenancy.models import Membership
from lms.tenancy.scope import current_membership_conditions

REMINDER_DAYS = (30, 7)
EXPIRED = 0  # the mark in `cert.reminded` for "expiry handled"
RECERT_DUE_DAYS = 30
# Expired certificates older than this are not looked at any more (the daily run handles each
# within a day; the window only bounds the scan).
EXPIRED_LOOKBACK = timedelta(days=365)


def _is_worker_of(user_id: int, firm_id: int | None, today: date) -> bool:
    if firm_id is None:
        return False
    return (
        db.session.scalar(
            select(Membership.id).where(
                Membership.user_id == user_id,
                Membership.firm_id == firm_id,
                *current_membership_conditions(today),
            )
        )
        is not None
    )


def firm_admins(firm_id: int | None, today: date | None = None) -> list[User]:
    """The firm's current, active firm admins."""
    if firm_id is None:
        return []
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.firm_id == firm_id,
                Membership.role == "firm_admin",
                User.is_active_account.is_(True),
                *current_membership_conditions(today),
            )
            .distinct()
        )
    )


def _recipients(cert: Certificate, today: date) -> list[tuple[User, bool]]:
    """(user, is the worker): the worker, and their firm's admins while they work there."""
    out = [(cert.user, True)]
    if _is_worker_of(cert.user_id, cert.firm_id, today):
        out += [(a, False) for a in firm_admins(cert.firm_id, today) if a.id != cert.user_id]
    return out


def _renewed(cert: Certificate, today: date) -> bool:
    """The worker holds a later certificate of the same course that is still valid."""
    later = db.session.scalars(
        select(Certificate).where(
            Certificate.user_id == cert.user_id,
            Certificate.course_id == cert.course_id,
            Certificate.id != cert.id,
            Certificate.revoked_at.is_(None),
            Certificate.issued_at > cert.issued_at,
        )
    ).all()
    return any(c.status(today) == "valid" for c in later)


def _params(cert: Certificate, for_worker: bool) -> dict:
    params = {
        "course": cert.data.get("course") or "",
        "serial": cert.serial,
        "expires_on": cert.expires_on.isoformat() if cert.expires_on else None,
    }
    if not for_worker:
        params["name"] = cert.data.get("name") or cert.user.name
    return params


def _url(cert: Certificate, for_worker: bool) -> str:
    if for_worker:
        return path_for("certificates.my_certificates")
    return path_for("certificates.firm_certificates", firm_id=cert.firm_id, q=cert.serial)


def _mark(cert: Certificate, *days: int) -> None:
    cert.reminded = sorted(set(cert.reminded or []) | set(days), reverse=True)


def send_expiry_reminders(today: date) -> int:
    """Remind of certificates expiring within 30 and 7 days; returns notifications added."""
    added = 0
    horizon = today + timedelta(days=max(REMINDER_DAYS))
    certs = db.session.scalars(
        select(Certificate)
        .where(
            Certificate.revoked_at.is_(None),
            Certificate.expires_on.is_not(None),
            Certificate.expires_on >= today,
            Certificate.expires_on <= horizon,
        )
        .order_by(Certificate.id)
    ).all()
    for cert in certs:
        left = (cert.expires_on - today).days
        due = [d for d in REMINDER_DAYS if left <= d]
        pending = [d for d in due if d not in (cert.reminded or [])]
        if not pending:
            continue
        days = min(due)  # the nearest threshold; the farther ones are moot now
        if days in pending and not _renewed(cert, today):
            for user, for_worker in _recipients(cert, today):
                if notify(
                    user,
                    "certificate.expiring",
                    f"certificate.expiring:{cert.id}:{days}:{user.id}",
                    _url(cert, for_worker),
                    days=days,
                    **_params(cert, for_worker),
                ):
                    added += 1
        _mark(cert, *due)
    db.session.flush()
    return added


def _worker_firm_id(user_id: int, consortium_id: int, today: date) -> int | None:
    return db.session.scalar(
        select(Membership.firm_id).where(
            Membership.user_id == user_id,
            Membership.consortium_id == consortium_id,
            Membership.role == "worker",
            Membership.firm_id.is_not(None),
            *current_membership_conditions(today),
        )
    )


def recertify(cert: Certificate, today: date) -> Enrollment | None:
    """Assign the certificate's course again (its current published version), due in 30 days.

    The completed enrolment stays as it is, only set aside (withdrawn_at: one enrolment per
    worker and course is active), so its completion remains in the records. A worker who is
    already taking the course again keeps that enrolment. None when the course is no longer
    published or the worker no longer works in the consortium.
    """
    from lms.courses.service import published_version
    from lms.learning.service import active_enrollment, record_assignment

    course, user = cert.course, cert.user
    version = published_version(course)
    firm_id = _worker_firm_id(user.id, course.consortium_id, today)
    if version is None or firm_id is None or not user.is_active_account:
        return None
    due = today + timedelta(days=RECERT_DUE_DAYS)
    active = active_enrollment(user, course)
    if active is not None and active.status != "completed":
        # The worker's firm assigns it for recertification, beside any other firm's assignment.
        record_assignment(
            active, actor=None, firm_id=firm_id, source="recert", due_on=due, is_mandatory=True
        )
        return active
    if active is not None:
        active.withdrawn_at = utcnow()  # set aside; its status stays "completed"
    enrollment = Enrollment(
        consortium_id=course.consortium_id,
        firm_id=firm_id,
        user_id=user.id,
        course_id=course.id,
        version_id=version.id,
        source="recert",
    )
    try:
        with db.session.begin_nested():
            db.session.add(enrollment)
    except IntegrityError:
        return active_enrollment(user, course)  # a concurrent run assigned it
    record_assignment(
        enrollment, actor=None, firm_id=firm_id, source="recert", due_on=due, is_mandatory=True
    )
    record_action(
        None,
        "enrollment.assign",
        enrollment,
        consortium_id=course.consortium_id,
        details={"course": course.id, "due_on": str(due), "certificate": cert.serial},
    )
    return enrollment


def handle_expired(today: date) -> int:
    """Announce each expired certificate once and assign its course again; returns how many
    certificates were handled."""
    handled = 0
    certs = db.session.scalars(
        select(Certificate)
        .where(
            Certificate.revoked_at.is_(None),
            Certificate.expires_on < today,
            Certificate.expires_on >= today - EXPIRED_LOOKBACK,
        )
        .order_by(Certificate.id)
    ).all()
    for cert in certs:
        if EXPIRED in (cert.reminded or []):
            continue
        # Claim the certificate with the worker's notification: its key exists once, so a
        # concurrent run that lost the race adds nothing and assigns nothing.
        renewed = _renewed(cert, today)
        if not renewed:
            key = f"certificate.expired:{cert.id}:{cert.user_id}"
            worker_params = _params(cert, True)
            claimed = notify(cert.user, "certificate.expired", key, _url(cert, True))
            if claimed is not None:
                enrollment = recertify(cert, today)
                due = enrollment.due_on.isoformat() if enrollment and enrollment.due_on else None
                claimed.params = {**worker_params, "due_on": due}
                for user, for_worker in _recipients(cert, today)[1:]:
                    notify(
                        user,
                        "certificate.expired",
                        f"certificate.expired:{cert.id}:{user.id}",
                        _url(cert, for_worker),
                        due_on=due,
                        **_params(cert, for_worker),
                    )
                handled += 1
        _mark(cert, EXPIRED)
    db.session.flush()
    return handled


def notify_issued(cert: Certificate) -> None:
    """Tell the worker their certificate is issued (called by service.issue)."""
    notify(
        cert.user_id,
        "certificate.issued",
        f"certificate.issued:{cert.id}",
        path_for("certificates.my_certificates"),
        **_params(cert, True),
    )


def notify_revoked(cert: Certificate) -> None:
    """Tell the holder their certificate is revoked (called by service.revoke)."""
    notify(
        cert.user_id,
        "certificate.revoked",
        f"certificate.revoked:{cert.id}",
        path_for("certificates.my_certificates"),
        course=cert.data.get("course") or "",
        serial=cert.serial,
    )


def run(today: date | None = None) -> dict:
    """Both steps for `today`, then the e-mails (when SMTP is set)."""
    today = today or date.today()
    reminders = send_expiry_reminders(today)
    expired = handle_expired(today)
    db.session.commit()
    emailed = send_pending_emails()
    db.session.commit()
    return {
        "today": today.isoformat(),
        "reminders": reminders,
        "expired": expired,
        "emailed": emailed,
    }


def lifecycle_job(job, report) -> dict:
    """The "certificates.lifecycle" background job (params: optional "today", YYYY-MM-DD)."""
    today = job.params.get("today") if job.params else None
    return run(date.fromisoformat(today) if today else None)
