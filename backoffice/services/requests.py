"""Requests (SPEC §5–6): filing, completing, cancelling, taking, answering, the Q/R exchange.

Each status transition is one conditional UPDATE of the request row checked by its rowcount (see
"transitions" below); the winner writes the dated StatusChange row, the audit entry and the e-mail
in the same transaction (R-STA-5, R-RGPD-4, SPEC §7), the loser writes nothing.
"""
import math
import re
from contextlib import contextmanager
from datetime import date, timedelta

from sqlalchemy import and_, case, func, literal, or_, select, update
from sqlalchemy.orm import joinedload

from ..clock import format_date, now, today
from ..extensions import db
from ..models import (
    Agent,
    Attachment,
    AttachmentContent,
    CaisseMotive,
    ExchangeMessage,
    Motive,
    PartnerAccount,
    Request,
    RequestStatus,
    ServiceOffer,
    StatusChange,
)
from . import audit, outbox, uploads
from .attachments import MAX_FILES, check_count
from .errors import DomainError, ValidationFailed
from .identity import _NAME_RE, PHONE_MESSAGE, PHONE_RE, capitalize_first_name, normalize_phone
from .numbering import next_number
from .scoping import caisse_filter

COMMENT_MAX = 5000
EXCHANGE_DAYS = 15
EXCHANGE_MAX_ROUNDS = 4
EXCHANGE_MAX_FILES = 8
RECEIVED_FILES_DAYS = 15
HANDLING_TARGET = timedelta(hours=48)  # R-BO-5

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


# --- reading ----------------------------------------------------------------------------------


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


def partner_files(request: Request) -> list[Attachment]:
    return [a for a in _attachments(request.id) if a.side == "partner"]


def caisse_files(request: Request) -> list[Attachment]:
    return [a for a in _attachments(request.id) if a.side == "caisse"]


def request_files(request: Request) -> list[Attachment]:
    """partner_files + caisse_files in one statement (the detail pages list both)."""
    files = _attachments(request.id)
    return [a for a in files if a.side == "partner"] + [a for a in files if a.side == "caisse"]


def _attachments(request_id: int) -> list[Attachment]:
    return list(
        db.session.scalars(select(Attachment).where(Attachment.request_id == request_id).order_by(Attachment.id))
    )


def received_file_available(attachment: Attachment) -> bool:
    """R-HIS-4: a file from the caisse is downloadable for 15 days, then listed as expired."""
    return attachment.purged_at is None and now() < attachment.uploaded_at + timedelta(days=RECEIVED_FILES_DAYS)


def exchange_deadline(request: Request):
    return request.resolved_at + timedelta(days=EXCHANGE_DAYS) if request.resolved_at else None


def partner_message_count(request_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(ExchangeMessage).where(
            ExchangeMessage.request_id == request_id, ExchangeMessage.side == "partner"
        )
    )


def exchange_files_count(request_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Attachment).where(
            Attachment.request_id == request_id,
            Attachment.side == "partner",
            Attachment.exchange_message_id.is_not(None),
        )
    )


def exchange_state(request: Request, attachments: list[Attachment] | None = None) -> dict:
    """Live counters for both sides: exchanges '2/4', days left 'J-9', files '5/8'.

    The rounds are counted on the messages read here; a page that already holds the request's
    attachments (request_files) passes them, so the files are counted without another statement.
    """
    deadline = exchange_deadline(request)
    days_left = None
    if deadline is not None:
        remaining = (deadline - now()).total_seconds()
        days_left = max(math.ceil(remaining / 86400), 0)
    messages = list(
        db.session.scalars(
            select(ExchangeMessage)
            .where(ExchangeMessage.request_id == request.id)
            .order_by(ExchangeMessage.created_at, ExchangeMessage.id)
        )
    )
    rounds = sum(1 for m in messages if m.side == "partner")
    if attachments is None:
        files = exchange_files_count(request.id)
    else:
        files = sum(1 for a in attachments if a.side == "partner" and a.exchange_message_id is not None)
    can_write = (
        request.status in (RequestStatus.RESOLVED.value, RequestStatus.MESSAGE_RECEIVED.value)
        and deadline is not None
        and now() < deadline
        and rounds < EXCHANGE_MAX_ROUNDS
    )
    return {
        "rounds": rounds,
        "rounds_label": f"{rounds}/{EXCHANGE_MAX_ROUNDS}",
        "days_left": days_left,
        "days_label": f"J-{days_left}" if days_left is not None else "",
        "files": files,
        "files_label": f"{files}/{EXCHANGE_MAX_FILES}",
        "can_write": can_write,
        "can_close": request.status == RequestStatus.MESSAGE_RECEIVED.value,
        "messages": messages,
    }


def time_left(request: Request):
    """R-BO-5: time left before the 48-hour target (negative when overdue), for new requests."""
    if request.status != RequestStatus.NEW.value:
        return None
    return request.deposited_at + HANDLING_TARGET - now()


def overdue_condition():
    """R-BO-5 in SQL: still "Nouveau" more than 48 hours after deposit (same boundary as time_left)."""
    return and_(Request.status == RequestStatus.NEW.value, Request.deposited_at < now() - HANDLING_TARGET)


def queue_order(columns=None) -> list:
    """R-BO-1: "Nouveau" first, oldest first (the most urgent on top), then the others newest first.

    `columns`: where the request's columns come from (a subquery's `.c`), the table by default."""
    c = Request if columns is None else columns
    is_new = c.status == RequestStatus.NEW.value
    return [
        case((is_new, 0), else_=1),
        case((is_new, c.deposited_at)).asc(),
        c.deposited_at.desc(),
        c.id.desc(),
    ]


def status_history(request: Request) -> list[dict]:
    """R-STA-5 for the agent screen: each status change with its date and who made it."""
    from ..models import PartnerAccount as Account

    rows = db.session.execute(
        select(StatusChange, Agent, Account)
        .outerjoin(Agent, Agent.id == StatusChange.agent_id)
        .outerjoin(Account, Account.id == StatusChange.account_id)
        .where(StatusChange.request_id == request.id)
        .order_by(StatusChange.changed_at, StatusChange.id)
    ).all()
    history = []
    for change, agent, account in rows:
        if agent is not None:
            who = f"{agent.full_name} (caisse)"
        elif account is not None:
            who = f"{account.full_name} (partenaire)"
        elif change.status == RequestStatus.NEW.value:
            who = f"{request.requester_name} (partenaire)"
        else:
            who = "Automatique"
        history.append({"status": RequestStatus(change.status).label, "at": change.changed_at, "who": who})
    return history


def agent_attachment(agent: Agent, attachment_id: int) -> Attachment | None:
    """An attachment of a request the agent may see (R-TEN-2), or None."""
    return db.session.scalar(
        select(Attachment)
        .join(Request, Request.id == Attachment.request_id)
        .where(Attachment.id == attachment_id, caisse_filter(agent, Request.caisse_id))
    )


def download_for_agent(agent: Agent, attachment: Attachment) -> bytes | None:
    """The bytes of an attachment for an agent (R-BO-4), audited; None once purged (R-RGPD-1)."""
    if attachment.purged_at is not None:
        return None
    content = db.session.get(AttachmentContent, attachment.id)
    if content is None:
        return None
    data = content.data
    request = db.session.get(Request, attachment.request_id)
    audit.record(
        "attachment.download", actor=agent, target=attachment, caisse_id=request.caisse_id,
        number=request.number, filename=attachment.filename, side=attachment.side,
    )
    db.session.commit()
    return data


def record_queue_export(agent: Agent, export_type: str, filters: list[dict], search: str | None, rows: int, total: int | None) -> None:
    """R-RGPD-4: an export of personal data from the work queue is written to the audit log."""
    audit.record(
        "request.export", actor=agent, caisse_id=agent.caisse_id, format=export_type, filters=filters,
        search=search or "", rows=rows, total=total,
    )
    # The exported rows are already loaded: keep them so (no reload row by row after the commit).
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


# --- partner side -----------------------------------------------------------------------------


def _clean_person(data: dict, errors: dict) -> dict:
    civility = (data.get("person_civility") or "").strip()
    last = " ".join((data.get("person_last_name") or "").split())
    first = " ".join((data.get("person_first_name") or "").split())
    birth: date | None = data.get("person_birth_date")
    place = " ".join((data.get("person_birth_place") or "").split())
    phone = normalize_phone(data.get("person_phone") or "")
    if civility not in ("Madame", "Monsieur"):
        errors["person_civility"] = "Veuillez choisir la civilité de la personne concernée."
    if not last:
        errors["person_last_name"] = "Veuillez renseigner le nom de la personne concernée."
    elif len(last) > 30:
        errors["person_last_name"] = "Le nom ne doit pas dépasser 30 caractères."
    elif not _NAME_RE.match(last):
        errors["person_last_name"] = "Nom : seuls les lettres, l'apostrophe, le tiret et l'espace sont autorisés."
    if not first:
        errors["person_first_name"] = "Veuillez renseigner le prénom de la personne concernée."
    elif len(first) > 20:
        errors["person_first_name"] = "Le prénom ne doit pas dépasser 20 caractères."
    elif not _NAME_RE.match(first):
        errors["person_first_name"] = "Prénom : seuls les lettres, l'apostrophe, le tiret et l'espace sont autorisés."
    if birth is None:
        errors["person_birth_date"] = "Veuillez saisir une date de naissance valide au format JJ/MM/AAAA."
    elif birth >= today() or birth.year < 1890:
        errors["person_birth_date"] = "La date de naissance doit être une date passée réelle (JJ/MM/AAAA)."
    if not place:
        errors["person_birth_place"] = (
            "Veuillez indiquer le lieu de naissance : N° du département ou libellé du pays."
        )
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


def _clean_comment(comment: str | None, errors: dict) -> str:
    comment = (comment or "").replace("\r\n", "\n").strip()
    if not comment:
        errors["comment"] = "Veuillez saisir un commentaire."
    elif len(comment) > COMMENT_MAX:
        errors["comment"] = f"Le commentaire ne doit pas dépasser {COMMENT_MAX} caractères ({len(comment)} saisis)."
    return comment


def _text_and_files(owner, text: str, staged_keys: list[str], field: str, reword, already: int = 0,
                    limit: int = MAX_FILES, files_allowed: bool = True) -> tuple[str, list]:
    """The text (required, ≤ 5000) and the owner's staged files within the limit, or ValidationFailed.

    `reword` turns the comment messages into the field's own words ("la réponse", "votre message").
    """
    errors: dict[str, str] = {}
    text = _clean_comment(text, errors)
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


def _as_message(message: str) -> str:
    return message.replace("un commentaire", "votre message").replace("Le commentaire", "Le message")


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
        motive = allowed.get(data.get("motive_id"))
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
    comment = _clean_comment(data.get("comment"), errors)
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
    audit.record("request.file", actor=account, target=request, caisse_id=caisse_id, number=request.number,
                 files=len(files) + len(new_files))
    db.session.commit()
    return request


def _own_request(account: PartnerAccount, caisse_id: int, number: str) -> Request | None:
    """A request of the account's structure for the selected caisse (never another structure's)."""
    return db.session.scalar(
        select(Request)
        .options(joinedload(Request.service_offer), joinedload(Request.motive))
        .where(
            Request.number == number,
            Request.structure_id == account.structure_id,
            Request.caisse_id == caisse_id,
            Request.status != RequestStatus.CANCELLED.value,
        )
    )


get_for_partner = _own_request


def cancelled_for_partner(account: PartnerAccount, caisse_id: int, number: str) -> bool:
    """Whether the structure cancelled this request (a repeated 'Annuler' is told so, not a 404)."""
    return db.session.scalar(
        select(Request.id).where(
            Request.number == number,
            Request.structure_id == account.structure_id,
            Request.caisse_id == caisse_id,
            Request.status == RequestStatus.CANCELLED.value,
        )
    ) is not None


# --- caisse side: reading ---------------------------------------------------------------------


def get_for_agent(agent: Agent, request_id: int) -> Request | None:
    """R-TEN-2: an agent reaches only its caisse's requests."""
    query = select(Request).where(Request.id == request_id)
    if not agent.is_national_admin:
        query = query.where(Request.caisse_id == agent.caisse_id)
    return db.session.scalar(query)


def _mail_context(request: Request) -> dict:
    return {"request": request, "deposit_date": format_date(request.deposited_at)}


def _notify(request: Request, kind: str) -> None:
    requester = request.requester
    if requester is None or not requester.active:
        return
    outbox.enqueue(kind, requester.email, kind, caisse_id=request.caisse_id, account=requester, **_mail_context(request))


def _as_answer(message: str) -> str:
    """The comment messages, worded for the caisse's answer (not "Le commentaire …")."""
    return message.replace("un commentaire", "la réponse").replace("Le commentaire", "La réponse")


# --- transitions (R-STA-1..5, R-BO-2..4) ------------------------------------------------------
#
# Every change of a request's state is ONE conditional UPDATE of its row, run first in its
# transaction: WHERE id = ? AND status IN (the states it may leave) AND the owner (the partner's
# structure, the agent's caisse) AND, where the exchange counter matters, the counter. Its rowcount
# says who won. On PostgreSQL (READ COMMITTED) a concurrent transition of the same row waits for
# the winner's commit, then re-checks its WHERE on the committed row and matches nothing; SQLite
# serialises writers. Only the winner writes the children (history row, message, attachments,
# e-mail, audit); the loser rolls back and is told why, from the request as the winner left it.
# Counters are incremented in the UPDATE itself. The winner holds the row lock until it commits,
# so what it counts after its UPDATE (the files already attached) is counted by statements that
# see every earlier winner's commit: two "Compléter" at once cannot pass the 8-file total.

ALREADY_ANSWERED = "Cette demande a déjà reçu une réponse."
ALREADY_COMPLETED = (
    "Ce complément est déjà enregistré : le commentaire est inchangé et aucune nouvelle pièce jointe "
    "n'est ajoutée."
)
CANCELLED_BY_PARTNER = "Cette demande a été annulée par le partenaire."
MAX_ROUNDS_REACHED = "Le nombre maximal d'échanges est atteint."
NOT_IN_CAISSE = "Cette demande ne relève pas de votre caisse."
NOT_IN_STRUCTURE = "Cette demande ne relève pas de votre structure."


def _transition(request: Request, from_statuses, values: dict, *conditions) -> int:
    """UPDATE request SET values WHERE id = request.id AND status IN from_statuses AND conditions.

    Returns the rowcount (0 or 1). On 1 the row stays locked until the transaction ends and the
    request's attributes are expired, so they are read again as the UPDATE left them."""
    result = db.session.execute(
        update(Request)
        .where(Request.id == request.id, Request.status.in_([s.value for s in from_statuses]), *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        db.session.expire(request)
    return result.rowcount


def _moved(status: RequestStatus, stamp, **values) -> dict:
    """The values of a transition to `status` at `stamp` (R-STA-5: the status date)."""
    return {"status": status.value, "status_changed_at": stamp, **values}


def _record_status(request_id: int, status: RequestStatus, stamp, agent=None, account=None) -> None:
    """R-STA-5: the history row of a transition that won, dated as the request's status date."""
    db.session.add(
        StatusChange(
            request_id=request_id,
            status=status.value,
            changed_at=stamp,
            agent_id=agent.id if agent else None,
            account_id=account.id if account else None,
        )
    )


def _refusal(request: Request, explain) -> DomainError:
    """The loser's error: its transaction rolled back, the reason read from the request as it is now."""
    db.session.rollback()
    db.session.refresh(request)
    return DomainError(explain(request))


@contextmanager
def _winner():
    """The winner's children: any refusal among them rolls back the transition too."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise


def _within(count: int, adding: int, limit: int) -> None:
    """The file total, counted under the row lock; over it, the form is shown again with the files."""
    try:
        check_count(count, adding, limit)
    except DomainError as exc:
        raise ValidationFailed({"attachments": exc.message}) from None


def _initial_partner_files_count(request_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Attachment).where(
            Attachment.request_id == request_id,
            Attachment.side == "partner",
            Attachment.exchange_message_id.is_(None),
        )
    )


# --- transitions: partner side ----------------------------------------------------------------


def _why_not_completed(account: PartnerAccount, request: Request) -> str:
    if request.structure_id != account.structure_id:
        return NOT_IN_STRUCTURE
    if request.status == RequestStatus.CANCELLED.value:
        return "Cette demande a été annulée."
    if request.status != RequestStatus.NEW.value:
        return "La demande ne peut plus être complétée : elle a été prise en charge."
    return ALREADY_COMPLETED


def complete_request(account: PartnerAccount, request: Request, comment: str, staged_keys: list[str]) -> None:
    """R-STA-2 'Compléter la demande': a new comment and more files within the total of 8.

    The same submission twice (a double click) is refused the second time: its staged files are
    gone with the first, or it brings nothing new."""
    comment, files = _text_and_files(
        account, comment, staged_keys, "comment", reword=lambda m: m, already=len(partner_files(request)),
        files_allowed=request.service_offer.allows_attachments,
    )
    conditions = [Request.structure_id == account.structure_id]
    if not files:
        conditions.append(Request.comment != comment)
    if not _transition(request, (RequestStatus.NEW,), {"comment": comment}, *conditions):
        raise _refusal(request, lambda r: _why_not_completed(account, r))
    with _winner():
        if files:
            # Under the row lock: the files still staged (an identical submission that won took
            # them), and the files every earlier "Compléter" attached.
            claimed = uploads.staged(account, [f.key for f in files])
            if len(claimed) < len(files):
                raise DomainError(ALREADY_COMPLETED)
            _within(_initial_partner_files_count(request.id), len(claimed), MAX_FILES)
            uploads.attach(claimed, request.id, "partner")
        audit.record("request.complete", actor=account, target=request, caisse_id=request.caisse_id, files=len(files))
        db.session.commit()


def _why_not_cancelled(account: PartnerAccount, request: Request) -> str:
    if request.structure_id != account.structure_id:
        return NOT_IN_STRUCTURE
    if request.status == RequestStatus.CANCELLED.value:
        return "Cette demande a déjà été annulée."
    if request.status == RequestStatus.TAKEN.value:
        return "La demande ne peut plus être annulée : elle a été prise en charge."
    return "La demande ne peut plus être annulée : la caisse y a déjà répondu."


def cancel_request(account: PartnerAccount, request: Request, reason: str, confirmed: bool) -> None:
    """R-STA-2 'Annuler la demande': a reason and the confirmation toggle; kept for the caisse."""
    errors = {}
    if reason not in CANCEL_REASONS:
        errors["reason"] = "Veuillez sélectionner le motif de l'annulation."
    if not confirmed:
        errors["confirm"] = "Veuillez confirmer l'annulation."
    if errors:
        raise ValidationFailed(errors)
    stamp = now()
    won = _transition(
        request, (RequestStatus.NEW,), _moved(RequestStatus.CANCELLED, stamp, cancel_reason=reason, cancelled_at=stamp),
        Request.structure_id == account.structure_id,
    )
    if not won:
        raise _refusal(request, lambda r: _why_not_cancelled(account, r))
    with _winner():
        _record_status(request.id, RequestStatus.CANCELLED, stamp, account=account)
        audit.record("request.cancel", actor=account, target=request, caisse_id=request.caisse_id, reason=reason)
        db.session.commit()


def _why_no_message(account: PartnerAccount, request: Request) -> str:
    if request.structure_id != account.structure_id:
        return NOT_IN_STRUCTURE
    if request.status == RequestStatus.MESSAGE_SENT.value:
        return "Votre message a déjà été envoyé : la caisse n'y a pas encore répondu."
    if request.status == RequestStatus.CLOSED.value:
        return "L'échange est clôturé : aucun message ne peut plus être envoyé."
    if request.status in (RequestStatus.RESOLVED.value, RequestStatus.MESSAGE_RECEIVED.value):
        if request.caisse_answers_in_exchange >= EXCHANGE_MAX_ROUNDS:
            return MAX_ROUNDS_REACHED
        if request.resolved_at is not None and now() >= exchange_deadline(request):
            return f"Le délai de {EXCHANGE_DAYS} jours pour poursuivre l'échange est dépassé."
    return "L'échange n'est plus possible sur cette demande."


def partner_message(account: PartnerAccount, request: Request, body: str, staged_keys: list[str]) -> None:
    """R-STA-3: the technician writes within 15 days of resolution, at most 4 times, 8 files in all.

    The 4 rounds: a message is possible while the caisse has answered fewer than 4 times (each
    message waits for its answer: "Message envoyé" accepts no other)."""
    body, files = _text_and_files(
        account, body, staged_keys, "body", reword=_as_message, already=exchange_files_count(request.id),
        limit=EXCHANGE_MAX_FILES,
    )
    stamp = now()
    won = _transition(
        request, (RequestStatus.RESOLVED, RequestStatus.MESSAGE_RECEIVED), _moved(RequestStatus.MESSAGE_SENT, stamp),
        Request.structure_id == account.structure_id,
        Request.caisse_answers_in_exchange < EXCHANGE_MAX_ROUNDS,
        Request.resolved_at > stamp - timedelta(days=EXCHANGE_DAYS),
    )
    if not won:
        raise _refusal(request, lambda r: _why_no_message(account, r))
    with _winner():
        _within(exchange_files_count(request.id), len(files), EXCHANGE_MAX_FILES)
        message = ExchangeMessage(
            request_id=request.id, side="partner", body=body, account_id=account.id, created_at=stamp,
            author_name=f"{account.display_name} {account.first_name}",
        )
        db.session.add(message)
        db.session.flush()
        uploads.attach(files, request.id, "partner", exchange_message_id=message.id)
        _record_status(request.id, RequestStatus.MESSAGE_SENT, stamp, account=account)
        audit.record("request.message", actor=account, target=request, caisse_id=request.caisse_id, files=len(files))
        db.session.commit()


def close_exchange(account: PartnerAccount, request: Request) -> None:
    """R-STA-4: the technician closes after a caisse answer."""
    stamp = now()
    won = _transition(
        request, (RequestStatus.MESSAGE_RECEIVED,), _moved(RequestStatus.CLOSED, stamp, closed_at=stamp),
        Request.structure_id == account.structure_id,
    )
    if not won:
        raise _refusal(request, lambda r: (
            NOT_IN_STRUCTURE if r.structure_id != account.structure_id
            else "L'échange est déjà clôturé." if r.status == RequestStatus.CLOSED.value
            else "L'échange ne peut être clôturé qu'après une réponse de la caisse."
        ))
    with _winner():
        _record_status(request.id, RequestStatus.CLOSED, stamp, account=account)
        audit.record("request.close", actor=account, target=request, caisse_id=request.caisse_id)
        db.session.commit()


# --- transitions: caisse side -----------------------------------------------------------------


def _outside(agent: Agent, request: Request) -> bool:
    return not agent.is_national_admin and request.caisse_id != agent.caisse_id


def _why_not_taken(agent: Agent, request: Request) -> str:
    if _outside(agent, request):
        return NOT_IN_CAISSE
    if request.status == RequestStatus.CANCELLED.value:
        return CANCELLED_BY_PARTNER
    who = request.taken_by.full_name if request.taken_by else "un autre agent"
    return f"Cette demande a déjà été prise en charge par {who}."


def take_request(agent: Agent, request: Request) -> None:
    """R-BO-2: of two agents at once exactly one wins; the other is told who took it."""
    stamp = now()
    won = _transition(
        request, (RequestStatus.NEW,), _moved(RequestStatus.TAKEN, stamp, taken_by_agent_id=agent.id, taken_at=stamp),
        caisse_filter(agent, Request.caisse_id),
    )
    if not won:
        raise _refusal(request, lambda r: _why_not_taken(agent, r))
    with _winner():
        _record_status(request.id, RequestStatus.TAKEN, stamp, agent=agent)
        if not (request.motive and request.motive.label == SAISINE_MOTIVE):
            _notify(request, "request_taken")
        audit.record("request.take", actor=agent, target=request, caisse_id=request.caisse_id)
        db.session.commit()


def _why_not_answered(agent: Agent, request: Request) -> str:
    if _outside(agent, request):
        return NOT_IN_CAISSE
    if request.status == RequestStatus.CANCELLED.value:
        return CANCELLED_BY_PARTNER
    return ALREADY_ANSWERED


def answer_request(agent: Agent, request: Request, answer: str, staged_keys: list[str]) -> None:
    """R-BO-3: the answer text and optional files (same rules) → 'Résolu'; e-mail mentions 15 days."""
    answer, files = _text_and_files(agent, answer, staged_keys, "answer", reword=_as_answer)
    stamp = now()
    won = _transition(
        request, (RequestStatus.NEW, RequestStatus.TAKEN),
        _moved(
            RequestStatus.RESOLVED, stamp, answer=answer, resolved_at=stamp, resolved_by_agent_id=agent.id,
            # Answered straight from "Nouveau": the answering agent took it.
            taken_by_agent_id=func.coalesce(Request.taken_by_agent_id, agent.id),
            taken_at=func.coalesce(Request.taken_at, literal(stamp, Request.taken_at.type)),
        ),
        caisse_filter(agent, Request.caisse_id),
    )
    if not won:
        raise _refusal(request, lambda r: _why_not_answered(agent, r))
    with _winner():
        uploads.attach(files, request.id, "caisse")
        _record_status(request.id, RequestStatus.RESOLVED, stamp, agent=agent)
        _notify(request, "request_resolved")
        audit.record("request.answer", actor=agent, target=request, caisse_id=request.caisse_id, files=len(files))
        db.session.commit()


def _why_no_reply(agent: Agent, request: Request) -> str:
    if _outside(agent, request):
        return NOT_IN_CAISSE
    if request.status == RequestStatus.MESSAGE_RECEIVED.value:
        return "Ce message du partenaire a déjà reçu une réponse."
    return "Aucun message du partenaire n'attend de réponse."


def caisse_reply(agent: Agent, request: Request, body: str, staged_keys: list[str]) -> None:
    """R-BO-4: answer the technician's message; the 4th answer closes the exchange (R-STA-4), as
    does an answer past the 15 days. The answer counter is incremented in the UPDATE."""
    body, files = _text_and_files(agent, body, staged_keys, "body", reword=_as_answer)
    stamp = now()
    # In SET, the columns are the row's values before the UPDATE.
    closes = or_(
        Request.caisse_answers_in_exchange + 1 >= EXCHANGE_MAX_ROUNDS,
        Request.resolved_at <= stamp - timedelta(days=EXCHANGE_DAYS),
    )
    won = _transition(
        request, (RequestStatus.MESSAGE_SENT,),
        {
            "status": case((closes, RequestStatus.CLOSED.value), else_=RequestStatus.MESSAGE_RECEIVED.value),
            "closed_at": case((closes, literal(stamp, Request.closed_at.type)), else_=Request.closed_at),
            "status_changed_at": stamp,
            "caisse_answers_in_exchange": Request.caisse_answers_in_exchange + 1,
        },
        caisse_filter(agent, Request.caisse_id),
    )
    if not won:
        raise _refusal(request, lambda r: _why_no_reply(agent, r))
    with _winner():
        message = ExchangeMessage(
            request_id=request.id, side="caisse", body=body, agent_id=agent.id, created_at=stamp,
            author_name=agent.caisse.name if agent.caisse else "Caisse",
        )
        db.session.add(message)
        db.session.flush()
        uploads.attach(files, request.id, "caisse", exchange_message_id=message.id)
        _record_status(request.id, RequestStatus(request.status), stamp, agent=agent)
        _notify(request, "exchange_answer")
        audit.record("request.reply", actor=agent, target=request, caisse_id=request.caisse_id, files=len(files))
        db.session.commit()


# --- transitions: housekeeping ----------------------------------------------------------------


def close_expired_exchanges() -> int:
    """R-STA-4 on day 16 (housekeeping): 'Résolu' or 'Message reçu' past the 15 days → 'Clôturé'.

    One conditional UPDATE closes them all and returns the rows it closed: a partner's message or
    close committed meanwhile has left the allowed states, so its request is not closed twice. A
    message still awaiting the caisse is not closed: the caisse's answer will close it.
    """
    stamp = now()
    try:
        closed = list(
            db.session.scalars(
                update(Request)
                .where(
                    Request.status.in_((RequestStatus.RESOLVED.value, RequestStatus.MESSAGE_RECEIVED.value)),
                    Request.resolved_at <= stamp - timedelta(days=EXCHANGE_DAYS),
                )
                .values(**_moved(RequestStatus.CLOSED, stamp, closed_at=stamp))
                .returning(Request),
                execution_options={"synchronize_session": False, "populate_existing": True},
            )
        )
        for request in closed:
            _record_status(request.id, RequestStatus.CLOSED, stamp)
            audit.record("request.auto_close", actor=None, target=request, caisse_id=request.caisse_id)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return len(closed)
