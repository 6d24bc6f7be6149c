"""The e-mail outbox: messages written in the business transaction, sent later by `flask send-mail`.

A message that carries a personal set-password link stores only a redacted copy (LINK_MASK where
the link goes) and which link it needs (purpose and owner): the sender issues the token and puts
the real link in the outgoing e-mail at send time, in memory only.
"""

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import Model
from .caisses import Caisse

# What the stored copy of a message shows where its personal link goes.
LINK_MASK = "[lien personnel masqué]"


class OutboxStatus(str, enum.Enum):
    PENDING = "pending"
    SENDING = "sending"  # leased to a worker until next_attempt_at
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # not sent: its personal link was no longer wanted (see outbox.deliver)

    @property
    def label(self) -> str:
        return {
            "pending": "En attente",
            "sending": "En cours d'envoi",
            "sent": "Envoyé",
            "failed": "Échec",
            "cancelled": "Annulé",
        }[self.value]


class OutboxMessage(Model):
    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        CheckConstraint("link_partner_account_id IS NULL OR link_agent_id IS NULL", name="at_most_one_link_owner"),
        CheckConstraint(
            "link_purpose IS NOT NULL OR (link_partner_account_id IS NULL AND link_agent_id IS NULL)",
            name="link_owner_has_purpose",
        ),
    )

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
    # The personal set-password link the message needs, issued at send time (tokens.issue purpose:
    # create, reactivate, reset). The owner is SET NULL when deleted: the message is then cancelled.
    link_purpose: Mapped[str | None] = mapped_column(String(20))
    link_partner_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("partner_account.id", ondelete="SET NULL"), index=True
    )
    link_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"), index=True)

    caisse: Mapped[Caisse | None] = relationship()

    @property
    def status_label(self) -> str:
        return OutboxStatus(self.status).label
