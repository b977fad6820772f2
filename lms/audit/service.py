"""Write audit records; every admin and personal-data action calls record_action."""

from collections.abc import Sequence
from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from lms.audit.models import AuditRecord
from lms.extensions import db


def record_action(
    actor, action: str, target, *, consortium_id: int | None = None, details: dict | None = None
) -> AuditRecord:
    """Add one audit record (actor, action, target, consortium, IP, time) to the session.

    `details` must hold ids and codes only, never personal data.
    """
    target_type = type(target).__name__ if target is not None else "-"
    target_id = None
    if target is not None:
        target_id = str(getattr(target, "public_id", None) or getattr(target, "id", ""))
    rec = AuditRecord(
        actor_id=getattr(actor, "id", None),
        action=action,
        target_type=target_type,
        target_id=target_id,
        consortium_id=consortium_id,
        ip=request.remote_addr if has_request_context() else None,
        details=details or {},
    )
    db.session.add(rec)
    return rec


def list_audit_records(
    consortium_id: int,
    *,
    actions: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    actor_ids: Select | None = None,
) -> Select:
    """The consortium's audit records, newest first, with their actors loaded.

    `actions`: only these codes; `since`/`until`: recorded at or after `since` and before
    `until` (UTC moments); `actor_ids`: a SELECT of user ids whose actions to keep.
    """
    query = select(AuditRecord).where(AuditRecord.consortium_id == consortium_id)
    if actions is not None:
        query = query.where(AuditRecord.action.in_(list(actions)))
    if since is not None:
        query = query.where(AuditRecord.created_at >= since)
    if until is not None:
        query = query.where(AuditRecord.created_at < until)
    if actor_ids is not None:
        query = query.where(AuditRecord.actor_id.in_(actor_ids))
    return query.options(joinedload(AuditRecord.actor)).order_by(
        AuditRecord.created_at.desc(), AuditRecord.id.desc()
    )
