"""Student imports from CSV and XLSX: all rows or none, every problem reported."""

import csv
import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from spets.forms.imports import COLUMN_NAMES
from spets.models import (
    AuditEvent,
    Enrollment,
    Guardian,
    ImportRow,
    ImportStatus,
    Student,
    StudentGuardian,
)
from spets.services import imports
from spets.services.audit import Actor

HEADER = [
    "admission_no",
    "b_form",
    "name_en",
    "name_ur",
    "father_name_en",
    "father_name_ur",
    "date_of_birth",
    "gender",
    "grade",
    "section",
    "household_size",
    "father_cnic",
    "father_phone",
    "mother_name_en",
    "mother_name_ur",
    "primary_guardian",
]

GOOD_ROWS = [
    [
        "2001",
        "36302-3000001-1",
        "Ayesha Bibi",
        "عائشہ بی بی",
        "Muhammad Aslam",
        "محمد اسلم",
        "14/08/2011",
        "female",
        "9",
        "A",
        "۷",
        "36302-7000001-1",
        "0300-1234567",
        "Shazia Bibi",
        "شازیہ بی بی",
        "mother",
    ],
    [
        "2002",
        "",
        "Hamza Aslam",
        "حمزہ اسلم",
        "Muhammad Aslam",
        "محمد اسلم",
        "۰۲/۰۳/۲۰۱۰",
        "male",
        "10",
        "a",
        "7",
        "36302-7000001-1",
        "03001234567",
        "Shazia Bibi",
        "شازیہ بی بی",
        "",
    ],
    [
        "2003",
        "",
        "Zainab Noor",
        "زینب نور",
        "Noor Din",
        "نور دین",
        "1/1/2011",
        "female",
        "9",
        "A",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
]


def csv_bytes(header, rows, bom=True, delimiter=",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8")


def run_import(world, session_factory, tmp_path, content: bytes, filename="students.csv"):
    path = tmp_path / filename
    path.write_bytes(content)
    job = imports.create_job(
        world.session,
        school=world.school_a,
        year=world.year,
        filename=filename,
        actor=Actor(world.head_a.id),
        now=world.now,
    )
    world.session.flush()
    result = imports.run_student_import(session_factory, job.id, path, now=world.now)
    world.session.expire_all()
    return result


def count(world, model) -> int:
    return world.session.scalar(select(func.count()).select_from(model))


def problems(world, job) -> list[tuple]:
    return [
        (p.row_number, p.column, p.value, imports.message_from_json(p.message).interpolate())
        for p in imports.problems_of(world.session, job.id)
    ]


def test_csv_with_bom_urdu_and_dates(world, session_factory, tmp_path):
    job = run_import(world, session_factory, tmp_path, csv_bytes(HEADER, GOOD_ROWS))
    assert job.status == ImportStatus.SUCCEEDED, problems(world, job)
    assert job.rows_written == 3

    ayesha = world.session.scalar(select(Student).where(Student.admission_no == "2001"))
    assert ayesha.name_ur == "عائشہ بی بی"
    assert ayesha.date_of_birth == date(2011, 8, 14)
    assert ayesha.household_size == 7
    hamza = world.session.scalar(select(Student).where(Student.admission_no == "2002"))
    assert hamza.date_of_birth == date(2010, 3, 2)
    assert hamza.enrollments[0].section_id == world.section_a10.id


def test_siblings_share_their_father(world, session_factory, tmp_path):
    run_import(world, session_factory, tmp_path, csv_bytes(HEADER, GOOD_ROWS))
    fathers = world.session.scalars(
        select(Guardian).where(Guardian.cnic == "36302-7000001-1")
    ).all()
    assert len(fathers) == 1
    assert fathers[0].phone == "+923001234567"
    assert len(fathers[0].student_links) == 2


def test_primary_guardian_as_given(world, session_factory, tmp_path):
    run_import(world, session_factory, tmp_path, csv_bytes(HEADER, GOOD_ROWS))
    ayesha = world.session.scalar(select(Student).where(Student.admission_no == "2001"))
    primary = [link.relation.value for link in ayesha.guardian_links if link.is_primary]
    assert primary == ["mother"]
    hamza = world.session.scalar(select(Student).where(Student.admission_no == "2002"))
    assert [link.relation.value for link in hamza.guardian_links if link.is_primary] == ["father"]


def test_each_student_audited(world, session_factory, tmp_path):
    run_import(world, session_factory, tmp_path, csv_bytes(HEADER, GOOD_ROWS))
    assert world.session.scalar(select(func.count()).where(AuditEvent.action == "import")) == 3


def test_semicolon_csv_without_bom(world, session_factory, tmp_path):
    job = run_import(
        world, session_factory, tmp_path, csv_bytes(HEADER, GOOD_ROWS, bom=False, delimiter=";")
    )
    assert job.status == ImportStatus.SUCCEEDED


def test_xlsx_with_date_cells_and_lost_zero(world, session_factory, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    row = list(GOOD_ROWS[0])
    row[6] = datetime(2011, 8, 14)
    row[12] = 3001234567
    row[8] = 9
    sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = run_import(world, session_factory, tmp_path, buffer.getvalue(), "students.xlsx")
    assert job.status == ImportStatus.SUCCEEDED, problems(world, job)
    student = world.session.scalar(select(Student).where(Student.admission_no == "2001"))
    assert student.date_of_birth == date(2011, 8, 14)


def test_file_named_xlsx_that_is_not_a_workbook(world, session_factory, tmp_path):
    students_before = count(world, Student)
    job = run_import(world, session_factory, tmp_path, b"admission_no,name\n1,A\n", "students.xlsx")
    assert job.status == ImportStatus.FAILED
    assert "Excel workbook" in imports.message_from_json(job.message).interpolate()
    assert count(world, Student) == students_before


def test_bad_rows_all_reported_nothing_written(world, session_factory, tmp_path):
    students_before = count(world, Student)
    guardians_before = count(world, Guardian)
    bad = [list(row) for row in GOOD_ROWS]
    bad[0][1] = "36302-123"  # B-Form too short
    bad[1][6] = "31/02/2010"  # no such date
    bad[2][2] = ""  # missing name
    rows = bad + [
        [
            "2004",
            "",
            "Ali Raza",
            "علی رضا",
            "Raza",
            "رضا",
            "01/01/2011",
            "male",
            "9",
            "Z",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "2001",
            "",
            "Sara Ali",
            "سارہ علی",
            "Ali",
            "علی",
            "01/01/2011",
            "female",
            "9",
            "A",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "A901",
            "",
            "Sara Ali",
            "سارہ علی",
            "Ali",
            "علی",
            "01/01/2011",
            "female",
            "9",
            "A",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "2006",
            "",
            "Sara Ali",
            "سارہ علی",
            "Ali",
            "علی",
            "01/01/2011",
            "female",
            "9",
            "A",
            "",
            "",
            "",
            "",
            "",
            "",
            "extra",
        ],
    ]
    job = run_import(world, session_factory, tmp_path, csv_bytes(HEADER, rows))
    found = problems(world, job)

    assert job.status == ImportStatus.FAILED
    by_row = {(row, column): (value, message) for row, column, value, message in found}
    assert by_row[(2, "b_form")][0] == "36302-123"
    assert "#####-#######-#" in by_row[(2, "b_form")][1]
    assert "February 2010 has 28 days" in by_row[(3, "date_of_birth")][1]
    assert "required" in by_row[(4, "name_en")][1]
    assert "no section Z" in by_row[(5, "section")][1]
    assert "row 2" in by_row[(6, "admission_no")][1]
    assert "already in SPeTS" in by_row[(7, "admission_no")][1]
    assert "more cells" in by_row[(8, "(extra)")][1]
    assert count(world, Student) == students_before
    assert count(world, Guardian) == guardians_before
    assert count(world, ImportRow) == 0


def test_unknown_column_rejected(world, session_factory, tmp_path):
    job = run_import(
        world,
        session_factory,
        tmp_path,
        csv_bytes(HEADER + ["fathr_cnic"], [r + [""] for r in GOOD_ROWS]),
    )
    assert job.status == ImportStatus.FAILED
    assert "fathr_cnic" in imports.message_from_json(job.message).interpolate()


def test_missing_required_column_rejected(world, session_factory, tmp_path):
    header = [h for h in HEADER if h != "gender"]
    rows = [[v for h, v in zip(HEADER, row, strict=True) if h != "gender"] for row in GOOD_ROWS]
    job = run_import(world, session_factory, tmp_path, csv_bytes(header, rows))
    assert "gender" in imports.message_from_json(job.message).interpolate()


def test_not_utf8_explained(world, session_factory, tmp_path):
    content = "admission_no,name_en\n1,Caf\xe9\n".encode("cp1252")
    job = run_import(world, session_factory, tmp_path, content)
    assert "CSV UTF-8" in imports.message_from_json(job.message).interpolate()


def test_header_only_file(world, session_factory, tmp_path):
    job = run_import(world, session_factory, tmp_path, csv_bytes(HEADER, []))
    assert job.status == ImportStatus.FAILED
    assert "no rows" in imports.message_from_json(job.message).interpolate()


def test_wrong_file_type():
    with pytest.raises(imports.ImportFileError):
        imports.file_kind("students.pdf")


def test_template_has_every_column_and_bom():
    content = imports.template_csv()
    assert content.startswith(b"\xef\xbb\xbf")
    header = next(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert header == COLUMN_NAMES


def test_template_example_row_imports(world, session_factory, tmp_path):
    job = run_import(world, session_factory, tmp_path, imports.template_csv())
    assert job.status == ImportStatus.SUCCEEDED, problems(world, job)
    assert (
        world.session.scalar(
            select(func.count())
            .select_from(StudentGuardian)
            .join(Student)
            .where(Student.admission_no == "1201")
        )
        == 2
    )
    assert (
        world.session.scalar(
            select(func.count())
            .select_from(Enrollment)
            .join(Student)
            .where(Student.admission_no == "1201")
        )
        == 1
    )
