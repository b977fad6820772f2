"""What the audit log calls things: each action code and each target type, in words.

Every code that `record_action` is called with anywhere in lms/ has a label here (a test scans
the sources). A code found in old records but no longer recorded still reads as its code.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# Areas, in the order the action filter lists them.
AREAS: dict[str, object] = {
    "organisation": _l("Consortium and member firms"),
    "people": _l("People and invitations"),
    "accounts": _l("Accounts and sign-in"),
    "courses": _l("Courses"),
    "learning": _l("Learning and assignments"),
    "certificates": _l("Certificates"),
    "skills": _l("Skills and job roles"),
    "hours": _l("Training hours"),
    "reports": _l("Reports"),
    "audit": _l("Audit log"),
}

# Areas whose records belong to no consortium (sign-in, accounts): never in a consortium's log,
# so not offered by its filter.
INSTANCE_AREAS = frozenset({"accounts"})

# action code: (area, label)
ACTIONS: dict[str, tuple[str, object]] = {
    "consortium.create": ("organisation", _l("Created the consortium")),
    "consortium.update": ("organisation", _l("Edited the consortium")),
    "firm.create": ("organisation", _l("Added a member firm")),
    "firm.update": ("organisation", _l("Edited a member firm")),
    "firm.deactivate": ("organisation", _l("Deactivated a member firm")),
    "firm.activate": ("organisation", _l("Reactivated a member firm")),
    "membership.add": ("people", _l("Added a person")),
    "membership.job_role": ("people", _l("Changed a person's job role")),
    "person.deactivate": ("people", _l("Deactivated a person")),
    "membership.end": ("people", _l("Ended a person's membership of a firm")),
    "person.import": ("people", _l("Imported people")),
    "invitation.create": ("people", _l("Sent an invitation")),
    "invitation.accept": ("people", _l("Accepted an invitation")),
    "invitation.revoke": ("people", _l("Withdrew an invitation")),
    "auth.lockout": ("accounts", _l("Account locked after failed sign-ins")),
    "account.password_change": ("accounts", _l("Changed their password")),
    "account.create_platform_admin": ("accounts", _l("Created a platform administrator")),
    "course.import": ("courses", _l("Imported a course")),
    "course.create": ("courses", _l("Created a course")),
    "course.new_version": ("courses", _l("Started a new course version")),
    "course.submit": ("courses", _l("Submitted a course version for review")),
    "course.return": ("courses", _l("Returned a course version to its authors")),
    "course.publish": ("courses", _l("Published a course version")),
    "course.assessor_designate": ("courses", _l("Designated an assessor")),
    "course.assessor_remove": ("courses", _l("Removed an assessor")),
    "enrollment.assign": ("learning", _l("Assigned a course")),
    "enrollment.withdraw": ("learning", _l("Withdrew from a course")),
    "enrollment.complete": ("learning", _l("Completed a course")),
    "enrollment.remind": ("learning", _l("Sent an overdue reminder")),
    "practical.signoff_request": ("learning", _l("Asked for a practical sign-off")),
    "practical.sign_off": ("learning", _l("Signed off a practical task")),
    "certificate.issue": ("certificates", _l("Issued a certificate")),
    "certificate.revoke": ("certificates", _l("Revoked a certificate")),
    "design.create": ("certificates", _l("Created a certificate design")),
    "design.update": ("certificates", _l("Edited a certificate design")),
    "design.delete": ("certificates", _l("Deleted a certificate design")),
    "design.validity": ("certificates", _l("Changed how long certificates stay valid")),
    "skill.create": ("skills", _l("Added a skill")),
    "skill.update": ("skills", _l("Edited a skill")),
    "skill.rate": ("skills", _l("Rated a person's skill level")),
    "role.create": ("skills", _l("Created a job role")),
    "role.copy": ("skills", _l("Copied a job role")),
    "role.update": ("skills", _l("Edited a job role")),
    "role.deactivate": ("skills", _l("Deactivated a job role")),
    "role.activate": ("skills", _l("Reactivated a job role")),
    "hours.credit_session": ("hours", _l("Credited training hours for a session")),
    "report.subscribe": ("reports", _l("Subscribed to the monthly report")),
    "report.unsubscribe": ("reports", _l("Unsubscribed from the monthly report")),
    "report.approve": ("reports", _l("Approved a monthly report")),
    "report.seal": ("reports", _l("Set the consortium's seal image")),
    "audit.export": ("audit", _l("Exported the audit log")),
}

# target type (the model's class name, as record_action stores it): label
TARGET_TYPES: dict[str, object] = {
    "Consortium": _l("Consortium"),
    "Firm": _l("Member firm"),
    "User": _l("Person"),
    "ImportBatch": _l("People import"),
    "Invitation": _l("Invitation"),
    "Course": _l("Course"),
    "Enrollment": _l("Enrolment"),
    "Certificate": _l("Certificate"),
    "CertificateTemplate": _l("Certificate design"),
    "Skill": _l("Skill"),
    "JobRole": _l("Job role"),
    "TrainingHours": _l("Training hours"),
}


def action_label(code: str) -> str:
    """The action in words (the code itself for one that has no label)."""
    entry = ACTIONS.get(code)
    return str(entry[1]) if entry else code


def target_type_label(target_type: str) -> str:
    """The kind of target in words ("" for records without one)."""
    if not target_type or target_type == "-":
        return ""
    label = TARGET_TYPES.get(target_type)
    return str(label) if label is not None else target_type


def area_prefix(area: str) -> str:
    """The filter value that selects every action of an area."""
    return f"area:{area}"


def action_choices() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The action filter's options: (area value, area label, [(code, label)]) in area order,
    actions sorted by their label in the current language."""
    groups = []
    for area, area_label in AREAS.items():
        if area in INSTANCE_AREAS:
            continue
        actions = sorted(
            ((code, str(label)) for code, (a, label) in ACTIONS.items() if a == area),
            key=lambda item: item[1],
        )
        if actions:
            groups.append((area_prefix(area), str(area_label), actions))
    return groups


def codes_for(value: str) -> list[str] | None:
    """The action codes a filter value selects (None: not a value of the list)."""
    if value in ACTIONS:
        return [value]
    if value.startswith("area:") and value[5:] in AREAS:
        return sorted(code for code, (a, _label) in ACTIONS.items() if a == value[5:])
    return None
