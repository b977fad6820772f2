"""The ordering question (排序题, lms.courses.question_types.Ordering): its grading and partial
credit, reading the learner's places from the form, the shuffled order each attempt shows, the
package and question-form checks, and a learner answering one through the pages without
JavaScript (a place select per item)."""

from __future__ import annotations

import random
import re
from html import unescape
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from lms.courses.question_types import QUESTION_TYPES
from lms.extensions import db
from lms.learning.models import QuizAttempt
from tests.courses.helpers import line_of, make_package, problems_of

ORDERING = QUESTION_TYPES["ordering"]
STEPS = ["通知操作人员", "停机", "断开电源", "上锁挂牌", "验证"]
QUIZ_KEY = "quizzes/final.yaml"
PROMPT = "请按上锁挂牌的正确顺序排列。"


def question(answer=STEPS, choices=()):
    return SimpleNamespace(type="ordering", answer=list(answer), choices=list(choices))


# --- grading -----------------------------------------------------------------------------------


def test_all_items_in_the_right_order_are_correct_with_full_credit():
    assert ORDERING.grade([], STEPS, list(STEPS))
    assert ORDERING.credit([], STEPS, list(STEPS)) == 1.0


@pytest.mark.parametrize(
    ("response", "credit"),
    [
        (["停机", "通知操作人员", "断开电源", "上锁挂牌", "验证"], 3 / 5),  # two neighbours swapped
        (["验证", "通知操作人员", "停机", "断开电源", "上锁挂牌"], 0.0),  # all shifted by one
        (list(reversed(STEPS)), 1 / 5),  # the middle item stays in its place
        (["通知操作人员", "停机", "", "", ""], 2 / 5),  # partly numbered
        (["", "", "", "", ""], 0.0),
    ],
)
def test_each_item_in_its_right_place_earns_its_share(response, credit):
    assert not ORDERING.grade([], STEPS, response)
    assert ORDERING.credit([], STEPS, response) == pytest.approx(credit)


@pytest.mark.parametrize("response", [None, "", "通知操作人员", {"a": 1}, [], STEPS[:3]])
def test_anything_but_the_full_order_is_not_correct(response):
    assert not ORDERING.grade([], STEPS, response)
    assert 0 <= ORDERING.credit([], STEPS, response) < 1


def test_the_right_order_of_numbers_from_yaml_compares_as_text():
    answer = ORDERING.from_package([], [1990, 2000, 2010])[1]
    assert answer == ["1990", "2000", "2010"]
    assert ORDERING.grade([], answer, ["1990", "2000", "2010"])


def test_an_untouched_or_partly_numbered_question_counts_as_unanswered():
    assert ORDERING.is_unanswered(None)
    assert ORDERING.is_unanswered(["", "", ""])
    assert ORDERING.is_unanswered(["停机", "", "验证"])
    assert not ORDERING.is_unanswered(["停机", "验证", "通知操作人员"])


# --- reading the form --------------------------------------------------------------------------


def posted(pairs: list[tuple[str, str]], name: str = "q7") -> MultiDict:
    """The form as the page posts it: per item (in the order shown) its text and its place."""
    data = MultiDict()
    for item, place in pairs:
        data.add(f"{name}-item", item)
        data.add(name, place)
    return data


def test_the_places_chosen_give_the_items_in_order():
    form = posted(
        [("上锁挂牌", "4"), ("停机", "2"), ("验证", "5"), ("通知操作人员", "1"), ("断开电源", "3")]
    )
    assert ORDERING.parse_response(form, "q7", question()) == STEPS


def test_an_item_without_a_place_leaves_its_slot_empty():
    form = posted([("上锁挂牌", "4"), ("停机", ""), ("验证", "5"), ("通知操作人员", "1")])
    assert ORDERING.parse_response(form, "q7", question()) == [
        "通知操作人员",
        "",
        "",
        "上锁挂牌",
        "验证",
    ]


def test_a_place_given_twice_goes_to_the_first_item_shown():
    form = posted([("停机", "1"), ("通知操作人员", "1"), ("验证", "5")])
    assert ORDERING.parse_response(form, "q7", question()) == ["停机", "", "", "", "验证"]


def test_foreign_items_odd_places_and_repeated_items_are_ignored():
    form = posted(
        [
            ("伪造的步骤", "1"),
            ("停机", "0"),
            ("停机", "6"),
            ("停机", "二"),
            ("验证", "5"),
            ("验证", "4"),
            ("断开电源", " 3 "),
        ]
    )
    assert ORDERING.parse_response(form, "q7", question()) == ["", "", "断开电源", "", "验证"]


def test_nothing_posted_is_an_empty_answer():
    assert ORDERING.parse_response(MultiDict(), "q7", question()) == ["", "", "", "", ""]


# --- the order shown ---------------------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [False, True])
def test_each_attempt_shows_the_items_shuffled_and_never_in_the_right_order(shuffle):
    rng = random.Random(13)
    shown = [ORDERING.presented(question(), rng, shuffle=shuffle) for _ in range(200)]
    assert all(sorted(order) == sorted(STEPS) for order in shown)
    assert all(order != STEPS for order in shown)
    assert len({tuple(order) for order in shown}) > 20  # really shuffled, quiz setting or not


def test_two_items_are_shown_swapped():
    rng = random.Random(1)
    for _ in range(20):
        assert ORDERING.presented(question(["先", "后"]), rng, shuffle=False) == ["后", "先"]


# --- the definition: package and question form -------------------------------------------------


@pytest.mark.parametrize(
    ("choices", "answer", "expected"),
    [
        ([], STEPS, []),
        (list(reversed(STEPS)), STEPS, []),  # choices may repeat the items in any order
        ([], "停机", ["answer must be the list of at least 2 items in the right order"]),
        ([], ["停机"], ["answer must be the list of at least 2 items in the right order"]),
        ([], ["停机", " "], ["answer must be the list of at least 2 items in the right order"]),
        ([], ["停机", None], ["answer must be the list of at least 2 items in the right order"]),
        ([], ["停机", ["a"]], ["answer must be the list of at least 2 items in the right order"]),
        ([], ["停机", "停机"], ["items must be different from each other"]),
        ([], [f"第{n}步" for n in range(11)], ["an ordering question has at most 10 items"]),
        (["停机", "验证"], STEPS, ["choices, if given, must be the same items as the answer"]),
    ],
)
def test_the_definition_is_checked(choices, answer, expected):
    assert ORDERING.problems(choices, answer) == expected


def test_a_package_ordering_question_is_read_without_choices(tmp_path):
    quiz = (
        "title: 小测\nquestions:\n"
        "- type: ordering\n"
        f"  prompt: {PROMPT}\n"
        "  choices: [验证, 停机]\n"
        "  answer: [停机, 验证]\n"
    )
    from lms.courses.package import read_package

    package = read_package(
        make_package(tmp_path / "pkg", **{"quizzes/q1.yaml": quiz}),
        known_skills={"plc_programming", "robot_safe_operation"},
        known_courses=set(),
    )
    assert package.problems == []
    (parsed,) = [lesson for lesson in package.lessons if lesson.type == "quiz"][0].questions
    assert parsed == {
        "type": "ordering",
        "prompt": PROMPT,
        "choices": [],
        "answer": ["停机", "验证"],
        "explanation": "",
    }


def test_package_problems_name_the_line_and_the_long_item(tmp_path):
    long_item = "长" * 301
    quiz = (
        "title: 小测\nquestions:\n"
        "- type: ordering\n"
        "  prompt: 排序\n"
        "  answer: [停机, 停机]\n"
        "- type: ordering\n"
        "  prompt: 排序二\n"
        "  answer:\n"
        "  - 停机\n"
        f"  - {long_item}\n"
    )
    problems = problems_of(make_package(tmp_path / "pkg", **{"quizzes/q1.yaml": quiz}))
    assert "quizzes/q1.yaml:3: question 1: items must be different from each other" in problems
    line = line_of(quiz, long_item)
    assert (
        f"quizzes/q1.yaml:{line}: question 2: item 2 is 301 characters long: at most 300 allowed"
        in problems
    )


def test_the_question_form_takes_the_items_one_per_line_in_order(app):
    with app.test_request_context(
        method="POST",
        data={"prompt": PROMPT, "items": " 停机 \n\n验证\r\n  断开   电源 \n"},
    ):
        from lms.courses.authoring_forms import question_form

        form = question_form("ordering", meta={"csrf": False})
        assert form.definition() == ([], ["停机", "验证", "断开 电源"], {})
        assert form.field_of("answer") == "items" and form.field_of("choices") == "items"


def test_question_problems_are_translated_and_sit_on_the_items_field(app):
    from flask_babel import force_locale

    from lms.courses.question_types import question_problems

    with app.test_request_context(), force_locale("en"):
        problems = question_problems("ordering", PROMPT, [], ["停机"])
        assert [str(m) for m in problems["answer"]] == [
            "Enter at least two items, one per line, in the right order."
        ]
        long = question_problems("ordering", PROMPT, [], ["停机", "长" * 301])
        assert [str(m) for m in long["answer"]] == [
            "Item 2 is 301 characters long: shorten it to at most 300."
        ]
    with app.test_request_context(), force_locale("zh_CN"):
        problems = question_problems("ordering", PROMPT, [], ["停机"])
        assert [str(m) for m in problems["answer"]] == ["请按正确顺序填写至少两个条目，每行一个。"]


# --- a learner answers one through the pages ---------------------------------------------------

QUIZ = {
    "title": "排序测验",
    "pass_mark": 80,
    "attempts": 3,
    "shuffle": False,
    "questions": [
        {
            "type": "single",
            "prompt": "急停按钮是什么颜色？",
            "choices": ["红色", "绿色"],
            "answer": "红色",
            "explanation": "急停按钮为红色。",
        },
        {"type": "ordering", "prompt": PROMPT, "answer": STEPS, "explanation": "先通知再停机。"},
    ],
}


@pytest.fixture
def taker(app, firm, create_user, publish, enrol, login, client):
    worker = create_user(role="worker", firm=firm, locale="en")  # English pages, to read them
    course = publish(firm, "ordering-course", lessons=1, quiz=QUIZ)
    enrolled = enrol(worker, course)
    login(worker)
    quiz_id = course.lesson(QUIZ_KEY)
    single_id, ordering_id = course.question_ids[QUIZ_KEY]

    def start() -> str:
        response = client.post(f"{enrolled.url}/lessons/{quiz_id}/attempts")
        assert response.status_code == 302
        return response.headers["Location"]

    def page(url: str) -> str:
        response = client.get(url)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def submit(url: str, order: dict[str, str], *, single="红色", confirm=False, shown=None):
        """order: item → place ("" for none), posted in the order the page shows them."""
        shown = shown or shown_items(page(url))
        data = MultiDict([(f"q{single_id}", single)] if single else [])
        for item in shown:
            data.add(f"q{ordering_id}-item", item)
            data.add(f"q{ordering_id}", order.get(item, ""))
        if confirm:
            data.add("confirm", "1")
        return client.post(url, data=data)

    def attempt():
        with app.app_context():
            return db.session.scalars(select(QuizAttempt).order_by(QuizAttempt.id.desc())).first()

    return SimpleNamespace(
        start=start, page=page, submit=submit, attempt=attempt, ordering_id=ordering_id
    )


def shown_items(html: str) -> list[str]:
    return [unescape(v) for v in re.findall(r'name="q\d+-item" value="([^"]*)"', html)]


def right_places() -> dict[str, str]:
    return {item: str(n) for n, item in enumerate(STEPS, start=1)}


def test_the_attempt_page_has_a_place_select_per_item_in_a_shuffled_order(taker):
    html = taker.page(taker.start())
    shown = shown_items(html)
    assert sorted(shown) == sorted(STEPS) and shown != STEPS
    name = f"q{taker.ordering_id}"
    selects = re.findall(rf'<select id="({name}-\d)" name="{name}"', html)
    assert len(selects) == len(STEPS)
    for n, item in enumerate(shown, start=1):  # each select is labelled by its item
        assert re.search(
            rf'<label for="{name}-{n}" class="ordering-text">{re.escape(item)}</label>', html
        )
    assert html.count('<option value="5">5</option>') == len(STEPS)
    assert "js/ordering_question.js" in html  # the enhancement, as a file (CSP: no inline script)
    assert "先通知再停机" not in html


def test_the_right_order_without_javascript_is_correct(taker):
    url = taker.start()
    response = taker.submit(url, right_places())
    assert response.status_code == 302
    attempt = taker.attempt()
    assert attempt.score == 100 and attempt.is_passed
    assert attempt.results[str(taker.ordering_id)] == {"correct": True, "response": STEPS}
    review = taker.page(url)
    assert "Your order:" in review and "Correct order:" not in review  # nothing to correct


def test_a_partly_right_order_earns_partial_credit_and_is_said_so(taker):
    url = taker.start()
    places = right_places()
    places["通知操作人员"], places["停机"] = "2", "1"  # two neighbours swapped: 3 of 5 in place
    taker.submit(url, places)
    attempt = taker.attempt()
    result = attempt.results[str(taker.ordering_id)]
    assert result["correct"] is False and result["credit"] == pytest.approx(0.6)
    assert attempt.score == 80.0 and attempt.is_passed  # (1 + 0.6) / 2 questions
    review = taker.page(url)
    assert "partly right (60%)" in review
    # Passed: the review may show the correct order, each of the learner's places marked.
    assert "Correct order:" in review
    assert review.count("right place") == 3 and review.count("wrong place") == 2


def test_the_correct_order_is_not_shown_while_the_review_policy_withholds_it(taker):
    url = taker.start()
    taker.submit(url, {item: str(6 - n) for n, item in enumerate(STEPS, start=1)}, single="绿色")
    attempt = taker.attempt()
    assert not attempt.is_passed and attempt.score == 10.0  # only the middle item in place
    review = taker.page(url)
    assert "partly right (20%)" in review
    assert "Correct order:" not in review and "right place" not in review


def test_a_partly_numbered_question_asks_to_confirm_and_keeps_the_places(taker):
    url = taker.start()
    shown = shown_items(taker.page(url))
    response = taker.submit(url, {"停机": "2", "验证": "5"}, shown=shown)
    assert response.status_code == 200  # not graded: the learner confirms first
    html = response.get_data(as_text=True)
    assert "Questions without an answer: 1 of 2." in html
    assert taker.attempt().submitted_at is None
    name = f"q{taker.ordering_id}"
    for n, item in enumerate(shown, start=1):
        chosen = re.search(rf'<select id="{name}-{n}"[^>]*>(.*?)</select>', html, re.S).group(1)
        selected = re.findall(r'<option value="(\d*)" selected>', chosen)
        assert selected == ({"停机": ["2"], "验证": ["5"]}.get(item, [])), item
    assert shown_items(html) == shown  # the same order as before
    taker.submit(url, {"停机": "2", "验证": "5"}, shown=shown, confirm=True)
    attempt = taker.attempt()
    assert attempt.submitted_at is not None
    assert attempt.results[str(taker.ordering_id)]["response"] == ["", "停机", "", "", "验证"]
    assert attempt.score == 70.0  # 1 + 2/5 of 2


def test_the_demo_safety_course_has_an_ordering_question():
    """安全生产基础's final quiz asks the lockout-tagout steps in order (visible in the demo)."""
    import yaml

    from lms import PROJECT_ROOT

    quiz = yaml.safe_load(
        (PROJECT_ROOT / "courses/workplace-safety/quizzes/final.yaml").read_text(encoding="utf-8")
    )
    (ordering,) = [q for q in quiz["questions"] if q["type"] == "ordering"]
    assert ORDERING.problems(ordering.get("choices") or [], ordering["answer"]) == []
    assert len(ordering["answer"]) == 5
