"""Daily registers: which day a section was marked, and the students not simply present.

A register stores only the exceptions (absent, late, on leave): every student enrolled in
the section on that day and not listed was present. A school of 1,500 students then
stores a few rows a day instead of 1,500, and the figures count from the enrollments.
"""

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spets.models.meta import Base
from spets.models.org import Section
from spets.models.people import Student
from spets.models.types import enum_type


class AttendanceStatus(enum.StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    LATE = "late"
    LEAVE = "leave"


class AttendanceDay(Base):
    """A section's register for one school day, once it has been marked."""

    __tablename__ = "attendance_days"
    __table_args__ = (UniqueConstraint("section_id", "day"), Index("ix_attendance_days_day", "day"))

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id"))
    day: Mapped[date]
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    marked_at: Mapped[datetime]
    corrections: Mapped[int] = mapped_column(
        default=0, comment="Times the day was reopened and saved"
    )
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    section: Mapped[Section] = relationship()
    marks: Mapped[list["AttendanceMark"]] = relationship(
        back_populates="attendance_day", cascade="all, delete-orphan"
    )


class AttendanceMark(Base):
    """A student who was not simply present on a marked day."""

    __tablename__ = "attendance_marks"
    __table_args__ = (
        UniqueConstraint("attendance_day_id", "student_id"),
        Index("ix_attendance_marks_student", "student_id", "status"),
        CheckConstraint("status <> 'present'", name="exceptions_only"),
        CheckConstraint("status = 'leave' OR leave_reason = ''", name="reason_only_for_leave"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attendance_day_id: Mapped[int] = mapped_column(
        ForeignKey("attendance_days.id", ondelete="CASCADE")
    )
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    status: Mapped[AttendanceStatus] = mapped_column(
        enum_type(AttendanceStatus, "attendance_status")
    )
    leave_reason: Mapped[str] = mapped_column(String(200), default="")

    attendance_day: Mapped[AttendanceDay] = relationship(back_populates="marks")
    student: Mapped[Student] = relationship()


class AttendanceOptions(Base):
    """A school's choices for attendance; a school without a row uses the defaults."""

    __tablename__ = "attendance_options"

    school_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)
    notify_guardian_of_absence: Mapped[bool] = mapped_column(
        default=False, comment="Message the guardian on the first day of an absence"
    )
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
