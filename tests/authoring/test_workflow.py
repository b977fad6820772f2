"""The trainer's authoring journey and the review workflow, through the pages."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from lms.audit.models import AuditRecord
from lms.auth.models import User
from lms.courses.models import CourseVersion, Lesson
from lms.extensions import db
from lms.learning import service as learning
from lms.learning.models import Enrollment

from . import steps
from .conftest import (
    base_url,
    course_form,
    errors_in,
    lesson_by_title,
    statuses,
    text_of,
    version_of,
)

XSS = """# 安全须知

<script>alert('x')</script>

<img src=x onerror=alert(1)>

[点我](javascript:alert(1)) [数据](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)

<iframe src="https://evil.example/"></iframe>

![图](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)

[正常链接](https://example.com/manual)
"""


class _Tags(HTMLParser):
    """Every tag and attribute of an HTML fragment (to prove sanitising, not to grep text)."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_safe_html(html: str) -> None:
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag not in {"script", "iframe", "object", "embed", "svg", "style"}, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src"):
                assert not re.match(r"\s*(javascript|data|vbscript):", value or "", re.I), value


def audit_actions(app, consortium_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.consortium_id == consortium_id)
                .order_by(AuditRecord.id)
            )
        )


def test_trainer_builds_a_course_that_an_admin_publishes_into_the_catalogue(
    app, client, login, world
):
    firm, slug = world.firm, "plc-safety"
    login(world.trainer)
    empty = text_of(client.get(f"/authoring/firms/{firm.id}/courses"))
    assert "has no course yet" in empty

    # create: Course of the trainer's firm + version 1 as a draft
    r = steps.create_course(client, firm, slug, "PLC 安全操作入门")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"{base_url(firm, slug)}")
    v = version_of(app, slug)
    assert (v["firm_id"], v["version"], v["status"]) == (firm.id, 1, "draft")
    assert v["consortium_id"] == world.consortium.id
    assert v["skills"] == [{"skill": "t-plc", "level": 2}]

    # a module and a Markdown lesson full of XSS payloads
    assert steps.add_module(client, firm, slug, "基础知识").status_code == 302
    module_id = version_of(app, slug)["modules"][0]["id"]
    r = steps.add_lesson(
        client,
        firm,
        slug,
        module_id,
        "text",
        {"title": "Safety basics", "minutes": "5", "body": XSS},
    )
    assert r.status_code == 302
    lesson = lesson_by_title(version_of(app, slug), "Safety basics")
    assert re.fullmatch(r"lessons/safety-basics\.md", lesson["key"])
    assert_safe_html(lesson["html"])
    assert 'href="https://example.com/manual"' in lesson["html"]
    assert "<script" not in lesson["html"] and "<iframe" not in lesson["html"]

    # the editor and the course page show the sanitised HTML only
    page = text_of(client.get(f"{base_url(firm, slug)}/lessons/{lesson['id']}/edit"))
    preview = re.search(r'id="markdown-preview"[^>]*>(.*?)</div>', page, re.S).group(1)
    assert_safe_html(preview)

    # quiz, then a practical task with a skill
    r = steps.add_lesson(
        client,
        firm,
        slug,
        module_id,
        "quiz",
        {"title": "小测验", "pass_mark": "60", "attempts": "2"},
    )
    assert r.status_code == 302
    quiz = lesson_by_title(version_of(app, slug), "小测验")
    assert quiz["key"].startswith("quizzes/") and quiz["key"].endswith(".yaml")
    assert (
        steps.add_question(
            client,
            firm,
            slug,
            quiz["id"],
            "single",
            {
                "prompt": "PLC 的中文全称？",
                "choices-0": "可编程逻辑控制器",
                "choices-1": "个人电脑",
                "correct_one": "0",
            },
        ).status_code
        == 302
    )
    r = steps.add_lesson(
        client,
        firm,
        slug,
        module_id,
        "practical",
        {
            "title": "上电前检查",
            "checklist": "检查电源\n\n确认急停按钮  \n",
            "skills-0-skill": "t-robot",
            "skills-0-level": "3",
        },
    )
    assert r.status_code == 302
    practical = lesson_by_title(version_of(app, slug), "上电前检查")
    assert practical["key"] == "practical:上电前检查"
    assert practical["data"] == {
        "checklist": ["检查电源", "确认急停按钮"],
        "skills": [{"skill": "t-robot", "level": 3}],
    }

    # submit: read-only for the trainer, once
    assert steps.submit(client, firm, slug).status_code == 302
    assert steps.submit(client, firm, slug).status_code == 302
    assert statuses(app, slug) == {1: "submitted"}
    r = steps.add_module(client, firm, slug, "偷偷加的模块")
    assert r.status_code == 302
    assert [m["title"] for m in version_of(app, slug)["modules"]] == ["基础知识"]
    assert audit_actions(app, world.consortium.id).count("course.submit") == 1

    # the admin's queue, the review page with rendered content, approval
    admin = app.test_client()
    login(world.admin, c=admin)
    queue = text_of(admin.get(f"/review/consortia/{world.consortium.id}/courses"))
    assert "PLC 安全操作入门" in queue
    review = admin.get(f"/review/consortia/{world.consortium.id}/courses/{slug}/v1")
    assert review.status_code == 200
    body = text_of(review)
    assert (
        'href="https://example.com/manual"' in body
        and "确认急停按钮" in body
        and "可编程逻辑控制器" in body
    )
    assert_safe_html(re.search(r"<main.*</main>", body, re.S).group(0).replace("<main", "<div"))
    assert steps.approve(admin, world.consortium, slug).status_code == 302
    assert steps.approve(admin, world.consortium, slug).status_code == 302  # a replay
    assert statuses(app, slug) == {1: "published"}
    actions = audit_actions(app, world.consortium.id)
    assert actions.count("course.publish") == 1 and actions.count("course.create") == 1

    # in the catalogue for a worker of another firm of the consortium
    reader = app.test_client()
    login(world.other_worker, c=reader)
    found = text_of(reader.get("/courses/?q=PLC"))
    assert "PLC 安全操作入门" in found
    assert reader.get(f"/courses/{slug}").status_code == 200


def test_markdown_preview_returns_sanitised_html_with_and_without_javascript(
    app, client, login, world
):
    firm, slug = world.firm, "preview-course"
    login(world.trainer)
    steps.create_course(client, firm, slug, "预览课程")
    steps.add_module(client, firm, slug, "模块")
    module_id = version_of(app, slug)["modules"][0]["id"]

    r = client.post(f"{base_url(firm, slug)}/preview", data={"body": XSS})
    assert r.status_code == 200 and r.is_json
    assert_safe_html(r.get_json()["html"])
    assert "<h1>安全须知</h1>" in r.get_json()["html"]

    # without JavaScript: the Preview button renders the page with the preview, saves nothing
    r = client.post(
        f"{base_url(firm, slug)}/modules/{module_id}/lessons/new?type=text",
        data={"title": "草稿", "body": "**粗体** <script>x()</script>", "preview": "1"},
    )
    assert r.status_code == 200
    preview = re.search(r'id="markdown-preview"[^>]*>(.*?)</div>', text_of(r), re.S).group(1)
    assert "<strong>粗体</strong>" in preview
    assert_safe_html(preview)
    assert version_of(app, slug)["lessons"] == []


def test_quiz_builder_saves_each_question_type_and_names_the_question_and_field_of_errors(
    app, client, login, world
):
    firm, slug = world.firm, "quiz-course"
    login(world.trainer)
    steps.create_course(client, firm, slug, "测验课程")
    steps.add_module(client, firm, slug, "模块")
    module_id = version_of(app, slug)["modules"][0]["id"]
    steps.add_lesson(
        client,
        firm,
        slug,
        module_id,
        "quiz",
        {
            "title": "期末测验",
            "pass_mark": "80",
            "attempts": "0",
            "shuffle": "y",
            "time_limit_minutes": "15",
        },
    )
    quiz = lesson_by_title(version_of(app, slug), "期末测验")
    assert quiz["data"] == {
        "pass_mark": 80,
        "attempts": 0,
        "shuffle": True,
        "time_limit_minutes": 15,
    }
    qid = quiz["id"]

    def add(kind, data):
        return steps.add_question(client, firm, slug, qid, kind, data)

    # errors: each names question 1 and sits next to its field; nothing is saved
    r = add("single", {"prompt": "", "choices-0": "甲"})
    page = text_of(r)
    assert r.status_code == 200
    assert "Enter the question." in errors_in(page)
    assert "Give at least two choices." in errors_in(page)
    assert "Question 1 cannot be saved yet" in page
    r = add("single", {"prompt": "选哪个？", "choices-0": "甲", "choices-1": "乙"})
    assert "Mark the correct choice." in errors_in(text_of(r))
    r = add(
        "single", {"prompt": "选哪个？", "choices-0": "甲", "choices-1": "甲", "correct_one": "0"}
    )
    assert "Two choices have the same text." in errors_in(text_of(r))
    r = add(
        "single", {"prompt": "选哪个？", "choices-0": "甲", "choices-1": "乙", "correct_one": "3"}
    )
    assert "A choice marked correct is empty." in errors_in(text_of(r))
    r = add("multiple", {"prompt": "哪些？", "choices-0": "甲", "choices-1": "乙"})
    assert "Mark at least one correct choice." in errors_in(text_of(r))
    r = add("true_false", {"prompt": "对吗？"})
    assert "Choose whether the statement is true or false." in errors_in(text_of(r))
    r = add("fill_blank", {"prompt": "填空：___", "accepted": "  \n "})
    assert "Enter at least one accepted answer." in errors_in(text_of(r))
    assert lesson_by_title(version_of(app, slug), "期末测验")["questions"] == []

    # one valid question of every type
    assert (
        add(
            "single",
            {
                "prompt": "选哪个？",
                "choices-0": "甲",
                "choices-1": "乙",
                "correct_one": "1",
                "explanation": "因为乙",
            },
        ).status_code
        == 302
    )
    assert (
        add(
            "multiple",
            {
                "prompt": "哪些是传感器？",
                "choices-0": "光电开关",
                "choices-1": "",
                "choices-2": "接近开关",
                "choices-3": "电机",
                "correct_many": ["0", "2"],
            },
        ).status_code
        == 302
    )
    assert add("true_false", {"prompt": "急停按钮是红色的。", "truth": "true"}).status_code == 302
    assert (
        add(
            "fill_blank", {"prompt": "PLC 是___控制器", "accepted": "可编程逻辑\n可编程"}
        ).status_code
        == 302
    )
    # a double-submitted question form adds one question
    assert add("true_false", {"prompt": "急停按钮是红色的。", "truth": "true"}).status_code == 302
    questions = lesson_by_title(version_of(app, slug), "期末测验")["questions"]
    assert [(q["type"], q["choices"], q["answer"]) for q in questions] == [
        ("single", ["甲", "乙"], "乙"),
        ("multiple", ["光电开关", "接近开关", "电机"], ["光电开关", "接近开关"]),
        ("true_false", [], True),
        ("fill_blank", [], ["可编程逻辑", "可编程"]),
    ]

    # editing shows the saved answer and validates again
    q2 = questions[1]["id"]
    edit_url = f"{base_url(firm, slug)}/lessons/{qid}/questions/{q2}/edit"
    page = text_of(client.get(edit_url))
    assert re.search(r'value="0"\s+checked', page) and re.search(r'value="1"\s+checked', page)
    r = client.post(
        edit_url,
        data={"prompt": "哪些是传感器？", "choices-0": "光电开关", "choices-1": "接近开关"},
    )
    assert r.status_code == 200 and "Mark at least one correct choice." in errors_in(text_of(r))
    r = client.post(
        f"{base_url(firm, slug)}/lessons/{qid}/questions/{q2}/move", data={"position": "0"}
    )
    assert r.status_code == 302
    moved = lesson_by_title(version_of(app, slug), "期末测验")["questions"]
    assert [q["type"] for q in moved] == ["multiple", "single", "true_false", "fill_blank"]


def test_errors_next_to_fields_follow_the_trainers_language(app, client, login, world):
    with app.app_context():
        db.session.get(User, world.trainer.id).locale = "zh_CN"
        db.session.commit()
    firm, slug = world.firm, "zh-errors"
    login(world.trainer)
    steps.create_course(client, firm, slug, "中文错误")
    steps.add_module(client, firm, slug, "模块")
    module_id = version_of(app, slug)["modules"][0]["id"]
    steps.add_lesson(
        client, firm, slug, module_id, "quiz", {"title": "测验", "pass_mark": "60", "attempts": "0"}
    )
    qid = lesson_by_title(version_of(app, slug), "测验")["id"]
    r = steps.add_question(client, firm, slug, qid, "single", {"prompt": "", "choices-0": "甲"})
    page = text_of(r)
    assert '<html lang="zh-CN">' in page
    with app.test_request_context(), force_locale("zh_CN"):
        expected = [gettext("Enter the question."), gettext("Give at least two choices.")]
    assert re.search(r"[\u4e00-\u9fff]", expected[0])
    assert errors_in(page) == expected


def test_practical_task_needs_a_checklist_and_its_title_must_be_unique(app, client, login, world):
    firm, slug = world.firm, "practical-course"
    login(world.trainer)
    steps.create_course(client, firm, slug, "实操课程")
    steps.add_module(client, firm, slug, "模块")
    module_id = version_of(app, slug)["modules"][0]["id"]
    r = steps.add_lesson(
        client, firm, slug, module_id, "practical", {"title": "接线", "checklist": " \n "}
    )
    assert r.status_code == 200 and "Write the checklist: one step per line." in errors_in(
        text_of(r)
    )
    steps.add_lesson(
        client, firm, slug, module_id, "practical", {"title": "接线", "checklist": "剥线"}
    )
    steps.add_module(client, firm, slug, "模块二")
    second = version_of(app, slug)["modules"][1]["id"]
    r = steps.add_lesson(
        client, firm, slug, second, "practical", {"title": "接线", "checklist": "压线"}
    )
    assert "Another practical task of this version has this title." in errors_in(text_of(r))


def test_submit_lists_what_is_missing_and_changes_nothing(app, client, login, world):
    firm, slug = world.firm, "unfinished"
    login(world.trainer)
    steps.create_course(client, firm, slug, "未完成课程")
    steps.add_module(client, firm, slug, "空模块")
    steps.add_module(client, firm, slug, "视频模块")
    module_id = version_of(app, slug)["modules"][1]["id"]
    steps.add_lesson(client, firm, slug, module_id, "video", {"title": "操作演示", "minutes": "3"})
    steps.add_lesson(
        client,
        firm,
        slug,
        module_id,
        "quiz",
        {"title": "空测验", "pass_mark": "60", "attempts": "0"},
    )
    r = steps.submit(client, firm, slug)
    page = text_of(r)
    assert r.status_code == 200
    assert "Module “空模块” has no lessons." in page
    assert "Lesson “操作演示”: upload its video." in page
    assert "Quiz “空测验” has no questions." in page
    assert statuses(app, slug) == {1: "draft"}


def test_editing_a_published_course_makes_version_2_and_learners_keep_progress(
    app, client, login, world
):
    firm, slug = world.firm, "versioned"
    v1 = steps.build_course_via_service(
        app, firm, world.trainer, slug, "版本课程", publish_by=world.admin
    )
    assert v1["status"] == "published"
    keep, drop = lesson_by_title(v1, "安全须知"), lesson_by_title(v1, "设备结构")
    with app.test_request_context():
        learner = db.session.get(User, world.worker.id)
        version = db.session.get(CourseVersion, v1["id"])
        enrollment, _ = learning.enroll(learner, version)
        for lesson_id in (keep["id"], drop["id"]):
            learning.record_progress(enrollment, db.session.get(Lesson, lesson_id), percent=100)
        db.session.commit()
        enrollment_id = enrollment.id

    login(world.trainer)
    r = client.post(f"/authoring/firms/{firm.id}/courses/{slug}/versions")
    assert r.status_code == 302 and r.headers["Location"].endswith(base_url(firm, slug, 2))
    assert client.post(f"/authoring/firms/{firm.id}/courses/{slug}/versions").status_code == 302
    assert statuses(app, slug) == {1: "published", 2: "draft"}
    v2 = version_of(app, slug, 2)
    assert [x["key"] for x in v2["lessons"]] == [x["key"] for x in v1["lessons"]]
    assert [q["prompt"] for x in v2["lessons"] for q in x["questions"]] == ["1+1=?"]
    assert {x["id"] for x in v2["lessons"]}.isdisjoint({x["id"] for x in v1["lessons"]})

    # edits go to version 2; version 1 stays as it was
    kept_v2 = lesson_by_title(v2, "安全须知")
    r = client.post(
        f"{base_url(firm, slug, 2)}/lessons/{kept_v2['id']}/edit",
        data={
            "save": "1",
            "title": "安全须知（修订）",
            "minutes": "6",
            "body": "# 新版\n\n内容。",
            "module": str(kept_v2["module_id"]),
        },
    )
    assert r.status_code == 302
    dropped_v2 = lesson_by_title(v2, "设备结构")
    assert (
        client.get(f"{base_url(firm, slug, 2)}/lessons/{dropped_v2['id']}/delete").status_code
        == 200
    )
    assert (
        client.post(f"{base_url(firm, slug, 2)}/lessons/{dropped_v2['id']}/delete").status_code
        == 302
    )
    assert (
        client.post(f"{base_url(firm, slug, 2)}/lessons/{dropped_v2['id']}/delete").status_code
        == 302
    )
    # version 1 cannot be edited any more
    r = client.post(
        f"{base_url(firm, slug, 1)}/lessons/{keep['id']}/edit",
        data={"save": "1", "title": "篡改", "body": "x", "module": str(keep["module_id"])},
    )
    assert r.status_code == 302
    assert version_of(app, slug, 1) == v1

    assert steps.submit(client, firm, slug, 2).status_code == 302
    admin = app.test_client()
    login(world.admin, c=admin)
    review = text_of(admin.get(f"/review/consortia/{world.consortium.id}/courses/{slug}/v2"))
    assert "Removed lessons" in review and "设备结构" in review
    assert steps.approve(admin, world.consortium, slug, 2).status_code == 302
    assert statuses(app, slug) == {1: "archived", 2: "published"}

    with app.app_context():
        enrollment = db.session.get(Enrollment, enrollment_id)
        assert enrollment.version_id == v2["id"]
        progress = learning.progress_map(enrollment)
        version2 = db.session.get(CourseVersion, v2["id"])
        done = {x.title for x in version2.lessons if learning.lesson_done(x, progress)}
        assert done == {"安全须知（修订）"}


def test_admin_sends_a_version_back_with_a_required_comment_the_trainer_sees(
    app, client, login, world
):
    firm, slug = world.firm, "returned-course"
    steps.build_course_via_service(app, firm, world.trainer, slug, "退回课程")
    admin = app.test_client()
    login(world.admin, c=admin)
    r = steps.send_back(admin, world.consortium, slug, "   ")
    assert r.status_code == 200 and "Tell the trainers what to change." in errors_in(text_of(r))
    assert statuses(app, slug) == {1: "submitted"}
    assert steps.send_back(admin, world.consortium, slug, "请补充安全帽的图片。").status_code == 302
    assert steps.send_back(admin, world.consortium, slug, "第二次").status_code == 302  # replay
    v = version_of(app, slug)
    assert (v["status"], v["review_comment"]) == ("returned", "请补充安全帽的图片。")
    assert audit_actions(app, world.consortium.id).count("course.return") == 1

    login(world.trainer)
    page = text_of(client.get(f"/authoring/firms/{firm.id}/courses/{slug}"))
    assert "请补充安全帽的图片。" in page and "Returned for changes" in page
    assert "请补充安全帽的图片。" in text_of(client.get(f"/authoring/firms/{firm.id}/courses"))
    # a returned version is editable and can be sent again
    assert steps.add_module(client, firm, slug, "第二单元").status_code == 302
    lesson = {
        "title": "安全帽",
        "body": "![安全帽](https://example.com/helmet.png)",
        "minutes": "1",
    }
    module_id = version_of(app, slug)["modules"][1]["id"]
    steps.add_lesson(client, firm, slug, module_id, "text", lesson)
    assert steps.submit(client, firm, slug).status_code == 302
    assert statuses(app, slug) == {1: "submitted"}


def test_double_submitted_create_and_module_forms_have_the_effect_of_one(app, client, login, world):
    firm, slug = world.firm, "double"
    login(world.trainer)
    assert steps.create_course(client, firm, slug, "双击课程").status_code == 302
    assert steps.create_course(client, firm, slug, "双击课程").status_code == 302
    assert steps.add_module(client, firm, slug, "模块").status_code == 302
    assert steps.add_module(client, firm, slug, "模块").status_code == 302
    module_id = version_of(app, slug)["modules"][0]["id"]
    for _ in range(2):
        steps.add_lesson(client, firm, slug, module_id, "text", {"title": "第一课", "body": "正文"})
    v = version_of(app, slug)
    assert len(v["modules"]) == 1 and len(v["lessons"]) == 1
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(CourseVersion)
                .where(CourseVersion.course_id == v["course_id"])
            )
            == 1
        )
    # the same address with another title is someone else's course
    r = steps.create_course(client, firm, slug, "另一门课")
    assert r.status_code == 200 and "already uses the address" in text_of(r)


def test_prerequisites_come_from_published_courses_and_never_form_a_cycle(
    app, client, login, world
):
    firm = world.firm
    steps.build_course_via_service(
        app, firm, world.trainer, "base-a", "基础A", publish_by=world.admin
    )
    login(world.trainer)
    r = steps.create_course(client, firm, "bogus", "乱填", prerequisites=["no-such-course"])
    assert r.status_code == 200 and errors_in(text_of(r))
    assert (
        steps.create_course(client, firm, "next-b", "进阶B", prerequisites=["base-a"]).status_code
        == 302
    )
    assert version_of(app, "next-b")["prerequisites"] == ["base-a"]
    steps.add_module(client, firm, "next-b", "模块")
    module_id = version_of(app, "next-b")["modules"][0]["id"]
    steps.add_lesson(client, firm, "next-b", module_id, "text", {"title": "进阶", "body": "内容"})
    assert steps.submit(client, firm, "next-b").status_code == 302
    admin = app.test_client()
    login(world.admin, c=admin)
    steps.approve(admin, world.consortium, "next-b")

    # base-a version 2 may not require next-b, which requires base-a
    client.post(f"/authoring/firms/{firm.id}/courses/base-a/versions")
    data = course_form("base-a", "基础A", prerequisites=["next-b"])
    del data["slug"]
    r = client.post(f"{base_url(firm, 'base-a', 2)}/edit", data=data)
    assert r.status_code == 200
    assert any("already requires this course" in e for e in errors_in(text_of(r)))
    assert version_of(app, "base-a", 2)["prerequisites"] == []


def test_modules_and_lessons_reorder_and_delete_after_a_confirmation(app, client, login, world):
    firm, slug = world.firm, "ordering"
    login(world.trainer)
    steps.create_course(client, firm, slug, "排序课程")
    for title in ("一", "二", "三"):
        steps.add_module(client, firm, slug, title)
    modules = version_of(app, slug)["modules"]
    for m in modules:
        steps.add_lesson(
            client, firm, slug, m["id"], "text", {"title": f"课{m['title']}", "body": "x"}
        )
    third = modules[2]["id"]
    assert (
        client.post(
            f"{base_url(firm, slug)}/modules/{third}/move", data={"position": "0"}
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"{base_url(firm, slug)}/modules/{third}/move", data={"position": "0"}
        ).status_code
        == 302
    )
    v = version_of(app, slug)
    assert [m["title"] for m in v["modules"]] == ["三", "一", "二"]
    assert [x["title"] for x in sorted(v["lessons"], key=lambda x: x["position"])] == [
        "课三",
        "课一",
        "课二",
    ]
    # rename, then delete with confirmation
    assert (
        client.post(
            f"{base_url(firm, slug)}/modules/{third}/edit", data={"title": "三（改）"}
        ).status_code
        == 302
    )
    confirm = client.get(f"{base_url(firm, slug)}/modules/{third}/delete")
    assert confirm.status_code == 200 and "三（改）" in text_of(confirm)
    assert version_of(app, slug)["modules"][0]["title"] == "三（改）"  # GET deletes nothing
    assert client.post(f"{base_url(firm, slug)}/modules/{third}/delete").status_code == 302
    v = version_of(app, slug)
    assert [m["title"] for m in v["modules"]] == ["一", "二"]
    assert [m["position"] for m in v["modules"]] == [0, 1]
    assert [x["position"] for x in v["lessons"]] == [0, 1]
