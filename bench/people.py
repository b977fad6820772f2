"""Benchmark: the firm and consortium people pages with many people.

Seeds N workers (default 20,000) in one firm of a fresh SQLite (or LMS_BENCH_DATABASE_URL)
database, then times the firm people page (first page, a later page, a search) and the
consortium people page against /healthz measured in the same run.
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
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
