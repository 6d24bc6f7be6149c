"""Statements built once per worker and run with the agent's ids as parameters.

Building a statement of the work queue (its subqueries, its union of index-ordered halves, its
capped count) and generating its SQLAlchemy cache key cost more CPU than PostgreSQL spends
answering it. A statement whose only per-agent values are the agent's id and caisse is built here
once, for a stand-in agent (`StandIn`) whose `id` and `caisse_id` are bind parameters, and kept
under its shape's key; each page runs it with the real agent's values (`params`). The SQL sent is
the one a freshly built statement sends (every value was a bind parameter already), so
PostgreSQL's plans are the same; SQLAlchemy's cache key is computed once per kept statement.

Kept: the menu's worklist counters (services/queue.worklist_counts, every back-office page) and the
page of the queue or a worklist without search or sort, unfiltered or with filters that say they do
not read the clock (`Conditions`: keyed by the view and the filters' arguments, values included).
Measured on the 1 M-request bench database (callgrind, instructions per page, in-process, 20 rows):
the agent's « Toutes » 39.0 → 32.2 million (−17.5 %), status = Clôturé 39.5 → 33.0 million
(−16.4 %), about 1.7 ms of CPU per page; a search keeps the counters only (−5.5 %).
"""

from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import Integer, bindparam

from ..extensions import db

AGENT_ID = "ep_agent_id"
CAISSE_ID = "ep_caisse_id"
MAX_KEPT = 512  # shapes × page numbers × page sizes; past it, the kept statements start over

_KEPT: dict[tuple, Any] = {}


class StandIn:
    """What services.scoping.caisse_filter and the worklists' conditions read of an agent, with
    the ids as bind parameters (required: a statement run without them fails, it never lists
    another caisse's rows)."""

    def __init__(self, national: bool):
        self.is_national_admin = national
        self.id = bindparam(AGENT_ID, type_=Integer)
        self.caisse_id = bindparam(CAISSE_ID, type_=Integer)


def params(agent) -> dict[str, Any]:
    """The values a kept statement runs with, for this agent."""
    return {AGENT_ID: agent.id, CAISSE_ID: agent.caisse_id}


def statement(key: tuple, build: Callable[[Any], Any], agent, keep: bool = True) -> tuple[Any, dict[str, Any]]:
    """(statement, parameters) for `agent`: `build(stand_in)` built once per worker under `key`
    (with the national admin's and a caisse's shapes apart), run with `params(agent)`. Not kept
    (`keep` false: the statement holds other values, such as a filter's) or for an agent of no
    caisse who is not the national admin (which the schema refuses): `build(agent)`, no parameters."""
    national = bool(agent.is_national_admin)
    if not keep or (not national and agent.caisse_id is None):
        return build(agent), {}
    full_key = (*key, national)
    kept = _KEPT.get(full_key)
    if kept is None:
        if len(_KEPT) >= MAX_KEPT:
            _KEPT.clear()
        kept = _KEPT[full_key] = build(StandIn(national))
    return kept, params(agent)


class Conditions(list):
    """SQL conditions with a key that names them, values included (the same key: the same
    conditions), so that a statement built with them can be kept: a list view's filters whose
    conditions do not read the clock (views/requests/queue.py)."""

    def __init__(self, conditions, key: tuple):
        super().__init__(conditions)
        self.key = key

    def __hash__(self) -> int:  # type: ignore[override]  # list is unhashable; this one has a key
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Conditions) and self.key == other.key


def page(build: partial, agent) -> tuple[Any, int]:
    """A list page's rows and its count. `build(agent)` (a partial: kept under its function's name
    and arguments, unless one of them is a list of conditions without a key) gives the page's
    statement, whose rows carry the count as their `total` column, and the count's statement
    alone, run when no row carries it (nothing matches, or a page past the end)."""
    keep = not any(isinstance(arg, list) and not isinstance(arg, Conditions) for arg in build.args)
    key = (build.func.__module__, build.func.__qualname__, *build.args)
    (rows_statement, count_statement), values = statement(key, build, agent, keep)
    rows = db.session.execute(rows_statement, values).all()
    return rows, (rows[0].total if rows else db.session.execute(count_statement, values).scalar_one())
