"""Skill gaps at the service level: exact counts by firm and by role, uncovered gaps, one
worker's rows and roles."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lms.auth.models import User
from lms.extensions import db
from lms.skills import gaps
from lms.skills.gaps import GapCell, UncoveredGap
from lms.skills.models import SkillEvidence
from lms.skills.service import record_self_assessment
from lms.taxonomy.models import JobRole
from lms.tenancy.models import Membership


def evidence(app, user, skill_id, level, *, source="rating", verified=True):
    with app.app_context():
        db.session.add(
            SkillEvidence(
                user_id=user.id,
                skill_id=skill_id,
                level=level,
                source=source,
                is_verified=verified,
            )
        )
        db.session.commit()


def membership(app, user, firm, job_role=None, *, role="worker", starts_on=None, ends_on=None):
    with app.app_context():
        db.session.add(
            Membership(
                user_id=user.id,
                consortium_id=firm.consortium_id,
                firm_id=firm.id,
                role=role,
                job_role_id=job_role,
                starts_on=starts_on or date(2026, 1, 1),
                ends_on=ends_on,
            )
        )
        db.session.commit()


def end_memberships(app, user):
    with app.app_context():
        for m in db.session.get(User, user.id).memberships:
            m.ends_on = date.today() - timedelta(days=1)
        db.session.commit()


@pytest.fixture
def world(app, create_consortium, create_firm, create_user, create_role, create_course):
    """Two firms of one consortium and one firm of another, workers with and without evidence.

    r1 requires ga 3, gb 2; r2 requires ga 2. A published course teaches ga at level 2;
    another consortium's course teaches gb at 5 (it must not count).
    """
    consortium = create_consortium()
    f1, f2 = create_firm(consortium), create_firm(consortium)
    other_firm = create_firm()
    r1 = create_role("gr_r1", {"ga": 3, "gb": 2}, consortium=consortium)
    r2 = create_role("gr_r2", {"ga": 2}, consortium=consortium)
    w1 = create_user(role="worker", firm=f1, job_role=r1.id)  # ga met, gb gap 2
    w2 = create_user(role="worker", firm=f1, job_role=r1.id)  # no evidence: ga 3, gb 2
    w3 = create_user(role="worker", firm=f1, job_role=r1.id)  # self-assessed only
    w4 = create_user(role="worker", firm=f2, job_role=r2.id)  # ga 1 of 2
    inactive = create_user(role="worker", firm=f2, job_role=r1.id, is_active_account=False)
    ended = create_user(role="worker", firm=f1, job_role=r1.id)
    future = create_user(role="worker", firm=f1, job_role=r1.id)
    outsider = create_user(role="worker", firm=other_firm, job_role=r1.id)
    admin = create_user(role="firm_admin", firm=f1, job_role=r1.id)  # not a worker
    evidence(app, w1, "ga", 3)
    evidence(app, w1, "ga", 1, source="self", verified=False)
    with app.app_context():
        record_self_assessment(db.session.get(User, w3.id), "ga", 5)
        record_self_assessment(db.session.get(User, w3.id), "gb", 5)
        db.session.commit()
    evidence(app, w4, "ga", 1)
    end_memberships(app, ended)
    with app.app_context():
        m = db.session.get(User, future.id).memberships[0]
        m.starts_on = date.today() + timedelta(days=3)
        db.session.commit()
    create_course(f1, slug="gr-ga-2", lessons=1, quiz=False, skills=[{"skill": "ga", "level": 2}])
    create_course(
        other_firm, slug="gr-gb-5", lessons=1, quiz=False, skills=[{"skill": "gb", "level": 5}]
    )
    return {
        "consortium": consortium,
        "f1": f1,
        "f2": f2,
        "other_firm": other_firm,
        "workers": [w1, w2, w3, w4],
        "others": [inactive, ended, future, outsider, admin],
    }


def test_gap_cells_by_firm_count_exactly(app, world):
    f1, f2 = world["f1"].id, world["f2"].id
    with app.app_context():
        cells = gaps.gap_cells(world["consortium"].id, by="firm")
    assert sorted(cells, key=lambda c: (c.group, c.skill_id)) == [
        GapCell(f1, "ga", workers=3, with_gap=2, total_gap=6),
        GapCell(f1, "gb", workers=3, with_gap=3, total_gap=6),
        GapCell(f2, "ga", workers=1, with_gap=1, total_gap=1),
    ]
    share = {(c.group, c.skill_id): c.share for c in cells}
    assert share[(f1, "ga")] == pytest.approx(2 / 3)
    assert share[(f1, "gb")] == 1.0


def test_gap_cells_by_role_and_within_one_firm(app, world):
    cid = world["consortium"].id
    with app.app_context():
        by_role = gaps.gap_cells(cid, by="role")
        f2_only = gaps.gap_cells(cid, firm_id=world["f2"].id, by="role")
        f1_only = gaps.gap_cells(cid, firm_id=world["f1"].id, by="role")
    assert sorted(by_role, key=lambda c: (c.group, c.skill_id)) == [
        GapCell("gr_r1", "ga", 3, 2, 6),
        GapCell("gr_r1", "gb", 3, 3, 6),
        GapCell("gr_r2", "ga", 1, 1, 1),
    ]
    assert f2_only == [GapCell("gr_r2", "ga", 1, 1, 1)]
    assert sorted(f1_only, key=lambda c: c.skill_id) == [
        GapCell("gr_r1", "ga", 3, 2, 6),
        GapCell("gr_r1", "gb", 3, 3, 6),
    ]


def test_the_other_consortium_sees_only_its_own_worker(app, world):
    other = world["other_firm"]
    with app.app_context():
        cells = gaps.gap_cells(other.consortium_id, by="firm")
    assert sorted(cells, key=lambda c: c.skill_id) == [
        GapCell(other.id, "ga", 1, 1, 3),
        GapCell(other.id, "gb", 1, 1, 2),
    ]


def test_verified_evidence_closes_a_gap_and_self_assessment_does_not(app, world):
    w1, w2, w3, _w4 = world["workers"]
    evidence(app, w2, "gb", 4)  # above the requirement: no gap, nothing negative
    evidence(app, w3, "gb", 1)  # verified 1 of 2 (the self-assessed 5 still doesn't count)
    with app.app_context():
        cells = {
            c.skill_id: c
            for c in gaps.gap_cells(world["consortium"].id, firm_id=world["f1"].id, by="firm")
        }
    assert cells["gb"] == GapCell(world["f1"].id, "gb", workers=3, with_gap=2, total_gap=3)


def test_no_workers_no_cells(app, create_consortium):
    consortium = create_consortium()
    with app.app_context():
        assert gaps.gap_cells(consortium.id) == []
        assert gaps.uncovered_gaps(consortium.id) == []


def test_uncovered_gaps_list_skills_above_every_published_course(app, world):
    with app.app_context():
        assert gaps.best_course_levels(world["consortium"].id) == {"ga": 2}
        uncovered = gaps.uncovered_gaps(world["consortium"].id)
    # gb: no course of this consortium (the other consortium's level-5 course doesn't count);
    # ga: r1 needs 3 but the best course teaches 2 (w2, w3). w4's ga gap (2 required) is closed
    # by the course, so it is not listed.
    assert uncovered == [
        UncoveredGap("gb", with_gap=3, required=2, best_course=0),
        UncoveredGap("ga", with_gap=2, required=3, best_course=2),
    ]


def test_a_course_reaching_the_level_removes_the_uncovered_gap(app, world, create_course):
    create_course(
        world["f2"], slug="gr-ga-3", lessons=1, quiz=False, skills=[{"skill": "ga", "level": 3}]
    )
    with app.app_context():
        uncovered = gaps.uncovered_gaps(world["consortium"].id)
    assert uncovered == [UncoveredGap("gb", 3, 2, 0)]


def test_skill_rows_merge_current_and_target_requirements(
    app, create_firm, create_user, create_role
):
    firm = create_firm()
    current = create_role("gr_cur", {"sa": 3, "sb": 2}, firm=firm)
    target = create_role("gr_tgt", {"sa": 4, "sc": 2}, firm=firm)
    create_role("gr_unused", {"sd": 5}, firm=firm)
    worker = create_user(role="worker", firm=firm, job_role=current.id, target_role_id=target.id)
    evidence(app, worker, "sa", 3)
    evidence(app, worker, "sd", 1, source="course")
    with app.app_context():
        record_self_assessment(db.session.get(User, worker.id), "sb", 2)
        db.session.commit()
    with app.app_context():
        user = db.session.get(User, worker.id)
        roles = gaps.worker_roles(user)
        assert roles.required() == {"sa": 4, "sb": 2, "sc": 2}
        rows = gaps.skill_rows(user, roles)
        got = [
            (r.skill.id, r.held, r.self_level, r.current, r.target, r.current_gap, r.target_gap)
            for r in rows
        ]
        # Biggest current gap first, then target gap, then the highest held level.
        assert got == [
            ("sb", 0, 2, 2, 0, 2, 0),
            ("sc", 0, 0, 0, 2, 0, 2),
            ("sa", 3, 0, 3, 4, 0, 1),
            ("sd", 1, 0, 0, 0, 0, 0),
        ]
        assert [e.source for e in rows[0].history] == ["self"]


def test_skill_rows_without_a_target(app, create_firm, create_user, create_role):
    firm = create_firm()
    role = create_role("gr_only", {"sa": 2}, firm=firm)
    worker = create_user(role="worker", firm=firm, job_role=role.id)
    with app.app_context():
        user = db.session.get(User, worker.id)
        roles = gaps.worker_roles(user)
        rows = gaps.skill_rows(user, roles)
        assert roles.target is None
        assert [(r.skill.id, r.current, r.target, r.current_gap) for r in rows] == [("sa", 2, 0, 2)]


def test_worker_roles_pick_the_roles_of_current_firm_memberships(
    app, create_consortium, create_firm, create_user, create_role
):
    consortium = create_consortium()
    f1, f2, f3, f4 = (create_firm(consortium) for _ in range(4))
    r1 = create_role("gr_wr1", {"sa": 1}, consortium=consortium)
    r2 = create_role("gr_wr2", {"sa": 2}, consortium=consortium)
    r_ended = create_role("gr_wr3", {"sa": 3}, consortium=consortium)
    r_future = create_role("gr_wr4", {"sa": 4}, consortium=consortium)
    goal = create_role("gr_goal", {"sa": 5}, consortium=consortium)
    worker = create_user(role="worker", firm=f1, job_role=r1.id, target_role_id=goal.id)
    membership(app, worker, f2, r2.id)
    membership(app, worker, f3, r_ended.id, ends_on=date.today() - timedelta(days=1))
    membership(app, worker, f4, r_future.id, starts_on=date.today() + timedelta(days=1))
    # A consortium-level membership (no firm) carries no job role to compare with.
    with app.app_context():
        db.session.add(
            Membership(
                user_id=worker.id,
                consortium_id=consortium.id,
                role="consortium_admin",
                starts_on=date(2026, 1, 1),
            )
        )
        db.session.commit()
    with app.app_context():
        roles = gaps.worker_roles(db.session.get(User, worker.id))
        assert roles.consortium_id == consortium.id
        assert sorted(roles.firm_ids) == sorted([f1.id, f2.id])
        assert sorted(r.id for r in roles.current) == ["gr_wr1", "gr_wr2"]
        assert roles.target == db.session.get(JobRole, "gr_goal")
        assert roles.required() == {"sa": 5}


def test_worker_roles_of_someone_without_a_firm_membership(app, create_user):
    user = create_user()
    with app.app_context():
        roles = gaps.worker_roles(db.session.get(User, user.id))
        assert (roles.consortium_id, roles.firm_ids, roles.current, roles.target) == (
            None,
            [],
            [],
            None,
        )
        assert gaps.skill_rows(db.session.get(User, user.id), roles) == []
