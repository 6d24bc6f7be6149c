"""Caisses and their back-office users: created by the national admin, agents by their caisse admin."""

import re

from sqlalchemy import func, select

from ..extensions import db
from ..models import Agent, AgentRole, Caisse
from . import audit, catalog, outbox, tokens
from .errors import DomainError, ValidationFailed
from .identity import normalized_email
from .sessions import rotate_session_id

_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,58}[a-z0-9]$")


def create_caisse(name: str, code: str, actor) -> Caisse:
    name = " ".join((name or "").split()).upper()
    code = (code or "").strip()
    errors = {}
    if not name:
        errors["name"] = "Veuillez renseigner le nom de l'organisme."
    if not re.fullmatch(r"\d{3}", code):
        errors["code"] = "Le code de l'organisme comporte exactement 3 chiffres (ex. 331)."
    if errors:
        raise ValidationFailed(errors)
    if db.session.scalar(select(func.count()).select_from(Caisse).where(Caisse.code == code)):
        raise DomainError("Un organisme porte déjà ce code.", "code")
    if db.session.scalar(select(func.count()).select_from(Caisse).where(Caisse.name == name)):
        raise DomainError("Un organisme porte déjà ce nom.", "name")
    catalog.ensure_reference_catalog()
    caisse = Caisse(name=name, code=code)
    db.session.add(caisse)
    db.session.flush()
    catalog.enable_everything(caisse)
    audit.record("caisse.create", actor=actor, target=caisse, caisse_id=caisse.id, name=name, code=code)
    db.session.commit()
    return caisse


def update_caisse(caisse: Caisse, name: str, actor) -> Caisse:
    name = " ".join((name or "").split()).upper()
    if not name:
        raise DomainError("Veuillez renseigner le nom de l'organisme.", "name")
    clash = db.session.scalar(select(Caisse.id).where(Caisse.name == name, Caisse.id != caisse.id))
    if clash:
        raise DomainError("Un organisme porte déjà ce nom.", "name")
    caisse.name = name
    audit.record("caisse.update", actor=actor, target=caisse, caisse_id=caisse.id, name=name)
    db.session.commit()
    return caisse


def _clean_agent(data: dict) -> dict:
    errors = {}
    username = (data.get("username") or "").strip().lower()
    first_name = " ".join((data.get("first_name") or "").split())
    last_name = " ".join((data.get("last_name") or "").split()).upper()
    email = (data.get("email") or "").strip()
    if not _USERNAME_RE.match(username):
        errors["username"] = (
            "L'identifiant comporte de 3 à 60 caractères : lettres minuscules, chiffres, point, tiret ou tiret bas."
        )
    if not first_name or len(first_name) > 40:
        errors["first_name"] = "Veuillez renseigner le prénom (40 caractères au plus)."
    if not last_name or len(last_name) > 40:
        errors["last_name"] = "Veuillez renseigner le nom (40 caractères au plus)."
    email = normalized_email(email, errors)
    if errors:
        raise ValidationFailed(errors)
    return {"username": username, "first_name": first_name, "last_name": last_name, "email": email}


def _allowed_role_and_caisse(actor: Agent, role: str, caisse_id: int | None) -> tuple[str, int | None]:
    """A caisse admin creates agents of its own caisse only; the national admin creates any role."""
    try:
        role_enum = AgentRole(role)
    except ValueError:
        raise DomainError("Rôle inconnu.", "role") from None
    if actor.is_national_admin:
        if role_enum is AgentRole.NATIONAL_ADMIN:
            return role_enum.value, None
        if caisse_id is None or db.session.get(Caisse, caisse_id) is None:
            raise DomainError("Veuillez choisir l'organisme de rattachement.", "caisse")
        return role_enum.value, caisse_id
    if actor.is_caisse_admin and role_enum is AgentRole.AGENT:
        return role_enum.value, actor.caisse_id
    raise DomainError("Vous ne pouvez créer que des agents de votre organisme.", "role")


def create_agent(data: dict, actor: Agent, role: str, caisse_id: int | None) -> Agent:
    """Create a back-office user and e-mail a set-password link (same flow as partner accounts)."""
    fields = _clean_agent(data)
    role, caisse_id = _allowed_role_and_caisse(actor, role, caisse_id)
    if db.session.scalar(select(Agent.id).where(Agent.username == fields["username"])):
        raise DomainError("Cet identifiant est déjà utilisé.", "username")
    agent = Agent(role=role, caisse_id=caisse_id, **fields)
    db.session.add(agent)
    db.session.flush()
    outbox.enqueue(
        "agent_created",
        agent.email,
        "agent_created",
        caisse_id=caisse_id,
        link_owner=agent,
        link_purpose="create",
        agent=agent,
    )
    audit.record("agent.create", actor=actor, target=agent, caisse_id=caisse_id, username=agent.username, role=role)
    db.session.commit()
    return agent


def update_agent(agent: Agent, data: dict, actor: Agent) -> Agent:
    fields = _clean_agent({**data, "username": agent.username})
    for key in ("first_name", "last_name", "email"):
        setattr(agent, key, fields[key])
    audit.record("agent.update", actor=actor, target=agent, caisse_id=agent.caisse_id)
    db.session.commit()
    return agent


def set_agent_active(agent: Agent, active: bool, actor: Agent) -> None:
    if agent.id == actor.id and not active:
        raise DomainError("Vous ne pouvez pas désactiver votre propre compte.")
    if agent.active == active:
        return
    agent.active = active
    rotate_session_id(agent)
    audit.record(
        "agent.activate" if active else "agent.inactivate", actor=actor, target=agent, caisse_id=agent.caisse_id
    )
    db.session.commit()


def create_national_admin(username: str, email: str, password: str, first_name: str, last_name: str) -> Agent:
    """Used by `flask create-admin`."""
    from .passwords import check_policy

    fields = _clean_agent({"username": username, "email": email, "first_name": first_name, "last_name": last_name})
    if db.session.scalar(select(Agent.id).where(Agent.username == fields["username"])):
        raise DomainError("Cet identifiant est déjà utilisé.", "username")
    check_policy(password, fields["username"])
    agent = Agent(role=AgentRole.NATIONAL_ADMIN.value, caisse_id=None, **fields)
    tokens.set_password(agent, password)
    db.session.add(agent)
    db.session.flush()
    audit.record("agent.create", actor=None, target=agent, username=agent.username, role=agent.role)
    db.session.commit()
    return agent
