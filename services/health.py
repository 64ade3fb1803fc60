"""Health screening: the yearly task per section, one screening per student, and its flags.

A screening records height and weight, and from them BMI and the WHO 2007 z-scores
(`services.growth`), with vision per eye, hearing, teeth, skin, hygiene and whether the
immunisation card was seen. Flags point at what may need a referral; the person
screening decides whether to raise it. Every read of a screening is audited by the
caller with `audit_read`, and the audit trail names which fields a write changed
without copying health values into it.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from spets.forms.health import CLASSIFICATION, FINDING, INDICATOR
from spets.i18n import TranslationString, _
from spets.models import (
    AcademicYear,
    AuditAction,
    AuditEvent,
    CycleDefinition,
    CycleKind,
    CycleTrigger,
    Enrollment,
    Finding,
    HealthScreening,
    OrgUnit,
    Section,
    Student,
    Task,
    TaskState,
)
from spets.services import audit, cycles, growth, referrals, tasks
from spets.services.audit import Actor
from spets.services.calendar import local_today
from spets.services.errors import InvalidInput
from spets.services.org import check_version

log = logging.getLogger(__name__)

CATEGORY = "health"

# The yearly screening of a new tenant: the class teacher (or a school health officer)
# screens the section within 60 school days of the year's start; reminders ten school
# days before and on the due date, then the head teacher and, ten days later, the AEO.
DEFAULT_SCREENING = {
    "name_en": "Yearly health screening",
    "name_ur": "سالانہ طبی معائنہ",
    "opens_with": CycleTrigger.YEAR_START,
    "assignee_rule": cycles.AssigneeRule.CLASS_TEACHER,
    "due_after_school_days": 60,
    "reminder_offsets": [-10, 0],
    "reminder_hour": 8,
    "escalation_days": [0, 10],
    "escalation_roles": ["head_teacher", "aeo"],
    "signoff_role": "head_teacher",
}

SCREENING_FIELDS = (
    "screened_on",
    "height_cm",
    "weight_kg",
    "vision_left",
    "vision_right",
    "hearing",
    "dental",
    "skin",
    "hygiene",
    "immunisation_card_seen",
    "note",
)

# Whether the guardian's portal shows the screening. It is audited with its real value,
# because it is a choice of the staff and not a health value.
SHARING_FIELD = "share_with_guardian"

# Visual acuity at 6 metres from which a referral is suggested: 6/12 or worse in an eye.
# NOTE: this threshold is SPeTS's choice for school screening, not a WHO figure; a health
# department with its own rule changes it here.
VISION_REFER_DENOMINATOR = 12


def add_default_definitions(
    session: Session, tenant: OrgUnit, *, actor: Actor, now: datetime
) -> list[CycleDefinition]:
    """Add the yearly screening and the referral follow-up cycles to a tenant, once."""
    added = []
    existing = set(
        session.scalars(
            select(CycleDefinition.kind).where(
                CycleDefinition.org_unit_id == tenant.id,
                CycleDefinition.kind.in_(
                    [CycleKind.HEALTH_SCREENING, CycleKind.REFERRAL_FOLLOW_UP]
                ),
            )
        )
    )
    if CycleKind.HEALTH_SCREENING not in existing:
        added.append(
            cycles.save_definition(
                session,
                org_unit=tenant,
                kind=CycleKind.HEALTH_SCREENING,
                definition=None,
                values=dict(DEFAULT_SCREENING),
                version=None,
                actor=actor,
                now=now,
            )
        )
    if CycleKind.REFERRAL_FOLLOW_UP not in existing:
        added.append(referrals.add_follow_up_definition(session, tenant, actor=actor, now=now))
    return added


# Recording.


def _check_dates(student: Student, screened_on: date, today: date) -> None:
    if screened_on > today:
        message = _(
            "screening_in_future",
            default="${date} is in the future: give the day the student was measured.",
            mapping={"date": screened_on.strftime("%d/%m/%Y")},
        )
        raise InvalidInput(message, {"screened_on": message})
    if screened_on <= student.date_of_birth:
        message = _(
            "screening_before_birth",
            default="${date} is not after the student's date of birth: check the date.",
            mapping={"date": screened_on.strftime("%d/%m/%Y")},
        )
        raise InvalidInput(message, {"screened_on": message})


def _check_measurements(values: dict) -> None:
    try:
        growth.check_measurements(values.get("height_cm"), values.get("weight_kg"))
    except growth.MeasurementError as error:
        raise InvalidInput(error.message, {error.field: error.message}) from None


def _section_task(session: Session, student: Student, day: date) -> Task | None:
    """Return the yearly screening task of the student's section, if there is one."""
    section_id = session.scalar(
        select(Enrollment.section_id).where(
            Enrollment.student_id == student.id, Enrollment.ends_on.is_(None)
        )
    )
    if section_id is None:
        return None
    return session.scalar(
        select(Task)
        .where(
            Task.kind == CycleKind.HEALTH_SCREENING,
            Task.target_type == "section",
            Task.target_id == section_id,
            Task.opens_on <= day,
        )
        .order_by(Task.opens_on.desc())
    )


def record_screening(
    session: Session,
    student: Student,
    values: dict,
    *,
    actor: Actor,
    now: datetime,
    screening: HealthScreening | None = None,
    version: int | None = None,
) -> HealthScreening:
    """Save a new screening, or correct one, with the z-scores computed from the values.

    A `share_with_guardian` value missing from `values` keeps the current choice (not
    shared, for a new screening). Raises InvalidInput for a date in the future or a
    measurement in the wrong unit.
    """
    school = session.get(OrgUnit, student.school_id)
    _check_dates(student, values["screened_on"], local_today(now, school.timezone))
    _check_measurements(values)
    values = {
        **values,
        "height_cm": _tenths(values.get("height_cm")),
        "weight_kg": _tenths(values.get("weight_kg")),
    }
    result = growth.assess(
        student.gender,
        growth.age_in_months(student.date_of_birth, values["screened_on"]),
        values.get("weight_kg"),
        values.get("height_cm"),
    )
    record = {name: values.get(name) for name in SCREENING_FIELDS}
    record["hearing"] = record["hearing"] or Finding.NOT_CHECKED
    record["dental"] = record["dental"] or Finding.NOT_CHECKED
    record["skin"] = record["skin"] or Finding.NOT_CHECKED
    record["hygiene"] = record["hygiene"] or Finding.NOT_CHECKED
    record["vision_left"] = record["vision_left"] or ""
    record["vision_right"] = record["vision_right"] or ""
    record["note"] = record["note"] or ""
    shared_before = screening.share_with_guardian if screening is not None else False
    shared = bool(values.get(SHARING_FIELD, shared_before))

    if screening is None:
        task = _section_task(session, student, values["screened_on"])
        screening = HealthScreening(
            student_id=student.id,
            school_id=student.school_id,
            task_id=task.id if task else None,
            recorded_at=now,
        )
        session.add(screening)
        action = AuditAction.CREATE
        before: dict = {}
    else:
        check_version(
            screening,
            version,
            {**record, SHARING_FIELD: shared},
            (*SCREENING_FIELDS, SHARING_FIELD),
        )
        action = AuditAction.UPDATE
        before = audit.snapshot(screening, SCREENING_FIELDS)
        task = session.get(Task, screening.task_id) if screening.task_id else None
    for name, value in record.items():
        setattr(screening, name, value)
    screening.share_with_guardian = shared
    screening.age_months = result.age_months
    screening.bmi = result.bmi
    screening.bmi_for_age_z = result.bmi_for_age_z
    screening.height_for_age_z = result.height_for_age_z
    screening.weight_for_age_z = result.weight_for_age_z
    screening.classifications = [c.value for c in result.classifications]
    screening.implausible = [i.value for i in result.implausible]
    screening.recorded_by_id = actor.user_id
    session.flush()

    changed = audit.diff(before, audit.snapshot(screening, SCREENING_FIELDS))
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="health_screening",
        entity_id=screening.id,
        student_id=student.id,
        org_unit_id=student.school_id,
        category=CATEGORY,
        now=now,
        # Health values stay out of the audit trail, which more roles read than health data.
        changes={name: {"before": "(health data)", "after": "(health data)"} for name in changed},
    )
    if shared != shared_before:
        _audit_sharing(session, screening, student, shared_before, actor=actor, now=now)
    if task is not None and task.state in (TaskState.OPEN, TaskState.RETURNED):
        tasks.start_task(session, task, actor=actor, now=now)
    return screening


def _tenths(value: Decimal | None) -> Decimal | None:
    """Round a measurement to the 0.1 cm or 0.1 kg the screening stores."""
    return None if value is None else Decimal(value).quantize(Decimal("0.1"))


def _audit_sharing(
    session: Session,
    screening: HealthScreening,
    student: Student,
    shared_before: bool,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    """Record that the staff started or stopped showing a screening on the guardian's portal."""
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="health_screening",
        entity_id=screening.id,
        student_id=student.id,
        org_unit_id=student.school_id,
        category=CATEGORY,
        now=now,
        reason=(
            "shared with the guardian"
            if screening.share_with_guardian
            else "no longer shared with the guardian"
        ),
        changes={SHARING_FIELD: {"before": shared_before, "after": screening.share_with_guardian}},
    )


def appstruct_of(screening: HealthScreening) -> dict:
    values = {name: getattr(screening, name) for name in SCREENING_FIELDS}
    values[SHARING_FIELD] = screening.share_with_guardian
    values["version"] = screening.version
    return values


# Flags.


@dataclass(frozen=True)
class Flag:
    """Something a screening found: a message, and the service to refer to, if any."""

    code: str
    message: TranslationString
    service: str | None


EYES = {"left": _("eye_left", default="left eye"), "right": _("eye_right", default="right eye")}
CHECKS = {
    "hearing": _("Hearing"),
    "dental": _("Teeth"),
    "skin": _("Skin"),
    "hygiene": _("Hygiene"),
}

CLASSIFICATION_SERVICE = {
    "severe_thinness": "nutrition",
    "thinness": "nutrition",
    "obesity": "nutrition",
    "stunting": "nutrition",
}


def _vision_denominator(value: str) -> int | None:
    if not value:
        return None
    if value.startswith("<"):
        return 61
    try:
        return int(value.split("/")[1])
    except (IndexError, ValueError):
        return None


def screening_flags(screening: HealthScreening) -> list[Flag]:
    """Return what the screening found that needs attention, each with a suggested service."""
    found: list[Flag] = []
    for indicator in screening.implausible or []:
        found.append(
            Flag(
                f"implausible:{indicator}",
                _(
                    "flag_implausible",
                    default="The ${indicator} z-score is outside what WHO accepts as plausible: "
                    "measure again before acting on it.",
                    mapping={"indicator": INDICATOR.get(indicator, indicator)},
                ),
                None,
            )
        )
    for code in screening.classifications or []:
        service = CLASSIFICATION_SERVICE.get(code)
        message = _(
            "flag_classification",
            default="WHO category: ${category}",
            mapping={"category": CLASSIFICATION.get(code, code)},
        )
        found.append(Flag(code, message, service))
    for eye, value in (("left", screening.vision_left), ("right", screening.vision_right)):
        denominator = _vision_denominator(value)
        if denominator is not None and denominator >= VISION_REFER_DENOMINATOR:
            found.append(
                Flag(
                    f"vision_{eye}",
                    _(
                        "flag_vision",
                        default="Vision of the ${eye}: ${value}.",
                        mapping={"eye": EYES[eye], "value": value},
                    ),
                    "vision",
                )
            )
    for name, service in (
        ("hearing", "hearing"),
        ("dental", "dental"),
        ("skin", "skin"),
        ("hygiene", "general"),
    ):
        finding = getattr(screening, name)
        if finding in (Finding.REFER, Finding.NEEDS_ATTENTION):
            found.append(
                Flag(
                    name,
                    _(
                        "flag_finding",
                        default="${check}: ${finding}",
                        mapping={"check": CHECKS[name], "finding": FINDING[finding]},
                    ),
                    service if finding == Finding.REFER else None,
                )
            )
    if screening.immunisation_card_seen is False:
        found.append(
            Flag(
                "immunisation",
                _("flag_immunisation", default="The immunisation card was not seen."),
                "immunisation",
            )
        )
    return found


# Lists.


def student_screenings(session: Session, student_id: int) -> list[HealthScreening]:
    return list(
        session.scalars(
            select(HealthScreening)
            .where(HealthScreening.student_id == student_id)
            .order_by(HealthScreening.screened_on, HealthScreening.id)
        )
    )


@dataclass
class SectionRow:
    student: Student
    screening: HealthScreening | None


def section_overview(session: Session, section: Section) -> list[SectionRow]:
    """Return the section's current students with their latest screening of the section's year."""
    year = session.get(AcademicYear, section.academic_year_id)
    students = session.scalars(
        select(Student)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .where(Enrollment.section_id == section.id, Enrollment.ends_on.is_(None))
        .order_by(Student.name_en)
    ).all()
    screenings = session.scalars(
        select(HealthScreening)
        .where(
            HealthScreening.student_id.in_([s.id for s in students]),
            HealthScreening.screened_on >= year.starts_on,
            HealthScreening.screened_on <= year.ends_on,
        )
        .order_by(HealthScreening.screened_on, HealthScreening.id)
    ).all()
    latest = {screening.student_id: screening for screening in screenings}
    return [SectionRow(student, latest.get(student.id)) for student in students]


def section_task(session: Session, section: Section) -> Task | None:
    return session.scalar(
        select(Task)
        .where(
            Task.kind == CycleKind.HEALTH_SCREENING,
            Task.target_type == "section",
            Task.target_id == section.id,
        )
        .order_by(Task.opens_on.desc())
    )


def audit_read(
    session: Session,
    *,
    actor: Actor,
    now: datetime,
    entity_type: str,
    entity_id: int | None,
    student_id: int | None,
    org_unit_id: int | None,
    reason: str,
    category: str = CATEGORY,
) -> None:
    """Record that health (or well-being) data was shown: who, what and why."""
    audit.record(
        session,
        actor=actor,
        action=AuditAction.READ,
        entity_type=entity_type,
        entity_id=entity_id,
        student_id=student_id,
        org_unit_id=org_unit_id,
        category=category,
        reason=reason,
        now=now,
    )


def reads_of(session: Session, student_id: int) -> list[AuditEvent]:
    """Return the audited reads of a student's health and well-being data, newest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.student_id == student_id,
                AuditEvent.action == AuditAction.READ,
                AuditEvent.category.in_([CATEGORY, "wellbeing"]),
            )
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        )
    )


def measured(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")
