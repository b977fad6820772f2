"""The audit log page (issue 14): translated action names, targets by name with links, filters
by date, actor and action, and an audited CSV/Excel export of the filtered log."""

from __future__ import annotations

import ast
import csv
import io
import secrets
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import event, select

from lms.audit.labels import ACTIONS, AREAS, TARGET_TYPES, action_label
from lms.audit.models import AuditRecord
from lms.audit.service import record_action
from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.courses.models import Course
from lms.extensions import db
from lms.learning.models import Enrollment
from lms.tenancy.models import Consortium, Firm, ImportBatch

LMS = Path(__file__).resolve().parents[2] / "lms"


# --- every recorded action has a label -----------------------------------------------------


def _literal_codes(node: ast.AST, module: ast.Module, func: ast.AST | None) -> list[str] | None:
    """The action codes an argument expression can take (None: cannot tell)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body = _literal_codes(node.body, module, func)
        orelse = _literal_codes(node.orelse, module, func)
        return None if body is None or orelse is None else body + orelse
    if isinstance(node, ast.Name):
        # A module constant (SIGNOFF_REQUEST = "...").
        for stmt in module.body:
            if (
                isinstance(stmt, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == node.id for t in stmt.targets)
                and isinstance(stmt.value, ast.Constant)
            ):
                return [stmt.value.value]
        # A parameter of the enclosing helper (`_audit(actor, "course.submit", version)`):
        # the literals its callers in the module pass at that position.
        if isinstance(func, ast.FunctionDef):
            names = [a.arg for a in func.args.args]
            if node.id in names:
                index = names.index(node.id)
                codes = []
                for call in ast.walk(module):
                    if (
                        isinstance(call, ast.Call)
                        and isinstance(call.func, ast.Name)
                        and call.func.id == func.name
                    ):
                        arg = call.args[index] if len(call.args) > index else None
                        arg = arg or next(
                            (k.value for k in call.keywords if k.arg == node.id), None
                        )
                        found = _literal_codes(arg, module, None) if arg is not None else None
                        if found is None:
                            return None
                        codes += found
                return codes
    return None


def recorded_codes() -> tuple[set[str], list[str]]:
    """Every action code record_action is called with in lms/, and calls it can't read."""
    codes: set[str] = set()
    unreadable: list[str] = []
    for path in sorted(LMS.rglob("*.py")):
        module = ast.parse(path.read_text(encoding="utf-8"))
        parents = {}
        for parent in ast.walk(module):
            for child in ast.iter_child_nodes(parent):
                parents[child] = parent
        for node in ast.walk(module):
            if not (
                isinstance(node, ast.Call) and getattr(node.func, "id", None) == "record_action"
            ):
                continue
            arg = node.args[1] if len(node.args) > 1 else None
            arg = arg or next((k.value for k in node.keywords if k.arg == "action"), None)
            func = parents.get(node)
            while func is not None and not isinstance(func, ast.FunctionDef):
                func = parents.get(func)
            found = _literal_codes(arg, module, func) if arg is not None else None
            if found is None:
                unreadable.append(f"{path.relative_to(LMS.parent)}:{node.lineno}")
            else:
                codes.update(found)
    return codes, unreadable


def test_every_action_code_recorded_in_lms_has_a_label():
    codes, unreadable = recorded_codes()
    assert unreadable == [], "pass the action code as a literal (or a module constant)"
    assert len(codes) > 40  # the scan finds the calls
    assert {"person.import", "course.import", "course.submit", "practical.signoff_request"} <= codes
    assert sorted(codes - ACTIONS.keys()) == [], "add these codes to lms/audit/labels.py"


def test_labels_name_known_areas_and_read_as_words(app):
    with app.test_request_context():
        for code, (area, label) in ACTIONS.items():
            assert area in AREAS, code
            assert str(label) and "." not in str(label), code
        with force_locale("en"):
            assert action_label("person.import") == "Imported people"
        with force_locale("zh_Hans_CN"):
            assert action_label("person.import") == "导入人员"
        assert action_label("no.such_code") == "no.such_code"
        assert set(TARGET_TYPES) >= {"Course", "User", "Firm", "ImportBatch", "Certificate"}


# --- a world with records ----------------------------------------------------------------


@pytest.fixture
def consortium(create_consortium):
    return create_consortium()


@pytest.fixture
def firm(create_firm, consortium):
    return create_firm(consortium=consortium, name="精工机械有限公司")


@pytest.fixture
def consortium_admin(make_user, consortium):
    return make_user(role="consortium_admin", consortium=consortium, name="Admin Wang")


@pytest.fixture
def auditor(make_user, consortium):
    return make_user(role="auditor", consortium=consortium, name="Auditor Li")


@pytest.fixture
def as_user(app, login):
    """A signed-in test client of `user`."""

    def make(user):
        c = app.test_client()
        login(user, c=c)
        return c

    return make


@pytest.fixture
def record(app):
    """record(actor, code, target, at=datetime, ip=...): an audit record of the consortium."""

    def make(actor, code, target_type, target_id, *, consortium, at=None, ip="10.0.0.1"):
        with app.app_context():
            rec = AuditRecord(
                actor_id=actor.id if actor else None,
                action=code,
                target_type=target_type,
                target_id=target_id,
                consortium_id=consortium.id,
                ip=ip,
                details={},
            )
            if at is not None:
                rec.created_at = at
            db.session.add(rec)
            db.session.commit()
            return rec.id

    return make


@pytest.fixture
def world(app, consortium, firm, consortium_admin, make_user, create_course, record):
    """Records naming a course, a person, a firm, an import, a certificate and an enrolment."""
    course = create_course(firm, title="安全生产基础")
    worker = make_user(role="worker", firm=firm, name="张小明", mobile="13912345678")
    with app.app_context():
        c = db.session.get(Course, course.id)
        version = c.versions[-1]
        batch = ImportBatch(
            consortium_id=consortium.id,
            firm_id=firm.id,
            created_by_id=consortium_admin.id,
            filename="people.xlsx",
            rows=[],
            status="done",
            result={"create": 3, "add": 1, "unchanged": 0, "error": 1},
            created_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC),
        )
        enrollment = Enrollment(
            consortium_id=consortium.id,
            firm_id=firm.id,
            user_id=worker.id,
            course_id=c.id,
            version_id=version.id,
        )
        db.session.add_all([batch, enrollment])
        db.session.flush()
        cert = Certificate(
            serial="TS-2026-000042",
            verification_code=secrets.token_hex(32),
            consortium_id=consortium.id,
            firm_id=firm.id,
            user_id=worker.id,
            course_id=c.id,
            version_id=version.id,
            enrollment_id=enrollment.id,
            completed_on=date(2026, 3, 1),
        )
        db.session.add(cert)
        db.session.commit()
        ids = {
            "batch": batch.public_id,
            "enrollment": enrollment.public_id,
            "cert": cert.public_id,
            "code": cert.public_code,
        }
    admin = consortium_admin
    record(admin, "course.publish", "Course", str(course.id), consortium=consortium)
    record(admin, "membership.add", "User", worker.public_id, consortium=consortium)
    record(admin, "firm.update", "Firm", str(firm.id), consortium=consortium)
    record(admin, "person.import", "ImportBatch", ids["batch"], consortium=consortium)
    record(None, "certificate.issue", "Certificate", ids["cert"], consortium=consortium)
    record(admin, "enrollment.assign", "Enrollment", ids["enrollment"], consortium=consortium)
    record(admin, "skill.create", "Skill", "gone-skill-with-a-long-id", consortium=consortium)
    return {"course": course, "worker": worker, **ids}


def _page(client, consortium, query: str = "") -> str:
    response = client.get(f"/consortia/{consortium.id}/audit{query}")
    assert response.status_code == 200, response.data[:300]
    return response.get_data(as_text=True)


def test_the_log_reads_in_words_and_names_its_targets(
    world, consortium, firm, consortium_admin, as_user
):
    html = _page(as_user(consortium_admin), consortium)
    for label in (
        "Published a course version",
        "Added a person",
        "Edited a member firm",
        "Imported people",
        "Issued a certificate",
        "Assigned a course",
    ):
        assert label in html
    assert "Admin Wang" in html and "System" in html
    # Targets by name, linked where the admin may open them.
    assert f'<a href="/courses/{world["course"].slug}">安全生产基础</a>' in html
    assert "张小明" in html
    assert f'href="/consortia/{consortium.id}/people?q=' in html
    assert f'<a href="/firms/{firm.id}/people">精工机械有限公司</a>' in html
    assert "Import of " in html and "(5 rows)" in html
    assert f'<a href="/verify/{world["code"]}">Certificate no. TS-2026-000042</a>' in html
    assert "张小明 in “安全生产基础”" in html
    # A target that no longer exists: its kind in words and a short id.
    assert "Skill</span> gone-ski…" in html
    # No developer text: no "Course 10" or bare class names, no prefix hint; never a mobile.
    assert ">Course " + str(world["course"].id) not in html
    assert "ImportBatch" not in html and 'placeholder="person."' not in html
    assert "13912345678" not in html and "1391234" not in html


def test_an_auditor_sees_names_but_no_links_to_pages_they_cannot_open(
    world, consortium, firm, auditor, as_user
):
    html = _page(as_user(auditor), consortium)
    assert "精工机械有限公司" in html and f'href="/firms/{firm.id}/people"' not in html
    assert "张小明" in html and "/people?q=" not in html
    assert "TS-2026-000042" in html and f'href="/verify/{world["code"]}"' not in html
    # Every member of the consortium may open a published course.
    assert f'href="/courses/{world["course"].slug}"' in html


def test_names_are_looked_up_once_per_target_type_not_per_row(
    app, world, consortium, consortium_admin, as_user, record, create_course, firm, make_user
):
    client = as_user(consortium_admin)

    def selects() -> int:
        statements = []

        def count(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("SELECT"):
                statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            _page(client, consortium)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    before = selects()
    for _ in range(3):
        course = create_course(firm)
        person = make_user(role="worker", firm=firm)
        record(consortium_admin, "course.publish", "Course", str(course.id), consortium=consortium)
        record(consortium_admin, "membership.add", "User", person.public_id, consortium=consortium)
        record(consortium_admin, "firm.update", "Firm", str(firm.id), consortium=consortium)
    assert selects() == before


# --- filters ------------------------------------------------------------------------------


@pytest.fixture
def dated(consortium, consortium_admin, auditor, firm, record):
    """Three firm edits around midnight in Shanghai (UTC+8) on 1–2 March 2026."""
    at = {
        "late_1st": datetime(2026, 3, 1, 15, 30, tzinfo=UTC),  # 23:30 on 1 March, local
        "early_2nd": datetime(2026, 3, 1, 16, 30, tzinfo=UTC),  # 00:30 on 2 March, local
        "feb": datetime(2026, 2, 10, 4, 0, tzinfo=UTC),
    }
    record(
        consortium_admin,
        "firm.update",
        "Firm",
        str(firm.id),
        consortium=consortium,
        at=at["late_1st"],
        ip="10.0.0.11",
    )
    record(
        auditor,
        "firm.deactivate",
        "Firm",
        str(firm.id),
        consortium=consortium,
        at=at["early_2nd"],
        ip="10.0.0.12",
    )
    record(
        consortium_admin,
        "course.publish",
        "Course",
        "999999",
        consortium=consortium,
        at=at["feb"],
        ip="10.0.0.13",
    )
    return at


def _ips(html: str) -> set[str]:
    return {ip for ip in ("10.0.0.11", "10.0.0.12", "10.0.0.13") if ip in html}


def test_dates_filter_by_local_days_both_inclusive(dated, consortium, consortium_admin, as_user):
    client = as_user(consortium_admin)
    assert _ips(_page(client, consortium, "?to=2026-03-01")) == {"10.0.0.11", "10.0.0.13"}
    assert _ips(_page(client, consortium, "?from=2026-03-02")) == {"10.0.0.12"}
    assert _ips(_page(client, consortium, "?from=2026-03-01&to=2026-03-01")) == {"10.0.0.11"}
    assert _ips(_page(client, consortium, "?from=2026-02-01&to=2026-02-28")) == {"10.0.0.13"}


ALL = {"10.0.0.11", "10.0.0.12", "10.0.0.13"}


@pytest.mark.parametrize(
    "query, field, shown",
    [
        ("?from=2026-13-45", "from", ALL),
        ("?from=yesterday", "from", ALL),
        ("?to=20260301", "to", ALL),
        ("?to=99999-01-01", "to", ALL),
        # The good "from" still applies; the "to" before it is left out.
        ("?from=2026-03-02&to=2026-03-01", "to", {"10.0.0.12"}),
        ("?action=person.&to=2026-03-01", "action", {"10.0.0.11", "10.0.0.13"}),
        ("?action=area:nowhere", "action", ALL),
        ("?actor=" + "x" * 81, "actor", ALL),
    ],
)
def test_a_bad_filter_value_is_a_field_error_and_changes_nothing_else(
    dated, consortium, consortium_admin, as_user, query, field, shown
):
    html = _page(as_user(consortium_admin), consortium, query)
    assert f'id="f-{field}-error"' in html
    assert 'aria-invalid="true"' in html
    assert html.count('class="error"') == 1
    # The bad value is left out; the other filters apply as given.
    assert _ips(html) == shown


@pytest.mark.parametrize(
    "query", ["?from=0001-01-01", "?to=9999-12-31", "?from=0001-01-01&to=9999-12-31"]
)
def test_extreme_dates_are_no_error(dated, consortium, consortium_admin, as_user, query):
    html = _page(as_user(consortium_admin), consortium, query)
    assert 'class="error"' not in html
    assert _ips(html) == {"10.0.0.11", "10.0.0.12", "10.0.0.13"}


def test_actor_and_action_filters(dated, consortium, consortium_admin, as_user):
    client = as_user(consortium_admin)
    assert _ips(_page(client, consortium, "?actor=auditor")) == {"10.0.0.12"}
    assert _ips(_page(client, consortium, "?actor=Wang")) == {"10.0.0.11", "10.0.0.13"}
    assert _ips(_page(client, consortium, "?actor=%25")) == set()  # a literal %, no wildcard
    assert _ips(_page(client, consortium, "?action=firm.deactivate")) == {"10.0.0.12"}
    assert _ips(_page(client, consortium, "?action=area:organisation")) == {
        "10.0.0.11",
        "10.0.0.12",
    }
    html = _page(client, consortium, "?action=area:courses&actor=wang")
    assert _ips(html) == {"10.0.0.13"}
    # The action filter is a list of labels grouped by area, not a free-text prefix.
    assert '<optgroup label="Consortium and member firms">' in html
    assert '<option value="firm.deactivate">Deactivated a member firm</option>' in html
    assert '<option value="area:courses" selected>' in html


def test_pagination_keeps_the_filters(app, consortium, consortium_admin, firm, as_user, record):
    per_page = app.config["LMS_PAGE_SIZE"] * 2
    for _ in range(per_page + 1):
        record(consortium_admin, "firm.update", "Firm", str(firm.id), consortium=consortium)
    html = _page(as_user(consortium_admin), consortium, "?action=firm.update&from=2020-01-01")
    assert "page=2" in html
    next_link = html.split('class="pagination"', 1)[1]
    assert "action=firm.update" in next_link and "from=2020-01-01" in next_link


# --- export --------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_csv_export_of_the_filtered_log_is_audited(
    app, world, dated, consortium, consortium_admin, as_user, in_db
):
    client = as_user(consortium_admin)
    rows = _csv(client.get(f"/consortia/{consortium.id}/audit?format=csv&to=2026-03-01"))
    assert rows[0] == [
        "Time",
        "Actor",
        "Action",
        "Action code",
        "Target type",
        "Target",
        "Target ID",
        "IP address",
    ]
    body = rows[1:]
    assert [r[7] for r in body] == ["10.0.0.11", "10.0.0.13"]  # newest first, filter applied
    first = body[0]
    assert first[0] == "2026-03-01 23:30:00+08:00"  # local time, ISO
    assert first[1:4] == ["Admin Wang", "Edited a member firm", "firm.update"]
    assert first[4:6] == ["Member firm", "精工机械有限公司"]

    everything = _csv(client.get(f"/consortia/{consortium.id}/audit?format=csv"))
    by_code = {r[3]: r for r in everything[1:]}
    assert by_code["person.import"][5].startswith("Import of ")
    assert by_code["certificate.issue"][1] == "System"
    assert by_code["certificate.issue"][5] == "Certificate no. TS-2026-000042"
    assert "13912345678" not in str(everything)

    def exports():
        return [
            r.details
            for r in db.session.scalars(
                select(AuditRecord).where(
                    AuditRecord.action == "audit.export",
                    AuditRecord.consortium_id == consortium.id,
                )
            )
        ]

    details = in_db(exports)
    assert len(details) == 2
    assert {"format": "csv", "to": "2026-03-01"}.items() <= details[0].items()
    # The export is itself in the log, in words.
    assert "Exported the audit log" in _page(client, consortium)


def test_export_cells_cannot_smuggle_formulas(
    app, consortium, consortium_admin, make_user, firm, record, as_user
):
    sneaky = make_user(role="firm_admin", firm=firm, name='=HYPERLINK("http://x")')
    record(sneaky, "firm.update", "Firm", str(firm.id), consortium=consortium)
    rows = _csv(as_user(consortium_admin).get(f"/consortia/{consortium.id}/audit?format=csv"))
    assert rows[1][1] == '\'=HYPERLINK("http://x")'


def test_excel_export_and_bad_filters_on_export(dated, consortium, auditor, as_user, count):
    client = as_user(auditor)
    response = client.get(f"/consortia/{consortium.id}/audit?format=xlsx")
    assert response.status_code == 200
    assert response.data[:2] == b"PK"
    assert client.get(f"/consortia/{consortium.id}/audit?format=pdf").status_code == 404
    # A bad filter: the page with the field error, no file, nothing audited.
    before = count(AuditRecord, AuditRecord.action == "audit.export")
    html = _page(client, consortium, "?format=csv&from=nonsense")
    assert 'id="f-from-error"' in html
    assert count(AuditRecord, AuditRecord.action == "audit.export") == before


def test_a_large_export_runs_as_a_job(
    app, dated, consortium, consortium_admin, as_user, monkeypatch, record
):
    monkeypatch.setitem(app.config, "LMS_EXPORT_INLINE_ROWS", 1)
    monkeypatch.setattr("lms.reports.audit_views.EXPORT_CHUNK", 2)  # several chunks
    same = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # three at one moment: chunks split them
    for ip in ("10.0.1.1", "10.0.1.2", "10.0.1.3"):
        record(None, "firm.update", "Firm", "1", consortium=consortium, at=same, ip=ip)
    client = as_user(consortium_admin)
    response = client.get(f"/consortia/{consortium.id}/audit?format=csv")
    assert response.status_code == 302
    assert "/jobs/" in response.headers["Location"]
    # Embedded mode: the job ran in the request; its file is the whole filtered log.
    download = client.get(response.headers["Location"].rstrip("/") + "/download")
    rows = _csv(download)
    download.close()
    assert [r[7] for r in rows[1:]] == [
        "10.0.0.12",
        "10.0.0.11",
        "10.0.0.13",
        "10.0.1.3",
        "10.0.1.2",
        "10.0.1.1",
    ]
    assert rows[1][2] == "Deactivated a member firm"


def test_the_export_source_checks_its_actor(app, dated, consortium, make_user, create_consortium):
    from werkzeug.exceptions import NotFound

    from lms.jobs.exports import SOURCES

    outsider = make_user(role="auditor", consortium=create_consortium())
    with app.test_request_context():
        actor = db.session.get(User, outsider.id)
        with pytest.raises(NotFound):
            SOURCES["audit.log"](actor, {"consortium": consortium.id, "filters": {}})


# --- access -------------------------------------------------------------------------------


def test_the_log_and_its_export_are_for_auditors_and_consortium_admins_only(
    consortium, firm, make_user, create_consortium, as_user, dated
):
    for path in (
        f"/consortia/{consortium.id}/audit",
        f"/consortia/{consortium.id}/audit?format=csv",
    ):
        assert as_user(make_user(role="firm_admin", firm=firm)).get(path).status_code == 404
        foreign = make_user(role="auditor", consortium=create_consortium())
        assert as_user(foreign).get(path).status_code == 404
        assert as_user(make_user(role="worker", firm=firm)).get(path).status_code == 404


def test_the_log_shows_only_its_own_consortium(
    consortium, consortium_admin, create_consortium, create_firm, record, as_user
):
    other = create_consortium()
    other_firm = create_firm(consortium=other, name="别家公司")
    record(None, "firm.update", "Firm", str(other_firm.id), consortium=other, ip="10.9.9.9")
    # Even a record of this consortium naming another consortium's firm doesn't reveal it.
    record(None, "firm.update", "Firm", str(other_firm.id), consortium=consortium)
    html = _page(as_user(consortium_admin), consortium)
    assert "10.9.9.9" not in html and "别家公司" not in html


def test_firm_actions_through_the_pages_appear_in_words(
    client, login, consortium, consortium_admin, auditor, create_firm, as_user
):
    """The former test_firms audit test: real admin actions, read by admin and auditor."""
    from tests.conftest import valid_credit_code

    firm = create_firm(consortium=consortium)
    login(consortium_admin)
    client.post(
        f"/consortia/{consortium.id}/firms/new",
        data={"name": "审计测试公司", "kind": "college", "credit_code": valid_credit_code(990001)},
    )
    client.post(
        f"/firms/{firm.id}/edit",
        data={"name": "改名后公司", "kind": firm.kind, "credit_code": firm.credit_code},
    )
    client.post(f"/firms/{firm.id}/deactivate")
    client.post(f"/firms/{firm.id}/activate")
    for c in (as_user(auditor), client):
        html = _page(c, consortium)
        for label in (
            "Added a member firm",
            "Edited a member firm",
            "Deactivated a member firm",
            "Reactivated a member firm",
        ):
            assert label in html
        assert "审计测试公司" in html and "改名后公司" in html
        assert consortium_admin.name in html and "127.0.0.1" in html
        assert 'title="firm.deactivate"' in html  # the code stays at hand for auditors
    filtered = _page(client, consortium, "?action=firm.deactivate")
    assert filtered.count("<tr>") == 2  # the header and one record
    assert "Deactivated a member firm</td>" in filtered


def test_record_action_keeps_its_signature(app, consortium, firm):
    with app.test_request_context():
        rec = record_action(
            None, "firm.update", db.session.get(Firm, firm.id), consortium_id=consortium.id
        )
        assert (rec.target_type, rec.target_id) == ("Firm", str(firm.id))
        assert db.session.get(Consortium, consortium.id) is not None
        db.session.rollback()
