"""Consortium and firm dashboards, the people behind each figure, and their exports.

Every query is scoped by construction: the consortium or firm comes from the scoped lookup
(404 outside the caller's scope) and becomes the `Slice` every figure is computed over; a firm
dashboard fixes the firm, whatever the query string says.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from flask_login import current_user
from sqlalchemy import select

from lms.auth.models import User
from lms.core.codes import mask_mobile
from lms.core.pagination import RowPagination, paginate_rows
from lms.core.params import page_arg
from lms.core.replica import reads_replica
from lms.extensions import db
from lms.jobs.exports import ExportTable, export_response, register_export, table_response
from lms.learning.models import STATUS_LABELS
from lms.permissions import needs
from lms.reports import figures
from lms.tenancy.scope import Scope

bp = Blueprint("reports", __name__)

TOP = 15  # rows of the course and skill tables on the page (exports have them all)
# The event columns of the breakdown tables: the rate next to its denominator and numerator.
EVENT_COLUMNS = ("enrolled", "cohort", "rate", "completed", "certificates", "hours")


def _dashboard(consortium, firm=None) -> tuple[figures.Filters, object, figures.Choices]:
    choices = figures.Choices(consortium.id, firm.id if firm else None)
    f = figures.parse_filters(
        request.args,
        consortium_id=consortium.id,
        firm_id=firm.id if firm else None,
        choices=choices,
    )
    return f, figures.make_slice(consortium.id, f, choices), choices


def _options(firm, choices: figures.Choices) -> dict:
    info = choices.courses
    return {
        "firms": [] if firm else choices.firms,
        "courses": sorted(((cid, c["title"]) for cid, c in info.items()), key=lambda c: c[1]),
        "sectors": figures.sectors(info),
        "roles": choices.role_options(),
        "skills": sorted(choices.skills.items(), key=lambda s: s[1]),
    }


def _tables(s, t, choices, *, firm_view: bool, limit: int | None) -> dict[str, tuple]:
    """(title, key column title, key field, rows, columns) of each breakdown table."""
    by_firm = [] if firm_view else figures.by_firm(s, t, firms=choices.firms)
    courses = figures.by_course(s, t=t, info=choices.courses)
    tables = {
        "months": (
            _l("By month"),
            _l("Month"),
            "label",
            figures.by_month(s, t),
            EVENT_COLUMNS,
        ),
        "courses": (
            _l("By course"),
            _l("Course"),
            "title",
            courses[:limit] if limit else courses,
            EVENT_COLUMNS,
        ),
        "skills": (
            _l("By skill"),
            _l("Skill"),
            "name",
            figures.by_skill(s, limit=limit, courses=courses, t=t, choices=choices),
            ("enrolled", "cohort", "rate", "completed", "raised"),
        ),
    }
    if not firm_view:
        tables = {
            "firms": (
                _l("By member firm"),
                _l("Firm"),
                "name",
                by_firm,
                ("workers", *EVENT_COLUMNS[:4], "overdue", *EVENT_COLUMNS[4:]),
            ),
            **tables,
        }
    else:
        tables["roles"] = (
            _l("Team progress by job role"),
            _l("Job role"),
            "name",
            figures.by_job_role(s, names=choices.role_names()),
            ("members", "workers", "enrolled", "cohort", "rate", "completed", "overdue"),
        )
    return tables


def _table_export(name: str, table: tuple, stem: str):
    title, key_title, key, rows, cols = table
    labels = figures.COLUMN_LABELS
    if name == "roles":
        labels = {**labels, "overdue": _l("Overdue")}
    return table_response(
        request.args["format"],
        ExportTable(
            filename=f"{stem}-{name}",
            header=[str(key_title), *(str(labels[c]) for c in cols)],
            rows=[[r[key], *(r[c] for c in cols)] for r in rows],
            title=str(title),
        ),
    )


def _headline_export(head: dict, stem: str):
    return table_response(
        request.args["format"],
        ExportTable(
            filename=f"{stem}-summary",
            header=[str(_l("Figure")), str(_l("Value"))],
            rows=[[str(figures.HEADLINE_LABELS[k]), head[k]] for k in figures.HEADLINES],
        ),
    )


def _render_dashboard(consortium, firm=None):
    f, s, choices = _dashboard(consortium, firm)
    stem = f"report-{consortium.code}" + (f"-firm{firm.id}" if firm else "")
    table = request.args.get("table")
    fmt = request.args.get("format")
    t = figures.totals(s)
    if fmt and table != "summary":
        tables = _tables(s, t, choices, firm_view=firm is not None, limit=None)
        if table not in tables:
            abort(404)
        return _table_export(table, tables[table], stem)
    head = figures.headline(s, t)
    if fmt:
        return _headline_export(head, stem)
    tables = _tables(s, t, choices, firm_view=firm is not None, limit=TOP)
    months = tables["months"][3]
    charts = {
        "months": figures.chart_months(
            months,
            enrolled_label=_l("Enrolments"),
            completed_label=_l("Completions"),
            title=_l("Enrolments and completions by month"),
        )
    }
    if "firms" in tables and tables["firms"][3]:
        charts["firms"] = figures.chart_bars(
            tables["firms"][3][:TOP],
            "name",
            series=[("enrolled", _l("Enrolments")), ("completed", _l("Completions"))],
            title=_l("Enrolments and completions by firm"),
        )
    if tables["courses"][3]:
        charts["courses"] = figures.chart_bars(
            tables["courses"][3][:10],
            "title",
            series=[("enrolled", _l("Enrolments")), ("completed", _l("Completions"))],
            title=_l("The ten courses with most enrolments"),
        )
    overdue = None
    if firm is not None:
        overdue = _OverduePage(
            select=figures.overdue_list(s),
            count_query=figures.overdue_count(s),
            session=db.session,
            page=page_arg(),
            per_page=current_app.config["LMS_PAGE_SIZE"],
            error_out=False,
        )
    return render_template(
        "reports/dashboard.html",
        consortium=consortium,
        firm=firm,
        filters=f,
        head=head,
        tables=tables,
        charts=charts,
        columns=figures.COLUMN_LABELS,
        options=_options(firm, choices),
        overdue=overdue,
        courses=choices.courses,
        mask_mobile=mask_mobile,
        labels=figures.HEADLINE_LABELS,
        order=figures.HEADLINES,
        drill=DrillLinks(consortium, firm, f),
        definitions=figures.definitions(s),
        as_of=figures.as_of_text(s),
        overdue_now=figures.as_of(s) is None,
        route_args={"firm_id": firm.id} if firm else {"consortium_id": consortium.id},
    )


class _OverduePage(RowPagination):
    """paginate_rows() of figures.overdue_list(), whose rows carry the number of all its rows:
    the count needs no statement of its own, but on a page past the last one."""

    def _query_count(self) -> int:
        if self.items:
            return self.items[0].total
        return 0 if self.page == 1 else super()._query_count()


class DrillLinks:
    """drill(metric, extra) → the link to the people behind a figure, with the dashboard's
    filters (built once: a dashboard has a thousand of these links)."""

    def __init__(self, consortium, firm, filters: figures.Filters):
        if firm is not None:
            self.base = url_for("reports.firm_people", firm_id=firm.id)
        else:
            self.base = url_for("reports.consortium_people", consortium_id=consortium.id)
        self.args = filters.args()
        self._kept: dict[frozenset, str] = {}  # the filters' query string, less what `extra` sets

    def __call__(self, metric: str, extra: dict | None = None) -> str:
        extra = extra or {}
        keys = frozenset(extra)
        if keys not in self._kept:
            self._kept[keys] = urlencode({k: v for k, v in self.args.items() if k not in keys})
        return f"{self.base}?{self._kept[keys]}&{urlencode({**extra, 'metric': metric})}"


@bp.get("/consortia/<int:consortium_id>/reports")
@needs("report.view", on="consortium")
@reads_replica
def consortium_dashboard(consortium):
    return _render_dashboard(consortium)


@bp.get("/firms/<int:firm_id>/reports")
@needs("report.view", on="firm")
@reads_replica
def firm_dashboard(firm):
    return _render_dashboard(firm.consortium, firm)


# --- the people behind a figure --------------------------------------------------------------


def _metric() -> str:
    metric = request.args.get("metric", "")
    if metric not in figures.METRICS:
        abort(404)
    return metric


def _people(consortium, firm=None):
    metric = _metric()
    f, s, choices = _dashboard(consortium, firm)
    if request.args.get("format"):
        params = {"consortium": consortium.id, "metric": metric, "args": f.args()}
        if firm is not None:
            params["firm"] = firm.id
        return export_response(
            "reports.people", actor=current_user, params=params, fmt=request.args["format"]
        )
    page = paginate_rows(figures.people_query(s, metric))
    return render_template(
        "reports/people.html",
        consortium=consortium,
        firm=firm,
        filters=f,
        metric=metric,
        label=figures.METRIC_LABELS[metric],
        definition=figures.definitions(s).get(metric),
        as_of=figures.as_of_text(s),
        per_person=metric in figures.PEOPLE_METRICS,
        page=page,
        courses=choices.courses,
        mask_mobile=mask_mobile,
        dashboard="reports.firm_dashboard" if firm else "reports.consortium_dashboard",
        route_args={"firm_id": firm.id} if firm else {"consortium_id": consortium.id},
    )


@bp.get("/consortia/<int:consortium_id>/reports/people")
@needs("report.view", on="consortium")
@reads_replica
def consortium_people(consortium):
    return _people(consortium)


@bp.get("/firms/<int:firm_id>/reports/people")
@needs("report.view", on="firm")
@reads_replica
def firm_people(firm):
    return _people(firm.consortium, firm)


def _people_rows(query, metric: str, courses: dict):
    statuses = {k: str(v) for k, v in STATUS_LABELS.items()}  # translated once, not per row
    for r in db.session.execute(query.execution_options(yield_per=2000)):
        base = [r.name, mask_mobile(r.mobile), r.firm or ""]
        if metric in ("workers", "raised"):
            yield base
        elif metric == "active":
            yield [*base, r.last_active_at]
        elif metric == "certificates":
            yield [
                *base,
                courses.get(r.course_id, {}).get("title", ""),
                r.serial,
                r.issued_at,
                r.expires_on,
                r.revoked_at,
            ]
        elif metric == "hours":
            yield [*base, courses.get(r.course_id, {}).get("title", ""), r.hours, r.credited_on]
        else:
            yield [
                *base,
                courses.get(r.course_id, {}).get("title", ""),
                r.enrolled_at,
                r.completed_at,
                r.due_on,
                statuses.get(r.status, r.status),
                r.last_active_at,
            ]


def _people_header(metric: str) -> list[str]:
    if metric in figures.PEOPLE_METRICS:
        base = [pgettext("person", "Name"), _l("Mobile"), _l("Firms")]
    else:
        base = [pgettext("person", "Name"), _l("Mobile"), _l("Firm")]
    if metric in ("workers", "raised"):
        extra = []
    elif metric == "active":
        extra = [_l("Last active")]
    elif metric == "certificates":
        extra = [
            _l("Course"),
            _l("Certificate no."),
            _l("Issued"),
            _l("Valid until"),
            _l("Revoked on"),
        ]
    elif metric == "hours":
        extra = [_l("Course"), _l("Hours"), _l("Credited on")]
    else:
        extra = [
            _l("Course"),
            _l("Enrolled"),
            _l("Completed"),
            _l("Due"),
            _l("Status"),
            _l("Last active"),
        ]
    return [str(h) for h in [*base, *extra]]


@register_export("reports.people")
def people_export(actor: User, params: dict) -> ExportTable:
    """The people behind a dashboard figure (may be large: then a background job)."""
    from werkzeug.datastructures import MultiDict

    from lms.permissions import has_permission

    scope = Scope(actor)
    consortium = scope.get_consortium(params["consortium"])
    target = consortium
    firm = None
    if params.get("firm") is not None:
        firm = scope.get_firm(params["firm"])
        target = firm
    if not has_permission(actor, "report.view", target):
        abort(404)
    metric = params["metric"]
    if metric not in figures.METRICS:
        abort(404)
    f = figures.parse_filters(
        MultiDict(params.get("args") or {}),
        consortium_id=consortium.id,
        firm_id=firm.id if firm else None,
    )
    s = figures.make_slice(consortium.id, f)
    query = figures.people_query(s, metric)
    count = db.session.scalar(select(db.func.count()).select_from(query.order_by(None).subquery()))
    return ExportTable(
        filename=f"report-{consortium.code}-{metric}",
        header=_people_header(metric),
        rows=_people_rows(query, metric, figures.course_info(consortium.id)),
        count=count,
        title=str(figures.METRIC_LABELS[metric]),
    )
