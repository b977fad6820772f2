"""The course catalogue and course pages: search in Chinese and English (titles and skill
names), filters, pagination, the consortium boundary, and what a course page shows."""

from __future__ import annotations

import re

import pytest

from lms.extensions import db
from lms.tenancy.models import Firm
from tests.conftest import write_package
from tests.courses.helpers import edit_course_yaml, import_dir, seed_skills


@pytest.fixture
def publish(app, tmp_path):
    """publish(firm, slug, title=…, language=…, sector=…, hours=…, skills=…, prerequisites=…)."""

    def make(firm, slug: str, **meta):
        pkg = write_package(tmp_path / "pkgs", slug, lessons=1, quiz=False)
        edit_course_yaml(pkg, **meta)
        return import_dir(app, firm.id, pkg)

    return make


@pytest.fixture
def firm(app, create_firm):
    seed_skills(app)
    return create_firm(name="唐山精工机械有限公司")


@pytest.fixture
def worker(create_user, firm):
    return create_user(role="worker", firm=firm)


def listed(response) -> list[str]:
    """Slugs of the course cards on a catalogue page, in order."""
    assert response.status_code == 200
    return re.findall(r'<h2><a href="/courses/([a-z0-9-]+)"', response.get_data(as_text=True))


def search(client, **params) -> list[str]:
    return listed(client.get("/courses/", query_string=params))


@pytest.fixture
def search_catalogue(firm, worker, publish, login, client):
    publish(firm, "robot-safety", title="工业机器人安全操作")
    publish(firm, "plc-basics", title="PLC programming basics", language="en")
    publish(firm, "data-collection", title="数据采集入门")
    login(worker)
    return client


# --- search ------------------------------------------------------------------------------


def test_searching_chinese_finds_the_course_by_its_title(search_catalogue):
    assert search(search_catalogue, q="机器人") == ["robot-safety"]
    assert search(search_catalogue, q="安全操作") == ["robot-safety"]


@pytest.mark.parametrize("term", ["PLC", "plc", "Plc", "programming BASICS", "plc basics"])
def test_searching_english_is_case_insensitive(search_catalogue, term):
    assert search(search_catalogue, q=term) == ["plc-basics"]


def test_search_with_no_match_lists_nothing(search_catalogue):
    response = search_catalogue.get("/courses/", query_string={"q": "焊接"})
    assert listed(response) == []
    assert "焊接" in response.get_data(as_text=True)  # "no course matches …" names the term


def test_search_terms_with_like_wildcards_are_taken_literally(search_catalogue):
    assert search(search_catalogue, q="%") == []
    assert search(search_catalogue, q="_") == []


def test_searching_a_skill_name_finds_the_courses_teaching_it(firm, worker, publish, login, client):
    publish(firm, "robot-safety", title="工业机器人安全操作")
    publish(
        firm,
        "data-collection",
        title="数据采集入门",
        skills=[{"skill": "plc_programming", "level": 2}],
    )
    login(worker)
    assert search(client, q="PLC编程") == ["data-collection"]
    assert search(client, q="plc programming (iec") == ["data-collection"]
    assert search(client, q="plc_programming") == ["data-collection"]


# --- filters -----------------------------------------------------------------------------


@pytest.fixture
def filter_catalogue(firm, create_firm, worker, publish, login, client):
    with client.application.app_context():
        consortium = db.session.get(Firm, firm.id).consortium
    second_firm = create_firm(consortium, name="曹妃甸自动化科技")
    publish(
        firm,
        "plc-level-2",
        sector="smart-manufacturing",
        skills=[{"skill": "plc_programming", "level": 2}],
    )
    publish(
        firm,
        "plc-level-4",
        sector="industrial-internet",
        language="en",
        skills=[{"skill": "plc_programming", "level": 4}],
    )
    publish(
        second_firm,
        "robots-level-3",
        sector="industrial-internet",
        skills=[{"skill": "robot_safe_operation", "level": 3}],
    )
    publish(second_firm, "no-skills", sector="smart-manufacturing")
    login(worker)
    return client, second_firm


def test_filter_by_sector(filter_catalogue):
    client, _ = filter_catalogue
    assert sorted(search(client, sector="industrial-internet")) == ["plc-level-4", "robots-level-3"]
    assert sorted(search(client, sector="smart-manufacturing")) == ["no-skills", "plc-level-2"]


def test_filter_by_skill(filter_catalogue):
    client, _ = filter_catalogue
    assert sorted(search(client, skill="plc_programming")) == ["plc-level-2", "plc-level-4"]
    assert search(client, skill="robot_safe_operation") == ["robots-level-3"]


def test_filter_by_level_means_at_least_that_level(filter_catalogue):
    client, _ = filter_catalogue
    assert sorted(search(client, level=3)) == ["plc-level-4", "robots-level-3"]
    assert sorted(search(client, level=2)) == ["plc-level-2", "plc-level-4", "robots-level-3"]
    assert search(client, level=5) == []
    assert sorted(search(client, skill="plc_programming", level=3)) == ["plc-level-4"]


def test_filter_by_language(filter_catalogue):
    client, _ = filter_catalogue
    assert search(client, language="en") == ["plc-level-4"]
    assert len(search(client, language="zh-CN")) == 3


def test_filter_by_authoring_firm(filter_catalogue, firm):
    client, second_firm = filter_catalogue
    assert sorted(search(client, firm=second_firm.id)) == ["no-skills", "robots-level-3"]
    assert sorted(search(client, firm=firm.id)) == ["plc-level-2", "plc-level-4"]


def test_filters_combine_with_search(filter_catalogue):
    client, _ = filter_catalogue
    assert search(client, q="plc-level", sector="industrial-internet") == ["plc-level-4"]


def test_invalid_filter_values_are_ignored(filter_catalogue):
    client, _ = filter_catalogue
    assert len(search(client, sector="nonsense", level=9, language="fr")) == 4


# --- pagination, versions, tenancy -------------------------------------------------------


def test_catalogue_pages_by_twelve(firm, worker, publish, login, client):
    slugs = [f"course-{n:02d}" for n in range(13)]
    for slug in slugs:
        publish(firm, slug)
    login(worker)
    first = search(client)
    second = search(client, page=2)
    assert len(first) == 12
    assert second == ["course-00"]  # newest first: the first published is last
    assert sorted(first + second) == slugs
    assert 'href="/courses/?page=2' in client.get("/courses/").get_data(as_text=True)
    assert search(client, page=3) == []


def test_only_the_published_version_of_a_course_is_listed(
    app, firm, worker, publish, login, client, tmp_path
):
    publish(firm, "versioned", title="第一版标题")
    pkg = write_package(tmp_path / "v2", "versioned", version=2, lessons=1, quiz=False)
    edit_course_yaml(pkg, title="第二版标题")
    import_dir(app, firm.id, pkg)
    login(worker)
    assert search(client) == ["versioned"]
    assert search(client, q="第一版") == []
    assert search(client, q="第二版") == ["versioned"]


def test_a_course_of_another_consortium_never_appears_and_its_page_is_404(
    firm, create_firm, worker, publish, login, client
):
    publish(firm, "ours", title="本联合体课程")
    outsider = create_firm(name="外地公司")  # a firm of another consortium
    publish(outsider, "theirs", title="外联合体课程 PLC")
    login(worker)
    assert search(client) == ["ours"]
    assert search(client, q="外联合体") == []
    assert search(client, firm=outsider.id) == []
    assert client.get("/courses/theirs").status_code == 404
    assert client.post("/courses/theirs/enroll").status_code == 404
    assert client.get("/courses/theirs/media/1/media/x.png").status_code == 404
    assert client.get("/courses/no-such-course").status_code == 404


def test_catalogue_needs_a_signed_in_user(client):
    response = client.get("/courses/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# --- the course page ---------------------------------------------------------------------


@pytest.fixture
def course_page_setup(firm, publish):
    publish(firm, "plc-intro", title="PLC 入门")
    publish(
        firm,
        "plc-advanced",
        title="PLC 进阶",
        hours=7.5,
        skills=[
            {"skill": "plc_programming", "level": 3},
            {"skill": "robot_safe_operation", "level": 1},
        ],
        prerequisites=["plc-intro"],
    )


def test_course_page_shows_hours_skills_levels_prerequisites_and_firm_in_chinese(
    course_page_setup, worker, login, client
):
    login(worker)
    page = client.get("/courses/plc-advanced").get_data(as_text=True)
    assert "<h1>PLC 进阶</h1>" in page
    assert "<dd>7.5</dd>" in page
    assert "PLC编程(IEC 61131-3)" in page
    assert "3 · 三级/高级工" in page
    assert "工业机器人安全操作" in page
    assert "1 · 五级/初级工" in page
    assert '<a href="/courses/plc-intro">PLC 入门</a>' in page
    assert "唐山精工机械有限公司" in page


def test_course_page_shows_english_skill_and_level_names_to_english_users(
    course_page_setup, firm, create_user, login, client
):
    login(create_user(role="worker", firm=firm, locale="en"))
    page = client.get("/courses/plc-advanced").get_data(as_text=True)
    assert "PLC programming (IEC 61131-3)" in page
    assert "3 · Level 3 – senior worker" in page
    assert "Study hours" in page


def test_course_page_marks_prerequisites_not_yet_completed(
    course_page_setup, worker, login, client
):
    login(worker)
    page = client.get("/courses/plc-advanced").get_data(as_text=True)
    prerequisites = page[page.index('<a href="/courses/plc-intro">') :]
    prerequisites = prerequisites[: prerequisites.index("</li>")]
    assert "status warn" in prerequisites
    assert 'action="/courses/plc-advanced/enroll"' not in page
