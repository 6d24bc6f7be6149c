"""'Gestion des comptes' (R-TEC-1..6, R-ACC-1/2/6) through the portal routes, as a manager would."""

import html as html_lib
import re

import pytest
from helpers import PASSWORD, accept_cgu, count, enter, location, make_account, page_text, portal_login, token_sent_to

from backoffice.extensions import db
from backoffice.models import AuditEntry, OutboxMessage, PartnerAccount, PartnerRole

CAP_MESSAGE = "Le nombre maximum de comptes techniciens actifs est atteint pour votre structure."
LAST_TECHNICIAN = "Impossible d'inactiver ce compte : la structure doit conserver au moins un technicien actif."
CONFIRM_INACTIVATION = "Êtes-vous sûr de vouloir inactiver ce compte ?"
REASON_REQUIRED = "Veuillez saisir le motif de réactivation."
REASON_TOO_LONG = "Le motif de réactivation ne doit pas dépasser 5000 caractères."
PHONE_MESSAGE = "Le numéro de téléphone doit respecter le format XX.XX.XX.XX.XX."
NAME_MESSAGE = "Seuls les lettres, l'apostrophe, le tiret et l'espace sont autorisés."


@pytest.fixture
def o(world):
    return world["oise"]


@pytest.fixture
def manager(client, gironde):
    """The GIRONDE manager, logged in on the portal with CPAM GIRONDE selected."""
    accept_cgu(gironde["manager"])
    assert location(enter(client, gironde["manager"], gironde["caisse"])) == "/"
    return gironde["manager"]


def technician(structure, login, **kwargs):
    return make_account(structure, login, **kwargs)


def form_data(**overrides):
    data = {
        "civility": "Monsieur",
        "birth_name": "",
        "usage_name": "Chausson",
        "first_name": "Victor",
        "function": "Bénévole",
        "phone": "05.56.12.34.56",
        "email": "victor@example.fr",
    }
    data.update(overrides)
    return data


def rows(response):
    """(class, list name) of every account of the list, in page order."""
    body = response.get_data(as_text=True)
    found = re.findall(
        r'<li class="ep-account (ep-active|ep-inactive)">\s*<div class="ep-account-head">\s*<strong>([^<]*)</strong>',
        body,
    )
    return [(cls, html_lib.unescape(name)) for cls, name in found]


def input_value(response, name):
    body = response.get_data(as_text=True)
    tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', body)
    assert tag, f"no input {name}"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html_lib.unescape(value.group(1)) if value else ""


def field_errors(response, field_id):
    body = response.get_data(as_text=True)
    block = re.search(rf'<div id="{field_id}-errors">([\s\S]*?)</div>', body)
    return page_text(block.group(1)) if block else ""


# --- R-TEC-3: the list ---------------------------------------------------------------------------


def test_list_shows_active_accounts_first_alphabetically_then_inactive_ones(client, gironde, o, manager):
    s = gironde["structure"]
    technician(s, "a.bernard", first_name="Alice", usage_name="BERNARD", civility="Madame")
    technician(s, "z.albert", first_name="Zoé", usage_name="ALBERT", civility="Madame")
    technician(s, "e.etienne", first_name="Emma", usage_name="ÉTIENNE", civility="Madame")
    technician(s, "f.fabre", first_name="Fanny", usage_name="FABRE", civility="Madame")
    technician(s, "c.blanc", first_name="Claude", birth_name="BLANC")  # birth name only
    technician(s, "p.aaron", first_name="Paul", usage_name="AARON", active=False)
    technician(s, "b.dupont", first_name="Bea", usage_name="DUPONT", civility="Madame", active=False)
    technician(o["structure"], "x.oise", first_name="Xavier", usage_name="OISEAU")

    page = client.get("/comptes")
    assert page.status_code == 200
    assert rows(page) == [
        ("ep-active", "Madame ALBERT Zoé"),
        ("ep-active", "Madame BERNARD Alice"),
        ("ep-active", "Monsieur BLANC Claude"),
        ("ep-active", "Madame ÉTIENNE Emma"),
        ("ep-active", "Madame FABRE Fanny"),
        ("ep-inactive", "Monsieur AARON Paul"),
        ("ep-inactive", "Madame DUPONT Bea"),
    ]
    text = page_text(page)
    for shown in ("a.bernard", "05.56.11.22.33", "Bénévole", "a.bernard@example.fr", "Actif", "Inactif"):
        assert shown in text
    assert "x.oise" not in text and "OISEAU" not in text


# --- R-TEC-2: the cap ----------------------------------------------------------------------------


def test_cap_minus_one_shows_the_button_and_creation_works_then_at_the_cap_it_is_refused(client, gironde, manager):
    convention = gironde["convention"]
    convention.technician_cap = 3  # lower than the 5 of an 8-member structure
    db.session.commit()
    s = gironde["structure"]
    technician(s, "t.un", first_name="Anne")
    technician(s, "t.deux", first_name="Bruno")
    old = technician(s, "t.vieux", first_name="Carl", active=False)  # inactive: not counted

    # N-1 active: the button is there and creation works
    page = client.get("/comptes")
    assert "Ajouter un technicien" in page_text(page) and 'href="/comptes/nouveau"' in page.get_data(as_text=True)
    assert client.get("/comptes/nouveau").status_code == 200
    r = client.post_form("/comptes/nouveau", form_data(email="victor@example.fr"))
    assert location(r) == "/comptes"
    assert db.session.query(PartnerAccount).filter_by(login="v.chausson", active=True).count() == 1

    # N active: no button, the form and a forged POST are refused server-side
    page = client.get("/comptes")
    assert "Ajouter un technicien" not in page_text(page)
    assert 'href="/comptes/nouveau"' not in page.get_data(as_text=True)
    assert "Le nombre maximum de comptes techniciens actifs de votre structure est atteint." in page_text(page)
    assert location(client.get("/comptes/nouveau")) == "/comptes"
    accounts_before = count(PartnerAccount)
    outbox_before = count(OutboxMessage)
    r = client.post_form("/comptes/nouveau", form_data(usage_name="Lapierre", email="lapierre@example.fr"))
    assert location(r) == "/comptes"
    assert CAP_MESSAGE in page_text(client.get("/comptes"))
    assert count(PartnerAccount) == accounts_before
    assert count(OutboxMessage) == outbox_before
    assert count(PartnerAccount, PartnerAccount.login == "v.lapierre") == 0

    # reactivating would go above the cap too (R-TEC-5)
    r = client.post_form(f"/comptes/{old.id}/reactiver", {"reason": "Retour de congé"})
    assert r.status_code == 200
    assert "Le nombre maximum de comptes techniciens actifs (3) est atteint pour cette structure." in page_text(r)
    assert not db.session.get(PartnerAccount, old.id).active
    assert count(OutboxMessage) == outbox_before


# --- R-TEC-4: inactivation -----------------------------------------------------------------------


def test_the_last_active_technician_cannot_be_inactivated(client, gironde, manager):
    s = gironde["structure"]
    first = technician(s, "t.premier", first_name="Anne")
    second = technician(s, "t.second", first_name="Bruno")
    technician(s, "t.ancien", first_name="Carl", active=False)

    r = client.post_form(f"/comptes/{first.id}/inactiver")
    assert location(r) == "/comptes"
    page = client.get("/comptes")
    assert "Le compte t.premier est inactivé." in page_text(page)
    first = db.session.get(PartnerAccount, first.id)
    assert not first.active and first.inactivated_at is not None
    assert count(AuditEntry, AuditEntry.action == "technician.inactivate", AuditEntry.target_id == first.id) == 1

    r = client.post_form(f"/comptes/{second.id}/inactiver")
    assert location(r) == "/comptes"
    assert LAST_TECHNICIAN in page_text(client.get("/comptes"))
    assert db.session.get(PartnerAccount, second.id).active
    assert count(AuditEntry, AuditEntry.action == "technician.inactivate", AuditEntry.target_id == second.id) == 0


def test_inactivation_asks_for_confirmation_and_get_changes_nothing(client, gironde, manager):
    s = gironde["structure"]
    tech = technician(s, "t.confirme", first_name="Anne", usage_name="CONFIRME", civility="Madame")
    technician(s, "t.autre", first_name="Bruno")
    gone = technician(s, "t.parti", first_name="Carl", active=False)
    alt_id = tech.alt_id

    page = client.get(f"/comptes/{tech.id}/inactiver")
    assert page.status_code == 200
    assert CONFIRM_INACTIVATION in page_text(page)
    assert "Madame CONFIRME Anne" in page_text(page) and "t.confirme" in page_text(page)
    assert re.search(r'<form method="post"[\s\S]*?>OUI</button>', page.get_data(as_text=True))
    page = client.get(f"/comptes/{gone.id}/reactiver")
    assert page.status_code == 200
    assert "Êtes-vous sûr de vouloir réactiver ce compte ?" in page_text(page)
    assert client.get(f"/comptes/{tech.id}/modifier").status_code == 200
    assert client.get("/comptes/nouveau").status_code == 200

    # a POST without the CSRF token is refused
    assert client.post(f"/comptes/{tech.id}/inactiver").status_code == 400
    assert client.post(f"/comptes/{gone.id}/reactiver", data={"reason": "x"}).status_code == 400

    tech, gone = db.session.get(PartnerAccount, tech.id), db.session.get(PartnerAccount, gone.id)
    assert tech.active and tech.alt_id == alt_id and not gone.active and gone.reactivation_reason is None
    assert count(OutboxMessage) == 0
    assert count(AuditEntry, AuditEntry.target_type == "PartnerAccount", AuditEntry.action.like("technician.%")) == 0


# --- R-TEC-5 / R-ACC-6: reactivation -------------------------------------------------------------


def test_reactivation_needs_a_reason_of_at_most_5000_characters(client, gironde, manager):
    s = gironde["structure"]
    technician(s, "t.actif", first_name="Anne")
    tech = technician(s, "r.retour", first_name="Rémi", usage_name="RETOUR", active=False, email="remi@example.fr")
    url = f"/comptes/{tech.id}/reactiver"

    for reason in ("", "   \n  "):
        r = client.post_form(url, {"reason": reason})
        assert r.status_code == 200
        assert REASON_REQUIRED in field_errors(r, "reason")
    r = client.post_form(url, {"reason": "x" * 5001})
    assert r.status_code == 200 and REASON_TOO_LONG in field_errors(r, "reason")
    tech = db.session.get(PartnerAccount, tech.id)
    assert not tech.active and tech.reactivation_reason is None and tech.password_hash is not None
    assert count(OutboxMessage) == 0

    reason = ("Retour de congé parental. " * 200)[:5000]
    r = client.post_form(url, {"reason": reason})
    assert location(r) == "/comptes"
    assert "Le compte r.retour est réactivé" in page_text(client.get("/comptes"))
    tech = db.session.get(PartnerAccount, tech.id)
    assert tech.active and tech.inactivated_at is None
    assert tech.reactivation_reason == reason.strip()
    assert tech.password_hash is None
    mail = db.session.query(OutboxMessage).filter_by(recipient="remi@example.fr").one()
    assert "Votre identifiant reste inchangé" in mail.body_text
    assert "r.retour" in mail.body_text and "Créer mon mot de passe" in mail.body_text
    audit = db.session.query(AuditEntry).filter_by(action="technician.reactivate", target_id=tech.id).one()
    assert audit.actor_label == "m.gironde" and audit.details["reason"] == reason.strip()

    # the old password no longer works; the link of the e-mail sets a new one
    client.post_form("/deconnexion")
    r = portal_login(client, "r.retour")
    assert r.status_code == 200 and "Identifiant ou mot de passe incorrect." in page_text(r)
    token = token_sent_to(mail.recipient)
    new_password = "Un nouveau départ en 2027"
    r = client.post_form(f"/mot-de-passe/{token}", {"password": new_password, "confirmation": new_password})
    assert r.status_code == 200
    assert location(portal_login(client, "r.retour", new_password)) == "/organisme"


# --- R-ACC-2 / R-TEC-6: creation and modification ------------------------------------------------


def test_a_second_victor_chausson_gets_v_chausson2(client, gironde, o, manager):
    technician(o["structure"], "v.chausson", first_name="Victor", usage_name="CHAUSSON")  # another structure
    r = client.post_form("/comptes/nouveau", form_data(email="victor.bis@example.fr"))
    assert location(r) == "/comptes"
    page = client.get("/comptes")
    assert "Compte technicien partenaire créé avec succès." in page_text(page)
    assert "v.chausson2" in page_text(page)
    r = client.post_form(
        "/comptes/nouveau", form_data(usage_name="chausson", first_name="VICTOR", email="victor.ter@example.fr")
    )
    assert location(r) == "/comptes"
    logins = {a.login: a for a in db.session.query(PartnerAccount).filter(PartnerAccount.login.like("v.chausson%"))}
    assert set(logins) == {"v.chausson", "v.chausson2", "v.chausson3"}
    assert logins["v.chausson2"].structure_id == gironde["structure"].id
    assert logins["v.chausson3"].first_name == "Victor" and logins["v.chausson3"].usage_name == "CHAUSSON"
    mail = db.session.query(OutboxMessage).filter_by(recipient="victor.bis@example.fr").one()
    assert "v.chausson2" in mail.body_text and "Bienvenue sur Espace Partenaires" in mail.body_text


def test_modification_keeps_the_login(client, gironde, manager):
    tech = technician(gironde["structure"], "v.chausson", first_name="Victor", usage_name="CHAUSSON")
    page = client.get(f"/comptes/{tech.id}/modifier")
    assert "Identifiant : v.chausson (inchangé)" in page_text(page)
    assert input_value(page, "usage_name") == "CHAUSSON" and input_value(page, "phone") == "05.56.11.22.33"

    r = client.post_form(
        f"/comptes/{tech.id}/modifier",
        form_data(usage_name="martin", first_name="victor-hugo", phone="06 07 08 09 10", email="vh@example.fr"),
    )
    assert location(r) == "/comptes"
    page = client.get("/comptes")
    assert "Compte technicien partenaire modifié avec succès." in page_text(page)
    tech = db.session.get(PartnerAccount, tech.id)
    assert tech.login == "v.chausson"
    assert (tech.usage_name, tech.first_name, tech.phone, tech.email) == (
        "MARTIN",
        "Victor-Hugo",
        "06.07.08.09.10",
        "vh@example.fr",
    )
    assert "Monsieur MARTIN Victor-Hugo" in page_text(page) and "v.chausson" in page_text(page)
    assert count(AuditEntry, AuditEntry.action == "technician.update", AuditEntry.target_id == tech.id) == 1


def test_bad_input_shows_french_messages_and_keeps_the_typed_values(client, gironde, manager):
    before = count(PartnerAccount)
    r = client.post_form("/comptes/nouveau", form_data(first_name="Jean2", phone="0556", usage_name="Dupont"))
    assert r.status_code == 200
    assert PHONE_MESSAGE in field_errors(r, "phone")
    assert NAME_MESSAGE in field_errors(r, "first_name")
    assert input_value(r, "first_name") == "Jean2"
    assert input_value(r, "phone") == "0556"
    assert input_value(r, "usage_name") == "Dupont"
    assert input_value(r, "email") == "victor@example.fr"
    assert count(PartnerAccount) == before and count(OutboxMessage) == 0

    r = client.post_form("/comptes/nouveau", form_data(usage_name="", birth_name="", email="pas-une-adresse"))
    assert r.status_code == 200
    assert "Veuillez renseigner le nom patronymique ou le nom usuel." in page_text(r)
    assert "L'adresse e-mail n'est pas valide." in field_errors(r, "email")
    assert count(PartnerAccount) == before

    tech = technician(gironde["structure"], "t.stable", first_name="Anne")
    r = client.post_form(f"/comptes/{tech.id}/modifier", form_data(phone="12.34", first_name="Anne"))
    assert r.status_code == 200 and PHONE_MESSAGE in field_errors(r, "phone")
    assert input_value(r, "phone") == "12.34"
    assert db.session.get(PartnerAccount, tech.id).phone == "05.56.11.22.33"


# --- tenancy and roles ---------------------------------------------------------------------------


def _snapshot(account_ids):
    db.session.expire_all()
    columns = (
        "active",
        "login",
        "usage_name",
        "birth_name",
        "first_name",
        "phone",
        "email",
        "function",
        "alt_id",
        "password_hash",
        "reactivation_reason",
        "inactivated_at",
        "structure_id",
    )
    return {i: tuple(getattr(db.session.get(PartnerAccount, i), c) for c in columns) for i in account_ids}


def test_a_manager_gets_404_on_every_account_url_of_another_structure(client, gironde, o, manager):
    own = technician(gironde["structure"], "t.gironde", first_name="Anne")
    technician(gironde["structure"], "t.gironde2", first_name="Bruno")
    b_active = technician(
        o["structure"], "b.actif", first_name="Benoît", usage_name="SECRETOISE", email="b.actif@oise.fr"
    )
    b_other = technician(
        o["structure"], "b.autre", first_name="Bérénice", usage_name="CONFIDENTIELLE", email="b.autre@oise.fr"
    )
    b_inactive = technician(
        o["structure"], "b.inactif", first_name="Basile", usage_name="DISCRET", active=False, email="b.inactif@oise.fr"
    )
    b_ids = [b_active.id, b_other.id, b_inactive.id, o["manager"].id]
    secrets = ["b.actif", "b.autre", "b.inactif", "SECRETOISE", "CONFIDENTIELLE", "DISCRET", "@oise.fr", "m.oise"]
    before = _snapshot(b_ids)
    outbox_before, audit_before = count(OutboxMessage), count(AuditEntry)

    targets = b_ids + [gironde["manager"].id, 987654]  # other structure, a manager (even one's own), no such id
    posts = {
        "modifier": form_data(usage_name="Pirate", email="pirate@example.fr"),
        "inactiver": {},
        "reactiver": {"reason": "Réactivation pirate"},
    }
    for account_id in targets:
        for action, data in posts.items():
            url = f"/comptes/{account_id}/{action}"
            for response in (client.get(url), client.post_form(url, data)):
                assert response.status_code == 404, (url, response.status_code)
                body = response.get_data(as_text=True)
                for secret in secrets:
                    assert secret not in body, (url, secret)

    assert _snapshot(b_ids) == before
    assert count(OutboxMessage) == outbox_before
    assert count(AuditEntry) == audit_before
    assert db.session.get(PartnerAccount, own.id).active
    list_page = client.get("/comptes").get_data(as_text=True)
    for secret in secrets:
        assert secret not in list_page


def test_a_technician_gets_403_on_the_account_pages(client, gironde):
    tech = technician(gironde["structure"], "t.curieux", first_name="Anne")
    other = technician(gironde["structure"], "t.voisin", first_name="Bruno")
    gone = technician(gironde["structure"], "t.ancien", first_name="Carl", active=False)
    assert location(enter(client, tech, gironde["caisse"])) == "/"
    before = _snapshot([tech.id, other.id, gone.id])
    accounts_before = count(PartnerAccount)

    for url in (
        "/comptes",
        "/comptes/nouveau",
        f"/comptes/{other.id}/modifier",
        f"/comptes/{other.id}/inactiver",
        f"/comptes/{gone.id}/reactiver",
    ):
        r = client.get(url)
        assert r.status_code == 403, url
        assert "Vous n'avez pas les droits nécessaires pour accéder à cette page." in page_text(r)
    for url, data in (
        ("/comptes/nouveau", form_data()),
        (f"/comptes/{other.id}/modifier", form_data(usage_name="Pirate")),
        (f"/comptes/{other.id}/inactiver", {}),
        (f"/comptes/{gone.id}/reactiver", {"reason": "Moi-même"}),
    ):
        assert client.post_form(url, data).status_code == 403, url
    assert _snapshot([tech.id, other.id, gone.id]) == before
    assert count(PartnerAccount) == accounts_before and count(OutboxMessage) == 0
    assert "Gestion des comptes" not in page_text(client.get("/demandes"))


def test_the_back_office_manager_inactivation_is_not_reachable_from_the_portal(client, gironde, o, manager):
    """R-MGR-2 is the caisse's business: a partner session gets 403 in /admin/, 404 in the portal."""
    second = make_account(gironde["structure"], "m.second", role=PartnerRole.MANAGER, first_name="Sophie")
    ids = [gironde["manager"].id, second.id, o["manager"].id]
    before = _snapshot(ids)
    for account_id in ids:
        url = f"/admin/managers/etat/?id={account_id}"
        assert client.get(url).status_code == 403
        assert client.post_form(url, {"reason": "x"}).status_code == 403
        assert client.post_form(f"/comptes/{account_id}/inactiver").status_code == 404
    assert client.get("/admin/managers/").status_code == 403
    assert _snapshot(ids) == before
    assert count(AuditEntry, AuditEntry.action.like("manager.%")) == 0
    # the session itself still works: nothing above logged it out
    assert client.get("/comptes").status_code == 200


def test_creation_e_mail_and_password_link_then_the_technician_logs_in(client, gironde, manager):
    r = client.post_form(
        "/comptes/nouveau",
        form_data(
            first_name="Maryse", usage_name="", birth_name="Pichon", civility="Madame", email="maryse@example.fr"
        ),
    )
    assert location(r) == "/comptes"
    mail = db.session.query(OutboxMessage).filter_by(recipient="maryse@example.fr").one()
    assert "m.pichon" in mail.body_text
    token = token_sent_to(mail.recipient)
    client.post_form("/deconnexion")
    r = client.post_form(f"/mot-de-passe/{token}", {"password": PASSWORD, "confirmation": PASSWORD})
    assert r.status_code == 200
    assert location(portal_login(client, "m.pichon")) == "/organisme"
