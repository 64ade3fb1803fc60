"""Referrals: every (state, trigger) pair, escalation once per level, FHIR out and back."""

import json
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from health_builders import build_health
from sqlalchemy import func, select

from spets.models import (
    AuditEvent,
    Channel,
    OutboxMessage,
    OutboxStatus,
    Referral,
    ReferralState,
    Task,
    TaskState,
)
from spets.models.health import ReferralEscalation
from spets.services import engine, fhir, messaging, referrals
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, Locked
from spets.state_machines.referrals import REFERRAL_MACHINE

S = ReferralState
KARACHI = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()


def local(*args) -> datetime:
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


@pytest.fixture
def hw(world):
    return build_health(world)


def count(session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))


def outbox_keys(session, pattern: str) -> list[str]:
    return sorted(session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.like(pattern))))


# The machine.

ALLOWED = {
    (S.RAISED, "send"): S.SENT,
    (S.SENT, "acknowledge"): S.ACKNOWLEDGED,
    (S.ACKNOWLEDGED, "book"): S.APPOINTMENT,
    (S.APPOINTMENT, "book"): S.APPOINTMENT,
    (S.ACKNOWLEDGED, "record_seen"): S.SEEN,
    (S.APPOINTMENT, "record_seen"): S.SEEN,
    (S.SEEN, "close"): S.CLOSED,
    (S.RAISED, "cancel"): S.CANCELLED,
    (S.SENT, "cancel"): S.CANCELLED,
    (S.ACKNOWLEDGED, "cancel"): S.CANCELLED,
    (S.APPOINTMENT, "cancel"): S.CANCELLED,
    (S.SENT, "escalate"): S.SENT,
    (S.ACKNOWLEDGED, "escalate"): S.ACKNOWLEDGED,
    (S.APPOINTMENT, "escalate"): S.APPOINTMENT,
}
VALUES = {
    "book": {"appointment_on": date(2026, 12, 9)},
    "close": {"outcome": "Glasses given; seat near the board."},
    "cancel": {"reason": "The family moved away."},
    "escalate": {"level": 1},
}
PAIRS = [(state, trigger) for state in ReferralState for trigger in REFERRAL_MACHINE.events]


def test_machine_covers_every_pair():
    assert len(PAIRS) == len(ReferralState) * 7
    assert set(ALLOWED) <= set(PAIRS)


def referral_audits(session) -> int:
    return count(session, AuditEvent, AuditEvent.entity_type == "referral")


@pytest.mark.parametrize(("state", "trigger"), PAIRS, ids=[f"{s.value}-{t}" for s, t in PAIRS])
def test_state_trigger_pair(hw, state, trigger):
    session = hw.world.session
    referral = hw.referral_a
    referral.state = state
    session.flush()
    audits = referral_audits(session)
    actor = Actor(hw.staff_bhu_a.id)

    if (state, trigger) in ALLOWED:
        referrals.move(
            session, referral, trigger, actor=actor, now=hw.world.now, **VALUES.get(trigger, {})
        )
        session.expire_all()
        stored = session.get(Referral, referral.id)
        assert stored.state == ALLOWED[(state, trigger)]
        assert referral_audits(session) == audits + 1
        event = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "referral")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event.changes["trigger"]["after"] == trigger
        assert event.changes["state"]["after"] == ALLOWED[(state, trigger)].value
    else:
        with pytest.raises(Locked):
            referrals.move(
                session, referral, trigger, actor=actor, now=hw.world.now, **VALUES.get(trigger, {})
            )
        session.expire_all()
        assert session.get(Referral, referral.id).state == state
        assert referral_audits(session) == audits


@pytest.mark.parametrize(
    ("trigger", "state"), [("close", S.SEEN), ("cancel", S.SENT), ("book", S.ACKNOWLEDGED)]
)
def test_step_without_its_value_changes_nothing(hw, trigger, state):
    session = hw.world.session
    hw.referral_a.state = state
    session.flush()
    with pytest.raises(InvalidInput):
        referrals.move(session, hw.referral_a, trigger, actor=SYSTEM, now=hw.world.now)
    session.expire_all()
    assert session.get(Referral, hw.referral_a.id).state == state


def test_raise_routes_to_tehsil_then_district(hw):
    assert hw.referral_a.facility_id == hw.bhu_a.id  # vision: the BHU in the school's tehsil
    dental = referrals.raise_referral(
        hw.world.session,
        student=hw.world.student_a9,
        service="dental",
        reason="Caries seen at screening.",
        source=referrals.ReferralSource.TEACHER,
        actor=Actor(hw.world.class_teacher_a9.id),
        now=hw.world.now,
    )
    assert dental.facility_id == hw.hospital_a.id  # the BHU has no dental service: the district


def test_raise_opens_follow_up_for_facility_staff(hw):
    task = hw.world.session.get(Task, hw.referral_a.task_id)
    assert (task.kind.value, task.target_type, task.target_id) == (
        "referral_follow_up",
        "referral",
        hw.referral_a.id,
    )
    assert task.assignee_id == hw.staff_bhu_a.id
    assert task.due_on == date(2026, 12, 10)  # five school days after Friday 4 December


def test_messages_carry_no_clinical_detail(hw):
    session = hw.world.session
    messages = session.scalars(
        select(OutboxMessage).where(OutboxMessage.channel != Channel.FHIR)
    ).all()
    assert messages
    for message in messages:
        assert "6/18" not in message.body and "Vision" not in message.body
        assert "6/18" not in message.subject
        assert message.link.endswith(f"/referrals/{hw.referral_a.id}") or message.link.endswith(
            f"/referrals/{hw.referral_b.id}"
        )


def test_acknowledge_moves_due_date_to_visit(hw):
    session = hw.world.session
    referrals.acknowledge(session, hw.referral_a, actor=Actor(hw.staff_bhu_a.id), now=hw.world.now)
    task = session.get(Task, hw.referral_a.task_id)
    assert task.state == TaskState.IN_PROGRESS
    assert task.due_on > date(2026, 12, 10)


def test_seen_completes_the_follow_up(hw):
    session = hw.world.session
    actor = Actor(hw.staff_bhu_a.id)
    referrals.acknowledge(session, hw.referral_a, actor=actor, now=hw.world.now)
    referrals.record_seen(session, hw.referral_a, actor=actor, now=hw.world.now)
    assert session.get(Task, hw.referral_a.task_id).state == TaskState.APPROVED


def test_cancel_tells_department_and_cancels_task(hw):
    session = hw.world.session
    referrals.cancel(
        session,
        hw.referral_a,
        "The family moved.",
        actor=Actor(hw.world.head_a.id),
        now=hw.world.now,
    )
    assert session.get(Task, hw.referral_a.task_id).state == TaskState.CANCELLED
    message = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.key == f"fhir:referral:{hw.referral_a.id}:cancelled"
        )
    )
    request = next(
        e["resource"]
        for e in json.loads(message.body)["entry"]
        if e["resource"]["resourceType"] == "ServiceRequest"
    )
    assert request["status"] == "revoked"


# Escalation.

LEVEL_1 = local(2026, 12, 11, 0, 30)  # the night after the due date, 10 December
LEVEL_2 = local(2026, 12, 18, 0, 30)  # five school days later (Sundays off)


def escalate(session, now):
    engine.sweep_escalations(session, now)
    return referrals.follow_up_escalations(session, now)


def test_escalation_resends_once_per_level(hw):
    session = hw.world.session
    referral = hw.referral_a
    first = escalate(session, LEVEL_1)
    assert referral.id in first.referral_ids
    assert referral.escalations == 1
    assert outbox_keys(session, f"fhir:referral:{referral.id}:resent-%") == [
        f"fhir:referral:{referral.id}:resent-1"
    ]
    assert outbox_keys(session, f"referral:{referral.id}:escalated:1:%") == [
        f"referral:{referral.id}:escalated:1:{hw.dho_a.id}:in_app"
    ]
    assert outbox_keys(session, f"referral:{referral.id}:resent:1:%") == [
        f"referral:{referral.id}:resent:1:{hw.staff_bhu_a.id}:in_app"
    ]
    messages = count(session, OutboxMessage)

    again = escalate(session, LEVEL_1)
    assert again.handled == 0
    assert count(session, OutboxMessage) == messages
    assert referral.escalations == 1

    second = escalate(session, LEVEL_2)
    assert referral.id in second.referral_ids
    assert referral.escalations == 2
    assert escalate(session, LEVEL_2).handled == 0
    levels = session.scalars(
        select(ReferralEscalation.level).where(ReferralEscalation.referral_id == referral.id)
    ).all()
    assert sorted(levels) == [1, 2]


def test_escalation_checks_state_when_it_fires(hw):
    session = hw.world.session
    referral = hw.referral_a
    engine.sweep_escalations(session, LEVEL_1)  # the engine records level 1 ...
    later = local(2026, 12, 11, 0, 40)
    referrals.acknowledge(
        session, referral, actor=Actor(hw.staff_bhu_a.id), now=later
    )  # ... then the facility answers
    result = referrals.follow_up_escalations(session, local(2026, 12, 11, 0, 45))
    assert result.handled >= 1
    assert referral.id not in result.referral_ids
    assert referral.escalations == 0
    row = session.scalar(
        select(ReferralEscalation).where(ReferralEscalation.referral_id == referral.id)
    )
    assert (row.level, row.resent, row.state_at_firing) == (1, False, S.ACKNOWLEDGED)
    assert outbox_keys(session, f"fhir:referral:{referral.id}:resent-%") == []


def test_escalation_after_visit_due_resends(hw):
    session = hw.world.session
    referral = hw.referral_a
    referrals.acknowledge(session, referral, actor=Actor(hw.staff_bhu_a.id), now=hw.world.now)
    task = session.get(Task, referral.task_id)
    late = local(task.due_on.year, task.due_on.month, task.due_on.day, 23, 59) + timedelta(
        minutes=30
    )
    result = escalate(session, late)
    assert referral.id in result.referral_ids
    assert referral.state == S.ACKNOWLEDGED


def test_no_escalation_after_child_seen(hw):
    session = hw.world.session
    actor = Actor(hw.staff_bhu_a.id)
    referrals.acknowledge(session, hw.referral_a, actor=actor, now=hw.world.now)
    referrals.record_seen(session, hw.referral_a, actor=actor, now=hw.world.now)
    result = escalate(session, LEVEL_2)
    assert hw.referral_a.id not in result.referral_ids


def test_escalation_survives_crash_and_rerun(hw, monkeypatch):
    session = hw.world.session
    referral = hw.referral_a
    engine.sweep_escalations(session, LEVEL_1)
    original = referrals.queue_fhir
    calls = {"count": 0}

    def crashing(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == 1:
            raise RuntimeError("crash injected while re-sending")
        return original(*args, **kwargs)

    monkeypatch.setattr(referrals, "queue_fhir", crashing)
    transaction = session.begin_nested()
    with pytest.raises(RuntimeError, match="crash injected"):
        referrals.follow_up_escalations(session, LEVEL_1)
    transaction.rollback()
    session.expire_all()
    assert count(session, ReferralEscalation) == 0
    assert session.get(Referral, referral.id).escalations == 0

    referrals.follow_up_escalations(session, LEVEL_1)
    referrals.follow_up_escalations(session, LEVEL_1)
    assert session.get(Referral, referral.id).escalations == 1
    assert outbox_keys(session, f"fhir:referral:{referral.id}:resent-%") == [
        f"fhir:referral:{referral.id}:resent-1"
    ]
    assert len(outbox_keys(session, f"referral:{referral.id}:escalated:1:%")) == 1


# FHIR out.


def test_bundle_validates_with_fhir_resources(hw):
    from fhir.resources.R4B.bundle import Bundle

    message = hw.world.session.scalar(
        select(OutboxMessage).where(OutboxMessage.key == f"fhir:referral:{hw.referral_a.id}:sent")
    )
    data = json.loads(message.body)
    bundle = Bundle.model_validate(data)
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert kinds == ["Patient", "Organization", "ServiceRequest"]
    request = data["entry"][2]["resource"]
    assert request["subject"]["reference"] == f"Patient/spets-student-{hw.world.student_a9.id}"
    assert request["performer"][0]["reference"] == f"Organization/spets-facility-{hw.bhu_a.id}"
    assert data["entry"][0]["resource"]["identifier"][1]["value"] == "36302-1111111-1"


def test_invalid_bundle_rejected():
    with pytest.raises(ValueError, match="invalid FHIR bundle"):
        fhir.validate_bundle(
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [{"resource": {"resourceType": "Patient", "birthDate": "14/08/2012"}}],
            }
        )


class Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's method name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), json.loads(body)))
        reply = {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [
                {"response": {"status": "200 OK", "location": "Patient/p-1/_history/1"}},
                {"response": {"status": "200 OK", "location": "Organization/o-1/_history/1"}},
                {
                    "response": {
                        "status": "201 Created",
                        "location": "ServiceRequest/dept-77/_history/1",
                    }
                },
            ],
        }
        payload = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    server.shutdown()
    server.server_close()


def test_round_trip_closes_referral(hw, receiver, session_factory, tmp_path):
    session = hw.world.session
    senders = messaging.Senders.from_settings({}, tmp_path)
    fhir.register_sender(senders, {"spets.fhir.url": receiver, "spets.fhir.token": "out-token"})
    session.flush()

    result = messaging.deliver_pending(session_factory, senders, hw.world.now)
    assert result.sent.get("fhir") == 2  # both referrals of the world
    headers, bundle = next(
        (h, b)
        for h, b in Receiver.received
        if b["entry"][2]["resource"]["id"] == f"spets-referral-{hw.referral_a.id}"
    )
    assert headers["Authorization"] == "Bearer out-token"
    assert headers["Content-Type"] == "application/fhir+json"
    session.expire_all()
    referral = session.get(Referral, hw.referral_a.id)
    assert referral.fhir_id == "dept-77"
    sent = session.scalar(
        select(OutboxMessage).where(OutboxMessage.key == f"fhir:referral:{referral.id}:sent")
    )
    assert sent.status == OutboxStatus.SENT

    outcome = {
        "resourceType": "Task",
        "status": "completed",
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/spets-referral-{referral.id}"},
        "output": [
            {"type": {"text": "outcome"}, "valueString": "Glasses prescribed; seat near the board."}
        ],
    }
    updates = fhir.parse_status_updates(json.dumps(outcome).encode())
    referrals.apply_status_updates(session, updates, actor=SYSTEM, now=hw.world.now)
    assert referral.state == S.CLOSED
    assert referral.outcome == "Glasses prescribed; seat near the board."


def test_sender_failure_is_retried(hw, session_factory, tmp_path):
    session = hw.world.session
    senders = messaging.Senders.from_settings({}, tmp_path)
    fhir.register_sender(senders, {"spets.fhir.url": "http://127.0.0.1:9/fhir"})
    session.flush()
    result = messaging.deliver_pending(session_factory, senders, hw.world.now)
    assert result.failed == 2
    session.expire_all()
    message = session.scalar(
        select(OutboxMessage).where(OutboxMessage.key == f"fhir:referral:{hw.referral_a.id}:sent")
    )
    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1
    assert "ConnectError" in message.last_error


# FHIR in.


def task_update(referral_id, status, **extra) -> bytes:
    body = {
        "resourceType": "Task",
        "status": status,
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/spets-referral-{referral_id}"},
        **extra,
    }
    return json.dumps(body).encode()


def test_update_acknowledge_then_appointment(hw):
    session = hw.world.session
    updates = fhir.parse_status_updates(task_update(hw.referral_a.id, "received"))
    referrals.apply_status_updates(session, updates, actor=SYSTEM, now=hw.world.now)
    assert hw.referral_a.state == S.ACKNOWLEDGED
    updates = fhir.parse_status_updates(
        task_update(
            hw.referral_a.id, "accepted", executionPeriod={"start": "2026-12-09T10:00:00+05:00"}
        )
    )
    referrals.apply_status_updates(session, updates, actor=SYSTEM, now=hw.world.now)
    assert (hw.referral_a.state, hw.referral_a.appointment_on) == (S.APPOINTMENT, date(2026, 12, 9))
    # The same update again changes nothing.
    referrals.apply_status_updates(session, updates, actor=SYSTEM, now=hw.world.now)
    assert hw.referral_a.state == S.APPOINTMENT


def test_service_request_revoked_cancels(hw):
    body = {
        "resourceType": "ServiceRequest",
        "id": f"spets-referral-{hw.referral_a.id}",
        "status": "revoked",
        "intent": "order",
        "subject": {"reference": "Patient/x"},
        "note": [{"text": "Duplicate of another referral."}],
    }
    updates = fhir.parse_status_updates(json.dumps(body).encode())
    referrals.apply_status_updates(hw.world.session, updates, actor=SYSTEM, now=hw.world.now)
    assert hw.referral_a.state == S.CANCELLED
    assert hw.referral_a.cancel_reason == "Duplicate of another referral."


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "not JSON"),
        (b'{"resourceType": "Patient", "id": "x"}', 400, "cannot report"),
        (b'{"status": "completed"}', 400, "no resourceType"),
        (task_update(1, "on-hold"), 422, "does not move a referral"),
        (task_update(1, "completed"), 400, "needs its outcome"),
        (task_update(1, "cancelled"), 400, "needs a reason"),
        (
            b'{"resourceType": "Task", "status": "received", "intent": "order"}',
            400,
            "No referral is named",
        ),
        (
            b'{"resourceType": "Task", "status": "received", "intent": "order", "focus": 5}',
            400,
            "not valid FHIR",
        ),
    ],
    ids=[
        "not-json",
        "patient",
        "no-type",
        "on-hold",
        "no-outcome",
        "no-reason",
        "no-reference",
        "invalid",
    ],
)
def test_malformed_update_rejected(body, status, words):
    with pytest.raises(fhir.FhirError) as raised:
        fhir.parse_status_updates(body)
    assert raised.value.status == status
    assert words in raised.value.message


def test_bundle_update_all_or_none(hw):
    session = hw.world.session
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": json.loads(task_update(hw.referral_a.id, "received"))},
            {"resource": json.loads(task_update(999999, "received"))},
        ],
    }
    updates = fhir.parse_status_updates(json.dumps(bundle).encode())
    with pytest.raises(fhir.FhirError) as raised:
        referrals.apply_status_updates(session, updates, actor=SYSTEM, now=hw.world.now)
    assert raised.value.status == 404
    session.expire_all()
    assert session.get(Referral, hw.referral_a.id).state == S.SENT
