"""Write audit events: every write with before and after values, and sensitive reads."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from spets.models import AuditAction, AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who acts: a user, or the system (a flow, an import from the command line)."""

    user_id: int | None
    client_addr: str | None = None

    @classmethod
    def system(cls) -> "Actor":
        return cls(user_id=None)


def record(
    session: Session,
    *,
    actor: Actor,
    action: AuditAction,
    entity_type: str,
    entity_id: int | None,
    now: datetime,
    student_id: int | None = None,
    org_unit_id: int | None = None,
    category: str | None = None,
    reason: str = "",
    changes: Mapping[str, Any] | None = None,
) -> None:
    """Add one audit event to the caller's transaction."""
    session.execute(
        insert(AuditEvent).values(
            occurred_at=now,
            actor_id=actor.user_id,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            student_id=student_id,
            org_unit_id=org_unit_id,
            category=category,
            reason=reason[:500],
            changes=dict(changes) if changes else None,
            client_addr=actor.client_addr,
        )
    )


def snapshot(obj: object, fields: Iterable[str]) -> dict[str, Any]:
    """Return the listed attributes of a record as JSON-ready values."""
    return {name: to_json_value(getattr(obj, name)) for name in fields}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return ``{field: {"before": old, "after": new}}`` for the fields that changed."""
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in after
        if before.get(name) != after.get(name)
    }


def to_json_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
