"""Request life cycle through the service layer (R-REQ-*, R-STA-*, R-BO-*)."""

from datetime import date, timedelta

import pytest
import time_machine

from backoffice.clock import today
from backoffice.extensions import db
from backoffice.models import OutboxMessage, RequestStatus, ServiceOffer
from backoffice.services import access, requests, uploads
from backoffice.services.errors import DomainError, ValidationFailed

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def offer(code):
    return db.session.query(ServiceOffer).filter_by(code=code).one()


def person(**extra):
    data = {
        "person_civility": "Madame",
        "person_last_name": "tutu",
        "person_first_name": "joséphine",
        "person_birth_date": date(1971, 10, 10),
        "person_birth_place": "44",
        "person_phone": "0700000000",
        "comment": "Hospitalisation en cours",
    }
    data.update(extra)
    return data


def file_one(tech, world, code="file_review", keys=(), **extra):
    acc = access.access_for(tech, world["gironde"]["caisse"].id)
    o = offer(code)
    motive = requests.motives_for(acc.caisse.id, o)[0]
    return requests.file_request(tech, acc, o, person(motive_id=motive.id, **extra), list(keys))


def test_filing_numbers_and_normalises(tech, world):
    r1 = file_one(tech, world)
    r2 = file_one(tech, world)
    year = str(today().year)[2:]
    assert r1.number == f"{year}33100001" and r2.number == f"{year}33100002"
    assert r1.person_last_name == "TUTU" and r1.person_first_name == "Joséphine"
    assert r1.person_phone == "07.00.00.00.00" and r1.status == RequestStatus.NEW.value


def test_comment_boundary_and_files(tech, world):
    with pytest.raises(ValidationFailed) as err:
        file_one(tech, world, comment="x" * 5001)
    assert "comment" in err.value.errors
    assert file_one(tech, world, comment="x" * 5000).comment == "x" * 5000
    errors = uploads.stage(tech, [("ok.pdf", PDF), ("evil.pdf", b"MZ\x90\x00" + b"\x00" * 100)])
    assert len(errors) == 1 and "evil.pdf" in errors[0]
    keys = [s.key for s in db.session.query(uploads.StagedUpload).all()]
    r = file_one(tech, world, keys=keys)
    assert [a.filename for a in requests.partner_files(r)] == ["ok.pdf"]


def test_take_answer_exchange_and_close(tech, world):
    gironde = world["gironde"]
    r = file_one(tech, world)
    requests.take_request(gironde["agent"], r)
    assert r.status == RequestStatus.TAKEN.value
    other = world["gironde"]["admin"]
    with pytest.raises(DomainError, match="déjà été prise en charge par"):
        requests.take_request(other, r)
    requests.answer_request(gironde["agent"], r, "Prise en charge faite", [])
    assert r.status == RequestStatus.RESOLVED.value
    subjects = [m.subject for m in db.session.query(OutboxMessage).filter_by(recipient="v.chausson@example.fr")]
    assert len(subjects) == 2
    for round_ in range(4):
        requests.partner_message(tech, r, f"Question {round_ + 1}", [])
        assert r.status == RequestStatus.MESSAGE_SENT.value
        requests.caisse_reply(gironde["agent"], r, f"Réponse {round_ + 1}", [])
    assert r.status == RequestStatus.CLOSED.value
    with pytest.raises(DomainError):
        requests.partner_message(tech, r, "Encore", [])


def test_day_16_closing(tech, world):
    gironde = world["gironde"]
    r = file_one(tech, world)
    requests.answer_request(gironde["agent"], r, "Réponse", [])
    resolved = r.resolved_at
    with time_machine.travel(resolved + timedelta(days=15) - timedelta(seconds=1), tick=False):
        assert requests.exchange_state(r)["can_write"]
        assert requests.close_expired_exchanges() == 0
    with time_machine.travel(resolved + timedelta(days=15) + timedelta(seconds=1), tick=False):
        assert not requests.exchange_state(r)["can_write"]
        assert requests.close_expired_exchanges() == 1
    assert r.status == RequestStatus.CLOSED.value
