"""Notify web processes of changes to what the portal's results page shows

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 09:40:00

Each web process keeps rendered results pages and listens on the PostgreSQL channel
`spets_portal` (webapp/change_feed.py). These triggers send, on commit, one notification
per account, student or tenant whose page may have changed, whoever wrote the row: a web
request, a flow, the command line or psql. The payload is `u:<user id>`, `s:<student id>`,
`t:<tenant id>`, or `x` for a change that may touch every page. PostgreSQL sends a
payload once per transaction however many rows repeat it.

SQLite has no NOTIFY; there the web process checks the database on every request instead.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "spets_portal"

FUNCTIONS = {
    # Arguments: the payload's prefix and the row's column holding the id.
    "spets_portal_notify_column": f"""
        BEGIN
            -- A row without the id announces a change to everything.
            IF TG_OP <> 'DELETE' THEN
                PERFORM pg_notify(
                    '{CHANNEL}', coalesce(TG_ARGV[0] || ':' || (to_jsonb(NEW) ->> TG_ARGV[1]), 'x')
                );
            END IF;
            IF TG_OP <> 'INSERT' THEN
                PERFORM pg_notify(
                    '{CHANNEL}', coalesce(TG_ARGV[0] || ':' || (to_jsonb(OLD) ->> TG_ARGV[1]), 'x')
                );
            END IF;
            RETURN NULL;
        END
    """,
    # Rows that carry a guardian_id: every account of that guardian (its links, its unread
    # count).
    "spets_portal_notify_guardian": f"""
        BEGIN
            PERFORM pg_notify('{CHANNEL}', 'u:' || account.user_id)
            FROM guardian_accounts AS account
            WHERE account.guardian_id IN (
                (to_jsonb(NEW) ->> 'guardian_id')::integer,
                (to_jsonb(OLD) ->> 'guardian_id')::integer
            );
            RETURN NULL;
        END
    """,
    # Thread messages: every account of the thread's guardian (their unread count).
    "spets_portal_notify_thread": f"""
        BEGIN
            PERFORM pg_notify('{CHANNEL}', 'u:' || account.user_id)
            FROM message_threads AS thread
            JOIN guardian_accounts AS account ON account.guardian_id = thread.guardian_id
            WHERE thread.id IN (
                (to_jsonb(NEW) ->> 'thread_id')::integer,
                (to_jsonb(OLD) ->> 'thread_id')::integer
            );
            RETURN NULL;
        END
    """,
    # Result sheets: every student with published marks on the sheet.
    "spets_portal_notify_sheet": f"""
        BEGIN
            PERFORM pg_notify('{CHANNEL}', 's:' || marks.student_id)
            FROM (SELECT DISTINCT student_id FROM published_marks WHERE sheet_id = NEW.id) AS marks;
            RETURN NULL;
        END
    """,
    "spets_portal_notify_all": f"""
        BEGIN
            PERFORM pg_notify('{CHANNEL}', 'x');
            RETURN NULL;
        END
    """,
}

# (table, events, function, arguments)
TRIGGERS = (
    ("users", "UPDATE OR DELETE", "spets_portal_notify_column", "'u', 'id'"),
    ("role_assignments", "INSERT OR UPDATE OR DELETE", "spets_portal_notify_column", "'u', 'user_id'"),
    ("guardian_accounts", "INSERT OR UPDATE OR DELETE", "spets_portal_notify_column", "'u', 'user_id'"),
    ("student_guardians", "INSERT OR UPDATE OR DELETE", "spets_portal_notify_column", "'s', 'student_id'"),
    ("student_guardians", "INSERT OR UPDATE OR DELETE", "spets_portal_notify_guardian", ""),
    ("broadcast_recipients", "INSERT OR UPDATE OR DELETE", "spets_portal_notify_guardian", ""),
    ("message_threads", "UPDATE OR DELETE", "spets_portal_notify_guardian", ""),
    ("thread_messages", "INSERT OR UPDATE OR DELETE", "spets_portal_notify_thread", ""),
    ("published_marks", "INSERT OR UPDATE OR DELETE", "spets_portal_notify_column", "'s', 'student_id'"),
    ("students", "UPDATE OR DELETE", "spets_portal_notify_column", "'s', 'id'"),
    ("result_sheets", "UPDATE", "spets_portal_notify_sheet", ""),
    ("grade_bands", "INSERT OR UPDATE OR DELETE", "spets_portal_notify_column", "'t', 'tenant_id'"),
    ("org_units", "UPDATE OR DELETE", "spets_portal_notify_all", ""),
)


def _trigger_name(table: str, function: str) -> str:
    return f"{table}_{function.removeprefix('spets_')}"


def _truncate_trigger_name(table: str) -> str:
    return f"{table}_portal_notify_truncate"


def _watched_tables() -> list[str]:
    return sorted({table for table, *_ in TRIGGERS})


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, body in FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $function${body}$function$"
        )
    for table, events, function, arguments in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {_trigger_name(table, function)} AFTER {events} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}({arguments})"
        )
    # TRUNCATE fires no row trigger; emptying a watched table touches every page.
    for table in _watched_tables():
        op.execute(
            f"CREATE TRIGGER {_truncate_trigger_name(table)} AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION spets_portal_notify_all()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _watched_tables():
        op.execute(f"DROP TRIGGER IF EXISTS {_truncate_trigger_name(table)} ON {table}")
    for table, _events, function, _arguments in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {_trigger_name(table, function)} ON {table}")
    for name in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
