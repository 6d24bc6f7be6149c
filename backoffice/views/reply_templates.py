"""« Modèles de réponse » (issue 13 §4): the caisse admin writes its caisse's reply templates; the
national admin reads those of every caisse (each caisse's own staff writes and uses them).

Scoped to the admin's caisse in get_query, get_count_query and get_one (SecureModelView.scope);
the offer and motive selects list what the caisse offers; writes go through
services/reply_templates (checks, audit).
"""

from functools import partial

from flask_admin.actions import action
from sqlalchemy import select

from ..extensions import db
from ..models import Caisse, CaisseMotive, Motive, ReplyTemplate, ServiceOffer
from ..services import catalog as catalog_service
from ..services import reply_templates as template_service
from ..services.errors import ValidationFailed
from ..services.scoping import caisse_filter
from ..ui import run_service
from .base import ADMINS, SecureModelView, current_agent, model_id, row_ids

PLACEHOLDER_HELP = (
    "Champs remplacés à l'insertion dans une réponse : {numero} (numéro de la demande), {date_depot} "
    "(date de dépôt, JJ/MM/AAAA), {civilite_personne}, {nom_personne} et {prenom_personne} (la personne "
    "concernée), {structure} (la structure partenaire), {demandeur} (le partenaire qui a déposé la "
    "demande), {agent} (vous ou l'agent qui répond, « Prénom NOM »). 5000 caractères au plus."
)


def _own_caisse_id():
    agent = current_agent()
    return agent.caisse_id if agent is not None else None


def _offers():
    """The offers of the admin's caisse (the select of the form)."""
    caisse_id = _own_caisse_id()
    return catalog_service.offers_of(caisse_id) if caisse_id is not None else []


def _motives():
    """The motives the admin's caisse offers, by offer then motive."""
    caisse_id = _own_caisse_id()
    if caisse_id is None:
        return []
    return list(
        db.session.scalars(
            select(Motive)
            .join(CaisseMotive, CaisseMotive.motive_id == Motive.id)
            .join(ServiceOffer, ServiceOffer.id == Motive.service_offer_id)
            .where(CaisseMotive.caisse_id == caisse_id)
            .order_by(ServiceOffer.position, Motive.position)
        )
    )


def _motive_label(motive: Motive) -> str:
    return f"{motive.service_offer.label} — {motive.label}"


def _caisse_name(view, context, model, name):
    caisse = db.session.get(Caisse, model.caisse_id)
    return caisse.name if caisse is not None else ""


def _for_whom(view, context, model, name):
    if model.service_offer is None:
        return "Toutes les demandes"
    return model.service_offer.label if model.motive is None else _motive_label(model.motive)


def _checked_by_the_service(form):
    """The title and the text are checked by the service, every message at once (the form's own
    required and length checks would stop at the title); the fields stay marked required."""
    form.title.validators = []
    form.body.validators = []
    return form


class ReplyTemplateView(SecureModelView):
    """A caisse's reply templates: title, text with placeholders, optional offer and motive, active."""

    allowed_roles = ADMINS
    can_view_details = True
    column_list = ["title", "for_whom", "active", "updated_at", "caisse_id"]
    column_details_list = ["caisse_id", "title", "for_whom", "body", "active", "created_at", "updated_at"]
    column_labels = {
        "title": "Titre",
        "for_whom": "Proposé pour",
        "body": "Texte",
        "active": "Actif",
        "created_at": "Créé le",
        "updated_at": "Modifié le",
        "caisse_id": "Organisme",
        "service_offer": "Offre de service",
        "motive": "Motif",
    }
    column_formatters = {"caisse_id": _caisse_name, "for_whom": _for_whom}
    column_formatters_detail = {"caisse_id": _caisse_name, "for_whom": _for_whom}
    column_sortable_list = ["title", "active", "updated_at"]
    column_searchable_list = ["title"]
    column_filters = ["active"]
    column_default_sort = ("title", False)
    form_columns = ["title", "body", "service_offer", "motive", "active"]
    form_args = {
        "title": {
            "label": "Titre",
            "description": "120 caractères au plus. Les agents choisissent le modèle par son titre.",
        },
        "body": {"label": "Texte", "description": PLACEHOLDER_HELP, "render_kw": {"rows": 10}},
        "service_offer": {
            "label": "Offre de service (facultatif)",
            "query_factory": _offers,
            "blank_text": "Toutes les offres",
            "description": "Sans offre, le modèle est proposé pour toutes les demandes.",
        },
        "motive": {
            "label": "Motif (facultatif)",
            "query_factory": _motives,
            "get_label": _motive_label,
            "blank_text": "Tous les motifs",
            "description": "Le modèle est proposé en premier pour les demandes de ce motif.",
        },
        "active": {
            "label": "Actif",
            "description": "Un modèle inactif n'est plus proposé aux agents.",
            "default": True,
        },
    }

    @property
    def can_create(self) -> bool:  # the caisse's own admin writes; the national admin reads
        agent = current_agent()
        return agent is not None and agent.is_caisse_admin

    @property
    def can_edit(self) -> bool:
        return self.can_create

    def create_form(self, obj=None):
        return _checked_by_the_service(super().create_form(obj))

    def edit_form(self, obj=None):
        return _checked_by_the_service(super().edit_form(obj))

    def scope(self, query):
        return query.filter(caisse_filter(current_agent(), ReplyTemplate.caisse_id))

    @staticmethod
    def _data(form) -> dict:
        """The form's values for the service; a posted offer or motive outside the select's choices
        (Flask-Admin would take it as none) is refused like one the caisse does not offer."""
        errors = {}
        for name, message in (
            ("service_offer", "Cette offre de service n'est pas proposée par votre organisme."),
            ("motive", "Ce motif n'est pas proposé par votre organisme."),
        ):
            raw = (form[name].raw_data or [""])[0]
            if form[name].data is None and raw not in ("", "__None"):
                errors[f"{name}_id"] = message
        if errors:
            raise ValidationFailed(errors)
        return {
            "title": form.title.data,
            "body": form.body.data,
            "service_offer_id": model_id(form.service_offer.data),
            "motive_id": model_id(form.motive.data),
            "active": bool(form.active.data),
        }

    def service_create(self, form):
        return template_service.create(self._data(form), current_agent())

    def service_update(self, form, model):
        template_service.update(model, self._data(form), current_agent())

    @action("deactivate", "Désactiver", "Désactiver les modèles sélectionnés ? Ils ne seront plus proposés.")
    def action_deactivate(self, ids):
        actor = current_agent()
        for template in self.get_query().filter(ReplyTemplate.id.in_(row_ids(ids))).all():
            run_service(
                partial(template_service.deactivate, template, actor),
                success=f"Modèle « {template.title} » désactivé.",
            )
