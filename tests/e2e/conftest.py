"""Browser journeys: the app on a live server with its own database, headless Chromium.

Needs Debian's `chromium` and axe-core from npm (`make e2e-deps`). Without them these tests
are skipped, or fail when LMS_REQUIRE_E2E=1 (CI).
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import Flask
from werkzeug.serving import make_server

from lms import PROJECT_ROOT, create_app
from lms.demo.data import load_demo
from lms.extensions import db
from tests.e2e.journey import AXE_JS

HERE = Path(__file__).resolve().parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(config, items):
    """Every test in this folder is a browser test (the rollback fixture leaves those alone)."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


def _chromium() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )


def _missing(message: str) -> None:
    if os.environ.get("LMS_REQUIRE_E2E") == "1":
        pytest.fail(f"{message} (LMS_REQUIRE_E2E=1: browser tests are required)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Chromium to drive; skip (or fail when LMS_REQUIRE_E2E=1) without it or axe-core."""
    path = _chromium()
    if path is None:
        _missing("Chromium not found: install it with `apt-get install chromium`")
    if not AXE_JS.exists():
        _missing(f"{AXE_JS.relative_to(PROJECT_ROOT)} not found: run `make e2e-deps` (npm ci)")
    return path


def _compile_catalogs(source: Path, target: Path) -> Path:
    """What `make i18n-compile` does, into a folder of our own (the .mo files are not tracked)."""
    for po in source.glob("*/LC_MESSAGES/*.po"):
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        if catalog.fuzzy:
            continue
        mo = target / po.relative_to(source).with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        with mo.open("wb") as f:
            write_mo(f, catalog)
    return target


@pytest.fixture(scope="session")
def translations_dir(tmp_path_factory) -> Path:
    return _compile_catalogs(
        PROJECT_ROOT / "lms" / "translations", tmp_path_factory.mktemp("translations")
    )


@pytest.fixture(scope="session")
def tr(translations_dir):
    """gettext in Chinese, the default language: tr("Sign in") is what the page shows."""
    # By folder name, not through Locale("zh_CN"), so a catalogue the app fails to find still
    # gives the expected text (whatever the folder is called).
    return Translations.load(str(translations_dir), ["zh_CN", "zh_Hans_CN", "zh"]).gettext


@pytest.fixture(scope="session")
def tr_en(translations_dir):
    return Translations.load(str(translations_dir), ["en"]).gettext


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: Flask


@pytest.fixture(scope="session")
def live_server(chromium_path, tmp_path_factory, translations_dir):
    """The app with the demo data, served from a thread on 127.0.0.1 with real CSRF checks."""
    database = tmp_path_factory.mktemp("e2e-db") / "e2e.sqlite3"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "e2e-secret-key-not-for-production",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "WTF_CSRF_ENABLED": True,
            "SESSION_COOKIE_SECURE": False,
            "LMS_LOGIN_RATE_LIMIT": "1000 per minute",
            "RATELIMIT_STORAGE_URI": "memory://",
            "BABEL_TRANSLATION_DIRECTORIES": str(translations_dir),
        }
    )
    with app.app_context():
        db.create_all()
        load_demo()
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def live_url(live_server) -> str:
    return live_server.url


@pytest.fixture(scope="session")
def browser(chromium_path, live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def _page(browser, live_url, **options):
    # bypass_csp: the app allows only its own scripts, and axe-core is injected by the test.
    context = browser.new_context(
        base_url=live_url,
        bypass_csp=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        **options,
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def phone_page(browser, live_url):
    yield from _page(
        browser, live_url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )


@pytest.fixture
def phone_375(browser, live_url):
    """A 375 px phone: the narrowest screen the pages are designed for."""
    yield from _page(
        browser, live_url, viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True
    )


@pytest.fixture
def desktop_page(browser, live_url):
    yield from _page(browser, live_url, viewport={"width": 1366, "height": 900})
