"""The audit log (R-RGPD-4): who did what, when, on which object."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import now
from ..extensions import Model


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
