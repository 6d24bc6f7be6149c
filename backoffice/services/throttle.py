"""Login throttling (issue 11): progressive delays per (login as typed, client address), plus a limit
of failures per address. It replaces the account lock, which let anyone lock any account.

* (login, address): after LOGIN_THROTTLE_FREE_FAILURES failures, each attempt waits
  LOGIN_THROTTLE_BASE_SECONDS × 2^(failures − free) after the last failure, at most
  LOGIN_THROTTLE_MAX_SECONDS; the count is forgotten LOGIN_THROTTLE_RESET_MINUTES after the last
  failure, and a success clears it. An outsider's failures from another address count under their
  address, never under the real user's: they slow themselves down, not the user.
* address: at most LOGIN_ADDRESS_MAX_FAILURES failures per LOGIN_ADDRESS_WINDOW_MINUTES, whatever
  the logins (one address trying many logins).

The key is the login as authenticate() looks it up (stripped, lowercased), known or not: a refusal
says nothing about whether the login exists (same message, no password checked either way). The
counters live in the database (`login_throttle`), so every worker and machine shares them; they are
incremented in SQL (INSERT … ON CONFLICT DO UPDATE), never read-modified-written in Python.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ..clock import now
from ..extensions import db
from ..models import LoginThrottle
from . import statements

THROTTLED = "Trop de tentatives de connexion. Réessayez dans quelques instants."
STALE_AFTER = timedelta(days=1)  # housekeeping deletes counters untouched for this long


def normalise_login(value: str | None) -> str:
    """The login as the account look-up reads it (authenticate_agent / authenticate_partner)."""
    return (value or "").strip().lower()


@dataclass(frozen=True)
class Keys:
    login: str  # SHA-256 of (realm, login, address)
    address: str  # SHA-256 of the address


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def keys_for(realm: str, login: str, address: str | None) -> Keys:
    address = address or "-"
    return Keys(login=_digest("login", realm, normalise_login(login), address), address=_digest("address", address))


def _config(name: str) -> int:
    return int(current_app.config[name])


def _reset() -> timedelta:
    # Never shorter than the longest delay, or a count would be forgotten before its wait ends.
    return timedelta(seconds=max(_config("LOGIN_THROTTLE_RESET_MINUTES") * 60, _config("LOGIN_THROTTLE_MAX_SECONDS")))


def _window() -> timedelta:
    return timedelta(minutes=_config("LOGIN_ADDRESS_WINDOW_MINUTES"))


def delay_after(failures: int) -> timedelta:
    """The wait imposed after this many failures of one (login, address) (zero below the free ones)."""
    extra = failures - _config("LOGIN_THROTTLE_FREE_FAILURES")
    if extra < 0:
        return timedelta(0)
    base, cap = _config("LOGIN_THROTTLE_BASE_SECONDS"), _config("LOGIN_THROTTLE_MAX_SECONDS")
    return timedelta(seconds=min(base * 2 ** min(extra, 32), cap))


def is_throttled(keys: Keys, moment: datetime | None = None) -> bool:
    """Whether an attempt now must be refused without checking the password (one statement)."""
    moment = moment or now()
    rows = db.session.execute(
        select(
            LoginThrottle.key_hash,
            LoginThrottle.failures,
            LoginThrottle.window_started_at,
            LoginThrottle.last_failure_at,
        ).where(LoginThrottle.key_hash.in_([keys.login, keys.address]))
    ).all()
    for key_hash, failures, window_started_at, last_failure_at in rows:
        if key_hash == keys.login:
            if last_failure_at > moment - _reset() and moment < last_failure_at + delay_after(failures):
                return True
        elif window_started_at > moment - _window() and failures >= _config("LOGIN_ADDRESS_MAX_FAILURES"):
            return True
    return False


def _upsert() -> postgresql.Insert | sqlite.Insert:
    """INSERT … ON CONFLICT in the session's dialect (both spell on_conflict_do_update alike)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(LoginThrottle)
    return sqlite.insert(LoginThrottle)


def record_failure(keys: Keys, moment: datetime | None = None) -> None:
    """Count a failure under both keys, in the caller's transaction."""
    moment = moment or now()
    table = LoginThrottle.__table__
    _count_failure(keys.login, moment, restart=table.c.last_failure_at <= moment - _reset())
    _count_failure(keys.address, moment, restart=table.c.window_started_at <= moment - _window())


def _count_failure(key_hash: str, moment: datetime, restart) -> None:
    """One more failure under key_hash (an upsert); `restart`: the count starts again at 1."""
    column = LoginThrottle.__table__.c
    stmt = _upsert().values(key_hash=key_hash, failures=1, window_started_at=moment, last_failure_at=moment)
    db.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[column.key_hash],
            set_={
                "failures": case((restart, 1), else_=column.failures + 1),
                "window_started_at": case((restart, moment), else_=column.window_started_at),
                "last_failure_at": moment,
            },
        )
    )


def clear(keys: Keys) -> None:
    """A success forgets the (login, address) count; the address's stays (a valid account of an
    attacker must not wipe what its address tried on other logins)."""
    db.session.execute(
        delete(LoginThrottle).where(LoginThrottle.key_hash == keys.login),
        execution_options={"synchronize_session": False},
    )


def purge_stale() -> int:
    """Housekeeping: counters with no failure for STALE_AFTER (longer than any window or delay)."""
    limit = max(STALE_AFTER, _reset(), _window())
    return statements.purge(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now() - limit))
