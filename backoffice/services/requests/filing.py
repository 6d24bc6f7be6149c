"""Filing a request: the form's option lists and the checks of what partners and agents type (R-REQ-1..6)."""

import re
from datetime import date

from sqlalchemy import select

from ...clock import now, today
from ...extensions import db
from ...inputs import FORBIDDEN_CHARACTER_MESSAGE, forbidden_character
from ...models import CaisseMotive, Motive, PartnerAccount, Request, RequestStatus, ServiceOffer, StatusChange
from .. import audit, uploads
from ..attachments import MAX_FILES, check_count
from ..errors import DomainError, ValidationFailed
from ..identity import NAME_RE, PHONE_MESSAGE, PHONE_RE, capitalize_first_name, normalize_phone
from ..numbering import next_number

COMMENT_MAX = 5000

SAISINE_MOTIVE = "Saisine mission accompagnement santé"
CONSENT_TEXT = (
    "L'assuré accepte que ses coordonnées soient transmises à la Mission accompagnement santé de "
    "sa Caisse d'assurance maladie afin que celle-ci puisse le contacter pour bénéficier d'un "
    "accompagnement santé personnalisé et d'un suivi adapté"
)
ACCOMPANIMENT = [
    "Difficultés d'accès aux droits",
    "Renoncement ou difficultés d'accès à des soins",
    "Renoncement ou des difficultés d'accès à des soins liés à un handicap",
    "Fragilité face au numérique",
    "Situation sociale complexe",
]
RENUNCIATION = ACCOMPANIMENT[1:3]
CARE = [
    "Consultation de médecine générale ou spécialisée",
    "Acte chez un spécialiste, analyses ou examens médicaux (soins dentaires, infirmiers, de "
    "kinésithérapie, radiologie, biologie...)",
    "Dispositifs médicaux (optique, auditif, petit et grand appareillage...)",
    "Chirurgie",
    "Pharmacie",
    "Autre",
]
DURATION = ["Moins de 3 mois", "De 3 mois à 1 an", "Plus d'1 an", "Plus de 2 ans"]
CAUSES = [
    "D'accès aux droits (médecin traitant, couverture assurance maladie et/ou complémentaire, A.L.D.)",
    "De reste à charge",
    "De transport",
    "D'avance des frais",
    "De démarches trop compliquées",
    "De délai de RDV trop longs",
    "De refus de prise en charge par un professionnel de santé",
    "Autre",
]
APPOINTMENT_MODES = ["Téléphonique / Visio", "Physique"]
CANCEL_REASONS = [
    "La demande a déjà été faite par un membre de ma structure",
    "La demande a été résolue via un autre canal",
    "La demande n'est plus justifiée",
    "Autre motif",
]
_BIRTH_PLACE_RE = re.compile(r"^(?:\d{2,3}|2[AaBb]|[^\W\d_]+(?:[ '’\-][^\W\d_]+)*)$")


def motives_for(caisse_id: int, offer: ServiceOffer) -> list[Motive]:
    """The motives of this offer that the caisse offers (the caisse may reduce the seed list)."""
    return list(
        db.session.scalars(
            select(Motive)
            .join(CaisseMotive, CaisseMotive.motive_id == Motive.id)
            .where(CaisseMotive.caisse_id == caisse_id, Motive.service_offer_id == offer.id)
            .order_by(Motive.position)
        )
    )


def _check_name(errors: dict, field: str, value: str, max_length: int, noun: str, label: str) -> None:
    """The person's last or first name (`noun` « le nom », `label` « Nom »): given, at most
    `max_length` characters, letters, apostrophe, hyphen and space only."""
    if not value:
        errors[field] = f"Veuillez renseigner {noun} de la personne concernée."
    elif len(value) > max_length:
        errors[field] = f"{noun.capitalize()} ne doit pas dépasser {max_length} caractères."
    elif not NAME_RE.match(value):
        errors[field] = f"{label} : seuls les lettres, l'apostrophe, le tiret et l'espace sont autorisés."


def _clean_person(data: dict, errors: dict) -> dict:
    civility = (data.get("person_civility") or "").strip()
    last = " ".join((data.get("person_last_name") or "").split())
    first = " ".join((data.get("person_first_name") or "").split())
    birth: date | None = data.get("person_birth_date")
    place = " ".join((data.get("person_birth_place") or "").split())
    phone = normalize_phone(data.get("person_phone") or "")
    if civility not in ("Madame", "Monsieur"):
        errors["person_civility"] = "Veuillez choisir la civilité de la personne concernée."
    _check_name(errors, "person_last_name", last, 30, "le nom", "Nom")
    _check_name(errors, "person_first_name", first, 20, "le prénom", "Prénom")
    if birth is None:
        errors["person_birth_date"] = "Veuillez saisir une date de naissance valide au format JJ/MM/AAAA."
    elif birth >= today() or birth.year < 1890:
        errors["person_birth_date"] = "La date de naissance doit être une date passée réelle (JJ/MM/AAAA)."
    if not place:
        errors["person_birth_place"] = "Veuillez indiquer le lieu de naissance : N° du département ou libellé du pays."
    elif len(place) > 30 or not _BIRTH_PLACE_RE.match(place):
        errors["person_birth_place"] = (
            "Lieu de naissance : un N° de département (ex. 44, 2A) ou un nom de pays (30 caractères maximum)."
        )
    if not phone:
        errors["person_phone"] = "Veuillez renseigner le téléphone de la personne concernée."
    elif not PHONE_RE.match(phone):
        errors["person_phone"] = PHONE_MESSAGE
    return {
        "person_civility": civility,
        "person_last_name": last.upper(),
        "person_first_name": capitalize_first_name(first),
        "person_birth_date": birth,
        "person_birth_place": place.upper() if place[:1].isdigit() else place,
        "person_phone": phone,
    }


def clean_comment(comment: str | None, errors: dict) -> str:
    comment = (comment or "").replace("\r\n", "\n").strip()
    if forbidden_character(comment):  # a NUL would not even reach PostgreSQL's text column
        errors["comment"] = FORBIDDEN_CHARACTER_MESSAGE
    elif not comment:
        errors["comment"] = "Veuillez saisir un commentaire."
    elif len(comment) > COMMENT_MAX:
        errors["comment"] = f"Le commentaire ne doit pas dépasser {COMMENT_MAX} caractères ({len(comment)} saisis)."
    return comment


def text_and_files(
    owner,
    text: str,
    staged_keys: list[str],
    field: str,
    reword,
    already: int = 0,
    limit: int = MAX_FILES,
    files_allowed: bool = True,
) -> tuple[str, list]:
    """The text (required, ≤ 5000) and the owner's staged files within the limit, or ValidationFailed.

    `reword` turns the comment messages into the field's own words ("la réponse", "votre message").
    """
    errors: dict[str, str] = {}
    text = clean_comment(text, errors)
    if "comment" in errors:
        errors[field] = reword(errors.pop("comment"))
    files = uploads.staged(owner, staged_keys) if files_allowed else []
    try:
        check_count(already, len(files), limit)
    except DomainError as exc:
        errors["attachments"] = exc.message
    if errors:
        raise ValidationFailed(errors)
    return text, files


def as_message(message: str) -> str:
    return message.replace("un commentaire", "votre message").replace("Le commentaire", "Le message")


def as_answer(message: str) -> str:
    """The comment messages, worded for the caisse's answer (not "Le commentaire …")."""
    return message.replace("un commentaire", "la réponse").replace("Le commentaire", "La réponse")


def _clean_saisine(data: dict, errors: dict) -> dict:
    """R-REQ-6: consent and 'Accompagnement santé sollicité dans le cadre de', then the follow-up."""
    if not data.get("consent"):
        errors["consent"] = "Le consentement de l'assuré est obligatoire pour ce motif."
    chosen = [a for a in ACCOMPANIMENT if a in (data.get("accompaniment") or [])]
    if not chosen:
        errors["accompaniment"] = "Sélectionnez la ou les réponses : accompagnement santé sollicité dans le cadre de."
    details = {"consent": bool(data.get("consent")), "consent_text": CONSENT_TEXT, "accompaniment": chosen}
    if set(chosen) & set(RENUNCIATION):
        details["care"] = [c for c in CARE if c in (data.get("care") or [])]
        duration = data.get("duration") or ""
        if duration and duration not in DURATION:
            errors["duration"] = "Sélectionnez une durée de renoncement proposée."
        details["duration"] = duration or None
        details["causes"] = [c for c in CAUSES if c in (data.get("causes") or [])]
    return details


def file_request(
    account: PartnerAccount, access, offer: ServiceOffer, data: dict, staged_keys: list[str], new_files=()
) -> Request:
    """File a request (R-REQ-1..6). Raises ValidationFailed with French messages per field.

    staged_keys: files kept from an earlier try; new_files: the form's new files, already checked
    (uploads.check_all), written once with the request (the caller stages them if this refuses)."""
    if account.is_manager or not access.can_file_requests:
        raise DomainError("Vous ne pouvez pas déposer de demande auprès de cet organisme.")
    if offer.id not in {o.id for o in access.convention.service_offers}:
        raise DomainError("Cette offre de service n'est pas ouverte pour votre convention.")
    caisse_id = access.caisse.id
    allowed = {m.id: m for m in motives_for(caisse_id, offer)}
    errors: dict[str, str] = {}
    details: dict = {}
    motive = None
    if offer.code == "document":
        documents = [allowed[i] for i in (data.get("documents") or []) if i in allowed]
        if not documents:
            errors["documents"] = "Sélectionnez un ou plusieurs documents."
        else:
            motive = documents[0]
            details["documents"] = [d.label for d in documents]
    else:
        motive_id: int | None = data.get("motive_id")
        motive = allowed.get(motive_id) if motive_id is not None else None
        if motive is None:
            errors["motive_id"] = "Veuillez sélectionner un motif."
    if offer.code == "contact":
        modes = [m for m in APPOINTMENT_MODES if m in (data.get("appointment_modes") or [])]
        if not modes:
            errors["appointment_modes"] = "Sélectionnez la ou les modalités de rendez-vous."
        details["appointment_modes"] = modes
    person = _clean_person(data, errors) if offer.concerns_person else {}
    if motive is not None and motive.label == SAISINE_MOTIVE:
        details.update(_clean_saisine(data, errors))
    comment = clean_comment(data.get("comment"), errors)
    files = uploads.staged(account, staged_keys) if offer.allows_attachments else []
    new_files = list(new_files) if offer.allows_attachments else []
    if len(files) + len(new_files) > MAX_FILES:
        errors["attachments"] = f"{MAX_FILES} pièces jointes maximum."
    if errors:
        raise ValidationFailed(errors)
    request = Request(
        number=next_number(access.caisse),
        caisse_id=caisse_id,
        structure_id=account.structure_id,
        convention_id=access.convention.id,
        service_offer_id=offer.id,
        motive_id=motive.id if motive else None,
        requester_account_id=account.id,
        requester_name=f"{account.display_name} {account.first_name}",
        comment=comment,
        details=details,
        status=RequestStatus.NEW.value,
        deposited_at=now(),
        status_changed_at=now(),
        **person,
    )
    db.session.add(request)
    db.session.flush()
    db.session.add(StatusChange(request_id=request.id, status=RequestStatus.NEW.value, account_id=account.id))
    uploads.attach(files, request.id, "partner", new_files=new_files)
    audit.record(
        "request.file",
        actor=account,
        target=request,
        caisse_id=caisse_id,
        number=request.number,
        files=len(files) + len(new_files),
    )
    db.session.commit()
    return request
