"""GET requests write nothing: every GET route of the access matrix, opened by each persona,
executes no INSERT, UPDATE or DELETE (apart from the allow-listed writes below).

Each matrix keeps its own world (the ids its rows are filled with); the worlds are the access
tests' own fixtures, imported here under names of their own."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from lms.extensions import db
from lms.jobs import service as jobs_service
from tests.access import PERSONAS
from tests.authoring.conftest import skills  # noqa: F401  (the authoring world's fixture)
from tests.authoring.test_access import AUTHORING_MATRIX
from tests.authoring.test_access import matrix_world as authoring_world  # noqa: F401
from tests.certificates.conftest import (  # noqa: F401  (the certificates world's fixtures)
    _fresh_rate_limits,
    _signing_keys,
    certify,
)
from tests.certificates.test_access import CERTIFICATES_MATRIX
from tests.certificates.test_access import matrix_world as certificates_world  # noqa: F401
from tests.certificates.test_designs_access import DESIGNS_MATRIX
from tests.certificates.test_designs_access import matrix_world as designs_world  # noqa: F401
from tests.courses.test_assessors import ASSESSORS_MATRIX
from tests.courses.test_assessors import matrix_world as assessors_world  # noqa: F401
from tests.notifications.test_access import NOTIFICATIONS_MATRIX
from tests.notifications.test_access import matrix_world as notifications_world  # noqa: F401
from tests.reports.test_monthly import MONTHLY_MATRIX
from tests.reports.test_monthly import matrix_world as monthly_world  # noqa: F401
from tests.skills.test_taxonomy_access import TAXONOMY_MATRIX
from tests.skills.test_taxonomy_access import matrix_world as taxonomy_world  # noqa: F401
from tests.tenancy.test_membership_history import PEOPLE_HISTORY_MATRIX
from tests.tenancy.test_membership_history import matrix_world as history_world  # noqa: F401
from tests.test_access_matrix import MATRIX, all_rows
from tests.test_access_matrix import world as main_world  # noqa: F401

# matrix name → (its rows, the fixture of its world)
MATRICES = {
    "main": (MATRIX, "main_world"),
    "authoring": (AUTHORING_MATRIX, "authoring_world"),
    "certificates": (CERTIFICATES_MATRIX, "certificates_world"),
    "designs": (DESIGNS_MATRIX, "designs_world"),
    "assessors": (ASSESSORS_MATRIX, "assessors_world"),
    "notifications": (NOTIFICATIONS_MATRIX, "notifications_world"),
    "monthly": (MONTHLY_MATRIX, "monthly_world"),
    "taxonomy": (TAXONOMY_MATRIX, "taxonomy_world"),
    "history": (PEOPLE_HISTORY_MATRIX, "history_world"),
}

# Writes a GET may make: (endpoint or "*", statement kind, table) → why.
ALLOWED = {
    ("*", "UPDATE", "user_sessions"): "the session's idle expiry slides, at most once a "
    "minute per session (lms.auth.service.touch_session): a signed-in session must not expire "
    "while it is being used",
    ("notifications.open", "UPDATE", "notifications"): "opening a notification (a link in the "
    "list and in e-mails, so a GET) marks it read before redirecting to its page; once read, "
    "opening it again changes nothing",
}

_WRITE = re.compile(
    r"^\s*(?:WITH\b.*?\)\s*)?(INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)",
    re.IGNORECASE | re.DOTALL,
)


def test_every_matrix_is_walked():
    walked = {endpoint for rows, _ in MATRICES.values() for endpoint in rows}
    assert walked == set(all_rows())


@contextmanager
def recorded_writes(engine):
    """The (kind, table) of every INSERT, UPDATE and DELETE executed inside the block."""
    writes: list[tuple[str, str]] = []

    def record(_conn, _cursor, statement, *_args):
        if found := _WRITE.match(statement):
            writes.append((found.group(1).split()[0].upper(), found.group(2).lower()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield writes
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _allowed(endpoint: str, write: tuple[str, str]) -> bool:
    return (endpoint, *write) in ALLOWED or ("*", *write) in ALLOWED


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("matrix", sorted(MATRICES))
def test_a_get_request_writes_nothing(matrix, persona, request, app, login, monkeypatch):
    # Tasks a request asks for (e.g. ranking a missing recommendation list) run in a worker;
    # the embedded mode runs them once the view has returned, as a worker would: their writes
    # are not the GET's. Here they are left unrun.
    monkeypatch.setattr(jobs_service, "run_ready_tasks", lambda: 0)
    rows, world = MATRICES[matrix]
    people, ids = request.getfixturevalue(world)
    with app.app_context():
        engine = db.engine
    found = {}
    for endpoint, (method, url, holder, _expected) in sorted(rows.items()):
        if method != "GET":
            continue
        user = people.get(persona)
        if persona == "member_with" and user is None:
            user = people[holder]
        caller = app.test_client()
        if user is not None:
            login(user, c=caller)
        with recorded_writes(engine) as writes:
            response = caller.get(url.format(**ids))
            response.close()
        assert response.status_code < 500, (endpoint, persona, response.status_code)
        if wrong := [w for w in writes if not _allowed(endpoint, w)]:
            found[endpoint] = wrong
    assert found == {}, "these GET routes write to the database"
