"""Quarterly subject feedback: the catalogue of strengths and weaknesses, and what was recorded.

Each quarter a subject teacher records, per student, strengths and weaknesses picked from
the subject's catalogue, a note, and a planned action for each weakness. From the second
quarter on, each weakness of the previous quarter gets a rating: improved, unchanged or worse.
"""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spets.models.meta import Base
from spets.models.types import enum_type


class FeedbackKind(enum.StrEnum):
    STRENGTH = "strength"
    WEAKNESS = "weakness"


class Progress(enum.StrEnum):
    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    WORSE = "worse"


class FeedbackCatalogueItem(Base):
    __tablename__ = "feedback_catalogue_items"
    __table_args__ = (UniqueConstraint("subject_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    kind: Mapped[FeedbackKind] = mapped_column(enum_type(FeedbackKind, "feedback_kind"))
    code: Mapped[str] = mapped_column(String(32))
    text_en: Mapped[str] = mapped_column(String(300))
    text_ur: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    def text(self, locale: str) -> str:
        return self.text_ur if locale == "ur" and self.text_ur else self.text_en


class FeedbackEntry(Base):
    """One student's feedback in one subject for one quarter, written in a feedback task."""

    __tablename__ = "feedback_entries"
    __table_args__ = (UniqueConstraint("task_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    cycle_run_id: Mapped[int] = mapped_column(ForeignKey("cycle_runs.id"), index=True)
    note: Mapped[str] = mapped_column(String(1000), default="")
    updated_at: Mapped[datetime]

    items: Mapped[list["FeedbackItem"]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="FeedbackItem.id"
    )
    ratings: Mapped[list["WeaknessRating"]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="WeaknessRating.id"
    )


class FeedbackItem(Base):
    """A strength or weakness picked for a student, with the planned action for a weakness."""

    __tablename__ = "feedback_items"
    __table_args__ = (UniqueConstraint("entry_id", "catalogue_item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("feedback_entries.id"), index=True)
    catalogue_item_id: Mapped[int] = mapped_column(ForeignKey("feedback_catalogue_items.id"))
    kind: Mapped[FeedbackKind] = mapped_column(enum_type(FeedbackKind, "feedback_kind"))
    planned_action: Mapped[str] = mapped_column(String(500), default="")

    entry: Mapped[FeedbackEntry] = relationship(back_populates="items")
    catalogue_item: Mapped[FeedbackCatalogueItem] = relationship()


class WeaknessRating(Base):
    """How a weakness of the previous quarter developed, rated in this quarter's entry."""

    __tablename__ = "weakness_ratings"
    __table_args__ = (UniqueConstraint("entry_id", "previous_item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("feedback_entries.id"), index=True)
    previous_item_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id"), index=True)
    progress: Mapped[Progress] = mapped_column(enum_type(Progress, "progress"))

    entry: Mapped[FeedbackEntry] = relationship(back_populates="ratings", foreign_keys=[entry_id])
    previous_item: Mapped[FeedbackItem] = relationship(foreign_keys=[previous_item_id])
