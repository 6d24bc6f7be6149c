"""Requests filed by partners (SPEC §5–6): numbering, status history, Q/R exchange, attachments."""

import re
from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    DDL,
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    bindparam,
    event,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import Model, db
from ..folding import person_search
from .accounts import PartnerAccount
from .caisses import Agent, Caisse
from .catalog import Motive, ServiceOffer
from .labels import LabelledEnum
from .partners import Convention, Structure


class RequestStatus(LabelledEnum):
    """The statuses in their life order (R-STA-1): sorting by status follows this order."""

    NEW = "new", "Nouveau"
    TAKEN = "taken", "Pris en charge"
    RESOLVED = "resolved", "Résolu"
    MESSAGE_SENT = "message_sent", "Message envoyé"
    MESSAGE_RECEIVED = "message_received", "Message reçu"
    CLOSED = "closed", "Clôturé"
    CANCELLED = "cancelled", "Annulé"


# Statuses in which the caisse still owes an answer (R-ORG-4, R-RGPD-1).
AWAITING_CAISSE = (RequestStatus.NEW.value, RequestStatus.TAKEN.value, RequestStatus.MESSAGE_SENT.value)


class RequestCounter(Model):
    """R-REQ-4: the per-caisse, per-year sequence, incremented in the filing transaction."""

    __tablename__ = "request_counter"

    caisse_id: Mapped[int] = mapped_column(ForeignKey("caisse.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)


# Trigram keys of a request's number and person's name within its caisse ("12:mar", "12:art"…): what
# ix_request_search_keys indexes. pg_trgm's trigrams (show_trgm: lowercased, words of letters and
# digits, padded with spaces), each prefixed with the caisse's id. SQL-standard body: show_trgm is
# bound when the function is created, whatever the search_path of a later session.
SEARCH_KEYS_FUNCTION = """
CREATE OR REPLACE FUNCTION ep_search_keys(caisse integer, number text, name text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY(SELECT caisse || ':' || t FROM unnest(show_trgm(number || ' ' || coalesce(name, ''))) AS t)
"""
SEARCH_KEYS_EXPRESSION = "ep_search_keys(caisse_id, number, person_search)"

# For metadata.create_all (the tests); the migration creates it for the databases it upgrades.
event.listen(db.metadata, "before_create", DDL(SEARCH_KEYS_FUNCTION).execute_if(dialect="postgresql"))

_ASCII_WORDS = re.compile(r"[A-Za-z0-9]+")


def search_keys(caisse_id: int, pattern: str) -> list[str]:
    """Keys that every request of the caisse matching `pattern` (ILIKE) holds in ep_search_keys:
    the trigrams of three ASCII letters or digits that follow each other in the pattern. Those three
    characters follow each other in the matching number or name, inside one of pg_trgm's words (they
    are letters or digits), so pg_trgm gives the row that trigram. Anything else — a LIKE wildcard, an
    accented letter, a space — only splits the words: fewer keys, never a key the row lacks. Empty
    when the pattern has no such trigram (then the search uses ix_request_search). This holds where
    the database's locale lowercases ASCII letters to ASCII letters: every locale but the Turkish and
    Azeri ones ("I" → "ı"), which a French caisse's database does not use."""
    words = [word.lower() for word in _ASCII_WORDS.findall(pattern)]
    return sorted({f"{caisse_id}:{word[i : i + 3]}" for word in words for i in range(len(word) - 2)})


class Request(Model):
    __tablename__ = "request"
    __table_args__ = (
        CheckConstraint("length(number) = 10", name="number_10_digits"),
        # The agent work queue (R-BO-1) reads its pages in index order and stops after the page
        # (views/requests.py): "Nouveau" oldest first — (caisse, status, deposited_at, id), which
        # also serves the status and overdue filters — then the others newest first —
        # (caisse, deposited_at, id) read backwards, which also serves the date filters.
        Index("ix_request_queue_status", "caisse_id", "status", "deposited_at", "id"),
        Index("ix_request_queue", "caisse_id", "deposited_at", "id"),
        # The queue filtered by offer or by motive, newest first, without sorting the caisse's rows.
        # The offer or motive leads: the same index serves the foreign key's checks, and no index of
        # the offer or motive alone is there for the planner to intersect with the caisse's "Nouveau"
        # (a posting of every caisse's requests for that motive: it grew with the whole table).
        Index("ix_request_offer_caisse_deposited", "service_offer_id", "caisse_id", "deposited_at", "id"),
        Index("ix_request_motive_caisse_deposited", "motive_id", "caisse_id", "deposited_at", "id"),
        # The partner history (R-HIS-1) and the queue's structure filter: a structure's requests
        # for one caisse, newest first.
        Index("ix_request_structure_caisse_deposited", "structure_id", "caisse_id", "deposited_at", "id"),
        Index("ix_request_caisse_person", "caisse_id", "person_last_name"),
        # "Mes demandes" and the "Pris en charge par" filter: an agent's requests by status.
        Index("ix_request_owner", "taken_by_agent_id", "status", "deposited_at", "id"),
        # The queue's search ("contient": number, person's folded name) within the caisse, on PostgreSQL:
        # trigrams of both columns next to the caisse (btree_gin), so a search reads the posting
        # lists of its caisse and its trigrams, not every row of the caisse (SQLite scans).
        Index(
            "ix_request_search",
            "caisse_id",
            "number",
            "person_search",
            postgresql_using="gin",
            postgresql_ops={"number": "gin_trgm_ops", "person_search": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        # The same search for an agent of one caisse, with keys that carry the caisse: each posting
        # list holds that caisse's requests only, so the search's cost follows the caisse's size, not
        # the whole table's (see search_keys below).
        Index("ix_request_search_keys", text(SEARCH_KEYS_EXPRESSION), postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(10), unique=True)
    caisse_id: Mapped[int] = mapped_column(ForeignKey("caisse.id"))
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    convention_id: Mapped[int] = mapped_column(ForeignKey("convention.id"))
    service_offer_id: Mapped[int] = mapped_column(ForeignKey("service_offer.id"))  # indexed above
    motive_id: Mapped[int | None] = mapped_column(ForeignKey("motive.id"))  # indexed above
    requester_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("partner_account.id", ondelete="SET NULL"), index=True
    )
    # Kept when the account is deleted (R-RGPD-2).
    requester_name: Mapped[str] = mapped_column(String(80))
    person_civility: Mapped[str | None] = mapped_column(String(10))
    person_last_name: Mapped[str | None] = mapped_column(String(30))
    person_first_name: Mapped[str | None] = mapped_column(String(20))
    person_birth_date: Mapped[date | None]
    person_birth_place: Mapped[str | None] = mapped_column(String(30))
    person_phone: Mapped[str | None] = mapped_column(String(14))
    # The folded "nom prénom" the queue's search matches (folding.person_search), kept by the
    # flush listener below: accents and case do not matter, first names are found.
    person_search: Mapped[str | None] = mapped_column(String(60))
    comment: Mapped[str] = mapped_column(Text)
    # Offer-specific answers: appointment modes, documents, R-REQ-6 blocks.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=RequestStatus.NEW.value)
    status_changed_at: Mapped[datetime] = mapped_column(default=now)
    deposited_at: Mapped[datetime] = mapped_column(default=now)
    taken_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    taken_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(Text)
    resolved_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(120))
    cancelled_at: Mapped[datetime | None]
    caisse_answers_in_exchange: Mapped[int] = mapped_column(default=0)

    caisse: Mapped[Caisse] = relationship()
    structure: Mapped[Structure] = relationship()
    convention: Mapped[Convention] = relationship()
    service_offer: Mapped[ServiceOffer] = relationship()
    motive: Mapped[Motive | None] = relationship()
    requester: Mapped[PartnerAccount | None] = relationship()
    taken_by: Mapped[Agent | None] = relationship(foreign_keys=[taken_by_agent_id])
    resolved_by: Mapped[Agent | None] = relationship(foreign_keys=[resolved_by_agent_id])

    @property
    def status_label(self) -> str:
        return RequestStatus(self.status).label


@event.listens_for(Request, "before_insert")
@event.listens_for(Request, "before_update")
def _fold_person(_mapper, _connection, target: Request) -> None:
    target.person_search = person_search(target.person_last_name, target.person_first_name)


class StatusChange(Model):
    """R-STA-5: every status change with its date and who made it."""

    __tablename__ = "status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("request.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(default=now)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("partner_account.id", ondelete="SET NULL"))


class ExchangeMessage(Model):
    """A message of the Q/R exchange (R-STA-3), from the partner or the caisse."""

    __tablename__ = "exchange_message"
    __table_args__ = (CheckConstraint("side IN ('partner', 'caisse')", name="side_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("request.id", ondelete="CASCADE"), index=True)
    side: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("partner_account.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(80))


class Attachment(Model):
    """Attachment metadata (R-REQ-3); the bytes live in AttachmentContent so lists never load them."""

    __tablename__ = "attachment"
    __table_args__ = (CheckConstraint("side IN ('partner', 'caisse')", name="side_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("request.id", ondelete="CASCADE"), index=True)
    exchange_message_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_message.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(255))
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=now, index=True)
    purged_at: Mapped[datetime | None]

    content: Mapped["AttachmentContent | None"] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class AttachmentContent(Model):
    __tablename__ = "attachment_content"

    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachment.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class StagedUpload(Model):
    """A file accepted while the rest of its form was refused: kept so it need not be chosen again.

    Owned by one partner account or agent; moved to Attachment when the form succeeds, purged by
    housekeeping after a day.
    """

    __tablename__ = "staged_upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("partner_account.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=now, index=True)


def holds_search_keys(keys: list[str]):
    """The condition ix_request_search_keys answers: the request holds every one of `keys`."""
    return func.ep_search_keys(Request.caisse_id, Request.number, Request.person_search).op("@>")(
        bindparam(None, keys, type_=ARRAY(Text))
    )
