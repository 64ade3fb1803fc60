"""The task life cycle: open → in progress → submitted → approved (locked), or returned → in progress.

Escalation is not a state: a pending task climbs its escalation ladder while it waits.
Every move writes an audit event into the caller's transaction.
"""

from transitions import Machine

from spets.models import AuditAction, AuditEvent, TaskState

S = TaskState


def _stamp_submission(event) -> None:
    task, now = event.model, event.kwargs["now"]
    task.submitted_at = now
    task.submitted_late = now >= task.due_at
    task.next_reminder_at = None
    task.next_escalation_at = None


def _stamp_decision(event) -> None:
    task = event.model
    task.decided_at = event.kwargs["now"]
    task.decided_by_id = event.kwargs.get("actor_id")
    task.comment = event.kwargs.get("comment", "")[:1000]
    task.next_reminder_at = None
    task.next_escalation_at = None


def _audit(event) -> None:
    task = event.model
    event.kwargs["session"].add(
        AuditEvent(
            occurred_at=event.kwargs["now"],
            actor_id=event.kwargs.get("actor_id"),
            action=AuditAction.UPDATE,
            entity_type="task",
            entity_id=task.id,
            org_unit_id=task.school_id,
            reason=event.kwargs.get("comment", "")[:500],
            changes={
                "state": {"before": event.transition.source, "after": event.transition.dest},
                "trigger": {"before": None, "after": event.event.name},
            },
            client_addr=event.kwargs.get("client_addr"),
        )
    )


PENDING = [S.OPEN, S.IN_PROGRESS, S.RETURNED]

TRANSITIONS = [
    {"trigger": "start", "source": [S.OPEN, S.RETURNED], "dest": S.IN_PROGRESS, "after": _audit},
    {
        "trigger": "submit",
        "source": PENDING,
        "dest": S.SUBMITTED,
        "before": _stamp_submission,
        "after": _audit,
    },
    {
        "trigger": "approve",
        "source": S.SUBMITTED,
        "dest": S.APPROVED,
        "before": _stamp_decision,
        "after": _audit,
    },
    {
        "trigger": "send_back",
        "source": S.SUBMITTED,
        "dest": S.RETURNED,
        "before": _stamp_decision,
        "after": _audit,
    },
    {
        "trigger": "cancel",
        "source": [*PENDING, S.SUBMITTED],
        "dest": S.CANCELLED,
        "before": _stamp_decision,
        "after": _audit,
    },
]

TASK_MACHINE = Machine(
    model=None,
    states=TaskState,
    initial=TaskState.OPEN,
    transitions=TRANSITIONS,
    auto_transitions=False,
    model_attribute="state",
    send_event=True,
)
