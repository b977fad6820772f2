"""The catalogue, course pages, enrolment and course media."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import joinedload, selectinload

from lms.core.access import signed_in
from lms.core.params import int_arg, page_arg
from lms.core.storage import storage
from lms.courses import service
from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.models import Course
from lms.extensions import db
from lms.learning import service as learning
from lms.taxonomy.models import level_name
from lms.tenancy.forms import ConfirmForm
from lms.tenancy.models import SECTORS
from lms.tenancy.scope import current_scope, list_firms

# What the course page shows with the course: its firm and versions, loaded at once.
COURSE_PAGE = (joinedload(Course.firm), selectinload(Course.versions))

bp = Blueprint("courses", __name__)


def _home_consortium():
    consortium = current_scope().home_consortium
    if consortium is None:
        abort(404)
    return consortium


@bp.get("/courses/")
@signed_in
def catalogue():
    consortium = _home_consortium()
    args = request.args
    filters = {
        "search": args.get("q", "").strip()[:100],
        "sector": args.get("sector", "") if args.get("sector") in SECTORS else "",
        "skill": args.get("skill", "")[:60],
        "level": args.get("level", type=int)
        if args.get("level", type=int) in range(1, 6)
        else None,
        "language": args.get("language", "") if args.get("language") in ("zh-CN", "en") else "",
        "firm_id": int_arg("firm"),
    }
    page = db.paginate(
        service.catalogue_query(consortium, **filters),
        page=page_arg(),
        per_page=12,
        error_out=False,
    )
    return render_template(
        "courses/catalogue.html",
        page=page,
        filters=filters,
        consortium=consortium,
        skills=service.taught_skills(consortium),
        firms=db.session.scalars(list_firms(consortium, include_inactive=False)).all(),
        level_name=level_name,
    )


def version_fragments(version) -> dict:
    """The outline and skills of a version as HTML, and its lesson count.

    A published version never changes, so its outline is rendered once per language and kept
    in this process (keyed by everything that identifies the version's content: safe with many
    processes, none can hold another's outline). Its skills are rendered on every request: a
    consortium may rename its own skills, and every process must show the new name at once.
    """
    locale = str(get_locale())
    short_locale = "en" if locale.startswith("en") else "zh_CN"
    # render_template autoescapes .html templates: its output is safe HTML.
    skills_html = Markup(  # noqa: S704
        render_template(
            "courses/_skills.html",
            skill_levels=service.skill_levels(version),
            level_name=level_name,
            locale=short_locale,
        )
    )
    key = (version.id, version.status, version.published_at, version.title, locale)
    cache = current_app.extensions.setdefault("lms_course_fragments", {})
    if key in cache:
        return {**cache[key], "skills_html": skills_html}
    outline = service.outline(version)
    value = {
        "outline_html": Markup(  # noqa: S704
            render_template(
                "courses/_outline.html",
                outline=outline,
                lesson_types=LESSON_TYPES,
                language=version.language,
            )
        ),
        "lesson_count": sum(len(lessons) for _module, lessons in outline),
    }
    if version.status == "published":
        if len(cache) > 2000:
            cache.clear()
        cache[key] = value
    return {**value, "skills_html": skills_html}


@bp.get("/courses/<slug>")
@signed_in
def course_page(slug: str):
    course = current_scope().get(Course, slug=slug, options=COURSE_PAGE)
    version = service.published_version(course)
    if version is None:
        abort(404)
    enrollment = learning.active_enrollment(current_user, course)
    prereqs, missing = learning.prerequisite_courses(current_user, version)
    return render_template(
        "courses/course.html",
        course=course,
        version=version,
        enrollment=enrollment,
        **version_fragments(version),
        prereqs=prereqs,
        missing=missing,
        level_name=level_name,
        lesson_types=LESSON_TYPES,
        form=ConfirmForm(),
        published_version=service.published_version,
    )


@bp.post("/courses/<slug>/enroll")
@signed_in
def enroll(slug: str):
    course = current_scope().get(Course, slug=slug, options=COURSE_PAGE)
    version = service.published_version(course)
    if version is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        enrollment, _created = learning.enroll(current_user, version)
    except learning.LearningError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("courses.course_page", slug=slug))
    db.session.commit()
    return redirect(url_for("learning.resume", enrollment_id=enrollment.public_id))


@bp.get("/courses/<slug>/media/<int:version>/<path:path>")
@signed_in
def media(slug: str, version: int, path: str):
    """Course media through an access check: range requests, no sniffing, sandboxed."""
    course = current_scope().get(Course, slug=slug, options=COURSE_PAGE)
    if not path.startswith("media/") or ".." in path.split("/"):
        abort(404)
    key = service.media_key(course, version, path)
    store = storage()
    if not store.exists(key):
        abort(404)
    response = store.send(
        key,
        conditional=True,
        download_name=path.rsplit("/", 1)[-1],
        max_age=current_app.config.get("SEND_FILE_MAX_AGE_DEFAULT") or 3600,
    )
    # Images and videos play inline; documents download (browsers won't show a PDF inside the
    # sandbox CSP, and a download can't run in our origin).
    name = path.rsplit("/", 1)[-1]
    disposition = "attachment" if name.lower().endswith(".pdf") else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
