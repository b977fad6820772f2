"""Certificate designs edited by consortium admins: texts (zh/en), colours, logo and seal.

One design per place: the consortium's (course_id None) and one per course of the
consortium. The HTML and CSS stay the project's default files (render.DEFAULT_DIR); a design is
data only. Images are checked by content (PNG or JPEG magic bytes, the file's structure, and a
real decode with Pillow when it is installed), at most 1 MB, stored under
certificate-designs/<consortium>/ and reach WeasyPrint only through render's asset fetcher.

A preview renders a sample certificate through the same code path as real certificates
(service.context, service.design_assets, render.render_html, render.render_pdf). Certificates
already issued keep their stored PDF whatever happens to their design later.
"""

from __future__ import annotations

import io
import re
import secrets
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from lms.audit.service import record_action
from lms.certificates import render, service
from lms.certificates.models import Certificate, CertificateTemplate
from lms.certificates.serials import make_serial
from lms.core.storage import storage
from lms.core.types import local_date, local_today
from lms.courses.models import Course, CourseVersion
from lms.extensions import db
from lms.learning.models import Enrollment

LANGS = ("zh", "en")
TEXT_KEYS = ("title", "statement", "skills_heading", "issuer_label", "verify_hint")
MAX_TEXT = {
    "title": 60,
    "statement": 300,
    "skills_heading": 60,
    "issuer_label": 40,
    "verify_hint": 100,
}
MAX_NAME = 120
MAX_IMAGE = 1024 * 1024  # bytes
MAX_PIXELS = 4000  # per side
MIN_MONTHS, MAX_MONTHS = 1, 120
COLOR = re.compile(r"#[0-9a-fA-F]{6}")
IMAGES = ("logo", "seal")
_MAGIC = {b"\x89PNG\r\n\x1a\n": ("png", "PNG"), b"\xff\xd8\xff": ("jpg", "JPEG")}


class DesignError(ValueError):
    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message, self.field = message, field


def text_field(key: str, lang: str) -> str:
    """The form field (and error field) name of one text: title_zh, statement_en, …"""
    return f"{key}_{lang}"


def default_texts() -> dict:
    return {k: dict(render.default_design()["texts"][k]) for k in TEXT_KEYS}


# --- reading ------------------------------------------------------------------------------------


def consortium_courses(consortium) -> list[tuple[Course, str]]:
    """(course, title of its latest version) for every course of the consortium, by title."""
    courses = db.session.scalars(
        select(Course).where(Course.consortium_id == consortium.id).order_by(Course.id)
    ).all()
    titles: dict[int, str] = {}
    if courses:
        rows = db.session.execute(
            select(CourseVersion.course_id, CourseVersion.title)
            .where(CourseVersion.course_id.in_([c.id for c in courses]))
            .order_by(CourseVersion.course_id, CourseVersion.version)
        )
        for course_id, title in rows:
            titles[course_id] = title  # the last (highest) version wins
    pairs = [(c, titles.get(c.id) or c.slug) for c in courses]
    return sorted(pairs, key=lambda p: (p[1].lower(), p[0].id))


def list_designs(consortium) -> list[CertificateTemplate]:
    """The consortium-wide design first, then the course designs."""
    rows = db.session.scalars(
        select(CertificateTemplate).where(CertificateTemplate.consortium_id == consortium.id)
    ).all()
    return sorted(rows, key=lambda d: (d.course_id is not None, d.name.lower(), d.id))


def get_design(consortium, design_id: int) -> CertificateTemplate | None:
    design = db.session.get(CertificateTemplate, design_id)
    if design is None or design.consortium_id != consortium.id:
        return None
    return design


def get_course(consortium, course_id: int) -> Course | None:
    course = db.session.get(Course, course_id)
    if course is None or course.consortium_id != consortium.id:
        return None
    return course


# --- checking -----------------------------------------------------------------------------------


def check_texts(texts: dict) -> dict:
    """{key: {zh, en}} with every key of the default template, stripped, within its limit."""
    clean = {}
    for key in TEXT_KEYS:
        clean[key] = {}
        for lang in LANGS:
            value = " ".join(str((texts.get(key) or {}).get(lang) or "").split())
            field = text_field(key, lang)
            if not value:
                raise DesignError(_l("Fill in this text."), field)
            if len(value) > MAX_TEXT[key]:
                raise DesignError(_l("At most %(n)d characters.", n=MAX_TEXT[key]), field)
            clean[key][lang] = value
    return clean


def check_color(value: str, field: str) -> str:
    value = (value or "").strip()
    if not COLOR.fullmatch(value):
        raise DesignError(_l("Give a colour as # and six hexadecimal digits, e.g. #1d4e89."), field)
    return value.lower()


def check_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise DesignError(_l("Give the design a name."), "name")
    if len(name) > MAX_NAME:
        raise DesignError(_l("At most %(n)d characters.", n=MAX_NAME), "name")
    return name


def check_image(data: bytes, field: str) -> tuple[bytes, str]:
    """(data, extension) of a PNG or JPEG image checked by its content; else DesignError."""
    if not data:
        raise DesignError(_l("The file is empty."), field)
    if len(data) > MAX_IMAGE:
        raise DesignError(_l("The image is larger than 1 MB."), field)
    kind = next((v for magic, v in _MAGIC.items() if data.startswith(magic)), None)
    refused = DesignError(
        _l(
            "This is not a PNG or JPEG image, or it is damaged. "
            "Its content was checked, not its name."
        ),
        field,
    )
    if kind is None:
        raise refused
    extension, pil_format = kind
    from lms.courses.uploads import detect_format  # structure walk: chunks, CRCs, markers

    detected = detect_format(data)
    if detected is None or detected.name not in ("png", "jpeg"):
        raise refused
    try:
        from PIL import Image
    except ImportError:  # no Pillow: magic bytes and the structure walk above only
        return data, extension
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != pil_format:
                raise refused
            width, height = image.size
            if not (0 < width <= MAX_PIXELS and 0 < height <= MAX_PIXELS):
                raise DesignError(
                    _l("The image may be at most %(n)d pixels wide and high.", n=MAX_PIXELS),
                    field,
                )
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # a real decode: truncated or corrupt pixel data fails here
    except DesignError:
        raise
    except Exception as exc:  # PIL raises many kinds for damaged files
        raise refused from exc
    return data, extension


def check_months(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        months = int(value)
    except (TypeError, ValueError):
        months = 0
    if not MIN_MONTHS <= months <= MAX_MONTHS:
        raise DesignError(
            _l(
                "Between %(low)d and %(high)d months, or empty for no expiry.",
                low=MIN_MONTHS,
                high=MAX_MONTHS,
            ),
            "months",
        )
    return months


def _store_image(consortium_id: int, name: str, data: bytes, extension: str) -> str:
    key = f"certificate-designs/{consortium_id}/{name}-{secrets.token_hex(12)}.{extension}"
    storage().save(key, data)
    return key


# --- changing -----------------------------------------------------------------------------------


def create_design(
    actor,
    consortium,
    *,
    course_id: int | None,
    name: str,
    texts: dict,
    primary_color: str,
    accent_color: str,
    images: dict | None = None,
) -> CertificateTemplate:
    """A new design for the consortium (course_id None) or one of its courses.

    `images` maps "logo"/"seal" to uploaded bytes. Everything is checked before anything is
    stored or added to the session.
    """
    if course_id is not None and get_course(consortium, course_id) is None:
        raise DesignError(_l("Choose one of the consortium's courses."), "place")
    taken = db.session.scalars(
        select(CertificateTemplate.id).where(
            CertificateTemplate.consortium_id == consortium.id,
            CertificateTemplate.course_id.is_(None)
            if course_id is None
            else CertificateTemplate.course_id == course_id,
        )
    ).first()
    if taken is not None:
        raise DesignError(_l("This place already has a design: edit that one instead."), "place")
    values = check_values(name, texts, primary_color, accent_color)
    checked = {k: check_image(v, k) for k, v in (images or {}).items() if v}
    design = CertificateTemplate(consortium_id=consortium.id, course_id=course_id, **values)
    for image_name, (data, extension) in checked.items():
        setattr(
            design, f"{image_name}_path", _store_image(consortium.id, image_name, data, extension)
        )
    db.session.add(design)
    db.session.flush()
    record_action(
        actor,
        "design.create",
        design,
        consortium_id=consortium.id,
        details={"course_id": course_id},
    )
    return design


def update_design(
    actor,
    design: CertificateTemplate,
    *,
    name: str,
    texts: dict,
    primary_color: str,
    accent_color: str,
    images: dict | None = None,
    remove: tuple[str, ...] = (),
) -> None:
    """Change a design; `images` replaces the logo/seal, `remove` drops them."""
    values = check_values(name, texts, primary_color, accent_color)
    checked = {k: check_image(v, k) for k, v in (images or {}).items() if v}
    for key, value in values.items():
        setattr(design, key, value)
    changed = []
    for image_name in IMAGES:
        if image_name in checked:
            data, extension = checked[image_name]
            key = _store_image(design.consortium_id, image_name, data, extension)
            setattr(design, f"{image_name}_path", key)
            changed.append(image_name)
        elif image_name in remove and getattr(design, f"{image_name}_path"):
            setattr(design, f"{image_name}_path", None)
            changed.append(f"-{image_name}")
    db.session.flush()
    record_action(
        actor,
        "design.update",
        design,
        consortium_id=design.consortium_id,
        details={"course_id": design.course_id, "images": changed},
    )


def delete_design(actor, design: CertificateTemplate) -> None:
    """Remove a design; its place falls back to the consortium's design or the default.
    Issued certificates keep their stored PDF (and are re-rendered with the fallback only if
    their PDF is missing)."""
    record_action(
        actor,
        "design.delete",
        design,
        consortium_id=design.consortium_id,
        details={"course_id": design.course_id},
    )
    db.session.delete(design)
    db.session.flush()


@dataclass(frozen=True)
class ValidityImpact:
    """What a course's new certificate validity means, shown before it is saved.

    Certificates already issued keep their expiry date: it is printed on their signed PDF and
    in their Open Badge, so recomputing it would make the registry contradict the documents
    people hold (and silently expire certificates they rely on). Certificates issued from now
    on count the new validity from their day of issue (service.expiry_for), so none is
    expired when it is issued.
    """

    months: int | None  # the new validity (None: no expiry)
    issued: int  # live (not revoked) certificates of the course: they keep their expiry
    would_be_expired: int  # of those, how many the new validity would have expired by now
    awaiting: int  # completions without any certificate yet: theirs follow the new validity


def validity_impact(course: Course, months, today: date | None = None) -> ValidityImpact:
    """How the validity `months` would bear on the course's certificates (nothing changes)."""
    months = check_months(months)
    today = today or local_today()
    issued_at = db.session.scalars(
        select(Certificate.issued_at).where(
            Certificate.course_id == course.id, Certificate.revoked_at.is_(None)
        )
    ).all()
    would_be_expired = 0
    if months is not None:
        would_be_expired = sum(
            1 for moment in issued_at if service._add_months(local_date(moment), months) < today
        )
    awaiting = db.session.scalar(
        select(func.count())
        .select_from(Enrollment)
        .where(
            Enrollment.course_id == course.id,
            Enrollment.status == "completed",
            ~select(Certificate.id).where(Certificate.enrollment_id == Enrollment.id).exists(),
        )
    )
    return ValidityImpact(months, len(issued_at), would_be_expired, awaiting or 0)


def set_certificate_months(actor, course: Course, months) -> None:
    """How long the course's certificates are valid (None: no expiry), counted from each
    certificate's day of issue. Applies to certificates issued from now on; those already
    issued keep their expiry date (see ValidityImpact)."""
    months = check_months(months)
    if course.certificate_months == months:
        return
    course.certificate_months = months
    db.session.flush()
    record_action(
        actor,
        "design.validity",
        course,
        consortium_id=course.consortium_id,
        details={"months": months},
    )


def check_values(name, texts, primary_color, accent_color) -> dict:
    return {
        "name": check_name(name),
        "texts": check_texts(texts),
        "primary_color": check_color(primary_color, "primary_color"),
        "accent_color": check_color(accent_color, "accent_color"),
    }


# --- preview ------------------------------------------------------------------------------------


# Fixed, so previews of one design are alike; as likely to be a real code as any other guess.
SAMPLE_CODE = "7K3MQ9XD2RTB"


def sample_certificate(consortium, lang: str = "zh", course_title: str | None = None):
    """A stand-in for a Certificate with the attributes service.context reads."""
    today = date.today()
    return SimpleNamespace(
        serial=make_serial(consortium.code, today.year, 1),
        public_code=SAMPLE_CODE,
        data={
            "name": "张三丰",
            "locale": "en" if lang == "en" else "zh_CN",
            "course": course_title
            or ("Safe Work at Height" if lang == "en" else "高处作业安全培训"),
            "course_slug": "sample",
            "version": 1,
            "hours": 16,
            "skills": [
                {"id": "sample_1", "zh": "高处作业安全防护", "en": "Fall protection", "level": 2},
                {"id": "sample_2", "zh": "脚手架搭设", "en": "Scaffold erection", "level": 3},
            ],
            "consortium": consortium.name,
            "firm": "示例建筑有限公司" if lang != "en" else "Sample Construction Co., Ltd.",
            "completed_on": today.isoformat(),
            "expires_on": None,
        },
    )


def preview_pdf(
    consortium,
    design,
    *,
    lang: str = "zh",
    course_title: str | None = None,
    extra_images: dict | None = None,
) -> bytes:
    """A sample certificate in `design` (None: the default design), as real ones are made.

    `design` may be an unsaved CertificateTemplate (form values over a saved design's images);
    `extra_images` ({"logo": (bytes, mime)}, already checked) replace stored ones.
    """
    cert = sample_certificate(consortium, lang, course_title)
    colors, images = service.design_assets(design)
    images.update(extra_images or {})
    html = render.render_html(service.context(cert, design, images))
    return render.render_pdf(html, colors=colors, images=images)
