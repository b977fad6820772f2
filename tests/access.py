"""What every blueprint's access-matrix test shares: the callers, and the check of one row.

A row is (method, url, who counts as "member with the permission", expected); "{placeholders}"
in the url are filled from the test's world. `expected` is either

- the status of an allowed call (an int): each caller's answer then follows from the route's
  declaration (lms.permissions `public` / `needs`): a guest is sent to sign in, a caller the
  declaration refuses gets the 404 of a missing page, everyone else this status; or
- the statuses in the order of PERSONAS, for routes whose view refuses more than its declaration
  says (objects owned by one person, a course of one firm). They must still agree with it: a
  caller the declaration refuses is refused.
"""

from __future__ import annotations

import re

PERSONAS = (
    "guest",
    "other_firm_worker",
    "member_without",
    "member_with",
    "consortium_admin",
    "foreign_admin",
)
LOGIN = 302  # a guest is sent to the sign-in page
# Refusals that may say more than "not found", with the reason. Every other 404 of an existing
# object is byte for byte the page of a missing one (apart from the echoed path and CSRF token).
DISTINCT_REFUSALS = {
    "/invite/{token}": "the holder of a valid link is told it is for another account, so that "
    "a person signed in with the wrong account knows to sign out; it names nobody",
}


def assert_every_route_has_a_row(app, prefix: str, rows: dict) -> None:
    """Every route of the blueprint `prefix` (e.g. "certificates.") has a row, and no more."""
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith(prefix)}
    assert endpoints == rows.keys()


def check_access(row, persona, people, ids, client, login, *, data=None, any_method=True) -> None:
    """Open the row's url as `persona` and check the status, and that a guest is sent to sign
    in (for GET only with `any_method=False`: some POSTs redirect a guest elsewhere)."""
    method, url, holder, expected = row
    user = people.get(persona)
    if persona == "member_with" and user is None:
        user = people[holder]
    path = url.format(**ids)
    allowed = declared_access(client.application, method, path, user)
    if isinstance(expected, int):
        expected = tuple(
            (LOGIN if p == "guest" and not allowed else expected if allowed else 404)
            if p == persona
            else None
            for p in PERSONAS
        )
    elif not allowed:
        refused = LOGIN if persona == "guest" else 404
        assert expected[PERSONAS.index(persona)] == refused, (row, persona, "declaration")
    if user is not None:
        login(user)
    response = client.open(path, method=method, data=data)
    raw = response.get_data()
    response.close()
    want = expected[PERSONAS.index(persona)]
    assert response.status_code == want, (row, persona, response.status_code)
    if persona == "guest" and want == LOGIN and (any_method or method == "GET"):
        assert "/login" in response.headers["Location"]
    if want == 404 and response.mimetype == "text/html" and url not in DISTINCT_REFUSALS:
        body = raw.decode()
        # A refusal looks exactly like a missing page (issue 12): nothing tells what exists.
        # The same route with ids that do not exist (or, without ids, a page that doesn't).
        fake = {k: 987654321 if isinstance(v, int) else f"no-such-{k}" for k, v in ids.items()}
        missing_path = url.format(**fake) if "{" in url else "/no-such-page/404"
        missing = client.open(missing_path, method=method, data=data)
        assert missing.status_code == 404
        refused, absent = (
            _normalised(body, path),
            _normalised(missing.get_data(as_text=True), missing_path),
        )
        assert refused == absent, (row, persona, _first_difference(refused, absent))


def declared_access(app, method: str, path: str, user) -> bool:
    """Whether the declaration of the route serving `path` lets `user` (None: a guest) in."""
    from lms.auth.models import User
    from lms.extensions import db
    from lms.permissions import allows
    from lms.tenancy.models import Consortium, Firm

    endpoint, args = app.url_map.bind("localhost").match(path.split("?")[0], method=method)
    access = getattr(app.view_functions[endpoint], "access", None)
    if access is None:
        assert endpoint == "static", f"{endpoint} declares no access (lms.permissions)"
        return True
    with app.app_context():
        caller = db.session.get(User, user.id) if user is not None else None
        target = None
        if access.place == "firm":
            target = db.session.get(Firm, args["firm_id"])
        elif access.place == "consortium":
            target = db.session.get(Consortium, args["consortium_id"])
        if caller is None:
            return access.public
        return allows(access, caller, target)


def _normalised(body: str, path: str) -> str:
    """A page without what differs between two requests: the echoed path and CSRF tokens."""
    body = re.sub(r'name="csrf_token"[^>]*value="[^"]*"', 'name="csrf_token"', body)
    body = re.sub(r'value="[^"]*" name="csrf_token"', 'name="csrf_token"', body)
    body = body.replace(' aria-current="page"', "")  # the navigation's section follows the path
    return body.replace(path.split("?")[0], "PATH").replace(path, "PATH")


def _first_difference(a: str, b: str) -> str:
    at = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return f"…{a[max(0, at - 80) : at + 80]!r} vs …{b[max(0, at - 80) : at + 80]!r}"
