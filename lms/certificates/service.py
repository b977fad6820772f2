"""Issuing, rendering, verifying and revoking certificates (the only place that changes them)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, timedelta

from flask import url_for
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from lms.audit.service import record_action
from lms.certificates import render, signing
from lms.certificates.codes import format_code, is_code, new_code, normalize_code
from lms.certificates.models import Certificate, CertificateTemplate, SerialCounter
from lms.certificates.serials import is_valid, make_serial, normalize
from lms.core.storage import storage
from lms.core.types import local_date, utcnow
from lms.extensions import db
from lms.jobs.service import after_commit
from lms.taxonomy.models import LEVEL_NAMES, Skill
from lms.tenancy.models import Consortium

log = logging.getLogger(__name__)

# The tasks that follow a commit (lms.jobs.service.after_commit), registered by create_app.
RENDER_TASK = "certificates.render"
REVOCATION_TASK = "certificates.render_revocation"
SWEEP_TASK = "certificates.render_missing"


# Inside `pdfs_on_first_download()` issuing queues no render: the PDF is made by the sweep
# (render_missing), the first download or the bulk ZIP. For the demo data, which issues dozens
# at once from the command line.
_PDFS_LATER: ContextVar[bool] = ContextVar("certificate_pdfs_later", default=False)


@contextmanager
def pdfs_on_first_download() -> Iterator[None]:
    """Certificates issued inside the block get their PDF when first downloaded (or zipped),
    not at once: many issued in one go (the demo data) don't wait for dozens of renders."""
    token = _PDFS_LATER.set(True)
    try:
        yield
    finally:
        _PDFS_LATER.reset(token)


class CertificateError(ValueError):
    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message, self.field = message, field


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def next_serial(consortium, year: int) -> str:
    """The consortium's next serial of `year`; the counter row is updated in this transaction,
    so concurrent issuers wait for each other instead of sharing a number."""
    try:
        with db.session.begin_nested():
            db.session.execute(
                insert(SerialCounter).values(consortium_id=consortium.id, year=year, value=0)
            )
    except IntegrityError:
        pass  # the year's counter exists
    value = db.session.execute(
        update(SerialCounter)
        .where(SerialCounter.consortium_id == consortium.id, SerialCounter.year == year)
        .values(value=SerialCounter.value + 1)
        .returning(SerialCounter.value)
    ).scalar_one()
    return make_serial(consortium.code, year, value)


def unused_code() -> str:
    """A verification code no certificate has (a clash of 60 random bits is all but
    impossible; the unique constraint backs this check)."""
    while True:
        code = new_code()
        if find_by_code(code) is None:
            return code


def certificate_for(user_id: int, version_id: int) -> Certificate | None:
    """The worker's latest certificate of a course version (recertified ones come later)."""
    return db.session.scalars(
        select(Certificate)
        .where(Certificate.user_id == user_id, Certificate.version_id == version_id)
        .order_by(Certificate.id.desc())
    ).first()


def certificate_of(enrollment) -> Certificate | None:
    """The latest certificate of one completion (an enrolment), revoked or not."""
    return db.session.scalars(
        select(Certificate)
        .where(Certificate.enrollment_id == enrollment.id)
        .order_by(Certificate.id.desc())
    ).first()


def live_certificate_of(enrollment) -> Certificate | None:
    """The enrolment's certificate that is not revoked (at most one: a partial unique index)."""
    return db.session.scalars(
        select(Certificate).where(
            Certificate.enrollment_id == enrollment.id, Certificate.revoked_at.is_(None)
        )
    ).first()


def expiry_for(course, issued_on: date) -> date | None:
    """The expiry of a certificate of `course` issued on `issued_on`: the course's validity
    counts from the day of issue, so a certificate is never expired when it is issued (also
    when it is issued long after the completion, or after the validity was shortened)."""
    return _add_months(issued_on, course.certificate_months) if course.certificate_months else None


def issue(enrollment, *, source: str = "completion", actor=None) -> Certificate:
    """The certificate of a completed enrolment: issued once, whatever the number of calls.

    While the enrolment has a live (not revoked) certificate, that one is returned. After a
    revocation a new certificate is issued (a new serial and code) in place of the revoked
    one, which stays in the registry, revoked, naming its replacement. Two racing calls both
    try to insert; the partial unique index (one live certificate per enrolment) lets one win
    and the other returns the winner's certificate.
    """
    existing = live_certificate_of(enrollment)
    if existing is not None:
        return existing
    if enrollment.status != "completed" and source == "completion":
        raise CertificateError(_("The course is not completed."))
    previous = certificate_of(enrollment)  # revoked, if there is one
    version = enrollment.version
    course = version.course
    consortium = course.consortium
    # The day of completion where the learner is (a UTC date is a day early before 08:00).
    completed = local_date(enrollment.completed_at or utcnow())
    now = utcnow()
    cert = Certificate(
        serial=next_serial(consortium, completed.year),
        public_code=unused_code(),
        verification_code=secrets.token_urlsafe(24),  # 192 bits
        consortium_id=consortium.id,
        firm_id=enrollment.firm_id,
        user_id=enrollment.user_id,
        course_id=course.id,
        version_id=version.id,
        enrollment_id=enrollment.id,
        source=source,
        issued_by_id=actor.id if actor is not None else None,
        issued_at=now,
        completed_on=completed,
        expires_on=expiry_for(course, local_date(now)),
    )
    cert.data = snapshot(cert, enrollment)
    try:
        with db.session.begin_nested():
            db.session.add(cert)
            db.session.flush()
    except IntegrityError:
        winner = live_certificate_of(enrollment)
        if winner is None:
            raise
        return winner
    if previous is not None and previous.replaced_by_id is None:
        previous.replaced_by_id = cert.id
        db.session.flush()
    if source != "completion":
        # Issued by a trainer (practical assessment) or in bulk: the certificate is the
        # evidence (recorded once per enrolment). On completion the course evidence already
        # says the same.
        from lms.skills.service import record_course_evidence

        record_course_evidence(enrollment, "certificate", recorded_by=actor)
    if not _PDFS_LATER.get():
        # Rendered and signed by a worker once this transaction has committed: never inside
        # the completing request, never while the serial counter's row is locked.
        after_commit(RENDER_TASK, cert.id)
    details = {"serial": cert.serial, "source": source, "course": course.slug}
    if previous is not None:
        details["replaces"] = previous.serial
    record_action(actor, "certificate.issue", cert, consortium_id=consortium.id, details=details)
    from lms.certificates.lifecycle import notify_issued

    notify_issued(cert)
    return cert


def snapshot(cert: Certificate, enrollment) -> dict:
    """Everything the certificate prints, as plain data, fixed at issue time."""
    version = enrollment.version
    user = enrollment.user
    firm = (
        db.session.get(type(version.course.firm), enrollment.firm_id)
        if enrollment.firm_id
        else None
    )
    skills = {s.id: s for s in db.session.scalars(select(Skill))}
    return {
        "name": user.name,
        "locale": user.locale or "zh_CN",
        "course": version.title,
        "course_slug": version.course.slug,
        "version": version.version,
        "hours": float(version.hours or 0),
        "skills": [
            {
                "id": s.skill_id,
                "zh": skills[s.skill_id].name_zh if s.skill_id in skills else s.skill_id,
                "en": skills[s.skill_id].name_en if s.skill_id in skills else s.skill_id,
                "level": s.level,
            }
            for s in version.skill_levels
        ],
        "consortium": version.course.consortium.name,
        "firm": firm.name if firm else None,
        "completed_on": cert.completed_on.isoformat(),
        "expires_on": cert.expires_on.isoformat() if cert.expires_on else None,
    }


def template_for(cert: Certificate) -> CertificateTemplate | None:
    """The course's own design, else the consortium's, else None (the default files)."""
    rows = db.session.scalars(
        select(CertificateTemplate).where(
            CertificateTemplate.consortium_id == cert.consortium_id,
            (CertificateTemplate.course_id == cert.course_id)
            | CertificateTemplate.course_id.is_(None),
        )
    ).all()
    return next((t for t in rows if t.course_id), None) or next(iter(rows), None)


def public_url(endpoint: str, **values) -> str:
    """An absolute address of the site (LMS_BASE_URL when set: jobs have no request)."""
    from flask import current_app, has_request_context

    base = current_app.config.get("LMS_BASE_URL")
    if base or not has_request_context():
        with current_app.test_request_context(base_url=base or "http://localhost"):
            return url_for(endpoint, **values, _external=True)
    return url_for(endpoint, **values, _external=True)


def verify_url(cert: Certificate) -> str:
    """The certificate's public verification address: by its code, never by its serial."""
    return public_url("certificates.verify", code=cert.public_code)


def _locale(cert) -> str:
    return "en" if str(cert.data.get("locale", "")).startswith("en") else "zh_CN"


def revocation_stamp(cert: Certificate) -> dict:
    """What the revocation notice prints over the certificate: the date and the reason, in
    the recipient's language (the mark itself, "REVOKED / 已撤销", is in both)."""
    with force_locale(_locale(cert)):
        revoked = format_date(local_date(cert.revoked_at), "long")
        return {
            "mark": "REVOKED / 已撤销",
            "date_label": _("Revoked on %(date)s", date=revoked),
            "reason_label": _("Reason: %(reason)s", reason=cert.revoke_reason or ""),
        }


def context(
    cert: Certificate, design: CertificateTemplate | None, images: dict, *, stamp=None
) -> dict:
    """The template's context, in the recipient's language, from the stored snapshot;
    `stamp` (revocation_stamp) prints the certificate as revoked."""
    data = cert.data
    locale = _locale(cert)
    lang = "en" if locale == "en" else "zh"
    texts = dict(render.default_design()["texts"])
    if design is not None:
        texts.update({k: v for k, v in (design.texts or {}).items() if v})
    url = verify_url(cert)
    with force_locale(locale):
        completed = format_date(date.fromisoformat(data["completed_on"]), "long")
        expires = (
            format_date(date.fromisoformat(data["expires_on"]), "long")
            if data.get("expires_on")
            else None
        )
        return {
            "lang": "en" if lang == "en" else "zh-CN",
            "t": {k: (v.get(lang) or v.get("zh") or "") for k, v in texts.items()},
            "name": data["name"],
            "course": data["course"],
            "consortium": data["consortium"],
            "firm": data.get("firm"),
            "hours_label": _("%(hours)s hours", hours=f"{data['hours']:g}"),
            "completed_label": _("Completed on %(date)s", date=completed),
            "expires_label": _("Valid until %(date)s", date=expires) if expires else None,
            "skills": [
                {
                    "name": s[lang],
                    "level": LEVEL_NAMES[s["level"]][0 if lang == "zh" else 1],
                }
                for s in data.get("skills", [])
            ],
            "serial": cert.serial,
            "serial_label": _("Certificate no. %(serial)s", serial=cert.serial),
            "code_label": _("Verification code %(code)s", code=format_code(cert.public_code)),
            "verify_url": url,
            "qr": render.qr_image(url),
            "logo": render.asset_url("logo") if "logo" in images else None,
            "seal": render.asset_url("seal") if "seal" in images else None,
            "revoked": stamp,
        }


def design_assets(design: CertificateTemplate | None) -> tuple[dict, dict]:
    """(colours, images) of a design; images are read from storage."""
    default = render.default_design()
    colors = {
        "primary": design.primary_color if design else default["primary_color"],
        "accent": design.accent_color if design else default["accent_color"],
    }
    images = {}
    for name in ("logo", "seal"):
        key = getattr(design, f"{name}_path", None) if design else None
        if key and storage().exists(key):
            images[name] = (
                storage().read(key),
                "image/png" if key.endswith(".png") else "image/jpeg",
            )
    return colors, images


def _unsigned_pdf(cert: Certificate, *, stamp=None) -> bytes:
    design = template_for(cert)
    colors, images = design_assets(design)
    html = render.render_html(context(cert, design, images, stamp=stamp))
    return render.render_pdf(html, colors=colors, images=images)


def pdf_bytes(cert: Certificate) -> bytes:
    """The certificate's PDF from its stored data, signed by its consortium (PAdES)."""
    return signing.sign_pdf(_unsigned_pdf(cert), db.session.get(Consortium, cert.consortium_id))


def has_pdf(cert: Certificate) -> bool:
    return bool(cert.pdf_path) and storage().exists(cert.pdf_path)


def ensure_pdf(cert_id: int) -> Certificate | None:
    """Render, sign and store the PDF of a certificate that has none (or whose file is lost),
    and return the certificate; ends the caller's transaction.

    Nothing is held while rendering: the inputs are read, the transaction ends (on SQLite,
    where every transaction holds the write lock, other requests go on), the PDF is made, and
    one conditional UPDATE records it. Files are named by their content, so of two renders
    racing (a task and a download) one is recorded and the other file is never referenced.
    Raises render.RenderError, or signing.MissingKeyError when the key is lost."""
    cert = db.session.get(Certificate, cert_id)
    if cert is None or has_pdf(cert):
        return cert
    seen_path, consortium_id, serial = cert.pdf_path, cert.consortium_id, cert.serial
    design = template_for(cert)
    colors, images = design_assets(design)
    html = render.render_html(context(cert, design, images))
    db.session.commit()  # the inputs are read: no transaction while rendering
    unsigned = render.render_pdf(html, colors=colors, images=images)
    pdf = signing.sign_pdf(unsigned, db.session.get(Consortium, consortium_id))
    digest = hashlib.sha256(pdf).hexdigest()
    key = f"certificates/{consortium_id}/{serial}-{digest[:16]}.pdf"
    storage().save(key, pdf)
    unchanged = (
        Certificate.pdf_path.is_(None) if seen_path is None else Certificate.pdf_path == seen_path
    )
    db.session.execute(
        update(Certificate)
        .where(Certificate.id == cert_id, unchanged)
        .values(
            pdf_path=key,
            pdf_sha256=digest,
            signing_fingerprint=signing.fingerprint_hex(consortium_id),  # the key just used
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return db.session.get(Certificate, cert_id)


def render_task(cert_id: int) -> None:
    """The task queued by issue(): the certificate's PDF, made once (a failure is logged; the
    PDF is made by the next sweep or download)."""
    try:
        ensure_pdf(cert_id)
    except signing.MissingKeyError:
        db.session.rollback()  # the signing code logs the lost key (once per process)
    except (render.RenderError, signing.SigningError):
        db.session.rollback()
        log.exception("certificate %s: the PDF could not be rendered", cert_id)


def render_missing(_key=None, *, older_than_seconds: int = 120) -> int:
    """The sweep (Celery beat, every few minutes): PDFs of live certificates that have none, a
    while after they were issued (their own task failed, or was never queued)."""
    before = utcnow() - timedelta(seconds=older_than_seconds)
    ids = db.session.scalars(
        select(Certificate.id)
        .where(
            Certificate.pdf_path.is_(None),
            Certificate.revoked_at.is_(None),
            Certificate.issued_at < before,
        )
        .order_by(Certificate.id)
        .limit(500)
    ).all()
    for cert_id in ids:
        render_task(cert_id)
    return len(ids)


def revocation_pdf_bytes(cert: Certificate) -> bytes:
    """The revocation notice: the certificate as issued, with "REVOKED / 已撤销", the date and
    the reason stamped over every page.

    Deliberately not signed. The consortium's signature is what the verification page tells
    readers to check, and PDF readers show a valid signature as a green tick: a revoked
    certificate must not carry one, not even over a stamp (a reader glancing at the tick, or a
    tool checking signatures only, would take it as valid). The original signature cannot be
    kept either: any change to the file breaks it. What the notice proves comes from the
    verification page its QR code opens, which says revoked."""
    return _unsigned_pdf(cert, stamp=revocation_stamp(cert))


def revocation_task(cert_id: int) -> None:
    """The task queued by revoke(): its notice, rendered once (a failure is logged; the notice
    is rendered when first downloaded)."""
    cert = db.session.get(Certificate, cert_id)
    if cert is None or cert.revoked_at is None:
        return
    if cert.revocation_pdf_path and storage().exists(cert.revocation_pdf_path):
        return
    try:
        store_revocation_pdf(cert)
    except render.RenderError:
        db.session.rollback()
        log.exception("certificate %s: the revocation notice could not be rendered", cert_id)


def store_revocation_pdf(cert: Certificate) -> None:
    """Render the revocation notice once and store it beside the issued PDF (which is kept
    on record and never served again)."""
    pdf = revocation_pdf_bytes(cert)
    key = f"certificates/{cert.consortium_id}/{cert.serial}-revoked.pdf"
    storage().save(key, pdf)
    cert.revocation_pdf_path = key


def revoke(actor, cert: Certificate, reason: str) -> None:
    """Revoke a certificate: its verification page, JSON and Open Badge say so from now on,
    and its holder's PDF becomes the revocation notice (rendered once by a worker after the
    commit, as an issued certificate's PDF is). A new certificate may then be issued for
    the same completion (issue)."""
    reason = (reason or "").strip()
    if not reason:
        raise CertificateError(_("Give the reason for revoking."), field="reason")
    if cert.revoked_at is not None:
        return  # a double submit revokes once
    # Claimed in one statement: of two submits racing, the second finds it revoked and does
    # nothing (one audit record, one notice, one notification).
    claimed = db.session.execute(
        update(Certificate)
        .where(Certificate.id == cert.id, Certificate.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_by_id=actor.id, revoke_reason=reason[:500])
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(cert)
    if not claimed:
        return
    record_action(
        actor,
        "certificate.revoke",
        cert,
        consortium_id=cert.consortium_id,
        details={"serial": cert.serial},
    )
    after_commit(REVOCATION_TASK, cert.id)  # the notice: rendered by a worker, after commit
    from lms.certificates.lifecycle import notify_revoked

    notify_revoked(cert)
    db.session.flush()


def find_by_code(code: str) -> Certificate | None:
    """The certificate of a verification code as typed or scanned, else None."""
    code = normalize_code(code)
    if not is_code(code):
        return None
    return db.session.scalars(select(Certificate).where(Certificate.public_code == code)).first()


def find_by_serial_and_code(serial: str, code: str) -> Certificate | None:
    """The certificate when serial and code belong together, else None: a serial alone
    opens nothing, and a wrong pair looks like a missing one."""
    serial, code = normalize(serial), normalize_code(code)
    if not is_valid(serial) or not is_code(code):
        return None
    return db.session.scalars(
        select(Certificate).where(Certificate.serial == serial, Certificate.public_code == code)
    ).first()


def mask_name(name: str) -> str:
    """张三丰 → 张*丰, 张三 → 张*, Li Na → L***a: enough to match, not to identify."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def connect_signals() -> None:
    from lms.learning.service import course_completed

    course_completed.connect(_on_course_completed, weak=False)


def _on_course_completed(enrollment, **_kw) -> None:
    issue(enrollment)
