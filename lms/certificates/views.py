"""Certificates: public verification (page, JSON, Open Badges 2.0), a worker's own
certificates and their PDFs, a firm's and a consortium's certificates, revocation."""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from flask_login import current_user
from sqlalchemy import or_, select

from lms.auth.models import User
from lms.certificates import service, signing
from lms.certificates.codes import format_code
from lms.certificates.forms import RevokeForm, VerifyForm
from lms.certificates.models import Certificate
from lms.certificates.serials import is_serial
from lms.core.access import public, signed_in
from lms.core.codes import mask_mobile
from lms.core.params import int_arg, page_arg
from lms.core.storage import storage
from lms.core.types import local_date
from lms.courses.models import Course, CourseVersion
from lms.extensions import db, limiter
from lms.jobs.exports import csv_response
from lms.jobs.service import enqueue_task, queued_mode
from lms.permissions import needs, require
from lms.tenancy.models import Consortium, Firm
from lms.tenancy.scope import current_scope

bp = Blueprint("certificates", __name__)

# Every public look-up (page, JSON, badges) shares one budget per address, so switching
# endpoints doesn't multiply the guesses an address can make.
PUBLIC_LIMIT = "30 per minute"
public_limit = limiter.shared_limit(PUBLIC_LIMIT, scope="certificates-public")
STATUSES = ("valid", "expired", "revoked")
OB_CONTEXT = "https://w3id.org/openbadges/v2"


def _page() -> int:
    return page_arg()


# --- public verification ---------------------------------------------------------------------


def _verify_page(cert: Certificate | None = None, form=None, *, not_found: bool = False):
    """The verification page: a certificate, or the form asking for its number and code.

    Without a certificate nothing of the request is echoed (not even the path in the language
    switcher), so every serial, and every code that opens nothing, gives the same page.
    """
    if cert is None:
        form = form if form is not None else VerifyForm(formdata=None)
        page = render_template(
            "certificates/verify.html",
            cert=None,
            form=form,
            not_found=not_found,
            request_path=url_for("certificates.verify_lookup"),
        )
        return page, 404 if not_found else 200
    return render_template(
        "certificates/verify.html",
        cert=cert,
        code=format_code(cert.public_code),
        masked=service.mask_name(cert.data["name"]),
        **_signature(cert),
    )


def _signature(cert: Certificate) -> dict:
    """The fingerprint of the key that signed the certificate's PDF (readers compare it with
    the signature details their PDF reader shows), and whether the consortium signs with
    another key now. A certificate whose PDF is still to be made will be signed with the
    current key; one signed before fingerprints were recorded shows none rather than a guess."""
    current = signing.fingerprint_hex(cert.consortium_id)
    stored = cert.signing_fingerprint or (current if cert.pdf_sha256 is None else None)
    return {
        "fingerprint": signing.format_fingerprint(stored),
        "key_rotated": bool(stored and current and stored != current),
    }


@bp.route("/verify", methods=["GET", "POST"])
@public
@public_limit
def verify_lookup():
    """Typing in a certificate: its number and its verification code, both as printed."""
    form = VerifyForm()
    if not form.validate_on_submit():
        return _verify_page(form=form)  # the form, or what is missing from it
    cert = service.find_by_serial_and_code(form.serial.data, form.code.data)
    if cert is None:
        return _verify_page(form=form, not_found=True)
    return redirect(url_for("certificates.verify", code=cert.public_code), 303)


@bp.get("/verify/<code>")
@public
@public_limit
def verify(code: str):
    """Valid / expired / revoked, with the name masked; only the code opens a certificate.

    A serial in the address (the links of PDFs issued before codes) gets the form asking for
    the code, the same page whatever the serial; a code that opens nothing gets "not found".
    """
    if is_serial(code):
        return _verify_page()
    cert = service.find_by_code(code)
    if cert is None:
        return _verify_page(not_found=True)
    return _verify_page(cert)


def _not_found_json():
    return jsonify({"status": "not_found"}), 404


def _iso(value) -> str | None:
    """A date as ISO text; a moment as its date where the consortium is (not UTC's)."""
    if value is None:
        return None
    return (local_date(value) if isinstance(value, datetime) else value).isoformat()


@bp.get("/verify/<code>.json")
@public
@public_limit
def verify_json(code: str):
    """The verification page as data: nothing personal beyond the masked name."""
    cert = None if is_serial(code) else service.find_by_code(code)
    if cert is None:
        return _not_found_json()
    issuer = cert.data.get("consortium")
    if cert.data.get("firm"):
        issuer = f"{issuer} · {cert.data['firm']}"
    doc = {
        "serial": cert.serial,
        "status": cert.status(),
        "holder": service.mask_name(cert.data["name"]),
        "course": cert.data.get("course"),
        "completed_on": _iso(cert.completed_on),
        "expires_on": _iso(cert.expires_on),
        "revoked_on": _iso(cert.revoked_at),
        "issuer": issuer,
    }
    if cert.revoked_at is None:
        signature = _signature(cert)
        doc["signing_fingerprint"] = signature["fingerprint"]
        doc["key_rotated"] = signature["key_rotated"]
    if cert.revoked_at is not None:
        # As the page says: whether a newer certificate was issued for the same completion
        # (its number and code stay with the holder).
        doc["replaced"] = cert.replaced_by_id is not None
    return jsonify(doc)


# --- Open Badges 2.0 (hosted verification) ----------------------------------------------------


def _ld(doc: dict):
    response = jsonify(doc)
    response.mimetype = "application/ld+json"
    return response


def _recipient(cert: Certificate, user: User) -> dict:
    """The IdentityObject: the holder's e-mail, hashed with the certificate's own random salt;
    without an e-mail, the certificate's verification address (public anyway).

    Never a hash of a phone number or of anything else with few possible values: with the salt
    published beside it, every candidate could be hashed and compared in minutes.
    """
    if user.email:
        identity = user.email.strip().lower()
        digest = hashlib.sha256((identity + cert.badge_salt).encode()).hexdigest()
        return {
            "type": "email",
            "hashed": True,
            "salt": cert.badge_salt,
            "identity": f"sha256${digest}",
        }
    return {"type": "url", "hashed": False, "identity": service.verify_url(cert)}


@bp.get("/badges/assertions/<code>")
@public
@public_limit
def badge_assertion(code: str):
    cert = db.session.scalars(
        select(Certificate).where(Certificate.verification_code == code)
    ).first()
    if cert is None:
        return _not_found_json()
    assertion_id = url_for("certificates.badge_assertion", code=code, _external=True)
    if cert.revoked_at is not None:
        return _revoked_assertion(cert, assertion_id)
    course = cert.course
    consortium = db.session.get(Consortium, cert.consortium_id)
    doc = {
        "@context": OB_CONTEXT,
        "type": "Assertion",
        "id": assertion_id,
        "badge": url_for(
            "certificates.badge_class", code=consortium.code, slug=course.slug, _external=True
        ),
        "verification": {"type": "HostedBadge"},
        "issuedOn": cert.issued_at.isoformat(),
        "evidence": service.verify_url(cert),
        "recipient": _recipient(cert, cert.user),
    }
    if cert.expires_on is not None:
        doc["expires"] = f"{cert.expires_on.isoformat()}T23:59:59+08:00"
    return _ld(doc)


def _revoked_assertion(cert: Certificate, assertion_id: str):
    """Open Badges 2.0 hosted verification of a revoked assertion: 410 Gone with the
    revocation. The reason is the public one the verification page gives (revoked by the
    issuer, on a date), not the admin's own words, which stay with the holder and the admins
    as they do on the verification page."""
    reason = _l("Revoked by the issuer on %(date)s.", date=_iso(cert.revoked_at))
    response = jsonify({"id": assertion_id, "revoked": True, "revocationReason": str(reason)})
    response.status_code = 410
    return response


@bp.get("/badges/classes/<code>/<slug>")
@public
@public_limit
def badge_class(code: str, slug: str):
    """A course's BadgeClass, once the course has issued a certificate (drafts stay private)."""
    course = db.session.scalars(
        select(Course)
        .join(Consortium, Consortium.id == Course.consortium_id)
        .where(Consortium.code == code, Course.slug == slug)
    ).first()
    cert = (
        db.session.scalars(
            select(Certificate)
            .where(Certificate.course_id == course.id)
            .order_by(Certificate.issued_at.desc())
        ).first()
        if course is not None
        else None
    )
    if cert is None:
        return _not_found_json()
    version = cert.version
    data = cert.data
    narrative = str(
        _l(
            "Completed every lesson and passed the assessments of the course “%(course)s” "
            "(%(hours)s hours).",
            course=version.title,
            hours=f"{data.get('hours', 0):g}",
        )
    )
    return _ld(
        {
            "@context": OB_CONTEXT,
            "type": "BadgeClass",
            "id": url_for("certificates.badge_class", code=code, slug=slug, _external=True),
            "name": version.title,
            "description": version.summary or version.title,
            "image": url_for("certificates.badge_image", code=code, slug=slug, _external=True),
            "criteria": {"narrative": narrative},
            "issuer": url_for(
                "certificates.badge_issuer", consortium_id=course.consortium_id, _external=True
            ),
            "tags": [s["zh"] for s in data.get("skills", [])]
            + [s["en"] for s in data.get("skills", []) if s.get("en") and s["en"] != s["zh"]],
        }
    )


@bp.get("/badges/classes/<code>/<slug>/image.svg")
@public
@public_limit
def badge_image(code: str, slug: str):
    """The badge's picture: the course title on a seal, drawn from a template."""
    course = db.session.scalars(
        select(Course)
        .join(Consortium, Consortium.id == Course.consortium_id)
        .where(Consortium.code == code, Course.slug == slug)
    ).first()
    version = (
        db.session.scalars(
            select(CourseVersion)
            .join(Certificate, Certificate.version_id == CourseVersion.id)
            .where(Certificate.course_id == course.id)
            .order_by(Certificate.issued_at.desc())
        ).first()
        if course is not None
        else None
    )
    if version is None:
        abort(404)
    svg = render_template("certificates/badge.svg", title=version.title, code=code)
    return current_app.response_class(svg, mimetype="image/svg+xml")


@bp.get("/badges/issuers/<int:consortium_id>")
@public
@public_limit
def badge_issuer(consortium_id: int):
    consortium = db.session.get(Consortium, consortium_id)
    issued = (
        consortium is not None
        and db.session.scalars(
            select(Certificate.id).where(Certificate.consortium_id == consortium.id).limit(1)
        ).first()
    )
    if not issued:
        return _not_found_json()
    return _ld(
        {
            "@context": OB_CONTEXT,
            "type": "Issuer",
            "id": url_for("certificates.badge_issuer", consortium_id=consortium.id, _external=True),
            "name": consortium.name,
            "url": current_app.config.get("LMS_BASE_URL") or url_for("home.index", _external=True),
        }
    )


# --- a worker's own ------------------------------------------------------------------------


@bp.get("/certificates")
@signed_in
def my_certificates():
    certs = db.session.scalars(
        select(Certificate)
        .where(Certificate.user_id == current_user.id)
        .order_by(Certificate.issued_at.desc())
    ).all()
    return render_template("certificates/mine.html", certs=certs, format_code=format_code)


def _viewable_certificate(public_id: str) -> Certificate:
    """A certificate the user may open, else 404: their own (even after leaving the firm), or
    one of a firm or consortium whose reports they see."""
    scope = current_scope()
    cert = scope.get(Certificate, public_id=public_id)
    if cert.user_id != current_user.id:
        place = scope.get_firm(cert.firm_id) if cert.firm_id else None
        require("report.view", place or scope.get_consortium(cert.consortium_id))
    return cert


@bp.get("/certificates/<public_id>.pdf")
@signed_in
def download(public_id: str):
    """The certificate's PDF; a revoked one's is its revocation notice, never the issued file."""
    cert = _viewable_certificate(public_id)
    if cert.revoked_at is not None:
        path = cert.revocation_pdf_path
        if not path or not storage().exists(path):
            # Revoked before notices existed, or the render failed when it was revoked: made
            # once now, as a missing issued PDF is below.
            service.store_revocation_pdf(cert)
            db.session.commit()
        return storage().send(
            cert.revocation_pdf_path,
            mimetype="application/pdf",
            download_name=f"{cert.serial}-revoked.pdf",
            as_attachment=True,
        )
    if not service.has_pdf(cert):
        if queued_mode():
            # Being made by a worker (issued a moment ago, or its file lost): ask it again
            # rather than render inside this request.
            enqueue_task(service.RENDER_TASK, cert.id)
            title = _l("The certificate PDF is being prepared")
            text = _l("It will be ready in a moment: try again in a few seconds.")
            page = render_template("errors/error.html", code=503, title=title, text=text)
            return page, 503, {"Retry-After": "5", "Refresh": "5"}
        try:  # the embedded mode has no worker: made now, once
            cert = service.ensure_pdf(cert.id)
        except signing.MissingKeyError as exc:  # a restore without the key folder
            title = _l("The certificate PDF cannot be made now")
            page = render_template("errors/error.html", code=503, title=title, text=exc.message)
            return page, 503
    return storage().send(
        cert.pdf_path,
        mimetype="application/pdf",
        download_name=f"{cert.serial}.pdf",
        as_attachment=True,
    )


# --- firm and consortium lists ------------------------------------------------------------


def _filtered(query, *, search: str, status: str, today: date):
    if search:
        like = f"%{search.strip()}%"
        query = query.where(
            or_(
                Certificate.serial.ilike(like),
                CourseVersion.title.ilike(like),
                Course.slug.ilike(like),
                User.name.ilike(like),
            )
        )
    if status == "revoked":
        query = query.where(Certificate.revoked_at.is_not(None))
    elif status == "expired":
        query = query.where(
            Certificate.revoked_at.is_(None),
            Certificate.expires_on.is_not(None),
            Certificate.expires_on < today,
        )
    elif status == "valid":
        query = query.where(
            Certificate.revoked_at.is_(None),
            or_(Certificate.expires_on.is_(None), Certificate.expires_on >= today),
        )
    return query


def _listing(*, consortium_id: int, firm_id: int | None):
    search = request.args.get("q", "").strip()[:100]
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    query = (
        select(Certificate)
        .join(User, User.id == Certificate.user_id)
        .join(CourseVersion, CourseVersion.id == Certificate.version_id)
        .join(Course, Course.id == Certificate.course_id)
        .where(Certificate.consortium_id == consortium_id)
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
    )
    if firm_id is not None:
        query = query.where(Certificate.firm_id == firm_id)
    query = _filtered(query, search=search, status=status, today=date.today())
    return query, {"q": search, "status": status}


def _status_label(status: str) -> str:
    return {
        "valid": pgettext("certificate", "Valid"),
        "expired": pgettext("certificate", "Expired"),
        "revoked": pgettext("certificate", "Revoked"),
    }[status]


@bp.get("/firms/<int:firm_id>/certificates")
@needs("report.view", on="firm")
def firm_certificates(firm: Firm):
    query, filters = _listing(consortium_id=firm.consortium_id, firm_id=firm.id)
    page = db.paginate(
        query, page=_page(), per_page=current_app.config["LMS_PAGE_SIZE"], error_out=False
    )
    return render_template(
        "certificates/firm_list.html",
        firm=firm,
        page=page,
        filters=filters,
        statuses=STATUSES,
        status_label=_status_label,
    )


@bp.get("/consortia/<int:consortium_id>/certificates")
@needs("report.view", on="consortium")
def consortium_certificates(consortium: Consortium):
    firm_id = int_arg("firm")
    firms = db.session.scalars(
        select(Firm).where(Firm.consortium_id == consortium.id).order_by(Firm.name)
    ).all()
    if firm_id not in {f.id for f in firms}:
        firm_id = None
    query, filters = _listing(consortium_id=consortium.id, firm_id=firm_id)
    if request.args.get("format") == "csv":
        names = {f.id: f.name for f in firms}
        return csv_response(
            f"certificates-{consortium.code}.csv",
            [
                _l("Certificate no."),
                pgettext("person", "Name"),
                _l("Mobile"),
                _l("Firm"),
                _l("Course"),
                _l("Completed on"),
                _l("Valid until"),
                _l("Status"),
                _l("Revoked on"),
                _l("Reason for revoking"),
            ],
            (
                [
                    c.serial,
                    c.user.name,
                    mask_mobile(c.user.mobile),
                    names.get(c.firm_id, ""),
                    c.data.get("course", ""),
                    c.completed_on.isoformat(),
                    c.expires_on.isoformat() if c.expires_on else "",
                    _status_label(c.status()),
                    _iso(c.revoked_at) or "",
                    c.revoke_reason or "",
                ]
                for c in db.session.scalars(query)
            ),
        )
    page = db.paginate(
        query, page=_page(), per_page=current_app.config["LMS_PAGE_SIZE"], error_out=False
    )
    return render_template(
        "certificates/consortium_list.html",
        consortium=consortium,
        firms=firms,
        firm_names={f.id: f.name for f in firms},
        page=page,
        filters={**filters, "firm": firm_id or ""},
        statuses=STATUSES,
        status_label=_status_label,
    )


@bp.route("/consortia/<int:consortium_id>/certificates/<public_id>/revoke", methods=["GET", "POST"])
@needs("certificate.manage", on="consortium")
def revoke(consortium: Consortium, public_id: str):
    cert = current_scope().get(Certificate, public_id=public_id, within=consortium)
    back = url_for("certificates.consortium_certificates", consortium_id=consortium.id)
    form = RevokeForm()
    if cert.revoked_at is None and form.validate_on_submit():
        try:
            service.revoke(current_user, cert, form.reason.data)
        except service.CertificateError as error:
            db.session.rollback()
            form.reason.errors.append(error.message)
        else:
            db.session.commit()
            flash(_l("Certificate %(serial)s is revoked.", serial=cert.serial), "success")
            return redirect(back)
    elif cert.revoked_at is not None and request.method == "POST":
        # A second submit of the same form: already done, nothing changes.
        flash(_l("Certificate %(serial)s is revoked.", serial=cert.serial), "success")
        return redirect(back)
    return render_template(
        "certificates/revoke.html",
        consortium=consortium,
        cert=cert,
        form=form,
        back=back,
        masked_mobile=mask_mobile(cert.user.mobile),
    )


# --- bulk issuing (a background job ending with a ZIP) -------------------------------------


@bp.route("/consortia/<int:consortium_id>/certificates/bulk", methods=["GET", "POST"])
@needs("certificate.manage", on="consortium")
def bulk(consortium: Consortium):
    """Issue the missing certificates of a course's completers (all, or one firm's)."""
    from lms.certificates.bulk import KIND
    from lms.certificates.forms import BulkIssueForm
    from lms.core.forms import choices
    from lms.courses.service import published_versions
    from lms.jobs.service import start_job
    from lms.tenancy.scope import list_firms

    versions = published_versions(consortium)
    firms = db.session.scalars(list_firms(consortium, include_inactive=True)).all()
    form = BulkIssueForm()
    form.course.choices = choices(
        [("", _l("Choose a course"))] + [(str(v.course_id), v.title) for v in versions]
    )
    form.firm.choices = choices([("", _l("Choose a firm"))] + [(str(f.id), f.name) for f in firms])
    if form.validate_on_submit():
        firm = None
        if form.target.data == "firm":
            firm = next((f for f in firms if str(f.id) == form.firm.data), None)
            if firm is None:
                form.firm.errors.append(_l("Choose a firm."))
        if not form.firm.errors:
            job = start_job(
                KIND,
                actor=current_user,
                consortium=consortium,
                firm=firm,
                params={"course": int(form.course.data), "firm": firm.id if firm else None},
            )
            return redirect(url_for("jobs.job_page", public_id=job.public_id))
    return render_template("certificates/bulk.html", consortium=consortium, form=form)


@bp.get("/jobs/<public_id>/certificates.zip")
@signed_in
def bulk_zip(public_id: str):
    """The ZIP of a bulk job: only for the job's starter, for a limited time."""
    from lms.certificates.bulk import KIND, ZIP_HOURS, zip_expired
    from lms.jobs.service import get_job_for

    job = get_job_for(current_user, public_id)
    if job is None or job.kind != KIND or job.state != "done" or not job.result.get("zip"):
        abort(404)
    if zip_expired(job) or not storage().exists(job.result["zip"]):
        text = _l(
            "This download link has expired (links are valid for %(hours)d hours). "
            "Start the bulk issue again to get a new one: nothing is issued twice.",
            hours=ZIP_HOURS,
        )
        return render_template(
            "errors/error.html", code=410, title=_l("Link expired"), text=text
        ), 410
    return storage().send(
        job.result["zip"],
        mimetype="application/zip",
        download_name=f"certificates-{job.public_id}.zip",
        as_attachment=True,
    )


# --- a trainer, after a practical assessment -----------------------------------------------


@bp.post("/courses/<slug>/learners/<enrollment_id>/certificate")
@needs("course.author")
def trainer_issue(slug: str, enrollment_id: str):
    """A trainer of the course's firm issues the certificate of a completed enrolment, also
    a new one after its certificate was revoked."""
    from lms.learning.models import Enrollment

    course = current_scope().get(Course, slug=slug)
    require("course.author", course.firm)  # as sign-off: the trainers' call
    enrollment = db.session.scalars(
        select(Enrollment).where(
            Enrollment.public_id == enrollment_id,
            Enrollment.course_id == course.id,
            Enrollment.withdrawn_at.is_(None),
        )
    ).first()
    if enrollment is None:
        abort(404)
    back = url_for("assignments.course_learners", slug=slug)
    name = enrollment.user.name
    existing = service.live_certificate_of(enrollment)
    if existing is not None:
        # Also the second of a double submit: the first one issued it.
        flash(
            _l("%(name)s already has certificate %(serial)s.", name=name, serial=existing.serial),
            "info",
        )
    elif enrollment.status != "completed":
        flash(
            _l("%(name)s has not completed the course yet: no certificate issued.", name=name),
            "error",
        )
    else:
        revoked = service.certificate_of(enrollment)  # the revoked one it replaces, if any
        cert = service.issue(enrollment, source="trainer", actor=current_user)
        db.session.commit()
        if revoked is not None and revoked.id != cert.id:
            flash(
                _l(
                    "Certificate %(serial)s issued to %(name)s in place of the revoked "
                    "certificate %(old)s.",
                    serial=cert.serial,
                    name=name,
                    old=revoked.serial,
                ),
                "success",
            )
        else:
            flash(
                _l("Certificate %(serial)s issued to %(name)s.", serial=cert.serial, name=name),
                "success",
            )
    return redirect(back)
