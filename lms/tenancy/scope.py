"""The one scoping layer: every by-id read of tenant-owned rows goes through here.

A row outside the caller's scope answers 404, never 403, so ids can't be probed.
"""

from __future__ import annotations

from datetime import date
from functools import cached_property

from flask import abort, g
from flask_login import current_user
from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import selectinload

from lms.auth.models import User
from lms.extensions import db
from lms.tenancy.models import Consortium, Firm, Invitation, Membership


class Scope:
    """What the current user may see, derived from their current memberships."""

    def __init__(self, user):
        self.user = user

    @cached_property
    def memberships(self) -> list[Membership]:
        if not self.user or not self.user.is_authenticated:
            return []
        return [m for m in self.user.memberships if m.is_current() and m.consortium.is_active]

    @cached_property
    def consortium_ids(self) -> set[int]:
        return {m.consortium_id for m in self.memberships}

    @property
    def is_platform_admin(self) -> bool:
        return bool(self.user and self.user.is_authenticated and self.user.is_platform_admin)

    def get(self, model, *, within=None, own_only: bool = False, options=(), **key):
        """The row of the tenant-owned `model` with `key` (column=value) that lies inside the
        caller's reach, else the same 404 as for a row that does not exist.

        How a row belongs to a tenant is the model's own declaration (lms.core.tenancy). Without
        `within`, rows of the caller's consortia; with an already scoped firm or consortium,
        only its rows; with an already scoped parent row (a version for its lessons), only that
        parent's. `own_only` keeps only the place's own rows (what it may edit).
        """
        firm_id = parent_id = user_id = None
        if within is None:
            consortium_ids = self.consortium_ids
            user_id = self.user.id if self.user and self.user.is_authenticated else None
        elif isinstance(within, Firm):
            consortium_ids, firm_id = {within.consortium_id}, within.id
        elif isinstance(within, Consortium):
            consortium_ids = {within.id}
        else:
            consortium_ids, parent_id = (), within.id
        condition = model.tenant_clause(
            consortium_ids=consortium_ids,
            firm_id=firm_id,
            parent_id=parent_id,
            own_only=own_only,
            user_id=user_id,
        )
        query = select(model).filter_by(**key).where(condition).options(*options)
        row = db.session.scalars(query.order_by(*model.__mapper__.primary_key)).first()
        if row is None:
            abort(404)
        return row

    def get_consortium(self, consortium_id: int) -> Consortium:
        """A consortium the user belongs to (platform admins see all), else 404."""
        consortium = db.session.get(Consortium, consortium_id)
        if consortium is None:
            abort(404)
        if consortium.id in self.consortium_ids or self.is_platform_admin:
            return consortium
        abort(404)

    def get_firm(self, firm_id: int) -> Firm:
        """A firm of one of the user's consortia, else 404."""
        firm = db.session.get(Firm, firm_id)
        if firm is None or firm.consortium_id not in self.consortium_ids:
            abort(404)
        return firm

    def get_person(
        self, public_id: str, *, within: Firm | Consortium, former: bool = False
    ) -> User:
        """A user holding a current membership in `within` (already scoped), else 404; with
        `former`, also one whose membership there has ended (read-only pages)."""
        cond = people_filter(within, include_former=True) if former else people_filter(within)
        query = select(User).where(User.public_id == public_id, cond)
        user = db.session.scalars(query).first()
        if user is None:
            abort(404)
        return user

    @cached_property
    def home_consortium(self) -> Consortium | None:
        """The consortium whose catalogue the user sees (their first current membership's)."""
        return self.memberships[0].consortium if self.memberships else None


def current_scope() -> Scope:
    if "scope" not in g:
        g.scope = Scope(current_user)
    return g.scope


def current_membership_conditions(today: date | None = None) -> list:
    """SQL conditions of a current membership, the same rule as Membership.is_current: it has
    started and ends_on (the first day no longer a member) is unset or still ahead, so an end
    date in the future counts as current until that day."""
    today = today or date.today()
    return [
        Membership.starts_on <= today,
        or_(Membership.ends_on.is_(None), Membership.ends_on > today),
    ]


def ended_membership_conditions(today: date | None = None) -> list:
    """SQL conditions of a membership that has ended (ends_on today or earlier)."""
    today = today or date.today()
    return [Membership.ends_on.is_not(None), Membership.ends_on <= today]


PEOPLE_STATUSES = ("current", "former")


def people_filter(
    within: Firm | Consortium,
    *,
    firm_id: int | None = None,
    status: str = "current",
    include_former: bool = False,
):
    """SQL condition: the user has a current membership in the firm or consortium
    (narrowed to one firm of the consortium with `firm_id`). With status "former": had one
    that has ended and holds none there now; with `include_former`: either."""
    if status == "former":
        return and_(
            _membership_in(within, firm_id, ended_membership_conditions()),
            ~_membership_in(within, firm_id, current_membership_conditions()),
        )
    if include_former:
        return _membership_in(within, firm_id, [Membership.starts_on <= date.today()])
    return _membership_in(within, firm_id, current_membership_conditions())


def _membership_in(within: Firm | Consortium, firm_id: int | None, conditions: list):
    cond = [Membership.user_id == User.id, *conditions]
    if isinstance(within, Firm):
        cond.append(Membership.firm_id == within.id)
    else:
        cond.append(Membership.consortium_id == within.id)
        if firm_id is not None:
            cond.append(Membership.firm_id == firm_id)
    return exists().where(*cond)


def list_people(
    within: Firm | Consortium,
    *,
    search: str = "",
    firm_id: int | None = None,
    status: str = "current",
) -> Select:
    """People with a current membership in `within` (status "former": whose membership there
    has ended), optionally narrowed, ordered by name."""
    query = select(User).where(people_filter(within, firm_id=firm_id, status=status))
    if search := search.strip():
        like = f"%{search}%"
        query = query.where(
            or_(User.name.ilike(like), User.email.ilike(like), User.mobile.like(like))
        )
    # The list shows each person's roles: load memberships (and firms) for the page at once.
    query = query.options(selectinload(User.memberships).joinedload(Membership.firm))
    return query.order_by(User.name, User.id)


def last_ended_membership(
    user: User, within: Firm | Consortium, *, firm_id: int | None = None
) -> Membership | None:
    """The person's most recently ended membership in `within` (a former member's row)."""
    today = date.today()
    ended = [
        m
        for m in user.memberships
        if m.ends_on is not None
        and m.ends_on <= today
        and (
            m.firm_id == within.id
            if isinstance(within, Firm)
            else m.consortium_id == within.id and (firm_id is None or m.firm_id == firm_id)
        )
    ]
    return max(ended, key=lambda m: (m.ends_on, m.id), default=None)


def membership_history(user: User, *, consortium_id: int | None = None) -> list[Membership]:
    """A person's memberships, newest first (only one consortium's with `consortium_id`)."""
    rows = [
        m for m in user.memberships if consortium_id is None or m.consortium_id == consortium_id
    ]
    return sorted(rows, key=lambda m: (m.starts_on, m.id), reverse=True)


def count_unactivated(firm: Firm) -> int:
    """Current members of `firm` who have never set a password (imported, not yet invited)."""
    query = list_people(firm).where(User.password_hash.is_(None)).order_by(None)
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


def list_pending_invitations(firm: Firm) -> Select:
    """Invitations to `firm` not yet accepted or withdrawn (expired ones too), newest first."""
    return (
        select(Invitation)
        .where(
            Invitation.firm_id == firm.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .order_by(Invitation.created_at.desc())
    )


def list_consortia() -> Select:
    """Every consortium of the instance (for platform admins)."""
    return select(Consortium).order_by(Consortium.name)


def list_firms(consortium: Consortium, *, include_inactive: bool = True) -> Select:
    query = select(Firm).where(Firm.consortium_id == consortium.id)
    if not include_inactive:
        query = query.where(Firm.is_active.is_(True))
    return query.order_by(Firm.is_active.desc(), Firm.name)
