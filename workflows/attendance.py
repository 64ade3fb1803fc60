"""Attendance sweeps: guardians' absence SMS, and early-warning flags with plan reviews.

`absence_notices` runs every half hour in school hours. Per batch of schools it first
cancels the daily attendance tasks of days that a late holiday or closure took away. It
then queues an SMS to the guardian of each student absent today for the first day
running, in schools that switched the message on. The SMS is queued by the sweep, not when the register is saved,
so a correction made before the sweep sends nothing; each message's key names (student,
day), so a re-run, or a re-run after a crash, queues nothing twice. `deliver-outbox` sends
what is queued.

`early_warnings` runs nightly. Per batch of schools it recomputes the early-warning flags
and opens the tasks of intervention plan reviews whose day has come. Both are idempotent:
the flags are compared with what is stored, and a review task is keyed by its review.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from prefect import flow, get_run_logger
from sqlalchemy import select

from spets.models import (
    PENDING_STATES,
    AttendanceOptions,
    CycleKind,
    OrgKind,
    OrgUnit,
    Task,
)
from spets.services import attendance, plans, warnings
from spets.services.calendar import local_today
from spets.workflows.database import database_task
from spets.workflows.runtime import (
    SchoolBatches,
    get_runtime,
    log_event,
    resolve_now,
)

# Cron expressions in Karachi time for workflows/deployments.py. Absence SMS go out every
# half hour from 07:00 to 17:30, so the absences of a register saved in the morning are
# messaged within the hour. Flags and plan reviews are computed at 01:00, after the
# calendar tick (00:15) and the escalations (00:30).
ABSENCE_NOTICES_SCHEDULE = "*/30 7-17 * * *"
EARLY_WARNINGS_SCHEDULE = "0 1 * * *"


@dataclass
class NoticeSummary:
    schools: int = 0
    batches: int = 0
    tasks_cancelled: int = 0
    queued: int = 0
    revived: int = 0
    cancelled: int = 0
    without_phone: int = 0


def _attendance_school_ids(
    session, now: datetime, id_range: tuple[int, int] | None = None
) -> list[int]:
    """Return schools that send absence SMS or have pending attendance tasks from the last 60 days.

    `id_range` (first, last) keeps the schools whose ids lie between the two, both included.
    """
    horizon = local_today(now) - timedelta(days=60)
    notifying = select(AttendanceOptions.school_id).where(
        AttendanceOptions.notify_guardian_of_absence.is_(True)
    )
    with_tasks = select(Task.school_id).where(
        Task.kind == CycleKind.DAILY_ATTENDANCE,
        Task.state.in_(PENDING_STATES),
        Task.opens_on >= horizon,
    )
    if id_range is not None:
        notifying = notifying.where(AttendanceOptions.school_id.between(*id_range))
        with_tasks = with_tasks.where(Task.school_id.between(*id_range))
    return sorted(set(session.scalars(notifying)) | set(session.scalars(with_tasks.distinct())))


@database_task(name="find-attendance-schools")
def find_attendance_schools(now: datetime, batch_size: int, config: str | None) -> SchoolBatches:
    """Cut the schools the absence sweep must visit into batches of school ids."""
    with get_runtime(config).session_factory() as session:
        return SchoolBatches.of(_attendance_school_ids(session, now), batch_size)


@database_task(name="queue-absence-notices", task_run_name="absence-notices-batch-{batch_number}")
def notice_batch(
    batch_number: int, first_school_id: int, last_school_id: int, now: datetime, config: str | None
) -> tuple[int, attendance.NoticeResult]:
    """Cancel the tasks of days off, then queue the first-day absence SMS of one batch."""
    with get_runtime(config).session_factory() as session, session.begin():
        school_ids = _attendance_school_ids(session, now, (first_school_id, last_school_id))
        cancelled = attendance.cancel_tasks_of_days_off(session, now, school_ids)
        result = attendance.queue_absence_notices(session, now, school_ids)
    log_event(
        get_run_logger(),
        "absence_notices_queued",
        batch=batch_number,
        first_school_id=first_school_id,
        last_school_id=last_school_id,
        tasks_cancelled=cancelled,
        queued=result.queued,
        revived=result.revived,
        cancelled=result.cancelled,
        without_phone=result.without_phone,
    )
    return cancelled, result


@flow(name="absence-notices")
async def absence_notices(
    now: datetime | None = None, batch_size: int = 500, config: str | None = None
) -> NoticeSummary:
    """Queue today's first-day absence SMS, school batch by school batch.

    `now` defaults to the time the flow starts; `config` to $SPETS_CONFIG or development.ini.
    """
    now = resolve_now(now)
    found = await find_attendance_schools(now, batch_size, config)
    summary = NoticeSummary(schools=found.schools)
    for number, (first, last) in enumerate(found.batches, start=1):
        cancelled, result = await notice_batch(number, first, last, now, config)
        summary.batches += 1
        summary.tasks_cancelled += cancelled
        summary.queued += result.queued
        summary.revived += result.revived
        summary.cancelled += result.cancelled
        summary.without_phone += result.without_phone
    log_event(get_run_logger(), "absence_notices_done", now=now.isoformat(), **vars(summary))
    return summary


@dataclass
class WarningSummary:
    schools: int = 0
    batches: int = 0
    students: int = 0
    raised: int = 0
    updated: int = 0
    resolved: int = 0
    reviews_opened: int = 0


def _active_school_ids(session, id_range: tuple[int, int] | None = None) -> list[int]:
    query = select(OrgUnit.id).where(OrgUnit.kind == OrgKind.SCHOOL, OrgUnit.is_active.is_(True))
    if id_range is not None:
        query = query.where(OrgUnit.id.between(*id_range))
    return list(session.scalars(query.order_by(OrgUnit.id)))


@database_task(name="find-active-schools")
def find_active_schools(batch_size: int, config: str | None) -> SchoolBatches:
    """Cut the active schools into batches of school ids."""
    with get_runtime(config).session_factory() as session:
        return SchoolBatches.of(_active_school_ids(session), batch_size)


@database_task(name="compute-flags", task_run_name="compute-flags-batch-{batch_number}")
def warning_batch(
    batch_number: int, first_school_id: int, last_school_id: int, now: datetime, config: str | None
) -> tuple[warnings.FlagResult, int]:
    """Recompute the flags of one batch of schools and open their due review tasks."""
    with get_runtime(config).session_factory() as session, session.begin():
        school_ids = _active_school_ids(session, (first_school_id, last_school_id))
        result = warnings.compute_flags(session, now, school_ids)
        opened = plans.open_due_reviews(session, now, school_ids=school_ids)
    log_event(
        get_run_logger(),
        "flags_computed",
        batch=batch_number,
        first_school_id=first_school_id,
        last_school_id=last_school_id,
        students=result.students,
        raised=result.raised,
        updated=result.updated,
        resolved=result.resolved,
        reviews_opened=opened,
    )
    return result, opened


@flow(name="early-warnings")
async def early_warnings(
    now: datetime | None = None, batch_size: int = 200, config: str | None = None
) -> WarningSummary:
    """Recompute every school's early-warning flags and open due plan reviews, batch by batch.

    `now` defaults to the time the flow starts; `config` to $SPETS_CONFIG or development.ini.
    """
    now = resolve_now(now)
    found = await find_active_schools(batch_size, config)
    summary = WarningSummary(schools=found.schools)
    for number, (first, last) in enumerate(found.batches, start=1):
        result, opened = await warning_batch(number, first, last, now, config)
        summary.batches += 1
        summary.students += result.students
        summary.raised += result.raised
        summary.updated += result.updated
        summary.resolved += result.resolved
        summary.reviews_opened += opened
    log_event(get_run_logger(), "early_warnings_done", now=now.isoformat(), **vars(summary))
    return summary
