"""Exam results: grade scales, result sheets and marks, published versions and amendments.

A result sheet holds the marks of one section in one subject for one exam window. Once a
head teacher publishes it, it is locked: the published marks are copied into
`PublishedMark` under a version number, and any later change is an approved amendment
that publishes the next version, keeping the earlier ones.
"""

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spets.models.calendar import ExamWindow
from spets.models.meta import Base
from spets.models.org import Section, Subject
from spets.models.people import Student, User
from spets.models.types import enum_type

MARK = Numeric(6, 2)


class GradeBand(Base):
    """One band of a tenant's grade scale: the lowest rounded percentage that earns the grade."""

    __tablename__ = "grade_bands"
    __table_args__ = (UniqueConstraint("tenant_id", "grade"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    grade: Mapped[str] = mapped_column(String(8))
    min_percent: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    passing: Mapped[bool] = mapped_column(default=True)


class SheetState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    PUBLISHED = "published"


class ResultSheet(Base):
    __tablename__ = "result_sheets"
    __table_args__ = (
        UniqueConstraint("section_id", "subject_id", "exam_window_id"),
        CheckConstraint("max_marks > 0", name="max_positive"),
        CheckConstraint("pass_marks >= 0 AND pass_marks <= max_marks", name="pass_within_max"),
        CheckConstraint("step IN (0.5, 1)", name="step_half_or_whole"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    exam_window_id: Mapped[int] = mapped_column(ForeignKey("exam_windows.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), unique=True)
    max_marks: Mapped[Decimal] = mapped_column(MARK)
    pass_marks: Mapped[Decimal] = mapped_column(MARK)
    step: Mapped[Decimal] = mapped_column(
        Numeric(3, 1), comment="Marks are given in steps of 1 or 0.5"
    )
    state: Mapped[SheetState] = mapped_column(enum_type(SheetState, "sheet_state"))
    published_version: Mapped[int] = mapped_column(default=0, comment="0 until first published")
    submitted_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    lock_version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": lock_version}

    section: Mapped[Section] = relationship()
    subject: Mapped[Subject] = relationship()
    exam_window: Mapped[ExamWindow] = relationship()

    @property
    def is_locked(self) -> bool:
        return self.state == SheetState.PUBLISHED


class MarkStatus(enum.StrEnum):
    """A mark is entered (zero included), the student was absent, or it is not entered yet."""

    ENTERED = "entered"
    ABSENT = "absent"
    MISSING = "missing"


class Mark(Base):
    __tablename__ = "marks"
    __table_args__ = (
        UniqueConstraint("sheet_id", "student_id"),
        CheckConstraint(
            "(status = 'entered') = (marks IS NOT NULL)", name="marks_only_when_entered"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("result_sheets.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    status: Mapped[MarkStatus] = mapped_column(enum_type(MarkStatus, "mark_status"))
    marks: Mapped[Decimal | None] = mapped_column(MARK)
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    student: Mapped[Student] = relationship()


class PublishedMark(Base):
    """A mark as published in one version of a sheet; earlier versions stay for the history."""

    __tablename__ = "published_marks"
    __table_args__ = (
        UniqueConstraint("sheet_id", "version", "student_id"),
        Index("ix_published_marks_student", "student_id", "sheet_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("result_sheets.id"))
    version: Mapped[int]
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    status: Mapped[MarkStatus] = mapped_column(enum_type(MarkStatus, "mark_status"))
    marks: Mapped[Decimal | None] = mapped_column(MARK)
    published_at: Mapped[datetime]


class AmendmentState(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


class Amendment(Base):
    """A requested change to one published mark, with its reason and the decision on it."""

    __tablename__ = "amendments"
    __table_args__ = (Index("ix_amendments_sheet_state", "sheet_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("result_sheets.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    old_status: Mapped[MarkStatus] = mapped_column(enum_type(MarkStatus, "old_mark_status"))
    old_marks: Mapped[Decimal | None] = mapped_column(MARK)
    new_status: Mapped[MarkStatus] = mapped_column(enum_type(MarkStatus, "new_mark_status"))
    new_marks: Mapped[Decimal | None] = mapped_column(MARK)
    reason: Mapped[str] = mapped_column(String(1000))
    state: Mapped[AmendmentState] = mapped_column(enum_type(AmendmentState, "amendment_state"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str] = mapped_column(String(1000), default="")
    published_version: Mapped[int | None] = mapped_column(
        comment="The version the approval published"
    )
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    sheet: Mapped[ResultSheet] = relationship()
    student: Mapped[Student] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])


class ResultOptions(Base):
    """A tenant's choices for results; a tenant without a row uses the defaults."""

    __tablename__ = "result_options"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)
    show_class_position: Mapped[bool] = mapped_column(
        default=False, comment="Print each student's position in the section on report cards"
    )
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
