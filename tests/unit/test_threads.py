"""Threads, broadcasts, flood limits, notifications and the sizing of SMS."""

import csv
import io
from datetime import timedelta

import pytest
from builders import PASSWORD, SYSTEM
from sqlalchemy import select

from spets.i18n import translate
from spets.models import Channel, OutboxMessage, OutboxStatus, Relation, ThreadMessage, User
from spets.services import guardians, people, threads
from spets.services.errors import InvalidInput

PHONE = "+923001234567"


def sign_up(world, guardian, phone, now, **extra):
    import re

    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    started = guardians.start_signup(
        world.session, issued.code, phone, client_addr=None, locale="ur", now=now
    )
    body = world.session.scalar(
        select(OutboxMessage.body).where(
            OutboxMessage.key == f"one-time-code:{started.one_time_code_id}:sms"
        )
    )
    otp = re.search(r"\d{6}", body).group(0)
    return guardians.complete_signup(
        world.session, started, otp, PASSWORD, client_addr=None, now=now, **extra
    )


@pytest.fixture
def family(world, now):
    guardian = world.guardian_link_a9.guardian
    user = sign_up(world, guardian, PHONE, now)
    return guardian, user


def outbox(session, prefix: str) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.key.like(f"{prefix}%"))
            .order_by(OutboxMessage.id)
        )
    )


# SMS sizing.


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("{" * 80, "GSM-7", 160, 1),  # extension characters cost two septets
        ("{" * 81, "GSM-7", 162, 2),
        ("ب" * 70, "UCS-2", 70, 1),
        ("ب" * 71, "UCS-2", 71, 2),
        ("ب" * 134, "UCS-2", 134, 2),
        ("ب" * 135, "UCS-2", 135, 3),
        ("a" * 69 + "€", "GSM-7", 71, 1),
        ("a" * 69 + "😀", "UCS-2", 71, 2),  # outside the BMP: two UTF-16 code units
    ],
)
def test_sms_segments(text, encoding, units, segments):
    size = threads.measure_sms(text)
    assert (size.encoding, size.units, size.segments) == (encoding, units, segments)


def test_urdu_costs_more_segments_than_roman():
    roman = "Aap ke bachay ka naya result aa gaya hai. " * 3
    urdu = "آپ کے بچے کا نیا نتیجہ آ گیا ہے۔ " * 3
    assert threads.measure_sms(roman).segments == 1
    assert threads.measure_sms(urdu).segments == 2


def test_fit_sms_falls_back_to_shorter_text():
    link = "https://spets.example.pk/m/12345"
    long_text = "ب" * 60
    chosen = threads.fit_sms([f"{long_text} {link}", f"SPeTS: نیا پیغام: {link}", link])
    assert chosen == f"SPeTS: نیا پیغام: {link}"
    assert threads.measure_sms(chosen).segments == 1


@pytest.mark.parametrize("script", ["ur", "roman"])
@pytest.mark.parametrize("kind", ["new_message", "new_broadcast"])
def test_guardian_sms_fits_one_segment(script, kind):
    link = "http://127.0.0.1:6543/m/123456"
    text = threads.guardian_sms(kind, link, locale="ur", script=script)
    assert text.endswith(link)
    assert threads.measure_sms(text).segments == 1
    if script == "roman":
        assert threads.measure_sms(text).encoding == "GSM-7"
    else:
        # The sentence is whatever the Urdu catalogue contains now (English until translated).
        sentences = [translate(message, "ur") for message in threads.SMS_TEXTS[kind]]
        assert text in [f"{sentence} {link}" for sentence in sentences] + [link]


# The Urdu sentences proposed for the catalogue, so that their size is checked before
# the catalogue contains them.
URDU_SMS = {
    "sms_new_message": "SPeTS: اسکول سے نیا پیغام۔ پڑھیں:",
    "sms_new_message_short": "SPeTS: نیا پیغام:",
    "sms_new_broadcast": "SPeTS: کلاس ٹیچر کا پیغام۔ پڑھیں:",
    "sms_new_broadcast_short": "SPeTS: کلاس کا پیغام:",
}


@pytest.mark.parametrize("kind", ["new_message", "new_broadcast"])
def test_urdu_script_sms_is_ucs2_one_segment(kind, monkeypatch):
    monkeypatch.setattr(threads, "translate", lambda message, locale: URDU_SMS[str(message)])
    link = "https://spets.example.pk/m/1234567"
    text = threads.guardian_sms(kind, link, locale="ur", script="ur")
    long_sentence = URDU_SMS[str(threads.SMS_TEXTS[kind][0])]
    assert text == f"{long_sentence} {link}"
    assert threads.measure_sms(text).encoding == "UCS-2"
    assert threads.measure_sms(text).segments == 1


def test_guardian_sms_roman_is_latin():
    text = threads.guardian_sms("new_message", "http://x.pk/m/1", locale="ur", script="roman")
    assert "paigham" in text


# Threads.


def test_guardian_thread_notifies_staff(world, family, now):
    guardian, user = family
    world.subject_teacher_a9.email = "teacher@example.pk"
    world.subject_teacher_a9.phone = "+923331112222"
    thread = threads.start_thread(
        world.session,
        student=world.student_a9,
        guardian_id=guardian.id,
        staff_id=world.subject_teacher_a9.id,
        author=user,
        subject="Homework",
        body="<script>alert(1)</script> She has asthma.",
        now=now,
    )
    rows = {row.channel: row for row in outbox(world.session, "thread-message:")}
    assert set(rows) == {Channel.IN_APP, Channel.EMAIL, Channel.SMS}
    assert "<script>alert(1)</script>" in rows[Channel.EMAIL].body
    sms = rows[Channel.SMS].body
    assert "script" not in sms and "asthma" not in sms
    assert sms.endswith(f"/m/{thread.id}")


def test_staff_reply_sends_sms_without_text(world, family, now):
    guardian, user = family
    thread = threads.start_thread(
        world.session,
        student=world.student_a9,
        guardian_id=guardian.id,
        staff_id=world.class_teacher_a9.id,
        author=world.class_teacher_a9,
        subject="Attendance",
        body="Please call me about her asthma medicine.",
        now=now,
    )
    rows = outbox(world.session, "thread-message:")
    assert [row.channel for row in rows] == [Channel.SMS]
    sms = rows[0]
    assert sms.recipient_id == user.id and sms.address == PHONE
    assert sms.status == OutboxStatus.PENDING
    assert "asthma" not in sms.body and "medicine" not in sms.body
    assert sms.body.endswith(f"/m/{thread.id}")
    assert threads.measure_sms(sms.body).segments == 1


def test_staff_reply_emails_guardian_with_address(world, family, now):
    guardian, user = family
    user.email = "aslam@example.pk"
    threads.start_thread(
        world.session,
        student=world.student_a9,
        guardian_id=guardian.id,
        staff_id=world.class_teacher_a9.id,
        author=world.class_teacher_a9,
        subject="Attendance",
        body="<b>Come</b> on Monday.",
        now=now,
    )
    rows = outbox(world.session, "thread-message:")
    assert [row.channel for row in rows] == [Channel.EMAIL]
    assert "<b>Come</b> on Monday." in rows[0].body


def test_message_to_guardian_without_account_is_held(world, now):
    guardian = world.guardian_link_b9.guardian
    guardian.phone = "+923004440000"
    threads.start_thread(
        world.session,
        student=world.student_b9,
        guardian_id=guardian.id,
        staff_id=world.teacher_b9.id,
        author=world.teacher_b9,
        subject="Hello",
        body="A private note about her health.",
        now=now,
    )
    rows = outbox(world.session, "thread-message:")
    assert [row.status for row in rows] == [OutboxStatus.HELD]
    assert "health" not in rows[0].body


def test_read_marks_other_side_only(world, family, now):
    guardian, user = family
    thread = threads.start_thread(
        world.session,
        student=world.student_a9,
        guardian_id=guardian.id,
        staff_id=world.class_teacher_a9.id,
        author=user,
        subject="Question",
        body="When is the test?",
        now=now,
    )
    threads.post_message(world.session, thread, world.class_teacher_a9, "Monday.", now=now)
    assert threads.mark_thread_read(world.session, thread, user.id, now) == 1
    messages = threads.thread_messages(world.session, thread.id)
    assert [m.read_at is not None for m in messages] == [False, True]
    assert threads.unread_for_guardian(world.session, user.id) == 0
    assert threads.threads_for_staff(world.session, world.class_teacher_a9.id)[0].unread == 1


def test_guardian_flood_limited(world, family, now):
    guardian, user = family
    thread = threads.start_thread(
        world.session,
        student=world.student_a9,
        guardian_id=guardian.id,
        staff_id=world.class_teacher_a9.id,
        author=user,
        subject="Many",
        body="1",
        now=now,
    )
    for number in range(2, 6):
        threads.post_message(world.session, thread, user, str(number), now=now)
    with pytest.raises(InvalidInput) as refused:
        threads.post_message(world.session, thread, user, "6", now=now)
    assert "after 10:10" in refused.value.message.interpolate()  # 05:00 UTC is 10:00 in Karachi
    threads.post_message(world.session, thread, user, "later", now=now + timedelta(minutes=11))
    count = world.session.scalar(select(ThreadMessage.id).where(ThreadMessage.body == "later"))
    assert count is not None


def test_guardian_new_threads_limited(world, family, now):
    guardian, user = family
    for number in range(5):
        threads.start_thread(
            world.session,
            student=world.student_a9,
            guardian_id=guardian.id,
            staff_id=world.class_teacher_a9.id,
            author=user,
            subject=f"Topic {number}",
            body="x",
            now=now + timedelta(minutes=11 * number),
        )
    with pytest.raises(InvalidInput):
        threads.start_thread(
            world.session,
            student=world.student_a9,
            guardian_id=guardian.id,
            staff_id=world.class_teacher_a9.id,
            author=user,
            subject="One more",
            body="x",
            now=now + timedelta(hours=2),
        )


def test_empty_and_long_messages_refused(world, family, now):
    guardian, user = family
    for body in ("   ", "x" * 2001):
        with pytest.raises(InvalidInput):
            threads.start_thread(
                world.session,
                student=world.student_a9,
                guardian_id=guardian.id,
                staff_id=world.class_teacher_a9.id,
                author=user,
                subject="Hi",
                body=body,
                now=now,
            )


def test_staff_choices_are_teachers_and_head(world, now):
    staff = {
        user.username for user in threads.staff_for_student(world.session, world.student_a9, now)
    }
    assert staff == {"class.a9", "subject.a9", "head.a"}


def test_export_neutralises_formulas(world, family, now):
    guardian, user = family
    thread = threads.start_thread(
        world.session,
        student=world.student_a9,
        guardian_id=guardian.id,
        staff_id=world.class_teacher_a9.id,
        author=user,
        subject="CSV",
        body='=HYPERLINK("http://evil.example","x")',
        now=now,
    )
    threads.post_message(
        world.session, thread, world.class_teacher_a9, "<script>x</script>", now=now
    )
    data = threads.export_thread_csv(world.session, thread, str, lambda u: u.display_name)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["Time", "From", "Message"]
    assert rows[1][2] == '\'=HYPERLINK("http://evil.example","x")'
    assert rows[2][2] == "<script>x</script>"
    assert rows[1][0] == "04/12/2026 10:00"


# Broadcasts.


def test_broadcast_reaches_every_guardian_once(world, family, now):
    guardian, user = family
    second = world.admit(world.section_a9, "A902", "Sara Aslam", "سارہ اسلم")
    people.add_guardian(
        world.session,
        second,
        {"name_en": "Muhammad Aslam", "cnic": "36302-2222222-2", "relation": Relation.FATHER},
        actor=SYSTEM,
        now=now,
    )
    mother = people.add_guardian(
        world.session,
        second,
        {"name_en": "Amina Bibi", "phone": "+923007770000", "relation": Relation.MOTHER},
        actor=SYSTEM,
        now=now,
    ).guardian
    broadcast = threads.send_broadcast(
        world.session,
        section=world.section_a9,
        author=world.class_teacher_a9,
        subject="Trip",
        body="The class goes to the museum on Friday.",
        now=now,
    )
    readers = threads.broadcast_readers(world.session, broadcast)
    assert {reader.guardian.id for reader in readers} == {guardian.id, mother.id}
    aslam = next(r for r in readers if r.guardian.id == guardian.id)
    assert {s.id for s in aslam.students} == {world.student_a9.id, second.id}
    rows = outbox(world.session, "broadcast:")
    assert {(row.guardian_id, row.status) for row in rows} == {
        (guardian.id, OutboxStatus.PENDING),
        (mother.id, OutboxStatus.HELD),
    }
    assert threads.mark_broadcast_read(world.session, broadcast, user.id, now) == 1
    readers = threads.broadcast_readers(world.session, broadcast)
    assert next(r for r in readers if r.guardian.id == guardian.id).read_at == now


def test_broadcasts_limited_per_day(world, family, now):
    for number in range(5):
        threads.send_broadcast(
            world.session,
            section=world.section_a9,
            author=world.class_teacher_a9,
            subject=f"Notice {number}",
            body="x",
            now=now,
        )
    with pytest.raises(InvalidInput):
        threads.send_broadcast(
            world.session,
            section=world.section_a9,
            author=world.class_teacher_a9,
            subject="Sixth",
            body="x",
            now=now,
        )


def test_guardian_ids_of_user(world, family):
    guardian, user = family
    assert threads.guardian_ids_of_user(world.session, user.id) == [guardian.id]
    assert world.session.get(User, user.id).phone == PHONE
