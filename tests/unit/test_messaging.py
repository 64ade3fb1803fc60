"""The outbox: written once per cause, delivered by real SMTP and HTTP peers, retried with backoff."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import func, select

from spets.models import Channel, Notification, OutboxMessage, OutboxStatus
from spets.services import messaging
from spets.services.messaging import (
    Draft,
    FileSmsSender,
    HttpSmsSender,
    InAppSender,
    Senders,
    SmtpSender,
)

NOW = datetime(2026, 10, 14, 4, 0, tzinfo=UTC)


def draft(text="Hello") -> Draft:
    return Draft(
        subject=f"Subject {text}",
        body=f"Body {text}",
        sms=f"SMS {text}",
        link="http://127.0.0.1:6543/tasks",
    )


def outbox(session, **filters) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    for name, value in filters.items():
        query = query.where(getattr(OutboxMessage, name) == value)
    return list(session.scalars(query))


@pytest.fixture
def reachable(world):
    world.head_a.email = "head.a@school.example"
    world.head_a.phone = "+923001112223"
    world.session.flush()
    return world.head_a


def test_queue_writes_one_row_per_channel(world, reachable):
    added = messaging.queue(
        world.session, key="test:1", recipient=reachable, draft=draft(), now=NOW
    )
    assert added == 3
    assert sorted(m.channel.value for m in outbox(world.session)) == ["email", "in_app", "sms"]


def test_queue_twice_same_key_adds_nothing(world, reachable):
    messaging.queue(world.session, key="test:1", recipient=reachable, draft=draft(), now=NOW)
    assert (
        messaging.queue(
            world.session, key="test:1", recipient=reachable, draft=draft("again"), now=NOW
        )
        == 0
    )
    assert len(outbox(world.session)) == 3


def test_sms_carries_text_and_link_only(world, reachable):
    long_text = "x" * 1000
    messaging.queue(
        world.session,
        key="test:2",
        recipient=reachable,
        draft=Draft("s", "b", long_text, link="http://h/t"),
        now=NOW,
    )
    sms = outbox(world.session, channel=Channel.SMS)[0]
    assert len(sms.body) <= messaging.SMS_MAX_CHARS
    assert sms.body.endswith("http://h/t")


def senders_for(smtp_server, tmp_path) -> Senders:
    return Senders(
        {
            Channel.EMAIL: SmtpSender(host="127.0.0.1", port=smtp_server.port),
            Channel.SMS: FileSmsSender(tmp_path / "sms"),
            Channel.IN_APP: InAppSender(),
        }
    )


def test_delivery_to_real_smtp_server(world, reachable, session_factory, smtp_server, tmp_path):
    messaging.queue(world.session, key="test:3", recipient=reachable, draft=draft("smtp"), now=NOW)
    world.session.flush()
    result = messaging.deliver_pending(session_factory, senders_for(smtp_server, tmp_path), NOW)
    assert result.sent == {"email": 1, "sms": 1, "in_app": 1}
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received["To"] == "head.a@school.example"
    assert received["Subject"] == "Subject smtp"
    assert received["Message-ID"] == "<test.3.email@localhost>"
    assert len(list((tmp_path / "sms").iterdir())) == 1
    assert world.session.scalar(select(func.count()).select_from(Notification)) == 1


def test_delivery_twice_sends_nothing_twice(
    world, reachable, session_factory, smtp_server, tmp_path
):
    messaging.queue(world.session, key="test:4", recipient=reachable, draft=draft(), now=NOW)
    world.session.flush()
    senders = senders_for(smtp_server, tmp_path)
    messaging.deliver_pending(session_factory, senders, NOW)
    again = messaging.deliver_pending(session_factory, senders, NOW + timedelta(minutes=1))
    assert again.sent == {}
    assert len(smtp_server.messages) == 1


def test_urdu_email_arrives_intact(world, reachable, session_factory, smtp_server, tmp_path):
    reachable.locale = "ur"
    messaging.queue(
        world.session,
        key="test:5",
        recipient=reachable,
        draft=Draft("یاد دہانی", "آپ کے کام", "SMS"),
        now=NOW,
    )
    world.session.flush()
    messaging.deliver_pending(session_factory, senders_for(smtp_server, tmp_path), NOW)
    received = smtp_server.messages[0]
    assert received["Subject"] == "یاد دہانی"
    assert "آپ کے کام" in received.get_content()


class BrokenSender:
    def send(self, message, session):
        raise ConnectionRefusedError("gateway down")


def test_failure_retried_with_backoff_without_blocking_others(
    world, reachable, session_factory, smtp_server, tmp_path
):
    messaging.queue(world.session, key="test:6", recipient=reachable, draft=draft(), now=NOW)
    world.session.flush()
    senders = senders_for(smtp_server, tmp_path)
    senders.by_channel[Channel.SMS] = BrokenSender()

    result = messaging.deliver_pending(session_factory, senders, NOW)
    assert result.sent == {"email": 1, "in_app": 1}
    assert result.failed == 1
    sms = outbox(world.session, channel=Channel.SMS)[0]
    world.session.refresh(sms)
    assert (sms.status, sms.attempts) == (OutboxStatus.PENDING, 1)
    assert sms.next_attempt_at == NOW + timedelta(minutes=1)
    assert "gateway down" in sms.last_error

    # Not retried before its time; retried after it.
    assert (
        messaging.deliver_pending(session_factory, senders, NOW + timedelta(seconds=30)).failed == 0
    )
    senders.by_channel[Channel.SMS] = FileSmsSender(tmp_path / "sms")
    later = messaging.deliver_pending(session_factory, senders, NOW + timedelta(minutes=2))
    assert later.sent == {"sms": 1}


def test_gives_up_after_max_attempts(world, reachable, session_factory, smtp_server, tmp_path):
    messaging.queue(world.session, key="test:7", recipient=reachable, draft=draft(), now=NOW)
    world.session.flush()
    senders = senders_for(smtp_server, tmp_path)
    senders.by_channel[Channel.SMS] = BrokenSender()
    at = NOW
    for _attempt in range(messaging.MAX_ATTEMPTS):
        messaging.deliver_pending(session_factory, senders, at)
        at += timedelta(hours=7)
    sms = outbox(world.session, channel=Channel.SMS)[0]
    world.session.refresh(sms)
    assert (sms.status, sms.attempts) == (OutboxStatus.FAILED, messaging.MAX_ATTEMPTS)


def test_smtp_server_down_is_retried(world, reachable, session_factory, tmp_path):
    messaging.queue(world.session, key="test:8", recipient=reachable, draft=draft(), now=NOW)
    world.session.flush()
    senders = Senders(
        {
            Channel.EMAIL: SmtpSender(host="127.0.0.1", port=1, timeout=2),
            Channel.IN_APP: InAppSender(),
            Channel.SMS: FileSmsSender(tmp_path / "sms"),
        }
    )
    result = messaging.deliver_pending(session_factory, senders, NOW)
    assert result.failed == 1
    assert result.sent == {"sms": 1, "in_app": 1}


class GatewayHandler(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's method name
        length = int(self.headers["Content-Length"])
        GatewayHandler.received.append(
            (self.headers.get("Authorization"), json.loads(self.rfile.read(length)))
        )
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_http_sms_gateway(world, reachable, session_factory, tmp_path):
    server = HTTPServer(("127.0.0.1", 0), GatewayHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        GatewayHandler.received = []
        messaging.queue(
            world.session, key="test:9", recipient=reachable, draft=draft("gateway"), now=NOW
        )
        world.session.flush()
        senders = Senders(
            {
                Channel.SMS: HttpSmsSender(
                    url=f"http://127.0.0.1:{server.server_port}/send", token="t0k"
                ),
                Channel.IN_APP: InAppSender(),
            }
        )
        messaging.deliver_pending(session_factory, senders, NOW)
    finally:
        server.shutdown()
    assert GatewayHandler.received == [
        (
            "Bearer t0k",
            {
                "to": "+923001112223",
                "text": "SMS gateway http://127.0.0.1:6543/tasks",
                "reference": "test:9:sms",
            },
        )
    ]


def test_claim_skips_claimed_messages(world, reachable, session_factory):
    messaging.queue(world.session, key="test:10", recipient=reachable, draft=draft(), now=NOW)
    world.session.flush()
    first = messaging.claim(world.session, NOW, 10)
    second = messaging.claim(world.session, NOW, 10)
    assert len(first) == 3 and second == []
    # A claim expires, so a crashed sender's messages are taken again.
    assert (
        len(
            messaging.claim(world.session, NOW + timedelta(seconds=messaging.CLAIM_SECONDS + 1), 10)
        )
        == 3
    )
