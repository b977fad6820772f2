"""What every blueprint's access-matrix test shares: the callers, and the check of one row.

A row is (method, url, who counts as "member with the permission", expected statuses in the
order of PERSONAS); "{placeholders}" in the url are filled from the test's world.
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
    if user is not None:
        login(user)
    path = url.format(**ids)
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
