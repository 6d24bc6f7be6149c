"""Back-office login: French page, throttling (no lock), inactive agents, logout, safe redirects, argon2id, CSRF."""

from datetime import timedelta, timezone

import pytest
import time_machine
from helpers import PASSWORD, count, input_value, page_text

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import Agent, AuditEntry, PartnerAccount, PasswordToken
from backoffice.services import tokens
from backoffice.services.auth import BAD_CREDENTIALS, INACTIVE, THROTTLED
from backoffice.services.passwords import hash_password, verify_password


def _post_login(client, username, password, url="/admin/connexion", **kwargs):
    return client.post_form(url, {"username": username, "password": password}, **kwargs)


def _logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def test_login_page_is_in_french(client):
    response = client.get("/admin/connexion")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert '<html lang="fr">' in body
    text = page_text(body)
    for words in (
        "Identifiant",
        "Mot de passe",
        "Se connecter",
        "merci de saisir votre identifiant et votre mot de passe",
    ):
        assert words in text


def test_good_credentials_log_in_and_record_the_login(client, world):
    response = _post_login(client, "admin.gironde", PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/arrivee/"
    assert _logged_in(client)
    assert count(AuditEntry, AuditEntry.action == "login.success", AuditEntry.actor_label == "admin.gironde") == 1


def test_username_is_case_and_space_insensitive(client, world):
    assert _post_login(client, "  Admin.Gironde ", PASSWORD).status_code == 302


@pytest.mark.parametrize("username,password", [("admin.gironde", PASSWORD + "x"), ("inconnu", PASSWORD)])
def test_wrong_password_or_unknown_login_gives_the_same_french_message(client, world, username, password):
    response = _post_login(client, username, password)
    assert response.status_code == 200
    assert BAD_CREDENTIALS == "Identifiant ou mot de passe incorrect."
    assert BAD_CREDENTIALS in page_text(response)
    assert not _logged_in(client)


def test_empty_fields_are_refused_in_french(client, world):
    response = _post_login(client, "", "")
    assert response.status_code == 200
    text = page_text(response)
    assert "Veuillez saisir votre identifiant." in text
    assert "Veuillez saisir votre mot de passe." in text


# --- throttling, not a lock (services/throttle.py; every limit in tests/test_login_throttle.py) ---


def _fail(client, times, **kwargs):
    for _ in range(times):
        assert BAD_CREDENTIALS in page_text(_post_login(client, "admin.gironde", "mauvais mot de passe", **kwargs))


def test_four_failures_are_free_and_a_success_resets_the_count(client, world):
    _fail(client, 4)
    assert _post_login(client, "admin.gironde", PASSWORD).status_code == 302
    client.post_form("/admin/deconnexion")
    _fail(client, 4)  # 8 failures in all, 4 since the success: still free
    assert _post_login(client, "admin.gironde", PASSWORD).status_code == 302


def test_five_failures_delay_the_next_attempt_from_that_address_only(client, world):
    start = now().replace(tzinfo=timezone.utc, microsecond=0) + timedelta(days=1)
    with time_machine.travel(start, tick=False) as traveller:
        _fail(client, 5)
        response = _post_login(client, "admin.gironde", PASSWORD)  # the right password, too soon
        assert response.status_code == 200
        assert THROTTLED == "Trop de tentatives de connexion. Réessayez dans quelques instants."
        assert THROTTLED in page_text(response) and BAD_CREDENTIALS not in page_text(response)
        assert input_value(response, "username") == "admin.gironde"  # what was typed is kept
        assert not _logged_in(client)
        # the account is not locked: the same login from another address goes in
        other = client.application.test_client()
        assert (
            _post_login(other, "admin.gironde", PASSWORD, environ_base={"REMOTE_ADDR": "192.0.2.44"}).status_code == 302
        )
        traveller.shift(timedelta(seconds=1))  # the first delay is one second
        assert _post_login(client, "admin.gironde", PASSWORD).status_code == 302
    assert count(AuditEntry, AuditEntry.action == "login.throttled") == 1


def test_throttling_of_one_login_leaves_the_other_logins_alone(client, world):
    _fail(client, 5)
    assert THROTTLED in page_text(_post_login(client, "admin.gironde", PASSWORD))
    assert _post_login(client, "agent.gironde", PASSWORD).status_code == 302


# --- inactive agents ------------------------------------------------------------------------------


def test_inactive_agent_is_refused(client, world):
    agent = world["gironde"]["agent"]
    agent.active = False
    db.session.commit()
    response = _post_login(client, "agent.gironde", PASSWORD)
    assert response.status_code == 200
    assert INACTIVE in page_text(response)
    assert not _logged_in(client)


def test_inactivating_an_agent_ends_its_open_session(client, world, login):
    from backoffice.services.caisses import set_agent_active

    login("agent.gironde")
    assert _logged_in(client)
    set_agent_active(world["gironde"]["agent"], False, world["gironde"]["admin"])
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/connexion")


def test_changing_the_password_ends_the_other_sessions(client, world, login):
    login("agent.gironde")
    assert _logged_in(client)
    tokens.set_password(world["gironde"]["agent"], "une toute nouvelle phrase")
    db.session.commit()
    assert client.get("/admin/").status_code == 302


# --- logout ---------------------------------------------------------------------------------------


def test_logout_is_post_only(client, world, login):
    login("admin.gironde")
    assert client.get("/admin/deconnexion").status_code == 405
    assert _logged_in(client)
    response = client.post_form("/admin/deconnexion", {})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/connexion"
    assert not _logged_in(client)


def test_logout_without_csrf_token_is_refused(client, world, login):
    login("admin.gironde")
    assert client.post("/admin/deconnexion").status_code == 400
    assert _logged_in(client)


# --- next: only local paths -----------------------------------------------------------------------


def test_next_leads_to_a_local_page(client, world):
    response = _post_login(client, "admin.gironde", PASSWORD, "/admin/connexion?next=/admin/structures/")
    assert response.headers["Location"] == "/admin/structures/"


def test_anonymous_redirect_carries_next_back_after_login(client, world):
    response = client.get("/admin/managers/")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/admin/connexion?next=")
    response = _post_login(client, "admin.gironde", PASSWORD, login_url)
    assert response.headers["Location"] == "/admin/managers/"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "http:/evil.com",
        "javascript:alert(1)",
        "evil.com",
        "///evil.com",
    ],
)
def test_next_to_another_site_goes_to_the_admin_index(client, world, target):
    from urllib.parse import quote

    response = _post_login(client, "admin.gironde", PASSWORD, f"/admin/connexion?next={quote(target, safe='')}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/arrivee/"


# --- passwords are argon2id -------------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id(app, client, world):
    from backoffice.services.caisses import create_national_admin

    assert hash_password("peu importe lequel").startswith("$argon2id$")
    admin = create_national_admin("admin.cli", "cli@example.fr", "Une longue phrase secrète", "Alain", "Cli")
    assert admin.password_hash.startswith("$argon2id$")
    assert "Une longue phrase secrète" not in admin.password_hash
    with app.test_request_context():
        raw = tokens.issue(world["gironde"]["manager"], "reset")
    db.session.commit()
    tokens.set_password_with_token(raw, "encore une autre phrase", "encore une autre phrase")
    manager = db.session.get(PartnerAccount, world["gironde"]["manager"].id)
    assert manager.password_hash.startswith("$argon2id$")
    assert verify_password(manager.password_hash, "encore une autre phrase")
    assert not verify_password(manager.password_hash, PASSWORD)


def test_a_weaker_hash_is_upgraded_at_login(app, client, world):
    """A hash made with other parameters is replaced by one with the configured cost after login."""
    from argon2 import PasswordHasher

    agent = world["gironde"]["admin"]
    agent.password_hash = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(PASSWORD)
    db.session.commit()
    old = agent.password_hash
    assert _post_login(client, "admin.gironde", PASSWORD).status_code == 302
    new = db.session.get(Agent, agent.id).password_hash
    assert new != old and new.startswith("$argon2id$")
    assert verify_password(new, PASSWORD)


# --- CSRF -----------------------------------------------------------------------------------------


def test_login_without_csrf_token_is_refused(client, world):
    response = client.post("/admin/connexion", data={"username": "admin.gironde", "password": PASSWORD})
    assert response.status_code == 400
    assert not _logged_in(client)
    response = client.post(
        "/admin/connexion", data={"username": "admin.gironde", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 400


def test_flask_admin_create_form_without_csrf_token_is_refused(client, world, login):
    login("admin.gironde")
    data = {
        "structure": str(world["gironde"]["structure"].id),
        "civility": "Madame",
        "usage_name": "DURAND",
        "first_name": "Anne",
        "function": "Secrétaire",
        "phone": "05.56.11.22.33",
        "email": "a@example.fr",
    }
    before = count(PartnerAccount)
    assert client.post("/admin/managers/new/", data=data).status_code == 400
    assert client.post("/admin/managers/new/", data={**data, "csrf_token": "forged"}).status_code == 400
    assert count(PartnerAccount) == before
    # With the token the same form is accepted: the refusal was the missing token.
    assert client.post_form("/admin/managers/new/", data).status_code == 302
    assert count(PartnerAccount) == before + 1


def test_set_password_page_without_csrf_token_is_refused(app, client, world):
    with app.test_request_context():
        raw = tokens.issue(world["gironde"]["manager"], "reset")
    db.session.commit()
    old_hash = world["gironde"]["manager"].password_hash
    response = client.post(
        f"/mot-de-passe/{raw}",
        data={"password": "une phrase neuve et longue", "confirmation": "une phrase neuve et longue"},
    )
    assert response.status_code == 400
    assert db.session.get(PartnerAccount, world["gironde"]["manager"].id).password_hash == old_hash
    assert db.session.scalar(db.select(PasswordToken)).used_at is None
