"""Issue 13 §2 and §5: the worklists « À traiter » and « Mes demandes » next to « Toutes », their
counters (menu, home), the status, owner and caisse filters, the status order, the owner column,
the folded search, and the bulk « Prendre en charge » (service and HTTP)."""

import re
from datetime import timedelta

import pytest
from helpers import add_request, admin_view, location, page_text
from sqlalchemy import select

from backoffice.clock import now
from backoffice.demo import factories
from backoffice.extensions import db
from backoffice.models import Agent, Request, RequestStatus, StatusChange
from backoffice.services import caisses as caisse_service
from backoffice.services import queue as queue_service
from backoffice.services import requests as request_service
from backoffice.services.errors import DomainError
from backoffice.services.requests.bulk import take_requests

TODO, MINE, ALL = "/admin/a-traiter/", "/admin/mes-demandes/", "/admin/requests/"
NUMBER_RE = re.compile(r'class="font-weight-bold">(\d{10})</a>')


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return NUMBER_RE.findall(response.get_data(as_text=True))


def make(world, status=RequestStatus.NEW, age=timedelta(hours=1), owner=None, caisse="gironde", **fields) -> Request:
    """A request of the caisse deposited `age` ago, in `status`, owned by `owner`."""
    part = world[caisse]
    req = add_request(part["convention"], part["manager"], status)
    req.deposited_at = now() - age
    req.status_changed_at = req.deposited_at
    req.taken_by_agent_id = owner.id if owner is not None else None
    for name, value in fields.items():
        setattr(req, name, value)
    db.session.commit()
    return req


def colleague(world, username="agent2.gironde", first_name="Julie", last_name="FAURE") -> Agent:
    from helpers import PASSWORD

    from backoffice.services.passwords import hash_password

    agent = factories.agent(
        username,
        caisse=world["gironde"]["caisse"],
        first_name=first_name,
        last_name=last_name,
        password_hash=hash_password(PASSWORD),
    )
    db.session.commit()
    return agent


@pytest.fixture
def queue(world):
    """GIRONDE's queue: two « Nouveau » (one overdue), a « Message envoyé » waiting 2 days 3 hours,
    Paul's « Pris en charge », Julie's « Pris en charge », Paul's « Résolu », a « Clôturé », and an
    OISE « Nouveau »."""
    g = world["gironde"]
    paul, julie = g["agent"], colleague(world)
    rows = {
        "late": make(world, age=timedelta(days=3)),
        "new": make(world, age=timedelta(hours=2)),
        "message": make(world, RequestStatus.MESSAGE_SENT, age=timedelta(days=6), owner=paul),
        "paul": make(world, RequestStatus.TAKEN, age=timedelta(days=4), owner=paul),
        "julie": make(world, RequestStatus.TAKEN, age=timedelta(days=5), owner=julie),
        "resolved": make(world, RequestStatus.RESOLVED, age=timedelta(days=7), owner=paul),
        "closed": make(world, RequestStatus.CLOSED, age=timedelta(days=8), owner=paul),
        "oise": make(world, caisse="oise", age=timedelta(days=9)),
    }
    rows["message"].status_changed_at = now() - timedelta(days=2, hours=3, minutes=10)
    db.session.commit()
    return {**rows, "paul_agent": paul, "julie_agent": julie}


def n(queue, *keys) -> list[str]:
    return [queue[k].number for k in keys]


# --- the three lists ---------------------------------------------------------------------------


def test_a_traiter_lists_new_and_message_sent_oldest_first(client, login, world, queue):
    login("agent.gironde")
    response = client.get(TODO)
    assert numbers(response) == n(queue, "message", "late", "new")
    text = page_text(response)
    assert "Demandes - À traiter" in text
    assert "message en attente depuis 2 j 3 h" in text
    assert "en retard de 23h" in text or "en retard de 24h" in text
    # The overdue row is marked.
    html = response.get_data(as_text=True)
    assert re.search(r'text-danger font-weight-bold">en retard de 2[34]h<', html)


def test_mes_demandes_lists_what_i_own_and_still_handle(client, login, world, queue):
    login("agent.gironde")
    assert numbers(client.get(MINE)) == n(queue, "message", "paul")
    client.post_form("/admin/deconnexion")
    login("agent2.gironde")
    assert numbers(client.get(MINE)) == n(queue, "julie")


def test_toutes_keeps_the_whole_queue_at_its_url(client, login, world, queue):
    login("agent.gironde")
    assert numbers(client.get(ALL)) == n(queue, "late", "new", "paul", "julie", "message", "resolved", "closed")
    assert "Demandes - Toutes" in page_text(client.get(ALL))


def test_worklists_in_the_service(app, world, queue):
    paul = queue["paul_agent"]
    page = queue_service.queue_page(paul, None, [], 0, 20, worklist=queue_service.TODO)
    assert [r.number for r in page.rows] == n(queue, "message", "late", "new") and page.total == 3
    page = queue_service.queue_page(paul, None, [], 0, 2, worklist=queue_service.TODO)
    assert [r.number for r in page.rows] == n(queue, "message", "late") and page.total == 3
    page = queue_service.queue_page(paul, None, [], 1, 2, worklist=queue_service.TODO)
    assert [r.number for r in page.rows] == n(queue, "new")
    page = queue_service.queue_page(paul, None, [], 0, 20, worklist=queue_service.MINE)
    assert [r.number for r in page.rows] == n(queue, "message", "paul")
    julie = queue["julie_agent"]
    page = queue_service.queue_page(julie, None, [], 0, 20, worklist=queue_service.MINE)
    assert [r.number for r in page.rows] == n(queue, "julie")
    # A search inside a worklist keeps the worklist's order.
    page = queue_service.queue_page(paul, "26", [], 0, 20, worklist=queue_service.TODO)
    assert [r.number for r in page.rows] == n(queue, "message", "late", "new")


def test_counters_in_one_statement_and_capped(app, world, queue, count_queries, monkeypatch):
    paul = queue["paul_agent"]
    db.session.refresh(paul)  # loaded before counting
    with count_queries() as sent:
        counts = queue_service.worklist_counts(paul)
    assert counts == {"todo": 3, "mine": 2} and len(sent) == 1
    national = world["national"]
    assert queue_service.worklist_counts(national) == {"todo": 4}  # GIRONDE's 3 and OISE's 1
    monkeypatch.setattr(queue_service, "COUNT_CAP", 2)
    counts = queue_service.worklist_counts(paul)
    assert isinstance(counts["todo"], queue_service.CappedCount) and str(counts["todo"]) == "plus de 2"
    assert counts["mine"] == 2 and not isinstance(counts["mine"], queue_service.CappedCount)


def test_menu_and_home_show_the_counters(client, login, world, queue):
    login("agent.gironde")
    html = client.get(ALL).get_data(as_text=True)
    menu = page_text(html)
    assert "Demandes À traiter 3 Mes demandes 2 Toutes" in menu
    assert html.index("/admin/a-traiter/") < html.index("/admin/mes-demandes/") < html.index('href="/admin/requests/"')
    home = page_text(client.get("/admin/"))
    assert home.count("À traiter 3") == 2 and home.count("Mes demandes 2") == 2  # menu and home


def test_agent_lands_on_a_traiter_national_admin_on_the_home(client, login, world, queue):
    response = login("agent.gironde")
    assert location(response) == "/admin/arrivee/"
    assert location(client.get("/admin/arrivee/")) == TODO
    client.post_form("/admin/deconnexion")
    login("admin.gironde")
    assert location(client.get("/admin/arrivee/")) == TODO
    client.post_form("/admin/deconnexion")
    login("admin")
    assert location(client.get("/admin/arrivee/")) == "/admin/"
    # The national admin takes nothing: no « Mes demandes », no bulk take; an « Organisme » column.
    assert client.get(MINE).status_code == 403
    html = client.get(TODO).get_data(as_text=True)
    assert "Mes demandes" not in page_text(html) and 'name="rowid"' not in html
    assert numbers(client.get(TODO)) == n(queue, "oise", "message", "late", "new")
    assert '<td class="col-caisse">CPAM OISE</td>' in html


# --- filters, order, owner column ------------------------------------------------------------


def filter_key(app, name: str) -> str:
    view = admin_view(app, "requests")
    return next(key for key, (_i, flt) in view._filter_args.items() if str(flt.name) == name)


def test_status_filter_takes_several_values(app, client, login, world, queue):
    login("agent.gironde")
    key = filter_key(app, "Statut")
    assert key == "statut_est"
    assert set(numbers(client.get(f"{ALL}?flt0_{key}=taken,closed"))) == set(n(queue, "paul", "julie", "closed"))
    assert set(numbers(client.get(f"{ALL}?flt0_{key}=new"))) == set(n(queue, "late", "new"))
    # An unknown status: the filter is refused (a French message), the list is whole.
    response = client.get(f"{ALL}?flt0_{key}=taken,bogus")
    assert "n'est pas appliqué" in page_text(response) and len(numbers(response)) == 7
    # Inside a worklist.
    assert numbers(client.get(f"{TODO}?flt0_{key}=message_sent")) == n(queue, "message")


def test_owner_filter_and_column(app, client, login, world, queue):
    julie = queue["julie_agent"]
    key = filter_key(app, "Pris en charge par")
    login("admin.gironde")
    assert numbers(client.get(f"{ALL}?flt0_{key}={julie.id}")) == n(queue, "julie")
    page = client.get(ALL).get_data(as_text=True)
    assert '<td class="col-owner">Julie FAURE</td>' in page
    caisse_service.set_agent_active(julie, False, world["gironde"]["admin"])
    db.session.commit()
    page = client.get(ALL).get_data(as_text=True)
    assert '<td class="col-owner">Julie FAURE <span class="badge badge-warning">à réattribuer</span></td>' in page
    assert numbers(client.get(f"{ALL}?flt0_{key}=a_reattribuer")) == n(queue, "julie")
    # The options: the caisse's agents (the inactive ones last), then « À réattribuer »; never OISE's.
    import json

    groups = json.loads(re.search(r'id="filter-groups-data" class="d-none">(.*?)</div>', page).group(1))
    labels = [label for _v, label in groups["Pris en charge par"][0]["options"]]
    assert labels == ["Hélène GIRONDE", "Paul GIRONDE", "Julie FAURE", "À réattribuer"]
    assert "Organisme" not in groups


def test_owner_labels_follow_agent_changes(app, client, login, world, queue):
    login("agent.gironde")
    assert '<td class="col-owner">Julie FAURE</td>' in client.get(ALL).get_data(as_text=True)
    julie = db.session.get(Agent, queue["julie_agent"].id)
    caisse_service.update_agent(
        julie, {"first_name": "Juliette", "last_name": "FAURE", "email": "j@example.fr"}, world["gironde"]["admin"]
    )
    db.session.commit()
    assert '<td class="col-owner">Juliette FAURE</td>' in client.get(ALL).get_data(as_text=True)


def test_national_admin_filters_by_caisse(app, client, login, world, queue):
    login("admin")
    key = filter_key(app, "Organisme")
    oise = world["oise"]["caisse"]
    assert numbers(client.get(f"{ALL}?flt0_{key}={oise.id}")) == n(queue, "oise")


def test_sorting_by_status_follows_the_status_order(client, login, world, queue):
    login("agent.gironde")
    view_columns = [c for c, _n in admin_view(client.application, "requests")._list_columns]
    status = view_columns.index("status")
    listed = numbers(client.get(f"{ALL}?sort={status}"))
    statuses = [db.session.scalar(select(Request.status).where(Request.number == x)) for x in listed]
    order = [s.value for s in RequestStatus]
    assert statuses == sorted(statuses, key=order.index)
    assert statuses[0] == "new" and statuses[-1] == "closed"


# --- search ------------------------------------------------------------------------------------


def test_search_first_names_both_orders_accents_and_case(client, login, world, queue):
    rosalie = make(world, person_last_name="LAFLEUR", person_first_name="Rosalie", person_civility="Madame")
    make(world, person_last_name="ROSE", person_first_name="Marc")
    login("agent.gironde")
    for term in ("rosalie", "Rosalie", "LAFLEUR+Rosalie", "Rosalie+LAFLEUR", "ROSALIE", "lafleur"):
        assert numbers(client.get(f"{ALL}?search={term}")) == [rosalie.number], term
    # The structure's name, without accents or case (the fixture's is "Association Gironde").
    structure = world["gironde"]["structure"]
    structure.name = "Association Solidarité Gironde"
    db.session.commit()
    assert rosalie.number in numbers(client.get(f"{ALL}?search=solidarite&page_size=100"))
    assert rosalie.number in numbers(client.get(f"{ALL}?search=SOLIDARITÉ&page_size=100"))
    # In a worklist too.
    assert numbers(client.get(f"{TODO}?search=rosalie")) == [rosalie.number]
    assert "N° de demande, nom ou prénom de la personne, structure" in client.get(TODO).get_data(as_text=True)


# --- bulk take ---------------------------------------------------------------------------------


def test_bulk_take_in_the_service(app, world):
    g = world["gironde"]
    paul = g["agent"]
    julie = colleague(world)
    mine = [make(world) for _ in range(7)]
    taken_by_julie = make(world)
    request_service.take_request(julie, taken_by_julie)
    oise = make(world, caisse="oise")
    result = take_requests(paul, [r.id for r in mine] + [taken_by_julie.id, oise.id, 99999999])
    assert result.summary() == ("7 demandes prises en charge, 1 déjà prise par Julie FAURE, 2 introuvables")
    assert sorted(result.taken) == sorted(r.id for r in mine) and result.not_found == [oise.id, 99999999]
    db.session.expire_all()
    assert {db.session.get(Request, r.id).taken_by_agent_id for r in mine} == {paul.id}
    assert db.session.get(Request, oise.id).status == RequestStatus.NEW.value
    assert db.session.scalar(select(StatusChange).where(StatusChange.request_id == oise.id)) is None
    # Again: nothing taken, each owner listed.
    again = take_requests(julie, [r.id for r in mine] + [taken_by_julie.id])
    assert again.summary() == "0 demande prise en charge, 7 déjà prises par Paul GIRONDE, 1 déjà prise par Julie FAURE"
    # Singular and cancellations.
    cancelled = make(world, RequestStatus.CANCELLED)
    one = make(world)
    assert take_requests(paul, [one.id, cancelled.id]).summary() == (
        "1 demande prise en charge, 1 annulée par le partenaire"
    )
    with pytest.raises(DomainError):
        take_requests(world["national"], [one.id])


def test_bulk_take_over_http_and_double_submit(client, login, world):
    g = world["gironde"]
    julie = colleague(world)
    rows = [make(world, age=timedelta(hours=10 - i)) for i in range(8)]
    request_service.take_request(julie, rows[-1])
    login("agent.gironde")
    html = client.get(TODO).get_data(as_text=True)
    assert f'name="rowid" class="action-checkbox" value="{rows[0].id}"' in html
    assert 'data-model-action="take"' in html and "Prendre en charge" in html
    form = {"action": "take", "rowid": [str(r.id) for r in rows], "url": TODO}
    response = client.post_form(f"{TODO}action/", form)
    assert location(response) == TODO
    text = page_text(client.get(TODO))
    assert "7 demandes prises en charge, 1 déjà prise par Julie FAURE" in text
    assert numbers(client.get(MINE)) == [r.number for r in rows[:7]]
    # The same form posted again (a double submit).
    client.post_form(f"{TODO}action/", form)
    assert "0 demande prise en charge, 7 déjà prises par Paul GIRONDE, 1 déjà prise par Julie FAURE" in page_text(
        client.get(TODO)
    )
    # Without the CSRF token: refused, nothing taken.
    other = make(world)
    response = client.post(f"{TODO}action/", data={"action": "take", "rowid": [str(other.id)], "url": TODO})
    db.session.expire_all()
    assert db.session.get(Request, other.id).status == RequestStatus.NEW.value
    # The national admin's post is refused too.
    client.post_form("/admin/deconnexion")
    login("admin")
    client.post_form(f"{ALL}action/", {"action": "take", "rowid": [str(other.id)]})
    db.session.expire_all()
    assert db.session.get(Request, other.id).status == RequestStatus.NEW.value
    assert g["agent"].id != julie.id


def test_waiting_label_like_the_48_hour_target(app, world):
    from backoffice.views.requests.display import waiting_label

    def label(status, waited):
        req = Request(status=status.value, status_changed_at=now() - waited)
        return waiting_label(req)

    assert label(RequestStatus.MESSAGE_SENT, timedelta(days=2, hours=3, minutes=59)) == (
        "message en attente depuis 2 j 3 h"
    )
    assert label(RequestStatus.MESSAGE_SENT, timedelta(days=1, minutes=5)) == "message en attente depuis 1 j"
    assert label(RequestStatus.MESSAGE_SENT, timedelta(hours=5, minutes=1)) == "message en attente depuis 5 h"
    assert label(RequestStatus.MESSAGE_SENT, timedelta(minutes=12, seconds=30)) == "message en attente depuis 13 min"
    assert label(RequestStatus.MESSAGE_SENT, timedelta(0)) == "message en attente depuis 1 min"
    assert label(RequestStatus.TAKEN, timedelta(days=3)) == ""


def test_a_new_agent_joins_the_owner_options(app, client, login, world, queue):
    import json

    login("admin.gironde")

    def owner_labels():
        page = client.get(ALL).get_data(as_text=True)
        groups = json.loads(re.search(r'id="filter-groups-data" class="d-none">(.*?)</div>', page).group(1))
        return [label for _v, label in groups["Pris en charge par"][0]["options"]]

    assert "Marc NOUVEAU" not in owner_labels()
    caisse_service.create_agent(
        {"username": "m.nouveau", "first_name": "Marc", "last_name": "Nouveau", "email": "marc@example.fr"},
        world["gironde"]["admin"],
        "agent",
        None,
    )
    assert "Marc NOUVEAU" in owner_labels()
