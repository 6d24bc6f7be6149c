"""Headers on every HTML response, no caching of authenticated pages, HSTS, rate limits."""

import pytest

from backoffice import create_app
from config import TestConfig


@pytest.mark.parametrize("url", ["/connexion", "/admin/connexion", "/mot-de-passe-oublie", "/mot-de-passe/inconnu"])
def test_html_responses_carry_the_security_headers(client, url):
    response = client.get(url)
    csp = response.headers["Content-Security-Policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self' 'nonce-"):
        assert directive in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_each_request_gets_its_own_nonce_and_admin_scripts_carry_it(client, world, login):
    login("admin.gironde")
    first = client.get("/admin/structures/")
    second = client.get("/admin/structures/")
    nonce = first.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert nonce != second.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    body = first.get_data(as_text=True)
    scripts = body.count("<script")
    assert scripts > 0 and body.count(f'nonce="{nonce}"') >= scripts


def test_authenticated_pages_are_not_cached(client, world, login):
    login("admin.gironde")
    assert client.get("/admin/").headers["Cache-Control"] == "no-store"


def test_hsts_only_when_enabled(world):
    class Hsts(TestConfig):
        HSTS_ENABLED = True

    app = create_app(Hsts)
    response = app.test_client().get("/connexion")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_login_and_reset_are_rate_limited_per_ip(app):
    class Limited(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        RATE_LIMITS_ENABLED = True
        WTF_CSRF_ENABLED = False

    limited = create_app(Limited)
    client = limited.test_client()
    statuses = [client.post("/mot-de-passe-oublie", data={"login": "x"}).status_code for _ in range(6)]
    assert statuses[:5] == [302] * 5 and statuses[5] == 429
    refused = client.post("/mot-de-passe-oublie", data={"login": "x"})
    assert "Trop de tentatives" in refused.get_data(as_text=True)
    statuses = [client.post("/connexion", data={"login": "x", "password": "y"}).status_code for _ in range(21)]
    assert 429 not in statuses[:20] and statuses[20] == 429
    # another address is not limited by the first one's attempts
    other = client.post("/connexion", data={"login": "x", "password": "y"}, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 200
