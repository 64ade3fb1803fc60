"""Attendance and behaviour pages: the register, figures, incidents, rubrics, flags and plans."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from spets.models import (
    AttendanceDay,
    AttendanceMark,
    AttendanceOptions,
    AttendanceStatus,
    AuditEvent,
    CycleKind,
    EarlyWarningFlag,
    Incident,
    InterventionPlan,
    Task,
    TaskState,
    User,
)
from spets.services import attendance, cycles, warnings
from spets.services.audit import Actor
from spets.services.bulk import insert_ignore_rows

KARACHI = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()
TODAY = date(2026, 12, 4)  # the suite's clock: Friday 4 December 2026, 10:00 in Karachi


def local(*args) -> datetime:
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


def register_url(section, day=TODAY) -> str:
    return f"/sections/{section.id}/attendance/{day.isoformat()}"


def choose(form, student, status: str, reason: str | None = None) -> None:
    """Tap a student's status button, and type the leave reason if given."""
    form[f"status-{student.id}"] = status
    if reason is not None:
        position = None
        for index, (name, field) in enumerate(form.field_order):
            if name == "student_id" and field.value == str(student.id):
                position = index
            if position is not None and name == "leave_reason":
                field.value = reason
                return
        raise KeyError(student.id)


def marks(w) -> dict[int, tuple[AttendanceStatus, str]]:
    w.session.expire_all()
    return {
        mark.student_id: (mark.status, mark.leave_reason)
        for mark in w.session.scalars(select(AttendanceMark))
    }


@pytest.fixture
def aw(world):
    attendance.add_attendance_definitions(world.session, world.tenant, actor=SYSTEM, now=world.now)
    cycles.tick(world.session, local(2026, 12, 4, 0, 15))
    world.second = world.admit(world.section_a9, "A910", "Bushra Akram", "بشریٰ اکرم")
    world.session.flush()
    return world


# The register.


def test_register_starts_everyone_present(testapp, aw):
    testapp.login("class.a9")
    page = testapp.get(register_url(aw.section_a9))
    form = page.forms["attendance-register"]
    assert field_checked(form, aw.student_a9, "present")
    assert field_checked(form, aw.second, "present")
    assert "Not marked yet" in page.text


def field_checked(form, student, status) -> bool:
    return form[f"status-{student.id}"].value == status


def test_flash_shown_once_cookie_kept(testapp, aw):
    testapp.login("class.a9")
    form = testapp.get(register_url(aw.section_a9)).forms["attendance-register"]
    choose(form, aw.student_a9, "absent")

    with_message = form.submit("save", status=302).follow()
    again = testapp.get(with_message.request.path_qs)

    assert "Register saved." in with_message.text
    assert "Set-Cookie" in with_message.headers  # the message left the session
    assert "Register saved." not in again.text
    assert "Set-Cookie" not in again.headers  # nothing changed in the session


def test_register_saves_whole_section_in_one_request(testapp, aw):
    testapp.login("class.a9")
    form = testapp.get(register_url(aw.section_a9)).forms["attendance-register"]
    choose(form, aw.student_a9, "absent")
    choose(form, aw.second, "leave", "Family wedding")
    response = form.submit("save", status=302)
    page = response.follow()
    assert "Register saved." in page.text
    assert marks(aw) == {
        aw.student_a9.id: (AttendanceStatus.ABSENT, ""),
        aw.second.id: (AttendanceStatus.LEAVE, "Family wedding"),
    }
    task = attendance.day_task(aw.session, aw.section_a9.id, TODAY)
    assert task.state == TaskState.APPROVED


def test_register_reopened_and_corrected(testapp, aw):
    testapp.login("class.a9")
    form = testapp.get(register_url(aw.section_a9)).forms["attendance-register"]
    choose(form, aw.student_a9, "absent")
    form.submit("save", status=302)

    form = testapp.get(register_url(aw.section_a9)).forms["attendance-register"]
    assert field_checked(form, aw.student_a9, "absent")
    choose(form, aw.student_a9, "late")
    page = form.submit("save", status=302).follow()
    assert marks(aw) == {aw.student_a9.id: (AttendanceStatus.LATE, "")}
    corrections = page.html.find(id="corrections")
    assert corrections is not None
    assert "Absent" in corrections.text
    assert "Late" in corrections.text
    saved_by = " ".join(page.html.find(id="saved-by").text.split())
    assert "Corrected 1 time(s)." in saved_by
    assert "04/12/2026 10:00" in saved_by  # 05:00 UTC, shown in Karachi time
    assert "UTC" not in saved_by


def test_leave_without_reason_refused(testapp, aw):
    testapp.login("class.a9")
    form = testapp.get(register_url(aw.section_a9)).forms["attendance-register"]
    choose(form, aw.second, "leave")
    page = form.submit("save", status=200)
    assert "give the reason for the leave" in page.text
    assert page.html.find(id=f"row-{aw.second.id}")["class"] == ["table-danger"]
    assert marks(aw) == {}


def test_stale_register_shows_both_values(testapp, aw):
    testapp.login("class.a9")
    first = testapp.get(register_url(aw.section_a9)).forms["attendance-register"]
    second = testapp.get(register_url(aw.section_a9)).forms["attendance-register"]
    choose(first, aw.student_a9, "absent")
    first.submit("save", status=302)
    choose(second, aw.student_a9, "late")
    page = second.submit("save", status=200)
    conflict = page.html.find(id="conflict")
    assert "Absent" in conflict.text
    assert "Late" in conflict.text
    assert marks(aw) == {aw.student_a9.id: (AttendanceStatus.ABSENT, "")}
    # Saving the page shown again keeps the user's choice on purpose.
    page.forms["attendance-register"].submit("save", status=302)
    assert marks(aw) == {aw.student_a9.id: (AttendanceStatus.LATE, "")}


# Corrections through a request transaction that commits as in production.


@pytest.fixture
def tm_testapp(wsgi_app, aw):
    """A browser whose requests get their own session, committed or rolled back by pyramid_tm.

    The `testapp` fixture shares the test's session and marks the transaction as managed
    elsewhere, so it never shows a write that pyramid_tm would roll back. Here a request's
    work reaches the test's connection only if pyramid_tm commits it.
    """
    import webtest
    from helpers import Browser

    def expire_test_session(environ, start_response):
        aw.session.expire_all()
        return wsgi_app(environ, start_response)

    return Browser(webtest.TestApp(expire_test_session, extra_environ={"HTTP_HOST": "localhost"}))


def day_record(w, section, day) -> AttendanceDay:
    w.session.expire_all()
    return w.session.scalar(
        select(AttendanceDay).where(
            AttendanceDay.section_id == section.id, AttendanceDay.day == day
        )
    )


def correction_events(w, record, student) -> list[AuditEvent]:
    return list(
        w.session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity_type == "attendance_mark",
                AuditEvent.entity_id == record.id,
                AuditEvent.student_id == student.id,
            )
        )
    )


def test_correction_of_page_saved_day_commits(tm_testapp, aw):
    tm_testapp.login("head.a")
    form = tm_testapp.get(register_url(aw.section_a9)).forms["attendance-register"]
    choose(form, aw.student_a9, "absent")
    assert "Register saved." in form.submit("save", status=302).follow().text
    assert marks(aw) == {aw.student_a9.id: (AttendanceStatus.ABSENT, "")}
    record = day_record(aw, aw.section_a9, TODAY)
    assert (record.version, record.corrections) == (1, 0)

    # Absent to late updates the mark, late to present deletes it.
    for number, status in enumerate((AttendanceStatus.LATE, AttendanceStatus.PRESENT), 1):
        form = tm_testapp.get(register_url(aw.section_a9)).forms["attendance-register"]
        assert form["version"].value == str(number)
        choose(form, aw.student_a9, status.value)
        page = form.submit("save", status=302).follow()
        assert "Register saved." in page.text

        expected = {} if status == AttendanceStatus.PRESENT else {aw.student_a9.id: (status, "")}
        assert marks(aw) == expected
        record = day_record(aw, aw.section_a9, TODAY)
        assert record.corrections == number
        assert record.version == number + 1
        assert len(correction_events(aw, record, aw.student_a9)) == number
        assert page.forms["attendance-register"][f"status-{aw.student_a9.id}"].value == status
        saved_by = " ".join(page.html.find(id="saved-by").text.split())
        assert f"Corrected {number} time(s)." in saved_by


def test_correction_of_bulk_loaded_day_commits(tm_testapp, aw):
    # The demo inserts past registers in bulk, without the register service.
    day = date(2026, 12, 3)
    insert_ignore_rows(
        aw.session,
        AttendanceDay.__table__,
        [
            {
                "section_id": aw.section_a9.id,
                "day": day,
                "marked_by_id": aw.class_teacher_a9.id,
                "marked_at": local(2026, 12, 3, 8, 30),
                "corrections": 0,
                "version": 1,
            }
        ],
    )
    record = day_record(aw, aw.section_a9, day)
    insert_ignore_rows(
        aw.session,
        AttendanceMark.__table__,
        [
            {
                "attendance_day_id": record.id,
                "student_id": aw.second.id,
                "status": AttendanceStatus.LATE,
                "leave_reason": "",
            }
        ],
    )
    aw.session.flush()

    tm_testapp.login("class.a9")
    form = tm_testapp.get(register_url(aw.section_a9, day)).forms["attendance-register"]
    assert form["version"].value == "1"
    choose(form, aw.student_a9, "absent")
    choose(form, aw.second, "present")
    page = form.submit("save", status=302).follow()
    assert "Register saved." in page.text

    assert marks(aw) == {aw.student_a9.id: (AttendanceStatus.ABSENT, "")}
    record = day_record(aw, aw.section_a9, day)
    assert record.corrections == 1
    assert record.version == 2
    assert record.marked_at.replace(tzinfo=UTC) == aw.now
    assert len(correction_events(aw, record, aw.student_a9)) == 1
    assert len(correction_events(aw, record, aw.second)) == 1


def test_holiday_register_has_no_form(testapp, aw):
    testapp.login("class.a9")
    page = testapp.get(register_url(aw.section_a9, date(2026, 11, 9)))
    assert "attendance-register" not in page.forms
    assert "is not a school day" in page.html.find(id="closed-day").text
    response = testapp.post_with_csrf(
        register_url(aw.section_a9, date(2026, 11, 9)),
        {"version": "0", "__start__": "students:sequence", "__end__": "students:sequence"},
    )
    assert "cannot be marked" in response.text
    assert aw.session.scalar(select(func.count()).select_from(AttendanceDay)) == 0


def test_subject_teacher_reads_register_only(testapp, aw):
    testapp.login("subject.a9")
    page = testapp.get(register_url(aw.section_a9))
    assert "attendance-register" not in page.forms
    response = testapp.post_with_csrf(
        register_url(aw.section_a9), {"version": "0"}, expect_errors=True
    )
    assert response.status_int == 403


def test_task_opens_its_register(testapp, aw):
    task = attendance.day_task(aw.session, aw.section_a9.id, TODAY)
    testapp.login("class.a9")
    response = testapp.get(f"/tasks/{task.id}/attendance", status=302)
    assert response.location.endswith(register_url(aw.section_a9))
    tasks_page = testapp.get("/tasks")
    assert f"/tasks/{task.id}/attendance" in tasks_page.text


def test_register_in_urdu(testapp, aw):
    user = aw.session.scalar(select(User).where(User.username == "class.a9"))
    user.locale = "ur"
    aw.session.flush()
    testapp.login("class.a9")
    page = testapp.get(register_url(aw.section_a9))
    assert 'dir="rtl"' in page.text
    assert "عائشہ خان" in page.text


# A 60-student section in a fixed number of statements.


def statements_for_post(connection, form) -> tuple[int, object]:
    counted = 0

    def count_statement(*_args):
        nonlocal counted
        counted += 1

    event.listen(connection, "before_cursor_execute", count_statement)
    try:
        response = form.submit("save", status=302)
    finally:
        event.remove(connection, "before_cursor_execute", count_statement)
    return counted, response


def fill_some(form, students) -> None:
    """Mark the first student absent, the second late and the third on leave."""
    choose(form, students[0], "absent")
    choose(form, students[1], "late")
    choose(form, students[2], "leave", "Illness")


# Statements of a first save through the web, whatever the size of the section. The
# request reads 3 times (the section, its school, and the user with their roles and
# sections in one statement) and the register 5 times (roll, day, academic year, days off,
# task). The writes are the day's row (3 with its savepoint), one INSERT of all marks, one
# audit event, the task's submission and approval (4 each) and the view's savepoint (2).
REGISTER_SAVE_STATEMENTS = 23


def test_register_statement_count_fixed(testapp, aw, connection):
    for number in range(3):
        aw.admit(aw.section_a10, f"S{number}", f"Small Class {chr(65 + number)}", "طالب علم")
    for number in range(58):
        aw.admit(aw.section_a9, f"L{number}", f"Large Class {chr(65 + number % 26)}", "طالب علم")
    aw.session.flush()
    small = attendance.roll_on(aw.session, aw.section_a10.id, TODAY)
    large = attendance.roll_on(aw.session, aw.section_a9.id, TODAY)
    assert (len(small), len(large)) == (4, 60)

    testapp.login("head.a")
    small_form = testapp.get(register_url(aw.section_a10)).forms["attendance-register"]
    fill_some(small_form, small)
    small_count, _response = statements_for_post(connection, small_form)

    large_form = testapp.get(register_url(aw.section_a9)).forms["attendance-register"]
    fill_some(large_form, large)
    large_count, _response = statements_for_post(connection, large_form)

    assert large_count == small_count
    assert large_count == REGISTER_SAVE_STATEMENTS
    assert len(marks(aw)) == 6

    # A correction of the 60-student register runs a fixed number of statements too.
    correction = testapp.get(register_url(aw.section_a9)).forms["attendance-register"]
    choose(correction, large[0], "present")
    choose(correction, large[3], "absent")
    corrected_count, _response = statements_for_post(connection, correction)
    small_correction = testapp.get(register_url(aw.section_a10)).forms["attendance-register"]
    choose(small_correction, small[0], "present")
    choose(small_correction, small[3], "absent")
    small_corrected_count, _response = statements_for_post(connection, small_correction)
    assert corrected_count == small_corrected_count


# Figures and options.


def test_section_figures_page(testapp, aw):
    attendance.save_register(
        aw.session,
        aw.section_a9,
        date(2026, 12, 3),
        [{"student_id": aw.student_a9.id, "status": "absent", "leave_reason": ""}],
        version=None,
        actor=SYSTEM,
        now=aw.now,
    )
    testapp.login("class.a9")
    page = testapp.get(f"/sections/{aw.section_a9.id}/attendance?month=2026-12")
    row = page.html.find(id=f"student-{aw.student_a9.id}")
    assert "0.0 %" in row.text  # one day counted, absent
    assert page.html.find(id="unmarked-days") is not None
    assert "late counts as present" in page.text


def test_school_figures_and_options(testapp, aw):
    testapp.login("head.a")
    page = testapp.get(f"/schools/{aw.school_a.id}/attendance")
    assert page.html.find(id=f"section-{aw.section_a9.id}") is not None
    form = testapp.get(f"/schools/{aw.school_a.id}/attendance/options").forms["record-form"]
    form["notify_guardian_of_absence"] = True
    form.submit("save", status=302)
    assert aw.session.get(AttendanceOptions, aw.school_a.id).notify_guardian_of_absence is True


def test_attendance_menu_and_home(testapp, aw):
    testapp.login("class.a9")
    home = testapp.get("/attendance")
    assert f"/sections/{aw.section_a9.id}/attendance/{TODAY.isoformat()}" in home.text
    assert "Mark today&#39;s register" in home.text or "Mark today's register" in home.text
    assert 'href="http://localhost/attendance"' in home.text


# Incidents.


def test_subject_teacher_records_incident(testapp, aw):
    testapp.login("subject.a9")
    form = testapp.get(f"/students/{aw.student_a9.id}/incidents/new").forms["record-form"]
    form["kind"] = "negative"
    form["category"] = "bullying"
    form["occurred_on"] = "03/12/2026"
    form["description"] = "Took a classmate's lunch."
    form["follow_up"] = "Returned it; apologised."
    form.submit("save", status=302)
    incident = aw.session.scalars(select(Incident)).one()
    assert (incident.category, incident.recorded_by_id) == ("bullying", aw.subject_teacher_a9.id)
    profile = testapp.get(f"/students/{aw.student_a9.id}")
    assert (
        "Took a classmate&#39;s lunch." in profile.text
        or "Took a classmate's lunch." in profile.text
    )


def test_incident_category_must_fit_kind(testapp, aw):
    testapp.login("class.a9")
    form = testapp.get(f"/students/{aw.student_a9.id}/incidents/new").forms["record-form"]
    form["kind"] = "positive"
    form["category"] = "fighting"
    form["occurred_on"] = "03/12/2026"
    form["description"] = "Fight at the gate."
    page = form.submit("save", status=200)
    assert "belongs to the other kind" in page.text
    assert aw.session.scalar(select(func.count()).select_from(Incident)) == 0


# The rubric sheet.


def test_rubric_sheet_saved_and_submitted(testapp, aw):
    cycles.tick(aw.session, local(2026, 12, 4, 0, 15))
    task = aw.session.scalars(
        select(Task).where(
            Task.kind == CycleKind.BEHAVIOUR_RUBRIC, Task.section_id == aw.section_a9.id
        )
    ).one()
    testapp.login("class.a9")
    form = testapp.get(f"/tasks/{task.id}/behaviour").forms["rubric-sheet"]
    selects = [
        f
        for name, f in form.field_order
        if name in ("discipline", "punctuality", "cleanliness", "hygiene")
    ]
    assert len(selects) == 8
    for select_field in selects[:4]:
        select_field.value = "3"
    page = form.submit("submit", status=200)
    assert "Not rated yet" in page.text
    form = page.forms["rubric-sheet"]
    for name, select_field in form.field_order:
        if (
            name in ("discipline", "punctuality", "cleanliness", "hygiene")
            and not select_field.value
        ):
            select_field.value = "2"
    form.submit("submit", status=302)
    aw.session.refresh(task)
    assert task.state == TaskState.SUBMITTED


# Flags and plans.


def flag_world(w):
    days = [date(2026, 11, day) for day in (16, 17, 18, 19, 20, 21, 23, 24, 25, 26)]
    for day in days:
        status = "absent" if day in days[:3] else "present"
        attendance.save_register(
            w.session,
            w.section_a9,
            day,
            [{"student_id": w.student_a9.id, "status": status, "leave_reason": ""}],
            version=None,
            actor=SYSTEM,
            now=w.now,
        )


def test_head_teacher_recomputes_and_lists_flags(testapp, aw):
    flag_world(aw)
    testapp.login("head.a")
    page = testapp.get(f"/schools/{aw.school_a.id}/flags")
    assert page.html.find(id="no-flags") is not None
    response = testapp.post_with_csrf(f"/schools/{aw.school_a.id}/flags/recompute", status=302)
    page = response.follow()
    assert "1 raised" in page.text
    flag = aw.session.scalars(select(EarlyWarningFlag)).one()
    row = page.html.find(id=f"flag-{flag.id}")
    assert "Attendance 70 % over 10 school days this year, below 80 %." in row.text
    assert "At risk" in row.text


def test_plan_from_flag_and_review(testapp, aw):
    flag_world(aw)
    warnings.compute_flags(aw.session, aw.now, [aw.school_a.id])
    flag = aw.session.scalars(select(EarlyWarningFlag)).one()
    testapp.login("class.a9")
    form = testapp.get(f"/students/{aw.student_a9.id}/plans/new?flag={flag.id}").forms[
        "record-form"
    ]
    assert form["owner_id"].value == str(aw.class_teacher_a9.id)
    form["goal"] = "Attend every school day."
    form["actions"] = "Morning call to the father after any absence."
    form["parent_consent"] = True
    form["parent_consent_on"] = "04/12/2026"
    form["review_on"] = "05/12/2026"
    page = form.submit("save", status=302).follow()
    plan = aw.session.scalars(select(InterventionPlan)).one()
    assert plan.flag_id == flag.id
    assert "Attendance 70 %" in page.text

    review = plan.reviews[0]
    task = aw.session.get(Task, review.task_id)
    assert task.kind == CycleKind.INTERVENTION_REVIEW
    redirect = testapp.get(f"/tasks/{task.id}/review", status=302)
    review_page = redirect.follow()
    form = review_page.forms["record-form"]
    form["progress"] = "No absence since the plan started."
    form["flag_resolved"] = True
    form["next_review_on"] = "19/12/2026"
    form.submit("save", status=302)
    aw.session.expire_all()
    assert [(r.due_on, bool(r.reviewed_at)) for r in plan.reviews] == [
        (date(2026, 12, 5), True),
        (date(2026, 12, 19), False),
    ]
    profile = testapp.get(f"/students/{aw.student_a9.id}")
    history = profile.html.find(id=f"plan-{plan.id}")
    assert "No absence since the plan started." in history.text


def test_profile_shows_flag_reasons_and_history(testapp, aw):
    flag_world(aw)
    testapp.login("class.a9")
    testapp.post_with_csrf(f"/students/{aw.student_a9.id}/flags/recompute", status=302)
    flag = aw.session.scalars(select(EarlyWarningFlag)).one()
    profile = testapp.get(f"/students/{aw.student_a9.id}")
    row = profile.html.find(id=f"flag-{flag.id}")
    assert "At risk" in row.text
    assert "Attendance 70 % over 10 school days this year, below 80 %." in row.text
    assert profile.html.find(id="resolved-flags") is None

    # The three absences corrected to late: 100 %, so the recompute resolves the flag and
    # the profile lists it among the resolved ones.
    for day in (16, 17, 18):
        attendance.save_register(
            aw.session,
            aw.section_a9,
            date(2026, 11, day),
            [{"student_id": aw.student_a9.id, "status": "late", "leave_reason": ""}],
            version=1,
            actor=SYSTEM,
            now=aw.now,
        )
    testapp.post_with_csrf(f"/students/{aw.student_a9.id}/flags/recompute", status=302)
    profile = testapp.get(f"/students/{aw.student_a9.id}")
    assert profile.html.find(id="no-open-flags") is not None
    resolved = profile.html.find(id="resolved-flags")
    assert "At risk" in resolved.text


def test_profile_shows_both_panels_to_class_teacher(testapp, aw):
    testapp.login("class.a9")
    page = testapp.get(f"/students/{aw.student_a9.id}")
    assert page.html.find(id="attendance") is not None
    assert page.html.find(id="warnings") is not None
    testapp.login("subject.a9")
    page = testapp.get(f"/students/{aw.student_a9.id}")
    assert page.html.find(id="attendance") is not None
    assert page.html.find(id="warnings") is None


def test_warning_settings_page(testapp, aw):
    testapp.login("admin")
    form = testapp.get("/admin/warning-settings").forms["record-form"]
    form["attendance_watch_below"] = "85"
    form["attendance_risk_below"] = "87"
    page = form.submit("save", status=200)
    assert "must be below the watch mark" in page.text
    form = page.forms["record-form"]
    form["attendance_risk_below"] = "75"
    form.submit("save", status=302)
    assert str(warnings.settings_of(aw.session, aw.tenant.id).attendance_watch_below) == "85.0"
