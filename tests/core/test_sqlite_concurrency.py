"""The embedded default under concurrent writers: the app served by a threaded server on a
SQLite file (WAL, busy timeout, BEGIN IMMEDIATE), with 50 progress saves fired at once and
sign-ins during a 5,000-person import save. No request fails, and every acknowledged save is
stored, once."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
import requests
from flask import request, request_started
from sqlalchemy import func, select
from werkzeug.serving import make_server

from lms.auth.models import User
from lms.extensions import db
from lms.learning.models import LessonProgress
from lms.tenancy import importer
from lms.tenancy.models import Membership
from tests.conftest import _PASSWORD_HASH, PASSWORD, TEST_CONFIG, valid_credit_code, write_package
from tests.tenancy.test_import import csv_bytes

LEARNERS = 40  # each saves once; one more learner saves SAME_LEARNER_SAVES times
SAME_LEARNER_SAVES = 10
IMPORTED = 5000
SIGN_INS = 10


@pytest.fixture
def served(tmp_path, monkeypatch):
    """The app on its own SQLite file, served by a threaded werkzeug server on a free port,
    with a firm, a course of three lessons and a quiz, and enrolled learners."""
    from lms import create_app
    from lms.core.types import utcnow
    from lms.courses.package import read_package
    from lms.courses.service import import_package
    from lms.learning import service as learning
    from lms.tenancy.models import Consortium, Firm

    # Its own database file and sessions, not the suite's rolled-back connection.
    monkeypatch.setattr(db, "session", db._make_scoped_session({}))
    app = create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'classroom.sqlite3'}",
            "LMS_STORAGE_DIR": str(tmp_path / "storage"),
            "LMS_IMPORT_MAX_ROWS": IMPORTED,
        }
    )
    package = write_package(tmp_path / "packages", "busy-course", lessons=3)
    with app.test_request_context():
        db.create_all()
        consortium = Consortium(code="BUSY", name="Busy", city="唐山", region="east", sectors=[])
        firm = Firm(
            consortium=consortium,
            name="Busy firm",
            kind="chain_leader",
            credit_code=valid_credit_code(9),
        )
        db.session.add_all([consortium, firm])
        db.session.flush()
        people = [f"learner{i}" for i in range(LEARNERS + 1 + SIGN_INS)] + ["admin"]
        users = {
            name: User(
                name=name,
                email=f"{name}@busy.lms",
                password_hash=_PASSWORD_HASH,
                password_changed_at=utcnow(),
                locale="en",
            )
            for name in people
        }
        db.session.add_all(users.values())
        db.session.flush()
        for name, user in users.items():
            db.session.add(
                Membership(
                    user=user,
                    consortium_id=consortium.id,
                    firm_id=firm.id,
                    role="firm_admin" if name == "admin" else "worker",
                    starts_on=date(2026, 1, 1),
                )
            )
        read = read_package(package, known_skills=set(), known_courses=set())
        assert not read.problems, read.problems
        version, _ = import_package(None, consortium, firm, read)
        db.session.flush()
        lessons = [x for x in version.lessons if x.type == "text"]
        enrollments = {}
        for i in range(LEARNERS + 1):
            enrollment, _ = learning.enroll(users[f"learner{i}"], version)
            enrollments[f"learner{i}"] = enrollment
        db.session.commit()
        world = {
            "firm_id": firm.id,
            "lessons": [(x.id, x.key) for x in lessons],
            "enrollments": {n: (e.id, e.public_id) for n, e in enrollments.items()},
        }
        db.session.remove()

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="sqlite-classroom", daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}", world
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _signed_in(base: str, name: str) -> requests.Session:
    browser = requests.Session()
    response = browser.post(
        f"{base}/login",
        data={"login": f"{name}@busy.lms", "password": PASSWORD},
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 302 and "/login" not in response.headers["Location"]
    return browser


def test_fifty_progress_saves_at_once_are_all_stored_once(served):
    app, base, world = served
    lessons = world["lessons"]
    saves = []  # (learner, lesson index, percent)
    saves += [(f"learner{i}", i % len(lessons), 10 + i) for i in range(LEARNERS)]
    # Two tabs of one learner: the same lessons saved again and again, values in any order.
    same = f"learner{LEARNERS}"
    saves += [(same, i % 2, (37 * i) % 90 + 5) for i in range(SAME_LEARNER_SAVES)]
    assert len(saves) == 50
    browsers = {name: _signed_in(base, name) for name in {s[0] for s in saves}}
    start = threading.Barrier(len(saves))

    def save(learner: str, lesson: int, percent: int):
        public_id = world["enrollments"][learner][1]
        start.wait()
        return browsers[learner].post(
            f"{base}/learn/{public_id}/lessons/{lessons[lesson][0]}/progress",
            json={"percent": percent, "position": percent},
            timeout=120,
        )

    with ThreadPoolExecutor(max_workers=len(saves)) as pool:
        responses = list(pool.map(lambda s: save(*s), saves))

    assert [r.status_code for r in responses] == [200] * len(saves)
    acknowledged: dict[tuple[int, str], int] = {}
    for (learner, lesson, percent), response in zip(saves, responses, strict=True):
        assert response.json()["percent"] >= percent  # values only grow
        key = (world["enrollments"][learner][0], lessons[lesson][1])
        acknowledged[key] = max(acknowledged.get(key, 0), percent)
    with app.app_context():
        rows = db.session.execute(
            select(
                LessonProgress.enrollment_id,
                LessonProgress.lesson_key,
                LessonProgress.percent,
                LessonProgress.position_seconds,
            )
        ).all()
        db.session.remove()
    stored = {(r.enrollment_id, r.lesson_key): (r.percent, r.position_seconds) for r in rows}
    assert len(rows) == len(stored), "a lesson's progress stored twice"
    assert stored == {key: (p, float(p)) for key, p in acknowledged.items()}


def _held(arrived: threading.Semaphore, writing: threading.Event):
    """importer._write_people that, its rows written (the save's transaction holds the write
    lock until the request commits), waits for every sign-in to reach the app."""
    write_people = importer._write_people

    def held_write(*args, **kw):
        write_people(*args, **kw)
        writing.set()
        for _ in range(SIGN_INS):
            assert arrived.acquire(timeout=60)

    return held_write


def test_sign_ins_during_a_five_thousand_person_import_save_wait_and_succeed(served, monkeypatch):
    app, base, world = served
    admin = _signed_in(base, "admin")
    rows = [[f"工人{i:04d}", f"137{i:08d}", "", f"E{i:04d}", "", ""] for i in range(IMPORTED)]
    header = ["name", "mobile", "e-mail", "employee number", "job role", "role"]
    staged = admin.post(
        f"{base}/firms/{world['firm_id']}/people/import",
        files={"file": ("people.csv", io.BytesIO(csv_bytes([header, *rows])), "text/csv")},
        allow_redirects=False,
        timeout=300,
    )
    assert staged.status_code == 302, staged.text[:500]
    batch_url = base + staged.headers["Location"]

    # The save, once its rows are written and its transaction holds the write lock, waits
    # until every sign-in has reached the app: they all run while it holds the lock.
    arrived = threading.Semaphore(0)
    writing = threading.Event()

    def count_sign_ins(_sender, **_extra):
        if request.path == "/login" and request.method == "POST":
            arrived.release()

    request_started.connect(count_sign_ins, app)
    monkeypatch.setattr(importer, "_write_people", _held(arrived, writing))
    with ThreadPoolExecutor(max_workers=SIGN_INS + 1) as pool:
        saving = pool.submit(admin.post, batch_url, allow_redirects=False, timeout=300)
        assert writing.wait(timeout=300)
        names = [f"learner{LEARNERS + 1 + i}" for i in range(SIGN_INS)]
        sign_ins = list(pool.map(lambda name: _signed_in(base, name), names))
        saved = saving.result(timeout=300)
    request_started.disconnect(count_sign_ins, app)

    assert saved.status_code == 302, saved.text[:500]
    assert len(sign_ins) == SIGN_INS  # each one asserted its own success
    with app.app_context():
        imported = db.session.scalar(select(func.count(User.id)).where(User.mobile.like("137%")))
        db.session.remove()
    assert imported == IMPORTED
