"""Manager accounts: R-ACC-1 fields, R-ACC-2 logins, R-MGR-1 caps, R-MGR-2 last manager, R-ACC-3/6 e-mails."""

import itertools
from datetime import timedelta

import pytest
from flask import session
from helpers import PASSWORD, count, field_errors, input_value, page_text, selected_option, token_sent_to
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backoffice.clock import today
from backoffice.extensions import db
from backoffice.models import (
    AuditEntry,
    OutboxMessage,
    PartnerAccount,
    PartnerRole,
    PasswordToken,
    ServiceOffer,
)
from backoffice.services import accounts, sessions, structures, tokens
from backoffice.services.auth import authenticate_partner, load_user
from backoffice.services.errors import DomainError, ValidationFailed
from backoffice.services.identity import NAME_MESSAGE, PHONE_MESSAGE, base_login, clean_identity

VALID = {
    "civility": "Madame",
    "birth_name": "",
    "usage_name": "DURAND",
    "first_name": "Anne",
    "function": "Secrétaire",
    "phone": "05.56.11.22.33",
    "email": "anne.durand@example.fr",
}
_siret_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _request_context(app):
    """Services render e-mails whose links come from url_for: give them a request context."""
    with app.test_request_context():
        yield


def _luhn_siret(prefix: str) -> str:
    for last in range(10):
        candidate = prefix + str(last)
        total = 0
        for index, char in enumerate(reversed(candidate)):
            digit = int(char) * (2 if index % 2 else 1)
            total += digit - 9 if digit > 9 else digit
        if total % 10 == 0:
            return candidate
    raise AssertionError("no Luhn digit")


def make_structure(world, members: int, key: str = "gironde", manager_cap=None, start_in_days=-10, end_in_days=300):
    side = world[key]
    structure = structures.create_structure(
        {
            "name": f"Structure {members} membres {next(_siret_numbers)}",
            "type": "CCAS",
            "siret": _luhn_siret(f"4{next(_siret_numbers):012d}"),
            "address": "2 place de la Mairie",
            "postal_code": "33100",
            "city": "Bordeaux",
            "member_count": members,
        },
        side["admin"],
    )
    structures.create_convention(
        {
            "structure_id": structure.id,
            "start_date": today() + timedelta(days=start_in_days),
            "end_date": today() + timedelta(days=end_in_days),
            "service_offer_ids": [db.session.scalars(select(ServiceOffer.id)).first()],
            "manager_cap": manager_cap,
        },
        side["admin"],
    )
    return structure


def create_manager(world, structure, key="gironde", **fields):
    side = world[key]
    data = {**VALID, **fields}
    return accounts.create_account(structure, PartnerRole.MANAGER, data, side["admin"], side["caisse"].id)


def _written():
    """What a refused creation must not have written."""
    return (count(PartnerAccount), count(OutboxMessage), count(AuditEntry), count(PasswordToken))


# --- R-ACC-1: fields --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field,typed,stored",
    [
        ("usage_name", "durand", "DURAND"),
        ("usage_name", "de la Fontaine", "DE LA FONTAINE"),
        ("usage_name", "lefèvre", "LEFÈVRE"),
        ("usage_name", "d'artagnan", "D'ARTAGNAN"),
        ("birth_name", "martin-dupont", "MARTIN-DUPONT"),
        ("first_name", "jean-pierre", "Jean-Pierre"),
        ("first_name", "JEAN-PIERRE", "Jean-Pierre"),
        ("first_name", "MARIE claire", "Marie Claire"),
        ("first_name", "éloïse", "Éloïse"),
        ("first_name", "hélène", "Hélène"),
    ],
)
def test_names_are_stored_in_the_required_case(field, typed, stored):
    assert clean_identity({**VALID, field: typed})[field] == stored


@pytest.mark.parametrize(
    "field,value",
    [
        ("usage_name", "DUPONT2"),
        ("birth_name", "3ROBERT"),
        ("first_name", "Jean3"),
        ("first_name", "Anne_Marie"),
        ("usage_name", "DUPONT@"),
        ("usage_name", "-DUPONT"),
    ],
)
def test_digits_and_other_signs_are_refused_in_names(field, value):
    with pytest.raises(ValidationFailed) as refused:
        clean_identity({**VALID, field: value})
    assert NAME_MESSAGE in refused.value.errors[field]


@pytest.mark.parametrize("field,limit", [("usage_name", 30), ("birth_name", 30), ("first_name", 20), ("function", 20)])
def test_length_boundaries(field, limit):
    assert clean_identity({**VALID, field: "A" * limit})[field].upper() == "A" * limit
    with pytest.raises(ValidationFailed) as refused:
        clean_identity({**VALID, field: "A" * (limit + 1)})
    assert f"ne doit pas dépasser {limit} caractères" in refused.value.errors[field]


def test_accented_names_of_maximum_length_are_accepted():
    assert clean_identity({**VALID, "usage_name": "É" * 30, "first_name": "è" * 20})["usage_name"] == "É" * 30


@pytest.mark.parametrize("phone", ["05.56.12.34.56", "01.00.00.00.00"])
def test_phone_in_the_dotted_format_is_accepted(phone):
    assert clean_identity({**VALID, "phone": phone})["phone"] == phone


@pytest.mark.parametrize(
    "phone",
    [
        "05.56.12.34.5",
        "05.56.12.34.567",
        "05.56.12.34",
        "05.56.12.34.56.78",
        "AB.CD.EF.GH.IJ",
        "+33 5 56 12 34 56",
        "05/56/12/34/56",
        "0556.12.34.56.7",
    ],
)
def test_phone_not_ten_digits_in_pairs_is_refused(phone):
    with pytest.raises(ValidationFailed) as refused:
        clean_identity({**VALID, "phone": phone})
    assert (
        refused.value.errors["phone"]
        == PHONE_MESSAGE
        == "Le numéro de téléphone doit respecter le format XX.XX.XX.XX.XX."
    )


def test_stored_phone_is_always_in_the_dotted_format():
    assert clean_identity({**VALID, "phone": "05 56 12 34 56"})["phone"] == "05.56.12.34.56"


def test_one_of_the_two_names_is_required():
    with pytest.raises(ValidationFailed) as refused:
        clean_identity({**VALID, "birth_name": "  ", "usage_name": ""})
    assert refused.value.errors["usage_name"] == "Veuillez renseigner le nom patronymique ou le nom usuel."
    assert clean_identity({**VALID, "birth_name": "MARTIN", "usage_name": ""})["usage_name"] is None
    assert clean_identity({**VALID, "birth_name": "", "usage_name": "MARTIN"})["birth_name"] is None


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("civility", "", "Veuillez choisir la civilité (Madame ou Monsieur)."),
        ("civility", "Mademoiselle", "Veuillez choisir la civilité (Madame ou Monsieur)."),
        ("first_name", "", "Veuillez renseigner le prénom."),
        ("function", "", "Veuillez renseigner la fonction."),
        ("phone", "", "Veuillez renseigner le téléphone."),
        ("email", "", "Veuillez renseigner l'adresse e-mail."),
        ("email", "anne@", "L'adresse e-mail n'est pas valide."),
    ],
)
def test_required_fields_have_french_messages(field, value, message):
    with pytest.raises(ValidationFailed) as refused:
        clean_identity({**VALID, field: value})
    assert refused.value.errors[field] == message


# --- creation through the Flask-Admin form -----------------------------------------------------------


def _form(world, **fields):
    return {**VALID, "structure": str(world["gironde"]["structure"].id), **fields}


def test_creating_a_manager_through_the_form_writes_account_mail_and_audit(client, world, login):
    login("admin.gironde")
    response = client.post_form("/admin/managers/new/", _form(world, usage_name="de tinteniac", first_name="myriam"))
    assert response.status_code == 302
    account = db.session.scalar(select(PartnerAccount).filter_by(login="m.detinteniac"))
    assert account is not None
    assert (account.usage_name, account.first_name, account.role) == ("DE TINTENIAC", "Myriam", "manager")
    assert account.structure_id == world["gironde"]["structure"].id
    assert account.created_by_agent_id == world["gironde"]["admin"].id
    assert account.password_hash is None
    assert "m.detinteniac" in page_text(client.get(response.headers["Location"]))

    mail = db.session.scalar(select(OutboxMessage))
    assert mail.recipient == "anne.durand@example.fr"
    assert mail.subject == "Espace Partenaires : Création compte partenaire"
    assert mail.caisse_id == world["gironde"]["caisse"].id
    assert mail.status == "pending"
    for words in (
        "Bienvenue sur Espace Partenaires",
        "Bonjour Myriam DE TINTENIAC",
        "m.detinteniac",
        "Créer mon mot de passe",
    ):
        assert words in mail.body_text
        assert words in mail.body_html
    assert "Créer mon mot de passe : [lien personnel masqué]" in mail.body_text  # the stored copy
    assert '<a href="[lien personnel masqué]">Créer mon mot de passe</a>' in mail.body_html
    assert (mail.link_purpose, mail.link_partner_account_id) == ("create", account.id)
    raw = token_sent_to("anne.durand@example.fr")
    token = tokens.find_valid(raw)
    assert token is not None and token.partner_account_id == account.id and token.purpose == "create"
    assert client.get(f"/mot-de-passe/{raw}").status_code == 200

    entry = db.session.scalar(select(AuditEntry).filter_by(action="manager.create"))
    assert entry.actor_label == "admin.gironde"
    assert entry.caisse_id == world["gironde"]["caisse"].id
    assert (entry.target_type, entry.target_id) == ("PartnerAccount", account.id)
    assert entry.details["login"] == "m.detinteniac"


@pytest.mark.parametrize(
    "field,typed,message",
    [
        ("phone", "05.56.12.34", PHONE_MESSAGE),
        ("first_name", "Jean3", f"Prénom : {NAME_MESSAGE}"),
        ("usage_name", "DUPONT2", f"Nom usuel : {NAME_MESSAGE}"),
        ("email", "anne@", "L'adresse e-mail n'est pas valide."),
    ],
)
def test_bad_input_re_renders_the_form_with_the_french_error_and_keeps_what_was_typed(
    client, world, login, field, typed, message
):
    login("admin.gironde")
    before = _written()
    data = _form(world, **{field: typed, "function": "Conseillère sociale"})
    response = client.post_form("/admin/managers/new/", data)
    assert response.status_code == 200
    assert message in field_errors(response, field)
    for name in ("usage_name", "first_name", "function", "phone", "email"):
        assert input_value(response, name) == data[name], name
    assert selected_option(response, "civility") == "Madame"
    assert selected_option(response, "structure") == str(world["gironde"]["structure"].id)
    assert _written() == before


def test_missing_names_are_reported_on_the_form(client, world, login):
    login("admin.gironde")
    before = _written()
    response = client.post_form("/admin/managers/new/", _form(world, usage_name="", birth_name=""))
    assert response.status_code == 200
    assert "Veuillez renseigner le nom patronymique ou le nom usuel." in field_errors(response, "usage_name")
    assert _written() == before


@pytest.mark.parametrize("field,limit", [("usage_name", 30), ("first_name", 20)])
def test_form_refuses_names_one_character_too_long(client, world, login, field, limit):
    login("admin.gironde")
    before = _written()
    response = client.post_form("/admin/managers/new/", _form(world, **{field: "A" * (limit + 1)}))
    assert response.status_code == 200
    assert any(str(limit) in error for error in field_errors(response, field))
    assert input_value(response, field) == "A" * (limit + 1)
    assert _written() == before
    response = client.post_form("/admin/managers/new/", _form(world, **{field: "A" * limit}))
    assert response.status_code == 302


# --- R-ACC-2: logins ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first,birth,usage,login",
    [
        ("Maryse", None, "PICHON", "m.pichon"),
        ("Myriam", None, "DE TINTENIAC", "m.detinteniac"),
        ("Élodie", None, "LEFÈVRE", "e.lefevre"),
        ("Jean", None, "D'ARTAGNAN", "j.dartagnan"),
        ("Anne", "MARTIN", None, "a.martin"),
        ("Anne", "DURAND", "MARTIN", "a.martin"),
        ("Ève", "ÇÀÉÎÕÜ", None, "e.caeiou"),
    ],
)
def test_login_is_first_initial_dot_name_plain_lower_case(first, birth, usage, login):
    assert base_login(first, birth, usage) == login


def test_homonyms_get_2_then_3_across_structures_and_caisses(world):
    first = create_manager(world, make_structure(world, 30), first_name="Victor", usage_name="CHAUSSON")
    second = create_manager(world, make_structure(world, 30), first_name="Victor", usage_name="CHAUSSON")
    third = create_manager(
        world, make_structure(world, 30, key="oise"), key="oise", first_name="victor", usage_name="chausson"
    )
    fourth = create_manager(world, first.structure, first_name="Valérie", usage_name="CHAUSSON")
    assert [first.login, second.login, third.login, fourth.login] == [
        "v.chausson",
        "v.chausson2",
        "v.chausson3",
        "v.chausson4",
    ]


def test_a_longer_login_with_the_same_start_does_not_count_as_taken(world):
    structure = make_structure(world, 30)
    assert create_manager(world, structure, first_name="Victor", usage_name="CHAUSSONNET").login == "v.chaussonnet"
    assert create_manager(world, structure, first_name="Victor", usage_name="CHAUSSON").login == "v.chausson"


def test_login_never_changes_when_the_name_changes(world):
    account = create_manager(world, make_structure(world, 30), first_name="Maryse", usage_name="PICHON")
    accounts.update_account(
        account,
        {**VALID, "first_name": "Marie", "usage_name": "LEGRAND"},
        world["gironde"]["admin"],
        world["gironde"]["caisse"].id,
    )
    account = db.session.get(PartnerAccount, account.id)
    assert (account.login, account.usage_name, account.first_name) == ("m.pichon", "LEGRAND", "Marie")


def test_login_is_unchanged_after_a_name_change_in_the_edit_form(client, world, login):
    manager = world["gironde"]["manager"]
    login("admin.gironde")
    response = client.post_form(
        f"/admin/managers/edit/?id={manager.id}", {**VALID, "usage_name": "nouveau-nom", "first_name": "zoé"}
    )
    assert response.status_code == 302
    manager = db.session.get(PartnerAccount, manager.id)
    assert (manager.login, manager.usage_name, manager.first_name) == ("m.gironde", "NOUVEAU-NOM", "Zoé")
    assert count(AuditEntry, AuditEntry.action == "manager.update") == 1


def test_logins_are_unique_in_the_database(world):
    db.session.add(
        PartnerAccount(
            login="m.gironde",
            role="manager",
            structure=world["oise"]["structure"],
            civility="Madame",
            usage_name="X",
            first_name="Y",
            function="Z",
            phone="05.56.00.00.00",
            email="x@example.fr",
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


# --- R-MGR-1: caps --------------------------------------------------------------------------------


@pytest.mark.parametrize("members,cap", [(1, 2), (10, 2), (11, 3), (25, 3), (26, 5), (200, 5)])
def test_manager_cap_follows_the_member_count(world, members, cap):
    structure = make_structure(world, members)
    for index in range(cap):
        create_manager(world, structure, usage_name=f"GESTIONNAIRE {'ABCDE'[index]}")
    before = _written()
    with pytest.raises(DomainError) as refused:
        create_manager(world, structure, usage_name="DE TROP")
    assert (
        refused.value.message
        == f"Le nombre maximum de comptes gestionnaires actifs ({cap}) est atteint pour cette structure."
    )
    assert _written() == before


def test_cap_refusal_is_shown_on_the_form_and_nothing_is_written(client, world, login):
    create_manager(world, world["gironde"]["structure"], usage_name="SECOND")  # 8 members: 2 managers
    login("admin.gironde")
    before = _written()
    response = client.post_form("/admin/managers/new/", _form(world, usage_name="TROISIEME"))
    assert response.status_code == 200
    assert "Le nombre maximum de comptes gestionnaires actifs (2) est atteint pour cette structure." in page_text(
        response
    )
    assert input_value(response, "usage_name") == "TROISIEME"
    assert _written() == before


def test_a_lower_recorded_cap_applies(world):
    structure = make_structure(world, 26, manager_cap=1)
    create_manager(world, structure)
    with pytest.raises(DomainError) as refused:
        create_manager(world, structure, usage_name="SECOND")
    assert "(1)" in refused.value.message


def test_inactive_managers_do_not_count_toward_the_cap(world):
    structure = make_structure(world, 5)
    first = create_manager(world, structure, usage_name="PREMIER")
    create_manager(world, structure, usage_name="SECOND")
    accounts.inactivate_account(first, world["gironde"]["admin"], world["gironde"]["caisse"].id)
    assert create_manager(world, structure, usage_name="TROISIEME").active


def test_managers_need_a_convention_that_has_not_ended(world):
    upcoming = make_structure(world, 5, start_in_days=20, end_in_days=400)
    assert create_manager(world, upcoming).active  # an upcoming convention is enough
    ended = make_structure(world, 5, start_in_days=-400, end_in_days=-1)
    with pytest.raises(DomainError) as refused:
        create_manager(world, ended, usage_name="AUTRE")
    assert refused.value.message == "Cette structure n'a pas de convention en cours ou à venir avec l'organisme."


# --- R-MGR-2, R-ACC-6: inactivation and reactivation ---------------------------------------------------


def _toggle(client, account, reason=None):
    data = {} if reason is None else {"reason": reason}
    return client.post_form(f"/admin/managers/etat/?id={account.id}", data)


def test_the_last_active_manager_cannot_be_inactivated(client, world, login):
    manager = world["gironde"]["manager"]
    login("admin.gironde")
    page = client.get(f"/admin/managers/etat/?id={manager.id}")
    assert "Êtes-vous sûr de vouloir inactiver ce compte ?" in page_text(page)
    response = _toggle(client, manager)
    assert response.status_code == 200
    assert (
        "Impossible d'inactiver le dernier gestionnaire actif de la structure : "
        "créez d'abord un nouveau compte gestionnaire." in page_text(response)
    )
    assert db.session.get(PartnerAccount, manager.id).active is True
    assert count(AuditEntry, AuditEntry.action == "manager.inactivate") == 0


def test_with_two_managers_one_can_be_inactivated_and_its_sessions_end(client, world, login):
    manager = world["gironde"]["manager"]
    second = create_manager(world, world["gironde"]["structure"], usage_name="SECOND")
    old_session_id = manager.get_id()
    session[sessions.SESSION_KEY] = sessions.open_session(manager)  # this request's live session
    assert load_user(old_session_id) is not None
    login("admin.gironde")
    response = _toggle(client, manager)
    assert response.status_code == 302
    manager = db.session.get(PartnerAccount, manager.id)
    assert manager.active is False
    assert manager.inactivated_at is not None
    assert manager.get_id() != old_session_id
    assert load_user(old_session_id) is None
    assert load_user(manager.get_id()) is None  # inactive accounts are refused by the loader
    assert count(AuditEntry, AuditEntry.action == "manager.inactivate") == 1
    # Now `second` is the last one.
    assert _toggle(client, second).status_code == 200
    assert db.session.get(PartnerAccount, second.id).active is True


def test_technicians_created_by_an_inactivated_manager_stay_active(world):
    structure = world["gironde"]["structure"]
    manager = world["gironde"]["manager"]
    create_manager(world, structure, usage_name="SECOND")
    technician = accounts.create_account(
        structure, PartnerRole.TECHNICIAN, {**VALID, "usage_name": "TECH"}, manager, world["gironde"]["caisse"].id
    )
    assert technician.created_by_account_id == manager.id
    accounts.inactivate_account(manager, world["gironde"]["admin"], world["gironde"]["caisse"].id)
    assert db.session.get(PartnerAccount, technician.id).active is True


def _inactive_manager(world):
    manager = world["gironde"]["manager"]
    create_manager(world, world["gironde"]["structure"], usage_name="SECOND")
    accounts.inactivate_account(manager, world["gironde"]["admin"], world["gironde"]["caisse"].id)
    db.session.query(OutboxMessage).delete()
    db.session.commit()
    return db.session.get(PartnerAccount, manager.id)


@pytest.mark.parametrize("reason", ["", "   "])
def test_reactivation_needs_a_reason(client, world, login, reason):
    manager = _inactive_manager(world)
    login("admin.gironde")
    response = _toggle(client, manager, reason)
    assert response.status_code == 200
    assert "Veuillez saisir le motif de réactivation." in page_text(response)
    assert db.session.get(PartnerAccount, manager.id).active is False
    assert count(OutboxMessage) == 0


def test_reactivation_reason_is_at_most_5000_characters(world):
    manager = _inactive_manager(world)
    with pytest.raises(DomainError) as refused:
        accounts.reactivate_account(manager, "x" * 5001, world["gironde"]["admin"], world["gironde"]["caisse"].id)
    assert refused.value.message == "Le motif de réactivation ne doit pas dépasser 5000 caractères."
    # At the cap (2 active managers), first make room, then exactly 5000 characters are accepted.
    second = db.session.scalar(select(PartnerAccount).filter_by(usage_name="SECOND"))
    second.active = False
    db.session.commit()
    accounts.reactivate_account(manager, "x" * 5000, world["gironde"]["admin"], world["gironde"]["caisse"].id)
    assert db.session.get(PartnerAccount, manager.id).reactivation_reason == "x" * 5000


def test_reactivation_clears_the_password_and_mails_a_new_link(client, world, login):
    manager = _inactive_manager(world)  # SECOND is active: 1 of 2, so there is room
    old_session_id = manager.get_id()
    old_hash = manager.password_hash
    assert old_hash is not None
    login("admin.gironde")
    page = client.get(f"/admin/managers/etat/?id={manager.id}")
    assert "Motif de réactivation" in page_text(page)
    response = _toggle(client, manager, "Retour de congé parental")
    assert response.status_code == 302
    manager = db.session.get(PartnerAccount, manager.id)
    assert manager.active is True
    assert manager.inactivated_at is None
    assert manager.reactivation_reason == "Retour de congé parental"
    assert manager.password_hash is None
    assert manager.login == "m.gironde"
    assert manager.get_id() != old_session_id
    with pytest.raises(DomainError):
        authenticate_partner("m.gironde", PASSWORD)  # the old password no longer works

    mail = db.session.scalar(select(OutboxMessage))
    assert mail.recipient == manager.email
    assert mail.subject == "Espace Partenaires : Réactivation compte partenaire"
    assert mail.caisse_id == world["gironde"]["caisse"].id
    for words in (
        "Bienvenue sur Espace Partenaires",
        "est réactivé",
        "Votre identifiant reste inchangé",
        "m.gironde",
        "Créer mon mot de passe",
    ):
        assert words in mail.body_text
        assert words in mail.body_html
    token = tokens.find_valid(token_sent_to(manager.email))
    assert token.partner_account_id == manager.id and token.purpose == "reactivate"
    entry = db.session.scalar(select(AuditEntry).filter_by(action="manager.reactivate"))
    assert entry.details["reason"] == "Retour de congé parental"
    assert entry.actor_label == "admin.gironde"


def test_reactivation_respects_the_cap(world):
    manager = _inactive_manager(world)  # SECOND is active: 1 of 2
    create_manager(world, world["gironde"]["structure"], usage_name="TROISIEME")  # 2 of 2
    with pytest.raises(DomainError) as refused:
        accounts.reactivate_account(manager, "Retour", world["gironde"]["admin"], world["gironde"]["caisse"].id)
    assert "(2)" in refused.value.message
    assert db.session.get(PartnerAccount, manager.id).active is False
