"""Issue 11 §4: login throttling by (login as typed, client address) with progressive delays, plus a
limit per address, instead of an account lock; the same answer, statements and argon2 work for an
unknown login as for a wrong password; TRUSTED_PROXIES decides whether X-Forwarded-For is read."""

from datetime import timedelta

import pytest
import time_machine
from argon2 import PasswordHasher
from helpers import PASSWORD, CsrfClient, location, page_text, utc
from sqlalchemy import select

from backoffice import create_app
from backoffice.extensions import db
from backoffice.models import AuditEntry, LoginThrottle
from backoffice.services import housekeeping, throttle
from backoffice.services.auth import BAD_CREDENTIALS, THROTTLED, authenticate_agent, authenticate_partner
from backoffice.services.errors import DomainError
from backoffice.services.passwords import needs_rehash
from config import TestConfig

START = utc(2027, 4, 1, 7, 0)
HOME = "192.0.2.10"  # the real user's address
OUTSIDE = "203.0.113.66"  # an attacker's


def attempt(login: str, password: str, address: str, partner: bool = False) -> str:
    """'ok', or the refusal's message."""
    try:
        (authenticate_partner if partner else authenticate_agent)(login, password, address)
    except DomainError as exc:
        db.session.rollback()
        return exc.message
    return "ok"


def fail(login: str, address: str, times: int = 1, partner: bool = False) -> None:
    for _ in range(times):
        assert attempt(login, "mauvais mot de passe", address, partner) == BAD_CREDENTIALS


def test_delays_double_from_one_second_up_to_the_cap_to_the_second(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_THROTTLE_MAX_SECONDS", 16)
    assert app.config["LOGIN_THROTTLE_FREE_FAILURES"] == 5 and app.config["LOGIN_THROTTLE_BASE_SECONDS"] == 1
    waits = []
    with time_machine.travel(START, tick=False) as traveller:
        fail("admin.gironde", OUTSIDE, 5)
        moment = START
        for expected in (1, 2, 4, 8, 16, 16, 16):
            traveller.move_to(moment + timedelta(seconds=expected) - timedelta(seconds=1))
            assert attempt("admin.gironde", PASSWORD, OUTSIDE) == THROTTLED  # even the right password
            moment += timedelta(seconds=expected)
            traveller.move_to(moment)
            fail("admin.gironde", OUTSIDE)  # allowed again: a password is checked (and wrong)
            waits.append(expected)
        traveller.move_to(moment + timedelta(seconds=16))
        assert attempt("admin.gironde", PASSWORD, OUTSIDE) == "ok"
    print(f"\nthrottle: after 5 failures, waits of {waits} s (cap LOGIN_THROTTLE_MAX_SECONDS)")


def test_an_outsider_cannot_keep_the_real_user_out(app, world):
    with time_machine.travel(START, tick=False):
        fail("admin.gironde", OUTSIDE, 5)
        refused = sum(attempt("admin.gironde", "devine", OUTSIDE) == THROTTLED for _ in range(60))
        assert refused == 60  # the outsider is held back…
        assert attempt("admin.gironde", PASSWORD, HOME) == "ok"  # …the user, at once, is not
        assert attempt("m.gironde", PASSWORD, HOME, partner=True) == "ok"
    print(f"\nthrottle: 5 failures + {refused} refused attempts from another address, the user logs in at once")


def test_the_login_is_counted_as_the_account_look_up_reads_it(app, world):
    with time_machine.travel(START, tick=False):
        for typed in ("admin.gironde", " ADMIN.gironde", "Admin.Gironde ", "admin.GIRONDE", "\tadmin.gironde"):
            fail(typed, OUTSIDE)
        assert attempt("admin.gironde", PASSWORD, OUTSIDE) == THROTTLED


def test_a_count_is_forgotten_fifteen_minutes_after_the_last_failure(app, world):
    assert app.config["LOGIN_THROTTLE_RESET_MINUTES"] == 15
    with time_machine.travel(START, tick=False) as traveller:
        fail("admin.gironde", OUTSIDE, 5)
        traveller.move_to(START + timedelta(minutes=15) - timedelta(seconds=1))
        fail("admin.gironde", OUTSIDE)  # the 6th failure: 2 s to wait
        assert attempt("admin.gironde", PASSWORD, OUTSIDE) == THROTTLED
        last = START + timedelta(minutes=15) - timedelta(seconds=1)
        traveller.move_to(last + timedelta(minutes=15) + timedelta(seconds=1))
        fail("admin.gironde", OUTSIDE)  # counted from 1 again
        assert attempt("admin.gironde", PASSWORD, OUTSIDE) == "ok"


def test_a_success_clears_the_login_count_but_not_the_address_count(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_ADDRESS_MAX_FAILURES", 8)
    with time_machine.travel(START, tick=False):
        fail("agent.gironde", OUTSIDE, 4)
        assert attempt("agent.gironde", PASSWORD, OUTSIDE) == "ok"
        fail("agent.gironde", OUTSIDE, 4)  # 4 since the success: free
        # the address has 8 failures: an account of the attacker's own does not wipe them
        assert attempt("agent.oise", PASSWORD, OUTSIDE) == THROTTLED


def test_the_per_address_limit_spans_logins_and_ends_with_its_window(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_ADDRESS_MAX_FAILURES", 12)
    assert app.config["LOGIN_ADDRESS_WINDOW_MINUTES"] == 15
    with time_machine.travel(START, tick=False) as traveller:
        for n in range(12):  # twelve logins, one failure each: no (login, address) delay
            fail(f"inconnu{n}", OUTSIDE)
        assert attempt("admin.oise", PASSWORD, OUTSIDE) == THROTTLED
        assert attempt("admin.oise", PASSWORD, HOME) == "ok"  # another address is not limited
        traveller.move_to(START + timedelta(minutes=15) - timedelta(seconds=1))
        assert attempt("admin.oise", PASSWORD, OUTSIDE) == THROTTLED
        traveller.move_to(START + timedelta(minutes=15) + timedelta(seconds=1))
        assert attempt("admin.oise", PASSWORD, OUTSIDE) == "ok"


def test_unknown_login_and_wrong_password_take_the_same_path(app, world, count_queries, monkeypatch):
    """Same message, same SQL statements, one argon2 verification each with the configured cost;
    a throttled attempt verifies nothing, known login or not."""
    verifications = []
    real_verify = PasswordHasher.verify

    def counting_verify(self, hash_, password):
        verifications.append(hash_)
        return real_verify(self, hash_, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    answers, statements, hashes = {}, {}, {}
    with time_machine.travel(START, tick=False):
        for login in ("admin.gironde", "personne.inconnue"):
            verifications.clear()
            with count_queries() as sent:
                answers[login] = attempt(login, "mauvais mot de passe", OUTSIDE)
            statements[login] = [s.split("(")[0].split(" WHERE ")[0] for s in sent]
            hashes[login] = list(verifications)
        assert answers["admin.gironde"] == answers["personne.inconnue"] == BAD_CREDENTIALS
        assert statements["admin.gironde"] == statements["personne.inconnue"], statements
        assert len(hashes["admin.gironde"]) == len(hashes["personne.inconnue"]) == 1
        assert not needs_rehash(hashes["personne.inconnue"][0])  # the dummy hash has the real cost
        for login in ("admin.gironde", "personne.inconnue"):
            fail(login, HOME, 5)
            verifications.clear()
            assert attempt(login, PASSWORD, HOME) == THROTTLED
            assert verifications == []


def test_the_counters_are_shared_by_every_app_server(app, world):
    class B(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]

    server_b = create_app(B)
    try:
        with time_machine.travel(START, tick=False):
            fail("admin.gironde", OUTSIDE, 5)  # on the test app (server A)
            with server_b.app_context():
                assert attempt("admin.gironde", PASSWORD, OUTSIDE) == THROTTLED
                assert attempt("admin.gironde", PASSWORD, HOME) == "ok"
    finally:
        with server_b.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_database_keeps_no_typed_login_nor_address(app, world):
    fail("mot de passe tapé dans le champ identifiant", OUTSIDE, 2)
    rows = db.session.scalars(select(LoginThrottle)).all()
    assert len(rows) == 2
    for row in rows:
        assert len(row.key_hash) == 64 and "mot" not in row.key_hash and OUTSIDE not in row.key_hash


def test_housekeeping_deletes_counters_a_day_after_the_last_failure(app, world):
    with time_machine.travel(START, tick=False) as traveller:
        fail("admin.gironde", OUTSIDE, 3)
        traveller.move_to(START + timedelta(days=1) - timedelta(seconds=1))
        assert throttle.purge_stale() == 0
        traveller.move_to(START + timedelta(days=1) + timedelta(seconds=1))
        assert housekeeping.run()["purged_throttles"] == 2  # the (login, address) and the address
    assert db.session.scalars(select(LoginThrottle)).all() == []


# --- through the pages: the message, the kept login, the client address behind a proxy -----------


def _app(app, **settings):
    config = type(
        "Config", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], **settings}
    )
    other = create_app(config)
    other.test_client_class = CsrfClient
    return other


@pytest.fixture
def proxied(app):
    other = _app(app, TRUSTED_PROXIES=1)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def _post(client, login, password, forwarded_for=None, proxy="10.0.0.2"):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post_form(
        "/connexion", {"login": login, "password": password}, headers=headers, environ_base={"REMOTE_ADDR": proxy}
    )


def test_the_throttled_page_says_so_in_french_and_keeps_the_login(client, world):
    for _ in range(5):
        assert BAD_CREDENTIALS in page_text(_post(client, "m.gironde", "mauvais"))
    for login in ("m.gironde", "personne.inconnue"):
        if login == "personne.inconnue":
            for _ in range(5):
                _post(client, login, "mauvais")
        response = _post(client, login, PASSWORD)
        assert response.status_code == 200
        assert THROTTLED in page_text(response) and BAD_CREDENTIALS not in page_text(response)
        assert f'value="{login}"' in response.get_data(as_text=True)


def test_with_trusted_proxies_the_client_address_comes_from_x_forwarded_for(proxied, world):
    client = proxied.test_client()
    for _ in range(5):
        _post(client, "m.gironde", "mauvais", forwarded_for="203.0.113.5")
    assert THROTTLED in page_text(_post(client, "m.gironde", PASSWORD, forwarded_for="203.0.113.5"))
    # another client behind the same proxy is another address
    assert location(_post(client, "m.gironde", PASSWORD, forwarded_for="203.0.113.6")) == "/organisme"
    ips = {e.ip for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("login.%")))}
    assert ips == {"203.0.113.5", "203.0.113.6"}


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, world):
    assert client.application.config["TRUSTED_PROXIES"] == 0
    for n in range(5):  # a client making up a new address for each attempt
        _post(client, "m.gironde", "mauvais", forwarded_for=f"203.0.113.{n}")
    assert THROTTLED in page_text(_post(client, "m.gironde", PASSWORD, forwarded_for="203.0.113.99"))
    ips = {e.ip for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("login.%")))}
    assert ips == {"10.0.0.2"}


@pytest.mark.parametrize("trusted", [0, 1])
def test_the_rate_limits_see_the_forwarded_address_only_from_a_trusted_proxy(app, world, trusted):
    limited = _app(app, TRUSTED_PROXIES=trusted, RATE_LIMITS_ENABLED=True, WTF_CSRF_ENABLED=False)
    try:
        client = limited.test_client()

        def post(forwarded_for):
            return client.post(
                "/mot-de-passe-oublie",
                data={"login": "x"},
                headers={"X-Forwarded-For": forwarded_for},
                environ_base={"REMOTE_ADDR": "10.0.0.2"},
            ).status_code

        assert [post("203.0.113.5") for _ in range(6)] == [302] * 5 + [429]
        assert post("203.0.113.6") == (302 if trusted else 429)
    finally:
        with limited.app_context():
            db.session.remove()
            db.engine.dispose()
