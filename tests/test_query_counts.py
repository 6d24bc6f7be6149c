"""Issue 6: every list page runs a bounded number of SQL statements, the same for a short page of a
few rows as for a long page of many rows (no N+1 on relations, no per-row look-ups).

Each page is read twice after a warm-up: with few rows at the smallest page size, then with many
more rows at the largest page size. Not timed: the timings live in bench/ (bench/RESULTS.md).
"""

import re
from datetime import date, timedelta

import pytest
from helpers import enter, make_account
from sqlalchemy import func, select

from backoffice.clock import now, today
from backoffice.extensions import db
from backoffice.models import (
    AuditEntry,
    Convention,
    Motive,
    News,
    OutboxMessage,
    PartnerAccount,
    PartnerRole,
    Request,
    RequestStatus,
    ServiceOffer,
    Structure,
)
from backoffice.services import requests as request_service

MAX_STATEMENTS = 6  # the target, whatever the page size
STATUSES = [s.value for s in RequestStatus if s is not RequestStatus.CANCELLED]


ROW_MARKERS = {"/admin/": re.compile(r"<tr[ >]"), "/demandes": re.compile(r'href="/demandes/\d{10}"')}


def statements(client, count_queries, url: str, rows: int | None = None) -> list[str]:
    """The statements of one GET (after a warm-up GET, as a long-running worker would be); with
    rows, the page must list at least that many rows (the count is of a real, full page)."""
    assert client.get(url).status_code == 200, url
    with count_queries() as sent:
        response = client.get(url)
    assert response.status_code == 200, url
    if rows is not None:
        marker = next(m for prefix, m in ROW_MARKERS.items() if url.startswith(prefix))
        listed = len(marker.findall(response.get_data(as_text=True)))
        assert listed >= rows, f"{url} lists {listed} rows"
    return sent


def assert_bounded(small: list[str], large: list[str]) -> None:
    assert len(large) == len(small), "\n".join(["few rows:", *small, "", "many rows:", *large])
    assert len(large) <= MAX_STATEMENTS, "\n".join(large)


# --- seeding (plain rows: the services are tested elsewhere) ---------------------------------


_serial = {"n": 0}


def _next() -> int:
    _serial["n"] += 1
    return _serial["n"]


def add_structures(caisse, n: int, with_convention: bool = True) -> list[Structure]:
    offers = list(db.session.scalars(select(ServiceOffer)))
    created = []
    for _ in range(n):
        i = _next()
        structure = Structure(
            name=f"Structure {i:04d}",
            type="Association",
            siret=f"{i:014d}",
            address="1 rue Haute",
            postal_code="33000",
            city="Bordeaux",
            member_count=1 + i % 40,
            registered_by_caisse_id=caisse.id,
        )
        db.session.add(structure)
        if with_convention:
            db.session.add(
                Convention(
                    structure=structure,
                    caisse_id=caisse.id,
                    start_date=today() - timedelta(days=10),
                    end_date=today() + timedelta(days=200 + i),
                    service_offers=offers,
                )
            )
        created.append(structure)
    db.session.commit()
    return created


def add_managers(structures) -> None:
    for structure in structures:
        i = _next()
        db.session.add(
            PartnerAccount(
                login=f"g.manager{i}",
                role=PartnerRole.MANAGER.value,
                structure=structure,
                civility="Madame",
                usage_name=f"NOM{i}",
                first_name="Anne",
                function="Directrice",
                phone="05.56.00.00.00",
                email=f"g{i}@example.fr",
            )
        )
    db.session.commit()


def add_requests(caisse, structure, n: int, requester=None) -> None:
    """n requests of every offer, motive and status but 'Annulé', deposited over the last days."""
    convention = db.session.scalar(
        select(Convention).where(Convention.structure_id == structure.id, Convention.caisse_id == caisse.id)
    )
    motives = list(db.session.scalars(select(Motive).order_by(Motive.id)))
    for _ in range(n):
        i = _next()
        motive = motives[i % len(motives)]
        status = STATUSES[i % len(STATUSES)]
        deposited = now() - timedelta(hours=3 * i)
        db.session.add(
            Request(
                number=f"26{caisse.code}{i:05d}",
                caisse_id=caisse.id,
                structure_id=structure.id,
                convention_id=convention.id,
                service_offer_id=motive.service_offer_id,
                motive_id=motive.id,
                requester_account_id=requester.id if requester else None,
                requester_name="CHAUSSON Victor",
                person_civility="Madame",
                person_last_name=f"PERSONNE{i}",
                person_first_name="Anne",
                person_birth_date=date(1970, 1, 1),
                person_birth_place="33",
                person_phone="06.00.00.00.00",
                comment="Test",
                details={},
                status=status,
                deposited_at=deposited,
                status_changed_at=deposited,
            )
        )
    db.session.commit()


# --- the agent work queue ----------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "flt0_statut_est=new", "flt0_statut_est=closed", "search=PERSONNE"])
def test_work_queue(client, login, world, count_queries, query):
    g = world["gironde"]
    others = add_structures(g["caisse"], 2)
    add_requests(g["caisse"], g["structure"], 3)
    login("agent.gironde")
    small = statements(client, count_queries, f"/admin/requests/?page_size=20&{query}")
    for structure in [g["structure"], *others]:
        add_requests(g["caisse"], structure, 50)
    add_requests(world["oise"]["caisse"], world["oise"]["structure"], 20)  # another caisse's rows
    large = statements(client, count_queries, f"/admin/requests/?page_size=100&{query}", rows=20)
    assert_bounded(small, large)


def test_work_queue_second_page(client, login, world, count_queries):
    g = world["gironde"]
    add_requests(g["caisse"], g["structure"], 45)
    login("agent.gironde")
    small = statements(client, count_queries, "/admin/requests/?page=1&page_size=20")
    add_requests(g["caisse"], g["structure"], 250)
    large = statements(client, count_queries, "/admin/requests/?page=1&page_size=100", rows=100)
    assert_bounded(small, large)


def test_work_queue_pages_follow_the_queue_order(client, login, world):
    """The queue reads its pages in index order (services/queue.py): each page must be exactly the
    slice of the whole queue sorted by requests.queue_order (R-BO-1)."""
    g = world["gironde"]
    add_requests(g["caisse"], g["structure"], 130)
    login("agent.gironde")
    whole = list(
        db.session.scalars(
            select(Request.number).where(Request.caisse_id == g["caisse"].id).order_by(*request_service.queue_order())
        )
    )
    for page, size in ((0, 20), (1, 20), (2, 50), (1, 100), (6, 20)):
        body = client.get(f"/admin/requests/?page={page}&page_size={size}").get_data(as_text=True)
        listed = re.findall(r'class="font-weight-bold">(\d{10})</a>', body)
        assert listed == whole[page * size : (page + 1) * size], (page, size)


def test_work_queue_count_is_true_or_shown_as_more_than_the_cap(client, login, world, count_queries, monkeypatch):
    """The queue counts at most COUNT_CAP + 1 matches: up to the cap the count shown is exact, past
    it the page says "plus de N"; a filter with no match or a page past the end still answers,
    with the true count, in the same number of statements."""
    from backoffice.services import queue as queue_service

    monkeypatch.setattr(queue_service, "COUNT_CAP", 10)
    g = world["gironde"]
    add_requests(g["caisse"], g["structure"], 14)
    add_requests(world["oise"]["caisse"], world["oise"]["structure"], 5)  # another caisse's rows
    login("agent.gironde")
    listed = lambda body: re.findall(r'class="font-weight-bold">(\d{10})</a>', body)  # noqa: E731

    body = client.get("/admin/requests/").get_data(as_text=True)
    assert "Liste (plus de 10)" in body and len(listed(body)) == 14
    closed = db.session.scalar(
        select(func.count())
        .select_from(Request)
        .where(Request.caisse_id == g["caisse"].id, Request.status == RequestStatus.CLOSED.value)
    )
    assert 0 < closed <= 10
    body = client.get("/admin/requests/?flt0_statut_est=closed").get_data(as_text=True)
    assert f"Liste ({closed})" in body and len(listed(body)) == closed
    body = client.get("/admin/requests/?search=AUCUNEPERSONNE").get_data(as_text=True)
    assert listed(body) == [] and "Liste (" not in body
    # Past the last page, in the queue order or sorted by a column: no row carries the count, which
    # is then read on its own.
    body = client.get("/admin/requests/?page=3&page_size=20").get_data(as_text=True)
    assert listed(body) == [] and "Liste (plus de 10)" in body
    base = statements(client, count_queries, "/admin/requests/?sort=0")
    past = statements(client, count_queries, "/admin/requests/?sort=0&page=3&page_size=20")
    body = client.get("/admin/requests/?sort=0&page=3&page_size=20").get_data(as_text=True)
    assert listed(body) == [] and "Liste (plus de 10)" in body
    assert len(past) <= MAX_STATEMENTS and len(base) <= MAX_STATEMENTS


@pytest.mark.parametrize("cap", [1000, 10])
def test_searched_pages_follow_the_queue_order(client, login, world, monkeypatch, cap):
    """A search puts its matches in the queue order itself (services/queue.py, _searched_page), or
    past COUNT_CAP matches reads the page as an unsearched one: either way each page is exactly the
    slice of the matching requests sorted by requests.queue_order (R-BO-1)."""
    from backoffice.services import queue as queue_service

    monkeypatch.setattr(queue_service, "COUNT_CAP", cap)
    g = world["gironde"]
    add_requests(g["caisse"], g["structure"], 60)
    login("agent.gironde")
    whole = list(
        db.session.scalars(
            select(Request.number)
            .where(Request.caisse_id == g["caisse"].id, Request.person_last_name.like("PERSONNE1%"))
            .order_by(*request_service.queue_order())
        )
    )
    assert len(whole) > 10
    for page, size in ((0, 20), (1, 20), (0, 50), (3, 20)):
        body = client.get(f"/admin/requests/?search=personne1&page={page}&page_size={size}").get_data(as_text=True)
        listed = re.findall(r'class="font-weight-bold">(\d{10})</a>', body)
        assert listed == whole[page * size : (page + 1) * size], (page, size)
        assert (f"Liste ({len(whole)})" if len(whole) <= cap else f"Liste (plus de {cap})") in body


# --- the partner history -----------------------------------------------------------------------


@pytest.fixture
def technician(client, world):
    g = world["gironde"]
    account = make_account(g["structure"], "v.chausson", first_name="Victor", usage_name="CHAUSSON")
    enter(client, account, g["caisse"])
    return account


@pytest.mark.parametrize("query", ["", "status=closed", "person=PERSONNE", "sort=number&order=asc"])
def test_partner_history(client, world, technician, count_queries, query):
    g = world["gironde"]
    add_requests(g["caisse"], g["structure"], 3, requester=technician)
    small = statements(client, count_queries, f"/demandes?per_page=10&{query}")
    add_requests(g["caisse"], g["structure"], 120, requester=technician)
    add_requests(world["oise"]["caisse"], world["oise"]["structure"], 20)
    large = statements(client, count_queries, f"/demandes?per_page=50&{query}", rows=20)
    assert_bounded(small, large)
    # The selected caisse's conventions come with the account (services/auth.load_user).
    assert not [s for s in large if s.lstrip().startswith("SELECT convention.")], "\n".join(large)


def test_prefetched_conventions_serve_one_check_of_one_transaction(world, technician):
    """What load_user read for the access check serves that check only, within its transaction:
    the guard takes it (services/auth.prefetched_conventions) and hands it to access_for."""
    from backoffice.services import access, auth

    g = world["gironde"]
    caisse_id = g["caisse"].id
    assert access.access_for(technician, caisse_id) is not None
    assert access.access_for(technician, caisse_id, conventions=[]) is None  # a list handed over is used
    auth.hand_over_conventions(technician, caisse_id, [])  # as if the structure had no convention
    assert auth.prefetched_conventions(technician, world["oise"]["caisse"].id) is None  # another caisse's check
    prefetched = auth.prefetched_conventions(technician, caisse_id)
    assert prefetched == []
    assert access.access_for(technician, caisse_id, conventions=prefetched) is None  # the prefetched list was used…
    assert auth.prefetched_conventions(technician, caisse_id) is None  # …once
    assert access.access_for(technician, caisse_id) is not None
    auth.hand_over_conventions(technician, caisse_id, [])
    db.session.commit()
    assert auth.prefetched_conventions(technician, caisse_id) is None  # not past its transaction


def test_history_criteria_lists_follow_every_change_of_what_they_list(client, world, technician, count_queries):
    """The 'Demandeur', 'Offre de service' and 'Motif' lists are kept per worker under the caisse's
    options stamp: a second page reads them from memory, and a technician added, renamed,
    inactivated or deleted, or the caisse's motives changed, shows on the very next page."""
    from backoffice.models import PartnerAccount
    from backoffice.services import accounts, catalog, housekeeping

    g = world["gironde"]

    def lists():
        page = client.get("/demandes").get_data(as_text=True)
        requester = re.search(r'<select[^>]*name="requester".*?</select>', page, re.S).group(0)
        motive = re.search(r'<select[^>]*name="motive".*?</select>', page, re.S).group(0)
        return re.findall(r'<option value="\d+"[^>]*>([^<]*)</option>', requester), motive

    assert lists()[0] == ["CHAUSSON Victor"]
    with count_queries() as sent:
        lists()
    assert not [s for s in sent if "partner_account.first_name" in s and "UNION ALL" in s], "read again"

    pichon = make_account(g["structure"], "m.pichon", first_name="Maryse", usage_name="PICHON")
    assert lists()[0] == ["CHAUSSON Victor", "PICHON Maryse"]
    accounts.update_account(
        pichon,
        {
            "civility": pichon.civility,
            "usage_name": "PICHON-LEBLANC",
            "birth_name": "",
            "first_name": "Maryse",
            "function": pichon.function or "Bénévole",
            "phone": pichon.phone or "05.56.00.00.00",
            "email": pichon.email,
        },
        g["manager"],
        g["caisse"].id,
    )
    assert lists()[0] == ["CHAUSSON Victor", "PICHON-LEBLANC Maryse"]
    accounts.inactivate_account(pichon, g["manager"], g["caisse"].id)
    assert lists()[0] == ["CHAUSSON Victor", "PICHON-LEBLANC Maryse (inactif)"]
    pichon.inactivated_at = now() - timedelta(days=200)  # R-LIFE-2: deleted after 6 months
    db.session.commit()
    housekeeping.run()
    assert db.session.get(PartnerAccount, pichon.id) is None
    assert lists()[0] == ["CHAUSSON Victor"]

    offer = db.session.scalar(select(ServiceOffer).where(ServiceOffer.code == "file_review"))
    kept = offer.motives[0]
    catalog.set_caisse_catalog(g["caisse"].id, {offer.id}, {kept.id}, g["admin"])
    motive_options = re.findall(r'<option value="\d+"[^>]*>([^<]*)</option>', lists()[1])
    assert motive_options == [kept.label]


def test_partner_history_page_past_the_end(client, world, technician, count_queries):
    """A stale link to page 9 shows the last page: still within the bound."""
    g = world["gironde"]
    add_requests(g["caisse"], g["structure"], 3, requester=technician)
    small = statements(client, count_queries, "/demandes?per_page=10&page=9")
    add_requests(g["caisse"], g["structure"], 60, requester=technician)
    large = statements(client, count_queries, "/demandes?per_page=50&page=9", rows=10)
    assert_bounded(small, large)


# --- the Flask-Admin lists of the back-office --------------------------------------------------


def _seed_structures(world, n):
    add_structures(world["gironde"]["caisse"], n)
    add_structures(world["gironde"]["caisse"], max(n // 5, 1), with_convention=False)
    add_structures(world["oise"]["caisse"], n)  # never listed for GIRONDE


def _seed_managers(world, n):
    add_managers(add_structures(world["gironde"]["caisse"], n))
    add_managers(add_structures(world["oise"]["caisse"], 3))


def _seed_outbox(world, n):
    for caisse in (world["gironde"]["caisse"], world["oise"]["caisse"]):
        for _ in range(n):
            i = _next()
            db.session.add(
                OutboxMessage(
                    recipient=f"r{i}@example.fr",
                    subject=f"Objet {i}",
                    body_text="Bonjour",
                    body_html="<p>Bonjour</p>",
                    kind="welcome",
                    caisse_id=caisse.id,
                    headers={},
                )
            )
    db.session.commit()


def _seed_audit(world, n):
    for caisse in (world["gironde"]["caisse"], world["oise"]["caisse"]):
        for _ in range(n):
            i = _next()
            db.session.add(
                AuditEntry(
                    actor_type="agent",
                    actor_id=1,
                    actor_label=f"agent{i}",
                    caisse_id=caisse.id,
                    action="login.success",
                    target_type="Agent",
                    target_id=i,
                    details={"n": i},
                    ip="127.0.0.1",
                )
            )
    db.session.commit()


def _seed_news(world, n):
    for caisse in (world["gironde"]["caisse"], world["oise"]["caisse"]):
        for _ in range(n):
            i = _next()
            db.session.add(
                News(
                    caisse_id=caisse.id, title=f"Actualité {i}", body="Texte", publish_at=now() - timedelta(days=i % 5)
                )
            )
    db.session.commit()


@pytest.mark.parametrize(
    ("endpoint", "seed"),
    [
        ("structures", _seed_structures),
        ("conventions", _seed_structures),
        ("managers", _seed_managers),
        ("outbox", _seed_outbox),
        ("audit", _seed_audit),
        ("news", _seed_news),
    ],
)
@pytest.mark.parametrize("username", ["admin.gironde", "admin"])
def test_back_office_lists(client, login, world, count_queries, endpoint, seed, username):
    seed(world, 3)
    login(username)
    small = statements(client, count_queries, f"/admin/{endpoint}/?page_size=20")
    seed(world, 60)
    large = statements(client, count_queries, f"/admin/{endpoint}/?page_size=100", rows=60)
    assert_bounded(small, large)


# --- the worklists (issue 13), last: the serial numbers they use leave the tests above alone ----


@pytest.mark.parametrize(
    "url",
    ["/admin/a-traiter/", "/admin/mes-demandes/", "/admin/a-traiter/?search=PERSONNE", "/admin/requests/?search=anne"],
)
def test_worklists(client, login, world, count_queries, url):
    """« À traiter » and « Mes demandes » (issue 13), and a first-name search: the same bound, the
    menu's counters (one statement) included."""
    g = world["gironde"]
    add_requests(g["caisse"], g["structure"], 14)
    _own(g["agent"])
    login("agent.gironde")
    sep = "&" if "?" in url else "?"
    small = statements(client, count_queries, f"{url}{sep}page_size=20")
    add_requests(g["caisse"], g["structure"], 400)
    add_requests(world["oise"]["caisse"], world["oise"]["structure"], 20)
    _own(g["agent"])
    large = statements(client, count_queries, f"{url}{sep}page_size=100", rows=20)
    assert_bounded(small, large)


def _own(agent) -> None:
    """The agent owns every request of its caisse that has an owner's status."""
    db.session.execute(
        Request.__table__.update()
        .where(
            Request.caisse_id == agent.caisse_id,
            Request.status.in_(
                [RequestStatus.TAKEN.value, RequestStatus.MESSAGE_SENT.value, RequestStatus.RESOLVED.value]
            ),
        )
        .values(taken_by_agent_id=agent.id)
    )
    db.session.commit()
