"""The published catalogue is kept per process, never rebuilt per request (issue 16): a page
reads it under the consortium's catalogue stamp (loaded with the user's memberships), and a
change of the catalogue made anywhere — this process or another app server — changes the
stamp, so the next page rebuilds it. Pages never build the ranking index."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, update

from lms.extensions import db
from lms.jobs import service as jobs
from lms.skills import recommendations
from lms.taxonomy import service as taxonomy
from lms.tenancy.models import Consortium, new_catalogue_stamp
from tests.conftest import ensure_skills


@pytest.fixture
def shop(create_consortium, create_firm, create_course):
    consortium = create_consortium()
    firm = create_firm(consortium)
    create_course(firm, slug="cache-a", lessons=1, quiz=False)
    return consortium, firm


def stamp(consortium_id: int) -> int:
    return db.session.scalar(
        select(Consortium.catalogue_stamp).where(Consortium.id == consortium_id)
    )


def statements_of(fn) -> tuple[object, list[str]]:
    seen = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        return fn(), seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_kept_catalogue_costs_no_statement(app, shop):
    consortium, _firm = shop
    with app.test_request_context():
        first = recommendations.catalogue(consortium.id)
        now = stamp(consortium.id)
        again, seen = statements_of(lambda: recommendations.catalogue(consortium.id, now))
        assert again is first
        assert seen == []
        assert [v.slug for v in first.versions] == ["cache-a"]


def test_publishing_here_changes_the_stamp_and_the_next_read_rebuilds(app, shop, create_course):
    consortium, firm = shop
    with app.test_request_context():
        before = recommendations.catalogue(consortium.id)
        old_stamp = stamp(consortium.id)
    create_course(firm, slug="cache-b", lessons=1, quiz=False)
    with app.test_request_context():
        assert stamp(consortium.id) != old_stamp
        after = recommendations.catalogue(consortium.id)
        assert after is not before
        assert {v.slug for v in after.versions} == {"cache-a", "cache-b"}
        assert after.model_version != before.model_version


def test_a_stamp_changed_by_another_server_rebuilds(app, shop):
    consortium, _firm = shop
    with app.test_request_context():
        before = recommendations.catalogue(consortium.id)
        # Another app server published: its transaction changed the stamp (and the catalogue).
        db.session.execute(
            update(Consortium)
            .where(Consortium.id == consortium.id)
            .values(catalogue_stamp=new_catalogue_stamp())
        )
        db.session.commit()
        after = recommendations.catalogue(consortium.id)
        assert after is not before
        assert after.stamp == stamp(consortium.id)


def test_a_new_skill_changes_the_stamp(app, shop):
    consortium, _firm = shop
    with app.test_request_context():
        ensure_skills(["cache_seed"])  # and their category, "testing"
        db.session.commit()
        old = stamp(consortium.id)
        taxonomy.create_skill(
            None,
            db.session.get(Consortium, consortium.id),
            skill_id="cache_new_skill",
            category_id="testing",
            name_zh="缓存技能",
            name_en="Cache skill",
        )
        db.session.commit()
        assert stamp(consortium.id) != old
        assert "cache_new_skill" in recommendations.catalogue(consortium.id).skills


def test_pages_never_build_the_ranking_index(app, shop, create_user, login, client, monkeypatch):
    consortium, firm = shop
    worker = create_user(role="worker", firm=firm)
    login(worker)
    # The ranking the pages ask for (the worker has no list yet) is left to a worker.
    monkeypatch.setattr(jobs, "run_ready_tasks", lambda: 0)
    assert client.get("/").status_code == 200
    assert client.get("/skills").status_code == 200
    with app.test_request_context():
        kept = recommendations.catalogue(consortium.id)
        assert "index" not in vars(kept)  # a cached_property not computed yet
        assert kept.index.slugs == ["cache-a"]  # the ranking task builds it on first use
