"""`flask demo` and `flask create-admin`."""

import pytest
from helpers import page_text
from sqlalchemy import func, select

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import (
    AWAITING_CAISSE,
    Agent,
    Caisse,
    CaisseOffer,
    Convention,
    ConventionState,
    PartnerAccount,
    Request,
    RequestStatus,
)
from backoffice.services.auth import authenticate_partner

DEMO_PASSWORD = "Demo-Espace-2026"
CAISSES = {
    "331": "CPAM GIRONDE",
    "601": "CPAM OISE",
    "401": "CPAM LANDES",
    "241": "CPAM DORDOGNE",
    "471": "CPAM LOT ET GARONNE",
}


def _row_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


@pytest.fixture
def demo(runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    return result


# --- flask demo ---------------------------------------------------------------------------------------


def test_demo_creates_the_five_caisses_with_their_catalogues(demo):
    caisses = {c.code: c for c in db.session.scalars(select(Caisse))}
    assert {code: c.name for code, c in caisses.items()} == CAISSES
    for caisse in caisses.values():
        offered = db.session.scalar(
            select(func.count()).select_from(CaisseOffer).where(CaisseOffer.caisse_id == caisse.id)
        )
        assert offered == 5, caisse.name


def test_demo_prints_the_logins_and_the_password(demo):
    for words in (
        "admin.gironde",
        "agent.gironde",
        "agent.oise",
        "m.lapierre",
        "v.chausson",
        "m.pichon",
        DEMO_PASSWORD,
    ):
        assert words in demo.output


@pytest.mark.parametrize(
    "username,role,code",
    [
        ("admin", "national_admin", None),
        ("admin.gironde", "caisse_admin", "331"),
        ("agent.gironde", "agent", "331"),
        ("agent.oise", "agent", "601"),
    ],
)
def test_demo_back_office_accounts_log_in_with_the_demo_password(client, demo, username, role, code):
    agent = db.session.scalar(select(Agent).filter_by(username=username))
    assert agent.role == role
    assert (agent.caisse.code if agent.caisse else None) == code
    response = client.post_form("/admin/connexion", {"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/arrivee/"
    assert client.get("/admin/").status_code == 200


def test_admin_gironde_sees_the_demo_structure_in_its_registry(client, demo):
    client.post_form("/admin/connexion", {"username": "admin.gironde", "password": DEMO_PASSWORD})
    page = page_text(client.get("/admin/managers/"))
    assert "m.lapierre" in page
    assert "j.petit" not in page  # a manager of an OISE-only structure


def _main_structure():
    return db.session.scalar(select(PartnerAccount).filter_by(login="m.lapierre")).structure


def test_demo_portal_accounts_belong_to_the_main_structure(demo):
    main = _main_structure()
    roles = {}
    for login in ("m.lapierre", "v.chausson", "m.pichon"):
        account = authenticate_partner(login, DEMO_PASSWORD)
        assert account.structure_id == main.id
        assert account.active
        roles[login] = account.role
    assert roles == {"m.lapierre": "manager", "v.chausson": "technician", "m.pichon": "technician"}


def test_the_main_structure_meets_every_convention_situation(demo):
    conventions = list(db.session.scalars(select(Convention).where(Convention.structure_id == _main_structure().id)))
    by_state = {}
    for convention in conventions:
        by_state.setdefault(convention.state(), []).append(convention)
    assert by_state.get(ConventionState.UPCOMING), "upcoming (R-ORG-2)"
    assert by_state.get(ConventionState.CURRENT), "current"
    ending = by_state.get(ConventionState.ENDING)
    assert ending, "ending within 30 days (R-ORG-3)"

    ended = by_state.get(ConventionState.ENDED, [])
    with_pending, all_resolved = [], []
    for convention in ended:
        statuses = list(db.session.scalars(select(Request.status).where(Request.convention_id == convention.id)))
        if any(s in AWAITING_CAISSE for s in statuses):
            with_pending.append(convention)
        elif statuses and all(s in (RequestStatus.RESOLVED.value, RequestStatus.CLOSED.value) for s in statuses):
            last = db.session.scalar(
                select(func.max(Request.resolved_at)).where(Request.convention_id == convention.id)
            )
            assert (now() - last).days < 30, "still in the 30-day grace period (R-ORG-5)"
            all_resolved.append(convention)
    assert with_pending, "ended with a request still pending (R-ORG-4)"
    assert all_resolved, "ended with every request resolved (R-ORG-5)"


def test_demo_if_empty_twice_is_harmless(runner):
    first = runner.invoke(args=["demo", "--if-empty"])
    assert first.exit_code == 0, first.output
    counts = _row_counts()
    assert counts["caisse"] == 5
    second = runner.invoke(args=["demo", "--if-empty"])
    assert second.exit_code == 0, second.output
    assert "La base contient déjà des données : démonstration non chargée." in second.output
    assert _row_counts() == counts


def test_demo_without_if_empty_refuses_a_database_with_data(runner, demo):
    counts = _row_counts()
    result = runner.invoke(args=["demo"])
    assert result.exit_code != 0
    assert "La base n'est pas vide" in result.output
    assert _row_counts() == counts


# --- flask create-admin ----------------------------------------------------------------------------------


ADMIN_PASSWORD = "Une phrase solide pour la cheffe"


def _create_admin(runner, username="direction", password=ADMIN_PASSWORD):
    return runner.invoke(
        args=[
            "create-admin",
            "--username",
            username,
            "--email",
            "cheffe@example.fr",
            "--first-name",
            "Camille",
            "--last-name",
            "Dupuis",
            "--password",
            password,
        ]
    )


def test_create_admin_creates_a_national_admin_who_can_log_in(runner, client):
    result = _create_admin(runner)
    assert result.exit_code == 0, result.output
    assert "Administrateur national « direction » créé." in result.output
    agent = db.session.scalar(select(Agent).filter_by(username="direction"))
    assert (agent.role, agent.caisse_id, agent.last_name) == ("national_admin", None, "DUPUIS")
    assert agent.password_hash.startswith("$argon2id$")
    response = client.post_form(
        "/admin/connexion", {"username": "direction", "password": "Une phrase solide pour la cheffe"}
    )
    assert response.status_code == 302
    assert client.get("/admin/caisses/").status_code == 200


@pytest.mark.parametrize(
    "password,message",
    [
        ("court", "au moins 12 caractères"),
        ("motdepasse123", "trop courant"),
        ("Azertyuiop123", "trop courant"),
        ("la direction et sa phrase", "ne doit pas contenir votre identifiant"),
    ],
)
def test_create_admin_refuses_a_weak_password(runner, password, message):
    result = _create_admin(runner, password=password)
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(select(func.count()).select_from(Agent)) == 0


def test_create_admin_refuses_a_taken_username(runner):
    assert _create_admin(runner).exit_code == 0
    result = _create_admin(runner)
    assert result.exit_code != 0
    assert "Cet identifiant est déjà utilisé." in result.output
    assert db.session.scalar(select(func.count()).select_from(Agent)) == 1


# --- flask housekeeping ---------------------------------------------------------------------------


def test_housekeeping_prints_each_count_in_french(runner, world):
    result = runner.invoke(args=["housekeeping"])
    assert result.exit_code == 0, result.output
    for line in (
        "Comptes inactivés (fin de la dernière convention) : 0",
        "Comptes supprimés (inactifs depuis 6 mois) : 0",
        "Sessions terminées supprimées : 0",
        "Compteurs de connexion périmés supprimés : 0",
    ):
        assert line in result.output
