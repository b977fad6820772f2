"""`flask skills import`: categories, skills and job roles with their required levels."""

from __future__ import annotations

import yaml
from sqlalchemy import func, select

from lms.extensions import db
from lms.taxonomy.models import JobRole, RoleSkill, Skill, SkillCategory, level_name
from lms.taxonomy.service import SEED

SMALL = {
    "categories": [{"id": "plc_control", "name_zh": "电气与PLC控制", "name_en": "PLC control"}],
    "skills": [
        {
            "id": "plc_programming",
            "category": "plc_control",
            "name_zh": "PLC编程",
            "name_en": "PLC programming",
            "description_zh": "梯形图",
            "description_en": "Ladder",
        },
        {"id": "hmi_scada", "category": "plc_control", "name_zh": "人机界面", "name_en": "HMI"},
    ],
    "roles": [
        {
            "id": "electrician_l3",
            "name_zh": "电工（三级）",
            "name_en": "Electrician L3",
            "occupation": {"name_zh": "电工", "code": "6-31-01-03", "edition": "2022"},
            "required_skills": [
                {"skill": "plc_programming", "level": 3},
                {"skill": "hmi_scada", "level": 2},
            ],
        },
    ],
}


def _import(app, tmp_path, data) -> object:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return app.test_cli_runner().invoke(args=["skills", "import", str(path)])


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_import_loads_categories_skills_and_roles_with_required_levels(app, tmp_path):
    result = _import(app, tmp_path, SMALL)
    assert result.exit_code == 0, result.output
    assert "1 categories, 2 skills and 1 job roles" in result.output
    with app.app_context():
        role = db.session.get(JobRole, "electrician_l3")
        assert (role.occupation_code, role.occupation_edition) == ("6-31-01-03", "2022")
        assert [(r.skill_id, r.level) for r in role.requirements] == [
            ("plc_programming", 3),
            ("hmi_scada", 2),
        ]


def test_importing_again_updates_in_place_without_duplicates(app, tmp_path):
    _import(app, tmp_path, SMALL)
    changed = yaml.safe_load(yaml.safe_dump(SMALL))
    changed["roles"][0]["required_skills"] = [{"skill": "plc_programming", "level": 4}]
    changed["skills"][0]["name_en"] = "PLC programming (IEC 61131-3)"
    assert _import(app, tmp_path, changed).exit_code == 0
    assert _count(app, Skill) == 2 and _count(app, JobRole) == 1 and _count(app, RoleSkill) == 1
    with app.app_context():
        assert db.session.get(Skill, "plc_programming").name_en.endswith("(IEC 61131-3)")
        assert db.session.get(JobRole, "electrician_l3").requirements[0].level == 4


def test_a_role_with_an_unknown_skill_or_bad_level_is_refused_and_nothing_changes(app, tmp_path):
    bad = yaml.safe_load(yaml.safe_dump(SMALL))
    bad["roles"][0]["required_skills"] = [
        {"skill": "welding", "level": 3},
        {"skill": "hmi_scada", "level": 6},
    ]
    result = _import(app, tmp_path, bad)
    assert result.exit_code != 0
    assert "role electrician_l3: unknown skill" in result.output
    assert "skill hmi_scada has bad level 6" in result.output
    assert _count(app, SkillCategory) == 0 and _count(app, Skill) == 0


def test_a_skill_of_an_unknown_category_is_refused(app, tmp_path):
    bad = yaml.safe_load(yaml.safe_dump(SMALL))
    bad["skills"][1]["category"] = "nowhere"
    result = _import(app, tmp_path, bad)
    assert result.exit_code != 0
    assert "skill hmi_scada: unknown category nowhere" in result.output


def test_the_seed_taxonomy_is_big_enough_and_imports_cleanly(app):
    data = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    assert len(data["skills"]) >= 80 and len(data["categories"]) >= 8
    assert len(data["roles"]) >= 15
    result = app.test_cli_runner().invoke(args=["skills", "import", str(SEED)])
    assert result.exit_code == 0, result.output
    assert _count(app, JobRole) == len(data["roles"])


def test_levels_are_shown_with_their_national_names():
    assert level_name(3, "zh_CN") == "3 · 三级/高级工"
    assert level_name(1, "en") == "1 · Level 5 – junior worker"


def test_the_shared_import_never_takes_over_a_consortiums_own_skill_or_role(
    app, tmp_path, create_consortium, create_role
):
    consortium = create_consortium()
    create_role("electrician_l3", {"own_skill": 2}, consortium=consortium, name_zh="本联合体电工")
    with app.app_context():
        db.session.get(Skill, "own_skill").consortium_id = consortium.id
        db.session.commit()
    data = yaml.safe_load(yaml.safe_dump(SMALL))
    data["skills"].append(
        {"id": "own_skill", "category": "plc_control", "name_zh": "改名", "name_en": "Renamed"}
    )
    result = _import(app, tmp_path, data)
    assert result.exit_code != 0
    assert "skill own_skill: the id belongs to a consortium's own skill" in result.output
    assert "role electrician_l3: the id belongs to a consortium's own role" in result.output
    with app.app_context():
        assert db.session.get(Skill, "own_skill").name_en == "own_skill"
        assert db.session.get(JobRole, "electrician_l3").name_zh == "本联合体电工"


def test_import_errors_name_the_file_and_line(app, tmp_path):
    path = tmp_path / "taxonomy.yaml"
    path.write_text(
        "categories:\n"
        "- {id: plc_control, name_zh: 电气, name_en: PLC}\n"
        "skills:\n"
        "- {id: plc_programming, category: plc_control, name_zh: PLC编程, name_en: PLC}\n"
        "- {id: hmi, category: nowhere, name_zh: 人机界面, name_en: HMI}\n"
        "roles:\n"
        "- id: electrician_l3\n"
        "  name_zh: 电工\n"
        "  name_en: Electrician\n"
        "  required_skills:\n"
        "  - {skill: plc_programming, level: 3}\n"
        "  - {skill: welding, level: 2}\n",
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(args=["skills", "import", str(path)])
    assert result.exit_code != 0
    assert f"{path}:5: skill hmi: unknown category nowhere" in result.output
    assert f"{path}:12: role electrician_l3: unknown skill" in result.output
    assert _count(app, Skill) == 0
    path.write_text("skills: [\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["skills", "import", str(path)])
    assert result.exit_code != 0 and f"{path}:2: not valid YAML" in result.output
