"""Assigning courses (firm and consortium admins) and following learners (trainers)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms.core.access import signed_in
from lms.core.forms import choices
from lms.core.i18n import ui_locale
from lms.core.params import page_arg
from lms.courses import assessors
from lms.courses import service as courses
from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.models import Course, Lesson
from lms.extensions import db
from lms.learning import service
from lms.learning.forms import AssignForm, ConsortiumAssignForm, SignOffForm
from lms.learning.models import Enrollment
from lms.permissions import has_permission, needs
from lms.tenancy.importer import ImportFileError
from lms.tenancy.scope import current_scope, list_firms

bp = Blueprint("assignments", __name__)


def _course_choices(consortium):
    versions = courses.published_versions(consortium)
    return versions, choices(
        [("", _l("Choose a course"))] + [(str(v.id), v.title) for v in versions]
    )


def _assign(form, version, users, *, source: str, firm=None) -> bool:
    """Assign (as `firm`, or as the consortium) and commit; on a refused due date put the
    error on the form and say False."""
    try:
        counts = service.assign_course(
            current_user,
            version,
            users,
            source=source,
            due_on=form.due_on.data,
            is_mandatory=form.is_mandatory.data,
            firm=firm,
        )
    except service.LearningError as exc:
        db.session.rollback()
        form.due_on.errors.append(exc.message)
        return False
    db.session.commit()
    flash(
        _l(
            "Assigned to %(assigned)d people; %(updated)d of your earlier assignments were "
            "updated; %(unchanged)d left as they were.",
            **counts,
        ),
        "success",
    )
    return True


@bp.route("/firms/<int:firm_id>/assign", methods=["GET", "POST"])
@needs("enrollment.assign", on="firm")
def assign_firm(firm):
    versions, course_choices = _course_choices(firm.consortium)
    workers = service.firm_workers(firm)
    form = AssignForm()
    form.course.choices = course_choices
    locale = ui_locale()
    form.job_role.choices = choices(
        [("", _l("Choose a job role"))]
        + [(r.id, r.name(locale)) for r in service.firm_job_roles(firm)]
    )
    form.people.choices = choices((u.public_id, u.name) for u in workers)
    if form.validate_on_submit():
        version = next(v for v in versions if str(v.id) == form.course.data)
        users, errors = [], []
        if form.target.data == "job_role":
            if not form.job_role.data:
                form.job_role.errors.append(_l("Choose a job role."))
            users = (
                service.firm_workers(firm, job_role_id=form.job_role.data)
                if form.job_role.data
                else []
            )
        elif form.target.data == "people":
            chosen = set(form.people.data or [])
            users = [u for u in workers if u.public_id in chosen]
            if not users:
                form.people.errors.append(_l("Choose at least one person."))
        else:
            upload = form.file.data
            if not upload:
                form.file.errors.append(_l("Choose a file to upload."))
            else:
                try:
                    users, errors = service.workers_from_file(firm, upload.read())
                except ImportFileError as exc:
                    form.file.errors.append(exc.args[0])
                for e in errors:
                    form.file.errors.append(e)
        has_errors = any(f.errors for f in (form.job_role, form.people, form.file))
        if not has_errors and not users:
            form.target.errors.append(_l("Nobody matches: no current worker has this job role."))
        elif not has_errors and _assign(form, version, users, source="firm", firm=firm):
            return redirect(url_for("assignments.firm_enrollments", firm_id=firm.id))
    return render_template("learning/assign.html", form=form, place=firm, workers=workers)


@bp.route("/consortia/<int:consortium_id>/assign", methods=["GET", "POST"])
@needs("enrollment.assign", on="consortium")
def assign_consortium(consortium):
    versions, course_choices = _course_choices(consortium)
    firms = db.session.scalars(list_firms(consortium, include_inactive=False)).all()
    form = ConsortiumAssignForm()
    form.course.choices = course_choices
    form.firms.choices = choices((str(f.id), f.name) for f in firms)
    locale = ui_locale()
    roles = {r.id: r.name(locale) for f in firms for r in service.firm_job_roles(f)}
    form.job_role.choices = choices(
        [("", _l("All workers"))] + sorted(roles.items(), key=lambda r: r[1])
    )
    if form.validate_on_submit():
        chosen = [f for f in firms if str(f.id) in set(form.firms.data or [])]
        if not chosen:
            form.firms.errors.append(_l("Choose at least one firm."))
        else:
            version = next(v for v in versions if str(v.id) == form.course.data)
            users = [
                u
                for f in chosen
                for u in service.firm_workers(f, job_role_id=form.job_role.data or None)
            ]
            if _assign(form, version, users, source="consortium"):
                return redirect(url_for("home.index"))
    return render_template("learning/assign_consortium.html", form=form, place=consortium)


@bp.get("/firms/<int:firm_id>/enrollments")
@needs("enrollment.assign", on="firm")
def firm_enrollments(firm):
    status = request.args.get("status", "")
    overdue = request.args.get("overdue") == "1"
    page = db.paginate(
        service.list_enrollments(firm=firm, status=status, overdue=overdue),
        page=page_arg(),
        per_page=current_app.config["LMS_PAGE_SIZE"],
        error_out=False,
    )
    own = service.own_assignments(firm, page.items)
    return render_template(
        "learning/enrollments.html",
        page=page,
        firm=firm,
        status=status,
        overdue=overdue,
        progress_percent=service.progress_percent,
        own=own,
        late={
            e.id
            for e in page.items
            if e.status != "completed"
            and (a := own.get(e.id)) is not None
            and a.due_on is not None
            and a.due_on < date.today()
        },
    )


def course_for_trainer(slug: str, *, assessors_too: bool = False):
    """The course `slug` for its authoring firm's trainers and the consortium's admins (with
    `assessors_too`, also for the other trainers who may sign it off), else 404."""
    course = current_scope().get(Course, slug=slug)
    if not (
        has_permission(current_user, "course.author", course.firm)
        or has_permission(current_user, "course.approve", course.consortium)
        or (assessors_too and assessors.may_sign_off(current_user, course))
    ):
        abort(404)
    return course


def _learners_page(course, *, learner: str = "", refused: dict | None = None):
    """The learners page (one learner's card with `learner`, an enrolment's public id);
    `refused` keeps a sign-off form that was turned down, with its comment and errors."""
    query = service.list_enrollments(course=course)
    if learner:
        query = query.where(Enrollment.public_id == learner)
    page = db.paginate(
        query,
        page=page_arg(),
        per_page=current_app.config["LMS_PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "learning/learners.html",
        course=course,
        page=page,
        form=SignOffForm(formdata=None),
        progress_percent=service.progress_percent,
        pending_signoffs=service.pending_signoffs,
        version=courses.published_version(course),
        can_sign_off=assessors.may_sign_off(current_user, course),
        learner=learner,
        refused=refused,
    )


@bp.get("/courses/<slug>/learners")
@signed_in  # its assessors (lms.courses.assessors) and the consortium's admins (course.approve)
def course_learners(slug: str):
    """Assessors follow the course's learners and sign off practical tasks; consortium admins
    follow them too (?learner=<enrolment> shows one learner, as the sign-off requests link)."""
    course = course_for_trainer(slug, assessors_too=True)
    return _learners_page(course, learner=request.args.get("learner", "").strip()[:40])


@bp.post("/courses/<slug>/learners/<enrollment_id>/signoff/<int:lesson_id>")
@needs("course.author")
def sign_off(slug: str, enrollment_id: str, lesson_id: int):
    """An assessor signs off a practical task. A refused sign-off (not or no longer an
    assessor, a comment too long) is shown again with the comment kept; anyone who is not a
    trainer of the consortium nor may see its learners gets the 404 of a missing page."""
    course = current_scope().get(Course, slug=slug)
    may_view = has_permission(current_user, "course.author", course.firm) or has_permission(
        current_user, "course.approve", course.consortium
    )
    may_sign = assessors.may_sign_off(current_user, course)
    if not (may_view or may_sign or assessors.trainer_firms(current_user, course.consortium_id)):
        abort(404)
    enrollment = db.session.scalars(
        db.select(Enrollment).where(
            Enrollment.public_id == enrollment_id,
            Enrollment.course_id == course.id,
            Enrollment.withdrawn_at.is_(None),
        )
    ).first()
    if enrollment is None:
        abort(404)
    lesson = current_scope().get(Lesson, id=lesson_id, within=enrollment.version)
    if not LESSON_TYPES[lesson.type].needs_signoff:
        abort(404)
    own = enrollment.user_id == current_user.id  # nobody signs off their own task
    form = SignOffForm()
    valid = form.validate_on_submit()
    if may_sign and valid and not own:
        service.sign_off_practical(current_user, enrollment, lesson, form.comment.data or "")
        db.session.commit()
        flash(
            _l("Signed off “%(task)s” for %(name)s.", task=lesson.title, name=enrollment.user.name),
            "success",
        )
        return redirect(url_for("assignments.course_learners", slug=slug))
    errors = [message for messages in form.errors.values() for message in messages]
    if own and may_sign:
        errors.append(
            _l(
                "You cannot sign off your own practical task: another assessor of this course "
                "signs it off. Your comment is kept here."
            )
        )
    elif not may_sign:
        errors.append(
            _l(
                "The sign-off was not recorded: you are not (or no longer) an assessor of this "
                "course. Your comment is kept here; pass it on to one of its assessors."
            )
        )
    refused = {
        "enrollment": enrollment.id,
        "lesson": lesson.id,
        "comment": request.form.get("comment", "")[:2000],
        "errors": errors,
    }
    if may_view or may_sign:
        return _learners_page(course, learner=enrollment.public_id, refused=refused)
    # A trainer who is no longer an assessor: the comment and who can help, not the learners.
    return render_template(
        "courses/assessors_refused.html",
        course=course,
        version=courses.published_version(course),
        lesson=lesson,
        refused=refused,
        assessors=assessors.assessors_of(course),
    )
