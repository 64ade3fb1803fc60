"""Result sheets (draft → submitted → verified → published) and amendments to published marks.

A published sheet is locked: it has no further trigger. A change to a published mark
goes through an amendment, requested → approved or rejected; approval publishes a new
version of the sheet (done by the service, in the same transaction). Every move writes
an audit event into the caller's transaction.
"""

from transitions import Machine

from spets.models import AmendmentState, AuditAction, AuditEvent, SheetState

S = SheetState
A = AmendmentState


def _audit(entity_type: str):
    def record(event) -> None:
        record_object = event.model
        event.kwargs["session"].add(
            AuditEvent(
                occurred_at=event.kwargs["now"],
                actor_id=event.kwargs.get("actor_id"),
                action=AuditAction.UPDATE,
                entity_type=entity_type,
                entity_id=record_object.id,
                org_unit_id=event.kwargs.get("org_unit_id"),
                reason=event.kwargs.get("comment", "")[:500],
                changes={
                    "state": {"before": event.transition.source, "after": event.transition.dest},
                    "trigger": {"before": None, "after": event.event.name},
                },
                client_addr=event.kwargs.get("client_addr"),
            )
        )

    return record


def _stamp(field_at: str, field_by: str | None = None):
    def stamp(event) -> None:
        setattr(event.model, field_at, event.kwargs["now"])
        if field_by:
            setattr(event.model, field_by, event.kwargs.get("actor_id"))

    return stamp


_sheet_audit = _audit("result_sheet")

SHEET_TRANSITIONS = [
    {
        "trigger": "submit",
        "source": S.DRAFT,
        "dest": S.SUBMITTED,
        "before": _stamp("submitted_at"),
        "after": _sheet_audit,
    },
    {
        "trigger": "verify",
        "source": S.SUBMITTED,
        "dest": S.VERIFIED,
        "before": _stamp("verified_at", "verified_by_id"),
        "after": _sheet_audit,
    },
    {
        "trigger": "publish",
        "source": S.VERIFIED,
        "dest": S.PUBLISHED,
        "before": _stamp("published_at", "published_by_id"),
        "after": _sheet_audit,
    },
    {
        "trigger": "send_back",
        "source": [S.SUBMITTED, S.VERIFIED],
        "dest": S.DRAFT,
        "after": _sheet_audit,
    },
]

SHEET_MACHINE = Machine(
    model=None,
    states=SheetState,
    initial=SheetState.DRAFT,
    transitions=SHEET_TRANSITIONS,
    auto_transitions=False,
    model_attribute="state",
    send_event=True,
)


def _decide(event) -> None:
    amendment = event.model
    amendment.decided_at = event.kwargs["now"]
    amendment.decided_by_id = event.kwargs.get("actor_id")
    amendment.decision_comment = event.kwargs.get("comment", "")[:1000]


_amendment_audit = _audit("amendment")

AMENDMENT_TRANSITIONS = [
    {
        "trigger": "approve",
        "source": A.REQUESTED,
        "dest": A.APPROVED,
        "before": _decide,
        "after": _amendment_audit,
    },
    {
        "trigger": "reject",
        "source": A.REQUESTED,
        "dest": A.REJECTED,
        "before": _decide,
        "after": _amendment_audit,
    },
]

AMENDMENT_MACHINE = Machine(
    model=None,
    states=AmendmentState,
    initial=AmendmentState.REQUESTED,
    transitions=AMENDMENT_TRANSITIONS,
    auto_transitions=False,
    model_attribute="state",
    send_event=True,
)
