"""Partner structures (R-CONV-1) and their conventions (R-CONV-2..4), scoped to the caisse."""

import re
from datetime import date

from sqlalchemy import select

from ..extensions import db
from ..models import STRUCTURE_TYPES, Agent, CaisseOffer, Convention, ServiceOffer, Structure
from . import audit
from .errors import DomainError, ValidationFailed
from .scoping import structure_filter


def _clean_structure(data: dict) -> dict:
    errors = {}
    name = " ".join((data.get("name") or "").split())
    type_ = (data.get("type") or "").strip()
    siret = re.sub(r"\s", "", data.get("siret") or "")
    address = " ".join((data.get("address") or "").split())
    postal_code = (data.get("postal_code") or "").strip()
    city = " ".join((data.get("city") or "").split()).upper()
    member_count = data.get("member_count")
    if not name or len(name) > 120:
        errors["name"] = "Veuillez renseigner le nom de la structure (120 caractères au plus)."
    if type_ not in STRUCTURE_TYPES:
        errors["type"] = "Veuillez choisir le type de structure."
    if not re.fullmatch(r"\d{14}", siret):
        errors["siret"] = "Le SIRET comporte exactement 14 chiffres."
    elif not _luhn_ok(siret) and not siret.startswith("356000000"):
        errors["siret"] = "Ce numéro SIRET n'est pas valide (clé de contrôle incorrecte)."
    if not address or len(address) > 200:
        errors["address"] = "Veuillez renseigner l'adresse (200 caractères au plus)."
    if not re.fullmatch(r"\d{5}", postal_code):
        errors["postal_code"] = "Le code postal comporte 5 chiffres."
    if not city or len(city) > 80:
        errors["city"] = "Veuillez renseigner la commune."
    if not isinstance(member_count, int) or member_count < 1:
        errors["member_count"] = (
            "Le nombre de membres (salariés et bénévoles) doit être un entier supérieur ou égal à 1."
        )
    if errors:
        raise ValidationFailed(errors)
    return {
        "name": name,
        "type": type_,
        "siret": siret,
        "address": address,
        "postal_code": postal_code,
        "city": city,
        "member_count": member_count,
    }


def _luhn_ok(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def get_visible_structure(actor: Agent, structure_id: int) -> Structure | None:
    return db.session.scalar(select(Structure).where(Structure.id == structure_id, structure_filter(actor)))


def create_structure(data: dict, actor: Agent) -> Structure:
    fields = _clean_structure(data)
    if db.session.scalar(select(Structure.id).where(Structure.siret == fields["siret"])):
        raise DomainError(
            "Une structure portant ce SIRET est déjà enregistrée dans Espace Partenaires. "
            "Contactez l'administrateur national pour l'associer à votre organisme.",
            "siret",
        )
    structure = Structure(registered_by_caisse_id=actor.caisse_id, **fields)
    audit.record_new("structure.create", actor, structure, actor.caisse_id, name=structure.name)
    db.session.commit()
    return structure


def update_structure(structure: Structure, data: dict, actor: Agent) -> Structure:
    fields = _clean_structure(data)
    clash = db.session.scalar(
        select(Structure.id).where(Structure.siret == fields["siret"], Structure.id != structure.id)
    )
    if clash:
        raise DomainError("Une autre structure porte déjà ce SIRET.", "siret")
    changed = {k: v for k, v in fields.items() if getattr(structure, k) != v}
    for key, value in fields.items():
        setattr(structure, key, value)
    audit.record("structure.update", actor=actor, target=structure, caisse_id=actor.caisse_id, changed=sorted(changed))
    db.session.commit()
    return structure


# --- Conventions -------------------------------------------------------------------------------


def _clean_convention(actor: Agent, data: dict) -> dict:
    errors = {}
    structure_id = data.get("structure_id")
    caisse_id = data.get("caisse_id") if actor.is_national_admin else actor.caisse_id
    start_date: date | None = data.get("start_date")
    end_date: date | None = data.get("end_date")
    offer_ids = set(data.get("service_offer_ids") or [])
    manager_cap = data.get("manager_cap")
    technician_cap = data.get("technician_cap")

    structure = get_visible_structure(actor, structure_id) if structure_id else None
    if structure is None:
        errors["structure"] = "Veuillez choisir une structure de votre organisme."
    if caisse_id is None:
        errors["caisse"] = "Veuillez choisir l'organisme."
    if start_date is None:
        errors["start_date"] = "Veuillez renseigner la date de début (JJ/MM/AAAA)."
    if end_date is None:
        errors["end_date"] = "Veuillez renseigner la date de fin (JJ/MM/AAAA)."
    elif start_date is not None and end_date <= start_date:
        errors["end_date"] = "La date de fin doit être postérieure à la date de début."
    for field, value in (("manager_cap", manager_cap), ("technician_cap", technician_cap)):
        if value is not None and (not isinstance(value, int) or value < 1):
            errors[field] = "Le plafond doit être un entier supérieur ou égal à 1."
    offers = []
    if caisse_id is not None:
        offered = set(
            db.session.scalars(select(CaisseOffer.service_offer_id).where(CaisseOffer.caisse_id == caisse_id))
        )
        if not offer_ids:
            errors["service_offers"] = "Sélectionnez de 1 à 5 offres de service pour cette convention."
        elif not offer_ids <= offered:
            errors["service_offers"] = "Seules les offres de service proposées par l'organisme peuvent être ouvertes."
        else:
            offers = list(db.session.scalars(select(ServiceOffer).where(ServiceOffer.id.in_(offer_ids))))
    if errors:
        raise ValidationFailed(errors)
    return {
        "structure": structure,
        "caisse_id": caisse_id,
        "start_date": start_date,
        "end_date": end_date,
        "manager_cap": manager_cap,
        "technician_cap": technician_cap,
        "service_offers": offers,
    }


def _check_caps_not_above_statutory(fields: dict) -> None:
    from ..models import manager_cap_for, technician_cap_for

    members = fields["structure"].member_count
    errors = {}
    if fields["manager_cap"] and fields["manager_cap"] > manager_cap_for(members):
        errors["manager_cap"] = (
            f"Le plafond de gestionnaires ne peut pas dépasser {manager_cap_for(members)} "
            f"pour une structure de {members} membre(s)."
        )
    if fields["technician_cap"] and fields["technician_cap"] > technician_cap_for(members):
        errors["technician_cap"] = (
            f"Le plafond de techniciens ne peut pas dépasser {technician_cap_for(members)} "
            f"pour une structure de {members} membre(s)."
        )
    if errors:
        raise ValidationFailed(errors)


def _overlapping(fields: dict, exclude_id: int | None = None) -> bool:
    query = select(Convention.id).where(
        Convention.structure_id == fields["structure"].id,
        Convention.caisse_id == fields["caisse_id"],
        Convention.start_date <= fields["end_date"],
        Convention.end_date >= fields["start_date"],
    )
    if exclude_id:
        query = query.where(Convention.id != exclude_id)
    return db.session.scalar(query) is not None


def create_convention(data: dict, actor: Agent) -> Convention:
    fields = _clean_convention(actor, data)
    _check_caps_not_above_statutory(fields)
    if _overlapping(fields):
        raise DomainError("Cette structure a déjà une convention avec l'organisme sur cette période.", "start_date")
    convention = Convention(
        structure=fields["structure"],
        caisse_id=fields["caisse_id"],
        start_date=fields["start_date"],
        end_date=fields["end_date"],
        manager_cap=fields["manager_cap"],
        technician_cap=fields["technician_cap"],
        service_offers=fields["service_offers"],
    )
    audit.record_new(
        "convention.create",
        actor,
        convention,
        convention.caisse_id,
        structure_id=convention.structure_id,
        start=str(convention.start_date),
        end=str(convention.end_date),
    )
    db.session.commit()
    return convention


def update_convention(convention: Convention, data: dict, actor: Agent) -> Convention:
    data = {**data, "structure_id": convention.structure_id}
    if not actor.is_national_admin:
        data["caisse_id"] = convention.caisse_id
    fields = _clean_convention(actor, data)
    _check_caps_not_above_statutory(fields)
    if _overlapping(fields, exclude_id=convention.id):
        raise DomainError("Cette structure a déjà une convention avec l'organisme sur cette période.", "start_date")
    convention.caisse_id = fields["caisse_id"]
    convention.start_date = fields["start_date"]
    convention.end_date = fields["end_date"]
    convention.manager_cap = fields["manager_cap"]
    convention.technician_cap = fields["technician_cap"]
    convention.service_offers = fields["service_offers"]
    audit.record(
        "convention.update",
        actor=actor,
        target=convention,
        caisse_id=convention.caisse_id,
        start=str(convention.start_date),
        end=str(convention.end_date),
    )
    db.session.commit()
    return convention
