"""Import and export of course packages: a round trip gives the same course, versions only
go up, learners keep progress across versions, and the CLI does the same as the service."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from lms.auth.models import User
from lms.core.storage import storage
from lms.courses.cli import read_all
from lms.courses.models import Course, CourseVersion
from lms.courses.package import Package, find_packages, read_package
from lms.courses.service import CourseError, export_version, import_package, media_key
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment
from lms.taxonomy.service import known_skill_ids
from lms.tenancy.models import Firm
from tests.conftest import write_package
from tests.courses.helpers import (
    COURSE_YAML,
    QUIZ,
    edit_course_yaml,
    import_dir,
    make_package,
    seed_skills,
)

DEMO_CATALOGUE = Path(__file__).resolve().parents[2] / "courses"

RICH_COURSE_YAML = COURSE_YAML.replace(
    "prerequisites: []\n", "prerequisites:\n- safety-basics\n"
).replace(
    "    - 按图接线\n",
    "    - 按图接线\n    skills:\n    - skill: relay_control_wiring\n      level: 3\n",
) + ("- title: 模块三\n  lessons:\n  - file: lessons/03-table.md\n")
RICH_QUIZ = QUIZ.replace("shuffle: false\n", "shuffle: true\ntime_limit_minutes: 15\n")
TABLE_LESSON = (
    "# 参数表\n\n| 参数 | 值 |\n|:--|--:|\n| 电压 | 380 V |\n\n"
    "```\nLD X0\nOUT Y0\n```\n\n- 第一条\n- 第二条\n\n[标准](https://std.samr.gov.cn/)\n"
)


def rich_package(root: Path) -> Path:
    return make_package(
        root,
        **{
            "course.yaml": RICH_COURSE_YAML,
            "quizzes/q1.yaml": RICH_QUIZ,
            "lessons/03-table.md": TABLE_LESSON,
        },
    )


def read(path: Path, known_courses=frozenset()) -> Package:
    package = read_package(path, known_skills=known_skill_ids(), known_courses=set(known_courses))
    assert package.problems == [], package.problems
    return package


def outline(package: Package) -> dict:
    """What makes a course the same course, as read from a package."""
    meta = {k: v for k, v in package.meta.items() if k != "modules"}
    return {
        "meta": meta,
        "modules": [
            (
                m.title,
                [
                    (
                        lesson.key,
                        lesson.type,
                        lesson.title,
                        lesson.minutes,
                        lesson.body,
                        lesson.media_path,
                        lesson.data,
                        lesson.questions,
                    )
                    for lesson in m.lessons
                ],
            )
            for m in package.modules
        ],
        "media": package.media,
    }


def stored_course(version_id: int) -> dict:
    """What makes a course the same course, as stored in the database."""
    version = db.session.get(CourseVersion, version_id)
    course = version.course
    store = storage()
    return {
        "slug": course.slug,
        "version": version.version,
        "fields": (
            version.language,
            version.title,
            version.summary,
            version.sector,
            version.hours,
            version.pass_mark,
            version.prerequisites,
            version.skills,
            version.search_text,
        ),
        "modules": [
            (
                m.position,
                m.title,
                [
                    (
                        lesson.position,
                        lesson.key,
                        lesson.type,
                        lesson.title,
                        lesson.minutes,
                        lesson.body,
                        lesson.html,
                        lesson.media_path,
                        lesson.data,
                        [
                            (q.position, q.type, q.prompt, q.choices, q.answer, q.explanation)
                            for q in lesson.questions
                        ],
                    )
                    for lesson in m.lessons
                ],
            )
            for m in version.modules
        ],
        "media": {
            path: store.read(media_key(course, version.version, path))
            for path in ("media/diagram.png", "media/clip.mp4")
            if store.exists(media_key(course, version.version, path))
        },
    }


@pytest.fixture
def firm(app, create_firm):
    seed_skills(app)
    return create_firm()


def consortium_code(app, firm_id: int) -> str:
    with app.app_context():
        return db.session.get(Firm, firm_id).consortium.code


# --- round trip --------------------------------------------------------------------------


def test_export_then_read_gives_the_same_package(app, tmp_path, firm, create_course):
    create_course(firm, slug="safety-basics")
    source = rich_package(tmp_path / "src")
    published = import_dir(app, firm.id, source)
    with app.test_request_context():
        original = read(source, {"safety-basics"})
        root = export_version(db.session.get(CourseVersion, published.version_id), tmp_path / "out")
        exported = read(root, {"safety-basics"})
    assert root == tmp_path / "out" / "demo-course"
    assert outline(exported) == outline(original)
    # Spot checks of what the comparison covers, so a vacuous outline can't pass.
    assert [m.title for m in exported.modules] == ["模块一", "模块二", "模块三"]
    quiz = exported.lessons[2]
    assert quiz.data == {"pass_mark": 60, "attempts": 3, "shuffle": True, "time_limit_minutes": 15}
    assert [q["answer"] for q in quiz.questions] == [
        "红色",
        False,
        ["安全帽", "手套"],
        ["N·m", "牛米"],
    ]
    assert exported.lessons[3].data == {
        "checklist": ["断电挂牌", "按图接线"],
        "skills": [{"skill": "relay_control_wiring", "level": 3}],
    }
    assert exported.meta["skills"] == [{"skill": "plc_programming", "level": 2}]
    assert exported.meta["prerequisites"] == ["safety-basics"]
    assert exported.lessons[1].media_path == "media/clip.mp4"
    assert set(exported.media) == {"media/diagram.png", "media/clip.mp4"}


def test_exported_package_imports_to_the_same_course_elsewhere(
    app, tmp_path, firm, create_firm, create_course
):
    create_course(firm, slug="safety-basics")
    published = import_dir(app, firm.id, rich_package(tmp_path / "src"))
    with app.test_request_context():
        root = export_version(db.session.get(CourseVersion, published.version_id), tmp_path / "out")
    other_firm = create_firm()  # another consortium
    create_course(other_firm, slug="safety-basics")
    again = import_dir(app, other_firm.id, root)
    assert again.course_id != published.course_id
    with app.app_context():
        first, second = stored_course(published.version_id), stored_course(again.version_id)
    assert second == first
    assert len(first["media"]) == 2


# --- versions ----------------------------------------------------------------------------


def test_importing_the_same_version_again_is_unchanged(app, tmp_path, firm):
    source = make_package(tmp_path / "src")
    first = import_dir(app, firm.id, source)
    again = import_dir(app, firm.id, source)
    assert (first.outcome, again.outcome) == ("created", "unchanged")
    assert again.version_id == first.version_id
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CourseVersion)) == 1


def test_a_higher_version_is_published_and_the_old_one_archived(app, tmp_path, firm):
    source = make_package(tmp_path / "src")
    v1 = import_dir(app, firm.id, source)
    edit_course_yaml(source, version=2, title="演示课程（第二版）")
    v2 = import_dir(app, firm.id, source)
    assert v2.outcome == "updated"
    assert v2.course_id == v1.course_id
    with app.app_context():
        course = db.session.get(Course, v1.course_id)
        assert [(v.version, v.status) for v in course.versions] == [
            (1, "archived"),
            (2, "published"),
        ]
        assert course.versions[1].title == "演示课程（第二版）"
        assert course.versions[1].published_at is not None


def test_a_lower_version_is_refused_with_a_course_yaml_message(app, tmp_path, firm):
    source = make_package(tmp_path / "src")
    edit_course_yaml(source, version=3)
    import_dir(app, firm.id, source)
    edit_course_yaml(source, version=2)
    with app.test_request_context():
        f = db.session.get(Firm, firm.id)
        package = read(source)
        with pytest.raises(CourseError) as raised:
            import_package(None, f.consortium, f, package)
        db.session.rollback()
    assert raised.value.message.startswith("course.yaml:1: version 2 is lower than version 3")
    with app.app_context():
        assert db.session.scalars(select(CourseVersion.version)).all() == [3]


def test_cli_import_of_a_lower_version_fails_and_changes_nothing(app, tmp_path, firm):
    code = consortium_code(app, firm.id)
    source = make_package(tmp_path / "src")
    edit_course_yaml(source, version=2)
    runner = app.test_cli_runner()
    assert (
        runner.invoke(args=["courses", "import", str(source), "--consortium", code]).exit_code == 0
    )
    edit_course_yaml(source, version=1, title="旧版")
    result = runner.invoke(args=["courses", "import", str(source), "--consortium", code])
    assert result.exit_code != 0
    assert "course.yaml:1: version 1 is lower than version 2" in result.output
    with app.app_context():
        assert db.session.scalars(select(CourseVersion.title)).all() == ["演示课程"]


# --- learners across versions ------------------------------------------------------------


def test_learners_keep_progress_on_lessons_that_still_exist_in_the_new_version(
    app, tmp_path, firm, create_course, create_user
):
    course = create_course(firm, slug="keep-going", lessons=3, quiz=False)
    worker = create_user(role="worker", firm=firm)
    with app.test_request_context():
        v1 = db.session.get(Course, course.id).versions[0]
        enrollment, created = learning.enroll(db.session.get(User, worker.id), v1)
        assert created
        first, second, _third = v1.lessons
        learning.record_progress(enrollment, first, percent=100)
        learning.record_progress(enrollment, second, percent=100)
        db.session.commit()
        enrollment_id, v1_id = enrollment.id, v1.id

    # Version 2: lesson 2 removed, lesson 4 added.
    pkg = write_package(tmp_path / "v2", "keep-going", version=2, lessons=4, quiz=False)
    meta = yaml.safe_load((pkg / "course.yaml").read_text(encoding="utf-8"))
    meta["modules"][0]["lessons"] = [
        e for e in meta["modules"][0]["lessons"] if e["file"] != "lessons/02.md"
    ]
    (pkg / "course.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    v2 = import_dir(app, firm.id, pkg)
    assert list(v2.lesson_ids) == ["lessons/01.md", "lessons/03.md", "lessons/04.md"]

    with app.test_request_context():
        enrollment = db.session.get(Enrollment, enrollment_id)
        assert enrollment.version_id == v2.version_id != v1_id
        version = db.session.get(CourseVersion, v2.version_id)
        progress = learning.progress_map(enrollment)
        done = [lesson.key for lesson in version.lessons if learning.lesson_done(lesson, progress)]
        assert done == ["lessons/01.md"]
        assert learning.check_completion(enrollment) is False
        lessons = {lesson.key: lesson for lesson in version.lessons}
        learning.record_progress(enrollment, lessons["lessons/03.md"], percent=100)
        assert enrollment.status != "completed"
        learning.record_progress(enrollment, lessons["lessons/04.md"], percent=100)
        db.session.commit()
        enrollment = db.session.get(Enrollment, enrollment_id)
        # The removed lesson 2 (done or not) never blocks completion of version 2.
        assert enrollment.status == "completed"
        assert enrollment.completed_at is not None


def test_completed_enrolments_stay_on_the_version_they_completed(
    app, tmp_path, firm, create_course, create_user
):
    course = create_course(firm, slug="done-once", lessons=1, quiz=False)
    worker = create_user(role="worker", firm=firm)
    with app.test_request_context():
        v1 = db.session.get(Course, course.id).versions[0]
        enrollment, _ = learning.enroll(db.session.get(User, worker.id), v1)
        learning.record_progress(enrollment, v1.lessons[0], percent=100)
        db.session.commit()
        enrollment_id, v1_id = enrollment.id, v1.id
    import_dir(app, firm.id, write_package(tmp_path / "v2", "done-once", version=2, lessons=2))
    with app.app_context():
        enrollment = db.session.get(Enrollment, enrollment_id)
        assert (enrollment.status, enrollment.version_id) == ("completed", v1_id)


# --- the CLI -----------------------------------------------------------------------------


def test_cli_import_then_export_round_trips(app, tmp_path, firm):
    code = consortium_code(app, firm.id)
    batch = tmp_path / "batch"
    write_package(batch, "plc-basics", lessons=2)
    write_package(batch, "plc-advanced", lessons=2, prerequisites=["plc-basics"])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["courses", "import", str(batch), "--consortium", code])
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 0 unchanged" in result.output
    with app.app_context():
        courses = {c.slug: c.firm_id for c in db.session.scalars(select(Course))}
    assert courses == {"plc-basics": firm.id, "plc-advanced": firm.id}

    out = tmp_path / "out"
    result = runner.invoke(
        args=["courses", "export", "plc-advanced", str(out), "--consortium", code]
    )
    assert result.exit_code == 0, result.output
    assert str(out / "plc-advanced") in result.output
    with app.app_context():
        original = read(batch / "plc-advanced", {"plc-basics"})
        exported = read(out / "plc-advanced", {"plc-basics"})
    assert outline(exported) == outline(original)

    result = runner.invoke(args=["courses", "import", str(out), "--consortium", code])
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 1 unchanged" in result.output


def test_cli_export_of_an_unknown_course_fails(app, tmp_path, firm):
    code = consortium_code(app, firm.id)
    result = app.test_cli_runner().invoke(
        args=["courses", "export", "no-such-course", str(tmp_path / "out"), "--consortium", code]
    )
    assert result.exit_code != 0
    assert "no-such-course" in result.output
    assert not (tmp_path / "out" / "no-such-course").exists()


# --- the demo catalogue ------------------------------------------------------------------


def test_the_demo_catalogue_validates_and_is_substantial(app):
    paths = [p for p in sorted(DEMO_CATALOGUE.iterdir()) if p.is_dir()]
    if len([p for p in paths if (p / "course.yaml").exists()]) < 10:
        pytest.skip(f"the demo catalogue has fewer than 10 packages yet ({len(paths)} folders)")
    seed_skills(app)
    missing = [p.name for p in paths if not (p / "course.yaml").exists()]
    assert missing == [], f"folders without course.yaml: {missing}"
    with app.app_context():
        packages = read_all(find_packages(DEMO_CATALOGUE), set())
    problems = [f"{p.source}/{problem}" for p in packages for problem in p.problems]
    assert problems == []
    for package in packages:
        name = package.slug
        assert Path(package.source).name == name, f"{package.source}: folder name ≠ slug"
        assert len(package.modules) >= 3, f"{name}: fewer than 3 modules"
        markdown = [x for x in package.lessons if x.key.endswith(".md")]
        assert len(markdown) >= 8, f"{name}: {len(markdown)} Markdown lessons"
        quizzes = [x for x in package.lessons if x.type == "quiz"]
        assert any(len(q.questions) >= 6 for q in quizzes), f"{name}: no quiz of ≥6 questions"
    english = [p.slug for p in packages if p.meta["language"] == "en"]
    assert len(english) >= 2, f"English courses: {english}"
