"""The worklists an agent lives in (issue 13 §2): « À traiter » and « Mes demandes », next to
« Toutes » (RequestView), in the « Demandes » menu with their counters.

Each worklist is the queue's view (QueueView) with a fixed services.queue.Worklist: its own endpoint
and URL, the same filters, search, export and bulk take. The counters (menu, home) are read once per
page in one statement (services/queue.worklist_counts) and shown by admin/ep_base.html's main_menu
block and admin/ep_index.html through the `ep_worklist_counts` template global.
"""

from flask import g, url_for

from ...services import queue as queue_service
from ..base import current_agent
from .queue import QueueView

# The URLs and endpoints of the worklists (« Toutes » keeps /admin/requests/ and `requests.*`).
TODO_URL = "/admin/a-traiter"
MINE_URL = "/admin/mes-demandes"


class TodoView(QueueView):
    """« À traiter »: the caisse's « Nouveau » and « Message envoyé » requests, the oldest first."""

    worklist = queue_service.TODO
    intro = (
        "Les demandes « Nouveau » et « Message envoyé » de la caisse, de la plus ancienne à la plus récente. "
        "Objectif de prise en charge : 48 h après le dépôt ; un message du partenaire indique depuis quand il attend."
    )


class MineView(QueueView):
    """« Mes demandes »: what the agent owns and still has to handle (Pris en charge, Message envoyé)."""

    worklist = queue_service.MINE
    intro = (
        "Les demandes dont vous avez la charge et qui attendent votre action (« Pris en charge », "
        "« Message envoyé »), de la plus ancienne à la plus récente."
    )

    def is_accessible(self) -> bool:
        """The national admin takes no request: no « Mes demandes »."""
        agent = current_agent()
        return super().is_accessible() and not agent.is_national_admin


def register(admin) -> None:
    """The « Demandes » menu: « À traiter », « Mes demandes », « Toutes » (admin.add_view order)."""
    from ...models import Request
    from .queue import RequestView

    admin.add_view(TodoView(Request, name="À traiter", endpoint="todo", url=TODO_URL, category="Demandes"))
    admin.add_view(MineView(Request, name="Mes demandes", endpoint="mine", url=MINE_URL, category="Demandes"))
    admin.add_view(RequestView(Request, name="Toutes", endpoint="requests", category="Demandes"))
    admin.app.add_template_global(worklist_counters, "ep_worklist_counts")


def worklist_counters() -> list[tuple[str, str, int]]:
    """(label, URL, count) of each worklist the signed-in agent has, for the menu and the home
    (empty when nobody is signed in): one statement per page, whichever templates ask."""
    if "ep_worklist_counters" in g:
        return g.ep_worklist_counters
    agent = current_agent()
    counters: list[tuple[str, str, int]] = []
    if agent is not None:
        counts = queue_service.worklist_counts(agent)
        for key, label, endpoint in (("todo", "À traiter", "todo"), ("mine", "Mes demandes", "mine")):
            if key in counts:
                counters.append((label, url_for(f"{endpoint}.index_view"), counts[key]))
    g.ep_worklist_counters = counters
    return counters


def landing_url(agent) -> str:
    """Where an agent lands after signing in: « À traiter » for the caisse's staff, the home for the
    national admin."""
    if agent is not None and not agent.is_national_admin:
        return url_for("todo.index_view")
    return url_for("admin.index")
