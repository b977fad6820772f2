"""Consortia, firms and people: the only place that changes their rows."""

from __future__ import annotations

from datetime import date

from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from lms.audit.service import record_action
from lms.auth.models import User
from lms.auth.service import revoke_user_sessions
from lms.core.codes import normalize_uscc
from lms.core.types import utcnow
from lms.extensions import db
from lms.tenancy.models import (
    CONSORTIUM_ROLES,
    END_REASONS,
    FIRM_KINDS,
    REGIONS,
    SECTORS,
    Consortium,
    Firm,
    Membership,
)


class TenancyError(ValueError):
    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field


class MembershipAlreadyEnded(TenancyError):
    """The person has no current membership left to end (ended earlier, or a second submit)."""


def _check_consortium_fields(name: str, city: str, region: str, sectors: list[str], code: str):
    if not name.strip():
        raise TenancyError(_l("Enter the consortium's name."), field="name")
    if not city.strip():
        raise TenancyError(_l("Enter the city."), field="city")
    if region not in REGIONS:
        raise TenancyError(_l("Choose a region."), field="region")
    if not 1 <= len(sectors) <= 3 or any(s not in SECTORS for s in sectors):
        raise TenancyError(_l("Choose one to three focus sectors."), field="sectors")
    if not (2 <= len(code) <= 8 and code.isalnum() and code.isascii()):
        raise TenancyError(_l("The code is 2–8 letters or digits."), field="code")


def create_consortium(actor: User, *, name, city, region, sectors, code) -> Consortium:
    code = code.strip().upper()
    _check_consortium_fields(name, city, region, sectors, code)
    if db.session.scalars(select(Consortium).where(Consortium.code == code)).first():
        raise TenancyError(_l("Another consortium already uses this code."), field="code")
    consortium = Consortium(
        name=name.strip(), city=city.strip(), region=region, sectors=list(sectors), code=code
    )
    db.session.add(consortium)
    db.session.flush()
    record_action(actor, "consortium.create", consortium, consortium_id=consortium.id)
    return consortium


def update_consortium(actor: User, consortium: Consortium, *, name, city, region, sectors) -> None:
    _check_consortium_fields(name, city, region, sectors, consortium.code)
    consortium.name, consortium.city = name.strip(), city.strip()
    consortium.region, consortium.sectors = region, list(sectors)
    record_action(actor, "consortium.update", consortium, consortium_id=consortium.id)
    db.session.flush()


def _check_firm_fields(name: str, kind: str) -> None:
    if not name.strip():
        raise TenancyError(_l("Enter the firm's name."), field="name")
    if kind not in FIRM_KINDS:
        raise TenancyError(_l("Choose the kind of firm."), field="kind")


def _normalized_credit_code(raw: str, *, ignore: Firm | None = None) -> str:
    try:
        code = normalize_uscc(raw)
    except ValueError as exc:
        raise TenancyError(exc.args[0], field="credit_code") from exc
    taken = db.session.scalars(select(Firm).where(Firm.credit_code == code)).first()
    if taken is not None and taken is not ignore:
        raise TenancyError(
            _l("A firm with this credit code is already registered."), field="credit_code"
        )
    return code


def create_firm(actor: User, consortium: Consortium, *, name, kind, credit_code) -> Firm:
    _check_firm_fields(name, kind)
    code = _normalized_credit_code(credit_code)
    firm = Firm(consortium=consortium, name=name.strip(), kind=kind, credit_code=code)
    db.session.add(firm)
    db.session.flush()
    record_action(actor, "firm.create", firm, consortium_id=consortium.id)
    return firm


def update_firm(actor: User, firm: Firm, *, name, kind, credit_code) -> None:
    _check_firm_fields(name, kind)
    firm.credit_code = _normalized_credit_code(credit_code, ignore=firm)
    firm.name, firm.kind = name.strip(), kind
    record_action(actor, "firm.update", firm, consortium_id=firm.consortium_id)
    db.session.flush()


def set_firm_active(actor: User, firm: Firm, *, active: bool) -> None:
    """Deactivate (or reactivate) a member firm; its people lose the firm's roles meanwhile."""
    if firm.is_active == active:
        return
    firm.is_active = active
    record_action(
        actor,
        "firm.activate" if active else "firm.deactivate",
        firm,
        consortium_id=firm.consortium_id,
    )
    db.session.flush()


def add_membership(
    actor: User,
    user: User,
    *,
    consortium: Consortium,
    firm: Firm | None,
    role: str,
    job_role_id: str | None = None,
    employee_no: str | None = None,
    audit: bool = True,
) -> Membership:
    """Give `user` a role in a firm (or consortium); an existing current one is reused."""
    if firm is None and role not in CONSORTIUM_ROLES:
        raise TenancyError(_l("This role belongs to a firm."), field="role")
    if job_role_id:
        from lms.taxonomy.service import role_usable

        if not role_usable(job_role_id, consortium.id, firm.id if firm else None):
            raise TenancyError(_l("Choose a job role from the list."), field="job_role")
    for m in user.memberships:
        same_place = m.consortium_id == consortium.id and m.firm_id == (firm.id if firm else None)
        if same_place and m.role == role and m.is_current():
            if job_role_id:
                m.job_role_id = job_role_id
            if employee_no:
                m.employee_no = employee_no
            return m
    membership = Membership(
        user=user,
        consortium_id=consortium.id,
        firm_id=firm.id if firm else None,
        role=role,
        job_role_id=(job_role_id or None),
        employee_no=(employee_no or None),
        starts_on=date.today(),
    )
    db.session.add(membership)
    if not user.is_active_account:
        user.is_active_account = True
    db.session.flush()
    if audit:
        record_action(
            actor,
            "membership.add",
            user,
            consortium_id=consortium.id,
            details={"firm": firm.id if firm else None, "role": role},
        )
    return membership


def deactivate_person(actor: User, user: User, *, firm: Firm) -> None:
    """End the person's roles in `firm`; with no role left anywhere the account is closed
    and every session of it ends at once."""
    if user.id == actor.id:
        raise TenancyError(_l("You cannot deactivate your own account."))
    for m in user.memberships:
        if m.firm_id == firm.id and m.is_current():
            m.ends_on = date.today()  # current means ends_on > today
            m.ended_by_id, m.ended_at = actor.id, utcnow()
    db.session.flush()
    if not any(m.is_current() for m in user.memberships) and not user.is_platform_admin:
        user.is_active_account = False
        revoke_user_sessions(user)
    record_action(
        actor,
        "person.deactivate",
        user,
        consortium_id=firm.consortium_id,
        details={"firm": firm.id},
    )
    db.session.flush()


NOTE_MAX = 200


def check_end_membership(
    actor: User,
    user: User,
    *,
    firm: Firm,
    reason: str,
    ends_on: date | None,
    note: str = "",
    today: date | None = None,
) -> list[Membership]:
    """The person's current memberships of `firm` that ending them would end, or the
    TenancyError (naming the field) that says why they can't be ended so."""
    today = today or date.today()
    ends_on = ends_on or today
    note = (note or "").strip()
    if user.id == actor.id:
        raise TenancyError(_l("You cannot end your own membership."))
    current = [m for m in user.memberships if m.firm_id == firm.id and m.is_current(today)]
    if not current:
        raise MembershipAlreadyEnded(already_ended_message(user, firm))
    if reason not in END_REASONS:
        raise TenancyError(_l("Reason: choose why the membership ends."), field="reason")
    if reason == "other" and not note:
        raise TenancyError(_l("Details: say in a few words why the membership ends."), field="note")
    if len(note) > NOTE_MAX:
        raise TenancyError(_l("Details: at most %(max)d characters.", max=NOTE_MAX), field="note")
    if ends_on > today:
        raise TenancyError(
            _l("End date: choose today or an earlier date; a future date is not possible."),
            field="ends_on",
        )
    joined = min(m.starts_on for m in current)
    if ends_on < joined:
        raise TenancyError(
            _l(
                "End date: they joined on %(date)s; choose that day or later.",
                date=format_date(joined, "medium"),
            ),
            field="ends_on",
        )
    return current


def end_membership(
    actor: User,
    user: User,
    *,
    firm: Firm,
    reason: str,
    ends_on: date | None = None,
    note: str = "",
    close_account: bool = False,
    today: date | None = None,
) -> list[Membership]:
    """End the person's current roles in `firm` on `ends_on` (today or earlier, not before
    they joined), with a reason. The person keeps their account and their own records
    (enrolments, certificates, hours, skills); with `close_account` and no current role left
    anywhere, the account is also closed and signed out everywhere. Of two submits, one ends
    the membership and the other raises MembershipAlreadyEnded."""
    today = today or date.today()
    ends_on = ends_on or today
    note = (note or "").strip()
    current = check_end_membership(
        actor, user, firm=firm, reason=reason, ends_on=ends_on, note=note, today=today
    )
    # One statement decides: a second submit (or a second tab) finds nothing current left.
    ended = db.session.execute(
        update(Membership)
        .where(
            Membership.id.in_([m.id for m in current]),
            or_(Membership.ends_on.is_(None), Membership.ends_on > today),
        )
        .values(
            ends_on=ends_on,
            ended_reason=reason,
            ended_note=note or None,
            ended_by_id=actor.id,
            ended_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    for m in current:
        db.session.refresh(m)
    if ended == 0:
        raise MembershipAlreadyEnded(already_ended_message(user, firm))
    closed = (
        close_account
        and not user.is_platform_admin
        and not any(m.is_current(today) for m in user.memberships)
    )
    if closed:
        user.is_active_account = False
        revoke_user_sessions(user)
    # Ids and codes only: the free-text note may name people, so it stays on the row.
    record_action(
        actor,
        "membership.end",
        user,
        consortium_id=firm.consortium_id,
        details={
            "firm": firm.id,
            "memberships": sorted(m.id for m in current),
            "reason": reason,
            "ends_on": ends_on.isoformat(),
            "account_closed": closed,
        },
    )
    db.session.flush()
    return current


def already_ended_message(user: User, firm: Firm):
    ended = [m.ends_on for m in user.memberships if m.firm_id == firm.id and m.ends_on]
    if ended:
        return _l(
            "%(name)s is no longer a member of %(firm)s: the membership ended on %(date)s.",
            name=user.name,
            firm=firm.name,
            date=format_date(max(ended), "medium"),
        )
    return _l("%(name)s is not a current member of %(firm)s.", name=user.name, firm=firm.name)
