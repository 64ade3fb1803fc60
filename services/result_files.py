"""A result sheet as a spreadsheet: CSV and XLSX download, and upload of the marks.

The file has one row per student and the columns admission_no, name and marks. A
download can be uploaded again unchanged: marks are written as the grid shows them
(a number, A for absent, an empty cell for a mark not entered yet).

An upload is checked as a whole first. A wrong header, an extra column, an unknown or
repeated admission number or a name that does not match rejects the file, and every
problem is named by row. Then `results.save_marks` saves all its marks or none.
"""

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import PurePath
from zipfile import BadZipFile

from sqlalchemy.orm import Session

from spets.i18n import TranslationString, _, normalize_digits
from spets.models import MarkStatus, ResultSheet
from spets.services import exports, results
from spets.services.audit import Actor
from spets.services.errors import InvalidInput

COLUMNS = ("admission_no", "name", "marks")
REQUIRED_COLUMNS = ("admission_no", "marks")
MAX_PROBLEMS = 100  # a class is at most a few hundred rows; more problems mean a wrong file


class UploadError(InvalidInput):
    """A file that cannot be saved; `problems` lists each problem, by row where there is one."""

    def __init__(self, message: TranslationString, problems: list[TranslationString] | None = None):
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True)
class UploadRow:
    number: int  # the row number a spreadsheet shows, the header being row 1
    admission_no: str
    name: str
    marks: str


# Download.


def sheet_table(
    session: Session, sheet: ResultSheet, locale: str, *, as_numbers: bool = False
) -> tuple[list[str], list[list[object]]]:
    """Return the header and rows of the sheet's file, names in the reader's language.

    Marks are text as the grid shows them. With `as_numbers` an entered mark is a Decimal,
    so that a workbook can add them up. Absent stays "A" and not entered stays empty.
    """
    rows = []
    for row in results.roll(session, sheet):
        marks: object = row.typed
        if as_numbers and row.status == MarkStatus.ENTERED:
            marks = row.marks.normalize() if row.marks % 1 else Decimal(int(row.marks))
        rows.append([row.student.admission_no, row.student.name(locale), marks])
    return list(COLUMNS), rows


def sheet_csv(session: Session, sheet: ResultSheet, locale: str) -> bytes:
    """Return the sheet as CSV: UTF-8 with a byte-order mark, formula characters neutralised."""
    header, rows = sheet_table(session, sheet, locale)
    return exports.to_csv(header, rows)


def sheet_xlsx(session: Session, sheet: ResultSheet, locale: str, title: str) -> bytes:
    """Return the sheet as an XLSX workbook, formula characters neutralised."""
    header, rows = sheet_table(session, sheet, locale, as_numbers=True)
    cells = [[None if cell == "" else cell for cell in row] for row in rows]
    return exports.to_xlsx(header, cells, sheet_title=title)


# Reading an upload.


def read_file(filename: str, data: bytes, *, max_bytes: int) -> list[UploadRow]:
    """Read the rows of an uploaded CSV or XLSX file; raise UploadError for a file that cannot be used."""
    kind = _file_kind(filename)
    if len(data) > max_bytes:
        raise UploadError(
            _(
                "marks_file_too_large",
                default="The file is larger than ${limit} MB. A sheet's marks fit in a much smaller file: "
                "upload the file downloaded from this sheet.",
                mapping={"limit": f"{max_bytes / 1_000_000:.0f}"},
            )
        )
    if not data:
        raise UploadError(_("import_empty", default="The file is empty."))
    table = _csv_table(data) if kind == "csv" else _xlsx_table(data)
    return _rows_of(table)


def _file_kind(filename: str) -> str:
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix == ".xlsx":
        return "xlsx"
    raise UploadError(
        _(
            "import_wrong_type",
            default='"${name}" is not a CSV or XLSX file. Save the sheet as CSV UTF-8 or as an '
            "Excel workbook (.xlsx).",
            mapping={"name": filename},
        )
    )


def _csv_table(data: bytes) -> list[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UploadError(
            _(
                "import_not_utf8",
                default="The file is not UTF-8 text (byte ${position} cannot be read). In Excel, "
                'save it as "CSV UTF-8 (Comma delimited)".',
                mapping={"position": error.start},
            )
        ) from error
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [(reader.line_num, values) for values in reader]
    except csv.Error as error:
        raise UploadError(
            _(
                "marks_file_bad_csv",
                default="The file cannot be read as CSV near line ${line}: ${error}.",
                mapping={"line": reader.line_num, "error": str(error)},
            )
        ) from error


def _xlsx_table(data: bytes) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as error:
        raise UploadError(
            _("import_bad_xlsx", default="The file cannot be read as an Excel workbook (.xlsx).")
        ) from error
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        return [
            (number, [_cell_text(cell) for cell in cells])
            for number, cells in enumerate(rows, start=1)
        ]
    finally:
        workbook.close()


def _cell_text(value) -> str:
    """Return a spreadsheet cell as the text a teacher would have typed: 12.0 reads as 12."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def _plain(text: str) -> str:
    """Undo the apostrophe that a download puts before text starting with a formula character."""
    text = str(text).strip()
    if text.startswith("'") and text[1:].startswith(exports.FORMULA_PREFIXES):
        return text[1:]
    return text


def _header(values: list[str]) -> list[str]:
    names = [
        normalize_digits(_plain(value)).lstrip("\ufeff").strip().lower().replace(" ", "_")
        for value in values
    ]
    while names and names[-1] == "":
        names.pop()
    unknown = [name or "(empty)" for name in names if name not in COLUMNS]
    problems = []
    if unknown:
        problems.append(
            _(
                "marks_unknown_columns",
                default="Unknown column(s): ${columns}. The file may have only the columns "
                "admission_no, name and marks.",
                mapping={"columns": ", ".join(unknown)},
            )
        )
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        problems.append(
            _(
                "import_duplicate_columns",
                default="Column(s) appear twice: ${columns}. Keep one of each.",
                mapping={"columns": ", ".join(repeated)},
            )
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        problems.append(
            _(
                "import_missing_columns",
                default="Required column(s) missing: ${columns}. Add them as in the template.",
                mapping={"columns": ", ".join(missing)},
            )
        )
    if problems:
        raise UploadError(
            _(
                "marks_file_wrong_header",
                default="The file's header row is not right, so nothing was saved.",
            ),
            problems,
        )
    return names


def _rows_of(table: list[tuple[int, list[str]]]) -> list[UploadRow]:
    if not table:
        raise UploadError(_("import_empty", default="The file is empty."))
    names = _header(table[0][1])
    rows, problems = [], []
    for number, values in table[1:]:
        if not any(str(value).strip() for value in values):
            continue
        extra = [value for value in values[len(names) :] if str(value).strip()]
        if extra:
            problems.append(
                _row(
                    number,
                    _(
                        "marks_row_extra_cells",
                        default="there is a value in a column without a header (${values}). Remove it.",
                        mapping={"values": ", ".join(str(value) for value in extra)},
                    ),
                )
            )
            continue
        cells = dict(zip(names, values, strict=False))
        rows.append(
            UploadRow(
                number=number,
                admission_no=_plain(cells.get("admission_no", "")),
                name=_plain(cells.get("name", "")),
                marks=str(cells.get("marks", "")).strip(),
            )
        )
    if problems:
        raise UploadError(_file_refused(len(problems)), problems[:MAX_PROBLEMS])
    if not rows:
        raise UploadError(
            _("marks_file_no_rows", default="The file has a header but no rows of marks.")
        )
    return rows


def _row(number: int, problem: TranslationString) -> TranslationString:
    return _(
        "marks_row_problem",
        default="Row ${row}: ${problem}",
        mapping={"row": number, "problem": problem},
    )


def _file_refused(count: int) -> TranslationString:
    return _(
        "marks_file_refused",
        default="${count} row(s) of the file have problems, so nothing was saved. Correct them and upload the file again.",
        mapping={"count": count},
    )


# Saving an upload.


def _same_name(typed: str, student) -> bool:
    def folded(text: str) -> str:
        return " ".join(str(text).split()).casefold()

    return not typed.strip() or folded(typed) in (folded(student.name_en), folded(student.name_ur))


def _admission_key(text: str) -> str:
    return normalize_digits(text).strip().casefold()


def save_upload(
    session: Session,
    sheet: ResultSheet,
    rows: list[UploadRow],
    *,
    lock_version: int | None,
    actor: Actor,
    now: datetime,
) -> results.SaveResult:
    """Save the marks of the uploaded rows, all or none; students not in the file keep theirs.

    Rows are matched to students by admission number. An empty marks cell clears the
    student's mark (not yet entered), as in the grid.
    """
    results.refuse_if_locked(session, sheet, path="upload", actor=actor, now=now)
    students = {
        _admission_key(row.student.admission_no): row.student
        for row in results.roll(session, sheet)
    }
    typed: dict[int, str] = {}
    row_of: dict[int, int] = {}
    problems = []
    for row in rows:
        student = students.get(_admission_key(row.admission_no))
        if student is None:
            problems.append(
                _row(
                    row.number,
                    _(
                        "marks_row_unknown_student",
                        default='no student with admission number "${admission_no}" is on this sheet.',
                        mapping={"admission_no": row.admission_no},
                    ),
                )
            )
        elif student.id in typed:
            problems.append(
                _row(
                    row.number,
                    _(
                        "marks_row_repeated_student",
                        default="admission number ${admission_no} is also on row ${first}. Keep one row per student.",
                        mapping={"admission_no": row.admission_no, "first": row_of[student.id]},
                    ),
                )
            )
        elif not _same_name(row.name, student):
            problems.append(
                _row(
                    row.number,
                    _(
                        "marks_row_name_mismatch",
                        default='admission number ${admission_no} is ${student} on this sheet, but the row says "${name}". '
                        "Check that the rows have not shifted.",
                        mapping={
                            "admission_no": row.admission_no,
                            "student": student.name_en,
                            "name": row.name,
                        },
                    ),
                )
            )
        else:
            typed[student.id] = row.marks
            row_of[student.id] = row.number
    if problems:
        raise UploadError(_file_refused(len(problems)), problems[:MAX_PROBLEMS])

    try:
        return results.save_marks(
            session, sheet, typed, lock_version=lock_version, actor=actor, now=now, path="upload"
        )
    except results.MarkEntryErrors as refused:
        problems = [
            _row(row_of[student_id], message)
            for student_id, message in sorted(
                refused.errors.items(), key=lambda item: row_of[item[0]]
            )
        ]
        raise UploadError(_file_refused(len(problems)), problems[:MAX_PROBLEMS]) from refused
