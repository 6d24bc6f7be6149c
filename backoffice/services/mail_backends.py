"""How `flask send-mail` delivers (MAIL_BACKEND): SMTP in production, `.eml` files or the console in
development. services/outbox runs the same pipeline (lease, link, retries) whatever the backend."""

import secrets
import smtplib
import sys
from pathlib import Path
from typing import Protocol

from flask import current_app
from flask_mail import Connection, Message

from ..clock import now
from ..extensions import mail
from ..models import OutboxMessage


def backend_name() -> str:
    """MAIL_BACKEND, or by default `smtp` with a MAIL_SERVER and `file` without."""
    name = current_app.config.get("MAIL_BACKEND") or ("smtp" if current_app.config.get("MAIL_SERVER") else "file")
    if name not in BACKENDS:
        raise ValueError(f"MAIL_BACKEND={name!r}: expected one of {', '.join(BACKENDS)}")
    return name


def file_dir() -> Path:
    return Path(current_app.config.get("MAIL_FILE_DIR") or Path(current_app.instance_path) / "mail")


class Backend(Protocol):
    """A delivery backend: opened once per batch, one send per message, closed; `errors` are the
    exceptions that mean "this delivery failed" (the message is retried later)."""

    errors: tuple[type[Exception], ...]

    def open(self) -> None: ...

    def send(self, outgoing: Message, message: OutboxMessage, link: str | None) -> None: ...

    def close(self) -> None: ...


class SmtpBackend:
    errors: tuple[type[Exception], ...] = (OSError, smtplib.SMTPException)

    def open(self) -> None:
        """SMTP from the current config: not Flask-Mail's state frozen at init_app, which also
        suppresses every send when TESTING is on (messages were marked sent without leaving). An
        explicit MAIL_SUPPRESS_SEND still suppresses."""
        # Connection takes the _Mail state as Flask-Mail's own Mail.connect passes it (its annotation says Mail).
        state = mail.init_mail(current_app.config, current_app.debug)
        self.connection = Connection(state).__enter__()  # type: ignore[arg-type]

    def send(self, outgoing: Message, message: OutboxMessage, link: str | None) -> None:
        self.connection.send(outgoing)

    def close(self) -> None:
        try:
            self.connection.__exit__(None, None, None)  # type: ignore[arg-type]  # annotated without None
        except self.errors:
            pass


class FileBackend:
    """Development: each delivered message becomes an .eml file (any mail client opens it)."""

    errors: tuple[type[Exception], ...] = (OSError,)

    def open(self) -> None:
        self.directory = file_dir()
        self.directory.mkdir(parents=True, exist_ok=True)

    def send(self, outgoing: Message, message: OutboxMessage, link: str | None) -> None:
        stamp = now().strftime("%Y%m%d-%H%M%S-%f")
        path = self.directory / f"{stamp}-{message.id}-{secrets.token_hex(3)}.eml"
        partial = path.with_suffix(".part")
        partial.write_bytes(outgoing.as_bytes())
        partial.replace(path)  # a reader never sees half a message
        summary = f"E-mail écrit dans {path} — à {message.recipient} — « {message.subject} »"
        if link is not None:
            summary += f" — lien personnel : {link}"
        print(summary, flush=True)  # noqa: T201 (the development console is the point)

    def close(self) -> None:
        pass


class ConsoleBackend:
    """Development: the whole message on standard output, as Django's console backend does."""

    errors: tuple[type[Exception], ...] = (OSError,)

    def open(self) -> None:
        pass

    def send(self, outgoing: Message, message: OutboxMessage, link: str | None) -> None:
        line = "-" * 79
        sys.stdout.write(f"{line}\n{outgoing.as_string()}\n{line}\n")
        sys.stdout.flush()

    def close(self) -> None:
        pass


BACKENDS: dict[str, type[Backend]] = {"smtp": SmtpBackend, "file": FileBackend, "console": ConsoleBackend}
