"""Every state change of a request takes effect once (issue 11 §5, ARCHITECTURE "Transitions").

Each transition — take, answer, caisse reply (agent side), complete, cancel, partner message, close
(partner side) and the day-16 closing (housekeeping) — is one conditional UPDATE checked by its
rowcount: a second identical submission, sequential or parallel, is refused with a French message
and writes nothing (no history row, message, file, e-mail or audit entry). The parallel tests need
PostgreSQL (SQLite serialises writers) and use real connections: one thread, app context and
session per submission, released together by a barrier.
"""

import io
import threading
from datetime import date, timedelta

import pytest
from helpers import PASSWORD, TEST_DB, enter, location, make_account, page_text
from sqlalchemy import func, select

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import (
    Agent,
    Attachment,
    AuditEntry,
    ExchangeMessage,
    OutboxMessage,
    PartnerAccount,
    Request,
    RequestStatus,
    ServiceOffer,
    StagedUpload,
    StatusChange,
)
from backoffice.services import access, requests, uploads
from backoffice.services.errors import DomainError, ValidationFailed

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PARALLEL = 10
TECH_MAIL = "v.chausson@example.fr"

postgres_only = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        TEST_DB != "postgresql", reason="real concurrency needs PostgreSQL (SQLite serialises writers): PG leg"
    ),
]


def pg_only(test):
    for mark in postgres_only:
        test = mark(test)
    return test


# --- set-up ------------------------------------------------------------------------------------


def file_request(tech, gironde, keys=()) -> Request:
    acc = access.access_for(tech, gironde["caisse"].id)
    offer = db.session.scalars(select(ServiceOffer).filter_by(code="file_review")).one()
    data = {
        "person_civility": "Madame",
        "person_last_name": "tutu",
        "person_first_name": "joséphine",
        "person_birth_date": date(1971, 10, 10),
        "person_birth_place": "44",
        "person_phone": "0700000000",
        "comment": "Demande de test",
        "motive_id": requests.motives_for(gironde["caisse"].id, offer)[0].id,
    }
    return requests.file_request(tech, acc, offer, data, list(keys))


def stage(owner, *names) -> list[str]:
    keys, errors = uploads.stage_with_keys(owner, [(name, PDF) for name in names])
    assert not errors
    return keys


def in_state(status: RequestStatus, tech, gironde) -> Request:
    """A request brought to `status` through the services."""
    req = file_request(tech, gironde, keys=stage(tech, "initial.pdf"))
    if status == RequestStatus.NEW:
        return req
    requests.answer_request(gironde["agent"], req, "Réponse de la caisse", [])
    if status == RequestStatus.RESOLVED:
        return req
    requests.partner_message(tech, req, "Une question", [])
    if status == RequestStatus.MESSAGE_SENT:
        return req
    requests.caisse_reply(gironde["agent"], req, "Une réponse", [])
    assert status == RequestStatus.MESSAGE_RECEIVED
    return req


def expired(tech, gironde) -> Request:
    """A request resolved 16 days ago: due for the day-16 closing (R-STA-4)."""
    req = in_state(RequestStatus.RESOLVED, tech, gironde)
    req.resolved_at = now() - timedelta(days=16)
    db.session.commit()
    return req


def footprint(request_id: int) -> dict:
    """Everything a transition writes about one request, to compare before and after."""
    db.session.expire_all()
    req = db.session.get(Request, request_id)

    def rows(model, *criteria):
        return db.session.scalar(select(func.count()).select_from(model).where(*criteria))

    return {
        "status": req.status,
        "status_changed_at": req.status_changed_at,
        "comment": req.comment,
        "answer": req.answer,
        "answers_in_exchange": req.caisse_answers_in_exchange,
        "taken_by": req.taken_by_agent_id,
        "closed_at": req.closed_at,
        "history": [
            s
            for (s,) in db.session.execute(
                select(StatusChange.status).where(StatusChange.request_id == request_id).order_by(StatusChange.id)
            )
        ],
        "messages": rows(ExchangeMessage, ExchangeMessage.request_id == request_id),
        "files": rows(Attachment, Attachment.request_id == request_id),
        "mails": rows(OutboxMessage),
        # Reading the request screen is audited too ("request.view"): not a transition's effect.
        "audit": rows(
            AuditEntry,
            AuditEntry.target_type == "Request",
            AuditEntry.target_id == request_id,
            AuditEntry.action != "request.view",
        ),
    }


def changes(before: dict, after: dict) -> dict:
    """What changed: counters as differences, the history as the rows added, others as (old, new)."""
    out = {}
    for key in before:
        if key == "history":
            added = after["history"][len(before["history"]) :]
            if added or after["history"][: len(before["history"])] != before["history"]:
                out[key] = added
        elif key in ("messages", "files", "mails", "audit"):
            if after[key] != before[key]:
                out[key] = after[key] - before[key]
        elif after[key] != before[key]:
            out[key] = (before[key], after[key])
    return out


# --- the transitions, each as one submission ---------------------------------------------------
#
# kind: (state it starts from, the submission, the loser's message, what the one effect writes)
# A submission is `submit(ids)`: it loads what it needs in the current session from the ids, as a
# view does, and returns a callable that performs the transition.


def _agent(ids):
    return db.session.get(Agent, ids["agent"])


def _tech(ids):
    return db.session.get(PartnerAccount, ids["tech"])


def _req(ids):
    return db.session.get(Request, ids["request"])


def take(ids):
    agent, req = _agent(ids), _req(ids)
    return lambda: requests.take_request(agent, req)


def answer(ids):
    agent, req = _agent(ids), _req(ids)
    return lambda: requests.answer_request(agent, req, "Votre dossier est traité.", ids.get("keys", []))


def reply(ids):
    agent, req = _agent(ids), _req(ids)
    return lambda: requests.caisse_reply(agent, req, "Voici le complément.", ids.get("keys", []))


def complete(ids):
    account, req = _tech(ids), _req(ids)
    return lambda: requests.complete_request(account, req, "Demande de test, complétée.", ids.get("keys", []))


def cancel(ids):
    account, req = _tech(ids), _req(ids)
    return lambda: requests.cancel_request(account, req, requests.CANCEL_REASONS[1], True)


def message(ids):
    account, req = _tech(ids), _req(ids)
    return lambda: requests.partner_message(account, req, "Il manque un document.", ids.get("keys", []))


def close(ids):
    account, req = _tech(ids), _req(ids)
    return lambda: requests.close_exchange(account, req)


def housekeeping(ids):
    def run():
        if requests.close_expired_exchanges() != 1:
            raise DomainError("rien à clôturer")

    return run


WHO_TOOK = "Cette demande a déjà été prise en charge par Paul GIRONDE."
KINDS = {
    "prendre en charge": (
        RequestStatus.NEW,
        take,
        "agent",
        WHO_TOOK,
        {"status": "taken", "history": ["taken"], "mails": 1, "audit": 1},
    ),
    "répondre": (
        RequestStatus.NEW,
        answer,
        "agent",
        requests.ALREADY_ANSWERED,
        # Answered from "Nouveau": the take is recorded first (its history row, e-mail, audit row).
        {"status": "resolved", "history": ["taken", "resolved"], "mails": 2, "audit": 2, "files": 1},
    ),
    "répondre au message": (
        RequestStatus.MESSAGE_SENT,
        reply,
        "agent",
        "Ce message du partenaire a déjà reçu une réponse.",
        {
            "status": "message_received",
            "history": ["message_received"],
            "mails": 1,
            "audit": 1,
            "messages": 1,
            "files": 1,
            "answers_in_exchange": 1,
        },
    ),
    "compléter": (
        RequestStatus.NEW,
        complete,
        "tech",
        requests.ALREADY_COMPLETED,
        {"comment": "Demande de test, complétée.", "audit": 1, "files": 1},
    ),
    "annuler": (
        RequestStatus.NEW,
        cancel,
        "tech",
        "Cette demande a déjà été annulée.",
        {"status": "cancelled", "history": ["cancelled"], "audit": 1},
    ),
    "poursuivre l'échange": (
        RequestStatus.RESOLVED,
        message,
        "tech",
        "Votre message a déjà été envoyé : la caisse n'y a pas encore répondu.",
        {"status": "message_sent", "history": ["message_sent"], "audit": 1, "messages": 1, "files": 1},
    ),
    "clôturer l'échange": (
        RequestStatus.MESSAGE_RECEIVED,
        close,
        "tech",
        "L'échange est déjà clôturé.",
        {"status": "closed", "history": ["closed"], "audit": 1},
    ),
    "clôture du jour 16": (
        None,
        housekeeping,
        None,
        "rien à clôturer",
        {"status": "closed", "history": ["closed"], "audit": 1},
    ),
}


def prepare(kind: str, tech, gironde) -> dict:
    start, _submit, owner, _message, _effect = KINDS[kind]
    req = expired(tech, gironde) if start is None else in_state(start, tech, gironde)
    ids = {"request": req.id, "agent": gironde["agent"].id, "tech": tech.id}
    if kind in ("répondre", "répondre au message"):
        ids["keys"] = stage(gironde["agent"], "reponse.pdf")
    elif kind in ("compléter", "poursuivre l'échange"):
        ids["keys"] = stage(tech, "complement.pdf")
    return ids


def comparable(effect: dict, expected: dict) -> dict:
    """The effect with its status and comment reduced to the new value (as `expected` spells them)."""
    out = {}
    for key, value in effect.items():
        out[key] = value[1] if key in ("status", "comment", "answers_in_exchange") else value
    out.pop("status_changed_at", None)
    out.pop("taken_by", None)
    out.pop("answer", None)
    out.pop("closed_at", None)
    return out


# --- sequential: the second identical submission is refused, nothing written -------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_second_identical_submission_is_refused_and_writes_nothing(kind, tech, gironde):
    _start, submit, _owner, loser_message, expected = KINDS[kind]
    ids = prepare(kind, tech, gironde)
    before = footprint(ids["request"])
    submit(ids)()
    first = footprint(ids["request"])
    assert comparable(changes(before, first), expected) == expected
    with pytest.raises(DomainError) as refused:
        submit(ids)()
    assert refused.value.message == loser_message
    assert footprint(ids["request"]) == first


def test_a_cancel_after_the_answer_is_refused_and_an_answer_after_the_cancel_too(tech, gironde):
    answered = in_state(RequestStatus.NEW, tech, gironde)
    requests.answer_request(gironde["agent"], answered, "Réponse", [])
    before = footprint(answered.id)
    with pytest.raises(DomainError, match="La demande ne peut plus être annulée : la caisse y a déjà répondu."):
        requests.cancel_request(tech, answered, requests.CANCEL_REASONS[0], True)
    assert footprint(answered.id) == before

    cancelled = in_state(RequestStatus.NEW, tech, gironde)
    requests.cancel_request(tech, cancelled, requests.CANCEL_REASONS[0], True)
    before = footprint(cancelled.id)
    keys = stage(gironde["agent"], "reponse.pdf")
    for attempt in (
        lambda: requests.answer_request(gironde["agent"], cancelled, "Réponse", keys),
        lambda: requests.take_request(gironde["agent"], cancelled),
    ):
        with pytest.raises(DomainError, match="Cette demande a été annulée par le partenaire."):
            attempt()
    assert footprint(cancelled.id) == before
    assert db.session.scalar(select(func.count()).select_from(StagedUpload).where(StagedUpload.key.in_(keys))) == 1


def test_the_fifth_message_is_refused_the_maximum_of_exchanges_is_reached(tech, gironde):
    req = in_state(RequestStatus.RESOLVED, tech, gironde)
    for round_ in range(4):
        requests.partner_message(tech, req, f"Question {round_}", [])
        requests.caisse_reply(gironde["agent"], req, f"Réponse {round_}", [])
    assert db.session.get(Request, req.id).status == RequestStatus.CLOSED.value
    # Forced back to "Message reçu" (as a close that never happened): the counter still refuses.
    req.status = RequestStatus.MESSAGE_RECEIVED.value
    db.session.commit()
    before = footprint(req.id)
    with pytest.raises(DomainError) as refused:
        requests.partner_message(tech, req, "Une cinquième question", [])
    assert refused.value.message == requests.MAX_ROUNDS_REACHED
    assert footprint(req.id) == before


def test_a_message_past_the_15_days_is_refused_and_writes_nothing(tech, gironde):
    req = in_state(RequestStatus.RESOLVED, tech, gironde)
    req.resolved_at = now() - timedelta(days=15, seconds=1)
    db.session.commit()
    before = footprint(req.id)
    with pytest.raises(DomainError, match="Le délai de 15 jours pour poursuivre l'échange est dépassé."):
        requests.partner_message(tech, req, "Trop tard", stage(tech, "tard.pdf"))
    assert footprint(req.id) == before


def test_a_reply_past_the_15_days_closes_the_exchange_in_the_same_update(tech, gironde):
    req = in_state(RequestStatus.MESSAGE_SENT, tech, gironde)
    req.resolved_at = now() - timedelta(days=16)
    db.session.commit()
    requests.caisse_reply(gironde["agent"], req, "Réponse tardive", [])
    after = footprint(req.id)
    assert after["status"] == RequestStatus.CLOSED.value and after["closed_at"] is not None
    assert after["history"][-1] == RequestStatus.CLOSED.value and after["answers_in_exchange"] == 1


def test_complete_refuses_files_beyond_the_total_of_eight_and_writes_nothing(tech, gironde):
    req = file_request(tech, gironde, keys=stage(tech, *[f"PJ{i}.pdf" for i in range(6)]))
    before = footprint(req.id)
    with pytest.raises(ValidationFailed) as refused:
        requests.complete_request(tech, req, "Avec trois de plus", stage(tech, "a.pdf", "b.pdf", "c.pdf"))
    assert refused.value.errors == {"attachments": "8 pièces jointes maximum : vous pouvez encore en ajouter 2."}
    assert footprint(req.id) == before


# --- through the HTTP layer: a double click -----------------------------------------------------


def agent_client(app, username="agent.gironde"):
    client = app.test_client()
    assert client.post_form("/admin/connexion", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_repondre_clicked_twice_resolves_once_and_mails_once(app, tech, gironde):
    req = in_state(RequestStatus.NEW, tech, gironde)
    client = agent_client(app)
    form = {"id": req.id, "answer": "Prise en charge faite"}
    before = footprint(req.id)
    first = client.post_form(
        "/admin/requests/repondre/",
        {**form, "attachments": [(io.BytesIO(PDF), "attestation.pdf")]},
        content_type="multipart/form-data",
    )
    assert first.status_code == 302
    done = footprint(req.id)
    assert changes(before, done)["history"] == ["taken", "resolved"]
    second = client.post_form(
        "/admin/requests/repondre/",
        {**form, "attachments": [(io.BytesIO(PDF), "attestation.pdf")]},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert second.status_code == 200
    assert "Cette demande a déjà reçu une réponse." in page_text(second)
    assert footprint(req.id) == done
    assert changes(before, done)["mails"] == 2 and changes(before, done)["files"] == 1  # taken, resolved


def test_repondre_au_message_clicked_twice_replies_once(app, tech, gironde):
    req = in_state(RequestStatus.MESSAGE_SENT, tech, gironde)
    client = agent_client(app)
    client.post_form("/admin/requests/message/", {"id": req.id, "body": "Bien reçu"})
    done = footprint(req.id)
    again = client.post_form("/admin/requests/message/", {"id": req.id, "body": "Bien reçu"}, follow_redirects=True)
    assert "Ce message du partenaire a déjà reçu une réponse." in page_text(again)
    assert footprint(req.id) == done and done["answers_in_exchange"] == 1


def test_prendre_en_charge_clicked_twice_takes_once(app, tech, gironde):
    req = in_state(RequestStatus.NEW, tech, gironde)
    client = agent_client(app)
    client.post_form("/admin/requests/prendre/", {"id": req.id})
    done = footprint(req.id)
    again = client.post_form("/admin/requests/prendre/", {"id": req.id}, follow_redirects=True)
    assert WHO_TOOK in page_text(again)
    assert footprint(req.id) == done and done["history"] == ["new", "taken"]


@pytest.fixture
def portal(client, gironde, tech):
    enter(client, tech, gironde["caisse"])
    return client


def _post(client, url, data):
    return client.post_form(url, data, content_type="multipart/form-data")


def test_completer_clicked_twice_completes_once(portal, tech, gironde):
    req = in_state(RequestStatus.NEW, tech, gironde)
    url = f"/demandes/{req.number}/completer"
    keys = stage(tech, "facture.pdf")
    form = {"comment": "Demande de test\nAvec la facture.", "staged": keys}
    before = footprint(req.id)
    assert location(_post(portal, url, form)) == f"/demandes/{req.number}"
    done = footprint(req.id)
    assert changes(before, done)["files"] == 1
    again = _post(portal, url, form)
    assert location(again) == f"/demandes/{req.number}"
    assert requests.ALREADY_COMPLETED in page_text(portal.get(location(again)))
    assert footprint(req.id) == done


def test_annuler_clicked_twice_cancels_once(portal, tech, gironde):
    req = in_state(RequestStatus.NEW, tech, gironde)
    url = f"/demandes/{req.number}/annuler"
    form = {"reason": requests.CANCEL_REASONS[2], "confirm": "y"}
    assert location(_post(portal, url, form)) == "/demandes"
    done = footprint(req.id)
    again = _post(portal, url, form)
    assert location(again) == "/demandes"
    assert "Cette demande a déjà été annulée." in page_text(portal.get("/demandes"))
    assert footprint(req.id) == done and done["history"] == ["new", "cancelled"]


def test_message_and_cloture_clicked_twice_take_effect_once(portal, tech, gironde):
    req = in_state(RequestStatus.RESOLVED, tech, gironde)
    detail = f"/demandes/{req.number}"
    form = {"body": "Voici le document manquant."}
    assert location(_post(portal, f"{detail}/echange", form)) == detail
    sent = footprint(req.id)
    assert location(_post(portal, f"{detail}/echange", form)) == detail
    assert "L'échange n'est plus possible sur cette demande." in page_text(portal.get(detail))
    assert footprint(req.id) == sent and sent["messages"] == 1

    requests.caisse_reply(gironde["agent"], db.session.get(Request, req.id), "Bien reçu", [])
    assert location(portal.post_form(f"{detail}/cloturer")) == detail
    closed = footprint(req.id)
    assert closed["status"] == RequestStatus.CLOSED.value
    assert location(portal.post_form(f"{detail}/cloturer")) == detail
    assert "L'échange est déjà clôturé." in page_text(portal.get(detail))
    assert footprint(req.id) == closed


# --- PostgreSQL: real parallel submissions -------------------------------------------------------


def race(app, submissions) -> list[str]:
    """Run each submission, a (submit, ids) pair, in a thread of its own with its own app context and
    session, all released together; return "won" or the refusal's message for each."""
    barrier = threading.Barrier(len(submissions))
    results: list[str | None] = [None] * len(submissions)

    def worker(index, submission):
        submit, ids = submission
        try:
            with app.app_context():
                try:
                    action = submit(ids)
                    db.session.commit()  # no connection held while waiting: all start at once
                    barrier.wait(timeout=30)
                    action()
                    results[index] = "won"
                except ValidationFailed as exc:
                    results[index] = "invalid: " + exc.message
                except DomainError as exc:
                    results[index] = exc.message
                finally:
                    db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported in the results
            results[index] = f"error: {exc!r}"

    threads = [threading.Thread(target=worker, args=(i, s)) for i, s in enumerate(submissions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in threads), "a submission hung"
    return results


@pg_only
def test_each_transition_submitted_10_times_at_once_takes_effect_once(app, tech, gironde, capsys):
    effects = duplicates = 0
    for kind, (_start, submit, _owner, loser_message, expected) in KINDS.items():
        ids = prepare(kind, tech, gironde)
        before = footprint(ids["request"])
        results = race(app, [(submit, ids)] * PARALLEL)
        after = footprint(ids["request"])
        assert results.count("won") == 1, (kind, results)
        assert [r for r in results if r != "won"] == [loser_message] * (PARALLEL - 1), (kind, results)
        assert comparable(changes(before, after), expected) == expected, kind
        effects += results.count("won")
        duplicates += results.count("won") - 1
    with capsys.disabled():
        print(
            f"\ntransitions: {len(KINDS)} kinds × {PARALLEL} parallel submissions, {effects} effects, "
            f"{duplicates} duplicates"
        )
    assert effects == len(KINDS) and duplicates == 0


@pg_only
def test_a_cancel_racing_an_answer_ends_consistent(app, tech, gironde):
    outcomes = set()
    for _ in range(6):
        ids = prepare("annuler", tech, gironde)
        ids["keys"] = stage(gironde["agent"], "reponse.pdf")
        results = race(app, [(cancel, ids), (answer, ids)])
        after = footprint(ids["request"])
        cancel_result, answer_result = results
        assert sorted([cancel_result, answer_result]).count("won") == 1, results
        mails = db.session.scalars(select(OutboxMessage.kind).where(OutboxMessage.recipient == TECH_MAIL)).all()
        if cancel_result == "won":
            assert answer_result == "Cette demande a été annulée par le partenaire."
            assert after["status"] == RequestStatus.CANCELLED.value and after["answer"] is None
            assert after["history"] == ["new", "cancelled"] and "request_resolved" not in mails
            assert after["files"] == 1  # the initial file only: the answer's file was not attached
        else:
            assert cancel_result == "La demande ne peut plus être annulée : la caisse y a déjà répondu."
            assert after["status"] == RequestStatus.RESOLVED.value and after["answer"] == "Votre dossier est traité."
            assert after["history"] == ["new", "taken", "resolved"] and mails.count("request_resolved") == 1
        assert after["history"][-1] == after["status"]
        outcomes.add("annulée" if cancel_result == "won" else "résolue")
        db.session.execute(OutboxMessage.__table__.delete())
        db.session.commit()
    print("cancel racing answer, outcomes seen:", sorted(outcomes))


@pg_only
def test_two_agents_replying_to_one_partner_message_give_one_reply(app, tech, gironde, world):
    ids = prepare("répondre au message", tech, gironde)
    admin_ids = {**ids, "agent": gironde["admin"].id, "keys": stage(gironde["admin"], "autre.pdf")}
    results = race(app, [(reply, ids), (reply, admin_ids)])
    assert results.count("won") == 1
    assert "Ce message du partenaire a déjà reçu une réponse." in results
    after = footprint(ids["request"])
    caisse_messages = db.session.scalars(
        select(ExchangeMessage).where(ExchangeMessage.request_id == ids["request"], ExchangeMessage.side == "caisse")
    ).all()
    assert len(caisse_messages) == 1
    assert after["answers_in_exchange"] == 1 and after["status"] == RequestStatus.MESSAGE_RECEIVED.value
    assert after["history"].count("message_received") == 1 and after["files"] == 2  # initial.pdf + one reply's
    mails = db.session.scalars(select(OutboxMessage.kind).where(OutboxMessage.recipient == TECH_MAIL)).all()
    assert mails.count("exchange_answer") == 1


@pg_only
def test_two_parallel_completes_cannot_pass_the_total_of_eight_files(app, tech, gironde):
    colleague = make_account(gironde["structure"], "m.lapierre", first_name="Martine", usage_name="LAPIERRE")
    req = file_request(tech, gironde, keys=stage(tech, "PJ1.pdf", "PJ2.pdf", "PJ3.pdf"))
    mine = {"request": req.id, "tech": tech.id, "keys": stage(tech, *[f"T{i}.pdf" for i in range(4)])}
    theirs = {"request": req.id, "tech": colleague.id, "keys": stage(colleague, *[f"C{i}.pdf" for i in range(4)])}
    results = race(app, [(complete, mine), (complete, theirs)])
    assert results.count("won") == 1, results
    assert "invalid: 8 pièces jointes maximum : vous pouvez encore en ajouter 1." in results
    db.session.expire_all()
    assert len(requests.partner_files(db.session.get(Request, req.id))) == 7


@pg_only
def test_repondre_double_clicked_at_once_over_http_resolves_once(app, tech, gironde):
    req = in_state(RequestStatus.NEW, tech, gironde)
    first = agent_client(app)
    token = first.csrf_token()
    cookie = first.get_cookie(app.config["SESSION_COOKIE_NAME"])
    clients = []
    for _ in range(PARALLEL):  # the same browser session: one cookie, one CSRF token
        other = app.test_client()
        other.set_cookie(cookie.key, cookie.value, domain=cookie.domain or "localhost")
        clients.append(other)
    req_id = req.id
    before = footprint(req_id)
    db.session.commit()
    barrier = threading.Barrier(PARALLEL)
    statuses: list[int] = []

    def click(client):
        with app.app_context():  # the thread's own (the test client expires its session after)
            barrier.wait(timeout=30)
            response = client.post(
                "/admin/requests/repondre/",
                data={"id": req_id, "answer": "Réponse", "csrf_token": token},
            )
            statuses.append(response.status_code)
            db.session.remove()

    threads = [threading.Thread(target=click, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert statuses == [302] * PARALLEL
    effect = changes(before, footprint(req_id))
    assert effect["history"] == ["taken", "resolved"] and effect["mails"] == 2 and effect["audit"] == 2
    flashed = [page_text(c.get(f"/admin/requests/traiter/?id={req_id}")) for c in clients]
    assert sum("la demande est résolue" in text for text in flashed) == 1
    assert sum(requests.ALREADY_ANSWERED in text for text in flashed) == PARALLEL - 1
