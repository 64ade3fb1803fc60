"""Result sheets: entering marks, sign-off and publication, locking, amendments and history.

A sheet belongs to one section, subject and exam window, and to the result-entry task of
its subject teacher. Marks are saved for the whole sheet in one request with a fixed
number of statements. Once published, the sheet is locked: every write path refuses and
is audited, and a change is made only by an approved amendment, which publishes the next
version and keeps the earlier ones.
"""

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Integer, bindparam, delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from spets.forms import vocab
from spets.i18n import TranslationString, _
from spets.models import (
    Amendment,
    AmendmentState,
    AuditAction,
    CycleKind,
    Enrollment,
    ExamKind,
    ExamWindow,
    GradeBand,
    Guardian,
    Mark,
    MarkStatus,
    OrgUnit,
    PublishedMark,
    ResultOptions,
    ResultSheet,
    Role,
    RoleAssignment,
    Section,
    SheetState,
    Student,
    StudentGuardian,
    Task,
    TaskState,
    User,
)
from spets.services import audit, grading, messaging, tasks
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, Locked, NotFound, StaleEdit
from spets.state_machines.base import TransitionNotAllowed, fire
from spets.state_machines.results import AMENDMENT_MACHINE, SHEET_MACHINE

# Maximum marks and step of a new sheet, by kind of exam; teachers may change them while
# the sheet is a draft. Pass marks default to 33 % of the maximum, the boards' pass line.
DEFAULT_SHEET = {
    ExamKind.MONTHLY_ASSESSMENT: (Decimal(25), Decimal("0.5")),
    ExamKind.DECEMBER_TEST: (Decimal(75), Decimal("0.5")),
    ExamKind.ANNUAL_EXAM: (Decimal(100), Decimal(1)),
}
PASS_SHARE = Decimal("0.33")

STALE_SHEET = _(
    "stale_sheet",
    default="Someone else saved this sheet after you opened it. Nothing of yours was saved; "
    "the marks saved meanwhile are shown beside yours.",
)


# Grade scales and options.


def bands_of(session: Session, tenant_id: int) -> list[grading.Band]:
    rows = session.scalars(_bands_statement(), {"tenant_id": tenant_id}).all()
    if not rows:
        return grading.default_bands()
    return [grading.Band(row.grade, row.min_percent, row.passing) for row in rows]


@functools.cache
def _bands_statement():
    return select(GradeBand).where(GradeBand.tenant_id == bindparam("tenant_id", type_=Integer))


def save_grade_scale(
    session: Session, tenant_id: int, bands: list[grading.Band], *, actor: Actor, now: datetime
) -> None:
    """Replace a tenant's grade scale after checking it is complete and unambiguous."""
    minima = [band.min_percent for band in bands]
    grades = [band.grade.strip() for band in bands]
    problems = []
    if not bands or min(minima) != 0:
        problems.append(
            _(
                "scale_needs_zero",
                default="The lowest band must start at 0 %, so every percentage gets a grade.",
            )
        )
    if len(set(minima)) != len(minima):
        problems.append(
            _("scale_repeated_minimum", default="Two bands start at the same percentage.")
        )
    if len(set(grades)) != len(grades) or any(not grade for grade in grades):
        problems.append(_("scale_repeated_grade", default="Each band needs its own grade name."))
    if any(not 0 <= minimum <= 100 for minimum in minima):
        problems.append(_("scale_outside_range", default="Each band starts between 0 % and 100 %."))
    if problems:
        raise InvalidInput(problems[0], {"bands": problems[0]})

    before = [(b.grade, str(b.min_percent)) for b in bands_of(session, tenant_id)]
    session.execute(delete(GradeBand).where(GradeBand.tenant_id == tenant_id))
    session.execute(
        insert(GradeBand),
        [
            {
                "tenant_id": tenant_id,
                "grade": b.grade.strip(),
                "min_percent": b.min_percent,
                "passing": b.passing,
            }
            for b in bands
        ],
    )
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="grade_scale",
        entity_id=tenant_id,
        org_unit_id=tenant_id,
        now=now,
        changes={
            "bands": {"before": before, "after": [(b.grade, str(b.min_percent)) for b in bands]}
        },
    )


def options_of(session: Session, tenant_id: int) -> ResultOptions:
    return session.get(ResultOptions, tenant_id) or ResultOptions(
        tenant_id=tenant_id, show_class_position=False
    )


# Sheets.


def sheet_for_task(session: Session, task: Task, now: datetime) -> ResultSheet:
    """Return the sheet of a result-entry task, creating it on first use."""
    sheet = session.scalar(select(ResultSheet).where(ResultSheet.task_id == task.id))
    if sheet is not None:
        return sheet
    window = session.get(ExamWindow, task.cycle_run.exam_window_id)
    existing = session.scalar(
        select(ResultSheet).where(
            ResultSheet.section_id == task.section_id,
            ResultSheet.subject_id == task.subject_id,
            ResultSheet.exam_window_id == window.id,
        )
    )
    if existing is not None:
        existing.task_id = task.id  # a replaced teacher's task takes the sheet over
        session.flush()
        return existing
    max_marks, step = DEFAULT_SHEET[window.kind]
    sheet = ResultSheet(
        section_id=task.section_id,
        subject_id=task.subject_id,
        exam_window_id=window.id,
        task_id=task.id,
        max_marks=max_marks,
        pass_marks=grading.round_half_up(max_marks * PASS_SHARE),
        step=step,
        state=SheetState.DRAFT,
        published_version=0,
        created_at=now,
        updated_at=now,
    )
    session.add(sheet)
    session.flush()
    return sheet


def get_sheet(session: Session, sheet_id: int) -> ResultSheet:
    sheet = session.get(ResultSheet, sheet_id)
    if sheet is None:
        raise NotFound(_("sheet_not_found", default="No such result sheet."))
    return sheet


@dataclass
class RollRow:
    student: Student
    status: MarkStatus
    marks: Decimal | None
    enrolled_from: date
    enrolled_until: date | None

    @property
    def typed(self) -> str:
        return grading.show_mark(self.status, self.marks)


def roll(session: Session, sheet: ResultSheet) -> list[RollRow]:
    """The students of the section during the exam window, with their marks on the sheet.

    A student who joined after the window or left before it is not on the sheet, so
    figures count each student only where they were enrolled.
    """
    window = sheet.exam_window
    rows = session.execute(
        select(Student, Enrollment.starts_on, Enrollment.ends_on, Mark)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .outerjoin(Mark, (Mark.student_id == Student.id) & (Mark.sheet_id == sheet.id))
        .where(
            Enrollment.section_id == sheet.section_id,
            Enrollment.starts_on <= window.ends_on,
            or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= window.starts_on),
        )
        .order_by(Student.name_en, Student.id)
    ).all()
    seen: dict[int, RollRow] = {}
    for student, starts_on, ends_on, mark in rows:
        if student.id in seen:
            continue
        status = mark.status if mark else MarkStatus.MISSING
        seen[student.id] = RollRow(
            student, status, mark.marks if mark else None, starts_on, ends_on
        )
    return list(seen.values())


class MarkEntryErrors(InvalidInput):
    """Marks that cannot be saved, one message per student; nothing of the save was kept."""

    def __init__(self, errors: Mapping[int, TranslationString]):
        super().__init__(
            _(
                "marks_refused",
                default="${count} mark(s) could not be saved; nothing was changed. Correct them and save again.",
                mapping={"count": len(errors)},
            ),
            {f"mark-{student_id}": message for student_id, message in errors.items()},
        )
        self.errors = dict(errors)


def refuse_if_locked(
    session: Session, sheet: ResultSheet, *, path: str, actor: Actor, now: datetime
) -> None:
    """Refuse any direct write to a sheet that is not a draft; a locked sheet's refusal is audited."""
    if sheet.state == SheetState.DRAFT:
        return
    if sheet.state == SheetState.PUBLISHED:
        audit.record(
            session,
            actor=actor,
            action=AuditAction.REFUSED,
            entity_type="result_sheet",
            entity_id=sheet.id,
            org_unit_id=sheet.section.school_id,
            reason=f"write to a published sheet through {path}",
            now=now,
        )
        raise Locked(
            _(
                "result_sheet_locked",
                default="This sheet is published and locked. Request an amendment to change a mark.",
            )
        )
    raise Locked(
        _(
            "sheet_not_draft",
            default="This sheet is ${state}; marks can change only while it is a draft.",
            mapping={"state": vocab.SHEET_STATE[sheet.state]},
        )
    )


@dataclass
class SaveResult:
    changed: int = 0
    unchanged: int = 0
    lock_version: int = 0
    differences: dict = field(default_factory=dict)


def save_marks(
    session: Session,
    sheet: ResultSheet,
    typed: Mapping[int, str],
    *,
    lock_version: int | None,
    actor: Actor,
    now: datetime,
    path: str = "grid",
) -> SaveResult:
    """Save what was typed for the students on the sheet: all of it, or nothing.

    Runs a fixed number of statements whatever the class size: one read of the roll, one
    INSERT and one UPDATE of many rows, one version check, one audit row.
    """
    refuse_if_locked(session, sheet, path=path, actor=actor, now=now)
    rows = {row.student.id: row for row in roll(session, sheet)}
    unknown = [student_id for student_id in typed if student_id not in rows]
    if unknown:
        raise InvalidInput(
            _(
                "marks_unknown_student",
                default="The sheet has no student with id ${ids}.",
                mapping={"ids": ", ".join(map(str, unknown))},
            )
        )

    read: dict[int, tuple[MarkStatus, Decimal | None]] = {}
    errors: dict[int, TranslationString] = {}
    for student_id, text in typed.items():
        student = rows[student_id].student
        try:
            read[student_id] = grading.read_mark(
                text, max_marks=sheet.max_marks, step=sheet.step, student=student.name_en
            )
        except grading.MarkError as error:
            errors[student_id] = error.message
    if errors:
        raise MarkEntryErrors(errors)

    if lock_version is not None and lock_version != sheet.lock_version:
        differences = {
            student_id: (rows[student_id].typed, grading.show_mark(*value))
            for student_id, value in read.items()
            if (rows[student_id].status, rows[student_id].marks) != value
        }
        raise StaleEdit(
            STALE_SHEET,
            current_version=sheet.lock_version,
            differences=differences,
        )

    result = SaveResult()
    new_rows, changed_rows, changes = [], [], {}
    existing = set(session.scalars(select(Mark.student_id).where(Mark.sheet_id == sheet.id)))
    for student_id, (status, value) in read.items():
        row = rows[student_id]
        if (row.status, row.marks) == (status, value) and student_id in existing:
            result.unchanged += 1
            continue
        values = {
            "status": status,
            "marks": value,
            "updated_at": now,
            "updated_by_id": actor.user_id,
        }
        if student_id in existing:
            changed_rows.append(
                {"mark_sheet_id": sheet.id, "mark_student_id": student_id, **values}
            )
        else:
            new_rows.append({"sheet_id": sheet.id, "student_id": student_id, **values})
        changes[str(student_id)] = {"before": row.typed, "after": grading.show_mark(status, value)}
    if new_rows:
        session.execute(insert(Mark), new_rows)
    if changed_rows:
        session.connection().execute(
            update(Mark.__table__)
            .where(
                Mark.__table__.c.sheet_id == bindparam("mark_sheet_id"),
                Mark.__table__.c.student_id == bindparam("mark_student_id"),
            )
            .values(
                status=bindparam("status"),
                marks=bindparam("marks"),
                updated_at=bindparam("updated_at"),
                updated_by_id=bindparam("updated_by_id"),
            ),
            changed_rows,
        )
    result.changed = len(new_rows) + len(changed_rows)
    if result.changed:
        _bump_version(session, sheet, now)
        audit.record(
            session,
            actor=actor,
            action=AuditAction.UPDATE,
            entity_type="result_sheet",
            entity_id=sheet.id,
            org_unit_id=sheet.section.school_id,
            reason=f"marks saved through {path}",
            changes=changes,
            now=now,
        )
        _start_task(session, sheet, actor, now)
    result.lock_version = sheet.lock_version
    return result


def _bump_version(session: Session, sheet: ResultSheet, now: datetime) -> None:
    """Move the sheet's version on, refusing if another save moved it first.

    The conditional UPDATE makes two saves that read the same version at the same moment
    conflict: only one of them finds its version still there.
    """
    version = sheet.lock_version
    moved = session.execute(
        update(ResultSheet)
        .where(ResultSheet.id == sheet.id, ResultSheet.lock_version == version)
        .values(lock_version=version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise StaleEdit(
            STALE_SHEET,
            current_version=version + 1,
        )
    session.expire(sheet, ["lock_version", "updated_at"])


def _start_task(session: Session, sheet: ResultSheet, actor: Actor, now: datetime) -> None:
    task = session.get(Task, sheet.task_id) if sheet.task_id else None
    if task is not None and task.state.value in ("open", "returned"):
        tasks.start_task(session, task, actor=actor, now=now)


def update_settings(
    session: Session,
    sheet: ResultSheet,
    *,
    max_marks: Decimal,
    pass_marks: Decimal,
    step: Decimal,
    lock_version: int | None,
    actor: Actor,
    now: datetime,
) -> ResultSheet:
    """Change the maximum, pass marks or step of a draft; marks already typed must still fit."""
    refuse_if_locked(session, sheet, path="settings", actor=actor, now=now)
    if lock_version is not None and lock_version != sheet.lock_version:
        raise StaleEdit(
            STALE_SHEET,
            current_version=sheet.lock_version,
        )
    errors = {}
    if step not in (Decimal(1), Decimal("0.5")):
        errors["step"] = _(
            "step_whole_or_half", default="Marks go in whole or half marks: the step is 1 or 0.5."
        )
    if max_marks <= 0 or max_marks % step:
        errors["max_marks"] = _(
            "max_not_on_step", default="The maximum must be above zero and a multiple of the step."
        )
    if not 0 <= pass_marks <= max_marks:
        errors["pass_marks"] = _(
            "pass_above_max", default="The pass marks must lie between 0 and the maximum."
        )
    if errors:
        raise InvalidInput(next(iter(errors.values())), errors)
    for row in roll(session, sheet):
        if row.status == MarkStatus.ENTERED and (row.marks > max_marks or row.marks % step):
            message = _(
                "settings_break_marks",
                default="${student} already has ${marks}, which the new maximum or step would not allow.",
                mapping={"student": row.student.name_en, "marks": row.typed},
            )
            raise InvalidInput(message, {"max_marks": message})
    before = audit.snapshot(sheet, ("max_marks", "pass_marks", "step"))
    sheet.max_marks, sheet.pass_marks, sheet.step = max_marks, pass_marks, step
    sheet.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="result_sheet",
        entity_id=sheet.id,
        org_unit_id=sheet.section.school_id,
        changes=audit.diff(before, audit.snapshot(sheet, ("max_marks", "pass_marks", "step"))),
        now=now,
    )
    return sheet


# Sign-off and publication.


def _move(
    session: Session,
    sheet: ResultSheet,
    trigger: str,
    *,
    actor: Actor,
    now: datetime,
    comment: str = "",
) -> None:
    try:
        fire(
            SHEET_MACHINE,
            sheet,
            trigger,
            session=session,
            actor_id=actor.user_id,
            client_addr=actor.client_addr,
            now=now,
            comment=comment,
            org_unit_id=sheet.section.school_id,
        )
    except TransitionNotAllowed as refused:
        if sheet.state == SheetState.PUBLISHED:
            refuse_if_locked(session, sheet, path=trigger, actor=actor, now=now)
        raise Locked(
            _(
                "sheet_wrong_state",
                default="This cannot be done to a sheet that is ${state}.",
                mapping={"state": vocab.SHEET_STATE[sheet.state]},
            )
        ) from refused
    session.flush()


def missing_students(session: Session, sheet: ResultSheet) -> list[Student]:
    """Students still enrolled during the window whose mark is not entered yet."""
    return [row.student for row in roll(session, sheet) if row.status == MarkStatus.MISSING]


def submit_sheet(
    session: Session,
    sheet: ResultSheet,
    *,
    actor: Actor,
    now: datetime,
    lock_version: int | None = None,
) -> None:
    if lock_version is not None and lock_version != sheet.lock_version:
        raise StaleEdit(
            STALE_SHEET,
            current_version=sheet.lock_version,
        )
    missing = missing_students(session, sheet)
    if missing and sheet.state == SheetState.DRAFT:
        names = ", ".join(student.name_en for student in missing[:20])
        more = len(missing) - 20
        raise InvalidInput(
            _(
                "sheet_has_missing",
                default="${count} student(s) have no mark yet: ${names}${more}. Type a mark, or A for absent, for each.",
                mapping={
                    "count": len(missing),
                    "names": names,
                    "more": f" (+{more})" if more > 0 else "",
                },
            )
        )
    _move(session, sheet, "submit", actor=actor, now=now)
    task = session.get(Task, sheet.task_id) if sheet.task_id else None
    if task is not None and task.is_pending:
        tasks.submit_task(session, task, actor=actor, now=now)


def verify_sheet(session: Session, sheet: ResultSheet, *, actor: Actor, now: datetime) -> None:
    _move(session, sheet, "verify", actor=actor, now=now)


def return_sheet(
    session: Session, sheet: ResultSheet, comment: str, *, actor: Actor, now: datetime
) -> None:
    if not comment.strip():
        message = _(
            "return_needs_comment", default="Say what must change: a return needs a comment."
        )
        raise InvalidInput(message, {"comment": message})
    _move(session, sheet, "send_back", actor=actor, now=now, comment=comment)
    task = session.get(Task, sheet.task_id) if sheet.task_id else None
    if task is not None and task.state.value == "submitted":
        tasks.return_task(session, task, comment, actor=actor, now=now)


def publish_sheet(session: Session, sheet: ResultSheet, *, actor: Actor, now: datetime) -> int:
    """Publish a verified sheet: lock it, copy its marks as version 1 and tell the guardians."""
    _move(session, sheet, "publish", actor=actor, now=now)
    version = _publish_version(session, sheet, now)
    task = session.get(Task, sheet.task_id) if sheet.task_id else None
    if task is not None and task.state.value == "submitted":
        tasks.approve_task(session, task, actor=actor, now=now)
    _notify_guardians(session, sheet, version, now, student_ids=None)
    return version


def _publish_version(session: Session, sheet: ResultSheet, now: datetime) -> int:
    sheet.published_version += 1
    session.execute(
        insert(PublishedMark).from_select(
            ["sheet_id", "version", "student_id", "status", "marks", "published_at"],
            select(
                Mark.sheet_id,
                literal(sheet.published_version, Integer),
                Mark.student_id,
                Mark.status,
                Mark.marks,
                literal(now, PublishedMark.published_at.type),
            ).where(Mark.sheet_id == sheet.id),
        )
    )
    session.flush()
    return sheet.published_version


def _notify_guardians(
    session: Session, sheet: ResultSheet, version: int, now: datetime, student_ids
) -> int:
    """Queue a held message to each guardian of the sheet's students (sent once parents have accounts)."""
    query = (
        select(Guardian, Student)
        .join(StudentGuardian, StudentGuardian.guardian_id == Guardian.id)
        .join(Student, Student.id == StudentGuardian.student_id)
        .join(Mark, (Mark.student_id == Student.id) & (Mark.sheet_id == sheet.id))
    )
    if student_ids is not None:
        query = query.where(Student.id.in_(list(student_ids)))
    queued = 0
    for guardian, student in session.execute(query):
        draft = messaging.Draft(
            subject=_(
                "result_published_subject",
                default="New result for ${student}",
                mapping={"student": student.name(guardian.preferred_locale)},
            ),
            body=_(
                "result_published_body",
                default="The ${exam} result in ${subject} is published. Sign in to SPeTS to see it.",
                mapping={
                    "exam": sheet.exam_window.name(guardian.preferred_locale),
                    "subject": sheet.subject.name(guardian.preferred_locale),
                },
            ),
            sms=_(
                "result_published_sms", default="SPeTS: a new result is published for your child."
            ),
            link="/portal",
        )
        queued += messaging.queue_for_guardian(
            session,
            key=f"result:{sheet.id}:{version}:{student.id}:{guardian.id}",
            guardian=guardian,
            draft=draft,
            now=now,
        )
    return queued


# Amendments.


def approver_role(session: Session, sheet: ResultSheet, requested_by_id: int | None = None) -> Role:
    """The head teacher decides an amendment, unless a head teacher of the school is party to it.

    When the sheet is the head teacher's own subject, or the head teacher asked for the
    change, nobody in the school may approve it, so the AEO decides.
    """
    task = session.get(Task, sheet.task_id) if sheet.task_id else None
    parties = {user_id for user_id in (task and task.assignee_id, requested_by_id) if user_id}
    if not parties:
        return Role.HEAD_TEACHER
    head_is_party = session.scalar(
        select(RoleAssignment.id)
        .where(
            RoleAssignment.user_id.in_(parties),
            RoleAssignment.role == Role.HEAD_TEACHER,
            RoleAssignment.org_unit_id == sheet.section.school_id,
        )
        .limit(1)
    )
    return Role.AEO if head_is_party else Role.HEAD_TEACHER


def request_amendment(
    session: Session,
    sheet: ResultSheet,
    student_id: int,
    typed: str,
    reason: str,
    *,
    actor: Actor,
    now: datetime,
) -> Amendment:
    if sheet.state != SheetState.PUBLISHED:
        raise Locked(
            _(
                "amend_only_published",
                default="Only a published sheet is amended; a draft is changed directly.",
            )
        )
    rows = {row.student.id: row for row in roll(session, sheet)}
    if student_id not in rows:
        raise NotFound(_("student_not_on_sheet", default="This student is not on the sheet."))
    _refuse_second_pending_request(session, sheet, rows[student_id].student)
    if len(reason.strip()) < 10:
        message = _(
            "amend_reason_needed",
            default="Give the reason for the change in a sentence (at least 10 characters).",
        )
        raise InvalidInput(message, {"reason": message})
    row = rows[student_id]
    try:
        status, value = grading.read_mark(
            typed, max_marks=sheet.max_marks, step=sheet.step, student=row.student.name_en
        )
    except grading.MarkError as error:
        raise InvalidInput(error.message, {"marks": error.message}) from error
    if status == MarkStatus.MISSING:
        message = _(
            "amend_needs_value", default="An amendment needs the new mark, or A for absent."
        )
        raise InvalidInput(message, {"marks": message})
    if (status, value) == (row.status, row.marks):
        message = _("amend_same_value", default="The new mark is the same as the published one.")
        raise InvalidInput(message, {"marks": message})
    amendment = Amendment(
        sheet_id=sheet.id,
        student_id=student_id,
        old_status=row.status,
        old_marks=row.marks,
        new_status=status,
        new_marks=value,
        reason=reason.strip(),
        state=AmendmentState.REQUESTED,
        requested_by_id=actor.user_id,
        requested_at=now,
    )
    session.add(amendment)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="amendment",
        entity_id=amendment.id,
        student_id=student_id,
        org_unit_id=sheet.section.school_id,
        reason=amendment.reason,
        changes={"marks": {"before": row.typed, "after": grading.show_mark(status, value)}},
        now=now,
    )
    return amendment


def pending_amendment(session: Session, sheet_id: int, student_id: int) -> Amendment | None:
    """Return the amendment of this student's mark that still waits for a decision, if any."""
    return session.scalar(
        select(Amendment)
        .where(
            Amendment.sheet_id == sheet_id,
            Amendment.student_id == student_id,
            Amendment.state == AmendmentState.REQUESTED,
        )
        .order_by(Amendment.id)
        .limit(1)
    )


def _refuse_second_pending_request(session: Session, sheet: ResultSheet, student: Student) -> None:
    """Raise Locked when the student's mark on the sheet already has a request to decide.

    Two pending requests for one mark let an approver approve both, and the second then
    publishes a version identical to the first.
    """
    # Lock the sheet row so that two requests for the same mark made at the same moment
    # are checked one after the other. NOTE: SQLite ignores FOR UPDATE, so there two
    # simultaneous requests may both pass this check.
    session.execute(select(ResultSheet.id).where(ResultSheet.id == sheet.id).with_for_update())
    pending = pending_amendment(session, sheet.id, student.id)
    if pending is None:
        return
    if approver_role(session, sheet, pending.requested_by_id) == Role.AEO:
        message = _(
            "amend_pending_exists_aeo",
            default="A change to the mark of ${student} is already waiting for the AEO's "
            "decision. Wait for that decision before you request another change.",
            mapping={"student": student.name_en},
        )
    else:
        message = _(
            "amend_pending_exists",
            default="A change to the mark of ${student} is already waiting for the head "
            "teacher's decision. Wait for that decision before you request another change.",
            mapping={"student": student.name_en},
        )
    raise Locked(message)


def current_mark(
    session: Session, sheet_id: int, student_id: int
) -> tuple[MarkStatus, Decimal | None]:
    """Return the status and marks of the student's mark as stored on the sheet now."""
    mark = session.scalar(
        select(Mark).where(Mark.sheet_id == sheet_id, Mark.student_id == student_id)
    )
    if mark is None:
        return MarkStatus.MISSING, None
    return mark.status, mark.marks


def may_decide(session: Session, amendment: Amendment, principal) -> bool:
    """Return whether the principal has the approver's role over the sheet's school."""
    role = approver_role(session, amendment.sheet, amendment.requested_by_id)
    school_path = amendment.sheet.section.school.path
    return any(
        grant.role == role and school_path.startswith(grant.org_path) for grant in principal.grants
    ) and (principal.user_id != amendment.requested_by_id)


def decide_amendment(
    session: Session,
    amendment: Amendment,
    approve: bool,
    comment: str,
    *,
    actor: Actor,
    now: datetime,
    version: int | None = None,
) -> Amendment:
    """Approve (publishing the next version of the sheet) or reject an amendment."""
    if version is not None and version != amendment.version:
        raise StaleEdit(
            _("stale_amendment", default="This amendment was decided or changed meanwhile."),
            current_version=amendment.version,
        )
    if not approve and not comment.strip():
        message = _("reject_needs_comment", default="Say why the amendment is rejected.")
        raise InvalidInput(message, {"comment": message})
    sheet = amendment.sheet
    if approve and amendment.state == AmendmentState.REQUESTED:
        _refuse_unchanged_mark(session, amendment)
    try:
        fire(
            AMENDMENT_MACHINE,
            amendment,
            "approve" if approve else "reject",
            session=session,
            actor_id=actor.user_id,
            client_addr=actor.client_addr,
            now=now,
            comment=comment,
            org_unit_id=sheet.section.school_id,
        )
    except TransitionNotAllowed as refused:
        raise Locked(
            _("amendment_decided", default="This amendment was already decided.")
        ) from refused
    if approve:
        session.execute(
            update(Mark)
            .where(Mark.sheet_id == sheet.id, Mark.student_id == amendment.student_id)
            .values(
                status=amendment.new_status,
                marks=amendment.new_marks,
                updated_at=now,
                updated_by_id=actor.user_id,
            )
            .execution_options(synchronize_session=False)
        )
        amendment.published_version = _publish_version(session, sheet, now)
        _notify_guardians(
            session, sheet, amendment.published_version, now, student_ids=[amendment.student_id]
        )
    session.flush()
    return amendment


# Reading published results.


def published_marks(session: Session, student_id: int) -> list[tuple[ResultSheet, PublishedMark]]:
    """Return the latest published mark of each sheet for a student, oldest exam first."""
    rows = session.execute(_published_marks_statement(), {"student_id": student_id}).all()
    return [(sheet, mark) for sheet, mark in rows]


def latest_published_versions(student_id):
    """Build a subquery of (sheet_id, version): the newest published version per sheet."""
    return (
        select(PublishedMark.sheet_id, func.max(PublishedMark.version).label("version"))
        .where(PublishedMark.student_id == student_id)
        .group_by(PublishedMark.sheet_id)
        .subquery()
    )


@functools.cache
def _published_marks_statement():
    """Build the statement once: each caller binds its own `student_id`."""
    student_id = bindparam("student_id", type_=Integer)
    latest = latest_published_versions(student_id)
    return (
        select(ResultSheet, PublishedMark)
        .join(PublishedMark, PublishedMark.sheet_id == ResultSheet.id)
        .join(
            latest,
            (latest.c.sheet_id == PublishedMark.sheet_id)
            & (latest.c.version == PublishedMark.version),
        )
        .join(ExamWindow, ExamWindow.id == ResultSheet.exam_window_id)
        # Many-to-one joins: the sheets' exams, years and subjects come in the same statement.
        .options(
            joinedload(ResultSheet.exam_window).joinedload(ExamWindow.academic_year),
            joinedload(ResultSheet.subject),
        )
        .where(PublishedMark.student_id == student_id)
        .order_by(ExamWindow.starts_on, ResultSheet.subject_id)
    )


def sheet_history(
    session: Session, sheet: ResultSheet
) -> dict[int, dict[int, tuple[MarkStatus, Decimal | None]]]:
    """Every published version of the sheet: {version: {student id: (status, marks)}}."""
    history: dict[int, dict[int, tuple[MarkStatus, Decimal | None]]] = {}
    for mark in session.scalars(
        select(PublishedMark)
        .where(PublishedMark.sheet_id == sheet.id)
        .order_by(PublishedMark.version)
    ):
        history.setdefault(mark.version, {})[mark.student_id] = (mark.status, mark.marks)
    return history


def figures(session: Session, sheet: ResultSheet) -> grading.SheetFigures:
    return grading.sheet_figures(
        [(row.status, row.marks) for row in roll(session, sheet)], sheet.max_marks, sheet.pass_marks
    )


def school_of(sheet: ResultSheet) -> OrgUnit:
    return sheet.section.school


# Reads for the results hub and the section overview.


def _schools_under_grants(principal, roles: tuple[Role, ...]):
    """Build a clause that keeps sections of schools where the principal has one of the roles."""
    paths = [grant.org_path for grant in principal.grants if grant.role in roles]
    if not paths:
        return None
    return Section.school_id.in_(
        select(OrgUnit.id).where(
            or_(*[OrgUnit.path.startswith(path, autoescape=True) for path in paths])
        )
    )


def _sheet_loads():
    return (
        selectinload(ResultSheet.section),
        selectinload(ResultSheet.subject),
        selectinload(ResultSheet.exam_window),
    )


def _refuse_unchanged_mark(session: Session, amendment: Amendment) -> None:
    """Raise InvalidInput when approving would publish a version with the same mark."""
    status, marks = current_mark(session, amendment.sheet_id, amendment.student_id)
    if (status, marks) != (amendment.new_status, amendment.new_marks):
        return
    message = _(
        "amend_already_applied",
        default="The published mark of ${student} is already ${mark}, so approving this "
        "request would publish an identical version. Reject the request instead.",
        mapping={"student": amendment.student.name_en, "mark": grading.show_mark(status, marks)},
    )
    raise InvalidInput(message, {"decision": message})


def amendments_to_decide(session: Session, principal) -> list[Amendment]:
    """List the requested amendments this principal may approve or reject, oldest first."""
    in_schools = _schools_under_grants(principal, (Role.HEAD_TEACHER, Role.AEO))
    if in_schools is None:
        return []
    candidates = session.scalars(
        select(Amendment)
        .join(ResultSheet, ResultSheet.id == Amendment.sheet_id)
        .join(Section, Section.id == ResultSheet.section_id)
        .options(
            selectinload(Amendment.student),
            selectinload(Amendment.requested_by),
            selectinload(Amendment.sheet).options(*_sheet_loads()),
        )
        .where(Amendment.state == AmendmentState.REQUESTED, in_schools)
        .order_by(Amendment.requested_at, Amendment.id)
    ).all()
    return [amendment for amendment in candidates if may_decide(session, amendment, principal)]


def sheets_to_sign_off(session: Session, principal) -> list[ResultSheet]:
    """Submitted or verified sheets in the head teacher's schools, oldest submission first."""
    in_schools = _schools_under_grants(principal, (Role.HEAD_TEACHER,))
    if in_schools is None:
        return []
    return session.scalars(
        select(ResultSheet)
        .join(Section, Section.id == ResultSheet.section_id)
        .options(*_sheet_loads())
        .where(ResultSheet.state.in_((SheetState.SUBMITTED, SheetState.VERIFIED)), in_schools)
        .order_by(ResultSheet.submitted_at, ResultSheet.id)
    ).all()


def amendments_requested_by(session: Session, user_id: int, limit: int = 50) -> list[Amendment]:
    """List the user's own amendment requests, newest first."""
    return session.scalars(
        select(Amendment)
        .options(
            selectinload(Amendment.student), selectinload(Amendment.sheet).options(*_sheet_loads())
        )
        .where(Amendment.requested_by_id == user_id)
        .order_by(Amendment.requested_at.desc(), Amendment.id.desc())
        .limit(limit)
    ).all()


def sections_of_teacher(session: Session, principal) -> list[Section]:
    """List the sections the principal teaches or is class teacher of, by grade and name."""
    section_ids = principal.taught_section_ids | principal.class_section_ids
    if not section_ids:
        return []
    return session.scalars(
        select(Section).where(Section.id.in_(section_ids)).order_by(Section.grade, Section.name)
    ).all()


@dataclass
class OverviewRow:
    """One exam window and subject of a section: its sheet, if any, and the task behind it."""

    window: ExamWindow
    subject_name: str
    teacher: User | None
    sheet: ResultSheet | None
    task: Task | None
    figures: grading.SheetFigures | None


def section_overview(session: Session, section: Section, locale: str) -> list[OverviewRow]:
    """List every sheet of the section, and every open result task without a sheet yet."""
    sheets = session.scalars(
        select(ResultSheet).options(*_sheet_loads()).where(ResultSheet.section_id == section.id)
    ).all()
    result_tasks = session.scalars(
        select(Task)
        .options(
            selectinload(Task.subject), selectinload(Task.assignee), selectinload(Task.cycle_run)
        )
        .where(
            Task.section_id == section.id,
            Task.kind == CycleKind.RESULT_ENTRY,
            Task.state != TaskState.CANCELLED,
        )
    ).all()
    task_by_id = {task.id: task for task in result_tasks}
    window_ids = {task.cycle_run.exam_window_id for task in result_tasks}
    windows = {
        window.id: window
        for window in session.scalars(select(ExamWindow).where(ExamWindow.id.in_(window_ids)))
    }

    rows = []
    covered = set()
    for sheet in sheets:
        task = task_by_id.get(sheet.task_id)
        covered.add((sheet.subject_id, sheet.exam_window_id))
        # NOTE: one roll query per sheet for its figures; a section has a few dozen sheets a year.
        rows.append(
            OverviewRow(
                sheet.exam_window,
                sheet.subject.name(locale),
                task.assignee if task else None,
                sheet,
                task,
                figures(session, sheet),
            )
        )
    for task in result_tasks:
        window = windows.get(task.cycle_run.exam_window_id)
        if window is None or (task.subject_id, window.id) in covered:
            continue
        subject_name = task.subject.name(locale) if task.subject else ""
        rows.append(OverviewRow(window, subject_name, task.assignee, None, task, None))

    rows.sort(key=lambda row: (row.window.starts_on, row.window.id, row.subject_name))
    return rows
