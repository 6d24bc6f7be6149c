"""The steering dashboard (issue 14): the 48-hour commitment, the backlog and the activity.

`dashboard(agent, period, filters, caisse_id)` computes every figure of one dashboard in at most
five SQL statements (queries.py; four on PostgreSQL). What each figure means:

- **Demandes déposées par semaine et par offre**: requests deposited in the period, by calendar
  week (Monday to Sunday in Paris, the first and last weeks clipped to the period) and offer.
- **Prises en charge en 48 h** (R-BO-5): among the requests deposited in the period, the share
  taken at most 48 hours after their deposit (48 h exactly is kept). A request's take is its first
  "Pris en charge" — an answer straight from "Nouveau" records the take at that moment. Requests
  still "Nouveau" count as missed once 48 hours have passed since their deposit; younger ones are
  left out (their outcome is not known yet), and so are requests cancelled by the partner before
  any take. share = within ÷ (within + taken late + still "Nouveau" past 48 h).
- **Délai de prise en charge / de réponse** (médiane, 90e centile): time from deposit to take,
  and from deposit to answer ("Résolu"), over the period's requests that were taken, resp.
  answered; the continuous percentile (PostgreSQL's percentile_cont).
- **Stock actuel**: the requests the caisse owes an answer to now ("Nouveau", "Pris en charge",
  "Message envoyé"), whatever their deposit date, by status and by their wait (since the deposit;
  since the partner's message for "Message envoyé"): < 24 h, 24–48 h, 2–7 jours, > 7 jours.
- **Échanges Q/R**: among the period's answered requests, the share where the partner wrote at
  least once after the answer, and how many messages (rounds, 1 to 4) they used.
- **Annulations par motif**: the period's requests cancelled by the partner, by reason.
- **Par structure**: requests filed in the period, active technicians (accounts that filed at
  least one of them), date of the period's last deposit.
- **Par agent** (caisse admin only): of the period's requests, how many the agent took and
  answered, and the median handling time (take to answer) of those they answered.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...clock import now
from ...extensions import db
from ...models import Agent, Caisse
from .. import audit
from ..errors import DomainError
from . import queries
from .measures import MEDIAN, P90, postgresql
from .period import PERIOD_KINDS, Period, Week, period_for
from .queries import AGE_BUCKETS, Filters, Scope

__all__ = [
    "AGE_BUCKETS",
    "PERIOD_KINDS",
    "Dashboard",
    "Filters",
    "Period",
    "Week",
    "dashboard",
    "period_for",
    "scope_caisse",
]

BACKLOG_STATUSES = ("new", "taken", "message_sent")
STRUCTURE_ROWS = 50


@dataclass
class Summary:
    filed: int = 0
    within: int = 0
    late_taken: int = 0
    late_pending: int = 0
    pending: int = 0
    cancelled_untaken: int = 0
    taken: int = 0
    resolved: int = 0
    cancelled: int = 0
    take_p50: float | None = None  # milliseconds
    take_p90: float | None = None
    resolve_p50: float | None = None
    resolve_p90: float | None = None

    @property
    def counted(self) -> int:
        """The requests the 48-hour share counts: taken, or still "Nouveau" past 48 h."""
        return self.within + self.late_taken + self.late_pending

    @property
    def within_share(self) -> float | None:
        return self.within / self.counted if self.counted else None


@dataclass
class CaisseRow:
    caisse_id: int
    name: str
    summary: Summary
    backlog: int = 0
    overdue: int = 0  # "Nouveau" for more than 48 h now


@dataclass
class Dashboard:
    period: Period
    filters: Filters
    caisse_id: int | None
    summary: Summary
    weeks: list[Week]
    per_week: dict[tuple[int, int], int]  # (week index, offer id) → filed
    backlog: dict[tuple[str, int], int]  # (status, age bucket) → open requests
    cancellations: dict[str | None, int]  # reason → cancelled
    rounds: dict[int, int]  # partner messages → requests
    structures: Sequence[Any] = field(default_factory=list)
    agents: list | None = None  # caisse admin only: rows (id, first_name, last_name, active, taken, resolved, p50)
    caisses: list[CaisseRow] | None = None  # national admin, all caisses: the comparison

    @property
    def with_exchange(self) -> int:
        return sum(self.rounds.values())


def scope_caisse(agent: Agent, caisse_id: int | None) -> int | None:
    """The caisse whose figures the agent sees: their own (an agent or a caisse admin, whatever
    they ask), or for the national admin the one asked, every caisse when none is."""
    if not agent.is_national_admin:
        if agent.caisse_id is None:
            raise DomainError("Aucun organisme n'est rattaché à votre compte.")
        return agent.caisse_id
    if caisse_id is not None and db.session.get(Caisse, caisse_id) is None:
        raise DomainError("Cet organisme n'existe pas.")
    return caisse_id


def record_export(
    agent: Agent, caisse_id: int | None, export_type: str, table: str, period: str, filters: dict, rows: int
) -> None:
    """R-RGPD-4: a dashboard table's export, audited and committed like the queue's
    (requests.record_queue_export), before the file is sent."""
    audit.record(
        "dashboard.export",
        actor=agent,
        caisse_id=caisse_id if caisse_id is not None else agent.caisse_id,
        format=export_type,
        table=table,
        period=period,
        filters=filters,
        rows=rows,
    )
    db.session.commit()


def _summary(row, percentiles: dict | None = None) -> Summary:
    values = {name: getattr(row, name) for name in Summary.__dataclass_fields__ if name in row._fields}
    if percentiles is not None:
        for kind in ("take", "resolve"):
            found = percentiles.get((kind, row.grp), {})
            values[f"{kind}_p50"] = found.get(MEDIAN)
            values[f"{kind}_p90"] = found.get(P90)
    if row.grp is not None:  # a caisse's comparison row: the medians only, on both databases
        values["take_p90"] = values["resolve_p90"] = None
    for name in ("take_p50", "take_p90", "resolve_p50", "resolve_p90"):
        if values.get(name) is not None:
            values[name] = float(values[name])
    return Summary(**values)


def dashboard(
    agent: Agent,
    period: Period,
    filters: Filters | None = None,
    caisse_id: int | None = None,
    structure_rows: int = STRUCTURE_ROWS,
) -> Dashboard:
    """Every figure of the dashboard the agent may see (module docstring). The per-agent table is
    the caisse admin's; the comparison table, one row per caisse, the national admin's when the
    scope is every caisse."""
    scoped = scope_caisse(agent, caisse_id)
    filters = filters or Filters()
    scope = Scope(scoped, period, filters, now())
    national = scoped is None
    with_agents = agent.is_caisse_admin and scoped is not None
    rows = queries.summary(scope, by_caisse=national)
    percentiles = None if postgresql() else queries.sqlite_percentiles(scope, national, with_agents)
    summaries = {row.grp: _summary(row, percentiles) for row in rows}
    result = Dashboard(
        period,
        filters,
        scoped,
        summaries.get(None) or Summary(),
        period.weeks(),
        {},
        {},
        {},
        {},
    )
    caisse_backlog: dict[int, list[int]] = {}
    for row in queries.breakdowns(scope):
        if row.kind == "week":
            result.per_week[(row.b, row.g)] = row.n
        elif row.kind == "cancel":
            result.cancellations[row.k] = row.n
        elif row.kind == "rounds":
            result.rounds[row.b] = row.n
        else:
            key = (row.k, row.b)
            result.backlog[key] = result.backlog.get(key, 0) + row.n
            counts = caisse_backlog.setdefault(row.g, [0, 0])
            counts[0] += row.n
            if row.k == "new" and row.b >= 2:
                counts[1] += row.n
    result.structures = queries.structures(scope, structure_rows)
    if with_agents:
        result.agents = [_agent_row(row, percentiles) for row in queries.agents(scope)]
    if national:
        names = dict(db.session.execute(db.select(Caisse.id, Caisse.name)).all())
        result.caisses = [
            CaisseRow(cid, name, summaries.get(cid) or Summary(), *caisse_backlog.get(cid, (0, 0)))
            for cid, name in sorted(names.items(), key=lambda item: item[1])
        ]
    return result


def _agent_row(row, percentiles):
    if percentiles is None:
        median = row.handling_p50
    else:
        median = percentiles.get(("handling", row.id), {}).get(MEDIAN)
    return (
        row.id,
        row.first_name,
        row.last_name,
        row.active,
        row.taken or 0,
        row.resolved or 0,
        None if median is None else float(median),
    )
