"""The cycle engine: runs, tasks, reminders, escalations and digests, on any day and twice over."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from spets.models import (
    CycleRun,
    DayOffKind,
    OutboxMessage,
    StepKind,
    Task,
    TaskEscalation,
    TaskReminder,
    TaskState,
)
from spets.services import calendar, cycles, engine, org, tasks
from spets.services.audit import Actor
from spets.services.errors import InvalidInput

KARACHI = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()


def local(*args) -> datetime:
    """A local Karachi time as a UTC instant."""
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


@pytest.fixture
def engine_world(world):
    world.definition = cycles.add_default_definitions(
        world.session, world.tenant, actor=SYSTEM, now=world.now
    )
    org.assign_teacher(
        world.session,
        section=world.section_a10,
        subject=world.subjects["MATH"],
        teacher=world.teacher_a10,
        starts_on=world.year.starts_on,
        actor=SYSTEM,
        now=world.now,
    )
    org.assign_teacher(
        world.session,
        section=world.section_b9,
        subject=world.subjects["ENG"],
        teacher=world.teacher_b9,
        starts_on=world.year.starts_on,
        actor=SYSTEM,
        now=world.now,
    )
    world.session.flush()
    return world


def count(session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))


def task_of(session, teacher) -> Task:
    return session.scalars(select(Task).where(Task.assignee_id == teacher.id)).one()


def test_tick_opens_quarter_tasks(engine_world):
    w = engine_world
    result = cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    assert result.runs_opened == 1
    assert result.tasks_created == 3
    run = w.session.scalars(select(CycleRun)).one()
    assert run.period_key == "2026-27/Q3"
    task = task_of(w.session, w.subject_teacher_a9)
    assert (task.section_id, task.subject_id, task.state) == (
        w.section_a9.id,
        w.subjects["MATH"].id,
        TaskState.OPEN,
    )
    # First school day 1 October (Thursday); ten school days later, Sundays skipped: 13 October.
    assert task.opens_on == date(2026, 10, 1)
    assert task.due_on == date(2026, 10, 13)


def test_deadline_is_local_midnight(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    task = task_of(w.session, w.subject_teacher_a9)
    assert task.due_at == datetime(2026, 10, 13, 19, 0, tzinfo=UTC)  # 14 October 00:00 in Karachi


def test_tick_twice_changes_nothing(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    again = cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    assert (again.runs_opened, again.tasks_created) == (0, 0)
    assert count(w.session, Task) == 3


def test_missed_day_caught_up(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 3, 0, 15))  # the ticks of 1 and 2 October never ran
    task = task_of(w.session, w.subject_teacher_a9)
    assert (task.opens_on, task.due_on) == (date(2026, 10, 1), date(2026, 10, 13))


def test_tick_opens_the_current_quarter_only(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 9, 30, 0, 15))
    assert w.session.scalars(select(CycleRun.period_key)).all() == ["2026-27/Q2"]


def test_late_teaching_assignment_opens_its_own_task(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    org.assign_teacher(
        w.session,
        section=w.section_a9,
        subject=w.subjects["ENG"],
        teacher=w.class_teacher_a9,
        starts_on=date(2026, 10, 20),
        actor=SYSTEM,
        now=w.now,
    )
    cycles.tick(w.session, local(2026, 10, 20, 0, 15))
    task = w.session.scalars(
        select(Task).where(Task.subject_id == w.subjects["ENG"].id, Task.school_id == w.school_a.id)
    ).one()
    assert task.opens_on == date(2026, 10, 20)
    assert task.due_on == date(2026, 10, 31)


def test_replaced_teacher_task_cancelled(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    org.assign_teacher(
        w.session,
        section=w.section_a9,
        subject=w.subjects["MATH"],
        teacher=w.class_teacher_a9,
        starts_on=date(2026, 10, 5),
        actor=SYSTEM,
        now=w.now,
    )
    result = cycles.tick(w.session, local(2026, 10, 5, 0, 15))
    old = task_of(w.session, w.subject_teacher_a9)
    new = task_of(w.session, w.class_teacher_a9)
    assert result.tasks_cancelled == 1
    assert old.state == TaskState.CANCELLED
    assert (new.state, new.opens_on) == (TaskState.OPEN, date(2026, 10, 5))


def test_reminder_sent_once(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    at = local(
        2026, 10, 9, 9, 0
    )  # three school days before 13 October (Saturday counts), after 08:00
    first = engine.sweep_reminders(w.session, at)
    second = engine.sweep_reminders(w.session, at)
    assert (first.steps, second.steps) == (3, 0)
    assert count(w.session, TaskReminder, TaskReminder.offset_days == -3) == 3


def test_reminder_not_before_hour(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    assert engine.sweep_reminders(w.session, local(2026, 10, 9, 7, 59)).steps == 0


def test_no_reminder_for_submitted_task(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    task = task_of(w.session, w.subject_teacher_a9)
    tasks.submit_task(w.session, task, actor=SYSTEM, now=local(2026, 10, 7, 12, 0))
    engine.sweep_reminders(w.session, local(2026, 10, 9, 9, 0))
    assert count(w.session, TaskReminder, TaskReminder.task_id == task.id) == 0


def test_submission_at_five_past_midnight_is_late(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    task = task_of(w.session, w.subject_teacher_a9)
    tasks.submit_task(w.session, task, actor=SYSTEM, now=local(2026, 10, 14, 0, 5))
    assert task.submitted_late is True


def test_submission_before_midnight_on_time(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    task = task_of(w.session, w.subject_teacher_a9)
    tasks.submit_task(w.session, task, actor=SYSTEM, now=local(2026, 10, 13, 23, 55))
    assert task.submitted_late is False


def test_escalation_ladder(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    task = task_of(w.session, w.subject_teacher_a9)

    engine.sweep_escalations(w.session, local(2026, 10, 13, 23, 0))
    assert count(w.session, TaskEscalation, TaskEscalation.task_id == task.id) == 0

    engine.sweep_escalations(w.session, local(2026, 10, 14, 0, 30))
    levels = w.session.execute(
        select(TaskEscalation.level, TaskEscalation.recipient_id).where(
            TaskEscalation.task_id == task.id
        )
    ).all()
    assert levels == [(1, w.head_a.id)]

    # Level 2 three school days after the due date (16 October), so from 17 October 00:00.
    engine.sweep_escalations(w.session, local(2026, 10, 17, 0, 30))
    engine.sweep_escalations(w.session, local(2026, 10, 21, 0, 30))
    levels = w.session.execute(
        select(TaskEscalation.level, TaskEscalation.recipient_id)
        .where(TaskEscalation.task_id == task.id)
        .order_by(TaskEscalation.level)
    ).all()
    assert levels == [(1, w.head_a.id), (2, w.aeo_a.id), (3, w.deo_a.id)]
    w.session.refresh(task)
    assert (task.escalation_level, task.next_escalation_at) == (3, None)


def test_no_escalation_for_task_submitted_before_it_fires(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    task = task_of(w.session, w.subject_teacher_a9)
    tasks.submit_task(w.session, task, actor=SYSTEM, now=local(2026, 10, 14, 0, 25))
    engine.sweep_escalations(w.session, local(2026, 10, 14, 0, 30))
    assert count(w.session, TaskEscalation, TaskEscalation.task_id == task.id) == 0


def test_supervisor_gets_one_digest(engine_world):
    w = engine_world
    w.head_a.email = "head.a@school.example"
    org.assign_teacher(
        w.session,
        section=w.section_a9,
        subject=w.subjects["URDU"],
        teacher=w.class_teacher_a9,
        starts_on=w.year.starts_on,
        actor=SYSTEM,
        now=w.now,
    )
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    at = local(2026, 10, 14, 0, 30)
    engine.sweep_escalations(w.session, at)
    digest = engine.send_escalation_digests(w.session, at)
    head_messages = w.session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient_id == w.head_a.id)
    ).all()
    assert sorted(m.channel.value for m in head_messages) == ["email", "in_app"]
    assert "3 late task(s)" in head_messages[0].subject
    assert digest.items == 4  # three tasks at school A, one at school B


def test_digest_in_recipient_language(engine_world):
    w = engine_world
    w.head_a.locale = "ur"
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    at = local(2026, 10, 14, 0, 30)
    engine.sweep_escalations(w.session, at)
    engine.send_escalation_digests(w.session, at)
    message = w.session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient_id == w.head_a.id)
    ).first()
    assert message.locale == "ur"
    assert "Late" not in message.subject and any(
        "\u0600" <= ch <= "\u06ff" for ch in message.subject
    )


def clean_run(session, at):
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


def test_twice_same_day_equals_once(engine_world):
    w = engine_world
    days = [local(2026, 10, 1, 9, 0), local(2026, 10, 9, 9, 0), local(2026, 10, 14, 9, 0)]
    for at in days:
        clean_run(w.session, at)
    once = totals(w.session)
    for at in days:
        clean_run(w.session, at)
    assert totals(w.session) == once
    assert once[1] > 0 and once[2] > 0 and once[3] > 0


def test_crash_matches_clean_run(engine_world, session_factory):
    """A crash halfway followed by a re-run leaves exactly the rows of one clean run."""
    w = engine_world
    at_open, at_late = local(2026, 10, 1, 9, 0), local(2026, 10, 14, 9, 0)

    savepoint = w.session.begin_nested()
    clean_run(w.session, at_open)
    clean_run(w.session, at_late)
    clean = totals(w.session)
    savepoint.rollback()

    clean_run(w.session, at_open)
    engine.sweep_escalations(w.session, at_late, school_ids=[w.school_a.id])
    engine.sweep_reminders(w.session, at_late, school_ids=[w.school_a.id])
    clean_run(w.session, at_late)
    assert totals(w.session) == clean


def announce_district_closure(w):
    """Save a two-day closure of district A on 7–8 October, announced the evening before."""
    return calendar.save_day_off(
        w.session,
        None,
        {
            "kind": DayOffKind.CLOSURE,
            "name_en": "Smog closure",
            "name_ur": "اسموگ کی بندش",
            "starts_on": date(2026, 10, 7),
            "ends_on": date(2026, 10, 8),
            "org_unit_id": w.district_a.id,
        },
        version=None,
        actor=SYSTEM,
        now=local(2026, 10, 6, 18, 0),
    )


def test_closure_announced_late_moves_due_dates(engine_world):
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    closure = announce_district_closure(w)
    moved = cycles.reschedule_after_calendar_change(
        w.session, closure.org_unit, local(2026, 10, 6, 18, 0)
    )
    assert moved == 2  # the two tasks of school A; school B is in another district
    task = task_of(w.session, w.subject_teacher_a9)
    assert task.due_on == date(2026, 10, 15)
    other = task_of(w.session, w.teacher_b9)
    assert other.due_on == date(2026, 10, 13)


def test_late_closure_keeps_steps_already_sent(engine_world):
    """A task that had its first reminder waits for the second one of its new schedule."""
    w = engine_world
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    task = task_of(w.session, w.subject_teacher_a9)
    old_version = task.version
    task.reminders_sent = 1
    w.session.flush()
    closure = announce_district_closure(w)

    moved = cycles.reschedule_after_calendar_change(
        w.session, closure.org_unit, local(2026, 10, 6, 18, 0)
    )

    assert moved == 2
    w.session.refresh(task)
    steps = sorted(task.schedule.steps, key=lambda step: (step.kind, step.number))
    reminders = [step for step in steps if step.kind == StepKind.REMINDER]
    escalations = [step for step in steps if step.kind == StepKind.ESCALATION]
    later_reminders = [step.at for step in reminders if step.number > 1]
    assert task.next_reminder_at == (min(later_reminders) if later_reminders else None)
    assert task.next_escalation_at == min(step.at for step in escalations)
    assert (task.due_on, task.reminders_sent) == (date(2026, 10, 15), 1)
    assert task.version == old_version + 2  # the test's own change, then the move


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reminder_offsets": [1]}, "reminder_offsets"),
        ({"reminder_offsets": [-12]}, "reminder_offsets"),
        ({"due_after_school_days": -1}, "due_after_school_days"),
        ({"escalation_days": [3, 1, 5]}, "escalation_days"),
        ({"escalation_days": [-1, 2, 4]}, "escalation_days"),
        ({"escalation_roles": ["head_teacher", "aeo"]}, "escalation_roles"),
        ({"escalation_roles": ["head_teacher", "aeo", "minister"]}, "escalation_roles"),
    ],
)
def test_impossible_definition_refused(change, field):
    values = {**cycles.DEFAULT_FEEDBACK, **change}
    with pytest.raises(InvalidInput) as caught:
        cycles.validate_definition(values)
    assert field in caught.value.field_errors


def test_default_definition_valid():
    cycles.validate_definition(dict(cycles.DEFAULT_FEEDBACK))
