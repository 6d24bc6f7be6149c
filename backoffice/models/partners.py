"""Partner structures and their conventions with caisses (R-CONV-1..4)."""

from datetime import date, datetime, timedelta

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text, and_, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now, today
from ..extensions import Model, db
from ..folding import fold
from .caisses import Caisse
from .catalog import ServiceOffer
from .labels import LabelledEnum

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
        # The queue's search by structure name ("contient", folded), on PostgreSQL.
        Index(
            "ix_structure_search_trgm",
            "search_name",
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    # The folded name the queue's search matches (folding.fold), kept by the flush listener below.
    search_name: Mapped[str] = mapped_column(String(120), default="", server_default="")
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


@event.listens_for(Structure, "before_insert")
@event.listens_for(Structure, "before_update")
def _fold_name(_mapper, _connection, target: Structure) -> None:
    target.search_name = fold(target.name)


class ConventionState(LabelledEnum):
    UPCOMING = "upcoming", "À venir"
    CURRENT = "current", "En cours"
    ENDING = "ending", "Arrive à échéance"
    ENDED = "ended", "Terminée"


# R-CONV-3: (largest member count of the band, managers, active technicians); the last band has
# no upper bound.
CAP_BANDS = ((10, 2, 5), (25, 3, 15), (None, 5, 25))


def _band(member_count: int) -> tuple[int | None, int, int]:
    return next(band for band in CAP_BANDS if band[0] is None or member_count <= band[0])


def manager_cap_for(member_count: int) -> int:
    """R-CONV-3: 1–10 members → 2 managers, 11–25 → 3, more than 25 → 5."""
    return _band(member_count)[1]


def technician_cap_for(member_count: int) -> int:
    """R-CONV-3: 1–10 members → 5 active technicians, 11–25 → 15, more than 25 → 25."""
    return _band(member_count)[2]


class Convention(Model):
    """R-CONV-2: one structure, one caisse, dates, enabled service offers, optional lower caps."""

    __tablename__ = "convention"
    __table_args__ = (
        CheckConstraint("end_date > start_date", name="end_after_start"),
        CheckConstraint("manager_cap IS NULL OR manager_cap >= 1", name="manager_cap_positive"),
        CheckConstraint("technician_cap IS NULL OR technician_cap >= 1", name="technician_cap_positive"),
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
        """R-CONV-4, computed from today's date (Paris) unless told: see state_of."""
        return state_of(self, on or today())

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


# --- R-CONV-4, the convention's state: once in Python, once in SQL, side by side --------------
# tests/test_conventions.py checks on boundary dates that both give the same state.


def state_of(convention: Convention, day: date) -> ConventionState:
    """Upcoming before its start; ended after its end; ending when fewer than ENDING_SOON_DAYS
    days remain until the end (the end day included in the convention); current otherwise."""
    if day < convention.start_date:
        return ConventionState.UPCOMING
    if day > convention.end_date:
        return ConventionState.ENDED
    if convention.end_date - day < timedelta(days=ENDING_SOON_DAYS):
        return ConventionState.ENDING
    return ConventionState.CURRENT


def state_condition(state: ConventionState, day: date):
    """The SQL condition on Convention that holds exactly when state_of(convention, day) is `state`."""
    soon = day + timedelta(days=ENDING_SOON_DAYS)
    if state is ConventionState.UPCOMING:
        return Convention.start_date > day
    if state is ConventionState.ENDED:
        return Convention.end_date < day
    if state is ConventionState.ENDING:
        return and_(Convention.start_date <= day, Convention.end_date >= day, Convention.end_date < soon)
    return and_(Convention.start_date <= day, Convention.end_date >= soon)


def open_condition(day: date):
    """The SQL condition 'not ended' (state_of(convention, day) is not ENDED): upcoming, current
    or ending."""
    return Convention.end_date >= day
