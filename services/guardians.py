"""Guardian accounts: invitation codes, sign-up with a one-time code, linking, and corrections.

A school issues an invitation code per guardian, printed on a slip and sent by SMS. The
guardian signs up in two steps: the invitation code and the mobile number the school has
on record for that guardian, then the six-digit code sent to that number and a password. The account signs in with the mobile
number (written 03001234567) as its username, holds the guardian role at the tenant's
root, and reaches only the guardian's own children through `GuardianAccount` and
`StudentGuardian`. A signed-in guardian can link a second guardian record (the same
person entered twice, or in another tenant) with that record's invitation code.

Codes are stored as SHA-256 hashes. Wrong invitation codes and wrong one-time codes are
counted per phone number, per invitation code and per client address in the
`LoginThrottle` table that sign-in uses; a key that reaches its limit is locked for a
while, and every answer reads the same whether or not the number has an account.
"""

import functools
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, bindparam, delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from spets.i18n import _, normalize_digits, translate
from spets.models import (
    AuditAction,
    Channel,
    CorrectionState,
    FamilyCorrection,
    Guardian,
    GuardianAccount,
    Invitation,
    LoginThrottle,
    OneTimeCode,
    OrgUnit,
    OutboxMessage,
    OutboxStatus,
    Role,
    RoleAssignment,
    Section,
    Student,
    StudentGuardian,
    User,
)
from spets.services import audit, messaging, people, threads
from spets.services.audit import Actor
from spets.services.auth import (
    ThrottlePolicy,
    _count_failure,
    _locked_until,
    check_password_strength,
    hash_password,
)
from spets.services.calendar import local_today
from spets.services.errors import InvalidInput, Locked, NotFound, StaleEdit
from spets.services.scope import Principal, student_clause

log = logging.getLogger(__name__)

LOCAL_ZONE = ZoneInfo("Asia/Karachi")

# Invitation codes: ten characters from an alphabet without look-alikes (0/O, 1/I/L),
# printed as two groups of five: 31**10, about 8 * 10**14 codes.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
OTP_DIGITS = 6


@dataclass(frozen=True)
class SignupPolicy:
    """Lifetimes and limits of sign-up. Failures count per key within `window`."""

    invitation_lifetime: timedelta = timedelta(days=30)
    otp_lifetime: timedelta = timedelta(minutes=10)
    otp_max_attempts: int = 5
    otp_sends_per_phone: int = 3
    otp_send_window: timedelta = timedelta(hours=1)
    max_failures_per_phone: int = 5
    max_failures_per_code: int = 5
    max_failures_per_addr: int = 30
    window: timedelta = timedelta(minutes=30)
    lockout: timedelta = timedelta(minutes=30)

    @property
    def throttle(self) -> ThrottlePolicy:
        return ThrottlePolicy(window=self.window, lockout=self.lockout)


DEFAULT_POLICY = SignupPolicy()


# Codes.


def normalise_code(typed: str) -> str:
    """Read an invitation code as typed: any case, Urdu digits, spaces and dashes allowed."""
    text = normalize_digits(typed or "").upper()
    return "".join(char for char in text if char.isalnum())


def format_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode("ascii", "ignore")).hexdigest()


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _position in range(CODE_LENGTH))


def _hash_otp(phone: str, purpose: str, otp: str) -> str:
    return hashlib.sha256(f"{phone}|{purpose}|{otp}".encode()).hexdigest()


def username_for_phone(phone: str) -> str:
    """The username of a guardian account: the mobile number as people write it, 03001234567."""
    return "0" + phone.removeprefix("+92")


def local_phone(phone: str | None) -> str:
    if not phone:
        return ""
    local = username_for_phone(phone)
    return f"{local[:4]}-{local[4:]}"


def phone_ending(phone: str | None, digits: int = 3) -> str:
    """Return the last digits of a number, enough to recognise it without revealing it."""
    return (phone or "")[-digits:]


# Invitations.


@dataclass
class IssuedInvitation:
    """An invitation with its code in clear: shown once on the slip, never stored."""

    invitation: Invitation
    code: str
    guardian: Guardian
    students: list[Student]
    sms_queued: bool

    @property
    def printed_code(self) -> str:
        return format_code(self.code)


def account_user_id(session: Session, guardian_id: int) -> int | None:
    return session.scalar(
        select(GuardianAccount.user_id).where(GuardianAccount.guardian_id == guardian_id)
    )


def students_of_guardian(session: Session, guardian_id: int) -> list[Student]:
    return list(
        session.scalars(
            select(Student)
            .join(StudentGuardian, StudentGuardian.student_id == Student.id)
            .where(StudentGuardian.guardian_id == guardian_id)
            .order_by(Student.name_en)
        )
    )


def issue_invitation(
    session: Session,
    guardian: Guardian,
    *,
    actor: Actor,
    now: datetime,
    policy: SignupPolicy = DEFAULT_POLICY,
    school_name: str = "",
) -> IssuedInvitation:
    """Issue a new invitation code to a guardian, revoking any earlier one, and SMS it.

    The code is returned in clear for the printed slip; only its hash is stored.
    """
    if account_user_id(session, guardian.id) is not None:
        raise InvalidInput(
            _(
                "invitation_has_account",
                default="${guardian} already has an account; no invitation is needed.",
                mapping={"guardian": guardian.name_en},
            )
        )
    session.execute(
        update(Invitation)
        .where(
            Invitation.guardian_id == guardian.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    code = _new_code()
    while session.scalar(select(Invitation.id).where(Invitation.code_hash == hash_code(code))):
        code = _new_code()
    invitation = Invitation(
        guardian_id=guardian.id,
        code_hash=hash_code(code),
        issued_by_id=actor.user_id,
        issued_at=now,
        expires_at=now + policy.invitation_lifetime,
    )
    session.add(invitation)
    session.flush()
    sms_queued = _send_invitation_sms(session, guardian, invitation, code, now, school_name)
    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="invitation",
        entity_id=invitation.id,
        now=now,
        changes={"guardian_id": {"before": None, "after": guardian.id}},
    )
    return IssuedInvitation(
        invitation, code, guardian, students_of_guardian(session, guardian.id), sms_queued
    )


def _send_invitation_sms(session, guardian, invitation, code, now, school_name) -> bool:
    if not guardian.phone:
        return False
    locale = guardian.preferred_locale or "ur"
    link = messaging.absolute("/signup")
    long_text = translate(
        _(
            "sms_invitation",
            default="SPeTS: follow your child's school record online. Your invitation code is "
            "${code}. Sign up at ${link}",
            mapping={"code": format_code(code), "link": link},
        ),
        locale,
    )
    short_text = translate(
        _(
            "sms_invitation_short",
            default="SPeTS code ${code}: ${link}",
            mapping={"code": format_code(code), "link": link},
        ),
        locale,
    )
    # NOTE: the outbox keeps the SMS text, so the code is readable there until the row is
    # purged; the code works only once and expires with the invitation.
    threads.queue_outbox(
        session,
        key=f"invitation:{invitation.id}",
        channel=Channel.SMS,
        address=guardian.phone,
        locale=locale,
        subject="SPeTS",
        body=threads.fit_sms([long_text, short_text], max_segments=3),
        link=link,
        guardian_id=guardian.id,
        now=now,
    )
    return True


def revoke_invitation(
    session: Session, invitation: Invitation, *, actor: Actor, now: datetime
) -> None:
    if invitation.used_at is not None or invitation.revoked_at is not None:
        raise Locked(_("invitation_closed", default="This invitation was already used or revoked."))
    invitation.revoked_at = now
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="invitation",
        entity_id=invitation.id,
        now=now,
        changes={"revoked_at": {"before": None, "after": now.isoformat()}},
    )


@dataclass
class GuardianStatus:
    """A guardian of a section with their students, account and open invitation."""

    guardian: Guardian
    students: list[Student]
    has_account: bool
    invitation: Invitation | None

    def invitation_open(self, now: datetime) -> bool:
        return (
            self.invitation is not None
            and self.invitation.used_at is None
            and self.invitation.revoked_at is None
            and self.invitation.expires_at > now
        )


def section_guardian_status(session: Session, section: Section) -> list[GuardianStatus]:
    """List every guardian of the section's current students, with account and invitation state."""
    rows = threads.section_guardians(session, section.id)
    ids = [guardian.id for guardian, _students in rows]
    accounts = set(
        session.scalars(
            select(GuardianAccount.guardian_id).where(GuardianAccount.guardian_id.in_(ids))
        )
    )
    latest: dict[int, Invitation] = {}
    for invitation in session.scalars(
        select(Invitation).where(Invitation.guardian_id.in_(ids)).order_by(Invitation.id)
    ):
        latest[invitation.guardian_id] = invitation
    return [
        GuardianStatus(guardian, students, guardian.id in accounts, latest.get(guardian.id))
        for guardian, students in rows
    ]


def issue_for_section(
    session: Session,
    section: Section,
    *,
    actor: Actor,
    now: datetime,
    guardian_ids: set[int] | None = None,
    policy: SignupPolicy = DEFAULT_POLICY,
) -> list[IssuedInvitation]:
    """Issue codes to the section's guardians without an account (or only `guardian_ids`)."""
    school_name = section.school.name_en
    issued = []
    for status in section_guardian_status(session, section):
        if status.has_account:
            continue
        if guardian_ids is not None and status.guardian.id not in guardian_ids:
            continue
        issued.append(
            issue_invitation(
                session,
                status.guardian,
                actor=actor,
                now=now,
                policy=policy,
                school_name=school_name,
            )
        )
    return issued


# Sign-up.


class SignupRefused(InvalidInput):
    """A sign-up step failed; `locked_until` is set when a limit was reached."""

    def __init__(self, message, field_errors=None, locked_until: datetime | None = None):
        super().__init__(message, field_errors)
        self.locked_until = locked_until


def _locked_message(until: datetime):
    return _(
        "signup_locked",
        default="Too many wrong codes were tried. For your safety, sign-up with this number or "
        "code is paused until ${time}. Try again then, or ask the school for help.",
        mapping={"time": until.astimezone(LOCAL_ZONE).strftime("%H:%M")},
    )


WRONG_INVITATION = _(
    "invitation_invalid",
    default="This invitation code is wrong, already used or expired. Check the code on your "
    "slip, or ask the school for a new one.",
)
WRONG_OTP = _(
    "otp_invalid",
    default="This code is wrong or has expired. Check the SMS, or ask for a new code.",
)
NO_PHONE_ON_RECORD = _(
    "signup_no_phone_on_record",
    default="The school has no mobile number on record for the guardian of this invitation, "
    "so no code can be sent. Ask the school to add your mobile number, then sign up again "
    "with the same invitation code.",
)


def _phone_mismatch_message(recorded_phone: str):
    return _(
        "signup_phone_mismatch",
        default="Your mobile number must be the number the school has on record for you, "
        "which ends in ${ending}. Type that number, or ask the school to correct your number "
        "and then sign up again with the same invitation code.",
        mapping={"ending": phone_ending(recorded_phone)},
    )


@dataclass
class _Keys:
    phone: str
    code: str
    addr: str | None

    @property
    def all(self) -> list[str]:
        return [self.phone, self.code] + ([self.addr] if self.addr else [])


def _keys(phone: str, code_hash: str, client_addr: str | None) -> _Keys:
    return _Keys(
        phone=f"signup:phone:{phone}",
        code=f"signup:code:{code_hash}",
        addr=f"signup:addr:{client_addr}" if client_addr else None,
    )


def _refuse_if_locked(session: Session, keys: _Keys, now: datetime) -> None:
    until = _locked_until(session, keys.all, now)
    if until is not None:
        log.warning("signup_refused_locked")
        raise SignupRefused(_locked_message(until), locked_until=until)


def _count(session: Session, keys: _Keys, now: datetime, policy: SignupPolicy) -> datetime | None:
    throttle = policy.throttle
    _count_failure(session, keys.phone, now, throttle, policy.max_failures_per_phone)
    _count_failure(session, keys.code, now, throttle, policy.max_failures_per_code)
    if keys.addr:
        _count_failure(session, keys.addr, now, throttle, policy.max_failures_per_addr)
    return _locked_until(session, keys.all, now)


def _open_invitation(session: Session, code_hash: str, now: datetime) -> Invitation | None:
    return session.scalar(
        select(Invitation).where(
            Invitation.code_hash == code_hash,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
    )


@dataclass(frozen=True)
class SignupStarted:
    """What the second step needs; the web app keeps it in the signed session."""

    invitation_id: int
    one_time_code_id: int
    phone: str


def start_signup(
    session: Session,
    code: str,
    phone: str,
    *,
    client_addr: str | None,
    locale: str,
    now: datetime,
    policy: SignupPolicy = DEFAULT_POLICY,
) -> SignupStarted:
    """Check an invitation code and send a one-time code to `phone`.

    Raises SignupRefused for a wrong code, a locked key, or a `phone` that is not the
    invited guardian's number on record. If the number already has an
    account, the SMS says so instead of carrying a code, and the answer here is the same,
    so the page never tells whether a number is registered.
    """
    code_hash = hash_code(code)
    keys = _keys(phone, code_hash, client_addr)
    _refuse_if_locked(session, keys, now)

    invitation = _open_invitation(session, code_hash, now)
    if invitation is None or account_user_id(session, invitation.guardian_id) is not None:
        locked = _count(session, keys, now, policy)
        log.info("signup_wrong_invitation", extra={"client_addr": client_addr})
        if locked is not None:
            raise SignupRefused(_locked_message(locked), locked_until=locked)
        raise SignupRefused(WRONG_INVITATION, {"code": WRONG_INVITATION})
    _refuse_unrecorded_phone(session, invitation, phone, keys, client_addr, now, policy)

    sent = session.scalar(
        select(func.count(OneTimeCode.id)).where(
            OneTimeCode.phone == phone, OneTimeCode.created_at > now - policy.otp_send_window
        )
    )
    if sent >= policy.otp_sends_per_phone:
        first = session.scalar(
            select(func.min(OneTimeCode.created_at)).where(
                OneTimeCode.phone == phone, OneTimeCode.created_at > now - policy.otp_send_window
            )
        )
        until = first + policy.otp_send_window
        raise SignupRefused(
            _(
                "otp_send_limit",
                default="${count} codes were already sent to this number in the last hour. Use "
                "the latest one, or ask for a new code after ${time}.",
                mapping={"count": sent, "time": until.astimezone(LOCAL_ZONE).strftime("%H:%M")},
            ),
            locked_until=until,
        )

    purpose = f"signup:{invitation.id}"
    registered = _phone_registered(session, phone)
    otp = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
    one_time_code = OneTimeCode(
        phone=phone,
        purpose=purpose,
        # A registered number gets a code row that no typed code can match, so the limits
        # and the answers stay the same as for a new number.
        code_hash="!" if registered else _hash_otp(phone, purpose, otp),
        attempts=0,
        created_at=now,
        expires_at=now + policy.otp_lifetime,
    )
    session.add(one_time_code)
    session.flush()
    _send_otp_sms(session, one_time_code, otp, registered, locale, policy, now)
    return SignupStarted(invitation.id, one_time_code.id, phone)


def _refuse_unrecorded_phone(session, invitation, phone, keys, client_addr, now, policy) -> None:
    """Raise SignupRefused unless `phone` is the invited guardian's number on record.

    The one-time code goes only to that number, so whoever holds the printed slip (the
    student, say) cannot create the account on another phone. A wrong number counts as a
    failure, so the recorded number cannot be found by trying numbers against one code.
    """
    guardian = session.get(Guardian, invitation.guardian_id)
    if not guardian.phone:
        log.info("signup_no_phone_on_record", extra={"guardian_id": guardian.id})
        raise SignupRefused(NO_PHONE_ON_RECORD, {"phone": NO_PHONE_ON_RECORD})
    if phone == guardian.phone:
        return
    locked = _count(session, keys, now, policy)
    log.info(
        "signup_phone_mismatch",
        extra={"guardian_id": guardian.id, "client_addr": client_addr},
    )
    if locked is not None:
        raise SignupRefused(_locked_message(locked), locked_until=locked)
    message = _phone_mismatch_message(guardian.phone)
    raise SignupRefused(message, {"phone": message})


def _phone_registered(session: Session, phone: str) -> bool:
    return (
        session.scalar(select(User.id).where(User.username == username_for_phone(phone)))
        is not None
    )


def _send_otp_sms(session, one_time_code, otp, registered, locale, policy, now) -> None:
    if registered:
        text = _(
            "sms_signup_registered",
            default="SPeTS: this number already has an account. Sign in with it at ${link}. "
            "To add a child, use the invitation code under Add a child.",
            mapping={"link": messaging.absolute("/login")},
        )
    else:
        text = _(
            "sms_signup_code",
            default="SPeTS: your sign-up code is ${code}. It works for ${minutes} minutes. Do not "
            "share it with anyone.",
            mapping={"code": otp, "minutes": int(policy.otp_lifetime.total_seconds() // 60)},
        )
    threads.queue_outbox(
        session,
        key=f"one-time-code:{one_time_code.id}",
        channel=Channel.SMS,
        address=one_time_code.phone,
        locale=locale,
        subject="SPeTS",
        body=threads.fit_sms([translate(text, locale)], max_segments=3),
        link="",
        now=now,
    )


def complete_signup(
    session: Session,
    started: SignupStarted,
    otp: str,
    password: str,
    *,
    locale: str = "ur",
    sms_script: str = "ur",
    client_addr: str | None,
    now: datetime,
    policy: SignupPolicy = DEFAULT_POLICY,
) -> User:
    """Check the one-time code, then create the account and link it to the invited guardian."""
    invitation = session.get(Invitation, started.invitation_id)
    one_time_code = session.get(OneTimeCode, started.one_time_code_id)
    if invitation is None or one_time_code is None or one_time_code.phone != started.phone:
        raise SignupRefused(WRONG_OTP, {"otp": WRONG_OTP})
    keys = _keys(started.phone, invitation.code_hash, client_addr)
    _refuse_if_locked(session, keys, now)

    typed = "".join(char for char in normalize_digits(otp or "") if char.isdigit())
    usable = (
        one_time_code.used_at is None
        and one_time_code.expires_at > now
        and one_time_code.attempts < policy.otp_max_attempts
        and one_time_code.purpose == f"signup:{invitation.id}"
    )
    matches = hmac.compare_digest(
        one_time_code.code_hash, _hash_otp(started.phone, one_time_code.purpose, typed)
    )
    if not (usable and matches):
        one_time_code.attempts += 1
        locked = _count(session, keys, now, policy)
        log.info("signup_wrong_otp", extra={"client_addr": client_addr})
        if locked is not None:
            raise SignupRefused(_locked_message(locked), locked_until=locked)
        raise SignupRefused(WRONG_OTP, {"otp": WRONG_OTP})

    guardian = session.get(Guardian, invitation.guardian_id)
    if guardian.phone != started.phone:
        # The school changed the number on record after the code was sent.
        message = _phone_mismatch_message(guardian.phone) if guardian.phone else NO_PHONE_ON_RECORD
        raise SignupRefused(message, {"otp": message})

    username = username_for_phone(started.phone)
    check_password_strength(password, username)
    # Claim the invitation and the code in one statement each, so two concurrent sign-ups
    # with the same code cannot both succeed.
    claimed = session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed or _phone_registered(session, started.phone):
        raise SignupRefused(WRONG_INVITATION, {"otp": WRONG_INVITATION})
    one_time_code.used_at = now
    session.refresh(invitation)

    tenant = session.get(OrgUnit, guardian.tenant_id)
    user = User(
        username=username,
        password_hash=hash_password(password),
        display_name=guardian.name_en or guardian.name_ur,
        display_name_ur=guardian.name_ur or "",
        locale=locale if locale in ("en", "ur") else "ur",
        phone=started.phone,
        email=guardian.email,
        tenant_id=tenant.id,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    session.add(
        RoleAssignment(
            user_id=user.id,
            role=Role.GUARDIAN,
            org_unit_id=tenant.id,
            valid_from=local_today(now, tenant.timezone),
            valid_to=None,
            created_at=now,
            created_by_id=None,
        )
    )
    _link(session, guardian, user, sms_script, now)
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys.phone))
    audit.record(
        session,
        actor=Actor(user.id, client_addr),
        action=AuditAction.CREATE,
        entity_type="guardian_account",
        entity_id=guardian.id,
        now=now,
        changes={"user_id": {"before": None, "after": user.id}},
    )
    log.info("guardian_signed_up", extra={"user_id": user.id, "guardian_id": guardian.id})
    return user


def _link(session: Session, guardian: Guardian, user: User, sms_script: str, now: datetime):
    session.add(
        GuardianAccount(
            guardian_id=guardian.id,
            user_id=user.id,
            sms_script=sms_script if sms_script in threads.SMS_SCRIPTS else "ur",
            created_at=now,
        )
    )
    session.execute(
        update(Invitation)
        .where(
            Invitation.guardian_id == guardian.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    release_held(session, guardian.id, user.id, now)


def link_invitation(
    session: Session,
    user: User,
    code: str,
    *,
    client_addr: str | None,
    now: datetime,
    policy: SignupPolicy = DEFAULT_POLICY,
) -> Guardian:
    """Link the guardian record of an invitation to a signed-in guardian's account."""
    code_hash = hash_code(code)
    keys = _Keys(
        phone=f"link:user:{user.id}",
        code=f"signup:code:{code_hash}",
        addr=f"signup:addr:{client_addr}" if client_addr else None,
    )
    _refuse_if_locked(session, keys, now)
    invitation = _open_invitation(session, code_hash, now)
    if invitation is None or account_user_id(session, invitation.guardian_id) is not None:
        locked = _count(session, keys, now, policy)
        if locked is not None:
            raise SignupRefused(_locked_message(locked), locked_until=locked)
        raise SignupRefused(WRONG_INVITATION, {"code": WRONG_INVITATION})
    invitation.used_at = now
    guardian = session.get(Guardian, invitation.guardian_id)
    account = session.scalar(select(GuardianAccount).where(GuardianAccount.user_id == user.id))
    _link(session, guardian, user, account.sms_script if account else "ur", now)
    audit.record(
        session,
        actor=Actor(user.id, client_addr),
        action=AuditAction.CREATE,
        entity_type="guardian_account",
        entity_id=guardian.id,
        now=now,
        changes={"user_id": {"before": None, "after": user.id}},
    )
    return guardian


# Held messages.


def release_held(session: Session, guardian_id: int, user_id: int, now: datetime) -> int:
    """Release the messages held for a guardian now that `user_id` is their account.

    Held e-mails all go out. Of the held SMS only the newest goes out, because each said
    only "sign in to SPeTS"; the older ones are closed as failed with the reason, so a
    new account is not greeted by a burst of SMS. SMS go to the account's verified number.
    Returns the number of messages released.
    """
    user = session.get(User, user_id)
    held = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.guardian_id == guardian_id, OutboxMessage.status == OutboxStatus.HELD)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    ).all()
    released = 0
    newest_sms_seen = False
    for message in held:
        if message.channel == Channel.SMS:
            if newest_sms_seen:
                message.status = OutboxStatus.FAILED
                message.last_error = "not sent: a newer held SMS was released at sign-up"
                continue
            newest_sms_seen = True
            if user is not None and user.phone:
                message.address = user.phone
        message.status = OutboxStatus.PENDING
        message.recipient_id = user_id
        message.next_attempt_at = now
        released += 1
    session.flush()
    if held:
        log.info(
            "held_messages_released",
            extra={"guardian_id": guardian_id, "released": released, "held": len(held)},
        )
    return released


def release_held_for_accounts(session: Session, now: datetime) -> int:
    """Release every held message of a guardian who has an account.

    `messaging.queue_for_guardian` holds every message it writes; for a guardian who
    already has an account each one is a new notification, so all of them go out.
    """
    accounts = select(GuardianAccount.guardian_id, GuardianAccount.user_id).subquery()
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.HELD,
            OutboxMessage.guardian_id == accounts.c.guardian_id,
        )
        .values(status=OutboxStatus.PENDING, recipient_id=accounts.c.user_id, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# The account's guardians and children.


@dataclass
class Child:
    """A child the account reaches, through the guardian record `guardian`."""

    student: Student
    guardian: Guardian
    link: StudentGuardian
    section: Section | None
    school: OrgUnit


def children_of(session: Session, user_id: int) -> list[Child]:
    """List every child of every guardian record of the account, once each, by name."""
    from spets.models import Enrollment

    rows = session.execute(
        select(Student, Guardian, StudentGuardian, Section)
        .join(StudentGuardian, StudentGuardian.student_id == Student.id)
        .join(Guardian, Guardian.id == StudentGuardian.guardian_id)
        .join(GuardianAccount, GuardianAccount.guardian_id == Guardian.id)
        .outerjoin(Enrollment, (Enrollment.student_id == Student.id) & Enrollment.ends_on.is_(None))
        .outerjoin(Section, Section.id == Enrollment.section_id)
        .where(GuardianAccount.user_id == user_id)
        .options(selectinload(Student.school))
        .order_by(Student.name_en, Student.id, Guardian.id)
    ).all()
    children: dict[int, Child] = {}
    for student, guardian, link, section in rows:
        if student.id not in children:
            children[student.id] = Child(student, guardian, link, section, student.school)
    return list(children.values())


def child_link(
    session: Session, user_id: int, student_id: int
) -> tuple[Student, StudentGuardian, Guardian] | None:
    """The student, and the link and guardian record through which the account reaches them.

    One query; None when the account reaches no such student.
    """
    row = session.execute(
        _child_link_statement(), {"user_id": user_id, "student_id": student_id}
    ).first()
    return (row[0], row[1], row[2]) if row else None


@functools.cache
def _child_link_statement():
    """Built once: every portal page runs it with its own `user_id` and `student_id`."""
    return (
        select(Student, StudentGuardian, Guardian)
        .join(StudentGuardian, StudentGuardian.student_id == Student.id)
        .join(Guardian, Guardian.id == StudentGuardian.guardian_id)
        .join(GuardianAccount, GuardianAccount.guardian_id == Guardian.id)
        .where(
            Student.id == bindparam("student_id", type_=Integer),
            GuardianAccount.user_id == bindparam("user_id", type_=Integer),
        )
        .order_by(StudentGuardian.id)
        .limit(1)
    )


def link_of(session: Session, user_id: int, student_id: int) -> StudentGuardian | None:
    """The link through which the account reaches the student, or None if it does not."""
    return session.scalar(
        select(StudentGuardian)
        .join(GuardianAccount, GuardianAccount.guardian_id == StudentGuardian.guardian_id)
        .where(GuardianAccount.user_id == user_id, StudentGuardian.student_id == student_id)
        .order_by(StudentGuardian.id)
        .limit(1)
    )


def account_settings(session: Session, user_id: int) -> GuardianAccount | None:
    return session.scalar(
        select(GuardianAccount)
        .where(GuardianAccount.user_id == user_id)
        .order_by(GuardianAccount.created_at)
        .limit(1)
    )


def save_settings(
    session: Session, user: User, *, locale: str, sms_script: str, email: str | None, now: datetime
) -> None:
    """Set the account's language, SMS script (for every linked record) and e-mail address."""
    before = {"locale": user.locale, "email": user.email}
    user.locale = locale if locale in ("en", "ur") else "ur"
    user.email = email or None
    script = sms_script if sms_script in threads.SMS_SCRIPTS else "ur"
    session.execute(
        update(GuardianAccount)
        .where(GuardianAccount.user_id == user.id)
        .values(sms_script=script)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    audit.record(
        session,
        actor=Actor(user.id),
        action=AuditAction.UPDATE,
        entity_type="user",
        entity_id=user.id,
        now=now,
        changes=audit.diff(before, {"locale": user.locale, "email": user.email}),
    )


# Corrections to the family record.

CORRECTABLE_FIELDS = ("name_en", "name_ur", "cnic", "phone", "email", "education", "occupation")


def propose_correction(
    session: Session,
    *,
    user: User,
    link: StudentGuardian,
    values: dict,
    note: str,
    now: datetime,
) -> FamilyCorrection:
    """Record a change to the guardian's own entry that staff will approve or reject."""
    guardian = link.guardian
    changes = {}
    for name in CORRECTABLE_FIELDS:
        if name not in values or values[name] in (None, ""):
            continue
        before = audit.to_json_value(getattr(guardian, name))
        after = audit.to_json_value(values[name])
        if before != after:
            changes[name] = {"before": before, "after": after}
    note = (note or "").strip()
    if not changes and not note:
        message = _(
            "correction_empty",
            default="Change at least one value, or write what is wrong in the note.",
        )
        raise InvalidInput(message, {"note": message})
    if len(note) > 1000:
        message = _("correction_note_long", default="Keep the note under 1,000 characters.")
        raise InvalidInput(message, {"note": message})
    pending = session.scalar(
        select(func.count(FamilyCorrection.id)).where(
            FamilyCorrection.guardian_id == guardian.id,
            FamilyCorrection.state == CorrectionState.REQUESTED,
        )
    )
    if pending >= 3:
        message = _(
            "correction_too_many",
            default="You have 3 corrections waiting for the school. Wait until they are decided.",
        )
        raise InvalidInput(message, {"note": message})
    correction = FamilyCorrection(
        guardian_id=guardian.id,
        student_id=link.student_id,
        changes=changes,
        note=note,
        state=CorrectionState.REQUESTED,
        requested_at=now,
    )
    session.add(correction)
    session.flush()
    audit.record(
        session,
        actor=Actor(user.id),
        action=AuditAction.CREATE,
        entity_type="family_correction",
        entity_id=correction.id,
        student_id=link.student_id,
        now=now,
        changes=changes,
    )
    _notify_deciders(session, correction, now)
    return correction


def _notify_deciders(session: Session, correction: FamilyCorrection, now: datetime) -> None:
    student = session.get(Student, correction.student_id)
    section = threads.current_section(session, student.id)
    recipients = []
    if section is not None and section.class_teacher_id:
        recipients.append(session.get(User, section.class_teacher_id))
    if not recipients:
        from spets.services.tasks import role_holders

        recipients = role_holders(session, student.school, Role.HEAD_TEACHER, now)
    for recipient in recipients:
        if recipient is None or not recipient.is_active:
            continue
        messaging.queue(
            session,
            key=f"correction:{correction.id}:{recipient.id}",
            recipient=recipient,
            draft=messaging.Draft(
                subject=_(
                    "correction_subject",
                    default="A guardian proposed a correction for ${student}",
                    mapping={"student": student.name_en},
                ),
                body=_(
                    "correction_body",
                    default="A guardian of ${student} proposed a correction to the family "
                    "record. Open it to approve or reject it.",
                    mapping={"student": student.name_en},
                ),
                sms=_("correction_sms", default="SPeTS: a guardian proposed a correction."),
                link=f"/corrections/{correction.id}",
            ),
            now=now,
        )


def corrections_in_scope(
    session: Session, principal: Principal, permission: str, include_decided: bool = False
) -> list[FamilyCorrection]:
    query = (
        select(FamilyCorrection)
        .join(Student, Student.id == FamilyCorrection.student_id)
        .where(student_clause(principal, permission))
        .order_by(FamilyCorrection.requested_at.desc(), FamilyCorrection.id.desc())
    )
    if not include_decided:
        query = query.where(FamilyCorrection.state == CorrectionState.REQUESTED)
    return list(session.scalars(query.limit(200)))


def corrections_of_guardian(
    session: Session, user_id: int, student_id: int
) -> list[FamilyCorrection]:
    return list(
        session.scalars(
            select(FamilyCorrection)
            .join(GuardianAccount, GuardianAccount.guardian_id == FamilyCorrection.guardian_id)
            .where(GuardianAccount.user_id == user_id, FamilyCorrection.student_id == student_id)
            .order_by(FamilyCorrection.requested_at.desc())
        )
    )


@dataclass
class CorrectionRow:
    name: str
    before: object
    after: object
    current: object
    changed_meanwhile: bool = field(default=False)


def correction_rows(correction: FamilyCorrection) -> list[CorrectionRow]:
    """Each proposed change beside the value the record holds now."""
    guardian = correction.guardian
    rows = []
    for name, change in correction.changes.items():
        current = audit.to_json_value(getattr(guardian, name))
        rows.append(
            CorrectionRow(
                name,
                change["before"],
                change["after"],
                current,
                changed_meanwhile=current != change["before"],
            )
        )
    return rows


def decide_correction(
    session: Session,
    correction: FamilyCorrection,
    *,
    approve: bool,
    comment: str,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> FamilyCorrection:
    """Approve (applying the proposed values to the guardian's record) or reject a correction."""
    if version is not None and version != correction.version:
        raise StaleEdit(
            _("stale_correction", default="Someone decided or changed this correction meanwhile."),
            current_version=correction.version,
        )
    if correction.state != CorrectionState.REQUESTED:
        raise Locked(_("correction_decided", default="This correction was already decided."))
    comment = (comment or "").strip()
    if not approve and not comment:
        message = _("correction_reject_reason", default="Say why the correction is rejected.")
        raise InvalidInput(message, {"comment": message})
    if approve and correction.changes:
        link = session.scalar(
            select(StudentGuardian).where(
                StudentGuardian.student_id == correction.student_id,
                StudentGuardian.guardian_id == correction.guardian_id,
            )
        )
        if link is None:
            raise NotFound(
                _("correction_unlinked", default="The guardian is no longer linked to the student.")
            )
        people.update_guardian(
            session,
            link,
            _typed_values(correction.changes),
            version=None,
            actor=actor,
            now=now,
        )
    correction.state = CorrectionState.APPROVED if approve else CorrectionState.REJECTED
    correction.decided_by_id = actor.user_id
    correction.decided_at = now
    correction.decision_comment = comment[:1000]
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="family_correction",
        entity_id=correction.id,
        student_id=correction.student_id,
        now=now,
        reason=comment,
        changes={"state": {"before": "requested", "after": correction.state.value}},
    )
    return correction


def _typed_values(changes: dict) -> dict:
    """Turn the stored JSON values back into the types the guardian record holds."""
    from spets.models import Education, Occupation

    values = {}
    for name, change in changes.items():
        value = change["after"]
        if name == "education" and value is not None:
            value = Education(value)
        elif name == "occupation" and value is not None:
            value = Occupation(value)
        values[name] = value
    return values
