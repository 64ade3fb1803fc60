"""Import students with guardians and family from CSV or XLSX, all rows or none.

The job runs in three phases, each reporting progress:

1. validate: stream the file, validate every row with the same Colander schemas as
   the web forms, and stage the valid rows in `import_rows` (problems go to
   `import_problems`), committing batch by batch so memory stays flat;
2. check: find duplicate admission and B-Form numbers, within the file and against
   the database, in SQL;
3. write: only if no row has a problem, insert students, enrollments, guardians and
   links batch by batch inside one transaction, with COPY on PostgreSQL and multi-row
   INSERTs on other databases.

A failure at any point rolls the write back, so nothing of a failed file is kept.
"""

import csv
import io
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

import colander
from psycopg import sql
from sqlalchemy import ARRAY, Date, String, Table, cast, delete, func, insert, select, update
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Session, sessionmaker

from spets.forms.imports import (
    COLUMN_BY_PATH,
    COLUMN_NAMES,
    COLUMNS,
    REQUIRED_COLUMNS,
    import_row_schema,
    to_cstruct,
)
from spets.forms.types import CNIC
from spets.i18n import TranslationString, _, normalize_digits
from spets.models import (
    AcademicYear,
    AuditAction,
    AuditEvent,
    Enrollment,
    EnrollmentStartReason,
    Guardian,
    ImportJob,
    ImportProblem,
    ImportRow,
    ImportStatus,
    OrgUnit,
    Relation,
    Section,
    Student,
    StudentGuardian,
)
from spets.services.audit import Actor
from spets.services.errors import ServiceError

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
MAX_PROBLEMS = 5000  # Enough to show every problem of a bad file without filling the database.
KIND_STUDENTS = "students"


class ImportFileError(ServiceError):
    """The file as a whole cannot be read: wrong type, encoding or header."""


# Progress, shared between the worker thread and the page that polls it.


@dataclass
class Progress:
    phase: str = "pending"
    done: int = 0
    total: int = 0

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


class ProgressBoard:
    """Live progress of running jobs in this process, keyed by job id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, Progress] = {}

    def update(self, job_id: int, phase: str, done: int, total: int) -> None:
        with self._lock:
            self._jobs[job_id] = Progress(phase, done, total)

    def get(self, job_id: int) -> Progress | None:
        with self._lock:
            return self._jobs.get(job_id)

    def forget(self, job_id: int) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)


PROGRESS = ProgressBoard()

ProgressCallback = Callable[[str, int, int], None]


# Reading files.


def _cell_text(value: Any) -> str:
    """Return a spreadsheet cell as the text a user would have typed."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _normalize_header(name: str) -> str:
    return normalize_digits(str(name or "")).strip().lower().replace(" ", "_").lstrip("\ufeff")


def check_header(header: list[str]) -> list[str]:
    """Return the normalized column names, or raise ImportFileError naming what is wrong."""
    names = [_normalize_header(name) for name in header]
    while names and names[-1] == "":
        names.pop()
    unknown = [name or "(empty)" for name in names if name not in COLUMN_NAMES]
    if unknown:
        raise ImportFileError(
            _(
                "import_unknown_columns",
                default="Unknown column(s): ${columns}. Correct the spelling to match the "
                "template, or remove the column(s).",
                mapping={"columns": ", ".join(unknown)},
            )
        )
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ImportFileError(
            _(
                "import_duplicate_columns",
                default="Column(s) appear twice: ${columns}. Keep one of each.",
                mapping={"columns": ", ".join(duplicated)},
            )
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise ImportFileError(
            _(
                "import_missing_columns",
                default="Required column(s) missing: ${columns}. Add them as in the template.",
                mapping={"columns": ", ".join(missing)},
            )
        )
    return names


def file_kind(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix == ".xlsx":
        return "xlsx"
    raise ImportFileError(
        _(
            "import_wrong_type",
            default='"${name}" is not a CSV or XLSX file. Save the sheet as CSV UTF-8 or as an '
            "Excel workbook (.xlsx).",
            mapping={"name": filename},
        )
    )


def iter_rows(path: Path, kind: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number as the user sees it, {column: text}) for each non-empty row."""
    if kind == "csv":
        yield from _iter_csv(path)
    else:
        yield from _iter_xlsx(path)


def _iter_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            sample = handle.read(4096)
            handle.seek(0)
            delimiter = _sniff_delimiter(sample)
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise ImportFileError(_("import_empty", default="The file is empty."))
            names = check_header(header)
            for values in reader:
                if not any(value.strip() for value in values):
                    continue
                yield reader.line_num, _row_dict(names, values, reader.line_num)
    except UnicodeDecodeError as error:
        raise ImportFileError(
            _(
                "import_not_utf8",
                default="The file is not UTF-8 text (byte ${position} cannot be read). In Excel, "
                'save it as "CSV UTF-8 (Comma delimited)".',
                mapping={"position": error.start},
            )
        ) from error


def _sniff_delimiter(sample: str) -> str:
    first_line = sample.splitlines()[0] if sample else ""
    return max((",", ";", "\t"), key=first_line.count)


def _row_dict(names: list[str], values: list[str], row_number: int) -> dict[str, str]:
    extra = [value for value in values[len(names) :] if str(value).strip()]
    if extra:
        return {"__extra__": ", ".join(extra)}
    return {name: str(value).strip() for name, value in zip(names, values, strict=False)}


def _iter_xlsx(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as error:
        raise ImportFileError(
            _("import_bad_xlsx", default="The file cannot be read as an Excel workbook (.xlsx).")
        ) from error
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ImportFileError(_("import_empty", default="The file is empty."))
        names = check_header([_cell_text(cell) for cell in header])
        for offset, cells in enumerate(rows, start=2):
            texts = [_cell_text(cell) for cell in cells]
            if not any(texts):
                continue
            yield offset, _row_dict(names, texts, offset)
    finally:
        workbook.close()


def count_rows(path: Path, kind: str) -> int:
    """Estimate the data rows cheaply, for the progress bar."""
    if kind == "csv":
        with path.open("rb") as handle:
            return max(sum(1 for _line in handle) - 1, 0)
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True)
        total = max((workbook.worksheets[0].max_row or 1) - 1, 0)
        workbook.close()
        return total
    except Exception:  # noqa: BLE001 - the real read reports the error with a message.
        return 0


# The job.


def create_job(
    session: Session,
    *,
    school: OrgUnit,
    year: AcademicYear,
    filename: str,
    actor: Actor,
    now: datetime,
) -> ImportJob:
    job = ImportJob(
        kind=KIND_STUDENTS,
        school_id=school.id,
        academic_year_id=year.id,
        uploaded_by_id=actor.user_id,
        filename=filename[:255],
        status=ImportStatus.PENDING,
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job


@dataclass
class _Context:
    """What every row of a job needs: the school, its tenant and its sections."""

    job_id: int
    school_id: int
    tenant_id: int
    year_starts_on: date
    year_ends_on: date
    sections: dict[tuple[int, str], int]
    actor: Actor
    now: datetime
    problems: int = 0
    rows: int = 0
    schema: colander.SchemaNode = field(default_factory=import_row_schema)


def run_student_import(
    session_factory: sessionmaker[Session],
    job_id: int,
    path: Path,
    *,
    now: datetime,
    progress: ProgressCallback | None = None,
) -> ImportJob:
    """Run a whole import job and return it in its final state (succeeded or failed)."""

    def report(phase: str, done: int, total: int) -> None:
        PROGRESS.update(job_id, phase, done, total)
        if progress is not None:
            progress(phase, done, total)

    with session_factory() as session:
        job = session.get(ImportJob, job_id)
        context = _load_context(session, job, now)
        kind = file_kind(job.filename)
    try:
        _set_status(session_factory, job_id, ImportStatus.VALIDATING)
        total = count_rows(path, kind)
        report("validate", 0, total)
        _validate_file(
            session_factory, context, path, kind, lambda done: report("validate", done, total)
        )
        report("check", context.rows, context.rows)
        with session_factory() as session, session.begin():
            context.problems += _check_duplicates(session, context)

        if context.problems:
            return _finish(session_factory, job_id, ImportStatus.FAILED, context, "")

        _set_status(session_factory, job_id, ImportStatus.WRITING)
        with session_factory() as session, session.begin():
            written = _write_rows(
                session, context, lambda done: report("write", done, context.rows)
            )
            session.execute(
                update(ImportJob).where(ImportJob.id == job_id).values(rows_written=written)
            )
        return _finish(session_factory, job_id, ImportStatus.SUCCEEDED, context, "")
    except ImportFileError as error:
        return _finish(session_factory, job_id, ImportStatus.FAILED, context, error.message)
    except Exception:
        log.exception("import_failed", extra={"job_id": job_id})
        return _finish(
            session_factory,
            job_id,
            ImportStatus.FAILED,
            context,
            _(
                "import_crashed",
                default="The import stopped on an unexpected error; nothing was saved. "
                "The error is in the server log.",
            ),
        )
    finally:
        PROGRESS.forget(job_id)


def _load_context(session: Session, job: ImportJob, now: datetime) -> _Context:
    school = session.get(OrgUnit, job.school_id)
    year = session.get(AcademicYear, job.academic_year_id)
    sections = {
        (grade, name): section_id
        for section_id, grade, name in session.execute(
            select(Section.id, Section.grade, Section.name).where(
                Section.school_id == school.id, Section.academic_year_id == year.id
            )
        )
    }
    return _Context(
        job_id=job.id,
        school_id=school.id,
        tenant_id=school.tenant_id or school.id,
        year_starts_on=year.starts_on,
        year_ends_on=year.ends_on,
        sections=sections,
        actor=Actor(job.uploaded_by_id),
        now=now,
    )


def _set_status(session_factory: sessionmaker[Session], job_id: int, status: ImportStatus) -> None:
    with session_factory() as session, session.begin():
        session.execute(update(ImportJob).where(ImportJob.id == job_id).values(status=status))


def _finish(
    session_factory: sessionmaker[Session],
    job_id: int,
    status: ImportStatus,
    context: _Context,
    message: TranslationString | str,
) -> ImportJob:
    with session_factory() as session, session.begin():
        session.execute(delete(ImportRow).where(ImportRow.job_id == job_id))
        session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id)
            .values(
                status=status,
                rows_total=context.rows,
                problem_count=context.problems,
                message=_message_json(message),
                finished_at=context.now,
            )
        )
    with session_factory() as session:
        job = session.get(ImportJob, job_id)
        session.expunge(job)
    log.info(
        "import_finished", extra={"job_id": job_id, "status": status.value, "rows": context.rows}
    )
    return job


def _message_json(message: TranslationString | str) -> str:
    """Store a message so the page can translate it later into the reader's language."""
    if not message:
        return ""
    return json.dumps(_message_dict(message), default=str, ensure_ascii=False)


def _message_dict(message: TranslationString | str) -> dict:
    """Return a message as a dict; messages nested in its mapping (a month name) stay messages."""
    if not isinstance(message, TranslationString):
        return {"id": str(message), "default": str(message), "mapping": {}}
    mapping = {
        key: {"message": _message_dict(value)} if isinstance(value, TranslationString) else value
        for key, value in (message.mapping or {}).items()
    }
    return {"id": str(message), "default": message.default, "mapping": mapping}


def message_from_json(text: str) -> TranslationString | str:
    if not text:
        return ""
    return _message_from_dict(json.loads(text))


def _message_from_dict(data: dict) -> TranslationString:
    mapping = {
        key: _message_from_dict(value["message"])
        if isinstance(value, dict) and "message" in value
        else value
        for key, value in data["mapping"].items()
    }
    return _(data["id"], default=data["default"], mapping=mapping)


# Phase 1: validate and stage.


def _validate_file(
    session_factory: sessionmaker[Session],
    context: _Context,
    path: Path,
    kind: str,
    report: Callable[[int], None],
) -> None:
    staged: list[dict] = []
    problems: list[dict] = []

    def flush() -> None:
        with session_factory() as session, session.begin():
            if staged:
                # render_nulls keeps rows without a B-Form in the same statement as the others.
                session.execute(insert(ImportRow).execution_options(render_nulls=True), staged)
            if problems:
                session.execute(insert(ImportProblem), problems)
        staged.clear()
        problems.clear()
        report(context.rows)

    for row_number, row in iter_rows(path, kind):
        context.rows += 1
        row_problems, payload = validate_row(context, row_number, row)
        if row_problems:
            room = MAX_PROBLEMS - context.problems
            problems.extend(row_problems[: max(room, 0)])
            context.problems += len(row_problems)
        # Rows with problems are staged too, so duplicates are found across the whole file.
        staged.append(
            {
                "job_id": context.job_id,
                "row_number": row_number,
                "admission_no": _staged_admission_no(row, payload),
                "b_form": _staged_b_form(row, payload),
                "payload": payload,
            }
        )
        if len(staged) + len(problems) >= BATCH_SIZE:
            flush()
    flush()

    if context.rows == 0:
        raise ImportFileError(_("import_no_rows", default="The file has a header but no rows."))


def _staged_admission_no(row: dict[str, str], payload: dict) -> str:
    if payload:
        return payload["student"]["admission_no"]
    return normalize_digits(row.get("admission_no") or "").strip()[:32]


def _staged_b_form(row: dict[str, str], payload: dict) -> str | None:
    if payload:
        return payload["student"].get("b_form")
    try:
        value = colander.SchemaNode(CNIC()).deserialize(row.get("b_form") or colander.null)
    except colander.Invalid:
        return None
    return value or None


def validate_row(
    context: _Context, row_number: int, row: dict[str, str]
) -> tuple[list[dict], dict]:
    """Validate one row; return its problems, or the JSON-ready values when it has none."""
    if "__extra__" in row:
        return [
            _problem(
                context,
                row_number,
                "(extra)",
                row["__extra__"],
                _(
                    "import_extra_cells",
                    default="The row has more cells than the header has columns. Remove the extra cells or add a column name.",
                ),
            )
        ], {}

    try:
        appstruct = context.schema.deserialize(to_cstruct(row))
    except colander.Invalid as invalid:
        return [
            _problem(
                context, row_number, COLUMN_BY_PATH.get(path, path), _raw_value(row, path), message
            )
            for path, message in _flatten_errors(invalid)
        ], {}

    enrollment = appstruct["enrollment"]
    key = (enrollment["grade"], enrollment["section"])
    section_id = context.sections.get(key)
    if section_id is None:
        return [
            _problem(
                context,
                row_number,
                "section",
                f"{key[0]}-{key[1]}",
                _(
                    "import_no_section",
                    default="Grade ${grade} has no section ${section} at this school this year. Create the section first, or correct the value.",
                    mapping={"grade": key[0], "section": key[1]},
                ),
            )
        ], {}
    admitted_on = enrollment.get("admitted_on") or context.year_starts_on
    if not context.year_starts_on <= admitted_on <= context.year_ends_on:
        return [
            _problem(
                context,
                row_number,
                "admitted_on",
                admitted_on.strftime("%d/%m/%Y"),
                _(
                    "import_admitted_outside_year",
                    default="The admission date must lie in the academic year, from ${start} to ${end}.",
                    mapping={
                        "start": context.year_starts_on.strftime("%d/%m/%Y"),
                        "end": context.year_ends_on.strftime("%d/%m/%Y"),
                    },
                ),
            )
        ], {}
    appstruct["enrollment"] = {"section_id": section_id, "admitted_on": admitted_on}
    return [], _json_ready(appstruct)


def _flatten_errors(invalid: colander.Invalid) -> list[tuple[str, Any]]:
    """Return (dotted path below the row, message) for every error in the tree."""
    results: list[tuple[str, Any]] = []

    def walk(error: colander.Invalid, path: list[str]) -> None:
        messages = error.msg if isinstance(error.msg, list) else [error.msg]
        for message in messages:
            if message is not None:
                results.append((".".join(path) or "(row)", message))
        for child in error.children:
            walk(child, path + [child.node.name])

    walk(invalid, [])
    return results


def _raw_value(row: dict[str, str], path: str) -> str:
    column = COLUMN_BY_PATH.get(path)
    return row.get(column, "") if column else ""


def _problem(context: _Context, row_number: int, column: str, value: str, message) -> dict:
    return {
        "job_id": context.job_id,
        "row_number": row_number,
        "column": column[:64],
        "value": str(value)[:500],
        "message": _message_json(_required_message(message)),
    }


def _required_message(message):
    """Replace colander's bare "Required" with a message that says what to do."""
    if isinstance(message, TranslationString) and str(message) == "Required":
        return _("import_required", default="This column is required: fill it in.")
    return message


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items() if item is not colander.null}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


# Phase 2: duplicates, in SQL.


def _check_duplicates(session: Session, context: _Context) -> int:
    found = 0
    found += _duplicates_in_file(session, context, ImportRow.admission_no, "admission_no")
    found += _duplicates_in_file(session, context, ImportRow.b_form, "b_form")

    taken_admission = session.execute(
        select(ImportRow.row_number, ImportRow.admission_no)
        .join(
            Student,
            (Student.school_id == context.school_id)
            & (Student.admission_no == ImportRow.admission_no),
        )
        .where(ImportRow.job_id == context.job_id)
    ).all()
    taken_b_form = session.execute(
        select(ImportRow.row_number, ImportRow.b_form)
        .join(
            Student, (Student.tenant_id == context.tenant_id) & (Student.b_form == ImportRow.b_form)
        )
        .where(ImportRow.job_id == context.job_id, ImportRow.b_form.is_not(None))
    ).all()
    problems = [
        _problem(
            context,
            row,
            "admission_no",
            value,
            _(
                "import_admission_exists",
                default="A student with this admission number is already in SPeTS at this school.",
            ),
        )
        for row, value in taken_admission
    ] + [
        _problem(
            context,
            row,
            "b_form",
            value,
            _(
                "import_b_form_exists",
                default="A student with this B-Form number is already in SPeTS; admit them as a transfer instead.",
            ),
        )
        for row, value in taken_b_form
    ]
    if problems:
        session.execute(insert(ImportProblem), problems)
    return found + len(problems)


def _duplicates_in_file(session: Session, context: _Context, column, name: str) -> int:
    first_rows = (
        select(column.label("value"), func.min(ImportRow.row_number).label("first_row"))
        .where(ImportRow.job_id == context.job_id, column.is_not(None), column != "")
        .group_by(column)
        .having(func.count() > 1)
        .subquery()
    )
    repeats = session.execute(
        select(ImportRow.row_number, column, first_rows.c.first_row)
        .join(first_rows, first_rows.c.value == column)
        .where(ImportRow.job_id == context.job_id, ImportRow.row_number != first_rows.c.first_row)
        .order_by(ImportRow.row_number)
    ).all()
    problems = [
        _problem(
            context,
            row,
            name,
            value,
            _(
                "import_repeated_in_file",
                default="The same value is already on row ${first} of this file.",
                mapping={"first": first},
            ),
        )
        for row, value, first in repeats
    ]
    if problems:
        session.execute(insert(ImportProblem), problems)
    return len(problems)


# Phase 3: write.


def _write_rows(session: Session, context: _Context, report: Callable[[int], None]) -> int:
    written = 0
    last_row = 0
    while True:
        batch = session.execute(
            select(ImportRow.row_number, ImportRow.payload)
            .where(ImportRow.job_id == context.job_id, ImportRow.row_number > last_row)
            .order_by(ImportRow.row_number)
            .limit(BATCH_SIZE)
        ).all()
        if not batch:
            return written
        last_row = batch[-1].row_number
        write_batch(session, context, [row.payload for row in batch])
        written += len(batch)
        report(written)


_STUDENT_COLUMNS = {column.key: column for column in Student.__table__.columns}
_GUARDIAN_COLUMNS = {column.key: column for column in Guardian.__table__.columns}


def _nulls_for(model: type) -> dict[str, None]:
    """Return None for each column of `model` that has no default and is not the key."""
    return {
        column.key: None
        for column in model.__table__.columns
        if not column.primary_key and column.default is None and column.server_default is None
    }


# Every row of a batch must have the same keys, because COPY takes one column list and an
# ORM bulk INSERT sends each run of rows with the same keys as a statement of its own.
# Rows start from these NULLs. The code sets the columns with a default (version,
# preferred_locale) on every row, because COPY applies only server-side defaults.
_STUDENT_NULLS = _nulls_for(Student)
_GUARDIAN_NULLS = _nulls_for(Guardian)


def _from_json(columns: dict, values: dict) -> dict:
    """Turn JSON values back into the Python types of the model's columns."""
    result = {}
    for key, value in values.items():
        column = columns.get(key)
        if column is None:
            continue
        if value is not None and isinstance(column.type, SAEnum) and column.type.enum_class:
            value = column.type.enum_class(value)
        elif value is not None and isinstance(column.type, Date):
            value = date.fromisoformat(value)
        result[key] = value
    return result


def write_batch(session: Session, context: _Context, payloads: list[dict]) -> None:
    """Insert one batch of validated rows: COPY on PostgreSQL, multi-row INSERTs elsewhere."""
    student_rows = []
    for payload in payloads:
        values = {**payload["student"], **payload.get("household", {})}
        student_rows.append(
            {
                **_STUDENT_NULLS,
                **_from_json(_STUDENT_COLUMNS, values),
                "tenant_id": context.tenant_id,
                "school_id": context.school_id,
                "created_at": context.now,
                "updated_at": context.now,
                "version": 1,
            }
        )
    student_ids = _insert_with_ids(session, Student, student_rows)

    _insert_rows(
        session,
        Enrollment,
        [
            {
                "student_id": student_id,
                "section_id": payload["enrollment"]["section_id"],
                "starts_on": date.fromisoformat(payload["enrollment"]["admitted_on"]),
                "start_reason": EnrollmentStartReason.ADMISSION,
                "note": "",
                "created_at": context.now,
                "created_by_id": context.actor.user_id,
            }
            for student_id, payload in zip(student_ids, payloads, strict=True)
        ],
    )
    _write_guardians(session, context, student_ids, payloads)
    _insert_rows(
        session,
        AuditEvent,
        [
            {
                "occurred_at": context.now,
                "actor_id": context.actor.user_id,
                "action": AuditAction.IMPORT,
                "entity_type": "student",
                "entity_id": student_id,
                "student_id": student_id,
                "org_unit_id": context.school_id,
                "reason": f"import job {context.job_id}",
            }
            for student_id in student_ids
        ],
    )


def _guardians_of(payload: dict) -> list[tuple[str, Relation, dict]]:
    """Return (group, relation, guardian values) for the guardians a row describes."""
    student = payload["student"]
    primary = (payload.get("links") or {}).get("primary_guardian")
    found = []
    father = payload.get("father")
    if father or primary == "father":
        values = {
            **(father or {}),
            "name_en": student["father_name_en"],
            "name_ur": student["father_name_ur"],
        }
        found.append(("father", Relation.FATHER, values))
    if payload.get("mother", {}).get("name_en"):
        found.append(("mother", Relation.MOTHER, payload["mother"]))
    other = payload.get("guardian")
    if other and other.get("name_en"):
        values = {key: value for key, value in other.items() if key != "relation"}
        found.append(("guardian", Relation(other["relation"]), values))
    return found


def _write_guardians(
    session: Session, context: _Context, student_ids: list[int], payloads: list[dict]
) -> None:
    wanted = [
        (student_id, group, relation, values, group == _primary_group(payload))
        for student_id, payload in zip(student_ids, payloads, strict=True)
        for group, relation, values in _guardians_of(payload)
    ]
    if not wanted:
        return

    # Siblings share a guardian: one row per CNIC, reusing guardians already stored.
    cnics = {
        values["cnic"] for _sid, _group, _rel, values, _primary in wanted if values.get("cnic")
    }
    by_cnic = _stored_guardian_ids(session, context.tenant_id, cnics) if cnics else {}
    new_rows: list[dict] = []
    new_keys: list[str | None] = []
    new_cnics: set[str] = set()
    for _sid, _group, _rel, values, _primary in wanted:
        cnic = values.get("cnic")
        if cnic and (cnic in by_cnic or cnic in new_cnics):
            continue
        row = _from_json(_GUARDIAN_COLUMNS, values)
        row.setdefault("name_ur", "")
        if row.get("preferred_locale") is None:
            row["preferred_locale"] = "ur"
        new_rows.append({**_GUARDIAN_NULLS, **row, "tenant_id": context.tenant_id, "version": 1})
        new_keys.append(cnic)
        if cnic:
            new_cnics.add(cnic)

    new_ids = _insert_with_ids(session, Guardian, new_rows) if new_rows else []

    # Guardians without a CNIC were inserted in the order of `wanted`; hand their ids out in turn.
    anonymous_ids = iter([gid for gid, key in zip(new_ids, new_keys, strict=True) if key is None])
    by_cnic.update(
        {key: gid for gid, key in zip(new_ids, new_keys, strict=True) if key is not None}
    )

    links = []
    seen: set[tuple[int, int]] = set()
    for student_id, _group, relation, values, primary in wanted:
        cnic = values.get("cnic")
        guardian_id = by_cnic[cnic] if cnic else next(anonymous_ids)
        if (student_id, guardian_id) in seen:
            continue
        seen.add((student_id, guardian_id))
        links.append(
            {
                "student_id": student_id,
                "guardian_id": guardian_id,
                "relation": relation,
                "is_primary": primary,
            }
        )
    _insert_rows(session, StudentGuardian, links)


def _stored_guardian_ids(session: Session, tenant_id: int, cnics: set[str]) -> dict[str, int]:
    """Return the ids of the tenant's stored guardians with these CNICs, keyed by CNIC.

    On PostgreSQL each CNIC is looked up on its own, through the unique (tenant_id, cnic)
    index. For `cnic IN (...)` the planner picks the index on tenant_id alone when the
    statistics predate the import. It then reads all of the tenant's guardians for every
    batch, and the write time grows with the square of the number of rows.
    """
    if session.connection().dialect.name != "postgresql":
        query = select(Guardian.cnic, Guardian.id).where(
            Guardian.tenant_id == tenant_id, Guardian.cnic.in_(cnics)
        )
        return dict(session.execute(query).all())

    requested = (
        func.unnest(cast(sorted(cnics), ARRAY(String)))
        .table_valued("cnic")
        .render_derived(name="requested")
    )
    guardian_id = (
        select(Guardian.id)
        .where(Guardian.tenant_id == tenant_id, Guardian.cnic == requested.c.cnic)
        .scalar_subquery()
    )
    found = session.execute(select(requested.c.cnic, guardian_id)).all()
    return {cnic: found_id for cnic, found_id in found if found_id is not None}


def _insert_with_ids(session: Session, model: type, rows: list[dict]) -> list[int]:
    """Insert rows that all have the same keys and return their new ids in row order."""
    if session.connection().dialect.name == "postgresql":
        ids = _next_ids(session, model.__table__, len(rows))
        _copy_rows(
            session,
            model.__table__,
            [{"id": row_id, **row} for row_id, row in zip(ids, rows, strict=True)],
        )
        return ids
    # render_nulls sends None as NULL, so that the ORM keeps all rows in one statement.
    statement = (
        insert(model)
        .returning(model.id, sort_by_parameter_order=True)
        .execution_options(render_nulls=True)
    )
    return list(session.scalars(statement, rows).all())


def _insert_rows(session: Session, model: type, rows: list[dict]) -> None:
    """Insert rows that all have the same keys."""
    if session.connection().dialect.name == "postgresql":
        _copy_rows(session, model.__table__, rows)
    else:
        session.execute(insert(model).execution_options(render_nulls=True), rows)


def _next_ids(session: Session, table: Table, count: int) -> list[int]:
    """Take `count` values from the sequence of the table's id column (PostgreSQL only)."""
    sequence = func.pg_get_serial_sequence(table.name, "id")
    next_value = select(func.nextval(sequence)).select_from(func.generate_series(1, count))
    return sorted(session.scalars(next_value))


def _copy_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """Send rows with COPY FROM STDIN (PostgreSQL only), converting values as SQLAlchemy would.

    Every row must have the same keys. Each value goes through its column type's bind
    processor, so enums are checked and stored by value and timestamps must be aware.
    """
    if not rows:
        return
    connection = session.connection()
    columns = [table.c[key] for key in rows[0]]
    processors = [
        column.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
        for column in columns
    ]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    )
    with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [
                    row[column.key] if processor is None else processor(row[column.key])
                    for column, processor in zip(columns, processors, strict=True)
                ]
            )


def _primary_group(payload: dict) -> str:
    """Return the group of the guardian to contact first: as given, else the first listed."""
    primary = (payload.get("links") or {}).get("primary_guardian")
    if primary:
        return primary
    guardians = _guardians_of(payload)
    return guardians[0][0] if guardians else ""


# Reading results.


def problems_of(session: Session, job_id: int, limit: int | None = None) -> list[ImportProblem]:
    query = (
        select(ImportProblem)
        .where(ImportProblem.job_id == job_id)
        .order_by(ImportProblem.row_number, ImportProblem.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def template_csv() -> bytes:
    """Return the import template: the header and one example row, UTF-8 with a BOM."""
    example = {
        "admission_no": "1201",
        "b_form": "36302-1234567-1",
        "name_en": "Ayesha Bibi",
        "name_ur": "عائشہ بی بی",
        "father_name_en": "Muhammad Aslam",
        "father_name_ur": "محمد اسلم",
        "date_of_birth": "14/08/2011",
        "gender": "female",
        "grade": "9",
        "section": "A",
        "admitted_on": "01/04/2026",
        "household_size": "7",
        "parents_status": "together",
        "father_cnic": "36302-7654321-3",
        "father_phone": "0300-1234567",
        "father_education": "matric",
        "father_occupation": "farmer",
        "mother_name_en": "Shazia Bibi",
        "mother_name_ur": "شازیہ بی بی",
        "mother_education": "primary",
        "mother_occupation": "homemaker",
        "primary_guardian": "father",
    }
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMN_NAMES)
    writer.writerow([example.get(column, "") for column, _group, _field in COLUMNS])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
