"""Zipped course packages within limits: a bomb is a problem named like any other
(`package.zip:1: …`), found before anything is inflated, and imports nothing."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms.core import archives
from lms.courses import package as package_module
from lms.courses.models import Course
from lms.extensions import db
from tests.core.bombs import (
    MB,
    Counter,
    count_reads,
    entry,
    handmade_zip,
    stored_entry,
    zeros_entry,
)
from tests.courses.helpers import make_package, problems_of, seed_skills, zip_folder

DEMO_PACKAGES = sorted(p for p in (Path(__file__).parents[2] / "courses").iterdir() if p.is_dir())


@pytest.fixture
def counter(monkeypatch) -> Counter:
    return count_reads(monkeypatch)


def package_entries(tmp_path: Path) -> list:
    """`handmade_zip` entries of the valid demo package of the tests."""
    folder = make_package(tmp_path / "pkg")
    return [
        entry(path.relative_to(folder).as_posix(), path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]


def write(tmp_path: Path, data: bytes, name: str = "course.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def the_problem(path: Path) -> str:
    problems = [p for p in problems_of(path) if not p.startswith("course.yaml:1: missing")]
    assert len(problems) == 1, problems
    return problems[0]


def courses(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Course))


def test_the_460_kb_zip_expanding_to_450_mb_is_refused_before_a_byte_is_inflated(
    app, tmp_path, create_firm, counter
):
    # The review's package: a valid course with 450 MB of zeros beside it, 460 KB zipped.
    data = handmade_zip([*package_entries(tmp_path), zeros_entry("media/filler.bin", 450)])
    assert len(data) < 470 * 1024
    bomb = write(tmp_path, data)
    problem = the_problem(bomb)
    assert problem.startswith("course.zip:1: media/filler.bin expands more than 100 times")
    assert counter.inflated == 0
    # Through the CLI, the way packages come in: reported, exit code, nothing imported.
    seed_skills(app)
    firm = create_firm()
    with app.app_context():
        code = db.session.get(type(firm), firm.id).consortium.code
    result = app.test_cli_runner().invoke(
        args=["courses", "import", str(bomb), "--consortium", code]
    )
    assert result.exit_code != 0
    assert f"{bomb}/{problem}" in result.output
    assert courses(app) == 0
    assert counter.inflated == 0


def test_a_package_declaring_more_than_1_gb_in_all_is_refused_unread(tmp_path, counter):
    # Default limits: six 180 MB videos (each under the 200 MB file limit, stored: ratio 1).
    videos = [stored_entry(f"media/{n}.mp4", declared=180 * MB) for n in range(6)]
    bomb = write(tmp_path, handmade_zip([*package_entries(tmp_path), *videos]))
    assert the_problem(bomb).startswith("course.zip:1: expands to more than 1024 MB")
    assert counter.inflated == 0


def test_a_lower_total_limit_is_applied_to_what_is_really_there(tmp_path, counter, monkeypatch):
    limits = archives.ZipLimits(max_entries=4000, max_total=MB, max_ratio=100)
    monkeypatch.setattr(package_module, "ZIP_LIMITS", limits)
    clip = random.Random(0).randbytes(MB)  # does not compress: ratio about 1
    bomb = write(tmp_path, handmade_zip([*package_entries(tmp_path), entry("media/x.mp4", clip)]))
    assert the_problem(bomb).startswith("course.zip:1: expands to more than 1 MB")
    assert counter.inflated == 0


def test_a_zip_of_more_entries_than_allowed_is_refused_from_its_end_record(tmp_path, counter):
    entries = [entry(f"media/{n}.txt", b"") for n in range(4001)]
    bomb = write(tmp_path, handmade_zip(entries))
    assert the_problem(bomb) == "course.zip:1: more than 4000 entries"
    assert counter.inflated == 0


def test_more_files_than_a_package_may_have_are_refused_not_cut_silently(tmp_path, counter):
    entries = [*package_entries(tmp_path), *(entry(f"media/{n}.txt", b"") for n in range(2000))]
    bomb = write(tmp_path, handmade_zip(entries))
    assert the_problem(bomb) == "course.zip:1: more than 2000 files"
    assert counter.inflated == 0


def test_an_entry_inflating_past_its_declared_size_stops_there(tmp_path, counter):
    # The directory says the lesson has 1,000 bytes; its stream holds 10 MB. zipfile hands out
    # what was declared and then finds the CRC wrong; read_entry would stop one byte later.
    entries = package_entries(tmp_path)
    name = "lessons/01-intro.md"
    entries = [e for e in entries if e[0] != name] + [entry(name, bytes(10 * MB), declared=1000)]
    bomb = write(tmp_path, handmade_zip(entries))
    problem = the_problem(bomb)
    assert problem.startswith(f"course.zip:1: {name} cannot be read")
    assert counter.by_entry[name] <= 1001


@pytest.mark.parametrize("folder", DEMO_PACKAGES, ids=lambda p: p.name)
def test_each_demo_package_zipped_is_within_the_limits(folder):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    archives.check_zip(buffer.getvalue(), package_module.ZIP_LIMITS)


def test_a_zipped_package_still_reads_like_its_folder(tmp_path, counter):
    folder = make_package(tmp_path / "pkg")
    archive = zip_folder(folder, tmp_path / "demo.zip", top="demo-course")
    assert problems_of(archive) == problems_of(folder) == []
    assert counter.inflated == sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
