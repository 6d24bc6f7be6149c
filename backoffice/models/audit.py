"""The audit log (R-RGPD-4): who did what, when, on which object.

The actor and the target are kept as (type, id) pairs, not foreign keys: the row outlives them. The
view-only relationships below name them for the log's French sentences (services/audit.describe);
the back office loads them with the page's rows, in its one statement (views/outbox.AuditView). A
deleted account is no longer named: only its login stays, until R-RGPD-2 erases it."""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import Model

if TYPE_CHECKING:
    from .accounts import PartnerAccount
    from .caisses import Agent, Caisse
    from .news import News, Newsletter
    from .partners import Convention, Structure
    from .requests import Request
    from .workspace import ReplyTemplate


def _named(model: str, id_column: str, type_column: str, type_value: str):
    """The `model` row whose id is this entry's `id_column`, when its `type_column` says so."""
    return relationship(
        model,
        primaryjoin=(
            f"and_(foreign(AuditEntry.{id_column}) == {model}.id, AuditEntry.{type_column} == '{type_value}')"
        ),
        viewonly=True,
    )


def _target(model: str):
    """The entry's target when it is a `model` row: target_type holds the model's class name."""
    return _named(model, "target_id", "target_type", model)


class AuditEntry(Model):
    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_caisse_at", "caisse_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now, index=True)
    actor_type: Mapped[str] = mapped_column(String(10))  # agent, partner, system, anonymous
    actor_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(String(120))
    caisse_id: Mapped[int | None] = mapped_column(ForeignKey("caisse.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[int | None]
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))

    actor_agent: Mapped["Agent | None"] = _named("Agent", "actor_id", "actor_type", "agent")
    actor_partner: Mapped["PartnerAccount | None"] = _named("PartnerAccount", "actor_id", "actor_type", "partner")
    target_request: Mapped["Request | None"] = _target("Request")
    target_agent: Mapped["Agent | None"] = _target("Agent")
    target_partner: Mapped["PartnerAccount | None"] = _target("PartnerAccount")
    target_caisse: Mapped["Caisse | None"] = _target("Caisse")
    target_structure: Mapped["Structure | None"] = _target("Structure")
    target_convention: Mapped["Convention | None"] = _target("Convention")
    target_news: Mapped["News | None"] = _target("News")
    target_newsletter: Mapped["Newsletter | None"] = _target("Newsletter")
    target_template: Mapped["ReplyTemplate | None"] = _target("ReplyTemplate")


# The relationship naming each target type, for describe() and the view's eager loading.
TARGET_RELATIONSHIPS = {
    "Request": "target_request",
    "Agent": "target_agent",
    "PartnerAccount": "target_partner",
    "Caisse": "target_caisse",
    "Structure": "target_structure",
    "Convention": "target_convention",
    "News": "target_news",
    "Newsletter": "target_newsletter",
    "ReplyTemplate": "target_template",
}
