"""Every registered lesson type and question type through the authoring pages (issue 13, the
registries own their types): each is created and edited in the fields its type brings, its
problems sit next to its own field, and the reviewer's preview and the read-only version page
show each as its type's template does."""

from __future__ import annotations

import io
import re

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from lms.courses.lesson_types import LESSON_TYPES
from lms.courses.question_types import QUESTION_TYPES

from . import steps
from .conftest import base_url, errors_in, lesson_by_title, text_of, tiny_mp4, tiny_pdf, version_of

SLUG = "registry-course"

# What a trainer types into the new-lesson form of each type, and then changes.
LESSON_FORMS = {
    "text": (
        {"title": "安全须知", "minutes": "5", "body": "# 安全须知\n\n戴好安全帽。"},
        {"title": "安全须知（修订）", "minutes": "6", "body": "戴好安全帽和护目镜。"},
    ),
    "video": (
        {"title": "操作演示", "minutes": "3", "body": "看完视频再上机。"},
        {"title": "操作演示二", "minutes": "4", "body": "注意急停位置。"},
    ),
    "file": ({"title": "设备说明书", "minutes": "2"}, {"title": "设备说明书 v2", "minutes": "3"}),
    "quiz": (
        {"title": "单元测验", "pass_mark": "70", "attempts": "2", "review": "after_pass"},
        {"title": "单元测验二", "pass_mark": "80", "attempts": "3", "shuffle": "y", "draw": "2"},
    ),
    "practical": (
        {
            "title": "接线实操",
            "checklist": "断电挂牌\n按图接线",
            "skills-0-skill": "t-plc",
            "skills-0-level": "2",
        },
        {"title": "接线实操二", "checklist": "断电挂牌\n按图接线\n通电测试"},
    ),
}
# What each type stores from those two forms: (data, minutes, body).
LESSON_STORED = {
    "text": (({}, 5, "# 安全须知\n\n戴好安全帽。"), ({}, 6, "戴好安全帽和护目镜。")),
    "video": (({}, 3, "看完视频再上机。"), ({}, 4, "注意急停位置。")),
    "file": (({}, 2, ""), ({}, 3, "")),
    "quiz": (
        ({"pass_mark": 70, "attempts": 2, "shuffle": False, "review": "after_pass"}, 0, ""),
        # The review policy not posted again: it stays as it was.
        (
            {"pass_mark": 80, "attempts": 3, "shuffle": True, "draw": 2, "review": "after_pass"},
            0,
            "",
        ),
    ),
    "practical": (
        (
            {"checklist": ["断电挂牌", "按图接线"], "skills": [{"skill": "t-plc", "level": 2}]},
            0,
            "",
        ),
        ({"checklist": ["断电挂牌", "按图接线", "通电测试"], "skills": []}, 0, ""),
    ),
}

# Per question type: the new form, what it stores, a marker of the stored answer on the edit
# page, the edited form and what it stores, a wrong form and (field, message) it gets.
QUESTION_FORMS = {
    "single": {
        "new": {
            "prompt": "急停按钮是什么颜色？",
            "choices-0": "红色",
            "choices-1": "绿色",
            "correct_one": "0",
        },
        "stored": (["红色", "绿色"], "红色"),
        "shown": r'name="correct_one" value="0"\s+checked',
        "edit": {
            "prompt": "急停按钮是什么颜色？",
            "choices-0": "红色",
            "choices-1": "绿色",
            "correct_one": "1",
        },
        "edited": (["红色", "绿色"], "绿色"),
        "wrong": {"prompt": "选哪个？", "choices-0": "甲", "choices-1": "乙"},
        "problem": ("correct_one", "Mark the correct choice."),
    },
    "multiple": {
        "new": {
            "prompt": "哪些是防护用品？",
            "choices-0": "安全帽",
            "choices-1": "手机",
            "choices-2": "手套",
            "correct_many": ["0", "2"],
        },
        "stored": (["安全帽", "手机", "手套"], ["安全帽", "手套"]),
        "shown": r'name="correct_many" value="2"\s+checked',
        "edit": {
            "prompt": "哪些是防护用品？",
            "choices-0": "安全帽",
            "choices-1": "手机",
            "correct_many": ["0"],
        },
        "edited": (["安全帽", "手机"], ["安全帽"]),
        "wrong": {"prompt": "哪些？", "choices-0": "甲", "choices-1": "乙"},
        "problem": ("correct_many", "Mark at least one correct choice."),
    },
    "true_false": {
        "new": {"prompt": "可以带电接线。", "truth": "false"},
        "stored": ([], False),
        "shown": r'<input checked id="truth-1" name="truth" type="radio" value="false">',
        "edit": {"prompt": "可以带电接线。", "truth": "true"},
        "edited": ([], True),
        "wrong": {"prompt": "对吗？"},
        "problem": ("truth", "Choose whether the statement is true or false."),
    },
    "fill_blank": {
        "new": {"prompt": "吨的单位符号？", "accepted": "t\n吨"},
        "stored": ([], ["t", "吨"]),
        "shown": r">\s*t\n吨</textarea>",
        "edit": {"prompt": "吨的单位符号？", "accepted": "t"},
        "edited": ([], ["t"]),
        "wrong": {"prompt": "填空", "accepted": " \n "},
        "problem": ("accepted", "Enter at least one accepted answer."),
    },
    "ordering": {
        "new": {"prompt": "排列上锁挂牌的步骤。", "items": "停机\n断电\n上锁"},
        "stored": ([], ["停机", "断电", "上锁"]),
        "shown": r">\s*停机\n断电\n上锁</textarea>",
        "edit": {"prompt": "排列上锁挂牌的步骤。", "items": "通知\n停机\n断电\n上锁"},
        "edited": ([], ["通知", "停机", "断电", "上锁"]),
        "wrong": {"prompt": "排序", "items": "停机\n停机"},
        "problem": ("items", "Two items have the same text."),
    },
}


def test_every_registered_type_has_a_form_example_here():
    assert set(LESSON_FORMS) == set(LESSON_STORED) == set(LESSON_TYPES)
    assert set(QUESTION_FORMS) == set(QUESTION_TYPES)


@pytest.fixture
def module_id(app, client, login, world):
    login(world.trainer)
    steps.create_course(client, world.firm, SLUG, "课型与题型")
    steps.add_module(client, world.firm, SLUG, "模块")
    return version_of(app, SLUG)["modules"][0]["id"]


def _fields_in(html: str, kind: str) -> None:
    for name in LESSON_TYPES[kind].form_fields - {"module"}:
        field = "skills-0-skill" if name == "skills" else name
        assert f'name="{field}"' in html, (kind, field)


@pytest.mark.parametrize("kind", list(LESSON_TYPES))
def test_each_lesson_type_is_created_and_edited_in_its_own_fields(
    app, client, world, module_id, kind
):
    firm, new, changed = world.firm, *LESSON_FORMS[kind]
    page = client.get(f"{base_url(firm, SLUG)}/modules/{module_id}/lessons/new?type={kind}")
    assert page.status_code == 200
    _fields_in(text_of(page), kind)
    others = set().union(*(t.form_fields for t in LESSON_TYPES.values()))
    for name in others - LESSON_TYPES[kind].form_fields:
        assert f'name="{name}"' not in text_of(page), (kind, name)

    assert steps.add_lesson(client, firm, SLUG, module_id, kind, new).status_code == 302
    lesson = lesson_by_title(version_of(app, SLUG), new["title"])
    data, minutes, body = LESSON_STORED[kind][0]
    assert (lesson["type"], lesson["data"], lesson["body"]) == (kind, data, body)

    edit_url = f"{base_url(firm, SLUG)}/lessons/{lesson['id']}/edit"
    html = text_of(client.get(edit_url))
    _fields_in(html, kind)
    kind_type = LESSON_TYPES[kind]
    assert ('id="media"' in html) == bool(kind_type.media_categories)
    assert ('id="images"' in html) == kind_type.has_body
    assert ('id="questions"' in html) == kind_type.has_questions
    if kind_type.media_categories:
        assert f'data-media-view="{kind_type.media_view}"' in html

    r = client.post(edit_url, data={"save": "1", "module": str(module_id), **changed})
    assert r.status_code == 302, errors_in(text_of(r))
    edited = lesson_by_title(version_of(app, SLUG), changed["title"])
    data, minutes, body = LESSON_STORED[kind][1]
    assert (edited["id"], edited["data"], edited["body"]) == (lesson["id"], data, body)


@pytest.fixture
def quiz_id(app, client, world, module_id):
    quiz = {"title": "测验", "pass_mark": "60", "attempts": "0"}
    assert steps.add_lesson(client, world.firm, SLUG, module_id, "quiz", quiz).status_code == 302
    return lesson_by_title(version_of(app, SLUG), "测验")["id"]


def _questions(app) -> list[dict]:
    return lesson_by_title(version_of(app, SLUG), "测验")["questions"]


@pytest.mark.parametrize("kind", list(QUESTION_TYPES))
def test_each_question_type_is_created_and_edited_in_its_own_fields(
    app, client, world, quiz_id, kind
):
    example, firm = QUESTION_FORMS[kind], world.firm
    new_url = f"{base_url(firm, SLUG)}/lessons/{quiz_id}/questions/new?type={kind}"
    page = text_of(client.get(new_url))
    assert str(QUESTION_TYPES[kind].label) in page

    # A wrong definition: the type's message, next to the type's own field; nothing saved.
    field, message = example["problem"]
    r = client.post(new_url, data=example["wrong"])
    assert r.status_code == 200
    html = text_of(r)
    assert message in errors_in(html)
    assert re.search(rf'<a href="#{field}">[^<]*</a>: {re.escape(message)}', html), html
    assert _questions(app) == []

    assert client.post(new_url, data=example["new"]).status_code == 302
    (question,) = _questions(app)
    assert (question["type"], question["choices"], question["answer"]) == (
        kind,
        *example["stored"],
    )

    assert "1 question" in text_of(client.get(base_url(firm, SLUG)))  # the quiz's row says so

    edit_url = f"{base_url(firm, SLUG)}/lessons/{quiz_id}/questions/{question['id']}/edit"
    assert re.search(example["shown"], text_of(client.get(edit_url))), kind
    assert client.post(edit_url, data=example["edit"]).status_code == 302
    (edited,) = _questions(app)
    assert (edited["id"], edited["choices"], edited["answer"]) == (
        question["id"],
        *example["edited"],
    )


def _upload(client, url: str, data: bytes, filename: str):
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename)})
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_the_reviewer_and_the_read_only_version_show_each_type_as_it_shows_itself(
    app, client, login, world, module_id
):
    firm = world.firm
    for kind, (new, _changed) in LESSON_FORMS.items():
        assert steps.add_lesson(client, firm, SLUG, module_id, kind, new).status_code == 302
    snapshot = version_of(app, SLUG)
    ids = {x["type"]: x["id"] for x in snapshot["lessons"]}
    assert (
        _upload(
            client, f"{base_url(firm, SLUG)}/lessons/{ids['video']}/media", tiny_mp4(), "a.mp4"
        ).status_code
        == 302
    )
    assert (
        _upload(
            client, f"{base_url(firm, SLUG)}/lessons/{ids['file']}/media", tiny_pdf(), "a.pdf"
        ).status_code
        == 302
    )
    for kind, example in QUESTION_FORMS.items():
        url = f"{base_url(firm, SLUG)}/lessons/{ids['quiz']}/questions/new?type={kind}"
        assert client.post(url, data=example["new"]).status_code == 302
    assert steps.submit(client, firm, SLUG).status_code == 302
    assert version_of(app, SLUG)["status"] == "submitted", text_of(client.get(base_url(firm, SLUG)))

    def shows_every_type(html: str) -> None:
        assert "<video" in html and "Open the document" in html  # video and document
        assert "<li>断电挂牌</li>" in html  # the practical task's checklist
        assert "Pass mark 70" in html  # the quiz's settings
        assert re.search(r"<strong><span aria-hidden=\"true\">✓</span> 红色", html)  # single
        assert re.search(r"<strong><span aria-hidden=\"true\">✓</span> 手套", html)  # multiple
        assert "Correct answer: <strong>False</strong>" in html  # true or false
        assert "Accepted answers: <strong>t / 吨</strong>" in html  # fill in the blank
        assert "<li>停机</li><li>断电</li><li>上锁</li>" in html  # ordering: the right order
        for kind in QUESTION_TYPES:
            assert str(QUESTION_TYPES[kind].label) in html

    admin = app.test_client()
    login(world.admin, c=admin)
    review = admin.get(f"/review/consortia/{world.consortium.id}/courses/{SLUG}/v1")
    assert review.status_code == 200
    shows_every_type(text_of(review))
    assert steps.approve(admin, world.consortium, SLUG).status_code == 302
    assert version_of(app, SLUG)["status"] == "published"

    published = client.get(base_url(firm, SLUG))  # the trainer's, now read-only
    assert published.status_code == 200
    shows_every_type(text_of(published))
