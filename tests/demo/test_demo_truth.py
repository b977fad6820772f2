"""The demo data tells the truth (issue 13): its history is made through the services, as real
use makes it, so what the pages show agrees — every completion has its lessons done, its quizzes
passed, its practical tasks signed off by an assessor of the course, its certificate, skill
evidence and hours; every completed enrolment is at 100 %; the consortium dashboard counts as
many certificates as completions; every course's funnel only narrows; and it all happened over
past months, not at load time."""

from __future__ import annotations

import re
from datetime import timedelta

from lxml import html as lxml_html
from sqlalchemy import func, select

from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.certificates.service import live_certificate_of
from lms.core.types import local_date, local_today, utcnow
from lms.courses.assessors import may_sign_off
from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.models import Course
from lms.demo.data import DEMO_PASSWORD
from lms.extensions import db
from lms.learning.models import Assignment, Enrollment, PracticalSignoff, QuizAttempt
from lms.learning.service import lesson_done, progress_map, progress_percent
from lms.reports.course_analytics import CourseFilters, lesson_funnel
from lms.skills.models import SkillEvidence
from lms.tenancy.models import Consortium
from lms.transcripts.service import credit_of


def _load_demo(app) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert re.search(r"(\d+) completions with \1 certificates", result.output), result.output


def _dashboard_figures(client, login, admin: User, consortium_id: int) -> dict[str, int]:
    """The consortium dashboard's figures as the consortium admin's page shows them, by
    metric."""
    login(admin, password=DEMO_PASSWORD)
    response = client.get(f"/consortia/{consortium_id}/reports")
    assert response.status_code == 200
    page = lxml_html.fromstring(response.get_data(as_text=True))
    figures = {}
    for link in page.xpath('//dl[contains(@class, "figures")]//dd/a'):
        metric = re.search(r"[?&]metric=(\w+)", link.get("href"))
        if metric:
            figures[metric.group(1)] = int(re.sub(r"\D", "", link.text_content()))
    return figures


def test_every_demo_completion_has_its_evidence_and_the_figures_agree(app, client, login):
    _load_demo(app)
    with app.test_request_context():
        consortium = db.session.scalars(select(Consortium).where(Consortium.code == "TS")).one()
        enrollments = db.session.scalars(
            select(Enrollment).where(Enrollment.consortium_id == consortium.id)
        ).all()
        completed = [e for e in enrollments if e.status == "completed"]
        assert len(completed) >= 30, len(completed)
        now = utcnow()

        for e in completed:
            where = f"{e.course.slug} of user {e.user_id}"
            assert progress_percent(e) == 100, where
            progress = progress_map(e)
            assert all(lesson_done(x, progress) for x in e.version.lessons), where
            for lesson in e.version.lessons:
                completion = LESSON_TYPES[lesson.type].completion
                if completion == "quiz":
                    passed = db.session.scalar(
                        select(func.count(QuizAttempt.id)).where(
                            QuizAttempt.enrollment_id == e.id,
                            QuizAttempt.lesson_key == lesson.key,
                            QuizAttempt.is_passed.is_(True),
                        )
                    )
                    assert passed == 1, (where, lesson.key)
                elif completion == "signoff":
                    signoff = db.session.scalars(
                        select(PracticalSignoff).where(
                            PracticalSignoff.enrollment_id == e.id,
                            PracticalSignoff.lesson_key == lesson.key,
                        )
                    ).one()
                    signer = db.session.get(User, signoff.signed_by_id)
                    assert signer.id != e.user_id and may_sign_off(signer, e.course), where
                    assert signoff.signed_at <= e.completed_at, where
            cert = live_certificate_of(e)
            assert cert is not None, where
            # Issued by the completion itself, as of its moment.
            assert cert.issued_at == e.completed_at, where
            assert cert.completed_on == local_date(e.completed_at), where
            assert credit_of(e) is not None, where
            assert db.session.scalar(
                select(func.count(SkillEvidence.id)).where(
                    SkillEvidence.enrollment_id == e.id, SkillEvidence.source == "course"
                )
            ) == len(e.version.skill_levels), where
            # A history over past months, in the order real use has.
            assert e.enrolled_at <= e.started_at <= e.completed_at < now, where
        assert len({local_date(e.completed_at).month for e in completed}) >= 3
        assert min(e.enrolled_at for e in enrollments) < now - timedelta(days=90)
        assert max(e.enrolled_at for e in enrollments) < now

        # Work under way: started or not, never all done without being completed.
        unfinished = [e for e in enrollments if e.status != "completed"]
        assert {"enrolled", "in_progress"} <= {e.status for e in unfinished}
        assert all(progress_percent(e) < 100 for e in unfinished)

        # Every firm has an overdue mandatory assignment (to remind about) among its work.
        overdue = db.session.scalars(
            select(Assignment.firm_id)
            .join(Enrollment, Enrollment.id == Assignment.enrollment_id)
            .where(
                Assignment.consortium_id == consortium.id,
                Assignment.is_mandatory.is_(True),
                Assignment.due_on < local_today(),
                Enrollment.completed_at.is_(None),
            )
        ).all()
        assert set(overdue) == {f.id for f in consortium.firms}, overdue

        # No certificate without a completion.
        certificates = db.session.scalar(
            select(func.count(Certificate.id)).where(Certificate.consortium_id == consortium.id)
        )
        assert certificates == len(completed)

        # Every course's funnel narrows step by step; the last quiz counts every completion.
        for course in db.session.scalars(
            select(Course).where(Course.consortium_id == consortium.id)
        ):
            funnel = lesson_funnel(course, CourseFilters())
            reached = [funnel.enrolled] + [s.reached for s in funnel.steps]
            done = [funnel.enrolled] + [s.completed for s in funnel.steps]
            assert reached == sorted(reached, reverse=True), (course.slug, reached)
            assert done == sorted(done, reverse=True), (course.slug, done)
            assert all(s.completed <= s.reached for s in funnel.steps), course.slug
            quizzes = [s for s in funnel.steps if LESSON_TYPES[s.lesson.type].completion == "quiz"]
            completions = sum(1 for e in completed if e.course_id == course.id)
            if quizzes:
                assert quizzes[-1].completed >= completions, course.slug

        # The named accounts keep the stories the browser journeys rely on.
        named = {
            u.email: u
            for u in db.session.scalars(
                select(User).where(User.email.in_(["worker@demo.lms", "worker.jinggong@demo.lms"]))
            )
        }
        slugs = {
            email: {e.course.slug for e in enrollments if e.user_id == user.id}
            for email, user in named.items()
        }
        assert slugs["worker@demo.lms"] == set()
        assert (
            slugs["worker.jinggong@demo.lms"]
            and "industrial-networks" not in slugs["worker.jinggong@demo.lms"]
        )
        consortium_id = consortium.id
        completions = len(completed)
        admin = db.session.scalars(select(User).where(User.email == "consortium@demo.lms")).one()
        # The demo's certificates get their PDF on first download (lms.demo.data._History.run).
        cert = live_certificate_of(completed[0])
        holder, cert_id = db.session.get(User, cert.user_id), cert.public_id
        assert cert.pdf_path is None

    # The dashboard: as many certificates as completions (every demo course issues them).
    figures = _dashboard_figures(client, login, admin, consortium_id)
    assert figures["completed"] == completions
    assert figures["certificates"] == completions

    # A demo worker downloads their certificate: a PDF, rendered and stored on the way.
    worker = app.test_client()
    login(holder, password=DEMO_PASSWORD, c=worker)
    response = worker.get(f"/certificates/{cert_id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.get_data().startswith(b"%PDF-")
    response.close()
    with app.app_context():
        stored = db.session.scalars(select(Certificate).where(Certificate.public_id == cert_id))
        assert stored.one().pdf_sha256
