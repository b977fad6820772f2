"""Every route, for every kind of caller: guest, worker of another firm, member without the
permission, member with it, consortium admin, and an admin of another consortium (404)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lms.auth.service import token_digest
from lms.core.access import Access
from lms.core.storage import storage
from lms.core.types import utcnow
from lms.extensions import db
from lms.jobs.models import Job
from lms.tenancy.models import ImportBatch, Invitation
from tests.access import LOGIN, PERSONAS, check_access
from tests.conftest import ensure_skills

# endpoint: (method, url, who counts as "member with the permission", expected statuses in the
# order of PERSONAS). "{firm}", "{consortium}", "{person}", "{invitation}", "{batch}", "{token}"
# are filled from the world below.
MATRIX = {
    "home.index": ("GET", "/", "firm_admin", 200),
    "core.healthz": ("GET", "/healthz", "firm_admin", 200),
    "core.readyz": ("GET", "/readyz", "firm_admin", 200),
    "auth.change_locale": ("POST", "/locale", "firm_admin", 302),
    "static": ("GET", "/static/css/app.css", "firm_admin", 200),
    "auth.login": ("GET", "/login", "firm_admin", (200, 302, 302, 302, 302, 302)),
    "auth.logout": ("POST", "/logout", "firm_admin", 302),
    # An invitation link is a bearer token for the person it names; signed in as anyone else
    # it is not found (issue 12, hole 1: an account joins only when signed in as itself).
    "invitations.accept": (
        "GET",
        "/invite/{token}",
        "firm_admin",
        (200, 404, 404, 404, 404, 404),
    ),
    "auth.account": ("GET", "/account", "firm_admin", 200),
    "auth.change_password": ("GET", "/account/password", "firm_admin", 200),
    "tenancy.consortia": ("GET", "/admin/consortia", "platform_admin", 200),
    "tenancy.new_consortium": ("GET", "/admin/consortia/new", "platform_admin", 200),
    "tenancy.edit_consortium": ("GET", "/admin/consortia/{consortium}/edit", "platform_admin", 200),
    "tenancy.invite_consortium_admin": (
        "GET",
        "/admin/consortia/{consortium}/invite",
        "platform_admin",
        200,
    ),
    "tenancy.firms": ("GET", "/consortia/{consortium}/firms", "consortium_admin", 200),
    "tenancy.new_firm": ("GET", "/consortia/{consortium}/firms/new", "consortium_admin", 200),
    "tenancy.edit_firm": ("GET", "/firms/{firm}/edit", "consortium_admin", 200),
    "tenancy.deactivate_firm": ("GET", "/firms/{firm}/deactivate", "consortium_admin", 200),
    "tenancy.activate_firm": ("POST", "/firms/{firm}/activate", "consortium_admin", 302),
    "tenancy.consortium_people": ("GET", "/consortia/{consortium}/people", "consortium_admin", 200),
    "tenancy.invite_firm_admin": ("GET", "/consortia/{consortium}/invite", "consortium_admin", 200),
    "audit.audit_log": ("GET", "/consortia/{consortium}/audit", "auditor", 200),
    "tenancy.firm_people": ("GET", "/firms/{firm}/people", "firm_admin", 200),
    "tenancy.invite_person": ("GET", "/firms/{firm}/people/invite", "firm_admin", 200),
    "tenancy.send_activation": (
        "POST",
        "/firms/{firm}/people/{person}/activation",
        "firm_admin",
        302,
    ),
    "tenancy.activation_links": (
        "POST",
        "/firms/{firm}/people/activation-links",
        "firm_admin",
        302,
    ),
    "tenancy.revoke_invitation": (
        "POST",
        "/firms/{firm}/invitations/{invitation}/revoke",
        "firm_admin",
        302,
    ),
    "tenancy.deactivate_person": (
        "GET",
        "/firms/{firm}/people/{person}/deactivate",
        "firm_admin",
        200,
    ),
    "tenancy.import_people": ("GET", "/firms/{firm}/people/import", "firm_admin", 200),
    "tenancy.import_preview": ("GET", "/firms/{firm}/people/import/{batch}", "firm_admin", 200),
}


LEARNING = {
    # Courses of the consortium: every member reads them; another consortium's are a 404.
    "courses.catalogue": ("GET", "/courses/", "member_without", 200),
    "courses.course_page": (
        "GET",
        "/courses/{course}",
        "member_without",
        (LOGIN, 200, 200, 200, 200, 404),
    ),
    "courses.enroll": (
        "POST",
        "/courses/{course}/enroll",
        "member_without",
        (LOGIN, 302, 302, 302, 302, 404),
    ),
    "courses.media": ("GET", "/courses/{course}/media/1/media/missing.png", "member_without", 404),
    # A learner's own enrolment: anyone else gets a 404.
    "learning.my_learning": ("GET", "/learning", "member_without", 200),
    "learning.resume": (
        "GET",
        "/learn/{enrollment}",
        "member_without",
        (LOGIN, 404, 302, 302, 404, 404),
    ),
    "learning.lesson": (
        "GET",
        "/learn/{enrollment}/lessons/{lesson}",
        "member_without",
        (LOGIN, 404, 200, 200, 404, 404),
    ),
    "learning.save_progress": (
        "POST",
        "/learn/{enrollment}/lessons/{lesson}/progress",
        "member_without",
        (LOGIN, 404, 200, 200, 404, 404),
    ),
    "learning.mark_done": (
        "POST",
        "/learn/{enrollment}/lessons/{lesson}/done",
        "member_without",
        (LOGIN, 404, 302, 302, 404, 404),
    ),
    "learning.start_attempt": (
        "POST",
        "/learn/{enrollment}/lessons/{quiz}/attempts",
        "member_without",
        (LOGIN, 404, 302, 302, 404, 404),
    ),
    "learning.attempt": (
        "GET",
        "/learn/{enrollment}/attempts/{attempt}",
        "member_without",
        (LOGIN, 404, 200, 200, 404, 404),
    ),
    "learning.withdraw": (
        "GET",
        "/learn/{enrollment}/withdraw",
        "member_without",
        (LOGIN, 404, 200, 200, 404, 404),
    ),
}
MATRIX.update(LEARNING)
MATRIX.update(
    {
        "assignments.assign_firm": ("GET", "/firms/{firm}/assign", "firm_admin", 200),
        "assignments.assign_consortium": (
            "GET",
            "/consortia/{consortium}/assign",
            "consortium_admin",
            200,
        ),
        "assignments.firm_enrollments": ("GET", "/firms/{firm}/enrollments", "firm_admin", 200),
        "assignments.course_learners": (
            "GET",
            "/courses/{course}/learners",
            "trainer",
            (LOGIN, 404, 404, 200, 200, 404),
        ),
        # Signing off a practical task is the trainers' call, not the admins'.
        "assignments.sign_off": (
            "POST",
            "/courses/{course}/learners/{enrollment}/signoff/{practical}",
            "trainer",
            302,
        ),
    }
)

MATRIX.update(
    {
        # A worker's own skills pages; people without a worker role see an empty state.
        "skills.my_skills": ("GET", "/skills", "member_without", 200),
        "skills.my_skill": ("GET", "/skills/{skill}", "member_without", 200),
        "skills.my_path": (
            "GET",
            "/skills/path",
            "member_without",
            (LOGIN, 200, 200, 200, 302, 200),
        ),
        "skills.firm_gaps": ("GET", "/firms/{firm}/skills", "firm_admin", 200),
        "skills.person_skills": ("GET", "/firms/{firm}/people/{person}/skills", "firm_admin", 200),
        "skills.consortium_gaps": (
            "GET",
            "/consortia/{consortium}/skills/gaps",
            "consortium_admin",
            200,
        ),
        "skills.recompute_recommendations": (
            "POST",
            "/consortia/{consortium}/recommendations",
            "consortium_admin",
            302,
        ),
        # A background job is visible to the person who started it only.
        "jobs.job_page": (
            "GET",
            "/jobs/{job}",
            "consortium_admin",
            (LOGIN, 404, 404, 200, 200, 404),
        ),
        "jobs.job_status": (
            "GET",
            "/jobs/{job}/status",
            "consortium_admin",
            (LOGIN, 404, 404, 200, 200, 404),
        ),
        "jobs.restart_job": (
            "POST",
            "/jobs/{job}/restart",
            "consortium_admin",
            (LOGIN, 404, 404, 302, 302, 404),
        ),
        "jobs.download": (
            "GET",
            "/jobs/{export_job}/download",
            "consortium_admin",
            (LOGIN, 404, 404, 200, 200, 404),
        ),
        # Dashboards: report.view on the consortium or the firm.
        "reports.consortium_dashboard": (
            "GET",
            "/consortia/{consortium}/reports",
            "consortium_admin",
            200,
        ),
        "reports.consortium_people": (
            "GET",
            "/consortia/{consortium}/reports/people?metric=enrolled",
            "consortium_admin",
            200,
        ),
        "reports.firm_dashboard": ("GET", "/firms/{firm}/reports", "firm_admin", 200),
        "reports.firm_people": (
            "GET",
            "/firms/{firm}/reports/people?metric=overdue_all",
            "firm_admin",
            200,
        ),
    }
)

# Trainer analytics of a course: as its learners page (trainers of the authoring firm and
# consortium admins); exports are the same route with ?format=.
COURSE_REPORTS = {
    "course_reports.course_analytics": (
        "GET",
        "/courses/{course}/analytics",
        "trainer",
        (LOGIN, 404, 404, 200, 200, 404),
    ),
}
MATRIX.update(COURSE_REPORTS)

# Transcripts: everyone signed in has their own (an empty one too); a worker's through their
# firm and the training-hours pages need report.view (firm admins, consortium admins).
TRANSCRIPTS = {
    "transcripts.my_transcript": ("GET", "/transcript", "member_without", 200),
    "transcripts.my_transcript_pdf": ("GET", "/transcript.pdf", "member_without", 200),
    "transcripts.person_transcript": (
        "GET",
        "/firms/{firm}/people/{person}/transcript",
        "firm_admin",
        200,
    ),
    "transcripts.person_transcript_pdf": (
        "GET",
        "/firms/{firm}/people/{person}/transcript.pdf",
        "firm_admin",
        200,
    ),
    "transcripts.firm_hours": ("GET", "/firms/{firm}/hours", "firm_admin", 200),
    "transcripts.consortium_hours": (
        "GET",
        "/consortia/{consortium}/hours",
        "consortium_admin",
        200,
    ),
}
MATRIX.update(TRANSCRIPTS)


def all_rows() -> dict:
    """This module's rows plus those other test modules keep for their blueprints."""
    from tests.authoring.test_access import AUTHORING_MATRIX
    from tests.certificates.test_access import CERTIFICATES_MATRIX
    from tests.certificates.test_designs_access import DESIGNS_MATRIX
    from tests.courses.test_assessors import ASSESSORS_MATRIX
    from tests.notifications.test_access import NOTIFICATIONS_MATRIX
    from tests.reports.test_monthly import MONTHLY_MATRIX
    from tests.skills.test_taxonomy_access import TAXONOMY_MATRIX
    from tests.tenancy.test_membership_history import PEOPLE_HISTORY_MATRIX

    rows = dict(MATRIX)
    for matrix in (
        PEOPLE_HISTORY_MATRIX,
        AUTHORING_MATRIX,
        TAXONOMY_MATRIX,
        CERTIFICATES_MATRIX,
        DESIGNS_MATRIX,
        NOTIFICATIONS_MATRIX,
        MONTHLY_MATRIX,
        ASSESSORS_MATRIX,
    ):
        assert not rows.keys() & matrix.keys(), "a route has two rows"
        rows.update(matrix)
    return rows


def test_every_route_has_a_row_in_the_access_matrix(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    rows = all_rows()
    assert endpoints - rows.keys() == set(), "add these routes to the access matrix"
    assert rows.keys() - endpoints == set(), "these matrix rows name no route"


def test_every_route_declares_who_may_use_it(app):
    """Each view says, under its route, who may use it (lms.core.access / lms.permissions); the
    matrix rows of routes that need a permission on their firm or consortium derive each
    caller's answer from it."""
    undeclared = sorted(
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not isinstance(getattr(view, "access", None), Access)
    )
    assert undeclared == [], "declare these routes with @public, @signed_in or @needs(...)"


@pytest.fixture
def world(app, create_consortium, create_firm, create_user, create_course):
    consortium = create_consortium()
    firm_a = create_firm(consortium)
    firm_b = create_firm(consortium)
    elsewhere = create_consortium()
    firm_z = create_firm(elsewhere)
    people = {
        "other_firm_worker": create_user(role="worker", firm=firm_b),
        "member_without": create_user(role="worker", firm=firm_a),
        "firm_admin": create_user(role="firm_admin", firm=firm_a),
        "trainer": create_user(role="trainer", firm=firm_a),
        "consortium_admin": create_user(role="consortium_admin", consortium=consortium),
        "auditor": create_user(role="auditor", consortium=consortium),
        "platform_admin": create_user(is_platform_admin=True),
        "foreign_admin": create_user(role="firm_admin", firm=firm_z),
    }
    token = "matrix-token"
    with app.app_context():
        creator = people["firm_admin"]
        invitation = Invitation(
            token_hash=token_digest(token),
            consortium_id=consortium.id,
            firm_id=firm_a.id,
            role="worker",
            name="受邀人",
            mobile="13700000001",
            invited_by_id=creator.id,
            expires_at=utcnow() + timedelta(days=7),
        )
        batch = ImportBatch(
            consortium_id=consortium.id,
            firm_id=firm_a.id,
            created_by_id=creator.id,
            filename="people.csv",
            rows=[{"row": 2, "name": "李雷", "mobile": "13700000002"}],
        )
        job = Job(
            kind="recommendations",
            consortium_id=consortium.id,
            created_by_id=people["consortium_admin"].id,
            state="done",
        )
        export_job = Job(
            kind="exports",
            consortium_id=consortium.id,
            created_by_id=people["consortium_admin"].id,
            state="done",
            result={
                "file": "exports/matrix.csv",
                "filename": "matrix.csv",
                "mimetype": "text/csv",
                "rows": 1,
                "expires_at": (utcnow() + timedelta(hours=1)).isoformat(),
            },
        )
        storage().save("exports/matrix.csv", b"a,b\n")
        db.session.add_all([invitation, batch, job, export_job])
        ensure_skills(["matrix_skill"])
        db.session.commit()
        ids = {
            "firm": firm_a.id,
            "consortium": consortium.id,
            "person": people["member_without"].public_id,
            "invitation": invitation.public_id,
            "batch": batch.public_id,
            "token": token,
            "job": job.public_id,
            "export_job": export_job.public_id,
            "skill": "matrix_skill",
        }
    course = create_course(firm_a, practical=True)
    with app.test_request_context():
        from lms.courses.models import Course
        from lms.learning import service as learning

        course = db.session.get(Course, course.id)
        version = course.versions[-1]
        learner = db.session.get(type(people["member_without"]), people["member_without"].id)
        enrollment, _ = learning.enroll(learner, version)
        quiz = next(x for x in version.lessons if x.type == "quiz")
        attempt = learning.start_attempt(enrollment, quiz)
        db.session.commit()
        learning_ids = {
            "course": course.slug,
            "enrollment": enrollment.public_id,
            "lesson": version.lessons[0].id,
            "quiz": quiz.id,
            "practical": next(x for x in version.lessons if x.type == "practical").id,
            "attempt": attempt.public_id,
        }
    return people, {**ids, **learning_ids}


@pytest.mark.parametrize("endpoint", sorted(MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_access(endpoint, persona, world, client, login):
    check_access(MATRIX[endpoint], persona, *world, client, login, any_method=False)
