"""R-TEN-2: a caisse admin sees and changes only its caisse's data; roles guard every back-office view."""

import re
from datetime import timedelta

import pytest
from flask_login import login_user
from helpers import admin_view, count, location, login_partner, page_text

from backoffice.clock import today
from backoffice.extensions import db
from backoffice.models import AuditEntry, Convention, OutboxMessage, PartnerAccount, PartnerRole, Structure
from backoffice.services import accounts

ADMIN_ONLY = [
    "/admin/structures/",
    "/admin/conventions/",
    "/admin/managers/",
    "/admin/agents/",
    "/admin/catalog/",
    "/admin/outbox/",
    "/admin/audit/",
    "/admin/structures/new/",
    "/admin/conventions/new/",
    "/admin/managers/new/",
]
NATIONAL_ONLY = ["/admin/caisses/", "/admin/caisses/new/"]
MANAGER_FORM = {
    "civility": "Madame",
    "birth_name": "",
    "usage_name": "DURAND",
    "first_name": "Anne",
    "function": "Secrétaire",
    "phone": "05.56.11.22.33",
    "email": "anne.durand@example.fr",
}


def _names(world, key):
    side = world[key]
    return {
        "structure": side["structure"].name,
        "manager": side["manager"].login,
    }


# --- lists ----------------------------------------------------------------------------------------


def test_lists_show_only_the_caisse_s_structures_conventions_and_managers(client, world, login):
    login("admin.gironde")
    gironde, oise = _names(world, "gironde"), _names(world, "oise")
    structures = page_text(client.get("/admin/structures/"))
    assert gironde["structure"] in structures
    assert oise["structure"] not in structures
    conventions = page_text(client.get("/admin/conventions/"))
    assert gironde["structure"] in conventions
    assert oise["structure"] not in conventions
    assert "CPAM OISE" not in conventions
    managers = page_text(client.get("/admin/managers/"))
    assert gironde["manager"] in managers
    assert oise["manager"] not in managers


def test_search_does_not_reach_other_caisses(client, world, login):
    login("admin.gironde")
    page = page_text(client.get("/admin/structures/?search=Oise"))
    assert "Association Oise" not in page
    page = page_text(client.get("/admin/managers/?search=m.oise"))
    assert "m.oise" not in page


def test_count_queries_and_get_one_are_scoped(app, world):
    """The list count and single-object look-ups, called the way Flask-Admin calls them."""
    oise = world["oise"]
    with app.test_request_context("/admin/"):
        login_user(world["gironde"]["admin"])
        for endpoint, own, foreign in (
            ("structures", world["gironde"]["structure"], oise["structure"]),
            ("conventions", world["gironde"]["convention"], oise["convention"]),
            ("managers", world["gironde"]["manager"], oise["manager"]),
        ):
            view = admin_view(app, endpoint)
            assert view.get_count_query().scalar() == 1, endpoint
            assert view.get_one(str(own.id)) is not None, endpoint
            assert view.get_one(str(foreign.id)) is None, endpoint
            assert view.get_one("not-a-number") is None, endpoint


def test_national_admin_sees_both_caisses(client, world, login):
    login("admin")
    for url, key in (
        ("/admin/structures/", "structure"),
        ("/admin/conventions/", "structure"),
        ("/admin/managers/", "manager"),
    ):
        page = page_text(client.get(url))
        assert _names(world, "gironde")[key] in page, url
        assert _names(world, "oise")[key] in page, url
    with client.application.test_request_context("/admin/"):
        login_user(world["national"])
        assert admin_view(client.application, "structures").get_count_query().scalar() == 2
        assert admin_view(client.application, "conventions").get_count_query().scalar() == 2


# --- opening, editing, deleting by id in the URL -----------------------------------------------------


@pytest.mark.parametrize(
    "endpoint,key", [("structures", "structure"), ("conventions", "convention"), ("managers", "manager")]
)
def test_edit_page_of_another_caisse_s_object_shows_nothing(client, world, login, endpoint, key):
    login("admin.gironde")
    own = client.get(f"/admin/{endpoint}/edit/?id={world['gironde'][key].id}")
    assert own.status_code == 200  # the same URL works for the caisse's own object
    foreign = client.get(f"/admin/{endpoint}/edit/?id={world['oise'][key].id}")
    # Flask-Admin finds no such record in the caisse's scoped query: back to the list.
    assert foreign.status_code == 302
    assert location(foreign) == f"/admin/{endpoint}/"
    followed = page_text(client.get(foreign.headers["Location"]))
    assert "Association Oise" not in followed
    assert "m.oise" not in followed
    for url in (f"/admin/{endpoint}/details/?id={world['oise'][key].id}",):
        response = client.get(url, follow_redirects=True)
        assert "Association Oise" not in page_text(response)
        assert "m.oise" not in page_text(response)


def test_manager_toggle_page_of_another_caisse_is_not_found(client, world, login):
    login("admin.gironde")
    assert client.get(f"/admin/managers/etat/?id={world['gironde']['manager'].id}").status_code == 200
    assert client.get(f"/admin/managers/etat/?id={world['oise']['manager'].id}").status_code == 404
    # Nor by POST: OISE's manager stays active even though it is not its structure's last one.
    second = PartnerAccount(
        login="s.oise",
        role=PartnerRole.MANAGER.value,
        structure=world["oise"]["structure"],
        civility="Monsieur",
        usage_name="SECOND",
        first_name="Serge",
        function="Adjoint",
        phone="03.44.00.00.00",
        email="s@example.fr",
    )
    db.session.add(second)
    db.session.commit()
    response = client.post_form(f"/admin/managers/etat/?id={second.id}", {})
    assert response.status_code == 404
    assert db.session.get(PartnerAccount, second.id).active is True


def test_edit_post_on_another_caisse_s_objects_changes_nothing(client, world, login):
    login("admin.gironde")
    oise = world["oise"]
    structure_id, convention_id, manager_id = oise["structure"].id, oise["convention"].id, oise["manager"].id
    end_before = oise["convention"].end_date
    response = client.post_form(
        f"/admin/structures/edit/?id={structure_id}",
        {
            "name": "Piratée",
            "type": "Association",
            "siret": "21330281000014",
            "address": "x",
            "postal_code": "60000",
            "city": "Beauvais",
            "member_count": "8",
        },
    )
    assert response.status_code == 302 and location(response) == "/admin/structures/"
    response = client.post_form(
        f"/admin/conventions/edit/?id={convention_id}",
        {"start_date": "2020-01-01", "end_date": "2020-01-02", "service_offers": []},
    )
    assert response.status_code == 302 and location(response) == "/admin/conventions/"
    response = client.post_form(f"/admin/managers/edit/?id={manager_id}", {**MANAGER_FORM, "usage_name": "PIRATE"})
    assert response.status_code == 302 and location(response) == "/admin/managers/"
    assert db.session.get(Structure, structure_id).name == "Association Oise"
    assert db.session.get(Convention, convention_id).end_date == end_before
    manager = db.session.get(PartnerAccount, manager_id)
    assert manager.usage_name == "OISE"
    assert count(AuditEntry, AuditEntry.action.like("%.update")) == 0


@pytest.mark.parametrize(
    "endpoint,model,key",
    [
        ("structures", Structure, "structure"),
        ("conventions", Convention, "convention"),
        ("managers", PartnerAccount, "manager"),
    ],
)
def test_delete_post_on_another_caisse_s_objects_deletes_nothing(client, world, login, endpoint, model, key):
    login("admin.gironde")
    target_id = world["oise"][key].id
    response = client.post_form(f"/admin/{endpoint}/delete/", {"id": str(target_id), "url": f"/admin/{endpoint}/"})
    assert response.status_code == 302 and location(response) == f"/admin/{endpoint}/"
    assert db.session.get(model, target_id) is not None


# --- relation fields --------------------------------------------------------------------------------


def _convention_form(world, structure_id):
    from backoffice.models import ServiceOffer

    offer = db.session.query(ServiceOffer).order_by(ServiceOffer.position).first()
    return {
        "structure": str(structure_id),
        "start_date": (today() + timedelta(days=400)).isoformat(),
        "end_date": (today() + timedelta(days=800)).isoformat(),
        "service_offers": [str(offer.id)],
        "manager_cap": "",
        "technician_cap": "",
    }


def test_structure_choices_of_relation_fields_list_only_the_caisse_s_structures(client, world, login):
    login("admin.gironde")
    for url in ("/admin/conventions/new/", "/admin/managers/new/"):
        page = client.get(url).get_data(as_text=True)
        select = re.search(r'<select[^>]*id="structure"[\s\S]*?</select>', page).group(0)
        assert re.findall(r'<option[^>]*value="(\d+)"', select) == [str(world["gironde"]["structure"].id)], url
        assert "Association Oise" not in page, url


def test_convention_cannot_be_created_for_another_caisse_s_structure(client, world, login):
    login("admin.gironde")
    before = count(Convention)
    response = client.post_form("/admin/conventions/new/", _convention_form(world, world["oise"]["structure"].id))
    assert response.status_code == 200  # the form comes back with an error
    assert count(Convention) == before
    # The same form with its own structure is accepted: the refusal above is the scoping.
    response = client.post_form("/admin/conventions/new/", _convention_form(world, world["gironde"]["structure"].id))
    assert response.status_code == 302
    assert count(Convention) == before + 1


def test_manager_cannot_be_created_in_another_caisse_s_structure(client, world, login):
    login("admin.gironde")
    before = count(PartnerAccount)
    response = client.post_form(
        "/admin/managers/new/", {**MANAGER_FORM, "structure": str(world["oise"]["structure"].id)}
    )
    assert response.status_code == 200
    assert count(PartnerAccount) == before
    assert count(OutboxMessage) == 0
    response = client.post_form(
        "/admin/managers/new/", {**MANAGER_FORM, "structure": str(world["gironde"]["structure"].id)}
    )
    assert response.status_code == 302
    assert count(PartnerAccount) == before + 1


def test_service_layer_refuses_another_caisse_s_structure(world):
    """Even called directly, the convention service only takes a structure the actor can see."""
    from backoffice.models import ServiceOffer
    from backoffice.services import structures
    from backoffice.services.errors import ValidationFailed

    offer = db.session.query(ServiceOffer).first()
    with pytest.raises(ValidationFailed) as refused:
        structures.create_convention(
            {
                "structure_id": world["oise"]["structure"].id,
                "start_date": today() + timedelta(days=400),
                "end_date": today() + timedelta(days=500),
                "service_offer_ids": [offer.id],
            },
            world["gironde"]["admin"],
        )
    assert "structure" in refused.value.errors


# --- outbox and audit -----------------------------------------------------------------------------


def _mail_in_both_caisses(app, world):
    with app.test_request_context():  # e-mail templates build their links with url_for
        for key in ("gironde", "oise"):
            side = world[key]
            accounts.create_account(
                side["structure"],
                PartnerRole.MANAGER,
                {**MANAGER_FORM, "usage_name": f"NOUVEAU{key.upper()}", "email": f"nouveau.{key}@example.fr"},
                side["admin"],
                side["caisse"].id,
            )


def test_outbox_shows_only_the_caisse_s_messages(app, client, world, login):
    _mail_in_both_caisses(app, world)
    login("admin.gironde")
    page = page_text(client.get("/admin/outbox/"))
    assert "nouveau.gironde@example.fr" in page
    assert "nouveau.oise@example.fr" not in page
    oise_message = db.session.query(OutboxMessage).filter_by(recipient="nouveau.oise@example.fr").one()
    own_message = db.session.query(OutboxMessage).filter_by(recipient="nouveau.gironde@example.fr").one()
    assert client.get(f"/admin/outbox/details/?id={own_message.id}").status_code == 200
    response = client.get(f"/admin/outbox/details/?id={oise_message.id}")
    assert response.status_code == 302 and location(response) == "/admin/outbox/"
    assert "nouveau.oise@example.fr" not in page_text(
        client.get(f"/admin/outbox/details/?id={oise_message.id}", follow_redirects=True)
    )


def test_audit_log_shows_only_the_caisse_s_entries(app, client, world, login):
    _mail_in_both_caisses(app, world)
    login("admin.gironde")
    page = page_text(client.get("/admin/audit/"))
    assert "admin.gironde" in page
    assert "admin.oise" not in page
    oise_entry = db.session.query(AuditEntry).filter_by(actor_label="admin.oise").first()
    response = client.get(f"/admin/audit/details/?id={oise_entry.id}", follow_redirects=True)
    assert "admin.oise" not in page_text(response)


def test_national_admin_reads_the_whole_outbox_and_audit_log(app, client, world, login):
    _mail_in_both_caisses(app, world)
    login("admin")
    outbox = page_text(client.get("/admin/outbox/"))
    assert "nouveau.gironde@example.fr" in outbox and "nouveau.oise@example.fr" in outbox
    audit = page_text(client.get("/admin/audit/"))
    assert "admin.gironde" in audit and "admin.oise" in audit


# --- agents of the caisse -------------------------------------------------------------------------


def test_caisse_admin_manages_only_its_own_agents(client, world, login):
    login("admin.gironde")
    page = page_text(client.get("/admin/agents/"))
    assert "agent.gironde" in page
    assert "agent.oise" not in page
    assert "admin.oise" not in page
    assert client.get(f"/admin/agents/edit/?id={world['gironde']['agent'].id}").status_code == 200
    foreign = client.get(f"/admin/agents/edit/?id={world['oise']['agent'].id}")
    assert foreign.status_code == 302 and location(foreign) == "/admin/agents/"


# --- roles ----------------------------------------------------------------------------------------


def test_agent_gets_403_on_admin_only_views(client, world, login):
    login("agent.gironde")
    assert client.get("/admin/").status_code == 200
    for url in ADMIN_ONLY + NATIONAL_ONLY:
        assert client.get(url).status_code == 403, url
    response = client.post_form(
        "/admin/managers/new/", {**MANAGER_FORM, "structure": str(world["gironde"]["structure"].id)}
    )
    assert response.status_code == 403
    assert count(PartnerAccount) == 2


def test_caisse_admin_gets_403_on_national_views(client, world, login):
    login("admin.gironde")
    for url in NATIONAL_ONLY:
        assert client.get(url).status_code == 403, url


def test_partner_account_cannot_open_the_back_office(client, world):
    login_partner(client, world["gironde"]["manager"])
    for url in ["/admin/"] + ADMIN_ONLY + NATIONAL_ONLY:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Association Gironde" not in page_text(response)


def test_anonymous_is_sent_to_the_login_page(client, world):
    for url in ["/admin/"] + ADMIN_ONLY + NATIONAL_ONLY:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/admin/connexion"), url


def test_national_admin_opens_every_view(client, world, login):
    login("admin")
    for url in ["/admin/"] + ADMIN_ONLY + NATIONAL_ONLY:
        assert client.get(url).status_code == 200, url


# --- a structure registered by one caisse, under convention with another ----------------------------


def test_registering_caisse_sees_a_structure_only_until_another_caisse_holds_its_convention(app, world):
    from backoffice.models import ServiceOffer
    from backoffice.services import structures

    gironde, oise = world["gironde"], world["oise"]
    structure = structures.create_structure(
        {
            "name": "France Services Créon",
            "type": "France Services",
            "siret": "73282932000074",
            "address": "5 rue Montesquieu",
            "postal_code": "33670",
            "city": "Créon",
            "member_count": 4,
        },
        gironde["admin"],
    )
    # Registered by GIRONDE, no convention yet: GIRONDE sees it (to record the convention), OISE does not.
    assert structures.get_visible_structure(gironde["admin"], structure.id) is not None
    assert structures.get_visible_structure(oise["admin"], structure.id) is None
    # The national admin puts it under convention with OISE only: it is OISE's partner now.
    offer = db.session.query(ServiceOffer).first()
    structures.create_convention(
        {
            "structure_id": structure.id,
            "caisse_id": oise["caisse"].id,
            "start_date": today(),
            "end_date": today() + timedelta(days=365),
            "service_offer_ids": [offer.id],
        },
        world["national"],
    )
    manager = PartnerAccount(
        login="c.oise",
        role=PartnerRole.MANAGER.value,
        structure=structure,
        civility="Madame",
        usage_name="CREON",
        first_name="Chloé",
        function="Responsable",
        phone="05.56.00.00.09",
        email="c@example.fr",
    )
    db.session.add(manager)
    db.session.commit()
    assert structures.get_visible_structure(gironde["admin"], structure.id) is None
    assert structures.get_visible_structure(oise["admin"], structure.id) is not None
    with app.test_request_context("/admin/"):
        login_user(gironde["admin"])
        assert admin_view(app, "managers").get_one(str(manager.id)) is None
        assert admin_view(app, "structures").get_one(str(structure.id)) is None
    with app.test_request_context("/admin/"):
        login_user(oise["admin"])
        assert admin_view(app, "managers").get_one(str(manager.id)) is not None
