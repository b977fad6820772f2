"""The training-hours pages of a firm and of a consortium, and their exports (one row per
credit, for a training-subsidy claim): figures per worker and firm for a period, exactly the
firm's own, exports equal to the page, formula cells neutralised, big exports as jobs."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from lms.certificates.models import Certificate
from lms.extensions import db
from lms.jobs.models import Job
from lms.tenancy.models import Membership
from lms.transcripts import service
from lms.transcripts.service import Period


def _get(client, url: str):
    response = client.get(url)
    body = response.get_data()
    response.close()
    return response, body


def _rows(html: str) -> dict[str, str]:
    """The per-worker (or per-firm) table: first cell's text → second cell's text."""
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        ]
        if len(cells) >= 2:
            rows[cells[0].split("\n")[0].strip()] = cells[1]
    return rows


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/csv"
    text = response.get_data().decode("utf-8-sig")
    response.close()
    return list(csv.reader(io.StringIO(text)))


def _per_worker(rows: list[list[str]], hours_col: int) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows[1:]:
        sums[row[0]] += Decimal(row[hours_col])
    return dict(sums)


@pytest.fixture
def firm_admin(world, client, login):
    login(world.people["admin_a"])
    return client


def test_the_firm_page_shows_its_own_workers_hours_this_year(world, firm_admin):
    response, body = _get(firm_admin, f"/firms/{world.firm_a.id}/hours")
    html = body.decode()
    assert response.status_code == 200
    rows = _rows(html)
    assert rows["张三丰"] == "3.5" and rows["李四"] == "2"
    assert "王五" not in html  # firm B's worker
    assert '<span class="big">5.5</span>' in html  # the firm's total for 2026


def test_the_period_filter(world, firm_admin):
    url = f"/firms/{world.firm_a.id}/hours?start=2025-01-01&end=2025-12-31"
    rows = _rows(_get(firm_admin, url)[1].decode())
    assert rows == {"张三丰": "3"}
    url = f"/firms/{world.firm_a.id}/hours?start=2026-03-01&end=2026-03-31"
    assert _rows(_get(firm_admin, url)[1].decode()) == {"张三丰": "2"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-13-01", "From: enter a date such as 2026-01-31."),
        ("end=yesterday", "To: enter a date such as 2026-12-31."),
        ("start=2026-05-01&end=2026-04-01", "To: the end date is before the start date."),
        ("start=2000-01-01&end=2026-04-01", "To: choose a period of at most ten years."),
    ],
)
def test_a_bad_period_names_the_field_and_exports_nothing(world, firm_admin, query, message):
    url = f"/firms/{world.firm_a.id}/hours?{query}"
    response, body = _get(firm_admin, url)
    assert response.status_code == 200 and message in body.decode()
    response, body = _get(firm_admin, url + "&format=csv")
    assert response.mimetype == "text/html" and message in body.decode()


def test_the_firm_export_has_one_row_per_credit_equal_to_the_page(app, world, firm_admin):
    with app.app_context():
        membership = db.session.scalars(
            select(Membership).where(Membership.user_id == world.people["a1"].id)
        ).one()
        membership.employee_no = "JD-0042"
        db.session.commit()
        serials = set(db.session.scalars(select(Certificate.serial)))
    rows = _csv(firm_admin.get(f"/firms/{world.firm_a.id}/hours?format=csv"))
    header, data = rows[0], rows[1:]
    assert len(header) == 8 and len(data) == 3  # 2026: 张三丰 ×2, 李四 ×1
    page = _rows(_get(firm_admin, f"/firms/{world.firm_a.id}/hours")[1].decode())
    hours = header.index("Hours") if "Hours" in header else 5
    assert {k: f"{v.normalize():f}" for k, v in _per_worker(rows, hours).items()} == page
    by_name = {row[0]: row for row in data}
    zhang = [row for row in data if row[0] == "张三丰"]
    assert [row[2] for row in zhang] == ["JD-0042", "JD-0042"]
    assert by_name["李四"][2] == ""
    mobile = world.people["a1"].mobile
    assert zhang[0][1] == f"{mobile[:3]}****{mobile[7:]}"  # masked
    assert all(row[7] in serials for row in data)  # each completion's certificate
    assert [row[6] for row in zhang] == ["2026-03-02", "2026-05-20"]
    assert {row[3] for row in data} == {"PLC编程与调试", "安全生产培训"}


def test_the_xlsx_export_has_the_same_rows(world, firm_admin):
    csv_rows = _csv(firm_admin.get(f"/firms/{world.firm_a.id}/hours?format=csv"))
    response = firm_admin.get(f"/firms/{world.firm_a.id}/hours?format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    response.close()
    xlsx_rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert xlsx_rows[0] == csv_rows[0]
    assert len(xlsx_rows) == len(csv_rows)
    for got, want in zip(xlsx_rows[1:], csv_rows[1:], strict=True):
        assert got[0] == want[0] and Decimal(str(got[5])) == Decimal(want[5])
        assert got[6].date().isoformat() == want[6]


def test_formula_cells_are_neutralised(app, world, firm_admin, create_user, complete):
    worker = create_user(role="worker", firm=world.firm_a, name='=HYPERLINK("x")')
    complete(worker, world.firm_a, hours=1)
    rows = _csv(firm_admin.get(f"/firms/{world.firm_a.id}/hours?format=csv"))
    assert [row[0] for row in rows if "HYPERLINK" in row[0]] == ['\'=HYPERLINK("x")']
    response = firm_admin.get(f"/firms/{world.firm_a.id}/hours?format=xlsx")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    response.close()
    names = [c.value for c in sheet["A"] if c.value and "HYPERLINK" in c.value]
    assert names == ['\'=HYPERLINK("x")'] and all(c.data_type == "s" for c in sheet["A"])


def test_a_big_export_runs_as_a_job_with_a_download(app, world, firm_admin, monkeypatch):
    monkeypatch.setitem(app.config, "LMS_EXPORT_INLINE_ROWS", 1)
    response = firm_admin.get(f"/firms/{world.firm_a.id}/hours?format=csv")
    assert response.status_code == 302 and "/jobs/" in response.headers["Location"]
    with app.app_context():
        job = db.session.scalars(select(Job).order_by(Job.id.desc())).first()
        assert job.state == "done" and job.result["rows"] == 3
        public_id = job.public_id
    rows = _csv(firm_admin.get(f"/jobs/{public_id}/download"))
    assert len(rows) == 4


def test_the_export_source_checks_the_actor_itself(app, world):
    """A job runs the source without a request: another firm's admin gets nothing."""
    from werkzeug.exceptions import NotFound

    from lms.auth.models import User
    from lms.jobs.exports import SOURCES

    with app.test_request_context():
        params = {"firm": world.firm_a.id, **service.this_year().params()}
        stranger = db.session.get(User, world.people["admin_b"].id)
        with pytest.raises(NotFound):
            SOURCES["firm.hours"](stranger, params)
        admin = db.session.get(User, world.people["admin_a"].id)
        assert SOURCES["firm.hours"](admin, params).count == 3


def test_a_worker_who_left_keeps_the_firms_hours_without_a_link(app, world, firm_admin):
    with app.app_context():
        membership = db.session.scalars(
            select(Membership).where(Membership.user_id == world.people["a2"].id)
        ).one()
        membership.ends_on = date(2026, 6, 30)
        db.session.commit()
    html = _get(firm_admin, f"/firms/{world.firm_a.id}/hours")[1].decode()
    rows = _rows(html)
    assert rows["李四 (no longer at this firm)"] == "2" and rows["张三丰"] == "3.5"
    assert f"/people/{world.people['a2'].public_id}/transcript" not in html
    assert f"/people/{world.people['a1'].public_id}/transcript" in html


def test_the_service_aggregates(app, world):
    with app.test_request_context():
        from lms.tenancy.models import Consortium, Firm

        firm_a = db.session.get(Firm, world.firm_a.id)
        consortium = db.session.get(Consortium, world.consortium.id)
        year = Period.year_of(date(2026, 1, 1))
        rows = db.session.execute(service.hours_by_worker(firm_a, year)).all()
        assert [(r.name, r.hours, r.courses) for r in rows] == [
            ("张三丰", Decimal("3.5"), 2),
            ("李四", Decimal("2.0"), 1),
        ]
        totals = service.hours_totals(consortium, year)
        assert (totals.hours, totals.workers, totals.credits) == (Decimal("9.5"), 3, 4)
        by_firm = {
            r.firm.name: (r.hours, r.workers) for r in service.hours_by_firm(consortium, year)
        }
        assert by_firm == {"冀东智能装备": (Decimal("5.5"), 2), "曹妃甸电子": (Decimal("4.0"), 1)}
        assert service.hours_totals(firm_a, Period.year_of(date(2025, 1, 1))).hours == Decimal(
            "3.0"
        )


# --- the consortium's page ------------------------------------------------------------------


@pytest.fixture
def consortium_admin(world, client, login):
    login(world.people["consortium_admin"])
    return client


def test_the_consortium_page_totals_per_firm(world, consortium_admin):
    response, body = _get(consortium_admin, f"/consortia/{world.consortium.id}/hours")
    html = body.decode()
    assert response.status_code == 200
    rows = _rows(html)
    assert rows["冀东智能装备"] == "5.5" and rows["曹妃甸电子"] == "4"
    assert '<span class="big">9.5</span>' in html
    assert "张三丰" not in html  # workers are listed once a firm is chosen


def test_the_consortium_page_with_a_firm_filter(world, consortium_admin):
    url = f"/consortia/{world.consortium.id}/hours?firm={world.firm_b.id}"
    html = _get(consortium_admin, url)[1].decode()
    rows = _rows(html)
    assert rows.get("王五") == "4" and "冀东智能装备" not in rows and "张三丰" not in rows
    data = _csv(consortium_admin.get(url + "&format=csv"))
    assert len(data[0]) == 9 and [row[0] for row in data[1:]] == ["王五"]
    assert data[1][3] == "曹妃甸电子"
    everything = _csv(consortium_admin.get(f"/consortia/{world.consortium.id}/hours?format=csv"))
    assert sorted(row[0] for row in everything[1:]) == ["张三丰", "张三丰", "李四", "王五"]
    assert sum(Decimal(row[6]) for row in everything[1:]) == Decimal("9.5")


def test_a_firm_of_another_consortium_is_refused_by_the_filter(
    world, consortium_admin, create_firm
):
    stranger = create_firm()
    url = f"/consortia/{world.consortium.id}/hours?firm={stranger.id}"
    response, body = _get(consortium_admin, url)
    assert "Firm: choose a firm of this consortium." in body.decode()
    response, body = _get(consortium_admin, url + "&format=csv")
    assert response.mimetype == "text/html"


def test_a_firm_admin_cannot_open_the_consortium_page(world, firm_admin):
    assert _get(firm_admin, f"/consortia/{world.consortium.id}/hours")[0].status_code == 404
    assert _get(firm_admin, f"/firms/{world.firm_b.id}/hours")[0].status_code == 404
