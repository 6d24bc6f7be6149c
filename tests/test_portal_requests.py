"""The technician's request pages end to end (SPEC §5: R-REQ-*, R-STA-2..4, R-HIS-*, R-TEN-3).

Everything goes through the portal's forms, as a browser without JavaScript would post them.
"""

import io
import re
from datetime import date, datetime, timedelta, timezone

import pytest
import time_machine
from helpers import add_convention, count, enter, location, make_account, page_text, set_dates
from sqlalchemy import select

from backoffice.clock import now, today
from backoffice.extensions import db
from backoffice.models import (
    Attachment,
    AttachmentContent,
    AuditEntry,
    PartnerRole,
    Request,
    RequestStatus,
    ServiceOffer,
    StagedUpload,
)
from backoffice.services import access as access_service
from backoffice.services import requests as rs
from backoffice.services import uploads
from backoffice.services.numbering import next_number

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = (  # a real 1×1 PNG: signature, IHDR, IDAT, IEND
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200
MB5 = 5 * 1024 * 1024
MULTIPART = {"content_type": "multipart/form-data"}


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture
def colleague(gironde):
    return make_account(
        gironde["structure"], "m.lapierre", first_name="Martine", usage_name="LAPIERRE", civility="Madame"
    )


@pytest.fixture
def portal(client, gironde, tech):
    """The client, logged in as the technician with CPAM GIRONDE selected."""
    enter(client, tech, gironde["caisse"])
    return client


def offer(code: str) -> ServiceOffer:
    return db.session.scalars(select(ServiceOffer).filter_by(code=code)).one()


def motive(gironde, code: str, label: str | None = None):
    motives = rs.motives_for(gironde["caisse"].id, offer(code))
    return next(m for m in motives if m.label == label) if label else motives[0]


def person(**extra) -> dict:
    data = {
        "person_civility": "Madame",
        "person_last_name": "tutu",
        "person_first_name": "joséphine",
        "person_birth_date": "10/10/1971",
        "person_birth_place": "44",
        "person_phone": "0700000000",
        "comment": "Hospitalisation en cours",
    }
    data.update(extra)
    return data


def files(*items) -> list:
    """[(bytes, name), …] → the multipart tuples of the test client (a fresh stream each time)."""
    return [(io.BytesIO(content), name) for content, name in items]


def pdfs(n: int, prefix: str = "PJ") -> list:
    return files(*[(PDF, f"{prefix}{i + 1}.pdf") for i in range(n)])


def post(client, url: str, data: dict):
    return client.post_form(url, data, **MULTIPART)


def staged_keys(response) -> list[str]:
    return re.findall(r'name="staged" value="([0-9a-f]+)"', response.get_data(as_text=True))


def staged_names(response) -> list[str]:
    body = response.get_data(as_text=True)
    return re.findall(r'<li class="ep-file" data-staged>[\s\S]*?<span class="ep-file-name">([^<]*)</span>', body)


def input_value(response, name: str) -> str | None:
    tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', response.get_data(as_text=True))
    value = tag and re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return value.group(1) if value else None


def flashed_number(response) -> str:
    match = re.search(r"Votre demande n° (\d{10}) a bien été envoyée à l'organisme CPAM GIRONDE\.", page_text(response))
    assert match, page_text(response)[:2000]
    return match.group(1)


def file_through_form(client, code: str, data: dict):
    """Post a deposit form; return (number, request) after following the redirect to the detail."""
    response = post(client, f"/demandes/nouvelle/{code}", data)
    assert response.status_code == 302, page_text(response)[:3000]
    detail = client.get(location(response))
    number = flashed_number(detail)
    assert location(response) == f"/demandes/{number}"
    return number, db.session.scalars(select(Request).filter_by(number=number)).one(), detail


def access_of(account, gironde):
    return access_service.access_for(account, gironde["caisse"].id)


def file_direct(account, gironde, code="file_review", keys=(), **extra) -> Request:
    """A request filed through the service (set-up for the history and detail tests)."""
    data = person(motive_id=motive(gironde, code).id, **extra)
    data["person_birth_date"] = date(1971, 10, 10)
    return rs.file_request(account, access_of(account, gironde), offer(code), data, list(keys))


def staged_for(owner, *items) -> list[str]:
    keys, errors = uploads.stage_with_keys(owner, list(items))
    assert not errors
    return keys


def seed(
    gironde,
    requester,
    *,
    code="file_review",
    motive_index=0,
    status=RequestStatus.NEW,
    deposited_at=None,
    last_name="TUTU",
    first_name="Joséphine",
    structure=None,
    caisse=None,
) -> Request:
    """A request row written directly (many of them, at chosen dates) for the history tests."""
    o = offer(code)
    caisse = caisse or gironde["caisse"]
    motives = rs.motives_for(caisse.id, o)
    request = Request(
        number=next_number(caisse),
        caisse_id=caisse.id,
        structure_id=(structure or gironde["structure"]).id,
        convention_id=gironde["convention"].id,
        service_offer_id=o.id,
        motive_id=motives[motive_index].id,
        requester_account_id=requester.id,
        requester_name=f"{requester.display_name} {requester.first_name}",
        person_civility="Madame",
        person_last_name=last_name,
        person_first_name=first_name,
        person_birth_date=date(1971, 10, 10),
        person_birth_place="44",
        person_phone="07.00.00.00.00",
        comment="Demande",
        details={},
        status=status.value,
        deposited_at=deposited_at or now(),
        status_changed_at=deposited_at or now(),
    )
    db.session.add(request)
    db.session.commit()
    return request


def numbers_listed(response) -> list[str]:
    return re.findall(r"Numéro de demande </span><strong>(\d{10})</strong>", response.get_data(as_text=True))


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc)


# --- deposit page (R-REQ-5) -------------------------------------------------------------------


def test_deposit_page_shows_one_card_per_offer_of_the_convention(portal, gironde):
    convention = gironde["convention"]
    convention.service_offers = [offer("contact"), offer("document")]
    db.session.commit()
    page = portal.get("/demandes/nouvelle")
    assert page.status_code == 200
    text = page_text(page)
    assert "Contacter votre organisme d'assurance Maladie" in text and "Demander un document" in text
    assert "Soumettre une demande d'étude de dossier" not in text
    assert text.count("Nouvelle demande :") == 2
    assert 'href="/demandes/nouvelle/contact"' in page.get_data(as_text=True)
    assert portal.get("/demandes/nouvelle/file_review").status_code == 404
    assert post(portal, "/demandes/nouvelle/file_review", person()).status_code == 404
    assert portal.get("/demandes/nouvelle/inconnue").status_code == 404


def test_a_manager_cannot_file(client, gironde):
    manager = gironde["manager"]
    manager.cgu_accepted_at = now()
    manager.password_changed_at = now()
    db.session.commit()
    enter(client, manager, gironde["caisse"])
    assert client.get("/demandes/nouvelle").status_code == 403
    assert client.get("/demandes/nouvelle/contact").status_code == 403
    data = {"motive_id": str(motive(gironde, "contact").id), "appointment_modes": ["Physique"], "comment": "Bonjour"}
    assert post(client, "/demandes/nouvelle/contact", data).status_code == 403
    assert client.get("/demandes").status_code == 403
    assert count(Request) == 0


def test_a_history_only_technician_cannot_file(client, gironde, tech):
    seed(gironde, tech)  # a request still being handled: R-ORG-4 after the end
    set_dates(gironde["convention"], today() - timedelta(days=400), today() - timedelta(days=2))
    enter(client, tech, gironde["caisse"])
    assert access_of(tech, gironde).history_only
    response = client.get("/demandes/nouvelle")
    assert location(response) == "/demandes"
    data = {"motive_id": str(motive(gironde, "contact").id), "appointment_modes": ["Physique"], "comment": "Bonjour"}
    response = post(client, "/demandes/nouvelle/contact", data)
    assert location(response) == "/demandes"
    assert "Vous ne pouvez plus déposer de nouvelles demandes" in page_text(client.get("/demandes"))
    assert count(Request) == 1


# --- the five forms (R-REQ-1..6) --------------------------------------------------------------


def test_the_forms_show_the_manual_wording(portal, gironde):
    text = page_text(portal.get("/demandes/nouvelle/difficulty"))
    for expected in (
        "Les champs précédés d'un astérisque* sont obligatoires.",
        "Motif de la demande *",
        "Sélectionner un motif",
        "Personne concernée",
        "Civilité * Madame Monsieur",
        "Nom *",
        "Prénom *",
        "Date de naissance *",
        "Lieu de naissance * (N° du Département de naissance ou Libellé du pays)",
        "Téléphone * XX.XX.XX.XX.XX",
        "fichiers acceptés pdf, word (.doc, .docx), excel (.xls, .xlsx, .csv), tiff, png, jpeg. "
        "Taille de pièce jointe maximum 5 Mo, 8 pièces jointes maximum.",
        "Glisser/déposer ou cliquer ici pour ajouter vos fichiers.",
        "Liste des pièces jointes 0/8",
        "Commentaires * (5000 caractères maximum)",
        "Aucune donnée de santé ne doit être saisie",
        "0/5000",
        "Consentement de l'assuré *",
        rs.CONSENT_TEXT,
        "Accompagnement santé sollicité dans le cadre de *",
        "Quels soins ne sont pas réalisés ?",
        "Depuis quand dure le renoncement ?",
        "Quelles en sont les causes ?",
        "Annuler VALIDER",
    ):
        assert expected in text, expected
    body = portal.get("/demandes/nouvelle/difficulty").get_data(as_text=True)
    assert 'type="file"' in body and "multiple" in body and 'enctype="multipart/form-data"' in body
    assert 'data-mask="phone"' in body and 'data-counter="comment-counter"' in body
    assert "requests.js" in body and "requests.css" in body

    contact = page_text(portal.get("/demandes/nouvelle/contact"))
    assert "Modalités de rendez vous * " in contact and "Téléphonique / Visio" in contact and "Physique" in contact
    assert "Personne concernée" not in contact and "Consentement" not in contact
    document = page_text(portal.get("/demandes/nouvelle/document"))
    assert "Documents *" in document and "Certificat provisoire CEAM" in document
    assert "Motif de la demande" not in document and "Pièces jointes" not in document
    appointment = page_text(portal.get("/demandes/nouvelle/appointment"))
    assert "Attention : Cette offre s'adresse uniquement aux personnes non autonomes" in appointment
    assert "Pièces jointes" not in appointment and "Capital décès" in appointment


def test_contact_is_filed_with_its_appointment_modes_and_files(portal, gironde):
    data = {
        "motive_id": str(motive(gironde, "contact", "Gérer la convention de partenariat").id),
        "appointment_modes": ["Téléphonique / Visio", "Physique"],
        "comment": "Je souhaite un rdv pour fixer les modalités de renouvellement de la convention.",
        "files": files((PDF, "PJ3.pdf"), (PNG, "PJ5.png")),
    }
    number, request, detail = file_through_form(portal, "contact", data)
    year = f"{now().year % 100:02d}"
    assert re.fullmatch(rf"{year}331\d{{5}}", number)
    assert request.details["appointment_modes"] == ["Téléphonique / Visio", "Physique"]
    assert request.person_last_name is None and request.status == RequestStatus.NEW.value
    assert sorted(a.filename for a in rs.partner_files(request)) == ["PJ3.pdf", "PJ5.png"]
    text = page_text(detail)
    assert "Modalités de rendez vous Téléphonique / Visio, Physique" in text
    assert "Personne Concernée" not in text
    assert count(StagedUpload) == 0


@pytest.mark.parametrize("code", ["difficulty", "file_review"])
def test_offers_with_a_person_and_files_are_filed(portal, gironde, code):
    data = person(motive_id=str(motive(gironde, code).id), files=files((PDF, "BS.pdf")))
    number, request, detail = file_through_form(portal, code, data)
    assert (request.person_last_name, request.person_first_name) == ("TUTU", "Joséphine")
    assert request.person_birth_date == date(1971, 10, 10)
    assert request.person_phone == "07.00.00.00.00" and request.person_birth_place == "44"
    assert [a.filename for a in rs.partner_files(request)] == ["BS.pdf"]
    text = page_text(detail)
    assert "Personne Concernée Madame TUTU Joséphine" in text
    assert "Date de naissance 10/10/1971" in text and "Téléphone 07.00.00.00.00" in text


def test_appointment_is_filed_and_takes_no_files(portal, gironde):
    data = person(
        motive_id=str(motive(gironde, "appointment", "Capital décès").id),
        person_civility="Madame",
        person_last_name="pires",
        person_first_name="marina",
        person_birth_date="1980-02-01",
        person_birth_place="29",
        person_phone="06.00.00.00.00",
        comment="Demande de capital décès pour son mari décédé.",
        files=files((PDF, "ignored.pdf")),
    )
    number, request, detail = file_through_form(portal, "appointment", data)
    assert request.motive.label == "Capital décès" and request.person_birth_date == date(1980, 2, 1)
    assert rs.partner_files(request) == [] and count(StagedUpload) == 0


def test_document_is_filed_with_several_documents(portal, gironde):
    first = motive(gironde, "document", "Attestation de droits")
    other = motive(gironde, "document", "Certificat provisoire CEAM")
    data = person(
        documents=[str(first.id), str(other.id)],
        person_last_name="chemin",
        person_first_name="marie",
        comment="L'assurée a perdu son portefeuille.",
    )
    number, request, detail = file_through_form(portal, "document", data)
    assert request.details["documents"] == ["Attestation de droits", "Certificat provisoire CEAM"]
    assert "Motif Attestation de droits, Certificat provisoire CEAM" in page_text(detail)


def test_the_field_rules_give_french_messages_and_keep_what_was_typed(portal, gironde):
    tomorrow = (today() + timedelta(days=2)).strftime("%d/%m/%Y")
    data = person(
        motive_id=str(motive(gironde, "file_review").id),
        person_last_name="Dupont2",
        person_first_name="",
        person_birth_date=tomorrow,
        person_phone="06.00.00",
        person_birth_place="Bordeaux 33",
        comment="Un commentaire",
    )
    response = post(portal, "/demandes/nouvelle/file_review", data)
    assert response.status_code == 200
    text = page_text(response)
    assert "Votre demande n'a pas été envoyée" in text
    assert "Nom : seuls les lettres, l'apostrophe, le tiret et l'espace sont autorisés." in text
    assert "Veuillez renseigner le prénom de la personne concernée." in text
    assert "La date de naissance doit être une date passée réelle" in text
    assert "Le numéro de téléphone doit respecter le format XX.XX.XX.XX.XX." in text
    assert "Lieu de naissance : un N° de département" in text
    assert input_value(response, "person_last_name") == "Dupont2"
    assert input_value(response, "person_phone") == "06.00.00"
    assert "Un commentaire" in text and count(Request) == 0
    missing = post(portal, "/demandes/nouvelle/file_review", {"comment": ""})
    assert "Veuillez sélectionner un motif." in page_text(missing)
    assert "Veuillez saisir un commentaire." in page_text(missing)
    assert "Veuillez choisir la civilité de la personne concernée." in page_text(missing)
    contact = post(
        portal, "/demandes/nouvelle/contact", {"motive_id": str(motive(gironde, "contact").id), "comment": "x"}
    )
    assert "Sélectionnez la ou les modalités de rendez-vous." in page_text(contact)
    document = post(portal, "/demandes/nouvelle/document", person())
    assert "Sélectionnez un ou plusieurs documents." in page_text(document)
    # a motive of another offer is not one of this form's motives
    other = post(portal, "/demandes/nouvelle/file_review", person(motive_id=str(motive(gironde, "appointment").id)))
    assert "Veuillez sélectionner un motif." in page_text(other)
    assert count(Request) == 0


def test_comment_of_5000_characters_is_accepted_5001_refused(portal, gironde):
    base = {"motive_id": str(motive(gironde, "appointment").id)}
    refused = post(portal, "/demandes/nouvelle/appointment", person(comment="é" * 5001, **base))
    assert refused.status_code == 200
    assert "Le commentaire ne doit pas dépasser 5000 caractères (5001 saisis)." in page_text(refused)
    assert count(Request) == 0
    number, request, _ = file_through_form(portal, "appointment", person(comment="é" * 5000, **base))
    assert len(request.comment) == 5000


def test_nine_files_are_refused_eight_kept_and_filed(portal, gironde):
    data = person(motive_id=str(motive(gironde, "file_review").id), files=pdfs(9))
    response = post(portal, "/demandes/nouvelle/file_review", data)
    assert response.status_code == 200 and count(Request) == 0
    assert "Le fichier « PJ9.pdf » n'a pas été ajouté : 8 pièces jointes maximum." in page_text(response)
    assert staged_names(response) == [f"PJ{i}.pdf" for i in range(1, 9)]
    assert "Liste des pièces jointes 8/8" in page_text(response)
    keys = staged_keys(response)
    # the next try with one more new file is refused again; with the eight alone it is filed
    again = post(portal, "/demandes/nouvelle/file_review", dict(data, staged=keys, files=pdfs(1, "extra")))
    assert "n'a pas été ajouté : 8 pièces jointes maximum." in page_text(again) and count(Request) == 0
    number, request, _ = file_through_form(portal, "file_review", dict(data, staged=staged_keys(again), files=[]))
    assert len(rs.partner_files(request)) == 8


def test_five_megabytes_accepted_one_byte_more_refused(portal, gironde):
    exact = PDF[: -len(b"%%EOF\n")] + b"%" * (MB5 - len(PDF)) + b"%%EOF\n"
    over = exact + b"0"
    data = person(motive_id=str(motive(gironde, "file_review").id), files=files((over, "gros.pdf")))
    response = post(portal, "/demandes/nouvelle/file_review", data)
    assert "Le fichier « gros.pdf » est refusé : la taille d'une pièce jointe est limitée à 5 Mo." in page_text(
        response
    )
    assert count(Request) == 0 and count(StagedUpload) == 0
    number, request, detail = file_through_form(portal, "file_review", dict(data, files=files((exact, "juste.pdf"))))
    [attachment] = rs.partner_files(request)
    assert attachment.size == MB5 and attachment.filename == "juste.pdf"


def test_an_exe_renamed_pdf_is_refused_and_nothing_else_is_lost(portal, gironde):
    data = person(
        motive_id=str(motive(gironde, "difficulty", "Droits").id),
        person_last_name="PAIN",
        person_first_name="François",
        person_birth_date="1970-10-05",
        person_birth_place="24",
        person_phone="06.00.00.00.00",
        comment="L'assuré a besoin d'aide",
        files=files((PDF, "PJ1.pdf"), (EXE, "facture.pdf"), (PNG, "PJ2.png")),
    )
    response = post(portal, "/demandes/nouvelle/difficulty", data)
    assert response.status_code == 200 and count(Request) == 0
    text = page_text(response)
    assert "Le fichier « facture.pdf » est refusé : son contenu ne correspond pas à un fichier .pdf." in text
    assert staged_names(response) == ["PJ1.pdf", "PJ2.png"]
    assert input_value(response, "person_last_name") == "PAIN"
    assert input_value(response, "person_first_name") == "François"
    assert input_value(response, "person_birth_date") == "1970-10-05"
    assert input_value(response, "person_phone") == "06.00.00.00.00"
    assert "L'assuré a besoin d'aide</textarea>" in response.get_data(as_text=True).replace("&#39;", "'")
    droits = motive(gironde, "difficulty", "Droits")
    assert f'<option value="{droits.id}" selected>Droits</option>' in response.get_data(as_text=True)
    assert '<input type="radio" name="person_civility" value="Madame" checked>' in response.get_data(as_text=True)
    # resubmitting as the page now stands files the request with the two good files
    resubmit = dict(data, files=[], staged=staged_keys(response))
    number, request, _ = file_through_form(portal, "difficulty", resubmit)
    assert [a.filename for a in rs.partner_files(request)] == ["PJ1.pdf", "PJ2.png"]


def test_new_files_of_a_form_that_goes_through_are_written_once(portal, gironde, count_queries):
    """Files are staged only when the form comes back; a form that goes through writes its new
    files once, beside those kept from an earlier try, in the order they were given."""
    data = person(motive_id=str(motive(gironde, "file_review").id))
    first = post(portal, "/demandes/nouvelle/file_review", dict(data, person_phone="12", files=files((PDF, "a.pdf"))))
    assert staged_names(first) == ["a.pdf"] and count(StagedUpload) == 1
    with count_queries() as sent:
        number, request, _ = file_through_form(
            portal, "file_review", dict(data, staged=staged_keys(first), files=files((PNG, "b.png"), (PDF, "c.pdf")))
        )
    assert not [s for s in sent if s.lstrip().upper().startswith("INSERT INTO STAGED_UPLOAD")]
    attached = rs.partner_files(request)
    assert [a.filename for a in attached] == ["a.pdf", "b.png", "c.pdf"]
    contents = {a.filename: db.session.get(AttachmentContent, a.id).data for a in attached}
    assert contents == {"a.pdf": PDF, "b.png": PNG, "c.pdf": PDF}
    assert count(StagedUpload) == 0


def test_a_kept_file_can_be_removed_without_javascript(portal, gironde, tech):
    data = person(
        motive_id=str(motive(gironde, "file_review").id), files=files((PDF, "garder.pdf"), (PDF, "retirer.pdf"))
    )
    first = post(portal, "/demandes/nouvelle/file_review", dict(data, person_phone="12"))
    keys = staged_keys(first)
    assert staged_names(first) == ["garder.pdf", "retirer.pdf"]
    removed = post(portal, "/demandes/nouvelle/file_review", dict(data, files=[], staged=keys, discard=keys[1]))
    assert removed.status_code == 200 and count(Request) == 0
    assert staged_names(removed) == ["garder.pdf"]
    assert "n'a pas été envoyée" not in page_text(removed)  # removing a file is not an error
    assert count(StagedUpload) == 1


def test_staged_keys_of_another_account_are_ignored(portal, gironde, colleague):
    foreign = staged_for(colleague, ("secret.pdf", PDF))
    data = person(motive_id=str(motive(gironde, "file_review").id), staged=foreign)
    number, request, _ = file_through_form(portal, "file_review", data)
    assert rs.partner_files(request) == [] and count(StagedUpload) == 1


def test_saisine_needs_the_consent_and_its_answers(portal, gironde):
    saisine = motive(gironde, "difficulty", rs.SAISINE_MOTIVE)
    data = person(motive_id=str(saisine.id))
    response = post(portal, "/demandes/nouvelle/difficulty", data)
    text = page_text(response)
    assert "Le consentement de l'assuré est obligatoire pour ce motif." in text
    assert "Sélectionnez la ou les réponses : accompagnement santé sollicité dans le cadre de." in text
    assert count(Request) == 0


def test_renunciation_blocks_are_ignored_without_a_renunciation_answer(portal, gironde):
    saisine = motive(gironde, "difficulty", rs.SAISINE_MOTIVE)
    follow_up = {"care": [rs.CARE[0]], "duration": rs.DURATION[2], "causes": [rs.CAUSES[1]]}
    data = person(motive_id=str(saisine.id), consent="y", accompaniment=["Fragilité face au numérique"], **follow_up)
    number, request, detail = file_through_form(portal, "difficulty", data)
    assert request.details["consent"] is True and request.details["accompaniment"] == ["Fragilité face au numérique"]
    assert "care" not in request.details and "duration" not in request.details and "causes" not in request.details
    assert "Quels soins ne sont pas réalisés ?" not in page_text(detail)

    data = dict(data, accompaniment=[rs.RENUNCIATION[0], "Situation sociale complexe"])
    number, request, detail = file_through_form(portal, "difficulty", data)
    assert request.details["care"] == [rs.CARE[0]] and request.details["duration"] == rs.DURATION[2]
    assert request.details["causes"] == [rs.CAUSES[1]]
    text = page_text(detail)
    assert f"Consentement de l'assuré Oui — {rs.CONSENT_TEXT}" in text
    assert "Depuis quand dure le renoncement ? Plus d'1 an" in text


def test_another_motive_ignores_the_saisine_blocks(portal, gironde):
    data = person(
        motive_id=str(motive(gironde, "difficulty", "Droits").id), accompaniment=[rs.RENUNCIATION[0]], care=[rs.CARE[0]]
    )
    number, request, _ = file_through_form(portal, "difficulty", data)
    assert request.details == {}


# --- history (R-HIS-1..3) ---------------------------------------------------------------------


@pytest.fixture
def history_rows(gironde, tech, colleague, world):
    """Requests of the structure at known dates, plus others that must never show."""
    base = datetime(2026, 2, 16, 15, 30)  # 16h30 in Paris
    rows = {
        "old": seed(gironde, tech, code="contact", deposited_at=base - timedelta(days=30), last_name="ALPHA"),
        "taken": seed(
            gironde,
            colleague,
            code="appointment",
            status=RequestStatus.TAKEN,
            deposited_at=base - timedelta(days=10),
            last_name="BRAVO",
            first_name="Bernard",
        ),
        "resolved": seed(
            gironde,
            tech,
            code="file_review",
            motive_index=2,
            status=RequestStatus.RESOLVED,
            deposited_at=base - timedelta(days=1),
            last_name="CHARLIE",
        ),
        "new": seed(gironde, colleague, code="file_review", deposited_at=base, last_name="PRINCE", first_name="Marius"),
    }
    cancelled = seed(gironde, tech, status=RequestStatus.CANCELLED, deposited_at=base)
    other_structure = add_convention(
        world["oise"]["structure"], gironde["caisse"], today() - timedelta(days=10), today() + timedelta(days=100)
    )
    stranger = make_account(world["oise"]["structure"], "s.etranger")
    foreign = seed(gironde, stranger, structure=world["oise"]["structure"], deposited_at=base)
    foreign.convention_id = other_structure.id
    db.session.commit()
    rows["hidden"] = [cancelled.number, foreign.number]
    return rows


def test_history_lists_the_structure_requests_newest_first(portal, history_rows):
    page = portal.get("/demandes")
    assert page.status_code == 200
    expected = [history_rows[k].number for k in ("new", "resolved", "taken", "old")]
    assert numbers_listed(page) == expected
    text = page_text(page)
    assert text.count("1-4 sur 4 résultats") == 2  # above and below the list
    assert "16/02/2026 16h30min" in text
    assert "Demandeur : LAPIERRE Martine" in text and "Personne concernée : Madame PRINCE Marius" in text
    assert "Pris en charge" in text and "Résolu" in text and "Consulter le détail" in text
    for hidden in history_rows["hidden"]:
        assert hidden not in text


@pytest.mark.parametrize(
    "args, keys",
    [
        ({"number": "NUMBER:new"}, ["new"]),
        ({"requester": "ACCOUNT:colleague"}, ["new", "taken"]),
        ({"person": "bravo"}, ["taken"]),
        ({"person": "mari"}, ["new"]),
        ({"offer": "OFFER:file_review"}, ["new", "resolved"]),
        ({"status": "resolved"}, ["resolved"]),
        ({"motive": "MOTIVE:file_review:2"}, ["resolved"]),
        ({"date_from": "2026-02-06"}, ["new", "resolved", "taken"]),
        ({"date_to": "15/02/2026"}, ["resolved", "taken", "old"]),
        ({"date_from": "06/02/2026", "date_to": "2026-02-15"}, ["resolved", "taken"]),
    ],
)
def test_each_history_criterion_filters(portal, gironde, tech, colleague, history_rows, args, keys):
    resolved = {}
    for name, value in args.items():
        if value.startswith("NUMBER:"):
            value = history_rows[value.split(":")[1]].number
        elif value.startswith("ACCOUNT:"):
            value = str(colleague.id)
        elif value.startswith("OFFER:"):
            value = str(offer(value.split(":")[1]).id)
        elif value.startswith("MOTIVE:"):
            _, code, index = value.split(":")
            value = str(rs.motives_for(gironde["caisse"].id, offer(code))[int(index)].id)
        resolved[name] = value
    page = portal.get("/demandes", query_string=resolved)
    assert page.status_code == 200
    assert numbers_listed(page) == [history_rows[k].number for k in keys]
    assert f"1-{len(keys)} sur {len(keys)} résultat" in page_text(page)


def test_a_number_prefix_finds_the_requests_that_start_with_it(portal, history_rows):
    prefix = history_rows["new"].number[:5]
    assert len(numbers_listed(portal.get("/demandes", query_string={"number": prefix}))) == 4


@pytest.mark.parametrize(
    "args, message",
    [
        ({"number": "26331abc"}, "Le numéro de demande ne contient que des chiffres (10 caractères)."),
        ({"number": "12345678901"}, "Le numéro de demande ne contient que des chiffres (10 caractères)."),
        ({"date_from": "31/02/2026"}, "La date de début de dépôt doit être une date valide au format JJ/MM/AAAA."),
        (
            {"date_from": "2026-02-10", "date_to": "2026-02-01"},
            "La date de fin de dépôt doit être postérieure à la date de début de dépôt.",
        ),
        ({"status": "cancelled"}, "Veuillez sélectionner un statut de la liste."),
        ({"offer": "x"}, "Veuillez sélectionner une offre de service de la liste."),
    ],
)
def test_bad_criteria_give_a_french_message(portal, history_rows, args, message):
    page = portal.get("/demandes", query_string=args)
    assert page.status_code == 200
    assert message in page_text(page) and numbers_listed(page) == []


def test_technical_parameters_fall_back_silently(portal, history_rows):
    page = portal.get("/demandes", query_string={"page": "abc", "per_page": "1000", "sort": "password", "order": "up"})
    assert page.status_code == 200 and len(numbers_listed(page)) == 4


def test_sort_and_order(portal, history_rows):
    by_person = portal.get("/demandes", query_string={"sort": "person", "order": "asc"})
    assert numbers_listed(by_person) == [history_rows[k].number for k in ("old", "taken", "resolved", "new")]
    by_person_desc = portal.get("/demandes", query_string={"sort": "person", "order": "desc"})
    assert numbers_listed(by_person_desc) == [history_rows[k].number for k in ("new", "resolved", "taken", "old")]
    by_number = portal.get("/demandes", query_string={"sort": "number", "order": "asc"})
    assert numbers_listed(by_number) == sorted(numbers_listed(by_number))
    oldest_first = portal.get("/demandes", query_string={"order": "asc"})
    assert numbers_listed(oldest_first) == [history_rows[k].number for k in ("old", "taken", "resolved", "new")]
    body = oldest_first.get_data(as_text=True)
    assert '<option value="asc" selected>A-Z</option>' in body and ">Z-A</option>" in body
    for label in (
        "Date de dépôt",
        "Numéro de demande",
        "Statut",
        "Demandeur",
        "Personne concernée",
        "Offre de service",
    ):
        assert f">{label}</option>" in body


def test_page_size_and_pagination_keep_the_criteria(portal, gironde, tech):
    start = datetime(2026, 1, 1, 9, 0)
    for i in range(25):
        seed(gironde, tech, deposited_at=start + timedelta(hours=i), last_name="SERIE")
    seed(gironde, tech, status=RequestStatus.RESOLVED, deposited_at=start, last_name="AUTRE")
    page = portal.get("/demandes", query_string={"status": "new"})
    text = page_text(page)
    assert text.count("1-10 sur 25 résultats") == 2 and len(numbers_listed(page)) == 10
    body = page.get_data(as_text=True)
    assert body.count("Suivant</a>") == 2 and body.count("Précédent</span>") == 2
    next_link = re.search(r'<a href="([^"]+)" rel="next">Suivant</a>', body).group(1).replace("&amp;", "&")
    assert "status=new" in next_link and "page=2" in next_link
    second = portal.get(next_link)
    assert "11-20 sur 25 résultats" in page_text(second) and len(numbers_listed(second)) == 10
    third = portal.get("/demandes", query_string={"status": "new", "page": 3})
    assert "21-25 sur 25 résultats" in page_text(third) and len(numbers_listed(third)) == 5
    assert 'aria-current="page" class="ep-current">3</a>' in third.get_data(as_text=True)
    twenty = portal.get("/demandes", query_string={"status": "new", "per_page": 20})
    assert "1-20 sur 25 résultats" in page_text(twenty) and len(numbers_listed(twenty)) == 20
    assert "per_page=20" in re.search(r'<a href="([^"]+)" rel="next"', twenty.get_data(as_text=True)).group(1)
    fifty = portal.get("/demandes", query_string={"per_page": 50})
    assert "1-26 sur 26 résultats" in page_text(fifty) and "Suivant</a>" not in fifty.get_data(as_text=True)
    past_the_end = portal.get("/demandes", query_string={"status": "new", "page": 9})
    assert "21-25 sur 25 résultats" in page_text(past_the_end)


def test_history_criteria_form_and_the_motive_list(portal, gironde, history_rows):
    page = portal.get("/demandes")
    text = page_text(page)
    for label in (
        "Numéro de demande",
        "Demandeur",
        "Personne concernée",
        "Offre de service",
        "Statut",
        "Motif",
        "Date de début de dépôt",
        "Date de fin de dépôt",
        "Réinitialisation des filtres",
        "Rechercher",
        "Affichage",
        "Trier par",
    ):
        assert label in text, label
    body = page.get_data(as_text=True)
    assert 'maxlength="10"' in body
    assert '<a class="ep-link-button" href="/demandes">Réinitialisation des filtres</a>' in body
    statuses = re.search(r'<select id="status"[\s\S]*?</select>', body).group(0)
    assert [label for label in re.findall(r">([^<]+)</option>", statuses)][1:] == [
        "Nouveau",
        "Pris en charge",
        "Résolu",
        "Message envoyé",
        "Message reçu",
        "Clôturé",
    ]
    motives = re.search(r'<select id="motive"[\s\S]*?</select>', body).group(0)
    groups = re.findall(r'<optgroup label="([^"]+)" data-offer="(\d+)">', motives)
    assert [html_label for html_label, _ in groups][0].startswith("Contacter votre organisme")
    assert len(groups) == 5
    for o in gironde["convention"].service_offers:
        group = re.search(rf'<optgroup label="[^"]+" data-offer="{o.id}">([\s\S]*?)</optgroup>', motives).group(1)
        expected = [m.id for m in rs.motives_for(gironde["caisse"].id, o)]
        assert [int(i) for i in re.findall(r'<option value="(\d+)" data-offer="%d"' % o.id, group)] == expected
    sizes = re.search(r'<select id="per_page"[\s\S]*?</select>', body).group(0)
    assert re.findall(r">(\d+)</option>", sizes) == ["10", "20", "50"]


def test_history_query_count_does_not_grow_with_the_page_size(portal, gironde, tech, colleague, count_queries):
    for i in range(50):
        seed(
            gironde,
            tech if i % 2 else colleague,
            code=["contact", "file_review", "document"][i % 3],
            deposited_at=datetime(2026, 1, 1) + timedelta(hours=i),
        )
    portal.get("/demandes")  # warm-up
    with count_queries() as ten:
        page = portal.get("/demandes", query_string={"per_page": 10})
    assert len(numbers_listed(page)) == 10
    with count_queries() as fifty:
        page = portal.get("/demandes", query_string={"per_page": 50})
    assert len(numbers_listed(page)) == 50
    assert len(fifty) == len(ten), (len(ten), len(fifty))
    assert len(ten) < 25, ten


# --- detail (R-HIS-4) and received files ------------------------------------------------------


def answered(gironde, tech, answer_files=(("reponse.pdf", PDF),), **extra) -> Request:
    request = file_direct(tech, gironde, keys=staged_for(tech, ("Att sur honneur.pdf", PDF), ("BS.pdf", PDF)), **extra)
    keys = staged_for(gironde["agent"], *answer_files) if answer_files else []
    rs.take_request(gironde["agent"], request)
    rs.answer_request(gironde["agent"], request, "Prise en charge faite", keys)
    return request


def test_detail_shows_the_four_blocks(portal, gironde, tech):
    request = answered(gironde, tech)
    page = portal.get(f"/demandes/{request.number}")
    assert page.status_code == 200
    text = page_text(page)
    for expected in (
        "Revenir à l'historique",
        f"Numéro demande {request.number}",
        "Date de dépôt ",
        "Demandeur CHAUSSON Victor",
        "Date statut ",
        "Statut de la demande Résolu",
        "Offre de service Soumettre une demande d'étude de dossier",
        f"Motif {motive(gironde, 'file_review').label}",
        "Personne Concernée Madame TUTU Joséphine",
        "Date de naissance 10/10/1971",
        "Lieu de naissance 44",
        "Téléphone 07.00.00.00.00",
        "Commentaire Hospitalisation en cours",
        "Réponse Prise en charge faite",
        "PJ envoyée(s) Att sur honneur.pdf BS.pdf (par sécurité, le contenu des PJ déposées n'est pas consultable)",
        "PJ reçue(s) reponse.pdf",
    ):
        assert expected in text, expected
    body = page.get_data(as_text=True)
    received = db.session.scalars(select(Attachment).filter_by(request_id=request.id, side="caisse")).one()
    assert f'href="/demandes/{request.number}/pj/{received.id}"' in body
    # the partner's own files are names only: no link to them
    for own in rs.partner_files(request):
        assert f'/pj/{own.id}"' not in body
    assert "Annuler la demande" not in text and "Compléter la demande" not in text


def test_detail_without_answer_nor_received_file(portal, gironde, tech):
    request = file_direct(tech, gironde)
    text = page_text(portal.get(f"/demandes/{request.number}"))
    assert "Aucune pièce jointe reçue." in text and "Réponse" not in text
    assert "Statut de la demande Nouveau" in text
    assert "Annuler la demande" in text and "Compléter la demande" in text


def test_received_file_is_downloadable_until_day_15_then_expired(app, gironde, tech):
    request = answered(gironde, tech)
    received = db.session.scalars(select(Attachment).filter_by(request_id=request.id, side="caisse")).one()
    url = f"/demandes/{request.number}/pj/{received.id}"
    limit = utc(received.uploaded_at + timedelta(days=15))
    with time_machine.travel(limit - timedelta(seconds=1), tick=False):
        client = app.test_client()
        enter(client, tech, gironde["caisse"])
        response = client.get(url)
        assert response.status_code == 200
        assert response.data == PDF
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert "reponse.pdf" in response.headers["Content-Disposition"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response.headers["Cache-Control"]
        assert "reponse.pdf" in page_text(client.get(f"/demandes/{request.number}"))
    entry = db.session.scalars(select(AuditEntry).filter_by(action="attachment.download")).one()
    assert entry.actor_id == tech.id and entry.target_id == received.id and entry.caisse_id == gironde["caisse"].id
    with time_machine.travel(limit, tick=False):
        client = app.test_client()
        enter(client, tech, gironde["caisse"])
        response = client.get(url)
        assert response.status_code == 410 and "expiré" in page_text(response)
        detail = client.get(f"/demandes/{request.number}")
        assert "reponse.pdf expirée" in page_text(detail)
        assert f'href="{url}"' not in detail.get_data(as_text=True)
    assert count(AuditEntry, AuditEntry.action == "attachment.download") == 1


def test_only_the_caisse_files_of_that_request_are_served(portal, gironde, tech):
    request = answered(gironde, tech)
    other = answered(gironde, tech)
    own = rs.partner_files(request)[0]
    foreign = db.session.scalars(select(Attachment).filter_by(request_id=other.id, side="caisse")).one()
    assert portal.get(f"/demandes/{request.number}/pj/{own.id}").status_code == 404
    assert portal.get(f"/demandes/{request.number}/pj/{foreign.id}").status_code == 404
    assert portal.get(f"/demandes/{request.number}/pj/999999").status_code == 404
    assert portal.get(f"/demandes/{other.number}/pj/{foreign.id}").status_code == 200


def test_unknown_or_malformed_numbers_are_404(portal):
    assert portal.get("/demandes/2633199999").status_code == 404
    assert portal.get("/demandes/abc").status_code == 404


# --- while 'Nouveau' (R-STA-2) ----------------------------------------------------------------


def test_complete_within_the_total_of_eight(portal, gironde, tech):
    keys = staged_for(tech, *[(f"PJ{i}.pdf", PDF) for i in range(1, 7)])
    request = file_direct(tech, gironde, keys=keys, comment="Demande de rééquilibrage budgétaire.")
    page = portal.get(f"/demandes/{request.number}/completer")
    text = page_text(page)
    assert f"Compléter la demande n° {request.number}" in text
    assert "Taille de pièce jointe maximum 5 Mo, 2 pièces jointes maximum." in text
    assert "Demande de rééquilibrage budgétaire.</textarea>" in page.get_data(as_text=True)
    url = f"/demandes/{request.number}/completer"
    comment = "Demande de rééquilibrage budgétaire.\nJe vous joins des factures supplémentaires."
    too_many = post(portal, url, {"comment": comment, "files": pdfs(3, "facture")})
    assert "Le fichier « facture3.pdf » n'a pas été ajouté : 2 pièces jointes maximum." in page_text(too_many)
    assert staged_names(too_many) == ["facture1.pdf", "facture2.pdf"]
    assert len(rs.partner_files(request)) == 6
    done = post(portal, url, {"comment": comment, "staged": staged_keys(too_many)})
    assert location(done) == f"/demandes/{request.number}"
    detail = portal.get(location(done))
    assert "La demande a bien été prise en compte." in page_text(detail)
    db.session.refresh(request)
    assert request.comment == comment and len(rs.partner_files(request)) == 8
    assert "Je vous joins des factures supplémentaires." in page_text(detail)
    full = page_text(portal.get(url))
    assert "le nombre maximum de pièces jointes est atteint." in full
    assert "Glisser/déposer" not in full
    refused = post(portal, url, {"comment": comment, "files": pdfs(1, "encore")})
    assert "n'a pas été ajouté" in page_text(refused) and len(rs.partner_files(request)) == 8
    empty = post(portal, url, {"comment": ""})
    assert "Veuillez saisir un commentaire." in page_text(empty)


def test_cancel_needs_a_reason_and_the_confirmation_then_leaves_the_history(portal, gironde, tech):
    request = file_direct(tech, gironde)
    url = f"/demandes/{request.number}/annuler"
    page = page_text(portal.get(url))
    assert f"Annulation de la demande n° {request.number}." in page
    assert "Sélectionner le motif de l'annulation *" in page and "Je confirme l'annulation" in page
    for reason in rs.CANCEL_REASONS:
        assert reason in page
    missing = post(portal, url, {"reason": "", "confirm": ""})
    assert "Veuillez sélectionner le motif de l'annulation." in page_text(missing)
    assert "Veuillez confirmer l'annulation." in page_text(missing)
    unconfirmed = post(portal, url, {"reason": rs.CANCEL_REASONS[0]})
    assert "Veuillez confirmer l'annulation." in page_text(unconfirmed)
    assert "selected>La demande a déjà été faite" in unconfirmed.get_data(as_text=True)
    done = post(portal, url, {"reason": rs.CANCEL_REASONS[0], "confirm": "y"})
    assert location(done) == "/demandes"
    history = portal.get("/demandes")
    assert f"La demande n° {request.number} a été annulée." in page_text(history)
    assert "supprimée de la liste des demandes affichées dans l'historique des demandes" in page_text(history)
    assert request.number not in numbers_listed(history)
    db.session.refresh(request)
    assert request.status == RequestStatus.CANCELLED.value and request.cancel_reason == rs.CANCEL_REASONS[0]
    assert portal.get(f"/demandes/{request.number}").status_code == 404


def test_a_taken_request_can_no_longer_be_completed_nor_cancelled(portal, gironde, tech):
    request = file_direct(tech, gironde)
    rs.take_request(gironde["agent"], request)
    assert "Compléter la demande" not in page_text(portal.get(f"/demandes/{request.number}"))
    response = post(portal, f"/demandes/{request.number}/completer", {"comment": "Ajout"})
    assert location(response) == f"/demandes/{request.number}"
    response = post(portal, f"/demandes/{request.number}/annuler", {"reason": rs.CANCEL_REASONS[1], "confirm": "y"})
    assert location(response) == f"/demandes/{request.number}"
    assert "ne peut plus être annulée" in page_text(portal.get(location(response)))
    db.session.refresh(request)
    assert request.status == RequestStatus.TAKEN.value and request.comment == "Hospitalisation en cours"


def test_complete_and_cancel_are_dialogs_over_working_pages(portal, gironde, tech):
    request = file_direct(tech, gironde)
    body = portal.get(f"/demandes/{request.number}").get_data(as_text=True)
    assert f'href="/demandes/{request.number}/annuler" data-dialog="dialog-cancel"' in body
    assert f'href="/demandes/{request.number}/completer" data-dialog="dialog-complete"' in body
    assert '<dialog id="dialog-cancel"' in body and '<dialog id="dialog-complete"' in body


# --- Q/R exchange (R-STA-3/4) -----------------------------------------------------------------


def test_exchange_with_its_counters_files_and_closing(portal, gironde, tech):
    request = answered(gironde, tech, answer_files=())
    url = f"/demandes/{request.number}"
    text = page_text(portal.get(url))
    assert "Poursuivre l'échange" in text
    assert "Échanges : 0/4" in text and "Jours restants : J-15" in text and "Pièces jointes : 0/8" in text
    assert "Clôturer l'échange" not in text
    empty = post(portal, f"{url}/echange", {"body": ""})
    assert "Veuillez saisir votre message." in page_text(empty)
    bad = post(portal, f"{url}/echange", {"body": "Voici", "files": files((EXE, "x.pdf"), (PDF, "bulletin.pdf"))})
    assert "« x.pdf » est refusé" in page_text(bad) and staged_names(bad) == ["bulletin.pdf"]
    sent = post(portal, f"{url}/echange", {"body": "Voici le bulletin manquant", "staged": staged_keys(bad)})
    assert location(sent) == url
    db.session.refresh(request)
    assert request.status == RequestStatus.MESSAGE_SENT.value
    text = page_text(portal.get(url))
    assert "Statut de la demande Message envoyé" in text and "Votre message a bien été envoyé" in text
    assert "Échanges : 1/4" in text and "Pièces jointes : 1/8" in text
    assert "Voici le bulletin manquant" in text and "bulletin.pdf" in text
    assert "Poursuivre l'échange" not in text
    # a second message before the caisse's answer is refused
    again = post(portal, f"{url}/echange", {"body": "Encore"})
    assert location(again) == url and "L'échange n'est plus possible" in page_text(portal.get(url))

    keys = staged_for(gironde["agent"], ("complement.pdf", PDF))
    rs.caisse_reply(gironde["agent"], request, "Bien reçu, merci", keys)
    page = portal.get(url)
    text = page_text(page)
    assert "Statut de la demande Message reçu" in text and "Bien reçu, merci" in text
    assert "Poursuivre l'échange" in text and "Clôturer l'échange" in text
    reply_file = db.session.scalars(select(Attachment).filter_by(request_id=request.id, side="caisse")).one()
    assert f'href="{url}/pj/{reply_file.id}"' in page.get_data(as_text=True)
    assert portal.get(f"{url}/pj/{reply_file.id}").data == PDF

    closed = portal.post_form(f"{url}/cloturer")
    assert location(closed) == url
    db.session.refresh(request)
    assert request.status == RequestStatus.CLOSED.value
    text = page_text(portal.get(url))
    assert "Statut de la demande Clôturé" in text and "L'échange est clôturé" in text
    assert "Poursuivre l'échange" not in text and "Clôturer l'échange" not in text
    assert location(post(portal, f"{url}/echange", {"body": "Trop tard"})) == url
    assert rs.partner_message_count(request.id) == 1
    statuses = re.search(r'<select id="status"[\s\S]*?</select>', portal.get("/demandes").get_data(as_text=True))
    assert "Clôturé" in statuses.group(0)
    assert "Clôturé" in page_text(portal.get("/demandes", query_string={"status": "closed"}))


def test_exchange_files_are_limited_to_eight_in_all(portal, gironde, tech):
    request = answered(gironde, tech, answer_files=())
    url = f"/demandes/{request.number}"
    rs.partner_message(tech, request, "Premier envoi", staged_for(tech, *[(f"a{i}.pdf", PDF) for i in range(6)]))
    rs.caisse_reply(gironde["agent"], request, "Réponse", [])
    text = page_text(portal.get(url))
    assert "Pièces jointes : 6/8" in text and "Taille de pièce jointe maximum 5 Mo, 2 pièces jointes maximum." in text
    response = post(portal, f"{url}/echange", {"body": "Suite", "files": pdfs(3, "b")})
    assert "Le fichier « b3.pdf » n'a pas été ajouté : 2 pièces jointes maximum." in page_text(response)
    assert location(post(portal, f"{url}/echange", {"body": "Suite", "staged": staged_keys(response)})) == url
    assert rs.exchange_files_count(request.id) == 8


def test_the_exchange_ends_after_fifteen_days(app, gironde, tech):
    request = answered(gironde, tech, answer_files=())
    deadline = utc(request.resolved_at + timedelta(days=15))
    with time_machine.travel(deadline - timedelta(seconds=1), tick=False):
        client = app.test_client()
        enter(client, tech, gironde["caisse"])
        text = page_text(client.get(f"/demandes/{request.number}"))
        assert "Poursuivre l'échange" in text and "J-1" in text
    with time_machine.travel(deadline + timedelta(seconds=1), tick=False):
        client = app.test_client()
        enter(client, tech, gironde["caisse"])
        assert "Poursuivre l'échange" not in page_text(client.get(f"/demandes/{request.number}"))
        response = post(client, f"/demandes/{request.number}/echange", {"body": "Question"})
        assert location(response) == f"/demandes/{request.number}"
    assert rs.partner_message_count(request.id) == 0


# --- tenancy (R-TEN-3) ------------------------------------------------------------------------


def test_a_technician_of_another_structure_gets_404_everywhere(client, gironde, tech, world):
    request = answered(gironde, tech)
    received = db.session.scalars(select(Attachment).filter_by(request_id=request.id, side="caisse")).one()
    sent = rs.partner_files(request)[0]
    new = file_direct(tech, gironde)
    oise = world["oise"]
    add_convention(oise["structure"], gironde["caisse"], today() - timedelta(days=10), today() + timedelta(days=100))
    stranger = make_account(oise["structure"], "s.etranger", role=PartnerRole.TECHNICIAN)
    enter(client, stranger, gironde["caisse"])
    for number in (request.number, new.number):
        assert client.get(f"/demandes/{number}").status_code == 404
        assert client.get(f"/demandes/{number}/completer").status_code == 404
        assert client.get(f"/demandes/{number}/annuler").status_code == 404
        assert (
            post(client, f"/demandes/{number}/annuler", {"reason": rs.CANCEL_REASONS[0], "confirm": "y"}).status_code
            == 404
        )
        assert post(client, f"/demandes/{number}/completer", {"comment": "Piratage"}).status_code == 404
        assert post(client, f"/demandes/{number}/echange", {"body": "Piratage"}).status_code == 404
        assert client.post_form(f"/demandes/{number}/cloturer").status_code == 404
    assert client.get(f"/demandes/{request.number}/pj/{received.id}").status_code == 404
    assert client.get(f"/demandes/{request.number}/pj/{sent.id}").status_code == 404
    history = client.get("/demandes", query_string={"number": request.number})
    assert numbers_listed(history) == [] and request.number not in page_text(history)
    db.session.refresh(new)
    assert new.status == RequestStatus.NEW.value and new.comment == "Hospitalisation en cours"
    assert count(AuditEntry, AuditEntry.action == "attachment.download") == 0


def test_the_same_structure_sees_nothing_of_another_caisse(client, gironde, tech, world):
    request = file_direct(tech, gironde)
    oise = world["oise"]
    add_convention(gironde["structure"], oise["caisse"], today() - timedelta(days=10), today() + timedelta(days=100))
    enter(client, tech, oise["caisse"])
    assert client.get(f"/demandes/{request.number}").status_code == 404
    assert numbers_listed(client.get("/demandes")) == []
