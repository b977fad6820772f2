"""Transcripts (a worker's own, and a worker's through their firm) with PDFs, and the
training-hours pages of a firm and of a consortium, with their exports."""

from __future__ import annotations

import io

from flask import Blueprint, render_template, request, send_file
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms.core.access import signed_in
from lms.core.pagination import paginate_rows
from lms.core.replica import reads_replica
from lms.extensions import db
from lms.jobs.exports import export_response
from lms.permissions import needs
from lms.tenancy.scope import current_scope, list_firms
from lms.transcripts import (
    exports,  # noqa: F401  (registers the export sources)
    service,
)
from lms.transcripts.forms import ConsortiumPeriodForm, PeriodForm

bp = Blueprint("transcripts", __name__)


def _pdf(data: bytes, person) -> object:
    return send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        download_name=f"transcript-{person.public_id[:8]}-{service.local_today().isoformat()}.pdf",
        as_attachment=True,
    )


def _transcript_page(person, scope: service.TranscriptScope, **context):
    return render_template(
        "transcripts/transcript.html",
        person=person,
        page=paginate_rows(service.transcript_entries(person, scope)),
        sessions=service.session_credits(person, scope),
        totals=service.transcript_totals(person, scope),
        status_label=service.status_label,
        certificate_label=service.certificate_label,
        format_hours=service.format_hours,
        format_score=service.format_score,
        scope=scope,
        **context,
    )


# --- a worker's own -------------------------------------------------------------------------


@bp.get("/transcript")
@signed_in
def my_transcript():
    return _transcript_page(current_user, service.EVERYTHING, firm=None)


@bp.get("/transcript.pdf")
@signed_in
def my_transcript_pdf():
    return _pdf(service.transcript_pdf(current_user), current_user)


# --- a worker's, through their firm (firm and consortium admins) ----------------------------


def _person(firm, public_id: str):
    person = current_scope().get_person(public_id, within=firm)
    return person, service.transcript_scope(current_user, firm)


@bp.get("/firms/<int:firm_id>/people/<public_id>/transcript")
@needs("report.view", on="firm")
def person_transcript(firm, public_id: str):
    person, scope = _person(firm, public_id)
    return _transcript_page(person, scope, firm=firm)


@bp.get("/firms/<int:firm_id>/people/<public_id>/transcript.pdf")
@needs("report.view", on="firm")
def person_transcript_pdf(firm, public_id: str):
    person, scope = _person(firm, public_id)
    return _pdf(service.transcript_pdf(person, scope), person)


# --- training hours ---------------------------------------------------------------------------


@bp.get("/firms/<int:firm_id>/hours")
@needs("report.view", on="firm")
@reads_replica
def firm_hours(firm):
    form = PeriodForm(request.args, default=service.this_year())
    valid = form.validate()
    period = form.period()
    fmt = request.args.get("format")
    if fmt and valid:
        return export_response(
            "firm.hours",
            actor=current_user,
            params={"firm": firm.id, **period.params()},
            fmt=fmt,
        )
    page = paginate_rows(service.hours_by_worker(firm, period))
    return render_template(
        "transcripts/firm_hours.html",
        firm=firm,
        form=form,
        period=period,
        page=page,
        totals=service.hours_totals(firm, period),
        members=service.current_members(firm, (r.user_id for r in page.items)),
        format_hours=service.format_hours,
    )


@bp.get("/consortia/<int:consortium_id>/hours")
@needs("report.view", on="consortium")
@reads_replica
def consortium_hours(consortium):
    firms = db.session.scalars(list_firms(consortium)).all()
    form = ConsortiumPeriodForm(request.args, default=service.this_year())
    form.firm.choices = [("", _l("All firms"))] + [(str(f.id), f.name) for f in firms]
    valid = form.validate()
    firm = next((f for f in firms if str(f.id) == (form.firm.data or "")), None)
    if form.firm.data and firm is None:
        form.firm.errors = [_l("Firm: choose a firm of this consortium.")]
        valid = False
    period = form.period()
    firm_id = firm.id if firm else None
    fmt = request.args.get("format")
    if fmt and valid:
        return export_response(
            "consortium.hours",
            actor=current_user,
            params={"consortium": consortium.id, "firm": firm_id, **period.params()},
            fmt=fmt,
        )
    page = (
        paginate_rows(service.hours_by_worker(consortium, period, firm_id=firm_id))
        if firm
        else None
    )
    return render_template(
        "transcripts/consortium_hours.html",
        consortium=consortium,
        firm=firm,
        form=form,
        period=period,
        by_firm=service.hours_by_firm(consortium, period, firm_id=firm_id),
        totals=service.hours_totals(consortium, period, firm_id=firm_id),
        page=page,
        members=(service.current_members(firm, (r.user_id for r in page.items)) if firm else set()),
        format_hours=service.format_hours,
    )
