"""Conventions: R-CONV-3 caps, R-CONV-4 state (time-machine), dates, list filter, offers, the caisse catalogue."""

import re
from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from helpers import count, field_errors, page_text
from sqlalchemy import select

from backoffice.clock import PARIS, today
from backoffice.extensions import db
from backoffice.models import (
    AuditEntry,
    CaisseMotive,
    CaisseOffer,
    Convention,
    ConventionState,
    ServiceOffer,
    Structure,
    manager_cap_for,
    technician_cap_for,
)
from backoffice.services import catalog, structures
from backoffice.services.errors import DomainError, ValidationFailed

START = date(2027, 3, 10)
END = date(2027, 9, 30)


def paris(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def offers() -> list[ServiceOffer]:
    return list(db.session.scalars(select(ServiceOffer).order_by(ServiceOffer.position)))


def new_structure(world, name: str, members: int = 8, key: str = "gironde") -> Structure:
    sirets = {
        "Alpha": "73282932000074",
        "Bravo": "44306184100047",
        "Charlie": "55208131766522",
        "Delta": "54205118000066",
        "Echo": "35600000000048",
        "Foxtrot": "35600000000030",
    }
    return structures.create_structure(
        {
            "name": name,
            "type": "Association",
            "siret": sirets[name],
            "address": "3 rue Sainte-Catherine",
            "postal_code": "33000",
            "city": "Bordeaux",
            "member_count": members,
        },
        world[key]["admin"],
    )


def new_convention(world, structure, start, end, key="gironde", **extra):
    return structures.create_convention(
        {
            "structure_id": structure.id,
            "start_date": start,
            "end_date": end,
            "service_offer_ids": [offers()[0].id],
            **extra,
        },
        world[key]["admin"],
    )


# --- R-CONV-3: caps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "members,managers,technicians",
    [
        (1, 2, 5),
        (10, 2, 5),
        (11, 3, 15),
        (25, 3, 15),
        (26, 5, 25),
        (1000, 5, 25),
    ],
)
def test_caps_follow_the_member_count_at_the_boundaries(members, managers, technicians):
    assert manager_cap_for(members) == managers
    assert technician_cap_for(members) == technicians


def test_a_recorded_cap_lowers_the_effective_cap_but_never_raises_it(world):
    convention = world["gironde"]["convention"]  # 8 members: 2 managers, 5 technicians
    assert (convention.effective_manager_cap, convention.effective_technician_cap) == (2, 5)
    convention.manager_cap, convention.technician_cap = 1, 3
    assert (convention.effective_manager_cap, convention.effective_technician_cap) == (1, 3)
    convention.manager_cap, convention.technician_cap = 4, 20  # set behind the service's back
    assert (convention.effective_manager_cap, convention.effective_technician_cap) == (2, 5)
    db.session.rollback()


def test_lower_cap_is_accepted_and_higher_cap_refused_by_the_service(world):
    structure = new_structure(world, "Alpha", members=11)  # 3 managers, 15 technicians
    convention = new_convention(world, structure, START, END, manager_cap=3, technician_cap=15)
    assert (convention.manager_cap, convention.technician_cap) == (3, 15)
    with pytest.raises(ValidationFailed) as refused:
        structures.update_convention(
            convention,
            {
                "start_date": START,
                "end_date": END,
                "service_offer_ids": [offers()[0].id],
                "manager_cap": 4,
                "technician_cap": 16,
            },
            world["gironde"]["admin"],
        )
    assert (
        refused.value.errors["manager_cap"]
        == "Le plafond de gestionnaires ne peut pas dépasser 3 pour une structure de 11 membre(s)."
    )
    assert (
        refused.value.errors["technician_cap"]
        == "Le plafond de techniciens ne peut pas dépasser 15 pour une structure de 11 membre(s)."
    )


def _convention_form(structure, start=START, end=END, offer_ids=None, **extra):
    return {
        "structure": str(structure.id),
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "service_offers": [str(i) for i in (offer_ids if offer_ids is not None else [offers()[0].id])],
        "manager_cap": "",
        "technician_cap": "",
        **extra,
    }


@pytest.mark.parametrize(
    "field,lower,higher,message",
    [
        (
            "manager_cap",
            "1",
            "3",
            "Le plafond de gestionnaires ne peut pas dépasser 2 pour une structure de 8 membre(s).",
        ),
        (
            "technician_cap",
            "5",
            "6",
            "Le plafond de techniciens ne peut pas dépasser 5 pour une structure de 8 membre(s).",
        ),
    ],
)
def test_convention_form_accepts_a_lower_cap_and_refuses_a_higher_one(
    client, world, login, field, lower, higher, message
):
    structure = new_structure(world, "Bravo")
    login("admin.gironde")
    response = client.post_form("/admin/conventions/new/", _convention_form(structure, **{field: higher}))
    assert response.status_code == 200
    assert message in field_errors(response, field)
    assert count(Convention, Convention.structure_id == structure.id) == 0
    response = client.post_form("/admin/conventions/new/", _convention_form(structure, **{field: lower}))
    assert response.status_code == 302
    convention = db.session.scalar(select(Convention).filter_by(structure_id=structure.id))
    assert getattr(convention, field) == int(lower)


def test_a_cap_of_zero_is_refused(client, world, login):
    structure = new_structure(world, "Bravo")
    login("admin.gironde")
    response = client.post_form("/admin/conventions/new/", _convention_form(structure, manager_cap="0"))
    assert response.status_code == 200
    assert "Le plafond doit être un entier supérieur ou égal à 1." in field_errors(response, "manager_cap")
    assert count(Convention, Convention.structure_id == structure.id) == 0


# --- R-CONV-4: state ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment,state",
    [
        (paris(START - timedelta(days=1)), ConventionState.UPCOMING),
        (paris(START - timedelta(days=1), 23, 59), ConventionState.UPCOMING),
        (paris(START, 0, 1), ConventionState.CURRENT),
        (paris(START + timedelta(days=1)), ConventionState.CURRENT),
        (paris(END - timedelta(days=30)), ConventionState.CURRENT),  # 30 days left: not "fewer than 30"
        (paris(END - timedelta(days=29)), ConventionState.ENDING),
        (paris(END - timedelta(days=1)), ConventionState.ENDING),
        (paris(END), ConventionState.ENDING),
        (paris(END, 23, 59), ConventionState.ENDING),
        (paris(END + timedelta(days=1), 0, 1), ConventionState.ENDED),  # still END in UTC: Paris dates rule
        (paris(END + timedelta(days=1)), ConventionState.ENDED),
    ],
)
def test_state_on_the_days_around_start_and_end(world, moment, state):
    convention = new_convention(world, new_structure(world, "Alpha"), START, END)
    with time_machine.travel(moment, tick=False):
        assert convention.state() is state
        assert convention.state_label == state.label


def test_state_labels_are_french():
    assert [s.label for s in ConventionState] == ["À venir", "En cours", "Arrive à échéance", "Terminée"]


def test_state_column_of_the_list_follows_the_date(client, world, login):
    convention = new_convention(world, new_structure(world, "Alpha"), START, END)
    expected = {
        paris(START - timedelta(days=1)): "À venir",
        paris(START): "En cours",
        paris(END - timedelta(days=29)): "Arrive à échéance",
        paris(END + timedelta(days=1)): "Terminée",
    }
    for moment, label in expected.items():
        with time_machine.travel(moment, tick=False):
            login("admin.gironde")
            page = client.get("/admin/conventions/").get_data(as_text=True)
            row = re.search(r"<tr>(?:(?!</tr>)[\s\S])*?Alpha(?:(?!</tr>)[\s\S])*</tr>", page).group(0)
            assert f">{label}</span>" in row, (moment, label)
    assert convention.id


def test_state_filter_of_the_list_view(client, world, login):
    frozen = paris(date(2027, 6, 15))
    with time_machine.travel(frozen, tick=False):
        day = today()
        new_convention(world, new_structure(world, "Alpha"), day + timedelta(days=1), day + timedelta(days=400))
        new_convention(world, new_structure(world, "Bravo"), day - timedelta(days=10), day + timedelta(days=30))
        new_convention(world, new_structure(world, "Charlie"), day - timedelta(days=10), day + timedelta(days=29))
        new_convention(world, new_structure(world, "Delta"), day - timedelta(days=10), day)
        new_convention(world, new_structure(world, "Echo"), day - timedelta(days=100), day - timedelta(days=1))
        new_convention(
            world,
            new_structure(world, "Foxtrot", key="oise"),
            day + timedelta(days=1),
            day + timedelta(days=9),
            key="oise",
        )
        login("admin.gironde")
        names = {"Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Association Gironde"}
        expected = {
            "upcoming": {"Alpha"},
            "current": {"Bravo", "Association Gironde"},
            "ending": {"Charlie", "Delta"},
            "ended": {"Echo"},
        }
        for value, shown in expected.items():
            page = page_text(client.get(f"/admin/conventions/?flt0_0={value}"))
            assert {n for n in names if n in page} == shown, value
        page = page_text(client.get("/admin/conventions/"))
        assert {n for n in names if n in page} == names - {"Foxtrot"}


# --- dates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("end", [START, START - timedelta(days=1)])
def test_end_date_must_be_after_start_date_on_the_form(client, world, login, end):
    structure = new_structure(world, "Alpha")
    login("admin.gironde")
    response = client.post_form("/admin/conventions/new/", _convention_form(structure, START, end))
    assert response.status_code == 200
    assert "La date de fin doit être postérieure à la date de début." in field_errors(response, "end_date")
    assert count(Convention, Convention.structure_id == structure.id) == 0
    response = client.post_form(
        "/admin/conventions/new/", _convention_form(structure, START, START + timedelta(days=1))
    )
    assert response.status_code == 302
    assert count(Convention, Convention.structure_id == structure.id) == 1


def test_end_after_start_is_also_a_database_constraint(world):
    from sqlalchemy.exc import IntegrityError

    db.session.add(
        Convention(
            structure_id=world["gironde"]["structure"].id,
            caisse_id=world["gironde"]["caisse"].id,
            start_date=START,
            end_date=START,
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_edit_form_refuses_an_end_before_the_start(client, world, login):
    convention = world["gironde"]["convention"]
    login("admin.gironde")
    response = client.post_form(
        f"/admin/conventions/edit/?id={convention.id}",
        {
            "start_date": START.isoformat(),
            "end_date": (START - timedelta(days=5)).isoformat(),
            "service_offers": [str(offers()[0].id)],
            "manager_cap": "",
            "technician_cap": "",
        },
    )
    assert response.status_code == 200
    assert "La date de fin doit être postérieure à la date de début." in field_errors(response, "end_date")
    assert db.session.get(Convention, convention.id).start_date != START


def test_overlapping_conventions_with_the_same_caisse_are_refused(world):
    structure = new_structure(world, "Alpha")
    new_convention(world, structure, START, END)
    with pytest.raises(DomainError) as refused:
        new_convention(world, structure, END, END + timedelta(days=100))
    assert refused.value.message == "Cette structure a déjà une convention avec l'organisme sur cette période."
    assert new_convention(world, structure, END + timedelta(days=1), END + timedelta(days=100)).id


# --- service offers ----------------------------------------------------------------------------------


def _reduce_catalogue(world, offer: ServiceOffer):
    catalog.set_caisse_catalog(
        world["gironde"]["caisse"].id, {offer.id}, {m.id for m in offer.motives}, world["gironde"]["admin"]
    )


def test_offers_must_be_among_the_caisse_s_catalogue(client, world, login):
    kept, dropped = offers()[0], offers()[1]
    _reduce_catalogue(world, kept)
    structure = new_structure(world, "Alpha")
    login("admin.gironde")
    response = client.post_form("/admin/conventions/new/", _convention_form(structure, offer_ids=[kept.id, dropped.id]))
    assert response.status_code == 200
    assert "Seules les offres de service proposées par l'organisme peuvent être ouvertes." in field_errors(
        response, "service_offers"
    )
    assert count(Convention, Convention.structure_id == structure.id) == 0
    response = client.post_form("/admin/conventions/new/", _convention_form(structure, offer_ids=[kept.id]))
    assert response.status_code == 302
    convention = db.session.scalar(select(Convention).filter_by(structure_id=structure.id))
    assert [o.id for o in convention.service_offers] == [kept.id]


def test_a_convention_needs_at_least_one_offer(client, world, login):
    structure = new_structure(world, "Alpha")
    login("admin.gironde")
    response = client.post_form("/admin/conventions/new/", _convention_form(structure, offer_ids=[]))
    assert response.status_code == 200
    assert "Sélectionnez de 1 à 5 offres de service pour cette convention." in field_errors(response, "service_offers")
    assert count(Convention, Convention.structure_id == structure.id) == 0


def test_all_five_offers_can_be_enabled(client, world, login):
    structure = new_structure(world, "Alpha")
    login("admin.gironde")
    response = client.post_form(
        "/admin/conventions/new/", _convention_form(structure, offer_ids=[o.id for o in offers()])
    )
    assert response.status_code == 302
    assert len(db.session.scalar(select(Convention).filter_by(structure_id=structure.id)).service_offers) == 5


# --- the caisse's catalogue page ---------------------------------------------------------------------------


def _catalogue(caisse_id):
    offers_ = set(db.session.scalars(select(CaisseOffer.service_offer_id).where(CaisseOffer.caisse_id == caisse_id)))
    motives = set(db.session.scalars(select(CaisseMotive.motive_id).where(CaisseMotive.caisse_id == caisse_id)))
    return offers_, motives


def test_catalogue_page_lists_every_offer_and_motive(client, world, login):
    login("admin.gironde")
    response = client.get("/admin/catalog/")
    assert response.status_code == 200
    text = page_text(response)
    assert "CPAM GIRONDE" in text
    for offer in offers():
        assert offer.label in text
        assert f'name="offer" value="{offer.id}" id="offer-{offer.id}" checked' in response.get_data(as_text=True)
    assert "Saisine mission accompagnement santé" in text


def test_catalogue_is_saved_by_post(client, world, login):
    gironde, oise = world["gironde"]["caisse"].id, world["oise"]["caisse"].id
    oise_before = _catalogue(oise)
    first, second, third = offers()[:3]
    chosen_motives = {first.motives[0].id, second.motives[1].id, third.motives[0].id}
    login("admin.gironde")
    response = client.post_form(
        "/admin/catalog/",
        {"offer": [str(first.id), str(second.id)], "motive": [str(m) for m in chosen_motives], "caisse_id": str(oise)},
    )
    assert response.status_code == 302
    assert "Le catalogue de l'organisme est enregistré." in page_text(client.get(response.headers["Location"]))
    # Motives of an offer that is not offered are dropped; OISE's catalogue is not GIRONDE's to change.
    assert _catalogue(gironde) == ({first.id, second.id}, {first.motives[0].id, second.motives[1].id})
    assert _catalogue(oise) == oise_before
    entry = db.session.scalar(select(AuditEntry).filter_by(action="catalog.update"))
    assert entry.caisse_id == gironde and entry.actor_label == "admin.gironde"


def test_catalogue_refuses_an_offer_without_a_motive_and_keeps_the_ticks(client, world, login):
    gironde = world["gironde"]["caisse"].id
    before = _catalogue(gironde)
    first, second = offers()[:2]
    login("admin.gironde")
    response = client.post_form(
        "/admin/catalog/", {"offer": [str(first.id), str(second.id)], "motive": [str(first.motives[0].id)]}
    )
    assert response.status_code == 200
    assert f"Sélectionnez au moins un motif pour l'offre « {second.label} »." in page_text(response)
    assert _catalogue(gironde) == before
    body = response.get_data(as_text=True)
    assert f'id="offer-{second.id}" checked' in body
    assert f'id="offer-{offers()[2].id}" checked' not in body
    assert f'id="motive-{first.motives[1].id}" checked' not in body


def test_catalogue_refuses_an_empty_choice(client, world, login):
    before = _catalogue(world["gironde"]["caisse"].id)
    login("admin.gironde")
    response = client.post_form("/admin/catalog/", {})
    assert response.status_code == 200
    assert "Sélectionnez au moins une offre de service." in page_text(response)
    assert _catalogue(world["gironde"]["caisse"].id) == before


def test_catalogue_post_without_csrf_token_is_refused(client, world, login):
    before = _catalogue(world["gironde"]["caisse"].id)
    first = offers()[0]
    login("admin.gironde")
    response = client.post("/admin/catalog/", data={"offer": [str(first.id)], "motive": [str(first.motives[0].id)]})
    assert response.status_code == 400
    assert _catalogue(world["gironde"]["caisse"].id) == before


def test_agents_cannot_change_the_catalogue(client, world, login):
    before = _catalogue(world["gironde"]["caisse"].id)
    first = offers()[0]
    login("agent.gironde")
    response = client.post_form("/admin/catalog/", {"offer": [str(first.id)], "motive": [str(first.motives[0].id)]})
    assert response.status_code == 403
    assert _catalogue(world["gironde"]["caisse"].id) == before


def test_national_admin_edits_the_catalogue_of_the_chosen_caisse(client, world, login):
    oise = world["oise"]["caisse"].id
    first = offers()[0]
    login("admin")
    response = client.post_form(
        "/admin/catalog/", {"caisse_id": str(oise), "offer": [str(first.id)], "motive": [str(first.motives[0].id)]}
    )
    assert response.status_code == 302
    assert _catalogue(oise) == ({first.id}, {first.motives[0].id})
    assert len(_catalogue(world["gironde"]["caisse"].id)[0]) == 5
