"""The portal's file download and the outbox's 'Renvoyer' are service calls like every other write:
services/requests.download_for_partner and services/outbox.requeue_failed (the routes only render)."""

from datetime import timedelta

from helpers import add_request, make_account
from sqlalchemy import select

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import (
    Attachment,
    AttachmentContent,
    AuditEntry,
    OutboxMessage,
    OutboxStatus,
    RequestStatus,
)
from backoffice.services import outbox
from backoffice.services import requests as request_service


def _file(request, side: str, name: str, uploaded_at=None) -> Attachment:
    attachment = Attachment(
        request_id=request.id,
        side=side,
        filename=name,
        storage_name=name.replace(".", "") * 4,
        content_type="application/pdf",
        size=9,
        sha256="0" * 64,
        uploaded_at=uploaded_at or now(),
    )
    attachment.content = AttachmentContent(data=b"%PDF-1.4\n")
    db.session.add(attachment)
    db.session.commit()
    return attachment


def _downloads() -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).filter_by(action="attachment.download")))


def test_a_partner_downloads_the_caisse_files_of_that_request_only(world):
    g = world["gironde"]
    tech = make_account(g["structure"], "t.alpha", last_caisse=g["caisse"])
    request = add_request(g["convention"], tech, RequestStatus.RESOLVED, resolved_at=now())
    other = add_request(g["convention"], tech, RequestStatus.RESOLVED, resolved_at=now())
    received = _file(request, "caisse", "reponse.pdf")
    own = _file(request, "partner", "envoi.pdf")
    foreign = _file(other, "caisse", "autre.pdf")

    for attachment_id in (own.id, foreign.id, 999999):
        assert request_service.download_for_partner(tech, request, attachment_id) is None
    assert _downloads() == []

    download = request_service.download_for_partner(tech, request, received.id)
    assert download.attachment.id == received.id and download.data == b"%PDF-1.4\n"
    [entry] = _downloads()
    assert (entry.actor_id, entry.target_id, entry.caisse_id) == (tech.id, received.id, g["caisse"].id)
    assert entry.details["number"] == request.number and entry.details["filename"] == "reponse.pdf"


def test_an_expired_or_purged_file_is_named_but_not_served_nor_audited(world):
    g = world["gironde"]
    tech = make_account(g["structure"], "t.alpha", last_caisse=g["caisse"])
    request = add_request(g["convention"], tech, RequestStatus.RESOLVED, resolved_at=now())
    old = _file(request, "caisse", "vieux.pdf", uploaded_at=now() - timedelta(days=16))
    purged = _file(request, "caisse", "purge.pdf")
    db.session.delete(purged.content)
    db.session.commit()
    for attachment in (old, purged):
        download = request_service.download_for_partner(tech, request, attachment.id)
        assert download.attachment.id == attachment.id and download.data is None
    assert _downloads() == []


def _message(caisse, status: OutboxStatus) -> OutboxMessage:
    message = OutboxMessage(
        recipient="a@example.fr",
        subject="s",
        body_text="b",
        body_html="b",
        kind="test",
        caisse_id=caisse.id,
        status=status.value,
        attempts=12,
        next_attempt_at=now() + timedelta(days=1),
    )
    db.session.add(message)
    db.session.commit()
    return message


def test_renvoyer_requeues_the_failed_messages_the_agent_may_see(world):
    g, o = world["gironde"], world["oise"]
    failed = _message(g["caisse"], OutboxStatus.FAILED)
    sent = _message(g["caisse"], OutboxStatus.SENT)
    elsewhere = _message(o["caisse"], OutboxStatus.FAILED)
    ids = [failed.id, sent.id, elsewhere.id]

    assert outbox.requeue_failed(g["admin"], ids) == 1
    db.session.expire_all()
    assert (failed.status, failed.attempts) == (OutboxStatus.PENDING.value, 0)
    assert failed.next_attempt_at <= now()
    assert sent.status == OutboxStatus.SENT.value
    assert (elsewhere.status, elsewhere.attempts) == (OutboxStatus.FAILED.value, 12)  # another caisse's

    assert outbox.requeue_failed(world["national"], ids) == 1  # the national admin sees every caisse
    db.session.expire_all()
    assert elsewhere.status == OutboxStatus.PENDING.value
    assert outbox.requeue_failed(world["national"], ids) == 0  # nothing failed is left
