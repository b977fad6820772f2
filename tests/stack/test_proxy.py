"""Behind a reverse proxy (LMS_PROXY_HOPS): the client's address and scheme come from the
proxy's X-Forwarded-For/-Proto headers; without it those headers are not believed."""

from __future__ import annotations

import pytest
from flask import request

from lms import create_app
from tests.conftest import TEST_CONFIG, database_url

FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


def seen_by_app(monkeypatch, hops: str | None) -> list[tuple[str, str]]:
    if hops is None:
        monkeypatch.delenv("LMS_PROXY_HOPS", raising=False)
    else:
        monkeypatch.setenv("LMS_PROXY_HOPS", hops)
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url()})
    seen = []

    @app.after_request
    def record(response):
        seen.append((request.remote_addr, request.scheme))
        return response

    response = app.test_client().get(
        "/healthz", headers=FORWARDED, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    )
    assert response.status_code == 200
    return seen


def test_behind_one_proxy_the_client_address_and_scheme_are_the_forwarded_ones(monkeypatch):
    assert seen_by_app(monkeypatch, "1") == [("203.0.113.9", "https")]


def test_without_a_proxy_forwarded_headers_are_not_believed(monkeypatch):
    assert seen_by_app(monkeypatch, None) == [("127.0.0.1", "http")]


def test_a_proxy_count_that_is_not_a_number_stops_the_app(monkeypatch):
    with pytest.raises(RuntimeError, match="LMS_PROXY_HOPS"):
        seen_by_app(monkeypatch, "nginx")
