"""Attendance and review cycles on the real Prefect engine: once only, after re-runs and crashes.

The scenario is Friday 4 December 2026 in Karachi. The calendar tick opens a register task
for each section with a class teacher (9-A and 10-A of school A, 9-A of school B). The
class teachers of the two 9-A sections mark their registers at 08:00, each with one
student absent; 10-A is never marked. Both schools send absence SMS.
"""

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from builders import World
from sqlalchemy import func, select

from spets.models import (
    AttendanceOptions,
    AttendanceStatus,
    BehaviourRubric,
    CycleDefinition,
    CycleKind,
    EarlyWarningFlag,
    Guardian,
    InterventionPlan,
    InterventionReview,
    Notification,
    OrgUnit,
    OutboxMessage,
    OutboxStatus,
    Section,
    Student,
    Task,
    TaskEscalation,
    TaskReminder,
    TaskState,
    User,
)
from spets.services import attendance, behaviour, plans
from spets.services.audit import Actor
from spets.workflows import attendance as attendance_flows
from spets.workflows import cycles as cycle_flows
from spets.workflows import engine as engine_flows
from spets.workflows.attendance import absence_notices, early_warnings
from spets.workflows.cycles import calendar_tick
from spets.workflows.engine import escalate, send_reminders
from spets.workflows.messaging import deliver_outbox
from spets.workflows.runtime import run_flow

KARACHI = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()
BATCH = 1  # one school a batch, so a crash can come between the two schools


def local(*args) -> datetime:
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


TODAY = date(2026, 12, 4)
TICK = local(2026, 12, 4, 0, 15)
MARKED = local(2026, 12, 4, 8, 0)
NOTICES = local(2026, 12, 4, 8, 30)
DELIVER = local(2026, 12, 4, 8, 31)
REMIND = local(2026, 12, 4, 10, 0)
ESCALATE = local(2026, 12, 5, 0, 30)


@pytest.fixture
def build(build_world, flow_env):
    """Return a function that empties the database and commits the scenario's world.

    It is the engine tests' world with the feedback cycle switched off, so only the
    attendance, rubric and review cycles open tasks.
    """

    def build_attendance_world() -> World:
        world = build_world()
        with flow_env.session_factory() as session, session.begin():
            session.get(CycleDefinition, world.definition.id).is_active = False
            tenant = session.get(OrgUnit, world.tenant.id)
            attendance.add_attendance_definitions(session, tenant, actor=SYSTEM, now=world.now)
            for school in (world.school_a, world.school_b):
                session.add(AttendanceOptions(school_id=school.id, notify_guardian_of_absence=True))
            session.get(Guardian, world.guardian_link_b9.guardian_id).phone = "+923217654321"
        return world

    return build_attendance_world


def mark(flow_env, section_id: int, absent: dict, at: datetime, version=None) -> None:
    """Save a register in its own committed transaction, as a teacher's request would."""
    with flow_env.session_factory() as session, session.begin():
        section = session.get(Section, section_id)
        rows = [
            {"student_id": student_id, "status": status, "leave_reason": ""}
            for student_id, status in absent.items()
        ]
        teacher = section.class_teacher_id
        attendance.save_register(
            session, section, TODAY, rows, version=version, actor=Actor(teacher), now=at
        )


def mark_morning(flow_env, world) -> None:
    mark(flow_env, world.section_a9.id, {world.student_a9.id: AttendanceStatus.ABSENT}, MARKED)
    mark(flow_env, world.section_b9.id, {world.student_b9.id: AttendanceStatus.ABSENT}, MARKED)


def rows(session_factory) -> dict[str, list[tuple]]:
    """Every row the cycles and sweeps write, by natural keys instead of ids."""
    with session_factory() as session:
        users = dict(session.execute(select(User.id, User.username)).all())
        units = dict(session.execute(select(OrgUnit.id, OrgUnit.code)).all())
        sections = {
            section.id: (units[section.school_id], section.grade, section.name)
            for section in session.scalars(select(Section))
        }
        task_keys = {
            task.id: (
                task.kind.value,
                sections.get(task.section_id),
                task.target_type,
                task.opens_on,
            )
            for task in session.scalars(select(Task))
        }
        return {
            "tasks": sorted(
                (*task_keys[task.id], task.state.value, task.reminders_sent, task.escalation_level)
                for task in session.scalars(select(Task))
            ),
            "reminders": sorted(
                (task_keys[r.task_id], r.offset_days, r.notified)
                for r in session.scalars(select(TaskReminder))
            ),
            "escalations": sorted(
                (task_keys[e.task_id], e.level, users.get(e.recipient_id), e.notified)
                for e in session.scalars(select(TaskEscalation))
            ),
            "outbox": sorted(
                (
                    m.key.split(":")[0],
                    users.get(m.recipient_id),
                    m.channel.value,
                    m.address,
                    m.body,
                    m.status.value,
                    m.last_error,
                )
                for m in session.scalars(select(OutboxMessage))
            ),
            "notifications": sorted(
                (users[n.user_id], n.title) for n in session.scalars(select(Notification))
            ),
            "flags": sorted(
                (flag.student_id, flag.area.value, flag.level.value, flag.resolved_at is None)
                for flag in session.scalars(select(EarlyWarningFlag))
            ),
        }


def sent_sms(config_dir) -> list[dict]:
    folder = config_dir / "sms"
    if not folder.exists():
        return []
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]


def crash_on_call(monkeypatch, module, name: str, call: int) -> None:
    """Make `module.name` raise on its `call`-th call, as a crash would, and work otherwise."""
    original = getattr(module, name)
    calls = {"count": 0}

    def crashing(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == call:
            raise RuntimeError(f"crash injected into call {call} of {name}")
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, crashing)


def count(session_factory, model, *conditions) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model).where(*conditions))


# The daily attendance cycle.


def test_daily_cycle_reminds_and_escalates_once(build, write_config, flow_env, tmp_path):
    world = build()
    config = write_config()
    first_tick = run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    again_tick = run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    assert (first_tick.tasks_created, again_tick.tasks_created) >= (3, 0)
    assert count(flow_env.session_factory, Task, Task.kind == CycleKind.DAILY_ATTENDANCE) == 3
    mark_morning(flow_env, world)

    reminded = run_flow(send_reminders, now=REMIND, batch_size=BATCH, config=config)
    run_flow(send_reminders, now=REMIND, batch_size=BATCH, config=config)
    escalated = run_flow(escalate, now=ESCALATE, batch_size=BATCH, config=config)
    once = rows(flow_env.session_factory)
    again = run_flow(escalate, now=ESCALATE, batch_size=BATCH, config=config)
    assert rows(flow_env.session_factory) == once
    assert (again.steps, again.messages) == (0, 0)

    # Only 10-A, never marked, is reminded at 10:00 and escalated to its head teacher.
    ten_a = ("daily_attendance", ("36110001", 10, "A"), "section", TODAY)
    daily = [row for row in once["tasks"] if row[0] == "daily_attendance"]
    assert {row[1]: row[4] for row in daily} == {
        ("36110001", 9, "A"): TaskState.APPROVED.value,
        ("36110001", 10, "A"): TaskState.OPEN.value,
        ("36110002", 9, "A"): TaskState.APPROVED.value,
    }
    assert [r[0] for r in once["reminders"] if r[0][0] == "daily_attendance"] == [ten_a]
    assert [e[:3] for e in once["escalations"] if e[0][0] == "daily_attendance"] == [
        (ten_a, 1, "head.a")
    ]
    assert (reminded.steps, escalated.steps) == (1, 1)
    digests = {(row[0], row[1], row[2]) for row in once["outbox"]}
    assert ("reminders", "teacher.a10", "in_app") in digests
    assert ("escalations", "head.a", "in_app") in digests
    assert not any(user == "class.a9" for _kind, user, _channel in digests)


def daily_cycle(flow_env, world, config) -> None:
    run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    mark_morning(flow_env, world)
    run_flow(send_reminders, now=REMIND, batch_size=BATCH, config=config)
    run_flow(escalate, now=ESCALATE, batch_size=BATCH, config=config)


def test_daily_cycle_crash_then_rerun_equals_clean_run(build, write_config, flow_env, monkeypatch):
    world = build()
    config = write_config()
    daily_cycle(flow_env, world, config)
    clean = rows(flow_env.session_factory)

    # A tick that dies after its first batch of tasks, then an escalation sweep that dies
    # before writing anything: the full cycle run after them leaves what a clean run leaves.
    world = build()
    with monkeypatch.context() as patch:
        crash_on_call(patch, cycle_flows.cycles, "generate_tasks", call=2)
        with pytest.raises(RuntimeError, match="crash injected"):
            run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    assert 0 < count(flow_env.session_factory, Task) < len(clean["tasks"])
    with monkeypatch.context() as patch:
        crash_on_call(patch, engine_flows.engine, "sweep_escalations", call=1)
        with pytest.raises(RuntimeError, match="crash injected"):
            run_flow(escalate, now=ESCALATE, batch_size=BATCH, config=config)
    daily_cycle(flow_env, world, config)
    assert rows(flow_env.session_factory) == clean


def test_absence_sms_once_after_reruns(build, write_config, flow_env, tmp_path):
    world = build()
    config = write_config()
    run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    mark_morning(flow_env, world)

    first = run_flow(absence_notices, now=NOTICES, batch_size=BATCH, config=config)
    again = run_flow(absence_notices, now=NOTICES, batch_size=BATCH, config=config)
    later = run_flow(absence_notices, now=local(2026, 12, 4, 9, 0), batch_size=BATCH, config=config)
    assert (first.queued, again.queued, later.queued) == (2, 0, 0)
    run_flow(deliver_outbox, now=DELIVER, config=config)
    run_flow(deliver_outbox, now=local(2026, 12, 4, 9, 1), config=config)

    messages = sent_sms(tmp_path)
    assert sorted(message["to"] for message in messages) == ["+923001234567", "+923217654321"]
    assert {message["key"] for message in messages} == {
        f"absence:{world.student_a9.id}:2026-12-04:sms",
        f"absence:{world.student_b9.id}:2026-12-04:sms",
    }
    # In Urdu, the guardians' language, with the student's name and the date.
    a9 = next(m for m in messages if m["to"] == "+923001234567")
    assert "04/12/2026" in a9["text"]


def test_absence_sms_crash_then_rerun_equals_clean_run(
    build, write_config, flow_env, tmp_path, monkeypatch
):
    world = build()
    config = write_config()
    run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    mark_morning(flow_env, world)
    run_flow(absence_notices, now=NOTICES, batch_size=BATCH, config=config)
    run_flow(deliver_outbox, now=DELIVER, config=config)
    clean = rows(flow_env.session_factory)
    clean_sms = [(m["to"], m["text"]) for m in sent_sms(tmp_path)]

    for path in (tmp_path / "sms").glob("*.json"):
        path.unlink()
    world = build()
    run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    mark_morning(flow_env, world)
    with monkeypatch.context() as patch:
        crash_on_call(patch, attendance_flows.attendance, "queue_absence_notices", call=2)
        with pytest.raises(RuntimeError, match="crash injected"):
            run_flow(absence_notices, now=NOTICES, batch_size=BATCH, config=config)
    assert count(flow_env.session_factory, OutboxMessage) == 1  # school A's batch committed
    run_flow(absence_notices, now=NOTICES, batch_size=BATCH, config=config)
    run_flow(deliver_outbox, now=DELIVER, config=config)

    assert rows(flow_env.session_factory) == clean
    assert sorted((m["to"], m["text"]) for m in sent_sms(tmp_path)) == sorted(clean_sms)


def test_correction_before_sweep_sends_nothing(build, write_config, flow_env, tmp_path):
    world = build()
    config = write_config()
    run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    mark_morning(flow_env, world)
    mark(
        flow_env,
        world.section_a9.id,
        {world.student_a9.id: AttendanceStatus.PRESENT},
        local(2026, 12, 4, 8, 5),
        version=1,
    )
    summary = run_flow(absence_notices, now=NOTICES, batch_size=BATCH, config=config)
    run_flow(deliver_outbox, now=DELIVER, config=config)

    assert summary.queued == 1  # school B's absence only
    assert [m["to"] for m in sent_sms(tmp_path)] == ["+923217654321"]
    key = f"absence:{world.student_a9.id}:2026-12-04:sms"
    assert count(flow_env.session_factory, OutboxMessage, OutboxMessage.key == key) == 0


def test_correction_after_queueing_cancels_pending_sms(build, write_config, flow_env, tmp_path):
    world = build()
    config = write_config()
    run_flow(calendar_tick, now=TICK, batch_size=BATCH, config=config)
    mark_morning(flow_env, world)
    run_flow(absence_notices, now=NOTICES, batch_size=BATCH, config=config)
    mark(
        flow_env,
        world.section_a9.id,
        {world.student_a9.id: AttendanceStatus.LATE},
        local(2026, 12, 4, 8, 30, 30),
        version=1,
    )
    run_flow(deliver_outbox, now=DELIVER, config=config)
    again = run_flow(absence_notices, now=local(2026, 12, 4, 9, 0), batch_size=BATCH, config=config)
    run_flow(deliver_outbox, now=local(2026, 12, 4, 9, 1), config=config)

    assert again.queued == 0
    assert [m["to"] for m in sent_sms(tmp_path)] == ["+923217654321"]
    key = f"absence:{world.student_a9.id}:2026-12-04:sms"
    with flow_env.session_factory() as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).one()
    assert (message.status, message.last_error) == (
        OutboxStatus.FAILED,
        attendance.NOTICE_CANCELLED,
    )


# The intervention review cycle.

# The plan's review is due on Tuesday 8 December, so its task opens two school days
# before, on Saturday 5 December. Reminders come at 08:00 on 7 and 8 December, and the
# head teacher is told at midnight after the 8th.
REVIEW_ON = date(2026, 12, 8)
OPENS = local(2026, 12, 5, 1, 0)
FIRST_REMINDER = local(2026, 12, 7, 8, 0)
SECOND_REMINDER = local(2026, 12, 8, 8, 0)
REVIEW_LATE = local(2026, 12, 9, 0, 30)


def add_plans(flow_env, world) -> None:
    with flow_env.session_factory() as session, session.begin():
        for student_id, owner in (
            (world.student_a9.id, world.class_teacher_a9.id),
            (world.student_b9.id, world.teacher_b9.id),
        ):
            student = session.get(Student, student_id)
            plans.create_plan(
                session,
                student,
                {
                    "goal": "Attend every day.",
                    "actions": "Daily check-in.",
                    "owner_id": owner,
                    "parent_consent": False,
                    "parent_consent_on": None,
                    "review_on": REVIEW_ON,
                },
                flag_id=None,
                actor=Actor(world.head_a.id),
                now=world.now,
            )


def review_cycle(config) -> None:
    run_flow(early_warnings, now=OPENS, batch_size=BATCH, config=config)
    run_flow(send_reminders, now=FIRST_REMINDER, batch_size=BATCH, config=config)
    run_flow(send_reminders, now=SECOND_REMINDER, batch_size=BATCH, config=config)
    run_flow(escalate, now=REVIEW_LATE, batch_size=BATCH, config=config)


def test_review_cycle_once_after_reruns(build, write_config, flow_env):
    world = build()
    config = write_config()
    add_plans(flow_env, world)
    assert count(flow_env.session_factory, Task, Task.kind == CycleKind.INTERVENTION_REVIEW) == 0
    review_cycle(config)
    once = rows(flow_env.session_factory)
    review_cycle(config)
    assert rows(flow_env.session_factory) == once

    reviews = [row for row in once["tasks"] if row[0] == "intervention_review"]
    assert [(row[1], row[3], row[4], row[5], row[6]) for row in reviews] == [
        (("36110001", 9, "A"), date(2026, 12, 5), "open", 2, 1),
        (("36110002", 9, "A"), date(2026, 12, 5), "open", 2, 1),
    ]
    assert sorted(e[2] for e in once["escalations"]) == ["head.a", "head.b"]
    with flow_env.session_factory() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(InterventionReview)
                .where(InterventionReview.task_id.is_not(None))
            )
            == 2
        )


def test_review_cycle_crash_then_rerun_equals_clean_run(build, write_config, flow_env, monkeypatch):
    world = build()
    config = write_config()
    add_plans(flow_env, world)
    review_cycle(config)
    clean = rows(flow_env.session_factory)

    world = build()
    add_plans(flow_env, world)
    with monkeypatch.context() as patch:
        crash_on_call(patch, attendance_flows.plans, "open_due_reviews", call=2)
        with pytest.raises(RuntimeError, match="crash injected"):
            run_flow(early_warnings, now=OPENS, batch_size=BATCH, config=config)
    assert count(flow_env.session_factory, Task, Task.kind == CycleKind.INTERVENTION_REVIEW) == 1
    review_cycle(config)
    assert rows(flow_env.session_factory) == clean


def test_review_recorded_opens_next_review_once(build, write_config, flow_env):
    world = build()
    config = write_config()
    add_plans(flow_env, world)
    run_flow(early_warnings, now=OPENS, batch_size=BATCH, config=config)
    run_flow(send_reminders, now=FIRST_REMINDER, batch_size=BATCH, config=config)

    # The owner of 9-A's plan records the review on Monday 7 December, before it is due,
    # and sets the next one for Tuesday 15 December; it opens two school days before.
    with flow_env.session_factory() as session, session.begin():
        review = session.scalars(
            select(InterventionReview)
            .join(InterventionPlan)
            .where(InterventionPlan.student_id == world.student_a9.id)
        ).one()
        plans.record_review(
            session,
            review,
            {
                "progress": "Present every day this week.",
                "flag_resolved": False,
                "close_plan": False,
                "next_review_on": date(2026, 12, 15),
            },
            actor=Actor(world.class_teacher_a9.id),
            now=local(2026, 12, 7, 11, 0),
        )

    def next_steps() -> None:
        run_flow(send_reminders, now=SECOND_REMINDER, batch_size=BATCH, config=config)
        run_flow(escalate, now=REVIEW_LATE, batch_size=BATCH, config=config)
        run_flow(early_warnings, now=local(2026, 12, 12, 1, 0), batch_size=BATCH, config=config)
        run_flow(send_reminders, now=local(2026, 12, 14, 8, 0), batch_size=BATCH, config=config)
        run_flow(send_reminders, now=local(2026, 12, 15, 8, 0), batch_size=BATCH, config=config)

    next_steps()
    once = rows(flow_env.session_factory)
    next_steps()
    assert rows(flow_env.session_factory) == once

    a9 = ("36110001", 9, "A")
    reviews = [row[3:] for row in once["tasks"] if row[:2] == ("intervention_review", a9)]
    # The reviewed task got one reminder and was approved; the next opened on 12 December
    # and was reminded on 14 and 15 December.
    assert reviews == [
        (date(2026, 12, 5), TaskState.APPROVED.value, 1, 0),
        (date(2026, 12, 12), TaskState.OPEN.value, 2, 0),
    ]
    # 9-B's review, never recorded, went on to its head teacher.
    b9 = [
        row[3:] for row in once["tasks"] if row[:2] == ("intervention_review", ("36110002", 9, "A"))
    ]
    assert b9 == [(date(2026, 12, 5), TaskState.OPEN.value, 2, 1)]
    assert [e[2] for e in once["escalations"]] == ["head.b"]
    with flow_env.session_factory() as session:
        history = session.execute(
            select(InterventionReview.due_on, InterventionReview.progress)
            .join(InterventionPlan)
            .where(InterventionPlan.student_id == world.student_a9.id)
            .order_by(InterventionReview.due_on)
        ).all()
    assert history == [
        (date(2026, 12, 8), "Present every day this week."),
        (date(2026, 12, 15), ""),
    ]


# The monthly behaviour rubric cycle.

MONTH_TICK = local(2026, 12, 1, 0, 15)
RUBRIC_SUBMITTED = local(2026, 12, 2, 14, 0)


def submit_rubric(flow_env, world) -> None:
    """The class teacher of school A's 9-A rates the section and submits the sheet."""
    with flow_env.session_factory() as session, session.begin():
        task = session.scalars(
            select(Task).where(
                Task.kind == CycleKind.BEHAVIOUR_RUBRIC, Task.section_id == world.section_a9.id
            )
        ).one()
        rows_sent = [
            {
                "student_id": student.id,
                "discipline": 3,
                "punctuality": 4,
                "cleanliness": 3,
                "hygiene": 4,
                "note": "",
            }
            for student in attendance.roll_on(session, world.section_a9.id, date(2026, 12, 2))
        ]
        behaviour.save_rubric_sheet(
            session,
            task,
            rows_sent,
            version=task.version,
            actor=Actor(world.class_teacher_a9.id),
            now=RUBRIC_SUBMITTED,
            submit=True,
        )


def next_rubric_step(flow_env, after: datetime) -> datetime | None:
    """Return the earliest reminder or escalation still due on a pending rubric task."""
    with flow_env.session_factory() as session:
        pending = session.scalars(
            select(Task).where(
                Task.kind == CycleKind.BEHAVIOUR_RUBRIC, Task.state.in_(["open", "in_progress"])
            )
        ).all()
        times = [
            moment
            for task in pending
            for moment in (task.next_reminder_at, task.next_escalation_at)
            if moment is not None and moment.replace(tzinfo=UTC) > after
        ]
    return min(times, default=None)


def rubric_cycle(flow_env, world, config) -> list[datetime]:
    """Open the month's rubric tasks, submit one, and run every reminder and escalation due."""
    run_flow(calendar_tick, now=MONTH_TICK, batch_size=BATCH, config=config)
    submit_rubric(flow_env, world)
    moments = []
    moment = RUBRIC_SUBMITTED
    while (moment := next_rubric_step(flow_env, moment)) is not None and len(moments) < 10:
        moment = moment.replace(tzinfo=UTC)
        moments.append(moment)
        run_flow(send_reminders, now=moment, batch_size=BATCH, config=config)
        run_flow(escalate, now=moment, batch_size=BATCH, config=config)
    return moments


def test_rubric_cycle_reminds_and_escalates_once(build, write_config, flow_env):
    world = build()
    config = write_config()
    moments = rubric_cycle(flow_env, world, config)
    once = rows(flow_env.session_factory)
    for moment in moments:
        run_flow(send_reminders, now=moment, batch_size=BATCH, config=config)
        run_flow(escalate, now=moment, batch_size=BATCH, config=config)
    run_flow(calendar_tick, now=MONTH_TICK, batch_size=BATCH, config=config)
    assert rows(flow_env.session_factory) == once

    # Due on 24 December, the twentieth school day after 1 December: reminders at 08:00
    # three school days before and on the day, the head teacher at midnight after it, the
    # AEO three school days later (25 December is a holiday, 27 December a Sunday).
    assert moments == [
        local(2026, 12, 21, 8, 0),
        local(2026, 12, 24, 8, 0),
        local(2026, 12, 25, 0, 0),
        local(2026, 12, 30, 0, 0),
    ]
    rubric = [row for row in once["tasks"] if row[0] == "behaviour_rubric"]
    a9, a10, b9 = ("36110001", 9, "A"), ("36110001", 10, "A"), ("36110002", 9, "A")
    assert [(row[1], row[3], row[4], row[5], row[6]) for row in rubric] == [
        (a9, date(2026, 12, 1), TaskState.SUBMITTED.value, 0, 0),
        (a10, date(2026, 12, 1), TaskState.OPEN.value, 2, 2),
        (b9, date(2026, 12, 1), TaskState.OPEN.value, 2, 2),
    ]
    reminded = [(r[0][1], r[1]) for r in once["reminders"] if r[0][0] == "behaviour_rubric"]
    assert reminded == [(a10, -3), (a10, 0), (b9, -3), (b9, 0)]
    escalated = [
        (e[0][1], e[1], e[2]) for e in once["escalations"] if e[0][0] == "behaviour_rubric"
    ]
    # School B's markaz has no AEO, so its second level reaches nobody.
    assert escalated == [(a10, 1, "head.a"), (a10, 2, "aeo.a"), (b9, 1, "head.b"), (b9, 2, None)]
    # The class teacher who submitted gets no rubric reminder (the day's register, never
    # marked in this scenario, still reminds them); the head teacher is asked to sign off.
    to_class_a9 = [row[4] for row in once["outbox"] if row[1] == "class.a9"]
    assert to_class_a9
    assert not any("Monthly behaviour rubric" in body for body in to_class_a9)
    assert {row[2] for row in once["outbox"] if row[:2] == ("submitted", "head.a")} == {
        "email",
        "in_app",
    }
    with flow_env.session_factory() as session:
        rated = session.scalars(select(BehaviourRubric.student_id)).all()
    assert rated == [world.student_a9.id]
