"""The per-worker caches of lists that change rarely, kept under the caisse options stamp.

What is kept: the work queue's filter options and row labels (offer, motive, structure, the caisse's
agents: `options_for`) and the partner history's criteria lists (services/history.criteria_options). They are read on every page
and cost as much as the rest of its queries, so each worker keeps them under (caisse id, caisse
options stamp, key) — `kept`.

The stamp is a column of the caisse, loaded with the agent or the account on every request
(services/auth.load_user). Whatever changes what a kept list shows — a convention (its offers, its
caisse), a caisse's motives, a structure's name, a technician's name, state or arrival, an agent's
name, state, role or arrival, an offer or a motive of the catalogue — gives the caisses concerned a new stamp in the same transaction, through
one function, `renew`:
- changes made through the ORM are seen by the flush listener below;
- a bulk statement (an `update()`, `delete()` or `insert()` executed without loading the objects)
  calls `renew` itself, before the statement, in its transaction;
- a bulk statement on one of those tables that forgot to is caught by the session's execute
  listener, which renews every caisse and logs a warning: the caches stay right, only colder.
A page therefore never shows lists older than the data it reads; an entry whose stamp is gone is
simply never asked for again. As a safety net against a change made behind the application's back
(a manual SQL fix), an entry is also built again once it is older than CAISSE_CACHE_TTL_SECONDS.

`init_app` (called by create_app) registers the listeners.
"""

import logging
import secrets
import time
from collections.abc import Callable, Iterable
from itertools import chain
from typing import NamedTuple, TypeVar

from flask import Flask, current_app
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    any_,
    bindparam,
    case,
    event,
    exists,
    func,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, attributes

from ..extensions import db
from ..models import CaisseMotive, Convention, Motive, PartnerAccount, ServiceOffer, Structure, convention_offer
from ..models.caisses import Agent, Caisse

Options = dict[str, list[tuple[str, str]]]
T = TypeVar("T")

log = logging.getLogger(__name__)

# How long an entry may serve at most, even when no stamp changed (seconds).
DEFAULT_TTL_SECONDS = 300

# The tables whose rows the kept lists show: a bulk statement on one of them must renew the stamps.
LISTED_TABLES = frozenset(
    (
        Convention.__tablename__,
        convention_offer.name,
        CaisseMotive.__tablename__,
        Structure.__tablename__,
        PartnerAccount.__tablename__,
        ServiceOffer.__tablename__,
        Motive.__tablename__,
        Agent.__tablename__,
    )
)

# session.info key: renew() was called in the session's current transaction.
_RENEWED = "ep_caisse_cache_renewed"


def init_app(app: Flask) -> None:
    """The TTL setting and the listeners (registered once per process: they watch every Session)."""
    app.config.setdefault("CAISSE_CACHE_TTL_SECONDS", DEFAULT_TTL_SECONDS)
    for name, listener in (
        ("before_flush", _renew_on_flush),
        ("do_orm_execute", _watch_bulk_statements),
        ("after_transaction_end", _forget_renewal),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


class QueueChoices(NamedTuple):
    """The filters' options, and the labels a queue row shows by id: every offer and every motive
    of the catalogue (a request keeps a motive the caisse no longer offers), the structures under
    convention with the caisse (a request is filed under one; the view reads the name of any other),
    the caisse's agents (« Pris en charge par »; labels["inactive"]: those no longer active) and,
    for the national admin, every agent and every caisse (« Organisme »)."""

    options: Options
    labels: dict[str, dict[int, str]]


# Entries of every stamped list (queue choices per caisse, history lists per structure and caisse);
# past this many, the whole store is dropped (entries whose stamp is gone are never asked again).
MAX_ENTRIES = 4096

_kept: dict[tuple, tuple[float, object]] = {}
_statements: dict = {}


def kept(caisse, key: tuple, build: Callable[[], T]) -> T:
    """build()'s result, kept by this worker under (caisse, its options stamp, key) for at most
    CAISSE_CACHE_TTL_SECONDS: whatever a list under the stamp shows, every change of it renews the
    stamp (`renew`)."""
    full_key = (caisse.id, caisse.options_stamp, *key)
    moment = time.time()
    entry = _kept.get(full_key)
    if entry is not None and moment < entry[0]:
        return entry[1]  # type: ignore[return-value]
    value = build()
    if len(_kept) >= MAX_ENTRIES:
        _kept.clear()
    _kept[full_key] = (moment + current_app.config["CAISSE_CACHE_TTL_SECONDS"], value)
    return value


def options_for(agent) -> QueueChoices:
    """options: {"offer": [...], "motive": [...], "structure": [...], "agent": [...], "caisse": [...]}
    as (value, label) pairs, scoped to the agent's caisse (the national admin: every motive, every
    structure under convention, every agent and every caisse); labels: the same kinds as {id: label},
    and "inactive": {id: name} of the inactive agents."""
    if agent.is_national_admin or agent.caisse is None:
        return _read(None, None)
    return kept(agent.caisse, ("queue",), lambda: _read(db.engine.dialect.name, agent.caisse_id))


def _read(dialect: str | None, caisse_id: int | None) -> QueueChoices:
    params = {} if caisse_id is None else {"caisse_id": caisse_id}
    options: Options = {"offer": [], "motive": [], "structure": [], "agent": [], "caisse": []}
    labels: dict[str, dict[int, str]] = {kind: {} for kind in (*options, "inactive")}
    for kind, id_, label, offer in db.session.execute(_statement(dialect), params):
        if kind == "label":  # a motive of the catalogue, offered by the caisse or not
            labels["motive"][id_] = label
            continue
        if kind == "agent_inactive":
            labels["inactive"][id_] = label
            kind = "agent"
        labels[kind][id_] = label
        shown = f"{label} ({offer})" if offer is not None and kind in ("motive", "agent") else label
        options[kind].append((str(id_), shown))
    return QueueChoices(options, labels)


def _statement(dialect: str | None):
    """The three lists in one statement, built once: for a caisse (bound :caisse_id) on this
    dialect, or for the national admin (dialect None)."""
    if dialect in _statements:
        return _statements[dialect]
    offers = select(
        literal("offer").label("kind"),
        ServiceOffer.id,
        ServiceOffer.label,
        null().label("offer"),
        ServiceOffer.position.label("p1"),
        literal(0).label("p2"),
    )
    motives = select(
        literal("motive"),
        Motive.id,
        Motive.label,
        ServiceOffer.label,
        ServiceOffer.position,
        Motive.position,
    ).join(ServiceOffer, ServiceOffer.id == Motive.service_offer_id)
    under_convention = select(Convention.structure_id)
    in_caisse: ColumnElement[bool]
    if dialect is None:
        in_caisse = Structure.id.in_(under_convention)
    else:
        caisse_id: BindParameter[int] = bindparam("caisse_id")
        motives = motives.where(
            exists().where(CaisseMotive.motive_id == Motive.id, CaisseMotive.caisse_id == caisse_id)
        )
        under_convention = under_convention.where(Convention.caisse_id == caisse_id)
        if dialect == "postgresql":
            # PostgreSQL's planner would hash the whole structure table for the semi-join; an array
            # of the caisse's few structure ids makes it fetch them by primary key.
            in_caisse = Structure.id == any_(func.array(under_convention.scalar_subquery()))
        else:
            in_caisse = Structure.id.in_(under_convention)
    structures = select(
        literal("structure"),
        Structure.id,
        Structure.name,
        null(),
        literal(0),
        literal(0),
    ).where(in_caisse)
    every_motive = select(literal("label"), Motive.id, Motive.label, null(), literal(0), literal(0))
    # The agents by name (the inactive ones after); the national admin's are named with their caisse.
    agent_name = Agent.first_name + literal(" ") + Agent.last_name
    agents = select(
        case((Agent.active, literal("agent")), else_=literal("agent_inactive")),
        Agent.id,
        agent_name,
        Caisse.name if dialect is None else null(),
        case((Agent.active, 0), else_=1),
        literal(0),
    )
    branches = [offers, motives, structures, every_motive]
    if dialect is None:
        agents = agents.join(Caisse, Caisse.id == Agent.caisse_id)
        branches.append(select(literal("caisse"), Caisse.id, Caisse.name, null(), literal(0), literal(0)))
    else:
        agents = agents.where(Agent.caisse_id == caisse_id)
    branches.append(agents)
    union = union_all(*branches).subquery()
    statement = select(union.c.kind, union.c.id, union.c.label, union.c.offer).order_by(
        union.c.kind, union.c.p1, union.c.p2, union.c.label, union.c.id
    )
    _statements[dialect] = statement
    return statement


# --- the stamps --------------------------------------------------------------------------------


def renew(
    caisse_ids: Iterable[int] = (),
    structure_ids: Iterable[int] = (),
    every_caisse: bool = False,
    session: Session | None = None,
) -> None:
    """Give the caisses concerned a new options stamp, in the session's transaction (db.session by
    default): the given caisses, the caisses under convention with the given structures, or every
    caisse. A bulk statement on a listed table calls it first, in its transaction: that transaction
    is then trusted with its bulk statements (the execute listener leaves them alone)."""
    session = db.session() if session is None else session
    session.info[_RENEWED] = True
    _new_stamp(session, caisse_ids, structure_ids, every_caisse)


def _new_stamp(session: Session, caisse_ids: Iterable[int], structure_ids: Iterable[int], every_caisse: bool) -> None:
    """The one writer of the stamps (renew, and the flush listener for what the ORM changes)."""
    caisse_ids = sorted({i for i in caisse_ids if i is not None})
    structure_ids = sorted({i for i in structure_ids if i is not None})
    stamp = secrets.token_hex(16)
    connection = session.connection()
    if every_caisse:
        connection.execute(update(Caisse).values(options_stamp=stamp))
        return
    if caisse_ids:
        connection.execute(update(Caisse).where(Caisse.id.in_(caisse_ids)).values(options_stamp=stamp))
    if structure_ids:
        linked = select(Convention.caisse_id).where(Convention.structure_id.in_(structure_ids))
        connection.execute(update(Caisse).where(Caisse.id.in_(linked)).values(options_stamp=stamp))


def _watch_bulk_statements(state: ORMExecuteState) -> None:
    """A bulk statement on a listed table, in a transaction that did not renew: renew every caisse."""
    if not (state.is_update or state.is_delete or state.is_insert) or state.session.info.get(_RENEWED):
        return
    name = getattr(getattr(state.statement, "table", None), "name", None)
    if name in LISTED_TABLES:
        log.warning("Bulk statement on %s without caisse_cache.renew(): every caisse's stamp renewed", name)
        _new_stamp(state.session, (), (), every_caisse=True)


def _forget_renewal(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_RENEWED, None)


# What the queue's « Pris en charge par » shows of an agent (options_for).
_AGENT_FIELDS = ("first_name", "last_name", "active", "role", "caisse_id")

# What the partner history's 'Demandeur' list shows of an account (services/history.py).
_REQUESTER_FIELDS = ("usage_name", "birth_name", "first_name", "active", "role", "structure_id")


def _renew_on_flush(session: Session, _context, _instances) -> None:
    caisse_ids: set[int] = set()
    structure_ids: set[int] = set()
    every_caisse = False
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, (ServiceOffer, Motive)):
            every_caisse = True
        elif isinstance(obj, Convention):
            caisse_ids.update(_values(obj, "caisse_id"))
            if obj.caisse_id is None and obj.caisse is not None:
                caisse_ids.add(obj.caisse.id)
        elif isinstance(obj, CaisseMotive):
            caisse_ids.update(_values(obj, "caisse_id"))
        elif isinstance(obj, Agent) and (
            obj not in session.dirty or any(attributes.get_history(obj, f).has_changes() for f in _AGENT_FIELDS)
        ):
            caisse_ids.update(_values(obj, "caisse_id"))
            if obj.caisse_id is None and obj.caisse is not None:
                caisse_ids.add(obj.caisse.id)
        elif isinstance(obj, Structure) and obj.id is not None and attributes.get_history(obj, "name").has_changes():
            structure_ids.add(obj.id)
        elif isinstance(obj, PartnerAccount) and (
            obj not in session.dirty or any(attributes.get_history(obj, f).has_changes() for f in _REQUESTER_FIELDS)
        ):
            structure_ids.update(_values(obj, "structure_id"))
            if obj.structure_id is None and obj.structure is not None:
                structure_ids.add(obj.structure.id)
    caisse_ids.discard(None)
    structure_ids.discard(None)
    if every_caisse or caisse_ids or structure_ids:
        _new_stamp(session, caisse_ids, structure_ids, every_caisse)


def _values(obj, name: str) -> set:
    """The attribute's current value and, when it changed in this flush, its former one."""
    history = attributes.get_history(obj, name)
    return {*history.added, *history.unchanged, *history.deleted} or {getattr(obj, name)}
