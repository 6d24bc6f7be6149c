"""E-mail never lost (issue 5.1): SMTP down, hanging, answering 451; several workers at once; once
SMTP is back every message is delivered exactly once. No web request talks to SMTP.

Figure printed (README "Reliability and security"): messages queued / delivered / duplicated.
"""

import asyncio
import socket
import threading
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import select
from test_outbox import free_port

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import OutboxMessage, OutboxStatus
from backoffice.services import outbox

QUEUED = 60
WORKERS = 3


class Recorder:
    def __init__(self):
        self.ids = []
        self.refuse = False
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "451 4.3.0 Réessayez plus tard"
        await asyncio.sleep(0.002)  # a little latency, so workers overlap
        from email import message_from_bytes

        with self.lock:
            self.ids.append(int(message_from_bytes(envelope.content)["X-Outbox-Id"]))
        return "250 OK"


class SilentServer:
    """Accepts TCP connections and never answers: a hanging SMTP server."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.connections = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self):
        for conn in self.connections:
            conn.close()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def smtp(app, monkeypatch):
    port = free_port()
    for key, value in {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_TIMEOUT_SECONDS": 1,
        "MAIL_MAX_ATTEMPTS": 50,
    }.items():
        monkeypatch.setitem(app.config, key, value)
    return port


def _enqueue(app, count):
    with app.test_request_context():
        for index in range(count):
            outbox.enqueue(
                "test",
                f"p{index}@example.fr",
                "request_taken",
                account=type("A", (), {"first_name": "Personne", "display_name": f"N{index}"})(),
                deposit_date="01/02/2026",
                request=type("R", (), {"number": f"2026-{index:06d}", "id": index})(),
            )
        db.session.commit()


def _workers(app, rounds=3):
    """WORKERS threads, each with its own app context and session, as separate processes would be."""
    errors = []

    def work():
        try:
            with app.app_context():
                for _ in range(rounds):
                    outbox.send_pending(limit=7)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def _drain(app):
    """Run the workers until no message is due (each has been tried in this phase)."""
    for _ in range(10):
        _workers(app)
        db.session.expire_all()
        due = db.session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status.in_((OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)),
                OutboxMessage.next_attempt_at <= now(),
            )
            .limit(1)
        )
        if due is None:
            return


def _statuses():
    db.session.expire_all()
    return Counter(db.session.scalars(select(OutboxMessage.status)))


def test_outages_then_recovery_deliver_every_message_exactly_once(app, world, smtp):
    _enqueue(app, QUEUED)
    start = now()
    with time_machine.travel(start, tick=True) as traveller:
        # 1. the SMTP server is down: everything is retried later, nothing lost
        _drain(app)
        assert _statuses()[OutboxStatus.PENDING.value] == QUEUED
        # 2. it accepts connections but never answers: the timeout frees the workers
        hanging_port = free_port()
        app.config["MAIL_PORT"] = hanging_port
        silent = SilentServer(hanging_port)
        try:
            traveller.shift(timedelta(hours=1, minutes=1))
            _drain(app)
        finally:
            silent.close()
            app.config["MAIL_PORT"] = smtp
        assert _statuses()[OutboxStatus.PENDING.value] == QUEUED
        # 3. it answers 451 to everything
        recorder = Recorder()
        controller = Controller(recorder, hostname="127.0.0.1", port=smtp)
        controller.start()
        try:
            recorder.refuse = True
            traveller.shift(timedelta(hours=1, minutes=1))
            _drain(app)
            assert _statuses()[OutboxStatus.PENDING.value] == QUEUED and not recorder.ids
            # 4. back to normal: three workers at once until the queue is empty
            recorder.refuse = False
            for _ in range(10):
                traveller.shift(timedelta(hours=1, minutes=1))
                _workers(app, rounds=4)
                if _statuses()[OutboxStatus.SENT.value] == QUEUED:
                    break
        finally:
            controller.stop()
    delivered = len(set(recorder.ids))
    duplicated = len(recorder.ids) - delivered
    print(
        f"\noutbox: {QUEUED} queued / {delivered} delivered / {duplicated} duplicated "
        f"({WORKERS} workers, SMTP down, hanging, 451, then back)"
    )
    assert _statuses() == Counter({OutboxStatus.SENT.value: QUEUED})
    assert delivered == QUEUED and duplicated == 0
    attempts = db.session.scalars(select(OutboxMessage.attempts)).all()
    assert min(attempts) >= 4  # down, hanging, 451, then delivered


def test_a_web_request_never_talks_to_smtp(client, world, login, smtp):
    """Creating a manager e-mails them, but only through the outbox: the hanging server sees nothing."""
    silent = SilentServer(smtp)
    try:
        login("admin.gironde")
        response = client.post_form(
            "/admin/managers/new/",
            {
                "structure": world["gironde"]["structure"].id,
                "civility": "Madame",
                "usage_name": "DURAND",
                "first_name": "Anne",
                "function": "Directrice",
                "phone": "05.56.00.00.00",
                "email": "anne@example.fr",
            },
        )
        assert response.status_code == 302
        assert not silent.connections
    finally:
        silent.close()
    assert (
        db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "anne@example.fr")).status == "pending"
    )


def test_the_outbox_never_holds_the_link_the_smtp_message_carries(app, world, smtp):
    """Pending, failed after 451s, requeued, sent: the stored copy is masked at every status; each
    SMTP attempt carries a fresh link, and only the last delivered one works."""
    from helpers import count

    from backoffice.models import PartnerRole, PasswordToken
    from backoffice.models.outbox import LINK_MASK
    from backoffice.services import accounts, tokens

    g = world["gironde"]
    app.config["MAIL_MAX_ATTEMPTS"] = 1
    accounts.create_account(
        g["structure"],
        PartnerRole.MANAGER,
        {
            "civility": "Madame",
            "usage_name": "DURAND",
            "first_name": "Anne",
            "function": "Directrice",
            "phone": "05.56.00.00.00",
            "email": "anne@example.fr",
        },
        g["admin"],
        g["caisse"].id,
    )

    def stored():
        db.session.expire_all()
        message = db.session.scalar(select(OutboxMessage))
        assert "/mot-de-passe/" not in message.body_text + message.body_html
        assert f"Créer mon mot de passe : {LINK_MASK}" in message.body_text
        return message

    assert stored().status == OutboxStatus.PENDING.value and count(PasswordToken) == 0
    recorder = LinkRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=smtp)
    controller.start()
    try:
        recorder.refuse = True
        with app.app_context():
            assert outbox.send_pending()["failed"] == 1
        assert stored().status == OutboxStatus.FAILED.value
        assert recorder.links == []
        outbox.requeue(stored().id)
        db.session.commit()
        recorder.refuse = False
        with app.app_context():
            assert outbox.send_pending()["sent"] == 1
    finally:
        controller.stop()
    assert stored().status == OutboxStatus.SENT.value
    assert len(recorder.links) == 1
    raw = recorder.links[0].rsplit("/", 1)[1]
    assert tokens.find_valid(raw) is not None
    # the refused attempt's token was issued, then revoked by the attempt that went through
    assert count(PasswordToken) == 2 and count(PasswordToken, PasswordToken.expires_at > now()) == 1


class LinkRecorder(Recorder):
    """Records the set-password link of each message it accepts."""

    def __init__(self):
        super().__init__()
        self.links = []

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "451 4.3.0 Réessayez plus tard"
        from email import policy
        from email.parser import BytesParser

        from helpers import TOKEN_LINK_RE

        mail = BytesParser(policy=policy.default).parsebytes(envelope.content)
        text = mail.get_body(preferencelist=("plain",)).get_content()
        self.links.extend(m.group(0) for m in TOKEN_LINK_RE.finditer(text))
        return "250 OK"
