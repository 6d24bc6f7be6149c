"""Who handles a request (issue 13 §1).

- The agent who takes a request ("Prendre en charge") owns it (Request.taken_by_agent_id).
- Only the owner, or an admin of the request's caisse, answers it (R-BO-3) and replies to the
  partner's messages (R-BO-4); while nobody owns it, any agent of the caisse may.
- Taking, answering and replying belong to the caisse's own staff: the national admin reads them.
- The owner or a caisse admin gives the request to another active agent of the caisse
  (reassign_request): the status does not move, the new owner is told by e-mail.
- A deactivated agent keeps their requests; they show as « à réattribuer » (orphaned_condition).

Each rule has its SQL form, put in the guarded UPDATE's WHERE so that no race bypasses it, and its
Python form, for what the request screen offers and for the refusal's explanation.
"""

from sqlalchemy import and_, false, or_, select

from ...extensions import db
from ...models import Agent, AgentRole, NoteKind, Request, RequestNote, RequestStatus
from .. import audit, outbox
from ..errors import DomainError, ValidationFailed
from . import refusals
from .guarded import refusal, transition, winner
from .notes import clean_note

# The statuses in which a request has an owner who may still have work on it.
REASSIGNABLE = (
    RequestStatus.TAKEN,
    RequestStatus.RESOLVED,
    RequestStatus.MESSAGE_SENT,
    RequestStatus.MESSAGE_RECEIVED,
)
REASSIGNABLE_VALUES = tuple(s.value for s in REASSIGNABLE)
STAFF_ROLES = (AgentRole.AGENT.value, AgentRole.CAISSE_ADMIN.value)
REASSIGN_MAIL = "request_reassigned"


# --- the rules, in SQL (inside the guarded UPDATEs) and in Python (the screen, the refusals) --------


def staff_condition(agent: Agent):
    """The requests of the agent's own caisse: what the agent may take (never the national admin's)."""
    if agent.caisse_id is None:
        return false()
    return Request.caisse_id == agent.caisse_id


def handler_condition(agent: Agent):
    """The requests the agent may answer or reply to: of their caisse, and theirs, or nobody's yet,
    or any of the caisse for a caisse admin."""
    if agent.caisse_id is None or agent.is_caisse_admin:
        return staff_condition(agent)
    return and_(
        staff_condition(agent),
        or_(Request.taken_by_agent_id.is_(None), Request.taken_by_agent_id == agent.id),
    )


def is_staff(agent: Agent, request: Request) -> bool:
    return agent.caisse_id is not None and request.caisse_id == agent.caisse_id


def may_handle(agent: Agent, request: Request) -> bool:
    """handler_condition for one request as it is loaded."""
    return is_staff(agent, request) and (
        agent.is_caisse_admin or request.taken_by_agent_id is None or request.taken_by_agent_id == agent.id
    )


def may_reassign(agent: Agent, request: Request) -> bool:
    """The owner or a caisse admin, in a status that has an owner."""
    if not is_staff(agent, request) or request.status not in REASSIGNABLE_VALUES:
        return False
    return agent.is_caisse_admin or (request.taken_by_agent_id is not None and request.taken_by_agent_id == agent.id)


def orphaned_condition():
    """SQL: the requests « à réattribuer » — in a status with an owner, whose owner is deactivated
    (or gone). The inactive agents are few: the owner index (ix_request_owner) serves the IN."""
    inactive = select(Agent.id).where(Agent.active.is_(False))
    return and_(
        Request.status.in_(REASSIGNABLE_VALUES),
        or_(Request.taken_by_agent_id.is_(None), Request.taken_by_agent_id.in_(inactive)),
    )


def needs_reassignment(request: Request) -> bool:
    """orphaned_condition for one request as it is loaded."""
    if request.status not in REASSIGNABLE_VALUES:
        return False
    owner = request.taken_by
    return owner is None or not owner.active


# --- reassigning ----------------------------------------------------------------------------------


def reassign_choices(actor: Agent, request: Request) -> list[Agent]:
    """The agents the actor may give the request to: the active agents and admins of its caisse but
    its current owner, by name; none when the actor may not reassign it."""
    if not may_reassign(actor, request):
        return []
    query = select(Agent).where(
        Agent.caisse_id == request.caisse_id, Agent.active.is_(True), Agent.role.in_(STAFF_ROLES)
    )
    if request.taken_by_agent_id is not None:
        query = query.where(Agent.id != request.taken_by_agent_id)
    return list(db.session.scalars(query.order_by(Agent.last_name, Agent.first_name, Agent.id)))


def _target(request: Request, to_agent_id) -> Agent | None:
    if not isinstance(to_agent_id, int) or isinstance(to_agent_id, bool):
        return None
    return db.session.scalar(
        select(Agent).where(
            Agent.id == to_agent_id,
            Agent.caisse_id == request.caisse_id,
            Agent.active.is_(True),
            Agent.role.in_(STAFF_ROLES),
        )
    )


def reassign_request(
    actor: Agent, request: Request, to_agent_id: int | None, expected_owner_id: int | None, note: str | None
) -> RequestNote:
    """Give the request to another active agent of its caisse, with an optional note.

    expected_owner_id is the owner the actor saw: the UPDATE matches only while it still is, so a
    double click or two admins at once give one reassignment; the others are told who owns it now.
    The status and its date do not move (the partner sees nothing go backwards)."""
    if not is_staff(actor, request):
        raise DomainError(refusals.NATIONAL_READS_ONLY if actor.caisse_id is None else refusals.NOT_IN_CAISSE)
    errors: dict[str, str] = {}
    note = clean_note(note, errors, field="note", required=False)
    target = _target(request, to_agent_id)
    if target is None:
        errors["to_agent_id"] = "Veuillez choisir un agent actif de la caisse à qui réattribuer la demande."
    elif target.id == expected_owner_id:
        errors["to_agent_id"] = f"La demande est déjà prise en charge par {target.full_name}."
    if errors or target is None:
        raise ValidationFailed(errors)
    owner = Request.taken_by_agent_id
    conditions = [
        staff_condition(actor),
        owner.is_(None) if expected_owner_id is None else owner == expected_owner_id,
    ]
    if not actor.is_caisse_admin:
        conditions.append(owner == actor.id)
    if not transition(request, REASSIGNABLE, {"taken_by_agent_id": target.id}, *conditions):
        raise refusal(request, lambda r: refusals.not_reassigned(actor, r, expected_owner_id))
    with winner():
        previous = db.session.get(Agent, expected_owner_id) if expected_owner_id is not None else None
        from_name = previous.full_name if previous is not None else None
        entry = RequestNote(
            request_id=request.id,
            kind=NoteKind.REASSIGNMENT.value,
            body=note or None,
            agent_id=actor.id,
            author_name=actor.full_name,
            from_agent_id=expected_owner_id,
            to_agent_id=target.id,
            from_name=from_name,
            to_name=target.full_name,
        )
        db.session.add(entry)
        audit.record(
            "request.reassign",
            actor=actor,
            target=request,
            caisse_id=request.caisse_id,
            number=request.number,
            **{"from": expected_owner_id, "to": target.id},
            from_name=from_name,
            to_name=target.full_name,
            note=bool(note),
        )
        outbox.enqueue(
            REASSIGN_MAIL,
            target.email,
            REASSIGN_MAIL,
            caisse_id=request.caisse_id,
            request=request,
            actor=actor,
            agent=target,
            with_note=bool(note),
        )
        db.session.commit()
    return entry
