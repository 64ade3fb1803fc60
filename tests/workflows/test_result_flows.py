"""The result-entry cycle through the engine's flows on the real Prefect engine.

The October monthly assessment of the test world runs from 26 to 31 October 2026. The
calendar tick of Monday 2 November opens one result-entry task per section and taught
subject, due on 10 November (six school days, with Iqbal Day on 9 November off). The
default definition sends reminders at 08:00 two school days before the due date (6
November) and on it, and escalates at midnight after the due date to the head teacher.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from spets.models import CycleKind, ExamKind, Task, TaskEscalation, TaskReminder
from spets.services import calendar, cycles
from spets.services.audit import Actor
from spets.workflows.cycles import calendar_tick
from spets.workflows.engine import escalate, send_reminders
from spets.workflows.messaging import deliver_outbox
from spets.workflows.runtime import run_flow

KARACHI = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()
BATCH = 1  # one school a batch, as in the engine's flow tests


def local(*args) -> datetime:
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


TICK = local(2026, 11, 2, 0, 15)
REMIND = local(2026, 11, 6, 8, 0)
ESCALATE = local(2026, 11, 11, 0, 30)
DELIVER = local(2026, 11, 11, 0, 31)


def add_exam_and_cycle(flow_env, world) -> None:
    with flow_env.session_factory() as session, session.begin():
        year = session.merge(world.year)
        tenant = session.merge(world.tenant)
        calendar.save_exam_window(
            session,
            year,
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
            now=world.now,
        )
        cycles.add_result_entry_definition(session, tenant, actor=SYSTEM, now=world.now)


def result_tasks(flow_env) -> list[Task]:
    with flow_env.session_factory() as session:
        return list(
            session.scalars(
                select(Task).where(Task.kind == CycleKind.RESULT_ENTRY).order_by(Task.id)
            )
        )


def steps_of(flow_env, model, task_ids) -> list[tuple]:
    with flow_env.session_factory() as session:
        if model is TaskReminder:
            columns = (TaskReminder.task_id, TaskReminder.offset_days)
        else:
            columns = (TaskEscalation.task_id, TaskEscalation.level)
        return sorted(session.execute(select(*columns).where(columns[0].in_(task_ids))).all())


def run_days(config: str) -> None:
    run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    run_flow(send_reminders, now=REMIND, batch_size=BATCH, config=config)
    run_flow(escalate, now=ESCALATE, batch_size=BATCH, config=config)
    run_flow(deliver_outbox, now=DELIVER, config=config)


def test_result_entry_through_flows(build_world, write_config, flow_env):
    world = build_world()
    add_exam_and_cycle(flow_env, world)
    config = write_config()

    run_flow(calendar_tick, now=local(2026, 10, 31, 0, 15), batch_size=BATCH, config=config)
    assert result_tasks(flow_env) == []

    run_days(config)
    opened = result_tasks(flow_env)
    # Mathematics in 9-A and 10-A, English in 9-B: one task per section and taught subject.
    assert {task.assignee_id for task in opened} == {
        world.subject_teacher_a9.id,
        world.teacher_a10.id,
        world.teacher_b9.id,
    }
    assert {(task.opens_on, task.due_on) for task in opened} == {
        (date(2026, 11, 2), date(2026, 11, 10))
    }
    ids = [task.id for task in opened]
    assert steps_of(flow_env, TaskReminder, ids) == [(task_id, -2) for task_id in ids]
    assert steps_of(flow_env, TaskEscalation, ids) == [(task_id, 1) for task_id in ids]


def test_result_flows_twice_change_nothing(build_world, write_config, flow_env, snapshot):
    world = build_world()
    add_exam_and_cycle(flow_env, world)
    config = write_config()
    run_days(config)
    once = snapshot()

    tick = run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    reminders = run_flow(send_reminders, now=REMIND, batch_size=BATCH, config=config)
    escalations = run_flow(escalate, now=ESCALATE, batch_size=BATCH, config=config)
    delivery = run_flow(deliver_outbox, now=DELIVER, config=config)

    assert (tick.runs_opened, tick.tasks_created) == (0, 0)
    assert (reminders.steps, reminders.messages) == (0, 0)
    assert (escalations.steps, escalations.messages) == (0, 0)
    assert delivery.sent == {}
    assert snapshot() == once
