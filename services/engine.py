"""Reminder and escalation sweeps, and the digests they send.

A sweep is three set-based statements over the tasks whose next step is due, found
through a partial index on `next_reminder_at` or `next_escalation_at`:

1. insert the steps that have come (a reminder row per (task, offset), an escalation row
   per (task, level)), skipping those already there;
2. move each task's counter and next step time forward;
3. later, one digest per recipient gathers everything not yet notified.

Each statement filters on the task's state as it is when the statement runs, so a task
submitted a minute earlier is neither reminded nor escalated.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, literal, select, update
from sqlalchemy.orm import Session, selectinload

from spets.i18n import _
from spets.models import (
    PENDING_STATES,
    CycleRun,
    OrgUnit,
    Role,
    StepKind,
    Task,
    TaskEscalation,
    TaskReminder,
    TaskScheduleStep,
    User,
)
from spets.services import messaging
from spets.services.bulk import insert_ignore_select
from spets.services.tasks import describe, role_holders

log = logging.getLogger(__name__)


def _due(column, now: datetime, school_ids: Sequence[int] | None):
    conditions = [column <= now, Task.state.in_(PENDING_STATES)]
    if school_ids is not None:
        conditions.append(Task.school_id.in_(list(school_ids)))
    return and_(*conditions)


def _step(kind: StepKind):
    return and_(TaskScheduleStep.schedule_id == Task.schedule_id, TaskScheduleStep.kind == kind)


@dataclass
class SweepResult:
    steps: int = 0
    tasks: int = 0


def sweep_reminders(
    session: Session, now: datetime, school_ids: Sequence[int] | None = None
) -> SweepResult:
    """Record the reminders that have come for pending tasks; the digest sends them."""
    due = _due(Task.next_reminder_at, now, school_ids)
    added = insert_ignore_select(
        session,
        TaskReminder.__table__,
        ["task_id", "offset_days", "sent_at", "notified"],
        select(Task.id, TaskScheduleStep.offset_days, literal(now), literal(False))
        .join(
            TaskScheduleStep,
            and_(
                _step(StepKind.REMINDER),
                TaskScheduleStep.number > Task.reminders_sent,
                TaskScheduleStep.at <= now,
            ),
        )
        .where(due),
    )
    sent = select(func.count(TaskScheduleStep.id)).where(
        _step(StepKind.REMINDER), TaskScheduleStep.at <= now
    )
    upcoming = select(func.min(TaskScheduleStep.at)).where(
        _step(StepKind.REMINDER), TaskScheduleStep.at > now
    )
    moved = session.execute(
        update(Task)
        .where(due)
        .values(reminders_sent=sent.scalar_subquery(), next_reminder_at=upcoming.scalar_subquery())
        .execution_options(synchronize_session=False)
    ).rowcount
    return SweepResult(added, moved or 0)


def sweep_escalations(
    session: Session, now: datetime, school_ids: Sequence[int] | None = None
) -> SweepResult:
    """Record the escalation levels that have come for pending tasks and find who receives them."""
    due = _due(Task.next_escalation_at, now, school_ids)
    added = insert_ignore_select(
        session,
        TaskEscalation.__table__,
        ["task_id", "level", "role", "fired_at", "notified"],
        select(
            Task.id, TaskScheduleStep.number, TaskScheduleStep.role, literal(now), literal(False)
        )
        .join(
            TaskScheduleStep,
            and_(
                _step(StepKind.ESCALATION),
                TaskScheduleStep.number > Task.escalation_level,
                TaskScheduleStep.at <= now,
            ),
        )
        .where(due),
    )
    reached = select(func.max(TaskScheduleStep.number)).where(
        _step(StepKind.ESCALATION), TaskScheduleStep.at <= now
    )
    upcoming = select(func.min(TaskScheduleStep.at)).where(
        _step(StepKind.ESCALATION), TaskScheduleStep.at > now
    )
    moved = session.execute(
        update(Task)
        .where(due)
        .values(
            escalation_level=reached.scalar_subquery(),
            next_escalation_at=upcoming.scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    _resolve_recipients(session, now, school_ids)
    return SweepResult(added, moved or 0)


def _resolve_recipients(session: Session, now: datetime, school_ids: Sequence[int] | None) -> None:
    """Give each new escalation the supervisor who holds its role nearest above the school."""
    query = (
        select(TaskEscalation.id, TaskEscalation.role, Task.school_id)
        .join(Task, Task.id == TaskEscalation.task_id)
        .where(TaskEscalation.recipient_id.is_(None), TaskEscalation.notified.is_(False))
    )
    if school_ids is not None:
        query = query.where(Task.school_id.in_(list(school_ids)))
    pending = session.execute(query).all()
    holders: dict[tuple[int, str], int | None] = {}
    updates = []
    for escalation_id, role, school_id in pending:
        key = (school_id, role)
        if key not in holders:
            school = session.get(OrgUnit, school_id)
            found = role_holders(session, school, Role(role), now)
            holders[key] = found[0].id if found else None
            if not found:
                log.warning(
                    "escalation_without_recipient", extra={"school_id": school_id, "role": role}
                )
        if holders[key] is not None:
            updates.append({"escalation_id": escalation_id, "recipient_id": holders[key]})
    for row in updates:
        session.execute(
            update(TaskEscalation)
            .where(TaskEscalation.id == row["escalation_id"])
            .values(recipient_id=row["recipient_id"])
            .execution_options(synchronize_session=False)
        )


# Digests.


@dataclass
class DigestResult:
    messages: int = 0
    recipients: int = 0
    items: int = 0
    unreachable: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


def send_reminder_digests(session: Session, now: datetime, base_url: str = "") -> DigestResult:
    """Queue one message per assignee for all their reminders not yet notified."""
    rows = session.execute(
        select(TaskReminder, Task)
        .join(Task, Task.id == TaskReminder.task_id)
        .options(
            selectinload(Task.section),
            selectinload(Task.subject),
            selectinload(Task.cycle_run).selectinload(CycleRun.definition),
        )
        .where(TaskReminder.notified.is_(False))
        .order_by(Task.assignee_id, Task.due_on, TaskReminder.id)
    ).all()
    by_user: dict[int, list[tuple[TaskReminder, Task]]] = defaultdict(list)
    for reminder, task in rows:
        by_user[task.assignee_id].append((reminder, task))

    result = DigestResult()
    for user_id, items in by_user.items():
        user = session.get(User, user_id)
        # Only tasks still pending are named; a reminder of a task submitted since is dropped.
        pending = [(reminder, task) for reminder, task in items if task.is_pending]
        if pending:
            key = f"reminders:{user_id}:{min(reminder.id for reminder, _task in pending)}"
            lines = "\n".join(
                f"- {describe(task, user.locale)}: {task.due_on.strftime('%d/%m/%Y')}"
                for _reminder, task in pending
            )
            draft = messaging.Draft(
                subject=_(
                    "reminder_subject",
                    default="Reminder: ${count} task(s) due",
                    mapping={"count": len(pending)},
                ),
                body=_(
                    "reminder_body",
                    default="These tasks are waiting for you (due date after each):\n${lines}",
                    mapping={"lines": lines},
                ),
                sms=_(
                    "reminder_sms",
                    default="SPeTS: ${count} task(s) due, the first on ${due}.",
                    mapping={"count": len(pending), "due": pending[0][1].due_on.strftime("%d/%m")},
                ),
                link=f"{base_url}/tasks",
            )
            result.messages += messaging.queue(
                session, key=key, recipient=user, draft=draft, now=now
            )
            result.recipients += 1
            result.items += len(pending)
        for reminder, _task in items:
            reminder.notified = True
    session.flush()
    return result


def send_escalation_digests(session: Session, now: datetime, base_url: str = "") -> DigestResult:
    """Queue one message per supervisor for all escalations sent to them and not yet notified."""
    rows = session.execute(
        select(TaskEscalation, Task)
        .join(Task, Task.id == TaskEscalation.task_id)
        .options(
            selectinload(Task.section),
            selectinload(Task.subject),
            selectinload(Task.school),
            selectinload(Task.assignee),
            selectinload(Task.cycle_run).selectinload(CycleRun.definition),
        )
        .where(TaskEscalation.notified.is_(False))
        .order_by(TaskEscalation.recipient_id, Task.school_id, Task.due_on)
    ).all()
    by_user: dict[int | None, list[tuple[TaskEscalation, Task]]] = defaultdict(list)
    for escalation, task in rows:
        by_user[escalation.recipient_id].append((escalation, task))

    result = DigestResult()
    for user_id, items in by_user.items():
        if user_id is None:
            result.unreachable += len(items)
            for escalation, _task in items:
                escalation.notified = True  # nobody holds the role: logged when the sweep ran
            continue
        user = session.get(User, user_id)
        key = f"escalations:{user_id}:{min(escalation.id for escalation, _task in items)}"
        lines = "\n".join(
            f"- {task.school.name(user.locale)} · {describe(task, user.locale)} · {task.assignee.display_name}: "
            f"{task.due_on.strftime('%d/%m/%Y')}"
            for _escalation, task in items
        )
        draft = messaging.Draft(
            subject=_(
                "escalation_subject",
                default="${count} late task(s) need your attention",
                mapping={"count": len(items)},
            ),
            body=_(
                "escalation_body",
                default="These tasks are past their due date and have been escalated to you:\n${lines}",
                mapping={"lines": lines},
            ),
            sms=_(
                "escalation_sms",
                default="SPeTS: ${count} late task(s) escalated to you.",
                mapping={"count": len(items)},
            ),
            link=f"{base_url}/escalations",
        )
        result.messages += messaging.queue(session, key=key, recipient=user, draft=draft, now=now)
        result.recipients += 1
        result.items += len(items)
        for escalation, _task in items:
            escalation.notified = True
    session.flush()
    return result
