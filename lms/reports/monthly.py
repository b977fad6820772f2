"""The monthly pilot report of a consortium: the dashboard's figures for one month and the year to
date, per member firm, course and skill, with charts drawn on the server, as an A4 PDF.

Every number comes from lms/reports/figures.py over the same slices the consortium dashboard
uses, so the PDF and the dashboard always agree. Charts are SVG from matplotlib, inlined in the
sandboxed template; each is followed by a table of the same figures. Their text stays text, set
in the PDF's own CJK font (measured: drawn as glyph paths instead, WeasyPrint's Python path
parser took a third of a 40-firm report's render time, and the labels could not be searched).
Consortium admins subscribe (`ReportSubscription`); the "reports.monthly" job (`flask reports
monthly`, monthly from cron) notifies each subscriber who still holds report.view, once per
month, and e-mails the PDF when SMTP is set.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import warnings
from pathlib import Path

from babel.dates import format_interval, format_skeleton
from flask_babel import force_locale, format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lms.audit.service import record_action
from lms.core.types import utcnow
from lms.extensions import db
from lms.reports import figures
from lms.reports.models import ReportSubscription
from lms.reports.summary import (
    Slice,
    local_zone,
    month_first_day,
    month_of,
    prev_month,
)
from lms.tenancy.models import Consortium

log = logging.getLogger(__name__)

PDF_DIR = Path(__file__).parent / "pdf"
TREND_MONTHS = 12
TOP = 10  # rows of the course and skill tables
CHART_FIRMS = 25  # bars of the firm chart (its table has every firm)
FIRST_YEAR = 2000
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# The bars: the primary deep blue for enrolments, a lighter blue for completions.
COLORS = ("#1d4e89", "#7aa6d6")
CHART_WIDTH_IN = 7.0  # the text width of the A4 page (210 mm less 2 × 16 mm margins)
_CHART_LOCK = threading.Lock()  # matplotlib's rcParams are process-wide


# --- months ----------------------------------------------------------------------------------


def latest_month() -> int:
    """The current month: the last one a report may be asked for (so far)."""
    return month_of(utcnow())


def default_month() -> int:
    """The month that just ended."""
    return prev_month(latest_month())


def month_text(month: int) -> str:
    return f"{month // 100:04d}-{month % 100:02d}"


def parse_month(raw: str | None) -> tuple[int | None, object | None]:
    """(month, None) for "YYYY-MM" up to the current month (empty: last month), else
    (None, a message naming the field)."""
    raw = (raw or "").strip()
    if not raw:
        return default_month(), None
    match = _MONTH.match(raw)
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < FIRST_YEAR:
        return None, _l("Month: give a month as YYYY-MM, e.g. 2026-03.")
    month = int(match.group(1)) * 100 + int(match.group(2))
    if month > latest_month():
        return None, _l("Month: choose this month or an earlier one.")
    return month, None


def month_label(month: int) -> str:
    """The month as "2026年10月" or "October 2026", in the current locale."""
    return format_skeleton("yMMMM", month_first_day(month), locale=get_locale())


def pdf_locale(locale: str | None) -> str:
    """The PDF's language: English for an English-speaking recipient, else Chinese."""
    return "en" if str(locale or "").startswith("en") else "zh_CN"


def pdf_filename(consortium: Consortium, month: int) -> str:
    return f"monthly-report-{consortium.code}-{month_text(month)}.pdf"


# --- the report as plain data ------------------------------------------------------------------


def _slice(consortium_id: int, first: int, last: int) -> Slice:
    return figures.make_slice(consortium_id, figures.Filters(first, last))


def _n(value) -> str:
    """A figure as the PDF prints it: 1,234 · 8.0 · "–" for none (a rate of no enrolments)."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def _table(key_title, key, rows, cols, *, empty) -> dict:
    labels = {k: str(v) for k, v in figures.COLUMN_LABELS.items()}
    return {
        "header": [str(key_title), *(labels[c] for c in cols)],
        "rows": [[str(r[key]), *(_n(r[c]) for c in cols)] for r in rows],
        "empty": str(empty),
    }


def monthly_context(
    consortium: Consortium, month: int, locale: str | None, *, with_charts: bool = True
) -> dict:
    """The report's data for `month` (yyyymm) in `locale` ("zh_CN" or "en"): plain strings,
    lists and the charts' SVG only."""
    locale = pdf_locale(locale)
    cid = consortium.id
    year_start = month // 100 * 100 + 1
    trend_first = month
    for _i in range(TREND_MONTHS - 1):
        trend_first = prev_month(trend_first)
    with force_locale(locale):
        this_month = _slice(cid, month, month)
        t = figures.totals(this_month)
        head = figures.headline(this_month, t)
        head_ytd = figures.headline(_slice(cid, year_start, month))
        firms = figures.by_firm(this_month, t)
        all_courses = figures.by_course(this_month, t=t)
        courses = all_courses[:TOP]
        skills = figures.by_skill(this_month, limit=TOP, courses=all_courses, t=t)
        trend = figures.by_month(_slice(cid, trend_first, month))
        label = month_label(month)
        ytd_label = format_interval(
            month_first_day(year_start), month_first_day(month), "yMMM", locale=get_locale()
        )
        now_figures = ("active", "overdue")
        enrolled, completed = _("Enrolments"), _("Completions")
        charts = {}
        if with_charts:  # the monthly page shows the tables only: drawing is most of the cost
            charts = {
                "trend": trend_chart(trend, enrolled=enrolled, completed=completed),
                "firms": firms_chart(firms, enrolled=enrolled, completed=completed),
            }
        return {
            "lang": "en" if locale == "en" else "zh-CN",
            "consortium": consortium.name,
            "month": label,
            "t": {
                "title": _("Monthly pilot report"),
                "generated": _(
                    "Generated on %(date)s",
                    date=format_date(utcnow().astimezone(local_zone()).date(), "long"),
                ),
                "figures": _("Figures"),
                "figure": _("Figure"),
                "this_month": label,
                "ytd": _("Year to date (%(period)s)", period=ytd_label),
                "now_note": _(
                    "* Taken %(when)s, in both columns.", when=figures.as_of_text(this_month)
                ),
                "trend": _("Enrolments and completions by month"),
                "trend_note": _("The twelve months up to %(month)s.", month=label),
                "firms": _("By member firm"),
                "firms_chart": _("Enrolments and completions by firm"),
                "firms_chart_note": (
                    _(
                        "The chart shows the %(n)d firms with most enrolments; the table has "
                        "them all.",
                        n=CHART_FIRMS,
                    )
                    if len(firms) > CHART_FIRMS
                    else ""
                ),
                "chart_note": _("Chart of the table below, which has the same figures."),
                "courses": _("The ten courses with most enrolments"),
                "skills": _("By skill"),
                "definitions": _("How these figures are counted"),
            },
            "headline": [
                {
                    "label": str(figures.HEADLINE_LABELS[k]) + (" *" if k in now_figures else ""),
                    "month": _n(head[k]) + (" %" if k == "rate" and head[k] is not None else ""),
                    "ytd": _n(head_ytd[k])
                    + (" %" if k == "rate" and head_ytd[k] is not None else ""),
                }
                for k in figures.HEADLINES
            ],
            "trend": _table(
                _("Month"),
                "label",
                trend,
                ("enrolled", "completed", "rate", "certificates", "hours"),
                empty="",
            ),
            "firms": _table(
                _("Firm"),
                "name",
                firms,
                ("workers", "enrolled", "completed", "rate", "overdue", "certificates", "hours"),
                empty=_("The consortium has no member firm yet."),
            ),
            "courses": _table(
                _("Course"),
                "title",
                courses,
                ("enrolled", "completed", "rate", "certificates", "hours"),
                empty=_("No enrolment or completion in this month."),
            ),
            "skills": _table(
                _("Skill"),
                "name",
                skills,
                ("enrolled", "completed", "rate", "raised"),
                empty=_("No course teaching a skill had activity in this month."),
            ),
            "charts": {k: Markup(v) if v else "" for k, v in charts.items()},  # noqa: S704
            "definitions": [*figures.definition_lines(this_month)]
            + [
                _(
                    "In the table by member firm a worker enrolled through two firms is counted "
                    "under each, so its rows can add up to more than the total."
                ),
                _(
                    "The year-to-date column is the period from January to this month. The same "
                    "figures, and the rows behind each of them, are on the consortium dashboard."
                ),
            ],
        }


def monthly_pdf(consortium: Consortium, month: int, locale: str | None) -> bytes:
    """The report as an A4 portrait PDF (sandboxed template, CJK font, no outside URL)."""
    from lms.certificates import render

    return render.render_document(
        PDF_DIR,
        "monthly.html",
        monthly_context(consortium, month, locale),
        stylesheet="monthly.css",
    )


# --- charts ------------------------------------------------------------------------------------


def _figure(height_in: float, *, left_in: float):
    """A figure the width of the page's text, with fixed margins (in inches) around the plot:
    a layout engine would cost a second drawing pass."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(CHART_WIDTH_IN, height_in))
    fig.subplots_adjust(
        left=left_in / CHART_WIDTH_IN,
        right=1 - 0.12 / CHART_WIDTH_IN,
        bottom=0.3 / height_in,
        top=1 - 0.3 / height_in,
    )
    return fig


def _label_width_in(labels: list[str], size_pt: float = 7.5) -> float:
    """About how wide the longest label is drawn (CJK characters are one em, others less)."""
    ems = max((sum(1.0 if ord(c) >= 0x2E80 else 0.62 for c in text) for text in labels), default=0)
    return ems * size_pt / 72


_ID = re.compile(r'\sid="([^"]+)"')
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_REF = re.compile(r'(xlink:href="#|url\(#)([^")]+)')
_FAMILY = re.compile(r"font-family:[^;\"]*")


def _svg(fig, name: str) -> str:
    """The figure as an SVG element to inline: no XML prolog or metadata; its text in the
    font the PDF embeds anyway (render.py's @font-face "cjk", the font matplotlib measured it
    with); an id only where something refers to it (clip paths, tick marks), prefixed with
    `name` so two charts' ids never clash in one document (WeasyPrint also makes each id a
    PDF anchor)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = _METADATA.sub("", svg[svg.index("<svg") :])
    svg = _FAMILY.sub("font-family: cjk, sans-serif", svg)
    used = {m.group(2) for m in _REF.finditer(svg)}
    svg = _ID.sub(lambda m: f' id="{name}-{m.group(1)}"' if m.group(1) in used else "", svg)
    return _REF.sub(lambda m: f"{m.group(1)}{name}-{m.group(2)}", svg)


def _style(fig, ax, value_axis) -> None:
    """Light axes, whole numbers on the value axis, the legend above the plot."""
    from matplotlib.ticker import MaxNLocator

    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(colors="#334155", labelsize=7.5)
    ax.set_axisbelow(True)
    value_axis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y" if value_axis is ax.yaxis else "x")
    ax.legend(frameon=False, fontsize=8, loc="lower left", ncols=2, bbox_to_anchor=(0, 1))
    fig.patch.set_alpha(0)


def _draw(draw, name: str) -> str:
    """Run `draw()` → SVG text, with matplotlib measuring text in the CJK font."""
    import matplotlib
    from matplotlib import font_manager

    from lms.certificates.render import font_path

    path = str(font_path())
    with _CHART_LOCK, warnings.catch_warnings():
        # A character the font lacks is drawn from the fallback font (or left out); it must
        # not stop a report.
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        family = font_manager.FontProperties(fname=path).get_name()
        if not any(f.fname == path for f in font_manager.fontManager.ttflist):
            font_manager.fontManager.addfont(path)
        with matplotlib.rc_context(
            {
                "font.family": [family, "DejaVu Sans"],
                "font.size": 8,
                "axes.unicode_minus": False,
                "svg.fonttype": "none",  # text as <text>
                "axes.edgecolor": "#94a3b8",
                "grid.color": "#e2e8f0",
            }
        ):
            return _svg(draw(), name)


def trend_chart(rows: list[dict], *, enrolled: str, completed: str) -> str:
    """Grouped bars of enrolments and completions per month (figures.by_month rows)."""

    def draw():
        fig = _figure(2.2, left_in=0.45)
        ax = fig.add_subplot()
        x = range(len(rows))
        width = 0.4
        for offset, key, label, color in (
            (-width / 2, "enrolled", enrolled, COLORS[0]),
            (width / 2, "completed", completed, COLORS[1]),
        ):
            ax.bar([i + offset for i in x], [r[key] for r in rows], width, label=label, color=color)
        ax.set_xticks(list(x), [r["label"] for r in rows])
        _style(fig, ax, ax.yaxis)
        return fig

    return _draw(draw, "trend")


def _short(text: str, size: int = 14) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def firms_chart(rows: list[dict], *, enrolled: str, completed: str) -> str:
    """Horizontal bars of each firm's enrolments and completions (figures.by_firm rows, most
    enrolments first); "" when there is no firm."""
    rows = rows[:CHART_FIRMS]
    if not rows:
        return ""
    labels = [_short(str(r["name"])) for r in rows]

    def draw():
        fig = _figure(0.6 + 0.26 * len(rows), left_in=0.15 + _label_width_in(labels))
        ax = fig.add_subplot()
        y = list(range(len(rows)))
        height = 0.38
        for offset, key, label, color in (
            (-height / 2, "enrolled", enrolled, COLORS[0]),
            (height / 2, "completed", completed, COLORS[1]),
        ):
            ax.barh(
                [i + offset for i in y], [r[key] for r in rows], height, label=label, color=color
            )
        ax.set_yticks(y, labels)
        ax.invert_yaxis()  # the firm with most enrolments on top, as in the table
        _style(fig, ax, ax.xaxis)
        return fig

    return _draw(draw, "firms")


# --- subscriptions -----------------------------------------------------------------------------


def is_subscribed(consortium: Consortium, user) -> bool:
    return db.session.get(ReportSubscription, (consortium.id, user.id)) is not None


def set_subscription(actor, consortium: Consortium, *, on: bool) -> bool:
    """Turn `actor`'s monthly e-mail of `consortium` on or off; True when that changed
    something (then audited). Asking twice for the same state changes nothing."""
    current = db.session.get(ReportSubscription, (consortium.id, actor.id))
    if on and current is None:
        try:
            with db.session.begin_nested():
                db.session.add(ReportSubscription(consortium_id=consortium.id, user_id=actor.id))
        except IntegrityError:  # a double submit subscribed meanwhile
            return False
    elif not on and current is not None:
        db.session.delete(current)
        db.session.flush()
    else:
        return False
    record_action(
        actor,
        "report.subscribe" if on else "report.unsubscribe",
        consortium,
        consortium_id=consortium.id,
        details={"report": "monthly"},
    )
    return True


def _subscribers(consortium_id: int) -> list:
    from lms.auth.models import User

    return list(
        db.session.scalars(
            select(User)
            .join(ReportSubscription, ReportSubscription.user_id == User.id)
            .where(ReportSubscription.consortium_id == consortium_id)
            .order_by(User.id)
        )
    )


# --- sending -----------------------------------------------------------------------------------


def send_monthly_reports(month: int | None = None, report=None) -> dict:
    """Notify every subscriber who still holds report.view on the consortium of `month`'s
    report (default: last month), once per consortium, month and person; then send the
    e-mails (with the PDF attached) when SMTP is set. Commits (a job's unit of work)."""
    from lms.notifications.service import notify, path_for, send_pending_emails
    from lms.permissions import has_permission

    month = month or default_month()
    text = month_text(month)
    consortia = db.session.scalars(
        select(Consortium)
        .where(
            Consortium.is_active.is_(True),
            Consortium.id.in_(select(ReportSubscription.consortium_id)),
        )
        .order_by(Consortium.id)
    ).all()
    notified = skipped = 0
    for done, consortium in enumerate(consortia, 1):
        url = path_for("monthly_reports.monthly_pdf", consortium_id=consortium.id, month=text)
        for user in _subscribers(consortium.id):
            if not user.is_active_account or not has_permission(user, "report.view", consortium):
                skipped += 1  # no longer an admin there: the subscription lies dormant
                continue
            sent = notify(
                user,
                "report.monthly",
                f"report.monthly:{consortium.id}:{month}:{user.id}",
                url,
                consortium=consortium.name,
                consortium_id=consortium.id,
                month=text,
            )
            notified += sent is not None
        db.session.commit()
        if report is not None:
            report(done, len(consortia))
    emailed = send_pending_emails()
    db.session.commit()
    return {"month": text, "notified": notified, "skipped": skipped, "emailed": emailed}


def monthly_job(job, report) -> dict:
    """The "reports.monthly" job (params: optional "month", yyyymm)."""
    month = (job.params or {}).get("month")
    return send_monthly_reports(int(month) if month else None, report)


def email_attachments(n, user) -> list[tuple[str, str, bytes]]:
    """The PDF for the e-mail of a "report.monthly" notification (in the recipient's
    language); nothing when they no longer hold report.view or the render fails (the e-mail
    still links to the report)."""
    from lms.certificates.render import RenderError
    from lms.permissions import has_permission

    params = n.params or {}
    consortium = db.session.get(Consortium, params.get("consortium_id") or 0)
    month, error = parse_month(params.get("month"))
    if consortium is None or error or not has_permission(user, "report.view", consortium):
        return []
    from lms.reports import approval  # it builds on this module

    try:  # an approved month's stored, signed PDF; else the live draft
        data = approval.pdf_bytes(consortium, month, user.locale)
    except RenderError:
        log.exception("the monthly report of consortium %s could not be rendered", consortium.id)
        return []
    return [(pdf_filename(consortium, month), "application/pdf", data)]
