"""Run-time support for the flows: settings, a session factory, `now` and batches of schools.

Flows receive the ini file by parameter or through the SPETS_CONFIG environment variable and
resolve it inside their tasks, so a flow run started by a worker in another process reads
the same settings as the web app. This module imports no Prefect, so the command line can
set Prefect's environment variables before Prefect is first imported.
"""

import asyncio
import logging
import math
import os
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import plaster
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from spets.db import database_url, make_engine, make_session_factory

CONFIG_ENV = "SPETS_CONFIG"
DEFAULT_CONFIG = "development.ini"

# Schedules and the simulation use the zone of the default tenant.
SCHEDULE_ZONE = "Asia/Karachi"

# A flow run makes at most about this many task runs, because a Prefect 3.9 server on a
# two-core machine fell behind when one flow run recorded thousands. Larger regions get
# larger batches instead.
MAX_TASK_RUNS = 1000

# Schools per task run in the engine's flows. Prefect spends about 10 to 60 ms on each task
# run and 0.2 to 0.5 s on each flow run (benchmarks/engine_region.py). With 2,000 schools,
# a tick over South Punjab's 17,000 schools makes 9 batches of about 94,000 tasks each.
SCHOOLS_PER_TASK_RUN = 2000

# Tasks that write to the database retry twice when the database reports a conflict: a
# locked SQLite file, a PostgreSQL serialization failure, or a row an overlapping run
# inserted first. Every write is idempotent, so a retry repeats no effect.
DATABASE_RETRIES = 2
DATABASE_RETRY_DELAYS = [2, 10]


def config_path(config: str | os.PathLike | None = None) -> Path:
    """Return the ini file to read: `config`, else $SPETS_CONFIG, else development.ini."""
    path = Path(config or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG).resolve()
    if not path.is_file():
        raise FileNotFoundError(
            f"Settings file {path} not found: pass the flow parameter `config` or set "
            f"{CONFIG_ENV} to the path of an ini file such as development.ini."
        )
    return path


# Environment variables that override secrets of the ini file, so they can stay out of it.
SECRET_SETTINGS_ENV = {
    "spets.smtp.password": "SPETS_SMTP_PASSWORD",
    "spets.sms.token": "SPETS_SMS_TOKEN",
    "spets.fhir.token": "SPETS_FHIR_TOKEN",
}


def read_settings(path: Path) -> dict[str, Any]:
    """Read the [app:main] section of an ini file, with %(here)s filled in and secrets from the environment."""
    settings = dict(plaster.get_settings(str(path), "app:main"))
    for key, variable in SECRET_SETTINGS_ENV.items():
        if os.environ.get(variable):
            settings[key] = os.environ[variable]
    return settings


@dataclass(frozen=True)
class Runtime:
    """The settings of one ini file and a session factory on its database."""

    config: Path
    settings: Mapping[str, Any]
    var_dir: Path
    engine: Engine
    session_factory: sessionmaker[Session]

    @property
    def base_url(self) -> str:
        """The address links in messages start with, without a trailing slash."""
        return str(self.settings.get("spets.base_url") or "http://127.0.0.1:6543").rstrip("/")


_runtimes: dict[tuple[Path, str], Runtime] = {}
_runtimes_lock = threading.Lock()


def get_runtime(config: str | os.PathLike | None = None) -> Runtime:
    """Return the runtime of an ini file, creating its engine once per process and database.

    The key includes the database URL because SPETS_DATABASE_URL overrides the ini file.
    """
    path = config_path(config)
    settings = read_settings(path)
    url = database_url(settings)
    with _runtimes_lock:
        runtime = _runtimes.get((path, url))
        if runtime is None:
            engine = make_engine(settings)
            var_dir = Path(settings.get("spets.var_dir") or path.parent / "var")
            runtime = Runtime(path, settings, var_dir, engine, make_session_factory(engine))
            _runtimes[(path, url)] = runtime
        return runtime


def dispose_runtimes() -> None:
    """Close the connection pools of every runtime; the next flow creates them again."""
    with _runtimes_lock:
        for runtime in _runtimes.values():
            runtime.engine.dispose()
        _runtimes.clear()


Result = TypeVar("Result")


def run_flow(flow: Callable[..., Coroutine[Any, Any, Result]], /, **parameters: Any) -> Result:
    """Run one of the async SPeTS flows to its end from synchronous code and return its result.

    The flows are async because Prefect 3.9's sync engine waits at the end of every flow run
    for the heartbeat thread, which sleeps in one-second steps. The async engine keeps the
    heartbeats, which a server needs to notice a crashed run, without that wait. Their
    tasks run synchronous code in a worker thread (workflows/database.py). Pass
    `return_state=True` to receive the final Prefect state.
    """
    return asyncio.run(flow(**parameters))


def resolve_now(now: datetime | None) -> datetime:
    """Return `now` in UTC, or the current time when the caller gave none."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError(
            f"now={now.isoformat()} has no time zone: give an aware time such as "
            f"{now.isoformat()}+05:00 (Karachi) or {now.isoformat()}Z (UTC)."
        )
    return now.astimezone(UTC)


def batch_size_within(count: int, requested: int, max_batches: int = MAX_TASK_RUNS) -> int:
    """Return a batch size of at least `requested` that splits `count` items into at most `max_batches`."""
    if requested < 1:
        raise ValueError(f"batch_size={requested} is invalid: give 1 or more schools a batch.")
    return max(requested, math.ceil(count / max_batches)) if count else requested


@dataclass
class SchoolBatches:
    """Schools cut into batches of (first, last) school id, one task run per batch.

    Task runs carry the two ids of their batch, not the schools' list: Prefect records every
    parameter and result of a task run, and lists of schools cost more than the task runs
    themselves (docs/benchmarks.md). Each task run reads its schools again from the range.
    """

    schools: int = 0
    batches: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def of(cls, school_ids: Sequence[int], batch_size: int) -> "SchoolBatches":
        """Cut sorted school ids into batches of at least `batch_size` (see batch_size_within)."""
        size = batch_size_within(len(school_ids), batch_size)
        return cls(len(school_ids), [(batch[0], batch[-1]) for batch in chunks(school_ids, size)])


def chunks(items: Sequence, size: int) -> list[list]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def is_database_conflict(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry a task only after a lock, a lost connection or a duplicate key.

    SQLAlchemy raises OperationalError for a locked SQLite file, a PostgreSQL serialization
    failure or deadlock and a dropped connection, and IntegrityError for a row that an
    overlapping run inserted first.
    """
    return isinstance(state.data, OperationalError | IntegrityError)


# Attributes every LogRecord has; `extra` may not set them, so such fields stay in the message only.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


def log_event(logger, event: str, **fields: Any) -> None:
    """Log a fixed event name with its fields, both in the message and as record attributes."""
    text = " ".join(f"{name}={value}" for name, value in fields.items())
    extra = {name: value for name, value in fields.items() if name not in _RECORD_ATTRIBUTES}
    logger.info("%s %s", event, text, extra=extra)


def quiet_prefect_environment(prefect_home: Path) -> None:
    """Set Prefect's offline defaults in os.environ; values the caller already set are kept.

    Call this before Prefect is imported: Prefect reads its settings at import time.
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_HOME", str(prefect_home))
