"""The agent side of requests (R-BO-1..5, R-STA-3/4, SPEC §7): the work queue, the request screen,
attachments, e-mails, export and its audit, query counts, and concurrency on PostgreSQL."""

import csv
import html
import io
import json
import re
import threading
from datetime import date, timedelta

import pytest
import time_machine
from helpers import PASSWORD, TEST_DB, admin_view, page_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from backoffice.clock import now, to_paris, today
from backoffice.extensions import db
from backoffice.models import (
    Agent,
    Attachment,
    AuditEntry,
    OutboxMessage,
    PartnerAccount,
    PartnerRole,
    Request,
    RequestStatus,
    ServiceOffer,
    StagedUpload,
)
from backoffice.services import access, catalog, requests, structures
from backoffice.services.attachments import MAX_SIZE
from backoffice.services.errors import DomainError

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
QUEUE = "/admin/requests/"
NUMBER_RE = re.compile(r'class="font-weight-bold">(\d{10})</a>')


# --- fixtures and helpers ----------------------------------------------------------------------


def agent_client(app, username):
    """A fresh client logged in as this back-office user (one client per user)."""
    other = app.test_client()
    response = other.post_form("/admin/connexion", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return other


def offer(code) -> ServiceOffer:
    return db.session.query(ServiceOffer).filter_by(code=code).one()


def file_request(account, world, code="file_review", motive_index=0, keys=(), caisse="gironde", **extra) -> Request:
    """File through the service, as the portal does."""
    acc = access.access_for(account, world[caisse]["caisse"].id)
    o = offer(code)
    motives = requests.motives_for(acc.caisse.id, o)
    data = {
        "person_civility": "Madame",
        "person_last_name": "tutu",
        "person_first_name": "joséphine",
        "person_birth_date": date(1971, 10, 10),
        "person_birth_place": "44",
        "person_phone": "0700000000",
        "comment": "Demande de test",
        "appointment_modes": ["Physique"],
    }
    if code == "document":
        data["documents"] = [motives[motive_index].id]
    else:
        data["motive_id"] = motives[motive_index].id
    data.update(extra)
    return requests.file_request(account, acc, o, data, list(keys))


def file_at(moment, account, world, **kwargs) -> Request:
    with time_machine.travel(moment, tick=False):
        return file_request(account, world, **kwargs)


def queue_numbers(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return NUMBER_RE.findall(response.get_data(as_text=True))


def filter_arg(app, name: str, operation: str) -> str:
    view = admin_view(app, "requests")
    for key, (_idx, flt) in view._filter_args.items():
        if str(flt.name) == name and str(flt.operation()) == operation:
            return key
    raise AssertionError(f"no filter {name} {operation}: {list(view._filter_args)}")


def screen(request_id) -> str:
    return f"/admin/requests/traiter/?id={request_id}"


def outbox_for(email, kind=None) -> list[OutboxMessage]:
    query = db.session.query(OutboxMessage).filter_by(recipient=email)
    if kind:
        query = query.filter_by(kind=kind)
    return query.order_by(OutboxMessage.id).all()


def pdf_of(size: int) -> bytes:
    """A PDF of exactly `size` bytes: comment padding before the final %%EOF (which must stay last)."""
    head, tail = PDF[: -len(b"%%EOF\n")], b"%%EOF\n"
    return head + b"%" * (size - len(PDF)) + tail


def files(*items):
    return [(io.BytesIO(data), name) for name, data in items]


# --- the work queue: scoping -------------------------------------------------------------------


def test_oise_agent_gets_nothing_of_a_gironde_request(app, client, login, world, tech):
    uploads_keys = _stage_for(tech, [("releve.pdf", PDF)])
    req = file_request(tech, world, keys=uploads_keys)
    attachment = db.session.scalars(select(Attachment).where(Attachment.request_id == req.id)).one()

    login("agent.oise")
    assert req.number not in client.get(QUEUE).get_data(as_text=True)
    assert client.get(screen(req.id)).status_code == 404
    assert client.get(f"/admin/requests/pj/?id={attachment.id}").status_code == 404
    assert client.post_form("/admin/requests/prendre/", {"id": req.id}).status_code == 404
    assert client.post_form("/admin/requests/repondre/", {"id": req.id, "answer": "x"}).status_code == 404
    exported = client.get(QUEUE + "export/csv/").get_data(as_text=True)
    assert req.number not in exported and len(exported.strip().splitlines()) == 1
    assert db.session.get(Request, req.id).status == RequestStatus.NEW.value
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "attachment.download")) is None
    # The structure filter offers only the OISE agent's own partners.
    page = client.get(QUEUE).get_data(as_text=True)
    groups = json.loads(re.search(r'id="filter-groups-data" class="d-none">(.*?)</div>', page).group(1))
    structure_names = [label for _v, label in groups["Structure"][0]["options"]]
    assert structure_names == ["Association Oise"]

    # The GIRONDE agent and the national admin see it.
    for username in ("agent.gironde", "admin"):
        other = agent_client(app, username)
        assert queue_numbers(other.get(QUEUE)) == [req.number]
        assert other.get(screen(req.id)).status_code == 200


def _stage_for(owner, items) -> list[str]:
    from backoffice.services import uploads

    keys, errors = uploads.stage_with_keys(owner, items)
    assert not errors
    return keys


# --- ordering, filters, search -----------------------------------------------------------------


def test_queue_order_new_oldest_first_then_newest(app, client, login, world, tech):
    g = world["gironde"]
    start = now()
    old_new = file_at(start - timedelta(days=3), tech, world)
    taken = file_at(start - timedelta(days=2), tech, world)
    recent_new = file_at(start - timedelta(days=1), tech, world)
    resolved = file_at(start - timedelta(hours=5), tech, world)
    requests.take_request(g["agent"], taken)
    requests.answer_request(g["agent"], resolved, "Réponse", [])

    login("agent.gironde")
    response = client.get(QUEUE)
    assert queue_numbers(response) == [old_new.number, recent_new.number, resolved.number, taken.number]
    # Each row opens the request screen.
    assert f'href="/admin/requests/traiter/?id={old_new.id}"' in response.get_data(as_text=True)
    # A clicked header still sorts (column 0 = number, ascending then descending).
    by_number = sorted([old_new.number, taken.number, recent_new.number, resolved.number])
    assert queue_numbers(client.get(QUEUE + "?sort=0")) == by_number
    assert queue_numbers(client.get(QUEUE + "?sort=0&desc=1")) == by_number[::-1]


def test_each_filter(app, client, login, world, tech):
    g = world["gironde"]
    other_structure = structures.create_structure(
        {
            "name": "CCAS de Mérignac",
            "type": "CCAS",
            "siret": "26600005800013",
            "address": "1 place",
            "postal_code": "33700",
            "city": "Mérignac",
            "member_count": 30,
        },
        g["admin"],
    )
    structures.create_convention(
        {
            "structure_id": other_structure.id,
            "start_date": today() - timedelta(days=10),
            "end_date": today() + timedelta(days=300),
            "service_offer_ids": [o.id for o in db.session.query(ServiceOffer)],
        },
        g["admin"],
    )
    other_tech = PartnerAccount(
        login="l.bernard",
        role=PartnerRole.TECHNICIAN.value,
        structure=other_structure,
        civility="Madame",
        usage_name="BERNARD",
        first_name="Lucie",
        function="Assistante",
        phone="05.56.00.00.00",
        email="lucie@example.fr",
    )
    db.session.add(other_tech)
    db.session.commit()
    start = now()
    review = file_at(start - timedelta(days=3), tech, world, code="file_review", motive_index=1)
    document = file_at(start - timedelta(days=10), tech, world, code="document")
    contact = file_at(start - timedelta(hours=3), other_tech, world, code="contact")
    requests.take_request(g["agent"], document)

    login("agent.gironde")

    def listed(name, operation, value):
        return set(queue_numbers(client.get(QUEUE + f"?flt0_{filter_arg(app, name, operation)}={value}")))

    assert listed("Statut", "est", "taken") == {document.number}
    assert listed("Statut", "est", "new") == {review.number, contact.number}
    assert listed("Offre de service", "est", offer("contact").id) == {contact.number}
    assert listed("Motif", "est", review.motive_id) == {review.number}
    assert listed("Structure", "est", other_structure.id) == {contact.number}
    assert listed("Structure", "est", g["structure"].id) == {review.number, document.number}
    assert listed("En retard (plus de 48 h)", "est", "1") == {review.number}
    assert listed("En retard (plus de 48 h)", "est", "0") == {document.number, contact.number}
    day = lambda moment: to_paris(moment).date().isoformat()  # noqa: E731 - the filter takes Paris days
    assert listed(
        "Date de dépôt", "entre", f"{day(start - timedelta(days=4))}+to+{day(start - timedelta(days=2))}"
    ) == {review.number}
    assert listed("Date de dépôt", "à partir du", day(start - timedelta(days=4))) == {review.number, contact.number}
    assert listed("Date de dépôt", "jusqu'au", day(start - timedelta(days=5))) == {document.number}
    # Filters combine.
    both = QUEUE + (
        f"?flt0_{filter_arg(app, 'Statut', 'est')}=new&flt1_{filter_arg(app, 'Structure', 'est')}={g['structure'].id}"
    )
    assert queue_numbers(client.get(both)) == [review.number]
    # The motive and structure filter options are the caisse's.
    page = client.get(QUEUE).get_data(as_text=True)
    groups = json.loads(re.search(r'id="filter-groups-data" class="d-none">(.*?)</div>', page).group(1))
    assert sorted(label for _v, label in groups["Structure"][0]["options"]) == [
        "Association Gironde",
        "CCAS de Mérignac",
    ]
    assert any(label.startswith("Saisine mission accompagnement santé") for _v, label in groups["Motif"][0]["options"])


def test_filter_options_follow_every_change_of_what_they_list(app, client, login, world, count_queries):
    """The queue's filter options are kept per worker under the caisse's options stamp
    (services/caisse_cache): a second page reads them from memory, and every change of what they
    list — a new convention, a structure renamed, the caisse's motives, the catalogue, a convention
    moved to another caisse — shows on the very next page; another caisse's changes keep the cache."""
    g, o = world["gironde"], world["oise"]
    national = db.session.scalar(select(Agent).where(Agent.caisse_id.is_(None)))

    def options():
        page = client.get(QUEUE).get_data(as_text=True)
        groups = json.loads(re.search(r'id="filter-groups-data" class="d-none">(.*?)</div>', page).group(1))
        return {
            name: sorted(label for _v, label in groups[name][0]["options"])
            for name in ("Structure", "Motif", "Offre de service")
        }

    login("agent.gironde")
    assert options()["Structure"] == ["Association Gironde"]
    with count_queries() as cached:
        options()
    assert not any("structure.name" in statement for statement in cached), "the options were read again"

    mérignac = structures.create_structure(
        {
            "name": "CCAS de Mérignac",
            "type": "CCAS",
            "siret": "26600005800013",
            "address": "1 place",
            "postal_code": "33700",
            "city": "Mérignac",
            "member_count": 30,
        },
        g["admin"],
    )
    assert options()["Structure"] == ["Association Gironde"]  # no convention yet: not the caisse's
    convention = structures.create_convention(
        {
            "structure_id": mérignac.id,
            "start_date": today(),
            "end_date": today() + timedelta(days=300),
            "service_offer_ids": [o_.id for o_ in db.session.query(ServiceOffer)],
        },
        g["admin"],
    )
    assert options()["Structure"] == ["Association Gironde", "CCAS de Mérignac"]

    data = {k: getattr(mérignac, k) for k in ("type", "siret", "address", "postal_code", "city", "member_count")}
    structures.update_structure(mérignac, {**data, "name": "CCAS de Mérignac-Centre"}, g["admin"])
    assert options()["Structure"] == ["Association Gironde", "CCAS de Mérignac-Centre"]

    # Another caisse's change keeps GIRONDE's stamp (and its cache entry).
    stamp = db.session.get(type(g["caisse"]), g["caisse"].id).options_stamp
    structures.create_structure(
        {
            "name": "Association Oise Bis",
            "type": "Association",
            "siret": "73282932000074",
            "address": "2 rue",
            "postal_code": "60000",
            "city": "Beauvais",
            "member_count": 10,
        },
        o["admin"],
    )
    oise_structure = o["structure"]
    db.session.expire_all()
    assert db.session.get(type(g["caisse"]), g["caisse"].id).options_stamp == stamp
    assert oise_structure.name not in options()["Structure"]

    offer_ = offer("contact")
    catalog.set_caisse_catalog(g["caisse"].id, {offer_.id}, {offer_.motives[0].id}, g["admin"])
    assert options()["Motif"] == [f"{offer_.motives[0].label} ({offer_.label})"]

    offer_.label = "Contact renommé"
    db.session.commit()
    assert "Contact renommé" in options()["Offre de service"]

    # The national admin moves the convention to OISE: it leaves GIRONDE's options.
    data = {
        "caisse_id": o["caisse"].id,
        "start_date": convention.start_date,
        "end_date": convention.end_date,
        "manager_cap": convention.manager_cap,
        "technician_cap": convention.technician_cap,
        "service_offer_ids": [o_.id for o_ in convention.service_offers],
    }
    structures.update_convention(convention, data, national)
    assert options()["Structure"] == ["Association Gironde"]


def test_queue_rows_show_current_labels(app, client, login, world, tech):
    """A row's offer, motive and structure labels come by id from the caisse's cached choices: a
    renamed structure shows at once, and a motive the caisse stopped offering keeps its label."""
    g = world["gironde"]
    req = file_request(tech, world, code="file_review")
    login("agent.gironde")

    def cells():
        page = client.get(QUEUE).get_data(as_text=True)
        return {
            name: html.unescape(re.search(rf'<td class="col-{name}">(.*?)</td>', page).group(1))
            for name in ("service_offer", "motive", "structure")
        }

    assert cells() == {
        "service_offer": req.service_offer.label,
        "motive": req.motive.label,
        "structure": "Association Gironde",
    }
    structure = g["structure"]
    data = {k: getattr(structure, k) for k in ("type", "siret", "address", "postal_code", "city", "member_count")}
    structures.update_structure(structure, {**data, "name": "Association Gironde Solidaire"}, g["admin"])
    assert cells()["structure"] == "Association Gironde Solidaire"
    other = offer("contact")
    catalog.set_caisse_catalog(g["caisse"].id, {other.id}, {other.motives[0].id}, g["admin"])
    assert cells()["motive"] == req.motive.label


def test_search_first_names_name_orders_accents_and_case(app, client, login, world, tech):
    """Issue 13: first names; « NOM Prénom » and « Prénom NOM »; neither accents nor case matter."""
    rosalie = file_request(
        tech, world, person_last_name="LAFLEUR", person_first_name="Rosalie", person_civility="Madame"
    )
    other = file_request(tech, world, person_last_name="ROSAL", person_first_name="Élie", person_civility="Monsieur")
    login("agent.gironde")
    for term in (
        "rosalie",
        "Rosalie",
        "LAFLEUR+Rosalie",
        "Rosalie+LAFLEUR",
        "lafleur+ROSALIE",
        "rosalíe",
        "%5Elafleur",
    ):
        assert queue_numbers(client.get(QUEUE + f"?search={term}")) == [rosalie.number], term
    assert queue_numbers(client.get(QUEUE + "?search=elie")) == [other.number]
    assert set(queue_numbers(client.get(QUEUE + "?search=rosal"))) == {rosalie.number, other.number}
    structure = world["gironde"]["structure"]
    structure.name = "Association Solidarité Gironde"
    db.session.commit()
    for term in ("solidarite", "SOLIDARITÉ", "Solidarité"):
        assert set(queue_numbers(client.get(QUEUE + f"?search={term}"))) == {rosalie.number, other.number}, term
    assert queue_numbers(client.get(QUEUE + "?search=solidarite+rosalie")) == [rosalie.number]


def test_search_number_person_structure(app, client, login, world, tech):
    first = file_request(tech, world, person_last_name="prince", person_first_name="marius", person_civility="Monsieur")
    second = file_request(tech, world)
    login("agent.gironde")
    assert queue_numbers(client.get(QUEUE + f"?search={second.number}")) == [second.number]
    assert queue_numbers(client.get(QUEUE + "?search=prince")) == [first.number]
    assert set(queue_numbers(client.get(QUEUE + "?search=Gironde"))) == {first.number, second.number}
    assert queue_numbers(client.get(QUEUE + "?search=inconnu")) == []
    # Any case; words combine (each must match somewhere); "^" starts with, "=" equals.
    assert set(queue_numbers(client.get(QUEUE + "?search=gironde"))) == {first.number, second.number}
    assert queue_numbers(client.get(QUEUE + "?search=PRINCE+gironde")) == [first.number]
    assert queue_numbers(client.get(QUEUE + "?search=prince+inconnu")) == []
    assert queue_numbers(client.get(QUEUE + "?search=%5Eprin")) == [first.number]
    assert queue_numbers(client.get(QUEUE + "?search=%5Erince")) == []
    assert queue_numbers(client.get(QUEUE + f"?search=%3D{second.number}")) == [second.number]
    # Another caisse's request whose person or structure matches stays out of GIRONDE's queue.
    oise_tech = PartnerAccount(
        login="o.tech",
        role=PartnerRole.TECHNICIAN.value,
        structure=world["oise"]["structure"],
        civility="Madame",
        usage_name="OISE",
        first_name="Odile",
        function="Bénévole",
        phone="07.00.00.00.01",
        email="odile@example.fr",
    )
    db.session.add(oise_tech)
    db.session.commit()
    elsewhere = file_request(oise_tech, world, caisse="oise", person_last_name="prince")
    assert queue_numbers(client.get(QUEUE + "?search=prince")) == [first.number]
    assert queue_numbers(client.get(QUEUE + "?search=Oise")) == []
    assert queue_numbers(client.get(QUEUE + f"?search={elsewhere.number}")) == []


TRICKY_NAMES = [
    "MARTIN",
    "MARTINEZ",
    "LEFÈVRE",
    "LEFEVRE",
    "DE LA FONTAINE",
    "O'BRIEN",
    "JEAN-PIERRE",
    "ÉLODIE",
    "STRAßE",
    "İNCE",
    "\u212aLEIN",
    "N'DIAYE",
    "PICHON",
]
TRICKY_TERMS = [
    "martin",
    "ARTIN",
    "tinez",
    "fèvre",
    "FEVRE",
    "èvre",
    "la+font",
    "o'b",
    "brien",
    "ean-pi",
    "%tin",
    "m_rtin",
    "%5Emart",
    "%3Dmartin",
    "ÉLO",
    "élodie",
    "lo",
    "strasse",
    "straße",
    "ince",
    "klein",
    "KLEIN",
    "n'di",
    "l_op",
    "100%25",
    "%25mar",
    "26",
    "chon+pic",
    "association",
    "gironde+martin",
    "xyz",
]


def test_search_finds_what_ilike_finds(app, client, login, world, tech):
    """The search answers as LIKE on the number, the person's folded name and the structure's folded
    name does (backoffice/folding.py: the words folded the same way) — on PostgreSQL an agent's search is first narrowed by its caisse's trigram keys
    (ix_request_search_keys): wildcards, accents, case folding and apostrophes must not lose a row."""
    from urllib.parse import unquote_plus

    from flask_admin.contrib.sqla.tools import parse_like_term
    from sqlalchemy import and_, or_

    from backoffice.folding import fold
    from backoffice.models import Structure

    g = world["gironde"]
    for name in TRICKY_NAMES:
        for caisse in ("gironde", "oise"):
            account = tech if caisse == "gironde" else make_oise_technician(world)
            file_request(account, world, caisse=caisse, person_last_name=name)
    login("agent.gironde")
    for term in TRICKY_TERMS:
        words = [word for word in unquote_plus(term).split(" ") if word]
        expected = set(
            db.session.scalars(
                select(Request.number)
                .join(Structure, Structure.id == Request.structure_id)
                .where(
                    Request.caisse_id == g["caisse"].id,
                    and_(
                        *(
                            or_(Request.number.like(p), Request.person_search.like(p), Structure.search_name.like(p))
                            for p in map(fold, map(parse_like_term, words))
                        )
                    ),
                )
            )
        )
        assert set(queue_numbers(client.get(QUEUE + f"?search={term}&page_size=100"))) == expected, term
    # The terms reached both kinds of answers: some rows, and none.
    assert queue_numbers(client.get(QUEUE + "?search=martin&page_size=100"))
    assert queue_numbers(client.get(QUEUE + "?search=xyz")) == []


def make_oise_technician(world):
    account = db.session.scalar(select(PartnerAccount).where(PartnerAccount.login == "o.search"))
    if account is None:
        account = PartnerAccount(
            login="o.search",
            role=PartnerRole.TECHNICIAN.value,
            structure=world["oise"]["structure"],
            civility="Madame",
            usage_name="OISE",
            first_name="Odile",
            function="Bénévole",
            phone="07.00.00.00.02",
            email="odile.search@example.fr",
        )
        db.session.add(account)
        db.session.commit()
    return account


@pytest.mark.skipif(TEST_DB != "postgresql", reason="ep_search_keys is PostgreSQL's (pg_trgm): runs in the PG leg")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.text(alphabet="aAbBeEéÉèÈçÇßİıKkK'- _%0123456789xXyYzZ", min_size=1, max_size=14),
    start=st.integers(0, 14),
    length=st.integers(1, 8),
    upper=st.booleans(),
)
def test_search_keys_are_held_by_every_matching_row(app, name, start, length, upper):
    """search_keys(caisse, pattern) ⊆ ep_search_keys(caisse, number, person_search) whenever the
    folded name matches the folded pattern (LIKE, as services/queue.search_conditions matches:
    both sides folded by backoffice/folding.fold), for names and substrings of letters with and
    without accents, case-folding oddities (ß, İ, the Kelvin sign), apostrophes, hyphens, spaces
    and LIKE wildcards."""
    from sqlalchemy import ARRAY, Text, bindparam, func, literal

    from backoffice.folding import fold
    from backoffice.models.requests import search_keys

    part = name[start : start + length] or name
    pattern = fold(f"%{part.upper() if upper else part.lower()}%")
    stored = fold(name)
    keys = search_keys(7, pattern)
    matches, held = db.session.execute(
        select(
            literal(stored).like(pattern),
            func.ep_search_keys(7, "2633100001", stored).op("@>")(bindparam(None, keys, type_=ARRAY(Text))),
        )
    ).one()
    assert held or not matches, (name, stored, pattern, keys)


def test_time_left_and_overdue_at_the_48_hour_boundary(app, client, login, world, tech):
    deposited = now() - timedelta(days=5)
    req = file_at(deposited, tech, world)
    overdue = filter_arg(app, "En retard (plus de 48 h)", "est")

    def row_label(moment):
        with time_machine.travel(moment, tick=False):
            agent = agent_client(app, "agent.gironde")
            page = agent.get(QUEUE).get_data(as_text=True)
            late = queue_numbers(agent.get(QUEUE + f"?flt0_{overdue}=1"))
            return page_text(page), late

    text, late = row_label(deposited + timedelta(hours=36))
    assert "reste 12h" in text and late == []
    text, late = row_label(deposited + timedelta(hours=48) - timedelta(seconds=1))
    assert "reste 1 min" in text and "en retard" not in text and late == []
    text, late = row_label(deposited + timedelta(hours=48) + timedelta(seconds=1))
    assert "en retard de 1 min" in text and late == [req.number]
    text, late = row_label(deposited + timedelta(hours=51, minutes=30))
    assert "en retard de 3h" in text and late == [req.number]
    # Once taken, no time is shown.
    requests.take_request(world["gironde"]["agent"], req)
    text, _late = row_label(deposited + timedelta(hours=60))
    assert "en retard" not in text and "reste" not in text


# --- export ------------------------------------------------------------------------------------


def test_export_csv_and_xlsx_of_the_filtered_list_are_audited(app, client, login, world, tech):
    import openpyxl

    kept = file_request(tech, world, person_last_name="prince", person_first_name="marius")
    taken = file_request(tech, world)
    requests.take_request(world["gironde"]["agent"], taken)
    login("agent.gironde")
    status = filter_arg(app, "Statut", "est")

    response = client.get(QUEUE + f"export/csv/?flt0_{status}=new")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["N° de demande", "Date de dépôt", "Offre de service"]
    assert len(rows) == 2 and rows[1][0] == kept.number
    assert "Madame PRINCE Marius" in rows[1] and "Nouveau" in rows[1] and "CHAUSSON Victor" in rows[1]
    assert re.match(r"\d{2}/\d{2}/\d{4} \d{2}h\d{2}min$", rows[1][1])

    response = client.get(QUEUE + "export/xlsx/?search=" + taken.number)
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(values) == 2 and values[1][0] == taken.number and "Pris en charge" in values[1]

    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "request.export").order_by(AuditEntry.id)
    ).all()
    assert [(e.details["format"], e.details["rows"], e.actor_label) for e in entries] == [
        ("csv", 1, "agent.gironde"),
        ("xlsx", 1, "agent.gironde"),
    ]
    assert entries[0].details["filters"] == [{"filtre": "Statut", "opération": "est", "valeur": "new"}]
    assert entries[1].details["search"] == taken.number
    assert entries[0].caisse_id == world["gironde"]["caisse"].id


def test_export_query_count_does_not_grow_with_rows(app, client, login, world, tech, count_queries):
    # buffered=True: the streamed CSV is written inside the request, as a WSGI server does.
    login("agent.gironde")
    for _ in range(3):
        file_request(tech, world)
    with count_queries() as few:
        assert len(client.get(QUEUE + "export/csv/", buffered=True).get_data(as_text=True).splitlines()) == 4
    for _ in range(12):
        file_request(tech, world, code="document")
    with count_queries() as many:
        assert len(client.get(QUEUE + "export/csv/", buffered=True).get_data(as_text=True).splitlines()) == 16
    assert len(many) == len(few), many


def test_export_is_capped(app, client, login, world, tech, monkeypatch):
    for _ in range(3):
        file_request(tech, world)
    monkeypatch.setattr(admin_view(app, "requests"), "export_max_rows", 2)
    login("agent.gironde")
    rows = list(csv.reader(io.StringIO(client.get(QUEUE + "export/csv/").get_data(as_text=True))))
    assert len(rows) == 3
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "request.export"))
    assert entry.details["rows"] == 2 and entry.details["total"] == 3


# --- the request screen: take, answer, reply ---------------------------------------------------


def test_screen_shows_what_the_partner_sent(app, client, login, world, tech):
    keys = _stage_for(tech, [("bulletin_de_salaire.pdf", PDF)])
    saisine = requests.motives_for(world["gironde"]["caisse"].id, offer("difficulty"))
    motive_index = [m.label for m in saisine].index(requests.SAISINE_MOTIVE)
    req = file_request(
        tech,
        world,
        code="difficulty",
        motive_index=motive_index,
        keys=keys,
        consent=True,
        accompaniment=[requests.ACCOMPANIMENT[1]],
        care=[requests.CARE[4]],
        duration=requests.DURATION[1],
        causes=[requests.CAUSES[1]],
    )
    login("agent.gironde")
    text = page_text(client.get(screen(req.id)))
    for expected in (
        req.number,
        "Madame TUTU Joséphine",
        "10/10/1971",
        "07.00.00.00.00",
        "Demande de test",
        requests.SAISINE_MOTIVE,
        requests.CONSENT_TEXT,
        requests.ACCOMPANIMENT[1],
        requests.CARE[4],
        requests.DURATION[1],
        requests.CAUSES[1],
        "bulletin_de_salaire.pdf",
        "CHAUSSON Victor",
        "Association Gironde",
        "Historique de la demande",
        "Prendre en charge",
        "Répondre",
    ):
        assert expected in text, expected


def test_take_is_post_with_csrf_and_mails_the_technician(app, client, login, world, tech):
    req = file_request(tech, world)
    login("agent.gironde")
    assert client.get(screen(req.id)).status_code == 200
    assert client.get(f"/admin/requests/prendre/?id={req.id}").status_code == 405
    assert client.post("/admin/requests/prendre/", data={"id": req.id}).status_code == 400  # no CSRF token
    assert db.session.get(Request, req.id).status == RequestStatus.NEW.value
    assert outbox_for("v.chausson@example.fr") == []

    response = client.post_form("/admin/requests/prendre/", {"id": req.id}, follow_redirects=True)
    assert "Vous avez pris en charge la demande" in page_text(response)
    req = db.session.get(Request, req.id)
    assert req.status == RequestStatus.TAKEN.value and req.taken_by.username == "agent.gironde"
    [mail] = outbox_for("v.chausson@example.fr", "request_taken")
    assert f"votre demande N°{req.number} a été prise en charge" in mail.body_text
    assert "Paul GIRONDE (caisse)" in page_text(client.get(screen(req.id)))

    # A second agent is told who took it.
    client = agent_client(app, "admin.gironde")
    response = client.post_form("/admin/requests/prendre/", {"id": req.id}, follow_redirects=True)
    assert "Cette demande a déjà été prise en charge par Paul GIRONDE." in page_text(response)
    assert db.session.get(Request, req.id).taken_by.username == "agent.gironde"


def test_no_taken_mail_for_saisine_mission_accompagnement_sante(app, client, login, world, tech):
    motives = [m.label for m in requests.motives_for(world["gironde"]["caisse"].id, offer("difficulty"))]
    req = file_request(
        tech,
        world,
        code="difficulty",
        motive_index=motives.index(requests.SAISINE_MOTIVE),
        consent=True,
        accompaniment=[requests.ACCOMPANIMENT[0]],
    )
    login("agent.gironde")
    client.post_form("/admin/requests/prendre/", {"id": req.id})
    assert db.session.get(Request, req.id).status == RequestStatus.TAKEN.value
    assert outbox_for("v.chausson@example.fr") == []
    client.post_form("/admin/requests/repondre/", {"id": req.id, "answer": "Transmis à la mission."})
    assert [m.kind for m in outbox_for("v.chausson@example.fr")] == ["request_resolved"]


def test_answer_resolves_and_mails_the_15_days(app, client, login, world, tech):
    req = file_request(tech, world)
    login("agent.gironde")
    response = client.post_form(
        "/admin/requests/repondre/",
        {"id": req.id, "answer": "Prise en charge faite", "attachments": files(("attestation.pdf", PDF))},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "la demande est résolue" in page_text(response)
    req = db.session.get(Request, req.id)
    assert req.status == RequestStatus.RESOLVED.value and req.answer == "Prise en charge faite"
    assert [a.filename for a in requests.caisse_files(req)] == ["attestation.pdf"]
    [mail] = outbox_for("v.chausson@example.fr", "request_resolved")
    assert f"votre demande N°{req.number} est résolue" in mail.body_text
    assert "ils resteront visibles pendant 15 jours" in mail.body_text
    # Answering again is refused; the screen shows the answer and its file.
    response = client.post_form("/admin/requests/repondre/", {"id": req.id, "answer": "Encore"}, follow_redirects=True)
    assert "Cette demande a déjà reçu une réponse." in page_text(response)
    body = client.get(screen(req.id)).get_data(as_text=True)
    assert "Réponse de la caisse" in page_text(body) and "attestation.pdf" in body
    assert 'id="answer-form"' not in body and "Prendre en charge" not in body


def test_answer_text_5000_vs_5001_characters(app, client, login, world, tech):
    req = file_request(tech, world)
    login("agent.gironde")
    response = client.post_form("/admin/requests/repondre/", {"id": req.id, "answer": "x" * 5001})
    assert response.status_code == 400
    assert "La réponse ne doit pas dépasser 5000 caractères (5001 saisis)." in page_text(response)
    assert db.session.get(Request, req.id).status == RequestStatus.NEW.value
    response = client.post_form("/admin/requests/repondre/", {"id": req.id, "answer": ""})
    assert response.status_code == 400 and "Veuillez saisir la réponse." in page_text(response)
    client.post_form("/admin/requests/repondre/", {"id": req.id, "answer": "x" * 5000})
    assert db.session.get(Request, req.id).answer == "x" * 5000


def test_answer_with_8_files_and_9_files(app, client, login, world, tech):
    eight, nine = file_request(tech, world), file_request(tech, world)
    login("agent.gironde")
    response = client.post_form(
        "/admin/requests/repondre/",
        {"id": nine.id, "answer": "Neuf fichiers", "attachments": files(*[(f"p{i}.pdf", PDF) for i in range(9)])},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "Le fichier « p8.pdf » n'a pas été ajouté : 8 pièces jointes maximum." in page_text(response)
    assert "Pièces jointes déjà acceptées (8/8)" in page_text(response)
    assert db.session.get(Request, nine.id).status == RequestStatus.NEW.value
    body = response.get_data(as_text=True)
    assert "Neuf fichiers</textarea>" in body
    kept = re.findall(r'name="staged" value="([0-9a-f]{32})"', body)
    assert len(kept) == 8  # the first 8 are kept, the 9th is refused (issue 13 §7)
    # Sent again with the kept files, the answer goes through with 8.
    response = client.post_form("/admin/requests/repondre/", {"id": nine.id, "answer": "Neuf fichiers", "staged": kept})
    assert response.status_code == 302
    assert len(requests.caisse_files(db.session.get(Request, nine.id))) == 8

    response = client.post_form(
        "/admin/requests/repondre/",
        {"id": eight.id, "answer": "Huit fichiers", "attachments": files(*[(f"p{i}.pdf", PDF) for i in range(8)])},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert db.session.get(Request, eight.id).status == RequestStatus.RESOLVED.value
    assert len(requests.caisse_files(db.session.get(Request, eight.id))) == 8
    assert db.session.query(StagedUpload).count() == 0


def test_answer_file_of_5_mb_vs_5_mb_plus_one_byte(app, client, login, world, tech):
    req = file_request(tech, world)
    login("agent.gironde")
    response = client.post_form(
        "/admin/requests/repondre/",
        {
            "id": req.id,
            "answer": "Voici les documents",
            "attachments": files(("limite.pdf", pdf_of(MAX_SIZE)), ("trop.pdf", pdf_of(MAX_SIZE + 1))),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    text = page_text(response)
    assert "Le fichier « trop.pdf » est refusé : la taille d'une pièce jointe est limitée à 5 Mo." in text
    assert db.session.get(Request, req.id).status == RequestStatus.NEW.value
    body = response.get_data(as_text=True)
    assert "Voici les documents</textarea>" in body and "limite.pdf" in body
    [key] = re.findall(r'name="staged" value="([0-9a-f]{32})"', body)
    # Sending again with the kept file only: resolved with the 5 MB file.
    response = client.post_form(
        "/admin/requests/repondre/", {"id": req.id, "answer": "Voici les documents", "staged": key}
    )
    assert response.status_code == 302
    [attachment] = requests.caisse_files(db.session.get(Request, req.id))
    assert attachment.filename == "limite.pdf" and attachment.size == MAX_SIZE


def test_refused_file_by_content_keeps_the_answer(app, client, login, world, tech):
    req = file_request(tech, world)
    login("agent.gironde")
    response = client.post_form(
        "/admin/requests/repondre/",
        {"id": req.id, "answer": "Réponse", "attachments": files(("virus.pdf", b"MZ\x90\x00" + b"\x00" * 64))},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "« virus.pdf » est refusé : son contenu ne correspond pas à un fichier .pdf." in page_text(response)
    assert "Réponse</textarea>" in response.get_data(as_text=True)


def test_qr_exchange_reply_mails_and_the_4th_answer_closes(app, client, login, world, tech):
    req = file_request(tech, world)
    requests.answer_request(world["gironde"]["agent"], req, "Réponse initiale", [])
    login("agent.gironde")
    for round_ in range(1, 5):
        keys = _stage_for(tech, [(f"question{round_}.pdf", PDF)])
        requests.partner_message(tech, db.session.get(Request, req.id), f"Question {round_}", keys)
        text = page_text(client.get(screen(req.id)))
        assert f"Échanges : {round_}/4" in text and "J-15" in text and f"{round_}/8" in text
        assert f"Question {round_}" in text and f"question{round_}.pdf" in text
        assert "Répondre au message" in text
        assert client.get(f"/admin/requests/message/?id={req.id}").status_code == 405
        if round_ == 1:  # a refused file keeps the typed reply and changes nothing
            response = client.post_form(
                "/admin/requests/message/",
                {"id": req.id, "body": "Ma réponse", "reply_attachments": files(("script.csv", b"<script>x</script>"))},
                content_type="multipart/form-data",
            )
            assert response.status_code == 400 and "Ma réponse</textarea>" in response.get_data(as_text=True)
            assert "« script.csv » est refusé" in page_text(response)
            assert db.session.get(Request, req.id).status == RequestStatus.MESSAGE_SENT.value
        response = client.post_form(
            "/admin/requests/message/",
            {"id": req.id, "body": f"Réponse {round_}", "reply_attachments": files((f"reponse{round_}.pdf", PDF))},
            content_type="multipart/form-data",
        )
        assert response.status_code == 302
        req = db.session.get(Request, req.id)
        expected = RequestStatus.CLOSED if round_ == 4 else RequestStatus.MESSAGE_RECEIVED
        assert req.status == expected.value
    assert len(outbox_for("v.chausson@example.fr", "exchange_answer")) == 4
    mail = outbox_for("v.chausson@example.fr", "exchange_answer")[0]
    assert f"la caisse a répondu à votre message concernant la demande N°{req.number}" in mail.body_text
    text = page_text(client.get(screen(req.id)))
    assert "Répondre au message" not in text and "Clôturé" in text and "reponse4.pdf" in text
    # Nothing waits for an answer: a reply is refused.
    response = client.post_form("/admin/requests/message/", {"id": req.id, "body": "Encore"}, follow_redirects=True)
    assert "Aucun message du partenaire n'attend de réponse." in page_text(response)


def test_attachment_download_headers_audit_and_purge(app, client, login, world, tech):
    keys = _stage_for(tech, [("Relevé <b>été.pdf", PDF)])
    req = file_request(tech, world, keys=keys)
    [attachment] = requests.partner_files(req)
    login("agent.gironde")
    response = client.get(f"/admin/requests/pj/?id={attachment.id}")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/pdf"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "attachment.download"))
    assert entry.actor_label == "agent.gironde" and entry.details["number"] == req.number
    assert entry.caisse_id == world["gironde"]["caisse"].id
    assert client.get("/admin/requests/pj/?id=abc").status_code == 404
    assert client.get(f"/admin/requests/pj/?id={attachment.id + 1000}").status_code == 404
    # Purged: listed as such, no longer downloadable.
    attachment = db.session.get(Attachment, attachment.id)
    attachment.purged_at = now()
    attachment.content = None
    db.session.commit()
    assert client.get(f"/admin/requests/pj/?id={attachment.id}").status_code == 404
    assert "supprimée le" in page_text(client.get(screen(req.id)))


def test_get_on_the_screen_changes_nothing(app, client, login, world, tech):
    req = file_request(tech, world)
    login("agent.gironde")
    before = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    for url in (
        screen(req.id),
        f"/admin/requests/prendre/?id={req.id}",
        f"/admin/requests/repondre/?id={req.id}&answer=x",
        f"/admin/requests/reattribuer/?id={req.id}",
        f"/admin/requests/note/?id={req.id}&body=x",
    ):
        client.get(url)
    assert db.session.get(Request, req.id).status == RequestStatus.NEW.value
    # Only the reading of the screen is written: the audit of personal data read (request.view).
    added = db.session.scalars(select(AuditEntry.action).where(AuditEntry.id > before)).all()
    assert added == ["request.view"]
    assert client.get("/admin/requests/new/").status_code in (302, 403, 404)
    assert db.session.query(Request).count() == 1


def test_partner_accounts_and_anonymous_are_kept_out(app, client, world, tech):
    from helpers import login_partner

    req = file_request(tech, world)
    assert client.get(QUEUE).status_code == 302
    assert client.get(screen(req.id)).status_code == 302
    login_partner(client, tech)
    assert client.get(QUEUE).status_code == 403
    assert client.get(screen(req.id)).status_code == 403


# --- query count -------------------------------------------------------------------------------


def test_queue_query_count_does_not_grow_with_page_size(app, client, login, world, tech, count_queries):
    codes = ["contact", "difficulty", "appointment", "file_review", "document"]
    for i in range(50):
        file_request(tech, world, code=codes[i % 5], motive_index=i % 3)
    login("agent.gironde")
    client.get(QUEUE)  # warm-up (first-request caches)
    with count_queries() as small:
        assert len(queue_numbers(client.get(QUEUE + "?page_size=20"))) == 20
    with count_queries() as large:
        assert len(queue_numbers(client.get(QUEUE + "?page_size=50"))) == 50
    assert len(large) == len(small), (small, large)
    assert len(large) <= 12


# --- PostgreSQL: concurrency -------------------------------------------------------------------

pg_only = pytest.mark.skipif(
    TEST_DB != "postgresql", reason="real concurrency needs PostgreSQL (SQLite serialises writers): runs in the PG leg"
)


@pg_only
def test_20_parallel_filings_get_20_distinct_numbers(app, world, tech):
    tech_id, caisse_id = tech.id, world["gironde"]["caisse"].id
    offer_id = offer("file_review").id
    barrier = threading.Barrier(20)
    numbers, failures = [], []

    def worker():
        try:
            with app.app_context():
                account = db.session.get(PartnerAccount, tech_id)
                acc = access.access_for(account, caisse_id)
                o = db.session.get(ServiceOffer, offer_id)
                motive = requests.motives_for(caisse_id, o)[0]
                data = {
                    "person_civility": "Monsieur",
                    "person_last_name": "PRINCE",
                    "person_first_name": "Marius",
                    "person_birth_date": date(1980, 1, 1),
                    "person_birth_place": "33",
                    "person_phone": "0600000000",
                    "comment": "En parallèle",
                    "motive_id": motive.id,
                }
                # No connection held while waiting (20 threads, a pool of 15): the filing runs at once.
                db.session.commit()
                barrier.wait(timeout=30)
                numbers.append(requests.file_request(account, acc, o, data, []).number)
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(repr(exc))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    assert len(numbers) == 20 and len(set(numbers)) == 20
    year = f"{today().year % 100:02d}"
    assert sorted(numbers) == [f"{year}331{i:05d}" for i in range(1, 21)]


@pg_only
def test_two_agents_taking_at_once_exactly_one_wins(app, world, tech):
    req = file_request(tech, world)
    request_id = req.id
    agent_ids = [world["gironde"]["agent"].id, world["gironde"]["admin"].id]
    barrier = threading.Barrier(2)
    results: dict[int, str] = {}

    def worker(agent_id):
        with app.app_context():
            agent = db.session.get(Agent, agent_id)
            target = db.session.get(Request, request_id)
            barrier.wait(timeout=30)
            try:
                requests.take_request(agent, target)
                results[agent_id] = "won"
            except DomainError as exc:
                results[agent_id] = exc.message
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(a,)) for a in agent_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    db.session.expire_all()
    assert sorted(results.values()).count("won") == 1
    [loser_message] = [m for m in results.values() if m != "won"]
    winner = db.session.get(Request, request_id).taken_by
    assert loser_message == f"Cette demande a déjà été prise en charge par {winner.full_name}."
    assert winner.id == next(a for a, m in results.items() if m == "won")
    assert len(outbox_for("v.chausson@example.fr", "request_taken")) == 1
