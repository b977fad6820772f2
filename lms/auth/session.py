"""Wire Flask-Login to server-side sessions: a cookie is only as good as its live session row."""

from flask import Flask, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_user, logout_user

from lms.auth import service
from lms.auth.models import User
from lms.auth.passwords import needs_rotation
from lms.extensions import db

# Endpoints that never need the signed-in user: they don't load the session (no database work
# for a stylesheet; the health checks answer for themselves when the database is down).
_SESSIONLESS = {"static", "core.healthz", "core.readyz"}
# Endpoints a signed-in user whose password must be rotated may still reach.
_ROTATION_EXEMPT = {"auth.change_password", "auth.logout", *_SESSIONLESS}


def init_app(app: Flask, login_manager: LoginManager) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        if request.endpoint in _SESSIONLESS:
            return None
        row = service.load_session(session.get("sid"))
        if row is None or str(row.user_id) != user_id:
            return None
        # At most one write per session a minute (touch_session), not one per request.
        if service.touch_session(row):
            db.session.commit()
        return row.user

    @app.before_request
    def enforce_password_rotation():
        if (
            current_user.is_authenticated
            and request.endpoint not in _ROTATION_EXEMPT
            and needs_rotation(current_user.password_changed_at)
        ):
            return redirect(url_for("auth.change_password", expired=1))
        return None


def sign_in(user: User, *, remember: bool) -> None:
    """A fresh session on every sign-in (nothing carried over from before)."""
    locale = session.get("locale")
    session.clear()
    session["sid"] = service.start_session(user, remember=remember)
    session.permanent = remember
    if locale:  # a language chosen on the sign-in page is the user's choice
        user.locale = locale
    login_user(user, remember=False)


def sign_out() -> None:
    service.end_session(session.get("sid"))
    logout_user()
    session.clear()
