"""The daily digest (issue 13 §6): what it lists, when, at most once per agent and day (a second
run, two machines at once), who gets none, the « Mon compte » switch, and its delivery over SMTP.

Time is fixed with time_machine: 2 December 2026 (Paris is UTC+1 in winter), digest hour 7."""

import re
import threading
from datetime import datetime, timedelta, timezone

import pytest
import test_outbox
import time_machine
from helpers import TEST_DB, add_request, count, deliver_mail, location, mail_text, make_account, page_text
from sqlalchemy import select

from backoffice.clock import PARIS
from backoffice.demo import factories
from backoffice.extensions import db
from backoffice.models import (
    Agent,
    AgentDigest,
    AuditEntry,
    OutboxMessage,
    Request,
    RequestStatus,
    ServiceOffer,
)
from backoffice.services import digest, housekeeping
from backoffice.services.digest import LIST_LIMIT, send_digests, set_digest_preference
from backoffice.services.errors import DomainError

# The local SMTP server (aiosmtpd) of tests/test_outbox.py, for the delivery test.
smtp_config = test_outbox.smtp_config
smtp_server = test_outbox.smtp_server

DAY = datetime(2026, 12, 2, 8, 0, tzinfo=PARIS)  # 07:00 UTC
SUBJECT = "Espace Partenaires – Votre récapitulatif du 02/12/2026"
STAFF = ["admin.gironde@example.fr", "agent.gironde@example.fr", "admin.oise@example.fr", "agent.oise@example.fr"]


def utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def offer_label(world):
    return db.session.scalars(select(ServiceOffer.label).order_by(ServiceOffer.position)).first()


def make_request(side, requester, status=RequestStatus.NEW, age=timedelta(hours=1), owner=None, waiting=None):
    """A request of `side`'s caisse deposited `age` before DAY; taken by `owner`; its status set
    `waiting` before DAY (a partner's message waiting since then)."""
    req = add_request(side["convention"], requester, status)
    req.deposited_at = utc_naive(DAY) - age
    req.status_changed_at = utc_naive(DAY) - (waiting or age)
    if owner is not None:
        req.taken_by_agent_id = owner.id
        req.taken_at = req.deposited_at
    db.session.commit()
    return req


def digests() -> dict[str, OutboxMessage]:
    """The queued digests by recipient (asserting one each)."""
    db.session.expire_all()
    messages = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest")).all()
    by_recipient = {m.recipient: m for m in messages}
    assert len(by_recipient) == len(messages), [m.recipient for m in messages]
    return by_recipient


def lines(message: OutboxMessage) -> list[str]:
    return [line.strip() for line in message.body_text.splitlines() if line.strip()]


def one_request_each(world, tech):
    """One new request in each caisse: every member of staff has something to read."""
    oise_tech = make_account(world["oise"]["structure"], "o.tech", usage_name="OTECH")
    return make_request(world["gironde"], tech), make_request(world["oise"], oise_tech)


# --- what it lists --------------------------------------------------------------------------------


def test_the_digest_lists_new_overdue_owned_and_waiting_requests_of_the_agent_caisse_only(world, tech, offer_label):
    gironde, oise = world["gironde"], world["oise"]
    agent = gironde["agent"]
    boundary = make_request(gironde, tech, age=timedelta(hours=48))  # exactly 48 h: not yet overdue
    late = make_request(gironde, tech, age=timedelta(hours=48, seconds=1))  # overdue by a second
    older = make_request(gironde, tech, age=timedelta(hours=75))  # overdue by 27 h
    fresh = make_request(gironde, tech, age=timedelta(minutes=30))
    taken = make_request(gironde, tech, RequestStatus.TAKEN, age=timedelta(days=3), owner=agent)
    waiting = make_request(
        gironde, tech, RequestStatus.MESSAGE_SENT, age=timedelta(days=5), owner=agent, waiting=timedelta(hours=26)
    )
    make_request(gironde, tech, RequestStatus.TAKEN, age=timedelta(days=4), owner=gironde["admin"])  # a colleague's
    make_request(gironde, tech, RequestStatus.RESOLVED, age=timedelta(days=6), owner=agent)  # done
    oise_tech = make_account(oise["structure"], "o.tech", usage_name="OTECH")
    oise_new = make_request(oise, oise_tech, age=timedelta(hours=50))

    with at(DAY):
        assert send_digests() == 4

    sent = digests()
    assert sorted(sent) == sorted(STAFF)
    mail = sent["agent.gironde@example.fr"]
    assert (mail.subject, mail.caisse_id, mail.status) == (SUBJECT, gironde["caisse"].id, "pending")
    s = "Association Gironde"
    assert lines(mail) == [
        "Votre récapitulatif du 02/12/2026",
        "Bonjour Paul GIRONDE,",
        "Voici les demandes qui vous attendent sur le back-office d'Espace Partenaires (CPAM GIRONDE).",
        "Demandes en retard (« Nouveau » depuis plus de 48 h) : 2",
        f"- N° {older.number} déposée le 29/11/2026 05h00min – {offer_label} – {s} – en retard de 27h",
        f"- N° {late.number} déposée le 30/11/2026 07h59min – {offer_label} – {s} – en retard de 1 min",
        "Nouvelles demandes (« Nouveau », dans le délai de 48 h) : 2",
        f"- N° {boundary.number} déposée le 30/11/2026 08h00min – {offer_label} – {s}",
        f"- N° {fresh.number} déposée le 02/12/2026 07h30min – {offer_label} – {s}",
        "Vos demandes en cours (prises en charge par vous) : 2",
        f"- N° {waiting.number} déposée le 27/11/2026 08h00min – {offer_label} – {s} – Message envoyé",
        f"- N° {taken.number} déposée le 29/11/2026 08h00min – {offer_label} – {s} – Pris en charge",
        "Messages en attente de votre réponse (« Message envoyé ») : 1",
        f"- N° {waiting.number} déposée le 27/11/2026 08h00min – {offer_label} – {s} – en attente depuis 26h",
        "Ouvrir le back-office : http://localhost/admin/",
        "Vous ne souhaitez plus recevoir ce récapitulatif ? Décochez « Recevoir le récapitulatif quotidien "
        "par e-mail » dans « Mon compte » : http://localhost/admin/profile/",
        "Bien cordialement.",
        "Votre conseiller Assurance Maladie.",
    ]
    # the HTML copy links each request's screen and the back office, with no secret in any link
    assert f'href="http://localhost/admin/requests/traiter/?id={waiting.id}"' in mail.body_html
    assert 'href="http://localhost/admin/profile/"' in mail.body_html
    assert set(re.findall(r'href="([^"]+)"', mail.body_html)) <= {
        "http://localhost/admin/",
        "http://localhost/admin/profile/",
        *(
            f"http://localhost/admin/requests/traiter/?id={r.id}"
            for r in (older, late, boundary, fresh, taken, waiting)
        ),
    }
    # tenant isolation: the other caisse's requests are never listed, and the other way round
    assert oise_new.number not in mail.body_text + mail.body_html
    oise_mail = sent["agent.oise@example.fr"]
    assert oise_mail.caisse_id == oise["caisse"].id
    assert oise_new.number in oise_mail.body_text
    gironde_numbers = {
        r.number for r in db.session.scalars(select(Request).where(Request.caisse_id == gironde["caisse"].id))
    }
    assert not any(number in oise_mail.body_text + oise_mail.body_html for number in gironde_numbers)
    # the caisse admin reads the caisse's lists and their own (a request they took)
    admin_lines = lines(sent["admin.gironde@example.fr"])
    assert "Bonjour Hélène GIRONDE," in admin_lines
    assert "Vos demandes en cours (prises en charge par vous) : 1" in admin_lines
    assert "Messages en attente de votre réponse (« Message envoyé ») : 0" in admin_lines
    assert "Aucun message en attente." in admin_lines


def test_long_lists_show_the_oldest_and_how_many_others(world, tech):
    gironde = world["gironde"]
    created = [make_request(gironde, tech, age=timedelta(hours=100 + i)) for i in range(LIST_LIMIT + 3)]
    with at(DAY):
        assert send_digests() == 2  # the two members of GIRONDE's staff; OISE has nothing
    text = lines(digests()["agent.gironde@example.fr"])
    start = text.index(f"Demandes en retard (« Nouveau » depuis plus de 48 h) : {LIST_LIMIT + 3}")
    listed = [re.match(r"- N° (\d{10}) ", line).group(1) for line in text[start + 1 : start + 1 + LIST_LIMIT]]
    oldest_first = [r.number for r in reversed(created)]
    assert listed == oldest_first[:LIST_LIMIT]
    assert text[start + 1 + LIST_LIMIT] == "… et 3 autres"
    assert "Nouvelles demandes (« Nouveau », dans le délai de 48 h) : 0" in text
    assert "Aucune nouvelle demande." in text


def test_the_statements_do_not_grow_with_the_number_of_requests(world, tech, count_queries):
    gironde = world["gironde"]
    for i in range(LIST_LIMIT + 5):
        make_request(gironde, tech, age=timedelta(hours=100 + i))
    with at(DAY), count_queries() as first:
        assert send_digests() == 2
    for i in range(3 * LIST_LIMIT):
        make_request(gironde, tech, age=timedelta(hours=50 + i, minutes=30))
    with at(DAY + timedelta(days=1)), count_queries() as second:
        assert send_digests() == 2
    assert len(second) == len(first)
    latest = db.session.scalars(
        select(OutboxMessage.body_text)
        .where(OutboxMessage.recipient == "agent.gironde@example.fr")
        .order_by(OutboxMessage.id.desc())
    ).first()
    assert f"en retard (« Nouveau » depuis plus de 48 h) : {4 * LIST_LIMIT + 5}" in latest
    assert f"… et {3 * LIST_LIMIT + 5} autres" in latest


# --- when ------------------------------------------------------------------------------------------


def test_nothing_before_the_digest_hour_then_one_each_from_it_on(app, world, tech, monkeypatch):
    one_request_each(world, tech)
    with at(DAY.replace(hour=6, minute=59, second=59)):
        assert send_digests() == 0
    assert count(AgentDigest) == 0 and digests() == {}
    with at(DAY.replace(hour=7, minute=0)):
        assert send_digests() == 4
    assert sorted(digests()) == sorted(STAFF)
    assert {(d.day.isoformat(), d.queued_at) for d in db.session.scalars(select(AgentDigest))} == {
        ("2026-12-02", datetime(2026, 12, 2, 6, 0))
    }


def test_the_hour_is_configurable_and_paris_time(app, world, tech, monkeypatch):
    one_request_each(world, tech)
    monkeypatch.setitem(app.config, "DIGEST_HOUR", 9)
    with at(DAY):  # 8h in Paris (7h UTC): not yet
        assert send_digests() == 0
    assert send_digests(moment=datetime(2026, 12, 2, 8, 0)) == 4  # 8h UTC: 9h in Paris
    assert len(digests()) == 4
    # the Paris day: 23h30 UTC on 2 December is already 3 December in Paris
    monkeypatch.setitem(app.config, "DIGEST_HOUR", 0)
    assert send_digests(moment=datetime(2026, 12, 2, 23, 30, tzinfo=timezone.utc)) == 4
    assert (
        sorted(d.day.isoformat() for d in db.session.scalars(select(AgentDigest)))
        == ["2026-12-02"] * 4 + ["2026-12-03"] * 4
    )


def test_an_hour_outside_0_to_23_is_refused_in_french(app, runner, world, monkeypatch):
    monkeypatch.setitem(app.config, "DIGEST_HOUR", 24)
    result = runner.invoke(args=["digest"])
    assert result.exit_code == 1
    assert "DIGEST_HOUR doit être une heure entière de 0 à 23 (reçu : 24)." in result.output
    assert count(AgentDigest) == 0


# --- at most once per agent and day -----------------------------------------------------------------


def test_a_second_run_the_same_day_queues_nothing_and_the_next_day_again_one_each(world, tech):
    one_request_each(world, tech)
    with at(DAY):
        assert send_digests() == 4
    with at(DAY.replace(hour=23, minute=59)):
        assert send_digests() == 0
    assert count(OutboxMessage, OutboxMessage.kind == "digest") == 4
    with at(DAY + timedelta(days=1)):
        assert send_digests() == 4
    assert count(OutboxMessage, OutboxMessage.kind == "digest") == 8
    assert count(AgentDigest) == 8


def test_an_agent_whose_day_is_already_recorded_gets_nothing(world, tech):
    """What a run on another machine leaves: the (agent, day) row; this run adds no second one."""
    one_request_each(world, tech)
    db.session.add(AgentDigest(agent_id=world["gironde"]["agent"].id, day=DAY.date(), queued_at=utc_naive(DAY)))
    db.session.commit()
    with at(DAY):
        assert send_digests() == 3
    assert "agent.gironde@example.fr" not in digests()
    assert count(AgentDigest) == 4


def test_a_run_that_read_the_agents_before_another_run_recorded_them_queues_nothing(world, tech, monkeypatch):
    """The race on one machine's clock: this run listed the agents as due, then another run queued
    their digests; the (agent, day) primary key makes this run's inserts add nothing, so it queues
    nothing (the parallel runs themselves: the PostgreSQL test below)."""
    one_request_each(world, tech)
    staff_ids = sorted(a.id for a in db.session.scalars(select(Agent).where(Agent.caisse_id.is_not(None))))
    with at(DAY):
        assert send_digests() == 4
        monkeypatch.setattr(digest, "_due_agent_ids", lambda day: staff_ids)  # read before the other run
        assert send_digests() == 0
    assert count(OutboxMessage, OutboxMessage.kind == "digest") == 4
    assert count(AgentDigest) == 4


def test_nothing_to_list_no_email_and_the_day_is_settled(world, tech):
    with at(DAY):
        assert send_digests() == 0
    assert digests() == {}
    assert count(AgentDigest) == 4  # every member of staff: nothing to read at the digest hour
    one_request_each(world, tech)
    with at(DAY.replace(hour=15)):
        assert send_digests() == 0  # a request filed later that day waits for tomorrow's digest
    with at(DAY + timedelta(days=1)):
        assert send_digests() == 4


def test_the_two_commands_run_it_and_say_how_many(world, tech, runner):
    one_request_each(world, tech)
    with at(DAY):
        result = runner.invoke(args=["digest"])
        assert result.exit_code == 0, result.output
        assert result.output == "Récapitulatifs quotidiens mis en file : 4 (envoyés à partir de 7h, heure de Paris).\n"
        result = runner.invoke(args=["digest"])
        assert "Récapitulatifs quotidiens mis en file : 0 " in result.output
    with at(DAY + timedelta(days=1)):
        result = runner.invoke(args=["housekeeping"])
        assert result.exit_code == 0, result.output
        assert "Récapitulatifs quotidiens mis en file : 4" in result.output
        assert housekeeping.run()["digests"] == 0
    assert count(OutboxMessage, OutboxMessage.kind == "digest") == 8


postgres_only = pytest.mark.skipif(
    TEST_DB != "postgresql", reason="real concurrency needs PostgreSQL (SQLite serialises writers): PG leg"
)
PARALLEL = 6


@postgres_only
def test_runs_on_several_machines_at_once_queue_one_digest_per_agent(app, world, tech):
    """PARALLEL runs at once, each with its own connection and session (one thread, app context and
    session each, released together by a barrier): one e-mail per agent, whoever wins each."""
    one_request_each(world, tech)
    extra = [
        factories.agent(f"agent{i}.gironde", caisse=world["gironde"]["caisse"], last_name=f"AGENT{i}") for i in range(8)
    ]
    db.session.commit()
    expected = sorted(STAFF + [f"{a.username}@example.fr" for a in extra])
    barrier = threading.Barrier(PARALLEL)
    results: list = [None] * PARALLEL

    def run(index):
        try:
            with app.app_context():
                try:
                    barrier.wait(timeout=30)
                    results[index] = send_digests(moment=utc_naive(DAY))
                finally:
                    db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported in the results
            results[index] = f"error: {exc!r}"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in threads), "a run hung"
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == len(expected)
    db.session.expire_all()
    recipients = sorted(db.session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.kind == "digest")))
    assert recipients == expected  # exactly one each
    assert count(AgentDigest) == len(expected)


# --- who gets none ---------------------------------------------------------------------------------


def test_opted_out_inactive_and_the_national_admin_get_none(world, tech):
    one_request_each(world, tech)
    world["gironde"]["agent"].digest_enabled = False
    world["oise"]["agent"].active = False
    national = world["national"]
    assert national.digest_enabled  # on by default, but the national admin has no caisse's lists
    db.session.commit()
    with at(DAY):
        assert send_digests() == 2
    assert sorted(digests()) == ["admin.gironde@example.fr", "admin.oise@example.fr"]
    assert count(AgentDigest) == 2  # no row for those who get none: turned back on, they get today's
    world["gironde"]["agent"].digest_enabled = True
    db.session.commit()
    with at(DAY.replace(hour=10)):
        assert send_digests() == 1
    assert "agent.gironde@example.fr" in digests()


# --- « Mon compte » ---------------------------------------------------------------------------------

CHECKBOX = re.compile(r'<input[^>]*\bid="digest_enabled"[^>]*>')


def test_the_profile_page_turns_the_digest_off_and_on_over_http(client, login, world):
    agent = world["gironde"]["agent"]
    login("agent.gironde")
    page = client.get("/admin/profile/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    text = page_text(page)
    for shown in (
        "Mon compte",
        "Paul GIRONDE",
        "agent.gironde",
        "Agent CPAM",
        "CPAM GIRONDE",
        "agent.gironde@example.fr",
    ):
        assert shown in text
    checkbox = CHECKBOX.search(body).group(0)
    assert 'type="checkbox"' in checkbox and "checked" in checkbox
    assert (
        '<label class="custom-control-label" for="digest_enabled">Recevoir le récapitulatif quotidien par e-mail</label>'
        in body
    )
    assert re.search(r'<a class="nav-link[^"]*" href="/admin/profile/">\s*Mon compte</a>', body)  # in the menu

    # no CSRF token: refused, nothing changes
    refused = client.post("/admin/profile/", data={})
    assert refused.status_code == 400
    db.session.refresh(agent)
    assert agent.digest_enabled is True

    # unticked and saved: off, audited, said
    saved = client.post_form("/admin/profile/", {}, follow_redirects=True)
    assert "Vos préférences sont enregistrées." in page_text(saved)
    assert "checked" not in CHECKBOX.search(saved.get_data(as_text=True)).group(0)
    db.session.refresh(agent)
    assert agent.digest_enabled is False
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "agent.digest_preference")).one()
    assert (entry.actor_id, entry.target_id, entry.caisse_id, entry.details) == (
        agent.id,
        agent.id,
        agent.caisse_id,
        {"digest_enabled": False},
    )
    # ticked again: on
    client.post_form("/admin/profile/", {"digest_enabled": "y"})
    db.session.refresh(agent)
    assert agent.digest_enabled is True
    assert count(AuditEntry, AuditEntry.action == "agent.digest_preference") == 2


def test_a_caisse_admin_has_the_switch_too_and_anonymous_users_go_to_the_login(client, login, world):
    assert location(client.get("/admin/profile/")).startswith("/admin/connexion")
    login("admin.oise")
    page = client.get("/admin/profile/")
    assert "Hélène OISE" in page_text(page) and "Administrateur CPAM" in page_text(page)
    assert CHECKBOX.search(page.get_data(as_text=True)) is not None


def test_the_national_admin_reaches_the_page_without_a_switch(client, login, world):
    login("admin")
    page = client.get("/admin/profile/")
    assert page.status_code == 200
    assert "Claire NATIONALE" in page_text(page) and "Administrateur national" in page_text(page)
    assert CHECKBOX.search(page.get_data(as_text=True)) is None
    assert "votre compte d'administrateur national n'en reçoit pas" in page_text(page)
    refused = client.post_form("/admin/profile/", {"digest_enabled": "y"}, follow_redirects=True)
    assert "Le récapitulatif quotidien est réservé aux agents et administrateurs d'un organisme." in page_text(refused)
    assert count(AuditEntry, AuditEntry.action == "agent.digest_preference") == 0


def test_set_digest_preference_changes_once_and_refuses_the_national_admin(world):
    agent = world["oise"]["admin"]
    assert set_digest_preference(agent, False) is True
    assert set_digest_preference(agent, False) is False  # already off: nothing written
    assert agent.digest_enabled is False
    assert count(AuditEntry, AuditEntry.action == "agent.digest_preference") == 1
    with pytest.raises(DomainError, match="réservé aux agents et administrateurs"):
        set_digest_preference(world["national"], False)
    assert db.session.get(Agent, world["national"].id).digest_enabled is True


# --- delivery ---------------------------------------------------------------------------------------


def test_the_digest_goes_over_smtp_through_the_outbox_sender(runner, smtp_server, world, tech):
    req, _ = one_request_each(world, tech)
    with at(DAY):
        assert send_digests() == 4
    with time_machine.travel(DAY + timedelta(minutes=1)):  # ticking: the SMTP server's loop runs
        result = runner.invoke(args=["send-mail", "--once"])
    assert result.exit_code == 0, result.output
    received = {m["To"]: m for m in smtp_server.handler.received}
    assert sorted(received) == sorted(STAFF)
    mail = received["agent.gironde@example.fr"]
    assert mail["Subject"] == SUBJECT
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert f"N° {req.number} déposée le 02/12/2026 07h00min" in body
    assert mail.get_body(preferencelist=("html",)).get_content().count(f"N° {req.number}</a>") == 1
    assert {m.status for m in digests().values()} == {"sent"}


def test_the_file_backend_delivers_it_like_any_message(world, tech):
    one_request_each(world, tech)
    with at(DAY):
        send_digests()
        mails = {m["To"]: m for m in deliver_mail()}
    assert "Demandes en retard (« Nouveau » depuis plus de 48 h) : 0" in mail_text(mails["agent.oise@example.fr"])
