"""The quiz keys `draw` (questions per attempt) and `review` (when the correct answers are
shown) in course packages: validated on import as `file:line: message`, stored on the quiz
lesson, and written back by the export so that the package imports to the same course."""

from __future__ import annotations

import pytest
import yaml

from lms.courses.models import CourseVersion, Lesson
from lms.courses.package import read_package
from lms.courses.quiz_settings import REVIEW_POLICIES, quiz_draw, quiz_review
from lms.courses.service import export_version
from lms.extensions import db
from tests.courses.helpers import (
    QUIZ,
    SKILLS,
    import_dir,
    line_of,
    make_package,
    problems_of,
    seed_skills,
)

QUIZ_FILE = "quizzes/q1.yaml"  # 4 questions


def with_keys(extra: str) -> str:
    """The test quiz with `extra` lines after its settings."""
    return QUIZ.replace("shuffle: false\n", f"shuffle: false\n{extra}")


def quiz_data(pkg) -> dict:
    package = read_package(pkg, known_skills=set(SKILLS), known_courses=set())
    assert package.problems == []
    return next(x for x in package.lessons if x.type == "quiz").data


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "5", "-1", "三", "true", "2.5", "[2]", "''"])
def test_a_bad_draw_is_reported_at_its_line(tmp_path, value):
    quiz = with_keys(f"draw: {value}\n")
    problems = problems_of(make_package(tmp_path / "pkg", **{QUIZ_FILE: quiz}))
    assert problems == [
        f"{QUIZ_FILE}:{line_of(quiz, 'draw:')}: draw must be a whole number from 1 to 4: "
        "the questions each attempt asks, out of the 4 in the quiz"
    ]


@pytest.mark.parametrize("value", ["sometimes", "true", "after-pass", "''", "[never]"])
def test_a_bad_review_is_reported_at_its_line(tmp_path, value):
    quiz = with_keys(f"review: {value}\n")
    problems = problems_of(make_package(tmp_path / "pkg", **{QUIZ_FILE: quiz}))
    assert problems == [
        f"{QUIZ_FILE}:{line_of(quiz, 'review:')}: review must be one of "
        "after_pass_or_last, after_pass, after_last, never"
    ]


def test_bad_draw_and_review_are_reported_together_and_nothing_is_imported(
    app, tmp_path, create_firm
):
    seed_skills(app)
    firm = create_firm()
    quiz = with_keys("draw: 9\nreview: later\n")
    pkg = make_package(tmp_path / "pkg", **{QUIZ_FILE: quiz})
    problems = problems_of(pkg)
    assert [p.split(":")[1] for p in problems] == [
        str(line_of(quiz, "draw:")),
        str(line_of(quiz, "review:")),
    ]
    with pytest.raises(AssertionError):
        import_dir(app, firm.id, pkg)  # import_dir refuses a package with problems
    with app.app_context():
        assert db.session.query(CourseVersion).count() == 0


@pytest.mark.parametrize("draw", [1, 3, 4])
def test_a_draw_from_one_to_the_number_of_questions_is_stored(tmp_path, draw):
    data = quiz_data(make_package(tmp_path / "pkg", **{QUIZ_FILE: with_keys(f"draw: {draw}\n")}))
    assert data["draw"] == draw
    assert quiz_draw(data, 4) == draw


@pytest.mark.parametrize("review", list(REVIEW_POLICIES))
def test_each_review_policy_is_accepted(tmp_path, review):
    data = quiz_data(
        make_package(tmp_path / "pkg", **{QUIZ_FILE: with_keys(f"review: {review}\n")})
    )
    assert quiz_review(data) == review


def test_absent_keys_mean_every_question_and_the_default_review(tmp_path):
    data = quiz_data(make_package(tmp_path / "pkg"))
    assert "draw" not in data and "review" not in data
    assert quiz_draw(data, 4) == 4
    assert quiz_review(data) == "after_pass_or_last"


def test_the_default_review_spelled_out_is_the_same_course(tmp_path):
    spelled = quiz_data(
        make_package(tmp_path / "a", **{QUIZ_FILE: with_keys("review: after_pass_or_last\n")})
    )
    assert spelled == quiz_data(make_package(tmp_path / "b"))


# --- export round trip ---------------------------------------------------------------------


@pytest.fixture
def firm(app, create_firm):
    seed_skills(app)
    return create_firm()


def test_export_writes_draw_and_review_back_and_imports_to_the_same_quiz(
    app, tmp_path, firm, create_firm
):
    quiz = with_keys("draw: 3\nreview: after_pass\n")
    published = import_dir(app, firm.id, make_package(tmp_path / "src", **{QUIZ_FILE: quiz}))
    with app.test_request_context():
        version = db.session.get(CourseVersion, published.version_id)
        root = export_version(version, tmp_path / "out")
        stored = next(x for x in version.lessons if x.type == "quiz").data
    assert stored["draw"] == 3 and stored["review"] == "after_pass"
    written = yaml.safe_load((root / QUIZ_FILE).read_text(encoding="utf-8"))
    assert (written["draw"], written["review"]) == (3, "after_pass")
    assert quiz_data(root) == stored
    # Imported elsewhere: the same settings.
    again = import_dir(app, create_firm().id, root)
    with app.app_context():
        lesson = db.session.get(Lesson, again.lesson(QUIZ_FILE))
        assert lesson.data == stored


def test_export_of_a_quiz_without_the_keys_writes_none_of_them(app, tmp_path, firm):
    published = import_dir(app, firm.id, make_package(tmp_path / "src"))
    with app.test_request_context():
        root = export_version(db.session.get(CourseVersion, published.version_id), tmp_path / "o")
    written = yaml.safe_load((root / QUIZ_FILE).read_text(encoding="utf-8"))
    assert "draw" not in written and "review" not in written


def test_the_demo_quiz_with_a_draw_validates(app):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "courses" / "mes-basics"
    quiz = yaml.safe_load((root / "quizzes" / "final.yaml").read_text(encoding="utf-8"))
    assert 1 <= quiz["draw"] < len(quiz["questions"])
