"""A trainer adds images while writing a lesson, in a browser with and without JavaScript:
the text typed and not yet saved is never lost (issue 13, "Authoring loses work")."""

from __future__ import annotations

import re
import struct
import zlib

import pytest
from playwright.sync_api import expect

from lms.auth.models import User
from lms.courses import authoring as service
from lms.courses.models import Lesson
from lms.demo.data import DEMO_PASSWORD
from lms.extensions import db
from tests.e2e.journey import check_accessibility, follow, sign_in, visit

pytestmark = pytest.mark.e2e

TRAINER = "trainer@demo.lms"
SAVED = "第一段：已保存的内容。"
BEFORE, AFTER = "先断电，再挂牌。", "最后通电检查。"


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def _draft_lesson(app, slug: str) -> tuple[str, int]:
    """A draft course of the demo trainer's firm with one saved reading lesson: (editor path,
    lesson id)."""
    with app.app_context():
        trainer = db.session.scalars(db.select(User).where(User.email == TRAINER)).one()
        firm = next(m for m in trainer.memberships if m.role == "trainer").firm
        version = service.create_course(
            trainer,
            firm,
            slug=slug,
            title=f"图文课 {slug}",
            language="zh-CN",
            summary="上传图片时不丢失正文。",
            sector="smart-manufacturing",
            hours=1,
            pass_mark=60,
        )
        module = service.add_module(trainer, version, title="单元一")
        lesson = service.add_lesson(trainer, module, type="text", title="接线", body=SAVED)
        db.session.commit()
        path = f"/authoring/firms/{firm.id}/courses/{slug}/v1/lessons/{lesson.id}/edit"
        return path, lesson.id


def _saved_body(app, lesson_id: int) -> str:
    with app.app_context():
        return db.session.get(Lesson, lesson_id).body


def _go(page, path: str) -> None:
    """visit() without the axe scan: axe needs JavaScript (the page with it is scanned above)."""
    response = page.goto(path)
    assert response is not None and response.ok, path


def _submit(page, button) -> None:
    with page.expect_navigation() as navigation:
        button.click()
    assert navigation.value is not None and navigation.value.ok, page.url


def _image_section(page, tr):
    return page.get_by_role("region", name=tr("Add an image"))


def test_with_javascript_the_image_goes_in_at_the_cursor_and_the_text_stays(
    desktop_page, live_server, tr
):
    app, page = live_server.app, desktop_page
    editor, lesson_id = _draft_lesson(app, "e2e-upload-js")
    visit(page, "/login")
    sign_in(page, tr, TRAINER, DEMO_PASSWORD)
    visit(page, editor)

    text = page.get_by_label(tr("Text (Markdown)"))
    text.fill(f"{SAVED}\n\n{BEFORE}\n\n{AFTER}")  # typed, not saved
    # The cursor between the two new paragraphs.
    text.evaluate(
        "(el, mark) => { const at = el.value.indexOf(mark) + mark.length;"
        " el.focus(); el.setSelectionRange(at, at); }",
        BEFORE,
    )
    images = _image_section(page, tr)
    # A file over the limit is refused at once, before anything is sent.
    images.get_by_label(tr("Image"), exact=True).set_input_files(
        files=[{"name": "huge.png", "mimeType": "image/png", "buffer": b"\x00" * (6 * 1024 * 1024)}]
    )
    expect(images.locator(".upload-status")).to_have_text(re.compile(r"5 MB"), use_inner_text=True)
    images.get_by_label(tr("Image"), exact=True).set_input_files(
        files=[{"name": "wiring.png", "mimeType": "image/png", "buffer": _png()}]
    )
    images.get_by_label(tr("What the image shows")).fill("接线图")
    url = page.url
    images.get_by_role("button", name=tr("Add the image")).click()
    expect(images.locator(".upload-status")).to_contain_text(
        tr("Image added at the cursor. Save the lesson to keep it.")
    )
    assert page.url == url  # no page load
    value = text.input_value()
    assert re.fullmatch(
        re.escape(f"{SAVED}\n\n{BEFORE}\n\n")
        + r"!\[接线图\]\(media/[0-9a-f]{32}\.png\)\n\n"
        + re.escape(AFTER),
        value,
    ), value
    assert _saved_body(app, lesson_id) == SAVED  # uploaded, not saved: the author decides
    # The live preview shows the image.
    expect(page.locator("#markdown-preview img[alt='接线图']")).to_have_count(1)
    check_accessibility(page)

    # Leaving with unsaved text asks first; staying keeps everything.
    dialogs = []

    def answer(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", answer)
    page.get_by_role("link", name=tr("Cancel")).click()
    page.wait_for_timeout(300)
    assert dialogs == ["beforeunload"]
    assert page.url == url and text.input_value() == value

    # Saving asks nothing and keeps the text with its image.
    follow(page, page.get_by_role("button", name=tr("Save"), exact=True))
    assert dialogs == ["beforeunload"]
    assert _saved_body(app, lesson_id) == value.replace("\r\n", "\n")


def test_without_javascript_an_upload_posts_the_text_with_it(browser, live_server, tr):
    app = live_server.app
    editor, lesson_id = _draft_lesson(app, "e2e-upload-nojs")
    context = browser.new_context(
        base_url=live_server.url,
        java_script_enabled=False,
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        _go(page, "/login")
        page.get_by_label(tr("E-mail or mobile number")).fill(TRAINER)
        page.get_by_label(tr("Password"), exact=True).fill(DEMO_PASSWORD)
        _submit(page, page.locator("main").get_by_role("button", name=tr("Sign in")))
        _go(page, editor)
        typed = f"{SAVED}\n\n{BEFORE}"
        page.get_by_label(tr("Text (Markdown)")).fill(typed)
        images = _image_section(page, tr)

        # A refused file: the page comes back with the text as typed and the error by the field.
        images.get_by_label(tr("Image"), exact=True).set_input_files(
            files=[
                {"name": "x.png", "mimeType": "image/png", "buffer": b"<html><script>1</script>"}
            ]
        )
        images.get_by_label(tr("What the image shows")).fill("接线图")
        _submit(page, images.get_by_role("button", name=tr("Add the image")))
        expect(page.get_by_label(tr("Text (Markdown)"))).to_have_value(typed)
        expect(_image_section(page, tr).locator(".error")).to_contain_text(tr("Image"))
        assert _saved_body(app, lesson_id) == SAVED

        # A good one: the text as typed is saved with the image's line at its end.
        images = _image_section(page, tr)
        images.get_by_label(tr("Image"), exact=True).set_input_files(
            files=[{"name": "wiring.png", "mimeType": "image/png", "buffer": _png()}]
        )
        images.get_by_label(tr("What the image shows")).fill("接线图")
        _submit(page, images.get_by_role("button", name=tr("Add the image")))
        body = _saved_body(app, lesson_id)
        assert re.fullmatch(
            re.escape(typed) + r"\n\n!\[接线图\]\(media/[0-9a-f]{32}\.png\)\n", body
        ), body
        expect(page.get_by_label(tr("Text (Markdown)"))).to_have_value(body)

        # A body over the editor's limit: the 413 page says the image limit and leads back
        # to the image field of the editor.
        app.config["LMS_UPLOAD_LIMITS"] = {k: 512 * 1024 for k in ("image", "document", "video")}
        try:
            images = _image_section(page, tr)
            images.get_by_label(tr("Image"), exact=True).set_input_files(
                files=[{"name": "big.png", "mimeType": "image/png", "buffer": b"\0" * 2**21}]
            )
            with page.expect_navigation() as navigation:
                images.get_by_role("button", name=tr("Add the image")).click()
            assert navigation.value.status == 413
        finally:
            del app.config["LMS_UPLOAD_LIMITS"]
        expect(page.get_by_role("heading", level=1)).to_contain_text(tr("The file is too large"))
        expect(page.locator("main")).to_contain_text(
            tr("An image can be up to %(mb)s MB.") % {"mb": "0.5"}
        )
        _submit(page, page.get_by_role("link", name=tr("Back to where you were")))
        assert page.url.endswith(editor + "#images")
    finally:
        context.close()
