"""Input hygiene at the edge: a NUL character anywhere in the path, the query, a form (URL-encoded
or multipart, file names too) is a 400 before any view or database sees it; a JSON body that is
not an object, a wrongly typed field or a non-finite number is a JSON 400 naming the field, and
changes nothing. Messages are asserted in English (the users here read English)."""

from __future__ import annotations

import html
import io
from pathlib import Path

import pytest
from sqlalchemy import event, select

from lms.auth.models import User
from lms.courses.models import CourseVersion
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import LessonProgress
from tests.conftest import PASSWORD, write_package
from tests.courses.helpers import import_dir

NUL = "The request contains a NUL character, which is never valid. Remove it and try again."
NOT_AN_OBJECT = "The data must be a JSON object of named values."
NOT_JSON = "The data is not valid JSON."
NUMBER = "“{name}” must be a number from 0 to {maximum}."
PERCENT = NUMBER.format(name="percent", maximum=100)
POSITION = NUMBER.format(name="position", maximum=604800)
LMS = Path(__file__).resolve().parents[2] / "lms"


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def firm(create_firm):
    return create_firm()


@pytest.fixture
def worker(create_user, firm):
    return create_user(role="worker", firm=firm, locale="en")


@pytest.fixture
def nul_in_sql(app):
    """Every SQL statement's parameters that held a NUL character (none may)."""
    seen = []

    def record(_conn, _cursor, _statement, parameters, *_args):
        if "\\x00" in repr(parameters):
            seen.append(parameters)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


# --- NUL characters -------------------------------------------------------------------------

GUEST_REQUESTS = [
    ("GET", "/courses/?q=a%00b", None),
    ("GET", "/verify/ABCD%00EFGH", None),
    ("GET", "/login?next=/account%00", None),
    ("POST", "/login", {"login": "user\x00@example.com", "password": PASSWORD}),
    ("POST", "/login", {"login": "someone@example.com", "password": f"{PASSWORD}\x00"}),
]


@pytest.mark.parametrize(("method", "url", "data"), GUEST_REQUESTS)
def test_a_nul_from_a_guest_is_a_400_before_anything_reads_it(
    client, nul_in_sql, method, url, data
):
    response = client.open(url, method=method, data=data, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert NUL in page_text(response)
    assert nul_in_sql == []


SIGNED_IN_REQUESTS = [
    # (method, url, form): the catalogue search of issue 15, a NUL sent raw, a form field, a
    # multipart form's field and an uploaded file's name on a page with no upload of its own.
    ("GET", "/courses/?q=a%00b", None),
    ("GET", "/courses/\x00", None),
    ("GET", "/courses/?sector%00=x", None),
    ("POST", "/account", {"name": "李\x00娜", "locale": "en"}),
    ("POST", "/account", {"name": "李\x00娜", "locale": "en", "photo": (io.BytesIO(b"x"), "a")}),
    (
        "POST",
        "/account",
        {"name": "李娜", "locale": "en", "photo": (io.BytesIO(b"x"), "a\x00.png")},
    ),
]


@pytest.mark.parametrize(("method", "url", "data"), SIGNED_IN_REQUESTS)
def test_a_nul_from_a_signed_in_user_is_a_400_and_changes_nothing(
    app, client, login, worker, nul_in_sql, method, url, data
):
    login(worker)
    response = client.open(url, method=method, data=data)
    assert response.status_code == 400
    assert NUL in page_text(response)
    assert nul_in_sql == []
    with app.app_context():
        assert db.session.get(User, worker.id).name == worker.name


# --- JSON bodies ----------------------------------------------------------------------------


@pytest.fixture
def progress_url(app, client, tmp_path, firm, worker, login):
    """The lesson player's autosave of the worker's first lesson, already at 40 % and 12.5 s."""
    published = import_dir(app, firm.id, write_package(tmp_path, "edge-input", quiz=False))
    with app.test_request_context():
        version = db.session.get(CourseVersion, published.version_id)
        enrollment, _ = learning.enroll(db.session.get(User, worker.id), version)
        db.session.commit()
        public_id = enrollment.public_id
    login(worker)
    url = f"/learn/{public_id}/lessons/{published.lesson('lessons/01.md')}/progress"
    assert client.post(url, json={"percent": 40, "position": 12.5}).status_code == 200
    return url


def stored(app) -> list[tuple[int, float]]:
    with app.app_context():
        rows = db.session.scalars(select(LessonProgress)).all()
        return [(row.percent, row.position_seconds) for row in rows]


JSON_BODIES = [
    # (id, raw body, message): the cases of issue 15 first.
    ("percent-string-1e309", b'{"percent": "1e309"}', PERCENT),
    ("position-string-1e309", b'{"position": "1e309"}', POSITION),
    ("position-1e309", b'{"position": 1e309}', POSITION),
    ("percent-minus-1e309", b'{"percent": -1e309}', PERCENT),
    ("array", b"[50, 20]", NOT_AN_OBJECT),
    ("string", b'"50"', NOT_AN_OBJECT),
    ("number", b"50", NOT_AN_OBJECT),
    ("nan", b'{"percent": NaN}', NOT_JSON),
    ("infinity", b'{"position": Infinity}', NOT_JSON),
    ("minus-infinity", b'{"position": -Infinity}', NOT_JSON),
    ("nan-string", b'{"position": "NaN"}', POSITION),
    ("boolean", b'{"percent": true}', PERCENT),
    ("null", b'{"position": null}', POSITION),
    ("object", b'{"percent": {"value": 50}}', PERCENT),
    ("nul-in-a-string", b'{"percent": 50, "note": "a\\u0000"}', NUL),
]


@pytest.mark.parametrize(
    ("body", "message"), [pytest.param(*row[1:], id=row[0]) for row in JSON_BODIES]
)
def test_a_malformed_json_body_is_a_json_400_naming_the_field_and_changes_nothing(
    app, client, progress_url, body, message
):
    response = client.post(progress_url, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"error": message}
    assert stored(app) == [(40, 12.5)]


def test_no_view_reads_a_json_body_by_hand():
    """Every JSON body goes through lms.core.params.json_object (and its field checks)."""
    readers = ("get_json(", "request.json", "request.get_data(", "request.data")
    by_hand = [
        f"{path.relative_to(LMS)}: {reader}"
        for path in LMS.rglob("*.py")
        if path != LMS / "core" / "params.py"
        for reader in readers
        if reader in path.read_text(encoding="utf-8")
    ]
    assert by_hand == []
