"""Return addresses (`next`) lead only to a path on this site: every hostile value, as it
arrives after Werkzeug decodes the query or form, falls back to the default page, and none is
ever a 500."""

from __future__ import annotations

from urllib.parse import unquote, urljoin, urlsplit

import pytest

from lms.core.urls import safe_next
from lms.extensions import db
from lms.notifications import service as notifications
from tests.conftest import PASSWORD

# Decoded values: what request.args / request.form hand to the view.
HOSTILE = [
    "//evil.example/x",
    "///evil.example/x",
    "////evil.example/x",
    "/\\evil.example/x",
    "/\\/evil.example/x",
    "\\\\evil.example/x",
    "\\/evil.example/x",
    "/\t/evil.example/x",
    "/\n/evil.example/x",
    "/\r/evil.example/x",
    "/\r\n/evil.example/x",
    "\t//evil.example/x",
    " //evil.example/x",
    "\x01//evil.example/x",
    "/\x0b/evil.example/x",
    "/\x0c/evil.example/x",
    "/\x7f/evil.example/x",
    "/\u3000/evil.example/x",
    "/\u2028/evil.example/x",
    "https://evil.example/x",
    "HTTPS://evil.example/x",
    "http:/evil.example/x",
    "https:evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example/x",
    "/\x00",
    "/account\x00//evil.example",
]
# The same attacks as typed into an address bar (percent-encoded), decoded by Werkzeug.
HOSTILE_ENCODED = [
    "/%09/evil.example/x",
    "/%0A/evil.example/x",
    "/%0D/evil.example/x",
    "/%0D%0A/evil.example/x",
    "%09//evil.example/x",
    "%20//evil.example/x",
    "%2F%2Fevil.example/x",
    "/%2Fevil.example/x",
    "/%5Cevil.example/x",
    "%5C%5Cevil.example/x",
    "/%5C/evil.example/x",
    "https%3A%2F%2Fevil.example/x",
    "javascript%3Aalert(1)",
    "/%00",
    "/%E3%80%80/evil.example/x",
]
LOCAL = ["/account", "/courses/?q=plc&page=2", "/notifications", "/learn/abc/lessons/3"]


def lands_on_this_site(location: str) -> bool:
    """Read a Location header the way a browser does: drop tabs and newlines, strip leading
    control characters and spaces, backslash as slash; then resolve it against this site."""
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "")
    cleaned = cleaned.lstrip("".join(map(chr, range(33)))).replace("\\", "/")
    target = urlsplit(urljoin("http://localhost/login", cleaned))
    return target.scheme == "http" and target.netloc == "localhost"


def post_login(client, user, query: str):
    return client.post(f"/login{query}", data={"login": user.email, "password": PASSWORD})


def assert_sent_to(response, default: str, value: str) -> None:
    """The browser goes to `default`; a value holding a NUL is refused before any view."""
    if "\x00" in unquote(value):
        assert response.status_code == 400
        return
    assert response.status_code == 302
    assert response.headers["Location"] == default
    assert lands_on_this_site(response.headers["Location"])


# --- the helper ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_safe_next_refuses_every_way_off_the_site(value):
    assert safe_next(value) is None


@pytest.mark.parametrize("value", [None, "", "account", "?next=/"])
def test_safe_next_refuses_empty_and_relative_values(value):
    assert safe_next(value) is None


@pytest.mark.parametrize("value", [*LOCAL, "/", "/a/b?next=//evil.example", "/%2F/x"])
def test_safe_next_keeps_paths_on_this_site(value):
    assert safe_next(value) == value


# --- sign-in ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_sign_in_with_a_hostile_next_lands_on_the_home_page(client, create_user, value):
    user = create_user()
    response = client.post(
        "/login", query_string={"next": value}, data={"login": user.email, "password": PASSWORD}
    )
    assert_sent_to(response, "/", value)


@pytest.mark.parametrize("raw", HOSTILE_ENCODED)
def test_sign_in_with_a_percent_encoded_hostile_next_lands_on_the_home_page(
    client, create_user, raw
):
    user = create_user()
    response = post_login(client, user, f"?next={raw}")
    assert_sent_to(response, "/", raw)


@pytest.mark.parametrize("target", LOCAL)
def test_sign_in_follows_a_next_on_this_site(client, create_user, target):
    user = create_user()
    response = client.post(
        "/login", query_string={"next": target}, data={"login": user.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == target


@pytest.mark.parametrize("raw", HOSTILE_ENCODED)
def test_sign_in_page_with_a_hostile_next_is_shown_normally(client, raw):
    response = client.get(f"/login?next={raw}")
    assert response.status_code == (400 if "%00" in raw else 200)
    assert "Location" not in response.headers


@pytest.mark.parametrize("raw", HOSTILE_ENCODED)
def test_signed_in_user_opening_sign_in_with_a_hostile_next_goes_home(
    client, create_user, login, raw
):
    login(create_user())
    response = client.get(f"/login?next={raw}")
    assert_sent_to(response, "/", raw)


def test_signed_in_user_opening_sign_in_goes_to_a_local_next(client, create_user, login):
    login(create_user())
    response = client.get("/login", query_string={"next": "/account"})
    assert response.headers["Location"] == "/account"


def test_wrong_password_with_a_hostile_next_shows_the_form_again(client, create_user):
    user = create_user()
    response = client.post(
        "/login?next=/%0A/evil.example/x", data={"login": user.email, "password": "Wrong-1234x"}
    )
    assert response.status_code == 200


# --- the language switcher ----------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_language_switch_with_a_hostile_next_lands_on_the_home_page(client, value):
    response = client.post("/locale", data={"locale": "en", "next": value})
    assert_sent_to(response, "/", value)


@pytest.mark.parametrize("target", LOCAL)
def test_language_switch_returns_to_the_page_it_was_used_on(client, target):
    response = client.post("/locale", data={"locale": "en", "next": target})
    assert response.headers["Location"] == target


# --- reminders and notifications ----------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_overdue_reminder_with_a_hostile_next_returns_to_the_enrolments(
    client, create_firm, create_user, login, value
):
    firm = create_firm()
    login(create_user(role="firm_admin", firm=firm))
    response = client.post(f"/firms/{firm.id}/overdue/remind", data={"all": "1", "next": value})
    assert_sent_to(response, f"/firms/{firm.id}/enrollments?overdue=1", value)


@pytest.mark.parametrize("value", [v for v in HOSTILE if "\x00" not in v])
def test_opening_a_notification_with_a_hostile_address_shows_the_list(
    app, client, create_user, login, value
):
    worker = create_user()
    with app.test_request_context():
        n = notifications.notify(
            worker.id,
            "certificate.issued",
            f"k:redirect:{worker.id}",
            value,
            course="安全生产培训",
            serial="S-1",
            expires_on="2027-07-01",
        )
        db.session.commit()
        public_id = n.public_id
    login(worker)
    response = client.get(f"/notifications/{public_id}/open")
    assert_sent_to(response, "/notifications", value)
