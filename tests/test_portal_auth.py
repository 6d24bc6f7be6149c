"""Portal login, passwords, CGU and sessions (R-ACC-3..6), through the routes, at their boundaries."""

import os
import re
from datetime import date, timedelta

import pytest
import time_machine
from helpers import (
    PASSWORD,
    accept_cgu,
    count,
    enter,
    location,
    make_account,
    page_text,
    portal_login,
    set_dates,
    token_sent_to,
    utc,
)

from backoffice.extensions import db
from backoffice.models import AuditEntry, NewsletterSubscription, OutboxMessage, PartnerAccount
from backoffice.services import accounts as account_service
from backoffice.services.tokens import INVALID_LINK
from config import ProductionConfig

BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."
THROTTLED = "Trop de tentatives de connexion. Réessayez dans quelques instants."
INACTIVE = "Ce compte est inactif. Contactez votre gestionnaire ou votre organisme."
RESET_SENT = (
    "Si cet identifiant correspond à un compte actif, un e-mail contenant un lien « Créer mon mot "
    "de passe » vient de lui être envoyé."
)
NEW_PASSWORD = "Le printemps reviendra en 2027"
CARD_PAGES = (
    "/organisme",
    "/organisme/avertissement",
    "/cgu",
    "/",
    "/comptes",
    "/comptes/nouveau",
    "/demandes",
    "/demandes/nouvelle",
)


def logged_in(client) -> bool:
    """Whether the client holds a live partner session (the caisse list is reachable)."""
    return client.get("/organisme").status_code == 200


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def client_with(app, cookie_value: str):
    other = app.test_client()
    other.set_cookie("session", cookie_value)
    return other


# --- the login page ------------------------------------------------------------------------------


def test_login_page_labels(client):
    page = client.get("/connexion")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert re.search(r'<label for="login">Identifiant</label>', body)
    assert re.search(r'<label for="password">Mot de passe</label>', body)
    assert re.search(r'<button type="submit"[^>]*>Se connecter</button>', body)
    assert re.search(r'<a href="/mot-de-passe-oublie">Mot de passe oublié \?</a>', body)
    assert '<html lang="fr">' in body


def test_wrong_password_and_unknown_login_get_the_same_french_message_and_are_audited(client, tech):
    r = portal_login(client, "v.chausson", "Pas le bon mot de passe")
    assert r.status_code == 200 and BAD_CREDENTIALS in page_text(r)
    r2 = portal_login(client, "personne.inconnue", "Pas le bon mot de passe")
    assert r2.status_code == 200 and BAD_CREDENTIALS in page_text(r2)
    assert not logged_in(client)

    assert location(portal_login(client, "V.Chausson ")) == "/organisme"  # case and spaces forgiven
    failures = db.session.query(AuditEntry).filter_by(action="login.failure").order_by(AuditEntry.id).all()
    assert [(f.target_id, f.details.get("reason"), f.details.get("login")) for f in failures] == [
        (tech.id, "password", None),
        (None, "unknown", "personne.inconnue"),
    ]
    assert failures[0].actor_label == "v.chausson"
    success = db.session.query(AuditEntry).filter_by(action="login.success").one()
    assert (success.actor_type, success.actor_label, success.target_id) == ("partner", "v.chausson", tech.id)
    assert success.ip == "127.0.0.1"


def test_failures_delay_the_next_attempt_progressively_and_never_lock_the_account(app, client, tech):
    """After 5 failures of one login from one address, each attempt waits 1, 2, 4 … s after the last
    failure (to the second); the message names no account, the typed login is kept, and the same
    login from another address is not held up."""
    with time_machine.travel(utc(2027, 2, 1, 9, 0), tick=False) as traveller:
        for _ in range(4):
            assert BAD_CREDENTIALS in page_text(portal_login(client, "v.chausson", "mauvais mot de passe"))
        # four failures are free, and a success resets the count
        assert location(portal_login(client, "v.chausson")) == "/organisme"
        client.post_form("/deconnexion")
        for _ in range(5):
            assert BAD_CREDENTIALS in page_text(portal_login(client, "v.chausson", "mauvais mot de passe"))

        r = portal_login(client, "v.chausson")  # the right password, too soon
        assert r.status_code == 200 and THROTTLED in page_text(r) and BAD_CREDENTIALS not in page_text(r)
        assert 'value="v.chausson"' in r.get_data(as_text=True)
        assert not logged_in(client)
        elsewhere = app.test_client()
        r = elsewhere.post_form(
            "/connexion", {"login": "v.chausson", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "198.51.100.9"}
        )
        assert location(r) == "/organisme"

        traveller.move_to(utc(2027, 2, 1, 9, 0, 1))  # one second after the 5th failure
        assert BAD_CREDENTIALS in page_text(portal_login(client, "v.chausson", "mauvais mot de passe"))  # 6th
        traveller.move_to(utc(2027, 2, 1, 9, 0, 2))  # the 6th asks for 2 s: one second short
        assert THROTTLED in page_text(portal_login(client, "v.chausson"))
        traveller.move_to(utc(2027, 2, 1, 9, 0, 3))
        assert location(portal_login(client, "v.chausson")) == "/organisme"
        assert logged_in(client)
    assert count(AuditEntry, AuditEntry.action == "login.throttled") == 2


def test_an_inactive_account_cannot_log_in(client, gironde):
    make_account(gironde["structure"], "t.parti", first_name="Paul", active=False)
    r = portal_login(client, "t.parti")
    assert r.status_code == 200 and INACTIVE in page_text(r)
    assert not logged_in(client)
    row = db.session.query(AuditEntry).filter_by(action="login.failure").one()
    assert row.details["reason"] == "inactive"


# --- forgotten password and set-password links ---------------------------------------------------


def test_forgot_password_answers_the_same_and_mails_only_an_existing_active_account(client, gironde, tech):
    make_account(gironde["structure"], "t.parti", first_name="Paul", active=False)
    answers = []
    for login in ("v.chausson", "personne.inconnue", "t.parti"):
        r = client.post_form("/mot-de-passe-oublie", {"login": login})
        page = client.get(location(r))
        answers.append((r.status_code, location(r), page_text(page)))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][1] == "/connexion" and RESET_SENT in answers[0][2]

    mails = db.session.query(OutboxMessage).all()
    assert [m.recipient for m in mails] == ["v.chausson@example.fr"]
    assert "v.chausson" in mails[0].body_text and "Créer mon mot de passe" in mails[0].body_text
    token = token_sent_to("v.chausson@example.fr")

    # the link shows the form (a GET uses nothing), then sets the password once
    page = client.get(f"/mot-de-passe/{token}")
    assert page.status_code == 200 and "v.chausson" in page_text(page)
    assert client.get(f"/mot-de-passe/{token}").status_code == 200
    r = client.post_form(f"/mot-de-passe/{token}", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert r.status_code == 200 and "Votre mot de passe est enregistré" in page_text(r)
    again = client.post_form(
        f"/mot-de-passe/{token}",
        {"password": "Encore un autre essai 2027", "confirmation": "Encore un autre essai 2027"},
    )
    assert again.status_code == 410 and INVALID_LINK in page_text(again)
    assert client.get(f"/mot-de-passe/{token}").status_code == 410

    assert BAD_CREDENTIALS in page_text(portal_login(client, "v.chausson", PASSWORD))
    assert location(portal_login(client, "v.chausson", NEW_PASSWORD)) == "/organisme"


def test_a_newer_reset_link_replaces_the_older_one(client, tech):
    client.post_form("/mot-de-passe-oublie", {"login": "v.chausson"})
    first = token_sent_to("v.chausson@example.fr")
    client.post_form("/mot-de-passe-oublie", {"login": "v.chausson"})
    second = token_sent_to("v.chausson@example.fr")
    assert client.get(f"/mot-de-passe/{first}").status_code == 410
    r = client.post_form(f"/mot-de-passe/{first}", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert r.status_code == 410
    assert location(portal_login(client, "v.chausson", PASSWORD)) == "/organisme"  # unchanged
    client.post_form("/deconnexion")
    r = client.post_form(f"/mot-de-passe/{second}", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert r.status_code == 200


def test_a_reset_link_expires_after_72_hours_to_the_second(client, app, tech):
    assert app.config["PASSWORD_TOKEN_HOURS"] == 72
    with time_machine.travel(utc(2027, 2, 1, 9, 0), tick=False) as traveller:
        client.post_form("/mot-de-passe-oublie", {"login": "v.chausson"})
        token = token_sent_to("v.chausson@example.fr")
        traveller.move_to(utc(2027, 2, 4, 8, 59, 59))
        assert client.get(f"/mot-de-passe/{token}").status_code == 200
        traveller.move_to(utc(2027, 2, 4, 9, 0, 0))
        r = client.get(f"/mot-de-passe/{token}")
        assert r.status_code == 410 and INVALID_LINK in page_text(r)
        r = client.post_form(f"/mot-de-passe/{token}", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
        assert r.status_code == 410
        assert location(portal_login(client, "v.chausson", PASSWORD)) == "/organisme"


# --- R-ACC-4: password expiry --------------------------------------------------------------------


def test_an_expired_password_must_be_changed_and_the_change_keeps_this_session(app, client, gironde):
    days = app.config["PASSWORD_MAX_AGE_DAYS"]
    changed = utc(2027, 1, 15, 10, 0)
    set_dates(gironde["convention"], date(2026, 1, 1), date(2030, 12, 31))
    with time_machine.travel(changed, tick=False) as traveller:
        account = make_account(gironde["structure"], "t.expire", first_name="Eva")
        traveller.move_to(changed + timedelta(days=days) - timedelta(seconds=1))
        enter(client, account, gironde["caisse"])
        assert client.get("/demandes").status_code == 200
        assert client.get("/organisme").status_code == 200

        # two seconds later, the same session: every page leads to the change form
        traveller.move_to(changed + timedelta(days=days) + timedelta(seconds=1))
        for url in CARD_PAGES:
            assert location(client.get(url)) == "/mot-de-passe/changer", url
        assert location(client.post_form("/newsletter", {"subscribed": "y"})) == "/mot-de-passe/changer"
        # a fresh login also lands there
        client.post_form("/deconnexion")
        assert location(portal_login(client, "t.expire")) == "/organisme"
        assert location(client.get("/organisme")) == "/mot-de-passe/changer"
        page = client.get("/mot-de-passe/changer")
        assert page.status_code == 200
        assert "Votre mot de passe a expiré" in page_text(page)

        other = app.test_client()  # another browser of the same account
        assert location(portal_login(other, "t.expire")) == "/organisme"

        r = client.post_form(
            "/mot-de-passe/changer", {"current": "pas le bon", "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD}
        )
        assert r.status_code == 200 and "Le mot de passe actuel est incorrect." in page_text(r)
        r = client.post_form(
            "/mot-de-passe/changer", {"current": PASSWORD, "password": PASSWORD, "confirmation": PASSWORD}
        )
        assert r.status_code == 200 and "Le nouveau mot de passe doit être différent de l'actuel." in page_text(r)
        r = client.post_form(
            "/mot-de-passe/changer", {"current": PASSWORD, "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD}
        )
        assert location(r) == "/"
        # this session goes on; the other browser's session has ended
        assert client.get("/organisme").status_code == 200
        assert location(client.post_form("/organisme", {"caisse_id": gironde["caisse"].id})) == "/"
        assert client.get("/demandes").status_code == 200
        assert location(other.get("/organisme")).startswith("/connexion")
        assert count(AuditEntry, AuditEntry.action == "password.change") == 1

        client.post_form("/deconnexion")
        assert BAD_CREDENTIALS in page_text(portal_login(client, "t.expire", PASSWORD))
        assert location(portal_login(client, "t.expire", NEW_PASSWORD)) == "/organisme"
        assert client.get("/organisme").status_code == 200


# --- R-ACC-5: CGU --------------------------------------------------------------------------------


def test_cgu_at_first_login_with_the_newsletter_opt_in(client, gironde):
    manager = gironde["manager"]
    assert manager.cgu_accepted_at is None
    assert location(portal_login(client, manager.login)) == "/organisme"
    for url in ("/organisme", "/", "/comptes", "/demandes"):
        assert location(client.get(url)) == "/cgu", url
    page = client.get("/cgu")
    assert "Je souhaite recevoir la newsletter par e-mail" in page_text(page)

    r = client.post_form("/cgu", {"newsletter": "y"})
    assert r.status_code == 200
    assert "Vous devez accepter les conditions générales d'utilisation pour continuer." in page_text(r)
    assert count(NewsletterSubscription) == 0
    assert db.session.get(PartnerAccount, manager.id).cgu_accepted_at is None

    r = client.post_form("/cgu", {"accept": "y", "newsletter": "y"})
    assert location(r) == "/organisme"
    assert count(NewsletterSubscription, NewsletterSubscription.account_id == manager.id) == 1
    assert db.session.get(PartnerAccount, manager.id).cgu_accepted_at is not None
    audit = db.session.query(AuditEntry).filter_by(action="cgu.accept").one()
    assert audit.target_id == manager.id and audit.details == {"newsletter": True}
    assert client.get("/organisme").status_code == 200

    # asked once: the next login goes straight to the caisse list
    client.post_form("/deconnexion")
    portal_login(client, manager.login)
    assert client.get("/organisme").status_code == 200


def test_cgu_without_the_newsletter_subscribes_nobody(client, gironde):
    tech = make_account(gironde["structure"], "t.discret", first_name="Anne", cgu=False)
    portal_login(client, tech.login)
    assert location(client.get("/organisme")) == "/cgu"
    assert location(client.post_form("/cgu", {"accept": "y"})) == "/organisme"
    assert count(NewsletterSubscription) == 0


# --- sessions ------------------------------------------------------------------------------------


def test_a_saved_session_cookie_stops_working_after_inactivation(app, client, gironde, tech):
    make_account(gironde["structure"], "t.collegue", first_name="Anne")  # not the last technician
    enter(client, tech, gironde["caisse"])
    assert client.get("/demandes").status_code == 200
    saved = session_cookie(client)
    assert client_with(app, saved).get("/demandes").status_code == 200

    account_service.inactivate_account(tech, gironde["manager"], gironde["caisse"].id)
    replay = client_with(app, saved)
    assert location(replay.get("/demandes")).startswith("/connexion")
    assert location(replay.get("/organisme")).startswith("/connexion")
    assert location(client.get("/demandes")).startswith("/connexion")
    assert location(client_with(app, saved).post_form("/newsletter", {"subscribed": "y"})).startswith("/connexion")


def test_a_password_change_in_another_session_ends_this_one(app, client, gironde, tech):
    enter(client, tech, gironde["caisse"])
    saved = session_cookie(client)
    other = app.test_client()
    enter(other, tech, gironde["caisse"])
    r = other.post_form(
        "/mot-de-passe/changer", {"current": PASSWORD, "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD}
    )
    assert location(r) == "/"
    assert location(client.get("/demandes")).startswith("/connexion")
    assert location(client_with(app, saved).get("/demandes")).startswith("/connexion")
    assert other.get("/demandes").status_code == 200


def test_a_password_set_through_a_link_ends_the_open_sessions(app, client, tech):
    portal_login(client, tech.login)
    saved = session_cookie(client)
    account_service.request_password_reset(tech.login)
    token = token_sent_to(tech.email)
    stranger = app.test_client()
    r = stranger.post_form(f"/mot-de-passe/{token}", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert r.status_code == 200
    assert location(client_with(app, saved).get("/organisme")).startswith("/connexion")


def test_a_saved_session_cookie_does_not_survive_a_reactivation(app, client, gironde, tech):
    make_account(gironde["structure"], "t.collegue", first_name="Anne")
    manager = gironde["manager"]

    # inactivated then reactivated through the service
    enter(client, tech, gironde["caisse"])
    saved = session_cookie(client)
    account_service.inactivate_account(tech, manager, gironde["caisse"].id)
    account_service.reactivate_account(tech, "Retour de congé", manager, gironde["caisse"].id)
    assert location(client_with(app, saved).get("/demandes")).startswith("/connexion")

    # a session opened while active, the flag switched off without rotation (as a raw data fix
    # would): refused while inactive, and the reactivation rotates the identifier anyway
    tech = db.session.get(PartnerAccount, tech.id)
    account_service.request_password_reset(tech.login)  # the reactivation cleared the password
    token = token_sent_to(tech.email)
    fresh = app.test_client()
    fresh.post_form(f"/mot-de-passe/{token}", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    enter(fresh, tech, gironde["caisse"], password=NEW_PASSWORD)
    saved = session_cookie(fresh)
    tech = db.session.get(PartnerAccount, tech.id)
    tech.active = False
    db.session.commit()
    assert location(client_with(app, saved).get("/demandes")).startswith("/connexion")
    account_service.reactivate_account(tech, "Erreur de saisie", manager, gironde["caisse"].id)
    assert db.session.get(PartnerAccount, tech.id).active
    assert location(client_with(app, saved).get("/demandes")).startswith("/connexion")


def test_idle_timeout_is_thirty_minutes(client, gironde):
    manager = gironde["manager"]
    accept_cgu(manager)
    with time_machine.travel(utc(2027, 2, 1, 9, 0), tick=False) as traveller:
        enter(client, manager, gironde["caisse"])
        traveller.shift(timedelta(minutes=29))
        assert client.get("/comptes").status_code == 200
        traveller.shift(timedelta(minutes=29))  # 58 minutes after login, 29 after the last request
        assert client.get("/comptes").status_code == 200
        traveller.shift(timedelta(minutes=31))
        r = client.get("/comptes")
        assert location(r).startswith("/connexion")
        assert location(client.get("/organisme")).startswith("/connexion")


def test_idle_timeout_right_after_login(app, client, gironde):
    manager = gironde["manager"]
    accept_cgu(manager)
    with time_machine.travel(utc(2027, 2, 1, 9, 0), tick=False) as traveller:
        portal_login(client, manager.login)
        saved = session_cookie(client)
        traveller.shift(timedelta(minutes=31))
        assert location(client_with(app, saved).get("/organisme")).startswith("/connexion")
        assert location(client.get("/organisme")).startswith("/connexion")


def test_session_cookie_is_httponly_and_samesite_lax(app, client, gironde, monkeypatch):
    accept_cgu(gironde["manager"])
    r = portal_login(client, gironde["manager"].login)
    cookies = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1
    attributes = [a.strip().lower() for a in cookies[0].split(";")]
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert any(a.startswith("expires=") for a in attributes)  # a permanent session: the idle timeout
    assert "secure" not in attributes  # the test server speaks plain HTTP

    # production sets Secure (unless told otherwise for a plain-HTTP demo)
    assert ProductionConfig.SESSION_COOKIE_SECURE is True or "SESSION_COOKIE_SECURE" in os.environ
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    client.post_form("/deconnexion")
    r = portal_login(client, gironde["manager"].login)
    cookie = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("session=")][0]
    assert "secure" in [a.strip().lower() for a in cookie.split(";")]


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example",
        "https://evil.example/comptes",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
    ],
)
def test_next_only_leads_to_this_site(client, gironde, target):
    accept_cgu(gironde["manager"])
    assert location(portal_login(client, gironde["manager"].login, next_url=target)) == "/organisme"


def test_a_local_next_is_followed(client, gironde):
    accept_cgu(gironde["manager"])
    r = client.get("/comptes")
    assert location(r) == "/connexion?next=/comptes"
    assert location(portal_login(client, gironde["manager"].login, next_url="/comptes")) == "/comptes"


def test_logout_is_post_only(client, gironde):
    accept_cgu(gironde["manager"])
    enter(client, gironde["manager"], gironde["caisse"])
    r = client.get("/deconnexion")
    assert r.status_code == 405
    assert client.get("/comptes").status_code == 200  # still logged in
    r = client.post_form("/deconnexion")
    assert location(r) == "/connexion"
    assert "Vous êtes déconnecté(e) d'Espace Partenaires." in page_text(client.get("/connexion"))
    assert location(client.get("/comptes")).startswith("/connexion")


# --- the two sides do not mix --------------------------------------------------------------------


def test_a_back_office_session_gives_no_portal_access(client, login, gironde):
    login("agent.gironde")
    assert client.get("/admin/").status_code == 200
    for url in ("/organisme", "/", "/comptes", "/demandes", "/cgu", "/mot-de-passe/changer"):
        assert location(client.get(url)).startswith("/connexion"), url
    page = client.get("/connexion")
    assert page.status_code == 200 and "Se connecter" in page_text(page)


def test_a_partner_session_gets_403_in_the_back_office(client, gironde, tech):
    enter(client, tech, gironde["caisse"])
    for url in ("/admin/", "/admin/structures/", "/admin/managers/", "/admin/audit/"):
        assert client.get(url).status_code == 403, url
    assert client.get("/demandes").status_code == 200
