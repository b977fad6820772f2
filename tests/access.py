"""What every blueprint's access-matrix test shares: the callers, and the check of one row.

A row is (method, url, who counts as "member with the permission", expected statuses in the
order of PERSONAS); "{placeholders}" in the url are filled from the test's world.
"""

from __future__ import annotations

PERSONAS = (
    "guest",
    "other_firm_worker",
    "member_without",
    "member_with",
    "consortium_admin",
    "foreign_admin",
)
LOGIN = 302  # a guest is sent to the sign-in page


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
    response = client.open(url.format(**ids), method=method, data=data)
    response.get_data()
    response.close()
    want = expected[PERSONAS.index(persona)]
    assert response.status_code == want, (row, persona, response.status_code)
    if persona == "guest" and want == LOGIN and (any_method or method == "GET"):
        assert "/login" in response.headers["Location"]
