"""Demo attendance and behaviour: registers from the UCI absences, rubrics, incidents, flags, plans.

Every register of the demo school from the first school day of the current academic year
to the day before the load is saved, with each student's UCI `absences` spread over those
days. Today's registers are left for the class teachers, whose daily tasks open at the
load. Monthly rubrics of the months that have ended, a few incidents, the early-warning
flags and two intervention plans follow from the same data. The rules and their seeds
are documented in data/README.md; the same data and day give the same demo.
"""

import csv
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from spets.models import (
    AttendanceDay,
    AttendanceMark,
    AttendanceOptions,
    AttendanceStatus,
    BehaviourRubric,
    CycleDefinition,
    CycleKind,
    EarlyWarningFlag,
    Enrollment,
    FlagArea,
    FlagLevel,
    IncidentKind,
    OrgKind,
    OrgUnit,
    Role,
    Section,
    Student,
)
from spets.services import attendance, behaviour, calendar, cycles, plans, tasks, warnings
from spets.services.audit import Actor
from spets.services.bulk import insert_ignore_rows

SEED = 20084
SYSTEM = Actor.system()
# How long before the load the first plan started, and its first review after that.
PLAN_STARTED_DAYS_AGO = 35
FIRST_REVIEW_AFTER_DAYS = 14
# The share of rubric areas that move a level up or down from one month to the next.
RUBRIC_CHANGE_SHARE = 0.15


@dataclass
class AttendanceDemoSummary:
    school_days: int = 0
    registers: int = 0
    absences: int = 0
    lates: int = 0
    leaves: int = 0
    rubrics: int = 0
    incidents: int = 0
    flags: dict[str, int] = field(default_factory=dict)
    plans: int = 0
    tasks_opened: int = 0


def _local(day: date, hour: int, minute: int, zone: str) -> datetime:
    return datetime.combine(day, time(hour, minute), ZoneInfo(zone)).astimezone(UTC)


def uci_rows() -> dict[str, dict]:
    """Map each demo student's admission number to their UCI row, as `demo.load` numbers them."""
    from spets.demo.load import DATA, _grade_for_age

    with (DATA / "student-por.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    by_grade: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_grade[_grade_for_age(int(row["age"]))].append(row)
    found = {}
    admission = 1000
    for grade in sorted(by_grade):
        for row in by_grade[grade]:
            admission += 1
            found[str(admission)] = row
    return found


def spread(count: int, days: list[date], rng: random.Random) -> list[date]:
    """Pick `count` of the days in spells of one to three days running, as absences come."""
    count = min(count, len(days))
    chosen: set[int] = set()
    while len(chosen) < count:
        length = min(rng.choice((1, 1, 1, 2, 2, 3)), count - len(chosen))
        start = rng.randrange(len(days))
        for position in range(start, min(start + length, len(days))):
            chosen.add(position)
    return sorted(days[position] for position in chosen)[:count] if chosen else []


def late_days(row: dict) -> int:
    """Synthetic: students who live far come late now and then (the data has no lateness)."""
    return {3: 2, 4: 5}.get(int(row["traveltime"]), 0)


def leave_days(row: dict) -> int:
    """Synthetic: students in very bad health (`health` 1) took two days of sick leave."""
    return 2 if int(row["health"]) == 1 else 0


def rubric_levels(row: dict, rng: random.Random) -> dict[str, int]:
    """Return one month's rubric levels from the UCI row (the rule is in data/README.md)."""
    absences, failures = int(row["absences"]), int(row["failures"])
    punctuality = {1: 4, 2: 4, 3: 3, 4: 2}[int(row["traveltime"])] - (1 if absences >= 10 else 0)
    discipline = 4 - (1 if int(row["goout"]) >= 4 else 0) - min(failures, 2)
    hygiene = {1: 2, 2: 3, 3: 3, 4: 4, 5: 4}[int(row["health"])]
    cleanliness = round((hygiene + discipline) / 2)
    levels = {
        "discipline": discipline,
        "punctuality": punctuality,
        "cleanliness": cleanliness,
        "hygiene": hygiene,
    }
    # A month is not like the next: about one area in seven moves a level up or down.
    for area in levels:
        if rng.random() < RUBRIC_CHANGE_SHARE:
            levels[area] += rng.choice((-1, 1))
    return {area: max(1, min(4, level)) for area, level in levels.items()}


def load_attendance(session: Session, now: datetime) -> AttendanceDemoSummary:
    """Load the demo school's attendance, behaviour, flags and plans; the caller commits.

    Adds the tenant's daily attendance, behaviour rubric and plan review cycles, and turns
    the absence SMS on for the demo school. Does nothing more when the school already has
    registers.
    """
    from spets.demo.load import DEMO_SCHOOL_CODE, TENANT_CODE

    tenant = session.scalar(
        select(OrgUnit).where(OrgUnit.kind == OrgKind.PROVINCE, OrgUnit.code == TENANT_CODE)
    )
    school = session.scalar(
        select(OrgUnit).where(OrgUnit.tenant_id == tenant.id, OrgUnit.code == DEMO_SCHOOL_CODE)
    )
    attendance.add_attendance_definitions(session, tenant, actor=SYSTEM, now=now)
    if session.get(AttendanceOptions, school.id) is None:
        session.add(AttendanceOptions(school_id=school.id, notify_guardian_of_absence=True))
    summary = AttendanceDemoSummary()
    if session.scalar(
        select(AttendanceDay.id)
        .join(Section, Section.id == AttendanceDay.section_id)
        .where(Section.school_id == school.id)
        .limit(1)
    ):
        return summary

    today = calendar.local_today(now, school.timezone)
    year = calendar.current_year(session, tenant.id, today)
    if year is None:
        return summary
    days = [
        day for day in calendar.school_days(session, school, year.starts_on, today) if day < today
    ]
    summary.school_days = len(days)
    roll = _current_roll(session, school, year)
    rows = uci_rows()
    _save_registers(session, school, roll, rows, days, summary)
    _save_rubrics(session, school, roll, rows, year, today, summary)
    head = tasks.role_holders(session, school, Role.HEAD_TEACHER, now)[0]
    _save_incidents(session, roll, rows, days, head, now, summary)
    summary.tasks_opened = _open_todays_tasks(session, tenant, school, now)
    _load_plans(session, school, roll, head, now, summary)
    session.flush()
    return summary


@dataclass
class _Enrolled:
    student: Student
    section: Section


def _current_roll(session: Session, school: OrgUnit, year) -> list[_Enrolled]:
    rows = session.execute(
        select(Student, Section)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .join(Section, Section.id == Enrollment.section_id)
        .where(
            Section.school_id == school.id,
            Section.academic_year_id == year.id,
            Enrollment.ends_on.is_(None),
        )
        .order_by(Student.admission_no)
    ).all()
    return [_Enrolled(student, section) for student, section in rows]


def _save_registers(session, school, roll, rows, days, summary) -> None:
    """Save every section's register of every school day so far, with the students' marks."""
    sections = {item.section.id: item.section for item in roll}
    day_rows = [
        {
            "section_id": section.id,
            "day": day,
            "marked_by_id": section.class_teacher_id,
            "marked_at": _local(day, 8, 30, school.timezone),
            "corrections": 0,
            "version": 1,
        }
        for section in sections.values()
        for day in days
    ]
    insert_ignore_rows(session, AttendanceDay.__table__, day_rows)
    summary.registers = len(day_rows)
    day_ids = {
        (section_id, day): day_id
        for day_id, section_id, day in session.execute(
            select(AttendanceDay.id, AttendanceDay.section_id, AttendanceDay.day).where(
                AttendanceDay.section_id.in_(list(sections))
            )
        )
    }
    marks = []
    for item in roll:
        row = rows.get(item.student.admission_no)
        if row is None:
            continue
        rng = random.Random(f"{SEED}:{item.student.admission_no}")
        statuses: dict[date, tuple[AttendanceStatus, str]] = {}
        for day in spread(int(row["absences"]), days, rng):
            statuses[day] = (AttendanceStatus.ABSENT, "")
        free = [day for day in days if day not in statuses]
        for day in spread(leave_days(row), free, rng):
            statuses[day] = (AttendanceStatus.LEAVE, "Illness")
        free = [day for day in free if day not in statuses]
        for day in spread(late_days(row), free, rng):
            statuses[day] = (AttendanceStatus.LATE, "")
        for day, (status, reason) in statuses.items():
            marks.append(
                {
                    "attendance_day_id": day_ids[(item.section.id, day)],
                    "student_id": item.student.id,
                    "status": status,
                    "leave_reason": reason,
                }
            )
            summary.absences += status == AttendanceStatus.ABSENT
            summary.lates += status == AttendanceStatus.LATE
            summary.leaves += status == AttendanceStatus.LEAVE
    insert_ignore_rows(session, AttendanceMark.__table__, marks)


def _ended_months(year, today: date) -> list[date]:
    months, month = [], year.starts_on
    while behaviour.month_end(month) < today:
        months.append(month)
        month = behaviour.month_end(month) + timedelta(days=1)
    return months


def _save_rubrics(session, school, roll, rows, year, today, summary) -> None:
    """Rate every student in each month of the year that has ended and had school days."""
    rubric_rows = []
    for month in _ended_months(year, today):
        school_days = calendar.school_days(session, school, month, behaviour.month_end(month))
        if not school_days:
            continue  # a month of vacation gets no rubric
        recorded = _local(school_days[-1], 14, 0, school.timezone)
        for item in roll:
            row = rows.get(item.student.admission_no)
            if row is None:
                continue
            rng = random.Random(f"{SEED}:{item.student.admission_no}:{month:%Y-%m}")
            rubric_rows.append(
                {
                    "student_id": item.student.id,
                    "section_id": item.section.id,
                    "month": month,
                    **rubric_levels(row, rng),
                    "note": "",
                    "task_id": None,
                    "recorded_by_id": item.section.class_teacher_id,
                    "recorded_at": recorded,
                    "version": 1,
                }
            )
    insert_ignore_rows(session, BehaviourRubric.__table__, rubric_rows)
    summary.rubrics = len(rubric_rows)


NEGATIVE = (
    ("disruption", "Talked through the lesson after two warnings.", "Moved to the front row."),
    ("fighting", "Pushed a classmate during the break.", "Both students met the class teacher."),
    ("disrespect", "Answered a teacher rudely.", "Apologised; parents informed by phone."),
)
POSITIVE = (
    ("achievement", "Best essay of the class this month.", "Read out in the assembly."),
    ("helping_others", "Helped a new student with the week's lessons.", ""),
)


def _save_incidents(session, roll, rows, days, head, now, summary) -> None:
    """Record a few incidents from the data: negative for repeated failures, positive for high grades."""
    recent = [day for day in days if day >= days[-1] - timedelta(days=28)] if days else []
    if not recent:
        return
    for item in roll:
        row = rows.get(item.student.admission_no)
        if row is None:
            continue
        rng = random.Random(f"{SEED}:incidents:{item.student.admission_no}")
        failures, goout = int(row["failures"]), int(row["goout"])
        negative = 0
        if failures >= 2:
            negative = 3 if goout >= 4 else 1
        picks = [(IncidentKind.NEGATIVE, NEGATIVE[n % len(NEGATIVE)]) for n in range(negative)]
        if int(row["G3"]) >= 17:
            picks.append((IncidentKind.POSITIVE, rng.choice(POSITIVE)))
        for kind, (category, description, follow_up) in picks:
            behaviour.save_incident(
                session,
                item.student,
                None,
                {
                    "kind": kind,
                    "category": category,
                    "occurred_on": rng.choice(recent),
                    "description": description,
                    "follow_up": follow_up,
                },
                version=None,
                actor=Actor(item.section.class_teacher_id or head.id),
                now=now,
            )
            summary.incidents += 1


def _open_todays_tasks(session, tenant, school, now) -> int:
    """Open today's register tasks and this month's rubric tasks, as the nightly tick would."""
    created = 0
    definitions = session.scalars(
        select(CycleDefinition).where(
            CycleDefinition.org_unit_id == tenant.id,
            CycleDefinition.kind.in_([CycleKind.DAILY_ATTENDANCE, CycleKind.BEHAVIOUR_RUBRIC]),
        )
    ).all()
    today = calendar.local_today(now, tenant.timezone)
    for definition in definitions:
        for period in cycles.due_periods(session, definition, today):
            run = cycles.open_run(session, definition, period, now)
            created += cycles.generate_tasks(session, run, [(school.id, school.path)], now).created
    return created


def _load_plans(session, school, roll, head, now, summary) -> None:
    """Compute the flags, then start two plans: one already reviewed once and due again soon."""
    started = now - timedelta(days=PLAN_STARTED_DAYS_AGO)
    warnings.compute_flags(session, started, [school.id])
    first = _pick_flag(session, school, FlagArea.ATTENDANCE) or _pick_flag(session, school, None)
    warnings.compute_flags(session, now, [school.id])
    flags = session.scalars(
        select(EarlyWarningFlag).where(
            EarlyWarningFlag.school_id == school.id, EarlyWarningFlag.resolved_at.is_(None)
        )
    ).all()
    for flag in flags:
        key = f"{flag.area.value}/{flag.level.value}"
        summary.flags[key] = summary.flags.get(key, 0) + 1

    sections = {item.student.id: item.section for item in roll}
    students = {item.student.id: item.student for item in roll}
    if first is not None and first.resolved_at is None:
        _reviewed_plan(
            session,
            students[first.student_id],
            sections[first.student_id],
            first,
            head,
            started,
            now,
        )
        summary.plans += 1
    second = next(
        (
            flag
            for flag in sorted(
                flags,
                key=lambda f: (
                    f.level != FlagLevel.AT_RISK,
                    f.area != FlagArea.BEHAVIOUR,
                    f.student_id,
                ),
            )
            if first is None or flag.student_id != first.student_id
        ),
        None,
    )
    if second is not None:
        today = calendar.local_today(now, school.timezone)
        plans.create_plan(
            session,
            students[second.student_id],
            {
                "goal": "No negative incident and every rubric area at level 2 or above next month.",
                "actions": "Weekly talk with the class teacher; a seat near the front; "
                "the father calls the class teacher every Saturday.",
                "owner_id": sections[second.student_id].class_teacher_id or head.id,
                "parent_consent": True,
                "parent_consent_on": today,
                "review_on": today + timedelta(days=FIRST_REVIEW_AFTER_DAYS),
            },
            flag_id=second.id,
            actor=Actor(head.id),
            now=now,
        )
        summary.plans += 1


def _pick_flag(session, school, area) -> EarlyWarningFlag | None:
    query = (
        select(EarlyWarningFlag)
        .join(Student, Student.id == EarlyWarningFlag.student_id)
        .where(EarlyWarningFlag.school_id == school.id, EarlyWarningFlag.resolved_at.is_(None))
        .order_by(EarlyWarningFlag.level != FlagLevel.AT_RISK, Student.admission_no)
        .limit(1)
    )
    if area is not None:
        query = query.where(EarlyWarningFlag.area == area)
    return session.scalar(query)


def _reviewed_plan(session, student, section, flag, head, started, now) -> None:
    """Start a plan `PLAN_STARTED_DAYS_AGO` days ago, record its first review, open the next one."""
    started_on = calendar.local_today(started, student.school.timezone)
    first_review = started_on + timedelta(days=FIRST_REVIEW_AFTER_DAYS)
    owner = section.class_teacher_id or head.id
    plan = plans.create_plan(
        session,
        student,
        {
            "goal": "Attend every school day and catch up on the lessons missed.",
            "actions": "The class teacher calls home on the first morning of any absence; "
            "a classmate shares notes; the head teacher meets the parents.",
            "owner_id": owner,
            "parent_consent": True,
            "parent_consent_on": started_on,
            "review_on": first_review,
        },
        flag_id=flag.id,
        actor=Actor(head.id),
        now=started,
    )
    zone = student.school.timezone
    plans.open_due_reviews(session, _local(first_review, 1, 0, zone), plan_ids=[plan.id])
    today = calendar.local_today(now, zone)
    next_review = today + timedelta(days=2)
    plans.record_review(
        session,
        plan.reviews[0],
        {
            "progress": "Fewer absences in the last two weeks; the parents came to school.",
            "flag_resolved": False,
            "close_plan": False,
            "next_review_on": next_review,
        },
        actor=Actor(owner),
        now=_local(first_review, 11, 0, zone),
    )
    plans.open_due_reviews(session, now, plan_ids=[plan.id])
