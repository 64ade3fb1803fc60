"""The daily calendar tick: open the cycle runs the calendar calls for and generate their tasks.

The flow repeats `services.cycles.tick` step by step, so each batch of schools is a Prefect
task run in its own short transaction. Generation inserts only missing rows, so a second
run, an overlapping run or a re-run after a crash leaves the tasks of one clean run.
"""

from dataclasses import dataclass, field
from datetime import datetime

from prefect import flow, get_run_logger
from sqlalchemy import select

from spets.models import CycleDefinition, CycleRun, OrgUnit
from spets.services import cycles
from spets.services.calendar import local_today
from spets.workflows.database import database_task
from spets.workflows.runtime import (
    SCHOOLS_PER_TASK_RUN,
    batch_size_within,
    chunks,
    get_runtime,
    log_event,
    resolve_now,
)


@dataclass
class OpenRun:
    """A cycle run that is open today, with its schools cut into batches of school ids.

    A batch is the (first, last) id of its schools. Task runs carry these two numbers, not
    the schools: Prefect records every parameter and result of a task run, and lists of
    17,000 schools cost it about 0.7 s a tick (benchmarks/engine_region.py).
    """

    run_id: int
    definition_id: int
    period_key: str
    created: bool
    schools: int
    batches: list[tuple[int, int]]


@dataclass
class TickSummary:
    runs_opened: int = 0
    runs_closed: int = 0
    tasks_created: int = 0
    tasks_cancelled: int = 0
    batches: int = 0
    period_keys: list[str] = field(default_factory=list)


def _id_ranges(schools: list[tuple[int, str]], size: int) -> list[tuple[int, int]]:
    return [(batch[0][0], batch[-1][0]) for batch in chunks(schools, size)]


@database_task(name="open-cycle-runs")
def open_cycle_runs(now: datetime, batch_size: int, config: str | None) -> list[OpenRun]:
    """Open the run of every period the calendar calls for today, once, and batch its schools.

    Batches hold `batch_size` schools, or more when a flow run would otherwise make more
    than about MAX_TASK_RUNS task runs.
    """
    runtime = get_runtime(config)
    found = []
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
                found.append((run.id, definition.id, period.key, existed is None, schools))

    size = batch_size_within(sum(len(item[4]) for item in found), batch_size)
    opened = [
        OpenRun(run_id, definition_id, key, created, len(schools), _id_ranges(schools, size))
        for run_id, definition_id, key, created, schools in found
    ]
    logger = get_run_logger()
    for run in opened:
        log_event(
            logger,
            "cycle_run_open",
            run_id=run.run_id,
            definition_id=run.definition_id,
            period=run.period_key,
            new_run=run.created,
            schools=run.schools,
            batches=len(run.batches),
        )
    return opened


@database_task(
    name="generate-tasks", task_run_name="generate-tasks-run-{run_id}-batch-{batch_number}"
)
def generate_batch(
    run_id: int,
    batch_number: int,
    first_school_id: int,
    last_school_id: int,
    now: datetime,
    config: str | None,
) -> cycles.GenerationResult:
    """Create the missing tasks of one run for its schools with ids in the range, in one transaction."""
    runtime = get_runtime(config)
    with runtime.session_factory() as session, session.begin():
        run = session.get(CycleRun, run_id)
        definition = session.get(CycleDefinition, run.definition_id)
        schools = cycles.schools_of_definition(
            session, definition, (first_school_id, last_school_id)
        )
        result = cycles.generate_tasks(session, run, schools, now)
    log_event(
        get_run_logger(),
        "tasks_generated",
        run_id=run_id,
        batch=batch_number,
        first_school_id=first_school_id,
        last_school_id=last_school_id,
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
async def calendar_tick(
    now: datetime | None = None, batch_size: int = SCHOOLS_PER_TASK_RUN, config: str | None = None
) -> TickSummary:
    """Open and close cycle runs on the term calendar's dates and generate their tasks in batches.

    `now` defaults to the time the flow starts; `config` to $SPETS_CONFIG or development.ini.
    """
    now = resolve_now(now)
    summary = TickSummary()
    runs = await open_cycle_runs(now, batch_size, config)
    for run in runs:
        summary.runs_opened += int(run.created)
        summary.period_keys.append(run.period_key)
        for number, (first, last) in enumerate(run.batches, start=1):
            result = await generate_batch(run.run_id, number, first, last, now, config)
            summary.tasks_created += result.created
            summary.tasks_cancelled += result.cancelled
            summary.batches += 1
    summary.runs_closed = await close_runs(now, config)
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
