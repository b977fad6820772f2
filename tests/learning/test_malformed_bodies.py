"""Malformed or wrongly typed input is a 400 that says what was wrong, never a 500: the lesson
player's JSON autosave (answered in JSON), numbers in addresses and forms, and NUL characters
anywhere in a request."""

from __future__ import annotations

import html

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from lms.extensions import db
from lms.learning.models import LessonProgress
from lms.tenancy.models import Consortium

NOT_AN_OBJECT = "The data must be a JSON object of named values."
NOT_JSON = "The data is not valid JSON."
NOT_UTF8 = "The data is not valid UTF-8 text."
WRONG_TYPE = "Send the data as JSON, with the header Content-Type: application/json."
NUL = "The request contains a NUL character, which is never valid. Remove it and try again."
NUMBER = "“%(name)s” must be a number from %(minimum)s to %(maximum)s."
WHOLE_NUMBER = "“%(name)s” must be a whole number from %(minimum)d to %(maximum)d."
PERCENT = {"name": "percent", "minimum": 0, "maximum": 100}
POSITION = {"name": "position", "minimum": 0, "maximum": 604800}
JSON = "application/json"


@pytest.fixture
def tr(app):
    def translate(msgid: str, locale: str = "zh_CN", **kw) -> str:
        with app.test_request_context(), force_locale(locale):
            return str(gettext(msgid, **kw))

    return translate


@pytest.fixture
def course(firm, publish):
    return publish(firm, "malformed-bodies", lessons=2)


@pytest.fixture
def progress_url(course, worker, enrol, login):
    enrolled = enrol(worker, course)
    login(worker)
    return f"{enrolled.url}/lessons/{course.lesson('lessons/01.md')}/progress"


def saved_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(LessonProgress))


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# --- the lesson player's autosave ---------------------------------------------------------

BODIES = [
    # (id, raw body, content type, message, message values)
    ("json-string", b'"70"', JSON, NOT_AN_OBJECT, {}),
    ("json-list", b"[70, 42]", JSON, NOT_AN_OBJECT, {}),
    ("json-number", b"70", JSON, NOT_AN_OBJECT, {}),
    ("json-null", b"null", JSON, NOT_AN_OBJECT, {}),
    ("json-true", b"true", JSON, NOT_AN_OBJECT, {}),
    ("truncated", b'{"percent": 70', JSON, NOT_JSON, {}),
    ("empty-json", b"", JSON, NOT_JSON, {}),
    ("single-quotes", b"{'percent': 70}", JSON, NOT_JSON, {}),
    ("nan", b'{"percent": NaN}', JSON, NOT_JSON, {}),
    ("infinity", b'{"position": Infinity}', JSON, NOT_JSON, {}),
    ("minus-infinity", b'{"position": -Infinity}', JSON, NOT_JSON, {}),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000, JSON, NOT_JSON, {}),
    ("too-many-digits", b'{"percent": 1' + b"0" * 5000 + b"}", JSON, NOT_JSON, {}),
    ("overflowing-float", b'{"position": 1e400}', JSON, NUMBER, POSITION),
    ("huge-integer", b'{"percent": 1' + b"0" * 400 + b"}", JSON, NUMBER, PERCENT),
    ("huge-position", b'{"position": 1e12}', JSON, NUMBER, POSITION),
    ("string-number", b'{"percent": "70"}', JSON, NUMBER, PERCENT),
    ("string-word", b'{"percent": "lots"}', JSON, NUMBER, PERCENT),
    ("boolean", b'{"percent": true}', JSON, NUMBER, PERCENT),
    ("null-value", b'{"percent": null}', JSON, NUMBER, PERCENT),
    ("nested-object", b'{"percent": {"value": 70}}', JSON, NUMBER, PERCENT),
    ("list-value", b'{"position": [42]}', JSON, NUMBER, POSITION),
    ("negative", b'{"percent": -1}', JSON, NUMBER, PERCENT),
    ("above-100", b'{"percent": 101}', JSON, NUMBER, PERCENT),
    ("negative-position", b'{"percent": 5, "position": -0.5}', JSON, NUMBER, POSITION),
    ("nul-in-value", b'{"percent": 70, "note": "a\\u0000b"}', JSON, NUL, {}),
    ("nul-in-key", b'{"percent": 70, "a\\u0000": 1}', JSON, NUL, {}),
    ("nul-in-number", b'{"percent": "7\\u00000"}', JSON, NUL, {}),
    ("invalid-utf8", b'{"percent": 70, "note": "\xff\xfe"}', JSON, NOT_UTF8, {}),
    ("latin1-charset", '{"percent": 70, "n": "é"}'.encode("latin-1"), JSON, NOT_UTF8, {}),
    ("text-plain", b'{"percent": 70}', "text/plain", WRONG_TYPE, {}),
    ("form", b"percent=70&position=42", "application/x-www-form-urlencoded", WRONG_TYPE, {}),
    ("xml", b"<percent>70</percent>", "application/xml", WRONG_TYPE, {}),
    ("no-type", b'{"percent": 70}', None, WRONG_TYPE, {}),
]


@pytest.mark.parametrize(
    ("body", "content_type", "message", "values"),
    [pytest.param(*row[1:], id=row[0]) for row in BODIES],
)
def test_malformed_progress_is_a_json_400_saying_what_is_wrong(
    app, client, progress_url, tr, body, content_type, message, values
):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(progress_url, data=body, headers=headers)
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert response.get_json() == {"error": tr(message, **values)}
    assert saved_rows(app) == 0


def test_the_error_is_in_the_learners_language(client, progress_url, tr):
    # The learner's account language (zh_CN here) wins over the browser's Accept-Language.
    response = client.post(progress_url, json={"percent": "70"}, headers={"Accept-Language": "en"})
    assert response.get_json() == {"error": tr(NUMBER, "zh_CN", **PERCENT)}
    assert tr(NUMBER, "zh_CN", **PERCENT) != tr(NUMBER, "en", **PERCENT)


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ({"percent": 70, "position": 42.5}, (70, 42.5)),
        ({"percent": 99.9}, (99, 0.0)),
        ({"position": 12}, (0, 12.0)),
        ({"percent": 100, "position": 604800}, (100, 604800.0)),
        ({"percent": 0, "extra": {"ignored": [1, 2]}}, (0, 0.0)),
    ],
)
def test_well_formed_progress_is_saved(client, progress_url, body, kept):
    response = client.post(progress_url, json=body)
    assert response.status_code == 200
    assert (response.get_json()["percent"], response.get_json()["position"]) == kept


def test_an_empty_post_saves_nothing_new_and_succeeds(app, client, progress_url):
    response = client.post(progress_url)
    assert response.status_code == 200
    assert response.get_json()["percent"] == 0


def test_other_errors_of_the_autosave_are_json_too(
    app, client, course, worker, enrol, login, create_user, firm, monkeypatch, tr
):
    enrolled = enrol(worker, course)
    url = f"{enrolled.url}/lessons/{course.lesson('lessons/01.md')}/progress"
    login(create_user(role="worker", firm=firm))
    response = client.post(url, json={"percent": 10})
    assert response.status_code == 404
    assert response.get_json() == {
        "error": tr("This page does not exist or is not available to you.")
    }
    login(worker)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post(url, json={"percent": 10})
    assert response.status_code == 400
    assert response.get_json() == {
        "error": tr("The form expired or was sent twice. Reload the page and submit it again.")
    }


# --- numbers in addresses and forms -------------------------------------------------------

BIG = "9" * 30


@pytest.mark.parametrize(
    ("query", "values"),
    [
        (f"page={BIG}", {"name": "page", "minimum": 1, "maximum": 100_000}),
        ("page=abc", {"name": "page", "minimum": 1, "maximum": 100_000}),
        ("page=0", {"name": "page", "minimum": 1, "maximum": 100_000}),
        ("page=-3", {"name": "page", "minimum": 1, "maximum": 100_000}),
        ("page=1.5", {"name": "page", "minimum": 1, "maximum": 100_000}),
        ("page=%EF%BC%91", {"name": "page", "minimum": 1, "maximum": 100_000}),  # full-width 1
    ],
)
def test_a_malformed_page_number_is_a_400_page_saying_so(client, worker, login, tr, query, values):
    login(worker)
    response = client.get(f"/notifications?{query}")
    assert response.status_code == 400
    assert tr(WHOLE_NUMBER, **values) in page_text(response)
    assert tr("Bad request") in page_text(response)


def test_an_empty_or_missing_page_number_is_the_first_page(client, worker, login):
    login(worker)
    assert client.get("/notifications?page=").status_code == 200
    assert client.get("/notifications?page=2").status_code == 200


@pytest.mark.parametrize(
    ("url", "values"),
    [
        (f"/courses/?firm={BIG}", {"name": "firm", "minimum": 1, "maximum": 2**31 - 1}),
        (f"/courses/?page={BIG}", {"name": "page", "minimum": 1, "maximum": 100_000}),
    ],
)
def test_a_number_out_of_range_in_a_filter_is_a_400(client, worker, login, tr, url, values):
    login(worker)
    response = client.get(url)
    assert response.status_code == 400
    assert tr(WHOLE_NUMBER, **values) in page_text(response)


@pytest.mark.parametrize("upto", [BIG, "abc", "-1"])
def test_mark_all_read_refuses_a_malformed_upto(client, worker, login, tr, upto):
    login(worker)
    response = client.post("/notifications/read", data={"upto": upto})
    assert response.status_code == 400
    assert tr(WHOLE_NUMBER, name="upto", minimum=1, maximum=2**31 - 1) in page_text(response)


def test_a_report_filter_with_an_impossible_id_is_a_field_error(
    app, client, create_firm, create_user, login
):
    firm = create_firm()
    with app.app_context():
        consortium = db.session.get(Consortium, firm.consortium_id)
    login(create_user(role="consortium_admin", consortium=consortium))
    response = client.get(f"/consortia/{consortium.id}/reports?firm={BIG}&course={BIG}")
    assert response.status_code == 200


# --- NUL characters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("GET", "/courses/?q=%00", None),
        ("GET", "/courses/?q=a%00b", None),
        ("GET", "/courses/?%00=1", None),
        ("GET", "/notifications?page=1%00", None),
        ("GET", "/learn/%00", None),
        ("POST", "/account", {"name": "Li\x00Na", "locale": "en"}),
        ("POST", "/notifications/read", {"upto": "1\x00"}),
    ],
)
def test_a_nul_character_anywhere_is_a_400(client, worker, login, tr, method, url, data):
    login(worker)
    response = client.open(url, method=method, data=data)
    assert response.status_code == 400
    assert tr(NUL) in page_text(response)
