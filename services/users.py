"""Staff accounts and their role assignments, managed by a tenant's admins."""

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spets.forms import vocab
from spets.i18n import _
from spets.models import AuditAction, OrgUnit, Role, RoleAssignment, User
from spets.services import audit
from spets.services.audit import Actor
from spets.services.auth import check_password_strength, hash_password
from spets.services.errors import InvalidInput
from spets.services.org import check_version
from spets.services.scope import ROLE_ORG_KINDS

USER_FIELDS = (
    "username",
    "display_name",
    "display_name_ur",
    "locale",
    "phone",
    "email",
    "is_active",
)


def create_user(
    session: Session,
    *,
    tenant_id: int,
    values: dict,
    password: str,
    actor: Actor,
    now: datetime,
) -> User:
    username = values["username"].strip().lower()
    _check_username_free(session, username, exclude_id=None)
    check_password_strength(password, username)

    user = User(
        tenant_id=tenant_id,
        password_hash=hash_password(password),
        created_at=now,
        password_changed_at=now,
        **{name: values.get(name) for name in USER_FIELDS if name != "username"},
        username=username,
    )
    if user.is_active is None:
        user.is_active = True
    user.display_name_ur = user.display_name_ur or ""
    user.locale = user.locale or "en"
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="user",
        entity_id=user.id,
        org_unit_id=tenant_id,
        now=now,
        changes=audit.diff({}, audit.snapshot(user, USER_FIELDS)),
    )
    return user


def update_user(
    session: Session, user: User, values: dict, *, version: int | None, actor: Actor, now: datetime
) -> User:
    fields = [name for name in USER_FIELDS if name in values]
    check_version(user, version, values, fields)
    if "username" in values:
        values = {**values, "username": values["username"].strip().lower()}
        _check_username_free(session, values["username"], exclude_id=user.id)
    if actor.user_id == user.id and values.get("is_active") is False:
        message = _("cannot_disable_self", default="You cannot disable your own account.")
        raise InvalidInput(message, {"is_active": message})

    before = audit.snapshot(user, fields)
    for name in fields:
        value = values[name]
        setattr(user, name, "" if value is None and name == "display_name_ur" else value)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="user",
        entity_id=user.id,
        org_unit_id=user.tenant_id,
        now=now,
        changes=audit.diff(before, audit.snapshot(user, fields)),
    )
    return user


def set_locale(session: Session, user: User, locale: str) -> None:
    """Store the user's language for pages, e-mails and messages."""
    if locale not in ("en", "ur"):
        raise InvalidInput(
            _("unknown_locale", default="Unknown language ${code}.", mapping={"code": locale})
        )
    user.locale = locale
    session.flush()


def _check_username_free(session: Session, username: str, exclude_id: int | None) -> None:
    clash = session.scalar(
        select(User.id).where(func.lower(User.username) == username, User.id != (exclude_id or -1))
    )
    if clash is not None:
        message = _(
            "username_taken",
            default='The username "${value}" is already taken; choose another.',
            mapping={"value": username},
        )
        raise InvalidInput(message, {"username": message})


def assign_role(
    session: Session,
    *,
    user: User,
    role: Role,
    org_unit: OrgUnit,
    valid_from: date,
    valid_to: date | None,
    actor: Actor,
    now: datetime,
) -> RoleAssignment:
    """Give a user a role over an org unit, after checking the unit's kind fits the role."""
    allowed_kinds = ROLE_ORG_KINDS[role]
    if org_unit.kind.value not in allowed_kinds:
        message = _(
            "role_wrong_unit",
            default="A ${role} is assigned to a ${allowed}, not to a ${kind}.",
            mapping={
                "role": vocab.ROLE[role],
                "allowed": " / ".join(sorted(allowed_kinds)),
                "kind": org_unit.kind.value,
            },
        )
        raise InvalidInput(message, {"org_unit": message})
    if (org_unit.tenant_id or org_unit.id) != user.tenant_id:
        message = _("role_other_tenant", default="The org unit belongs to another tenant.")
        raise InvalidInput(message, {"org_unit": message})
    if valid_to is not None and valid_to < valid_from:
        message = _("ends_before_starts", default="The end date is before the start date.")
        raise InvalidInput(message, {"valid_to": message})

    assignment = RoleAssignment(
        user_id=user.id,
        role=role,
        org_unit_id=org_unit.id,
        valid_from=valid_from,
        valid_to=valid_to,
        created_at=now,
        created_by_id=actor.user_id,
    )
    session.add(assignment)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="role_assignment",
        entity_id=assignment.id,
        org_unit_id=org_unit.id,
        now=now,
        changes={
            "user_id": {"before": None, "after": user.id},
            "role": {"before": None, "after": role.value},
            "valid_from": {"before": None, "after": valid_from.isoformat()},
        },
    )
    return assignment


def end_role(
    session: Session, assignment: RoleAssignment, last_day: date, *, actor: Actor, now: datetime
) -> RoleAssignment:
    if last_day < assignment.valid_from:
        message = _(
            "role_end_before_start",
            default="The last day cannot be before ${date}, when the role started.",
            mapping={"date": assignment.valid_from.strftime("%d/%m/%Y")},
        )
        raise InvalidInput(message, {"valid_to": message})
    before = assignment.valid_to
    assignment.valid_to = last_day
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="role_assignment",
        entity_id=assignment.id,
        org_unit_id=assignment.org_unit_id,
        now=now,
        changes={
            "valid_to": {
                "before": before.isoformat() if before else None,
                "after": last_day.isoformat(),
            }
        },
    )
    return assignment
