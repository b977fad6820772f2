"""Uploads are checked by content and size, stored under random names, served safely."""

from __future__ import annotations

import io
import re

import pytest
from flask_babel import force_locale
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from lms.core.storage import storage
from lms.courses import uploads
from lms.courses.service import media_key

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


@pytest.fixture
def en(app):
    """A request context in English (messages are asserted in English)."""
    with app.test_request_context(), force_locale("en"):
        yield


HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
SVG_PLAIN = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
    b'<rect width="1" height="1"/></svg>'
)


# --- the content checks on their own ---------------------------------------------------------


@pytest.mark.parametrize(
    "data, name",
    [(tiny_png(), "png"), (tiny_pdf(), "pdf"), (tiny_mp4(), "mp4")],
)
def test_real_files_are_recognised_by_their_content(data, name):
    assert uploads.detect_format(data).name == name


@pytest.mark.parametrize(
    "data",
    [
        HTML,
        SVG_SCRIPT,
        SVG_PLAIN,
        tiny_png() + b"<html><script>alert(1)</script></html>",  # HTML appended after IEND
        tiny_png() + b"PK\x03\x04zip-payload",  # a PNG/ZIP polyglot
        tiny_png()[:-6],  # truncated
        b"\x89PNG\r\n\x1a\n<script>alert(1)</script>",  # the magic bytes only
        tiny_mp4() + b"<html></html>",
        b"GIF89a<script>alert(1)</script>",
    ],
)
def test_disguised_polyglot_and_broken_files_match_no_format(data):
    assert uploads.detect_format(data) is None


def test_markup_hidden_inside_a_valid_image_is_refused(en):
    data = tiny_png(extra_chunk=b"Comment\x00<script>alert(1)</script>")
    assert uploads.detect_format(data).name == "png"
    with pytest.raises(uploads.UploadError, match="HTML or script"):
        uploads.check_upload(data, categories=("image",), field="Image")


def test_a_pdf_with_javascript_is_refused(en):
    data = tiny_pdf(b" /OpenAction << /S /JavaScript /JS (app.alert(1)) >>")
    with pytest.raises(uploads.UploadError, match="scripts"):
        uploads.check_upload(data, categories=("document",), field="Document")
    assert uploads.check_upload(tiny_pdf(), categories=("document",), field="Document")


def test_each_kind_has_its_size_limit(en):
    big_png = tiny_png() + b"\x00" * (5 * uploads.MB)
    with pytest.raises(uploads.UploadError, match="larger than 5 MB"):
        uploads.check_upload(big_png, categories=("image",), field="Image")
    with pytest.raises(uploads.UploadError, match="Image: the file is empty"):
        uploads.check_upload(b"", categories=("image",), field="Image")
    with pytest.raises(uploads.UploadError, match="^Video file: this is not an MP4"):
        uploads.check_upload(tiny_png(), categories=("video",), field="Video file")
    assert uploads.request_limit(("video",)) == 201 * uploads.MB


# --- through the pages -------------------------------------------------------------------------


@pytest.fixture
def draft(app, client, login, world):
    """A draft with a reading lesson and a video lesson, the trainer signed in."""
    firm, slug = world.firm, "media-course"
    login(world.trainer)
    steps.create_course(client, firm, slug, "媒体课程")
    steps.add_module(client, firm, slug, "模块")
    module_id = version_of(app, slug)["modules"][0]["id"]
    steps.add_lesson(client, firm, slug, module_id, "text", {"title": "图文", "body": "正文"})
    steps.add_lesson(client, firm, slug, module_id, "video", {"title": "视频", "minutes": "2"})
    steps.add_lesson(client, firm, slug, module_id, "file", {"title": "手册"})
    v = version_of(app, slug)
    return {
        "firm": firm,
        "slug": slug,
        "text": lesson_by_title(v, "图文")["id"],
        "video": lesson_by_title(v, "视频")["id"],
        "file": lesson_by_title(v, "手册")["id"],
        "course_id": v["course_id"],
    }


def _post_multipart(client, url: str, values: dict):
    # Encoded in memory: the test client's own encoder spools big bodies to a temporary
    # file it never closes (a ResourceWarning, and warnings are errors here).
    boundary, body = encode_multipart(values)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def upload_image(client, draft, data: bytes, filename: str, alt: str = "示意图"):
    return _post_multipart(
        client,
        f"{base_url(draft['firm'], draft['slug'])}/lessons/{draft['text']}/images",
        {"image": FileStorage(io.BytesIO(data), filename), "alt": alt},
    )


def upload_media(client, draft, lesson: str, data: bytes, filename: str):
    return _post_multipart(
        client,
        f"{base_url(draft['firm'], draft['slug'])}/lessons/{draft[lesson]}/media",
        {"file": FileStorage(io.BytesIO(data), filename)},
    )


def test_a_real_png_is_stored_under_a_random_name_and_served_safely(app, client, draft):
    r = upload_image(client, draft, tiny_png(), "../../../etc/passwd.png", alt="接线图 [1]")
    assert r.status_code == 302
    body = lesson_by_title(version_of(app, draft["slug"]), "图文")["body"]
    path = re.search(r"!\[接线图 1\]\((media/[0-9a-f]{32}\.png)\)", body).group(1)
    html = lesson_by_title(version_of(app, draft["slug"]), "图文")["html"]
    assert f'src="/courses/{draft["slug"]}/media/1/{path}"' in html

    served = client.get(f"/courses/{draft['slug']}/media/1/{path}")
    assert served.status_code == 200
    assert served.data == tiny_png()
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert served.headers["Content-Disposition"] == f'inline; filename="{path.split("/")[1]}"'
    served.close()
    with app.app_context():
        root = storage().root
        assert not (root.parent / "etc").exists() and not (root / "etc").exists()
        assert "passwd" not in "".join(str(p) for p in root.rglob("*"))


@pytest.mark.parametrize(
    "data, filename, message",
    [
        (HTML, "x.png", "contains HTML, SVG or XML"),
        (SVG_SCRIPT, "logo.svg", "contains HTML, SVG or XML"),
        (SVG_PLAIN, "logo.svg", "contains HTML, SVG or XML"),
        (
            tiny_png() + b"<html><script>alert(1)</script></html>",
            "poly.png",
            "contains HTML, SVG or XML",
        ),
        (
            tiny_png() + b"PK\x03\x04zip-payload",
            "poly.png",
            "is not a PNG, JPEG, GIF or WebP image",
        ),
        (tiny_pdf(), "doc.png", "is not a PNG, JPEG, GIF or WebP image"),
    ],
)
def test_a_refused_image_names_the_field_and_changes_nothing(
    app, client, draft, data, filename, message
):
    before = version_of(app, draft["slug"])
    r = upload_image(client, draft, data, filename)
    assert r.status_code == 200
    errors = errors_in(text_of(r))
    assert any(e.startswith("Image:") and message in e for e in errors), errors
    assert version_of(app, draft["slug"]) == before


def test_an_oversize_image_is_refused(app, client, draft):
    r = upload_image(client, draft, tiny_png() + b"\x00" * (5 * uploads.MB), "big.png")
    assert r.status_code == 200
    assert "Image: the file is larger than 5 MB." in errors_in(text_of(r))


def test_a_video_and_a_pdf_attach_to_their_lessons(app, client, draft):
    assert upload_media(client, draft, "video", tiny_mp4(), "clip.mov").status_code == 302
    assert upload_media(client, draft, "file", tiny_pdf(), "manual.exe").status_code == 302
    v = version_of(app, draft["slug"])
    video = lesson_by_title(v, "视频")["media_path"]
    pdf = lesson_by_title(v, "手册")["media_path"]
    assert re.fullmatch(r"media/[0-9a-f]{32}\.mp4", video)
    assert re.fullmatch(r"media/[0-9a-f]{32}\.pdf", pdf)
    served = client.get(f"/courses/{draft['slug']}/media/1/{video}")
    assert served.headers["Content-Type"] == "video/mp4" and served.data == tiny_mp4()
    served.close()
    # a PNG is not a video
    r = upload_media(client, draft, "video", tiny_png(), "clip.mp4")
    assert r.status_code == 200
    assert any(
        e.startswith("Video file: this is not an MP4 or WebM video") for e in errors_in(text_of(r))
    )


def test_a_body_larger_than_the_route_allows_is_a_field_error_not_a_crash(app, client, draft):
    app.config["LMS_UPLOAD_LIMITS"] = {"video": uploads.MB // 2}
    try:
        r = upload_media(client, draft, "video", tiny_mp4() + b"\x00" * (3 * uploads.MB), "big.mp4")
    finally:
        del app.config["LMS_UPLOAD_LIMITS"]
    assert r.status_code == 200
    assert "Video file: the file is larger than 0.5 MB." in errors_in(text_of(r))
    assert lesson_by_title(version_of(app, draft["slug"]), "视频")["media_path"] is None


def test_the_upload_route_checks_the_csrf_token(app, client, draft):
    # The route's body limit is set before the global CSRF check reads the body
    # (lms.core.web.upload_limit), so that check covers it like every other form.
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        r = upload_media(client, draft, "video", tiny_mp4(), "clip.mp4")
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert r.status_code == 400
    assert "The form expired or was sent twice." in text_of(r)
    assert lesson_by_title(version_of(app, draft["slug"]), "视频")["media_path"] is None
    with app.app_context():
        assert not list((storage().root / "courses" / str(draft["course_id"])).rglob("*.mp4"))


def test_media_is_copied_to_the_next_version(app, client, login, draft, world):
    upload_media(client, draft, "video", tiny_mp4(), "clip.mp4")
    upload_image(client, draft, tiny_png(), "a.png")
    slug = draft["slug"]
    # finish the draft, publish it, then start version 2
    client.post(f"{base_url(draft['firm'], slug)}/lessons/{draft['file']}/delete")
    assert steps.submit(client, draft["firm"], slug).status_code == 302
    admin = app.test_client()
    login(world.admin, c=admin)
    assert steps.approve(admin, world.consortium, slug).status_code == 302
    client.post(f"/authoring/firms/{draft['firm'].id}/courses/{slug}/versions")
    v2 = version_of(app, slug, 2)
    video = lesson_by_title(v2, "视频")["media_path"]
    image = re.search(r"\((media/[^)]+)\)", lesson_by_title(v2, "图文")["body"]).group(1)
    assert f"/courses/{slug}/media/2/{image}" in lesson_by_title(v2, "图文")["html"]
    with app.app_context():
        course = type("C", (), {"id": draft["course_id"]})
        for path in (video, image):
            assert storage().read(media_key(course, 2, path)) == storage().read(
                media_key(course, 1, path)
            )
