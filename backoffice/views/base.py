"""Secure Flask-Admin building blocks: role checks, CSRF forms, tenant-scoped queries.

Every Flask-Admin hook the back office overrides (tests/test_flask_admin_hooks.py checks each one
against the installed Flask-Admin: it still exists with the signature below, and it still does its
work through the test client):

Here, for every view (RoleMixin) and every model view (SecureModelView):
- is_accessible(), inaccessible_callback(name, **kwargs) (public): the role check; anonymous →
  the login page, a partner account or the wrong role → 403.
- _handle_view(name, **kwargs) (private, "executed before calling any view method"): after the role
  check, drops an off-site `url=` return parameter (drop_offsite_return_url), which Flask-Admin
  reads through a module-level helper that no public method wraps.
- get_query(), get_count_query() (public): tenant scoping (`scope`, deny by default).
- get_one(id) (public): an id outside the database's integer range is no object.
- create_model(form), update_model(form, model), delete_model(model) (public): writes go through
  the services (service_create / service_update); no deletion.
- get_save_return_url(model, is_created) (public): after a save, a same-site `url=` or the list.
- _get_list_extra_args() (private): page, sort, search and filter values bounded before any
  query; the one place Flask-Admin parses its list's and export's query string.
- get_invalid_value_msg(value, filter) (public): a refused filter value's message, in French.
- get_list_row_actions() (public): each row's icon links name their row (« Modifier : CPAM
  GIRONDE »: row_action_name, views/presentation.NamedLinkRowAction).
- get_url(endpoint, **kwargs) (public): the static files' URLs and the list's path kept per process
  (views/url_cache.py, tests/test_url_cache.py).

In views/requests/queue.py (QueueView: RequestView « Toutes » and the worklists of worklists.py):
- get_list(page, sort_column, sort_desc, search, filters, execute, page_size) (public): the list
  page's count and rows from services/queue.queue_page (Flask-Admin's index_view is its caller).
- search_placeholder() (public): the search box's hint; the search itself is the service's
  (column_searchable_list only turns the box on).
- _get_filter_groups() (private): the offer, motive and structure filters' options are the agent's
  caisse's, computed per request rather than once at start-up.
- _export_data() (private, what the export route calls): the export's rows from
  services/queue.queue_export, with its filters and row count audited (R-RGPD-4); it reads the
  sort column with _get_column_by_idx(idx).
- get_export_name(export_type) (public): the exported file's name.
- is_action_allowed(name) (public): the bulk « Prendre en charge » is the caisse's staff's only.

In the other views, public form hooks only: create_form(obj), edit_form(obj) (news, partners,
registry), on_form_prefill(form, id) (news), and Flask-Admin's `@action` methods.
"""

from datetime import date

from flask import abort, flash, g, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin.contrib.sqla import ModelView
from flask_admin.form import SecureForm
from flask_admin.model.template import EndpointLinkRowAction
from flask_login import current_user
from flask_wtf.csrf import _FlaskFormCSRF
from markupsafe import Markup
from sqlalchemy import false
from sqlalchemy import inspect as sa_inspect
from werkzeug.datastructures import CombinedMultiDict, ImmutableMultiDict

from ..current import current_agent  # noqa: F401 (the views import it from here)
from ..extensions import db
from ..inputs import (
    SafeFieldsMixin,
    bounded_int,
    date_in_range,
    forbidden_character,
    safe_next,
    same_site_path,
)
from ..models import AgentRole
from ..services.errors import DomainError
from ..ui import (
    run_service,
    show_domain_error,  # noqa: F401 (the views import it from here)
)
from .presentation import TYPE_FORMATTERS, NamedLinkRowAction
from .url_cache import CachedUrlsMixin

ALL_ROLES = {r.value for r in AgentRole}
ADMINS = {AgentRole.NATIONAL_ADMIN.value, AgentRole.CAISSE_ADMIN.value}
NATIONAL = {AgentRole.NATIONAL_ADMIN.value}


class AdminSecureForm(SafeFieldsMixin, SecureForm):
    """Flask-Admin's SecureForm, with Flask-WTF's token so the global CSRFProtect accepts it, and
    inputs.SafeFieldsMixin: no NUL or control character, no integer or date out of range reaches a
    validator or the database (a French message on the field instead)."""

    class Meta(SecureForm.Meta):
        csrf_class = _FlaskFormCSRF
        csrf_field_name = "csrf_token"
        csrf_time_limit = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A relation's blank choice (QuerySelectField, allow_blank) has no text by default, and
        # WTForms then prints its value: "__None". It reads « — ».
        for field in self:
            if getattr(field, "allow_blank", False) and not getattr(field, "blank_text", None):
                field.blank_text = BLANK_CHOICE


BLANK_CHOICE = "—"
RETURN_URL_PARAM = "url"  # the parameter Flask-Admin's get_redirect_target() reads


def drop_offsite_return_url() -> None:
    """Remove Flask-Admin's `url=` return parameter from the request when any of its values is not
    a same-site path (inputs.same_site_path, the check the login `next` uses too).

    Flask-Admin reads it with flask_admin.helpers.get_redirect_target(), from `request.values`,
    in create/edit/details/delete views, in handle_action() and in get_save_return_url(); its own
    is_safe_url() lets `http:evil.example` and CR/LF through. Without the parameter every one of
    those falls back to the view's list. args, form and values are replaced together (Werkzeug's
    cached properties), so templates reading `request.args` see the same thing.
    """
    values = request.values.getlist(RETURN_URL_PARAM)
    if not values or all(same_site_path(v) for v in values):
        return
    args = request.args.copy()
    args.poplist(RETURN_URL_PARAM)
    form = request.form.copy()
    form.poplist(RETURN_URL_PARAM)
    request.args = ImmutableMultiDict(args)
    request.form = ImmutableMultiDict(form)
    request.values = CombinedMultiDict([request.args] if request.method == "GET" else [request.args, request.form])


class RoleMixin(CachedUrlsMixin):
    """Anonymous → login page; a partner account or the wrong role → 403 (hooks: module docstring)."""

    allowed_roles: set[str] = ALL_ROLES

    def is_accessible(self) -> bool:
        agent = current_agent()
        return agent is not None and agent.role in self.allowed_roles

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("bo_auth.login", next=safe_next(request.full_path.rstrip("?"), None)))
        abort(403)

    def _handle_view(self, name, **kwargs):
        response = super()._handle_view(name, **kwargs)
        if response is None:
            drop_offsite_return_url()
        return response


class SecureIndexView(RoleMixin, AdminIndexView):
    """The home (its worklist counters: admin/ep_index.html) and, after signing in, the landing."""

    @expose("/")
    def index(self):
        return self.render(self._template, agent=current_agent())

    @expose("/arrivee/")
    def landing(self):
        """Where the login sends an agent: « À traiter » for the caisse's staff, the home for the
        national admin (views/requests/worklists.landing_url)."""
        from .requests.worklists import landing_url

        return redirect(landing_url(current_agent()))


class SecureBaseView(RoleMixin, BaseView):
    pass


class SecureModelView(RoleMixin, ModelView):
    """A ModelView whose list, count, single-object look-ups and relation fields are tenant-scoped.

    Subclasses implement `scope(query)`; creation and edits go through `service_create` and
    `service_update`, which call the service layer and may raise DomainError.

    The Flask-Admin hooks it overrides are listed in the module's docstring.
    """

    form_base_class = AdminSecureForm
    list_template = "admin/model/ep_list.html"  # accessible row names (row_action_name)
    row_name_column: str | None = None  # the column naming a row for screen readers: the first listed
    can_set_page_size = True
    page_size = 20
    can_delete = False
    column_display_pk = False
    details_modal = False
    edit_modal = False
    create_modal = False

    def __init__(self, model, session=None, **kwargs):
        # The same French formats on the list and on the details page (Flask-Admin's details page
        # would print a datetime in ISO and UTC, an enum's code, a boolean as an English title).
        self.column_type_formatters = {**(self.column_type_formatters or {}), **TYPE_FORMATTERS}
        self.column_type_formatters_detail = {**(self.column_type_formatters_detail or {}), **TYPE_FORMATTERS}
        super().__init__(model, session or db, **kwargs)

    # --- accessible names of the rows' checkboxes and icon links -------------------------------
    def get_list_row_actions(self):
        """Public hook: the row actions, each naming its row (EndpointLinkRowAction gives the
        row_actions.link macro no row; NamedLinkRowAction does)."""
        return [
            NamedLinkRowAction(a.icon_class, a.endpoint, a.title, a.id_arg, a.url_args)
            if type(a) is EndpointLinkRowAction
            else a
            for a in super().get_list_row_actions()
        ]

    def row_name(self, row) -> str:
        """The row as a screen reader names it: its `row_name_column`, else the first listed column
        with a text (a thumbnail has none), as the list shows it, without markup."""
        cache = g.setdefault("ep_row_names", {})
        key = (self.endpoint, id(row))
        if key not in cache:
            columns = [self.row_name_column] if self.row_name_column else [c for c, _n in self._list_columns]
            cache[key] = next((text for text in (self._cell_text(row, c) for c in columns) if text), "")
        return cache[key]

    def _cell_text(self, row, column) -> str:
        value = self.get_list_value(None, row, column)
        return (value.striptags() if isinstance(value, Markup) else str(value or "")).strip()

    def row_action_name(self, title, row) -> str:
        """« Modifier : CPAM GIRONDE »: what an icon link or a checkbox does, to which row."""
        name = self.row_name(row) if row is not None else ""
        return f"{title} : {name}" if name else str(title or "")

    # --- scoping --------------------------------------------------------------------------------
    def scope(self, query):
        """Deny by default: a view that forgets to scope shows nothing."""
        return query.filter(false())

    def get_query(self):
        return self.scope(super().get_query())

    def get_count_query(self):
        return self.scope(super().get_count_query())

    def get_save_return_url(self, model, is_created: bool = False) -> str:
        """Public hook: after a save, the same-site `url=` or the list (never another site)."""
        return safe_next(request.values.get(RETURN_URL_PARAM), self.get_url(".index_view"))

    def get_one(self, id):
        """The scoped object with that id, or None (Flask-Admin then goes back to the list): an id
        that is not an integer of the database's range is no object's."""
        pk = sa_inspect(self.model).primary_key[0]
        if pk.type.python_type is int:
            value = bounded_int(id)
        else:
            value = id if isinstance(id, str) and not forbidden_character(id) else None
        if value is None:
            return None
        return self.get_query().filter(pk == value).one_or_none()

    # --- list parameters ------------------------------------------------------------------------
    def _get_list_extra_args(self):
        """Flask-Admin's list parameters (list, export), each bounded: a page number outside
        0..MAX_PAGE is the first page, a sort index out of range is none, a search with a
        forbidden character or longer than SEARCH_MAX is not applied (a French message says so),
        and a filter value that is not a bounded integer or date is refused as Flask-Admin refuses
        a malformed one (get_invalid_value_msg). Private hook: the one place Flask-Admin parses the
        query string of its list and export views (RequestView's own get_list included)."""
        args = super()._get_list_extra_args()
        page = args.page if args.page is not None and 0 <= args.page <= MAX_PAGE else 0
        sort = args.sort if args.sort is not None and 0 <= args.sort <= MAX_PAGE else None
        search = args.search
        if search and (forbidden_character(search) or len(search) > SEARCH_MAX):
            flash(SEARCH_REFUSED, "error")
            search = None
        filters = []
        for item in args.filters or ():
            idx, _name, value = item
            flt = self._filters[idx]
            if filter_value_ok(flt, value):
                filters.append(item)
            else:
                flash(self.get_invalid_value_msg(value, flt), "error")
        return args.clone(page=page, sort=sort, search=search, filters=filters or None)

    def get_invalid_value_msg(self, value, filter):  # noqa: A002 (Flask-Admin's name)
        """Public hook: the message for a refused filter value, in French (the value is not echoed)."""
        return f"Le filtre « {filter.name} » n'est pas appliqué : sa valeur n'est pas valable."

    # --- writes through the service layer -------------------------------------------------------
    def service_create(self, form):
        raise DomainError("La création n'est pas disponible ici.")

    def service_update(self, form, model):
        raise DomainError("La modification n'est pas disponible ici.")

    def create_model(self, form):
        """The record the service created, or False: refused, the form shows why (Flask-Admin's contract)."""
        return run_service(lambda: self.service_create(form), form=form) or False

    def update_model(self, form, model):
        """True when the service updated the record, or False: refused, the form shows why."""
        return bool(run_service(lambda: self.service_update(form, model) or True, form=form))

    def delete_model(self, model):
        flash("La suppression n'est pas autorisée.", "error")
        return False


MAX_PAGE = 100_000  # a list page number (or a sort column index) beyond this is nobody's
SEARCH_MAX = 200
SEARCH_REFUSED = (
    f"La recherche n'est pas appliquée : elle contient un caractère non autorisé ou dépasse {SEARCH_MAX} caractères."
)
FILTER_TEXT_MAX = 200


def filter_value_ok(flt, value) -> bool:
    """A filter value Flask-Admin's validate() accepted, checked once more for what it lets through:
    control characters, long texts (SQLite's LIKE patterns stop at 50 000 bytes), integers past
    the database's range, dates past YEAR_MIN..YEAR_MAX (the Paris/UTC conversions overflow)."""
    if not isinstance(value, str) or forbidden_character(value) or len(value) > FILTER_TEXT_MAX:
        return False
    try:
        cleaned = flt.clean(value)
    except (TypeError, ValueError, OverflowError):
        return False
    for item in cleaned if isinstance(cleaned, (list, tuple, set)) else (cleaned,):
        if isinstance(item, int) and not isinstance(item, bool) and bounded_int(item) is None:
            return False
        if isinstance(item, date) and not date_in_range(item):
            return False
    return True


def row_ids(ids) -> list[int]:
    """The ids of an action's ticked rows (Flask-Admin's `rowid`) that are integers of the database's
    range; anything else is no row."""
    return [i for i in map(bounded_int, ids) if i is not None]


def model_id(value):
    return value.id if value is not None else None
