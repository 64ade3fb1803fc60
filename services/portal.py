"""What a guardian sees of their own children, and the cache of published results.

Every function here takes a student the caller has already checked is linked to the
signed-in guardian (the web app's `GuardianChildContext`). Only published or signed-off
records appear: published marks at their latest version, feedback of approved tasks,
submitted PTM minutes, and health screenings the health staff chose to share.

Published results change only when a sheet is published or an amendment is approved,
and both raise the sheet's `published_version`. The cache keeps each student's results
with a fingerprint of those versions, checks the fingerprint with one small query on
every read, and rebuilds on any difference, so an approved amendment shows on the next
request in every web process.
"""

import functools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Integer, bindparam, exists, func, select
from sqlalchemy.orm import Session

from spets.models import (
    AcademicYear,
    AuditAction,
    BehaviourRubric,
    BroadcastRecipient,
    CorrectionState,
    ExamWindow,
    FamilyCorrection,
    GradeBand,
    GuardianAccount,
    HealthScreening,
    MarkStatus,
    MessageThread,
    PublishedMark,
    ResultSheet,
    Student,
    StudentGuardian,
    Subject,
    Task,
    TaskState,
    ThreadMessage,
    User,
)
from spets.services import (
    attendance,
    audit,
    behaviour,
    calendar,
    feedback,
    grading,
    guardians,
    results,
    scope,
)
from spets.services.audit import Actor
from spets.services.calendar import local_today

# The number of monthly behaviour rubrics the attendance page shows, newest first.
RUBRIC_MONTHS_SHOWN = 12

# The account's children, for the switcher at the top of every page.


@dataclass(frozen=True)
class ChildCard:
    """A child as the switcher shows it: plain values, safe to keep between requests."""

    student_id: int
    name_en: str
    name_ur: str
    grade: int | None
    section_name: str
    school_en: str
    school_ur: str

    def name(self, locale: str) -> str:
        return self.name_ur if locale == "ur" and self.name_ur else self.name_en

    def school_name(self, locale: str) -> str:
        return self.school_ur if locale == "ur" and self.school_ur else self.school_en


# The count and newest id of an account's links to children: any link added or removed
# changes it.
Links = tuple[int, int]


class ChildrenCache:
    """The switcher's children per account, kept for `ttl_seconds`.

    Only the switcher reads it. Each entry keeps the account's links (their count and
    newest id, as `page_state` reads them on every page), and a page that passes other
    links rebuilds it, so a linked or unlinked child shows in every process at once.
    Renamed children, sections and schools show within the TTL.
    """

    def __init__(self, ttl_seconds: float = 60.0, max_entries: int = 50_000):
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[int, tuple[float, Links | None, list[ChildCard]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, user_id: int, links: Links | None = None) -> list[ChildCard] | None:
        with self._lock:
            entry = self._entries.get(user_id)
            if entry is None or entry[0] < time.monotonic():
                return None
            if links is not None and entry[1] != links:
                return None
            return entry[2]

    def put(self, user_id: int, cards: list[ChildCard], links: Links | None = None) -> None:
        with self._lock:
            self._entries[user_id] = (time.monotonic() + self.ttl_seconds, links, cards)
            self._entries.move_to_end(user_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, user_id: int) -> None:
        with self._lock:
            self._entries.pop(user_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


CHILDREN_CACHE = ChildrenCache()


def child_cards(
    session: Session,
    user_id: int,
    *,
    links: Links | None = None,
    cache: ChildrenCache | None = CHILDREN_CACHE,
) -> list[ChildCard]:
    """The account's children for the switcher, by name.

    `links` is the account's links as `page_state` read them: a cached list built with
    other links is read again.
    """
    cards = cache.get(user_id, links) if cache is not None else None
    if cards is not None:
        return cards
    cards = [
        ChildCard(
            student_id=child.student.id,
            name_en=child.student.name_en,
            name_ur=child.student.name_ur,
            grade=child.section.grade if child.section else None,
            section_name=child.section.name if child.section else "",
            school_en=child.school.name_en,
            school_ur=child.school.name_ur,
        )
        for child in guardians.children_of(session, user_id)
    ]
    if cache is not None:
        cache.put(user_id, cards, links)
    return cards


# Published results.


@dataclass(frozen=True)
class ResultLine:
    subject: str
    mark: str  # "" never: lines for marks not entered are left out
    max_marks: str
    percent: Decimal | None
    grade: str
    passed: bool | None
    absent: bool


@dataclass(frozen=True)
class ExamResults:
    exam: str
    starts_on: date
    year_label: str
    lines: tuple[ResultLine, ...]


Fingerprint = tuple[int, ...]


def _fingerprint_columns(student_id, tenant_id) -> list:
    """Scalar subqueries that identify the published state of a student's results.

    The count of the student's published sheets and the sum of their published versions:
    a first publication adds a sheet and an approved amendment raises a version, so any
    publication changes the pair (and adds published rows). The grade scale's size and newest row id are added
    because saving a scale replaces its rows and changes the grades shown.
    """
    sheets = select(PublishedMark.sheet_id).where(PublishedMark.student_id == student_id).distinct()
    published = ResultSheet.id.in_(sheets)
    bands = GradeBand.tenant_id == tenant_id
    return [
        select(func.count(ResultSheet.id)).where(published).scalar_subquery(),
        select(func.coalesce(func.sum(ResultSheet.published_version), 0))
        .where(published)
        .scalar_subquery(),
        # The newest published row of the student ties an entry to these very rows, even if
        # a student id were ever reused after a deletion.
        select(func.coalesce(func.max(PublishedMark.id), 0))
        .where(PublishedMark.student_id == student_id)
        .scalar_subquery(),
        select(func.count(GradeBand.id)).where(bands).scalar_subquery(),
        select(func.coalesce(func.max(GradeBand.id), 0)).where(bands).scalar_subquery(),
    ]


def _unread_columns(user_id) -> list:
    """Scalar subqueries counting the account's unread thread messages and broadcasts."""
    guardian_ids = select(GuardianAccount.guardian_id).where(GuardianAccount.user_id == user_id)
    return [
        select(func.count(ThreadMessage.id))
        .join(MessageThread, MessageThread.id == ThreadMessage.thread_id)
        .where(
            MessageThread.guardian_id.in_(guardian_ids),
            ThreadMessage.author_id != user_id,
            ThreadMessage.read_at.is_(None),
        )
        .scalar_subquery(),
        select(func.count(BroadcastRecipient.id))
        .where(
            BroadcastRecipient.guardian_id.in_(guardian_ids),
            BroadcastRecipient.read_at.is_(None),
        )
        .scalar_subquery(),
    ]


def _links_columns(user_id) -> list:
    """Scalar subqueries for the account's `Links`."""
    links = (
        select(StudentGuardian.id)
        .join(GuardianAccount, GuardianAccount.guardian_id == StudentGuardian.guardian_id)
        .where(GuardianAccount.user_id == user_id)
        .subquery()
    )
    return [
        select(func.count(links.c.id)).scalar_subquery(),
        select(func.coalesce(func.max(links.c.id), 0)).scalar_subquery(),
    ]


@dataclass(frozen=True)
class PageState:
    """What a portal page reads on every request, in one round trip."""

    unread: int
    links: Links
    fingerprint: Fingerprint | None = None


_USER_ID = bindparam("user_id", type_=Integer)
_STUDENT_ID = bindparam("student_id", type_=Integer)
_TENANT_ID = bindparam("tenant_id", type_=Integer)


@functools.cache
def _page_state_statement(with_student: bool):
    """Built once per shape: every portal page runs it with its own bound parameters."""
    columns = _unread_columns(_USER_ID) + _links_columns(_USER_ID)
    if with_student:
        columns += _fingerprint_columns(_STUDENT_ID, _TENANT_ID)
    return select(*columns)


@functools.cache
def _fingerprint_statement():
    return select(*_fingerprint_columns(_STUDENT_ID, _TENANT_ID))


def page_state(session: Session, user_id: int, student: Student | None = None) -> PageState:
    """Read the unread count and, for a student, the fingerprint of their published results."""
    parameters = {"user_id": user_id}
    if student is not None:
        parameters |= {"student_id": student.id, "tenant_id": student.tenant_id}
    row = session.execute(_page_state_statement(student is not None), parameters).one()
    fingerprint = tuple(int(value) for value in row[4:]) if student is not None else None
    return PageState(int(row[0]) + int(row[1]), (int(row[2]), int(row[3])), fingerprint)


def results_fingerprint(session: Session, student: Student) -> Fingerprint:
    """The fingerprint alone, for callers that need no unread count."""
    parameters = {"student_id": student.id, "tenant_id": student.tenant_id}
    row = session.execute(_fingerprint_statement(), parameters).one()
    return tuple(int(value) for value in row)


# The rendered results page: served again while one statement finds nothing it shows changed.

_TODAY = bindparam("today", type_=Date)


@dataclass(frozen=True)
class ResultsPageCheck:
    """Whether the account may read the child's results page, and what the page shows.

    `page_inputs` changes whenever the page would: the child's tenant, the account's
    language, its links to children (the switcher), its unread count and the child's
    results fingerprint.
    """

    may_read: bool
    tenant_id: int | None
    page_inputs: tuple


@functools.cache
def _results_page_check_statement():
    """Built once: the same checks as the page's own, in one row and one round trip.

    The first three columns repeat what the page requires of the request: an active
    account, a portal grant in force today (as the principal is loaded) and a link to the
    child (as `guardians.child_link` finds it).
    """
    user_id, student_id = _USER_ID, _STUDENT_ID
    linked = (
        select(StudentGuardian.id)
        .join(GuardianAccount, GuardianAccount.guardian_id == StudentGuardian.guardian_id)
        .where(GuardianAccount.user_id == user_id, StudentGuardian.student_id == student_id)
    )
    tenant_id = select(Student.tenant_id).where(Student.id == student_id).scalar_subquery()
    return select(
        exists().where(User.id == user_id, User.is_active.is_(True)),
        scope.holds_role_permission(user_id, _TODAY, scope.Permission.PORTAL),
        exists(linked),
        tenant_id,
        select(User.locale).where(User.id == user_id).scalar_subquery(),
        *_links_columns(user_id),
        *_unread_columns(user_id),
        *_fingerprint_columns(student_id, tenant_id),
    )


def check_results_page(connection, user_id: int, student_id: int, today: date) -> ResultsPageCheck:
    """Read the check on `connection`, a Session or a Connection outside the request's own."""
    parameters = {"user_id": user_id, "student_id": student_id, "today": today}
    row = connection.execute(_results_page_check_statement(), parameters).one()
    active, portal_granted, linked = (bool(value) for value in row[:3])
    return ResultsPageCheck(active and portal_granted and linked, row[3], tuple(row[3:]))


@functools.cache
def _results_statement():
    """Select the columns of a student's newest published marks, oldest exam first.

    Built once, with plain columns and no entities: every uncached results page runs it,
    and the page changes none of the rows it reads.
    """
    student_id = _STUDENT_ID
    latest = results.latest_published_versions(student_id)
    return (
        select(
            ExamWindow.id.label("exam_id"),
            ExamWindow.name_en.label("exam_en"),
            ExamWindow.name_ur.label("exam_ur"),
            ExamWindow.starts_on,
            AcademicYear.label.label("year_label"),
            Subject.name_en.label("subject_en"),
            Subject.name_ur.label("subject_ur"),
            ResultSheet.max_marks,
            ResultSheet.pass_marks,
            PublishedMark.status,
            PublishedMark.marks,
        )
        .join(PublishedMark, PublishedMark.sheet_id == ResultSheet.id)
        .join(
            latest,
            (latest.c.sheet_id == PublishedMark.sheet_id)
            & (latest.c.version == PublishedMark.version),
        )
        .join(ExamWindow, ExamWindow.id == ResultSheet.exam_window_id)
        .join(AcademicYear, AcademicYear.id == ExamWindow.academic_year_id)
        .join(Subject, Subject.id == ResultSheet.subject_id)
        .where(PublishedMark.student_id == student_id)
        .order_by(ExamWindow.starts_on, ResultSheet.subject_id)
    )


def _in_locale(english: str, urdu: str | None, locale: str) -> str:
    return urdu if locale == "ur" and urdu else english


def load_results(session: Session, student: Student, locale: str) -> list[ExamResults]:
    """Read the student's published marks, grouped by exam in the order the exams came."""
    rows = session.execute(_results_statement(), {"student_id": student.id}).all()
    if not rows:
        return []
    bands = results.bands_of(session, student.tenant_id)

    exams: dict[int, tuple[str, date, str, list[ResultLine]]] = {}
    for row in rows:
        if row.status == MarkStatus.MISSING:
            continue
        percent = grade = passed = None
        if row.status == MarkStatus.ENTERED:
            percent = grading.percent(row.marks, row.max_marks)
            grade = grading.grade_for(percent, bands).grade
            passed = row.marks >= row.pass_marks
        entry = exams.setdefault(
            row.exam_id,
            (_in_locale(row.exam_en, row.exam_ur, locale), row.starts_on, row.year_label, []),
        )
        entry[3].append(
            ResultLine(
                subject=_in_locale(row.subject_en, row.subject_ur, locale),
                mark=grading.show_mark(row.status, row.marks),
                max_marks=grading.show_mark(MarkStatus.ENTERED, row.max_marks),
                percent=percent,
                grade=grade or "",
                passed=passed,
                absent=row.status == MarkStatus.ABSENT,
            )
        )

    ordered = sorted(exams.values(), key=lambda item: item[1])
    return [
        ExamResults(name, starts_on, year_label, tuple(lines))
        for name, starts_on, year_label, lines in ordered
    ]


class PublishedResultsCache:
    """A bounded in-process cache of published results per (student, language).

    An entry is served only while the fingerprint read on the same request equals the
    one it was built with. `ttl_seconds` bounds how long renamed subjects or exam windows
    (which change no fingerprint) can show their old names; marks are never stale.
    """

    def __init__(self, max_entries: int = 50_000, ttl_seconds: float = 600.0):
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._entries: OrderedDict[tuple[int, str], tuple[Fingerprint, float, list]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, student_id: int, locale: str, fingerprint: Fingerprint) -> list | None:
        key = (student_id, locale)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != fingerprint or entry[1] < time.monotonic():
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[2]

    def put(self, student_id: int, locale: str, fingerprint: Fingerprint, value: list) -> None:
        with self._lock:
            self._entries[(student_id, locale)] = (
                fingerprint,
                time.monotonic() + self.ttl_seconds,
                value,
            )
            self._entries.move_to_end((student_id, locale))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


RESULTS_CACHE = PublishedResultsCache()


def published_results(
    session: Session,
    student: Student,
    locale: str,
    *,
    cache: PublishedResultsCache | None = RESULTS_CACHE,
    fingerprint: Fingerprint | None = None,
) -> list[ExamResults]:
    """The student's published results, from the cache when the fingerprint still matches.

    `fingerprint` saves a query when the caller read it on this request (`page_state`).
    """
    if cache is None:
        return load_results(session, student, locale)
    if fingerprint is None:
        fingerprint = results_fingerprint(session, student)
    cached = cache.get(student.id, locale, fingerprint)
    if cached is not None:
        return cached
    value = load_results(session, student, locale)
    cache.put(student.id, locale, fingerprint, value)
    return value


# Subject feedback in plain words.


@dataclass
class FeedbackWeakness:
    text: str
    planned_action: str
    progress: object  # a feedback.Progress, or None before the next quarter rates it


@dataclass
class FeedbackQuarter:
    subject: str
    quarter: str
    strengths: list[str] = field(default_factory=list)
    weaknesses: list[FeedbackWeakness] = field(default_factory=list)


def approved_feedback(session: Session, student_id: int, locale: str) -> list[FeedbackQuarter]:
    """Each subject's feedback of quarters whose task the head teacher approved, newest first.

    Feedback still waiting for sign-off is not shown to guardians, nor is the teacher's
    internal note.
    """
    shown = []
    for history in feedback.student_history(session, student_id):
        subject = history.subject.name(locale)
        for quarter in history.quarters:
            if not quarter.approved:
                continue
            shown.append(
                FeedbackQuarter(
                    subject=subject,
                    quarter=quarter.label(locale),
                    strengths=[ur if locale == "ur" and ur else en for en, ur in quarter.strengths],
                    weaknesses=[
                        FeedbackWeakness(w.text(locale), w.planned_action, w.progress)
                        for w in quarter.weaknesses
                    ],
                )
            )
    shown.sort(key=lambda q: q.quarter, reverse=True)
    return shown


# Attendance and behaviour.


@dataclass(frozen=True)
class RubricMonth:
    """A month's behaviour rubric as guardians see it: the four levels, never the note."""

    month: date
    levels: dict[str, int]  # area code (behaviour.RUBRIC_AREAS) to level 1-4


@dataclass(frozen=True)
class AttendanceSummary:
    year_label: str
    total: attendance.Figures
    months: list[tuple[date, attendance.Figures]]  # months with a saved register, newest first
    rubrics: list[RubricMonth]  # newest month first


def attendance_summary(
    session: Session, student: Student, now: datetime
) -> AttendanceSummary | None:
    """Return the child's attendance this academic year so far and the approved behaviour rubrics.

    Returns None when the tenant has no academic year around today. A rubric shows only once
    the head teacher approved its month's sheet, like feedback.
    """
    today = today_for(student, now)
    year = calendar.current_year(session, student.tenant_id, today)
    if year is None:
        return None
    figures = attendance.student_attendance(
        session, student, year.starts_on, min(today, year.ends_on)
    )
    rubrics = session.scalars(
        select(BehaviourRubric)
        .join(Task, Task.id == BehaviourRubric.task_id)
        .where(BehaviourRubric.student_id == student.id, Task.state == TaskState.APPROVED)
        .order_by(BehaviourRubric.month.desc())
        .limit(RUBRIC_MONTHS_SHOWN)
    ).all()
    return AttendanceSummary(
        year_label=year.label,
        total=figures.total,
        # Months without a saved register (holidays, or before SPeTS was used) are left out.
        months=[(month, row) for month, row in reversed(figures.months) if row.marked],
        rubrics=[
            RubricMonth(
                rubric.month,
                {area: getattr(rubric, area) for area in behaviour.RUBRIC_AREAS},
            )
            for rubric in rubrics
        ],
    )


# Health items the health staff chose to share.


@dataclass
class SharedScreening:
    screened_on: date
    height_cm: Decimal | None
    weight_kg: Decimal | None
    classifications: list[str]
    vision_left: str
    vision_right: str
    findings: dict[str, object]  # hearing, dental, skin, hygiene: a models.Finding each


def shared_health(
    session: Session, student: Student, *, actor: Actor, now: datetime
) -> list[SharedScreening]:
    """Screenings the health staff marked to share with the guardian, newest first.

    Only the measurements and findings are shown, never the staff's note or the z-scores.
    The read is audited like every read of health data.
    """
    rows = session.scalars(
        select(HealthScreening)
        .where(
            HealthScreening.student_id == student.id,
            HealthScreening.share_with_guardian.is_(True),
        )
        .order_by(HealthScreening.screened_on.desc(), HealthScreening.id.desc())
    ).all()
    if rows:
        audit.record(
            session,
            actor=actor,
            action=AuditAction.READ,
            entity_type="health_screening",
            entity_id=None,
            student_id=student.id,
            category="health",
            reason=f"parent portal: {len(rows)} shared screening(s)",
            now=now,
        )
    return [
        SharedScreening(
            screened_on=row.screened_on,
            height_cm=row.height_cm,
            weight_kg=row.weight_kg,
            classifications=list(row.classifications or []),
            vision_left=row.vision_left,
            vision_right=row.vision_right,
            findings={
                "hearing": row.hearing,
                "dental": row.dental,
                "skin": row.skin,
                "hygiene": row.hygiene,
            },
        )
        for row in rows
    ]


# Corrections the guardian proposed.


def open_corrections(session: Session, student_id: int, guardian_ids: list[int]) -> int:
    return session.scalar(
        select(func.count(FamilyCorrection.id)).where(
            FamilyCorrection.student_id == student_id,
            FamilyCorrection.guardian_id.in_(guardian_ids),
            FamilyCorrection.state == CorrectionState.REQUESTED,
        )
    )


def today_for(student: Student, now: datetime) -> date:
    return local_today(now, student.school.timezone)
