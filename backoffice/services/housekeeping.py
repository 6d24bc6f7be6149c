"""`flask housekeeping`: the time-based rules, idempotent and safe to run every few minutes.

- R-LIFE-1: when a structure's last convention has ended *and* no history access remains
  (`access.structure_has_any_access` is False: no request still awaiting the caisse, and the
  30-day grace period after the end or the last resolution is over, R-ORG-4/5), every active
  account of the structure (managers and technicians) is inactivated; the alt id rotates, so open
  sessions die. While a technician may still read the history, the accounts stay active.
- R-LIFE-2 / R-RGPD-2: accounts inactivated 6 calendar months ago or more are deleted (the date is
  computed by hand: same day of the month six months later, clamped to the month's last day, in
  UTC). Requests keep `requester_name` (their foreign key is SET NULL); set-password tokens and
  newsletter subscriptions go with the account (ON DELETE CASCADE).
- Set-password tokens expired more than 7 days ago are deleted.
- R-STA-4: Q/R exchanges are closed on day 16 after resolution (`requests.close_expired_exchanges`).
- R-RGPD-1: attachment contents are deleted ATTACHMENT_RETENTION_DAYS (15) after upload, never while
  the request still awaits the caisse; the names stay for the record (`purged_at` is set).
- Staged uploads (files kept while their form was refused) older than a day are deleted.
- Server-side sessions revoked, idle or past their lifetime for more than a day are deleted, and
  login throttle counters with no failure for a day (`sessions.purge_ended`, `throttle.purge_stale`).

Each rule runs in its own transaction and writes one audit row per account, with the system as
actor. On PostgreSQL the whole run holds an advisory lock, so two machines never run it at once.
"""

import calendar
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import String, delete, func, select, text, update

from ..clock import now, today
from ..extensions import db
from ..models import (
    AWAITING_CAISSE,
    Attachment,
    AttachmentContent,
    AuditEntry,
    Convention,
    OutboxMessage,
    PartnerAccount,
    PasswordToken,
    Request,
)
from . import access, audit, caisse_cache, digest, requests, sessions, statements, throttle, uploads
from .accounts import deactivate

# pg_try_advisory_lock key: "EP-HK" — any constant shared by every machine of the deployment.
ADVISORY_LOCK_KEY = 0x45502D484B
DELETE_AFTER_MONTHS = 6
TOKEN_GRACE = timedelta(days=7)


def add_months(moment: datetime, months: int) -> datetime:
    """Same day and time `months` later; the 31st becomes the last day of a shorter month."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@contextmanager
def _exclusive_run():
    """Yield False when another run holds the lock (PostgreSQL); SQLite is a single machine."""
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    # A connection of its own holds the session-level lock while the rules commit on others.
    connection = db.engine.connect()
    try:
        acquired = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}).scalar()
        connection.commit()
        if not acquired:
            yield False
            return
        try:
            yield True
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
            connection.commit()
    finally:
        connection.close()


def run() -> dict | None:
    """Run every rule; None when another machine is already running them."""
    with _exclusive_run() as acquired:
        if not acquired:
            return None
        return {
            "inactivated": inactivate_ended_structures(),
            "deleted_accounts": delete_old_inactive_accounts(),
            "deleted_tokens": purge_expired_tokens(),
            "closed_exchanges": requests.close_expired_exchanges(),
            "purged_files": purge_attachment_contents(),
            "purged_uploads": uploads.purge_old(),
            "purged_sessions": sessions.purge_ended(),
            "purged_throttles": throttle.purge_stale(),
            "digests": digest.send_digests(),
        }


def _structures_whose_conventions_all_ended(day: date) -> list[tuple[int, int]]:
    """(structure id, caisse id of its last convention) for structures with active accounts."""
    last_end = (
        select(Convention.structure_id, func.max(Convention.end_date).label("last_end"))
        .group_by(Convention.structure_id)
        .subquery()
    )
    with_active = select(PartnerAccount.structure_id).where(PartnerAccount.active.is_(True))
    rows = db.session.execute(
        select(Convention.structure_id, Convention.caisse_id)
        .join(
            last_end,
            (last_end.c.structure_id == Convention.structure_id) & (last_end.c.last_end == Convention.end_date),
        )
        .where(last_end.c.last_end < day, Convention.structure_id.in_(with_active))
        .order_by(Convention.structure_id)
    ).all()
    seen: dict[int, int] = {}
    for structure_id, caisse_id in rows:
        seen.setdefault(structure_id, caisse_id)
    return list(seen.items())


def inactivate_ended_structures() -> int:
    """R-LIFE-1. A structure that never had a convention is left alone (nothing has ended)."""
    day = today()
    count = 0
    with statements.committed():
        for structure_id, caisse_id in _structures_whose_conventions_all_ended(day):
            if access.structure_has_any_access(structure_id, day):
                continue
            accounts = db.session.scalars(
                select(PartnerAccount)
                .where(PartnerAccount.structure_id == structure_id, PartnerAccount.active.is_(True))
                .order_by(PartnerAccount.id)
            )
            for account in accounts:
                deactivate(account)
                _record_automatic(
                    account,
                    "auto_inactivate",
                    caisse_id,
                    "Fin de la dernière convention de la structure (R-LIFE-1)",
                    login=account.login,
                    structure_id=structure_id,
                )
                count += 1
    return count


def delete_old_inactive_accounts() -> int:
    """R-LIFE-2: inactivated at least 6 calendar months ago (by `add_months`)."""
    moment = now()
    with statements.committed():
        # 181 days is the shortest 6-month span: the SQL narrows, add_months decides.
        candidates = db.session.scalars(
            select(PartnerAccount).where(
                PartnerAccount.active.is_(False),
                PartnerAccount.inactivated_at.is_not(None),
                PartnerAccount.inactivated_at <= moment - timedelta(days=181),
            )
        ).all()
        due = [
            a for a in candidates if a.inactivated_at and add_months(a.inactivated_at, DELETE_AFTER_MONTHS) <= moment
        ]
        if due:
            ids = [a.id for a in due]
            for account in due:
                _erase_traces(account)
                # The record of the deletion itself names no one (R-RGPD-2).
                _record_automatic(
                    account,
                    "auto_delete",
                    account.last_caisse_id,
                    "Compte inactivé depuis 6 mois (R-LIFE-2)",
                    structure_id=account.structure_id,
                    inactivated_at=account.inactivated_at and account.inactivated_at.isoformat(),
                )
            for account in due:
                db.session.expunge(account)
            # The history's 'Demandeur' lists kept under the caisses' stamps name these accounts.
            caisse_cache.renew(structure_ids={account.structure_id for account in due})
            # The database applies the foreign keys: requests SET NULL, tokens and subscriptions CASCADE.
            db.session.execute(
                delete(PartnerAccount).where(PartnerAccount.id.in_(ids)),
                execution_options={"synchronize_session": False},
            )
    return len(due)


def _record_automatic(account: PartnerAccount, action: str, caisse_id: int | None, reason: str, **details) -> None:
    """The audit row of what a rule did to an account by itself (no actor): <role>.<action>, why last."""
    audit.record(f"{account.role}.{action}", actor=None, target=account, caisse_id=caisse_id, **details, reason=reason)


def _erase_traces(account: PartnerAccount) -> None:
    """R-RGPD-2: past the deletion, only the requests keep the requester's name (and the Q/R
    messages their author's). The audit log keeps what happened, under a neutral label; the
    e-mails sent to the person leave the outbox."""
    label = f"compte supprimé n°{account.id}"
    needles = [v for v in (account.login, account.email, account.phone, account.usage_name, account.birth_name) if v]
    entries = db.session.scalars(
        select(AuditEntry).where(
            ((AuditEntry.actor_type == "partner") & (AuditEntry.actor_id == account.id))
            | ((AuditEntry.target_type == "PartnerAccount") & (AuditEntry.target_id == account.id))
            | AuditEntry.actor_label.in_([account.login])
            | func.cast(AuditEntry.details, String).contains(account.login)
        )
    )
    for entry in entries:
        if entry.actor_type == "partner" and entry.actor_id == account.id or entry.actor_label == account.login:
            entry.actor_label = label
        text_details = str(entry.details or {})
        if any(needle in text_details for needle in needles):
            entry.details = {"effacé": "données personnelles supprimées (R-RGPD-2)"}
    db.session.execute(
        delete(OutboxMessage).where(OutboxMessage.recipient == account.email),
        execution_options={"synchronize_session": False},
    )


def purge_expired_tokens() -> int:
    return statements.purge(delete(PasswordToken).where(PasswordToken.expires_at < now() - TOKEN_GRACE))


def purge_attachment_contents() -> int:
    """R-RGPD-1: delete the bytes of attachments past retention, unless the caisse still owes an answer."""
    days = current_app.config.get("ATTACHMENT_RETENTION_DAYS", 15)
    limit = now() - timedelta(days=days)
    with statements.committed():
        due = (
            select(Attachment.id)
            .join(Request, Request.id == Attachment.request_id)
            .where(
                Attachment.purged_at.is_(None),
                Attachment.uploaded_at <= limit,
                Request.status.not_in(AWAITING_CAISSE),
            )
        )
        ids = list(db.session.scalars(due))
        if ids:
            db.session.execute(
                delete(AttachmentContent).where(AttachmentContent.attachment_id.in_(ids)),
                execution_options={"synchronize_session": False},
            )
            db.session.execute(
                update(Attachment).where(Attachment.id.in_(ids)).values(purged_at=now()),
                execution_options={"synchronize_session": False},
            )
            audit.record("attachment.purge", actor=None, count=len(ids))
    return len(ids)
