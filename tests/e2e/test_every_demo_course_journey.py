"""Every demo course can be completed, in the browser (issue 13, the first "Done when").

On a fresh load of the demo data (a server of its own, so no other journey meets this worker),
the demo worker 张伟 (worker@demo.lms) on a 390 px phone enrols in every demo course, a course's
prerequisites first; reads every lesson; passes every quiz, answering right — each attempt draws
its questions, so the right answers are read from the database for the questions drawn —; and
asks for the sign-off of every practical task. Trainers who may sign them off — the authoring
firm's trainer, or the trainer the consortium designated — sign them off on a desktop, and the
worker goes on with the courses those completions opened. In the end the worker has a
certificate of every demo course and downloads each one: a PDF.

One browser, one context (one sign-in) per person for the whole journey; each kind of page is
scanned by axe the first time it shows up.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from lms import create_app
from lms.auth.models import User
from lms.courses.assessors import assessors_of
from lms.courses.models import Course
from lms.courses.service import published_version
from lms.demo.data import DEMO_PASSWORD, correct_response, load_demo
from lms.extensions import db
from lms.learning.models import Enrollment, QuizAttempt
from tests.e2e.conftest import TIMEOUT_MS, LiveServer
from tests.e2e.journey import check_accessibility, sign_in

pytestmark = pytest.mark.e2e

WORKER = "worker@demo.lms"  # 张伟: the demo starts him with an empty learning record
WORKER_NAME = "张伟"
TRAINERS = ("trainer@demo.lms", "trainer.zhiyuan@demo.lms")  # the demo's two trainers
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1366, "height": 900}}


@pytest.fixture(scope="module")
def demo_site(chromium_path, tmp_path_factory, translations_dir):
    """The app with a fresh load of the demo data, served from a thread (real CSRF checks)."""
    folder = tmp_path_factory.mktemp("every-demo-course")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "e2e-secret-key-not-for-production",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'demo.sqlite3'}",
            "WTF_CSRF_ENABLED": True,
            "SESSION_COOKIE_SECURE": False,
            "LMS_LOGIN_RATE_LIMIT": "1000 per minute",
            "RATELIMIT_STORAGE_URI": "memory://",
            "BABEL_TRANSLATION_DIRECTORIES": str(translations_dir),
            "LMS_STORAGE_DIR": str(folder / "storage"),
            "LMS_SIGNING_KEY_DIR": str(folder / "keys"),
        }
    )
    with app.app_context():
        db.create_all()
        load_demo()
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-demo-courses", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@dataclass
class Journey:
    """What the journey knows as it goes: the people's pages, the page kinds scanned."""

    site: LiveServer
    tr: object
    browser: object
    pages: dict = field(default_factory=dict)
    scanned: set = field(default_factory=set)

    def page(self, login: str, **device):
        """The signed-in page of `login` (signed in the first time it is needed)."""
        if login not in self.pages:
            context = self.browser.new_context(
                base_url=self.site.url,
                bypass_csp=True,
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
                **device,
            )
            context.set_default_timeout(TIMEOUT_MS)
            context.set_default_navigation_timeout(TIMEOUT_MS)
            page = context.new_page()
            self.go(page, "/login", "login")
            sign_in(page, self.tr, login, DEMO_PASSWORD)
            self.pages[login] = page
        return self.pages[login]

    def scan(self, page, kind: str) -> None:
        """Scan the page with axe if no page of its kind was scanned yet."""
        if kind not in self.scanned:
            self.scanned.add(kind)
            page.wait_for_load_state("load")  # the styles too (navigation waits for the DOM)
            check_accessibility(page)

    def go(self, page, path: str, kind: str) -> None:
        response = page.goto(path, wait_until="domcontentloaded")
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
        self.scan(page, kind)

    def press(self, page, target, kind: str) -> None:
        """Click a link or button and wait for the page it leads to."""
        with page.expect_navigation(wait_until="domcontentloaded") as navigation:
            target.click()
        response = navigation.value
        assert response is not None and response.ok, f"{page.url}: HTTP {response.status}"
        self.scan(page, kind)


def _answer(page, question) -> None:
    """Give the right answer to one question of the attempt on the page, whatever its type:
    the response the question-type registry grades right (lms.demo.data.correct_response, from
    the question as stored), put into the question's inputs (named q<id>): the choices ticked,
    the text typed, or — items to put in order, each posted as q<id>-item — each item's place
    chosen. The one place to teach a new kind of answer input."""
    response = correct_response(question)
    name = f"q{question.id}"
    inputs = page.locator(f'[name="{name}"]')
    items = page.locator(f'input[name="{name}-item"]').evaluate_all("es => es.map(e => e.value)")
    if items:
        for n, item in enumerate(items):
            inputs.nth(n).select_option(str(response.index(item) + 1))
        return
    wanted = [str(r) for r in response] if isinstance(response, list) else [str(response)]
    controls = inputs.evaluate_all("es => es.map(e => [e.tagName, e.type, e.value])")
    for n, (tag, kind, value) in enumerate(controls):
        if kind in ("radio", "checkbox"):
            if value in wanted:
                inputs.nth(n).check()
        elif tag == "SELECT":
            inputs.nth(n).select_option(wanted[0])
        else:
            inputs.nth(n).fill(wanted[0])


def _drawn_questions(app, attempt_id: str) -> list:
    """The questions the attempt asks, in its order, read from the database."""
    with app.app_context():
        attempt = db.session.scalars(
            select(QuizAttempt).where(QuizAttempt.public_id == attempt_id)
        ).one()
        by_id = {q.id: q for q in attempt.lesson.questions}
        questions = [by_id[qid] for qid in attempt.question_ids]
        db.session.expunge_all()
        return questions


def _pass_quiz(j: Journey, page) -> None:
    """From a quiz lesson: start an attempt, answer every question right, submit, passed."""
    tr = j.tr
    j.press(page, page.get_by_role("button", name=tr("Start the quiz")), "attempt")
    attempt_id = re.search(r"/attempts/([^/?#]+)", page.url).group(1)
    questions = _drawn_questions(j.site.app, attempt_id)
    expect(page.locator("ol.questions > li")).to_have_count(len(questions))
    for question in questions:
        _answer(page, question)
    j.press(page, page.get_by_role("button", name=tr("Submit answers")), "result")
    expect(page.locator(".quiz-result .status.ok")).to_contain_text(tr("Passed"))
    with j.site.app.app_context():  # every question right, whatever its type
        attempt = db.session.scalars(
            select(QuizAttempt).where(QuizAttempt.public_id == attempt_id)
        ).one()
        wrong = [qid for qid, r in attempt.results.items() if not r["correct"]]
        assert attempt.score == 100 and not wrong, (page.url, wrong)


def _take_course(j: Journey, page, slug: str) -> tuple[str, list[str]]:
    """Enrol and go through every lesson in order: read, pass the quiz, or ask for the
    sign-off. Returns the enrolment's public id and the practical tasks waiting."""
    tr = j.tr
    j.go(page, f"/courses/{slug}", "course")
    j.press(page, page.locator("main").get_by_role("button", name=tr("Enrol")), "lesson")
    enrollment_id = re.search(r"/learn/([^/]+)/", page.url).group(1)
    waiting = []
    for _step in range(60):
        completion, title, after = page.evaluate(
            """() => [document.getElementById("lesson").dataset.completion,
                      document.querySelector("#lesson h1").textContent.trim(),
                      document.querySelector(".lesson-actions > a.button")?.getAttribute("href")]"""
        )
        j.scan(page, f"lesson-{completion}")
        if completion == "view":
            before = page.url
            j.press(page, page.locator(".lesson-actions button"), "lesson")
            if "/learn/" not in page.url or page.url == before:  # the last lesson is done
                break
            continue
        if completion == "quiz":
            _pass_quiz(j, page)
        else:  # a practical task: ask its assessors, and go on meanwhile
            j.press(page, page.get_by_role("button", name=tr("Ask for sign-off")), "lesson-asked")
            expect(page.locator(".flash").first).to_have_text(
                tr("Your request was sent to the assessors of this course.")
            )
            waiting.append(title)
        if after is None:
            break
        j.go(page, after, "lesson")
    else:
        pytest.fail(f"{slug}: no end after 60 lessons")
    return enrollment_id, waiting


def _signer(app, slug: str) -> str:
    """Which of the demo's trainers signs off the course: one it designated, else one of the
    authoring firm."""
    with app.app_context():
        course = db.session.scalars(select(Course).where(Course.slug == slug)).one()
        people = [a for a in assessors_of(course) if a.user.email in TRAINERS]
        assert people, f"{slug}: neither demo trainer may sign it off"
        people.sort(key=lambda a: not a.is_designated)
        return people[0].user.email


def _sign_off(j: Journey, slug: str, enrollment_id: str, tasks: list[str]) -> None:
    """The course's assessor signs off the worker's practical tasks, on a desktop."""
    trainer = j.page(_signer(j.site.app, slug), **DESKTOP)
    for task in tasks:
        j.go(trainer, f"/courses/{slug}/learners?learner={enrollment_id}", "learners")
        card = trainer.locator("main ul.cards > li")
        expect(card).to_have_count(1)
        expect(card).to_contain_text(WORKER_NAME)
        form = card.locator("form").filter(has_text=task)
        form.get_by_label(j.tr("Comment (optional)")).fill("现场操作规范，清单各项已确认")
        j.press(
            trainer,
            form.get_by_role("button", name=j.tr("Sign off this practical task")),
            "learners",
        )
        expect(trainer.locator(".flash").first).to_contain_text(WORKER_NAME)


def _demo_courses(app) -> dict[str, list[str]]:
    """Every demo course's slug → its prerequisites."""
    with app.app_context():
        return {
            c.slug: list(published_version(c).prerequisites or [])
            for c in db.session.scalars(select(Course).order_by(Course.slug))
        }


def test_a_worker_completes_every_demo_course_and_downloads_each_certificate(
    browser, demo_site, tr
):
    started = time.monotonic()
    j = Journey(demo_site, tr, browser)
    courses = _demo_courses(demo_site.app)
    assert len(courses) >= 10
    worker = j.page(WORKER, **PHONE)
    completed: set[str] = set()
    taken: set[str] = set()
    for _round in range(len(courses)):
        # The worker takes every course whose prerequisites are completed …
        waiting: dict[str, tuple[str, list[str]]] = {}
        while ready := [s for s in courses if s not in taken and set(courses[s]) <= completed]:
            for slug in ready:
                taken.add(slug)
                enrollment_id, tasks = _take_course(j, worker, slug)
                if tasks:
                    waiting[slug] = (enrollment_id, tasks)
                else:
                    completed.add(slug)
        # … and the assessors sign off the practical tasks, which completes those courses.
        for slug, (enrollment_id, tasks) in waiting.items():
            _sign_off(j, slug, enrollment_id, tasks)
            completed.add(slug)
        if completed == set(courses):
            break
    assert completed == set(courses), sorted(set(courses) - completed)

    # Every course completed, as the worker sees it; a certificate of each, downloaded.
    j.go(worker, "/learning", "learning")
    learning = worker.locator("main ul.cards > li")
    expect(learning).to_have_count(len(courses))
    expect(learning.get_by_role("link", name=tr("Review"), exact=True)).to_have_count(len(courses))
    j.go(worker, "/certificates", "certificates")
    expect(worker.get_by_role("heading", level=1)).to_have_text(tr("My certificates"))
    cards = worker.locator("main ul.cards > li")
    expect(cards).to_have_count(len(courses))
    for card in cards.all():
        expect(card.locator(".status.ok")).to_contain_text(tr("Valid"))
        link = card.get_by_role("link", name=tr("Download PDF"))
        response = worker.request.get(link.get_attribute("href"))
        assert response.ok, f"{link.get_attribute('href')}: HTTP {response.status}"
        assert response.headers["content-type"] == "application/pdf", response.headers
        assert response.body().startswith(b"%PDF-"), card.inner_text()
    with demo_site.app.app_context():
        done = db.session.scalars(
            select(Course.slug)
            .join(Enrollment, Enrollment.course_id == Course.id)
            .join(User, User.id == Enrollment.user_id)
            .where(User.email == WORKER, Enrollment.status == "completed")
        ).all()
        assert sorted(done) == sorted(courses)
    print(f"\nevery demo course completed in the browser in {time.monotonic() - started:.1f} s")
