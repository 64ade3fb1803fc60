"""Report cards: each student's published marks for a term, with totals, grades and position.

A term is a part of the academic year (1 April to 31 March):

- ``first``: the exam windows that start from April to September,
- ``second``: the exam windows that start from October to March,
- ``year``: every exam window of the year.

Only published marks appear, each at its latest published version, so an approved
amendment shows and a draft never does. A paper the student was absent from counts as
0 marks of its maximum in the totals. Percentages are rounded half up to one decimal
place, and the grade comes from the tenant's scale applied to the rounded percentage.
The data of a whole section is read with a fixed number of queries, whatever its size.
"""

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from spets.i18n import _
from spets.models import (
    AcademicYear,
    AuditAction,
    Enrollment,
    ExamWindow,
    MarkStatus,
    OrgUnit,
    PublishedMark,
    ResultSheet,
    Section,
    Student,
    Subject,
    TeachingAssignment,
)
from spets.services import audit, grading, results
from spets.services.errors import InvalidInput, NotFound

ZERO = Decimal(0)


class Term(enum.StrEnum):
    FIRST = "first"
    SECOND = "second"
    YEAR = "year"


TERM_LABELS = {
    Term.FIRST: _("card_term_first", default="First term (April to September)"),
    Term.SECOND: _("card_term_second", default="Second term (October to March)"),
    Term.YEAR: _("card_term_year", default="Whole year"),
}


def parse_term(text: str | None) -> Term:
    """Read the `term` parameter. An empty value means the whole year."""
    if not text:
        return Term.YEAR
    try:
        return Term(text)
    except ValueError:
        raise InvalidInput(
            _(
                "card_term_invalid",
                default='"${value}" is not a term. Use first, second or year.',
                mapping={"value": text[:40]},
            )
        ) from None


def term_dates(year: AcademicYear, term: Term) -> tuple[date, date]:
    """Return the first and last day of the term inside the academic year."""
    month_index = year.starts_on.month - 1 + 6
    second_half = date(year.starts_on.year + month_index // 12, month_index % 12 + 1, 1)
    if term == Term.FIRST:
        return year.starts_on, second_half - timedelta(days=1)
    if term == Term.SECOND:
        return second_half, year.ends_on
    return year.starts_on, year.ends_on


def find_year(session: Session, tenant_id: int, label: str) -> AcademicYear:
    """Return the tenant's academic year labelled like ``2025-26``."""
    year = session.scalar(
        select(AcademicYear).where(
            AcademicYear.tenant_id == tenant_id, AcademicYear.label == label.strip()
        )
    )
    if year is None:
        raise NotFound(
            _(
                "card_year_not_found",
                default='There is no academic year "${label}". Write it like 2025-26.',
                mapping={"label": label[:20]},
            )
        )
    return year


def card_years(session: Session, student: Student, today: date) -> list[AcademicYear]:
    """Return the academic years a card of the student can show, newest first.

    These are the current year and every year in which the student has a published mark,
    read in one query.
    """
    published = (
        select(ExamWindow.academic_year_id)
        .join(ResultSheet, ResultSheet.exam_window_id == ExamWindow.id)
        .join(PublishedMark, PublishedMark.sheet_id == ResultSheet.id)
        .where(PublishedMark.student_id == student.id)
    )
    current = (AcademicYear.starts_on <= today) & (AcademicYear.ends_on >= today)
    return list(
        session.scalars(
            select(AcademicYear)
            .where(
                AcademicYear.tenant_id == student.tenant_id,
                current | AcademicYear.id.in_(published),
            )
            .order_by(AcademicYear.starts_on.desc())
        )
    )


# What a card holds.


@dataclass(frozen=True)
class ExamColumn:
    window_id: int
    name_en: str
    name_ur: str
    starts_on: date

    def name(self, locale: str) -> str:
        return self.name_ur if locale == "ur" and self.name_ur else self.name_en


@dataclass(frozen=True)
class Paper:
    """One published mark: entered (zero included) or absent, out of the sheet's maximum."""

    status: MarkStatus
    marks: Decimal | None
    max_marks: Decimal

    @property
    def obtained(self) -> Decimal:
        return self.marks if self.status == MarkStatus.ENTERED and self.marks is not None else ZERO


@dataclass(frozen=True)
class Score:
    """Marks obtained out of a maximum, with the rounded percentage and its grade."""

    obtained: Decimal
    maximum: Decimal
    percent: Decimal
    grade: str


@dataclass
class SubjectLine:
    subject_id: int
    name_en: str
    name_ur: str
    papers: dict[int, Paper] = field(default_factory=dict)  # by exam window id
    score: Score | None = None  # None until a paper of the term is published

    def name(self, locale: str) -> str:
        return self.name_ur if locale == "ur" and self.name_ur else self.name_en


@dataclass
class Card:
    student: Student
    lines: list[SubjectLine]
    total: Score | None = None
    position: int | None = None  # set only when the tenant shows class positions


@dataclass
class SectionCards:
    school: OrgUnit
    section: Section
    year: AcademicYear
    term: Term
    starts_on: date
    ends_on: date
    exams: list[ExamColumn]
    cards: list[Card]
    show_position: bool
    ranked: int = 0  # students with a published mark, out of whom positions are counted

    @property
    def term_label(self):
        return TERM_LABELS[self.term]


# Gathering.


def section_cards(
    session: Session, section: Section, term: Term, *, student_ids: set[int] | None = None
) -> SectionCards:
    """Gather the cards of every student enrolled in the section during the term.

    Positions are counted over the whole section even when `student_ids` keeps only some
    cards. The number of queries does not depend on the number of students.
    """
    year = section.academic_year
    school = section.school
    starts_on, ends_on = term_dates(year, term)
    tenant_id = school.tenant_id or school.id

    students = _students(session, section, starts_on, ends_on)
    # NOTE: a student who changed section during the term brings the papers of both
    # sections, so their total and position here also count the other section's sheets.
    exams = _exam_columns(session, year, starts_on, ends_on)
    window_ids = [exam.window_id for exam in exams]
    papers = _published_papers(session, [student.id for student in students], window_ids)
    subjects = _subjects(session, section, starts_on, ends_on, window_ids, papers)
    bands = results.bands_of(session, tenant_id)
    show_position = results.options_of(session, tenant_id).show_class_position

    cards = [_card(student, subjects, papers.get(student.id, {}), bands) for student in students]
    ranked = _rank(cards) if show_position else 0
    if student_ids is not None:
        cards = [card for card in cards if card.student.id in student_ids]
    return SectionCards(
        school=school,
        section=section,
        year=year,
        term=term,
        starts_on=starts_on,
        ends_on=ends_on,
        exams=exams,
        cards=cards,
        show_position=show_position,
        ranked=ranked,
    )


def student_card(
    session: Session, student: Student, year: AcademicYear, term: Term
) -> SectionCards:
    """Gather one student's card, in the section they were enrolled in during the term.

    A student who changed section during the term gets the card of the latest one.
    """
    starts_on, ends_on = term_dates(year, term)
    section = session.scalar(
        select(Section)
        .join(Enrollment, Enrollment.section_id == Section.id)
        .where(
            Enrollment.student_id == student.id,
            Section.academic_year_id == year.id,
            Enrollment.starts_on <= ends_on,
            or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= starts_on),
        )
        .order_by(Enrollment.starts_on.desc(), Enrollment.id.desc())
        .limit(1)
    )
    if section is None:
        raise NotFound(
            _(
                "card_no_enrollment",
                default="${student} was not enrolled in a section during this term of ${year}.",
                mapping={"student": student.name_en, "year": year.label},
            )
        )
    return section_cards(session, section, term, student_ids={student.id})


def _students(session: Session, section: Section, starts_on: date, ends_on: date) -> list[Student]:
    rows = session.scalars(
        select(Student)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .where(
            Enrollment.section_id == section.id,
            Enrollment.starts_on <= ends_on,
            or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= starts_on),
        )
        .order_by(Student.name_en, Student.id)
    ).all()
    return list(dict.fromkeys(rows))  # a student enrolled twice in the term appears once


def _exam_columns(
    session: Session, year: AcademicYear, starts_on: date, ends_on: date
) -> list[ExamColumn]:
    windows = session.scalars(
        select(ExamWindow)
        .where(
            ExamWindow.academic_year_id == year.id,
            ExamWindow.starts_on >= starts_on,
            ExamWindow.starts_on <= ends_on,
        )
        .order_by(ExamWindow.starts_on, ExamWindow.id)
    ).all()
    return [ExamColumn(w.id, w.name_en, w.name_ur, w.starts_on) for w in windows]


PapersByStudent = dict[int, dict[int, dict[int, Paper]]]  # student -> subject -> window -> paper


def _published_papers(
    session: Session, student_ids: list[int], window_ids: list[int]
) -> PapersByStudent:
    """Read the latest published version of each mark of these students in these windows.

    The same rule as `results.published_marks`, for many students in one query. Marks
    published as missing (not entered) are left out, so they show as not published.
    """
    if not student_ids or not window_ids:
        return {}
    latest = (
        select(
            PublishedMark.sheet_id,
            PublishedMark.student_id,
            func.max(PublishedMark.version).label("version"),
        )
        .join(ResultSheet, ResultSheet.id == PublishedMark.sheet_id)
        .where(
            PublishedMark.student_id.in_(student_ids),
            ResultSheet.exam_window_id.in_(window_ids),
        )
        .group_by(PublishedMark.sheet_id, PublishedMark.student_id)
        .subquery()
    )
    rows = session.execute(
        select(
            PublishedMark.student_id,
            PublishedMark.status,
            PublishedMark.marks,
            ResultSheet.subject_id,
            ResultSheet.exam_window_id,
            ResultSheet.max_marks,
        )
        .join(
            latest,
            (latest.c.sheet_id == PublishedMark.sheet_id)
            & (latest.c.student_id == PublishedMark.student_id)
            & (latest.c.version == PublishedMark.version),
        )
        .join(ResultSheet, ResultSheet.id == PublishedMark.sheet_id)
        .order_by(ResultSheet.id)
    ).all()
    papers: PapersByStudent = {}
    for student_id, status, marks, subject_id, window_id, max_marks in rows:
        if status == MarkStatus.MISSING:
            continue
        by_subject = papers.setdefault(student_id, {}).setdefault(subject_id, {})
        by_subject[window_id] = Paper(status, marks, max_marks)
    return papers


def _subjects(
    session: Session,
    section: Section,
    starts_on: date,
    ends_on: date,
    window_ids: list[int],
    papers: PapersByStudent,
) -> list[Subject]:
    """Subjects taught in the section during the term, or with a sheet or a published mark in it.

    A subject without a published paper still gets a line, so the card shows it as not
    yet published instead of leaving it out.
    """
    taught = select(TeachingAssignment.subject_id).where(
        TeachingAssignment.section_id == section.id,
        TeachingAssignment.valid_from <= ends_on,
        or_(TeachingAssignment.valid_to.is_(None), TeachingAssignment.valid_to >= starts_on),
    )
    ids = set(session.scalars(taught))
    if window_ids:
        ids |= set(
            session.scalars(
                select(ResultSheet.subject_id).where(
                    ResultSheet.section_id == section.id,
                    ResultSheet.exam_window_id.in_(window_ids),
                )
            )
        )
    for by_subject in papers.values():
        ids |= set(by_subject)
    if not ids:
        return []
    return list(session.scalars(select(Subject).where(Subject.id.in_(ids)).order_by(Subject.id)))


def _score(obtained: Decimal, maximum: Decimal, bands: list[grading.Band]) -> Score:
    percent = grading.percent(obtained, maximum)
    return Score(obtained, maximum, percent, grading.grade_for(percent, bands).grade)


def _card(
    student: Student,
    subjects: list[Subject],
    papers: dict[int, dict[int, Paper]],
    bands: list[grading.Band],
) -> Card:
    lines = []
    total_obtained = total_maximum = ZERO
    for subject in subjects:
        line = SubjectLine(subject.id, subject.name_en, subject.name_ur)
        line.papers = dict(papers.get(subject.id, {}))
        if line.papers:
            obtained = sum((paper.obtained for paper in line.papers.values()), ZERO)
            maximum = sum((paper.max_marks for paper in line.papers.values()), ZERO)
            line.score = _score(obtained, maximum, bands)
            total_obtained += obtained
            total_maximum += maximum
        lines.append(line)
    total = _score(total_obtained, total_maximum, bands) if total_maximum else None
    return Card(student=student, lines=lines, total=total)


def _rank(cards: list[Card]) -> int:
    """Give each card with a total its position by rounded percentage, and return how many.

    Equal percentages share a position, and the next one skips ahead ("1, 2, 2, 4").
    """
    ranked = sorted((card for card in cards if card.total), key=lambda c: -c.total.percent)
    previous_percent, previous_position = None, 0
    for index, card in enumerate(ranked, start=1):
        if card.total.percent != previous_percent:
            previous_percent, previous_position = card.total.percent, index
        card.position = previous_position
    return len(ranked)


def audit_export(
    session: Session,
    cards: SectionCards,
    *,
    student: Student | None,
    actor: audit.Actor,
    now: datetime,
    reason: str,
) -> None:
    """Record one export event for a file of report cards.

    A single student's card (`student` given) is recorded against the student, a
    section's file against the section. Marks are not a sensitive category, but a card
    leaves the system as a document, so it is audited like the exports of the student list.
    """
    audit.record(
        session,
        actor=actor,
        action=AuditAction.EXPORT,
        entity_type="report_card" if student else "section_report_cards",
        entity_id=student.id if student else cards.section.id,
        student_id=student.id if student else None,
        org_unit_id=cards.school.id,
        reason=f"{reason}; {cards.year.label} {cards.term.value}; {len(cards.cards)} card(s)",
        now=now,
    )
