"""Password hashing (argon2id) and the password policy shared by agents and partners."""

from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context

from .errors import DomainError

MIN_LENGTH = 12
MAX_LENGTH = 128
POLICY_TEXT = (
    "Votre mot de passe doit comporter entre 12 et 128 caractères. "
    "Une phrase de passe facile à retenir convient ; les mots de passe trop courants sont refusés."
)


@lru_cache(maxsize=4)
def _hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def _hasher() -> PasswordHasher:
    """argon2id (argon2-cffi's default type); cost from the config, RFC 9106 low-memory by default."""
    config = current_app.config if has_app_context() else {}
    return _hasher_for(
        config.get("ARGON2_TIME_COST", 3),
        config.get("ARGON2_MEMORY_COST", 65536),
        config.get("ARGON2_PARALLELISM", 4),
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).resolve().parent.parent / "data" / "common_passwords.txt"
    with path.open(encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip() and not line.startswith("#"))


def check_policy(password: str, login: str | None = None) -> None:
    """Raise DomainError (on field 'password') when the password breaks the policy."""
    if len(password) < MIN_LENGTH:
        raise DomainError(f"Le mot de passe doit comporter au moins {MIN_LENGTH} caractères.", "password")
    if len(password) > MAX_LENGTH:
        raise DomainError(f"Le mot de passe doit comporter au plus {MAX_LENGTH} caractères.", "password")
    lowered = password.lower()
    if lowered in common_passwords() or len(set(lowered)) <= 2:
        raise DomainError(
            "Ce mot de passe est trop courant : choisissez-en un autre, par exemple une phrase.",
            "password",
        )
    if login and login.lower() in lowered:
        raise DomainError("Le mot de passe ne doit pas contenir votre identifiant.", "password")
