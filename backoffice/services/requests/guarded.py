"""The guarded UPDATE every change of a request is made of, and its winner's and loser's plumbing.

Every change of a request's state is ONE conditional UPDATE of its row, run first in its
transaction: WHERE id = ? AND status IN (the states it may leave) AND the owner (the partner's
structure, the agent's caisse, the agent who took it) AND, where the exchange counter matters, the
counter. Its rowcount says who won. On PostgreSQL (READ COMMITTED) a concurrent transition of the
same row waits for the winner's commit, then re-checks its WHERE on the committed row and matches
nothing; SQLite serialises writers. Only the winner writes the children (history row, message,
attachments, note, e-mail, audit); the loser rolls back and is told why, from the request as the
winner left it. Counters are incremented in the UPDATE itself. The winner holds the row lock until
it commits, so what it counts after its UPDATE (the files already attached) is counted by
statements that see every earlier winner's commit: two "Compléter" at once cannot pass the 8-file
total.
"""

from contextlib import contextmanager

from sqlalchemy import update

from ...extensions import db
from ...models import Request, RequestStatus, StatusChange
from .. import statements
from ..errors import DomainError


def transition(request: Request, from_statuses, values: dict, *conditions) -> int:
    """UPDATE request SET values WHERE id = request.id AND status IN from_statuses AND conditions.

    Returns the rowcount (0 or 1). On 1 the row stays locked until the transaction ends and the
    request's attributes are expired, so they are read again as the UPDATE left them."""
    moved = statements.affected(
        update(Request)
        .where(Request.id == request.id, Request.status.in_([s.value for s in from_statuses]), *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if moved == 1:
        db.session.expire(request)
    return moved


def moved(status: RequestStatus, stamp, **values) -> dict:
    """The values of a transition to `status` at `stamp` (R-STA-5: the status date)."""
    return {"status": status.value, "status_changed_at": stamp, **values}


def record_status(request_id: int, status: RequestStatus, stamp, agent=None, account=None) -> None:
    """R-STA-5: the history row of a transition that won, dated as the request's status date."""
    db.session.add(
        StatusChange(
            request_id=request_id,
            status=status.value,
            changed_at=stamp,
            agent_id=agent.id if agent else None,
            account_id=account.id if account else None,
        )
    )


def refusal(request: Request, explain) -> DomainError:
    """The loser's error: its transaction rolled back, the reason read from the request as it is now."""
    db.session.rollback()
    db.session.refresh(request)
    return DomainError(explain(request))


@contextmanager
def winner():
    """The winner's children: any refusal among them rolls back the transition too."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
