"""Named permissions, mapped from roles in one place and checked against a firm or consortium;
and `needs`, the declaration of a route that takes a permission (lms.core.access has `public`
and `signed_in` for the others)."""

from __future__ import annotations

import functools

from flask import abort
from flask_login import current_user, login_required

from lms.core.access import Access, declare
from lms.tenancy.models import CONSORTIUM_ROLES, Consortium, Firm
from lms.tenancy.scope import current_scope

# Certificates: report.view on a firm lists and downloads its certificates (its firm admins,
# and the consortium's admins on each firm); certificate.manage (consortium admins) revokes.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "worker": frozenset({"course.learn"}),
    "trainer": frozenset({"course.learn", "course.author"}),
    "firm_admin": frozenset(
        {
            "course.learn",
            "person.view",
            "person.invite",
            "person.import",
            "person.deactivate",
            "enrollment.assign",
            "report.view",
            "role.manage",
            "skill.rate",
        }
    ),
    "consortium_admin": frozenset(
        {
            "firm.manage",
            "firm_admin.invite",
            "person.view",
            "consortium.people",
            "course.approve",
            "report.view",
            "report.approve",  # the monthly pilot report: approve a month, set the seal
            "audit.view",
            "enrollment.assign",
            "taxonomy.manage",
            "role.manage",
            "certificate.manage",
        }
    ),
    "auditor": frozenset({"audit.view"}),
}
# Permissions of the instance itself, held by platform admins only.
PLATFORM_PERMISSIONS = frozenset({"consortium.manage"})
# What a consortium-level role holds on each firm of its consortium (the rest of its
# permissions are held on the consortium itself).
CONSORTIUM_WIDE = frozenset(
    {"person.view", "enrollment.assign", "report.view", "firm.manage", "role.manage"}
)
ALL_PERMISSIONS = frozenset().union(*ROLE_PERMISSIONS.values(), PLATFORM_PERMISSIONS)


def roles_at(user, target: Firm | Consortium) -> set[str]:
    """The roles `user` currently holds on `target` (a firm's own roles plus consortium roles)."""
    if user is None or not user.is_authenticated:
        return set()
    roles: set[str] = set()
    consortium_id = target.id if isinstance(target, Consortium) else target.consortium_id
    for m in user.memberships:
        if not m.is_current() or m.consortium_id != consortium_id or not m.consortium.is_active:
            continue
        if m.firm is not None and not m.firm.is_active:
            continue
        if m.firm_id is None or isinstance(target, Firm) and m.firm_id == target.id:
            roles.add(m.role)
    return roles


def has_permission(user, permission: str, target: Firm | Consortium | None = None) -> bool:
    """Whether `user` holds `permission` on `target` (None: on the instance)."""
    assert permission in ALL_PERMISSIONS, permission
    if user is None or not user.is_authenticated:
        return False
    if permission in PLATFORM_PERMISSIONS:
        return bool(user.is_platform_admin)
    if target is None:
        return any(
            permission in ROLE_PERMISSIONS[m.role] for m in user.memberships if m.is_current()
        )
    return permission in permissions_at(user, target)


def permissions_at(user, target: Firm | Consortium) -> set[str]:
    """Every permission `user` holds on `target`."""
    granted: set[str] = set()
    for role in roles_at(user, target):
        perms = ROLE_PERMISSIONS[role]
        if role in CONSORTIUM_ROLES and isinstance(target, Firm):
            perms = perms & CONSORTIUM_WIDE  # on one firm, only what reaches across firms
        granted |= perms
    return granted


def require(permission: str, target: Firm | Consortium | None = None) -> None:
    """Go on only if the current user holds `permission` on `target`; otherwise the same 404
    as for an object that does not exist, so nobody learns what lies outside their reach."""
    if not has_permission(current_user, permission, target):
        abort(404)


# --- route declarations ----------------------------------------------------------------------
# Every view says who may use it, right under its route:
#
#     @bp.get("/firms/<int:firm_id>/people")
#     @needs("person.view", on="firm")
#     def firm_people(firm): ...
#
# and reads load → authorize → act: the firm is loaded in the caller's scope and the permission
# checked on it before the view runs (either failing is the 404 of a missing page). Objects
# below the place (a course of the firm, an enrolment) are loaded by the view through the same
# scope. The access-matrix tests derive each caller's expected answer from these declarations.

PLACES = {"firm": "firm_id", "consortium": "consortium_id"}


def allows(access: Access, user, target: Firm | Consortium | None = None) -> bool:
    """Whether `user` passes the declaration `access` (for a place, on `target`)."""
    if access.public:
        return True
    if user is None or not user.is_authenticated:
        return False
    if access.permission is None:
        return True
    return has_permission(user, access.permission, target if access.place else None)


def needs(permission: str, *, on: str | None = None):
    """Declare (and enforce) who may use a route: a signed-in user (guests are sent to the
    sign-in page) holding `permission` — on the firm or consortium of the URL's `firm_id` or
    `consortium_id` when `on` is "firm" or "consortium" (the view then receives the loaded
    `firm` or `consortium` instead of the id), else on the instance or anywhere they hold a role.
    Any signed-in user, without a permission, is `lms.core.access.signed_in`."""
    assert permission in ALL_PERMISSIONS, permission
    assert on is None or on in PLACES, on

    def decorate(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            if on is not None:
                scope = current_scope()
                key = kwargs.pop(PLACES[on])
                target = scope.get_firm(key) if on == "firm" else scope.get_consortium(key)
                require(permission, target)
                kwargs[on] = target
            else:
                require(permission)
            return view(*args, **kwargs)

        return declare(login_required(checked), Access(permission=permission, place=on))

    return decorate
