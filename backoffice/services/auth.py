"""Authentication with lockout (10 failures → 10 minutes), shared by the back-office and the portal."""
from datetime import timedelta

from flask import current_app, has_request_context, session
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import Agent, Convention, PartnerAccount
from ..services.passwords import hash_password, needs_rehash, verify_password
from . import access, audit
from .clock import now
from .errors import DomainError

BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."
LOCKED = (
    "Votre compte est temporairement verrouillé après plusieurs tentatives infructueuses. "
    "Réessayez dans quelques minutes."
)
INACTIVE = "Ce compte est inactif. Contactez votre gestionnaire ou votre organisme."


def _dummy_verify(password: str) -> None:
    """Spend the same time on an unknown login as on a known one."""
    verify_password(_dummy_hash(), password)


_DUMMY = {}


def _dummy_hash() -> str:
    key = (current_app.config.get("ARGON2_TIME_COST"), current_app.config.get("ARGON2_MEMORY_COST"))
    if key not in _DUMMY:
        _DUMMY[key] = hash_password("unknown-login-timing-equaliser")
    return _DUMMY[key]


def _check(user, password: str, label: str, caisse_id: int | None):
    if user is None:
        _dummy_verify(password)
        audit.record("login.failure", actor=None, login=label, reason="unknown")
        db.session.commit()
        raise DomainError(BAD_CREDENTIALS)
    if user.locked_until and user.locked_until > now():
        audit.record("login.locked", actor=user, target=user, caisse_id=caisse_id)
        db.session.commit()
        raise DomainError(LOCKED)
    if not verify_password(user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
            user.locked_until = now() + timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
            user.failed_logins = 0
            audit.record("login.lockout", actor=user, target=user, caisse_id=caisse_id)
        audit.record("login.failure", actor=user, target=user, caisse_id=caisse_id, reason="password")
        db.session.commit()
        raise DomainError(BAD_CREDENTIALS)
    if not user.active:
        audit.record("login.failure", actor=user, target=user, caisse_id=caisse_id, reason="inactive")
        db.session.commit()
        raise DomainError(INACTIVE)
    user.failed_logins = 0
    user.locked_until = None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record("login.success", actor=user, target=user, caisse_id=caisse_id)
    db.session.commit()
    return user


def authenticate_agent(username: str, password: str) -> Agent:
    username = (username or "").strip().lower()
    agent = db.session.scalar(select(Agent).where(Agent.username == username)) if username else None
    return _check(agent, password or "", username, agent.caisse_id if agent else None)


def authenticate_partner(login: str, password: str) -> PartnerAccount:
    login = (login or "").strip().lower()
    account = db.session.scalar(select(PartnerAccount).where(PartnerAccount.login == login)) if login else None
    return _check(account, password or "", login, None)


# Run on every request: built once. The header of every page names the agent's caisse / the
# partner's structure, loaded with the user in one statement rather than lazily in a second one.
_USER_BY_ALT_ID = {
    "agent": select(Agent).options(joinedload(Agent.caisse)).where(Agent.alt_id == bindparam("alt_id")),
    "partner": select(PartnerAccount)
    .options(joinedload(PartnerAccount.structure))
    .where(PartnerAccount.alt_id == bindparam("alt_id")),
}


# A partner's pages all check the selected caisse's conventions (services/access.access_for): they
# are read with the account, in the same statement, and handed over to that check.
_PARTNER_WITH_CONVENTIONS = (
    select(PartnerAccount, Convention)
    .outerjoin(
        Convention,
        and_(Convention.structure_id == PartnerAccount.structure_id, Convention.caisse_id == bindparam("caisse_id")),
    )
    .options(joinedload(PartnerAccount.structure), joinedload(Convention.caisse))
    .where(PartnerAccount.alt_id == bindparam("alt_id"))
)


def load_user(user_id: str):
    """Flask-Login loader: 'agent:<alt_id>' or 'partner:<alt_id>'; inactive accounts are refused."""
    kind, _, alt_id = (user_id or "").partition(":")
    model = {"agent": Agent, "partner": PartnerAccount}.get(kind)
    if model is None or not alt_id:
        return None
    caisse_id = session.get("caisse_id") if kind == "partner" and has_request_context() else None
    if isinstance(caisse_id, int):
        rows = db.session.execute(_PARTNER_WITH_CONVENTIONS, {"alt_id": alt_id, "caisse_id": caisse_id}).all()
        user = rows[0][0] if rows else None
        if user is not None:
            access.prefetch_conventions(user, caisse_id, [c for _a, c in rows if c is not None])
    else:
        user = db.session.scalar(_USER_BY_ALT_ID[kind], {"alt_id": alt_id})
    if user is None or not user.active:
        return None
    return user
