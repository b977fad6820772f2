"""Settings from the environment: the embedded defaults and the scale-out switches."""

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from lms.config import load_config


def test_embedded_default_is_sqlite_in_instance_with_memory_rate_limits(tmp_path, monkeypatch):
    for name in ("LMS_DATABASE_URL", "LMS_REDIS_URL", "LMS_SECRET_KEY", "LMS_HTTPS"):
        monkeypatch.delenv(name, raising=False)
    config = load_config(tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'lms.sqlite3'}"
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["SESSION_COOKIE_SECURE"] is False
    assert config["SESSION_COOKIE_HTTPONLY"] and config["SESSION_COOKIE_SAMESITE"] == "Lax"
    # A secret key is generated once into the instance folder and reused.
    key = config["SECRET_KEY"]
    assert len(key) >= 40 and (tmp_path / "secret_key").read_text() == key
    assert load_config(tmp_path)["SECRET_KEY"] == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_remember_me_never_exceeds_14_days(tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_REMEMBER_DAYS", "30")
    assert load_config(tmp_path)["PERMANENT_SESSION_LIFETIME"].days == 14


def test_https_makes_cookies_secure(tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_HTTPS", "1")
    config = load_config(tmp_path)
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["PREFERRED_URL_SCHEME"] == "https"


def test_redis_url_moves_rate_limits_to_redis_and_they_count_there(tmp_path, monkeypatch):
    url = "redis://127.0.0.1:6379/15"
    monkeypatch.setenv("LMS_REDIS_URL", url)
    assert load_config(tmp_path)["RATELIMIT_STORAGE_URI"] == url
    storage = storage_from_string(url)
    if not storage.check():
        pytest.skip("no Redis on 127.0.0.1:6379")
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("3 per minute")
    key = f"config-test-{tmp_path.name}"
    try:
        assert all(limiter.hit(limit, key) for _ in range(3))
        assert not limiter.hit(limit, key)
    finally:
        limiter.clear(limit, key)
