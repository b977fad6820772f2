"""The Python dependency locks in requirements/: write them, check them, audit them.

    python scripts/deps.py lock [uv options, e.g. --upgrade-package cryptography]
    python scripts/deps.py check    # the locks are what `lock` would write from pyproject.toml
    python scripts/deps.py audit    # pip-audit on the locks, with the accepted advisories

Three locks, every package pinned with its hashes, resolved for every platform on Python 3.11+:
build.txt (pip and setuptools, which install the rest), app.txt (the app and build.txt) and
dev.txt (app.txt and the development tools). `make` installs them with `--require-hashes`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK_DIR = ROOT / "requirements"
ACCEPTED = LOCK_DIR / "audit-accepted.toml"
BIN = Path(sys.executable).parent

# (lock file, the inputs uv compiles it from); later locks are constrained by app.txt, so one
# package has one version in all three.
LOCKS = {
    "app.txt": ["pyproject.toml", "--group", "build"],
    "build.txt": ["--group", "pyproject.toml:build", "-c", "{dir}/app.txt"],
    "dev.txt": ["pyproject.toml", "--group", "dev", "-c", "{dir}/app.txt"],
}
UV_OPTIONS = [
    "--universal",
    "--python-version",
    "3.11",
    "--generate-hashes",
    "--quiet",
    "--custom-compile-command",
    "make lock",
]

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: str | None


def canonical(name: str) -> str:
    """PEP 503 normalised name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, list[Pin]]:
    """The pins of a lock by canonical name (a universal lock may pin one name per marker)."""
    pins: dict[str, list[Pin]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            name, version, marker = match.groups()
            pins.setdefault(canonical(name), []).append(Pin(name, version, marker))
    return pins


def declared(pyproject: dict) -> dict[str, list[str]]:
    """The requirements pyproject.toml declares, by the lock that must satisfy them."""
    groups = pyproject.get("dependency-groups", {})

    def group(name: str) -> list[str]:
        items = []
        for item in groups.get(name, []):
            items += group(item["include-group"]) if isinstance(item, dict) else [item]
        return items

    return {
        "app.txt": pyproject["project"]["dependencies"] + group("build"),
        "build.txt": group("build"),
        "dev.txt": pyproject["project"]["dependencies"] + group("dev"),
    }


def disagreements(pyproject: dict, lock_dir: Path = LOCK_DIR) -> list[str]:
    """Each declared requirement that its lock lacks or pins outside the declared versions."""
    from packaging.requirements import Requirement

    problems = []
    for lock_name, requirements in declared(pyproject).items():
        pins = read_lock(lock_dir / lock_name)
        for text in requirements:
            requirement = Requirement(text)
            locked = pins.get(canonical(requirement.name), [])
            if not locked:
                problems.append(f"{text}: not in requirements/{lock_name}")
            for pin in locked:
                if not requirement.specifier.contains(pin.version, prereleases=True):
                    problems.append(f"{text}: requirements/{lock_name} has {pin.version}")
    return problems


def lock(lock_dir: Path = LOCK_DIR, extra: list[str] | None = None) -> None:
    """Write the three locks into lock_dir, keeping the pins there unless told to upgrade."""
    uv = shutil.which("uv", path=str(BIN)) or "uv"
    for name, inputs in LOCKS.items():
        args = [arg.replace("{dir}", _dir_arg(lock_dir)) for arg in inputs]
        subprocess.run(
            [uv, "pip", "compile", *args, *UV_OPTIONS, *(extra or []), "-o", str(lock_dir / name)],
            cwd=ROOT,
            check=True,
        )


def _dir_arg(lock_dir: Path) -> str:
    """lock_dir as uv is given it (and writes it into the `# via -c` notes)."""
    return str(lock_dir.relative_to(ROOT)) if lock_dir.is_relative_to(ROOT) else str(lock_dir)


def _comparable(text: str, lock_dir: Path) -> list[str]:
    """A lock without its hash lines: PyPI may add a wheel to an old release, which is no drift."""
    text = text.replace(_dir_arg(lock_dir), "requirements")
    return [
        line.rstrip(" \\") for line in text.splitlines() if not line.lstrip().startswith("--hash=")
    ]


def check() -> int:
    """0 when re-locking from pyproject.toml changes no pin; otherwise print the difference."""
    import difflib

    problems = disagreements(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8")))
    if problems:
        print("\n".join(problems))
        print("pyproject.toml and requirements/ disagree: run `make lock` and commit the result.")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        for name in LOCKS:
            shutil.copy(LOCK_DIR / name, tmp_dir / name)
        lock(tmp_dir)
        drift = []
        for name in LOCKS:
            old = _comparable((LOCK_DIR / name).read_text(encoding="utf-8"), LOCK_DIR)
            new = _comparable((tmp_dir / name).read_text(encoding="utf-8"), tmp_dir)
            drift += difflib.unified_diff(
                old, new, f"requirements/{name}", "re-locked", lineterm=""
            )
    if drift:
        print("\n".join(drift))
        print("pyproject.toml and requirements/ disagree: run `make lock` and commit the result.")
        return 1
    print("requirements/ matches pyproject.toml.")
    return 0


@dataclass(frozen=True)
class Accepted:
    id: str
    package: str
    reason: str
    review_by: dt.date


def read_accepted(path: Path = ACCEPTED) -> list[Accepted]:
    """The advisories accepted after review; each needs a package, a reason and a review date."""
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    accepted = []
    for number, entry in enumerate(data.get("advisory", []), start=1):
        missing = [key for key in ("id", "package", "reason", "review_by") if not entry.get(key)]
        if missing or not isinstance(entry["review_by"], dt.date):
            raise ValueError(
                f"{path.name}: advisory {number}: needs id, package, reason and review_by "
                f"(a date, e.g. 2027-03-01); missing or wrong: {', '.join(missing) or 'review_by'}"
            )
        accepted.append(
            Accepted(entry["id"], entry["package"], entry["reason"], entry["review_by"])
        )
    return accepted


def overdue(accepted: list[Accepted], today: dt.date) -> list[Accepted]:
    return [entry for entry in accepted if entry.review_by < today]


def audit() -> int:
    """pip-audit every lock against PyPI's advisories, ignoring only accepted ones still in date.

    A package pip-audit could not look up (the advisory service unreachable) is reported; it fails
    the audit only with LMS_AUDIT_STRICT=1, for a CI that must have the answer.
    """
    accepted = read_accepted()
    late = overdue(accepted, dt.date.today())
    for entry in late:
        print(
            f"{entry.id} ({entry.package}) was to be reviewed by {entry.review_by}: {entry.reason}"
        )
    if late:
        print(f"Review the advisories above, then update {ACCEPTED.relative_to(ROOT)}.")
        return 1
    for entry in accepted:
        print(f"Accepted until {entry.review_by}: {entry.id} ({entry.package}): {entry.reason}")
    ignore = [arg for entry in accepted for arg in ("--ignore-vuln", entry.id)]
    locks = [arg for name in LOCKS for arg in ("-r", str(LOCK_DIR / name))]
    pip_audit = shutil.which("pip-audit", path=str(BIN)) or "pip-audit"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        command = [pip_audit, *locks, "--disable-pip", "--progress-spinner", "off", *ignore]
        done = subprocess.run(
            [*command, "--format", "json", "--output", str(report)],
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
        )
        if not report.exists():
            print(done.stdout, done.stderr, "pip-audit did not run.", sep="\n")
            return 1
        return summarise(json.loads(report.read_text(encoding="utf-8")))


def summarise(report: dict) -> int:
    """Print pip-audit's JSON report in a few lines; 1 when an advisory is open."""
    dependencies = report.get("dependencies", [])
    found = [(dep, vuln) for dep in dependencies for vuln in dep.get("vulns", [])]
    skipped = [dep for dep in dependencies if dep.get("skip_reason")]
    for dep, vuln in found:
        fixed = ", ".join(vuln.get("fix_versions") or []) or "none yet"
        print(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fixed})")
    audited = len(dependencies) - len(skipped)
    print(
        f"pip-audit: {audited} of {len(dependencies)} locked packages looked up, "
        f"{len(found)} open advisories."
    )
    if skipped:
        print(
            f"Not looked up: {len(skipped)} packages, e.g. {skipped[0]['skip_reason']} "
            "(is PyPI's JSON API reachable from here?)"
        )
    if found:
        print(
            f'Upgrade (make lock LOCK_ARGS="--upgrade-package NAME") or accept each in '
            f"{ACCEPTED.relative_to(ROOT)} with a reason and a review date."
        )
        return 1
    return 1 if skipped and os.environ.get("LMS_AUDIT_STRICT") == "1" else 0


def main(argv: list[str]) -> int:
    verb, *rest = argv or ["help"]
    if verb == "lock":
        lock(extra=rest)
        return 0
    if verb == "check":
        return check()
    if verb == "audit":
        return audit()
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
