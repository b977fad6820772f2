"""Certificate designs: create / edit / delete with per-field errors, colours, logo and seal
uploads checked by content, previews, per-course validity, and which design a certificate uses."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditRecord
from lms.certificates import designs, service
from lms.certificates.models import CertificateTemplate
from lms.courses.models import Course
from lms.extensions import db

TEXTS = {
    "title": ("结业证书", "Certificate"),
    "statement": ("已完成课程。", "has completed the course."),
    "skills_heading": ("技能", "Skills"),
    "issuer_label": ("发证", "Issued by"),
    "verify_hint": ("扫码核验", "Scan to verify"),
}


def png_bytes(width: int = 4, height: int = 4, rgb=(200, 30, 30)) -> bytes:
    """A real, small RGB PNG made with zlib and struct."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4">'
    b'<rect width="4" height="4"/></svg>'
)


def form_data(**overrides) -> dict:
    data = {"name": "本联合体证书", "primary_color": "#112233", "accent_color": "#aa8800"}
    for key, (zh, en) in TEXTS.items():
        data[f"{key}_zh"], data[f"{key}_en"] = zh, en
    data.update(overrides)
    return data


@pytest.fixture
def world(create_consortium, create_firm, create_user, create_course):
    consortium = create_consortium()
    firm = create_firm(consortium)
    other = create_consortium()
    other_firm = create_firm(other)
    people = {
        "admin": create_user(role="consortium_admin", consortium=consortium),
        "worker": create_user(role="worker", firm=firm),
        "firm_admin": create_user(role="firm_admin", firm=firm),
        "other_admin": create_user(role="consortium_admin", consortium=other),
    }
    course = create_course(firm, quiz=False, lessons=1, title="高处作业安全")
    other_course = create_course(other_firm, quiz=False, lessons=1)
    return SimpleNamespace(
        consortium=consortium,
        other=other,
        course=course,
        other_course=other_course,
        people=people,
    )


def base(w) -> str:
    return f"/consortia/{w.consortium.id}/certificate-designs"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)))


def make_design(app, w, *, course_id=None, **kw) -> int:
    with app.test_request_context():
        design = designs.create_design(
            w.people["admin"],
            db.session.get(type(w.consortium), w.consortium.id),
            course_id=course_id,
            name=kw.get("name", "设计"),
            texts={k: {"zh": zh, "en": en} for k, (zh, en) in TEXTS.items()},
            primary_color=kw.get("primary", "#112233"),
            accent_color="#aa8800",
            images=kw.get("images"),
        )
        db.session.commit()
        return design.id


# --- create / edit / delete -----------------------------------------------------------------


def test_list_shows_default_when_there_is_no_design(app, client, login, world):
    login(world.people["admin"])
    page = client.get(base(world)).get_data(as_text=True)
    assert "高处作业安全" in page
    assert f"{base(world)}/default/preview.pdf" in page


def test_new_form_is_prefilled_with_the_default_texts(app, client, login, world):
    login(world.people["admin"])
    page = client.get(base(world) + "/new").get_data(as_text=True)
    assert "培训结业证书" in page and "Certificate of Completion" in page
    assert 'type="color"' in page and "#1d4e89" in page


def test_create_consortium_design_then_course_design(app, client, login, world):
    login(world.people["admin"])
    response = client.post(base(world) + "/new", data=form_data(place=""))
    assert response.status_code == 302, response.get_data(as_text=True)
    response = client.post(
        base(world) + "/new", data=form_data(place=str(world.course.id), name="课程证书")
    )
    assert response.status_code == 302
    with app.app_context():
        rows = db.session.scalars(select(CertificateTemplate).order_by(CertificateTemplate.id))
        places = [(d.consortium_id, d.course_id, d.name) for d in rows]
        assert places == [
            (world.consortium.id, None, "本联合体证书"),
            (world.consortium.id, world.course.id, "课程证书"),
        ]
        assert audit_actions().count("design.create") == 2
    # both places are taken now: a second consortium-wide design is refused
    response = client.post(base(world) + "/new", data=form_data(place=""))
    assert response.status_code == 200
    with app.app_context():
        assert count(CertificateTemplate) == 2


def test_create_for_another_consortiums_course_is_refused(app, client, login, world):
    login(world.people["admin"])
    response = client.post(base(world) + "/new", data=form_data(place=str(world.other_course.id)))
    assert response.status_code == 200
    assert 'id="place-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert count(CertificateTemplate) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title_zh", ""),
        ("statement_en", "x" * 301),
        ("verify_hint_zh", "   "),
        ("name", ""),
        ("primary_color", "red"),
        ("accent_color", "#12345"),
        ("primary_color", "#12345g"),
        ("accent_color", "#1234567"),
    ],
)
def test_create_errors_are_named_per_field_and_nothing_is_written(
    app, client, login, world, field, value
):
    login(world.people["admin"])
    response = client.post(base(world) + "/new", data=form_data(place="", **{field: value}))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page
    with app.app_context():
        assert count(CertificateTemplate) == 0
        assert "design.create" not in audit_actions()


def test_edit_saves_texts_and_colours_and_errors_change_nothing(app, client, login, world):
    design_id = make_design(app, world)
    login(world.people["admin"])
    url = f"{base(world)}/{design_id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert "扫码核验" in page and f"{base(world)}/{design_id}/preview.pdf" in page
    assert "Preview PDF" in page or "预览" in page
    response = client.post(url, data=form_data(title_zh="新标题", primary_color="#ABCDEF"))
    assert response.status_code == 302
    response = client.post(url, data=form_data(title_en="", accent_color="blue"))
    page = response.get_data(as_text=True)
    assert 'id="title_en-error"' in page and 'id="accent_color-error"' in page
    with app.app_context():
        design = db.session.get(CertificateTemplate, design_id)
        assert design.texts["title"] == {"zh": "新标题", "en": "Certificate"}
        assert design.primary_color == "#abcdef" and design.accent_color == "#aa8800"
        assert audit_actions().count("design.update") == 1


def test_service_checks_colours_and_texts_too(app, world):
    with app.test_request_context():
        assert designs.check_color("#A1b2C3", "c") == "#a1b2c3"
        for bad in ("", "#abc", "abcdef", "#abcdeg", "#abcdef;", "url(x)", "#abcdef00"):
            with pytest.raises(designs.DesignError) as caught:
                designs.check_color(bad, "primary_color")
            assert caught.value.field == "primary_color"
        texts = {k: {"zh": "z", "en": "e"} for k in designs.TEXT_KEYS}
        texts["issuer_label"]["en"] = "x" * 41
        with pytest.raises(designs.DesignError) as caught:
            designs.check_texts(texts)
        assert caught.value.field == "issuer_label_en"


def test_delete_asks_then_deletes_and_issued_pdfs_stay(
    app, client, login, world, create_user, certify
):
    design_id = make_design(app, world, course_id=world.course.id)
    worker = world.people["worker"]
    from lms.tenancy.models import Firm

    with app.app_context():
        firm = db.session.get(Firm, db.session.get(Course, world.course.id).firm_id)
    issued = certify(worker, firm, world.course)
    with app.app_context():
        from lms.certificates.models import Certificate

        stored = db.session.get(Certificate, issued.id).pdf_sha256
    login(world.people["admin"])
    url = f"{base(world)}/{design_id}/delete"
    page = client.get(url).get_data(as_text=True)
    assert "设计" in page and "<form" in page
    with app.app_context():
        assert count(CertificateTemplate) == 1
    assert client.post(url).status_code == 302
    with app.app_context():
        assert count(CertificateTemplate) == 0
        assert "design.delete" in audit_actions()
        assert db.session.get(Certificate, issued.id).pdf_sha256 == stored
    response = client.get(f"/certificates/{issued.public_id}.pdf")
    body = response.get_data()
    response.close()
    assert response.status_code == 200
    assert hashlib.sha256(body).hexdigest() == stored


# --- uploads ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"just some text, renamed to logo.png\n",
        SVG,
        GIF,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # PNG magic, no valid structure
        png_bytes()[:-20],  # truncated
    ],
    ids=["text", "svg", "gif", "magic-only", "truncated"],
)
def test_bad_images_are_refused_and_nothing_is_written(app, client, login, world, content):
    design_id = make_design(app, world)
    login(world.people["admin"])
    response = client.post(
        f"{base(world)}/{design_id}/edit",
        data=form_data(logo=(io.BytesIO(content), "logo.png")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert 'id="logo-error"' in response.get_data(as_text=True)
    with app.app_context():
        design = db.session.get(CertificateTemplate, design_id)
        assert design.logo_path is None and design.texts["title"]["zh"] == "结业证书"


def test_too_big_image_is_refused(app, world):
    big = png_bytes()
    big = big + b"\x00" * (designs.MAX_IMAGE + 1 - len(big))
    with app.test_request_context(), pytest.raises(designs.DesignError) as caught:
        designs.check_image(big, "seal")
    assert caught.value.field == "seal"


def test_png_logo_and_seal_are_stored_and_drawn_in_the_preview(app, client, login, world):
    design_id = make_design(app, world)
    login(world.people["admin"])
    url = f"{base(world)}/{design_id}/edit"
    response = client.post(
        url,
        data=form_data(
            logo=(io.BytesIO(png_bytes()), "logo.txt"),
            seal=(io.BytesIO(png_bytes(rgb=(220, 0, 0))), "seal.png"),
        ),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        design = db.session.get(CertificateTemplate, design_id)
        assert design.logo_path.endswith(".png") and design.seal_path.endswith(".png")
    pdf = client.get(f"{base(world)}/{design_id}/preview.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert b"/Subtype /Image" in pdf.data
    with_images = pdf.data.count(b"/Subtype /Image")
    # removing both: fewer images (the QR code stays)
    response = client.post(url, data=form_data(remove_logo="y", remove_seal="y"))
    assert response.status_code == 302
    with app.app_context():
        design = db.session.get(CertificateTemplate, design_id)
        assert design.logo_path is None and design.seal_path is None
    pdf = client.get(f"{base(world)}/{design_id}/preview.pdf")
    assert pdf.data.count(b"/Subtype /Image") < with_images


def test_jpeg_is_accepted_when_pillow_is_installed(app, world):
    pil = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    pil.new("RGB", (8, 8), (10, 20, 30)).save(buffer, format="JPEG")
    with app.test_request_context():
        data, extension = designs.check_image(buffer.getvalue(), "logo")
    assert extension == "jpg"


# --- previews -----------------------------------------------------------------------------------


def test_preview_of_a_saved_design_and_of_the_default(app, client, login, world):
    design_id = make_design(app, world)
    login(world.people["admin"])
    for url in (f"{base(world)}/{design_id}/preview.pdf", f"{base(world)}/default/preview.pdf"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF")
        assert response.headers["Content-Disposition"].startswith("inline")
    assert client.get(f"{base(world)}/{design_id}/preview.pdf?lang=en").data.startswith(b"%PDF")


def test_preview_of_unsaved_values(app, client, login, world):
    design_id = make_design(app, world)
    login(world.people["admin"])
    response = client.post(
        f"{base(world)}/{design_id}/preview.pdf",
        data=form_data(primary_color="#008000", logo=(io.BytesIO(png_bytes()), "l.png")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert b"/Subtype /Image" in response.data
    response = client.post(f"{base(world)}/default/preview.pdf", data=form_data(accent_color="x"))
    assert response.status_code == 422
    with app.app_context():
        assert db.session.get(CertificateTemplate, design_id).primary_color == "#112233"
        assert count(CertificateTemplate) == 1


def test_preview_context_is_the_real_certificate_context(app, world):
    with app.test_request_context():
        consortium = db.session.get(type(world.consortium), world.consortium.id)
        sample = designs.sample_certificate(consortium)
        ctx = service.context(sample, None, {})
        assert ctx["name"] == "张三丰" and len(ctx["skills"]) == 2
        assert ctx["serial"].startswith(f"{consortium.code}-")
        assert ctx["verify_url"].endswith(f"/verify/{designs.SAMPLE_CODE}")
        assert ctx["code_label"].endswith("7K3M-Q9XD-2RTB")
        assert ctx["skills"][0]["level"] == "四级/中级工"


# --- scope and permissions ------------------------------------------------------------------


def test_another_consortiums_design_is_404(app, client, login, world):
    design_id = make_design(app, world)
    login(world.people["other_admin"])
    for suffix in ("edit", "delete", "preview.pdf"):
        assert (
            client.get(
                f"/consortia/{world.other.id}/certificate-designs/{design_id}/{suffix}"
            ).status_code
            == 404
        )
        assert client.get(f"{base(world)}/{design_id}/{suffix}").status_code == 404
    login(world.people["admin"])
    foreign = f"{base(world)}/courses/{world.other_course.id}/validity"
    assert client.get(foreign).status_code == 404


@pytest.mark.parametrize("who", ["worker", "firm_admin"])
def test_worker_and_firm_admin_get_403(app, client, login, world, who):
    design_id = make_design(app, world)
    login(world.people[who])
    for url in (
        base(world),
        base(world) + "/new",
        f"{base(world)}/{design_id}/edit",
        f"{base(world)}/{design_id}/preview.pdf",
        f"{base(world)}/default/preview.pdf",
        f"{base(world)}/courses/{world.course.id}/validity",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"{base(world)}/{design_id}/delete").status_code == 404
    with app.app_context():
        assert count(CertificateTemplate) == 1


# --- validity -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "saved"), [("12", 12), ("1", 1), ("120", 120), ("", None)])
def test_certificate_months(app, client, login, world, value, saved):
    login(world.people["admin"])
    url = f"{base(world)}/courses/{world.course.id}/validity"
    with app.app_context():
        db.session.get(Course, world.course.id).certificate_months = 6
        db.session.commit()
    assert 'value="6"' in client.get(url).get_data(as_text=True)
    assert client.post(url, data={"months": value}).status_code == 302
    with app.app_context():
        assert db.session.get(Course, world.course.id).certificate_months == saved
        assert "design.validity" in audit_actions()


@pytest.mark.parametrize("value", ["0", "121", "-3", "twelve", "1.5"])
def test_certificate_months_out_of_range(app, client, login, world, value):
    login(world.people["admin"])
    url = f"{base(world)}/courses/{world.course.id}/validity"
    response = client.post(url, data={"months": value})
    assert response.status_code == 200
    assert 'id="months-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Course, world.course.id).certificate_months is None
    with app.test_request_context(), pytest.raises(designs.DesignError):
        designs.check_months(value)


# --- which design a certificate uses --------------------------------------------------------------


def test_template_for_picks_the_course_design_over_the_consortium_design(app, world):
    wide = make_design(app, world, name="联合体")
    with app.app_context():
        cert = SimpleNamespace(consortium_id=world.consortium.id, course_id=world.course.id)
        assert service.template_for(cert).id == wide
    own = make_design(app, world, course_id=world.course.id, name="课程")
    with app.app_context():
        assert service.template_for(cert).id == own
        other = SimpleNamespace(consortium_id=world.other.id, course_id=world.other_course.id)
        assert service.template_for(other) is None
