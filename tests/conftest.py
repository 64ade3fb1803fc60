"""Shared fixtures: a migrated database (SQLite or PostgreSQL), rolled back per test, and the app.

Choose the database with ``--db sqlite`` (default) or ``--db postgresql``; the
PostgreSQL URL of the server comes from SPETS_TEST_PG_URL (default: the local server,
trust authentication). Each run migrates a fresh database with the real Alembic
migrations.
"""

import contextlib
import os
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from builders import FakeClock, World  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pytest_addoption(parser):
    parser.addoption(
        "--db",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("SPETS_TEST_DB", "sqlite"),
        help="Database to run the suite against.",
    )


def pytest_report_header(config):
    return f"database: {config.getoption('--db')}"


@pytest.fixture(scope="session")
def db_kind(request) -> str:
    return request.config.getoption("--db")


@contextlib.contextmanager
def new_postgresql_database(prefix: str):
    """Create an empty PostgreSQL database, yield its URL, and drop it afterwards."""
    admin_url = os.environ.get("SPETS_TEST_PG_URL", DEFAULT_PG_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(db_kind, tmp_path_factory):
    if db_kind == "sqlite":
        path = tmp_path_factory.mktemp("db") / "spets-test.sqlite"
        yield f"sqlite:///{path}"
        return

    with new_postgresql_database("spets_test") as url:
        yield url


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "testing.ini"))
    config.set_main_option("sqlalchemy.url", url)
    return config


@pytest.fixture(scope="session")
def engine(database_url):
    from spets.db import make_engine

    os.environ["SPETS_DATABASE_URL"] = database_url
    engine = make_engine({"sqlalchemy.url": database_url})
    command.upgrade(alembic_config(database_url), "head")
    yield engine
    engine.dispose()


class SessionFactory:
    """Sessions bound to the current test's connection, so everything a test does rolls back."""

    def __init__(self):
        self.connection = None

    def __call__(self, **kwargs) -> Session:
        return Session(
            bind=self.connection,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
            **kwargs,
        )


@pytest.fixture(scope="session")
def session_factory():
    return SessionFactory()


@pytest.fixture
def connection(engine, session_factory):
    connection = engine.connect()
    transaction = connection.begin()
    session_factory.connection = connection
    yield connection
    session_factory.connection = None
    transaction.rollback()
    connection.close()


@pytest.fixture
def dbsession(connection, session_factory):
    session = session_factory()
    yield session
    session.close()


@pytest.fixture(scope="session")
def clock():
    return FakeClock(datetime(2026, 12, 4, 5, 0, tzinfo=UTC))


@pytest.fixture(autouse=True)
def _reset_clock(clock):
    clock.reset()


@pytest.fixture
def now(clock) -> datetime:
    return clock()


@pytest.fixture(scope="session")
def app_settings(session_factory, clock, tmp_path_factory):
    from pyramid.paster import get_appsettings

    settings = dict(get_appsettings(str(ROOT / "testing.ini")))
    settings.update(
        {
            "spets.dbsession_factory": session_factory,
            "spets.clock": clock,
            "spets.var_dir": str(tmp_path_factory.mktemp("var")),
            "spets.session_secure": "false",
            "spets.imports.run_inline": "true",
        }
    )
    return settings


@pytest.fixture(scope="session")
def wsgi_app(app_settings, engine):
    from spets.webapp import main

    return main({"here": str(ROOT)}, **app_settings)


@pytest.fixture
def world(dbsession, now) -> World:
    """A small tenant: two districts, two schools, a user of every role, students with families."""
    return World.build(dbsession, now)


@pytest.fixture
def testapp(wsgi_app, dbsession):
    import webtest
    from helpers import Browser

    def fresh_session_per_request(environ, start_response):
        # Each real request gets a new session; expiring the shared one gives the same view.
        dbsession.expire_all()
        return wsgi_app(environ, start_response)

    app = webtest.TestApp(
        fresh_session_per_request,
        extra_environ={"HTTP_HOST": "localhost", "app.dbsession": dbsession, "tm.active": True},
    )
    return Browser(app)


@pytest.fixture(scope="session")
def tmp_dir():
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


@pytest.fixture
def scratch_database_url(db_kind, tmp_path):
    """An empty database of the suite's kind, for tests that migrate up and down."""
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.sqlite'}"
        return
    admin_url = os.environ.get("SPETS_TEST_PG_URL", DEFAULT_PG_URL)
    name = f"spets_scratch_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogues():
    """Compile the .po catalogues the app reads, when a .mo is missing or older."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in (ROOT / "webapp" / "locale").glob("*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as handle:
            catalog = read_po(handle)
        with mo_path.open("wb") as handle:
            write_mo(handle, catalog)


class SmtpInbox:
    """A real SMTP server on 127.0.0.1 that keeps what it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        import email
        import email.policy

        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


@pytest.fixture
def smtp_server():
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


@contextlib.contextmanager
def _database_url_env(url: str):
    """Point SPETS_DATABASE_URL at `url` for a moment: it wins over any URL in settings."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPETS_DATABASE_URL", url)
        yield


def _migrate(url: str) -> None:
    with _database_url_env(url):
        command.upgrade(alembic_config(url), "head")


def engine_of(url: str) -> sa.Engine:
    """Return an engine on `url` itself, not on the suite's own database."""
    from spets.db import make_engine

    with _database_url_env(url):
        return make_engine({"sqlalchemy.url": url})


@contextlib.contextmanager
def migrated_database(db_kind: str, tmp_path_factory):
    """Yield the URL of a database of its own, migrated to head; drop it afterwards.

    For tests that need committed data: a live server, or triggers that act on commit.
    """
    if db_kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.sqlite'}"
        _migrate(url)
        yield url
        return

    with new_postgresql_database("spets_live") as url:
        _migrate(url)
        yield url


@pytest.fixture(scope="module")
def live_world(request, tmp_path_factory, clock):
    """A database of its own, migrated and filled with the test world, committed."""
    from spets.db import make_session_factory

    with migrated_database(request.config.getoption("--db"), tmp_path_factory) as url:
        engine = engine_of(url)
        factory = make_session_factory(engine)
        with factory() as session, session.begin():
            world = World.build(session, clock())
            ids = {
                "student_a9": world.student_a9.id,
                "school_a": world.school_a.id,
            }
        yield {"url": url, "factory": factory, "ids": ids}
        engine.dispose()
