"""Audit log (R-RGPD-4): readable and filterable by the caisse admin, each entry a French sentence
(every action of the code has one, every detail a French name); neither the logs nor the audit
table ever hold a password or a set-password token."""

import json
import logging
import re

from audit_calls import record_calls
from helpers import PASSWORD, add_request, page_text, token_sent_to
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import AuditEntry


def test_caisse_admin_reads_its_audit_log_with_filters(client, world, login):
    login("admin.gironde")
    client.post_form("/admin/connexion", {"username": "admin.oise", "password": "mauvais mot de passe"})
    login("admin.gironde")
    page = client.get("/admin/audit/")
    assert page.status_code == 200
    text = page_text(page)
    assert "Journal d'audit" in text and "Hélène GIRONDE a ouvert une session" in text
    assert "Hélène OISE" not in text and "admin.oise" not in text  # OISE's failed login is OISE's
    groups = json.loads(
        re.search(r'id="filter-groups-data" class="d-none">(.*?)</div>', page.get_data(as_text=True)).group(1)
    )
    assert {"Événement", "Identifiant", "Date"} <= set(groups)
    assert ["logins", "Connexions et mots de passe"] in groups["Événement"][0]["options"]
    # « Événement est Structures et conventions »: the filter's argument is its position in the list
    view = next(v for v in client.application.extensions["ep_admin"]._views if v.endpoint == "audit")
    index = next(i for i, f in enumerate(view._filters) if f.name == "Événement")
    filtered = page_text(client.get("/admin/audit/", query_string={f"flt0_{index}": "logins"}))
    assert "Hélène GIRONDE a ouvert une session" in filtered
    structures = page_text(client.get("/admin/audit/", query_string={f"flt0_{index}": "structures"}))
    assert "a ouvert une session" not in structures
    searched = page_text(client.get("/admin/audit/", query_string={"search": "admin.gironde"}))
    assert "Hélène GIRONDE a ouvert une session" in searched


def test_no_password_or_token_in_the_logs_or_the_audit_table(app, client, world, login, caplog):
    caplog.set_level(logging.DEBUG)
    new_password = "Une phrase vraiment secrète 2026"
    login("admin.gironde")
    response = client.post_form(
        "/admin/managers/new/",
        {
            "structure": world["gironde"]["structure"].id,
            "civility": "Madame",
            "usage_name": "DURAND",
            "first_name": "Anne",
            "function": "Directrice",
            "phone": "05.56.00.00.00",
            "email": "anne@example.fr",
        },
    )
    assert response.status_code == 302
    token = token_sent_to("anne@example.fr")
    client.post_form("/admin/deconnexion")
    client.post_form(f"/mot-de-passe/{token}", {"password": new_password, "confirmation": new_password})
    client.post_form("/connexion", {"login": "a.durand", "password": "pas le bon mot de passe"})
    client.post_form("/connexion", {"login": "a.durand", "password": new_password})
    client.post_form("/admin/connexion", {"username": "admin.gironde", "password": PASSWORD})
    secrets_ = [new_password, "pas le bon mot de passe", PASSWORD, token]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not [s for s in secrets_ if s in logged]
    rows = db.session.scalars(select(AuditEntry)).all()
    assert rows, "the actions above are audited"
    dumped = "\n".join(f"{r.actor_label} {r.action} {r.details}" for r in rows)
    assert not [s for s in secrets_ if s in dumped]
    assert {"login.failure", "login.success", "password.set", "manager.create"} <= {r.action for r in rows}


# --- the audit log in French ------------------------------------------------------------------------


def test_every_audited_action_reads_as_a_french_sentence():
    from backoffice.services.audit_texts import SENTENCES

    calls = record_calls()
    actions = {action for _where, names, _keys in calls for action in names}
    assert {"login.success", "request.take", "request.view", "manager.create", "attachment.download"} <= actions
    missing = sorted(f"{where}: {a}" for where, names, _k in calls for a in names if a not in SENTENCES)
    assert not missing, f"add a sentence to services/audit_texts.SENTENCES for: {missing}"


def test_every_sentence_belongs_to_a_family_of_the_event_filter():
    from backoffice.services.audit_texts import SENTENCES
    from backoffice.views.outbox import ACTION_FAMILIES

    prefixes = [prefix for _label, family in ACTION_FAMILIES.values() for prefix in family]
    orphans = sorted(action for action in SENTENCES if not action.startswith(tuple(prefixes)))
    assert not orphans, f"add them to views/outbox.ACTION_FAMILIES: {orphans}"


def test_every_audited_detail_has_a_french_name():
    from backoffice.services import audit
    from backoffice.services.audit_texts import DETAIL_LABELS, HIDDEN_DETAILS, SENTENCES

    missing = []
    for where, names, keys in record_calls():
        for action in names:
            sentence = SENTENCES[action]
            templates = [sentence] if isinstance(sentence, str) else list(sentence[1].values())
            said = set().union(*(audit._placeholders(t) for t in templates))
            if not isinstance(sentence, str):
                said.add(sentence[0])
            missing += [f"{where}: {action} {key}" for key in keys - said - HIDDEN_DETAILS - set(DETAIL_LABELS)]
    assert not missing, f"add to services/audit_texts.DETAIL_LABELS (or HIDDEN_DETAILS): {missing}"


def _last(action):
    from backoffice.extensions import db
    from backoffice.models import AuditEntry

    return db.session.query(AuditEntry).filter_by(action=action).order_by(AuditEntry.id.desc()).first()


def test_the_log_says_who_did_what_to_which_object(client, world, login):
    from backoffice.services import audit
    from backoffice.services.requests import take_request

    gironde = world["gironde"]
    request = add_request(gironde["convention"], gironde["manager"])
    take_request(gironde["agent"], request)
    assert audit.describe(_last("request.take")) == f"Paul GIRONDE a pris en charge la demande N° {request.number}"
    assert audit.detail_lines(_last("request.take")) == []

    login("admin.gironde")
    assert audit.describe(_last("login.success")) == "Hélène GIRONDE a ouvert une session"
    client.post_form(
        "/admin/managers/new/",
        {
            "structure": gironde["structure"].id,
            "civility": "Madame",
            "usage_name": "DUPONT",
            "first_name": "Marie",
            "function": "Directrice",
            "phone": "05.56.00.00.00",
            "email": "marie.dupont@example.fr",
        },
    )
    created = _last("manager.create")
    assert audit.describe(created) == "Hélène GIRONDE a créé le compte gestionnaire de Marie DUPONT"
    assert audit.detail_lines(created) == []  # the login and the structure: the sentence names the account
    assert audit.target_type_label(created.target_type) == "Compte partenaire"


def test_changes_read_old_to_new_with_french_field_names(world):
    from backoffice.extensions import db
    from backoffice.models import AuditEntry
    from backoffice.services import audit

    structure = world["gironde"]["structure"]
    changed = audit.changes(structure, {"name": "Association Nouvelle", "city": structure.city, "member_count": 40})
    entry = audit.record("structure.update", actor=world["gironde"]["admin"], target=structure, changed=changed)
    db.session.commit()
    assert audit.describe(entry) == f"Hélène GIRONDE a modifié la structure {structure.name}"
    assert audit.detail_lines(entry) == [
        f"Nombre de membres : « {structure.member_count} » → « 40 »",
        f"Nom : « {structure.name} » → « Association Nouvelle »",
    ]
    old_style = AuditEntry(
        action="structure.update",
        actor_type="agent",
        actor_label="admin.gironde",
        details={"changed": ["siret", "city"]},
    )
    assert audit.detail_lines(old_style) == ["Champs modifiés : SIRET, Commune"]


def test_an_unknown_action_still_reads_as_french(world):
    from backoffice.extensions import db
    from backoffice.models import AuditEntry
    from backoffice.services import audit

    gironde = world["gironde"]
    request = add_request(gironde["convention"], gironde["manager"])
    entry = audit.record(
        "something.new", actor=gironde["agent"], target=request, mode="rapide", when="2026-12-01T06:10:21"
    )
    db.session.commit()
    assert audit.describe(entry) == f"Paul GIRONDE a effectué une opération (demande N° {request.number})"
    assert audit.detail_lines(entry) == ["Mode : rapide", "When : 01/12/2026 07h10min"]
    download = AuditEntry(
        action="attachment.download",
        actor_type="partner",
        actor_label="v.chausson",
        target_type="Attachment",
        details={"number": "2633100027", "filename": "reponse.pdf", "side": "caisse", "search": ""},
    )
    assert (
        audit.describe(download)
        == "v.chausson a téléchargé la pièce jointe « reponse.pdf » de la demande N° 2633100027"
    )
    assert audit.detail_lines(download) == ["Pièce : de l'organisme"]  # an empty detail is not listed
    system = AuditEntry(action="attachment.purge", actor_type="system", actor_label="Système", details={"count": 3})
    assert (
        audit.describe(system) == "Le contenu de 3 pièce(s) jointe(s) a été supprimé (durée de conservation dépassée)"
    )
    gone = AuditEntry(
        action="manager.update",
        actor_type="agent",
        actor_id=None,
        actor_label="admin.ancien",
        target_type="PartnerAccount",
    )
    assert audit.describe(gone) == "admin.ancien a modifié le compte gestionnaire de [compte supprimé]"


def test_the_audit_page_reads_as_french(client, world, login):
    login("admin.gironde")
    body = client.get("/admin/audit/").get_data(as_text=True)
    # the filters' data (option values, for Flask-Admin's script) is not shown
    text = page_text(re.sub(r'<div id="(filter-groups|active-filters)-data"[\s\S]*?</div>', "", body))
    assert "Hélène GIRONDE a ouvert une session" in text
    for code in ("login.success", "PartnerAccount", "{", "agent GIRONDE"):
        assert code not in text
