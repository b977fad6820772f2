"""The skills taxonomy: loading it from YAML, reading it, and editing a consortium's own skills
and job roles. Workers' evidence and recommendations live in lms.skills, above the domains that
only need to name a skill or a role."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from blinker import Namespace
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, selectinload

from lms.audit.service import record_action
from lms.core.i18n import ui_locale
from lms.extensions import db
from lms.taxonomy.models import JobRole, RoleSkill, Skill, SkillCategory

signals = Namespace()
# Sent (sender: the consortium id, None for shared skills) when skills are added or changed,
# inside the changing transaction: the catalogue's index names them.
skills_changed = signals.signal("skills-changed")

SEED = Path(__file__).parent / "seed" / "taxonomy.yaml"


class TaxonomyError(ValueError):
    pass


def import_taxonomy(data: dict, *, lines: dict | None = None, filename: str = "") -> dict:
    """Insert or update categories, skills and shared job roles; returns counts.

    Everything is checked before anything is written: a TaxonomyError names every problem,
    as `file:line: message` when `lines` (from lms.courses.yamllines.load) is given.
    """
    if not isinstance(data, dict) or not isinstance(data.get("skills"), list):
        raise TaxonomyError(f"{filename}:1: the file needs a 'skills' list (and 'categories')")
    problems = _taxonomy_problems(data)
    if problems:
        raise TaxonomyError("\n".join(_located(p, m, lines, filename) for p, m in problems))
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
    skills_changed.send(None)
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


def _located(path: tuple, message: str, lines: dict | None, filename: str) -> str:
    if lines is None:
        return message
    while path and path not in lines:
        path = path[:-1]
    return f"{filename}:{lines.get(path, 1)}: {message}"


def _taxonomy_problems(data: dict) -> list[tuple[tuple, str]]:
    """(path into the data, message) for every problem; paths give the line in the file."""
    known_categories = {c["id"] for c in data.get("categories") or [] if isinstance(c, dict)}
    known_categories |= set(db.session.scalars(select(SkillCategory.id)))
    problems = []
    for i, raw in enumerate(data.get("categories") or []):
        if not isinstance(raw, dict) or not {"id", "name_zh", "name_en"} <= raw.keys():
            problems.append((("categories", i), f"category {raw!r}: needs id, name_zh and name_en"))
    skill_ids = set(db.session.scalars(select(Skill.id)))
    # The shared taxonomy never takes over a consortium's own skills or roles.
    owned_skills = set(db.session.scalars(select(Skill.id).where(Skill.consortium_id.is_not(None))))
    owned_roles = set(
        db.session.scalars(select(JobRole.id).where(JobRole.consortium_id.is_not(None)))
    )
    for i, raw in enumerate(data["skills"]):
        if isinstance(raw, dict) and raw.get("id") in owned_skills:
            problems.append(
                (("skills", i), f"skill {raw['id']}: the id belongs to a consortium's own skill")
            )
        if not isinstance(raw, dict) or not {"id", "category", "name_zh", "name_en"} <= raw.keys():
            problems.append(
                (("skills", i), f"skill {raw!r}: needs id, category, name_zh and name_en")
            )
            continue
        if raw["category"] not in known_categories:
            problems.append(
                (("skills", i), f"skill {raw['id']}: unknown category {raw['category']}")
            )
        skill_ids.add(raw["id"])
    for i, raw in enumerate(data.get("roles") or []):
        if isinstance(raw, dict) and raw.get("id") in owned_roles:
            problems.append(
                (("roles", i), f"role {raw['id']}: the id belongs to a consortium's own role")
            )
        if not isinstance(raw, dict) or not {"id", "name_zh", "name_en"} <= raw.keys():
            problems.append(
                (("roles", i), f"role {raw!r}: needs id, name_zh, name_en and required_skills")
            )
            continue
        required = raw.get("required_skills")
        if not isinstance(required, list) or not required:
            problems.append((("roles", i), f"role {raw['id']}: needs a list of required_skills"))
            continue
        where = ("roles", i, "required_skills")
        for j, req in enumerate(required):
            if not isinstance(req, dict) or req.get("skill") not in skill_ids:
                problems.append(((*where, j), f"role {raw['id']}: unknown skill {req!r}"))
            elif not (isinstance(req.get("level"), int) and 1 <= req["level"] <= 5):
                problems.append(
                    (
                        (*where, j),
                        f"role {raw['id']}: skill {req['skill']} has bad level "
                        f"{req.get('level')!r} (levels are 1–5)",
                    )
                )
    return problems


def import_seed_taxonomy() -> dict:
    return import_taxonomy(yaml.safe_load(SEED.read_text(encoding="utf-8")))


def known_skill_ids(consortium_id: int | None = None) -> set[str]:
    """Ids of the shared skills and, given a consortium, of the skills it added."""
    query = select(Skill.id)
    if consortium_id is not None:
        query = query.where(visible_skills(consortium_id))
    else:
        query = query.where(Skill.consortium_id.is_(None))
    return set(db.session.scalars(query))


def skill_name(skill_id: str, locale: str) -> str:
    """A skill's name in the page's language (its id if it no longer exists)."""
    skill = db.session.get(Skill, skill_id)
    return skill.name(locale) if skill else skill_id


def roles_for(consortium_id: int, firm_id: int | None = None, *, include_inactive=False):
    """Job roles usable in a consortium (and firm): shared, the consortium's own and the firm's."""
    places = [
        JobRole.consortium_id.is_(None),
        and_(JobRole.consortium_id == consortium_id, JobRole.firm_id.is_(None)),
    ]
    if firm_id is not None:
        places.append(JobRole.firm_id == firm_id)
    query = select(JobRole).where(or_(*places))
    if not include_inactive:
        query = query.where(JobRole.is_active.is_(True))
    return query.order_by(JobRole.name_zh, JobRole.id)


def role_options(consortium_id: int, firm_id: int | None = None) -> list[tuple[str, str]]:
    """(id, name in the page's language) of the roles usable there, for pickers."""
    locale = ui_locale()
    return [(r.id, r.name(locale)) for r in db.session.scalars(roles_for(consortium_id, firm_id))]


def role_usable(role_id: str, consortium_id: int, firm_id: int | None = None) -> bool:
    """Whether an active job role may be given to people of that consortium (and firm)."""
    query = roles_for(consortium_id, firm_id).where(JobRole.id == role_id)
    return db.session.scalars(query).first() is not None


# --- editing the taxonomy in the browser ---------------------------------------------------------
# Consortium admins add and edit their own skills; consortium and firm admins keep their own job
# roles. Shared rows (consortium_id None) come from `flask skills import` and are read-only here.

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,59}$")
OCCUPATION_CODE_PATTERN = re.compile(r"^\d-\d{2}-\d{2}-\d{2}$")
ID_RULE = _l("Use 2–60 lower-case letters, digits or underscores, starting with a letter.")
ID_TAKEN = _l("This id is taken. Choose another one.")
OCCUPATION_CODE_RULE = _l("Use the national format of the code, e.g. 6-31-01-03.")
MAX_NAME = 120
MAX_EDITION = 10


class TaxonomyEditError(TaxonomyError):
    """A browser edit that can't be saved: a translatable message and the form field it belongs
    to; for the required skills also the message of each bad row (row numbers from 1)."""

    def __init__(self, message, field: str | None = None, *, rows: dict | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.rows = rows or {}


def _in_language(locale: str, zh, en):
    return en if locale.startswith("en") else zh


def _like(search: str) -> str:
    """A LIKE pattern matching `search` literally (ids contain underscores)."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def visible_skills(consortium_id: int):
    """SQL condition: the shared skills and the ones `consortium_id` added."""
    return or_(Skill.consortium_id.is_(None), Skill.consortium_id == consortium_id)


def list_skill_categories(*, locale: str = "zh_CN") -> Select:
    """Every skill category, by name in the page's language."""
    name = _in_language(locale, SkillCategory.name_zh, SkillCategory.name_en)
    return select(SkillCategory).order_by(name, SkillCategory.id)


def list_skills(
    consortium, *, search: str = "", category_id: str = "", owner: str = "", locale: str = "zh_CN"
) -> Select:
    """Skills visible to `consortium` (shared and its own), ordered by category and name.

    `owner` narrows to "shared" or "ours"; `search` matches the id or either name.
    """
    query = (
        select(Skill)
        .join(Skill.category)
        .options(contains_eager(Skill.category))
        .where(visible_skills(consortium.id))
    )
    if category_id:
        query = query.where(Skill.category_id == category_id)
    if owner == "shared":
        query = query.where(Skill.consortium_id.is_(None))
    elif owner == "ours":
        query = query.where(Skill.consortium_id == consortium.id)
    if search := search.strip():
        like = _like(search)
        query = query.where(
            or_(
                Skill.id.ilike(like, escape="\\"),
                Skill.name_zh.ilike(like, escape="\\"),
                Skill.name_en.ilike(like, escape="\\"),
            )
        )
    return query.order_by(
        _in_language(locale, SkillCategory.name_zh, SkillCategory.name_en),
        _in_language(locale, Skill.name_zh, Skill.name_en),
        Skill.id,
    )


def list_roles(
    consortium, *, firm=None, search: str = "", owner: str = "", locale: str = "zh_CN"
) -> Select:
    """Job roles an admin of `consortium` (or of its `firm`) sees, active ones first, by name.

    For the consortium: shared roles, its own and those of each of its firms; for a firm: the
    roles usable there (see roles_for), inactive ones included. `owner` narrows to "shared",
    "consortium", "firm" (firm-specific ones) or a firm id given as digits.
    """
    if firm is None:
        query = select(JobRole).where(
            or_(JobRole.consortium_id.is_(None), JobRole.consortium_id == consortium.id)
        )
    else:
        query = roles_for(consortium.id, firm.id, include_inactive=True).order_by(None)
    if owner == "shared":
        query = query.where(JobRole.consortium_id.is_(None))
    elif owner == "consortium":
        query = query.where(JobRole.consortium_id == consortium.id, JobRole.firm_id.is_(None))
    elif owner == "firm":
        query = query.where(JobRole.firm_id.is_not(None))
    elif owner.isdigit():
        query = query.where(JobRole.firm_id == int(owner))
    if search := search.strip():
        like = _like(search)
        query = query.where(
            or_(
                JobRole.id.ilike(like, escape="\\"),
                JobRole.name_zh.ilike(like, escape="\\"),
                JobRole.name_en.ilike(like, escape="\\"),
                JobRole.occupation_code.like(like, escape="\\"),
            )
        )
    return query.options(selectinload(JobRole.requirements)).order_by(
        JobRole.is_active.desc(),
        _in_language(locale, JobRole.name_zh, JobRole.name_en),
        JobRole.id,
    )


def _check_new_id(value: str, model, field: str) -> str:
    value = (value or "").strip()
    if not ID_PATTERN.match(value):
        raise TaxonomyEditError(ID_RULE, field=field)
    # "new" is a path segment of the role and skill pages ("/roles/new"), so no row may use it.
    if value == "new" or db.session.get(model, value) is not None:
        raise TaxonomyEditError(ID_TAKEN, field=field)
    return value


def _check_text(value, field: str, *, max_length: int, required=None) -> str:
    value = (value or "").strip()
    if required is not None and not value:
        raise TaxonomyEditError(required, field=field)
    if len(value) > max_length:
        raise TaxonomyEditError(_l("At most %(n)d characters.", n=max_length), field=field)
    return value


def _check_names(name_zh, name_en) -> dict:
    return {
        "name_zh": _check_text(
            name_zh, "name_zh", max_length=MAX_NAME, required=_l("Enter the Chinese name.")
        ),
        "name_en": _check_text(
            name_en, "name_en", max_length=MAX_NAME, required=_l("Enter the English name.")
        ),
    }


def _insert(row, field: str) -> None:
    """Add a new row; a concurrent insert of the same id (double submit) reads as "id taken"."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError as exc:
        raise TaxonomyEditError(ID_TAKEN, field=field) from exc


def _skill_fields(category_id, name_zh, name_en, description_zh, description_en) -> dict:
    if not category_id or db.session.get(SkillCategory, category_id) is None:
        raise TaxonomyEditError(_l("Choose a category."), field="category_id")
    return {
        "category_id": category_id,
        **_check_names(name_zh, name_en),
        "description_zh": (description_zh or "").strip(),
        "description_en": (description_en or "").strip(),
    }


def create_skill(
    actor,
    consortium,
    *,
    skill_id: str,
    category_id: str,
    name_zh: str,
    name_en: str,
    description_zh: str = "",
    description_en: str = "",
) -> Skill:
    """Add a skill of `consortium`'s own to the taxonomy it sees."""
    skill_id = _check_new_id(skill_id, Skill, "skill_id")
    fields = _skill_fields(category_id, name_zh, name_en, description_zh, description_en)
    skill = Skill(id=skill_id, consortium_id=consortium.id, **fields)
    _insert(skill, "skill_id")
    skills_changed.send(consortium.id)
    record_action(actor, "skill.create", skill, consortium_id=consortium.id)
    return skill


def update_skill(
    actor,
    skill: Skill,
    *,
    category_id: str,
    name_zh: str,
    name_en: str,
    description_zh: str = "",
    description_en: str = "",
) -> None:
    """Change a consortium's own skill (its id never changes)."""
    if skill.consortium_id is None:
        raise TaxonomyEditError(_l("Shared skills can't be changed here."))
    fields = _skill_fields(category_id, name_zh, name_en, description_zh, description_en)
    changed = sorted(k for k, v in fields.items() if getattr(skill, k) != v)
    if not changed:
        return  # a repeated save changes nothing and is not audited twice
    for key, value in fields.items():
        setattr(skill, key, value)
    skills_changed.send(skill.consortium_id)
    record_action(
        actor,
        "skill.update",
        skill,
        consortium_id=skill.consortium_id,
        details={"changed": changed},
    )
    db.session.flush()


def _role_fields(name_zh, name_en, occupation_code, occupation_name, occupation_edition) -> dict:
    fields = _check_names(name_zh, name_en)
    code = (occupation_code or "").strip()
    if code and not OCCUPATION_CODE_PATTERN.match(code):
        raise TaxonomyEditError(OCCUPATION_CODE_RULE, field="occupation_code")
    occupation = _check_text(occupation_name, "occupation_name", max_length=MAX_NAME)
    edition = _check_text(occupation_edition, "occupation_edition", max_length=MAX_EDITION)
    return {
        **fields,
        "occupation_code": code or None,
        "occupation_name": occupation or None,
        "occupation_edition": edition or None,
    }


def check_requirements(consortium_id: int, rows) -> list[tuple[str, int]]:
    """(skill id, level) of the filled rows of a role form, in order; rows whose skill is blank
    are skipped. Every bad row is reported at once, by its number in the form."""
    visible = set(db.session.scalars(select(Skill.id).where(visible_skills(consortium_id))))
    required: list[tuple[str, int]] = []
    first_row: dict[str, int] = {}
    problems: dict[int, object] = {}
    for number, (skill_id, level) in enumerate(rows, start=1):
        skill_id = (skill_id or "").strip() if isinstance(skill_id, str) else skill_id
        if not skill_id:
            continue
        try:
            level = int(level)
        except (TypeError, ValueError):
            level = 0
        if skill_id not in visible:
            problems[number] = _l(
                "Row %(row)d: unknown skill “%(skill)s”. Choose one from the list.",
                row=number,
                skill=skill_id,
            )
        elif skill_id in first_row:
            problems[number] = _l(
                "Row %(row)d: this skill is already required in row %(first)d.",
                row=number,
                first=first_row[skill_id],
            )
        elif not 1 <= level <= 5:
            problems[number] = _l("Row %(row)d: choose a level from 1 to 5.", row=number)
        else:
            first_row[skill_id] = number
            required.append((skill_id, level))
    if problems:
        raise TaxonomyEditError(
            problems[min(problems)], field="requirements", rows=dict(sorted(problems.items()))
        )
    if not required:
        raise TaxonomyEditError(_l("Choose at least one required skill."), field="requirements")
    return required


def _role_details(role: JobRole) -> dict:
    return {
        "firm": role.firm_id,
        "requirements": [[r.skill_id, r.level] for r in role.requirements],
    }


def _new_role(consortium, firm, role_id, fields: dict, requirements) -> JobRole:
    if firm is not None and firm.consortium_id != consortium.id:
        raise ValueError("the firm belongs to another consortium")
    role_id = _check_new_id(role_id, JobRole, "role_id")
    required = check_requirements(consortium.id, requirements)
    role = JobRole(
        id=role_id,
        consortium_id=consortium.id,
        firm_id=firm.id if firm is not None else None,
        is_active=True,
        requirements=[
            RoleSkill(skill_id=skill_id, level=level, position=i)
            for i, (skill_id, level) in enumerate(required)
        ],
        **fields,
    )
    _insert(role, "role_id")
    return role


def create_role(
    actor,
    *,
    consortium,
    firm=None,
    role_id: str,
    name_zh: str,
    name_en: str,
    occupation_code: str = "",
    occupation_name: str = "",
    occupation_edition: str = "",
    requirements,
) -> JobRole:
    """A job role of `consortium`'s own, or with `firm` one of that firm only.

    `requirements` are the (skill id, level) rows of the form, blank rows included.
    """
    fields = _role_fields(name_zh, name_en, occupation_code, occupation_name, occupation_edition)
    role = _new_role(consortium, firm, role_id, fields, requirements)
    record_action(
        actor, "role.create", role, consortium_id=consortium.id, details=_role_details(role)
    )
    return role


def copy_role(actor, source: JobRole, *, consortium, role_id: str, name_zh=None, name_en=None):
    """An editable copy, owned by `consortium`, of a role it can see (usually a shared one)."""
    fields = _role_fields(
        source.name_zh if name_zh is None else name_zh,
        source.name_en if name_en is None else name_en,
        source.occupation_code,
        source.occupation_name,
        source.occupation_edition,
    )
    rows = [(r.skill_id, r.level) for r in source.requirements]
    role = _new_role(consortium, None, role_id, fields, rows)
    record_action(
        actor,
        "role.copy",
        role,
        consortium_id=consortium.id,
        details={"from": source.id, **_role_details(role)},
    )
    return role


def update_role(
    actor,
    role: JobRole,
    *,
    name_zh: str,
    name_en: str,
    occupation_code: str = "",
    occupation_name: str = "",
    occupation_edition: str = "",
    requirements,
) -> None:
    """Change a consortium's or firm's own job role (its id and owner never change)."""
    if role.consortium_id is None:
        raise TaxonomyEditError(
            _l("Shared job roles can't be changed here. Copy the role and change the copy.")
        )
    fields = _role_fields(name_zh, name_en, occupation_code, occupation_name, occupation_edition)
    required = check_requirements(role.consortium_id, requirements)
    changed = sorted(k for k, v in fields.items() if getattr(role, k) != v)
    if [(r.skill_id, r.level) for r in role.requirements] != required:
        changed.append("requirements")
        existing = {r.skill_id: r for r in role.requirements}
        rows = []
        for position, (skill_id, level) in enumerate(required):
            row = existing.pop(skill_id, None) or RoleSkill(skill_id=skill_id)
            row.level, row.position = level, position
            rows.append(row)
        role.requirements = rows  # rows left in `existing` are deleted (delete-orphan)
    if not changed:
        return
    for key, value in fields.items():
        setattr(role, key, value)
    db.session.flush()
    record_action(
        actor,
        "role.update",
        role,
        consortium_id=role.consortium_id,
        details={"changed": changed, **_role_details(role)},
    )


def set_role_active(actor, role: JobRole, *, active: bool) -> None:
    """Deactivate (or reactivate) an own job role: inactive roles can't be chosen for people,
    but those who hold one keep it. Nothing is deleted."""
    if role.consortium_id is None:
        raise TaxonomyEditError(_l("Shared job roles can't be deactivated here."))
    if role.is_active == active:
        return
    role.is_active = active
    record_action(
        actor,
        "role.activate" if active else "role.deactivate",
        role,
        consortium_id=role.consortium_id,
        details={"firm": role.firm_id},
    )
    db.session.flush()
