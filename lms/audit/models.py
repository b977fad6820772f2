"""The audit log: who did what to which record, from where, when."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.types import UTCDateTime, utcnow
from lms.extensions import db


class AuditRecord(db.Model):
    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(40))
    consortium_id: Mapped[int | None] = mapped_column(ForeignKey("consortia.id"))
    ip: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor = relationship("User")

    __table_args__ = (Index("ix_audit_records_consortium_created", "consortium_id", "created_at"),)

    def __repr__(self) -> str:
        return f"<AuditRecord {self.id} {self.action}>"
