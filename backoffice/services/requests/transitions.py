"""Every status change of a request: one guarded UPDATE each, which exactly one caller wins (R-STA-1..5, R-BO-2..4)."""

from datetime import timedelta

from sqlalchemy import case, func, literal, or_, update

from ...clock import format_date, now
from ...extensions import db
from ...models import Agent, ExchangeMessage, PartnerAccount, Request, RequestStatus
from .. import audit, outbox, uploads
from ..attachments import MAX_FILES, check_count
from ..errors import DomainError, ValidationFailed
from . import refusals
from .filing import CANCEL_REASONS, SAISINE_MOTIVE, as_answer, as_message, text_and_files
from .guarded import moved as _moved
from .guarded import record_status as _record_status
from .guarded import refusal as _refusal
from .guarded import transition as _transition
from .guarded import winner as _winner
from .ownership import handler_condition, staff_condition
from .reading import (
    EXCHANGE_DAYS,
    EXCHANGE_MAX_FILES,
    EXCHANGE_MAX_ROUNDS,
    exchange_files_count,
    partner_files,
    partner_files_count,
)

# Every change of a request's state is one guarded UPDATE (see guarded.py): the partner's changes
# are guarded by the structure, the caisse's by the ownership rules (ownership.py: the agent's own
# caisse; answering and replying, the owner or a caisse admin).


def _within(count: int, adding: int, limit: int) -> None:
    """The file total, counted under the row lock; over it, the form is shown again with the files."""
    try:
        check_count(count, adding, limit)
    except DomainError as exc:
        raise ValidationFailed({"attachments": exc.message}) from None


def _mail_context(request: Request) -> dict:
    return {"request": request, "deposit_date": format_date(request.deposited_at)}


def _notify(request: Request, kind: str) -> None:
    requester = request.requester
    if requester is None or not requester.active:
        return
    outbox.enqueue(
        kind, requester.email, kind, caisse_id=request.caisse_id, account=requester, **_mail_context(request)
    )


def _add_message(request: Request, side: str, body: str, files: list, stamp, author_name: str, **author) -> None:
    """A message of the exchange (R-STA-4) by `side` ("partner": account_id, "caisse": agent_id),
    with its files."""
    message = ExchangeMessage(
        request_id=request.id, side=side, body=body, created_at=stamp, author_name=author_name, **author
    )
    db.session.add(message)
    db.session.flush()
    uploads.attach(files, request.id, side, exchange_message_id=message.id)


# --- partner side ----------------------------------------------------------------------------


def complete_request(account: PartnerAccount, request: Request, comment: str, staged_keys: list[str]) -> None:
    """R-STA-2 'Compléter la demande': a new comment and more files within the total of 8.

    The same submission twice (a double click) is refused the second time: its staged files are
    gone with the first, or it brings nothing new."""
    comment, files = text_and_files(
        account,
        comment,
        staged_keys,
        "comment",
        reword=lambda m: m,
        already=len(partner_files(request)),
        files_allowed=request.service_offer.allows_attachments,
    )
    conditions = [Request.structure_id == account.structure_id]
    if not files:
        conditions.append(Request.comment != comment)
    if not _transition(request, (RequestStatus.NEW,), {"comment": comment}, *conditions):
        raise _refusal(request, lambda r: refusals.not_completed(account, r))
    with _winner():
        if files:
            # Under the row lock: the files still staged (an identical submission that won took
            # them), and the files every earlier "Compléter" attached.
            claimed = uploads.staged(account, [f.key for f in files])
            if len(claimed) < len(files):
                raise DomainError(refusals.ALREADY_COMPLETED)
            _within(partner_files_count(request.id, in_exchange=False), len(claimed), MAX_FILES)
            uploads.attach(claimed, request.id, "partner")
        audit.record("request.complete", actor=account, target=request, caisse_id=request.caisse_id, files=len(files))
        db.session.commit()


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
        request,
        (RequestStatus.NEW,),
        _moved(RequestStatus.CANCELLED, stamp, cancel_reason=reason, cancelled_at=stamp),
        Request.structure_id == account.structure_id,
    )
    if not won:
        raise _refusal(request, lambda r: refusals.not_cancelled(account, r))
    with _winner():
        _record_status(request.id, RequestStatus.CANCELLED, stamp, account=account)
        audit.record("request.cancel", actor=account, target=request, caisse_id=request.caisse_id, reason=reason)
        db.session.commit()


def partner_message(account: PartnerAccount, request: Request, body: str, staged_keys: list[str]) -> None:
    """R-STA-3: the technician writes within 15 days of resolution, at most 4 times, 8 files in all.

    The 4 rounds: a message is possible while the caisse has answered fewer than 4 times (each
    message waits for its answer: "Message envoyé" accepts no other)."""
    body, files = text_and_files(
        account,
        body,
        staged_keys,
        "body",
        reword=as_message,
        already=exchange_files_count(request.id),
        limit=EXCHANGE_MAX_FILES,
    )
    stamp = now()
    won = _transition(
        request,
        (RequestStatus.RESOLVED, RequestStatus.MESSAGE_RECEIVED),
        _moved(RequestStatus.MESSAGE_SENT, stamp),
        Request.structure_id == account.structure_id,
        Request.caisse_answers_in_exchange < EXCHANGE_MAX_ROUNDS,
        Request.resolved_at > stamp - timedelta(days=EXCHANGE_DAYS),
    )
    if not won:
        raise _refusal(request, lambda r: refusals.no_message(account, r))
    with _winner():
        _within(exchange_files_count(request.id), len(files), EXCHANGE_MAX_FILES)
        author = f"{account.display_name} {account.first_name}"
        _add_message(request, "partner", body, files, stamp, author, account_id=account.id)
        _record_status(request.id, RequestStatus.MESSAGE_SENT, stamp, account=account)
        audit.record("request.message", actor=account, target=request, caisse_id=request.caisse_id, files=len(files))
        db.session.commit()


def close_exchange(account: PartnerAccount, request: Request) -> None:
    """R-STA-4: the technician closes after a caisse answer."""
    stamp = now()
    won = _transition(
        request,
        (RequestStatus.MESSAGE_RECEIVED,),
        _moved(RequestStatus.CLOSED, stamp, closed_at=stamp),
        Request.structure_id == account.structure_id,
    )
    if not won:
        raise _refusal(request, lambda r: refusals.not_closed(account, r))
    with _winner():
        _record_status(request.id, RequestStatus.CLOSED, stamp, account=account)
        audit.record("request.close", actor=account, target=request, caisse_id=request.caisse_id)
        db.session.commit()


# --- caisse side -----------------------------------------------------------------------------


def _taken(agent: Agent, request: Request, stamp) -> None:
    """What a take writes once its UPDATE won: the history row, the e-mail (not for R-REQ-6's
    motive), the audit row."""
    _record_status(request.id, RequestStatus.TAKEN, stamp, agent=agent)
    if not (request.motive and request.motive.label == SAISINE_MOTIVE):
        _notify(request, "request_taken")
    audit.record("request.take", actor=agent, target=request, caisse_id=request.caisse_id)


def take_request(agent: Agent, request: Request) -> None:
    """R-BO-2: of two agents at once exactly one wins; the other is told who took it. The agent
    becomes the request's owner; only the caisse's own staff take (ownership.staff_condition)."""
    stamp = now()
    won = _transition(
        request,
        (RequestStatus.NEW,),
        _moved(RequestStatus.TAKEN, stamp, taken_by_agent_id=agent.id, taken_at=stamp),
        staff_condition(agent),
    )
    if not won:
        raise _refusal(request, lambda r: refusals.not_taken(agent, r))
    with _winner():
        _taken(agent, request, stamp)
        db.session.commit()


def answer_request(agent: Agent, request: Request, answer: str, staged_keys: list[str]) -> None:
    """R-BO-3: the answer text and optional files (same rules) → 'Résolu'; e-mail mentions 15 days.

    Only the owner or a caisse admin answers a taken request (ownership.handler_condition, in the
    UPDATE). Answered straight from "Nouveau", the same UPDATE records the take first: the agent
    owns it, taken_at is one microsecond before the answer, and the take's history row, e-mail
    and audit row come before the resolution's, so the history reads Pris en charge then Résolu
    and the 48-hour figure stays true. That the take happened in this UPDATE is read from its
    effect: taken_at is the take's own stamp only if it was empty."""
    answer, files = text_and_files(agent, answer, staged_keys, "answer", reword=as_answer)
    stamp = now()
    take_stamp = stamp - timedelta(microseconds=1)
    won = _transition(
        request,
        (RequestStatus.NEW, RequestStatus.TAKEN),
        _moved(
            RequestStatus.RESOLVED,
            stamp,
            answer=answer,
            resolved_at=stamp,
            resolved_by_agent_id=agent.id,
            taken_by_agent_id=func.coalesce(Request.taken_by_agent_id, agent.id),
            taken_at=func.coalesce(Request.taken_at, literal(take_stamp, Request.taken_at.type)),
        ),
        handler_condition(agent),
    )
    if not won:
        raise _refusal(request, lambda r: refusals.not_answered(agent, r))
    with _winner():
        if request.taken_at == take_stamp and request.taken_by_agent_id == agent.id:
            _taken(agent, request, take_stamp)
        uploads.attach(files, request.id, "caisse")
        _record_status(request.id, RequestStatus.RESOLVED, stamp, agent=agent)
        _notify(request, "request_resolved")
        audit.record("request.answer", actor=agent, target=request, caisse_id=request.caisse_id, files=len(files))
        db.session.commit()


def caisse_reply(agent: Agent, request: Request, body: str, staged_keys: list[str]) -> None:
    """R-BO-4: answer the technician's message; the 4th answer closes the exchange (R-STA-4), as
    does an answer past the 15 days. The answer counter is incremented in the UPDATE. Only the
    owner or a caisse admin replies (ownership.handler_condition, in the UPDATE)."""
    body, files = text_and_files(agent, body, staged_keys, "body", reword=as_answer)
    stamp = now()
    # In SET, the columns are the row's values before the UPDATE.
    closes = or_(
        Request.caisse_answers_in_exchange + 1 >= EXCHANGE_MAX_ROUNDS,
        Request.resolved_at <= stamp - timedelta(days=EXCHANGE_DAYS),
    )
    won = _transition(
        request,
        (RequestStatus.MESSAGE_SENT,),
        {
            "status": case((closes, RequestStatus.CLOSED.value), else_=RequestStatus.MESSAGE_RECEIVED.value),
            "closed_at": case((closes, literal(stamp, Request.closed_at.type)), else_=Request.closed_at),
            "status_changed_at": stamp,
            "caisse_answers_in_exchange": Request.caisse_answers_in_exchange + 1,
        },
        handler_condition(agent),
    )
    if not won:
        raise _refusal(request, lambda r: refusals.no_reply(agent, r))
    with _winner():
        author = agent.caisse.name if agent.caisse else "Caisse"
        _add_message(request, "caisse", body, files, stamp, author, agent_id=agent.id)
        _record_status(request.id, RequestStatus(request.status), stamp, agent=agent)
        _notify(request, "exchange_answer")
        audit.record("request.reply", actor=agent, target=request, caisse_id=request.caisse_id, files=len(files))
        db.session.commit()


# --- housekeeping ----------------------------------------------------------------------------


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
