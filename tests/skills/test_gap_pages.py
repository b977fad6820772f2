"""The skill-gap pages of a firm and a consortium: the top gaps, largest first, by skill name
(never the id) in the page's language, a page at a time, filtered by firm or job role."""

from __future__ import annotations

import re

import pytest

from lms.extensions import db
from lms.skills.models import SkillEvidence
from lms.skills.views import GAP_PAGE_SIZE
from lms.taxonomy.models import Skill

SKILLS = 25  # more than a page of gaps


@pytest.fixture
def world(app, create_consortium, create_firm, create_role, create_user):
    consortium = create_consortium(name="唐山联合体")
    firm = create_firm(consortium=consortium, name="甲公司")
    other = create_firm(consortium=consortium, name="乙公司")
    # Skill gN is required at level 1 + N % 4: the larger N % 4, the more levels missing.
    skills = {f"gp_skill_{n:02d}": 1 + n % 4 for n in range(SKILLS)}
    role = create_role("gp_role", skills, consortium=consortium, name_zh="装配工")
    with app.app_context():
        for n, skill_id in enumerate(skills):
            skill = db.session.get(Skill, skill_id)
            skill.name_zh, skill.name_en = f"焊接技能{n:02d}", f"Welding {n:02d}"
        db.session.commit()
    workers = [create_user(role="worker", firm=firm, job_role=role.id) for _ in range(3)]
    create_user(role="worker", firm=other, job_role=role.id)
    with app.app_context():  # one worker of the firm already holds skill 03 (gap 0 for them)
        db.session.add(
            SkillEvidence(
                user_id=workers[0].id,
                skill_id="gp_skill_03",
                level=4,
                source="rating",
                is_verified=True,
            )
        )
        db.session.commit()
    admin = create_user(role="consortium_admin", consortium=consortium)
    return {"consortium": consortium, "firm": firm, "other": other, "admin": admin}


def _rows(page: str) -> list[list[str]]:
    body = page[page.index("<tbody>", page.index("gap-table")) :]
    body = body[: body.index("</tbody>")]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        rows.append([re.sub(r"<[^>]+>", "", c).strip() for c in cells])
    return rows


def test_the_firm_gap_page_lists_the_top_gaps_by_name_a_page_at_a_time(
    client, login, world, create_user
):
    login(create_user(role="firm_admin", firm=world["firm"]))
    url = f"/firms/{world['firm'].id}/skills"
    first = client.get(url).get_data(as_text=True)
    rows = _rows(first)
    assert len(rows) == GAP_PAGE_SIZE
    assert "gp_skill_" not in first  # names, never ids
    assert rows[0][1].startswith("焊接技能") and rows[0][2] == "装配工"
    missing = [int(r[5]) for r in rows]
    assert missing == sorted(missing, reverse=True) and missing[0] == 12  # 3 workers × 4 levels
    assert [r[0] for r in rows[:3]] == ["1", "2", "3"]
    second = client.get(f"{url}?page=2").get_data(as_text=True)
    rest = _rows(second)
    assert len(rest) == SKILLS - GAP_PAGE_SIZE
    assert rest[0][0] == str(GAP_PAGE_SIZE + 1)
    assert {r[1] for r in rows}.isdisjoint({r[1] for r in rest})


def test_the_gap_page_shows_names_in_the_page_language(client, login, world, create_user):
    login(create_user(role="firm_admin", firm=world["firm"]))
    client.post("/locale", data={"locale": "en"})
    page = client.get(f"/firms/{world['firm'].id}/skills").get_data(as_text=True)
    assert _rows(page)[0][1].startswith("Welding ")


def test_the_consortium_gap_page_filters_by_firm(client, login, world):
    login(world["admin"])
    url = f"/consortia/{world['consortium'].id}/skills/gaps"
    everyone = _rows(client.get(url).get_data(as_text=True))
    assert everyone[0][2] == "甲公司"  # 3 workers missing 4 levels each come first
    only_other = _rows(client.get(f"{url}?group={world['other'].id}").get_data(as_text=True))
    assert only_other and {r[2] for r in only_other} == {"乙公司"}
    assert "gp_skill_" not in client.get(url).get_data(as_text=True)


@pytest.mark.parametrize("value", ["999999", "abc", "1 OR 1=1"])
def test_an_unknown_filter_value_is_named_next_to_the_filter(client, login, world, value):
    login(world["admin"])
    response = client.get(f"/consortia/{world['consortium'].id}/skills/gaps?group={value}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="gap-group-error"' in page and 'aria-invalid="true"' in page
    assert len(_rows(page)) == GAP_PAGE_SIZE  # every firm shown
