"""Benchmark: course page, catalogue search and lesson-progress saves under gunicorn.

Seeds a fresh PostgreSQL database (LMS_BENCH_DATABASE_URL, default a new database
`lms_bench` on 127.0.0.1) with 2,000 published courses and 100,000 workers in 40 firms,
starts gunicorn on it, and drives it with many distinct signed-in workers from threads:
- the course page of a 60-lesson course,
- the catalogue with a search term,
- the lesson-progress endpoint (JSON POST with the CSRF header, as the player sends it),
- and, as the baseline in the same run, a trivial Flask endpoint (/healthz).
Last line: a JSON object of the figures.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-secret-key"
os.environ["LMS_SECRET_KEY"] = SECRET

import sqlalchemy as sa  # noqa: E402
from flask.sessions import SecureCookieSessionInterface  # noqa: E402
from itsdangerous import URLSafeTimedSerializer  # noqa: E402

from lms import create_app  # noqa: E402
from lms.auth.service import token_digest  # noqa: E402
from lms.core.types import new_public_id, utcnow  # noqa: E402
from lms.extensions import db  # noqa: E402

WORKERS = int(os.environ.get("LMS_BENCH_WORKERS", "100000"))
COURSES = int(os.environ.get("LMS_BENCH_COURSES", "2000"))
SESSIONS = int(os.environ.get("LMS_BENCH_SESSIONS", "400"))
SECONDS = float(os.environ.get("LMS_BENCH_SECONDS", "8"))
CONCURRENCY = int(os.environ.get("LMS_BENCH_CONCURRENCY", "8"))
GUNICORN_WORKERS = int(os.environ.get("LMS_BENCH_GUNICORN_WORKERS", "3"))
PORT = int(os.environ.get("LMS_BENCH_PORT", "5091"))
WORDS_ZH = [
    "机器人",
    "PLC",
    "数控",
    "传感器",
    "安全",
    "质量",
    "精益",
    "数据",
    "网络",
    "孪生",
    "维护",
    "振动",
    "焊接",
    "装配",
    "视觉",
    "MES",
    "能源",
    "物流",
    "标识",
    "边缘",
]
WORDS_EN = [
    "robot",
    "plc",
    "cnc",
    "sensor",
    "safety",
    "quality",
    "lean",
    "data",
    "network",
    "twin",
    "maintenance",
    "vibration",
    "welding",
    "assembly",
    "vision",
    "opc",
    "mqtt",
]
BODY = (
    "## 要点\n\n"
    + "本节介绍现场操作的步骤、参数与常见错误，并给出检查清单。\n\n" * 12
    + "| 参数 | 值 |\n|---|---|\n| 速度 | 250 mm/s |\n"
)


def database_url() -> str:
    url = os.environ.get("LMS_BENCH_DATABASE_URL")
    if url:
        return url
    admin = sa.create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS lms_bench WITH (FORCE)"))
        conn.execute(sa.text("CREATE DATABASE lms_bench"))
    admin.dispose()
    return "postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench"


def seed(app) -> dict:
    """Bulk rows straight into the tables (the services are measured elsewhere)."""
    from lms.auth.models import User, UserSession
    from lms.core.codes import uscc_check_char
    from lms.courses.markdown import render_markdown
    from lms.courses.models import Course, CourseSkill, CourseVersion, Lesson, Module
    from lms.learning.models import Enrollment
    from lms.taxonomy.service import import_seed_taxonomy
    from lms.tenancy.models import Consortium, Firm, Membership

    rng = random.Random(7)
    now = utcnow()
    t0 = time.perf_counter()
    with app.app_context():
        db.drop_all()
        db.create_all()
        import_seed_taxonomy()
        skills = [r[0] for r in db.session.execute(sa.text("SELECT id FROM skills"))]
        consortium = Consortium(
            code="BENCH",
            name="基准联合体",
            city="唐山",
            region="east",
            sectors=["smart-manufacturing"],
        )
        db.session.add(consortium)
        db.session.flush()
        firms = []
        for i in range(40):
            first17 = f"91130200MA{i:07d}"
            firms.append(
                Firm(
                    consortium_id=consortium.id,
                    name=f"企业{i:02d}",
                    kind="specialized_sme",
                    credit_code=first17 + uscc_check_char(first17),
                )
            )
        db.session.add_all(firms)
        db.session.flush()
        users = [
            {
                "public_id": new_public_id(),
                "name": f"工人{i:06d}",
                "mobile": f"13{i:09d}",
                "locale": "zh_CN",
                "created_at": now,
                "is_platform_admin": False,
                "is_active_account": True,
                "failed_login_count": 0,
            }
            for i in range(WORKERS)
        ]
        for chunk in range(0, WORKERS, 10000):
            db.session.execute(sa.insert(User), users[chunk : chunk + 10000])
        user_ids = list(db.session.scalars(sa.select(User.id).order_by(User.id)))
        db.session.execute(
            sa.insert(Membership),
            [
                {
                    "user_id": uid,
                    "consortium_id": consortium.id,
                    "firm_id": firms[i % 40].id,
                    "role": "worker",
                    "starts_on": date(2026, 1, 1),
                    "created_at": now,
                }
                for i, uid in enumerate(user_ids)
            ],
        )
        html = render_markdown(BODY)
        big_slug = "course-0000"
        for n in range(COURSES):
            words = rng.sample(WORDS_ZH, 2) + rng.sample(WORDS_EN, 1)
            title = f"{words[0]}{words[1]}实训 {words[2].upper()} {n}"
            course = Course(
                consortium_id=consortium.id, firm_id=firms[n % 40].id, slug=f"course-{n:04d}"
            )
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
                search_text=f"{course.slug} {title} {' '.join(words)}".casefold(),
                skill_levels=[
                    CourseSkill(skill_id=s, level=rng.randint(1, 4), position=i)
                    for i, s in enumerate(rng.sample(skills, 3))
                ],
            )
            lessons = 60 if course.slug == big_slug else 10
            modules = [
                Module(version=version, position=m, title=f"模块{m + 1}")
                for m in range(6 if lessons == 60 else 3)
            ]
            for li in range(lessons):
                Lesson(
                    version=version,
                    module=modules[li % len(modules)],
                    position=li,
                    key=f"lessons/{li:02d}.md",
                    type="text",
                    title=f"第{li + 1}课 {words[0]}操作要点",
                    minutes=10,
                    body=BODY,
                    html=html,
                    data={},
                )
            db.session.add(course)
            if n % 200 == 199:
                db.session.flush()
        db.session.flush()
        big = db.session.scalars(
            sa.select(CourseVersion).join(Course).where(Course.slug == big_slug)
        ).one()
        lesson_ids = [x.id for x in big.lessons]
        # Distinct signed-in workers: a server-side session each, enrolled in the big course.
        serializer = SecureCookieSessionInterface().get_signing_serializer(app)
        csrf_signer = URLSafeTimedSerializer(SECRET, salt="wtf-csrf-token")
        clients = []
        sample = rng.sample(user_ids, SESSIONS)
        enrolments = []
        for uid in sample:
            token, csrf_raw = secrets.token_urlsafe(32), secrets.token_hex(20)
            db.session.add(
                UserSession(
                    token_hash=token_digest(token),
                    user_id=uid,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now.replace(year=now.year + 1),
                )
            )
            pid = new_public_id()
            enrolments.append(
                {
                    "public_id": pid,
                    "consortium_id": consortium.id,
                    "firm_id": None,
                    "user_id": uid,
                    "course_id": big.course_id,
                    "version_id": big.id,
                    "status": "in_progress",
                    "source": "self",
                    "is_mandatory": False,
                    "enrolled_at": now,
                }
            )
            cookie = serializer.dumps(
                {"sid": token, "_user_id": str(uid), "_fresh": False, "csrf_token": csrf_raw}
            )
            clients.append(
                {
                    "cookie": f"lms_session={cookie}",
                    "csrf": csrf_signer.dumps(csrf_raw),
                    "enrollment": pid,
                }
            )
        db.session.execute(sa.insert(Enrollment), enrolments)
        db.session.commit()
        # Fresh statistics, as autovacuum would have them on a live database.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    return {
        "clients": clients,
        "lesson_ids": lesson_ids,
        "big_slug": big_slug,
        "seed_s": round(time.perf_counter() - t0, 1),
    }


def run_load(make_request, seconds: float) -> tuple[list[float], int]:
    """Drive `make_request(conn, i)` from CONCURRENCY threads for `seconds`."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(seed: int):
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        i, local = seed, []
        while time.perf_counter() < stop:
            start = time.perf_counter()
            try:
                status, _body = make_request(conn, i)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                status = 0
            local.append((time.perf_counter() - start) * 1000)
            if status not in (200, 204):
                with lock:
                    errors[0] += 1
            i += CONCURRENCY
        conn.close()
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(CONCURRENCY)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0]


def get(path: str, cookie: str | None = None):
    def make(conn, i):
        conn.request("GET", path, headers={"Cookie": cookie(i)} if cookie else {})
        response = conn.getresponse()
        return response.status, response.read()

    return make


def main() -> None:
    url = database_url()
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    world = seed(app)
    clients = world["clients"]
    env = {
        **os.environ,
        "LMS_DATABASE_URL": url,
        "LMS_SECRET_KEY": SECRET,
        "LMS_LOGIN_RATE_LIMIT": "100000 per minute",
    }
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "-w",
            str(GUNICORN_WORKERS),
            "-b",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
            "app:app",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        cookie = lambda i: clients[i % len(clients)]["cookie"]  # noqa: E731
        probe = http.client.HTTPConnection("127.0.0.1", PORT)
        probe.request("GET", f"/courses/{world['big_slug']}", headers={"Cookie": cookie(0)})
        page = probe.getresponse()
        html = page.read()
        assert page.status == 200 and b"<h1>" in html, page.status
        probe.close()

        def progress(conn, i):
            c = clients[i % len(clients)]
            lesson = world["lesson_ids"][i % len(world["lesson_ids"])]
            body = json.dumps({"percent": (i * 7) % 101, "position": 0})
            conn.request(
                "POST",
                f"/learn/{c['enrollment']}/lessons/{lesson}/progress",
                body=body,
                headers={
                    "Cookie": c["cookie"],
                    "X-CSRFToken": c["csrf"],
                    "Content-Type": "application/json",
                },
            )
            response = conn.getresponse()
            return response.status, response.read()

        scenarios = {
            "baseline": get("/healthz"),
            "course_page": get(f"/courses/{world['big_slug']}", cookie),
            "catalogue": get("/courses/?q=%E6%9C%BA%E5%99%A8%E4%BA%BA", cookie),
            "progress": progress,
        }
        figures = {
            "workers": WORKERS,
            "courses": COURSES,
            "sessions": len(clients),
            "seed_s": world["seed_s"],
            "concurrency": CONCURRENCY,
            "gunicorn_workers": GUNICORN_WORKERS,
            "course_page_html_kb": round(len(html) / 1024, 1),
        }
        print(
            f"seeded {WORKERS} workers, {COURSES} courses in {world['seed_s']} s; "
            f"{len(clients)} signed-in workers; {CONCURRENCY} client threads; "
            f"gunicorn -w {GUNICORN_WORKERS}"
        )
        print(
            f"{'endpoint':12} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7} {'vs base':>8}"
        )
        base_rps = None
        for name, make in scenarios.items():
            run_load(make, 1.0)  # warm-up
            lat, errors = run_load(make, SECONDS)
            rps = len(lat) / SECONDS
            p95 = statistics.quantiles(lat, n=100)[94]
            base_rps = base_rps or rps
            figures[f"{name}_rps"] = round(rps, 1)
            figures[f"{name}_p50_ms"] = round(statistics.median(lat), 1)
            figures[f"{name}_p95_ms"] = round(p95, 1)
            figures[f"{name}_errors"] = errors
            print(
                f"{name:12} {rps:8.1f} {statistics.median(lat):8.1f} {p95:8.1f} {errors:7d} "
                f"{rps / base_rps:8.2f}"
            )
        figures["course_page_ratio"] = round(
            figures["course_page_rps"] / figures["baseline_rps"], 3
        )
        print(f"course page HTML: {figures['course_page_html_kb']} KB")
        print(json.dumps(figures))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
