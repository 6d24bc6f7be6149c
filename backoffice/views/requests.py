"""The agent work queue (R-BO-1, R-BO-5) and the request screen (R-BO-2..4), scoped to the caisse.

The view parses input and renders; taking, answering, replying, downloads and export auditing are
service calls (backoffice/services/requests.py).
"""
import io
import math
from datetime import datetime, time, timedelta
from urllib.parse import quote

from flask import abort, flash, g, redirect, request, send_file, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from flask_admin.contrib.sqla.tools import parse_like_term
from flask_admin.model.template import EndpointLinkRowAction
from markupsafe import Markup
from sqlalchemy import and_, any_, func, not_, or_, select, union_all
from sqlalchemy.orm import joinedload

from ..clock import format_date, format_datetime, now, paris_to_utc
from ..extensions import db
from ..inputs import bounded_int
from ..models import (
    Request,
    RequestStatus,
    Structure,
)
from ..models.requests import holds_search_keys, search_keys
from ..services import caisse_cache, uploads
from ..services import requests as request_service
from ..services.attachments import ACCEPT_ATTRIBUTE, ACCEPTED_TEXT, MAX_FILES, MAX_SIZE, human_size
from ..services.errors import DomainError, ValidationFailed
from ..services.scoping import caisse_filter
from .base import ALL_ROLES, SecureModelView, current_agent

ANSWER_MAX = request_service.COMMENT_MAX
STATUS_BADGES = {
    RequestStatus.NEW.value: "primary",
    RequestStatus.TAKEN.value: "info",
    RequestStatus.RESOLVED.value: "success",
    RequestStatus.MESSAGE_SENT.value: "warning",
    RequestStatus.MESSAGE_RECEIVED.value: "secondary",
    RequestStatus.CLOSED.value: "dark",
    RequestStatus.CANCELLED.value: "light",
}


# --- display helpers ---------------------------------------------------------------------------


def time_left_label(req: Request) -> str:
    """R-BO-5 on a "Nouveau" row: "reste 12h" / "en retard de 3h" (minutes under one hour)."""
    left = request_service.time_left(req)
    if left is None:
        return ""
    seconds = left.total_seconds()
    late = seconds < 0
    seconds = abs(seconds)
    if seconds >= 3600:
        amount = f"{int(seconds // 3600)}h"
    else:
        amount = f"{math.ceil(seconds / 60)} min"
    return f"en retard de {amount}" if late else f"reste {amount}"


def person_label(req: Request) -> str:
    if not req.person_last_name:
        return ""
    return f"{req.person_civility or ''} {req.person_last_name} {req.person_first_name or ''}".strip()


def _process_url(request_id) -> str:
    """The request screen's URL; url_for runs once per page, not twice per row."""
    if "ep_process_base" not in g:
        g.ep_process_base = url_for("requests.process_view")
    return f"{g.ep_process_base}?id={quote(str(request_id))}"


def _number_link(view, context, model, name):
    return Markup('<a href="{}" class="font-weight-bold">{}</a>').format(_process_url(model.id), model.number)


class ProcessRowAction(EndpointLinkRowAction):
    """'Traiter la demande' on each row: EndpointLinkRowAction's link, built from _process_url."""

    def render(self, context, row_id, row):
        return self._resolve_symbol(context, "row_actions.link")(self, _process_url(row_id))


def _status_badge(view, context, model, name):
    colour = STATUS_BADGES.get(model.status, "secondary")
    return Markup('<span class="badge badge-{}">{}</span>').format(colour, model.status_label)


def _time_left_cell(view, context, model, name):
    label = time_left_label(model)
    if not label:
        return ""
    css = "text-danger font-weight-bold" if label.startswith("en retard") else "text-muted"
    return Markup('<span class="{}">{}</span>').format(css, label)


def _safe_cell(value) -> str:
    """Spreadsheet exports: a value starting like a formula is neutralised (CSV injection)."""
    value = "" if value is None else str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _export(getter):
    return lambda view, context, model, name: _safe_cell(getter(model))


# --- filters -----------------------------------------------------------------------------------


class StatusEqual(FilterEqual):
    def operation(self):
        return "est"


class IdEqual(FilterEqual):
    """Equality on an id column; the options are computed per request for the agent's caisse."""

    def __init__(self, column, name, scoped_options):
        super().__init__(column, name)
        self.scoped_options = scoped_options

    def clean(self, value):
        return int(value)

    def operation(self):
        return "est"


def _offer_options(agent):
    return _filter_options(agent)["offer"]


def _motive_options(agent):
    return _filter_options(agent)["motive"]


def _structure_options(agent):
    """Only the structures under convention with the agent's caisse: no other caisse's partners."""
    return _filter_options(agent)["structure"]


def _filter_choices(agent) -> caisse_cache.QueueChoices:
    """The filters' options and the rows' labels (services/caisse_cache: kept per worker under the
    caisse's options stamp), once per request."""
    if "ep_queue_choices" not in g:
        g.ep_queue_choices = caisse_cache.options_for(agent)
    return g.ep_queue_choices


def _filter_options(agent) -> dict[str, list[tuple[str, str]]]:
    """The three scoped option lists: offers; the caisse's motives; its structures under convention."""
    return _filter_choices(agent).options


def _paris_day_start(day) -> datetime:
    return paris_to_utc(datetime.combine(day, time.min))


class DepositBetween(BaseSQLAFilter):
    """Deposit dates typed as Paris calendar days (both included), compared in UTC storage time."""

    def __init__(self, column, name):
        super().__init__(column, name, data_type="daterangepicker")

    def clean(self, value):
        start, end = [datetime.strptime(part, "%Y-%m-%d").date() for part in value.split(" to ")]
        return start, end

    def validate(self, value):
        try:
            start, end = self.clean(value)
        except ValueError:
            return False
        return start <= end

    def apply(self, query, value, alias=None):
        start, end = value
        column = self.get_column(alias)
        return query.filter(column >= _paris_day_start(start), column < _paris_day_start(end + timedelta(days=1)))

    def operation(self):
        return "entre"


class DepositFrom(BaseSQLAFilter):
    def __init__(self, column, name):
        super().__init__(column, name, data_type="datepicker")

    def clean(self, value):
        return datetime.strptime(value, "%Y-%m-%d").date()

    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias) >= _paris_day_start(value))

    def operation(self):
        return "à partir du"


class DepositUntil(DepositFrom):
    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias) < _paris_day_start(value + timedelta(days=1)))

    def operation(self):
        return "jusqu'au"


class OverdueFilter(BaseSQLAFilter):
    """R-BO-5: "Nouveau" for more than 48 hours (Oui), or not (Non)."""

    def __init__(self, column, name):
        super().__init__(column, name, options=[("1", "Oui"), ("0", "Non")])

    def apply(self, query, value, alias=None):
        condition = request_service.overdue_condition()
        return query.filter(condition if value == "1" else not_(condition))

    def operation(self):
        return "est"


# --- the view ----------------------------------------------------------------------------------

# The list counts at most this many rows: beyond, it shows "plus de 1000" (a caisse's queue holds
# years of closed requests; counting them all on every page would grow with the table).
COUNT_CAP = 1000


SCREEN_RELATIONS = (
    Request.structure, Request.caisse, Request.service_offer, Request.motive, Request.taken_by, Request.resolved_by,
)


class QueueRow:
    """One queue row as the list shows it: read as plain columns (no ORM entity), formatted once.

    The cells are those of `column_formatters` (the export keeps them); the lean row template
    (admin/request_list.html) prints these attributes instead of calling a macro per cell. The
    offer, motive and structure labels come by id from the queue's choices (services/caisse_cache),
    which the filters read anyway: the page's statement joins no other table.
    """

    __slots__ = ("id", "number", "deposited", "offer", "motive", "structure", "person", "status_label", "badge",
                 "time_left", "late", "url")

    def __init__(self, row, labels: dict[str, dict[int, str]]):
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
        self.time_left = time_left_label(row)
        self.late = self.time_left.startswith("en retard")
        self.url = _process_url(row.id)


_QUEUE_COLUMNS = (
    Request.id, Request.number, Request.deposited_at, Request.status, Request.person_civility,
    Request.person_last_name, Request.person_first_name, Request.service_offer_id, Request.motive_id,
    Request.structure_id,
)


def _queue_rows(rows, agent) -> list[QueueRow]:
    labels = _filter_choices(agent).labels
    missing = {row.structure_id for row in rows} - labels["structure"].keys()
    if missing:  # a convention moved to another caisse leaves its requests here: their names are read
        names = db.session.execute(select(Structure.id, Structure.name).where(Structure.id.in_(missing)))
        labels = {**labels, "structure": {**labels["structure"], **dict(names.all())}}
    return [QueueRow(row, labels) for row in rows]


class CappedCount(int):
    """A count that stopped past COUNT_CAP: pagination uses the number, the page shows "plus de N"."""

    def __str__(self) -> str:
        return f"plus de {COUNT_CAP}"



class RequestView(SecureModelView):
    """The work queue; each row opens the request screen (take, answer, Q/R reply)."""

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
        "number", "deposited_at", "service_offer", "motive", "structure", "person", "status", "time_left",
    ]
    column_labels = {
        "number": "N° de demande",
        "deposited_at": "Date de dépôt",
        "service_offer": "Offre de service",
        "motive": "Motif",
        "structure": "Structure",
        "person": "Personne concernée",
        "status": "Statut",
        "time_left": "Délai 48 h",
        "requester_name": "Demandeur",
        "status_changed_at": "Date statut",
        "structure.name": "Structure",
        "person_last_name": "Nom de la personne concernée",
    }
    column_select_related_list = [Request.service_offer, Request.motive, Request.structure]
    column_sortable_list = [
        "number",
        "deposited_at",
        "status",
        ("service_offer", "service_offer.label"),
        ("motive", "motive.label"),
        ("structure", "structure.name"),
        ("person", "person_last_name"),
    ]
    column_searchable_list = ["number", "person_last_name", "structure.name"]
    column_formatters = {
        "number": _number_link,
        # Explicit: the base view's date formatter would also catch datetimes (datetime is a date).
        "deposited_at": lambda v, c, m, n: format_datetime(m.deposited_at),
        "service_offer": lambda v, c, m, n: m.service_offer.label,
        "motive": lambda v, c, m, n: m.motive.label if m.motive else "",
        "structure": lambda v, c, m, n: m.structure.name,
        "person": lambda v, c, m, n: person_label(m),
        "status": _status_badge,
        "time_left": _time_left_cell,
    }
    column_export_list = [
        "number", "deposited_at", "service_offer", "motive", "structure", "requester_name", "person",
        "status", "status_changed_at", "time_left",
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
        StatusEqual(Request.status, "Statut", options=[(s.value, s.label) for s in RequestStatus]),
        IdEqual(Request.service_offer_id, "Offre de service", _offer_options),
        IdEqual(Request.motive_id, "Motif", _motive_options),
        IdEqual(Request.structure_id, "Structure", _structure_options),
        DepositBetween(Request.deposited_at, "Date de dépôt"),
        DepositFrom(Request.deposited_at, "Date de dépôt"),
        DepositUntil(Request.deposited_at, "Date de dépôt"),
        OverdueFilter(Request.deposited_at, "En retard (plus de 48 h)"),
    ]
    column_extra_row_actions = [
        ProcessRowAction("fa fa-folder-open", ".process_view", title="Traiter la demande"),
    ]

    def search_placeholder(self):
        return "N° de demande, nom de la personne, structure"

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Flask-Admin's search (each word in the number, the person's name or the structure's
        name; "^mot" starts with, "=mot" equals), written so PostgreSQL's indexes serve it: the
        columns are not cast, the structure names are matched on their own table, whose few ids then
        select the caisse's requests (no join of every row of the caisse), and for an agent of one
        caisse the number and name are first narrowed by the caisse's own trigram keys
        (ix_request_search_keys), whose posting lists hold that caisse's requests only."""
        postgresql = db.engine.dialect.name == "postgresql"
        agent = current_agent()
        caisse_id = None if agent.is_national_admin else agent.caisse_id
        for term in search.split(" "):
            if not term:
                continue
            pattern = parse_like_term(term)
            structures = select(Structure.id).where(Structure.name.ilike(pattern))
            if postgresql:
                in_structures = Request.structure_id == any_(func.array(structures.scalar_subquery()))
            else:
                in_structures = Request.structure_id.in_(structures)
            in_columns = or_(Request.number.ilike(pattern), Request.person_last_name.ilike(pattern))
            condition = or_(in_columns, in_structures)
            keys = search_keys(caisse_id, pattern) if postgresql and caisse_id is not None else []
            if keys:
                # (keys ∨ structures) ∧ (columns ∨ structures) is the condition itself, as a row of the
                # caisse matching the columns holds the keys; the first half is what the indexes
                # answer (a BitmapOr), the second is checked on those rows only.
                condition = and_(or_(holds_search_keys(keys), in_structures), condition)
            query = query.filter(condition)
            if count_query is not None:
                count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    def scope(self, query):
        return query.filter(caisse_filter(current_agent(), Request.caisse_id))

    def _apply_sorting(self, query, joins, sort_column, sort_desc):
        """A clicked column header sorts as Flask-Admin does; otherwise the queue order of R-BO-1."""
        if sort_column is not None:
            query, joins = super()._apply_sorting(query, joins, sort_column, sort_desc)
            return query.order_by(Request.id.desc()), joins
        return query.order_by(*request_service.queue_order()), joins

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """The list page: a capped count and the page's rows as QueueRow (plain columns), read in the
        queue order of R-BO-1 without sorting the caisse's whole queue, or in a clicked column's order.

        Exports (and any other caller) keep Flask-Admin's get_list with its true count and entities.
        """
        if not execute or request.endpoint != f"{self.endpoint}.index_view":
            return super().get_list(page, sort_column, sort_desc, search, filters, execute, page_size)
        joins: dict = {}
        count_joins: dict = {}
        query = self.get_query()
        if self._search_supported and search:
            query, _, joins, count_joins = self._apply_search(query, None, joins, count_joins, search)
        if filters and self._filters:
            query, _, joins, count_joins = self._apply_filters(query, None, joins, count_joins, filters)
        size = page_size if page_size is not None else self.page_size
        offset = (page or 0) * size
        total = self._capped_count_column(query)
        if sort_column is not None:
            query, joins = self._apply_sorting(query, joins, sort_column, sort_desc)
            ranked = query.with_entities(Request.id, total).limit(size).offset(offset).all()
            rank = {row.id: position for position, row in enumerate(ranked)}
            statement = select(*_QUEUE_COLUMNS).where(Request.id.in_(rank))
            rows = sorted(db.session.execute(statement), key=lambda row: rank[row.id])
            count = ranked[0].total if ranked else None
        elif search:
            count, rows = self._searched_page(query, total, offset, size)
        else:
            rows = db.session.execute(self._queue_page(query, offset, size).add_columns(total)).all()
            count = rows[0].total if rows else None
        if count is None:  # no row to carry the count (nothing matches, or a page past the end)
            count = db.session.scalar(select(total))
        return CappedCount(count) if count > COUNT_CAP else count, _queue_rows(rows, current_agent())

    def _searched_page(self, query, total, offset: int, size: int):
        """A search usually matches a few requests: they are searched once (index-served on
        PostgreSQL, at most COUNT_CAP + 1 of them) with the columns the rows show, and one statement
        counts them (count(*) OVER ()) and sorts them in the queue order — rather than searching the
        caisse's rows once for the count and again for each half of the queue, or reading each match
        again by its key. Past COUNT_CAP matches the first COUNT_CAP + 1 found are not the queue's
        first ones: the page (or a page past them) is then read as an unsearched one is."""
        matches = query.with_entities(*_QUEUE_COLUMNS).order_by(None).limit(COUNT_CAP + 1).subquery()
        rows = db.session.execute(
            select(*matches.c, func.count().over().label("total"))
            .order_by(*request_service.queue_order(matches.c))
            .offset(offset)
            .limit(size)
        ).all()
        if (rows[0].total > COUNT_CAP) if rows else offset > 0:  # past the cap, or a page beyond those found
            rows = db.session.execute(self._queue_page(query, offset, size).add_columns(total)).all()
        return (rows[0].total if rows else None), rows

    @staticmethod
    def _capped_count_column(query):
        """How many requests match, counted up to COUNT_CAP + 1 (index-only, bounded whatever the
        table's size): a scalar column that rides along the page's rows, not a statement of its own."""
        matches = query.with_entities(Request.id).order_by(None).limit(COUNT_CAP + 1).subquery()
        return select(func.count()).select_from(matches).scalar_subquery().label("total")

    @staticmethod
    def _queue_page(query, offset: int, size: int):
        """R-BO-1's order (request_service.queue_order) without sorting the caisse's whole queue.

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
        candidates = union_all(select(new.c.id), select(others.c.id)).subquery()
        return (
            select(*_QUEUE_COLUMNS)
            .where(Request.id.in_(select(candidates.c.id)))
            .order_by(*request_service.queue_order())
            .offset(offset)
            .limit(size)
        )

    def _get_filter_groups(self):
        """Filter options of the caisse's structures and motives are computed per request, per agent."""
        groups = super()._get_filter_groups()
        if not groups:
            return groups
        agent = current_agent()
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
        """Both formats pass here: the export, its filters and its row count go to the audit log."""
        count, data = super()._export_data()
        view_args = self._get_list_extra_args()
        filters = [
            {
                "filtre": str(self._filters[idx].name),
                "opération": str(self._filters[idx].operation()),
                "valeur": value,
            }
            for idx, _name, value in (view_args.filters or [])
        ]
        request_service.record_queue_export(
            current_agent(), request.view_args.get("export_type", "csv"), filters, view_args.search,
            rows=len(data), total=count,
        )
        return count, data

    # --- the request screen ----------------------------------------------------------------------
    def _request_or_404(self, value) -> Request:
        """The caisse's request (get_query is scoped) with what the screen shows, in one statement."""
        request_id = bounded_int(value)
        if request_id is None:
            abort(404)
        req = (
            self.get_query()
            .options(*(joinedload(relation) for relation in SCREEN_RELATIONS))
            .filter(Request.id == request_id)
            .one_or_none()
        )
        if req is None:
            abort(404)
        return req

    def _screen(self, req: Request, answer_form=None, reply_form=None, status=200):
        attachments = request_service.request_files(req)
        by_message: dict[int | None, list] = {}
        for attachment in attachments:
            by_message.setdefault(attachment.exchange_message_id, []).append(attachment)
        initial_partner = [a for a in by_message.get(None, []) if a.side == "partner"]
        answer_files = [a for a in by_message.get(None, []) if a.side == "caisse"]
        exchange = request_service.exchange_state(req, attachments)
        left = time_left_label(req)
        return (
            self.render(
                "admin/request_screen.html",
                req=req,
                details=req.details or {},
                person=person_label(req),
                time_left=left,
                overdue=left.startswith("en retard"),
                history=request_service.status_history(req),
                initial_partner=initial_partner,
                answer_files=answer_files,
                by_message=by_message,
                exchange=exchange,
                can_take=req.status == RequestStatus.NEW.value,
                can_answer=req.status in (RequestStatus.NEW.value, RequestStatus.TAKEN.value),
                can_reply=req.status == RequestStatus.MESSAGE_SENT.value,
                answer_form=answer_form or _FormState(),
                reply_form=reply_form or _FormState(),
                saisine=bool(req.motive and req.motive.label == request_service.SAISINE_MOTIVE),
                answer_max=ANSWER_MAX,
                max_files=MAX_FILES,
                accept=ACCEPT_ATTRIBUTE,
                accepted_text=ACCEPTED_TEXT,
                human_size=human_size,
                format_date=format_date,
                return_url=url_for(".index_view"),
            ),
            status,
        )

    @expose("/traiter/")
    def process_view(self):
        return self._screen(self._request_or_404(request.args.get("id")))

    @expose("/prendre/", methods=("POST",))
    def take_view(self):
        req = self._request_or_404(request.form.get("id"))
        try:
            request_service.take_request(current_agent(), req)
            flash(f"Vous avez pris en charge la demande N° {req.number}.", "success")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        return redirect(url_for(".process_view", id=req.id))

    @expose("/repondre/", methods=("POST",))
    def answer_view(self):
        req = self._request_or_404(request.form.get("id"))
        state = _FormState.from_post("answer", "attachments")
        if _answerable(req) and not state.stage(current_agent()):
            return self._screen(req, answer_form=state, status=400)  # a file refused: nothing else lost
        return self._finish(req, state, request_service.answer_request, "answer",
                            "La réponse est enregistrée : la demande est résolue.")

    @expose("/message/", methods=("POST",))
    def reply_view(self):
        req = self._request_or_404(request.form.get("id"))
        state = _FormState.from_post("body", "reply_attachments")
        if req.status == RequestStatus.MESSAGE_SENT.value and not state.stage(current_agent()):
            return self._screen(req, reply_form=state, status=400)
        return self._finish(req, state, request_service.caisse_reply, "body",
                            "Votre réponse au message du partenaire est envoyée.")

    def _finish(self, req, state, service, field, success):
        """Call the service; refusals re-render the screen with the typed text and kept files."""
        try:
            service(current_agent(), req, state.text, state.keys)
        except ValidationFailed as exc:
            db.session.rollback()
            state.errors.update(exc.errors)
            kwargs = {"answer_form": state} if field == "answer" else {"reply_form": state}
            return self._screen(req, status=400, **kwargs)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return redirect(url_for(".process_view", id=req.id))
        flash(success, "success")
        return redirect(url_for(".process_view", id=req.id))

    @expose("/pj/")
    def attachment_view(self):
        """An attachment of a request of the agent's caisse, as a download (audited)."""
        agent = current_agent()
        attachment_id = bounded_int(request.args.get("id"))
        if attachment_id is None:
            abort(404)
        attachment = request_service.agent_attachment(agent, attachment_id)
        if attachment is None:
            abort(404)
        data = request_service.download_for_agent(agent, attachment)
        if data is None:
            abort(404)
        response = send_file(
            io.BytesIO(data),
            mimetype=attachment.content_type,
            as_attachment=True,
            download_name=attachment.filename,
            conditional=False,
            etag=False,
            max_age=0,
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response


def _answerable(req: Request) -> bool:
    return req.status in (RequestStatus.NEW.value, RequestStatus.TAKEN.value)


class _FormState:
    """What the agent typed and the files already accepted (staged), kept across a refusal."""

    def __init__(self, text: str = "", keys=None):
        self.text = text
        self.keys = list(keys or [])
        self.errors: dict[str, str] = {}
        self.files = []
        self.removed: set[str] = set()
        self._uploads: list[tuple[str, bytes]] = []

    @classmethod
    def from_post(cls, text_field: str, files_field: str) -> "_FormState":
        removed = set(request.form.getlist("remove_staged"))
        keys = [k for k in request.form.getlist("staged") if k and k not in removed]
        state = cls(request.form.get(text_field, ""), keys)
        state.removed = removed
        state._uploads = [
            # One byte over the limit is enough for the size refusal; no more is read into memory.
            (f.filename, f.read(MAX_SIZE + 1)) for f in request.files.getlist(files_field) if f and f.filename
        ]
        return state

    def stage(self, agent) -> bool:
        """Stage new files by content; True when every file was accepted (the form may proceed)."""
        for key in self.removed:
            uploads.discard(agent, key)
        refusals = []
        if self._uploads:
            new_keys, refusals = uploads.stage_with_keys(agent, self._uploads)
            self.keys += new_keys
        self.files = uploads.staged(agent, self.keys)
        self.keys = [f.key for f in self.files]
        if refusals:
            self.errors["attachments"] = " ".join(refusals)
        return not refusals
