"""Benchmark: what each main page costs per request, next to /healthz in the same run (issue 16).

Sets up its own world in its own PostgreSQL database (LMS_BENCH_DATABASE_URL, default a new
`lms_pages` on 127.0.0.1; loopback only): bench/learning.py's seed (LMS_PAGES_WORKERS workers,
default 100,000, in 40 firms and LMS_PAGES_COURSES published courses, default 2,000, one of
them of 60 lessons), then, in bulk or through the app's services:
- job roles for every worker, a 10-lesson and a 500-lesson course, and the demo's
  industrial-networks course (read and published as a package, with its quizzes);
- LMS_PAGES_SESSIONS signed-in workers (default 400, server-side sessions and signed cookies
  as a sign-in makes them), each enrolled in those three courses (lessons done up to the
  middle one), with a graded quiz attempt, two completed courses with their certificates,
  a few verified skills;
- a second consortium with a 14-course catalogue and its own signed-in workers (home_14);
- consortium and firm administrators, signed in;
- the batch jobs a live site has run: the consortia's recommendation lists ranked
  (`recommendations.recompute`) and the report summaries refreshed.
A marker table (bench_pages_world) keeps the world, so `--reuse` skips all that on the next run of the same sizes.

Then it starts gunicorn as in production (`gunicorn -c gunicorn.conf.py "lms:create_app()"`,
LMS_PAGES_WEB_WORKERS x LMS_PAGES_WEB_THREADS, default 2 x 8; no Redis: jobs run in the
embedded mode, so a ranking a page asked for would be paid inside the measured requests) and
measures each page in its own phase: a closed loop from LMS_PAGES_CONCURRENCY threads (default
8) for LMS_PAGES_SECONDS (default 8) after a short warm-up, every request from another
signed-in user (a request whose kept-alive connection fails is sent again once, as browsers
do, and counted); /healthz before the first page and after the last (baseline_rps: their mean).
Per page: req/s and its ratio to baseline_rps, p50/p95, CPU ms per request (the gunicorn
processes, and the database's backends of this database, both from /proc) and SQL statements
per request (one warmed-up request through the Flask test client in this process, each
statement counted; also from pg_stat_statements when the server has it loaded). Every response
must be a 200: a phase with errors is reported and the run exits 1 at the end.

Prints a table, the issue's targets as PASS/FAIL, then as the last line one JSON object of the
figures. `--profile PAGE` instead profiles LMS_PAGES_PROFILE_REQUESTS requests (default 100) of
one page through the test client in this process and prints the 25 functions of highest
cumulative time (and the 15 of highest own time).
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from flask.sessions import SecureCookieSessionInterface  # noqa: E402

from bench import learning, load  # noqa: E402  (learning sets LMS_SECRET_KEY on import)
from lms import create_app  # noqa: E402
from lms.core.types import new_public_id, utcnow  # noqa: E402
from lms.extensions import db  # noqa: E402

BIN = Path(sys.executable).parent
SECRET = learning.SECRET
DATABASE_URL = os.environ.get(
    "LMS_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/lms_pages"
)
WORKERS = int(os.environ.get("LMS_PAGES_WORKERS", "100000"))
COURSES = max(3, int(os.environ.get("LMS_PAGES_COURSES", "2000")))
SESSIONS = min(WORKERS, int(os.environ.get("LMS_PAGES_SESSIONS", "400")))
SECONDS = float(os.environ.get("LMS_PAGES_SECONDS", "8"))
WARMUP = min(1.0, SECONDS / 4)
CONCURRENCY = int(os.environ.get("LMS_PAGES_CONCURRENCY", "8"))
WEB_WORKERS = int(os.environ.get("LMS_PAGES_WEB_WORKERS", "2"))
WEB_THREADS = int(os.environ.get("LMS_PAGES_WEB_THREADS", "8"))
PROFILE_REQUESTS = int(os.environ.get("LMS_PAGES_PROFILE_REQUESTS", "100"))
SMALL_COURSES = 14  # the catalogue of the second consortium (home_14)
SMALL_WORKERS = min(WORKERS, 2000)
SMALL_SESSIONS = min(SESSIONS, 200)
ADMINS = 8  # signed-in consortium admins, and as many firm admins (of different firms)
QUIZ_COURSE = "industrial-networks"  # the demo's course with quizzes, read as a package
SEARCH = "/courses/?q=%E6%9C%BA%E5%99%A8%E4%BA%BA"  # 机器人, as bench/learning.py searches

LEARNER_BUDGET, ADMIN_BUDGET = 8, 15  # SQL statements per request (issue 16)
ADMIN_PAGES = ("consortium_dashboard", "firm_dashboard")
PAGES = (
    "home",
    "home_14",
    "learning",
    "catalogue",
    "catalogue_search",
    "course_page",
    "lesson_10",
    "lesson_500",
    "quiz",
    "attempt",
    "skills",
    "certificates",
    *ADMIN_PAGES,
)
# The issue's names of some figures in the JSON (besides <page>_rps).
ALIASES = {"lesson_rps_10": "lesson_10", "lesson_rps_500": "lesson_500", "home_rps_14": "home_14"}


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in load.LOOPBACK:
        raise SystemExit(f"bench/pages.py runs on loopback only, not against {host}")


def say(message: str) -> None:
    print(message, flush=True)


# --- the world ---------------------------------------------------------------------------------


def sign_in_cookies(app, user_ids: list[int], now) -> list[str]:
    """A live server-side session for each user and its signed cookie, as bench/learning.py
    makes them (a sign-in's session row and Flask session)."""
    from lms.auth.models import UserSession
    from lms.auth.service import token_digest

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    cookies = []
    for uid in user_ids:
        token = secrets.token_urlsafe(32)
        db.session.add(
            UserSession(
                token_hash=token_digest(token),
                user_id=uid,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(days=365),
            )
        )
        payload = {"sid": token, "_user_id": str(uid), "_fresh": False}
        payload["csrf_token"] = secrets.token_hex(20)
        cookies.append(f"lms_session={serializer.dumps(payload)}")
    db.session.flush()
    return cookies


def user_of(app, cookie: str) -> int:
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    return int(serializer.loads(cookie.split("=", 1)[1])["_user_id"])


def add_users(prefix: str, count: int, now) -> list[int]:
    """`count` accounts in bulk (as bench/learning.py inserts its workers); their ids."""
    from lms.auth.models import User

    rows = [
        {
            "public_id": new_public_id(),
            "name": f"学员{prefix}{i:06d}",
            "mobile": f"{prefix}{i:09d}",
            "locale": "zh_CN",
            "created_at": now,
            "is_platform_admin": False,
            "is_active_account": True,
            "failed_login_count": 0,
        }
        for i in range(count)
    ]
    for start in range(0, count, 10000):
        db.session.execute(sa.insert(User), rows[start : start + 10000])
    mobiles = [r["mobile"] for r in rows]
    ids = []
    for start in range(0, count, 10000):
        ids += db.session.scalars(
            sa.select(User.id).where(User.mobile.in_(mobiles[start : start + 10000]))
        ).all()
    return sorted(ids)


def add_memberships(rows: list[dict], now) -> None:
    from lms.tenancy.models import Membership

    for row in rows:
        row.setdefault("starts_on", date(2026, 1, 1))
        row.setdefault("created_at", now)
        row.setdefault("job_role_id", None)
    for start in range(0, len(rows), 10000):
        db.session.execute(sa.insert(Membership), rows[start : start + 10000])


def add_course(consortium_id, firm_id, slug, title, *, lessons, modules, skills, now):
    """A published text course of `lessons` lessons in `modules` modules (as bench/learning.py
    builds its courses); its version."""
    from lms.courses.markdown import render_markdown
    from lms.courses.models import Course, CourseSkill, CourseVersion, Lesson, Module

    html = render_markdown(learning.BODY)
    course = Course(consortium_id=consortium_id, firm_id=firm_id, slug=slug)
    version = CourseVersion(
        course=course,
        version=1,
        status="published",
        language="zh-CN",
        title=title,
        summary="面向一线员工的实训课程。" * 3,
        sector="smart-manufacturing",
        hours=8,
        pass_mark=60,
        prerequisites=[],
        published_at=now,
        search_text=f"{slug} {title}".casefold(),
        skill_levels=[
            CourseSkill(skill_id=s, level=level, position=i) for i, (s, level) in enumerate(skills)
        ],
    )
    parts = [Module(version=version, position=m, title=f"模块{m + 1}") for m in range(modules)]
    for li in range(lessons):
        Lesson(
            version=version,
            module=parts[li * modules // lessons],
            position=li,
            key=f"lessons/{li:03d}.md",
            type="text",
            title=f"第{li + 1}课 操作要点",
            minutes=10,
            body=learning.BODY,
            html=html,
            data={},
        )
    db.session.add(course)
    db.session.flush()
    return version


def add_enrolments(rows: list[dict], now) -> None:
    from lms.learning.models import Enrollment

    for row in rows:
        row.update(source="self", is_mandatory=False, enrolled_at=now, started_at=now)
        row.setdefault("status", "in_progress")
    for start in range(0, len(rows), 10000):
        db.session.execute(sa.insert(Enrollment), rows[start : start + 10000])


def add_progress(pairs: list[tuple[str, list[str]]], now) -> None:
    """Lessons done: (enrolment public id, lesson keys)."""
    from lms.learning.models import Enrollment, LessonProgress

    ids = dict(
        db.session.execute(
            sa.select(Enrollment.public_id, Enrollment.id).where(
                Enrollment.public_id.in_([p for p, _keys in pairs])
            )
        ).all()
    )
    rows = [
        {
            "enrollment_id": ids[pid],
            "lesson_key": key,
            "percent": 100,
            "position_seconds": 0.0,
            "completed_at": now,
            "updated_at": now,
        }
        for pid, keys in pairs
        for key in keys
    ]
    for start in range(0, len(rows), 10000):
        db.session.execute(sa.insert(LessonProgress), rows[start : start + 10000])


def seed(app) -> dict:
    """The world of the run (see the module's docstring), as plain data."""
    from lms.certificates import service as certificates
    from lms.courses.models import Course, CourseVersion, Lesson
    from lms.courses.package import read_package
    from lms.courses.service import course_slugs, import_package
    from lms.demo.data import correct_response
    from lms.learning import service as learning_service
    from lms.learning.models import Enrollment
    from lms.skills.models import SkillEvidence
    from lms.taxonomy.models import JobRole, RoleSkill
    from lms.taxonomy.service import known_skill_ids
    from lms.tenancy.models import Consortium, Firm, Membership

    t0 = time.perf_counter()
    learning.WORKERS, learning.COURSES, learning.SESSIONS = WORKERS, COURSES, SESSIONS
    base = learning.seed(app)
    say(f"  bench/learning.py's seed: {base['seed_s']} s")
    rng = random.Random(16)
    now = utcnow()
    with app.app_context():
        consortium = db.session.scalars(
            sa.select(Consortium).where(Consortium.code == "BENCH")
        ).one()
        firms = db.session.scalars(
            sa.select(Firm).where(Firm.consortium_id == consortium.id).order_by(Firm.id)
        ).all()
        roles = db.session.scalars(
            sa.select(JobRole.id)
            .where(JobRole.consortium_id.is_(None), JobRole.is_active.is_(True))
            .where(JobRole.id.in_(sa.select(RoleSkill.role_id)))
            .order_by(JobRole.id)
        ).all()
        role_skills = {}
        for role_id, skill_id, level in db.session.execute(
            sa.select(RoleSkill.role_id, RoleSkill.skill_id, RoleSkill.level)
        ):
            role_skills.setdefault(role_id, []).append((skill_id, level))
        # Every worker holds a job role (the recommendations rank their gaps).
        for k, role_id in enumerate(roles):
            db.session.execute(
                sa.update(Membership)
                .where(
                    Membership.consortium_id == consortium.id,
                    Membership.role == "worker",
                    Membership.user_id % len(roles) == k,
                )
                .values(job_role_id=role_id)
            )
        skills = sorted(known_skill_ids())

        def three_skills():
            return [(s, rng.randint(1, 4)) for s in rng.sample(skills, 3)]

        v10 = add_course(
            consortium.id,
            firms[0].id,
            "lessons-10",
            "十课时课程 传感器",
            lessons=10,
            modules=3,
            skills=three_skills(),
            now=now,
        )
        v500 = add_course(
            consortium.id,
            firms[1].id,
            "lessons-500",
            "五百课时课程 数控",
            lessons=500,
            modules=25,
            skills=three_skills(),
            now=now,
        )
        package = read_package(
            ROOT / "courses" / QUIZ_COURSE,
            known_skills=known_skill_ids(),
            known_courses=course_slugs(consortium),
        )
        assert not package.problems, package.problems
        vquiz, _outcome = import_package(None, consortium, firms[2], package)
        db.session.commit()
        quiz_lesson = [x for x in vquiz.lessons if x.type == "quiz"][-1]
        done_course = {
            slug: db.session.scalars(
                sa.select(CourseVersion).join(Course).where(Course.slug == slug)
            ).one()
            for slug in ("course-0001", "course-0002")
        }
        keys = {v.id: [x.key for x in v.lessons] for v in (v10, v500, *done_course.values())}
        lesson_10, lesson_500 = v10.lessons[len(v10.lessons) // 2], v500.lessons[250]

        # The signed-in workers of bench/learning.py's seed, enrolled in more courses.
        user_ids = [user_of(app, c["cookie"]) for c in base["clients"]]
        firm_of = dict(
            db.session.execute(
                sa.select(Membership.user_id, Membership.firm_id).where(
                    Membership.user_id.in_(user_ids)
                )
            ).all()
        )
        role_of = dict(
            db.session.execute(
                sa.select(Membership.user_id, Membership.job_role_id).where(
                    Membership.user_id.in_(user_ids)
                )
            ).all()
        )
        workers, enrolments, progress, completed, evidence = [], [], [], [], []
        for uid, client in zip(user_ids, base["clients"], strict=True):
            mine = {"user_id": uid, "cookie": client["cookie"], "firm_id": firm_of[uid]}
            for name, version in (("enr_10", v10), ("enr_500", v500), ("enr_quiz", vquiz)):
                mine[name] = new_public_id()
                enrolments.append(
                    {
                        "public_id": mine[name],
                        "consortium_id": consortium.id,
                        "firm_id": firm_of[uid],
                        "user_id": uid,
                        "course_id": version.course_id,
                        "version_id": version.id,
                    }
                )
            progress.append((mine["enr_10"], keys[v10.id][: len(keys[v10.id]) // 2]))
            progress.append((mine["enr_500"], keys[v500.id][:250]))
            for version in done_course.values():
                pid = new_public_id()
                completed.append(pid)
                enrolments.append(
                    {
                        "public_id": pid,
                        "consortium_id": consortium.id,
                        "firm_id": firm_of[uid],
                        "user_id": uid,
                        "course_id": version.course_id,
                        "version_id": version.id,
                        "status": "completed",
                        "completed_at": now,
                        "score": 100.0,
                    }
                )
                progress.append((pid, keys[version.id]))
            held = role_skills[role_of[uid]]
            for skill_id, level in rng.sample(held, min(3, len(held))):
                evidence.append(
                    {
                        "user_id": uid,
                        "skill_id": skill_id,
                        "level": max(1, level - 1),
                        "source": "rating",
                        "is_verified": True,
                        "note": "",
                        "recorded_at": now,
                        "raises_level": False,
                    }
                )
            workers.append(mine)
        add_enrolments(enrolments, now)
        add_progress(progress, now)
        db.session.execute(sa.insert(SkillEvidence), evidence)
        db.session.commit()
        say(f"  enrolments, progress and skills of {len(workers)} workers")

        # A graded attempt of the final quiz each, and the certificates of the completed
        # courses, through the services (PDFs rendered on first download, as the demo does).
        quiz = db.session.get(Lesson, quiz_lesson.id)
        for n, mine in enumerate(workers, 1):
            enrollment = db.session.scalars(
                sa.select(Enrollment).where(Enrollment.public_id == mine["enr_quiz"])
            ).one()
            attempt = learning_service.start_attempt(enrollment, quiz)
            asked = [q for q in quiz.questions if q.id in attempt.question_ids]
            learning_service.submit_attempt(
                attempt, {str(q.id): correct_response(q) for q in asked}
            )
            mine["attempt"] = attempt.public_id
            if n % 50 == 0:
                db.session.commit()
        db.session.commit()
        with certificates.pdfs_on_first_download():
            for n, pid in enumerate(completed, 1):
                certificates.issue(
                    db.session.scalars(
                        sa.select(Enrollment).where(Enrollment.public_id == pid)
                    ).one()
                )
                if n % 50 == 0:
                    db.session.commit()
        db.session.commit()
        say(f"  quiz attempts and {len(completed)} certificates")

        # Administrators: consortium admins, and firm admins of different firms.
        admin_ids = add_users("16", 2 * ADMINS, now)
        add_memberships(
            [
                {
                    "user_id": uid,
                    "consortium_id": consortium.id,
                    "firm_id": None,
                    "role": "consortium_admin",
                }
                for uid in admin_ids[:ADMINS]
            ]
            + [
                {
                    "user_id": uid,
                    "consortium_id": consortium.id,
                    "firm_id": firms[i % len(firms)].id,
                    "role": "firm_admin",
                }
                for i, uid in enumerate(admin_ids[ADMINS:])
            ],
            now,
        )
        admin_cookies = sign_in_cookies(app, admin_ids, now)
        consortium_admins = [{"cookie": c} for c in admin_cookies[:ADMINS]]
        firm_admins = [
            {"cookie": c, "firm_id": firms[i % len(firms)].id}
            for i, c in enumerate(admin_cookies[ADMINS:])
        ]

        # The second consortium: the same kind of workers with a 14-course catalogue.
        small = Consortium(
            code="SMALL14",
            name="小联合体",
            city="唐山",
            region="east",
            sectors=["smart-manufacturing"],
        )
        db.session.add(small)
        db.session.flush()
        from lms.core.codes import uscc_check_char

        small_firms = []
        for i in range(2):
            first17 = f"91130200MB{i:07d}"
            small_firms.append(
                Firm(
                    consortium_id=small.id,
                    name=f"小企业{i}",
                    kind="specialized_sme",
                    credit_code=first17 + uscc_check_char(first17),
                )
            )
        db.session.add_all(small_firms)
        db.session.flush()
        small_ids = add_users("15", SMALL_WORKERS, now)
        add_memberships(
            [
                {
                    "user_id": uid,
                    "consortium_id": small.id,
                    "firm_id": small_firms[i % 2].id,
                    "role": "worker",
                    "job_role_id": roles[uid % len(roles)],
                }
                for i, uid in enumerate(small_ids)
            ],
            now,
        )
        wanted = sorted({s for r in roles for s, _level in role_skills[r]})
        small_versions = [
            add_course(
                small.id,
                small_firms[n % 2].id,
                f"small-{n:02d}",
                f"小目录课程 {n}",
                lessons=10,
                modules=3,
                skills=[(s, rng.randint(1, 4)) for s in rng.sample(wanted, 3)],
                now=now,
            )
            for n in range(SMALL_COURSES)
        ]
        chosen = rng.sample(small_ids, SMALL_SESSIONS)
        small_workers = [{"cookie": c} for c in sign_in_cookies(app, chosen, now)]
        firm_of_small = {uid: small_firms[i % 2].id for i, uid in enumerate(small_ids)}
        add_enrolments(
            [
                {
                    "public_id": new_public_id(),
                    "consortium_id": small.id,
                    "firm_id": firm_of_small[uid],
                    "user_id": uid,
                    "course_id": version.course_id,
                    "version_id": version.id,
                }
                for uid in chosen
                for version in rng.sample(small_versions, 2)
            ],
            now,
        )
        db.session.commit()
        world = {
            "sizes": sizes(),
            "consortium_id": consortium.id,
            "small_consortium_id": small.id,
            "big_slug": base["big_slug"],
            "lesson_10": lesson_10.id,
            "lesson_500": lesson_500.id,
            "quiz_lesson": quiz_lesson.id,
            "workers": workers,
            "small_workers": small_workers,
            "consortium_admins": consortium_admins,
            "firm_admins": firm_admins,
        }
        # Tasks the services asked for after their commits (they would rank the same lists
        # once per commit in the embedded mode): dropped with the session; ranked once below.
        db.session.remove()
        say("  admins and the 14-course consortium")

    batch_jobs([world["consortium_id"], world["small_consortium_id"]], reports=True)
    with (
        app.app_context(),
        db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn,
    ):
        conn.execute(sa.text("ANALYZE"))
    world["seed_s"] = round(time.perf_counter() - t0, 1)
    return world


def batch_jobs(consortium_ids: list[int], *, reports: bool) -> None:
    """The batch jobs of a live site: every worker's recommendations ranked (the
    "recommendations" job) and, with `reports`, the report summaries brought up to date.

    In an app of their own whose cursors bind parameters on the client: the ranking of a whole
    consortium sends one `IN` list of all its workers, and past 65,535 of them PostgreSQL's
    protocol refuses server-side parameters (psycopg: "number of parameters must be between 0
    and 65535"; recommendations._workers, reported with issue 16)."""
    import psycopg

    from lms.reports import summary
    from lms.skills import recommendations

    t = time.perf_counter()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"cursor_factory": psycopg.ClientCursor}},
        }
    )
    with app.app_context():
        for consortium_id in consortium_ids:
            recommendations.recompute(consortium_id)
            db.session.commit()
            if reports:
                summary.refresh(consortium_id)
                db.session.commit()
        db.session.remove()
        db.engine.dispose()
    say(f"  batch jobs (recommendations, reports: {reports}): {time.perf_counter() - t:.0f} s")


def sizes() -> dict:
    return {"workers": WORKERS, "courses": COURSES, "sessions": SESSIONS}


def keep_world(url: str, world: dict) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE bench_pages_world (id integer PRIMARY KEY, world text)"))
        conn.execute(
            sa.text("INSERT INTO bench_pages_world (id, world) VALUES (1, :w)"),
            {"w": json.dumps(world)},
        )
    engine.dispose()


def kept_world(url: str) -> dict | None:
    """The world a previous run seeded in this database, if it has the sizes of this run."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            text = conn.execute(
                sa.text("SELECT world FROM bench_pages_world WHERE id = 1")
            ).scalar()
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    world = json.loads(text) if text else None
    if world and world["sizes"] != sizes():
        say(f"the kept world has other sizes ({world['sizes']}): seeding again")
        return None
    return world


def freshen(app, world: dict) -> None:
    """Before each run: the sessions live and not idle, the lists ranked with the catalogue the
    app builds now (a changed ranking model makes every list stale)."""
    from lms.auth.models import UserSession
    from lms.skills import recommendations
    from lms.skills.models import RecommendationList

    now = utcnow()
    with app.app_context():
        db.session.execute(
            sa.update(UserSession).values(
                last_seen_at=now, expires_at=now + timedelta(days=365), revoked_at=None
            )
        )
        db.session.commit()
        for consortium_id in (world["consortium_id"], world["small_consortium_id"]):
            current = recommendations.current_model_version(consortium_id)
            stale = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(RecommendationList)
                .where(
                    RecommendationList.consortium_id == consortium_id,
                    RecommendationList.model_version != current,
                )
            )
            if stale:
                say(f"  {stale} stale recommendation lists in consortium {consortium_id}")
                batch_jobs([consortium_id], reports=False)
        db.session.remove()


# --- the pages ---------------------------------------------------------------------------------


def targets(world: dict) -> dict[str, list[tuple[str, str | None]]]:
    """Each page: the (path, cookie) its requests go through in turn, one per signed-in user."""
    w = world["workers"]

    def each(path):
        return [(path(c), c["cookie"]) for c in w]

    cid = world["consortium_id"]
    return {
        "baseline": [("/healthz", None)],
        "home": each(lambda c: "/"),
        "home_14": [("/", c["cookie"]) for c in world["small_workers"]],
        "learning": each(lambda c: "/learning"),
        "catalogue": each(lambda c: "/courses/"),
        "catalogue_search": each(lambda c: SEARCH),
        "course_page": each(lambda c: f"/courses/{world['big_slug']}"),
        "lesson_10": each(lambda c: f"/learn/{c['enr_10']}/lessons/{world['lesson_10']}"),
        "lesson_500": each(lambda c: f"/learn/{c['enr_500']}/lessons/{world['lesson_500']}"),
        "quiz": each(lambda c: f"/learn/{c['enr_quiz']}/lessons/{world['quiz_lesson']}"),
        "attempt": each(lambda c: f"/learn/{c['enr_quiz']}/attempts/{c['attempt']}"),
        "skills": each(lambda c: "/skills"),
        "certificates": each(lambda c: "/certificates"),
        "consortium_dashboard": [
            (f"/consortia/{cid}/reports", a["cookie"]) for a in world["consortium_admins"]
        ],
        "firm_dashboard": [
            (f"/firms/{a['firm_id']}/reports", a["cookie"]) for a in world["firm_admins"]
        ],
    }


@contextmanager
def counted_statements(engine):
    """Every SQL statement sent through `engine` inside the block."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def statements_per_page(app, pages: dict) -> dict[str, tuple[int, int, list[str]]]:
    """page → (status, statements, their SQL) of one request by a signed-in user, after a
    first request by the same user (caches warm, the session's touch of the minute done)."""
    with app.app_context():
        engine = db.engine
    found = {}
    for name, items in pages.items():
        path, cookie = items[len(items) // 2]
        headers = {"Cookie": cookie} if cookie else {}
        client = app.test_client(use_cookies=False)  # the cookie goes as it is, no jar
        client.get(path, headers=headers).close()
        with counted_statements(engine) as statements:
            response = client.get(path, headers=headers)
            response.close()
        found[name] = (response.status_code, len(statements), statements)
    return found


# --- measuring ---------------------------------------------------------------------------------


class BackendCpu:
    """CPU seconds of this database's client backends, from /proc/<pid>/stat; sampled during a
    phase so that backends that start (and end) in it are counted too. None when /proc of the
    server's processes can't be read (another machine, another user)."""

    INTERVAL = 0.25

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        self.conn = self.engine.connect()
        self.tick = os.sysconf("SC_CLK_TCK")
        self.readable = True

    def _sample(self) -> dict[int, int]:
        pids = self.conn.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        ).scalars()
        ticks = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:  # ended meanwhile
                continue
            except OSError:
                self.readable = False
                continue
            ticks[pid] = int(fields[11]) + int(fields[12])
        return ticks

    @contextmanager
    def measure(self):
        """Yields a dict that holds, after the block, "seconds": CPU seconds (or None)."""
        result: dict = {}
        first = self._sample()
        last = dict(first)
        stop = threading.Event()

        def poll():
            while not stop.wait(self.INTERVAL):
                for pid, ticks in self._sample().items():
                    first.setdefault(pid, 0)  # started during the phase
                    last[pid] = ticks

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield result
        finally:
            stop.set()
            thread.join()
            for pid, ticks in self._sample().items():
                first.setdefault(pid, 0)
                last[pid] = ticks
            total = sum(last[pid] - first[pid] for pid in last)
            result["seconds"] = total / self.tick if self.readable else None

    def server_statements(self) -> int | None:
        """Statements run in this database so far per pg_stat_statements (None without it)."""
        try:
            return int(
                self.conn.execute(
                    sa.text(
                        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE dbid = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                        "AND query NOT LIKE '%pg_stat_%'"
                    )
                ).scalar()
            )
        except sa.exc.SQLAlchemyError:
            return None

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


def try_pg_stat_statements(monitor: BackendCpu) -> bool:
    try:
        monitor.conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
    except sa.exc.SQLAlchemyError:
        return False
    return monitor.server_statements() is not None


def start_web(url: str, port: int, work: Path) -> subprocess.Popen:
    """gunicorn as `make serve` runs it, in its own process group, once it answers /healthz."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env.update(
        LMS_DATABASE_URL=url,
        LMS_SECRET_KEY=SECRET,
        LMS_STORAGE_DIR=str(work / "storage"),
        LMS_SIGNING_KEY_DIR=str(work / "keys"),
        LMS_WEB_WORKERS=str(WEB_WORKERS),
        LMS_WEB_THREADS=str(WEB_THREADS),
        LMS_LOG_LEVEL="warning",
        PYTHONUNBUFFERED="1",
    )
    command = [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")]
    command += ["-b", f"127.0.0.1:{port}", "lms:create_app()"]
    with open(work / "gunicorn.log", "wb") as log:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: see {work / 'gunicorn.log'}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    load.stop_stack([proc])
    raise RuntimeError(f"gunicorn did not answer /healthz in 90 s: see {work / 'gunicorn.log'}")


def requester(items: list[tuple[str, str | None]], seen: dict[str, Counter], lock):
    """bench/learning.py's `make_request(conn, i)`: request i goes to items[i % n]. Statuses
    other than 200, and the causes of requests that got no response, are counted in
    seen["statuses"]. A request whose kept-alive connection fails is sent again once on a new
    connection, as browsers do (counted by cause in seen["retries"])."""

    def make(conn, i):
        path, cookie = items[i % len(items)]
        for first in (True, False):
            try:
                conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
                response = conn.getresponse()
                body = response.read()
                break
            except (OSError, http.client.HTTPException) as exc:
                conn.close()  # the next request opens a new connection
                with lock:
                    seen["retries" if first else "statuses"][type(exc).__name__] += 1
                if not first:
                    raise
        if response.status != 200:
            with lock:
                seen["statuses"][str(response.status)] += 1
        # bench/learning.py's run_load takes 204 as a success too: not here.
        return (response.status if response.status != 204 else 0), body

    return make


def measure_phase(name, items, server, monitor) -> dict:
    seen, lock = {"statuses": Counter(), "retries": Counter()}, threading.Lock()
    make = requester(items, seen, lock)
    learning.run_load(make, WARMUP)
    seen["statuses"].clear()
    seen["retries"].clear()
    statements_before = monitor.server_statements()
    app_before = load.cpu_seconds([server])[0]
    with monitor.measure() as database:
        start = time.perf_counter()
        latencies, errors = learning.run_load(make, SECONDS)
        elapsed = time.perf_counter() - start
        app_after = load.cpu_seconds([server])[0]
    statements_after = monitor.server_statements()
    n = len(latencies)
    cut = statistics.quantiles(latencies, n=100) if n > 1 else [latencies[0] if n else 0.0] * 99
    figures = {
        "requests": n,
        "rps": round(n / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 1) if n else 0.0,
        "p95_ms": round(cut[94], 1),
        "app_cpu_ms": round((app_after - app_before) * 1000 / n, 2) if n else None,
        "db_cpu_ms": (
            round(database["seconds"] * 1000 / n, 2)
            if n and database["seconds"] is not None
            else None
        ),
        "errors": errors,
        "statuses": dict(seen["statuses"]),
        "retries": sum(seen["retries"].values()),
        "retry_causes": dict(seen["retries"]),
    }
    figures["cpu_ms"] = (
        round(figures["app_cpu_ms"] + figures["db_cpu_ms"], 2)
        if figures["db_cpu_ms"] is not None and figures["app_cpu_ms"] is not None
        else figures["app_cpu_ms"]
    )
    if statements_before is not None and statements_after is not None and n:
        figures["server_statements"] = round((statements_after - statements_before) / n, 1)
    return figures


# --- the run -----------------------------------------------------------------------------------


def check_targets(result: dict) -> list[tuple[str, bool, str]]:
    """The issue's targets: (name, passed, how it was measured)."""
    checks = []
    base = result["baseline_rps"]

    def ratio(page, floor):
        if f"{page}_rps" in result and base:
            r = result[f"{page}_rps"] / base
            checks.append((f"{page} >= {floor} x /healthz", r >= floor, f"{r:.3f}"))

    for page in ("course_page", "home", "learning"):
        ratio(page, 0.2)
    ratio("catalogue", 0.15)
    for big, small in (("lesson_500", "lesson_10"), ("home", "home_14")):
        if f"{big}_rps" in result and result.get(f"{small}_rps"):
            r = result[f"{big}_rps"] / result[f"{small}_rps"]
            checks.append((f"{big} >= 0.8 x {small}", r >= 0.8, f"{r:.3f}"))
        if f"{big}_queries" in result and f"{small}_queries" in result:
            a, b = result[f"{big}_queries"], result[f"{small}_queries"]
            checks.append((f"{big} statements == {small}'s", a == b, f"{a} vs {b}"))
    for page in PAGES:
        if f"{page}_queries" in result:
            budget = ADMIN_BUDGET if page in ADMIN_PAGES else LEARNER_BUDGET
            q = result[f"{page}_queries"]
            checks.append((f"{page} statements <= {budget}", q <= budget, str(q)))
    return checks


def print_table(result: dict, phases: dict) -> None:
    base = result["baseline_rps"]
    say(
        f"{'page':21} {'req/s':>7} {'x base':>7} {'p50 ms':>7} {'p95 ms':>7} {'app ms':>7} "
        f"{'db ms':>7} {'cpu ms':>7} {'SQL':>4} {'errors':>6}"
    )

    def cell(value, fmt):
        return format(value, fmt) if value is not None else format("-", ">" + fmt.split(".")[0])

    for name, f in phases.items():
        page = "baseline" if name.startswith("baseline") else name
        say(
            f"{name:21} {f['rps']:7.1f} {f['rps'] / base:7.3f} {f['p50_ms']:7.1f} "
            f"{f['p95_ms']:7.1f} {cell(f['app_cpu_ms'], '7.2f')} {cell(f['db_cpu_ms'], '7.2f')} "
            f"{cell(f['cpu_ms'], '7.2f')} {cell(result.get(f'{page}_queries'), '4d')} "
            f"{f['errors']:6d}"
            + (f"  {f['statuses']}" if f["statuses"] else "")
            + (f"  sent again: {f['retry_causes']}" if f["retries"] else "")
        )


def run(app, world: dict, only: list[str], *, show_sql: bool = False) -> int:
    pages = targets(world)
    chosen = ["baseline", *only]
    say("SQL statements per request (in-process, one warmed-up request each):")
    counted = statements_per_page(app, {name: pages[name] for name in chosen})
    result: dict = {
        "workers": WORKERS,
        "courses": COURSES,
        "sessions": SESSIONS,
        "seed_s": world.get("seed_s"),
        "concurrency": CONCURRENCY,
        "seconds": SECONDS,
        "web_workers": WEB_WORKERS,
        "web_threads": WEB_THREADS,
    }
    bad = []
    for name, (status, count, _sql) in counted.items():
        result[f"{name}_queries"] = count
        if status != 200:
            bad.append(f"{name}: {status}")
    say("  " + ", ".join(f"{name} {count}" for name, (_s, count, _q) in counted.items()))
    if show_sql:
        for name, (_status, _count, sql) in counted.items():
            say(f"  {name}:")
            for i, statement in enumerate(sql, 1):
                say(f"    {i}. {statement[:400]}")
    work = Path(tempfile.mkdtemp(prefix="lms-pages-"))
    port = load.free_port()
    learning.PORT, learning.CONCURRENCY = port, CONCURRENCY
    server = start_web(DATABASE_URL, port, work)
    monitor = BackendCpu(DATABASE_URL)
    phases: dict[str, dict] = {}
    try:
        server_counts = try_pg_stat_statements(monitor)
        result["server_statements"] = "pg_stat_statements" if server_counts else None
        say(
            f"gunicorn {WEB_WORKERS} workers x {WEB_THREADS} threads; {CONCURRENCY} client "
            f"threads, {SECONDS:g} s a page after {WARMUP:g} s of warm-up"
        )
        for name in ["baseline", *only, "baseline_end"]:
            items = pages["baseline" if name == "baseline_end" else name]
            phases[name] = measure_phase(name, items, server, monitor)
            f = phases[name]
            say(
                f"  {name}: {f['rps']} req/s, p95 {f['p95_ms']} ms, cpu {f['cpu_ms']} ms"
                + (f", {f['errors']} ERRORS {f['statuses']}" if f["errors"] else "")
            )
    finally:
        monitor.close()
        load.stop_stack([server])
    base = round((phases["baseline"]["rps"] + phases["baseline_end"]["rps"]) / 2, 1)
    result["baseline_rps"] = base
    for name, f in phases.items():
        page = "baseline_start" if name == "baseline" else name
        for key in (
            "rps",
            "p50_ms",
            "p95_ms",
            "cpu_ms",
            "app_cpu_ms",
            "db_cpu_ms",
            "errors",
            "retries",
        ):
            result[f"{page}_{key}"] = f[key]
        if "server_statements" in f:
            result[f"{page}_server_statements"] = f["server_statements"]
        if name not in ("baseline", "baseline_end"):
            result[f"{page}_ratio"] = round(f["rps"] / base, 3) if base else None
    for key in ("p50_ms", "p95_ms", "cpu_ms", "app_cpu_ms", "db_cpu_ms"):
        both = [phases[p][key] for p in ("baseline", "baseline_end")]
        result[f"baseline_{key}"] = round(statistics.mean(both), 2) if None not in both else None
    result["baseline_errors"] = phases["baseline"]["errors"] + phases["baseline_end"]["errors"]
    for alias, page in ALIASES.items():
        if f"{page}_rps" in result:
            result[alias] = result[f"{page}_rps"]
    errors = sum(f["errors"] for f in phases.values())
    result["errors"] = errors
    result["retries"] = sum(f["retries"] for f in phases.values())
    result["errors_in_process"] = bad
    print_table(result, phases)
    checks = check_targets(result)
    say("targets (issue 16):")
    for label, passed, value in checks:
        say(f"  {'PASS' if passed else 'FAIL'}  {label}: {value}")
    result["targets"] = {label: passed for label, passed, _value in checks}
    expensive = max(only, key=lambda p: result.get(f"{p}_cpu_ms") or 0, default=None)
    result["most_expensive_page"] = expensive
    if errors or bad:
        say(f"ERRORS: {errors} responses other than 200 under load; in-process: {bad or 'none'}")
        say(f"gunicorn's log: {work / 'gunicorn.log'}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return 1 if errors or bad else 0


def profile(app, world: dict, page: str) -> None:
    """cProfile PROFILE_REQUESTS requests of `page` through the test client, after a warm-up."""
    items = targets(world)[page]
    client = app.test_client(use_cookies=False)
    for path, cookie in items[:5]:
        client.get(path, headers={"Cookie": cookie} if cookie else {}).close()
    profiler = cProfile.Profile()
    statuses = Counter()
    start = time.perf_counter()
    profiler.enable()
    for i in range(PROFILE_REQUESTS):
        path, cookie = items[i % len(items)]
        response = client.get(path, headers={"Cookie": cookie} if cookie else {})
        statuses[response.status_code] += 1
        response.close()
    profiler.disable()
    elapsed = time.perf_counter() - start
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(25)
    out.write("the 15 of highest own time:\n")
    stats.sort_stats("tottime").print_stats(15)
    say(
        f"profile of {page}: {PROFILE_REQUESTS} requests in-process, "
        f"{elapsed * 1000 / PROFILE_REQUESTS:.1f} ms each under the profiler, statuses "
        f"{dict(statuses)}"
    )
    say(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--reuse", action="store_true", help="skip seeding when the database holds this seed"
    )
    parser.add_argument("--profile", metavar="PAGE", choices=PAGES, help="profile one page")
    parser.add_argument(
        "--pages", help=f"comma-separated pages to measure (default all: {','.join(PAGES)})"
    )
    parser.add_argument(
        "--sql", action="store_true", help="print the SQL statements of each page's request"
    )
    args = parser.parse_args()
    only = args.pages.split(",") if args.pages else list(PAGES)
    unknown = set(only) - set(PAGES)
    if unknown:
        parser.error(f"unknown pages: {', '.join(sorted(unknown))}")
    check_loopback(DATABASE_URL)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop gunicorn
    files = Path(tempfile.mkdtemp(prefix="lms-pages-files-"))
    os.environ.update(
        LMS_SECRET_KEY=SECRET,
        LMS_STORAGE_DIR=str(files / "storage"),
        LMS_SIGNING_KEY_DIR=str(files / "keys"),
    )
    os.environ.pop("LMS_REDIS_URL", None)  # the embedded mode, as the server below
    app = create_app({"SQLALCHEMY_DATABASE_URI": DATABASE_URL})
    try:
        world = kept_world(DATABASE_URL) if args.reuse else None
        if world is None:
            say(
                f"seeding {WORKERS} workers, {COURSES} courses, {SESSIONS} signed-in workers "
                f"into {sa.engine.make_url(DATABASE_URL).database}"
            )
            load.recreate_database(DATABASE_URL)
            world = seed(app)
            keep_world(DATABASE_URL, world)
            say(f"seeded in {world['seed_s']} s")
        else:
            say(f"reusing the seeded world of {world['sizes']}")
            world.pop("seed_s", None)
        freshen(app, world)
        if args.profile:
            profile(app, world, args.profile)
            code = 0
        else:
            code = run(app, world, only, show_sql=args.sql)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        shutil.rmtree(files, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
