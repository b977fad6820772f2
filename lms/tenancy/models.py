"""Consortia (tenants), member firms (sub-tenants) and memberships."""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.tenancy import Tenant, TenantOwned
from lms.core.types import UTCDateTime, new_public_id, utcnow
from lms.extensions import db

REGIONS = ("east", "central", "west", "northeast")
SECTORS = (
    "smart-manufacturing",
    "industrial-internet",
    "equipment-manufacturing",
    "electronics",
    "automotive",
    "new-materials",
    "new-energy",
    "biomedicine",
    "textiles",
    "food-processing",
)
FIRM_KINDS = ("chain_leader", "single_champion", "specialized_sme", "hr_service", "college")
FIRM_ROLES = ("worker", "trainer", "firm_admin")
CONSORTIUM_ROLES = ("consortium_admin", "auditor")
ROLES = FIRM_ROLES + CONSORTIUM_ROLES
# Why a membership ended (lms.tenancy.labels.END_REASON_LABELS names them).
END_REASONS = ("left", "moved", "contract_ended", "other")


def new_catalogue_stamp() -> int:
    return secrets.randbelow(2**31 - 1) + 1


class Consortium(db.Model):
    __tablename__ = "consortia"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    city: Mapped[str] = mapped_column(String(60))
    region: Mapped[str] = mapped_column(String(16))
    sectors: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A new random value on every change of the published catalogue (lms.courses.service
    # .catalogue_changed): processes keep the catalogue under it. Random, not a counter: a
    # rolled-back change or a consortium made again under the same id never repeats a stamp.
    catalogue_stamp: Mapped[int] = mapped_column(
        Integer, default=new_catalogue_stamp, server_default="0"
    )

    firms: Mapped[list[Firm]] = relationship(back_populates="consortium", order_by="Firm.name")

    __table_args__ = (CheckConstraint(f"region IN {REGIONS!r}", name="region"),)

    def __repr__(self) -> str:
        return f"<Consortium {self.id} {self.code}>"


class Firm(db.Model):
    __tablename__ = "firms"

    id: Mapped[int] = mapped_column(primary_key=True)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    consortium: Mapped[Consortium] = relationship(back_populates="firms")

    __table_args__ = (CheckConstraint(f"kind IN {FIRM_KINDS!r}", name="kind"),)

    def __repr__(self) -> str:
        return f"<Firm {self.id} {self.credit_code}>"


class Membership(db.Model):
    """A user's role in a firm (or, for consortium roles, in a consortium) over a period."""

    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"), index=True)
    firm_id: Mapped[int | None] = mapped_column(ForeignKey("firms.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # The job role the person holds at this firm (gaps are measured against it).
    job_role_id: Mapped[str | None] = mapped_column(ForeignKey("job_roles.id"), index=True)
    employee_no: Mapped[str | None] = mapped_column(String(40))
    starts_on: Mapped[date] = mapped_column(Date, default=date.today)
    # Current means starts_on <= today < ends_on: ends_on is the first day no longer a member.
    ends_on: Mapped[date | None] = mapped_column(Date)
    # Why and by whom it was ended (a firm admin's "end membership"); NULL while current.
    ended_reason: Mapped[str | None] = mapped_column(String(20))
    ended_note: Mapped[str | None] = mapped_column(String(200))
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(  # noqa: F821
        back_populates="memberships", foreign_keys=[user_id]
    )
    # A membership is nearly always shown or scoped with its firm, consortium and job role: load
    # them in the same statement (the session loader relies on this for every signed-in page).
    firm: Mapped[Firm | None] = relationship(lazy="joined")
    consortium: Mapped[Consortium] = relationship(lazy="joined")
    job_role: Mapped[JobRole | None] = relationship(lazy="joined")  # noqa: F821

    __table_args__ = (
        CheckConstraint(f"role IN {ROLES!r}", name="role"),
        CheckConstraint(
            "(role IN ('consortium_admin', 'auditor')) OR firm_id IS NOT NULL", name="firm_role"
        ),
        CheckConstraint(f"ended_reason IN {END_REASONS!r}", name="ended_reason"),
        Index("ix_memberships_firm_employee_no", "firm_id", "employee_no"),
    )

    def is_current(self, today: date | None = None) -> bool:
        today = today or date.today()
        return self.starts_on <= today and (self.ends_on is None or self.ends_on > today)

    def __repr__(self) -> str:
        return f"<Membership {self.id} user={self.user_id} {self.role}@{self.firm_id}>"


class ImportBatch(TenantOwned, db.Model):
    """A parsed people file waiting for the firm admin to confirm it."""

    __tablename__ = "import_batches"
    __tenant__ = Tenant(firm="firm_id")

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"), index=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(200))
    rows: Mapped[list[dict]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    result: Mapped[dict | None] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<ImportBatch {self.public_id} {self.status}>"


class ImportRow(TenantOwned, db.Model):
    """One row of an import batch as checked at upload: its normalised values, its errors
    (field and message) and what saving it does (create, add, unchanged or error)."""

    __tablename__ = "import_rows"
    __tenant__ = Tenant(parent="batch_id")

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"))
    row: Mapped[int] = mapped_column(Integer)  # the line of the file (the header is line 1)
    action: Mapped[str] = mapped_column(String(16))
    values: Mapped[dict] = mapped_column(JSON)
    errors: Mapped[list[dict]] = mapped_column(JSON, default=list)

    __table_args__ = (
        # One row per line; the preview reads a batch's rows errors first, then by line.
        UniqueConstraint("batch_id", "row", name="uq_import_rows_batch_row"),
        Index("ix_import_rows_batch_action_row", "batch_id", "action", "row"),
    )

    def __repr__(self) -> str:
        return f"<ImportRow {self.batch_id}:{self.row} {self.action}>"


class Invitation(TenantOwned, db.Model):
    """A single-use, expiring link that lets someone set a password and join a firm."""

    __tablename__ = "invitations"
    __tenant__ = Tenant(firm="firm_id")

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"), index=True)
    firm_id: Mapped[int | None] = mapped_column(ForeignKey("firms.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str | None] = mapped_column(String(254))
    mobile: Mapped[str | None] = mapped_column(String(11))
    job_role_id: Mapped[str | None] = mapped_column(ForeignKey("job_roles.id"))
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    firm: Mapped[Firm | None] = relationship()
    consortium: Mapped[Consortium] = relationship()

    def __repr__(self) -> str:
        return f"<Invitation {self.public_id} {self.role}>"
