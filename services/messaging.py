"""The outbox: queue messages in the caller's transaction, deliver them with retries.

Queuing writes one row per channel under a key that names the cause, with "insert, ignore
what exists", so a re-run queues nothing twice. Delivery claims a batch, sends each
message on its own, and records the outcome; a failing message is retried with an
exponential backoff and never holds up the others. Delivery is at least once; the key
(sent as the e-mail's Message-ID) lets a receiver drop a duplicate.
"""

import json
import logging
import secrets
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import Protocol

import httpx
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from spets.i18n import TranslationString, translate
from spets.models import Channel, Guardian, Notification, OutboxMessage, OutboxStatus, User
from spets.services.bulk import insert_ignore_rows

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
CLAIM_SECONDS = 300
SMS_MAX_CHARS = 300  # Two Urdu SMS segments (70 UCS-2 characters each) plus headroom.


_base_url = "http://127.0.0.1:6543"


def set_base_url(url: str) -> None:
    """Set the address links in e-mails and SMS start with (the ini file's spets.base_url)."""
    global _base_url
    _base_url = url.rstrip("/")


def absolute(link: str) -> str:
    return f"{_base_url}{link}" if link.startswith("/") else link


@dataclass(frozen=True)
class Draft:
    """A message before it is rendered in the recipient's language."""

    subject: TranslationString | str
    body: TranslationString | str
    sms: TranslationString | str
    link: str = ""


def channels_for(user: User) -> list[tuple[Channel, str]]:
    """Every user gets in-app notifications, plus e-mail and SMS where the account has them."""
    found = [(Channel.IN_APP, str(user.id))]
    if user.email:
        found.append((Channel.EMAIL, user.email))
    if user.phone:
        found.append((Channel.SMS, user.phone))
    return found


def queue(session: Session, *, key: str, recipient: User, draft: Draft, now: datetime) -> int:
    """Queue a message to `recipient` on each of their channels; return how many rows were new."""
    locale = recipient.locale or "en"
    subject = translate(draft.subject, locale)
    link = absolute(draft.link)
    rows = []
    for channel, address in channels_for(recipient):
        body = translate(draft.sms if channel == Channel.SMS else draft.body, locale)
        if channel == Channel.SMS:
            body = _sms_text(body, link)
        rows.append(
            {
                "key": f"{key}:{channel.value}",
                "channel": channel,
                "recipient_id": recipient.id,
                "address": address,
                "locale": locale,
                "subject": subject[:300],
                "body": body,
                "link": link,
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
                "created_at": now,
            }
        )
    before = _count_keys(session, [row["key"] for row in rows])
    insert_ignore_rows(session, OutboxMessage.__table__, rows)
    return len(rows) - before


def queue_for_guardian(
    session: Session, *, key: str, guardian: Guardian, draft: Draft, now: datetime
) -> int:
    """Queue a message to a parent or guardian, held until they have an account.

    Guardians sign up in a later release; until then their messages wait with status
    HELD, in their preferred language, and are released when their account is made.
    """
    locale = guardian.preferred_locale or "ur"
    link = absolute(draft.link)
    rows = []
    for channel, address in ((Channel.SMS, guardian.phone), (Channel.EMAIL, guardian.email)):
        if not address:
            continue
        body = translate(draft.sms if channel == Channel.SMS else draft.body, locale)
        rows.append(
            {
                "key": f"{key}:{channel.value}",
                "channel": channel,
                "guardian_id": guardian.id,
                "address": address,
                "locale": locale,
                "subject": translate(draft.subject, locale)[:300],
                "body": _sms_text(body, link) if channel == Channel.SMS else body,
                "link": link,
                "status": OutboxStatus.HELD,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
                "created_at": now,
            }
        )
    if not rows:
        return 0
    before = _count_keys(session, [row["key"] for row in rows])
    insert_ignore_rows(session, OutboxMessage.__table__, rows)
    return len(rows) - before


def _count_keys(session: Session, keys: list[str]) -> int:
    return len(session.scalars(select(OutboxMessage.id).where(OutboxMessage.key.in_(keys))).all())


def _sms_text(text: str, link: str) -> str:
    """An SMS carries a short text and the link; the details stay behind the link."""
    text = " ".join(text.split())
    room = SMS_MAX_CHARS - (len(link) + 1 if link else 0)
    if len(text) > room:
        text = text[: max(room - 1, 0)] + "…"
    return f"{text} {link}".strip()


# Channels.


class Sender(Protocol):
    def send(self, message: OutboxMessage, session: Session) -> None: ...


@dataclass
class SmtpSender:
    host: str
    port: int = 25
    username: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = "SPeTS <noreply@localhost>"
    timeout: float = 20.0

    def send(self, message: OutboxMessage, session: Session) -> None:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = formataddr(("", message.address))
        email["Subject"] = message.subject
        # The same key gives the same Message-ID on every attempt, so a receiver can drop a resend.
        domain = self.sender.rsplit("@", 1)[-1].strip(" >") or "spets.local"
        email["Message-ID"] = f"<{message.key.replace(':', '.')}@{domain}>"
        body = message.body + (f"\n\n{message.link}\n" if message.link else "\n")
        email.set_content(body, charset="utf-8")
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(email)


@dataclass
class HttpSmsSender:
    """Posts each SMS as JSON {"to", "text", "reference"} to a gateway with a bearer token."""

    url: str
    token: str = ""
    timeout: float = 15.0

    def send(self, message: OutboxMessage, session: Session) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = httpx.post(
            self.url,
            json={"to": message.address, "text": message.body, "reference": message.key},
            headers=headers,
            timeout=self.timeout,
        )
        response.raise_for_status()


@dataclass
class FileSmsSender:
    """Writes each SMS to a file in a folder: the demo's stand-in for a gateway."""

    folder: Path

    def send(self, message: OutboxMessage, session: Session) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{message.id:08d}-{message.address.lstrip('+')}.json"
        path.write_text(
            json.dumps(
                {"to": message.address, "text": message.body, "key": message.key},
                ensure_ascii=False,
                indent=1,
            ),
            encoding="utf-8",
        )


class InAppSender:
    def send(self, message: OutboxMessage, session: Session) -> None:
        session.add(
            Notification(
                user_id=message.recipient_id,
                outbox_id=message.id,
                title=message.subject,
                body=message.body,
                link=message.link,
                created_at=message.next_attempt_at,
            )
        )
        session.flush()


@dataclass
class Senders:
    by_channel: dict[Channel, Sender] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: dict, var_dir: Path) -> "Senders":
        senders: dict[Channel, Sender] = {Channel.IN_APP: InAppSender()}
        if settings.get("spets.smtp.host"):
            senders[Channel.EMAIL] = SmtpSender(
                host=settings["spets.smtp.host"],
                port=int(settings.get("spets.smtp.port", 25)),
                username=settings.get("spets.smtp.username", ""),
                password=settings.get("spets.smtp.password", ""),
                starttls=str(settings.get("spets.smtp.starttls", "false")).lower() == "true",
                sender=settings.get("spets.smtp.sender", "SPeTS <noreply@localhost>"),
            )
        backend = settings.get("spets.sms.backend", "file")
        if backend == "http":
            senders[Channel.SMS] = HttpSmsSender(
                url=settings["spets.sms.url"], token=settings.get("spets.sms.token", "")
            )
        elif backend == "file":
            senders[Channel.SMS] = FileSmsSender(
                Path(settings.get("spets.sms.folder") or var_dir / "sms")
            )
        return cls(senders)


# Delivery.


@dataclass
class DeliveryResult:
    sent: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    gave_up: int = 0

    def add_sent(self, channel: Channel) -> None:
        self.sent[channel.value] = self.sent.get(channel.value, 0) + 1


def backoff(attempts: int) -> timedelta:
    """Wait 1, 2, 4 … minutes between attempts, at most six hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


def claim(session: Session, now: datetime, limit: int) -> list[int]:
    """Claim up to `limit` due messages for this sender and return their ids.

    On PostgreSQL the candidates are locked with SKIP LOCKED, so concurrent senders take
    different messages; a claim expires after CLAIM_SECONDS, so a crashed sender's
    messages are retried.
    """
    token = secrets.token_hex(8)
    candidates = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates.scalar_subquery()))
        .values(claim_token=token, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
        .execution_options(synchronize_session=False)
    )
    return list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.claim_token == token)))


def deliver_pending(
    session_factory: sessionmaker[Session], senders: Senders, now: datetime, limit: int = 200
) -> DeliveryResult:
    """Send the messages that are due, each in its own short transaction."""
    result = DeliveryResult()
    with session_factory() as session, session.begin():
        ids = claim(session, now, limit)
    for message_id in ids:
        _deliver_one(session_factory, senders, message_id, now, result)
    return result


def _deliver_one(
    session_factory, senders: Senders, message_id: int, now: datetime, result: DeliveryResult
) -> None:
    with session_factory() as session, session.begin():
        message = session.get(OutboxMessage, message_id)
        if message is None or message.status != OutboxStatus.PENDING:
            return
        sender = senders.by_channel.get(message.channel)
        if sender is None:
            # Retrying cannot help until the channel is configured: fail at once, with the reason.
            message.status = OutboxStatus.FAILED
            message.attempts += 1
            message.last_error = f"no sender configured for {message.channel.value}"
            message.claim_token = None
            message.claimed_until = None
            result.gave_up += 1
            log.warning(
                "outbox_no_sender",
                extra={"message_id": message.id, "channel": message.channel.value},
            )
            return
        try:
            with session.begin_nested():
                sender.send(message, session)
        except Exception as error:  # noqa: BLE001 - any failure of one message is recorded and retried
            _record_failure(message, error, now, result)
            return
        message.status = OutboxStatus.SENT
        message.sent_at = now
        message.attempts += 1
        message.claim_token = None
        message.claimed_until = None
        result.add_sent(message.channel)


def _record_failure(
    message: OutboxMessage, error: Exception, now: datetime, result: DeliveryResult
) -> None:
    message.attempts += 1
    message.last_error = f"{type(error).__name__}: {error}"[:1000]
    message.claim_token = None
    message.claimed_until = None
    if message.attempts >= MAX_ATTEMPTS:
        message.status = OutboxStatus.FAILED
        result.gave_up += 1
        log.error(
            "outbox_gave_up",
            extra={
                "message_id": message.id,
                "channel": message.channel.value,
                "error": message.last_error,
            },
        )
    else:
        message.next_attempt_at = now + backoff(message.attempts)
        result.failed += 1
        log.warning(
            "outbox_retry",
            extra={
                "message_id": message.id,
                "attempts": message.attempts,
                "error": message.last_error,
            },
        )


def unread_notifications(session: Session, user_id: int, limit: int = 20) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(and_(Notification.user_id == user_id, Notification.read_at.is_(None)))
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )


def mark_read(session: Session, user_id: int, notification_id: int | None, now: datetime) -> int:
    """Mark one notification (or all, with None) of the user as read; return how many."""
    statement = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    return session.execute(statement.values(read_at=now)).rowcount or 0
