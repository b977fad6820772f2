"""Password hashing and the password policy (standard, or the stricter MLPS profile)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

from lms.core.types import utcnow

MIN_LENGTH = 10
MLPS_ROTATION = timedelta(days=90)
# Verifying against this makes an unknown account cost as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str | None, password: str) -> bool:
    return check_password_hash(password_hash or _DUMMY_HASH, password) and bool(password_hash)


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of public breach corpora (shipped by zxcvbn)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def policy_name() -> str:
    return current_app.config["LMS_PASSWORD_POLICY"]


def password_problems(password: str, *, personal: tuple[str, ...] = ()) -> list[str]:
    """Every way `password` breaks the policy, as translated sentences (empty if it passes)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(_l("Use at least %(n)d characters.", n=MIN_LENGTH))
    lowered = password.lower()
    if lowered in common_passwords() or _is_trivial(lowered):
        problems.append(_l("This password is too common; choose one that is hard to guess."))
    if any(p and len(p) >= 4 and p.lower() in lowered for p in personal):
        problems.append(_l("Do not use your name, e-mail or mobile number in the password."))
    if policy_name() == "mlps":
        classes = sum(
            [
                any(c.islower() for c in password),
                any(c.isupper() for c in password),
                any(c.isdigit() for c in password),
                any(not c.isalnum() for c in password),
            ]
        )
        if classes < 3:
            problems.append(
                _l("Use at least three of: lower-case letters, capital letters, digits, symbols.")
            )
    return [str(p) for p in problems]


def _is_trivial(lowered: str) -> bool:
    """One repeated character or a run such as 1234567890 / abcdefghij."""
    if len(set(lowered)) <= 2:
        return True
    steps = {ord(b) - ord(a) for a, b in zip(lowered, lowered[1:], strict=False)}
    return steps in ({1}, {-1})


def needs_rotation(changed_at: datetime | None) -> bool:
    """Under the MLPS profile a password older than 90 days must be changed."""
    if policy_name() != "mlps":
        return False
    return changed_at is None or utcnow() - changed_at > MLPS_ROTATION
