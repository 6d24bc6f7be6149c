"""The requests' back-office views: the work queue (queue.py) with its filters (filters.py), the
worklists « À traiter » and « Mes demandes » (worklists.py), and the request screen (screen.py)
whose routes the queue's view carries (/admin/requests/traiter/ etc.)."""

from .filters import DepositBetween, DepositFrom, DepositUntil, IdEqual, OverdueFilter, OwnerEqual, StatusIn
from .queue import QueueRow, QueueView, RequestView
from .worklists import MineView, TodoView

__all__ = [
    "DepositBetween",
    "DepositFrom",
    "DepositUntil",
    "IdEqual",
    "MineView",
    "OverdueFilter",
    "OwnerEqual",
    "QueueRow",
    "QueueView",
    "RequestView",
    "StatusIn",
    "TodoView",
]
