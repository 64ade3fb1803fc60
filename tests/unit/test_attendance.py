"""Registers and attendance figures: school days only, enrollment dates, leave, corrections."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from spets.models import (
    AttendanceDay,
    AttendanceMark,
    AttendanceOptions,
    AttendanceStatus,
    AuditEvent,
    CycleKind,
    DayOffKind,
    Enrollment,
    EnrollmentEndReason,
    OutboxMessage,
    OutboxStatus,
    Relation,
    Task,
    TaskState,
)
from spets.services import attendance, calendar, cycles, people
from spets.services.attendance import Figures
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, StaleEdit

KARACHI = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()
A, P, LATE, LV = (
    AttendanceStatus.ABSENT,
    AttendanceStatus.PRESENT,
    AttendanceStatus.LATE,
    AttendanceStatus.LEAVE,
)

# November 2026: Sundays off and Iqbal Day (Monday 9 November) a gazetted holiday, so the
# month has 24 school days: 2-7, 10-14, 16-21, 23-28 and 30 November.
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


def local(*args) -> datetime:
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


def school_days(world, first=NOVEMBER[0], last=NOVEMBER[1]) -> list[date]:
    return calendar.school_days(world.session, world.school_a, first, last)


def mark(world, day, statuses=None, *, section=None, version=None, actor=None, now=None):
    """Save the register of `day` with the given {student: status or (status, reason)}."""
    rows = []
    for student, value in (statuses or {}).items():
        status, reason = value if isinstance(value, tuple) else (value, "")
        rows.append({"student_id": student.id, "status": status, "leave_reason": reason})
    return attendance.save_register(
        world.session,
        section or world.section_a9,
        day,
        rows,
        version=version,
        actor=actor or Actor(world.class_teacher_a9.id),
        now=now or world.now,
    )


def mark_month(world, exceptions: dict[date, dict]) -> None:
    for day in school_days(world):
        mark(world, day, exceptions.get(day, {}))


def november_figures(world, student) -> Figures:
    return attendance.student_attendance(world.session, student, *NOVEMBER).total


def test_november_has_24_school_days(world):
    days = school_days(world)
    assert len(days) == 24
    assert date(2026, 11, 9) not in days
    assert date(2026, 11, 8) not in days


def test_percent_rounds_half_up():
    figures = Figures(marked=80, absent=19)
    assert figures.present == 61
    assert figures.percent == Decimal("76.3")  # 76.25, half-up; banker's rounding gives 76.2


def test_percent_undefined_without_counted_days():
    assert Figures(marked=3, leave=3).percent is None
    assert Figures().percent is None


def test_holiday_inside_month_not_counted(world):
    mark_month(
        world, {date(2026, 11, 5): {world.student_a9: A}, date(2026, 11, 20): {world.student_a9: A}}
    )
    figures = november_figures(world, world.student_a9)
    assert (figures.marked, figures.absent, figures.present) == (24, 2, 22)
    assert figures.not_marked == 0
    assert figures.percent == Decimal("91.7")  # 22 / 24 = 91.67


def test_holiday_register_refused(world):
    with pytest.raises(InvalidInput) as refused:
        mark(world, date(2026, 11, 9), {world.student_a9: A})
    assert "not a school day" in refused.value.message.interpolate()
    assert world.session.scalar(select(func.count()).select_from(AttendanceDay)) == 0


def test_sunday_and_future_registers_refused(world):
    with pytest.raises(InvalidInput):
        mark(world, date(2026, 11, 8))
    with pytest.raises(InvalidInput) as refused:
        mark(world, date(2026, 12, 5))
    assert "has not come yet" in refused.value.message.interpolate()


def test_closure_after_marking_removes_day(world):
    mark_month(
        world, {date(2026, 11, 5): {world.student_a9: A}, date(2026, 11, 20): {world.student_a9: A}}
    )
    assert november_figures(world, world.student_a9).percent == Decimal("91.7")

    calendar.save_day_off(
        world.session,
        None,
        {
            "kind": DayOffKind.CLOSURE,
            "name_en": "Smog closure",
            "name_ur": "اسموگ کی بندش",
            "starts_on": date(2026, 11, 20),
            "ends_on": date(2026, 11, 20),
            "org_unit_id": world.school_a.id,
        },
        version=None,
        actor=SYSTEM,
        now=world.now,
    )
    figures = november_figures(world, world.student_a9)
    assert (figures.marked, figures.absent) == (23, 1)
    assert figures.percent == Decimal("95.7")  # 22 / 23 = 95.65
    # The register stays stored, but it no longer counts anywhere.
    section = attendance.section_attendance(world.session, world.section_a9, *NOVEMBER)
    assert date(2026, 11, 20) not in section.marked_days
    assert section.total.marked == 23


def test_student_joined_mid_term_counts_from_enrollment(world):
    newcomer = people.admit_student(
        world.session,
        section=world.section_a9,
        values={
            "admission_no": "A902",
            "b_form": None,
            "name_en": "Zainab Ali",
            "name_ur": "زینب علی",
            "father_name_en": "Ali Raza",
            "father_name_ur": "علی رضا",
            "date_of_birth": date(2011, 3, 1),
            "gender": "female",
        },
        admitted_on=date(2026, 11, 16),
        actor=SYSTEM,
        now=world.now,
    )
    world.session.flush()
    mark_month(world, {date(2026, 11, 25): {newcomer: A}})
    figures = november_figures(world, newcomer)
    # 16-21, 23-28 and 30 November: 13 school days, one of them absent.
    assert (figures.marked, figures.absent, figures.not_marked) == (13, 1, 0)
    assert figures.percent == Decimal("92.3")  # 12 / 13 = 92.31


def test_register_before_enrollment_refuses_the_student(world):
    newcomer = world.admit(world.section_a9, "A903", "Hina Iqbal", "حنا اقبال")
    world.session.execute(
        Enrollment.__table__.update()
        .where(Enrollment.student_id == newcomer.id)
        .values(starts_on=date(2026, 11, 16))
    )
    world.session.expire_all()
    with pytest.raises(InvalidInput) as refused:
        mark(world, date(2026, 11, 10), {newcomer: A})
    assert f"student-{newcomer.id}" in refused.value.field_errors


def test_leave_leaves_the_denominator(world):
    reason = "Sister's wedding"
    mark_month(
        world,
        {
            date(2026, 11, 3): {world.student_a9: (LV, reason)},
            date(2026, 11, 4): {world.student_a9: (LV, reason)},
            date(2026, 11, 12): {world.student_a9: A},
            date(2026, 11, 13): {world.student_a9: LATE},
        },
    )
    figures = november_figures(world, world.student_a9)
    assert (figures.marked, figures.leave, figures.absent, figures.late) == (24, 2, 1, 1)
    assert (figures.present, figures.counted) == (21, 22)  # late counts as present
    assert figures.percent == Decimal("95.5")  # 21 / 22 = 95.45


def test_leave_needs_a_reason(world):
    with pytest.raises(InvalidInput) as refused:
        mark(world, date(2026, 11, 3), {world.student_a9: LV})
    assert f"student-{world.student_a9.id}" in refused.value.field_errors


def test_day_reopened_and_corrected(world):
    mark_month(world, {date(2026, 11, 10): {world.student_a9: A}})
    assert november_figures(world, world.student_a9).percent == Decimal("95.8")  # 23 / 24

    register = attendance.load_register(
        world.session, world.section_a9, date(2026, 11, 10), world.now
    )
    assert register.version == 1
    corrected = mark(
        world,
        date(2026, 11, 10),
        {world.student_a9: LATE},
        version=register.version,
        actor=Actor(world.head_a.id),
        now=world.now + timedelta(hours=1),
    )
    figures = november_figures(world, world.student_a9)
    assert (figures.absent, figures.late, figures.present) == (0, 1, 24)
    assert figures.percent == Decimal("100.0")
    assert (corrected.record.version, corrected.record.corrections) == (2, 1)

    events = world.session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "attendance_mark", AuditEvent.entity_id == corrected.record.id
        )
    ).all()
    assert len(events) == 1
    assert events[0].student_id == world.student_a9.id
    assert events[0].actor_id == world.head_a.id
    assert events[0].changes["status"] == {"before": "absent", "after": "late"}
    history = attendance.corrections_of(world.session, corrected.record)
    assert [(c.before[0], c.after[0]) for c in history] == [(A, LATE)]


def test_correction_back_to_present_deletes_the_mark(world):
    day = date(2026, 11, 10)
    mark(world, day, {world.student_a9: A})
    mark(world, day, {world.student_a9: P}, version=1)
    assert world.session.scalar(select(func.count()).select_from(AttendanceMark)) == 0


def test_resave_without_change_is_no_correction(world):
    day = date(2026, 11, 10)
    mark(world, day, {world.student_a9: A})
    again = mark(world, day, {world.student_a9: A}, version=1)
    assert (again.record.version, again.record.corrections) == (1, 0)


def test_stale_register_refused(world):
    day = date(2026, 11, 10)
    mark(world, day, {world.student_a9: A})
    mark(world, day, {world.student_a9: LATE}, version=1)
    with pytest.raises(StaleEdit) as stale:
        mark(world, day, {world.student_a9: P}, version=1)
    assert stale.value.current_version == 2
    with pytest.raises(StaleEdit):
        mark(world, day, {world.student_a9: P}, version=0)


def test_student_not_sent_keeps_saved_status(world):
    day = date(2026, 11, 10)
    mark(world, day, {world.student_a9: A})
    register = mark(world, day, {}, version=1)
    assert register.row_for(world.student_a9.id).status == A


def test_section_change_counts_both_sections(world):
    mark(world, date(2026, 11, 10), {world.student_a9: A})
    people.change_section(
        world.session,
        world.student_a9,
        world.section_a10,
        date(2026, 11, 16),
        actor=SYSTEM,
        now=world.now,
    )
    world.session.flush()
    mark(world, date(2026, 11, 17), {world.student_a9: A}, section=world.section_a10)
    mark(world, date(2026, 11, 18), section=world.section_a10)
    figures = november_figures(world, world.student_a9)
    # 10 November in 9-A; 17 and 18 November in 10-A.
    assert (figures.marked, figures.absent) == (3, 2)
    # The school days enrolled whose register was not saved are reported apart.
    assert figures.not_marked == 24 - 3
    assert figures.percent == Decimal("33.3")


def test_section_and_school_totals(world):
    ayesha_b = world.admit(world.section_a9, "A904", "Amna Bibi", "آمنہ بی بی")
    mark(world, date(2026, 11, 10), {world.student_a9: A})
    mark(world, date(2026, 11, 11), {ayesha_b: (LV, "Illness")})
    section = attendance.section_attendance(world.session, world.section_a9, *NOVEMBER)
    # Two students, two marked days: four student-days, one on leave, one absent.
    assert (section.total.marked, section.total.leave, section.total.absent) == (4, 1, 1)
    assert section.total.percent == Decimal("66.7")  # 2 / 3
    assert len(section.unmarked_days) == 22

    school = attendance.school_attendance(world.session, world.school_a, world.year, *NOVEMBER)
    by_section = {section.id: (figures, gap) for section, figures, gap in school.sections}
    assert by_section[world.section_a9.id][0].percent == Decimal("66.7")
    assert by_section[world.section_a9.id][1] == 22
    assert by_section[world.section_a10.id][0].marked == 0
    assert school.total.marked == 4


def test_monthly_figures_of_a_student(world):
    mark(world, date(2026, 10, 5), {world.student_a9: A})
    mark(world, date(2026, 11, 10))
    result = attendance.student_attendance(
        world.session, world.student_a9, date(2026, 10, 1), date(2026, 11, 30)
    )
    months = {month: figures for month, figures in result.months}
    assert months[date(2026, 10, 1)].absent == 1
    assert months[date(2026, 11, 1)].marked == 1
    assert result.total.marked == 2


def test_figures_by_student_agree_with_profile(world):
    mark_month(
        world,
        {date(2026, 11, 5): {world.student_a9: A}, date(2026, 11, 6): {world.student_a9: LATE}},
    )
    bulk = attendance.figures_by_student(world.session, [world.school_a], *NOVEMBER)
    one = november_figures(world, world.student_a9)
    assert bulk[world.student_a9.id].percent == one.percent == Decimal("95.8")


def test_student_who_left_counts_to_last_day(world):
    people.end_enrollment(
        world.session,
        world.student_a9,
        date(2026, 11, 18),
        EnrollmentEndReason.LEFT,
        "Moved to Lahore",
        actor=SYSTEM,
        now=world.now,
    )
    world.session.flush()
    mark_month(world, {date(2026, 11, 18): {world.student_a9: A}})
    figures = november_figures(world, world.student_a9)
    # 2-7, 10-14 and 16-18 November: 14 school days, the last of them absent.
    assert (figures.marked, figures.absent, figures.not_marked) == (14, 1, 0)
    assert figures.percent == Decimal("92.9")  # 13 / 14 = 92.86
    with pytest.raises(InvalidInput):
        mark(world, date(2026, 11, 19), {world.student_a9: A}, version=1)


def test_leave_corrected_to_absent_returns_to_denominator(world):
    mark_month(world, {date(2026, 11, 3): {world.student_a9: (LV, "Fever")}})
    figures = november_figures(world, world.student_a9)
    assert (figures.counted, figures.percent) == (23, Decimal("100.0"))  # 23 / 23

    mark(world, date(2026, 11, 3), {world.student_a9: A}, version=1)
    figures = november_figures(world, world.student_a9)
    assert (figures.leave, figures.absent, figures.counted) == (0, 1, 24)
    assert figures.percent == Decimal("95.8")  # 23 / 24 = 95.83


def test_hard_cases_together_in_section_and_school(world):
    """One month of 9-A with every hard case at once, at student, section and school level.

    Iqbal Day (9 November) is a holiday inside the month, and 20 November is closed after
    its register was marked, so 23 school days count. Ayesha is absent on 5 and 20 November.
    Zainab joins on 16 November and is absent on 25 November. Hina is on leave on 3 and 4
    November, absent on 17 November and leaves after 18 November. Sara's absence on
    10 November is corrected to late.
    """
    session = world.session
    joiner = people.admit_student(
        session,
        section=world.section_a9,
        values={
            "admission_no": "A902",
            "b_form": None,
            "name_en": "Zainab Ali",
            "name_ur": "زینب علی",
            "father_name_en": "Ali Raza",
            "father_name_ur": "علی رضا",
            "date_of_birth": date(2011, 3, 1),
            "gender": "female",
        },
        admitted_on=date(2026, 11, 16),
        actor=SYSTEM,
        now=world.now,
    )
    leaver = world.admit(world.section_a9, "A905", "Hina Iqbal", "حنا اقبال")
    corrected = world.admit(world.section_a9, "A906", "Sara Javed", "سارہ جاوید")
    session.flush()
    people.end_enrollment(
        session,
        leaver,
        date(2026, 11, 18),
        EnrollmentEndReason.LEFT,
        "",
        actor=SYSTEM,
        now=world.now,
    )
    session.flush()
    mark_month(
        world,
        {
            date(2026, 11, 3): {leaver: (LV, "Wedding")},
            date(2026, 11, 4): {leaver: (LV, "Wedding")},
            date(2026, 11, 5): {world.student_a9: A},
            date(2026, 11, 10): {corrected: A},
            date(2026, 11, 17): {leaver: A},
            date(2026, 11, 20): {world.student_a9: A},
            date(2026, 11, 25): {joiner: A},
        },
    )
    mark(world, date(2026, 11, 10), {corrected: LATE}, version=1)
    calendar.save_day_off(
        session,
        None,
        {
            "kind": DayOffKind.CLOSURE,
            "name_en": "Smog closure",
            "name_ur": "اسموگ کی بندش",
            "starts_on": date(2026, 11, 20),
            "ends_on": date(2026, 11, 20),
            "org_unit_id": world.school_a.id,
        },
        version=None,
        actor=SYSTEM,
        now=world.now,
    )

    section = attendance.section_attendance(session, world.section_a9, *NOVEMBER)
    by_student = {student.id: figures for student, figures in section.students}
    expected = {
        # student: (marked, absent, late, leave, percent)
        world.student_a9.id: (23, 1, 0, 0, Decimal("95.7")),  # 22 / 23 = 95.65
        joiner.id: (12, 1, 0, 0, Decimal("91.7")),  # 11 / 12 = 91.67
        leaver.id: (14, 1, 0, 2, Decimal("91.7")),  # 11 / 12 = 91.67
        corrected.id: (23, 0, 1, 0, Decimal("100.0")),  # 23 / 23
    }
    assert {
        student_id: (f.marked, f.absent, f.late, f.leave, f.percent)
        for student_id, f in by_student.items()
    } == expected
    assert all(figures.not_marked == 0 for figures in by_student.values())
    # 72 student-days, 2 on leave, 3 absent: 67 / 70 = 95.71.
    assert (section.total.marked, section.total.leave, section.total.absent) == (72, 2, 3)
    assert section.total.percent == Decimal("95.7")
    assert section.unmarked_days == []

    bulk = attendance.figures_by_student(session, [world.school_a], *NOVEMBER)
    assert {student_id: bulk[student_id].percent for student_id in expected} == {
        student_id: values[4] for student_id, values in expected.items()
    }
    school = attendance.school_attendance(session, world.school_a, world.year, *NOVEMBER)
    by_section = {row.id: (figures, gap) for row, figures, gap in school.sections}
    school_a9 = by_section[world.section_a9.id][0]
    assert (school_a9.marked, school_a9.absent, school_a9.late, school_a9.leave) == (72, 3, 1, 2)
    assert by_section[world.section_a9.id][1] == 0
    # 10-A never marked a register: its 23 school days are all shown as not marked.
    assert by_section[world.section_a10.id][1] == 23
    assert school.school_days == 23
    assert (school.total.marked, school.total.percent) == (72, Decimal("95.7"))


# The daily task.


@pytest.fixture
def daily(world):
    attendance.add_attendance_definitions(world.session, world.tenant, actor=SYSTEM, now=world.now)
    world.session.flush()
    return world


def test_definitions_added_once(daily):
    again = attendance.add_attendance_definitions(
        daily.session, daily.tenant, actor=SYSTEM, now=daily.now
    )
    assert again == []


def test_tick_opens_daily_task_per_section(daily):
    cycles.tick(daily.session, local(2026, 12, 4, 0, 15))
    tasks = daily.session.scalars(
        select(Task).where(Task.kind == CycleKind.DAILY_ATTENDANCE).order_by(Task.section_id)
    ).all()
    assert {task.section_id for task in tasks} == {
        daily.section_a9.id,
        daily.section_a10.id,
        daily.section_b9.id,
    }
    task = next(task for task in tasks if task.section_id == daily.section_a9.id)
    assert (task.opens_on, task.due_on, task.assignee_id) == (
        date(2026, 12, 4),
        date(2026, 12, 4),
        daily.class_teacher_a9.id,
    )
    # The reminder at 10:00 local time, the escalation at midnight.
    assert task.next_reminder_at == local(2026, 12, 4, 10, 0)
    assert task.next_escalation_at == local(2026, 12, 5, 0, 0)


def test_no_daily_task_on_a_holiday(daily):
    cycles.tick(daily.session, local(2026, 12, 25, 0, 15))  # Quaid-e-Azam Day
    count = daily.session.scalar(
        select(func.count()).select_from(Task).where(Task.kind == CycleKind.DAILY_ATTENDANCE)
    )
    assert count == 0


def test_marking_closes_the_days_task(daily):
    cycles.tick(daily.session, local(2026, 12, 4, 0, 15))
    mark(daily, date(2026, 12, 4), {daily.student_a9: A}, now=local(2026, 12, 4, 8, 30))
    task = attendance.day_task(daily.session, daily.section_a9.id, date(2026, 12, 4))
    assert task.state == TaskState.APPROVED
    assert task.submitted_late is False
    assert task.next_reminder_at is None


def test_closure_cancels_pending_daily_task(daily):
    cycles.tick(daily.session, local(2026, 12, 4, 0, 15))
    calendar.save_day_off(
        daily.session,
        None,
        {
            "kind": DayOffKind.CLOSURE,
            "name_en": "Smog closure",
            "name_ur": "اسموگ کی بندش",
            "starts_on": date(2026, 12, 4),
            "ends_on": date(2026, 12, 4),
            "org_unit_id": daily.district_a.id,
        },
        version=None,
        actor=SYSTEM,
        now=daily.now,
    )
    cancelled = attendance.cancel_tasks_of_days_off(daily.session, local(2026, 12, 4, 9, 0))
    assert cancelled == 2  # both sections of school A; school B lies in another district
    states = dict(
        daily.session.execute(
            select(Task.school_id, Task.state).where(Task.school_id == daily.school_b.id)
        ).all()
    )
    assert states == {daily.school_b.id: TaskState.OPEN}


# The guardian's SMS.


@pytest.fixture
def notifying(daily):
    daily.session.add(
        AttendanceOptions(school_id=daily.school_a.id, notify_guardian_of_absence=True)
    )
    daily.session.flush()
    return daily


def outbox(world) -> list[OutboxMessage]:
    world.session.expire_all()  # the services write the outbox with Core statements
    return world.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_absence_sms_queued_once_in_urdu(notifying):
    w = notifying
    mark(w, date(2026, 12, 4), {w.student_a9: A}, now=local(2026, 12, 4, 8, 0))
    first = attendance.queue_absence_notices(w.session, local(2026, 12, 4, 8, 30))
    again = attendance.queue_absence_notices(w.session, local(2026, 12, 4, 9, 30))
    assert (first.queued, again.queued) == (1, 0)
    [message] = outbox(w)
    assert message.key == f"absence:{w.student_a9.id}:2026-12-04:sms"
    assert (message.channel.value, message.status, message.address) == (
        "sms",
        OutboxStatus.PENDING,
        "+923001234567",
    )
    assert message.guardian_id == w.guardian_link_a9.guardian_id
    assert message.locale == "ur"
    assert "04/12/2026" in message.body


def test_absence_sms_waits_for_grace_period(notifying):
    w = notifying
    mark(w, date(2026, 12, 4), {w.student_a9: A}, now=local(2026, 12, 4, 8, 0))
    early = attendance.queue_absence_notices(w.session, local(2026, 12, 4, 8, 5))
    assert early.queued == 0


def test_no_sms_after_correction_to_present(notifying):
    w = notifying
    mark(w, date(2026, 12, 4), {w.student_a9: A}, now=local(2026, 12, 4, 8, 0))
    mark(w, date(2026, 12, 4), {w.student_a9: P}, version=1, now=local(2026, 12, 4, 8, 10))
    result = attendance.queue_absence_notices(w.session, local(2026, 12, 4, 9, 0))
    assert result.queued == 0
    assert outbox(w) == []


def test_pending_sms_cancelled_by_correction(notifying):
    w = notifying
    mark(w, date(2026, 12, 4), {w.student_a9: A}, now=local(2026, 12, 4, 8, 0))
    attendance.queue_absence_notices(w.session, local(2026, 12, 4, 8, 30))
    mark(w, date(2026, 12, 4), {w.student_a9: LATE}, version=1, now=local(2026, 12, 4, 8, 40))
    [message] = outbox(w)
    assert message.status == OutboxStatus.FAILED
    assert message.last_error == attendance.NOTICE_CANCELLED

    # Marked absent again: the same message is queued again, still one for the day.
    mark(w, date(2026, 12, 4), {w.student_a9: A}, version=2, now=local(2026, 12, 4, 9, 0))
    result = attendance.queue_absence_notices(w.session, local(2026, 12, 4, 9, 30))
    assert (result.queued, result.revived) == (0, 1)
    [message] = outbox(w)
    assert message.status == OutboxStatus.PENDING


def test_only_first_day_of_absence_messaged(notifying):
    w = notifying
    mark(w, date(2026, 12, 3), {w.student_a9: A}, now=local(2026, 12, 3, 8, 0))
    mark(w, date(2026, 12, 4), {w.student_a9: A}, now=local(2026, 12, 4, 8, 0))
    result = attendance.queue_absence_notices(w.session, local(2026, 12, 4, 9, 0))
    assert result.queued == 0


def test_no_sms_when_school_did_not_opt_in(daily):
    w = daily
    mark(w, date(2026, 12, 4), {w.student_a9: A}, now=local(2026, 12, 4, 8, 0))
    assert attendance.queue_absence_notices(w.session, local(2026, 12, 4, 9, 0)).queued == 0


def test_closure_cancels_pending_sms(notifying):
    w = notifying
    mark(w, date(2026, 12, 4), {w.student_a9: A}, now=local(2026, 12, 4, 8, 0))
    attendance.queue_absence_notices(w.session, local(2026, 12, 4, 8, 30))
    calendar.save_day_off(
        w.session,
        None,
        {
            "kind": DayOffKind.CLOSURE,
            "name_en": "Rain",
            "name_ur": "بارش",
            "starts_on": date(2026, 12, 4),
            "ends_on": date(2026, 12, 4),
            "org_unit_id": w.school_a.id,
        },
        version=None,
        actor=SYSTEM,
        now=w.now,
    )
    result = attendance.queue_absence_notices(w.session, local(2026, 12, 4, 9, 0))
    assert result.cancelled == 1
    assert outbox(w)[0].status == OutboxStatus.FAILED


def test_first_absence_counts_back_over_holidays(notifying):
    """Absent on Saturday 7 November and again on Tuesday 10 November, after Sunday and
    Iqbal Day: the absence runs on, so no message; a classmate absent only on the 10th gets one."""
    w = notifying
    other = w.admit(w.section_a9, "A907", "Usman Tariq", "عثمان طارق")
    people.add_guardian(
        w.session,
        other,
        {
            "name_en": "Tariq Mehmood",
            "name_ur": "طارق محمود",
            "phone": "+923339876543",
            "relation": Relation.FATHER,
            "is_primary": True,
            "preferred_locale": "en",
        },
        actor=SYSTEM,
        now=w.now,
    )
    mark(w, date(2026, 11, 7), {w.student_a9: A}, now=local(2026, 11, 7, 8, 0))
    mark(w, date(2026, 11, 10), {w.student_a9: A, other: A}, now=local(2026, 11, 10, 8, 0))
    result = attendance.queue_absence_notices(w.session, local(2026, 11, 10, 9, 0))
    assert result.queued == 1
    [message] = outbox(w)
    assert message.key == f"absence:{other.id}:2026-11-10:sms"
    # The guardian chose English.
    assert message.locale == "en"
    assert message.body.startswith("Usman Tariq was absent from school today, 10/11/2026.")


def test_one_sms_a_day_for_two_guardians(notifying):
    w = notifying
    people.add_guardian(
        w.session,
        w.student_a9,
        {
            "name_en": "Shazia Aslam",
            "name_ur": "شازیہ اسلم",
            "phone": "+923451112223",
            "relation": Relation.MOTHER,
            "is_primary": False,
            "preferred_locale": "ur",
        },
        actor=SYSTEM,
        now=w.now,
    )
    mark(w, date(2026, 12, 4), {w.student_a9: A}, now=local(2026, 12, 4, 8, 0))
    attendance.queue_absence_notices(w.session, local(2026, 12, 4, 8, 30))
    [message] = outbox(w)
    assert message.address == "+923001234567"  # the primary guardian


def test_sent_sms_not_repeated_after_corrections(notifying):
    w = notifying
    mark(w, date(2026, 12, 4), {w.student_a9: A}, now=local(2026, 12, 4, 8, 0))
    attendance.queue_absence_notices(w.session, local(2026, 12, 4, 8, 30))
    w.session.execute(
        OutboxMessage.__table__.update().values(status=OutboxStatus.SENT)
    )  # as the delivery flow does

    # Present by mistake, then absent again: the message already went, and none follows.
    mark(w, date(2026, 12, 4), {w.student_a9: P}, version=1, now=local(2026, 12, 4, 9, 0))
    mark(w, date(2026, 12, 4), {w.student_a9: A}, version=2, now=local(2026, 12, 4, 9, 5))
    result = attendance.queue_absence_notices(w.session, local(2026, 12, 4, 10, 0))
    assert (result.queued, result.revived, result.cancelled) == (0, 0, 0)
    [message] = outbox(w)
    assert message.status == OutboxStatus.SENT


# The demo.


def test_demo_attendance(dbsession, now):
    from spets.demo.attendance import load_attendance, uci_rows
    from spets.demo.load import load_demo
    from spets.models import EarlyWarningFlag, InterventionPlan, InterventionReview, Section

    # The demo loader runs load_attendance after the students and the marks of the year.
    summary = load_demo(dbsession, now).attendance
    assert summary.school_days > 0
    sections = dbsession.scalar(
        select(func.count()).select_from(Section).where(Section.class_teacher_id.is_not(None))
    )
    assert summary.registers == sections * summary.school_days
    # Every UCI absence lands on a school day of the year so far, none lost.
    expected = sum(min(int(row["absences"]), summary.school_days) for row in uci_rows().values())
    assert summary.absences == expected
    assert (
        dbsession.scalar(
            select(func.count()).select_from(AttendanceMark).where(AttendanceMark.status == A)
        )
        == expected
    )
    assert summary.flags.get("attendance/watch", 0) + summary.flags.get("attendance/at_risk", 0) > 0
    assert dbsession.scalar(select(func.count()).select_from(EarlyWarningFlag)) > 0

    # One plan was reviewed once and its next review's task is open.
    reviewed = dbsession.scalars(
        select(InterventionReview).where(InterventionReview.reviewed_at.is_not(None))
    ).all()
    assert len(reviewed) == 1
    plan = dbsession.get(InterventionPlan, reviewed[0].plan_id)
    pending = [review for review in plan.reviews if review.reviewed_at is None]
    assert len(pending) == 1
    assert pending[0].task_id is not None
    assert dbsession.get(Task, pending[0].task_id).state == TaskState.OPEN
    assert summary.plans == 2

    # Loading again adds nothing.
    again = load_attendance(dbsession, now)
    assert (again.registers, again.absences, again.plans) == (0, 0, 0)
