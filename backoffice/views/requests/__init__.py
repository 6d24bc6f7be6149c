"""The requests' back-office views: the work queue (queue.py) with its filters (filters.py), and the
request screen (screen.py) whose routes the queue's view carries (/admin/requests/traiter/ etc.)."""

from .filters import DepositBetween, DepositFrom, DepositUntil, IdEqual, OverdueFilter, StatusEqual
from .queue import QueueRow, RequestView

__all__ = [
    "DepositBetween",
    "DepositFrom",
    "DepositUntil",
    "IdEqual",
    "OverdueFilter",
    "QueueRow",
    "RequestView",
    "StatusEqual",
]
