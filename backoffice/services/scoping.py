"""Tenant scoping (R-TEN-2): which rows a back-office user may see. Used by services and views."""

from sqlalchemy import and_, exists, false, or_, select, true

from ..models import Agent, Caisse, Convention, OutboxMessage, PartnerAccount, Structure


def caisse_filter(agent: Agent, column):
    """Rows whose caisse column is the agent's caisse (everything for the national admin)."""
    if agent.is_national_admin:
        return true()
    if agent.caisse_id is None:
        return false()
    return column == agent.caisse_id


def structure_filter(agent: Agent):
    """Structures under convention with the agent's caisse, or registered by it and not yet under
    any convention: once under convention with other caisses only, a structure is theirs."""
    if agent.is_national_admin:
        return true()
    return or_(
        exists().where(Convention.structure_id == Structure.id, Convention.caisse_id == agent.caisse_id),
        and_(
            Structure.registered_by_caisse_id == agent.caisse_id,
            ~exists().where(Convention.structure_id == Structure.id),
        ),
    )


def convention_filter(agent: Agent):
    return caisse_filter(agent, Convention.caisse_id)


def partner_account_filter(agent: Agent):
    """Accounts of structures under convention with the agent's caisse (or registered by it)."""
    if agent.is_national_admin:
        return true()
    visible = select(Structure.id).where(structure_filter(agent))
    return PartnerAccount.structure_id.in_(visible)


def agent_filter(agent: Agent):
    """National admin: every back-office user; caisse admin: the agents (not admins) of its caisse."""
    if agent.is_national_admin:
        return true()
    if agent.is_caisse_admin:
        return (Agent.caisse_id == agent.caisse_id) & (Agent.role == "agent")
    return Agent.id == agent.id


def outbox_filter(agent: Agent):
    return caisse_filter(agent, OutboxMessage.caisse_id)


def caisse_list_filter(agent: Agent):
    return caisse_filter(agent, Caisse.id)
