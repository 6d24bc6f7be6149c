"""The options of the work queue's filters (offer, motive, structure) for an agent's caisse, and the
caisse options stamp under which they — and the partner history's criteria lists — are kept.

They are read on every queue page, change rarely, and cost as much as the rest of the page's
queries: each worker keeps them under (caisse id, caisse options stamp). The stamp is a column of
the caisse, loaded with the agent on every request (services/auth.load_user), and any flush that
changes what the options list — a convention (its offers, its caisse), a caisse's motives, a
structure's name, a technician's name, state or arrival, an offer or a motive of the catalogue —
gives the caisses concerned a new stamp in the same transaction. A page therefore never shows options older than the data it reads; a
cache entry whose stamp is gone is simply never asked for again.
"""
import secrets
from collections.abc import Callable
from itertools import chain
from typing import NamedTuple, TypeVar

from sqlalchemy import any_, bindparam, event, exists, func, literal, null, select, union_all, update
from sqlalchemy.orm import Session, attributes

from ..extensions import db
from ..models import CaisseMotive, Convention, Motive, PartnerAccount, ServiceOffer, Structure
from ..models.caisses import Caisse

Options = dict[str, list[tuple[str, str]]]
T = TypeVar("T")


class QueueChoices(NamedTuple):
    """The filters' options, and the labels a queue row shows by id: every offer and every motive
    of the catalogue (a request keeps a motive the caisse no longer offers), the structures under
    convention with the caisse (a request is filed under one; the view reads the name of any other)."""

    options: Options
    labels: dict[str, dict[int, str]]


# Entries of every stamped list (queue choices per caisse, history lists per structure and caisse);
# past this many, the whole store is dropped (entries whose stamp is gone are never asked again).
MAX_ENTRIES = 4096

_kept: dict[tuple, object] = {}
_statements: dict = {}


def kept(caisse, key: tuple, build: Callable[[], T]) -> T:
    """build()'s result, kept by this worker under (caisse, its options stamp, key): whatever a
    list under the stamp shows, every change of it renews the stamp (the listener below)."""
    full_key = (caisse.id, caisse.options_stamp, *key)
    value = _kept.get(full_key)
    if value is None:
        value = build()
        if len(_kept) >= MAX_ENTRIES:
            _kept.clear()
        _kept[full_key] = value
    return value


def options_for(agent) -> QueueChoices:
    """options: {"offer": [...], "motive": [...], "structure": [...]} as (value, label) pairs, scoped
    to the agent's caisse (the national admin: every motive and every structure under convention);
    labels: {"offer": {id: label}, "motive": {id: label}, "structure": {id: name}}."""
    if agent.is_national_admin or agent.caisse is None:
        return _read(None, None)
    return kept(agent.caisse, ("queue",), lambda: _read(db.engine.dialect.name, agent.caisse_id))


def _read(dialect: str | None, caisse_id: int | None) -> QueueChoices:
    params = {} if caisse_id is None else {"caisse_id": caisse_id}
    options: Options = {"offer": [], "motive": [], "structure": []}
    labels: dict[str, dict[int, str]] = {"offer": {}, "motive": {}, "structure": {}}
    for kind, id_, label, offer in db.session.execute(_statement(dialect), params):
        if kind == "label":  # a motive of the catalogue, offered by the caisse or not
            labels["motive"][id_] = label
            continue
        labels[kind][id_] = label
        options[kind].append((str(id_), f"{label} ({offer})" if kind == "motive" else label))
    return QueueChoices(options, labels)


def _statement(dialect: str | None):
    """The three lists in one statement, built once: for a caisse (bound :caisse_id) on this
    dialect, or for the national admin (dialect None)."""
    if dialect in _statements:
        return _statements[dialect]
    offers = select(
        literal("offer").label("kind"), ServiceOffer.id, ServiceOffer.label, null().label("offer"),
        ServiceOffer.position.label("p1"), literal(0).label("p2"),
    )
    motives = select(
        literal("motive"), Motive.id, Motive.label, ServiceOffer.label, ServiceOffer.position, Motive.position,
    ).join(ServiceOffer, ServiceOffer.id == Motive.service_offer_id)
    under_convention = select(Convention.structure_id)
    if dialect is None:
        in_caisse = Structure.id.in_(under_convention)
    else:
        caisse_id = bindparam("caisse_id")
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
        literal("structure"), Structure.id, Structure.name, null(), literal(0), literal(0),
    ).where(in_caisse)
    every_motive = select(literal("label"), Motive.id, Motive.label, null(), literal(0), literal(0))
    union = union_all(offers, motives, structures, every_motive).subquery()
    statement = select(union.c.kind, union.c.id, union.c.label, union.c.offer).order_by(
        union.c.kind, union.c.p1, union.c.p2, union.c.label, union.c.id
    )
    _statements[dialect] = statement
    return statement


# --- the stamps --------------------------------------------------------------------------------


def renew_stamps(session: Session, caisse_ids=None, structure_ids=None, every_caisse: bool = False) -> None:
    """Give the caisses concerned a new options stamp, in the session's transaction."""
    stamp = secrets.token_hex(16)
    connection = session.connection()
    if every_caisse:
        connection.execute(update(Caisse).values(options_stamp=stamp))
        return
    if caisse_ids:
        connection.execute(update(Caisse).where(Caisse.id.in_(sorted(caisse_ids))).values(options_stamp=stamp))
    if structure_ids:
        linked = select(Convention.caisse_id).where(Convention.structure_id.in_(sorted(structure_ids)))
        connection.execute(update(Caisse).where(Caisse.id.in_(linked)).values(options_stamp=stamp))


# What the partner history's 'Demandeur' list shows of an account (services/history.py).
_REQUESTER_FIELDS = ("usage_name", "birth_name", "first_name", "active", "role", "structure_id")


@event.listens_for(Session, "before_flush")
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
        renew_stamps(session, caisse_ids, structure_ids, every_caisse)


def _values(obj, name: str) -> set:
    """The attribute's current value and, when it changed in this flush, its former one."""
    history = attributes.get_history(obj, name)
    return {*history.added, *history.unchanged, *history.deleted} or {getattr(obj, name)}
