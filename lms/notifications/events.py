"""Notifications for news from the domains below, received by signal (connect_signals):

- `assignment_given`: learning's `enrollment_assigned` (a firm or consortium admin assigns a
  course) and `due_date_changing` (an enrolled worker gets a new due date);
- `course_reviewed`: authoring's `version_reviewed` (approve_version / return_version).
- `assessors_asked`: learning's `signoff_requested` (a learner asks for a practical task
  to be signed off).

Signals are delivered inside the sender's transaction, so the message exists exactly when the
change it announces is committed; each key names its event, so a replay adds nothing.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from lms.audit.models import AuditRecord
from lms.core.types import utcnow
from lms.courses.models import CourseVersion
from lms.extensions import db
from lms.learning.models import Enrollment
from lms.notifications.service import Pending, notify, notify_many, path_for

ASSIGNING_SOURCES = ("firm", "consortium")


def enrollment_url(enrollment: Enrollment) -> str:
    return path_for("learning.resume", enrollment_id=enrollment.public_id)


def _title(enrollment: Enrollment) -> str:
    # By id: the relationship may still hold the version it had before a reassignment.
    return db.session.get(CourseVersion, enrollment.version_id).title


def assignment_given(enrollment: Enrollment, actor, *, again: bool = False) -> None:
    """Tell the worker an admin assigned them a course (with its due date when it has one).

    `again`: a withdrawn enrolment is assigned again — a new event on the same row, told apart
    by the time in the key.
    """
    if actor is None or enrollment.source not in ASSIGNING_SOURCES:
        return
    if actor.id == enrollment.user_id:
        return  # an admin assigning themselves needs no message
    due = enrollment.due_on.isoformat() if enrollment.due_on else None
    key = f"assignment.given:{enrollment.id}:{due or '-'}"
    if again:
        key += f":{utcnow():%Y%m%d%H%M%S%f}"
    notify(
        enrollment.user_id,
        "assignment.given",
        key,
        enrollment_url(enrollment),
        course=_title(enrollment),
        due_on=due,
    )


def due_date_changed(enrollment: Enrollment, actor, due_on: date | None) -> None:
    """An admin assigns a course the worker is already taking, with due date `due_on`: tell
    the worker when it differs from the one they have (call before it is set)."""
    if actor is None or due_on is None or due_on == enrollment.due_on:
        return
    if actor.id == enrollment.user_id:
        return
    due = due_on.isoformat()
    notify(
        enrollment.user_id,
        "assignment.given",
        f"assignment.given:{enrollment.id}:{due}",
        enrollment_url(enrollment),
        course=_title(enrollment),
        due_on=due,
    )


def submitter_id(version) -> int | None:
    """Who sent `version` for review last (the audit record of course.submit); its creator
    when none is recorded."""
    records = db.session.scalars(
        select(AuditRecord)
        .where(
            AuditRecord.action == "course.submit",
            AuditRecord.target_type == "Course",
            AuditRecord.target_id == str(version.course_id),
            AuditRecord.consortium_id == version.course.consortium_id,
        )
        .order_by(AuditRecord.id.desc())
    )
    for record in records:
        if (record.details or {}).get("version") == version.version and record.actor_id:
            return record.actor_id
    return version.created_by_id


def course_reviewed(version, actor, *, approved: bool) -> None:
    """Tell the trainer who submitted `version` that it was approved or sent back (with the
    reviewer's comment). One message per review round (the submission time is in the key)."""
    user_id = submitter_id(version)
    if user_id is None or (actor is not None and actor.id == user_id):
        return
    course = version.course
    submitted = f"{version.submitted_at:%Y%m%d%H%M%S%f}" if version.submitted_at else "-"
    kind = "course.approved" if approved else "course.returned"
    params = {"course": version.title, "version": version.version}
    if not approved:
        params["comment"] = version.review_comment or ""
    notify(
        user_id,
        kind,
        f"{kind}:{version.id}:{submitted}:{user_id}",
        path_for(
            "authoring.version", firm_id=course.firm_id, slug=course.slug, number=version.version
        ),
        **params,
    )


def assessors_asked(enrollment: Enrollment, *, lesson, learner, assessor_ids, day) -> None:
    """Tell the assessors of a course that a learner asks them to sign off a practical task,
    with a link to that learner on the course's learners page. Once per assessor, learner,
    task and day (the day is in the key)."""
    url = path_for(
        "assignments.course_learners",
        slug=enrollment.course.slug,
        learner=enrollment.public_id,
    )
    params = {"name": learner.name, "course": _title(enrollment), "task": lesson.title}
    notify_many(
        [
            Pending(
                user_id,
                "practical.signoff_requested",
                f"practical.signoff_requested:{enrollment.id}:{lesson.id}:{day}:{user_id}",
                url,
                params,
            )
            for user_id in assessor_ids
            if user_id != learner.id
        ]
    )


def connect_signals() -> None:
    from lms.courses.authoring import version_reviewed
    from lms.learning.service import due_date_changing, enrollment_assigned, signoff_requested

    enrollment_assigned.connect(_on_enrollment_assigned, weak=False)
    due_date_changing.connect(_on_due_date_changing, weak=False)
    version_reviewed.connect(_on_version_reviewed, weak=False)
    signoff_requested.connect(_on_signoff_requested, weak=False)


def _on_enrollment_assigned(enrollment, *, actor, again=False, **_kw) -> None:
    assignment_given(enrollment, actor, again=again)


def _on_due_date_changing(enrollment, *, actor, due_on, **_kw) -> None:
    due_date_changed(enrollment, actor, due_on)


def _on_version_reviewed(version, *, actor, approved, **_kw) -> None:
    course_reviewed(version, actor, approved=approved)


def _on_signoff_requested(enrollment, **kw) -> None:
    assessors_asked(enrollment, **kw)
