"""Messages between guardians and staff, section broadcasts, and the SMS that announce them.

A thread is about one student, between one guardian and one member of staff (a teacher of
the student or the head teacher). Every new message notifies the other side through the
outbox in the same transaction:

- a member of staff gets the usual in-app, e-mail and SMS notification (`messaging.queue`);
- a guardian with an account gets an e-mail when the account has an address, else an SMS
  that carries a fixed sentence and a short link, never the message text;
- a guardian without an account gets a held notification, released when they sign up.

Message text is stored as typed. Templates escape it, e-mails are plain text, and the CSV
export neutralises spreadsheet formulas. Senders are limited per time window so that a
mistake or a script cannot flood the other side (or the school's SMS bill).
"""

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from spets.i18n import TranslationString, _, translate
from spets.models import (
    Broadcast,
    BroadcastRecipient,
    Channel,
    Enrollment,
    Guardian,
    GuardianAccount,
    MessageThread,
    OrgUnit,
    OutboxMessage,
    OutboxStatus,
    Role,
    Section,
    Student,
    StudentGuardian,
    TeachingAssignment,
    ThreadMessage,
    User,
)
from spets.services import exports, messaging
from spets.services.bulk import insert_ignore_rows
from spets.services.calendar import local_today
from spets.services.errors import InvalidInput, NotFound
from spets.services.tasks import role_holders

log = logging.getLogger(__name__)

LOCAL_ZONE = ZoneInfo("Asia/Karachi")
MAX_BODY_CHARS = 2000
MAX_SUBJECT_CHARS = 200


# SMS sizing.
#
# An SMS is sent in the GSM 03.38 7-bit alphabet when every character is in it, else in
# UCS-2. One GSM-7 message holds 160 septets and each part of a longer one 153; a UCS-2
# message holds 70 UTF-16 code units and each part 67 (3GPP TS 23.038 and 23.040; the
# difference is the user data header that joins the parts). Urdu script is always UCS-2,
# so the same sentence costs about twice the segments in Urdu as in Roman Urdu.

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the extension table: each is sent as an escape plus the character.
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SmsSize:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def measure_sms(text: str) -> SmsSize:
    """Return the encoding an SMS needs and how many segments it is billed as."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text):
        units = sum(2 if char in GSM7_EXTENDED else 1 for char in text)
        single, part, encoding = GSM7_SINGLE, GSM7_PART, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = UCS2_SINGLE, UCS2_PART, "UCS-2"
    # NOTE: a GSM-7 escape pair is never split across two parts by real encoders, which can
    # push a long message into one more part than this count; our texts stay in one part.
    segments = 1 if units <= single else math.ceil(units / part)
    return SmsSize(encoding, units, segments)


def fit_sms(candidates: Sequence[str], max_segments: int = 1) -> str:
    """Return the first candidate that fits in `max_segments`, else the cheapest one.

    Callers list the candidates from the most to the least helpful (a sentence and the
    link, a shorter sentence and the link, the link alone).
    """
    texts = [" ".join(text.split()) for text in candidates if text]
    for text in texts:
        if measure_sms(text).segments <= max_segments:
            return text
    cheapest = min(texts, key=lambda text: (measure_sms(text).segments, len(text)))
    log.warning("sms_over_budget", extra={"segments": measure_sms(cheapest).segments})
    return cheapest


# The sentences of SMS to guardians. Urdu-script and English texts are catalogue messages;
# Roman Urdu has no locale of its own, so its texts are kept here as data.
SMS_TEXTS: dict[str, tuple[TranslationString, TranslationString]] = {
    "new_message": (
        _("sms_new_message", default="SPeTS: you have a new message from the school. Read it:"),
        _("sms_new_message_short", default="SPeTS: new message:"),
    ),
    "new_broadcast": (
        _("sms_new_broadcast", default="SPeTS: the class teacher sent a message. Read it:"),
        _("sms_new_broadcast_short", default="SPeTS: class message:"),
    ),
}
ROMAN_SMS_TEXTS: dict[str, tuple[str, str]] = {
    "new_message": (
        "SPeTS: School se aap ke liye naya paigham hai. Parhein:",
        "SPeTS: naya paigham:",
    ),
    "new_broadcast": (
        "SPeTS: Class teacher ne paigham bheja hai. Parhein:",
        "SPeTS: class paigham:",
    ),
}
SMS_SCRIPTS = ("ur", "roman")


def guardian_sms(kind: str, link: str, *, locale: str, script: str) -> str:
    """Compose a notification SMS for a guardian: a fixed sentence and the link, one segment."""
    if script == "roman":
        long_text, short_text = ROMAN_SMS_TEXTS[kind]
    else:
        long_text, short_text = (translate(text, locale) for text in SMS_TEXTS[kind])
    return fit_sms([f"{long_text} {link}", f"{short_text} {link}", link])


def short_link(kind: str, record_id: int) -> str:
    """The shortest path that leads to a thread (m) or a broadcast (b) after signing in."""
    return messaging.absolute(f"/{kind}/{record_id}")


def queue_outbox(
    session: Session,
    *,
    key: str,
    channel: Channel,
    address: str,
    locale: str,
    subject: str,
    body: str,
    link: str,
    now: datetime,
    recipient_id: int | None = None,
    guardian_id: int | None = None,
) -> int:
    """Write one pending outbox row under `key:<channel>`, once; return 1 if it is new."""
    full_key = f"{key}:{channel.value}"
    existed = session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == full_key))
    insert_ignore_rows(
        session,
        OutboxMessage.__table__,
        [
            {
                "key": full_key,
                "channel": channel,
                "recipient_id": recipient_id,
                "guardian_id": guardian_id,
                "address": address,
                "locale": locale,
                "subject": subject[:300],
                "body": body,
                "link": link,
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
                "created_at": now,
            }
        ],
    )
    return 0 if existed else 1


@dataclass(frozen=True)
class GuardianNotice:
    """What a guardian with an account is told: an e-mail, or else an SMS of `sms_kind`."""

    sms_kind: str
    subject: TranslationString
    body: TranslationString
    link: str


def notify_guardian_user(
    session: Session, *, key: str, guardian_id: int, notice: GuardianNotice, now: datetime
) -> int:
    """Notify a guardian through their account: by e-mail if it has one, else by SMS.

    A guardian without an account gets a held notification instead, without the
    message's text, which is released when they sign up.
    """
    found = account_of_guardian(session, guardian_id)
    if found is None:
        guardian = session.get(Guardian, guardian_id)
        return messaging.queue_for_guardian(
            session,
            key=key,
            guardian=guardian,
            draft=messaging.Draft(
                subject=notice.subject,
                body=_(
                    "held_notice_body",
                    default="The school sent you a message in SPeTS. Sign up with the invitation "
                    "code from the school to read it.",
                ),
                sms=SMS_TEXTS[notice.sms_kind][1],
                link=notice.link,
            ),
            now=now,
        )
    user, account = found
    locale = user.locale or "ur"
    link = messaging.absolute(notice.link)
    if user.email:
        return queue_outbox(
            session,
            key=key,
            channel=Channel.EMAIL,
            address=user.email,
            locale=locale,
            subject=translate(notice.subject, locale),
            body=translate(notice.body, locale),
            link=link,
            recipient_id=user.id,
            guardian_id=guardian_id,
            now=now,
        )
    if not user.phone:
        return 0
    return queue_outbox(
        session,
        key=key,
        channel=Channel.SMS,
        address=user.phone,
        locale=locale,
        subject=translate(notice.subject, locale),
        body=guardian_sms(notice.sms_kind, link, locale=locale, script=account.sms_script),
        link=link,
        recipient_id=user.id,
        guardian_id=guardian_id,
        now=now,
    )


def account_of_guardian(session: Session, guardian_id: int) -> tuple[User, GuardianAccount] | None:
    row = session.execute(
        select(User, GuardianAccount)
        .join(GuardianAccount, GuardianAccount.user_id == User.id)
        .where(GuardianAccount.guardian_id == guardian_id, User.is_active.is_(True))
    ).first()
    return (row[0], row[1]) if row else None


def guardian_ids_of_user(session: Session, user_id: int) -> list[int]:
    return list(
        session.scalars(
            select(GuardianAccount.guardian_id).where(GuardianAccount.user_id == user_id)
        )
    )


# Flood limits.


@dataclass(frozen=True)
class Limit:
    window: timedelta
    count: int


GUARDIAN_MESSAGE_LIMITS = (Limit(timedelta(minutes=10), 5), Limit(timedelta(days=1), 20))
STAFF_MESSAGE_LIMITS = (Limit(timedelta(minutes=10), 30), Limit(timedelta(days=1), 300))
GUARDIAN_NEW_THREADS_PER_DAY = 5
BROADCAST_LIMIT = Limit(timedelta(days=1), 5)


def _check_limits(session: Session, column_author, column_time, author_id, limits, now):
    for limit in limits:
        since = now - limit.window
        times = session.scalars(
            select(column_time)
            .where(column_author == author_id, column_time > since)
            .order_by(column_time)
        ).all()
        if len(times) >= limit.count:
            again = (times[len(times) - limit.count] + limit.window).astimezone(LOCAL_ZONE)
            raise InvalidInput(
                _(
                    "message_flood",
                    default="You sent ${count} messages in the last ${minutes} minutes, the most "
                    "allowed. You can send again after ${time}.",
                    mapping={
                        "count": len(times),
                        "minutes": int(limit.window.total_seconds() // 60),
                        "time": again.strftime("%H:%M"),
                    },
                ),
                {"body": _("message_flood_field", default="Wait before sending more.")},
            )


def check_message_flood(session: Session, author_id: int, *, is_guardian: bool, now: datetime):
    """Raise InvalidInput when the author already sent the most messages a window allows."""
    limits = GUARDIAN_MESSAGE_LIMITS if is_guardian else STAFF_MESSAGE_LIMITS
    _check_limits(
        session, ThreadMessage.author_id, ThreadMessage.created_at, author_id, limits, now
    )


def _clean_text(text: str, field: str, maximum: int) -> str:
    cleaned = (text or "").replace("\r\n", "\n").strip()
    if not cleaned:
        message = _("message_empty", default="Write something before sending.")
        raise InvalidInput(message, {field: message})
    if len(cleaned) > maximum:
        message = _(
            "message_too_long",
            default="The text has ${length} characters; the most is ${maximum}.",
            mapping={"length": len(cleaned), "maximum": maximum},
        )
        raise InvalidInput(message, {field: message})
    return cleaned


# Who may be written to.


def current_section(session: Session, student_id: int) -> Section | None:
    return session.scalar(
        select(Section)
        .join(Enrollment, Enrollment.section_id == Section.id)
        .where(Enrollment.student_id == student_id, Enrollment.ends_on.is_(None))
    )


def staff_for_student(session: Session, student: Student, now: datetime) -> list[User]:
    """The staff a guardian may write to: the section's teachers and the head teacher."""
    school = session.get(OrgUnit, student.school_id)
    today = local_today(now, school.timezone)
    section = current_section(session, student.id)
    found: dict[int, User] = {}
    if section is not None:
        if section.class_teacher_id:
            teacher = session.get(User, section.class_teacher_id)
            if teacher is not None and teacher.is_active:
                found[teacher.id] = teacher
        teachers = session.scalars(
            select(User)
            .join(TeachingAssignment, TeachingAssignment.teacher_id == User.id)
            .where(
                TeachingAssignment.section_id == section.id,
                TeachingAssignment.valid_from <= today,
                or_(TeachingAssignment.valid_to.is_(None), TeachingAssignment.valid_to >= today),
                User.is_active.is_(True),
            )
            .order_by(User.display_name)
        ).all()
        for teacher in teachers:
            found.setdefault(teacher.id, teacher)
    for head in role_holders(session, school, Role.HEAD_TEACHER, now):
        found.setdefault(head.id, head)
    return list(found.values())


def guardians_for_student(session: Session, student_id: int) -> list[tuple[Guardian, bool]]:
    """The student's guardians, each with whether they have an account."""
    rows = session.execute(
        select(Guardian, GuardianAccount.user_id)
        .join(StudentGuardian, StudentGuardian.guardian_id == Guardian.id)
        .outerjoin(GuardianAccount, GuardianAccount.guardian_id == Guardian.id)
        .where(StudentGuardian.student_id == student_id)
        .order_by(StudentGuardian.is_primary.desc(), Guardian.name_en)
    ).all()
    return [(guardian, user_id is not None) for guardian, user_id in rows]


# Threads.


def start_thread(
    session: Session,
    *,
    student: Student,
    guardian_id: int,
    staff_id: int,
    author: User,
    subject: str,
    body: str,
    now: datetime,
) -> MessageThread:
    """Open a thread about a student and post its first message.

    The author is either the guardian's account or the member of staff; the caller has
    checked that both sides belong to the student.
    """
    subject = _clean_text(subject, "subject", MAX_SUBJECT_CHARS)
    is_guardian = author.id != staff_id
    if is_guardian:
        opened_today = session.scalar(
            select(func.count(MessageThread.id)).where(
                MessageThread.guardian_id.in_(guardian_ids_of_user(session, author.id)),
                MessageThread.created_at > now - timedelta(days=1),
            )
        )
        if opened_today >= GUARDIAN_NEW_THREADS_PER_DAY:
            message = _(
                "thread_flood",
                default="You started ${count} conversations today, the most allowed. Reply in one "
                "of them, or start a new one tomorrow.",
                mapping={"count": opened_today},
            )
            raise InvalidInput(message, {"subject": message})
    thread = MessageThread(
        student_id=student.id,
        guardian_id=guardian_id,
        staff_id=staff_id,
        subject=subject,
        created_at=now,
        updated_at=now,
    )
    session.add(thread)
    session.flush()
    post_message(session, thread, author, body, now=now)
    return thread


def post_message(
    session: Session, thread: MessageThread, author: User, body: str, *, now: datetime
) -> ThreadMessage:
    """Add a message to a thread and notify the other side."""
    is_guardian = author.id != thread.staff_id
    text = _clean_text(body, "body", MAX_BODY_CHARS)
    check_message_flood(session, author.id, is_guardian=is_guardian, now=now)
    message = ThreadMessage(thread_id=thread.id, author_id=author.id, body=text, created_at=now)
    session.add(message)
    thread.updated_at = now
    session.flush()
    if is_guardian:
        _notify_staff(session, thread, message, author, now)
    else:
        _notify_guardian(session, thread, message, author, now)
    log.info(
        "thread_message_posted",
        extra={"thread_id": thread.id, "message_id": message.id, "from_guardian": is_guardian},
    )
    return message


def _notify_staff(session, thread: MessageThread, message: ThreadMessage, author: User, now):
    staff = session.get(User, thread.staff_id)
    if staff is None or not staff.is_active:
        return
    student = session.get(Student, thread.student_id)
    locale = staff.locale or "en"
    messaging.queue(
        session,
        key=f"thread-message:{message.id}",
        recipient=staff,
        draft=messaging.Draft(
            subject=_(
                "thread_subject_staff",
                default="Message from ${guardian} about ${student}",
                mapping={"guardian": author.name(locale), "student": student.name(locale)},
            ),
            body=_(
                "thread_body_staff",
                default="${guardian} wrote about ${student}:\n\n${text}\n\nReply in SPeTS.",
                mapping={
                    "guardian": author.name(locale),
                    "student": student.name(locale),
                    "text": message.body,
                },
            ),
            sms=_("thread_sms_staff", default="SPeTS: a guardian sent you a message."),
            link=f"/m/{thread.id}",
        ),
        now=now,
    )


def _notify_guardian(session, thread: MessageThread, message: ThreadMessage, author: User, now):
    student = session.get(Student, thread.student_id)
    found = account_of_guardian(session, thread.guardian_id)
    locale = found[0].locale if found else "ur"
    notify_guardian_user(
        session,
        key=f"thread-message:{message.id}",
        guardian_id=thread.guardian_id,
        notice=GuardianNotice(
            sms_kind="new_message",
            subject=_(
                "thread_subject_guardian",
                default="New message about ${student}",
                mapping={"student": student.name(locale)},
            ),
            body=_(
                "thread_body_guardian",
                default="${teacher} wrote about ${student}:\n\n${text}\n\nRead and reply in SPeTS:",
                mapping={
                    "teacher": author.name(locale),
                    "student": student.name(locale),
                    "text": message.body,
                },
            ),
            link=f"/m/{thread.id}",
        ),
        now=now,
    )


def mark_thread_read(session: Session, thread: MessageThread, reader_id: int, now: datetime) -> int:
    """Mark the other side's unread messages of the thread as read by `reader_id`."""
    return (
        session.execute(
            update(ThreadMessage)
            .where(
                ThreadMessage.thread_id == thread.id,
                ThreadMessage.author_id != reader_id,
                ThreadMessage.read_at.is_(None),
            )
            .values(read_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )


def thread_messages(session: Session, thread_id: int) -> list[ThreadMessage]:
    return list(
        session.scalars(
            select(ThreadMessage)
            .options(selectinload(ThreadMessage.author))
            .where(ThreadMessage.thread_id == thread_id)
            .order_by(ThreadMessage.id)
        )
    )


@dataclass
class ThreadSummary:
    thread: MessageThread
    unread: int
    last_at: datetime


def _summaries(session: Session, query, reader_id: int) -> list[ThreadSummary]:
    unread = (
        select(ThreadMessage.thread_id, func.count(ThreadMessage.id).label("unread"))
        .where(ThreadMessage.author_id != reader_id, ThreadMessage.read_at.is_(None))
        .group_by(ThreadMessage.thread_id)
        .subquery()
    )
    rows = session.execute(
        query.add_columns(func.coalesce(unread.c.unread, 0))
        .outerjoin(unread, unread.c.thread_id == MessageThread.id)
        .options(
            selectinload(MessageThread.student),
            selectinload(MessageThread.staff),
            selectinload(MessageThread.guardian),
        )
        .order_by(MessageThread.updated_at.desc(), MessageThread.id.desc())
    ).all()
    return [ThreadSummary(thread, count, thread.updated_at) for thread, count in rows]


def threads_for_staff(session: Session, user_id: int) -> list[ThreadSummary]:
    return _summaries(
        session, select(MessageThread).where(MessageThread.staff_id == user_id), user_id
    )


def threads_for_guardian(session: Session, user_id: int, student_id: int) -> list[ThreadSummary]:
    return _summaries(
        session,
        select(MessageThread).where(
            MessageThread.guardian_id.in_(guardian_ids_of_user(session, user_id)),
            MessageThread.student_id == student_id,
        ),
        user_id,
    )


def threads_of_student(session: Session, student_id: int, user_id: int) -> list[ThreadSummary]:
    """Threads about the student in which `user_id` is the member of staff."""
    return _summaries(
        session,
        select(MessageThread).where(
            MessageThread.student_id == student_id, MessageThread.staff_id == user_id
        ),
        user_id,
    )


def unread_for_guardian(session: Session, user_id: int) -> int:
    """Unread thread messages and broadcasts of all the user's children."""
    guardian_ids = guardian_ids_of_user(session, user_id)
    if not guardian_ids:
        return 0
    messages = session.scalar(
        select(func.count(ThreadMessage.id))
        .join(MessageThread, MessageThread.id == ThreadMessage.thread_id)
        .where(
            MessageThread.guardian_id.in_(guardian_ids),
            ThreadMessage.author_id != user_id,
            ThreadMessage.read_at.is_(None),
        )
    )
    broadcasts = session.scalar(
        select(func.count(BroadcastRecipient.id)).where(
            BroadcastRecipient.guardian_id.in_(guardian_ids), BroadcastRecipient.read_at.is_(None)
        )
    )
    return (messages or 0) + (broadcasts or 0)


def export_thread_csv(session: Session, thread: MessageThread, translate_text, name_of) -> bytes:
    """The thread as CSV: time (Karachi), author and text, formulas neutralised."""
    header = [translate_text(_("Time")), translate_text(_("From")), translate_text(_("Message"))]
    rows = [
        [
            message.created_at.astimezone(LOCAL_ZONE).strftime("%d/%m/%Y %H:%M"),
            name_of(message.author),
            message.body,
        ]
        for message in thread_messages(session, thread.id)
    ]
    return exports.to_csv(header, rows)


# Broadcasts.


def section_guardians(session: Session, section_id: int) -> list[tuple[Guardian, list[Student]]]:
    """Guardians of the students enrolled in the section now, each with those students."""
    rows = session.execute(
        select(Guardian, Student)
        .join(StudentGuardian, StudentGuardian.guardian_id == Guardian.id)
        .join(Student, Student.id == StudentGuardian.student_id)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .where(Enrollment.section_id == section_id, Enrollment.ends_on.is_(None))
        .order_by(Student.name_en, Guardian.name_en)
    ).all()
    grouped: dict[int, tuple[Guardian, list[Student]]] = {}
    for guardian, student in rows:
        grouped.setdefault(guardian.id, (guardian, []))[1].append(student)
    return list(grouped.values())


def send_broadcast(
    session: Session, *, section: Section, author: User, subject: str, body: str, now: datetime
) -> Broadcast:
    """Send a message to every guardian of the section's students and notify each once."""
    subject = _clean_text(subject, "subject", MAX_SUBJECT_CHARS)
    body = _clean_text(body, "body", MAX_BODY_CHARS)
    _check_limits(
        session, Broadcast.author_id, Broadcast.created_at, author.id, (BROADCAST_LIMIT,), now
    )
    recipients = section_guardians(session, section.id)
    if not recipients:
        message = _(
            "broadcast_no_guardians",
            default="No student of this section has a guardian on record, so nobody would "
            "receive the message.",
        )
        raise InvalidInput(message, {"body": message})
    broadcast = Broadcast(
        section_id=section.id, author_id=author.id, subject=subject, body=body, created_at=now
    )
    session.add(broadcast)
    session.flush()
    insert_ignore_rows(
        session,
        BroadcastRecipient.__table__,
        [{"broadcast_id": broadcast.id, "guardian_id": g.id} for g, _students in recipients],
    )
    for guardian, _students in recipients:
        found = account_of_guardian(session, guardian.id)
        locale = found[0].locale if found else guardian.preferred_locale or "ur"
        notify_guardian_user(
            session,
            key=f"broadcast:{broadcast.id}:{guardian.id}",
            guardian_id=guardian.id,
            notice=GuardianNotice(
                sms_kind="new_broadcast",
                subject=_(
                    "broadcast_subject",
                    default="Message to the guardians of grade ${section}: ${subject}",
                    mapping={"section": section.label, "subject": subject},
                ),
                body=_(
                    "broadcast_body",
                    default="${teacher} wrote to the guardians of grade ${section}:\n\n${text}",
                    mapping={
                        "teacher": author.name(locale),
                        "section": section.label,
                        "text": body,
                    },
                ),
                link=f"/b/{broadcast.id}",
            ),
            now=now,
        )
    log.info("broadcast_sent", extra={"broadcast_id": broadcast.id, "recipients": len(recipients)})
    return broadcast


@dataclass
class BroadcastReader:
    guardian: Guardian
    students: list[Student]
    has_account: bool
    read_at: datetime | None


def broadcast_readers(session: Session, broadcast: Broadcast) -> list[BroadcastReader]:
    """Who received the broadcast, with their students, and when each first read it."""
    rows = session.execute(
        select(Guardian, BroadcastRecipient.read_at, GuardianAccount.user_id)
        .join(BroadcastRecipient, BroadcastRecipient.guardian_id == Guardian.id)
        .outerjoin(GuardianAccount, GuardianAccount.guardian_id == Guardian.id)
        .where(BroadcastRecipient.broadcast_id == broadcast.id)
        .order_by(Guardian.name_en)
    ).all()
    students: dict[int, list[Student]] = {}
    for guardian_id, student in session.execute(
        select(StudentGuardian.guardian_id, Student)
        .join(Student, Student.id == StudentGuardian.student_id)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .join(BroadcastRecipient, BroadcastRecipient.guardian_id == StudentGuardian.guardian_id)
        .where(
            BroadcastRecipient.broadcast_id == broadcast.id,
            Enrollment.section_id == broadcast.section_id,
        )
        .distinct()
    ):
        students.setdefault(guardian_id, []).append(student)
    return [
        BroadcastReader(guardian, students.get(guardian.id, []), user_id is not None, read_at)
        for guardian, read_at, user_id in rows
    ]


def broadcasts_of_section(session: Session, section_id: int) -> list[tuple[Broadcast, int, int]]:
    """The section's broadcasts, newest first, each with (recipients, read) counts."""
    rows = session.execute(
        select(
            Broadcast,
            func.count(BroadcastRecipient.id),
            func.count(BroadcastRecipient.read_at),
        )
        .outerjoin(BroadcastRecipient, BroadcastRecipient.broadcast_id == Broadcast.id)
        .where(Broadcast.section_id == section_id)
        .group_by(Broadcast.id)
        .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
    ).all()
    return [(broadcast, total, read) for broadcast, total, read in rows]


def broadcasts_for_guardian(
    session: Session, user_id: int, student_id: int
) -> list[tuple[Broadcast, datetime | None]]:
    """Broadcasts the user's guardian records received for the student's sections."""
    guardian_ids = guardian_ids_of_user(session, user_id)
    sections = select(Enrollment.section_id).where(Enrollment.student_id == student_id)
    rows = session.execute(
        select(Broadcast, func.min(BroadcastRecipient.read_at))
        .join(BroadcastRecipient, BroadcastRecipient.broadcast_id == Broadcast.id)
        .where(
            BroadcastRecipient.guardian_id.in_(guardian_ids),
            Broadcast.section_id.in_(sections),
        )
        .group_by(Broadcast.id)
        .order_by(Broadcast.created_at.desc())
    ).all()
    return [(broadcast, read_at) for broadcast, read_at in rows]


def recipient_guardian_ids(session: Session, broadcast_id: int, user_id: int) -> list[int]:
    """The user's guardian records among the broadcast's recipients."""
    return list(
        session.scalars(
            select(BroadcastRecipient.guardian_id).where(
                BroadcastRecipient.broadcast_id == broadcast_id,
                BroadcastRecipient.guardian_id.in_(guardian_ids_of_user(session, user_id)),
            )
        )
    )


def mark_broadcast_read(session: Session, broadcast: Broadcast, user_id: int, now: datetime) -> int:
    guardian_ids = recipient_guardian_ids(session, broadcast.id, user_id)
    if not guardian_ids:
        raise NotFound(_("broadcast_not_found", default="No such message."))
    return (
        session.execute(
            update(BroadcastRecipient)
            .where(
                BroadcastRecipient.broadcast_id == broadcast.id,
                BroadcastRecipient.guardian_id.in_(guardian_ids),
                BroadcastRecipient.read_at.is_(None),
            )
            .values(read_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
