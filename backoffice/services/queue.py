"""The agent work queue's query (R-BO-1, R-BO-5): search, filters, order, paging and the capped count.

`queue_page` reads one page of a caisse's queue in as few statements as the list needs (one
statement for a page, the count riding along its rows), whatever the size of the caisse's history:

- the queue order of R-BO-1 (`queue_order`) is read in two index-ordered halves bounded by the page
  ("Nouveau" oldest first, the others newest first) rather than by sorting the whole queue;
- the count stops at COUNT_CAP + 1 (`CappedCount` then says "plus de N");
- a search is matched once, counted with count(*) OVER () and sorted in the queue order;
- a clicked column's order reads the page's ids, then their rows.

The worklists of issue 13 (`TODO` « À traiter », `MINE` « Mes demandes ») are the same queue with a
fixed condition, oldest first (`worklist_order`), read in index-ordered halves per status too; their
capped counts for the menu come in one statement (`worklist_counts`).

The back-office list (views/requests/queue.py) only turns its Flask-Admin arguments into these.
"""

from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any, NamedTuple

from sqlalchemy import and_, any_, case, desc, func, or_, select, union_all
from sqlalchemy.orm import aliased, joinedload

from ..clock import now
from ..extensions import db
from ..folding import fold
from ..models import Agent, Caisse, Motive, Request, RequestStatus, ServiceOffer, Structure
from ..models.requests import holds_search_keys, search_keys
from . import prebuilt
from .scoping import caisse_filter

# The list counts at most this many rows: beyond, it shows "plus de 1000" (a caisse's queue holds
# years of closed requests; counting them all on every page would grow with the table).
COUNT_CAP = 1000

HANDLING_TARGET = timedelta(hours=48)  # R-BO-5 (services.requests.time_left reads it too)

# The columns a queue row shows: plain columns, no ORM entity (views/requests/queue.py, QueueRow).
QUEUE_COLUMNS = (
    Request.id,
    Request.number,
    Request.deposited_at,
    Request.status,
    Request.person_civility,
    Request.person_last_name,
    Request.person_first_name,
    Request.service_offer_id,
    Request.motive_id,
    Request.structure_id,
    Request.caisse_id,
    Request.taken_by_agent_id,
    Request.status_changed_at,
)


class CappedCount(int):
    """A count that stopped past COUNT_CAP: pagination uses the number, the page shows "plus de N"."""

    def __str__(self) -> str:
        return f"plus de {COUNT_CAP}"


class QueuePage(NamedTuple):
    rows: Sequence[Any]  # rows of QUEUE_COLUMNS, in the page's order
    total: int  # the number of matches, a CappedCount past COUNT_CAP


# --- R-BO-1 and R-BO-5 in SQL ------------------------------------------------------------------


def overdue_condition():
    """R-BO-5 in SQL: still "Nouveau" more than 48 hours after deposit (same boundary as
    services.requests.time_left)."""
    return and_(Request.status == RequestStatus.NEW.value, Request.deposited_at < now() - HANDLING_TARGET)


def queue_order(columns=None) -> list:
    """R-BO-1: "Nouveau" first, oldest first (the most urgent on top), then the others newest first.

    `columns`: where the request's columns come from (a subquery's `.c`), the table by default."""
    c = Request if columns is None else columns
    is_new = c.status == RequestStatus.NEW.value
    return [
        case((is_new, 0), else_=1),
        case((is_new, c.deposited_at)).asc(),
        c.deposited_at.desc(),
        c.id.desc(),
    ]


def status_rank(column=None):
    """The status in its life order (RequestStatus's declaration order, R-STA-1), not its code."""
    return case(
        {s.value: rank for rank, s in enumerate(RequestStatus)}, value=column if column is not None else Request.status
    )


# --- the worklists (issue 13) ------------------------------------------------------------------


class Worklist(NamedTuple):
    """A fixed part of the queue: these statuses (and, `mine`, the agent's own requests), oldest first."""

    key: str
    statuses: tuple[RequestStatus, ...]
    mine: bool = False


# « À traiter »: what the caisse owes a partner (a new request, a partner's message).
TODO = Worklist("todo", (RequestStatus.NEW, RequestStatus.MESSAGE_SENT))
# « Mes demandes »: what the agent owns and still has to handle (Résolu and Message reçu wait on the partner).
MINE = Worklist("mine", (RequestStatus.TAKEN, RequestStatus.MESSAGE_SENT), mine=True)


def worklist_conditions(agent: Agent, worklist: Worklist) -> list:
    """The worklist's fixed condition: its statuses (served by ix_request_queue_status), and for
    « Mes demandes » the agent as owner (ix_request_owner)."""
    conditions: list = [Request.status.in_([s.value for s in worklist.statuses])]
    if worklist.mine:
        conditions.append(Request.taken_by_agent_id == agent.id)
    return conditions


def worklist_order(columns=None) -> list:
    """A worklist's order: the oldest deposit first (what has waited longest on top)."""
    c = Request if columns is None else columns
    return [c.deposited_at.asc(), c.id.asc()]


def worklists_for(agent: Agent) -> tuple[Worklist, ...]:
    """The worklists the agent has: the national admin takes nothing, so has no « Mes demandes »."""
    return (TODO,) if agent.is_national_admin else (TODO, MINE)


def worklist_counts(agent: Agent) -> dict[str, int]:
    """The menu's counters: each worklist's number of requests, capped at COUNT_CAP (a CappedCount
    past it), in ONE statement of scalar subqueries, each an index-only read stopped at COUNT_CAP + 1."""
    row = db.session.execute(*prebuilt.statement(("worklist_counts",), _counts_statement, agent)).one()
    return {w.key: _capped(getattr(row, w.key)) for w in worklists_for(agent)}


def _counts_statement(agent) -> Any:  # built once per worker (services/prebuilt.py)
    ids = {w.key: select(Request.id).where(*queue_conditions(agent, worklist=w)) for w in worklists_for(agent)}
    return select(*(_capped_count(i).label(key) for key, i in ids.items()))


def orphaned_condition():
    """« À réattribuer »: a request whose owner is inactive or gone (services/requests/ownership.py;
    imported here when called: services/requests imports this module)."""
    from .requests.ownership import orphaned_condition as orphaned

    return orphaned()


# --- search ------------------------------------------------------------------------------------


def like_pattern(term: str) -> str:
    """A search word as a LIKE pattern, as Flask-Admin reads it: "^mot" starts with, "=mot" equals,
    anything else contains."""
    if term.startswith("^"):
        return f"{term[1:]}%"
    if term.startswith("="):
        return term[1:]
    return f"%{term}%"


def search_conditions(agent: Agent, search: str) -> list:
    """One condition per word of `search`: the word in the number, the person's name (last or first
    name, folded: neither accents nor case matter, see backoffice/folding.py) or the structure's
    name (folded too), written so PostgreSQL's indexes serve it: the columns are not cast, the
    structure names are matched on their own table, whose few ids then select the caisse's requests
    (no join of every row of the caisse), and for an agent of one caisse the number and name are
    first narrowed by the caisse's own trigram keys (ix_request_search_keys), whose posting lists
    hold that caisse's requests only."""
    postgresql = db.engine.dialect.name == "postgresql"
    caisse_id = None if agent.is_national_admin else agent.caisse_id
    conditions = []
    for term in search.split(" "):
        if not term:
            continue
        pattern = fold(like_pattern(term))
        structures = select(Structure.id).where(Structure.search_name.like(pattern))
        if postgresql:
            in_structures = Request.structure_id == any_(func.array(structures.scalar_subquery()))
        else:
            in_structures = Request.structure_id.in_(structures)
        in_columns = or_(Request.number.like(pattern), Request.person_search.like(pattern))
        condition = or_(in_columns, in_structures)
        keys = search_keys(caisse_id, pattern) if postgresql and caisse_id is not None else []
        if keys:
            # (keys ∨ structures) ∧ (columns ∨ structures) is the condition itself, as a row of the
            # caisse matching the columns holds the keys; the first half is what the indexes
            # answer (a BitmapOr), the second is checked on those rows only.
            condition = and_(or_(holds_search_keys(keys), in_structures), condition)
        conditions.append(condition)
    return conditions


# --- the page ----------------------------------------------------------------------------------

# A clicked column header: the column sorted, and the relation to join for it (an outer join, so a
# request without a motive stays listed), as Flask-Admin's own sort did.
SORTS: dict[str, tuple[Callable[..., Any], tuple[Any, Any] | None]] = {
    "number": (lambda: Request.number, None),
    "deposited_at": (lambda: Request.deposited_at, None),
    "status": (lambda: status_rank(), None),
    "service_offer": (lambda alias: alias.label, (ServiceOffer, Request.service_offer)),
    "motive": (lambda alias: alias.label, (Motive, Request.motive)),
    "structure": (lambda alias: alias.name, (Structure, Request.structure)),
    "person": (lambda: Request.person_last_name, None),
    "caisse": (lambda alias: alias.name, (Caisse, Request.caisse)),
}


def queue_conditions(agent: Agent, search: str | None = None, filters=(), worklist: Worklist | None = None) -> list:
    """The conditions of the agent's queue: the agent's caisse's requests (everything for the
    national admin), of the worklist if any, matching every word of `search` and every SQL
    condition of `filters`."""
    return [
        caisse_filter(agent, Request.caisse_id),
        *(worklist_conditions(agent, worklist) if worklist else ()),
        *(search_conditions(agent, search) if search else ()),
        *filters,
    ]


def _sorted(query, sort: str, sort_desc: bool):
    """A clicked column's order, then the newest first (a column outside SORTS: the newest first)."""
    column, join = SORTS.get(sort, (None, None))
    if column is not None:
        if join is None:
            order = column()
        else:
            alias = aliased(join[0])
            query = query.outerjoin(alias, join[1])
            order = column(alias)
        query = query.order_by(desc(order) if sort_desc else order)
    return query.order_by(Request.id.desc())


def queue_page(
    agent: Agent,
    search: str | None,
    filters,
    page: int,
    size: int,
    sort: str | None = None,
    sort_desc: bool = False,
    worklist: Worklist | None = None,
) -> QueuePage:
    """Page `page` (from 0) of `size` rows of the agent's queue (or of the worklist) matching
    `search` and the SQL conditions `filters`, in the queue order of R-BO-1 (a worklist: the oldest
    first) or, with `sort` (a key of SORTS), in that column's order; with the number of matches
    counted up to COUNT_CAP + 1."""
    offset = (page or 0) * size
    if sort is None and not search:  # the plain page: kept once built, unless its filters are unkeyed (prebuilt.py)
        found = prebuilt.page(partial(_plain_page, filters or (), worklist, offset, size), agent)
        return QueuePage(found[0], _capped(found[1]))
    query = db.session.query(Request).filter(*queue_conditions(agent, search, filters, worklist))
    total = _capped_count_column(query)
    ordered = _ordered_page if worklist is None else _oldest_first_page(worklist)
    if sort is not None:
        query = _sorted(query, sort, sort_desc)
        ranked = query.with_entities(Request.id, total).limit(size).offset(offset).all()
        rank = {row.id: position for position, row in enumerate(ranked)}
        statement = select(*QUEUE_COLUMNS).where(Request.id.in_(rank))
        rows = sorted(db.session.execute(statement), key=lambda row: rank[row.id])
        count = ranked[0].total if ranked else None
    else:
        count, rows = _searched_page(query, total, offset, size, worklist_order if worklist else queue_order, ordered)
    if count is None:  # no row to carry the count (nothing matches, or a page past the end)
        count = db.session.execute(select(total)).scalar_one()
    return QueuePage(rows, _capped(count))


def queue_export(
    agent: Agent,
    search: str | None,
    filters,
    limit: int,
    sort: str | None = None,
    sort_desc: bool = False,
    worklist: Worklist | None = None,
) -> QueuePage:
    """The export of the queue or worklist (R-RGPD-4): its first `limit` matching requests as
    entities, with the offer, motive and structure the export shows, in the list's order or a
    clicked column's; and the true number of matches (the export's audit records it)."""
    conditions = queue_conditions(agent, search, filters, worklist)
    total = db.session.execute(select(func.count()).select_from(Request).where(*conditions)).scalar_one()
    query = (
        db.session.query(Request)
        .filter(*conditions)
        .options(joinedload(Request.service_offer), joinedload(Request.motive), joinedload(Request.structure))
    )
    if sort is not None:
        query = _sorted(query, sort, sort_desc)
    else:
        query = query.order_by(*(queue_order() if worklist is None else worklist_order()))
    return QueuePage(query.limit(limit).all(), total)


def structure_names(ids) -> dict[int, str]:
    """The names of these structures (a convention moved to another caisse leaves its requests in
    the queue: their structure is no longer among the caisse's)."""
    return dict(db.session.execute(select(Structure.id, Structure.name).where(Structure.id.in_(ids))).all())


def _searched_page(query, total, offset: int, size: int, order=queue_order, ordered=None):
    """A search usually matches a few requests: they are searched once (index-served on
    PostgreSQL, at most COUNT_CAP + 1 of them) with the columns the rows show, and one statement
    counts them (count(*) OVER ()) and sorts them in the queue order — rather than searching the
    caisse's rows once for the count and again for each half of the queue, or reading each match
    again by its key. Past COUNT_CAP matches the first COUNT_CAP + 1 found are not the queue's
    first ones: the page (or a page past them) is then read as an unsearched one is."""
    matches = query.with_entities(*QUEUE_COLUMNS).order_by(None).limit(COUNT_CAP + 1).subquery()
    rows = db.session.execute(
        select(*matches.c, func.count().over().label("total")).order_by(*order(matches.c)).offset(offset).limit(size)
    ).all()
    if (rows[0].total > COUNT_CAP) if rows else offset > 0:  # past the cap, or a page beyond those found
        rows = db.session.execute((ordered or _ordered_page)(query, offset, size).add_columns(total)).all()
    return (rows[0].total if rows else None), rows


def _capped(count: int) -> int:
    return CappedCount(count) if count > COUNT_CAP else count


def _capped_count(ids):
    """How many rows `ids` (a select of ids) has, counted up to COUNT_CAP + 1 (index-only, bounded
    whatever the table's size), as a scalar subquery."""
    matches = ids.order_by(None).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(matches).scalar_subquery()


def _capped_count_column(query):
    """The matches of `query` counted up to COUNT_CAP + 1: a scalar column that rides along the
    page's rows, not a statement of its own."""
    return _capped_count(query.with_entities(Request.id)).label("total")


def _plain_page(filters, worklist: Worklist | None, offset: int, size: int, agent) -> tuple:  # prebuilt.page
    query = db.session.query(Request).filter(*queue_conditions(agent, None, filters, worklist))
    total = _capped_count_column(query)
    ordered = _ordered_page if worklist is None else _oldest_first_page(worklist)
    return ordered(query, offset, size).add_columns(total), select(total)


def _page_of(reads, order, offset: int, size: int):
    """The page's rows among the candidate ids of `reads` (bounded, index-ordered subqueries of
    ids): one statement that sorts the candidates in `order` and keeps the page."""
    candidates = union_all(*(select(read.c.id) for read in reads)).subquery()
    return (
        select(*QUEUE_COLUMNS)
        .where(Request.id.in_(select(candidates.c.id)))
        .order_by(*order)
        .offset(offset)
        .limit(size)
    )


def _ordered_page(query, offset: int, size: int):
    """R-BO-1's order (queue_order) without sorting the caisse's whole queue.

    Two index-ordered reads bounded by the page — the "Nouveau" requests oldest first, the
    others newest first — give at most 2 × (offset + size) candidate ids; one statement sorts
    those candidates in the queue order and keeps the page.
    """
    bound = offset + size
    is_new = Request.status == RequestStatus.NEW.value
    new = query.with_entities(Request.id).filter(is_new)
    new = new.order_by(Request.deposited_at.asc(), Request.id.desc()).limit(bound).subquery()
    others = query.with_entities(Request.id).filter(Request.status != RequestStatus.NEW.value)
    others = others.order_by(Request.deposited_at.desc(), Request.id.desc()).limit(bound).subquery()
    return _page_of((new, others), queue_order(), offset, size)


def _oldest_first_page(worklist: Worklist):
    """A worklist's page, oldest first, without sorting the whole worklist: one index-ordered read
    per status (ix_request_queue_status, or ix_request_owner for « Mes demandes »), each bounded by
    the page, and one statement that sorts those candidates and keeps the page."""

    def page(query, offset: int, size: int):
        bound = offset + size
        halves = [
            query.with_entities(Request.id)
            .filter(Request.status == status.value)
            .order_by(*worklist_order())
            .limit(bound)
            .subquery()
            for status in worklist.statuses
        ]
        return _page_of(halves, worklist_order(), offset, size)

    return page
