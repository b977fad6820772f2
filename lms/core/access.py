"""What every route declares about who may use it, read by the access-matrix tests.

`public` and `signed_in` are here, at the bottom of the layers, for the pages of every package
(sign-in, health checks); `lms.permissions.needs` declares routes that need a permission, on
the URL's firm or consortium or anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import login_required


@dataclass(frozen=True)
class Access:
    """Who may use a route: everyone (`public`), any signed-in user, or holders of `permission`
    on the URL's firm or consortium (`place`), or anywhere they hold a role (no place)."""

    public: bool = False
    permission: str | None = None
    place: str | None = None


def declare(view, access: Access):
    view.access = access
    return view


def public(view):
    """Declare a route open to everyone, signed in or not."""
    return declare(view, Access(public=True))


def signed_in(view):
    """Declare (and enforce) a route for any signed-in user; guests are sent to sign in. The
    view scopes what it loads to the caller."""
    return declare(login_required(view), Access())
