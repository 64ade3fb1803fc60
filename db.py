"""Engines and sessions for SQLite (the embedded default) and PostgreSQL (region scale)."""

import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, engine_from_config, event
from sqlalchemy.orm import Session, sessionmaker

DATABASE_URL_ENV = "SPETS_DATABASE_URL"
SQLITE_BUSY_TIMEOUT_MS = 15_000


def database_url(settings: Mapping[str, Any]) -> str:
    """Return the database URL: the environment variable wins over the ini file."""
    url = os.environ.get(DATABASE_URL_ENV) or settings.get("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            f"No database configured: set sqlalchemy.url in the ini file or {DATABASE_URL_ENV}"
        )
    return url


def make_engine(settings: Mapping[str, Any], **overrides: Any) -> Engine:
    config = {key: value for key, value in settings.items() if key.startswith("sqlalchemy.")}
    config["sqlalchemy.url"] = database_url(settings)
    engine = engine_from_config(config, prefix="sqlalchemy.", **overrides)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """Turn on WAL, foreign keys and real transactions for the pysqlite driver.

    pysqlite opens transactions by itself and commits before DDL, which breaks
    SAVEPOINT. The driver's own handling is switched off and SQLAlchemy emits BEGIN,
    as the SQLAlchemy documentation recommends for pysqlite.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if not _is_memory_database(engine):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        connection.exec_driver_sql("BEGIN")


def _is_memory_database(engine: Engine) -> bool:
    return engine.url.database in (None, "", ":memory:")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
