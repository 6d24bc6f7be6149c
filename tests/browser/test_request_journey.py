"""Browser journey of a request's life (issue 5 point 9): a technician files the five offers with
real files, completes one and cancels another; the agent takes one and answers it with a file; the
technician downloads that file, opens a Q/R exchange that the agent answers, and closes it.

Every portal page visited is checked (axe-core, keyboard only, 375 px); each step is a screenshot.
"""

import re
import struct
import zlib

from helpers import make_account
from playwright.sync_api import expect

from backoffice.extensions import db
from backoffice.models import Request

CAISSE = "CPAM GIRONDE"
NUMBER_RE = re.compile(r"Votre demande n° (\d{10}) a bien été envoyée à l'organisme CPAM GIRONDE\.")
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
ANSWER_PDF = b"%PDF-1.4\n% reponse de la caisse\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"


def _png() -> bytes:
    """A real 1×1 white PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff"))
        + chunk(b"IEND", b"")
    )


def _file(name: str, data: bytes, mime: str) -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


PNG = _png()
JUSTIFICATIF = _file("justificatif.pdf", PDF, "application/pdf")
PHOTO = _file("photo-courrier.png", PNG, "image/png")


# --- small steps ---------------------------------------------------------------------------------


def _choose(page, name: str, label: str) -> None:
    """Tick a chip (a checkbox or radio shown as a pill) as a user does: on its label's text."""
    chip = page.locator(f"label.ep-chip:has(input[name='{name}'])").filter(has=page.get_by_text(label, exact=True))
    chip.click()
    assert chip.locator("input").is_checked()


def _person(page, civility: str, last: str, first: str, birth: str, place: str, phone: str) -> None:
    _choose(page, "person_civility", civility)
    page.type("#person_last_name", last)
    page.type("#person_first_name", first)
    page.fill("#person_birth_date", birth)
    page.fill("#person_birth_place", place)
    page.type("#person_phone", phone)


def _attach(page, input_selector: str, files: list[dict], limit: int) -> None:
    """Add the files through the real <input type=file>; the list and its counter follow."""
    box = page.locator("[data-attachments]", has=page.locator(input_selector))
    page.set_input_files(input_selector, files)
    expect(box.locator("[data-file-list] .ep-file-name")).to_have_text([f["name"] for f in files])
    expect(box.locator("[data-file-counter]")).to_have_text(f"{len(files)}/{limit}")
    expect(box.locator("[data-file-empty]")).to_be_hidden()
    expect(box.locator("[data-file-errors] .ep-error")).to_have_count(0)


def _open_offer(page, code: str) -> None:
    page.click("nav.ep-menu >> text=Nouvelle demande")
    page.wait_for_url(re.compile(r"/demandes/nouvelle$"))
    page.click(f"a.ep-button[href$='/demandes/nouvelle/{code}']")
    page.wait_for_url(re.compile(rf"/demandes/nouvelle/{code}$"))


def _validate(page) -> str:
    """Send the form; the detail page confirms with the 10-digit number."""
    page.click("form[data-request-form] .ep-actions button:has-text('VALIDER')")
    page.wait_for_url(re.compile(r"/demandes/\d{10}$"))
    expect(page.locator(".ep-alert-success")).to_contain_text("a bien été envoyée")
    banner = page.locator(".ep-alert-success").inner_text()
    match = NUMBER_RE.search(banner)
    assert match, banner
    number = match.group(1)
    assert page.url.endswith("/demandes/" + number)
    assert page.locator("h1").inner_text() == f"Demande n° {number}"
    return number


def _agent_request_screen(agent_page, number: str) -> None:
    agent_page.goto("/admin/requests/")
    agent_page.click(f"a:text-is('{number}')")
    agent_page.wait_for_url(re.compile(r"/admin/requests/traiter/\?id=\d+"))
    expect(agent_page.locator("h1")).to_have_text(f"Demande N° {number}")


def _status(number: str) -> str:
    db.session.expire_all()
    return db.session.query(Request).filter_by(number=number).one().status


# --- the journey ---------------------------------------------------------------------------------


def test_technician_files_the_five_offers_and_runs_a_request_to_its_closed_exchange(
    page, browser, live_server, world, steps, check, password
):
    make_account(world["gironde"]["structure"], "t.chausson", first_name="Victor", usage_name="CHAUSSON")

    # --- the technician logs in and picks the caisse -------------------------------------------
    page.goto("/connexion")
    page.fill("#login", "t.chausson")
    page.fill("#password", password)
    page.click("#contenu button[type=submit]")
    page.wait_for_url(re.compile(r"/organisme$"))
    page.select_option("#caisse_id", label=CAISSE)
    page.click("#contenu button[type=submit]")
    expect(page.locator("header .ep-caisse")).to_have_text(CAISSE)
    steps.shot(page, "organisme-choisi")

    page.click("nav.ep-menu >> text=Nouvelle demande")
    page.wait_for_url(re.compile(r"/demandes/nouvelle$"))
    expect(page.locator("h1")).to_have_text(f"Offres de service de la {CAISSE}")
    expect(page.locator("article.ep-offer")).to_have_count(5)
    check(page, "offres de service")
    steps.shot(page, "offres-de-service")

    numbers = {}

    # --- 1. Contacter votre organisme: two appointment modes, a PDF and a PNG ------------------
    _open_offer(page, "contact")
    check(page, "formulaire contact")
    # what the red asterisk says visually is also said to assistive technologies
    expect(page.locator("#motive_id")).to_have_js_property("required", True)
    expect(page.locator("#comment")).to_have_js_property("required", True)
    expect(page.get_by_role("group", name="Modalités de rendez vous obligatoire", exact=True)).to_be_visible()
    page.select_option("#motive_id", label="Connaître les offres de service de l'organisme d'Assurance Maladie")
    _choose(page, "appointment_modes", "Téléphonique / Visio")
    _choose(page, "appointment_modes", "Physique")
    page.fill("#comment", "Nous souhaitons présenter l'association à vos équipes.")
    expect(page.locator("#comment-counter")).to_have_text("54/5000")
    _attach(page, "#request-files", [JUSTIFICATIF, PHOTO], 8)
    steps.shot(page, "contact-avant-valider")
    numbers["contact"] = _validate(page)
    expect(page.locator(".ep-names li")).to_have_text(["justificatif.pdf", "photo-courrier.png"])
    check(page, "détail d'une demande")
    steps.shot(page, "contact-confirmation")

    # --- 2. Signaler une situation: the Saisine motive, its consent and the Renoncement blocks --
    _open_offer(page, "difficulty")
    saisine = page.locator("[data-saisine-block]")
    follow_up = page.locator("[data-renunciation-block]")
    expect(saisine).to_be_hidden()
    page.select_option("#motive_id", label="Saisine mission accompagnement santé")
    expect(saisine).to_be_visible()
    expect(follow_up).to_be_hidden()
    page.click("label.ep-switch:has(#consent)")
    assert page.is_checked("#consent")
    _choose(page, "accompaniment", "Renoncement ou difficultés d'accès à des soins")
    expect(follow_up).to_be_visible()
    _choose(page, "care", "Consultation de médecine générale ou spécialisée")
    _choose(page, "duration", "De 3 mois à 1 an")
    _choose(page, "causes", "De transport")
    _person(page, "Madame", "durand-petit", "anne-marie", "1950-03-14", "33", "0612345678")
    expect(page.locator("#person_last_name")).to_have_value("DURAND-PETIT")
    expect(page.locator("#person_first_name")).to_have_value("Anne-Marie")
    expect(page.locator("#person_phone")).to_have_value("06.12.34.56.78")
    page.fill("#comment", "Madame renonce à consulter faute de transport.")
    _attach(page, "#request-files", [JUSTIFICATIF], 8)
    check(page, "formulaire difficulté (saisine, renoncement)")
    steps.shot(page, "difficulte-avant-valider")
    numbers["difficulty"] = _validate(page)
    expect(page.locator("dd:has-text('De 3 mois à 1 an')")).to_be_visible()
    expect(page.locator("dd li", has_text="Renoncement ou difficultés d'accès à des soins")).to_be_visible()
    steps.shot(page, "difficulte-confirmation")

    # --- 3. Demander un rendez-vous: no attachments for this offer ------------------------------
    _open_offer(page, "appointment")
    expect(page.locator("text=Cette offre s'adresse uniquement aux personnes non autonomes")).to_be_visible()
    expect(page.locator("input[type=file]")).to_have_count(0)
    check(page, "formulaire rendez-vous")
    page.select_option("#motive_id", label="C2S")
    _person(page, "Monsieur", "martin", "louis", "1948-11-02", "Portugal", "0556000000")
    page.fill("#comment", "Rendez-vous souhaité en matinée.")
    steps.shot(page, "rendez-vous-avant-valider")
    numbers["appointment"] = _validate(page)
    steps.shot(page, "rendez-vous-confirmation")

    # --- 4. Étude de dossier: a PDF and a PNG ---------------------------------------------------
    _open_offer(page, "file_review")
    check(page, "formulaire étude de dossier")
    page.select_option("#motive_id", label="Etude de C2S")
    _person(page, "Madame", "bernard", "lucie", "1985-06-30", "33", "0700000001")
    page.fill("#comment", "Dossier C2S complet, pièces jointes.")
    _attach(page, "#request-files", [JUSTIFICATIF, PHOTO], 8)
    steps.shot(page, "etude-avant-valider")
    numbers["file_review"] = _validate(page)
    steps.shot(page, "etude-confirmation")

    # --- 5. Demander un document: two documents, no attachments ---------------------------------
    _open_offer(page, "document")
    expect(page.locator("input[type=file]")).to_have_count(0)
    check(page, "formulaire document")
    _choose(page, "documents", "Attestation de droits")
    _choose(page, "documents", "Formulaire carte vitale")
    _person(page, "Monsieur", "petit", "jean", "1990-01-15", "Maroc", "0611223344")
    page.fill("#comment", "Attestation et formulaire pour l'assuré.")
    steps.shot(page, "document-avant-valider")
    numbers["document"] = _validate(page)
    expect(page.locator("dd:has-text('Attestation de droits, Formulaire carte vitale')")).to_be_visible()
    steps.shot(page, "document-confirmation")
    assert len(set(numbers.values())) == 5

    # --- history: the five requests -------------------------------------------------------------
    page.click("nav.ep-menu >> text=Historique des demandes")
    page.wait_for_url(re.compile(r"/demandes$"))
    expect(page.locator(".ep-results-count").first).to_have_text("1-5 sur 5 résultats")
    check(page, "historique")
    steps.shot(page, "historique-5-demandes")

    # --- complete the file review: a comment and one more file (dialog) -------------------------
    page.click(f"a:has-text('de la demande {numbers['file_review']}')")
    page.wait_for_url(re.compile(rf"/demandes/{numbers['file_review']}$"))
    page.click("a:has-text('Compléter la demande')")
    dialog = page.locator("dialog#dialog-complete")
    expect(dialog).to_be_visible()
    expect(page.locator("#dialog-complete-comment")).to_have_value("Dossier C2S complet, pièces jointes.")
    page.fill("#dialog-complete-comment", "Dossier C2S complet ; ajout de l'avis d'imposition.")
    _attach(page, "#dialog-complete-files", [_file("avis-imposition.pdf", PDF, "application/pdf")], 6)
    check(page, "compléter la demande")
    steps.shot(page, "completer")
    dialog.locator(".ep-actions button.ep-button").click()
    expect(page.locator(".ep-alert-success")).to_have_text("La demande a bien été prise en compte.")
    expect(page.locator(".ep-names li")).to_have_text(["justificatif.pdf", "photo-courrier.png", "avis-imposition.pdf"])
    expect(page.locator("dd.ep-text")).to_have_text("Dossier C2S complet ; ajout de l'avis d'imposition.")
    steps.shot(page, "completee")

    # --- cancel the appointment: a reason and "Je confirme l'annulation" (dialog) ---------------
    page.goto(f"/demandes/{numbers['appointment']}")
    page.click("a:has-text('Annuler la demande')")
    expect(page.locator("dialog#dialog-cancel")).to_be_visible()
    page.select_option("#dialog-cancel-reason", label="La demande n'est plus justifiée")
    page.click("dialog#dialog-cancel label.ep-switch")
    assert page.is_checked("dialog#dialog-cancel input[name=confirm]")
    check(page, "annuler la demande")
    steps.shot(page, "annuler")
    page.click("dialog#dialog-cancel .ep-actions button.ep-button")
    page.wait_for_url(re.compile(r"/demandes$"))
    expect(page.locator(".ep-alert-success")).to_contain_text(f"La demande n° {numbers['appointment']} a été annulée.")
    expect(page.locator(".ep-results-count").first).to_have_text("1-4 sur 4 résultats")
    steps.shot(page, "annulee")
    assert _status(numbers["appointment"]) == "cancelled"

    # --- the agent takes the contact request and answers it with a file -------------------------
    agent_context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900}, locale="fr-FR")
    agent_context.set_default_timeout(10_000)
    try:
        agent = agent_context.new_page()
        agent_errors = []
        agent.on("console", lambda msg: agent_errors.append(msg.text) if msg.type == "error" else None)
        agent.goto("/admin/connexion")
        agent.fill("#username", "agent.gironde")
        agent.fill("#password", password)
        agent.click("button[type=submit]")
        agent.wait_for_url(re.compile(r"/admin/(?!connexion)"))
        _agent_request_screen(agent, numbers["contact"])
        steps.shot(agent, "agent-demande")
        agent.click("button:has-text('Prendre en charge')")
        expect(agent.locator(f"text=Vous avez pris en charge la demande N° {numbers['contact']}.")).to_be_visible()
        assert _status(numbers["contact"]) == "taken"
        agent.fill("#answer", "Un conseiller vous recevra le 12 à 10 h ; le programme est joint.")
        agent.set_input_files("#attachments", [_file("reponse-caisse.pdf", ANSWER_PDF, "application/pdf")])
        steps.shot(agent, "agent-reponse")
        agent.click("button:has-text('Répondre')")
        expect(agent.locator("text=La réponse est enregistrée : la demande est résolue.")).to_be_visible()
        steps.shot(agent, "agent-repondu")
        assert _status(numbers["contact"]) == "resolved"

        # --- the technician downloads the answer's file and opens a Q/R exchange ---------------
        page.click("nav.ep-menu >> text=Historique des demandes")
        page.wait_for_url(re.compile(r"/demandes$"))
        page.click(f"a:has-text('de la demande {numbers['contact']}')")
        page.wait_for_url(re.compile(rf"/demandes/{numbers['contact']}$"))
        expect(page.locator("dd:has-text('Un conseiller vous recevra le 12')")).to_be_visible()
        with page.expect_download() as download_info:
            page.click("a[download]:has-text('reponse-caisse.pdf')")
        download = download_info.value
        assert download.suggested_filename == "reponse-caisse.pdf"
        with open(download.path(), "rb") as handle:
            assert handle.read() == ANSWER_PDF
        check(page, "détail d'une demande résolue")
        steps.shot(page, "reponse-telechargee")

        page.fill("#message-body", "Merci. Pouvez-vous préciser l'adresse du rendez-vous ?")
        _attach(page, "#message-files", [PHOTO], 8)
        steps.shot(page, "message-avant-envoi")
        page.click("form.ep-message-form .ep-actions button:has-text('VALIDER')")
        expect(page.locator(".ep-alert-success")).to_have_text("Votre message a bien été envoyé à l'organisme.")
        expect(page.locator("text=Votre message a été envoyé : l'organisme va vous répondre.")).to_be_visible()
        expect(page.locator(".ep-message-partner .ep-names li")).to_have_text(["photo-courrier.png"])
        check(page, "détail, message envoyé")
        steps.shot(page, "message-envoye")
        assert _status(numbers["contact"]) == "message_sent"

        # --- the agent answers the message ------------------------------------------------------
        _agent_request_screen(agent, numbers["contact"])
        expect(agent.locator("text=Merci. Pouvez-vous préciser l'adresse du rendez-vous ?")).to_be_visible()
        agent.fill("#body", "L'accueil est au 1 place de l'Europe, à Bordeaux.")
        agent.click("button:has-text('Répondre au message')")
        expect(agent.locator("text=Votre réponse au message du partenaire est envoyée.")).to_be_visible()
        steps.shot(agent, "agent-reponse-au-message")
        assert not agent_errors, agent_errors
    finally:
        agent_context.close()

    # --- the technician reads the answer and closes the exchange --------------------------------
    page.reload()
    expect(page.locator(".ep-message-caisse")).to_contain_text("L'accueil est au 1 place de l'Europe, à Bordeaux.")
    check(page, "détail, réponse au message reçue")
    steps.shot(page, "reponse-au-message")
    page.click('button:has-text("Clôturer l\'échange")')
    expect(page.locator(".ep-alert-success")).to_have_text("L'échange est clôturé.")
    expect(page.locator("text=L'échange est clôturé : vous ne pouvez plus échanger")).to_be_visible()
    expect(page.locator("#message-body")).to_have_count(0)
    check(page, "détail, échange clôturé")
    steps.shot(page, "echange-cloture")
    assert _status(numbers["contact"]) == "closed"

    assert not page.console_errors, page.console_errors
