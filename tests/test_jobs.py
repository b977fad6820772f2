"""Background jobs run inline (no Redis): state, progress, result, failure and re-runs.

The job functions below are real job kinds for these tests: JOB_KINDS is pointed at them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lms.extensions import db
from lms.jobs import service as jobs
from lms.jobs.models import Job
from lms.taxonomy.models import SkillCategory
from lms.tenancy.models import Consortium

CALLS: list[int] = []


def ok_job(job, report) -> dict:
    CALLS.append(job.id)
    report(1, 3)
    report(2, 3)
    return {"counted": 3, "params": job.params}


def bad_job(job, report) -> dict:
    CALLS.append(job.id)
    report(1, 4)
    # Something half-written before the failure: it must not be kept.
    db.session.add(SkillCategory(id="half_written", name_zh="半成品", name_en="Half"))
    db.session.flush()
    raise RuntimeError("boom")


def silent_job(job, report) -> dict:
    CALLS.append(job.id)
    return {}


@pytest.fixture
def kinds(monkeypatch):
    CALLS.clear()
    monkeypatch.setitem(jobs.JOB_KINDS, "test-ok", ok_job)
    monkeypatch.setitem(jobs.JOB_KINDS, "test-bad", bad_job)
    monkeypatch.setitem(jobs.JOB_KINDS, "test-silent", silent_job)
    yield
    CALLS.clear()


def test_an_inline_job_ends_done_with_full_progress_and_its_result(
    app, kinds, create_consortium, create_user
):
    consortium = create_consortium()
    actor = create_user()
    with app.test_request_context():
        job = jobs.start_job(
            "test-ok",
            actor=actor,
            consortium=db.session.get(Consortium, consortium.id),
            params={"x": 1},
        )
        job_id = job.id
    with app.test_request_context():
        job = db.session.get(Job, job_id)
        assert job.state == "done"
        assert (job.progress, job.total) == (3, 3)
        assert job.percent == 100
        assert job.result == {"counted": 3, "params": {"x": 1}}
        assert job.error == ""
        assert job.started_at is not None and job.finished_at is not None
        assert job.created_by_id == actor.id and job.consortium_id == consortium.id
        assert job.is_finished
        assert len(job.public_id) >= 16
    assert [job_id] == CALLS


def test_a_job_without_progress_reports_is_done_with_zero_total(app, kinds):
    with app.test_request_context():
        job_id = jobs.start_job("test-silent").id
    with app.test_request_context():
        job = db.session.get(Job, job_id)
        assert (job.state, job.progress, job.total, job.result) == ("done", 0, 0, {})
        assert job.percent == 100


def test_a_raising_job_fails_with_internal_error_and_keeps_nothing_half_written(app, kinds):
    with app.test_request_context():
        job_id = jobs.start_job("test-bad").id
    with app.test_request_context():
        job = db.session.get(Job, job_id)
        assert job.state == "failed"
        assert job.error == "internal"  # no exception text leaks to the page
        assert job.finished_at is not None
        assert job.result == {}
        assert db.session.get(SkillCategory, "half_written") is None
        # The failed job is kept (one row), so its page can say what happened.
        assert db.session.scalars(select(Job)).all() == [job]
    assert [job_id] == CALLS


def test_run_job_on_a_finished_job_is_a_no_op(app, kinds):
    with app.test_request_context():
        done_id = jobs.start_job("test-ok").id
        failed_id = jobs.start_job("test-bad").id
    assert len(CALLS) == 2
    with app.test_request_context():
        before = {
            i: (j.state, j.progress, j.total, j.result, j.error, j.finished_at)
            for i in (done_id, failed_id)
            for j in [db.session.get(Job, i)]
        }
    with app.test_request_context():
        assert jobs.run_job(done_id).state == "done"
        assert jobs.run_job(failed_id).state == "failed"
        db.session.commit()
    with app.test_request_context():
        after = {
            i: (j.state, j.progress, j.total, j.result, j.error, j.finished_at)
            for i in (done_id, failed_id)
            for j in [db.session.get(Job, i)]
        }
        assert jobs.run_job(10**9) is None  # an unknown id is ignored
    assert after == before
    assert len(CALLS) == 2  # the functions did not run again


def test_an_unknown_kind_is_refused_and_creates_no_row(app, kinds):
    with app.test_request_context():
        with pytest.raises(ValueError):
            jobs.start_job("no-such-kind")
        assert db.session.scalars(select(Job)).all() == []


def test_only_the_starter_gets_the_job(app, kinds, create_user):
    starter, other = create_user(), create_user()
    with app.test_request_context():
        from lms.auth.models import User

        public_id = jobs.start_job("test-ok", actor=db.session.get(User, starter.id)).public_id
        assert jobs.get_job_for(db.session.get(User, starter.id), public_id).public_id == public_id
        assert jobs.get_job_for(db.session.get(User, other.id), public_id) is None
        assert jobs.get_job_for(db.session.get(User, starter.id), "nope") is None
