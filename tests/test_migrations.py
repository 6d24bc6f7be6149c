"""`flask db upgrade` on an empty database gives exactly the schema of the models (SQLite and PostgreSQL)."""

import os
import uuid
import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, make_url, text

from backoffice import create_app
from backoffice.extensions import db, same_database
from config import TestConfig


def _app_on(url: str):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url

    return create_app(Config)


def _flask_db(app, *args: str):
    """Run `flask db …` against `app` (its own app context, not the test app's)."""
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result


def _differences(app) -> list:
    with app.app_context(), db.engine.connect() as connection, warnings.catch_warnings():
        # On SQLite, Alembic warns that it cannot compare the PostgreSQL-only expression index
        # (ix_request_search_keys) before include_object leaves it out of the comparison anyway.
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": same_database(connection.dialect.name)}
        )
        return compare_metadata(context, db.metadata)


def _tables(app) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def _check_upgrade_matches_models(url: str) -> None:
    app = _app_on(url)
    try:
        assert _tables(app) == set()
        _flask_db(app, "upgrade")
        assert _tables(app) == set(db.metadata.tables) | {"alembic_version"}
        assert _differences(app) == []
        # The migration chain goes down and up again cleanly.
        _flask_db(app, "downgrade", "base")
        assert _tables(app) <= {"alembic_version"}
        _flask_db(app, "upgrade")
        assert _differences(app) == []
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_migrations_have_a_single_head(app):
    from alembic.script import ScriptDirectory

    config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgrade_of_an_empty_sqlite_database_gives_the_models_schema(tmp_path):
    _check_upgrade_matches_models(f"sqlite:///{tmp_path / 'empty.db'}")


@pytest.mark.skipif(
    os.environ.get("TEST_DB", "sqlite") != "postgresql", reason="PostgreSQL leg only (TEST_DB=postgresql)"
)
def test_upgrade_of_an_empty_postgresql_database_gives_the_models_schema(database_url):
    server = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"ep_migr_{uuid.uuid4().hex[:12]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _check_upgrade_matches_models(make_url(database_url).set(database=name).render_as_string(hide_password=False))
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()
