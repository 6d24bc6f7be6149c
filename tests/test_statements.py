"""services/statements: counted bulk statements, and purges that commit or leave nothing."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import PasswordToken
from backoffice.services import statements, tokens


def _tokens(app, world, n):
    with app.test_request_context():
        for owner in (world["gironde"]["manager"], world["oise"]["manager"])[:n]:
            tokens.issue(owner, "reset")
    db.session.commit()


def test_affected_counts_the_rows_an_update_changed_and_zero_when_none(app, world):
    _tokens(app, world, 2)
    assert statements.affected(update(PasswordToken).values(used_at=now())) == 2
    assert statements.affected(update(PasswordToken).where(PasswordToken.id < 0).values(used_at=now())) == 0
    db.session.rollback()


def test_purge_commits_its_deletion(app, world):
    _tokens(app, world, 2)
    assert statements.purge(delete(PasswordToken).where(PasswordToken.expires_at > now())) == 2
    db.session.rollback()  # nothing left to undo: the purge committed
    assert db.session.scalar(select(func.count()).select_from(PasswordToken)) == 0


def test_a_purge_that_fails_leaves_the_rows_and_raises(app, world, monkeypatch):
    _tokens(app, world, 2)

    def broken_commit():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "commit", broken_commit)
    with pytest.raises(RuntimeError):
        statements.purge(delete(PasswordToken).where(PasswordToken.expires_at > now() - timedelta(days=1)))
    monkeypatch.undo()
    assert db.session.scalar(select(func.count()).select_from(PasswordToken)) == 2
