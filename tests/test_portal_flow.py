"""The manager's first visit end to end: login, CGU, caisse choice, a technician created and e-mailed."""

from helpers import PASSWORD, token_sent_to

from backoffice.extensions import db
from backoffice.models import AuditEntry, OutboxMessage, PartnerAccount


def portal_login(client, login, password=PASSWORD):
    return client.post_form("/connexion", {"login": login, "password": password})


def test_manager_first_visit_creates_a_technician(client, world):
    g = world["gironde"]
    r = portal_login(client, "m.gironde")
    assert r.status_code == 302 and r.headers["Location"].endswith("/organisme")
    # CGU first (R-ACC-5)
    r = client.get("/organisme")
    assert r.headers["Location"].endswith("/cgu")
    r = client.post_form("/cgu", {"newsletter": "y"})
    assert r.status_code == 200 and "Vous devez accepter" in r.get_data(as_text=True)
    r = client.post_form("/cgu", {"accept": "y", "newsletter": "y"})
    assert r.headers["Location"].endswith("/organisme")
    page = client.get("/organisme").get_data(as_text=True)
    assert "Sélectionner l&#39;organisme sur lequel vous souhaitez vous connecter." in page
    assert "CPAM GIRONDE" in page and "CPAM OISE" not in page
    r = client.post_form("/organisme", {"caisse_id": g["caisse"].id})
    assert r.headers["Location"].endswith("/")
    # No news: a manager lands on "Gestion des comptes" (R-HOME-1)
    r = client.get("/")
    assert r.headers["Location"].endswith("/comptes")
    page = client.get("/comptes").get_data(as_text=True)
    assert "Ajouter un technicien" in page and "CPAM GIRONDE" in page
    r = client.post_form(
        "/comptes/nouveau",
        {
            "civility": "Madame",
            "birth_name": "pichon",
            "usage_name": "",
            "first_name": "maryse",
            "function": "Bénévole",
            "phone": "0700000000",
            "email": "maryse.pichon@example.fr",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    page = client.get("/comptes").get_data(as_text=True)
    assert "Compte technicien partenaire créé avec succès." in page
    assert "Madame PICHON Maryse" in page and "m.pichon" in page
    message = db.session.query(OutboxMessage).filter_by(recipient="maryse.pichon@example.fr").one()
    assert message.subject == "Espace Partenaires : Création compte partenaire"
    assert "Vous avez été désigné technicien partenaire" in message.body_text
    token = token_sent_to("maryse.pichon@example.fr")
    assert db.session.query(AuditEntry).filter_by(action="caisse.select").count() == 1

    # the technician sets a password through the link and logs in
    client.post_form("/deconnexion")
    r = client.post_form(
        f"/mot-de-passe/{token}", {"password": "Ma phrase secrète 2026", "confirmation": "Ma phrase secrète 2026"}
    )
    assert r.status_code == 200 and "Votre mot de passe est enregistré" in r.get_data(as_text=True)
    r = portal_login(client, "m.pichon", "Ma phrase secrète 2026")
    assert r.status_code == 302
    tech = db.session.query(PartnerAccount).filter_by(login="m.pichon").one()
    assert tech.created_by_account_id == g["manager"].id
