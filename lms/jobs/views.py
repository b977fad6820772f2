"""A job's progress page (works without JavaScript) and its JSON status for polling."""

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms.core.access import signed_in
from lms.core.storage import storage
from lms.jobs.exports import LINK_HOURS, result_file
from lms.jobs.service import get_job_for, is_stalled, restart

bp = Blueprint("jobs", __name__)


def _job(public_id: str):
    job = get_job_for(current_user, public_id)
    if job is None:
        abort(404)
    return job


@bp.get("/jobs/<public_id>")
@signed_in
def job_page(public_id: str):
    job = _job(public_id)
    return render_template("jobs/job.html", job=job, stalled=is_stalled(job))


@bp.post("/jobs/<public_id>/restart")
@signed_in
def restart_job(public_id: str):
    """Start a failed or stalled job again (nothing it already did is done twice)."""
    job = _job(public_id)
    restart(job)
    return redirect(url_for("jobs.job_page", public_id=job.public_id))


@bp.get("/jobs/<public_id>/status")
@signed_in
def job_status(public_id: str):
    job = _job(public_id)
    return {
        "state": job.state,
        "progress": job.progress,
        "total": job.total,
        "percent": job.percent,
        "finished": job.is_finished,
        "stalled": is_stalled(job),
        "url": url_for("jobs.job_page", public_id=job.public_id),
    }


@bp.get("/jobs/<public_id>/download")
@signed_in
def download(public_id: str):
    """The file a job wrote (an export): only for its starter, for LINK_HOURS."""
    job = _job(public_id)
    if job.state != "done" or not job.result.get("file"):
        abort(404)
    found = result_file(job)
    if found is None or not storage().exists(found[0]):
        text = _l(
            "This download link has expired (links are valid for %(hours)d hours). "
            "Export the table again to get a new one.",
            hours=LINK_HOURS,
        )
        return render_template(
            "errors/error.html", code=410, title=_l("Link expired"), text=text
        ), 410
    key, filename, mimetype = found
    return storage().send(key, mimetype=mimetype, download_name=filename, as_attachment=True)
