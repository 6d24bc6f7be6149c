"""Bulk statements whose effect is counted: the rowcount of an UPDATE or DELETE, and the
housekeeping purges that delete and commit on their own."""

from typing import cast

from sqlalchemy import CursorResult, Delete, Update

from ..extensions import db


def affected(statement: Update | Delete, **execution_options) -> int:
    """Run a bulk UPDATE or DELETE in the caller's transaction; how many rows it changed."""
    result = cast(CursorResult, db.session.execute(statement, execution_options=execution_options))
    return result.rowcount or 0


def purge(statement: Delete) -> int:
    """A housekeeping deletion in a transaction of its own: committed, or rolled back and raised."""
    try:
        deleted = affected(statement, synchronize_session=False)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return deleted
