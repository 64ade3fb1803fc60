"""The parents sweep on the real Prefect engine: PTM minutes tasks and held guardian messages."""

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from builders import PASSWORD, SYSTEM, student_values
from sqlalchemy import func, select

from spets.models import (
    CycleKind,
    Guardian,
    OutboxMessage,
    OutboxStatus,
    Relation,
    Task,
    TaskEscalation,
    TaskReminder,
)
from spets.models.ptm import AgreedAction, PtmAttendance, PtmBooking, PtmSlot
from spets.services import guardians, messaging, people, ptm
from spets.services.audit import Actor
from spets.workflows.engine import escalate, send_reminders
from spets.workflows.messaging import deliver_outbox
from spets.workflows.ptm import parents_sweep
from spets.workflows.runtime import run_flow

KARACHI = ZoneInfo("Asia/Karachi")
PTM_DAY = date(2026, 12, 10)
BEFORE = datetime(2026, 12, 10, 23, 50, tzinfo=KARACHI).astimezone(UTC)
AFTER = datetime(2026, 12, 11, 0, 20, tzinfo=KARACHI).astimezone(UTC)


def sign_up(session, guardian, phone, now):
    issued = guardians.issue_invitation(session, guardian, actor=SYSTEM, now=now)
    started = guardians.start_signup(
        session, issued.code, phone, client_addr=None, locale="ur", now=now
    )
    body = session.scalar(
        select(OutboxMessage.body).where(
            OutboxMessage.key == f"one-time-code:{started.one_time_code_id}:sms"
        )
    )
    otp = re.search(r"\d{6}", body).group(0)
    return guardians.complete_signup(session, started, otp, PASSWORD, client_addr=None, now=now)


def build_ptm(build_world, session_factory):
    """The test world with a PTM day at school A, one booked slot and a guardian account."""
    world = build_world()
    with session_factory() as session, session.begin():
        school = session.merge(world.school_a)
        teacher = session.merge(world.subject_teacher_a9)
        student = session.merge(world.student_a9)
        guardian = session.get(Guardian, world.guardian_link_a9.guardian_id)
        ptm_day = ptm.save_day(
            session,
            unit=school,
            ptm_day=None,
            values={"day": PTM_DAY, "name_en": "December PTM", "name_ur": "دسمبر کی میٹنگ"},
            version=None,
            actor=Actor(world.head_a.id),
            now=world.now,
        )
        ptm.open_slots(
            session,
            ptm_day=ptm_day,
            school=school,
            teacher=teacher,
            starts=time(9, 0),
            ends=time(9, 30),
            minutes=10,
            now=world.now,
        )
        user = sign_up(session, guardian, "+923001234567", world.now)
        slot = session.scalars(select(PtmSlot).order_by(PtmSlot.starts_at)).first()
        ptm.book(
            session, slot=slot, student=student, guardian_id=guardian.id, user=user, now=world.now
        )
    return world


def minutes_tasks(session_factory) -> list[tuple]:
    with session_factory() as session:
        return session.execute(
            select(Task.assignee_id, Task.target_type, Task.opens_on, Task.due_on).where(
                Task.kind == CycleKind.PTM_MINUTES
            )
        ).all()


def test_sweep_opens_minutes_task_once(build_world, write_config, flow_env):
    world = build_ptm(build_world, flow_env.session_factory)
    config = write_config()

    before = run_flow(parents_sweep, now=BEFORE, config=config)
    assert before.minutes_tasks_opened == 0
    assert minutes_tasks(flow_env.session_factory) == []

    first = run_flow(parents_sweep, now=AFTER, config=config)
    assert first.minutes_tasks_opened == 1
    assert minutes_tasks(flow_env.session_factory) == [
        (world.subject_teacher_a9.id, "ptm_teacher_day", date(2026, 12, 11), date(2026, 12, 15))
    ]
    again = run_flow(parents_sweep, now=AFTER, config=config)
    assert again.minutes_tasks_opened == 0
    assert len(minutes_tasks(flow_env.session_factory)) == 1


def test_sweep_releases_held_messages_once(build_world, write_config, flow_env, tmp_path):
    world = build_ptm(build_world, flow_env.session_factory)
    config = write_config()
    with flow_env.session_factory() as session, session.begin():
        guardian = session.get(Guardian, world.guardian_link_a9.guardian_id)
        messaging.queue_for_guardian(
            session,
            key=f"result:1:1:{world.student_a9.id}:{guardian.id}",
            guardian=guardian,
            draft=messaging.Draft(
                subject="New result",
                body="A result is published.",
                sms="SPeTS: a new result is published for your child.",
                link="/portal",
            ),
            now=world.now,
        )

    summary = run_flow(parents_sweep, now=AFTER, config=config)
    assert summary.messages_released == 1
    assert run_flow(parents_sweep, now=AFTER, config=config).messages_released == 0

    run_flow(deliver_outbox, now=AFTER, config=config)
    run_flow(deliver_outbox, now=AFTER, config=config)
    with flow_env.session_factory() as session:
        statuses = session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.key.like("result:%"))
            .group_by(OutboxMessage.status)
        ).all()
    assert dict(statuses) == {OutboxStatus.SENT: 1}
    sent = [p for p in (tmp_path / "sms").iterdir() if "result" in p.read_text(encoding="utf-8")]
    assert len(sent) == 1


def local(*args) -> datetime:
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


def add_absent_family(world, session_factory) -> int:
    """Book the second slot for Sara Bibi's mother; return the booking id."""
    with session_factory() as session, session.begin():
        section = session.merge(world.section_a9)
        sara = people.admit_student(
            session,
            section=section,
            values=student_values("A902", "Sara Bibi", "سارہ بی بی"),
            admitted_on=date(2026, 4, 1),
            actor=SYSTEM,
            now=world.now,
        )
        amina = people.add_guardian(
            session,
            sara,
            {"name_en": "Amina Bibi", "phone": "+923007770000", "relation": Relation.MOTHER},
            actor=SYSTEM,
            now=world.now,
        ).guardian
        user = sign_up(session, amina, "+923007770000", world.now)
        slot = session.scalars(select(PtmSlot).order_by(PtmSlot.starts_at)).all()[1]
        return ptm.book(
            session, slot=slot, student=sara, guardian_id=amina.id, user=user, now=world.now
        ).id


def task_steps(session_factory, task_id: int) -> tuple[list[int], list[tuple[int, str]]]:
    with session_factory() as session:
        reminders = session.scalars(
            select(TaskReminder.offset_days).where(TaskReminder.task_id == task_id)
        ).all()
        escalations = session.execute(
            select(TaskEscalation.level, TaskEscalation.role).where(
                TaskEscalation.task_id == task_id
            )
        ).all()
    return list(reminders), [tuple(row) for row in escalations]


def test_ptm_logging_cycle_on_engine(build_world, write_config, flow_env):
    factory = flow_env.session_factory
    world = build_ptm(build_world, factory)
    absent_booking_id = add_absent_family(world, factory)
    config = write_config()

    assert run_flow(parents_sweep, now=AFTER, config=config).minutes_tasks_opened == 1
    with factory() as session:
        minutes_task = session.scalars(select(Task).where(Task.kind == CycleKind.PTM_MINUTES)).one()
        aslam_booking_id = session.scalars(
            select(PtmBooking.id).where(PtmBooking.id != absent_booking_id)
        ).one()

    # Due Tuesday 15 December: reminded the school day before, escalated the day after.
    run_flow(send_reminders, now=local(2026, 12, 14, 8, 0), config=config)
    run_flow(send_reminders, now=local(2026, 12, 14, 8, 0), config=config)
    run_flow(escalate, now=local(2026, 12, 16, 0, 30), config=config)
    run_flow(escalate, now=local(2026, 12, 16, 0, 30), config=config)
    assert task_steps(factory, minutes_task.id) == ([-1], [(1, "head_teacher")])

    with factory() as session, session.begin():
        task = session.get(Task, minutes_task.id)
        ptm.save_minutes(
            session,
            task,
            [
                ptm.MinutesEntry(
                    booking_id=aslam_booking_id,
                    attendance=PtmAttendance.CAME,
                    notes="Ayesha needs practice with fractions.",
                    new_actions=[
                        {
                            "description": "Check the homework diary every Friday",
                            "owner_id": world.class_teacher_a9.id,
                            "due_on": date(2026, 12, 31),
                        }
                    ],
                ),
                ptm.MinutesEntry(
                    booking_id=absent_booking_id, attendance=PtmAttendance.DID_NOT_COME
                ),
            ],
            actor=Actor(world.subject_teacher_a9.id),
            now=local(2026, 12, 16, 9, 0),
            submit=True,
        )

    with factory() as session:
        opened = session.execute(
            select(Task.id, Task.kind, Task.assignee_id, Task.target_type, Task.target_id)
            .where(Task.kind.in_((CycleKind.AGREED_ACTION, CycleKind.PTM_FOLLOW_UP)))
            .order_by(Task.kind)
        ).all()
        action_id = session.scalar(select(AgreedAction.id))
    by_kind = {row.kind: row for row in opened}
    assert len(opened) == 2
    action_task = by_kind[CycleKind.AGREED_ACTION]
    assert (action_task.assignee_id, action_task.target_id) == (
        world.class_teacher_a9.id,
        action_id,
    )
    follow_up = by_kind[CycleKind.PTM_FOLLOW_UP]
    assert (follow_up.assignee_id, follow_up.target_type, follow_up.target_id) == (
        world.class_teacher_a9.id,
        "ptm_booking",
        absent_booking_id,
    )

    # The handed-in minutes escalate no further; the agreed action has its own reminders.
    run_flow(escalate, now=local(2026, 12, 19, 0, 30), config=config)
    assert task_steps(factory, minutes_task.id) == ([-1], [(1, "head_teacher")])
    run_flow(send_reminders, now=local(2026, 12, 29, 8, 0), config=config)
    assert task_steps(factory, action_task.id) == ([-2], [])
    # A second sweep opens nothing new for the day that was logged.
    assert (
        run_flow(parents_sweep, now=local(2026, 12, 17, 0, 20), config=config).minutes_tasks_opened
        == 0
    )
