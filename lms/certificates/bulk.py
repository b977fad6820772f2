"""Bulk issuing: a consortium admin issues the certificates of a course cohort (or of one
firm's completers of it) as the "certificates.bulk" background job, which ends with a ZIP of
the cohort's PDFs.

Re-running is safe: service.issue is idempotent per worker and course version, each
certificate is committed on its own (the serial counter's row is locked only for that short
transaction, so learners completing courses meanwhile never wait for the job), and the ZIP is
built from the stored PDFs, rendering those not made yet, each in its own short transaction.
"""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

from sqlalchemy import select

from lms.auth.models import User
from lms.certificates import service
from lms.certificates.models import Certificate
from lms.core.storage import storage
from lms.core.types import utcnow
from lms.extensions import db
from lms.learning.models import Enrollment

KIND = "certificates.bulk"
ZIP_HOURS = 24  # how long the ZIP download link stays valid after the job finished


def cohort(course_id: int, firm_id: int | None = None) -> list[Enrollment]:
    """The completed enrolments of the course (optionally of one firm), oldest first."""
    query = (
        select(Enrollment)
        .where(Enrollment.course_id == course_id, Enrollment.status == "completed")
        .order_by(Enrollment.completed_at, Enrollment.id)
    )
    if firm_id is not None:
        query = query.where(Enrollment.firm_id == firm_id)
    return list(db.session.scalars(query))


def zip_key(job) -> str:
    return f"jobs/{job.public_id}/certificates.zip"


def zip_expires_at(job):
    return job.finished_at + timedelta(hours=ZIP_HOURS) if job.finished_at else None


def zip_expired(job, now=None) -> bool:
    expires = zip_expires_at(job)
    return expires is None or (now or utcnow()) > expires


def _download_url(job) -> str:
    from lms.notifications.service import path_for

    return path_for("certificates.bulk_zip", public_id=job.public_id)


def bulk_job(job, report) -> dict:
    """The "certificates.bulk" job (params: "course" id, "firm" id or None)."""
    params = job.params or {}
    course_id, firm_id = int(params["course"]), params.get("firm")
    firm_id = int(firm_id) if firm_id else None
    actor = db.session.get(User, job.created_by_id) if job.created_by_id else None
    enrollments = cohort(course_id, firm_id)
    total = len(enrollments)
    report(0, total)
    issued = existing = 0
    cert_ids: list[int] = []
    for done, enrollment in enumerate(enrollments, start=1):
        cert = service.certificate_of(enrollment)
        if cert is None:
            with service.pdfs_on_first_download():  # made below, while zipping
                cert = service.issue(enrollment, source="bulk", actor=actor)
            issued += 1
        else:
            existing += 1
        cert_ids.append(cert.id)
        report(done, total)  # commits this certificate: one short transaction each
    key = zip_key(job)
    storage().save(key, build_zip(cert_ids))
    return {
        "issued": issued,
        "existing": existing,
        "zip": key,
        "next": _download_url(job),
    }


def build_zip(cert_ids: list[int]) -> bytes:
    """One PDF per certificate (revoked ones left out), named by serial; PDFs not made yet
    (or missing from storage) are rendered, each in its own short transaction."""
    buffer = io.BytesIO()
    files = []
    for start in range(0, len(cert_ids), 500):  # keep the IN lists short
        chunk = cert_ids[start : start + 500]
        rows = db.session.execute(
            select(Certificate.id, Certificate.serial).where(
                Certificate.id.in_(chunk), Certificate.revoked_at.is_(None)
            )
        ).all()
        files += rows
    files.sort(key=lambda row: row.serial)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for cert_id, serial in files:
            cert = service.ensure_pdf(cert_id)
            archive.writestr(f"{serial}.pdf", storage().read(cert.pdf_path))
    return buffer.getvalue()
