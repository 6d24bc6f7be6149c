"""Caisses and back-office users (national admin; a caisse admin manages its own agents)."""

from functools import partial

from flask import flash
from flask_admin.actions import action
from wtforms import SelectField

from ..extensions import db
from ..models import AGENT_ROLE_LABELS, Agent, AgentRole, Caisse
from ..services import caisses as caisse_service
from ..services.scoping import agent_filter, caisse_list_filter
from ..ui import run_service
from . import labels
from .base import ADMINS, NATIONAL, SecureModelView, current_agent, row_ids


class CaisseView(SecureModelView):
    allowed_roles = NATIONAL
    column_list = ["name", "code", "created_at"]
    column_labels = labels.of("name", "code", created_at="Créée le")
    column_searchable_list = ["name", "code"]
    column_default_sort = "name"
    form_columns = ["name", "code"]
    form_args = {
        "name": {"label": "Nom de l'organisme", "description": "Par exemple : CPAM GIRONDE"},
        "code": {"label": "Code (3 chiffres)", "description": "Par exemple : 331"},
    }

    def scope(self, query):
        return query.filter(caisse_list_filter(current_agent()))

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        del form.code  # the code is part of every request number: it never changes
        return form

    def service_create(self, form):
        return caisse_service.create_caisse(form.name.data, form.code.data, current_agent())

    def service_update(self, form, model):
        caisse_service.update_caisse(model, form.name.data, current_agent())


ROLE_CHOICES = [(role.value, AGENT_ROLE_LABELS[role]) for role in AgentRole]


class AgentView(SecureModelView):
    allowed_roles = ADMINS
    column_list = ["username", "last_name", "first_name", "email", "role", "caisse", "active"]
    column_labels = labels.of(*column_list)
    column_formatters = {"role": lambda v, c, m, n: AGENT_ROLE_LABELS[AgentRole(m.role)]}
    column_searchable_list = ["username", "last_name", "email"]
    column_filters = ["active"]
    column_default_sort = "username"
    form_columns = ["username", "first_name", "last_name", "email", "role", "caisse"]
    form_overrides = {"role": SelectField}
    form_args = {
        "role": {"choices": ROLE_CHOICES},
        "caisse": {"query_factory": lambda: db.session.query(Caisse).order_by(Caisse.name)},
    }
    action_disallowed_list = []

    def scope(self, query):
        return query.filter(agent_filter(current_agent()))

    def create_form(self, obj=None):
        form = super().create_form(obj)
        if not current_agent().is_national_admin:
            del form.role
            del form.caisse
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        del form.username, form.role, form.caisse
        return form

    def service_create(self, form):
        actor = current_agent()
        data = {k: form[k].data for k in ("username", "first_name", "last_name", "email")}
        if actor.is_national_admin:
            role = form.role.data
            caisse = form.caisse.data
            agent = caisse_service.create_agent(data, actor, role, caisse.id if caisse else None)
        else:
            agent = caisse_service.create_agent(data, actor, AgentRole.AGENT.value, actor.caisse_id)
        flash(
            f"Le compte {agent.username} est créé : un lien « Créer mon mot de passe » lui a été envoyé.",
            "success",
        )
        return agent

    def service_update(self, form, model):
        data = {k: form[k].data for k in ("first_name", "last_name", "email")}
        caisse_service.update_agent(model, data, current_agent())

    def _set_active(self, ids, active: bool):
        actor = current_agent()
        for agent in self.get_query().filter(Agent.id.in_(row_ids(ids))).all():
            run_service(
                partial(caisse_service.set_agent_active, agent, active, actor),
                success=f"Compte {agent.username} {'réactivé' if active else 'désactivé'}.",
            )

    @action("deactivate", "Désactiver", "Désactiver les comptes sélectionnés ?")
    def action_deactivate(self, ids):
        self._set_active(ids, False)

    @action("activate", "Réactiver", "Réactiver les comptes sélectionnés ?")
    def action_activate(self, ids):
        self._set_active(ids, True)
