"""Enrolling in a course: self-enrolment, prerequisites, exactly one enrolment per worker and
course, withdrawing and coming back with progress kept, and the "my learning" list."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lms.auth.models import User
from lms.courses.models import CourseVersion, Lesson
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment, LessonProgress


def enrollments_of(user_id: int) -> list[Enrollment]:
    return list(
        db.session.scalars(
            select(Enrollment).where(Enrollment.user_id == user_id).order_by(Enrollment.id)
        )
    )


def status_of(enrollment_id: int) -> tuple:
    row = db.session.get(Enrollment, enrollment_id)
    return row.status, row.withdrawn_at


def flashes(html: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", m).strip()
        for m in re.findall(r'<div class="flash[^"]*"[^>]*>(.*?)</div>', html, re.S)
    ]


def test_a_worker_enrols_themselves_from_the_course_page(
    app, firm, worker, publish, login, client, in_db
):
    course = publish(firm, "safety-basics", title="安全基础")
    login(worker)
    page = client.get("/courses/safety-basics").get_data(as_text=True)
    assert 'action="/courses/safety-basics/enroll"' in page
    response = client.post("/courses/safety-basics/enroll")
    assert response.status_code == 302

    rows = in_db(
        lambda: [
            (e.public_id, e.source, e.status, e.version_id, e.firm_id)
            for e in enrollments_of(worker.id)
        ]
    )
    assert len(rows) == 1
    public_id, source, status, version_id, firm_id = rows[0]
    assert (source, status, version_id, firm_id) == ("self", "enrolled", course.version_id, firm.id)
    assert response.headers["Location"].endswith(f"/learn/{public_id}")
    # The course page now offers to continue instead of enrolling.
    page = client.get("/courses/safety-basics").get_data(as_text=True)
    assert f'href="/learn/{public_id}"' in page
    assert 'action="/courses/safety-basics/enroll"' not in page


def test_enrolment_requires_the_prerequisites_with_a_message_naming_the_missing_course(
    app, firm, worker, publish, login, client, in_db
):
    publish(firm, "safety-basics", lessons=1, title="安全生产基础")
    publish(firm, "robot-ops", lessons=1, title="机器人操作", prerequisites=["safety-basics"])
    login(worker)
    page = client.get("/courses/robot-ops").get_data(as_text=True)
    assert 'action="/courses/robot-ops/enroll"' not in page  # no enrol button yet

    response = client.post("/courses/robot-ops/enroll", follow_redirects=True)
    assert response.request.path == "/courses/robot-ops"
    messages = flashes(response.get_data(as_text=True))
    assert len(messages) == 1 and "安全生产基础" in messages[0], messages
    assert in_db(lambda: enrollments_of(worker.id)) == []


def test_enrolment_works_once_the_prerequisite_is_completed(
    app, firm, worker, publish, enrol, login, client, in_db
):
    basics = publish(firm, "safety-basics", lessons=1, title="安全生产基础")
    publish(firm, "robot-ops", lessons=1, title="机器人操作", prerequisites=["safety-basics"])
    done = enrol(worker, basics)

    def complete_basics():
        enrollment = db.session.get(Enrollment, done.id)
        learning.record_progress(
            enrollment, db.session.get(Lesson, basics.lesson("lessons/01.md")), percent=100
        )
        return enrollment.status

    assert in_db(complete_basics) == "completed"
    login(worker)
    page = client.get("/courses/robot-ops").get_data(as_text=True)
    assert 'action="/courses/robot-ops/enroll"' in page
    response = client.post("/courses/robot-ops/enroll")
    assert response.status_code == 302 and "/learn/" in response.headers["Location"]
    assert len(in_db(lambda: enrollments_of(worker.id))) == 2


def test_the_service_refuses_missing_prerequisites_unless_told_not_to_check(
    app, firm, worker, publish
):
    publish(firm, "safety-basics", lessons=1, title="安全生产基础")
    advanced = publish(firm, "robot-ops", lessons=1, prerequisites=["safety-basics"])
    with app.test_request_context():
        user = db.session.get(User, worker.id)
        version = db.session.get(CourseVersion, advanced.version_id)
        with pytest.raises(learning.LearningError) as raised:
            learning.enroll(user, version)
        assert "安全生产基础" in str(raised.value.message)
        assigned, created = learning.enroll(
            user, version, source="firm", actor=user, check_prerequisites=False
        )
        assert created and assigned.source == "firm"


def test_a_double_submitted_enrol_form_creates_one_enrolment(
    app, firm, worker, publish, login, client, in_db
):
    publish(firm, "safety-basics")
    login(worker)
    first = client.post("/courses/safety-basics/enroll")
    second = client.post("/courses/safety-basics/enroll")
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert len(in_db(lambda: enrollments_of(worker.id))) == 1


def test_enrolling_twice_through_the_service_returns_the_same_enrolment(app, firm, worker, publish):
    course = publish(firm, "safety-basics")
    with app.test_request_context():
        user = db.session.get(User, worker.id)
        version = db.session.get(CourseVersion, course.version_id)
        first, created_first = learning.enroll(user, version)
        again, created_again = learning.enroll(user, version)
        db.session.commit()
        assert (created_first, created_again) == (True, False)
        assert again.id == first.id
        assert db.session.scalar(select(func.count()).select_from(Enrollment)) == 1


def test_the_database_allows_only_one_active_enrolment_per_worker_and_course(
    app, firm, worker, publish, enrol
):
    course = publish(firm, "safety-basics")
    enrol(worker, course)
    with app.test_request_context():
        duplicate = Enrollment(
            consortium_id=firm.consortium_id,
            firm_id=firm.id,
            user_id=worker.id,
            course_id=course.course_id,
            version_id=course.version_id,
        )
        with pytest.raises(IntegrityError), db.session.begin_nested():
            db.session.add(duplicate)
            db.session.flush()


def test_withdraw_asks_for_confirmation_then_withdraws(
    app, firm, worker, publish, enrol, login, client, in_db
):
    course = publish(firm, "safety-basics", title="安全生产基础")
    enrolled = enrol(worker, course)
    login(worker)
    confirm = client.get(f"{enrolled.url}/withdraw")
    assert confirm.status_code == 200
    assert "安全生产基础" in confirm.get_data(as_text=True)
    assert in_db(lambda: db.session.get(Enrollment, enrolled.id).withdrawn_at) is None

    response = client.post(f"{enrolled.url}/withdraw")
    assert response.status_code == 302 and response.headers["Location"].endswith("/learning")
    status, withdrawn_at = in_db(lambda: status_of(enrolled.id))
    assert status == "withdrawn" and withdrawn_at is not None
    assert enrolled.public_id not in client.get("/learning").get_data(as_text=True)
    assert client.get(enrolled.url).status_code == 404


def test_re_enrolling_reactivates_the_same_enrolment_with_its_progress(
    app, firm, worker, publish, enrol, login, client, in_db
):
    course = publish(firm, "safety-basics", lessons=3)
    enrolled = enrol(worker, course)

    def progress_on_lesson_two():
        enrollment = db.session.get(Enrollment, enrolled.id)
        lesson = db.session.get(Lesson, course.lesson("lessons/02.md"))
        learning.record_progress(enrollment, lesson, percent=100)
        learning.record_progress(
            enrollment, db.session.get(Lesson, course.lesson("lessons/03.md")), percent=40
        )

    in_db(progress_on_lesson_two)
    login(worker)
    assert client.post(f"{enrolled.url}/withdraw").status_code == 302
    response = client.post("/courses/safety-basics/enroll")
    assert response.headers["Location"].endswith(enrolled.url)

    def state():
        rows = enrollments_of(worker.id)
        progress = {
            p.lesson_key: p.percent
            for p in db.session.scalars(
                select(LessonProgress).where(LessonProgress.enrollment_id == enrolled.id)
            )
        }
        return [(r.id, r.status, r.withdrawn_at) for r in rows], progress

    rows, progress = in_db(state)
    assert rows == [(enrolled.id, "in_progress", None)]
    assert progress == {"lessons/02.md": 100, "lessons/03.md": 40}
    # Resuming goes back to where the learner was.
    resume = client.get(enrolled.url)
    assert resume.headers["Location"].endswith(f"/lessons/{course.lesson('lessons/03.md')}")


def test_a_completed_course_cannot_be_withdrawn_from(
    app, firm, worker, publish, enrol, login, client, in_db
):
    course = publish(firm, "safety-basics", lessons=1)
    enrolled = enrol(worker, course)
    in_db(
        lambda: learning.record_progress(
            db.session.get(Enrollment, enrolled.id),
            db.session.get(Lesson, course.lesson("lessons/01.md")),
            percent=100,
        )
    )
    login(worker)
    response = client.post(f"{enrolled.url}/withdraw", follow_redirects=True)
    assert len(flashes(response.get_data(as_text=True))) == 1
    assert in_db(lambda: status_of(enrolled.id)) == ("completed", None)


def test_my_learning_lists_overdue_and_due_courses_first(
    app, firm, worker, publish, enrol, login, client, in_db
):
    today = date.today()
    plans = [
        ("no-due-date", None),
        ("due-next-month", today + timedelta(days=30)),
        ("overdue", today - timedelta(days=3)),
        ("due-tomorrow", today + timedelta(days=1)),
        ("long-overdue", today - timedelta(days=20)),
    ]
    enrolled = {}
    for slug, due_on in plans:
        course = publish(firm, slug, lessons=1, title=f"课程-{slug}")
        enrolled[slug] = enrol(worker, course, due_on=due_on, source="firm")
    done_course = publish(firm, "completed-one", lessons=1, title="课程-completed-one")
    done = enrol(worker, done_course, due_on=today - timedelta(days=30), source="firm")
    in_db(
        lambda: learning.record_progress(
            db.session.get(Enrollment, done.id),
            db.session.get(Lesson, done_course.lesson("lessons/01.md")),
            percent=100,
        )
    )
    login(worker)
    page = client.get("/learning").get_data(as_text=True)
    order = re.findall(r"<h2>课程-([a-z-]+)</h2>", page)
    assert order == [
        "long-overdue",
        "overdue",
        "due-tomorrow",
        "due-next-month",
        "no-due-date",
        "completed-one",
    ]
    cards = re.findall(r'<li class="card( card-overdue)?">.*?<h2>课程-([a-z-]+)</h2>', page, re.S)
    assert [slug for overdue, slug in cards if overdue] == ["long-overdue", "overdue"]
