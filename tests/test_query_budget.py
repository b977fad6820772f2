"""Every main page runs a fixed number of SQL statements (issue 16): at most its budget, and
the same number in a small world and a large one — more courses, lessons, modules,
enrolments, certificates and skills must not mean more statements.

Each page is opened once to warm up (the first request after start-up may fill caches), then
once more while every statement the request executes is counted: the signed-in request's own
(session, user, memberships, unread notifications) included, the savepoints the test fixture
wraps each commit in left out. A failure lists the statements of both worlds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from lms.auth.models import User
from lms.certificates import service as certificates
from lms.certificates.models import Certificate
from lms.courses.models import CourseVersion, Lesson
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment
from tests.conftest import ensure_skills, write_package
from tests.courses.helpers import Published, edit_course_yaml, import_dir
from tests.statements import counted_statements

# --- budgets: SQL statements per request, one per page ---------------------------------------

LEARNER_PAGE = 8
ADMIN_PAGE = 15

BUDGET = {
    "home": LEARNER_PAGE,
    "my_learning": LEARNER_PAGE,
    "catalogue": LEARNER_PAGE,
    "catalogue_search": LEARNER_PAGE,
    "course_page": LEARNER_PAGE,
    "lesson": LEARNER_PAGE,
    "quiz_lesson": LEARNER_PAGE,
    "practical_lesson": LEARNER_PAGE,
    "attempt_open": LEARNER_PAGE,
    "attempt_graded": LEARNER_PAGE,
    "skills": LEARNER_PAGE,
    "certificates": LEARNER_PAGE,
    "consortium_dashboard": ADMIN_PAGE,
    "firm_dashboard": ADMIN_PAGE,
}

# --- counting --------------------------------------------------------------------------------

# --- the two worlds --------------------------------------------------------------------------

# small → large: what grows (the page's statements must not). The course the worker takes has
# `lessons` text lessons, a quiz and a practical task in `modules` modules, teaches `skills`
# skills (the worker's job role needs them all) and requires `prerequisites` of the `courses`
# other courses; the worker is enrolled in `enrolled` of these and completed `completed`.
SIZES = {
    "small": dict(
        lessons=1,
        modules=1,
        skills=1,
        courses=1,
        prerequisites=1,
        enrolled=1,
        completed=1,
        firms=1,
        workers=1,
    ),
    "large": dict(
        lessons=29,
        modules=4,
        skills=8,
        courses=6,
        prerequisites=3,
        enrolled=5,
        completed=4,
        firms=3,
        workers=4,
    ),
}


@dataclass
class World:
    size: str
    consortium_id: int
    firm_id: int
    worker: User
    firm_admin: User
    consortium_admin: User
    main: Published | None = None  # the course the worker is taking
    lessons: int = 0
    enrollment_id: str = ""
    graded_attempt: str = ""
    open_attempt: str = ""
    text_lesson: int = 0
    quiz_lesson: int = 0
    practical_lesson: int = 0
    titles: list[str] = field(default_factory=list)  # of every course, the main one first
    required: list[str] = field(default_factory=list)  # titles of the main one's prerequisites


def _package(root, slug: str, *, lessons: int, modules: int = 1, skills=(), **kw):
    """A course package (English) whose lessons are spread over `modules` modules."""
    pkg = write_package(
        root,
        slug,
        lessons=lessons,
        skills=[{"skill": s, "level": 1 + i % 5} for i, s in enumerate(skills)],
        title=f"Course {slug}",
        language="en",
        **kw,
    )
    entries = edit_course_yaml(pkg)["modules"][0]["lessons"]
    size = -(-len(entries) // modules)
    edit_course_yaml(
        pkg,
        modules=[
            {"title": f"Module {n + 1}", "lessons": entries[n * size : (n + 1) * size]}
            for n in range(modules)
        ],
    )
    return pkg


@pytest.fixture
def build_world(app, tmp_path, create_consortium, create_firm, create_user, create_role):
    """build_world("small" | "large"): a consortium of its own whose counts are as in SIZES."""

    def build(size: str) -> World:
        n = SIZES[size]
        skills = [f"qb_{size}_{i}" for i in range(n["skills"])]
        with app.app_context():
            ensure_skills(skills)
            db.session.commit()
        consortium = create_consortium()
        firms = [create_firm(consortium) for _ in range(n["firms"])]
        firm = firms[0]
        role = create_role(f"qb_role_{consortium.id}", {s: 3 for s in skills}, firm=firm)
        worker = create_user(role="worker", firm=firm, job_role=role.id, locale="en")
        others = [
            create_user(role="worker", firm=firms[i % len(firms)], locale="en")
            for i in range(1, n["workers"])
        ]
        for f in firms:
            create_user(role="trainer", firm=f, locale="en")
        world = World(
            size=size,
            consortium_id=consortium.id,
            firm_id=firm.id,
            worker=worker,
            firm_admin=create_user(role="firm_admin", firm=firm, locale="en"),
            consortium_admin=create_user(
                role="consortium_admin", consortium=consortium, locale="en"
            ),
        )
        root = tmp_path / size
        short = [
            import_dir(
                app,
                firms[i % len(firms)].id,
                _package(
                    root,
                    f"short-{consortium.id}-{i}",
                    lessons=1,
                    quiz=False,
                    skills=skills[i % len(skills) :][:2],
                ),
            )
            for i in range(n["courses"])
        ]
        # The main course requires a course the worker completed and (large) two not.
        required = short[:1] + short[n["completed"] :][: n["prerequisites"] - 1]
        world.main = import_dir(
            app,
            firm.id,
            _package(
                root,
                f"main-{consortium.id}",
                lessons=n["lessons"],
                modules=n["modules"],
                skills=skills,
                quiz=True,
                practical=True,
                prerequisites=[c.slug for c in required],
            ),
        )
        world.titles = [f"Course {c.slug}" for c in [world.main, *short]]
        world.required = [f"Course {c.slug}" for c in required]
        lesson_ids = list(world.main.lesson_ids.values())
        world.lessons = len(lesson_ids)
        world.text_lesson, world.quiz_lesson, world.practical_lesson = (
            lesson_ids[0],
            lesson_ids[-2],
            lesson_ids[-1],
        )
        with app.test_request_context():
            user = db.session.get(User, worker.id)
            people = [user, *(db.session.get(User, o.id) for o in others)]
            for i, published in enumerate(short[: n["enrolled"]]):
                version = db.session.get(CourseVersion, published.version_id)
                for person in people:
                    enrollment, _ = learning.enroll(person, version)
                    if i < n["completed"]:
                        for lesson in version.lessons:
                            learning.record_progress(enrollment, lesson, percent=100)
            main = db.session.get(CourseVersion, world.main.version_id)
            enrollment, _ = learning.enroll(user, main, check_prerequisites=False)
            text = db.session.get(Lesson, world.text_lesson)
            learning.record_progress(enrollment, text, percent=100)
            quiz = db.session.get(Lesson, world.quiz_lesson)
            graded = learning.start_attempt(enrollment, quiz)
            learning.submit_attempt(graded, {})
            opened = learning.start_attempt(enrollment, quiz)
            db.session.flush()
            world.enrollment_id = enrollment.public_id
            world.graded_attempt, world.open_attempt = graded.public_id, opened.public_id
            db.session.commit()
            if size == "large":  # a revoked certificate, and the one issued in its place
                cert = db.session.scalars(
                    db.select(Certificate).where(Certificate.user_id == worker.id)
                ).first()
                admin = db.session.get(User, world.consortium_admin.id)
                certificates.revoke(admin, cert, "Issued in error")
                certificates.issue(db.session.get(Enrollment, cert.enrollment_id))
                db.session.commit()
        return world

    return build


# --- the pages -------------------------------------------------------------------------------

# page → (who opens it, its URL in a world)
PAGES = {
    "home": ("worker", lambda w: "/"),
    "my_learning": ("worker", lambda w: "/learning"),
    "catalogue": ("worker", lambda w: "/courses/"),
    "catalogue_search": ("worker", lambda w: "/courses/?q=course"),
    "course_page": ("worker", lambda w: f"/courses/{w.main.slug}"),
    "lesson": ("worker", lambda w: f"/learn/{w.enrollment_id}/lessons/{w.text_lesson}"),
    "quiz_lesson": ("worker", lambda w: f"/learn/{w.enrollment_id}/lessons/{w.quiz_lesson}"),
    "practical_lesson": (
        "worker",
        lambda w: f"/learn/{w.enrollment_id}/lessons/{w.practical_lesson}",
    ),
    "attempt_open": ("worker", lambda w: f"/learn/{w.enrollment_id}/attempts/{w.open_attempt}"),
    "attempt_graded": (
        "worker",
        lambda w: f"/learn/{w.enrollment_id}/attempts/{w.graded_attempt}",
    ),
    "skills": ("worker", lambda w: "/skills"),
    "certificates": ("worker", lambda w: "/certificates"),
    "consortium_dashboard": (
        "consortium_admin",
        lambda w: f"/consortia/{w.consortium_id}/reports",
    ),
    "firm_dashboard": ("firm_admin", lambda w: f"/firms/{w.firm_id}/reports"),
}

# What a page shows in the large world: the count is of the page really shown.
SHOWS = {
    "my_learning": lambda w: w.titles[:6],
    "catalogue": lambda w: w.titles,
    "catalogue_search": lambda w: w.titles,
    "course_page": lambda w: ["Module 4", "qb_large_7", *w.required, "not completed yet"],
    "lesson": lambda w: ["Module 4", f"Lesson 1 of {w.lessons}"],
    "quiz_lesson": lambda w: [f"Lesson {w.lessons - 1} of {w.lessons}", "Attempt 1"],
    "practical_lesson": lambda w: [f"Lesson {w.lessons} of {w.lessons}", "Who signs off"],
    "attempt_open": lambda w: ["Submit answers"],
    "attempt_graded": lambda w: ["Score: 0 / 100"],
    "certificates": lambda w: ["Revoked on", "Replaced by certificate"],
}


def measure(app, login, world: World, page: str) -> tuple[int, list[str], str]:
    """(statements, their SQL, the page's text) of one signed-in GET of `page`, warmed up."""
    who, url = PAGES[page]
    client = app.test_client()
    login(getattr(world, who), c=client)
    url = url(world)
    warm = client.get(url)
    assert warm.status_code == 200, (page, url, warm.status_code)
    with app.app_context():
        engine = db.engine
    with counted_statements(engine) as statements:
        response = client.get(url)
        response.close()
    assert response.status_code == 200, (page, url, response.status_code)
    return len(statements), statements, response.get_data(as_text=True)


def _listing(statements: list[str]) -> str:
    return "\n".join(f"  {i}. {s[:300]}" for i, s in enumerate(statements, 1))


@pytest.mark.parametrize("page", list(BUDGET), ids=str)
def test_a_page_runs_the_same_few_statements_whatever_the_size_of_the_world(
    page, app, login, build_world
):
    counts = {}
    for size in ("small", "large"):
        world = build_world(size)
        count, statements, text = measure(app, login, world, page)
        counts[size] = (count, statements)
        if size == "large":
            for needle in SHOWS.get(page, lambda w: [])(world):
                assert needle in text, (page, needle)
    (small, small_sql), (large, large_sql) = counts["small"], counts["large"]
    detail = f"small world:\n{_listing(small_sql)}\nlarge world:\n{_listing(large_sql)}"
    assert small == large, f"{page}: {small} statements when small, {large} when large\n{detail}"
    assert large <= BUDGET[page], f"{page}: {large} statements, budget {BUDGET[page]}\n{detail}"


def test_the_player_loads_the_text_of_the_shown_lesson_only(app, login, build_world):
    world = build_world("large")
    _count, statements, _text = measure(app, login, world, "lesson")
    with_text = [s for s in statements if "lessons.body" in s or "lessons.html" in s]
    assert len(with_text) == 1, _listing(with_text)
    assert "WHERE lessons.id = " in with_text[0]
