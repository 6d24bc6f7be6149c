"""The dashboard's SQL statements: each figure is counted by the database, never row by row here.

The figures are read from what the transitions record (services/requests/transitions.py):
- a request's deposit, status, cancellation reason: its own row (Request);
- its take: Request.taken_at, written by the same guarded UPDATE, with the same time, as its first
  "Pris en charge" history row (StatusChange) — an answer straight from "Nouveau" records the take
  at the moment of the answer, and a reassignment keeps the first take's time;
- its resolution: Request.resolved_at, written with its "Résolu" history row;
- who took and who resolved: the agent of those history rows (StatusChange.agent_id), so the
  per-agent figures stay with the agent who did the work even after a reassignment;
- the Q/R rounds: the partner's messages (ExchangeMessage, side "partner").
tests/test_dashboard_property.py checks every figure against a recomputation in Python from the
raw rows, the history rows included.

The cohort of a period is the requests deposited in it (Paris days, period.py), in the scope (one
caisse, or every caisse for the national admin), matching the filters (offer, motive, structure).
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Float, Integer, String, and_, case, cast, distinct, func, literal, select, union_all

from ...extensions import db
from ...models import Agent, ExchangeMessage, Request, RequestStatus, StatusChange, Structure
from ...models.requests import AWAITING_CAISSE
from ..queue import HANDLING_TARGET
from .measures import MEDIAN, P90, milliseconds, percentile, postgresql, window_percentiles
from .period import Period

TARGET_MS = int(HANDLING_TARGET / timedelta(milliseconds=1))
NEW = RequestStatus.NEW.value
CANCELLED = RequestStatus.CANCELLED.value

# The backlog's age buckets: (label, the age's upper bound, included) — the last one has none.
AGE_BUCKETS = ("< 24 h", "24–48 h", "2–7 jours", "> 7 jours")


class Filters(NamedTuple):
    offer_id: int | None = None
    motive_id: int | None = None
    structure_id: int | None = None


class Scope(NamedTuple):
    caisse_id: int | None  # None: every caisse (the national admin)
    period: Period
    filters: Filters
    now: datetime  # naive UTC


def _filters(scope: Scope) -> list:
    conditions = []
    if scope.caisse_id is not None:
        conditions.append(Request.caisse_id == scope.caisse_id)
    f = scope.filters
    if f.offer_id is not None:
        conditions.append(Request.service_offer_id == f.offer_id)
    if f.motive_id is not None:
        conditions.append(Request.motive_id == f.motive_id)
    if f.structure_id is not None:
        conditions.append(Request.structure_id == f.structure_id)
    return conditions


def cohort(scope: Scope) -> list:
    """The requests deposited in the period, in the scope, matching the filters."""
    return [
        Request.deposited_at >= scope.period.start,
        Request.deposited_at < scope.period.end,
        *_filters(scope),
    ]


def take_ms():
    return milliseconds(Request.taken_at, Request.deposited_at)


def resolve_ms():
    return milliseconds(Request.resolved_at, Request.deposited_at)


def _count(condition):
    return func.count(case((condition, 1)))


# --- the summary: the 48-hour figure, the counts and the percentiles ------------------------------


def summary(scope: Scope, by_caisse: bool) -> Sequence[Any]:
    """One row per caisse (by_caisse) and one for the whole scope (grp NULL):

    - filed: requests deposited in the period;
    - within: taken at most 48 h after deposit (48 h exactly is within);
    - late_taken: taken more than 48 h after deposit;
    - late_pending: still "Nouveau" and deposited more than 48 h ago (already missed);
    - pending: still "Nouveau", deposited 48 h ago or less (not counted yet either way);
    - cancelled_untaken: cancelled by the partner before any take (not counted either way);
    - taken, resolved, cancelled: how many were taken, resolved, cancelled;
    - on PostgreSQL, take_p50/take_p90 and resolve_p50/resolve_p90 in milliseconds since deposit.
    """
    late_since = scope.now - HANDLING_TARGET
    untaken = Request.taken_at.is_(None)
    columns = [
        func.count().label("filed"),
        _count(and_(Request.taken_at.is_not(None), take_ms() <= TARGET_MS)).label("within"),
        _count(and_(Request.taken_at.is_not(None), take_ms() > TARGET_MS)).label("late_taken"),
        _count(and_(untaken, Request.status == NEW, Request.deposited_at < late_since)).label("late_pending"),
        _count(and_(untaken, Request.status == NEW, Request.deposited_at >= late_since)).label("pending"),
        _count(and_(untaken, Request.status == CANCELLED)).label("cancelled_untaken"),
        func.count(Request.taken_at).label("taken"),
        func.count(Request.resolved_at).label("resolved"),
        _count(Request.status == CANCELLED).label("cancelled"),
    ]
    if postgresql():
        columns += [
            percentile(MEDIAN, take_ms()).label("take_p50"),
            percentile(P90, take_ms()).label("take_p90"),
            percentile(MEDIAN, resolve_ms()).label("resolve_p50"),
            percentile(P90, resolve_ms()).label("resolve_p90"),
        ]
    whole = select(cast(literal(None), Integer).label("grp"), *columns).where(*cohort(scope))
    if not by_caisse:
        return db.session.execute(whole).all()
    # The comparison shows the medians only: no 90th percentile per caisse (two sorts fewer).
    unused = {"take_p90", "resolve_p90"}
    per_columns = [cast(literal(None), Float).label(c.name) if c.name in unused else c for c in columns]
    per_caisse = select(Request.caisse_id.label("grp"), *per_columns).where(*cohort(scope)).group_by(Request.caisse_id)
    return db.session.execute(union_all(whole, per_caisse)).all()


# --- the breakdowns: weeks × offers, cancellations, Q/R rounds, the backlog -----------------------


def _breakdown(kind: str, key, group, bucket, *, count=None):
    return (
        literal(kind, String).label("kind"),
        cast(key, String).label("k"),
        cast(group, Integer).label("g"),
        cast(bucket, Integer).label("b"),
        (count if count is not None else func.count()).label("n"),
    )


def week_index(period: Period):
    """The index of the period's week (period.weeks()) a deposit falls in."""
    weeks = period.weeks()
    if len(weeks) == 1:
        return literal(0, Integer)
    return case(*((Request.deposited_at < w.end, i) for i, w in enumerate(weeks[:-1])), else_=len(weeks) - 1)


def age_bucket(now: datetime):
    """The backlog's age bucket of an open request: its wait since the deposit ("Nouveau", "Pris en
    charge") or since the partner's message ("Message envoyé": the status date)."""
    since = case(
        (Request.status == RequestStatus.MESSAGE_SENT.value, Request.status_changed_at), else_=Request.deposited_at
    )
    return case(
        (since > now - timedelta(hours=24), 0),
        (since >= now - HANDLING_TARGET, 1),
        (since >= now - timedelta(days=7), 2),
        else_=3,
    )


def breakdowns(scope: Scope) -> Sequence[Any]:
    """Rows (kind, k, g, b, n), in one statement:

    - ("week", NULL, offer id, week index, requests filed);
    - ("cancel", reason, NULL, NULL, requests cancelled) — cohort requests cancelled, by reason;
    - ("rounds", NULL, NULL, partner messages, requests) — cohort requests with an exchange, by
      the number of messages the partner sent (the rounds used, 1 to 4);
    - ("backlog", status, caisse id, age bucket, requests) — open now (the caisse owes an answer:
      "Nouveau", "Pris en charge", "Message envoyé"), whatever the period, by status and age.
    """
    weeks = week_index(scope.period)
    week = (
        select(*_breakdown("week", literal(None), Request.service_offer_id, weeks))
        .where(*cohort(scope))
        .group_by(Request.service_offer_id, weeks)
    )
    cancel = (
        select(*_breakdown("cancel", Request.cancel_reason, literal(None), literal(None)))
        .where(*cohort(scope), Request.status == CANCELLED)
        .group_by(Request.cancel_reason)
    )
    cohort_ids = select(Request.id).where(*cohort(scope))
    per_request = (
        select(ExchangeMessage.request_id, func.count().label("messages"))
        .where(ExchangeMessage.side == "partner", ExchangeMessage.request_id.in_(cohort_ids))
        .group_by(ExchangeMessage.request_id)
        .subquery()
    )
    rounds = select(*_breakdown("rounds", literal(None), literal(None), per_request.c.messages)).group_by(
        per_request.c.messages
    )
    bucket = age_bucket(scope.now)
    backlog = (
        select(*_breakdown("backlog", Request.status, Request.caisse_id, bucket))
        .where(*_filters(scope), Request.status.in_(AWAITING_CAISSE))
        .group_by(Request.status, Request.caisse_id, bucket)
    )
    return db.session.execute(union_all(week, cancel, rounds, backlog)).all()


# --- per structure and per agent ------------------------------------------------------------------


def structures(scope: Scope, limit: int) -> Sequence[Any]:
    """The structures that filed in the period, most requests first: requests filed, active
    technicians (accounts that filed at least one of them), last deposit of the period."""
    per = (
        select(
            Request.structure_id,
            func.count().label("filed"),
            func.count(distinct(Request.requester_account_id)).label("technicians"),
            func.max(Request.deposited_at).label("last_deposit"),
        )
        .where(*cohort(scope))
        .group_by(Request.structure_id)
        .subquery()
    )
    return db.session.execute(
        select(per.c.structure_id, Structure.name, per.c.filed, per.c.technicians, per.c.last_deposit)
        .join(Structure, Structure.id == per.c.structure_id)
        .order_by(per.c.filed.desc(), Structure.name, per.c.structure_id)
        .limit(limit)
    ).all()


def handling_ms():
    return milliseconds(Request.resolved_at, Request.taken_at)


def _agent_history(scope: Scope):
    """The cohort's "Pris en charge" and "Résolu" history rows made by an agent."""
    return [
        StatusChange.request_id == Request.id,
        StatusChange.status.in_((RequestStatus.TAKEN.value, RequestStatus.RESOLVED.value)),
        StatusChange.agent_id.is_not(None),
        *cohort(scope),
    ]


def agents(scope: Scope) -> Sequence[Any]:
    """Per agent of the caisse (the active ones, and any other with work in the cohort): requests
    of the cohort taken (a "Pris en charge" row of theirs), resolved (a "Résolu" row of theirs),
    and on PostgreSQL the median handling time (take to resolution) of those they resolved."""
    is_taken = StatusChange.status == RequestStatus.TAKEN.value
    is_resolved = StatusChange.status == RequestStatus.RESOLVED.value
    columns = [
        StatusChange.agent_id,
        func.count(distinct(case((is_taken, StatusChange.request_id)))).label("taken"),
        func.count(distinct(case((is_resolved, StatusChange.request_id)))).label("resolved"),
    ]
    if postgresql():
        columns.append(percentile(MEDIAN, case((is_resolved, handling_ms()))).label("handling_p50"))
    per = (
        select(*columns)
        .select_from(StatusChange)
        .join(Request, Request.id == StatusChange.request_id)
        .where(*_agent_history(scope))
        .group_by(StatusChange.agent_id)
        .subquery()
    )
    extra = [per.c.handling_p50] if postgresql() else []
    return db.session.execute(
        select(Agent.id, Agent.first_name, Agent.last_name, Agent.active, per.c.taken, per.c.resolved, *extra)
        .outerjoin(per, per.c.agent_id == Agent.id)
        .where(Agent.caisse_id == scope.caisse_id, (Agent.active.is_(True)) | (per.c.agent_id.is_not(None)))
        .order_by(Agent.last_name, Agent.first_name, Agent.id)
    ).all()


def sqlite_percentiles(scope: Scope, by_caisse: bool, with_agents: bool) -> dict:
    """SQLite: the percentiles summary() and agents() compute on PostgreSQL, in one statement:
    {("take" | "resolve", grp): …, ("handling", agent id): …} (measures.window_percentiles)."""
    series = []
    groups = [cast(literal(None), Integer)] + ([Request.caisse_id] if by_caisse else [])
    for group in groups:
        for kind, column, value in (
            ("take", Request.taken_at, take_ms()),
            ("resolve", Request.resolved_at, resolve_ms()),
        ):
            series.append(
                select(literal(kind, String).label("kind"), group.label("grp"), value.label("value")).where(
                    *cohort(scope), column.is_not(None)
                )
            )
    if with_agents:
        series.append(
            select(
                literal("handling", String).label("kind"),
                StatusChange.agent_id.label("grp"),
                handling_ms().label("value"),
            ).where(*_agent_history(scope), StatusChange.status == RequestStatus.RESOLVED.value)
        )
    return window_percentiles(series)
