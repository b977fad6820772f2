"""Every headline figure equals its drill-down and its export, rates never exceed 100 %, a
person in two firms is counted once, and a closed month's figures are dated (recomputing them
after new activity gives the same numbers).

The world: consortium C with firms A厂 and B厂, the month M that just ended, and the two months
before it (M-2). p1 belongs to both firms.

    e1   p1  k1 via A  enrolled in M, completed in M: certificate, 8 h, raises s7
    e2   p1  k2 via B  enrolled and started in M; the consortium's mandatory assignment, due in M
    e3   p2  k1 via A  enrolled M-2, completed in M: certificate, 8 h
    e4   p2  k2 via A  enrolled M-2; A's mandatory assignment due in M; a lesson finished in M
    e11  p2  k3 via A  enrolled M-2, completed in M: certificate, 8 h
    e5   p3  k1 via B  enrolled in M; B's mandatory assignment due in M; a quiz attempt in M;
                       completed after M (so overdue as of M's end, and not of M's cohort)
    e6   p3  k2 via B  enrolled M-2; B's mandatory assignment due in M; completed in M before
                       it: certificate, 8 h
    p4   in B, no enrolment: a rating in M raises s7
    q    consortium D: enrolled and completed in M (never in C's figures)
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from lms.certificates.models import Certificate
from lms.core.types import utcnow
from lms.courses.models import Course, CourseSkill
from lms.extensions import db
from lms.learning.models import Assignment, Enrollment, LessonProgress, QuizAttempt
from lms.reports import figures, monthly
from lms.reports.summary import local_zone, month_of, month_start, next_month, prev_month, refresh
from lms.skills.models import SkillEvidence
from lms.tenancy.models import Consortium, Membership
from lms.transcripts.models import TrainingHours
from tests.conftest import ensure_skills

COUNTED = [k for k in figures.HEADLINES if k not in ("rate", "hours")]


@dataclass
class Shared:
    c: int
    fa: int
    fb: int
    month: int
    courses: dict
    users: dict
    admins: dict
    enrolments: dict


def _day(moment) -> date:
    return moment.astimezone(local_zone()).date()


@pytest.fixture
def shared(app, create_consortium, create_firm, create_user, create_course):
    consortium, other = create_consortium(code="C2"), create_consortium(code="D2")
    fa = create_firm(consortium, name="A厂")
    fb = create_firm(consortium, name="B厂")
    fx = create_firm(other, name="外厂")
    users = {
        "p1": create_user(role="worker", firm=fa, name="双厂工", mobile="13900000001"),
        "p2": create_user(role="worker", firm=fa, name="甲", mobile="13900000002"),
        "p3": create_user(role="worker", firm=fb, name="乙", mobile="13900000003"),
        "p4": create_user(role="worker", firm=fb, name="丙", mobile="13900000004"),
        "q": create_user(role="worker", firm=fx, name="外人", mobile="13900000005"),
    }
    admins = {
        "consortium": create_user(role="consortium_admin", consortium=consortium, locale="en"),
        "fa": create_user(role="firm_admin", firm=fa, locale="en"),
        "fb": create_user(role="firm_admin", firm=fb, locale="en"),
    }
    courses = {
        "k1": create_course(fa, quiz=True, lessons=1, title="课程一"),
        "k2": create_course(fb, quiz=False, lessons=2, title="课程二"),
        "k3": create_course(fa, quiz=False, lessons=1, title="课程三"),
        "kx": create_course(fx, quiz=False, lessons=1, title="外课"),
    }
    with app.app_context():
        ensure_skills(["s7"])
        db.session.add(  # p1 works in both firms
            Membership(
                user_id=users["p1"].id,
                consortium_id=consortium.id,
                firm_id=fb.id,
                role="worker",
                starts_on=date(2026, 1, 1),
            )
        )
        versions = {}
        for key, course in courses.items():
            version = db.session.get(Course, course.id).versions[-1]
            versions[key] = version
            if key == "k1":
                db.session.add(CourseSkill(version_id=version.id, skill_id="s7", level=3))
        month = prev_month(month_of(utcnow()))
        start = month_start(month)
        before = month_start(prev_month(prev_month(month))) + timedelta(days=10)
        after_end = month_start(next_month(month)) + timedelta(hours=2)

        def at(days: float):
            return start + timedelta(days=days)

        firms = {"A": fa, "B": fb, "X": fx}
        enrolments = {}

        def enrol(name, user, course, firm, enrolled, *, completed=None, **kw):
            e = Enrollment(
                consortium_id=firms[firm].consortium_id,
                firm_id=firms[firm].id,
                user_id=users[user].id,
                course_id=courses[course].id,
                version_id=versions[course].id,
                status="completed" if completed else kw.pop("status", "enrolled"),
                enrolled_at=enrolled,
                completed_at=completed,
                **kw,
            )
            db.session.add(e)
            db.session.flush()
            enrolments[name] = e
            if completed:
                db.session.add(
                    Certificate(
                        serial=f"SC-{e.id}",
                        verification_code=f"vc-{e.id}",
                        consortium_id=e.consortium_id,
                        firm_id=e.firm_id,
                        user_id=e.user_id,
                        course_id=e.course_id,
                        version_id=e.version_id,
                        enrollment_id=e.id,
                        issued_at=completed,
                        completed_on=_day(completed),
                    )
                )
                db.session.add(
                    TrainingHours(
                        consortium_id=e.consortium_id,
                        firm_id=e.firm_id,
                        user_id=e.user_id,
                        source="course",
                        enrollment_id=e.id,
                        course_id=e.course_id,
                        hours=Decimal("8.0"),
                        credited_on=_day(completed),
                    )
                )
            return e

        def assign(e, firm, due, created):
            db.session.add(
                Assignment(
                    consortium_id=e.consortium_id,
                    firm_id=firm.id if firm else None,
                    party_key=firm.id if firm else 0,
                    enrollment_id=e.id,
                    user_id=e.user_id,
                    course_id=e.course_id,
                    source="firm" if firm else "consortium",
                    due_on=due,
                    is_mandatory=True,
                    created_at=created,
                    updated_at=created,
                )
            )
            e.due_on, e.is_mandatory = due, True

        e1 = enrol("e1", "p1", "k1", "A", at(3), completed=at(10), started_at=at(3))
        e1.last_active_at = at(10)
        e2 = enrol("e2", "p1", "k2", "B", at(4), status="in_progress", started_at=at(4))
        e2.last_active_at = at(4)
        assign(e2, None, _day(at(9)), at(4))
        enrol("e3", "p2", "k1", "A", before, completed=at(5), started_at=before)
        e4 = enrol("e4", "p2", "k2", "A", before, status="in_progress", started_at=before)
        assign(e4, fa, _day(at(6)), before)
        e4.last_active_at = at(7)  # the lesson finished in M saved progress then
        db.session.add(
            LessonProgress(
                enrollment_id=e4.id,
                lesson_key="l1",
                percent=100,
                completed_at=at(7),
                updated_at=at(7),
            )
        )
        enrol("e11", "p2", "k3", "A", before, completed=at(13), started_at=before)
        e5 = enrol("e5", "p3", "k1", "B", at(2), completed=after_end, started_at=at(2))
        assign(e5, fb, _day(at(8)), at(2))
        quiz = next(lesson for lesson in versions["k1"].lessons if lesson.type == "quiz")
        db.session.add(
            QuizAttempt(
                enrollment_id=e5.id,
                lesson_id=quiz.id,
                lesson_key=quiz.key,
                number=1,
                question_ids=[],
                started_at=at(9),
                submitted_at=at(9) + timedelta(minutes=10),
            )
        )
        e6 = enrol("e6", "p3", "k2", "B", before, completed=at(11), started_at=before)
        assign(e6, fb, _day(at(12)), before)
        enrol("eq", "q", "kx", "X", at(3), completed=at(4))
        for user, source, when, enrollment in (
            ("p1", "course", at(10), e1.id),
            ("p4", "rating", at(15), None),
            ("q", "course", at(4), None),
        ):
            db.session.add(
                SkillEvidence(
                    user_id=users[user].id,
                    skill_id="s7",
                    level=3,
                    source=source,
                    is_verified=True,
                    raises_level=True,
                    recorded_at=when,
                    enrollment_id=enrollment,
                )
            )
        db.session.commit()
        ids = {k: e.id for k, e in enrolments.items()}
    return Shared(
        consortium.id,
        fa.id,
        fb.id,
        month,
        {k: c.id for k, c in courses.items()},
        users,
        admins,
        ids,
    )


def _month_arg(month: int) -> str:
    return f"{month // 100:04d}-{month % 100:02d}"


def _slice(c: int, month: int, firm_id: int | None = None):
    return figures.make_slice(c, figures.Filters(month, month, firm_id=firm_id))


def _rows(s, metric: str) -> list:
    return db.session.execute(figures.people_query(s, metric)).all()


def _client(app, login, user):
    c = app.test_client()
    login(user, c=c)
    return c


def _csv(c, url: str) -> list[list[str]]:
    response = c.get(url)
    assert response.status_code == 200, (url, response.status_code)
    body = response.get_data(as_text=True)
    response.close()
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


EXPECTED = {
    # consortium: 3 enrolments of M, 4 completions in M (old definition: 133 %), 1 of M's
    # enrolments completed by its end; p1 is one worker, though enrolled through A and B.
    "consortium": {
        "workers": 2,
        "active": 3,
        "enrolled": 3,
        "completed": 4,
        "cohort": 1,
        "rate": 33.3,
        "overdue": 3,
        "certificates": 4,
        "hours": 32.0,
        "raised": 2,
    },
    "A": {
        "workers": 1,
        "active": 2,
        "enrolled": 1,
        "completed": 3,  # old definition: 300 %
        "cohort": 1,
        "rate": 100.0,
        "overdue": 1,
        "certificates": 3,
        "hours": 24.0,
        "raised": 1,
    },
    "B": {
        "workers": 2,
        "active": 2,
        "enrolled": 2,
        "completed": 1,
        "cohort": 0,
        "rate": 0.0,
        "overdue": 1,
        "certificates": 1,
        "hours": 8.0,
        "raised": 2,
    },
}


def _check_against_drill_downs(s, head: dict) -> None:
    """Each counted figure = its drill-down's rows; hours = the sum of the credits listed."""
    for key in COUNTED:
        assert head[key] == len(_rows(s, key)), key
    assert head["hours"] == float(sum(r.hours for r in _rows(s, "hours")))
    for key in figures.PEOPLE_METRICS:  # one row per person
        people = [r.user_id for r in _rows(s, key)]
        assert len(people) == len(set(people)), key
    assert head["rate"] is None or 0 <= head["rate"] <= 100


def test_every_headline_equals_its_drill_down_and_export(app, shared, login):
    w = shared
    month = _month_arg(w.month)
    views = {
        "consortium": (None, f"/consortia/{w.c}", w.admins["consortium"]),
        "A": (w.fa, f"/firms/{w.fa}", w.admins["fa"]),
        "B": (w.fb, f"/firms/{w.fb}", w.admins["fb"]),
    }
    with app.test_request_context():
        for name, (firm_id, _base, _admin) in views.items():
            s = _slice(w.c, w.month, firm_id)
            head = figures.headline(s)
            assert head == EXPECTED[name], name
            _check_against_drill_downs(s, head)
        # The by-firm rows are the firm dashboards (p1 counts under both firms).
        rows = {r["firm_id"]: r for r in figures.by_firm(_slice(w.c, w.month))}
        for firm_id, name in ((w.fa, "A"), (w.fb, "B")):
            for key in ("workers", "enrolled", "completed", "cohort", "rate", "overdue"):
                assert rows[firm_id][key] == EXPECTED[name][key], (name, key)
        assert rows[w.fa]["workers"] + rows[w.fb]["workers"] == 3  # > 2: stated on the page

    for name, (_firm_id, base, admin) in views.items():
        c = _client(app, login, admin)
        summary = _csv(c, f"{base}/reports?format=csv&table=summary&from={month}&to={month}")
        values = dict(zip(figures.HEADLINES, (row[1] for row in summary[1:]), strict=True))
        for key in figures.HEADLINES:
            assert values[key] == str(EXPECTED[name][key]), (name, key)
        for key in COUNTED:
            rows = _csv(c, f"{base}/reports/people?metric={key}&format=csv&from={month}&to={month}")
            assert len(rows) - 1 == EXPECTED[name][key], (name, key)
        page = c.get(f"{base}/reports?from={month}&to={month}")
        body = page.get_data(as_text=True)
        page.close()
        assert "How is each figure counted?" in body and 'id="def-rate"' in body
        assert "as of the end of" in body  # a closed month's "as of" figures are dated
        if name != "consortium":  # its overdue list is of then: no reminders from it
            assert "To send reminders" in body and 'name="enrollment"' not in body
        for table in ("months", "courses", "skills", "firms", "roles"):
            if (
                name == "consortium"
                and table == "roles"
                or name != "consortium"
                and table == "firms"
            ):
                continue
            rows = _csv(c, f"{base}/reports?format=csv&table={table}&from={month}&to={month}")
            column = rows[0].index("Completion rate (%)")
            rates = [float(r[column]) for r in rows[1:] if r[column]]
            assert rates and all(0 <= r <= 100 for r in rates), (name, table, rates)


def test_a_person_in_two_firms_is_one_row_with_both_firms(app, shared, login):
    w = shared
    with app.test_request_context():  # the users' language: Chinese
        s = _slice(w.c, w.month)
        for metric in figures.PEOPLE_METRICS:
            rows = {r.name: r.firm for r in _rows(s, metric)}
            assert rows["双厂工"] == "A厂、B厂", metric
        raised = [r.name for r in _rows(s, "raised")]
        assert sorted(raised) == sorted(["双厂工", "丙"])  # 丙 never enrolled: a rating
    c = _client(app, login, w.admins["consortium"])
    month = _month_arg(w.month)
    page = c.get(f"/consortia/{w.c}/reports/people?metric=workers&from={month}&to={month}")
    body = page.get_data(as_text=True)
    page.close()
    assert body.count("双厂工") == 1 and "A厂, B厂" in body  # the admin reads English
    assert "One row per person" in body


def _figures_of(ctx: dict) -> dict:
    """What a monthly report says, less when it was generated and the charts' drawing."""
    return {
        "headline": ctx["headline"],
        "tables": [ctx[k] for k in ("trend", "firms", "courses", "skills")],
        "notes": ctx["t"]["now_note"],
        "definitions": ctx["definitions"],
    }


def _number(text: str):
    text = text.replace(",", "").replace(" %", "")
    return None if text == "–" else float(text)


def test_the_monthly_report_equals_the_drill_downs_and_stays_the_same(app, shared):
    w = shared
    with app.test_request_context():
        consortium = db.session.get(Consortium, w.c)
        ctx = monthly.monthly_context(consortium, w.month, "en")
        shown = {k: row["month"] for k, row in zip(figures.HEADLINES, ctx["headline"], strict=True)}
        s = _slice(w.c, w.month)
        for key in COUNTED:
            assert _number(shown[key]) == len(_rows(s, key)), key
        assert _number(shown["rate"]) == 33.3 and _number(shown["hours"]) == 32.0
        for table in ("trend", "firms", "courses", "skills"):
            header = ctx[table]["header"]
            column = header.index("Completion rate (%)")
            for row in ctx[table]["rows"]:
                rate = _number(row[column])
                assert rate is None or 0 <= rate <= 100, (table, row)
        assert "as of the end of" in ctx["t"]["now_note"]
        before = _figures_of(ctx)
        refresh(w.c)  # summaries written in between change no figure
        db.session.commit()

        # New activity: an enrolment, a completion of an enrolment of M, progress, a quiz
        # attempt, a rising level, and an assignment overdue as of today.
        now = utcnow()
        e2 = db.session.get(Enrollment, w.enrolments["e2"])
        e2.status, e2.completed_at, e2.last_active_at = "completed", now, now
        e4 = db.session.get(Enrollment, w.enrolments["e4"])
        e4.last_active_at = now
        db.session.execute(
            LessonProgress.__table__.update()
            .where(LessonProgress.enrollment_id == e4.id)
            .values(updated_at=now)
        )
        e5 = db.session.get(Enrollment, w.enrolments["e5"])
        quiz = db.session.scalars(select(QuizAttempt).where(QuizAttempt.enrollment_id == e5.id))
        first = quiz.one()
        db.session.add(
            QuizAttempt(
                enrollment_id=e5.id,
                lesson_id=first.lesson_id,
                lesson_key=first.lesson_key,
                number=2,
                question_ids=[],
                started_at=now,
                submitted_at=now,
            )
        )
        db.session.add(
            Enrollment(
                consortium_id=w.c,
                firm_id=w.fb,
                user_id=w.users["p4"].id,
                course_id=w.courses["k1"],
                version_id=e5.version_id,
                status="in_progress",
                enrolled_at=now,
                started_at=now,
                last_active_at=now,
            )
        )
        db.session.add(
            Assignment(
                consortium_id=w.c,
                firm_id=None,
                party_key=0,
                enrollment_id=e4.id,
                user_id=e4.user_id,
                course_id=e4.course_id,
                source="consortium",
                due_on=_day(now) - timedelta(days=1),
                is_mandatory=True,
                created_at=now,
                updated_at=now,
            )
        )
        db.session.add(
            SkillEvidence(
                user_id=w.users["p3"].id,
                skill_id="s7",
                level=4,
                source="rating",
                is_verified=True,
                raises_level=True,
                recorded_at=now,
            )
        )
        db.session.commit()
        # The present did change: today's overdue figure counts the new assignment.
        this = figures.headline(_slice(w.c, month_of(now)))
        assert this["overdue"] == 2  # e4: A's and the new one; e2 and e5 are done now

        again = monthly.monthly_context(consortium, w.month, "en")
        assert _figures_of(again) == before
        refresh(w.c)
        db.session.commit()
        assert _figures_of(monthly.monthly_context(consortium, w.month, "en")) == before
        assert db.session.scalar(select(func.count()).select_from(Enrollment)) == 9
