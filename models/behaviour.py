"""Behaviour: the monthly rubric, incidents, early-warning flags and intervention plans."""

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spets.models.meta import Base
from spets.models.people import Student, User
from spets.models.types import enum_type


class BehaviourRubric(Base):
    """One student's rubric for one month: four areas, each on a level from 1 (needs help) to 4."""

    __tablename__ = "behaviour_rubrics"
    __table_args__ = (
        UniqueConstraint("student_id", "month"),
        CheckConstraint("discipline BETWEEN 1 AND 4", name="discipline_level"),
        CheckConstraint("punctuality BETWEEN 1 AND 4", name="punctuality_level"),
        CheckConstraint("cleanliness BETWEEN 1 AND 4", name="cleanliness_level"),
        CheckConstraint("hygiene BETWEEN 1 AND 4", name="hygiene_level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id"), index=True)
    month: Mapped[date] = mapped_column(comment="The first day of the month rated")
    discipline: Mapped[int]
    punctuality: Mapped[int]
    cleanliness: Mapped[int]
    hygiene: Mapped[int] = mapped_column(comment="Personal hygiene")
    note: Mapped[str] = mapped_column(String(500), default="")
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class IncidentKind(enum.StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_student_day", "student_id", "occurred_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    kind: Mapped[IncidentKind] = mapped_column(enum_type(IncidentKind, "incident_kind"))
    category: Mapped[str] = mapped_column(
        String(64), comment="e.g. fighting, bullying, helping others"
    )
    description: Mapped[str] = mapped_column(Text)
    follow_up: Mapped[str] = mapped_column(Text, default="", comment="What was done about it")
    occurred_on: Mapped[date]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    student: Mapped[Student] = relationship()
    recorded_by: Mapped[User] = relationship()


class FlagArea(enum.StrEnum):
    ATTENDANCE = "attendance"
    BEHAVIOUR = "behaviour"
    COURSE = "course"


class FlagLevel(enum.StrEnum):
    WATCH = "watch"
    AT_RISK = "at_risk"


class EarlyWarningFlag(Base):
    """A computed warning about a student, with the reasons that raised it.

    Flags are recomputed; a flag that no longer holds is kept with `resolved_at` set, so
    the profile shows the history.
    """

    __tablename__ = "early_warning_flags"
    __table_args__ = (
        Index(
            "uq_early_warning_flags_open",
            "student_id",
            "area",
            unique=True,
            postgresql_where=text("resolved_at IS NULL"),
            sqlite_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    area: Mapped[FlagArea] = mapped_column(enum_type(FlagArea, "flag_area"))
    level: Mapped[FlagLevel] = mapped_column(enum_type(FlagLevel, "flag_level"))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, comment="Message ids and values")
    raised_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]

    student: Mapped[Student] = relationship()


class WarningSettings(Base):
    """A tenant's early-warning thresholds; a tenant without a row uses the defaults."""

    __tablename__ = "warning_settings"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)
    attendance_watch_below: Mapped[Decimal] = mapped_column(Numeric(4, 1), default=Decimal(90))
    attendance_risk_below: Mapped[Decimal] = mapped_column(Numeric(4, 1), default=Decimal(80))
    negative_incidents: Mapped[int] = mapped_column(default=3, comment="In the window below")
    incident_window_days: Mapped[int] = mapped_column(default=30)
    low_rubric_level: Mapped[int] = mapped_column(default=1, comment="Any area at or below it")
    course_drop_points: Mapped[Decimal] = mapped_column(Numeric(4, 1), default=Decimal(10))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class PlanState(enum.StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class InterventionPlan(Base):
    __tablename__ = "intervention_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("early_warning_flags.id"))
    goal: Mapped[str] = mapped_column(Text)
    actions: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    parent_consent: Mapped[bool] = mapped_column(default=False)
    parent_consent_on: Mapped[date | None]
    review_on: Mapped[date] = mapped_column(comment="Next review")
    state: Mapped[PlanState] = mapped_column(enum_type(PlanState, "plan_state"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    student: Mapped[Student] = relationship()
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    reviews: Mapped[list["InterventionReview"]] = relationship(
        back_populates="plan", order_by="InterventionReview.due_on"
    )


class InterventionReview(Base):
    """A scheduled review of a plan; its task is opened on the engine when the day comes."""

    __tablename__ = "intervention_reviews"
    __table_args__ = (UniqueConstraint("plan_id", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("intervention_plans.id"))
    due_on: Mapped[date]
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    progress: Mapped[str] = mapped_column(Text, default="")
    flag_resolved: Mapped[bool | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]

    plan: Mapped[InterventionPlan] = relationship(back_populates="reviews")
