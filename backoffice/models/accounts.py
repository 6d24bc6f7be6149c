"""Partner accounts (managers and technicians, R-ACC-*) and set-password tokens."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import Model
from .caisses import Agent, Caisse, Login, new_alt_id
from .labels import LabelledEnum
from .partners import Structure


class PartnerRole(LabelledEnum):
    MANAGER = "manager", "Gestionnaire Partenaire"
    TECHNICIAN = "technician", "Technicien Partenaire"


CIVILITIES = ["Madame", "Monsieur"]


class PartnerAccount(Login, Model):
    """A nominative portal account of one structure (R-TEN-3); one role per account (R-TEN-4)."""

    __tablename__ = "partner_account"
    __table_args__ = (
        CheckConstraint("role IN ('manager', 'technician')", name="role_known"),
        CheckConstraint("birth_name IS NOT NULL OR usage_name IS NOT NULL", name="a_name_is_required"),
        Index("ix_partner_account_structure_role", "structure_id", "role", "active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alt_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_alt_id)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    civility: Mapped[str] = mapped_column(String(10))
    birth_name: Mapped[str | None] = mapped_column(String(30))
    usage_name: Mapped[str | None] = mapped_column(String(30))
    first_name: Mapped[str] = mapped_column(String(20))
    function: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str] = mapped_column(String(14))
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    inactivated_at: Mapped[datetime | None] = mapped_column(index=True)
    reactivation_reason: Mapped[str | None] = mapped_column(Text)
    cgu_accepted_at: Mapped[datetime | None]
    last_caisse_id: Mapped[int | None] = mapped_column(ForeignKey("caisse.id", ondelete="SET NULL"))
    created_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    created_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("partner_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now)

    structure: Mapped[Structure] = relationship()
    last_caisse: Mapped[Caisse | None] = relationship()
    created_by_agent: Mapped[Agent | None] = relationship()

    kind = "partner"

    @property
    def is_manager(self) -> bool:
        return self.role == PartnerRole.MANAGER.value

    @property
    def display_name(self) -> str:
        """R-TEC-3: nom usuel, else nom patronymique."""
        return self.usage_name or self.birth_name or ""

    @property
    def full_name(self) -> str:
        """'Maryse PICHON', as the e-mails greet."""
        return f"{self.first_name} {self.display_name}"

    @property
    def list_name(self) -> str:
        """'Madame PICHON Maryse', as the account list shows."""
        return f"{self.civility} {self.display_name} {self.first_name}"

    @property
    def role_label(self) -> str:
        return PartnerRole(self.role).label

    def __str__(self) -> str:
        return f"{self.list_name} ({self.login})"


class PasswordToken(Model):
    """A set-password link (R-ACC-3/6): only its SHA-256 is stored; single use; expires."""

    __tablename__ = "password_token"
    __table_args__ = (CheckConstraint("(partner_account_id IS NULL) <> (agent_id IS NULL)", name="exactly_one_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))  # create, reactivate, reset
    partner_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("partner_account.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]

    partner_account: Mapped[PartnerAccount | None] = relationship()
    agent: Mapped[Agent | None] = relationship()

    @property
    def owner(self):
        return self.partner_account or self.agent
