"""The monthly pilot report: its PDF (the dashboard's numbers for the month, Chinese names,
an embedded font subset, a chart on page 1, page numbers), the month picker, the e-mail
subscription, and the monthly send (once per subscriber and month, only to current admins,
with the PDF attached); plus the access matrix of its routes."""

from __future__ import annotations

import io
import json
import re
import subprocess
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from lms.audit.models import AuditRecord
from lms.auth.models import User
from lms.core.types import utcnow
from lms.extensions import db
from lms.notifications.models import Notification
from lms.reports import figures, monthly
from lms.reports.models import ReportSubscription
from lms.reports.summary import month_of, prev_month
from lms.tenancy.models import Consortium, Membership
from tests.access import PERSONAS, assert_every_route_has_a_row, check_access
from tests.pdftools import require_poppler, run
from tests.reports.conftest import World

CHINESE_NAME = "唐山智能制造培训联合体"
MONTH_FORMAT = _l("Month: give a month as YYYY-MM, e.g. 2026-03.")


def _text(app, message, locale: str = "zh_CN") -> str:
    """A message as the pages show it to the fixtures' users (their locale: zh_CN)."""
    with app.test_request_context(), force_locale(locale):
        return str(message)


def _this_month(app) -> int:
    with app.app_context():
        return month_of(utcnow())


@pytest.fixture
def report_world(app, world: World) -> World:
    """The dashboard tests' world, its consortium C with a Chinese name."""
    with app.app_context():
        db.session.get(Consortium, world.c).name = CHINESE_NAME
        db.session.commit()
    return world


def _expected(c: int, month: int) -> tuple[dict, dict, list[dict]]:
    """What the dashboard says for the month and the year to date (call inside a context)."""
    one = figures.make_slice(c, figures.Filters(month, month))
    ytd = figures.make_slice(c, figures.Filters(month // 100 * 100 + 1, month))
    return figures.headline(one), figures.headline(ytd), figures.by_firm(one)


def _shown(value) -> str:
    if value is None:
        return "–"
    return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"


def _cells(text: str) -> dict[str, list[str]]:
    """Each table line of `pdftotext -layout`, keyed by its first cell."""
    rows = {}
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) > 2:  # not a chart's label
            rows.setdefault(cells[0], cells[1:])
    return rows


# --- the PDF -------------------------------------------------------------------------------------


def test_the_pdf_has_the_dashboards_numbers_for_the_month(app, report_world, tmp_path):
    require_poppler("pdftotext", "pdffonts", "pdftoppm")
    month = _this_month(app)
    with app.test_request_context():
        consortium = db.session.get(Consortium, report_world.c)
        pdf = monthly.monthly_pdf(consortium, month, "en")
        head, ytd, firms = _expected(report_world.c, month)
        with force_locale("en"):
            labels = {k: str(v) for k, v in figures.HEADLINE_LABELS.items()}
    path = tmp_path / "monthly.pdf"
    path.write_bytes(pdf)
    rows = _cells(run("pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"))

    for key in figures.HEADLINES:
        label = labels[key] + (" *" if key in ("active", "overdue") else "")
        suffix = " %" if key == "rate" else ""
        want = [_shown(head[key]) + suffix, _shown(ytd[key]) + suffix]
        assert rows[label] == want, (key, rows.get(label))
    columns = ("workers", "enrolled", "completed", "rate", "overdue", "certificates", "hours")
    for firm in firms:
        assert rows[firm["name"]] == [_shown(firm[c]) for c in columns], firm["name"]
    # The fixture's events of this month, as counted by hand: the figures are not all zero.
    assert (head["enrolled"], head["completed"], head["certificates"], head["hours"]) == (
        2,
        1,
        1,
        8.0,
    )
    assert rows["二厂"] == ["1", "1", "1", "100.0", "0", "1", "8.0"]
    assert rows["=SUM(1) 一厂"] == ["1", "1", "0", "0.0", "1", "0", "0.0"]
    assert "外联体厂" not in rows  # another consortium's firm


def test_the_pdf_is_chinese_with_an_embedded_font_a_chart_and_page_numbers(
    app, report_world, client, login, tmp_path
):
    require_poppler("pdftotext", "pdffonts", "pdftoppm")
    login(report_world.admins["consortium"])
    month = prev_month(prev_month(_this_month(app)))
    text = monthly.month_text(month)
    response = client.get(f"/consortia/{report_world.c}/reports/monthly.pdf?month={text}")
    data = response.get_data()
    response.close()
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert f"monthly-report-C-{text}.pdf" in response.headers["Content-Disposition"]
    path = tmp_path / "monthly.pdf"
    path.write_bytes(data)

    pdf_text = run("pdftotext", "-enc", "UTF-8", str(path), "-")
    for name in (CHINESE_NAME, "=SUM(1) 一厂", "二厂", "课程A", f"{month // 100}年{month % 100}月"):
        assert name in pdf_text, name
    assert "外联体厂" not in pdf_text and "课程Z" not in pdf_text
    assert re.search(r"\b1 ?/ ?[2-9]\b", pdf_text)  # page numbers
    fonts = [line.split() for line in run("pdffonts", str(path)).splitlines()[2:]]
    assert fonts and all(f[-5:-3] == ["yes", "yes"] for f in fonts)  # embedded, subset

    # The trend chart is drawn on page 1: bars in both of its colours.
    from PIL import Image

    png = subprocess.run(
        ["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-png", str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    with Image.open(io.BytesIO(png)) as page:
        colors = {rgb: n for n, rgb in page.convert("RGB").getcolors(maxcolors=1 << 24)}
    counts = {color: colors.get(_rgb(color), 0) for color in monthly.COLORS}
    assert all(n > 100 for n in counts.values()), counts


def _rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def test_the_context_is_plain_data_with_both_charts(app, report_world):
    with app.test_request_context():
        consortium = db.session.get(Consortium, report_world.c)
        ctx = monthly.monthly_context(consortium, _this_month(app), "zh_CN")
    assert ctx["lang"] == "zh-CN" and ctx["consortium"] == CHINESE_NAME
    assert [r[0] for r in ctx["firms"]["rows"]] == ["=SUM(1) 一厂", "二厂"]  # zero rows too
    assert len(ctx["trend"]["rows"]) == 12
    for name in ("trend", "firms"):
        svg = str(ctx["charts"][name])
        assert svg.startswith("<svg") and "<path" in svg and "<text" in svg
        families = set(re.findall(r"font-family: ([^;\"]*)", svg))
        assert families == {"cjk, sans-serif"}  # the PDF's embedded font
        refs = {r for pair in re.findall(r'href="([^"]*)"|url\(([^)]*)\)', svg) for r in pair if r}
        ids = set(re.findall(r'\sid="([^"]+)"', svg))
        assert refs and {f"#{i}" for i in ids} == refs  # all local, all resolve, none unused
        assert all(i.startswith(f"{name}-") for i in ids)  # no clash between the two charts


# --- months --------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["2026-13", "2026-00", "26-01", "1999-12", "二〇二六年", "2026/03"])
def test_a_month_that_is_not_yyyy_mm_is_refused(ctx, raw):
    month, error = monthly.parse_month(raw)
    with force_locale("en"):
        assert month is None and str(error) == "Month: give a month as YYYY-MM, e.g. 2026-03."


def test_a_future_month_is_refused_and_no_month_means_last_month(app, ctx):
    this = _this_month(app)
    following = this + 1 if this % 100 < 12 else (this // 100 + 1) * 100 + 1
    month, error = monthly.parse_month(monthly.month_text(following))
    with force_locale("en"):
        assert month is None and str(error) == "Month: choose this month or an earlier one."
    assert monthly.parse_month(monthly.month_text(this)) == (this, None)
    assert monthly.parse_month("") == (prev_month(this), None)


def test_the_page_names_the_month_field_when_the_month_is_wrong(app, report_world, client, login):
    login(report_world.admins["consortium"])
    url = f"/consortia/{report_world.c}/reports/monthly"
    response = client.get(url)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'value="{monthly.month_text(prev_month(_this_month(app)))}"' in page  # last month
    assert 'aria-invalid="true"' not in page

    response = client.get(f"/consortia/{report_world.c}/reports/monthly.pdf?month=2026-13")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert _text(app, MONTH_FORMAT) in page and 'aria-invalid="true"' in page
    assert 'value="2026-13"' in page


def test_the_dashboard_and_the_side_navigation_link_to_the_page(report_world, client, login):
    login(report_world.admins["consortium"])
    page = client.get(f"/consortia/{report_world.c}/reports").get_data(as_text=True)
    assert page.count(f'href="/consortia/{report_world.c}/reports/monthly"') == 2


# --- the subscription ----------------------------------------------------------------------------


def _subscriptions(c: int) -> list[int]:
    return list(
        db.session.scalars(
            select(ReportSubscription.user_id).where(ReportSubscription.consortium_id == c)
        )
    )


def _audits(action: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)
    )


def test_subscribing_twice_is_one_subscription_and_one_audit_record(
    app, report_world, client, login
):
    admin = report_world.admins["consortium"]
    login(admin)
    url = f"/consortia/{report_world.c}/reports/monthly/subscription"
    for _ in range(2):
        response = client.post(url, data={"subscribe": "1", "month": "2026-03"})
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/reports/monthly?month=2026-03")
    with app.app_context():
        assert _subscriptions(report_world.c) == [admin.id]
        assert _audits("report.subscribe") == 1
    page = client.get(f"/consortia/{report_world.c}/reports/monthly").get_data(as_text=True)
    assert _text(app, _l("Stop sending me the monthly report")) in page

    for _ in range(2):
        assert client.post(url, data={"subscribe": "0"}).status_code == 302
    with app.app_context():
        assert _subscriptions(report_world.c) == []
        assert _audits("report.unsubscribe") == 1
    assert client.post(url, data={"subscribe": "maybe"}).status_code == 400


# --- the monthly send ----------------------------------------------------------------------------


def _subscribe(*users_and_consortia) -> None:
    for user, consortium_id in users_and_consortia:
        db.session.add(ReportSubscription(consortium_id=consortium_id, user_id=user.id))
    db.session.commit()


def test_each_subscriber_gets_the_report_once_with_the_pdf_attached(
    app, report_world, create_user, fake_smtp
):
    w = report_world
    consortium = SimpleNamespace(id=w.c)
    subscriber = create_user(role="consortium_admin", consortium=consortium, locale="en")
    former = create_user(role="consortium_admin", consortium=consortium)
    not_subscribed = create_user(role="consortium_admin", consortium=consortium)
    firm_admin = w.admins["f1"]  # report.view on a firm, not on the consortium
    foreign = w.admins["d"]  # subscribed to their own consortium's report
    with app.test_request_context():
        _subscribe((subscriber, w.c), (former, w.c), (firm_admin, w.c), (foreign, w.d))
        membership = db.session.scalars(
            select(Membership).where(Membership.user_id == former.id)
        ).one()
        membership.ends_on = date.today() - timedelta(days=1)  # no longer an admin
        db.session.commit()
        month = prev_month(_this_month(app))

        first = monthly.send_monthly_reports(month)
        second = monthly.send_monthly_reports(month)

        assert first == {
            "month": monthly.month_text(month),
            "notified": 2,
            "skipped": 2,
            "emailed": 2,
        }
        assert second == {**first, "notified": 0, "emailed": 0}
        notes = db.session.scalars(
            select(Notification)
            .where(Notification.kind == "report.monthly")
            .order_by(Notification.id)
        ).all()
        assert [n.user_id for n in notes] == [subscriber.id, foreign.id]
        assert notes[0].url == (
            f"/consortia/{w.c}/reports/monthly.pdf?month={monthly.month_text(month)}"
        )
        assert not {former.id, not_subscribed.id, firm_admin.id} & {n.user_id for n in notes}

    assert sorted(m["To"] for m in fake_smtp.sent) == sorted([subscriber.email, foreign.email])
    mail = next(m for m in fake_smtp.sent if m["To"] == subscriber.email)
    assert "Monthly pilot report" in mail["Subject"]  # the recipient's language (en)
    files = list(mail.iter_attachments())
    assert len(files) == 1 and files[0].get_content_type() == "application/pdf"
    assert files[0].get_filename() == f"monthly-report-C-{monthly.month_text(month)}.pdf"
    assert files[0].get_content().startswith(b"%PDF-")


def test_an_admin_who_lost_the_role_after_the_notice_gets_no_attachment(
    app, report_world, fake_smtp
):
    with app.test_request_context():
        admin = db.session.get(User, report_world.admins["consortium"].id)
        note = Notification(
            user_id=admin.id,
            kind="report.monthly",
            key="k",
            params={"consortium_id": report_world.c, "month": "2026-01"},
        )
        assert monthly.email_attachments(note, admin)[0][1] == "application/pdf"
        admin.memberships[0].ends_on = date.today()
        db.session.flush()
        assert monthly.email_attachments(note, admin) == []


def test_the_cli_sends_the_given_month_and_refuses_a_bad_one(app, report_world, fake_smtp):
    with app.app_context():
        _subscribe((report_world.admins["consortium"], report_world.c))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reports", "monthly", "--month", "2026-13"])
    assert result.exit_code != 0 and _text(app, MONTH_FORMAT) in result.output
    result = runner.invoke(args=["reports", "monthly", "--month", "2026-01"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["notified"] == 1
    result = runner.invoke(args=["reports", "monthly", "--help"])
    assert "0 6 2 * * flask reports monthly" in result.output


# --- who may open what ---------------------------------------------------------------------------


# endpoint: (method, url, who is "member with the permission", expected statuses in the order
# of PERSONAS). Consortium admins (report.view on the consortium) only; a firm admin's
# report.view on their firm is not enough; another consortium's admin gets a 404.
MONTHLY_MATRIX = {
    "monthly_reports.monthly": (
        "GET",
        "/consortia/{consortium}/reports/monthly",
        "consortium_admin",
        200,
    ),
    "monthly_reports.monthly_pdf": (
        "GET",
        "/consortia/{consortium}/reports/monthly.pdf",
        "consortium_admin",
        200,
    ),
    "monthly_reports.subscription": (
        "POST",
        "/consortia/{consortium}/reports/monthly/subscription",
        "consortium_admin",
        302,
    ),
    # Approval (report.approve: consortium admins; tests/reports/test_monthly_approval.py).
    "monthly_reports.review": (
        "POST",
        "/consortia/{consortium}/reports/monthly/review",
        "consortium_admin",
        302,  # to the confirmation step
    ),
    "monthly_reports.approve": (
        "GET",
        "/consortia/{consortium}/reports/monthly/approve",
        "consortium_admin",
        302,  # nothing reviewed yet: back to the report's page
    ),
    "monthly_reports.seal": (
        "GET",
        "/consortia/{consortium}/reports/seal",
        "consortium_admin",
        200,
    ),
    "monthly_reports.seal_image": (
        "GET",
        "/consortia/{consortium}/reports/seal.img",
        "consortium_admin",
        200,  # matrix_world's consortium has a seal
    ),
}


def test_every_monthly_report_route_has_a_row(app):
    assert_every_route_has_a_row(app, "monthly_reports.", MONTHLY_MATRIX)


@pytest.fixture
def matrix_world(app, create_consortium, create_firm, create_user):
    consortium, elsewhere = create_consortium(), create_consortium()
    with app.app_context():  # a seal for the seal image's row
        from lms.core.storage import storage
        from lms.reports.models import MonthlyReportSetting

        storage().save(f"monthly-reports/{consortium.id}/seal-matrix.png", b"\x89PNG\r\n\x1a\n")
        db.session.add(
            MonthlyReportSetting(
                consortium_id=consortium.id,
                seal_path=f"monthly-reports/{consortium.id}/seal-matrix.png",
            )
        )
        db.session.commit()
    firm_a, firm_b = create_firm(consortium), create_firm(consortium)
    people = {
        "other_firm_worker": create_user(role="worker", firm=firm_b),
        "member_without": create_user(role="firm_admin", firm=firm_a),
        "consortium_admin": create_user(role="consortium_admin", consortium=consortium),
        "foreign_admin": create_user(role="consortium_admin", consortium=elsewhere),
    }
    people["member_with"] = create_user(role="consortium_admin", consortium=consortium)
    return people, {"consortium": consortium.id}


@pytest.mark.parametrize("endpoint", sorted(MONTHLY_MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_access(endpoint, persona, matrix_world, client, login):
    row = MONTHLY_MATRIX[endpoint]
    data = {"subscribe": "1"} if row[0] == "POST" else None
    check_access(row, persona, *matrix_world, client, login, data=data)
