"""The e-mail outbox: enqueue in the business transaction; deliver later, with retries.

No web request sends mail: `flask send-mail` (a worker, or `--once` from cron) delivers through
the configured backend (MAIL_BACKEND): `smtp`, or for development `file` (an .eml file per message
under MAIL_FILE_DIR, and a summary on the console) or `console` (the whole message printed). Every
backend goes through the same pipeline: lease, issue the personal link, render, deliver, record.

Personal set-password links (R-ACC-3/6) never reach the database in clear: the stored copy of a
message shows LINK_MASK where its link goes and records which link it needs (link_purpose and its
owner). The sender issues the token when it sends (tokens.issue: 72 h from then, single use, older
unused links of the owner revoked) and puts the real link in the outgoing e-mail, in memory only.
"""

import logging
import re
import secrets
import socket
from contextlib import nullcontext
from datetime import timedelta

from flask import current_app, has_request_context, render_template, url_for
from flask_mail import Message
from markupsafe import escape
from sqlalchemy import exists, select, update

from ..clock import now
from ..extensions import db
from ..models import Agent, OutboxMessage, OutboxStatus, PartnerAccount
from ..models.outbox import LINK_MASK
from . import mail_backends, tokens

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
# How long a worker may hold messages before another one takes them over.
LEASE = timedelta(minutes=5)
# A set-password link with a token in it: never allowed in a stored copy.
_TOKEN_LINK = re.compile(r"/mot-de-passe/[A-Za-z0-9_\-]{16,}")


def enqueue(
    kind: str,
    recipient: str,
    template: str,
    caisse_id: int | None = None,
    headers: dict | None = None,
    link_owner: PartnerAccount | Agent | None = None,
    link_purpose: str | None = None,
    **context,
) -> OutboxMessage:
    """Render mail/<template>.{txt,html} and add the message to the session (no commit here).

    With link_owner, the message carries a personal set-password link for that account (purpose:
    create, reactivate or reset): the templates' `link` is LINK_MASK here and the real link is only
    put in at send time. The owner's earlier unused links end now.
    """
    if "token" in context:
        raise TypeError("a set-password token is issued at send time: pass link_owner and link_purpose")
    if (link_owner is None) != (link_purpose is None):
        raise TypeError("link_owner and link_purpose go together")
    context.setdefault("base_url", current_app.config["BASE_URL"])
    context["link"] = LINK_MASK if link_owner is not None else ""
    message = OutboxMessage(
        kind=kind,
        recipient=recipient,
        caisse_id=caisse_id,
        headers=headers or {},
        link_purpose=link_purpose,
        **_stored_copy(template, context),
    )
    if link_owner is not None:
        if link_owner.id is None:
            db.session.flush()
        tokens.revoke_unused(link_owner)  # as soon as a new link is asked for, as before
    if isinstance(link_owner, Agent):
        message.link_agent_id = link_owner.id
    elif link_owner is not None:
        message.link_partner_account_id = link_owner.id
    db.session.add(message)
    return message


def _stored_copy(template: str, context: dict) -> dict:
    """The message's subject, body_text and body_html as stored: mail/<template>.{subject.txt,txt,html}
    rendered, which must not hold a set-password link (the sender puts it in at send time)."""
    with _url_context():
        copy = {
            "subject": render_template(f"mail/{template}.subject.txt", **context).strip(),
            "body_text": render_template(f"mail/{template}.txt", **context),
            "body_html": render_template(f"mail/{template}.html", **context),
        }
    if _TOKEN_LINK.search(copy["body_text"]) or _TOKEN_LINK.search(copy["body_html"]):
        raise ValueError(f"mail/{template}: a set-password link would be stored in the outbox")
    return copy


def _url_context():
    """url_for in e-mail templates also works from the CLI (housekeeping, send-mail)."""
    if has_request_context():
        return nullcontext()
    return current_app.test_request_context("/")


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at one hour."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _claim_batch(limit: int) -> list[OutboxMessage]:
    """Lease due messages to this worker, then commit: the lease, not a held transaction, keeps other
    workers off them (PostgreSQL skips rows another worker is claiming; everywhere the guarded
    UPDATE only takes rows still due). A worker that dies leaves its lease to expire; the
    messages are then due again."""
    moment = now()
    due = (
        (OutboxMessage.status == OutboxStatus.PENDING.value) | (OutboxMessage.status == OutboxStatus.SENDING.value)
    ) & (OutboxMessage.next_attempt_at <= moment)
    query = select(OutboxMessage.id).where(due).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(query))
    if not ids:
        db.session.commit()
        return []
    lease = moment + LEASE + timedelta(microseconds=secrets.randbelow(1_000_000))
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), due)
        .values(status=OutboxStatus.SENDING.value, next_attempt_at=lease)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.status == OutboxStatus.SENDING.value,
                OutboxMessage.next_attempt_at == lease,
            )
            .order_by(OutboxMessage.id)
        )
    )


# --- personal links, issued at send time ------------------------------------------------------------


def _link_owner(message: OutboxMessage) -> PartnerAccount | Agent | None:
    if message.link_agent_id is not None:
        return db.session.get(Agent, message.link_agent_id)
    if message.link_partner_account_id is not None:
        return db.session.get(PartnerAccount, message.link_partner_account_id)
    return None


def _newer_link_message_exists(message: OutboxMessage) -> bool:
    same_owner = (
        OutboxMessage.link_agent_id == message.link_agent_id
        if message.link_agent_id is not None
        else OutboxMessage.link_partner_account_id == message.link_partner_account_id
    )
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    same_owner,
                    OutboxMessage.id > message.id,
                    OutboxMessage.status != OutboxStatus.CANCELLED.value,
                    OutboxMessage.status != OutboxStatus.FAILED.value,
                )
            )
        )
    )


def _why_obsolete(message: OutboxMessage, owner: PartnerAccount | Agent | None) -> str | None:
    """Why a message's personal link should not be issued any more (the message is then cancelled)."""
    if owner is None:
        return "Le compte destinataire n'existe plus : message non envoyé."
    if not owner.active:
        return "Le compte destinataire est inactif : message non envoyé, son lien ne servirait pas."
    if _newer_link_message_exists(message):
        return "Un message plus récent porte le lien personnel de ce compte : celui-ci n'est pas envoyé."
    return None


def _issue_link(owner: PartnerAccount | Agent, purpose: str) -> str:
    """A fresh token for the message's owner, committed (hashed) before the e-mail leaves; the link."""
    raw = tokens.issue(owner, purpose)
    db.session.commit()
    with _url_context():
        return current_app.config["BASE_URL"] + url_for("portal.set_password", token=raw)


def _to_mail_message(message: OutboxMessage, link: str | None) -> Message:
    """The outgoing e-mail: the stored copy with the personal link put in, in memory only."""
    body_text, body_html = message.body_text, message.body_html
    if link is not None:
        body_text = body_text.replace(LINK_MASK, link)
        body_html = body_html.replace(LINK_MASK, str(escape(link)))
    return Message(
        subject=message.subject,
        recipients=[message.recipient],
        body=body_text,
        html=body_html,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
        extra_headers={
            "Auto-Submitted": "auto-generated",
            "X-Outbox-Id": str(message.id),
            **(message.headers or {}),
        },
    )


# --- the delivery pipeline ----------------------------------------------------------------------------


def send_pending(limit: int = 50) -> dict:
    """Send one batch. Each message is committed on its own, so a crash loses no delivery state.

    A message with a personal link gets a new token at each attempt, committed before the e-mail
    leaves, and the token of the previous attempt is revoked by it. An attempt that the server did
    deliver but that ended in an error (e.g. a timeout after DATA) therefore carries a link that the
    next attempt revokes: the last e-mail received always holds the working link. The alternative,
    one token for all attempts, would need it stored where the sender can read it again.
    """
    stats = {"sent": 0, "failed": 0, "retried": 0, "cancelled": 0}
    name = mail_backends.backend_name()
    if name == "smtp" and not current_app.config.get("MAIL_SERVER"):
        log.warning("MAIL_BACKEND=smtp without MAIL_SERVER: nothing is sent")
        return stats
    batch = _claim_batch(limit)
    if not batch:
        return stats
    backend = mail_backends.BACKENDS[name]()
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(current_app.config["MAIL_TIMEOUT_SECONDS"])
    try:
        try:
            backend.open()
        except backend.errors as exc:
            for message in batch:
                _record_failure(message, exc, max_attempts, stats)
            db.session.commit()
            return stats
        try:
            for message in batch:
                _deliver(backend, message, max_attempts, stats)
                db.session.commit()  # each delivery is recorded at once
        finally:
            backend.close()
        db.session.commit()
    finally:
        socket.setdefaulttimeout(previous_timeout)
    return stats


def _deliver(backend: mail_backends.Backend, message: OutboxMessage, max_attempts: int, stats: dict) -> None:
    link = None
    if message.link_purpose is not None:
        owner = _link_owner(message)
        reason = _why_obsolete(message, owner)
        if reason is not None or owner is None:  # no owner: there is a reason
            message.status = OutboxStatus.CANCELLED.value
            message.last_error = reason
            stats["cancelled"] += 1
            log.info("outbox message %s cancelled: %s", message.id, reason)
            return
        link = _issue_link(owner, message.link_purpose)
    try:
        backend.send(_to_mail_message(message, link), message, link)
    except backend.errors as exc:
        _record_failure(message, exc, max_attempts, stats)
    else:
        message.status = OutboxStatus.SENT.value
        message.sent_at = now()
        message.attempts += 1
        message.last_error = None
        stats["sent"] += 1


def _record_failure(message: OutboxMessage, exc: Exception, max_attempts: int, stats: dict) -> None:
    message.attempts += 1
    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if message.attempts >= max_attempts:
        message.status = OutboxStatus.FAILED.value
        stats["failed"] += 1
    else:
        message.status = OutboxStatus.PENDING.value
        message.next_attempt_at = now() + backoff(message.attempts)
        stats["retried"] += 1
    log.warning("outbox message %s not sent (attempt %s): %s", message.id, message.attempts, exc)


def requeue_failed(agent: Agent, message_ids: list[int]) -> int:
    """The admin's 'Renvoyer' on a selection: those of the messages that failed and that the agent
    may see (services/scoping.outbox_filter) go back in the queue; committed. How many did."""
    from .scoping import outbox_filter

    ids = list(
        db.session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.id.in_(message_ids),
                OutboxMessage.status == OutboxStatus.FAILED.value,
                outbox_filter(agent),
            )
        )
    )
    for message_id in ids:
        requeue(message_id)
    db.session.commit()
    return len(ids)


def requeue(message_id: int) -> None:
    """Put a failed message back in the queue (the admin's 'Renvoyer')."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.FAILED.value)
        .values(status=OutboxStatus.PENDING.value, next_attempt_at=now(), attempts=0)
    )
