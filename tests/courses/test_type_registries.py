"""The registries own their types (issue 13): every registered lesson type and question type
round-trips through a course package (import, export, import again), each has the templates the
pages include by its name, the ordering question lives in its registry module alone, and no code
outside the registries branches on a type's name again (a grep over lms/ and templates/ with an
explicit allow-list)."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml

from lms import PROJECT_ROOT
from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.models import CourseVersion
from lms.courses.package import read_package
from lms.courses.question_types import QUESTION_TYPES
from lms.courses.service import export_version
from lms.extensions import db
from tests.courses.helpers import import_dir, write_files

SKILL = "t-registry"

# One question of every registered type, as a package's quiz YAML writes it, with what is
# stored: a type added to the registry without an example here fails the test below.
QUESTION_EXAMPLES = {
    "single": (
        {"prompt": "急停按钮是什么颜色？", "choices": ["红色", "绿色"], "answer": "红色"},
        (["红色", "绿色"], "红色"),
    ),
    "multiple": (
        {
            "prompt": "哪些是防护用品？",
            "choices": ["安全帽", "手套", "手机"],
            "answer": ["安全帽", "手套"],
        },
        (["安全帽", "手套", "手机"], ["安全帽", "手套"]),
    ),
    "true_false": ({"prompt": "可以带电接线。", "answer": False}, ([], False)),
    "fill_blank": ({"prompt": "扭矩单位？", "answer": ["N·m", "牛米"]}, ([], ["N·m", "牛米"])),
    "ordering": (
        {"prompt": "排列上锁挂牌的步骤。", "answer": ["停机", "断电", "上锁", "验证"]},
        ([], ["停机", "断电", "上锁", "验证"]),
    ),
}
# The lesson types a package can hold, one entry each (lesson files, a quiz, a practical task).
LESSON_ENTRIES = {
    "text": ({"file": "lessons/01-text.md"}, "lessons/01-text.md"),
    "video": ({"file": "lessons/02-video.md"}, "lessons/02-video.md"),
    "file": ({"file": "lessons/03-file.md"}, "lessons/03-file.md"),
    "quiz": ({"quiz": "quizzes/all-types.yaml"}, "quizzes/all-types.yaml"),
    "practical": (
        {
            "practical": "接线实操",
            "checklist": ["断电挂牌", "按图接线"],
            "skills": [{"skill": SKILL, "level": 2}],
        },
        "practical:接线实操",
    ),
}


def test_every_registered_type_has_an_example_here():
    assert set(QUESTION_EXAMPLES) == set(QUESTION_TYPES)
    assert set(LESSON_ENTRIES) == set(LESSON_TYPES)


def every_type_package(root: Path) -> Path:
    quiz = {
        "title": "每种题型",
        "pass_mark": 60,
        "attempts": 2,
        "shuffle": True,
        "draw": 4,
        "review": "after_last",
        "questions": [
            {"type": kind, **definition, "explanation": f"{kind} 的解析"}
            for kind, (definition, _stored) in QUESTION_EXAMPLES.items()
        ],
    }
    meta = {
        "slug": "every-type",
        "version": 1,
        "language": "zh-CN",
        "title": "每种课型",
        "summary": "每种课型与题型各一。",
        "sector": "smart-manufacturing",
        "hours": 2,
        "skills": [{"skill": SKILL, "level": 2}],
        "prerequisites": [],
        "pass_mark": 60,
        "modules": [
            {"title": "模块一", "lessons": [entry for entry, _key in LESSON_ENTRIES.values()]}
        ],
    }
    return write_files(
        root,
        {
            "course.yaml": yaml.safe_dump(meta, allow_unicode=True, sort_keys=False),
            "lessons/01-text.md": "---\ntitle: 安全须知\nminutes: 5\n---\n正文。\n",
            "lessons/02-video.md": (
                "---\ntitle: 操作演示\ntype: video\nvideo: media/clip.mp4\nminutes: 3\n---\n"
                "看视频。\n"
            ),
            "lessons/03-file.md": (
                "---\ntitle: 说明书\ntype: file\nfile: media/manual.pdf\nminutes: 2\n---\n"
                "读说明书。\n"
            ),
            "quizzes/all-types.yaml": yaml.safe_dump(quiz, allow_unicode=True, sort_keys=False),
            "media/clip.mp4": b"\x00\x00\x00\x18ftypmp42",
            "media/manual.pdf": b"%PDF-1.4\n%%EOF\n",
        },
    )


@pytest.fixture
def firm(app, create_firm):
    from lms.taxonomy.models import Skill, SkillCategory

    with app.app_context():
        db.session.add(SkillCategory(id="t-registry-cat", name_zh="测试", name_en="Testing"))
        db.session.add(
            Skill(id=SKILL, category_id="t-registry-cat", name_zh="接线", name_en="Wiring")
        )
        db.session.commit()
    return create_firm()


def _read(root: Path):
    package = read_package(root, known_skills={SKILL}, known_courses=set())
    assert package.problems == [], package.problems
    return package


def _shape(package) -> list[tuple]:
    return [
        (x.key, x.type, x.title, x.minutes, x.body, x.media_path, x.data, x.questions)
        for x in package.lessons
    ]


def test_every_lesson_and_question_type_round_trips_through_a_package(app, tmp_path, firm):
    source = every_type_package(tmp_path / "src")
    original = _read(source)
    assert [x.type for x in original.lessons] == list(LESSON_ENTRIES)
    assert [x.key for x in original.lessons] == [key for _entry, key in LESSON_ENTRIES.values()]
    published = import_dir(app, firm.id, source)
    with app.test_request_context():
        version = db.session.get(CourseVersion, published.version_id)
        quiz = next(x for x in version.lessons if LESSON_TYPES[x.type].has_questions)
        assert [(q.type, q.choices, q.answer) for q in quiz.questions] == [
            (kind, *stored) for kind, (_definition, stored) in QUESTION_EXAMPLES.items()
        ]
        root = export_version(version, tmp_path / "out")
    exported = _read(root)
    assert _shape(exported) == _shape(original)
    assert exported.media == original.media
    # The export imports as a new version of a course elsewhere, to the same lessons.
    again = import_dir(app, firm.id, _bump(root))
    with app.app_context():
        first = db.session.get(CourseVersion, published.version_id)
        second = db.session.get(CourseVersion, again.version_id)
        assert _stored(second) == _stored(first)


def _bump(root: Path) -> Path:
    meta = yaml.safe_load((root / "course.yaml").read_text(encoding="utf-8"))
    meta["version"] += 1
    (root / "course.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    return root


def _stored(version) -> list[tuple]:
    return [
        (
            x.key,
            x.type,
            x.title,
            x.minutes,
            x.body,
            x.media_path,
            x.data,
            [(q.type, q.prompt, q.choices, q.answer, q.explanation) for q in x.questions],
        )
        for x in version.lessons
    ]


def test_each_question_type_exports_only_what_it_stores():
    for kind, (definition, stored) in QUESTION_EXAMPLES.items():
        choices, answer = QUESTION_TYPES[kind].from_package(
            definition.get("choices") or [], definition["answer"]
        )
        assert (choices, answer) == stored, kind
        question = type("Q", (), {"type": kind, "choices": choices, "answer": answer})()
        exported = QUESTION_TYPES[kind].to_package(question)
        assert exported.get("choices", []) == choices and exported["answer"] == answer, kind


# --- templates named by the type ----------------------------------------------------------------

TEMPLATES = {
    "learning/questions/{}.html": ("answer", "review"),
    "authoring/questions/{}.html": ("fields", "preview"),
}
LESSON_TEMPLATES = {
    "learning/lessons/{}.html": ("media", "activity"),
    "authoring/lessons/{}.html": ("media_file", "details", "fields"),
}


@pytest.mark.parametrize(
    ("registry", "templates"),
    [(QUESTION_TYPES, TEMPLATES), (LESSON_TYPES, LESSON_TEMPLATES)],
    ids=["question types", "lesson types"],
)
def test_every_registered_type_has_its_templates_and_their_macros(app, registry, templates):
    with app.test_request_context():
        for name in registry:
            for pattern, macros in templates.items():
                module = app.jinja_env.get_template(pattern.format(name)).module
                for macro in macros:
                    assert callable(getattr(module, macro, None)), (pattern.format(name), macro)


def test_the_ordering_question_lives_in_its_registry_module_alone():
    """Adding the ordering type touched one Python module (and its templates): no other code
    names it."""
    named = sorted(
        str(path.relative_to(PROJECT_ROOT))
        for path in (PROJECT_ROOT / "lms").rglob("*.py")
        if re.search(r"""["']ordering["']""", path.read_text(encoding="utf-8"))
    )
    assert named == ["lms/courses/question_types.py"]
    assert QUESTION_TYPES["ordering"].script == "js/ordering_question.js"
    assert (PROJECT_ROOT / "static" / QUESTION_TYPES["ordering"].script).exists()


# --- no literal type branches outside the registries ------------------------------------------

NAMES = sorted(set(LESSON_TYPES) | set(QUESTION_TYPES), key=len, reverse=True)
_NAME = "|".join(NAMES)
# The issue's grep, `grep -rnE "(type|kind) *(==|!=|in) *\(?['\"](text|…)" lms templates`, and
# the wider net of any comparison with a type's name: == / != either way round, or `in` a
# literal tuple, list or set holding one.
BRANCHES = [
    re.compile(rf"""(type|kind) *(==|!=|in) *\(?['"]({_NAME})['"]"""),
    re.compile(rf"""(==|!=)\s*['"]({_NAME})['"]|['"]({_NAME})['"]\s*(==|!=)"""),
    re.compile(rf"""\bin\s*[(\[{{][^)\]}}]*['"]({_NAME})['"]"""),
]
# The registries and the templates each type brings may name their own types (fnmatch
# patterns: * crosses folders).
OWN_PLACES = [
    "lms/courses/lesson_types.py",
    "lms/courses/question_types.py",
    "templates/learning/lessons/*.html",
    "templates/learning/questions/*.html",
    "templates/authoring/lessons/*.html",
    "templates/authoring/questions/*.html",
]
# Branches that compare one of these words but are not about a lesson or question type.
ALLOWED = [
    (
        "lms/courses/uploads.py",
        re.compile(r"""fmt\.category == "video\""""),
        "an upload's file category (its format, sniffed from the bytes), not a lesson type",
    ),
    (
        "lms/*.py",
        re.compile(r"""\.?completion\s*(==|!=)\s*["'](view|quiz|signoff)["']"""),
        "a lesson type's completion mode (view, pass its quiz, sign-off), asked of the registry",
    ),
]


def _sources():
    for pattern in ("lms/**/*.py", "templates/**/*.html"):
        for path in sorted(PROJECT_ROOT.glob(pattern)):
            rel = path.relative_to(PROJECT_ROOT)
            if not any(fnmatch(str(rel), own) for own in OWN_PLACES):
                yield rel, path.read_text(encoding="utf-8")


def literal_type_branches() -> list[str]:
    found = []
    for rel, text in _sources():
        for n, line in enumerate(text.splitlines(), start=1):
            if not any(p.search(line) for p in BRANCHES):
                continue
            if any(
                fnmatch(str(rel), where) and allowed.search(line)
                for where, allowed, _why in ALLOWED
            ):
                continue
            found.append(f"{rel}:{n}: {line.strip()}")
    return found


def test_no_code_outside_the_registries_branches_on_a_type_name():
    """Ask LESSON_TYPES / QUESTION_TYPES (an attribute or method of the type), or include the
    type's template by its name, instead of comparing a type's name."""
    assert literal_type_branches() == []


def test_the_guard_finds_a_literal_branch(tmp_path, monkeypatch):
    """The grep is not vacuous: the branches it was written against are found."""
    samples = [
        'if lesson.type == "quiz":',
        "{% if q.type == 'true_false' %}",
        'elif lesson_type in ("video", "file"):',
        'if "practical" != kind:',
        'answer = q["answer"] if qtype.name == "true_false" else text',
        "{% elif lesson.type in ('video', 'file') %}",
    ]
    for sample in samples:
        assert any(p.search(sample) for p in BRANCHES), sample
    assert not any(p.search('<input type="text" name="q">') for p in BRANCHES)
