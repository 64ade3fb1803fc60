"""Result sheets: reading marks, figures, saving, sign-off, locking, amendments and versions."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from spets.models import (
    Amendment,
    AmendmentState,
    AuditEvent,
    ExamKind,
    Mark,
    MarkStatus,
    OutboxMessage,
    OutboxStatus,
    PublishedMark,
    Role,
    SheetState,
    Task,
    TaskState,
)
from spets.services import calendar, cycles, grading, people, results, users
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, Locked, StaleEdit

KARACHI = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()
D = Decimal


def local(*args) -> datetime:
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


# Arithmetic.


@pytest.mark.parametrize(
    ("marks", "maximum", "expected"),
    [
        (D("33.25"), D(100), D("33.3")),  # half up, never half even
        (D("33.35"), D(100), D("33.4")),
        (D("8.3"), D(25), D("33.2")),
        (D("19.99"), D(25), D("80.0")),
        (D(0), D(75), D("0.0")),
        (D(75), D(75), D("100.0")),
    ],
)
def test_percent_half_up(marks, maximum, expected):
    assert grading.percent(marks, maximum) == expected


@pytest.mark.parametrize(
    ("rounded", "grade"),
    [
        (D("80.0"), "A-1"),
        (D("79.9"), "A"),
        (D("70.0"), "A"),
        (D("60.0"), "B"),
        (D("50.0"), "C"),
        (D("40.0"), "D"),
        (D("33.0"), "E"),
        (D("32.9"), "F"),
        (D("0.0"), "F"),
    ],
)
def test_punjab_grade_bands(rounded, grade):
    assert grading.grade_for(rounded, grading.default_bands()).grade == grade


def test_grade_comes_from_rounded_percent():
    # 79.96 % rounds to 80.0 %, which is A-1, although 79.96 < 80.
    rounded = grading.percent(D("19.99"), D(25))
    assert grading.grade_for(rounded, grading.default_bands()).grade == "A-1"


@pytest.mark.parametrize(
    ("typed", "status", "value"),
    [
        ("17.5", MarkStatus.ENTERED, D("17.50")),
        ("0", MarkStatus.ENTERED, D("0.00")),
        ("A", MarkStatus.ABSENT, None),
        ("ab", MarkStatus.ABSENT, None),
        ("غ", MarkStatus.ABSENT, None),
        ("", MarkStatus.MISSING, None),
        ("۱۲٫۵", MarkStatus.ENTERED, D("12.50")),
        (" 20 ", MarkStatus.ENTERED, D("20.00")),
    ],
)
def test_read_mark_three_states(typed, status, value):
    assert grading.read_mark(typed, max_marks=D(25), step=D("0.5"), student="Ayesha") == (
        status,
        value,
    )


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("18.75", "not a multiple of 0.5"),
        ("26", "more than the maximum of 25"),
        ("-1", "below zero"),
        ("twelve", '"twelve" is not a mark'),
        ("12.5", "not a multiple of 1"),
    ],
)
def test_read_mark_refusals_name_student_and_value(typed, fragment):
    step = D(1) if typed == "12.5" else D("0.5")
    with pytest.raises(grading.MarkError) as caught:
        grading.read_mark(typed, max_marks=D(25), step=step, student="Ayesha Khan")
    text = caught.value.message.interpolate()
    assert text.startswith("Ayesha Khan:")
    assert fragment in text


def test_figures_count_only_those_who_sat():
    marks = [
        (MarkStatus.ENTERED, D(20)),
        (MarkStatus.ENTERED, D(15)),
        (MarkStatus.ENTERED, D(0)),
        (MarkStatus.ABSENT, None),
        (MarkStatus.MISSING, None),
    ]
    figures = grading.sheet_figures(marks, D(25), D("8.25"))
    assert (figures.sat, figures.absent, figures.missing) == (3, 1, 1)
    assert figures.average == D("11.7")  # 35 / 3 = 11.666…
    assert figures.average_percent == D("46.7")
    assert figures.passed == 2


# Sheets on the engine.


@pytest.fixture
def results_world(world):
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
    w.definition = cycles.add_result_entry_definition(w.session, w.tenant, actor=SYSTEM, now=w.now)
    w.extra = [
        w.admit(w.section_a9, f"R{n:02d}", f"Student {chr(66 + n)}", "طالب علم") for n in range(3)
    ]
    cycles.tick(w.session, local(2026, 11, 2, 0, 15))
    w.task = w.session.scalars(
        select(Task).where(Task.assignee_id == w.subject_teacher_a9.id)
    ).one()
    w.sheet = results.sheet_for_task(w.session, w.task, w.now)
    w.teacher = Actor(w.subject_teacher_a9.id)
    w.head = Actor(w.head_a.id)
    w.session.flush()
    return w


def typed_all(w, values: list[str]) -> dict[int, str]:
    students = [row.student.id for row in results.roll(w.session, w.sheet)]
    return dict(zip(students, values, strict=True))


def test_exam_window_close_opens_result_task(results_world):
    w = results_world
    assert w.task.kind.value == "result_entry"
    assert w.task.opens_on == date(2026, 11, 2)
    # Six school days after Monday 2 November, with Iqbal Day (9 November) off: 10 November.
    assert w.task.due_on == date(2026, 11, 10)
    assert (w.sheet.max_marks, w.sheet.step, w.sheet.pass_marks) == (D(25), D("0.5"), D("8.3"))


def test_roll_only_students_enrolled_during_window(results_world):
    w = results_world
    late = w.admit(w.section_a9, "A999", "Late Joiner", "دیر سے آنے والا")
    late.enrollments[0].starts_on = date(2026, 11, 15)
    w.session.flush()
    names = [row.student.name_en for row in results.roll(w.session, w.sheet)]
    assert "Late Joiner" not in names
    assert "Ayesha Khan" in names


def test_save_whole_sheet(results_world):
    w = results_world
    saved = results.save_marks(
        w.session,
        w.sheet,
        typed_all(w, ["20", "A", "0", "17.5"]),
        lock_version=w.sheet.lock_version,
        actor=w.teacher,
        now=w.now,
    )
    assert saved.changed == 4
    stored = {m.student_id: (m.status, m.marks) for m in w.session.scalars(select(Mark))}
    assert sorted(stored.values(), key=str) == sorted(
        [
            (MarkStatus.ENTERED, D("20.00")),
            (MarkStatus.ABSENT, None),
            (MarkStatus.ENTERED, D("0.00")),
            (MarkStatus.ENTERED, D("17.50")),
        ],
        key=str,
    )
    assert w.task.state == TaskState.IN_PROGRESS


def test_bad_mark_saves_nothing(results_world):
    w = results_world
    with pytest.raises(results.MarkEntryErrors) as caught:
        results.save_marks(
            w.session,
            w.sheet,
            typed_all(w, ["20", "18.75", "26", "5"]),
            lock_version=None,
            actor=w.teacher,
            now=w.now,
        )
    messages = [m.interpolate() for m in caught.value.errors.values()]
    assert any("18.75" in m and "not a multiple" in m for m in messages)
    assert any("26" in m and "maximum" in m for m in messages)
    assert w.session.scalar(select(func.count()).select_from(Mark)) == 0


def test_save_query_count_fixed(results_world, connection):
    w = results_world
    counts = []
    for size in (4, 40):
        while len(results.roll(w.session, w.sheet)) < size:
            w.admit(
                w.section_a9,
                f"Q{len(counts)}{size}{len(results.roll(w.session, w.sheet))}",
                "Filler Student",
                "طالب علم",
            )
        w.session.flush()
        typed = {row.student.id: "10" for row in results.roll(w.session, w.sheet)}
        # A first save moves the task to "in progress"; measure the saves after it.
        results.save_marks(
            w.session,
            w.sheet,
            {next(iter(typed)): "1"},
            lock_version=None,
            actor=w.teacher,
            now=w.now,
        )
        statements = []
        listener = lambda *args, seen=statements: seen.append(1)  # noqa: E731
        event.listen(connection, "before_cursor_execute", listener)
        try:
            results.save_marks(
                w.session,
                w.sheet,
                typed,
                lock_version=w.sheet.lock_version,
                actor=w.teacher,
                now=w.now,
            )
        finally:
            event.remove(connection, "before_cursor_execute", listener)
        counts.append(len(statements))
        w.session.execute(Mark.__table__.delete())
    assert counts[0] == counts[1]


def test_stale_save_refused_with_differences(results_world):
    w = results_world
    version = w.sheet.lock_version
    results.save_marks(
        w.session,
        w.sheet,
        typed_all(w, ["20", "20", "20", "20"]),
        lock_version=version,
        actor=w.teacher,
        now=w.now,
    )
    with pytest.raises(StaleEdit) as caught:
        results.save_marks(
            w.session,
            w.sheet,
            typed_all(w, ["10", "20", "20", "20"]),
            lock_version=version,
            actor=w.head,
            now=w.now,
        )
    assert list(caught.value.differences.values()) == [("20", "10")]
    assert {m.marks for m in w.session.scalars(select(Mark))} == {D("20.00")}


def test_submit_refused_with_missing_marks(results_world):
    w = results_world
    results.save_marks(
        w.session,
        w.sheet,
        typed_all(w, ["20", "A", "", ""]),
        lock_version=None,
        actor=w.teacher,
        now=w.now,
    )
    with pytest.raises(InvalidInput) as caught:
        results.submit_sheet(w.session, w.sheet, actor=w.teacher, now=w.now)
    text = caught.value.message.interpolate()
    assert "2 student(s) have no mark yet" in text
    assert w.sheet.state == SheetState.DRAFT


def publish(w):
    results.save_marks(
        w.session,
        w.sheet,
        typed_all(w, ["20", "A", "0", "17.5"]),
        lock_version=None,
        actor=w.teacher,
        now=w.now,
    )
    results.submit_sheet(w.session, w.sheet, actor=w.teacher, now=w.now)
    results.verify_sheet(w.session, w.sheet, actor=w.head, now=w.now)
    return results.publish_sheet(w.session, w.sheet, actor=w.head, now=w.now)


def test_publish_locks_and_keeps_version(results_world):
    w = results_world
    assert publish(w) == 1
    assert w.sheet.state == SheetState.PUBLISHED
    assert w.task.state == TaskState.APPROVED
    assert (
        w.session.scalar(
            select(func.count()).select_from(PublishedMark).where(PublishedMark.version == 1)
        )
        == 4
    )


def test_publish_queues_held_messages_for_guardians(results_world):
    w = results_world
    publish(w)
    held = w.session.scalars(
        select(OutboxMessage).where(OutboxMessage.guardian_id.is_not(None))
    ).all()
    assert held and {m.status for m in held} == {OutboxStatus.HELD}
    assert all(m.locale == "ur" for m in held)


@pytest.mark.parametrize("path", ["grid", "upload", "api"])
def test_every_write_to_published_sheet_refused_and_audited(results_world, path):
    w = results_world
    publish(w)
    before = {(m.student_id, m.status, m.marks) for m in w.session.scalars(select(Mark))}
    with pytest.raises(Locked):
        results.save_marks(
            w.session,
            w.sheet,
            typed_all(w, ["1", "1", "1", "1"]),
            lock_version=None,
            actor=w.teacher,
            now=w.now,
            path=path,
        )
    assert {(m.student_id, m.status, m.marks) for m in w.session.scalars(select(Mark))} == before
    refused = w.session.scalars(select(AuditEvent).where(AuditEvent.action == "refused")).all()
    assert [event.reason for event in refused] == [f"write to a published sheet through {path}"]


def test_settings_of_published_sheet_refused(results_world):
    w = results_world
    publish(w)
    with pytest.raises(Locked):
        results.update_settings(
            w.session,
            w.sheet,
            max_marks=D(50),
            pass_marks=D(17),
            step=D(1),
            lock_version=None,
            actor=w.head,
            now=w.now,
        )


def test_amendment_approved_publishes_new_version(results_world):
    w = results_world
    publish(w)
    absent_row = next(
        row for row in results.roll(w.session, w.sheet) if row.status == MarkStatus.ABSENT
    )
    amendment = results.request_amendment(
        w.session,
        w.sheet,
        absent_row.student.id,
        "14",
        "Sat the paper late with the head teacher's leave.",
        actor=w.teacher,
        now=w.now,
    )
    assert results.approver_role(w.session, w.sheet) == Role.HEAD_TEACHER
    results.decide_amendment(w.session, amendment, True, "", actor=w.head, now=w.now)
    assert amendment.state == AmendmentState.APPROVED
    assert amendment.published_version == 2
    history = results.sheet_history(w.session, w.sheet)
    assert history[1][absent_row.student.id] == (MarkStatus.ABSENT, None)
    assert history[2][absent_row.student.id] == (MarkStatus.ENTERED, D("14.00"))
    latest = dict(
        (sheet.id, mark)
        for sheet, mark in results.published_marks(w.session, absent_row.student.id)
    )
    assert latest[w.sheet.id].marks == D("14.00")


def test_amendment_rejected_changes_nothing(results_world):
    w = results_world
    publish(w)
    row = results.roll(w.session, w.sheet)[0]
    amendment = results.request_amendment(
        w.session,
        w.sheet,
        row.student.id,
        "5",
        "Marks were added up wrongly.",
        actor=w.teacher,
        now=w.now,
    )
    with pytest.raises(InvalidInput):
        results.decide_amendment(w.session, amendment, False, "", actor=w.head, now=w.now)
    results.decide_amendment(
        w.session, amendment, False, "The script was checked twice.", actor=w.head, now=w.now
    )
    assert amendment.state == AmendmentState.REJECTED
    assert w.sheet.published_version == 1
    assert (
        w.session.scalar(select(Mark.marks).where(Mark.student_id == row.student.id)) == row.marks
    )


def test_amendment_needs_reason_and_valid_mark(results_world):
    w = results_world
    publish(w)
    student_id = results.roll(w.session, w.sheet)[0].student.id
    with pytest.raises(InvalidInput):
        results.request_amendment(
            w.session, w.sheet, student_id, "14", "short", actor=w.teacher, now=w.now
        )
    with pytest.raises(InvalidInput):
        results.request_amendment(
            w.session,
            w.sheet,
            student_id,
            "30",
            "Marks were added up wrongly.",
            actor=w.teacher,
            now=w.now,
        )
    assert w.session.scalar(select(func.count()).select_from(Amendment)) == 0


def test_head_teachers_own_subject_goes_to_aeo(results_world):
    w = results_world
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
    assert results.approver_role(w.session, w.sheet) == Role.AEO


def test_head_teachers_own_request_goes_to_aeo(results_world):
    w = results_world
    publish(w)
    row = results.roll(w.session, w.sheet)[0]
    amendment = results.request_amendment(
        w.session,
        w.sheet,
        row.student.id,
        "5",
        "Marks were added up wrongly.",
        actor=w.head,
        now=w.now,
    )
    assert results.approver_role(w.session, w.sheet) == Role.HEAD_TEACHER
    assert results.approver_role(w.session, w.sheet, amendment.requested_by_id) == Role.AEO
    results.decide_amendment(w.session, amendment, True, "", actor=Actor(w.aeo_a.id), now=w.now)
    assert amendment.state == AmendmentState.APPROVED


def test_second_pending_amendment_refused(results_world):
    w = results_world
    publish(w)
    row, other = results.roll(w.session, w.sheet)[:2]
    first = results.request_amendment(
        w.session,
        w.sheet,
        row.student.id,
        "5",
        "Marks were added up wrongly.",
        actor=w.teacher,
        now=w.now,
    )
    with pytest.raises(Locked) as refused:
        results.request_amendment(
            w.session,
            w.sheet,
            row.student.id,
            "5",
            "Marks were added up wrongly.",
            actor=w.teacher,
            now=w.now,
        )
    text = refused.value.message.interpolate()
    assert row.student.name_en in text
    assert "already waiting for the head teacher's decision" in text
    assert w.session.scalar(select(func.count()).select_from(Amendment)) == 1
    # Another student's mark may still be changed.
    results.request_amendment(
        w.session,
        w.sheet,
        other.student.id,
        "6",
        "Marks were added up wrongly.",
        actor=w.teacher,
        now=w.now,
    )
    # Once the first request is decided, the same mark may be changed again.
    results.decide_amendment(
        w.session, first, False, "The script was checked twice.", actor=w.head, now=w.now
    )
    again = results.request_amendment(
        w.session,
        w.sheet,
        row.student.id,
        "5",
        "Marks were added up wrongly, checked again.",
        actor=w.teacher,
        now=w.now,
    )
    assert again.state == AmendmentState.REQUESTED


def duplicate_of(w, amendment: Amendment) -> Amendment:
    """Store a second pending request for the same mark, as the application allowed once."""
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
    return duplicate


def test_approval_refused_when_mark_already_equal(results_world):
    w = results_world
    publish(w)
    row = results.roll(w.session, w.sheet)[0]
    amendment = results.request_amendment(
        w.session,
        w.sheet,
        row.student.id,
        "5",
        "Marks were added up wrongly.",
        actor=w.teacher,
        now=w.now,
    )
    duplicate = duplicate_of(w, amendment)
    results.decide_amendment(w.session, amendment, True, "", actor=w.head, now=w.now)
    assert w.sheet.published_version == 2
    assert results.current_mark(w.session, w.sheet.id, row.student.id) == (
        MarkStatus.ENTERED,
        D("5.00"),
    )

    with pytest.raises(InvalidInput) as refused:
        results.decide_amendment(w.session, duplicate, True, "", actor=w.head, now=w.now)
    text = refused.value.message.interpolate()
    assert row.student.name_en in text
    assert "already 5" in text
    assert "identical version" in text
    assert duplicate.state == AmendmentState.REQUESTED
    assert w.sheet.published_version == 2
    # Rejecting the stale request still works.
    results.decide_amendment(
        w.session, duplicate, False, "Already applied.", actor=w.head, now=w.now
    )
    assert duplicate.state == AmendmentState.REJECTED
    assert w.sheet.published_version == 2


def test_amendment_of_draft_refused(results_world):
    w = results_world
    with pytest.raises(Locked):
        results.request_amendment(
            w.session,
            w.sheet,
            results.roll(w.session, w.sheet)[0].student.id,
            "5",
            "Marks were added up wrongly.",
            actor=w.teacher,
            now=w.now,
        )


def test_settings_cannot_strand_marks(results_world):
    w = results_world
    results.save_marks(
        w.session,
        w.sheet,
        typed_all(w, ["20", "A", "0", "17.5"]),
        lock_version=None,
        actor=w.teacher,
        now=w.now,
    )
    with pytest.raises(InvalidInput):
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
    assert w.sheet.max_marks == D(25)


def test_grade_scale_validation(world):
    with pytest.raises(InvalidInput):
        results.save_grade_scale(
            world.session,
            world.tenant.id,
            [grading.Band("A", D(50), True)],
            actor=SYSTEM,
            now=world.now,
        )
    results.save_grade_scale(
        world.session,
        world.tenant.id,
        [grading.Band("Pass", D(40), True), grading.Band("Fail", D(0), False)],
        actor=SYSTEM,
        now=world.now,
    )
    assert [b.grade for b in results.bands_of(world.session, world.tenant.id)] == ["Pass", "Fail"]


def test_student_who_left_before_window_not_counted(results_world):
    w = results_world
    leaver = w.extra[0]
    people.end_enrollment(
        w.session,
        leaver,
        date(2026, 10, 20),
        people.EnrollmentEndReason.LEFT,
        "",
        actor=SYSTEM,
        now=w.now,
    )
    assert leaver.id not in {row.student.id for row in results.roll(w.session, w.sheet)}
