"""A completion commits first; the certificate's PDF follows, made outside any transaction
(by a worker, or at the end of the request in the embedded mode), once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lms.auth.models import User
from lms.certificates import render, service
from lms.certificates.models import Certificate
from lms.core.storage import storage
from lms.core.types import utcnow
from lms.courses.models import Course
from lms.extensions import db
from lms.jobs import service as jobs
from lms.learning import service as learning


def _complete(app, user, course) -> int:
    """Complete the course through the learning service; return the enrolment id (the
    session's transaction is left open: the caller commits)."""
    c = db.session.get(Course, course.id)
    version = c.versions[-1]
    enrollment, _ = learning.enroll(db.session.get(User, user.id), version)
    for lesson in version.lessons:
        learning.record_progress(enrollment, lesson, percent=100)
    return enrollment.id


def _ready(name: str) -> int:
    """How many committed tasks `name` wait to run (a completion also has the worker's
    recommendations ranked again)."""
    return sum(1 for task, _key in db.session.info.get(jobs._READY, []) if task == name)


@pytest.fixture
def learner(create_firm, create_user, create_course):
    """(a one-lesson course without a quiz, a worker of its firm who reads English)."""
    firm = create_firm()
    return create_course(firm, quiz=False, lessons=1), create_user(
        role="worker", firm=firm, locale="en"
    )


def test_the_completing_transaction_renders_nothing(app, monkeypatch, learner):
    course, worker = learner
    real = render.render_pdf
    renders = []

    def spy(*args, **kwargs):
        renders.append(db.session().in_transaction())
        return real(*args, **kwargs)

    monkeypatch.setattr(render, "render_pdf", spy)
    with app.test_request_context():
        _complete(app, worker, course)
        cert = service.certificate_for(worker.id, db.session.get(Course, course.id).versions[-1].id)
        assert cert is not None and cert.pdf_path is None  # issued, nothing rendered yet
        assert renders == []
        cert_id = cert.id
        db.session.commit()
        assert _ready(service.RENDER_TASK) == 1
        jobs.run_ready_tasks()
        assert renders == [False]  # made after the commit, with no transaction open
        cert = db.session.get(Certificate, cert_id)
        assert cert.pdf_sha256 and storage().exists(cert.pdf_path)
        assert cert.signing_fingerprint


def test_a_rolled_back_completion_queues_no_render(app, monkeypatch, learner):
    course, worker = learner
    with app.test_request_context():
        _complete(app, worker, course)
        db.session.rollback()
        db.session.commit()
        assert jobs.run_ready_tasks() == 0


def test_two_renders_racing_record_one_file(app, certify, create_firm, create_user):
    firm = create_firm()
    issued = certify(create_user(role="worker", firm=firm), firm)
    with app.app_context():
        cert = db.session.get(Certificate, issued.id)
        first_path, first_sha = cert.pdf_path, cert.pdf_sha256
        # A download that found no file renders again while the task's render is recorded:
        # the row names one file, whose content matches its digest.
        storage().local_path(first_path).unlink()
        again = service.ensure_pdf(issued.id)
        assert again.pdf_path != first_path
        assert service.ensure_pdf(issued.id).pdf_path == again.pdf_path  # done: no render
        import hashlib

        assert hashlib.sha256(storage().read(again.pdf_path)).hexdigest() == again.pdf_sha256
        assert again.pdf_sha256 != first_sha


def test_the_sweep_renders_the_certificates_whose_task_was_lost(app, learner):
    course, worker = learner
    with app.test_request_context():
        with service.pdfs_on_first_download():  # as if the task never reached a worker
            _complete(app, worker, course)
        db.session.commit()
        assert _ready(service.RENDER_TASK) == 0
        jobs.run_ready_tasks()
        cert = db.session.scalars(db.select(Certificate).filter_by(user_id=worker.id)).one()
        assert cert.pdf_path is None
        cert_id = cert.id
        assert service.render_missing() == 0  # issued a moment ago: its task may still run
        cert.issued_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
        assert service.render_missing() == 1
        assert db.session.get(Certificate, cert_id).pdf_sha256


def test_a_download_in_the_queued_mode_asks_the_worker_instead_of_rendering(
    app, client, login, monkeypatch, learner
):
    from lms.jobs import worker as celery_side

    course, person = learner
    with app.test_request_context():
        with service.pdfs_on_first_download():
            _complete(app, person, course)
        db.session.commit()
        cert = db.session.scalars(db.select(Certificate).filter_by(user_id=person.id)).one()
        public_id, cert_id = cert.public_id, cert.id
    sent = []
    monkeypatch.setitem(app.config, "LMS_REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setattr(
        celery_side.run_task_task, "apply_async", lambda args, **kw: sent.append(args)
    )
    monkeypatch.setattr(render, "render_pdf", lambda *a, **k: 1 / 0)  # never in the request
    login(person)
    response = client.get(f"/certificates/{public_id}.pdf", headers={"Accept-Language": "en"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "being prepared" in response.get_data(as_text=True)
    assert sent == [(service.RENDER_TASK, cert_id)]
