"""Set-password links (R-ACC-3, R-ACC-6): random, stored hashed, single use, expiring, policy in French."""

import base64
import hashlib
from datetime import timedelta, timezone

import pytest
import time_machine
from helpers import count, page_text, token_sent_to
from sqlalchemy import select, text

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import Agent, AuditEntry, PartnerAccount, PartnerRole, PasswordToken
from backoffice.services import accounts, tokens
from backoffice.services.auth import authenticate_partner
from backoffice.services.passwords import verify_password

GOOD = "une phrase de passe assez longue"
LONGEST = ("Un soir d'été, la Garonne brillait sous le pont de pierre. " * 3)[:128]
INVALID = "n'est plus valide"


@pytest.fixture
def new_manager(app, world):
    """A manager just created by admin.gironde: the raw token of its delivered welcome e-mail."""
    with app.test_request_context():
        account = accounts.create_account(
            world["gironde"]["structure"],
            PartnerRole.MANAGER,
            {
                "civility": "Monsieur",
                "usage_name": "LAPIERRE",
                "first_name": "Marc",
                "function": "Directeur",
                "phone": "05.56.00.00.01",
                "email": "m.lapierre@example.fr",
            },
            world["gironde"]["admin"],
            world["gironde"]["caisse"].id,
        )
    return account, token_sent_to("m.lapierre@example.fr")


def _issue(app, owner, purpose="reset") -> str:
    with app.test_request_context():
        raw = tokens.issue(owner, purpose)
    db.session.commit()
    return raw


def _post(client, raw, password, confirmation=None):
    return client.post_form(
        f"/mot-de-passe/{raw}",
        {"password": password, "confirmation": password if confirmation is None else confirmation},
    )


def _token_row(raw) -> PasswordToken:
    return db.session.scalar(
        select(PasswordToken).where(PasswordToken.token_hash == hashlib.sha256(raw.encode()).hexdigest())
    )


# --- the token ------------------------------------------------------------------------------------


def test_token_has_at_least_128_random_bits(app, world, new_manager):
    _, raw = new_manager
    decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    assert len(decoded) * 8 >= 128
    others = {_issue(app, world["oise"]["manager"]) for _ in range(5)}
    assert len(others | {raw}) == 6


def test_only_the_sha256_of_the_token_is_stored(world, new_manager):
    account, raw = new_manager
    row = db.session.scalar(select(PasswordToken).where(PasswordToken.partner_account_id == account.id))
    assert row.token_hash == hashlib.sha256(raw.encode("utf-8")).hexdigest()
    columns = [c.name for c in PasswordToken.__table__.columns]
    for values in db.session.execute(text("SELECT * FROM password_token")):
        for column, value in zip(columns, values, strict=True):
            assert raw not in str(value), column
    assert count(AuditEntry, AuditEntry.details.cast(db.String).contains(raw)) == 0


def test_token_expires_after_72_hours_by_default(world, new_manager):
    account, raw = new_manager
    row = _token_row(raw)
    assert abs(row.expires_at - row.created_at - timedelta(hours=72)) < timedelta(seconds=1)
    assert row.purpose == "create" and row.used_at is None


# --- the page ---------------------------------------------------------------------------------------


def test_get_shows_the_form_without_consuming_the_token(client, world, new_manager):
    account, raw = new_manager
    for _ in range(2):
        response = client.get(f"/mot-de-passe/{raw}")
        assert response.status_code == 200
        text_ = page_text(response)
        assert "Créer mon mot de passe" in text_
        assert account.login in text_
        assert "entre 12 et 128 caractères" in text_
    assert _token_row(raw).used_at is None
    assert db.session.get(PartnerAccount, account.id).password_hash is None


@pytest.mark.parametrize(
    "password,confirmation,message",
    [
        ("onze-carac.", None, "Le mot de passe doit comporter au moins 12 caractères."),
        (LONGEST + "!", None, "Le mot de passe doit comporter au plus 128 caractères."),
        ("motdepasse123", None, "Ce mot de passe est trop courant : choisissez-en un autre, par exemple une phrase."),
        ("MotDePasse123", None, "Ce mot de passe est trop courant : choisissez-en un autre, par exemple une phrase."),
        ("azertyuiop123", None, "Ce mot de passe est trop courant : choisissez-en un autre, par exemple une phrase."),
        (
            "abababababababab",
            None,
            "Ce mot de passe est trop courant : choisissez-en un autre, par exemple une phrase.",
        ),
        ("ma phrase m.lapierre secrète", None, "Le mot de passe ne doit pas contenir votre identifiant."),
        (GOOD, GOOD + "!", "Les deux mots de passe saisis ne sont pas identiques."),
    ],
)
def test_a_password_breaking_the_policy_is_refused_in_french_and_the_link_stays_valid(
    client, world, new_manager, password, confirmation, message
):
    account, raw = new_manager
    response = _post(client, raw, password, confirmation)
    assert response.status_code == 200
    assert message in page_text(response)
    assert _token_row(raw).used_at is None
    assert tokens.find_valid(raw) is not None
    assert db.session.get(PartnerAccount, account.id).password_hash is None
    assert client.get(f"/mot-de-passe/{raw}").status_code == 200
    assert count(AuditEntry, AuditEntry.action == "password.set") == 0


@pytest.mark.parametrize("password", ["douze-caract", "éèàùçœ-ÉÈÀÙÇ", LONGEST])
def test_passwords_of_12_and_128_characters_are_accepted(client, world, new_manager, password):
    account, raw = new_manager
    assert _post(client, raw, password).status_code == 200
    assert verify_password(db.session.get(PartnerAccount, account.id).password_hash, password)


def test_a_good_password_works_once(client, world, new_manager):
    account, raw = new_manager
    old_session_id = account.get_id()
    response = _post(client, raw, GOOD)
    assert response.status_code == 200
    assert "Votre mot de passe est enregistré" in page_text(response)
    account = db.session.get(PartnerAccount, account.id)
    assert account.password_hash.startswith("$argon2id$")
    assert account.password_changed_at is not None
    assert account.get_id() != old_session_id
    assert _token_row(raw).used_at is not None
    assert authenticate_partner(account.login, GOOD).id == account.id
    entry = db.session.scalar(select(AuditEntry).filter_by(action="password.set"))
    assert entry.actor_label == account.login and entry.details["purpose"] == "create"

    again = client.get(f"/mot-de-passe/{raw}")
    assert again.status_code == 410
    assert INVALID in page_text(again)
    assert "Mot de passe oublié ?" in page_text(again)
    hash_after_first_use = account.password_hash
    again = _post(client, raw, "une autre phrase bien longue")
    assert again.status_code == 410
    assert INVALID in page_text(again)
    assert db.session.get(PartnerAccount, account.id).password_hash == hash_after_first_use


def test_an_unknown_or_malformed_token_gives_the_invalid_link_page(client, world):
    for raw in ("inconnu", "A" * 43, "x" * 200):
        response = client.get(f"/mot-de-passe/{raw}")
        assert response.status_code == 410
        assert INVALID in page_text(response)


def test_the_password_set_through_the_link_opens_the_account(client, world, new_manager):
    # (There is no account lock to clear any more: failed logins are throttled per login and
    # address, services/throttle.py.)
    account, raw = new_manager
    assert _post(client, raw, GOOD).status_code == 200
    assert authenticate_partner(account.login, GOOD).id == account.id


def test_link_of_an_inactive_account_is_invalid(client, world, new_manager):
    account, raw = new_manager
    account.active = False
    db.session.commit()
    assert client.get(f"/mot-de-passe/{raw}").status_code == 410
    assert _post(client, raw, GOOD).status_code == 410


# --- expiry -------------------------------------------------------------------------------------------


def test_link_expires_after_72_hours(app, client, world):
    issued = now().replace(tzinfo=timezone.utc, microsecond=0) + timedelta(days=2)
    with time_machine.travel(issued, tick=False):
        raw = _issue(app, world["gironde"]["manager"], "create")
    with time_machine.travel(issued + timedelta(hours=71, minutes=59, seconds=59), tick=False):
        assert client.get(f"/mot-de-passe/{raw}").status_code == 200
    with time_machine.travel(issued + timedelta(hours=72, seconds=1), tick=False):
        response = client.get(f"/mot-de-passe/{raw}")
        assert response.status_code == 410
        assert INVALID in page_text(response)
        assert _post(client, raw, GOOD).status_code == 410
    assert verify_password(db.session.get(PartnerAccount, world["gironde"]["manager"].id).password_hash, GOOD) is False


def test_a_link_used_just_before_expiry_still_works(app, client, world):
    issued = now().replace(tzinfo=timezone.utc, microsecond=0) + timedelta(days=2)
    with time_machine.travel(issued, tick=False):
        raw = _issue(app, world["gironde"]["manager"], "create")
    with time_machine.travel(issued + timedelta(hours=71, minutes=59, seconds=59), tick=False):
        assert _post(client, raw, GOOD).status_code == 200
    assert verify_password(db.session.get(PartnerAccount, world["gironde"]["manager"].id).password_hash, GOOD)


@pytest.mark.parametrize("hours", [1, 24])
def test_link_lifetime_is_configurable(app, client, world, monkeypatch, hours):
    monkeypatch.setitem(app.config, "PASSWORD_TOKEN_HOURS", hours)
    issued = now().replace(tzinfo=timezone.utc, microsecond=0) + timedelta(days=2)
    with time_machine.travel(issued, tick=False):
        raw = _issue(app, world["gironde"]["manager"])
    with time_machine.travel(issued + timedelta(hours=hours) - timedelta(seconds=1), tick=False):
        assert client.get(f"/mot-de-passe/{raw}").status_code == 200
    with time_machine.travel(issued + timedelta(hours=hours, seconds=1), tick=False):
        assert client.get(f"/mot-de-passe/{raw}").status_code == 410


# --- a new link revokes the older ones ----------------------------------------------------------------


def test_a_new_token_revokes_the_older_ones(app, client, world):
    manager = world["gironde"]["manager"]
    first = _issue(app, manager)
    second = _issue(app, manager)
    other = _issue(app, world["oise"]["manager"])
    assert client.get(f"/mot-de-passe/{first}").status_code == 410
    assert _post(client, first, GOOD).status_code == 410
    assert client.get(f"/mot-de-passe/{second}").status_code == 200
    assert client.get(f"/mot-de-passe/{other}").status_code == 200  # another account's link is untouched
    assert _post(client, second, GOOD).status_code == 200


def test_reactivation_link_replaces_the_creation_link(app, client, world, new_manager):
    account, creation_raw = new_manager
    with app.test_request_context():
        accounts.inactivate_account(account, world["gironde"]["admin"], world["gironde"]["caisse"].id)
        accounts.reactivate_account(account, "Retour", world["gironde"]["admin"], world["gironde"]["caisse"].id)
    assert client.get(f"/mot-de-passe/{creation_raw}").status_code == 410  # as soon as reactivated
    reactivation_raw = token_sent_to(account.email)
    assert client.get(f"/mot-de-passe/{creation_raw}").status_code == 410
    assert client.get(f"/mot-de-passe/{reactivation_raw}").status_code == 200


# --- afterwards, people log in --------------------------------------------------------------------------


def test_a_new_agent_sets_its_password_and_logs_in_to_the_back_office(client, world, login):
    login("admin.gironde")
    response = client.post_form(
        "/admin/agents/new/",
        {"username": "agent.nouveau", "first_name": "Nina", "last_name": "Nouveau", "email": "nina@example.fr"},
    )
    assert response.status_code == 302
    agent = db.session.scalar(select(Agent).filter_by(username="agent.nouveau"))
    assert (agent.role, agent.caisse_id, agent.password_hash) == ("agent", world["gironde"]["caisse"].id, None)
    raw = token_sent_to("nina@example.fr")
    client.post_form("/admin/deconnexion", {})

    response = _post(client, raw, GOOD)
    assert response.status_code == 200
    assert "/admin/connexion" in response.get_data(as_text=True)
    response = client.post_form("/admin/connexion", {"username": "agent.nouveau", "password": GOOD})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert _post(client, raw, "encore une autre phrase").status_code == 410


def test_a_reactivated_partner_logs_in_only_with_the_new_password(app, client, world):
    from helpers import PASSWORD

    from backoffice.services.errors import DomainError

    manager = world["gironde"]["manager"]
    with app.test_request_context():
        accounts.create_account(
            manager.structure,
            PartnerRole.MANAGER,
            {
                "civility": "Madame",
                "usage_name": "SECOND",
                "first_name": "Sarah",
                "function": "Adjointe",
                "phone": "05.56.00.00.02",
                "email": "s@example.fr",
            },
            world["gironde"]["admin"],
            world["gironde"]["caisse"].id,
        )
        accounts.inactivate_account(manager, world["gironde"]["admin"], world["gironde"]["caisse"].id)
        accounts.reactivate_account(manager, "Retour", world["gironde"]["admin"], world["gironde"]["caisse"].id)
    with pytest.raises(DomainError):
        authenticate_partner("m.gironde", PASSWORD)
    assert _post(client, token_sent_to(manager.email), GOOD).status_code == 200
    assert authenticate_partner("m.gironde", GOOD).id == manager.id
