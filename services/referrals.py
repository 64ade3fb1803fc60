"""Referrals: raised, routed to a facility, followed up on the engine, and escalated.

A referral is raised from a screening flag, a teacher's concern, a positive safety item
of a well-being screener, or by health staff. It goes to the nearest suitable facility
(`facilities.find_facility`) and is sent at once: the facility's staff are notified, the FHIR
bundle is queued for the health department, and a REFERRAL_FOLLOW_UP task opens on the
engine for a staff member of the facility.

The task's due date is the date of the step the facility owes: first the
acknowledgement, then the visit (an appointment date, or a fixed number of school days).
When the engine escalates the task, `follow_up_escalations` checks the referral's state
at that moment and, if the step is still missing, re-sends the referral and tells the
district health officer. Messages carry a link only, never clinical detail.
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, false, insert, or_, select
from sqlalchemy.orm import Session

from spets.forms.health import REFERRAL_STATE
from spets.i18n import TranslationString, _
from spets.models import (
    AuditAction,
    AuditEvent,
    Channel,
    CycleDefinition,
    CycleKind,
    Enrollment,
    FacilityStaff,
    HealthFacility,
    OrgKind,
    OrgUnit,
    OutboxMessage,
    OutboxStatus,
    Referral,
    ReferralSource,
    ReferralState,
    Role,
    RoleAssignment,
    Student,
    StudentGuardian,
    Task,
    TaskEscalation,
    TaskSchedule,
    TaskState,
    User,
)
from spets.models.health import ReferralEscalation
from spets.services import audit, cycles, facilities, fhir, messaging, tasks
from spets.services.audit import Actor
from spets.services.bulk import insert_ignore_rows
from spets.services.calendar import local_today
from spets.services.errors import InvalidInput, Locked, StaleEdit
from spets.services.scope import Permission as P
from spets.services.scope import Principal
from spets.state_machines.base import TransitionNotAllowed, fire
from spets.state_machines.referrals import REFERRAL_MACHINE, MissingValue

log = logging.getLogger(__name__)

S = ReferralState
FOLLOW_UP = CycleKind.REFERRAL_FOLLOW_UP
TARGET_TYPE = "referral"

# After an acknowledgement without an appointment, the child should be seen within this
# many school days; after an appointment, within this many school days of its date.
SEEN_WITHIN_SCHOOL_DAYS = 15
APPOINTMENT_GRACE_SCHOOL_DAYS = 2

# The follow-up cycle of a new tenant: five school days to acknowledge, reminders two
# days before and on the due date, then the district health officer on the first day
# late and again five school days later.
DEFAULT_FOLLOW_UP = {
    "name_en": "Referral follow-up",
    "name_ur": "ریفرل کی پیروی",
    "opens_with": cycles.CycleTrigger.ON_RECORD,
    "assignee_rule": cycles.AssigneeRule.RECORD_OWNER,
    "due_after_school_days": 5,
    "reminder_offsets": [-2, 0],
    "reminder_hour": 9,
    "escalation_days": [0, 5],
    "escalation_roles": ["district_health_officer", "district_health_officer"],
    "signoff_role": "district_health_officer",
}

STATE_ERRORS = {
    "send": _("referral_not_sendable", default="This referral cannot be sent: it is ${state}."),
    "acknowledge": _(
        "referral_not_acknowledgeable",
        default="Only a referral sent to the facility can be acknowledged; this one is ${state}.",
    ),
    "book": _(
        "referral_not_bookable",
        default="An appointment needs an acknowledged referral; this one is ${state}.",
    ),
    "record_seen": _(
        "referral_not_seeable",
        default="Only an acknowledged referral can be marked seen; this one is ${state}.",
    ),
    "close": _(
        "referral_not_closable",
        default="Only a referral whose child was seen can be closed; this one is ${state}.",
    ),
    "cancel": _(
        "referral_not_cancellable",
        default="This referral can no longer be cancelled: it is ${state}.",
    ),
    "escalate": _(
        "referral_not_escalatable", default="This referral is not waiting: it is ${state}."
    ),
}
MISSING_VALUES = {
    "appointment_on": _("appointment_needed", default="Give the date of the appointment."),
    "outcome": _("outcome_needed", default="Write the outcome the school needs to act on."),
    "reason": _("cancel_reason_needed", default="Say why the referral is cancelled."),
}
FIELD_OF_VALUE = {"appointment_on": "appointment_on", "outcome": "outcome", "reason": "reason"}


def add_follow_up_definition(
    session: Session, tenant: OrgUnit, *, actor: Actor, now: datetime
) -> CycleDefinition:
    return cycles.save_definition(
        session,
        org_unit=tenant,
        kind=FOLLOW_UP,
        definition=None,
        values=dict(DEFAULT_FOLLOW_UP),
        version=None,
        actor=actor,
        now=now,
    )


# Raising.


def raise_referral(
    session: Session,
    *,
    student: Student,
    service: str,
    reason: str,
    source: ReferralSource,
    actor: Actor,
    now: datetime,
    urgent: bool = False,
    screening_id: int | None = None,
    response_id: int | None = None,
    facility: HealthFacility | None = None,
) -> Referral:
    """Create a referral to the nearest suitable facility and send it at once."""
    school = session.get(OrgUnit, student.school_id)
    facility = facility or facilities.find_facility(session, school=school, service=service)
    if facility is None:
        message = _(
            "no_facility_for_service",
            default="No active facility in the district of ${school} offers this service. An "
            "administrator must add one to the facility registry, or choose another service.",
            mapping={"school": school.name_en},
        )
        raise InvalidInput(message, {"service": message})
    referral = Referral(
        student_id=student.id,
        school_id=school.id,
        facility_id=facility.id,
        service=service,
        reason=reason.strip(),
        source=source,
        urgent=urgent,
        state=S.RAISED,
        screening_id=screening_id,
        response_id=response_id,
        escalations=0,
        outcome="",
        cancel_reason="",
        fhir_id="",
        raised_by_id=actor.user_id,
        raised_at=now,
    )
    session.add(referral)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="referral",
        entity_id=referral.id,
        student_id=student.id,
        org_unit_id=school.id,
        category="health",
        now=now,
        # The reason is clinical: the audit trail names the change, not the text.
        changes={
            "service": {"before": None, "after": service},
            "facility_id": {"before": None, "after": facility.id},
            "source": {"before": None, "after": source.value},
            "urgent": {"before": None, "after": urgent},
            "reason": {"before": None, "after": "(recorded)"},
        },
    )
    move(session, referral, "send", actor=actor, now=now)
    return referral


# Moving a referral.


def move(
    session: Session,
    referral: Referral,
    trigger: str,
    *,
    actor: Actor,
    now: datetime,
    version: int | None = None,
    **values,
) -> Referral:
    """Fire `trigger` and its side effects in a savepoint: on any failure nothing changes."""
    if version is not None and version != referral.version:
        raise StaleEdit(
            _(
                "stale_referral",
                default="Someone else changed this referral after you opened it. Reload it to "
                "see its state; your change was not saved.",
            ),
            current_version=referral.version,
        )
    savepoint = session.begin_nested()
    try:
        fire(
            REFERRAL_MACHINE,
            referral,
            trigger,
            session=session,
            actor_id=actor.user_id,
            client_addr=actor.client_addr,
            now=now,
            **values,
        )
        session.flush()
        AFTER[trigger](session, referral, actor=actor, now=now, **values)
        session.flush()
    except TransitionNotAllowed as refused:
        savepoint.rollback()
        session.refresh(referral)
        message = TranslationString(
            STATE_ERRORS[trigger], mapping={"state": REFERRAL_STATE[referral.state]}
        )
        raise Locked(message) from refused
    except MissingValue as missing:
        savepoint.rollback()
        session.refresh(referral)
        message = MISSING_VALUES[missing.name]
        raise InvalidInput(message, {FIELD_OF_VALUE[missing.name]: message}) from missing
    except Exception:
        savepoint.rollback()
        session.refresh(referral)
        raise
    savepoint.commit()
    return referral


def acknowledge(session, referral, *, actor, now, version=None) -> Referral:
    return move(session, referral, "acknowledge", actor=actor, now=now, version=version)


def book(session, referral, appointment_on: date, *, actor, now, version=None) -> Referral:
    today = _today(session, referral, now)
    if appointment_on is not None and appointment_on < today:
        message = _(
            "appointment_in_past",
            default="The appointment date ${date} has passed: give today or a later date.",
            mapping={"date": appointment_on.strftime("%d/%m/%Y")},
        )
        raise InvalidInput(message, {"appointment_on": message})
    return move(
        session,
        referral,
        "book",
        actor=actor,
        now=now,
        version=version,
        appointment_on=appointment_on,
    )


def record_seen(session, referral, *, actor, now, version=None) -> Referral:
    return move(session, referral, "record_seen", actor=actor, now=now, version=version)


def close(session, referral, outcome: str, *, actor, now, version=None) -> Referral:
    return move(session, referral, "close", actor=actor, now=now, version=version, outcome=outcome)


def cancel(session, referral, reason: str, *, actor, now, version=None) -> Referral:
    return move(session, referral, "cancel", actor=actor, now=now, version=version, reason=reason)


# Side effects of each step, in the savepoint of the step.


def _after_send(session: Session, referral: Referral, *, actor: Actor, now: datetime, **_values):
    school = session.get(OrgUnit, referral.school_id)
    assignee = _follow_up_assignee(session, referral, school, now)
    section_id = session.scalar(
        select(Enrollment.section_id).where(
            Enrollment.student_id == referral.student_id, Enrollment.ends_on.is_(None)
        )
    )
    task = cycles.open_record_task(
        session,
        kind=FOLLOW_UP,
        target_type=TARGET_TYPE,
        target_id=referral.id,
        school=school,
        assignee_id=assignee,
        opens_on=local_today(now, school.timezone),
        now=now,
        section_id=section_id,
    )
    referral.task_id = task.id
    queue_fhir(session, referral, now, cause="sent")
    facility = session.get(HealthFacility, referral.facility_id)
    for user in facility_staff(session, referral.facility_id):
        _notify(
            session,
            user,
            key=f"referral:{referral.id}:sent:{user.id}",
            subject=_(
                "referral_new_subject_urgent", default="Urgent: a new referral for ${facility}"
            )
            if referral.urgent
            else _("referral_new_subject", default="A new referral for ${facility}"),
            mapping={"facility": facility.name_en},
            referral=referral,
            now=now,
        )


def _after_acknowledge(session, referral, *, actor, now, **_values):
    task = _task_of(session, referral)
    if task is not None and task.state in (TaskState.OPEN, TaskState.RETURNED):
        tasks.start_task(session, task, actor=actor, now=now)
        _set_due_date(session, task, referral, SEEN_WITHIN_SCHOOL_DAYS, now)
    _notify_school(session, referral, "acknowledged", now)


def _after_book(session, referral, *, actor, now, appointment_on, **_values):
    task = _task_of(session, referral)
    if task is not None and task.is_pending:
        _set_due_date(
            session, task, referral, APPOINTMENT_GRACE_SCHOOL_DAYS, now, from_day=appointment_on
        )
    _notify_school(session, referral, f"appointment:{appointment_on.isoformat()}", now)


def _after_seen(session, referral, *, actor, now, **_values):
    task = _task_of(session, referral)
    if task is not None and task.is_pending:
        # The follow-up is done once the child is seen; the outcome is the school's to read.
        tasks.move(session, task, "submit", actor=actor, now=now)
        tasks.move(session, task, "approve", actor=actor, now=now, comment="The child was seen.")
    _notify_school(session, referral, "seen", now)


def _after_close(session, referral, *, actor, now, **_values):
    _notify_school(session, referral, "closed", now)


def _after_cancel(session, referral, *, actor, now, reason, **_values):
    task = _task_of(session, referral)
    if task is not None and task.state not in (TaskState.APPROVED, TaskState.CANCELLED):
        tasks.cancel_task(
            session, task, actor=actor, now=now, comment="The referral was cancelled."
        )
    if referral.task_id is not None:
        queue_fhir(session, referral, now, cause="cancelled")
    for user in facility_staff(session, referral.facility_id):
        _notify(
            session,
            user,
            key=f"referral:{referral.id}:cancelled:{user.id}",
            subject=_(
                "referral_cancelled_subject", default="A referral to your facility was cancelled"
            ),
            mapping={},
            referral=referral,
            now=now,
        )


def _after_escalate(session, referral, *, actor, now, level, recipient_id=None, **_values):
    """Re-send the referral to the facility and the department, and tell the district officer."""
    queue_fhir(session, referral, now, cause=f"resent-{level}")
    facility = session.get(HealthFacility, referral.facility_id)
    for user in facility_staff(session, referral.facility_id):
        _notify(
            session,
            user,
            key=f"referral:{referral.id}:resent:{level}:{user.id}",
            subject=_(
                "referral_resent_subject",
                default="Reminder: a referral to ${facility} is overdue",
            ),
            mapping={"facility": facility.name_en},
            referral=referral,
            now=now,
        )
    for user in _district_officers(session, referral, recipient_id, now):
        _notify(
            session,
            user,
            key=f"referral:{referral.id}:escalated:{level}:{user.id}",
            subject=_(
                "referral_escalated_subject",
                default="A referral to ${facility} is overdue and was escalated to you",
            ),
            mapping={"facility": facility.name_en},
            referral=referral,
            now=now,
        )


AFTER = {
    "send": _after_send,
    "acknowledge": _after_acknowledge,
    "book": _after_book,
    "record_seen": _after_seen,
    "close": _after_close,
    "cancel": _after_cancel,
    "escalate": _after_escalate,
}


# The follow-up task.


def _task_of(session: Session, referral: Referral) -> Task | None:
    return session.get(Task, referral.task_id) if referral.task_id else None


def _today(session: Session, referral: Referral, now: datetime) -> date:
    school = session.get(OrgUnit, referral.school_id)
    return local_today(now, school.timezone)


def _set_due_date(
    session: Session,
    task: Task,
    referral: Referral,
    school_days: int,
    now: datetime,
    from_day: date | None = None,
) -> None:
    """Move the task's due date to `school_days` school days after `from_day` (default: today).

    Escalation levels that already fired stay fired; the levels still to come follow the
    new due date.
    """
    from spets.services.schedules import TenantCalendar, get_or_create_schedule, shift_school_days

    schedule = session.get(TaskSchedule, task.schedule_id)
    definition = session.get(CycleDefinition, schedule.definition_id)
    tenant = session.get(OrgUnit, definition.tenant_id)
    school = session.get(OrgUnit, task.school_id)
    start = from_day or local_today(now, school.timezone)
    calendar = TenantCalendar.load(session, tenant, start)
    signature, days = calendar.school_days(school.path)
    # The opening day is chosen so that the definition's due offset lands on the wanted day.
    opens_on = shift_school_days(days, start, school_days - definition.due_after_school_days)
    new_schedule = get_or_create_schedule(
        session, definition, opens_on, signature, days, calendar.zone, now
    )
    task.reminders_sent = 0
    cycles.move_task(task, new_schedule, now)


def _follow_up_assignee(
    session: Session, referral: Referral, school: OrgUnit, now: datetime
) -> int:
    """Return the follow-up's assignee: a staff member of the facility, else the district health officer."""
    staff = facility_staff(session, referral.facility_id)
    if staff:
        return staff[0].id
    officers = tasks.role_holders(session, school, Role.DISTRICT_HEALTH_OFFICER, now)
    if officers:
        log.warning(
            "referral_facility_without_staff",
            extra={"referral_id": referral.id, "facility_id": referral.facility_id},
        )
        return officers[0].id
    facility = session.get(HealthFacility, referral.facility_id)
    raise InvalidInput(
        _(
            "facility_without_staff",
            default="${facility} has no health staff account in SPeTS and the district has no "
            "health officer, so nobody could follow the referral up. An administrator must "
            "add a staff member to the facility.",
            mapping={"facility": facility.name_en},
        )
    )


# People.


def facility_staff(session: Session, facility_id: int) -> list[User]:
    """Active staff of a facility, in a fixed order."""
    return list(
        session.scalars(
            select(User)
            .join(FacilityStaff, FacilityStaff.user_id == User.id)
            .where(FacilityStaff.facility_id == facility_id, User.is_active.is_(True))
            .order_by(User.id)
        )
    )


def is_facility_staff(session: Session, user_id: int, facility_id: int) -> bool:
    return (
        session.scalar(
            select(FacilityStaff.id).where(
                FacilityStaff.facility_id == facility_id, FacilityStaff.user_id == user_id
            )
        )
        is not None
    )


def _district_officers(
    session: Session, referral: Referral, recipient_id: int | None, now: datetime
) -> list[User]:
    if recipient_id is not None:
        user = session.get(User, recipient_id)
        return [user] if user is not None and user.is_active else []
    school = session.get(OrgUnit, referral.school_id)
    return tasks.role_holders(session, school, Role.DISTRICT_HEALTH_OFFICER, now)


def _school_side(session: Session, referral: Referral, now: datetime) -> list[User]:
    """Who hears of progress at the school: the head teachers and whoever raised the referral."""
    school = session.get(OrgUnit, referral.school_id)
    people = {user.id: user for user in tasks.role_holders(session, school, Role.HEAD_TEACHER, now)}
    if referral.raised_by_id and referral.raised_by_id not in people:
        raiser = session.get(User, referral.raised_by_id)
        if raiser is not None and raiser.is_active:
            people[raiser.id] = raiser
    return list(people.values())


# Messages: a subject and a link, never clinical detail.


def referral_link(referral: Referral) -> str:
    return f"/referrals/{referral.id}"


def _notify(
    session: Session,
    user: User,
    *,
    key: str,
    subject: TranslationString,
    mapping: dict,
    referral: Referral,
    now: datetime,
) -> None:
    messaging.queue(
        session,
        key=key,
        recipient=user,
        draft=messaging.Draft(
            subject=TranslationString(subject, mapping=mapping),
            body=_(
                "referral_message_body",
                default="Open SPeTS to see the referral. For the child's privacy, this message "
                "carries no details.",
            ),
            sms=TranslationString(subject, mapping=mapping),
            link=referral_link(referral),
        ),
        now=now,
    )


def _notify_school(session: Session, referral: Referral, event: str, now: datetime) -> None:
    for user in _school_side(session, referral, now):
        _notify(
            session,
            user,
            key=f"referral:{referral.id}:{event}:{user.id}",
            subject=_(
                "referral_update_subject",
                default="A referral from your school was updated",
            ),
            mapping={},
            referral=referral,
            now=now,
        )


# FHIR messages in the outbox.


def queue_fhir(session: Session, referral: Referral, now: datetime, *, cause: str) -> None:
    """Queue the referral's FHIR bundle once per cause (sent, a re-send, a cancellation)."""
    student = session.get(Student, referral.student_id)
    school = session.get(OrgUnit, referral.school_id)
    facility = session.get(HealthFacility, referral.facility_id)
    district = facilities.area_of(session, school, OrgKind.DISTRICT)
    guardian = session.scalar(
        select(StudentGuardian)
        .where(StudentGuardian.student_id == student.id)
        .order_by(StudentGuardian.is_primary.desc(), StudentGuardian.id)
    )
    bundle = fhir.referral_bundle(
        referral,
        student=student,
        school=school,
        facility=facility,
        district=district,
        guardian=guardian,
    )
    insert_ignore_rows(
        session,
        OutboxMessage.__table__,
        [
            {
                "key": f"fhir:referral:{referral.id}:{cause}",
                "channel": Channel.FHIR,
                "recipient_id": None,
                "address": f"ServiceRequest/{fhir.request_id(referral.id)}",
                "locale": "en",
                "subject": f"Referral {referral.id}: {cause}",
                "body": json.dumps(bundle, ensure_ascii=False),
                "link": "",
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
                "created_at": now,
            }
        ],
    )


# Escalations.


@dataclass
class FollowUpResult:
    handled: int = 0
    resent: int = 0
    referral_ids: list[int] = field(default_factory=list)


def follow_up_escalations(
    session: Session, now: datetime, school_ids: list[int] | None = None
) -> FollowUpResult:
    """Handle each escalation level of a referral task once: re-send if the step is still missing.

    The level was recorded by the engine when the task became late. Here the referral's
    state is read again: a referral acknowledged (or seen) since then is not re-sent.
    """
    query = (
        select(TaskEscalation, Referral)
        .join(Task, Task.id == TaskEscalation.task_id)
        .join(Referral, and_(Task.target_type == TARGET_TYPE, Referral.id == Task.target_id))
        .outerjoin(
            ReferralEscalation,
            and_(
                ReferralEscalation.referral_id == Referral.id,
                ReferralEscalation.level == TaskEscalation.level,
            ),
        )
        .where(Task.kind == FOLLOW_UP, ReferralEscalation.id.is_(None))
        .order_by(Referral.id, TaskEscalation.level)
    )
    if school_ids is not None:
        query = query.where(Task.school_id.in_(school_ids))
    result = FollowUpResult()
    for escalation, referral in session.execute(query).all():
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(Referral.id).where(Referral.id == referral.id).with_for_update())
        session.refresh(referral)
        resend = _step_still_missing(referral, escalation)
        session.add(
            ReferralEscalation(
                referral_id=referral.id,
                level=escalation.level,
                state_at_firing=referral.state,
                resent=resend,
                recipient_id=escalation.recipient_id,
                fired_at=now,
            )
        )
        session.flush()
        result.handled += 1
        if resend:
            move(
                session,
                referral,
                "escalate",
                actor=Actor.system(),
                now=now,
                level=escalation.level,
                recipient_id=escalation.recipient_id,
                comment=f"escalation level {escalation.level}",
            )
            result.resent += 1
            result.referral_ids.append(referral.id)
    if result.handled:
        log.info(
            "referral_escalations_handled",
            extra={"handled": result.handled, "resent": result.resent},
        )
    return result


def _step_still_missing(referral: Referral, escalation: TaskEscalation) -> bool:
    """Return whether the step that the escalated due date was for is still missing now."""
    if referral.state == S.SENT:
        return True
    if referral.state in (S.ACKNOWLEDGED, S.APPOINTMENT):
        # An escalation of the acknowledgement due date that came before the acknowledgement
        # is answered by it; a later one is about the visit, which is still missing.
        return (
            referral.acknowledged_at is not None and referral.acknowledged_at <= escalation.fired_at
        )
    return False


def escalations_of(session: Session, referral_id: int) -> list[ReferralEscalation]:
    return list(
        session.scalars(
            select(ReferralEscalation)
            .where(ReferralEscalation.referral_id == referral_id)
            .order_by(ReferralEscalation.level)
        )
    )


# Status updates from the health department.


def apply_status_updates(
    session: Session, updates: list[fhir.StatusUpdate], *, actor: Actor, now: datetime
) -> list[Referral]:
    """Move each referral to the reported state, walking the steps in between; all or none.

    A step already reached is accepted again without change, so the department may
    repeat an update. Raises fhir.FhirError when a referral is unknown or the move is
    not possible from its state.
    """
    savepoint = session.begin_nested()
    moved = []
    try:
        for update in updates:
            referral = session.get(Referral, update.referral_id)
            if referral is None:
                raise fhir.FhirError(404, f"Referral {update.referral_id} is not known to SPeTS.")
            _walk_to(session, referral, update, actor=actor, now=now)
            moved.append(referral)
    except (Locked, InvalidInput) as error:
        savepoint.rollback()
        raise fhir.FhirError(409, str(error)) from error
    except Exception:
        savepoint.rollback()
        raise
    savepoint.commit()
    return moved


ORDER = [S.RAISED, S.SENT, S.ACKNOWLEDGED, S.APPOINTMENT, S.SEEN, S.CLOSED]


def _walk_to(session, referral: Referral, update: fhir.StatusUpdate, *, actor, now) -> None:
    target = update.target
    if target == S.CANCELLED:
        if referral.state != S.CANCELLED:
            cancel(session, referral, update.reason, actor=actor, now=now)
        return
    if referral.state == S.CANCELLED:
        raise fhir.FhirError(409, f"Referral {referral.id} was cancelled; it cannot move on.")
    if referral.state == S.SENT:
        acknowledge(session, referral, actor=actor, now=now)
    if target == S.APPOINTMENT:
        if referral.state in (S.ACKNOWLEDGED, S.APPOINTMENT) and (
            referral.appointment_on != update.appointment_on
        ):
            move(
                session,
                referral,
                "book",
                actor=actor,
                now=now,
                appointment_on=update.appointment_on,
            )
        return
    if target in (S.SEEN, S.CLOSED) and referral.state in (S.ACKNOWLEDGED, S.APPOINTMENT):
        record_seen(session, referral, actor=actor, now=now)
    if target == S.CLOSED and referral.state == S.SEEN:
        close(session, referral, update.outcome, actor=actor, now=now)


# Lists and scope.


def scope_clause(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on Referral rows the principal may read.

    The school side reaches referrals of the schools (or, for a class teacher, the
    section) where it holds REFERRAL_VIEW; a district health officer those of the
    schools below them; health staff only those sent to a facility they work at.
    """
    conditions: list[ColumnElement[bool]] = []
    paths = principal.paths_with(P.REFERRAL_VIEW) + principal.paths_with(P.REFERRAL_OVERSEE)
    if paths:
        conditions.append(
            Referral.school_id.in_(
                select(OrgUnit.id).where(
                    or_(*[OrgUnit.path.startswith(path, autoescape=True) for path in paths])
                )
            )
        )
    sections = principal.sections_with(P.REFERRAL_VIEW)
    if sections:
        conditions.append(
            Referral.student_id.in_(
                select(Enrollment.student_id).where(
                    Enrollment.section_id.in_(sections), Enrollment.ends_on.is_(None)
                )
            )
        )
    if Role.HEALTH_STAFF in principal.roles:
        conditions.append(
            Referral.facility_id.in_(
                select(FacilityStaff.facility_id).where(FacilityStaff.user_id == principal.user_id)
            )
        )
    return or_(*conditions) if conditions else false()


def list_referrals(
    session: Session,
    principal: Principal,
    *,
    states: list[ReferralState] | None = None,
    facility_only: bool = False,
    escalated_only: bool = False,
    limit: int = 500,
) -> list[Referral]:
    """Referrals the principal may read, newest first; `facility_only` keeps the facility queue."""
    if facility_only:
        condition = Referral.facility_id.in_(
            select(FacilityStaff.facility_id).where(FacilityStaff.user_id == principal.user_id)
        )
        if Role.HEALTH_STAFF not in principal.roles:
            condition = false()
    else:
        condition = scope_clause(principal)
    query = select(Referral).where(condition)
    if states:
        query = query.where(Referral.state.in_(states))
    if escalated_only:
        query = query.where(Referral.escalations > 0)
    query = query.order_by(Referral.urgent.desc(), Referral.raised_at.desc()).limit(limit)
    return list(session.scalars(query))


def student_referrals(session: Session, student_id: int) -> list[Referral]:
    return list(
        session.scalars(
            select(Referral)
            .where(Referral.student_id == student_id)
            .order_by(Referral.raised_at.desc())
        )
    )


def holds_health_staff_role(session: Session, user_id: int, today: date) -> bool:
    return (
        session.scalar(
            select(RoleAssignment.id).where(
                RoleAssignment.user_id == user_id,
                RoleAssignment.role == Role.HEALTH_STAFF,
                RoleAssignment.valid_from <= today,
                or_(RoleAssignment.valid_to.is_(None), RoleAssignment.valid_to >= today),
            )
        )
        is not None
    )


def audit_read(
    session: Session,
    referral: Referral,
    *,
    actor: Actor,
    now: datetime,
    reason: str,
    category: str = "health",
) -> None:
    """Record that a referral (or the health detail linked to it) was shown."""
    audit.record(
        session,
        actor=actor,
        action=AuditAction.READ,
        entity_type="referral",
        entity_id=referral.id,
        student_id=referral.student_id,
        org_unit_id=referral.school_id,
        category=category,
        reason=reason,
        now=now,
    )


def audit_list_read(
    session: Session,
    shown: list[Referral],
    *,
    actor: Actor,
    now: datetime,
    reason: str,
) -> None:
    """Record one read per referral a list showed (its student, service and state)."""
    if not shown:
        return
    session.execute(
        insert(AuditEvent),
        [
            {
                "occurred_at": now,
                "actor_id": actor.user_id,
                "action": AuditAction.READ,
                "entity_type": "referral",
                "entity_id": referral.id,
                "student_id": referral.student_id,
                "org_unit_id": referral.school_id,
                "category": "wellbeing" if referral.service == "mental_health" else "health",
                "reason": reason,
                "changes": None,
                "client_addr": actor.client_addr,
            }
            for referral in shown
        ],
    )


# The guardian's slip: one A5 page, in Urdu and then in English.

SLIP_URDU_FACE = "Noto Naskh Arabic"
SLIP_LATIN_FACE = "Noto Sans"

SLIP_LABELS = {
    "title": _("slip_title", default="Referral slip"),
    "intro": _(
        "slip_intro",
        default="The school asks you to take your child to the health facility below. Show "
        "this slip there. The facility has received the details of the referral.",
    ),
    "urgent": _("slip_urgent", default="Urgent: please go today or tomorrow."),
    "number": _("slip_number", default="Referral number"),
    "date": _("slip_date", default="Date"),
    "student": _("slip_student", default="Student"),
    "father": _("slip_father", default="Father's name"),
    "class": _("slip_class", default="Class"),
    "birth": _("slip_birth", default="Date of birth"),
    "facility": _("slip_facility", default="Health facility"),
    "address": _("slip_address", default="Address"),
    "phone": _("slip_phone", default="Phone"),
    "service": _("slip_service", default="Service needed"),
    "appointment": _("slip_appointment", default="Appointment"),
    "outcome": _("slip_outcome", default="Outcome"),
    "head": _("slip_head_teacher", default="Head teacher's signature and stamp"),
}


def _slip_part(context: dict, locale: str) -> str:
    import html as html_module

    from spets.forms.health import SERVICES
    from spets.i18n import RTL_LOCALES, translate

    def t(message) -> str:
        return html_module.escape(translate(message, locale))

    def e(value) -> str:
        return html_module.escape(str(value))

    def number(value) -> str:
        return f'<span class="num" dir="ltr">{e(value)}</span>'

    referral, student, school = context["referral"], context["student"], context["school"]
    facility, section = context["facility"], context["section"]
    direction = "rtl" if locale in RTL_LOCALES else "ltr"
    rows = [
        (t(SLIP_LABELS["number"]), number(referral.id)),
        (t(SLIP_LABELS["date"]), number(context["issued_on"].strftime("%d/%m/%Y"))),
        (t(SLIP_LABELS["student"]), e(student.name(locale))),
        (
            t(SLIP_LABELS["father"]),
            e(student.father_name_ur if locale == "ur" else student.father_name_en),
        ),
        (t(SLIP_LABELS["birth"]), number(student.date_of_birth.strftime("%d/%m/%Y"))),
    ]
    if section is not None:
        rows.append((t(SLIP_LABELS["class"]), number(section.label)))
    rows += [
        (t(SLIP_LABELS["facility"]), e(facility.name(locale))),
        (t(SLIP_LABELS["address"]), e(facility.address or "—")),
        (t(SLIP_LABELS["phone"]), number(_phone(facility.phone))),
        (t(SLIP_LABELS["service"]), t(SERVICES.get(referral.service, referral.service))),
    ]
    if referral.appointment_on:
        rows.append(
            (t(SLIP_LABELS["appointment"]), number(referral.appointment_on.strftime("%d/%m/%Y")))
        )
    if referral.state == S.CLOSED and referral.outcome:
        rows.append((t(SLIP_LABELS["outcome"]), e(referral.outcome)))
    table = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    urgent = f'<p class="urgent">{t(SLIP_LABELS["urgent"])}</p>' if referral.urgent else ""
    return (
        f'<section class="part {locale}" lang="{locale}" dir="{direction}">'
        f'<p class="school">{e(school.name(locale))}</p>'
        f"<h1>{t(SLIP_LABELS['title'])}</h1>{urgent}"
        f'<p class="intro">{t(SLIP_LABELS["intro"])}</p>'
        f"<table>{table}</table>"
        f'<p class="signature">{t(SLIP_LABELS["head"])}</p></section>'
    )


def _phone(value: str | None) -> str:
    if value and value.startswith("+92"):
        return "0" + value[3:]
    return value or "—"


def slip_html(session: Session, referral: Referral, issued_on: date) -> str:
    """Return the slip's HTML: the Urdu part first, then the English part, every value escaped."""
    student = session.get(Student, referral.student_id)
    from spets.models import Section

    section_id = session.scalar(
        select(Enrollment.section_id).where(
            Enrollment.student_id == student.id, Enrollment.ends_on.is_(None)
        )
    )
    context = {
        "referral": referral,
        "student": student,
        "school": session.get(OrgUnit, referral.school_id),
        "facility": session.get(HealthFacility, referral.facility_id),
        "section": session.get(Section, section_id) if section_id else None,
        "issued_on": issued_on,
    }
    parts = _slip_part(context, "ur") + _slip_part(context, "en")
    return (
        '<!DOCTYPE html>\n<html lang="ur">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Referral {referral.id}</title>\n<style>{SLIP_STYLE}</style>\n</head>\n"
        f"<body>{parts}</body>\n</html>\n"
    )


SLIP_STYLE = f"""
@page {{ size: A4; margin: 10mm 14mm; }}
body {{ font-family: "{SLIP_LATIN_FACE}"; font-size: 10pt; color: #111; }}
.part {{ border: 1pt solid #333; padding: 4mm 7mm; margin-bottom: 4mm; break-inside: avoid; }}
.part.ur {{ font-family: "{SLIP_URDU_FACE}", "{SLIP_LATIN_FACE}"; line-height: 1.6; }}
.num {{ font-family: "{SLIP_LATIN_FACE}"; direction: ltr; unicode-bidi: isolate; }}
.school {{ font-weight: bold; font-size: 11.5pt; margin: 0; text-align: center; }}
h1 {{ font-size: 13pt; text-align: center; margin: 1pt 0 4pt; }}
.urgent {{ font-weight: bold; color: #b00; text-align: center; margin: 2pt 0; }}
.intro {{ margin: 2pt 0 4pt; }}
table {{ border-collapse: collapse; width: 100%; }}
th {{ text-align: start; font-weight: normal; color: #444; width: 35%; padding: 1pt 4pt; }}
td {{ font-weight: bold; padding: 1pt 4pt; }}
.signature {{ margin: 9mm 0 0; border-top: 0.75pt solid #333; width: 45%; padding-top: 2pt;
              font-size: 8.5pt; }}
"""


def _refuse_every_url(url, *args, **kwargs):
    raise ValueError(f"the referral slip loads no resources, not {url!r}")


def slip_pdf(session: Session, referral: Referral, issued_on: date) -> bytes:
    """Render the guardian's slip with WeasyPrint; the fonts are the system's Noto faces."""
    from weasyprint import HTML

    return HTML(
        string=slip_html(session, referral, issued_on), url_fetcher=_refuse_every_url
    ).write_pdf()
