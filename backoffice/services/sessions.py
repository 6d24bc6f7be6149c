"""Server-side sessions (ARCHITECTURE: decisions): one `user_session` row per login, in the database,
so logout, password changes and inactivations hold across workers and machines.

* The session cookie (Flask's signed cookie) carries a random key under SESSION_KEY; the row keeps
  its SHA-256 only.
* services/auth.load_user reads the row with the user, in its one statement, and refuses a revoked
  row, one idle for SESSION_IDLE_MINUTES or one older than SESSION_ABSOLUTE_HOURS.
* last_seen_at is written at most once per SESSION_TOUCH_SECONDS, in a short transaction of its own:
  a page of a logged-in user costs no statement otherwise.
* rotate_session_id (password change or reset, inactivation, reactivation) changes the account's alt
  id, which the cookie's user id names, and revokes every row of the account.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, update

from ..clock import now
from ..extensions import db
from ..models import Agent, PartnerAccount, UserSession
from ..models.caisses import new_alt_id
from . import statements

SESSION_KEY = "_session_key"  # the Flask session entry that holds the raw key
RETENTION = timedelta(days=1)  # how long housekeeping keeps ended rows (to look into a recent case)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def idle_limit() -> timedelta:
    return timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])


def absolute_limit() -> timedelta:
    return timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])


def _owner_column(owner: Agent | PartnerAccount):
    return UserSession.agent_id if isinstance(owner, Agent) else UserSession.partner_account_id


def open_session(owner: Agent | PartnerAccount) -> str:
    """A new session of `owner` (committed); returns the raw key for the cookie."""
    raw = secrets.token_urlsafe(32)
    moment = now()
    row = UserSession(key_hash=hash_key(raw), created_at=moment, last_seen_at=moment)
    if isinstance(owner, Agent):
        row.agent_id = owner.id
    else:
        row.partner_account_id = owner.id
    db.session.add(row)
    db.session.commit()
    return raw


def revoke(raw: str | None) -> bool:
    """End the session of this key only (logout); the account's other sessions go on."""
    if not raw or not isinstance(raw, str):
        return False
    ended = statements.affected(
        update(UserSession)
        .where(UserSession.key_hash == hash_key(raw), UserSession.revoked_at.is_(None))
        .values(revoked_at=now()),
        synchronize_session=False,
    )
    db.session.commit()
    return ended == 1


def revoke_all(owner: Agent | PartnerAccount) -> None:
    """End every session of the account, in the caller's transaction."""
    if owner.id is None:
        return
    db.session.execute(
        update(UserSession)
        .where(_owner_column(owner) == owner.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now()),
        execution_options={"synchronize_session": False},
    )


def rotate_session_id(owner: Agent | PartnerAccount) -> None:
    """Password change or reset, inactivation, reactivation: every session of the account ends."""
    owner.alt_id = new_alt_id()
    revoke_all(owner)


def touch(session_id: int, seen_at: datetime) -> None:
    """Record activity, in a transaction of its own: the request's session and the objects it
    loaded are left alone (no commit expiring them), and the row is locked for an instant only."""
    threshold = seen_at - timedelta(seconds=current_app.config["SESSION_TOUCH_SECONDS"])
    with db.engine.begin() as connection:
        connection.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.last_seen_at <= threshold)
            .values(last_seen_at=seen_at)
        )


def needs_touch(last_seen_at: datetime, moment: datetime) -> bool:
    return moment - last_seen_at >= timedelta(seconds=current_app.config["SESSION_TOUCH_SECONDS"])


def purge_ended() -> int:
    """Housekeeping: rows revoked, idle or past their lifetime for more than RETENTION."""
    moment = now()
    return statements.purge(
        delete(UserSession).where(
            or_(
                UserSession.revoked_at < moment - RETENTION,
                UserSession.last_seen_at < moment - idle_limit() - RETENTION,
                UserSession.created_at < moment - absolute_limit() - RETENTION,
            )
        )
    )
