"""The agent workspace (issue 13): internal notes and reassignments on a request, the caisse's reply
templates, and the record of the daily digests sent."""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import Model
from .caisses import Agent
from .catalog import Motive, ServiceOffer
from .labels import LabelledEnum


class NoteKind(LabelledEnum):
    NOTE = "note", "Note interne"
    REASSIGNMENT = "reassignment", "Réattribution"


class RequestNote(Model):
    """A caisse-side entry of a request's timeline, never shown to the partner nor sent by e-mail:
    an internal note, or a reassignment (from one owner to another, with its optional note)."""

    __tablename__ = "request_note"
    __table_args__ = (CheckConstraint("kind IN ('note', 'reassignment')", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Deleted with the request (its personal data go together).
    request_id: Mapped[int] = mapped_column(ForeignKey("request.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default=NoteKind.NOTE.value)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    # Names kept for the record, as ExchangeMessage.author_name.
    author_name: Mapped[str] = mapped_column(String(80))
    # A reassignment: the previous and the new owner.
    from_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    to_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    from_name: Mapped[str | None] = mapped_column(String(80))
    to_name: Mapped[str | None] = mapped_column(String(80))

    agent: Mapped[Agent | None] = relationship(foreign_keys=[agent_id])

    @property
    def kind_label(self) -> str:
        return NoteKind(self.kind).label


class ReplyTemplate(Model):
    """A caisse's "Modèle de réponse": a text with placeholders, suggested for an offer and a motive."""

    __tablename__ = "reply_template"
    __table_args__ = (Index("ix_reply_template_caisse_offer", "caisse_id", "service_offer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    caisse_id: Mapped[int] = mapped_column(ForeignKey("caisse.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    service_offer_id: Mapped[int | None] = mapped_column(ForeignKey("service_offer.id"))
    motive_id: Mapped[int | None] = mapped_column(ForeignKey("motive.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    service_offer: Mapped[ServiceOffer | None] = relationship()
    motive: Mapped[Motive | None] = relationship()

    def __str__(self) -> str:
        return self.title


class AgentDigest(Model):
    """One row per agent and Paris day whose digest was queued: its primary key makes the second
    attempt of the day (a second run, another machine) insert nothing."""

    __tablename__ = "agent_digest"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(default=now)
