"""The daily calendar tick: open the cycle runs the calendar calls for and generate their tasks.

The flow repeats `services.cycles.tick` step by step, so each batch of schools is a Prefect
task run in its own short transaction. Generation inserts only missing rows, so a second
run, an overlapping run or a re-run after a crash leaves the tasks of one clean run.
"""

from dataclasses import dataclass, field
from datetime import datetime

from prefect import flow, get_run_logger
from sqlalchemy import select

from spets.models import CycleRun, OrgUnit
from spets.services import cycles
from spets.services.calendar import local_today
from spets.workflows.database import database_task
from spets.workflows.runtime import (
    batch_size_within,
    chunks,
    get_runtime,
    log_event,
    resolve_now,
)


@dataclass
class OpenRun:
    """A cycle run that is open today, with the schools its definition covers."""

    run_id: int
    definition_id: int
    period_key: str
    created: bool
    schools: list[tuple[int, str]]


@dataclass
class TickSummary:
    runs_opened: int = 0
    runs_closed: int = 0
    tasks_created: int = 0
    tasks_cancelled: int = 0
    batches: int = 0
    period_keys: list[str] = field(default_factory=list)


@database_task(name="open-cycle-runs")
def open_cycle_runs(now: datetime, config: str | None) -> list[OpenRun]:
    """Open the run of every period the calendar calls for today, once, and list its schools."""
    runtime = get_runtime(config)
    opened = []
    with runtime.session_factory() as session, session.begin():
        for definition in cycles.active_definitions(session):
            tenant = session.get(OrgUnit, definition.tenant_id)
            today = local_today(now, tenant.timezone)
            for period in cycles.due_periods(session, definition, today):
                existed = session.scalar(
                    select(CycleRun.id).where(
                        CycleRun.definition_id == definition.id,
                        CycleRun.period_key == period.key,
                    )
                )
                run = cycles.open_run(session, definition, period, now)
                schools = cycles.schools_of_definition(session, definition)
                opened.append(OpenRun(run.id, definition.id, period.key, existed is None, schools))
    logger = get_run_logger()
    for run in opened:
        log_event(
            logger,
            "cycle_run_open",
            run_id=run.run_id,
            definition_id=run.definition_id,
            period=run.period_key,
            new_run=run.created,
            schools=len(run.schools),
        )
    return opened


@database_task(
    name="generate-tasks", task_run_name="generate-tasks-run-{run_id}-batch-{batch_number}"
)
def generate_batch(
    run_id: int,
    batch_number: int,
    schools: list[tuple[int, str]],
    now: datetime,
    config: str | None,
) -> cycles.GenerationResult:
    """Create the missing tasks of one run for one batch of schools, in one transaction."""
    runtime = get_runtime(config)
    with runtime.session_factory() as session, session.begin():
        run = session.get(CycleRun, run_id)
        result = cycles.generate_tasks(session, run, schools, now)
    log_event(
        get_run_logger(),
        "tasks_generated",
        run_id=run_id,
        batch=batch_number,
        first_school_id=schools[0][0],
        last_school_id=schools[-1][0],
        schools=result.schools,
        tasks_created=result.created,
        tasks_cancelled=result.cancelled,
    )
    return result


@database_task(name="close-finished-runs")
def close_runs(now: datetime, config: str | None) -> int:
    """Close the runs whose period ended before today in the zone of an active definition."""
    runtime = get_runtime(config)
    with runtime.session_factory() as session, session.begin():
        zones = {
            session.get(OrgUnit, definition.tenant_id).timezone
            for definition in cycles.active_definitions(session)
        }
        closed = sum(
            cycles.close_finished_runs(session, local_today(now, zone)) for zone in sorted(zones)
        )
    log_event(get_run_logger(), "cycle_runs_closed", closed=closed)
    return closed


@flow(name="calendar-tick")
def calendar_tick(
    now: datetime | None = None, batch_size: int = 500, config: str | None = None
) -> TickSummary:
    """Open and close cycle runs on the term calendar's dates and generate their tasks in batches.

    `now` defaults to the time the flow starts; `config` to $SPETS_CONFIG or development.ini.
    """
    now = resolve_now(now)
    summary = TickSummary()
    runs = open_cycle_runs(now, config)
    size = batch_size_within(sum(len(run.schools) for run in runs), batch_size)
    for run in runs:
        summary.runs_opened += int(run.created)
        summary.period_keys.append(run.period_key)
        for number, batch in enumerate(chunks(run.schools, size), start=1):
            result = generate_batch(run.run_id, number, batch, now, config)
            summary.tasks_created += result.created
            summary.tasks_cancelled += result.cancelled
            summary.batches += 1
    summary.runs_closed = close_runs(now, config)
    log_event(
        get_run_logger(),
        "calendar_tick_done",
        now=now.isoformat(),
        runs_opened=summary.runs_opened,
        runs_closed=summary.runs_closed,
        tasks_created=summary.tasks_created,
        tasks_cancelled=summary.tasks_cancelled,
        batches=summary.batches,
    )
    return summary
