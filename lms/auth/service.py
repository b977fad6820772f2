"""Accounts: sign-in with lockout, server-side sessions, passwords, locale."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta

from flask import current_app, g
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, false, func, or_, select, update
from sqlalchemy.orm import joinedload

from lms.audit.service import record_action
from lms.auth.models import User, UserSession
from lms.auth.passwords import hash_password, password_problems, verify_password
from lms.core.codes import CodeError, normalize_mobile
from lms.core.types import utcnow
from lms.extensions import db


class AccountError(ValueError):
    """A translated, user-facing reason an account operation was refused."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field


class PasswordRefused(AccountError):
    """The password given to re-authenticate was wrong, or the account is locked (the two
    look alike); the failure was counted towards the lockout."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_user_by_login(identifier: str) -> User | None:
    """The user whose e-mail or mobile number is `identifier`, if any."""
    identifier = (identifier or "").strip()
    if not identifier:
        return None
    if "@" in identifier:
        return db.session.scalars(select(User).where(User.email == identifier.lower())).first()
    try:
        mobile = normalize_mobile(identifier)
    except CodeError:
        return None
    return db.session.scalars(select(User).where(User.mobile == mobile)).first()


def authenticate(identifier: str, password: str) -> User | None:
    """The user if the credentials are right and the account is usable; counts failures.

    Unknown account, wrong password, locked and deactivated accounts all return None so the
    caller shows one generic message.
    """
    user = find_user_by_login(identifier)
    if user is None:
        verify_password(None, password)  # same cost as a real check
        return None
    if not check_password(user, password) or not user.is_active_account:
        return None
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def check_password(user: User, password: str) -> bool:
    """Whether `password` is the user's and the account is not locked, counting the answer
    towards the lockout: every check of a password (sign-in, re-authentication) comes here.

    After LMS_LOCKOUT_THRESHOLD wrong passwords in a row the account is locked for
    LMS_LOCKOUT_MINUTES; while locked, even the right password is refused (and not counted).
    """
    now = utcnow()
    if user.locked_until and user.locked_until > now:
        verify_password(None, password)  # same cost as a real check
        return False
    if not verify_password(user.password_hash, password):
        user.failed_login_count += 1
        if user.failed_login_count >= current_app.config["LMS_LOCKOUT_THRESHOLD"]:
            user.locked_until = now + timedelta(minutes=current_app.config["LMS_LOCKOUT_MINUTES"])
            user.failed_login_count = 0
            record_action(None, "auth.lockout", user)
        db.session.flush()
        return False
    user.failed_login_count = 0
    user.locked_until = None
    db.session.flush()
    return True


def start_session(user: User, *, remember: bool) -> str:
    """Create a server-side session and return its token (kept only in the signed cookie)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    lifetime = (
        current_app.config["PERMANENT_SESSION_LIFETIME"]
        if remember
        else current_app.config["LMS_SESSION_IDLE"]
    )
    db.session.add(
        UserSession(
            token_hash=token_digest(token),
            user=user,
            is_remembered=remember,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    db.session.flush()
    return token


# Figures other domains want on every signed-in page, loaded in the session's own statement
# (name → a function of the user id column giving a correlated scalar subquery); read back with
# `session_figure(name)`. Registered by the app factory (e.g. the unread-notification count).
SESSION_FIGURES: dict[str, Callable[[ColumnElement], ColumnElement]] = {}


def load_session(token: str | None) -> UserSession | None:
    """The live session for `token`: not revoked, not expired, its user active.

    One statement: the session, its user, the user's memberships with their firm, consortium
    and job role (joined by the membership's mapping; every page needs them for scoping and
    permissions), and the registered session figures."""
    if not token:
        return None
    names = list(SESSION_FIGURES)
    rows = (
        db.session.execute(
            select(
                UserSession,
                *(SESSION_FIGURES[n](UserSession.user_id).label(n) for n in names),
            )
            .where(UserSession.token_hash == token_digest(token))
            .options(joinedload(UserSession.user).joinedload(User.memberships))
        )
        .unique()
        .all()
    )
    if not rows:
        return None
    row, *figures = rows[0]
    now = utcnow()
    if row.revoked_at is not None or row.expires_at <= now:
        return None
    if not row.user.is_active_account:
        return None
    g.session_figures = dict(zip(names, figures, strict=True))
    return row


def session_figure(name: str):
    """A figure loaded with this request's session (None when it was not loaded)."""
    return g.get("session_figures", {}).get(name)


def touch_session(row: UserSession) -> bool:
    """Slide the idle expiry of a non-remembered session; True if the row changed."""
    now = utcnow()
    if now - row.last_seen_at < timedelta(minutes=1):
        return False
    row.last_seen_at = now
    if not row.is_remembered:
        row.expires_at = now + current_app.config["LMS_SESSION_IDLE"]
    return True


def end_session(token: str | None) -> None:
    """Revoke one session (logout): the cookie that carried it stops working."""
    if token:
        db.session.execute(
            update(UserSession)
            .where(UserSession.token_hash == token_digest(token), UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def revoke_user_sessions(user: User, *, except_token: str | None = None) -> None:
    """Sign the user out everywhere (optionally keeping the current browser)."""
    query = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
    )
    if except_token:
        query = query.where(UserSession.token_hash != token_digest(except_token))
    db.session.execute(query.values(revoked_at=utcnow()))


def set_password(user: User, password: str) -> None:
    """Check the policy and set a new password; raise AccountError listing the problems."""
    email = user.email or ""
    problems = password_problems(
        password, personal=(user.name, email, email.split("@")[0], user.mobile or "")
    )
    if problems:
        raise AccountError(" ".join(problems), field="password")
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()


def change_password(user: User, *, current: str, new: str, keep_token: str | None) -> None:
    """A user changes their own password; other sessions are signed out.

    A wrong current password counts towards the lockout like a failed sign-in (PasswordRefused:
    the caller keeps the count); a locked account is refused with the same answer.
    """
    if not check_password(user, current):
        raise PasswordRefused(_l("The current password is not correct."), field="current_password")
    if verify_password(user.password_hash, new):
        raise AccountError(
            _l("Choose a password different from the current one."), field="password"
        )
    set_password(user, new)
    revoke_user_sessions(user, except_token=keep_token)
    record_action(user, "account.password_change", user)
    db.session.flush()


def set_locale(user: User, locale: str) -> None:
    if locale not in current_app.config["LMS_LOCALES"]:
        raise AccountError(_l("Unknown language."), field="locale")
    user.locale = locale
    db.session.flush()


def update_profile(user: User, *, name: str, locale: str) -> None:
    name = name.strip()
    if not name:
        raise AccountError(_l("Enter your name."), field="name")
    user.name = name
    set_locale(user, locale)


def create_platform_admin(
    *, name: str, email: str | None, mobile: str | None, password: str
) -> User:
    """The first (or another) platform admin, created from the command line."""
    email, mobile = normalize_contact(email, mobile)
    ensure_contact_free(email, mobile)
    user = User(name=name.strip(), email=email, mobile=mobile, is_platform_admin=True)
    set_password(user, password)
    db.session.add(user)
    db.session.flush()
    record_action(None, "account.create_platform_admin", user)
    return user


def normalize_contact(email: str | None, mobile: str | None) -> tuple[str | None, str | None]:
    """Lower-case e-mail, canonical mobile; at least one required."""
    email = (email or "").strip().lower() or None
    mobile_raw = (mobile or "").strip()
    try:
        mobile = normalize_mobile(mobile_raw) if mobile_raw else None
    except CodeError as exc:
        raise AccountError(exc.args[0], field="mobile") from exc
    if email:
        from email_validator import EmailNotValidError, validate_email

        try:
            email = validate_email(email, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            raise AccountError(_l("This e-mail address is not valid."), field="email") from exc
    if not email and not mobile:
        raise AccountError(_l("Give an e-mail address or a mobile number."), field="email")
    return email, mobile


def contact_match(model, email: str | None, mobile: str | None):
    """SQL condition: the row's e-mail or mobile equals the given one (None never matches)."""
    conds = [model.email == email] if email else []
    if mobile:
        conds.append(model.mobile == mobile)
    return or_(*conds) if conds else false()


def ensure_contact_free(
    email: str | None, mobile: str | None, *, ignore: User | None = None
) -> None:
    taken = db.session.scalars(select(User).where(contact_match(User, email, mobile))).first()
    if taken is not None and taken is not ignore:
        field = "email" if email and taken.email == email else "mobile"
        raise AccountError(
            _l("Another account already uses this e-mail or mobile number."), field=field
        )


def count_users() -> int:
    return db.session.scalar(select(func.count(User.id)))
