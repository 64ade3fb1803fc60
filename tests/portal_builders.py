"""Guardians and their results in the test world: sign-up, publication, the Aslam family."""

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from builders import PASSWORD, SYSTEM
from sqlalchemy import select

from spets.models import ExamKind, OutboxMessage, Relation, Task
from spets.services import calendar, cycles, guardians, org, people, portal, results
from spets.services.audit import Actor

KARACHI = ZoneInfo("Asia/Karachi")
ASLAM_PHONE = "+923001234567"


def otp_sent(session, one_time_code_id: int) -> str:
    body = session.scalar(
        select(OutboxMessage.body).where(
            OutboxMessage.key == f"one-time-code:{one_time_code_id}:sms"
        )
    )
    return re.search(r"\d{6}", body).group(0)


def sign_up(session, guardian, phone, now, **extra):
    issued = guardians.issue_invitation(session, guardian, actor=SYSTEM, now=now)
    started = guardians.start_signup(
        session, issued.code, phone, client_addr=None, locale="ur", now=now
    )
    otp = otp_sent(session, started.one_time_code_id)
    return guardians.complete_signup(
        session, started, otp, PASSWORD, client_addr=None, now=now, **extra
    )


def publish(world, task, typed_value: str, head):
    sheet = results.sheet_for_task(world.session, task, world.now)
    teacher = Actor(task.assignee_id)
    typed = {row.student.id: typed_value for row in results.roll(world.session, sheet)}
    results.save_marks(world.session, sheet, typed, lock_version=None, actor=teacher, now=world.now)
    if head is None:
        return sheet
    results.submit_sheet(world.session, sheet, actor=teacher, now=world.now)
    results.verify_sheet(world.session, sheet, actor=Actor(head.id), now=world.now)
    results.publish_sheet(world.session, sheet, actor=Actor(head.id), now=world.now)
    return sheet


def build_family(world):
    """Muhammad Aslam, father of Ayesha (school A) and Zainab (school B), with an account.

    Both schools published a monthly assessment: Ayesha's maths 23 and Zainab's English 19
    out of 25. Ayesha's Urdu sheet holds 13.5 but is a draft, never published.
    """
    w = world
    portal.RESULTS_CACHE.clear()
    w.zainab = w.admit(w.section_b9, "B902", "Zainab Aslam", "زینب اسلم")
    people.add_guardian(
        w.session,
        w.zainab,
        {"name_en": "Muhammad Aslam", "cnic": "36302-2222222-2", "relation": Relation.FATHER},
        actor=SYSTEM,
        now=w.now,
    )
    w.aslam = w.guardian_link_a9.guardian
    calendar.save_exam_window(
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
    for section, subject, teacher in (
        (w.section_b9, "ENG", w.teacher_b9),
        (w.section_a9, "URDU", w.class_teacher_a9),
    ):
        org.assign_teacher(
            w.session,
            section=section,
            subject=w.subjects[subject],
            teacher=teacher,
            starts_on=w.year.starts_on,
            actor=SYSTEM,
            now=w.now,
        )
    cycles.tick(w.session, datetime(2026, 11, 2, 0, 15, tzinfo=KARACHI).astimezone(UTC))
    task_of = {
        (task.section_id, task.subject_id): task
        for task in w.session.scalars(select(Task).where(Task.kind == "result_entry"))
    }
    w.maths_sheet = publish(w, task_of[(w.section_a9.id, w.subjects["MATH"].id)], "23", w.head_a)
    publish(w, task_of[(w.section_b9.id, w.subjects["ENG"].id)], "19", w.head_b)
    publish(w, task_of[(w.section_a9.id, w.subjects["URDU"].id)], "13.5", None)
    w.aslam_user = sign_up(w.session, w.aslam, ASLAM_PHONE, w.now)
    w.session.flush()
    return w
