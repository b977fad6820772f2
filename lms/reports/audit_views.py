"""The audit log of one consortium, read by its auditors and consortium admins: who did what
to which record, when and from where — filtered by date, actor and action, and exported.

The page lives in `reports` (above every domain) because it names the targets of the records —
courses, people, firms, imports, certificates — by looking them up in bulk (audit_targets).
The blueprint keeps its name: the endpoint is `audit.audit_log`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import and_, func, or_, select

from lms.audit.labels import action_choices, action_label, codes_for
from lms.audit.models import AuditRecord
from lms.audit.service import list_audit_records, record_action
from lms.auth.models import User
from lms.core.params import page_arg
from lms.extensions import db
from lms.jobs.exports import ExportTable, export_response, register_export
from lms.permissions import has_permission, needs
from lms.reports.audit_targets import Lookup, resolve_targets, target_of
from lms.tenancy.scope import Scope

bp = Blueprint("audit", __name__)

FILTER_ARGS = ("from", "to", "actor", "action")
ACTOR_MAX = 80
EXPORT_CHUNK = 1000
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class AuditFilters:
    """The log's filters: local days (both inclusive), a part of the actor's name, and an
    action code or area (`area:people`)."""

    day_from: date | None = None
    day_to: date | None = None
    actor: str = ""
    action: str = ""

    def query_args(self) -> dict[str, str]:
        """The filters as query-string values (for links and the export job)."""
        values = {
            "from": self.day_from.isoformat() if self.day_from else "",
            "to": self.day_to.isoformat() if self.day_to else "",
            "actor": self.actor,
            "action": self.action,
        }
        return {k: v for k, v in values.items() if v}

    def records(self, consortium_id: int):
        """The SELECT of the consortium's records these filters keep, newest first."""
        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        actor_ids = None
        if self.actor:
            escaped = re.sub(r"([\\%_])", r"\\\1", self.actor)
            actor_ids = select(User.id).where(User.name.ilike(f"%{escaped}%", escape="\\"))
        return list_audit_records(
            consortium_id,
            actions=codes_for(self.action) if self.action else None,
            since=_start_of(self.day_from, zone),
            until=_start_of(self.day_to, zone, days=1),
            actor_ids=actor_ids,
        )


def _start_of(day: date | None, zone: ZoneInfo, *, days: int = 0) -> datetime | None:
    """The UTC moment a local day (plus `days`) begins; None when out of range (no bound)."""
    if day is None:
        return None
    try:
        return datetime.combine(day + timedelta(days=days), time.min, tzinfo=zone).astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def parse_filters(args: Mapping[str, str]) -> tuple[AuditFilters, dict[str, str]]:
    """The filters from a query string; a bad value is left out and explained by field."""
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {"from": None, "to": None}
    for name, label in (("from", _("From")), ("to", _("To"))):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        try:
            if not _DAY.match(raw):
                raise ValueError(raw)
            days[name] = date.fromisoformat(raw)
        except ValueError:
            errors[name] = _("%(field)s: enter a date like 2026-11-28.", field=label)
    if days["from"] and days["to"] and days["to"] < days["from"]:
        errors["to"] = _("To: the date is before “From”.")
        days["to"] = None
    actor = (args.get("actor") or "").strip()
    if len(actor) > ACTOR_MAX:
        errors["actor"] = _("Actor: enter at most %(n)d characters of a name.", n=ACTOR_MAX)
        actor = ""
    action = (args.get("action") or "").strip()
    if action and codes_for(action) is None:
        errors["action"] = _("Action: choose one from the list.")
        action = ""
    return AuditFilters(days["from"], days["to"], actor, action), errors


@bp.get("/consortia/<int:consortium_id>/audit")
@needs("audit.view", on="consortium")
def audit_log(consortium):
    """The log, newest first; ?format=csv|xlsx downloads the filtered log (audited)."""
    filters, errors = parse_filters(request.args)
    fmt = request.args.get("format")
    if fmt and not errors:
        response = export_response(
            "audit.log",
            actor=current_user,
            params={"consortium": consortium.id, "filters": filters.query_args()},
            fmt=fmt,
        )
        record_action(
            current_user,
            "audit.export",
            consortium,
            consortium_id=consortium.id,
            # Filter names and codes only: the actor filter is part of a name.
            details={
                "format": fmt,
                "from": filters.query_args().get("from"),
                "to": filters.query_args().get("to"),
                "action": filters.action or None,
                "actor_filter": bool(filters.actor),
            },
        )
        db.session.commit()
        return response
    page = db.paginate(
        filters.records(consortium.id),
        page=page_arg(),
        per_page=current_app.config["LMS_PAGE_SIZE"] * 2,
        error_out=False,
    )
    targets = resolve_targets(Lookup(consortium, current_user), page.items)
    return render_template(
        "audit/log.html",
        consortium=consortium,
        page=page,
        rows=[(r, action_label(r.action), target_of(targets, r)) for r in page.items],
        values={name: (request.args.get(name) or "").strip() for name in FILTER_ARGS},
        filter_args=filters.query_args(),
        errors=errors,
        action_groups=action_choices(),
    )


# --- the export ------------------------------------------------------------------------------


def _header() -> list[str]:
    return [
        _("Time"),
        _("Actor"),
        _("Action"),
        _("Action code"),
        _("Target type"),
        _("Target"),
        _("Target ID"),
        _("IP address"),
    ]


def _rows(consortium, filters: AuditFilters) -> Iterator[list]:
    """Every record the filters keep, newest first, in chunks (one lookup per type a chunk)."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    lookup = Lookup(consortium, None, links=False)
    system = _("System")
    base = filters.records(consortium.id)
    last = None
    while True:
        query = base
        if last is not None:
            query = query.where(
                or_(
                    AuditRecord.created_at < last.created_at,
                    and_(AuditRecord.created_at == last.created_at, AuditRecord.id < last.id),
                )
            )
        chunk = db.session.scalars(query.limit(EXPORT_CHUNK)).unique().all()
        if not chunk:
            return
        targets = resolve_targets(lookup, chunk)
        for r in chunk:
            target = target_of(targets, r)
            yield [
                r.created_at.astimezone(zone).replace(microsecond=0).isoformat(sep=" "),
                r.actor.name if r.actor else system,
                action_label(r.action),
                r.action,
                target.type_label,
                target.name,
                r.target_id or "",
                r.ip or "",
            ]
        if len(chunk) < EXPORT_CHUNK:
            return
        last = chunk[-1]


@register_export("audit.log")
def audit_export(actor, params: dict) -> ExportTable:
    """The filtered audit log of a consortium (may be large: then a background job)."""
    consortium = Scope(actor).get_consortium(params["consortium"])
    if not has_permission(actor, "audit.view", consortium):
        abort(404)
    filters, _errors = parse_filters(params.get("filters") or {})
    query = filters.records(consortium.id)
    count = db.session.scalar(
        select(func.count()).select_from(AuditRecord).where(query.whereclause)
    )
    return ExportTable(
        filename=f"audit-{consortium.code}",
        header=_header(),
        rows=_rows(consortium, filters),
        count=count,
        title=_("Audit log"),
    )
