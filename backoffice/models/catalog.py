"""Service offers (ODS) and motives: a national reference list, enabled per caisse."""

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model


class ServiceOffer(Model):
    """One of the five 'offres de service' of SPEC §5."""

    __tablename__ = "service_offer"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    label: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    allows_attachments: Mapped[bool] = mapped_column(Boolean, default=False)
    concerns_person: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(default=0)

    motives: Mapped[list["Motive"]] = relationship(back_populates="service_offer", order_by="Motive.position")

    def __str__(self) -> str:
        return self.label


class Motive(Model):
    """A motive of a service offer (for 'Demander un document': a document type)."""

    __tablename__ = "motive"
    __table_args__ = (UniqueConstraint("service_offer_id", "label", name="uq_motive_offer_label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_offer_id: Mapped[int] = mapped_column(ForeignKey("service_offer.id"), index=True)
    label: Mapped[str] = mapped_column(String(160))
    position: Mapped[int] = mapped_column(default=0)

    service_offer: Mapped[ServiceOffer] = relationship(back_populates="motives")

    def __str__(self) -> str:
        return self.label


class CaisseOffer(Model):
    """A service offer that a caisse offers, with the label it shows (may differ: R-CONV-2)."""

    __tablename__ = "caisse_offer"

    caisse_id: Mapped[int] = mapped_column(ForeignKey("caisse.id", ondelete="CASCADE"), primary_key=True)
    service_offer_id: Mapped[int] = mapped_column(ForeignKey("service_offer.id"), primary_key=True)
    display_label: Mapped[str | None] = mapped_column(String(120))

    service_offer: Mapped[ServiceOffer] = relationship()


class CaisseMotive(Model):
    """A motive that a caisse offers (the caisse may reduce the seed list)."""

    __tablename__ = "caisse_motive"

    caisse_id: Mapped[int] = mapped_column(ForeignKey("caisse.id", ondelete="CASCADE"), primary_key=True)
    motive_id: Mapped[int] = mapped_column(ForeignKey("motive.id"), primary_key=True)

    motive: Mapped[Motive] = relationship()
