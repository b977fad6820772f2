"""Skills pages through the client: a worker's goal, self-assessment, evidence, recommendations
and path; a firm admin's gaps and person page; a consortium admin's gaps, CSVs and the
recommendations job.

Pages are checked by data (ids, counts, rows) or, where wording matters, as users whose locale
is "en" (English needs no translation catalogue)."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditRecord
from lms.auth.models import User
from lms.courses.models import Course, CourseVersion
from lms.extensions import db
from lms.jobs.exports import safe_cell
from lms.jobs.models import Job
from lms.learning import service as learning
from lms.learning.models import Enrollment
from lms.skills.models import RecommendationList, SkillEvidence
from lms.skills.recommendations import STALE, current_model_version, stored_list
from lms.skills.service import held_levels, record_rating, skill_profile
from lms.tenancy.models import Firm

PLC_ZH = "技能pg_plc"  # names given by tests.conftest.ensure_skills
LEVEL3_ZH = "三级/高级工"
LEVEL3_EN = "Level 3 – senior worker"


@dataclass
class Site:
    consortium_id: int
    firm: Firm
    firm2: Firm
    worker: User  # firm, current role pg_cur, no evidence
    met: User  # firm, pg_cur, rated pg_plc 3 (no gap)
    aiming: User  # firm, pg_tgt, no evidence
    worker2: User  # firm2, pg_cur
    worker2b: User  # firm2, pg_f2only (a role of firm2 only)
    admin: User  # firm admin of firm (en)
    cadmin: User  # consortium admin (en)
    plc: int  # course ids
    hmi: int


@pytest.fixture
def site(app, create_consortium, create_firm, create_user, create_role, create_course):
    consortium = create_consortium(code="PGC")
    firm = create_firm(consortium, name="唐山精工")
    firm2 = create_firm(consortium, name="=SUM(A1)")  # a formula the CSV must neutralise
    create_role("pg_cur", {"pg_plc": 3}, consortium=consortium)
    create_role("pg_tgt", {"pg_plc": 3, "pg_hmi": 2, "pg_weld": 4}, consortium=consortium)
    create_role("pg_f2only", {"pg_hmi": 1}, firm=firm2)
    plc = create_course(
        firm, slug="pg-plc", lessons=1, quiz=False, skills=[{"skill": "pg_plc", "level": 3}]
    )
    hmi = create_course(
        firm,
        slug="pg-hmi",
        lessons=1,
        quiz=False,
        skills=[{"skill": "pg_hmi", "level": 2}],
        prerequisites=["pg-plc"],
    )
    worker = create_user(role="worker", firm=firm, job_role="pg_cur")
    met = create_user(role="worker", firm=firm, job_role="pg_cur")
    aiming = create_user(role="worker", firm=firm, job_role="pg_tgt")
    worker2 = create_user(role="worker", firm=firm2, job_role="pg_cur")
    worker2b = create_user(role="worker", firm=firm2, job_role="pg_f2only")
    admin = create_user(role="firm_admin", firm=firm, locale="en")
    cadmin = create_user(role="consortium_admin", consortium=consortium, locale="en")
    with app.test_request_context():
        record_rating(
            db.session.get(User, admin.id), db.session.get(User, met.id), firm, "pg_plc", 3
        )
        db.session.commit()
    return Site(
        consortium.id,
        firm,
        firm2,
        worker,
        met,
        aiming,
        worker2,
        worker2b,
        admin,
        cadmin,
        plc.id,
        hmi.id,
    )


@pytest.fixture
def in_db(app):
    """Run fn() in a fresh request context between client requests; commits."""

    def run(fn):
        with app.test_request_context():
            result = fn()
            db.session.commit()
            return result

    return run


@pytest.fixture
def as_user(app, login):
    """A logged-in client of its own per user."""

    def make(user):
        c = app.test_client()
        login(user, c=c)
        return c

    return make


def set_user(in_db, user, **values):
    def go():
        u = db.session.get(User, user.id)
        for key, value in values.items():
            setattr(u, key, value)

    in_db(go)


def stored(in_db, user):
    return in_db(
        lambda: [
            (r.model_version, [i["course"] for i in r.items])
            for r in db.session.scalars(
                select(RecommendationList).where(RecommendationList.user_id == user.id)
            )
        ]
    )


def enrolments(in_db, user):
    """(course slug, source) of the user's enrolments, in the order they were made."""
    return in_db(
        lambda: [
            (slug, source)
            for slug, source in db.session.execute(
                select(Course.slug, Enrollment.source)
                .join(Course, Course.id == Enrollment.course_id)
                .where(Enrollment.user_id == user.id)
                .order_by(Enrollment.id)
            )
        ]
    )


def complete(in_db, user, slug):
    def go():
        version = db.session.scalars(
            select(CourseVersion)
            .join(Course)
            .where(Course.slug == slug, CourseVersion.status == "published")
            .order_by(CourseVersion.id.desc())
        ).first()
        enrollment, _ = learning.enroll(
            db.session.get(User, user.id), version, check_prerequisites=False
        )
        learning.record_progress(enrollment, version.lessons[0], percent=100)
        assert enrollment.status == "completed"

    in_db(go)


def text(response) -> str:
    return response.get_data(as_text=True)


PREPARING = 'role="status"'  # the note of a page whose list is being ranked


def ready(client, url: str) -> str:
    """The page once its recommendations are fresh: a page that finds its list missing or
    stale asks for a ranking, which runs when that request is over (the embedded mode)."""
    page = text(client.get(url))
    return text(client.get(url)) if PREPARING in page else page


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    body = text(response)
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def chart_spec(page: str, chart_id: str) -> dict:
    found = re.search(
        rf'<script type="application/json" id="{chart_id}-data">(.*?)</script>', page, re.S
    )
    assert found, f"no chart {chart_id}"
    return json.loads(found.group(1))


# --- the worker: goal, self-assessment, evidence -------------------------------------------


def test_a_worker_sets_a_target_role_and_sees_its_path(site, as_user, in_db):
    set_user(in_db, site.worker, locale="en")
    c = as_user(site.worker)
    response = c.post(
        "/skills", data={"target-target_role": "pg_tgt", "target-save_target": "Save"}
    )
    assert response.status_code == 302 and response.location.endswith("/skills")
    assert in_db(lambda: db.session.get(User, site.worker.id).target_role_id) == "pg_tgt"
    page = text(c.get("/skills"))
    assert '<option selected value="pg_tgt">' in page
    # The path to the goal: the PLC course before the HMI course that requires it.
    path = page[page.index("Learning path to Role pg_tgt") :]
    assert path.index("课程 pg-plc") < path.index("课程 pg-hmi")
    assert "pg_weld" in path  # the gap no course closes is listed
    spec = chart_spec(page, "skills-chart")
    # Biggest current gap first, then the target role's gaps.
    assert spec["categories"] == ["pg_plc", "pg_weld", "pg_hmi"]
    assert [s["data"] for s in spec["series"]] == [[0, 0, 0], [3, 0, 0], [3, 4, 2]]


@pytest.mark.parametrize("role_id", ["nope", "pg_f2only"])
def test_an_unknown_or_foreign_target_role_gives_a_field_error_and_changes_nothing(
    site, as_user, in_db, role_id
):
    set_user(in_db, site.worker, target_role_id="pg_cur")
    c = as_user(site.worker)
    response = c.post("/skills", data={"target-target_role": role_id, "target-save_target": "1"})
    assert response.status_code == 200
    page = text(response)
    assert 'id="target-target_role-error"' in page
    assert 'aria-invalid="true"' in page
    assert in_db(lambda: db.session.get(User, site.worker.id).target_role_id) == "pg_cur"


def test_clearing_the_target_role(site, as_user, in_db):
    set_user(in_db, site.worker, target_role_id="pg_tgt")
    c = as_user(site.worker)
    response = c.post("/skills", data={"target-target_role": "", "target-save_target": "1"})
    assert response.status_code == 302
    assert in_db(lambda: db.session.get(User, site.worker.id).target_role_id) is None


def test_a_self_assessment_is_stored_unverified_and_does_not_change_the_verified_level(
    site, as_user, in_db
):
    set_user(in_db, site.met, locale="en")
    c = as_user(site.met)
    response = c.post(
        "/skills",
        data={
            "self-skill": "pg_plc",
            "self-level": "5",
            "self-note": " 我觉得可以 ",
            "self-save_level": "Save",
        },
    )
    assert response.status_code == 302
    rows = in_db(
        lambda: [
            (e.skill_id, e.level, e.source, e.is_verified, e.recorded_by_id, e.note)
            for e in db.session.scalars(
                select(SkillEvidence)
                .where(SkillEvidence.user_id == site.met.id)
                .order_by(SkillEvidence.id)
            )
        ]
    )
    assert rows == [
        ("pg_plc", 3, "rating", True, site.admin.id, ""),
        ("pg_plc", 5, "self", False, site.met.id, "我觉得可以"),
    ]
    assert in_db(lambda: held_levels(site.met.id)) == {"pg_plc": 3}
    page = text(c.get("/skills"))
    row = re.search(r"<tr>\s*<th scope=\"row\"><a href=\"/skills/pg_plc\">.*?</tr>", page, re.S)
    assert row, page
    cells = row.group(0)
    assert "3 · Level 3 – senior worker" in cells  # verified level unchanged
    assert '5 · Level 1 – senior technician <span class="badge">unverified</span>' in cells


def test_a_self_assessment_without_a_level_is_refused(site, as_user, in_db):
    c = as_user(site.worker)
    response = c.post(
        "/skills", data={"self-skill": "pg_plc", "self-level": "", "self-save_level": "1"}
    )
    assert response.status_code == 200
    assert 'id="self-level-error"' in text(response)
    assert in_db(lambda: skill_profile(site.worker.id)) == {}


def test_the_evidence_page_lists_every_source(site, as_user, in_db):
    set_user(in_db, site.met, locale="en")
    c = as_user(site.met)
    c.post(
        "/skills",
        data={
            "self-skill": "pg_plc",
            "self-level": "4",
            "self-note": "自评备注",
            "self-save_level": "1",
        },
    )
    page = text(c.get("/skills/pg_plc"))
    assert "Rating by the firm" in page
    assert "Self-assessment" in page
    assert "自评备注" in page
    assert page.count("<tr>") == 1 + 2  # header + two pieces of evidence
    assert "Verified level: <strong>3 · Level 3 – senior worker</strong>" in page
    assert c.get("/skills/no_such_skill").status_code == 404
    # Another skill without evidence: an empty history, not an error.
    assert "No evidence for this skill yet." in text(c.get("/skills/pg_hmi"))


# --- recommendations -----------------------------------------------------------------------


def test_home_and_skills_pages_show_the_reason_with_national_level_names(site, as_user):
    c = as_user(site.worker)
    expected = f"补齐岗位要求：{PLC_ZH} {LEVEL3_ZH}（当前 无）"
    skills_page = ready(c, "/skills")
    assert expected in skills_page
    home = ready(c, "/")
    assert expected in home
    assert "课程 pg-plc" in home


def test_the_reason_is_in_english_for_an_english_worker(site, as_user, in_db):
    set_user(in_db, site.worker, locale="en")
    c = as_user(site.worker)
    expected = f"Closes a role requirement: pg_plc at {LEVEL3_EN} (now none)"
    assert expected in ready(c, "/skills")
    assert expected in ready(c, "/")


def test_a_completed_course_is_never_recommended(site, as_user, in_db, create_course):
    twin = create_course(
        site.firm,
        slug="pg-plc-twin",
        lessons=1,
        quiz=False,
        skills=[{"skill": "pg_plc", "level": 3}],
    )
    complete(in_db, site.worker, "pg-plc")
    # Keep the gap open (evidence withdrawn) so the completed course would otherwise rank first.
    in_db(
        lambda: db.session.execute(
            SkillEvidence.__table__.delete().where(SkillEvidence.user_id == site.worker.id)
        )
    )
    c = as_user(site.worker)
    page = ready(c, "/skills")
    [(_version, courses)] = stored(in_db, site.worker)
    assert twin.id in courses
    assert site.plc not in courses
    assert "课程 pg-plc-twin" in page
    recs = page[page.index('<ol class="recs">') : page.index("</ol>", page.index('class="recs"'))]
    assert '/courses/pg-plc"' not in recs


def test_the_list_is_ranked_again_after_a_rating_a_completion_and_a_target_change(
    site, as_user, in_db
):
    worker = as_user(site.worker)
    admin = as_user(site.admin)
    person_url = f"/firms/{site.firm.id}/people/{site.worker.public_id}/skills"

    def computed_at(user):
        def go():
            row = stored_list(user.id, site.consortium_id)
            return row.computed_at if row else None

        return in_db(go)

    ready(worker, "/")
    assert len(stored(in_db, site.worker)) == 1
    other_before = stored(in_db, site.met)
    other_at = computed_at(site.met)

    before = computed_at(site.worker)
    response = admin.post(
        person_url, data={"rate-skill": "pg_hmi", "rate-level": "1", "rate-save_level": "1"}
    )
    assert response.status_code == 302
    # Ranked again once the rating committed (a task; here when the admin's request ended).
    assert computed_at(site.worker) > before

    before = computed_at(site.worker)
    complete(in_db, site.worker, "pg-hmi")
    # Outside a request the task waits for a worker (here: the next request of the process).
    [(version, _courses)] = stored(in_db, site.worker)
    assert version == STALE
    assert PREPARING in text(worker.get("/"))  # the old list, marked as being updated
    assert computed_at(site.worker) > before
    assert PREPARING not in text(worker.get("/"))

    before = computed_at(site.worker)
    worker.post("/skills", data={"target-target_role": "pg_tgt", "target-save_target": "1"})
    assert computed_at(site.worker) > before
    assert stored(in_db, site.met) == other_before  # nobody else's list was touched
    assert computed_at(site.met) == other_at


def test_publishing_a_new_course_version_changes_the_model_version(
    site, as_user, in_db, create_course
):
    c = as_user(site.worker)
    c.get("/skills")
    c.get("/skills")  # the first view asked for the list; the second finds it
    [(before, _courses)] = stored(in_db, site.worker)
    assert before == in_db(lambda: current_model_version(site.consortium_id))
    create_course(
        site.firm,
        slug="pg-plc",
        version=2,
        lessons=2,
        quiz=False,
        skills=[{"skill": "pg_plc", "level": 3}],
    )
    now = in_db(lambda: current_model_version(site.consortium_id))
    assert now != before
    assert [v for v, _ in stored(in_db, site.worker)] == [before]  # stale, kept until viewed
    c.get("/skills")
    [(after, courses)] = stored(in_db, site.worker)
    assert after == now
    assert site.plc in courses


def test_following_a_path_enrols_in_its_ready_courses_once(site, as_user, in_db):
    set_user(in_db, site.worker, target_role_id="pg_tgt")
    c = as_user(site.worker)
    assert c.get("/skills/path").status_code == 200
    for _ in range(2):  # a double submit
        response = c.post("/skills/path", data={"role": "pg_tgt", "take_path": "1"})
        assert response.status_code == 302 and response.location.endswith("/skills/path")
    assert enrolments(in_db, site.worker) == [("pg-plc", "self")]  # pg-hmi waits for pg-plc


def test_the_path_page_without_a_firm_goes_back_to_skills(app, create_user, as_user):
    c = as_user(create_user())
    response = c.get("/skills/path")
    assert response.status_code == 302 and response.location.endswith("/skills")
    assert c.get("/skills").status_code == 200


# --- firm admins ---------------------------------------------------------------------------


def test_the_firm_gap_page_and_csv_show_only_that_firms_data(site, as_user):
    c = as_user(site.admin)
    page = text(c.get(f"/firms/{site.firm.id}/skills"))
    spec = chart_spec(page, "firm-gaps")
    assert sorted(spec["y"]) == ["Role pg_cur", "Role pg_tgt"]
    assert "pg_f2only" not in page
    rows = csv_rows(c.get(f"/firms/{site.firm.id}/skills?format=csv"))
    assert rows == [
        ["Job role", "Skill", "Workers", "With a gap", "Share", "Levels missing"],
        ["Role pg_tgt", "pg_weld", "1", "1", "100%", "4"],
        ["Role pg_cur", "pg_plc", "2", "1", "50%", "3"],
        ["Role pg_tgt", "pg_plc", "1", "1", "100%", "3"],
        ["Role pg_tgt", "pg_hmi", "1", "1", "100%", "2"],
    ]
    page = text(c.get(f"/firms/{site.firm.id}/skills"))
    assert page.count("<tr>") == 1 + 4


def test_a_firm_admin_cannot_open_another_firms_gaps(site, as_user):
    c = as_user(site.admin)
    assert c.get(f"/firms/{site.firm2.id}/skills").status_code == 404
    worker = as_user(site.worker)
    assert worker.get(f"/firms/{site.firm.id}/skills").status_code == 404


def test_a_firm_admin_sets_a_job_role_audited(site, as_user, in_db):
    c = as_user(site.admin)
    url = f"/firms/{site.firm.id}/people/{site.worker.public_id}/skills"
    page = text(c.get(url))
    assert '<option selected value="pg_cur">' in page
    response = c.post(url, data={"role-job_role": "pg_tgt", "role-save_role": "1"})
    assert response.status_code == 302
    job_roles = in_db(
        lambda: [
            (m.firm_id, m.job_role_id) for m in db.session.get(User, site.worker.id).memberships
        ]
    )
    assert job_roles == [(site.firm.id, "pg_tgt")]
    audits = in_db(
        lambda: [
            (a.action, a.details)
            for a in db.session.scalars(
                select(AuditRecord).where(AuditRecord.action == "membership.job_role")
            )
        ]
    )
    assert audits == [("membership.job_role", {"firm": site.firm.id, "job_role": "pg_tgt"})]
    # A role of another firm is not offered and not accepted.
    response = c.post(url, data={"role-job_role": "pg_f2only", "role-save_role": "1"})
    assert response.status_code == 200
    assert 'id="role-job_role-error"' in text(response)
    assert in_db(lambda: db.session.get(User, site.worker.id).memberships[0].job_role_id) == (
        "pg_tgt"
    )


def test_a_firm_admin_rating_is_verified_evidence(site, as_user, in_db):
    c = as_user(site.admin)
    url = f"/firms/{site.firm.id}/people/{site.worker.public_id}/skills"
    response = c.post(
        url,
        data={
            "rate-skill": "pg_plc",
            "rate-level": "2",
            "rate-note": "现场考核",
            "rate-save_level": "1",
        },
    )
    assert response.status_code == 302
    rows = in_db(
        lambda: [
            (e.skill_id, e.level, e.source, e.is_verified, e.recorded_by_id, e.note)
            for e in db.session.scalars(
                select(SkillEvidence).where(SkillEvidence.user_id == site.worker.id)
            )
        ]
    )
    assert rows == [("pg_plc", 2, "rating", True, site.admin.id, "现场考核")]
    assert in_db(lambda: held_levels(site.worker.id)) == {"pg_plc": 2}
    actions = in_db(
        lambda: db.session.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "skill.rate")
        )
    )
    assert actions == 2  # the site's own rating and this one


def test_a_worker_cannot_post_to_a_person_page(site, as_user, in_db):
    c = as_user(site.met)
    url = f"/firms/{site.firm.id}/people/{site.worker.public_id}/skills"
    assert c.get(url).status_code == 404
    assert c.post(url, data={"rate-skill": "pg_plc", "rate-level": "5"}).status_code == 404
    assert in_db(lambda: held_levels(site.worker.id)) == {}


def test_assigning_a_path_creates_firm_enrolments_once(site, as_user, in_db):
    set_user(in_db, site.worker, target_role_id="pg_tgt")
    c = as_user(site.admin)
    url = f"/firms/{site.firm.id}/people/{site.worker.public_id}/skills"
    due = (date.today() + timedelta(days=30)).isoformat()
    for _ in range(2):
        response = c.post(
            url, data={"path-role": "pg_tgt", "path-due_on": due, "path-take_path": "1"}
        )
        assert response.status_code == 302
    assert enrolments(in_db, site.worker) == [("pg-plc", "firm"), ("pg-hmi", "firm")]
    details = in_db(
        lambda: [
            (e.due_on.isoformat(), e.assigned_by_id, e.is_mandatory)
            for e in db.session.scalars(
                select(Enrollment).where(Enrollment.user_id == site.worker.id)
            )
        ]
    )
    assert details == [(due, site.admin.id, False)] * 2


def test_a_past_due_date_gives_an_error_and_writes_nothing(site, as_user, in_db):
    c = as_user(site.admin)
    url = f"/firms/{site.firm.id}/people/{site.worker.public_id}/skills"
    past = (date.today() - timedelta(days=1)).isoformat()
    response = c.post(url, data={"path-role": "pg_cur", "path-due_on": past, "path-take_path": "1"})
    assert response.status_code == 200
    page = text(response)
    assert 'id="path-due_on-error"' in page
    assert "The due date is in the past." in page
    assert enrolments(in_db, site.worker) == []


def test_a_person_of_another_firm_is_not_found(site, as_user):
    c = as_user(site.admin)
    assert c.get(f"/firms/{site.firm.id}/people/{site.worker2.public_id}/skills").status_code == (
        404
    )
    assert (
        c.post(
            f"/firms/{site.firm.id}/people/{site.worker2.public_id}/skills",
            data={"rate-skill": "pg_plc", "rate-level": "5", "rate-save_level": "1"},
        ).status_code
        == 404
    )
    assert c.get(f"/firms/{site.firm.id}/people/nobody/skills").status_code == 404


# --- consortium admins ---------------------------------------------------------------------


def test_the_consortium_gap_page_lists_firms_and_uncovered_gaps(site, as_user):
    c = as_user(site.cadmin)
    page = text(c.get(f"/consortia/{site.consortium_id}/skills/gaps"))
    assert "唐山精工" in page and "=SUM(A1)" in page
    spec = chart_spec(page, "consortium-gaps")
    assert sorted(spec["y"]) == sorted(["唐山精工", "=SUM(A1)"])
    uncovered = page[page.index("Gaps no published course closes") : page.index("Top gaps by firm")]
    assert "pg_weld" in uncovered and "no course" in uncovered
    assert "pg_plc" not in uncovered and "pg_hmi" not in uncovered

    rows = csv_rows(c.get(f"/consortia/{site.consortium_id}/skills/gaps?format=csv"))
    assert rows[0] == ["Firm", "Skill", "Workers", "With a gap", "Share", "Levels missing"]
    assert sorted(rows[1:]) == sorted(
        [
            ["唐山精工", "pg_plc", "3", "2", "67%", "6"],
            ["唐山精工", "pg_hmi", "1", "1", "100%", "2"],
            ["唐山精工", "pg_weld", "1", "1", "100%", "4"],
            ["'=SUM(A1)", "pg_plc", "1", "1", "100%", "3"],  # neutralised
            ["'=SUM(A1)", "pg_hmi", "1", "1", "100%", "1"],
        ]
    )
    rows = csv_rows(
        c.get(f"/consortia/{site.consortium_id}/skills/gaps?format=csv&table=uncovered")
    )
    assert rows == [
        [
            "Skill",
            "Skill id",
            "Workers with the gap",
            "Highest level required",
            "Best level a course teaches",
        ],
        ["pg_weld", "pg_weld", "1", "4 · Level 2 – technician", ""],
    ]


def test_the_uncovered_csv_shows_a_plain_dash_when_no_course_teaches_the_skill(site, as_user):
    c = as_user(site.cadmin)
    rows = csv_rows(
        c.get(f"/consortia/{site.consortium_id}/skills/gaps?format=csv&table=uncovered")
    )
    assert rows[1][-1] == ""  # not a dash, which a spreadsheet would take for a formula


def test_safe_cell_neutralises_formula_starts_only():
    assert [safe_cell(v) for v in ("=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx")] == [
        "'=1+2",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
    ]
    assert [safe_cell(v) for v in ("a=1", "", None, 5, "唐山")] == ["a=1", "", "", "5", "唐山"]
    # A negative number is text that starts with "-": neutralised too.
    assert safe_cell(-3) == "'-3"


def test_a_firm_admin_cannot_open_the_consortium_gaps(site, as_user):
    c = as_user(site.admin)
    assert c.get(f"/consortia/{site.consortium_id}/skills/gaps").status_code == 404
    assert c.post(f"/consortia/{site.consortium_id}/recommendations").status_code == 404


def test_recomputing_recommendations_runs_the_job_and_only_its_starter_sees_it(
    site, as_user, in_db, create_user, create_firm
):
    c = as_user(site.cadmin)
    response = c.post(f"/consortia/{site.consortium_id}/recommendations")
    assert response.status_code == 302
    public_id = response.location.rsplit("/", 1)[-1]
    assert response.location.endswith(f"/jobs/{public_id}")
    job = in_db(
        lambda: [
            (j.kind, j.state, j.result, j.progress, j.total, j.created_by_id)
            for j in db.session.scalars(select(Job))
        ]
    )
    workers = 5  # worker, met, aiming (firm) and worker2, worker2b (firm2)
    assert job == [
        ("recommendations", "done", {"workers": workers}, workers, workers, site.cadmin.id)
    ]
    stored_for = in_db(
        lambda: sorted(
            db.session.scalars(
                select(RecommendationList.user_id).where(
                    RecommendationList.consortium_id == site.consortium_id
                )
            )
        )
    )
    assert stored_for == sorted(
        u.id for u in (site.worker, site.met, site.aiming, site.worker2, site.worker2b)
    )
    page = text(c.get(f"/jobs/{public_id}"))
    assert "Finished" in page
    assert f"Recommendations recomputed for {workers} workers." in page
    status = c.get(f"/jobs/{public_id}/status")
    assert status.status_code == 200
    assert status.get_json() == {
        "state": "done",
        "progress": workers,
        "total": workers,
        "percent": 100,
        "finished": True,
        "stalled": False,
        "url": f"/jobs/{public_id}",
    }
    # The consortium page now says when lists were last computed for everyone.
    gaps_page = text(c.get(f"/consortia/{site.consortium_id}/skills/gaps"))
    assert "Last recomputed for all workers" in gaps_page

    other_admin = create_user(
        role="consortium_admin", consortium=SimpleNamespace(id=site.consortium_id)
    )
    for user in (other_admin, site.worker):
        other = as_user(user)
        assert other.get(f"/jobs/{public_id}").status_code == 404
        assert other.get(f"/jobs/{public_id}/status").status_code == 404
    assert c.get("/jobs/not-a-job").status_code == 404
