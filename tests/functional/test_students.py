"""Student pages: admission, edits, bad input, stale edits, family finance and exports."""

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, func, select

from spets.models import AuditEvent, Guardian, Student
from spets.services import people
from spets.services.audit import Actor


def admission_form(testapp, world, **values):
    page = testapp.get(f"/sections/{world.section_a9.id}/students/new")
    form = page.forms["record-form"]
    defaults = {
        "admission_no": "A950",
        "b_form": "36302-5555555-5",
        "name_en": "Sana Bibi",
        "name_ur": "ثنا بی بی",
        "father_name_en": "Ghulam Abbas",
        "father_name_ur": "غلام عباس",
        "date_of_birth": "14/08/2011",
        "gender": "female",
        "admitted_on": "01/12/2026",
    }
    defaults.update(values)
    for name, value in defaults.items():
        form[name] = value
    return form


def test_admit_student(testapp, world):
    testapp.login("head.a")
    response = admission_form(testapp, world).submit("save", status=302).follow()
    assert "Sana Bibi" in response.text
    student = world.session.scalar(select(Student).where(Student.admission_no == "A950"))
    assert student.name_ur == "ثنا بی بی"
    assert student.enrollments[0].section_id == world.section_a9.id


def test_admit_with_bad_values_shows_each_error(testapp, world):
    testapp.login("head.a")
    page = admission_form(
        testapp, world, b_form="12345", date_of_birth="31/02/2011", name_en="", past_failures="۲"
    ).submit("save", status=200)
    assert '"12345" is not a valid B-Form number' in page.text
    assert '"31/02/2011" is not a date: February 2011 has 28 days' in page.text
    assert "Required" in page.text
    assert world.session.scalar(select(Student).where(Student.admission_no == "A950")) is None
    # The user's input is kept.
    assert 'value="ثنا بی بی"' in page.text


def test_urdu_digits_stored_as_number(testapp, world):
    testapp.login("head.a")
    admission_form(testapp, world, past_failures="۲").submit("save", status=302)
    student = world.session.scalar(select(Student).where(Student.admission_no == "A950"))
    assert student.past_failures == 2


def test_duplicate_admission_number_shown_beside_field(testapp, world):
    testapp.login("head.a")
    page = admission_form(testapp, world, admission_no="A901").submit("save", status=200)
    assert 'Admission number "A901" is already used by Ayesha Khan' in page.text
    assert (
        world.session.scalar(
            select(func.count()).select_from(Student).where(Student.admission_no == "A901")
        )
        == 1
    )


def test_edit_student(testapp, world):
    testapp.login("class.a9")
    page = testapp.get(f"/students/{world.student_a9.id}/edit")
    form = page.forms["record-form"]
    form["name_ur"] = "عائشہ نور"
    form.submit("save", status=302)
    world.session.refresh(world.student_a9)
    assert world.student_a9.name_ur == "عائشہ نور"


def test_stale_edit_refused_and_nothing_lost(testapp, world):
    testapp.login("head.a")
    page = testapp.get(f"/students/{world.student_a9.id}/edit")
    form = page.forms["record-form"]

    # Someone else saves the record after the form was opened.
    people.update_student(
        world.session,
        world.student_a9,
        {"name_en": "Ayesha Noor"},
        version=None,
        actor=Actor.system(),
        now=world.now,
    )
    world.session.flush()

    form["name_en"] = "Ayesha Siddiqui"
    conflict = form.submit("save", status=200)
    assert "Someone else saved this record" in conflict.text
    assert "Ayesha Noor" in conflict.text
    assert 'value="Ayesha Siddiqui"' in conflict.text
    world.session.refresh(world.student_a9)
    assert world.student_a9.name_en == "Ayesha Noor"

    # Saving again from the conflict page keeps the user's value on purpose.
    conflict.forms["record-form"].submit("save", status=302)
    world.session.refresh(world.student_a9)
    assert world.student_a9.name_en == "Ayesha Siddiqui"


def test_finance_shown_to_head_teacher_and_audited(testapp, world):
    testapp.login("head.a")
    page = testapp.get(f"/students/{world.student_a9.id}")
    assert "Rs 25,000 to 50,000 a month" in page.text
    reads = world.session.scalars(
        select(AuditEvent).where(
            AuditEvent.category == "family_finance", AuditEvent.action == "read"
        )
    ).all()
    assert [(e.actor_id, e.student_id) for e in reads] == [(world.head_a.id, world.student_a9.id)]


def test_finance_hidden_from_class_teacher(testapp, world):
    testapp.login("class.a9")
    page = testapp.get(f"/students/{world.student_a9.id}")
    assert "Muhammad Aslam" in page.text  # family is visible
    assert "Rs 25,000" not in page.text
    assert "Monthly income" not in page.text
    assert (
        world.session.scalar(
            select(func.count()).where(
                AuditEvent.category == "family_finance", AuditEvent.action == "read"
            )
        )
        == 0
    )


def test_class_teacher_guardian_edit_keeps_finance(testapp, world):
    """A form without finance fields must not wipe the finance values it cannot show."""
    testapp.login("class.a9")
    page = testapp.get(f"/guardian-links/{world.guardian_link_a9.id}/edit")
    assert "income_band" not in page.text
    form = page.forms["record-form"]
    form["phone"] = "0301-7654321"
    form.submit("save", status=302)
    guardian = world.session.get(Guardian, world.guardian_link_a9.guardian_id)
    world.session.refresh(guardian)
    assert guardian.phone == "+923017654321"
    assert guardian.income_band is not None


def test_family_hidden_from_subject_teacher(testapp, world):
    testapp.login("subject.a9")
    page = testapp.get(f"/students/{world.student_a9.id}")
    assert "Ayesha Khan" in page.text
    assert 'id="family"' not in page.text
    assert "36302-2222222-2" not in page.text  # the father's CNIC


def test_add_guardian_with_invalid_cnic(testapp, world):
    testapp.login("head.a")
    page = testapp.get(f"/students/{world.student_a10.id}/guardians/new")
    form = page.forms["record-form"]
    form["name_en"] = "Ahmed Raza"
    form["relation"] = "father"
    form["cnic"] = "36302-12-1"
    form["phone"] = "021-1234567"
    result = form.submit("save", status=200)
    assert '"36302-12-1" is not a valid CNIC number' in result.text
    assert '"021-1234567" is not a Pakistani mobile number' in result.text


def test_family_member_round_trip(testapp, world):
    testapp.login("head.a")
    page = testapp.get(f"/students/{world.student_a10.id}/family/new")
    form = page.forms["record-form"]
    form["relation"] = "sister"
    form["name_en"] = "Maryam Ahmed"
    form["name_ur"] = "مریم احمد"
    form["sibling_school_name"] = "GGPS Gulgasht"
    form["sibling_grade"] = "5"
    form["income_band"] = "none"
    form.submit("save", status=302)
    profile = testapp.get(f"/students/{world.student_a10.id}")
    assert "Maryam Ahmed" in profile.text and "GGPS Gulgasht" in profile.text


def test_end_enrollment_and_history(testapp, world):
    testapp.login("head.a")
    result = testapp.submit_form(
        f"/students/{world.student_a9.id}/end-enrollment",
        {"ended_on": "30/11/2026", "reason": "transfer_out", "note": "To Khanewal"},
        status=302,
    ).follow()
    assert "Transfer to another school" in result.text
    assert "Not enrolled now" in result.text


def test_export_csv_bom_and_formula_neutralised(testapp, world):
    people.update_student(
        world.session,
        world.student_a9,
        {"name_en": "Ayesha Khan"},
        version=None,
        actor=Actor.system(),
        now=world.now,
    )
    world.student_a9.father_name_en = '=HYPERLINK("http://evil.example")'
    world.session.flush()
    testapp.login("head.a")
    response = testapp.get(f"/students/export.csv?school_id={world.school_a.id}")
    assert response.body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.body.decode("utf-8-sig"))))
    ayesha = next(row for row in rows if row[0] == "A901")
    assert ayesha[3] == "عائشہ خان"
    assert ayesha[4].startswith("'=")
    assert world.session.scalar(select(func.count()).where(AuditEvent.action == "export")) == 1


def test_export_xlsx_neutralised(testapp, world):
    world.student_a9.father_name_en = "+cmd|' /C calc'!A0"
    world.session.flush()
    testapp.login("head.a")
    response = testapp.get("/students/export.xlsx")
    sheet = load_workbook(io.BytesIO(response.body)).active
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert "'+cmd|' /C calc'!A0" in values


def test_profile_query_count_does_not_grow(testapp, world, connection):
    """The profile runs the same number of SQL statements for a small and a large school."""
    testapp.login("head.a")

    def statements_for_profile() -> int:
        count = 0

        def count_statement(*_args):
            nonlocal count
            count += 1

        testapp.get(f"/students/{world.student_a9.id}")  # a first load settles the shared session
        event.listen(connection, "before_cursor_execute", count_statement)
        try:
            testapp.get(f"/students/{world.student_a9.id}")
        finally:
            event.remove(connection, "before_cursor_execute", count_statement)
        return count

    small = statements_for_profile()
    for number in range(60):
        world.admit(
            world.section_a9, f"X{number}", f"Student Number {chr(65 + number % 26)}", "طالب علم"
        )
    people.add_guardian(
        world.session,
        world.student_a9,
        {"name_en": "Shazia Bibi", "relation": "mother"},
        actor=Actor.system(),
        now=world.now,
    )
    world.session.flush()
    large = statements_for_profile()
    assert small == large
    # Identity, family and enrollments take about 20 statements; each domain's panel (marks,
    # report cards, feedback, attendance, behaviour, flags, plans, health, well-being,
    # messages) adds one to three, plus an audit row for each sensitive panel read.
    assert large <= 45


@pytest.mark.parametrize("typed", ["36302-1111111-1", "3630211111111", "۳۶۳۰۲۱۱۱۱۱۱۱۱"])
def test_search_by_b_form_however_typed(testapp, world, typed):
    testapp.login("head.a")
    page = testapp.get("/students", {"q": typed})
    assert "Ayesha Khan" in page.text
    assert "Bilal Ahmed" not in page.text


def test_search_by_urdu_name(testapp, world):
    testapp.login("head.a")
    page = testapp.get("/students", {"q": "عائشہ"})
    assert "Ayesha Khan" in page.text
    assert "Bilal Ahmed" not in page.text


def test_breadcrumb_links_only_pages_the_user_may_open(testapp, world):
    testapp.login("counsellor.a")
    page = testapp.get(f"/students/{world.student_a9.id}")
    school_url = f"/schools/{world.school_a.id}"
    assert f'href="http://localhost{school_url}"' not in page.text
    testapp.get(school_url, status=404)

    testapp.login("head.a")
    page = testapp.get(f"/students/{world.student_a9.id}")
    assert f'href="http://localhost{school_url}"' in page.text
