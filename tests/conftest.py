"""Test harness: one app per session on SQLite or PostgreSQL (TEST_DB), rows wiped between tests."""

import os
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, text

from backoffice import create_app
from backoffice.extensions import db
from config import TestConfig, normalize_database_url

TEST_DB = os.environ.get("TEST_DB", "sqlite")
DEFAULT_PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
from helpers import PASSWORD, CsrfClient, make_account  # noqa: E402  (one definition, shared with the test files)


def pytest_report_header(config):
    return f"database leg: {TEST_DB}"


def _pg_server_url() -> str:
    return normalize_database_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_SERVER))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if TEST_DB == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    server = create_engine(_pg_server_url(), isolation_level="AUTOCOMMIT")
    name = f"ep_test_{uuid.uuid4().hex[:12]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        MAIL_FILE_DIR = str(tmp_path_factory.mktemp("mail"))  # the file backend's .eml files

    app = create_app(Config)
    app.test_client_class = CsrfClient
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def _wipe():
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        # A leaked connection (e.g. an unclosed streamed response) fails loudly instead of hanging.
        db.session.execute(text("SET LOCAL lock_timeout = '30s'"))
        db.session.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))  # noqa: S608 (table names from the metadata)
    else:
        for table in tables:
            db.session.execute(text(f'DELETE FROM "{table}"'))  # noqa: S608 (table names from the metadata)
    db.session.commit()


@pytest.fixture(autouse=True)
def _clean_db(app):
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        _wipe()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- the world: two caisses with their admins, structures, conventions, managers ---------------


@pytest.fixture
def world(app):
    """GIRONDE and OISE, each with an admin and an agent, a structure, a current convention, a manager."""
    from backoffice.clock import today
    from backoffice.demo import factories
    from backoffice.models import PartnerRole
    from backoffice.services.passwords import hash_password

    hashed = hash_password(PASSWORD)
    national = factories.national_admin(first_name="Claire", last_name="NATIONALE", password_hash=hashed)
    db.session.commit()
    w = {"national": national}
    for key, name, code, siret in (
        ("gironde", "CPAM GIRONDE", "331", "12345678900015"),
        ("oise", "CPAM OISE", "601", "21330281000014"),
    ):
        caisse = factories.caisse(name, code, actor=national)
        admin = factories.caisse_admin(
            f"admin.{key}", caisse, first_name="Hélène", last_name=key.upper(), password_hash=hashed
        )
        agent = factories.agent(
            f"agent.{key}", caisse=caisse, first_name="Paul", last_name=key.upper(), password_hash=hashed
        )
        db.session.commit()
        structure = factories.structure(admin, name=f"Association {key.title()}", siret=siret)
        convention = factories.convention(
            admin, structure, start=today() - timedelta(days=100), end=today() + timedelta(days=300)
        )
        manager = factories.partner_account(
            structure,
            f"m.{key}",
            role=PartnerRole.MANAGER,
            usage_name=key.upper(),
            first_name="Marie",
            function="Directrice",
            password_hash=hashed,
        )
        db.session.commit()
        w[key] = {
            "caisse": caisse,
            "admin": admin,
            "agent": agent,
            "structure": structure,
            "convention": convention,
            "manager": manager,
        }
    return w


@pytest.fixture
def gironde(world):
    """The GIRONDE part of the world: its caisse, admin, agent, structure, convention and manager."""
    return world["gironde"]


@pytest.fixture
def oise(world):
    """The OISE part of the world, the other tenant."""
    return world["oise"]


@pytest.fixture
def tech(gironde):
    """v.chausson (Victor CHAUSSON), technician of the GIRONDE structure: PASSWORD set now, CGU
    accepted, e-mail v.chausson@example.fr."""
    return make_account(gironde["structure"], "v.chausson", first_name="Victor", usage_name="CHAUSSON")


@pytest.fixture
def login(client):
    """login(username) logs the client in to the back-office."""

    def _login(username: str, password: str = PASSWORD):
        response = client.post_form(
            "/admin/connexion", {"username": username, "password": password}, follow_redirects=False
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return response

    return _login


@pytest.fixture
def password():
    """The password of every account the `world` fixture creates."""
    return PASSWORD


@pytest.fixture
def count_queries(app):
    """with count_queries() as statements: … — the SQL statements sent meanwhile."""

    @contextmanager
    def counter():
        statements: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counter
