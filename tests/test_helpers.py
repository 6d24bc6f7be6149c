"""The test client's CSRF token: fetched once per session secret, fetched again when a login or a
logout gives the session a new one (tests/helpers.CsrfClient)."""

from datetime import timedelta, timezone

import time_machine
from helpers import PASSWORD

from backoffice.clock import now


def _login_page_fetches(client, monkeypatch) -> list[str]:
    fetched: list[str] = []
    original = type(client).get

    def counting_get(self, *args, **kwargs):
        fetched.append(args[0] if args else kwargs.get("path", ""))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(client), "get", counting_get)
    return fetched


def test_the_token_is_fetched_once_while_the_session_secret_stays(client, world, monkeypatch):
    fetched = _login_page_fetches(client, monkeypatch)
    first = client.csrf_token()
    assert client.csrf_token() == first and client.csrf_token() == first
    assert fetched == ["/admin/connexion"]
    # A wrong password keeps the session: the cached token is still the one the form accepts.
    response = client.post_form("/admin/connexion", {"username": "agent.gironde", "password": "faux"})
    assert response.status_code == 200 and "Identifiant ou mot de passe incorrect." in response.get_data(as_text=True)
    assert fetched == ["/admin/connexion"]


def test_login_and_logout_renew_the_secret_and_the_cached_token_follows(client, world, monkeypatch):
    fetched = _login_page_fetches(client, monkeypatch)
    before = client.csrf_token()
    assert client.post_form("/admin/connexion", {"username": "agent.gironde", "password": PASSWORD}).status_code == 302
    after_login = client.csrf_token()  # the login cleared the session: a new secret, a new token
    assert after_login != before and len(fetched) == 2
    assert client.csrf_token() == after_login and len(fetched) == 2
    assert client.post_form("/admin/deconnexion").status_code == 302  # accepted: the token is right
    after_logout = client.csrf_token()
    assert after_logout not in (before, after_login) and len(fetched) == 3


def test_a_session_cookie_past_its_lifetime_gets_a_fresh_token(app, client, world, monkeypatch):
    """Flask opens a session cookie older than PERMANENT_SESSION_LIFETIME as an empty session (no
    secret): the cached token would be refused, so a new one is fetched."""
    fetched = _login_page_fetches(client, monkeypatch)
    start = now().replace(tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False) as traveller:
        before = client.csrf_token()
        traveller.move_to(start + app.permanent_session_lifetime + timedelta(minutes=1))
        after = client.csrf_token()
        assert after != before and len(fetched) == 2
        response = client.post_form("/admin/connexion", {"username": "agent.gironde", "password": PASSWORD})
        assert response.status_code == 302  # the fresh token is accepted
