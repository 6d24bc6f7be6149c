"""Browser journey: the caisse admin registers a partner; its manager activates the account and
creates a technician, who activates theirs. Every portal page is checked for accessibility."""

import re
from datetime import timedelta

from helpers import link_sent_to

from backoffice.clock import today
from backoffice.extensions import db
from backoffice.models import OutboxMessage

NEW_PASSWORD = "Une autre phrase de passe 2026"


def _last_link(recipient: str) -> str:
    """The link of the e-mail as delivered (`flask send-mail`'s file backend, as in `make run`): the
    outbox keeps a copy whose link is masked."""
    db.session.expire_all()
    message = db.session.query(OutboxMessage).filter_by(recipient=recipient).order_by(OutboxMessage.id.desc()).first()
    assert message is not None, f"no e-mail to {recipient}"
    assert "[lien personnel masqué]" in message.body_text and "/mot-de-passe/" not in message.body_text
    return link_sent_to(recipient)


def test_caisse_admin_registers_a_partner_and_the_manager_creates_a_technician(page, world, steps, check, password):
    check_page = check
    # --- back-office: the caisse admin registers a structure, its convention and a manager ---
    page.goto("/admin/connexion")
    page.fill("#username", "admin.gironde")
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.goto("/admin/structures/new/")
    page.fill("#name", "Association Les Amis de Victor")
    page.select_option("#type", "Association")
    page.fill("#siret", "12345")  # wrong on purpose: the message is French and the rest stays
    page.fill("#address", "3 rue Sainte-Catherine")
    page.fill("#postal_code", "33000")
    page.fill("#city", "Bordeaux")
    page.fill("#member_count", "12")
    page.click("input[type=submit][value='Enregistrer'], button:has-text('Enregistrer')")
    page.locator("text=Le SIRET comporte exactement 14 chiffres.").first.wait_for(state="visible")
    assert page.input_value("#name") == "Association Les Amis de Victor"
    steps.shot(page, "structure-erreur")
    page.fill("#siret", "41234567800012")
    page.click("input[type=submit][value='Enregistrer'], button:has-text('Enregistrer')")
    page.wait_for_url(re.compile(r"/admin/structures/"))
    steps.shot(page, "structure-creee")

    page.goto("/admin/conventions/new/")
    page.select_option("#structure", label="Association Les Amis de Victor", force=True)
    page.fill("#start_date", (today() - timedelta(days=1)).isoformat())
    page.fill("#end_date", (today() + timedelta(days=365)).isoformat())
    page.select_option("#service_offers", index=[0, 1, 2, 3, 4], force=True)
    page.click("input[type=submit][value='Enregistrer'], button:has-text('Enregistrer')")
    page.wait_for_url(re.compile(r"/admin/conventions/"))
    page.locator("text=Association Les Amis de Victor").first.wait_for(state="visible")
    steps.shot(page, "convention-creee")

    page.goto("/admin/managers/new/")
    page.select_option("#structure", label="Association Les Amis de Victor", force=True)
    page.select_option("#civility", "Madame")
    page.fill("#usage_name", "lapierre")
    page.fill("#first_name", "martine")
    page.fill("#function", "Directrice")
    page.fill("#phone", "05.56.11.22.33")
    page.fill("#email", "martine.lapierre@example.fr")
    page.click("input[type=submit][value='Enregistrer'], button:has-text('Enregistrer')")
    page.wait_for_url(re.compile(r"/admin/managers/"))
    page.locator("text=m.lapierre").first.wait_for(state="visible")
    steps.shot(page, "gestionnaire-cree")
    page.click("button:has-text('Se déconnecter')")

    # --- the manager follows the e-mail link, sets a password, logs in ---
    page.goto(_last_link("martine.lapierre@example.fr"))
    check_page(page, "créer mon mot de passe")
    page.fill("#password", NEW_PASSWORD)
    page.fill("#confirmation", NEW_PASSWORD)
    page.click("#contenu button[type=submit]")
    page.locator("text=Votre mot de passe est enregistré").first.wait_for(state="visible")
    steps.shot(page, "mot-de-passe-enregistre")
    page.goto("/connexion")
    check_page(page, "connexion")
    page.fill("#login", "m.lapierre")
    page.fill("#password", NEW_PASSWORD)
    page.click("#contenu button[type=submit]")
    check_page(page, "cgu")
    page.check("#accept")
    page.check("#newsletter")
    page.click("#contenu button[type=submit]")
    check_page(page, "organisme")
    page.select_option("#caisse_id", label="CPAM GIRONDE")
    page.click("#contenu button[type=submit]")
    page.wait_for_url(re.compile(r"/comptes$"))
    check_page(page, "gestion des comptes")
    steps.shot(page, "gestion-des-comptes")

    # --- the manager creates a technician ---
    page.click("text=Ajouter un technicien")
    check_page(page, "ajouter un technicien")
    page.select_option("#civility", "Monsieur")
    page.type("#usage_name", "chausson")
    page.type("#first_name", "victor")
    assert page.input_value("#usage_name") == "CHAUSSON" and page.input_value("#first_name") == "Victor"
    page.fill("#function", "Bénévole")
    page.type("#phone", "0700000000")
    assert page.input_value("#phone") == "07.00.00.00.00"
    page.fill("#email", "victor.chausson@example.fr")
    page.click("button:has-text('VALIDER')")
    page.locator("text=Compte technicien partenaire créé avec succès.").first.wait_for(state="visible")
    check_page(page, "liste des comptes")
    steps.shot(page, "technicien-cree")

    # inactivating the only technician is refused; the confirmation is a modal dialog with JS
    page.click("a.ep-toggle")
    page.locator("dialog[open] >> text=Êtes-vous sûr de vouloir inactiver ce compte ?").first.wait_for(state="visible")
    steps.shot(page, "confirmation-inactivation")
    page.click("dialog[open] >> button:has-text('OUI')")
    page.locator("text=technicien actif").first.wait_for(state="visible")

    # --- the technician activates the account ---
    page.click("summary")
    page.click("button:has-text('Se déconnecter')")
    page.goto(_last_link("victor.chausson@example.fr"))
    page.fill("#password", NEW_PASSWORD + " bis")
    page.fill("#confirmation", NEW_PASSWORD + " bis")
    page.click("#contenu button[type=submit]")
    page.locator("text=Votre mot de passe est enregistré").first.wait_for(state="visible")
    assert not page.console_errors, page.console_errors
