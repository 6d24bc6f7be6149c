"""Authentication shared by the back-office and the portal: argon2id, login throttling
(services/throttle.py, in place of an account lock) and the Flask-Login loader that checks the
server-side session (services/sessions.py) in the statement that loads the user."""

from collections.abc import Sequence
from typing import Any, NamedTuple, Unpack

from flask import current_app, g, has_request_context, request, session
from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.orm import SessionTransaction, joinedload

from ..clock import now
from ..extensions import db
from ..models import Agent, Convention, PartnerAccount, UserSession
from ..services.passwords import hash_password, needs_rehash, verify_password
from . import audit, sessions, throttle
from .errors import DomainError

BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."
THROTTLED = throttle.THROTTLED
INACTIVE = "Ce compte est inactif. Contactez votre gestionnaire ou votre organisme."


def _dummy_verify(password: str) -> None:
    """Spend the same time on an unknown login as on a known one."""
    verify_password(_dummy_hash(), password)


_DUMMY: dict[tuple[object, object], str] = {}


def _dummy_hash() -> str:
    key = (current_app.config.get("ARGON2_TIME_COST"), current_app.config.get("ARGON2_MEMORY_COST"))
    if key not in _DUMMY:
        _DUMMY[key] = hash_password("unknown-login-timing-equaliser")
    return _DUMMY[key]


def _client_address(address: str | None) -> str | None:
    if address is None and has_request_context():
        return request.remote_addr  # the client's, behind TRUSTED_PROXIES (ProxyFix, create_app)
    return address


def _check(model, column, realm: str, login: str, password: str, address: str | None):
    """The same path, statements and argon2 work for an unknown login as for a wrong password;
    a throttled attempt checks no password at all, whether or not the login exists."""
    login = throttle.normalise_login(login)
    keys = throttle.keys_for(realm, login, _client_address(address))
    if throttle.is_throttled(keys):
        audit.record("login.throttled", actor=None, login=login)
        db.session.commit()
        raise DomainError(THROTTLED)
    user = db.session.scalar(select(model).where(column == login)) if login else None
    caisse_id = getattr(user, "caisse_id", None)
    if user is not None and user.password_hash:
        verified = verify_password(user.password_hash, password)
    else:  # unknown, or no password yet (a new or reactivated account): the same argon2 work
        _dummy_verify(password)
        verified = False
    if user is None or not verified:  # an unknown login is never verified
        if user is None:
            audit.record("login.failure", actor=None, login=login, reason="unknown")
        else:
            audit.record("login.failure", actor=user, target=user, caisse_id=caisse_id, reason="password")
        throttle.record_failure(keys)
        db.session.commit()
        raise DomainError(BAD_CREDENTIALS)
    throttle.clear(keys)
    if not user.active:
        audit.record("login.failure", actor=user, target=user, caisse_id=caisse_id, reason="inactive")
        db.session.commit()
        raise DomainError(INACTIVE)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record("login.success", actor=user, target=user, caisse_id=caisse_id)
    db.session.commit()
    return user


def authenticate_agent(username: str, password: str, address: str | None = None) -> Agent:
    """`address`: the client's (the request's by default), for the throttle."""
    return _check(Agent, Agent.username, "agent", username, password or "", address)


def authenticate_partner(login: str, password: str, address: str | None = None) -> PartnerAccount:
    return _check(PartnerAccount, PartnerAccount.login, "partner", login, password or "", address)


# Run on every request: built once. The header of every page names the agent's caisse / the
# partner's structure, loaded with the user in one statement rather than lazily in a second one.
# The same statement reads the server-side session row (services/sessions.py): a revoked, idle or
# too old session gives no row, hence no user.
def _live_session(owner_column):
    return and_(
        owner_column,
        UserSession.key_hash == bindparam("key_hash"),
        UserSession.revoked_at.is_(None),
        UserSession.last_seen_at > bindparam("idle_since"),
        UserSession.created_at > bindparam("born_after"),
    )


_AGENT_SESSION = _live_session(UserSession.agent_id == Agent.id)
_PARTNER_SESSION = _live_session(UserSession.partner_account_id == PartnerAccount.id)

_USER_BY_ALT_ID: dict[str, Select[Unpack[tuple[Any, ...]]]] = {
    "agent": select(Agent).options(joinedload(Agent.caisse)).where(Agent.alt_id == bindparam("alt_id")),
    "partner": select(PartnerAccount)
    .options(joinedload(PartnerAccount.structure))
    .where(PartnerAccount.alt_id == bindparam("alt_id")),
}

_USER_IN_SESSION: dict[str, Select[Unpack[tuple[Any, ...]]]] = {
    "agent": select(Agent, UserSession.id, UserSession.last_seen_at)
    .join(UserSession, _AGENT_SESSION)
    .options(joinedload(Agent.caisse))
    .where(Agent.alt_id == bindparam("alt_id")),
    "partner": select(PartnerAccount, UserSession.id, UserSession.last_seen_at)
    .join(UserSession, _PARTNER_SESSION)
    .options(joinedload(PartnerAccount.structure))
    .where(PartnerAccount.alt_id == bindparam("alt_id")),
}


# A partner's pages all check the selected caisse's conventions (services/access.access_for): they
# are read with the account, in the same statement, and handed over to that check
# (prefetched_conventions, passed by the portal's guard as access_for's `conventions`).
_PARTNER_WITH_CONVENTIONS = (
    select(PartnerAccount, UserSession.id, UserSession.last_seen_at, Convention)
    .join(UserSession, _PARTNER_SESSION)
    .outerjoin(
        Convention,
        and_(Convention.structure_id == PartnerAccount.structure_id, Convention.caisse_id == bindparam("caisse_id")),
    )
    .options(joinedload(PartnerAccount.structure), joinedload(Convention.caisse))
    .where(PartnerAccount.alt_id == bindparam("alt_id"))
)


class _Prefetched(NamedTuple):
    structure_id: int
    caisse_id: int
    transaction: SessionTransaction | None
    conventions: list[Convention]


_PREFETCHED = "ep_prefetched_conventions"  # on flask.g: the request's, never another's


def hand_over_conventions(account: PartnerAccount, caisse_id: int, conventions: list[Convention]) -> None:
    """Keep, for this request's access check, the account's conventions with the caisse just read."""
    setattr(g, _PREFETCHED, _Prefetched(account.structure_id, caisse_id, db.session().get_transaction(), conventions))


def prefetched_conventions(account: PartnerAccount, caisse_id: int | None) -> list[Convention] | None:
    """The conventions of the account's structure with this caisse that load_user read with the
    account in this request, for the access check: handed over once (a later check reads what the
    database holds then), and only within the transaction that read them. None otherwise."""
    held = g.get(_PREFETCHED)
    if held is None or (held.structure_id, held.caisse_id) != (account.structure_id, caisse_id):
        return None
    g.pop(_PREFETCHED)
    if held.transaction is None or held.transaction is not db.session().get_transaction():
        return None
    return held.conventions


def load_user(user_id: str):
    """Flask-Login loader: 'agent:<alt_id>' or 'partner:<alt_id>', in a live server-side session
    (the cookie's key names a row that is not revoked, idle or too old); inactive accounts are
    refused. Outside a request (a shell, a test) there is no session to check: the account only."""
    kind, _, alt_id = (user_id or "").partition(":")
    model = {"agent": Agent, "partner": PartnerAccount}.get(kind)
    if model is None or not alt_id:
        return None
    if not has_request_context():
        user = db.session.scalar(_USER_BY_ALT_ID[kind], {"alt_id": alt_id})
        return user if user is not None and user.active else None
    raw_key = session.get(sessions.SESSION_KEY)
    if not isinstance(raw_key, str) or not raw_key:
        return None
    moment = now()
    params = {
        "alt_id": alt_id,
        "key_hash": sessions.hash_key(raw_key),
        "idle_since": moment - sessions.idle_limit(),
        "born_after": moment - sessions.absolute_limit(),
    }
    caisse_id = session.get("caisse_id") if kind == "partner" else None
    row: Sequence[Any] | None
    if isinstance(caisse_id, int):
        rows = db.session.execute(_PARTNER_WITH_CONVENTIONS, {**params, "caisse_id": caisse_id}).all()
        row = rows[0][:3] if rows else None
        if row is not None:
            hand_over_conventions(row[0], caisse_id, [r[3] for r in rows if r[3] is not None])
    else:
        row = db.session.execute(_USER_IN_SESSION[kind], params).first()
    if row is None:
        return None
    user, session_id, last_seen_at = row
    if not user.active:
        return None
    if sessions.needs_touch(last_seen_at, moment):
        sessions.touch(session_id, moment)
    return user
