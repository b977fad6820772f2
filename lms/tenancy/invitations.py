"""Invitations: how a person joins a firm or a consortium. A new person sets a password through a
single-use link; an existing account is never attached by someone else, its holder accepts the
invitation while signed in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from lms.audit.service import record_action
from lms.auth.models import User
from lms.auth.service import (
    AccountError,
    contact_match,
    normalize_contact,
    set_password,
    token_digest,
)
from lms.core.types import utcnow
from lms.extensions import db
from lms.tenancy.models import Consortium, Firm, Invitation
from lms.tenancy.scope import list_people
from lms.tenancy.service import add_membership


@dataclass
class InvitationOutcome:
    invitation: Invitation | None
    token: str | None
    existing_user: User | None


def invite_person(
    actor: User,
    *,
    consortium: Consortium,
    firm: Firm | None,
    role: str,
    name: str,
    email: str | None,
    mobile: str | None,
    job_role_id: str | None = None,
) -> InvitationOutcome:
    """Invite someone to a role.

    A person who already holds a role at this place (the firm; the consortium for a
    consortium role) gets the new role at once. Anyone else gets an invitation link, whether
    or not they have an account elsewhere, and the answer does not tell which: an existing
    account is never attached by someone else, its holder accepts while signed in
    (accept_invitation_as)."""
    name = (name or "").strip()
    if not name:
        raise AccountError(_l("Enter the person's name."), field="name")
    email, mobile = normalize_contact(email, mobile)
    existing = db.session.scalars(select(User).where(contact_match(User, email, mobile))).first()
    if existing is not None and holds_role_at(existing, consortium, firm):
        add_membership(
            actor, existing, consortium=consortium, firm=firm, role=role, job_role_id=job_role_id
        )
        if existing.password_hash:
            return InvitationOutcome(None, None, existing)
        # Imported but never activated: the invitation lets them set a password.
        email, mobile, name = existing.email, existing.mobile, existing.name
    # A new invitation replaces any pending one for the same person and place.
    now = utcnow()
    db.session.execute(
        update(Invitation)
        .where(
            Invitation.consortium_id == consortium.id,
            Invitation.firm_id == (firm.id if firm else None),
            contact_match(Invitation, email, mobile),
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        token_hash=token_digest(token),
        consortium_id=consortium.id,
        firm_id=firm.id if firm else None,
        role=role,
        name=name,
        email=email,
        mobile=mobile,
        job_role_id=job_role_id or None,
        invited_by_id=actor.id,
        created_at=now,
        expires_at=now + timedelta(days=current_app.config["LMS_INVITATION_DAYS"]),
    )
    db.session.add(invitation)
    db.session.flush()
    record_action(
        actor, "invitation.create", invitation, consortium_id=consortium.id, details={"role": role}
    )
    return InvitationOutcome(invitation, token, None)


def holds_role_at(user: User, consortium: Consortium, firm: Firm | None) -> bool:
    """The person has a current role in `firm` (or, with no firm, anywhere in `consortium`)."""
    return any(
        m.is_current()
        and m.consortium_id == consortium.id
        and (firm is None or m.firm_id == firm.id)
        for m in user.memberships
    )


def is_addressed_to(invitation: Invitation, user: User) -> bool:
    """The invitation names the user's e-mail address or mobile number."""
    return bool(
        (invitation.email and invitation.email == user.email)
        or (invitation.mobile and invitation.mobile == user.mobile)
    )


def invitation_status(invitation: Invitation, now: datetime | None = None) -> str:
    now = now or utcnow()
    if invitation.accepted_at:
        return "accepted"
    if invitation.revoked_at:
        return "revoked"
    if invitation.expires_at <= now:
        return "expired"
    return "pending"


def get_invitation_for_token(token: str) -> Invitation:
    """The pending invitation for a link token; AccountError says why it can't be used."""
    invitation = db.session.scalars(
        select(Invitation).where(Invitation.token_hash == token_digest(token or ""))
    ).first()
    if invitation is None:
        raise AccountError(_l("This invitation link is not valid."))
    status = invitation_status(invitation)
    if status == "accepted":
        raise AccountError(_l("This invitation has already been used. Sign in instead."))
    if status == "revoked":
        raise AccountError(
            _l("This invitation was withdrawn. Ask your administrator for a new one.")
        )
    if status == "expired":
        raise AccountError(_l("This invitation has expired. Ask your administrator for a new one."))
    return invitation


def accept_invitation(token: str, *, password: str, locale: str) -> User:
    """Create the invitee's account with their password; each link works exactly once."""

    invitation = get_invitation_for_token(token)
    user = db.session.scalars(
        select(User).where(contact_match(User, invitation.email, invitation.mobile))
    ).first()
    if user is not None and (
        user.password_hash or not holds_role_at(user, invitation.consortium, invitation.firm)
    ):
        # The link sets the password only of a new account or of one this place imported;
        # an account someone else holds (or may activate) joins only when signed in as itself.
        raise AccountError(
            _l(
                "An account already uses this e-mail address or mobile number. Sign in with "
                "it (or activate it first with the link from its administrator), then open "
                "this invitation link again to accept."
            )
        )
    if user is None:
        user = User(name=invitation.name, email=invitation.email, mobile=invitation.mobile)
    user.locale = locale
    set_password(user, password)
    _claim(invitation)  # two submits (or two tabs) create one account
    db.session.add(user)
    db.session.flush()
    _join(user, invitation)
    return user


def accept_invitation_as(user: User, token: str) -> Invitation:
    """A signed-in person accepts an invitation to their own e-mail or mobile: the role is
    added to their account (a worker dispatched to a second firm joins it this way)."""

    invitation = get_invitation_for_token(token)
    if not is_addressed_to(invitation, user):
        raise AccountError(
            _l(
                "This invitation is for another e-mail address or mobile number. Sign out, "
                "then open the link again to accept it with the right account."
            )
        )
    _claim(invitation)
    _join(user, invitation)
    return invitation


def _claim(invitation: Invitation) -> None:
    """Mark the invitation used, atomically: of two submits, one goes on."""
    claimed = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=utcnow())
    ).rowcount
    if claimed != 1:
        raise AccountError(_l("This invitation has already been used. Sign in instead."))


def _join(user: User, invitation: Invitation) -> None:
    """Give `user` the invitation's role, recorded as their acceptance."""
    add_membership(
        user,
        user,
        consortium=invitation.consortium,
        firm=invitation.firm,
        role=invitation.role,
        job_role_id=invitation.job_role_id,
        audit=False,
    )
    record_action(user, "invitation.accept", invitation, consortium_id=invitation.consortium_id)


def revoke_invitation(actor: User, invitation: Invitation) -> None:
    if invitation_status(invitation) == "pending":
        invitation.revoked_at = utcnow()
        record_action(
            actor, "invitation.revoke", invitation, consortium_id=invitation.consortium_id
        )
        db.session.flush()


def create_activation_link(actor: User, firm: Firm, person: User) -> InvitationOutcome:
    """A fresh invitation for a member of `firm` who has never set a password."""
    membership = next(
        (m for m in person.memberships if m.firm_id == firm.id and m.is_current()), None
    )
    if membership is None or person.password_hash:
        raise AccountError(_l("This person has already activated their account."))
    return invite_person(
        actor,
        consortium=firm.consortium,
        firm=firm,
        role=membership.role,
        name=person.name,
        email=person.email,
        mobile=person.mobile,
    )


def create_activation_links(actor: User, firm: Firm) -> list[tuple[User, str]]:
    """Activation links for every current member of `firm` who has not activated yet.

    Each replaces the person's earlier pending link.
    """
    people = db.session.scalars(list_people(firm).where(User.password_hash.is_(None))).all()
    return [(p, create_activation_link(actor, firm, p).token) for p in people]
