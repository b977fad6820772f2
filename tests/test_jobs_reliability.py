"""Jobs you can trust: one claim per job, heartbeats and the reaper, a queue that is down, the
job page's "stalled" and "Start again", and the tasks that follow a commit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lms.core.types import utcnow
from lms.extensions import db
from lms.jobs import service as jobs
from lms.jobs.models import Job

RUNS: list[int] = []
DONE: list[str] = []


def counting_job(job, report) -> dict:
    RUNS.append(job.id)
    report(1, 1)
    return {"ok": True}


def recording_task(key) -> None:
    DONE.append(key)


@pytest.fixture
def kinds(monkeypatch):
    RUNS.clear()
    DONE.clear()
    monkeypatch.setitem(jobs.JOB_KINDS, "test-count", counting_job)
    monkeypatch.setitem(jobs.TASKS, "test-task", recording_task)
    yield
    RUNS.clear()
    DONE.clear()


def _job(state="queued", **kw) -> Job:
    job = Job(kind="test-count", state=state, **kw)
    db.session.add(job)
    db.session.commit()
    return job


def test_a_job_delivered_twice_runs_once(app, kinds):
    with app.app_context():
        job = _job()
        jobs.run_job(job.id)
        jobs.run_job(job.id)  # the broker hands the message out again
        job = db.session.get(Job, job.id)
        assert (job.attempts, RUNS) == (1, [job.id])


def test_a_running_job_with_a_fresh_heartbeat_is_left_to_its_worker(app, kinds):
    with app.app_context():
        job = _job("running", heartbeat_at=utcnow(), attempts=1)
        assert jobs.run_job(job.id).state == "running"
        assert RUNS == []
        assert jobs.reap_stalled() == {"requeued": 0, "failed": 0}
        assert not jobs.is_stalled(db.session.get(Job, job.id))


def test_the_reaper_runs_a_stalled_job_again_and_it_ends_done(app, kinds):
    with app.app_context():
        late = utcnow() - timedelta(seconds=jobs.STALL_SECONDS + 5)
        job = _job("running", heartbeat_at=late, attempts=1, progress=20, total=257)
        assert jobs.is_stalled(job)
        assert jobs.reap_stalled() == {"requeued": 1, "failed": 0}
        job = db.session.get(Job, job.id)
        assert (job.state, job.attempts, RUNS) == ("done", 2, [job.id])


def test_a_job_that_stalls_too_often_fails_as_stalled(app, kinds, client, login, create_user):
    user = create_user(locale="en")
    with app.app_context():
        late = utcnow() - timedelta(seconds=jobs.STALL_SECONDS + 5)
        job = _job("running", heartbeat_at=late, attempts=jobs.MAX_ATTEMPTS, created_by_id=user.id)
        assert jobs.reap_stalled() == {"requeued": 0, "failed": 1}
        job = db.session.get(Job, job.id)
        assert (job.state, job.error, RUNS) == ("failed", jobs.ERROR_STALLED, [])
        public_id = job.public_id
    login(user)
    page = client.get(f"/jobs/{public_id}", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert "Stalled" in text and "Start again" in text
    assert client.get(f"/jobs/{public_id}/status").json["stalled"] is True
    # Start again: the same job runs to its end, once, however often the button is pressed.
    assert client.post(f"/jobs/{public_id}/restart").status_code == 302
    assert client.post(f"/jobs/{public_id}/restart").status_code == 302
    with app.app_context():
        job = db.session.get(Job, job.id)
        assert (job.state, job.error, RUNS) == ("done", "", [job.id])


def test_the_page_says_stalled_as_soon_as_the_heartbeat_is_late(
    app, kinds, client, login, create_user
):
    user = create_user(locale="en")
    with app.app_context():
        late = utcnow() - timedelta(seconds=jobs.STALL_SECONDS + 5)
        job = _job("running", heartbeat_at=late, attempts=1, created_by_id=user.id)
        public_id = job.public_id
    login(user)
    text = client.get(f"/jobs/{public_id}", headers={"Accept-Language": "en"}).get_data(True)
    assert "Stalled" in text and "started again automatically" in text


def test_a_job_that_cannot_be_queued_fails_at_once_with_the_reason(app, kinds, monkeypatch):
    """Redis down when a job starts: no 500, no job left "queued" for ever."""
    from lms.jobs import worker

    def refused(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setitem(app.config, "LMS_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(worker.run_job_task, "apply_async", refused)
    with app.test_request_context():
        job = jobs.start_job("test-count")
        job = db.session.get(Job, job.id)
        assert (job.state, job.error) == ("failed", jobs.ERROR_ENQUEUE)
        assert job.finished_at is not None and RUNS == []


def test_a_job_that_cannot_be_queued_says_so_on_its_page(app, kinds, client, login, create_user):
    user = create_user(locale="en")
    with app.app_context():
        job = _job("failed", error=jobs.ERROR_ENQUEUE, created_by_id=user.id)
        public_id = job.public_id
    login(user)
    text = client.get(f"/jobs/{public_id}", headers={"Accept-Language": "en"}).get_data(True)
    assert "background service is unavailable" in text


def test_a_queued_job_is_sent_to_the_worker_after_its_row_is_committed(app, kinds, monkeypatch):
    from lms.jobs import worker

    sent = []

    def send(args, **kwargs):
        # The worker must find the row: it is committed before the message leaves.
        assert not db.session.new and not db.session.dirty
        sent.append(args)

    monkeypatch.setitem(app.config, "LMS_REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setattr(worker.run_job_task, "apply_async", send)
    with app.test_request_context():
        job = jobs.start_job("test-count")
        assert sent == [(job.id,)] and job.state == "queued" and RUNS == []


def test_tasks_run_after_the_commit_and_never_after_a_rollback(app, kinds):
    with app.app_context():
        jobs.after_commit("test-task", "kept")
        assert jobs.run_ready_tasks() == 0  # nothing before the commit
        db.session.commit()
        jobs.after_commit("test-task", "dropped")
        db.session.rollback()
        db.session.commit()
        assert jobs.run_ready_tasks() == 1
        assert DONE == ["kept"]


def test_a_savepoint_rolled_back_keeps_the_tasks_of_its_transaction(app, kinds):
    with app.app_context():
        jobs.after_commit("test-task", "outer")
        with pytest.raises(RuntimeError), db.session.begin_nested():
            raise RuntimeError("an insert lost a race")
        with db.session.begin_nested():  # a savepoint released: still not committed
            pass
        assert jobs.run_ready_tasks() == 0
        db.session.commit()
        jobs.run_ready_tasks()
        assert DONE == ["outer"]


def test_in_the_queued_mode_committed_tasks_go_to_the_worker(app, kinds, monkeypatch):
    from lms.jobs import worker

    sent = []
    monkeypatch.setitem(app.config, "LMS_REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setattr(worker.run_task_task, "apply_async", lambda args, **kw: sent.append(args))
    with app.app_context():
        jobs.after_commit("test-task", 7)
        assert sent == []
        db.session.commit()
        assert sent == [("test-task", 7)] and DONE == []
        assert jobs.run_ready_tasks() == 0


def test_an_unknown_task_is_refused(app):
    with app.app_context(), pytest.raises(ValueError):
        jobs.after_commit("no-such-task", 1)


def test_the_schedule_names_only_registered_jobs_and_tasks(app):
    from lms.jobs.worker import BEAT_SCHEDULE, celery_app

    for entry in BEAT_SCHEDULE.values():
        if entry["task"] == "lms.start_scheduled":
            assert entry["args"][0] in jobs.JOB_KINDS
        elif entry["task"] == "lms.run_task":
            assert entry["args"][0] in jobs.TASKS
        assert entry["task"] in celery_app.tasks
    options = celery_app.conf.broker_transport_options
    assert options["visibility_timeout"] > jobs.STALL_SECONDS + 60


def test_a_job_left_running_before_heartbeats_existed_is_stalled_and_run_again(app, kinds):
    """The review's "运行中 · 20 / 257": a job of before this change, left running by a dead
    worker, has no heartbeat; its start tells how long it has been silent."""
    with app.app_context():
        started = utcnow() - timedelta(hours=3)
        job = _job("running", started_at=started, created_at=started, progress=20, total=257)
        assert job.heartbeat_at is None and jobs.is_stalled(job)
        assert jobs.reap_stalled() == {"requeued": 1, "failed": 0}
        job = db.session.get(Job, job.id)
        assert (job.state, RUNS) == ("done", [job.id])
