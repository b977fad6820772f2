"""A job's progress page (works without JavaScript) and its JSON status for polling."""

from flask import Blueprint, abort, render_template, url_for
from flask_login import current_user, login_required

from lms.jobs.service import get_job_for

bp = Blueprint("jobs", __name__)


def _job(public_id: str):
    job = get_job_for(current_user, public_id)
    if job is None:
        abort(404)
    return job


@bp.get("/jobs/<public_id>")
@login_required
def job_page(public_id: str):
    return render_template("jobs/job.html", job=_job(public_id))


@bp.get("/jobs/<public_id>/status")
@login_required
def job_status(public_id: str):
    job = _job(public_id)
    return {
        "state": job.state,
        "progress": job.progress,
        "total": job.total,
        "percent": job.percent,
        "finished": job.is_finished,
        "url": url_for("jobs.job_page", public_id=job.public_id),
    }
