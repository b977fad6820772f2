"""Enrolling in a learning path follows prerequisites (issue 13): courses are enrolled in
prerequisite order, only those whose prerequisites are completed (the course page's rule), the
page says what was enrolled and what waits and why, a double submit enrols once, and
/learning keeps the path's order."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from lms.auth.models import User
from lms.courses.models import Course, CourseVersion
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment
from lms.skills import recommendations
from lms.tenancy.models import Firm

# slug → (skill it teaches at level 2, prerequisites)
COURSES = {
    "pe-basics": ("pe_a", ()),
    "pe-advanced": ("pe_b", ("pe-basics",)),
    "pe-master": ("pe_c", ("pe-advanced",)),
    "pe-extra": ("pe_d", ()),
}


@dataclass
class World:
    consortium_id: int
    firm: Firm
    worker: User  # target role pe_role: needs every course above
    admin: User


@pytest.fixture
def world(app, create_consortium, create_firm, create_user, create_role, create_course):
    consortium = create_consortium(code="PEC")
    firm = create_firm(consortium, name="路径精工")
    create_role("pe_role", {"pe_a": 2, "pe_b": 2, "pe_c": 2, "pe_d": 2}, consortium=consortium)
    for slug, (skill, prerequisites) in COURSES.items():
        create_course(
            firm,
            slug=slug,
            title=f"Course {slug}",
            lessons=1,
            quiz=False,
            skills=[{"skill": skill, "level": 2}],
            prerequisites=list(prerequisites),
        )
    worker = create_user(role="worker", firm=firm, target_role_id="pe_role", locale="en")
    admin = create_user(role="firm_admin", firm=firm, locale="en")
    return World(consortium.id, firm, worker, admin)


@pytest.fixture
def in_db(app):
    def run(fn):
        with app.test_request_context():
            result = fn()
            db.session.commit()
            return result

    return run


@pytest.fixture
def as_user(app, login):
    def make(user):
        c = app.test_client()
        login(user, c=c)
        return c

    return make


def enrolments(in_db, user) -> list[str]:
    """Slugs of the user's active enrolments in the order they were made."""
    return in_db(
        lambda: list(
            db.session.scalars(
                select(Course.slug)
                .join(Enrollment, Enrollment.course_id == Course.id)
                .where(Enrollment.user_id == user.id, Enrollment.withdrawn_at.is_(None))
                .order_by(Enrollment.id)
            )
        )
    )


def steps(page: str) -> dict[str, str]:
    """slug → the state the path page shows for it."""
    return dict(
        (slug, state)
        for state, slug in re.findall(
            r'<li data-step="(\w+)"><a href="/courses/([^"]+)"', page, re.S
        )
    )


def flashes(page: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", m)).strip()
        for m in re.findall(r'<div class="flash[^"]*"[^>]*>(.*?)</div>', page, re.S)
    ]


def text(response) -> str:
    return response.get_data(as_text=True)


def complete(in_db, user, slug):
    def go():
        enrollment = db.session.scalars(
            select(Enrollment)
            .join(Course, Course.id == Enrollment.course_id)
            .where(Enrollment.user_id == user.id, Course.slug == slug)
        ).one()
        learning.record_progress(enrollment, enrollment.version.lessons[0], percent=100)
        assert enrollment.status == "completed"

    in_db(go)


ENROL = {"role": "pe_role", "take_path": "1"}


def test_the_path_page_shows_what_is_open_and_what_waits_for_which_prerequisite(world, as_user):
    c = as_user(world.worker)
    page = text(c.get("/skills/path"))
    assert steps(page) == {
        "pe-basics": "ready",
        "pe-advanced": "waits",
        "pe-master": "waits",
        "pe-extra": "ready",
    }
    assert "Waits: complete Course pe-basics first" in page
    assert "Waits: complete Course pe-advanced first" in page
    order = list(steps(page))
    assert order.index("pe-basics") < order.index("pe-advanced") < order.index("pe-master")
    assert 'name="take_path"' in page


def test_path_enrolment_enrols_only_courses_whose_prerequisites_are_completed(
    world, as_user, in_db
):
    c = as_user(world.worker)
    response = c.post("/skills/path", data=ENROL)
    assert response.status_code == 302 and response.location.endswith("/skills/path")
    # In the path's order, prerequisites first; the course page would refuse the other two.
    assert enrolments(in_db, world.worker) == ["pe-basics", "pe-extra"]
    page = text(c.get(response.location))
    messages = flashes(page)
    assert messages[0] == "Enrolled in: Course pe-basics, Course pe-extra."
    assert messages[1] == (
        "Not enrolled yet, because their prerequisites come first: Course pe-advanced "
        "(complete Course pe-basics first), Course pe-master (complete Course pe-advanced "
        "first). Enrol in them here once those are completed."
    )
    assert steps(page) == {
        "pe-basics": "enrolled",
        "pe-advanced": "waits",
        "pe-master": "waits",
        "pe-extra": "enrolled",
    }
    # Nothing is open now: no button that would do nothing; the way to learn instead.
    assert 'name="take_path"' not in page
    assert 'href="/learning"' in page
    for slug in ("pe-advanced", "pe-master"):
        course_page = text(c.get(f"/courses/{slug}"))
        assert f'action="/courses/{slug}/enroll"' not in course_page  # the same rule


def test_a_double_submit_enrols_once(world, as_user, in_db):
    c = as_user(world.worker)
    first = c.post("/skills/path", data=ENROL)
    second = c.post("/skills/path", data=ENROL)
    assert first.status_code == second.status_code == 302
    assert enrolments(in_db, world.worker) == ["pe-basics", "pe-extra"]
    messages = flashes(text(c.get("/skills/path")))
    assert messages[-2] == "You are already enrolled in every course of this path open to you."
    assert messages[-1].startswith("Not enrolled yet")


def test_a_course_opens_once_its_prerequisite_is_completed(world, as_user, in_db):
    c = as_user(world.worker)
    c.post("/skills/path", data=ENROL)
    complete(in_db, world.worker, "pe-basics")
    page = text(c.get("/skills/path"))
    assert steps(page) == {
        "pe-advanced": "ready",  # pe-basics is completed: no longer on the path
        "pe-master": "waits",
        "pe-extra": "enrolled",
    }
    assert 'name="take_path"' in page
    c.post("/skills/path", data=ENROL)
    assert enrolments(in_db, world.worker) == ["pe-basics", "pe-extra", "pe-advanced"]
    messages = flashes(text(c.get("/skills/path")))
    assert messages[0] == "Enrolled in: Course pe-advanced."


def test_a_prerequisite_only_enrolled_elsewhere_still_makes_the_course_wait(world, as_user, in_db):
    """Enrolled in pe-basics (not completed) before the path: pe-advanced still waits."""
    c = as_user(world.worker)
    assert c.post("/courses/pe-basics/enroll").status_code == 302
    c.post("/skills/path", data=ENROL)
    assert enrolments(in_db, world.worker) == ["pe-basics", "pe-extra"]


def test_courses_are_enrolled_in_prerequisite_order_whatever_order_the_path_gives(world, in_db):
    """The path's courses are taken prerequisites first; once pe-basics and pe-advanced are
    completed, pe-master is open."""

    def go():
        user = db.session.get(User, world.worker.id)
        for slug in ("pe-basics", "pe-advanced"):
            version = db.session.scalars(
                select(CourseVersion).join(Course).where(Course.slug == slug)
            ).one()
            enrollment, _ = learning.enroll(user, version, check_prerequisites=False)
            learning.record_progress(enrollment, version.lessons[0], percent=100)
        versions = {
            v.course.slug: v
            for v in db.session.scalars(select(CourseVersion).join(Course))
            if v.course.slug in COURSES
        }
        backwards = [versions[s] for s in ("pe-extra", "pe-master", "pe-advanced", "pe-basics")]
        assert [v.course.slug for v in recommendations.prerequisites_first(backwards)] == [
            "pe-extra",
            "pe-basics",
            "pe-advanced",
            "pe-master",
        ]
        listed = recommendations.catalogue(world.consortium_id).by_slug
        path = recommendations.Path(None, [listed["pe-master"], listed["pe-extra"]], 0, [], [])
        outcome = recommendations.enroll_in_path(user, world.consortium_id, path)
        return [v.course.slug for v in outcome.enrolled], outcome.waiting

    enrolled, waiting = in_db(go)
    assert enrolled == ["pe-master", "pe-extra"] and waiting == []


# --- /learning keeps the path's order -----------------------------------------------------


def learning_order(client) -> list[str]:
    page = text(client.get("/learning"))
    return re.findall(r"<h2[^>]*>Course (pe-[a-z]+)</h2>", page)


def test_learning_lists_a_path_in_its_order(world, as_user, in_db):
    c = as_user(world.worker)
    c.post("/skills/path", data=ENROL)
    assert learning_order(c) == ["pe-basics", "pe-extra"]  # not reversed


def test_learning_puts_prerequisites_first_even_when_assigned_backwards(world, as_user, in_db):
    """A firm admin assigns the chain out of order, all due the same day."""
    due = date.today() + timedelta(days=10)

    def go():
        admin = db.session.get(User, world.admin.id)
        worker = db.session.get(User, world.worker.id)
        for slug in ("pe-advanced", "pe-master", "pe-basics"):
            version = db.session.scalars(
                select(CourseVersion).join(Course).where(Course.slug == slug)
            ).one()
            learning.assign_course(
                admin, version, [worker], source="firm", due_on=due, is_mandatory=False
            )

    in_db(go)
    c = as_user(world.worker)
    assert learning_order(c) == ["pe-basics", "pe-advanced", "pe-master"]


def test_learning_order_overdue_then_in_progress_then_not_started_then_completed(
    world, as_user, in_db
):
    today = date.today()

    def go():
        worker = db.session.get(User, world.worker.id)
        versions = {
            v.course.slug: v for v in db.session.scalars(select(CourseVersion).join(Course))
        }
        made = {}
        for slug in ("pe-extra", "pe-master", "pe-advanced", "pe-basics"):
            made[slug], _ = learning.enroll(worker, versions[slug], check_prerequisites=False)
        made["pe-master"].due_on = today - timedelta(days=1)  # overdue
        made["pe-extra"].due_on = today + timedelta(days=3)  # due, not started
        learning.record_progress(
            made["pe-advanced"], versions["pe-advanced"].lessons[0], percent=50
        )
        learning.record_progress(made["pe-basics"], versions["pe-basics"].lessons[0], percent=100)

    in_db(go)
    c = as_user(world.worker)
    assert learning_order(c) == ["pe-master", "pe-advanced", "pe-extra", "pe-basics"]


def test_learning_order_is_stable_on_equal_times(world, in_db):
    """Enrolments made at the same instant keep their id order, whatever the input order."""

    def go():
        worker = db.session.get(User, world.worker.id)
        rows = []
        for v in db.session.scalars(select(CourseVersion).join(Course).order_by(Course.slug)):
            if v.course.slug in ("pe-basics", "pe-extra"):
                rows.append(learning.enroll(worker, v, check_prerequisites=False)[0])
        db.session.flush()
        same = rows[0].enrolled_at
        for row in rows:
            row.enrolled_at = same
        ids = sorted(r.id for r in rows)
        assert [r.id for r in learning.learning_order(rows)] == ids
        assert [r.id for r in learning.learning_order(list(reversed(rows)))] == ids

    in_db(go)
