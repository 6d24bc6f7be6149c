"""Staged uploads: files accepted while their form was refused, so nobody chooses them twice."""

import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import cast

from sqlalchemy import CursorResult, case, delete, insert, select
from sqlalchemy.orm import defer

from ..clock import now
from ..extensions import db
from ..models import Agent, Attachment, AttachmentContent, PartnerAccount, StagedUpload
from . import antivirus, attachments
from .errors import DomainError

STAGED_LIFETIME = timedelta(days=1)


def _owner_filter(owner):
    if isinstance(owner, Agent):
        return StagedUpload.agent_id == owner.id
    return StagedUpload.account_id == owner.id


def stage(owner: PartnerAccount | Agent, uploads: list[tuple[str, bytes]]) -> list[str]:
    """Check each new file by content; keep the good ones staged; return the French refusals."""
    return stage_with_keys(owner, uploads)[1]


def stage_with_keys(owner: PartnerAccount | Agent, uploads: list[tuple[str, bytes]]) -> tuple[list[str], list[str]]:
    """As stage(), also returning the keys of the files kept, so a re-rendered form lists them."""
    checked, errors = check_all(uploads)
    keys = stage_checked(owner, checked)
    db.session.commit()
    return keys, errors


def check_all(uploads: list[tuple[str, bytes]]) -> tuple[list[attachments.CheckedFile], list[str]]:
    """Each file checked by content and by the antivirus: (the accepted ones, French refusals)."""
    checked, errors = [], []
    for filename, data in uploads:
        try:
            item = attachments.check_file(filename, data)
            antivirus.check(item.filename, item.data)
        except DomainError as exc:
            errors.append(exc.message)
            continue
        checked.append(item)
    return checked, errors


def stage_checked(owner: PartnerAccount | Agent, checked: list[attachments.CheckedFile]) -> list[str]:
    """Keep accepted files staged for the owner (flushed, in the caller's transaction): their keys."""
    keys = []
    for item in checked:
        staged = StagedUpload(
            key=secrets.token_hex(16),
            filename=item.filename,
            content_type=item.content_type,
            size=item.size,
            sha256=item.sha256,
            data=item.data,
        )
        if isinstance(owner, Agent):
            staged.agent_id = owner.id
        else:
            staged.account_id = owner.id
        db.session.add(staged)
        keys.append(staged.key)
    db.session.flush()
    return keys


def staged(owner, keys: list[str]) -> list[StagedUpload]:
    """The owner's staged files among these keys (another account's keys are ignored)."""
    keys = [k for k in keys if k]
    if not keys:
        return []
    return list(
        db.session.scalars(
            select(StagedUpload)
            .where(StagedUpload.key.in_(keys), _owner_filter(owner))
            .order_by(StagedUpload.id)
            .options(defer(StagedUpload.data))
        )
    )


def discard(owner, key: str) -> None:
    db.session.execute(delete(StagedUpload).where(StagedUpload.key == key, _owner_filter(owner)))
    db.session.commit()


def attach(
    staged_files: list[StagedUpload],
    request_id: int,
    side: str,
    exchange_message_id=None,
    new_files: Sequence[attachments.CheckedFile] = (),
) -> list[Attachment]:
    """Move staged files to a request, and add the form's new files (already checked), in the
    caller's transaction.

    Staged bytes are copied inside the database (INSERT … SELECT): they never travel back through
    the application to be sent again. New files are written once, straight to the attachments.
    """
    created = []
    items: list[StagedUpload | attachments.CheckedFile] = [*staged_files, *new_files]
    for item in items:
        attachment = Attachment(
            request_id=request_id,
            exchange_message_id=exchange_message_id,
            side=side,
            filename=item.filename,
            storage_name=secrets.token_hex(16),
            content_type=item.content_type,
            size=item.size,
            sha256=item.sha256,
        )
        db.session.add(attachment)
        created.append(attachment)
    if not created:
        return created
    db.session.flush()
    from_staged = created[: len(staged_files)]
    if staged_files:
        target = {item.id: attachment.id for item, attachment in zip(staged_files, from_staged, strict=True)}
        db.session.execute(
            insert(AttachmentContent).from_select(
                ["attachment_id", "data"],
                select(case(target, value=StagedUpload.id), StagedUpload.data).where(StagedUpload.id.in_(list(target))),
            )
        )
        for item in staged_files:
            db.session.delete(item)
    for item, attachment in zip(new_files, created[len(staged_files) :], strict=True):
        db.session.add(AttachmentContent(attachment_id=attachment.id, data=item.data))
    db.session.flush()
    return created


def purge_old() -> int:
    """Housekeeping: staged files older than a day."""
    result = cast(
        CursorResult, db.session.execute(delete(StagedUpload).where(StagedUpload.created_at < now() - STAGED_LIFETIME))
    )
    db.session.commit()
    return result.rowcount or 0
