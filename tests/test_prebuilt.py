"""services/prebuilt.py: statements kept per worker give each agent exactly what a fresh one gives."""

import pytest
from helpers import add_request
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from backoffice.extensions import db
from backoffice.models import Request, RequestStatus
from backoffice.services import prebuilt
from backoffice.services import queue as queue_service


def _fresh(monkeypatch):
    """What the same calls give with statements built for the agent each time (nothing kept)."""
    monkeypatch.setattr(prebuilt, "statement", lambda key, build, agent, keep=True: (build(agent), {}))


@pytest.fixture
def requests(world):
    """GIRONDE: 3 new, 2 taken by its agent, 1 message_sent taken by its admin, 1 closed; OISE: 2 new, 1 taken."""
    made = {}
    for key, plan in (
        ("gironde", ["new", "new", "new", "taken", "taken", "message_sent", "closed"]),
        ("oise", ["new", "new", "taken"]),
    ):
        part = world[key]
        rows = []
        for status in plan:
            req = add_request(part["convention"], part["manager"], RequestStatus(status))
            if status != "new":
                req.taken_by_agent_id = (part["admin"] if status == "message_sent" else part["agent"]).id
            rows.append(req)
        db.session.commit()
        made[key] = rows
    return made


CASES = [
    (None, 0, 20),
    (queue_service.TODO, 0, 20),
    (queue_service.MINE, 0, 20),
    (None, 0, 2),
    (None, 1, 2),
    (None, 50, 20),  # a page past the end: the count alone
    (queue_service.TODO, 3, 2),
]


def _pages(agent, cases=CASES):
    return [
        ([tuple(r) for r in page.rows], int(page.total))
        for page in (queue_service.queue_page(agent, None, [], p, size, worklist=w) for w, p, size in cases)
    ]


@pytest.mark.parametrize("who", ["gironde", "oise", "national"])
def test_kept_pages_equal_fresh_ones(app, world, requests, monkeypatch, who):
    agent = world[who] if who == "national" else world[who]["agent"]
    kept, counts = _pages(agent), queue_service.worklist_counts(agent)
    _fresh(monkeypatch)
    assert kept == _pages(agent)
    assert counts == queue_service.worklist_counts(agent)


def test_each_agent_gets_its_own_caisse_and_requests_through_one_statement(app, world, requests):
    prebuilt._KEPT.clear()
    paul, oise_agent, admin = world["gironde"]["agent"], world["oise"]["agent"], world["gironde"]["admin"]
    gironde_ids = {r.id for r in requests["gironde"]}
    oise_ids = {r.id for r in requests["oise"]}
    page = queue_service.queue_page(paul, None, [], 0, 20)
    kept = len(prebuilt._KEPT)
    other = queue_service.queue_page(oise_agent, None, [], 0, 20)
    assert len(prebuilt._KEPT) == kept  # the same statement, run with OISE's caisse
    assert {r.id for r in page.rows} == gironde_ids and page.total == 7
    assert {r.id for r in other.rows} == oise_ids and other.total == 3
    mine = queue_service.queue_page(paul, None, [], 0, 20, worklist=queue_service.MINE)
    assert [r.status for r in mine.rows] == ["taken", "taken"]
    admins = queue_service.queue_page(admin, None, [], 0, 20, worklist=queue_service.MINE)
    assert [r.status for r in admins.rows] == ["message_sent"]
    assert queue_service.worklist_counts(paul) == {"todo": 4, "mine": 2}
    assert queue_service.worklist_counts(oise_agent) == {"todo": 2, "mine": 1}
    national = queue_service.queue_page(world["national"], None, [], 0, 20)
    assert national.total == 10
    assert queue_service.worklist_counts(world["national"]) == {"todo": 6}


def test_a_filtered_page_is_not_kept(app, world, requests):
    prebuilt._KEPT.clear()
    paul = world["gironde"]["agent"]
    page = queue_service.queue_page(paul, None, [Request.status == "taken"], 0, 20)
    assert {r.status for r in page.rows} == {"taken"} and page.total == 2
    assert prebuilt._KEPT == {}


def test_a_kept_statement_needs_the_agent_ids(app, world, requests):
    statement, values = prebuilt.statement(
        ("test",), lambda a: select(Request.id).where(Request.caisse_id == a.caisse_id), world["gironde"]["agent"]
    )
    assert values == {
        prebuilt.AGENT_ID: world["gironde"]["agent"].id,
        prebuilt.CAISSE_ID: world["gironde"]["caisse"].id,
    }
    with pytest.raises(StatementError):
        db.session.execute(statement).all()
    db.session.rollback()


def test_keyed_filters_are_kept_and_each_agent_gets_its_caisse(app, world, requests):
    prebuilt._KEPT.clear()
    paul, oise_agent = world["gironde"]["agent"], world["oise"]["agent"]

    def taken():
        return prebuilt.Conditions([Request.status == "taken"], ("test", "taken"))

    page = queue_service.queue_page(paul, None, taken(), 0, 20)
    kept = dict(prebuilt._KEPT)
    other = queue_service.queue_page(oise_agent, None, taken(), 0, 20)
    assert prebuilt._KEPT == kept and len(kept) == 1
    assert {r.id for r in page.rows} == {r.id for r in requests["gironde"] if r.status == "taken"}
    assert {r.id for r in other.rows} == {r.id for r in requests["oise"] if r.status == "taken"}
    assert (page.total, other.total) == (2, 1)


def test_the_queue_view_keys_its_timeless_filters_only(app, world):
    from backoffice.views.requests.filters import OverdueFilter

    view = next(v for v in app.extensions["ep_admin"]._views if v.endpoint == "requests")
    timeless = [i for i, f in enumerate(view._filters) if f.timeless]
    overdue = next(i for i, f in enumerate(view._filters) if isinstance(f, OverdueFilter))
    assert not view._filters[overdue].timeless
    status = next(i for i in timeless if view._filters[i].name == "Statut")
    with app.test_request_context("/admin/requests/"):
        keyed = view._conditions([(status, "statut", "new")])
        assert isinstance(keyed, prebuilt.Conditions)
        assert keyed == view._conditions([(status, "statut", "new")])
        assert keyed != view._conditions([(status, "statut", "closed")])
        assert not isinstance(
            view._conditions([(status, "statut", "new"), (overdue, "retard", "1")]), prebuilt.Conditions
        )
        assert view._conditions([]) == []


def test_filtered_pages_through_the_view_equal_fresh_ones(client, login, world, requests, monkeypatch):
    login("agent.gironde")
    paths = ["/admin/requests/?flt0_statut_est=taken", "/admin/requests/?flt0_statut_est=new,message_sent"]
    kept = [client.get(p).get_data(as_text=True).count('name="rowid"') for p in paths]
    kept += [client.get(p).get_data(as_text=True).count('name="rowid"') for p in paths]
    _fresh(monkeypatch)
    fresh = [client.get(p).get_data(as_text=True).count('name="rowid"') for p in paths]
    assert kept == fresh * 2 == [2, 4, 2, 4]
