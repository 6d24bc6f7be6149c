"""`flask demo`: a living demo dataset, dated relative to today (example names from the manuals)."""
from datetime import timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import (
    Agent,
    AgentRole,
    Caisse,
    Convention,
    PartnerAccount,
    PartnerRole,
    Request,
    RequestStatus,
    ServiceOffer,
    StatusChange,
    Structure,
)
from . import caisses as caisse_service
from .clock import now, today
from .numbering import next_number
from .passwords import hash_password

DEMO_PASSWORD = "Demo-Espace-2026"

CAISSES = [
    ("CPAM GIRONDE", "331"),
    ("CPAM OISE", "601"),
    ("CPAM LANDES", "401"),
    ("CPAM DORDOGNE", "241"),
    ("CPAM LOT ET GARONNE", "471"),
]

# (login, first name, last name, role, caisse code)
AGENTS = [
    ("admin", "Claire", "NATIONALE", AgentRole.NATIONAL_ADMIN, None),
    ("admin.gironde", "Hélène", "MARTIN", AgentRole.CAISSE_ADMIN, "331"),
    ("agent.gironde", "Paul", "BERNARD", AgentRole.AGENT, "331"),
    ("admin.oise", "Sophie", "LEROY", AgentRole.CAISSE_ADMIN, "601"),
    ("agent.oise", "Luc", "MOREAU", AgentRole.AGENT, "601"),
]

# Luhn-valid invented SIRET numbers.
STRUCTURES = [
    # name, type, siret, address, postal code, city, members
    ("Association Solidarité Santé Aquitaine", "Association", "12345678900015", "12 rue des Remparts", "33000", "BORDEAUX", 8),
    ("CCAS de Mérignac", "CCAS", "21330281000014", "1 place Charles de Gaulle", "33700", "MERIGNAC", 30),
    ("PASS hospitalière de Beauvais", "PASS hospitalière", "26600005800013", "40 avenue Léon Blum", "60000", "BEAUVAIS", 14),
]


def is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(Caisse))


def load() -> dict:
    """Fill an empty database. Returns the demo logins for the console."""
    if not is_empty():
        raise RuntimeError("La base n'est pas vide : les données de démonstration ne sont chargées que dans une base vide.")
    caisses = {code: caisse_service.create_caisse(name, code, actor=None) for name, code in CAISSES}
    password_hash = hash_password(DEMO_PASSWORD)
    for username, first, last, role, code in AGENTS:
        db.session.add(
            Agent(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@cpam.example.fr",
                role=role.value,
                caisse_id=caisses[code].id if code else None,
                password_hash=password_hash,
                password_changed_at=now(),
            )
        )
    structures = []
    for name, type_, siret, address, postal_code, city, members in STRUCTURES:
        structure = Structure(
            name=name, type=type_, siret=siret, address=address, postal_code=postal_code,
            city=city, member_count=members, registered_by_caisse_id=caisses["331"].id,
        )
        db.session.add(structure)
        structures.append(structure)
    db.session.flush()
    offers = list(db.session.scalars(select(ServiceOffer).order_by(ServiceOffer.position)))
    day = today()
    main = structures[0]

    def convention(structure, code, start, end, offer_slice=slice(None)):
        c = Convention(
            structure=structure, caisse_id=caisses[code].id, start_date=start, end_date=end,
            service_offers=offers[offer_slice],
        )
        db.session.add(c)
        return c

    # One structure meets every situation of R-ORG-2..5 (see README).
    convention(main, "331", day - timedelta(days=400), day + timedelta(days=700))  # current
    convention(main, "401", day + timedelta(days=20), day + timedelta(days=1100))  # upcoming (R-ORG-2)
    convention(main, "241", day - timedelta(days=300), day + timedelta(days=15), slice(0, 3))  # ending (R-ORG-3)
    oise = convention(main, "601", day - timedelta(days=500), day - timedelta(days=10))  # ended, pending (R-ORG-4)
    lot = convention(main, "471", day - timedelta(days=600), day - timedelta(days=20), slice(1, 4))  # grace (R-ORG-5)
    merignac = convention(structures[1], "331", day - timedelta(days=100), day + timedelta(days=900))
    merignac.technician_cap = 2  # a lower cap recorded by the caisse: the demo structure at its cap
    convention(structures[2], "601", day - timedelta(days=200), day + timedelta(days=500))
    db.session.flush()

    accounts = {}
    for login, civility, first, last, function, role, structure in [
        ("m.lapierre", "Monsieur", "Marc", "LAPIERRE", "Directeur", PartnerRole.MANAGER, main),
        ("v.chausson", "Monsieur", "Victor", "CHAUSSON", "Travailleur social", PartnerRole.TECHNICIAN, main),
        ("m.pichon", "Madame", "Maryse", "PICHON", "Conseillère", PartnerRole.TECHNICIAN, main),
        ("a.durand", "Madame", "Anne", "DURAND", "Responsable", PartnerRole.MANAGER, structures[1]),
        ("j.petit", "Monsieur", "Julien", "PETIT", "Cadre de santé", PartnerRole.MANAGER, structures[2]),
        # Technicians of the CCAS: two active (its cap of 2), one inactive.
        ("l.bernard", "Madame", "Lucie", "BERNARD", "Assistante sociale", PartnerRole.TECHNICIAN, structures[1]),
        ("t.roux", "Monsieur", "Thomas", "ROUX", "Conseiller", PartnerRole.TECHNICIAN, structures[1]),
        ("n.faure", "Madame", "Nadia", "FAURE", "Médiatrice", PartnerRole.TECHNICIAN, structures[1]),
        # An inactive technician of the demo structure (shown grey, last in "Gestion des comptes").
        ("s.garnier", "Madame", "Sarah", "GARNIER", "Bénévole", PartnerRole.TECHNICIAN, main),
    ]:
        account = PartnerAccount(
            login=login, role=role.value, structure=structure, civility=civility, usage_name=last,
            first_name=first, function=function, phone="05.56.00.00.00",
            email=f"{login}@partenaire.example.fr", password_hash=password_hash, password_changed_at=now(),
        )
        db.session.add(account)
        accounts[login] = account
    db.session.flush()
    for login in ("n.faure", "s.garnier"):
        accounts[login].active = False
        accounts[login].inactivated_at = now() - timedelta(days=40)
    for login in ("v.chausson", "m.pichon"):
        accounts[login].cgu_accepted_at = now() - timedelta(days=60)

    requester = accounts["v.chausson"]
    difficulty = offers[1]
    # R-ORG-4: a request still awaiting CPAM OISE after the convention ended.
    _request(caisses["601"], oise, requester, difficulty, RequestStatus.NEW, now() - timedelta(days=15))
    # R-ORG-5: every request to CPAM LOT ET GARONNE is resolved; the grace period runs 30 days.
    _request(caisses["471"], lot, requester, difficulty, RequestStatus.RESOLVED, now() - timedelta(days=25),
             resolved_at=now() - timedelta(days=10))
    _demo_news(caisses, accounts)
    db.session.commit()
    return {
        "back-office": [a[0] for a in AGENTS],
        "portal": list(accounts),
        "password": DEMO_PASSWORD,
    }


def _request(caisse, convention, requester, offer, status, deposited_at, resolved_at=None):
    motive = offer.motives[0]
    request = Request(
        number=next_number(caisse),
        caisse_id=caisse.id,
        structure_id=convention.structure_id,
        convention_id=convention.id,
        service_offer_id=offer.id,
        motive_id=motive.id,
        requester_account_id=requester.id,
        requester_name=requester.full_name,
        person_civility="Madame",
        person_last_name="EXEMPLE",
        person_first_name="Camille",
        person_birth_place="33",
        person_phone="06.00.00.00.00",
        comment="Demande de démonstration : aucune donnée de santé.",
        status=status.value,
        deposited_at=deposited_at,
        status_changed_at=resolved_at or deposited_at,
        resolved_at=resolved_at,
        answer="Réponse de démonstration." if resolved_at else None,
    )
    db.session.add(request)
    db.session.flush()
    db.session.add(StatusChange(request_id=request.id, status=RequestStatus.NEW.value, changed_at=deposited_at))
    if resolved_at:
        db.session.add(StatusChange(request_id=request.id, status=status.value, changed_at=resolved_at))
    return request


def _demo_news(caisses, accounts):
    """R-HOME-1: news for CPAM GIRONDE (one still to come) and CPAM DORDOGNE, none elsewhere.

    The other caisses show the "no news" landing (accounts page / deposit page). m.pichon is
    subscribed to the newsletter.
    """
    from ..models import News, NewsletterSubscription

    moment = now()
    gironde, dordogne = caisses["331"].id, caisses["241"].id
    for caisse_id, title, body, publish_at, colour in [
        (
            gironde,
            "Nouvelle version d'Espace Partenaires",
            "Espace Partenaires évolue : la page d'accueil présente désormais les actualités de votre "
            "caisse, et vous pouvez vous abonner à la newsletter partenaires.",
            moment - timedelta(days=2),
            (0, 84, 166),
        ),
        (
            gironde,
            "Campagne de vaccination contre la grippe",
            "La campagne de vaccination contre la grippe saisonnière est ouverte. Orientez les "
            "personnes que vous accompagnez vers leur médecin ou leur pharmacien.",
            moment - timedelta(days=12),
            None,
        ),
        (
            gironde,
            "Permanences d'accueil de l'été",
            "Les horaires des permanences d'accueil changent pendant l'été : ils seront publiés ici.",
            moment + timedelta(days=5),  # not yet published: it appears on its date
            None,
        ),
        (
            dordogne,
            "Complémentaire santé solidaire : les nouveautés",
            "Les plafonds de ressources de la Complémentaire santé solidaire ont été revalorisés. "
            "Contactez-nous pour toute question sur un dossier.",
            moment - timedelta(days=4),
            (0, 133, 88),
        ),
    ]:
        news = News(caisse_id=caisse_id, title=title, body=body, publish_at=publish_at, created_at=moment)
        if colour:
            news.image, news.image_type = _banner_png(colour), "image/png"
        db.session.add(news)
    db.session.add(NewsletterSubscription(account_id=accounts["m.pichon"].id))


def _banner_png(rgb, width=480, height=200) -> bytes:
    """A plain-colour PNG banner built by hand (no imaging library needed for the demo)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height, 9)) + chunk(b"IEND", b"")
