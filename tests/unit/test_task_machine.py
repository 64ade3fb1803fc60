"""Every (state, trigger) pair of the task machine: allowed moves are audited, others change nothing."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from spets.models import AuditEvent, Task, TaskState
from spets.services import cycles, tasks
from spets.services.audit import Actor
from spets.services.errors import Locked
from spets.state_machines.tasks import TASK_MACHINE

S = TaskState
ALLOWED = {
    (S.OPEN, "start"): S.IN_PROGRESS,
    (S.RETURNED, "start"): S.IN_PROGRESS,
    (S.OPEN, "submit"): S.SUBMITTED,
    (S.IN_PROGRESS, "submit"): S.SUBMITTED,
    (S.RETURNED, "submit"): S.SUBMITTED,
    (S.SUBMITTED, "approve"): S.APPROVED,
    (S.SUBMITTED, "send_back"): S.RETURNED,
    (S.OPEN, "cancel"): S.CANCELLED,
    (S.IN_PROGRESS, "cancel"): S.CANCELLED,
    (S.RETURNED, "cancel"): S.CANCELLED,
    (S.SUBMITTED, "cancel"): S.CANCELLED,
}
PAIRS = [(state, trigger) for state in TaskState for trigger in TASK_MACHINE.events]
NOW = datetime(2026, 10, 5, 6, 0, tzinfo=UTC)


@pytest.fixture
def task(world):
    cycles.add_default_definitions(world.session, world.tenant, actor=Actor.system(), now=world.now)
    cycles.tick(world.session, datetime(2026, 10, 1, 3, 0, tzinfo=UTC))
    return world.session.scalars(
        select(Task).where(Task.assignee_id == world.subject_teacher_a9.id)
    ).one()


def audit_count(session) -> int:
    return session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.entity_type == "task")
    )


def test_machine_covers_every_pair():
    assert len(PAIRS) == len(TaskState) * 5
    assert set(ALLOWED) <= set(PAIRS)


@pytest.mark.parametrize(("state", "trigger"), PAIRS, ids=[f"{s.value}-{t}" for s, t in PAIRS])
def test_state_trigger_pair(world, task, state, trigger):
    task.state = state
    world.session.flush()
    before_audit = audit_count(world.session)
    before_version = task.version

    if (state, trigger) in ALLOWED:
        tasks.move(
            world.session, task, trigger, actor=Actor(world.head_a.id), now=NOW, comment="checked"
        )
        world.session.expire_all()
        stored = world.session.get(Task, task.id)
        assert stored.state == ALLOWED[(state, trigger)]
        assert audit_count(world.session) == before_audit + 1
        event = world.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "task")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event.changes["trigger"]["after"] == trigger
        assert event.actor_id == world.head_a.id
    else:
        with pytest.raises(Locked):
            tasks.move(world.session, task, trigger, actor=Actor(world.head_a.id), now=NOW)
        assert task.state == state
        world.session.expire_all()
        stored = world.session.get(Task, task.id)
        assert (stored.state, stored.version) == (state, before_version)
        assert audit_count(world.session) == before_audit


def test_failed_save_restores_object_and_row(world, task, connection):
    """A concurrent change makes the flush fail; the task keeps its old state in memory and on disk."""
    connection.exec_driver_sql(f"UPDATE tasks SET version = version + 1 WHERE id = {task.id}")
    with pytest.raises(StaleDataError):
        tasks.move(world.session, task, "submit", actor=Actor.system(), now=NOW)
    assert task.state == S.OPEN
    assert task.submitted_at is None
    assert (
        connection.exec_driver_sql(f"SELECT state FROM tasks WHERE id = {task.id}").scalar()
        == "open"
    )


def test_stale_version_refused(world, task):
    with pytest.raises(Exception, match="Someone else saved this task"):
        tasks.submit_task(
            world.session, task, actor=Actor.system(), now=NOW, version=task.version - 1
        )
    assert task.state == S.OPEN


def test_return_needs_comment_and_gives_new_due_date(world, task):
    tasks.submit_task(world.session, task, actor=Actor.system(), now=NOW)
    with pytest.raises(Exception, match="needs a comment"):
        tasks.return_task(world.session, task, "  ", actor=Actor(world.head_a.id), now=NOW)
    old_due = task.due_on
    tasks.return_task(
        world.session, task, "Add the planned actions.", actor=Actor(world.head_a.id), now=NOW
    )
    assert task.state == S.RETURNED
    assert task.comment == "Add the planned actions."
    assert task.due_on != old_due
    assert task.next_reminder_at is not None or task.next_escalation_at is not None
