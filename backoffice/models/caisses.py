"""Caisses (CPAM) and their back-office users (agents with a role)."""

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import Model
from .labels import LabelledEnum


def new_alt_id() -> str:
    return secrets.token_hex(16)


class Login(UserMixin):
    """What flask-login needs of both populations (agents and partner accounts): the session keeps
    "<kind>:<alt_id>" (services/auth.load_user reads it back) and an inactive row cannot log in."""

    kind: ClassVar[str]
    if TYPE_CHECKING:
        alt_id: Mapped[str]
        active: Mapped[bool]

    def get_id(self) -> str:
        return f"{self.kind}:{self.alt_id}"

    @property
    def is_active(self) -> bool:
        return self.active


class Caisse(Model):
    """R-TEN-1: an 'organisme d'assurance maladie' with a name and a 3-digit code."""

    __tablename__ = "caisse"
    __table_args__ = (CheckConstraint("length(code) = 3", name="code_3_digits"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    code: Mapped[str] = mapped_column(String(3), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # Replaced whenever what the work queue's filters offer for this caisse changes (its
    # conventions, its motives, the names of its structures, the catalogue): the filter options
    # are kept per worker under (caisse, stamp), read with the agent (services/caisse_cache.py).
    options_stamp: Mapped[str] = mapped_column(String(32), default=new_alt_id)

    agents: Mapped[list["Agent"]] = relationship(back_populates="caisse")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class AgentRole(LabelledEnum):
    NATIONAL_ADMIN = "national_admin", "Administrateur national"
    CAISSE_ADMIN = "caisse_admin", "Administrateur CPAM"
    AGENT = "agent", "Agent CPAM"


AGENT_ROLE_LABELS = {role: role.label for role in AgentRole}


class Agent(Login, Model):
    """A back-office user: national admin (no caisse), caisse admin or agent of one caisse (R-TEN-2)."""

    __tablename__ = "agent"
    __table_args__ = (CheckConstraint("role = 'national_admin' OR caisse_id IS NOT NULL", name="caisse_required"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alt_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_alt_id)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    first_name: Mapped[str] = mapped_column(String(40))
    last_name: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20), default=AgentRole.AGENT.value)
    caisse_id: Mapped[int | None] = mapped_column(ForeignKey("caisse.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    # The daily digest e-mail (services/digest.py); the agent may turn it off.
    digest_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=now)

    caisse: Mapped[Caisse | None] = relationship(back_populates="agents")

    kind = "agent"

    @property
    def role_enum(self) -> AgentRole:
        return AgentRole(self.role)

    @property
    def is_national_admin(self) -> bool:
        return self.role == AgentRole.NATIONAL_ADMIN.value

    @property
    def is_caisse_admin(self) -> bool:
        return self.role == AgentRole.CAISSE_ADMIN.value

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __str__(self) -> str:
        return f"{self.full_name} ({self.username})"
