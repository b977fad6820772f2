"""Package validation: every problem is reported as `file:line: message`, pointing at the
right file and line; invalid packages (folders or .zip files) import nothing."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import func, select

from lms.courses.cli import read_all
from lms.courses.models import Course
from lms.extensions import db
from tests.courses.helpers import (
    COURSE_YAML,
    LESSON_INTRO,
    LESSON_VIDEO,
    QUIZ,
    line_of,
    make_package,
    problems_of,
    seed_skills,
    write_files,
    zip_folder,
)


def only_problem(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


def assert_reported(problems: list[str], file: str, line: int, *fragments: str) -> None:
    """One problem names `file:line:` and contains every fragment."""
    prefix = f"{file}:{line}: "
    hits = [p for p in problems if p.startswith(prefix) and all(f in p for f in fragments)]
    assert hits, f"expected {prefix}… {fragments} in {problems}"


def test_the_demo_package_used_by_these_tests_is_valid(tmp_path):
    assert problems_of(make_package(tmp_path / "pkg")) == []


# --- course.yaml -------------------------------------------------------------------------


def test_unknown_key_in_course_yaml_is_reported_at_its_line(tmp_path):
    text = COURSE_YAML.replace("hours: 4\n", "hours: 4\nduration: 3\n")
    problems = problems_of(make_package(tmp_path / "pkg", **{"course.yaml": text}))
    assert (
        only_problem(problems) == f"course.yaml:{line_of(text, 'duration')}: unknown key 'duration'"
    )


@pytest.mark.parametrize("key", ["slug", "version", "language", "title", "sector", "hours"])
def test_missing_required_key_is_reported(tmp_path, key):
    text = "".join(
        row for row in COURSE_YAML.splitlines(keepends=True) if not row.startswith(f"{key}:")
    )
    problems = problems_of(make_package(tmp_path / "pkg", **{"course.yaml": text}))
    assert f"course.yaml:1: missing key {key!r}" in problems


def test_missing_modules_key_is_reported(tmp_path):
    text = COURSE_YAML[: COURSE_YAML.index("modules:")]
    problems = problems_of(make_package(tmp_path / "pkg", **{"course.yaml": text}))
    assert problems == ["course.yaml:1: missing key 'modules'"]


@pytest.mark.parametrize("slug", ["Demo-Course", "demo_course", "demo course", "-demo", "演示"])
def test_bad_slug_is_reported_at_the_slug_line(tmp_path, slug):
    text = COURSE_YAML.replace("slug: demo-course", f"slug: {slug}")
    problems = problems_of(make_package(tmp_path / "pkg", **{"course.yaml": text}))
    assert_reported(problems, "course.yaml", 1, "slug must be lower-case letters")
    assert len(problems) == 1


@pytest.mark.parametrize("level", [0, 6])
def test_skill_level_outside_1_to_5_is_reported_at_the_skill_entry(tmp_path, level):
    text = COURSE_YAML.replace("  level: 2\n", f"  level: {level}\n")
    problems = problems_of(make_package(tmp_path / "pkg", **{"course.yaml": text}))
    line = line_of(text, "- skill: plc_programming")
    assert only_problem(problems) == f"course.yaml:{line}: bad level {level}: levels are 1–5"


def test_skill_level_of_a_practical_task_is_checked_too(tmp_path):
    text = COURSE_YAML + "    skills:\n    - skill: plc_programming\n      level: 9\n"
    problems = problems_of(make_package(tmp_path / "pkg", **{"course.yaml": text}))
    assert only_problem(problems) == (
        f"course.yaml:{len(text.splitlines()) - 1}: bad level 9: levels are 1–5"
    )


def test_unknown_skill_is_reported_at_the_skill_entry(tmp_path):
    text = COURSE_YAML.replace("skill: plc_programming", "skill: basket_weaving")
    problems = problems_of(make_package(tmp_path / "pkg", **{"course.yaml": text}))
    assert only_problem(problems) == (
        f"course.yaml:{line_of(text, 'basket_weaving')}: unknown skill 'basket_weaving'"
    )


def test_unknown_prerequisite_is_reported_at_its_list_item(tmp_path):
    text = COURSE_YAML.replace(
        "prerequisites: []\n", "prerequisites:\n- plc-basics\n- no-such-course\n"
    )
    problems = problems_of(
        make_package(tmp_path / "pkg", **{"course.yaml": text}), courses={"plc-basics"}
    )
    assert only_problem(problems) == (
        f"course.yaml:{line_of(text, 'no-such-course')}: "
        "unknown prerequisite course 'no-such-course'"
    )


def test_a_course_requiring_itself_is_reported(tmp_path):
    text = COURSE_YAML.replace("prerequisites: []\n", "prerequisites:\n- demo-course\n")
    problems = problems_of(
        make_package(tmp_path / "pkg", **{"course.yaml": text}), courses={"demo-course"}
    )
    assert only_problem(problems) == (
        f"course.yaml:{line_of(text, '- demo-course')}: a course cannot require itself"
    )


def test_missing_lesson_file_is_reported_at_the_reference(tmp_path):
    problems = problems_of(make_package(tmp_path / "pkg", **{"lessons/01-intro.md": None}))
    assert only_problem(problems) == (
        f"course.yaml:{line_of(COURSE_YAML, 'lessons/01-intro.md')}: "
        "file not found in the package: lessons/01-intro.md"
    )


def test_missing_quiz_file_is_reported_at_the_reference(tmp_path):
    problems = problems_of(make_package(tmp_path / "pkg", **{"quizzes/q1.yaml": None}))
    assert only_problem(problems) == (
        f"course.yaml:{line_of(COURSE_YAML, 'quizzes/q1.yaml')}: "
        "file not found in the package: quizzes/q1.yaml"
    )


@pytest.mark.parametrize("path", ["../x.md", "/etc/passwd", "lessons/../../x.md"])
def test_unsafe_path_in_course_yaml_is_reported(tmp_path, path):
    text = COURSE_YAML.replace("file: lessons/02-video.md", f"file: {path}")
    write_files(tmp_path, {"x.md": "# outside\n"})
    problems = problems_of(make_package(tmp_path / "pkg", **{"course.yaml": text}))
    assert only_problem(problems) == (
        f"course.yaml:{line_of(text, path)}: unsafe path {path!r}: "
        "paths are relative to the package and may not leave it"
    )


def test_lesson_file_outside_lessons_folder_is_reported(tmp_path):
    text = COURSE_YAML.replace("file: lessons/02-video.md", "file: media/diagram.png")
    problems = problems_of(make_package(tmp_path / "pkg", **{"course.yaml": text}))
    assert_reported(problems, "course.yaml", line_of(text, "media/diagram.png"), "under lessons/")


def test_lesson_file_referenced_twice_is_reported_at_the_second_reference(tmp_path):
    text = COURSE_YAML.replace("  - file: lessons/02-video.md\n", "  - file: lessons/01-intro.md\n")
    problems = problems_of(make_package(tmp_path / "pkg", **{"course.yaml": text}))
    first = line_of(text, "lessons/01-intro.md")
    assert only_problem(problems) == (
        f"course.yaml:{first + 1}: lessons/01-intro.md is already used at course.yaml:{first}"
    )


# --- lesson files ------------------------------------------------------------------------


def test_unsafe_video_path_in_front_matter_is_reported_at_its_line(tmp_path):
    lesson = LESSON_VIDEO.replace("video: media/clip.mp4", "video: ../v.mp4")
    problems = problems_of(make_package(tmp_path / "pkg", **{"lessons/02-video.md": lesson}))
    assert only_problem(problems) == (
        f"lessons/02-video.md:{line_of(lesson, 'video: ../v.mp4')}: unsafe path '../v.mp4': "
        "paths are relative to the package and may not leave it"
    )


def test_unsafe_path_in_front_matter_of_a_text_lesson_is_reported(tmp_path):
    # DESIGN: every path in front matter is relative to the package, whatever the lesson type.
    lesson = "---\ntitle: 读一读\nvideo: ../v.mp4\n---\n正文。\n"
    problems = problems_of(make_package(tmp_path / "pkg", **{"lessons/01-intro.md": lesson}))
    assert_reported(problems, "lessons/01-intro.md", 3, "unsafe path '../v.mp4'")


def test_video_lesson_without_its_media_file_is_reported(tmp_path):
    problems = problems_of(make_package(tmp_path / "pkg", **{"media/clip.mp4": None}))
    assert only_problem(problems) == (
        f"lessons/02-video.md:{line_of(LESSON_VIDEO, 'video:')}: "
        "file not found in the package: media/clip.mp4"
    )


@pytest.mark.parametrize("target", ["../secret.png", "/etc/passwd", "media/../../secret.png"])
def test_unsafe_image_path_in_lesson_markdown_is_reported_at_its_line(tmp_path, target):
    lesson = LESSON_INTRO + f"\n更多内容。\n\n![x]({target})\n"
    problems = problems_of(make_package(tmp_path / "pkg", **{"lessons/01-intro.md": lesson}))
    assert only_problem(problems) == (
        f"lessons/01-intro.md:{line_of(lesson, '![x]')}: "
        f"unsafe path {target!r}: paths may not leave the package"
    )


def test_missing_image_in_lesson_markdown_is_reported(tmp_path):
    problems = problems_of(make_package(tmp_path / "pkg", **{"media/diagram.png": None}))
    assert only_problem(problems) == (
        f"lessons/01-intro.md:{line_of(LESSON_INTRO, 'media/diagram.png')}: "
        "file not found in the package: media/diagram.png"
    )


@pytest.mark.parametrize(
    "link",
    [
        "[点我](javascript:alert(1))",
        "[点我](JavaScript:alert(1))",
        "[点我]( vbscript:msgbox(1))",
        "[点我](data:text/html;base64,PHNjcmlwdD4=)",
        "![图](file:///etc/passwd)",
    ],
)
def test_link_schemes_other_than_http_and_mailto_are_reported(tmp_path, link):
    lesson = LESSON_INTRO + f"\n{link}\n"
    problems = problems_of(make_package(tmp_path / "pkg", **{"lessons/01-intro.md": lesson}))
    assert_reported(
        problems, "lessons/01-intro.md", line_of(lesson, link), "link scheme not allowed"
    )
    assert len(problems) == 1


def test_web_and_mail_links_and_anchors_are_allowed_in_lessons(tmp_path):
    lesson = LESSON_INTRO + (
        "\n[标准](https://std.samr.gov.cn/) [邮件](mailto:a@example.com) [上文](#top)\n"
    )
    assert problems_of(make_package(tmp_path / "pkg", **{"lessons/01-intro.md": lesson})) == []


def test_unknown_front_matter_key_is_reported_at_its_line(tmp_path):
    lesson = LESSON_INTRO.replace("minutes: 10\n", "minutes: 10\nauthor: 张工\n")
    problems = problems_of(make_package(tmp_path / "pkg", **{"lessons/01-intro.md": lesson}))
    assert only_problem(problems) == (
        f"lessons/01-intro.md:{line_of(lesson, 'author')}: unknown front-matter key 'author'"
    )


def test_unknown_lesson_type_in_front_matter_is_reported(tmp_path):
    lesson = LESSON_INTRO.replace("minutes: 10\n", "minutes: 10\ntype: podcast\n")
    problems = problems_of(make_package(tmp_path / "pkg", **{"lessons/01-intro.md": lesson}))
    assert only_problem(problems) == (
        f"lessons/01-intro.md:{line_of(lesson, 'podcast')}: unknown lesson type 'podcast'"
    )


def test_lesson_without_any_title_is_reported(tmp_path):
    problems = problems_of(
        make_package(tmp_path / "pkg", **{"lessons/01-intro.md": "只有正文，没有标题。\n"})
    )
    assert_reported(problems, "lessons/01-intro.md", 1, "no title")


# --- quizzes -----------------------------------------------------------------------------

BAD_QUESTIONS = {
    "unknown type": (
        "- type: essay\n  prompt: 写一段话\n  answer: 任意\n",
        "question 5: unknown type 'essay'",
    ),
    "answer not among choices": (
        "- type: single\n  prompt: 选一个\n  choices: [甲, 乙]\n  answer: 丙\n",
        "question 5: answer '丙' is not one of the choices",
    ),
    "multiple answer not among choices": (
        "- type: multiple\n  prompt: 选多个\n  choices: [甲, 乙, 丙]\n  answer: [甲, 丁]\n",
        "question 5: answer '丁' is not one of the choices",
    ),
    "true_false with choices": (
        "- type: true_false\n  prompt: 对吗\n  choices: [对, 错]\n  answer: true\n",
        "question 5: true_false questions have no choices",
    ),
    "true_false with a text answer": (
        "- type: true_false\n  prompt: 对吗\n  answer: 对\n",
        "question 5: answer must be true or false",
    ),
    "empty fill_blank answer": (
        "- type: fill_blank\n  prompt: 填空\n  answer: ''\n",
        "question 5: answer must be a text or a list of accepted texts",
    ),
    "empty fill_blank answer list": (
        "- type: fill_blank\n  prompt: 填空\n  answer: []\n",
        "question 5: answer must be a text or a list of accepted texts",
    ),
    "missing answer": (
        "- type: single\n  prompt: 选一个\n  choices: [甲, 乙]\n",
        "question 5: an answer is required",
    ),
}


@pytest.mark.parametrize("case", list(BAD_QUESTIONS), ids=list(BAD_QUESTIONS))
def test_bad_quiz_question_is_reported_at_the_question(tmp_path, case):
    extra, message = BAD_QUESTIONS[case]
    quiz = QUIZ + extra
    problems = problems_of(make_package(tmp_path / "pkg", **{"quizzes/q1.yaml": quiz}))
    assert only_problem(problems).startswith(
        f"quizzes/q1.yaml:{len(QUIZ.splitlines()) + 1}: {message}"
    )


def test_unknown_quiz_key_and_bad_settings_are_reported(tmp_path):
    quiz = QUIZ.replace("attempts: 3\n", "attempts: -1\nretries: 2\n").replace(
        "pass_mark: 60", "pass_mark: 120"
    )
    problems = problems_of(make_package(tmp_path / "pkg", **{"quizzes/q1.yaml": quiz}))
    assert sorted(problems) == sorted(
        [
            f"quizzes/q1.yaml:{line_of(quiz, 'pass_mark')}: "
            "pass_mark must be a whole number from 0 to 100",
            f"quizzes/q1.yaml:{line_of(quiz, 'attempts')}: "
            "attempts must be a whole number (0 = unlimited)",
            f"quizzes/q1.yaml:{line_of(quiz, 'retries')}: unknown key 'retries'",
        ]
    )


# --- YAML itself -------------------------------------------------------------------------


def test_duplicate_key_in_course_yaml_is_reported_at_the_duplicate(tmp_path):
    text = COURSE_YAML.replace("hours: 4\n", "hours: 4\ntitle: 又一个标题\n")
    problems = problems_of(make_package(tmp_path / "pkg", **{"course.yaml": text}))
    assert only_problem(problems) == (
        f"course.yaml:{line_of(text, '又一个标题')}: duplicate key 'title'"
    )


def test_duplicate_key_in_a_quiz_question_is_reported(tmp_path):
    quiz = QUIZ.replace("  answer: 红色\n", "  answer: 红色\n  answer: 绿色\n")
    problems = problems_of(make_package(tmp_path / "pkg", **{"quizzes/q1.yaml": quiz}))
    assert only_problem(problems) == (
        f"quizzes/q1.yaml:{line_of(quiz, 'answer: 绿色')}: duplicate key 'answer'"
    )


def test_duplicate_key_in_front_matter_is_reported(tmp_path):
    lesson = LESSON_INTRO.replace("minutes: 10\n", "minutes: 10\nminutes: 12\n")
    problems = problems_of(make_package(tmp_path / "pkg", **{"lessons/01-intro.md": lesson}))
    assert only_problem(problems) == (
        f"lessons/01-intro.md:{line_of(lesson, 'minutes: 12')}: duplicate key 'minutes'"
    )


def test_yaml_syntax_error_in_course_yaml_names_the_line(tmp_path):
    text = COURSE_YAML.replace("title: 演示课程", "title: 演示: 课程")
    problems = problems_of(make_package(tmp_path / "pkg", **{"course.yaml": text}))
    assert_reported(problems, "course.yaml", line_of(text, "演示: 课程"), "not valid YAML")
    assert len(problems) == 1


def test_yaml_syntax_error_in_a_quiz_names_the_line(tmp_path):
    quiz = QUIZ.replace("choices: [红色, 绿色]", "choices: [红色, 绿色")
    problems = problems_of(make_package(tmp_path / "pkg", **{"quizzes/q1.yaml": quiz}))
    assert_reported(problems, "quizzes/q1.yaml", line_of(quiz, "answer: 红色"), "not valid YAML")


def test_yaml_syntax_error_in_front_matter_names_the_line_in_the_lesson_file(tmp_path):
    lesson = LESSON_INTRO.replace("minutes: 10", "minutes: 10: 5")
    problems = problems_of(make_package(tmp_path / "pkg", **{"lessons/01-intro.md": lesson}))
    assert only_problem(problems).startswith(
        f"lessons/01-intro.md:{line_of(lesson, 'minutes: 10: 5')}: not valid YAML"
    )


# --- batches -----------------------------------------------------------------------------


def test_duplicate_slugs_within_one_import_batch_are_reported(app, tmp_path):
    seed_skills(app)
    first = make_package(tmp_path / "a")
    second = make_package(tmp_path / "b")
    with app.app_context():
        packages = read_all([first, second], set())
    assert packages[0].problems == []
    assert any(
        p.startswith("course.yaml:1: duplicate slug 'demo-course'") and str(first) in p
        for p in packages[1].problems
    ), packages[1].problems


def test_prerequisites_may_name_another_course_of_the_same_batch(app, tmp_path):
    seed_skills(app)
    base = make_package(tmp_path / "base")
    text = COURSE_YAML.replace("slug: demo-course", "slug: advanced-course").replace(
        "prerequisites: []\n", "prerequisites:\n- demo-course\n"
    )
    advanced = make_package(tmp_path / "advanced", **{"course.yaml": text})
    with app.app_context():
        packages = read_all([advanced, base], set())
    assert [p.problems for p in packages] == [[], []]


# --- .zip packages -----------------------------------------------------------------------


def test_zip_of_a_valid_package_reads_like_the_folder(tmp_path):
    from lms.courses.package import read_package

    folder = make_package(tmp_path / "pkg")
    archive = zip_folder(folder, tmp_path / "demo.zip")
    from_zip = read_package(archive, known_skills={"plc_programming"}, known_courses=set())
    from_dir = read_package(folder, known_skills={"plc_programming"}, known_courses=set())
    assert from_zip.problems == []
    assert from_zip.meta == from_dir.meta
    assert [(x.key, x.type, x.title, x.body) for x in from_zip.lessons] == [
        (x.key, x.type, x.title, x.body) for x in from_dir.lessons
    ]
    assert from_zip.media == from_dir.media


def test_zip_with_a_single_top_folder_is_read_from_inside_it(tmp_path):
    from lms.courses.package import read_package

    archive = zip_folder(make_package(tmp_path / "pkg"), tmp_path / "demo.zip", top="demo-course")
    package = read_package(archive, known_skills={"plc_programming"}, known_courses=set())
    assert package.problems == []
    assert [x.key for x in package.lessons] == [
        "lessons/01-intro.md",
        "lessons/02-video.md",
        "quizzes/q1.yaml",
        "practical:接线实操",
    ]
    assert set(package.media) == {"media/diagram.png", "media/clip.mp4"}


def test_zip_problems_name_files_inside_the_package(tmp_path):
    lesson = LESSON_INTRO.replace("minutes: 10\n", "minutes: 10\nauthor: 张工\n")
    folder = make_package(tmp_path / "pkg", **{"lessons/01-intro.md": lesson})
    archive = zip_folder(folder, tmp_path / "demo.zip", top="demo-course")
    assert problems_of(archive) == [
        f"lessons/01-intro.md:{line_of(lesson, 'author')}: unknown front-matter key 'author'"
    ]


def test_zip_member_leaving_the_package_is_reported_and_not_read(tmp_path):
    from lms.courses.package import read_package

    archive = zip_folder(
        make_package(tmp_path / "pkg"), tmp_path / "evil.zip", extra={"../evil": b"pwned"}
    )
    package = read_package(archive, known_skills={"plc_programming"}, known_courses=set())
    assert package.problems == ["../evil:1: unsafe path in the zip (absolute or '..')"]
    assert not (tmp_path / "evil").exists()


def test_file_that_is_not_a_zip_is_reported(tmp_path):
    bogus = tmp_path / "course.zip"
    bogus.write_bytes(b"not a zip")
    assert "course.zip:1: not a package folder or a .zip file" in problems_of(bogus)


def test_package_without_course_yaml_is_reported(tmp_path):
    problems = problems_of(make_package(tmp_path / "pkg", **{"course.yaml": None}))
    assert problems == ["course.yaml:1: missing: a package needs course.yaml at its root"]


# --- the CLI -----------------------------------------------------------------------------


def test_cli_validate_exits_non_zero_and_prints_every_problem(app, tmp_path):
    seed_skills(app)
    text = COURSE_YAML.replace("hours: 4\n", "hours: 4\nduration: 3\n").replace(
        "level: 2", "level: 6"
    )
    pkg = make_package(tmp_path / "pkg", **{"course.yaml": text})
    result = app.test_cli_runner().invoke(args=["courses", "validate", str(pkg)])
    assert result.exit_code != 0
    assert f"{pkg}/course.yaml:{line_of(text, 'duration')}: unknown key 'duration'" in result.output
    assert (
        f"{pkg}/course.yaml:{line_of(text, '- skill:')}: bad level 6: levels are 1–5"
        in result.output
    )


def test_cli_validate_accepts_a_valid_package_and_a_zip(app, tmp_path):
    seed_skills(app)
    pkg = make_package(tmp_path / "pkg")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["courses", "validate", str(pkg)])
    assert result.exit_code == 0, result.output
    assert "1 package(s) valid." in result.output
    archive = zip_folder(pkg, tmp_path / "demo.zip", top="demo-course")
    result = runner.invoke(args=["courses", "validate", str(archive)])
    assert result.exit_code == 0, result.output


def test_cli_validate_needs_the_skills_to_exist(app, tmp_path):
    # No taxonomy imported: the package's skill is unknown.
    pkg = make_package(tmp_path / "pkg")
    result = app.test_cli_runner().invoke(args=["courses", "validate", str(pkg)])
    assert result.exit_code != 0
    assert "unknown skill 'plc_programming'" in result.output


def test_cli_import_of_a_folder_with_one_invalid_package_changes_nothing(
    app, tmp_path, create_firm
):
    seed_skills(app)
    firm = create_firm()
    with app.app_context():
        code = db.session.get(type(firm), firm.id).consortium.code
    batch = tmp_path / "batch"
    make_package(batch / "good")
    other = COURSE_YAML.replace("slug: demo-course", "slug: other-course")
    make_package(batch / "also-good", **{"course.yaml": other})
    broken = COURSE_YAML.replace("slug: demo-course", "slug: broken-course").replace(
        "  level: 2\n", "  level: 0\n"
    )
    make_package(batch / "broken", **{"course.yaml": broken})
    result = app.test_cli_runner().invoke(
        args=["courses", "import", str(batch), "--consortium", code]
    )
    assert result.exit_code != 0
    assert "bad level 0" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Course)) == 0


def test_cli_import_of_a_valid_folder_creates_the_courses(app, tmp_path, create_firm):
    seed_skills(app)
    firm = create_firm()
    with app.app_context():
        code = db.session.get(type(firm), firm.id).consortium.code
    batch = tmp_path / "batch"
    make_package(batch / "one")
    text = COURSE_YAML.replace("slug: demo-course", "slug: second-course")
    make_package(batch / "two", **{"course.yaml": text})
    result = app.test_cli_runner().invoke(
        args=["courses", "import", str(batch), "--consortium", code]
    )
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output
    with app.app_context():
        slugs = set(db.session.scalars(select(Course.slug)))
    assert slugs == {"demo-course", "second-course"}


def test_course_yaml_that_is_not_a_mapping_is_reported(tmp_path):
    problems = problems_of(
        make_package(tmp_path / "pkg", **{"course.yaml": yaml.safe_dump(["a", "b"])})
    )
    assert problems == ["course.yaml:1: course.yaml must be a mapping of keys"]
