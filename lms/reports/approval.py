"""Approval of a closed month's pilot report, its frozen snapshot, the consortium's seal and
the signed PDF (issue 14).

A consortium admin reviews a month that is over (summary.closed_through): the report's data is
computed once in each language (monthly.monthly_context) and kept as a draft snapshot
(MonthlyReport); approving that draft makes it final. From then on the page and the PDF of that
month are drawn from the snapshot, so they say the same whatever happens later. The signed PDF
of each language is rendered once, by the "reports.monthly_pdf" job after the approval is
committed, signed with the consortium's key (lms.certificates.signing, as certificates are) and
kept in storage; downloads serve the stored file. Months not approved are drafts: the page and
PDF show live figures marked "draft — not approved", and their PDF is not signed (a signature
would make a draft look final).

The seal printed on approved reports is the consortium's own (MonthlyReportSetting, uploaded on
the seal page and checked as certificate designs' images are), else the seal of its
consortium-wide certificate design; the seal an approval was made with is kept with it.
"""

from __future__ import annotations

import hashlib
import json
import secrets

from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from lms.audit.service import record_action
from lms.certificates import render, signing
from lms.certificates.designs import MAX_IMAGE, check_image
from lms.certificates.models import CertificateTemplate
from lms.core.storage import storage
from lms.core.types import local_date, utcnow
from lms.extensions import db
from lms.reports import monthly
from lms.reports.models import MonthlyReport, MonthlyReportSetting
from lms.reports.summary import closed_through
from lms.tenancy.models import Consortium

LOCALES = ("zh_CN", "en")
MAX_NOTE = 500
JOB_KIND = "reports.monthly_pdf"
SEAL_MAX_BYTES = MAX_IMAGE
_HTML = "__html__"  # how a Markup value (a chart's SVG) is kept in the snapshot's JSON
CHANGED = _l("The figures were reviewed again meanwhile and changed: check them and approve again.")
_VOLATILE = ("charts",)  # not part of the figures' digest (matplotlib's SVG ids are random)


class ApprovalError(ValueError):
    """A refused review or approval; `message` is translated, `field` the form field or None."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message, self.field = message, field


# --- months ------------------------------------------------------------------------------------


def is_closed(month: int) -> bool:
    """Whether `month` is over (ended at least a day ago): only such months are approved."""
    return month <= closed_through()


def get_report(consortium: Consortium, month: int) -> MonthlyReport | None:
    return db.session.scalars(
        select(MonthlyReport).where(
            MonthlyReport.consortium_id == consortium.id, MonthlyReport.month == month
        )
    ).first()


def approved_report(consortium: Consortium, month: int) -> MonthlyReport | None:
    report = get_report(consortium, month)
    return report if report is not None and report.is_approved else None


# --- the snapshot --------------------------------------------------------------------------------


def _freeze(value):
    """The context as JSON data: Markup values marked so that thaw() makes them Markup again."""
    if isinstance(value, Markup):
        return {_HTML: str(value)}
    if isinstance(value, dict):
        return {str(k): _freeze(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_freeze(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)  # lazy strings, dates: as the page would print them


def _thaw(value):
    if isinstance(value, dict):
        if set(value) == {_HTML}:
            return Markup(value[_HTML])  # noqa: S704  (our own SVG, stored by _freeze)
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_thaw(v) for v in value]
    return value


def digest(contexts: dict) -> str:
    """SHA-256 of the figures of the snapshot (its contexts without the charts)."""
    figures_only = {
        locale: {k: v for k, v in ctx.items() if k not in _VOLATILE}
        for locale, ctx in contexts.items()
    }
    text = json.dumps(figures_only, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def compute_contexts(consortium: Consortium, month: int) -> dict:
    """The report's data of `month` in every language, as JSON data."""
    return {
        locale: _freeze(monthly.monthly_context(consortium, month, locale)) for locale in LOCALES
    }


def review(actor, consortium: Consortium, month: int) -> MonthlyReport:
    """Compute the month's report now and keep it as the draft to approve (replacing an earlier
    draft). Refused for a month not over yet or already approved."""
    if not is_closed(month):
        raise ApprovalError(
            _l(
                "Only a month that is over can be approved; %(month)s is not over yet.",
                month=monthly.month_label(month),
            )
        )
    contexts = compute_contexts(consortium, month)
    values = {
        "contexts": contexts,
        "digest": digest(contexts),
        "computed_at": utcnow(),
        "computed_by_id": actor.id,
    }
    report = get_report(consortium, month)
    if report is None:
        try:
            with db.session.begin_nested():
                report = MonthlyReport(
                    consortium_id=consortium.id, month=month, status="draft", **values
                )
                db.session.add(report)
            return report
        except IntegrityError:  # a double submit made the draft meanwhile: update that one
            report = get_report(consortium, month)
    done = db.session.execute(
        update(MonthlyReport)
        .where(MonthlyReport.id == report.id, MonthlyReport.status == "draft")
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(report)
    if not done:
        raise _already_approved(report)
    return report


def _already_approved(report: MonthlyReport) -> ApprovalError:
    return ApprovalError(
        _l(
            "The report of %(month)s was already approved by %(name)s on %(date)s. An approved "
            "report is final.",
            month=monthly.month_label(report.month),
            name=report.approver_name or "–",
            date=format_date(local_date(report.approved_at), "long"),
        )
    )


def check_note(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ApprovalError(
            _l("Note: at most %(n)d characters (this one has %(len)d).", n=MAX_NOTE, len=len(note)),
            "note",
        )
    return note


def approve(actor, consortium: Consortium, month: int, *, token: str, note: str | None) -> bool:
    """Approve the draft of `month` whose figures have digest `token` (what the approver was
    shown). True when this call approved it (then audited); an ApprovalError when it is not
    there, was reviewed again with other figures meanwhile, or is already approved. Atomic: of
    two submits at once, one approves and the other is told it is already approved."""
    note = check_note(note)
    report = get_report(consortium, month)
    if report is None:
        raise ApprovalError(_l("Review the figures of the month before approving them."))
    if report.is_approved:
        raise _already_approved(report)
    if not is_closed(month):  # cannot happen for a draft, but the rule is the rule
        raise ApprovalError(_l("Only a month that is over can be approved."))
    if token != report.digest:
        raise ApprovalError(CHANGED)
    seal = seal_key(consortium)
    done = db.session.execute(
        update(MonthlyReport)
        .where(
            MonthlyReport.id == report.id,
            MonthlyReport.status == "draft",
            MonthlyReport.digest == token,
        )
        .values(
            status="approved",
            approved_by_id=actor.id,
            approver_name=actor.name,
            approved_at=utcnow(),
            note=note or None,
            seal_path=seal,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(report)
    if not done:
        if report.is_approved:
            raise _already_approved(report)
        raise ApprovalError(CHANGED)
    record_action(
        actor,
        "report.approve",
        consortium,
        consortium_id=consortium.id,
        details={"report": "monthly", "month": monthly.month_text(month), "id": report.id},
    )
    return True


# --- what the page and the PDF show -----------------------------------------------------------


def approval_block(report: MonthlyReport | None, month: int, locale: str) -> dict:
    """The approval line of the PDF and page in `locale`: approved (by whom, when, the note)
    or draft."""
    with force_locale(monthly.pdf_locale(locale)):
        if report is not None and report.is_approved:
            return {
                "status": "approved",
                "text": _(
                    "Approved by %(name)s on %(date)s",
                    name=report.approver_name or "–",
                    date=format_date(local_date(report.approved_at), "long"),
                ),
                "final": _("This report is approved and final: its figures no longer change."),
                "note_label": _("Note from the approver:"),
                "note": report.note or "",
                "seal_alt": _("Seal of the consortium"),
            }
        text = (
            _("The figures may still change until the report is approved.")
            if is_closed(month)
            else _("The month is not over: its figures still change.")
        )
        return {"status": "draft", "label": _("Draft — not approved"), "text": text}


def snapshot_context(report: MonthlyReport, locale: str | None) -> dict:
    """The report's data in `locale` as the snapshot keeps it."""
    return _thaw(report.contexts[monthly.pdf_locale(locale)])


def context_for(
    consortium: Consortium, month: int, locale: str | None, *, with_charts: bool = True
) -> tuple[dict, object]:
    """(the report's data in `locale`, its MonthlyReport when approved else None): from the
    approved snapshot if there is one, else computed live (without the charts for the page:
    drawing them is most of the cost)."""
    locale = monthly.pdf_locale(locale)
    report = approved_report(consortium, month)
    if report is not None and locale in (report.contexts or {}):
        ctx = _thaw(report.contexts[locale])
    else:
        ctx = monthly.monthly_context(consortium, month, locale, with_charts=with_charts)
    return {**ctx, "approval": approval_block(report, month, locale)}, report


def _image_type(key: str) -> str:
    return "image/png" if key.endswith(".png") else "image/jpeg"


def render_pdf(consortium: Consortium, month: int, locale: str | None) -> bytes:
    """The PDF of the month: an approved snapshot's with its seal, signed by the consortium;
    a draft's live and unsigned."""
    ctx, report = context_for(consortium, month, locale)
    images = {}
    seal = stored_image(report.seal_path) if report is not None else None
    if seal is not None:
        images["seal"] = seal
        ctx["approval"]["seal"] = render.asset_url("seal")
    pdf = render.render_document(
        monthly.PDF_DIR, "monthly.html", ctx, stylesheet="monthly.css", images=images
    )
    return signing.sign_pdf(pdf, consortium) if report is not None else pdf


def stored_pdf_key(report: MonthlyReport, locale: str | None) -> str | None:
    key = (report.pdf_paths or {}).get(monthly.pdf_locale(locale))
    return key if key and storage().exists(key) else None


def pdf_bytes(consortium: Consortium, month: int, locale: str | None) -> bytes:
    """The month's PDF: the stored one of an approved month (rendered now when its job has not
    run yet), else a live draft."""
    report = approved_report(consortium, month)
    if report is not None:
        key = stored_pdf_key(report, locale)
        if key is not None:
            return storage().read(key)
    return render_pdf(consortium, month, locale)


def store_pdfs(report: MonthlyReport) -> int:
    """Render, sign and store the PDF of each language of an approved report that has none yet
    (safe to run again); how many it stored."""
    consortium = db.session.get(Consortium, report.consortium_id)
    paths = dict(report.pdf_paths or {})
    stored = 0
    for locale in LOCALES:
        if paths.get(locale) and storage().exists(paths[locale]):
            continue
        pdf = render_pdf(consortium, report.month, locale)
        key = (
            f"monthly-reports/{consortium.id}/{monthly.month_text(report.month)}-{locale}-"
            f"{secrets.token_hex(8)}.pdf"
        )
        storage().save(key, pdf)
        paths[locale] = key
        stored += 1
    report.pdf_paths = paths
    return stored


def pdf_job(job, report) -> dict:
    """The "reports.monthly_pdf" job (params: "report_id" of an approved MonthlyReport)."""
    found = db.session.get(MonthlyReport, (job.params or {}).get("report_id") or 0)
    if found is None or not found.is_approved:
        return {"stored": 0}
    stored = store_pdfs(found)
    db.session.commit()
    return {"stored": stored, "report_id": found.id}


# --- the seal ----------------------------------------------------------------------------------


def _design_seal(consortium: Consortium) -> str | None:
    return db.session.scalar(
        select(CertificateTemplate.seal_path).where(
            CertificateTemplate.consortium_id == consortium.id,
            CertificateTemplate.course_id.is_(None),
        )
    )


def seal_source(consortium: Consortium) -> tuple[str | None, str | None]:
    """(storage key, "own" | "design") of the seal approved reports get, or (None, None)."""
    setting = db.session.get(MonthlyReportSetting, consortium.id)
    if setting is not None and setting.seal_path and storage().exists(setting.seal_path):
        return setting.seal_path, "own"
    key = _design_seal(consortium)
    if key and storage().exists(key):
        return key, "design"
    return None, None


def seal_key(consortium: Consortium) -> str | None:
    return seal_source(consortium)[0]


def stored_image(key: str | None) -> tuple[bytes, str] | None:
    """(bytes, type) of an image in storage, or None."""
    if not key or not storage().exists(key):
        return None
    return storage().read(key), _image_type(key)


def seal_image(consortium: Consortium) -> tuple[bytes, str] | None:
    return stored_image(seal_key(consortium))


def save_seal(actor, consortium: Consortium, data: bytes) -> None:
    """Check an uploaded seal image (PNG or JPEG, size, pixels: as certificate designs' images)
    and make it the consortium's seal; DesignError (field "seal") when refused."""
    data, extension = check_image(data, "seal")
    key = f"monthly-reports/{consortium.id}/seal-{secrets.token_hex(12)}.{extension}"
    storage().save(key, data)
    setting = db.session.get(MonthlyReportSetting, consortium.id)
    replaced = setting is not None and bool(setting.seal_path)
    if setting is None:
        setting = MonthlyReportSetting(consortium_id=consortium.id)
        db.session.add(setting)
    setting.seal_path, setting.updated_by_id = key, actor.id
    db.session.flush()
    record_action(
        actor,
        "report.seal",
        consortium,
        consortium_id=consortium.id,
        details={"report": "monthly", "replaced": replaced},
    )
