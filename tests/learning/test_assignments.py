"""Firm and consortium admins assign courses with due dates; trainers sign off practicals."""

from __future__ import annotations

import io
from datetime import date, timedelta
from types import SimpleNamespace

from openpyxl import Workbook
from sqlalchemy import select

from lms.extensions import db
from lms.learning.models import Enrollment, LessonProgress
from lms.tenancy.models import Membership

DUE = (date.today() + timedelta(days=14)).isoformat()


def _set_job_role(app, user, job_role):
    with app.app_context():
        m = db.session.scalars(select(Membership).where(Membership.user_id == user.id)).one()
        m.job_role_id = job_role
        m.employee_no = f"E{user.id}"
        db.session.commit()


def _enrollments(app, published):
    with app.app_context():
        return [
            (e.user_id, e.source, e.due_on, e.is_mandatory)
            for e in db.session.scalars(
                select(Enrollment).where(Enrollment.course_id == published.course_id)
            )
        ]


def test_firm_admin_assigns_by_job_role_with_due_date_and_mandatory_flag(
    app, client, login, create_user, create_role, firm, publish
):
    create_role("electrician", name_zh="电工")
    create_role("welder", name_zh="焊工")
    course = publish(firm, "assign-by-role")
    admin = create_user(role="firm_admin", firm=firm)
    electrician = create_user(role="worker", firm=firm)
    welder = create_user(role="worker", firm=firm)
    _set_job_role(app, electrician, "electrician")
    _set_job_role(app, welder, "welder")
    login(admin)
    response = client.post(
        f"/firms/{firm.id}/assign",
        data={
            "course": str(course.version_id),
            "target": "job_role",
            "job_role": "electrician",
            "due_on": DUE,
            "is_mandatory": "y",
        },
    )
    assert response.status_code == 302
    assert _enrollments(app, course) == [(electrician.id, "firm", date.fromisoformat(DUE), True)]
    # Assigning again (a double submit) changes nothing.
    client.post(
        f"/firms/{firm.id}/assign",
        data={
            "course": str(course.version_id),
            "target": "job_role",
            "job_role": "electrician",
            "due_on": DUE,
            "is_mandatory": "y",
        },
    )
    assert len(_enrollments(app, course)) == 1
    page = client.get(f"/firms/{firm.id}/enrollments").get_data(as_text=True)
    assert electrician.name in page and welder.name not in page


def test_firm_admin_assigns_chosen_people_and_people_from_a_file(
    app, client, login, create_user, create_role, firm, publish
):
    create_role("electrician", name_zh="电工")
    course = publish(firm, "assign-by-file")
    admin = create_user(role="firm_admin", firm=firm)
    a, b, c = (create_user(role="worker", firm=firm) for _ in range(3))
    _set_job_role(app, c, "electrician")
    login(admin)
    client.post(
        f"/firms/{firm.id}/assign",
        data={"course": str(course.version_id), "target": "people", "people": [a.public_id]},
    )
    book = Workbook()
    sheet = book.active
    sheet.append(["mobile"])
    sheet.append([int(b.mobile)])  # Excel turns mobile numbers into numbers
    sheet.append([f"E{c.id}"])  # employee number
    buffer = io.BytesIO()
    book.save(buffer)
    response = client.post(
        f"/firms/{firm.id}/assign",
        data={
            "course": str(course.version_id),
            "target": "file",
            "file": (io.BytesIO(buffer.getvalue()), "people.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert {u for u, *_ in _enrollments(app, course)} == {a.id, b.id, c.id}


def test_a_file_row_naming_nobody_of_the_firm_is_reported_and_nothing_is_assigned(
    app, client, login, create_user, firm, publish, create_firm
):
    course = publish(firm, "assign-bad-file")
    admin = create_user(role="firm_admin", firm=firm, locale="en")
    stranger = create_user(role="worker", firm=create_firm())
    login(admin)
    response = client.post(
        f"/firms/{firm.id}/assign",
        data={
            "course": str(course.version_id),
            "target": "file",
            "file": (io.BytesIO(f"mobile\n{stranger.mobile}\n".encode()), "people.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "Row 2" in response.get_data(as_text=True) or "第 2 行" in response.get_data(
        as_text=True
    )
    assert _enrollments(app, course) == []


def test_a_due_date_in_the_past_is_refused(app, client, login, create_user, firm, publish):
    course = publish(firm, "assign-past")
    admin = create_user(role="firm_admin", firm=firm, locale="en")
    worker = create_user(role="worker", firm=firm)
    login(admin)
    response = client.post(
        f"/firms/{firm.id}/assign",
        data={
            "course": str(course.version_id),
            "target": "people",
            "people": [worker.public_id],
            "due_on": (date.today() - timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 200
    assert "The due date is in the past." in response.get_data(as_text=True)
    assert _enrollments(app, course) == []


def test_consortium_admin_assigns_across_firms(
    app, client, login, create_user, create_firm, firm, publish
):
    course = publish(firm, "assign-consortium")
    consortium = SimpleNamespace(id=firm.consortium_id)
    second = create_firm(consortium)
    second_id = second.id
    w1 = create_user(role="worker", firm=firm)
    w2 = create_user(role="worker", firm=second)
    admin = create_user(role="consortium_admin", consortium=consortium)
    login(admin)
    response = client.post(
        f"/consortia/{firm.consortium_id}/assign",
        data={
            "course": str(course.version_id),
            "firms": [str(firm.id), str(second_id)],
            "due_on": DUE,
        },
    )
    assert response.status_code == 302
    got = {(u, s) for u, s, *_ in _enrollments(app, course)}
    assert got == {(w1.id, "consortium"), (w2.id, "consortium")}


def test_trainer_of_the_course_signs_off_a_practical_and_the_course_completes(
    app, client, login, create_user, firm, worker, trainer, publish, enrol
):
    course = publish(firm, "signoff-course", lessons=1, practical=True)
    enrolled = enrol(worker, course)
    with app.test_request_context():
        from lms.courses.models import CourseVersion
        from lms.learning import service

        version = db.session.get(CourseVersion, course.version_id)
        enrollment = db.session.get(Enrollment, enrolled.id)
        service.record_progress(enrollment, version.lessons[0], percent=100)
        db.session.commit()
        practical_id = next(x.id for x in version.lessons if x.type == "practical")
    login(trainer)
    page = client.get("/courses/signoff-course/learners").get_data(as_text=True)
    assert worker.name in page
    response = client.post(
        f"/courses/signoff-course/learners/{enrolled.public_id}/signoff/{practical_id}",
        data={"comment": "规范完成"},
    )
    assert response.status_code == 302
    with app.app_context():
        enrollment = db.session.get(Enrollment, enrolled.id)
        assert enrollment.status == "completed"
        rows = db.session.scalars(
            select(LessonProgress).where(LessonProgress.enrollment_id == enrolled.id)
        ).all()
        assert all(r.completed_at for r in rows)


def test_a_worker_cannot_sign_off_practicals(app, client, login, firm, worker, publish, enrol):
    course = publish(firm, "signoff-denied", lessons=1, practical=True)
    enrolled = enrol(worker, course)
    login(worker)
    assert client.get("/courses/signoff-denied/learners").status_code == 404
    assert (
        client.post(f"/courses/signoff-denied/learners/{enrolled.public_id}/signoff/1").status_code
        == 404
    )
