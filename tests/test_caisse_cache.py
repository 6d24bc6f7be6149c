"""The per-worker caches under the caisse options stamp (services/caisse_cache.py): the TTL safety
net, the one renewal function for bulk statements, and the watch for a bulk statement that forgot it."""

import logging
from datetime import datetime, timedelta, timezone

from helpers import make_account
from sqlalchemy import select, update

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import Caisse, ServiceOffer, Structure
from backoffice.services import caisse_cache, catalog, housekeeping

CACHE_LOG = "backoffice.services.caisse_cache"


def stamps(world) -> dict[str, str]:
    db.session.expire_all()
    return {key: db.session.get(Caisse, world[key]["caisse"].id).options_stamp for key in ("gironde", "oise")}


def test_a_kept_list_is_read_again_past_its_ttl_even_under_the_same_stamp(app, world, time_machine):
    assert app.config["CAISSE_CACHE_TTL_SECONDS"] == 300
    caisse = world["gironde"]["caisse"]
    builds = []

    def build():
        builds.append(1)
        return len(builds)

    time_machine.move_to(datetime(2031, 3, 2, 9, 0, tzinfo=timezone.utc), tick=False)
    assert caisse_cache.kept(caisse, ("ttl-test",), build) == 1
    time_machine.shift(timedelta(seconds=299))
    assert caisse_cache.kept(caisse, ("ttl-test",), build) == 1  # still fresh: kept
    time_machine.shift(timedelta(seconds=2))
    assert caisse_cache.kept(caisse, ("ttl-test",), build) == 2  # 301 s old: built again
    assert caisse_cache.kept(caisse, ("ttl-test",), build) == 2  # and kept from now on
    caisse.options_stamp = "0" * 32  # a new stamp is another entry altogether
    assert caisse_cache.kept(caisse, ("ttl-test",), build) == 3
    db.session.rollback()


def test_the_ttl_is_a_setting(app, world, time_machine):
    caisse = world["gironde"]["caisse"]
    builds = []
    time_machine.move_to(datetime(2031, 3, 2, 9, 0, tzinfo=timezone.utc), tick=False)
    app.config["CAISSE_CACHE_TTL_SECONDS"] = 10
    try:
        caisse_cache.kept(caisse, ("ttl-setting",), lambda: builds.append(1))
        time_machine.shift(timedelta(seconds=11))
        caisse_cache.kept(caisse, ("ttl-setting",), lambda: builds.append(1))
    finally:
        app.config["CAISSE_CACHE_TTL_SECONDS"] = 300
    assert len(builds) == 2


def test_renew_gives_a_new_stamp_to_the_caisses_concerned_only(world):
    before = stamps(world)
    caisse_cache.renew(caisse_ids={world["gironde"]["caisse"].id})
    db.session.commit()
    after = stamps(world)
    assert after["gironde"] != before["gironde"] and after["oise"] == before["oise"]
    caisse_cache.renew(structure_ids={world["oise"]["structure"].id})  # through the structure's conventions
    db.session.commit()
    last = stamps(world)
    assert last["oise"] != after["oise"] and last["gironde"] == after["gironde"]
    caisse_cache.renew(every_caisse=True)
    db.session.commit()
    assert all(stamps(world)[key] != last[key] for key in last)


def test_a_caisse_catalogue_change_renews_that_caisse_only(world, caplog):
    g = world["gironde"]
    offer = db.session.scalar(select(ServiceOffer).where(ServiceOffer.code == "file_review"))
    before = stamps(world)
    with caplog.at_level(logging.WARNING, logger=CACHE_LOG):
        catalog.set_caisse_catalog(g["caisse"].id, {offer.id}, {offer.motives[0].id}, g["admin"])
    after = stamps(world)
    assert after["gironde"] != before["gironde"] and after["oise"] == before["oise"]
    assert not caplog.records  # the bulk deletes were announced by renew(), not caught


def test_housekeeping_deleting_accounts_renews_their_caisses_only(world, caplog):
    gone = make_account(world["gironde"]["structure"], "v.chausson", active=False)
    gone.inactivated_at = now() - timedelta(days=200)
    db.session.commit()
    before = stamps(world)
    with caplog.at_level(logging.WARNING, logger=CACHE_LOG):
        assert housekeeping.delete_old_inactive_accounts() == 1
    after = stamps(world)
    assert after["gironde"] != before["gironde"] and after["oise"] == before["oise"]
    assert not caplog.records


def test_a_bulk_statement_that_forgot_renew_renews_every_caisse_and_says_so(world, caplog):
    before = stamps(world)
    with caplog.at_level(logging.WARNING, logger=CACHE_LOG):
        db.session.execute(
            update(Structure).where(Structure.id == world["gironde"]["structure"].id).values(name="Renommée")
        )
        db.session.commit()
    after = stamps(world)
    assert all(after[key] != before[key] for key in before)
    assert [r.getMessage() for r in caplog.records] == [
        "Bulk statement on structure without caisse_cache.renew(): every caisse's stamp renewed"
    ]


def test_a_transaction_that_renewed_is_trusted_with_its_bulk_statements_until_it_ends(world, caplog):
    structure_id = world["gironde"]["structure"].id
    with caplog.at_level(logging.WARNING, logger=CACHE_LOG):
        before = stamps(world)
        caisse_cache.renew(structure_ids={structure_id})
        db.session.execute(update(Structure).where(Structure.id == structure_id).values(name="Renommée"))
        db.session.commit()
        after = stamps(world)
        assert after["gironde"] != before["gironde"] and after["oise"] == before["oise"]
        assert not caplog.records
        # The next transaction starts untrusted.
        db.session.execute(update(Structure).where(Structure.id == structure_id).values(name="Encore"))
        db.session.commit()
    assert stamps(world)["oise"] != after["oise"]
    assert len(caplog.records) == 1


def test_statements_on_unlisted_tables_leave_the_stamps_alone(world, caplog):
    from backoffice.models import PasswordToken

    before = stamps(world)
    with caplog.at_level(logging.WARNING, logger=CACHE_LOG):
        db.session.execute(update(PasswordToken).values(used_at=None))
        db.session.commit()
    assert stamps(world) == before and not caplog.records
