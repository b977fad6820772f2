"""Loading the skills taxonomy."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import select

from lms.extensions import db
from lms.skills.models import JobRole, RoleSkill, Skill, SkillCategory, SkillEvidence

SEED = Path(__file__).parent / "seed" / "taxonomy.yaml"


class TaxonomyError(ValueError):
    pass


def import_taxonomy(data: dict) -> dict:
    """Insert or update categories, skills and shared job roles; returns counts.

    Everything is checked before anything is written: a TaxonomyError names the entry.
    """
    if not isinstance(data, dict) or not isinstance(data.get("skills"), list):
        raise TaxonomyError("the file needs a 'skills' list (and 'categories')")
    problems = _taxonomy_problems(data)
    if problems:
        raise TaxonomyError("; ".join(problems))
    categories = {c.id: c for c in db.session.scalars(select(SkillCategory))}
    for raw in data.get("categories") or []:
        cat = categories.get(raw["id"]) or SkillCategory(id=raw["id"])
        cat.name_zh, cat.name_en = raw["name_zh"], raw["name_en"]
        categories[cat.id] = cat
        db.session.add(cat)
    skills = {s.id: s for s in db.session.scalars(select(Skill))}
    for raw in data["skills"]:
        skill = skills.get(raw["id"]) or Skill(id=raw["id"])
        skill.category_id = raw["category"]
        skill.name_zh, skill.name_en = raw["name_zh"], raw["name_en"]
        skill.description_zh = raw.get("description_zh", "")
        skill.description_en = raw.get("description_en", "")
        skills[skill.id] = skill
        db.session.add(skill)
    db.session.flush()
    roles = {r.id: r for r in db.session.scalars(select(JobRole))}
    for raw in data.get("roles") or []:
        role = roles.get(raw["id"]) or JobRole(id=raw["id"])
        occupation = raw.get("occupation") or {}
        role.name_zh, role.name_en = raw["name_zh"], raw["name_en"]
        role.occupation_name = occupation.get("name_zh")
        role.occupation_code = occupation.get("code")
        role.occupation_edition = str(occupation["edition"]) if occupation.get("edition") else None
        role.requirements = [
            RoleSkill(skill_id=req["skill"], level=req["level"], position=i)
            for i, req in enumerate(raw["required_skills"])
        ]
        db.session.add(role)
    db.session.flush()
    return {
        "categories": len(data.get("categories") or []),
        "skills": len(data["skills"]),
        "roles": len(data.get("roles") or []),
    }


def _taxonomy_problems(data: dict) -> list[str]:
    known_categories = {c["id"] for c in data.get("categories") or [] if isinstance(c, dict)}
    known_categories |= set(db.session.scalars(select(SkillCategory.id)))
    problems = []
    for raw in data.get("categories") or []:
        if not isinstance(raw, dict) or not {"id", "name_zh", "name_en"} <= raw.keys():
            problems.append(f"category {raw!r}: needs id, name_zh and name_en")
    skill_ids = set(db.session.scalars(select(Skill.id)))
    for raw in data["skills"]:
        if not isinstance(raw, dict) or not {"id", "category", "name_zh", "name_en"} <= raw.keys():
            problems.append(f"skill {raw!r}: needs id, category, name_zh and name_en")
            continue
        if raw["category"] not in known_categories:
            problems.append(f"skill {raw['id']}: unknown category {raw['category']}")
        skill_ids.add(raw["id"])
    for raw in data.get("roles") or []:
        if not isinstance(raw, dict) or not {"id", "name_zh", "name_en"} <= raw.keys():
            problems.append(f"role {raw!r}: needs id, name_zh, name_en and required_skills")
            continue
        required = raw.get("required_skills")
        if not isinstance(required, list) or not required:
            problems.append(f"role {raw['id']}: needs a list of required_skills")
            continue
        for req in required:
            if not isinstance(req, dict) or req.get("skill") not in skill_ids:
                problems.append(f"role {raw['id']}: unknown skill {req!r}")
            elif not (isinstance(req.get("level"), int) and 1 <= req["level"] <= 5):
                problems.append(
                    f"role {raw['id']}: skill {req['skill']} has bad level "
                    f"{req.get('level')!r} (levels are 1–5)"
                )
    return problems


def import_seed_taxonomy() -> dict:
    return import_taxonomy(yaml.safe_load(SEED.read_text(encoding="utf-8")))


def known_skill_ids() -> set[str]:
    return set(db.session.scalars(select(Skill.id)))


# --- worker skill profiles -----------------------------------------------------------------------


def record_course_evidence(enrollment) -> int:
    """Evidence for each skill the completed course teaches, at its level (once per enrolment)."""
    from sqlalchemy.exc import IntegrityError

    from lms.courses.models import CourseSkill

    added = 0
    rows = db.session.scalars(
        select(CourseSkill).where(CourseSkill.version_id == enrollment.version_id)
    ).all()
    for row in rows:
        try:
            with db.session.begin_nested():
                db.session.add(
                    SkillEvidence(
                        user_id=enrollment.user_id,
                        skill_id=row.skill_id,
                        level=row.level,
                        source="course",
                        is_verified=True,
                        enrollment_id=enrollment.id,
                    )
                )
            added += 1
        except IntegrityError:
            continue  # already recorded for this enrolment
    return added


def record_self_assessment(user, skill_id: str, level: int, note: str = "") -> SkillEvidence:
    """A worker's own view of a skill: kept as unverified evidence."""
    if not 1 <= level <= 5:
        raise TaxonomyError("levels are 1–5")
    evidence = SkillEvidence(
        user_id=user.id,
        skill_id=skill_id,
        level=level,
        source="self",
        is_verified=False,
        recorded_by_id=user.id,
        note=note.strip(),
    )
    db.session.add(evidence)
    db.session.flush()
    return evidence


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
    """Record skill evidence whenever a course is completed (same transaction)."""
    from lms.learning.service import course_completed

    course_completed.connect(_on_course_completed, weak=False)


def _on_course_completed(enrollment, **_kw) -> None:
    record_course_evidence(enrollment)
