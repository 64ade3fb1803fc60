"""The term calendar: academic years, quarters, exam windows, holidays and closures."""

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spets.models.meta import Base
from spets.models.org import OrgUnit
from spets.models.types import enum_type


class AcademicYear(Base):
    """A tenant's academic year, 1 April to 31 March, labelled like ``2025-26``."""

    __tablename__ = "academic_years"
    __table_args__ = (
        UniqueConstraint("tenant_id", "label"),
        CheckConstraint("starts_on < ends_on", name="starts_before_ends"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    label: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    weekly_off_days: Mapped[str] = mapped_column(
        String(16),
        default="7",
        comment="ISO weekdays without school, comma-separated: 7 is Sunday",
    )
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    tenant: Mapped[OrgUnit] = relationship()
    quarters: Mapped[list["Quarter"]] = relationship(
        back_populates="academic_year", order_by="Quarter.number", cascade="all, delete-orphan"
    )
    exam_windows: Mapped[list["ExamWindow"]] = relationship(
        back_populates="academic_year",
        order_by="ExamWindow.starts_on",
        cascade="all, delete-orphan",
    )

    @property
    def off_weekdays(self) -> frozenset[int]:
        return frozenset(int(part) for part in self.weekly_off_days.split(",") if part.strip())


class Quarter(Base):
    __tablename__ = "quarters"
    __table_args__ = (
        UniqueConstraint("academic_year_id", "number"),
        CheckConstraint("number BETWEEN 1 AND 4", name="number_range"),
        CheckConstraint("starts_on <= ends_on", name="starts_before_ends"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    academic_year_id: Mapped[int] = mapped_column(ForeignKey("academic_years.id"), index=True)
    number: Mapped[int]
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    academic_year: Mapped[AcademicYear] = relationship(back_populates="quarters")


class ExamKind(enum.StrEnum):
    MONTHLY_ASSESSMENT = "monthly_assessment"
    DECEMBER_TEST = "december_test"
    ANNUAL_EXAM = "annual_exam"


class ExamWindow(Base):
    __tablename__ = "exam_windows"
    __table_args__ = (CheckConstraint("starts_on <= ends_on", name="starts_before_ends"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    academic_year_id: Mapped[int] = mapped_column(ForeignKey("academic_years.id"), index=True)
    kind: Mapped[ExamKind] = mapped_column(enum_type(ExamKind, "exam_kind"))
    name_en: Mapped[str] = mapped_column(String(120))
    name_ur: Mapped[str] = mapped_column(String(120))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    academic_year: Mapped[AcademicYear] = relationship(back_populates="exam_windows")

    def name(self, locale: str) -> str:
        return self.name_ur if locale == "ur" and self.name_ur else self.name_en


class DayOffKind(enum.StrEnum):
    GAZETTED = "gazetted"
    VACATION = "vacation"
    CLOSURE = "closure"


class DayOff(Base):
    """Days without school for an org subtree: a gazetted holiday, a vacation or a closure.

    A row applies to its org unit and every unit below it. Gazetted holidays come from
    the ``holidays`` package; vacations and closures are entered by admins, sometimes
    after the fact, which is why ``announced_at`` is kept.
    """

    __tablename__ = "days_off"
    __table_args__ = (
        UniqueConstraint("org_unit_id", "kind", "starts_on", "name_en"),
        CheckConstraint("starts_on <= ends_on", name="starts_before_ends"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    kind: Mapped[DayOffKind] = mapped_column(enum_type(DayOffKind, "day_off_kind"))
    name_en: Mapped[str] = mapped_column(String(200))
    name_ur: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(index=True)
    ends_on: Mapped[date] = mapped_column(index=True)
    announced_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    org_unit: Mapped[OrgUnit] = relationship()

    def name(self, locale: str) -> str:
        return self.name_ur if locale == "ur" and self.name_ur else self.name_en
