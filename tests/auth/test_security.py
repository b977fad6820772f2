"""Security headers, cookie flags and error pages without internals."""

from __future__ import annotations

from tests.auth.conftest import COOKIE, page_text


def test_pages_send_a_strict_content_security_policy(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert "<script>" not in response.get_data(as_text=True)
    assert ' style="' not in response.get_data(as_text=True)


def test_pages_send_nosniff_and_referrer_policy(client, create_user, login):
    for response in (client.get("/login"), client.get("/healthz")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] in {
            "same-origin",
            "no-referrer",
            "strict-origin-when-cross-origin",
        }
        assert response.headers["X-Frame-Options"] == "DENY"
    login(create_user())
    signed_in = client.get("/account")
    assert signed_in.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors" in signed_in.headers["Content-Security-Policy"]


def test_session_cookie_is_httponly_and_samesite(client, create_user, login):
    response = login(create_user())
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags or "samesite=strict" in flags


def test_unknown_url_answers_a_translated_404_without_internals(client, tr):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    body = page_text(response)
    assert tr("Not found") in body
    assert tr("This page does not exist or is not available to you.") in body
    assert "Traceback" not in body and "werkzeug" not in body.lower()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    english = client.get("/no/such/page", headers={"Accept-Language": "en"})
    assert tr("Not found", "en") in page_text(english)


def test_a_page_the_role_does_not_allow_is_the_same_404_as_a_missing_one(
    client, create_firm, create_user, login, tr
):
    """Issue 12, hole 4: a refusal tells nothing about what exists."""
    login(create_user(role="worker", firm=create_firm()))
    refused = client.get("/admin/consortia")
    missing = client.get("/admin/nothing-here")
    assert refused.status_code == missing.status_code == 404
    body = page_text(refused)
    assert body.replace("/admin/consortia", "X") == page_text(missing).replace(
        "/admin/nothing-here", "X"
    )
    assert tr("Not found") in body
    assert "Traceback" not in body and "abort(" not in body
    assert "Content-Security-Policy" in refused.headers


def test_wrong_method_answers_405_page(client, tr):
    response = client.get("/logout")
    assert response.status_code == 405
    assert tr("This page cannot be used that way.") in page_text(response)
