"""Cycle definitions and runs, and the generation of their tasks with set-based SQL.

The daily calendar tick opens the runs the calendar calls for and generates the tasks of
a batch of schools with one `INSERT ... SELECT ... ON CONFLICT DO NOTHING`, so running it
twice, or after a crash halfway, leaves exactly the tasks of one clean run.
"""

import bisect
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    case,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spets.i18n import _
from spets.models import (
    PENDING_STATES,
    AcademicYear,
    AssigneeRule,
    AuditAction,
    CycleDefinition,
    CycleKind,
    CycleRun,
    CycleRunStatus,
    CycleTrigger,
    ExamWindow,
    OrgKind,
    OrgUnit,
    Quarter,
    Section,
    StepKind,
    Task,
    TaskSchedule,
    TaskScheduleStep,
    TaskState,
    TeachingAssignment,
)
from spets.services import audit
from spets.services.audit import Actor
from spets.services.bulk import insert_ignore_rows, insert_ignore_select
from spets.services.calendar import local_today
from spets.services.errors import InvalidInput
from spets.services.org import check_version
from spets.services.schedules import TenantCalendar, first_step_after, get_or_create_schedule

log = logging.getLogger(__name__)

ESCALATION_ROLES = ("head_teacher", "aeo", "deo", "ceo", "district_health_officer")
DEFINITION_FIELDS = (
    "name_en",
    "name_ur",
    "due_after_school_days",
    "reminder_offsets",
    "reminder_hour",
    "escalation_days",
    "escalation_roles",
    "signoff_role",
    "is_active",
)

# The quarterly feedback cycle of a new tenant: ten school days to fill the feedback,
# reminders three days before and on the due date, then the head teacher, the AEO three
# school days later and the DEO after six.
DEFAULT_FEEDBACK = {
    "name_en": "Quarterly subject feedback",
    "name_ur": "سہ ماہی مضمون وار رائے",
    "opens_with": CycleTrigger.QUARTER_START,
    "assignee_rule": AssigneeRule.SUBJECT_TEACHER,
    "due_after_school_days": 10,
    "reminder_offsets": [-3, 0],
    "reminder_hour": 8,
    "escalation_days": [0, 3, 6],
    "escalation_roles": ["head_teacher", "aeo", "deo"],
    "signoff_role": "head_teacher",
}


# Definitions.


def validate_definition(values: dict) -> None:
    """Raise InvalidInput naming each impossible offset, before the definition is saved."""
    errors: dict[str, object] = {}
    due = values["due_after_school_days"]
    if due < 0:
        errors["due_after_school_days"] = _(
            "due_before_opening",
            default="The due date cannot come before the task opens: use 0 or more school days.",
        )
    for offset in values["reminder_offsets"]:
        if offset > 0:
            errors["reminder_offsets"] = _(
                "reminder_after_due",
                default="A reminder ${offset} school days after the due date would come after the "
                "first escalation; reminders go on or before the due date (0 or less).",
                mapping={"offset": offset},
            )
        elif due >= 0 and offset < -due:
            errors["reminder_offsets"] = _(
                "reminder_before_opening",
                default="A reminder ${days} school days before the due date would come before the task "
                "opens, only ${due} school days earlier.",
                mapping={"days": -offset, "due": due},
            )
    if len(set(values["reminder_offsets"])) != len(values["reminder_offsets"]):
        errors["reminder_offsets"] = _(
            "reminder_repeated", default="Each reminder day may appear once."
        )

    days, roles = values["escalation_days"], values["escalation_roles"]
    if not days:
        errors["escalation_days"] = _(
            "escalation_needed", default="Give at least one escalation level."
        )
    elif days[0] < 0:
        errors["escalation_days"] = _(
            "escalation_before_due",
            default="An escalation cannot fire before the due date: the first level needs 0 or more.",
        )
    elif any(later <= earlier for earlier, later in zip(days, days[1:], strict=False)):
        errors["escalation_days"] = _(
            "escalation_not_increasing",
            default="Each escalation level must fire later than the one before: ${days} is not increasing.",
            mapping={"days": ", ".join(map(str, days))},
        )
    if len(roles) != len(days):
        errors["escalation_roles"] = _(
            "escalation_roles_count",
            default="Give one role for each of the ${count} escalation levels.",
            mapping={"count": len(days)},
        )
    unknown = [role for role in roles if role not in ESCALATION_ROLES]
    if unknown:
        errors["escalation_roles"] = _(
            "escalation_role_unknown",
            default="Unknown role ${roles}; use head_teacher, aeo, deo, ceo or district_health_officer.",
            mapping={"roles": ", ".join(unknown)},
        )
    if not 0 <= values.get("reminder_hour", 8) <= 23:
        errors["reminder_hour"] = _("reminder_hour_range", default="The hour must be from 0 to 23.")
    if errors:
        raise InvalidInput(
            _("definition_invalid", default="The cycle cannot be saved with these offsets."), errors
        )


def save_definition(
    session: Session,
    *,
    org_unit: OrgUnit,
    kind: CycleKind,
    definition: CycleDefinition | None,
    values: dict,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> CycleDefinition:
    validate_definition(values)
    if definition is None:
        definition = CycleDefinition(
            tenant_id=org_unit.tenant_id or org_unit.id,
            org_unit_id=org_unit.id,
            kind=kind,
            opens_with=values.get("opens_with", CycleTrigger.QUARTER_START),
            assignee_rule=values.get("assignee_rule", AssigneeRule.SUBJECT_TEACHER),
        )
        session.add(definition)
        before: dict = {}
        action = AuditAction.CREATE
    else:
        check_version(definition, version, values, DEFINITION_FIELDS)
        before = audit.snapshot(definition, DEFINITION_FIELDS)
        action = AuditAction.UPDATE
    for name in DEFINITION_FIELDS:
        if name in values:
            setattr(definition, name, values[name])
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="cycle_definition",
        entity_id=definition.id,
        org_unit_id=org_unit.id,
        now=now,
        changes=audit.diff(before, audit.snapshot(definition, DEFINITION_FIELDS)),
    )
    return definition


# The result-entry cycle of a new tenant: when an exam window closes, each subject teacher
# enters the section's marks within six school days; reminders two days before and on the
# due date, then the same ladder as feedback.
DEFAULT_RESULT_ENTRY = {
    "name_en": "Result entry",
    "name_ur": "نتائج کا اندراج",
    "opens_with": CycleTrigger.EXAM_WINDOW_END,
    "assignee_rule": AssigneeRule.SUBJECT_TEACHER,
    "due_after_school_days": 6,
    "reminder_offsets": [-2, 0],
    "reminder_hour": 8,
    "escalation_days": [0, 2, 5],
    "escalation_roles": ["head_teacher", "aeo", "deo"],
    "signoff_role": "head_teacher",
}

# How long after an exam window closes a missed tick still opens its result entry, and how
# long the run stays open.
RESULT_ENTRY_LOOKBACK_DAYS = 45
RESULT_ENTRY_RUN_DAYS = 60


def add_result_entry_definition(
    session: Session, tenant: OrgUnit, *, actor: Actor, now: datetime
) -> CycleDefinition:
    return save_definition(
        session,
        org_unit=tenant,
        kind=CycleKind.RESULT_ENTRY,
        definition=None,
        values=dict(DEFAULT_RESULT_ENTRY),
        version=None,
        actor=actor,
        now=now,
    )


def add_default_definitions(
    session: Session, tenant: OrgUnit, *, actor: Actor, now: datetime
) -> CycleDefinition:
    return save_definition(
        session,
        org_unit=tenant,
        kind=CycleKind.QUARTERLY_FEEDBACK,
        definition=None,
        values=dict(DEFAULT_FEEDBACK),
        version=None,
        actor=actor,
        now=now,
    )


# Runs.


@dataclass(frozen=True)
class Period:
    key: str
    label_en: str
    label_ur: str
    academic_year_id: int
    quarter_id: int | None
    opens_on: date
    closes_on: date
    exam_window_id: int | None = None


def due_periods(session: Session, definition: CycleDefinition, today: date) -> list[Period]:
    """Return the periods whose run should be open on `today` (a missed day is caught up)."""
    if definition.opens_with == CycleTrigger.EXAM_WINDOW_END:
        return _closed_exam_windows(session, definition, today)
    if definition.opens_with in (
        CycleTrigger.SCHOOL_DAY,
        CycleTrigger.MONTH_START,
        CycleTrigger.YEAR_START,
    ):
        return _calendar_periods(session, definition, today)
    if definition.opens_with != CycleTrigger.QUARTER_START:
        return []
    rows = session.execute(
        select(Quarter, AcademicYear)
        .join(AcademicYear, AcademicYear.id == Quarter.academic_year_id)
        .where(
            AcademicYear.tenant_id == definition.tenant_id,
            Quarter.starts_on <= today,
            Quarter.ends_on >= today,
        )
    ).all()
    return [
        Period(
            key=f"{year.label}/Q{quarter.number}",
            label_en=f"Quarter {quarter.number}, {year.label}",
            label_ur=f"سہ ماہی {quarter.number}، {year.label}",
            academic_year_id=year.id,
            quarter_id=quarter.id,
            opens_on=quarter.starts_on,
            closes_on=quarter.ends_on,
        )
        for quarter, year in rows
    ]


def _calendar_periods(session: Session, definition: CycleDefinition, today: date) -> list[Period]:
    """Today's day, month or academic year as a period, when today lies in an academic year.

    A school for which today is no school day gets no task from a daily period: the
    generation skips a school whose first school day in the period is later than today.
    """
    year = session.scalar(
        select(AcademicYear).where(
            AcademicYear.tenant_id == definition.tenant_id,
            AcademicYear.starts_on <= today,
            AcademicYear.ends_on >= today,
        )
    )
    if year is None:
        return []
    if definition.opens_with == CycleTrigger.SCHOOL_DAY:
        key, starts, ends = f"{year.label}/day-{today.isoformat()}", today, today
        label_en, label_ur = today.strftime("%d/%m/%Y"), today.strftime("%d/%m/%Y")
    elif definition.opens_with == CycleTrigger.MONTH_START:
        starts = today.replace(day=1)
        ends = (starts + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        key = f"{year.label}/month-{starts:%Y-%m}"
        label_en, label_ur = starts.strftime("%B %Y"), starts.strftime("%m/%Y")
    else:
        key, starts, ends = f"{year.label}/year", year.starts_on, year.ends_on
        label_en, label_ur = year.label, year.label
    return [Period(key, label_en, label_ur, year.id, None, starts, ends)]


def _closed_exam_windows(
    session: Session, definition: CycleDefinition, today: date
) -> list[Period]:
    """Exam windows that closed before `today`, within the look-back: each opens a result entry."""
    rows = session.execute(
        select(ExamWindow, AcademicYear)
        .join(AcademicYear, AcademicYear.id == ExamWindow.academic_year_id)
        .where(
            AcademicYear.tenant_id == definition.tenant_id,
            ExamWindow.ends_on < today,
            ExamWindow.ends_on >= today - timedelta(days=RESULT_ENTRY_LOOKBACK_DAYS),
        )
    ).all()
    return [
        Period(
            key=f"{year.label}/exam-{window.id}",
            label_en=f"{window.name_en}, {year.label}",
            label_ur=f"{window.name_ur}، {year.label}",
            academic_year_id=year.id,
            quarter_id=None,
            opens_on=window.ends_on + timedelta(days=1),
            closes_on=window.ends_on + timedelta(days=RESULT_ENTRY_RUN_DAYS),
            exam_window_id=window.id,
        )
        for window, year in rows
    ]


def open_run(
    session: Session, definition: CycleDefinition, period: Period, now: datetime
) -> CycleRun:
    """Return the run of the period, creating it once."""
    run = session.scalar(
        select(CycleRun).where(
            CycleRun.definition_id == definition.id, CycleRun.period_key == period.key
        )
    )
    if run is not None:
        return run
    run = CycleRun(
        definition_id=definition.id,
        period_key=period.key,
        label_en=period.label_en,
        label_ur=period.label_ur,
        academic_year_id=period.academic_year_id,
        quarter_id=period.quarter_id,
        exam_window_id=period.exam_window_id,
        opens_on=period.opens_on,
        closes_on=period.closes_on,
        status=CycleRunStatus.OPEN,
        created_at=now,
    )
    session.add(run)
    session.flush()
    log.info(
        "cycle_run_opened",
        extra={"run_id": run.id, "definition_id": definition.id, "period": period.key},
    )
    return run


def close_finished_runs(session: Session, today: date) -> int:
    """Mark runs whose period has ended as closed; their pending tasks still escalate."""
    runs = session.scalars(
        select(CycleRun).where(CycleRun.status == CycleRunStatus.OPEN, CycleRun.closes_on < today)
    ).all()
    for run in runs:
        run.status = CycleRunStatus.CLOSED
    session.flush()
    return len(runs)


def active_definitions(session: Session) -> list[CycleDefinition]:
    return list(
        session.scalars(
            select(CycleDefinition)
            .where(CycleDefinition.is_active.is_(True))
            .order_by(CycleDefinition.id)
        )
    )


def schools_of_definition(
    session: Session,
    definition: CycleDefinition,
    id_range: tuple[int, int] | None = None,
) -> list[tuple[int, str]]:
    """Return (id, path) of the active schools the definition covers, in the order of their ids.

    A school below a more specific definition of the same kind belongs to that one.
    `id_range` (first, last) keeps the schools whose ids lie between the two, both included.
    """
    unit = session.get(OrgUnit, definition.org_unit_id)
    nested = session.scalars(
        select(OrgUnit.path)
        .join(CycleDefinition, CycleDefinition.org_unit_id == OrgUnit.id)
        .where(
            CycleDefinition.kind == definition.kind,
            CycleDefinition.id != definition.id,
            CycleDefinition.is_active.is_(True),
            OrgUnit.path.startswith(unit.path, autoescape=True),
            OrgUnit.path != unit.path,
        )
    ).all()
    query = select(OrgUnit.id, OrgUnit.path).where(
        OrgUnit.kind == OrgKind.SCHOOL,
        OrgUnit.is_active.is_(True),
        OrgUnit.path.startswith(unit.path, autoescape=True),
    )
    if id_range is not None:
        query = query.where(OrgUnit.id.between(*id_range))
    rows = session.execute(query.order_by(OrgUnit.id)).all()
    return [
        (school_id, path) for school_id, path in rows if not any(path.startswith(n) for n in nested)
    ]


# Task generation.


@dataclass
class GenerationResult:
    created: int = 0
    cancelled: int = 0
    schools: int = 0


def generate_tasks(
    session: Session,
    run: CycleRun,
    schools: Sequence[tuple[int, str]],
    now: datetime,
    calendar: TenantCalendar | None = None,
) -> GenerationResult:
    """Create the missing tasks of `run` for a batch of schools whose tasks are due to open.

    Each school's tasks open on its first school day on or after the run's opening; a
    teaching assignment that starts later opens on its own first school day.
    """
    definition = session.get(CycleDefinition, run.definition_id)
    tenant = session.get(OrgUnit, definition.tenant_id)
    zone_today = local_today(now, tenant.timezone)
    calendar = calendar or TenantCalendar.load(session, tenant, run.opens_on)
    result = GenerationResult(schools=len(schools))
    cache: dict = {}

    later_starts = _later_starts(
        session, run, [school_id for school_id, _path in schools], zone_today
    )
    rows = []
    for school_id, path in schools:
        signature, days = calendar.school_days(path)
        first_day = _first_school_day(days, run.opens_on)
        if first_day is None or first_day > zone_today:
            continue  # the school's first school day of the period has not come yet
        starts = [start for start in later_starts.get(school_id, ()) if start > first_day]
        for opening in _openings(first_day, starts, days, zone_today):
            schedule = get_or_create_schedule(
                session, definition, opening.opens_on, signature, days, calendar.zone, now, cache
            )
            rows.append((school_id, opening, schedule))
    if rows:
        result.created = _insert_tasks(session, run, definition, rows, now)
    result.cancelled = _cancel_ended_assignments(
        session, run, [school_id for school_id, _path in schools], zone_today, now
    )
    return result


def _first_school_day(days: tuple[date, ...], on_or_after: date) -> date | None:
    position = bisect.bisect_left(days, on_or_after)
    return days[position] if position < len(days) else None


def _later_starts(
    session: Session, run: CycleRun, school_ids: list[int], today: date
) -> dict[int, list[date]]:
    """Start dates of teaching assignments that began after the run opened, per school, in one query."""
    rows = session.execute(
        select(Section.school_id, TeachingAssignment.valid_from)
        .join(Section, Section.id == TeachingAssignment.section_id)
        .where(
            Section.school_id.in_(school_ids),
            Section.academic_year_id == run.academic_year_id,
            TeachingAssignment.valid_from > run.opens_on,
            TeachingAssignment.valid_from <= today,
        )
        .distinct()
    ).all()
    starts: dict[int, list[date]] = {}
    for school_id, valid_from in rows:
        starts.setdefault(school_id, []).append(valid_from)
    return starts


@dataclass(frozen=True)
class Opening:
    """Tasks of assignments that started in (started_after, started_until] open on `opens_on`."""

    opens_on: date
    started_after: date
    started_until: date


def _openings(
    first_day: date, later_starts: list[date], days: tuple[date, ...], today: date
) -> list[Opening]:
    """The school's regular opening, plus one for each later start of a teaching assignment."""
    later_days = {_first_school_day(days, start) for start in later_starts}
    opening_days = sorted({first_day} | {day for day in later_days if day and day <= today})
    openings = []
    previous = date.min
    for day in opening_days:
        openings.append(Opening(day, previous, day))
        previous = day
    return openings


def _insert_tasks(
    session: Session, run: CycleRun, definition: CycleDefinition, rows, now: datetime
) -> int:
    """One INSERT ... SELECT per distinct (opening, schedule) of the batch, schools bound as a list.

    Schools that share a calendar share their opening and schedule, so a batch of a region
    is usually one statement whatever its size.
    """
    schools_by_opening: dict[tuple[Opening, int], list[int]] = {}
    schedules = {}
    for school_id, opening, schedule in rows:
        schedules[schedule.id] = schedule
        schools_by_opening.setdefault((opening, schedule.id), []).append(school_id)

    created = 0
    for (opening, schedule_id), school_ids in schools_by_opening.items():
        shared = _SharedValues.of(opening, schedules[schedule_id])
        if definition.assignee_rule == AssigneeRule.CLASS_TEACHER:
            source = _class_teacher_source(run, definition, shared, school_ids, now)
        else:
            source = _teaching_assignment_source(run, definition, shared, school_ids, now)
        if source is not None:
            created += _insert_source(session, source)
    return created


@dataclass(frozen=True)
class _SharedValues:
    """The opening and schedule columns of one group of tasks, as bound literals."""

    opening: Opening
    schedule_id: object
    due_on: object
    due_at: object
    next_reminder_at: object
    next_escalation_at: object

    @classmethod
    def of(cls, opening: Opening, schedule) -> "_SharedValues":
        stamp = DateTime(timezone=True)
        return cls(
            opening,
            literal(schedule.id, Integer),
            literal(schedule.due_on, Date),
            literal(schedule.due_at, stamp),
            literal(first_step_after(schedule, StepKind.REMINDER), stamp),
            literal(first_step_after(schedule, StepKind.ESCALATION), stamp),
        )


def _insert_source(session: Session, source) -> int:
    """Insert the group's tasks, skipping those that exist; return how many were added.

    The first opening of a run meets no existing task, so a plain INSERT is tried first:
    ON CONFLICT makes PostgreSQL insert every row speculatively, which measured several
    times slower on a generated region. A re-run of the day (or a race with another tick)
    hits the unique key, and the savepoint lets the group go again with ON CONFLICT. Asking
    first whether tasks exist cost more: with a run's rows still uncounted by ANALYZE,
    PostgreSQL answered it by reading every task of the run for each batch.
    """
    statement = (
        insert(Task).from_select(TASK_COLUMNS, source).execution_options(preserve_rowcount=True)
    )
    try:
        with session.begin_nested():
            return max(session.execute(statement).rowcount or 0, 0)
    except IntegrityError:
        return insert_ignore_select(session, Task.__table__, TASK_COLUMNS, source)


def _task_values(shared: _SharedValues, now: datetime) -> list:
    """The columns every generated task shares, after its target columns."""
    return [
        literal(shared.opening.opens_on, Date),
        shared.due_on,
        shared.due_at,
        literal(TaskState.OPEN.value),
        literal(0, Integer),
        literal(0, Integer),
        shared.next_reminder_at,
        shared.next_escalation_at,
        literal(False),
        literal(""),
        literal(now, DateTime(timezone=True)),
        literal(1, Integer),
    ]


def _class_teacher_source(run, definition, shared, school_ids, now):
    """One task per section that has a class teacher, assigned to them."""
    if shared.opening.started_after != date.min:
        return None  # sections have no start date of their own: they join the regular opening
    return select(
        literal(run.id, Integer),
        shared.schedule_id,
        literal(definition.kind.value),
        literal("section"),
        Section.id,
        Section.school_id,
        Section.id,
        literal(None, Integer),
        Section.class_teacher_id,
        *_task_values(shared, now),
    ).where(
        Section.school_id.in_(school_ids),
        Section.academic_year_id == run.academic_year_id,
        Section.class_teacher_id.is_not(None),
    )


def _teaching_assignment_source(run, definition, shared, school_ids, now):
    """One task per teaching assignment (teacher, section, subject), assigned to the teacher."""
    assignment = TeachingAssignment
    opening = shared.opening
    return (
        select(
            literal(run.id, Integer),
            shared.schedule_id,
            literal(definition.kind.value),
            literal("teaching_assignment"),
            assignment.id,
            Section.school_id,
            Section.id,
            assignment.subject_id,
            assignment.teacher_id,
            *_task_values(shared, now),
        )
        .select_from(assignment)
        .join(Section, Section.id == assignment.section_id)
        .where(
            Section.school_id.in_(school_ids),
            Section.academic_year_id == run.academic_year_id,
            assignment.valid_from > opening.started_after,
            assignment.valid_from <= opening.started_until,
            or_(assignment.valid_to.is_(None), assignment.valid_to >= opening.opens_on),
        )
    )


TASK_COLUMNS = [
    "cycle_run_id",
    "schedule_id",
    "kind",
    "target_type",
    "target_id",
    "school_id",
    "section_id",
    "subject_id",
    "assignee_id",
    "opens_on",
    "due_on",
    "due_at",
    "state",
    "escalation_level",
    "reminders_sent",
    "next_reminder_at",
    "next_escalation_at",
    "submitted_late",
    "comment",
    "created_at",
    "version",
]


def _cancel_ended_assignments(
    session: Session, run: CycleRun, school_ids: list[int], today: date, now: datetime
) -> int:
    """Cancel pending tasks whose teaching assignment ended; the new teacher gets a new task."""
    from spets.services.tasks import cancel_task

    # Ended assignments are few: find them first, so the tasks are read by their own keys.
    ended = session.execute(
        select(TeachingAssignment.id, Section.school_id)
        .join(Section, Section.id == TeachingAssignment.section_id)
        .where(
            Section.school_id.in_(school_ids),
            Section.academic_year_id == run.academic_year_id,
            TeachingAssignment.valid_to < today,
        )
    ).all()
    if not ended:
        return 0
    tasks = session.scalars(
        select(Task).where(
            Task.cycle_run_id == run.id,
            Task.school_id.in_({school_id for _id, school_id in ended}),
            Task.target_type == "teaching_assignment",
            Task.target_id.in_([assignment_id for assignment_id, _school in ended]),
            Task.state.in_(PENDING_STATES),
        )
    ).all()
    for task in tasks:
        cancel_task(
            session, task, actor=Actor.system(), now=now, comment="The teaching assignment ended."
        )
    return len(tasks)


# The daily tick.


@dataclass
class TickResult:
    runs_opened: int = 0
    runs_closed: int = 0
    tasks_created: int = 0
    tasks_cancelled: int = 0


def tick(session: Session, now: datetime, batch_size: int = 500) -> TickResult:
    """Open and close runs as the calendar says and generate their tasks, school batch by batch."""
    result = TickResult()
    for definition in active_definitions(session):
        tenant = session.get(OrgUnit, definition.tenant_id)
        today = local_today(now, tenant.timezone)
        for period in due_periods(session, definition, today):
            existed = session.scalar(
                select(CycleRun.id).where(
                    CycleRun.definition_id == definition.id, CycleRun.period_key == period.key
                )
            )
            run = open_run(session, definition, period, now)
            result.runs_opened += 0 if existed else 1
            schools = schools_of_definition(session, definition)
            calendar = TenantCalendar.load(session, tenant, run.opens_on)
            for start in range(0, len(schools), batch_size):
                generated = generate_tasks(
                    session, run, schools[start : start + batch_size], now, calendar
                )
                result.tasks_created += generated.created
                result.tasks_cancelled += generated.cancelled
        result.runs_closed += close_finished_runs(session, today)
    return result


def school_batches(schools: Sequence[tuple[int, str]], size: int) -> list[list[tuple[int, str]]]:
    return [list(schools[i : i + size]) for i in range(0, len(schools), size)]


# Calendar changes.


def reschedule_after_calendar_change(session: Session, unit: OrgUnit, now: datetime) -> int:
    """Recompute the schedules of pending tasks in a unit's subtree; return how many moved.

    Called after a holiday or closure is added, changed or removed, so a closure announced
    late pushes the due dates of open tasks by the school days it takes away. The tasks of
    all schools that move from one schedule to the same new one move in one UPDATE, so a
    province-wide holiday costs a statement per pair of schedules, not one per task.
    """
    groups = session.execute(
        select(Task.schedule_id, Task.opens_on, Task.school_id, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == Task.school_id)
        .where(Task.state.in_(PENDING_STATES), OrgUnit.path.startswith(unit.path, autoescape=True))
        .distinct()
        .order_by(Task.school_id)
    ).all()

    moves: dict[tuple[int, int], list[int]] = {}
    calendars: dict[int, TenantCalendar] = {}
    cache: dict = {}
    for old_schedule_id, opens_on, school_id, path in groups:
        definition = session.get(
            CycleDefinition, session.get(TaskSchedule, old_schedule_id).definition_id
        )
        tenant_id = definition.tenant_id
        if tenant_id not in calendars:
            tenant = session.get(OrgUnit, tenant_id)
            calendars[tenant_id] = TenantCalendar.load(session, tenant, opens_on)
        calendar = calendars[tenant_id]
        signature, days = calendar.school_days(path)
        schedule = get_or_create_schedule(
            session, definition, opens_on, signature, days, calendar.zone, now, cache
        )
        if schedule.id != old_schedule_id:
            moves.setdefault((old_schedule_id, schedule.id), []).append(school_id)

    moved = 0
    for (old_schedule_id, new_schedule_id), school_ids in moves.items():
        old = session.get(TaskSchedule, old_schedule_id)
        new = session.get(TaskSchedule, new_schedule_id)
        count = _move_tasks(session, old_schedule_id, new, school_ids)
        moved += count if new.due_on != old.due_on else 0
    return moved


def move_task(task: Task, schedule: TaskSchedule, now: datetime) -> None:
    """Attach one task to a new schedule, keeping the reminders and escalations already sent."""
    task.schedule_id = schedule.id
    task.due_on = schedule.due_on
    task.due_at = schedule.due_at
    reminders = [
        s for s in schedule.steps if s.kind == StepKind.REMINDER and s.number > task.reminders_sent
    ]
    escalations = [
        s
        for s in schedule.steps
        if s.kind == StepKind.ESCALATION and s.number > task.escalation_level
    ]
    task.next_reminder_at = min((s.at for s in reminders), default=None)
    task.next_escalation_at = min((s.at for s in escalations), default=None)


def _next_step_case(counter, steps: list[TaskScheduleStep]):
    """SQL for the first step after those already done, `counter` being how many are done.

    Reminders and escalation levels already sent are kept: a task that had its first
    reminder waits for the second one of its new schedule.
    """
    numbers = sorted({step.number for step in steps})
    whens = [
        (counter < number, min(step.at for step in steps if step.number >= number))
        for number in numbers
    ]
    return case(*whens, else_=null()) if whens else null()


def _move_tasks(
    session: Session, old_schedule_id: int, schedule: TaskSchedule, school_ids: list[int]
) -> int:
    """Attach the schools' pending tasks of one schedule to another; return how many moved."""
    reminders = [step for step in schedule.steps if step.kind == StepKind.REMINDER]
    escalations = [step for step in schedule.steps if step.kind == StepKind.ESCALATION]
    result = session.execute(
        update(Task)
        .where(
            Task.schedule_id == old_schedule_id,
            Task.school_id.in_(school_ids),
            Task.state.in_(PENDING_STATES),
        )
        .values(
            schedule_id=schedule.id,
            due_on=schedule.due_on,
            due_at=schedule.due_at,
            next_reminder_at=_next_step_case(Task.reminders_sent, reminders),
            next_escalation_at=_next_step_case(Task.escalation_level, escalations),
            version=Task.version + 1,
        )
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount


# Tasks opened one by one for a record: a plan's review, a referral's follow-up.


def definition_for(session: Session, kind: CycleKind, school: OrgUnit) -> CycleDefinition | None:
    """The active definition of `kind` nearest above the school (its own, else a parent's)."""
    candidates = session.scalars(
        select(CycleDefinition).where(
            CycleDefinition.kind == kind,
            CycleDefinition.is_active.is_(True),
            CycleDefinition.org_unit_id.in_(school.ancestor_ids),
        )
    ).all()
    if not candidates:
        return None
    depth = {unit_id: position for position, unit_id in enumerate(school.ancestor_ids)}
    return max(candidates, key=lambda definition: depth[definition.org_unit_id])


def record_run(session: Session, definition: CycleDefinition, day: date, now: datetime) -> CycleRun:
    """The run that holds a definition's per-record tasks for the academic year of `day`."""
    year = session.scalar(
        select(AcademicYear).where(
            AcademicYear.tenant_id == definition.tenant_id,
            AcademicYear.starts_on <= day,
            AcademicYear.ends_on >= day,
        )
    )
    if year is None:
        raise InvalidInput(
            _(
                "no_year_for_day",
                default="No academic year covers ${date}; add it to the calendar first.",
                mapping={"date": day.strftime("%d/%m/%Y")},
            )
        )
    period = Period(
        key=f"{year.label}/records",
        label_en=f"{definition.name_en}, {year.label}",
        label_ur=f"{definition.name_ur}، {year.label}",
        academic_year_id=year.id,
        quarter_id=None,
        opens_on=year.starts_on,
        closes_on=year.ends_on,
    )
    return open_run(session, definition, period, now)


def open_record_task(
    session: Session,
    *,
    kind: CycleKind,
    target_type: str,
    target_id: int,
    school: OrgUnit,
    assignee_id: int,
    opens_on: date,
    now: datetime,
    section_id: int | None = None,
    subject_id: int | None = None,
) -> Task:
    """Open the task of one record on the engine, once; return it (the existing one on a repeat).

    Its due date, reminders and escalation follow the cycle definition of `kind` that
    applies to the school, counted in the school's own school days from `opens_on`.
    """
    definition = definition_for(session, kind, school)
    if definition is None:
        raise InvalidInput(
            _(
                "no_cycle_definition",
                default="No cycle is set up for ${kind} at this school; an administrator must add it.",
                mapping={"kind": kind.value},
            )
        )
    run = record_run(session, definition, opens_on, now)
    tenant = session.get(OrgUnit, definition.tenant_id)
    calendar = TenantCalendar.load(session, tenant, opens_on)
    signature, days = calendar.school_days(school.path)
    opening = _first_school_day(days, opens_on) or opens_on
    schedule = get_or_create_schedule(
        session, definition, opening, signature, days, calendar.zone, now
    )
    insert_ignore_rows(
        session,
        Task.__table__,
        [
            {
                "cycle_run_id": run.id,
                "schedule_id": schedule.id,
                "kind": kind,
                "target_type": target_type,
                "target_id": target_id,
                "school_id": school.id,
                "section_id": section_id,
                "subject_id": subject_id,
                "assignee_id": assignee_id,
                "opens_on": opening,
                "due_on": schedule.due_on,
                "due_at": schedule.due_at,
                "state": TaskState.OPEN,
                "escalation_level": 0,
                "reminders_sent": 0,
                "next_reminder_at": first_step_after(schedule, StepKind.REMINDER),
                "next_escalation_at": first_step_after(schedule, StepKind.ESCALATION),
                "submitted_late": False,
                "comment": "",
                "created_at": now,
                "version": 1,
            }
        ],
    )
    return session.scalar(
        select(Task).where(
            Task.cycle_run_id == run.id,
            Task.target_type == target_type,
            Task.target_id == target_id,
        )
    )
