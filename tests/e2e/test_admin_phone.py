"""Every admin page fits a 390 px phone: the page itself never scrolls sideways (wide tables
scroll inside their own box or become cards), for a platform admin, a consortium admin, a firm
admin and an auditor; and on a 1280 px desktop no name in a people table wraps.

The pages are enumerated from the app's url_map: GET routes declared with an admin permission
(`needs`), filled with the signed-in user's consortium and firm, and the other ids (a person, a
job role, a skill, a design …) taken from links found on the pages already visited. POST-only
routes and file downloads (PDF, CSV, Excel) are skipped.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select
from werkzeug.exceptions import HTTPException

from lms.auth.models import User
from lms.demo.data import DEMO_PASSWORD
from lms.extensions import db
from lms.permissions import ALL_PERMISSIONS, allows
from lms.tenancy.models import Consortium, Firm
from tests.e2e.journey import sign_in

pytestmark = pytest.mark.e2e

PHONE_WIDTH = 390
ACCOUNTS = {
    "platform_admin": "admin@demo.lms",
    "consortium_admin": "consortium@demo.lms",
    "firm_admin": "hr.jidong@demo.lms",
    "auditor": "auditor@demo.lms",
}
# Learners' and trainers' permissions; every other permission is an administrator's.
NOT_ADMIN = frozenset({"course.learn", "course.author"})
ADMIN_PERMISSIONS = ALL_PERMISSIONS - NOT_ADMIN
# role → the admin endpoints its phone test opened (for the test that they cover every page).
VISITED_BY_ROLE: dict[str, set[str]] = {}
DOWNLOAD_SUFFIXES = (".pdf", ".csv", ".xlsx", ".zip", ".png", ".svg", ".img")

_OVERFLOW = """() => {
  const doc = document.documentElement, width = doc.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter(el => {
    const box = el.getBoundingClientRect();
    if (!box.width || box.right <= width + 1) return false;
    for (let p = el.parentElement; p; p = p.parentElement) {   // inside a scrolling box: fine
      const s = getComputedStyle(p);
      if (p !== doc && p !== document.body && (s.overflowX === 'auto' || s.overflowX === 'scroll'
          || s.overflowX === 'hidden' || s.overflowX === 'clip')) return false;
    }
    return true;
  }).slice(0, 5).map(el => {
    const cls = typeof el.className === 'string' ? el.className.trim() : '';
    const name = el.tagName.toLowerCase() + (cls ? '.' + cls.split(/\\s+/).join('.') : '');
    return name + ' ' + Math.round(el.getBoundingClientRect().right) + 'px';
  });
  return {scroll: doc.scrollWidth, client: width, wide: wide};
}"""


def _admin_rules(app):
    """(rule, endpoint, access) of every GET page declared with an admin permission."""
    rules = []
    for rule in app.url_map.iter_rules():
        access = getattr(app.view_functions[rule.endpoint], "access", None)
        if access is None or access.permission not in ADMIN_PERMISSIONS:
            continue
        if "GET" not in rule.methods or rule.rule.endswith(DOWNLOAD_SUFFIXES):
            continue
        rules.append((rule, access))
    return sorted(rules, key=lambda r: r[0].rule)


def _places(app, login: str) -> tuple[list[int], list[int]]:
    """The consortium ids and (one per consortium) firm ids whose admin pages the user opens."""
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == login)).one()
        if user.is_platform_admin:
            consortia = [db.session.scalars(select(Consortium.id).order_by(Consortium.id)).first()]
            return consortia, []
        consortia, firms = [], []
        for m in user.memberships:
            if not m.is_current():
                continue
            if m.consortium_id not in consortia:
                consortia.append(m.consortium_id)
            if m.firm_id is not None and m.firm_id not in firms:
                firms.append(m.firm_id)
        if not firms:  # a consortium role: the first active firm of each consortium
            for cid in consortia:
                first = db.session.scalars(
                    select(Firm.id)
                    .where(Firm.consortium_id == cid, Firm.is_active.is_(True))
                    .order_by(Firm.id)
                ).first()
                if first is not None:
                    firms.append(first)
        db.session.remove()
        return consortia, firms


def _allowed(app, login: str, access, place_id: int | None) -> bool:
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == login)).one()
        target = None
        if access.place == "firm":
            target = db.session.get(Firm, place_id)
        elif access.place == "consortium":
            target = db.session.get(Consortium, place_id)
        user.is_authenticated  # noqa: B018 (a loaded user, as flask-login gives it)
        result = allows(access, user, target)
        db.session.remove()
        return result


def _place_paths(app, login, rules) -> dict[str, str]:
    """endpoint → path of the pages that take only the user's consortium or firm (or nothing)."""
    from flask import url_for

    consortia, firms = _places(app, login)
    values = {"consortium_id": consortia, "firm_id": firms}
    paths = {}
    for rule, access in rules:
        args = set(rule.arguments)
        if not args <= {"consortium_id", "firm_id"}:
            continue
        key = next(iter(args), None)
        value = values[key][0] if key and values[key] else None
        if key and value is None:
            continue
        if not _allowed(app, login, access, value):
            continue
        with app.test_request_context():
            paths[rule.endpoint] = url_for(rule.endpoint, **({key: value} if key else {}))
    return paths


def _links_by_endpoint(app, hrefs: list[str], own: set[str]) -> dict[str, str]:
    """The first link (query kept, fragment dropped) to each admin endpoint among `hrefs`."""
    adapter = app.url_map.bind("localhost")
    found = {}
    for href in hrefs:
        link = href.split("#")[0]
        path = link.split("?")[0]
        if not path.startswith("/") or path.endswith(DOWNLOAD_SUFFIXES) or "format=" in link:
            continue
        try:
            endpoint, _args = adapter.match(path, method="GET")
        except HTTPException:
            continue
        if endpoint in own and endpoint not in found:
            found[endpoint] = link
    return found


def _object_id(name: str, cid: int, fid: int | None, *, firm_page: bool):
    """The first object of the user's places an address argument `name` can name, or None."""
    from lms.certificates.models import CertificateTemplate
    from lms.courses.models import Course, CourseAssessor
    from lms.taxonomy.models import JobRole, Skill
    from lms.tenancy.models import ImportBatch, Membership

    if name == "slug":  # a course with designated assessors first (their pages need one)
        ours = select(Course.slug).where(Course.consortium_id == cid).order_by(Course.id)
        return db.session.scalar(
            ours.join(CourseAssessor, CourseAssessor.course_id == Course.id)
        ) or db.session.scalar(ours)
    queries = {
        "design_id": select(CertificateTemplate.id).where(CertificateTemplate.consortium_id == cid),
        "skill_id": select(Skill.id).where(Skill.consortium_id == cid),
        "role_id": select(JobRole.id).where(
            JobRole.firm_id == fid
            if firm_page
            else (JobRole.consortium_id == cid) & JobRole.firm_id.is_(None)
        ),
        "public_id": select(User.public_id)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.firm_id == fid, Membership.role == "worker"),
        "batch_id": select(ImportBatch.public_id).where(ImportBatch.firm_id == fid),
    }
    return db.session.scalar(queries[name].limit(1)) if name in queries else None


def _database_paths(app, login, rules, endpoints: set[str]) -> dict[str, str]:
    """endpoint → path of the pages among `endpoints` that take ids of objects other than the
    user's consortium or firm, filled from the database with objects of the user's places."""
    from flask import url_for

    from lms.courses.models import Course, CourseAssessor, CourseVersion

    consortia, firms = _places(app, login)
    if not consortia:
        return {}
    cid, fid = consortia[0], (firms[0] if firms else None)
    paths = {}
    with app.app_context():
        for rule, access in rules:
            if rule.endpoint not in endpoints:
                continue
            firm_page = "firm_id" in rule.arguments
            args = {"consortium_id": cid} if "consortium_id" in rule.arguments else {}
            if firm_page:
                args["firm_id"] = fid
            for name in rule.arguments - args.keys() - {"number", "person_id"}:
                args[name] = _object_id(name, cid, fid, firm_page=firm_page)
            if args.get("slug"):
                course_id = db.session.scalar(select(Course.id).where(Course.slug == args["slug"]))
                if "number" in rule.arguments:
                    args["number"] = db.session.scalar(
                        select(func.max(CourseVersion.version)).where(
                            CourseVersion.course_id == course_id
                        )
                    )
                if "person_id" in rule.arguments:
                    args["person_id"] = db.session.scalar(
                        select(User.public_id)
                        .join(CourseAssessor, CourseAssessor.user_id == User.id)
                        .where(CourseAssessor.course_id == course_id)
                        .limit(1)
                    )
            # End the read (on SQLite every transaction holds the write lock, and the server
            # and _allowed need the database).
            db.session.remove()
            if set(rule.arguments) - args.keys() or None in args.values():
                continue  # the demo has no such object in the user's places
            if not _allowed(app, login, access, fid if firm_page else cid):
                continue
            with app.test_request_context():
                paths[rule.endpoint] = url_for(rule.endpoint, **args)
        db.session.remove()
    return paths


def _check_fits(page, path: str) -> str | None:
    """None if the page opens and fits the phone, else what is wrong."""
    response = page.goto(path)
    if response is None or not response.ok:
        return f"{path}: HTTP {response.status if response else None}"
    if "text/html" not in (response.headers.get("content-type") or ""):
        return None
    result = page.evaluate(_OVERFLOW)
    if result["scroll"] > PHONE_WIDTH:
        return f"{path}: {result['scroll']} px wide in {PHONE_WIDTH} px; {result['wide']}"
    return None


PHONE_IMPORT = (
    "姓名,手机号,岗位\r\n"
    "赵一,13900000001,\r\n"
    "钱二,1.39E+10,\r\n"  # an error row: the preview shows its message
).encode()


@pytest.fixture(scope="module")
def unlinked_objects(live_server):
    """Objects the demo world has none of, whose admin pages (edit, deactivate, delete,
    preview) would otherwise go unvisited: a consortium's own skill, job roles of the
    consortium and of a firm, a certificate design and a pending import. Made before the
    module's tests and removed after them, so the other browser tests see the demo as it is."""
    from lms.certificates.models import CertificateTemplate
    from lms.taxonomy.models import JobRole, Skill, SkillCategory
    from lms.tenancy import importer
    from lms.tenancy.models import ImportBatch, ImportRow

    app = live_server.app
    with app.app_context():
        firm_admin = db.session.scalars(
            select(User).where(User.email == ACCOUNTS["firm_admin"])
        ).one()
        firm = db.session.get(Firm, next(m.firm_id for m in firm_admin.memberships if m.firm_id))
        cid = firm.consortium_id
        category = db.session.scalars(select(SkillCategory.id).order_by(SkillCategory.id)).first()
        made = [
            Skill(
                id="e2e_phone_skill",
                category_id=category,
                consortium_id=cid,
                name_zh="手机页面测试技能",
                name_en="Phone page test skill",
            ),
            JobRole(
                id="e2e-phone-consortium-role",
                consortium_id=cid,
                name_zh="手机页面测试岗位",
                name_en="Phone page test role",
            ),
            JobRole(
                id="e2e-phone-firm-role",
                consortium_id=cid,
                firm_id=firm.id,
                name_zh="手机页面测试企业岗位",
                name_en="Phone page test firm role",
            ),
            CertificateTemplate(consortium_id=cid, name="手机页面测试证书设计"),
        ]
        db.session.add_all(made)
        batch = importer.stage_import(
            firm_admin, firm, filename="phone.csv", data=PHONE_IMPORT, max_rows=100
        )
        db.session.commit()
        keys = [(type(o), o.id) for o in made], batch.id
        db.session.remove()
    yield
    with app.app_context():
        (objects, batch_id) = keys
        db.session.execute(delete(ImportRow).where(ImportRow.batch_id == batch_id))
        db.session.execute(delete(ImportBatch).where(ImportBatch.id == batch_id))
        for model, key in objects:
            db.session.execute(delete(model).where(model.id == key))
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_every_admin_page_fits_a_390_px_phone(phone_page, live_server, tr, role, unlinked_objects):
    app, page, login = live_server.app, phone_page, ACCOUNTS[role]
    page.goto("/login")
    sign_in(page, tr, login, DEMO_PASSWORD)
    rules = _admin_rules(app)
    own = {rule.endpoint for rule, _access in rules}
    # endpoint → the paths to try: first the pages of the user's places, then the links found
    # on visited pages (which carry the other ids, and the query a page may need).
    todo = {endpoint: [path] for endpoint, path in _place_paths(app, login, rules).items()}
    visited, fits, failed = [], set(), {}
    while True:
        pending = [(e, p) for e, paths in todo.items() if e not in fits for p in paths[:2]]
        pending = [(e, p) for e, p in pending if p not in visited]
        if not pending:
            break
        for endpoint, path in pending:
            visited.append(path)
            problem = _check_fits(page, path)
            if problem is None:
                fits.add(endpoint)
                failed.pop(endpoint, None)
            else:
                failed.setdefault(endpoint, problem)
                if "HTTP" not in problem:
                    fits.add(endpoint)  # it opened: no other link to it needs trying
                    failed[endpoint] = problem
            hrefs = page.evaluate(
                "() => [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"
            )
            for found, link in _links_by_endpoint(app, hrefs, own).items():
                paths = todo.setdefault(found, [])
                if link not in paths:
                    paths.append(link)
    # Pages no visited page links to (an object the pages list elsewhere, a legacy address):
    # their ids from the database, within the user's places.
    for endpoint, path in _database_paths(app, login, rules, own - fits).items():
        visited.append(path)
        problem = _check_fits(page, path)
        if problem is None:
            fits.add(endpoint)
        else:
            failed[endpoint] = problem
        todo.setdefault(endpoint, []).append(path)
    print(f"\n{role}: {len(visited)} admin pages visited at {PHONE_WIDTH} px")
    for path in visited:
        print(f"  {path}")
    VISITED_BY_ROLE[role] = fits
    unreached = sorted(own - set(todo))
    if unreached:
        print(f"  not reached (not this role's, or no link to it): {', '.join(unreached)}")
    assert fits, role
    assert not failed, "\n".join(failed.values())


def test_every_admin_page_was_visited_at_390_px_by_someone(live_server):
    """Together the four roles open every admin GET page (the test above, for each role)."""
    if set(VISITED_BY_ROLE) != set(ACCOUNTS):
        pytest.skip("runs after the phone test of every role")
    pages = {rule.endpoint for rule, _access in _admin_rules(live_server.app)}
    visited = set().union(*VISITED_BY_ROLE.values())
    assert sorted(pages - visited) == [], "admin pages no role's phone test opened"


@pytest.fixture
def desktop_1280(browser, live_url):
    from tests.e2e.conftest import _page

    yield from _page(browser, live_url, viewport={"width": 1280, "height": 800})


# A person's name: the cell marked .person-name, else the first cell of a row.
_NAME_CELLS = """() => [...document.querySelectorAll('table.people-table tbody tr')]
  .map(tr => tr.querySelector('td.person-name') || tr.querySelector('td'))
  .filter(Boolean).map(td => {
    const style = getComputedStyle(td);
    const range = document.createRange(); range.selectNodeContents(td);
    const rects = [...range.getClientRects()].filter(r => r.width > 0);
    const lines = new Set(rects.map(r => Math.round(r.top)));
    return {text: td.textContent.trim(), lines: lines.size, white: style.whiteSpace};
  })"""


@pytest.mark.parametrize("role", ["firm_admin", "consortium_admin"])
def test_names_in_people_tables_do_not_wrap_at_1280_px(desktop_1280, live_server, tr, role):
    app, page, login = live_server.app, desktop_1280, ACCOUNTS[role]
    page.goto("/login")
    sign_in(page, tr, login, DEMO_PASSWORD)
    consortia, firms = _places(app, login)
    paths = [f"/firms/{firms[0]}/people"]
    if role == "consortium_admin":
        paths.append(f"/consortia/{consortia[0]}/people")
    checked = 0
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.ok, path
        cells = page.evaluate(_NAME_CELLS)
        print(f"\n{path}: {len(cells)} name cells")
        for cell in cells:
            if not cell["text"]:
                continue
            checked += 1
            assert cell["lines"] == 1, f"{path}: the name {cell['text']!r} wraps: {cell}"
    assert checked, "no name cell in a people table (table.people-table) was found"
