"""Benchmark: the firm and consortium people pages with many people.

Seeds N workers (default 20,000) in one firm of a fresh SQLite (or LMS_BENCH_DATABASE_URL)
database, then times the firm people page (first page, a later page, a search) and the
consortium people page against /healthz measured in the same run.

Then the import figure (issue 14): a 5,000-row people file (LMS_BENCH_IMPORT_ROWS) uploaded,
checked and its preview's first page rendered, then saved, against the same /healthz
baseline. Both run in requests, as an HR admin does them.
Last line: a JSON object of the figures.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LMS_SECRET_KEY", "bench")

from sqlalchemy import insert  # noqa: E402

from lms import create_app  # noqa: E402
from lms.auth.models import User  # noqa: E402
from lms.auth.passwords import hash_password  # noqa: E402
from lms.core.codes import uscc_check_char  # noqa: E402
from lms.core.types import new_public_id, utcnow  # noqa: E402
from lms.extensions import db  # noqa: E402
from lms.tenancy.models import Consortium, Firm, Membership  # noqa: E402

N = int(os.environ.get("LMS_BENCH_PEOPLE", "20000"))
RUNS = int(os.environ.get("LMS_BENCH_RUNS", "40"))
IMPORT_ROWS = int(os.environ.get("LMS_BENCH_IMPORT_ROWS", "5000"))


def import_file(n: int) -> bytes:
    """A people file of n rows as HR exports it: new people, a few with errors, some of the
    firm's own people again (unchanged) and some with a second role."""
    lines = ["姓名,手机号,邮箱,工号,岗位,角色"]
    for i in range(n):
        if i % 500 == 7:
            lines.append(f"新人{i:05d},1.38001E+10,,N{i:05d},,")  # a mangled mobile number
        elif i % 10 == 3:
            lines.append(f"工人{i:06d},139{i:08d},,,,学员")  # already here
        elif i % 50 == 9:
            lines.append(f"工人{i:06d},139{i:08d},,,,培训师")  # a second role
        else:
            lines.append(f"新人{i:05d},１３６{i:08d},new{i}@example.com,N{i:05d},,")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


def time_import(client, firm_id: int) -> dict:
    """Seconds to upload, check and show the first preview page; seconds to save."""
    import io
    import re

    data = import_file(IMPORT_ROWS)
    start = time.perf_counter()
    response = client.post(
        f"/firms/{firm_id}/people/import",
        data={"file": (io.BytesIO(data), "people.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    url = response.headers["Location"]
    page = client.get(url)
    preview_s = time.perf_counter() - start
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    again = time.perf_counter()
    client.get(url + "?page=40")
    page_s = time.perf_counter() - again
    start = time.perf_counter()
    saved = client.post(url)
    save_s = time.perf_counter() - start
    assert saved.status_code == 302, saved.status_code
    done = client.get(saved.headers["Location"]).get_data(as_text=True)
    counts = re.search(r"flash-success[^>]*>(.*?)</div>", done, re.S)
    return {
        "preview_s": preview_s,
        "preview_page_s": page_s,
        "preview_kb": len(html.encode()) / 1024,
        "save_s": save_s,
        "result": re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", counts.group(1))).strip()
        if counts
        else "",
    }


def timed(client, url: str) -> list[float]:
    client.get(url)  # warm up
    out = []
    for _ in range(RUNS):
        start = time.perf_counter()
        response = client.get(url)
        out.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return out


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="lms-bench-")
    url = os.environ.get("LMS_BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False})
    with app.app_context():
        db.drop_all()
        db.create_all()
        c = Consortium(
            code="BENCH", name="Bench", city="唐山", region="east", sectors=["smart-manufacturing"]
        )
        first17 = "91130200MA0B00001"
        firm = Firm(
            consortium=c,
            name="Bench firm",
            kind="chain_leader",
            credit_code=first17 + uscc_check_char(first17),
        )
        admin = User(
            name="管理员",
            email="admin@bench.lms",
            password_hash=hash_password("Bench-password-1"),
            password_changed_at=utcnow(),
        )
        db.session.add_all([c, firm, admin])
        db.session.flush()
        db.session.add(
            Membership(user=admin, consortium_id=c.id, firm_id=firm.id, role="firm_admin")
        )
        db.session.add(Membership(user=admin, consortium_id=c.id, role="consortium_admin"))
        now = utcnow()
        t0 = time.perf_counter()
        users = [
            {
                "public_id": new_public_id(),
                "name": f"工人{i:06d}",
                "mobile": f"139{i:08d}",
                "locale": "zh_CN",
                "created_at": now,
                "is_platform_admin": False,
                "is_active_account": True,
                "failed_login_count": 0,
            }
            for i in range(N)
        ]
        db.session.execute(insert(User), users)
        ids = db.session.scalars(db.select(User.id).where(User.mobile.is_not(None))).all()
        db.session.execute(
            insert(Membership),
            [
                {
                    "user_id": uid,
                    "consortium_id": c.id,
                    "firm_id": firm.id,
                    "role": "worker",
                    "starts_on": date(2026, 1, 1),
                    "created_at": now,
                    "employee_no": f"E{uid}",
                }
                for uid in ids
            ],
        )
        db.session.commit()
        seed_s = time.perf_counter() - t0
        firm_id, consortium_id = firm.id, c.id

    client = app.test_client()
    client.post("/login", data={"login": "admin@bench.lms", "password": "Bench-password-1"})
    results = {
        "healthz": timed(client, "/healthz"),
        "firm_page1": timed(client, f"/firms/{firm_id}/people"),
        "firm_page_last": timed(client, f"/firms/{firm_id}/people?page={N // 25}"),
        "firm_search": timed(client, f"/firms/{firm_id}/people?q=工人0123"),
        "consortium_page1": timed(client, f"/consortia/{consortium_id}/people"),
    }
    base = statistics.median(results["healthz"])
    figures = {"people": N, "seed_s": round(seed_s, 2), "database": url.split(":")[0]}
    print(f"{N} people seeded in {seed_s:.1f} s on {figures['database']}")
    print(f"{'page':18} {'p50 ms':>8} {'p95 ms':>8} {'x healthz':>10}")
    for name, values in results.items():
        p50, p95 = statistics.median(values), p(values, 95)
        figures[f"{name}_p50_ms"] = round(p50, 2)
        figures[f"{name}_p95_ms"] = round(p95, 2)
        figures[f"{name}_ratio"] = round(p50 / base, 1)
        print(f"{name:18} {p50:8.2f} {p95:8.2f} {p50 / base:10.1f}")

    imported = time_import(client, firm_id)
    print(
        f"import of {IMPORT_ROWS} rows: upload+check+preview {imported['preview_s']:.2f} s "
        f"({imported['preview_s'] * 1000 / base:.0f} x healthz; page {imported['preview_kb']:.0f}"
        f" KB), a later preview page {imported['preview_page_s'] * 1000:.0f} ms, "
        f"save {imported['save_s']:.2f} s ({imported['save_s'] * 1000 / base:.0f} x healthz)"
    )
    print(f"  {imported['result']}")
    figures["import_rows"] = IMPORT_ROWS
    figures["import_preview_s"] = round(imported["preview_s"], 2)
    figures["import_preview_page_ms"] = round(imported["preview_page_s"] * 1000, 1)
    figures["import_preview_kb"] = round(imported["preview_kb"], 1)
    figures["import_save_s"] = round(imported["save_s"], 2)
    figures["import_preview_ratio"] = round(imported["preview_s"] * 1000 / base, 1)
    figures["import_save_ratio"] = round(imported["save_s"] * 1000 / base, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
