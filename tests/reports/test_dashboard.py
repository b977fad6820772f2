"""Dashboards: exact figures, filters, scoping by construction, summaries equal to live counts,
the people behind each figure, and exports (neutralised; large ones as an expiring job)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from lms.core.types import utcnow
from lms.extensions import db
from lms.jobs.models import Job
from lms.reports import figures
from lms.reports.models import ReportCube, ReportState, ReportWorker
from lms.reports.summary import closed_through, month_of, months, next_month, prev_month, refresh
from tests.reports.conftest import months_ago

# "active" counts w3 too: completing a course this month is learning in the last 30 days.
# "cohort": the period's enrolments completed by its end, the rate's numerator.
HEAD_C = {
    "enrolled": 5,
    "completed": 2,
    "cohort": 2,
    "rate": 40.0,
    "certificates": 2,
    "hours": 16.0,
    "workers": 3,
    "raised": 2,
    "active": 2,
    "overdue": 1,
}
HEAD_F1 = {
    "enrolled": 3,
    "completed": 1,
    "cohort": 1,
    "rate": 33.3,
    "certificates": 1,
    "hours": 8.0,
    "workers": 2,
    "raised": 1,
    "active": 1,
    "overdue": 1,
}


def _figures(app, consortium_id, **args):
    with app.test_request_context():
        f = figures.parse_filters(args, consortium_id=consortium_id)
        assert not f.errors
        s = figures.make_slice(consortium_id, f)
        return {
            "head": figures.headline(s),
            "firms": figures.by_firm(s),
            "courses": figures.by_course(s),
            "months": figures.by_month(s),
            "skills": figures.by_skill(s),
        }


def _client(app, login, user):
    """A client signed in as `user`, who reads English (the texts checked here)."""
    from lms.auth.models import User

    with app.app_context():
        db.session.get(User, user.id).locale = "en"
        db.session.commit()
    c = app.test_client()
    login(user, c=c)
    return c


def _text(response) -> str:
    body = response.get_data(as_text=True)
    response.close()
    return body


# --- months -------------------------------------------------------------------------------------


def test_month_arithmetic_wraps_years():
    assert next_month(202612) == 202701
    assert prev_month(202701) == 202612
    assert months(202611, 202702) == [202611, 202612, 202701, 202702]


def test_a_month_is_closed_a_day_after_it_ends(app):
    with app.app_context():
        from lms.reports.summary import month_start

        start = month_start(202611)
        assert closed_through(start + timedelta(hours=23)) == 202609
        assert closed_through(start + timedelta(days=1, minutes=1)) == 202610


# --- figures ------------------------------------------------------------------------------------


def test_consortium_figures_are_exact(app, world):
    got = _figures(app, world.c)
    assert got["head"] == HEAD_C
    by_firm = {r["firm_id"]: r for r in got["firms"]}
    assert set(by_firm) == {world.f1, world.f2}
    assert by_firm[world.f1]["enrolled"] == 3 and by_firm[world.f1]["workers"] == 2
    assert by_firm[world.f2]["enrolled"] == 2 and by_firm[world.f2]["completed"] == 1
    assert by_firm[world.f1]["overdue"] == 1 and by_firm[world.f2]["overdue"] == 0
    by_course = {r["course_id"]: r for r in got["courses"]}
    assert by_course[world.a]["enrolled"] == 3 and by_course[world.a]["completed"] == 2
    assert by_course[world.b]["enrolled"] == 2 and world.z not in by_course
    assert len(got["months"]) == 12
    assert sum(r["enrolled"] for r in got["months"]) == 5
    assert got["months"][-1]["enrolled"] == 2  # this month: w1 B and w3 A
    skills = {r["skill_id"]: r for r in got["skills"]}
    assert skills["s1"]["enrolled"] == 3 and skills["s1"]["raised"] == 2
    assert skills["s2"]["enrolled"] == 2 and skills["s2"]["raised"] == 0


@pytest.mark.parametrize(
    "args, expected",
    [
        ({"course": "A"}, {"enrolled": 3, "completed": 2, "workers": 3, "raised": 2}),
        ({"sector": "industrial-internet"}, {"enrolled": 2, "completed": 0, "workers": 2}),
        ({"job_role": "r2"}, {"enrolled": 2, "completed": 1, "workers": 1, "raised": 1}),
        ({"skill": "s1"}, {"enrolled": 3, "raised": 2, "overdue": 1}),
        ({"firm": "F2"}, {"enrolled": 2, "completed": 1, "workers": 1, "overdue": 0}),
        ({"from": "THIS", "to": "THIS"}, {"enrolled": 2, "completed": 1, "workers": 2}),
    ],
)
def test_filters_narrow_every_figure(app, world, args, expected):
    with app.app_context():
        this = month_of(utcnow())
    values = {"A": str(world.a), "F2": str(world.f2), "THIS": f"{this // 100}-{this % 100:02d}"}
    args = {k: values.get(v, v) for k, v in args.items()}
    head = _figures(app, world.c, **args)["head"]
    assert {k: head[k] for k in expected} == expected


def test_summarised_months_give_the_same_figures_as_live_counts(app, world):
    live = _figures(app, world.c)
    with app.app_context():
        assert refresh(world.c) > 0
        db.session.commit()
        cube = db.session.scalar(select(func.count()).select_from(ReportCube))
        until = db.session.get(ReportState, world.c).summarised_until
        assert utcnow() - timedelta(minutes=6) < until < utcnow()
        assert refresh(world.c) == 1  # again: only the month the last refresh left off in
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(ReportCube)) == cube
    assert _figures(app, world.c) == live
    for args in ({"course": str(world.a)}, {"job_role": "r1"}, {"skill": "s1"}):
        with app.app_context():
            db.session.execute(ReportState.__table__.delete())
            db.session.commit()
        before = _figures(app, world.c, **args)
        with app.app_context():
            refresh(world.c)
            db.session.commit()
        assert _figures(app, world.c, **args) == before


def test_a_rebuild_gives_the_same_summaries(app, world):
    with app.app_context():
        refresh(world.c)
        db.session.commit()
        rows = db.session.execute(
            select(ReportCube.month, ReportCube.firm_id, ReportCube.course_id, ReportCube.enrolled)
            .where(ReportCube.consortium_id == world.c)
            .order_by(ReportCube.month, ReportCube.firm_id, ReportCube.course_id)
        ).all()
        masks = db.session.execute(
            select(ReportWorker.user_id, ReportWorker.enrolled_months, ReportWorker.raised_months)
            .where(ReportWorker.consortium_id == world.c)
            .order_by(ReportWorker.user_id, ReportWorker.year)
        ).all()
        refresh(world.c, rebuild=True)
        db.session.commit()
        assert (
            db.session.execute(
                select(
                    ReportCube.month, ReportCube.firm_id, ReportCube.course_id, ReportCube.enrolled
                )
                .where(ReportCube.consortium_id == world.c)
                .order_by(ReportCube.month, ReportCube.firm_id, ReportCube.course_id)
            ).all()
            == rows
        )
        assert rows, "closed months with enrolments are summarised"
        assert (
            db.session.execute(
                select(
                    ReportWorker.user_id, ReportWorker.enrolled_months, ReportWorker.raised_months
                )
                .where(ReportWorker.consortium_id == world.c)
                .order_by(ReportWorker.user_id, ReportWorker.year)
            ).all()
            == masks
        )


def test_bad_filters_are_named_and_change_nothing(app, world, login):
    c = _client(app, login, world.admins["consortium"])
    body = _text(c.get(f"/consortia/{world.c}/reports?from=2026-13&firm=999999&course=x"))
    assert "YYYY-MM" in body
    assert "Choose a member firm from the list." in body
    assert "Choose a course from the list." in body
    with app.test_request_context():
        f = figures.parse_filters({"from": "2026-13", "firm": "999999"}, consortium_id=world.c)
        assert set(f.errors) == {"from", "firm"}
        assert (f.first, f.last) == figures.default_period() and f.firm_id is None
        f = figures.parse_filters({"from": "2026-05", "to": "2026-01"}, consortium_id=world.c)
        assert set(f.errors) == {"to"}


# --- scoping ------------------------------------------------------------------------------------


def test_a_firm_dashboard_counts_only_its_firm_whatever_the_query(app, world, login):
    with app.test_request_context():
        f = figures.parse_filters({}, consortium_id=world.c, firm_id=world.f1)
        assert figures.headline(figures.make_slice(world.c, f)) == HEAD_F1
    c = _client(app, login, world.admins["f1"])
    response = c.get(f"/firms/{world.f1}/reports?firm={world.f2}")
    assert response.status_code == 200, response.status_code
    body = _text(response)
    assert "=王二" in body  # the overdue list
    assert "李三" not in body and "二厂" not in body and "赵四" not in body
    for metric in figures.METRICS:
        page = _text(c.get(f"/firms/{world.f1}/reports/people?metric={metric}&firm={world.f2}"))
        assert "李三" not in page and "赵四" not in page, metric
        export = _text(
            c.get(f"/firms/{world.f1}/reports/people?metric={metric}&format=csv&firm={world.f2}")
        )
        assert "李三" not in export and "赵四" not in export, metric
    people = _text(c.get(f"/firms/{world.f1}/reports/people?metric=enrolled"))
    assert people.count("张一") == 2 and "138****0001" in people and "13800000001" not in people
    summary = list(
        csv.reader(io.StringIO(_text(c.get(f"/firms/{world.f1}/reports?format=csv&table=summary"))))
    )
    values = {row[0]: row[1] for row in summary[1:]}
    assert values["Enrolments"] == "3" and values["Workers enrolled"] == "2"
    for table in ("months", "courses", "skills", "roles"):
        rows = list(
            csv.reader(
                io.StringIO(_text(c.get(f"/firms/{world.f1}/reports?format=csv&table={table}")))
            )
        )
        assert sum(int(r[1]) for r in rows[1:] if r[1].isdigit()) == (
            2 if table == "roles" else 3
        ), table
    assert c.get(f"/firms/{world.f2}/reports").status_code == 404
    assert c.get(f"/firms/{world.f3}/reports").status_code == 404
    assert c.get(f"/consortia/{world.c}/reports").status_code == 404


def test_another_consortium_sees_nothing(app, world, login):
    c = _client(app, login, world.admins["d"])
    assert c.get(f"/consortia/{world.c}/reports").status_code == 404
    assert c.get(f"/consortia/{world.c}/reports/people?metric=enrolled").status_code == 404
    body = _text(c.get(f"/consortia/{world.d}/reports"))
    assert "一厂" not in body and "课程A" not in body


def test_the_team_progress_table_groups_by_job_role(app, world):
    with app.test_request_context():
        f = figures.parse_filters({}, consortium_id=world.c, firm_id=world.f1)
        rows = figures.by_job_role(figures.make_slice(world.c, f))
    assert [(r["job_role_id"], r["workers"], r["enrolled"], r["overdue"]) for r in rows] == [
        ("r1", 2, 3, 1)
    ]


# --- pages and exports --------------------------------------------------------------------------


def test_the_consortium_dashboard_page_has_figures_tables_and_drill_links(app, world, login):
    c = _client(app, login, world.admins["consortium"])
    body = _text(c.get(f"/consortia/{world.c}/reports"))
    assert "data-chart" in body and "<table" in body
    assert f"/consortia/{world.c}/reports/people?" in body and "metric=enrolled" in body
    assert "课程A" in body and "二厂" in body and "课程Z" not in body
    zh = _text(c.get(f"/consortia/{world.c}/reports", headers={"Accept-Language": "zh-CN"}))
    assert "<table" in zh
    people = _text(c.get(f"/consortia/{world.c}/reports/people?metric=raised"))
    assert "张一" in people and "李三" in people and "=王二" not in people and "赵四" not in people


def test_exports_neutralise_formulas_in_csv_and_xlsx(app, world, login):
    c = _client(app, login, world.admins["consortium"])
    rows = list(
        csv.reader(
            io.StringIO(_text(c.get(f"/consortia/{world.c}/reports?format=csv&table=firms")))
        )
    )
    names = [r[0] for r in rows[1:]]
    assert "'=SUM(1) 一厂" in names and "=SUM(1) 一厂" not in names
    response = c.get(f"/consortia/{world.c}/reports?format=xlsx&table=firms")
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    response.close()
    values = [row for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "Firm"
    # workers, enrolments, of which completed, rate, completions, overdue, certificates, hours
    assert ("'=SUM(1) 一厂", 2, 3, 1, 33.3, 1, 1, 1, 8) in [tuple(v) for v in values[1:]]
    people = c.get(f"/consortia/{world.c}/reports/people?metric=overdue&format=xlsx")
    sheet = load_workbook(io.BytesIO(people.data), read_only=True).active
    people.close()
    cells = [row for row in sheet.iter_rows(values_only=True)]
    assert cells[1][0] == "'=王二" and cells[1][1] == "138****0002"
    assert c.get(f"/consortia/{world.c}/reports?format=pdf&table=firms").status_code == 404
    assert c.get(f"/consortia/{world.c}/reports?format=csv&table=nope").status_code == 404


def test_a_large_export_runs_as_a_job_with_a_link_that_expires(app, world, login):
    app.config["LMS_EXPORT_INLINE_ROWS"] = 2
    try:
        c = _client(app, login, world.admins["consortium"])
        response = c.get(f"/consortia/{world.c}/reports/people?metric=enrolled&format=xlsx")
        assert response.status_code == 302 and "/jobs/" in response.headers["Location"]
        page = _text(c.get(response.headers["Location"]))
        assert "/download" in page and "5 rows exported." in page
        with app.app_context():
            job = db.session.scalars(select(Job).where(Job.kind == "exports")).one()
            public_id, creator = job.public_id, job.created_by_id
            assert job.state == "done" and job.result["rows"] == 5
        assert creator == world.admins["consortium"].id
        download = c.get(f"/jobs/{public_id}/download")
        assert download.status_code == 200
        sheet = load_workbook(io.BytesIO(download.data), read_only=True).active
        download.close()
        assert len(list(sheet.iter_rows(values_only=True))) == 6
        other = _client(app, login, world.admins["f1"])
        assert other.get(f"/jobs/{public_id}/download").status_code == 404
        with app.app_context():
            job = db.session.scalars(select(Job).where(Job.public_id == public_id)).one()
            job.result = {**job.result, "expires_at": (utcnow() - timedelta(minutes=1)).isoformat()}
            db.session.commit()
        expired = c.get(f"/jobs/{public_id}/download")
        assert expired.status_code == 410
        expired.close()
    finally:
        app.config["LMS_EXPORT_INLINE_ROWS"] = 5000


def test_the_firm_overdue_list_reminds_in_one_click(app, world, login):
    c = _client(app, login, world.admins["f1"])
    body = _text(c.get(f"/firms/{world.f1}/reports"))
    assert "/overdue/remind" in body and 'name="enrollment"' in body
    response = c.post(
        f"/firms/{world.f1}/overdue/remind",
        data={"all": "1", "next": f"/firms/{world.f1}/reports"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/reports")
    with app.app_context():
        from lms.notifications.models import Notification

        sent = db.session.scalars(
            select(Notification).where(Notification.kind == "assignment.reminder")
        ).all()
        assert [n.user_id for n in sent] == [world.users["w2"].id]


def test_months_in_the_period_before_any_data_are_zero(app, world):
    got = _figures(app, world.c, **{"from": "2001-01", "to": "2001-03"})
    assert got["head"]["enrolled"] == 0 and got["head"]["workers"] == 0
    assert [r["enrolled"] for r in got["months"]] == [0, 0, 0]
    assert months_ago(0) <= utcnow()


def test_saving_progress_makes_an_enrolment_active(app, create_firm, create_user, create_course):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    course = create_course(firm, quiz=False, lessons=2)
    with app.test_request_context():
        from lms.auth.models import User
        from lms.courses.models import Course
        from lms.learning import service as learning

        version = db.session.get(Course, course.id).versions[-1]
        enrollment, _ = learning.enroll(db.session.get(User, worker.id), version)
        assert enrollment.last_active_at is None
        learning.record_progress(enrollment, version.lessons[0], percent=40)
        db.session.refresh(enrollment)
        assert enrollment.last_active_at is not None


def test_only_evidence_above_every_earlier_verified_level_is_a_rise(app, create_firm, create_user):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    admin = create_user(role="firm_admin", firm=firm)
    with app.test_request_context():
        from lms.auth.models import User
        from lms.skills import service as skills
        from lms.tenancy.models import Firm
        from tests.conftest import ensure_skills

        ensure_skills(["s9"])
        user, rater, f = (
            db.session.get(User, worker.id),
            db.session.get(User, admin.id),
            db.session.get(Firm, firm.id),
        )
        rises = [
            skills.record_self_assessment(user, "s9", 4).raises_level,
            skills.record_rating(rater, user, f, "s9", 2).raises_level,
            skills.record_rating(rater, user, f, "s9", 2).raises_level,
            skills.record_rating(rater, user, f, "s9", 3).raises_level,
        ]
        assert rises == [False, True, False, True]
