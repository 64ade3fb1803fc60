"""The result-entry cycle on the engine: tasks open when an exam window closes, then reminders
and escalation as the default definition sets them, and nothing twice when a day is re-run.

A task of the default result-entry definition is due 6 school days after the first school
day after the window. Reminders come from 08:00 two school days before the due date and on
it. Escalation goes to the head teacher, the AEO and the DEO 0, 2 and 5 school days after
the due date.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from spets.models import (
    CycleKind,
    CycleRun,
    ExamKind,
    OutboxMessage,
    Task,
    TaskEscalation,
    TaskReminder,
    TaskState,
)
from spets.services import calendar, cycles, engine, org, tasks
from spets.services.audit import Actor

KARACHI = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()


def local(*args) -> datetime:
    """A local Karachi time as a UTC instant."""
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


def count(session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))


@pytest.fixture
def cycle_world(world):
    """An October monthly assessment (26 to 31 October 2026) with two taught subjects."""
    w = world
    w.window = calendar.save_exam_window(
        w.session,
        w.year,
        None,
        {
            "kind": ExamKind.MONTHLY_ASSESSMENT,
            "name_en": "Monthly assessment (October)",
            "name_ur": "ماہانہ جائزہ (اکتوبر)",
            "starts_on": date(2026, 10, 26),
            "ends_on": date(2026, 10, 31),
        },
        version=None,
        actor=SYSTEM,
        now=w.now,
    )
    w.definition = cycles.add_result_entry_definition(w.session, w.tenant, actor=SYSTEM, now=w.now)
    org.assign_teacher(
        w.session,
        section=w.section_a10,
        subject=w.subjects["MATH"],
        teacher=w.teacher_a10,
        starts_on=w.year.starts_on,
        actor=SYSTEM,
        now=w.now,
    )
    w.session.flush()
    return w


def result_tasks(session) -> list[Task]:
    return list(
        session.scalars(select(Task).where(Task.kind == CycleKind.RESULT_ENTRY).order_by(Task.id))
    )


def task_of(session, teacher) -> Task:
    return session.scalars(
        select(Task).where(Task.kind == CycleKind.RESULT_ENTRY, Task.assignee_id == teacher.id)
    ).one()


def test_no_task_while_window_open(cycle_world):
    w = cycle_world
    cycles.tick(w.session, local(2026, 10, 31, 0, 15))
    assert result_tasks(w.session) == []


def test_window_close_opens_task_per_subject(cycle_world):
    w = cycle_world
    cycles.tick(w.session, local(2026, 11, 2, 0, 15))
    opened = result_tasks(w.session)
    assert {(task.section_id, task.subject_id) for task in opened} == {
        (w.section_a9.id, w.subjects["MATH"].id),
        (w.section_a10.id, w.subjects["MATH"].id),
    }
    assert {task.state for task in opened} == {TaskState.OPEN}
    # Six school days after Monday 2 November, with Iqbal Day (9 November) off.
    assert {task.due_on for task in opened} == {date(2026, 11, 10)}


def test_tick_twice_opens_nothing_more(cycle_world):
    w = cycle_world
    cycles.tick(w.session, local(2026, 11, 2, 0, 15))
    before = (count(w.session, Task), count(w.session, CycleRun))
    cycles.tick(w.session, local(2026, 11, 2, 0, 15))
    cycles.tick(w.session, local(2026, 11, 2, 18, 0))
    assert (count(w.session, Task), count(w.session, CycleRun)) == before


def test_missed_tick_caught_up_next_day(cycle_world):
    w = cycle_world
    cycles.tick(w.session, local(2026, 11, 3, 0, 15))
    opened = result_tasks(w.session)
    assert len(opened) == 2
    assert {task.due_on for task in opened} == {date(2026, 11, 10)}


def test_reminders_at_configured_offsets(cycle_world):
    w = cycle_world
    cycles.tick(w.session, local(2026, 11, 2, 0, 15))
    task = task_of(w.session, w.subject_teacher_a9)

    # Two school days before 10 November, with 9 November off: Friday 6 November.
    assert engine.sweep_reminders(w.session, local(2026, 11, 6, 7, 59)).steps == 0
    first = engine.sweep_reminders(w.session, local(2026, 11, 6, 8, 0))
    again = engine.sweep_reminders(w.session, local(2026, 11, 6, 9, 0))
    assert (first.steps, again.steps) == (2, 0)
    offsets = w.session.scalars(
        select(TaskReminder.offset_days).where(TaskReminder.task_id == task.id)
    ).all()
    assert offsets == [-2]

    engine.sweep_reminders(w.session, local(2026, 11, 10, 8, 0))
    offsets = w.session.scalars(
        select(TaskReminder.offset_days)
        .where(TaskReminder.task_id == task.id)
        .order_by(TaskReminder.offset_days)
    ).all()
    assert offsets == [-2, 0]


def test_no_reminder_after_submission(cycle_world):
    w = cycle_world
    cycles.tick(w.session, local(2026, 11, 2, 0, 15))
    task = task_of(w.session, w.subject_teacher_a9)
    tasks.submit_task(w.session, task, actor=SYSTEM, now=local(2026, 11, 5, 12, 0))
    engine.sweep_reminders(w.session, local(2026, 11, 10, 9, 0))
    assert count(w.session, TaskReminder, TaskReminder.task_id == task.id) == 0


def test_escalation_ladder_head_aeo_deo(cycle_world):
    w = cycle_world
    cycles.tick(w.session, local(2026, 11, 2, 0, 15))
    task = task_of(w.session, w.subject_teacher_a9)

    engine.sweep_escalations(w.session, local(2026, 11, 10, 23, 59))
    assert count(w.session, TaskEscalation, TaskEscalation.task_id == task.id) == 0

    # Level 1 from midnight after the due date, level 2 after two more school days (11 and
    # 12 November), level 3 after five (11 to 14 and 16 November, Sunday off).
    engine.sweep_escalations(w.session, local(2026, 11, 11, 0, 30))
    engine.sweep_escalations(w.session, local(2026, 11, 12, 23, 0))
    levels = w.session.execute(
        select(TaskEscalation.level, TaskEscalation.recipient_id).where(
            TaskEscalation.task_id == task.id
        )
    ).all()
    assert levels == [(1, w.head_a.id)]

    engine.sweep_escalations(w.session, local(2026, 11, 13, 0, 30))
    engine.sweep_escalations(w.session, local(2026, 11, 17, 0, 30))
    levels = w.session.execute(
        select(TaskEscalation.level, TaskEscalation.recipient_id)
        .where(TaskEscalation.task_id == task.id)
        .order_by(TaskEscalation.level)
    ).all()
    assert levels == [(1, w.head_a.id), (2, w.aeo_a.id), (3, w.deo_a.id)]
    w.session.refresh(task)
    assert (task.escalation_level, task.next_escalation_at) == (3, None)


def test_no_escalation_once_submitted(cycle_world):
    w = cycle_world
    cycles.tick(w.session, local(2026, 11, 2, 0, 15))
    task = task_of(w.session, w.subject_teacher_a9)
    tasks.submit_task(w.session, task, actor=SYSTEM, now=local(2026, 11, 11, 0, 10))
    engine.sweep_escalations(w.session, local(2026, 11, 11, 0, 30))
    assert count(w.session, TaskEscalation, TaskEscalation.task_id == task.id) == 0


def run_day(session, at):
    cycles.tick(session, at)
    engine.sweep_reminders(session, at)
    engine.sweep_escalations(session, at)
    engine.send_reminder_digests(session, at)
    engine.send_escalation_digests(session, at)


def totals(session) -> tuple[int, int, int, int]:
    return (
        count(session, Task),
        count(session, TaskReminder),
        count(session, TaskEscalation),
        count(session, OutboxMessage),
    )


def test_days_run_twice_equal_once(cycle_world):
    w = cycle_world
    days = [
        local(2026, 11, 2, 9, 0),
        local(2026, 11, 6, 9, 0),
        local(2026, 11, 10, 9, 0),
        local(2026, 11, 13, 9, 0),
    ]
    for at in days:
        run_day(w.session, at)
    once = totals(w.session)
    for at in days:
        run_day(w.session, at)
    assert totals(w.session) == once
    assert once[0] == 2
    assert once[1] > 0
    assert once[2] > 0
    assert once[3] > 0
