"""Trainer analytics of a course: exact figures on a small seeded course (enrolments, the lesson
funnel, time, quiz item statistics, pending sign-offs), filters, CSV/XLSX exports, scoping and
the empty state."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import yaml
from openpyxl import load_workbook
from sqlalchemy import update

from lms.auth.models import User
from lms.courses.models import Course, CourseVersion
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment
from lms.reports import course_analytics as analytics
from lms.tenancy.models import Consortium, Firm
from tests.courses.helpers import import_dir, write_files

TITLE = "=SUM(1,2) 安全操作培训"
ANSWER = "=A1+1"
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
JUNE = datetime(2026, 6, 15, 10, tzinfo=UTC)  # 18:00 in Shanghai
# 01:00 on 1 June in Shanghai, still 31 May in UTC: the period filter works in local dates.
LATE_MAY = datetime(2026, 5, 31, 17, tzinfo=UTC)


def _package(root, slug: str):
    course = {
        "slug": slug,
        "version": 1,
        "language": "zh-CN",
        "title": TITLE,
        "summary": "统计测试课程。",
        "sector": "smart-manufacturing",
        "hours": 2,
        "skills": [],
        "prerequisites": [],
        "pass_mark": 60,
        "modules": [
            {
                "title": "模块一",
                "lessons": [
                    {"file": "lessons/01.md"},
                    {"file": "lessons/02.md"},
                    {"quiz": "quizzes/q.yaml"},
                ],
            },
            {
                "title": "模块二",
                "lessons": [
                    {"practical": "接线实操", "checklist": ["断电挂牌", "按图接线"]},
                    {"file": "lessons/03.md"},
                ],
            },
        ],
    }
    quiz = {
        "title": "安全小测",
        "pass_mark": 60,
        "attempts": 3,
        "shuffle": False,
        "questions": [
            {"type": "true_false", "prompt": "急停按钮是红色的。", "answer": True},
            {"type": "true_false", "prompt": "可以带电接线。", "answer": False},
            {"type": "fill_blank", "prompt": "单元格公式？", "answer": ANSWER},
        ],
    }
    return write_files(
        root / slug,
        {
            "course.yaml": yaml.safe_dump(course, allow_unicode=True, sort_keys=False),
            "lessons/01.md": "---\ntitle: 安全须知\nminutes: 10\n---\n正文。\n",
            "lessons/02.md": (
                "---\ntitle: 操作演示\ntype: video\nvideo: media/clip.mp4\nminutes: 6\n"
                "---\n视频。\n"
            ),
            "lessons/03.md": "---\ntitle: 总结\nminutes: 5\n---\n总结。\n",
            "quizzes/q.yaml": yaml.safe_dump(quiz, allow_unicode=True, sort_keys=False),
            "media/clip.mp4": b"\x00\x00\x00\x18ftypmp42",
        },
    )


# Each learner's path: lessons done, the video's furthest position (seconds, percent), quiz
# attempts (1 = right per question), practical signed, last lesson done, withdrawn.
PATHS = {
    "A": dict(firm="a", l1=True, video=(300, 100), quiz=["111"], signed=True, last=True),
    "B": dict(firm="a", l1=True, video=(360, 100), quiz=["110"]),
    "C": dict(firm="a", l1=True, video=(200, 100), quiz=["100", "111"]),
    "D": dict(firm="b", l1=True, video=(90, 50), quiz=["010"]),
    "E": dict(firm="b", l1=True, quiz=["100"]),
    "F": dict(firm="b"),
    "G": dict(firm="a", l1=True, withdrawn=True),
}


@dataclass
class World:
    course_id: int
    slug: str
    firm_a: Firm
    firm_b: Firm
    consortium: Consortium
    trainer: User
    learners: dict[str, User]


@pytest.fixture
def world(app, tmp_path, create_consortium, create_firm, create_user) -> World:
    consortium = create_consortium()
    firm_a = create_firm(consortium, name="甲厂")
    firm_b = create_firm(consortium, name="乙厂")
    trainer = create_user(role="trainer", firm=firm_a, locale="en")
    learners = {
        key: create_user(
            role="worker", firm=firm_a if path["firm"] == "a" else firm_b, name=f"学员{key}"
        )
        for key, path in PATHS.items()
    }
    published = import_dir(app, firm_a.id, _package(tmp_path, "analytics-course"))
    with app.test_request_context():
        version = db.session.get(CourseVersion, published.version_id)
        lessons = {lesson.key: lesson for lesson in version.lessons}
        l1, l2, l3 = (lessons[f"lessons/0{n}.md"] for n in (1, 2, 3))
        quiz = lessons["quizzes/q.yaml"]
        practical = next(x for x in version.lessons if x.type == "practical")
        questions = [q.id for q in quiz.questions]
        right = ["true", "false", ANSWER]
        wrong = ["false", "true", "x"]
        for key, path in PATHS.items():
            user = db.session.get(User, learners[key].id)
            enrollment, _ = learning.enroll(user, version)
            if path.get("l1"):
                learning.record_progress(enrollment, l1, percent=100)
            if "video" in path:
                seconds, percent = path["video"]
                learning.record_progress(enrollment, l2, percent=percent, position_seconds=seconds)
            for pattern in path.get("quiz", []):
                attempt = learning.start_attempt(enrollment, quiz)
                answers = {
                    str(qid): (right if bit == "1" else wrong)[i]
                    for i, (qid, bit) in enumerate(zip(questions, pattern, strict=True))
                }
                learning.submit_attempt(attempt, answers)
            if path.get("signed"):
                learning.sign_off_practical(db.session.get(User, trainer.id), enrollment, practical)
            if path.get("last"):
                learning.record_progress(enrollment, l3, percent=100)
            if path.get("withdrawn"):
                learning.withdraw(user, enrollment)
            # Dates the figures depend on, set exactly.
            values = {"enrolled_at": JUNE if path["firm"] == "b" else MARCH}
            if key == "G":
                values["enrolled_at"] = LATE_MAY
            if key in ("A", "F", "G"):
                values["due_on"] = date.today() - timedelta(days=3)
            if key == "A":
                values["started_at"] = MARCH + timedelta(hours=8)
                values["completed_at"] = MARCH + timedelta(days=2, hours=20)  # 60 hours later
            db.session.execute(
                update(Enrollment).where(Enrollment.id == enrollment.id).values(**values)
            )
        db.session.commit()
    return World(published.course_id, published.slug, firm_a, firm_b, consortium, trainer, learners)


def _figures(app, world: World, **filters):
    """(summary, funnel, quiz stats, pending names) computed in a request context."""
    with app.test_request_context():
        course = db.session.get(Course, world.course_id)
        if "firm" in filters:
            filters["firm"] = db.session.get(Firm, filters["firm"].id)
        f = analytics.CourseFilters(**filters)
        summary = analytics.enrollment_summary(course, f)
        funnel = analytics.lesson_funnel(course, f)
        steps = [
            (s.lesson.title, s.reached, s.completed, s.lost, s.is_biggest_drop)
            for s in funnel.steps
        ]
        quizzes = [
            (
                q.attempts,
                q.learners,
                [(i.answered, i.correct, i.discrimination, i.flags) for i in q.items],
            )
            for q in analytics.quiz_item_stats(course, f)
        ]
        pending = [
            e.user.name for e in db.session.scalars(analytics.pending_signoffs(course, f)).all()
        ]
        return summary, funnel.enrolled, steps, quizzes, pending


def _open(app, login, user, url: str):
    client = app.test_client()
    login(user, c=client)
    response = client.get(url)
    response.close()
    return response


# --- figures ---------------------------------------------------------------------------------


def test_enrolment_counts_time_and_study_time_are_exact(app, world):
    summary, *_ = _figures(app, world)
    assert (summary.total, summary.withdrawn, summary.active) == (7, 1, 6)
    assert (summary.started, summary.completed, summary.overdue) == (6, 1, 1)  # F never started
    assert summary.completion_rate == pytest.approx(1 / 6)
    assert summary.pending_signoffs == 2  # B and C
    assert summary.average_seconds == pytest.approx(60 * 3600)
    assert summary.median_seconds == pytest.approx(60 * 3600)
    # Planned minutes of completed lessons: A 10+6+5, B 16, C 16, D 10, E 10, G 10 = 83 over
    # 6 learners who started; video positions 300+360+200+90 = 950 s over the same 6.
    assert summary.planned_minutes == pytest.approx(83 / 6)
    assert summary.video_seconds == pytest.approx(950 / 6)


def test_funnel_counts_reached_and_completed_per_lesson_and_flags_the_biggest_drop(app, world):
    _, enrolled, steps, _, _ = _figures(app, world)
    assert enrolled == 7
    assert steps == [
        # lesson, reached, completed, lost here, biggest drop
        ("安全须知", 6, 6, 1, False),
        ("操作演示", 4, 3, 3, True),  # D stopped mid-video, E skipped it, G left
        ("安全小测", 5, 3, 0, False),  # an attempt counts as reaching the quiz
        ("接线实操", 1, 1, 2, False),  # B and C wait for the sign-off
        ("总结", 1, 1, 0, False),
    ]


def test_quiz_items_share_correct_and_point_biserial_discrimination_by_hand(app, world):
    _, _, _, quizzes, _ = _figures(app, world)
    [(attempts, learners, items)] = quizzes
    # Six submitted attempts; C's second one is left out: first attempts only.
    assert (attempts, learners) == (6, 5)
    # First attempts A 111, B 110, C 100, D 010, E 100 (totals 3, 2, 1, 1, 1).
    # Q1 x = 1,1,1,0,1, rest r = 2,1,0,1,0: n=5 Σx=4 Σr=4 Σr²=6 Σxr=3
    #    (5·3 − 4·4) / √((5·4 − 16)(5·6 − 16)) = −1/√56
    # Q2 x = 1,1,0,1,0, r = 2,1,1,0,1: Σx=3 Σr=5 Σr²=7 Σxr=3 → (15 − 15)/… = 0
    # Q3 x = 1,0,0,0,0, r = 2,2,1,1,1: Σx=1 Σr=7 Σr²=11 Σxr=2 → (10 − 7)/√(4·6) = 3/√24
    (n1, c1, d1, f1), (n2, c2, d2, f2), (n3, c3, d3, f3) = items
    assert (n1, c1, n2, c2, n3, c3) == (5, 4, 5, 3, 5, 1)
    assert d1 == pytest.approx(-1 / math.sqrt(56))
    assert d2 == pytest.approx(0)
    assert d3 == pytest.approx(3 / math.sqrt(24))
    assert (f1, f2, f3) == (["weak"], ["weak"], ["hard"])


def test_item_flags_cover_too_easy_and_undefined_discrimination():
    assert analytics.item_flags(0.96, 0.5) == ["easy"]
    assert analytics.item_flags(0.95, 0.2) == []
    assert analytics.item_flags(0.29, None) == ["hard"]
    assert analytics.item_flags(None, None) == []


def test_pending_signoffs_list_learners_who_reached_the_practical_unsigned(app, world):
    *_, pending = _figures(app, world)
    assert pending == ["学员B", "学员C"]  # A is signed, D never finished the video, G left


def test_median_and_average_time_to_complete(
    app, create_course, create_firm, create_user, create_consortium
):
    consortium = create_consortium()
    firm_x, firm_y = create_firm(consortium), create_firm(consortium)
    course = create_course(firm_x)
    spans = [
        (create_user(role="worker", firm=firm), hours)
        for firm, hours in ((firm_x, 10), (firm_x, 20), (firm_x, 90), (firm_y, 30))
    ]
    with app.test_request_context():
        version = db.session.get(Course, course.id).versions[-1]
        for user, hours in spans:
            enrollment, _ = learning.enroll(db.session.get(User, user.id), version)
            db.session.execute(
                update(Enrollment)
                .where(Enrollment.id == enrollment.id)
                .values(
                    status="completed",
                    started_at=MARCH,
                    completed_at=MARCH + timedelta(hours=hours),
                )
            )
        db.session.commit()
        course = db.session.get(Course, course.id)
        everyone = analytics.enrollment_summary(course, analytics.CourseFilters())
        assert everyone.average_seconds == pytest.approx(37.5 * 3600)
        assert everyone.median_seconds == pytest.approx(25 * 3600)  # (20 + 30) / 2
        one_firm = analytics.enrollment_summary(
            course, analytics.CourseFilters(firm=db.session.get(Firm, firm_x.id))
        )
        assert one_firm.average_seconds == pytest.approx(40 * 3600)
        assert one_firm.median_seconds == pytest.approx(20 * 3600)


# --- filters ---------------------------------------------------------------------------------


def test_firm_filter_narrows_every_figure(app, world):
    summary, enrolled, steps, quizzes, pending = _figures(app, world, firm=world.firm_b)
    assert (summary.total, summary.started, summary.completed, summary.overdue) == (3, 2, 0, 1)
    assert enrolled == 3
    assert [(s[1], s[2]) for s in steps] == [(2, 2), (1, 0), (2, 0), (0, 0), (0, 0)]
    assert [(q[0], q[1]) for q in quizzes] == [(2, 2)]
    assert pending == []


def test_period_filter_uses_local_dates(app, world):
    june, *_ = _figures(app, world, enrolled_from=date(2026, 6, 1))
    assert june.total == 4  # D, E, F and G (01:00 on 1 June in Shanghai)
    spring, *_ = _figures(app, world, enrolled_to=date(2026, 5, 31))
    assert spring.total == 3  # A, B, C
    assert spring.completed == 1 and spring.pending_signoffs == 2


def test_version_filter_and_bad_filter_values_are_explained(app, world, login):
    url = f"/courses/{world.slug}/analytics"
    page = _open(app, login, world.trainer, url + "?version=1").get_data(as_text=True)
    assert "Version: choose one from the list." not in page
    response = _open(
        app, login, world.trainer, url + "?version=9&enrolled_from=2026-13-01&enrolled_to=x"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Version: choose one from the list." in page
    assert "Enrolled from: enter a date like 2026-11-28." in page
    assert 'aria-invalid="true"' in page
    backwards = _open(
        app, login, world.trainer, url + "?enrolled_from=2026-06-01&enrolled_to=2026-05-01"
    ).get_data(as_text=True)
    assert "Enrolled to: the date is before" in backwards


# --- the page, exports and scoping -------------------------------------------------------------


def test_trainer_sees_aggregates_chart_and_table_but_no_personal_data(app, world, login):
    response = _open(app, login, world.trainer, f"/courses/{world.slug}/analytics")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="funnel-chart"' in page and "funnel-chart-data" in page  # chart …
    assert "操作演示" in page and "Biggest drop" in page  # … next to its table
    assert "学员B" in page and "学员C" in page  # pending sign-offs: name and firm
    for key in ("A", "D", "E", "F", "G"):
        assert f"学员{key}" not in page
    for user in world.learners.values():
        assert user.mobile not in page and user.email not in page
    assert f"/courses/{world.slug}/learners" in page
    assert 'name="firm"' not in page  # the firm filter is the consortium admins'


def test_trainer_cannot_narrow_to_a_firm(app, world, login):
    response = _open(
        app,
        login,
        world.trainer,
        f"/courses/{world.slug}/analytics?format=csv&table=summary&firm={world.firm_b.id}",
    )
    rows = _csv(response)
    assert dict(rows[1:])["Enrolments"] == "7"


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def _xlsx(response) -> list[list]:
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    try:
        return [list(row) for row in workbook.active.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _same(rows) -> list[list]:
    """Cells compared across formats: numbers as numbers (CSV "1.0" is XLSX 1), blanks as ""."""

    def cell(value):
        if value is None:
            return ""
        try:
            return round(float(value), 6)
        except ValueError:
            return value

    return [[cell(v) for v in row] for row in rows]


@pytest.fixture
def admin(create_user, world):
    return create_user(role="consortium_admin", consortium=world.consortium, locale="en")


def test_exports_parse_back_to_the_page_rows_with_filters_and_neutralised_cells(
    app, world, login, admin
):
    client = app.test_client()
    login(admin, c=client)
    base = f"/courses/{world.slug}/analytics?firm={world.firm_a.id}"
    funnel_csv = _csv(client.get(base + "&format=csv&table=funnel"))
    assert funnel_csv[0][:4] == ["No.", "Lesson", "Type", "Reached"]
    # Firm A: A, B, C and G.
    assert [row[3] for row in funnel_csv[1:]] == ["4", "3", "3", "1", "1"]
    funnel_xlsx = _xlsx(client.get(base + "&format=xlsx&table=funnel"))
    assert _same(funnel_xlsx) == _same(funnel_csv)

    items_csv = _csv(client.get(base + "&format=csv&table=items"))
    assert [row[4] for row in items_csv[1:]] == ["True", "False", "'" + ANSWER]
    # Firm A's first attempts: A 111, B 110, C 100.
    assert [_same([row[5:7]])[0] for row in items_csv[1:]] == [[3, 1], [3, 0.667], [3, 0.333]]
    assert _same(_xlsx(client.get(base + "&format=xlsx&table=items"))) == _same(items_csv)

    summary_csv = _csv(client.get(base + "&format=csv&table=summary"))
    figures = dict(summary_csv[1:])
    assert figures["Course"] == "'" + TITLE
    assert figures["Firm"] == "甲厂"
    assert figures["Enrolments"] == "4"
    summary_xlsx = _xlsx(client.get(base + "&format=xlsx&table=summary"))
    assert _same(summary_xlsx) == _same(summary_csv)

    signoffs = _csv(client.get(base + "&format=csv&table=signoffs"))
    assert signoffs == [
        ["Name", "Firm", "Module", "Practical task"],
        ["学员B", "甲厂", "模块二", "接线实操"],
        ["学员C", "甲厂", "模块二", "接线实操"],
    ]
    assert _xlsx(client.get(base + "&format=xlsx&table=signoffs")) == signoffs
    assert client.get(base + "&format=pdf&table=funnel").status_code == 404
    assert client.get(base + "&format=csv&table=people").status_code == 404


def test_consortium_admin_page_has_the_firm_filter_and_export_links_keep_it(
    app, world, login, admin
):
    response = _open(app, login, admin, f"/courses/{world.slug}/analytics?firm={world.firm_b.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="firm"' in page and "乙厂" in page
    assert f"firm={world.firm_b.id}" in page and "table=funnel" in page
    assert "Nobody is waiting for a sign-off." in page


def test_other_firms_trainer_and_workers_get_403_and_another_consortium_404(
    app, world, login, create_user, create_firm, create_consortium
):
    url = f"/courses/{world.slug}/analytics"
    other_trainer = create_user(role="trainer", firm=world.firm_b)
    assert _open(app, login, other_trainer, url).status_code == 404
    assert _open(app, login, world.learners["A"], url).status_code == 404
    assert _open(app, login, world.learners["A"], url + "?format=csv").status_code == 404
    elsewhere = create_consortium()
    foreign = create_user(role="consortium_admin", consortium=elsewhere)
    assert _open(app, login, foreign, url).status_code == 404
    assert _open(app, login, foreign, url + "?format=xlsx&table=signoffs").status_code == 404
    guest = app.test_client().get(url)
    assert guest.status_code == 302 and "/login" in guest.headers["Location"]


def test_course_without_enrolments_shows_the_empty_state(app, login, create_course, create_user):
    course = create_course(practical=True)
    with app.app_context():
        firm = db.session.get(Firm, course.firm_id)
    trainer = create_user(role="trainer", firm=firm, locale="en")
    response = _open(app, login, trainer, f"/courses/{course.slug}/analytics")
    assert response.status_code == 200
    assert "Nobody is enrolled in this course yet." in response.get_data(as_text=True)
    client = app.test_client()
    login(trainer, c=client)
    rows = _csv(client.get(f"/courses/{course.slug}/analytics?format=csv&table=summary"))
    assert dict(rows[1:])["Enrolments"] == "0"
    funnel = _csv(client.get(f"/courses/{course.slug}/analytics?format=csv&table=funnel"))
    assert [row[3] for row in funnel[1:]] == ["0"] * (len(funnel) - 1)


def test_learners_page_and_authoring_page_link_to_the_analytics(app, world, login):
    link = f"/courses/{world.slug}/analytics"
    learners = _open(app, login, world.trainer, f"/courses/{world.slug}/learners")
    assert link in learners.get_data(as_text=True)
    authoring = f"/authoring/firms/{world.firm_a.id}/courses/{world.slug}/v1"
    assert link in _open(app, login, world.trainer, authoring).get_data(as_text=True)
