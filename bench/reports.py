"""Benchmark: the consortium and firm dashboards and a 100,000-row XLSX export at scale.

Seeds a fresh database per backend — PostgreSQL (a private database `lms_bench_reports` on
127.0.0.1, dropped at the end unless --keep) and SQLite (a file in a temporary directory) —
with one consortium of 40 firms, 100,000 workers (20 job roles; a few names start with "=" so
the export's formula neutralising is exercised), 500 published courses (8–12 lessons in 2–3
modules, 2–4 skills each), 1,000,000 enrolments over the last 24 months (about 80 % assigned
by firms in cohorts of 20–200 workers on one day, some mandatory with a due date, the rest
self-enrolments; 45 % completed, 30 % in progress, 20 % enrolled, 5 % withdrawn),
5,000,000 lesson-progress rows, certificates for the completions of half the courses,
training-hours credits for every completion and skill evidence for half of them. The rows are
generated once with numpy (fixed seed), in a child process, and bulk-loaded: COPY FROM STDIN
on PostgreSQL (two tables at a time, foreign-key triggers off as in pg_restore
--disable-triggers; nothing of the schema is dropped), executemany in one transaction per
table with journal_mode=OFF and synchronous=OFF on SQLite; then (VACUUM) ANALYZE. The seeding
time of every table is printed. Then, per backend, it measures:
- the summary refresh (lms.reports.summary.refresh_all) after the load;
- GET /consortia/<id>/reports as a consortium admin through the Flask test client (the whole
  request, rendering included): 5 warm-ups, then 40 timed requests, p50/p95; and p95 of the
  same page filtered to one firm (?firm=) and to the last six months (?from=&to=);
- GET /firms/<id>/reports as the admin of the largest firm, the same way;
- an XLSX export of 100,000 rows: the people behind "enrolments" (export source
  "reports.people") over the shortest run of recent months that has that many, through
  lms.jobs.exports.write_table, read back with openpyxl to check the header, the row count and
  that a "=" name was neutralised;
- as the baseline in the same run, the plain consortium-wide GROUP BY firm × course over the
  enrolments (count and completed count), and the ratios dashboard p95 / baseline;
- the headline figures, which must agree on both backends (the same rows);
- peak memory (ru_maxrss) of the measuring process (`peak_mb`) and of the seeding one.
Last line: a JSON object of the figures.

    LMS_BENCH_SCALE=0.01 .venv/bin/python bench/reports.py [--pg-only | --sqlite-only]
                                                           [--keep] [--seed-only]

LMS_BENCH_SCALE (default 1.0) scales workers, enrolments and progress rows (0.01: 1,000
workers, 10,000 enrolments); LMS_BENCH_RUNS (40) and LMS_BENCH_WARMUP (5) the requests per
page; LMS_BENCH_EXPORT_ROWS (100000) the export; LMS_BENCH_PG_STREAMS (2) the parallel COPYs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import itertools
import json
import multiprocessing
import os
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LMS_SECRET_KEY", "bench-reports-secret")

import numpy as np  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import yaml  # noqa: E402

from lms import create_app  # noqa: E402
from lms.extensions import db  # noqa: E402

SCALE = float(os.environ.get("LMS_BENCH_SCALE", "1.0"))
RUNS = int(os.environ.get("LMS_BENCH_RUNS", "40"))
WARMUP = int(os.environ.get("LMS_BENCH_WARMUP", "5"))
EXPORT_ROWS = int(os.environ.get("LMS_BENCH_EXPORT_ROWS", "100000"))
SEED = 20261128
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_NAME = "lms_bench_reports"
PASSWORD = "Bench-reports-42"
FIRMS = 40
COURSES = 500
MONTHS = 24
SECTORS = ("smart-manufacturing", "industrial-internet", "safety")
SECTOR_ZH = {
    "smart-manufacturing": "智能制造",
    "industrial-internet": "工业互联网",
    "safety": "安全生产",
}
CHUNK = 100_000
PG_STREAMS = int(os.environ.get("LMS_BENCH_PG_STREAMS", "2"))
# Optional modules of other parts of issue 6: their tables exist only once they are written.
OPTIONAL_MODELS = ("lms.reports.models", "lms.transcripts.models")
LOCAL = 8 * 3600  # Asia/Shanghai (no DST): local dates of UTC moments


# --- column values ------------------------------------------------------------------------------


@dataclass
class Ts:
    """A timestamp column: epoch seconds (UTC), None where `null` is set."""

    values: np.ndarray
    null: np.ndarray | None = None


@dataclass
class Day:
    """A date column: days since 1970-01-01, None where `null` is set."""

    values: np.ndarray
    null: np.ndarray | None = None


@dataclass
class Opt:
    """A nullable number or text column: None where `null` is set."""

    values: np.ndarray
    null: np.ndarray


@dataclass
class Frame:
    """Rows of one table as columns: numpy arrays, Ts/Day/Opt, or one value for every row."""

    table: str
    rows: int
    columns: dict = field(default_factory=dict)


_EPOCH = date(1970, 1, 1)
# Time of day → text: SQLAlchemy's SQLite storage format (so that string comparisons with
# bound parameters agree), and PostgreSQL's with the zone.
_TIME_SQLITE = np.array(
    [f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000000" for s in range(86400)], object
)
_TIME_PG = np.array(
    [f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00" for s in range(86400)], object
)


def _day_table(days: np.ndarray) -> tuple[int, np.ndarray]:
    lo, hi = int(days.min()), int(days.max())
    names = [(_EPOCH + timedelta(days=d)).isoformat() for d in range(lo, hi + 1)]
    return lo, np.array(names, dtype=object)


def _copy_text(value) -> str:
    """A value in COPY's text format (the generated arrays hold no tab, newline or backslash)."""
    text = str(value)
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        text = text.replace(raw, escaped)
    return text


def _texts(column, a: int, b: int, *, pg: bool) -> list:
    """Values a..b of a column as Python values (SQLite) or COPY text (PostgreSQL)."""
    n = b - a
    null_text = "\\N" if pg else None
    if not isinstance(column, Ts | Day | Opt | np.ndarray):
        if column is None:
            return [null_text] * n
        if pg:
            text = ("t" if column else "f") if isinstance(column, bool) else _copy_text(column)
            return [text] * n
        return [column] * n
    null = None
    if isinstance(column, Ts | Day | Opt):
        null = None if column.null is None else column.null[a:b]
        values = column.values[a:b]
    else:
        values = column[a:b]
    if n == 0:
        return []
    if isinstance(column, Ts):
        lo, days = _day_table(values // 86400)
        times = _TIME_PG if pg else _TIME_SQLITE
        out = days[values // 86400 - lo] + times[values % 86400]
    elif isinstance(column, Day):
        lo, days = _day_table(values)
        out = days[values - lo]
    elif values.dtype == bool:
        out = np.where(values, "t", "f") if pg else values
    else:
        out = values
    items = out.tolist()
    if pg and not (isinstance(column, Ts | Day) or out.dtype == object):
        items = list(map(str, items))
    if null is not None:
        for i in np.flatnonzero(null).tolist():
            items[i] = null_text
    return items


def _check_columns(table: sa.Table, frame: Frame) -> None:
    """Fill scalar defaults of columns the frame leaves out; fail on a required one."""
    for col in table.columns:
        if col.name in frame.columns:
            continue
        default = col.default.arg if col.default is not None else None
        if col.nullable or col.server_default is not None:
            continue
        if default is not None and not callable(default):
            frame.columns[col.name] = default
        elif col.name in ("created_at", "updated_at"):
            frame.columns[col.name] = Ts(np.full(frame.rows, int(time.time()), np.int64))
        else:
            raise SystemExit(f"bench/reports.py does not fill {table.name}.{col.name}")
    unknown = set(frame.columns) - set(table.columns.keys())
    if unknown:
        raise SystemExit(f"{table.name} has no column(s) {sorted(unknown)}")


# --- the synthetic consortium --------------------------------------------------------------------


def _public_ids(rng: np.random.Generator, n: int, width: int = 32) -> np.ndarray:
    """Random hex ids, as non-sequential as the app's own."""
    text = rng.bytes(n * width // 2).hex()
    return np.array([text[i : i + width] for i in range(0, n * width, width)], dtype=object)


def _codes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Distinct verification codes in the app's alphabet (lms.certificates.codes)."""
    from lms.certificates.codes import ALPHABET, LENGTH

    letters = np.array(list(ALPHABET), dtype=object)
    codes: set[str] = set()
    while len(codes) < n:
        draw = rng.integers(0, len(ALPHABET), size=(n - len(codes), LENGTH))
        codes.update("".join(row) for row in letters[draw])
    return np.array(sorted(codes), dtype=object)


def _taxonomy() -> tuple[list[str], list[str]]:
    from lms.taxonomy.service import SEED as TAXONOMY

    data = yaml.safe_load(TAXONOMY.read_text(encoding="utf-8"))
    return [s["id"] for s in data["skills"]], [r["id"] for r in data["roles"]]


def generate(scale: float, now: int) -> dict:
    """Every bulk table as a Frame, ids assigned here (the tables start empty)."""
    rng = np.random.default_rng(SEED)
    workers = max(200, round(100_000 * scale))
    target_enrolments = max(1_000, round(1_000_000 * scale))
    target_progress = round(5_000_000 * scale)
    skills, roles = _taxonomy()
    created = now - 3 * 365 * 86400
    frames: dict[str, Frame] = {}

    # Consortium, firms, admins.
    frames["consortia"] = Frame(
        "consortia",
        1,
        {
            "id": np.array([1]),
            "code": "BENCH",
            "name": "基准联合体",
            "city": "唐山",
            "region": "east",
            "sectors": json.dumps(list(SECTORS[:2])),
            "is_active": True,
            "created_at": Ts(np.array([created])),
        },
    )
    from lms.core.codes import uscc_check_char

    codes = [f"91130200MB{i:07d}" for i in range(FIRMS)]
    kinds = np.array(
        ["chain_leader", "single_champion", "specialized_sme", "hr_service", "college"],
        dtype=object,
    )
    firm_ids = np.arange(1, FIRMS + 1)
    frames["firms"] = Frame(
        "firms",
        FIRMS,
        {
            "id": firm_ids,
            "consortium_id": 1,
            "name": np.array([f"基准企业{i + 1:02d}" for i in range(FIRMS)], dtype=object),
            "kind": kinds[np.arange(FIRMS) % kinds.size],
            "credit_code": np.array([c + uscc_check_char(c) for c in codes], dtype=object),
            "is_active": True,
            "created_at": Ts(np.full(FIRMS, created)),
        },
    )
    # Firm sizes vary a lot (chain leaders with thousands, SMEs with a few dozen).
    weights = rng.lognormal(0, 0.8, FIRMS)
    worker_firm = rng.choice(FIRMS, workers, p=weights / weights.sum()) + 1
    worker_ids = np.arange(1, workers + 1)
    admin_ids = np.arange(workers + 1, workers + 2 + FIRMS)  # consortium admin, then firms
    users = workers + 1 + FIRMS
    names = np.array([f"学员{i:06d}" for i in range(1, workers + 1)], dtype=object)
    formula = worker_ids % 97 == 5  # about 1 %: names a spreadsheet would run as formulas
    names[formula] = np.array([f"=HYPERLINK(1)学员{i}" for i in worker_ids[formula]], dtype=object)
    from lms.auth.passwords import hash_password

    pw = hash_password(PASSWORD)
    frames["users"] = Frame(
        "users",
        users,
        {
            "id": np.arange(1, users + 1),
            "public_id": _public_ids(rng, users),
            "name": np.concatenate(
                [
                    names,
                    np.array(["联合体管理员"] + [f"企业管理员{i + 1:02d}" for i in range(FIRMS)]),
                ]
            ).astype(object),
            "email": Opt(
                np.array(
                    [""] * workers
                    + ["admin@bench.lms"]
                    + [f"firm{i + 1}@bench.lms" for i in range(FIRMS)],
                    dtype=object,
                ),
                np.arange(users) < workers,
            ),
            "mobile": Opt(
                np.array([f"13{i:09d}" for i in range(1, users + 1)], dtype=object),
                np.arange(users) >= workers,
            ),
            "password_hash": Opt(np.full(users, pw, dtype=object), np.arange(users) < workers),
            "password_changed_at": Ts(np.full(users, now - 86400)),
            "locale": "zh_CN",
            "is_platform_admin": False,
            "is_active_account": True,
            "failed_login_count": 0,
            "created_at": Ts(created + rng.integers(0, 2 * 365 * 86400, users)),
        },
    )
    role_ids = np.array(roles, dtype=object)
    starts = (created - 365 * 86400) // 86400 + rng.integers(0, 3 * 365, users)
    frames["memberships"] = Frame(
        "memberships",
        users,
        {
            "id": np.arange(1, users + 1),
            "user_id": np.arange(1, users + 1),
            "consortium_id": 1,
            "firm_id": Opt(
                np.concatenate([worker_firm, [0], firm_ids]), np.arange(users) == workers
            ),
            "role": np.array(
                ["worker"] * workers + ["consortium_admin"] + ["firm_admin"] * FIRMS, dtype=object
            ),
            "job_role_id": Opt(
                role_ids[rng.integers(0, role_ids.size, users)], np.arange(users) >= workers
            ),
            "employee_no": Opt(
                np.array([f"E{i:07d}" for i in range(1, users + 1)], dtype=object),
                np.arange(users) >= workers,
            ),
            "starts_on": Day(starts),
            "created_at": Ts(starts * 86400),
        },
    )

    # Courses: one published version each, 8–12 lessons in 2–3 modules, 2–4 skills.
    course_ids = np.arange(1, COURSES + 1)
    lessons_of = rng.integers(8, 13, COURSES)
    modules_of = rng.integers(2, 4, COURSES)
    hours_of = rng.choice([2.0, 4.0, 6.0, 8.0, 12.0, 16.0], COURSES)
    sector_of = np.array(SECTORS, dtype=object)[rng.integers(0, len(SECTORS), COURSES)]
    with_certificate = rng.random(COURSES) < 0.5
    cert_months = Opt(
        rng.choice([12, 24, 36], COURSES), ~with_certificate | (rng.random(COURSES) < 0.5)
    )
    published = now - (MONTHS + 2) * 31 * 86400
    titles = np.array(
        [f"{SECTOR_ZH[s]}实训课程 {i:03d}" for i, s in zip(course_ids, sector_of, strict=True)],
        dtype=object,
    )
    frames["courses"] = Frame(
        "courses",
        COURSES,
        {
            "id": course_ids,
            "consortium_id": 1,
            "firm_id": rng.integers(1, FIRMS + 1, COURSES),
            "slug": np.array([f"bench-{i:03d}" for i in course_ids], dtype=object),
            "certificate_months": cert_months,
            "created_at": Ts(np.full(COURSES, published - 86400)),
        },
    )
    frames["course_versions"] = Frame(
        "course_versions",
        COURSES,
        {
            "id": course_ids,
            "course_id": course_ids,
            "version": 1,
            "status": "published",
            "language": "zh-CN",
            "title": titles,
            "summary": "面向一线员工的实训课程。",
            "sector": sector_of,
            "hours": hours_of,
            "pass_mark": 60,
            "prerequisites": "[]",
            "search_text": np.array([t.casefold() for t in titles], dtype=object),
            "created_at": Ts(np.full(COURSES, published - 86400)),
            "submitted_at": Ts(np.full(COURSES, published - 3600)),
            "published_at": Ts(np.full(COURSES, published)),
        },
    )
    module_version = np.repeat(course_ids, modules_of)
    module_pos = np.arange(module_version.size) - np.repeat(
        np.cumsum(modules_of) - modules_of, modules_of
    )
    module_first = np.cumsum(modules_of) - modules_of + 1  # module id of each course's first module
    frames["course_modules"] = Frame(
        "course_modules",
        module_version.size,
        {
            "id": np.arange(1, module_version.size + 1),
            "version_id": module_version,
            "position": module_pos,
            "title": np.array([f"模块{p + 1}" for p in module_pos.tolist()], dtype=object),
        },
    )
    lesson_version = np.repeat(course_ids, lessons_of)
    lesson_pos = np.arange(lesson_version.size) - np.repeat(
        np.cumsum(lessons_of) - lessons_of, lessons_of
    )
    per_module = np.ceil(lessons_of / modules_of).astype(int)
    lesson_module = module_first[lesson_version - 1] + lesson_pos // per_module[lesson_version - 1]
    keys = np.array([f"lessons/{j:02d}.md" for j in range(16)], dtype=object)
    frames["lessons"] = Frame(
        "lessons",
        lesson_version.size,
        {
            "id": np.arange(1, lesson_version.size + 1),
            "version_id": lesson_version,
            "module_id": lesson_module,
            "position": lesson_pos,
            "key": keys[lesson_pos],
            "type": "text",
            "title": np.array([f"第{p + 1}课 操作要点" for p in lesson_pos.tolist()], dtype=object),
            "minutes": 15,
            "body": "## 要点\n\n现场操作的步骤与检查清单。",
            "html": "<h2>要点</h2><p>现场操作的步骤与检查清单。</p>",
            "data": "{}",
        },
    )
    skills_of = rng.integers(2, 5, COURSES)
    skill_ids = np.array(skills, dtype=object)
    cs_course = np.repeat(course_ids, skills_of)
    cs_pos = np.arange(cs_course.size) - np.repeat(np.cumsum(skills_of) - skills_of, skills_of)
    cs_skill = np.concatenate(
        [rng.choice(skill_ids.size, k, replace=False) for k in skills_of.tolist()]
    )
    cs_level = rng.integers(1, 6, cs_course.size)
    cs_first = np.cumsum(skills_of) - skills_of
    frames["course_skills"] = Frame(
        "course_skills",
        cs_course.size,
        {
            "version_id": cs_course,
            "skill_id": skill_ids[cs_skill],
            "level": cs_level,
            "position": cs_pos,
        },
    )

    # Enrolments: firm cohorts first (80 %), then self-enrolments; one per worker and course.
    firm_members = [np.flatnonzero(worker_firm == f) + 1 for f in range(1, FIRMS + 1)]
    popularity = rng.lognormal(0, 1, COURSES)
    popularity /= popularity.sum()
    day_now = now // 86400
    span = MONTHS * 30
    parts_user, parts_course, parts_at, parts_due, parts_cohort = [], [], [], [], []
    cohort_goal = round(target_enrolments * 0.8)
    cohort = 0
    sizes = np.array([m.size for m in firm_members], float)

    def distinct() -> int:
        keys = np.sort(np.concatenate(parts_user) * (COURSES + 1) + np.concatenate(parts_course))
        return int((keys[1:] != keys[:-1]).sum()) + 1

    made = 0
    while (got := distinct() if parts_user else 0) < cohort_goal:
        # In a few rounds: about as many cohorts as the rows still missing need.
        mean_size = made / cohort if cohort else 110
        for _ in range(max(5, int((cohort_goal - got) / mean_size * 0.9))):
            firm = int(rng.choice(FIRMS, p=sizes / sizes.sum()))
            members = firm_members[firm]
            k = min(members.size, int(rng.integers(20, 201)))
            if k == 0:
                continue
            chosen = rng.choice(members, k, replace=False)
            day = day_now - int(rng.integers(1, span))
            at = day * 86400 + int(rng.integers(3600, 9 * 3600)) + np.arange(k) * 2
            mandatory = rng.random() < 0.35
            due = day + int(rng.choice([30, 60, 90])) if mandatory else -1
            parts_user.append(chosen)
            parts_course.append(np.full(k, rng.choice(COURSES, p=popularity) + 1))
            parts_at.append(at)
            parts_due.append(np.full(k, due))
            parts_cohort.append(np.full(k, firm + 1))
            cohort += 1
            made += k

    def concat() -> tuple[np.ndarray, ...]:
        return tuple(
            np.concatenate(p) for p in (parts_user, parts_course, parts_at, parts_due, parts_cohort)
        )

    while True:
        e_user, e_course, e_at, e_due, e_assigner = concat()
        _, first = np.unique(e_user * (COURSES + 1) + e_course, return_index=True)
        keep = np.sort(first)  # the first of each worker and course: cohorts come first
        is_cohort = e_assigner[keep] > 0
        n_cohort = min(int(is_cohort.sum()), cohort_goal)
        if (~is_cohort).sum() >= target_enrolments - n_cohort:
            break
        extra = max(1000, target_enrolments // 10)
        parts_user.append(rng.integers(1, workers + 1, extra))
        parts_course.append(rng.choice(COURSES, extra, p=popularity) + 1)
        parts_at.append(now - rng.integers(86400, span * 86400, extra))
        parts_due.append(np.full(extra, -1))
        parts_cohort.append(np.zeros(extra, int))
    keep = np.concatenate(
        [keep[is_cohort][:n_cohort], keep[~is_cohort][: target_enrolments - n_cohort]]
    )
    keep = keep[np.argsort(e_at[keep], kind="stable")]  # ids in the order things happened
    e_user, e_course, e_at = e_user[keep], e_course[keep], e_at[keep]
    e_due, e_assigner = e_due[keep], e_assigner[keep]
    n = e_user.size
    # 0 completed, 1 in progress, 2 enrolled (not started), 3 withdrawn: 45/30/20/5 % in all,
    # mandatory assignments more often completed than the rest.
    overall, mandatory = np.array([0.45, 0.30, 0.20, 0.05]), np.array([0.62, 0.24, 0.12, 0.02])
    share = float((e_due >= 0).mean())
    others = (overall - share * mandatory) / (1 - share)
    cumulative = np.where((e_due >= 0)[:, None], mandatory.cumsum(), others.cumsum())
    status = (rng.random(n)[:, None] >= cumulative[:, :3]).sum(axis=1)
    completed, in_progress, withdrawn = status == 0, status == 1, status == 3
    started_mask = completed | in_progress | (withdrawn & (rng.random(n) < 0.5))
    age = now - e_at
    started = e_at + np.minimum(rng.integers(0, 5 * 86400, n), age // 5)
    done = started + np.maximum(
        60, np.minimum(rng.integers(2 * 3600, 40 * 86400, n), (now - started) * 9 // 10)
    )
    left = e_at + np.maximum(60, np.minimum(rng.integers(86400, 30 * 86400, n), age * 9 // 10))
    left = np.where(started_mask, np.maximum(left, started + 60), left)
    statuses = np.array(["completed", "in_progress", "enrolled", "withdrawn"], dtype=object)
    # The last lesson touched: progress rows are made below, one per lesson reached.
    lessons_e = lessons_of[e_course - 1]
    count = np.zeros(n, np.int64)
    count[completed] = lessons_e[completed]
    partial = started_mask & ~completed
    rest = max(0, target_progress - int(count.sum()))
    mean = rest / max(1, int(partial.sum()))
    reach = np.clip(
        np.rint(rng.exponential(max(mean - 1, 0.01), n) + 1).astype(np.int64), 1, lessons_e - 1
    )
    count[partial] = reach[partial]
    # Lesson progress: every lesson of a completion, the first few of the rest.
    p_enrol = np.repeat(np.arange(n), count)
    p_j = np.arange(p_enrol.size) - np.repeat(np.cumsum(count) - count, count)
    p_count = count[p_enrol]
    p_done = completed[p_enrol]
    p_start = started[p_enrol]
    p_end = np.where(
        p_done,
        done[p_enrol],
        np.where(withdrawn[p_enrol], left[p_enrol], np.minimum(now - 60, p_start + 30 * 86400)),
    )
    p_at = p_start + (p_end - p_start) * (p_j + 1) // np.where(p_done, p_count, p_count + 1)
    p_partial = ~p_done & (p_j == p_count - 1)
    percent = np.where(p_partial, rng.integers(5, 96, p_enrol.size), 100)
    last_active = np.zeros(n, np.int64)
    last_active[count > 0] = p_at[np.cumsum(count)[count > 0] - 1]
    frames["lesson_progress"] = Frame(
        "lesson_progress",
        p_enrol.size,
        {
            "id": np.arange(1, p_enrol.size + 1),
            "enrollment_id": p_enrol + 1,
            "lesson_key": keys[p_j],
            "percent": percent,
            "position_seconds": 0.0,
            "completed_at": Ts(p_at, p_partial),
            "updated_at": Ts(p_at),
        },
    )

    e_ids = np.arange(1, n + 1)
    frames["enrollments"] = Frame(
        "enrollments",
        n,
        {
            "id": e_ids,
            "public_id": _public_ids(rng, n),
            "consortium_id": 1,
            "firm_id": worker_firm[e_user - 1],
            "user_id": e_user,
            "course_id": e_course,
            "version_id": e_course,
            "status": statuses[status],
            "source": np.where(e_assigner > 0, "firm", "self").astype(object),
            "assigned_by_id": Opt(admin_ids[np.maximum(e_assigner, 1)], e_assigner == 0),
            "due_on": Day(e_due, e_due < 0),
            "is_mandatory": e_due >= 0,
            "last_lesson_key": Opt(keys[np.maximum(count - 1, 0)], count == 0),
            "score": Opt(np.round(rng.uniform(60, 100, n), 1), ~completed),
            "enrolled_at": Ts(e_at),
            "started_at": Ts(started, ~started_mask),
            "completed_at": Ts(done, ~completed),
            "withdrawn_at": Ts(left, ~withdrawn),
            "last_active_at": Ts(last_active, count == 0),
        },
    )

    # One assignment row per assigned enrolment: the worker's firm assigned it (its admin).
    a_enrol = np.flatnonzero(e_assigner > 0)
    frames["assignments"] = Frame(
        "assignments",
        a_enrol.size,
        {
            "id": np.arange(1, a_enrol.size + 1),
            "public_id": _public_ids(rng, a_enrol.size),
            "consortium_id": 1,
            "firm_id": worker_firm[e_user[a_enrol] - 1],
            "party_key": worker_firm[e_user[a_enrol] - 1],
            "enrollment_id": a_enrol + 1,
            "user_id": e_user[a_enrol],
            "course_id": e_course[a_enrol],
            "assigned_by_id": admin_ids[e_assigner[a_enrol]],
            "source": "firm",
            "due_on": Day(e_due[a_enrol], e_due[a_enrol] < 0),
            "is_mandatory": e_due[a_enrol] >= 0,
            "created_at": Ts(e_at[a_enrol]),
            "updated_at": Ts(e_at[a_enrol]),
        },
    )

    # Certificates of the completions in half the courses.
    ce = np.flatnonzero(completed & with_certificate[e_course - 1])
    c_ids = np.arange(1, ce.size + 1)
    c_day = (done[ce] + LOCAL) // 86400
    months = cert_months.values[e_course[ce] - 1]
    no_expiry = cert_months.null[e_course[ce] - 1]
    frames["certificates"] = Frame(
        "certificates",
        ce.size,
        {
            "id": c_ids,
            "public_id": _public_ids(rng, ce.size),
            "serial": np.array([f"BENCH-{i:08d}" for i in c_ids.tolist()], dtype=object),
            "verification_code": _public_ids(rng, ce.size, 64),
            "public_code": _codes(rng, ce.size),
            "badge_salt": _public_ids(rng, ce.size),
            "consortium_id": 1,
            "firm_id": worker_firm[e_user[ce] - 1],
            "user_id": e_user[ce],
            "course_id": e_course[ce],
            "version_id": e_course[ce],
            "enrollment_id": ce + 1,
            "source": "completion",
            "issued_at": Ts(done[ce]),
            "completed_on": Day(c_day),
            "expires_on": Day(c_day + months * 30, no_expiry),
            "data": "{}",
            "reminded": "[]",
        },
    )

    # Skill evidence for half the completions: each skill of the course at its level.
    se = np.flatnonzero(completed & (rng.random(n) < 0.5))
    per = skills_of[e_course[se] - 1]
    s_enrol = np.repeat(se, per)
    s_j = np.arange(s_enrol.size) - np.repeat(np.cumsum(per) - per, per)
    s_cs = cs_first[e_course[s_enrol] - 1] + s_j
    # raises_level: above every verified level the worker held before in that skill.
    s_user, s_skill, s_at, s_level = e_user[s_enrol], cs_skill[s_cs], done[s_enrol], cs_level[s_cs]
    order = np.lexsort((s_at, s_skill, s_user))
    group = (s_user * skill_ids.size + s_skill)[order]
    starts_group = np.r_[True, group[1:] != group[:-1]]
    rank = np.cumsum(starts_group)
    running = np.maximum.accumulate(rank * 10 + s_level[order]) - rank * 10
    before = np.where(starts_group, 0, np.r_[0, running[:-1]])
    raises = np.empty(s_enrol.size, bool)
    raises[order] = s_level[order] > before
    frames["skill_evidence"] = Frame(
        "skill_evidence",
        s_enrol.size,
        {
            "id": np.arange(1, s_enrol.size + 1),
            "user_id": s_user,
            "skill_id": skill_ids[s_skill],
            "level": s_level,
            "source": "course",
            "is_verified": True,
            "enrollment_id": s_enrol + 1,
            "note": "",
            "recorded_at": Ts(s_at),
            "raises_level": raises,
        },
    )

    # Training hours (学时) credited for every completion.
    hc = np.flatnonzero(completed)
    frames["training_hours"] = Frame(
        "training_hours",
        hc.size,
        {
            "id": np.arange(1, hc.size + 1),
            "consortium_id": 1,
            "firm_id": worker_firm[e_user[hc] - 1],
            "user_id": e_user[hc],
            "source": "course",
            "enrollment_id": hc + 1,
            "course_id": e_course[hc],
            "hours": hours_of[e_course[hc] - 1],
            "credited_on": Day((done[hc] + LOCAL) // 86400),
            "created_at": Ts(done[hc]),
        },
    )
    firm_sizes = np.bincount(worker_firm, minlength=FIRMS + 1)[1:]
    return {
        "frames": frames,
        "workers": workers,
        "cohorts": cohort,
        "consortium_id": 1,
        "consortium_admin": ("admin@bench.lms", int(admin_ids[0])),
        # The firm measured: the largest one, whose dashboard has the most rows behind it.
        "firm_id": int(np.argmax(firm_sizes)) + 1,
        "firm_admin": (
            f"firm{int(np.argmax(firm_sizes)) + 1}@bench.lms",
            int(admin_ids[int(np.argmax(firm_sizes)) + 1]),
        ),
    }


# --- loading ------------------------------------------------------------------------------------


def _sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def prepare_schema(app) -> None:
    """The app's tables (db.create_all, as the other benches do) and the seed taxonomy."""
    from lms.taxonomy.service import import_seed_taxonomy

    with app.app_context():
        db.drop_all()
        db.create_all()
        import_seed_taxonomy()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def _pg_load(conninfo: str, table: sa.Table, frame: Frame) -> tuple[float, float]:
    """COPY one frame into its table on a connection of its own, then VACUUM ANALYZE it."""
    import psycopg

    names = list(frame.columns)
    quoted = ", ".join(f'"{c}"' for c in names)
    start = time.perf_counter()
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        # As pg_restore --disable-triggers: the rows are consistent by construction, and a
        # foreign-key check per row would cost more than the row (needs a superuser).
        try:
            cur.execute("SET session_replication_role = replica")
        except psycopg.Error:
            conn.rollback()
        cur.execute("SET synchronous_commit = off")
        with cur.copy(f'COPY "{frame.table}" ({quoted}) FROM STDIN') as copy:
            for a in range(0, frame.rows, CHUNK):
                b = min(frame.rows, a + CHUNK)
                parts = [_texts(frame.columns[c], a, b, pg=True) for c in names]
                copy.write("\n".join(map("\t".join, zip(*parts, strict=True))) + "\n")
        if "id" in table.columns and frame.rows:
            sequence = f"pg_get_serial_sequence('\"{frame.table}\"', 'id')"
            top = f'SELECT max(id) FROM "{frame.table}"'  # noqa: S608 (our own tables)
            cur.execute(f"SELECT setval({sequence}, ({top}))")
        conn.commit()
        loaded = time.perf_counter() - start
        conn.autocommit = True
        cur.execute(f'VACUUM ANALYZE "{frame.table}"')
    return loaded, time.perf_counter() - start - loaded


def _sqlite_load(conn: sqlite3.Connection, frame: Frame) -> float:
    names = list(frame.columns)
    quoted = ", ".join(f'"{c}"' for c in names)
    marks = ", ".join("?" * len(names))
    sql = f'INSERT INTO "{frame.table}" ({quoted}) VALUES ({marks})'  # noqa: S608
    start = time.perf_counter()
    conn.execute("BEGIN")
    for a in range(0, frame.rows, CHUNK):
        b = min(frame.rows, a + CHUNK)
        parts = [_texts(frame.columns[c], a, b, pg=False) for c in names]
        conn.executemany(sql, zip(*parts, strict=True))
    conn.execute("COMMIT")
    return time.perf_counter() - start


def bulk_load(url: str, world: dict) -> None:
    """Every frame into its table by the backend's fastest path, then (VACUUM) ANALYZE.

    PostgreSQL: COPY FROM STDIN, PG_STREAMS tables at a time (each on its own connection, so
    the server's index maintenance of one overlaps the generation of another's text); SQLite:
    executemany in one transaction per table, journal off, on one connection.
    """
    frames = []
    for frame in world["frames"].values():
        table = db.metadata.tables.get(frame.table)
        if table is None:  # a table of another part of issue 6 that isn't written yet
            print(f"  {frame.table:16} (no such table yet: skipped)")
            continue
        _check_columns(table, frame)
        frames.append((table, frame))
    print(f"  {'table':16} {'rows':>10} {'load s':>8} {'vacuum s':>9}")
    if url.startswith("postgresql"):
        conninfo = url.replace("postgresql+psycopg", "postgresql")
        with ThreadPoolExecutor(PG_STREAMS) as pool:
            # Largest first, so the long ones run side by side from the start.
            jobs = {
                pool.submit(_pg_load, conninfo, table, frame): frame
                for table, frame in sorted(frames, key=lambda tf: -tf[1].rows)
            }
            for job in as_completed(jobs):
                loaded, vacuumed = job.result()
                frame = jobs[job]
                print(f"  {frame.table:16} {frame.rows:>10,} {loaded:8.1f} {vacuumed:9.1f}")
        import psycopg

        start = time.perf_counter()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("ANALYZE")
        print(f"  {'ANALYZE':16} {'':>10} {'':>8} {time.perf_counter() - start:9.1f}")
        return
    conn = sqlite3.connect(_sqlite_path(url), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1048576")  # 1 GB: the indexes stay in memory
        conn.execute("PRAGMA temp_store=MEMORY")
        for _table, frame in frames:
            print(f"  {frame.table:16} {frame.rows:>10,} {_sqlite_load(conn, frame):8.1f}")
        start = time.perf_counter()
        conn.execute("ANALYZE")
        print(f"  {'ANALYZE':16} {'':>10} {'':>8} {time.perf_counter() - start:9.1f}")
    finally:
        conn.close()


def pg_create() -> str:
    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {PG_NAME}"))
    admin.dispose()
    return f"{PG_SERVER}/{PG_NAME}"


def pg_drop() -> None:
    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)"))
    admin.dispose()


def make_app(url: str, storage: str):
    for name in OPTIONAL_MODELS:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "LMS_LOGIN_RATE_LIMIT": "100000 per minute",
            "RATELIMIT_STORAGE_URI": "memory://",
            "LMS_STORAGE_DIR": storage,
        }
    )


# --- measuring ----------------------------------------------------------------------------------


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def sign_in(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"login": email, "password": PASSWORD})
    assert response.status_code == 302, f"sign-in of {email} failed: {response.status_code}"
    return client


def timed_get(client, url: str) -> list[float]:
    """WARMUP requests, then RUNS timed ones (ms); every answer must be a 200 page."""
    out = []
    for i in range(WARMUP + RUNS):
        start = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, (url, response.status_code)
        response.close()
        if i >= WARMUP:
            out.append(elapsed)
    return out


def _month_text(month: int) -> str:
    return f"{month // 100:04d}-{month % 100:02d}"


def _local_months(epoch: np.ndarray) -> np.ndarray:
    moments = (epoch + LOCAL).astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    return (moments // 12 + 1970) * 100 + moments % 12 + 1


def export_period(enrolled_at: np.ndarray) -> tuple[int, int]:
    """The shortest run of months up to this one with at least EXPORT_ROWS enrolments."""
    month = _local_months(enrolled_at)
    last = int(month.max())
    first = last
    for first in sorted(set(month.tolist()), reverse=True):
        if int((month >= first).sum()) >= EXPORT_ROWS:
            break
    return first, last


def measure_export(app, world: dict, path: Path) -> dict:
    """The people behind "enrolments" of a period, EXPORT_ROWS of them, as XLSX."""
    from openpyxl import load_workbook

    from lms.auth.models import User
    from lms.jobs.exports import SOURCES, write_table

    first, last = world["export_period"]
    params = {
        "consortium": world["consortium_id"],
        "metric": "enrolled",
        "args": {"from": _month_text(first), "to": _month_text(last)},
    }
    with app.test_request_context():
        actor = db.session.get(User, world["consortium_admin"][1])
        start = time.perf_counter()
        table = SOURCES["reports.people"](actor, params)
        table.rows = itertools.islice(table.rows, EXPORT_ROWS)
        with path.open("wb") as fp:
            rows = write_table(fp, "xlsx", table)
        seconds = time.perf_counter() - start
        header = [str(h) for h in table.header]
        db.session.rollback()
        db.session.remove()
    book = load_workbook(path, read_only=True)
    try:
        sheet = book.worksheets[0]
        lines = sheet.iter_rows(values_only=True)
        assert [str(h) for h in next(lines)] == header, "export header differs"
        neutralised = 0
        for i, line in enumerate(lines):
            assert not any(isinstance(v, str) and v.startswith("=") for v in line), line
            neutralised += isinstance(line[0], str) and line[0].startswith("'=")
            if neutralised and i > 1000:
                break
        assert neutralised, "no '=' name found neutralised in the export"
        sheet_rows = sheet.max_row - 1
    finally:
        book.close()
    assert rows == sheet_rows == min(EXPORT_ROWS, table.count or rows), (rows, sheet_rows)
    return {
        "export_s": round(seconds, 2),
        "export_rows": rows,
        "export_mb": round(path.stat().st_size / 2**20, 1),
        "export_period": f"{_month_text(first)}..{_month_text(last)}",
    }


BASELINE = sa.text(
    "SELECT firm_id, course_id, count(*),"
    " sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END)"
    " FROM enrollments WHERE consortium_id = :c GROUP BY firm_id, course_id"
)


def measure(app, world: dict, tag: str, tmp: Path) -> dict:
    from lms.reports.summary import refresh_all

    out: dict = {}
    with app.app_context():
        start = time.perf_counter()
        refresh_all()
        db.session.commit()
        out[f"refresh_s_{tag}"] = round(time.perf_counter() - start, 2)
        out[f"summary_rows_{tag}"] = {
            t: db.session.scalar(sa.text(f"SELECT count(*) FROM {t}"))  # noqa: S608
            for t in ("report_cube", "report_workers")
        }
        times = []
        for i in range(6):
            start = time.perf_counter()
            groups = db.session.execute(BASELINE, {"c": world["consortium_id"]}).all()
            if i:
                times.append((time.perf_counter() - start) * 1000)
        out[f"baseline_groupby_ms_{tag}"] = round(statistics.median(times), 1)
        out[f"baseline_groups_{tag}"] = len(groups)
        db.session.remove()
    with app.test_request_context():
        from werkzeug.datastructures import MultiDict

        from lms.reports import figures as report_figures

        cid = world["consortium_id"]
        f = report_figures.parse_filters(MultiDict(), consortium_id=cid)
        out[f"headline_{tag}"] = report_figures.headline(report_figures.make_slice(cid, f))
        db.session.remove()
    print(f"  summary refresh {out[f'refresh_s_{tag}']:.2f} s; {out[f'summary_rows_{tag}']}")

    cid, fid = world["consortium_id"], world["firm_id"]
    this = world["now_month"]
    period = f"from={_month_text(world['period'][0])}&to={_month_text(this)}"
    consortium = sign_in(app, world["consortium_admin"][0])
    firm_admin = sign_in(app, world["firm_admin"][0])
    pages = {
        "consortium": (consortium, f"/consortia/{cid}/reports"),
        "consortium_firm": (consortium, f"/consortia/{cid}/reports?firm={fid}"),
        "consortium_period": (consortium, f"/consortia/{cid}/reports?{period}"),
        "firm": (firm_admin, f"/firms/{fid}/reports"),
    }
    print(f"  {'page':46} {'p50 ms':>8} {'p95 ms':>8}")
    for name, (client, url) in pages.items():
        lat = timed_get(client, url)
        p50, p95 = statistics.median(lat), pct(lat, 95)
        if name in ("consortium", "firm"):
            out[f"{name}_p50_ms_{tag}"] = round(p50, 1)
        out[f"{name}_p95_ms_{tag}"] = round(p95, 1)
        print(f"  {url:46} {p50:8.1f} {p95:8.1f}")
    html = consortium.get(f"/consortia/{cid}/reports")
    out[f"consortium_html_kb_{tag}"] = round(len(html.data) / 1024, 1)
    html.close()
    base = out[f"baseline_groupby_ms_{tag}"]
    for name in ("consortium", "firm"):
        out[f"{name}_vs_baseline_{tag}"] = round(out[f"{name}_p95_ms_{tag}"] / base, 3)
    print(
        f"  baseline GROUP BY firm × course over the enrolments: {base:.1f} ms "
        f"({out[f'baseline_groups_{tag}']} groups); dashboard p95 / baseline: consortium "
        f"{out[f'consortium_vs_baseline_{tag}']:.3f}, firm {out[f'firm_vs_baseline_{tag}']:.3f}"
    )
    export = measure_export(app, world, tmp / f"export-{tag}.xlsx")
    out.update({f"{k}_{tag}": v for k, v in export.items()})
    print(
        f"  XLSX export of {export['export_rows']:,} rows ({export['export_period']}): "
        f"{export['export_s']:.2f} s, {export['export_mb']} MB"
    )
    return out


def seed_all(targets: list[tuple[str, str]], now: int, tmp: str) -> dict:
    """Generate the rows once and load them into every target database.

    Runs in a child process, so that the peak memory of the parent is that of the app being
    measured; returns the little the measuring needs (ids, months, counts, timings).
    """
    start = time.perf_counter()
    world = generate(SCALE, now)
    frames = world["frames"]
    meta = {
        k: world[k]
        for k in ("consortium_id", "consortium_admin", "firm_id", "firm_admin", "cohorts")
    }
    meta["gen_s"] = round(time.perf_counter() - start, 1)
    meta["export_period"] = export_period(frames["enrollments"].columns["enrolled_at"].values)
    meta["rows"] = {
        "workers": world["workers"],
        "enrolments": frames["enrollments"].rows,
        "progress": frames["lesson_progress"].rows,
        "certificates": frames["certificates"].rows,
        "skill_evidence": frames["skill_evidence"].rows,
        "training_hours": frames["training_hours"].rows,
    }
    rows = meta["rows"]
    print(
        f"generated {rows['workers']:,} workers, {rows['enrolments']:,} enrolments "
        f"({world['cohorts']:,} cohorts), {rows['progress']:,} progress rows "
        f"in {meta['gen_s']:.1f} s"
    )
    for tag, url in targets:
        app = make_app(url, str(Path(tmp) / f"storage-{tag}"))
        print(f"{'PostgreSQL' if tag == 'pg' else 'SQLite'}: seeding")
        start = time.perf_counter()
        prepare_schema(app)
        bulk_load(url, world)
        meta[f"seed_s_{tag}"] = round(time.perf_counter() - start, 1)
        print(f"  seeded in {meta[f'seed_s_{tag}']:.1f} s")
    meta["seed_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--pg-only", action="store_true")
    only.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--seed-only", action="store_true", help="seed, measure nothing")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # the seeding child prints too

    now = int(time.time()) // 60 * 60
    this = int(_local_months(np.array([now]))[0])
    first = this
    for _ in range(5):  # the dashboard's "period" variant: the last six months
        first = first - 1 if first % 100 > 1 else first - 89
    tmp = Path(tempfile.mkdtemp(prefix="lms-bench-reports-"))
    targets = []
    try:
        if not args.sqlite_only:
            targets.append(("pg", pg_create()))
        if not args.pg_only:
            targets.append(("sqlite", f"sqlite:///{tmp}/bench.sqlite3"))
        fork = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(1, mp_context=fork) as pool:
            world = pool.submit(seed_all, targets, now, str(tmp)).result()
        world["now_month"], world["period"] = this, (first, this)
        figures: dict = {"scale": SCALE, "runs": RUNS, "gen_s": world["gen_s"]}
        for tag, _url in targets:
            figures[f"seed_s_{tag}"] = world[f"seed_s_{tag}"]
        for tag, url in targets if not args.seed_only else []:
            print(f"{'PostgreSQL' if tag == 'pg' else 'SQLite'}: measuring")
            app = make_app(url, str(tmp / f"storage-{tag}"))
            figures.update(measure(app, world, tag, tmp))
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    finally:
        if args.keep:
            print(f"kept: {tmp} and the PostgreSQL database {PG_NAME}")
        else:
            if targets and targets[0][0] == "pg":
                pg_drop()
            shutil.rmtree(tmp, ignore_errors=True)
    if "headline_pg" in figures and "headline_sqlite" in figures:
        # The same rows on both backends, so the same figures — except those "as of now"
        # (active in the last 30 days, overdue), which may move between the two measurements.
        pg_head, sqlite_head = figures["headline_pg"], figures["headline_sqlite"]
        differ = {k: (v, sqlite_head[k]) for k, v in pg_head.items() if v != sqlite_head[k]}
        period = {k: v for k, v in differ.items() if k not in ("active", "overdue")}
        print(
            f"headline figures DIFFER between the backends: {period}"
            if period
            else "headline figures of the period agree on both backends"
            + (f" (as of now, measured minutes apart: {differ})" if differ else "")
        )
    figures["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["seed_peak_mb"] = world["seed_peak_mb"]
    figures["rows"] = {**world["rows"], "cohorts": world["cohorts"]}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
