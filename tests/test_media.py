"""Course media: access-checked, served with range requests and without sniffing or scripts."""

from pathlib import Path

from lms.courses.package import read_package
from lms.courses.service import import_package
from lms.extensions import db
from lms.tenancy.models import Consortium, Firm
from tests.conftest import write_package

VIDEO = bytes(range(256)) * 40  # 10 KB of stand-in video bytes


def _course_with_video(app, tmp_path: Path, firm) -> str:
    pkg = write_package(tmp_path, "video-course", lessons=1, quiz=False)
    (pkg / "media").mkdir()
    (pkg / "media/clip.mp4").write_bytes(VIDEO)
    (pkg / "lessons/02.md").write_text(
        "---\ntitle: 视频课\ntype: video\nvideo: media/clip.mp4\n---\n看视频。\n", encoding="utf-8"
    )
    course_yaml = (pkg / "course.yaml").read_text(encoding="utf-8")
    (pkg / "course.yaml").write_text(
        course_yaml.replace(
            "  - file: lessons/01.md", "  - file: lessons/01.md\n  - file: lessons/02.md"
        ),
        encoding="utf-8",
    )
    with app.test_request_context():
        package = read_package(pkg, known_skills=set(), known_courses=set())
        assert not package.problems, package.problems
        import_package(
            None,
            db.session.get(Consortium, firm.consortium_id),
            db.session.get(Firm, firm.id),
            package,
        )
        db.session.commit()
    return "/courses/video-course/media/1/media/clip.mp4"


def test_media_answers_range_requests_with_safe_headers(
    app, tmp_path, client, create_firm, create_user, login
):
    firm = create_firm()
    url = _course_with_video(app, tmp_path, firm)
    login(create_user(role="worker", firm=firm))
    whole = client.get(url)
    assert whole.status_code == 200 and whole.data == VIDEO
    assert whole.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in whole.headers["Content-Security-Policy"]
    assert whole.headers["Content-Disposition"].startswith("inline;")
    assert whole.headers["Accept-Ranges"] == "bytes"
    whole.close()
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.data == VIDEO[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(VIDEO)}"
    part.close()


def test_media_of_another_consortium_is_a_404(
    app, tmp_path, client, create_firm, create_user, login
):
    url = _course_with_video(app, tmp_path, create_firm())
    login(create_user(role="worker", firm=create_firm()))  # a firm of another consortium
    assert client.get(url).status_code == 404
