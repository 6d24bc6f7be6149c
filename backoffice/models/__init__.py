"""All models, importable from one place (and known to Alembic)."""

from .accounts import CIVILITIES, PartnerAccount, PartnerRole, PasswordToken
from .audit import AuditEntry
from .caisses import AGENT_ROLE_LABELS, Agent, AgentRole, Caisse
from .catalog import CaisseMotive, CaisseOffer, Motive, ServiceOffer
from .news import News, Newsletter, NewsletterSubscription
from .outbox import OutboxMessage, OutboxStatus
from .partners import (
    STRUCTURE_TYPES,
    Convention,
    ConventionState,
    Structure,
    convention_offer,
    manager_cap_for,
    technician_cap_for,
)
from .requests import (
    AWAITING_CAISSE,
    Attachment,
    AttachmentContent,
    ExchangeMessage,
    Request,
    RequestCounter,
    RequestStatus,
    StagedUpload,
    StatusChange,
)
from .sessions import LoginThrottle, UserSession
from .workspace import AgentDigest, NoteKind, ReplyTemplate, RequestNote

__all__ = [name for name in dir() if not name.startswith("_")]
