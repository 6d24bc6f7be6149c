"""Structures, conventions and manager accounts, scoped to the caisse of the admin (R-TEN-2)."""

from functools import partial

from flask import flash, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_admin.model.template import EndpointLinkRowAction
from markupsafe import Markup
from sqlalchemy import or_
from wtforms import DateField, SelectField, TextAreaField
from wtforms.validators import Optional

from ..clock import today
from ..extensions import db
from ..models import (
    CIVILITIES,
    STRUCTURE_TYPES,
    Caisse,
    Convention,
    ConventionState,
    PartnerAccount,
    PartnerRole,
    ServiceOffer,
    Structure,
)
from ..models.partners import state_condition
from ..services import accounts as account_service
from ..services import structures as structure_service
from ..services.errors import DomainError
from ..services.scoping import convention_filter, partner_account_filter, structure_filter
from ..ui import row_or_404, run_service
from . import labels
from .base import ADMINS, AdminSecureForm, SecureModelView, current_agent


def visible_structures_query():
    return db.session.query(Structure).filter(structure_filter(current_agent())).order_by(Structure.name)


class StructureView(SecureModelView):
    allowed_roles = ADMINS
    column_list = ["name", "type", "siret", "postal_code", "city", "member_count"]
    column_labels = labels.of("name", "type", "siret", "address", "postal_code", "city", "member_count")
    column_searchable_list = ["name", "siret", "city"]
    column_filters = ["type"]
    column_default_sort = "name"
    form_columns = ["name", "type", "siret", "address", "postal_code", "city", "member_count"]
    form_overrides = {"type": SelectField}
    form_args = {
        "name": {"label": "Nom de la structure"},
        "type": {"label": "Type de structure", "choices": [("", "—")] + [(t, t) for t in STRUCTURE_TYPES]},
        "siret": {"label": "SIRET (14 chiffres)"},
        "member_count": {
            "label": "Nombre de membres",
            "description": "Salariés et bénévoles : il fixe le nombre de comptes autorisés.",
        },
    }

    def scope(self, query):
        return query.filter(structure_filter(current_agent()))

    def _data(self, form):
        return {k: form[k].data for k in self.form_columns}

    def service_create(self, form):
        return structure_service.create_structure(self._data(form), current_agent())

    def service_update(self, form, model):
        structure_service.update_structure(model, self._data(form), current_agent())


class ConventionStateFilter(BaseSQLAFilter):
    """R-CONV-4 as a list filter: the state is computed from today's date."""

    def apply(self, query, value, alias=None):
        states = {s.value: s for s in ConventionState}
        if value not in states:
            return query.filter(or_(False))
        return query.filter(state_condition(states[value], today()))

    def operation(self):
        return "est"


def _state_badge(view, context, model, name):
    state = model.state()
    colour = {
        ConventionState.UPCOMING: "info",
        ConventionState.CURRENT: "success",
        ConventionState.ENDING: "warning",
        ConventionState.ENDED: "secondary",
    }[state]
    return Markup('<span class="badge badge-{}">{}</span>').format(colour, state.label)


class ConventionView(SecureModelView):
    allowed_roles = ADMINS
    column_list = [
        "structure",
        "caisse",
        "start_date",
        "end_date",
        "state",
        "effective_manager_cap",
        "effective_technician_cap",
        "service_offers",
    ]
    column_labels = labels.of(
        "structure",
        "caisse",
        "state",
        "service_offers",
        start_date="Début",
        end_date="Fin",
        effective_manager_cap="Plafond gestionnaires",
        effective_technician_cap="Plafond techniciens",
        manager_cap="Plafond gestionnaires réduit",
        technician_cap="Plafond techniciens réduit",
    )
    column_formatters = {
        "state": _state_badge,
        "service_offers": lambda v, c, m, n: ", ".join(o.label for o in m.service_offers),
    }
    column_sortable_list = ["start_date", "end_date", ("structure", "structure.name")]
    column_default_sort = ("end_date", True)
    column_filters = [
        ConventionStateFilter(
            Convention.end_date,
            "État",
            options=[(s.value, s.label) for s in ConventionState],
        ),
    ]
    form_columns = [
        "structure",
        "caisse",
        "start_date",
        "end_date",
        "service_offers",
        "manager_cap",
        "technician_cap",
    ]
    form_overrides = {"start_date": DateField, "end_date": DateField}
    form_args = {
        "structure": {"label": "Structure", "query_factory": visible_structures_query},
        "caisse": {"label": "Organisme", "query_factory": lambda: db.session.query(Caisse).order_by(Caisse.name)},
        "start_date": {"label": "Date de début", "format": "%Y-%m-%d"},
        "end_date": {"label": "Date de fin", "format": "%Y-%m-%d"},
        "service_offers": {
            "label": "Offres de service ouvertes",
            "query_factory": lambda: db.session.query(ServiceOffer).order_by(ServiceOffer.position),
        },
        "manager_cap": {
            "label": "Plafond de gestionnaires (facultatif)",
            "description": "Laisser vide pour le plafond selon l'effectif (2, 3 ou 5). Un plafond inférieur est possible.",
            "validators": [Optional()],
        },
        "technician_cap": {
            "label": "Plafond de techniciens actifs (facultatif)",
            "description": "Laisser vide pour le plafond selon l'effectif (5, 15 ou 25). Un plafond inférieur est possible.",
            "validators": [Optional()],
        },
    }

    def scope(self, query):
        return query.filter(convention_filter(current_agent()))

    def _strip_caisse(self, form):
        if not current_agent().is_national_admin:
            del form.caisse
        return form

    def create_form(self, obj=None):
        return self._strip_caisse(super().create_form(obj))

    def edit_form(self, obj=None):
        form = self._strip_caisse(super().edit_form(obj))
        del form.structure
        return form

    def _data(self, form):
        data = {
            "start_date": form.start_date.data,
            "end_date": form.end_date.data,
            "service_offer_ids": [o.id for o in (form.service_offers.data or [])],
            "manager_cap": form.manager_cap.data,
            "technician_cap": form.technician_cap.data,
        }
        if "structure" in form:
            data["structure_id"] = form.structure.data.id if form.structure.data else None
        if "caisse" in form:
            data["caisse_id"] = form.caisse.data.id if form.caisse.data else None
        return data

    def service_create(self, form):
        return structure_service.create_convention(self._data(form), current_agent())

    def service_update(self, form, model):
        structure_service.update_convention(model, self._data(form), current_agent())


IDENTITY_FIELDS = ["civility", "birth_name", "usage_name", "first_name", "function", "phone", "email"]


class ManagerView(SecureModelView):
    """Manager accounts ('Gestionnaire Partenaire'), created by the caisse (R-MGR-1/2)."""

    allowed_roles = ADMINS
    column_list = ["list_name", "login", "structure", "phone", "function", "email", "active"]
    column_labels = labels.of("login", "structure", "active", *IDENTITY_FIELDS, list_name="Civilité, nom et prénom")
    column_sortable_list = ["login", ("structure", "structure.name"), "active"]
    column_default_sort = [("active", True), ("usage_name", False)]
    column_searchable_list = ["login", "usage_name", "birth_name", "email"]
    column_filters = ["active"]
    column_extra_row_actions = [
        EndpointLinkRowAction("fa fa-toggle-on", ".toggle_view", title="Inactiver / réactiver"),
    ]
    form_columns = ["structure"] + IDENTITY_FIELDS
    form_overrides = {"civility": SelectField}
    form_args = {
        "structure": {"query_factory": visible_structures_query},
        "civility": {"choices": [("", "—")] + [(c, c) for c in CIVILITIES]},
        "birth_name": {
            "label": "Nom patronymique",
            "description": "Nom patronymique ou nom usuel : au moins l'un des deux (30 caractères au plus).",
        },
        "first_name": {"label": "Prénom", "description": "20 caractères au plus."},
        "function": {"label": "Fonction", "description": "20 caractères au plus."},
        "phone": {"label": "Téléphone", "description": "Format XX.XX.XX.XX.XX"},
    }

    def scope(self, query):
        return query.filter(PartnerAccount.role == PartnerRole.MANAGER.value, partner_account_filter(current_agent()))

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        del form.structure  # an account stays in its structure
        return form

    def _identity(self, form):
        return {k: form[k].data for k in IDENTITY_FIELDS}

    def service_create(self, form):
        structure = form.structure.data
        if structure is None:
            raise DomainError("Veuillez choisir la structure.", "structure")
        actor = current_agent()
        account = account_service.create_account(
            structure, PartnerRole.MANAGER, self._identity(form), actor, actor.caisse_id
        )
        flash(
            f"Compte gestionnaire partenaire créé avec succès. Identifiant : {account.login}. "
            "Un e-mail « Bienvenue sur Espace Partenaires » lui a été envoyé.",
            "success",
        )
        return account

    def service_update(self, form, model):
        account_service.update_account(model, self._identity(form), current_agent(), current_agent().caisse_id)

    @expose("/etat/", methods=["GET", "POST"])
    def toggle_view(self):
        """Inactivate (with confirmation) or reactivate (with a reason) a manager account."""
        account = row_or_404(self)
        return_url = url_for(".index_view")
        form = ToggleForm(formdata=request.form if request.method == "POST" else None)
        if request.method == "POST" and form.validate():
            actor = current_agent()
            if account.active:
                change = partial(account_service.inactivate_account, account, actor, actor.caisse_id)
                success = f"Le compte {account.login} est inactivé."
            else:
                change = partial(account_service.reactivate_account, account, form.reason.data, actor, actor.caisse_id)
                success = (
                    f"Le compte {account.login} est réactivé : un e-mail l'invite à créer un nouveau mot de passe."
                )
            done = run_service(change, form=form, success=success, redirect_to=return_url)
            if done:
                return done
        return self.render("admin/manager_toggle.html", account=account, form=form, return_url=return_url)


class ToggleForm(AdminSecureForm):
    reason = TextAreaField("Motif de réactivation", validators=[Optional()])
