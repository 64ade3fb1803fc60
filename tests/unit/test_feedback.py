"""Quarterly subject feedback: catalogue, sheets, drafts, stale copies, submission and figures."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import colander
import peppercorn
import pytest
from sqlalchemy import event, func, select

from spets.forms.feedback import CatalogueItemSchema, SheetSchema
from spets.models import (
    AuditEvent,
    CycleRun,
    EnrollmentEndReason,
    FeedbackCatalogueItem,
    FeedbackEntry,
    FeedbackItem,
    FeedbackKind,
    OutboxMessage,
    Progress,
    Subject,
    Task,
    TaskState,
    WeaknessRating,
)
from spets.services import cycles, feedback, org, people, tasks
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, Locked, NotFound, StaleEdit
from spets.services.feedback_catalogue import STARTER_STRENGTHS, STARTER_WEAKNESSES
from spets.services.starter import STARTER_SUBJECTS

KARACHI = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()


def local(*args) -> datetime:
    """A local Karachi time as a UTC instant."""
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


Q2_OPENS = local(2026, 7, 1, 0, 15)
Q2_WORK = local(2026, 7, 6, 11, 0)
Q3_OPENS = local(2026, 10, 1, 0, 15)
Q3_WORK = local(2026, 10, 6, 11, 0)


def catalogue_ids(session, subject) -> dict[str, int]:
    """Catalogue item ids of a subject by code, such as "w_tables"."""
    rows = session.execute(
        select(FeedbackCatalogueItem.code, FeedbackCatalogueItem.id).where(
            FeedbackCatalogueItem.subject_id == subject.id
        )
    ).all()
    return dict(rows)


def row(student, codes, strengths=(), weaknesses=None, ratings=None, note="") -> dict:
    """One student's row as the sheet schema returns it, with catalogue codes for ids."""
    return {
        "student_id": student.id,
        "note": note,
        "strengths": [codes[code] for code in strengths],
        "weaknesses": [
            {"item_id": codes[code], "ticked": True, "planned_action": action}
            for code, action in (weaknesses or {}).items()
        ],
        "ratings": [
            {"previous_item_id": item_id, "progress": progress}
            for item_id, progress in (ratings or {}).items()
        ],
    }


def task_of(session, teacher, run_key: str) -> Task:
    return session.scalars(
        select(Task)
        .join(Task.cycle_run)
        .where(Task.assignee_id == teacher.id, Task.cycle_run.has(period_key=run_key))
    ).one()


@pytest.fixture
def feedback_world(world):
    return build_feedback_world(world)


def build_feedback_world(world):
    """School A with a maths section of three students, Q2 feedback approved, Q3 open."""
    w = world
    w.definition = cycles.add_default_definitions(w.session, w.tenant, actor=SYSTEM, now=w.now)
    feedback.add_starter_catalogue(w.session, w.tenant, actor=SYSTEM, now=w.now)
    org.assign_teacher(
        w.session,
        section=w.section_a10,
        subject=w.subjects["MATH"],
        teacher=w.teacher_a10,
        starts_on=w.year.starts_on,
        actor=SYSTEM,
        now=w.now,
    )
    w.omar = w.admit(w.section_a9, "A902", "Omar Farooq", "عمر فاروق")
    w.zara = w.admit(w.section_a9, "A903", "Zara Malik", "زارا ملک")
    w.math = catalogue_ids(w.session, w.subjects["MATH"])
    w.teacher = Actor(w.subject_teacher_a9.id)
    w.head = Actor(w.head_a.id)

    cycles.tick(w.session, Q2_OPENS)
    w.q2_task = task_of(w.session, w.subject_teacher_a9, "2026-27/Q2")
    feedback.submit_sheet(
        w.session,
        w.q2_task,
        [
            row(w.student_a9, w.math, ["s_algebra"], {"w_tables": "Tables drill every Monday"}),
            row(
                w.omar,
                w.math,
                [],
                {"w_signs": "Sign rules chart", "w_fractions": "Fraction worksheet"},
            ),
            row(w.zara, w.math, ["s_mental_arithmetic", "s_geometry"]),
        ],
        version=w.q2_task.version,
        actor=w.teacher,
        now=Q2_WORK,
    )
    tasks.approve_task(w.session, w.q2_task, actor=w.head, now=Q2_WORK)

    cycles.tick(w.session, Q3_OPENS)
    w.task = task_of(w.session, w.subject_teacher_a9, "2026-27/Q3")
    w.session.flush()
    return w


def previous_ids(sheet, student) -> dict[str, int]:
    """Last quarter's weakness item ids of a student on the sheet, by English text."""
    return {weakness.text_en: weakness.item_id for weakness in sheet.row_for(student.id).previous}


def count(session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))


# The starter catalogue.


def test_starter_catalogue_covers_every_subject(world):
    added = feedback.add_starter_catalogue(world.session, world.tenant, actor=SYSTEM, now=world.now)
    assert added == 100
    for code, _name_en, _name_ur, _core in STARTER_SUBJECTS:
        items = feedback.catalogue_of_tenant(
            world.session, world.tenant.id, world.subjects[code].id
        )
        kinds = [item.kind for item in items]
        assert kinds.count(FeedbackKind.STRENGTH) == 5, code
        assert kinds.count(FeedbackKind.WEAKNESS) == 5, code


def test_starter_catalogue_texts_bilingual():
    for table in (STARTER_STRENGTHS, STARTER_WEAKNESSES):
        for subject_code, items in table.items():
            for code, text_en, text_ur in items:
                assert text_en.isascii(), (subject_code, code)
                assert any("\u0600" <= letter <= "\u06ff" for letter in text_ur), (
                    subject_code,
                    code,
                )


def test_starter_catalogue_twice_adds_nothing(world):
    feedback.add_starter_catalogue(world.session, world.tenant, actor=SYSTEM, now=world.now)
    again = feedback.add_starter_catalogue(world.session, world.tenant, actor=SYSTEM, now=world.now)
    assert again == 0
    assert count(world.session, FeedbackCatalogueItem) == 100


# Catalogue items.


def catalogue_values(world, **changes) -> dict:
    values = {
        "subject_id": world.subjects["MATH"].id,
        "kind": FeedbackKind.WEAKNESS,
        "code": "w_measurement",
        "text_en": "Weak in units of measurement",
        "text_ur": "پیمائش کی اکائیوں میں کمزوری",
        "position": 6,
        "is_active": True,
    }
    values.update(changes)
    return values


def test_catalogue_item_created_and_audited(world):
    item = feedback.save_catalogue_item(
        world.session,
        tenant_id=world.tenant.id,
        item=None,
        values=catalogue_values(world),
        version=None,
        actor=Actor(world.admin.id),
        now=world.now,
    )
    assert (item.kind, item.code) == (FeedbackKind.WEAKNESS, "w_measurement")
    event_row = world.session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "feedback_catalogue_item", AuditEvent.entity_id == item.id
        )
    ).one()
    assert event_row.actor_id == world.admin.id
    assert event_row.changes["code"] == {"before": None, "after": "w_measurement"}


def test_catalogue_code_unique_in_subject(world):
    feedback.add_starter_catalogue(world.session, world.tenant, actor=SYSTEM, now=world.now)
    with pytest.raises(InvalidInput) as error:
        feedback.save_catalogue_item(
            world.session,
            tenant_id=world.tenant.id,
            item=None,
            values=catalogue_values(world, code="w_tables"),
            version=None,
            actor=SYSTEM,
            now=world.now,
        )
    assert "code" in error.value.field_errors


def test_catalogue_edit_keeps_subject_and_kind(world):
    item = feedback.save_catalogue_item(
        world.session,
        tenant_id=world.tenant.id,
        item=None,
        values=catalogue_values(world),
        version=None,
        actor=SYSTEM,
        now=world.now,
    )
    feedback.save_catalogue_item(
        world.session,
        tenant_id=world.tenant.id,
        item=item,
        values=catalogue_values(
            world, subject_id=world.subjects["ENG"].id, kind=FeedbackKind.STRENGTH, position=2
        ),
        version=item.version,
        actor=SYSTEM,
        now=world.now,
    )
    assert item.subject_id == world.subjects["MATH"].id
    assert item.kind == FeedbackKind.WEAKNESS
    assert item.position == 2


def test_catalogue_stale_edit_refused(world):
    item = feedback.save_catalogue_item(
        world.session,
        tenant_id=world.tenant.id,
        item=None,
        values=catalogue_values(world),
        version=None,
        actor=SYSTEM,
        now=world.now,
    )
    opened = item.version
    feedback.save_catalogue_item(
        world.session,
        tenant_id=world.tenant.id,
        item=item,
        values=catalogue_values(world, text_en="First edit"),
        version=opened,
        actor=SYSTEM,
        now=world.now,
    )
    with pytest.raises(StaleEdit):
        feedback.save_catalogue_item(
            world.session,
            tenant_id=world.tenant.id,
            item=item,
            values=catalogue_values(world, text_en="Second edit"),
            version=opened,
            actor=SYSTEM,
            now=world.now,
        )
    assert item.text_en == "First edit"


def test_catalogue_item_of_other_tenant_not_found(world):
    feedback.add_starter_catalogue(world.session, world.tenant, actor=SYSTEM, now=world.now)
    item_id = catalogue_ids(world.session, world.subjects["MATH"])["w_tables"]
    with pytest.raises(NotFound):
        feedback.get_catalogue_item(world.session, item_id, world.network.id)


# Loading a sheet.


def test_sheet_lists_section_roll_in_name_order(feedback_world):
    w = feedback_world
    sheet = feedback.load_sheet(w.session, w.task)
    assert [r.student.name_en for r in sheet.rows] == ["Ayesha Khan", "Omar Farooq", "Zara Malik"]
    assert len(sheet.strengths) == 5
    assert len(sheet.weaknesses) == 5
    assert sheet.previous_run.period_key == "2026-27/Q2"


def test_sheet_shows_last_quarter_weaknesses(feedback_world):
    w = feedback_world
    sheet = feedback.load_sheet(w.session, w.task)
    assert list(previous_ids(sheet, w.student_a9)) == ["Multiplication tables not yet secure"]
    assert sorted(previous_ids(sheet, w.omar)) == [
        "Errors with signs and basic operations",
        "Weak with fractions and decimals",
    ]
    assert previous_ids(sheet, w.zara) == {}
    ayesha = sheet.row_for(w.student_a9.id).previous[0]
    assert ayesha.planned_action == "Tables drill every Monday"
    assert ayesha.progress is None


def test_first_quarter_has_nothing_to_rate(feedback_world):
    sheet = feedback.load_sheet(feedback_world.session, feedback_world.q2_task)
    assert sheet.previous_run is None
    assert all(not r.previous for r in sheet.rows)


def test_unapproved_weaknesses_not_carried(feedback_world):
    w = feedback_world
    # The Q2 maths task of grade 10 was never submitted: its draft weakness is not carried.
    q2_a10 = task_of(w.session, w.teacher_a10, "2026-27/Q2")
    feedback.save_draft(
        w.session,
        q2_a10,
        [row(w.student_a10, w.math, [], {"w_tables": "Drill"})],
        version=q2_a10.version,
        actor=Actor(w.teacher_a10.id),
        now=Q2_WORK,
    )
    q3_a10 = task_of(w.session, w.teacher_a10, "2026-27/Q3")
    sheet = feedback.load_sheet(w.session, q3_a10)
    assert sheet.row_for(w.student_a10.id).previous == []


def test_weaknesses_follow_student_to_new_section(feedback_world):
    w = feedback_world
    # Omar moves to grade 10 before Q3; his Q2 weaknesses come to the grade 10 sheet.
    people.change_section(
        w.session, w.omar, w.section_a10, date(2026, 9, 1), actor=SYSTEM, now=w.now
    )
    q3_a10 = task_of(w.session, w.teacher_a10, "2026-27/Q3")
    sheet = feedback.load_sheet(w.session, q3_a10)
    assert len(sheet.row_for(w.omar.id).previous) == 2
    assert feedback.load_sheet(w.session, w.task).row_for(w.omar.id) is None


def test_student_who_left_is_marked_and_optional(feedback_world):
    w = feedback_world
    people.end_enrollment(
        w.session, w.omar, date(2026, 10, 5), EnrollmentEndReason.LEFT, "", actor=SYSTEM, now=w.now
    )
    sheet = feedback.load_sheet(w.session, w.task)
    omar = sheet.row_for(w.omar.id)
    assert omar.left_on == date(2026, 10, 5)
    assert not omar.still_enrolled
    problems, per_student = feedback.submission_problems(sheet)
    assert f"student-{w.omar.id}" not in per_student


def test_student_who_left_before_opening_not_listed(feedback_world):
    w = feedback_world
    people.end_enrollment(
        w.session, w.zara, date(2026, 9, 20), EnrollmentEndReason.LEFT, "", actor=SYSTEM, now=w.now
    )
    sheet = feedback.load_sheet(w.session, w.task)
    assert sheet.row_for(w.zara.id) is None


# Saving drafts.


def test_draft_saves_one_student_and_keeps_the_others(feedback_world):
    w = feedback_world
    version = w.task.version
    feedback.save_draft(
        w.session,
        w.task,
        [row(w.zara, w.math, ["s_algebra"], note="Helps classmates")],
        version=version,
        actor=w.teacher,
        now=Q3_WORK,
    )
    feedback.save_draft(
        w.session,
        w.task,
        [row(w.student_a9, w.math, ["s_geometry"])],
        version=w.task.version,
        actor=w.teacher,
        now=Q3_WORK,
    )
    sheet = feedback.load_sheet(w.session, w.task)
    zara = sheet.row_for(w.zara.id)
    assert zara.strengths == {w.math["s_algebra"]}
    assert zara.note == "Helps classmates"
    assert sheet.row_for(w.student_a9.id).strengths == {w.math["s_geometry"]}
    assert sheet.row_for(w.omar.id).entry_id is None
    assert w.task.state == TaskState.IN_PROGRESS
    assert w.task.version > version


def test_draft_row_replaces_saved_row(feedback_world):
    w = feedback_world
    feedback.save_draft(
        w.session,
        w.task,
        [row(w.zara, w.math, ["s_algebra", "s_geometry"], {"w_signs": "Chart"})],
        version=w.task.version,
        actor=w.teacher,
        now=Q3_WORK,
    )
    feedback.save_draft(
        w.session,
        w.task,
        [row(w.zara, w.math, ["s_geometry"], {"w_signs": "Chart and quiz", "w_tables": ""})],
        version=w.task.version,
        actor=w.teacher,
        now=Q3_WORK,
    )
    zara = feedback.load_sheet(w.session, w.task).row_for(w.zara.id)
    assert zara.strengths == {w.math["s_geometry"]}
    assert zara.weaknesses == {w.math["w_signs"]: "Chart and quiz", w.math["w_tables"]: ""}
    entry_id = zara.entry_id
    assert count(w.session, FeedbackItem, FeedbackItem.entry_id == entry_id) == 3


def test_unticked_weakness_action_ignored(feedback_world):
    w = feedback_world
    values = row(w.zara, w.math, ["s_geometry"])
    values["weaknesses"] = [
        {"item_id": w.math["w_signs"], "ticked": False, "planned_action": "typed, then unticked"}
    ]
    feedback.save_draft(
        w.session, w.task, [values], version=w.task.version, actor=w.teacher, now=Q3_WORK
    )
    assert feedback.load_sheet(w.session, w.task).row_for(w.zara.id).weaknesses == {}


def test_draft_audited_per_student(feedback_world):
    w = feedback_world
    feedback.save_draft(
        w.session,
        w.task,
        [row(w.zara, w.math, ["s_algebra"]), row(w.omar, w.math, [])],
        version=w.task.version,
        actor=w.teacher,
        now=Q3_WORK,
    )
    events = w.session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "feedback_entry", AuditEvent.occurred_at == Q3_WORK
        )
    ).all()
    assert [e.student_id for e in events] == [w.zara.id]
    assert events[0].actor_id == w.subject_teacher_a9.id
    assert events[0].changes["strengths"] == {"before": [], "after": ["s_algebra"]}


def test_draft_rejects_item_of_other_subject(feedback_world):
    w = feedback_world
    english = catalogue_ids(w.session, w.subjects["ENG"])
    with pytest.raises(InvalidInput) as error:
        feedback.save_draft(
            w.session,
            w.task,
            [row(w.zara, english, ["s_vocabulary"])],
            version=w.task.version,
            actor=w.teacher,
            now=Q3_WORK,
        )
    assert f"student-{w.zara.id}" in error.value.field_errors


def test_draft_rejects_student_of_other_section(feedback_world):
    w = feedback_world
    with pytest.raises(InvalidInput) as error:
        feedback.save_draft(
            w.session,
            w.task,
            [row(w.student_b9, w.math, ["s_algebra"])],
            version=w.task.version,
            actor=w.teacher,
            now=Q3_WORK,
        )
    assert f"student-{w.student_b9.id}" in error.value.field_errors


def test_draft_rejects_rating_of_unknown_weakness(feedback_world):
    w = feedback_world
    sheet = feedback.load_sheet(w.session, w.task)
    omar_weakness = sheet.row_for(w.omar.id).previous[0].item_id
    with pytest.raises(InvalidInput):
        feedback.save_draft(
            w.session,
            w.task,
            [row(w.zara, w.math, ["s_algebra"], ratings={omar_weakness: "improved"})],
            version=w.task.version,
            actor=w.teacher,
            now=Q3_WORK,
        )


# Stale copies.


def test_stale_copy_conflicts(feedback_world):
    w = feedback_world
    opened = w.task.version  # two browser tabs open the sheet at this version
    feedback.save_draft(
        w.session,
        w.task,
        [row(w.zara, w.math, ["s_algebra"])],
        version=opened,
        actor=w.teacher,
        now=Q3_WORK,
    )
    with pytest.raises(StaleEdit) as conflict:
        feedback.save_draft(
            w.session,
            w.task,
            [row(w.zara, w.math, ["s_geometry"])],
            version=opened,
            actor=w.teacher,
            now=Q3_WORK,
        )
    assert conflict.value.current_version == w.task.version
    zara = feedback.load_sheet(w.session, w.task).row_for(w.zara.id)
    assert zara.strengths == {w.math["s_algebra"]}


def test_every_save_raises_version(feedback_world):
    w = feedback_world
    versions = []
    for strength in ("s_algebra", "s_geometry"):
        feedback.save_draft(
            w.session,
            w.task,
            [row(w.zara, w.math, [strength])],
            version=w.task.version,
            actor=w.teacher,
            now=Q3_WORK,
        )
        versions.append(w.task.version)
    assert versions[1] == versions[0] + 1
    stored = w.session.scalar(select(Task.version).where(Task.id == w.task.id))
    assert stored == versions[1]


# How many statements a save runs.


def statements_for_save(w, students, connection) -> int:
    sheet = feedback.load_sheet(w.session, w.task)
    rows_sent = [row(r.student, w.math, ["s_algebra"], {"w_signs": "Chart"}) for r in sheet.rows]
    counted = 0

    def count_statement(*_args):
        nonlocal counted
        counted += 1

    event.listen(connection, "before_cursor_execute", count_statement)
    try:
        feedback.save_draft(
            w.session, w.task, rows_sent, version=w.task.version, actor=w.teacher, now=Q3_WORK
        )
    finally:
        event.remove(connection, "before_cursor_execute", count_statement)
    return counted


def test_save_statement_count_fixed(feedback_world, connection):
    """A save runs as many statements for 6 students as for 60, first saves and re-saves alike."""
    w = feedback_world
    feedback.save_draft(w.session, w.task, [], version=w.task.version, actor=w.teacher, now=Q3_WORK)
    for number in range(3):
        w.admit(w.section_a9, f"S{number}", f"Small Class {chr(65 + number)}", "طالب علم")
    w.session.flush()
    small = statements_for_save(w, 6, connection)
    small_again = statements_for_save(w, 6, connection)

    for number in range(54):
        w.admit(w.section_a9, f"L{number}", f"Large Class {chr(65 + number % 26)}", "طالب علم")
    w.session.expire_all()
    large_task = task_of(w.session, w.subject_teacher_a9, "2026-27/Q3")
    assert len(feedback.load_sheet(w.session, large_task).rows) == 60
    large = statements_for_save(w, 60, connection)
    large_again = statements_for_save(w, 60, connection)
    assert large == small
    assert large_again == small_again
    assert large <= 16


# Submitting.


def test_submit_with_unrated_weakness_names_students_and_subject(feedback_world):
    w = feedback_world
    with pytest.raises(feedback.IncompleteSheet) as refused:
        feedback.submit_sheet(
            w.session,
            w.task,
            [
                row(w.student_a9, w.math, ["s_algebra"]),
                row(w.omar, w.math, ["s_geometry"]),
                row(w.zara, w.math, ["s_geometry"]),
            ],
            version=w.task.version,
            actor=w.teacher,
            now=Q3_WORK,
        )
    messages = [problem.interpolate() for problem in refused.value.problems]
    assert messages == [
        "Mathematics: last quarter's weaknesses are not rated yet for Ayesha Khan, Omar Farooq."
    ]
    assert set(refused.value.field_errors) == {
        f"student-{w.student_a9.id}",
        f"student-{w.omar.id}",
    }
    # The draft stays saved and the task stays with the teacher.
    assert w.task.state == TaskState.IN_PROGRESS
    zara = feedback.load_sheet(w.session, w.task).row_for(w.zara.id)
    assert zara.strengths == {w.math["s_geometry"]}


def test_submit_names_students_in_urdu(feedback_world):
    w = feedback_world
    with pytest.raises(feedback.IncompleteSheet) as refused:
        feedback.submit_sheet(
            w.session,
            w.task,
            [],
            version=w.task.version,
            actor=w.teacher,
            now=Q3_WORK,
            locale="ur",
        )
    text = refused.value.problems[0].interpolate()
    assert "ریاضی" in text
    assert "عائشہ خان" in text


def test_submit_needs_planned_action(feedback_world):
    w = feedback_world
    sheet = feedback.load_sheet(w.session, w.task)
    ratings_a9 = dict.fromkeys(previous_ids(sheet, w.student_a9).values(), "improved")
    ratings_omar = dict.fromkeys(previous_ids(sheet, w.omar).values(), "worse")
    with pytest.raises(feedback.IncompleteSheet) as refused:
        feedback.submit_sheet(
            w.session,
            w.task,
            [
                row(w.student_a9, w.math, ["s_algebra"], ratings=ratings_a9),
                row(w.omar, w.math, [], {"w_signs": ""}, ratings=ratings_omar),
                row(w.zara, w.math, ["s_geometry"]),
            ],
            version=w.task.version,
            actor=w.teacher,
            now=Q3_WORK,
        )
    messages = [problem.interpolate() for problem in refused.value.problems]
    assert messages == ["Mathematics: a weakness has no planned action for Omar Farooq."]


def test_submit_needs_a_pick_per_student(feedback_world):
    w = feedback_world
    q3_a10 = task_of(w.session, w.teacher_a10, "2026-27/Q3")
    with pytest.raises(feedback.IncompleteSheet) as refused:
        feedback.submit_sheet(
            w.session,
            q3_a10,
            [],
            version=q3_a10.version,
            actor=Actor(w.teacher_a10.id),
            now=Q3_WORK,
        )
    assert [p.interpolate() for p in refused.value.problems] == [
        "Mathematics: nothing is ticked yet for Bilal Ahmed."
    ]


def complete_rows(w) -> list[dict]:
    sheet = feedback.load_sheet(w.session, w.task)
    return [
        row(
            w.student_a9,
            w.math,
            ["s_algebra"],
            ratings=dict.fromkeys(previous_ids(sheet, w.student_a9).values(), "improved"),
        ),
        row(
            w.omar,
            w.math,
            [],
            {"w_signs": "Sign rules chart"},
            ratings={
                ids: progress
                for ids, progress in zip(
                    previous_ids(sheet, w.omar).values(), ["unchanged", "worse"], strict=True
                )
            },
        ),
        row(w.zara, w.math, ["s_geometry"]),
    ]


def test_complete_submit_reaches_head_teacher(feedback_world):
    w = feedback_world
    feedback.submit_sheet(
        w.session, w.task, complete_rows(w), version=w.task.version, actor=w.teacher, now=Q3_WORK
    )
    assert w.task.state == TaskState.SUBMITTED
    assert count(w.session, WeaknessRating) == 3
    messages = w.session.scalars(
        select(OutboxMessage.key).where(OutboxMessage.recipient_id == w.head_a.id)
    ).all()
    assert any(key.startswith(f"submitted:{w.task.id}:") for key in messages)


def test_submitted_sheet_locked(feedback_world):
    w = feedback_world
    feedback.submit_sheet(
        w.session, w.task, complete_rows(w), version=w.task.version, actor=w.teacher, now=Q3_WORK
    )
    with pytest.raises(Locked):
        feedback.save_draft(
            w.session,
            w.task,
            [row(w.zara, w.math, ["s_algebra"])],
            version=w.task.version,
            actor=w.teacher,
            now=Q3_WORK,
        )


def test_returned_sheet_editable_again(feedback_world):
    w = feedback_world
    feedback.submit_sheet(
        w.session, w.task, complete_rows(w), version=w.task.version, actor=w.teacher, now=Q3_WORK
    )
    tasks.return_task(w.session, w.task, "Say more about Zara", actor=w.head, now=Q3_WORK)
    feedback.save_draft(
        w.session,
        w.task,
        [row(w.zara, w.math, ["s_geometry"], note="Leads group work")],
        version=w.task.version,
        actor=w.teacher,
        now=Q3_WORK,
    )
    assert w.task.state == TaskState.IN_PROGRESS
    assert w.task.comment == "Say more about Zara"


# The profile history and the figures.


def test_student_history_across_quarters(feedback_world):
    w = feedback_world
    feedback.submit_sheet(
        w.session, w.task, complete_rows(w), version=w.task.version, actor=w.teacher, now=Q3_WORK
    )
    history = feedback.student_history(w.session, w.omar.id)
    assert [h.subject.code for h in history] == ["MATH"]
    q2, q3 = history[0].quarters
    assert (q2.period_key, q2.approved, q3.approved) == ("2026-27/Q2", True, False)
    assert [(x.text_en, x.progress) for x in q2.weaknesses] == [
        ("Errors with signs and basic operations", Progress.UNCHANGED),
        ("Weak with fractions and decimals", Progress.WORSE),
    ]
    assert q3.ratings_given == {Progress.UNCHANGED: 1, Progress.WORSE: 1}
    assert q3.quarter_number == 3
    assert q3.year_label == "2026-27"


def test_history_leaves_out_drafts(feedback_world):
    w = feedback_world
    feedback.save_draft(
        w.session,
        w.task,
        [row(w.zara, w.math, ["s_algebra"])],
        version=w.task.version,
        actor=w.teacher,
        now=Q3_WORK,
    )
    quarters = feedback.student_history(w.session, w.zara.id)[0].quarters
    assert [q.period_key for q in quarters] == ["2026-27/Q2"]


def test_overview_share_per_section_and_teacher(feedback_world):
    w = feedback_world
    run = w.task.cycle_run
    before = feedback.improvement_overview(w.session, w.school_a, run)
    assert (before.total.weaknesses, before.total.rated, before.total.share_improved) == (
        3,
        0,
        None,
    )

    feedback.submit_sheet(
        w.session, w.task, complete_rows(w), version=w.task.version, actor=w.teacher, now=Q3_WORK
    )
    overview = feedback.improvement_overview(w.session, w.school_a, run)
    assert overview.previous.period_key == "2026-27/Q2"
    [section] = overview.by_section
    assert section.section.id == w.section_a9.id
    assert (section.weaknesses, section.rated, section.improved) == (3, 3, 1)
    assert (section.unchanged, section.worse) == (1, 1)
    assert section.share_improved == pytest.approx(1 / 3)
    [teacher] = overview.by_teacher
    assert teacher.teacher.id == w.subject_teacher_a9.id
    assert teacher.share_improved == pytest.approx(1 / 3)


def test_overview_of_other_school_empty(feedback_world):
    w = feedback_world
    overview = feedback.improvement_overview(w.session, w.school_b, w.task.cycle_run)
    assert overview.total.weaknesses == 0
    assert overview.by_section == []


def test_overview_drill_down_lists_weaknesses(feedback_world):
    w = feedback_world
    feedback.submit_sheet(
        w.session, w.task, complete_rows(w), version=w.task.version, actor=w.teacher, now=Q3_WORK
    )
    run = w.task.cycle_run
    details = feedback.improvement_details(w.session, w.school_a, run, section_id=w.section_a9.id)
    assert [(d.student.name_en, d.text_en, d.progress) for d in details] == [
        ("Ayesha Khan", "Multiplication tables not yet secure", Progress.IMPROVED),
        ("Omar Farooq", "Errors with signs and basic operations", Progress.UNCHANGED),
        ("Omar Farooq", "Weak with fractions and decimals", Progress.WORSE),
    ]
    by_teacher = feedback.improvement_details(
        w.session, w.school_a, run, teacher_id=w.teacher_a10.id
    )
    assert by_teacher == []
    other_school = feedback.improvement_details(
        w.session, w.school_b, run, section_id=w.section_a9.id
    )
    assert other_school == []


def test_drafted_ratings_not_counted(feedback_world):
    w = feedback_world
    rows_sent = complete_rows(w)
    feedback.save_draft(
        w.session, w.task, rows_sent, version=w.task.version, actor=w.teacher, now=Q3_WORK
    )
    overview = feedback.improvement_overview(w.session, w.school_a, w.task.cycle_run)
    assert overview.total.rated == 0


# The schema of the sheet.


def test_schema_reads_json_body():
    body = {
        "version": 4,
        "students": [
            {
                "student_id": 12,
                "strengths": [3, "5"],
                "weaknesses": [{"item_id": 8, "ticked": True, "planned_action": "  Drill "}],
                "ratings": [{"previous_item_id": 91, "progress": "improved"}],
            }
        ],
    }
    values = SheetSchema().deserialize(body)
    student = values["students"][0]
    assert values["version"] == 4
    assert student["strengths"] == [3, 5]
    assert student["weaknesses"] == [{"item_id": 8, "ticked": True, "planned_action": "Drill"}]
    assert student["ratings"] == [{"previous_item_id": 91, "progress": Progress.IMPROVED}]
    assert student["note"] == ""


def test_schema_reads_form_fields():
    fields = [
        ("version", "۳"),
        ("__start__", "students:sequence"),
        ("__start__", "student:mapping"),
        ("student_id", "12"),
        ("__start__", "strengths:sequence"),
        ("strength", "3"),
        ("__end__", "strengths:sequence"),
        ("__start__", "weaknesses:sequence"),
        ("__start__", "weakness:mapping"),
        ("item_id", "8"),
        ("planned_action", "not ticked"),
        ("__end__", "weakness:mapping"),
        ("__end__", "weaknesses:sequence"),
        ("__start__", "ratings:sequence"),
        ("__start__", "rating:mapping"),
        ("previous_item_id", "91"),
        ("__start__", "progress:rename"),
        ("__end__", "progress:rename"),
        ("__end__", "rating:mapping"),
        ("__end__", "ratings:sequence"),
        ("note", "Works hard"),
        ("__end__", "student:mapping"),
        ("__end__", "students:sequence"),
    ]
    values = SheetSchema().deserialize(peppercorn.parse(fields))
    student = values["students"][0]
    assert values["version"] == 3
    assert student["weaknesses"][0]["ticked"] is False
    assert student["ratings"][0]["progress"] is None
    assert student["note"] == "Works hard"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"note": "x" * 1001}, "students.0.note"),
        (
            {"ratings": [{"previous_item_id": 1, "progress": "better"}]},
            "students.0.ratings.0.progress",
        ),
        ({"strengths": ["three"]}, "students.0.strengths.0"),
        (
            {"weaknesses": [{"item_id": 1, "ticked": True, "planned_action": "y" * 501}]},
            "students.0.weaknesses.0.planned_action",
        ),
    ],
)
def test_schema_rejects_bad_values(change, field):
    body = {"students": [{"student_id": 1, **change}]}
    with pytest.raises(colander.Invalid) as invalid:
        SheetSchema().deserialize(body)
    assert field in invalid.value.asdict()


def test_catalogue_schema_requires_urdu_text():
    schema = CatalogueItemSchema().bind(
        subjects=[("1", "Mathematics")], kinds=[("weakness", "Weakness")]
    )
    with pytest.raises(colander.Invalid) as invalid:
        schema.deserialize(
            {
                "subject_id": "1",
                "kind": "weakness",
                "code": "Bad Code",
                "text_en": "Weak in units",
                "text_ur": "Weak in units",
            }
        )
    errors = invalid.value.asdict()
    assert set(errors) == {"code", "text_ur"}


def test_subject_of_catalogue_item_is_in_tenant(world):
    feedback.add_starter_catalogue(world.session, world.tenant, actor=SYSTEM, now=world.now)
    foreign = Subject(tenant_id=world.network.id, code="MATH", name_en="Maths", name_ur="ریاضی")
    world.session.add(foreign)
    world.session.flush()
    with pytest.raises(NotFound):
        feedback.save_catalogue_item(
            world.session,
            tenant_id=world.tenant.id,
            item=None,
            values=catalogue_values(world, subject_id=foreign.id),
            version=None,
            actor=SYSTEM,
            now=world.now,
        )
    assert count(world.session, FeedbackEntry) == 0


# The demo.


def test_demo_feedback_leaves_ratings_to_do(dbsession, now):
    from spets.demo.feedback import load_feedback
    from spets.demo.load import load_base

    demo = load_base(dbsession, now)
    summary = demo.feedback
    assert load_feedback(dbsession, now).quarters == 0  # a second load adds nothing
    assert summary.quarters == 2  # April-June and July-September, before 4 December
    assert summary.entries > 2 * 649  # every student, in each of several subjects

    runs = {
        run.period_key: run
        for run in dbsession.scalars(select(CycleRun).order_by(CycleRun.opens_on))
    }
    assert list(runs) == ["2026-27/Q1", "2026-27/Q2", "2026-27/Q3"]
    states = dbsession.execute(
        select(CycleRun.period_key, Task.state, func.count())
        .join(Task, Task.cycle_run_id == CycleRun.id)
        .where(Task.school_id == demo.school_id)
        .group_by(CycleRun.period_key, Task.state)
    ).all()
    found = {(key, state) for key, state, _count in states}
    assert {key_state for key_state in found if key_state[0] != "2026-27/Q3"} == {
        ("2026-27/Q1", TaskState.APPROVED),
        ("2026-27/Q2", TaskState.APPROVED),
    }
    # The current quarter is part done (demo.engine): some sheets are still untouched.
    assert ("2026-27/Q3", TaskState.OPEN) in found
    assert count(dbsession, WeaknessRating) > 0  # Q2 rated the weaknesses of Q1

    current = dbsession.scalars(
        select(Task)
        .where(Task.cycle_run_id == runs["2026-27/Q3"].id, Task.state == TaskState.OPEN)
        .order_by(Task.id)
    ).first()
    sheet = feedback.load_sheet(dbsession, current)
    assert sheet.previous_run.period_key == "2026-27/Q2"
    assert sum(len(row.unrated) for row in sheet.rows) > 0
    assert load_feedback(dbsession, now).entries == 0  # a second load adds nothing
