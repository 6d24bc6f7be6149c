"""Who handles a request (issue 13 §1): the owner, reassigning, the take recorded on an answer.

Services first, then over HTTP; the races on PostgreSQL, with test_transitions_once's `race` (one
thread, app context and session per submission, released together by a barrier).
"""

import html
import re

import pytest
from helpers import PASSWORD, page_text
from sqlalchemy import select
from test_transitions_once import changes, file_request, footprint, in_state, pg_only, race

from backoffice.demo import factories
from backoffice.extensions import db
from backoffice.models import (
    Agent,
    AuditEntry,
    NoteKind,
    OutboxMessage,
    Request,
    RequestNote,
    RequestStatus,
    ServiceOffer,
    StatusChange,
)
from backoffice.services import requests
from backoffice.services.errors import DomainError, ValidationFailed
from backoffice.services.passwords import hash_password

TECH_MAIL = "v.chausson@example.fr"
NOT_PAUL = (
    "Cette demande est prise en charge par Paul GIRONDE : seul cet agent ou un administrateur de la caisse peut y "
    "répondre."
)


@pytest.fixture
def julie(gironde):
    """A second agent of GIRONDE: Julie FAURE."""
    agent = factories.agent(
        "agent2.gironde",
        caisse=gironde["caisse"],
        first_name="Julie",
        last_name="FAURE",
        password_hash=hash_password(PASSWORD),
    )
    db.session.commit()
    return agent


def taken_by(agent, tech, gironde) -> Request:
    req = file_request(tech, gironde)
    requests.take_request(agent, req)
    return req


def history(request_id: int) -> list[tuple[str, int | None]]:
    return [
        (s.status, s.agent_id)
        for s in db.session.scalars(
            select(StatusChange).where(StatusChange.request_id == request_id).order_by(StatusChange.id)
        )
    ]


def audit_actions(request_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.target_type == "Request", AuditEntry.target_id == request_id)
            .order_by(AuditEntry.id)
        )
    )


def mails_to(recipient: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == recipient)))


# --- answering and replying belong to the owner or a caisse admin -----------------------------------


def test_taking_makes_the_agent_the_owner(tech, gironde):
    req = taken_by(gironde["agent"], tech, gironde)
    assert req.taken_by_agent_id == gironde["agent"].id and req.status == RequestStatus.TAKEN.value
    assert requests.may_handle(gironde["agent"], req) and requests.may_reassign(gironde["agent"], req)


def test_another_agent_cannot_answer_a_taken_request_and_nothing_changes(tech, gironde, julie):
    req = taken_by(gironde["agent"], tech, gironde)
    assert not requests.may_handle(julie, req)
    before = footprint(req.id)
    with pytest.raises(DomainError) as refused:
        requests.answer_request(julie, req, "Je réponds à la place de Paul", [])
    assert refused.value.message == NOT_PAUL
    assert footprint(req.id) == before


def test_a_caisse_admin_answers_a_request_an_agent_took(tech, gironde):
    req = taken_by(gironde["agent"], tech, gironde)
    requests.answer_request(gironde["admin"], req, "Réponse de l'administratrice", [])
    req = db.session.get(Request, req.id)
    assert req.status == RequestStatus.RESOLVED.value
    assert req.taken_by_agent_id == gironde["agent"].id and req.resolved_by_agent_id == gironde["admin"].id
    assert history(req.id)[1:] == [("taken", gironde["agent"].id), ("resolved", gironde["admin"].id)]


def test_only_the_owner_or_a_caisse_admin_replies_to_the_partner(tech, gironde, julie):
    req = in_state(RequestStatus.MESSAGE_SENT, tech, gironde)  # answered, so owned, by Paul GIRONDE
    before = footprint(req.id)
    with pytest.raises(DomainError) as refused:
        requests.caisse_reply(julie, req, "Réponse de Julie", [])
    assert refused.value.message == NOT_PAUL
    assert footprint(req.id) == before
    requests.caisse_reply(gironde["admin"], req, "Réponse de l'administratrice", [])
    assert db.session.get(Request, req.id).status == RequestStatus.MESSAGE_RECEIVED.value
    requests.partner_message(tech, db.session.get(Request, req.id), "Une autre question", [])
    requests.caisse_reply(gironde["agent"], db.session.get(Request, req.id), "Réponse de Paul", [])
    assert db.session.get(Request, req.id).caisse_answers_in_exchange == 2


def test_the_national_admin_neither_takes_nor_answers_nor_replies(tech, gironde, world):
    national = world["national"]
    new = file_request(tech, gironde)
    sent = in_state(RequestStatus.MESSAGE_SENT, tech, gironde)
    befores = {new.id: footprint(new.id), sent.id: footprint(sent.id)}
    for attempt in (
        lambda: requests.take_request(national, new),
        lambda: requests.answer_request(national, new, "Réponse nationale", []),
        lambda: requests.caisse_reply(national, sent, "Réponse nationale", []),
        lambda: requests.reassign_request(national, sent, gironde["admin"].id, gironde["agent"].id, ""),
    ):
        with pytest.raises(DomainError) as refused:
            attempt()
        assert refused.value.message == requests.NATIONAL_READS_ONLY
    assert {new.id: footprint(new.id), sent.id: footprint(sent.id)} == befores
    assert not requests.is_staff(national, new) and not requests.may_handle(national, new)


def test_an_agent_of_another_caisse_is_refused(tech, gironde, oise):
    req = file_request(tech, gironde)
    with pytest.raises(DomainError, match=requests.NOT_IN_CAISSE):
        requests.take_request(oise["agent"], req)
    with pytest.raises(DomainError, match=requests.NOT_IN_CAISSE):
        requests.answer_request(oise["admin"], req, "Réponse", [])


# --- answering a "Nouveau" request records the take first -------------------------------------------


def test_answering_a_new_request_records_the_take_then_the_resolution(tech, gironde):
    req = file_request(tech, gironde)
    agent = gironde["agent"]
    requests.answer_request(agent, req, "Réponse directe", [])
    req = db.session.get(Request, req.id)
    assert history(req.id) == [("new", None), ("taken", agent.id), ("resolved", agent.id)]
    changes_ = db.session.scalars(select(StatusChange).where(StatusChange.request_id == req.id)).all()
    taken_row = next(c for c in changes_ if c.status == "taken")
    resolved_row = next(c for c in changes_ if c.status == "resolved")
    assert req.taken_by_agent_id == agent.id and req.taken_at == taken_row.changed_at
    assert req.resolved_at == resolved_row.changed_at and req.status_changed_at == req.resolved_at
    assert 0 < (req.resolved_at - req.taken_at).total_seconds() < 0.001  # just before: the 48-hour figure
    assert [m.kind for m in mails_to(TECH_MAIL)] == ["request_taken", "request_resolved"]
    assert audit_actions(req.id) == ["request.file", "request.take", "request.answer"]
    assert [h["status"] for h in requests.status_history(req)] == ["Nouveau", "Pris en charge", "Résolu"]


def test_answering_a_taken_request_records_no_second_take(tech, gironde):
    req = taken_by(gironde["agent"], tech, gironde)
    taken_at = req.taken_at
    requests.answer_request(gironde["agent"], req, "Réponse", [])
    req = db.session.get(Request, req.id)
    assert [s for s, _a in history(req.id)] == ["new", "taken", "resolved"] and req.taken_at == taken_at
    assert [m.kind for m in mails_to(TECH_MAIL)] == ["request_taken", "request_resolved"]


def test_answering_a_new_saisine_request_records_the_take_without_its_mail(tech, gironde):
    from test_backoffice_requests import file_request as file_with

    offer = db.session.scalars(select(ServiceOffer).filter_by(code="difficulty")).one()
    motives = [m.label for m in requests.motives_for(gironde["caisse"].id, offer)]
    world = {"gironde": gironde}
    req = file_with(
        tech,
        world,
        code="difficulty",
        motive_index=motives.index(requests.SAISINE_MOTIVE),
        consent=True,
        accompaniment=[requests.ACCOMPANIMENT[0]],
    )
    requests.answer_request(gironde["agent"], req, "Transmis à la mission.", [])
    assert [s for s, _a in history(req.id)] == ["new", "taken", "resolved"]
    assert [m.kind for m in mails_to(TECH_MAIL)] == ["request_resolved"]


# --- reassigning --------------------------------------------------------------------------------------


def test_the_owner_reassigns_to_a_colleague_who_is_told_by_e_mail(tech, gironde, julie):
    paul = gironde["agent"]
    req = taken_by(paul, tech, gironde)
    before = footprint(req.id)
    changed_at = db.session.get(Request, req.id).status_changed_at
    note = requests.reassign_request(paul, req, julie.id, paul.id, "  Dossier à rappeler lundi.  ")
    req = db.session.get(Request, req.id)
    assert req.taken_by_agent_id == julie.id
    assert req.status == RequestStatus.TAKEN.value and req.status_changed_at == changed_at
    effect = changes(before, footprint(req.id))
    assert effect == {"taken_by": (paul.id, julie.id), "mails": 1, "audit": 1}  # no history row, no status
    assert (note.kind, note.from_name, note.to_name, note.body, note.author_name) == (
        NoteKind.REASSIGNMENT.value,
        "Paul GIRONDE",
        "Julie FAURE",
        "Dossier à rappeler lundi.",
        "Paul GIRONDE",
    )
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "request.reassign"))
    assert entry.actor_label == "agent.gironde" and entry.target_id == req.id
    assert entry.details == {
        "number": req.number,
        "from": paul.id,
        "to": julie.id,
        "from_name": "Paul GIRONDE",
        "to_name": "Julie FAURE",
        "note": True,
    }
    [mail] = mails_to("agent2.gironde@example.fr")
    assert mail.kind == "request_reassigned" and mail.caisse_id == gironde["caisse"].id
    assert mail.subject == f"Espace Partenaires - La demande N° {req.number} vous est réattribuée"
    assert f"La demande N° {req.number} vous a été réattribuée par Paul GIRONDE." in mail.body_text
    link = f"http://localhost/admin/requests/traiter/?id={req.id}"
    assert link in mail.body_text and f'href="{link}"' in mail.body_html
    assert "Dossier à rappeler" not in mail.body_text + mail.body_html  # the note stays in the screen
    # The new owner answers; the previous one may not any more.
    with pytest.raises(DomainError) as refused:
        requests.answer_request(paul, req, "Réponse de Paul", [])
    assert refused.value.message.startswith("Cette demande est prise en charge par Julie FAURE :")
    requests.answer_request(julie, req, "Réponse de Julie", [])
    assert db.session.get(Request, req.id).resolved_by_agent_id == julie.id


def test_a_caisse_admin_reassigns_any_request_of_the_caisse_in_the_allowed_statuses(tech, gironde, julie):
    admin, paul = gironde["admin"], gironde["agent"]
    for status in (RequestStatus.RESOLVED, RequestStatus.MESSAGE_SENT, RequestStatus.MESSAGE_RECEIVED):
        req = in_state(status, tech, gironde)
        requests.reassign_request(admin, req, julie.id, paul.id, None)
        req = db.session.get(Request, req.id)
        assert (req.status, req.taken_by_agent_id) == (status.value, julie.id)
        requests.reassign_request(admin, req, paul.id, julie.id, "")
        assert db.session.get(Request, req.id).taken_by_agent_id == paul.id
    notes = db.session.scalars(select(RequestNote).order_by(RequestNote.id)).all()
    assert [(n.from_name, n.to_name, n.body) for n in notes] == [
        ("Paul GIRONDE", "Julie FAURE", None),
        ("Julie FAURE", "Paul GIRONDE", None),
    ] * 3


def test_reassigning_is_refused_outside_the_rules(tech, gironde, oise, julie):
    paul, admin = gironde["agent"], gironde["admin"]
    req = taken_by(paul, tech, gironde)
    before = footprint(req.id)
    # Another agent than the owner.
    with pytest.raises(DomainError) as refused:
        requests.reassign_request(julie, req, admin.id, paul.id, "")
    assert refused.value.message == (
        "Cette demande est prise en charge par Paul GIRONDE : seul cet agent ou un administrateur de la caisse "
        "peut la réattribuer."
    )
    # An agent of another caisse, for the actor and for the target.
    with pytest.raises(DomainError, match=requests.NOT_IN_CAISSE):
        requests.reassign_request(oise["admin"], req, julie.id, paul.id, "")
    inactive = factories.agent("ancien.gironde", caisse=gironde["caisse"], first_name="Luc", last_name="ANCIEN")
    inactive.active = False
    db.session.commit()
    for target in (oise["agent"].id, inactive.id, db.session.scalar(select(Agent.id).filter_by(username="admin"))):
        with pytest.raises(ValidationFailed) as invalid:
            requests.reassign_request(paul, req, target, paul.id, "")
        assert invalid.value.errors == {
            "to_agent_id": "Veuillez choisir un agent actif de la caisse à qui réattribuer la demande."
        }
    with pytest.raises(ValidationFailed) as invalid:
        requests.reassign_request(paul, req, paul.id, paul.id, "")
    assert invalid.value.errors == {"to_agent_id": "La demande est déjà prise en charge par Paul GIRONDE."}
    # The note: the comments' rules.
    with pytest.raises(ValidationFailed) as invalid:
        requests.reassign_request(paul, req, julie.id, paul.id, "x" * 5001)
    assert invalid.value.errors == {"note": "La note ne doit pas dépasser 5000 caractères (5001 saisis)."}
    with pytest.raises(ValidationFailed) as invalid:
        requests.reassign_request(paul, req, None, paul.id, "avec un \x00")
    assert invalid.value.errors == {
        "note": "Ce champ contient un caractère non autorisé.",
        "to_agent_id": "Veuillez choisir un agent actif de la caisse à qui réattribuer la demande.",
    }
    assert footprint(req.id) == before
    # Statuses without an owner's work: Nouveau, Clôturé, Annulé.
    new = file_request(tech, gironde)
    with pytest.raises(DomainError, match="Une demande au statut « Nouveau » ne peut pas être réattribuée."):
        requests.reassign_request(admin, new, julie.id, None, "")
    cancelled = file_request(tech, gironde)
    requests.cancel_request(tech, cancelled, requests.CANCEL_REASONS[0], True)
    with pytest.raises(DomainError, match="Une demande au statut « Annulé » ne peut pas être réattribuée."):
        requests.reassign_request(admin, cancelled, julie.id, None, "")
    closed = in_state(RequestStatus.MESSAGE_RECEIVED, tech, gironde)
    requests.close_exchange(tech, closed)
    with pytest.raises(DomainError, match="Une demande au statut « Clôturé » ne peut pas être réattribuée."):
        requests.reassign_request(admin, closed, julie.id, paul.id, "")
    assert db.session.scalar(select(RequestNote.id)) is None and mails_to("agent2.gironde@example.fr") == []


def test_the_same_reassignment_twice_takes_effect_once(tech, gironde, julie):
    paul = gironde["agent"]
    req = taken_by(paul, tech, gironde)
    requests.reassign_request(paul, req, julie.id, paul.id, "")
    done = footprint(req.id)
    with pytest.raises(DomainError) as refused:
        requests.reassign_request(gironde["admin"], req, julie.id, paul.id, "")  # the owner seen is gone
    assert refused.value.message == "Cette demande a déjà été réattribuée : elle est prise en charge par Julie FAURE."
    assert footprint(req.id) == done
    assert len(mails_to("agent2.gironde@example.fr")) == 1


def test_reassign_choices_are_the_active_staff_of_the_caisse_but_the_owner(tech, gironde, oise, julie):
    paul, admin = gironde["agent"], gironde["admin"]
    factories.agent("ancien.gironde", caisse=gironde["caisse"], first_name="Luc", last_name="ANCIEN").active = False
    factories.agent("b.gironde", caisse=gironde["caisse"], first_name="Anne", last_name="BERNARD")
    db.session.commit()
    req = taken_by(paul, tech, gironde)
    names = [a.full_name for a in requests.reassign_choices(paul, req)]
    assert names == ["Anne BERNARD", "Julie FAURE", "Hélène GIRONDE"]  # by last name; no Luc, no OISE, no national
    assert [a.full_name for a in requests.reassign_choices(admin, req)] == names
    assert requests.reassign_choices(julie, req) == []  # not the owner
    assert requests.reassign_choices(paul, file_request(tech, gironde)) == []  # "Nouveau"


def test_a_deactivated_agent_keeps_their_requests_shown_as_to_reassign(tech, gironde, julie):
    paul = gironde["agent"]
    taken = taken_by(julie, tech, gironde)
    answered = in_state(RequestStatus.RESOLVED, tech, gironde)  # Paul's
    mine = taken_by(paul, tech, gironde)
    new = file_request(tech, gironde)
    julie.active = False
    db.session.commit()
    assert db.session.get(Request, taken.id).taken_by_agent_id == julie.id  # nothing changes on deactivation
    orphaned = set(db.session.scalars(select(Request.id).where(requests.orphaned_condition())))
    assert orphaned == {taken.id}
    assert requests.needs_reassignment(db.session.get(Request, taken.id))
    assert not any(requests.needs_reassignment(db.session.get(Request, r.id)) for r in (answered, mine, new))
    # The caisse admin gives it to Paul: no longer to reassign.
    requests.reassign_request(gironde["admin"], taken, paul.id, julie.id, "Julie est partie.")
    assert db.session.scalar(select(Request.id).where(requests.orphaned_condition())) is None


# --- over HTTP --------------------------------------------------------------------------------------------


def screen(request_id: int) -> str:
    return f"/admin/requests/traiter/?id={request_id}"


def error_of(response, field_id: str) -> str | None:
    """The message shown under a field of the screen's forms (and tied to it by aria-describedby)."""
    body = response.get_data(as_text=True)
    field = re.search(rf'<(?:select|textarea)[^>]*\bid="{field_id}"[^>]*>', body)
    message = re.search(rf'<div class="invalid-feedback" id="{field_id}-error">([^<]*)</div>', body)
    if not field or not message or f"{field_id}-error" not in field.group(0) or "is-invalid" not in field.group(0):
        return None
    return html.unescape(message.group(1))


def agent_client(app, username):
    client = app.test_client()
    assert client.post_form("/admin/connexion", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_the_screen_says_who_owns_it_and_refuses_the_non_owners_answer(app, tech, gironde, julie):
    req = taken_by(gironde["agent"], tech, gironde)
    client = agent_client(app, "agent2.gironde")
    page = client.get(screen(req.id))
    text, body = page_text(page), page.get_data(as_text=True)
    assert "Pris en charge par Paul GIRONDE" in text
    assert NOT_PAUL in text
    assert 'id="answer-form"' not in body and 'id="reassign-form"' not in body and "Prendre en charge" not in body
    assert 'id="note-form"' in body  # a colleague still writes notes
    before = footprint(req.id)
    response = client.post_form("/admin/requests/repondre/", {"id": req.id, "answer": "Réponse de Julie"})
    assert response.status_code == 302
    assert NOT_PAUL in page_text(client.get(screen(req.id)))
    assert footprint(req.id) == before
    response = client.post_form("/admin/requests/reattribuer/", {"id": req.id, "to_agent_id": julie.id})
    assert response.status_code == 302 and footprint(req.id) == before


def test_the_owner_reassigns_from_the_screen(app, tech, gironde, julie):
    paul = gironde["agent"]
    req = taken_by(paul, tech, gironde)
    client = agent_client(app, "agent.gironde")
    body = client.get(screen(req.id)).get_data(as_text=True)
    assert 'id="reassign-form"' in body and 'id="answer-form"' in body
    assert '<label for="to_agent_id">' in body and '<label for="reassign-note">' in body
    assert f'<option value="{julie.id}">Julie FAURE</option>' in body
    assert f'<option value="{gironde["admin"].id}">Hélène GIRONDE (administrateur)</option>' in body
    assert f'<option value="{paul.id}">' not in body
    # Nobody chosen: 400, the message on the field, the note typed kept.
    response = client.post_form(
        "/admin/requests/reattribuer/", {"id": req.id, "expected_owner_id": paul.id, "note": "À rappeler"}
    )
    assert response.status_code == 400
    assert (
        error_of(response, "to_agent_id")
        == "Veuillez choisir un agent actif de la caisse à qui réattribuer la demande."
    )
    assert "À rappeler</textarea>" in response.get_data(as_text=True)
    no_csrf = {"id": req.id, "to_agent_id": julie.id, "expected_owner_id": paul.id}
    assert client.post("/admin/requests/reattribuer/", data=no_csrf).status_code == 400
    assert db.session.get(Request, req.id).taken_by_agent_id == paul.id
    response = client.post_form(
        "/admin/requests/reattribuer/",
        {"id": req.id, "to_agent_id": julie.id, "expected_owner_id": paul.id, "note": "À rappeler"},
        follow_redirects=True,
    )
    text = page_text(response)
    assert f"La demande N° {req.number} est réattribuée à Julie FAURE." in text
    assert "Réattribution : de Paul GIRONDE à Julie FAURE" in text and "À rappeler" in text
    assert "Pris en charge par Julie FAURE" in text
    assert 'id="answer-form"' not in response.get_data(as_text=True)  # Paul is no longer the owner
    assert db.session.get(Request, req.id).taken_by_agent_id == julie.id
    assert [m.kind for m in mails_to("agent2.gironde@example.fr")] == ["request_reassigned"]
    # Julie sees the request as hers.
    text = page_text(agent_client(app, "agent2.gironde").get(screen(req.id)))
    assert "Pris en charge par Julie FAURE" in text and "Répondre" in text


def test_a_reassigned_request_moves_to_the_new_owners_mes_demandes(app, tech, gironde, julie):
    paul = gironde["agent"]
    req = taken_by(paul, tech, gironde)
    paul_client, julie_client = agent_client(app, "agent.gironde"), agent_client(app, "agent2.gironde")
    assert req.number in paul_client.get("/admin/mes-demandes/").get_data(as_text=True)
    assert req.number not in julie_client.get("/admin/mes-demandes/").get_data(as_text=True)
    requests.reassign_request(paul, req, julie.id, paul.id, "")
    assert req.number not in paul_client.get("/admin/mes-demandes/").get_data(as_text=True)
    assert req.number in julie_client.get("/admin/mes-demandes/").get_data(as_text=True)


def test_the_national_admin_reads_the_screen_without_the_caisse_actions(app, tech, gironde):
    new = file_request(tech, gironde)
    taken = taken_by(gironde["agent"], tech, gironde)
    client = agent_client(app, "admin")
    for req in (new, taken):
        page = client.get(screen(req.id))
        body = page.get_data(as_text=True)
        assert page.status_code == 200
        for form in ('id="answer-form"', 'id="reassign-form"', 'id="note-form"', "Prendre en charge</button>"):
            assert form not in body, form
        assert "La prise en charge et la réponse relèvent des agents de la caisse" in page_text(page)
    before = footprint(new.id)
    response = client.post_form("/admin/requests/prendre/", {"id": new.id}, follow_redirects=True)
    assert requests.NATIONAL_READS_ONLY in page_text(response)
    assert footprint(new.id) == before


def test_a_control_character_in_the_answer_or_the_reply_is_refused_on_the_form(app, tech, gironde):
    new = file_request(tech, gironde)
    sent = in_state(RequestStatus.MESSAGE_SENT, tech, gironde)
    client = agent_client(app, "agent.gironde")
    befores = {new.id: footprint(new.id), sent.id: footprint(sent.id)}
    for url, req, field in (
        ("/admin/requests/repondre/", new, "answer"),
        ("/admin/requests/message/", sent, "body"),
    ):
        response = client.post_form(url, {"id": req.id, field: "Réponse avec un \x00 nul"})
        assert response.status_code == 400, url
        assert "Ce champ contient un caractère non autorisé." in page_text(response)
    assert {new.id: footprint(new.id), sent.id: footprint(sent.id)} == befores


def test_opening_the_screen_is_audited_once_per_get(app, tech, gironde):
    req = file_request(tech, gironde)
    client = agent_client(app, "admin.gironde")
    client.get(screen(req.id))
    client.get(screen(req.id))
    client.post_form("/admin/requests/note/", {"id": req.id, "body": ""})  # a 400 re-render: not a GET
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "request.view")).all()
    assert [(e.actor_label, e.target_id, e.details) for e in entries] == [
        ("admin.gironde", req.id, {"number": req.number})
    ] * 2
    assert all(e.caisse_id == gironde["caisse"].id for e in entries)


# --- PostgreSQL: races --------------------------------------------------------------------------------


def _reassign(ids):
    actor, req = db.session.get(Agent, ids["agent"]), db.session.get(Request, ids["request"])
    return lambda: requests.reassign_request(actor, req, ids["to"], ids["owner"], "")


def _take(ids):
    actor, req = db.session.get(Agent, ids["agent"]), db.session.get(Request, ids["request"])
    return lambda: requests.take_request(actor, req)


def _answer(ids):
    actor, req = db.session.get(Agent, ids["agent"]), db.session.get(Request, ids["request"])
    return lambda: requests.answer_request(actor, req, "Réponse", [])


@pg_only
def test_reassign_clicked_10_times_at_once_reassigns_once(app, tech, gironde, julie):
    paul = gironde["agent"]
    req = taken_by(paul, tech, gironde)
    ids = {"request": req.id, "agent": paul.id, "to": julie.id, "owner": paul.id}
    before = footprint(req.id)
    results = race(app, [(_reassign, ids)] * 10)
    assert results.count("won") == 1, results
    assert set(results) - {"won"} == {
        "Cette demande a déjà été réattribuée : elle est prise en charge par Julie FAURE."
    }
    assert changes(before, footprint(req.id)) == {"taken_by": (paul.id, julie.id), "mails": 1, "audit": 1}
    assert db.session.scalar(select(RequestNote.id)) is not None
    assert len(db.session.scalars(select(RequestNote)).all()) == 1


@pg_only
def test_two_admins_reassigning_at_once_give_one_reassignment(app, tech, gironde, julie):
    paul = gironde["agent"]
    second = factories.caisse_admin("admin2.gironde", gironde["caisse"], first_name="Marc", last_name="ADMIN")
    db.session.commit()
    req = taken_by(paul, tech, gironde)
    to_julie = {"request": req.id, "agent": gironde["admin"].id, "to": julie.id, "owner": paul.id}
    to_marc = {"request": req.id, "agent": second.id, "to": gironde["admin"].id, "owner": paul.id}
    results = race(app, [(_reassign, to_julie), (_reassign, to_marc)])
    assert results.count("won") == 1, results
    db.session.expire_all()
    owner = db.session.get(Request, req.id).taken_by
    assert owner.id in (julie.id, gironde["admin"].id)
    assert [r for r in results if r != "won"] == [
        f"Cette demande a déjà été réattribuée : elle est prise en charge par {owner.full_name}."
    ]
    assert len(db.session.scalars(select(RequestNote)).all()) == 1


@pg_only
def test_a_take_racing_another_agents_answer_leaves_one_owner(app, tech, gironde, julie):
    outcomes = set()
    for _ in range(4):
        req = file_request(tech, gironde)
        take_ids = {"request": req.id, "agent": gironde["agent"].id}
        answer_ids = {"request": req.id, "agent": julie.id}
        took, answered = race(app, [(_take, take_ids), (_answer, answer_ids)])
        db.session.expire_all()
        after = db.session.get(Request, req.id)
        assert [took, answered].count("won") == 1, (took, answered)
        takes = [a for s, a in history(req.id) if s == "taken"]
        if took == "won":
            assert answered == NOT_PAUL and after.status == RequestStatus.TAKEN.value
            assert takes == [gironde["agent"].id]
        else:
            assert took == "Cette demande a déjà été prise en charge par Julie FAURE."
            assert after.status == RequestStatus.RESOLVED.value and takes == [julie.id]
        assert len([m for m in mails_to(TECH_MAIL) if m.kind == "request_taken"]) == 1
        outcomes.add(took == "won")
        db.session.execute(OutboxMessage.__table__.delete())
        db.session.commit()
    print("take racing answer, the take won:", sorted(outcomes))
