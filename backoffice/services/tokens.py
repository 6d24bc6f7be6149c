"""Set-password tokens (R-ACC-3/6): 256 random bits, only the SHA-256 stored, single use, expiring."""

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from ..clock import now
from ..extensions import db
from ..models import Agent, PartnerAccount, PasswordToken
from . import audit, statements
from .errors import DomainError
from .passwords import check_policy, hash_password
from .sessions import rotate_session_id

INVALID_LINK = (
    "Ce lien n'est plus valide : il a déjà été utilisé ou il a expiré. "
    "Utilisez « Mot de passe oublié ? » pour en recevoir un nouveau."
)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def revoke_unused(owner: PartnerAccount | Agent) -> None:
    """End the owner's unused links now (a new one is on its way, or the account changed)."""
    owner_filter = (
        PasswordToken.agent_id == owner.id if isinstance(owner, Agent) else PasswordToken.partner_account_id == owner.id
    )
    db.session.execute(
        update(PasswordToken)
        .where(owner_filter, PasswordToken.used_at.is_(None), PasswordToken.expires_at > now())
        .values(expires_at=now())
    )


def issue(owner: PartnerAccount | Agent, purpose: str) -> str:
    """Create a token for owner, revoking its earlier unused ones; return the raw token for the link.

    Only the outbox sender calls this, when the e-mail leaves (outbox.send_pending): the raw token
    lives in that e-mail and nowhere else, and its PASSWORD_TOKEN_HOURS count from then.
    """
    raw = secrets.token_urlsafe(32)
    revoke_unused(owner)
    token = PasswordToken(
        token_hash=_digest(raw),
        purpose=purpose,
        expires_at=now() + timedelta(hours=current_app.config["PASSWORD_TOKEN_HOURS"]),
    )
    if isinstance(owner, Agent):
        token.agent = owner
    else:
        token.partner_account = owner
    db.session.add(token)
    return raw


def find_valid(raw: str) -> PasswordToken | None:
    if not raw or len(raw) > 100:
        return None
    token = db.session.scalar(select(PasswordToken).where(PasswordToken.token_hash == _digest(raw)))
    if token is None or token.used_at is not None or token.expires_at <= now():
        return None
    owner = token.owner
    if owner is None or not owner.active:
        return None
    return token


def set_password_with_token(raw: str, password: str, confirmation: str) -> PasswordToken:
    """Consume the token and set the owner's password, in one transaction."""
    token = find_valid(raw)
    if token is None:
        raise DomainError(INVALID_LINK)
    owner = token.owner
    login = owner.login if isinstance(owner, PartnerAccount) else owner.username
    check_policy(password, login)
    if password != confirmation:
        raise DomainError("Les deux mots de passe saisis ne sont pas identiques.", "confirmation")
    # Mark used with a guarded UPDATE so two concurrent submissions cannot both succeed.
    claimed = statements.affected(
        update(PasswordToken).where(PasswordToken.id == token.id, PasswordToken.used_at.is_(None)).values(used_at=now())
    )
    if claimed != 1:
        db.session.rollback()
        raise DomainError(INVALID_LINK)
    set_password(owner, password)
    audit.record("password.set", actor=owner, target=owner, purpose=token.purpose)
    db.session.commit()
    return token


def set_password(owner: PartnerAccount | Agent, password: str) -> None:
    """New hash, new session identifier: every session of the account ends."""
    owner.password_hash = hash_password(password)
    owner.password_changed_at = now()
    rotate_session_id(owner)
