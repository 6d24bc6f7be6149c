"""Optional antivirus scan of uploads by a ClamAV daemon (clamd INSTREAM protocol).

Configured with CLAMD_SOCKET (a Unix socket path) or CLAMD_HOST/CLAMD_PORT. When configured, an
unreachable daemon refuses the upload (fail closed); when not, only the built-in checks apply.
"""

import socket
import struct

from flask import current_app

from .errors import DomainError

CHUNK = 64 * 1024


class ScanUnavailable(Exception):
    pass


def configured() -> bool:
    config = current_app.config
    return bool(config.get("CLAMD_SOCKET") or config.get("CLAMD_HOST"))


def _connect() -> socket.socket:
    config = current_app.config
    timeout = config.get("CLAMD_TIMEOUT_SECONDS", 30)
    if config.get("CLAMD_SOCKET"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(config["CLAMD_SOCKET"])
        return sock
    return socket.create_connection((config["CLAMD_HOST"], int(config.get("CLAMD_PORT", 3310))), timeout=timeout)


def scan(data: bytes) -> str | None:
    """The signature found in the bytes, or None when clean. Raises ScanUnavailable."""
    try:
        with _connect() as sock:
            sock.sendall(b"zINSTREAM\0")
            for start in range(0, len(data), CHUNK):
                chunk = data[start : start + CHUNK]
                sock.sendall(struct.pack(">I", len(chunk)) + chunk)
            sock.sendall(struct.pack(">I", 0))
            answer = b""
            while not answer.endswith(b"\0"):
                part = sock.recv(4096)
                if not part:
                    break
                answer += part
    except OSError as exc:
        raise ScanUnavailable(str(exc)) from exc
    text = answer.rstrip(b"\0").decode("utf-8", "replace")
    if text.endswith("FOUND"):
        return text.removeprefix("stream:").strip().removesuffix("FOUND").strip()
    if text.endswith("OK"):
        return None
    raise ScanUnavailable(text or "réponse vide")


def check(filename: str, data: bytes) -> None:
    """Refuse an infected file (or any file while the configured daemon cannot answer)."""
    if not configured():
        return
    try:
        found = scan(data)
    except ScanUnavailable:
        current_app.logger.warning("antivirus unavailable: upload of %r refused", filename)
        raise DomainError(
            f"Le fichier « {filename} » n'a pas pu être analysé par l'antivirus : réessayez plus tard.",
            "attachments",
        ) from None
    if found:
        current_app.logger.warning("antivirus: %s found in an upload", found)
        raise DomainError(f"Le fichier « {filename} » est refusé : l'antivirus y a détecté un virus.", "attachments")
