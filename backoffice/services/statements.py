"""Counted statements: the rowcount of a bulk UPDATE or DELETE, the housekeeping purges that
delete and commit on their own, and the rows a condition matches (`count`); `committed`, the
commit-or-roll-back around a unit of work."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from sqlalchemy import CursorResult, Delete, Update, func, select

from ..extensions import db


def affected(statement: Update | Delete, **execution_options) -> int:
    """Run a bulk UPDATE or DELETE in the caller's transaction; how many rows it changed."""
    result = cast(CursorResult, db.session.execute(statement, execution_options=execution_options))
    return result.rowcount or 0


def count(model, *conditions) -> int:
    """SELECT count(*) FROM model WHERE every condition (one statement)."""
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0


@contextmanager
def committed() -> Iterator[None]:
    """The transaction committed once the block has run, or rolled back (and the error raised)
    when the block or the commit fails."""
    try:
        yield
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def purge(statement: Delete) -> int:
    """A housekeeping deletion in a transaction of its own: committed, or rolled back and raised."""
    with committed():
        deleted = affected(statement, synchronize_session=False)
    return deleted
