"""Bulk issuing by a consortium admin (a background job ending with a ZIP) and issuing by a
trainer from the course learners page."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.core.types import utcnow
from lms.courses.models import Course
from lms.extensions import db
from lms.jobs.models import Job
from lms.learning import service as learning
from lms.learning.models import Enrollment


def complete_quietly(app, user, course, *, completed: bool = True) -> str:
    """Enrol `user` and mark the enrolment completed without the completion event (so no
    certificate is issued: as for completions from before certificates existed)."""
    with app.test_request_context():
        version = db.session.get(Course, course.id).versions[-1]
        enrollment, _ = learning.enroll(db.session.get(User, user.id), version)
        if completed:
            enrollment.status, enrollment.completed_at = "completed", utcnow()
        db.session.commit()
        return enrollment.public_id


@pytest.fixture
def cohort(app, create_consortium, create_firm, create_user, create_course, certify):
    """Firm A authors a course; a1 has its certificate, a2 and b1 completed without one, b2 is
    still learning."""
    consortium = create_consortium()
    firm_a, firm_b = create_firm(consortium), create_firm(consortium)
    p = {
        "a1": create_user(role="worker", firm=firm_a, name="张三丰"),
        "a2": create_user(role="worker", firm=firm_a, name="李四"),
        "b1": create_user(role="worker", firm=firm_b, name="王五"),
        "b2": create_user(role="worker", firm=firm_b, name="赵六"),
        "admin": create_user(role="consortium_admin", consortium=consortium),
        "admin2": create_user(role="consortium_admin", consortium=consortium),
        "trainer_a": create_user(role="trainer", firm=firm_a),
        "trainer_b": create_user(role="trainer", firm=firm_b),
    }
    course = create_course(firm_a, quiz=False, lessons=1, title="安全生产培训")
    certify(p["a1"], firm_a, course)
    enrollments = {
        "a2": complete_quietly(app, p["a2"], course),
        "b1": complete_quietly(app, p["b1"], course),
        "b2": complete_quietly(app, p["b2"], course, completed=False),
    }
    return SimpleNamespace(
        consortium=consortium,
        firm_a=firm_a,
        firm_b=firm_b,
        people=p,
        course=course,
        enrollments=enrollments,
    )


def certs_of(app, course_id: int) -> dict[int, Certificate]:
    with app.app_context():
        rows = db.session.scalars(select(Certificate).where(Certificate.course_id == course_id))
        return {
            c.user_id: SimpleNamespace(
                **{
                    k: getattr(c, k)
                    for k in ("id", "serial", "source", "issued_by_id", "firm_id", "pdf_path")
                }
            )
            for c in rows
        }


def start_bulk(client, world, **data):
    url = f"/consortia/{world.consortium.id}/certificates/bulk"
    return client.post(url, data={"course": str(world.course.id), "target": "cohort", **data})


def job_of(app, response) -> Job:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    public_id = response.headers["Location"].rstrip("/").split("/")[-1]
    with app.app_context():
        job = db.session.scalars(select(Job).where(Job.public_id == public_id)).one()
        db.session.expunge(job)
        return job


def zip_names(response) -> list[str]:
    return sorted(zipfile.ZipFile(io.BytesIO(response.data)).namelist())


def test_bulk_issues_the_missing_ones_and_a_rerun_nothing_new(app, client, login, cohort):
    p = cohort.people
    login(p["admin"])
    page = client.get(f"/consortia/{cohort.consortium.id}/certificates/bulk")
    assert page.status_code == 200 and "安全生产培训" in page.get_data(as_text=True)
    listing = client.get(f"/consortia/{cohort.consortium.id}/certificates")
    assert f"/consortia/{cohort.consortium.id}/certificates/bulk" in listing.get_data(as_text=True)

    job = job_of(app, start_bulk(client, cohort))
    assert job.kind == "certificates.bulk" and job.state == "done"
    assert job.result["issued"] == 2 and job.result["existing"] == 1
    assert job.total == 3 and job.progress == 3
    assert job.result["zip"] == f"jobs/{job.public_id}/certificates.zip"
    certs = certs_of(app, cohort.course.id)
    assert set(certs) == {p["a1"].id, p["a2"].id, p["b1"].id}  # b2 hasn't completed
    for key in ("a2", "b1"):
        assert certs[p[key].id].source == "bulk"
        assert certs[p[key].id].issued_by_id == p["admin"].id
    assert certs[p["a1"].id].source == "completion"

    # the job page: done, with the counts and the download link
    html = client.get(f"/jobs/{job.public_id}").get_data(as_text=True)
    assert 'data-job-state="done"' in html
    assert job.result["next"] in html
    counts = html.split('class="job-counts">', 1)[1].split("</p>", 1)[0]
    assert "2" in counts and "1" in counts
    status = client.get(f"/jobs/{job.public_id}/status").get_json()
    assert status["finished"] and status["percent"] == 100

    download = client.get(job.result["next"])
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert zip_names(download) == sorted(f"{c.serial}.pdf" for c in certs.values())
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        assert all(archive.read(n).startswith(b"%PDF") for n in archive.namelist())
    download.close()

    # re-run: nothing issued twice, the ZIP still has one PDF per certificate
    again = job_of(app, start_bulk(client, cohort))
    assert again.result["issued"] == 0 and again.result["existing"] == 3
    assert certs_of(app, cohort.course.id).keys() == certs.keys()
    with app.app_context():
        assert db.session.scalar(select(func.count(Certificate.id))) == 3
    download = client.get(again.result["next"])
    assert zip_names(download) == sorted(f"{c.serial}.pdf" for c in certs.values())
    download.close()


def test_each_certificate_is_committed_on_its_own(app, cohort):
    """Progress is reported (and committed) after every certificate, so the serial counter's
    row is locked for one short transaction at a time, never across a batch of renders."""
    from lms.certificates import bulk

    calls = []
    with app.app_context():  # as in a Celery worker: no request
        job = Job(
            kind=bulk.KIND,
            consortium_id=cohort.consortium.id,
            created_by_id=cohort.people["admin"].id,
            params={"course": cohort.course.id, "firm": None},
        )
        db.session.add(job)
        db.session.commit()
        result = bulk.bulk_job(job, lambda done, total: calls.append((done, total)))
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert result["issued"] == 2 and result["existing"] == 1
    assert result["next"].endswith("/certificates.zip")


def test_missing_pdfs_are_rendered_for_the_zip(app, client, login, cohort):
    from lms.core.storage import storage

    login(cohort.people["admin"])
    job_of(app, start_bulk(client, cohort))
    a1 = certs_of(app, cohort.course.id)[cohort.people["a1"].id]
    with app.app_context():
        storage().local_path(a1.pdf_path).unlink()
    job = job_of(app, start_bulk(client, cohort))
    download = client.get(job.result["next"])
    assert f"{a1.serial}.pdf" in zip_names(download)
    download.close()


def test_firm_option_issues_only_for_that_firm(app, client, login, cohort):
    p = cohort.people
    login(p["admin"])
    # "one firm" without choosing the firm: the form says so, no job starts
    refused = start_bulk(client, cohort, target="firm", firm="")
    assert refused.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(Job.id))) == 0

    job = job_of(app, start_bulk(client, cohort, target="firm", firm=str(cohort.firm_b.id)))
    assert job.result["issued"] == 1 and job.result["existing"] == 0
    assert job.firm_id == cohort.firm_b.id
    certs = certs_of(app, cohort.course.id)
    assert p["b1"].id in certs and p["a2"].id not in certs
    download = client.get(job.result["next"])
    assert zip_names(download) == [f"{certs[p['b1'].id].serial}.pdf"]
    download.close()


def test_zip_only_for_its_starter_and_expires(app, client, login, cohort):
    login(cohort.people["admin"])
    job = job_of(app, start_bulk(client, cohort))
    url = job.result["next"]
    assert url == f"/jobs/{job.public_id}/certificates.zip"

    client.post("/logout")
    login(cohort.people["admin2"])  # an admin of the same consortium, not the starter
    assert client.get(url).status_code == 404
    assert client.get(f"/jobs/{job.public_id}").status_code == 404

    client.post("/logout")
    login(cohort.people["admin"])
    with app.app_context():
        row = db.session.get(Job, job.id)
        row.finished_at = utcnow() - timedelta(hours=25)
        db.session.commit()
    expired = client.get(url)
    assert expired.status_code == 410
    assert expired.mimetype == "text/html"


def test_bulk_needs_certificate_manage(app, client, login, cohort):
    login(cohort.people["trainer_a"])
    assert start_bulk(client, cohort).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count(Job.id))) == 0


# --- trainer -------------------------------------------------------------------------------


def issue_url(world, key: str) -> str:
    return f"/courses/{world.course.slug}/learners/{world.enrollments[key]}/certificate"


def test_trainer_issues_for_a_completed_enrolment_once(app, client, login, cohort):
    p = cohort.people
    login(p["trainer_a"])
    learners = client.get(f"/courses/{cohort.course.slug}/learners").get_data(as_text=True)
    assert issue_url(cohort, "a2") in learners
    assert issue_url(cohort, "b2") not in learners  # not completed: no button

    first = client.post(issue_url(cohort, "a2"))
    assert first.status_code == 302
    assert first.headers["Location"].endswith(f"/courses/{cohort.course.slug}/learners")
    cert = certs_of(app, cohort.course.id)[p["a2"].id]
    assert cert.source == "trainer" and cert.issued_by_id == p["trainer_a"].id
    assert client.post(issue_url(cohort, "a2")).status_code == 302  # a double submit
    with app.app_context():
        count = db.session.scalar(
            select(func.count(Certificate.id)).where(Certificate.user_id == p["a2"].id)
        )
    assert count == 1
    page = client.get(f"/courses/{cohort.course.slug}/learners").get_data(as_text=True)
    assert cert.serial in page  # "already has certificate …" flash


def test_trainer_cannot_issue_before_completion(app, client, login, cohort):
    login(cohort.people["trainer_a"])
    response = client.post(issue_url(cohort, "b2"))
    assert response.status_code == 302
    assert cohort.people["b2"].id not in certs_of(app, cohort.course.id)
    with app.app_context():
        enrollment = db.session.scalars(
            select(Enrollment).where(Enrollment.public_id == cohort.enrollments["b2"])
        ).one()
        assert enrollment.status != "completed"


@pytest.mark.parametrize("who", ["a2", "trainer_b", "admin"])
def test_others_cannot_issue_as_trainer(app, client, login, cohort, who):
    login(cohort.people[who])
    assert client.post(issue_url(cohort, "a2")).status_code == 404
    assert cohort.people["a2"].id not in certs_of(app, cohort.course.id)


def test_trainer_of_another_consortium_gets_404(
    app, client, login, cohort, create_firm, create_user
):
    stranger = create_user(role="trainer", firm=create_firm())
    login(stranger)
    assert client.post(issue_url(cohort, "a2")).status_code == 404
