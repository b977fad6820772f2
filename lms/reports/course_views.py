"""Trainer analytics of one course, in the browser and as CSV/XLSX tables.

Who may look is decided as on the course's learners page: trainers of the authoring firm and
the consortium's admins (anyone else gets the same 404 as for a course that does not exist).
Only consortium admins narrow the figures to one firm.
"""

from __future__ import annotations

import unicodedata
from datetime import date

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import format_decimal, format_percent
from flask_babel import gettext as _
from flask_login import current_user

from lms.core.access import signed_in
from lms.core.params import page_arg
from lms.core.replica import reads_replica
from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.question_types import QUESTION_TYPES
from lms.extensions import db
from lms.jobs.exports import table_response
from lms.learning.admin_views import course_for_trainer
from lms.permissions import has_permission
from lms.reports import course_analytics as analytics
from lms.tenancy.scope import list_firms

bp = Blueprint("course_reports", __name__)

FILTER_ARGS = ("version", "enrolled_from", "enrolled_to", "firm")


@bp.get("/courses/<slug>/analytics")
@signed_in
@reads_replica
def course_analytics(slug: str):
    """Enrolments, the lesson funnel, time, quiz items and pending sign-offs of one course;
    ?format=csv|xlsx&table=summary|funnel|items|signoffs downloads one table, filters applied."""
    course = course_for_trainer(slug)
    can_filter_firm = has_permission(current_user, "report.view", course.consortium)
    firms = db.session.scalars(list_firms(course.consortium)).all() if can_filter_firm else []
    filters, errors = _parse_filters(course, firms)
    fmt = request.args.get("format")
    if fmt:
        table = request.args.get("table", "summary")
        if table not in analytics.EXPORT_TABLES:
            abort(404)
        return table_response(fmt, analytics.export_table(table, course, filters))
    funnel = analytics.lesson_funnel(course, filters)
    quizzes = analytics.quiz_item_stats(course, filters)
    page = db.paginate(
        analytics.pending_signoffs(course, filters),
        page=page_arg(),
        per_page=current_app.config["LMS_PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "reports/course_analytics.html",
        course=course,
        title=analytics.course_title(course),
        versions=analytics.report_versions(course),
        firms=firms,
        filters=filters,
        values={name: request.args.get(name, "") for name in FILTER_ARGS},
        filter_args={k: v for k in FILTER_ARGS if (v := request.args.get(k, "").strip())},
        errors=errors,
        summary=analytics.enrollment_summary(course, filters),
        funnel=funnel,
        funnel_spec=_funnel_spec(funnel),
        quizzes=quizzes,
        item_specs={q.lesson.id: _items_spec(q) for q in quizzes if q.learners},
        page=page,
        tasks=analytics.pending_tasks(course, filters, page.items),
        flag_labels=analytics.FLAG_LABELS,
        lesson_types=LESSON_TYPES,
        question_types=QUESTION_TYPES,
        answer_text=analytics.answer_text,
        percent=_percent,
        decimal=_decimal,
        duration=_duration,
    )


def _parse_filters(course, firms) -> tuple[analytics.CourseFilters, dict[str, str]]:
    """The page's filters from the query string; a bad value is left out and explained."""
    args, errors = request.args, {}
    version = None
    if raw := args.get("version", "").strip():
        version = next(
            (v for v in analytics.report_versions(course) if str(v.version) == raw), None
        )
        if version is None:
            errors["version"] = _("Version: choose one from the list.")
    dates = {}
    for name, label in (("enrolled_from", _("Enrolled from")), ("enrolled_to", _("Enrolled to"))):
        if raw := args.get(name, "").strip():
            try:
                dates[name] = date.fromisoformat(raw)
            except ValueError:
                errors[name] = _("%(field)s: enter a date like 2026-11-28.", field=label)
    start, end = dates.get("enrolled_from"), dates.get("enrolled_to")
    if start and end and end < start:
        errors["enrolled_to"] = _("Enrolled to: the date is before “Enrolled from”.")
        end = None
    firm = None
    if (raw := args.get("firm", "").strip()) and firms:
        firm = next((f for f in firms if str(f.id) == raw), None)
        if firm is None:
            errors["firm"] = _("Firm: choose one from the list.")
    return analytics.CourseFilters(version, start, end, firm), errors


# --- charts (bar specs for templates/_charts.html) ---------------------------------------------


def _share_spec(title: str, categories: list[str], series: list[tuple[str, list]]) -> dict:
    """Shares as a 0–100 % bar chart; the tables beside the charts have the exact figures."""
    return {
        "type": "bar",
        "title": title,
        "categories": categories,
        "series": [
            {"name": name, "data": [round((v or 0) * 100, 1) for v in data]}
            for name, data in series
        ],
        "percent": True,
    }


def _short(text: str, width: int = 14) -> str:
    """`text` cut to about `width` Latin letters (a Chinese character counts two), so bar labels
    stay on one or two lines on a phone; the table has the whole title."""
    used = 0
    for i, ch in enumerate(text):
        used += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used > width:
            return text[:i].rstrip() + "…"
    return text


def _funnel_spec(funnel) -> dict | None:
    if not funnel.enrolled or not funnel.steps:
        return None
    return _share_spec(
        _("Share of enrolments that reached and completed each lesson"),
        [f"{n}. {_short(s.lesson.title)}" for n, s in enumerate(funnel.steps, 1)],
        [
            (_("Reached"), [funnel.share(s.reached) for s in funnel.steps]),
            (_("Completed"), [funnel.share(s.completed) for s in funnel.steps]),
        ],
    )


def _items_spec(quiz) -> dict:
    return _share_spec(
        _("Share correct per question: %(quiz)s", quiz=quiz.lesson.title),
        [_("Q%(n)d", n=item.number) for item in quiz.items],
        [(_("Share correct"), [item.share_correct for item in quiz.items])],
    )


# --- number formats ----------------------------------------------------------------------------


def _percent(share: float | None) -> str:
    return "—" if share is None else format_percent(share)


def _decimal(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else format_decimal(round(value, digits))


def _duration(seconds: float | None) -> str:
    """A span in days (a day or more), hours or minutes, one decimal."""
    if seconds is None:
        return "—"
    if seconds >= 86400:
        return _("%(n)s days", n=format_decimal(round(seconds / 86400, 1)))
    if seconds >= 3600:
        return _("%(n)s hours", n=format_decimal(round(seconds / 3600, 1)))
    return _("%(n)s minutes", n=format_decimal(round(seconds / 60, 1)))
