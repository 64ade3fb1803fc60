"""Demo results: last academic year's Urdu and Mathematics marks, taken from the UCI grades.

The UCI data gives each student three grades from 0 to 20 in the order they were earned:
G1 and G2 for the first and second periods and G3 for the final grade. They become the
marks of the previous academic year's three exams that come in the same order:

- G1: the last monthly assessment of the first half of the year (the September one);
- G2: the December test;
- G3: the annual exam.

Urdu marks come from `student-por.csv` (the Portuguese language course, one row per demo
student). Mathematics marks come from `student-mat.csv` for the students found in both
files. Only grades 10 to 12 have a previous year in the demo (grade 9 students were
admitted this year), so only their sections get results. The mapping is documented in
data/README.md.
"""

import csv
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spets.models import (
    AcademicYear,
    CycleDefinition,
    CycleKind,
    ExamKind,
    ExamWindow,
    MarkStatus,
    OrgKind,
    OrgUnit,
    OutboxMessage,
    OutboxStatus,
    ResultSheet,
    Role,
    Section,
    Task,
    User,
)
from spets.services import calendar, cycles, grading, org, results, tasks
from spets.services.audit import Actor
from spets.services.report_cards import Term, term_dates
from spets.services.schedules import TenantCalendar

DATA = Path(__file__).parent / "data"
SYSTEM = Actor.system()
UCI_SCALE = Decimal(20)
SUBJECT_CODES = ("URDU", "MATH")

# The attributes on which the UCI documentation matches a student of the maths file to the
# same student of the Portuguese file.
MATCH_ATTRIBUTES = (
    "school",
    "sex",
    "age",
    "address",
    "famsize",
    "Pstatus",
    "Medu",
    "Fedu",
    "Mjob",
    "Fjob",
    "reason",
    "nursery",
    "internet",
)
# Attributes of the student rather than of the course. They agree in every pair that the 13
# attributes above match one to one, so they tell apart two students who share those 13.
STUDENT_ATTRIBUTES = (
    "guardian",
    "traveltime",
    "studytime",
    "schoolsup",
    "famsup",
    "activities",
    "higher",
    "romantic",
    "famrel",
    "freetime",
    "goout",
    "Dalc",
    "Walc",
    "health",
)
GRADE_COLUMNS = ("G1", "G2", "G3")


@dataclass
class ResultsDemoSummary:
    """What `load_results` published; all zero when the school already had results."""

    year: str = ""
    sheets: int = 0
    marks: int = 0
    students: int = 0
    maths_from_data: int = 0
    maths_absent: int = 0  # students with no maths grade in the data, recorded absent
    guardian_messages: int = 0


def load_results(session: Session, now: datetime) -> ResultsDemoSummary:
    """Publish last year's Urdu and Mathematics results of the demo school; the caller commits.

    Also adds the tenant's result-entry cycle, so that the running demo opens result-entry
    tasks each time an exam window closes. Does nothing more when the school already has
    result sheets.
    """
    from spets.demo.load import DEMO_SCHOOL_CODE, TENANT_CODE

    tenant = session.scalar(
        select(OrgUnit).where(OrgUnit.kind == OrgKind.PROVINCE, OrgUnit.code == TENANT_CODE)
    )
    school = session.scalar(
        select(OrgUnit).where(OrgUnit.tenant_id == tenant.id, OrgUnit.code == DEMO_SCHOOL_CODE)
    )
    definition = _result_entry_definition(session, tenant, now)
    summary = ResultsDemoSummary()
    if _has_results(session, school):
        return summary

    today = calendar.local_today(now, tenant.timezone)
    current = calendar.current_year(session, tenant.id, today)
    previous = current and session.scalar(
        select(AcademicYear).where(
            AcademicYear.tenant_id == tenant.id,
            AcademicYear.ends_on == current.starts_on - timedelta(days=1),
        )
    )
    if previous is None:
        raise RuntimeError(
            f"the demo needs the academic years around {today}; load it with demo.load.load_demo"
        )
    summary.year = previous.label
    windows = _grade_windows(previous)
    sections = _sections(session, school, previous)
    _assign_previous_teachers(session, sections, previous, now)
    grades = uci_grades()
    head = tasks.role_holders(session, school, Role.HEAD_TEACHER, now)[0]

    students: set[int] = set()
    for column, window in zip(GRADE_COLUMNS, windows, strict=True):
        for task in _open_result_entry(session, definition, tenant, school, window):
            _record(session, task, column, grades, head, summary, students)
    summary.students = len(students)
    cycles.close_finished_runs(session, today)
    session.flush()
    return summary


def _result_entry_definition(session: Session, tenant: OrgUnit, now: datetime) -> CycleDefinition:
    definition = session.scalar(
        select(CycleDefinition).where(
            CycleDefinition.org_unit_id == tenant.id,
            CycleDefinition.kind == CycleKind.RESULT_ENTRY,
        )
    )
    return definition or cycles.add_result_entry_definition(session, tenant, actor=SYSTEM, now=now)


def _has_results(session: Session, school: OrgUnit) -> bool:
    return (
        session.scalar(
            select(ResultSheet.id)
            .join(Section, Section.id == ResultSheet.section_id)
            .where(Section.school_id == school.id)
            .limit(1)
        )
        is not None
    )


def _grade_windows(year: AcademicYear) -> tuple[ExamWindow, ExamWindow, ExamWindow]:
    """Return the exam windows that receive G1, G2 and G3."""
    _first_day, first_half_ends = term_dates(year, Term.FIRST)
    monthly = [
        window
        for window in year.exam_windows
        if window.kind == ExamKind.MONTHLY_ASSESSMENT and window.ends_on <= first_half_ends
    ]
    december = [w for w in year.exam_windows if w.kind == ExamKind.DECEMBER_TEST]
    annual = [w for w in year.exam_windows if w.kind == ExamKind.ANNUAL_EXAM]
    if not (monthly and december and annual):
        raise RuntimeError(
            f"the demo year {year.label} needs a monthly assessment by {first_half_ends}, "
            "a December test and an annual exam; load the demo into an empty database"
        )
    latest = lambda windows: max(windows, key=lambda w: w.starts_on)  # noqa: E731
    return latest(monthly), latest(december), latest(annual)


def _sections(session: Session, school: OrgUnit, year: AcademicYear) -> list[Section]:
    return list(
        session.scalars(
            select(Section)
            .where(Section.school_id == school.id, Section.academic_year_id == year.id)
            .order_by(Section.grade, Section.name)
        )
    )


def _assign_previous_teachers(
    session: Session, sections: list[Section], year: AcademicYear, now: datetime
) -> None:
    """Give last year's sections an Urdu and a Mathematics teacher for the whole year.

    The teachers are this year's, by the same rule as `demo.load`: the "lower" teacher
    for grades 9 and 10, the "upper" one for 11 and 12. No other subject gets a teacher,
    so the result-entry runs open tasks for these two subjects only.
    """
    subjects = {s.code: s for s in org.subjects_of_tenant(session, year.tenant_id)}
    usernames = {
        f"teacher.{code.lower()}.{band}" for code in SUBJECT_CODES for band in ("lower", "upper")
    }
    teachers = {
        user.username: user
        for user in session.scalars(select(User).where(User.username.in_(usernames)))
    }
    for section in sections:
        band = "lower" if section.grade <= 10 else "upper"
        for code in SUBJECT_CODES:
            assignment = org.assign_teacher(
                session,
                section=section,
                subject=subjects[code],
                teacher=teachers[f"teacher.{code.lower()}.{band}"],
                starts_on=year.starts_on,
                actor=SYSTEM,
                now=now,
            )
            org.end_teaching_assignment(session, assignment, year.ends_on, actor=SYSTEM, now=now)


def _local(day: date, hour: int, minute: int, zone: str) -> datetime:
    return datetime.combine(day, time(hour, minute), ZoneInfo(zone)).astimezone(UTC)


def _open_result_entry(
    session: Session, definition: CycleDefinition, tenant: OrgUnit, school: OrgUnit, window
) -> list[Task]:
    """Open the window's result-entry run and its tasks as the tick did the day after it closed."""
    day_after = window.ends_on + timedelta(days=1)
    [period] = [
        period
        for period in cycles.due_periods(session, definition, day_after)
        if period.exam_window_id == window.id
    ]
    school_calendar = TenantCalendar.load(session, tenant, day_after)
    _signature, days = school_calendar.school_days(school.path)
    first_day = next(day for day in days if day >= day_after)
    opened_at = _local(first_day, 0, 15, tenant.timezone)
    run = cycles.open_run(session, definition, period, opened_at)
    cycles.generate_tasks(session, run, [(school.id, school.path)], opened_at, school_calendar)
    return list(
        session.scalars(
            select(Task)
            .where(Task.cycle_run_id == run.id, Task.school_id == school.id)
            .order_by(Task.id)
        )
    )


def scaled_mark(uci_grade: int, max_marks: Decimal, step: Decimal) -> Decimal:
    """Scale a 0-20 grade to the sheet's maximum, rounded half up to the sheet's step.

    For example 11 of 20 on a sheet of 75 in half marks is 41.25, entered as 41.5.
    """
    exact = Decimal(uci_grade) * max_marks / UCI_SCALE
    steps = (exact / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return steps * step


def _record(
    session: Session,
    task: Task,
    column: str,
    grades: dict[str, dict[str, dict[str, int] | None]],
    head: User,
    summary: ResultsDemoSummary,
    students: set[int],
) -> None:
    """Enter, submit, verify and publish one sheet at the times a school would have."""
    zone = task.school.timezone
    sheet = results.sheet_for_task(session, task, _local(task.opens_on, 9, 0, zone))
    code = task.subject.code
    first_exam = column == GRADE_COLUMNS[0]
    typed = {}
    for row in results.roll(session, sheet):
        found = grades.get(row.student.admission_no)
        if found is None:
            raise RuntimeError(f"demo student {row.student.admission_no} has no UCI row")
        students.add(row.student.id)
        subject_grades = found[code]
        if subject_grades is None:
            typed[row.student.id] = "A"
            if first_exam:
                summary.maths_absent += 1
            continue
        mark = scaled_mark(subject_grades[column], sheet.max_marks, sheet.step)
        typed[row.student.id] = grading.show_mark(MarkStatus.ENTERED, mark)
        if code == "MATH" and first_exam:
            summary.maths_from_data += 1

    teacher = Actor(task.assignee_id)
    entered_at = _local(task.due_on, 11, 0, zone)
    results.save_marks(session, sheet, typed, lock_version=None, actor=teacher, now=entered_at)
    # The task moves without the task service's notifications, because this is last year's
    # history and sign-off messages about it would reach the staff today. The sheet's own
    # steps go through the results service as a school's would.
    tasks.move(session, task, "submit", actor=teacher, now=entered_at)
    results.submit_sheet(session, sheet, actor=teacher, now=entered_at)
    published_at = _local(task.due_on, 15, 0, zone)
    results.verify_sheet(session, sheet, actor=Actor(head.id), now=published_at)
    tasks.move(session, task, "approve", actor=Actor(head.id), now=published_at)
    before = _held_count(session)
    results.publish_sheet(session, sheet, actor=Actor(head.id), now=published_at)
    summary.guardian_messages += _held_count(session) - before
    summary.sheets += 1
    summary.marks += len(typed)


def _held_count(session: Session) -> int:
    return session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.HELD)
    )


# Reading the UCI files.


def _read(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def match_maths_rows(
    portuguese: list[dict[str, str]], maths: list[dict[str, str]]
) -> dict[int, int]:
    """Map the index of each Portuguese-course row to the maths row of the same student.

    Rows match on the 13 attributes of the UCI documentation. Eight combinations of them
    belong to two students in one file; the 14 attributes that describe the student and
    not the course tell those apart. A row whose match stays ambiguous is left out.
    """
    by_key: dict[tuple, list[int]] = defaultdict(list)
    for index, row in enumerate(maths):
        by_key[tuple(row[name] for name in MATCH_ATTRIBUTES)].append(index)
    matches: dict[int, int] = {}
    for index, row in enumerate(portuguese):
        candidates = [
            candidate
            for candidate in by_key.get(tuple(row[name] for name in MATCH_ATTRIBUTES), [])
            if all(maths[candidate][name] == row[name] for name in STUDENT_ATTRIBUTES)
        ]
        if len(candidates) == 1:
            matches[index] = candidates[0]
    claimed = defaultdict(list)
    for index, candidate in matches.items():
        claimed[candidate].append(index)
    return {index: c for index, c in matches.items() if len(claimed[c]) == 1}


def uci_grades() -> dict[str, dict[str, dict[str, int] | None]]:
    """Map each demo student's admission number to their UCI grades per subject.

    The result looks like ``{"1001": {"URDU": {"G1": 13, ...}, "MATH": None}}``: Urdu from
    the Portuguese course and Mathematics from the maths course, or None where the
    student is not in the maths file. Admission numbers follow `demo.load`: from 1001
    upwards, grade by grade, in file order within a grade.
    """
    from spets.demo.load import _grade_for_age

    portuguese = _read("student-por.csv")
    maths = _read("student-mat.csv")
    matches = match_maths_rows(portuguese, maths)

    by_grade: dict[int, list[int]] = defaultdict(list)
    for index, row in enumerate(portuguese):
        by_grade[_grade_for_age(int(row["age"]))].append(index)
    grades = {}
    admission = 1000
    for grade in sorted(by_grade):
        for index in by_grade[grade]:
            admission += 1
            maths_index = matches.get(index)
            grades[str(admission)] = {
                "URDU": _grade_values(portuguese[index]),
                "MATH": None if maths_index is None else _grade_values(maths[maths_index]),
            }
    return grades


def _grade_values(row: dict[str, str]) -> dict[str, int]:
    return {column: int(row[column]) for column in GRADE_COLUMNS}
