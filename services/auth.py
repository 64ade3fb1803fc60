"""Passwords (argon2id) and sign-in with throttling per username and per client address."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from spets.i18n import _
from spets.models import AuditAction, LoginThrottle, User
from spets.services import audit
from spets.services.audit import Actor
from spets.services.errors import InvalidInput

log = logging.getLogger(__name__)

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password_strength(password: str, username: str = "") -> None:
    """Raise InvalidInput for a password that is short or repeats the username."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            _(
                "password_too_short",
                default="The password must have at least ${minimum} characters; "
                "this one has ${length}.",
                mapping={"minimum": MIN_PASSWORD_LENGTH, "length": len(password)},
            ),
            {"password": _("password_too_short_field", default="Too short.")},
        )
    if username and username.lower() in password.lower():
        raise InvalidInput(
            _("password_has_username", default="The password must not contain the username."),
            {
                "password": _(
                    "password_has_username", default="The password must not contain the username."
                )
            },
        )


@dataclass(frozen=True)
class ThrottlePolicy:
    """Failures allowed per window before a lockout.

    The limit per address is higher because a school's staff often share one address.
    """

    max_failures: int = 5
    max_failures_per_addr: int = 30
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


class LoginResult:
    """Outcome of a sign-in attempt; `user` is set only on success."""

    def __init__(self, user: User | None = None, locked_until: datetime | None = None):
        self.user = user
        self.locked_until = locked_until

    @property
    def ok(self) -> bool:
        return self.user is not None


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    client_addr: str | None,
    now: datetime,
    policy: ThrottlePolicy,
) -> LoginResult:
    """Check a username and password, counting failures against the name and the address.

    A locked key refuses even the right password until the lockout ends, so guessing
    cannot continue by luck. The result never says whether the username exists.
    """
    username = username.strip().lower()
    keys = [f"user:{username}"] + ([f"addr:{client_addr}"] if client_addr else [])

    locked_until = _locked_until(session, keys, now)
    if locked_until is not None:
        log.warning("login_refused_locked", extra={"client_addr": client_addr})
        return LoginResult(locked_until=locked_until)

    user = session.scalar(select(User).where(func.lower(User.username) == username))
    if user is not None and user.is_active and verify_password(user.password_hash, password):
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys[0]))
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        audit.record(
            session,
            actor=Actor(user.id, client_addr),
            action=AuditAction.LOGIN,
            entity_type="user",
            entity_id=user.id,
            now=now,
        )
        return LoginResult(user=user)

    _count_failure(session, keys[0], now, policy, policy.max_failures)
    for key in keys[1:]:
        _count_failure(session, key, now, policy, policy.max_failures_per_addr)
    audit.record(
        session,
        actor=Actor(None, client_addr),
        action=AuditAction.LOGIN_FAILED,
        entity_type="user",
        entity_id=user.id if user is not None else None,
        now=now,
    )
    return LoginResult(locked_until=_locked_until(session, keys, now))


def _locked_until(session: Session, keys: list[str], now: datetime) -> datetime | None:
    until = session.scalar(
        select(func.max(LoginThrottle.locked_until)).where(
            LoginThrottle.key.in_(keys), LoginThrottle.locked_until > now
        )
    )
    return until


def _count_failure(
    session: Session, key: str, now: datetime, policy: ThrottlePolicy, limit: int
) -> None:
    throttle = session.get(LoginThrottle, key)
    if throttle is None:
        throttle = LoginThrottle(key=key, failures=0, window_started_at=now)
        session.add(throttle)
    elif now - throttle.window_started_at > policy.window:
        throttle.failures = 0
        throttle.window_started_at = now
        throttle.locked_until = None

    throttle.failures += 1
    if throttle.failures >= limit:
        throttle.locked_until = now + policy.lockout
    session.flush()


def change_password(
    session: Session, user: User, current: str, new: str, *, actor: Actor, now: datetime
) -> None:
    if not verify_password(user.password_hash, current):
        raise InvalidInput(
            _("current_password_wrong", default="The current password is not correct."),
            {
                "current_password": _(
                    "current_password_wrong", default="The current password is not correct."
                )
            },
        )
    set_password(session, user, new, actor=actor, now=now)


def set_password(session: Session, user: User, new: str, *, actor: Actor, now: datetime) -> None:
    check_password_strength(new, user.username)
    user.password_hash = hash_password(new)
    user.password_changed_at = now
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="user",
        entity_id=user.id,
        now=now,
        changes={"password": {"before": "(hidden)", "after": "(changed)"}},
    )
