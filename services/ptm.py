"""Parent–teacher meetings on the cycle engine: days, slots, bookings, minutes and follow-ups.

Admins and head teachers put PTM days in the calendar for a school or a whole subtree.
Teachers open time slots at their school; a guardian books one slot per teacher and day
(a partial unique index allows one confirmed booking per slot, so a second confirmation
is a conflict). After the day each teacher with bookings gets a PTM_MINUTES task to
record attendance, minutes and agreed actions. On submission each agreed action becomes
a task of its owner due on the agreed date, and each guardian who did not come becomes a
follow-up task (a call or a home visit) for the class teacher. Due dates, reminders and
escalations follow the tenant's cycle definitions of the three kinds, created with the
defaults below when the tenant's first PTM day is added.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from spets.i18n import _
from spets.models import (
    PENDING_STATES,
    AcademicYear,
    AssigneeRule,
    AuditAction,
    CycleDefinition,
    CycleKind,
    CycleTrigger,
    Guardian,
    OrgKind,
    OrgUnit,
    Role,
    Section,
    Student,
    Task,
    TaskSchedule,
    TaskState,
    User,
)
from spets.models.ptm import (
    AgreedAction,
    BookingState,
    FollowUpMethod,
    PtmAttendance,
    PtmBooking,
    PtmDay,
    PtmFollowUp,
    PtmMinutes,
    PtmSlot,
)
from spets.services import audit, calendar, cycles, org, tasks, threads
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, Locked, NotFound
from spets.services.schedules import TenantCalendar, get_or_create_schedule, shift_school_days
from spets.services.scope import Permission as P
from spets.services.scope import Principal, org_unit_clause

log = logging.getLogger(__name__)

SYSTEM = Actor.system()

# The three cycles of a new tenant. Minutes are due three school days after the first school
# day after the PTM day. An agreed action is due on the date agreed at the meeting; its
# definition's ten school days are the date the minutes form offers by default.
DEFAULT_DEFINITIONS = {
    CycleKind.PTM_MINUTES: {
        "name_en": "PTM minutes",
        "name_ur": "والدین اساتذہ میٹنگ کی روداد",
        "due_after_school_days": 3,
        "reminder_offsets": [-1, 0],
        "escalation_days": [0, 2, 5],
        "escalation_roles": ["head_teacher", "aeo", "deo"],
    },
    CycleKind.AGREED_ACTION: {
        "name_en": "Action agreed at a PTM",
        "name_ur": "میٹنگ میں طے شدہ اقدام",
        "due_after_school_days": 10,
        "reminder_offsets": [-2, 0],
        "escalation_days": [0, 3],
        "escalation_roles": ["head_teacher", "aeo"],
    },
    CycleKind.PTM_FOLLOW_UP: {
        "name_en": "Follow-up of a guardian who missed the PTM",
        "name_ur": "میٹنگ میں نہ آنے والے والدین سے رابطہ",
        "due_after_school_days": 5,
        "reminder_offsets": [-2, 0],
        "escalation_days": [0, 3],
        "escalation_roles": ["head_teacher", "aeo"],
    },
}
COMMON_DEFINITION = {
    "opens_with": CycleTrigger.ON_RECORD,
    "assignee_rule": AssigneeRule.RECORD_OWNER,
    "reminder_hour": 8,
    "signoff_role": "head_teacher",
}

# A missed tick still opens the minutes tasks of PTM days up to this many days back.
MINUTES_LOOKBACK_DAYS = 30
MAX_DAYS_AHEAD = 366
MAX_SLOTS_PER_REQUEST = 60
MAX_ACTION_DAYS = 180


def ensure_definitions(session: Session, tenant: OrgUnit, now: datetime) -> list[CycleDefinition]:
    """Create the tenant's PTM cycle definitions that are missing; return those created."""
    existing = set(
        session.scalars(
            select(CycleDefinition.kind).where(
                CycleDefinition.org_unit_id == tenant.id,
                CycleDefinition.kind.in_(list(DEFAULT_DEFINITIONS)),
            )
        )
    )
    created = []
    for kind, values in DEFAULT_DEFINITIONS.items():
        if kind in existing:
            continue
        created.append(
            cycles.save_definition(
                session,
                org_unit=tenant,
                kind=kind,
                definition=None,
                values={**COMMON_DEFINITION, **values},
                version=None,
                actor=SYSTEM,
                now=now,
            )
        )
    return created


def _zone(unit: OrgUnit) -> ZoneInfo:
    return ZoneInfo(unit.timezone or "Asia/Karachi")


def _tenant(session: Session, unit: OrgUnit) -> OrgUnit:
    return session.get(OrgUnit, unit.tenant_id or unit.id)


# PTM days.

DAY_FIELDS = ("day", "name_en", "name_ur")


def check_day_open(session: Session, unit: OrgUnit, day: date) -> None:
    """Raise InvalidInput unless `day` lies in an academic year and is no day off of `unit`.

    For a school the school's own calendar decides. For a unit above schools the day
    must be a school day by the academic year's weekly days off and have no holiday or
    closure at the unit or above; a closure of a single school below still applies to
    that school's slots, which cannot then be opened.
    """
    tenant = _tenant(session, unit)
    if unit.kind == OrgKind.SCHOOL:
        open_day = calendar.is_school_day(session, unit, day)
    else:
        year = session.scalar(
            select(AcademicYear).where(
                AcademicYear.tenant_id == tenant.id,
                AcademicYear.starts_on <= day,
                AcademicYear.ends_on >= day,
            )
        )
        open_day = (
            year is not None
            and day.isoweekday() not in year.off_weekdays
            and not calendar.days_off_for(session, unit, day, day)
        )
    if not open_day:
        message = _(
            "ptm_not_school_day",
            default="${date} is not a school day here (a weekly day off, a holiday, a closure, or "
            "outside the academic year). Choose another day.",
            mapping={"date": day.strftime("%d/%m/%Y")},
        )
        raise InvalidInput(message, {"day": message})


def save_day(
    session: Session,
    *,
    unit: OrgUnit,
    ptm_day: PtmDay | None,
    values: dict,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> PtmDay:
    """Add a PTM day to the calendar of `unit`'s subtree, or move or rename one."""
    day = values["day"]
    today = calendar.local_today(now, unit.timezone)
    if day < today or day > today + timedelta(days=MAX_DAYS_AHEAD):
        message = _(
            "ptm_day_range",
            default="Choose a day from today to one year ahead; ${date} is outside that.",
            mapping={"date": day.strftime("%d/%m/%Y")},
        )
        raise InvalidInput(message, {"day": message})
    check_day_open(session, unit, day)
    clash = session.scalar(
        select(PtmDay.id).where(
            PtmDay.org_unit_id == unit.id,
            PtmDay.day == day,
            PtmDay.id != (ptm_day.id if ptm_day else -1),
        )
    )
    if clash is not None:
        message = _("ptm_day_exists", default="This unit already has a PTM day on that date.")
        raise InvalidInput(message, {"day": message})

    if ptm_day is None:
        ptm_day = PtmDay(org_unit_id=unit.id, created_by_id=actor.user_id, created_at=now)
        session.add(ptm_day)
        before: dict = {}
        action = AuditAction.CREATE
    else:
        org.check_version(ptm_day, version, values, DAY_FIELDS)
        if ptm_day.day != day and _has_bookings(session, ptm_day):
            message = _(
                "ptm_day_booked",
                default="Guardians have booked meetings on this day; it can no longer move.",
            )
            raise InvalidInput(message, {"day": message})
        before = audit.snapshot(ptm_day, DAY_FIELDS)
        action = AuditAction.UPDATE
    for name in DAY_FIELDS:
        setattr(ptm_day, name, values[name])
    session.flush()
    ensure_definitions(session, _tenant(session, unit), now)
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="ptm_day",
        entity_id=ptm_day.id,
        org_unit_id=unit.id,
        now=now,
        changes=audit.diff(before, audit.snapshot(ptm_day, DAY_FIELDS)),
    )
    return ptm_day


def delete_day(session: Session, ptm_day: PtmDay, *, actor: Actor, now: datetime) -> None:
    if _has_bookings(session, ptm_day):
        raise Locked(
            _(
                "ptm_day_booked_delete",
                default="Guardians have booked meetings on this day; it cannot be removed.",
            )
        )
    for slot in session.scalars(select(PtmSlot).where(PtmSlot.ptm_day_id == ptm_day.id)):
        for booking in session.scalars(select(PtmBooking).where(PtmBooking.slot_id == slot.id)):
            session.delete(booking)
        session.delete(slot)
    session.delete(ptm_day)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.DELETE,
        entity_type="ptm_day",
        entity_id=ptm_day.id,
        org_unit_id=ptm_day.org_unit_id,
        now=now,
    )


def _has_bookings(session: Session, ptm_day: PtmDay) -> bool:
    return (
        session.scalar(
            select(PtmBooking.id)
            .join(PtmSlot, PtmSlot.id == PtmBooking.slot_id)
            .where(PtmSlot.ptm_day_id == ptm_day.id, PtmBooking.state == BookingState.CONFIRMED)
            .limit(1)
        )
        is not None
    )


def days_for_principal(session: Session, principal: Principal, since: date) -> list[PtmDay]:
    """PTM days from `since` on that apply to a unit the principal works in or above it.

    A day applies to every school below its unit, so a school's staff see the days of
    the school, its markaz, district and so on up to the tenant.
    """
    paths = list(principal.tenant_grant_paths)
    sections = principal.taught_section_ids | principal.class_section_ids
    if sections:
        paths += list(
            session.scalars(
                select(OrgUnit.path)
                .join(Section, Section.school_id == OrgUnit.id)
                .where(Section.id.in_(sections))
            )
        )
    if not paths:
        return []
    unit_ids: set[int] = set()
    for path in paths:
        unit_ids |= {int(part) for part in path.strip("/").split("/") if part}
    below = [OrgUnit.path.startswith(path, autoescape=True) for path in paths]
    return list(
        session.scalars(
            select(PtmDay)
            .join(OrgUnit, OrgUnit.id == PtmDay.org_unit_id)
            .where(PtmDay.day >= since, or_(OrgUnit.id.in_(unit_ids), *below))
            .options(selectinload(PtmDay.org_unit))
            .order_by(PtmDay.day, PtmDay.id)
        )
    )


def days_for_school(session: Session, school: OrgUnit, since: date) -> list[PtmDay]:
    return list(
        session.scalars(
            select(PtmDay)
            .where(PtmDay.org_unit_id.in_(school.ancestor_ids), PtmDay.day >= since)
            .order_by(PtmDay.day, PtmDay.id)
        )
    )


def schools_of_day(session: Session, ptm_day: PtmDay, principal: Principal) -> list[OrgUnit]:
    """List the schools under the day's unit where the principal teaches or manages PTMs."""
    unit = ptm_day.org_unit
    return list(
        session.scalars(
            select(OrgUnit)
            .where(
                OrgUnit.kind == OrgKind.SCHOOL,
                OrgUnit.path.startswith(unit.path, autoescape=True),
                org_unit_clause(principal, P.PTM_SLOTS) | org_unit_clause(principal, P.PTM_MANAGE),
            )
            .order_by(OrgUnit.name_en)
        )
    )


def teaches_at(principal: Principal, session: Session, school_id: int) -> bool:
    sections = principal.taught_section_ids | principal.class_section_ids
    if not sections:
        return False
    return (
        session.scalar(
            select(Section.id).where(Section.id.in_(sections), Section.school_id == school_id)
        )
        is not None
    )


# Slots.


def open_slots(
    session: Session,
    *,
    ptm_day: PtmDay,
    school: OrgUnit,
    teacher: User,
    starts: time,
    ends: time,
    minutes: int,
    now: datetime,
) -> int:
    """Open the teacher's slots of `minutes` each from `starts` to `ends`; return how many are new.

    Times are local to the school. A slot that would overlap one the teacher already has
    on that day is refused, so a teacher never has two guardians at once.
    """
    if not school.path.startswith(ptm_day.org_unit.path):
        raise NotFound(_("ptm_school_outside", default="This school is not part of that PTM day."))
    zone = _zone(school)
    if ptm_day.day < calendar.local_today(now, school.timezone):
        raise Locked(_("ptm_day_past", default="This PTM day is over; no slots can be opened."))
    check_day_open(session, school, ptm_day.day)
    if not 5 <= minutes <= 60:
        message = _("slot_length", default="A slot lasts from 5 to 60 minutes.")
        raise InvalidInput(message, {"minutes": message})
    start_at = datetime.combine(ptm_day.day, starts, zone)
    end_at = datetime.combine(ptm_day.day, ends, zone)
    if end_at <= start_at:
        message = _(
            "slot_end_before_start", default="The last slot must end after the first starts."
        )
        raise InvalidInput(message, {"ends": message})
    wanted = []
    cursor = start_at
    while cursor + timedelta(minutes=minutes) <= end_at:
        wanted.append((cursor, cursor + timedelta(minutes=minutes)))
        cursor += timedelta(minutes=minutes)
    if not wanted:
        message = _("slot_none_fit", default="No slot of that length fits between the two times.")
        raise InvalidInput(message, {"ends": message})
    if len(wanted) > MAX_SLOTS_PER_REQUEST:
        message = _(
            "slot_too_many",
            default="That makes ${count} slots; open at most ${maximum} at once.",
            mapping={"count": len(wanted), "maximum": MAX_SLOTS_PER_REQUEST},
        )
        raise InvalidInput(message, {"ends": message})

    existing = session.scalars(
        select(PtmSlot).where(PtmSlot.ptm_day_id == ptm_day.id, PtmSlot.teacher_id == teacher.id)
    ).all()
    created = 0
    for slot_start, slot_end in wanted:
        start_utc, end_utc = slot_start.astimezone(UTC), slot_end.astimezone(UTC)
        same = [s for s in existing if s.starts_at == start_utc]
        if same and same[0].ends_at == end_utc:
            continue
        if any(s.starts_at < end_utc and start_utc < s.ends_at for s in existing):
            message = _(
                "slot_overlap",
                default="You already have a slot around ${time}. Choose times that do not overlap.",
                mapping={"time": slot_start.strftime("%H:%M")},
            )
            raise InvalidInput(message, {"starts": message})
        slot = PtmSlot(
            ptm_day_id=ptm_day.id,
            school_id=school.id,
            teacher_id=teacher.id,
            starts_at=start_utc,
            ends_at=end_utc,
        )
        session.add(slot)
        existing.append(slot)
        created += 1
    session.flush()
    return created


def delete_slot(session: Session, slot: PtmSlot, *, now: datetime) -> None:
    confirmed = session.scalar(
        select(PtmBooking.id).where(
            PtmBooking.slot_id == slot.id, PtmBooking.state == BookingState.CONFIRMED
        )
    )
    if confirmed is not None:
        raise Locked(
            _(
                "slot_booked",
                default="A guardian booked this slot; it stays. Ask the guardian to cancel first.",
            )
        )
    for booking in session.scalars(select(PtmBooking).where(PtmBooking.slot_id == slot.id)):
        session.delete(booking)
    session.delete(slot)
    session.flush()


@dataclass
class SlotRow:
    slot: PtmSlot
    booking: PtmBooking | None


def slots_of_teacher(session: Session, ptm_day: PtmDay, teacher_id: int) -> list[SlotRow]:
    return _slot_rows(
        session,
        select(PtmSlot).where(PtmSlot.ptm_day_id == ptm_day.id, PtmSlot.teacher_id == teacher_id),
    )


def slots_of_school(session: Session, ptm_day: PtmDay, school_id: int) -> list[SlotRow]:
    return _slot_rows(
        session,
        select(PtmSlot).where(PtmSlot.ptm_day_id == ptm_day.id, PtmSlot.school_id == school_id),
    )


def _slot_rows(session: Session, query) -> list[SlotRow]:
    slots = session.scalars(
        query.options(selectinload(PtmSlot.teacher)).order_by(PtmSlot.starts_at, PtmSlot.teacher_id)
    ).all()
    bookings = {
        booking.slot_id: booking
        for booking in session.scalars(
            select(PtmBooking)
            .options(selectinload(PtmBooking.student), selectinload(PtmBooking.guardian))
            .where(
                PtmBooking.slot_id.in_([slot.id for slot in slots]),
                PtmBooking.state == BookingState.CONFIRMED,
            )
        )
    }
    return [SlotRow(slot, bookings.get(slot.id)) for slot in slots]


# Bookings.


class BookingConflict(Locked):
    """The slot was confirmed for someone else first."""


@dataclass
class TeacherSlots:
    teacher: User
    free: list[PtmSlot]
    booked: PtmBooking | None  # this student's confirmed booking with the teacher, if any


@dataclass
class BookableDay:
    ptm_day: PtmDay
    teachers: list[TeacherSlots] = field(default_factory=list)


def bookable_days(session: Session, student: Student, now: datetime) -> list[BookableDay]:
    """Coming PTM days of the student's school, with the free slots of the student's teachers."""
    school = session.get(OrgUnit, student.school_id)
    today = calendar.local_today(now, school.timezone)
    staff = {user.id: user for user in threads.staff_for_student(session, student, now)}
    result = []
    for ptm_day in days_for_school(session, school, today):
        slots = session.scalars(
            select(PtmSlot)
            .where(
                PtmSlot.ptm_day_id == ptm_day.id,
                PtmSlot.school_id == school.id,
                PtmSlot.teacher_id.in_(list(staff)),
                PtmSlot.starts_at > now,
            )
            .order_by(PtmSlot.starts_at)
        ).all()
        taken = set(
            session.scalars(
                select(PtmBooking.slot_id).where(
                    PtmBooking.slot_id.in_([slot.id for slot in slots]),
                    PtmBooking.state == BookingState.CONFIRMED,
                )
            )
        )
        mine = {
            booking.slot.teacher_id: booking
            for booking in session.scalars(
                select(PtmBooking)
                .join(PtmSlot, PtmSlot.id == PtmBooking.slot_id)
                .where(
                    PtmSlot.ptm_day_id == ptm_day.id,
                    PtmBooking.student_id == student.id,
                    PtmBooking.state == BookingState.CONFIRMED,
                )
            )
        }
        day = BookableDay(ptm_day)
        for teacher_id, teacher in staff.items():
            free = [s for s in slots if s.teacher_id == teacher_id and s.id not in taken]
            if free or teacher_id in mine:
                day.teachers.append(TeacherSlots(teacher, free, mine.get(teacher_id)))
        result.append(day)
    return result


def book(
    session: Session,
    *,
    slot: PtmSlot,
    student: Student,
    guardian_id: int,
    user: User,
    now: datetime,
) -> PtmBooking:
    """Confirm a slot for a guardian and child; raise BookingConflict if it was taken first."""
    staff_ids = {u.id for u in threads.staff_for_student(session, student, now)}
    if slot.school_id != student.school_id or slot.teacher_id not in staff_ids:
        raise NotFound(_("slot_not_found", default="This time is not offered for your child."))
    if slot.starts_at <= now:
        raise Locked(_("slot_past", default="This time has passed; choose a later one."))
    already = session.scalar(
        select(PtmBooking.id)
        .join(PtmSlot, PtmSlot.id == PtmBooking.slot_id)
        .where(
            PtmSlot.ptm_day_id == slot.ptm_day_id,
            PtmSlot.teacher_id == slot.teacher_id,
            PtmBooking.student_id == student.id,
            PtmBooking.state == BookingState.CONFIRMED,
        )
    )
    if already is not None:
        raise InvalidInput(
            _(
                "booking_one_per_teacher",
                default="You already booked a time with this teacher on this day. Cancel it first "
                "to choose another.",
            )
        )
    booking = PtmBooking(
        slot_id=slot.id,
        guardian_id=guardian_id,
        student_id=student.id,
        state=BookingState.CONFIRMED,
        attendance=PtmAttendance.NOT_RECORDED,
        booked_at=now,
    )
    savepoint = session.begin_nested()
    try:
        session.add(booking)
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        log.info("ptm_booking_conflict", extra={"slot_id": slot.id})
        raise BookingConflict(
            _(
                "booking_conflict",
                default="Someone booked this time a moment ago. Choose another time.",
            )
        ) from None
    savepoint.commit()
    audit.record(
        session,
        actor=Actor(user.id),
        action=AuditAction.CREATE,
        entity_type="ptm_booking",
        entity_id=booking.id,
        student_id=student.id,
        now=now,
    )
    return booking


def cancel_booking(session: Session, booking: PtmBooking, *, user: User, now: datetime) -> None:
    if booking.state != BookingState.CONFIRMED:
        raise Locked(_("booking_not_confirmed", default="This booking is already cancelled."))
    if booking.slot.starts_at <= now:
        raise Locked(
            _(
                "booking_started",
                default="The meeting time has come; it can no longer be cancelled.",
            )
        )
    booking.state = BookingState.CANCELLED
    booking.cancelled_at = now
    session.flush()
    audit.record(
        session,
        actor=Actor(user.id),
        action=AuditAction.UPDATE,
        entity_type="ptm_booking",
        entity_id=booking.id,
        student_id=booking.student_id,
        now=now,
        changes={"state": {"before": "confirmed", "after": "cancelled"}},
    )


@dataclass
class MeetingRecord:
    """One booking as the guardian sees it, with what the teacher recorded."""

    booking: PtmBooking
    minutes: PtmMinutes | None
    actions: list[AgreedAction]


def meetings_of_student(
    session: Session, student_id: int, guardian_ids: list[int]
) -> list[MeetingRecord]:
    """The student's bookings made by these guardian records, newest first, with the minutes.

    Minutes show once the teacher has submitted them, never while they are a draft.
    """
    bookings = session.scalars(
        select(PtmBooking)
        .join(PtmSlot, PtmSlot.id == PtmBooking.slot_id)
        .options(
            selectinload(PtmBooking.slot).selectinload(PtmSlot.teacher),
            selectinload(PtmBooking.slot).selectinload(PtmSlot.ptm_day),
        )
        .where(PtmBooking.student_id == student_id, PtmBooking.guardian_id.in_(guardian_ids))
        .order_by(PtmSlot.starts_at.desc())
    ).all()
    minutes = {
        m.booking_id: m
        for m in session.scalars(
            select(PtmMinutes)
            .join(Task, Task.id == PtmMinutes.task_id)
            .options(selectinload(PtmMinutes.actions).selectinload(AgreedAction.owner))
            .where(
                PtmMinutes.booking_id.in_([b.id for b in bookings]),
                Task.state.in_([TaskState.SUBMITTED, TaskState.APPROVED]),
            )
        )
    }
    return [
        MeetingRecord(b, minutes.get(b.id), list(minutes[b.id].actions) if b.id in minutes else [])
        for b in bookings
    ]


# Minutes tasks.

MINUTES_TARGET = "ptm_teacher_day"
ACTION_TARGET = "agreed_action"
FOLLOW_UP_TARGET = "ptm_booking"


def open_minutes_tasks(session: Session, now: datetime) -> int:
    """Open a minutes task per teacher, school and past PTM day with confirmed bookings.

    The teacher's first slot of the day at the school stands for that teacher's day, so
    the engine's (run, target) key makes a second run open nothing new. A day missed by
    the schedule is caught up for MINUTES_LOOKBACK_DAYS. Returns how many tasks are new.
    """
    rows = session.execute(
        select(
            PtmSlot.ptm_day_id,
            PtmSlot.teacher_id,
            PtmSlot.school_id,
            func.min(PtmSlot.id),
            PtmDay.day,
        )
        .join(PtmDay, PtmDay.id == PtmSlot.ptm_day_id)
        .join(PtmBooking, PtmBooking.slot_id == PtmSlot.id)
        .where(
            PtmBooking.state == BookingState.CONFIRMED,
            PtmDay.day >= calendar.local_today(now) - timedelta(days=MINUTES_LOOKBACK_DAYS + 1),
        )
        .group_by(PtmSlot.ptm_day_id, PtmSlot.teacher_id, PtmSlot.school_id, PtmDay.day)
        .order_by(PtmDay.day, PtmSlot.school_id, PtmSlot.teacher_id)
    ).all()
    created = 0
    for _day_id, teacher_id, school_id, first_slot_id, day in rows:
        school = session.get(OrgUnit, school_id)
        today = calendar.local_today(now, school.timezone)
        if not (day < today <= day + timedelta(days=MINUTES_LOOKBACK_DAYS)):
            continue
        existed = task_of(session, CycleKind.PTM_MINUTES, MINUTES_TARGET, first_slot_id)
        if existed is not None:
            continue
        ensure_definitions(session, _tenant(session, school), now)
        cycles.open_record_task(
            session,
            kind=CycleKind.PTM_MINUTES,
            target_type=MINUTES_TARGET,
            target_id=first_slot_id,
            school=school,
            assignee_id=teacher_id,
            opens_on=day + timedelta(days=1),
            now=now,
        )
        created += 1
    if created:
        log.info("ptm_minutes_tasks_opened", extra={"tasks_created": created})
    return created


def task_of(session: Session, kind: CycleKind, target_type: str, target_id: int) -> Task | None:
    return session.scalar(
        select(Task)
        .where(Task.kind == kind, Task.target_type == target_type, Task.target_id == target_id)
        .order_by(Task.id.desc())
        .limit(1)
    )


@dataclass
class MinutesRow:
    booking: PtmBooking
    minutes: PtmMinutes | None
    actions: list[AgreedAction]
    follow_up_task: Task | None


@dataclass
class MinutesSheet:
    task: Task
    ptm_day: PtmDay
    school: OrgUnit
    teacher: User
    rows: list[MinutesRow]


def minutes_sheet(session: Session, task: Task) -> MinutesSheet:
    """List the bookings the teacher of a minutes task had on that day at that school."""
    if task.kind != CycleKind.PTM_MINUTES:
        raise NotFound(_("not_minutes_task", default="This task has no PTM minutes."))
    first_slot = session.get(PtmSlot, task.target_id)
    bookings = session.scalars(
        select(PtmBooking)
        .join(PtmSlot, PtmSlot.id == PtmBooking.slot_id)
        .options(
            selectinload(PtmBooking.slot),
            selectinload(PtmBooking.student),
            selectinload(PtmBooking.guardian),
        )
        .where(
            PtmSlot.ptm_day_id == first_slot.ptm_day_id,
            PtmSlot.teacher_id == first_slot.teacher_id,
            PtmSlot.school_id == first_slot.school_id,
            PtmBooking.state == BookingState.CONFIRMED,
        )
        .order_by(PtmSlot.starts_at)
    ).all()
    minutes = {
        m.booking_id: m
        for m in session.scalars(
            select(PtmMinutes)
            .options(selectinload(PtmMinutes.actions).selectinload(AgreedAction.owner))
            .where(PtmMinutes.booking_id.in_([b.id for b in bookings]))
        )
    }
    follow_ups = {
        t.target_id: t
        for t in session.scalars(
            select(Task).where(
                Task.kind == CycleKind.PTM_FOLLOW_UP,
                Task.target_type == FOLLOW_UP_TARGET,
                Task.target_id.in_([b.id for b in bookings]),
            )
        )
    }
    rows = [
        MinutesRow(
            booking,
            minutes.get(booking.id),
            list(minutes[booking.id].actions) if booking.id in minutes else [],
            follow_ups.get(booking.id),
        )
        for booking in bookings
    ]
    return MinutesSheet(
        task,
        first_slot.ptm_day,
        session.get(OrgUnit, first_slot.school_id),
        first_slot.teacher,
        rows,
    )


def action_owners(session: Session, school: OrgUnit, now: datetime) -> list[User]:
    """Who may own an agreed action: the school's teachers and head teachers."""
    today = calendar.local_today(now, school.timezone)
    return org.staff_of_school(session, school, today, [Role.TEACHER, Role.HEAD_TEACHER])


def default_action_due(session: Session, school: OrgUnit, now: datetime) -> date:
    """The due date the minutes form offers: the AGREED_ACTION cycle's school days from today."""
    definition = cycles.definition_for(session, CycleKind.AGREED_ACTION, school)
    count = definition.due_after_school_days if definition else 10
    tenant = _tenant(session, school)
    today = calendar.local_today(now, school.timezone)
    _signature, days = TenantCalendar.load(session, tenant, today).school_days(school.path)
    return shift_school_days(days, today, count)


@dataclass
class MinutesEntry:
    """What the form sends for one booking."""

    booking_id: int
    attendance: PtmAttendance
    notes: str = ""
    new_actions: list[dict] = field(default_factory=list)  # description, owner_id, due_on


def save_minutes(
    session: Session,
    task: Task,
    entries: list[MinutesEntry],
    *,
    actor: Actor,
    now: datetime,
    submit: bool,
    version: int | None = None,
) -> MinutesSheet:
    """Save attendance, minutes and new agreed actions; on `submit`, hand the task in.

    Submitting needs attendance for every booking and minutes for every meeting held.
    It then opens a task for each agreed action and a follow-up task for each guardian
    who did not come (and cancels the follow-up of one now recorded as present).
    """
    tasks.check_task_version(task, version)
    if not task.is_pending:
        raise Locked(
            _("minutes_locked", default="These minutes were handed in and can no longer change.")
        )
    sheet = minutes_sheet(session, task)
    by_booking = {row.booking.id: row for row in sheet.rows}
    owners = {user.id for user in action_owners(session, sheet.school, now)}
    today = calendar.local_today(now, sheet.school.timezone)
    errors: dict[str, object] = {}
    for entry in entries:
        if entry.booking_id not in by_booking:
            raise NotFound(_("booking_not_on_sheet", default="This meeting is not on your sheet."))
        errors.update(_entry_errors(entry, owners, today))
    if errors:
        raise InvalidInput(
            _("minutes_invalid", default="Some entries need correcting; nothing was saved."),
            errors,
        )

    tasks.start_task(session, task, actor=actor, now=now)
    for entry in entries:
        row = by_booking[entry.booking_id]
        row.booking.attendance = entry.attendance
        notes = entry.notes.strip()
        if row.minutes is None and (notes or entry.new_actions):
            row.minutes = PtmMinutes(
                booking_id=row.booking.id,
                task_id=task.id,
                notes=notes,
                recorded_by_id=actor.user_id,
                recorded_at=now,
            )
            session.add(row.minutes)
            session.flush()
        elif row.minutes is not None and row.minutes.notes != notes:
            row.minutes.notes = notes
            row.minutes.recorded_by_id = actor.user_id
            row.minutes.recorded_at = now
        for values in entry.new_actions:
            action = AgreedAction(
                minutes_id=row.minutes.id,
                description=values["description"].strip(),
                owner_id=values["owner_id"],
                due_on=values["due_on"],
            )
            session.add(action)
            row.actions.append(action)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="ptm_minutes",
        entity_id=task.id,
        org_unit_id=task.school_id,
        now=now,
        reason="submitted" if submit else "saved",
    )
    if submit:
        _submit_minutes(session, task, sheet, actor=actor, now=now)
    return sheet


def _entry_errors(entry: MinutesEntry, owners: set[int], today: date) -> dict[str, object]:
    errors: dict[str, object] = {}
    prefix = f"booking-{entry.booking_id}"
    if len(entry.notes) > 4000:
        errors[f"{prefix}-notes"] = _(
            "minutes_long", default="Keep the minutes under 4,000 characters."
        )
    for position, values in enumerate(entry.new_actions):
        key = f"{prefix}-action-{position}"
        description = (values.get("description") or "").strip()
        if not 3 <= len(description) <= 500:
            errors[key] = _(
                "action_description", default="Describe the action in 3 to 500 characters."
            )
        elif values.get("owner_id") not in owners:
            errors[key] = _("action_owner", default="Choose who will carry the action out.")
        elif not values.get("due_on") or not (
            today <= values["due_on"] <= today + timedelta(days=MAX_ACTION_DAYS)
        ):
            errors[key] = _(
                "action_due",
                default="The due date must lie between today and ${days} days from now.",
                mapping={"days": MAX_ACTION_DAYS},
            )
    return errors


def _submit_minutes(session, task: Task, sheet: MinutesSheet, *, actor: Actor, now: datetime):
    problems: dict[str, object] = {}
    for row in sheet.rows:
        prefix = f"booking-{row.booking.id}"
        if row.booking.attendance == PtmAttendance.NOT_RECORDED:
            problems[f"{prefix}-attendance"] = _(
                "minutes_attendance_missing", default="Record whether the guardian came."
            )
        elif row.booking.attendance == PtmAttendance.CAME and (
            row.minutes is None or len(row.minutes.notes.strip()) < 3
        ):
            problems[f"{prefix}-notes"] = _(
                "minutes_notes_missing", default="Write the minutes of this meeting."
            )
    if problems:
        raise InvalidInput(
            _(
                "minutes_incomplete",
                default="${count} meeting(s) still need attendance or minutes; the draft was not "
                "handed in.",
                mapping={"count": len(problems)},
            ),
            problems,
        )
    tasks.submit_task(session, task, actor=actor, now=now)
    for row in sheet.rows:
        for action in row.actions:
            if action.task_id is None:
                _open_action_task(session, action, sheet, now)
        if row.booking.attendance == PtmAttendance.DID_NOT_COME:
            open_follow_up(session, row.booking, now)
        elif row.follow_up_task is not None and row.follow_up_task.is_pending:
            tasks.cancel_task(
                session,
                row.follow_up_task,
                actor=actor,
                now=now,
                comment="The minutes now record that the guardian came.",
            )


def _open_action_task(session, action: AgreedAction, sheet: MinutesSheet, now: datetime) -> Task:
    booking = session.get(PtmBooking, session.get(PtmMinutes, action.minutes_id).booking_id)
    section = threads.current_section(session, booking.student_id)
    today = calendar.local_today(now, sheet.school.timezone)
    task = cycles.open_record_task(
        session,
        kind=CycleKind.AGREED_ACTION,
        target_type=ACTION_TARGET,
        target_id=action.id,
        school=sheet.school,
        assignee_id=action.owner_id,
        opens_on=today,
        now=now,
        section_id=section.id if section else None,
    )
    set_due_date(session, task, action.due_on, now)
    action.task_id = task.id
    session.flush()
    return task


def set_due_date(session: Session, task: Task, due_on: date, now: datetime) -> None:
    """Move a pending task to the schedule whose due date is `due_on` (or the next school day).

    Reminders and escalations then count from that due date as the definition sets.
    """
    if task.due_on == due_on:
        return
    schedule = session.get(TaskSchedule, task.schedule_id)
    definition = session.get(CycleDefinition, schedule.definition_id)
    tenant = session.get(OrgUnit, definition.tenant_id)
    tenant_calendar = TenantCalendar.load(session, tenant, due_on)
    signature, days = tenant_calendar.school_days(task.school.path)
    opens_on = shift_school_days(days, due_on, -definition.due_after_school_days)
    target = get_or_create_schedule(
        session, definition, opens_on, signature, days, tenant_calendar.zone, now
    )
    cycles.move_task(task, target, now)
    session.flush()


def open_follow_up(session: Session, booking: PtmBooking, now: datetime) -> Task:
    """Open the class teacher's follow-up task (call or home visit) for a missed meeting."""
    student = session.get(Student, booking.student_id)
    school = session.get(OrgUnit, student.school_id)
    section = threads.current_section(session, student.id)
    assignee_id = section.class_teacher_id if section is not None else None
    if assignee_id is None:
        heads = tasks.role_holders(session, school, Role.HEAD_TEACHER, now)
        if not heads:
            raise InvalidInput(
                _(
                    "follow_up_nobody",
                    default="The section has no class teacher and the school no head teacher, so "
                    "nobody can follow this up.",
                )
            )
        assignee_id = heads[0].id
    ensure_definitions(session, _tenant(session, school), now)
    return cycles.open_record_task(
        session,
        kind=CycleKind.PTM_FOLLOW_UP,
        target_type=FOLLOW_UP_TARGET,
        target_id=booking.id,
        school=school,
        assignee_id=assignee_id,
        opens_on=calendar.local_today(now, school.timezone),
        now=now,
        section_id=section.id if section else None,
    )


# Agreed actions and follow-ups, as tasks of their owners.


def action_of_task(session: Session, task: Task) -> AgreedAction:
    if task.kind != CycleKind.AGREED_ACTION:
        raise NotFound(_("not_action_task", default="This task is not an agreed action."))
    action = session.get(AgreedAction, task.target_id)
    if action is None:
        raise NotFound(_("action_not_found", default="The agreed action no longer exists."))
    return action


def complete_action(
    session: Session, task: Task, outcome: str, *, actor: Actor, now: datetime, version=None
) -> AgreedAction:
    """Record what was done about an agreed action and hand its task in."""
    action = action_of_task(session, task)
    outcome = (outcome or "").strip()
    if not 3 <= len(outcome) <= 2000:
        message = _("action_outcome", default="Say in 3 to 2,000 characters what was done.")
        raise InvalidInput(message, {"outcome": message})
    tasks.check_task_version(task, version)
    tasks.start_task(session, task, actor=actor, now=now)
    action.outcome = outcome
    action.done_at = now
    tasks.submit_task(session, task, actor=actor, now=now)
    return action


@dataclass
class FollowUpCase:
    task: Task
    booking: PtmBooking
    student: Student
    guardian: Guardian
    teacher: User
    follow_up: PtmFollowUp | None


def follow_up_case(session: Session, task: Task) -> FollowUpCase:
    if task.kind != CycleKind.PTM_FOLLOW_UP:
        raise NotFound(_("not_follow_up_task", default="This task is not a PTM follow-up."))
    booking = session.get(PtmBooking, task.target_id)
    return FollowUpCase(
        task,
        booking,
        booking.student,
        booking.guardian,
        booking.slot.teacher,
        session.scalar(select(PtmFollowUp).where(PtmFollowUp.booking_id == booking.id)),
    )


def record_follow_up(
    session: Session,
    task: Task,
    *,
    method: FollowUpMethod,
    reached: bool,
    notes: str,
    actor: Actor,
    now: datetime,
    version: int | None = None,
) -> PtmFollowUp:
    """Record the call or home visit and hand the follow-up task in."""
    case = follow_up_case(session, task)
    notes = (notes or "").strip()
    if not 3 <= len(notes) <= 4000:
        message = _("follow_up_notes", default="Write what happened in 3 to 4,000 characters.")
        raise InvalidInput(message, {"notes": message})
    tasks.check_task_version(task, version)
    tasks.start_task(session, task, actor=actor, now=now)
    record = case.follow_up or PtmFollowUp(booking_id=case.booking.id)
    record.task_id = task.id
    record.method = method
    record.reached_guardian = reached
    record.notes = notes
    record.recorded_by_id = actor.user_id
    record.recorded_at = now
    session.add(record)
    session.flush()
    tasks.submit_task(session, task, actor=actor, now=now)
    return record


def pending_ptm_tasks(session: Session, school_ids: list[int]) -> int:
    return session.scalar(
        select(func.count(Task.id)).where(
            Task.school_id.in_(school_ids),
            Task.kind.in_(list(DEFAULT_DEFINITIONS)),
            Task.state.in_(PENDING_STATES),
        )
    )
