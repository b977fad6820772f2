"""Loading the skills taxonomy."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import select

from lms.extensions import db
from lms.skills.models import Skill, SkillCategory

SEED = Path(__file__).parent / "seed" / "taxonomy.yaml"


class TaxonomyError(ValueError):
    pass


def import_taxonomy(data: dict) -> dict:
    """Insert or update categories and skills from a taxonomy mapping; returns counts."""
    if not isinstance(data, dict) or not isinstance(data.get("skills"), list):
        raise TaxonomyError("the file needs a 'skills' list (and 'categories')")
    categories = {c.id: c for c in db.session.scalars(select(SkillCategory))}
    for raw in data.get("categories") or []:
        cat = categories.get(raw["id"]) or SkillCategory(id=raw["id"])
        cat.name_zh, cat.name_en = raw["name_zh"], raw["name_en"]
        categories[cat.id] = cat
        db.session.add(cat)
    skills = {s.id: s for s in db.session.scalars(select(Skill))}
    for raw in data["skills"]:
        if raw.get("category") not in categories:
            raise TaxonomyError(f"skill {raw.get('id')}: unknown category {raw.get('category')}")
        skill = skills.get(raw["id"]) or Skill(id=raw["id"])
        skill.category_id = raw["category"]
        skill.name_zh, skill.name_en = raw["name_zh"], raw["name_en"]
        skill.description_zh = raw.get("description_zh", "")
        skill.description_en = raw.get("description_en", "")
        db.session.add(skill)
    db.session.flush()
    return {"categories": len(data.get("categories") or []), "skills": len(data["skills"])}


def import_seed_taxonomy() -> dict:
    return import_taxonomy(yaml.safe_load(SEED.read_text(encoding="utf-8")))


def known_skill_ids() -> set[str]:
    return set(db.session.scalars(select(Skill.id)))
