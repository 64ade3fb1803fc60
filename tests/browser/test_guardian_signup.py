"""A guardian signs up with an invitation code, reads a published result in Urdu and replies."""

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from builders import PASSWORD, SYSTEM
from conftest import ROOT
from sqlalchemy import select

from spets.models import ExamKind, Guardian, OutboxMessage, Student, Task, ThreadMessage, User
from spets.services import calendar, cycles, guardians, results, threads
from spets.services.audit import Actor

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"
KARACHI = ZoneInfo("Asia/Karachi")


@pytest.fixture(scope="module")
def invitation(live_world):
    """Publish Ayesha's maths mark (23 of 25), let her teacher write, and invite her father."""
    with live_world["factory"]() as session, session.begin():
        student = session.get(Student, live_world["ids"]["student_a9"])
        tenant = student.school.parent
        while tenant.parent is not None:
            tenant = tenant.parent
        now = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
        year = calendar.current_year(session, tenant.id, calendar.local_today(now))
        calendar.save_exam_window(
            session,
            year,
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
            now=now,
        )
        cycles.add_result_entry_definition(session, tenant, actor=SYSTEM, now=now)
        cycles.tick(session, datetime(2026, 11, 2, 0, 15, tzinfo=KARACHI).astimezone(UTC))
        task = session.scalars(select(Task).where(Task.school_id == student.school_id)).one()
        sheet = results.sheet_for_task(session, task, now)
        teacher = Actor(task.assignee_id)
        typed = {row.student.id: "23" for row in results.roll(session, sheet)}
        results.save_marks(session, sheet, typed, lock_version=None, actor=teacher, now=now)
        results.submit_sheet(session, sheet, actor=teacher, now=now)
        head = session.scalar(select(User).where(User.username == "head.a"))
        results.verify_sheet(session, sheet, actor=Actor(head.id), now=now)
        results.publish_sheet(session, sheet, actor=Actor(head.id), now=now)

        guardian = session.scalar(select(Guardian).where(Guardian.cnic == "36302-2222222-2"))
        class_teacher = session.scalar(select(User).where(User.username == "class.a9"))
        thread = threads.start_thread(
            session,
            student=student,
            guardian_id=guardian.id,
            staff_id=class_teacher.id,
            author=class_teacher,
            subject="ریاضی کا ہوم ورک",
            body="عائشہ نے کسور پر اچھا کام کیا۔",
            now=now,
        )
        issued = guardians.issue_invitation(session, guardian, actor=SYSTEM, now=now)
        return {"code": issued.printed_code, "thread_id": thread.id, "student_id": student.id}


def one_time_code(live_world) -> str:
    with live_world["factory"]() as session:
        body = session.scalar(
            select(OutboxMessage.body)
            .where(OutboxMessage.key.like("one-time-code:%"))
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    return re.search(r"\d{6}", body).group(0)


def test_guardian_signs_up_reads_result_and_replies(page, live_server, live_world, invitation):
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone

    # Step 1: the invitation code and the mobile number, on an Urdu page by default.
    page.goto(f"{live_server}/signup")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("document.documentElement.lang") == "ur"
    page.fill("input[name=code]", invitation["code"])
    page.fill("input[name=phone]", "0300-1234567")
    page.click("button[name=save]")
    page.wait_for_url(f"{live_server}/signup/verify")
    assert "0300-1234567" in page.inner_text("#signup-intro")

    # Step 2: the code from the SMS and a password.
    page.fill("input[name=otp]", one_time_code(live_world))
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password-confirm]", PASSWORD)
    page.screenshot(path=str(ARTIFACTS / "guardian-signup.png"), full_page=True)
    page.click("button[name=save]")
    page.wait_for_url(f"{live_server}/portal")

    # The published result, in Urdu.
    page.click(f"#child-{invitation['student_id']}")
    page.click("#tab-results")
    page.wait_for_url(re.compile(r".*/results$"))
    assert page.evaluate("document.documentElement.dir") == "rtl"
    table = page.inner_text(".results-table")
    assert "23 / 25" in table
    assert "ریاضی" in table
    assert "ماہانہ جائزہ (اکتوبر)" in page.inner_text("main")
    page.screenshot(path=str(ARTIFACTS / "guardian-results-urdu.png"), full_page=True)

    # Reply to the teacher's message.
    page.click("#tab-messages")
    page.click(f"a[href$='/portal/messages/{invitation['thread_id']}']")
    assert "عائشہ نے کسور پر اچھا کام کیا۔" in page.inner_text("#thread-messages")
    page.fill("textarea[name=body]", "شکریہ، ہم گھر پر مشق کروائیں گے۔")
    page.click("button[name=save]")
    page.wait_for_url(f"{live_server}/portal/messages/{invitation['thread_id']}")
    assert "شکریہ، ہم گھر پر مشق کروائیں گے۔" in page.inner_text("#thread-messages")
    page.screenshot(path=str(ARTIFACTS / "guardian-reply.png"), full_page=True)

    with live_world["factory"]() as session:
        bodies = session.scalars(
            select(ThreadMessage.body)
            .where(ThreadMessage.thread_id == invitation["thread_id"])
            .order_by(ThreadMessage.id)
        ).all()
    assert bodies[-1] == "شکریہ، ہم گھر پر مشق کروائیں گے۔"
