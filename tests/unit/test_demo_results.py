"""Demo results: the UCI grades G1, G2 and G3 become last year's published Urdu and maths marks."""

from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from spets.demo.load import load_demo
from spets.demo.results import (
    MATCH_ATTRIBUTES,
    _read,
    load_results,
    match_maths_rows,
    scaled_mark,
    uci_grades,
)
from spets.models import (
    AcademicYear,
    CycleDefinition,
    CycleKind,
    OutboxMessage,
    PublishedMark,
    ResultSheet,
    SheetState,
    Student,
    Task,
    TaskState,
)
from spets.services import report_cards, results

D = Decimal


@pytest.mark.parametrize(
    ("grade", "maximum", "step", "expected"),
    [
        (11, D(75), D("0.5"), D("41.5")),  # 41.25 is half way between steps: up
        (11, D(25), D("0.5"), D("14.0")),  # 13.75
        (5, D(25), D("0.5"), D("6.5")),  # 6.25
        (6, D(75), D("0.5"), D("22.5")),  # exact
        (13, D(100), D(1), D(65)),
        (0, D(25), D("0.5"), D(0)),
        (20, D(75), D("0.5"), D(75)),
    ],
)
def test_scaled_mark_half_up_to_step(grade, maximum, step, expected):
    assert scaled_mark(grade, maximum, step) == expected
    assert scaled_mark(grade, maximum, step) % step == 0


def test_maths_match_one_to_one():
    portuguese, maths = _read("student-por.csv"), _read("student-mat.csv")
    matches = match_maths_rows(portuguese, maths)
    assert len(matches) == 370
    assert len(set(matches.values())) == 370
    for por_index, mat_index in matches.items():
        for name in MATCH_ATTRIBUTES:
            assert portuguese[por_index][name] == maths[mat_index][name]


def test_plain_merge_counts_382_rows():
    """The UCI documentation's 382 are rows of the merge: 12 of them pair two students twice."""
    portuguese, maths = _read("student-por.csv"), _read("student-mat.csv")
    key = lambda row: tuple(row[name] for name in MATCH_ATTRIBUTES)  # noqa: E731
    in_maths = Counter(key(row) for row in maths)
    assert sum(in_maths[key(row)] for row in portuguese) == 382


def test_uci_grades_by_admission_number():
    grades = uci_grades()
    assert len(grades) == 649
    # The first row of both files is the same girl of 18: admission number 1469.
    assert grades["1469"] == {
        "URDU": {"G1": 0, "G2": 11, "G3": 11},
        "MATH": {"G1": 5, "G2": 6, "G3": 6},
    }
    assert sum(1 for found in grades.values() if found["MATH"] is not None) == 370


def test_demo_results_published(dbsession, now):
    summary = load_demo(dbsession, now).results

    # Grades 10 to 12 (537 students) in 12 sections of 2025-26, two subjects, three exams.
    assert summary.year == "2025-26"
    assert (summary.sheets, summary.students, summary.marks) == (72, 537, 3 * 2 * 537)
    assert summary.maths_from_data + summary.maths_absent == 537
    assert summary.maths_from_data == 289
    sheets = dbsession.scalars(select(ResultSheet)).all()
    assert {sheet.state for sheet in sheets} == {SheetState.PUBLISHED}
    assert {sheet.exam_window.name_en for sheet in sheets} == {
        "Monthly assessment (September)",
        "December test",
        "Annual exam",
    }
    assert dbsession.scalar(select(func.count()).select_from(PublishedMark)) == 3 * 2 * 537

    tasks = dbsession.scalars(select(Task).where(Task.kind == CycleKind.RESULT_ENTRY)).all()
    assert len(tasks) == 72
    assert {task.state for task in tasks} == {TaskState.APPROVED}
    # Last year's tasks move without sign-off messages (other demo domains may send theirs).
    sign_off_keys = {
        key for task in tasks for key in (f"submitted:{task.id}:", f"decided:{task.id}:")
    }
    keys = dbsession.scalars(
        select(OutboxMessage.key).where(
            OutboxMessage.key.startswith("submitted:") | OutboxMessage.key.startswith("decided:")
        )
    ).all()
    assert [key for key in keys if any(key.startswith(p) for p in sign_off_keys)] == []
    assert dbsession.scalar(
        select(CycleDefinition.id).where(CycleDefinition.kind == CycleKind.RESULT_ENTRY)
    )

    # The student of admission number 1469: Urdu G1 0, G2 11, G3 11; maths G1 5, G2 6, G3 6.
    student = dbsession.scalar(select(Student).where(Student.admission_no == "1469"))
    marks = {
        (sheet.subject.code, sheet.exam_window.kind.value): (mark.status.value, mark.marks)
        for sheet, mark in results.published_marks(dbsession, student.id)
    }
    assert marks == {
        ("URDU", "monthly_assessment"): ("entered", D("0.00")),
        ("URDU", "december_test"): ("entered", D("41.50")),
        ("URDU", "annual_exam"): ("entered", D("55.00")),
        ("MATH", "monthly_assessment"): ("entered", D("6.50")),
        ("MATH", "december_test"): ("entered", D("22.50")),
        ("MATH", "annual_exam"): ("entered", D("30.00")),
    }

    # A student with no maths row in the data is recorded absent; grade 9 has no results.
    grades = uci_grades()
    no_maths = next(
        no for no, found in grades.items() if found["MATH"] is None and int(no) > 1112
    )  # 1001-1112: grade 9
    unmatched = dbsession.scalar(select(Student).where(Student.admission_no == no_maths))
    statuses = {
        sheet.subject.code: mark.status.value
        for sheet, mark in results.published_marks(dbsession, unmatched.id)
    }
    assert statuses == {"URDU": "entered", "MATH": "absent"}
    grade_nine = dbsession.scalar(select(Student).where(Student.admission_no == "1001"))
    assert results.published_marks(dbsession, grade_nine.id) == []

    # Last year's report card of the student shows both subjects over the whole year.
    year = dbsession.scalar(select(AcademicYear).where(AcademicYear.label == "2025-26"))
    card = report_cards.student_card(dbsession, student, year, report_cards.Term.YEAR).cards[0]
    assert [line.name_en for line in card.lines] == ["Urdu", "Mathematics"]
    assert (card.total.obtained, card.total.maximum) == (D("155.50"), D("400.00"))
    # The profile links to this year's card and to last year's, which has published marks.
    years = report_cards.card_years(dbsession, student, now.date())
    assert [year.label for year in years] == ["2026-27", "2025-26"]

    assert load_results(dbsession, now).sheets == 0
