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
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, String, and_, func, literal, or_, select, union_all, update
from sqlalchemy.orm import Session, selectinload

from spets.i18n import _
from spets.models import (
    PENDING_STATES,
    CycleRun,
    OrgUnit,
    Role,
    RoleAssignment,
    StepKind,
    Task,
    TaskEscalation,
    TaskReminder,
    TaskScheduleStep,
    User,
)
from spets.services import messaging
from spets.services.bulk import insert_ignore_select
from spets.services.tasks import describe

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
    progress = _progress_per_schedule(StepKind.REMINDER, func.count(TaskScheduleStep.id), now)
    moved = session.execute(
        update(Task)
        .where(due, Task.schedule_id == progress.c.schedule_id)
        .values(reminders_sent=progress.c.reached, next_reminder_at=progress.c.upcoming)
        .execution_options(synchronize_session=False)
    ).rowcount
    return SweepResult(added, moved or 0)


def _progress_per_schedule(kind: StepKind, reached, now: datetime):
    """Per schedule: how far its steps of `kind` have come by `now`, and when the next one fires.

    Computed once per schedule rather than once per task, so the task update is one join.
    """
    return (
        select(
            TaskScheduleStep.schedule_id,
            reached.filter(TaskScheduleStep.at <= now).label("reached"),
            func.min(TaskScheduleStep.at).filter(TaskScheduleStep.at > now).label("upcoming"),
        )
        .where(TaskScheduleStep.kind == kind)
        .group_by(TaskScheduleStep.schedule_id)
        .subquery("progress")
    )


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
    progress = _progress_per_schedule(StepKind.ESCALATION, func.max(TaskScheduleStep.number), now)
    moved = session.execute(
        update(Task)
        .where(due, Task.schedule_id == progress.c.schedule_id)
        .values(
            escalation_level=func.coalesce(progress.c.reached, Task.escalation_level),
            next_escalation_at=progress.c.upcoming,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    _resolve_recipients(session, now, school_ids)
    return SweepResult(added, moved or 0)


def _resolve_recipients(session: Session, now: datetime, school_ids: Sequence[int] | None) -> None:
    """Give each new escalation the supervisor who holds its role nearest above the school.

    The role holders of the tenant are loaded once, the nearest one is found per (school,
    role) in memory, and the escalations are updated with one statement per chunk of pairs.
    """
    query = (
        select(Task.school_id, OrgUnit.path, TaskEscalation.role, OrgUnit.timezone)
        .join(Task, Task.id == TaskEscalation.task_id)
        .join(OrgUnit, OrgUnit.id == Task.school_id)
        .where(TaskEscalation.recipient_id.is_(None), TaskEscalation.notified.is_(False))
        .distinct()
    )
    if school_ids is not None:
        query = query.where(Task.school_id.in_(list(school_ids)))
    pairs = session.execute(query).all()
    if not pairs:
        return

    roles = {pair.role for pair in pairs}
    holders_by_zone = {
        zone: _role_holders_by_unit(session, roles, now.astimezone(ZoneInfo(zone)).date())
        for zone in {pair.timezone for pair in pairs}
    }
    mapping = []
    for school_id, path, role, zone in pairs:
        recipient = _nearest_holder(holders_by_zone[zone].get(role, {}), path)
        if recipient is None:
            log.warning(
                "escalation_without_recipient", extra={"school_id": school_id, "role": role}
            )
            continue
        mapping.append((school_id, role, recipient))

    for start in range(0, len(mapping), 400):
        chunk = mapping[start : start + 400]
        pairs_table = union_all(
            *[
                select(
                    literal(school_id, Integer).label("school_id"),
                    literal(role, String).label("role"),
                    literal(recipient, Integer).label("recipient_id"),
                )
                for school_id, role, recipient in chunk
            ]
        ).subquery("pairs")
        session.execute(
            update(TaskEscalation)
            .where(
                TaskEscalation.task_id == Task.id,
                Task.school_id == pairs_table.c.school_id,
                TaskEscalation.role == pairs_table.c.role,
                TaskEscalation.recipient_id.is_(None),
                TaskEscalation.notified.is_(False),
            )
            .values(recipient_id=pairs_table.c.recipient_id)
            .execution_options(synchronize_session=False)
        )


def _role_holders_by_unit(session: Session, roles: set[str], today) -> dict[str, dict[int, int]]:
    """Return {role: {org unit id: the lowest user id holding the role there on `today`}}."""
    rows = session.execute(
        select(RoleAssignment.role, RoleAssignment.org_unit_id, func.min(RoleAssignment.user_id))
        .join(User, User.id == RoleAssignment.user_id)
        .where(
            RoleAssignment.role.in_([Role(role) for role in roles]),
            RoleAssignment.valid_from <= today,
            or_(RoleAssignment.valid_to.is_(None), RoleAssignment.valid_to >= today),
            User.is_active.is_(True),
        )
        .group_by(RoleAssignment.role, RoleAssignment.org_unit_id)
    ).all()
    holders: dict[str, dict[int, int]] = defaultdict(dict)
    for role, unit_id, user_id in rows:
        holders[role.value][unit_id] = user_id
    return holders


def _nearest_holder(by_unit: dict[int, int], school_path: str) -> int | None:
    for unit_id in reversed([int(part) for part in school_path.strip("/").split("/") if part]):
        if unit_id in by_unit:
            return by_unit[unit_id]
    return None


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
