"""Guardian accounts: invitation codes, sign-up with a one-time code, limits, linking, corrections."""

import re
from datetime import timedelta

import pytest
from builders import PASSWORD, SYSTEM
from sqlalchemy import func, select

from spets.models import (
    Channel,
    CorrectionState,
    Education,
    GuardianAccount,
    Invitation,
    LoginThrottle,
    OneTimeCode,
    OutboxMessage,
    OutboxStatus,
    Relation,
    Role,
    RoleAssignment,
    User,
)
from spets.services import guardians, messaging, people
from spets.services.calendar import local_today
from spets.services.errors import InvalidInput, Locked
from spets.services.scope import load_principal

PHONE = "+923001234567"
OTHER_PHONE = "+923219876543"
ADDR = "10.1.2.3"


def otp_sent(session, one_time_code_id: int) -> str | None:
    """The six-digit code in the SMS of a one-time code, as the guardian reads it."""
    body = session.scalar(
        select(OutboxMessage.body).where(
            OutboxMessage.key == f"one-time-code:{one_time_code_id}:sms"
        )
    )
    match = re.search(r"\d{6}", body or "")
    return match.group(0) if match else None


def sign_up(session, guardian, phone, now, *, password=PASSWORD, client_addr=ADDR, **extra):
    issued = guardians.issue_invitation(session, guardian, actor=SYSTEM, now=now)
    started = guardians.start_signup(
        session, issued.code, phone, client_addr=client_addr, locale="ur", now=now
    )
    otp = otp_sent(session, started.one_time_code_id)
    return guardians.complete_signup(
        session, started, otp, password, client_addr=client_addr, now=now, **extra
    )


@pytest.fixture
def guardian(world):
    return world.guardian_link_a9.guardian


# Codes.


def test_code_read_as_typed():
    assert guardians.normalise_code(" k7mx2-9qfh4 ") == "K7MX29QFH4"
    assert guardians.normalise_code("AB۱۲۳-CD") == "AB123CD"
    assert guardians.hash_code("k7mx2 9qfh4") == guardians.hash_code("K7MX2-9QFH4")


def test_invitation_stores_only_hash(world, guardian, now):
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    assert len(issued.code) == 10
    assert set(issued.code) <= set(guardians.CODE_ALPHABET)
    stored = world.session.get(Invitation, issued.invitation.id)
    assert stored.code_hash == guardians.hash_code(issued.code)
    assert issued.code not in stored.code_hash
    assert stored.expires_at == now + timedelta(days=30)


def test_invitation_sms_carries_code(world, guardian, now):
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    sms = world.session.scalar(
        select(OutboxMessage).where(OutboxMessage.key == f"invitation:{issued.invitation.id}:sms")
    )
    assert sms.status == OutboxStatus.PENDING
    assert sms.address == guardian.phone
    assert issued.printed_code in sms.body


def test_new_invitation_revokes_earlier(world, guardian, now):
    first = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    world.session.refresh(first.invitation)
    assert first.invitation.revoked_at == now
    with pytest.raises(guardians.SignupRefused):
        guardians.start_signup(
            world.session, first.code, PHONE, client_addr=ADDR, locale="ur", now=now
        )


# Sign-up.


def test_signup_creates_guardian_account(world, guardian, now):
    user = sign_up(world.session, guardian, PHONE, now, sms_script="roman")
    assert user.username == "03001234567"
    assert user.locale == "ur"
    account = world.session.get(GuardianAccount, guardian.id)
    assert account.user_id == user.id
    assert account.sms_script == "roman"
    role = world.session.scalar(select(RoleAssignment).where(RoleAssignment.user_id == user.id))
    assert role.role == Role.GUARDIAN
    assert role.org_unit_id == world.tenant.id
    principal = load_principal(world.session, user.id, local_today(now))
    assert principal.permissions_anywhere() == {"account", "portal"}


def test_invitation_works_once(world, guardian, now):
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    started = guardians.start_signup(
        world.session, issued.code, PHONE, client_addr=ADDR, locale="ur", now=now
    )
    otp = otp_sent(world.session, started.one_time_code_id)
    guardians.complete_signup(world.session, started, otp, PASSWORD, client_addr=ADDR, now=now)
    with pytest.raises(guardians.SignupRefused) as refused:
        guardians.start_signup(
            world.session, issued.code, OTHER_PHONE, client_addr=ADDR, locale="ur", now=now
        )
    assert refused.value.message == guardians.WRONG_INVITATION


def test_invitation_expires(world, guardian, now):
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    later = now + timedelta(days=30, seconds=1)
    with pytest.raises(guardians.SignupRefused) as refused:
        guardians.start_signup(
            world.session, issued.code, PHONE, client_addr=ADDR, locale="ur", now=later
        )
    assert refused.value.message == guardians.WRONG_INVITATION


def test_one_time_code_expires(world, guardian, now):
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    started = guardians.start_signup(
        world.session, issued.code, PHONE, client_addr=ADDR, locale="ur", now=now
    )
    otp = otp_sent(world.session, started.one_time_code_id)
    with pytest.raises(guardians.SignupRefused):
        guardians.complete_signup(
            world.session,
            started,
            otp,
            PASSWORD,
            client_addr=ADDR,
            now=now + timedelta(minutes=11),
        )
    assert world.session.get(GuardianAccount, guardian.id) is None


def test_wrong_invitation_codes_limited_per_phone(world, guardian, now):
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    for attempt in range(5):
        with pytest.raises(guardians.SignupRefused) as refused:
            guardians.start_signup(
                world.session, f"WRONG{attempt}CODE", PHONE, client_addr=None, locale="ur", now=now
            )
    assert refused.value.locked_until == now + timedelta(minutes=30)
    assert "Too many wrong codes" in refused.value.message.interpolate()
    # Now even the right code is refused from this phone, until the lockout ends.
    with pytest.raises(guardians.SignupRefused) as locked:
        guardians.start_signup(
            world.session, issued.code, PHONE, client_addr=None, locale="ur", now=now
        )
    assert locked.value.locked_until is not None
    # Another guardian's number, with that guardian's invitation, is not locked.
    other = world.guardian_link_b9.guardian
    other.phone = OTHER_PHONE
    other_issued = guardians.issue_invitation(world.session, other, actor=SYSTEM, now=now)
    started = guardians.start_signup(
        world.session, other_issued.code, OTHER_PHONE, client_addr=None, locale="ur", now=now
    )
    assert started.phone == OTHER_PHONE
    later = guardians.start_signup(
        world.session,
        issued.code,
        PHONE,
        client_addr=None,
        locale="ur",
        now=now + timedelta(minutes=31),
    )
    assert later.phone == PHONE


def test_wrong_invitation_code_limited_per_code(world, now):
    phones = [f"+92300555{n:04d}" for n in range(6)]
    for phone in phones[:5]:
        with pytest.raises(guardians.SignupRefused):
            guardians.start_signup(
                world.session, "ABCDE-FGHJK", phone, client_addr=None, locale="ur", now=now
            )
    with pytest.raises(guardians.SignupRefused) as refused:
        guardians.start_signup(
            world.session, "abcde fghjk", phones[5], client_addr=None, locale="ur", now=now
        )
    assert refused.value.locked_until is not None
    throttles = world.session.scalar(
        select(func.count()).where(LoginThrottle.key.like("signup:code:%"))
    )
    assert throttles == 1


def test_wrong_invitation_codes_limited_per_address(world, now):
    for attempt in range(30):
        with pytest.raises(guardians.SignupRefused):
            guardians.start_signup(
                world.session,
                f"WRONG{attempt:03d}XY",
                f"+92300777{attempt:04d}",
                client_addr=ADDR,
                locale="ur",
                now=now,
            )
    with pytest.raises(guardians.SignupRefused) as refused:
        guardians.start_signup(
            world.session, "ANOTHERONE", "+923008880000", client_addr=ADDR, locale="ur", now=now
        )
    assert refused.value.locked_until is not None


def test_wrong_one_time_codes_limited_per_code_and_phone(world, guardian, now):
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    started = guardians.start_signup(
        world.session, issued.code, PHONE, client_addr=None, locale="ur", now=now
    )
    right = otp_sent(world.session, started.one_time_code_id)
    wrong = "000000" if right != "000000" else "111111"
    for _attempt in range(4):
        with pytest.raises(guardians.SignupRefused) as refused:
            guardians.complete_signup(
                world.session, started, wrong, PASSWORD, client_addr=None, now=now
            )
        assert refused.value.message == guardians.WRONG_OTP
    with pytest.raises(guardians.SignupRefused) as refused:
        guardians.complete_signup(
            world.session, started, wrong, PASSWORD, client_addr=None, now=now
        )
    assert refused.value.locked_until is not None
    assert world.session.get(OneTimeCode, started.one_time_code_id).attempts == 5
    # The right code no longer helps: the phone and the invitation code are locked.
    with pytest.raises(guardians.SignupRefused):
        guardians.complete_signup(
            world.session, started, right, PASSWORD, client_addr=None, now=now
        )
    # After the lockout the spent one-time code still fails; a new one works.
    later = now + timedelta(minutes=31)
    with pytest.raises(guardians.SignupRefused):
        guardians.complete_signup(
            world.session, started, right, PASSWORD, client_addr=None, now=later
        )
    again = guardians.start_signup(
        world.session, issued.code, PHONE, client_addr=None, locale="ur", now=later
    )
    user = guardians.complete_signup(
        world.session,
        again,
        otp_sent(world.session, again.one_time_code_id),
        PASSWORD,
        client_addr=None,
        now=later,
    )
    assert user.username == "03001234567"


def test_one_time_codes_sent_limited_per_phone(world, guardian, now):
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    for _attempt in range(3):
        guardians.start_signup(
            world.session, issued.code, PHONE, client_addr=None, locale="ur", now=now
        )
    with pytest.raises(guardians.SignupRefused) as refused:
        guardians.start_signup(
            world.session, issued.code, PHONE, client_addr=None, locale="ur", now=now
        )
    assert "codes were already sent" in refused.value.message.interpolate()


def test_registered_phone_gets_same_answer(world, guardian, now):
    """The answer to the browser is the same whether or not the number has an account."""
    sign_up(world.session, guardian, PHONE, now)
    # The same father entered again for another child, with the same number on record.
    again = world.guardian_link_b9.guardian
    again.phone = PHONE
    issued = guardians.issue_invitation(world.session, again, actor=SYSTEM, now=now)
    registered = guardians.start_signup(
        world.session, issued.code, PHONE, client_addr=None, locale="en", now=now
    )
    mother = people.add_guardian(
        world.session,
        world.student_b9,
        {"name_en": "Sakina Bibi", "phone": OTHER_PHONE, "relation": Relation.MOTHER},
        actor=SYSTEM,
        now=now,
    ).guardian
    issued = guardians.issue_invitation(world.session, mother, actor=SYSTEM, now=now)
    fresh = guardians.start_signup(
        world.session, issued.code, OTHER_PHONE, client_addr=None, locale="en", now=now
    )
    assert type(registered) is type(fresh)
    assert registered.phone == PHONE and fresh.phone == OTHER_PHONE
    # Only the SMS differs: the registered number is told to sign in, and gets no code.
    assert otp_sent(world.session, registered.one_time_code_id) is None
    assert otp_sent(world.session, fresh.one_time_code_id) is not None
    errors = []
    for started in (registered, fresh):
        with pytest.raises(guardians.SignupRefused) as refused:
            guardians.complete_signup(
                world.session, started, "999999", PASSWORD, client_addr=None, now=now
            )
        errors.append(refused.value.message)
    assert errors[0] == errors[1] == guardians.WRONG_OTP


def test_signup_refuses_phone_not_on_record(world, guardian, now):
    """The holder of the slip cannot have the one-time code sent to another phone."""
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    sms_before = world.session.scalar(select(func.count(OutboxMessage.id)))
    with pytest.raises(guardians.SignupRefused) as refused:
        guardians.start_signup(
            world.session, issued.code, OTHER_PHONE, client_addr=ADDR, locale="en", now=now
        )
    assert refused.value.locked_until is None
    assert set(refused.value.field_errors) == {"phone"}
    text = refused.value.message.interpolate()
    assert "Your mobile number" in text
    assert "ends in 567" in text
    assert "ask the school to correct your number" in text
    assert "3001234567" not in text
    assert world.session.scalar(select(func.count(OneTimeCode.id))) == 0
    assert world.session.scalar(select(func.count(OutboxMessage.id))) == sms_before
    assert world.session.scalar(select(User.id).where(User.username == "03219876543")) is None
    assert world.session.get(GuardianAccount, guardian.id) is None
    # The recorded number still works with the same invitation code.
    started = guardians.start_signup(
        world.session, issued.code, PHONE, client_addr=ADDR, locale="en", now=now
    )
    otp = otp_sent(world.session, started.one_time_code_id)
    user = guardians.complete_signup(
        world.session, started, otp, PASSWORD, client_addr=ADDR, now=now
    )
    assert user.username == "03001234567"
    assert world.session.get(GuardianAccount, guardian.id).user_id == user.id


def test_signup_phone_mismatches_limited(world, guardian, now):
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    phones = [f"+92300555{n:04d}" for n in range(5)]
    for phone in phones:
        with pytest.raises(guardians.SignupRefused) as refused:
            guardians.start_signup(
                world.session, issued.code, phone, client_addr=None, locale="ur", now=now
            )
    assert refused.value.locked_until is not None
    # The invitation code is locked, so the recorded number must wait too.
    with pytest.raises(guardians.SignupRefused) as locked:
        guardians.start_signup(
            world.session, issued.code, PHONE, client_addr=None, locale="ur", now=now
        )
    assert locked.value.locked_until is not None
    assert world.session.scalar(select(func.count(OneTimeCode.id))) == 0


def test_signup_refused_without_phone_on_record(world, now):
    guardian = world.guardian_link_b9.guardian
    assert guardian.phone is None
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    with pytest.raises(guardians.SignupRefused) as refused:
        guardians.start_signup(
            world.session, issued.code, OTHER_PHONE, client_addr=None, locale="ur", now=now
        )
    assert refused.value.message == guardians.NO_PHONE_ON_RECORD
    assert set(refused.value.field_errors) == {"phone"}
    assert world.session.scalar(select(func.count(OneTimeCode.id))) == 0


def test_signup_refused_when_recorded_phone_changes(world, guardian, now):
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    started = guardians.start_signup(
        world.session, issued.code, PHONE, client_addr=None, locale="ur", now=now
    )
    otp = otp_sent(world.session, started.one_time_code_id)
    guardian.phone = OTHER_PHONE  # the school corrects the number between the two steps
    with pytest.raises(guardians.SignupRefused) as refused:
        guardians.complete_signup(world.session, started, otp, PASSWORD, client_addr=None, now=now)
    assert "ends in 543" in refused.value.message.interpolate()
    assert world.session.get(GuardianAccount, guardian.id) is None
    assert world.session.get(Invitation, issued.invitation.id).used_at is None


def test_weak_password_keeps_code_usable(world, guardian, now):
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)
    started = guardians.start_signup(
        world.session, issued.code, PHONE, client_addr=None, locale="ur", now=now
    )
    otp = otp_sent(world.session, started.one_time_code_id)
    with pytest.raises(InvalidInput):
        guardians.complete_signup(world.session, started, otp, "short", client_addr=None, now=now)
    user = guardians.complete_signup(
        world.session, started, otp, PASSWORD, client_addr=None, now=now
    )
    assert user.phone == PHONE


def test_account_cannot_be_invited_again(world, guardian, now):
    sign_up(world.session, guardian, PHONE, now)
    with pytest.raises(InvalidInput):
        guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=now)


# Children and linking.


def test_children_in_two_schools_through_one_guardian(world, guardian, now):
    sister = world.admit(world.section_b9, "B902", "Zainab Aslam", "زینب اسلم")
    people.add_guardian(
        world.session,
        sister,
        {"name_en": "Muhammad Aslam", "cnic": "36302-2222222-2", "relation": Relation.FATHER},
        actor=SYSTEM,
        now=now,
    )
    user = sign_up(world.session, guardian, PHONE, now)
    children = guardians.children_of(world.session, user.id)
    assert [child.student.id for child in children] == [world.student_a9.id, sister.id]
    assert {child.school.id for child in children} == {world.school_a.id, world.school_b.id}
    assert guardians.link_of(world.session, user.id, world.student_b9.id) is None


def test_second_record_linked_with_invitation(world, guardian, now):
    user = sign_up(world.session, guardian, PHONE, now)
    other = world.guardian_link_b9.guardian
    issued = guardians.issue_invitation(world.session, other, actor=SYSTEM, now=now)
    guardians.link_invitation(world.session, user, issued.code, client_addr=None, now=now)
    children = {child.student.id for child in guardians.children_of(world.session, user.id)}
    assert children == {world.student_a9.id, world.student_b9.id}
    with pytest.raises(guardians.SignupRefused):
        guardians.link_invitation(world.session, user, issued.code, client_addr=None, now=now)


# Held messages.


def _held(world, guardian, now, key, channel_body="SPeTS: a new result is published."):
    return messaging.queue_for_guardian(
        world.session,
        key=key,
        guardian=guardian,
        draft=messaging.Draft(subject="Result", body="Body", sms=channel_body, link="/portal"),
        now=now,
    )


def test_signup_releases_newest_held_sms(world, guardian, now):
    guardian.email = "aslam@example.pk"
    _held(world, guardian, now - timedelta(days=2), "result:1")
    _held(world, guardian, now - timedelta(days=1), "result:2")
    guardian.phone = OTHER_PHONE  # the school corrects the number before sign-up
    user = sign_up(world.session, guardian, OTHER_PHONE, now)
    rows = world.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.guardian_id == guardian.id, OutboxMessage.key.like("result:%"))
        .order_by(OutboxMessage.key)
    ).all()
    by_key = {row.key: row for row in rows}
    assert by_key["result:1:email"].status == OutboxStatus.PENDING
    assert by_key["result:2:email"].status == OutboxStatus.PENDING
    assert by_key["result:2:sms"].status == OutboxStatus.PENDING
    assert by_key["result:2:sms"].address == OTHER_PHONE  # the number proved at sign-up
    assert by_key["result:2:sms"].recipient_id == user.id
    assert by_key["result:1:sms"].status == OutboxStatus.FAILED
    assert "newer held SMS" in by_key["result:1:sms"].last_error


def test_sweep_releases_messages_of_account_holders(world, guardian, now):
    sign_up(world.session, guardian, PHONE, now)
    _held(world, guardian, now, "later:1")
    _held(world, world.guardian_link_b9.guardian, now, "later:2")
    assert guardians.release_held_for_accounts(world.session, now) == 1
    statuses = dict(
        world.session.execute(
            select(OutboxMessage.key, OutboxMessage.status).where(
                OutboxMessage.key.like("later:%"), OutboxMessage.channel == Channel.SMS
            )
        ).all()
    )
    assert statuses == {"later:1:sms": OutboxStatus.PENDING}
    assert guardians.release_held_for_accounts(world.session, now) == 0


# Corrections.


def test_correction_approved_updates_record(world, guardian, now):
    user = sign_up(world.session, guardian, PHONE, now)
    link = guardians.link_of(world.session, user.id, world.student_a9.id)
    correction = guardians.propose_correction(
        world.session,
        user=user,
        link=link,
        values={"phone": "+923335550000", "education": Education.INTERMEDIATE, "name_en": ""},
        note="",
        now=now,
    )
    assert correction.changes == {
        "phone": {"before": "+923001234567", "after": "+923335550000"},
        "education": {"before": "matric", "after": "intermediate"},
    }
    notified = world.session.scalar(
        select(func.count()).where(OutboxMessage.key.like(f"correction:{correction.id}:%"))
    )
    assert notified >= 1
    guardians.decide_correction(
        world.session,
        correction,
        approve=True,
        comment="",
        version=correction.version,
        actor=SYSTEM,
        now=now,
    )
    world.session.refresh(guardian)
    assert guardian.phone == "+923335550000"
    assert guardian.education == Education.INTERMEDIATE
    assert correction.state == CorrectionState.APPROVED
    with pytest.raises(Locked):
        guardians.decide_correction(
            world.session,
            correction,
            approve=False,
            comment="x",
            version=None,
            actor=SYSTEM,
            now=now,
        )


def test_correction_rejected_needs_reason(world, guardian, now):
    user = sign_up(world.session, guardian, PHONE, now)
    link = guardians.link_of(world.session, user.id, world.student_a9.id)
    correction = guardians.propose_correction(
        world.session, user=user, link=link, values={}, note="My son is in class 5.", now=now
    )
    with pytest.raises(InvalidInput):
        guardians.decide_correction(
            world.session,
            correction,
            approve=False,
            comment="",
            version=None,
            actor=SYSTEM,
            now=now,
        )
    guardians.decide_correction(
        world.session,
        correction,
        approve=False,
        comment="Class 4 is right.",
        version=None,
        actor=SYSTEM,
        now=now,
    )
    assert correction.state == CorrectionState.REJECTED
    world.session.refresh(guardian)
    assert guardian.phone == "+923001234567"


def test_empty_correction_refused(world, guardian, now):
    user = sign_up(world.session, guardian, PHONE, now)
    link = guardians.link_of(world.session, user.id, world.student_a9.id)
    with pytest.raises(InvalidInput):
        guardians.propose_correction(
            world.session, user=user, link=link, values={"phone": guardian.phone}, note=" ", now=now
        )


def test_settings_change_script_and_language(world, guardian, now):
    user = sign_up(world.session, guardian, PHONE, now)
    guardians.save_settings(
        world.session, user, locale="en", sms_script="roman", email="a@example.pk", now=now
    )
    assert world.session.get(User, user.id).locale == "en"
    assert guardians.account_settings(world.session, user.id).sms_script == "roman"
