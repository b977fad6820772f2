"""Certificate fixtures: courses completed through the learning service (which issues the
certificate through the course_completed signal), and a world of two firms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest

from lms.auth.models import User
from lms.certificates import service
from lms.courses.models import Course
from lms.extensions import db, limiter
from lms.jobs.service import run_ready_tasks
from lms.learning import service as learning


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app):
    """The public pages share one rate-limit budget per address; each test starts afresh."""
    with app.app_context():
        limiter.reset()
    yield
    with app.app_context():
        limiter.reset()


@pytest.fixture(autouse=True)
def _signing_keys(app, monkeypatch, tmp_path_factory):
    """Each test signs with keys of its own folder (consortium ids repeat across rolled-back
    tests), never with the instance folder's."""
    monkeypatch.setitem(app.config, "LMS_SIGNING_KEY_DIR", str(tmp_path_factory.mktemp("keys")))


@dataclass
class Issued:
    id: int
    public_id: str
    serial: str
    public_code: str  # opens the verification page
    badge_code: str  # addresses the Open Badges assertion
    course_id: int
    slug: str
    consortium_code: str
    enrollment_id: int


@pytest.fixture
def certify(app, create_course):
    """certify(user, firm, course=None, months=None): enrol `user` and complete every lesson
    through lms.learning.service; the completion event issues the certificate."""

    def make(user, firm, course=None, *, months: int | None = None) -> Issued:
        course = course or create_course(firm, quiz=False, lessons=1)
        with app.test_request_context():
            c = db.session.get(Course, course.id)
            if months is not None:
                c.certificate_months = months
            version = c.versions[-1]
            enrollment, _ = learning.enroll(db.session.get(User, user.id), version)
            for lesson in version.lessons:
                learning.record_progress(enrollment, lesson, percent=100)
            db.session.commit()
            run_ready_tasks()  # as at the end of a request: the PDF is made after the commit
            cert = service.certificate_for(user.id, version.id)
            assert cert is not None, "completing the course issues the certificate"
            return Issued(
                cert.id,
                cert.public_id,
                cert.serial,
                cert.public_code,
                cert.verification_code,
                c.id,
                c.slug,
                c.consortium.code,
                enrollment.id,
            )

    return make


@pytest.fixture
def two_firms(create_consortium, create_firm, create_user, create_course, certify):
    """Consortium with firms A (two certified workers) and B (one), and their admins."""
    consortium = create_consortium()
    firm_a, firm_b = create_firm(consortium), create_firm(consortium)
    people = {
        "a1": create_user(role="worker", firm=firm_a, name="张三丰"),
        "a2": create_user(role="worker", firm=firm_a, name="李四"),
        "b1": create_user(role="worker", firm=firm_b, name="王五"),
        "firm_admin_a": create_user(role="firm_admin", firm=firm_a),
        "firm_admin_b": create_user(role="firm_admin", firm=firm_b),
        "consortium_admin": create_user(role="consortium_admin", consortium=consortium),
    }
    course = create_course(firm_a, quiz=False, lessons=1, title="安全生产培训")
    certs = {key: certify(people[key], firm_a, course) for key in ("a1", "a2", "b1")}
    return consortium, firm_a, firm_b, people, certs


def set_dates(cert_id: int, *, expires_on: date | None = None) -> None:
    """Change a certificate's expiry in place (call inside an app context)."""
    from lms.certificates.models import Certificate

    cert = db.session.get(Certificate, cert_id)
    cert.expires_on = expires_on
    db.session.commit()


_CSRF = re.compile(r'(name="csrf_token"[^>]*?value=")[^"]*"')


def without_csrf(html: str) -> str:
    """A page with its CSRF tokens blanked (they differ from request to request)."""
    return _CSRF.sub(r'\1"', html)
