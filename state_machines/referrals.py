"""The referral life cycle: raised → sent → acknowledged → appointment → seen → closed.

A facility may see a child without an appointment (acknowledged → seen) and may move an
appointment (appointment → appointment). A referral not acknowledged or not seen by its
due date is escalated: `escalate` keeps the state, counts the escalation and lets the
service re-send the referral. Until the child is seen, the school may cancel it with a
reason. Closing needs an outcome. Every move writes an audit event into the caller's
transaction; a callback never commits.
"""

from transitions import Machine

from spets.models import AuditAction, AuditEvent, ReferralState

S = ReferralState

OPEN_STATES = (S.SENT, S.ACKNOWLEDGED, S.APPOINTMENT)


class MissingValue(Exception):
    """A trigger that needs a value (an outcome, a reason, a date) was fired without it."""

    def __init__(self, name: str):
        super().__init__(f"{name} is required for this step")
        self.name = name


def _require(name: str):
    def check(event) -> None:
        value = event.kwargs.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise MissingValue(name)

    return check


def _stamp_acknowledged(event) -> None:
    event.model.acknowledged_at = event.kwargs["now"]


def _stamp_appointment(event) -> None:
    event.model.appointment_on = event.kwargs["appointment_on"]


def _stamp_seen(event) -> None:
    event.model.seen_at = event.kwargs["now"]


def _stamp_closed(event) -> None:
    referral = event.model
    referral.outcome = event.kwargs["outcome"].strip()
    referral.closed_at = event.kwargs["now"]


def _stamp_cancelled(event) -> None:
    referral = event.model
    referral.cancel_reason = event.kwargs["reason"].strip()
    referral.closed_at = event.kwargs["now"]


def _count_escalation(event) -> None:
    event.model.escalations += 1


def _audit(event) -> None:
    referral = event.model
    # transitions names states by their enum member name; the audit trail stores the value.
    source = S[event.transition.source].value
    dest = S[event.transition.dest].value if event.transition.dest else source
    event.kwargs["session"].add(
        AuditEvent(
            occurred_at=event.kwargs["now"],
            actor_id=event.kwargs.get("actor_id"),
            action=AuditAction.UPDATE,
            entity_type="referral",
            entity_id=referral.id,
            student_id=referral.student_id,
            org_unit_id=referral.school_id,
            category="health",
            reason=event.kwargs.get("comment", "")[:500],
            changes={
                "state": {"before": source, "after": dest},
                "trigger": {"before": None, "after": event.event.name},
            },
            client_addr=event.kwargs.get("client_addr"),
        )
    )


TRANSITIONS = [
    {"trigger": "send", "source": S.RAISED, "dest": S.SENT, "after": _audit},
    {
        "trigger": "acknowledge",
        "source": S.SENT,
        "dest": S.ACKNOWLEDGED,
        "before": _stamp_acknowledged,
        "after": _audit,
    },
    {
        "trigger": "book",
        "source": [S.ACKNOWLEDGED, S.APPOINTMENT],
        "dest": S.APPOINTMENT,
        "before": [_require("appointment_on"), _stamp_appointment],
        "after": _audit,
    },
    {
        "trigger": "record_seen",
        "source": [S.ACKNOWLEDGED, S.APPOINTMENT],
        "dest": S.SEEN,
        "before": _stamp_seen,
        "after": _audit,
    },
    {
        "trigger": "close",
        "source": S.SEEN,
        "dest": S.CLOSED,
        "before": [_require("outcome"), _stamp_closed],
        "after": _audit,
    },
    {
        "trigger": "cancel",
        "source": [S.RAISED, *OPEN_STATES],
        "dest": S.CANCELLED,
        "before": [_require("reason"), _stamp_cancelled],
        "after": _audit,
    },
    {
        # An internal transition: the state stays, the escalation is counted.
        "trigger": "escalate",
        "source": list(OPEN_STATES),
        "dest": None,
        "before": _count_escalation,
        "after": _audit,
    },
]

REFERRAL_MACHINE = Machine(
    model=None,
    states=ReferralState,
    initial=ReferralState.RAISED,
    transitions=TRANSITIONS,
    auto_transitions=False,
    model_attribute="state",
    send_event=True,
)
