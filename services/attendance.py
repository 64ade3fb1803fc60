"""Daily registers, attendance figures, and the SMS to a guardian on the first day of absence.

The attendance percentage
-------------------------
A day counts for a student when three things hold. It is a school day of the calendar:
holidays, vacations, weekly days off and closures are not, even a closure announced after
the register was marked. The student was enrolled in the section that day, from the day
of enrollment to the day of leaving, both included. The section's register for that day
was saved. School days whose register was never saved are reported apart, as "not
marked", and count neither way.

    attendance % = present days / (days counted - leave days) x 100

Late counts as present, because the student attended. Leave (an absence the school
allowed, with a reason) counts neither as present nor as absent: it leaves the
denominator. Absent days lower the figure. The percentage is a `Decimal` rounded half-up
to one decimal place, and it is undefined (None) when no day remains after leave. A
section's or a school's percentage is computed the same way over the sum of its students'
days, which weighs every student-day equally.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    and_,
    case,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from spets.i18n import TranslationString, _, translate
from spets.models import (
    PENDING_STATES,
    AcademicYear,
    AttendanceDay,
    AttendanceMark,
    AttendanceOptions,
    AttendanceStatus,
    AuditAction,
    AuditEvent,
    Channel,
    CycleDefinition,
    CycleKind,
    DayOff,
    Enrollment,
    Guardian,
    OrgUnit,
    OutboxMessage,
    OutboxStatus,
    Section,
    Student,
    StudentGuardian,
    Task,
)
from spets.services import audit, cycles, messaging, tasks
from spets.services.audit import Actor
from spets.services.bulk import insert_ignore_rows
from spets.services.calendar import local_today
from spets.services.errors import InvalidInput, StaleEdit
from spets.services.grading import percent
from spets.services.org import check_version
from spets.services.schedules import TenantCalendar

log = logging.getLogger(__name__)

ABSENT, LATE, LEAVE, PRESENT = (
    AttendanceStatus.ABSENT,
    AttendanceStatus.LATE,
    AttendanceStatus.LEAVE,
    AttendanceStatus.PRESENT,
)

# The user-facing statement of the rule above, shown on every page with figures.
PERCENT_RULE = _(
    "attendance_percent_rule",
    default="Attendance % = present days (late counts as present) ÷ (school days counted − "
    "days on leave) × 100, rounded half-up to one decimal. Only school days on which the "
    "student was enrolled and the register was marked count; holidays and closures never "
    "count, and days not marked are shown apart.",
)


# Cycle definitions.

# A task per section with a class teacher on each school day, due the same day. The
# reminder goes at 10:00 local time (the definition's reminder hour, which an
# administrator may change), and a register still not marked at midnight goes to the
# head teacher.
DEFAULT_DAILY_ATTENDANCE = {
    "name_en": "Daily attendance",
    "name_ur": "روزانہ حاضری",
    "opens_with": cycles.CycleTrigger.SCHOOL_DAY,
    "assignee_rule": cycles.AssigneeRule.CLASS_TEACHER,
    "due_after_school_days": 0,
    "reminder_offsets": [0],
    "reminder_hour": 10,
    "escalation_days": [0],
    "escalation_roles": ["head_teacher"],
    "signoff_role": "head_teacher",
}

# The class teacher rates each student of the section once a month, by the twentieth
# school day of the month, and submits the rubric to the head teacher.
DEFAULT_BEHAVIOUR_RUBRIC = {
    "name_en": "Monthly behaviour rubric",
    "name_ur": "ماہانہ طرزِ عمل کا جائزہ",
    "opens_with": cycles.CycleTrigger.MONTH_START,
    "assignee_rule": cycles.AssigneeRule.CLASS_TEACHER,
    "due_after_school_days": 20,
    "reminder_offsets": [-3, 0],
    "reminder_hour": 8,
    "escalation_days": [0, 3],
    "escalation_roles": ["head_teacher", "aeo"],
    "signoff_role": "head_teacher",
}

# A review of an intervention plan opens two school days before its date, is due on the
# date, and escalates to the head teacher when it is late and to the AEO three school
# days after that.
DEFAULT_INTERVENTION_REVIEW = {
    "name_en": "Intervention plan review",
    "name_ur": "مداخلتی منصوبے کا جائزہ",
    "opens_with": cycles.CycleTrigger.ON_RECORD,
    "assignee_rule": cycles.AssigneeRule.RECORD_OWNER,
    "due_after_school_days": 2,
    "reminder_offsets": [-1, 0],
    "reminder_hour": 8,
    "escalation_days": [0, 3],
    "escalation_roles": ["head_teacher", "aeo"],
    "signoff_role": "head_teacher",
}

DEFAULT_DEFINITIONS = {
    CycleKind.DAILY_ATTENDANCE: DEFAULT_DAILY_ATTENDANCE,
    CycleKind.BEHAVIOUR_RUBRIC: DEFAULT_BEHAVIOUR_RUBRIC,
    CycleKind.INTERVENTION_REVIEW: DEFAULT_INTERVENTION_REVIEW,
}


def add_attendance_definitions(
    session: Session, tenant: OrgUnit, *, actor: Actor, now: datetime
) -> list[CycleDefinition]:
    """Add the tenant's daily attendance, behaviour rubric and plan review cycles that are missing.

    Returns the definitions created; a kind the tenant already has is left as it is.
    """
    existing = set(
        session.scalars(
            select(CycleDefinition.kind).where(
                CycleDefinition.org_unit_id == tenant.id,
                CycleDefinition.kind.in_(list(DEFAULT_DEFINITIONS)),
            )
        )
    )
    return [
        cycles.save_definition(
            session,
            org_unit=tenant,
            kind=kind,
            definition=None,
            values=dict(values),
            version=None,
            actor=actor,
            now=now,
        )
        for kind, values in DEFAULT_DEFINITIONS.items()
        if kind not in existing
    ]


def options_of(session: Session, school_id: int) -> AttendanceOptions:
    """Return the school's attendance options; a school without a row gets the defaults, unsaved."""
    options = session.get(AttendanceOptions, school_id)
    return options or AttendanceOptions(school_id=school_id, notify_guardian_of_absence=False)


def save_options(
    session: Session,
    school: OrgUnit,
    values: dict,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> AttendanceOptions:
    options = session.get(AttendanceOptions, school.id)
    fields = ("notify_guardian_of_absence",)
    if options is None:
        options = AttendanceOptions(school_id=school.id, notify_guardian_of_absence=False)
        session.add(options)
        before: dict = {}
    else:
        check_version(options, version, values, fields)
        before = audit.snapshot(options, fields)
    options.notify_guardian_of_absence = bool(values["notify_guardian_of_absence"])
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE if before else AuditAction.CREATE,
        entity_type="attendance_options",
        entity_id=school.id,
        org_unit_id=school.id,
        now=now,
        changes=audit.diff(before, audit.snapshot(options, fields)),
    )
    return options


# School days of many schools at once.


@dataclass(frozen=True)
class DayGroup:
    """Schools that share a calendar, and their school days over a span of dates."""

    school_ids: tuple[int, ...]
    days: tuple[date, ...]
    zone: str
    # The other dates of the span: weekly days off, holidays, vacations and closures.
    off_days: tuple[date, ...] = ()


def school_day_groups(
    session: Session, schools: Sequence[OrgUnit], start: date, end: date
) -> list[DayGroup]:
    """Group the schools by calendar and compute each group's school days from `start` to `end`.

    Two queries per tenant (its academic years and its days off), whatever the number of
    schools, so the figures of a batch of schools filter on a few date lists.
    """
    by_tenant: dict[int, list[OrgUnit]] = defaultdict(list)
    for school in schools:
        by_tenant[school.tenant_id or school.id].append(school)
    groups = []
    for tenant_id, units in by_tenant.items():
        tenant = session.get(OrgUnit, tenant_id)
        years = list(
            session.scalars(
                select(AcademicYear).where(
                    AcademicYear.tenant_id == tenant_id,
                    AcademicYear.starts_on <= end,
                    AcademicYear.ends_on >= start,
                )
            )
        )
        tenant_units = select(OrgUnit.id).where(
            (OrgUnit.id == tenant_id) | (OrgUnit.tenant_id == tenant_id)
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
        calendar = TenantCalendar(tenant.id, ZoneInfo(tenant.timezone), start, end, years, days_off)
        by_signature: dict[tuple[str, str], list[int]] = defaultdict(list)
        days_of: dict[tuple[str, str], tuple[date, ...]] = {}
        for school in units:
            signature, days = calendar.school_days(school.path)
            key = (signature, school.timezone)
            by_signature[key].append(school.id)
            days_of[key] = days
        span = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        for key, ids in by_signature.items():
            school_days = set(days_of[key])
            off_days = tuple(day for day in span if day not in school_days)
            groups.append(DayGroup(tuple(ids), days_of[key], key[1], off_days))
    return groups


def _school_day_clause(groups: Iterable[DayGroup], school_column, day_column):
    """SQL condition on rows of the groups' span: the day is a school day of the row's school.

    It names the days off rather than the school days: they are fewer, and PostgreSQL
    estimates "NOT IN a few days" well, where "IN two hundred days" made it expect almost
    no rows and choose nested loops (measured by benchmarks/attendance_figures.py).
    """
    conditions = []
    for group in groups:
        if not group.days:
            continue
        in_group = school_column.in_(group.school_ids)
        if group.off_days:
            in_group = and_(in_group, day_column.not_in(group.off_days))
        conditions.append(in_group)
    return or_(*conditions) if conditions else false()


# The register of one section on one day.


@dataclass(frozen=True)
class ClosedDay:
    """Why a day is not a school day for a section: outside its year, a weekly day off, or a day off."""

    day: date
    kind: str  # "outside_year", "weekly_off" or "day_off"
    name_en: str = ""
    name_ur: str = ""

    def message(self, locale: str):
        when = self.day.strftime("%d/%m/%Y")
        if self.kind == "outside_year":
            return _(
                "register_outside_year",
                default="${date} lies outside this section's academic year.",
                mapping={"date": when},
            )
        if self.kind == "weekly_off":
            return _(
                "register_weekly_off",
                default="${date} is a weekly day off.",
                mapping={"date": when},
            )
        name = self.name_ur if locale == "ur" and self.name_ur else self.name_en
        return _(
            "register_day_off",
            default="${date} is not a school day: ${name}.",
            mapping={"date": when, "name": name},
        )


def closed_day(session: Session, section: Section, day: date) -> ClosedDay | None:
    """Return why `day` is not a school day for the section, or None when it is one.

    Two queries at most: the section's academic year and the days off that cover the day.
    """
    year = section.academic_year
    if not year.starts_on <= day <= year.ends_on:
        return ClosedDay(day, "outside_year")
    if day.isoweekday() in year.off_weekdays:
        return ClosedDay(day, "weekly_off")
    day_off = session.scalar(
        select(DayOff)
        .where(
            DayOff.org_unit_id.in_(section.school.ancestor_ids),
            DayOff.starts_on <= day,
            DayOff.ends_on >= day,
        )
        .order_by(DayOff.starts_on, DayOff.id)
        .limit(1)
    )
    if day_off is not None:
        return ClosedDay(day, "day_off", day_off.name_en, day_off.name_ur)
    return None


@dataclass
class RegisterRow:
    """A student on the register, with their status on it."""

    student: Student
    status: AttendanceStatus = PRESENT
    leave_reason: str = ""


@dataclass
class Register:
    section: Section
    day: date
    today: date
    record: AttendanceDay | None
    rows: list[RegisterRow]
    # Why the day is not a school day (a holiday, a closure ...), or None for a school day.
    closed: ClosedDay | None = None
    task: Task | None = None
    # Saved marks of students no longer on the roll of the day (an enrollment corrected later).
    stray_mark_ids: list[int] = field(default_factory=list)
    saved: dict[int, tuple[int, AttendanceStatus, str]] = field(default_factory=dict)

    @property
    def is_school_day(self) -> bool:
        return self.closed is None

    @property
    def is_markable(self) -> bool:
        return self.is_school_day and self.day <= self.today

    @property
    def version(self) -> int:
        """The saved day's version, or 0 while nobody has marked the day."""
        return self.record.version if self.record is not None else 0

    def counts(self) -> dict[AttendanceStatus, int]:
        totals = dict.fromkeys(AttendanceStatus, 0)
        for row in self.rows:
            totals[row.status] += 1
        return totals

    def row_for(self, student_id: int) -> RegisterRow | None:
        return next((row for row in self.rows if row.student.id == student_id), None)


def roll_on(session: Session, section_id: int, day: date) -> list[Student]:
    """Students enrolled in the section on `day`, by name."""
    return list(
        session.scalars(
            select(Student)
            .join(Enrollment, Enrollment.student_id == Student.id)
            .where(
                Enrollment.section_id == section_id,
                Enrollment.starts_on <= day,
                or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= day),
            )
            .order_by(Student.name_en, Student.id)
            .distinct()
        )
    )


def day_task(session: Session, section_id: int, day: date) -> Task | None:
    """Return the daily attendance task of the section for `day`, if the engine opened one."""
    return session.scalar(
        select(Task)
        .where(
            Task.kind == CycleKind.DAILY_ATTENDANCE,
            Task.target_type == "section",
            Task.target_id == section_id,
            Task.opens_on == day,
        )
        .order_by(Task.id.desc())
        .limit(1)
    )


def load_register(session: Session, section: Section, day: date, now: datetime) -> Register:
    """Load the register of a section for a day: the roll, what is saved and the day's task.

    A fixed number of queries, whatever the size of the section.
    """
    school = section.school
    rows = [RegisterRow(student) for student in roll_on(session, section.id, day)]
    record = session.scalar(
        select(AttendanceDay).where(
            AttendanceDay.section_id == section.id, AttendanceDay.day == day
        )
    )
    register = Register(
        section=section,
        day=day,
        today=local_today(now, school.timezone),
        record=record,
        rows=rows,
        closed=closed_day(session, section, day),
        task=day_task(session, section.id, day),
    )
    if record is not None:
        by_student = {row.student.id: row for row in rows}
        for mark_id, student_id, status, reason in session.execute(
            select(
                AttendanceMark.id,
                AttendanceMark.student_id,
                AttendanceMark.status,
                AttendanceMark.leave_reason,
            ).where(AttendanceMark.attendance_day_id == record.id)
        ):
            register.saved[student_id] = (mark_id, status, reason)
            row = by_student.get(student_id)
            if row is None:
                register.stray_mark_ids.append(mark_id)
            else:
                row.status, row.leave_reason = status, reason
    return register


def _require_markable(register: Register) -> None:
    if register.closed is not None:
        message = _(
            "register_not_school_day",
            default="This register cannot be marked: ${date} is not a school day.",
            mapping={"date": register.day.strftime("%d/%m/%Y")},
        )
        raise InvalidInput(message, {"day": message})
    if register.day > register.today:
        message = _(
            "register_in_future",
            default="${date} has not come yet; a register is marked on its day or later.",
            mapping={"date": register.day.strftime("%d/%m/%Y")},
        )
        raise InvalidInput(message, {"day": message})


def _desired_marks(
    register: Register, rows: Sequence[dict]
) -> dict[int, tuple[AttendanceStatus, str]]:
    """Check the rows sent and return {student id: (status, reason)} of every student on the roll.

    A student who is not sent keeps what was saved (present on a day marked for the first
    time). Raises InvalidInput with one message per bad row, keyed ``student-<id>``.
    """
    desired = {
        row.student.id: (row.status, row.leave_reason if row.status == LEAVE else "")
        for row in register.rows
    }
    errors: dict[str, object] = {}
    seen: set[int] = set()
    for values in rows:
        student_id = values["student_id"]
        key = f"student-{student_id}"
        row = register.row_for(student_id)
        if row is None or student_id in seen:
            errors[key] = _(
                "register_student_unknown",
                default="Student ${id} is not on the register of this day, or was sent twice.",
                mapping={"id": student_id},
            )
            continue
        seen.add(student_id)
        status = values.get("status") or PRESENT
        reason = (values.get("leave_reason") or "").strip() if status == LEAVE else ""
        if status == LEAVE and not reason:
            errors[key] = _(
                "register_leave_reason",
                default="${name} is on leave: give the reason for the leave.",
                mapping={"name": row.student.name_en},
            )
            continue
        desired[student_id] = (AttendanceStatus(status), reason)
    if errors:
        raise InvalidInput(
            _("register_invalid", default="The register was not saved: correct the rows marked."),
            errors,
        )
    return desired


@dataclass
class _MarkChanges:
    inserted: list[dict] = field(default_factory=list)
    updated: list[dict] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    # (student id, (status, reason) before, (status, reason) after) of each changed row.
    changed: list[tuple[int, tuple, tuple]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)


def _compare(register: Register, desired: dict[int, tuple[AttendanceStatus, str]]) -> _MarkChanges:
    changes = _MarkChanges(deleted=list(register.stray_mark_ids))
    for student_id, (status, reason) in desired.items():
        saved = register.saved.get(student_id)
        before = (saved[1], saved[2]) if saved else (PRESENT, "")
        if before == (status, reason):
            continue
        changes.changed.append((student_id, before, (status, reason)))
        if saved is None:
            changes.inserted.append(
                {"student_id": student_id, "status": status, "leave_reason": reason}
            )
        elif status == PRESENT:
            changes.deleted.append(saved[0])
        else:
            changes.updated.append({"id": saved[0], "status": status, "leave_reason": reason})
    return changes


def save_register(
    session: Session,
    section: Section,
    day: date,
    rows: Sequence[dict],
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> Register:
    """Save a section's register for a school day in one set of statements; return it as saved.

    `rows` are dicts with `student_id`, `status` and `leave_reason`, as
    `forms.attendance.RegisterSchema` returns them. Only absent, late and leave rows are
    stored. `version` is the day's version when the page was loaded (0 for a day nobody had
    marked): an older one raises StaleEdit. Saving a marked day again is a correction: the
    day's counter goes up and each changed student gets an audit event with the status
    before and after. A pending absence SMS of a student no longer absent is cancelled.
    Saving also submits the day's attendance task, which needs no sign-off.

    The number of SQL statements does not depend on the number of students.

    A correction flushes no ORM object, so its statements name the mapped classes rather
    than their tables: only then do the session's ORM execute events see the writes. The
    web app's zope.sqlalchemy hook marks a request as changed from those events or from a
    flush, and rolls back a request that only ran statements on bare tables.
    """
    register = load_register(session, section, day, now)
    _require_markable(register)
    desired = _desired_marks(register, rows)
    changes = _compare(register, desired)

    created = register.record is None
    if created:
        if version not in (None, 0):
            raise _stale(0)
        register.record = _create_day(session, section, day, actor, now)
    else:
        if version is not None and version != register.record.version:
            raise _stale(register.record.version)
        if changes:
            _bump_day(session, register.record, actor, now)

    _write_marks(session, register.record, changes)
    _audit_register(session, register, changes, created=created, actor=actor, now=now)
    cancelled_for = [
        student_id
        for student_id, before, after in changes.changed
        if before[0] == ABSENT and after[0] != ABSENT
    ]
    cancel_absence_notices(session, cancelled_for, day, now)
    _close_day_task(session, register.task, actor, now)

    for row in register.rows:
        row.status, row.leave_reason = desired[row.student.id]
    return register


def _stale(current_version: int) -> StaleEdit:
    return StaleEdit(
        _(
            "register_stale",
            default="Someone saved this register after you opened it, so your changes were not "
            "saved. The register below shows what is saved now; make your changes again.",
        ),
        current_version=current_version,
    )


def _create_day(
    session: Session, section: Section, day: date, actor: Actor, now: datetime
) -> AttendanceDay:
    """Insert the day's row; a day that another request created first raises StaleEdit."""
    record = AttendanceDay(
        section_id=section.id, day=day, marked_by_id=actor.user_id, marked_at=now, corrections=0
    )
    # Flush other pending changes first, so an IntegrityError inside the savepoint can only
    # come from this row's unique (section, day) key.
    session.flush()
    savepoint = session.begin_nested()
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        raise _stale(-1) from None
    savepoint.commit()
    return record


def _bump_day(session: Session, record: AttendanceDay, actor: Actor, now: datetime) -> None:
    """Count a correction and raise the version, unless another save has raised it meanwhile."""
    current = record.version
    result = session.execute(
        update(AttendanceDay)
        .where(AttendanceDay.id == record.id, AttendanceDay.version == current)
        .values(
            version=current + 1,
            corrections=AttendanceDay.corrections + 1,
            marked_by_id=actor.user_id,
            marked_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise _stale(-1)
    set_committed_value(record, "version", current + 1)
    set_committed_value(record, "corrections", record.corrections + 1)
    set_committed_value(record, "marked_by_id", actor.user_id)
    set_committed_value(record, "marked_at", now)


def _write_marks(session: Session, record: AttendanceDay, changes: _MarkChanges) -> None:
    """Write the changed marks with one statement per kind of change: delete, insert, update."""
    if changes.deleted:
        session.execute(
            delete(AttendanceMark)
            .where(AttendanceMark.id.in_(changes.deleted))
            .execution_options(synchronize_session=False)
        )
    if changes.inserted:
        session.execute(
            insert(AttendanceMark),
            [{"attendance_day_id": record.id, **row} for row in changes.inserted],
        )
    if changes.updated:
        # An ORM bulk UPDATE by primary key: one executemany, each row keyed by its id.
        session.execute(update(AttendanceMark), changes.updated)


def _audit_register(
    session: Session,
    register: Register,
    changes: _MarkChanges,
    *,
    created: bool,
    actor: Actor,
    now: datetime,
) -> None:
    """Audit the first marking as one event, and each student changed by a correction."""
    record = register.record
    school_id = register.section.school_id
    reason = f"register of section {register.section.id} for {register.day.isoformat()}"
    if created:
        totals = defaultdict(int)
        for _student, _before, after in changes.changed:
            totals[after[0].value] += 1
        audit.record(
            session,
            actor=actor,
            action=AuditAction.CREATE,
            entity_type="attendance_day",
            entity_id=record.id,
            org_unit_id=school_id,
            now=now,
            reason=reason,
            changes={status: {"before": None, "after": count} for status, count in totals.items()},
        )
        return
    if not changes.changed:
        return
    session.execute(
        insert(AuditEvent),
        [
            {
                "occurred_at": now,
                "actor_id": actor.user_id,
                "action": AuditAction.UPDATE,
                "entity_type": "attendance_mark",
                "entity_id": record.id,
                "student_id": student_id,
                "org_unit_id": school_id,
                "category": None,
                "reason": f"correction of the {reason}",
                "changes": audit.diff(
                    {"status": before[0].value, "leave_reason": before[1]},
                    {"status": after[0].value, "leave_reason": after[1]},
                ),
                "client_addr": actor.client_addr,
            }
            for student_id, before, after in changes.changed
        ],
    )


def _close_day_task(session: Session, task: Task | None, actor: Actor, now: datetime) -> None:
    """Submit the day's task and approve it at once: a saved register needs no sign-off.

    Corrections later go through the register, which audits them, not through the task.
    """
    if task is None or not task.is_pending:
        return
    tasks.move(session, task, "submit", actor=actor, now=now)
    tasks.move(
        session,
        task,
        "approve",
        actor=Actor.system(),
        now=now,
        comment="Attendance needs no sign-off: the saved register is the record.",
    )


@dataclass(frozen=True)
class Correction:
    """One student's row changed by a correction: status and leave reason before and after."""

    occurred_at: datetime
    actor_id: int | None
    student_id: int
    before: tuple[AttendanceStatus, str]
    after: tuple[AttendanceStatus, str]


def corrections_of(session: Session, record: AttendanceDay | None) -> list[Correction]:
    """Return the audited corrections of a register, newest first."""
    if record is None:
        return []
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "attendance_mark", AuditEvent.entity_id == record.id)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )
    found = []
    for event in events:
        changes = event.changes or {}
        # A change of the leave reason alone stores no status: the row was on leave throughout.
        status = changes.get("status", {"before": LEAVE.value, "after": LEAVE.value})
        reason = changes.get("leave_reason", {})
        found.append(
            Correction(
                event.occurred_at,
                event.actor_id,
                event.student_id,
                (AttendanceStatus(status["before"]), reason.get("before") or ""),
                (AttendanceStatus(status["after"]), reason.get("after") or ""),
            )
        )
    return found


# Figures.


@dataclass(frozen=True)
class Figures:
    """Counts of school days, and the attendance percentage defined in this module's docstring."""

    marked: int = 0  # school days enrolled on which the register was saved: the days counted
    absent: int = 0
    late: int = 0
    leave: int = 0
    not_marked: int | None = None  # school days enrolled whose register was not saved

    @property
    def present(self) -> int:
        """Days present, late days included."""
        return self.marked - self.absent - self.leave

    @property
    def counted(self) -> int:
        """The denominator: days counted less the days on leave."""
        return self.marked - self.leave

    @property
    def percent(self) -> Decimal | None:
        if self.counted <= 0:
            return None
        return percent(Decimal(self.present), Decimal(self.counted))

    def __add__(self, other: "Figures") -> "Figures":
        not_marked = None
        if self.not_marked is not None or other.not_marked is not None:
            not_marked = (self.not_marked or 0) + (other.not_marked or 0)
        return Figures(
            self.marked + other.marked,
            self.absent + other.absent,
            self.late + other.late,
            self.leave + other.leave,
            not_marked,
        )


def _on_counted_days(query, groups: Sequence[DayGroup], start: date, end: date, where):
    """Restrict a query over registers and enrollments to the days that count.

    A register counts for an enrollment when its section is the enrollment's section, its
    day lies between the enrollment's first and last day and in [start, end], and the day
    is a school day of the section's school.
    """
    return query.join(Section, Section.id == AttendanceDay.section_id).where(
        Enrollment.section_id == AttendanceDay.section_id,
        AttendanceDay.day >= Enrollment.starts_on,
        or_(Enrollment.ends_on.is_(None), AttendanceDay.day <= Enrollment.ends_on),
        AttendanceDay.day >= start,
        AttendanceDay.day <= end,
        _school_day_clause(groups, Section.school_id, AttendanceDay.day),
        *where,
    )


def count_figures(
    session: Session,
    groups: Sequence[DayGroup],
    start: date,
    end: date,
    columns: Sequence,
    where=(),
) -> dict[tuple, Figures]:
    """Return {values of `columns`: Figures} from two aggregate queries.

    The first counts the registers that count for each group (every student-day); the
    second counts the group's absent, late and leave marks on those registers. Marks are
    few next to student-days, so the second query starts from the marks instead of
    probing for a mark on every student-day. A group without marks was present throughout.
    """
    days = _on_counted_days(
        select(*columns, func.count(AttendanceDay.id).label("marked")).select_from(
            AttendanceDay, Enrollment
        ),
        groups,
        start,
        end,
        where,
    ).group_by(*columns)
    status = AttendanceMark.status
    exceptions = _on_counted_days(
        select(
            *columns,
            func.sum(case((status == ABSENT, 1), else_=0)).label("absent"),
            func.sum(case((status == LATE, 1), else_=0)).label("late"),
            func.sum(case((status == LEAVE, 1), else_=0)).label("leave"),
        )
        .select_from(AttendanceMark)
        .join(AttendanceDay, AttendanceDay.id == AttendanceMark.attendance_day_id)
        .join(Enrollment, Enrollment.student_id == AttendanceMark.student_id),
        groups,
        start,
        end,
        where,
    ).group_by(*columns)
    width = len(columns)
    marks = {tuple(row[:width]): row for row in session.execute(exceptions)}
    found = {}
    for row in session.execute(days):
        key = tuple(row[:width])
        counted = marks.get(key)
        found[key] = Figures(
            row.marked,
            counted.absent if counted else 0,
            counted.late if counted else 0,
            counted.leave if counted else 0,
        )
    return found


def _with_not_marked(figures: Figures | None, not_marked: int | None) -> Figures:
    figures = figures or Figures()
    return Figures(figures.marked, figures.absent, figures.late, figures.leave, not_marked)


def figures_by_student(
    session: Session,
    schools: Sequence[OrgUnit],
    start: date,
    end: date,
    *,
    student_ids=None,
) -> dict[int, Figures]:
    """Return {student id: Figures} for every student of the schools with a counted day.

    `student_ids` (a list, or a SELECT of ids) narrows the students. Two aggregate queries
    for all of them, whatever their number, plus two calendar queries per tenant.
    """
    groups = school_day_groups(session, schools, start, end)
    where = [Section.school_id.in_([school.id for school in schools])]
    if student_ids is not None:
        where.append(Enrollment.student_id.in_(student_ids))
    counted = count_figures(session, groups, start, end, [Enrollment.student_id], where)
    return {key[0]: figures for key, figures in counted.items()}


def _enrolled_school_days(
    enrollments: Iterable[tuple[date, date | None]], days: Sequence[date], start: date, end: date
) -> set[date]:
    found: set[date] = set()
    for first, last in enrollments:
        low, high = max(first, start), min(last or end, end)
        found.update(day for day in days if low <= day <= high)
    return found


@dataclass
class StudentAttendance:
    """A student's figures over a span, in total and month by month."""

    total: Figures
    months: list[tuple[date, Figures]]  # (first day of the month, figures), oldest first
    start: date
    end: date


def student_attendance(
    session: Session, student: Student, start: date, end: date
) -> StudentAttendance:
    """Return a student's figures from `start` to `end` (pass today as `end` for "so far").

    Enrollments in sections of other schools count with those schools' calendars.
    """
    enrollments = session.execute(
        select(Enrollment.section_id, Enrollment.starts_on, Enrollment.ends_on, Section.school_id)
        .join(Section, Section.id == Enrollment.section_id)
        .where(
            Enrollment.student_id == student.id,
            Enrollment.starts_on <= end,
            or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= start),
        )
    ).all()
    schools = list(
        session.scalars(
            select(OrgUnit).where(OrgUnit.id.in_({row.school_id for row in enrollments}))
        )
    )
    groups = school_day_groups(session, schools, start, end)
    days_of_school = {school_id: group.days for group in groups for school_id in group.school_ids}
    enrolled_days: set[date] = set()
    for row in enrollments:
        enrolled_days |= _enrolled_school_days(
            [(row.starts_on, row.ends_on)], days_of_school.get(row.school_id, ()), start, end
        )

    year, month = func.extract("year", AttendanceDay.day), func.extract("month", AttendanceDay.day)
    counted = count_figures(
        session,
        groups,
        start,
        end,
        [year.label("year"), month.label("month")],
        [Enrollment.student_id == student.id],
    )
    marked_by_month = {
        date(int(year_value), int(month_value), 1): figures
        for (year_value, month_value), figures in counted.items()
    }
    enrolled_by_month: dict[date, int] = defaultdict(int)
    for day in enrolled_days:
        enrolled_by_month[day.replace(day=1)] += 1

    months = []
    for first in sorted(set(marked_by_month) | set(enrolled_by_month)):
        figures = marked_by_month.get(first) or Figures()
        not_marked = enrolled_by_month.get(first, 0) - figures.marked
        months.append((first, _with_not_marked(figures, not_marked)))
    total = sum((figures for _month, figures in months), Figures(not_marked=0))
    return StudentAttendance(total, months, start, end)


@dataclass
class SectionAttendance:
    section: Section
    start: date
    end: date
    total: Figures
    students: list[tuple[Student, Figures]]
    school_days: list[date]
    marked_days: list[date]

    @property
    def unmarked_days(self) -> list[date]:
        marked = set(self.marked_days)
        return [day for day in self.school_days if day not in marked]


def section_attendance(
    session: Session, section: Section, start: date, end: date
) -> SectionAttendance:
    """Return the section's figures per student and in total, and the days not marked.

    A fixed number of queries: the calendar, the students enrolled at any time in the
    span, the section's marked days and two aggregate queries.
    """
    school = section.school
    groups = school_day_groups(session, [school], start, end)
    school_days = list(groups[0].days) if groups else []
    roll = session.execute(
        select(Student, Enrollment.starts_on, Enrollment.ends_on)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .where(
            Enrollment.section_id == section.id,
            Enrollment.starts_on <= end,
            or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= start),
        )
        .order_by(Student.name_en, Student.id)
    ).all()
    marked_days = list(
        session.scalars(
            select(AttendanceDay.day)
            .where(
                AttendanceDay.section_id == section.id,
                AttendanceDay.day >= start,
                AttendanceDay.day <= end,
            )
            .order_by(AttendanceDay.day)
        )
    )
    marked_set = set(marked_days)
    counted = count_figures(
        session, groups, start, end, [Enrollment.student_id], [Enrollment.section_id == section.id]
    )

    enrolled: dict[int, list[tuple[date, date | None]]] = defaultdict(list)
    students: dict[int, Student] = {}
    for student, first, last in roll:
        students[student.id] = student
        enrolled[student.id].append((first, last))
    rows = []
    for student_id, student in students.items():
        days = _enrolled_school_days(enrolled[student_id], school_days, start, end)
        not_marked = len([day for day in days if day not in marked_set])
        rows.append((student, _with_not_marked(counted.get((student_id,)), not_marked)))
    total = sum((figures for _student, figures in rows), Figures(not_marked=0))
    return SectionAttendance(
        section,
        start,
        end,
        total,
        rows,
        school_days,
        [d for d in marked_days if d in set(school_days)],
    )


@dataclass
class SchoolAttendance:
    school: OrgUnit
    start: date
    end: date
    total: Figures
    sections: list[tuple[Section, Figures, int]]  # (section, figures, school days not marked)
    school_days: int


def school_attendance(
    session: Session, school: OrgUnit, year: AcademicYear, start: date, end: date
) -> SchoolAttendance:
    """Return the figures of each section of the school in `year`, and the school's total."""
    groups = school_day_groups(session, [school], start, end)
    school_days = set(groups[0].days) if groups else set()
    sections = list(
        session.scalars(
            select(Section)
            .where(Section.school_id == school.id, Section.academic_year_id == year.id)
            .order_by(Section.grade, Section.name)
        )
    )
    section_ids = [section.id for section in sections]
    counted = count_figures(
        session,
        groups,
        start,
        end,
        [Enrollment.section_id],
        [Enrollment.section_id.in_(section_ids)],
    )
    marked_counts = dict(
        session.execute(
            select(AttendanceDay.section_id, func.count(AttendanceDay.id))
            .where(
                AttendanceDay.section_id.in_(section_ids),
                AttendanceDay.day >= start,
                AttendanceDay.day <= end,
                AttendanceDay.day.in_(sorted(school_days)) if school_days else false(),
            )
            .group_by(AttendanceDay.section_id)
        ).all()
    )
    rows = []
    for section in sections:
        figures = counted.get((section.id,)) or Figures()
        rows.append((section, figures, len(school_days) - marked_counts.get(section.id, 0)))
    total = sum((figures for _section, figures, _gap in rows), Figures())
    return SchoolAttendance(school, start, end, total, rows, len(school_days))


def marked_today(session: Session, section_ids: Sequence[int], day: date) -> set[int]:
    """Return the sections among `section_ids` whose register for `day` is saved."""
    if not section_ids:
        return set()
    return set(
        session.scalars(
            select(AttendanceDay.section_id).where(
                AttendanceDay.section_id.in_(list(section_ids)), AttendanceDay.day == day
            )
        )
    )


# The guardian's SMS on the first day of an absence.

# A register must rest this long after its last save before its absences are messaged, so
# a teacher who corrects a slip right away sends nothing.
ABSENCE_NOTICE_GRACE = timedelta(minutes=15)
NOTICE_CANCELLED = "cancelled: the absence was corrected before the message was sent"

ABSENCE_SUBJECT = _("absence_sms_subject", default="Absence from school")
ABSENCE_SMS = _(
    "absence_sms",
    default="${student} was absent from school today, ${date}. Please contact the school "
    "if you did not know. ${school}",
)


def notice_key(student_id: int, day: date) -> str:
    """Return the outbox key of a student's absence SMS of one day, so at most one a day goes out."""
    return f"absence:{student_id}:{day.isoformat()}:{Channel.SMS.value}"


def cancel_absence_notices(
    session: Session, student_ids: Sequence[int], day: date, now: datetime
) -> int:
    """Mark the pending absence SMS of these students for `day` as failed; return how many."""
    if not student_ids:
        return 0
    table = OutboxMessage.__table__
    result = session.execute(
        update(table)
        .where(
            table.c.key.in_([notice_key(student_id, day) for student_id in student_ids]),
            table.c.status == OutboxStatus.PENDING,
        )
        .values(
            status=OutboxStatus.FAILED,
            last_error=NOTICE_CANCELLED,
            claim_token=None,
            claimed_until=None,
        )
    )
    cancelled = result.rowcount or 0
    if cancelled:
        log.info("absence_notices_cancelled", extra={"count": cancelled, "day": day.isoformat()})
    return cancelled


@dataclass
class NoticeResult:
    schools: int = 0
    queued: int = 0
    revived: int = 0
    cancelled: int = 0
    without_phone: int = 0


def _notice_schools(session: Session, school_ids: Sequence[int] | None) -> list[OrgUnit]:
    query = (
        select(OrgUnit)
        .join(AttendanceOptions, AttendanceOptions.school_id == OrgUnit.id)
        .where(
            AttendanceOptions.notify_guardian_of_absence.is_(True),
            OrgUnit.is_active.is_(True),
        )
        .order_by(OrgUnit.id)
    )
    if school_ids is not None:
        query = query.where(OrgUnit.id.in_(list(school_ids)))
    return list(session.scalars(query))


def queue_absence_notices(
    session: Session, now: datetime, school_ids: Sequence[int] | None = None
) -> NoticeResult:
    """Queue an SMS to the guardian of each student absent today for the first day running.

    Only schools that switched the message on are covered, and only registers saved at
    least ABSENCE_NOTICE_GRACE before `now`. "First day" means the student was not marked
    absent on the school's previous school day (a day whose register was not saved counts
    as not absent). The message goes to the primary guardian's phone, else to the first
    guardian with a phone, in the guardian's language (Urdu unless they chose English), as
    a pending SMS that the delivery flow sends. Its key names (student, day), so a re-run
    queues nothing twice. A message cancelled by a correction is queued again only if the
    student is marked absent again.
    """
    result = NoticeResult()
    schools = _notice_schools(session, school_ids)
    result.schools = len(schools)
    if not schools:
        return result
    result.cancelled = _cancel_outdated_notices(session, schools, now)
    by_id = {school.id: school for school in schools}
    zone_today = {school.id: local_today(now, school.timezone) for school in schools}
    first_day = min(zone_today.values()) - timedelta(days=30)
    groups = school_day_groups(session, schools, first_day, max(zone_today.values()))
    absences: list[tuple[int, int, date]] = []  # (student, school, day)
    for group in groups:
        today = zone_today[group.school_ids[0]]
        if today not in group.days:
            continue
        position = group.days.index(today)
        previous = group.days[position - 1] if position > 0 else None
        absences += [
            (student_id, school_id, today)
            for student_id, school_id in _first_absences(
                session, group.school_ids, today, previous, now
            )
        ]
    if not absences:
        return result

    guardians = _guardians_with_phone(session, [student_id for student_id, _s, _d in absences])
    students = {
        student.id: student
        for student in session.scalars(
            select(Student).where(Student.id.in_([student_id for student_id, _s, _d in absences]))
        )
    }
    rows = []
    for student_id, school_id, day in absences:
        guardian = guardians.get(student_id)
        if guardian is None:
            result.without_phone += 1
            continue
        rows.append(_notice_row(students[student_id], by_id[school_id], guardian, day, now))
    keys = [row["key"] for row in rows]
    before = _existing_keys(session, keys)
    insert_ignore_rows(session, OutboxMessage.__table__, rows)
    result.queued = len(rows) - len(before)
    result.revived = _revive_cancelled(session, keys, now)
    if result.without_phone:
        log.warning(
            "absence_notices_without_phone",
            extra={"count": result.without_phone, "schools": len(schools)},
        )
    return result


def _first_absences(
    session: Session, school_ids: Sequence[int], today: date, previous: date | None, now: datetime
) -> list[tuple[int, int]]:
    """(student, school) of the students marked absent today and not on the previous school day."""
    earlier_day = aliased(AttendanceDay)
    earlier_mark = aliased(AttendanceMark)
    query = (
        select(AttendanceMark.student_id, Section.school_id)
        .join(AttendanceDay, AttendanceDay.id == AttendanceMark.attendance_day_id)
        .join(Section, Section.id == AttendanceDay.section_id)
        .where(
            Section.school_id.in_(list(school_ids)),
            AttendanceDay.day == today,
            AttendanceDay.marked_at <= now - ABSENCE_NOTICE_GRACE,
            AttendanceMark.status == ABSENT,
        )
        .order_by(AttendanceMark.student_id)
    )
    if previous is not None:
        query = query.where(
            ~exists().where(
                earlier_mark.attendance_day_id == earlier_day.id,
                earlier_mark.student_id == AttendanceMark.student_id,
                earlier_mark.status == ABSENT,
                earlier_day.day == previous,
            )
        )
    return [(student_id, school_id) for student_id, school_id in session.execute(query)]


def _guardians_with_phone(session: Session, student_ids: Sequence[int]) -> dict[int, Guardian]:
    """Choose each student's guardian to message: the primary one with a phone, else the first with one."""
    rows = session.execute(
        select(StudentGuardian.student_id, Guardian)
        .join(Guardian, Guardian.id == StudentGuardian.guardian_id)
        .where(StudentGuardian.student_id.in_(list(student_ids)), Guardian.phone.is_not(None))
        .order_by(StudentGuardian.student_id, StudentGuardian.is_primary.desc(), Guardian.id)
    ).all()
    chosen: dict[int, Guardian] = {}
    for student_id, guardian in rows:
        chosen.setdefault(student_id, guardian)
    return chosen


def _notice_row(
    student: Student, school: OrgUnit, guardian: Guardian, day: date, now: datetime
) -> dict:
    locale = guardian.preferred_locale or "ur"
    text = translate(
        TranslationString(
            ABSENCE_SMS,
            mapping={
                "student": student.name(locale),
                "date": day.strftime("%d/%m/%Y"),
                "school": school.name(locale),
            },
        ),
        locale,
    )
    return {
        "key": notice_key(student.id, day),
        "channel": Channel.SMS,
        "guardian_id": guardian.id,
        "address": guardian.phone,
        "locale": locale,
        "subject": translate(ABSENCE_SUBJECT, locale)[:300],
        "body": messaging._sms_text(text, ""),
        "link": "",
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "created_at": now,
    }


def _existing_keys(session: Session, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    return set(session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.in_(list(keys)))))


def _revive_cancelled(session: Session, keys: Sequence[str], now: datetime) -> int:
    """Queue again the messages a correction cancelled, for students absent once more."""
    if not keys:
        return 0
    table = OutboxMessage.__table__
    result = session.execute(
        update(table)
        .where(
            table.c.key.in_(list(keys)),
            table.c.status == OutboxStatus.FAILED,
            table.c.last_error == NOTICE_CANCELLED,
        )
        .values(status=OutboxStatus.PENDING, last_error="", next_attempt_at=now)
    )
    return result.rowcount or 0


def _cancel_outdated_notices(session: Session, schools: Sequence[OrgUnit], now: datetime) -> int:
    """Cancel pending absence SMS whose absence no longer holds.

    Saving a register cancels them already; this catches any other change, such as a
    closure announced for the day after the register was saved.
    """
    pending = (
        session.execute(
            select(OutboxMessage.key).where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.key.startswith("absence:", autoescape=True),
            )
        )
        .scalars()
        .all()
    )
    pending_by_pair: dict[tuple[int, date], str] = {}
    for key in pending:
        _prefix, student_id, day, _channel = key.split(":")
        pending_by_pair[(int(student_id), date.fromisoformat(day))] = key
    if not pending_by_pair:
        return 0
    # Only the students whose record these schools hold: another batch checks the others.
    ours = set(
        session.scalars(
            select(Student.id).where(
                Student.id.in_({student for student, _day in pending_by_pair}),
                Student.school_id.in_([school.id for school in schools]),
            )
        )
    )
    pending_by_pair = {pair: key for pair, key in pending_by_pair.items() if pair[0] in ours}
    if not pending_by_pair:
        return 0
    days = sorted({day for _student, day in pending_by_pair})
    holding = session.execute(
        select(AttendanceMark.student_id, AttendanceDay.day, Section.school_id)
        .join(AttendanceDay, AttendanceDay.id == AttendanceMark.attendance_day_id)
        .join(Section, Section.id == AttendanceDay.section_id)
        .where(
            AttendanceMark.student_id.in_({student for student, _day in pending_by_pair}),
            AttendanceDay.day.in_(days),
            AttendanceMark.status == ABSENT,
        )
    ).all()
    school_ids = {school_id for _s, _d, school_id in holding}
    units = list(session.scalars(select(OrgUnit).where(OrgUnit.id.in_(school_ids))))
    school_days = (
        {
            school_id: set(group.days)
            for group in school_day_groups(session, units, days[0], days[-1])
            for school_id in group.school_ids
        }
        if units
        else {}
    )
    still = {
        (student_id, day)
        for student_id, day, school_id in holding
        if day in school_days.get(school_id, set())
    }
    outdated = [key for pair, key in pending_by_pair.items() if pair not in still]
    if not outdated:
        return 0
    table = OutboxMessage.__table__
    result = session.execute(
        update(table)
        .where(table.c.key.in_(outdated), table.c.status == OutboxStatus.PENDING)
        .values(
            status=OutboxStatus.FAILED,
            last_error=NOTICE_CANCELLED,
            claim_token=None,
            claimed_until=None,
        )
    )
    return result.rowcount or 0


# Tasks of days that stopped being school days.


def cancel_tasks_of_days_off(
    session: Session, now: datetime, school_ids: Sequence[int] | None = None
) -> int:
    """Cancel pending daily attendance tasks of days that a later holiday or closure took away.

    The engine would move such a task's due date to the next school day. A register cannot
    be marked on a day off, so the task is cancelled instead. Tasks of the last 60 days are
    checked.
    """
    horizon = local_today(now) - timedelta(days=60)
    query = select(Task).where(
        Task.kind == CycleKind.DAILY_ATTENDANCE,
        Task.state.in_(PENDING_STATES),
        Task.opens_on >= horizon,
    )
    if school_ids is not None:
        query = query.where(Task.school_id.in_(list(school_ids)))
    pending = list(session.scalars(query))
    if not pending:
        return 0
    units = list(
        session.scalars(select(OrgUnit).where(OrgUnit.id.in_({t.school_id for t in pending})))
    )
    start = min(task.opens_on for task in pending)
    end = max(task.opens_on for task in pending)
    school_days = {
        school_id: set(group.days)
        for group in school_day_groups(session, units, start, end)
        for school_id in group.school_ids
    }
    cancelled = 0
    for task in pending:
        if task.opens_on in school_days.get(task.school_id, set()):
            continue
        tasks.cancel_task(
            session,
            task,
            actor=Actor.system(),
            now=now,
            comment="The day is no longer a school day: a holiday or closure was added.",
        )
        cancelled += 1
    return cancelled
