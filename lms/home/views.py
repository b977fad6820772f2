"""The home page: what each of the user's roles needs first (a worker's next courses from their
skill gaps; a platform admin's consortia). It sits above every domain it shows."""

from flask import Blueprint, render_template
from flask_login import current_user

from lms.core.access import signed_in
from lms.core.i18n import ui_locale
from lms.extensions import db
from lms.skills import recommendations
from lms.skills.gaps import worker_roles
from lms.tenancy.scope import current_scope, list_consortia

bp = Blueprint("home", __name__)


@bp.get("/")
@signed_in
def index():
    scope = current_scope()
    consortia = []
    if scope.is_platform_admin:
        consortia = db.session.scalars(list_consortia()).all()
    recs, roles = None, None
    if any(m.role == "worker" for m in scope.memberships):
        roles = worker_roles(current_user)
        if roles.consortium_id:
            recs = recommendations.for_worker(
                current_user, roles.consortium_id, ui_locale(), limit=3
            )
    return render_template(
        "home/index.html",
        memberships=scope.memberships,
        consortia=consortia,
        recs=recs,
        worker_roles=roles,
    )
