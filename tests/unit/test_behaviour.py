"""Behaviour rubrics, incidents, early-warning flags and intervention plans with their reviews."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from spets.models import (
    AttendanceStatus,
    AuditEvent,
    BehaviourRubric,
    CycleKind,
    EarlyWarningFlag,
    ExamKind,
    FlagArea,
    FlagLevel,
    IncidentKind,
    MarkStatus,
    PlanState,
    PublishedMark,
    ResultSheet,
    SheetState,
    Task,
    TaskState,
)
from spets.services import attendance, behaviour, calendar, cycles, plans, warnings
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, Locked, StaleEdit

KARACHI = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()
NOW = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)  # Friday 4 December 2026, 10:00 in Karachi
LEVELS = {"discipline": 3, "punctuality": 4, "cleanliness": 3, "hygiene": 4}


def local(*args) -> datetime:
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


@pytest.fixture
def bw(world):
    """The test world with the attendance, rubric and review cycles."""
    attendance.add_attendance_definitions(world.session, world.tenant, actor=SYSTEM, now=world.now)
    world.session.flush()
    return world


def rubric_task(w, section) -> Task:
    return w.session.scalars(
        select(Task).where(Task.kind == CycleKind.BEHAVIOUR_RUBRIC, Task.section_id == section.id)
    ).one()


@pytest.fixture
def rubric_world(bw):
    cycles.tick(bw.session, local(2026, 12, 1, 0, 15))
    bw.task = rubric_task(bw, bw.section_a9)
    bw.teacher = Actor(bw.class_teacher_a9.id)
    return bw


def row(student, note="", **levels) -> dict:
    return {"student_id": student.id, **(levels or LEVELS), "note": note}


# The rubric.


def test_month_start_opens_rubric_for_class_teachers(rubric_world):
    w = rubric_world
    assert (w.task.assignee_id, w.task.opens_on) == (w.class_teacher_a9.id, date(2026, 12, 1))
    sheet = behaviour.load_rubric_sheet(w.session, w.task)
    assert sheet.month == date(2026, 12, 1)
    assert [r.student.id for r in sheet.rows] == [w.student_a9.id]
    assert sheet.unrated == sheet.rows


def test_rubric_saved_and_submitted(rubric_world):
    w = rubric_world
    behaviour.save_rubric_sheet(
        w.session,
        w.task,
        [row(w.student_a9, "Helpful")],
        version=w.task.version,
        actor=w.teacher,
        now=NOW,
    )
    rubric = w.session.scalars(select(BehaviourRubric)).one()
    assert (rubric.discipline, rubric.hygiene, rubric.month, rubric.note) == (
        3,
        4,
        date(2026, 12, 1),
        "Helpful",
    )
    assert w.task.state == TaskState.IN_PROGRESS
    behaviour.save_rubric_sheet(
        w.session, w.task, [], version=w.task.version, actor=w.teacher, now=NOW, submit=True
    )
    assert w.task.state == TaskState.SUBMITTED
    with pytest.raises(Locked):
        behaviour.save_rubric_sheet(
            w.session, w.task, [], version=w.task.version, actor=w.teacher, now=NOW
        )


def test_rubric_correction_audited(rubric_world):
    w = rubric_world
    behaviour.save_rubric_sheet(
        w.session, w.task, [row(w.student_a9)], version=w.task.version, actor=w.teacher, now=NOW
    )
    lower = dict(LEVELS, discipline=1)
    behaviour.save_rubric_sheet(
        w.session,
        w.task,
        [row(w.student_a9, **lower)],
        version=w.task.version,
        actor=w.teacher,
        now=NOW,
    )
    events = w.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "behaviour_rubric")
        .order_by(AuditEvent.id)
    ).all()
    assert [event.action.value for event in events] == ["create", "update"]
    assert events[1].changes == {"discipline": {"before": 3, "after": 1}}


def test_rubric_submit_needs_every_student(rubric_world):
    w = rubric_world
    second = w.admit(w.section_a9, "A905", "Saima Naz", "صائمہ ناز")
    w.session.flush()
    with pytest.raises(behaviour.IncompleteRubric) as refused:
        behaviour.save_rubric_sheet(
            w.session,
            w.task,
            [row(w.student_a9)],
            version=w.task.version,
            actor=w.teacher,
            now=NOW,
            submit=True,
        )
    assert "Saima Naz" in refused.value.message.interpolate()
    assert f"student-{second.id}" in refused.value.field_errors
    assert w.task.state == TaskState.IN_PROGRESS
    assert w.session.scalar(select(func.count()).select_from(BehaviourRubric)) == 1


def test_rubric_row_needs_all_four_areas(rubric_world):
    w = rubric_world
    with pytest.raises(InvalidInput) as refused:
        behaviour.save_rubric_sheet(
            w.session,
            w.task,
            [
                {
                    "student_id": w.student_a9.id,
                    "discipline": 2,
                    "punctuality": None,
                    "cleanliness": 3,
                    "hygiene": None,
                }
            ],
            version=w.task.version,
            actor=w.teacher,
            now=NOW,
        )
    assert f"student-{w.student_a9.id}" in refused.value.field_errors


def test_rubric_stale_copy_refused(rubric_world):
    w = rubric_world
    opened = w.task.version
    behaviour.save_rubric_sheet(
        w.session, w.task, [row(w.student_a9)], version=opened, actor=w.teacher, now=NOW
    )
    with pytest.raises(StaleEdit):
        behaviour.save_rubric_sheet(
            w.session, w.task, [row(w.student_a9)], version=opened, actor=w.teacher, now=NOW
        )


# Incidents.


def incident_values(**extra) -> dict:
    values = {
        "kind": IncidentKind.NEGATIVE,
        "category": "fighting",
        "occurred_on": date(2026, 12, 3),
        "description": "Pushed a classmate during the break.",
        "follow_up": "Talked with both students; parents informed.",
    }
    values.update(extra)
    return values


def test_incident_recorded_and_audited(world):
    incident = behaviour.save_incident(
        world.session,
        world.student_a9,
        None,
        incident_values(),
        version=None,
        actor=Actor(world.subject_teacher_a9.id),
        now=NOW,
    )
    assert (incident.kind, incident.recorded_by_id) == (
        IncidentKind.NEGATIVE,
        world.subject_teacher_a9.id,
    )
    event = world.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "incident")
    ).one()
    assert event.student_id == world.student_a9.id


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_on": date(2026, 12, 5)}, "occurred_on"),
        ({"occurred_on": date(2025, 11, 1)}, "occurred_on"),
        ({"category": "helping_others"}, "category"),
    ],
)
def test_incident_checks(world, change, field):
    with pytest.raises(InvalidInput) as refused:
        behaviour.save_incident(
            world.session,
            world.student_a9,
            None,
            incident_values(**change),
            version=None,
            actor=Actor(world.head_a.id),
            now=NOW,
        )
    assert field in refused.value.field_errors


def test_incident_stale_edit_refused(world):
    incident = behaviour.save_incident(
        world.session,
        world.student_a9,
        None,
        incident_values(),
        version=None,
        actor=Actor(world.head_a.id),
        now=NOW,
    )
    behaviour.save_incident(
        world.session,
        world.student_a9,
        incident,
        incident_values(follow_up="Met the father."),
        version=1,
        actor=Actor(world.head_a.id),
        now=NOW,
    )
    with pytest.raises(StaleEdit):
        behaviour.save_incident(
            world.session,
            world.student_a9,
            incident,
            incident_values(follow_up="Other"),
            version=1,
            actor=Actor(world.head_a.id),
            now=NOW,
        )


# Flags.


def mark_days(w, days, absent=(), section=None, student=None):
    student = student or w.student_a9
    for day in days:
        status = AttendanceStatus.ABSENT if day in absent else AttendanceStatus.PRESENT
        attendance.save_register(
            w.session,
            section or w.section_a9,
            day,
            [{"student_id": student.id, "status": status, "leave_reason": ""}],
            version=None,
            actor=SYSTEM,
            now=NOW,
        )


def ten_days(w) -> list[date]:
    return calendar.school_days(w.session, w.school_a, date(2026, 11, 16), date(2026, 11, 26))


def flags_of(w, student=None) -> dict[FlagArea, EarlyWarningFlag]:
    w.session.expire_all()
    rows = w.session.scalars(
        select(EarlyWarningFlag).where(
            EarlyWarningFlag.student_id == (student or w.student_a9).id,
            EarlyWarningFlag.resolved_at.is_(None),
        )
    ).all()
    return {flag.area: flag for flag in rows}


@pytest.mark.parametrize(
    ("absences", "level"),
    [(0, None), (1, None), (2, FlagLevel.WATCH), (3, FlagLevel.AT_RISK)],
)
def test_attendance_flag_thresholds(world, absences, level):
    days = ten_days(world)
    assert len(days) == 10
    mark_days(world, days, absent=days[:absences])
    warnings.compute_flags(world.session, NOW, [world.school_a.id])
    flag = flags_of(world).get(FlagArea.ATTENDANCE)
    # 90.0 % is not below 90, 80.0 % is not below 80.
    assert (flag.level if flag else None) == level


def test_attendance_flag_reasons_translate(world):
    days = ten_days(world)
    mark_days(world, days, absent=days[:3])
    warnings.compute_flags(world.session, NOW, [world.school_a.id])
    flag = flags_of(world)[FlagArea.ATTENDANCE]
    assert flag.reasons == [
        {"id": "flag_attendance_low", "values": {"percent": "70", "days": 10, "threshold": "80"}}
    ]
    text = warnings.reason_text(flag.reasons[0], "en")
    assert text == "Attendance 70 % over 10 school days this year, below 80 %."


def test_flag_recompute_is_stable_then_resolves(world):
    days = ten_days(world)
    mark_days(world, days, absent=days[:3])
    first = warnings.compute_flags(world.session, NOW, [world.school_a.id])
    again = warnings.compute_flags(world.session, NOW, [world.school_a.id])
    assert (first.raised, again.raised, again.updated, again.resolved) == (1, 0, 0, 0)
    raised = flags_of(world)[FlagArea.ATTENDANCE]

    # Corrections of two of the absences bring attendance to 90 %: the flag resolves.
    for day in days[:2]:
        register = attendance.load_register(world.session, world.section_a9, day, NOW)
        attendance.save_register(
            world.session,
            world.section_a9,
            day,
            [{"student_id": world.student_a9.id, "status": "late", "leave_reason": ""}],
            version=register.version,
            actor=SYSTEM,
            now=NOW,
        )
    result = warnings.compute_flags(world.session, NOW, [world.school_a.id])
    assert result.resolved == 1
    assert flags_of(world) == {}
    assert world.session.get(EarlyWarningFlag, raised.id).resolved_at == NOW


def test_too_few_days_raise_no_flag(world):
    days = ten_days(world)[:5]
    mark_days(world, days, absent=days)
    warnings.compute_flags(world.session, NOW, [world.school_a.id])
    assert flags_of(world) == {}


def test_custom_thresholds(world):
    days = ten_days(world)
    mark_days(world, days, absent=days[:1])
    values = {
        "attendance_watch_below": Decimal(95),
        "attendance_risk_below": Decimal("92.5"),
        "negative_incidents": 3,
        "incident_window_days": 30,
        "low_rubric_level": 1,
        "course_drop_points": Decimal(10),
    }
    warnings.save_settings(world.session, world.tenant, values, version=None, actor=SYSTEM, now=NOW)
    warnings.compute_flags(world.session, NOW, [world.school_a.id])
    assert flags_of(world)[FlagArea.ATTENDANCE].level == FlagLevel.AT_RISK  # 90 % < 92.5 %


def test_settings_need_risk_below_watch(world):
    values = {
        "attendance_watch_below": Decimal(80),
        "attendance_risk_below": Decimal(85),
        "negative_incidents": 3,
        "incident_window_days": 30,
        "low_rubric_level": 1,
        "course_drop_points": Decimal(10),
    }
    with pytest.raises(InvalidInput):
        warnings.save_settings(
            world.session, world.tenant, values, version=None, actor=SYSTEM, now=NOW
        )


def add_rubric(w, month: date, **levels):
    w.session.add(
        BehaviourRubric(
            student_id=w.student_a9.id,
            section_id=w.section_a9.id,
            month=month,
            **{**LEVELS, **levels},
            note="",
            recorded_at=NOW,
        )
    )
    w.session.flush()


def test_negative_incidents_raise_behaviour_watch(world):
    for day in (date(2026, 11, 20), date(2026, 11, 26), date(2026, 12, 2)):
        behaviour.save_incident(
            world.session,
            world.student_a9,
            None,
            incident_values(occurred_on=day),
            version=None,
            actor=Actor(world.head_a.id),
            now=NOW,
        )
    behaviour.save_incident(
        world.session,
        world.student_a9,
        None,
        incident_values(kind=IncidentKind.POSITIVE, category="helping_others"),
        version=None,
        actor=Actor(world.head_a.id),
        now=NOW,
    )
    warnings.compute_flags(world.session, NOW, [world.school_a.id])
    flag = flags_of(world)[FlagArea.BEHAVIOUR]
    assert flag.level == FlagLevel.WATCH
    assert flag.reasons == [
        {"id": "flag_negative_incidents", "values": {"count": 3, "days": 30, "limit": 3}}
    ]


def test_old_incidents_do_not_count(world):
    for day in (date(2026, 10, 20), date(2026, 11, 26), date(2026, 12, 2)):
        behaviour.save_incident(
            world.session,
            world.student_a9,
            None,
            incident_values(occurred_on=day),
            version=None,
            actor=Actor(world.head_a.id),
            now=NOW,
        )
    warnings.compute_flags(world.session, NOW, [world.school_a.id])
    assert FlagArea.BEHAVIOUR not in flags_of(world)


def test_low_rubric_two_months_running_is_at_risk(world):
    add_rubric(world, date(2026, 11, 1), hygiene=1)
    warnings.compute_flags(world.session, NOW, [world.school_a.id])
    assert flags_of(world)[FlagArea.BEHAVIOUR].level == FlagLevel.WATCH

    add_rubric(world, date(2026, 12, 1), hygiene=1, punctuality=1)
    warnings.compute_flags(world.session, NOW, [world.school_a.id])
    flag = flags_of(world)[FlagArea.BEHAVIOUR]
    assert flag.level == FlagLevel.AT_RISK
    assert [reason["id"] for reason in flag.reasons] == [
        "flag_low_rubric",
        "flag_low_rubric_repeated",
    ]
    assert flag.reasons[0]["values"]["areas"] == ["punctuality", "hygiene"]
    assert warnings.reason_text(flag.reasons[0], "en") == (
        "Behaviour rubric of 12/2026: level 1 or below in Punctuality, Personal hygiene."
    )


def publish(w, subject_code, window, marks, max_marks=Decimal(100), pass_marks=Decimal(33)):
    sheet = ResultSheet(
        section_id=w.section_a9.id,
        subject_id=w.subjects[subject_code].id,
        exam_window_id=window.id,
        max_marks=max_marks,
        pass_marks=pass_marks,
        step=Decimal(1),
        state=SheetState.PUBLISHED,
        published_version=1,
        created_at=NOW,
        updated_at=NOW,
    )
    w.session.add(sheet)
    w.session.flush()
    w.session.add(
        PublishedMark(
            sheet_id=sheet.id,
            version=1,
            student_id=w.student_a9.id,
            status=MarkStatus.ENTERED,
            marks=Decimal(marks),
            published_at=NOW,
        )
    )
    w.session.flush()


def exam(w, name, first, last):
    return calendar.save_exam_window(
        w.session,
        w.year,
        None,
        {
            "kind": ExamKind.MONTHLY_ASSESSMENT,
            "name_en": name,
            "name_ur": "جائزہ",
            "starts_on": first,
            "ends_on": last,
        },
        version=None,
        actor=SYSTEM,
        now=NOW,
    )


def test_failed_core_subject_is_at_risk(world):
    september = exam(world, "September test", date(2026, 9, 21), date(2026, 9, 26))
    publish(world, "MATH", september, 30)
    publish(world, "PHY", september, 20)  # not a core subject
    warnings.compute_flags(world.session, NOW, [world.school_a.id])
    flag = flags_of(world)[FlagArea.COURSE]
    assert flag.level == FlagLevel.AT_RISK
    assert [reason["values"]["subject"]["en"] for reason in flag.reasons] == ["Mathematics"]
    assert warnings.reason_text(flag.reasons[0], "en") == (
        "Mathematics: 30 of 100 in September test, below the pass marks of 33."
    )


def test_drop_between_exams_is_a_watch(world):
    september = exam(world, "September test", date(2026, 9, 21), date(2026, 9, 26))
    october = exam(world, "October test", date(2026, 10, 26), date(2026, 10, 31))
    publish(world, "ENG", september, 72)
    publish(world, "ENG", october, 62)
    publish(world, "URDU", september, 72)
    publish(world, "URDU", october, 63)  # 9 points lower: no flag
    warnings.compute_flags(world.session, NOW, [world.school_a.id])
    flag = flags_of(world)[FlagArea.COURSE]
    assert flag.level == FlagLevel.WATCH
    assert flag.reasons == [
        {
            "id": "flag_marks_drop",
            "values": {
                "subject": {"en": "English", "ur": "انگریزی"},
                "before": "72",
                "after": "62",
                "drop": "10",
                "exam_before": {"en": "September test", "ur": "جائزہ"},
                "exam_after": {"en": "October test", "ur": "جائزہ"},
            },
        }
    ]


def test_recompute_one_student_leaves_others(world):
    other = world.admit(world.section_a9, "A906", "Rabia Gul", "رابعہ گل")
    world.session.flush()
    days = ten_days(world)
    mark_days(world, days, absent=days[:3])
    mark_days(world, days, absent=days[:3], student=other)
    warnings.compute_flags(world.session, NOW, [world.school_a.id])
    assert FlagArea.ATTENDANCE in flags_of(world, other)
    result = warnings.compute_flags(
        world.session, NOW, [world.school_a.id], student_ids=[world.student_a9.id]
    )
    assert (result.students, result.resolved) == (1, 0)
    assert FlagArea.ATTENDANCE in flags_of(world, other)


def test_flag_rows_at_risk_first(world):
    other = world.admit(world.section_a9, "A907", "Adeel Khan", "عدیل خان")
    world.session.flush()
    days = ten_days(world)
    mark_days(world, days, absent=days[:2], student=other)
    mark_days(world, days, absent=days[:3])
    warnings.compute_flags(world.session, NOW, [world.school_a.id])
    rows = warnings.flag_rows(world.session, school_id=world.school_a.id)
    assert [(r.student.id, r.flag.level) for r in rows] == [
        (world.student_a9.id, FlagLevel.AT_RISK),
        (other.id, FlagLevel.WATCH),
    ]
    assert rows[0].section.id == world.section_a9.id


# Plans.


def plan_values(w, **extra) -> dict:
    values = {
        "goal": "Attend every day this month.",
        "actions": "Daily check-in with the class teacher; call the father on each absence.",
        "owner_id": w.class_teacher_a9.id,
        "parent_consent": True,
        "parent_consent_on": date(2026, 12, 3),
        "review_on": date(2026, 12, 15),
    }
    values.update(extra)
    return values


def review_task_of(w, review) -> Task | None:
    w.session.refresh(review)
    return w.session.get(Task, review.task_id) if review.task_id else None


def test_plan_from_flag_opens_review_task_when_due(bw):
    w = bw
    days = ten_days(w)
    mark_days(w, days, absent=days[:3])
    warnings.compute_flags(w.session, NOW, [w.school_a.id])
    flag = flags_of(w)[FlagArea.ATTENDANCE]
    plan = plans.create_plan(
        w.session, w.student_a9, plan_values(w), flag_id=flag.id, actor=Actor(w.head_a.id), now=NOW
    )
    [review] = plan.reviews
    assert review.due_on == date(2026, 12, 15)
    assert review.task_id is None  # opens two school days before 15 December

    # Two school days before Tuesday 15 December: Saturday 12 December (Sunday is off).
    assert plans.open_due_reviews(w.session, local(2026, 12, 11, 0, 45)) == 0
    assert plans.open_due_reviews(w.session, local(2026, 12, 12, 0, 45)) == 1
    assert plans.open_due_reviews(w.session, local(2026, 12, 12, 0, 45)) == 0
    task = review_task_of(w, review)
    assert (task.kind, task.assignee_id, task.opens_on, task.due_on) == (
        CycleKind.INTERVENTION_REVIEW,
        w.class_teacher_a9.id,
        date(2026, 12, 12),
        date(2026, 12, 15),
    )
    assert (task.target_type, task.target_id, task.section_id) == (
        "intervention_review",
        review.id,
        w.section_a9.id,
    )


def test_plan_checks(bw):
    w = bw
    for change, field in (
        ({"owner_id": w.teacher_b9.id}, "owner_id"),
        ({"review_on": date(2026, 12, 1)}, "review_on"),
        ({"parent_consent_on": None}, "parent_consent_on"),
        ({"parent_consent_on": date(2026, 12, 10)}, "parent_consent_on"),
    ):
        with pytest.raises(InvalidInput) as refused:
            plans.create_plan(
                w.session,
                w.student_a9,
                plan_values(w, **change),
                flag_id=None,
                actor=Actor(w.head_a.id),
                now=NOW,
            )
        assert field in refused.value.field_errors


def test_review_recorded_then_next_review(bw):
    w = bw
    plan = plans.create_plan(
        w.session,
        w.student_a9,
        plan_values(w, review_on=date(2026, 12, 5)),
        flag_id=None,
        actor=Actor(w.head_a.id),
        now=NOW,
    )
    [review] = plan.reviews
    task = review_task_of(w, review)
    assert (
        task is not None and task.is_pending
    )  # the review is due tomorrow: its task opened at once

    plans.record_review(
        w.session,
        review,
        {
            "progress": "Two absences in two weeks, down from five.",
            "flag_resolved": False,
            "close_plan": False,
            "next_review_on": date(2026, 12, 19),
        },
        actor=Actor(w.class_teacher_a9.id),
        now=local(2026, 12, 5, 11, 0),
    )
    w.session.refresh(plan)
    assert task.state == TaskState.APPROVED
    assert plan.review_on == date(2026, 12, 19)
    assert [(r.due_on, r.reviewed_at is not None) for r in plan.reviews] == [
        (date(2026, 12, 5), True),
        (date(2026, 12, 19), False),
    ]
    with pytest.raises(Locked):
        plans.record_review(
            w.session,
            review,
            {"progress": "again", "close_plan": True},
            actor=Actor(w.head_a.id),
            now=NOW,
        )


def test_review_closes_plan(bw):
    w = bw
    plan = plans.create_plan(
        w.session, w.student_a9, plan_values(w), flag_id=None, actor=Actor(w.head_a.id), now=NOW
    )
    [review] = plan.reviews
    plans.record_review(
        w.session,
        review,
        {
            "progress": "Attended every day.",
            "flag_resolved": True,
            "close_plan": True,
            "next_review_on": None,
        },
        actor=Actor(w.head_a.id),
        now=NOW,
    )
    assert (plan.state, plan.closed_at) == (PlanState.CLOSED, NOW)
    assert review.flag_resolved is True
    with pytest.raises(Locked):
        plans.update_plan(
            w.session, plan, plan_values(w), version=plan.version, actor=Actor(w.head_a.id), now=NOW
        )


def test_review_needs_next_date_unless_closing(bw):
    w = bw
    plan = plans.create_plan(
        w.session, w.student_a9, plan_values(w), flag_id=None, actor=Actor(w.head_a.id), now=NOW
    )
    with pytest.raises(InvalidInput):
        plans.record_review(
            w.session,
            plan.reviews[0],
            {"progress": "Some", "close_plan": False, "next_review_on": None},
            actor=Actor(w.head_a.id),
            now=NOW,
        )


def test_plan_reschedule_moves_review_task(bw):
    w = bw
    plan = plans.create_plan(
        w.session,
        w.student_a9,
        plan_values(w, review_on=date(2026, 12, 5)),
        flag_id=None,
        actor=Actor(w.head_a.id),
        now=NOW,
    )
    old_task = review_task_of(w, plan.reviews[0])

    plans.update_plan(
        w.session,
        plan,
        plan_values(w, review_on=date(2026, 12, 7), owner_id=w.head_a.id),
        version=plan.version,
        actor=Actor(w.head_a.id),
        now=NOW,
    )
    w.session.expire_all()
    [review] = plan.reviews
    assert review.due_on == date(2026, 12, 7)
    task = review_task_of(w, review)
    # The same task, moved: two school days before Monday 7 December is Friday 4 December.
    assert task.id == old_task.id
    assert (task.state, task.assignee_id, task.opens_on, task.due_on) == (
        TaskState.OPEN,
        w.head_a.id,
        date(2026, 12, 4),
        date(2026, 12, 7),
    )
    assert task.next_reminder_at == local(2026, 12, 5, 8, 0)
