"""Fixtures: one app per run on SQLite or PostgreSQL, a rolled-back transaction per test,
and `create_*` factories."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

import pytest
from flask_sqlalchemy.session import Session as FlaskSession

os.environ.setdefault("LMS_SECRET_KEY", "test-secret-key-not-for-production")

from lms import create_app  # noqa: E402
from lms.auth.models import User  # noqa: E402
from lms.auth.passwords import hash_password  # noqa: E402
from lms.core.codes import uscc_check_char  # noqa: E402
from lms.extensions import db  # noqa: E402
from lms.skills import recommendations  # noqa: E402
from lms.tenancy.models import Consortium, Firm, Membership  # noqa: E402

PASSWORD = "Correct-Horse-42"
_PASSWORD_HASH = hash_password(PASSWORD)
_TMP = Path(tempfile.mkdtemp(prefix="lms-tests-"))
RESULTS = Path(__file__).resolve().parent.parent / ".test-results"


def database_url() -> str:
    return os.environ.get("LMS_TEST_DATABASE_URL") or f"sqlite:///{_TMP / 'test.sqlite3'}"


def database_kind() -> str:
    return "postgresql" if database_url().startswith("postgres") else "sqlite"


def pytest_report_header(config):
    return f"database: {database_kind()} ({database_url().split('@')[-1]})"


def pytest_sessionfinish(session, exitstatus):
    """Leave a marker that this database half ran and passed (checked by .ci/run)."""
    if exitstatus == 0 and session.testscollected > 0:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{database_kind()}.ok").write_text(f"{session.testscollected} tests\n")


TEST_CONFIG = {
    "TESTING": True,
    "WTF_CSRF_ENABLED": False,
    "LMS_LOGIN_RATE_LIMIT": "10000 per minute",
    "RATELIMIT_STORAGE_URI": "memory://",
    "LMS_STORAGE_DIR": str(_TMP / "storage"),
    "LMS_SIGNING_KEY_DIR": str(_TMP / "keys"),
}


@pytest.fixture(scope="session")
def app():
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url()})
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


class _BoundSession(FlaskSession):
    """Flask-SQLAlchemy's session picks engines by bind key; pin it to the test connection."""

    def get_bind(self, *args, **kwargs):
        return self.bind


@pytest.fixture(autouse=True)
def _rollback(request, app):
    """Run each test inside one outer transaction that is rolled back afterwards.

    Sessions join it with savepoints, so code under test may commit freely.
    Browser tests (marked e2e) run against their own server and database instead.
    """
    if request.node.get_closest_marker("e2e"):
        yield
        return
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
    original = db.session
    db.session = db._make_scoped_session(
        {"class_": _BoundSession, "bind": connection, "join_transaction_mode": "create_savepoint"}
    )
    try:
        yield
    finally:
        with app.app_context():
            db.session.remove()
        db.session = original
        transaction.rollback()
        connection.close()
        recommendations.forget_kept()  # ids and stamps of the rolled-back rows come again


@pytest.fixture
def ctx(app):
    """An app context for service-level tests (don't mix with `client` requests)."""
    with app.test_request_context():
        yield


@pytest.fixture
def client(app):
    return app.test_client()


def _in_context(app, fn):
    """Run a factory in its own app context; commit releases its savepoint only."""
    with app.app_context():
        result = fn()
        db.session.commit()
        db.session.refresh(result)
        return result


_counter = iter(range(1, 10**6))


@pytest.fixture
def create_consortium(app):
    def make(**kw) -> Consortium:
        n = next(_counter)
        values = dict(
            code=f"C{n}",
            name=f"Consortium {n}",
            city="唐山",
            region="east",
            sectors=["smart-manufacturing"],
        )
        values.update(kw)

        def go():
            c = Consortium(**values)
            db.session.add(c)
            return c

        return _in_context(app, go)

    return make


def valid_credit_code(n: int) -> str:
    first17 = f"91130200MA{n:07d}"
    return first17 + uscc_check_char(first17)


@pytest.fixture
def create_firm(app, create_consortium):
    def make(consortium: Consortium | None = None, **kw) -> Firm:
        consortium = consortium or create_consortium()
        n = next(_counter)
        values = dict(name=f"Firm {n}", kind="specialized_sme", credit_code=valid_credit_code(n))
        values.update(kw)

        def go():
            f = Firm(consortium_id=consortium.id, **values)
            db.session.add(f)
            return f

        return _in_context(app, go)

    return make


@pytest.fixture
def create_user(app):
    """A user, optionally with a role: create_user(role="worker", firm=firm)."""

    def make(
        *,
        role: str | None = None,
        firm: Firm | None = None,
        consortium: Consortium | None = None,
        job_role: str | None = None,
        **kw,
    ) -> User:
        n = next(_counter)
        values = dict(
            name=f"用户{n}",
            email=f"user{n}@example.com",
            mobile=f"139{n:08d}",
            password_hash=_PASSWORD_HASH,
        )
        values.update(kw)
        if "password" in values:
            values["password_hash"] = hash_password(values.pop("password"))

        def go():
            from lms.core.types import utcnow

            u = User(password_changed_at=utcnow(), **values)
            db.session.add(u)
            if role:
                cid = consortium.id if consortium else firm.consortium_id
                db.session.add(
                    Membership(
                        user=u,
                        consortium_id=cid,
                        firm_id=firm.id if firm else None,
                        role=role,
                        job_role_id=job_role,
                        starts_on=date(2026, 1, 1),
                    )
                )
            return u

        return _in_context(app, go)

    return make


def ensure_skills(skill_ids) -> None:
    """Skills (and their category "testing") that don't exist yet; call inside a context."""
    from lms.taxonomy.models import Skill, SkillCategory

    if db.session.get(SkillCategory, "testing") is None:
        db.session.add(SkillCategory(id="testing", name_zh="测试类", name_en="Testing"))
    for skill_id in skill_ids:
        if db.session.get(Skill, skill_id) is None:
            db.session.add(
                Skill(
                    id=skill_id, category_id="testing", name_zh=f"技能{skill_id}", name_en=skill_id
                )
            )
    db.session.flush()


@pytest.fixture
def create_role(app):
    """A job role: create_role("plc_tech", {"plc": 3}, name_zh="PLC 技术员", firm=firm)."""
    from lms.taxonomy.models import JobRole, RoleSkill

    def make(role_id: str | None = None, skills: dict | None = None, **kw) -> JobRole:
        role_id = role_id or f"role_{next(_counter)}"
        skills = {"skill_a": 2} if skills is None else skills
        firm, consortium = kw.pop("firm", None), kw.pop("consortium", None)
        values = dict(name_zh=f"岗位{role_id}", name_en=f"Role {role_id}")
        values.update(kw)

        def go():
            ensure_skills(skills)
            role = JobRole(
                id=role_id,
                consortium_id=(
                    firm.consortium_id if firm else consortium.id if consortium else None
                ),
                firm_id=firm.id if firm else None,
                requirements=[
                    RoleSkill(skill_id=s, level=level, position=i)
                    for i, (s, level) in enumerate(skills.items())
                ],
                **values,
            )
            db.session.add(role)
            return role

        return _in_context(app, go)

    return make


@pytest.fixture
def login(client):
    def do(user: User, password: str = PASSWORD, remember: bool = False, c=None):
        c = c or client
        response = c.post(
            "/login",
            data={
                "login": user.email or user.mobile,
                "password": password,
                **({"remember": "y"} if remember else {}),
            },
        )
        assert response.status_code == 302, response.data[:500]
        return response

    return do


def write_package(
    root: Path,
    slug: str,
    *,
    version: int = 1,
    lessons: int = 3,
    quiz: bool = True,
    practical: bool = False,
    prerequisites=(),
    skills=(),
    title: str | None = None,
    language: str = "zh-CN",
) -> Path:
    """A small valid course package on disk (for tests of import, learning and the catalogue)."""
    import yaml

    pkg = root / slug
    (pkg / "lessons").mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(1, lessons + 1):
        name = f"lessons/{i:02d}.md"
        (pkg / name).write_text(
            f"---\ntitle: 第{i}课\nminutes: 5\n---\n# 第{i}课\n\n正文 {i}。\n", encoding="utf-8"
        )
        entries.append({"file": name})
    if quiz:
        (pkg / "quizzes").mkdir(exist_ok=True)
        (pkg / "quizzes/final.yaml").write_text(
            yaml.safe_dump(
                {
                    "title": "测验",
                    "pass_mark": 50,
                    "attempts": 2,
                    "shuffle": False,
                    "questions": [
                        {
                            "type": "single",
                            "prompt": "1+1=?",
                            "choices": ["1", "2"],
                            "answer": "2",
                            "explanation": "算术",
                        },
                        {
                            "type": "fill_blank",
                            "prompt": "PLC 的中文？",
                            "answer": ["可编程控制器"],
                            "explanation": "术语",
                        },
                    ],
                },
                allow_unicode=True,
            ),
            encoding="utf-8",
        )
        entries.append({"quiz": "quizzes/final.yaml"})
    if practical:
        entries.append({"practical": "实操", "checklist": ["步骤一", "步骤二"]})
    meta = {
        "slug": slug,
        "version": version,
        "language": language,
        "title": title or f"课程 {slug}",
        "summary": "测试课程。",
        "sector": "smart-manufacturing",
        "hours": 2,
        "skills": [dict(s) for s in skills],
        "prerequisites": list(prerequisites),
        "pass_mark": 60,
        "modules": [{"title": "模块一", "lessons": entries}],
    }
    (pkg / "course.yaml").write_text(
        yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return pkg


@pytest.fixture
def create_course(app, tmp_path, create_firm):
    """A published course imported through the real package reader: create_course(firm, ...)."""

    def make(firm: Firm | None = None, slug: str | None = None, **kw):
        from lms.courses.package import read_package
        from lms.courses.service import import_package
        from lms.taxonomy.service import known_skill_ids

        firm = firm or create_firm()
        slug = slug or f"course-{next(_counter)}"
        pkg = write_package(tmp_path, slug, **kw)
        with app.test_request_context():
            consortium = db.session.get(Consortium, firm.consortium_id)
            known = {s for s in known_skill_ids()}
            from lms.courses.service import course_slugs

            package = read_package(pkg, known_skills=known, known_courses=course_slugs(consortium))
            assert not package.problems, package.problems
            version, _ = import_package(None, consortium, db.session.get(Firm, firm.id), package)
            db.session.commit()
            db.session.refresh(version)
            course = version.course
            db.session.refresh(course)
            return course

    return make


class FakeSMTP:
    """Stands in for smtplib.SMTP and SMTP_SSL: records what would have been sent.

    `FakeSMTP.sent` has every message of the test, `instances` every connection."""

    instances: list = []
    sent: list = []

    def __init__(self, host, port, timeout=None, **_kw):
        self.host, self.port, self.messages, self.logged_in = host, port, [], None
        FakeSMTP.instances.append(self)

    def ehlo(self):
        return (250, b"ok")

    def has_extn(self, name):
        return False

    def starttls(self, **_kw):
        return (220, b"ok")

    def login(self, user, password):
        self.logged_in = (user, password)

    def send_message(self, msg):
        self.messages.append(msg)
        FakeSMTP.sent.append(msg)

    def noop(self):
        return (250, b"ok")

    def quit(self):
        pass


@pytest.fixture
def fake_smtp(app, monkeypatch):
    """E-mail on (LMS_SMTP_URL set), sent to a FakeSMTP."""
    import smtplib

    FakeSMTP.instances, FakeSMTP.sent = [], []
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    monkeypatch.setattr(smtplib, "SMTP_SSL", FakeSMTP)
    monkeypatch.setitem(app.config, "LMS_SMTP_URL", "smtp://mail.example")
    return FakeSMTP
