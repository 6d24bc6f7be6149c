"""The e-mail outbox and the audit log, read-only, scoped to the caisse."""

from flask import flash
from flask_admin.actions import action
from markupsafe import Markup, escape

from ..models import AuditEntry
from ..services import outbox as outbox_service
from ..services.scoping import caisse_filter, outbox_filter
from .base import ADMINS, SecureModelView, current_agent, row_ids


def mail_body(text: str) -> Markup:
    """The stored copy of the message, escaped, as plain text: no link is made clickable. Personal
    set-password links are not in it (LINK_MASK stands in their place, outbox.enqueue)."""
    escaped = escape(text or "")
    return Markup('<pre class="ep-mail-body" style="white-space: pre-wrap">%s</pre>') % escaped


class OutboxView(SecureModelView):
    allowed_roles = ADMINS
    can_create = False
    can_edit = False
    can_view_details = True
    column_list = ["created_at", "recipient", "subject", "status", "attempts", "sent_at"]
    column_details_list = [
        "created_at",
        "recipient",
        "subject",
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
        "status": "Statut",
        "attempts": "Tentatives",
        "next_attempt_at": "Prochaine tentative",
        "sent_at": "Envoyé le",
        "last_error": "Dernière erreur",
        "body_text": "Message",
    }
    column_formatters = {"status": lambda v, c, m, n: m.status_label}
    column_formatters_detail = {
        "status": lambda v, c, m, n: m.status_label,
        "body_text": lambda v, c, m, n: mail_body(m.body_text),
    }
    column_searchable_list = ["recipient", "subject"]
    column_filters = ["status", "kind"]
    column_default_sort = ("created_at", True)

    def scope(self, query):
        return query.filter(outbox_filter(current_agent()))

    @action("requeue", "Renvoyer", "Remettre les messages en échec dans la file d'envoi ?")
    def action_requeue(self, ids):
        outbox_service.requeue_failed(current_agent(), row_ids(ids))
        flash("Les messages en échec sont remis dans la file d'envoi.", "success")


class AuditView(SecureModelView):
    """R-RGPD-4: the caisse admin reads its caisse's audit log; the national admin all of it."""

    allowed_roles = ADMINS
    can_create = False
    can_edit = False
    can_view_details = True
    column_list = ["at", "actor_type", "actor_label", "action", "target_type", "target_id", "ip"]
    column_labels = {
        "at": "Date",
        "actor_type": "Type d'acteur",
        "actor_label": "Acteur",
        "action": "Action",
        "target_type": "Objet",
        "target_id": "N° objet",
        "details": "Détails",
        "ip": "Adresse IP",
    }
    column_details_list = ["at", "actor_type", "actor_label", "action", "target_type", "target_id", "details", "ip"]
    column_filters = ["action", "actor_label", "at", "actor_type"]
    column_searchable_list = ["actor_label", "action"]
    column_default_sort = ("at", True)

    def scope(self, query):
        return query.filter(caisse_filter(current_agent(), AuditEntry.caisse_id))
