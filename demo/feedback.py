"""Demo feedback: approved quarterly subject feedback for the quarters before the current one.

For the demo school of `demo.load`, each earlier quarter of the current academic year gets
its feedback run with one task per teaching assignment, filled by the subject teacher and
approved by the head teacher. What each student gets follows the UCI grades G1 and G2 (see
data/README.md), so the current quarter's sheets open with last quarter's weaknesses
waiting to be rated.
"""

import csv
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from spets.models import (
    CycleDefinition,
    CycleKind,
    FeedbackEntry,
    OrgKind,
    OrgUnit,
    Progress,
    Role,
    Task,
)
from spets.services import calendar, cycles, feedback, tasks
from spets.services.audit import Actor
from spets.services.schedules import TenantCalendar

DATA = Path(__file__).parent / "data"
SEED = 20082
SYSTEM = Actor.system()

# Planned actions the demo teachers write for a weakness.
PLANNED_ACTIONS = (
    "Ten minutes of extra practice in the remedial period, twice a week.",
    "A weekly worksheet on this topic, checked in class.",
    "Seated with a stronger classmate for group work.",
    "A short oral check every Monday.",
    "Discuss with the parents at the next parent-teacher meeting.",
    "Homework diary signed by a parent each week.",
)


@dataclass
class FeedbackDemoSummary:
    quarters: int
    tasks: int
    entries: int


def load_feedback(session: Session, now: datetime) -> FeedbackDemoSummary:
    """Record approved feedback for the demo school's earlier quarters; the caller commits.

    Opens the feedback cycle of each quarter of the current academic year that ended
    before `now`, fills and approves every sheet, then runs the calendar tick, which opens
    the current quarter. Does nothing when the school already has feedback. In the first
    quarter of a year there is no earlier quarter with teaching assignments, so only the
    current quarter opens.
    """
    from spets.demo.load import DEMO_SCHOOL_CODE, TENANT_CODE

    tenant = session.scalar(
        select(OrgUnit).where(OrgUnit.kind == OrgKind.PROVINCE, OrgUnit.code == TENANT_CODE)
    )
    school = session.scalar(
        select(OrgUnit).where(OrgUnit.tenant_id == tenant.id, OrgUnit.code == DEMO_SCHOOL_CODE)
    )
    summary = FeedbackDemoSummary(quarters=0, tasks=0, entries=0)
    if _has_feedback(session, school):
        return summary

    definition = _feedback_definition(session, tenant, now)
    feedback.add_starter_catalogue(session, tenant, actor=SYSTEM, now=now)
    today = calendar.local_today(now, tenant.timezone)
    year = calendar.current_year(session, tenant.id, today)
    head = tasks.role_holders(session, school, Role.HEAD_TEACHER, now)[0]
    grades = _uci_grades()

    earlier = [quarter for quarter in year.quarters if quarter.ends_on < today]
    for position, quarter in enumerate(sorted(earlier, key=lambda q: q.number)):
        run_tasks = _open_quarter(session, definition, tenant, school, quarter.starts_on)
        for task in run_tasks:
            summary.entries += _record(session, task, position, grades, head)
        summary.quarters += 1
        summary.tasks += len(run_tasks)
    cycles.tick(session, now)
    session.flush()
    return summary


def _has_feedback(session: Session, school: OrgUnit) -> bool:
    return (
        session.scalar(
            select(FeedbackEntry.id)
            .join(Task, Task.id == FeedbackEntry.task_id)
            .where(Task.school_id == school.id)
            .limit(1)
        )
        is not None
    )


def _feedback_definition(session: Session, tenant: OrgUnit, now: datetime) -> CycleDefinition:
    definition = session.scalar(
        select(CycleDefinition).where(
            CycleDefinition.org_unit_id == tenant.id,
            CycleDefinition.kind == CycleKind.QUARTERLY_FEEDBACK,
        )
    )
    return definition or cycles.add_default_definitions(session, tenant, actor=SYSTEM, now=now)


def _local(day: date, hour: int, minute: int, zone: str) -> datetime:
    return datetime.combine(day, time(hour, minute), ZoneInfo(zone)).astimezone(UTC)


def _open_quarter(session, definition, tenant, school, starts_on: date) -> list[Task]:
    """Open the quarter's run and its tasks as the tick would on its first school day."""
    [period] = cycles.due_periods(session, definition, starts_on)
    school_calendar = TenantCalendar.load(session, tenant, starts_on)
    _signature, days = school_calendar.school_days(school.path)
    first_day = next((day for day in days if day >= starts_on), None)
    if first_day is None or first_day > period.closes_on:
        return []
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


def _uci_grades() -> dict[str, tuple[int, int]]:
    """Map each demo student's admission number to their UCI grades (G1, G2), 0 to 20.

    Admission numbers are given as `demo.load` gives them: from 1001 upwards, grade by
    grade, in file order within a grade.
    """
    from spets.demo.load import _grade_for_age

    with (DATA / "student-por.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    by_grade: dict[int, list[dict]] = {}
    for row in rows:
        by_grade.setdefault(_grade_for_age(int(row["age"])), []).append(row)
    grades = {}
    admission = 1000
    for grade in sorted(by_grade):
        for row in by_grade[grade]:
            admission += 1
            grades[str(admission)] = (int(row["G1"]), int(row["G2"]))
    return grades


def _score(grades, admission_no: str, subject_code: str, position: int) -> int:
    """Return a student's standing in one subject in the `position`-th quarter, 0 to 20.

    The year's first quarter is G1, the second G2, and later ones continue the same trend.
    A fixed offset of -2 to +2 per student and subject keeps one student's subjects apart.
    """
    first, second = grades.get(admission_no, (10, 10))
    offset = random.Random(f"{SEED}:{admission_no}:{subject_code}").randint(-2, 2)
    return max(0, min(20, first + (second - first) * position + offset))


def _counts(score: int) -> tuple[int, int]:
    """Return how many strengths and weaknesses a student with this score gets (10 passes)."""
    if score >= 15:
        return 3, 0
    if score >= 12:
        return 2, 1
    if score >= 10:
        return 1, 2
    return 0, 3


def _record(session: Session, task: Task, position: int, grades, head) -> int:
    """Fill, submit and approve one sheet; return how many students got a row."""
    sheet = feedback.load_sheet(session, task)
    code = task.subject.code
    rows = [_student_row(sheet, row, code, position, grades) for row in sheet.rows]
    teacher = Actor(task.assignee_id)
    submitted_at = _local(task.due_on, 13, 0, task.school.timezone)
    saved = feedback.save_draft(
        session, task, rows, version=task.version, actor=teacher, now=submitted_at
    )
    problems, _per_student = feedback.submission_problems(saved)
    if problems:
        raise RuntimeError(f"demo sheet of task {task.id}: {problems[0].interpolate()}")
    # Moved without the service's notifications: these quarters are history, and the head
    # teacher should not receive hundreds of sign-off messages about them.
    tasks.move(session, task, "submit", actor=teacher, now=submitted_at)
    approved_at = _local(task.due_on, 16, 0, task.school.timezone)
    tasks.move(session, task, "approve", actor=Actor(head.id), now=approved_at)
    return len(rows)


def _student_row(sheet, row, subject_code: str, position: int, grades) -> dict:
    admission_no = row.student.admission_no
    score = _score(grades, admission_no, subject_code, position)
    rng = random.Random(f"{SEED}:{admission_no}:{subject_code}:{position}")
    strength_count, weakness_count = _counts(score)

    ratings = {}
    recurring = []  # last quarter's weaknesses that did not improve are likely to stay
    if row.previous:
        before = _score(grades, admission_no, subject_code, position - 1)
        by_text = {item.text_en: item for item in sheet.weaknesses}
        for weakness in row.previous:
            if score - before >= 1:
                progress = Progress.IMPROVED
            elif score - before <= -1:
                progress = Progress.WORSE
            else:
                progress = Progress.UNCHANGED
            ratings[weakness.item_id] = progress
            if progress != Progress.IMPROVED and weakness.text_en in by_text:
                recurring.append(by_text[weakness.text_en])

    others = [item for item in sheet.weaknesses if item not in recurring]
    weaknesses = (recurring + rng.sample(others, len(others)))[:weakness_count]
    strengths = rng.sample(sheet.strengths, min(strength_count, len(sheet.strengths)))
    return {
        "student_id": row.student.id,
        "note": "",
        "strengths": [item.id for item in strengths],
        "weaknesses": [
            {"item_id": item.id, "ticked": True, "planned_action": rng.choice(PLANNED_ACTIONS)}
            for item in weaknesses
        ],
        "ratings": [
            {"previous_item_id": item_id, "progress": progress.value}
            for item_id, progress in ratings.items()
        ],
    }
