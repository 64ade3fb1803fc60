"""The outbox of e-mails, SMS and in-app notifications, and the notifications themselves.

A message is written in the same transaction as the change that causes it, under a key
that names that cause, so a re-run never writes it twice; the delivery flow sends it.
"""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from spets.models.meta import Base
from spets.models.types import enum_type


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    IN_APP = "in_app"
    FHIR = "fhir"  # a FHIR bundle posted to the health department


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    HELD = "held"  # for a guardian who has no account yet; released when one is made


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index(
            "ix_outbox_messages_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(
        String(200), unique=True, comment="The cause, e.g. reminder:<user>:<id>"
    )
    channel: Mapped[Channel] = mapped_column(enum_type(Channel, "channel"))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    guardian_id: Mapped[int | None] = mapped_column(
        ForeignKey("guardians.id"), index=True, comment="Set for messages to a parent or guardian"
    )
    address: Mapped[str] = mapped_column(
        String(254), comment="E-mail address or E.164 phone number"
    )
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[OutboxStatus] = mapped_column(enum_type(OutboxStatus, "outbox_status"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None] = mapped_column(
        comment="A sender holds the message until then; after that another may retry it"
    )
    claim_token: Mapped[str | None] = mapped_column(String(32), comment="Which sender holds it")
    last_error: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Notification(Base):
    """An in-app notification shown on the user's pages until read."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
