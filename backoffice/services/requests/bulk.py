"""Bulk take (issue 13 §5): an agent takes several requests at once from the queue.

Each take is services.requests.take_request, guarded on its own (one conditional UPDATE, run first
in its own transaction): a request a colleague took meanwhile is refused alone and the others are
taken. Ids outside the agent's caisse (or unknown) are counted as not found and never taken. The
agent is told, in French: « 7 demandes prises en charge, 1 déjà prise par Paul BERNARD ».
"""

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select

from ...extensions import db
from ...models import Agent, Request, RequestStatus
from ..errors import DomainError
from ..scoping import caisse_filter
from .transitions import take_request

# At most this many requests in one bulk take (a list page holds at most 100).
BULK_MAX = 100

NOT_CAISSE_STAFF = "La prise en charge des demandes revient aux agents de la caisse."


@dataclass
class BulkResult:
    """What a bulk take did: the ids taken, the owners of those already taken (name → how many),
    the ids cancelled by the partner, the ids refused otherwise and the ids not found."""

    taken: list[int] = field(default_factory=list)
    already: Counter = field(default_factory=Counter)
    cancelled: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    not_found: list[int] = field(default_factory=list)

    def summary(self) -> str:
        """« 7 demandes prises en charge, 1 déjà prise par Paul BERNARD » (French agreement:
        0 and 1 are singular)."""
        parts = [_count(len(self.taken), "demande prise en charge", "demandes prises en charge")]
        for name, n in sorted(self.already.items(), key=lambda item: (-item[1], item[0])):
            parts.append(f"{_count(n, 'déjà prise', 'déjà prises')} par {name}")
        if self.cancelled:
            parts.append(_count(len(self.cancelled), "annulée par le partenaire", "annulées par le partenaire"))
        if self.refused:
            parts.append(_count(len(self.refused), "refusée", "refusées"))
        if self.not_found:
            parts.append(_count(len(self.not_found), "introuvable", "introuvables"))
        return ", ".join(parts)


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n} {singular if n < 2 else plural}"


def take_requests(agent: Agent, ids) -> BulkResult:
    """Take each request of `ids` (in the queue's order of the ids given, each once) for the agent,
    each in its own guarded transaction; never the national admin's (the caisse's staff take)."""
    if agent.is_national_admin or agent.caisse_id is None:
        raise DomainError(NOT_CAISSE_STAFF)
    wanted = list(dict.fromkeys(ids))[:BULK_MAX]
    result = BulkResult()
    in_caisse = set(
        db.session.scalars(select(Request.id).where(Request.id.in_(wanted), caisse_filter(agent, Request.caisse_id)))
    )
    for request_id in wanted:
        request = db.session.get(Request, request_id) if request_id in in_caisse else None
        if request is None:
            result.not_found.append(request_id)
            continue
        try:
            take_request(agent, request)
        except DomainError:
            _refused(result, request)
        else:
            result.taken.append(request_id)
    return result


def _refused(result: BulkResult, request: Request) -> None:
    """Why a take lost, read from the request as the winner left it (take_request refreshed it)."""
    if request.status == RequestStatus.CANCELLED.value:
        result.cancelled.append(request.id)
    elif request.status != RequestStatus.NEW.value:
        owner = request.taken_by
        result.already[owner.full_name if owner is not None else "un autre agent"] += 1
    else:
        result.refused.append(request.id)
