"""R-ORG-1..5 through the portal routes, each situation on the day before, of and after its limit.

Dates are Paris dates: a day boundary is crossed at midnight in Paris, not in UTC.
"""

import re
from datetime import date

import pytest
import time_machine
from helpers import (
    accept_cgu,
    add_convention,
    add_request,
    count,
    enter,
    listed,
    location,
    make_account,
    options,
    page_text,
    portal_login,
    set_dates,
    utc,
)

from backoffice.extensions import db
from backoffice.models import AuditEntry, OutboxMessage, PartnerAccount, PartnerRole, RequestStatus

START = date(2027, 3, 10)  # an upcoming convention starts on D
END = date(2027, 6, 30)  # a convention ends on E

UPCOMING_MESSAGE = "Le conventionnement avec l'organisme CPAM GIRONDE débutera le 10/03/2027."
ENDING_MESSAGE = "Le conventionnement arrive à échéance le 30/06/2027 - Veuillez contacter l'organisme concerné."
PENDING_MESSAGE = "Le conventionnement s'est terminé le 30/06/2027 mais il reste des demandes en cours de traitement."
GRACE_MESSAGE = (
    "Le conventionnement s'est terminé le 30/06/2027. Vous disposez d'un délai supplémentaire pour "
    "consulter les réponses apportées à vos demandes."
)
NOTICE = "/organisme/avertissement"


def upcoming(gironde):
    set_dates(gironde["convention"], START, date(2028, 3, 9))


def ending(gironde):
    set_dates(gironde["convention"], date(2026, 7, 1), END)


def technician(gironde, login="t.gironde"):
    return make_account(gironde["structure"], login, first_name="Théo", usage_name="GIRONDIN")


def has_continue_post_form(response) -> bool:
    """'Continuer' is a submit button of a POST form (never a link that a GET would follow)."""
    body = response.get_data(as_text=True)
    return bool(re.search(r'<form method="post"[^>]*>(?:(?!</form>)[\s\S])*>Continuer</button>', body))


def has_logout_button(response) -> bool:
    body = response.get_data(as_text=True)
    main = body[body.index("<main") :]
    return bool(re.search(r'<form method="post" action="/deconnexion">[\s\S]*?Se déconnecter</button>', main))


def assert_selection_refused(client, caisse):
    """A POST of a caisse that is not offered: the page again, nothing recorded, no access."""
    before = count(AuditEntry, AuditEntry.action == "caisse.select")
    r = client.post_form("/organisme", {"caisse_id": caisse.id})
    assert r.status_code == 200
    assert count(AuditEntry, AuditEntry.action == "caisse.select") == before
    for url in ("/", "/comptes", "/demandes"):
        assert location(client.get(url)) == "/organisme", url
    return r


# --- R-ORG-2: upcoming ---------------------------------------------------------------------------


def test_upcoming_technician_the_day_before_only_gets_the_message_and_a_logout_button(client, gironde):
    upcoming(gironde)
    with time_machine.travel(utc(2027, 3, 9, 12, 0), tick=False):
        tech = technician(gironde)
        portal_login(client, tech.login)
        page = client.get("/organisme")
        assert listed(page)["CPAM GIRONDE"]["label"] == "CPAM GIRONDE *"
        assert listed(page)["CPAM GIRONDE"]["special"]
        assert "Organisme relevant d'une situation particulière." in page_text(page)

        r = client.post_form("/organisme", {"caisse_id": gironde["caisse"].id})
        assert location(r) == NOTICE
        notice = client.get(NOTICE)
        assert notice.status_code == 200
        assert UPCOMING_MESSAGE in page_text(notice)
        assert has_logout_button(notice)
        assert "Continuer" not in page_text(notice)

        # 'Continuer' forged as a POST does not get through either
        r = client.post_form(NOTICE)
        assert r.status_code == 200 and UPCOMING_MESSAGE in page_text(r)
        for url in ("/", "/demandes", "/demandes/nouvelle", "/comptes", "/comptes/nouveau"):
            assert location(client.get(url)) == NOTICE, url
        assert location(client.post_form("/newsletter", {"subscribed": "y"})) == NOTICE

        # logging out is the one thing left
        assert location(client.post_form("/deconnexion")) == "/connexion"
        assert location(client.get("/organisme")).startswith("/connexion")


def test_upcoming_becomes_current_at_midnight_paris_time(client, gironde):
    upcoming(gironde)
    # 09/03/2027 23:50 in Paris (UTC+1): still the day before the start
    with time_machine.travel(utc(2027, 3, 9, 22, 50), tick=False) as traveller:
        tech = technician(gironde)
        enter(client, tech, gironde["caisse"])
        assert location(client.get("/")) == NOTICE
        # 10/03/2027 00:10 in Paris, the same session: the convention has started
        traveller.move_to(utc(2027, 3, 9, 23, 10))
        assert location(client.get("/")) == "/demandes/nouvelle"
        assert client.get("/demandes/nouvelle").status_code == 200


def test_upcoming_on_the_start_day_is_current_for_a_technician(client, gironde):
    upcoming(gironde)
    with time_machine.travel(utc(2027, 3, 10, 12, 0), tick=False):
        tech = technician(gironde)
        portal_login(client, tech.login)
        page = client.get("/organisme")
        option = listed(page)["CPAM GIRONDE"]
        assert option["label"] == "CPAM GIRONDE" and not option["special"]
        assert "situation particulière" not in page_text(page)
        r = client.post_form("/organisme", {"caisse_id": gironde["caisse"].id})
        assert location(r) == "/"
        assert location(client.get("/")) == "/demandes/nouvelle"
        assert client.get("/demandes/nouvelle").status_code == 200


def test_upcoming_manager_enters_without_notice_and_creates_technicians(client, gironde):
    """R-ORG-2 / R-TEC-1: a manager prepares the technician accounts before the start."""
    upcoming(gironde)
    with time_machine.travel(utc(2027, 3, 9, 12, 0), tick=False):
        manager = gironde["manager"]
        accept_cgu(manager)
        portal_login(client, manager.login)
        assert listed(client.get("/organisme"))["CPAM GIRONDE"]["label"] == "CPAM GIRONDE *"
        r = client.post_form("/organisme", {"caisse_id": gironde["caisse"].id})
        assert location(r) == "/"
        assert location(client.get("/")) == "/comptes"
        page = client.get("/comptes")
        assert page.status_code == 200 and "Ajouter un technicien" in page_text(page)
        r = client.post_form(
            "/comptes/nouveau",
            {
                "civility": "Monsieur",
                "birth_name": "",
                "usage_name": "Aubert",
                "first_name": "luc",
                "function": "Médiateur",
                "phone": "06.11.22.33.44",
                "email": "luc.aubert@example.fr",
            },
        )
        assert location(r) == "/comptes"
        assert "Compte technicien partenaire créé avec succès." in page_text(client.get("/comptes"))
        created = db.session.query(PartnerAccount).filter_by(login="l.aubert").one()
        assert created.role == PartnerRole.TECHNICIAN.value and created.active
        assert count(OutboxMessage, OutboxMessage.recipient == "luc.aubert@example.fr") == 1


# --- R-ORG-3: ending within 30 days ----------------------------------------------------------------


@pytest.mark.parametrize("role", ["technician", "manager"])
def test_thirty_days_before_the_end_is_still_current(client, gironde, role):
    ending(gironde)
    with time_machine.travel(utc(2027, 5, 31, 12, 0), tick=False):  # E-30
        account = technician(gironde) if role == "technician" else gironde["manager"]
        accept_cgu(account)
        portal_login(client, account.login)
        option = listed(client.get("/organisme"))["CPAM GIRONDE"]
        assert option["label"] == "CPAM GIRONDE" and not option["special"]
        assert location(client.post_form("/organisme", {"caisse_id": gironde["caisse"].id})) == "/"
        target = "/demandes/nouvelle" if role == "technician" else "/comptes"
        assert location(client.get("/")) == target
        assert client.get(target).status_code == 200


@pytest.mark.parametrize("role", ["technician", "manager"])
@pytest.mark.parametrize("day", [date(2027, 6, 1), END], ids=["E-29", "E"])
def test_ending_shows_the_alert_then_continuer_leads_home(client, gironde, role, day):
    ending(gironde)
    with time_machine.travel(utc(day.year, day.month, day.day, 12, 0), tick=False):
        account = technician(gironde) if role == "technician" else gironde["manager"]
        accept_cgu(account)
        portal_login(client, account.login)
        option = listed(client.get("/organisme"))["CPAM GIRONDE"]
        assert option["label"] == "CPAM GIRONDE *" and option["special"]

        assert location(client.post_form("/organisme", {"caisse_id": gironde["caisse"].id})) == NOTICE
        notice = client.get(NOTICE)
        assert ENDING_MESSAGE in page_text(notice)
        assert has_continue_post_form(notice)
        # a GET acknowledges nothing: the home still sends back to the alert
        assert location(client.get("/")) == NOTICE
        client.get(NOTICE)
        assert location(client.get("/")) == NOTICE

        assert location(client.post_form(NOTICE)) == "/"
        target = "/demandes/nouvelle" if role == "technician" else "/comptes"
        assert location(client.get("/")) == target
        page = client.get(target)
        assert page.status_code == 200
        if role == "technician":
            assert "Nouvelle demande" in page_text(page)  # R-ORG-3: everything works


def test_the_day_after_the_end_a_manager_no_longer_sees_the_caisse(client, gironde):
    ending(gironde)
    with time_machine.travel(utc(2027, 7, 1, 12, 0), tick=False):  # E+1
        manager = gironde["manager"]
        accept_cgu(manager)
        portal_login(client, manager.login)
        page = client.get("/organisme")
        assert "CPAM GIRONDE" not in page_text(page)
        assert "Aucun organisme d'assurance maladie n'est accessible pour votre structure." in page_text(page)
        assert_selection_refused(client, gironde["caisse"])


def test_a_session_that_selected_an_ending_caisse_loses_it_at_midnight_after_the_end(client, gironde):
    """A manager's session on E at 23:50 (Paris, UTC+2) is sent back to /organisme at 00:10 on E+1."""
    ending(gironde)
    with time_machine.travel(utc(2027, 6, 30, 21, 50), tick=False) as traveller:
        manager = gironde["manager"]
        accept_cgu(manager)
        enter(client, manager, gironde["caisse"])
        assert client.get("/comptes").status_code == 200
        traveller.move_to(utc(2027, 6, 30, 22, 10))
        assert location(client.get("/comptes")) == "/organisme"


# --- R-ORG-4: ended with requests still being handled ---------------------------------------------


@pytest.mark.parametrize("status", [RequestStatus.NEW, RequestStatus.TAKEN, RequestStatus.MESSAGE_SENT])
def test_ended_with_a_pending_request_gives_the_technician_history_only(client, gironde, status):
    ending(gironde)
    with time_machine.travel(utc(2027, 6, 20, 9, 0), tick=False) as traveller:
        tech = technician(gironde)
        pending = add_request(gironde["convention"], tech, status)
        resolved = add_request(
            gironde["convention"], tech, RequestStatus.RESOLVED, resolved_at=utc(2027, 6, 21).replace(tzinfo=None)
        )
        traveller.move_to(utc(2027, 7, 1, 12, 0))  # E+1
        portal_login(client, tech.login)
        option = listed(client.get("/organisme"))["CPAM GIRONDE"]
        assert option["label"] == "CPAM GIRONDE *" and option["special"]
        assert location(client.post_form("/organisme", {"caisse_id": gironde["caisse"].id})) == NOTICE
        notice = client.get(NOTICE)
        assert PENDING_MESSAGE in page_text(notice)
        assert has_continue_post_form(notice)
        assert location(client.post_form(NOTICE)) == "/"

        # history only: the home is the history, no new request
        assert location(client.get("/")) == "/demandes"
        history = client.get("/demandes")
        assert history.status_code == 200
        assert pending.number in page_text(history) and resolved.number in page_text(history)
        assert "Nouvelle demande" not in page_text(history)
        r = client.get("/demandes/nouvelle")
        assert location(r) == "/demandes"
        assert "Vous ne pouvez plus déposer de nouvelles demandes" in page_text(client.get("/demandes"))

        # still there long after the end, as long as a request is being handled
        traveller.move_to(utc(2028, 1, 15, 12, 0))
        client.post_form("/deconnexion")
        portal_login(client, tech.login)
        assert "CPAM GIRONDE" in listed(client.get("/organisme"))


def test_ended_with_a_pending_request_is_not_listed_for_the_manager(client, gironde):
    ending(gironde)
    with time_machine.travel(utc(2027, 6, 20, 9, 0), tick=False) as traveller:
        tech = technician(gironde)
        add_request(gironde["convention"], tech, RequestStatus.NEW)
        manager = gironde["manager"]
        accept_cgu(manager)
        traveller.move_to(utc(2027, 7, 1, 12, 0))
        portal_login(client, manager.login)
        assert "CPAM GIRONDE" not in page_text(client.get("/organisme"))
        assert_selection_refused(client, gironde["caisse"])


def test_a_technician_who_acknowledged_the_ending_alert_is_shown_the_ended_alert_after_midnight(client, gironde):
    """The 'Continuer' of E's alert does not stand for E+1's (R-ORG-4 says what changed)."""
    ending(gironde)
    with time_machine.travel(utc(2027, 6, 30, 21, 50), tick=False) as traveller:  # E 23:50 Paris
        tech = technician(gironde)
        add_request(gironde["convention"], tech, RequestStatus.NEW)
        enter(client, tech, gironde["caisse"])
        assert location(client.get("/")) == "/demandes/nouvelle"
        traveller.move_to(utc(2027, 6, 30, 22, 10))  # E+1 00:10 Paris
        assert location(client.get("/")) == NOTICE
        assert PENDING_MESSAGE in page_text(client.get(NOTICE))
        assert location(client.post_form(NOTICE)) == "/"
        assert location(client.get("/")) == "/demandes"


# --- R-ORG-5: ended, everything resolved: grace period ---------------------------------------------


def test_grace_period_lasts_until_thirty_days_after_the_last_resolution(client, gironde):
    ending(gironde)
    with time_machine.travel(utc(2027, 6, 10, 9, 0), tick=False) as traveller:
        tech = technician(gironde)
        first = add_request(
            gironde["convention"], tech, RequestStatus.RESOLVED, resolved_at=utc(2027, 6, 20, 10).replace(tzinfo=None)
        )
        # resolved after the end: 09/07/2027 23:30 UTC is 10/07/2027 01:30 in Paris → grace until 09/08/2027
        last = add_request(
            gironde["convention"], tech, RequestStatus.CLOSED, resolved_at=utc(2027, 7, 9, 23, 30).replace(tzinfo=None)
        )
        add_request(gironde["convention"], tech, RequestStatus.CANCELLED)

        traveller.move_to(utc(2027, 8, 9, 12, 0))  # the 30th day after the last resolution
        portal_login(client, tech.login)
        option = listed(client.get("/organisme"))["CPAM GIRONDE"]
        assert option["label"] == "CPAM GIRONDE *" and option["special"]
        assert location(client.post_form("/organisme", {"caisse_id": gironde["caisse"].id})) == NOTICE
        notice = client.get(NOTICE)
        assert GRACE_MESSAGE in page_text(notice)
        assert has_continue_post_form(notice)
        assert location(client.post_form(NOTICE)) == "/"
        assert location(client.get("/")) == "/demandes"
        history = client.get("/demandes")
        assert first.number in page_text(history) and last.number in page_text(history)
        assert location(client.get("/demandes/nouvelle")) == "/demandes"
        client.post_form("/deconnexion")

        # 09/08/2027 23:50 in Paris: still listed; the session selects it
        traveller.move_to(utc(2027, 8, 9, 21, 50))
        enter(client, tech, gironde["caisse"])
        assert client.get("/demandes").status_code == 200
        # 10/08/2027 00:10 in Paris: the grace period is over, the same session is sent back
        traveller.move_to(utc(2027, 8, 9, 22, 10))
        assert location(client.get("/demandes")) == "/organisme"
        assert location(client.get("/")) == "/organisme"
        page = client.get("/organisme")
        assert "CPAM GIRONDE" not in page_text(page)
        assert "Aucun organisme d'assurance maladie n'est accessible pour votre structure." in page_text(page)
        assert_selection_refused(client, gironde["caisse"])


def test_grace_period_is_not_offered_to_managers(client, gironde):
    ending(gironde)
    with time_machine.travel(utc(2027, 6, 10, 9, 0), tick=False) as traveller:
        tech = technician(gironde)
        add_request(
            gironde["convention"], tech, RequestStatus.RESOLVED, resolved_at=utc(2027, 7, 5, 10).replace(tzinfo=None)
        )
        manager = gironde["manager"]
        accept_cgu(manager)
        traveller.move_to(utc(2027, 7, 10, 12, 0))
        portal_login(client, tech.login)
        assert "CPAM GIRONDE" in listed(client.get("/organisme"))
        client.post_form("/deconnexion")
        portal_login(client, manager.login)
        assert "CPAM GIRONDE" not in page_text(client.get("/organisme"))


# --- R-ORG-1: the list, its default, switching ----------------------------------------------------


def test_default_option_is_the_caisse_of_the_last_login(client, world):
    gironde, o = world["gironde"], world["oise"]
    manager = gironde["manager"]
    accept_cgu(manager)
    add_convention(gironde["structure"], o["caisse"], date(2026, 1, 1), date(2030, 12, 31))
    portal_login(client, manager.login)
    page = client.get("/organisme")
    assert [x["label"] for x in options(page)] == ["Sélectionner un organisme", "CPAM GIRONDE", "CPAM OISE"]
    assert [x["label"] for x in options(page) if x["selected"]] == ["Sélectionner un organisme"]

    assert location(client.post_form("/organisme", {"caisse_id": o["caisse"].id})) == "/"
    client.post_form("/deconnexion")
    portal_login(client, manager.login)
    assert [x["label"] for x in options(client.get("/organisme")) if x["selected"]] == ["CPAM OISE"]

    client.post_form("/organisme", {"caisse_id": gironde["caisse"].id})
    client.post_form("/deconnexion")
    portal_login(client, manager.login)
    assert [x["label"] for x in options(client.get("/organisme")) if x["selected"]] == ["CPAM GIRONDE"]


def test_only_the_caisse_in_a_special_situation_is_marked(client, world):
    gironde, o = world["gironde"], world["oise"]
    with time_machine.travel(utc(2027, 6, 15, 12, 0), tick=False):
        set_dates(gironde["convention"], date(2026, 1, 1), date(2028, 12, 31))
        add_convention(gironde["structure"], o["caisse"], date(2026, 7, 1), date(2027, 7, 1))  # ends in 16 days
        tech = technician(gironde)
        portal_login(client, tech.login)
        page = client.get("/organisme")
        caisses = listed(page)
        assert caisses["CPAM GIRONDE"]["label"] == "CPAM GIRONDE" and not caisses["CPAM GIRONDE"]["special"]
        assert caisses["CPAM OISE"]["label"] == "CPAM OISE *" and caisses["CPAM OISE"]["special"]
        # the choice in the special situation gets its alert, the other goes straight home
        assert location(client.post_form("/organisme", {"caisse_id": o["caisse"].id})) == NOTICE
        assert "Le conventionnement arrive à échéance le 01/07/2027" in page_text(client.get(NOTICE))
        assert location(client.post_form("/organisme", {"caisse_id": gironde["caisse"].id})) == "/"


def test_switching_caisse_from_the_header_is_audited(client, world):
    gironde, o = world["gironde"], world["oise"]
    manager = gironde["manager"]
    accept_cgu(manager)
    add_convention(gironde["structure"], o["caisse"], date(2026, 1, 1), date(2030, 12, 31))
    enter(client, manager, gironde["caisse"])
    page = client.get("/comptes").get_data(as_text=True)
    header = re.search(r'<a class="ep-caisse" href="([^"]+)"[^>]*>([^<]+)</a>', page)
    assert header and header.group(1) == "/organisme" and header.group(2) == "CPAM GIRONDE"

    switch = client.get(header.group(1))
    assert [x["label"] for x in options(switch) if x["selected"]] == ["CPAM GIRONDE"]
    assert location(client.post_form("/organisme", {"caisse_id": o["caisse"].id})) == "/"
    page = client.get("/comptes").get_data(as_text=True)
    assert re.search(r'<a class="ep-caisse"[^>]*>CPAM OISE</a>', page)

    rows = db.session.query(AuditEntry).filter_by(action="caisse.select").order_by(AuditEntry.id).all()
    assert [(r.caisse_id, r.actor_type, r.actor_label, r.target_id) for r in rows] == [
        (gironde["caisse"].id, "partner", "m.gironde", manager.id),
        (o["caisse"].id, "partner", "m.gironde", manager.id),
    ]
    assert rows[-1].details["situation"] == "current"
    assert db.session.get(PartnerAccount, manager.id).last_caisse_id == o["caisse"].id


def test_a_caisse_without_convention_cannot_be_forced(client, world):
    gironde, o = world["gironde"], world["oise"]
    manager = gironde["manager"]
    accept_cgu(manager)
    portal_login(client, manager.login)
    r = assert_selection_refused(client, o["caisse"])
    assert "N'est pas un choix valide." in page_text(r)  # WTForms' message, in French


def test_pages_need_a_selected_caisse(client, world):
    manager = world["gironde"]["manager"]
    accept_cgu(manager)
    portal_login(client, manager.login)
    for url in ("/", "/comptes", "/comptes/nouveau", "/demandes", "/demandes/nouvelle", NOTICE):
        assert location(client.get(url)) == "/organisme", url
