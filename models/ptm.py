"""Parent–teacher meetings: the day, teachers' slots, bookings, minutes and agreed actions."""

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spets.models.meta import Base
from spets.models.org import OrgUnit
from spets.models.people import Guardian, Student, User
from spets.models.types import enum_type


class PtmDay(Base):
    """A parent–teacher meeting day for an org subtree (one school, or a whole district)."""

    __tablename__ = "ptm_days"
    __table_args__ = (UniqueConstraint("org_unit_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    day: Mapped[date]
    name_en: Mapped[str] = mapped_column(String(200))
    name_ur: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    org_unit: Mapped[OrgUnit] = relationship()

    def name(self, locale: str) -> str:
        return self.name_ur if locale == "ur" and self.name_ur else self.name_en


class PtmSlot(Base):
    """A time a teacher offers on a PTM day; one booking can be confirmed for it."""

    __tablename__ = "ptm_slots"
    __table_args__ = (
        UniqueConstraint("ptm_day_id", "teacher_id", "starts_at"),
        CheckConstraint("starts_at < ends_at", name="starts_before_ends"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ptm_day_id: Mapped[int] = mapped_column(ForeignKey("ptm_days.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]

    ptm_day: Mapped[PtmDay] = relationship()
    teacher: Mapped[User] = relationship()


class BookingState(enum.StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class PtmAttendance(enum.StrEnum):
    NOT_RECORDED = "not_recorded"
    CAME = "came"
    DID_NOT_COME = "did_not_come"


class PtmBooking(Base):
    __tablename__ = "ptm_bookings"
    __table_args__ = (
        # At most one confirmed booking per slot: a second confirmation is a conflict.
        Index(
            "uq_ptm_bookings_confirmed_slot",
            "slot_id",
            unique=True,
            postgresql_where=text("state = 'confirmed'"),
            sqlite_where=text("state = 'confirmed'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("ptm_slots.id"))
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    state: Mapped[BookingState] = mapped_column(enum_type(BookingState, "booking_state"))
    attendance: Mapped[PtmAttendance] = mapped_column(
        enum_type(PtmAttendance, "ptm_attendance"), default=PtmAttendance.NOT_RECORDED
    )
    booked_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]

    slot: Mapped[PtmSlot] = relationship()
    guardian: Mapped[Guardian] = relationship()
    student: Mapped[Student] = relationship()


class PtmMinutes(Base):
    """What a teacher recorded of one meeting with a guardian."""

    __tablename__ = "ptm_minutes"
    __table_args__ = (UniqueConstraint("booking_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("ptm_bookings.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)
    notes: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    booking: Mapped[PtmBooking] = relationship()
    actions: Mapped[list["AgreedAction"]] = relationship(
        back_populates="minutes", order_by="AgreedAction.id"
    )


class AgreedAction(Base):
    """An action agreed at a meeting, with its owner and due date; it becomes the owner's task."""

    __tablename__ = "agreed_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("ptm_minutes.id"))
    description: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    due_on: Mapped[date]
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    done_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(
        Text, default="", server_default=text("''"), comment="What the owner did, written when done"
    )

    minutes: Mapped[PtmMinutes] = relationship(back_populates="actions")
    owner: Mapped[User] = relationship()


class FollowUpMethod(enum.StrEnum):
    CALL = "call"
    HOME_VISIT = "home_visit"


class PtmFollowUp(Base):
    """The class teacher's call or home visit to a guardian who did not come to a booked meeting."""

    __tablename__ = "ptm_follow_ups"
    __table_args__ = (UniqueConstraint("booking_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("ptm_bookings.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)
    method: Mapped[FollowUpMethod] = mapped_column(enum_type(FollowUpMethod, "follow_up_method"))
    reached_guardian: Mapped[bool]
    notes: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    booking: Mapped[PtmBooking] = relationship()
