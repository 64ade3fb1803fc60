"""Moving tasks through their life cycle, and the lists that teachers and supervisors work from."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from spets.forms import vocab
from spets.i18n import TranslationString, _
from spets.models import (
    PENDING_STATES,
    CycleDefinition,
    CycleRun,
    OrgUnit,
    Role,
    RoleAssignment,
    Task,
    TaskEscalation,
    TaskSchedule,
    TaskState,
    User,
)
from spets.services import messaging
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, Locked, StaleEdit
from spets.services.scope import Principal
from spets.state_machines.base import TransitionNotAllowed, fire
from spets.state_machines.tasks import TASK_MACHINE

# After a return, the assignee gets this many more school days from the day of the return.
RETURN_GRACE_SCHOOL_DAYS = 2

STATE_MESSAGES = {
    "start": _("task_not_startable", default="This task cannot be worked on now: it is ${state}."),
    "submit": _("task_not_submittable", default="This task cannot be submitted: it is ${state}."),
    "approve": _(
        "task_not_approvable",
        default="Only a submitted task can be approved; this one is ${state}.",
    ),
    "send_back": _(
        "task_not_returnable",
        default="Only a submitted task can be returned; this one is ${state}.",
    ),
    "cancel": _("task_not_cancellable", default="This task cannot be cancelled: it is ${state}."),
}


def check_task_version(task: Task, version: int | None) -> None:
    if version is not None and version != task.version:
        raise StaleEdit(
            _(
                "stale_task",
                default="Someone else saved this task after you opened it. Reload it to see the "
                "latest version; your changes were not saved.",
            ),
            current_version=task.version,
        )


def move(
    session: Session,
    task: Task,
    trigger: str,
    *,
    actor: Actor,
    now: datetime,
    comment: str = "",
    version: int | None = None,
) -> Task:
    """Fire `trigger` on the task in a savepoint; on any failure the task keeps its old state."""
    check_task_version(task, version)
    savepoint = session.begin_nested()
    try:
        fire(
            TASK_MACHINE,
            task,
            trigger,
            session=session,
            actor_id=actor.user_id,
            client_addr=actor.client_addr,
            now=now,
            comment=comment,
        )
        session.flush()
    except TransitionNotAllowed as refused:
        savepoint.rollback()
        message = TranslationString(
            STATE_MESSAGES[trigger], mapping={"state": vocab.TASK_STATE[task.state]}
        )
        raise Locked(message) from refused
    except Exception:
        savepoint.rollback()
        session.refresh(task)
        raise
    savepoint.commit()
    return task


def start_task(session: Session, task: Task, *, actor: Actor, now: datetime) -> Task:
    """Mark an open or returned task as in progress when its assignee first saves work."""
    if task.state in (TaskState.OPEN, TaskState.RETURNED):
        move(session, task, "start", actor=actor, now=now)
    elif task.state != TaskState.IN_PROGRESS:
        raise Locked(
            _(
                "task_locked",
                default="This task is ${state} and can no longer change.",
                mapping={"state": vocab.TASK_STATE[task.state]},
            )
        )
    return task


def submit_task(
    session: Session, task: Task, *, actor: Actor, now: datetime, version: int | None = None
) -> Task:
    move(session, task, "submit", actor=actor, now=now, version=version)
    _notify_signoff(session, task, now)
    return task


def approve_task(
    session: Session, task: Task, *, actor: Actor, now: datetime, version: int | None = None
) -> Task:
    move(session, task, "approve", actor=actor, now=now, version=version)
    _notify_assignee(session, task, now, approved=True)
    return task


def return_task(
    session: Session,
    task: Task,
    comment: str,
    *,
    actor: Actor,
    now: datetime,
    version: int | None = None,
) -> Task:
    """Send a submitted task back to its assignee with a comment and a fresh due date."""
    if not comment.strip():
        message = _(
            "return_needs_comment", default="Say what must change: a return needs a comment."
        )
        raise InvalidInput(message, {"comment": message})
    move(session, task, "send_back", actor=actor, now=now, comment=comment.strip(), version=version)
    _give_new_due_date(session, task, now)
    _notify_assignee(session, task, now, approved=False)
    return task


def cancel_task(session: Session, task: Task, *, actor: Actor, now: datetime, comment: str) -> Task:
    return move(session, task, "cancel", actor=actor, now=now, comment=comment)


def _give_new_due_date(session: Session, task: Task, now: datetime) -> None:
    from spets.services.calendar import local_today
    from spets.services.cycles import move_task
    from spets.services.schedules import TenantCalendar, get_or_create_schedule, shift_school_days

    schedule = session.get(TaskSchedule, task.schedule_id)
    definition = session.get(CycleDefinition, schedule.definition_id)
    tenant = session.get(OrgUnit, definition.tenant_id)
    today = local_today(now, tenant.timezone)
    calendar = TenantCalendar.load(session, tenant, today)
    signature, days = calendar.school_days(task.school.path)
    # The new opening day is chosen so that the due date falls the grace days after today.
    opens_on = shift_school_days(
        days, today, RETURN_GRACE_SCHOOL_DAYS - definition.due_after_school_days
    )
    new_schedule = get_or_create_schedule(
        session, definition, opens_on, signature, days, calendar.zone, now
    )
    task.reminders_sent = 0
    move_task(task, new_schedule, now)
    session.flush()


def _notify_signoff(session: Session, task: Task, now: datetime) -> None:
    for supervisor in role_holders(session, task.school, Role.HEAD_TEACHER, now):
        messaging.queue(
            session,
            key=f"submitted:{task.id}:{task.version}:{supervisor.id}",
            recipient=supervisor,
            draft=messaging.Draft(
                subject=_("task_submitted_subject", default="A task waits for your sign-off"),
                body=_(
                    "task_submitted_body",
                    default="${teacher} submitted ${task}. Open the sign-off queue to approve or return it.",
                    mapping={"teacher": task.assignee.display_name, "task": describe(task, "en")},
                ),
                sms=_("task_submitted_sms", default="SPeTS: a task waits for your sign-off."),
                link="/signoff",
            ),
            now=now,
        )


def _notify_assignee(session: Session, task: Task, now: datetime, approved: bool) -> None:
    if approved:
        subject = _("task_approved_subject", default="Your task was approved")
        body = _(
            "task_approved_body",
            default="${task} was approved and is now locked.",
            mapping={"task": describe(task, "en")},
        )
        sms = _("task_approved_sms", default="SPeTS: your task was approved.")
    else:
        subject = _("task_returned_subject", default="Your task was returned")
        body = _(
            "task_returned_body",
            default="${task} was returned with this comment: ${comment}. It is now due on ${due}.",
            mapping={
                "task": describe(task, "en"),
                "comment": task.comment,
                "due": task.due_on.strftime("%d/%m/%Y"),
            },
        )
        sms = _("task_returned_sms", default="SPeTS: your task was returned. Please open it.")
    messaging.queue(
        session,
        key=f"decided:{task.id}:{task.version}",
        recipient=task.assignee,
        draft=messaging.Draft(subject=subject, body=body, sms=sms, link=f"/tasks/{task.id}"),
        now=now,
    )


def describe(task: Task, locale: str) -> str:
    """A short description such as "Quarterly subject feedback: grade 9-A, Mathematics"."""
    definition_name = task.cycle_run.definition.name(locale)
    parts = [definition_name]
    if task.section is not None:
        parts.append(task.section.label)
    if task.subject is not None:
        parts.append(task.subject.name(locale))
    return " · ".join(parts)


def role_holders(session: Session, school: OrgUnit, role: Role, now: datetime) -> list[User]:
    """Return the users holding `role` at the unit nearest above (or at) the school."""
    from spets.services.calendar import local_today

    today = local_today(now, school.timezone)
    rows = session.execute(
        select(User, OrgUnit.path)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .join(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
        .where(
            RoleAssignment.role == role,
            OrgUnit.id.in_(school.ancestor_ids),
            RoleAssignment.valid_from <= today,
            or_(RoleAssignment.valid_to.is_(None), RoleAssignment.valid_to >= today),
            User.is_active.is_(True),
        )
        .order_by(func.length(OrgUnit.path).desc(), User.id)
    ).all()
    if not rows:
        return []
    nearest = rows[0][1]
    return [user for user, path in rows if path == nearest]


# Lists.


def my_tasks(session: Session, user_id: int, include_done: bool = False) -> list[Task]:
    states = list(PENDING_STATES) + (
        [TaskState.SUBMITTED, TaskState.APPROVED] if include_done else [TaskState.SUBMITTED]
    )
    return list(
        session.scalars(
            select(Task)
            .options(*_task_loads())
            .where(Task.assignee_id == user_id, Task.state.in_(states))
            .order_by(Task.due_on, Task.id)
        )
    )


def _task_loads():
    return (
        selectinload(Task.section),
        selectinload(Task.subject),
        selectinload(Task.school),
        selectinload(Task.assignee),
        selectinload(Task.cycle_run).selectinload(CycleRun.definition),
    )


def _signoff_school_ids(principal: Principal):
    """Schools where the principal signs off: those under a head teacher grant."""
    paths = [grant.org_path for grant in principal.grants if grant.role == Role.HEAD_TEACHER]
    if not paths:
        return None
    return select(OrgUnit.id).where(
        or_(*[OrgUnit.path.startswith(path, autoescape=True) for path in paths])
    )


def signoff_queue(session: Session, principal: Principal) -> list[Task]:
    schools = _signoff_school_ids(principal)
    if schools is None:
        return []
    return list(
        session.scalars(
            select(Task)
            .options(*_task_loads())
            .where(Task.state == TaskState.SUBMITTED, Task.school_id.in_(schools))
            .order_by(Task.submitted_at, Task.id)
        )
    )


def escalations_for(
    session: Session, principal: Principal, include_resolved: bool = False
) -> list[tuple[TaskEscalation, Task]]:
    """Escalations sent to the principal, newest first; by default only tasks still pending."""
    query = (
        select(TaskEscalation, Task)
        .join(Task, Task.id == TaskEscalation.task_id)
        .options(*_task_loads())
        .where(TaskEscalation.recipient_id == principal.user_id)
        .order_by(TaskEscalation.fired_at.desc(), Task.due_on)
    )
    if not include_resolved:
        query = query.where(Task.state.in_(PENDING_STATES))
    return [(escalation, task) for escalation, task in session.execute(query)]


def can_sign_off(principal: Principal, task: Task) -> bool:
    return any(
        grant.role == Role.HEAD_TEACHER and task.school.path.startswith(grant.org_path)
        for grant in principal.grants
    )


def task_counts(session: Session, user_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Task.state, func.count()).where(Task.assignee_id == user_id).group_by(Task.state)
    ).all()
    return {state.value: count for state, count in rows}


@dataclass(frozen=True)
class TaskSummary:
    """The home page's count of a user's work."""

    open: int
    late: int
    to_sign_off: int


def task_summary(session: Session, principal: Principal, now: datetime) -> TaskSummary:
    """Count the user's pending tasks, the late ones among them, and sheets to sign off."""
    pending = Task.assignee_id == principal.user_id, Task.state.in_(PENDING_STATES)
    open_count, late_count = session.execute(
        select(func.count(), func.count().filter(Task.due_at < now)).where(*pending)
    ).one()

    schools = _signoff_school_ids(principal)
    to_sign_off = 0
    if schools is not None:
        to_sign_off = session.scalar(
            select(func.count()).where(
                Task.state == TaskState.SUBMITTED, Task.school_id.in_(schools)
            )
        )
    return TaskSummary(open=open_count, late=late_count, to_sign_off=to_sign_off)
