"""Lesson progress and course completion: progress only grows, saves are idempotent, resume
goes to the last lesson, completion is recorded and announced exactly once, practical tasks
need a trainer's sign-off, and concurrent saves on PostgreSQL lose nothing."""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from lms.auth.models import User
from lms.courses.models import Lesson
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment, LessonProgress, PracticalSignoff
from tests.learning.conftest import QUIZ_EACH_TYPE

CORRECT = {
    "single": "红色",
    "multiple": ["安全帽", "防护手套"],
    "true_false": "false",
    "fill_blank": "TON",
}


def progress_row(enrollment_id: int, key: str) -> tuple | None:
    row = db.session.scalars(
        select(LessonProgress).where(
            LessonProgress.enrollment_id == enrollment_id, LessonProgress.lesson_key == key
        )
    ).first()
    return None if row is None else (row.percent, row.position_seconds, row.completed_at)


@pytest.fixture
def course(firm, publish):
    return publish(firm, "safety-basics", lessons=3)


@pytest.fixture
def enrolled(worker, course, enrol):
    return enrol(worker, course)


def save(enrolled, course, key: str, percent: int, position: float = 0) -> None:
    learning.record_progress(
        db.session.get(Enrollment, enrolled.id),
        db.session.get(Lesson, course.lesson(key)),
        percent=percent,
        position_seconds=position,
    )


# --- progress ----------------------------------------------------------------------------


def test_progress_never_goes_backwards(app, course, enrolled):
    with app.test_request_context():
        save(enrolled, course, "lessons/01.md", 80, position=120)
        save(enrolled, course, "lessons/01.md", 30, position=30)
        db.session.commit()
        percent, position, completed_at = progress_row(enrolled.id, "lessons/01.md")
    assert (percent, position, completed_at) == (80, 120, None)


def test_progress_grows_and_out_of_range_values_are_clamped(app, course, enrolled):
    with app.test_request_context():
        save(enrolled, course, "lessons/01.md", -5, position=-3)
        assert progress_row(enrolled.id, "lessons/01.md")[:2] == (0, 0)
        save(enrolled, course, "lessons/01.md", 40, position=50)
        assert progress_row(enrolled.id, "lessons/01.md")[:2] == (40, 50)
        save(enrolled, course, "lessons/01.md", 250, position=60)
        percent, position, completed_at = progress_row(enrolled.id, "lessons/01.md")
    assert (percent, position) == (100, 60)
    assert completed_at is not None


def test_a_replayed_save_is_harmless(app, course, enrolled):
    with app.test_request_context():
        save(enrolled, course, "lessons/02.md", 55, position=33.5)
        first = progress_row(enrolled.id, "lessons/02.md")
        save(enrolled, course, "lessons/02.md", 55, position=33.5)
        rows = db.session.scalar(
            select(func.count())
            .select_from(LessonProgress)
            .where(LessonProgress.enrollment_id == enrolled.id)
        )
        assert progress_row(enrolled.id, "lessons/02.md") == first == (55, 33.5, None)
        assert rows == 1
        assert db.session.get(Enrollment, enrolled.id).status == "in_progress"


def test_the_autosave_endpoint_is_idempotent_and_reports_the_kept_values(
    course, enrolled, worker, login, client
):
    login(worker)
    url = f"{enrolled.url}/lessons/{course.lesson('lessons/01.md')}/progress"
    first = client.post(url, json={"percent": 70, "position": 42})
    replay = client.post(url, json={"percent": 70, "position": 42})
    older = client.post(url, json={"percent": 20, "position": 5})
    expected = {"percent": 70, "position": 42.0, "completed": False, "course_completed": False}
    assert first.get_json() == replay.get_json() == older.get_json() == expected
    bad = client.post(url, json={"percent": "lots"})
    assert bad.status_code == 400


def test_mark_done_completes_a_lesson_and_moves_to_the_next(
    app, course, enrolled, worker, login, client
):
    login(worker)
    response = client.post(f"{enrolled.url}/lessons/{course.lesson('lessons/01.md')}/done")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/lessons/{course.lesson('lessons/02.md')}")
    with app.app_context():
        percent, _position, completed_at = progress_row(enrolled.id, "lessons/01.md")
        assert progress_row(enrolled.id, "lessons/02.md") is None
    assert percent == 100 and completed_at is not None
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert page.count('class="status ok"') >= 1  # lesson 1 ticked in the outline


def test_mark_done_does_not_complete_a_quiz_lesson(
    app, firm, worker, publish, enrol, login, client
):
    course = publish(firm, "quizzed", lessons=1, quiz=True)
    enrolled = enrol(worker, course)
    login(worker)
    client.post(f"{enrolled.url}/lessons/{course.lesson('quizzes/final.yaml')}/done")
    with app.app_context():
        assert progress_row(enrolled.id, "quizzes/final.yaml") is None


def test_resume_goes_to_the_last_lesson_visited(app, course, enrolled, worker, login, client):
    login(worker)
    first_visit = client.get(enrolled.url)
    assert first_visit.headers["Location"].endswith(f"/lessons/{course.lesson('lessons/01.md')}")
    with app.test_request_context():
        save(enrolled, course, "lessons/01.md", 10)
        save(enrolled, course, "lessons/03.md", 25)
        db.session.commit()
    resume = client.get(enrolled.url)
    assert resume.headers["Location"].endswith(f"/lessons/{course.lesson('lessons/03.md')}")


def test_resume_skips_a_finished_last_lesson_to_the_first_unfinished(
    app, course, enrolled, worker, login, client
):
    with app.test_request_context():
        save(enrolled, course, "lessons/01.md", 100)
        save(enrolled, course, "lessons/03.md", 100)
        db.session.commit()
    login(worker)
    resume = client.get(enrolled.url)
    assert resume.headers["Location"].endswith(f"/lessons/{course.lesson('lessons/02.md')}")


# --- completion --------------------------------------------------------------------------


@pytest.fixture
def completions():
    """The enrolment ids announced by lms.learning.service.course_completed."""
    received: list[int] = []

    def receiver(sender, **_kw):
        received.append(sender.id)

    with learning.course_completed.connected_to(receiver):
        yield received


def answer_all(lesson: Lesson, attempt, correct: bool) -> dict:
    questions = {q.id: q for q in lesson.questions}
    responses = {}
    for qid in attempt.question_ids:
        q = questions[qid]
        responses[str(qid)] = CORRECT[q.type] if correct else None
    return responses


def test_completion_needs_every_lesson_and_a_passed_quiz_and_happens_once(
    app, firm, worker, publish, enrol, completions
):
    course = publish(firm, "with-quiz", lessons=2, quiz=QUIZ_EACH_TYPE)
    enrolled = enrol(worker, course)
    with app.test_request_context():
        save(enrolled, course, "lessons/01.md", 100)
        save(enrolled, course, "lessons/02.md", 100)
        enrollment = db.session.get(Enrollment, enrolled.id)
        assert enrollment.status == "in_progress"
        assert learning.check_completion(enrollment) is False

        quiz = db.session.get(Lesson, course.lesson("quizzes/final.yaml"))
        failed = learning.start_attempt(enrollment, quiz)
        learning.submit_attempt(failed, answer_all(quiz, failed, correct=False))
        assert db.session.get(Enrollment, enrolled.id).status == "in_progress"
        assert completions == []

        passed = learning.start_attempt(enrollment, quiz)
        learning.submit_attempt(passed, answer_all(quiz, passed, correct=True))
        db.session.commit()
        enrollment = db.session.get(Enrollment, enrolled.id)
        assert (enrollment.status, enrollment.score) == ("completed", 100.0)
        completed_at = enrollment.completed_at
        assert completed_at is not None
        assert completions == [enrolled.id]

        # Once only: checking again, saving again or replaying the submit changes nothing.
        assert learning.check_completion(enrollment) is True
        save(enrolled, course, "lessons/01.md", 100)
        learning.submit_attempt(passed, {})
        db.session.commit()
        enrollment = db.session.get(Enrollment, enrolled.id)
        assert enrollment.completed_at == completed_at
        assert completions == [enrolled.id]


def test_completion_through_the_lesson_player_flashes_and_shows_on_the_course_page(
    app, firm, worker, publish, enrol, login, client, completions
):
    course = publish(firm, "short-one", lessons=2, title="短课程")
    enrolled = enrol(worker, course)
    login(worker)
    client.post(f"{enrolled.url}/lessons/{course.lesson('lessons/01.md')}/done")
    assert completions == []
    last = client.post(f"{enrolled.url}/lessons/{course.lesson('lessons/02.md')}/done")
    assert last.headers["Location"].endswith("/courses/short-one")
    again = client.post(f"{enrolled.url}/lessons/{course.lesson('lessons/02.md')}/done")
    assert again.status_code == 302
    assert completions == [enrolled.id]
    with app.app_context():
        assert db.session.get(Enrollment, enrolled.id).status == "completed"


def test_a_practical_task_needs_a_trainers_sign_off(
    app, firm, worker, trainer, publish, enrol, completions
):
    course = publish(firm, "hands-on", lessons=1, practical=True)
    enrolled = enrol(worker, course)
    with app.test_request_context():
        save(enrolled, course, "lessons/01.md", 100)
        # The learner can't tick a practical task off by themselves.
        save(enrolled, course, "practical:实操", 100)
        enrollment = db.session.get(Enrollment, enrolled.id)
        assert progress_row(enrolled.id, "practical:实操")[2] is None
        assert enrollment.status == "in_progress"
        assert completions == []

        practical = db.session.get(Lesson, course.lesson("practical:实操"))
        signer = db.session.get(User, trainer.id)
        learning.sign_off_practical(signer, enrollment, practical, comment=" 接线规范 ")
        learning.sign_off_practical(signer, enrollment, practical)  # replayed: harmless
        db.session.commit()
        enrollment = db.session.get(Enrollment, enrolled.id)
        assert enrollment.status == "completed"
        signoffs = db.session.scalars(select(PracticalSignoff)).all()
        assert [(s.lesson_key, s.signed_by_id, s.comment) for s in signoffs] == [
            ("practical:实操", trainer.id, "接线规范")
        ]
        assert completions == [enrolled.id]


def test_mark_done_in_the_player_does_not_complete_a_practical_task(
    app, firm, worker, publish, enrol, login, client
):
    course = publish(firm, "hands-on", lessons=1, practical=True)
    enrolled = enrol(worker, course)
    login(worker)
    client.post(f"{enrolled.url}/lessons/{course.lesson('lessons/01.md')}/done")
    client.post(f"{enrolled.url}/lessons/{course.lesson('practical:实操')}/done")
    client.post(
        f"{enrolled.url}/lessons/{course.lesson('practical:实操')}/progress", json={"percent": 100}
    )
    with app.app_context():
        assert db.session.get(Enrollment, enrolled.id).status == "in_progress"
        assert progress_row(enrolled.id, "practical:实操")[2] is None


# --- concurrency on PostgreSQL -----------------------------------------------------------


def _postgres_url() -> str | None:
    url = os.environ.get("LMS_TEST_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


@pytest.fixture
def private_postgres_app(tmp_path):
    """A tiny app on a fresh PostgreSQL database whose data is really committed.

    The per-test rollback fixture would hide commits from other connections, so this test
    uses its own database `lms_concurrency_<random>` and normal sessions, dropped afterwards.
    """
    from lms import create_app
    from tests.conftest import TEST_CONFIG

    base = make_url(_postgres_url())
    name = f"lms_concurrency_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    rolled_back_session = db.session
    db.session = db._make_scoped_session({})  # ordinary sessions, one per app context
    try:
        app = create_app(
            {
                **TEST_CONFIG,
                "SQLALCHEMY_DATABASE_URI": url,
                "LMS_STORAGE_DIR": str(tmp_path / "storage"),
                # Every thread holds a connection at the same moment.
                "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 30, "max_overflow": 0},
            }
        )
        with app.app_context():
            db.metadata.create_all(db.engine)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        db.session = rolled_back_session
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.skipif(_postgres_url() is None, reason="needs LMS_TEST_DATABASE_URL on PostgreSQL")
def test_concurrent_progress_saves_lose_no_update_on_postgresql(private_postgres_app, tmp_path):
    from datetime import date

    from lms.courses.package import read_package
    from lms.courses.service import import_package
    from lms.tenancy.models import Consortium, Firm, Membership
    from tests.conftest import _PASSWORD_HASH, valid_credit_code, write_package

    app = private_postgres_app
    with app.test_request_context():
        consortium = Consortium(
            code="CONC", name="并发测试联合体", city="唐山", region="east", sectors=[]
        )
        firm = Firm(
            consortium=consortium,
            name="并发公司",
            kind="specialized_sme",
            credit_code=valid_credit_code(424242),
        )
        user = User(name="并发学员", email="concurrent@example.com", password_hash=_PASSWORD_HASH)
        db.session.add_all([consortium, firm, user])
        db.session.flush()
        db.session.add(
            Membership(
                user=user,
                consortium_id=consortium.id,
                firm_id=firm.id,
                role="worker",
                starts_on=date(2026, 1, 1),
            )
        )
        package = read_package(
            write_package(tmp_path / "pkgs", "concurrent", lessons=1, quiz=False),
            known_skills=set(),
            known_courses=set(),
        )
        version, _ = import_package(None, consortium, firm, package)
        enrollment, _ = learning.enroll(user, version)
        db.session.commit()
        enrollment_id, lesson_id = enrollment.id, version.lessons[0].id

    percents = [3 * n + 1 for n in range(20)]  # 1 … 58, never 100: no completion involved
    order = percents[::2][::-1] + percents[1::2]  # mixed up: the maximum is not saved last
    barrier = threading.Barrier(len(order))
    errors: list[BaseException] = []

    def save_in_own_context(percent: int) -> None:
        try:
            with app.app_context():
                enrollment = db.session.get(Enrollment, enrollment_id)
                lesson = db.session.get(Lesson, lesson_id)
                barrier.wait(timeout=30)
                learning.record_progress(
                    enrollment, lesson, percent=percent, position_seconds=percent * 2
                )
                db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=save_in_own_context, args=(p,)) for p in order]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    with app.app_context():
        rows = db.session.scalars(select(LessonProgress)).all()
        assert [(r.percent, r.position_seconds) for r in rows] == [(max(order), 2 * max(order))]
        enrollment = db.session.get(Enrollment, enrollment_id)
        assert enrollment.status == "in_progress"
        assert enrollment.last_lesson_key == "lessons/01.md"
        db.session.remove()
