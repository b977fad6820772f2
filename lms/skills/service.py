"""Workers' skill profiles: evidence from completions, sign-offs, ratings and self-assessment,
and the job roles they hold or aim at."""

from __future__ import annotations

from sqlalchemy import func, select

from lms.extensions import db
from lms.skills.models import SkillEvidence
from lms.taxonomy.service import TaxonomyError, known_skill_ids, role_usable


def record_course_evidence(enrollment, source: str = "course", recorded_by=None) -> int:
    """Evidence for each skill the completed course teaches, at its level (once per enrolment
    and source: "course" on completion, "certificate" when its certificate is issued)."""
    from lms.courses.models import CourseSkill

    rows = db.session.scalars(
        select(CourseSkill).where(CourseSkill.version_id == enrollment.version_id)
    ).all()
    return _record_enrollment_evidence(
        enrollment, source, [(r.skill_id, r.level) for r in rows], recorded_by=recorded_by
    )


def record_signoff_evidence(enrollment, lesson, trainer) -> int:
    """Evidence for the skills a practical task certifies, once a trainer signed it off."""
    known = known_skill_ids(enrollment.consortium_id)
    levels = [
        (s["skill"], int(s["level"]))
        for s in (lesson.data or {}).get("skills") or []
        if s.get("skill") in known and 1 <= int(s.get("level", 0)) <= 5
    ]
    return _record_enrollment_evidence(
        enrollment, "signoff", levels, recorded_by=trainer, note=lesson.title
    )


def _record_enrollment_evidence(enrollment, source, levels, *, recorded_by, note="") -> int:
    from sqlalchemy.exc import IntegrityError

    added = 0
    for skill_id, level in levels:
        try:
            with db.session.begin_nested():
                db.session.add(
                    SkillEvidence(
                        user_id=enrollment.user_id,
                        skill_id=skill_id,
                        level=level,
                        source=source,
                        is_verified=True,
                        raises_level=_raises_level(enrollment.user_id, skill_id, level),
                        enrollment_id=enrollment.id,
                        recorded_by_id=recorded_by.id if recorded_by else None,
                        note=note,
                    )
                )
            added += 1
        except IntegrityError:
            continue  # already recorded for this enrolment
    if added:
        invalidate_recommendations(enrollment.user_id)
    return added


def record_rating(actor, user, firm, skill_id: str, level: int, note: str = "") -> SkillEvidence:
    """A firm admin's assessment of a worker's skill: verified evidence, audited."""
    from lms.audit.service import record_action

    if skill_id not in known_skill_ids(firm.consortium_id):
        raise TaxonomyError("unknown skill")
    evidence = _add_evidence(user, skill_id, level, "rating", recorded_by=actor, note=note)
    record_action(
        actor,
        "skill.rate",
        user,
        consortium_id=firm.consortium_id,
        details={"skill": skill_id, "level": level, "firm": firm.id},
    )
    invalidate_recommendations(user.id)
    return evidence


def set_target_role(user, role_id: str | None, *, consortium_id: int, firm_id: int | None):
    """The worker's career goal: a role usable in their consortium and firm, or none."""
    if role_id and not role_usable(role_id, consortium_id, firm_id):
        raise TaxonomyError("unknown job role")
    user.target_role_id = role_id or None
    invalidate_recommendations(user.id)
    db.session.flush()


def set_job_role(actor, membership, role_id: str | None) -> None:
    """A firm admin sets the job role a person holds at the firm (audited)."""
    from lms.audit.service import record_action

    if role_id and not role_usable(role_id, membership.consortium_id, membership.firm_id):
        raise TaxonomyError("unknown job role")
    membership.job_role_id = role_id or None
    record_action(
        actor,
        "membership.job_role",
        membership.user,
        consortium_id=membership.consortium_id,
        details={"firm": membership.firm_id, "job_role": role_id or None},
    )
    invalidate_recommendations(membership.user_id)
    db.session.flush()


def invalidate_recommendations(user_id: int) -> None:
    """The worker's stored lists no longer match their profile: ranked again after commit."""
    from lms.skills.recommendations import mark_stale

    mark_stale(user_id)


def record_self_assessment(user, skill_id: str, level: int, note: str = "") -> SkillEvidence:
    """A worker's own view of a skill: kept as unverified evidence."""
    return _add_evidence(user, skill_id, level, "self", recorded_by=user, note=note)


def _add_evidence(user, skill_id: str, level: int, source: str, *, recorded_by, note: str):
    if not 1 <= level <= 5:
        raise TaxonomyError("levels are 1–5")
    evidence = SkillEvidence(
        user_id=user.id,
        skill_id=skill_id,
        level=level,
        source=source,
        is_verified=source != "self",
        raises_level=source != "self" and _raises_level(user.id, skill_id, level),
        recorded_by_id=recorded_by.id,
        note=(note or "").strip()[:500],
    )
    db.session.add(evidence)
    db.session.flush()
    return evidence


def _raises_level(user_id: int, skill_id: str, level: int) -> bool:
    """Whether verified evidence at `level` would be above every verified level held before."""
    held = db.session.scalar(
        select(func.max(SkillEvidence.level)).where(
            SkillEvidence.user_id == user_id,
            SkillEvidence.skill_id == skill_id,
            SkillEvidence.is_verified.is_(True),
        )
    )
    return level > (held or 0)


def mark_level_rises(user_ids) -> None:
    """Set `raises_level` on these workers' evidence from its history, oldest first (for
    evidence written directly rather than through the functions above, e.g. demo data)."""
    held: dict[tuple[int, str], int] = {}
    for evidence in db.session.scalars(
        select(SkillEvidence)
        .where(SkillEvidence.user_id.in_(set(user_ids)))
        .order_by(SkillEvidence.recorded_at, SkillEvidence.id)
    ):
        key = (evidence.user_id, evidence.skill_id)
        evidence.raises_level = evidence.is_verified and evidence.level > held.get(key, 0)
        if evidence.is_verified:
            held[key] = max(held.get(key, 0), evidence.level)


def skill_profile(user_id: int) -> dict[str, dict]:
    """Per skill: the verified level (highest verified evidence), the self-assessed level, and
    the evidence history, newest first."""
    profile: dict[str, dict] = {}
    rows = db.session.scalars(
        select(SkillEvidence)
        .where(SkillEvidence.user_id == user_id)
        .order_by(SkillEvidence.recorded_at.desc(), SkillEvidence.id.desc())
    ).all()
    for row in rows:
        entry = profile.setdefault(row.skill_id, {"level": 0, "self": 0, "history": []})
        if row.is_verified:
            entry["level"] = max(entry["level"], row.level)
        else:
            entry["self"] = max(entry["self"], row.level)
        entry["history"].append(row)
    return profile


def held_levels(user_id: int) -> dict[str, int]:
    """Verified levels only: what gaps and recommendations are computed from."""
    return {s: e["level"] for s, e in skill_profile(user_id).items() if e["level"]}


def connect_signals() -> None:
    """Record skill evidence when a course is completed or a practical task signed off; rank a
    worker's recommendations again when they enrol (however: self, assignment, path), and a
    consortium's when its catalogue changes."""
    from lms.courses.service import version_published
    from lms.learning.service import course_completed, enrolled, practical_signed_off

    course_completed.connect(_on_course_completed, weak=False)
    practical_signed_off.connect(_on_practical_signed_off, weak=False)
    enrolled.connect(_on_enrolled, weak=False)
    version_published.connect(_on_version_published, weak=False)


def _on_version_published(version, **_kw) -> None:
    # The catalogue changed: every worker of the consortium is ranked again, in one batch.
    from lms.skills.recommendations import refresh_after_commit

    refresh_after_commit(version.course.consortium_id)


def _on_enrolled(enrollment, **_kw) -> None:
    invalidate_recommendations(enrollment.user_id)


def _on_course_completed(enrollment, **_kw) -> None:
    record_course_evidence(enrollment)
    invalidate_recommendations(enrollment.user_id)


def _on_practical_signed_off(enrollment, *, lesson, trainer, **_kw) -> None:
    record_signoff_evidence(enrollment, lesson, trainer)
