"""Issue 12, hole 3: reads of tenant-owned rows go through the scope — another consortium's
private skill is a 404 on the worker's skill page, like a skill that does not exist."""

from __future__ import annotations

import re

import pytest

from lms.extensions import db
from lms.taxonomy.models import Skill, SkillCategory


@pytest.fixture
def skills(app, create_consortium):
    ours, theirs = create_consortium(code="OURS"), create_consortium(code="THEIRS")
    with app.app_context():
        db.session.add(SkillCategory(id="sr_cat", name_zh="类别", name_en="Category"))
        for skill_id, consortium in (("sr_ours", ours), ("sr_theirs", theirs), ("sr_shared", None)):
            db.session.add(
                Skill(
                    id=skill_id,
                    category_id="sr_cat",
                    consortium_id=consortium.id if consortium else None,
                    name_zh=f"技能{skill_id}",
                    name_en=f"Skill {skill_id}",
                )
            )
        db.session.commit()
    return ours


@pytest.fixture
def worker_client(app, skills, create_firm, create_user, login):
    client = app.test_client()
    login(create_user(role="worker", firm=create_firm(skills)), c=client)
    return client


def test_another_consortiums_private_skill_is_the_same_404_as_a_missing_one(worker_client):
    foreign = worker_client.get("/skills/sr_theirs")
    missing = worker_client.get("/skills/sr_nothing")

    assert foreign.status_code == missing.status_code == 404
    assert "技能sr_theirs" not in foreign.get_data(as_text=True)

    def page(response, skill_id: str) -> str:
        # The CSRF token carries the second it was signed: two requests may straddle one.
        html = response.get_data(as_text=True).replace(skill_id, "X")
        return re.sub(r'name="csrf_token" (type="hidden" )?value="[^"]*"', "csrf", html)

    assert page(foreign, "sr_theirs") == page(missing, "sr_nothing")


def test_own_and_shared_skills_are_shown(worker_client):
    for skill_id in ("sr_ours", "sr_shared"):
        response = worker_client.get(f"/skills/{skill_id}")
        assert response.status_code == 200, skill_id
        assert f"技能{skill_id}" in response.get_data(as_text=True) or f"Skill {skill_id}" in (
            response.get_data(as_text=True)
        )
