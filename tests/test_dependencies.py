"""The dependency locks: pyproject.toml and requirements/ agree, the environment is the lock,
accepted advisories expire, and warnings fail for our code but not for a library's own
deprecations."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import tomllib
import warnings
from pathlib import Path

import pytest
from packaging.markers import Marker

from scripts import deps

PYPROJECT = tomllib.loads((deps.ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_declared_requirement_is_pinned_by_its_lock():
    assert deps.disagreements(PYPROJECT) == []


def test_a_pin_changed_without_relocking_is_reported():
    changed = {**PYPROJECT, "project": dict(PYPROJECT["project"])}
    changed["project"]["dependencies"] = [
        "Flask==3.0.0" if dep.startswith("Flask==") else dep
        for dep in PYPROJECT["project"]["dependencies"]
    ] + ["tablib==3.8.0"]

    problems = deps.disagreements(changed)

    assert "Flask==3.0.0: requirements/app.txt has 3.1.3" in problems
    assert "Flask==3.0.0: requirements/dev.txt has 3.1.3" in problems
    assert "tablib==3.8.0: not in requirements/app.txt" in problems


def test_a_dev_tool_changed_without_relocking_is_reported():
    changed = {**PYPROJECT, "dependency-groups": dict(PYPROJECT["dependency-groups"])}
    changed["dependency-groups"]["build"] = ["pip==1.0", "setuptools==84.2.1"]

    problems = deps.disagreements(changed)

    assert {p.split(":")[1].strip() for p in problems if p.startswith("pip==1.0")} == {
        "requirements/app.txt has 26.3",
        "requirements/build.txt has 26.3",
        "requirements/dev.txt has 26.3",
    }


def test_every_locked_package_has_hashes_and_one_version_across_locks():
    versions: dict[tuple[str, str | None], set[str]] = {}
    for name in deps.LOCKS:
        lines = (deps.LOCK_DIR / name).read_text(encoding="utf-8").splitlines()
        pinned = [i for i, line in enumerate(lines) if deps._PIN.match(line)]
        assert pinned, name
        assert [lines[i] for i in pinned if "--hash=sha256:" not in lines[i + 1]] == []
        for canonical, pins in deps.read_lock(deps.LOCK_DIR / name).items():
            for pin in pins:  # a universal lock may pin one version per Python version
                versions.setdefault((canonical, pin.marker), set()).add(pin.version)
    assert {key: found for key, found in versions.items() if len(found) > 1} == {}


def test_installed_packages_are_exactly_the_locked_versions():
    wrong = {}
    for canonical, pins in deps.read_lock(deps.LOCK_DIR / "dev.txt").items():
        for pin in pins:
            if pin.marker and not Marker(pin.marker).evaluate():
                continue
            installed = importlib.metadata.version(pin.name)
            if installed != pin.version:
                wrong[canonical] = (pin.version, installed)
    assert wrong == {}


def test_the_lock_comparison_ignores_hashes_but_not_versions(tmp_path):
    locked = "flask==3.1.3 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via x\n"
    same = "flask==3.1.3 \\\n    --hash=sha256:aa \\\n    --hash=sha256:cc\n    # via x\n"

    assert deps._comparable(locked, tmp_path) == deps._comparable(same, tmp_path)
    assert deps._comparable(locked, tmp_path) != deps._comparable(
        locked.replace("3.1.3", "3.1.4"), tmp_path
    )


def _accepted(tmp_path, body: str) -> Path:
    path = tmp_path / "accepted.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_an_accepted_advisory_past_its_review_date_is_overdue(tmp_path):
    path = _accepted(
        tmp_path,
        '[[advisory]]\nid = "GHSA-1"\npackage = "x"\nreason = "not reachable"\n'
        "review_by = 2027-03-01\n",
    )
    accepted = deps.read_accepted(path)

    assert deps.overdue(accepted, dt.date(2027, 3, 1)) == []
    assert [a.id for a in deps.overdue(accepted, dt.date(2027, 3, 2))] == ["GHSA-1"]


def test_an_accepted_advisory_needs_a_reason_and_a_date(tmp_path):
    path = _accepted(tmp_path, '[[advisory]]\nid = "GHSA-1"\npackage = "x"\nreview_by = "soon"\n')

    with pytest.raises(ValueError, match="advisory 1: .*missing or wrong: reason"):
        deps.read_accepted(path)


def test_the_committed_accepted_advisories_are_valid_and_in_date():
    assert deps.overdue(deps.read_accepted(), dt.date.today()) == []


def test_an_open_advisory_fails_the_audit_and_unreachable_lookups_only_when_strict(monkeypatch):
    open_advisory = {
        "dependencies": [
            {"name": "x", "version": "1.0", "vulns": [{"id": "GHSA-1", "fix_versions": ["1.1"]}]}
        ]
    }
    unreachable = {"dependencies": [{"name": "x", "version": "1.0", "skip_reason": "not found"}]}
    clean = {"dependencies": [{"name": "x", "version": "1.0", "vulns": []}]}

    assert deps.summarise(open_advisory) == 1
    assert deps.summarise(clean) == 0
    assert deps.summarise(unreachable) == 0
    monkeypatch.setenv("LMS_AUDIT_STRICT", "1")
    assert deps.summarise(unreachable) == 1
    assert deps.summarise(clean) == 0


def test_a_deprecation_raised_by_our_code_fails_the_suite():
    with pytest.raises(DeprecationWarning):
        warnings.warn("our own API is deprecated", DeprecationWarning, stacklevel=1)


def test_a_library_deprecating_itself_is_shown_not_raised():
    with warnings.catch_warnings(record=True) as caught:
        warnings.warn_explicit(
            "this API is deprecated", DeprecationWarning, "somelib/api.py", 1, module="somelib"
        )
    assert [str(w.message) for w in caught] == ["this API is deprecated"]


def test_other_warnings_from_libraries_still_fail():
    with pytest.raises(RuntimeWarning):
        warnings.warn_explicit("overflow", RuntimeWarning, "somelib/api.py", 1, module="somelib")
