"""Feedback pages: the sheet, drafts, stale copies, submission, sign-off, figures, catalogue."""

import html

import pytest
from sqlalchemy import event, func, select
from unit.test_feedback import Q3_WORK, build_feedback_world, catalogue_ids, complete_rows

from spets.models import AuditEvent, FeedbackCatalogueItem, TaskState, User
from spets.services import feedback


@pytest.fixture
def feedback_world(world):
    """School A: maths in 9-A, Q2 feedback approved, the Q3 sheet open (see the unit tests)."""
    return build_feedback_world(world)


def sheet_url(w) -> str:
    return f"/tasks/{w.task.id}/feedback"


def field(form, element_id):
    """Return the form field whose HTML id is `element_id`."""
    for _name, candidate in form.field_order:
        if candidate.id == element_id:
            return candidate
    raise KeyError(element_id)


def tick(form, element_id):
    field(form, element_id).checked = True


def planned_action(form, student_id: int, item_id: int):
    """Return the planned-action input of one weakness in one student's row."""
    student, item = None, None
    for name, candidate in form.field_order:
        if name == "student_id":
            student = candidate.value
        elif name == "item_id":
            item = candidate.value
        elif name == "planned_action" and (student, item) == (str(student_id), str(item_id)):
            return candidate
    raise KeyError((student_id, item_id))


def saved_row(w, student):
    return feedback.load_sheet(w.session, w.task).row_for(student.id)


def previous_item(w, student, position=0) -> int:
    return saved_row(w, student).previous[position].item_id


def use_urdu(testapp, w, username):
    user = w.session.scalar(select(User).where(User.username == username))
    user.locale = "ur"
    w.session.flush()
    testapp.login(username)


# The sheet.


def test_teacher_sees_own_sheet(testapp, feedback_world):
    w = feedback_world
    testapp.login("subject.a9")
    page = testapp.get(sheet_url(w))
    assert "Ayesha Khan" in page.text
    assert "Zara Malik" in page.text
    assert "Multiplication tables not yet secure" in page.text  # last quarter's weakness
    assert "Tables drill every Monday" in page.text  # and its planned action
    form = page.forms["feedback-sheet"]
    assert form["version"].value == str(w.task.version)
    assert form["csrf_token"].value
    assert 'formnovalidate="formnovalidate"' in page.text


def test_draft_saves_ticked_boxes(testapp, feedback_world):
    w = feedback_world
    testapp.login("subject.a9")
    form = testapp.get(sheet_url(w)).forms["feedback-sheet"]
    tick(form, f"s-{w.zara.id}-{w.math['s_algebra']}")
    tick(form, f"w-{w.zara.id}-{w.math['w_tables']}")
    page = form.submit("save", status=302).follow()
    assert "Draft saved." in page.text

    zara = saved_row(w, w.zara)
    assert zara.strengths == {w.math["s_algebra"]}
    assert zara.weaknesses == {w.math["w_tables"]: ""}
    assert saved_row(w, w.student_a9).entry_id is None  # nothing ticked: no row stored
    w.session.refresh(w.task)
    assert w.task.state == TaskState.IN_PROGRESS


def test_draft_keeps_ratings_and_actions(testapp, feedback_world):
    w = feedback_world
    testapp.login("subject.a9")
    form = testapp.get(sheet_url(w)).forms["feedback-sheet"]
    form[f"progress-{previous_item(w, w.student_a9)}"] = "improved"
    tick(form, f"w-{w.omar.id}-{w.math['w_signs']}")
    planned_action(form, w.omar.id, w.math["w_signs"]).value = "Number line practice"
    form.submit("save", status=302)

    assert saved_row(w, w.student_a9).previous[0].progress.value == "improved"
    assert saved_row(w, w.omar).weaknesses == {w.math["w_signs"]: "Number line practice"}


def test_stale_copy_gets_conflict(testapp, feedback_world):
    w = feedback_world
    testapp.login("subject.a9")
    first = testapp.get(sheet_url(w)).forms["feedback-sheet"]
    second = testapp.get(sheet_url(w)).forms["feedback-sheet"]  # another tab, same version

    tick(first, f"s-{w.zara.id}-{w.math['s_algebra']}")
    first.submit("save", status=302)

    tick(second, f"s-{w.zara.id}-{w.math['s_geometry']}")
    conflict = second.submit("save", status=200)
    assert "Someone saved this sheet after you opened it" in conflict.text
    assert 'id="conflict"' in conflict.text
    assert "Zara Malik" in conflict.text.split('id="conflict"')[1].split("</table>")[0]
    assert saved_row(w, w.zara).strengths == {w.math["s_algebra"]}

    # The page now carries the newer version: saving it again keeps the user's values.
    again = conflict.forms["feedback-sheet"]
    assert again["version"].value == str(w.task.version)
    again.submit("save", status=302)
    assert saved_row(w, w.zara).strengths == {w.math["s_geometry"]}


def test_submit_with_unrated_weakness_names_students(testapp, feedback_world):
    w = feedback_world
    testapp.login("subject.a9")
    form = testapp.get(sheet_url(w)).forms["feedback-sheet"]
    for student in (w.student_a9, w.omar, w.zara):
        tick(form, f"s-{student.id}-{w.math['s_geometry']}")
    page = form.submit("submit", status=200)
    assert "Saved as a draft but not submitted" in page.text
    assert (
        "Mathematics: last quarter's weaknesses are not rated yet for Ayesha Khan, Omar Farooq."
        in html.unescape(page.text)
    )
    assert f'id="row-{w.omar.id}" class="table-danger"' in page.text
    w.session.refresh(w.task)
    assert w.task.state == TaskState.IN_PROGRESS
    assert saved_row(w, w.zara).strengths == {w.math["s_geometry"]}  # the draft was kept


def test_complete_submit_then_read_only(testapp, feedback_world):
    w = feedback_world
    feedback.save_draft(
        w.session, w.task, complete_rows(w), version=w.task.version, actor=w.teacher, now=Q3_WORK
    )
    w.session.flush()
    testapp.login("subject.a9")
    form = testapp.get(sheet_url(w)).forms["feedback-sheet"]
    page = form.submit("submit", status=302).follow()
    assert "Submitted to the head teacher." in page.text
    assert "feedback-sheet" not in page.forms
    assert "Save draft" not in page.text
    w.session.refresh(w.task)
    assert w.task.state == TaskState.SUBMITTED


def test_invalid_post_shows_row_error_and_saves_nothing(testapp, feedback_world):
    w = feedback_world
    testapp.login("subject.a9")
    form = testapp.get(sheet_url(w)).forms["feedback-sheet"]
    notes = [f for name, f in form.field_order if name == "note"]
    notes[2].value = "x" * 1001  # Zara is the third row
    tick(form, f"s-{w.zara.id}-{w.math['s_algebra']}")
    page = form.submit("save", status=200)
    assert "The sheet was not saved" in page.text
    assert "Too long: at most 1000 characters." in page.text
    assert f'id="row-{w.zara.id}" class="table-danger"' in page.text
    assert saved_row(w, w.zara).entry_id is None
    # What was typed is still on the page.
    assert field(page.forms["feedback-sheet"], f"s-{w.zara.id}-{w.math['s_algebra']}").checked


def test_saving_locked_sheet_refused(testapp, feedback_world):
    w = feedback_world
    testapp.login("subject.a9")
    form = testapp.get(sheet_url(w)).forms["feedback-sheet"]
    feedback.submit_sheet(
        w.session, w.task, complete_rows(w), version=w.task.version, actor=w.teacher, now=Q3_WORK
    )
    w.session.flush()
    form["version"] = str(w.task.version)
    page = form.submit("save", status=200)
    assert "can no longer change" in page.text


# Sign-off by the head teacher.


def submitted(w):
    feedback.submit_sheet(
        w.session, w.task, complete_rows(w), version=w.task.version, actor=w.teacher, now=Q3_WORK
    )
    w.session.flush()
    return w


def test_head_teacher_approves_from_sheet(testapp, feedback_world):
    w = submitted(feedback_world)
    testapp.login("head.a")
    page = testapp.get(sheet_url(w))
    assert "feedback-sheet" not in page.forms  # the head teacher reads, does not edit
    approve = next(f for f in page.forms.values() if f.action.endswith("/approve"))
    approve.submit(status=302)
    w.session.refresh(w.task)
    assert w.task.state == TaskState.APPROVED
    assert 'id="signoff"' not in testapp.get(sheet_url(w)).text


def test_return_needs_comment_and_teacher_sees_it(testapp, feedback_world):
    w = submitted(feedback_world)
    testapp.login("head.a")
    page = testapp.get(sheet_url(w))
    form = next(f for f in page.forms.values() if f.action.endswith("/return"))
    refused = form.submit("save", status=200)
    assert "Required" in refused.text
    w.session.refresh(w.task)
    assert w.task.state == TaskState.SUBMITTED

    form["comment"] = "Rate Omar's fractions again"
    form.submit("save", status=302)
    w.session.refresh(w.task)
    assert w.task.state == TaskState.RETURNED

    testapp.login("subject.a9")
    sheet = testapp.get(sheet_url(w))
    assert "Rate Omar's fractions again" in html.unescape(sheet.text)
    assert 'id="return-comment"' in sheet.text
    assert "feedback-sheet" in sheet.forms  # editable again


def test_subject_teacher_cannot_sign_off(testapp, feedback_world):
    w = submitted(feedback_world)
    testapp.login("subject.a9")
    assert 'id="signoff"' not in testapp.get(sheet_url(w)).text
    testapp.post_with_csrf(f"/tasks/{w.task.id}/approve", status=403)
    testapp.post_with_csrf(f"/tasks/{w.task.id}/return", {"comment": "self"}, status=403)
    w.session.refresh(w.task)
    assert w.task.state == TaskState.SUBMITTED


# Who reaches the sheet.


def test_other_teacher_gets_404(testapp, feedback_world):
    w = feedback_world
    for username in ("teacher.a10", "class.a9", "teacher.b9"):
        testapp.login(username)
        testapp.get(sheet_url(w), status=404)
        testapp.post_with_csrf(sheet_url(w), {"version": str(w.task.version)}, status=404)


def test_head_teacher_of_other_school_gets_404(testapp, feedback_world):
    w = submitted(feedback_world)
    testapp.login("head.b")
    testapp.get(sheet_url(w), status=404)
    testapp.post_with_csrf(f"/tasks/{w.task.id}/approve", status=404)
    w.session.refresh(w.task)
    assert w.task.state == TaskState.SUBMITTED


def test_supervisors_read_but_cannot_save(testapp, feedback_world):
    w = feedback_world
    for username in ("head.a", "aeo.a"):
        testapp.login(username)
        page = testapp.get(sheet_url(w))
        assert "Ayesha Khan" in page.text
        assert "feedback-sheet" not in page.forms
        testapp.post_with_csrf(sheet_url(w), {"version": str(w.task.version)}, status=403)


def test_sheet_post_needs_csrf(testapp, feedback_world):
    w = feedback_world
    testapp.login("subject.a9")
    testapp.post(sheet_url(w), {"version": str(w.task.version)}, status=400)


# Urdu.


def test_sheet_in_urdu(testapp, feedback_world):
    w = feedback_world
    use_urdu(testapp, w, "subject.a9")
    page = testapp.get(sheet_url(w))
    assert '<html lang="ur" dir="rtl"' in page.text
    assert "عائشہ خان" in page.text
    assert "پہاڑے ابھی پکے نہیں" in page.text  # last quarter's weakness in Urdu
    assert "الجبری عبارات کی اچھی سمجھ" in page.text  # a strength of the catalogue
    for english in ("Strengths", "Save draft", "Weaknesses of last quarter", "Improved"):
        assert f">{english}<" not in page.text


def test_unrated_message_in_urdu(testapp, feedback_world):
    w = feedback_world
    use_urdu(testapp, w, "subject.a9")
    form = testapp.get(sheet_url(w)).forms["feedback-sheet"]
    page = form.submit("submit", status=200)
    assert "ریاضی" in page.text
    assert "عمر فاروق" in page.text
    assert "not rated yet" not in page.text


# The profile panel.


def test_profile_shows_feedback_with_chart(testapp, feedback_world):
    w = submitted(feedback_world)
    testapp.login("subject.a9")
    page = testapp.get(f"/students/{w.omar.id}")
    panel = page.text.split('id="feedback"')[1].split('id="marks"')[0]
    assert "<svg" in panel
    assert "Errors with signs and basic operations" in panel
    assert "Unchanged" in panel and "Worse" in panel
    assert "awaiting approval" in panel  # Q3 is submitted, not yet approved
    assert "Not recorded in SPeTS yet" not in panel


def test_profile_without_feedback(testapp, world):
    testapp.login("head.a")
    page = testapp.get(f"/students/{world.student_a9.id}")
    assert "No subject feedback submitted yet." in page.text


# Improvement figures.


def test_overview_for_head_teacher_with_drill_down(testapp, feedback_world):
    w = submitted(feedback_world)
    testapp.login("head.a")
    page = testapp.get(f"/schools/{w.school_a.id}/feedback")
    section_table = page.text.split('id="by-section"')[1].split("</table>")[0]
    assert "Grade 9 A" in section_table
    assert "33%" in section_table
    teacher_table = page.text.split('id="by-teacher"')[1].split("</table>")[0]
    assert "Subject A9" in teacher_table

    detail = page.click(href=f"section={w.section_a9.id}")
    rows = detail.text.split('id="details"')[1]
    assert "Weak with fractions and decimals" in rows
    assert "Fraction worksheet" in rows
    assert "Worse" in rows


def test_overview_before_ratings(testapp, feedback_world):
    w = feedback_world
    testapp.login("aeo.a")
    page = testapp.get(f"/schools/{w.school_a.id}/feedback")
    assert "<strong>—</strong> improved, of <span>0</span> rated" in page.text


def test_overview_access(testapp, feedback_world):
    w = feedback_world
    url = f"/schools/{w.school_a.id}/feedback"
    expected = {"head.a": 200, "aeo.a": 200, "deo.a": 200, "admin": 200}
    expected |= {"subject.a9": 403, "class.a9": 403, "head.b": 404, "teacher.b9": 404}
    statuses = {}
    for username in expected:
        testapp.login(username)
        statuses[username] = testapp.get(url, expect_errors=True).status_int
    assert statuses == expected


# The catalogue.


def test_admin_adds_catalogue_item(testapp, feedback_world):
    w = feedback_world
    testapp.login("admin")
    page = testapp.get(f"/admin/feedback-catalogue?subject={w.subjects['MATH'].id}")
    assert "Multiplication tables not yet secure" in page.text
    response = testapp.submit_form(
        f"/admin/feedback-catalogue/new?subject={w.subjects['MATH'].id}",
        {
            "kind": "weakness",
            "code": "w_measurement",
            "text_en": "Weak in units of measurement",
            "text_ur": "پیمائش کی اکائیوں میں کمزوری",
            "position": "6",
        },
        status=302,
    )
    assert "Weak in units of measurement" in response.follow().text
    assert "w_measurement" in catalogue_ids(w.session, w.subjects["MATH"])
    assert (
        w.session.scalar(
            select(func.count()).where(AuditEvent.entity_type == "feedback_catalogue_item")
        )
        == 1
    )


def test_admin_retires_catalogue_item(testapp, feedback_world):
    w = feedback_world
    item_id = w.math["w_fractions"]
    testapp.login("admin")
    testapp.submit_form(
        f"/admin/feedback-catalogue/{item_id}/edit", {"is_active": False}, status=302
    )
    testapp.login("subject.a9")
    page = testapp.get(sheet_url(w))
    assert f"w-{w.zara.id}-{item_id}" not in page.text  # no longer offered on a new sheet
    assert "Weak with fractions and decimals" in page.text  # still shown as last quarter's


def test_catalogue_edit_duplicate_code_shown(testapp, feedback_world):
    w = feedback_world
    testapp.login("admin")
    page = testapp.submit_form(
        f"/admin/feedback-catalogue/{w.math['w_fractions']}/edit", {"code": "w_tables"}, status=200
    )
    assert "already used in this subject" in page.text


def test_load_starter_catalogue_button(testapp, world):
    testapp.login("admin")
    page = testapp.get("/admin/feedback-catalogue")
    form = next(f for f in page.forms.values() if "load_starter" in f.fields)
    result = form.submit("load_starter", status=302).follow()
    assert "100 catalogue items added." in result.text
    assert world.session.scalar(select(func.count()).select_from(FeedbackCatalogueItem)) == 100


def test_catalogue_closed_to_others(testapp, feedback_world):
    w = feedback_world
    item_url = f"/admin/feedback-catalogue/{w.math['w_tables']}/edit"
    testapp.login("head.a")
    testapp.get("/admin/feedback-catalogue", status=403)
    testapp.get(item_url, status=403)
    testapp.login("admin.net")
    testapp.get(item_url, status=404)  # another tenant's item
    assert "Multiplication tables" not in testapp.get("/admin/feedback-catalogue").text


def test_profile_feedback_costs_one_query(testapp, feedback_world, connection):
    """The profile runs as many statements with one quarter of feedback as with two."""
    w = feedback_world
    testapp.login("head.a")

    def statements_for_profile() -> int:
        counted = 0

        def count_statement(*_args):
            nonlocal counted
            counted += 1

        testapp.get(f"/students/{w.omar.id}")  # a first load settles the shared session
        event.listen(connection, "before_cursor_execute", count_statement)
        try:
            testapp.get(f"/students/{w.omar.id}")
        finally:
            event.remove(connection, "before_cursor_execute", count_statement)
        return counted

    one_quarter = statements_for_profile()
    submitted(w)
    assert statements_for_profile() == one_quarter
