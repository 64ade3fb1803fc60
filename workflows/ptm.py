"""The parents sweep: PTM minutes tasks after a meeting day, and held messages of account holders.

Two short steps, each a Prefect task in its own transaction:

1. open a PTM_MINUTES task for every teacher who had confirmed bookings on a PTM day that
   has passed (`services.ptm.open_minutes_tasks`); the engine's (run, target) key makes a
   re-run open nothing new, and a missed day is caught up for 30 days;
2. release the messages that `messaging.queue_for_guardian` held for guardians who now
   have an account (`services.guardians.release_held_for_accounts`), so they go out with
   the next outbox delivery.

The deployment runs every ten minutes: the first step is cheap when nothing is due, and
the second bounds how long a notification to a guardian waits.
"""

from dataclasses import dataclass
from datetime import datetime

from prefect import flow, get_run_logger

from spets.services import guardians, ptm
from spets.workflows.database import database_task
from spets.workflows.runtime import get_runtime, log_event, resolve_now

SCHEDULE = "*/10 * * * *"


@dataclass
class ParentsSweepSummary:
    minutes_tasks_opened: int = 0
    messages_released: int = 0


@database_task(name="open-ptm-minutes-tasks")
def open_minutes_tasks(now: datetime, config: str | None) -> int:
    """Open the minutes tasks of the PTM days that have passed; return how many are new."""
    runtime = get_runtime(config)
    with runtime.session_factory() as session, session.begin():
        created = ptm.open_minutes_tasks(session, now)
    log_event(get_run_logger(), "ptm_minutes_tasks_opened", created=created)
    return created


@database_task(name="release-held-guardian-messages")
def release_held_messages(now: datetime, config: str | None) -> int:
    """Make the held messages of guardians with an account pending; return how many."""
    runtime = get_runtime(config)
    with runtime.session_factory() as session, session.begin():
        released = guardians.release_held_for_accounts(session, now)
    log_event(get_run_logger(), "guardian_messages_released", released=released)
    return released


@flow(name="parents-sweep")
async def parents_sweep(
    now: datetime | None = None, config: str | None = None
) -> ParentsSweepSummary:
    """Open the PTM minutes tasks that are due and release held guardian messages.

    `now` defaults to the time the flow starts; `config` to $SPETS_CONFIG or development.ini.
    """
    now = resolve_now(now)
    summary = ParentsSweepSummary(
        minutes_tasks_opened=await open_minutes_tasks(now, config),
        messages_released=await release_held_messages(now, config),
    )
    log_event(
        get_run_logger(),
        "parents_sweep_done",
        now=now.isoformat(),
        minutes_tasks_opened=summary.minutes_tasks_opened,
        messages_released=summary.messages_released,
    )
    return summary
