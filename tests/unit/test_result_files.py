"""A result sheet as a file: reading uploads, checking their rows, and the downloads."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from spets.i18n import translate
from spets.models import AuditEvent, ExamKind, Mark, MarkStatus, Task
from spets.services import calendar, cycles, result_files, results
from spets.services.audit import Actor
from spets.services.errors import Locked, StaleEdit

SYSTEM = Actor.system()
LIMIT = 1_000_000


def english(message) -> str:
    return translate(message, "en")


def problems_of(error: result_files.UploadError) -> list[str]:
    return [english(problem) for problem in error.problems]


def read_csv(text: str, **options) -> list[result_files.UploadRow]:
    return result_files.read_file("marks.csv", text.encode("utf-8"), max_bytes=LIMIT, **options)


def xlsx_bytes(rows) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# Reading files.


def test_csv_rows_with_bom_and_row_numbers():
    rows = result_files.read_file(
        "marks.csv",
        b"\xef\xbb\xbfadmission_no,name,marks\r\nA901,Ayesha Khan,17.5\r\n,,\r\nR00,Student B,A\r\n",
        max_bytes=LIMIT,
    )
    assert rows == [
        result_files.UploadRow(2, "A901", "Ayesha Khan", "17.5"),
        result_files.UploadRow(4, "R00", "Student B", "A"),
    ]


def test_csv_semicolons_and_header_spelling():
    rows = read_csv("Admission No;Marks\nA901;12\n")
    assert rows == [result_files.UploadRow(2, "A901", "", "12")]


def test_neutralised_cells_read_back():
    rows = read_csv("admission_no,name,marks\n'-A901,'=Odd Name,5\n")
    assert (rows[0].admission_no, rows[0].name) == ("-A901", "=Odd Name")


def test_xlsx_numbers_read_as_typed():
    data = xlsx_bytes(
        [
            ["admission_no", "name", "marks"],
            ["A901", "Ayesha Khan", 12.0],
            ["R00", None, 17.5],
            ["R01", None, None],
        ]
    )
    rows = result_files.read_file("marks.xlsx", data, max_bytes=LIMIT)
    assert [(row.admission_no, row.marks) for row in rows] == [
        ("A901", "12"),
        ("R00", "17.5"),
        ("R01", ""),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "admission_no,name,marks,remarks\n",
            "Unknown column(s): remarks. The file may have only the columns admission_no, name and marks.",
        ),
        ("admission_no,name\n", "Required column(s) missing: marks."),
        ("admission_no,marks,marks\n", "Column(s) appear twice: marks."),
        ("student,marks\n", "Unknown column(s): student."),
    ],
)
def test_wrong_header_refused(text, expected):
    with pytest.raises(result_files.UploadError) as caught:
        read_csv(text + "A901,5\n")
    assert (
        english(caught.value.message) == "The file's header row is not right, so nothing was saved."
    )
    assert expected in " ".join(problems_of(caught.value))


def test_extra_cells_named_by_row():
    with pytest.raises(result_files.UploadError) as caught:
        read_csv(
            "admission_no,name,marks\nA901,Ayesha Khan,5\nR00,Student B,6,,7\nR01,Student C,8,x\n"
        )
    assert problems_of(caught.value) == [
        "Row 3: there is a value in a column without a header (7). Remove it.",
        "Row 4: there is a value in a column without a header (x). Remove it.",
    ]
    assert english(caught.value.message).startswith("2 row(s) of the file have problems")


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("marks.csv", b"", "The file is empty."),
        ("marks.csv", b"admission_no,name,marks\n", "The file has a header but no rows of marks."),
        (
            "marks.csv",
            "admission_no,name,marks\nA901,Ä,5\n".encode("latin-1"),
            "The file is not UTF-8 text",
        ),
        ("marks.xlsx", b"not a workbook", "The file cannot be read as an Excel workbook (.xlsx)."),
        ("marks.ods", b"x", '"marks.ods" is not a CSV or XLSX file.'),
    ],
)
def test_unreadable_files_refused(name, data, expected):
    with pytest.raises(result_files.UploadError) as caught:
        result_files.read_file(name, data, max_bytes=LIMIT)
    assert english(caught.value.message).startswith(expected)


def test_size_limit():
    data = b"admission_no,name,marks\n" + b"A901,Ayesha Khan,5\n" * 100
    with pytest.raises(result_files.UploadError) as caught:
        result_files.read_file("marks.csv", data, max_bytes=len(data) - 1)
    assert "The file is larger than" in english(caught.value.message)
    assert result_files.read_file("marks.csv", data, max_bytes=len(data))


# Saving an upload on a sheet.


@pytest.fixture
def files_world(world):
    w = world
    w.window = calendar.save_exam_window(
        w.session,
        w.year,
        None,
        {
            "kind": ExamKind.MONTHLY_ASSESSMENT,
            "name_en": "Monthly assessment (October)",
            "name_ur": "ماہانہ جائزہ",
            "starts_on": date(2026, 10, 26),
            "ends_on": date(2026, 10, 31),
        },
        version=None,
        actor=SYSTEM,
        now=w.now,
    )
    cycles.add_result_entry_definition(w.session, w.tenant, actor=SYSTEM, now=w.now)
    w.extra = [
        w.admit(w.section_a9, f"R{n:02d}", f"Student {chr(66 + n)}", "طالب علم") for n in range(2)
    ]
    cycles.tick(
        w.session, datetime(2026, 11, 2, 0, 15, tzinfo=ZoneInfo("Asia/Karachi")).astimezone(UTC)
    )
    task = w.session.scalars(select(Task).where(Task.assignee_id == w.subject_teacher_a9.id)).one()
    w.sheet = results.sheet_for_task(w.session, task, w.now)
    w.teacher = Actor(w.subject_teacher_a9.id)
    w.session.flush()
    return w


def upload(w, text: str, lock_version=None):
    rows = read_csv(text)
    return result_files.save_upload(
        w.session, w.sheet, rows, lock_version=lock_version, actor=w.teacher, now=w.now
    )


def stored(w) -> dict[str, tuple[MarkStatus, Decimal | None]]:
    return {
        row.student.admission_no: (row.status, row.marks)
        for row in results.roll(w.session, w.sheet)
    }


def test_upload_saves_matched_rows(files_world):
    w = files_world
    saved = upload(w, "admission_no,name,marks\na901,ayesha  khan,۱۲\nR00,طالب علم,A\n")
    assert saved.changed == 2
    assert stored(w) == {
        "A901": (MarkStatus.ENTERED, Decimal("12.00")),
        "R00": (MarkStatus.ABSENT, None),
        "R01": (MarkStatus.MISSING, None),
    }


def test_upload_problems_by_row_save_nothing(files_world):
    w = files_world
    with pytest.raises(result_files.UploadError) as caught:
        upload(
            w,
            "admission_no,name,marks\nA901,Ayesha Khan,5\nZ999,,5\nA901,Ayesha Khan,6\nR00,Student C,7\n",
        )
    assert problems_of(caught.value) == [
        'Row 3: no student with admission number "Z999" is on this sheet.',
        "Row 4: admission number A901 is also on row 2. Keep one row per student.",
        'Row 5: admission number R00 is Student B on this sheet, but the row says "Student C". '
        "Check that the rows have not shifted.",
    ]
    assert w.session.scalar(select(func.count()).select_from(Mark)) == 0


def test_upload_bad_marks_named_by_row(files_world):
    w = files_world
    with pytest.raises(result_files.UploadError) as caught:
        upload(w, "admission_no,name,marks\nR01,,30\nA901,,-2\nR00,,7\n")
    assert problems_of(caught.value) == [
        "Row 2: Student C: 30 is more than the maximum of 25.",
        "Row 3: Ayesha Khan: -2 is below zero.",
    ]
    assert w.session.scalar(select(func.count()).select_from(Mark)) == 0


def test_upload_stale_version_refused(files_world):
    w = files_world
    version = w.sheet.lock_version
    upload(w, "admission_no,marks\nA901,5\n", lock_version=version)
    with pytest.raises(StaleEdit):
        upload(w, "admission_no,marks\nA901,6\n", lock_version=version)
    assert stored(w)["A901"] == (MarkStatus.ENTERED, Decimal("5.00"))


def test_upload_to_published_sheet_refused_and_audited(files_world):
    w = files_world
    upload(w, "admission_no,marks\nA901,5\nR00,6\nR01,A\n")
    head = Actor(w.head_a.id)
    results.submit_sheet(w.session, w.sheet, actor=w.teacher, now=w.now)
    results.verify_sheet(w.session, w.sheet, actor=head, now=w.now)
    results.publish_sheet(w.session, w.sheet, actor=head, now=w.now)
    with pytest.raises(Locked):
        upload(w, "admission_no,marks\nA901,9\n")
    assert stored(w)["A901"] == (MarkStatus.ENTERED, Decimal("5.00"))
    reasons = w.session.scalars(
        select(AuditEvent.reason).where(AuditEvent.action == "refused")
    ).all()
    assert reasons == ["write to a published sheet through upload"]


# Downloads.


def test_csv_download_round_trips(files_world):
    w = files_world
    upload(w, "admission_no,marks\nA901,17.5\nR00,A\n")
    data = result_files.sheet_csv(w.session, w.sheet, "en")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [
        ["admission_no", "name", "marks"],
        ["A901", "Ayesha Khan", "17.5"],
        ["R00", "Student B", "A"],
        ["R01", "Student C", ""],
    ]
    again = result_files.read_file("marks.csv", data, max_bytes=LIMIT)
    assert (
        result_files.save_upload(
            w.session, w.sheet, again, lock_version=None, actor=w.teacher, now=w.now
        ).changed
        == 1
    )


def test_xlsx_download_has_numbers_and_urdu_names(files_world):
    w = files_world
    upload(w, "admission_no,marks\nA901,20\nR00,12.5\n")
    data = result_files.sheet_xlsx(w.session, w.sheet, "ur", "9-A MATH")
    sheet = load_workbook(io.BytesIO(data)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert sheet.title == "9-A MATH"
    assert rows[1] == ["A901", "عائشہ خان", 20]
    assert rows[2] == ["R00", "طالب علم", 12.5]
    assert rows[3] == ["R01", "طالب علم", None]
