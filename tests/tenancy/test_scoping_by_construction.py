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

from lms.extensions import db

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
