"""Writes the audit log (R-RGPD-4) inside the caller's transaction."""

from flask import has_request_context, request

from ..extensions import db
from ..models import AuditEntry


def actor_fields(actor) -> dict:
    if actor is None:
        return {"actor_type": "system", "actor_id": None, "actor_label": "Système"}
    kind = getattr(actor, "kind", None)
    if kind == "agent":
        return {"actor_type": "agent", "actor_id": actor.id, "actor_label": actor.username}
    if kind == "partner":
        return {"actor_type": "partner", "actor_id": actor.id, "actor_label": actor.login}
    return {"actor_type": "anonymous", "actor_id": None, "actor_label": str(actor)[:120]}


def record(action: str, actor=None, target=None, caisse_id: int | None = None, **details) -> AuditEntry:
    """Add an audit row to the session; it commits (or rolls back) with the business change."""
    ip = request.remote_addr if has_request_context() else None
    entry = AuditEntry(
        action=action,
        caisse_id=caisse_id,
        target_type=type(target).__name__ if target is not None else None,
        target_id=getattr(target, "id", None),
        details=details,
        ip=ip,
        **actor_fields(actor),
    )
    db.session.add(entry)
    return entry
