"""« Modèles de réponse » (issue 13 §4): the service's checks, placeholders, scoping and suggestions,
the caisse admin's view, the « Insérer » of the request screen without JavaScript; and the answer
form with 9 or more files (issue 13 §7), on the agent's answer form and the partner's filing form."""

import html
import io
import re
from datetime import datetime

import pytest
import time_machine
from flask_login import login_user
from helpers import count, deliver_mail, enter, field_errors, location, mail_text, page_text
from test_backoffice_requests import file_request as filed_as_portal
from test_portal_requests import person

from backoffice.extensions import db
from backoffice.models import (
    AuditEntry,
    CaisseMotive,
    Motive,
    ReplyTemplate,
    Request,
    RequestStatus,
    ServiceOffer,
    StagedUpload,
)
from backoffice.services import catalog, requests
from backoffice.services import reply_templates as rt
from backoffice.services.errors import DomainError, ValidationFailed

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
AVAILABLE = (
    "Champs disponibles : {numero}, {date_depot}, {civilite_personne}, {nom_personne}, {prenom_personne}, "
    "{structure}, {demandeur}, {agent}."
)
KEY_RE = re.compile(r'name="staged" value="([0-9a-f]{32})"')


# --- helpers -----------------------------------------------------------------------------------


def offer(code: str) -> ServiceOffer:
    return db.session.query(ServiceOffer).filter_by(code=code).one()


def motive(code: str, label: str) -> Motive:
    return db.session.query(Motive).filter_by(service_offer_id=offer(code).id, label=label).one()


def template(admin, title="Modèle", body="Bonjour {demandeur}", code=None, motive_label=None, **extra):
    data = {
        "title": title,
        "body": body,
        "service_offer_id": offer(code).id if code else None,
        "motive_id": motive(code, motive_label).id if motive_label else None,
        **extra,
    }
    return rt.create(data, admin)


def file_request(account, world, code="file_review", motive_label="Demande d'aide financière") -> Request:
    """File through the service, as the portal does, for that motive."""
    return filed_as_portal(account, world, code=code, motive_id=motive(code, motive_label).id)


def pdfs(n: int, prefix: str = "p") -> list:
    return [(io.BytesIO(PDF), f"{prefix}{i + 1}.pdf") for i in range(n)]


def screen(request_id) -> str:
    return f"/admin/requests/traiter/?id={request_id}"


def textarea(response, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>([\s\S]*?)</textarea>', response.get_data(as_text=True))
    assert match, page_text(response)[:2000]
    return html.unescape(match.group(1)).replace("\r\n", "\n")


def select_options(response, select_id: str) -> list[str]:
    body = response.get_data(as_text=True)
    match = re.search(rf'<select[^>]*id="{select_id}"[^>]*>([\s\S]*?)</select>', body)
    assert match, f"no select {select_id}"
    return [" ".join(label.split()) for label in re.findall(r"<option[^>]*>([^<]*)</option>", match.group(1))]


# --- placeholders and checks -------------------------------------------------------------------


def test_render_replaces_every_placeholder(world, gironde, tech):
    with time_machine.travel(datetime(2026, 11, 30, 23, 30), tick=False):  # 1 December in Paris
        req = file_request(tech, world)
    body = (
        "N° {numero} du {date_depot} : {civilite_personne} {nom_personne} {prenom_personne}, "
        "{structure}, de {demandeur}, par {agent}."
    )
    saved = template(gironde["admin"], body=body)
    assert rt.render(saved, req, gironde["agent"]) == (
        f"N° {req.number} du 01/12/2026 : Madame TUTU Joséphine, Association Gironde, "
        "de CHAUSSON Victor, par Paul GIRONDE."
    )
    # A text that never went through the checks is still not a format string.
    raw = ReplyTemplate(body="{numero.__class__} {0} {agent.password_hash} {numero}")
    assert rt.render(raw, req, gironde["agent"]) == f"{{numero.__class__}} {{0}} {{agent.password_hash}} {req.number}"


def test_a_missing_value_renders_as_nothing(world, gironde, tech):
    req = file_request(tech, world, code="contact", motive_label="Gérer la convention de partenariat")
    saved = template(gironde["admin"], body="[{civilite_personne}][{nom_personne}][{prenom_personne}] {numero}")
    assert req.person_last_name is None
    assert rt.render(saved, req, None) == f"[][][] {req.number}"


@pytest.mark.parametrize(
    "body,message",
    [
        ("Bonjour {inconnu}", f"Le champ {{inconnu}} n'existe pas. {AVAILABLE}"),
        ("{numero.__class__} {0}", f"Les champs {{numero.__class__}}, {{0}} n'existent pas. {AVAILABLE}"),
        ("{Numero}", f"Le champ {{Numero}} n'existe pas. {AVAILABLE}"),
        ("{}", f"Le champ {{}} n'existe pas. {AVAILABLE}"),
        (
            "Bonjour {numero",
            "Le texte contient une accolade seule : un champ s'écrit entre accolades, par exemple {numero}. "
            + AVAILABLE,
        ),
        (
            "{{numero}}",
            "Le texte contient une accolade seule : un champ s'écrit entre accolades, par exemple {numero}. "
            + AVAILABLE,
        ),
        (
            "fin }",
            "Le texte contient une accolade seule : un champ s'écrit entre accolades, par exemple {numero}. "
            + AVAILABLE,
        ),
    ],
)
def test_unknown_placeholders_and_lone_braces_are_refused(world, gironde, body, message):
    with pytest.raises(ValidationFailed) as refused:
        template(gironde["admin"], body=body)
    assert refused.value.errors == {"body": message}
    assert count(ReplyTemplate) == 0


def test_every_error_at_once(world, gironde):
    data = {
        "title": "x" * 121,
        "body": "{inconnu}",
        "service_offer_id": offer("contact").id,
        "motive_id": motive("appointment", "C2S").id,
    }
    with pytest.raises(ValidationFailed) as refused:
        rt.create(data, gironde["admin"])
    assert refused.value.errors == {
        "title": "Le titre ne doit pas dépasser 120 caractères (121 saisis).",
        "body": f"Le champ {{inconnu}} n'existe pas. {AVAILABLE}",
        "motive_id": "Ce motif n'appartient pas à l'offre de service « Contacter votre organisme d'assurance Maladie ».",
    }
    with pytest.raises(ValidationFailed) as refused:
        rt.create({"title": "  ", "body": "\r\n "}, gironde["admin"])
    assert refused.value.errors == {
        "title": "Veuillez saisir le titre du modèle.",
        "body": "Veuillez saisir le texte du modèle.",
    }
    with pytest.raises(ValidationFailed) as refused:
        rt.create({"title": "a\x00b", "body": "é" * 5001}, gironde["admin"])
    assert refused.value.errors == {
        "title": "Le titre contient un caractère non autorisé.",
        "body": "Le texte ne doit pas dépasser 5000 caractères (5001 saisis).",
    }
    with pytest.raises(ValidationFailed) as refused:
        rt.create({"title": "T", "body": "a\x1bb"}, gironde["admin"])
    assert refused.value.errors == {"body": "Le texte contient un caractère non autorisé."}
    saved = rt.create({"title": " " + "t" * 120 + " ", "body": "é" * 5000}, gironde["admin"])
    assert len(saved.title) == 120 and len(saved.body) == 5000


def test_offer_and_motive_must_be_offered_by_the_caisse(world, gironde, oise):
    c2s = motive("appointment", "C2S")
    # OISE stops offering "Demander un document" and the C2S motive.
    keep_offers = {o.id for o in catalog.all_offers() if o.code != "document"}
    keep_motives = {m.id for m in db.session.query(Motive) if m.id != c2s.id and m.service_offer_id in keep_offers}
    catalog.set_caisse_catalog(oise["caisse"].id, keep_offers, keep_motives, world["national"])
    with pytest.raises(ValidationFailed) as refused:
        template(oise["admin"], code="document")
    assert refused.value.errors == {
        "service_offer_id": "Cette offre de service n'est pas proposée par votre organisme."
    }
    with pytest.raises(ValidationFailed) as refused:
        template(oise["admin"], code="appointment", motive_label="C2S")
    assert refused.value.errors == {"motive_id": "Ce motif n'est pas proposé par votre organisme."}
    with pytest.raises(ValidationFailed) as refused:
        rt.create({"title": "T", "body": "B", "service_offer_id": 999999, "motive_id": 999998}, oise["admin"])
    assert refused.value.errors == {
        "service_offer_id": "Cette offre de service n'existe pas.",
        "motive_id": "Ce motif n'existe pas.",
    }
    # GIRONDE still offers both; a motive alone gives its offer.
    saved = rt.create({"title": "C2S", "body": "B", "motive_id": c2s.id}, gironde["admin"])
    assert (saved.service_offer_id, saved.motive_id) == (offer("appointment").id, c2s.id)


def test_only_the_caisse_admin_writes_its_own_templates(world, gironde, oise):
    for actor in (world["national"], gironde["agent"]):
        with pytest.raises(DomainError) as refused:
            template(actor)
        assert refused.value.message == "Seul l'administrateur d'un organisme gère ses modèles de réponse."
    saved = template(gironde["admin"], title="Gironde")
    with pytest.raises(DomainError) as refused:
        rt.update(saved, {"title": "Piraté", "body": "x"}, oise["admin"])
    assert refused.value.message == "Ce modèle de réponse appartient à un autre organisme."
    with pytest.raises(DomainError):
        rt.deactivate(saved, oise["admin"])
    db.session.refresh(saved)
    assert (saved.title, saved.active, saved.caisse_id) == ("Gironde", True, gironde["caisse"].id)


def test_create_update_and_deactivate_are_audited(world, gironde):
    saved = template(gironde["admin"], title="Premier", code="contact")
    rt.update(saved, {"title": "Second", "body": "Bonjour {agent}", "service_offer_id": None}, gironde["admin"])
    db.session.refresh(saved)
    assert (saved.title, saved.body, saved.service_offer_id) == ("Second", "Bonjour {agent}", None)
    rt.deactivate(saved, gironde["admin"])
    with pytest.raises(DomainError) as refused:
        rt.deactivate(saved, gironde["admin"])
    assert refused.value.message == "Le modèle « Second » est déjà désactivé."
    entries = db.session.query(AuditEntry).filter(AuditEntry.action.like("reply_template.%")).order_by(AuditEntry.id)
    assert [(e.action, e.actor_label, e.caisse_id, e.target_id) for e in entries] == [
        ("reply_template.create", "admin.gironde", gironde["caisse"].id, saved.id),
        ("reply_template.update", "admin.gironde", gironde["caisse"].id, saved.id),
        ("reply_template.deactivate", "admin.gironde", gironde["caisse"].id, saved.id),
    ]
    assert entries[1].details["changed"] == ["body", "service_offer_id", "title"]


def test_suggestions_same_motive_then_same_offer_then_general(world, gironde, oise, tech):
    admin = gironde["admin"]
    general = template(admin, title="A général")
    same_offer = template(admin, title="B même offre", code="file_review")
    same_motive = template(admin, title="C même motif", code="file_review", motive_label="Demande d'aide financière")
    template(admin, title="D autre motif", code="file_review", motive_label="Etude de C2S")
    template(admin, title="E autre offre", code="contact")
    inactive = template(admin, title="F inactif", active=False)
    template(oise["admin"], title="G autre caisse")
    req = file_request(tech, world)
    assert [t.title for t in rt.suggestions(gironde["agent"], req)] == [
        same_motive.title,
        same_offer.title,
        general.title,
    ]
    assert rt.suggestions(oise["agent"], req) == [] and rt.suggestions(world["national"], req) == []
    assert rt.suggested(gironde["agent"], req, same_offer.id) == same_offer
    assert rt.suggested(gironde["agent"], req, inactive.id) is None
    assert rt.suggested(gironde["agent"], req, None) is None


# --- the view: scoping ---------------------------------------------------------------------------


def test_caisse_admin_sees_and_edits_only_its_caisse_s_templates(app, client, login, world, gironde, oise):
    own = template(gironde["admin"], title="Modèle Gironde")
    foreign = template(oise["admin"], title="Modèle Oise")
    login("admin.gironde")
    listed = page_text(client.get("/admin/reply_templates/"))
    assert "Modèle Gironde" in listed and "Modèle Oise" not in listed
    assert client.get(f"/admin/reply_templates/edit/?id={own.id}").status_code == 200
    details = page_text(client.get(f"/admin/reply_templates/details/?id={own.id}"))
    assert "Modèle Gironde" in details and "Toutes les demandes" in details and "CPAM GIRONDE" in details
    for url in (f"/admin/reply_templates/edit/?id={foreign.id}", f"/admin/reply_templates/details/?id={foreign.id}"):
        response = client.get(url)
        assert response.status_code == 302 and location(response) == "/admin/reply_templates/", url
        assert "Modèle Oise" not in page_text(client.get(location(response)))
    response = client.post_form(f"/admin/reply_templates/edit/?id={foreign.id}", {"title": "Piraté", "body": "x"})
    assert response.status_code == 302
    db.session.refresh(foreign)
    assert foreign.title == "Modèle Oise"
    client.post_form("/admin/reply_templates/action/", {"action": "deactivate", "rowid": [foreign.id, own.id]})
    db.session.refresh(foreign)
    db.session.refresh(own)
    assert foreign.active is True and own.active is False
    with app.test_request_context("/admin/"):
        login_user(gironde["admin"])
        view = next(v for v in app.extensions["ep_admin"]._views if v.endpoint == "reply_templates")
        assert view.get_count_query().scalar() == 1
        assert view.get_one(str(own.id)) == own and view.get_one(str(foreign.id)) is None
        login_user(world["national"])
        assert view.get_count_query().scalar() == 2


def test_the_selects_list_what_the_caisse_offers(app, client, login, world, gironde):
    keep_offers = {o.id for o in catalog.all_offers() if o.code != "document"}
    c2s = motive("appointment", "C2S")
    keep_motives = {m.id for m in db.session.query(Motive) if m.service_offer_id in keep_offers and m.id != c2s.id}
    catalog.set_caisse_catalog(gironde["caisse"].id, keep_offers, keep_motives, world["national"])
    login("admin.gironde")
    form = client.get("/admin/reply_templates/new/")
    offers = select_options(form, "service_offer")
    assert offers[0] == "Toutes les offres" and "Demander un document" not in offers and len(offers) == 5
    motives = select_options(form, "motive")
    assert "Demander un rendez-vous pour un assuré — C2S" not in motives
    assert "Demander un rendez-vous pour un assuré — AME" in motives
    assert len(motives) == 1 + count(CaisseMotive, CaisseMotive.caisse_id == gironde["caisse"].id)
    response = client.post_form(
        "/admin/reply_templates/new/",
        {"title": "Document", "body": "Bonjour", "service_offer": offer("document").id, "active": "y"},
    )
    assert response.status_code == 200 and count(ReplyTemplate) == 0
    assert "Cette offre de service n'est pas proposée par votre organisme." in page_text(response)
    response = client.post_form(
        "/admin/reply_templates/new/", {"title": "C2S", "body": "Bonjour", "motive": c2s.id, "active": "y"}
    )
    assert response.status_code == 200 and count(ReplyTemplate) == 0
    assert "Ce motif n'est pas proposé par votre organisme." in page_text(response)
    response = client.post_form("/admin/reply_templates/new/", {"title": "M" * 121, "body": "Bonjour {nom}"})
    assert response.status_code == 200 and count(ReplyTemplate) == 0
    assert field_errors(response, "title") == ["Le titre ne doit pas dépasser 120 caractères (121 saisis)."]
    assert field_errors(response, "body") == [f"Le champ {{nom}} n'existe pas. {AVAILABLE}"]
    page = response.get_data(as_text=True)
    assert re.search(r'<input[^>]*id="title"[^>]*required', page) and re.search(
        r'<textarea[^>]*id="body"[^>]*required', page
    )
    response = client.post_form("/admin/reply_templates/new/", {"title": "", "body": ""})
    assert field_errors(response, "title") == ["Veuillez saisir le titre du modèle."]
    assert field_errors(response, "body") == ["Veuillez saisir le texte du modèle."]
    response = client.post_form(
        "/admin/reply_templates/new/",
        {"title": "Bon", "body": "Bonjour {demandeur}", "service_offer": offer("appointment").id, "active": "y"},
    )
    assert response.status_code == 302
    saved = db.session.query(ReplyTemplate).one()
    assert (saved.caisse_id, saved.service_offer_id, saved.motive_id, saved.active) == (
        gironde["caisse"].id,
        offer("appointment").id,
        None,
        True,
    )


def test_national_admin_reads_every_caisse_and_writes_none(client, login, world, gironde, oise):
    own = template(gironde["admin"], title="Modèle Gironde")
    template(oise["admin"], title="Modèle Oise")
    login("admin")
    listed = page_text(client.get("/admin/reply_templates/"))
    assert "Modèle Gironde" in listed and "Modèle Oise" in listed and "CPAM OISE" in listed
    response = client.post_form("/admin/reply_templates/new/", {"title": "National", "body": "x"})
    assert response.status_code == 302 and count(ReplyTemplate) == 2
    response = client.post_form(
        "/admin/reply_templates/action/", {"action": "deactivate", "rowid": [own.id]}, follow_redirects=True
    )
    assert "Seul l'administrateur d'un organisme gère ses modèles de réponse." in page_text(response)
    db.session.refresh(own)
    assert own.active is True


def test_an_agent_has_no_access_to_the_templates_view(client, login, world):
    login("agent.gironde")
    assert client.get("/admin/reply_templates/").status_code == 403


# --- « Insérer » on the request screen -----------------------------------------------------------


def test_insert_keeps_typed_text_and_files_then_send(client, login, world, gironde, oise, tech):
    chosen = template(
        gironde["admin"],
        title="Aide financière",
        body="Le dossier N° {numero} de {civilite_personne} {nom_personne} est étudié.\n{agent}",
        code="file_review",
        motive_label="Demande d'aide financière",
    )
    template(gironde["admin"], title="Général", body="Cordialement.")
    template(gironde["admin"], title="Autre offre", body="x", code="contact")
    foreign = template(oise["admin"], title="Oise", body="Oise")
    req = file_request(tech, world)
    login("agent.gironde")
    client.post_form("/admin/requests/prendre/", {"id": req.id})
    page = client.get(screen(req.id))
    assert select_options(page, "answer-template") == ["Choisir un modèle", "Aide financière", "Général"]
    response = client.post_form(
        "/admin/requests/repondre/",
        {"id": req.id, "answer": "Bonjour,\r\n", "template_id": chosen.id, "insert": "1", "attachments": pdfs(2)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, page_text(response)[:2000]
    expected = f"Bonjour,\n\nLe dossier N° {req.number} de Madame TUTU est étudié.\nPaul GIRONDE"
    assert textarea(response, "answer") == expected
    keys = KEY_RE.findall(response.get_data(as_text=True))
    assert len(keys) == 2 and count(StagedUpload) == 2
    assert "Pièces jointes déjà acceptées (2/8)" in page_text(response)
    db.session.refresh(req)
    assert req.status == RequestStatus.TAKEN.value and req.answer is None
    # A template of another caisse (or none) inserts nothing, and says so.
    refused = client.post_form(
        "/admin/requests/repondre/",
        {"id": req.id, "answer": expected, "template_id": foreign.id, "insert": "1", "staged": keys},
    )
    assert refused.status_code == 400
    assert "Choisissez un modèle de réponse parmi ceux proposés." in page_text(refused)
    assert textarea(refused, "answer") == expected and KEY_RE.findall(refused.get_data(as_text=True)) == keys
    # Edited, then sent with « Répondre ».
    edited = expected.replace("est étudié", "est accepté")
    done = client.post_form("/admin/requests/repondre/", {"id": req.id, "answer": edited, "staged": keys})
    assert done.status_code == 302
    db.session.refresh(req)
    assert req.status == RequestStatus.RESOLVED.value and req.answer == edited
    assert [a.filename for a in requests.caisse_files(req)] == ["p1.pdf", "p2.pdf"]
    assert count(StagedUpload) == 0
    mails = [mail_text(m) for m in deliver_mail() if m["To"] == "v.chausson@example.fr"]
    assert len(mails) == 2 and f"votre demande N°{req.number} est résolue" in mails[1]
    # The partner reads the edited answer on the request's detail.
    client.get("/admin/deconnexion")
    partner = client.application.test_client()
    enter(partner, tech, gironde["caisse"])
    detail = page_text(partner.get(f"/demandes/{req.number}"))
    assert f"Le dossier N° {req.number} de Madame TUTU est accepté." in detail


def test_insert_on_the_reply_form(client, login, world, gironde, tech):
    chosen = template(gironde["admin"], title="Relance", body="Votre message sur la demande {numero} est lu.")
    req = file_request(tech, world)
    requests.take_request(gironde["agent"], req)
    requests.answer_request(gironde["agent"], req, "Réponse", [])
    requests.partner_message(tech, req, "Une question ?", [])
    login("agent.gironde")
    response = client.post_form(
        "/admin/requests/message/", {"id": req.id, "body": "", "template_id": chosen.id, "insert": "1"}
    )
    assert response.status_code == 200
    assert textarea(response, "body") == f"Votre message sur la demande {req.number} est lu."
    db.session.refresh(req)
    assert req.status == RequestStatus.MESSAGE_SENT.value
    done = client.post_form("/admin/requests/message/", {"id": req.id, "body": textarea(response, "body") + " Merci."})
    assert done.status_code == 302
    db.session.refresh(req)
    assert req.status == RequestStatus.MESSAGE_RECEIVED.value


def test_an_insert_past_5000_characters_is_flagged(client, login, world, gironde, tech):
    chosen = template(gironde["admin"], body="z" * 100)
    req = file_request(tech, world)
    login("agent.gironde")
    client.post_form("/admin/requests/prendre/", {"id": req.id})
    response = client.post_form(
        "/admin/requests/repondre/", {"id": req.id, "answer": "a" * 4950, "template_id": chosen.id, "insert": "1"}
    )
    assert response.status_code == 400
    assert "Le texte dépasse 5000 caractères (5052) : raccourcissez-le avant d'envoyer." in page_text(response)
    assert textarea(response, "answer") == "a" * 4950 + "\n\n" + "z" * 100


# --- 9 files and more (issue 13 §7) --------------------------------------------------------------


def test_answer_with_ten_files_keeps_eight_and_names_the_others(client, login, world, gironde, tech):
    req = file_request(tech, world)
    login("agent.gironde")
    client.post_form("/admin/requests/prendre/", {"id": req.id})
    response = client.post_form(
        "/admin/requests/repondre/",
        {"id": req.id, "answer": "Dix fichiers", "attachments": pdfs(10)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    text = page_text(response)
    assert "Les fichiers « p9.pdf », « p10.pdf » n'ont pas été ajoutés : 8 pièces jointes maximum." in text
    assert "Pièces jointes déjà acceptées (8/8)" in text and "vous pouvez encore" not in text
    keys = KEY_RE.findall(response.get_data(as_text=True))
    assert len(keys) == 8 and count(StagedUpload) == 8
    assert textarea(response, "answer") == "Dix fichiers"
    # One more new file is refused again, the eight stay; with them alone the answer is sent.
    again = client.post_form(
        "/admin/requests/repondre/",
        {"id": req.id, "answer": "Dix fichiers", "staged": keys, "attachments": pdfs(1, "extra")},
        content_type="multipart/form-data",
    )
    assert again.status_code == 400
    assert "Le fichier « extra1.pdf » n'a pas été ajouté : 8 pièces jointes maximum." in page_text(again)
    assert KEY_RE.findall(again.get_data(as_text=True)) == keys
    done = client.post_form("/admin/requests/repondre/", {"id": req.id, "answer": "Dix fichiers", "staged": keys})
    assert done.status_code == 302
    db.session.refresh(req)
    assert [a.filename for a in requests.caisse_files(req)] == [f"p{i}.pdf" for i in range(1, 9)]


def test_nine_staged_keys_posted_keep_the_first_eight(client, login, world, gironde, tech):
    """A form posted with 9 staged files (an old page): the 9th is let go, named, the answer goes
    through at the next try."""
    from backoffice.services import uploads

    req = file_request(tech, world)
    agent = gironde["agent"]
    keys, _ = uploads.stage_with_keys(agent, [(f"s{i}.pdf", PDF) for i in range(1, 10)])
    login("agent.gironde")
    client.post_form("/admin/requests/prendre/", {"id": req.id})
    response = client.post_form("/admin/requests/repondre/", {"id": req.id, "answer": "Neuf", "staged": keys})
    assert response.status_code == 400
    assert "Le fichier « s9.pdf » n'a pas été ajouté : 8 pièces jointes maximum." in page_text(response)
    assert KEY_RE.findall(response.get_data(as_text=True)) == keys[:8] and count(StagedUpload) == 8
    done = client.post_form("/admin/requests/repondre/", {"id": req.id, "answer": "Neuf", "staged": keys[:8]})
    assert done.status_code == 302 and len(requests.caisse_files(db.session.get(Request, req.id))) == 8


def test_partner_filing_form_with_ten_files_keeps_eight(client, world, gironde, tech):
    enter(client, tech, gironde["caisse"])
    data = person(comment="Dix fichiers", motive_id=str(motive("file_review", "Demande d'aide financière").id))
    response = client.post_form(
        "/demandes/nouvelle/file_review", {**data, "files": pdfs(10, "PJ")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200 and count(Request) == 0
    text = page_text(response)
    assert "Les fichiers « PJ9.pdf », « PJ10.pdf » n'ont pas été ajoutés : 8 pièces jointes maximum." in text
    assert "Liste des pièces jointes 8/8" in text
    keys = KEY_RE.findall(response.get_data(as_text=True))
    assert len(keys) == 8
    done = client.post_form(
        "/demandes/nouvelle/file_review", {**data, "staged": keys}, content_type="multipart/form-data"
    )
    assert done.status_code == 302
    filed = db.session.query(Request).one()
    assert [a.filename for a in requests.partner_files(filed)] == [f"PJ{i}.pdf" for i in range(1, 9)]


# --- the demo -------------------------------------------------------------------------------------


def test_demo_templates_pass_the_checks_and_cover_every_offer(app):
    from backoffice.demo import data, loader

    loader.load()
    saved = db.session.query(ReplyTemplate).all()
    assert len(saved) == len(data.REPLY_TEMPLATES)
    codes = {o.code for o in db.session.query(ServiceOffer) if o.id in {t.service_offer_id for t in saved}}
    assert codes == {"contact", "difficulty", "appointment", "file_review", "document"}
    assert {t.title for t in saved if t.service_offer_id is None} == {
        "Accusé de réception",
        "Demande de pièce complémentaire",
    }
