"""The signed-in user's notifications: list, open (marks read), mark all read, choices per kind
(in the app, by e-mail); a firm admin's one-click reminder to overdue workers."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from lms.core.access import signed_in
from lms.core.params import int_arg, page_arg
from lms.core.urls import safe_next
from lms.extensions import db
from lms.notifications import reminders, service
from lms.permissions import needs

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@signed_in
def index():
    page_no = page_arg()
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
        app_off=service.app_opt_outs(current_user.id),
        email_enabled=service.email_enabled(),
        upto=max((n.id for n in page.items), default=None),
    )


@bp.post("/notifications/read")
@signed_in
def mark_all_read():
    service.mark_all_read(current_user, upto=int_arg("upto", source=request.form))
    db.session.commit()
    return redirect(url_for("notifications.index"))


@bp.post("/notifications/preferences")
@signed_in
def preferences():
    # Unticked boxes are not posted: a channel's list is read only when its form part was shown.
    form = request.form
    service.set_preferences(
        current_user,
        email=set(form.getlist("email")),
        app=set(form.getlist("app")) if form.get("app_choices") else None,
    )
    db.session.commit()
    flash(_l("Your notification choices are saved."), "success")
    return redirect(url_for("notifications.index"))


@bp.get("/notifications/<public_id>/open", endpoint="open")
@signed_in
def open_notification(public_id: str):
    n = service.get_for(current_user, public_id)
    if n is None:
        abort(404)
    service.mark_read(n)
    db.session.commit()
    return redirect(safe_next(n.url) or url_for("notifications.index"))


@bp.post("/firms/<int:firm_id>/overdue/remind", endpoint="remind_overdue")
@needs("enrollment.assign", on="firm")
def remind_overdue(firm):
    """Remind the workers of the posted overdue enrolments (or, with all=1, of every overdue
    enrolment of the firm); once a day each."""
    if request.form.get("all"):
        sent, overdue = reminders.remind_all_overdue(current_user, firm)
    else:
        chosen = reminders.firm_enrollments(firm, request.form.getlist("enrollment"))
        if chosen is None:
            abort(404)
        overdue = sum(reminders.is_overdue(e, firm=firm) for e in chosen)
        sent = reminders.remind_overdue(current_user, firm, chosen)
    db.session.commit()
    if sent:
        flash(ngettext("%(num)d reminder sent.", "%(num)d reminders sent.", sent), "success")
    elif overdue:
        flash(_l("Already reminded today: no reminder sent."), "info")
    else:
        flash(_l("Nothing to remind: none of these courses is overdue."), "info")
    back = safe_next(request.form.get("next"))
    return redirect(back or url_for("assignments.firm_enrollments", firm_id=firm.id, overdue=1))
