"""Internal notes (issue 13 §3): written by the caisse's staff, audited, in the request's timeline,
never shown to the partner nor sent by e-mail, deleted with the request."""

import pytest
from helpers import enter, page_text
from sqlalchemy import delete, select
from test_ownership import agent_client, audit_actions, error_of, screen, taken_by
from test_ownership import julie as julie  # noqa: PLC0414 (the second agent: a fixture, used by name)
from test_transitions_once import file_request, in_state, pg_only, race

from backoffice.extensions import db
from backoffice.models import Agent, AuditEntry, NoteKind, OutboxMessage, Request, RequestNote, RequestStatus
from backoffice.services import requests
from backoffice.services.errors import DomainError, ValidationFailed

MARKER = "NOTE-INTERNE-7f3a91"


def notes_of(request_id: int) -> list[RequestNote]:
    return list(db.session.scalars(select(RequestNote).where(RequestNote.request_id == request_id)))


def test_agents_and_caisse_admins_add_notes_audited(tech, gironde):
    req = file_request(tech, gironde)
    first = requests.add_note(gironde["agent"], req, "  Appelé le partenaire, rappel demain.\r\n ")
    requests.add_note(gironde["admin"], req, "Vu avec Paul.")
    assert [(n.kind, n.author_name, n.body, n.agent_id) for n in notes_of(req.id)] == [
        (NoteKind.NOTE.value, "Paul GIRONDE", "Appelé le partenaire, rappel demain.", gironde["agent"].id),
        (NoteKind.NOTE.value, "Hélène GIRONDE", "Vu avec Paul.", gironde["admin"].id),
    ]
    assert first.created_at is not None
    assert audit_actions(req.id) == ["request.file", "request.note", "request.note"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "request.note"))
    assert entry.actor_label == "agent.gironde" and entry.details == {"number": req.number}
    assert entry.caisse_id == gironde["caisse"].id
    # A note changes nothing of the request.
    assert db.session.get(Request, req.id).status == RequestStatus.NEW.value


def test_a_note_follows_the_comments_rules(tech, gironde):
    req = file_request(tech, gironde)
    for body, message in (
        ("", "Veuillez saisir le texte de la note."),
        ("   \n ", "Veuillez saisir le texte de la note."),
        ("x" * 5001, "La note ne doit pas dépasser 5000 caractères (5001 saisis)."),
        ("un \x00 nul", "Ce champ contient un caractère non autorisé."),
        ("un \x1b échappement", "Ce champ contient un caractère non autorisé."),
        (None, "Veuillez saisir le texte de la note."),
    ):
        with pytest.raises(ValidationFailed) as refused:
            requests.add_note(gironde["agent"], req, body)
        assert refused.value.errors == {"body": message}, body
    requests.add_note(gironde["agent"], req, "x" * 5000)
    assert [len(n.body) for n in notes_of(req.id)] == [5000]


def test_the_national_admin_reads_notes_but_writes_none_nor_another_caisse(tech, gironde, oise, world):
    req = file_request(tech, gironde)
    requests.add_note(gironde["agent"], req, "Une note")
    with pytest.raises(DomainError, match=requests.NATIONAL_NO_NOTE):
        requests.add_note(world["national"], req, "Note nationale")
    with pytest.raises(DomainError, match=requests.NOT_IN_CAISSE):
        requests.add_note(oise["agent"], req, "Note de l'OISE")
    assert [n.body for n in notes_of(req.id)] == ["Une note"]
    assert [e["text"] for e in requests.request_timeline(req) if e["kind"] == "note"] == ["Une note"]


def test_the_same_note_twice_in_a_row_is_written_once(tech, gironde):
    req = file_request(tech, gironde)
    requests.add_note(gironde["agent"], req, "Rappel demain")
    with pytest.raises(DomainError) as refused:
        requests.add_note(gironde["agent"], req, "Rappel demain")
    assert refused.value.message == "Cette note vient déjà d'être enregistrée sur la demande."
    requests.add_note(gironde["admin"], req, "Rappel demain")  # another author
    requests.add_note(gironde["agent"], req, "Rappel demain")  # no longer the last note
    assert len(notes_of(req.id)) == 3
    assert audit_actions(req.id).count("request.note") == 3


def test_the_timeline_merges_statuses_messages_notes_and_reassignments_in_date_order(tech, gironde, julie):
    paul = gironde["agent"]
    req = taken_by(paul, tech, gironde)
    requests.add_note(paul, req, "Pièce manquante demandée par téléphone")
    requests.answer_request(paul, req, "Réponse", [])
    requests.partner_message(tech, req, "Une question", [])
    requests.reassign_request(paul, req, julie.id, paul.id, "Je pars en congés")
    requests.caisse_reply(julie, req, "La réponse de Julie", [])
    timeline = requests.request_timeline(db.session.get(Request, req.id))
    assert [(e["kind"], e["label"], e["who"], e["text"]) for e in timeline] == [
        ("status", "Nouveau", "Victor CHAUSSON (partenaire)", ""),
        ("status", "Pris en charge", "Paul GIRONDE (caisse)", ""),
        ("note", "Note interne", "Paul GIRONDE (caisse)", "Pièce manquante demandée par téléphone"),
        ("status", "Résolu", "Paul GIRONDE (caisse)", ""),
        ("message", "Message du partenaire", "CHAUSSON Victor (partenaire)", "Une question"),
        ("status", "Message envoyé", "Victor CHAUSSON (partenaire)", ""),
        ("reassignment", "Réattribution : de Paul GIRONDE à Julie FAURE", "Paul GIRONDE (caisse)", "Je pars en congés"),
        ("message", "Réponse de la caisse", "CPAM GIRONDE (caisse)", "La réponse de Julie"),
        ("status", "Message reçu", "Julie FAURE (caisse)", ""),
    ]
    dates = [e["at"] for e in timeline]
    assert dates == sorted(dates)


def test_a_note_is_never_shown_to_the_partner_nor_sent_by_e_mail(app, client, tech, gironde, julie):
    paul = gironde["agent"]
    req = taken_by(paul, tech, gironde)
    requests.add_note(paul, req, f"Note {MARKER} sur le dossier")
    requests.reassign_request(paul, req, julie.id, paul.id, f"Réattribution {MARKER}")
    requests.answer_request(julie, req, "Réponse au partenaire", [])
    requests.partner_message(tech, req, "Une question", [])
    requests.add_note(julie, req, f"Seconde note {MARKER}")
    requests.caisse_reply(julie, req, "Réponse à la question", [])
    # The agent's screen shows them.
    assert page_text(agent_client(app, "agent2.gironde").get(screen(req.id))).count(MARKER) == 3
    # The partner's pages never do.
    enter(client, tech, gironde["caisse"])
    for url in (f"/demandes/{req.number}", "/demandes", f"/demandes?numero={req.number}"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert req.number in page.get_data(as_text=True), url
        assert MARKER not in page.get_data(as_text=True), url
    # Nor any e-mail: the partner's (taken, resolved, exchange answer) and the new owner's.
    mails = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert sorted(m.kind for m in mails) == [
        "exchange_answer",
        "request_reassigned",
        "request_resolved",
        "request_taken",
    ]
    for mail in mails:
        assert MARKER not in mail.subject + mail.body_text + mail.body_html, mail.kind


def test_notes_are_deleted_with_the_request(tech, gironde, julie):
    paul = gironde["agent"]
    req = taken_by(paul, tech, gironde)
    requests.add_note(paul, req, "Une note")
    requests.reassign_request(paul, req, julie.id, paul.id, "Une réattribution")
    kept = file_request(tech, gironde)
    requests.add_note(paul, kept, "Note d'une autre demande")
    assert len(notes_of(req.id)) == 2
    db.session.execute(delete(Request).where(Request.id == req.id))
    db.session.commit()
    assert [n.body for n in db.session.scalars(select(RequestNote))] == ["Note d'une autre demande"]


def test_a_deleted_author_leaves_the_note_with_its_name(tech, gironde, julie):
    req = file_request(tech, gironde)
    requests.add_note(julie, req, "Note de Julie")
    db.session.execute(delete(Agent).where(Agent.id == julie.id))
    db.session.commit()
    [note] = notes_of(req.id)
    assert note.agent_id is None and note.author_name == "Julie FAURE"


# --- over HTTP --------------------------------------------------------------------------------------


def test_the_note_form_adds_a_note_and_keeps_the_text_on_a_refusal(app, tech, gironde):
    req = in_state(RequestStatus.RESOLVED, tech, gironde)
    client = agent_client(app, "admin.gironde")
    body = client.get(screen(req.id)).get_data(as_text=True)
    assert '<label for="note-body">' in body and "Ajouter la note</button>" in body
    assert "une note interne n'est jamais montrée au partenaire" in page_text(body)
    too_long = "y" * 5001
    response = client.post_form("/admin/requests/note/", {"id": req.id, "body": too_long})
    assert response.status_code == 400
    assert error_of(response, "note-body") == "La note ne doit pas dépasser 5000 caractères (5001 saisis)."
    assert f"{too_long}</textarea>" in response.get_data(as_text=True)
    assert notes_of(req.id) == []
    assert client.post("/admin/requests/note/", data={"id": req.id, "body": "Sans jeton"}).status_code == 400
    response = client.post_form("/admin/requests/note/", {"id": req.id, "body": "Dossier vu"}, follow_redirects=True)
    text = page_text(response)
    assert "La note interne est ajoutée à l'historique de la demande." in text
    assert "Note interne Dossier vu Hélène GIRONDE (caisse)" in text
    again = client.post_form("/admin/requests/note/", {"id": req.id, "body": "Dossier vu"}, follow_redirects=True)
    assert "Cette note vient déjà d'être enregistrée sur la demande." in page_text(again)
    assert [n.body for n in notes_of(req.id)] == ["Dossier vu"]


def test_the_national_admin_has_no_note_form_and_is_refused(app, tech, gironde):
    req = file_request(tech, gironde)
    requests.add_note(gironde["agent"], req, "Note de Paul")
    client = agent_client(app, "admin")
    page = client.get(screen(req.id))
    assert 'id="note-form"' not in page.get_data(as_text=True) and "Note de Paul" in page_text(page)
    response = client.post_form(
        "/admin/requests/note/", {"id": req.id, "body": "Note nationale"}, follow_redirects=True
    )
    assert requests.NATIONAL_NO_NOTE in page_text(response)
    assert [n.body for n in notes_of(req.id)] == ["Note de Paul"]


def test_an_agent_of_another_caisse_gets_404(app, tech, gironde):
    req = file_request(tech, gironde)
    client = agent_client(app, "agent.oise")
    assert client.post_form("/admin/requests/note/", {"id": req.id, "body": "Intrus"}).status_code == 404
    assert client.post_form("/admin/requests/reattribuer/", {"id": req.id, "to_agent_id": 1}).status_code == 404
    assert notes_of(req.id) == []


# --- PostgreSQL: a double click at once ------------------------------------------------------------


def _note(ids):
    agent, req = db.session.get(Agent, ids["agent"]), db.session.get(Request, ids["request"])
    return lambda: requests.add_note(agent, req, "Rappel du partenaire")


@pg_only
def test_the_same_note_sent_10_times_at_once_is_written_once(app, tech, gironde):
    req = file_request(tech, gironde)
    results = race(app, [(_note, {"agent": gironde["agent"].id, "request": req.id})] * 10)
    assert results.count("won") == 1, results
    assert set(results) - {"won"} == {"Cette note vient déjà d'être enregistrée sur la demande."}
    assert len(notes_of(req.id)) == 1
    assert audit_actions(req.id).count("request.note") == 1
