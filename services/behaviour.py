"""Behaviour: the monthly rubric sheet of a section, and incidents recorded by teachers.

A behaviour rubric task covers one section for one month (the month its cycle run opens).
The class teacher rates every student of the section in four areas, each on a level from
1 (needs help) to 4 (excellent), saves as often as needed, and submits the sheet to the
head teacher once every student still in the section is rated. A student has one rubric a
month: a student who changed section during the month keeps a single row, which the last
sheet to save it owns.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session, selectinload

from spets.forms.vocab import TASK_STATE
from spets.i18n import _
from spets.models import (
    AuditAction,
    AuditEvent,
    BehaviourRubric,
    CycleKind,
    Enrollment,
    Incident,
    IncidentKind,
    Student,
    Task,
)
from spets.services import audit, tasks
from spets.services.audit import Actor
from spets.services.calendar import local_today
from spets.services.errors import InvalidInput, Locked, NotFound
from spets.services.feedback import _bump_version
from spets.services.org import check_version

# The areas of the rubric: the BehaviourRubric columns, in the order of the sheet.
RUBRIC_AREAS = ("discipline", "punctuality", "cleanliness", "hygiene")
LEVELS = (1, 2, 3, 4)

# Incident categories by kind. Labels are in `forms.behaviour.INCIDENT_CATEGORIES`.
INCIDENT_CATEGORIES = {
    IncidentKind.NEGATIVE: (
        "fighting",
        "bullying",
        "disrespect",
        "disruption",
        "cheating",
        "damage",
        "truancy",
        "other_negative",
    ),
    IncidentKind.POSITIVE: (
        "helping_others",
        "leadership",
        "achievement",
        "honesty",
        "other_positive",
    ),
}
INCIDENT_FIELDS = ("kind", "category", "occurred_on", "description", "follow_up")
# An incident may be recorded up to a year after it happened.
INCIDENT_LOOKBACK = timedelta(days=365)


def month_of(day: date) -> date:
    return day.replace(day=1)


def month_end(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


# The rubric sheet of a task.


@dataclass
class RubricRow:
    student: Student
    # The student's last day in the section, when it comes before the end of the month.
    left_on: date | None = None
    levels: dict[str, int] | None = None  # None: not rated yet
    note: str = ""
    rubric_id: int | None = None
    version: int = 0

    @property
    def still_enrolled(self) -> bool:
        return self.left_on is None

    @property
    def lowest(self) -> int | None:
        return min(self.levels.values()) if self.levels else None


@dataclass
class RubricSheet:
    task: Task
    month: date
    rows: list[RubricRow] = field(default_factory=list)

    @property
    def is_editable(self) -> bool:
        return self.task.is_pending

    @property
    def required(self) -> list[RubricRow]:
        return [row for row in self.rows if row.still_enrolled]

    @property
    def unrated(self) -> list[RubricRow]:
        return [row for row in self.required if row.levels is None]

    def row_for(self, student_id: int) -> RubricRow | None:
        return next((row for row in self.rows if row.student.id == student_id), None)


def sheet_month(task: Task) -> date:
    """The month a rubric task rates: the month its cycle run opened."""
    return month_of(task.cycle_run.opens_on)


def load_rubric_sheet(session: Session, task: Task) -> RubricSheet:
    """Load a rubric task's sheet: the section's students in the month and their saved rubrics.

    Three queries whatever the size of the section.
    """
    if task.kind != CycleKind.BEHAVIOUR_RUBRIC or task.section_id is None:
        raise NotFound(_("not_a_rubric_task", default="This task has no behaviour rubric."))
    month = sheet_month(task)
    last = month_end(month)
    result = session.execute(
        select(Student, Enrollment.ends_on)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .where(
            Enrollment.section_id == task.section_id,
            Enrollment.starts_on <= last,
            or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= month),
        )
        .order_by(Student.name_en, Student.id, Enrollment.starts_on)
    )
    rows: dict[int, RubricRow] = {}
    for student, ends_on in result:
        left_on = ends_on if ends_on is not None and ends_on < last else None
        row = rows.get(student.id)
        if row is None:
            rows[student.id] = RubricRow(student, left_on)
        elif row.left_on is not None and (left_on is None or left_on > row.left_on):
            row.left_on = left_on
    if rows:
        for rubric in session.scalars(
            select(BehaviourRubric).where(
                BehaviourRubric.student_id.in_(list(rows)), BehaviourRubric.month == month
            )
        ):
            row = rows[rubric.student_id]
            row.levels = {area: getattr(rubric, area) for area in RUBRIC_AREAS}
            row.note, row.rubric_id, row.version = rubric.note, rubric.id, rubric.version
    return RubricSheet(task, month, list(rows.values()))


class IncompleteRubric(InvalidInput):
    """The rubric was saved but cannot be submitted: some students are not rated yet."""


def save_rubric_sheet(
    session: Session,
    task: Task,
    students: Sequence[dict],
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
    submit: bool = False,
) -> RubricSheet:
    """Save the rows sent, and submit the task when asked and every student is rated.

    A row needs all four levels, or none (it then keeps what was saved). `version` is the
    task's version when the sheet was loaded; an older one raises StaleEdit, and each save
    raises it. The writes are set-based, the same statements for 6 students or 60. When
    the sheet is incomplete, IncompleteRubric names the students not rated; what was sent
    stays saved in the caller's transaction.
    """
    tasks.check_task_version(task, version)
    if not task.is_pending:
        raise Locked(
            _(
                "rubric_locked",
                default="This rubric is ${state} and can no longer change.",
                mapping={"state": TASK_STATE[task.state]},
            )
        )
    sheet = load_rubric_sheet(session, task)
    rows_to_store = _validate_rubric_rows(sheet, students)

    tasks.start_task(session, task, actor=actor, now=now)
    _bump_version(session, task)
    _write_rubrics(session, task, sheet, rows_to_store, actor=actor, now=now)

    if submit:
        if sheet.unrated:
            names = ", ".join(row.student.name_en for row in sheet.unrated)
            raise IncompleteRubric(
                _(
                    "rubric_incomplete",
                    default="Saved but not submitted: rate every student first. Not rated yet: ${students}.",
                    mapping={"students": names},
                ),
                {
                    f"student-{row.student.id}": _("rubric_row_unrated", default="Not rated yet.")
                    for row in sheet.unrated
                },
            )
        tasks.submit_task(session, task, actor=actor, now=now)
    return sheet


def _validate_rubric_rows(
    sheet: RubricSheet, students: Sequence[dict]
) -> dict[int, tuple[dict, str]]:
    """Return {student id: (levels, note)} of the rows to store; raise InvalidInput on a bad row."""
    errors: dict[str, object] = {}
    rows_to_store: dict[int, tuple[dict, str]] = {}
    for values in students:
        student_id = values["student_id"]
        key = f"student-{student_id}"
        row = sheet.row_for(student_id)
        if row is None or student_id in rows_to_store:
            errors[key] = _(
                "rubric_student_unknown",
                default="Student ${id} is not on this rubric, or was sent twice.",
                mapping={"id": student_id},
            )
            continue
        levels = {area: values.get(area) for area in RUBRIC_AREAS}
        chosen = [level for level in levels.values() if level is not None]
        if not chosen:
            continue  # nothing chosen for this student: keep what was saved
        if len(chosen) != len(RUBRIC_AREAS):
            errors[key] = _(
                "rubric_row_partial",
                default="${name}: choose a level in all four areas.",
                mapping={"name": row.student.name_en},
            )
            continue
        if any(level not in LEVELS for level in chosen):
            errors[key] = _(
                "rubric_level_invalid",
                default="${value} is not a level: choose a level from 1 to 4.",
                mapping={"value": ", ".join(str(level) for level in chosen)},
            )
            continue
        rows_to_store[student_id] = (levels, values.get("note") or "")
    if errors:
        raise InvalidInput(
            _("rubric_invalid", default="The rubric was not saved: correct the rows marked."),
            errors,
        )
    return rows_to_store


def _write_rubrics(
    session: Session,
    task: Task,
    sheet: RubricSheet,
    rows_to_store: dict[int, tuple[dict, str]],
    *,
    actor: Actor,
    now: datetime,
) -> None:
    """Insert new rubrics and update changed ones, one statement each, and audit every change."""
    table = BehaviourRubric.__table__
    inserted, updated, audited = [], [], []
    for student_id, (levels, note) in rows_to_store.items():
        row = sheet.row_for(student_id)
        after = {**levels, "note": note}
        before = {**(row.levels or {}), "note": row.note} if row.levels else {}
        if before == after:
            continue
        if row.rubric_id is None:
            inserted.append(
                {
                    "student_id": student_id,
                    "section_id": task.section_id,
                    "month": sheet.month,
                    **levels,
                    "note": note,
                    "task_id": task.id,
                    "recorded_by_id": actor.user_id,
                    "recorded_at": now,
                    "version": 1,
                }
            )
        else:
            updated.append(
                {
                    "b_id": row.rubric_id,
                    "b_section": task.section_id,
                    "b_task": task.id,
                    "b_by": actor.user_id,
                    "b_at": now,
                    "b_note": note,
                    **{f"b_{area}": level for area, level in levels.items()},
                }
            )
        audited.append((student_id, row.rubric_id, audit.diff(before, after)))
        row.levels, row.note = dict(levels), note

    if inserted:
        result = session.execute(insert(table).returning(table.c.id, table.c.student_id), inserted)
        created = {student_id: rubric_id for rubric_id, student_id in result}
        for student_id, rubric_id in created.items():
            sheet.row_for(student_id).rubric_id = rubric_id
    else:
        created = {}
    if updated:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                section_id=bindparam("b_section"),
                task_id=bindparam("b_task"),
                recorded_by_id=bindparam("b_by"),
                recorded_at=bindparam("b_at"),
                note=bindparam("b_note"),
                version=table.c.version + 1,
                **{area: bindparam(f"b_{area}") for area in RUBRIC_AREAS},
            ),
            updated,
        )
    if audited:
        session.execute(
            insert(AuditEvent.__table__),
            [
                {
                    "occurred_at": now,
                    "actor_id": actor.user_id,
                    "action": AuditAction.UPDATE if rubric_id else AuditAction.CREATE,
                    "entity_type": "behaviour_rubric",
                    "entity_id": rubric_id or created.get(student_id),
                    "student_id": student_id,
                    "org_unit_id": task.school_id,
                    "category": None,
                    "reason": f"behaviour rubric task {task.id}, {sheet.month:%Y-%m}",
                    "changes": changes,
                    "client_addr": actor.client_addr,
                }
                for student_id, rubric_id, changes in audited
            ],
        )


def section_rubrics(session: Session, section_id: int, month: date) -> dict[int, BehaviourRubric]:
    """The rubrics of a section's students for a month, by student id."""
    return {
        rubric.student_id: rubric
        for rubric in session.scalars(
            select(BehaviourRubric).where(
                BehaviourRubric.section_id == section_id, BehaviourRubric.month == month
            )
        )
    }


def rubric_tasks_of_section(session: Session, section_id: int) -> list[Task]:
    """The section's behaviour rubric tasks, newest month first."""
    return list(
        session.scalars(
            select(Task)
            .options(selectinload(Task.cycle_run))
            .where(Task.kind == CycleKind.BEHAVIOUR_RUBRIC, Task.section_id == section_id)
            .order_by(Task.opens_on.desc())
        )
    )


def student_rubrics(session: Session, student_id: int, limit: int = 12) -> list[BehaviourRubric]:
    """The student's latest rubrics, newest month first."""
    return list(
        session.scalars(
            select(BehaviourRubric)
            .where(BehaviourRubric.student_id == student_id)
            .order_by(BehaviourRubric.month.desc())
            .limit(limit)
        )
    )


# Incidents.


def _check_incident(values: dict, today: date) -> None:
    errors = {}
    kind = IncidentKind(values["kind"])
    if values["category"] not in INCIDENT_CATEGORIES[kind]:
        errors["category"] = _(
            "incident_category_kind",
            default="Choose a category of the kind chosen: this category belongs to the other kind.",
        )
    occurred_on = values["occurred_on"]
    if occurred_on > today:
        errors["occurred_on"] = _(
            "incident_in_future",
            default="${date} has not come yet: record an incident on or after the day it happened.",
            mapping={"date": occurred_on.strftime("%d/%m/%Y")},
        )
    elif occurred_on < today - INCIDENT_LOOKBACK:
        errors["occurred_on"] = _(
            "incident_too_old",
            default="${date} is more than a year ago; only incidents of the last year are recorded.",
            mapping={"date": occurred_on.strftime("%d/%m/%Y")},
        )
    if not values["description"].strip():
        errors["description"] = _("incident_description_needed", default="Describe what happened.")
    if errors:
        raise InvalidInput(
            _("incident_invalid", default="The incident was not saved: correct the fields marked."),
            errors,
        )


def save_incident(
    session: Session,
    student: Student,
    incident: Incident | None,
    values: dict,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> Incident:
    """Record a new incident of a student, or change one; every write is audited.

    The caller checks that the actor teaches the student (the INCIDENT_RECORD permission).
    """
    _check_incident(values, local_today(now, student.school.timezone))
    if incident is None:
        incident = Incident(
            student_id=student.id, recorded_by_id=actor.user_id, recorded_at=now, follow_up=""
        )
        session.add(incident)
        before: dict = {}
        action = AuditAction.CREATE
    else:
        check_version(incident, version, values, INCIDENT_FIELDS)
        before = audit.snapshot(incident, INCIDENT_FIELDS)
        action = AuditAction.UPDATE
    incident.kind = IncidentKind(values["kind"])
    incident.category = values["category"]
    incident.occurred_on = values["occurred_on"]
    incident.description = values["description"].strip()
    incident.follow_up = (values.get("follow_up") or "").strip()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="incident",
        entity_id=incident.id,
        student_id=student.id,
        org_unit_id=student.school_id,
        now=now,
        changes=audit.diff(before, audit.snapshot(incident, INCIDENT_FIELDS)),
    )
    return incident


def student_incidents(session: Session, student_id: int, limit: int = 50) -> list[Incident]:
    """The student's incidents, newest first, with who recorded them."""
    return list(
        session.scalars(
            select(Incident)
            .options(selectinload(Incident.recorded_by))
            .where(Incident.student_id == student_id)
            .order_by(Incident.occurred_on.desc(), Incident.id.desc())
            .limit(limit)
        )
    )


def negative_incident_counts(
    session: Session, student_ids, since: date, until: date
) -> dict[int, int]:
    """Return {student id: negative incidents from `since` to `until`} in one query.

    `student_ids` is a list of ids or a SELECT of them.
    """
    if isinstance(student_ids, list | tuple | set) and not student_ids:
        return {}
    return dict(
        session.execute(
            select(Incident.student_id, func.count(Incident.id))
            .where(
                Incident.student_id.in_(student_ids),
                Incident.kind == IncidentKind.NEGATIVE,
                Incident.occurred_on >= since,
                Incident.occurred_on <= until,
            )
            .group_by(Incident.student_id)
        ).all()
    )
