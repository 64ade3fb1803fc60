"""Demo parents: guardian accounts, invitation codes, messages and parent–teacher meetings.

The families of the first students of grade 10 A at the demo school get:

- an account for four guardians, made through the real sign-up (invitation code, the
  one-time code from the SMS, a password); the first of them also has a son at the
  Khanewal demo school, so one account shows children in two schools;
- an invitation code, not yet used, for three more guardians, to try the sign-up;
- a conversation with the class teacher and a message to the whole section;
- a PTM day a few school days ago with bookings, the class teacher's minutes handed in
  with agreed actions, one guardian who did not come (a follow-up task for the class
  teacher) and the maths teacher's minutes still to write; and a PTM day after today with
  open times to book.

Times before `now` are replayed through the services with an earlier `now`, so every row
looks as it would after those days.
"""

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spets.models import (
    CycleKind,
    Enrollment,
    Gender,
    Guardian,
    OrgKind,
    OrgUnit,
    OutboxMessage,
    Relation,
    Section,
    Student,
    StudentGuardian,
    Subject,
    TeachingAssignment,
    User,
)
from spets.models.ptm import PtmAttendance, PtmSlot
from spets.services import calendar, engine, guardians, people, ptm, threads
from spets.services.audit import Actor
from spets.services.calendar import local_today

SYSTEM = Actor.system()
KARACHI = ZoneInfo("Asia/Karachi")
ACCOUNT_FAMILIES = 4
INVITED_FAMILIES = 3


@dataclass
class ParentsDemoSummary:
    # Rows for the demo accounts file: (username, password, role, where), like staff rows.
    accounts: list = field(default_factory=list)
    invitations: list = field(default_factory=list)
    past_ptm_day_id: int | None = None
    next_ptm_day_id: int | None = None
    bookings: int = 0
    minutes_tasks: int = 0


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), KARACHI).astimezone(UTC)


def load_parents(session: Session, now: datetime) -> ParentsDemoSummary:
    """Add the demo's guardian accounts, messages and PTM days; the caller commits."""
    from spets.demo.load import DEMO_SCHOOL_CODE, SECOND_SCHOOL_CODE, Account

    school = _school(session, DEMO_SCHOOL_CODE)
    second_school = _school(session, SECOND_SCHOOL_CODE)
    today = local_today(now, school.timezone)
    year = calendar.current_year(session, school.tenant_id, today)
    section = session.scalar(
        select(Section).where(
            Section.school_id == school.id,
            Section.academic_year_id == year.id,
            Section.grade == 10,
            Section.name == "A",
        )
    )
    summary = ParentsDemoSummary()
    families = _families(session, section, ACCOUNT_FAMILIES + INVITED_FAMILIES)
    signup_at = now - timedelta(days=30)

    users: list[tuple[User, Guardian, Student]] = []
    for student, guardian in families[:ACCOUNT_FAMILIES]:
        password = secrets.token_urlsafe(9)
        user = _sign_up(session, guardian, password, signup_at)
        users.append((user, guardian, student))
        summary.accounts.append(
            Account(user.username, password, "guardian", f"parent of {student.name_en}")
        )
    for student, guardian in families[ACCOUNT_FAMILIES:]:
        issued = guardians.issue_invitation(session, guardian, actor=SYSTEM, now=now)
        summary.invitations.append(
            Account(
                guardians.username_for_phone(guardian.phone),
                issued.printed_code,
                "guardian invitation",
                f"parent of {student.name_en}; sign up at /signup with this code",
            )
        )
    if second_school is not None and users:
        _add_second_school_child(session, second_school, users[0][1], now)

    class_teacher = session.get(User, section.class_teacher_id)
    _messages(session, section, class_teacher, users, now)
    _past_ptm(session, school, section, class_teacher, users, today, summary)
    _next_ptm(session, school, class_teacher, users, today, now, summary)
    engine.sweep_reminders(session, now, [school.id])
    engine.sweep_escalations(session, now, [school.id])
    summary.accounts += summary.invitations
    return summary


def _school(session: Session, code: str) -> OrgUnit | None:
    return session.scalar(
        select(OrgUnit).where(OrgUnit.kind == OrgKind.SCHOOL, OrgUnit.code == code)
    )


def _families(session: Session, section: Section, count: int) -> list[tuple[Student, Guardian]]:
    """The section's first students by name, each with their primary guardian."""
    rows = session.execute(
        select(Student, Guardian)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .join(StudentGuardian, StudentGuardian.student_id == Student.id)
        .join(Guardian, Guardian.id == StudentGuardian.guardian_id)
        .where(
            Enrollment.section_id == section.id,
            Enrollment.ends_on.is_(None),
            StudentGuardian.is_primary.is_(True),
            Guardian.phone.is_not(None),
        )
        .order_by(Student.name_en, Student.id)
        .limit(count)
    ).all()
    return [(student, guardian) for student, guardian in rows]


def _sign_up(session: Session, guardian: Guardian, password: str, now: datetime) -> User:
    """Sign a guardian up the way a parent does, reading the one-time code from the SMS."""
    issued = guardians.issue_invitation(session, guardian, actor=SYSTEM, now=now)
    started = guardians.start_signup(
        session, issued.code, guardian.phone, client_addr=None, locale="ur", now=now
    )
    body = session.scalar(
        select(OutboxMessage.body).where(
            OutboxMessage.key == f"one-time-code:{started.one_time_code_id}:sms"
        )
    )
    otp = re.search(r"\b\d{6}\b", body).group(0)
    return guardians.complete_signup(
        session,
        started,
        otp,
        password,
        locale="ur",
        sms_script="roman" if guardian.id % 2 else "ur",
        client_addr=None,
        now=now,
    )


def _add_second_school_child(session, second_school: OrgUnit, guardian: Guardian, now) -> None:
    """A son of the first family at the Khanewal demo school: one account, two schools."""
    section = session.scalar(
        select(Section).where(Section.school_id == second_school.id).order_by(Section.grade)
    )
    if section is None:
        return
    admissions = session.scalar(
        select(func.count(Student.id)).where(Student.school_id == second_school.id)
    )
    surname = guardian.name_en.split()[-1]
    surname_ur = guardian.name_ur.split()[-1] if guardian.name_ur else ""
    son = people.admit_student(
        session,
        section=section,
        values={
            "admission_no": f"K{admissions + 1:04d}",
            "b_form": None,
            "name_en": f"Hamza {surname}",
            "name_ur": f"حمزہ {surname_ur}".strip(),
            "father_name_en": guardian.name_en,
            "father_name_ur": guardian.name_ur or guardian.name_en,
            "date_of_birth": date(local_today(now).year - 14, 3, 14),
            "gender": Gender.MALE,
        },
        admitted_on=section.academic_year.starts_on,
        actor=SYSTEM,
        now=now,
    )
    people.add_guardian(
        session,
        son,
        {"name_en": guardian.name_en, "cnic": guardian.cnic, "relation": Relation.FATHER},
        actor=SYSTEM,
        now=now,
    )


def _messages(session, section, class_teacher, users, now) -> None:
    if not users:
        return
    user, guardian, student = users[0]
    asked = now - timedelta(days=3)
    thread = threads.start_thread(
        session,
        student=student,
        guardian_id=guardian.id,
        staff_id=class_teacher.id,
        author=user,
        subject="ہوم ورک کے بارے میں سوال",
        body="السلام علیکم، بچے کو ریاضی کا ہوم ورک سمجھ نہیں آ رہا۔ کیا آپ رہنمائی کر سکتے ہیں؟",
        now=asked,
    )
    threads.post_message(
        session,
        thread,
        class_teacher,
        "وعلیکم السلام۔ جی، میں کل کلاس کے بعد دس منٹ اضافی وقت دوں گا۔",
        now=asked + timedelta(hours=5),
    )
    threads.send_broadcast(
        session,
        section=section,
        author=class_teacher,
        subject="Sports day / کھیلوں کا دن",
        body="Sports day is on Friday; students come in sports kit.\n"
        "جمعہ کو کھیلوں کا دن ہے؛ طلبہ کھیلوں کے لباس میں آئیں۔",
        now=now - timedelta(days=1),
    )


def _subject_teacher(session: Session, section: Section, code: str) -> User | None:
    return session.scalar(
        select(User)
        .join(TeachingAssignment, TeachingAssignment.teacher_id == User.id)
        .join(Subject, Subject.id == TeachingAssignment.subject_id)
        .where(TeachingAssignment.section_id == section.id, Subject.code == code)
        .limit(1)
    )


def _school_day(session, school: OrgUnit, first: date, last: date, latest: bool) -> date | None:
    days = calendar.school_days(session, school, first, last)
    if not days:
        return None
    return days[-1] if latest else days[0]


def _past_ptm(session, school, section, class_teacher, users, today, summary) -> None:
    """A PTM day a few school days ago: bookings, handed-in minutes and one follow-up."""
    day = _school_day(session, school, today - timedelta(days=40), today - timedelta(days=4), True)
    maths = _subject_teacher(session, section, "MATH")
    if day is None or not users:
        return
    created = at(day - timedelta(days=14), 10)
    ptm_day = ptm.save_day(
        session,
        unit=school,
        ptm_day=None,
        values={"day": day, "name_en": "Parent–teacher meeting", "name_ur": "والدین اساتذہ میٹنگ"},
        version=None,
        actor=SYSTEM,
        now=created,
    )
    summary.past_ptm_day_id = ptm_day.id
    teachers = [class_teacher] + ([maths] if maths and maths.id != class_teacher.id else [])
    for teacher in teachers:
        ptm.open_slots(
            session,
            ptm_day=ptm_day,
            school=school,
            teacher=teacher,
            starts=time(9, 0),
            ends=time(10, 30),
            minutes=10,
            now=created + timedelta(days=2),
        )
    booked_at = created + timedelta(days=5)
    bookings = []
    for position, (user, guardian, student) in enumerate(users):
        for teacher in teachers[: 1 + position % 2]:
            slot = _free_slot(session, ptm_day, teacher, position)
            bookings.append(
                ptm.book(
                    session,
                    slot=slot,
                    student=student,
                    guardian_id=guardian.id,
                    user=user,
                    now=booked_at,
                )
            )
    summary.bookings = len(bookings)

    summary.minutes_tasks = ptm.open_minutes_tasks(session, at(day + timedelta(days=1), 0, 20))
    first_slot_id = _first_slot(session, ptm_day, class_teacher)
    task = ptm.task_of(session, CycleKind.PTM_MINUTES, ptm.MINUTES_TARGET, first_slot_id)
    if task is None:
        return
    logged = at(day + timedelta(days=1), 14)
    sheet = ptm.minutes_sheet(session, task)
    due = ptm.default_action_due(session, school, logged)
    entries = []
    for position, row in enumerate(sheet.rows):
        if position == len(sheet.rows) - 1 and len(sheet.rows) > 1:
            entries.append(
                ptm.MinutesEntry(booking_id=row.booking.id, attendance=PtmAttendance.DID_NOT_COME)
            )
            continue
        actions = []
        if position == 0:
            actions.append(
                {
                    "description": "Extra practice sheets in fractions, checked each Monday.",
                    "owner_id": maths.id if maths else class_teacher.id,
                    "due_on": due,
                }
            )
        entries.append(
            ptm.MinutesEntry(
                booking_id=row.booking.id,
                attendance=PtmAttendance.CAME,
                notes="Discussed attendance and homework. The guardian will check the homework "
                "diary every evening.",
                new_actions=actions,
            )
        )
    ptm.save_minutes(session, task, entries, actor=Actor(class_teacher.id), now=logged, submit=True)


def _first_slot(session, ptm_day, teacher) -> int:
    return session.scalar(
        select(func.min(PtmSlot.id)).where(
            PtmSlot.ptm_day_id == ptm_day.id, PtmSlot.teacher_id == teacher.id
        )
    )


def _free_slot(session, ptm_day, teacher, position: int) -> PtmSlot:
    slots = session.scalars(
        select(PtmSlot)
        .where(PtmSlot.ptm_day_id == ptm_day.id, PtmSlot.teacher_id == teacher.id)
        .order_by(PtmSlot.starts_at)
    ).all()
    return slots[position % len(slots)]


def _next_ptm(session, school, class_teacher, users, today, now, summary) -> None:
    """A PTM day after today with the class teacher's times open, one already booked."""
    day = _school_day(session, school, today + timedelta(days=7), today + timedelta(days=40), False)
    if day is None:
        return
    ptm_day = ptm.save_day(
        session,
        unit=school,
        ptm_day=None,
        values={
            "day": day,
            "name_en": "Parent–teacher meeting (next)",
            "name_ur": "اگلی والدین اساتذہ میٹنگ",
        },
        version=None,
        actor=SYSTEM,
        now=now,
    )
    summary.next_ptm_day_id = ptm_day.id
    ptm.open_slots(
        session,
        ptm_day=ptm_day,
        school=school,
        teacher=class_teacher,
        starts=time(13, 0),
        ends=time(14, 30),
        minutes=15,
        now=now,
    )
    if len(users) > 1:
        user, guardian, student = users[1]
        ptm.book(
            session,
            slot=_free_slot(session, ptm_day, class_teacher, 0),
            student=student,
            guardian_id=guardian.id,
            user=user,
            now=now,
        )
        summary.bookings += 1
