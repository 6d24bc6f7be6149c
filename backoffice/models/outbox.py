"""The e-mail outbox: messages written in the business transaction, sent later by `flask send-mail`."""
import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..services.clock import now
from .caisses import Caisse


class OutboxStatus(str, enum.Enum):
    PENDING = "pending"
    SENDING = "sending"  # leased to a worker until next_attempt_at
    SENT = "sent"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return {"pending": "En attente", "sending": "En cours d'envoi", "sent": "Envoyé", "failed": "Échec"}[
            self.value
        ]


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40))
    # Extra headers, e.g. List-Unsubscribe for newsletters (RFC 8058).
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    caisse_id: Mapped[int | None] = mapped_column(ForeignKey("caisse.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=now)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now, index=True)
    sent_at: Mapped[datetime | None]

    caisse: Mapped[Caisse | None] = relationship()

    @property
    def status_label(self) -> str:
        return OutboxStatus(self.status).label
