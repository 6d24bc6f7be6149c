"""R-LIFE-1/2, R-RGPD-2: `flask housekeeping` inactivates, then deletes, at the right moment, once."""

from datetime import date, datetime, time, timedelta, timezone

import pytest
import time_machine
from helpers import count
from sqlalchemy import select, text

from backoffice.clock import PARIS, now, today
from backoffice.extensions import db
from backoffice.models import (
    AuditEntry,
    Convention,
    NewsletterSubscription,
    PartnerAccount,
    PartnerRole,
    PasswordToken,
    Request,
    RequestStatus,
    ServiceOffer,
)
from backoffice.services import housekeeping
from backoffice.services import structures as structure_service

NOTHING = {
    "inactivated": 0,
    "deleted_accounts": 0,
    "deleted_tokens": 0,
    "closed_exchanges": 0,
    "purged_files": 0,
    "purged_uploads": 0,
    "purged_sessions": 0,
    "purged_throttles": 0,
    "digests": 0,
}


def paris_noon(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), tzinfo=PARIS)


def account(structure, login, role=PartnerRole.TECHNICIAN, active=True, inactivated_at=None):
    acc = PartnerAccount(
        login=login,
        role=role.value,
        structure=structure,
        civility="Monsieur",
        usage_name=login.split(".")[1].upper(),
        first_name="Victor",
        function="Travailleur social",
        phone="05.56.00.00.00",
        email=f"{login}@example.fr",
        active=active,
        inactivated_at=inactivated_at,
    )
    db.session.add(acc)
    db.session.commit()
    return acc


def file_request(convention, requester, status=RequestStatus.NEW, number="2633100001"):
    offer = db.session.query(ServiceOffer).first()
    req = Request(
        number=number,
        caisse_id=convention.caisse_id,
        structure_id=convention.structure_id,
        convention_id=convention.id,
        service_offer_id=offer.id,
        requester_account_id=requester.id,
        requester_name=requester.full_name,
        comment="Sans donnée de santé.",
        status=status.value,
        resolved_at=now() if status is RequestStatus.RESOLVED else None,
    )
    db.session.add(req)
    db.session.commit()
    return req


@pytest.fixture
def ending(world):
    """A structure whose only convention (CPAM GIRONDE) ends in 10 days, with three accounts."""
    admin = world["gironde"]["admin"]
    structure = structure_service.create_structure(
        {
            "name": "CCAS de Pessac",
            "type": "CCAS",
            "siret": "40483304800022",
            "address": "1 place de la Ve République",
            "postal_code": "33600",
            "city": "Pessac",
            "member_count": 6,
        },
        admin,
    )
    end = today() + timedelta(days=10)
    convention = structure_service.create_convention(
        {
            "structure_id": structure.id,
            "start_date": today() - timedelta(days=300),
            "end_date": end,
            "service_offer_ids": [o.id for o in db.session.query(ServiceOffer).all()],
        },
        admin,
    )
    old = now() - timedelta(days=20)
    return {
        "structure": structure,
        "convention": convention,
        "end": end,
        "manager": account(structure, "g.pessac", PartnerRole.MANAGER),
        "technician": account(structure, "t.pessac"),
        "already_inactive": account(structure, "i.pessac", active=False, inactivated_at=old),
        "old_inactivation": old,
    }


def refresh(*objects):
    for obj in objects:
        db.session.refresh(obj)


# --- R-LIFE-1 --------------------------------------------------------------------------------


def test_accounts_stay_active_until_history_access_ends_then_are_inactivated_once(world, ending, time_machine):
    manager, technician = ending["manager"], ending["technician"]
    old_alt = {manager.id: manager.alt_id, technician.id: technician.alt_id}
    end = ending["end"]

    # the last day of the convention: still running (R-ORG-3)
    time_machine.move_to(datetime.combine(end, time(23, 59), tzinfo=PARIS), tick=False)
    assert housekeeping.run() == NOTHING
    # the grace period (R-ORG-5): 30 days after the end, technicians still read their history
    time_machine.move_to(paris_noon(end + timedelta(days=1)), tick=False)
    assert housekeeping.run() == NOTHING
    time_machine.move_to(datetime.combine(end + timedelta(days=30), time(23, 59), tzinfo=PARIS), tick=False)
    assert housekeeping.run() == NOTHING
    refresh(manager, technician)
    assert manager.active and technician.active

    # the day after: no access remains, every active account goes, sessions die
    moment = datetime.combine(end + timedelta(days=31), time(0, 5), tzinfo=PARIS)
    time_machine.move_to(moment, tick=False)
    assert housekeeping.run() == {**NOTHING, "inactivated": 2}
    refresh(manager, technician, ending["already_inactive"])
    for acc in (manager, technician):
        assert not acc.active
        assert acc.inactivated_at == moment.astimezone(timezone.utc).replace(tzinfo=None)
        assert acc.alt_id != old_alt[acc.id]
    assert ending["already_inactive"].inactivated_at == ending["old_inactivation"]  # untouched
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("%.auto_inactivate"))).all()
    assert sorted((e.action, e.target_id) for e in entries) == sorted(
        [("manager.auto_inactivate", manager.id), ("technician.auto_inactivate", technician.id)]
    )
    assert {(e.actor_type, e.actor_id, e.caisse_id) for e in entries} == {
        ("system", None, world["gironde"]["caisse"].id)
    }
    # the other structures (current conventions) keep their accounts
    assert world["gironde"]["manager"].active and world["oise"]["manager"].active

    # a second run changes nothing
    audit_rows = count(AuditEntry)
    assert housekeeping.run() == NOTHING
    assert count(AuditEntry) == audit_rows


def test_a_request_still_awaiting_the_caisse_keeps_the_accounts(world, ending, time_machine):
    file_request(ending["convention"], ending["technician"])  # R-ORG-4: still "Nouveau"
    time_machine.move_to(paris_noon(ending["end"] + timedelta(days=200)), tick=False)
    assert housekeeping.run()["inactivated"] == 0
    refresh(ending["technician"])
    assert ending["technician"].active


def test_only_one_of_several_conventions_ending_inactivates_nothing(world):
    g = world["gironde"]
    db.session.add(
        Convention(
            structure_id=g["structure"].id,
            caisse_id=world["oise"]["caisse"].id,
            start_date=today() - timedelta(days=900),
            end_date=today() - timedelta(days=400),
        )
    )
    db.session.commit()
    assert housekeeping.run() == NOTHING
    refresh(g["manager"])
    assert g["manager"].active


def test_structure_that_never_had_a_convention_is_left_alone(world):
    structure = structure_service.create_structure(
        {
            "name": "Association sans convention",
            "type": "Association",
            "siret": "44306184100047",
            "address": "3 rue Sainte-Catherine",
            "postal_code": "33000",
            "city": "Bordeaux",
            "member_count": 3,
        },
        world["gironde"]["admin"],
    )
    acc = account(structure, "s.sansconvention", PartnerRole.MANAGER)
    assert housekeeping.run() == NOTHING
    refresh(acc)
    assert acc.active


# --- R-LIFE-2 --------------------------------------------------------------------------------


def test_add_months_is_calendar_months_clamped_to_the_month_end():
    assert housekeeping.add_months(datetime(2026, 1, 15, 10, 0, 0), 6) == datetime(2026, 7, 15, 10, 0, 0)
    assert housekeeping.add_months(datetime(2026, 8, 31, 8, 30), 6) == datetime(2027, 2, 28, 8, 30)
    assert housekeeping.add_months(datetime(2027, 8, 31, 8, 30), 6) == datetime(2028, 2, 29, 8, 30)
    assert housekeeping.add_months(datetime(2026, 11, 30), 6) == datetime(2027, 5, 30)


def test_deletion_six_months_after_inactivation_keeps_the_requesters_name(world, time_machine):
    g = world["gironde"]
    # inactivated on the 1st of this month at 10:00 UTC; six calendar months later is the 1st again
    base = now()
    inactivated_at = datetime(base.year, base.month, 1, 10, 0, 0)
    month = base.month + 6
    six_months_later = inactivated_at.replace(year=base.year + (month - 1) // 12, month=(month - 1) % 12 + 1)
    gone = account(g["structure"], "v.chausson", active=False, inactivated_at=inactivated_at)
    req = file_request(g["convention"], gone, RequestStatus.RESOLVED)
    db.session.add(NewsletterSubscription(account_id=gone.id))
    db.session.add(
        PasswordToken(
            token_hash="a" * 64,
            purpose="reactivate",
            partner_account=gone,
            expires_at=six_months_later + timedelta(days=30),
        )
    )
    db.session.commit()
    gone_id, name = gone.id, gone.full_name

    time_machine.move_to(six_months_later.replace(tzinfo=timezone.utc) - timedelta(seconds=1), tick=False)
    assert housekeeping.run()["deleted_accounts"] == 0
    assert db.session.get(PartnerAccount, gone_id) is not None

    time_machine.move_to(six_months_later.replace(tzinfo=timezone.utc) + timedelta(seconds=1), tick=False)
    assert housekeeping.run()["deleted_accounts"] == 1
    db.session.expire_all()
    assert db.session.get(PartnerAccount, gone_id) is None
    refresh(req)
    assert req.requester_account_id is None and req.requester_name == name == "Victor CHAUSSON"
    assert count(NewsletterSubscription, NewsletterSubscription.account_id == gone_id) == 0
    assert count(PasswordToken, PasswordToken.partner_account_id == gone_id) == 0
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "technician.auto_delete"))
    assert entry.target_id == gone_id and entry.actor_type == "system" and "v.chausson" not in str(entry.details)
    # active accounts and the rest of the world are untouched; a second run does nothing
    assert db.session.get(PartnerAccount, g["manager"].id) is not None
    assert housekeeping.run() == NOTHING


def test_expired_password_links_are_deleted_seven_days_after_expiry(world, time_machine):
    moment = now().replace(microsecond=0)
    time_machine.move_to(moment.replace(tzinfo=timezone.utc), tick=False)
    manager = world["gironde"]["manager"]
    keep = PasswordToken(
        token_hash="b" * 64,
        purpose="create",
        partner_account=manager,
        expires_at=moment - timedelta(days=7) + timedelta(seconds=1),
    )
    drop = PasswordToken(
        token_hash="c" * 64,
        purpose="create",
        partner_account=manager,
        expires_at=moment - timedelta(days=7) - timedelta(seconds=1),
    )
    db.session.add_all([keep, drop])
    db.session.commit()
    keep_id, drop_id = keep.id, drop.id
    assert housekeeping.run() == {**NOTHING, "deleted_tokens": 1}
    db.session.expire_all()
    assert db.session.get(PasswordToken, keep_id) is not None
    assert db.session.get(PasswordToken, drop_id) is None


# --- the command -----------------------------------------------------------------------------


def test_command_prints_the_counts(runner, world, ending, time_machine):
    time_machine.move_to(paris_noon(ending["end"] + timedelta(days=31)), tick=False)
    result = runner.invoke(args=["housekeeping"])
    assert result.exit_code == 0, result.output
    assert "Comptes inactivés (fin de la dernière convention) : 2" in result.output
    assert "Comptes supprimés (inactifs depuis 6 mois) : 0" in result.output
    result = runner.invoke(args=["housekeeping"])
    assert "Comptes inactivés (fin de la dernière convention) : 0" in result.output


def test_postgresql_runs_are_exclusive(app, runner, world, ending, time_machine):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are a PostgreSQL feature (SQLite is one machine)")
    time_machine.move_to(paris_noon(ending["end"] + timedelta(days=31)), tick=False)
    other_machine = db.engine.connect()
    try:
        other_machine.execute(text("SELECT pg_advisory_lock(:k)"), {"k": housekeeping.ADVISORY_LOCK_KEY})
        assert housekeeping.run() is None
        result = runner.invoke(args=["housekeeping"])
        assert "Un autre passage de housekeeping est en cours" in result.output
        refresh(ending["manager"])
        assert ending["manager"].active
    finally:
        other_machine.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": housekeeping.ADVISORY_LOCK_KEY})
        other_machine.close()
    assert housekeeping.run()["inactivated"] == 2
    # and the lock is released after a run
    probe = db.engine.connect()
    try:
        assert probe.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": housekeeping.ADVISORY_LOCK_KEY}).scalar()
        probe.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": housekeeping.ADVISORY_LOCK_KEY})
    finally:
        probe.close()


# --- R-RGPD-1 and R-STA-4 in the same run -----------------------------------------------------


def _filed_with_file(world, status_after=None):
    from backoffice.models import PartnerAccount, PartnerRole, ServiceOffer
    from backoffice.services import access as access_service
    from backoffice.services import requests as request_service
    from backoffice.services import uploads

    g = world["gironde"]
    tech = PartnerAccount(
        login="t.purge",
        role=PartnerRole.TECHNICIAN.value,
        structure=g["structure"],
        civility="Madame",
        usage_name="PURGE",
        first_name="Test",
        function="Bénévole",
        phone="07.00.00.00.00",
        email="t@example.fr",
    )
    db.session.add(tech)
    db.session.commit()
    assert uploads.stage(tech, [("piece.pdf", b"%PDF-1.4\n%%EOF\n")]) == []
    keys = [s.key for s in db.session.query(uploads.StagedUpload).all()]
    offer = db.session.query(ServiceOffer).filter_by(code="file_review").one()
    acc = access_service.access_for(tech, g["caisse"].id)
    motive = request_service.motives_for(g["caisse"].id, offer)[0]
    data = {
        "motive_id": motive.id,
        "person_civility": "Madame",
        "person_last_name": "TUTU",
        "person_first_name": "Joséphine",
        "person_birth_date": datetime(1971, 10, 10).date(),
        "person_birth_place": "44",
        "person_phone": "07.00.00.00.00",
        "comment": "Dossier",
    }
    return request_service.file_request(tech, acc, offer, data, keys)


def test_attachment_contents_purged_after_retention_but_never_while_awaiting_the_caisse(world):
    from backoffice.models import Attachment, AttachmentContent
    from backoffice.services import requests as request_service

    request = _filed_with_file(world)
    attachment = db.session.query(Attachment).filter_by(request_id=request.id).one()
    uploaded = attachment.uploaded_at
    with time_machine.travel(uploaded + timedelta(days=20), tick=False):
        assert housekeeping.run()["purged_files"] == 0  # still "Nouveau": the caisse needs it
    request_service.answer_request(world["gironde"]["agent"], request, "Réponse", [])
    with time_machine.travel(uploaded + timedelta(days=15) - timedelta(seconds=1), tick=False):
        assert housekeeping.run()["purged_files"] == 0
    with time_machine.travel(uploaded + timedelta(days=15) + timedelta(seconds=1), tick=False):
        counts = housekeeping.run()
        assert counts["purged_files"] == 1
        assert housekeeping.run()["purged_files"] == 0  # idempotent
    db.session.expire_all()
    kept = db.session.get(Attachment, attachment.id)
    assert kept.filename == "piece.pdf" and kept.purged_at is not None
    assert db.session.get(AttachmentContent, attachment.id) is None


def test_after_deletion_no_table_holds_the_persons_data_but_the_requests_name(world, client):
    """R-RGPD-2, checked by a scan of every text column of every table."""
    from sqlalchemy import JSON, String, Text

    from backoffice.models import PartnerRole, Request
    from backoffice.services import accounts as account_service
    from backoffice.services import auth

    g = world["gironde"]
    person = account_service.create_account(
        g["structure"],
        PartnerRole.TECHNICIAN,
        {
            "civility": "Madame",
            "birth_name": "quintavalle",
            "usage_name": "",
            "first_name": "zéphirine",
            "function": "Bénévole",
            "phone": "06.12.34.56.78",
            "email": "zephirine.q@example.fr",
        },
        g["manager"],
        g["caisse"].id,
    )
    login, person_id = person.login, person.id
    request = _filed_with_file(world)
    request.requester_account_id, request.requester_name = person_id, "QUINTAVALLE Zéphirine"
    db.session.commit()
    from backoffice.services.errors import DomainError

    with pytest.raises(DomainError):
        auth.authenticate_partner(login, "mauvais mot de passe")  # a failed login is audited
    account_service.inactivate_account(person, g["manager"], g["caisse"].id)
    inactivated = person.inactivated_at
    with time_machine.travel(inactivated.replace(tzinfo=timezone.utc) + timedelta(days=190), tick=False):
        assert housekeeping.run()["deleted_accounts"] == 1
    needles = [login, "zephirine.q@example.fr", "06.12.34.56.78", "QUINTAVALLE", "Zéphirine"]
    allowed = {("request", "requester_name"), ("exchange_message", "author_name")}
    found = []
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
            for row in connection.execute(select(*columns)) if columns else []:
                for column, value in zip(columns, row, strict=True):
                    if value is not None and any(n in str(value) for n in needles):
                        if (table.name, column.name) not in allowed:
                            found.append((table.name, column.name, str(value)[:80]))
    assert not found, found
    db.session.expire_all()
    assert db.session.get(Request, request.id).requester_name == "QUINTAVALLE Zéphirine"
