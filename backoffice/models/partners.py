"""Partner structures and their conventions with caisses (R-CONV-1..4)."""
import enum
from datetime import date, datetime, timedelta

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now, today
from ..extensions import Model, db
from .caisses import Caisse
from .catalog import ServiceOffer

STRUCTURE_TYPES = [
    "Association",
    "CCAS",
    "PASS hospitalière",
    "France Services",
    "Établissement de santé",
    "Collectivité territoriale",
    "Autre",
]

ENDING_SOON_DAYS = 30

convention_offer = Table(
    "convention_offer",
    db.metadata,
    Column("convention_id", ForeignKey("convention.id", ondelete="CASCADE"), primary_key=True),
    Column("service_offer_id", ForeignKey("service_offer.id"), primary_key=True),
)


class Structure(Model):
    """R-CONV-1: a partner structure (association, CCAS, PASS…)."""

    __tablename__ = "structure"
    __table_args__ = (
        CheckConstraint("member_count >= 1", name="member_count_positive"),
        # The queue's search by structure name ("contient"), on PostgreSQL.
        Index(
            "ix_structure_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    type: Mapped[str] = mapped_column(String(40))
    siret: Mapped[str] = mapped_column(String(14), unique=True)
    address: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str] = mapped_column(String(5))
    city: Mapped[str] = mapped_column(String(80))
    member_count: Mapped[int]
    # The caisse that registered the structure sees it even before its first convention.
    registered_by_caisse_id: Mapped[int | None] = mapped_column(ForeignKey("caisse.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=now)

    conventions: Mapped[list["Convention"]] = relationship(back_populates="structure")
    registered_by_caisse: Mapped[Caisse | None] = relationship()

    def __str__(self) -> str:
        return self.name


class ConventionState(str, enum.Enum):
    UPCOMING = "upcoming"
    CURRENT = "current"
    ENDING = "ending"
    ENDED = "ended"

    @property
    def label(self) -> str:
        return CONVENTION_STATE_LABELS[self]


CONVENTION_STATE_LABELS = {
    ConventionState.UPCOMING: "À venir",
    ConventionState.CURRENT: "En cours",
    ConventionState.ENDING: "Arrive à échéance",
    ConventionState.ENDED: "Terminée",
}


def manager_cap_for(member_count: int) -> int:
    """R-CONV-3: 1–10 members → 2 managers, 11–25 → 3, more than 25 → 5."""
    if member_count <= 10:
        return 2
    if member_count <= 25:
        return 3
    return 5


def technician_cap_for(member_count: int) -> int:
    """R-CONV-3: 1–10 members → 5 active technicians, 11–25 → 15, more than 25 → 25."""
    if member_count <= 10:
        return 5
    if member_count <= 25:
        return 15
    return 25


class Convention(Model):
    """R-CONV-2: one structure, one caisse, dates, enabled service offers, optional lower caps."""

    __tablename__ = "convention"
    __table_args__ = (
        CheckConstraint("end_date > start_date", name="end_after_start"),
        CheckConstraint("manager_cap IS NULL OR manager_cap >= 1", name="manager_cap_positive"),
        CheckConstraint(
            "technician_cap IS NULL OR technician_cap >= 1", name="technician_cap_positive"
        ),
        Index("ix_convention_caisse_structure", "caisse_id", "structure_id"),
        Index("ix_convention_structure_end", "structure_id", "end_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    caisse_id: Mapped[int] = mapped_column(ForeignKey("caisse.id"))
    start_date: Mapped[date]
    end_date: Mapped[date]
    # A lower cap recorded by the caisse (R-CONV-3); None means the cap of the member count.
    manager_cap: Mapped[int | None]
    technician_cap: Mapped[int | None]
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)

    structure: Mapped[Structure] = relationship(back_populates="conventions")
    caisse: Mapped[Caisse] = relationship()
    service_offers: Mapped[list[ServiceOffer]] = relationship(
        secondary=convention_offer, order_by=ServiceOffer.position
    )

    def state(self, on: date | None = None) -> ConventionState:
        """R-CONV-4, computed from today's date (Paris)."""
        on = on or today()
        if on < self.start_date:
            return ConventionState.UPCOMING
        if on > self.end_date:
            return ConventionState.ENDED
        if self.end_date - on < timedelta(days=ENDING_SOON_DAYS):
            return ConventionState.ENDING
        return ConventionState.CURRENT

    @property
    def state_label(self) -> str:
        return self.state().label

    @property
    def effective_manager_cap(self) -> int:
        cap = manager_cap_for(self.structure.member_count)
        return min(cap, self.manager_cap) if self.manager_cap else cap

    @property
    def effective_technician_cap(self) -> int:
        cap = technician_cap_for(self.structure.member_count)
        return min(cap, self.technician_cap) if self.technician_cap else cap

    def __str__(self) -> str:
        return f"{self.structure} — {self.caisse.name} ({self.start_date:%d/%m/%Y} → {self.end_date:%d/%m/%Y})"
