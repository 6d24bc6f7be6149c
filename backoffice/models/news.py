"""News of a caisse, newsletters and the partner accounts subscribed to them (R-NEWS-1)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from ..clock import now
from ..extensions import Model
from .caisses import Agent, Caisse


class News(Model):
    __tablename__ = "news"
    __table_args__ = (Index("ix_news_caisse_publish", "caisse_id", "publish_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    caisse_id: Mapped[int] = mapped_column(ForeignKey("caisse.id"))
    title: Mapped[str] = mapped_column(String(150))
    body: Mapped[str] = mapped_column(Text)
    image: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    image_type: Mapped[str | None] = mapped_column(String(40))
    publish_at: Mapped[datetime] = mapped_column(default=now)
    created_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now)

    caisse: Mapped[Caisse] = relationship()
    created_by_agent: Mapped[Agent | None] = relationship()

    def __str__(self) -> str:
        return self.title


class Newsletter(Model):
    __tablename__ = "newsletter"

    id: Mapped[int] = mapped_column(primary_key=True)
    caisse_id: Mapped[int] = mapped_column(ForeignKey("caisse.id"), index=True)
    subject: Mapped[str] = mapped_column(String(150))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    recipient_count: Mapped[int] = mapped_column(default=0)
    created_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now)

    caisse: Mapped[Caisse] = relationship()


class NewsletterSubscription(Model):
    """A partner account that opted in (R-ACC-5, R-HOME-1); deleting the row unsubscribes."""

    __tablename__ = "newsletter_subscription"

    account_id: Mapped[int] = mapped_column(ForeignKey("partner_account.id", ondelete="CASCADE"), primary_key=True)
    subscribed_at: Mapped[datetime] = mapped_column(default=now)
