"""The French of the audit log (R-RGPD-4): one sentence per action, the objects' and the details'
names. services/audit.describe and audit.detail_lines read these tables; an action missing here
reads as a generic French sentence (tests/test_french_backoffice.py fails for any action of the
code that is missing).

A sentence is a template over: {actor} (who did it), {target} (the object, as record() labelled
it), {role} (the account's role in French) and the entry's details (e.g. {name}, {number}). Where
the sentence depends on a detail, the entry is (detail name, {value: template}) with "*" for any
other value.
"""

from ..models import AgentRole, PartnerRole, RequestStatus
from ..services.access import Situation

Sentence = str | tuple[str, dict[str, str]]

_ACCOUNT_ACTIONS: dict[str, Sentence] = {
    "create": "{actor} a créé le compte {role} de {target}",
    "update": "{actor} a modifié le compte {role} de {target}",
    "inactivate": "{actor} a inactivé le compte {role} de {target}",
    "reactivate": "{actor} a réactivé le compte {role} de {target}",
    "auto_inactivate": "Le compte {role} de {target} a été inactivé automatiquement",
    # R-RGPD-2: the record of a deletion names no one.
    "auto_delete": "Un compte {role} inactif depuis 6 mois a été supprimé automatiquement",
}

SENTENCES: dict[str, Sentence] = {
    **{f"{role.value}.{verb}": text for role in PartnerRole for verb, text in _ACCOUNT_ACTIONS.items()},
    # sign-in, passwords, the portal's first steps
    "login.success": "{actor} a ouvert une session",
    "login.failure": (
        "reason",
        {
            "unknown": "Connexion refusée : l'identifiant « {login} » n'existe pas",
            "password": "Connexion refusée à {actor} : mot de passe incorrect",
            "inactive": "Connexion refusée à {actor} : compte inactif",
            "*": "Connexion refusée à {actor}",
        },
    ),
    "login.throttled": "Connexion refusée pour « {login} » : trop de tentatives, le compte patiente",
    "password.set": "{actor} a enregistré son mot de passe",
    "password.change": "{actor} a changé son mot de passe",
    "password.reset_request": (
        "found",
        {
            "True": "Mot de passe oublié : un lien a été envoyé à {target}",
            "*": "Mot de passe oublié : l'identifiant « {login} » n'existe pas, aucun lien n'a été envoyé",
        },
    ),
    "cgu.accept": "{actor} a accepté les conditions générales d'utilisation",
    "caisse.select": "{actor} a choisi un organisme",
    # caisses, agents, catalogue
    "caisse.create": "{actor} a créé l'organisme {name} ({code})",
    "caisse.update": "{actor} a modifié l'organisme {target}",
    "agent.create": "{actor} a créé le compte de {target} ({role})",
    "agent.update": "{actor} a modifié le compte de {target}",
    "agent.activate": "{actor} a réactivé le compte de {target}",
    "agent.inactivate": "{actor} a désactivé le compte de {target}",
    "agent.digest_preference": (
        "digest_enabled",
        {
            "True": "{actor} a activé son récapitulatif quotidien",
            "*": "{actor} a désactivé son récapitulatif quotidien",
        },
    ),
    "catalog.update": "{actor} a mis à jour le catalogue des offres de l'organisme",
    # partners
    "structure.create": "{actor} a créé la structure {name}",
    "structure.update": "{actor} a modifié la structure {target}",
    "convention.create": "{actor} a créé une convention de la structure {target}, du {start} au {end}",
    "convention.update": "{actor} a modifié une convention de la structure {target} : du {start} au {end}",
    # communication
    "news.create": "{actor} a créé l'actualité « {title} »",
    "news.update": "{actor} a modifié l'actualité « {target} »",
    "newsletter.create": "{actor} a créé la newsletter « {subject} »",
    "newsletter.update": "{actor} a modifié la newsletter « {target} »",
    "newsletter.send": "{actor} a envoyé la newsletter « {target} » à {recipients} destinataire(s)",
    "newsletter.subscribe": "{actor} a demandé à recevoir la newsletter",
    "newsletter.unsubscribe": "{target} ne reçoit plus la newsletter",
    "reply_template.create": "{actor} a créé le modèle de réponse « {title} »",
    "reply_template.update": "{actor} a modifié le modèle de réponse « {title} »",
    "reply_template.deactivate": "{actor} a désactivé le modèle de réponse « {target} »",
    # requests
    "request.file": "{actor} a déposé la demande {target}",
    "request.view": "{actor} a consulté la demande {target}",
    "request.take": "{actor} a pris en charge la demande {target}",
    "request.answer": "{actor} a répondu à la demande {target}",
    "request.reply": "{actor} a répondu au message du partenaire sur la demande {target}",
    "request.complete": "{actor} a complété la demande {target}",
    "request.cancel": "{actor} a annulé la demande {target}",
    "request.message": "{actor} a envoyé un message sur la demande {target}",
    "request.close": "{actor} a clôturé l'échange de la demande {target}",
    "request.auto_close": "L'échange de la demande {target} a été clôturé automatiquement",
    "request.reassign": "{actor} a réattribué la demande {target} de {from_name} à {to_name}",
    "request.note": "{actor} a ajouté une note interne à la demande {target}",
    "request.export": "{actor} a exporté {rows} demande(s) de la liste",
    "dashboard.export": "{actor} a exporté le tableau « {table} » du tableau de bord ({period})",
    # the target is the attachment: the sentence names its request by the number kept
    "attachment.download": "{actor} a téléchargé la pièce jointe « {filename} » de la demande N° {number}",
    "attachment.purge": "Le contenu de {count} pièce(s) jointe(s) a été supprimé (durée de conservation dépassée)",
}

GENERIC = "{actor} a effectué une opération ({target_type} {target})"
GENERIC_NO_TARGET = "{actor} a effectué une opération"

# The objects, as the log's « Objet » column names them (record() stores the class name).
TARGET_TYPES = {
    "Request": "Demande",
    "PartnerAccount": "Compte partenaire",
    "Agent": "Compte agent",
    "Caisse": "Organisme",
    "Structure": "Structure",
    "Convention": "Convention",
    "News": "Actualité",
    "Newsletter": "Newsletter",
    "ReplyTemplate": "Modèle de réponse",
    "RequestNote": "Note interne",
    "Attachment": "Pièce jointe",
    "OutboxMessage": "E-mail",
}

ACTOR_TYPES = {"agent": "Agent", "partner": "Partenaire", "system": "Système", "anonymous": "Visiteur"}

# The details' names in « Détails » (the audit's « what changed »), and the fields an update lists.
DETAIL_LABELS = {
    "changed": "Modifications",
    "reason": "Motif",
    "files": "Fichiers joints",
    "filename": "Fichier",
    "side": "Pièce",
    "note": "Avec une note",
    "newsletter": "Abonnement à la newsletter",
    "situation": "Convention",
    "purpose": "Lien",
    "via": "Par",
    "count": "Nombre",
    "rows": "Lignes exportées",
    "total": "Demandes correspondantes",
    "format": "Format",
    "filters": "Filtres",
    "search": "Recherche",
    "offers": "Offres proposées",
    "motives": "Motifs proposés",
    "start": "Début",
    "end": "Fin",
    "publish_at": "Publication",
    "image": "Image",
    "title": "Titre",
    "subject": "Objet",
    "name": "Nom",
    "code": "Code",
    "login": "Identifiant",
    "username": "Identifiant",
    "role": "Rôle",
    "found": "Compte trouvé",
    "number": "N° de demande",
    "from_name": "Ancien responsable",
    "to_name": "Nouveau responsable",
    "recipients": "Destinataires",
    "table": "Tableau",
    "period": "Période",
    "digest_enabled": "Récapitulatif quotidien",
    "inactivated_at": "Inactivé le",
    "effacé": "Effacé",
}

# Ids that only the database reads: never shown (the sentence names the object).
HIDDEN_DETAILS = {"structure_id", "service_offer_id", "motive_id", "from", "to"}

FIELD_LABELS = {
    "name": "Nom",
    "type": "Type de structure",
    "siret": "SIRET",
    "address": "Adresse",
    "postal_code": "Code postal",
    "city": "Commune",
    "member_count": "Nombre de membres",
    "civility": "Civilité",
    "usage_name": "Nom usuel",
    "birth_name": "Nom patronymique",
    "first_name": "Prénom",
    "last_name": "Nom",
    "function": "Fonction",
    "phone": "Téléphone",
    "email": "Adresse e-mail",
    "title": "Titre",
    "body": "Texte",
    "publish_at": "Date de publication",
    "image": "Image",
    "subject": "Objet",
    "caisse_id": "Organisme",
    "service_offer_id": "Offre de service",
    "motive_id": "Motif",
    "active": "Actif",
    "start_date": "Début",
    "end_date": "Fin",
    "manager_cap": "Comptes gestionnaires",
    "technician_cap": "Comptes techniciens",
    "service_offers": "Offres de service",
}

VALUE_LABELS = {
    "role": {**{r.value: r.label for r in AgentRole}, **{r.value: r.label for r in PartnerRole}},
    "situation": {
        Situation.CURRENT.value: "en cours",
        Situation.ENDING.value: "bientôt terminée",
        Situation.UPCOMING.value: "à venir",
        Situation.ENDED_PENDING.value: "terminée, demandes en cours",
        Situation.GRACE.value: "terminée, délai de grâce",
    },
    "purpose": {"create": "création du compte", "reactivate": "réactivation du compte", "reset": "mot de passe oublié"},
    "side": {"partner": "du partenaire", "caisse": "de l'organisme"},
    "format": {"csv": "CSV", "xlsx": "Excel (XLSX)"},
    "status": {s.value: s.label for s in RequestStatus},
}
