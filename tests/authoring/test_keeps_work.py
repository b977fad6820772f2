"""Authoring keeps the author's work (issue 13): uploading while editing never loses the typed
text, each upload limit is stated once and the 413 page says it and leads back, every form
error comes in one round, and quiz questions have length limits everywhere they enter."""

from __future__ import annotations

import html
import io
import re

import pytest
from flask_babel import force_locale
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from lms.config import UPLOAD_LIMITS
from lms.courses import authoring as service
from lms.courses import uploads
from lms.courses.authoring_limits import QUESTION_LIMITS

from . import steps
from .conftest import (
    base_url,
    errors_in,
    lesson_by_title,
    text_of,
    tiny_mp4,
    tiny_pdf,
    tiny_png,
    version_of,
)

SAVED = "保存过的正文。"
TYPED = "# 接线步骤\n\n先断电，再挂牌。这一段还没有保存。"
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"


@pytest.fixture
def draft(app, client, login, world):
    """A draft with a reading lesson (saved text), a video lesson and a file lesson."""
    firm, slug = world.firm, "keeps-work"
    login(world.trainer)
    steps.create_course(client, firm, slug, "保留输入")
    steps.add_module(client, firm, slug, "模块")
    module_id = version_of(app, slug)["modules"][0]["id"]
    steps.add_lesson(client, firm, slug, module_id, "text", {"title": "图文", "body": SAVED})
    steps.add_lesson(client, firm, slug, module_id, "video", {"title": "视频", "minutes": "2"})
    steps.add_lesson(client, firm, slug, module_id, "file", {"title": "手册"})
    v = version_of(app, slug)
    return {
        "firm": firm,
        "slug": slug,
        "module": module_id,
        "text": lesson_by_title(v, "图文")["id"],
        "video": lesson_by_title(v, "视频")["id"],
        "file": lesson_by_title(v, "手册")["id"],
    }


def _post(client, url: str, values: dict, **headers):
    boundary, body = encode_multipart(values)
    return client.post(
        url,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers,
    )


def _lesson_url(draft, kind: str, tail: str) -> str:
    return f"{base_url(draft['firm'], draft['slug'])}/lessons/{draft[kind]}/{tail}"


def _editor_fields(draft, body: str = TYPED, **extra) -> dict:
    """What the editor's one form posts besides the files: the lesson's fields as typed."""
    return {"title": "图文", "module": str(draft["module"]), "minutes": "5", "body": body, **extra}


def _image(data: bytes = None, name: str = "wiring.png") -> FileStorage:
    return FileStorage(io.BytesIO(tiny_png() if data is None else data), name)


def _textarea(page: str) -> str:
    found = re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "the lesson text field is on the page"
    return html.unescape(found.group(1)).lstrip("\r\n")


def _saved_body(app, draft, title: str = "图文") -> str:
    return lesson_by_title(version_of(app, draft["slug"]), title)["body"]


# --- uploading without JavaScript: the editor is one form ------------------------------------


def test_the_editor_is_one_form_whose_upload_buttons_send_the_text_with_the_file(client, draft):
    page = text_of(client.get(_lesson_url(draft, "text", "edit")))
    form = re.search(r'<form[^>]*id="lesson-form"[^>]*>', page, re.S).group(0)
    assert 'enctype="multipart/form-data"' in form
    for name in ("image", "alt"):
        assert re.search(rf'<input[^>]*form="lesson-form"[^>]*name="{name}"', page) or re.search(
            rf'<input[^>]*name="{name}"[^>]*form="lesson-form"', page
        ), name
    button = re.search(r'<button[^>]*name="add_image"[^>]*>', page, re.S).group(0)
    assert 'form="lesson-form"' in button and "/images" in button


def test_adding_an_image_keeps_the_typed_text_and_saves_it_with_the_image(app, client, draft):
    r = _post(
        client,
        _lesson_url(draft, "text", "images"),
        {**_editor_fields(draft), "add_image": "1", "image": _image(), "alt": "接线图"},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/edit#body")
    body = _saved_body(app, draft)
    assert re.fullmatch(re.escape(TYPED) + r"\n\n!\[接线图\]\(media/[0-9a-f]{32}\.png\)\n", body)
    page = text_of(client.get(r.headers["Location"]))
    assert _textarea(page) == body


def test_a_refused_image_keeps_the_typed_text_and_names_the_field(app, client, draft):
    r = _post(
        client,
        _lesson_url(draft, "text", "images"),
        {**_editor_fields(draft), "add_image": "1", "image": _image(HTML, "x.png"), "alt": "图"},
    )
    assert r.status_code == 200
    page = text_of(r)
    assert _textarea(page) == TYPED
    assert any(e.startswith("Image: this file contains HTML") for e in errors_in(page))
    assert _saved_body(app, draft) == SAVED  # nothing saved


def test_an_image_over_its_limit_is_a_field_error_with_the_text_kept_not_a_413(app, client, draft):
    # Larger than the old app-wide 16 MB limit that answered a bare 413 page.
    big = tiny_png() + b"\x00" * (17 * uploads.MB)
    r = _post(
        client,
        _lesson_url(draft, "text", "images"),
        {**_editor_fields(draft), "add_image": "1", "image": _image(big, "big.png"), "alt": "图"},
    )
    assert r.status_code == 200
    page = text_of(r)
    assert "Image: the file is larger than 5 MB." in errors_in(page)
    assert _textarea(page) == TYPED
    assert _saved_body(app, draft) == SAVED


def test_an_image_added_while_the_lesson_is_invalid_lands_in_the_text_shown_unsaved(
    app, client, draft
):
    r = _post(
        client,
        _lesson_url(draft, "text", "images"),
        {**_editor_fields(draft, title=""), "add_image": "1", "image": _image(), "alt": "接线图"},
    )
    assert r.status_code == 200
    page = text_of(r)
    assert "Enter a title." in errors_in(page)
    assert re.fullmatch(
        re.escape(TYPED) + r"\n\n!\[接线图\]\(media/[0-9a-f]{32}\.png\)\n", _textarea(page)
    )
    assert "The lesson is not saved yet" in page
    assert _saved_body(app, draft) == SAVED


def test_save_with_an_image_chosen_adds_the_image_too(app, client, draft):
    r = _post(
        client,
        _lesson_url(draft, "text", "edit"),
        {**_editor_fields(draft), "save": "1", "image": _image(), "alt": "接线图"},
    )
    assert r.status_code == 302
    assert re.search(r"!\[接线图\]\(media/[0-9a-f]{32}\.png\)", _saved_body(app, draft))


def test_save_without_a_file_saves_the_text_as_before(app, client, draft):
    r = _post(
        client,
        _lesson_url(draft, "text", "edit"),
        {
            **_editor_fields(draft),
            "save": "1",
            "image": FileStorage(io.BytesIO(b""), ""),
            "alt": "",
        },
    )
    assert r.status_code == 302
    assert _saved_body(app, draft) == TYPED


def test_uploading_a_video_keeps_the_typed_description(app, client, draft):
    fields = {"title": "视频", "module": str(draft["module"]), "minutes": "3", "body": TYPED}
    refused = _post(
        client,
        _lesson_url(draft, "video", "media"),
        {**fields, "upload": "1", "file": FileStorage(io.BytesIO(tiny_png()), "clip.mp4")},
    )
    assert refused.status_code == 200
    assert _textarea(text_of(refused)) == TYPED
    assert any(e.startswith("Video file: this is not an MP4") for e in errors_in(text_of(refused)))
    assert lesson_by_title(version_of(app, draft["slug"]), "视频")["media_path"] is None

    done = _post(
        client,
        _lesson_url(draft, "video", "media"),
        {**fields, "upload": "1", "file": FileStorage(io.BytesIO(tiny_mp4()), "clip.mp4")},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("#media")
    video = lesson_by_title(version_of(app, draft["slug"]), "视频")
    assert video["body"] == TYPED and video["media_path"].endswith(".mp4")


# --- uploading with JavaScript: in the background, the text untouched -------------------------


def test_a_background_image_upload_answers_its_markdown_and_leaves_the_text_alone(
    app, client, draft
):
    r = _post(
        client,
        _lesson_url(draft, "text", "images"),
        {"image": _image(), "alt": "接线图"},
        Accept="application/json",
    )
    assert r.status_code == 200
    assert re.fullmatch(r"!\[接线图\]\(media/[0-9a-f]{32}\.png\)", r.json["markdown"])
    assert r.json["message"]
    assert _saved_body(app, draft) == SAVED  # the page inserts it; saving is the author's


def test_a_refused_background_upload_answers_the_error_naming_the_field(app, client, draft):
    r = _post(
        client,
        _lesson_url(draft, "text", "images"),
        {"image": _image(HTML, "x.png"), "alt": ""},
        Accept="application/json",
    )
    assert r.status_code == 400
    assert r.json["error"].startswith("Image: this file contains HTML")
    assert r.json["errors"]["alt"] == ["Describe the image for people who cannot see it."]
    assert _saved_body(app, draft) == SAVED


def test_a_background_media_upload_attaches_the_file(app, client, draft):
    r = _post(
        client,
        _lesson_url(draft, "file", "media"),
        {"file": FileStorage(io.BytesIO(tiny_pdf()), "manual.pdf")},
        Accept="application/json",
    )
    assert r.status_code == 200
    path = lesson_by_title(version_of(app, draft["slug"]), "手册")["media_path"]
    assert r.json["url"].endswith(path) and r.json["message"] == "File uploaded."


def test_the_editor_page_gives_its_script_the_limits_and_messages(client, draft):
    page = text_of(client.get(_lesson_url(draft, "text", "edit")))
    assert f'data-limit="{UPLOAD_LIMITS["image"]}"' in page
    assert 'data-too-large="Image: the file is larger than 5 MB."' in page
    assert "js/authoring_uploads.js" in page
    assert "data-unsaved-warning=" in page
    video = text_of(client.get(_lesson_url(draft, "video", "edit")))
    assert f'data-limit="{UPLOAD_LIMITS["video"]}"' in video


def test_a_nul_character_in_the_editors_multipart_form_is_refused(app, client, draft):
    r = _post(
        client,
        _lesson_url(draft, "text", "edit"),
        {**_editor_fields(draft, body="a\x00b"), "save": "1"},
    )
    assert r.status_code == 400
    assert _saved_body(app, draft) == SAVED


# --- limits stated once --------------------------------------------------------------------


def test_each_limit_comes_from_one_table_for_hint_check_and_413(app, client, draft):
    with app.test_request_context():
        assert uploads.limits() == UPLOAD_LIMITS
        # The global ceiling is the largest legitimate upload with its form, no less.
        assert app.config["MAX_CONTENT_LENGTH"] == max(UPLOAD_LIMITS.values()) + uploads.MB
        assert uploads.editor_request_limit() == app.config["MAX_CONTENT_LENGTH"]
    page = text_of(client.get(_lesson_url(draft, "file", "edit")))
    assert "PDF, up to 20 MB." in page
    app.config["LMS_UPLOAD_LIMITS"] = {"document": 3 * uploads.MB}
    try:
        page = text_of(client.get(_lesson_url(draft, "file", "edit")))
        assert "PDF, up to 3 MB." in page
        refused = _post(
            client,
            _lesson_url(draft, "file", "media"),
            {"file": FileStorage(io.BytesIO(tiny_pdf() + b"%" * (4 * uploads.MB)), "big.pdf")},
        )
        assert "Document: the file is larger than 3 MB." in errors_in(text_of(refused))
    finally:
        del app.config["LMS_UPLOAD_LIMITS"]


@pytest.fixture
def small_limits(app):
    """Upload limits of 0.5 MB, so the lesson editor's routes take bodies up to 1.5 MB."""
    app.config["LMS_UPLOAD_LIMITS"] = {k: uploads.MB // 2 for k in UPLOAD_LIMITS}
    yield
    del app.config["LMS_UPLOAD_LIMITS"]


def test_a_body_over_the_editors_limit_gets_the_413_page_with_the_limit_and_the_way_back(
    client, draft, small_limits
):
    url = _lesson_url(draft, "text", "images")
    editor = _lesson_url(draft, "text", "edit")
    r = _post(
        client,
        url,
        {**_editor_fields(draft), "image": _image(b"\x00" * (2 * uploads.MB)), "alt": "图"},
        Referer=f"http://localhost{editor}",
    )
    assert r.status_code == 413
    page = text_of(r)
    assert "<nav" in page and 'class="card narrow"' in page  # in the site's layout
    assert "The file is too large" in page
    assert "An image can be up to 0.5 MB." in page
    assert f'href="{editor}#images"' in page  # back to the editor, at the image field


def test_the_413_page_of_a_page_without_uploads_names_the_general_limit_and_the_referrer(
    app, client, draft
):
    page_url = f"{base_url(draft['firm'], draft['slug'])}/edit"
    body = b"x" * (app.config["LMS_FORM_MAX_BYTES"] + 1)
    r = client.post(
        page_url,
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"Referer": f"http://localhost{page_url}?from=here"},
    )
    assert r.status_code == 413
    page = text_of(r)
    assert "A page of this site can send at most 16 MB at a time, files included." in page
    assert f'href="{page_url}?from=here"' in page


def test_the_413_page_does_not_lead_off_site(app, client, draft):
    body = b"x" * (app.config["LMS_FORM_MAX_BYTES"] + 1)
    r = client.post(
        f"{base_url(draft['firm'], draft['slug'])}/edit",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"Referer": "https://evil.example/phish"},
    )
    assert r.status_code == 413
    page = text_of(r)
    assert "evil.example" not in page
    assert "Back to where you were" not in page and "Back to the home page" in page


def test_the_413_page_is_in_the_users_language(app, client, login, world, draft):
    world_zh = world.trainer
    with app.app_context():
        from lms.auth.models import User
        from lms.extensions import db

        db.session.get(User, world_zh.id).locale = "zh_CN"
        db.session.commit()
    login(world_zh)
    body = b"x" * (app.config["LMS_FORM_MAX_BYTES"] + 1)
    r = client.post(
        f"{base_url(draft['firm'], draft['slug'])}/edit",
        data=body,
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 413
    page = text_of(r)
    assert '<html lang="zh-CN"' in page or 'lang="zh' in page
    with app.test_request_context(), force_locale("zh_CN"):
        from flask_babel import gettext

        assert gettext("Back to the home page") in page


def test_a_background_upload_over_the_limit_gets_the_413_as_json(client, draft, small_limits):
    r = _post(
        client,
        _lesson_url(draft, "text", "images"),
        {"image": _image(b"\x00" * (2 * uploads.MB)), "alt": "图"},
        Accept="application/json",
    )
    assert r.status_code == 413
    assert r.json["error"] == "The file is too large: An image can be up to 0.5 MB."


# --- all form errors at once -----------------------------------------------------------------


def test_a_course_form_with_three_errors_shows_all_three_and_saves_nothing(
    app, client, draft, world
):
    # The address taken is the service's finding; the title and hours are the form's.
    r = steps.create_course(client, world.firm, draft["slug"], "", hours="5000")
    assert r.status_code == 200
    errors = errors_in(text_of(r))
    assert "Enter a title." in errors
    assert "Between 0.1 and 1000 hours." in errors
    assert f"Another course of the consortium already uses the address “{draft['slug']}”." in (
        errors
    )
    assert len(errors) == 3, errors


def test_the_service_reports_every_problem_of_a_course_at_once(app, world):
    from lms.auth.models import User
    from lms.extensions import db
    from lms.tenancy.models import Firm

    with (
        app.test_request_context(),
        force_locale("en"),
        pytest.raises(service.AuthoringError) as caught,
    ):
        service.create_course(
            db.session.get(User, world.trainer.id),
            db.session.get(Firm, world.firm.id),
            slug="Bad Slug",
            title=" ",
            language="fr",
            summary="",
            sector="smart-manufacturing",
            hours=2,
            pass_mark=60,
        )
    assert set(caught.value.errors) == {"slug", "title", "language", "summary"}


def test_a_practical_task_with_three_errors_shows_all_three(app, client, draft):
    data = {
        "title": "",
        "checklist": "",
        "skills-0-skill": "t-plc",
        "skills-0-level": "2",
        "skills-1-skill": "t-plc",
        "skills-1-level": "3",
    }
    before = version_of(app, draft["slug"])
    r = steps.add_lesson(client, draft["firm"], draft["slug"], draft["module"], "practical", data)
    assert r.status_code == 200
    errors = errors_in(text_of(r))
    assert "Enter a title." in errors
    assert "Write the checklist: one step per line." in errors
    assert "Each skill can be listed only once." in errors
    assert version_of(app, draft["slug"]) == before


def _quiz(app, client, draft) -> int:
    data = {"title": "测", "pass_mark": "60", "attempts": "0"}
    steps.add_lesson(client, draft["firm"], draft["slug"], draft["module"], "quiz", data)
    return lesson_by_title(version_of(app, draft["slug"]), "测")["id"]


def test_a_question_with_three_errors_shows_all_three_and_saves_nothing(app, client, draft):
    quiz = _quiz(app, client, draft)
    long_choice = "长" * (QUESTION_LIMITS["choice"] + 1)
    r = steps.add_question(
        client,
        draft["firm"],
        draft["slug"],
        quiz,
        "single",
        {
            "prompt": "问" * (QUESTION_LIMITS["prompt"] + 1),
            "choices-0": long_choice,
            "choices-1": "绿色",
            "explanation": "释" * (QUESTION_LIMITS["explanation"] + 1),
        },
    )
    assert r.status_code == 200
    errors = errors_in(text_of(r))
    assert "The question is 1001 characters long: shorten it to at most 1000." in errors
    assert "Choice 1 is 301 characters long: shorten it to at most 300." in errors
    assert "Mark the correct choice." in errors
    assert "The explanation is 2001 characters long: shorten it to at most 2000." in errors
    assert lesson_by_title(version_of(app, draft["slug"]), "测")["questions"] == []


# --- question length limits: form, service, import ---------------------------------------------


def test_a_prompt_at_the_limit_is_saved(app, client, draft):
    quiz = _quiz(app, client, draft)
    prompt = "问" * QUESTION_LIMITS["prompt"]
    r = steps.add_question(
        client,
        draft["firm"],
        draft["slug"],
        quiz,
        "true_false",
        {"prompt": prompt, "truth": "true"},
    )
    assert r.status_code == 302
    assert lesson_by_title(version_of(app, draft["slug"]), "测")["questions"][0]["prompt"] == prompt


def test_an_accepted_answer_over_its_limit_is_named(app, client, draft):
    quiz = _quiz(app, client, draft)
    r = steps.add_question(
        client,
        draft["firm"],
        draft["slug"],
        quiz,
        "fill_blank",
        {"prompt": "扭矩单位？", "accepted": "N·m\n" + "米" * (QUESTION_LIMITS["answer"] + 1)},
    )
    assert r.status_code == 200
    assert "Accepted answer 2 is 201 characters long: shorten it to at most 200." in errors_in(
        text_of(r)
    )


def test_the_service_refuses_a_prompt_over_the_limit(app, client, draft, world):
    from lms.auth.models import User
    from lms.courses.models import Lesson
    from lms.extensions import db

    quiz = _quiz(app, client, draft)
    with app.test_request_context(), force_locale("en"):
        with pytest.raises(service.AuthoringError) as caught:
            service.add_question(
                db.session.get(User, world.trainer.id),
                db.session.get(Lesson, quiz),
                type="true_false",
                prompt="问" * 1001,
                answer=True,
                explanation="释" * 2001,
            )
        assert set(caught.value.errors) == {"prompt", "explanation"}
        assert str(caught.value.message).startswith("Question 1, Question: The question is 1001")


def test_a_package_question_over_the_limits_is_reported_at_its_line(tmp_path):
    from tests.courses.helpers import QUIZ, line_of, make_package, problems_of

    long_prompt = "问" * 1001
    quiz = QUIZ.replace("prompt: 可以带电接线。", f"prompt: {long_prompt}").replace(
        "choices: [红色, 绿色]", f"choices: [红色, {'绿' * 301}]"
    )
    problems = problems_of(make_package(tmp_path / "pkg", **{"quizzes/q1.yaml": quiz}))
    prompt_line = line_of(quiz, long_prompt)
    choice_line = line_of(quiz, "绿" * 301)
    assert (
        f"quizzes/q1.yaml:{prompt_line}: question 2: the prompt is 1001 characters long: "
        "at most 1000 allowed" in problems
    )
    assert (
        f"quizzes/q1.yaml:{choice_line}: question 1: choice 2 is 301 characters long: "
        "at most 300 allowed" in problems
    )
    assert len(problems) == 2, problems
