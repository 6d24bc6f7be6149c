"""Internal notes on a request (issue 13 §3): the caisse's staff write them for each other.

A note has its author and date and shows in the request screen's timeline (reading.request_timeline).
It is never shown to the partner, never put in an e-mail nor in a partner-side export: nothing of
the portal reads RequestNote. It goes with the request (ON DELETE CASCADE). The agents and admins of
the request's caisse write notes; the national admin reads them.
"""

from sqlalchemy import select

from ...extensions import db
from ...models import Agent, NoteKind, Request, RequestNote, RequestStatus
from .. import audit
from ..errors import DomainError, ValidationFailed
from . import refusals
from .filing import COMMENT_MAX, clean_comment
from .guarded import refusal, transition, winner

NOTE_MAX = COMMENT_MAX
ALREADY_NOTED = "Cette note vient déjà d'être enregistrée sur la demande."


def _as_note(message: str) -> str:
    return message.replace("un commentaire", "le texte de la note").replace("Le commentaire", "La note")


def clean_note(text: str | None, errors: dict, field: str = "body", required: bool = True) -> str:
    """A note's text: the comments' rules (required, at most 5000 characters once trimmed) and no
    control character; a message in `errors[field]` otherwise. Optional: empty is accepted."""
    if not required and not (text or "").strip():
        return ""
    problems: dict[str, str] = {}
    text = clean_comment(text, problems)
    if problems:
        errors[field] = _as_note(problems["comment"])
    return text


def add_note(agent: Agent, request: Request, body: str) -> RequestNote:
    """Add a « Note interne » to the request, audited.

    The guarded UPDATE (it changes nothing on the row) checks the author's caisse and locks the row,
    so the same note sent twice in a row (a double click, even at once) is written once."""
    if agent.caisse_id is None:
        raise DomainError(refusals.NATIONAL_NO_NOTE)
    errors: dict[str, str] = {}
    body = clean_note(body, errors)
    if errors:
        raise ValidationFailed(errors)
    every_status = tuple(RequestStatus)
    if not transition(request, every_status, {"caisse_id": Request.caisse_id}, Request.caisse_id == agent.caisse_id):
        raise refusal(request, lambda r: refusals.NOT_IN_CAISSE)
    with winner():
        # Under the row lock: the request's last note, as every earlier note's commit left it.
        last = db.session.scalar(
            select(RequestNote)
            .where(RequestNote.request_id == request.id, RequestNote.kind == NoteKind.NOTE.value)
            .order_by(RequestNote.id.desc())
            .limit(1)
        )
        if last is not None and last.agent_id == agent.id and last.body == body:
            raise DomainError(ALREADY_NOTED)
        note = RequestNote(
            request_id=request.id,
            kind=NoteKind.NOTE.value,
            body=body,
            agent_id=agent.id,
            author_name=agent.full_name,
        )
        db.session.add(note)
        audit.record("request.note", actor=agent, target=request, caisse_id=request.caisse_id, number=request.number)
        db.session.commit()
    return note
