"""Home, language switch, health checks."""

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy import text

from lms.auth.service import set_locale
from lms.core.urls import safe_next
from lms.extensions import db
from lms.tenancy.scope import current_scope, list_consortia

bp = Blueprint("core", __name__)


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    scope = current_scope()
    consortia = []
    if scope.is_platform_admin:
        consortia = db.session.scalars(list_consortia()).all()
    recs, roles = [], None
    if any(m.role == "worker" for m in scope.memberships):
        from lms.core.i18n import ui_locale
        from lms.skills import recommendations
        from lms.skills.gaps import worker_roles

        roles = worker_roles(current_user)
        if roles.consortium_id:
            recs = recommendations.for_worker(
                current_user, roles.consortium_id, ui_locale(), limit=3
            )
            db.session.commit()  # keep a list computed on demand
    return render_template(
        "core/home.html",
        memberships=scope.memberships,
        consortia=consortia,
        recs=recs,
        worker_roles=roles,
    )


@bp.post("/locale")
def change_locale():
    """The language switcher: remembered on the user, or in the session for guests."""
    locale = request.form.get("locale", "")
    if locale in current_app.config["LMS_LOCALES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            set_locale(current_user, locale)
            db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("core.index"))


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database error means not ready
        current_app.logger.exception("readiness check failed")
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
