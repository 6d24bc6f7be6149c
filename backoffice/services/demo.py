"""`flask demo`: a living demo dataset, dated relative to today (example names from the manuals)."""
from datetime import timedelta

from sqlalchemy import func, select

from ..clock import now, today
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
from .numbering import next_number
from .passwords import hash_password

DEMO_PASSWORD = "Demo-Espace-2026"  # noqa: S105 (the documented demo password)

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
    _demo_requests(caisses, structures, accounts)
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


# Invented people (the manuals' examples and a few more): no real person, no health data.
_DEMO_PEOPLE = [
    ("Madame", "TUTU", "Joséphine", (1971, 10, 10), "44"),
    ("Monsieur", "PRINCE", "Marius", (1958, 3, 2), "33"),
    ("Madame", "LAFLEUR", "Rosalie", (1990, 6, 21), "2A"),
    ("Monsieur", "CASTAGNE", "Aimé", (1984, 12, 1), "Portugal"),
    ("Madame", "BELAIR", "Capucine", (2001, 1, 15), "33"),
    ("Monsieur", "TOURNESOL", "Tryphon", (1949, 5, 30), "24"),
]
_DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def _demo_requests(caisses, structures, accounts):
    """R-BO-1..5, R-STA-1..5: CPAM GIRONDE's queue and the main structure's history, alive.

    Every offer in every status (Nouveau, Pris en charge, Résolu with a caisse file, Message envoyé,
    Message reçu, Clôturé), one cancelled request, a Q/R exchange at 3/4 and a "Nouveau" request
    deposited 3 days ago (overdue against the 48-hour target). Dated relative to now, numbered in
    deposit order; each status change has its StatusChange row.
    """
    import hashlib
    import secrets
    from datetime import date

    from ..models import Attachment, AttachmentContent, ExchangeMessage
    from .requests import ACCOMPANIMENT, CANCEL_REASONS, CONSENT_TEXT, SAISINE_MOTIVE

    gironde, main = caisses["331"], structures[0]
    convention = db.session.scalar(
        select(Convention).where(Convention.structure_id == main.id, Convention.caisse_id == gironde.id)
    )
    agent = db.session.scalar(select(Agent).where(Agent.username == "agent.gironde"))
    caisse_admin = db.session.scalar(select(Agent).where(Agent.username == "admin.gironde"))
    offers = list(db.session.scalars(select(ServiceOffer).order_by(ServiceOffer.position)))
    requesters = [accounts["v.chausson"], accounts["m.pichon"]]
    moment = now()
    hours = lambda n: moment - timedelta(hours=n)  # noqa: E731

    def attach(request, side, filename, at, message=None):
        attachment = Attachment(
            request_id=request.id, exchange_message_id=message.id if message else None, side=side,
            filename=filename, storage_name=secrets.token_hex(16), content_type="application/pdf",
            size=len(_DEMO_PDF), sha256=hashlib.sha256(_DEMO_PDF).hexdigest(), uploaded_at=at,
        )
        attachment.content = AttachmentContent(data=_DEMO_PDF)
        db.session.add(attachment)

    def change(request, status, at, by_agent=None, by_account=None):
        request.status, request.status_changed_at = status.value, at
        db.session.add(StatusChange(
            request_id=request.id, status=status.value, changed_at=at,
            agent_id=by_agent.id if by_agent else None, account_id=by_account.id if by_account else None,
        ))

    # (offer index, status, deposited hours ago, step hours, rounds of Q/R) — statuses of R-STA-1..4.
    plan = []
    for index in range(len(offers)):
        plan += [
            (index, RequestStatus.NEW, 2 + 7 * index, 0, 0),
            (index, RequestStatus.TAKEN, 26 + 5 * index, 3, 0),
            (index, RequestStatus.RESOLVED, 70 + 11 * index, 6, 0),
            (index, RequestStatus.MESSAGE_SENT, 150 + 9 * index, 8, 1),
            (index, RequestStatus.MESSAGE_RECEIVED, 200 + 7 * index, 8, 3 if index == 3 else 1),
            (index, RequestStatus.CLOSED, 500 + 13 * index, 24, 0 if index % 2 else 4),
        ]
    plan.append((1, RequestStatus.NEW, 72, 0, 0))  # overdue: deposited 3 days ago, still "Nouveau"
    plan.append((2, RequestStatus.CANCELLED, 90, 5, 0))
    plan.sort(key=lambda item: -item[2])  # oldest first: numbers follow the deposit order

    for position, (index, status, age, step, rounds) in enumerate(plan):
        offer = offers[index]
        requester = requesters[position % 2]
        deposited = hours(age)
        motives = list(offer.motives)
        motive = motives[position % len(motives)]
        details = {}
        person = {}
        if offer.code == "contact":
            details["appointment_modes"] = ["Téléphonique / Visio", "Physique"][: 1 + position % 2]
        if offer.code == "document":
            details["documents"] = [motive.label]
        if offer.code == "difficulty" and status == RequestStatus.TAKEN:
            motive = next(m for m in motives if m.label == SAISINE_MOTIVE)
            details.update(consent=True, consent_text=CONSENT_TEXT, accompaniment=[ACCOMPANIMENT[3]])
        if offer.concerns_person:
            civility, last, first, (y, m, d), place = _DEMO_PEOPLE[position % len(_DEMO_PEOPLE)]
            person = dict(
                person_civility=civility, person_last_name=last, person_first_name=first,
                person_birth_date=date(y, m, d), person_birth_place=place, person_phone="06.00.00.00.00",
            )
        request = Request(
            number=next_number(gironde), caisse_id=gironde.id, structure_id=main.id, convention_id=convention.id,
            service_offer_id=offer.id, motive_id=motive.id, requester_account_id=requester.id,
            requester_name=f"{requester.display_name} {requester.first_name}",
            comment=f"Demande de démonstration ({offer.label.lower()}) : merci de rappeler la personne "
            "pour faire le point sur sa situation administrative.",
            details=details, status=RequestStatus.NEW.value, deposited_at=deposited, status_changed_at=deposited,
            **person,
        )
        db.session.add(request)
        db.session.flush()
        db.session.add(StatusChange(
            request_id=request.id, status=RequestStatus.NEW.value, changed_at=deposited, account_id=requester.id
        ))
        if offer.allows_attachments and position % 3 == 0:
            attach(request, "partner", "justificatif.pdf", deposited)
        if status == RequestStatus.NEW:
            continue
        if status == RequestStatus.CANCELLED:
            request.cancel_reason, request.cancelled_at = CANCEL_REASONS[1], deposited + timedelta(hours=step)
            change(request, status, request.cancelled_at, by_account=requester)
            continue
        taker = agent if position % 4 else caisse_admin
        request.taken_by_agent_id, request.taken_at = taker.id, deposited + timedelta(hours=step)
        change(request, RequestStatus.TAKEN, request.taken_at, by_agent=taker)
        if status == RequestStatus.TAKEN:
            continue
        resolved = deposited + timedelta(hours=2 * step)
        if status == RequestStatus.CLOSED and not rounds:
            resolved = moment - timedelta(days=17)  # closed on day 16 by `flask housekeeping`
        request.answer = "Bonjour, le dossier est traité. Vous trouverez les éléments dans la réponse. Cordialement."
        request.resolved_at, request.resolved_by_agent_id = resolved, taker.id
        change(request, RequestStatus.RESOLVED, resolved, by_agent=taker)
        if offer.allows_attachments or status == RequestStatus.RESOLVED:
            attach(request, "caisse", "reponse_caisse.pdf", resolved)
        at = resolved
        for turn in range(1, rounds + 1):
            at = at + timedelta(hours=step)
            question = ExchangeMessage(
                request_id=request.id, side="partner", created_at=at, account_id=requester.id,
                author_name=f"{requester.display_name} {requester.first_name}",
                body=f"Question {turn} : pouvez-vous préciser la suite donnée au dossier ?",
            )
            db.session.add(question)
            db.session.flush()
            if turn == 1 and offer.allows_attachments:
                attach(request, "partner", f"complement_{turn}.pdf", at, question)
            change(request, RequestStatus.MESSAGE_SENT, at, by_account=requester)
            if status == RequestStatus.MESSAGE_SENT and turn == rounds:
                break
            at = at + timedelta(hours=step)
            db.session.add(ExchangeMessage(
                request_id=request.id, side="caisse", created_at=at, agent_id=taker.id, author_name=gironde.name,
                body=f"Réponse {turn} : le dossier suit son cours, nous revenons vers vous rapidement.",
            ))
            request.caisse_answers_in_exchange = turn
            last = status == RequestStatus.CLOSED and turn == 4
            change(request, RequestStatus.CLOSED if last else RequestStatus.MESSAGE_RECEIVED, at, by_agent=taker)
            if last:
                request.closed_at = at
        if status == RequestStatus.CLOSED and not rounds:
            request.closed_at = resolved + timedelta(days=16)
            change(request, RequestStatus.CLOSED, request.closed_at)
    db.session.flush()
