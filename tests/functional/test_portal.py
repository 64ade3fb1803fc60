"""The parent portal through the web: sign-up, children in two schools, published results only,
the results cache, messages shown as text everywhere, PTM bookings, corrections, broadcasts.
"""

import csv
import io
import re
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from builders import PASSWORD, SYSTEM
from helpers import count_statements
from portal_builders import KARACHI, build_family, sign_up
from sqlalchemy import func, select

from spets.models import (
    Channel,
    FamilyCorrection,
    Finding,
    MessageThread,
    OutboxMessage,
    Relation,
    ResultSheet,
    RoleAssignment,
    StudentGuardian,
    Task,
    ThreadMessage,
    User,
)
from spets.models.ptm import BookingState, PtmAttendance, PtmBooking, PtmSlot
from spets.services import (
    attendance,
    behaviour,
    cycles,
    guardians,
    health,
    messaging,
    people,
    portal,
    ptm,
    results,
    tasks,
    threads,
)
from spets.services.audit import Actor
from spets.services.messaging import FileSmsSender, InAppSender, Senders, SmtpSender

ASLAM_USERNAME = "03001234567"


@pytest.fixture(autouse=True)
def empty_portal_caches():
    """Each test rolls back, so ids repeat between tests; the caches must not carry over."""
    portal.RESULTS_CACHE.clear()
    portal.CHILDREN_CACHE.clear()
    yield
    portal.RESULTS_CACHE.clear()
    portal.CHILDREN_CACHE.clear()


@pytest.fixture
def family(world):
    """Muhammad Aslam, father of Ayesha (school A) and Zainab (school B), with an account."""
    return build_family(world)


def guardian_login(testapp, username=ASLAM_USERNAME):
    return testapp.login(username)


# Children and results.


def test_guardian_lands_on_portal_with_both_children(testapp, family):
    guardian_login(testapp)
    assert testapp.get("/", status=302).location.endswith("/portal")
    page = testapp.get("/portal")
    assert '<html lang="ur" dir="rtl"' in page.text
    assert "عائشہ خان" in page.text
    assert "زینب اسلم" in page.text
    assert "فاطمہ نور" not in page.text and "Fatima" not in page.text
    assert f"/portal/children/{family.student_a9.id}" in page.text
    assert f"/portal/children/{family.zainab.id}" in page.text


def test_results_of_both_schools(testapp, family):
    guardian_login(testapp)
    ayesha = testapp.get(f"/portal/children/{family.student_a9.id}/results")
    assert "23 / 25" in ayesha.text
    assert "ریاضی" in ayesha.text  # Mathematics, in Urdu
    zainab = testapp.get(f"/portal/children/{family.zainab.id}/results")
    assert "19 / 25" in zainab.text
    assert "23 / 25" not in zainab.text


def pdf_text(body: bytes, tmp_path: Path) -> str:
    path = tmp_path / "card.pdf"
    path.write_bytes(body)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    ).stdout.decode("utf-8")


@pytest.mark.parametrize("stage", ["draft", "verified"])
def test_unpublished_marks_never_appear(testapp, family, tmp_path, stage):
    if stage == "verified":
        urdu_sheet = family.session.scalars(
            select(ResultSheet).where(
                ResultSheet.subject_id == family.subjects["URDU"].id,
                ResultSheet.section_id == family.section_a9.id,
            )
        ).one()
        teacher = Actor(family.class_teacher_a9.id)  # the Urdu teacher of 9-A
        results.submit_sheet(family.session, urdu_sheet, actor=teacher, now=family.now)
        results.verify_sheet(
            family.session, urdu_sheet, actor=Actor(family.head_a.id), now=family.now
        )
        family.session.flush()
    guardian_login(testapp)
    student = family.student_a9.id
    pages = [
        testapp.get(f"/portal/children/{student}"),
        testapp.get(f"/portal/children/{student}/results"),
        testapp.get(f"/portal/children/{student}/feedback"),
    ]
    for page in pages:
        assert "13.5" not in page.text
        assert "13٫5" not in page.text
        assert "23 / 25" in page.text or page.request.path.endswith("/feedback")
    card = testapp.get(f"/portal/children/{student}/report-card.pdf?term=year&lang=en")
    assert card.content_type == "application/pdf"
    text = pdf_text(card.body, tmp_path)
    assert "23" in text
    assert "13.5" not in text


def test_amended_mark_shown_at_once(testapp, family, wsgi_app):
    """The rendered page and the results cache never serve a mark an approved amendment
    replaced."""
    pages = wsgi_app.registry["spets.results_page_cache"]
    guardian_login(testapp)
    url = f"/portal/children/{family.student_a9.id}/results"
    assert "23 / 25" in testapp.get(url).text
    hits = pages.hits
    assert "23 / 25" in testapp.get(url).text
    assert pages.hits == hits + 1

    amendment = results.request_amendment(
        family.session,
        family.maths_sheet,
        family.student_a9.id,
        "24",
        "The marks were added up wrongly.",
        actor=Actor(family.subject_teacher_a9.id),
        now=family.now,
    )
    after_request = testapp.get(url).text
    assert "23 / 25" in after_request  # a requested amendment is not published yet
    assert pages.hits == hits + 2
    results.decide_amendment(
        family.session, amendment, True, "", actor=Actor(family.head_a.id), now=family.now
    )
    family.session.flush()
    page = testapp.get(url).text
    assert "24 / 25" in page
    assert "23 / 25" not in page
    assert pages.hits == hits + 2


def test_results_page_in_english(testapp, family):
    family.aslam_user.locale = "en"
    family.session.flush()
    guardian_login(testapp)
    page = testapp.get(f"/portal/children/{family.student_a9.id}/results")
    assert "Monthly assessment (October)" in page.text
    assert "Mathematics" in page.text


# Messages.

SCRIPT = "<script>alert('x')</script>"


def write_to_teacher(testapp, family, body=SCRIPT + " =1+2", subject="Question " + SCRIPT):
    page = testapp.get(f"/portal/children/{family.student_a9.id}/messages/new")
    form = page.forms["record-form"]
    form["staff_id"] = str(family.class_teacher_a9.id)
    form["subject"] = subject
    form["body"] = body
    response = form.submit("save", status=302)
    return int(response.location.rstrip("/").rsplit("/", 1)[1])


def test_script_tag_shows_as_text_on_every_page(testapp, family):
    guardian_login(testapp)
    thread_id = write_to_teacher(testapp, family)
    guardian_pages = [
        testapp.get(f"/portal/messages/{thread_id}"),
        testapp.get(f"/portal/children/{family.student_a9.id}/messages"),
        testapp.get(f"/portal/children/{family.student_a9.id}"),
    ]
    testapp.login("class.a9")
    staff_pages = [
        testapp.get(f"/messages/{thread_id}"),
        testapp.get("/messages"),
        testapp.get(f"/students/{family.student_a9.id}/messages"),
        testapp.get(f"/students/{family.student_a9.id}"),
    ]
    for page in guardian_pages + staff_pages:
        assert "<script>alert" not in page.text, page.request.path
        assert "&lt;script&gt;alert(" in page.text, page.request.path


def test_thread_csv_export_is_text(testapp, family):
    guardian_login(testapp)
    thread_id = write_to_teacher(testapp, family, body='=HYPERLINK("http://x") ' + SCRIPT)
    for url in (f"/portal/messages/{thread_id}/export.csv",):
        response = testapp.get(url)
        assert response.content_type == "text/csv"
        rows = list(csv.reader(io.StringIO(response.body.decode("utf-8-sig"))))
        assert rows[1][2] == '\'=HYPERLINK("http://x") ' + SCRIPT
    testapp.login("class.a9")
    rows = list(
        csv.reader(
            io.StringIO(testapp.get(f"/messages/{thread_id}/export.csv").body.decode("utf-8-sig"))
        )
    )
    assert rows[1][2].startswith("'=HYPERLINK")


def test_message_email_is_plain_text_and_sms_has_no_text(
    testapp, family, session_factory, smtp_server, tmp_path
):
    family.class_teacher_a9.email = "class.a9@school.example"
    family.session.flush()
    guardian_login(testapp)
    thread_id = write_to_teacher(testapp, family, body=SCRIPT + " She has asthma.")
    testapp.login("class.a9")
    page = testapp.get(f"/messages/{thread_id}")
    form = page.forms["record-form"]
    form["body"] = "Please bring the asthma inhaler on Monday."
    form.submit("save", status=302)

    senders = Senders(
        {
            Channel.EMAIL: SmtpSender(host="127.0.0.1", port=smtp_server.port),
            Channel.SMS: FileSmsSender(tmp_path / "sms"),
            Channel.IN_APP: InAppSender(),
        }
    )
    messaging.deliver_pending(session_factory, senders, family.now)
    emails = [m for m in smtp_server.messages if m["To"] == "class.a9@school.example"]
    assert len(emails) == 1
    assert emails[0].get_content_type() == "text/plain"
    assert SCRIPT in emails[0].get_content()

    sms_files = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "sms").iterdir()}
    to_guardian = [
        text for text in sms_files.values() if "thread-message" in text and "923001234567" in text
    ]
    assert len(to_guardian) == 1
    assert "asthma" not in to_guardian[0] and "inhaler" not in to_guardian[0]
    assert f"/m/{thread_id}" in to_guardian[0]
    for text in sms_files.values():
        assert "script" not in text and "asthma" not in text

    # A second delivery run sends nothing again.
    again = messaging.deliver_pending(session_factory, senders, family.now)
    assert again.sent == {}
    assert len([m for m in smtp_server.messages if m["To"] == "class.a9@school.example"]) == 1
    assert len(list((tmp_path / "sms").iterdir())) == len(sms_files)


def test_short_link_opens_thread_on_each_side(testapp, family):
    guardian_login(testapp)
    thread_id = write_to_teacher(testapp, family, body="Hello")
    assert testapp.get(f"/m/{thread_id}", status=302).location.endswith(
        f"/portal/messages/{thread_id}"
    )
    testapp.login("class.a9")
    assert testapp.get(f"/m/{thread_id}", status=302).location.endswith(f"/messages/{thread_id}")
    testapp.app.reset()
    assert "/login?came_from=" in testapp.get(f"/m/{thread_id}", status=302).location


def test_reading_marks_messages_read(testapp, family):
    guardian_login(testapp)
    thread_id = write_to_teacher(testapp, family, body="Hello")
    testapp.login("class.a9")
    testapp.get(f"/messages/{thread_id}")
    read = family.session.scalar(
        select(ThreadMessage.read_at).where(ThreadMessage.thread_id == thread_id)
    )
    assert read is not None
    guardian_login(testapp)
    assert 'class="read-mark"' in testapp.get(f"/portal/messages/{thread_id}").text


def test_message_flood_refused_with_time(testapp, family):
    guardian_login(testapp)
    thread_id = write_to_teacher(testapp, family, body="1")
    for number in range(2, 6):
        page = testapp.get(f"/portal/messages/{thread_id}")
        form = page.forms["record-form"]
        form["body"] = str(number)
        form.submit("save", status=302)
    page = testapp.get(f"/portal/messages/{thread_id}")
    form = page.forms["record-form"]
    form["body"] = "6"
    refused = form.submit("save", status=200)
    assert "10:10" in refused.text
    count = family.session.scalar(
        select(func.count()).select_from(ThreadMessage).where(ThreadMessage.thread_id == thread_id)
    )
    assert count == 5


# Sign-up through the web.


def test_signup_through_web(testapp, world):
    guardian = world.guardian_link_b9.guardian
    guardian.phone = "+923009998877"
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=world.now)
    world.session.flush()
    testapp.app.reset()
    page = testapp.get("/signup")
    assert '<html lang="ur" dir="rtl"' in page.text
    form = page.forms["record-form"]
    form["code"] = issued.printed_code.lower()
    form["phone"] = "0300-9998877"
    response = form.submit("save", status=302)
    assert response.location.endswith("/signup/verify")
    verify = response.follow()
    assert "0300-9998877" in verify.text
    one_time_code = world.session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.key.like("one-time-code:%"), OutboxMessage.address == "+923009998877"
        )
    )
    otp = re.search(r"\d{6}", one_time_code.body).group(0)
    form = verify.forms["record-form"]
    form["otp"] = otp
    form["password"] = PASSWORD
    form["password-confirm"] = PASSWORD
    done = form.submit("save", status=302)
    assert done.location.endswith("/portal")
    assert "فاطمہ نور" in testapp.get("/").follow().text
    child = done.follow()
    assert "فاطمہ نور" in child.text
    assert (
        testapp.get(f"/portal/children/{world.student_a9.id}", expect_errors=True).status_int == 404
    )


def test_signup_through_web_refuses_other_phone(testapp, world):
    """A code for a guardian on record as 0300-1234567 cannot be sent to another number."""
    guardian = world.guardian_link_a9.guardian
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=world.now)
    world.session.flush()
    testapp.app.reset()
    testapp.app.set_cookie("spets_locale", "en")
    form = testapp.get("/signup").forms["record-form"]
    form["code"] = issued.printed_code
    form["phone"] = "0314-6643424"
    response = form.submit("save", status=200)
    assert "Your mobile number must be the number the school has on record" in response.text
    assert "ends in 567" in response.text
    assert "1234567" not in response.text
    assert (
        world.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.key.like("one-time-code:%"))
        )
        == 0
    )
    assert testapp.get("/signup/verify", status=302).location.endswith("/signup")
    assert world.session.scalar(select(User.id).where(User.username == "03146643424")) is None

    form = response.forms["record-form"]
    form["code"] = issued.printed_code
    form["phone"] = "0300-1234567"
    verify = form.submit("save", status=302).follow()
    assert "0300-1234567" in verify.text


def test_signup_wrong_codes_limited_without_hint(testapp, family):
    """Wrong codes lock the phone with one clear message, the same for a registered number."""
    texts = {}
    for phone in ("0300-1234567", "0311-2223334"):  # the first is registered
        testapp.app.reset()
        statuses = []
        for attempt in range(6):
            page = testapp.get("/signup")
            form = page.forms["record-form"]
            form["code"] = f"WRONG-{attempt}{phone[-4:]}"
            form["phone"] = phone
            response = form.submit("save", expect_errors=True)
            statuses.append(response.status_int)
        assert statuses == [200, 200, 200, 200, 429, 429]
        texts[phone] = response.text.replace(phone, "PHONE").replace(f"{phone[-4:]}", "XXXX")
        assert "Too many wrong codes" in response.text or "بہت" in response.text
    first_error = re.search(r'class="alert alert-danger[^>]*>(.*?)</', texts["0300-1234567"], re.S)
    second_error = re.search(r'class="alert alert-danger[^>]*>(.*?)</', texts["0311-2223334"], re.S)
    assert (first_error and first_error.group(1)) == (second_error and second_error.group(1))


def test_signup_pages_public_and_verify_needs_first_step(testapp):
    testapp.app.reset()
    assert testapp.get("/signup").status_int == 200
    assert testapp.get("/signup/verify", status=302).location.endswith("/signup")


# Parent–teacher meetings.


def test_booking_conflict_answers_409(testapp, family):
    w = family
    ptm_day = ptm.save_day(
        w.session,
        unit=w.school_a,
        ptm_day=None,
        values={"day": date(2026, 12, 10), "name_en": "December PTM", "name_ur": "دسمبر کی میٹنگ"},
        version=None,
        actor=Actor(w.head_a.id),
        now=w.now,
    )
    ptm.open_slots(
        w.session,
        ptm_day=ptm_day,
        school=w.school_a,
        teacher=w.subject_teacher_a9,
        starts=datetime(2026, 1, 1, 9, 0).time(),
        ends=datetime(2026, 1, 1, 9, 20).time(),
        minutes=10,
        now=w.now,
    )
    sara = w.admit(w.section_a9, "A902", "Sara Bibi", "سارہ بی بی")
    amina = people.add_guardian(
        w.session,
        sara,
        {"name_en": "Amina Bibi", "phone": "+923007770000", "relation": Relation.MOTHER},
        actor=SYSTEM,
        now=w.now,
    ).guardian
    sign_up(w.session, amina, "+923007770000", w.now)
    slot = w.session.scalars(select(PtmSlot).order_by(PtmSlot.starts_at)).first()
    w.session.flush()

    guardian_login(testapp)
    page = testapp.get(f"/portal/children/{w.student_a9.id}/ptm")
    assert "09:00" in page.text
    testapp.post_with_csrf(
        f"/portal/children/{w.student_a9.id}/ptm/book", {"slot_id": slot.id}, status=302
    )
    guardian_login(testapp, "03007770000")
    conflict = testapp.post_with_csrf(
        f"/portal/children/{sara.id}/ptm/book", {"slot_id": slot.id}, status=409
    )
    assert "booking-error" in conflict.text
    confirmed = w.session.scalar(
        select(func.count()).where(
            PtmBooking.slot_id == slot.id, PtmBooking.state == BookingState.CONFIRMED
        )
    )
    assert confirmed == 1


# Corrections and broadcasts.


def test_correction_proposed_and_approved(testapp, family):
    guardian_login(testapp)
    page = testapp.get(f"/portal/children/{family.student_a9.id}/corrections/new")
    form = page.forms["record-form"]
    form["phone"] = "0333-5550000"
    form["note"] = "Our landline is gone."
    form.submit("save", status=302)
    correction = family.session.scalars(select(FamilyCorrection)).one()
    assert correction.changes["phone"]["after"] == "+923335550000"

    testapp.login("class.a9")
    listing = testapp.get("/corrections")
    assert f"/corrections/{correction.id}" in listing.text
    page = testapp.get(f"/corrections/{correction.id}")
    assert "0333-5550000" in page.text
    form = page.forms["record-form"]
    form["decision"] = "approve"
    form.submit("save", status=302)
    family.session.refresh(family.aslam)
    assert family.aslam.phone == "+923335550000"
    testapp.login("subject.a9")
    assert testapp.get(f"/corrections/{correction.id}", expect_errors=True).status_int == 403


def test_broadcast_read_receipts(testapp, family):
    testapp.login("class.a9")
    page = testapp.get(f"/sections/{family.section_a9.id}/broadcasts")
    form = page.forms["record-form"]
    form["subject"] = "Sports day"
    form["body"] = "Sports day is on Friday. " + SCRIPT
    broadcast_url = form.submit("save", status=302).location
    broadcast_id = int(broadcast_url.rsplit("/", 1)[1])
    view = testapp.get(broadcast_url)
    assert "&lt;script&gt;" in view.text
    assert "not read yet" in view.text

    guardian_login(testapp)
    opened = testapp.get(f"/b/{broadcast_id}", status=302)
    assert opened.location.endswith(f"/portal/broadcasts/{broadcast_id}")
    assert "&lt;script&gt;" in opened.follow().text

    testapp.login("class.a9")
    view = testapp.get(broadcast_url)
    assert "not read yet" not in view.text


def test_invitation_slips_printed_once(testapp, family):
    testapp.login("head.a")
    page = testapp.get(f"/sections/{family.section_a9.id}/guardian-accounts")
    assert "has an account" in page.text
    slips = testapp.post_with_csrf(f"/sections/{family.section_a9.id}/guardian-accounts", {})
    assert slips.headers["Cache-Control"] == "no-store"
    assert f'id="slip-{family.aslam.id}"' not in slips.text  # already has an account


def test_guardian_settings_switch_sms_script(testapp, family):
    guardian_login(testapp)
    page = testapp.get("/portal/settings")
    form = page.forms["record-form"]
    form["sms_script"] = "roman"
    form["locale"] = "en"
    form.submit("save", status=302)
    assert guardians.account_settings(family.session, family.aslam_user.id).sms_script == "roman"
    assert 'lang="en"' in testapp.get("/portal").text


def test_published_sheet_count_matches(family):
    published = family.session.scalar(
        select(func.count()).select_from(ResultSheet).where(ResultSheet.published_version > 0)
    )
    assert published == 2


# Every portal page, with something to show on each.


@pytest.fixture
def full_portal(family, clock):
    """The family after a PTM day with submitted minutes, a thread, a class message and a
    shared screening, each carrying a script tag in its free text. The clock stands on
    Monday 14 December 2026, after the PTM day."""
    w = family
    ptm_day = ptm.save_day(
        w.session,
        unit=w.school_a,
        ptm_day=None,
        values={"day": date(2026, 12, 10), "name_en": "December PTM", "name_ur": "دسمبر کی میٹنگ"},
        version=None,
        actor=Actor(w.head_a.id),
        now=w.now,
    )
    ptm.open_slots(
        w.session,
        ptm_day=ptm_day,
        school=w.school_a,
        teacher=w.subject_teacher_a9,
        starts=datetime(2026, 1, 1, 9, 0).time(),
        ends=datetime(2026, 1, 1, 9, 30).time(),
        minutes=10,
        now=w.now,
    )
    slot = w.session.scalars(select(PtmSlot).order_by(PtmSlot.starts_at)).first()
    booking = ptm.book(
        w.session,
        slot=slot,
        student=w.student_a9,
        guardian_id=w.aslam.id,
        user=w.aslam_user,
        now=w.now,
    )
    after_day = datetime(2026, 12, 11, 0, 20, tzinfo=KARACHI).astimezone(UTC)
    ptm.open_minutes_tasks(w.session, after_day)
    minutes_task = w.session.scalars(select(Task).where(Task.kind == "ptm_minutes")).one()
    ptm.save_minutes(
        w.session,
        minutes_task,
        [
            ptm.MinutesEntry(
                booking_id=booking.id,
                attendance=PtmAttendance.CAME,
                notes="Minutes " + SCRIPT,
                new_actions=[
                    {
                        "description": "Action " + SCRIPT,
                        "owner_id": w.subject_teacher_a9.id,
                        "due_on": date(2026, 12, 31),
                    }
                ],
            )
        ],
        actor=Actor(w.subject_teacher_a9.id),
        now=after_day,
        submit=True,
    )

    thread = threads.start_thread(
        w.session,
        student=w.student_a9,
        guardian_id=w.aslam.id,
        staff_id=w.class_teacher_a9.id,
        author=w.aslam_user,
        subject="Subject " + SCRIPT,
        body="Body " + SCRIPT,
        now=after_day,
    )
    threads.post_message(
        w.session, thread=thread, author=w.class_teacher_a9, body="Reply " + SCRIPT, now=after_day
    )
    w.broadcast = threads.send_broadcast(
        w.session,
        section=w.section_a9,
        author=w.class_teacher_a9,
        subject="Class " + SCRIPT,
        body="Class body " + SCRIPT,
        now=after_day,
    )
    screening = health.record_screening(
        w.session,
        w.student_a9,
        {
            "screened_on": date(2026, 11, 16),
            "height_cm": Decimal("140.0"),
            "weight_kg": Decimal("27.0"),
            "vision_left": "6/18",
            "vision_right": "6/6",
            "hearing": Finding.NORMAL,
            "dental": Finding.NEEDS_ATTENTION,
            "skin": Finding.NORMAL,
            "hygiene": Finding.NOT_CHECKED,
            "immunisation_card_seen": True,
            "note": "Staff note " + SCRIPT,
        },
        actor=Actor(w.class_teacher_a9.id),
        now=w.now,
    )
    screening.share_with_guardian = True
    w.session.flush()
    w.thread = thread
    clock.set(datetime(2026, 12, 14, 10, 0, tzinfo=KARACHI))
    return w


def portal_pages(w) -> dict[str, str]:
    child = f"/portal/children/{w.student_a9.id}"
    return {
        "home": "/portal",
        "child": child,
        "results": child + "/results",
        "feedback": child + "/feedback",
        "attendance": child + "/attendance",
        "health": child + "/health",
        "ptm": child + "/ptm",
        "messages": child + "/messages",
        "new message": child + "/messages/new",
        "correction": child + "/corrections/new",
        "thread": f"/portal/messages/{w.thread.id}",
        "broadcast": f"/portal/broadcasts/{w.broadcast.id}",
        "settings": "/portal/settings",
    }


# Pages whose content carries the fixture's free text, and the text each must show escaped.
ESCAPED_ON = {
    "child": "Subject &lt;script&gt;",
    "ptm": "Minutes &lt;script&gt;",
    "messages": "Class &lt;script&gt;",
    "thread": "Reply &lt;script&gt;",
    "broadcast": "Class body &lt;script&gt;",
}


@pytest.mark.parametrize("locale", ["ur", "en"])
def test_every_portal_page_renders(testapp, full_portal, locale):
    w = full_portal
    w.aslam_user.locale = locale
    w.session.flush()
    guardian_login(testapp)
    for name, url in portal_pages(w).items():
        page = testapp.get(url, status=200)
        assert f'lang="{locale}"' in page.text, name
        assert "<script>alert" not in page.text, name
        assert "Staff note" not in page.text, name
        if name in ESCAPED_ON:
            assert ESCAPED_ON[name] in page.text, name
    ptm_page = testapp.get(portal_pages(w)["ptm"]).text
    assert "Action &lt;script&gt;" in ptm_page
    health_page = testapp.get(portal_pages(w)["health"]).text
    assert "6/18" in health_page
    card = testapp.get(
        f"/portal/children/{w.student_a9.id}/report-card.pdf?term=year&lang={locale}", status=200
    )
    assert card.content_type == "application/pdf"


def test_attendance_and_approved_behaviour_shown(testapp, family):
    w = family
    attendance.add_attendance_definitions(w.session, w.tenant, actor=SYSTEM, now=w.now)
    cycles.tick(w.session, datetime(2026, 12, 1, 0, 15, tzinfo=KARACHI).astimezone(UTC))
    for day, rows in (
        (date(2026, 12, 2), []),
        (
            date(2026, 12, 3),
            [{"student_id": w.student_a9.id, "status": "absent", "leave_reason": ""}],
        ),
    ):
        attendance.save_register(
            w.session, w.section_a9, day, rows, version=None, actor=SYSTEM, now=w.now
        )
    rubric_task = w.session.scalars(
        select(Task).where(Task.kind == "behaviour_rubric", Task.section_id == w.section_a9.id)
    ).one()
    teacher = Actor(w.class_teacher_a9.id)
    levels = {"discipline": 1, "punctuality": 4, "cleanliness": 3, "hygiene": 2}
    behaviour.save_rubric_sheet(
        w.session,
        rubric_task,
        [{"student_id": w.student_a9.id, **levels, "note": "Teacher note " + SCRIPT}],
        version=rubric_task.version,
        actor=teacher,
        now=w.now,
        submit=True,
    )
    w.aslam_user.locale = "en"
    w.session.flush()
    url = f"/portal/children/{w.student_a9.id}/attendance"

    guardian_login(testapp)
    page = testapp.get(url)
    months = page.html.find(id="attendance-months")
    assert [cell.text for cell in months.find("tbody").find_all("td")] == [
        "12/2026",
        "1",
        "1",
        "0",
        "0",
    ]
    assert "50.0%" in page.html.find(id="attendance-percent").text
    assert "Needs help" not in page.text  # submitted, not yet approved by the head teacher

    tasks.approve_task(w.session, rubric_task, actor=Actor(w.head_a.id), now=w.now)
    w.session.flush()
    page = testapp.get(url)
    behaviour_card = page.html.find(id="behaviour-summary").text
    assert "1 · Needs help" in behaviour_card
    assert "4 · Excellent" in behaviour_card
    assert "Teacher note" not in page.text


def test_attendance_page_of_child_in_other_school(testapp, family):
    guardian_login(testapp)
    page = testapp.get(f"/portal/children/{family.zainab.id}/attendance")
    assert page.html.find(id="attendance-summary") is not None
    assert page.html.find(id="attendance-months") is None


def test_results_page_statements_fixed(testapp, family, connection):
    """Results day: a page rendered already costs the one statement of its check.

    A page rendered afresh costs the check, one statement each for the guardian, the child,
    the page's state, the marks and the grade scale, then the check again before the page
    is stored. These tests run without a change feed, which would replace that last check.
    """
    guardian_login(testapp)
    url = f"/portal/children/{family.student_a9.id}/results"
    testapp.get(f"/portal/children/{family.zainab.id}/results")  # fills the children's list

    uncached = count_statements(connection, lambda: testapp.get(url))
    cached = count_statements(connection, lambda: testapp.get(url))

    assert (uncached, cached) == (7, 1)


# The rendered results page, served again while its check finds nothing changed.


@pytest.fixture
def pages(wsgi_app):
    cache = wsgi_app.registry["spets.results_page_cache"]
    cache.clear()
    yield cache
    cache.clear()


def results_url(family) -> str:
    return f"/portal/children/{family.student_a9.id}/results"


def test_stored_page_sent_as_rendered(testapp, family, pages):
    guardian_login(testapp)
    first = testapp.get(results_url(family))
    hits = pages.hits
    again = testapp.get(results_url(family))

    assert pages.hits == hits + 1
    assert again.body == first.body
    assert again.content_type == "text/html"
    assert "Set-Cookie" not in again.headers


def test_stored_page_refused_after_unlink(testapp, family, pages):
    guardian_login(testapp)
    testapp.get(results_url(family))
    family.session.delete(family.guardian_link_a9)
    family.session.flush()

    testapp.get(results_url(family), status=404)


def test_stored_page_refused_disabled_account(testapp, family, pages):
    guardian_login(testapp)
    testapp.get(results_url(family))
    family.aslam_user.is_active = False
    family.session.flush()

    response = testapp.get(results_url(family), expect_errors=True)
    assert response.status_int in (302, 403)
    assert "23 / 25" not in response.text


def test_stored_page_refused_role_ended(testapp, family, pages):
    guardian_login(testapp)
    testapp.get(results_url(family))
    grant = family.session.scalar(
        select(RoleAssignment).where(RoleAssignment.user_id == family.aslam_user.id)
    )
    grant.valid_from = family.now.date() - timedelta(days=30)
    grant.valid_to = family.now.date() - timedelta(days=1)
    family.session.flush()

    response = testapp.get(results_url(family), expect_errors=True)
    assert response.status_int in (403, 404)
    assert "23 / 25" not in response.text


def test_new_message_updates_unread_badge(testapp, family, pages):
    guardian_login(testapp)
    thread_id = write_to_teacher(testapp, family, body="Hello")
    assert 'class="badge text-bg-danger ms-1"' not in testapp.get(results_url(family)).text
    thread = family.session.get(MessageThread, thread_id)
    staff = family.session.get(User, thread.staff_id)
    threads.post_message(family.session, thread, staff, "Please come on Monday.", now=family.now)
    family.session.flush()
    hits = pages.hits

    page = testapp.get(results_url(family))

    assert pages.hits == hits
    badge = page.html.find(id="tab-messages").find("span")
    assert badge is not None and badge.text == "1"


def test_language_switch_renders_again(testapp, family, pages):
    guardian_login(testapp)
    assert "Mathematics" not in testapp.get(results_url(family)).text  # Urdu by default
    testapp.post_with_csrf("/language", {"locale": "en", "came_from": results_url(family)})

    assert "Mathematics" in testapp.get(results_url(family)).text


def test_new_child_in_switcher_at_once(testapp, family, pages):
    guardian_login(testapp)
    testapp.get(results_url(family))
    sibling = family.admit(family.section_a9, "A977", "Bilal Aslam", "بلال اسلم")
    family.session.add(
        StudentGuardian(
            student_id=sibling.id,
            guardian_id=family.aslam.id,
            relation=Relation.FATHER,
            is_primary=False,
        )
    )
    family.session.flush()  # directly, so nothing clears the switcher's cached list

    page = testapp.get(results_url(family))

    assert "بلال اسلم" in page.text


def test_new_session_gets_own_page(testapp, family, pages):
    """A page carries its session's CSRF token, so another sign-in never gets it."""
    guardian_login(testapp)
    first = testapp.get(results_url(family))
    guardian_login(testapp)
    hits = pages.hits

    second = testapp.get(results_url(family))

    assert pages.hits == hits
    token = re.search(r'name="csrf_token" value="([^"]+)"', second.text)[1]
    assert token not in first.text


def test_other_family_never_served(testapp, family, pages):
    noor = family.guardian_link_b9.guardian
    noor.phone = "+923005556666"
    sign_up(family.session, noor, noor.phone, family.now)
    family.session.flush()
    guardian_login(testapp)
    testapp.get(results_url(family))
    guardian_login(testapp, "03005556666")

    testapp.get(results_url(family), status=404)


def test_page_check_on_connection(family, connection):
    """The statement the tween runs outside the request, read here on a plain Connection."""
    user_id, student_id = family.aslam_user.id, family.student_a9.id
    check = portal.check_results_page(connection, user_id, student_id, family.now.date())
    other = portal.check_results_page(connection, user_id, family.student_b9.id, family.now.date())

    assert check.may_read
    assert not other.may_read
    assert check.tenant_id == family.tenant.id
    assert check.page_inputs[1] == "ur"
