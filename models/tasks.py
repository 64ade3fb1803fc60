"""The cycle engine: cycle definitions, their runs, tasks, reminders and escalations.

Every generated row has a natural key, so generating twice inserts nothing new: a task by
(cycle run, target), a reminder by (task, offset), an escalation by (task, level).
"""

import enum
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spets.models.meta import Base
from spets.models.org import OrgUnit, Section, Subject
from spets.models.people import User
from spets.models.types import enum_type


class CycleKind(enum.StrEnum):
    QUARTERLY_FEEDBACK = "quarterly_feedback"
    RESULT_ENTRY = "result_entry"
    DAILY_ATTENDANCE = "daily_attendance"
    BEHAVIOUR_RUBRIC = "behaviour_rubric"
    INTERVENTION_REVIEW = "intervention_review"
    HEALTH_SCREENING = "health_screening"
    REFERRAL_FOLLOW_UP = "referral_follow_up"
    PTM_MINUTES = "ptm_minutes"
    AGREED_ACTION = "agreed_action"
    PTM_FOLLOW_UP = "ptm_follow_up"


class CycleTrigger(enum.StrEnum):
    """What in the term calendar opens a run of the cycle."""

    QUARTER_START = "quarter_start"
    EXAM_WINDOW_END = "exam_window_end"
    SCHOOL_DAY = "school_day"
    MONTH_START = "month_start"
    YEAR_START = "year_start"
    ON_RECORD = "on_record"  # a task per record (a plan's review, a referral), opened by a service


class AssigneeRule(enum.StrEnum):
    SUBJECT_TEACHER = "subject_teacher"
    CLASS_TEACHER = "class_teacher"
    RECORD_OWNER = "record_owner"  # the service that opens the task names the assignee


class CycleDefinition(Base):
    """How one kind of recurring work runs for an org subtree.

    Offsets count school days of the task's school. Reminders are relative to the due date
    (0 is the due date itself, -2 two school days before); escalation levels fire the given
    number of school days after the due date (0: as soon as the task is late).
    """

    __tablename__ = "cycle_definitions"
    __table_args__ = (
        UniqueConstraint("org_unit_id", "kind"),
        CheckConstraint("due_after_school_days >= 0", name="due_not_before_opening"),
        CheckConstraint("reminder_hour BETWEEN 0 AND 23", name="reminder_hour_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(
        ForeignKey("org_units.id"), comment="The definition applies to this unit's subtree"
    )
    kind: Mapped[CycleKind] = mapped_column(enum_type(CycleKind, "cycle_kind"))
    name_en: Mapped[str] = mapped_column(String(200))
    name_ur: Mapped[str] = mapped_column(String(200))
    opens_with: Mapped[CycleTrigger] = mapped_column(enum_type(CycleTrigger, "cycle_trigger"))
    assignee_rule: Mapped[AssigneeRule] = mapped_column(enum_type(AssigneeRule, "assignee_rule"))
    due_after_school_days: Mapped[int] = mapped_column(
        comment="School days from the opening day to the due date; 0: due the same day"
    )
    reminder_offsets: Mapped[list[int]] = mapped_column(
        JSON, comment="School days relative to the due date, each from -due_after_school_days to 0"
    )
    reminder_hour: Mapped[int] = mapped_column(default=8, comment="Local hour reminders go out")
    escalation_days: Mapped[list[int]] = mapped_column(
        JSON, comment="School days after the due date at which levels 1, 2, 3 fire; increasing"
    )
    escalation_roles: Mapped[list[str]] = mapped_column(
        JSON, comment="Role that receives each escalation level, e.g. head_teacher, aeo, deo"
    )
    signoff_role: Mapped[str] = mapped_column(String(32), default="head_teacher")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    org_unit: Mapped[OrgUnit] = relationship(foreign_keys=[org_unit_id])

    def name(self, locale: str) -> str:
        return self.name_ur if locale == "ur" and self.name_ur else self.name_en


class CycleRunStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CycleRun(Base):
    """One period of a cycle, such as quarter 3 of 2026-27."""

    __tablename__ = "cycle_runs"
    __table_args__ = (UniqueConstraint("definition_id", "period_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("cycle_definitions.id"), index=True)
    period_key: Mapped[str] = mapped_column(String(64), comment="e.g. 2026-27/Q3")
    label_en: Mapped[str] = mapped_column(String(200))
    label_ur: Mapped[str] = mapped_column(String(200))
    academic_year_id: Mapped[int] = mapped_column(ForeignKey("academic_years.id"), index=True)
    quarter_id: Mapped[int | None] = mapped_column(ForeignKey("quarters.id"))
    exam_window_id: Mapped[int | None] = mapped_column(ForeignKey("exam_windows.id"))
    opens_on: Mapped[date]
    closes_on: Mapped[date] = mapped_column(comment="Last day of the period the run covers")
    status: Mapped[CycleRunStatus] = mapped_column(enum_type(CycleRunStatus, "cycle_run_status"))
    created_at: Mapped[datetime]

    definition: Mapped[CycleDefinition] = relationship()

    def label(self, locale: str) -> str:
        return self.label_ur if locale == "ur" and self.label_ur else self.label_en


class TaskSchedule(Base):
    """When tasks of one cycle, opened on one day, fall due, are reminded and escalate.

    Schools whose calendars give the same school days share a schedule; the
    `calendar_signature` identifies that calendar (its years and the days off that apply).
    Sweeps read the steps with plain SQL, so no school-day arithmetic runs per task.
    """

    __tablename__ = "task_schedules"
    __table_args__ = (UniqueConstraint("definition_id", "opens_on", "calendar_signature"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("cycle_definitions.id"))
    opens_on: Mapped[date]
    calendar_signature: Mapped[str] = mapped_column(String(64))
    due_on: Mapped[date]
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]

    steps: Mapped[list["TaskScheduleStep"]] = relationship(
        back_populates="schedule", order_by="TaskScheduleStep.at", cascade="all, delete-orphan"
    )


class StepKind(enum.StrEnum):
    REMINDER = "reminder"
    ESCALATION = "escalation"


class TaskScheduleStep(Base):
    __tablename__ = "task_schedule_steps"
    __table_args__ = (
        UniqueConstraint("schedule_id", "kind", "number"),
        Index("ix_task_schedule_steps_lookup", "schedule_id", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("task_schedules.id"))
    kind: Mapped[StepKind] = mapped_column(enum_type(StepKind, "step_kind"))
    number: Mapped[int] = mapped_column(comment="Reminders count from 1; escalation levels from 1")
    offset_days: Mapped[int] = mapped_column(comment="School days relative to the due date")
    at: Mapped[datetime] = mapped_column(comment="When the step fires (UTC)")
    role: Mapped[str | None] = mapped_column(String(32), comment="Escalations: the role told")

    schedule: Mapped[TaskSchedule] = relationship(back_populates="steps")


class TaskState(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"
    CANCELLED = "cancelled"


# States in which a task still waits for its assignee: only these are reminded and escalated.
PENDING_STATES = (TaskState.OPEN, TaskState.IN_PROGRESS, TaskState.RETURNED)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        # The school comes second so that the engine's per-batch lookups (a run's tasks in
        # a list of schools) read only those schools; a target belongs to one school anyway.
        UniqueConstraint("cycle_run_id", "school_id", "target_type", "target_id"),
        Index("ix_tasks_assignee_state", "assignee_id", "state"),
        Index("ix_tasks_school_state", "school_id", "state"),
        Index(
            "ix_tasks_next_reminder_at",
            "next_reminder_at",
            postgresql_where=text("next_reminder_at IS NOT NULL"),
            sqlite_where=text("next_reminder_at IS NOT NULL"),
        ),
        Index(
            "ix_tasks_next_escalation_at",
            "next_escalation_at",
            postgresql_where=text("next_escalation_at IS NOT NULL"),
            sqlite_where=text("next_escalation_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_run_id: Mapped[int] = mapped_column(ForeignKey("cycle_runs.id"))
    schedule_id: Mapped[int] = mapped_column(ForeignKey("task_schedules.id"), index=True)
    kind: Mapped[CycleKind] = mapped_column(enum_type(CycleKind, "cycle_kind"))
    target_type: Mapped[str] = mapped_column(String(32), comment="What the task is about")
    target_id: Mapped[int]
    school_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id"), index=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id"))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opens_on: Mapped[date]
    due_on: Mapped[date] = mapped_column(
        comment="Local date; the task is late from the next midnight"
    )
    due_at: Mapped[datetime] = mapped_column(comment="The instant the task becomes late (UTC)")
    state: Mapped[TaskState] = mapped_column(enum_type(TaskState, "task_state"))
    escalation_level: Mapped[int] = mapped_column(default=0)
    reminders_sent: Mapped[int] = mapped_column(default=0)
    next_reminder_at: Mapped[datetime | None]
    next_escalation_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    submitted_late: Mapped[bool] = mapped_column(default=False)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str] = mapped_column(String(1000), default="", comment="Reason for a return")
    created_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    cycle_run: Mapped[CycleRun] = relationship()
    schedule: Mapped[TaskSchedule] = relationship()
    school: Mapped[OrgUnit] = relationship(foreign_keys=[school_id])
    section: Mapped[Section | None] = relationship()
    subject: Mapped[Subject | None] = relationship()
    assignee: Mapped[User] = relationship(foreign_keys=[assignee_id])

    @property
    def is_pending(self) -> bool:
        return self.state in PENDING_STATES

    @property
    def is_locked(self) -> bool:
        return self.state in (TaskState.APPROVED, TaskState.CANCELLED)


class TaskReminder(Base):
    __tablename__ = "task_reminders"
    __table_args__ = (UniqueConstraint("task_id", "offset_days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    offset_days: Mapped[int] = mapped_column(comment="School days relative to the due date")
    sent_at: Mapped[datetime]
    notified: Mapped[bool] = mapped_column(default=False, comment="Included in a message")


class TaskEscalation(Base):
    __tablename__ = "task_escalations"
    __table_args__ = (
        UniqueConstraint("task_id", "level"),
        Index("ix_task_escalations_pending_digest", "recipient_id", "notified"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    level: Mapped[int]
    role: Mapped[str] = mapped_column(String(32))
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), comment="The supervisor found for the role; NULL if nobody holds it"
    )
    fired_at: Mapped[datetime]
    notified: Mapped[bool] = mapped_column(default=False, comment="Included in a digest")

    task: Mapped[Task] = relationship()
