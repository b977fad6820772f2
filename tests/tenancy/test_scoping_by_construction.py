"""Issue 12: by-id reads of tenant-owned rows in views go through the scoping layer.

A view that calls `db.session.get(Model, key)` on a tenant-owned model reads a row whatever
tenant it belongs to; the scoping layer (lms/tenancy/scope.py) answers the same 404 for a row
outside the caller's scope as for a missing one. This test reads every view module and fails
on such a call. Tenant-owned: a table with consortium_id or firm_id, users (people data), and
every table that refers to one of those.
"""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest
from werkzeug.exceptions import HTTPException

from lms.auth.models import User
from lms.core.tenancy import TenantOwned
from lms.courses.models import Course, CourseVersion, Lesson
from lms.extensions import db
from lms.taxonomy.models import Skill, SkillCategory
from lms.tenancy.models import Consortium, Firm
from lms.tenancy.scope import Scope

ROOT = Path(__file__).resolve().parents[2] / "lms"
VIEW_MODULES = sorted([*ROOT.glob("*/views.py"), *ROOT.glob("*/*_views.py")])
# (module, model): reads that are public by design, each with its reason.
ALLOWED: dict[tuple[str, str], str] = {}


def tenant_owned_models() -> dict[str, type]:
    mappers = list(db.Model.registry.mappers)
    tables = {m.local_table.name: m.class_ for m in mappers}
    owned = {
        name
        for name, cls in tables.items()
        if name == "users" or {"consortium_id", "firm_id"} & set(cls.__table__.columns.keys())
    }
    grew = True
    while grew:
        grew = False
        for name, cls in tables.items():
            if name in owned:
                continue
            targets = {fk.column.table.name for fk in cls.__table__.foreign_keys}
            if targets & (owned - {"users"}) or (targets == {"users"}):
                owned.add(name)
                grew = True
    return {tables[name].__name__: tables[name] for name in owned}


def direct_reads(path: Path, models: set[str]) -> list[tuple[int, str]]:
    """(line, model) of every `db.session.get(Model, ...)` on a tenant-owned model."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and ast.unparse(node.func.value) == "db.session"
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in models
        ):
            found.append((node.lineno, node.args[0].id))
    return found


def test_the_tenant_owned_models_include_the_obvious_ones(app):
    owned = tenant_owned_models()
    for name in ("Course", "CourseVersion", "Lesson", "Enrollment", "Certificate", "User"):
        assert name in owned, name
    assert "Consortium" not in owned  # the tenant itself


def test_no_view_reads_a_tenant_owned_row_by_id_without_the_scoping_layer(app):
    models = set(tenant_owned_models())
    assert VIEW_MODULES, "no view modules found"
    offences = [
        f"{path.relative_to(ROOT.parent)}:{line}: db.session.get({model}, …)"
        for path in VIEW_MODULES
        for line, model in direct_reads(path, models)
        if (str(path.relative_to(ROOT.parent)), model) not in ALLOWED
    ]
    assert offences == [], "read these through lms/tenancy/scope.py:\n" + "\n".join(offences)


def test_the_check_finds_a_direct_read(tmp_path):
    view = tmp_path / "views.py"
    view.write_text("def show(i):\n    return db.session.get(Lesson, i)\n", encoding="utf-8")
    assert direct_reads(view, {"Lesson"}) == [(2, "Lesson")]


# --- the one generic lookup: Scope.get over each model's own declaration ----------------------


@pytest.fixture
def two_firms(app, create_consortium, create_firm, create_user, create_course):
    consortium = create_consortium()
    firm, other_firm = create_firm(consortium), create_firm(consortium)
    foreign = create_firm(create_consortium())
    return SimpleNamespace(
        consortium_id=consortium.id,
        firm_id=firm.id,
        other_firm_id=other_firm.id,
        worker=create_user(role="worker", firm=firm),
        ours=create_course(firm, slug="ours").id,
        theirs=create_course(other_firm, slug="theirs").id,
        foreign=create_course(foreign, slug="foreign").id,
    )


def _status(call) -> int:
    try:
        call()
    except HTTPException as exc:
        return exc.code
    return 200


def test_a_row_outside_the_callers_consortia_is_a_404_like_a_missing_one(app, two_firms):
    with app.test_request_context():
        scope = Scope(db.session.get(User, two_firms.worker.id))
        assert scope.get(Course, slug="ours").id == two_firms.ours
        assert scope.get(Course, slug="theirs").id == two_firms.theirs  # same consortium
        assert _status(lambda: scope.get(Course, slug="foreign")) == 404
        assert _status(lambda: scope.get(Course, slug="nothing")) == 404


def test_within_a_firm_only_its_rows_and_within_a_parent_only_its_children(app, two_firms):
    with app.test_request_context():
        scope = Scope(db.session.get(User, two_firms.worker.id))
        firm = db.session.get(Firm, two_firms.firm_id)
        assert scope.get(Course, slug="ours", within=firm).id == two_firms.ours
        assert _status(lambda: scope.get(Course, slug="theirs", within=firm)) == 404
        ours, theirs = (
            db.session.get(Course, two_firms.ours),
            db.session.get(Course, two_firms.theirs),
        )
        version = scope.get(CourseVersion, version=1, within=ours)
        lesson = version.lessons[0]
        assert scope.get(Lesson, id=lesson.id, within=version) is lesson
        other_version = scope.get(CourseVersion, version=1, within=theirs)
        assert _status(lambda: scope.get(Lesson, id=lesson.id, within=other_version)) == 404
        with pytest.raises(TypeError):
            scope.get(Lesson, id=lesson.id)  # a child row is only looked up in its parent


def test_shared_rows_are_seen_by_every_consortium_unless_left_out(app, two_firms):
    with app.test_request_context():
        db.session.add(SkillCategory(id="gl_cat", name_zh="类别", name_en="Category"))
        db.session.add(Skill(id="gl_shared", category_id="gl_cat", name_zh="共", name_en="S"))
        db.session.flush()
        scope = Scope(db.session.get(User, two_firms.worker.id))
        consortium = db.session.get(Consortium, two_firms.consortium_id)
        assert scope.get(Skill, id="gl_shared").id == "gl_shared"
        assert (
            _status(lambda: scope.get(Skill, id="gl_shared", within=consortium, own_only=True))
            == 404
        )
        db.session.rollback()


def test_every_model_looked_up_through_the_scope_declares_its_tenant():
    looked_up = set()
    for path in VIEW_MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and ast.unparse(node.func.value) == "current_scope()"
                and node.args
                and isinstance(node.args[0], ast.Name)
            ):
                looked_up.add(node.args[0].id)
    models = {cls.__name__: cls for cls in (m.class_ for m in db.Model.registry.mappers)}
    assert looked_up, "no view uses the generic lookup"
    assert {name for name in looked_up if not issubclass(models[name], TenantOwned)} == set()
