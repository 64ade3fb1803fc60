"""Reminder and escalation flows: sweep school batch by school batch, then send one digest each.

Each batch is a Prefect task run that calls the service's sweep for its schools in one short
transaction. The digest task runs once, after every batch, so a teacher or supervisor gets
one message per flow run however many schools and tasks it covers. A sweep inserts only the
steps not yet recorded and a digest queues each message under a key naming its cause, so a
second run, or a re-run after a crash, records and sends nothing twice.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from prefect import flow, get_run_logger
from sqlalchemy import select
from sqlalchemy.orm import Session

from spets.models import PENDING_STATES, Task
from spets.services import engine
from spets.workflows.database import database_task
from spets.workflows.runtime import (
    SCHOOLS_PER_TASK_RUN,
    SchoolBatches,
    get_runtime,
    log_event,
    resolve_now,
)


@dataclass
class SweepSummary:
    schools: int = 0
    batches: int = 0
    steps: int = 0
    tasks: int = 0
    messages: int = 0
    recipients: int = 0
    unreachable: int = 0


def _schools_with_due_steps(
    session: Session, column, now: datetime, id_range: tuple[int, int] | None = None
) -> list[int]:
    """Return the ids of schools with a pending task whose next step (`column`) has come.

    The condition repeats the one the sweep applies, so no school with work is left out.
    `id_range` (first, last) keeps the schools whose ids lie between the two, both included.
    """
    query = select(Task.school_id).where(column <= now, Task.state.in_(PENDING_STATES))
    if id_range is not None:
        query = query.where(Task.school_id.between(*id_range))
    return list(session.scalars(query.distinct().order_by(Task.school_id)))


STEP_COLUMNS = {"reminder": Task.next_reminder_at, "escalation": Task.next_escalation_at}


@database_task(name="find-schools-due")
def find_schools_due(
    step: str, now: datetime, batch_size: int, config: str | None
) -> SchoolBatches:
    """Find the schools with reminders (`step="reminder"`) or escalations that have come."""
    with get_runtime(config).session_factory() as session:
        school_ids = _schools_with_due_steps(session, STEP_COLUMNS[step], now)
    return SchoolBatches.of(school_ids, batch_size)


def _sweep(
    sweep: Callable[..., engine.SweepResult],
    step: str,
    batch_number: int,
    id_range: tuple[int, int],
    now: datetime,
    config: str | None,
) -> engine.SweepResult:
    with get_runtime(config).session_factory() as session, session.begin():
        school_ids = _schools_with_due_steps(session, STEP_COLUMNS[step], now, id_range)
        result = sweep(session, now, school_ids=school_ids)
    log_event(
        get_run_logger(),
        f"{step}s_swept",
        batch=batch_number,
        first_school_id=id_range[0],
        last_school_id=id_range[1],
        schools=len(school_ids),
        steps=result.steps,
        tasks=result.tasks,
    )
    return result


@database_task(name="sweep-reminders", task_run_name="sweep-reminders-batch-{batch_number}")
def sweep_reminder_batch(
    batch_number: int, first_school_id: int, last_school_id: int, now: datetime, config: str | None
) -> engine.SweepResult:
    """Record the reminders that have come for the schools with ids in the range."""
    id_range = (first_school_id, last_school_id)
    return _sweep(engine.sweep_reminders, "reminder", batch_number, id_range, now, config)


@database_task(name="sweep-escalations", task_run_name="sweep-escalations-batch-{batch_number}")
def sweep_escalation_batch(
    batch_number: int, first_school_id: int, last_school_id: int, now: datetime, config: str | None
) -> engine.SweepResult:
    """Record the escalation levels that have come for the schools with ids in the range."""
    id_range = (first_school_id, last_school_id)
    return _sweep(engine.sweep_escalations, "escalation", batch_number, id_range, now, config)


@database_task(name="queue-reminder-digests")
def queue_reminder_digests(now: datetime, config: str | None) -> engine.DigestResult:
    """Queue one message per teacher for every reminder not yet notified."""
    runtime = get_runtime(config)
    with runtime.session_factory() as session, session.begin():
        result = engine.send_reminder_digests(session, now, runtime.base_url)
    log_event(
        get_run_logger(),
        "reminder_digests_queued",
        messages=result.messages,
        recipients=result.recipients,
        items=result.items,
    )
    return result


@database_task(name="queue-escalation-digests")
def queue_escalation_digests(now: datetime, config: str | None) -> engine.DigestResult:
    """Queue one message per supervisor for every escalation not yet notified."""
    runtime = get_runtime(config)
    with runtime.session_factory() as session, session.begin():
        result = engine.send_escalation_digests(session, now, runtime.base_url)
    log_event(
        get_run_logger(),
        "escalation_digests_queued",
        messages=result.messages,
        recipients=result.recipients,
        items=result.items,
        unreachable=result.unreachable,
    )
    return result


def _add(summary: SweepSummary, result: engine.SweepResult) -> None:
    summary.batches += 1
    summary.steps += result.steps
    summary.tasks += result.tasks


def _add_digest(summary: SweepSummary, digest: engine.DigestResult) -> None:
    summary.messages = digest.messages
    summary.recipients = digest.recipients
    summary.unreachable = digest.unreachable


@flow(name="send-reminders")
async def send_reminders(
    now: datetime | None = None, batch_size: int = SCHOOLS_PER_TASK_RUN, config: str | None = None
) -> SweepSummary:
    """Record the reminders that have come, batch by batch, then queue one digest per teacher.

    `now` defaults to the time the flow starts; `config` to $SPETS_CONFIG or development.ini.
    """
    now = resolve_now(now)
    due = await find_schools_due("reminder", now, batch_size, config)
    summary = SweepSummary(schools=due.schools)
    for number, (first, last) in enumerate(due.batches, start=1):
        _add(summary, await sweep_reminder_batch(number, first, last, now, config))
    _add_digest(summary, await queue_reminder_digests(now, config))
    log_event(get_run_logger(), "send_reminders_done", now=now.isoformat(), **vars(summary))
    return summary


@flow(name="escalate")
async def escalate(
    now: datetime | None = None, batch_size: int = SCHOOLS_PER_TASK_RUN, config: str | None = None
) -> SweepSummary:
    """Record the escalation levels that have come, batch by batch, then queue one digest per supervisor.

    `now` defaults to the time the flow starts; `config` to $SPETS_CONFIG or development.ini.
    """
    now = resolve_now(now)
    due = await find_schools_due("escalation", now, batch_size, config)
    summary = SweepSummary(schools=due.schools)
    for number, (first, last) in enumerate(due.batches, start=1):
        _add(summary, await sweep_escalation_batch(number, first, last, now, config))
    _add_digest(summary, await queue_escalation_digests(now, config))
    log_event(get_run_logger(), "escalate_done", now=now.isoformat(), **vars(summary))
    return summary
