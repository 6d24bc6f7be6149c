"""Server-side session records and login throttling state (issue 11).

A login opens a `UserSession` row; the session cookie carries a random key whose SHA-256 only is
stored, so a copy of the table opens no session. Every request checks its row (services/auth.py
load_user, in the statement that loads the user): not revoked, not idle too long, not too old.
Logout revokes that row; a password change, reset, inactivation or reactivation revokes every row
of the account (services/sessions.py).

`LoginThrottle` keeps the failed-login counters of services/throttle.py, keyed by a SHA-256 of what
they count (the login as typed with the client address, or the address alone): neither the typed
logins (which may be passwords typed in the wrong field) nor the addresses are stored.
"""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import now
from ..extensions import Model


class UserSession(Model):
    __tablename__ = "user_session"
    __table_args__ = (CheckConstraint("(agent_id IS NULL) <> (partner_account_id IS NULL)", name="one_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the cookie's key
    # The database ends the rows with their account (R-LIFE-2 deletions).
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), index=True)
    partner_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("partner_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=now)
    # Written at most once a minute (SESSION_TOUCH_SECONDS), so a page costs no statement.
    last_seen_at: Mapped[datetime] = mapped_column(default=now)
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Model):
    __tablename__ = "login_throttle"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(default=now)  # the per-address window
    last_failure_at: Mapped[datetime] = mapped_column(default=now, index=True)
