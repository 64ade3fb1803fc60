"""The engine's flows on the real Prefect engine: idempotent, safe to overlap, safe to re-run after a crash."""

import threading
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from spets.models import OutboxMessage, OutboxStatus, Task, TaskEscalation
from spets.services import cycles, engine
from spets.workflows.cycles import calendar_tick
from spets.workflows.engine import escalate, send_reminders
from spets.workflows.messaging import deliver_outbox
from spets.workflows.runtime import run_flow

KARACHI = ZoneInfo("Asia/Karachi")

# The feedback cycle of the test world: quarter 3 opens on Thursday 1 October 2026 and its
# tasks are due on 13 October. Reminders come at 08:00 on 9 and 13 October; the first
# escalation at midnight after the due date, the second three school days later.
TICK = datetime(2026, 10, 1, 0, 15, tzinfo=KARACHI).astimezone(UTC)
REMIND = datetime(2026, 10, 9, 8, 0, tzinfo=KARACHI).astimezone(UTC)
ESCALATE = datetime(2026, 10, 14, 0, 30, tzinfo=KARACHI).astimezone(UTC)
DELIVER = datetime(2026, 10, 14, 0, 31, tzinfo=KARACHI).astimezone(UTC)

# One school a batch: the tenant's two schools make two batches, so a crash can come between them.
BATCH = 1


def run_day(config: str) -> None:
    """Run the scenario's flows in order, as the worker would over those days."""
    run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    run_flow(send_reminders, now=REMIND, batch_size=BATCH, config=config)
    run_flow(escalate, now=ESCALATE, batch_size=BATCH, config=config)
    run_flow(deliver_outbox, now=DELIVER, config=config)


def count(session_factory, model, *conditions) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model).where(*conditions))


def fail_on_call(monkeypatch, module, name: str, call: int) -> None:
    """Make `module.name` raise on its `call`-th call, as a crash would, and work otherwise."""
    original = getattr(module, name)
    calls = {"count": 0}

    def crashing(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == call:
            raise RuntimeError(f"crash injected into call {call} of {name}")
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, crashing)


def test_tick_opens_tasks(build_world, write_config, flow_env):
    world = build_world()
    summary = run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=write_config())

    assert (summary.runs_opened, summary.tasks_created, summary.batches) == (1, 3, 2)
    assert summary.period_keys == ["2026-27/Q3"]
    with flow_env.session_factory() as session:
        tasks = session.scalars(select(Task).order_by(Task.assignee_id)).all()
    assert {task.assignee_id for task in tasks} == {
        world.subject_teacher_a9.id,
        world.teacher_a10.id,
        world.teacher_b9.id,
    }
    assert {(task.opens_on, task.due_on) for task in tasks} == {
        (date(2026, 10, 1), date(2026, 10, 13))
    }


def test_flows_twice_same_day_change_nothing(build_world, write_config, flow_env, snapshot):
    build_world()
    config = write_config()
    run_day(config)
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
    assert len(once["reminders"]) == 3
    assert len(once["escalations"]) == 3
    # Without spets.smtp.host e-mails fail at once (retrying cannot help); in-app ones are sent.
    assert {(row[1], row[5]) for row in once["outbox"]} == {
        ("in_app", OutboxStatus.SENT.value),
        ("email", OutboxStatus.FAILED.value),
    }


def test_reminder_digest_one_per_teacher(build_world, write_config, flow_env):
    """Each teacher gets one digest per run, whichever batch their school was in."""
    world = build_world()
    config = write_config()
    run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    summary = run_flow(send_reminders, now=REMIND, batch_size=BATCH, config=config)

    assert (summary.schools, summary.batches, summary.steps) == (2, 2, 3)
    assert summary.recipients == 3
    in_app = count(
        flow_env.session_factory,
        OutboxMessage,
        OutboxMessage.channel == "in_app",
        OutboxMessage.recipient_id == world.subject_teacher_a9.id,
    )
    assert in_app == 1


def test_overlapping_runs_equal_one_run(build_world, write_config, flow_env, snapshot):
    build_world()
    config = write_config()
    run_day(config)
    clean = snapshot()

    build_world()
    steps = [
        lambda: run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config),
        lambda: run_flow(send_reminders, now=REMIND, batch_size=BATCH, config=config),
        lambda: run_flow(escalate, now=ESCALATE, batch_size=BATCH, config=config),
        lambda: run_flow(deliver_outbox, now=DELIVER, config=config),
    ]
    for step in steps:
        errors: list[BaseException] = []
        start = threading.Barrier(2)

        def run(step=step, errors=errors, start=start):
            start.wait()
            try:
                step()
            except BaseException as error:  # noqa: BLE001 - reported by the assert below
                errors.append(error)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []

    assert snapshot() == clean


def test_crash_then_rerun_equals_clean_run(
    build_world, write_config, flow_env, monkeypatch, snapshot
):
    build_world()
    config = write_config()
    run_day(config)
    clean = snapshot()

    build_world()
    with monkeypatch.context() as patch:
        fail_on_call(patch, cycles, "generate_tasks", call=2)
        with pytest.raises(RuntimeError, match="crash injected"):
            run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    assert count(flow_env.session_factory, Task) == 2  # the first school's tasks committed
    run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)

    with monkeypatch.context() as patch:
        fail_on_call(patch, engine, "sweep_reminders", call=2)
        with pytest.raises(RuntimeError, match="crash injected"):
            run_flow(send_reminders, now=REMIND, batch_size=BATCH, config=config)
    run_flow(send_reminders, now=REMIND, batch_size=BATCH, config=config)

    with monkeypatch.context() as patch:
        fail_on_call(patch, engine, "send_escalation_digests", call=1)
        with pytest.raises(RuntimeError, match="crash injected"):
            run_flow(escalate, now=ESCALATE, batch_size=BATCH, config=config)
    assert count(flow_env.session_factory, TaskEscalation) == 3  # both batches committed
    assert count(flow_env.session_factory, OutboxMessage) == 6  # only the reminder digests
    run_flow(escalate, now=ESCALATE, batch_size=BATCH, config=config)

    run_flow(deliver_outbox, now=DELIVER, config=config)
    assert snapshot() == clean


def test_database_error_retried(build_world, write_config, flow_env, monkeypatch):
    """A batch that meets a locked database is retried; the tick still opens every task."""
    build_world()
    original = cycles.generate_tasks
    calls = {"count": 0}

    def locked_once(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == 1:
            raise OperationalError("INSERT INTO tasks", {}, Exception("database is locked"))
        return original(*args, **kwargs)

    monkeypatch.setattr(cycles, "generate_tasks", locked_once)
    summary = run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=write_config())

    assert summary.tasks_created == 3
    assert calls["count"] == 3  # batch 1 twice, batch 2 once
    assert count(flow_env.session_factory, Task) == 3


def test_missed_days_caught_up(build_world, write_config, flow_env):
    """Nothing ran from 1 to 16 October: the next runs open the tasks and catch up each step."""
    world = build_world()
    config = write_config()
    late_tick = datetime(2026, 10, 3, 0, 15, tzinfo=KARACHI).astimezone(UTC)
    late_escalation = datetime(2026, 10, 17, 0, 30, tzinfo=KARACHI).astimezone(UTC)

    run_flow(calendar_tick, now=late_tick, batch_size=BATCH, config=config)
    reminders = run_flow(send_reminders, now=late_escalation, batch_size=BATCH, config=config)
    escalations = run_flow(escalate, now=late_escalation, batch_size=BATCH, config=config)

    with flow_env.session_factory() as session:
        task = session.scalars(select(Task).where(Task.assignee_id == world.teacher_b9.id)).one()
        levels = session.execute(
            select(TaskEscalation.level, TaskEscalation.recipient_id)
            .where(TaskEscalation.task_id == task.id)
            .order_by(TaskEscalation.level)
        ).all()
    assert (task.opens_on, task.due_on) == (date(2026, 10, 1), date(2026, 10, 13))
    assert reminders.steps == 6  # both reminders of each of the three tasks
    assert reminders.recipients == 3  # still one digest per teacher
    assert escalations.steps == 6  # levels 1 and 2 of each task
    assert levels == [(1, world.head_b.id), (2, None)]  # school B has no AEO in the test world
    assert escalations.unreachable == 1


def test_delivery_sends_each_email_once(build_world, write_config, flow_env, smtp_server):
    build_world()
    config = write_config(smtp_port=smtp_server.port)
    run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    run_flow(send_reminders, now=REMIND, batch_size=BATCH, config=config)
    run_flow(escalate, now=ESCALATE, batch_size=BATCH, config=config)

    first = run_flow(deliver_outbox, now=DELIVER, config=config)
    again = run_flow(deliver_outbox, now=DELIVER, config=config)
    later = run_flow(deliver_outbox, now=datetime(2026, 10, 14, 1, 0, tzinfo=UTC), config=config)

    # Three teachers with one reminder digest each, two head teachers with one escalation digest.
    assert first.sent == {"email": 5, "in_app": 5}
    assert (again.sent, later.sent) == ({}, {})
    assert len(smtp_server.messages) == 5
    recipients = sorted(message["To"] for message in smtp_server.messages)
    assert recipients == [
        "head.a@school.example",
        "head.b@school.example",
        "subject.a9@school.example",
        "teacher.a10@school.example",
        "teacher.b9@school.example",
    ]
    head_a = next(m for m in smtp_server.messages if m["To"] == "head.a@school.example")
    assert head_a["Subject"] == "2 late task(s) need your attention"
    assert "http://spets.test/escalations" in head_a.get_content()
