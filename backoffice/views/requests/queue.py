"""The agent work queue (R-BO-1, R-BO-5) and its export (R-RGPD-4), scoped to the caisse.

The query is a service (services/queue.py: queue_page, queue_export); QueueView turns Flask-Admin's
list arguments into its arguments and formats its rows, for « Toutes » (RequestView) and for the
worklists « À traiter » and « Mes demandes » (worklists.py: the same view with a fixed Worklist).
Each row opens the request screen (screen.py), whose routes RequestView carries. The bulk action
« Prendre en charge » calls services/requests/bulk.take_requests.
"""

from flask import flash, request
from flask_admin.actions import action
from flask_admin.model.template import EndpointLinkRowAction

from ...clock import format_datetime, now
from ...models import Request, RequestStatus
from ...services import prebuilt
from ...services import queue as queue_service
from ...services import requests as request_service
from ...services.requests import bulk
from ...services.requests.ownership import REASSIGNABLE_VALUES
from ...services.scoping import caisse_filter
from ..base import ALL_ROLES, SecureModelView, current_agent, row_ids
from .display import STATUS_BADGES, person_label, process_url, time_left_label, waiting_label
from .filters import (
    DepositBetween,
    DepositFrom,
    DepositUntil,
    IdEqual,
    OverdueFilter,
    OwnerEqual,
    StatusIn,
    caisse_options,
    filter_choices,
    motive_options,
    offer_options,
    structure_options,
)
from .screen import RequestScreenMixin


class QueueRow:
    """One queue row as the list shows it: read as plain columns (no ORM entity), formatted once.

    The lean row template (admin/request_list.html) prints these attributes instead of calling a
    macro per cell. The offer, motive and structure labels come by id from the queue's choices
    (services/caisse_cache), which the filters read anyway: the page's statement joins no other table.
    """

    __slots__ = (
        "id",
        "number",
        "deposited",
        "offer",
        "motive",
        "structure",
        "person",
        "status_label",
        "badge",
        "time_left",
        "late",
        "owner",
        "orphaned",
        "caisse",
        "url",
    )

    def __init__(self, row, labels: dict[str, dict[int, str]], screen_url: str):
        self.id = row.id
        self.number = row.number
        self.deposited = format_datetime(row.deposited_at)
        self.offer = labels["offer"].get(row.service_offer_id, "")
        self.motive = labels["motive"].get(row.motive_id, "") if row.motive_id else ""
        self.structure = labels["structure"].get(row.structure_id, "")
        self.person = person_label(row)
        status = RequestStatus(row.status)
        self.status_label = status.label
        self.badge = STATUS_BADGES.get(row.status, "secondary")
        self.time_left = time_left_label(row) or waiting_label(row)
        self.late = self.time_left.startswith("en retard")
        owner = row.taken_by_agent_id
        self.owner = labels["agent"].get(owner, "") if owner else ""
        # « à réattribuer »: the owner is inactive, or gone (an open request whose owner was deleted).
        self.orphaned = row.status in REASSIGNABLE_VALUES and (owner is None or owner in labels["inactive"])
        # « Organisme »: the national admin's column only (None: not shown).
        self.caisse = labels["caisse"].get(row.caisse_id, "") if labels["caisse"] else None
        self.url = f"{screen_url}?id={row.id}"


def queue_rows(rows, agent) -> list[QueueRow]:
    labels = filter_choices(agent).labels
    missing = {row.structure_id for row in rows} - labels["structure"].keys()
    if missing:  # a convention moved to another caisse leaves its requests here: their names are read
        labels = {**labels, "structure": {**labels["structure"], **queue_service.structure_names(missing)}}
    # The request screen's URL is resolved once per page, not once per row: on a 100-row page, one
    # url_for per row costs about 3 ms of the page's 20 (measured in-process on SQLite, CPU time).
    screen_url = process_url(None)
    return [QueueRow(row, labels, screen_url) for row in rows]


def safe_cell(value) -> str:
    """Spreadsheet exports: a value starting like a formula is neutralised (CSV injection)."""
    value = "" if value is None else str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _export(getter):
    return lambda view, context, model, name: safe_cell(getter(model))


class QueueView(SecureModelView):
    """A list of the caisse's requests: the whole queue, or a worklist (`worklist`, a
    services.queue.Worklist: its fixed condition and its order, the oldest first).

    The Flask-Admin hooks it overrides are listed, with those of views/base.py, in that module's
    docstring (checked by tests/test_flask_admin_hooks.py).
    """

    worklist: queue_service.Worklist | None = None
    # What the list's heading says (admin/request_list.html).
    intro = (
        "Les demandes « Nouveau » sont en tête, de la plus ancienne à la plus récente ; les autres suivent, "
        "les plus récentes d'abord. Objectif de prise en charge : 48 h après le dépôt (colonne « Délai »)."
    )

    allowed_roles = ALL_ROLES
    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = False
    can_export = True
    export_types = ["csv", "xlsx"]
    export_max_rows = 5000
    page_size = 20
    page_size_options = (20, 50, 100)
    named_filter_urls = True
    list_template = "admin/request_list.html"

    column_list = [
        "number",
        "deposited_at",
        "service_offer",
        "motive",
        "structure",
        "person",
        "status",
        "time_left",
        "owner",
        "caisse",
    ]
    column_labels = {
        "number": "N° de demande",
        "deposited_at": "Date de dépôt",
        "service_offer": "Offre de service",
        "motive": "Motif",
        "structure": "Structure",
        "person": "Personne concernée",
        "status": "Statut",
        "time_left": "Délai",
        "owner": "Pris en charge par",
        "caisse": "Organisme",
        "requester_name": "Demandeur",
        "status_changed_at": "Date statut",
        "structure.name": "Structure",
        "person_last_name": "Nom de la personne concernée",
    }
    # Which headers sort (services/queue.SORTS sorts them, by the same names).
    column_sortable_list = [
        "number",
        "deposited_at",
        "status",
        ("service_offer", "service_offer.label"),
        ("motive", "motive.label"),
        ("structure", "structure.name"),
        ("person", "person_last_name"),
        ("caisse", "caisse.name"),
    ]
    column_searchable_list = ["number", "person_last_name", "structure.name"]
    column_export_list = [
        "number",
        "deposited_at",
        "service_offer",
        "motive",
        "structure",
        "requester_name",
        "person",
        "status",
        "status_changed_at",
        "time_left",
    ]
    column_formatters_export = {
        "number": _export(lambda m: m.number),
        "deposited_at": _export(lambda m: format_datetime(m.deposited_at)),
        "service_offer": _export(lambda m: m.service_offer.label),
        "motive": _export(lambda m: m.motive.label if m.motive else ""),
        "structure": _export(lambda m: m.structure.name),
        "requester_name": _export(lambda m: m.requester_name),
        "person": _export(person_label),
        "status": _export(lambda m: m.status_label),
        "status_changed_at": _export(lambda m: format_datetime(m.status_changed_at)),
        "time_left": _export(time_left_label),
    }
    column_filters = [
        StatusIn(Request.status, "Statut", options=[(s.value, s.label) for s in RequestStatus]),
        IdEqual(Request.service_offer_id, "Offre de service", offer_options),
        IdEqual(Request.motive_id, "Motif", motive_options),
        IdEqual(Request.structure_id, "Structure", structure_options),
        DepositBetween(Request.deposited_at, "Date de dépôt"),
        DepositFrom(Request.deposited_at, "Date de dépôt"),
        DepositUntil(Request.deposited_at, "Date de dépôt"),
        OverdueFilter(Request.deposited_at, "En retard (plus de 48 h)"),
        OwnerEqual(Request.taken_by_agent_id, "Pris en charge par"),
        IdEqual(Request.caisse_id, "Organisme", caisse_options, national_only=True),
    ]
    column_extra_row_actions = [
        EndpointLinkRowAction("fa fa-folder-open", ".process_view", title="Traiter la demande"),
    ]

    def search_placeholder(self):
        return "N° de demande, nom ou prénom de la personne, structure"

    def shows_caisse(self) -> bool:
        """The « Organisme » column: the national admin's, who sees every caisse."""
        agent = current_agent()
        return agent is not None and agent.is_national_admin

    # --- bulk take (issue 13 §5) ------------------------------------------------------------------
    def is_action_allowed(self, name):
        """« Prendre en charge » belongs to the caisse's own staff, not to the national admin."""
        if name == "take":
            agent = current_agent()
            return agent is not None and not agent.is_national_admin
        return super().is_action_allowed(name)

    @action("take", "Prendre en charge")
    def action_take(self, ids):
        found = bulk.take_requests(current_agent(), row_ids(ids))
        flash(found.summary(), "success" if found.taken else "warning")

    def scope(self, query):
        return query.filter(caisse_filter(current_agent(), Request.caisse_id))

    def _conditions(self, filters) -> list:
        """Flask-Admin's validated filter arguments (index, name, value) as SQL conditions; keyed by
        the view and the arguments when no filter reads the clock, so the page's statement is kept
        once built (services/prebuilt.py)."""
        conditions = []
        for idx, _name, value in filters or ():
            flt = self._filters[idx]
            conditions.append(flt.condition(flt.clean(value)))
        if conditions and all(self._filters[idx].timeless for idx, _name, _value in filters):
            return prebuilt.Conditions(conditions, (self.endpoint, id(self), *((i, v) for i, _n, v in filters)))
        return conditions

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """The list page (Flask-Admin's index_view is its one caller): a count capped at
        services.queue.COUNT_CAP and the page's rows as QueueRow, in the queue order of R-BO-1 or a
        clicked column's."""
        agent = current_agent()
        size = page_size if page_size is not None else self.page_size
        conditions = self._conditions(filters)
        found = queue_service.queue_page(
            agent, search, conditions, page, size, sort_column, sort_desc, worklist=self.worklist
        )
        return found.total, queue_rows(found.rows, agent)

    def _get_filter_groups(self):
        """Filter options of the caisse's structures and motives are computed per request, per agent."""
        groups = super()._get_filter_groups()
        if not groups:
            return groups
        agent = current_agent()
        if not agent.is_national_admin:  # « Organisme »: one caisse, nothing to choose
            groups = type(groups)(
                (name, items)
                for name, items in groups.items()
                if not any(getattr(self._filters[i["index"]], "national_only", False) for i in items)
            )
        for items in groups.values():
            for item in items:
                flt = self._filters[item["index"]]
                scoped = getattr(flt, "scoped_options", None)
                if scoped is not None:
                    item["options"] = scoped(agent)
        return groups

    # --- export (R-RGPD-4) -----------------------------------------------------------------------
    def get_export_name(self, export_type="csv"):
        return f"demandes_{now():%Y-%m-%d_%H-%M-%S}.{export_type}"

    def _export_data(self):
        """Both formats pass here: the list's parameters (bounded by _get_list_extra_args), the
        export's rows with their true count, and the audit of the export, its filters and its count."""
        agent = current_agent()
        args = self._get_list_extra_args()
        column = self._get_column_by_idx(args.sort)
        found = queue_service.queue_export(
            agent,
            args.search,
            self._conditions(args.filters),
            self.export_max_rows,
            column[0] if column is not None else None,
            args.sort_desc,
            worklist=self.worklist,
        )
        filters = [
            {
                "filtre": str(self._filters[idx].name),
                "opération": str(self._filters[idx].operation()),
                "valeur": value,
            }
            for idx, _name, value in (args.filters or [])
        ]
        request_service.record_queue_export(
            agent,
            request.view_args.get("export_type", "csv"),
            filters,
            args.search,
            rows=len(found.rows),
            total=found.total,
        )
        return found.total, found.rows


class RequestView(RequestScreenMixin, QueueView):
    """« Toutes »: the caisse's whole queue; each row opens the request screen (take, answer, Q/R
    reply), whose routes this view carries (/admin/requests/traiter/ etc.)."""
