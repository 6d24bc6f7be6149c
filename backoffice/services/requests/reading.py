"""Reading requests: their files, the exchange's counters, the status history and timeline, the time left, downloads."""

import math
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ...clock import now
from ...extensions import db
from ...models import (
    Agent,
    Attachment,
    AttachmentContent,
    ExchangeMessage,
    NoteKind,
    PartnerAccount,
    Request,
    RequestNote,
    RequestStatus,
    StatusChange,
)
from .. import audit
from ..queue import HANDLING_TARGET
from ..scoping import caisse_filter

EXCHANGE_DAYS = 15
EXCHANGE_MAX_ROUNDS = 4
EXCHANGE_MAX_FILES = 8
RECEIVED_FILES_DAYS = 15


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
    return (
        db.session.scalar(
            select(func.count())
            .select_from(ExchangeMessage)
            .where(ExchangeMessage.request_id == request_id, ExchangeMessage.side == "partner")
        )
        or 0
    )


def partner_files_count(request_id: int, in_exchange: bool) -> int:
    """The partner's files of a request: those of the Q/R exchange, or those of the request itself
    (filing and "Compléter"), each with its own total (R-REQ-3, R-STA-4)."""
    in_message = (
        Attachment.exchange_message_id.is_not(None) if in_exchange else Attachment.exchange_message_id.is_(None)
    )
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Attachment)
            .where(Attachment.request_id == request_id, Attachment.side == "partner", in_message)
        )
        or 0
    )


def exchange_files_count(request_id: int) -> int:
    return partner_files_count(request_id, in_exchange=True)


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


def status_history(request: Request) -> list[dict]:
    """R-STA-5 for the agent screen: each status change with its date and who made it."""
    rows = db.session.execute(
        select(StatusChange, Agent, PartnerAccount)
        .outerjoin(Agent, Agent.id == StatusChange.agent_id)
        .outerjoin(PartnerAccount, PartnerAccount.id == StatusChange.account_id)
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


def notes(request: Request) -> list[RequestNote]:
    """The request's internal notes and reassignments, oldest first (never for the partner)."""
    return list(
        db.session.scalars(
            select(RequestNote)
            .where(RequestNote.request_id == request.id)
            .order_by(RequestNote.created_at, RequestNote.id)
        )
    )


def request_timeline(request: Request, messages: list[ExchangeMessage] | None = None) -> list[dict]:
    """The agent screen's « Historique »: status changes, Q/R messages, internal notes and
    reassignments in date order. Each entry: kind (status, message, note, reassignment), at, who,
    label (what it is, in French) and text. `messages`: the exchange's, when already read."""
    if messages is None:
        messages = list(
            db.session.scalars(
                select(ExchangeMessage)
                .where(ExchangeMessage.request_id == request.id)
                .order_by(ExchangeMessage.created_at, ExchangeMessage.id)
            )
        )
    entries = []
    # At one stamp, a message comes before the status change it causes, and a note after both.
    for h in status_history(request):
        entries.append((h["at"], 1, {"kind": "status", "label": h["status"], "text": "", **h}))
    for m in messages:
        side = "partenaire" if m.side == "partner" else "caisse"
        label = "Message du partenaire" if m.side == "partner" else "Réponse de la caisse"
        entries.append(
            (
                m.created_at,
                0,
                {
                    "kind": "message",
                    "at": m.created_at,
                    "who": f"{m.author_name} ({side})",
                    "label": label,
                    "text": m.body,
                },
            )
        )
    for n in notes(request):
        if n.kind == NoteKind.REASSIGNMENT.value:
            label = f"Réattribution : de {n.from_name or 'personne'} à {n.to_name or 'un agent supprimé'}"
        else:
            label = NoteKind.NOTE.label
        entries.append(
            (
                n.created_at,
                2,
                {
                    "kind": n.kind,
                    "at": n.created_at,
                    "who": f"{n.author_name} (caisse)",
                    "label": label,
                    "text": n.body or "",
                },
            )
        )
    entries.sort(key=lambda e: (e[0], e[1]))  # stable: each source keeps its own order
    return [entry for _at, _rank, entry in entries]


def agent_attachment(agent: Agent, attachment_id: int) -> Attachment | None:
    """An attachment of a request the agent may see (R-TEN-2), or None."""
    return db.session.scalar(
        select(Attachment)
        .join(Request, Request.id == Attachment.request_id)
        .where(Attachment.id == attachment_id, caisse_filter(agent, Request.caisse_id))
    )


def _record_download(actor: Agent | PartnerAccount, request: Request, attachment: Attachment, **details) -> None:
    """R-RGPD-4: who downloaded which file of which request, written to the audit log and committed."""
    audit.record(
        "attachment.download",
        actor=actor,
        target=attachment,
        caisse_id=request.caisse_id,
        number=request.number,
        filename=attachment.filename,
        **details,
    )
    db.session.commit()


def download_for_agent(agent: Agent, attachment: Attachment) -> bytes | None:
    """The bytes of an attachment for an agent (R-BO-4), audited; None once purged (R-RGPD-1)."""
    if attachment.purged_at is not None:
        return None
    content = db.session.get(AttachmentContent, attachment.id)
    if content is None:
        return None
    data = content.data
    _record_download(agent, db.session.get_one(Request, attachment.request_id), attachment, side=attachment.side)
    return data


class PartnerDownload(NamedTuple):
    attachment: Attachment
    data: bytes | None  # None: no longer downloadable (R-HIS-4's 15 days, or purged: R-RGPD-1)


def download_for_partner(account: PartnerAccount, req: Request, attachment_id: int) -> PartnerDownload | None:
    """A file the caisse sent on the partner's own request (the caller checked `req` is theirs),
    audited when downloaded; None when the request has no such file of the caisse (the partner's
    own files are listed by name only)."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.request_id != req.id or attachment.side != "caisse":
        return None
    if not received_file_available(attachment) or attachment.content is None:
        return PartnerDownload(attachment, None)
    data = attachment.content.data
    _record_download(account, req, attachment)
    return PartnerDownload(attachment, data)


def record_queue_export(
    agent: Agent, export_type: str, filters: list[dict], search: str | None, rows: int, total: int | None
) -> None:
    """R-RGPD-4: an export of personal data from the work queue is written to the audit log."""
    audit.record(
        "request.export",
        actor=agent,
        caisse_id=agent.caisse_id,
        format=export_type,
        filters=filters,
        search=search or "",
        rows=rows,
        total=total,
    )
    # The exported rows are already loaded: keep them so (no reload row by row after the commit).
    _commit_keeping_loaded()


def record_view(agent: Agent, request: Request) -> None:
    """Opening a request screen reads personal data (issue 13 §7): one audit row per opening."""
    audit.record("request.view", actor=agent, target=request, caisse_id=request.caisse_id, number=request.number)
    _commit_keeping_loaded()


def _commit_keeping_loaded() -> None:
    """Commit an audit row without expiring what the page already loaded."""
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def get_for_partner(account: PartnerAccount, caisse_id: int, number: str) -> Request | None:
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


def cancelled_for_partner(account: PartnerAccount, caisse_id: int, number: str) -> bool:
    """Whether the structure cancelled this request (a repeated 'Annuler' is told so, not a 404)."""
    return (
        db.session.scalar(
            select(Request.id).where(
                Request.number == number,
                Request.structure_id == account.structure_id,
                Request.caisse_id == caisse_id,
                Request.status == RequestStatus.CANCELLED.value,
            )
        )
        is not None
    )
