"""The daily digest (issue 13 §6): one e-mail a day to each agent of a caisse, through the outbox.

`send_digests` (run by `flask digest` and by `flask housekeeping`) queues, from DIGEST_HOUR
(Europe/Paris, 7 by default) on, one e-mail per Paris calendar day to every active agent and caisse
admin of a caisse whose digest is on (Agent.digest_enabled; the national admin gets none). It lists:

- the caisse's "Nouveau" requests: those past the 48-hour target (R-BO-5, overdue), then the others;
- the agent's own open requests (taken by them, "Pris en charge" or "Message envoyé");
- the partners' Q/R messages waiting for the agent's answer (their requests in "Message envoyé"),
  with how long they have waited.

Each list shows its LIST_LIMIT oldest requests and how many others there are, never the whole table.

At most once per agent and day, whatever the number of runs or machines: the AgentDigest row
(agent, day) is inserted first, INSERT … ON CONFLICT DO NOTHING on its primary key, in the same
transaction as the outbox row; a run whose insert adds no row (another run has it, committed or
not yet) queues nothing for that agent. An agent with nothing to list gets no e-mail, but the day
is settled all the same (the row is kept): the digest reflects the queue at the digest hour, and
a run later that day does not send one because a request came in since.

`set_digest_preference` is the agent's "Mon compte" switch (views/profile.py), audited.
"""

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple, cast

from flask import current_app
from sqlalchemy import CursorResult, Insert, Select, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..clock import PARIS, format_date, format_datetime, now
from ..extensions import db
from ..models import Agent, AgentDigest, AgentRole, Request, RequestStatus, ServiceOffer, Structure
from . import audit, outbox, statements
from .errors import DomainError
from .queue import HANDLING_TARGET

KIND = "digest"
# How many requests each list of the e-mail shows (the oldest first); "et N autres" says the rest.
LIST_LIMIT = 20
# The roles that get a digest: the staff of a caisse.
DIGEST_ROLES = (AgentRole.AGENT.value, AgentRole.CAISSE_ADMIN.value)
STATUS_LABELS = dict(RequestStatus.choices())
OPEN_STATUSES = (RequestStatus.TAKEN.value, RequestStatus.MESSAGE_SENT.value)
NOT_FOR_NATIONAL = "Le récapitulatif quotidien est réservé aux agents et administrateurs d'un organisme."


class Item(NamedTuple):
    """One request of a list: what the e-mail shows of it."""

    number: str
    deposited: str  # "01/12/2026 09h15min", Paris time
    offer: str
    structure: str
    note: str  # "en retard de 3h", "Pris en charge", "en attente depuis 26h", or ""
    id: int  # the templates link the request screen


class Section(NamedTuple):
    title: str
    items: Sequence[Item]
    total: int
    empty: str  # what the e-mail says when the list is empty

    @property
    def more(self) -> int:
        """How many requests the list does not show ("et 35 autres")."""
        return self.total - len(self.items)


# --- the digest's hour and day --------------------------------------------------------------------


def digest_hour() -> int:
    hour = current_app.config.get("DIGEST_HOUR", 7)
    if not isinstance(hour, int) or not 0 <= hour <= 23:
        raise ValueError(f"DIGEST_HOUR doit être une heure entière de 0 à 23 (reçu : {hour!r}).")
    return hour


def _utc_naive(moment: datetime | None) -> datetime:
    if moment is None:
        return now()
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment  # naive: UTC, the storage convention


def digest_day(moment: datetime) -> date | None:
    """The Paris day whose digest is due at `moment` (naive UTC), or None before DIGEST_HOUR."""
    local = moment.replace(tzinfo=timezone.utc).astimezone(PARIS)
    return local.date() if local.hour >= digest_hour() else None


# --- sending --------------------------------------------------------------------------------------


def send_digests(moment: datetime | None = None) -> int:
    """Queue today's digest of every agent who should get one and has not yet; how many were queued.

    Each agent is its own transaction (the day's AgentDigest row, then the outbox row), committed."""
    moment = _utc_naive(moment)
    day = digest_day(moment)
    if day is None:
        return 0
    queued = 0
    caisse_sections: dict[int, list[Section]] = {}
    for agent_id in _due_agent_ids(day):
        try:
            if not _claim(agent_id, day, moment):
                db.session.rollback()
                continue
            agent = db.session.get(Agent, agent_id)
            if agent is None or agent.caisse_id is None:  # pragma: no cover - deleted meanwhile
                db.session.rollback()
                continue
            if agent.caisse_id not in caisse_sections:
                caisse_sections[agent.caisse_id] = _caisse_sections(agent.caisse_id, moment)
            sections = caisse_sections[agent.caisse_id] + _own_sections(agent, moment)
            if any(section.total for section in sections):
                _enqueue(agent, day, sections)
                queued += 1
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    return queued


def _due_agent_ids(day: date) -> list[int]:
    """The agents due a digest for `day`: active staff of a caisse with the digest on, not yet settled."""
    settled = exists().where(AgentDigest.agent_id == Agent.id, AgentDigest.day == day)
    return list(
        db.session.scalars(
            select(Agent.id)
            .where(
                Agent.active.is_(True),
                Agent.digest_enabled.is_(True),
                Agent.role.in_(DIGEST_ROLES),
                Agent.caisse_id.is_not(None),
                ~settled,
            )
            .order_by(Agent.caisse_id, Agent.id)
        )
    )


def _claim(agent_id: int, day: date, moment: datetime) -> bool:
    """Insert the agent's row for the day, first in the transaction; False when a row is there (a
    run that already did it, or another one now: its commit or rollback decides, this waits)."""
    values = {"agent_id": agent_id, "day": day, "queued_at": moment}
    statement: Insert
    if db.engine.dialect.name == "postgresql":
        statement = pg_insert(AgentDigest).values(**values).on_conflict_do_nothing(index_elements=["agent_id", "day"])
    else:
        statement = sqlite_insert(AgentDigest).values(**values).on_conflict_do_nothing()
    # An INSERT's rowcount is only kept when asked for (SQLAlchemy's preserve_rowcount).
    result = db.session.execute(statement, execution_options={"preserve_rowcount": True})
    return cast(CursorResult, result).rowcount == 1


def _enqueue(agent: Agent, day: date, sections: list[Section]) -> None:
    outbox.enqueue(
        KIND,
        agent.email,
        "digest",
        caisse_id=agent.caisse_id,
        agent=agent,
        day=format_date(day),
        sections=sections,
    )


# --- what the e-mail lists ------------------------------------------------------------------------


def _caisse_sections(caisse_id: int, moment: datetime) -> list[Section]:
    """The caisse's "Nouveau" requests: overdue (R-BO-5: deposited more than 48 hours ago), then the others."""
    limit = moment - HANDLING_TARGET
    new = (Request.caisse_id == caisse_id, Request.status == RequestStatus.NEW.value)
    overdue = _section(
        "Demandes en retard (« Nouveau » depuis plus de 48 h)",
        "Aucune demande en retard.",
        (*new, Request.deposited_at < limit),
        Request.deposited_at,
        lambda row: _late_label(moment - row.deposited_at - HANDLING_TARGET),
    )
    fresh = _section(
        "Nouvelles demandes (« Nouveau », dans le délai de 48 h)",
        "Aucune nouvelle demande.",
        (*new, Request.deposited_at >= limit),
        Request.deposited_at,
        lambda row: "",
    )
    return [overdue, fresh]


def _own_sections(agent: Agent, moment: datetime) -> list[Section]:
    """The agent's open requests, and the partners' messages waiting for the agent's answer."""
    owned = (Request.caisse_id == agent.caisse_id, Request.taken_by_agent_id == agent.id)
    mine = _section(
        "Vos demandes en cours (prises en charge par vous)",
        "Aucune demande en cours.",
        (*owned, Request.status.in_(OPEN_STATUSES)),
        Request.deposited_at,
        lambda row: STATUS_LABELS[row.status],
    )
    waiting = _section(
        "Messages en attente de votre réponse (« Message envoyé »)",
        "Aucun message en attente.",
        (*owned, Request.status == RequestStatus.MESSAGE_SENT.value),
        Request.status_changed_at,
        lambda row: f"en attente depuis {_amount(moment - row.status_changed_at)}",
    )
    return [mine, waiting]


def _section(title: str, empty: str, conditions, order, note) -> Section:
    """The LIST_LIMIT first requests matching `conditions` by `order` (oldest first), with their
    offer and structure, and how many match (two bounded statements)."""
    query: Select = (
        select(
            Request.id,
            Request.number,
            Request.deposited_at,
            Request.status,
            Request.status_changed_at,
            ServiceOffer.label.label("offer"),
            Structure.name.label("structure"),
        )
        .join(ServiceOffer, ServiceOffer.id == Request.service_offer_id)
        .join(Structure, Structure.id == Request.structure_id)
        .where(*conditions)
        .order_by(order, Request.id)
        .limit(LIST_LIMIT)
    )
    rows = db.session.execute(query).all()
    total = len(rows)
    if total == LIST_LIMIT:
        total = db.session.scalar(select(func.count()).select_from(Request).where(*conditions)) or 0
    items = [
        Item(
            number=row.number,
            deposited=format_datetime(row.deposited_at),
            offer=row.offer,
            structure=row.structure,
            note=note(row),
            id=row.id,
        )
        for row in rows
    ]
    return Section(title, items, total, empty)


def _amount(delta: timedelta) -> str:
    """A wait as the queue shows the 48-hour target: "26h", or "12 min" under one hour."""
    seconds = max(delta.total_seconds(), 0)
    if seconds >= 3600:
        return f"{int(seconds // 3600)}h"
    return f"{max(int(seconds // 60), 1)} min"


def _late_label(delta: timedelta) -> str:
    return f"en retard de {_amount(delta)}"


# --- the agent's switch ---------------------------------------------------------------------------


def set_digest_preference(agent: Agent, enabled: bool) -> bool:
    """Turn the agent's daily digest on or off, audited and committed; False when it already was so."""
    if agent.role not in DIGEST_ROLES:
        raise DomainError(NOT_FOR_NATIONAL)
    changed = statements.affected(
        update(Agent)
        .where(Agent.id == agent.id, Agent.digest_enabled != enabled)
        .values(digest_enabled=enabled)
        .execution_options(synchronize_session=False)
    )
    if changed:
        audit.record(
            "agent.digest_preference",
            actor=agent,
            target=agent,
            caisse_id=agent.caisse_id,
            digest_enabled=enabled,
        )
    db.session.commit()
    db.session.refresh(agent)
    return bool(changed)
