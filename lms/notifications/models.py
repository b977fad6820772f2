"""In-app notifications (each sent at most once per event) and e-mail preferences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from lms.core.types import UTCDateTime, new_public_id, utcnow
from lms.extensions import db


class Notification(db.Model):
    """One message to one user. `key` names the event (and recipient): the unique constraint
    makes sure the same event never notifies twice, whatever the number of runs or races.

    The text is not stored: it is rendered when shown, in the viewer's language, from `kind`
    and the plain values in `params`.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(60))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The list (newest first) and the unread badge of one user.
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_user_read", "user_id", "read_at"),
        # The e-mail job's look-up of unsent messages.
        Index("ix_notifications_emailed_created", "emailed_at", "created_at"),
    )

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.key}>"


class NotificationPreference(db.Model):
    """A user's opt-outs per kind: `email_off` (shown in the app only) and `app_off` (not
    notified at all; kinds that must always arrive ignore it)."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    email_off: Mapped[list] = mapped_column(JSON, default=list)
    app_off: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<NotificationPreference {self.user_id}>"
