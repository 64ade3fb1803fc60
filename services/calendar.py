"""The term calendar and the school days derived from it.

A school day is a day inside an academic year of the school's tenant that is not a
weekly day off and is not covered by a holiday, vacation or closure of the school or
of any unit above it. School days are always computed, never stored.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from spets.i18n import _
from spets.models import (
    AcademicYear,
    AuditAction,
    DayOff,
    DayOffKind,
    ExamWindow,
    OrgUnit,
    Quarter,
)
from spets.services import audit
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, NotFound
from spets.services.org import check_version

YEAR_START_MONTH = 4  # The academic year runs from 1 April to 31 March.

# Urdu names for the holiday names that the `holidays` package (0.10x) gives for Pakistan.
GAZETTED_NAMES_UR = {
    "Kashmir Solidarity Day": "یومِ یکجہتیِ کشمیر",
    "Pakistan Day": "یومِ پاکستان",
    "Labor Day": "یومِ مزدور",
    "Labour Day": "یومِ مزدور",
    "Eid al-Fitr": "عید الفطر",
    "Eid al-Adha": "عید الاضحیٰ",
    "Youm-e-Takbeer": "یومِ تکبیر",
    "Ashura": "عاشورہ",
    "Independence Day": "یومِ آزادی",
    "Prophet's Birthday": "عید میلاد النبی ﷺ",
    "Iqbal Day": "یومِ اقبال",
    "Quaid-e-Azam Day": "یومِ قائداعظم",
    "General Election Day": "عام انتخابات کا دن",
}


def year_label(start_year: int) -> str:
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def year_bounds(start_year: int) -> tuple[date, date]:
    return date(start_year, YEAR_START_MONTH, 1), date(
        start_year + 1, YEAR_START_MONTH, 1
    ) - timedelta(days=1)


def start_year_of(day: date) -> int:
    return day.year if day.month >= YEAR_START_MONTH else day.year - 1


def default_quarters(start_year: int) -> list[tuple[int, date, date]]:
    """April-June, July-September, October-December, January-March."""
    starts = [
        date(start_year, 4, 1),
        date(start_year, 7, 1),
        date(start_year, 10, 1),
        date(start_year + 1, 1, 1),
        date(start_year + 1, 4, 1),
    ]
    return [(n + 1, starts[n], starts[n + 1] - timedelta(days=1)) for n in range(4)]


def local_clock(moment: datetime | None, timezone: str = "Asia/Karachi") -> str:
    """Show a stored instant as local day and time, dd/mm/yyyy HH:MM.

    SQLite hands back timezone-aware columns without their zone; those values are UTC.
    """
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone)).strftime("%d/%m/%Y %H:%M")


def local_today(now: datetime, timezone: str = "Asia/Karachi") -> date:
    """Return the local calendar date at the instant `now` in the given zone."""
    return now.astimezone(ZoneInfo(timezone)).date()


def create_year(
    session: Session,
    tenant: OrgUnit,
    start_year: int,
    *,
    actor: Actor,
    now: datetime,
    weekly_off_days: str = "7",
) -> AcademicYear:
    """Create an academic year with its four quarters and Pakistan's gazetted holidays."""
    label = year_label(start_year)
    if session.scalar(
        select(AcademicYear.id).where(
            AcademicYear.tenant_id == tenant.id, AcademicYear.label == label
        )
    ):
        message = _(
            "year_exists",
            default="The academic year ${label} already exists.",
            mapping={"label": label},
        )
        raise InvalidInput(message, {"start_year": message})

    starts_on, ends_on = year_bounds(start_year)
    year = AcademicYear(
        tenant_id=tenant.id,
        label=label,
        starts_on=starts_on,
        ends_on=ends_on,
        weekly_off_days=weekly_off_days,
    )
    for number, q_start, q_end in default_quarters(start_year):
        year.quarters.append(Quarter(number=number, starts_on=q_start, ends_on=q_end))
    session.add(year)
    session.flush()

    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="academic_year",
        entity_id=year.id,
        org_unit_id=tenant.id,
        now=now,
        changes={"label": {"before": None, "after": label}},
    )
    add_gazetted_holidays(session, tenant, starts_on, ends_on, now=now)
    return year


def add_gazetted_holidays(
    session: Session, tenant: OrgUnit, start: date, end: date, *, now: datetime
) -> int:
    """Add the gazetted holidays between two dates that are not there yet; return the count."""
    existing = set(
        session.execute(
            select(DayOff.starts_on, DayOff.name_en).where(
                DayOff.org_unit_id == tenant.id, DayOff.kind == DayOffKind.GAZETTED
            )
        ).all()
    )
    added = 0
    for first, last, name in _gazetted_ranges(start, end):
        if (first, name) in existing:
            continue
        session.add(
            DayOff(
                org_unit_id=tenant.id,
                kind=DayOffKind.GAZETTED,
                name_en=name,
                name_ur=urdu_holiday_name(name),
                starts_on=first,
                ends_on=last,
                announced_at=now,
            )
        )
        added += 1
    session.flush()
    return added


def _gazetted_ranges(start: date, end: date) -> list[tuple[date, date, str]]:
    """Group consecutive days with the same holiday name into one range."""
    calendar = holidays.country_holidays("PK", years=range(start.year, end.year + 1))
    days = sorted((day, name) for day, name in calendar.items() if start <= day <= end)
    ranges: list[tuple[date, date, str]] = []
    for day, name in days:
        if ranges and ranges[-1][2] == name and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day, name)
        else:
            ranges.append((day, day, name))
    return ranges


def urdu_holiday_name(name: str) -> str:
    estimated = "(estimated)" in name
    parts = [part.strip() for part in name.replace("(estimated)", "").split(";")]
    urdu = "؛ ".join(GAZETTED_NAMES_UR.get(part, part) for part in parts if part)
    return f"{urdu} (متوقع)" if estimated else urdu


def current_year(session: Session, tenant_id: int, today: date) -> AcademicYear | None:
    return session.scalar(
        select(AcademicYear).where(
            AcademicYear.tenant_id == tenant_id,
            AcademicYear.starts_on <= today,
            AcademicYear.ends_on >= today,
        )
    )


def get_year(session: Session, year_id: int) -> AcademicYear:
    year = session.get(AcademicYear, year_id)
    if year is None:
        raise NotFound(_("year_not_found", default="No such academic year."))
    return year


# Quarters and exam windows.


def update_quarter(
    session: Session,
    quarter: Quarter,
    starts_on: date,
    ends_on: date,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> Quarter:
    year = quarter.academic_year
    check_version(
        quarter, version, {"starts_on": starts_on, "ends_on": ends_on}, ("starts_on", "ends_on")
    )
    _check_inside_year(year, starts_on, ends_on)
    for other in year.quarters:
        if other.id != quarter.id and other.starts_on <= ends_on and starts_on <= other.ends_on:
            message = _(
                "quarter_overlap",
                default="Quarter ${number} would overlap quarter ${other}.",
                mapping={"number": quarter.number, "other": other.number},
            )
            raise InvalidInput(message, {"starts_on": message})

    before = audit.snapshot(quarter, ("starts_on", "ends_on"))
    quarter.starts_on, quarter.ends_on = starts_on, ends_on
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="quarter",
        entity_id=quarter.id,
        org_unit_id=year.tenant_id,
        now=now,
        changes=audit.diff(before, audit.snapshot(quarter, ("starts_on", "ends_on"))),
    )
    return quarter


EXAM_FIELDS = ("kind", "name_en", "name_ur", "starts_on", "ends_on")


def save_exam_window(
    session: Session,
    year: AcademicYear,
    window: ExamWindow | None,
    values: dict,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> ExamWindow:
    _check_inside_year(year, values["starts_on"], values["ends_on"])
    if window is None:
        window = ExamWindow(academic_year_id=year.id, **{k: values[k] for k in EXAM_FIELDS})
        session.add(window)
        before: dict = {}
        action = AuditAction.CREATE
    else:
        check_version(window, version, values, EXAM_FIELDS)
        before = audit.snapshot(window, EXAM_FIELDS)
        for name in EXAM_FIELDS:
            setattr(window, name, values[name])
        action = AuditAction.UPDATE
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="exam_window",
        entity_id=window.id,
        org_unit_id=year.tenant_id,
        now=now,
        changes=audit.diff(before, audit.snapshot(window, EXAM_FIELDS)),
    )
    return window


def delete_exam_window(
    session: Session, window: ExamWindow, *, actor: Actor, now: datetime
) -> None:
    tenant_id = window.academic_year.tenant_id
    before = audit.snapshot(window, EXAM_FIELDS)
    session.delete(window)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.DELETE,
        entity_type="exam_window",
        entity_id=window.id,
        org_unit_id=tenant_id,
        now=now,
        changes=audit.diff(before, {}),
    )


def _check_inside_year(year: AcademicYear, starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        message = _("ends_before_starts", default="The end date is before the start date.")
        raise InvalidInput(message, {"ends_on": message})
    if starts_on < year.starts_on or ends_on > year.ends_on:
        message = _(
            "outside_year",
            default="The dates must lie inside the academic year ${label}, "
            "from ${start} to ${end}.",
            mapping={
                "label": year.label,
                "start": year.starts_on.strftime("%d/%m/%Y"),
                "end": year.ends_on.strftime("%d/%m/%Y"),
            },
        )
        raise InvalidInput(message, {"starts_on": message})


# Holidays, vacations and closures.

DAY_OFF_FIELDS = ("kind", "name_en", "name_ur", "starts_on", "ends_on", "org_unit_id")


def save_day_off(
    session: Session,
    day_off: DayOff | None,
    values: dict,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> DayOff:
    """Create or change a holiday, vacation or closure; return the saved row."""
    if values["ends_on"] < values["starts_on"]:
        message = _("ends_before_starts", default="The end date is before the start date.")
        raise InvalidInput(message, {"ends_on": message})
    if (values["ends_on"] - values["starts_on"]).days > 120:
        message = _(
            "day_off_too_long", default="A single holiday or closure may last at most 120 days."
        )
        raise InvalidInput(message, {"ends_on": message})

    if day_off is None:
        day_off = DayOff(
            announced_at=now, created_by_id=actor.user_id, **{k: values[k] for k in DAY_OFF_FIELDS}
        )
        session.add(day_off)
        before: dict = {}
        action = AuditAction.CREATE
    else:
        check_version(day_off, version, values, DAY_OFF_FIELDS)
        before = audit.snapshot(day_off, DAY_OFF_FIELDS)
        for name in DAY_OFF_FIELDS:
            setattr(day_off, name, values[name])
        action = AuditAction.UPDATE
    session.flush()

    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="day_off",
        entity_id=day_off.id,
        org_unit_id=day_off.org_unit_id,
        now=now,
        changes=audit.diff(before, audit.snapshot(day_off, DAY_OFF_FIELDS)),
    )
    return day_off


def delete_day_off(session: Session, day_off: DayOff, *, actor: Actor, now: datetime) -> None:
    before = audit.snapshot(day_off, DAY_OFF_FIELDS)
    session.execute(delete(DayOff).where(DayOff.id == day_off.id))
    audit.record(
        session,
        actor=actor,
        action=AuditAction.DELETE,
        entity_type="day_off",
        entity_id=day_off.id,
        org_unit_id=day_off.org_unit_id,
        now=now,
        changes=audit.diff(before, {}),
    )


def days_off_for(session: Session, unit: OrgUnit, start: date, end: date) -> list[DayOff]:
    """Return the holidays and closures that apply to `unit` and overlap the dates."""
    return list(
        session.scalars(
            select(DayOff)
            .where(
                DayOff.org_unit_id.in_(unit.ancestor_ids),
                DayOff.starts_on <= end,
                DayOff.ends_on >= start,
            )
            .order_by(DayOff.starts_on)
        )
    )


# School days.


@dataclass(frozen=True)
class SchoolCalendar:
    """The school days of one school over a span of dates, computed in memory.

    Built from one query for the academic years and one for the days off, so callers
    that ask many questions about the same school (due dates, attendance) pay once.
    """

    school_id: int
    days: tuple[date, ...]
    _day_set: frozenset[date] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_day_set", frozenset(self.days))

    def __contains__(self, day: date) -> bool:
        return day in self._day_set

    def count_between(self, start: date, end: date) -> int:
        return sum(1 for day in self.days if start <= day <= end)

    def add_school_days(self, start: date, count: int) -> date | None:
        """Return the `count`-th school day after `start` (0: the first on or after it)."""
        later = (
            [day for day in self.days if day > start]
            if count > 0
            else [d for d in self.days if d >= start]
        )
        index = count - 1 if count > 0 else 0
        return later[index] if index < len(later) else None


def school_calendar(session: Session, school: OrgUnit, start: date, end: date) -> SchoolCalendar:
    tenant_id = school.tenant_id or school.id
    years = session.scalars(
        select(AcademicYear).where(
            AcademicYear.tenant_id == tenant_id,
            AcademicYear.starts_on <= end,
            AcademicYear.ends_on >= start,
        )
    ).all()
    off_ranges = [(d.starts_on, d.ends_on) for d in days_off_for(session, school, start, end)]
    return SchoolCalendar(school.id, tuple(_school_days(years, off_ranges, start, end)))


def _school_days(
    years: Iterable[AcademicYear], off_ranges: list[tuple[date, date]], start: date, end: date
) -> list[date]:
    days: list[date] = []
    for year in years:
        day = max(start, year.starts_on)
        last = min(end, year.ends_on)
        off_weekdays = year.off_weekdays
        while day <= last:
            if day.isoweekday() not in off_weekdays and not any(
                a <= day <= b for a, b in off_ranges
            ):
                days.append(day)
            day += timedelta(days=1)
    return sorted(days)


def school_days(session: Session, school: OrgUnit, start: date, end: date) -> list[date]:
    return list(school_calendar(session, school, start, end).days)


def is_school_day(session: Session, school: OrgUnit, day: date) -> bool:
    return day in school_calendar(session, school, day, day)


def years_of_tenant(session: Session, tenant_id: int) -> list[AcademicYear]:
    return list(
        session.scalars(
            select(AcademicYear)
            .where(AcademicYear.tenant_id == tenant_id)
            .order_by(AcademicYear.starts_on.desc())
        )
    )


def days_off_in_year(session: Session, year: AcademicYear) -> list[DayOff]:
    """Return the days off of the year's tenant, at any unit of its tree."""
    tenant_units = select(OrgUnit.id).where(
        (OrgUnit.id == year.tenant_id) | (OrgUnit.tenant_id == year.tenant_id)
    )
    query = select(DayOff).where(
        DayOff.starts_on <= year.ends_on,
        DayOff.ends_on >= year.starts_on,
        DayOff.org_unit_id.in_(tenant_units),
    )
    return list(session.scalars(query.order_by(DayOff.starts_on)))
