"""Quarterly subject feedback: the catalogue, the sheet of a feedback task, and its figures.

A feedback task covers one teaching assignment: one teacher, one section, one subject, in
one cycle run (a quarter). Its sheet lists the section's students. For each student, the
teacher ticks strengths and weaknesses from the subject's catalogue, gives a planned
action for each weakness and may add a note.

"Last quarter" is the previous run of the same cycle definition, so the first quarter of a
year looks back at the last quarter of the year before. A student's weaknesses of last
quarter are those recorded for the same student and subject in an approved task of that
run, whichever section the student was in; each must be rated improved, unchanged or worse
before the sheet can be submitted.
"""

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from spets.forms.vocab import TASK_STATE
from spets.i18n import _
from spets.models import (
    AuditAction,
    AuditEvent,
    CycleKind,
    CycleRun,
    Enrollment,
    FeedbackCatalogueItem,
    FeedbackEntry,
    FeedbackItem,
    FeedbackKind,
    OrgUnit,
    Progress,
    Section,
    Student,
    Subject,
    Task,
    TaskState,
    User,
    WeaknessRating,
)
from spets.services import audit, tasks
from spets.services.audit import Actor
from spets.services.bulk import insert_ignore_rows
from spets.services.errors import InvalidInput, Locked, NotFound
from spets.services.feedback_catalogue import STARTER_STRENGTHS, STARTER_WEAKNESSES
from spets.services.org import check_version

log = logging.getLogger(__name__)

CATALOGUE_FIELDS = ("subject_id", "kind", "code", "text_en", "text_ur", "position", "is_active")

# Starter codes get a prefix per kind, so a strength and a weakness may share a short name.
CODE_PREFIX = {FeedbackKind.STRENGTH: "s_", FeedbackKind.WEAKNESS: "w_"}

# Feedback that counts on the profile and in the figures: submitted or signed off.
# Drafts are still changing; an approved task is locked.
FINISHED_STATES = (TaskState.SUBMITTED, TaskState.APPROVED)

CatalogueItem = FeedbackCatalogueItem


# The catalogue.


def add_starter_catalogue(session: Session, tenant: OrgUnit, *, actor: Actor, now: datetime) -> int:
    """Add the starter strengths and weaknesses to the tenant's subjects; return how many were new.

    Subjects are matched by the codes of `services.starter` (URDU, ENG, MATH ...). Items
    that exist already, edited or not, are left alone, so loading twice adds nothing.
    """
    codes = set(STARTER_STRENGTHS) | set(STARTER_WEAKNESSES)
    subjects = session.scalars(
        select(Subject).where(Subject.tenant_id == tenant.id, Subject.code.in_(codes))
    ).all()
    if not subjects:
        return 0
    existing = set(
        session.execute(
            select(CatalogueItem.subject_id, CatalogueItem.code).where(
                CatalogueItem.subject_id.in_([s.id for s in subjects])
            )
        ).all()
    )
    rows = []
    for subject in subjects:
        for kind, table in (
            (FeedbackKind.STRENGTH, STARTER_STRENGTHS),
            (FeedbackKind.WEAKNESS, STARTER_WEAKNESSES),
        ):
            for position, (code, text_en, text_ur) in enumerate(table.get(subject.code, ()), 1):
                full_code = CODE_PREFIX[kind] + code
                if (subject.id, full_code) in existing:
                    continue
                rows.append(
                    {
                        "subject_id": subject.id,
                        "kind": kind,
                        "code": full_code,
                        "text_en": text_en,
                        "text_ur": text_ur,
                        "position": position,
                        "is_active": True,
                        "version": 1,
                    }
                )
    insert_ignore_rows(session, CatalogueItem.__table__, rows)
    if rows:
        audit.record(
            session,
            actor=actor,
            action=AuditAction.CREATE,
            entity_type="feedback_catalogue",
            entity_id=None,
            org_unit_id=tenant.id,
            now=now,
            reason=f"starter catalogue: {len(rows)} items added",
        )
    return len(rows)


def catalogue_of_tenant(
    session: Session, tenant_id: int, subject_id: int | None = None
) -> list[FeedbackCatalogueItem]:
    """Return the tenant's catalogue items, inactive ones included, by subject, kind and position."""
    query = (
        select(CatalogueItem)
        .join(Subject, Subject.id == CatalogueItem.subject_id)
        .where(Subject.tenant_id == tenant_id)
        .order_by(Subject.name_en, CatalogueItem.kind, CatalogueItem.position, CatalogueItem.id)
    )
    if subject_id is not None:
        query = query.where(CatalogueItem.subject_id == subject_id)
    return list(session.scalars(query))


def get_catalogue_item(session: Session, item_id: int, tenant_id: int) -> FeedbackCatalogueItem:
    """Return the item, or raise NotFound when it does not exist or belongs to another tenant."""
    item = session.scalar(
        select(CatalogueItem)
        .join(Subject, Subject.id == CatalogueItem.subject_id)
        .where(CatalogueItem.id == item_id, Subject.tenant_id == tenant_id)
    )
    if item is None:
        raise NotFound(_("catalogue_item_not_found", default="No such catalogue item."))
    return item


def save_catalogue_item(
    session: Session,
    *,
    tenant_id: int,
    item: FeedbackCatalogueItem | None,
    values: dict,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> FeedbackCatalogueItem:
    """Create an item, or update one; an existing item keeps its subject and kind.

    Feedback already recorded points at the item, so moving it to another subject or
    turning a strength into a weakness would change what was recorded.
    """
    if item is None:
        subject = session.get(Subject, values["subject_id"])
        if subject is None or subject.tenant_id != tenant_id:
            raise NotFound(_("subject_not_found", default="No such subject."))
        subject_id, kind = subject.id, FeedbackKind(values["kind"])
    else:
        check_version(item, version, values, CATALOGUE_FIELDS)
        subject_id, kind = item.subject_id, item.kind

    code = values["code"].strip()
    clash = session.scalar(
        select(CatalogueItem.id).where(
            CatalogueItem.subject_id == subject_id,
            CatalogueItem.code == code,
            CatalogueItem.id != (item.id if item else -1),
        )
    )
    if clash is not None:
        message = _(
            "catalogue_code_taken",
            default='The code "${code}" is already used in this subject.',
            mapping={"code": code},
        )
        raise InvalidInput(message, {"code": message})

    if item is None:
        item = CatalogueItem(subject_id=subject_id, kind=kind, code=code, text_en="", text_ur="")
        session.add(item)
        before: dict = {}
        action = AuditAction.CREATE
    else:
        before = audit.snapshot(item, CATALOGUE_FIELDS)
        action = AuditAction.UPDATE
    item.code = code
    item.text_en = values["text_en"]
    item.text_ur = values["text_ur"]
    item.position = values.get("position", 0)
    item.is_active = values.get("is_active", True)
    session.flush()

    tenant = session.get(Subject, subject_id).tenant_id
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="feedback_catalogue_item",
        entity_id=item.id,
        org_unit_id=tenant,
        now=now,
        changes=audit.diff(before, audit.snapshot(item, CATALOGUE_FIELDS)),
    )
    return item


# Reading a sheet.


@dataclass
class PreviousWeakness:
    """A weakness recorded last quarter, and the rating this sheet gives it (None: not yet)."""

    item_id: int
    text_en: str
    text_ur: str
    planned_action: str
    progress: Progress | None = None

    def text(self, locale: str) -> str:
        return self.text_ur if locale == "ur" and self.text_ur else self.text_en


@dataclass
class SheetRow:
    """One student of the sheet with what is saved for them."""

    student: Student
    # The student's last day in the section, when it comes before the due date.
    left_on: date | None = None
    entry_id: int | None = None
    note: str = ""
    strengths: set[int] = field(default_factory=set)
    weaknesses: dict[int, str] = field(default_factory=dict)
    previous: list[PreviousWeakness] = field(default_factory=list)

    @property
    def still_enrolled(self) -> bool:
        """Whether the student is in the section up to the due date; only then is the row required."""
        return self.left_on is None

    @property
    def unrated(self) -> list[PreviousWeakness]:
        return [weakness for weakness in self.previous if weakness.progress is None]

    @property
    def ratings(self) -> dict[int, Progress]:
        return {w.item_id: w.progress for w in self.previous if w.progress is not None}


@dataclass
class Sheet:
    task: Task
    previous_run: CycleRun | None
    strengths: list[FeedbackCatalogueItem]
    weaknesses: list[FeedbackCatalogueItem]
    rows: list[SheetRow]

    @property
    def is_editable(self) -> bool:
        return self.task.is_pending

    def row_for(self, student_id: int) -> SheetRow | None:
        return next((row for row in self.rows if row.student.id == student_id), None)


@dataclass
class _Saved:
    """Ids of what is stored for a task, to compute the writes of a save."""

    entry_ids: dict[int, int] = field(default_factory=dict)  # student id -> entry id
    notes: dict[int, str] = field(default_factory=dict)  # entry id -> note
    # entry id -> {catalogue item id: (feedback item id, planned action)}
    items: dict[int, dict[int, tuple[int, str]]] = field(default_factory=lambda: defaultdict(dict))
    # entry id -> {previous item id: (rating id, progress)}
    ratings: dict[int, dict[int, tuple[int, Progress]]] = field(
        default_factory=lambda: defaultdict(dict)
    )


def load_sheet(session: Session, task: Task) -> Sheet:
    """Load a feedback task's sheet: roll, catalogue, saved rows and last quarter's weaknesses.

    Runs a fixed number of queries whatever the size of the section.
    """
    return _load(session, task)[0]


def _load(session: Session, task: Task) -> tuple[Sheet, _Saved]:
    if task.kind != CycleKind.QUARTERLY_FEEDBACK or task.section_id is None or not task.subject_id:
        raise NotFound(_("not_a_feedback_task", default="This task has no feedback sheet."))
    rows = _roll(session, task)
    by_student = {row.student.id: row for row in rows}
    catalogue = _catalogue_for(session, task)
    saved = _load_saved(session, task, by_student)
    previous = previous_run(session, task.cycle_run)
    if previous is not None and by_student:
        _attach_previous(session, task, previous, by_student, saved)
    sheet = Sheet(
        task=task,
        previous_run=previous,
        strengths=[item for item in catalogue if item.kind == FeedbackKind.STRENGTH],
        weaknesses=[item for item in catalogue if item.kind == FeedbackKind.WEAKNESS],
        rows=rows,
    )
    return sheet, saved


def _roll(session: Session, task: Task) -> list[SheetRow]:
    """Students enrolled in the task's section at any time from its opening to its due date."""
    result = session.execute(
        select(Student, Enrollment.ends_on)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .where(
            Enrollment.section_id == task.section_id,
            Enrollment.starts_on <= task.due_on,
            or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= task.opens_on),
        )
        .order_by(Student.name_en, Student.id, Enrollment.starts_on)
    )
    rows: dict[int, SheetRow] = {}
    for student, ends_on in result:
        left_on = ends_on if ends_on is not None and ends_on < task.due_on else None
        row = rows.get(student.id)
        if row is None:
            rows[student.id] = SheetRow(student=student, left_on=left_on)
        elif row.left_on is not None and (left_on is None or left_on > row.left_on):
            row.left_on = left_on  # a later enrollment in the same section
    return list(rows.values())


def _catalogue_for(session: Session, task: Task) -> list[FeedbackCatalogueItem]:
    """Return the subject's active items, plus retired items this task already uses."""
    used = (
        select(FeedbackItem.catalogue_item_id)
        .join(FeedbackEntry, FeedbackEntry.id == FeedbackItem.entry_id)
        .where(FeedbackEntry.task_id == task.id)
    )
    return list(
        session.scalars(
            select(CatalogueItem)
            .where(
                CatalogueItem.subject_id == task.subject_id,
                or_(CatalogueItem.is_active.is_(True), CatalogueItem.id.in_(used)),
            )
            .order_by(CatalogueItem.position, CatalogueItem.id)
        )
    )


def _load_saved(session: Session, task: Task, by_student: dict[int, SheetRow]) -> _Saved:
    saved = _Saved()
    student_of_entry: dict[int, int] = {}
    for entry_id, student_id, note in session.execute(
        select(FeedbackEntry.id, FeedbackEntry.student_id, FeedbackEntry.note).where(
            FeedbackEntry.task_id == task.id
        )
    ):
        saved.entry_ids[student_id] = entry_id
        saved.notes[entry_id] = note
        student_of_entry[entry_id] = student_id
        if student_id in by_student:
            by_student[student_id].entry_id = entry_id
            by_student[student_id].note = note

    for entry_id, item_id, catalogue_id, kind, planned_action in session.execute(
        select(
            FeedbackItem.entry_id,
            FeedbackItem.id,
            FeedbackItem.catalogue_item_id,
            FeedbackItem.kind,
            FeedbackItem.planned_action,
        )
        .join(FeedbackEntry, FeedbackEntry.id == FeedbackItem.entry_id)
        .where(FeedbackEntry.task_id == task.id)
    ):
        saved.items[entry_id][catalogue_id] = (item_id, planned_action)
        row = by_student.get(student_of_entry[entry_id])
        if row is None:
            continue
        if kind == FeedbackKind.STRENGTH:
            row.strengths.add(catalogue_id)
        else:
            row.weaknesses[catalogue_id] = planned_action

    for entry_id, rating_id, previous_item_id, progress in session.execute(
        select(
            WeaknessRating.entry_id,
            WeaknessRating.id,
            WeaknessRating.previous_item_id,
            WeaknessRating.progress,
        )
        .join(FeedbackEntry, FeedbackEntry.id == WeaknessRating.entry_id)
        .where(FeedbackEntry.task_id == task.id)
    ):
        saved.ratings[entry_id][previous_item_id] = (rating_id, progress)
    return saved


def previous_run(session: Session, run: CycleRun) -> CycleRun | None:
    """Return the run of the same cycle definition that opened last before `run`."""
    return session.scalar(
        select(CycleRun)
        .where(CycleRun.definition_id == run.definition_id, CycleRun.opens_on < run.opens_on)
        .order_by(CycleRun.opens_on.desc())
        .limit(1)
    )


def _attach_previous(
    session: Session,
    task: Task,
    previous: CycleRun,
    by_student: dict[int, SheetRow],
    saved: _Saved,
) -> None:
    """Give each row the weaknesses recorded for the student last quarter, with saved ratings."""
    result = session.execute(
        select(
            FeedbackItem.id,
            FeedbackEntry.student_id,
            FeedbackItem.planned_action,
            CatalogueItem.text_en,
            CatalogueItem.text_ur,
        )
        .join(FeedbackEntry, FeedbackEntry.id == FeedbackItem.entry_id)
        .join(Task, Task.id == FeedbackEntry.task_id)
        .join(CatalogueItem, CatalogueItem.id == FeedbackItem.catalogue_item_id)
        .where(
            FeedbackEntry.cycle_run_id == previous.id,
            FeedbackEntry.subject_id == task.subject_id,
            FeedbackEntry.student_id.in_(list(by_student)),
            Task.state == TaskState.APPROVED,
            FeedbackItem.kind == FeedbackKind.WEAKNESS,
        )
        .order_by(FeedbackEntry.student_id, CatalogueItem.position, FeedbackItem.id)
    )
    for item_id, student_id, planned_action, text_en, text_ur in result:
        row = by_student[student_id]
        rating = saved.ratings.get(row.entry_id or -1, {}).get(item_id)
        row.previous.append(
            PreviousWeakness(
                item_id=item_id,
                text_en=text_en,
                text_ur=text_ur,
                planned_action=planned_action,
                progress=rating[1] if rating else None,
            )
        )


# Saving a draft.


@dataclass
class _DesiredRow:
    """The content of one student's row after the save."""

    row: SheetRow
    note: str
    strengths: set[int]
    weaknesses: dict[int, str]
    ratings: dict[int, Progress]

    @property
    def is_empty(self) -> bool:
        return not (self.note or self.strengths or self.weaknesses or self.ratings)


def save_draft(
    session: Session,
    task: Task,
    students: Sequence[dict],
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> Sheet:
    """Save the rows sent for some or all students of the sheet; return the sheet as saved.

    `students` contains rows as `forms.feedback.SheetSchema` returns them. A student who is
    not sent keeps what was saved. `version` is the task's version when the sheet was
    loaded: an older one raises StaleEdit. Each save raises the task's version, so a
    second copy opened before this save is refused too. The writes are set-based: the
    same number of statements for 6 students or 60.
    """
    tasks.check_task_version(task, version)
    _require_editable(task)
    sheet, saved = _load(session, task)
    desired_rows = _validate_rows(sheet, students)

    tasks.start_task(session, task, actor=actor, now=now)
    _bump_version(session, task)
    _write(session, task, sheet, saved, desired_rows, actor=actor, now=now)
    return sheet


def _require_editable(task: Task) -> None:
    if not task.is_pending:
        raise Locked(
            _(
                "sheet_locked",
                default="This sheet is ${state} and can no longer change.",
                mapping={"state": TASK_STATE[task.state]},
            )
        )


def _bump_version(session: Session, task: Task) -> None:
    """Raise the task's version by one, unless another request has raised it meanwhile.

    The UPDATE compares the version in SQL, so of two saves of the same copy that run at
    once, the second finds no row to change and raises StaleEdit.
    """
    table = Task.__table__
    current = task.version
    result = session.execute(
        update(table)
        .where(table.c.id == task.id, table.c.version == current)
        .values(version=current + 1)
    )
    if result.rowcount != 1:
        session.refresh(task, attribute_names=["version"])
        tasks.check_task_version(task, current)
    set_committed_value(task, "version", current + 1)


def _validate_rows(sheet: Sheet, students: Sequence[dict]) -> list[_DesiredRow]:
    """Check each row against the sheet; raise InvalidInput naming every bad value."""
    strength_ids = {item.id for item in sheet.strengths}
    weakness_ids = {item.id for item in sheet.weaknesses}
    errors: dict[str, object] = {}
    desired_rows: list[_DesiredRow] = []
    seen: set[int] = set()
    for values in students:
        student_id = values["student_id"]
        key = f"student-{student_id}"
        row = sheet.row_for(student_id)
        if row is None or student_id in seen:
            errors[key] = _(
                "sheet_student_unknown",
                default="Student ${id} is not on this sheet, or was sent twice.",
                mapping={"id": student_id},
            )
            continue
        seen.add(student_id)
        strengths = set(values.get("strengths", ()))
        weaknesses = {
            pick["item_id"]: pick.get("planned_action", "")
            for pick in values.get("weaknesses", ())
            if pick.get("ticked")
        }
        previous_ids = {weakness.item_id for weakness in row.previous}
        ratings = {
            rating["previous_item_id"]: Progress(rating["progress"])
            for rating in values.get("ratings", ())
            if rating.get("progress")
        }
        unknown = (strengths - strength_ids) | (set(weaknesses) - weakness_ids)
        if unknown or set(ratings) - previous_ids:
            errors[key] = _(
                "sheet_item_unknown",
                default="A choice for ${name} is not in this subject's catalogue or not among "
                "last quarter's weaknesses; reload the sheet.",
                mapping={"name": row.student.name_en},
            )
            continue
        desired_rows.append(
            _DesiredRow(row, values.get("note", ""), strengths, weaknesses, ratings)
        )
    if errors:
        raise InvalidInput(
            _("sheet_invalid", default="The sheet was not saved: some rows do not fit it."),
            errors,
        )
    return desired_rows


def _write(
    session: Session,
    task: Task,
    sheet: Sheet,
    saved: _Saved,
    desired_rows: list[_DesiredRow],
    *,
    actor: Actor,
    now: datetime,
) -> None:
    """Write the differences between `saved` and `desired_rows` with one statement per kind of change."""
    catalogue = sheet.strengths + sheet.weaknesses
    codes = {item.id: item.code for item in catalogue}
    kinds = {item.id: item.kind for item in catalogue}
    before = {
        want.row.student.id: _snapshot_saved(want.row.entry_id, saved, codes, kinds)
        for want in desired_rows
    }
    created = _insert_entries(session, task, saved, desired_rows, now)

    note_updates, item_changes, rating_changes, changed = [], _Changes(), _Changes(), []
    for want in desired_rows:
        entry_id = saved.entry_ids.get(want.row.student.id)
        if entry_id is None:
            continue  # an empty row for a student without an entry: nothing to store
        items_before = dict(saved.items.get(entry_id, {}))
        ratings_before = dict(saved.ratings.get(entry_id, {}))
        desired_items = {item_id: "" for item_id in want.strengths} | want.weaknesses
        item_changes.compare(entry_id, items_before, desired_items)
        rating_changes.compare(entry_id, ratings_before, want.ratings)
        after = _snapshot(want.note, want.strengths, want.weaknesses, want.ratings, codes)
        differences = audit.diff(before[want.row.student.id], after)
        if differences:
            changed.append((want, entry_id, differences))
            note_updates.append({"b_id": entry_id, "b_note": want.note, "b_at": now})
        _apply(want, entry_id)

    entries = FeedbackEntry.__table__
    if note_updates:
        session.execute(
            update(entries)
            .where(entries.c.id == bindparam("b_id"))
            .values(note=bindparam("b_note"), updated_at=bindparam("b_at")),
            note_updates,
        )
    item_changes.write(
        session,
        FeedbackItem.__table__,
        key="catalogue_item_id",
        value="planned_action",
        extra=lambda catalogue_id: {"kind": kinds[catalogue_id]},
    )
    rating_changes.write(
        session, WeaknessRating.__table__, key="previous_item_id", value="progress"
    )
    _audit_rows(session, task, changed, created, actor=actor, now=now)


def _insert_entries(
    session: Session, task: Task, saved: _Saved, desired_rows: list[_DesiredRow], now: datetime
) -> set[int]:
    """Insert an entry for each student who gets content for the first time; return their ids."""
    new_rows = [
        {
            "task_id": task.id,
            "student_id": want.row.student.id,
            "subject_id": task.subject_id,
            "cycle_run_id": task.cycle_run_id,
            "note": "",
            "updated_at": now,
        }
        for want in desired_rows
        if want.row.student.id not in saved.entry_ids and not want.is_empty
    ]
    if not new_rows:
        return set()
    table = FeedbackEntry.__table__
    result = session.execute(insert(table).returning(table.c.id, table.c.student_id), new_rows)
    created = set()
    for entry_id, student_id in result:
        saved.entry_ids[student_id] = entry_id
        saved.notes[entry_id] = ""
        created.add(entry_id)
    return created


class _Changes:
    """Rows to delete, insert and update in one child table of the entries."""

    def __init__(self):
        self.deleted: list[int] = []
        self.inserted: list[tuple[int, int, object]] = []  # (entry id, key, value)
        self.updated: list[tuple[int, object]] = []  # (row id, value)

    def compare(self, entry_id: int, stored: dict, desired: dict) -> None:
        for key, (row_id, value) in stored.items():
            if key not in desired:
                self.deleted.append(row_id)
            elif desired[key] != value:
                self.updated.append((row_id, desired[key]))
        for key, value in desired.items():
            if key not in stored:
                self.inserted.append((entry_id, key, value))

    def write(self, session: Session, table, *, key: str, value: str, extra=None) -> None:
        if self.deleted:
            session.execute(delete(table).where(table.c.id.in_(self.deleted)))
        if self.inserted:
            session.execute(
                insert(table),
                [
                    {"entry_id": entry_id, key: row_key, value: row_value}
                    | (extra(row_key) if extra else {})
                    for entry_id, row_key, row_value in self.inserted
                ],
            )
        if self.updated:
            session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values({value: bindparam("b_value")}),
                [{"b_id": row_id, "b_value": row_value} for row_id, row_value in self.updated],
            )


def _apply(want: _DesiredRow, entry_id: int) -> None:
    """Make the in-memory row show what was just written."""
    row = want.row
    row.entry_id = entry_id
    row.note = want.note
    row.strengths = set(want.strengths)
    row.weaknesses = dict(want.weaknesses)
    for weakness in row.previous:
        weakness.progress = want.ratings.get(weakness.item_id)


def _snapshot(note: str, strengths, weaknesses: dict, ratings: dict, codes: dict) -> dict:
    """Return a student's feedback as audit values, with catalogue codes in place of ids."""
    return {
        "note": note,
        "strengths": sorted(codes.get(item_id, str(item_id)) for item_id in strengths),
        "weaknesses": {
            codes.get(item_id, str(item_id)): action
            for item_id, action in sorted(weaknesses.items())
        },
        "ratings": {str(item_id): progress.value for item_id, progress in sorted(ratings.items())},
    }


def _snapshot_saved(entry_id: int | None, saved: _Saved, codes: dict, kinds: dict) -> dict:
    if entry_id is None:
        return _snapshot("", set(), {}, {}, codes)
    stored = saved.items.get(entry_id, {})
    strengths = {cid for cid in stored if kinds.get(cid) == FeedbackKind.STRENGTH}
    weaknesses = {
        cid: action
        for cid, (_item, action) in stored.items()
        if kinds.get(cid) != FeedbackKind.STRENGTH
    }
    ratings = {
        pid: progress for pid, (_rating, progress) in saved.ratings.get(entry_id, {}).items()
    }
    return _snapshot(saved.notes.get(entry_id, ""), strengths, weaknesses, ratings, codes)


def _audit_rows(session, task, changed, created, *, actor: Actor, now: datetime) -> None:
    """Write one audit event per student whose feedback changed, in one statement."""
    if not changed:
        return
    session.execute(
        insert(AuditEvent.__table__),
        [
            {
                "occurred_at": now,
                "actor_id": actor.user_id,
                "action": AuditAction.CREATE if entry_id in created else AuditAction.UPDATE,
                "entity_type": "feedback_entry",
                "entity_id": entry_id,
                "student_id": want.row.student.id,
                "org_unit_id": task.school_id,
                "category": None,
                "reason": f"feedback task {task.id}",
                "changes": differences,
                "client_addr": actor.client_addr,
            }
            for want, entry_id, differences in changed
        ],
    )


# Submitting.


class IncompleteSheet(InvalidInput):
    """The sheet was saved as a draft but cannot be submitted yet.

    `problems` contains one message per kind of gap, naming the subject and the students;
    `field_errors` maps ``student-<id>`` to what is missing in that student's row.
    """

    def __init__(self, message, problems: list, field_errors: dict):
        super().__init__(message, field_errors)
        self.problems = problems


def submission_problems(sheet: Sheet, locale: str = "en") -> tuple[list, dict[str, list]]:
    """Return the gaps that stop a submission: (messages, {"student-<id>": messages}).

    A row is complete when its student has at least one strength or weakness, a planned
    action for each weakness, and a rating for each of last quarter's weaknesses. Rows of
    students who left the section before the due date may stay incomplete.
    """
    subject = sheet.task.subject.name(locale)
    weakness_text = {item.id: item.text(locale) for item in sheet.weaknesses}
    unrated, no_action, empty = [], [], []
    per_student: dict[str, list] = defaultdict(list)
    for row in sheet.rows:
        if not row.still_enrolled:
            continue
        key = f"student-{row.student.id}"
        name = row.student.name(locale)
        if row.unrated:
            unrated.append(name)
            per_student[key].append(
                _(
                    "row_unrated",
                    default="Rate each of last quarter's weaknesses: ${count} still unrated.",
                    mapping={"count": len(row.unrated)},
                )
            )
        missing_action = [weakness_text[i] for i, action in row.weaknesses.items() if not action]
        if missing_action:
            no_action.append(name)
            per_student[key].append(
                _(
                    "row_no_action",
                    default="Give a planned action for: ${weaknesses}.",
                    mapping={"weaknesses": "; ".join(missing_action)},
                )
            )
        if not row.strengths and not row.weaknesses:
            empty.append(name)
            per_student[key].append(
                _("row_empty", default="Tick at least one strength or weakness.")
            )

    problems = []
    if unrated:
        problems.append(
            _(
                "sheet_unrated",
                default="${subject}: last quarter's weaknesses are not rated yet for ${students}.",
                mapping={"subject": subject, "students": ", ".join(unrated)},
            )
        )
    if no_action:
        problems.append(
            _(
                "sheet_no_action",
                default="${subject}: a weakness has no planned action for ${students}.",
                mapping={"subject": subject, "students": ", ".join(no_action)},
            )
        )
    if empty:
        problems.append(
            _(
                "sheet_empty_rows",
                default="${subject}: nothing is ticked yet for ${students}.",
                mapping={"subject": subject, "students": ", ".join(empty)},
            )
        )
    return problems, dict(per_student)


def submit_sheet(
    session: Session,
    task: Task,
    students: Sequence[dict],
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
    locale: str = "en",
) -> Sheet:
    """Save the rows sent, then submit the task to the head teacher if the sheet is complete.

    When the sheet is incomplete, IncompleteSheet lists what is missing, with students'
    names in `locale`. The draft stays saved in the caller's transaction, and the caller
    commits it, so nothing typed is lost.
    """
    sheet = save_draft(session, task, students, version=version, actor=actor, now=now)
    problems, per_student = submission_problems(sheet, locale)
    if problems:
        raise IncompleteSheet(
            _(
                "sheet_incomplete",
                default="Saved as a draft but not submitted. Complete these rows first:",
            ),
            problems,
            per_student,
        )
    tasks.submit_task(session, task, actor=actor, now=now)
    return sheet


# A student's feedback across quarters, for the profile.


@dataclass
class WeaknessHistory:
    item_id: int
    text_en: str
    text_ur: str
    planned_action: str
    progress: Progress | None = None  # the rating given in the next quarter, if any

    def text(self, locale: str) -> str:
        return self.text_ur if locale == "ur" and self.text_ur else self.text_en


@dataclass
class QuarterFeedback:
    """One subject's feedback for a student in one quarter."""

    run_id: int
    period_key: str
    label_en: str
    label_ur: str
    approved: bool
    note: str = ""
    strengths: list[tuple[str, str]] = field(default_factory=list)  # (English, Urdu)
    weaknesses: list[WeaknessHistory] = field(default_factory=list)
    # Ratings given in this quarter to last quarter's weaknesses.
    ratings_given: Counter = field(default_factory=Counter)

    def label(self, locale: str) -> str:
        return self.label_ur if locale == "ur" and self.label_ur else self.label_en

    @property
    def quarter_number(self) -> int | None:
        """The quarter's number from a period key such as ``2026-27/Q3``."""
        _year, marker, number = self.period_key.rpartition("/Q")
        return int(number) if marker and number.isdigit() else None

    @property
    def year_label(self) -> str:
        return self.period_key.rpartition("/Q")[0] or self.period_key


@dataclass
class SubjectHistory:
    subject: Subject
    quarters: list[QuarterFeedback]


def student_history(session: Session, student_id: int) -> list[SubjectHistory]:
    """Return the student's submitted and approved feedback by subject, quarters in order.

    One query whatever the number of quarters: the entries with their items and, for each
    weakness, the ratings that the student's later submitted or approved entries gave it.
    """
    finished_entries = (
        select(FeedbackEntry.id)
        .join(Task, Task.id == FeedbackEntry.task_id)
        .where(FeedbackEntry.student_id == student_id, Task.state.in_(FINISHED_STATES))
    )
    result = session.execute(
        select(
            FeedbackEntry.id,
            FeedbackEntry.note,
            Task.state,
            CycleRun,
            Subject,
            FeedbackItem.id,
            FeedbackItem.kind,
            FeedbackItem.planned_action,
            CatalogueItem.text_en,
            CatalogueItem.text_ur,
            WeaknessRating.entry_id,
            WeaknessRating.progress,
        )
        .join(Task, Task.id == FeedbackEntry.task_id)
        .join(CycleRun, CycleRun.id == FeedbackEntry.cycle_run_id)
        .join(Subject, Subject.id == FeedbackEntry.subject_id)
        .outerjoin(FeedbackItem, FeedbackItem.entry_id == FeedbackEntry.id)
        .outerjoin(CatalogueItem, CatalogueItem.id == FeedbackItem.catalogue_item_id)
        .outerjoin(
            WeaknessRating,
            (WeaknessRating.previous_item_id == FeedbackItem.id)
            & WeaknessRating.entry_id.in_(finished_entries),
        )
        .where(FeedbackEntry.student_id == student_id, Task.state.in_(FINISHED_STATES))
        .order_by(
            Subject.name_en,
            CycleRun.opens_on,
            FeedbackEntry.id,
            CatalogueItem.position,
            FeedbackItem.id,
            WeaknessRating.id,
        )
    )
    subjects: dict[int, SubjectHistory] = {}
    quarters: dict[int, QuarterFeedback] = {}
    weaknesses: dict[int, WeaknessHistory] = {}
    ratings: dict[int, tuple[int, Progress]] = {}  # weakness item id -> (rating entry, progress)
    for (
        entry_id,
        note,
        state,
        run,
        subject,
        item_id,
        kind,
        action,
        text_en,
        text_ur,
        rating_entry_id,
        progress,
    ) in result:
        history = subjects.setdefault(subject.id, SubjectHistory(subject, []))
        quarter = quarters.get(entry_id)
        if quarter is None:
            quarter = QuarterFeedback(
                run_id=run.id,
                period_key=run.period_key,
                label_en=run.label_en,
                label_ur=run.label_ur,
                approved=state == TaskState.APPROVED,
                note=note,
            )
            quarters[entry_id] = quarter
            history.quarters.append(quarter)
        if item_id is None:
            continue
        if kind == FeedbackKind.STRENGTH:
            quarter.strengths.append((text_en, text_ur))
        elif item_id not in weaknesses:
            weaknesses[item_id] = WeaknessHistory(item_id, text_en, text_ur, action)
            quarter.weaknesses.append(weaknesses[item_id])
        if progress is not None:
            ratings[item_id] = (rating_entry_id, progress)  # the latest rating wins

    for item_id, (rating_entry_id, progress) in ratings.items():
        weaknesses[item_id].progress = progress
        if rating_entry_id in quarters:
            quarters[rating_entry_id].ratings_given[progress] += 1
    return list(subjects.values())


# Improvement figures for supervisors.


@dataclass
class ShareRow:
    """Last quarter's weaknesses of one section or teacher, and how this quarter rated them."""

    weaknesses: int = 0
    rated: int = 0
    improved: int = 0
    unchanged: int = 0
    worse: int = 0
    section: Section | None = None
    teacher: User | None = None

    @property
    def share_improved(self) -> float | None:
        """Improved as a share of the rated weaknesses; None while none is rated."""
        return self.improved / self.rated if self.rated else None


@dataclass
class Overview:
    run: CycleRun
    previous: CycleRun | None
    total: ShareRow
    by_section: list[ShareRow]
    by_teacher: list[ShareRow]


@dataclass
class DetailRow:
    student: Student
    subject: Subject
    section_id: int
    teacher_id: int
    text_en: str
    text_ur: str
    planned_action: str
    progress: Progress | None

    def text(self, locale: str) -> str:
        return self.text_ur if locale == "ur" and self.text_ur else self.text_en


def school_runs(session: Session, school_id: int) -> list[CycleRun]:
    """Return the feedback runs that have tasks at the school, newest first."""
    return list(
        session.scalars(
            select(CycleRun)
            .where(
                CycleRun.id.in_(
                    select(Task.cycle_run_id).where(
                        Task.school_id == school_id, Task.kind == CycleKind.QUARTERLY_FEEDBACK
                    )
                )
            )
            .order_by(CycleRun.opens_on.desc())
        )
    )


def _rated_weaknesses(session: Session, school_id: int, run: CycleRun, previous: CycleRun):
    """Build a query source of last quarter's weaknesses at the school with their latest rating.

    A weakness counts when its task was approved; a rating counts when the sheet that gave
    it was submitted or approved. Returns (select-from clause, rating alias, previous task).
    """
    rating_task = aliased(Task)
    rating_entry = aliased(FeedbackEntry)
    latest = (
        select(
            WeaknessRating.previous_item_id.label("item_id"),
            func.max(WeaknessRating.id).label("rating_id"),
        )
        .join(rating_entry, rating_entry.id == WeaknessRating.entry_id)
        .join(rating_task, rating_task.id == rating_entry.task_id)
        .where(rating_entry.cycle_run_id == run.id, rating_task.state.in_(FINISHED_STATES))
        .group_by(WeaknessRating.previous_item_id)
        .subquery("latest_rating")
    )
    rating = aliased(WeaknessRating)
    conditions = (
        FeedbackEntry.cycle_run_id == previous.id,
        Task.school_id == school_id,
        Task.state == TaskState.APPROVED,
        FeedbackItem.kind == FeedbackKind.WEAKNESS,
    )

    def source(query):
        return (
            query.select_from(FeedbackItem)
            .join(FeedbackEntry, FeedbackEntry.id == FeedbackItem.entry_id)
            .join(Task, Task.id == FeedbackEntry.task_id)
            .outerjoin(latest, latest.c.item_id == FeedbackItem.id)
            .outerjoin(rating, rating.id == latest.c.rating_id)
            .where(*conditions)
        )

    return source, rating


def improvement_overview(session: Session, school: OrgUnit, run: CycleRun) -> Overview:
    """Return, per section and per teacher of last quarter, the share of weaknesses improved."""
    previous = previous_run(session, run)
    if previous is None:
        return Overview(run, None, ShareRow(), [], [])
    source, rating = _rated_weaknesses(session, school.id, run, previous)

    def counts(group):
        return source(
            select(
                group,
                func.count(FeedbackItem.id),
                func.count(rating.id),
                func.sum(case((rating.progress == Progress.IMPROVED, 1), else_=0)),
                func.sum(case((rating.progress == Progress.UNCHANGED, 1), else_=0)),
                func.sum(case((rating.progress == Progress.WORSE, 1), else_=0)),
            )
        ).group_by(group)

    def rows(group) -> dict[int, ShareRow]:
        return {
            key: ShareRow(total, rated, improved or 0, unchanged or 0, worse or 0)
            for key, total, rated, improved, unchanged, worse in session.execute(counts(group))
        }

    by_section = rows(Task.section_id)
    by_teacher = rows(Task.assignee_id)
    sections = session.scalars(
        select(Section)
        .where(Section.id.in_(list(by_section)))
        .options(selectinload(Section.academic_year))
    ).all()
    for section in sections:
        by_section[section.id].section = section
    for teacher in session.scalars(select(User).where(User.id.in_(list(by_teacher)))):
        by_teacher[teacher.id].teacher = teacher

    total = ShareRow()
    for row in by_section.values():
        for name in ("weaknesses", "rated", "improved", "unchanged", "worse"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return Overview(
        run=run,
        previous=previous,
        total=total,
        by_section=sorted(by_section.values(), key=lambda r: (r.section.grade, r.section.name)),
        by_teacher=sorted(by_teacher.values(), key=lambda r: r.teacher.display_name),
    )


def improvement_details(
    session: Session,
    school: OrgUnit,
    run: CycleRun,
    *,
    section_id: int | None = None,
    teacher_id: int | None = None,
) -> list[DetailRow]:
    """Return each of last quarter's weaknesses of one section or teacher, with its rating."""
    previous = previous_run(session, run)
    if previous is None:
        return []
    source, rating = _rated_weaknesses(session, school.id, run, previous)
    query = (
        source(
            select(
                Student,
                Subject,
                Task.section_id,
                Task.assignee_id,
                CatalogueItem.text_en,
                CatalogueItem.text_ur,
                FeedbackItem.planned_action,
                rating.progress,
            )
        )
        .join(Student, Student.id == FeedbackEntry.student_id)
        .join(Subject, Subject.id == FeedbackEntry.subject_id)
        .join(CatalogueItem, CatalogueItem.id == FeedbackItem.catalogue_item_id)
        .order_by(Student.name_en, Subject.name_en, CatalogueItem.position)
    )
    if section_id is not None:
        query = query.where(Task.section_id == section_id)
    if teacher_id is not None:
        query = query.where(Task.assignee_id == teacher_id)
    return [DetailRow(*row) for row in session.execute(query)]
