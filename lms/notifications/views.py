"""The signed-in user's notifications: list, open (marks read), mark all read, e-mail choices."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from lms.extensions import db
from lms.notifications import service

bp = Blueprint("notifications", __name__)


def _safe_local(url: str | None) -> str | None:
    """Only site-relative addresses are followed (no open redirect)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return None


@bp.get("/notifications")
@login_required
def index():
    page_no = max(1, request.args.get("page", 1, type=int) or 1)
    page = db.paginate(
        service.for_user(current_user),
        page=page_no,
        per_page=current_app.config["LMS_PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "notifications/index.html",
        page=page,
        message=service.message,
        kinds=service.KINDS,
        email_off=service.email_opt_outs(current_user.id),
        email_enabled=service.email_enabled(),
        upto=max((n.id for n in page.items), default=None),
    )


@bp.post("/notifications/read")
@login_required
def mark_all_read():
    service.mark_all_read(current_user, upto=request.form.get("upto", type=int))
    db.session.commit()
    return redirect(url_for("notifications.index"))


@bp.post("/notifications/preferences")
@login_required
def preferences():
    service.set_email_kinds(current_user, set(request.form.getlist("email")))
    db.session.commit()
    flash(_l("Your e-mail choices are saved."), "success")
    return redirect(url_for("notifications.index"))


@bp.get("/notifications/<public_id>/open", endpoint="open")
@login_required
def open_notification(public_id: str):
    n = service.get_for(current_user, public_id)
    if n is None:
        abort(404)
    service.mark_read(n)
    db.session.commit()
    return redirect(_safe_local(n.url) or url_for("notifications.index"))
