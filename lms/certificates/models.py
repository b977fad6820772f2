"""Certificates: issued once per worker and course version, verifiable, expiring, revocable
(and issued again after a revocation)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.certificates.codes import new_code, new_salt
from lms.core.tenancy import Tenant, TenantOwned
from lms.core.types import UTCDateTime, new_public_id, utcnow
from lms.extensions import db

SOURCES = ("completion", "trainer", "bulk")


class CertificateTemplate(db.Model):
    """A consortium's design (or one course's): texts, colours, logo and seal.

    The HTML and CSS are the project's default template files; what admins change is data.
    """

    __tablename__ = "certificate_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    texts: Mapped[dict] = mapped_column(JSON, default=dict)  # key → {"zh": …, "en": …}
    primary_color: Mapped[str] = mapped_column(String(7), default="#1d4e89")
    accent_color: Mapped[str] = mapped_column(String(7), default="#b8860b")
    logo_path: Mapped[str | None] = mapped_column(String(300))
    seal_path: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("consortium_id", "course_id", name="uq_certificate_templates_place"),
    )

    def __repr__(self) -> str:
        return f"<CertificateTemplate {self.id} {self.consortium_id}/{self.course_id}>"


class SerialCounter(db.Model):
    """The last sequence number used per consortium and year (incremented in the issuing
    transaction, so two certificates never share a serial)."""

    __tablename__ = "certificate_serials"

    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Certificate(TenantOwned, db.Model):
    __tablename__ = "certificates"
    __tenant__ = Tenant(firm="firm_id", owner="user_id")  # the holder keeps their own

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    # Sequential, so guessable: printed and shown, but it opens nothing on its own.
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    # The public verification code (codes.py: 12 characters, 60 random bits), printed next to
    # the serial; the verification page, its JSON and the QR code are addressed by it.
    public_code: Mapped[str] = mapped_column(String(16), unique=True, default=new_code)
    # 192 random bits addressing the Open Badges assertion (kept as it is: badges already in
    # backpacks are verified again at this address).
    verification_code: Mapped[str] = mapped_column(String(64), unique=True)
    # The salt of the assertion's hashed e-mail recipient, random per certificate.
    badge_salt: Mapped[str] = mapped_column(String(32), default=new_salt)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"), index=True)
    firm_id: Mapped[int | None] = mapped_column(ForeignKey("firms.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("course_versions.id"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    source: Mapped[str] = mapped_column(String(12), default="completion")
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)
    # Everything printed on the certificate, as plain data (re-rendering gives the same PDF).
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    pdf_path: Mapped[str | None] = mapped_column(String(300))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    # SHA-256 (64 hex digits) of the signing certificate the PDF was signed with: what the
    # verification page shows, also after the consortium's key changed. NULL before issue 15.
    signing_fingerprint: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    # The revocation notice: the certificate re-rendered with the "REVOKED" stamp, stored when
    # it is revoked (service.store_revocation_pdf). The issued PDF (pdf_path) stays on record
    # but is never served again.
    revocation_pdf_path: Mapped[str | None] = mapped_column(String(300))
    # The certificate issued for the same enrolment after this one was revoked.
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    reminded: Mapped[list] = mapped_column(JSON, default=list)  # reminder days already sent

    user = relationship("User", foreign_keys=[user_id])
    course = relationship("Course")
    version = relationship("CourseVersion")
    replaced_by = relationship("Certificate", remote_side=[id], foreign_keys=[replaced_by_id])

    __table_args__ = (
        # One live (not revoked) certificate per completion of a course version (an
        # enrolment), whatever races; a revoked one may be replaced by a new one (re-issue),
        # and recertification is a new enrolment, so it earns a new certificate.
        Index(
            "uq_certificates_live_enrollment",
            "enrollment_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        CheckConstraint(f"source IN {SOURCES!r}", name="source"),
        # Dashboards: certificates issued in a period.
        Index("ix_certificates_consortium_issued", "consortium_id", "issued_at"),
        Index("ix_certificates_firm_issued", "firm_id", "issued_at"),
    )

    def status(self, today: date | None = None) -> str:
        today = today or date.today()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_on is not None and self.expires_on < today:
            return "expired"
        return "valid"

    def __repr__(self) -> str:
        return f"<Certificate {self.serial}>"
