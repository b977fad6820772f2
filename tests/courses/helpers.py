"""Building course packages on disk, reading problems, importing into the test database."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lms.courses.package import read_package
from lms.extensions import db

SKILLS = {"plc_programming", "robot_safe_operation"}

COURSE_YAML = """\
slug: demo-course
version: 1
language: zh-CN
title: 演示课程
summary: 用于测试的课程。
sector: smart-manufacturing
hours: 4
skills:
- skill: plc_programming
  level: 2
prerequisites: []
pass_mark: 60
modules:
- title: 模块一
  lessons:
  - file: lessons/01-intro.md
  - file: lessons/02-video.md
  - quiz: quizzes/q1.yaml
- title: 模块二
  lessons:
  - practical: 接线实操
    checklist:
    - 断电挂牌
    - 按图接线
"""

LESSON_INTRO = """\
---
title: 安全须知
minutes: 10
---
# 安全须知

进入车间前阅读本课。

![示意图](media/diagram.png)
"""

LESSON_VIDEO = """\
---
title: 操作演示
type: video
video: media/clip.mp4
minutes: 6
---
观看视频。
"""

QUIZ = """\
title: 小测
pass_mark: 60
attempts: 3
shuffle: false
questions:
- type: single
  prompt: 急停按钮是什么颜色？
  choices: [红色, 绿色]
  answer: 红色
  explanation: 急停按钮为红色。
- type: true_false
  prompt: 可以带电接线。
  answer: false
- type: multiple
  prompt: 哪些是个人防护用品？
  choices: [安全帽, 手套, 手机]
  answer: [安全帽, 手套]
- type: fill_blank
  prompt: 扭矩单位？
  answer: [N·m, 牛米]
"""


def valid_files() -> dict[str, str | bytes]:
    return {
        "course.yaml": COURSE_YAML,
        "lessons/01-intro.md": LESSON_INTRO,
        "lessons/02-video.md": LESSON_VIDEO,
        "quizzes/q1.yaml": QUIZ,
        "media/diagram.png": b"\x89PNG\r\n\x1a\nfake",
        "media/clip.mp4": b"\x00\x00\x00\x18ftypmp42",
    }


def write_files(root: Path, files: dict[str, str | bytes | None]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if content is None:
            continue
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def make_package(root: Path, **changes: str | bytes | None) -> Path:
    """The valid demo package with some files replaced (None removes one); keys use / or __."""
    files = valid_files()
    for name, content in changes.items():
        files[name.replace("__", "/")] = content
    return write_files(root, files)


def problems_of(path: Path, *, skills=SKILLS, courses=frozenset()) -> list[str]:
    return read_package(path, known_skills=set(skills), known_courses=set(courses)).problems


def line_of(text: str, needle: str) -> int:
    """1-based line number of the first line containing `needle`."""
    for n, row in enumerate(text.splitlines(), start=1):
        if needle in row:
            return n
    raise AssertionError(f"{needle!r} not in the text")


def zip_folder(folder: Path, dest: Path, *, top: str | None = None, extra=None) -> Path:
    """Zip a package folder (members at the root, or under one `top` folder)."""
    with zipfile.ZipFile(dest, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                archive.writestr(f"{top}/{name}" if top else name, path.read_bytes())
        for name, content in (extra or {}).items():
            archive.writestr(zipfile.ZipInfo(name), content)
    return dest


def edit_course_yaml(pkg: Path, **changes) -> dict:
    """Change top-level keys of a package's course.yaml (None removes a key)."""
    meta = yaml.safe_load((pkg / "course.yaml").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    (pkg / "course.yaml").write_text(
        yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return meta


def write_quiz(pkg: Path, data: dict, name: str = "quizzes/final.yaml") -> None:
    (pkg / name).parent.mkdir(parents=True, exist_ok=True)
    (pkg / name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@dataclass
class Published:
    """Ids of an imported course (plain values: usable outside any app context)."""

    course_id: int
    slug: str
    version_id: int
    version: int
    outcome: str
    lesson_ids: dict[str, int] = field(default_factory=dict)  # key → id, in course order
    question_ids: dict[str, list[int]] = field(default_factory=dict)  # quiz key → ids

    def lesson(self, key: str) -> int:
        return self.lesson_ids[key]


def import_dir(app, firm_id: int, pkg: Path) -> Published:
    """Read, validate and publish a package folder for the firm's consortium; commit."""
    from lms.courses.service import course_slugs, import_package
    from lms.taxonomy.service import known_skill_ids
    from lms.tenancy.models import Firm

    with app.test_request_context():
        firm = db.session.get(Firm, firm_id)
        consortium = firm.consortium
        package = read_package(
            pkg, known_skills=known_skill_ids(), known_courses=course_slugs(consortium)
        )
        assert not package.problems, package.problems
        version, outcome = import_package(None, consortium, firm, package)
        db.session.commit()
        return Published(
            course_id=version.course_id,
            slug=version.course.slug,
            version_id=version.id,
            version=version.version,
            outcome=outcome,
            lesson_ids={lesson.key: lesson.id for lesson in version.lessons},
            question_ids={
                lesson.key: [q.id for q in lesson.questions]
                for lesson in version.lessons
                if lesson.type == "quiz"
            },
        )


def seed_skills(app) -> None:
    from lms.taxonomy.service import import_seed_taxonomy

    with app.app_context():
        import_seed_taxonomy()
        db.session.commit()
