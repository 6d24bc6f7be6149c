"""« Tableau de bord » (issue 14): the caisse's figures for its staff, every caisse's for the national
admin with one comparison row per caisse; each table exports to CSV and XLSX (audited).

The figures are services/dashboard's; this view reads the period and filter form (GET), shows the
tables with their charts (Chart.js, served from backoffice/static/vendor, drawn by
static/ep_dashboard.js from each canvas's data attribute: no inline script) and writes the exports.
"""

import csv
import io
from datetime import date, datetime

import tablib
from flask import Response, abort, request, url_for
from flask_admin import expose

from ..clock import now, today
from ..inputs import bounded_int, forbidden_character
from ..services import dashboard as service
from ..services.dashboard import tables as dashboard_tables
from ..services.dashboard.period import CUSTOM, DEFAULT_KIND, PERIOD_KINDS
from ..services.errors import DomainError, ValidationFailed
from .base import ALL_ROLES, SecureBaseView, current_agent
from .requests.filters import filter_choices
from .requests.queue import safe_cell

EXPORT_TYPES = ("csv", "xlsx")
EXPORT_STRUCTURE_ROWS = 5000
DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")
FILTER_FIELDS = (
    ("offre", "offer", "Offre de service"),
    ("motif", "motive", "Motif"),
    ("structure", "structure", "Structure"),
)


def _typed_date(text: str | None) -> date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text or "", fmt).date()
        except ValueError:
            continue
    return None


class DashboardForm:
    """The period and filters as typed (kept on the page), their values, and the French errors."""

    def __init__(self, args, agent):
        self.values = {name: (args.get(name) or "").strip()[:40] for name in ("periode", "debut", "fin", "organisme")}
        for name, _, _ in FILTER_FIELDS:
            self.values[name] = (args.get(name) or "").strip()[:40]
        self.errors: dict[str, str] = {}
        if any(forbidden_character(v) for v in self.values.values()):
            self.values = dict.fromkeys(self.values, "")
            self.errors["formulaire"] = "Le formulaire contient un caractère non autorisé : il n'est pas appliqué."
        choices = filter_choices(agent)
        self.options = {kind: choices.options[kind] for _, kind, _ in FILTER_FIELDS}
        self.caisses = choices.options["caisse"] if agent.is_national_admin else []
        kind = self.values["periode"] if self.values["periode"] in PERIOD_KINDS else DEFAULT_KIND
        self.values["periode"] = kind
        try:
            self.period = service.period_for(
                kind, today(), _typed_date(self.values["debut"]), _typed_date(self.values["fin"])
            )
        except ValidationFailed as exc:
            self.errors.update(exc.errors)
            self.period = service.period_for(DEFAULT_KIND, today())
        ids = {}
        for name, kind_, label in FILTER_FIELDS:
            ids[kind_] = self._chosen(name, self.options[kind_], label)
        self.filters = service.Filters(ids["offer"], ids["motive"], ids["structure"])
        self.caisse_id = self._chosen("organisme", self.caisses, "Organisme") if agent.is_national_admin else None

    def _chosen(self, name: str, options, label: str) -> int | None:
        value = self.values[name]
        if not value:
            return None
        if value not in {v for v, _ in options}:
            self.errors[name] = f"Le filtre « {label} » n'est pas valable : choisissez une valeur de la liste."
            self.values[name] = ""
            return None
        return bounded_int(value)

    def query(self, **extra) -> dict:
        """The form's values as query arguments (the exports' and the comparison's links)."""
        args = {k: v for k, v in self.values.items() if v and (k not in ("debut", "fin") or self.period.kind == CUSTOM)}
        args.update(extra)
        return {k: v for k, v in args.items() if v not in (None, "")}


class DashboardView(SecureBaseView):
    allowed_roles = ALL_ROLES

    @property
    def extra_css(self):
        return [url_for("static", filename="ep_dashboard.css", v="1")]

    @property
    def extra_js(self):
        return [
            url_for("static", filename="vendor/chart.js/chart.umd.min.js", v="4.6.1"),
            url_for("static", filename="ep_dashboard.js", v="1"),
        ]

    def _figures(self, structure_rows: int = service.STRUCTURE_ROWS):
        agent = current_agent()
        form = DashboardForm(request.args, agent)
        try:
            figures = service.dashboard(agent, form.period, form.filters, form.caisse_id, structure_rows=structure_rows)
        except DomainError as exc:
            form.errors["organisme"] = exc.message
            figures = service.dashboard(agent, form.period, form.filters, None, structure_rows=structure_rows)
        labels = filter_choices(agent).labels["offer"]
        tables = dashboard_tables.build(figures, labels, lambda cid: url_for(".index", **form.query(organisme=cid)))
        return agent, form, figures, tables

    @expose("/")
    def index(self):
        agent, form, figures, tables = self._figures()
        caisse_name = None
        if figures.caisse_id is not None:
            caisse_name = dict((int(v), label) for v, label in form.caisses).get(figures.caisse_id)
            if caisse_name is None and agent.caisse is not None:
                caisse_name = agent.caisse.name
        return self.render(
            "admin/dashboard.html",
            form=form,
            figures=figures,
            tables=tables,
            periods=PERIOD_KINDS,
            filter_fields=FILTER_FIELDS,
            caisse_name=caisse_name,
            export_types=EXPORT_TYPES,
            generated=now(),
        )

    @expose("/export/<key>.<export_type>")
    def export(self, key: str, export_type: str):
        if export_type not in EXPORT_TYPES:
            abort(404)
        agent, form, figures, tables = self._figures(EXPORT_STRUCTURE_ROWS)
        table = next((t for t in tables if t.key == key), None)
        if table is None:
            abort(404)
        service.record_export(
            agent,
            figures.caisse_id,
            export_type,
            table.title,
            form.period.label,
            {k: v for k, v in form.query().items() if k != "periode"},
            len(table.rows),
        )
        name = f"tableau_de_bord_{key}_{now():%Y-%m-%d_%H-%M-%S}.{export_type}"
        if export_type == "csv":
            body = io.StringIO()
            writer = csv.writer(body, delimiter=";")
            writer.writerow([safe_cell(h) for h in table.headers])
            writer.writerows([[safe_cell(c) for c in row] for row in table.shown_rows()])
            data, mimetype = "\ufeff" + body.getvalue(), "text/csv; charset=utf-8"
        else:
            sheet = tablib.Dataset(headers=table.headers, title=table.key)
            for row in table.rows:
                sheet.append(
                    [_cell(dashboard_tables.raw(kind, value)) for kind, value in zip(table.kinds, row, strict=True)]
                )
            data = sheet.export("xlsx")
            mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(data, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={name}"})


def _cell(value):
    return safe_cell(value) if isinstance(value, str) else value
