"""The monthly pilot report of a consortium: its page (month picker, download, e-mail
subscription) and its PDF, for consortium admins (report.view on the consortium)."""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms.core.i18n import ui_locale
from lms.extensions import db
from lms.notifications.service import email_enabled
from lms.permissions import needs
from lms.reports import monthly

bp = Blueprint("monthly_reports", __name__)


@bp.get("/consortia/<int:consortium_id>/reports/monthly", endpoint="monthly")
@needs("report.view", on="consortium")
def monthly_page(consortium):
    month, error = monthly.parse_month(request.args.get("month"))
    return render_template(
        "reports/monthly.html",
        consortium=consortium,
        month=month,
        month_value=monthly.month_text(month) if month else request.args.get("month", ""),
        month_label=monthly.month_label(month) if month else "",
        latest=monthly.month_text(monthly.latest_month()),
        error=error,
        subscribed=monthly.is_subscribed(consortium, current_user),
        email_enabled=email_enabled(),
    )


@bp.get("/consortia/<int:consortium_id>/reports/monthly.pdf")
@needs("report.view", on="consortium")
def monthly_pdf(consortium):
    month, error = monthly.parse_month(request.args.get("month"))
    if error:  # show the message on the month field
        return redirect(
            url_for(
                "monthly_reports.monthly",
                consortium_id=consortium.id,
                month=request.args.get("month"),
            )
        )
    data = monthly.monthly_pdf(consortium, month, ui_locale())
    return send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        download_name=monthly.pdf_filename(consortium, month),
        as_attachment=True,
    )


@bp.post("/consortia/<int:consortium_id>/reports/monthly/subscription")
@needs("report.view", on="consortium")
def subscription(consortium):
    wanted = request.form.get("subscribe")
    if wanted not in ("0", "1"):
        abort(400)
    # The form says which state it wants (not "toggle"): a double submit has one effect.
    monthly.set_subscription(current_user, consortium, on=wanted == "1")
    db.session.commit()
    if wanted == "1":
        flash(
            _l(
                "You will get the monthly report early each month: in the app, and by e-mail "
                "when e-mail is set up."
            ),
            "success",
        )
    else:
        flash(_l("You will no longer get the monthly report."), "success")
    month, error = monthly.parse_month(request.form.get("month"))
    return redirect(
        url_for(
            "monthly_reports.monthly",
            consortium_id=consortium.id,
            **({"month": monthly.month_text(month)} if month and not error else {}),
        )
    )
