"""Notifications: sent once per event, shown in the viewer's language, e-mailed when SMTP is set.

Other domains call `notify(user, kind, key, url, **params)`:

- `kind` names a message in KINDS (add yours there: a label for the preferences page and one or
  more lazy-gettext templates);
- `key` names the event *and* its recipient (e.g. "certificate.expiring:<cert id>:30:<user id>");
  the unique constraint on it means a second call for the same event adds nothing, whatever
  the number of runs or races — `notify` then returns None;
- `params` are plain JSON values the templates format when the message is shown (so a
  message reads in the language of whoever views it). A param whose name ends in "_on" holds
  an ISO date and is shown as a date of the viewer's locale.

Preferences: on the notifications page a user turns each kind off in the app (`notify` then
adds nothing for them) and/or by e-mail. Kinds marked `always` — certificates and a firm admin's
reminder — are delivered in the app whatever the preference: they are records the worker needs
(and the certificates lifecycle relies on the expired notice existing to recertify once).

E-mail: with LMS_SMTP_URL set, `send_pending_emails` (the "notifications.email" job, also run
at the end of the certificates lifecycle and the reminders jobs) sends each recent notification
once, unless its recipient turned e-mail off for that kind on the notifications page.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from lms.auth.models import User
from lms.core.types import utcnow
from lms.extensions import db
from lms.notifications.models import Notification, NotificationPreference

log = logging.getLogger(__name__)

# Only notifications this recent are e-mailed: switching SMTP on later doesn't flood inboxes
# with old news, and a skipped message (opted out, no address) stops being looked at.
EMAIL_WINDOW = timedelta(days=3)
EMAIL_BATCH = 500


@dataclass(frozen=True)
class Kind:
    """A kind of notification: its label (preferences page) and its message templates.

    `messages` is a list of (params that must be present, template); the first whose params
    are all present is used — e.g. a variant for a firm admin when "name" (the worker) is set.
    """

    label: object
    messages: tuple[tuple[tuple[str, ...], object], ...]
    # Delivered in the app even to a user who turned the kind off there.
    always: bool = False
    # "module:function" of `(notification, user) -> [(filename, mimetype, bytes)]`: files
    # attached to its e-mail (called in the recipient's language), e.g. a report's PDF.
    attachments: str | None = None


KINDS: dict[str, Kind] = {
    "assignment.given": Kind(
        _l("Course assigned"),
        (
            (
                ("due_on",),
                _l("You have been assigned the course “%(course)s”. Complete it by %(due_on)s."),
            ),
            ((), _l("You have been assigned the course “%(course)s”.")),
        ),
    ),
    "assignment.due_soon": Kind(
        _l("Course due soon"),
        (
            (
                (),
                _l(
                    "The course “%(course)s” is due on %(due_on)s and is not completed yet. "
                    "Finish it in time."
                ),
            ),
        ),
    ),
    "assignment.overdue": Kind(
        _l("Course overdue"),
        (
            (
                ("name",),
                _l("%(name)s has not completed “%(course)s”, which was due on %(due_on)s."),
            ),
            (
                (),
                _l(
                    "The course “%(course)s” was due on %(due_on)s and is not completed yet. "
                    "Please finish it as soon as you can."
                ),
            ),
        ),
    ),
    "assignment.reminder": Kind(
        _l("Reminder about an overdue course"),
        (
            (
                ("by",),
                _l(
                    "%(by)s reminds you to complete the course “%(course)s”, "
                    "which was due on %(due_on)s."
                ),
            ),
            ((), _l("Reminder: complete the course “%(course)s”, which was due on %(due_on)s.")),
        ),
        always=True,
    ),
    "course.approved": Kind(
        _l("Course approved"),
        (
            (
                (),
                _l(
                    "Version %(version)s of your course “%(course)s” was approved and is now "
                    "in the catalogue."
                ),
            ),
        ),
    ),
    "course.returned": Kind(
        _l("Course sent back for changes"),
        (
            (
                ("comment",),
                _l(
                    "Version %(version)s of your course “%(course)s” was sent back for "
                    "changes. The reviewer wrote: %(comment)s"
                ),
            ),
            ((), _l("Version %(version)s of your course “%(course)s” was sent back for changes.")),
        ),
    ),
    "practical.signoff_requested": Kind(
        _l("Sign-off requested"),
        (
            (
                (),
                _l(
                    "%(name)s asks you to sign off the practical task “%(task)s” of the course "
                    "“%(course)s”."
                ),
            ),
        ),
    ),
    "certificate.issued": Kind(
        _l("Certificate issued"),
        (((), _l("Your certificate for “%(course)s” has been issued (no. %(serial)s).")),),
        always=True,
    ),
    "certificate.expiring": Kind(
        _l("Certificate about to expire"),
        (
            (
                ("name",),
                _l("The certificate of %(name)s for “%(course)s” expires on %(expires_on)s."),
            ),
            (
                (),
                _l(
                    "Your certificate for “%(course)s” expires on %(expires_on)s. "
                    "Take the course again in time to renew it."
                ),
            ),
        ),
        always=True,
    ),
    "certificate.expired": Kind(
        _l("Certificate expired"),
        (
            (
                ("name", "due_on"),
                _l(
                    "The certificate of %(name)s for “%(course)s” expired on %(expires_on)s; "
                    "the course is assigned again for recertification, due %(due_on)s."
                ),
            ),
            (
                ("name",),
                _l("The certificate of %(name)s for “%(course)s” expired on %(expires_on)s."),
            ),
            (
                ("due_on",),
                _l(
                    "Your certificate for “%(course)s” expired on %(expires_on)s. The course "
                    "is assigned to you again for recertification, due %(due_on)s."
                ),
            ),
            ((), _l("Your certificate for “%(course)s” expired on %(expires_on)s.")),
        ),
        always=True,
    ),
    "certificate.revoked": Kind(
        _l("Certificate revoked"),
        (
            (
                (),
                _l(
                    "Your certificate for “%(course)s” (no. %(serial)s) has been revoked. "
                    "The reason is shown under My certificates."
                ),
            ),
        ),
    ),
    "report.monthly": Kind(
        _l("Monthly pilot report"),
        (
            (
                (),
                _l(
                    "The monthly pilot report of %(consortium)s for %(month)s is ready: "
                    "open it to download the PDF."
                ),
            ),
        ),
        attachments="lms.reports.monthly:email_attachments",
    ),
}


class _Params(dict):
    def __missing__(self, key):  # a template never fails on a missing value
        return ""


def _display_params(params: dict) -> _Params:
    shown = _Params()
    for name, value in (params or {}).items():
        if name.endswith("_on") and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = format_date(date.fromisoformat(value), "medium")
        shown[name] = value
    return shown


def message(n: Notification) -> str:
    """The notification's text in the current locale."""
    kind = KINDS.get(n.kind)
    if kind is None:
        return n.kind
    params = n.params or {}
    template = kind.messages[-1][1]
    for needed, candidate in kind.messages:
        if all(params.get(p) not in (None, "") for p in needed):
            template = candidate
            break
    return str(template) % _display_params(params)


def path_for(endpoint: str, **values) -> str:
    """A site-relative URL, also outside a request (jobs, CLI)."""
    if has_request_context():
        return url_for(endpoint, **values)
    with current_app.test_request_context():
        return url_for(endpoint, **values)


# --- sending -------------------------------------------------------------------------------


def notify(user, kind: str, key: str, url: str | None = None, **params) -> Notification | None:
    """Add a notification for `user` (a User or its id), once per `key`; None if it exists
    or the user turned this kind off in the app."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    user_id = user if isinstance(user, int) else user.id
    if not KINDS[kind].always and kind in app_opt_outs(user_id):
        return None
    key = key[:200]
    if db.session.scalar(select(Notification.id).where(Notification.key == key)) is not None:
        return None
    return _insert(user_id, kind, key, url, params)


def _insert(user_id: int, kind: str, key: str, url: str | None, params: dict):
    n = Notification(user_id=user_id, kind=kind, key=key[:200], url=url, params=params)
    try:
        with db.session.begin_nested():
            db.session.add(n)
    except IntegrityError:
        return None  # a concurrent run sent it first
    return n


@dataclass(frozen=True)
class Pending:
    """One notification for `notify_many`."""

    user_id: int
    kind: str
    key: str
    url: str | None
    params: dict


def notify_many(items: list[Pending]) -> list[Notification]:
    """`notify` for a batch (a job's scan): two queries find the keys already sent and the
    recipients' opt-outs, then only the new ones are added. Returns those added."""
    for item in items:
        if item.kind not in KINDS:
            raise ValueError(f"unknown notification kind {item.kind!r}")
    if not items:
        return []
    keys = {item.key[:200] for item in items}
    sent = set(db.session.scalars(select(Notification.key).where(Notification.key.in_(keys))))
    off = {
        pref.user_id: set(pref.app_off or [])
        for pref in db.session.scalars(
            select(NotificationPreference).where(
                NotificationPreference.user_id.in_({item.user_id for item in items})
            )
        )
    }
    added = []
    for item in items:
        key = item.key[:200]
        if key in sent:
            continue
        if not KINDS[item.kind].always and item.kind in off.get(item.user_id, ()):
            continue
        sent.add(key)
        n = _insert(item.user_id, item.kind, key, item.url, item.params)
        if n is not None:
            added.append(n)
    return added


# --- reading -------------------------------------------------------------------------------


def for_user(user: User):
    """The user's notifications, newest first (a query for pagination)."""
    return (
        select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )


def unread_count(user: User) -> int:
    return db.session.scalar(select(unread_count_column(user.id)))


def unread_count_column(user_id):
    """The unread count of `user_id` (a value or a column) as a scalar subquery: the session
    loader reads it in its own statement (lms.auth.service.SESSION_FIGURES)."""
    return (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )


def get_for(user: User, public_id: str) -> Notification | None:
    """The user's own notification; anyone else's is None (a 404)."""
    return db.session.scalars(
        select(Notification).where(
            Notification.public_id == public_id, Notification.user_id == user.id
        )
    ).first()


def mark_read(n: Notification) -> None:
    if n.read_at is None:
        n.read_at = utcnow()
        db.session.flush()


def mark_all_read(user: User, *, upto: int | None = None) -> int:
    """Mark the user's unread notifications read (only those up to id `upto` when given, so
    one that arrived after the page was shown stays unread)."""
    query = update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if upto is not None:
        query = query.where(Notification.id <= upto)
    result = db.session.execute(
        query.values(read_at=utcnow()).execution_options(synchronize_session=False)
    )
    db.session.expire_all()
    return result.rowcount or 0


# --- preferences ---------------------------------------------------------------------------


def email_opt_outs(user_id: int) -> set[str]:
    pref = db.session.get(NotificationPreference, user_id)
    return set(pref.email_off or []) if pref else set()


def app_opt_outs(user_id: int) -> set[str]:
    """The kinds the user turned off in the app (kinds marked `always` come anyway)."""
    pref = db.session.get(NotificationPreference, user_id)
    return set(pref.app_off or []) if pref else set()


def optional_kinds() -> list[str]:
    """The kinds a user may turn off in the app."""
    return [name for name, kind in KINDS.items() if not kind.always]


def set_preferences(
    user: User, *, email: set[str] | None = None, app: set[str] | None = None
) -> None:
    """Keep the kinds in `email` / `app` on, turn the others off (None: leave that channel as
    it is; unknown kinds are ignored). Saving the same choices twice changes nothing."""
    pref = db.session.get(NotificationPreference, user.id)
    if pref is None:
        pref = NotificationPreference(user_id=user.id, email_off=[], app_off=[])
        try:
            with db.session.begin_nested():
                db.session.add(pref)
        except IntegrityError:  # a double submit created it meanwhile
            pref = db.session.get(NotificationPreference, user.id)
    if email is not None:
        pref.email_off = sorted(set(KINDS) - set(email))
    if app is not None:
        pref.app_off = sorted(set(optional_kinds()) - set(app))
    db.session.flush()


def set_email_kinds(user: User, wanted: set[str]) -> None:
    """E-mail the kinds in `wanted`, none of the others (unknown kinds are ignored)."""
    set_preferences(user, email=wanted)


# --- e-mail --------------------------------------------------------------------------------


def email_enabled() -> bool:
    return bool(current_app.config.get("LMS_SMTP_URL"))


def _connect() -> smtplib.SMTP:
    """An SMTP connection from LMS_SMTP_URL: smtp://user:pass@host:587 (STARTTLS when the
    server offers it) or smtps://user:pass@host:465."""
    url = urlsplit(current_app.config["LMS_SMTP_URL"])
    secure = url.scheme == "smtps"
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        raise ValueError("LMS_SMTP_URL must look like smtp://user:password@host:587")
    port = url.port or (465 if secure else 25)
    if secure:
        smtp = smtplib.SMTP_SSL(url.hostname, port, timeout=30)
    else:
        smtp = smtplib.SMTP(url.hostname, port, timeout=30)
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
    if url.username:
        smtp.login(unquote(url.username), unquote(url.password or ""))
    return smtp


def email_message(n: Notification, user: User) -> EmailMessage:
    """The e-mail of a notification, in the recipient's language."""
    base = (current_app.config.get("LMS_BASE_URL") or "").rstrip("/")
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        text = message(n)
        label = str(KINDS[n.kind].label) if n.kind in KINDS else n.kind
        lines = [text, ""]
        if base:
            link = base + path_for("notifications.open", public_id=n.public_id)
            lines += [_("Open: %(url)s", url=link), ""]
        lines.append(_("You can turn these e-mails off on your notifications page in the LMS."))
        subject = f"{_('Consortium LMS')}: {label}"
        files = _attachments(n, user)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = current_app.config.get("LMS_MAIL_FROM") or "lms@localhost"
    msg["To"] = user.email
    msg.set_content("\n".join(lines))
    for filename, mimetype, data in files:
        maintype, _slash, subtype = mimetype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def _attachments(n: Notification, user: User) -> list[tuple[str, str, bytes]]:
    hook = KINDS[n.kind].attachments if n.kind in KINDS else None
    if not hook:
        return []
    import importlib

    module, _colon, name = hook.partition(":")
    return list(getattr(importlib.import_module(module), name)(n, user) or [])


def send_pending_emails(report=None) -> int:
    """E-mail recent notifications not e-mailed yet; each at most once. Returns the count sent.

    Each message is claimed (emailed_at set, committed) before it is sent, so two runs never
    send the same one; a failed send releases the claim for the next run.
    """
    if not email_enabled():
        return 0
    since = utcnow() - EMAIL_WINDOW
    rows = db.session.execute(
        select(Notification, User)
        .join(User, User.id == Notification.user_id)
        .where(Notification.emailed_at.is_(None), Notification.created_at >= since)
        .order_by(Notification.id)
        .limit(EMAIL_BATCH)
    ).all()
    todo = [
        (n, user)
        for n, user in rows
        if user.email and user.is_active_account and n.kind not in email_opt_outs(user.id)
    ]
    if not todo:
        return 0
    sent = 0
    smtp = _connect()
    try:
        for done, (n, user) in enumerate(todo, 1):
            claimed = db.session.execute(
                update(Notification)
                .where(Notification.id == n.id, Notification.emailed_at.is_(None))
                .values(emailed_at=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount
            db.session.commit()
            if not claimed:
                continue
            try:
                smtp.send_message(email_message(n, user))
            except (smtplib.SMTPException, OSError):
                log.exception("notification %s: the e-mail could not be sent", n.id)
                db.session.execute(
                    update(Notification)
                    .where(Notification.id == n.id)
                    .values(emailed_at=None)
                    .execution_options(synchronize_session=False)
                )
                db.session.commit()
                if isinstance(smtp, smtplib.SMTP) and not _alive(smtp):
                    break
                continue
            sent += 1
            if report is not None:
                report(done, len(todo))
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
    return sent


def _alive(smtp) -> bool:
    try:
        return smtp.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def email_job(job, report) -> dict:
    """The "notifications.email" background job."""
    sent = send_pending_emails(report)
    db.session.commit()
    return {"emailed": sent}
