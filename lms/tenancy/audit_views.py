"""The audit log, read by auditors and consortium admins of one consortium."""

from flask import Blueprint, current_app, render_template, request

from lms.audit.service import list_audit_records
from lms.core.params import page_arg
from lms.extensions import db
from lms.permissions import needs

bp = Blueprint("audit", __name__)


@bp.get("/consortia/<int:consortium_id>/audit")
@needs("audit.view", on="consortium")
def audit_log(consortium):
    action = request.args.get("action", "").strip()
    page = db.paginate(
        list_audit_records(consortium.id, action=action),
        page=page_arg(),
        per_page=current_app.config["LMS_PAGE_SIZE"] * 2,
        error_out=False,
    )
    return render_template("audit/log.html", consortium=consortium, page=page, action=action)
