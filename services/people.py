"""Students, their households, guardians and family members, and enrollment history."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from spets.i18n import _, normalize_digits
from spets.models import (
    AuditAction,
    Enrollment,
    EnrollmentEndReason,
    EnrollmentStartReason,
    FamilyMember,
    Guardian,
    OrgUnit,
    Section,
    Student,
    StudentGuardian,
)
from spets.services import audit
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, NotFound
from spets.services.org import check_version
from spets.services.scope import Permission, Principal, student_clause

FINANCE_CATEGORY = "family_finance"

IDENTITY_FIELDS = (
    "admission_no",
    "b_form",
    "name_en",
    "name_ur",
    "father_name_en",
    "father_name_ur",
    "date_of_birth",
    "gender",
)
BACKGROUND_FIELDS = (
    "home_area",
    "travel_time_band",
    "study_time_band",
    "past_failures",
    "receives_extra_support",
    "paid_tuition",
    "extracurricular",
    "attended_preschool",
    "wants_higher_education",
    "internet_at_home",
)
STUDENT_FIELDS = IDENTITY_FIELDS + BACKGROUND_FIELDS
HOUSEHOLD_FIELDS = ("household_size", "parents_status", "family_support")
GUARDIAN_FIELDS = (
    "name_en",
    "name_ur",
    "cnic",
    "phone",
    "email",
    "education",
    "occupation",
    "income_band",
    "bisp_beneficiary",
    "preferred_locale",
)
GUARDIAN_FINANCE_FIELDS = ("income_band", "bisp_beneficiary")
FAMILY_FIELDS = (
    "relation",
    "name_en",
    "name_ur",
    "date_of_birth",
    "cnic",
    "phone",
    "education",
    "occupation",
    "income_band",
    "lives_in_household",
    "sibling_school_name",
    "sibling_grade",
)
FAMILY_FINANCE_FIELDS = ("income_band",)


# Reading.


def current_enrollment(session: Session, student_id: int) -> Enrollment | None:
    return session.scalar(
        select(Enrollment).where(Enrollment.student_id == student_id, Enrollment.ends_on.is_(None))
    )


@dataclass
class StudentRecord:
    """A student with the rows the profile shows, loaded in a fixed number of queries."""

    student: Student
    school: OrgUnit
    current: Enrollment | None
    enrollments: list[Enrollment]
    guardian_links: list[StudentGuardian]
    family_members: list[FamilyMember]


def load_student_record(session: Session, student_id: int, *, with_family: bool) -> StudentRecord:
    """Load a student and their history; family rows only when the caller may see them."""
    options = [
        selectinload(Student.school),
        selectinload(Student.enrollments)
        .selectinload(Enrollment.section)
        .selectinload(Section.school),
        selectinload(Student.enrollments)
        .selectinload(Enrollment.section)
        .selectinload(Section.academic_year),
    ]
    if with_family:
        options += [
            selectinload(Student.guardian_links).selectinload(StudentGuardian.guardian),
            selectinload(Student.family_members),
        ]
    student = session.scalar(select(Student).where(Student.id == student_id).options(*options))
    if student is None:
        raise NotFound(_("student_not_found", default="No such student."))

    enrollments = list(student.enrollments)
    current = next((e for e in enrollments if e.ends_on is None), None)
    links = (
        sorted(student.guardian_links, key=lambda link: (not link.is_primary, link.id))
        if with_family
        else []
    )
    members = sorted(student.family_members, key=lambda m: m.id) if with_family else []
    return StudentRecord(student, student.school, current, enrollments, links, members)


def audit_finance_read(
    session: Session, student: Student, *, actor: Actor, now: datetime, reason: str
) -> None:
    """Record that finance fields of a student's family were shown or exported."""
    audit.record(
        session,
        actor=actor,
        action=AuditAction.READ,
        entity_type="student_family",
        entity_id=student.id,
        student_id=student.id,
        org_unit_id=student.school_id,
        category=FINANCE_CATEGORY,
        reason=reason,
        now=now,
    )


@dataclass(frozen=True)
class StudentFilter:
    text: str = ""
    school_id: int | None = None
    section_id: int | None = None
    include_left: bool = False


def search_students(
    session: Session,
    principal: Principal,
    criteria: StudentFilter,
    *,
    permission: str = Permission.STUDENT_VIEW,
    limit: int | None = 50,
    offset: int = 0,
) -> tuple[list[tuple[Student, Section | None]], int]:
    """Find students in the principal's scope; return a page of (student, section) and the total."""
    query = (
        select(Student, Section)
        .outerjoin(Enrollment, (Enrollment.student_id == Student.id) & Enrollment.ends_on.is_(None))
        .outerjoin(Section, Section.id == Enrollment.section_id)
        .where(student_clause(principal, permission))
    )
    if criteria.school_id is not None:
        query = query.where(Student.school_id == criteria.school_id)
    if criteria.section_id is not None:
        query = query.where(Enrollment.section_id == criteria.section_id)
    if not criteria.include_left:
        query = query.where(Enrollment.id.is_not(None))
    text = criteria.text.strip()
    if text:
        like = f"%{text.lower()}%"
        number = normalize_digits(text)
        query = query.where(
            or_(
                func.lower(Student.name_en).like(like),
                Student.name_ur.like(f"%{text}%"),
                func.lower(Student.father_name_en).like(like),
                Student.admission_no == number,
                Student.b_form == _b_form_of(number),
            )
        )

    total = session.scalar(select(func.count()).select_from(query.subquery()))
    query = query.order_by(Section.grade, Section.name, Student.name_en, Student.id)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [(student, section) for student, section in session.execute(query)], total or 0


def _b_form_of(text: str) -> str:
    """Write 13 digits typed with or without dashes as B-Form numbers are stored."""
    digits = re.sub(r"[\s\-]", "", text)
    if len(digits) == 13 and digits.isdigit():
        return f"{digits[:5]}-{digits[5:12]}-{digits[12]}"
    return text


# Writing students.


def admit_student(
    session: Session,
    *,
    section: Section,
    values: dict,
    admitted_on: date,
    actor: Actor,
    now: datetime,
) -> Student:
    """Create a student and their first enrollment in `section`."""
    school = section.school
    tenant_id = school.tenant_id or school.id
    _check_student_unique(session, tenant_id, school.id, values, exclude_id=None)
    _check_enrollment_date(section, admitted_on)

    student = Student(
        tenant_id=tenant_id,
        school_id=school.id,
        created_at=now,
        updated_at=now,
        **{name: values.get(name) for name in STUDENT_FIELDS},
    )
    session.add(student)
    session.flush()
    session.add(
        Enrollment(
            student_id=student.id,
            section_id=section.id,
            starts_on=admitted_on,
            start_reason=EnrollmentStartReason.ADMISSION,
            created_at=now,
            created_by_id=actor.user_id,
        )
    )
    session.flush()

    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="student",
        entity_id=student.id,
        student_id=student.id,
        org_unit_id=school.id,
        now=now,
        changes=audit.diff({}, audit.snapshot(student, STUDENT_FIELDS)),
    )
    return student


def update_student(
    session: Session,
    student: Student,
    values: dict,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
    fields: Sequence[str] = STUDENT_FIELDS,
) -> Student:
    check_version(student, version, values, fields)
    _check_student_unique(
        session, student.tenant_id, student.school_id, values, exclude_id=student.id
    )

    before = audit.snapshot(student, fields)
    for name in fields:
        if name in values:
            setattr(student, name, values[name])
    changes = audit.diff(before, audit.snapshot(student, fields))
    if not changes:
        return student
    student.updated_at = now
    session.flush()

    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="student",
        entity_id=student.id,
        student_id=student.id,
        org_unit_id=student.school_id,
        now=now,
        changes=changes,
    )
    return student


def update_household(
    session: Session,
    student: Student,
    values: dict,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> Student:
    return update_student(
        session, student, values, version=version, actor=actor, now=now, fields=HOUSEHOLD_FIELDS
    )


def _check_student_unique(
    session: Session, tenant_id: int, school_id: int, values: dict, exclude_id: int | None
) -> None:
    errors = {}
    if values.get("admission_no"):
        clash = session.scalar(
            select(Student.name_en).where(
                Student.school_id == school_id,
                Student.admission_no == values["admission_no"],
                Student.id != (exclude_id or -1),
            )
        )
        if clash is not None:
            errors["admission_no"] = _(
                "admission_no_taken",
                default='Admission number "${value}" is already used by ${name} at this school.',
                mapping={"value": values["admission_no"], "name": clash},
            )
    if values.get("b_form"):
        clash_id = session.scalar(
            select(Student.id).where(
                Student.tenant_id == tenant_id,
                Student.b_form == values["b_form"],
                Student.id != (exclude_id or -1),
            )
        )
        if clash_id is not None:
            errors["b_form"] = _(
                "b_form_taken",
                default='B-Form number "${value}" already belongs to another student. If the '
                "student moved from another school, admit them as a transfer instead.",
                mapping={"value": values["b_form"]},
            )
    if errors:
        raise InvalidInput(
            _("student_not_unique", default="The student could not be saved."), errors
        )


def _check_enrollment_date(section: Section, day: date) -> None:
    year = section.academic_year
    if not year.starts_on <= day <= year.ends_on:
        raise InvalidInput(
            _(
                "enrollment_outside_year",
                default="The date must lie in the academic year ${label} of the section "
                "(${start} to ${end}).",
                mapping={
                    "label": year.label,
                    "start": year.starts_on.strftime("%d/%m/%Y"),
                    "end": year.ends_on.strftime("%d/%m/%Y"),
                },
            ),
            {"admitted_on": _("date_outside_year", default="Outside the section's academic year.")},
        )


# Enrollment changes: each ends one row and starts another, nothing is overwritten.


def change_section(
    session: Session,
    student: Student,
    new_section: Section,
    on: date,
    *,
    actor: Actor,
    now: datetime,
) -> Enrollment:
    """Move a student to another section of the same school from the day `on`."""
    current = _require_current(session, student)
    if new_section.id == current.section_id:
        raise InvalidInput(
            _("same_section", default="The student is already in this section."),
            {"section_id": _("same_section", default="The student is already in this section.")},
        )
    if new_section.school_id != current.section.school_id:
        raise InvalidInput(
            _("section_other_school", default="Choose a section of the same school.")
        )
    return _replace_enrollment(
        session,
        student,
        current,
        new_section,
        on,
        EnrollmentEndReason.SECTION_CHANGE,
        EnrollmentStartReason.SECTION_CHANGE,
        actor=actor,
        now=now,
    )


def promote(
    session: Session,
    student: Student,
    new_section: Section,
    on: date,
    *,
    actor: Actor,
    now: datetime,
) -> Enrollment:
    current = _require_current(session, student)
    return _replace_enrollment(
        session,
        student,
        current,
        new_section,
        on,
        EnrollmentEndReason.PROMOTION,
        EnrollmentStartReason.PROMOTION,
        actor=actor,
        now=now,
    )


def _replace_enrollment(
    session: Session,
    student: Student,
    current: Enrollment,
    new_section: Section,
    on: date,
    end_reason: EnrollmentEndReason,
    start_reason: EnrollmentStartReason,
    *,
    actor: Actor,
    now: datetime,
) -> Enrollment:
    if on <= current.starts_on:
        message = _(
            "change_before_start",
            default="The change must come after ${date}, when the current enrollment started.",
            mapping={"date": current.starts_on.strftime("%d/%m/%Y")},
        )
        raise InvalidInput(message, {"changed_on": message})
    _check_enrollment_date(new_section, on)

    current.ends_on = on - timedelta(days=1)
    current.end_reason = end_reason
    session.flush()
    new = Enrollment(
        student_id=student.id,
        section_id=new_section.id,
        starts_on=on,
        start_reason=start_reason,
        created_at=now,
        created_by_id=actor.user_id,
    )
    session.add(new)
    student.school_id = new_section.school_id
    student.updated_at = now
    session.flush()

    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="enrollment",
        entity_id=new.id,
        student_id=student.id,
        org_unit_id=new_section.school_id,
        now=now,
        changes={
            "section_id": {"before": current.section_id, "after": new_section.id},
            "reason": {"before": end_reason.value, "after": start_reason.value},
        },
    )
    return new


def end_enrollment(
    session: Session,
    student: Student,
    ended_on: date,
    reason: EnrollmentEndReason,
    note: str,
    *,
    actor: Actor,
    now: datetime,
) -> Enrollment:
    """End the current enrollment: the student leaves, transfers out or completes school."""
    current = _require_current(session, student)
    if ended_on < current.starts_on:
        message = _(
            "end_before_start",
            default="The last day cannot be before ${date}, when the enrollment started.",
            mapping={"date": current.starts_on.strftime("%d/%m/%Y")},
        )
        raise InvalidInput(message, {"ended_on": message})

    current.ends_on = ended_on
    current.end_reason = reason
    current.note = note
    student.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="enrollment",
        entity_id=current.id,
        student_id=student.id,
        org_unit_id=student.school_id,
        now=now,
        changes={
            "ends_on": {"before": None, "after": ended_on.isoformat()},
            "end_reason": {"before": None, "after": reason.value},
        },
    )
    return current


def admit_transfer(
    session: Session,
    *,
    section: Section,
    b_form: str,
    admission_no: str,
    admitted_on: date,
    actor: Actor,
    now: datetime,
) -> Student:
    """Admit a student who left another school of the tenant, keeping their whole record."""
    school = section.school
    tenant_id = school.tenant_id or school.id
    student = session.scalar(
        select(Student).where(Student.tenant_id == tenant_id, Student.b_form == b_form)
    )
    if student is None:
        message = _(
            "transfer_not_found",
            default='No student with B-Form number "${value}" has left a school of this system. '
            "Admit the student as new instead.",
            mapping={"value": b_form},
        )
        raise InvalidInput(message, {"b_form": message})
    current = current_enrollment(session, student.id)
    if current is not None:
        message = _(
            "transfer_still_enrolled",
            default="This student is still enrolled at another school. That school must first "
            "record the transfer out.",
        )
        raise InvalidInput(message, {"b_form": message})
    _check_enrollment_date(section, admitted_on)
    last_end = session.scalar(
        select(func.max(Enrollment.ends_on)).where(Enrollment.student_id == student.id)
    )
    if last_end is not None and admitted_on <= last_end:
        message = _(
            "transfer_overlaps",
            default="The student was still at the previous school until ${date}; admit from a later day.",
            mapping={"date": last_end.strftime("%d/%m/%Y")},
        )
        raise InvalidInput(message, {"admitted_on": message})
    clash = session.scalar(
        select(Student.id).where(
            Student.school_id == school.id,
            Student.admission_no == admission_no,
            Student.id != student.id,
        )
    )
    if clash is not None:
        message = _(
            "admission_no_taken_short",
            default='Admission number "${value}" is already used at this school.',
            mapping={"value": admission_no},
        )
        raise InvalidInput(message, {"admission_no": message})

    previous_school_id = student.school_id
    student.school_id = school.id
    student.admission_no = admission_no
    student.updated_at = now
    session.add(
        Enrollment(
            student_id=student.id,
            section_id=section.id,
            starts_on=admitted_on,
            start_reason=EnrollmentStartReason.TRANSFER_IN,
            created_at=now,
            created_by_id=actor.user_id,
        )
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="enrollment",
        entity_id=student.id,
        student_id=student.id,
        org_unit_id=school.id,
        now=now,
        changes={"school_id": {"before": previous_school_id, "after": school.id}},
    )
    return student


def _require_current(session: Session, student: Student) -> Enrollment:
    current = current_enrollment(session, student.id)
    if current is None:
        raise InvalidInput(
            _("not_enrolled", default="The student is not enrolled in any section now.")
        )
    return current


# Guardians and family members.


def add_guardian(
    session: Session,
    student: Student,
    values: dict,
    *,
    actor: Actor,
    now: datetime,
) -> StudentGuardian:
    """Link a guardian to a student; an existing guardian with the same CNIC is reused."""
    guardian = None
    if values.get("cnic"):
        guardian = session.scalar(
            select(Guardian).where(
                Guardian.tenant_id == student.tenant_id, Guardian.cnic == values["cnic"]
            )
        )
    if guardian is None:
        guardian = Guardian(tenant_id=student.tenant_id, name_en="", name_ur="")
        session.add(guardian)
        for name in GUARDIAN_FIELDS:
            if name in values:
                setattr(guardian, name, values[name])
        if not guardian.preferred_locale:
            guardian.preferred_locale = "ur"
        session.flush()
    elif any(link.student_id == student.id for link in guardian.student_links):
        message = _(
            "guardian_already_linked",
            default="This guardian (CNIC ${cnic}) is already linked to the student.",
            mapping={"cnic": values["cnic"]},
        )
        raise InvalidInput(message, {"cnic": message})

    if values.get("is_primary"):
        _clear_primary(session, student)
    link = StudentGuardian(
        student_id=student.id,
        guardian_id=guardian.id,
        relation=values["relation"],
        is_primary=bool(values.get("is_primary")),
    )
    session.add(link)
    session.flush()

    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="guardian",
        entity_id=guardian.id,
        student_id=student.id,
        org_unit_id=student.school_id,
        now=now,
        category=_finance_category(values, GUARDIAN_FINANCE_FIELDS),
        changes=audit.diff(
            {}, audit.snapshot(guardian, [f for f in GUARDIAN_FIELDS if f in values])
        ),
    )
    return link


def update_guardian(
    session: Session,
    link: StudentGuardian,
    values: dict,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> Guardian:
    guardian = link.guardian
    fields = [f for f in GUARDIAN_FIELDS if f in values]
    check_version(guardian, version, values, fields)
    if values.get("cnic") and values["cnic"] != guardian.cnic:
        clash = session.scalar(
            select(Guardian.id).where(
                Guardian.tenant_id == guardian.tenant_id,
                Guardian.cnic == values["cnic"],
                Guardian.id != guardian.id,
            )
        )
        if clash is not None:
            message = _(
                "guardian_cnic_taken",
                default='CNIC "${value}" belongs to another guardian already in SPeTS.',
                mapping={"value": values["cnic"]},
            )
            raise InvalidInput(message, {"cnic": message})

    before = audit.snapshot(guardian, fields)
    for name in fields:
        setattr(guardian, name, values[name])
    if "relation" in values:
        link.relation = values["relation"]
    if values.get("is_primary") and not link.is_primary:
        _clear_primary(session, link.student)
    if "is_primary" in values:
        link.is_primary = bool(values["is_primary"])
    session.flush()

    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="guardian",
        entity_id=guardian.id,
        student_id=link.student_id,
        org_unit_id=link.student.school_id,
        now=now,
        category=_finance_category(values, GUARDIAN_FINANCE_FIELDS),
        changes=audit.diff(before, audit.snapshot(guardian, fields)),
    )
    return guardian


def unlink_guardian(
    session: Session, link: StudentGuardian, *, actor: Actor, now: datetime
) -> None:
    student = link.student
    session.delete(link)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.DELETE,
        entity_type="student_guardian",
        entity_id=link.guardian_id,
        student_id=student.id,
        org_unit_id=student.school_id,
        now=now,
    )


def _clear_primary(session: Session, student: Student) -> None:
    for link in session.scalars(
        select(StudentGuardian).where(
            StudentGuardian.student_id == student.id, StudentGuardian.is_primary.is_(True)
        )
    ):
        link.is_primary = False


def save_family_member(
    session: Session,
    student: Student,
    member: FamilyMember | None,
    values: dict,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> FamilyMember:
    fields = [f for f in FAMILY_FIELDS if f in values]
    if member is None:
        member = FamilyMember(student_id=student.id, name_en="")
        session.add(member)
        before: dict = {}
        action = AuditAction.CREATE
    else:
        check_version(member, version, values, fields)
        before = audit.snapshot(member, fields)
        action = AuditAction.UPDATE
    for name in fields:
        setattr(member, name, values[name])
    session.flush()

    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="family_member",
        entity_id=member.id,
        student_id=student.id,
        org_unit_id=student.school_id,
        now=now,
        category=_finance_category(values, FAMILY_FINANCE_FIELDS),
        changes=audit.diff(before, audit.snapshot(member, fields)),
    )
    return member


def delete_family_member(
    session: Session, member: FamilyMember, *, actor: Actor, now: datetime
) -> None:
    student = member.student
    before = audit.snapshot(member, FAMILY_FIELDS)
    session.delete(member)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.DELETE,
        entity_type="family_member",
        entity_id=member.id,
        student_id=student.id,
        org_unit_id=student.school_id,
        now=now,
        changes=audit.diff(before, {}),
    )


def _finance_category(values: dict, finance_fields: Sequence[str]) -> str | None:
    return FINANCE_CATEGORY if any(name in values for name in finance_fields) else None
