"""Issue 11 §3: sessions end on the server. Logout revokes that session (a copied cookie is refused
afterwards, the user's other sessions go on); idle timeout and absolute lifetime are checked on the
server, to the second; password change and reset, inactivation and reactivation end every session
of the account; the state is in the database, so two app servers on one database agree."""

import hashlib
from datetime import timedelta

import pytest
import time_machine
from helpers import PASSWORD, CsrfClient, accept_cgu, enter, location, make_account, portal_login, utc
from sqlalchemy import select

from backoffice import create_app
from backoffice.extensions import db
from backoffice.models import PartnerAccount, UserSession
from backoffice.services import accounts as account_service
from backoffice.services import caisses as caisse_service
from backoffice.services import housekeeping, sessions, tokens
from config import TestConfig

NEW_PASSWORD = "Le printemps reviendra en 2027"
START = utc(2027, 3, 1, 8, 0)


def cookie_of(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def browser_with(app, cookie_value: str):
    """Another browser holding a copy of a session cookie (no expiry: only the server decides)."""
    other = app.test_client()
    other.set_cookie("session", cookie_value)
    return other


def bo_login(client, username: str, password: str = PASSWORD):
    response = client.post_form("/admin/connexion", {"username": username, "password": password})
    assert location(response) == "/admin/arrivee/", response.get_data(as_text=True)[:500]
    return response


def portal_in(client) -> bool:
    return client.get("/organisme").status_code == 200


def bo_in(client) -> bool:
    return client.get("/admin/requests/").status_code == 200


def rows_of(account) -> list[UserSession]:
    column = UserSession.partner_account_id if isinstance(account, PartnerAccount) else UserSession.agent_id
    return list(db.session.scalars(select(UserSession).where(column == account.id).order_by(UserSession.id)))


# --- logout ----------------------------------------------------------------------------------------


def test_a_portal_cookie_copied_before_logout_is_refused_after_it(app, client, gironde, tech):
    enter(client, tech, gironde["caisse"])
    saved = cookie_of(client)
    assert browser_with(app, saved).get("/demandes").status_code == 200  # the copy works before
    assert location(client.post_form("/deconnexion")) == "/connexion"
    for url in ("/organisme", "/demandes", "/comptes", "/"):
        assert location(browser_with(app, saved).get(url)).startswith("/connexion"), url
    # a state change with the copy is refused too (its CSRF token is valid: the session is not)
    replay = browser_with(app, saved)
    assert location(replay.post_form("/newsletter", {"subscribed": "y"})).startswith("/connexion")
    assert [r.revoked_at is not None for r in rows_of(tech)] == [True]


def test_a_back_office_cookie_copied_before_logout_is_refused_after_it(app, client, gironde):
    bo_login(client, "agent.gironde")
    assert bo_in(client)
    saved = cookie_of(client)
    assert location(client.post_form("/admin/deconnexion")) == "/admin/connexion"
    for url in ("/admin/requests/", "/admin/"):
        response = browser_with(app, saved).get(url)
        assert location(response).startswith("/admin/connexion"), url


def test_logout_ends_that_session_only(app, client, gironde, tech):
    enter(client, tech, gironde["caisse"])
    other = app.test_client()  # the same account in another browser
    enter(other, tech, gironde["caisse"])
    client.post_form("/deconnexion")
    assert not portal_in(client)
    assert other.get("/demandes").status_code == 200
    assert [r.revoked_at is None for r in rows_of(tech)] == [False, True]

    bo_login(client, "agent.gironde")
    second = app.test_client()
    bo_login(second, "agent.gironde")
    second.post_form("/admin/deconnexion")
    assert not bo_in(second)
    assert bo_in(client)


def test_logging_out_twice_or_with_a_dead_cookie_is_harmless(app, client, gironde, tech):
    portal_login(client, tech.login)
    saved = cookie_of(client)
    client.post_form("/deconnexion")
    replay = browser_with(app, saved)
    assert location(replay.post_form("/deconnexion")) == "/connexion"
    assert location(client.post_form("/deconnexion")) == "/connexion"


def test_the_database_holds_the_key_hash_only_and_a_cookie_without_a_live_key_is_refused(app, client, gironde, tech):
    portal_login(client, tech.login)
    data = app.session_interface.get_signing_serializer(app).loads(cookie_of(client))
    raw = data[sessions.SESSION_KEY]
    (row,) = rows_of(tech)
    assert row.key_hash == hashlib.sha256(raw.encode()).hexdigest() and raw not in row.key_hash
    # A cookie that names the account without a key (or with a made-up one) is no session: what a
    # signed cookie alone used to be enough for.
    for forged in ({}, {sessions.SESSION_KEY: "made-up"}):
        stranger = app.test_client()
        with stranger.session_transaction() as cookie_session:
            cookie_session.update({"_user_id": tech.get_id(), "_fresh": True, **forged})
        assert location(stranger.get("/organisme")).startswith("/connexion")


# --- two app servers on one database ---------------------------------------------------------------


@pytest.fixture
def server_b(app):
    class B(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]

    other = create_app(B)
    other.test_client_class = CsrfClient
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_logout_on_server_b_ends_the_session_on_server_a(app, server_b, gironde, tech):
    on_a = app.test_client()
    enter(on_a, tech, gironde["caisse"])
    saved = cookie_of(on_a)
    colleague_on_a = app.test_client()  # another session of the same account, on A
    enter(colleague_on_a, tech, gironde["caisse"])
    on_b = browser_with(server_b, saved)  # the load balancer sends the same browser to B
    assert on_b.get("/demandes").status_code == 200
    assert location(on_b.post_form("/deconnexion")) == "/connexion"
    # replayed on A: refused; the other session goes on, on A and on B
    assert location(browser_with(app, saved).get("/organisme")).startswith("/connexion")
    assert location(on_a.get("/demandes")).startswith("/connexion")
    assert colleague_on_a.get("/demandes").status_code == 200
    assert browser_with(server_b, cookie_of(colleague_on_a)).get("/demandes").status_code == 200
    print("\nsessions: logout on server B, replay on server A refused; the other session alive on A and B")


def test_an_inactivation_on_server_a_ends_the_sessions_on_server_b(app, server_b, gironde, tech):
    make_account(gironde["structure"], "t.collegue", first_name="Anne")  # not the last technician
    on_b = server_b.test_client()
    enter(on_b, tech, gironde["caisse"])
    assert on_b.get("/demandes").status_code == 200
    account_service.inactivate_account(tech, gironde["manager"], gironde["caisse"].id)
    assert location(on_b.get("/demandes")).startswith("/connexion")


# --- idle timeout and absolute lifetime, on the server -------------------------------------------


def test_idle_timeout_to_the_second(app, client, gironde, tech):
    assert app.config["SESSION_IDLE_MINUTES"] == 30
    with time_machine.travel(START, tick=False) as traveller:
        enter(client, tech, gironde["caisse"])
        late = app.test_client()
        enter(late, tech, gironde["caisse"])
        traveller.shift(timedelta(minutes=30) - timedelta(seconds=1))
        assert client.get("/demandes").status_code == 200  # 29 min 59 s idle
        traveller.shift(timedelta(minutes=30) - timedelta(seconds=1))  # 29 min 59 s after that request
        assert client.get("/demandes").status_code == 200  # it counted as activity
        traveller.shift(timedelta(minutes=30))  # exactly 30 min idle: over
        assert location(client.get("/demandes")).startswith("/connexion")
        traveller.move_to(START + timedelta(minutes=30, seconds=1))
        copy = browser_with(app, cookie_of(late))  # no cookie expiry involved
        assert location(copy.get("/demandes")).startswith("/connexion")  # 30 min 1 s idle
        assert location(late.get("/organisme")).startswith("/connexion")


def test_the_idle_timeout_is_the_servers_not_the_cookies(app, client, gironde, tech, monkeypatch):
    """With a shorter SESSION_IDLE_MINUTES than the cookie's lifetime, the server refuses first."""
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 10)
    with time_machine.travel(START, tick=False) as traveller:
        enter(client, tech, gironde["caisse"])
        traveller.shift(timedelta(minutes=10) - timedelta(seconds=1))
        assert client.get("/demandes").status_code == 200
        traveller.shift(timedelta(minutes=10) + timedelta(seconds=1))
        assert location(client.get("/demandes")).startswith("/connexion")


def test_absolute_lifetime_to_the_second_however_active(app, client, gironde, tech):
    assert app.config["SESSION_ABSOLUTE_HOURS"] == 12
    end = START + timedelta(hours=12)
    with time_machine.travel(START, tick=False) as traveller:
        enter(client, tech, gironde["caisse"])
        moment = START
        while moment + timedelta(minutes=20) < end:
            moment += timedelta(minutes=20)
            traveller.move_to(moment)
            assert client.get("/demandes").status_code == 200, moment
        traveller.move_to(end - timedelta(seconds=1))
        assert client.get("/demandes").status_code == 200
        traveller.move_to(end + timedelta(seconds=1))  # active a second ago, but 12 h old
        assert location(client.get("/demandes")).startswith("/connexion")
        # a new login opens a new session
        assert location(portal_login(client, tech.login)) == "/organisme"
        assert portal_in(client)


def test_absolute_lifetime_applies_to_the_back_office(app, client, gironde, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_ABSOLUTE_HOURS", 1)
    with time_machine.travel(START, tick=False) as traveller:
        bo_login(client, "agent.gironde")
        for minutes in (20, 40, 59):
            traveller.move_to(START + timedelta(minutes=minutes))
            assert bo_in(client)
        traveller.move_to(START + timedelta(hours=1, seconds=-1))
        assert bo_in(client)
        traveller.move_to(START + timedelta(hours=1, seconds=1))
        assert location(client.get("/admin/requests/")).startswith("/admin/connexion")


# --- activity is written at most once a minute: a page costs no statement ------------------------


def test_last_activity_is_written_at_most_once_a_minute(app, client, gironde, tech, count_queries):
    with time_machine.travel(START, tick=False) as traveller:
        enter(client, tech, gironde["caisse"])
        client.get("/demandes")
        with count_queries() as base:
            assert client.get("/demandes").status_code == 200
        traveller.shift(timedelta(seconds=59))
        with count_queries() as within:
            assert client.get("/demandes").status_code == 200
        traveller.shift(timedelta(seconds=2))
        with count_queries() as touched:
            assert client.get("/demandes").status_code == 200
        with count_queries() as after:
            assert client.get("/demandes").status_code == 200
    assert len(within) == len(base) == len(after)
    extra = [s for s in touched if s not in base]
    assert len(touched) == len(base) + 1 and extra[0].lstrip().startswith("UPDATE user_session"), extra
    (row,) = rows_of(tech)
    assert row.last_seen_at == (START + timedelta(seconds=61)).replace(tzinfo=None)
    print(f"\nsessions: a portal page {len(base)} statements with the session check; +1 UPDATE at most once a minute")


# --- every session of the account ends on a password change, reset, inactivation, reactivation -----


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, client, gironde, tech):
    enter(client, tech, gironde["caisse"])
    others = [app.test_client() for _ in range(2)]
    for other in others:
        enter(other, tech, gironde["caisse"])
    saved = cookie_of(client)
    r = client.post_form(
        "/mot-de-passe/changer", {"current": PASSWORD, "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD}
    )
    assert location(r) == "/"
    assert client.get("/demandes").status_code == 200  # this browser goes on, in a new session
    for other in others:
        assert location(other.get("/demandes")).startswith("/connexion")
    assert location(browser_with(app, saved).get("/demandes")).startswith("/connexion")  # the old cookie
    rows = rows_of(tech)
    assert [r.revoked_at is None for r in rows] == [False, False, False, True]


def test_a_reset_link_ends_every_session(app, client, gironde, tech):
    browsers = [app.test_client() for _ in range(2)]
    for browser in browsers:
        enter(browser, tech, gironde["caisse"])
    with app.test_request_context():
        token = tokens.issue(tech, "reset")
    db.session.commit()
    r = client.post_form(f"/mot-de-passe/{token}", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert r.status_code == 200
    for browser in browsers:
        assert location(browser.get("/organisme")).startswith("/connexion")
    assert all(r.revoked_at is not None for r in rows_of(tech))


def test_setting_a_password_in_a_browser_ends_the_session_another_account_had_there(app, client, gironde, tech):
    """The set-password page logs out whoever used that browser: a copy of their cookie dies too."""
    enter(client, gironde["manager"], gironde["caisse"])
    saved = cookie_of(client)
    with app.test_request_context():
        token = tokens.issue(tech, "reset")
    db.session.commit()
    r = client.post_form(f"/mot-de-passe/{token}", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert r.status_code == 200
    assert location(browser_with(app, saved).get("/organisme")).startswith("/connexion")
    assert [row.revoked_at is not None for row in rows_of(gironde["manager"])] == [True]


def test_inactivation_and_reactivation_end_every_session(app, gironde, tech):
    make_account(gironde["structure"], "t.collegue", first_name="Anne")
    browsers = [app.test_client() for _ in range(2)]
    for browser in browsers:
        enter(browser, tech, gironde["caisse"])
    account_service.inactivate_account(tech, gironde["manager"], gironde["caisse"].id)
    assert all(r.revoked_at is not None for r in rows_of(tech))
    for browser in browsers:
        assert location(browser.get("/demandes")).startswith("/connexion")

    # a session opened, then the flag switched off without the service (a raw data fix): refused
    # while inactive, and the reactivation ends it anyway
    tech = db.session.get(PartnerAccount, tech.id)
    tech.active = True
    db.session.commit()
    browser = app.test_client()
    enter(browser, tech, gironde["caisse"])
    tech.active = False
    db.session.commit()
    assert location(browser.get("/demandes")).startswith("/connexion")
    account_service.reactivate_account(tech, "Retour de congé", gironde["manager"], gironde["caisse"].id)
    assert all(r.revoked_at is not None for r in rows_of(tech))


def test_an_agents_inactivation_and_reactivation_end_its_sessions(app, client, gironde):
    agent = gironde["agent"]
    bo_login(client, "agent.gironde")
    caisse_service.set_agent_active(agent, False, gironde["admin"])
    assert location(client.get("/admin/requests/")).startswith("/admin/connexion")
    caisse_service.set_agent_active(agent, True, gironde["admin"])
    assert location(client.get("/admin/requests/")).startswith("/admin/connexion")  # still ended
    assert all(r.revoked_at is not None for r in rows_of(agent))
    bo_login(client, "agent.gironde")
    assert bo_in(client)


# --- housekeeping ----------------------------------------------------------------------------------


def test_housekeeping_deletes_ended_sessions_a_day_later(app, gironde, tech):
    accept_cgu(gironde["manager"])
    with time_machine.travel(START, tick=False) as traveller:
        revoked, idle, live = (app.test_client() for _ in range(3))
        portal_login(revoked, tech.login)
        portal_login(idle, gironde["manager"].login)
        revoked.post_form("/deconnexion")
        assert sessions.purge_ended() == 0
        # revoked at START: kept until START + 1 day; idle since START: until START + 30 min + 1 day
        traveller.move_to(START + timedelta(days=1) - timedelta(seconds=1))
        assert sessions.purge_ended() == 0
        traveller.move_to(START + timedelta(days=1, seconds=1))
        assert housekeeping.run()["purged_sessions"] == 1
        traveller.move_to(START + timedelta(days=1, minutes=30, seconds=-1))
        assert sessions.purge_ended() == 0
        portal_login(live, tech.login)
        traveller.move_to(START + timedelta(days=1, minutes=30, seconds=1))
        assert sessions.purge_ended() == 1
        assert live.get("/organisme").status_code == 200
    assert [r.revoked_at for r in db.session.scalars(select(UserSession))] == [None]


def test_an_accounts_sessions_go_with_it(app, client, gironde, tech):
    """The foreign key cascades: a deleted account (R-LIFE-2) leaves no session row."""
    portal_login(client, tech.login)
    assert len(rows_of(tech)) == 1
    db.session.delete(db.session.get(PartnerAccount, tech.id))
    db.session.commit()
    assert db.session.scalars(select(UserSession)).all() == []
