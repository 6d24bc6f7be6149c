"""Issue 13, « Must show »: the agent workspace in a real browser, two agents and their caisse admin
(three browser contexts, each signed in through the login form).

The caisse admin writes a reply template in « Organismes › Modèles de réponse »; agent A lands on
« À traiter » (menu counters), takes a request; agent B sees who owns it, gets no « Répondre » and
a forged answer (B's own CSRF token) is refused with the French owner message; A reassigns it to B
with a note (timeline, « Mes demandes », e-mail); B adds a « Note interne », inserts the template
(placeholders filled), edits it and answers; A bulk-takes three « Nouveau » requests, one of which
B took meanwhile; the daily digest is queued and the caisse admin reads it in « Suivi › E-mails
envoyés ». Every page visited: lang="fr" and no serious or critical axe-core violation; one
screenshot per step in test-artifacts/screenshots/<test>/.
"""

import re
from datetime import datetime, timedelta, timezone

from browser_checks import assert_accessible
from playwright.sync_api import expect
from sqlalchemy import select

from backoffice.clock import PARIS, format_date, now
from backoffice.demo import factories
from backoffice.extensions import db
from backoffice.models import OutboxMessage, ReplyTemplate, Request, RequestStatus
from backoffice.services import digest
from backoffice.services.passwords import hash_password
from tests.dashboard_helpers import file, offer

TEMPLATE_TITLE = "Dossier reçu et étudié"
TEMPLATE_BODY = (
    "Bonjour {demandeur},\n\nLe dossier de {civilite_personne} {nom_personne} (demande N° {numero} du "
    "{date_depot}, {structure}) a été étudié.\n\nCordialement,\n{agent}"
)
ADDED = "La décision vous parviendra par courrier sous huit jours."
REASSIGN_NOTE = "Julie, tu connais cette structure : je te la confie."
INTERNAL_NOTE = "Appelé la structure le matin : le dossier est complet."


class Journey:
    """The browser contexts of the journey and the checks every page visited goes through."""

    def __init__(self, browser, live_server, steps):
        self.browser, self.live_server, self.steps = browser, live_server, steps
        self.contexts = []
        self.errors = []

    def sign_in(self, username: str, password: str):
        ctx = self.browser.new_context(
            base_url=self.live_server, viewport={"width": 1280, "height": 900}, locale="fr-FR"
        )
        ctx.set_default_timeout(10_000)
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        page.goto("/admin/connexion")
        self.seen(page, f"connexion-{username}")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/admin/(?!connexion)"))
        return page

    def seen(self, page, label: str) -> None:
        """A page of the journey: French, accessible, kept as a screenshot."""
        page.wait_for_load_state()
        assert page.evaluate("document.documentElement.lang") == "fr", page.url
        assert_accessible(page, label)
        self.steps.shot(page, label)

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


def _open_from_list(page, number: str) -> None:
    """The request screen, from the row's number in the list shown."""
    page.click(f"td.col-number a:text-is('{number}')")
    page.wait_for_url(re.compile(r"/admin/requests/traiter/\?id=\d+"))
    expect(page.locator("h1")).to_have_text(f"Demande N° {number}")


def _menu(page, category: str, item: str) -> None:
    page.click(f"nav a.dropdown-toggle:has-text('{category}')")
    page.click(f"nav a.dropdown-item:text-is('{item}')")
    page.wait_for_load_state()


def _flashed(page, message: str) -> None:
    """The page shows exactly this one flash (its close button « × » aside)."""
    expect(page.locator(".alert-dismissible")).to_have_text([re.compile(rf"^\s*{re.escape(message)}\s*×\s*$")])


def _status(number: str) -> tuple[str, int | None]:
    db.session.expire_all()
    req = db.session.scalars(select(Request).filter_by(number=number)).one()
    return req.status, req.taken_by_agent_id


def _digest_moment():
    """A moment past today's DIGEST_HOUR (Paris): now, or today at that hour when it is earlier."""
    paris = now().replace(tzinfo=timezone.utc).astimezone(PARIS)
    due = datetime(paris.year, paris.month, paris.day, digest.digest_hour(), 5, tzinfo=PARIS)
    return max(now(), due.astimezone(timezone.utc).replace(tzinfo=None))


def test_two_agents_and_their_caisse_admin_share_the_workspace(
    browser, live_server, world, gironde, tech, steps, password
):
    caisse, agent_a, admin = gironde["caisse"], gironde["agent"], gironde["admin"]
    agent_b = factories.agent(
        "agent2.gironde",
        caisse=caisse,
        first_name="Julie",
        last_name="FAURE",
        password_hash=hash_password(password),
    )
    db.session.commit()
    requests = [file(tech, caisse, now() - timedelta(hours=hours)) for hours in (30, 20, 10, 5, 2)]
    numbers = [r.number for r in requests]
    journey = Journey(browser, live_server, steps)
    try:
        _journey(journey, password, numbers, caisse, agent_a, agent_b, admin, requests[0])
        assert not journey.errors, journey.errors
    finally:
        journey.close()


def _journey(journey, password, numbers, caisse, agent_a, agent_b, admin, first):
    seen = journey.seen
    target = numbers[0]

    # --- 0. the caisse admin writes a reply template for the requests' offer ---------------------
    adm = journey.sign_in("admin.gironde", password)
    assert adm.url.endswith("/admin/a-traiter/")
    seen(adm, "admin-a-traiter")
    _menu(adm, "Organismes", "Modèles de réponse")
    expect(adm.locator("h1")).to_have_text("Modèles de réponse")
    seen(adm, "admin-modeles")
    adm.click("a:has-text('Créer')")
    adm.wait_for_url(re.compile(r"/admin/reply_templates/new/"))
    adm.fill("#title", TEMPLATE_TITLE)
    adm.fill("#body", TEMPLATE_BODY)
    adm.select_option("#service_offer", label=offer("file_review").label, force=True)
    seen(adm, "admin-modele-saisi")
    adm.click("input[type=submit][value='Enregistrer'], button:has-text('Enregistrer')")
    adm.wait_for_url(re.compile(r"/admin/reply_templates/(\?|$)"))
    _flashed(adm, "L'élément est créé.")
    expect(adm.locator("td.col-title")).to_have_text([TEMPLATE_TITLE])
    expect(adm.locator("td.col-for_whom")).to_have_text([offer("file_review").label])
    seen(adm, "admin-modele-cree")
    db.session.expire_all()
    template = db.session.scalars(select(ReplyTemplate)).one()
    assert (template.caisse_id, template.body, template.active) == (caisse.id, TEMPLATE_BODY, True)

    # --- 1. agent A lands on « À traiter » and takes the oldest request --------------------------
    a = journey.sign_in("agent.gironde", password)
    assert a.url.endswith("/admin/a-traiter/")
    expect(a.locator("h1")).to_have_text("À traiter")
    expect(a.locator("td.col-number a")).to_have_text(numbers)  # the oldest first
    a.click("nav a.dropdown-toggle:has-text('Demandes')")
    expect(a.locator("a.dropdown-item[href='/admin/a-traiter/']")).to_have_text("À traiter 5")
    expect(a.locator("a.dropdown-item[href='/admin/mes-demandes/']")).to_have_text("Mes demandes 0")
    seen(a, "a-a-traiter-compteurs")
    a.keyboard.press("Escape")
    _open_from_list(a, target)
    expect(a.locator("#status")).to_have_text("Nouveau")
    seen(a, "a-demande-nouvelle")
    a.click("button:has-text('Prendre en charge')")
    _flashed(a, f"Vous avez pris en charge la demande N° {target}.")
    expect(a.locator("#owner")).to_contain_text("Pris en charge par Paul GIRONDE, le ")
    expect(a.locator("#status")).to_have_text("Pris en charge")
    seen(a, "a-prise-en-charge")
    assert _status(target) == (RequestStatus.TAKEN.value, agent_a.id)

    # --- 2. agent B: the owner named, no « Répondre »; a forged answer is refused ----------------
    b = journey.sign_in("agent2.gironde", password)
    b.goto(f"/admin/requests/traiter/?id={first.id}")
    expect(b.locator("#owner")).to_contain_text("Pris en charge par Paul GIRONDE")
    expect(b.locator("#owner-notice")).to_have_text(
        "Cette demande est prise en charge par Paul GIRONDE : seul cet agent ou un administrateur de la caisse "
        "peut y répondre."
    )
    expect(b.locator("#answer-form")).to_have_count(0)
    expect(b.get_by_role("button", name="Répondre", exact=True)).to_have_count(0)
    seen(b, "b-demande-de-a")
    # B posts an answer anyway: a real form submit with B's own CSRF token (taken from the page).
    b.evaluate(
        """([id, text]) => {
          const form = document.createElement('form');
          form.method = 'post';
          form.action = '/admin/requests/repondre/';
          const token = document.querySelector('input[name=csrf_token]').value;
          for (const [name, value] of [['csrf_token', token], ['id', id], ['answer', text]]) {
            const input = document.createElement('input');
            input.type = 'hidden'; input.name = name; input.value = value;
            form.appendChild(input);
          }
          document.body.appendChild(form);
          form.submit();
        }""",
        [str(first.id), "Réponse de Julie, qui n'a pas la demande."],
    )
    b.wait_for_url(re.compile(rf"/admin/requests/traiter/\?id={first.id}$"))
    _flashed(
        b,
        "Cette demande est prise en charge par Paul GIRONDE : seul cet agent ou un administrateur de la caisse "
        "peut y répondre.",
    )
    expect(b.locator(".alert-danger")).to_have_count(1)
    expect(b.locator("#status")).to_have_text("Pris en charge")
    seen(b, "b-reponse-refusee")
    db.session.expire_all()
    assert _status(target) == (RequestStatus.TAKEN.value, agent_a.id)
    assert db.session.get(Request, first.id).answer is None

    # --- 3. A reassigns it to B with a note ----------------------------------------------------
    a.reload()
    a.select_option("#to_agent_id", label="Julie FAURE")
    a.fill("#reassign-note", REASSIGN_NOTE)
    seen(a, "a-reattribuer-saisi")
    a.click("#reassign-form button:has-text('Réattribuer')")
    _flashed(a, f"La demande N° {target} est réattribuée à Julie FAURE.")
    row = a.locator("#timeline tr.timeline-reassignment")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text(
        re.compile(rf"^\s*Réattribution : de Paul GIRONDE à Julie FAURE\s+{re.escape(REASSIGN_NOTE)}\s*$")
    )
    expect(row.locator("td").nth(2)).to_have_text("Paul GIRONDE (caisse)")
    expect(a.locator("#owner")).to_contain_text("Pris en charge par Julie FAURE")
    seen(a, "a-reattribuee")
    assert _status(target) == (RequestStatus.TAKEN.value, agent_b.id)
    mail = db.session.scalars(select(OutboxMessage).filter_by(kind="request_reassigned")).one()
    assert mail.recipient == agent_b.email
    assert mail.subject == f"Espace Partenaires - La demande N° {target} vous est réattribuée"

    b.goto("/admin/mes-demandes/")
    expect(b.locator("h1")).to_have_text("Mes demandes")
    expect(b.locator("td.col-number a")).to_have_text([target])
    b.click("nav a.dropdown-toggle:has-text('Demandes')")
    expect(b.locator("a.dropdown-item[href='/admin/mes-demandes/']")).to_have_text("Mes demandes 1")
    expect(b.locator("a.dropdown-item[href='/admin/a-traiter/']")).to_have_text("À traiter 4")
    seen(b, "b-mes-demandes")
    b.keyboard.press("Escape")

    # --- 4. B adds an internal note ------------------------------------------------------------
    _open_from_list(b, target)
    expect(b.locator("#owner-notice")).to_have_count(0)
    b.fill("#note-body", INTERNAL_NOTE)
    b.click("#note-form button:has-text('Ajouter la note')")
    _flashed(b, "La note interne est ajoutée à l'historique de la demande.")
    note = b.locator("#timeline tr.timeline-note")
    expect(note).to_have_count(1)
    expect(note.locator("td").nth(1)).to_have_text(re.compile(rf"^\s*Note interne\s+{re.escape(INTERNAL_NOTE)}\s*$"))
    expect(note.locator("td").nth(2)).to_have_text("Julie FAURE (caisse)")
    seen(b, "b-note-interne")

    # --- 5. B inserts the template, edits it and answers ---------------------------------------
    expect(b.locator("#answer-template option")).to_have_text(["Choisir un modèle", TEMPLATE_TITLE])
    b.select_option("#answer-template", label=TEMPLATE_TITLE)
    b.click("#answer-form button:has-text('Insérer')")
    b.wait_for_load_state()
    rendered = (
        f"Bonjour CHAUSSON Victor,\n\nLe dossier de Madame TUTU (demande N° {target} du "
        f"{format_date(first.deposited_at)}, Association Gironde) a été étudié.\n\nCordialement,\nJulie FAURE"
    )
    expect(b.locator("#answer")).to_have_value(rendered)
    assert _status(target) == (RequestStatus.TAKEN.value, agent_b.id)  # « Insérer » sends nothing
    seen(b, "b-modele-insere")
    b.locator("#answer").press("End")
    b.locator("#answer").press("Control+End")
    b.locator("#answer").type("\n" + ADDED)
    edited = rendered + "\n" + ADDED
    expect(b.locator("#answer")).to_have_value(edited)
    b.get_by_role("button", name="Répondre", exact=True).click()
    _flashed(b, "La réponse est enregistrée : la demande est résolue.")
    expect(b.locator("#status")).to_have_text("Résolu")
    answer_card = b.locator(".card", has=b.locator("h2:text-is('Réponse de la caisse')"))
    expect(answer_card.locator("p[style*=pre-wrap]")).to_have_text(edited)
    seen(b, "b-repondu")
    db.session.expire_all()
    resolved = db.session.get(Request, first.id)
    assert (resolved.status, resolved.answer, resolved.resolved_by_agent_id) == (
        RequestStatus.RESOLVED.value,
        edited,
        agent_b.id,
    )

    # --- 6. A ticks three « Nouveau » requests; B takes one of them meanwhile -------------------
    a.goto("/admin/a-traiter/")
    expect(a.locator("td.col-number a")).to_have_text(numbers[1:])
    for number in numbers[1:4]:
        a.check(f"input[aria-label='Sélectionner la demande N° {number}']")
    seen(a, "a-trois-cochees")
    b.goto("/admin/a-traiter/")
    _open_from_list(b, numbers[2])
    b.click("button:has-text('Prendre en charge')")
    _flashed(b, f"Vous avez pris en charge la demande N° {numbers[2]}.")
    seen(b, "b-prend-une-des-trois")
    a.click("text=Pour la sélection")
    a.click("[data-model-action=take]")
    a.wait_for_load_state()
    _flashed(a, "2 demandes prises en charge, 1 déjà prise par Julie FAURE")
    seen(a, "a-prise-en-charge-groupee")
    assert [_status(n) for n in numbers[1:]] == [
        (RequestStatus.TAKEN.value, agent_a.id),
        (RequestStatus.TAKEN.value, agent_b.id),
        (RequestStatus.TAKEN.value, agent_a.id),
        (RequestStatus.NEW.value, None),
    ]
    a.goto("/admin/mes-demandes/")
    expect(a.locator("td.col-number a")).to_have_text([numbers[1], numbers[3]])
    seen(a, "a-mes-demandes")

    # --- 7. the daily digest (on in B's « Mon compte »), read by the caisse admin in the outbox -
    b.click("nav a.nav-link:text-is('Mon compte')")
    expect(b.locator("h1")).to_have_text("Mon compte")
    expect(b.locator("#digest_enabled")).to_be_checked()
    seen(b, "b-mon-compte")
    moment = _digest_moment()
    day = format_date(moment.replace(tzinfo=timezone.utc).astimezone(PARIS).date())
    assert digest.send_digests(moment) == 3  # A, B and the caisse admin
    assert digest.send_digests(moment) == 0  # once a day
    subject = f"Espace Partenaires – Votre récapitulatif du {day}"
    _menu(adm, "Suivi", "E-mails envoyés")
    expect(adm.locator("h1")).to_have_text("E-mails envoyés")
    digests = adm.locator("tr", has=adm.locator("td.col-kind:text-is('Récapitulatif quotidien')"))
    expect(digests).to_have_count(3)
    expect(digests.locator("td.col-subject")).to_have_text([subject] * 3)
    recipients = [text.strip() for text in digests.locator("td.col-recipient").all_inner_texts()]
    assert sorted(recipients) == sorted([agent_a.email, agent_b.email, admin.email])
    reassigned = adm.locator("tr", has=adm.locator("td.col-kind:text-is('Demande réattribuée')"))
    expect(reassigned.locator("td.col-recipient")).to_have_text([agent_b.email])
    seen(adm, "admin-e-mails-envoyes")
    digests.filter(has=adm.locator(f"td.col-recipient:text-is('{agent_a.email}')")).locator(
        "a[title], a[aria-label]"
    ).first.click()
    adm.wait_for_url(re.compile(r"/admin/outbox/details/"))
    body = adm.locator("pre.ep-mail-body")
    for line in (
        f"Votre récapitulatif du {day}",
        "Bonjour Paul GIRONDE,",
        "Demandes en retard (« Nouveau » depuis plus de 48 h) : 0",
        "Nouvelles demandes (« Nouveau », dans le délai de 48 h) : 1",
        f"- N° {numbers[4]} déposée le ",
        "Vos demandes en cours (prises en charge par vous) : 2",
        f"- N° {numbers[1]} déposée le ",
        f"- N° {numbers[3]} déposée le ",
        "Messages en attente de votre réponse (« Message envoyé ») : 0",
    ):
        expect(body).to_contain_text(line)
    for other in (target, numbers[2]):  # B's, not in A's digest
        expect(body).not_to_contain_text(other)
    expect(adm.locator("td", has_text=subject)).to_have_count(1)
    seen(adm, "admin-recapitulatif-de-a")
