"""The dashboards run a fixed number of SQL statements (issue 16): at most DASHBOARD_BUDGET per
request, filtered or not, and the same number in the small world of tests/reports/conftest.py
and once it has grown (more firms, courses, skills, job roles, workers, enrolments, overdue
assignments), whether the months are counted live or from the summaries.

Each page is opened once to warm up, then once more while its statements are counted: the
signed-in request's own included; BEGIN, COMMIT and the savepoints the test fixture wraps each
commit in left out. A failure lists the statements of both worlds.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.core.types import utcnow
from lms.courses.models import Course, CourseSkill
from lms.extensions import db
from lms.learning.models import Assignment, Enrollment
from lms.reports import figures
from lms.reports.summary import month_of, refresh
from lms.skills.models import SkillEvidence
from lms.transcripts.models import TrainingHours
from tests.conftest import ensure_skills
from tests.reports.conftest import local_day, months_ago
from tests.statements import counted_statements

DASHBOARD_BUDGET = 14


def _month(n: int) -> str:
    month = month_of(months_ago(n))
    return f"{month // 100:04d}-{month % 100:02d}"


# page → (the admin who opens it: a key of world.admins, its URL in a world)
PAGES = {
    "consortium": ("consortium", lambda w: f"/consortia/{w.c}/reports"),
    "consortium, course and firm": (
        "consortium",
        lambda w: f"/consortia/{w.c}/reports?course={w.a}&firm={w.f1}",
    ),
    "consortium, sector, skill and job role": (
        "consortium",
        lambda w: f"/consortia/{w.c}/reports?sector=smart-manufacturing&skill=s1&job_role=r1",
    ),
    "consortium, past months": (
        "consortium",
        lambda w: f"/consortia/{w.c}/reports?from={_month(5)}&to={_month(1)}",
    ),
    "firm": ("f1", lambda w: f"/firms/{w.f1}/reports"),
    "firm, course and job role": (
        "f1",
        lambda w: f"/firms/{w.f1}/reports?course={w.a}&job_role=r1",
    ),
    "firm, sector and skill": (
        "f1",
        lambda w: f"/firms/{w.f1}/reports?sector=industrial-internet&skill=s2",
    ),
    "firm, past months": ("f1", lambda w: f"/firms/{w.f1}/reports?from={_month(5)}&to={_month(1)}"),
}


def _client(app, login, user):
    """A client signed in as `user`, who reads English."""
    with app.app_context():
        db.session.get(User, user.id).locale = "en"
        db.session.commit()
    c = app.test_client()
    login(user, c=c)
    return c


def measure(app, login, world, page: str) -> tuple[list[str], str]:
    """(the statements, the page's text) of one signed-in GET of `page`, warmed up."""
    who, url = PAGES[page]
    client = _client(app, login, world.admins[who])
    with app.app_context():  # the months of the period are local ones
        url = url(world)
    warm = client.get(url)
    assert warm.status_code == 200, (page, url, warm.status_code)
    warm.close()
    with app.app_context():
        engine = db.engine
    with counted_statements(engine) as statements:
        response = client.get(url)
        text = response.get_data(as_text=True)
        response.close()
    assert response.status_code == 200, (page, url, response.status_code)
    return statements, text


def measure_all(app, login, world) -> dict[str, list[str]]:
    return {page: measure(app, login, world, page)[0] for page in PAGES}


def _listing(statements: list[str]) -> str:
    return "\n".join(f"  {i}. {s[:300]}" for i, s in enumerate(statements, 1))


def assert_same_few(small: dict, large: dict) -> None:
    for page in PAGES:
        detail = f"small world:\n{_listing(small[page])}\nlarge world:\n{_listing(large[page])}"
        assert len(small[page]) == len(large[page]), (
            f"{page}: {len(small[page])} statements when small, {len(large[page])} when large\n"
            f"{detail}"
        )
        assert len(large[page]) <= DASHBOARD_BUDGET, (
            f"{page}: {len(large[page])} statements, budget {DASHBOARD_BUDGET}\n{detail}"
        )


def grow(app, world, create_firm, create_user, create_course, create_role) -> dict:
    """More of everything in consortium C: four firms, six courses teaching five more skills,
    job roles of the consortium and of F1, and workers of every firm enrolled in several
    courses over the months (completions, certificates, hours, rises, overdue assignments by
    F1 and by the consortium). Returns what the pages must now show."""
    from lms.tenancy.models import Consortium, Firm

    with app.app_context():
        consortium = db.session.get(Consortium, world.c)
        f1 = db.session.get(Firm, world.f1)
    skills = [f"s{i}" for i in range(3, 8)]
    with app.app_context():
        ensure_skills(skills)
        db.session.commit()
    create_role("r3", {"s3": 2}, consortium=consortium)
    create_role("r4", {"s4": 2}, consortium=consortium, is_active=False)
    create_role("r_f1", {"s5": 2}, firm=f1)
    firms = [f1] + [create_firm(consortium, name=f"新厂{i}") for i in range(4)]
    roles = ["r1", "r3", "r4", "r_f1", None]  # F1's workers; the others' is r1
    workers = [
        create_user(
            role="worker",
            firm=firms[i % len(firms)],
            job_role=roles[i // len(firms) % len(roles)] if i % len(firms) == 0 else "r1",
            name=f"工人{i}",
        )
        for i in range(25)
    ]
    sectors = ("smart-manufacturing", "industrial-internet")
    courses = [
        create_course(firms[i % len(firms)], quiz=False, lessons=1, title=f"新课程{i}")
        for i in range(6)
    ]
    with app.app_context():
        versions = {}
        for i, course in enumerate(courses):
            version = db.session.get(Course, course.id).versions[-1]
            version.sector, version.hours = sectors[i % 2], 4
            for skill_id in {"s1", skills[i % len(skills)], skills[(i + 2) % len(skills)]}:
                db.session.add(CourseSkill(version_id=version.id, skill_id=skill_id, level=2))
            versions[course.id] = version.id
        versions[world.a] = db.session.get(Course, world.a).versions[-1].id
        versions[world.b] = db.session.get(Course, world.b).versions[-1].id
        admin = world.admins["f1"].id
        course_ids = [world.a, world.b, *(c.id for c in courses)]
        for n, worker in enumerate(workers):
            firm = firms[n % len(firms)]
            for k in range(3):
                course_id = course_ids[(n + k) % len(course_ids)]
                enrolled = months_ago((n + k) % 6 + 1)
                done = (n + k) % 3 == 0
                e = Enrollment(
                    consortium_id=world.c,
                    firm_id=firm.id,
                    user_id=worker.id,
                    course_id=course_id,
                    version_id=versions[course_id],
                    status="completed" if done else "in_progress",
                    enrolled_at=enrolled,
                    started_at=enrolled,
                    completed_at=enrolled + timedelta(days=20) if done else None,
                    last_active_at=enrolled + timedelta(days=20) if done else utcnow(),
                )
                db.session.add(e)
                db.session.flush()
                if done:
                    db.session.add_all(
                        [
                            Certificate(
                                serial=f"G-{e.id}",
                                verification_code=f"grown-{e.id}",
                                consortium_id=world.c,
                                firm_id=firm.id,
                                user_id=worker.id,
                                course_id=course_id,
                                version_id=e.version_id,
                                enrollment_id=e.id,
                                issued_at=e.completed_at,
                                completed_on=local_day(e.completed_at),
                            ),
                            TrainingHours(
                                consortium_id=world.c,
                                firm_id=firm.id,
                                user_id=worker.id,
                                source="course",
                                enrollment_id=e.id,
                                course_id=course_id,
                                hours=Decimal("4.0"),
                                credited_on=local_day(e.completed_at),
                            ),
                            SkillEvidence(
                                user_id=worker.id,
                                skill_id=skills[(n + k) % len(skills)],
                                level=2,
                                source="course",
                                is_verified=True,
                                raises_level=True,
                                recorded_at=e.completed_at,
                                enrollment_id=e.id,
                            ),
                        ]
                    )
                elif k:  # overdue: F1's assignments of its workers, the consortium's
                    party = firm.id if firm.id == world.f1 else None
                    db.session.add(
                        Assignment(
                            consortium_id=world.c,
                            firm_id=party,
                            party_key=party or 0,
                            enrollment_id=e.id,
                            user_id=worker.id,
                            course_id=course_id,
                            assigned_by_id=admin,
                            source="firm" if party else "consortium",
                            due_on=local_day(utcnow()) - timedelta(days=3 + n),
                            is_mandatory=n % 2 == 0,
                            created_at=enrolled,
                        )
                    )
        db.session.commit()
    return {
        "consortium": ["新厂3", "新课程5"],
        "firm": ["Role r_f1", "Role r4", "新课程5"],
    }


def test_the_dashboards_run_the_same_few_statements_whatever_the_size_of_the_world(
    app, world, login, create_firm, create_user, create_course, create_role
):
    small = measure_all(app, login, world)
    shows = grow(app, world, create_firm, create_user, create_course, create_role)
    large = measure_all(app, login, world)
    assert_same_few(small, large)
    for page in ("consortium", "firm"):
        text = measure(app, login, world, page)[1]
        for needle in shows[page]:
            assert needle in text, (page, needle)


def test_summarised_months_need_no_more_statements(
    app, world, login, create_firm, create_user, create_course, create_role
):
    live = measure_all(app, login, world)
    with app.app_context():
        refresh(world.c)
        db.session.commit()
    small = measure_all(app, login, world)
    grow(app, world, create_firm, create_user, create_course, create_role)
    with app.app_context():
        refresh(world.c, rebuild=True)
        db.session.commit()
    large = measure_all(app, login, world)
    assert_same_few(live, small)
    assert_same_few(small, large)


def test_the_overdue_list_counts_every_page_from_its_rows(
    app, world, login, monkeypatch, create_firm, create_user, create_course, create_role
):
    grow(app, world, create_firm, create_user, create_course, create_role)
    monkeypatch.setitem(app.config, "LMS_PAGE_SIZE", 2)
    with app.test_request_context():
        f = figures.parse_filters({}, consortium_id=world.c, firm_id=world.f1)
        s = figures.make_slice(world.c, f)
        total = db.session.scalar(figures.overdue_count(s))
        listed = [
            r.enrollment_id for r in db.session.execute(figures.people_query(s, "overdue_all"))
        ]
    assert total == len(listed) >= 5
    c = _client(app, login, world.admins["f1"])
    pages = (total + 1) // 2
    shown = []
    for page in range(1, pages + 2):  # and one past the last
        response = c.get(f"/firms/{world.f1}/reports?page={page}")
        body = response.get_data(as_text=True)
        response.close()
        assert f"{total} overdue assignments" in body, page
        rows = re.findall(r'name="enrollment" value="([^"]+)"', body)
        assert len(rows) == (min(2, total - 2 * (page - 1)) if page <= pages else 0), page
        shown += rows
    assert shown == listed


def test_an_empty_overdue_list_counts_none(app, world, login):
    with app.app_context():
        for e in db.session.scalars(select(Enrollment).where(Enrollment.firm_id == world.f1)):
            e.withdrawn_at = utcnow() - timedelta(days=1)
        db.session.commit()
    c = _client(app, login, world.admins["f1"])
    response = c.get(f"/firms/{world.f1}/reports")
    body = response.get_data(as_text=True)
    response.close()
    assert "No assignment is overdue. Well done." in body
