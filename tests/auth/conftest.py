"""Helpers for the account and sign-in tests."""

from __future__ import annotations

import hashlib
import html
import re

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import select

from lms.auth.models import User, UserSession
from lms.extensions import db
from lms.tenancy.models import Invitation

COOKIE = "lms_session"
STRONG_PASSWORD = "Sunflower-Kettle-93"


def page_text(response) -> str:
    """The response body with HTML entities decoded (for comparing translated sentences)."""
    return html.unescape(response.get_data(as_text=True))


def field_errors(response, field: str) -> list[str]:
    """The error messages rendered under one form field."""
    return [
        html.unescape(m)
        for m in re.findall(
            rf'<p class="error" id="{re.escape(field)}-error">(.*?)</p>',
            response.get_data(as_text=True),
            re.S,
        )
    ]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_token(response) -> str:
    """The token of the single-use link shown in the flashed invitation message."""
    found = re.findall(
        r'class="invite-link"[^>]*value="http://localhost/invite/([^"]+)"',
        response.get_data(as_text=True),
    )
    assert len(found) == 1, response.get_data(as_text=True)[:2000]
    return found[0]


def sid(client) -> str | None:
    """The server-side session token carried by the client's signed cookie."""
    with client.session_transaction() as s:
        return s.get("sid")


@pytest.fixture
def tr(app):
    """The text of a message as the app renders it in `locale` (zh_CN unless told)."""

    def translate(msgid: str, locale: str = "zh_CN", **kw) -> str:
        with app.test_request_context(), force_locale(locale):
            return str(gettext(msgid, **kw))

    return translate


@pytest.fixture
def generic_login_error(tr):
    return tr(
        "The account or password is not correct. After 5 failed attempts an account is locked "
        "for 15 minutes."
    )


@pytest.fixture
def load(app):
    """Re-load rows in a short app context: load(User, id) or load.sessions(user_id)."""

    class Loader:
        def __call__(self, model, row_id):
            with app.app_context():
                row = db.session.get(model, row_id)
                if row is not None:
                    db.session.expunge(row)
                return row

        def sessions(self, user_id: int) -> list[UserSession]:
            with app.app_context():
                rows = db.session.scalars(
                    select(UserSession)
                    .where(UserSession.user_id == user_id)
                    .order_by(UserSession.id)
                ).all()
                for r in rows:
                    db.session.expunge(r)
                return list(rows)

        def session_for(self, token: str) -> UserSession | None:
            with app.app_context():
                row = db.session.scalars(
                    select(UserSession).where(UserSession.token_hash == digest(token))
                ).first()
                if row is not None:
                    db.session.expunge(row)
                return row

        def user_by_email(self, email: str) -> User | None:
            with app.app_context():
                user = db.session.scalars(select(User).where(User.email == email)).first()
                if user is not None:
                    db.session.expunge(user)
                return user

        def invitation(self, token: str) -> Invitation | None:
            with app.app_context():
                row = db.session.scalars(
                    select(Invitation).where(Invitation.token_hash == digest(token))
                ).first()
                if row is not None:
                    db.session.expunge(row)
                return row

    return Loader()


@pytest.fixture
def update(app):
    """Change columns of one row and commit: update(User, id, locked_until=...)."""

    def do(model, row_id, **values):
        with app.app_context():
            row = db.session.get(model, row_id)
            for key, value in values.items():
                setattr(row, key, value)
            db.session.commit()

    return do
