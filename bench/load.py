"""Load benchmark: simulated workers and admins against the production stack (issue 15).

Sets up its own world in its own PostgreSQL database (LMS_BENCH_DATABASE_URL, default a new
`lms_load` on 127.0.0.1): `flask db upgrade` and `flask demo load` as `make run` does, then
workers made as the demo makes its people (an account, a membership through the tenancy
service, an enrolment in the demo's industrial-networks course through the learning service;
a quarter each fresh, half-way, one lesson and the final quiz from the end, and done). Starts
gunicorn (with gunicorn.conf.py when the checkout has one) and one Celery worker on loopback
against it and Redis database 13, and drives them with LMS_LOAD_USERS simulated users in
threads (about 3 % admins), with a seeded think time between page views (1-3 s,
LMS_LOAD_THINK_SECONDS):
- workers sign in, open the catalogue (sometimes with a search), course pages, their learning,
  lesson pages; save progress (JSON POST with the page's CSRF token, as the player does); start
  and submit quizzes (answered right); enrol in more courses; complete the course (which issues
  a certificate);
- admins open dashboards, the people behind a figure, hours, and export them (CSV/XLSX);
- with --with-bulk (the default) a consortium admin starts the "certificates.bulk" job of the
  industrial-networks cohort from its form a third into the measured window.
Users arrive (sign in) at random moments of a ramp (LMS_LOAD_RAMP_SECONDS, 0.15 s a user, at
most 60 s); the figures are those of the LMS_LOAD_SECONDS window after it, the ramp's are shown
apart (its errors count). A trivial endpoint (/healthz) is measured on the same stack just
before the users come (closed loop from 8 connections: the baseline's requests/s and p50) and
probed twice a second during the load.

After the run the database is checked against the client's log of acknowledged actions: every
acknowledged progress save, quiz start and submit, enrolment and completion (with its
certificate, waited for if it is issued by a job) is stored, and no row is duplicated
(lost_updates, duplicate_rows).

Prints a table, then as the last line one JSON object of the figures. Loopback only; the whole
run is bounded by LMS_LOAD_TIMEOUT seconds; the stack is stopped whatever happens (its logs are
kept in the temporary folder printed at the end).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET = "load-bench-secret-key"
COURSE = "industrial-networks"  # completable without a trainer: text lessons and two quizzes
SEARCHES = ["PLC", "安全", "MQTT", "数字孪生", "network", "机器人"]
LOOPBACK = {"127.0.0.1", "localhost", "::1", None, ""}
HTTP_TIMEOUT = 30  # seconds: gunicorn's worker timeout; a request taking longer is an error
ADMIN_LOGINS = [
    "consortium@demo.lms",
    "hr.jidong@demo.lms",
    "hr.huaye@demo.lms",
    "hr.jinggong@demo.lms",
    "hr.zhongcai@demo.lms",
    "hr.zhiyuan@demo.lms",
]


class Settings:
    """The run's parameters, from the environment."""

    def __init__(self) -> None:
        env = os.environ.get
        self.users = int(env("LMS_LOAD_USERS", "200"))
        self.seconds = float(env("LMS_LOAD_SECONDS", "60"))
        low, _, high = env("LMS_LOAD_THINK_SECONDS", "1-3").partition("-")
        self.think = (float(low), float(high or low))
        self.seed = int(env("LMS_LOAD_SEED", "15"))
        self.baseline_seconds = float(env("LMS_LOAD_BASELINE_SECONDS", min(5.0, self.seconds)))
        self.drain_seconds = float(env("LMS_LOAD_DRAIN_SECONDS", "120"))
        self.timeout = float(env("LMS_LOAD_TIMEOUT", 900 + 2 * self.seconds))
        self.redis_url = env("LMS_LOAD_REDIS_URL", "redis://127.0.0.1:6379/13")
        self.database_url = env(
            "LMS_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/lms_load"
        )
        self.actions_out = env("LMS_LOAD_ACTIONS_OUT")
        # Users arrive (sign in) over the ramp; the figures are those of the window after it.
        self.ramp = float(env("LMS_LOAD_RAMP_SECONDS", min(60.0, max(2.0, 0.15 * self.users))))
        self.admins = max(1, round(self.users * 0.03)) if self.users > 1 else 0
        self.workers = self.users - self.admins


# --- the world ---------------------------------------------------------------------------------


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"bench/load.py runs on loopback only, not against {host}")


def recreate_database(url: str) -> None:
    """Drop and create the bench's own database (never another one: the name is in the URL)."""
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = target.database
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def run_flask(env: dict, *args: str) -> None:
    done = subprocess.run(
        [str(BIN / "flask"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    if done.returncode:
        raise RuntimeError(
            f"flask {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )


def answer_fields(question) -> list[tuple[str, str]]:
    """The form fields a learner who knows the answer posts for `question`."""
    from lms.demo.data import correct_response

    name, response = f"q{question.id}", correct_response(question)
    if question.type == "ordering":
        pairs = []
        for place, item in enumerate(response, start=1):
            pairs += [(f"{name}-item", item), (name, str(place))]
        return pairs
    if isinstance(response, list):
        return [(name, str(value)) for value in response]
    return [(name, str(response))]


def lesson_kind(kind) -> str:
    """What a learner does with a lesson of this type: take a quiz, wait for a trainer's
    sign-off (a practical task), or read it."""
    return "quiz" if kind.has_questions else "signoff" if kind.needs_signoff else "read"


def add_workers(url: str, count: int, seed: int) -> dict:
    """Workers as the demo makes its people, through the services; a quarter each fresh,
    half-way, one lesson and the final quiz from the end, and done (the bulk job's cohort)."""
    from lms import create_app
    from lms.auth.models import User
    from lms.auth.passwords import hash_password
    from lms.certificates.service import pdfs_on_first_download
    from lms.courses.lesson_types import LESSON_TYPES
    from lms.courses.service import published_versions
    from lms.demo.data import CONSORTIUM_CODE, DEMO_PASSWORD, correct_response
    from lms.extensions import db
    from lms.learning import service as learning
    from lms.tenancy.models import Consortium, Firm
    from lms.tenancy.service import add_membership

    rng = random.Random(seed)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context(), pdfs_on_first_download():
        consortium = db.session.scalars(
            sa.select(Consortium).where(Consortium.code == CONSORTIUM_CODE)
        ).one()
        admin = db.session.scalars(sa.select(User).where(User.email == ADMIN_LOGINS[0])).one()
        firms = db.session.scalars(
            sa.select(Firm).where(Firm.consortium_id == consortium.id).order_by(Firm.id)
        ).all()
        versions = {v.course.slug: v for v in published_versions(consortium)}
        target = versions[COURSE]
        lessons = target.lessons
        password_hash = hash_password(DEMO_PASSWORD)
        workers = []
        for i in range(count):
            mobile = f"1470000{i:04d}"
            user = User(name=f"压测学员{i:04d}", mobile=mobile, password_hash=password_hash)
            db.session.add(user)
            add_membership(
                admin, user, consortium=consortium, firm=firms[i % len(firms)], role="worker"
            )
            enrollment, _created = learning.enroll(user, target)
            done = [0, len(lessons) // 2, len(lessons) - 2, len(lessons)][i % 4]
            for lesson in lessons[:done]:
                if LESSON_TYPES[lesson.type].has_questions:
                    attempt = learning.start_attempt(enrollment, lesson)
                    asked = [q for q in lesson.questions if q.id in attempt.question_ids]
                    learning.submit_attempt(
                        attempt, {str(q.id): correct_response(q) for q in asked}
                    )
                else:
                    learning.record_progress(enrollment, lesson, percent=100)
            workers.append(
                {
                    "login": mobile,
                    "seed": rng.randrange(2**31),
                    "enrollment": enrollment.public_id,
                    "done": [lesson.key for lesson in lessons[:done]],
                }
            )
            if i % 50 == 49:
                db.session.commit()
        db.session.commit()
        courses = {}
        answers = {}
        for slug, version in versions.items():
            courses[slug] = {
                "id": version.course_id,
                "prerequisites": list(version.prerequisites or []),
                "lessons": [
                    {"id": x.id, "key": x.key, "kind": lesson_kind(LESSON_TYPES[x.type])}
                    for x in version.lessons
                ],
            }
            for lesson in version.lessons:
                for q in lesson.questions if LESSON_TYPES[lesson.type].has_questions else []:
                    answers[q.id] = answer_fields(q)
        firm_admins = {}
        for login in ADMIN_LOGINS[1:]:
            user = db.session.scalars(sa.select(User).where(User.email == login)).one()
            firm_admins[login] = next(m.firm_id for m in user.memberships if m.firm_id)
        world = {
            "consortium_id": consortium.id,
            "password": DEMO_PASSWORD,
            "courses": courses,
            "answers": answers,
            "workers": workers,
            "firm_admins": firm_admins,
        }
        db.session.remove()
        db.engine.dispose()
    return world


# --- the stack ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_stack(env: dict, port: int, logs: Path) -> list[subprocess.Popen]:
    """gunicorn and one Celery worker, each in its own process group (stopped as a group)."""
    bind = ["-b", f"127.0.0.1:{port}"]
    if (ROOT / "gunicorn.conf.py").exists():
        web = ["-c", str(ROOT / "gunicorn.conf.py"), *bind]
    else:
        web = [
            "--worker-class",
            "gthread",
            "--workers",
            "4",
            "--threads",
            "8",
            "--timeout",
            "30",
        ] + bind
    commands = {
        "gunicorn": [str(BIN / "gunicorn"), *web, "lms:create_app()"],
        "celery": [str(BIN / "celery"), "-A", "lms.worker", "worker"]
        + ["--concurrency", "1", "--pool", "solo", "--loglevel", "warning"],
    }
    procs = []
    for name, cmd in commands.items():
        with open(logs / f"{name}.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    cmd,
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"the stack did not start: see {logs}")
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                return procs
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer /healthz within 90 s: see {logs}")


def cpu_seconds(procs: list[subprocess.Popen]) -> list[float]:
    """CPU seconds used so far by each process group of `procs` (gunicorn with its workers,
    Celery), then by this process (the clients): read from /proc, so Linux only."""
    groups = {p.pid: 0 for p in procs}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) in groups:  # fields after the name: state ppid pgrp ... utime stime
            groups[int(fields[2])] += int(fields[11]) + int(fields[12])
    tick = os.sysconf("SC_CLK_TCK")
    return [groups[p.pid] / tick for p in procs] + [time.process_time()]


def stop_stack(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


# --- measuring ---------------------------------------------------------------------------------


class Stats:
    """Every request: (kind, start in seconds since t0, milliseconds, status or cause, ok)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.rows: list[tuple[str, float, float, int | str, bool]] = []
        self.samples: Counter = Counter()
        self.retries: Counter = Counter()  # connection errors sent again, by cause
        self.lock = threading.Lock()

    def retried(self, cause: str) -> None:
        with self.lock:
            self.retries[cause] += 1

    def add(self, kind: str, start: float, ms: float, status, ok: bool, path: str) -> None:
        self.rows.append((kind, start - self.t0, ms, status, ok))
        if not ok:
            # The route's shape only (ids left out): no personal data in the report.
            shape = re.sub(r"/[0-9a-zA-Z_-]{8,}|/[0-9]+", "/…", path)
            with self.lock:
                self.samples[f"{kind} {status} {shape}"] += 1


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def figures(rows: list, seconds: float) -> dict:
    ms = [r[2] for r in rows]
    return {
        "requests": len(rows),
        "rps": round(len(rows) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(pct(ms, 50), 1),
        "p95_ms": round(pct(ms, 95), 1),
        "p99_ms": round(pct(ms, 99), 1),
        "max_ms": round(max(ms, default=0.0), 1),
        "errors": sum(1 for r in rows if not r[4]),
    }


class Actions:
    """The client's log of what the server acknowledged (2xx, or the redirect of success)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.progress: dict[str, int] = {}  # "enrolment|lesson key" -> highest acknowledged %
        self.enrolments: set[str] = set()
        self.attempts_sent: Counter = Counter()  # "enrolment|lesson key" -> starts sent
        self.attempts: set[str] = set()  # acknowledged starts (attempt public ids)
        self.submits: set[str] = set()
        self.completions: set[str] = set()
        self.sign_ins = 0

    def as_dict(self, before: dict) -> dict:
        return {
            "progress": self.progress,
            "enrolments": sorted(self.enrolments),
            "attempts_sent": dict(self.attempts_sent),
            "attempts": sorted(self.attempts),
            "submits": sorted(self.submits),
            "completions": sorted(self.completions),
            "before": before,
        }


class Browser:
    """One simulated browser: its cookies, the page's CSRF token, measured requests."""

    def __init__(self, base: str, stats: Stats) -> None:
        self.base, self.stats = base, stats
        self.http = requests.Session()
        self.csrf = ""
        self.last_location = ""  # where the last response redirected to

    def call(self, kind, method, path, *, expect=(200,), to="", **kwargs):
        """The response if its status is expected (and a redirect goes to a path starting
        with `to`), else None: counted as an error."""
        start = time.perf_counter()
        r, status = None, ""
        for first in (True, False):
            try:
                r = self.http.request(
                    method, self.base + path, allow_redirects=False, timeout=HTTP_TIMEOUT, **kwargs
                )
                _ = r.content
                status = r.status_code
                break
            except requests.Timeout:
                status = "timeout"
                break
            except requests.ConnectionError as exc:
                # Most often a kept-alive connection the server closed as the request left:
                # browsers send it again once, on a new connection (counted apart).
                status = cause_of(exc)
                if first:
                    self.stats.retried(status)
            except requests.RequestException as exc:
                status = cause_of(exc)
                break
        self.last_location = location(r) if r is not None else ""
        ok = status in expect and (not to or self.last_location.startswith(to))
        self.stats.add(kind, start, (time.perf_counter() - start) * 1000, status, ok, path)
        if not ok:
            return None
        if "text/html" in r.headers.get("Content-Type", ""):
            found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', r.text)
            if found:
                self.csrf = found.group(1)
        return r

    def login(self, login: str, password: str) -> bool:
        if self.call("login_page", "GET", "/login") is None:
            return False
        form = {"csrf_token": self.csrf, "login": login, "password": password}
        return self.call("login", "POST", "/login", data=form, expect=(302,), to="/") is not None


def cause_of(exc: BaseException) -> str:
    """The innermost reason of a requests error (RemoteDisconnected, ConnectionResetError…)."""
    while True:
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in exc.args if isinstance(a, BaseException)), None)
        if inner is None:
            return type(exc).__name__
        exc = inner


def location(r) -> str:
    return urlsplit(r.headers.get("Location", "")).path


class Run:
    """The simulated users of one run, sharing the stop signal, the stats and the log."""

    def __init__(self, settings: Settings, base: str, world: dict) -> None:
        self.s, self.base, self.world = settings, base, world
        self.stats, self.actions = Stats(), Actions()
        self.stop = threading.Event()
        self.bulk: dict = {}
        self.cpu: dict = {}  # CPU seconds of the measured window, per side

    def clock(self) -> float:
        return time.perf_counter() - self.stats.t0

    def start_users(self, *, with_bulk: bool) -> list[threading.Thread]:
        """Every user arrives (signs in) at a random moment of the ramp; the bulk job starts a
        third into the measured window; /healthz is probed all along."""
        rng, ramp = random.Random(self.s.seed), self.s.ramp
        jobs = [(self.probe, ())]
        for spec in self.world["workers"]:
            jobs.append((self.arrive, (rng.uniform(0, ramp), self.worker, spec)))
        for i in range(self.s.admins):
            login = ADMIN_LOGINS[i % len(ADMIN_LOGINS)]
            jobs.append((self.arrive, (rng.uniform(0, ramp), self.admin, login, i)))
        if with_bulk:
            course_id = self.world["courses"][COURSE]["id"]
            jobs.append((self.bulk_job, (course_id, ramp + self.s.seconds / 3)))
        threads = [threading.Thread(target=f, args=a, daemon=True) for f, a in jobs]
        for t in threads:
            t.start()
        return threads

    def sign_in(self, b: Browser, login: str) -> bool:
        if not b.login(login, self.world["password"]):
            return False
        with self.actions.lock:
            self.actions.sign_ins += 1
        return True

    def arrive(self, delay: float, user, *args) -> None:
        if not self.stop.wait(delay):
            user(*args)

    def think(self, rng: random.Random, factor: float = 1.0) -> bool:
        """Wait like a person reading; True when the run is over."""
        return self.stop.wait(rng.uniform(*self.s.think) * factor)

    # --- workers ---

    def worker(self, spec: dict) -> None:
        rng = random.Random(spec["seed"])
        b = Browser(self.base, self.stats)
        courses = self.world["courses"]
        mine = {COURSE: {"slug": COURSE, "pid": spec["enrollment"], "done": set(spec["done"])}}
        mine[COURSE]["completed"] = len(spec["done"]) == len(courses[COURSE]["lessons"])
        signed_in = False
        while not self.stop.is_set():
            if not signed_in:
                signed_in = self.sign_in(b, spec["login"])
                if signed_in and not self.think(rng):
                    b.call("my_learning", "GET", "/learning")
                if self.think(rng):
                    break
                continue
            studying = [e for e in mine.values() if self.next_lesson(e)]
            enrollable = self.enrollable(mine)
            roll = rng.random()
            if studying and roll < 0.65:
                self.study(b, rng, rng.choice(studying))
            elif roll < 0.85 or not enrollable:
                search = {"q": rng.choice(SEARCHES)} if rng.random() < 0.4 else None
                b.call("catalogue", "GET", "/courses/", params=search)
                if not self.think(rng):
                    b.call("course_page", "GET", f"/courses/{rng.choice(list(courses))}")
            elif roll < 0.95:
                self.enrol(b, rng, rng.choice(enrollable), mine)
            else:
                b.call("my_learning", "GET", "/learning")
            if self.think(rng):
                break

    def next_lesson(self, e: dict) -> dict | None:
        """The first lesson the learner can do alone (a practical task needs a trainer)."""
        lessons = self.world["courses"][e["slug"]]["lessons"]
        todo = (x for x in lessons if x["key"] not in e["done"] and x["kind"] != "signoff")
        return next(todo, None)

    def enrollable(self, mine: dict) -> list[str]:
        completed = {slug for slug, e in mine.items() if e["completed"]}
        return [
            slug
            for slug, c in self.world["courses"].items()
            if slug not in mine and set(c["prerequisites"]) <= completed
        ]

    def enrol(self, b: Browser, rng, slug: str, mine: dict) -> None:
        if b.call("course_page", "GET", f"/courses/{slug}") is None or self.think(rng):
            return
        form = {"csrf_token": b.csrf}
        r = b.call(
            "enrol", "POST", f"/courses/{slug}/enroll", data=form, expect=(302,), to="/learn/"
        )
        if r is None:
            return
        pid = location(r).split("/")[2]
        with self.actions.lock:
            self.actions.enrolments.add(pid)
        mine[slug] = {"slug": slug, "pid": pid, "done": set(), "completed": False}
        r = b.call("resume", "GET", f"/learn/{pid}", expect=(302,), to=f"/learn/{pid}/lessons/")
        if r is not None:
            b.call("lesson_page", "GET", location(r))

    def last_one(self, e: dict, lesson: dict) -> bool:
        """Whether doing `lesson` completes the course."""
        lessons = self.world["courses"][e["slug"]]["lessons"]
        return all(x["key"] in e["done"] or x["key"] == lesson["key"] for x in lessons)

    def study(self, b: Browser, rng, e: dict) -> None:
        """Open the next lesson; read it (two progress saves) or take its quiz."""
        lesson = self.next_lesson(e)
        page = f"/learn/{e['pid']}/lessons/{lesson['id']}"
        if b.call("lesson_page", "GET", page) is None or self.think(rng):
            return
        last = self.last_one(e, lesson)
        if lesson["kind"] == "quiz":
            done = self.quiz(b, rng, e, lesson, page, last)
        else:
            key = f"{e['pid']}|{lesson['key']}"
            for percent in (rng.randint(30, 70), 100):
                kind = "completion" if last and percent == 100 else "progress"
                body = {"percent": percent, "position": 0}
                r = b.call(
                    kind, "POST", page + "/progress", json=body, headers={"X-CSRFToken": b.csrf}
                )
                if r is None:
                    return
                data = r.json()
                with self.actions.lock:
                    self.actions.progress[key] = max(self.actions.progress.get(key, 0), percent)
                    if data.get("course_completed"):
                        self.actions.completions.add(e["pid"])
                done = bool(data.get("completed"))
                if percent < 100 and self.think(rng, 0.5):
                    return
        if done:
            e["done"].add(lesson["key"])
            e["completed"] = last

    def quiz(self, b: Browser, rng, e: dict, lesson: dict, page: str, last: bool) -> bool:
        """Start an attempt, answer it right, submit, read the result: True when passed."""
        with self.actions.lock:
            self.actions.attempts_sent[f"{e['pid']}|{lesson['key']}"] += 1
        form = {"csrf_token": b.csrf}
        r = b.call(
            "quiz_start",
            "POST",
            page + "/attempts",
            data=form,
            expect=(302,),
            to=f"/learn/{e['pid']}/attempts/",
        )
        if r is None:
            # Refused back to the lesson ("already passed": the answer to a submit was lost, an
            # error counted then): the learner moves on, as a person would.
            return b.last_location == page
        attempt_path = location(r)
        attempt = attempt_path.rsplit("/", 1)[1]
        with self.actions.lock:
            self.actions.attempts.add(attempt)
        r = b.call("quiz_page", "GET", attempt_path)
        if r is None or self.think(rng, 2.0):
            return False
        asked = {int(x) for x in re.findall(r'name="q(\d+)(?:-item)?"', r.text)}
        answers = [("csrf_token", b.csrf)]
        for qid in sorted(asked):
            answers += self.world["answers"][qid]
        kind = "completion" if last else "quiz_submit"
        r = b.call(kind, "POST", attempt_path, data=answers, expect=(302,), to=attempt_path)
        if r is None:
            return False
        with self.actions.lock:
            self.actions.submits.add(attempt)
        r = b.call("quiz_result", "GET", attempt_path)
        if r is None:
            return False
        result = r.text.split('class="card quiz-result"', 1)[-1].split("</section>", 1)[0]
        passed = 'class="status ok"' in result
        if passed and last:
            with self.actions.lock:
                self.actions.completions.add(e["pid"])
        return passed

    # --- admins ---

    def admin(self, login: str, seed: int) -> None:
        rng = random.Random(seed)
        b = Browser(self.base, self.stats)
        cid = self.world["consortium_id"]
        fid = self.world["firm_admins"].get(login)
        root = f"/firms/{fid}" if fid else f"/consortia/{cid}"
        pages = [
            ("dashboard", f"{root}/reports", None),
            ("report_people", f"{root}/reports/people", {"metric": "completed"}),
            ("report_people", f"{root}/reports/people", {"metric": "active"}),
            ("hours", f"{root}/hours", None),
            ("export", f"{root}/reports/people", {"metric": "enrolled", "format": "csv"}),
            ("export", f"{root}/hours", {"format": "xlsx"}),
        ]
        if not fid:
            pages.append(("skill_gaps", f"/consortia/{cid}/skills/gaps", None))
        signed_in = False
        while not self.stop.is_set():
            if not signed_in:
                signed_in = self.sign_in(b, login)
            else:
                kind, path, params = rng.choice(pages)
                r = b.call(kind, "GET", path, params=params, expect=(200, 302))
                if r is not None and r.status_code == 302:  # a large export runs as a job
                    b.call("job_page", "GET", location(r))
            if self.think(rng, 2.0):
                break

    def bulk_job(self, course_id: int, start_after: float) -> None:
        """A consortium admin starts the bulk certificate job from its form, then watches it."""
        b = Browser(self.base, self.stats)
        if self.stop.wait(start_after) or not self.sign_in(b, ADMIN_LOGINS[0]):
            return
        path = f"/consortia/{self.world['consortium_id']}/certificates/bulk"
        if b.call("bulk_form", "GET", path) is None:
            return
        form = {"csrf_token": b.csrf, "course": str(course_id), "target": "cohort", "firm": ""}
        started = self.clock()
        r = b.call("bulk_start", "POST", path, data=form, expect=(302,), to="/jobs/")
        if r is None:
            return
        self.bulk = {"started": started, "job": location(r)}
        deadline = time.monotonic() + self.s.seconds + self.s.drain_seconds
        while time.monotonic() < deadline:
            r = b.call("job_status", "GET", self.bulk["job"] + "/status")
            if r is not None and r.json().get("finished"):
                self.bulk["seen_finished"] = self.clock()
                return
            time.sleep(2)

    # --- baseline ---

    def baseline(self, seconds: float, threads: int = 8) -> None:
        """/healthz in a closed loop from `threads` connections."""
        stop = time.monotonic() + seconds

        def loop():
            b = Browser(self.base, self.stats)
            while time.monotonic() < stop:
                b.call("baseline", "GET", "/healthz")

        pool = [threading.Thread(target=loop) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()

    def probe(self) -> None:
        b = Browser(self.base, self.stats)
        while not self.stop.wait(0.5):
            b.call("healthz", "GET", "/healthz")


# --- the integrity check -----------------------------------------------------------------------


def snapshot(url: str) -> dict:
    """What exists before the users start (rows made later are theirs)."""
    engine = sa.create_engine(url)
    attempts = _tables(engine)["quiz_attempts"]
    with engine.connect() as conn:
        top = conn.execute(sa.select(sa.func.coalesce(sa.func.max(attempts.c.id), 0))).scalar()
    engine.dispose()
    return {"attempt_max_id": top}


TABLES = ("enrollments", "lesson_progress", "quiz_attempts", "certificates", "audit_records")


def _tables(engine) -> dict:
    meta = sa.MetaData()
    meta.reflect(engine, only=TABLES)
    return meta.tables


def wait_for_certificates(url: str, completions: list[str], seconds: float) -> None:
    """Certificates may follow a completion as a job: wait (bounded) until each has one."""
    engine = sa.create_engine(url)
    t = _tables(engine)
    e, c = t["enrollments"], t["certificates"]
    deadline = time.monotonic() + seconds
    with engine.connect() as conn:
        while completions and time.monotonic() < deadline:
            missing = conn.execute(
                sa.select(sa.func.count())
                .select_from(
                    e.outerjoin(c, (c.c.enrollment_id == e.c.id) & c.c.revoked_at.is_(None))
                )
                .where(e.c.public_id.in_(completions), c.c.id.is_(None))
            ).scalar()
            conn.rollback()
            if not missing:
                break
            time.sleep(1)
    engine.dispose()


def check_integrity(url: str, log: dict) -> dict:
    """Compare the client's acknowledged actions with the database: {"lost": {...},
    "duplicates": {...}, "lost_updates": n, "duplicate_rows": n}."""
    engine = sa.create_engine(url)
    t = _tables(engine)
    e, p, a, c, audit = (t[name] for name in TABLES)
    lost, dup = {}, {}
    with engine.connect() as conn:

        def rows(query):
            return conn.execute(query).all()

        def extra(*cols, table, where=None):
            """Rows beyond the first of each group of `cols` (0 when they are unique)."""
            n = sa.func.count().label("n")
            grouped = sa.select(*cols, n).select_from(table).group_by(*cols)
            if where is not None:
                grouped = grouped.where(where)
            sub = grouped.having(sa.func.count() > 1).subquery()
            total = sa.select(sa.func.coalesce(sa.func.sum(sub.c.n - 1), 0))
            return int(conn.execute(total).scalar())

        stored = {
            f"{pid}|{key}": percent
            for pid, key, percent in rows(
                sa.select(e.c.public_id, p.c.lesson_key, p.c.percent)
                .join(e, e.c.id == p.c.enrollment_id)
                .where(e.c.public_id.in_({k.split("|")[0] for k in log["progress"]}))
            )
        }
        lost["progress"] = sum(1 for k, v in log["progress"].items() if stored.get(k, -1) < v)
        active = {
            pid
            for (pid,) in rows(
                sa.select(e.c.public_id).where(
                    e.c.public_id.in_(log["enrolments"]), e.c.withdrawn_at.is_(None)
                )
            )
        }
        lost["enrolments"] = len(set(log["enrolments"]) - active)
        attempts = dict(
            rows(
                sa.select(a.c.public_id, a.c.submitted_at).where(a.c.public_id.in_(log["attempts"]))
            )
        )
        lost["quiz_starts"] = len(set(log["attempts"]) - set(attempts))
        lost["quiz_submits"] = sum(1 for x in log["submits"] if attempts.get(x) is None)
        completed = {
            pid
            for (pid,) in rows(
                sa.select(e.c.public_id).where(
                    e.c.public_id.in_(log["completions"]),
                    e.c.completed_at.is_not(None),
                    e.c.status == "completed",
                )
            )
        }
        lost["completions"] = len(set(log["completions"]) - completed)
        certified = {
            pid
            for (pid,) in rows(
                sa.select(e.c.public_id)
                .join(c, c.c.enrollment_id == e.c.id)
                .where(e.c.public_id.in_(log["completions"]), c.c.revoked_at.is_(None))
            )
        }
        lost["certificates"] = len(completed - certified)  # a lost completion counts once

        live = e.c.withdrawn_at.is_(None)
        dup["enrolments"] = extra(e.c.user_id, e.c.course_id, table=e, where=live)
        dup["progress"] = extra(p.c.enrollment_id, p.c.lesson_key, table=p)
        dup["attempt_numbers"] = extra(a.c.enrollment_id, a.c.lesson_key, a.c.number, table=a)
        new = rows(
            sa.select(e.c.public_id, a.c.lesson_key, sa.func.count())
            .join(e, e.c.id == a.c.enrollment_id)
            .where(a.c.id > log["before"]["attempt_max_id"])
            .group_by(e.c.public_id, a.c.lesson_key)
        )
        # More attempts than starts sent: one start made two (a double submission).
        dup["attempts"] = sum(
            max(0, n - log["attempts_sent"].get(f"{pid}|{key}", 0)) for pid, key, n in new
        )
        dup["live_certificates"] = extra(c.c.enrollment_id, table=c, where=c.c.revoked_at.is_(None))
        dup["certificate_serials"] = extra(c.c.serial, table=c)
        dup["completions"] = extra(
            audit.c.target_id, table=audit, where=audit.c.action == "enrollment.complete"
        )
    engine.dispose()
    return {
        "lost": lost,
        "duplicates": dup,
        "lost_updates": sum(lost.values()),
        "duplicate_rows": sum(dup.values()),
    }


# --- the report --------------------------------------------------------------------------------


def report(s: Settings, run: Run, window: tuple[float, float, float], integrity: dict) -> dict:
    """The figures of the window (begin of the ramp, start and end of the window)."""
    begin, start, end = window
    seconds = end - start
    users = [r for r in run.stats.rows if r[0] not in ("baseline", "healthz")]
    load = [r for r in users if start <= r[1] <= end]
    ramp = [r for r in users if r[1] < start]
    base = [r for r in run.stats.rows if r[0] == "baseline"]
    by_kind = defaultdict(list)
    for r in load:
        by_kind[r[0]].append(r)
    overall = figures(load, seconds)
    baseline = figures(base, s.baseline_seconds or 1)
    ramp_figures = figures(ramp, start - begin)
    result = {
        "users": s.users,
        "workers": s.workers,
        "admins": s.admins,
        "seconds": round(seconds, 1),
        **overall,
        # Errors of the sign-in ramp count too (the other figures are the steady state's).
        "errors": overall["errors"] + ramp_figures["errors"],
        "window_errors": overall["errors"],
        "ramp": {"seconds": round(start - begin, 1), **ramp_figures},
        "baseline_rps": baseline["rps"],
        "baseline_p50_ms": baseline["p50_ms"],
        "rps_vs_baseline": round(overall["rps"] / baseline["rps"], 3) if baseline["rps"] else None,
        "p50_vs_baseline": round(overall["p50_ms"] / baseline["p50_ms"], 1)
        if baseline["p50_ms"]
        else None,
        "cpu_seconds": {k: round(v, 1) for k, v in run.cpu.items()},
        "web_cpu_ms_per_request": round(1000 * run.cpu["web"] / len(load), 1) if load else None,
        "healthz_under_load": figures(
            [r for r in run.stats.rows if r[0] == "healthz" and start <= r[1] <= end], seconds
        ),
        "lost_updates": integrity["lost_updates"],
        "duplicate_rows": integrity["duplicate_rows"],
        "lost": integrity["lost"],
        "duplicates": integrity["duplicates"],
        "acknowledged": {
            "sign_ins": run.actions.sign_ins,
            "progress_saves": len(run.actions.progress),
            "enrolments": len(run.actions.enrolments),
            "quiz_starts": len(run.actions.attempts),
            "quiz_submits": len(run.actions.submits),
            "completions": len(run.actions.completions),
        },
        "kinds": {k: figures(v, seconds) for k, v in sorted(by_kind.items())},
        "error_samples": dict(run.stats.samples.most_common(10)),
        "retries": dict(run.stats.retries),
    }
    if run.bulk:
        result["bulk"] = bulk_figures(run, load)
    return result


def bulk_figures(run: Run, load: list) -> dict:
    """The bulk job's duration and the completions' latency while it ran and otherwise."""
    bulk = run.bulk
    t0 = bulk["started"]
    t1 = bulk.get("seen_finished") or max((r[1] for r in load), default=t0)
    completing = [r for r in load if r[0] == "completion"]
    during = [r for r in completing if t0 <= r[1] <= t1]
    outside = [r for r in completing if not t0 <= r[1] <= t1]
    all_during = [r for r in load if t0 <= r[1] <= t1]
    all_outside = [r for r in load if not t0 <= r[1] <= t1]
    p50_during, p50_outside = figures(during, 1)["p50_ms"], figures(outside, 1)["p50_ms"]
    return {
        "state": bulk.get("state"),
        "items": bulk.get("items"),
        "progress": bulk.get("progress"),
        "seconds": bulk.get("seconds"),
        "queued_seconds": bulk.get("queued_seconds"),
        "completions_during": len(during),
        "completion_p50_ms_during": p50_during,
        "completion_p95_ms_during": figures(during, 1)["p95_ms"],
        "completions_outside": len(outside),
        "completion_p50_ms_outside": p50_outside,
        "completion_p95_ms_outside": figures(outside, 1)["p95_ms"],
        # How much slower a completion is while the job runs (1.0: unchanged).
        "completion_p50_ratio": round(p50_during / p50_outside, 2)
        if p50_during and p50_outside
        else None,
        "p95_ms_during": figures(all_during, 1)["p95_ms"],
        "p95_ms_outside": figures(all_outside, 1)["p95_ms"],
        "errors_during": figures(all_during, 1)["errors"],
    }


def job_row(url: str, job_path: str) -> dict:
    """The bulk job's state, size and duration as the database has them."""
    engine = sa.create_engine(url)
    jobs = sa.Table("jobs", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        job = conn.execute(
            sa.select(jobs).where(jobs.c.public_id == job_path.rsplit("/", 1)[-1])
        ).one()
    engine.dispose()
    end = job.finished_at
    return {
        "state": job.state,
        "items": job.total,
        "progress": job.progress,
        "seconds": round((end - job.created_at).total_seconds(), 1) if end else None,
        "queued_seconds": round((job.started_at - job.created_at).total_seconds(), 1)
        if job.started_at
        else None,
    }


def print_table(result: dict) -> None:
    print(
        f"{result['users']} users ({result['workers']} workers, {result['admins']} admins), "
        f"measured for {result['seconds']} s after they signed in"
    )
    head = f"{'kind':16} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    print(head + f" {'max ms':>8} {'errors':>6}")
    for kind, f in [*result["kinds"].items(), ("ALL", result)]:
        print(
            f"{kind:16} {f['requests']:8d} {f['rps']:7.1f} {f['p50_ms']:8.1f} {f['p95_ms']:8.1f}"
            f" {f['p99_ms']:8.1f} {f.get('max_ms', 0):8.1f} {f['errors']:6d}"
        )
    c = result["cpu_seconds"]
    print(
        f"CPU in the window: gunicorn {c['web']} s ({result['web_cpu_ms_per_request']} ms a "
        f"request), Celery {c['celery']} s, the simulated users {c['clients']} s"
    )
    r = result["ramp"]
    print(
        f"sign-in ramp before the window: {r['requests']} requests in {r['seconds']} s, "
        f"p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, {r['errors']} errors"
    )
    h = result["healthz_under_load"]
    print(
        f"baseline /healthz (closed loop, 8 connections, before the users): "
        f"{result['baseline_rps']} req/s, p50 {result['baseline_p50_ms']} ms; "
        f"under load: p50 {h['p50_ms']} ms, p95 {h['p95_ms']} ms"
    )
    if "bulk" in result:
        b = result["bulk"]
        print(
            f"bulk certificates job: {b['state']} in {b['seconds']} s ({b['items']} items); "
            f"completions during it: {b['completions_during']} (p50 "
            f"{b['completion_p50_ms_during']} ms, p95 {b['completion_p95_ms_during']} ms), "
            f"otherwise: {b['completions_outside']} (p50 {b['completion_p50_ms_outside']} ms, "
            f"p95 {b['completion_p95_ms_outside']} ms); all requests p95 during it "
            f"{b['p95_ms_during']} ms, otherwise {b['p95_ms_outside']} ms"
        )
    print(f"acknowledged: {result['acknowledged']}")
    print(
        f"integrity: lost_updates {result['lost_updates']} {result['lost']}, "
        f"duplicate_rows {result['duplicate_rows']} {result['duplicates']}"
    )
    if result["retries"]:
        print(f"connection errors sent again once (as browsers do): {result['retries']}")
    for sample, n in result["error_samples"].items():
        print(f"  error: {n} x {sample}")


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--with-bulk",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="start a bulk certificate job during the run (default: on)",
    )
    args = parser.parse_args()
    s = Settings()
    check_loopback(s.database_url)
    check_loopback(s.redis_url)

    def out_of_time(*_):
        raise TimeoutError(f"the run took more than LMS_LOAD_TIMEOUT={s.timeout:.0f} s")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the stack
    signal.alarm(int(s.timeout))
    work = Path(tempfile.mkdtemp(prefix="lms-load-"))
    env = {
        **os.environ,
        "FLASK_APP": "app.py",
        "LMS_DATABASE_URL": s.database_url,
        "LMS_SECRET_KEY": SECRET,
        "LMS_STORAGE_DIR": str(work / "storage"),
        "LMS_SIGNING_KEY_DIR": str(work / "keys"),
        "LMS_LOGIN_RATE_LIMIT": "100000 per minute",  # every user signs in from 127.0.0.1
    }
    env.pop("LMS_REDIS_URL", None)  # the setup runs its jobs inline, before the stack starts
    os.environ.update(env)
    procs: list[subprocess.Popen] = []
    try:
        t = time.perf_counter()
        recreate_database(s.database_url)
        run_flask(env, "db", "upgrade")
        run_flask(env, "demo", "load")
        world = add_workers(s.database_url, s.workers, s.seed)
        print(f"world: demo data and {s.workers} workers in {time.perf_counter() - t:.0f} s")
        import redis

        redis.Redis.from_url(s.redis_url).flushdb()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        stack_env = {**env, "LMS_REDIS_URL": s.redis_url, "LMS_BASE_URL": base}
        procs = start_stack(stack_env, port, work)
        run = Run(s, base, world)
        run.baseline(s.baseline_seconds)
        before = snapshot(s.database_url)
        begin = run.clock()
        threads = run.start_users(with_bulk=args.with_bulk)
        time.sleep(s.ramp)
        start, cpu_start = run.clock(), cpu_seconds(procs)
        time.sleep(s.seconds)
        run.stop.set()
        end, cpu_end = run.clock(), cpu_seconds(procs)
        sides = ("web", "celery", "clients")
        run.cpu = {k: b - a for k, a, b in zip(sides, cpu_start, cpu_end, strict=True)}
        for th in threads:
            th.join(timeout=HTTP_TIMEOUT + s.drain_seconds)
        if run.bulk.get("job"):
            run.bulk.update(job_row(s.database_url, run.bulk["job"]))
        log = run.actions.as_dict(before)
        wait_for_certificates(s.database_url, log["completions"], s.drain_seconds)
        integrity = check_integrity(s.database_url, log)
        if s.actions_out:
            Path(s.actions_out).write_text(json.dumps(log))
        result = report(s, run, (begin, start, end), integrity)
    finally:
        signal.alarm(0)
        stop_stack(procs)
        shutil.rmtree(work / "storage", ignore_errors=True)
        shutil.rmtree(work / "keys", ignore_errors=True)
    print_table(result)
    print(f"stack logs: {work}")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
