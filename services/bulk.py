"""Set-based writes that work on PostgreSQL and SQLite alike."""

from collections.abc import Sequence

from sqlalchemy import Select, Table, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def _insert_for(session: Session, table: Table):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"insert-or-ignore is not written for {dialect}")


def insert_ignore_select(
    session: Session, table: Table, columns: Sequence[str], select: Select
) -> int:
    """Run ``INSERT INTO table (columns) SELECT ... ON CONFLICT DO NOTHING``; return rows added.

    SQLite cannot parse ON CONFLICT after a SELECT without a WHERE clause, so one is added.
    """
    if select.whereclause is None:
        select = select.where(true())
    statement = (
        _insert_for(session, table)
        .from_select(list(columns), select)
        .on_conflict_do_nothing()
        .execution_options(
            preserve_rowcount=True
        )  # SQLAlchemy reports INSERT counts only when asked
    )
    return max(session.execute(statement).rowcount or 0, 0)


def insert_ignore_rows(session: Session, table: Table, rows: Sequence[dict]) -> None:
    """Insert many rows, skipping those whose unique key already exists."""
    if rows:
        session.execute(_insert_for(session, table).on_conflict_do_nothing(), list(rows))
