"""`flask demo`: loads data.py into an empty database through the factories, dated relative to today."""

import hashlib
import secrets
import struct
import zlib
from datetime import date, timedelta

from sqlalchemy import select

from ..clock import now, today
from ..extensions import db
from ..models import (
    Attachment,
    AttachmentContent,
    Caisse,
    ExchangeMessage,
    News,
    NewsletterSubscription,
    Request,
    RequestStatus,
    ServiceOffer,
    StatusChange,
)
from ..services import statements
from ..services.numbering import next_number
from ..services.passwords import hash_password
from ..services.requests import ACCOMPANIMENT, CANCEL_REASONS, CONSENT_TEXT, SAISINE_MOTIVE
from . import data, factories, replies

# The columns of a row of data.STRUCTURES, as factories.structure names them.
STRUCTURE_COLUMNS = ("name", "type", "siret", "address", "postal_code", "city", "member_count")


def is_empty() -> bool:
    return not statements.count(Caisse)


def load() -> dict:
    """Fill an empty database. Returns the demo logins for the console."""
    if not is_empty():
        raise RuntimeError(
            "La base n'est pas vide : les données de démonstration ne sont chargées que dans une base vide."
        )
    caisses = {code: factories.caisse(name, code) for name, code in data.CAISSES}
    password_hash = hash_password(data.PASSWORD)
    agents = {
        username: factories.agent(
            username,
            role=role,
            caisse=caisses[code] if code else None,
            first_name=first,
            last_name=last,
            email=f"{username}@cpam.example.fr",
            password_hash=password_hash,
            password_changed_at=now(),
        )
        for username, first, last, role, code in data.AGENTS
    }
    structures = [
        factories.structure(agents[data.REGISTRAR], **dict(zip(STRUCTURE_COLUMNS, row, strict=True)))
        for row in data.STRUCTURES
    ]
    offers = list(db.session.scalars(select(ServiceOffer).order_by(ServiceOffer.position)))
    day = today()
    national = agents["admin"]
    conventions = {
        key: factories.convention(
            national,
            structures[index],
            caisse=caisses[code],
            start=day + timedelta(days=start),
            end=day + timedelta(days=end),
            offers=offers[opened],
            technician_cap=technician_cap,
        )
        for key, index, code, start, end, opened, technician_cap in data.CONVENTIONS
    }

    accounts = {
        login: factories.partner_account(
            structures[index],
            login,
            role=role,
            civility=civility,
            usage_name=last,
            first_name=first,
            function=function,
            phone=data.ACCOUNT_PHONE,
            email=f"{login}@partenaire.example.fr",
            password_hash=password_hash,
            password_changed_at=now(),
        )
        for login, civility, first, last, function, role, index in data.ACCOUNTS
    }
    db.session.flush()
    for login in data.INACTIVE:
        accounts[login].active = False
        accounts[login].inactivated_at = now() - timedelta(days=40)
    for login in data.CGU_ACCEPTED:
        accounts[login].cgu_accepted_at = now() - timedelta(days=60)

    requester = accounts[data.REQUESTERS[0]]
    difficulty = offers[1]
    # R-ORG-4: a request still awaiting CPAM OISE after the convention ended.
    _request(
        caisses["601"],
        conventions["ended_pending"],
        requester,
        difficulty,
        RequestStatus.NEW,
        now() - timedelta(days=15),
    )
    # R-ORG-5: every request to CPAM LOT ET GARONNE is resolved; the grace period runs 30 days.
    _request(
        caisses["471"],
        conventions["grace"],
        requester,
        difficulty,
        RequestStatus.RESOLVED,
        now() - timedelta(days=25),
        resolved_at=now() - timedelta(days=10),
    )
    replies.load(caisses, agents)
    _news(caisses, accounts)
    _queue(caisses["331"], conventions["current"], agents, accounts, offers)
    db.session.commit()
    return {
        "back-office": [a[0] for a in data.AGENTS],
        "portal": list(accounts),
        "password": data.PASSWORD,
    }


def _request(caisse, convention, requester, offer, status, deposited_at, resolved_at=None):
    """A request of R-ORG-4/5 (its convention has ended), filed and possibly resolved in the past."""
    civility, last, first, place = data.CONVENTION_PERSON
    request = Request(
        number=next_number(caisse),
        caisse_id=caisse.id,
        structure_id=convention.structure_id,
        convention_id=convention.id,
        service_offer_id=offer.id,
        motive_id=offer.motives[0].id,
        requester_account_id=requester.id,
        requester_name=requester.full_name,
        person_civility=civility,
        person_last_name=last,
        person_first_name=first,
        person_birth_place=place,
        person_phone=data.PERSON_PHONE,
        comment=data.CONVENTION_COMMENT,
        status=status.value,
        deposited_at=deposited_at,
        status_changed_at=resolved_at or deposited_at,
        resolved_at=resolved_at,
        answer=data.CONVENTION_ANSWER if resolved_at else None,
    )
    db.session.add(request)
    db.session.flush()
    db.session.add(StatusChange(request_id=request.id, status=RequestStatus.NEW.value, changed_at=deposited_at))
    if resolved_at:
        db.session.add(StatusChange(request_id=request.id, status=status.value, changed_at=resolved_at))
    return request


def _news(caisses, accounts):
    """R-HOME-1: data.NEWS, dated from now, with plain-colour banners; one newsletter subscriber."""
    moment = now()
    for code, title, body, days, colour in data.NEWS:
        news = News(
            caisse_id=caisses[code].id,
            title=title,
            body=body,
            publish_at=moment + timedelta(days=days),
            created_at=moment,
        )
        if colour:
            news.image, news.image_type = _banner_png(colour), "image/png"
        db.session.add(news)
    db.session.add(NewsletterSubscription(account_id=accounts[data.NEWSLETTER_SUBSCRIBER].id))


def _banner_png(rgb, width=480, height=200) -> bytes:
    """A plain-colour PNG banner built by hand (no imaging library needed for the demo)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height, 9))
        + chunk(b"IEND", b"")
    )


def _plan(offer_count: int) -> list[tuple]:
    """(offer index, status, deposited hours ago, step hours, rounds of Q/R), oldest first.

    Every offer in every status of R-STA-1..4, a "Nouveau" request deposited 3 days ago (overdue
    against the 48-hour target) and a cancelled one; numbers follow the deposit order."""
    plan = []
    for index in range(offer_count):
        plan += [
            (index, RequestStatus.NEW, 2 + 7 * index, 0, 0),
            (index, RequestStatus.TAKEN, 26 + 5 * index, 3, 0),
            (index, RequestStatus.RESOLVED, 70 + 11 * index, 6, 0),
            (index, RequestStatus.MESSAGE_SENT, 150 + 9 * index, 8, 1),
            (index, RequestStatus.MESSAGE_RECEIVED, 200 + 7 * index, 8, 3 if index == 3 else 1),
            (index, RequestStatus.CLOSED, 500 + 13 * index, 24, 0 if index % 2 else 4),
        ]
    plan.append((1, RequestStatus.NEW, 72, 0, 0))
    plan.append((2, RequestStatus.CANCELLED, 90, 5, 0))
    plan.sort(key=lambda item: -item[2])
    return plan


def _queue(gironde, convention, agents, accounts, offers):
    """R-BO-1..5, R-STA-1..5: CPAM GIRONDE's queue and the main structure's history, alive.

    Résolu requests carry a caisse file, a Q/R exchange stands at 3/4; dated relative to now, each
    status change has its StatusChange row.
    """
    main_id = convention.structure_id
    agent, caisse_admin = agents["agent.gironde"], agents["admin.gironde"]
    requesters = [accounts[login] for login in data.REQUESTERS]
    moment = now()

    def attach(request, side, filename, at, message=None):
        attachment = Attachment(
            request_id=request.id,
            exchange_message_id=message.id if message else None,
            side=side,
            filename=filename,
            storage_name=secrets.token_hex(16),
            content_type="application/pdf",
            size=len(data.PDF),
            sha256=hashlib.sha256(data.PDF).hexdigest(),
            uploaded_at=at,
        )
        attachment.content = AttachmentContent(data=data.PDF)
        db.session.add(attachment)

    def change(request, status, at, by_agent=None, by_account=None):
        request.status, request.status_changed_at = status.value, at
        db.session.add(
            StatusChange(
                request_id=request.id,
                status=status.value,
                changed_at=at,
                agent_id=by_agent.id if by_agent else None,
                account_id=by_account.id if by_account else None,
            )
        )

    for position, (index, status, age, step, rounds) in enumerate(_plan(len(offers))):
        offer = offers[index]
        requester = requesters[position % 2]
        deposited = moment - timedelta(hours=age)
        motives = list(offer.motives)
        motive = motives[position % len(motives)]
        details: dict = {}
        person: dict = {}
        if offer.code == "contact":
            details["appointment_modes"] = ["Téléphonique / Visio", "Physique"][: 1 + position % 2]
        if offer.code == "document":
            details["documents"] = [motive.label]
        if offer.code == "difficulty" and status == RequestStatus.TAKEN:
            motive = next(m for m in motives if m.label == SAISINE_MOTIVE)
            details.update(consent=True, consent_text=CONSENT_TEXT, accompaniment=[ACCOMPANIMENT[3]])
        if offer.concerns_person:
            civility, last, first, (y, m, d), place = data.PEOPLE[position % len(data.PEOPLE)]
            person = dict(
                person_civility=civility,
                person_last_name=last,
                person_first_name=first,
                person_birth_date=date(y, m, d),
                person_birth_place=place,
                person_phone=data.PERSON_PHONE,
            )
        request = Request(
            number=next_number(gironde),
            caisse_id=gironde.id,
            structure_id=main_id,
            convention_id=convention.id,
            service_offer_id=offer.id,
            motive_id=motive.id,
            requester_account_id=requester.id,
            requester_name=f"{requester.display_name} {requester.first_name}",
            comment=data.REQUEST_COMMENT.format(offer=offer.label.lower()),
            details=details,
            status=RequestStatus.NEW.value,
            deposited_at=deposited,
            status_changed_at=deposited,
            **person,
        )
        db.session.add(request)
        db.session.flush()
        db.session.add(
            StatusChange(
                request_id=request.id, status=RequestStatus.NEW.value, changed_at=deposited, account_id=requester.id
            )
        )
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
        request.answer = data.ANSWER
        request.resolved_at, request.resolved_by_agent_id = resolved, taker.id
        change(request, RequestStatus.RESOLVED, resolved, by_agent=taker)
        if offer.allows_attachments or status == RequestStatus.RESOLVED:
            attach(request, "caisse", "reponse_caisse.pdf", resolved)
        at = resolved
        for turn in range(1, rounds + 1):
            at = at + timedelta(hours=step)
            question = ExchangeMessage(
                request_id=request.id,
                side="partner",
                created_at=at,
                account_id=requester.id,
                author_name=f"{requester.display_name} {requester.first_name}",
                body=data.QUESTION.format(turn=turn),
            )
            db.session.add(question)
            db.session.flush()
            if turn == 1 and offer.allows_attachments:
                attach(request, "partner", f"complement_{turn}.pdf", at, question)
            change(request, RequestStatus.MESSAGE_SENT, at, by_account=requester)
            if status == RequestStatus.MESSAGE_SENT and turn == rounds:
                break
            at = at + timedelta(hours=step)
            db.session.add(
                ExchangeMessage(
                    request_id=request.id,
                    side="caisse",
                    created_at=at,
                    agent_id=taker.id,
                    author_name=gironde.name,
                    body=data.REPLY.format(turn=turn),
                )
            )
            request.caisse_answers_in_exchange = turn
            closes = status == RequestStatus.CLOSED and turn == 4
            change(request, RequestStatus.CLOSED if closes else RequestStatus.MESSAGE_RECEIVED, at, by_agent=taker)
            if closes:
                request.closed_at = at
        if status == RequestStatus.CLOSED and not rounds:
            request.closed_at = resolved + timedelta(days=16)
            change(request, RequestStatus.CLOSED, request.closed_at)
    db.session.flush()
