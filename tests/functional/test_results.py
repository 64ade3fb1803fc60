"""Results pages: the marks grid, files, sign-off, locking, conflicts, amendments and admin."""

import csv
import html
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers import Browser, count_statements
from openpyxl import Workbook, load_workbook
from sqlalchemy import delete, func, select

from spets.models import (
    Amendment,
    AmendmentState,
    AuditEvent,
    ExamKind,
    Mark,
    MarkStatus,
    PublishedMark,
    ResultOptions,
    Role,
    SheetState,
    Task,
    TaskState,
    User,
)
from spets.services import calendar, cycles, org, results, users
from spets.services.audit import Actor

SYSTEM = Actor.system()
D = Decimal


@pytest.fixture
def sheet_world(world):
    """A monthly assessment that ended in October, and the result sheets it opened.

    School A: subject.a9's Mathematics sheet of 9-A with Ayesha Khan and Students B, C
    and D. School B: teacher.b9's English sheet of 9-A with Fatima Noor.
    """
    w = world
    w.window = calendar.save_exam_window(
        w.session,
        w.year,
        None,
        {
            "kind": ExamKind.MONTHLY_ASSESSMENT,
            "name_en": "Monthly assessment (October)",
            "name_ur": "ماہانہ جائزہ (اکتوبر)",
            "starts_on": date(2026, 10, 26),
            "ends_on": date(2026, 10, 31),
        },
        version=None,
        actor=SYSTEM,
        now=w.now,
    )
    cycles.add_result_entry_definition(w.session, w.tenant, actor=SYSTEM, now=w.now)
    org.assign_teacher(
        w.session,
        section=w.section_b9,
        subject=w.subjects["ENG"],
        teacher=w.teacher_b9,
        starts_on=w.year.starts_on,
        actor=SYSTEM,
        now=w.now,
    )
    w.extra = [
        w.admit(w.section_a9, f"R{n:02d}", f"Student {chr(66 + n)}", "طالب علم") for n in range(3)
    ]
    tick_at = datetime(2026, 11, 2, 0, 15, tzinfo=ZoneInfo("Asia/Karachi")).astimezone(UTC)
    cycles.tick(w.session, tick_at)
    w.task = w.session.scalars(
        select(Task).where(Task.assignee_id == w.subject_teacher_a9.id)
    ).one()
    w.task_b = w.session.scalars(select(Task).where(Task.assignee_id == w.teacher_b9.id)).one()
    w.sheet = results.sheet_for_task(w.session, w.task, w.now)
    w.sheet_b = results.sheet_for_task(w.session, w.task_b, w.now)
    w.teacher = Actor(w.subject_teacher_a9.id)
    w.head = Actor(w.head_a.id)
    w.session.flush()
    return w


def url(w, action: str = "") -> str:
    return f"/result-sheets/{w.sheet.id}" + (f"/{action}" if action else "")


def roll_ids(w) -> list[int]:
    return [row.student.id for row in results.roll(w.session, w.sheet)]


def saved_marks(w) -> dict[int, tuple[MarkStatus, Decimal | None]]:
    """Each student's saved mark, read fresh from the database."""
    w.session.expire_all()
    return {row.student.id: (row.status, row.marks) for row in results.roll(w.session, w.sheet)}


def fill(form, w, values: list[str]) -> None:
    for student_id, value in zip(roll_ids(w), values, strict=True):
        form[f"mark-{student_id}"] = value


def save_directly(w, values: list[str]) -> None:
    typed = dict(zip(roll_ids(w), values, strict=True))
    results.save_marks(w.session, w.sheet, typed, lock_version=None, actor=w.teacher, now=w.now)
    w.session.flush()


def publish_directly(w, values=("20", "A", "0", "17.5")) -> None:
    save_directly(w, list(values))
    results.submit_sheet(w.session, w.sheet, actor=w.teacher, now=w.now)
    results.verify_sheet(w.session, w.sheet, actor=w.head, now=w.now)
    results.publish_sheet(w.session, w.sheet, actor=w.head, now=w.now)
    w.session.flush()


def text_of(page) -> str:
    return html.unescape(page.text)


def refusals(w) -> list[str]:
    return [
        e.reason
        for e in w.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "refused").order_by(AuditEvent.id)
        )
    ]


# The grid.


def test_task_link_opens_its_sheet(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    response = testapp.get(f"/tasks/{w.task.id}/results", status=302)
    assert response.location.endswith(url(w))


def test_grid_has_a_cell_per_student(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    page = testapp.get(url(w))
    form = page.forms["marks-grid"]
    assert form["csrf_token"].value
    assert form["lock_version"].value == str(w.sheet.lock_version)
    for student_id in roll_ids(w):
        assert form[f"mark-{student_id}"].value == ""
    assert 'formnovalidate="formnovalidate"' in page.text
    assert "results-grid.js" in page.text
    assert "Ayesha Khan" in page.text


def test_grid_saves_three_states(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    form = testapp.get(url(w)).forms["marks-grid"]
    fill(form, w, ["20", "A", "0", ""])
    page = form.submit("save", status=302).follow()
    assert "Marks saved: 4 changed." in page.text

    ids = roll_ids(w)
    assert saved_marks(w) == {
        ids[0]: (MarkStatus.ENTERED, D("20.00")),
        ids[1]: (MarkStatus.ABSENT, None),
        ids[2]: (MarkStatus.ENTERED, D("0.00")),
        ids[3]: (MarkStatus.MISSING, None),
    }
    assert page.html.select_one("#figure-sat").text == "2"
    assert page.html.select_one("#figure-absent").text == "1"
    assert page.html.select_one("#figure-missing").text == "1"
    assert page.html.select_one("#figure-passed").text.split() == ["1", "of", "2"]
    assert "10 / 25 (40.0%)" in page.html.select_one("#figure-average").text


def test_grid_reads_urdu_digits(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    form = testapp.get(url(w)).forms["marks-grid"]
    fill(form, w, ["۱۷٫۵", "٢٠", "غ", "۰"])
    form.submit("save", status=302)
    assert list(saved_marks(w).values()) == [
        (MarkStatus.ENTERED, D("17.50")),
        (MarkStatus.ENTERED, D("20.00")),
        (MarkStatus.ABSENT, None),
        (MarkStatus.ENTERED, D("0.00")),
    ]


def test_bad_marks_named_and_nothing_saved(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    form = testapp.get(url(w)).forms["marks-grid"]
    fill(form, w, ["26", "-1", "18.75", "twelve"])
    page = form.submit("save", status=200)
    text = text_of(page)
    assert "4 mark(s) could not be saved; nothing was changed." in text
    assert "Ayesha Khan: 26 is more than the maximum of 25." in text
    assert "Student B: -1 is below zero." in text
    assert "Student C: 18.75 is not a multiple of 0.5" in text
    assert 'Student D: "twelve" is not a mark.' in text
    assert w.session.scalar(select(func.count()).select_from(Mark)) == 0
    # The grid shows what was typed, so it can be corrected.
    again = page.forms["marks-grid"]
    assert [again[f"mark-{sid}"].value for sid in roll_ids(w)] == ["26", "-1", "18.75", "twelve"]
    assert f'id="row-{roll_ids(w)[0]}" class="table-danger"' in page.text


def test_long_cell_refused_shortened(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    form = testapp.get(url(w)).forms["marks-grid"]
    form.fields[f"mark-{roll_ids(w)[0]}"][0].force_value("9" * 500)
    page = form.submit("save", status=200)
    assert "Ayesha Khan: " in text_of(page)
    assert "9" * 21 not in page.text
    assert w.session.scalar(select(func.count()).select_from(Mark)) == 0


def test_grid_without_version_refused(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    page = testapp.post_with_csrf(url(w), {f"mark-{roll_ids(w)[0]}": "5"}, status=200)
    assert "The sheet's version is missing from the form" in text_of(page)
    assert w.session.scalar(select(func.count()).select_from(Mark)) == 0


def test_student_not_on_sheet_refused(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    params = {"lock_version": str(w.sheet.lock_version), f"mark-{w.student_b9.id}": "5"}
    page = testapp.post_with_csrf(url(w), params, status=200)
    assert f"The sheet has no student with id {w.student_b9.id}." in text_of(page)
    assert w.session.scalar(select(func.count()).select_from(Mark)) == 0


def test_submit_refused_while_marks_missing(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    form = testapp.get(url(w)).forms["marks-grid"]
    fill(form, w, ["20", "A", "", ""])
    page = form.submit("submit", status=302).follow()
    text = text_of(page)
    assert "Marks saved, but the sheet was not submitted." in text
    assert "2 student(s) have no mark yet: Student C, Student D." in text
    w.session.refresh(w.sheet)
    assert w.sheet.state == SheetState.DRAFT
    assert saved_marks(w)[roll_ids(w)[0]] == (MarkStatus.ENTERED, D("20.00"))


def test_submit_then_read_only(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    form = testapp.get(url(w)).forms["marks-grid"]
    fill(form, w, ["20", "A", "0", "12.5"])
    page = form.submit("submit", status=302).follow()
    assert "Submitted to the head teacher." in page.text
    assert "marks-grid" not in page.forms
    w.session.refresh(w.sheet)
    w.session.refresh(w.task)
    assert w.sheet.state == SheetState.SUBMITTED
    assert w.task.state == TaskState.SUBMITTED


def test_others_read_grid_without_form(testapp, sheet_world):
    w = sheet_world
    save_directly(w, ["20", "A", "0", "12.5"])
    for username in ("class.a9", "head.a", "aeo.a", "admin"):
        testapp.login(username)
        page = testapp.get(url(w))
        assert "marks-grid" not in page.forms, username
        assert "12.5" in page.text
    testapp.login("class.a9")
    params = {"lock_version": str(w.sheet.lock_version), f"mark-{roll_ids(w)[0]}": "1"}
    assert testapp.post_with_csrf(url(w), params, expect_errors=True).status_int == 403


def test_untaught_section_sheet_answers_404(testapp, sheet_world):
    w = sheet_world
    for username in ("teacher.a10", "teacher.b9", "head.b"):
        testapp.login(username)
        assert testapp.get(url(w), expect_errors=True).status_int == 404, username
        params = {"lock_version": "1", f"mark-{roll_ids(w)[0]}": "5"}
        assert testapp.post_with_csrf(url(w), params, expect_errors=True).status_int == 404
        assert testapp.get(f"/tasks/{w.task.id}/results", expect_errors=True).status_int == 404
    assert w.session.scalar(select(func.count()).select_from(Mark)) == 0


# Sign-off by the head teacher.


def submitted(w) -> None:
    save_directly(w, ["20", "A", "0", "12.5"])
    results.submit_sheet(w.session, w.sheet, actor=w.teacher, now=w.now)
    w.session.flush()


def test_head_verifies_then_publishes(testapp, sheet_world):
    w = sheet_world
    submitted(w)
    testapp.login("head.a")
    page = testapp.get(url(w))
    assert "Verify" in page.text
    assert "Publish and lock" not in page.text
    page = testapp.post_with_csrf(url(w, "verify"), status=302).follow()
    assert "Verified." in page.text
    assert "Publish and lock" in page.text
    page = testapp.post_with_csrf(url(w, "publish"), status=302).follow()
    assert "Published and locked." in page.text
    w.session.refresh(w.sheet)
    w.session.refresh(w.task)
    assert w.sheet.state == SheetState.PUBLISHED
    assert w.task.state == TaskState.APPROVED
    published = w.session.scalar(select(func.count()).select_from(PublishedMark))
    assert published == 4


def test_publish_before_verify_refused(testapp, sheet_world):
    w = sheet_world
    submitted(w)
    testapp.login("head.a")
    page = testapp.post_with_csrf(url(w, "publish"), status=302).follow()
    assert "This cannot be done to a sheet that is submitted." in text_of(page)
    w.session.refresh(w.sheet)
    assert w.sheet.state == SheetState.SUBMITTED


def test_teacher_cannot_verify(testapp, sheet_world):
    w = sheet_world
    submitted(w)
    testapp.login("subject.a9")
    assert testapp.post_with_csrf(url(w, "verify"), expect_errors=True).status_int == 403
    w.session.refresh(w.sheet)
    assert w.sheet.state == SheetState.SUBMITTED


def test_return_needs_comment_then_reopens(testapp, sheet_world):
    w = sheet_world
    submitted(w)
    testapp.login("head.a")
    page = testapp.post_with_csrf(url(w, "return"), {"comment": " "}, status=302).follow()
    assert "a return needs a comment" in page.text
    testapp.post_with_csrf(url(w, "return"), {"comment": "Check Student D's paper."}, status=302)
    w.session.refresh(w.sheet)
    assert w.sheet.state == SheetState.DRAFT

    testapp.login("subject.a9")
    page = testapp.get(url(w))
    assert "Check Student D&#39;s paper." in page.text or "Check Student D's paper." in page.text
    assert "marks-grid" in page.forms


# Locking: every write path to a published sheet is refused, changes nothing and is audited.


LOCKED_WRITES = [
    ("subject.a9", "", "grid"),
    ("subject.a9", "submit", "grid"),
    ("subject.a9", "settings", "settings"),
    ("subject.a9", "upload", "upload"),
    ("head.a", "verify", "verify"),
    ("head.a", "publish", "publish"),
    ("head.a", "return", "return"),
]


@pytest.mark.parametrize(("username", "action", "path"), LOCKED_WRITES)
def test_published_sheet_refuses_write(testapp, sheet_world, username, action, path):
    w = sheet_world
    publish_directly(w)
    before = saved_marks(w)
    published_before = w.session.scalar(select(func.count()).select_from(PublishedMark))
    params = {
        "lock_version": str(w.sheet.lock_version),
        "version": str(w.sheet.lock_version),
        "comment": "Change it please.",
        "max_marks": "50",
        "pass_marks": "17",
        "step": "1",
        **{f"mark-{sid}": "1" for sid in roll_ids(w)},
    }
    files = [("file", "marks.csv", b"admission_no,name,marks\nA901,Ayesha Khan,1\n")]
    testapp.login(username)
    response = testapp.post(
        url(w, action),
        {**params, "csrf_token": testapp.csrf_token()},
        upload_files=files if action == "upload" else None,
        expect_errors=True,
    )
    assert response.status_int == 403
    assert "This sheet is published and locked." in text_of(response)
    assert saved_marks(w) == before
    w.session.refresh(w.sheet)
    assert (w.sheet.state, w.sheet.max_marks) == (SheetState.PUBLISHED, D(25))
    assert w.session.scalar(select(func.count()).select_from(PublishedMark)) == published_before
    assert refusals(w) == [f"write to a published sheet through {path}"]


def test_published_grid_has_no_form(testapp, sheet_world):
    w = sheet_world
    publish_directly(w)
    testapp.login("subject.a9")
    page = testapp.get(url(w))
    assert "marks-grid" not in page.forms
    assert "Request a change" in page.text
    assert testapp.get(url(w, "settings"), status=302)
    assert testapp.get(url(w, "upload"), status=302)


def test_submitted_sheet_refuses_grid(testapp, sheet_world):
    w = sheet_world
    submitted(w)
    testapp.login("subject.a9")
    params = {"lock_version": str(w.sheet.lock_version), f"mark-{roll_ids(w)[0]}": "1"}
    response = testapp.post_with_csrf(url(w), params, expect_errors=True)
    assert response.status_int == 403
    assert "This sheet is submitted; marks can change only while it is a draft." in text_of(
        response
    )
    assert saved_marks(w)[roll_ids(w)[0]] == (MarkStatus.ENTERED, D("20.00"))


# Two people saving one sheet: one wins, the other sees what changed, nothing is lost.


def test_concurrent_saves_conflict_without_lost_update(testapp, sheet_world):
    w = sheet_world
    ayesha, student_b, student_c, _student_d = roll_ids(w)
    other = Browser(type(testapp.app)(testapp.app.app, extra_environ=testapp.app.extra_environ))
    testapp.login("subject.a9")
    other.login("subject.a9")  # the same teacher on a second device
    mine = testapp.get(url(w)).forms["marks-grid"]
    theirs = other.get(url(w)).forms["marks-grid"]

    theirs[f"mark-{ayesha}"] = "20"
    theirs[f"mark-{student_c}"] = "9"
    theirs.submit("save", status=302)

    mine[f"mark-{ayesha}"] = "18"
    mine[f"mark-{student_b}"] = "15"
    conflict = mine.submit("save", status=200)
    text = text_of(conflict)
    assert "Someone saved this sheet after you opened it, so nothing of yours was saved." in text
    table = conflict.html.select_one("#conflict table")
    rows = [[cell.text.strip() for cell in row.select("td")] for row in table.select("tbody tr")]
    assert rows == [["Ayesha Khan", "20", "18", "18"], ["Student C", "9", "—", "9"]]
    assert saved_marks(w)[ayesha] == (MarkStatus.ENTERED, D("20.00"))
    assert saved_marks(w)[student_b] == (MarkStatus.MISSING, None)

    # The page keeps my edits over the newer marks and carries the newer version.
    again = conflict.forms["marks-grid"]
    assert again["lock_version"].value == str(w.sheet.lock_version)
    assert again[f"mark-{ayesha}"].value == "18"
    assert again[f"mark-{student_b}"].value == "15"
    assert again[f"mark-{student_c}"].value == "9"
    again.submit("save", status=302)
    marks = saved_marks(w)
    assert marks[ayesha] == (MarkStatus.ENTERED, D("18.00"))
    assert marks[student_b] == (MarkStatus.ENTERED, D("15.00"))
    assert marks[student_c] == (MarkStatus.ENTERED, D("9.00"))  # the other save is kept


def test_settings_changed_meanwhile_is_stale(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    form = testapp.get(url(w)).forms["marks-grid"]
    results.update_settings(
        w.session,
        w.sheet,
        max_marks=D(20),
        pass_marks=D(7),
        step=D(1),
        lock_version=None,
        actor=w.teacher,
        now=w.now,
    )
    w.session.flush()
    fill(form, w, ["20", "A", "0", "12"])
    page = form.submit("save", status=200)
    assert "No mark was changed meanwhile" in page.text
    assert page.html.select_one("#conflict") is None
    assert w.session.scalar(select(func.count()).select_from(Mark)) == 0
    page.forms["marks-grid"].submit("save", status=302)
    assert saved_marks(w)[roll_ids(w)[3]] == (MarkStatus.ENTERED, D("12.00"))


def test_upload_after_grid_save_is_stale(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    upload_form = testapp.get(url(w, "upload")).forms["upload-form"]
    save_directly(w, ["20", "A", "0", "12.5"])
    upload_form["file"] = ("marks.csv", b"admission_no,name,marks\nA901,Ayesha Khan,5\n")
    page = upload_form.submit("upload", status=200)
    assert "Someone saved marks on this sheet after you opened this page" in page.text
    assert saved_marks(w)[roll_ids(w)[0]] == (MarkStatus.ENTERED, D("20.00"))


# A fixed number of statements per save.


def grid_post(testapp, w, ids: list[int], value: str, token: str):
    """Build the grid's POST outside the count; return the request to count."""
    params = {f"mark-{sid}": value for sid in ids}
    params["lock_version"] = str(w.sheet.lock_version)
    params["csrf_token"] = token
    return lambda: testapp.post(url(w), params, status=302)


def test_grid_save_statement_count_fixed(testapp, sheet_world, connection):
    """Saving the grid runs the same statements for 6 and for 60 students."""
    w = sheet_world
    testapp.login("subject.a9")
    counts = {}
    for size in (6, 60):
        while len(roll_ids(w)) < size:
            number = len(roll_ids(w))
            w.admit(w.section_a9, f"Q{number:03d}", f"Filler Student {number:03d}", "طالب علم")
        w.session.flush()
        ids = roll_ids(w)
        testapp.get(url(w))  # a first load settles the shared session
        save_directly(w, ["1"] * len(ids))  # the task is in progress, every row exists
        w.session.execute(delete(Mark))

        token = testapp.csrf_token()
        inserting = count_statements(connection, grid_post(testapp, w, ids, "10", token))
        updating = count_statements(connection, grid_post(testapp, w, ids, "12.5", token))
        counts[size] = (inserting, updating)
        assert set(saved_marks(w).values()) == {(MarkStatus.ENTERED, D("12.50"))}
    print(f"statements per grid save (insert, update): {counts}")
    assert counts[6] == counts[60]
    # Loading the user and the sheet takes 8; the save 9, its SAVEPOINT and RELEASE included.
    assert counts[60][0] <= 17


# Files: download and upload.


def test_csv_download_bom_and_neutralised(testapp, sheet_world):
    w = sheet_world
    save_directly(w, ["20", "A", "0", ""])
    w.extra[0].name_en = '=HYPERLINK("http://evil.example")'
    w.session.flush()
    testapp.login("subject.a9")
    response = testapp.get(url(w, "marks.csv"))
    assert response.content_type == "text/csv"
    assert response.body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.body.decode("utf-8-sig"))))
    assert rows[0] == ["admission_no", "name", "marks"]
    by_number = {row[0]: row for row in rows[1:]}
    assert by_number["A901"] == ["A901", "Ayesha Khan", "20"]
    assert by_number["R00"][1].startswith("'=HYPERLINK")
    assert sorted(row[2] for row in rows[1:]) == ["", "0", "20", "A"]
    assert w.session.scalar(select(func.count()).where(AuditEvent.action == "export")) == 1


def test_xlsx_download_numbers_and_neutralised(testapp, sheet_world):
    w = sheet_world
    save_directly(w, ["20", "17.5", "A", ""])
    w.extra[1].name_en = "+cmd|' /C calc'!A0"
    w.session.flush()
    testapp.login("head.a")
    response = testapp.get(url(w, "marks.xlsx"))
    sheet = load_workbook(io.BytesIO(response.body)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == ["admission_no", "name", "marks"]
    assert ["A901", "Ayesha Khan", 20] in rows
    assert "'+cmd|' /C calc'!A0" in [row[1] for row in rows]
    assert 17.5 in [row[2] for row in rows]
    assert "A" in [row[2] for row in rows]


def test_downloaded_csv_uploads_back(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    body = testapp.get(url(w, "marks.csv")).body.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    for row, mark in zip(rows[1:], ["20", "A", "0", "۱۲٫۵"], strict=True):
        row[2] = mark
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    form = testapp.get(url(w, "upload")).forms["upload-form"]
    form["file"] = ("marks.csv", b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    page = form.submit("upload", status=302).follow()
    assert "The file's marks are saved: 4 changed, 0 unchanged." in page.text
    assert sorted(saved_marks(w).values(), key=str) == sorted(
        [
            (MarkStatus.ENTERED, D("20.00")),
            (MarkStatus.ABSENT, None),
            (MarkStatus.ENTERED, D("0.00")),
            (MarkStatus.ENTERED, D("12.50")),
        ],
        key=str,
    )
    audits = w.session.scalars(
        select(AuditEvent.reason).where(AuditEvent.entity_type == "result_sheet")
    )
    assert "marks saved through upload" in list(audits)


def test_xlsx_upload_saves(testapp, sheet_world):
    w = sheet_world
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Admission No", "Name", "Marks"])
    sheet.append(["A901", "عائشہ خان", 19.5])
    sheet.append(["R00", "Student B", 7])
    buffer = io.BytesIO()
    workbook.save(buffer)
    testapp.login("subject.a9")
    form = testapp.get(url(w, "upload")).forms["upload-form"]
    form["file"] = ("marks.xlsx", buffer.getvalue())
    form.submit("upload", status=302)
    marks = saved_marks(w)
    assert marks[w.student_a9.id] == (MarkStatus.ENTERED, D("19.50"))
    assert marks[w.extra[0].id] == (MarkStatus.ENTERED, D("7.00"))
    assert marks[w.extra[1].id] == (MarkStatus.MISSING, None)  # not in the file


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"admission,name,marks\nA901,Ayesha Khan,5\n", "Unknown column(s): admission."),
        (
            b"admission_no,name,marks,remarks\nA901,Ayesha Khan,5,good\n",
            "Unknown column(s): remarks.",
        ),
        (
            b"admission_no,name,marks\nA901,Ayesha Khan,5,extra\n",
            "Row 2: there is a value in a column without a header (extra).",
        ),
        (
            b"admission_no,name,marks\nZ999,Nobody,5\n",
            'Row 2: no student with admission number "Z999" is on this sheet.',
        ),
        (
            b"admission_no,name,marks\nA901,Ayesha Khan,26\n",
            "Row 2: Ayesha Khan: 26 is more than the maximum of 25.",
        ),
        (
            b"admission_no,name,marks\nA901,Ayesha Khan,7.25\n",
            "Row 2: Ayesha Khan: 7.25 is not a multiple of 0.5",
        ),
        (
            b"admission_no,name,marks\nA901,Zara Malik,5\n",
            'Row 2: admission number A901 is Ayesha Khan on this sheet, but the row says "Zara Malik".',
        ),
        (b"\xff\xfeadmission_no", "The file is not UTF-8 text"),
        (b"", "The file is empty."),
    ],
)
def test_bad_upload_refused_by_row(testapp, sheet_world, content, expected):
    w = sheet_world
    testapp.login("subject.a9")
    form = testapp.get(url(w, "upload")).forms["upload-form"]
    form["file"] = ("marks.csv", content)
    page = form.submit("upload", status=200)
    assert expected in text_of(page)
    assert w.session.scalar(select(func.count()).select_from(Mark)) == 0


def test_upload_wrong_file_type(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    form = testapp.get(url(w, "upload")).forms["upload-form"]
    form["file"] = ("marks.pdf", b"%PDF-1.7")
    page = form.submit("upload", status=200)
    assert '"marks.pdf" is not a CSV or XLSX file.' in text_of(page)


def test_upload_over_size_limit(testapp, wsgi_app, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    form = testapp.get(url(w, "upload")).forms["upload-form"]
    form["file"] = ("marks.csv", b"admission_no,name,marks\n" + b"A901,Ayesha Khan,5\n" * 100)
    limit = wsgi_app.registry.settings["spets.imports.max_bytes"]
    wsgi_app.registry.settings["spets.imports.max_bytes"] = 1000
    try:
        page = form.submit("upload", status=200)
    finally:
        wsgi_app.registry.settings["spets.imports.max_bytes"] = limit
    assert "The file is larger than" in page.text
    assert w.session.scalar(select(func.count()).select_from(Mark)) == 0


# Settings.


def test_settings_change_and_checks(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    page = testapp.get(url(w, "settings"))
    form = page.forms["record-form"]
    assert form["max_marks"].value == "25"
    form["max_marks"] = "۵۰"
    form["pass_marks"] = "16.5"
    form["step"] = "0.5"
    form.submit("save", status=302)
    w.session.refresh(w.sheet)
    assert (w.sheet.max_marks, w.sheet.pass_marks, w.sheet.step) == (D(50), D("16.5"), D("0.5"))

    form = testapp.get(url(w, "settings")).forms["record-form"]
    form["max_marks"] = "50.5"
    form["step"] = "1"
    page = form.submit("save", status=200)
    assert "The maximum must be above zero and a multiple of the step." in page.text


def test_settings_refuse_stranding_marks(testapp, sheet_world):
    w = sheet_world
    save_directly(w, ["20", "A", "0", "17.5"])
    testapp.login("subject.a9")
    form = testapp.get(url(w, "settings")).forms["record-form"]
    form["max_marks"] = "20"
    form["pass_marks"] = "7"
    form["step"] = "1"
    page = form.submit("save", status=200)
    assert "already has 17.5, which the new maximum or step would not allow" in text_of(page)
    w.session.refresh(w.sheet)
    assert w.sheet.max_marks == D(25)


# Amendments, history and the results page.


def request_change(testapp, w, student, mark: str, reason: str):
    form = testapp.get(url(w, "amend")).forms["record-form"]
    form["student_id"] = str(student.id)
    form["marks"] = mark
    form["reason"] = reason
    return form.submit("save")


def test_amendment_approved_publishes_version_two(testapp, sheet_world):
    w = sheet_world
    publish_directly(w)
    absent = next(
        r.student for r in results.roll(w.session, w.sheet) if r.status == MarkStatus.ABSENT
    )
    testapp.login("subject.a9")
    page = request_change(
        testapp, w, absent, "14", "Sat the paper late with the head teacher's leave."
    )
    assert page.status_int == 302
    amendment = w.session.scalars(select(Amendment)).one()
    assert saved_marks(w)[absent.id] == (MarkStatus.ABSENT, None)  # nothing changes yet

    testapp.login("head.a")
    queue = testapp.get("/amendments")
    assert f"/amendments/{amendment.id}" in queue.text
    decision = testapp.get(f"/amendments/{amendment.id}").forms["decision-form"]
    page = decision.submit("approve", status=302).follow()
    assert "version 2 of the sheet is published" in page.text
    assert saved_marks(w)[absent.id] == (MarkStatus.ENTERED, D("14.00"))

    history = testapp.get(url(w, "history"))
    table = history.html.select_one("#versions")
    row = next(tr for tr in table.select("tbody tr") if absent.name_en in tr.text)
    assert [td.text.strip() for td in row.select("td")][1:] == ["A", "14"]
    assert "table-warning" in row.select("td")[-1]["class"]
    assert "Sat the paper late with the head teacher" in text_of(history)
    assert "Approved" in history.text


def test_amendment_rejected_keeps_mark(testapp, sheet_world):
    w = sheet_world
    publish_directly(w)
    testapp.login("subject.a9")
    request_change(testapp, w, w.student_a9, "5", "The marks were added up wrongly.")
    amendment = w.session.scalars(select(Amendment)).one()
    testapp.login("head.a")
    decision = testapp.get(f"/amendments/{amendment.id}").forms["decision-form"]
    page = decision.submit("reject", status=200)
    assert "Say why the amendment is rejected." in page.text
    decision = page.forms["decision-form"]
    decision["comment"] = "The script was checked twice."
    decision.submit("reject", status=302)
    w.session.refresh(amendment)
    assert amendment.state == AmendmentState.REJECTED
    assert saved_marks(w)[w.student_a9.id] == (MarkStatus.ENTERED, D("20.00"))
    assert "The script was checked twice." in testapp.get(url(w, "history")).text


def test_amendment_form_checks_reason_and_mark(testapp, sheet_world):
    w = sheet_world
    publish_directly(w)
    testapp.login("subject.a9")
    page = request_change(testapp, w, w.student_a9, "14", "short")
    assert "at least 10 characters" in page.text
    page = request_change(testapp, w, w.student_a9, "30", "The marks were added up wrongly.")
    assert "Ayesha Khan: 30 is more than the maximum of 25." in page.text
    assert w.session.scalar(select(func.count()).select_from(Amendment)) == 0


def test_second_amendment_request_refused(testapp, sheet_world):
    w = sheet_world
    publish_directly(w)
    testapp.login("subject.a9")
    request_change(testapp, w, w.student_a9, "5", "The marks were added up wrongly.")
    page = request_change(testapp, w, w.student_a9, "5", "The marks were added up wrongly.")
    assert page.status_int == 200
    assert (
        "A change to the mark of Ayesha Khan is already waiting for the head teacher's decision."
        in text_of(page)
    )
    assert w.session.scalar(select(func.count()).select_from(Amendment)) == 1


def test_decision_page_shows_current_mark(testapp, sheet_world):
    w = sheet_world
    publish_directly(w)
    testapp.login("subject.a9")
    request_change(testapp, w, w.student_a9, "5", "The marks were added up wrongly.")
    amendment = w.session.scalars(select(Amendment)).one()
    # A second pending request for the same mark, as the application allowed once.
    duplicate = Amendment(
        sheet_id=amendment.sheet_id,
        student_id=amendment.student_id,
        old_status=amendment.old_status,
        old_marks=amendment.old_marks,
        new_status=amendment.new_status,
        new_marks=amendment.new_marks,
        reason=amendment.reason,
        state=AmendmentState.REQUESTED,
        requested_by_id=amendment.requested_by_id,
        requested_at=amendment.requested_at,
    )
    w.session.add(duplicate)
    w.session.flush()

    testapp.login("head.a")
    page = testapp.get(f"/amendments/{duplicate.id}")
    assert page.html.select_one("#amendment-current-mark span").text.strip() == "20"
    assert page.html.select_one("#amendment-stale") is None
    testapp.get(f"/amendments/{amendment.id}").forms["decision-form"].submit("approve", status=302)

    page = testapp.get(f"/amendments/{duplicate.id}")
    assert page.html.select_one("#amendment-current-mark span").text.strip() == "5"
    assert page.html.select_one("#amendment-stale") is not None
    page = page.forms["decision-form"].submit("approve", status=200)
    assert "The published mark of Ayesha Khan is already 5" in text_of(page)
    w.session.refresh(duplicate)
    w.session.refresh(w.sheet)
    assert duplicate.state == AmendmentState.REQUESTED
    assert w.sheet.published_version == 2


def test_amendment_without_approval_refused_and_audited(testapp, sheet_world):
    w = sheet_world
    publish_directly(w)
    testapp.login("subject.a9")
    request_change(testapp, w, w.student_a9, "5", "The marks were added up wrongly.")
    amendment = w.session.scalars(select(Amendment)).one()
    for username in ("subject.a9", "class.a9", "aeo.a"):
        testapp.login(username)
        response = testapp.post_with_csrf(
            f"/amendments/{amendment.id}", {"approve": "approve"}, expect_errors=True
        )
        assert response.status_int == 403, username
    w.session.refresh(amendment)
    assert amendment.state == AmendmentState.REQUESTED
    assert saved_marks(w)[w.student_a9.id] == (MarkStatus.ENTERED, D("20.00"))
    assert w.sheet.published_version == 1
    assert refusals(w) == ["decision by a user who is not the amendment's approver"] * 3


def test_amend_only_teacher_or_head(testapp, sheet_world):
    w = sheet_world
    publish_directly(w)
    for username, status in (
        ("class.a9", 403),
        ("aeo.a", 403),
        ("head.a", 200),
        ("subject.a9", 200),
    ):
        testapp.login(username)
        assert testapp.get(url(w, "amend"), expect_errors=True).status_int == status, username


def test_amend_draft_sends_back(testapp, sheet_world):
    w = sheet_world
    testapp.login("subject.a9")
    page = testapp.get(url(w, "amend"), status=302).follow()
    assert "Only a published sheet is amended" in page.text


def test_heads_own_subject_goes_to_aeo(testapp, sheet_world):
    w = sheet_world
    users.assign_role(
        w.session,
        user=w.subject_teacher_a9,
        role=Role.HEAD_TEACHER,
        org_unit=w.school_a,
        valid_from=w.year.starts_on,
        valid_to=None,
        actor=SYSTEM,
        now=w.now,
    )
    publish_directly(w)
    testapp.login("subject.a9")
    request_change(testapp, w, w.student_a9, "5", "The marks were added up wrongly.")
    amendment = w.session.scalars(select(Amendment)).one()

    testapp.login("head.a")
    assert f"/amendments/{amendment.id}" not in testapp.get("/amendments").text
    testapp.login("aeo.a")
    assert f"/amendments/{amendment.id}" in testapp.get("/amendments").text
    decision = testapp.get(f"/amendments/{amendment.id}").forms["decision-form"]
    decision.submit("approve", status=302)
    assert saved_marks(w)[w.student_a9.id] == (MarkStatus.ENTERED, D("5.00"))


def test_results_page_lists_work_by_role(testapp, sheet_world):
    w = sheet_world
    submitted(w)
    testapp.login("head.a")
    page = testapp.get("/amendments")
    assert f"/result-sheets/{w.sheet.id}" in page.html.select_one("#to-sign-off").decode()
    testapp.login("head.b")
    assert f"/result-sheets/{w.sheet.id}" not in testapp.get("/amendments").text
    testapp.login("subject.a9")
    page = testapp.get("/amendments")
    assert f"/sections/{w.section_a9.id}/results" in page.text
    assert "to-sign-off" not in page.text
    testapp.login("admin")
    assert "/admin/grade-scale" in testapp.get("/amendments").text


def test_results_menu_entry(testapp, sheet_world):
    testapp.login("subject.a9")
    page = testapp.get("/")
    link = page.html.find("a", string="Results")
    assert link is not None and link["href"].endswith("/amendments")


# The section's results.


def test_section_results_overview(testapp, sheet_world):
    w = sheet_world
    save_directly(w, ["20", "A", "0", "12.5"])
    testapp.login("head.a")
    section_page = testapp.get(f"/sections/{w.section_a9.id}")
    assert f"/sections/{w.section_a9.id}/results" in section_page.text
    page = testapp.get(f"/sections/{w.section_a9.id}/results")
    row = page.html.select_one("#section-results tbody tr")
    cells = [td.text.strip() for td in row.select("td")]
    assert cells[:4] == ["Monthly assessment (October)", "Mathematics", "Subject A9", "a draft"]
    assert cells[4:7] == ["3", "1", "0"]
    assert cells[7] == "10.8 / 25 (43.3%)"
    assert cells[8] == "2"
    testapp.login("teacher.a10")
    assert testapp.get(f"/sections/{w.section_a9.id}/results", expect_errors=True).status_int == 404


# The student profile shows published marks only.


def test_profile_shows_published_marks_only(testapp, sheet_world):
    w = sheet_world
    save_directly(w, ["20", "A", "0", "17.5"])
    testapp.login("head.a")
    panel = testapp.get(f"/students/{w.student_a9.id}").html.select_one("#marks")
    assert "No result published yet." in panel.text
    results.submit_sheet(w.session, w.sheet, actor=w.teacher, now=w.now)
    results.verify_sheet(w.session, w.sheet, actor=w.head, now=w.now)
    results.publish_sheet(w.session, w.sheet, actor=w.head, now=w.now)
    w.session.flush()
    panel = testapp.get(f"/students/{w.student_a9.id}").html.select_one("#marks")
    cells = [td.text.strip() for td in panel.select("tbody td")]
    assert cells == ["Monthly assessment (October)", "Mathematics", "20 / 25", "80.0%", "A-1"]


def test_profile_statements_fixed_with_more_results(testapp, sheet_world, connection):
    """The marks panel runs the same statements for one published sheet and for three."""
    w = sheet_world
    publish_directly(w)
    testapp.login("head.a")
    profile = f"/students/{w.student_a9.id}"
    testapp.get(profile)  # a first load settles the shared session
    one = count_statements(connection, lambda: testapp.get(profile))

    org.assign_teacher(
        w.session,
        section=w.section_a9,
        subject=w.subjects["ENG"],
        teacher=w.class_teacher_a9,
        starts_on=w.year.starts_on,
        actor=SYSTEM,
        now=w.now,
    )
    november = calendar.save_exam_window(
        w.session,
        w.year,
        None,
        {
            "kind": ExamKind.MONTHLY_ASSESSMENT,
            "name_en": "Monthly assessment (November)",
            "name_ur": "ماہانہ جائزہ (نومبر)",
            "starts_on": date(2026, 11, 16),
            "ends_on": date(2026, 11, 21),
        },
        version=None,
        actor=SYSTEM,
        now=w.now,
    )
    cycles.tick(w.session, datetime(2026, 11, 23, 0, 15, tzinfo=ZoneInfo("Asia/Karachi")))
    new_tasks = [
        task
        for task in w.session.scalars(select(Task).where(Task.section_id == w.section_a9.id))
        if task.cycle_run.exam_window_id == november.id
    ]
    assert len(new_tasks) == 2
    for task in new_tasks:
        sheet = results.sheet_for_task(w.session, task, w.now)
        teacher = Actor(task.assignee_id)
        typed = {row.student.id: "15" for row in results.roll(w.session, sheet)}
        results.save_marks(w.session, sheet, typed, lock_version=None, actor=teacher, now=w.now)
        results.submit_sheet(w.session, sheet, actor=teacher, now=w.now)
        results.verify_sheet(w.session, sheet, actor=w.head, now=w.now)
        results.publish_sheet(w.session, sheet, actor=w.head, now=w.now)
    w.session.flush()
    testapp.get(profile)
    three = count_statements(connection, lambda: testapp.get(profile))
    assert len(testapp.get(profile).html.select("#marks tbody tr")) == 3
    print(f"profile statements with 1 and 3 published sheets: {one}, {three}")
    assert one == three


# Administration.


def test_grade_scale_admin(testapp, sheet_world):
    w = sheet_world
    testapp.login("admin")
    form = testapp.get("/admin/grade-scale").forms["grade-scale"]
    assert form["grade-0"].value == "A-1"
    assert form["min_percent-6"].value == "0"
    for number in range(7):
        form[f"grade-{number}"] = ""
        form[f"min_percent-{number}"] = ""
    form["grade-0"], form["min_percent-0"] = "Pass", "40"
    form["grade-1"], form["min_percent-1"] = "Fail", "0"
    form["passing-1"] = False
    form.submit("save", status=302)
    bands = results.bands_of(w.session, w.tenant.id)
    assert [(b.grade, b.min_percent, b.passing) for b in bands] == [
        ("Pass", D(40), True),
        ("Fail", D(0), False),
    ]


def test_grade_scale_refuses_bad_scale(testapp, sheet_world):
    testapp.login("admin")
    form = testapp.get("/admin/grade-scale").forms["grade-scale"]
    form["min_percent-6"] = "5"  # no band starts at 0 %
    page = form.submit("save", status=200)
    assert "The lowest band must start at 0 %" in page.text
    form = page.forms["grade-scale"]
    form["min_percent-6"] = "33.25"
    page = form.submit("save", status=200)
    assert '"33.25" has more than 1 decimal place(s).' in text_of(page)


def test_result_options_admin(testapp, sheet_world):
    w = sheet_world
    testapp.login("admin")
    form = testapp.get("/admin/result-options").forms["record-form"]
    form["show_class_position"] = True
    form.submit("save", status=302)
    assert w.session.get(ResultOptions, w.tenant.id).show_class_position is True
    testapp.login("head.a")
    assert testapp.get("/admin/result-options", expect_errors=True).status_int == 403
    assert testapp.get("/admin/grade-scale", expect_errors=True).status_int == 403


# Urdu.


def test_grid_in_urdu(testapp, sheet_world):
    w = sheet_world
    user = w.session.scalar(select(User).where(User.username == "subject.a9"))
    user.locale = "ur"
    w.session.flush()
    testapp.login("subject.a9")
    page = testapp.get(url(w))
    assert '<html lang="ur" dir="rtl"' in page.text
    assert "ماہانہ جائزہ (اکتوبر)" in page.text
    assert 'dir="ltr" inputmode="decimal"' in page.text
    english_left = [
        word for word in ("Save marks", "Absent", "Average") if f">{word}<" in page.text
    ]
    assert english_left == []
    form = page.forms["marks-grid"]
    fill(form, w, ["26", "", "", ""])
    page = form.submit("save", status=200)
    message = page.html.select_one("#sheet-message").text
    assert "Ayesha Khan: 26 زیادہ سے زیادہ 25 سے بڑھ کر ہے۔" in message
    assert "could not be saved" not in message


# The grid in a real browser: keyboard entry and pasting a column.


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def serve_through(testapp):
    """Return a Playwright route handler that answers every request from the WebTest app.

    The browser then shares the test's database session, so the test sees what it saved.
    """

    def handle(route):
        request = route.request
        path = request.url.removeprefix("http://localhost")
        if request.method == "GET":
            response = testapp.get(path, expect_errors=True)
        else:
            response = testapp.app.post(
                path,
                request.post_data_buffer,
                content_type=request.headers["content-type"],
                expect_errors=True,
            )
        # Playwright 1.65 does not route the request that a fulfilled redirect leads to (the
        # browser tries a real connection), so the redirect is followed here.
        while response.status_int in (301, 302, 303):
            response = response.follow(expect_errors=True)
        headers = {k: v for k, v in response.headerlist if k.lower() != "content-length"}
        route.fulfill(status=response.status_int, headers=headers, body=response.body)

    return handle


PASTE = """(args) => {
    const cell = document.querySelector(`input[name="${args.name}"]`);
    const data = new DataTransfer();
    data.setData("text/plain", args.text);
    cell.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
}"""


@pytest.mark.browser
def test_grid_keyboard_and_paste_in_chromium(testapp, sheet_world):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make system-packages` to install Debian's chromium"
        )
    w = sheet_world
    first, second, third, fourth = (f"mark-{sid}" for sid in roll_ids(w))
    testapp.login("subject.a9")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.route("http://localhost/**", serve_through(testapp))
            page.goto(f"http://localhost{url(w)}")
            active = "document.activeElement.name"

            page.focus(f"input[name={first}]")
            page.keyboard.type("20")
            page.keyboard.press("Enter")  # down, without submitting the form
            assert page.evaluate(active) == second
            page.keyboard.press("a")  # absent, and on to the next student
            assert page.input_value(f"input[name={second}]") == "A"
            assert page.evaluate(active) == third
            page.keyboard.press("Shift+Enter")
            assert page.evaluate(active) == second
            page.keyboard.press("Tab")  # the student links are out of the tab order
            assert page.evaluate(active) == third

            # A column copied from a spreadsheet: three lines, but only two cells below.
            page.evaluate(PASTE, {"name": third, "text": "0\t(total)\r\n12.5\r\n7\r\n"})
            assert page.input_value(f"input[name={third}]") == "0"
            assert page.input_value(f"input[name={fourth}]") == "12.5"
            assert "did not fit" in page.inner_text("#grid-status")
            assert page.evaluate(active) == fourth

            page.fill(f"input[name={fourth}]", "26")
            assert "is-invalid" in page.get_attribute(f"input[name={fourth}]", "class")
            page.fill(f"input[name={fourth}]", "۱۲٫۵")
            assert "is-invalid" not in page.get_attribute(f"input[name={fourth}]", "class")

            page.keyboard.press("Enter")  # past the last student: the save button
            assert page.evaluate("document.activeElement.id") == "save-marks"
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert "Marks saved: 4 changed." in page.content()
        finally:
            browser.close()

    assert list(saved_marks(w).values()) == [
        (MarkStatus.ENTERED, D("20.00")),
        (MarkStatus.ABSENT, None),
        (MarkStatus.ENTERED, D("0.00")),
        (MarkStatus.ENTERED, D("12.50")),
    ]
