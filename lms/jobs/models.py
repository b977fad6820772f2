"""Background jobs: their state and progress, stored where the browser can read them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.types import UTCDateTime, new_public_id, utcnow
from lms.extensions import db

JOB_STATES = ("queued", "running", "done", "failed")


class Job(db.Model):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    kind: Mapped[str] = mapped_column(String(40))
    consortium_id: Mapped[int | None] = mapped_column(ForeignKey("consortia.id"), index=True)
    firm_id: Mapped[int | None] = mapped_column(ForeignKey("firms.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Named, not imported: accounts (lms.auth) sit above jobs in the layer order.
    created_by = relationship("User")
    state: Mapped[str] = mapped_column(String(10), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Stamped while the job runs (lms.jobs.service): a late heartbeat means its worker is gone.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # times a worker took it

    __table_args__ = (
        CheckConstraint(f"state IN {JOB_STATES!r}", name="state"),
        # The reaper's look-up: unfinished jobs by state.
        Index("ix_jobs_state_heartbeat", "state", "heartbeat_at"),
    )

    @property
    def is_finished(self) -> bool:
        return self.state in ("done", "failed")

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        return int(100 * self.progress / self.total) if self.total else 0

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.state}>"
