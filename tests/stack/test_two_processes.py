"""Two app processes, one state: gunicorn A and gunicorn B on different ports share PostgreSQL
(`stack_tests`, with the demo data) and Redis (database 12), and a user is served by either.

Process-local state, audited (issue 15), and why each is safe with many processes:
- sessions: the cookie holds only a session id, signed with LMS_SECRET_KEY (the same on every
  app server); the session row lives in the database, so a sign-out on one ends it on all;
- rate limits: Flask-Limiter counts in Redis when LMS_REDIS_URL is set (lms.config);
- lms.learning.catalogue_views.version_fragments keeps a published version's outline per
  process, keyed by the version's identity (id, status, published date, title, language): a
  published version never changes, and a new version has a new key. Its skills are rendered
  per request, because a consortium can rename its own skills (tested below);
- lms.certificates.render (fonts, templates, stylesheets, QR images by URL) and
  lms.auth.passwords.common_passwords: derived from files of the release or pure functions;
- lms.certificates.signing._SIGNERS: a consortium's key file, read once per process; key files
  are made once (atomically, the first process wins) and never change;
- registries (job kinds, lesson and question types, permissions, export sources): filled by
  the code at start, the same in every process;
- lms.jobs.worker's Flask app: one per Celery worker process. Job state is in the database.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from tests.stack.conftest import PROJECT_ROOT, free_port, start_web, stop

PASSWORD = "Tangshan-demo-2026"  # the demo accounts' password (README)
COURSE = "plc-programming"
# Low enough to reach in a test, above the sign-ins of the tests before the one that reaches it.
LOGIN_LIMIT = 8
TIMEOUT = 30
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture(scope="module")
def env(stack_env):
    """The demo data in `stack_tests`, and a skill of the consortium's own that COURSE teaches."""
    env = {**stack_env, "LMS_LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT} per hour"}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "demo", "load"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    url = make_url(env["LMS_DATABASE_URL"]).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        [consortium_id] = conn.execute("SELECT id FROM consortia WHERE code = 'TS'").fetchone()
        conn.execute(
            "INSERT INTO skills (id, category_id, consortium_id, name_zh, name_en,"
            " description_zh, description_en)"
            " SELECT 'stack-skill', category_id, (SELECT id FROM consortia WHERE code = 'TS'),"
            " '堆栈技能', 'Stack skill', '', '' FROM skills LIMIT 1"
        )
        conn.execute(
            "INSERT INTO course_skills (version_id, skill_id, level, position)"
            " SELECT v.id, 'stack-skill', 2, 99 FROM course_versions v"
            " JOIN courses c ON c.id = v.course_id"
            " WHERE c.slug = %s AND v.status = 'published'",
            (COURSE,),
        )
    env["consortium_id"] = str(consortium_id)  # for the tests (ignored by the app)
    return env


@pytest.fixture(scope="module")
def servers(env):
    """Base URLs of process A and process B."""
    port_a, port_b = free_port(), free_port()
    a = start_web(env, port_a)
    try:
        b = start_web(env, port_b)
    except BaseException:
        stop(a)
        raise
    yield f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    stop(a)
    stop(b)


def get(client: requests.Session, url: str, **kw) -> requests.Response:
    return client.get(url, timeout=TIMEOUT, **kw)


def post_form(client: requests.Session, page: str, data: dict, action: str | None = None):
    """Submit the form of `page` (with its CSRF token) to `action` (default: the page)."""
    token = CSRF.search(get(client, page).text)[1]
    return client.post(
        action or page, data={"csrf_token": token, **data}, timeout=TIMEOUT, allow_redirects=False
    )


def sign_in(client: requests.Session, base: str, login: str) -> None:
    response = post_form(client, f"{base}/login", {"login": login, "password": PASSWORD})
    assert response.status_code == 302, response.text[-2000:]


def signed_in(response: requests.Response) -> bool:
    return response.status_code == 200 and "/login" not in response.url


def test_a_session_started_on_a_is_served_by_b_and_ended_on_a_for_both(servers):
    a, b = servers
    # Cookies don't depend on the port: one cookie jar is the browser behind a load balancer.
    browser = requests.Session()
    sign_in(browser, a, "worker@demo.lms")
    cookie = browser.cookies["lms_session"]

    assert signed_in(get(browser, f"{b}/courses/{COURSE}"))
    assert signed_in(get(browser, f"{a}/courses/{COURSE}"))

    post_form(browser, f"{b}/account", {}, action=f"{a}/logout")
    replayed = requests.Session()
    replayed.cookies.set("lms_session", cookie)
    assert not signed_in(get(replayed, f"{b}/courses/{COURSE}"))


def test_a_language_changed_on_a_is_the_language_of_b(servers):
    a, b = servers
    browser = requests.Session()
    sign_in(browser, a, "worker.jinggong@demo.lms")
    assert '<html lang="zh-CN"' in get(browser, f"{b}/account").text

    name = f"Worker {uuid.uuid4().hex[:6]}"
    response = post_form(browser, f"{a}/account", {"name": name, "locale": "en"})
    assert response.status_code == 302

    page = get(browser, f"{b}/account").text
    assert '<html lang="en"' in page and name in page


def test_a_skill_renamed_on_a_is_shown_by_b_on_a_course_page_it_had_cached(servers, env):
    a, b = servers
    admin = requests.Session()
    sign_in(admin, a, "consortium@demo.lms")
    course_on_b = f"{b}/courses/{COURSE}"
    assert "堆栈技能" in get(admin, course_on_b).text  # B has rendered (and cached) the page

    edit = f"{a}/consortia/{env['consortium_id']}/skills/stack-skill/edit"
    page = get(admin, edit).text
    category = re.search(r'<option selected value="([^"]+)"', page) or re.search(
        r'<option value="([^"]+)" selected', page
    )
    response = post_form(
        admin,
        edit,
        {"category_id": category[1], "name_zh": "改名技能", "name_en": "Renamed skill"},
    )
    assert response.status_code == 302, response.text[-2000:]

    page = get(admin, course_on_b).text
    assert "改名技能" in page and "堆栈技能" not in page


def test_a_rate_limit_counted_on_a_applies_on_b(servers):
    a, b = servers
    guesser = requests.Session()
    wrong = {"login": "nobody@example.com", "password": "wrong-password-1"}
    statuses = []
    while 429 not in statuses and len(statuses) <= LOGIN_LIMIT:
        statuses.append(post_form(guesser, f"{a}/login", wrong).status_code)
    assert statuses[0] == 200 and statuses[-1] == 429  # A counted up to the limit

    assert post_form(guesser, f"{b}/login", wrong).status_code == 429
