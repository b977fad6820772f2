"""The admin side menu (templates/_macros.html admin_nav): the same consortium links on every
page of a consortium's admin area for the same user, and exactly one link marked as the
current page's section (nested pages mark theirs)."""

from __future__ import annotations

import pytest
from flask import url_for
from lxml import html
from werkzeug.exceptions import HTTPException

from lms.permissions import ALL_PERMISSIONS

ADMIN_PERMISSIONS = ALL_PERMISSIONS - {"course.learn", "course.author"}
# Pages below a section (the section's endpoint); every other page is its own section.
SECTION_OF = {
    "reports.consortium_people": "reports.consortium_dashboard",
    "tenancy.new_firm": "tenancy.firms",
    "tenancy.edit_firm": "tenancy.firms",
    "tenancy.deactivate_firm": "tenancy.firms",
    "tenancy.invite_firm_admin": "tenancy.firms",
    "authoring.review_version": "authoring.review_queue",
    "assessors.course_assessors": "authoring.review_queue",
    "assessors.remove_assessor": "authoring.review_queue",
    "assignments.course_learners": "authoring.review_queue",
    "course_reports.course_analytics": "authoring.review_queue",
    "certificates.revoke": "certificates.consortium_certificates",
    "certificates.bulk": "certificates.consortium_certificates",
    "taxonomy.new_skill": "taxonomy.skills",
    "taxonomy.edit_skill": "taxonomy.skills",
    "taxonomy.consortium_role": "taxonomy.consortium_roles",
    "taxonomy.new_consortium_role": "taxonomy.consortium_roles",
    "taxonomy.edit_consortium_role": "taxonomy.consortium_roles",
    "taxonomy.deactivate_consortium_role": "taxonomy.consortium_roles",
    "taxonomy.copy_role": "taxonomy.consortium_roles",
    "certificate_designs.new_design": "certificate_designs.designs",
    "certificate_designs.edit_design": "certificate_designs.designs",
    "certificate_designs.delete_design": "certificate_designs.designs",
    "certificate_designs.course_validity": "certificate_designs.designs",
    "monthly_reports.seal": "monthly_reports.monthly",
    "tenancy.consortium_person": "tenancy.consortium_people",
    "tenancy.end_membership": "tenancy.firm_people",
    "reports.firm_people": "reports.firm_dashboard",
    "tenancy.invite_person": "tenancy.firm_people",
    "tenancy.deactivate_person": "tenancy.firm_people",
    "skills.person_skills": "tenancy.firm_people",
    "transcripts.person_transcript": "tenancy.firm_people",
    "tenancy.import_preview": "tenancy.import_people",
    "assignments.assign_firm": "assignments.firm_enrollments",
    "taxonomy.firm_role": "taxonomy.firm_roles",
    "taxonomy.new_firm_role": "taxonomy.firm_roles",
    "taxonomy.edit_firm_role": "taxonomy.firm_roles",
    "taxonomy.deactivate_firm_role": "taxonomy.firm_roles",
}
# Pages of a course a consortium admin follows (declared signed_in; checked in the view).
COURSE_PAGES = ("assignments.course_learners", "course_reports.course_analytics")
DOWNLOADS = (".pdf", ".csv", ".xlsx", ".img")


@pytest.fixture
def world(create_consortium, create_firm, create_user, create_role, create_course):
    consortium = create_consortium(name="唐山联合体")
    firm = create_firm(consortium=consortium, name="甲公司")
    create_firm(consortium=consortium, name="乙公司")
    role = create_role("nav_role", {"skill_a": 2}, consortium=consortium)
    create_role("nav_firm_role", {"skill_a": 1}, firm=firm)
    create_user(role="worker", firm=firm, name="于文博", job_role=role.id)
    course = create_course(firm)
    admin = create_user(role="consortium_admin", consortium=consortium)
    return {"consortium": consortium, "firm": firm, "admin": admin, "course": course}


def _admin_pages(app, world) -> dict[str, list[str]]:
    """endpoint → [url] of every GET admin page that takes only the consortium or the firm and
    that the consortium admin may open."""
    from lms.auth.models import User
    from lms.extensions import db
    from lms.permissions import allows
    from lms.tenancy.models import Consortium, Firm

    pages = {}
    with app.test_request_context():
        admin = db.session.get(User, world["admin"].id)
        places = {
            "consortium_id": db.session.get(Consortium, world["consortium"].id),
            "firm_id": db.session.get(Firm, world["firm"].id),
        }
        for endpoint, rule in _declared(app):
            if "GET" not in rule.methods or rule.rule.endswith(DOWNLOADS):
                continue
            args = set(rule.arguments)
            if len(args) != 1 or not args <= set(places):
                continue
            key = next(iter(args))
            access = app.view_functions[endpoint].access
            if allows(access, admin, places[key]):
                pages[endpoint] = [url_for(endpoint, **{key: places[key].id})]
        for endpoint in COURSE_PAGES:
            pages[endpoint] = [url_for(endpoint, slug=world["course"].slug)]
        for endpoint in ("reports.consortium_people", "reports.firm_people"):
            pages[endpoint] = [f"{pages[endpoint][0]}?metric=workers"]  # a figure's people
    return pages


def _side_menu(page: bytes):
    tree = html.fromstring(page)
    menus = tree.xpath('//nav[contains(concat(" ", @class, " "), " sidenav ")]')
    return menus[0] if len(menus) == 1 else None


def _consortium_links(app, menu) -> set[str]:
    """The menu's links to pages of the consortium as a whole (not of one firm)."""
    adapter = app.url_map.bind("localhost")
    found = set()
    for href in menu.xpath(".//a/@href"):
        try:
            _endpoint, args = adapter.match(href, method="GET")
        except HTTPException:
            continue
        if "firm_id" not in args:
            found.add(href)
    return found


def _crawl(app, client, start: dict[str, list[str]]) -> dict[str, list[str]]:
    """The start pages, and the links (query kept) to admin pages found on them."""
    adapter = app.url_map.bind("localhost")
    admin = {e for e, _ in _declared(app)} | set(COURSE_PAGES)
    pages = {e: list(urls) for e, urls in start.items()}
    for urls in list(start.values()):
        response = client.get(urls[0])
        if response.status_code != 200:
            continue  # reported when the page itself is checked
        tree = html.fromstring(response.data)
        for href in tree.xpath("//main//a/@href"):
            link = href.split("#")[0]
            path = link.split("?")[0]
            if not path.startswith("/") or path.endswith(DOWNLOADS) or "format=" in link:
                continue
            try:
                endpoint, _args = adapter.match(path, method="GET")
            except HTTPException:
                continue
            if endpoint in admin and link not in pages.setdefault(endpoint, []):
                pages[endpoint].append(link)
    return pages


def _first_page(client, urls):
    """(url, response) of the first of `urls` that opens (else the last one tried)."""
    url = response = None
    for url in urls:
        try:
            response = client.get(url)
        except Exception as exc:  # noqa: BLE001 (another page's error, named in the result)
            raise AssertionError(f"{url}: {exc!r}") from exc
        if response.status_code == 200:
            break
    return url, response


def _declared(app):
    for rule in app.url_map.iter_rules():
        access = getattr(app.view_functions[rule.endpoint], "access", None)
        if access is not None and access.permission in ADMIN_PERMISSIONS:
            yield rule.endpoint, rule


def test_every_consortium_admin_page_has_the_same_menu_with_its_section_marked(
    app, client, login, world
):
    login(world["admin"])
    pages = _crawl(app, client, _admin_pages(app, world))
    assert len(pages) >= 40, sorted(pages)  # the place pages, and those below them
    consortium_id, firm_id = world["consortium"].id, world["firm"].id
    reference, checked, problems = None, [], []
    for endpoint, urls in sorted(pages.items()):
        url, response = _first_page(client, urls[:3])
        if response is None or response.status_code in (301, 302, 303):
            continue  # a GET that only redirects (a POST action's address) has no menu
        if response.status_code != 200:
            problems.append(f"{endpoint} {url}: HTTP {response.status_code}")
            continue
        menu = _side_menu(response.data)
        if menu is None:
            problems.append(f"{endpoint} {url}: no admin side menu")
            continue
        links = _consortium_links(app, menu)
        if reference is None:
            reference = links
        if links != reference:
            problems.append(f"{endpoint} {url}: other links {sorted(links ^ reference)}")
        section = SECTION_OF.get(endpoint, endpoint)
        marked = menu.xpath('.//a[@aria-current="page"]/@href')
        with app.test_request_context():
            rule = next(r for r in app.url_map.iter_rules(section))
            key = "firm_id" if "firm_id" in rule.arguments else "consortium_id"
            expected = url_for(section, **{key: firm_id if key == "firm_id" else consortium_id})
        if marked != [expected]:
            problems.append(f"{endpoint} {url}: marked {marked}, expected [{expected}]")
        checked.append(endpoint)
    assert not problems, "\n".join(problems)
    # The consortium's group holds its sections, the course review and the audit log among them.
    with app.test_request_context():
        for endpoint in ("authoring.review_queue", "audit.audit_log", "tenancy.firms"):
            assert url_for(endpoint, consortium_id=consortium_id) in reference, endpoint
    for nested in (
        "course_reports.course_analytics",
        "taxonomy.consortium_role",
        "skills.person_skills",
        "tenancy.deactivate_firm",
    ):
        assert nested in checked, nested


def test_the_import_preview_marks_import_people(app, client, login, world, create_user):
    from lms.extensions import db
    from lms.tenancy.models import ImportBatch

    hr = create_user(role="firm_admin", firm=world["firm"])
    with app.app_context():
        batch = ImportBatch(
            consortium_id=world["consortium"].id,
            firm_id=world["firm"].id,
            created_by_id=hr.id,
            filename="people.csv",
            rows=[],
        )
        db.session.add(batch)
        db.session.commit()
        public_id = batch.public_id
    login(hr)
    with app.test_request_context():
        url = url_for("tenancy.import_preview", firm_id=world["firm"].id, batch_id=public_id)
        expected = url_for("tenancy.import_people", firm_id=world["firm"].id)
    response = client.get(url)
    assert response.status_code == 200
    menu = _side_menu(response.data)
    assert menu.xpath('.//a[@aria-current="page"]/@href') == [expected]
