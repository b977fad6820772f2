"""The monthly pilot report of a consortium: its page (month picker, the month's figures,
download, e-mail subscription) and its PDF, for consortium admins (report.view on the
consortium); and its approval (report.approve: review a closed month, approve it, the seal
image), see lms/reports/approval.py."""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms.certificates.designs import MAX_PIXELS, DesignError
from lms.config import FORM_OVERHEAD
from lms.core.i18n import ui_locale
from lms.core.storage import storage
from lms.core.web import upload_limit
from lms.extensions import db
from lms.jobs.service import start_job
from lms.notifications.service import email_enabled
from lms.permissions import has_permission, needs
from lms.reports import approval, monthly

bp = Blueprint("monthly_reports", __name__)


def _page_url(consortium, month: int | None = None) -> str:
    return url_for(
        "monthly_reports.monthly",
        consortium_id=consortium.id,
        **({"month": monthly.month_text(month)} if month else {}),
    )


@bp.get("/consortia/<int:consortium_id>/reports/monthly", endpoint="monthly")
@needs("report.view", on="consortium")
def monthly_page(consortium):
    month, error = monthly.parse_month(request.args.get("month"))
    report = ctx = None
    if month:  # the page and the PDF: the approved snapshot, else live figures (a draft)
        report = approval.get_report(consortium, month)
        ctx, _approved = approval.context_for(consortium, month, ui_locale(), with_charts=False)
    seal_key, seal_source = approval.seal_source(consortium)
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
        report=report,
        report_ctx=ctx,
        closed=bool(month) and approval.is_closed(month),
        pdf_ready=bool(report and report.is_approved and approval.stored_pdf_key(report, "zh_CN")),
        can_approve=has_permission(current_user, "report.approve", consortium),
        seal_source=seal_source if seal_key else None,
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
    name = monthly.pdf_filename(consortium, month)
    report = approval.approved_report(consortium, month)
    if report is not None:  # rendered and signed once, after the approval (a job)
        key = approval.stored_pdf_key(report, ui_locale())
        if key is None:
            flash(
                _l(
                    "The signed PDF of %(month)s is being prepared. Try again in a minute.",
                    month=monthly.month_label(month),
                ),
                "info",
            )
            return redirect(_page_url(consortium, month))
        return storage().send(
            key,
            mimetype="application/pdf",
            download_name=name,
            as_attachment=True,
        )
    data = approval.render_pdf(consortium, month, ui_locale())  # a draft: live, unsigned
    return send_file(
        io.BytesIO(data), mimetype="application/pdf", download_name=name, as_attachment=True
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


# --- approval ------------------------------------------------------------------------------------


def _form_month(consortium):
    """The month of an approval form, or a redirect to the page naming the month field."""
    month, error = monthly.parse_month(request.form.get("month") or request.args.get("month"))
    if error or not month:
        return None, redirect(
            url_for(
                "monthly_reports.monthly",
                consortium_id=consortium.id,
                month=request.form.get("month") or request.args.get("month") or "",
            )
        )
    return month, None


@bp.post("/consortia/<int:consortium_id>/reports/monthly/review")
@needs("report.approve", on="consortium")
def review(consortium):
    """Compute the month's report as the draft to approve, then show it for confirmation."""
    month, back = _form_month(consortium)
    if back is not None:
        return back
    try:
        approval.review(current_user, consortium, month)
    except approval.ApprovalError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(_page_url(consortium, month))
    db.session.commit()
    return redirect(
        url_for(
            "monthly_reports.approve",
            consortium_id=consortium.id,
            month=monthly.month_text(month),
        )
    )


@bp.route("/consortia/<int:consortium_id>/reports/monthly/approve", methods=["GET", "POST"])
@needs("report.approve", on="consortium")
def approve(consortium):
    """The confirmation step (GET: the reviewed figures; POST: approve exactly those)."""
    month, back = _form_month(consortium)
    if back is not None:
        return back
    report = approval.get_report(consortium, month)
    if request.method == "GET" and (report is None or report.is_approved):
        if report is None:
            flash(_l("Review the figures of the month before approving them."), "info")
        return redirect(_page_url(consortium, month))
    note_error = None
    if request.method == "POST":
        try:
            approval.approve(
                current_user,
                consortium,
                month,
                token=request.form.get("token", ""),
                note=request.form.get("note"),
            )
        except approval.ApprovalError as exc:
            db.session.rollback()
            if exc.field != "note":
                flash(exc.message, "error")
                return redirect(_page_url(consortium, month))
            note_error = exc.message
        else:
            db.session.commit()
            # Render and sign the PDFs once, after the commit (a job; inline without a worker).
            start_job(
                approval.JOB_KIND,
                actor=current_user,
                consortium=consortium,
                params={"report_id": report.id},
            )
            flash(
                _l(
                    "The report of %(month)s is approved. It is final: its page and PDF keep "
                    "these figures.",
                    month=monthly.month_label(month),
                ),
                "success",
            )
            return redirect(_page_url(consortium, month))
        report = approval.get_report(consortium, month)
    ctx = approval.snapshot_context(report, ui_locale())
    seal_key, seal_source = approval.seal_source(consortium)
    return render_template(
        "reports/monthly_approve.html",
        consortium=consortium,
        month=month,
        month_value=monthly.month_text(month),
        month_label=monthly.month_label(month),
        report=report,
        report_ctx=ctx,
        note=request.form.get("note", ""),
        note_error=note_error,
        max_note=approval.MAX_NOTE,
        seal_source=seal_source if seal_key else None,
    ), 400 if note_error else 200


# --- the seal ------------------------------------------------------------------------------------


def _seal_limit() -> int:
    return approval.SEAL_MAX_BYTES + FORM_OVERHEAD


def _seal_says():
    return _l("The seal image can be a PNG or JPEG file of up to 1 MB.")


def _seal_back() -> str:
    return url_for("monthly_reports.seal", consortium_id=request.view_args["consortium_id"])


@bp.route("/consortia/<int:consortium_id>/reports/seal", methods=["GET", "POST"])
@needs("report.approve", on="consortium")
@upload_limit(_seal_limit, says=_seal_says, back=_seal_back)
def seal(consortium):
    """Upload or replace the seal printed on approved monthly reports."""
    error = None
    if request.method == "POST":
        upload = request.files.get("seal")
        data = b""
        if upload is not None:
            with upload.stream:  # a big upload is spooled to a temporary file
                data = upload.stream.read(approval.SEAL_MAX_BYTES + 1)
        try:
            approval.save_seal(current_user, consortium, data)
        except DesignError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_l("The seal image is saved. Reports approved from now on carry it."), "success")
            return redirect(url_for("monthly_reports.seal", consortium_id=consortium.id))
    seal_key, seal_source = approval.seal_source(consortium)
    return render_template(
        "reports/monthly_seal.html",
        consortium=consortium,
        error=error,
        seal_source=seal_source if seal_key else None,
        max_pixels=MAX_PIXELS,
    ), 400 if error else 200


@bp.get("/consortia/<int:consortium_id>/reports/seal.img")
@needs("report.view", on="consortium")
def seal_image(consortium):
    """The seal image approved reports get (for the previews); with `month`, the one that
    month's approved report was approved with."""
    found = approval.seal_image(consortium)
    month, error = monthly.parse_month(request.args.get("month"))
    if request.args.get("month") and not error:
        report = approval.approved_report(consortium, month)
        found = approval.stored_image(report.seal_path if report else None)
    if found is None:
        abort(404)
    data, mimetype = found
    response = send_file(io.BytesIO(data), mimetype=mimetype)
    response.headers["Cache-Control"] = "private, no-cache"
    return response
