"""The training-hours exports "for a training-subsidy claim": one row per credit.

Registered with lms/jobs/exports.py, so a big export runs as a background job; a source runs
again there without a request, so it loads the firm or consortium and checks the permission
itself, from the plain params.
"""

from __future__ import annotations

from flask import abort
from flask_babel import gettext as _
from flask_babel import pgettext

from lms.core.codes import mask_mobile
from lms.extensions import db
from lms.jobs.exports import ExportTable, register_export
from lms.permissions import has_permission
from lms.tenancy.models import Consortium, Firm
from lms.transcripts import service
from lms.transcripts.service import Period


def _header(with_firm: bool) -> list[str]:
    return [
        pgettext("person", "Name"),
        _("Mobile"),
        _("Employee no."),
        *([_("Firm")] if with_firm else []),
        _("Course or session"),
        _("Type"),
        _("Hours"),
        _("Completed on"),
        _("Certificate no."),
    ]


def _rows(query, with_firm: bool):
    kinds = {"course": _("Course"), "session": _("In-person session")}
    for r in db.session.execute(query.execution_options(yield_per=1000)):
        yield [
            r.name,
            mask_mobile(r.mobile),
            r.employee_no or "",
            *([r.firm or ""] if with_firm else []),
            r.title or "",
            kinds.get(r.source, r.source),
            r.hours,
            r.credited_on,
            r.serial or "",
        ]


def _table(within, period: Period, *, firm_id: int | None, name: str) -> ExportTable:
    with_firm = isinstance(within, Consortium)
    totals = service.hours_totals(within, period, firm_id=firm_id)
    return ExportTable(
        filename=f"training-hours-{name}-{period.start.isoformat()}-{period.end.isoformat()}",
        header=_header(with_firm),
        rows=_rows(service.credit_rows(within, period, firm_id=firm_id), with_firm),
        count=totals.credits,
        title=_("Training hours"),
    )


@register_export("firm.hours")
def firm_hours_export(actor, params) -> ExportTable:
    """params: firm (id), from, to (ISO dates)."""
    firm = db.session.get(Firm, int(params["firm"]))
    if firm is None or not has_permission(actor, "report.view", firm):
        abort(404)
    return _table(firm, Period.from_params(params), firm_id=None, name=str(firm.id))


@register_export("consortium.hours")
def consortium_hours_export(actor, params) -> ExportTable:
    """params: consortium (id), firm (id or None), from, to (ISO dates)."""
    consortium = db.session.get(Consortium, int(params["consortium"]))
    if consortium is None or not has_permission(actor, "report.view", consortium):
        abort(404)
    firm_id = params.get("firm")
    name = consortium.code if firm_id is None else f"{consortium.code}-{firm_id}"
    return _table(consortium, Period.from_params(params), firm_id=firm_id, name=name)
