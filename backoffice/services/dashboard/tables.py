"""The dashboard's figures as tables (what the page shows, the charts draw and the exports write).

Each table is a list of rows of raw values with a kind per column; `shown` formats a value the
French way: "1 234", "87,5 %", "26,5 h", "02/11/2026". The exports write the same rows: CSV the
shown text, XLSX the numbers as numbers. A chart is built from its table's rows, so the two
always agree.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...clock import format_date
from ...models import RequestStatus
from . import AGE_BUCKETS, BACKLOG_STATUSES, Dashboard, Summary

NBSP = "\u00a0"
HOUR_MS = 3_600_000
STATUS_LABELS = dict(RequestStatus.choices())


def fr_number(value: float, decimals: int = 0) -> str:
    text = f"{value:,.{decimals}f}"
    return text.replace(",", NBSP).replace(".", ",")


def shown(kind: str, value: Any) -> str:
    """A value as the page shows it, in French."""
    if value is None:
        return "—"
    if kind == "int":
        return fr_number(value)
    if kind == "pct":
        return f"{fr_number(value * 100, 1)}{NBSP}%"
    if kind == "hours":
        return f"{fr_number(value / HOUR_MS, 1)}{NBSP}h"
    if kind == "date":
        return format_date(value)
    return str(value)


def raw(kind: str, value: Any):
    """A value as the XLSX export writes it: a number (a share in %, a duration in hours) or text."""
    if value is None:
        return ""
    if kind == "pct":
        return round(value * 100, 1)
    if kind == "hours":
        return round(value / HOUR_MS, 1)
    if kind == "date":
        return format_date(value)
    if kind == "int":
        return value
    return str(value)


@dataclass
class Table:
    key: str
    title: str
    headers: list[str]
    kinds: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    links: list[str | None] = field(default_factory=list)  # a link per row (the first cell)
    chart: str | None = None  # the chart's type: "bar", "stacked", "doughnut"
    note: str = ""

    def shown_rows(self) -> list[list[str]]:
        return [[shown(k, v) for k, v in zip(self.kinds, row, strict=True)] for row in self.rows]

    def chart_data(self) -> dict | None:
        """Chart.js data: the rows' first cell as labels, each numeric column a dataset."""
        if self.chart is None or not self.rows:
            return None
        columns = [i for i, kind in enumerate(self.kinds) if kind in ("int", "pct", "hours") and i > 0]
        if self.chart == "stacked":
            columns = columns[:-1]  # the last column is the total
        elif self.chart == "doughnut":
            columns = columns[:1]
        datasets = [
            {"label": self.headers[i], "data": [raw(self.kinds[i], row[i]) or 0 for row in self.rows]} for i in columns
        ]
        return {"type": self.chart, "labels": [str(row[0]) for row in self.rows], "datasets": datasets}


def summary_rows(s: Summary) -> list[list[Any]]:
    return [
        ["Demandes déposées", "int", s.filed],
        ["Prises en charge en 48 h au plus", "int", s.within],
        ["Prises en charge après 48 h", "int", s.late_taken],
        ["Toujours « Nouveau » après 48 h", "int", s.late_pending],
        ["Taux de prise en charge en 48 h", "pct", s.within_share],
        ["« Nouveau » depuis moins de 48 h (non comptées)", "int", s.pending],
        ["Annulées avant prise en charge (non comptées)", "int", s.cancelled_untaken],
        ["Délai médian de prise en charge", "hours", s.take_p50],
        ["Délai de prise en charge, 90e centile", "hours", s.take_p90],
        ["Demandes répondues", "int", s.resolved],
        ["Délai médian de réponse", "hours", s.resolve_p50],
        ["Délai de réponse, 90e centile", "hours", s.resolve_p90],
    ]


def build(d: Dashboard, offer_labels: dict[int, str], caisse_link=None) -> list[Table]:
    """Every table of the dashboard, in the page's order. caisse_link(caisse_id): the URL of a
    caisse's dashboard (the national comparison's rows)."""
    s = d.summary
    tables = []
    commitment = Table(
        "engagement",
        "Engagement de prise en charge en 48 h",
        ["Résultat", "Demandes"],
        ["text", "int"],
        [
            ["Prises en charge en 48 h au plus", s.within],
            ["Prises en charge après 48 h", s.late_taken],
            ["Toujours « Nouveau » après 48 h", s.late_pending],
        ],
        chart="doughnut",
        note=(
            f"Taux de prise en charge en 48 h : {shown('pct', s.within_share)}. Sont comptées les demandes "
            "déposées sur la période, prises en charge ou toujours « Nouveau » 48 h après leur dépôt ; "
            "les demandes « Nouveau » de moins de 48 h et celles annulées avant prise en charge ne sont pas comptées."
        ),
    )
    tables.append(commitment)
    figures = Table("indicateurs", "Indicateurs de la période", ["Indicateur", "Valeur"], ["text", "text"])
    figures.rows = [[label, shown(kind, value)] for label, kind, value in summary_rows(s)]
    tables.append(figures)
    offers = sorted({offer for _, offer in d.per_week}, key=lambda o: offer_labels.get(o, ""))
    weekly = Table(
        "semaines",
        "Demandes déposées par semaine et par offre",
        ["Semaine", *(offer_labels.get(o, "Offre") for o in offers), "Total"],
        ["text", *("int" for _ in offers), "int"],
        chart="stacked",
    )
    for i, week in enumerate(d.weeks):
        counts = [d.per_week.get((i, o), 0) for o in offers]
        weekly.rows.append([week.label, *counts, sum(counts)])
    tables.append(weekly)
    backlog = Table(
        "stock",
        "Stock actuel par statut et ancienneté",
        ["Statut", *AGE_BUCKETS, "Total"],
        ["text", *("int" for _ in AGE_BUCKETS), "int"],
        chart="stacked",
        note="Demandes en attente de la caisse, quelle que soit leur date de dépôt ; ancienneté depuis le dépôt, "
        "ou depuis le message du partenaire pour « Message envoyé ».",
    )
    for status in BACKLOG_STATUSES:
        counts = [d.backlog.get((status, b), 0) for b in range(len(AGE_BUCKETS))]
        backlog.rows.append([STATUS_LABELS[status], *counts, sum(counts)])
    tables.append(backlog)
    share = d.with_exchange / s.resolved if s.resolved else None
    exchanges = Table(
        "echanges",
        "Échanges Q/R",
        ["Messages du partenaire", "Demandes"],
        ["text", "int"],
        [[f"{n} message{'s' if n > 1 else ''}", d.rounds.get(n, 0)] for n in range(1, 5)],
        chart="bar",
        note=f"Part des demandes répondues ayant donné lieu à un échange : {shown('pct', share)} "
        f"({shown('int', d.with_exchange)} sur {shown('int', s.resolved)}).",
    )
    tables.append(exchanges)
    cancellations = Table(
        "annulations",
        "Annulations par motif",
        ["Motif d'annulation", "Demandes"],
        ["text", "int"],
        [
            [reason or "Sans motif", n]
            for reason, n in sorted(d.cancellations.items(), key=lambda i: (-i[1], i[0] or ""))
        ],
        chart="bar",
    )
    tables.append(cancellations)
    structures = Table(
        "structures",
        "Activité par structure",
        ["Structure", "Demandes déposées", "Techniciens actifs", "Dernier dépôt"],
        ["text", "int", "int", "date"],
        [[row.name, row.filed, row.technicians, _as_datetime(row.last_deposit)] for row in d.structures],
        note="Techniciens actifs : comptes ayant déposé au moins une demande sur la période.",
    )
    tables.append(structures)
    if d.agents is not None:
        agents = Table(
            "agents",
            "Activité par agent",
            ["Agent", "Prises en charge", "Réponses", "Durée médiane de traitement"],
            ["text", "int", "int", "hours"],
            [
                [f"{last} {first}" + ("" if active else " (désactivé)"), taken, resolved, median]
                for _, first, last, active, taken, resolved, median in d.agents
            ],
            note="Sur les demandes déposées pendant la période ; durée de traitement : de la prise en charge à la réponse.",
        )
        tables.append(agents)
    if d.caisses is not None:
        comparison = Table(
            "organismes",
            "Comparaison des organismes",
            [
                "Organisme",
                "Demandes déposées",
                "Taux de prise en charge en 48 h",
                "Délai médian de prise en charge",
                "Délai médian de réponse",
                "Stock actuel",
                "En retard",
            ],
            ["text", "int", "pct", "hours", "hours", "int", "int"],
        )
        for row in d.caisses:
            rs = row.summary
            comparison.rows.append(
                [row.name, rs.filed, rs.within_share, rs.take_p50, rs.resolve_p50, row.backlog, row.overdue]
            )
            comparison.links.append(caisse_link(row.caisse_id) if caisse_link else None)
        tables.insert(0, comparison)
    return tables


def _as_datetime(value):
    """SQLite returns max() of a timestamp as text."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value
