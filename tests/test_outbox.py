"""`flask send-mail`: delivery over real SMTP (aiosmtpd), retries with back-off, exactly-once delivery."""

import socket
from datetime import timedelta, timezone
from email import policy
from email.parser import BytesParser

import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import select

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import OutboxMessage, OutboxStatus, PartnerRole
from backoffice.services import accounts, outbox


class Handler:
    """An SMTP server's DATA handler: records what it accepts, or answers with a temporary failure."""

    def __init__(self):
        self.received = []
        self.refuse_all = False
        self.refused_recipients = set()

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_all or set(envelope.rcpt_tos) & self.refused_recipients:
            return "451 4.3.0 Service temporairement indisponible"
        self.received.append(
            BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        )
        return "250 OK"

    def outbox_ids(self):
        return [int(m["X-Outbox-Id"]) for m in self.received]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_config(app, monkeypatch):
    """Point the app at 127.0.0.1:<free port> for this test only (monkeypatch restores the config)."""
    port = free_port()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "MAIL_USE_TLS", False)
    monkeypatch.setitem(app.config, "MAIL_USE_SSL", False)
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT_SECONDS", 5)
    return port


class Server:
    def __init__(self, port):
        self.handler = Handler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()


@pytest.fixture
def smtp_server(smtp_config):
    server = Server(smtp_config).start()
    yield server
    server.stop()


@pytest.fixture
def messages(app, world):
    """Three pending e-mails: the welcome e-mails of three new managers of two caisses."""
    world["oise"]["structure"].member_count = 30  # room for two more managers
    db.session.commit()
    with app.test_request_context():
        for key, name in (("gironde", "ALPHA"), ("oise", "BRAVO"), ("oise", "CHARLIE")):
            side = world[key]
            accounts.create_account(
                side["structure"],
                PartnerRole.MANAGER,
                {
                    "civility": "Madame",
                    "usage_name": name,
                    "first_name": "Anne",
                    "function": "Directrice",
                    "phone": "05.56.00.00.00",
                    "email": f"{name.lower()}@example.fr",
                },
                side["admin"],
                side["caisse"].id,
            )
    created = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert len(created) == 3 and all(m.status == "pending" and m.attempts == 0 for m in created)
    return created


def send_once(runner):
    result = runner.invoke(args=["send-mail", "--once"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def rows():
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


# --- delivery ---------------------------------------------------------------------------------------


def test_send_mail_once_delivers_pending_messages_and_marks_them_sent(runner, smtp_server, messages):
    result = send_once(runner)
    assert result.exit_code == 0
    assert "envoyés=3" in result.output
    received = smtp_server.handler.received
    assert sorted(smtp_server.handler.outbox_ids()) == [m.id for m in messages]
    first = next(m for m in received if m["To"] == "alpha@example.fr")
    assert first["Subject"] == "Espace Partenaires : Création compte partenaire"
    assert "nepasrepondre@" in first["From"]
    assert first["Auto-Submitted"] == "auto-generated"
    text_part = first.get_body(preferencelist=("plain",)).get_content()
    assert "Bienvenue sur Espace Partenaires" in text_part
    assert "http://localhost/mot-de-passe/" in text_part
    html_part = first.get_body(preferencelist=("html",)).get_content()
    assert '<a href="http://localhost/mot-de-passe/' in html_part and "Créer mon mot de passe" in html_part
    for row in rows():
        assert row.status == OutboxStatus.SENT.value
        assert row.attempts == 1
        assert row.sent_at is not None
        assert row.last_error is None
        assert "/mot-de-passe/" not in row.body_text + row.body_html  # the stored copy stays masked
    # A second run has nothing left to send.
    send_once(runner)
    assert len(smtp_server.handler.received) == 3


def test_only_due_messages_are_sent(runner, smtp_server, messages):
    later = rows()[0]
    later.next_attempt_at = now() + timedelta(minutes=5)
    db.session.commit()
    send_once(runner)
    assert sorted(smtp_server.handler.outbox_ids()) == [m.id for m in messages[1:]]
    assert rows()[0].status == "pending" and rows()[0].attempts == 0


# --- failures, retries, back-off -------------------------------------------------------------------------


def test_closed_smtp_port_records_the_error_and_schedules_a_retry(runner, smtp_config, messages):
    moment = now().replace(tzinfo=timezone.utc, microsecond=0) + timedelta(hours=1)
    with time_machine.travel(moment, tick=False):
        result = send_once(runner)
        assert "reportés=3" in result.output
        for row in rows():
            assert row.status == OutboxStatus.PENDING.value
            assert row.attempts == 1
            assert row.sent_at is None
            assert "Connection" in row.last_error or "Errno" in row.last_error
            assert row.next_attempt_at == now() + timedelta(seconds=30)
        send_once(runner)  # not due yet: nothing is attempted
        assert [r.attempts for r in rows()] == [1, 1, 1]
    with time_machine.travel(moment + timedelta(seconds=31), tick=False):
        send_once(runner)
        for row in rows():
            assert row.attempts == 2
            assert row.next_attempt_at == now() + timedelta(seconds=60)  # the delay doubles
            assert row.status == "pending"


def test_backoff_doubles_and_is_capped_at_one_hour():
    assert [outbox.backoff(n) for n in (1, 2, 3, 4)] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert outbox.backoff(7) == timedelta(seconds=1920)
    assert outbox.backoff(8) == timedelta(hours=1)
    assert outbox.backoff(30) == timedelta(hours=1)


def test_a_temporary_smtp_failure_451_is_retried_later(runner, smtp_server, messages):
    smtp_server.handler.refuse_all = True
    before = now()
    send_once(runner)
    assert smtp_server.handler.received == []
    for row in rows():
        assert row.status == OutboxStatus.PENDING.value
        assert row.attempts == 1
        assert "451" in row.last_error
        assert before + timedelta(seconds=30) <= row.next_attempt_at <= now() + timedelta(seconds=30)


def test_messages_are_marked_failed_after_the_maximum_attempts(app, runner, smtp_config, messages, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 2)
    moment = now().replace(tzinfo=timezone.utc, microsecond=0) + timedelta(hours=1)
    with time_machine.travel(moment, tick=False):
        send_once(runner)
    with time_machine.travel(moment + timedelta(minutes=1), tick=False):
        result = send_once(runner)
        assert "en échec=3" in result.output
    assert {(r.status, r.attempts) for r in rows()} == {(OutboxStatus.FAILED.value, 2)}


def test_once_the_server_is_back_each_message_is_delivered_exactly_once(runner, smtp_config, messages):
    moment = now().replace(tzinfo=timezone.utc) + timedelta(hours=1)
    with time_machine.travel(moment):
        send_once(runner)  # SMTP down: everything is postponed
    assert [r.attempts for r in rows()] == [1, 1, 1]
    server = Server(smtp_config).start()
    try:
        server.handler.refused_recipients = {"bravo@example.fr"}  # one mailbox still answers 451
        with time_machine.travel(moment + timedelta(minutes=1)):
            send_once(runner)
            send_once(runner)  # the refused one is not due again yet
        assert sorted(m["To"] for m in server.handler.received) == ["alpha@example.fr", "charlie@example.fr"]
        server.handler.refused_recipients = set()
        with time_machine.travel(moment + timedelta(minutes=3)):
            send_once(runner)
            send_once(runner)
        with time_machine.travel(moment + timedelta(hours=3)):
            send_once(runner)
        assert sorted(server.handler.outbox_ids()) == [m.id for m in messages]  # each exactly once
        assert [r.status for r in rows()] == ["sent", "sent", "sent"]
        assert [r.attempts for r in rows()] == [2, 3, 2]
    finally:
        server.stop()


# --- no SMTP configured: the development file backend -------------------------------------------------


def test_without_mail_server_the_command_writes_eml_files_through_the_same_pipeline(
    app, runner, messages, monkeypatch, tmp_path
):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    monkeypatch.setitem(app.config, "MAIL_BACKEND", None)  # the default without MAIL_SERVER: file
    monkeypatch.setitem(app.config, "MAIL_FILE_DIR", str(tmp_path / "mail"))
    result = send_once(runner)
    assert result.exit_code == 0, result.output
    assert "envoyés=3" in result.output
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 3
    parsed = [BytesParser(policy=policy.default).parsebytes(f.read_bytes()) for f in files]
    assert sorted(m["To"] for m in parsed) == ["alpha@example.fr", "bravo@example.fr", "charlie@example.fr"]
    assert sorted(int(m["X-Outbox-Id"]) for m in parsed) == [m.id for m in messages]
    for mail in parsed:
        assert "http://localhost/mot-de-passe/" in mail.get_body(preferencelist=("plain",)).get_content()
    assert [(r.status, r.attempts) for r in rows()] == [("sent", 1)] * 3
    send_once(runner)  # nothing is due any more: no second copy
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 3


def test_the_file_backend_retries_like_smtp_when_it_cannot_write(app, runner, messages, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "file")
    monkeypatch.setitem(app.config, "MAIL_FILE_DIR", str(blocker / "mail"))
    result = send_once(runner)
    assert "reportés=3" in result.output
    for row in rows():
        assert (row.status, row.attempts) == ("pending", 1)
        assert "NotADirectoryError" in row.last_error or "FileExistsError" in row.last_error


def test_the_console_backend_prints_the_message(app, runner, messages, monkeypatch, capsys):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "console")
    result = send_once(runner)
    assert "envoyés=3" in result.output
    printed = capsys.readouterr().out + result.output
    assert "To: alpha@example.fr" in printed
    assert [r.status for r in rows()] == ["sent"] * 3


def test_smtp_backend_without_mail_server_says_so_and_leaves_the_outbox_alone(app, runner, messages, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    result = runner.invoke(args=["send-mail", "--once"])
    assert result.exit_code != 0
    assert "MAIL_SERVER n'est pas défini" in result.output
    assert "MAIL_BACKEND=file" in result.output
    assert [(r.status, r.attempts) for r in rows()] == [("pending", 0)] * 3


def test_an_unknown_mail_backend_is_refused_in_french(app, runner, messages, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "pigeon")
    result = runner.invoke(args=["send-mail", "--once"])
    assert result.exit_code != 0
    assert "n'est pas reconnu" in result.output
    assert [(r.status, r.attempts) for r in rows()] == [("pending", 0)] * 3


def test_the_outbox_details_show_the_masked_copy_without_any_link(client, world, messages, login):
    login("admin")
    page = client.get(f"/admin/outbox/details/?id={messages[0].id}").get_data(as_text=True)
    assert "Bienvenue sur Espace Partenaires" in page
    assert "Créer mon mot de passe : [lien personnel masqué]" in page
    assert "/mot-de-passe/" not in page
    assert "<pre" in page and 'class="ep-mail-body"' in page
