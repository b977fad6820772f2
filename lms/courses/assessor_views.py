"""Consortium admins name who may sign off a course's practical tasks (its assessors)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms.courses import assessors
from lms.courses import service as courses
from lms.courses.assessor_forms import DesignateForm
from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.models import Course
from lms.extensions import db
from lms.permissions import needs
from lms.tenancy.forms import ConfirmForm
from lms.tenancy.scope import current_scope

bp = Blueprint("assessors", __name__)

URL = "/consortia/<int:consortium_id>/courses/<slug>/assessors"
MAX_SEARCH = 80


@bp.app_template_global("may_sign_off")
def may_sign_off_here(course: Course) -> bool:
    """For templates: whether the viewer may sign off `course`'s practical tasks."""
    return assessors.may_sign_off(current_user, course)


def _course(consortium, slug: str) -> Course:
    return current_scope().get(Course, within=consortium, slug=slug)


def _title(course: Course) -> str:
    version = courses.published_version(course) or courses.latest_version(course)
    return version.title if version else course.slug


def _has_practical(course: Course) -> bool:
    version = courses.published_version(course) or courses.latest_version(course)
    return version is not None and any(LESSON_TYPES[x.type].needs_signoff for x in version.lessons)


@bp.route(URL, methods=["GET", "POST"])
@needs("course.approve", on="consortium")
def course_assessors(consortium, slug: str):
    """The course's assessors; designate another trainer (search narrows the list)."""
    course = _course(consortium, slug)
    search = request.args.get("q", "").strip()[:MAX_SEARCH]
    groups, truncated = assessors.eligible_trainers(course, search=search)
    form = DesignateForm()  # its select (trainers grouped by firm) is drawn from `groups`
    if form.validate_on_submit():
        trainer = assessors.find_person(course, form.trainer.data)
        try:
            _row, created = assessors.designate(current_user, course, trainer)
        except assessors.AssessorError as exc:
            db.session.rollback()
            form.trainer.errors.append(exc.message)
        else:
            db.session.commit()
            if created:
                message = _l(
                    "%(name)s may now sign off the practical tasks of “%(course)s”.",
                    name=trainer.name,
                    course=_title(course),
                )
            else:
                message = _l("%(name)s is already an assessor of this course.", name=trainer.name)
            flash(message, "success" if created else "info")
            return redirect(url_for(".course_assessors", consortium_id=consortium.id, slug=slug))
    return render_template(
        "courses/assessors.html",
        consortium=consortium,
        course=course,
        title=_title(course),
        has_practical=_has_practical(course),
        current=assessors.assessors_of(course),
        designations=assessors.designations(course),
        form=form,
        groups=groups,
        truncated=truncated,
        search=search,
        limit=assessors.CHOICE_LIMIT,
    )


@bp.route(URL + "/<person_id>/remove", methods=["GET", "POST"])
@needs("course.approve", on="consortium")
def remove_assessor(consortium, slug: str, person_id: str):
    """Confirm, then withdraw a designation (a second submit finds it gone and says so)."""
    course = _course(consortium, slug)
    person = assessors.designated_person(course, person_id)
    form = ConfirmForm()
    back = url_for(".course_assessors", consortium_id=consortium.id, slug=slug)
    if request.method == "POST" and form.validate_on_submit():
        if person is not None and assessors.remove(current_user, course, person):
            db.session.commit()
            flash(
                _l(
                    "%(name)s no longer signs off the practical tasks of “%(course)s”.",
                    name=person.name,
                    course=_title(course),
                ),
                "success",
            )
        else:
            flash(_l("This trainer was already removed."), "info")
        return redirect(back)
    if person is None:
        abort(404)
    return render_template(
        "courses/assessors_remove.html",
        consortium=consortium,
        course=course,
        person=person,
        title=_title(course),
        form=form,
        back=back,
    )
