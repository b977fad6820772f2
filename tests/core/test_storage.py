"""Both storage backends behave alike: the same tests run on a local folder and on an
S3-compatible object store (moto's server on a free loopback port)."""

from __future__ import annotations

import io
import re
import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.test import encode_multipart

from lms.core.storage import LocalStorage, S3Storage, _ObjectReader, storage
from lms.extensions import db
from tests.authoring import steps
from tests.authoring.conftest import lesson_by_title, tiny_mp4, version_of
from tests.conftest import ensure_skills

BUCKET = "lms-test"
DATA = bytes(range(256)) * 40  # 10 KB, every byte value


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on a free port of 127.0.0.1, with an empty bucket."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 (moto accepts any key)
    ).create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


@pytest.fixture
def s3_config(app, s3_endpoint, monkeypatch):
    """The app stores its files in the bucket, under a prefix of this test's own."""
    for key, value in {
        "LMS_S3_BUCKET": BUCKET,
        "LMS_S3_ENDPOINT_URL": s3_endpoint,
        "LMS_S3_REGION": "us-east-1",
        "LMS_S3_ACCESS_KEY_ID": "test",
        "LMS_S3_SECRET_ACCESS_KEY": "test",
        "LMS_S3_PREFIX": f"t-{uuid.uuid4().hex}",
    }.items():
        monkeypatch.setitem(app.config, key, value)


@pytest.fixture(autouse=True)
def _small_windows(monkeypatch):
    """Objects are read in windows of 1000 bytes here, so a 10 KB file takes eleven GETs."""
    monkeypatch.setattr(_ObjectReader, "WINDOW", 1000)


@pytest.fixture(params=["local", "s3"])
def backend(request, app, tmp_path, monkeypatch):
    """The app configured with each backend in turn."""
    if request.param == "s3":
        request.getfixturevalue("s3_config")
    else:
        monkeypatch.setitem(app.config, "LMS_STORAGE_DIR", str(tmp_path / "storage"))
    return request.param


@pytest.fixture
def store(app, backend):
    with app.test_request_context():
        yield storage()


def test_the_bucket_setting_chooses_the_object_store(app, backend):
    with app.app_context():
        chosen = storage()
    assert isinstance(chosen, S3Storage if backend == "s3" else LocalStorage)


def test_the_object_store_has_one_client_per_process(app, s3_config):
    with app.app_context():
        assert storage().client is storage().client


def test_a_saved_file_reads_back_and_exists(store):
    assert not store.exists("a/b/file.bin")
    store.save("a/b/file.bin", DATA)
    assert store.exists("a/b/file.bin")
    assert store.read("a/b/file.bin") == DATA
    assert not store.exists("a/b")  # a folder is not a file


def test_saving_again_replaces_the_file(store):
    store.save("x.txt", b"first")
    store.save("x.txt", b"second")
    assert store.read("x.txt") == b"second"


def test_reading_a_missing_file_is_file_not_found(store):
    with pytest.raises(FileNotFoundError):
        store.read("missing/file.pdf")


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../outside", "a/../../b"])
def test_a_key_that_leaves_the_storage_is_refused(store, key):
    with pytest.raises(ValueError, match="bad storage key"):
        store.save(key, b"x")
    with pytest.raises(ValueError, match="bad storage key"):
        store.exists(key)


def _send(app, store, key, headers=None, **options):
    with app.test_request_context(headers=headers or {}):
        response = store.send(key, **options)
        response.direct_passthrough = False  # let the test read the body
        body = response.get_data()
        response.close()
        return response, body


def test_a_file_is_sent_whole_with_its_name_and_type(app, store):
    store.save("docs/manual.pdf", DATA)
    response, body = _send(
        app,
        store,
        "docs/manual.pdf",
        mimetype="application/pdf",
        download_name="手册.pdf",
        as_attachment=True,
    )
    assert response.status_code == 200
    assert body == DATA
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Length"] == str(len(DATA))
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E6%89%8B%E5%86%8C.pdf" in response.headers["Content-Disposition"]


@pytest.mark.parametrize(
    "asked, start, end",
    [("bytes=100-199", 100, 199), ("bytes=10000-", 10000, 10239), ("bytes=-40", 10200, 10239)],
)
def test_a_range_request_gets_just_that_range(app, store, asked, start, end):
    store.save("media/clip.mp4", DATA)
    response, body = _send(
        app, store, "media/clip.mp4", {"Range": asked}, download_name="clip.mp4", conditional=True
    )
    assert response.status_code == 206
    assert body == DATA[start : end + 1]
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response.headers["Accept-Ranges"] == "bytes"


def test_a_range_beyond_the_end_is_416(app, store):
    store.save("media/clip.mp4", DATA)
    with (
        app.test_request_context(headers={"Range": "bytes=20000-"}),
        pytest.raises(RequestedRangeNotSatisfiable),
    ):
        store.send("media/clip.mp4", download_name="clip.mp4", conditional=True)


def test_an_unchanged_file_is_304_for_its_etag(app, store):
    store.save("media/a.png", DATA)
    first, _ = _send(app, store, "media/a.png", download_name="a.png")
    again, _ = _send(
        app, store, "media/a.png", {"If-None-Match": first.headers["ETag"]}, download_name="a.png"
    )
    assert again.status_code == 304


# --- through the app, with the object store ------------------------------------------------


def _upload_video(client, firm, slug: str, lesson_id: int, data: bytes):
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), "clip.mp4")})
    return client.post(
        f"/authoring/firms/{firm.id}/courses/{slug}/v1/lessons/{lesson_id}/media",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_a_video_uploaded_to_the_object_store_plays_with_ranges(
    app, client, login, create_firm, create_user, s3_endpoint, s3_config
):
    firm = create_firm()
    trainer = create_user(role="trainer", firm=firm, locale="en")
    with app.app_context():
        ensure_skills(["t-plc"])
        db.session.commit()
    login(trainer)
    slug = "s3-course"
    assert steps.create_course(client, firm, slug, "对象存储课程").status_code == 302
    steps.add_module(client, firm, slug, "模块")
    module_id = version_of(app, slug)["modules"][0]["id"]
    steps.add_lesson(client, firm, slug, module_id, "video", {"title": "视频", "minutes": "2"})
    lesson_id = lesson_by_title(version_of(app, slug), "视频")["id"]

    video = tiny_mp4()
    assert _upload_video(client, firm, slug, lesson_id, video).status_code == 302
    path = lesson_by_title(version_of(app, slug), "视频")["media_path"]
    assert re.fullmatch(r"media/[0-9a-f]{32}\.mp4", path)

    # The file is in the bucket, under the configured prefix, and not on disk.
    objects = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106
    ).list_objects_v2(Bucket=BUCKET, Prefix=app.config["LMS_S3_PREFIX"] + "/")
    keys = [o["Key"] for o in objects.get("Contents", [])]
    assert len(keys) == 1 and keys[0].endswith(path)

    served = client.get(f"/courses/{slug}/media/1/{path}")
    assert served.status_code == 200
    assert served.data == video
    assert served.headers["Content-Type"] == "video/mp4"
    assert served.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    served.close()

    ranged = client.get(f"/courses/{slug}/media/1/{path}", headers={"Range": "bytes=8-23"})
    assert ranged.status_code == 206
    assert ranged.data == video[8:24]
    assert ranged.headers["Content-Range"] == f"bytes 8-23/{len(video)}"
    ranged.close()

    client.post("/logout")
    assert client.get(f"/courses/{slug}/media/1/{path}").status_code in (302, 401)
