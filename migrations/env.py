"""Alembic environment: migrates the database named by the ini file or SPETS_DATABASE_URL."""

from alembic import context
from sqlalchemy import pool

from spets.db import make_engine
from spets.models import Base
from spets.models.meta import UTCDateTime

config = context.config
target_metadata = Base.metadata


def _settings() -> dict[str, str]:
    settings = dict(config.get_section(config.config_ini_section) or {})
    app_section = config.get_section("app:main") or {}
    settings.setdefault("sqlalchemy.url", app_section.get("sqlalchemy.url", ""))
    return settings


def run_migrations_offline() -> None:
    from spets.db import database_url

    context.configure(
        url=database_url(_settings()),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return

    engine = make_engine(_settings(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run_with(connection)
    engine.dispose()


def _render_item(type_, obj, autogen_context):
    """Write the UTC timestamp type as a plain timezone-aware DateTime in migrations."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run_with(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
