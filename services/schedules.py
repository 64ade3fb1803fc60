"""Due dates, reminder times and escalation times, counted in each school's school days.

Schools that share a calendar (the same academic years and the same holidays and
closures) share one `TaskSchedule`. A tenant's calendar is loaded once; each school then
costs a set lookup, so opening a cycle for 17,000 schools needs a handful of queries.
"""

import bisect
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from spets.models import (
    AcademicYear,
    CycleDefinition,
    DayOff,
    OrgUnit,
    StepKind,
    TaskSchedule,
    TaskScheduleStep,
)
from spets.services.calendar import SchoolCalendar, _school_days

# How far around an opening day school days are computed: enough for a due date, the
# reminders before it and the last escalation after it.
WINDOW_BEFORE = timedelta(days=60)
WINDOW_AFTER = timedelta(days=240)


@dataclass(frozen=True)
class Step:
    kind: StepKind
    number: int
    offset_days: int
    at: datetime
    role: str | None = None


@dataclass(frozen=True)
class ScheduleDates:
    due_on: date
    due_at: datetime
    steps: tuple[Step, ...]


def local_midnight_after(day: date, zone: ZoneInfo) -> datetime:
    """The instant a local day ends: a task due on `day` is late from then (UTC)."""
    return datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)


def local_time(day: date, hour: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour), zone).astimezone(UTC)


def shift_school_days(days: tuple[date, ...], day: date, count: int) -> date:
    """Return the school day `count` school days from the first school day on or after `day`.

    `days` is the sorted tuple of known school days. Beyond the known days (a calendar not
    entered that far yet) every day but Sunday counts, so a schedule never fails for that.
    """
    target = bisect.bisect_left(days, day) + count
    if 0 <= target < len(days):
        return days[target]
    if not days:
        return _step_weekdays(day, count)
    if target >= len(days):
        return _step_weekdays(days[-1], target - (len(days) - 1))
    return _step_weekdays(days[0], target)


def _step_weekdays(anchor: date, count: int) -> date:
    direction = 1 if count >= 0 else -1
    current = anchor
    remaining = abs(count)
    while remaining:
        current += timedelta(days=direction)
        if current.isoweekday() != 7:
            remaining -= 1
    return current


def compute_dates(
    definition: CycleDefinition, days: tuple[date, ...], opens_on: date, zone: ZoneInfo
) -> ScheduleDates:
    """Compute the due date and every step for tasks that open on `opens_on`."""
    first_day = shift_school_days(days, opens_on, 0)
    due_on = shift_school_days(days, first_day, definition.due_after_school_days)
    steps = [
        Step(
            StepKind.REMINDER,
            number,
            offset,
            local_time(shift_school_days(days, due_on, offset), definition.reminder_hour, zone),
        )
        for number, offset in enumerate(sorted(definition.reminder_offsets), start=1)
    ]
    steps += [
        Step(
            StepKind.ESCALATION,
            level,
            offset,
            local_midnight_after(shift_school_days(days, due_on, offset), zone),
            role,
        )
        for level, (offset, role) in enumerate(
            zip(definition.escalation_days, definition.escalation_roles, strict=True), start=1
        )
    ]
    return ScheduleDates(due_on, local_midnight_after(due_on, zone), tuple(steps))


@dataclass
class TenantCalendar:
    """The academic years and days off of one tenant around a date, loaded once."""

    tenant_id: int
    zone: ZoneInfo
    start: date
    end: date
    years: list[AcademicYear]
    days_off: list[DayOff]
    _by_signature: dict[str, SchoolCalendar] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, tenant: OrgUnit, around: date) -> "TenantCalendar":
        start, end = around - WINDOW_BEFORE, around + WINDOW_AFTER
        years = list(
            session.scalars(
                select(AcademicYear).where(
                    AcademicYear.tenant_id == tenant.id,
                    AcademicYear.starts_on <= end,
                    AcademicYear.ends_on >= start,
                )
            )
        )
        tenant_units = select(OrgUnit.id).where(
            (OrgUnit.id == tenant.id) | (OrgUnit.tenant_id == tenant.id)
        )
        days_off = list(
            session.scalars(
                select(DayOff).where(
                    DayOff.org_unit_id.in_(tenant_units),
                    DayOff.starts_on <= end,
                    DayOff.ends_on >= start,
                )
            )
        )
        return cls(tenant.id, ZoneInfo(tenant.timezone), start, end, years, days_off)

    def signature(self, school_path: str) -> str:
        """Identify the calendar of a school: the days off that apply to it, and the years."""
        ancestors = {int(part) for part in school_path.strip("/").split("/") if part}
        applying = sorted(d.id for d in self.days_off if d.org_unit_id in ancestors)
        text = (
            ",".join(map(str, applying))
            + "|"
            + ",".join(f"{y.id}:{y.weekly_off_days}" for y in self.years)
        )
        return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - an identifier, not security

    def school_days(self, school_path: str) -> tuple[str, tuple[date, ...]]:
        key = self.signature(school_path)
        if key not in self._by_signature:
            ancestors = {int(part) for part in school_path.strip("/").split("/") if part}
            ranges = [(d.starts_on, d.ends_on) for d in self.days_off if d.org_unit_id in ancestors]
            days = tuple(_school_days(self.years, ranges, self.start, self.end))
            self._by_signature[key] = SchoolCalendar(0, days)
        return key, self._by_signature[key].days


def get_or_create_schedule(
    session: Session,
    definition: CycleDefinition,
    opens_on: date,
    signature: str,
    days: tuple[date, ...],
    zone: ZoneInfo,
    now: datetime,
    cache: dict | None = None,
) -> TaskSchedule:
    """Return the schedule for (definition, opening day, calendar), creating it once."""
    key = (definition.id, opens_on, signature)
    if cache is not None and key in cache:
        return cache[key]
    schedule = session.scalar(
        select(TaskSchedule).where(
            TaskSchedule.definition_id == definition.id,
            TaskSchedule.opens_on == opens_on,
            TaskSchedule.calendar_signature == signature,
        )
    )
    if schedule is None:
        dates = compute_dates(definition, days, opens_on, zone)
        schedule = TaskSchedule(
            definition_id=definition.id,
            opens_on=opens_on,
            calendar_signature=signature,
            due_on=dates.due_on,
            due_at=dates.due_at,
            created_at=now,
            steps=[
                TaskScheduleStep(
                    kind=s.kind, number=s.number, offset_days=s.offset_days, at=s.at, role=s.role
                )
                for s in dates.steps
            ],
        )
        session.add(schedule)
        session.flush()
    if cache is not None:
        cache[key] = schedule
    return schedule


def first_step_after(
    schedule: TaskSchedule, kind: StepKind, after: datetime | None = None
) -> datetime | None:
    """The time of the first step of `kind` (after `after`, if given)."""
    times = [s.at for s in schedule.steps if s.kind == kind and (after is None or s.at > after)]
    return min(times) if times else None
