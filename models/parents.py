"""Parents and guardians online: invitations, one-time codes, proposed corrections, messages."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spets.models.meta import Base
from spets.models.people import Guardian, Student, User
from spets.models.types import enum_type


class GuardianAccount(Base):
    """Links a guardian record to the user account that signs in for it: one account, all children."""

    __tablename__ = "guardian_accounts"

    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), primary_key=True)
    # Not unique: one person recorded as two guardians (two tenants, or a school that entered
    # no CNIC) links both records to the same account with a second invitation code.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    sms_script: Mapped[str] = mapped_column(
        String(8), default="ur", comment="ur (Urdu script) or roman"
    )
    created_at: Mapped[datetime]

    guardian: Mapped[Guardian] = relationship()
    user: Mapped[User] = relationship()


class Invitation(Base):
    """A sign-up code issued to one guardian; it works once and expires."""

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_code_hash", "code_hash", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), index=True)
    code_hash: Mapped[str] = mapped_column(
        String(128), comment="SHA-256 of the code; the code itself is not kept"
    )
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    guardian: Mapped[Guardian] = relationship()


class OneTimeCode(Base):
    """A code sent by SMS to prove a phone during sign-up; a few tries, a short life."""

    __tablename__ = "one_time_codes"
    __table_args__ = (Index("ix_one_time_codes_phone", "phone", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32), comment="e.g. signup:<invitation id>")
    code_hash: Mapped[str] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class CorrectionState(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


class FamilyCorrection(Base):
    """A change to the family record proposed by a guardian, approved or rejected by staff."""

    __tablename__ = "family_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, comment="{field: {before, after}}")
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[CorrectionState] = mapped_column(enum_type(CorrectionState, "correction_state"))
    requested_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    student: Mapped[Student] = relationship()
    guardian: Mapped[Guardian] = relationship()


class MessageThread(Base):
    """A conversation about one student between a guardian and the student's staff."""

    __tablename__ = "message_threads"
    __table_args__ = (Index("ix_message_threads_student", "student_id", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), index=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("users.id"), index=True, comment="The teacher or head teacher"
    )
    subject: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    student: Mapped[Student] = relationship()
    guardian: Mapped[Guardian] = relationship()
    staff: Mapped[User] = relationship()
    messages: Mapped[list["ThreadMessage"]] = relationship(
        back_populates="thread", order_by="ThreadMessage.id"
    )


class ThreadMessage(Base):
    __tablename__ = "thread_messages"
    __table_args__ = (Index("ix_thread_messages_thread", "thread_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("message_threads.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text, comment="Plain text; escaped wherever shown or sent")
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None] = mapped_column(comment="When the other side first read it")

    thread: Mapped[MessageThread] = relationship(back_populates="messages")
    author: Mapped[User] = relationship()


class Broadcast(Base):
    """A teacher's message to all guardians of a section."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class BroadcastRecipient(Base):
    __tablename__ = "broadcast_recipients"
    __table_args__ = (UniqueConstraint("broadcast_id", "guardian_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"))
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), index=True)
    read_at: Mapped[datetime | None]
