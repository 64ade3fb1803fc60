"""Flow tests: the real Prefect engine against a committed scratch database of the suite's kind.

The suite's `dbsession` rolls back through one shared connection that flows cannot see,
because their tasks open sessions of their own. These tests therefore use a database of
their own, migrated once per session and emptied before each test, and a Prefect test
server started once per session by `prefect_test_harness`.
"""

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Prefect reads its settings when it is first imported: offline and quiet, with its home in
# a temporary folder so nothing lands in ~/.prefect.
PREFECT_HOME = Path(tempfile.mkdtemp(prefix="spets-prefect-home-"))
atexit.register(shutil.rmtree, PREFECT_HOME, ignore_errors=True)
os.environ.update(
    {
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
        "PREFECT_HOME": str(PREFECT_HOME),
    }
)

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from alembic import command  # noqa: E402
from builders import World  # noqa: E402
from conftest import DEFAULT_PG_URL, alembic_config  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from spets.models import (  # noqa: E402
    Base,
    CycleRun,
    Notification,
    OrgUnit,
    OutboxMessage,
    Section,
    Subject,
    Task,
    TaskEscalation,
    TaskReminder,
    User,
)
from spets.services import cycles, org  # noqa: E402
from spets.services.audit import Actor  # noqa: E402

SYSTEM = Actor.system()


@pytest.fixture(scope="session")
def prefect_server():
    """A Prefect server on a temporary SQLite database, for every flow run of the session."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=120),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


@dataclass
class ScratchDatabase:
    url: str
    kind: str
    session_factory: sessionmaker[Session]


@pytest.fixture(scope="session")
def scratch_database(db_kind, tmp_path_factory):
    """A migrated database of the suite's kind whose commits are real, dropped at the end."""
    from spets.db import make_engine, make_session_factory
    from spets.workflows.runtime import dispose_runtimes

    admin = name = None
    if db_kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('workflows') / 'workflows.sqlite'}"
    else:
        admin_url = os.environ.get("SPETS_TEST_PG_URL", DEFAULT_PG_URL)
        name = f"spets_wf_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    # SPETS_DATABASE_URL wins over any URL given in settings, in Alembic as in the app.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPETS_DATABASE_URL", url)
        command.upgrade(alembic_config(url), "head")
        engine = make_engine({"sqlalchemy.url": url})
    yield ScratchDatabase(url, db_kind, make_session_factory(engine))

    engine.dispose()
    dispose_runtimes()
    if admin is not None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def empty_database(database: ScratchDatabase) -> None:
    """Delete every row but Alembic's version, so each test starts from a clean world."""
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    engine = database.session_factory.kw["bind"]
    with engine.begin() as connection:
        if database.kind == "postgresql":
            names = ", ".join(f'"{name}"' for name in tables)
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
            for name in tables:
                connection.exec_driver_sql(f'DELETE FROM "{name}"')


@pytest.fixture
def flow_env(scratch_database, prefect_server, monkeypatch):
    """Point the flows at the scratch database; close their connection pools afterwards."""
    from spets.workflows.runtime import dispose_runtimes

    monkeypatch.setenv("SPETS_DATABASE_URL", scratch_database.url)
    yield scratch_database
    dispose_runtimes()


@pytest.fixture
def write_config(flow_env, tmp_path):
    """Return a function that writes an ini file for the flows and returns its path."""

    def write(smtp_port: int | None = None) -> str:
        path = tmp_path / "workflows.ini"
        lines = [
            "[app:main]",
            "use = egg:spets",
            f"sqlalchemy.url = {flow_env.url}",
            f"spets.var_dir = {tmp_path / 'var'}",
            "spets.base_url = http://spets.test/",
            f"spets.smtp.host = {'127.0.0.1' if smtp_port else ''}",
            f"spets.smtp.port = {smtp_port or 25}",
            "spets.sms.backend = file",
            f"spets.sms.folder = {tmp_path / 'sms'}",
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def build_world(flow_env, clock):
    """Return a function that empties the database and commits a new engine world.

    The world is the suite's test world plus the default feedback cycle, a teacher with a
    subject in each of the two schools of the tenant, and e-mail addresses for the teachers
    and head teachers. Its objects stay readable after the commit. `extend(world)`, when
    given, adds to the world in the same transaction; what it returns is `world.extension`.
    """

    def build(extend: Callable[[World], Any] | None = None) -> World:
        empty_database(flow_env)
        with flow_env.session_factory() as session, session.begin():
            world = World.build(session, clock())
            world.definition = cycles.add_default_definitions(
                session, world.tenant, actor=SYSTEM, now=world.now
            )
            for section, subject, teacher in (
                (world.section_a10, "MATH", world.teacher_a10),
                (world.section_b9, "ENG", world.teacher_b9),
            ):
                org.assign_teacher(
                    session,
                    section=section,
                    subject=world.subjects[subject],
                    teacher=teacher,
                    starts_on=world.year.starts_on,
                    actor=SYSTEM,
                    now=world.now,
                )
            for user in (
                world.subject_teacher_a9,
                world.teacher_a10,
                world.teacher_b9,
                world.head_a,
                world.head_b,
            ):
                user.email = f"{user.username}@school.example"
            world.extension = extend(world) if extend else None
        return world

    return build


@pytest.fixture
def snapshot(flow_env):
    """Return a function that reads the scratch database's engine rows by natural keys."""
    return lambda: engine_rows(flow_env.session_factory)


def engine_rows(session_factory: sessionmaker[Session]) -> dict[str, list[tuple]]:
    """Return every row the engine writes, described by natural keys instead of ids.

    Ids differ between two runs that reach the same rows (PostgreSQL does not give back
    the ids of a rolled-back insert), so rows are compared by what they refer to.
    """
    with session_factory() as session:
        users = dict(session.execute(select(User.id, User.username)).all())
        units = dict(session.execute(select(OrgUnit.id, OrgUnit.code)).all())
        subjects = dict(session.execute(select(Subject.id, Subject.code)).all())
        sections = {
            section.id: (units[section.school_id], section.grade, section.name)
            for section in session.scalars(select(Section))
        }
        runs = dict(session.execute(select(CycleRun.id, CycleRun.period_key)).all())
        task_keys = {}
        task_rows = []
        for task in session.scalars(select(Task)):
            key = (
                runs[task.cycle_run_id],
                sections[task.section_id],
                subjects[task.subject_id],
                users[task.assignee_id],
            )
            task_keys[task.id] = key
            task_rows.append(
                (
                    *key,
                    task.opens_on,
                    task.due_on,
                    task.state.value,
                    task.reminders_sent,
                    task.escalation_level,
                )
            )
        return {
            "runs": sorted(
                tuple(row) for row in session.execute(select(CycleRun.period_key, CycleRun.status))
            ),
            "tasks": sorted(task_rows),
            "reminders": sorted(
                (task_keys[reminder.task_id], reminder.offset_days, reminder.notified)
                for reminder in session.scalars(select(TaskReminder))
            ),
            "escalations": sorted(
                (
                    task_keys[escalation.task_id],
                    escalation.level,
                    escalation.role,
                    users.get(escalation.recipient_id),
                    escalation.notified,
                )
                for escalation in session.scalars(select(TaskEscalation))
            ),
            "outbox": sorted(
                (
                    users[message.recipient_id],
                    message.channel.value,
                    message.address,
                    message.subject,
                    message.body,
                    message.status.value,
                    message.attempts,
                )
                for message in session.scalars(select(OutboxMessage))
            ),
            "notifications": sorted(
                (users[notification.user_id], notification.title)
                for notification in session.scalars(select(Notification))
            ),
        }
