"""The e-mail outbox: enqueue in the business transaction; deliver over SMTP with retries.

No web request talks to SMTP: `flask send-mail` (a worker, or `--once` from cron) delivers.
"""
import logging
import re
import secrets
import smtplib
import socket
from contextlib import nullcontext
from datetime import timedelta

from flask import current_app, has_request_context, render_template
from flask_mail import Connection, Message
from sqlalchemy import select, update

from ..extensions import db, mail
from ..models import OutboxMessage, OutboxStatus
from .clock import now

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
# How long a worker may hold messages before another one takes them over.
LEASE = timedelta(minutes=5)


def enqueue(
    kind: str,
    recipient: str,
    template: str,
    caisse_id: int | None = None,
    headers: dict | None = None,
    **context,
) -> OutboxMessage:
    """Render mail/<template>.{txt,html} and add the message to the session (no commit here)."""
    context.setdefault("base_url", current_app.config["BASE_URL"])
    with _url_context():
        subject = render_template(f"mail/{template}.subject.txt", **context).strip()
        body_text = render_template(f"mail/{template}.txt", **context)
        body_html = render_template(f"mail/{template}.html", **context)
    message = OutboxMessage(
        kind=kind,
        recipient=recipient,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        caisse_id=caisse_id,
        headers=headers or {},
    )
    db.session.add(message)
    return message


def _url_context():
    """url_for in e-mail templates also works from the CLI (housekeeping, send-mail)."""
    if has_request_context():
        return nullcontext()
    return current_app.test_request_context("/")


_TOKEN_LINK = re.compile(r"(/mot-de-passe/)[A-Za-z0-9_\-]{16,}")


def redact_links(body: str) -> str:
    """Once delivered, a set-password link leaves the outbox: nobody reading it there can use it."""
    return _TOKEN_LINK.sub(r"\1[lien envoyé]", body or "")


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


def _to_mail_message(message: OutboxMessage) -> Message:
    return Message(
        subject=message.subject,
        recipients=[message.recipient],
        body=message.body_text,
        html=message.body_html,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
        extra_headers={
            "Auto-Submitted": "auto-generated",
            "X-Outbox-Id": str(message.id),
            **(message.headers or {}),
        },
    )


def _connection() -> Connection:
    """SMTP from the current config, the one send_pending checks: not Flask-Mail's state frozen at
    init_app, which also suppresses every send when TESTING is on (messages were marked sent
    without leaving). An explicit MAIL_SUPPRESS_SEND still suppresses."""
    return Connection(mail.init_mail(current_app.config, current_app.debug))


def send_pending(limit: int = 50) -> dict:
    """Send one batch. Each message is committed on its own, so a crash loses no delivery state."""
    stats = {"sent": 0, "failed": 0, "retried": 0}
    if not current_app.config.get("MAIL_SERVER"):
        return stats
    batch = _claim_batch(limit)
    if not batch:
        return stats
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(current_app.config["MAIL_TIMEOUT_SECONDS"])
    try:
        connection = None
        try:
            connection = _connection().__enter__()
        except (OSError, smtplib.SMTPException) as exc:
            for message in batch:
                _record_failure(message, exc, max_attempts, stats)
            db.session.commit()
            return stats
        try:
            for message in batch:
                try:
                    connection.send(_to_mail_message(message))
                except (OSError, smtplib.SMTPException) as exc:
                    _record_failure(message, exc, max_attempts, stats)
                else:
                    message.status = OutboxStatus.SENT.value
                    message.body_text = redact_links(message.body_text)
                    message.body_html = redact_links(message.body_html)
                    message.sent_at = now()
                    message.attempts += 1
                    message.last_error = None
                    stats["sent"] += 1
                db.session.commit()  # each delivery is recorded at once
        finally:
            try:
                connection.__exit__(None, None, None)
            except (OSError, smtplib.SMTPException):
                pass
        db.session.commit()
    finally:
        socket.setdefaulttimeout(previous_timeout)
    return stats


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


def requeue(message_id: int) -> None:
    """Put a failed message back in the queue (the admin's 'Renvoyer')."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.FAILED.value)
        .values(status=OutboxStatus.PENDING.value, next_attempt_at=now(), attempts=0)
    )
