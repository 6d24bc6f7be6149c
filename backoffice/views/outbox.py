"""The e-mail outbox and the audit log, read-only, scoped to the caisse, in French: each audit
entry reads as a sentence (services/audit.describe) with what changed (audit.detail_lines)."""

from flask import flash
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual, FilterLike
from markupsafe import Markup, escape
from sqlalchemy import false, or_
from sqlalchemy.orm import joinedload

from ..models import AuditEntry, Convention, OutboxMessage, OutboxStatus
from ..models.audit import TARGET_RELATIONSHIPS
from ..services import audit
from ..services import outbox as outbox_service
from ..services.audit_texts import ACTOR_TYPES, TARGET_TYPES
from ..services.scoping import caisse_filter, outbox_filter
from .base import ADMINS, SecureModelView, current_agent, row_ids
from .requests.filters import DepositFrom, DepositUntil

# The e-mails by their template (services/outbox.enqueue's kind), as « Type d'e-mail » reads.
MAIL_KINDS = {
    "account_created": "Bienvenue (compte partenaire créé)",
    "account_reactivated": "Compte partenaire réactivé",
    "agent_created": "Bienvenue (compte agent créé)",
    "password_reset": "Mot de passe oublié",
    "request_taken": "Demande prise en charge",
    "request_resolved": "Demande résolue",
    "exchange_answer": "Réponse à un message",
    "request_reassigned": "Demande réattribuée",
    "digest": "Récapitulatif quotidien",
    "newsletter": "Newsletter",
}


def mail_body(text: str) -> Markup:
    """The stored copy of the message, escaped, as plain text: no link is made clickable. Personal
    set-password links are not in it (LINK_MASK stands in their place, outbox.enqueue)."""
    escaped = escape(text or "")
    return Markup('<pre class="ep-mail-body" style="white-space: pre-wrap">%s</pre>') % escaped


def _kind(view, context, model, name):
    return MAIL_KINDS.get(model.kind, "Autre e-mail")


class OutboxView(SecureModelView):
    allowed_roles = ADMINS
    can_create = False
    can_edit = False
    can_view_details = True
    column_list = ["created_at", "recipient", "subject", "kind", "status", "attempts", "sent_at"]
    column_details_list = [
        "created_at",
        "recipient",
        "subject",
        "kind",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
        "body_text",
    ]
    column_labels = {
        "created_at": "Créé le",
        "recipient": "Destinataire",
        "subject": "Objet",
        "kind": "Type d'e-mail",
        "status": "Statut",
        "attempts": "Tentatives",
        "next_attempt_at": "Prochaine tentative",
        "sent_at": "Envoyé le",
        "last_error": "Dernière erreur",
        "body_text": "Message",
    }
    column_formatters = {"status": lambda v, c, m, n: m.status_label, "kind": _kind}
    column_formatters_detail = {
        "status": lambda v, c, m, n: m.status_label,
        "kind": _kind,
        "body_text": lambda v, c, m, n: mail_body(m.body_text),
    }
    column_searchable_list = ["recipient", "subject"]
    column_filters = [
        FilterEqual(OutboxMessage.status, "Statut", options=[(s.value, s.label) for s in OutboxStatus]),
        FilterEqual(OutboxMessage.kind, "Type d'e-mail", options=list(MAIL_KINDS.items())),
        DepositFrom(OutboxMessage.created_at, "Créé le"),
        DepositUntil(OutboxMessage.created_at, "Créé le"),
    ]
    column_default_sort = ("created_at", True)
    row_name_column = "subject"

    def search_placeholder(self):
        return "Destinataire, objet"

    def scope(self, query):
        return query.filter(outbox_filter(current_agent()))

    @action("requeue", "Renvoyer", "Remettre les messages en échec dans la file d'envoi ?")
    def action_requeue(self, ids):
        outbox_service.requeue_failed(current_agent(), row_ids(ids))
        flash("Les messages en échec sont remis dans la file d'envoi.", "success")


# « Événement »: the actions by family (their name's prefix).
ACTION_FAMILIES = {
    "requests": ("Demandes", ("request.",)),
    "files": ("Pièces jointes", ("attachment.",)),
    "logins": ("Connexions et mots de passe", ("login.", "password.")),
    "partners": ("Comptes partenaires", ("manager.", "technician.", "cgu.", "caisse.select")),
    "agents": ("Comptes agents", ("agent.",)),
    "caisses": ("Organismes et catalogue", ("caisse.create", "caisse.update", "catalog.")),
    "structures": ("Structures et conventions", ("structure.", "convention.")),
    "communication": ("Actualités et newsletters", ("news.", "newsletter.")),
    "templates": ("Modèles de réponse", ("reply_template.",)),
    "dashboard": ("Tableau de bord", ("dashboard.",)),
}


class ActionFamily(BaseSQLAFilter):
    """« Événement est … »: the entries of one family of actions."""

    def __init__(self, column, name):
        super().__init__(column, name, options=[(key, label) for key, (label, _p) in ACTION_FAMILIES.items()])

    def apply(self, query, value, alias=None):
        family = ACTION_FAMILIES.get(value)
        if family is None:
            return query.filter(false())
        column = self.get_column(alias)
        return query.filter(or_(*[column.like(f"{prefix}%") for prefix in family[1]]))

    def operation(self):
        return "est"


def _changes(view, context, model, name):
    lines = audit.detail_lines(model)
    if not lines:
        return ""
    items = Markup("").join(Markup("<li>%s</li>") % line for line in lines)
    return Markup('<ul class="ep-audit-changes">%s</ul>') % items


class AuditView(SecureModelView):
    """R-RGPD-4: the caisse admin reads its caisse's audit log; the national admin all of it."""

    allowed_roles = ADMINS
    can_create = False
    can_edit = False
    can_view_details = True
    column_list = ["at", "action", "details", "actor_label", "ip"]
    column_labels = {
        "at": "Date",
        "actor_type": "Type d'acteur",
        "actor_label": "Identifiant",
        "action": "Événement",
        "target_type": "Objet",
        "details": "Détails",
        "ip": "Adresse IP",
    }
    column_details_list = ["at", "action", "details", "actor_type", "actor_label", "target_type", "ip"]
    column_formatters = {
        "action": lambda v, c, m, n: audit.describe(m),
        "details": _changes,
        "actor_type": lambda v, c, m, n: ACTOR_TYPES.get(m.actor_type, ""),
        "target_type": lambda v, c, m, n: audit.target_type_label(m.target_type),
    }
    column_formatters_detail = column_formatters
    column_sortable_list = ["at", "actor_label", "ip"]
    column_filters = [
        ActionFamily(AuditEntry.action, "Événement"),
        FilterLike(AuditEntry.actor_label, "Identifiant"),
        FilterEqual(AuditEntry.actor_type, "Type d'acteur", options=list(ACTOR_TYPES.items())),
        FilterEqual(AuditEntry.target_type, "Objet", options=list(TARGET_TYPES.items())),
        DepositFrom(AuditEntry.at, "Date"),
        DepositUntil(AuditEntry.at, "Date"),
    ]
    column_searchable_list = ["actor_label", "ip"]
    column_default_sort = ("at", True)
    row_name_column = "action"

    def search_placeholder(self):
        return "Identifiant, adresse IP"

    def scope(self, query):
        return query.filter(caisse_filter(current_agent(), AuditEntry.caisse_id))

    def get_query(self):
        """The rows with the people and objects their sentences name, in the same statement."""
        return super().get_query().options(*NAMED)


# Many-to-one each: LEFT JOINs of the page's one statement, no row multiplied.
NAMED = [
    joinedload(AuditEntry.actor_agent),
    joinedload(AuditEntry.actor_partner),
    *(joinedload(getattr(AuditEntry, name)) for kind, name in TARGET_RELATIONSHIPS.items() if kind != "Convention"),
    joinedload(AuditEntry.target_convention).joinedload(Convention.structure),
]
