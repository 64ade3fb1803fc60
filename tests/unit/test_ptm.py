"""Parent–teacher meetings: days, slots, bookings, and the PTM cycles on the engine."""

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from builders import PASSWORD, SYSTEM
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from spets.models import (
    CycleDefinition,
    CycleKind,
    OutboxMessage,
    Relation,
    Task,
    TaskEscalation,
    TaskReminder,
    TaskState,
)
from spets.models.ptm import (
    AgreedAction,
    BookingState,
    FollowUpMethod,
    PtmAttendance,
    PtmBooking,
    PtmFollowUp,
    PtmSlot,
)
from spets.services import engine, guardians, people, ptm, tasks
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, Locked, NotFound

KARACHI = ZoneInfo("Asia/Karachi")
PTM_DAY = date(2026, 12, 10)  # a Thursday


def local(*args) -> datetime:
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


def sign_up(world, guardian, phone, now):
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    started = guardians.start_signup(
        world.session, issued.code, phone, client_addr=None, locale="ur", now=now
    )
    body = world.session.scalar(
        select(OutboxMessage.body).where(
            OutboxMessage.key == f"one-time-code:{started.one_time_code_id}:sms"
        )
    )
    otp = re.search(r"\d{6}", body).group(0)
    return guardians.complete_signup(
        world.session, started, otp, PASSWORD, client_addr=None, now=now
    )


@pytest.fixture
def ptm_world(world, now):
    """A PTM day at school A with the maths teacher's slots and two families of 9-A."""
    w = world
    w.ptm_day = ptm.save_day(
        w.session,
        unit=w.school_a,
        ptm_day=None,
        values={"day": PTM_DAY, "name_en": "December PTM", "name_ur": "دسمبر کی میٹنگ"},
        version=None,
        actor=Actor(w.head_a.id),
        now=now,
    )
    ptm.open_slots(
        w.session,
        ptm_day=w.ptm_day,
        school=w.school_a,
        teacher=w.subject_teacher_a9,
        starts=time(9, 0),
        ends=time(10, 0),
        minutes=10,
        now=now,
    )
    w.slots = w.session.scalars(select(PtmSlot).order_by(PtmSlot.starts_at)).all()
    w.aslam = w.guardian_link_a9.guardian
    w.aslam_user = sign_up(w, w.aslam, "+923001234567", now)
    w.sara = w.admit(w.section_a9, "A902", "Sara Bibi", "سارہ بی بی")
    w.amina = people.add_guardian(
        w.session,
        w.sara,
        {"name_en": "Amina Bibi", "phone": "+923007770000", "relation": Relation.MOTHER},
        actor=SYSTEM,
        now=now,
    ).guardian
    w.amina_user = sign_up(w, w.amina, "+923007770000", now)
    return w


def book(w, slot, student, guardian, user, now):
    return ptm.book(
        w.session, slot=slot, student=student, guardian_id=guardian.id, user=user, now=now
    )


# Days and slots.


def test_day_creates_ptm_definitions(ptm_world):
    kinds = set(
        ptm_world.session.scalars(
            select(CycleDefinition.kind).where(CycleDefinition.org_unit_id == ptm_world.tenant.id)
        )
    )
    assert kinds >= {CycleKind.PTM_MINUTES, CycleKind.AGREED_ACTION, CycleKind.PTM_FOLLOW_UP}


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2026, 12, 13), "a Sunday"),
        (date(2026, 12, 25), "Quaid-e-Azam Day"),
        (date(2026, 12, 1), "in the past"),
    ],
)
def test_day_refused_when_not_open(world, now, day, reason):
    with pytest.raises(InvalidInput):
        ptm.save_day(
            world.session,
            unit=world.school_a,
            ptm_day=None,
            values={"day": day, "name_en": "PTM", "name_ur": "میٹنگ"},
            version=None,
            actor=SYSTEM,
            now=now,
        )


def test_day_refused_twice_for_unit(ptm_world, now):
    with pytest.raises(InvalidInput):
        ptm.save_day(
            ptm_world.session,
            unit=ptm_world.school_a,
            ptm_day=None,
            values={"day": PTM_DAY, "name_en": "Again", "name_ur": "دوبارہ"},
            version=None,
            actor=SYSTEM,
            now=now,
        )


def test_district_day_applies_to_its_schools(world, now):
    district_day = ptm.save_day(
        world.session,
        unit=world.district_a,
        ptm_day=None,
        values={"day": PTM_DAY, "name_en": "District PTM", "name_ur": "ضلعی میٹنگ"},
        version=None,
        actor=SYSTEM,
        now=now,
    )
    assert district_day in ptm.days_for_school(world.session, world.school_a, PTM_DAY)
    assert district_day not in ptm.days_for_school(world.session, world.school_b, PTM_DAY)


def test_slots_opened_once(ptm_world, now):
    w = ptm_world
    assert len(w.slots) == 6
    assert w.slots[0].starts_at == local(2026, 12, 10, 9, 0)
    again = ptm.open_slots(
        w.session,
        ptm_day=w.ptm_day,
        school=w.school_a,
        teacher=w.subject_teacher_a9,
        starts=time(9, 0),
        ends=time(10, 0),
        minutes=10,
        now=now,
    )
    assert again == 0


def test_overlapping_slots_refused(ptm_world, now):
    with pytest.raises(InvalidInput):
        ptm.open_slots(
            ptm_world.session,
            ptm_day=ptm_world.ptm_day,
            school=ptm_world.school_a,
            teacher=ptm_world.subject_teacher_a9,
            starts=time(9, 5),
            ends=time(9, 35),
            minutes=15,
            now=now,
        )


def test_slot_outside_day_unit_refused(ptm_world, now):
    with pytest.raises(NotFound):
        ptm.open_slots(
            ptm_world.session,
            ptm_day=ptm_world.ptm_day,
            school=ptm_world.school_b,
            teacher=ptm_world.teacher_b9,
            starts=time(9, 0),
            ends=time(10, 0),
            minutes=10,
            now=now,
        )


# Bookings.


def test_bookable_slots_are_the_childs_teachers(ptm_world, now):
    w = ptm_world
    ptm.open_slots(
        w.session,
        ptm_day=w.ptm_day,
        school=w.school_a,
        teacher=w.teacher_a10,
        starts=time(9, 0),
        ends=time(9, 30),
        minutes=10,
        now=now,
    )
    days = ptm.bookable_days(w.session, w.student_a9, now)
    assert [day.ptm_day.id for day in days] == [w.ptm_day.id]
    assert [row.teacher.id for row in days[0].teachers] == [w.subject_teacher_a9.id]
    assert len(days[0].teachers[0].free) == 6


def test_second_booking_of_slot_conflicts(ptm_world, now):
    w = ptm_world
    first = book(w, w.slots[0], w.student_a9, w.aslam, w.aslam_user, now)
    assert first.state == BookingState.CONFIRMED
    with pytest.raises(ptm.BookingConflict):
        book(w, w.slots[0], w.sara, w.amina, w.amina_user, now)
    confirmed = w.session.scalar(
        select(func.count()).where(
            PtmBooking.slot_id == w.slots[0].id, PtmBooking.state == BookingState.CONFIRMED
        )
    )
    assert confirmed == 1
    # The other family can still book another time.
    assert book(w, w.slots[1], w.sara, w.amina, w.amina_user, now).slot_id == w.slots[1].id


def test_database_refuses_two_confirmed_bookings(ptm_world, now):
    w = ptm_world
    for student, guardian in ((w.student_a9, w.aslam), (w.sara, w.amina)):
        w.session.add(
            PtmBooking(
                slot_id=w.slots[2].id,
                guardian_id=guardian.id,
                student_id=student.id,
                state=BookingState.CONFIRMED,
                booked_at=now,
            )
        )
    with pytest.raises(IntegrityError):
        w.session.flush()
    w.session.rollback()


def test_one_booking_per_teacher_and_day(ptm_world, now):
    w = ptm_world
    book(w, w.slots[0], w.student_a9, w.aslam, w.aslam_user, now)
    with pytest.raises(InvalidInput):
        book(w, w.slots[1], w.student_a9, w.aslam, w.aslam_user, now)


def test_cancel_frees_slot(ptm_world, now):
    w = ptm_world
    booking = book(w, w.slots[0], w.student_a9, w.aslam, w.aslam_user, now)
    ptm.cancel_booking(w.session, booking, user=w.aslam_user, now=now)
    assert booking.state == BookingState.CANCELLED
    assert book(w, w.slots[0], w.sara, w.amina, w.amina_user, now).slot_id == w.slots[0].id
    with pytest.raises(Locked):
        ptm.cancel_booking(w.session, booking, user=w.aslam_user, now=now)


def test_booking_of_past_slot_refused(ptm_world):
    w = ptm_world
    with pytest.raises(Locked):
        book(w, w.slots[0], w.student_a9, w.aslam, w.aslam_user, local(2026, 12, 10, 9, 30))


def test_booked_slot_cannot_be_removed(ptm_world, now):
    w = ptm_world
    book(w, w.slots[0], w.student_a9, w.aslam, w.aslam_user, now)
    with pytest.raises(Locked):
        ptm.delete_slot(w.session, w.slots[0], now=now)
    ptm.delete_slot(w.session, w.slots[5], now=now)
    assert w.session.get(PtmSlot, w.slots[5].id) is None


# The minutes cycle on the engine.


@pytest.fixture
def booked(ptm_world, now):
    w = ptm_world
    w.aslam_booking = book(w, w.slots[0], w.student_a9, w.aslam, w.aslam_user, now)
    w.amina_booking = book(w, w.slots[1], w.sara, w.amina, w.amina_user, now)
    return w


def minutes_task(session) -> Task:
    return session.scalars(select(Task).where(Task.kind == CycleKind.PTM_MINUTES)).one()


def test_minutes_task_opens_after_day_once(booked):
    w = booked
    assert ptm.open_minutes_tasks(w.session, local(2026, 12, 10, 23, 0)) == 0
    assert ptm.open_minutes_tasks(w.session, local(2026, 12, 11, 0, 20)) == 1
    assert ptm.open_minutes_tasks(w.session, local(2026, 12, 11, 0, 30)) == 0
    assert ptm.open_minutes_tasks(w.session, local(2026, 12, 14, 0, 20)) == 0
    task = minutes_task(w.session)
    assert task.assignee_id == w.subject_teacher_a9.id
    assert task.school_id == w.school_a.id
    assert task.target_id == w.slots[0].id
    # Opens on Friday 11 December; three school days later (Sunday off): Tuesday 15 December.
    assert (task.opens_on, task.due_on) == (date(2026, 12, 11), date(2026, 12, 15))


def test_missed_day_caught_up(booked):
    assert ptm.open_minutes_tasks(booked.session, local(2026, 12, 20, 0, 20)) == 1
    assert ptm.open_minutes_tasks(booked.session, local(2027, 1, 20, 0, 20)) == 0


def test_minutes_task_reminded_and_escalated(booked):
    w = booked
    ptm.open_minutes_tasks(w.session, local(2026, 12, 11, 0, 20))
    task = minutes_task(w.session)
    engine.sweep_reminders(w.session, local(2026, 12, 14, 8, 0))
    reminders = w.session.scalars(select(TaskReminder).where(TaskReminder.task_id == task.id)).all()
    assert [r.offset_days for r in reminders] == [-1]
    engine.sweep_escalations(w.session, local(2026, 12, 16, 0, 30))
    escalation = w.session.scalars(
        select(TaskEscalation).where(TaskEscalation.task_id == task.id)
    ).one()
    assert (escalation.level, escalation.role, escalation.recipient_id) == (
        1,
        "head_teacher",
        w.head_a.id,
    )


def test_submitted_minutes_not_escalated(booked):
    w = booked
    opened = local(2026, 12, 11, 0, 20)
    ptm.open_minutes_tasks(w.session, opened)
    task = minutes_task(w.session)
    submit_minutes(w, task, local(2026, 12, 15, 14, 0))
    engine.sweep_escalations(w.session, local(2026, 12, 16, 0, 30))
    assert w.session.scalar(select(func.count()).select_from(TaskEscalation)) == 0


def submit_minutes(w, task, at):
    return ptm.save_minutes(
        w.session,
        task,
        [
            ptm.MinutesEntry(
                booking_id=w.aslam_booking.id,
                attendance=PtmAttendance.CAME,
                notes="Ayesha finds fractions hard; practice at home.",
                new_actions=[
                    {
                        "description": "Give extra fraction worksheets",
                        "owner_id": w.subject_teacher_a9.id,
                        "due_on": date(2026, 12, 31),
                    },
                    {
                        "description": "Check homework diary weekly",
                        "owner_id": w.class_teacher_a9.id,
                        "due_on": date(2027, 1, 8),
                    },
                ],
            ),
            ptm.MinutesEntry(booking_id=w.amina_booking.id, attendance=PtmAttendance.DID_NOT_COME),
        ],
        actor=Actor(w.subject_teacher_a9.id),
        now=at,
        submit=True,
    )


def test_submission_opens_action_and_follow_up_tasks(booked):
    w = booked
    ptm.open_minutes_tasks(w.session, local(2026, 12, 11, 0, 20))
    task = minutes_task(w.session)
    submit_minutes(w, task, local(2026, 12, 14, 15, 0))
    assert task.state == TaskState.SUBMITTED
    actions = w.session.scalars(select(AgreedAction).order_by(AgreedAction.id)).all()
    action_tasks = [w.session.get(Task, a.task_id) for a in actions]
    assert [(t.kind, t.assignee_id, t.due_on) for t in action_tasks] == [
        (CycleKind.AGREED_ACTION, w.subject_teacher_a9.id, date(2026, 12, 31)),
        (CycleKind.AGREED_ACTION, w.class_teacher_a9.id, date(2027, 1, 8)),
    ]
    follow_up = w.session.scalars(select(Task).where(Task.kind == CycleKind.PTM_FOLLOW_UP)).one()
    assert follow_up.assignee_id == w.class_teacher_a9.id  # the class teacher of 9-A
    assert follow_up.target_id == w.amina_booking.id
    assert follow_up.section_id == w.section_a9.id
    # Tasks are opened once: the engine's key holds on a second submission path.
    assert ptm.task_of(w.session, CycleKind.PTM_FOLLOW_UP, "ptm_booking", w.amina_booking.id)


def test_action_reminded_before_its_own_due_date(booked):
    w = booked
    ptm.open_minutes_tasks(w.session, local(2026, 12, 11, 0, 20))
    submit_minutes(w, minutes_task(w.session), local(2026, 12, 14, 15, 0))
    action_task = w.session.scalars(
        select(Task).where(
            Task.kind == CycleKind.AGREED_ACTION, Task.assignee_id == w.subject_teacher_a9.id
        )
    ).one()
    engine.sweep_reminders(w.session, local(2026, 12, 29, 8, 0))  # two school days before
    offsets = w.session.scalars(
        select(TaskReminder.offset_days).where(TaskReminder.task_id == action_task.id)
    ).all()
    assert offsets == [-2]
    engine.sweep_escalations(w.session, local(2027, 1, 1, 0, 30))
    level = w.session.scalar(
        select(TaskEscalation.level).where(TaskEscalation.task_id == action_task.id)
    )
    assert level == 1


def test_incomplete_minutes_not_handed_in(booked):
    w = booked
    ptm.open_minutes_tasks(w.session, local(2026, 12, 11, 0, 20))
    task = minutes_task(w.session)
    with pytest.raises(InvalidInput) as refused:
        ptm.save_minutes(
            w.session,
            task,
            [ptm.MinutesEntry(booking_id=w.aslam_booking.id, attendance=PtmAttendance.CAME)],
            actor=Actor(w.subject_teacher_a9.id),
            now=local(2026, 12, 14, 15, 0),
            submit=True,
        )
    assert set(refused.value.field_errors) == {
        f"booking-{w.aslam_booking.id}-notes",
        f"booking-{w.amina_booking.id}-attendance",
    }
    assert task.state != TaskState.SUBMITTED


def test_invalid_action_refused(booked):
    w = booked
    ptm.open_minutes_tasks(w.session, local(2026, 12, 11, 0, 20))
    task = minutes_task(w.session)
    with pytest.raises(InvalidInput) as refused:
        ptm.save_minutes(
            w.session,
            task,
            [
                ptm.MinutesEntry(
                    booking_id=w.aslam_booking.id,
                    attendance=PtmAttendance.CAME,
                    notes="ok",
                    new_actions=[
                        {
                            "description": "Outside help",
                            "owner_id": w.teacher_b9.id,
                            "due_on": date(2026, 12, 31),
                        }
                    ],
                )
            ],
            actor=Actor(w.subject_teacher_a9.id),
            now=local(2026, 12, 14, 15, 0),
            submit=False,
        )
    assert f"booking-{w.aslam_booking.id}-action-0" in refused.value.field_errors


def test_draft_minutes_hidden_from_guardian(booked):
    w = booked
    ptm.open_minutes_tasks(w.session, local(2026, 12, 11, 0, 20))
    task = minutes_task(w.session)
    ptm.save_minutes(
        w.session,
        task,
        [
            ptm.MinutesEntry(
                booking_id=w.aslam_booking.id, attendance=PtmAttendance.CAME, notes="Draft"
            )
        ],
        actor=Actor(w.subject_teacher_a9.id),
        now=local(2026, 12, 14, 15, 0),
        submit=False,
    )
    assert task.state == TaskState.IN_PROGRESS
    meetings = ptm.meetings_of_student(w.session, w.student_a9.id, [w.aslam.id])
    assert meetings[0].minutes is None
    submit_minutes(w, task, local(2026, 12, 14, 16, 0))
    meetings = ptm.meetings_of_student(w.session, w.student_a9.id, [w.aslam.id])
    assert meetings[0].minutes.notes.startswith("Ayesha finds fractions hard")
    assert len(meetings[0].actions) == 2
    assert ptm.meetings_of_student(w.session, w.student_a9.id, [w.amina.id]) == []


def test_action_and_follow_up_handed_in(booked):
    w = booked
    ptm.open_minutes_tasks(w.session, local(2026, 12, 11, 0, 20))
    submit_minutes(w, minutes_task(w.session), local(2026, 12, 14, 15, 0))
    at = local(2026, 12, 16, 11, 0)
    action_task = w.session.scalars(
        select(Task).where(
            Task.kind == CycleKind.AGREED_ACTION, Task.assignee_id == w.subject_teacher_a9.id
        )
    ).one()
    action = ptm.complete_action(
        w.session,
        action_task,
        "Gave three worksheets.",
        actor=Actor(w.subject_teacher_a9.id),
        now=at,
    )
    assert action.done_at == at and action_task.state == TaskState.SUBMITTED
    follow_up_task = w.session.scalars(
        select(Task).where(Task.kind == CycleKind.PTM_FOLLOW_UP)
    ).one()
    record = ptm.record_follow_up(
        w.session,
        follow_up_task,
        method=FollowUpMethod.CALL,
        reached=True,
        notes="Mother was ill; she will come next month.",
        actor=Actor(w.class_teacher_a9.id),
        now=at,
    )
    assert w.session.get(PtmFollowUp, record.id).booking_id == w.amina_booking.id
    assert follow_up_task.state == TaskState.SUBMITTED
    tasks.approve_task(w.session, follow_up_task, actor=Actor(w.head_a.id), now=at)
    assert follow_up_task.state == TaskState.APPROVED


def test_follow_up_cancelled_when_minutes_corrected(booked):
    w = booked
    ptm.open_minutes_tasks(w.session, local(2026, 12, 11, 0, 20))
    task = minutes_task(w.session)
    submit_minutes(w, task, local(2026, 12, 14, 15, 0))
    tasks.return_task(
        w.session,
        task,
        "Amina came after all.",
        actor=Actor(w.head_a.id),
        now=local(2026, 12, 15, 9, 0),
    )
    ptm.save_minutes(
        w.session,
        task,
        [
            ptm.MinutesEntry(
                booking_id=w.amina_booking.id,
                attendance=PtmAttendance.CAME,
                notes="She came at the end of the day.",
            )
        ],
        actor=Actor(w.subject_teacher_a9.id),
        now=local(2026, 12, 15, 10, 0),
        submit=True,
    )
    follow_up = w.session.scalars(select(Task).where(Task.kind == CycleKind.PTM_FOLLOW_UP)).one()
    assert follow_up.state == TaskState.CANCELLED


def test_handed_in_minutes_locked(booked):
    w = booked
    ptm.open_minutes_tasks(w.session, local(2026, 12, 11, 0, 20))
    task = minutes_task(w.session)
    submit_minutes(w, task, local(2026, 12, 14, 15, 0))
    with pytest.raises(Locked):
        submit_minutes(w, task, local(2026, 12, 14, 16, 0))
