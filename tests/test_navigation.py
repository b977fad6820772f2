"""Navigation: one model per user from their roles and permissions (lms.home.navigation), the
current page marked, every link one the user may follow, and the menus base.html draws from it."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from flask_babel import force_locale

from lms.auth.models import User
from lms.extensions import db
from lms.home.navigation import MAX_TABS, build_navigation
from lms.tenancy.models import Membership

WORKER_KEYS = ["home", "learning", "catalogue", "skills", "certificates", "transcript"]


@pytest.fixture
def consortium(create_consortium):
    return create_consortium(name="唐山联合体")


@pytest.fixture
def firm(create_firm, consortium):
    return create_firm(consortium=consortium, name="甲公司")


@pytest.fixture
def other_firm(create_firm, consortium):
    return create_firm(consortium=consortium, name="乙公司")


@pytest.fixture
def people(create_user, firm, consortium):
    """One user per role (the platform admin holds no membership)."""
    return {
        "worker": create_user(role="worker", firm=firm),
        "trainer": create_user(role="trainer", firm=firm),
        "firm_admin": create_user(role="firm_admin", firm=firm),
        "consortium_admin": create_user(role="consortium_admin", consortium=consortium),
        "auditor": create_user(role="auditor", consortium=consortium),
        "platform_admin": create_user(is_platform_admin=True),
    }


def add_membership(app, user, role, *, consortium, firm=None, **kw):
    with app.app_context():
        db.session.add(
            Membership(
                user_id=user.id,
                consortium_id=consortium.id,
                firm_id=firm.id if firm else None,
                role=role,
                starts_on=kw.pop("starts_on", date(2026, 1, 1)),
                **kw,
            )
        )
        db.session.commit()


def nav_of(app, user, endpoint="home.index", **view_args):
    with app.test_request_context():
        return build_navigation(db.session.get(User, user.id), endpoint, view_args)


def keys(nav) -> list[str]:
    return [item.key for item in nav.items]


def current(nav) -> list[str]:
    return [item.key for item in [*nav.items, nav.account] if item.current]


# --- the model per role ------------------------------------------------------------------------


def test_a_worker_gets_learning_catalogue_skills_certificates_and_transcript(app, people):
    nav = nav_of(app, people["worker"])
    assert keys(nav) == WORKER_KEYS
    assert [g.role for g in nav.groups] == ["worker"]
    assert [t.key for t in nav.tabs] == [
        "learning",
        "catalogue",
        "skills",
        "certificates",
        "account",
    ]
    with app.test_request_context(), force_locale("en"):
        assert [str(t.short) for t in nav.tabs] == [
            "Learning",
            "Courses",
            "Skills",
            "Certificates",
            "Me",
        ]


def test_a_trainer_gets_the_courses_of_their_firm_and_no_learner_pages(app, people, firm):
    nav = nav_of(app, people["trainer"])
    assert keys(nav) == ["home", "my_courses", "catalogue"]
    assert nav.groups[0].place == firm.name
    assert nav.items[1].url == f"/authoring/firms/{firm.id}/courses"
    assert [t.key for t in nav.tabs] == ["home", "my_courses", "catalogue", "account"]


def test_a_firm_admin_gets_people_enrolments_and_reports_of_their_firm(app, people, firm):
    nav = nav_of(app, people["firm_admin"])
    assert keys(nav) == ["home", "firm_people", "firm_enrollments", "firm_reports"]
    assert [i.url for i in nav.items[1:]] == [
        f"/firms/{firm.id}/people",
        f"/firms/{firm.id}/enrollments",
        f"/firms/{firm.id}/reports",
    ]


def test_a_consortium_admin_gets_firms_review_reports_and_audit(app, people, consortium):
    nav = nav_of(app, people["consortium_admin"])
    assert keys(nav) == ["home", "firms", "course_review", "consortium_reports", "audit"]
    assert nav.groups[0].place == consortium.name
    assert [t.key for t in nav.tabs] == [
        "firms",
        "course_review",
        "consortium_reports",
        "audit",
        "account",
    ]


def test_an_auditor_gets_only_the_audit_log(app, people, consortium):
    nav = nav_of(app, people["auditor"])
    assert keys(nav) == ["home", "audit"]
    assert nav.items[1].url == f"/consortia/{consortium.id}/audit"
    assert "/skills" not in {t.url for t in nav.tabs}


def test_a_platform_admin_gets_the_consortia(app, people):
    nav = nav_of(app, people["platform_admin"])
    assert keys(nav) == ["home", "consortia"]
    assert [g.role for g in nav.groups] == ["platform_admin"]


def test_a_user_without_a_role_gets_home_and_account_only(app, create_user):
    nav = nav_of(app, create_user())
    assert keys(nav) == ["home"]
    assert [t.key for t in nav.tabs] == ["home", "account"]


def test_several_roles_see_the_union_grouped_by_role_and_place_each_link_once(
    app, create_user, consortium, firm, other_firm
):
    user = create_user(role="worker", firm=firm)
    add_membership(app, user, "firm_admin", consortium=consortium, firm=firm)
    add_membership(app, user, "trainer", consortium=consortium, firm=firm)
    add_membership(app, user, "trainer", consortium=consortium, firm=other_firm)
    add_membership(app, user, "worker", consortium=consortium, firm=other_firm)
    add_membership(app, user, "consortium_admin", consortium=consortium)
    add_membership(app, user, "auditor", consortium=consortium)

    nav = nav_of(app, user)
    urls = [item.url for item in nav.items]
    assert len(urls) == len(set(urls)), urls
    assert [(g.role, g.place) for g in nav.groups] == [
        ("worker", None),
        ("trainer", firm.name),
        ("trainer", other_firm.name),
        ("firm_admin", firm.name),
        ("consortium_admin", consortium.name),
    ]  # the auditor's audit log is already the consortium admin's: its group is empty
    assert keys(nav).count("my_courses") == 2
    assert keys(nav).count("catalogue") == 1  # the learner's, not again for the trainer
    assert keys(nav).count("audit") == 1
    assert [t.key for t in nav.tabs][-1] == "account" and len(nav.tabs) <= MAX_TABS


def test_ended_memberships_and_deactivated_firms_bring_nothing(
    app, create_user, consortium, firm, other_firm
):
    user = create_user()
    add_membership(
        app,
        user,
        "firm_admin",
        consortium=consortium,
        firm=firm,
        ends_on=date.today() - timedelta(days=1),
    )
    add_membership(app, user, "trainer", consortium=consortium, firm=other_firm)
    with app.app_context():
        from lms.tenancy.models import Firm

        db.session.get(Firm, other_firm.id).is_active = False
        db.session.commit()
    assert keys(nav_of(app, user)) == ["home"]


def test_every_tab_bar_has_at_most_five_items_ending_with_me(app, people):
    for user in people.values():
        tabs = nav_of(app, user).tabs
        assert 2 <= len(tabs) <= MAX_TABS
        assert tabs[-1].key == "account"


# --- the current page --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "endpoint", "view_args", "expected"),
    [
        ("worker", "home.index", {}, "home"),
        ("worker", "learning.my_learning", {}, "learning"),
        ("worker", "learning.lesson", {"enrollment_id": "x", "lesson_id": 3}, "learning"),
        ("worker", "learning.attempt", {"enrollment_id": "x", "attempt_id": "y"}, "learning"),
        ("worker", "courses.course_page", {"slug": "plc"}, "catalogue"),
        ("worker", "skills.my_path", {}, "skills"),
        ("worker", "skills.my_skill", {"skill_id": "plc"}, "skills"),
        ("worker", "certificates.my_certificates", {}, "certificates"),
        ("worker", "transcripts.my_transcript", {}, "transcript"),
        ("worker", "auth.change_password", {}, "account"),
        ("trainer", "authoring.edit_lesson", {"firm_id": "FIRM", "slug": "a"}, "my_courses"),
        ("trainer", "assignments.course_learners", {"slug": "a"}, "my_courses"),
        ("firm_admin", "skills.person_skills", {"firm_id": "FIRM"}, "firm_people"),
        ("firm_admin", "assignments.assign_firm", {"firm_id": "FIRM"}, "firm_enrollments"),
        ("firm_admin", "skills.firm_gaps", {"firm_id": "FIRM"}, "firm_reports"),
        ("consortium_admin", "authoring.review_version", {"consortium_id": "C"}, "course_review"),
        (
            "consortium_admin",
            "monthly_reports.monthly",
            {"consortium_id": "C"},
            "consortium_reports",
        ),
        ("consortium_admin", "reports.firm_dashboard", {"firm_id": 1}, "consortium_reports"),
        ("consortium_admin", "tenancy.edit_firm", {"firm_id": 1}, "firms"),
        ("auditor", "audit.audit_log", {"consortium_id": "C"}, "audit"),
        ("platform_admin", "tenancy.edit_consortium", {"consortium_id": 1}, "consortia"),
    ],
)
def test_the_section_of_the_page_is_marked_nested_pages_included(
    app, people, firm, consortium, role, endpoint, view_args, expected
):
    places = {"FIRM": firm.id, "C": consortium.id}
    view_args = {k: places.get(v, v) for k, v in view_args.items()}
    nav = nav_of(app, people[role], endpoint, **view_args)
    assert current(nav) == [expected]


def test_pages_outside_every_section_mark_nothing(app, people):
    assert current(nav_of(app, people["worker"], "notifications.index")) == []
    assert nav_of(app, people["worker"], "notifications.index").notifications_current
    assert current(nav_of(app, people["auditor"], "skills.my_skills")) == []
    assert current(nav_of(app, people["worker"], None)) == []  # a page that does not exist


def test_the_same_page_of_another_place_is_not_marked(app, people, other_firm):
    nav = nav_of(app, people["firm_admin"], "tenancy.firm_people", firm_id=other_firm.id)
    assert current(nav) == []


def test_the_place_of_the_page_picks_between_two_firms(
    app, create_user, consortium, firm, other_firm
):
    user = create_user(role="trainer", firm=firm)
    add_membership(app, user, "trainer", consortium=consortium, firm=other_firm)
    nav = nav_of(app, user, "authoring.version", firm_id=other_firm.id, slug="a", number=1)
    marked = [item.url for item in nav.items if item.current]
    assert marked == [f"/authoring/firms/{other_firm.id}/courses"]


def test_the_menu_signals_a_current_page_the_tab_bar_does_not_hold(app, people):
    assert nav_of(app, people["worker"], "transcripts.my_transcript").current_in_menu_only
    assert not nav_of(app, people["worker"], "learning.my_learning").current_in_menu_only
    assert not nav_of(app, people["worker"], "home.index").current_in_menu_only


# --- no dead ends ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", ["worker", "trainer", "firm_admin", "consortium_admin", "auditor", "platform_admin"]
)
def test_every_link_of_the_navigation_answers_200_for_its_user(app, client, login, people, role):
    user = people[role]
    nav = nav_of(app, user)
    login(user)
    for item in [*nav.items, nav.account]:
        response = client.get(item.url)
        assert response.status_code == 200, (role, item.key, item.url, response.status_code)


# --- the pages ---------------------------------------------------------------------------------


def _bottom_nav(page: str) -> str:
    match = re.search(r'<nav class="bottomnav"[^>]*>(.*?)</nav>', page, re.S)
    assert match, "no bottom tab bar"
    return match.group(1)


def _main_menu(page: str) -> str:
    match = re.search(r'<nav class="mainmenu"[^>]*>(.*?)</nav>', page, re.S)
    assert match, "no main menu"
    return match.group(1)


def test_a_worker_page_has_the_side_menu_the_tab_bar_and_marks_the_section(
    app, client, login, people
):
    login(people["worker"])
    page = client.get("/skills/path").get_data(as_text=True)
    tabs = _bottom_nav(page)
    assert len(re.findall(r"<a ", tabs)) == 5
    assert re.search(r'<a href="/skills" aria-current="page">', tabs)
    assert tabs.count('aria-current="page"') == 1
    menu = _main_menu(page)
    for url in ("/learning", "/courses/", "/skills", "/certificates", "/transcript"):
        assert f'href="{url}"' in menu
    assert re.search(r'<a href="/skills" aria-current="page">', menu)
    assert '<details class="menu on-phone">' in page  # the phone's menu works without JS


def test_an_auditor_sees_no_learner_tab(app, client, login, people, consortium):
    login(people["auditor"])
    page = client.get(f"/consortia/{consortium.id}/audit").get_data(as_text=True)
    tabs = _bottom_nav(page)
    assert 'href="/skills"' not in tabs and 'href="/learning"' not in tabs
    assert re.search(rf'<a href="/consortia/{consortium.id}/audit" aria-current="page">', tabs)


def test_the_account_tab_is_marked_on_the_account_pages(app, client, login, people):
    login(people["worker"])
    page = client.get("/account/password").get_data(as_text=True)
    assert re.search(r'<a href="/account" aria-current="page">', _bottom_nav(page))


def test_the_notifications_link_is_marked_on_the_notifications_page(app, client, login, people):
    login(people["worker"])
    page = client.get("/notifications").get_data(as_text=True)
    assert re.search(r'href="/notifications" aria-current="page"', page)


def test_the_admin_side_navigation_marks_its_page(app, client, login, people, firm):
    login(people["firm_admin"])
    page = client.get(f"/firms/{firm.id}/people").get_data(as_text=True)
    sidenav = re.search(r'<nav class="sidenav"[^>]*>(.*?)</nav>', page, re.S).group(1)
    assert re.search(rf'<a href="/firms/{firm.id}/people" aria-current="page">', sidenav)
    assert sidenav.count('aria-current="page"') == 1
    # a firm admin holds nothing on the consortium: its heading is not shown without links
    assert "唐山联合体" not in sidenav


def test_guests_get_no_navigation(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'class="bottomnav"' not in page and 'class="mainmenu"' not in page
    assert 'name="locale"' in page  # the language switch stays in the header
