"""The national catalogue of service offers and motives (SPEC §5) and each caisse's choice in it."""

from sqlalchemy import delete, select

from ..extensions import db
from ..models import Caisse, CaisseMotive, CaisseOffer, Motive, ServiceOffer
from . import audit, caisse_cache
from .errors import DomainError

# Each offer: its code, its OFFER_COLUMNS, then its motives — the seed lists of SPEC §5.
OFFER_COLUMNS = ("label", "description", "allows_attachments", "concerns_person")
REFERENCE_OFFERS = [
    (
        "contact",
        "Contacter votre organisme d'assurance Maladie",
        "Vous souhaitez prendre un rendez-vous téléphonique / visio ou physique pour une question "
        "générale (réglementaire, offres de services de votre organisme d'assurance Maladie, technique...)",
        True,
        False,
        [
            "Connaître les évolutions législatives et réglementaires",
            "Connaître les offres de service de l'organisme d'Assurance Maladie",
            "Gérer la convention de partenariat",
            "Signaler des modifications du ou des compte(s) Gestionnaire(s) PARTENAIRE",
        ],
    ),
    (
        "difficulty",
        "Signaler une situation de difficulté d'accès aux droits et aux soins",
        "Vous souhaitez faire un signalement de difficulté d'accès aux droits et aux soins pour un "
        "assuré : Dossiers complexes (rétroactivité, rupture de droits, IJ complexes...), Droits, "
        "Situation d'urgence, Saisine mission accompagnement santé, Suivi traitement d'une demande "
        "faite par l'assuré.",
        True,
        True,
        [
            "Dossiers complexes (rétroactivité, rupture de droits, IJ complexes…)",
            "Droits",
            "Situation d'urgence",
            "Saisine mission accompagnement santé",
            "Suivi traitement d'une demande faite par l'assuré",
        ],
    ),
    (
        "appointment",
        "Demander un rendez-vous pour un assuré",
        "Vous souhaitez demander un rendez-vous pour un assuré (AME, arrêt de travail, C2S...).",
        False,
        True,
        [
            "AME",
            "Arrêts de travail, Indemnités journalières",
            "Autre motif de RDV",
            "C2S",
            "Capital décès",
            "Examen de Prévention santé",
            "Pension d'invalidité",
            "Rente AT/MP",
            "Service Social",
        ],
    ),
    (
        "file_review",
        "Soumettre une demande d'étude de dossier",
        "Vous souhaitez nous transmettre ou suivre un dossier pour un assuré (demande d'aide "
        "financière, étude C2S...).",
        True,
        True,
        [
            "AME",
            "Autre motif d'étude de dossier",
            "Demande d'aide financière",
            "Etude de C2S",
            "Ouverture de droits",
            "AME - Dépôt de dossier",
            "AME - Où en est la demande ?",
            "Accident du travail / Maladie Professionnelle - Où en est la demande ?",
            "Arrêt Maladie, Maternité et Paternité - Où en est la demande ?",
            "Complémentaire Santé Solidaire (C2S) - Dépôt de dossier",
            "Complémentaire Santé Solidaire (C2S) - Où en est la demande ?",
            "Demande d'aide financière - Dépôt de dossier",
            "Demande d'aide financière - Où en est la demande ?",
            "Ouverture de droits (affiliation) - Dépôt de dossier",
            "Ouverture de droits (affiliation) - Où en est la demande ?",
            "Remboursement de soins",
            "Remboursement de transports",
        ],
    ),
    (
        "document",
        "Demander un document",
        "Vous souhaitez obtenir un document pour un assuré (attestation de droits, formulaire carte vitale...).",
        False,
        True,
        [
            "Attestation de droits",
            "Autre type de document",
            "Certificat provisoire CEAM",
            "Formulaire carte vitale",
            "Offres de prévention",
        ],
    ),
]


def ensure_reference_catalog() -> None:
    """Create the national offers and motives that are missing (idempotent)."""
    existing = {offer.code: offer for offer in db.session.scalars(select(ServiceOffer))}
    for position, (code, *columns, motives) in enumerate(REFERENCE_OFFERS):
        offer = existing.get(code)
        if offer is None:
            offer = ServiceOffer(code=code, position=position, **dict(zip(OFFER_COLUMNS, columns, strict=True)))
            db.session.add(offer)
            db.session.flush()
        known = {m.label for m in offer.motives}
        for motive_position, motive_label in enumerate(motives):
            if motive_label not in known:
                db.session.add(Motive(service_offer_id=offer.id, label=motive_label, position=motive_position))
    db.session.flush()


def enable_everything(caisse: Caisse) -> None:
    """A new caisse starts with the whole seed catalogue; its admin may then reduce it."""
    for offer in db.session.scalars(select(ServiceOffer)):
        db.session.add(CaisseOffer(caisse_id=caisse.id, service_offer_id=offer.id))
    for motive in db.session.scalars(select(Motive)):
        db.session.add(CaisseMotive(caisse_id=caisse.id, motive_id=motive.id))
    db.session.flush()


def offers_of(caisse_id: int) -> list[ServiceOffer]:
    return list(
        db.session.scalars(
            select(ServiceOffer)
            .join(CaisseOffer, CaisseOffer.service_offer_id == ServiceOffer.id)
            .where(CaisseOffer.caisse_id == caisse_id)
            .order_by(ServiceOffer.position)
        )
    )


def motive_ids_of(caisse_id: int) -> set[int]:
    return set(db.session.scalars(select(CaisseMotive.motive_id).where(CaisseMotive.caisse_id == caisse_id)))


def all_offers() -> list[ServiceOffer]:
    return list(db.session.scalars(select(ServiceOffer).order_by(ServiceOffer.position)))


def set_caisse_catalog(caisse_id: int, offer_ids: set[int], motive_ids: set[int], actor) -> None:
    """Replace the caisse's choice. An enabled offer needs at least one of its motives."""
    offers = {o.id: o for o in all_offers()}
    unknown = offer_ids - offers.keys()
    if unknown:
        raise DomainError("Offre de service inconnue.")
    if not offer_ids:
        raise DomainError("Sélectionnez au moins une offre de service.")
    chosen_motives = set()
    for offer_id in offer_ids:
        offer_motives = {m.id for m in offers[offer_id].motives}
        picked = motive_ids & offer_motives
        if not picked:
            raise DomainError(f"Sélectionnez au moins un motif pour l'offre « {offers[offer_id].label} ».")
        chosen_motives |= picked
    caisse_cache.renew(caisse_ids={caisse_id})  # the queue's motive options of this caisse
    db.session.execute(delete(CaisseOffer).where(CaisseOffer.caisse_id == caisse_id))
    db.session.execute(delete(CaisseMotive).where(CaisseMotive.caisse_id == caisse_id))
    for offer_id in sorted(offer_ids):
        db.session.add(CaisseOffer(caisse_id=caisse_id, service_offer_id=offer_id))
    for motive_id in sorted(chosen_motives):
        db.session.add(CaisseMotive(caisse_id=caisse_id, motive_id=motive_id))
    audit.record(
        "catalog.update",
        actor=actor,
        caisse_id=caisse_id,
        offers=sorted(offer_ids),
        motives=sorted(chosen_motives),
    )
    db.session.commit()
