"""Small builders of caisses, agents, structures, conventions and partner accounts, shared by `flask demo` and the tests.

Caisses, structures and conventions go through their services, so the rules (catalogue, SIRET, dates,
caps, offers) and the audit entries are the back office's own; each of these commits. Agents and
partner accounts are added to the session with their password hash already set (the caller commits):
the back office would instead send a set-password link, and would refuse an account above the cap
(the demo shows a structure at its cap with an inactive technician beyond it).
"""

from datetime import date

from sqlalchemy import select

from ..extensions import db
from ..models import Agent, AgentRole, Caisse, Convention, PartnerAccount, PartnerRole, ServiceOffer, Structure
from ..services import caisses, structures


def caisse(name: str, code: str, actor: Agent | None = None) -> Caisse:
    """A caisse with the whole reference catalogue enabled (services.caisses.create_caisse)."""
    return caisses.create_caisse(name, code, actor=actor)


def _person(model, key: str, defaults: dict, **columns):
    """A new agent or partner account (`key`: its username or login), added to the session, with
    `defaults` for the columns not given and <key>@example.fr as e-mail unless one is (None: none)."""
    columns = defaults | columns
    columns["email"] = columns.get("email") or f"{key}@example.fr"
    row = model(**columns)
    db.session.add(row)
    return row


def agent(username: str, *, role: AgentRole = AgentRole.AGENT, caisse: Caisse | None = None, **columns) -> Agent:
    """A back-office user of `caisse` (none for the national admin), added to the session. columns:
    Agent's others (first_name, last_name, email, password_hash...); by default Paul MARTIN,
    <username>@example.fr and no password."""
    defaults = {"first_name": "Paul", "last_name": "MARTIN"}
    return _person(
        Agent,
        username,
        defaults,
        username=username,
        role=role.value,
        caisse_id=caisse.id if caisse else None,
        **columns,
    )


def caisse_admin(username: str, caisse: Caisse, **fields) -> Agent:
    """An administrator of `caisse` (same defaults as `agent`)."""
    return agent(username, role=AgentRole.CAISSE_ADMIN, caisse=caisse, **fields)


def national_admin(username: str = "admin", **fields) -> Agent:
    """The national administrator: every caisse, no caisse of its own."""
    return agent(username, role=AgentRole.NATIONAL_ADMIN, **fields)


def structure(
    actor: Agent,
    *,
    name: str,
    siret: str,
    type: str = "Association",  # noqa: A002 (the field's name)
    address: str = "1 rue de la Paix",
    postal_code: str = "33000",
    city: str = "Bordeaux",
    member_count: int = 8,
) -> Structure:
    """A structure registered by the actor's caisse (services.structures.create_structure)."""
    data = {
        "name": name,
        "type": type,
        "siret": siret,
        "address": address,
        "postal_code": postal_code,
        "city": city,
        "member_count": member_count,
    }
    return structures.create_structure(data, actor)


def convention(
    actor: Agent,
    structure: Structure,
    *,
    start: date,
    end: date,
    caisse: Caisse | None = None,
    offers: list[ServiceOffer] | None = None,
    manager_cap: int | None = None,
    technician_cap: int | None = None,
) -> Convention:
    """A convention of the actor's caisse (or of `caisse`, for the national admin) opening `offers`
    (every service offer by default), through services.structures.create_convention."""
    if offers is None:
        offers = list(db.session.scalars(select(ServiceOffer)))
    data = {
        "structure_id": structure.id,
        "caisse_id": caisse.id if caisse else None,
        "start_date": start,
        "end_date": end,
        "service_offer_ids": [o.id for o in offers],
        "manager_cap": manager_cap,
        "technician_cap": technician_cap,
    }
    return structures.create_convention(data, actor)


def partner_account(
    structure: Structure, login: str, *, role: PartnerRole = PartnerRole.TECHNICIAN, **columns
) -> PartnerAccount:
    """An active account of the structure, added to the session. columns: PartnerAccount's others
    (usage_name, email, password_hash...); by default Madame Marie DUPONT, Conseillère,
    05.56.00.00.00, <login>@example.fr and no password."""
    defaults = {
        "civility": "Madame",
        "usage_name": "DUPONT",
        "first_name": "Marie",
        "function": "Conseillère",
        "phone": "05.56.00.00.00",
    }
    return _person(PartnerAccount, login, defaults, login=login, role=role.value, structure=structure, **columns)
