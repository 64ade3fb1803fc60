"""Spreadsheet exports (CSV with a byte-order mark, XLSX) with formula injection neutralised.

A cell whose text starts with =, +, -, @, a tab or a carriage return would run as a
formula when the file is opened in a spreadsheet; such text gets a leading apostrophe.
"""

import csv
import io
from collections.abc import Callable, Sequence

from openpyxl import Workbook

from spets.i18n import _
from spets.models import Section, Student

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> object:
    """Return a cell value that a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        writer.writerow(["" if cell is None else neutralise(cell) for cell in row])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def to_xlsx(
    header: Sequence[str], rows: Sequence[Sequence[object]], sheet_title: str = "Sheet"
) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title[:31] or "Sheet")
    sheet.append([neutralise(cell) for cell in header])
    for row in rows:
        sheet.append([neutralise(cell) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def student_rows(
    rows: Sequence[tuple[Student, Section | None]],
    show: Callable[[object], str],
    translate: Callable[[object], str],
) -> tuple[list[str], list[list[object]]]:
    """Return the header and rows of a student list export, labels in the reader's language."""
    header = [
        translate(title)
        for title in (
            _("Admission number"),
            _("B-Form number"),
            _("Name in English"),
            _("Name in Urdu"),
            _("Father's name in English"),
            _("Father's name in Urdu"),
            _("Date of birth"),
            _("Gender"),
            _("Grade"),
            _("Section"),
        )
    ]
    body = [
        [
            student.admission_no,
            student.b_form or "",
            student.name_en,
            student.name_ur,
            student.father_name_en,
            student.father_name_ur,
            show(student.date_of_birth),
            show(student.gender),
            section.grade if section else "",
            section.name if section else "",
        ]
        for student, section in rows
    ]
    return header, body
