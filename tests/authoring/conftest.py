"""Fixtures for authoring tests: a consortium with two firms, their people, skills, and
helpers that drive the authoring pages like a trainer does (form posts, no JavaScript)."""

from __future__ import annotations

import re
import struct
import zlib
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from lms.courses.models import Course, CourseVersion
from lms.extensions import db
from lms.taxonomy.models import Skill, SkillCategory


@pytest.fixture(autouse=True)
def _own_storage(app, tmp_path):
    """Each test stores media in its own folder: ids repeat after each rollback, and a file
    left by another test under the same course id would fool the assertions."""
    before = app.config["LMS_STORAGE_DIR"]
    app.config["LMS_STORAGE_DIR"] = str(tmp_path / "storage")
    yield
    app.config["LMS_STORAGE_DIR"] = before


@pytest.fixture
def skills(app):
    """Two skills of a test category (the taxonomy seed is not loaded in tests)."""
    with app.app_context():
        db.session.add(SkillCategory(id="t-auto", name_zh="自动化", name_en="Automation"))
        db.session.add_all(
            [
                Skill(id="t-plc", category_id="t-auto", name_zh="PLC 编程", name_en="PLC"),
                Skill(id="t-robot", category_id="t-auto", name_zh="机器人操作", name_en="Robots"),
            ]
        )
        db.session.commit()
    return ["t-plc", "t-robot"]


@pytest.fixture
def world(create_consortium, create_firm, create_user, skills):
    consortium = create_consortium()
    firm = create_firm(consortium)
    other_firm = create_firm(consortium)
    elsewhere = create_consortium()
    foreign_firm = create_firm(elsewhere)
    # English pages, so tests can read messages; test_workflow checks the Chinese ones.
    en = {"locale": "en"}
    return SimpleNamespace(
        consortium=consortium,
        firm=firm,
        other_firm=other_firm,
        trainer=create_user(role="trainer", firm=firm, **en),
        other_trainer=create_user(role="trainer", firm=other_firm, **en),
        worker=create_user(role="worker", firm=firm, **en),
        other_worker=create_user(role="worker", firm=other_firm, **en),
        admin=create_user(role="consortium_admin", consortium=consortium, **en),
        foreign_admin=create_user(role="consortium_admin", consortium=elsewhere, **en),
        foreign_trainer=create_user(role="trainer", firm=foreign_firm, **en),
        skills=skills,
    )


def base_url(firm, slug: str, number: int = 1) -> str:
    return f"/authoring/firms/{firm.id}/courses/{slug}/v{number}"


def course_form(slug: str, title: str, **extra) -> dict:
    data = {
        "slug": slug,
        "title": title,
        "language": "zh-CN",
        "summary": "面向一线员工的入门课程。",
        "sector": "smart-manufacturing",
        "hours": "4",
        "pass_mark": "60",
        "skills-0-skill": "t-plc",
        "skills-0-level": "2",
        "skills-1-skill": "",
        "skills-1-level": "1",
    }
    data.update(extra)
    return data


def version_of(app, slug: str, number: int | None = None) -> dict:
    """A plain snapshot of a version (no ORM objects leave the app context)."""
    with app.app_context():
        course = db.session.scalars(select(Course).where(Course.slug == slug)).one()
        versions = course.versions
        v = versions[-1] if number is None else next(x for x in versions if x.version == number)
        return {
            "id": v.id,
            "course_id": course.id,
            "firm_id": course.firm_id,
            "consortium_id": course.consortium_id,
            "version": v.version,
            "status": v.status,
            "title": v.title,
            "review_comment": v.review_comment,
            "skills": v.skills,
            "prerequisites": list(v.prerequisites or []),
            "modules": [
                {
                    "id": m.id,
                    "title": m.title,
                    "position": m.position,
                    "lessons": [x.id for x in m.lessons],
                }
                for m in v.modules
            ],
            "lessons": [
                {
                    "id": x.id,
                    "key": x.key,
                    "type": x.type,
                    "title": x.title,
                    "position": x.position,
                    "module_id": x.module_id,
                    "body": x.body,
                    "html": x.html,
                    "media_path": x.media_path,
                    "data": dict(x.data or {}),
                    "questions": [
                        {
                            "id": q.id,
                            "type": q.type,
                            "prompt": q.prompt,
                            "choices": list(q.choices or []),
                            "answer": q.answer,
                            "position": q.position,
                        }
                        for q in x.questions
                    ],
                }
                for x in v.lessons
            ],
        }


def lesson_by_title(snapshot: dict, title: str) -> dict:
    return next(x for x in snapshot["lessons"] if x["title"] == title)


def statuses(app, slug: str) -> dict[int, str]:
    with app.app_context():
        rows = db.session.execute(
            select(CourseVersion.version, CourseVersion.status)
            .join(Course, Course.id == CourseVersion.course_id)
            .where(Course.slug == slug)
        )
        return dict(rows.all())


def text_of(response) -> str:
    return response.get_data(as_text=True)


def errors_in(html: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", e).strip() for e in re.findall(r'class="error"[^>]*>(.*?)</p>', html)
    ]


# --- tiny real files ---------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def tiny_png(extra_chunk: bytes | None = None) -> bytes:
    """A valid 1×1 RGB PNG (optionally with a tEXt chunk)."""
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    chunks = [_png_chunk(b"IHDR", ihdr)]
    if extra_chunk is not None:
        chunks.append(_png_chunk(b"tEXt", extra_chunk))
    chunks += [_png_chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")), _png_chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def tiny_mp4() -> bytes:
    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    return (
        box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2avc1mp41")
        + box(b"moov", box(b"mvhd", b"\x00" * 100))
        + box(b"mdat", b"\x00\x01\x02\x03" * 8)
    )


def tiny_pdf(extra: bytes = b"") -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R"
        + extra
        + b" >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )
