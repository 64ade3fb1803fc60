"""The org tree: create, rename and move units; find schools; sections, subjects, teaching."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import String, func, literal, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from spets.i18n import _
from spets.models import (
    ALLOWED_PARENT_KINDS,
    AcademicYear,
    AuditAction,
    Enrollment,
    OrgKind,
    OrgUnit,
    Role,
    RoleAssignment,
    Section,
    Student,
    Subject,
    TeachingAssignment,
    User,
)
from spets.services import audit
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, NotFound, StaleEdit

ORG_FIELDS = ("kind", "code", "name_en", "name_ur", "school_level", "school_gender", "is_active")


def create_unit(
    session: Session,
    *,
    parent: OrgUnit | None,
    kind: OrgKind,
    code: str,
    name_en: str,
    name_ur: str,
    actor: Actor,
    now: datetime,
    timezone: str = "Asia/Karachi",
    **school_fields,
) -> OrgUnit:
    """Add a unit under `parent` (or a new root, a tenant, when `parent` is None)."""
    _check_parent_kind(kind, parent)
    tenant_id = None if parent is None else (parent.tenant_id or parent.id)
    _check_code_free(session, tenant_id, kind, code, exclude_id=None)

    unit = OrgUnit(
        kind=kind,
        code=code,
        name_en=name_en,
        name_ur=name_ur,
        parent_id=parent.id if parent else None,
        tenant_id=tenant_id,
        path="/",
        timezone=parent.timezone if parent else timezone,
        **school_fields,
    )
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    session.flush()

    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="org_unit",
        entity_id=unit.id,
        org_unit_id=unit.id,
        now=now,
        changes=audit.diff({}, audit.snapshot(unit, ORG_FIELDS)),
    )
    return unit


def update_unit(
    session: Session,
    unit: OrgUnit,
    values: dict,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> OrgUnit:
    check_version(unit, version, values, ORG_FIELDS)
    if "code" in values and values["code"] != unit.code:
        _check_code_free(session, unit.tenant_id, unit.kind, values["code"], exclude_id=unit.id)

    before = audit.snapshot(unit, ORG_FIELDS)
    for name in ORG_FIELDS:
        if name in values and name != "kind":
            setattr(unit, name, values[name])
    session.flush()

    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="org_unit",
        entity_id=unit.id,
        org_unit_id=unit.id,
        now=now,
        changes=audit.diff(before, audit.snapshot(unit, ORG_FIELDS)),
    )
    return unit


def move_unit(
    session: Session, unit: OrgUnit, new_parent: OrgUnit, *, actor: Actor, now: datetime
) -> int:
    """Move a unit and its subtree under another parent; return how many paths changed."""
    _check_parent_kind(unit.kind, new_parent)
    if new_parent.path.startswith(unit.path):
        raise InvalidInput(
            _(
                "move_into_itself",
                default="A unit cannot move under itself or one of its own units.",
            )
        )
    if (new_parent.tenant_id or new_parent.id) != unit.tenant_id:
        raise InvalidInput(_("move_other_tenant", default="A unit cannot move to another tenant."))

    old_path = unit.path
    new_path = f"{new_parent.path}{unit.id}/"
    moved = session.execute(
        update(OrgUnit)
        .where(OrgUnit.path.startswith(old_path, autoescape=True))
        .values(path=literal(new_path, String) + func.substr(OrgUnit.path, len(old_path) + 1))
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        update(OrgUnit)
        .where(OrgUnit.id == unit.id)
        .values(parent_id=new_parent.id)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()

    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="org_unit",
        entity_id=unit.id,
        org_unit_id=unit.id,
        now=now,
        changes={"path": {"before": old_path, "after": new_path}},
    )
    return moved


def _check_parent_kind(kind: OrgKind, parent: OrgUnit | None) -> None:
    allowed = ALLOWED_PARENT_KINDS[kind]
    if parent is None and allowed:
        raise InvalidInput(
            _(
                "org_needs_parent",
                default="A ${kind} must sit under another unit.",
                mapping={"kind": kind.value},
            )
        )
    if parent is not None and parent.kind not in allowed:
        raise InvalidInput(
            _(
                "org_wrong_parent",
                default="A ${kind} cannot sit under a ${parent}; allowed: ${allowed}.",
                mapping={
                    "kind": kind.value,
                    "parent": parent.kind.value,
                    "allowed": ", ".join(sorted(k.value for k in allowed)) or "none (it is a root)",
                },
            ),
            {"kind": _("org_wrong_parent_field", default="Not allowed here.")},
        )


def _check_code_free(
    session: Session, tenant_id: int | None, kind: OrgKind, code: str, exclude_id: int | None
) -> None:
    query = select(OrgUnit.id).where(OrgUnit.kind == kind, OrgUnit.code == code)
    query = query.where(
        OrgUnit.tenant_id == tenant_id if tenant_id is not None else OrgUnit.tenant_id.is_(None)
    )
    if exclude_id is not None:
        query = query.where(OrgUnit.id != exclude_id)
    if session.scalar(query) is not None:
        message = _(
            "org_code_taken",
            default='The code "${code}" is already used by another ${kind}.',
            mapping={"code": code, "kind": kind.value},
        )
        raise InvalidInput(message, {"code": message})


def check_version(record, version: int | None, submitted: dict, fields: Sequence[str]) -> None:
    """Raise StaleEdit when the form was loaded from an older version of the record."""
    if version is None or version == record.version:
        return
    differences = {}
    for name in fields:
        if name in submitted:
            current = getattr(record, name)
            if audit.to_json_value(current) != audit.to_json_value(submitted[name]):
                differences[name] = (current, submitted[name])
    raise StaleEdit(
        _(
            "stale_edit",
            default="Someone else saved this record after you opened it. Your changes were "
            "not saved. Compare the values below, then save again to keep yours.",
        ),
        current_version=record.version,
        differences=differences,
    )


def get_unit(session: Session, unit_id: int) -> OrgUnit:
    unit = session.get(OrgUnit, unit_id)
    if unit is None:
        raise NotFound(_("org_not_found", default="No such org unit."))
    return unit


def ancestors(session: Session, unit: OrgUnit) -> list[OrgUnit]:
    """Return the units above `unit`, root first, in one query."""
    ids = unit.ancestor_ids[:-1]
    if not ids:
        return []
    by_id = {u.id: u for u in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]


def find_unit_by_code(
    session: Session, tenant_id: int, code: str, kinds: Sequence[str]
) -> list[OrgUnit]:
    return list(
        session.scalars(
            select(OrgUnit).where(
                OrgUnit.tenant_id == tenant_id,
                OrgUnit.code == code.strip(),
                OrgUnit.kind.in_(list(kinds)),
            )
        )
    )


def tenant_of(unit: OrgUnit) -> int:
    return unit.tenant_id or unit.id


# Sections, subjects and teaching assignments.

SECTION_FIELDS = ("grade", "name", "class_teacher_id")


def create_section(
    session: Session,
    *,
    school: OrgUnit,
    year: AcademicYear,
    grade: int,
    name: str,
    class_teacher_id: int | None,
    actor: Actor,
    now: datetime,
) -> Section:
    _check_section_free(session, school.id, year.id, grade, name, exclude_id=None)
    section = Section(
        school_id=school.id,
        academic_year_id=year.id,
        grade=grade,
        name=name.strip().upper(),
        class_teacher_id=class_teacher_id,
    )
    session.add(section)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="section",
        entity_id=section.id,
        org_unit_id=school.id,
        now=now,
        changes=audit.diff({}, audit.snapshot(section, SECTION_FIELDS)),
    )
    return section


def update_section(
    session: Session,
    section: Section,
    values: dict,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> Section:
    check_version(section, version, values, SECTION_FIELDS)
    name = values.get("name", section.name).strip().upper()
    grade = values.get("grade", section.grade)
    _check_section_free(
        session, section.school_id, section.academic_year_id, grade, name, exclude_id=section.id
    )
    before = audit.snapshot(section, SECTION_FIELDS)
    section.grade = grade
    section.name = name
    section.class_teacher_id = values.get("class_teacher_id", section.class_teacher_id)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="section",
        entity_id=section.id,
        org_unit_id=section.school_id,
        now=now,
        changes=audit.diff(before, audit.snapshot(section, SECTION_FIELDS)),
    )
    return section


def _check_section_free(
    session: Session, school_id: int, year_id: int, grade: int, name: str, exclude_id: int | None
) -> None:
    query = select(Section.id).where(
        Section.school_id == school_id,
        Section.academic_year_id == year_id,
        Section.grade == grade,
        Section.name == name,
    )
    if exclude_id is not None:
        query = query.where(Section.id != exclude_id)
    if session.scalar(query) is not None:
        message = _(
            "section_taken",
            default="Grade ${grade} already has a section ${name} this year.",
            mapping={"grade": grade, "name": name},
        )
        raise InvalidInput(message, {"name": message})


SUBJECT_FIELDS = ("code", "name_en", "name_ur", "is_core", "is_active")


def save_subject(
    session: Session,
    *,
    tenant_id: int,
    subject: Subject | None,
    values: dict,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> Subject:
    code = values["code"].strip().upper()
    clash = session.scalar(
        select(Subject.id).where(
            Subject.tenant_id == tenant_id,
            Subject.code == code,
            Subject.id != (subject.id if subject else -1),
        )
    )
    if clash is not None:
        message = _(
            "subject_code_taken",
            default='The subject code "${code}" is already used.',
            mapping={"code": code},
        )
        raise InvalidInput(message, {"code": message})

    if subject is None:
        subject = Subject(tenant_id=tenant_id, code=code, name_en="", name_ur="")
        session.add(subject)
        before: dict = {}
        action = AuditAction.CREATE
    else:
        check_version(subject, version, values, SUBJECT_FIELDS)
        before = audit.snapshot(subject, SUBJECT_FIELDS)
        action = AuditAction.UPDATE

    subject.code = code
    subject.name_en = values["name_en"]
    subject.name_ur = values["name_ur"]
    subject.is_core = values.get("is_core", False)
    subject.is_active = values.get("is_active", True)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="subject",
        entity_id=subject.id,
        org_unit_id=tenant_id,
        now=now,
        changes=audit.diff(before, audit.snapshot(subject, SUBJECT_FIELDS)),
    )
    return subject


def assign_teacher(
    session: Session,
    *,
    section: Section,
    subject: Subject,
    teacher: User,
    starts_on: date,
    actor: Actor,
    now: datetime,
) -> TeachingAssignment:
    """Make `teacher` the teacher of `subject` in `section`, ending any current assignment."""
    current = session.scalar(
        select(TeachingAssignment).where(
            TeachingAssignment.section_id == section.id,
            TeachingAssignment.subject_id == subject.id,
            TeachingAssignment.valid_to.is_(None),
        )
    )
    if current is not None:
        if current.teacher_id == teacher.id:
            return current
        if starts_on <= current.valid_from:
            message = _(
                "assignment_starts_too_early",
                default="The new teacher must start after ${date}, when the current one started.",
                mapping={"date": current.valid_from.strftime("%d/%m/%Y")},
            )
            raise InvalidInput(message, {"starts_on": message})
        current.valid_to = date.fromordinal(starts_on.toordinal() - 1)

    assignment = TeachingAssignment(
        section_id=section.id, subject_id=subject.id, teacher_id=teacher.id, valid_from=starts_on
    )
    session.add(assignment)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="teaching_assignment",
        entity_id=assignment.id,
        org_unit_id=section.school_id,
        now=now,
        changes={
            "section_id": {"before": None, "after": section.id},
            "subject_id": {"before": None, "after": subject.id},
            "teacher_id": {"before": current.teacher_id if current else None, "after": teacher.id},
        },
    )
    return assignment


def end_teaching_assignment(
    session: Session, assignment: TeachingAssignment, ends_on: date, *, actor: Actor, now: datetime
) -> None:
    if ends_on < assignment.valid_from:
        raise InvalidInput(
            _(
                "assignment_end_before_start",
                default="The end date must not be before ${date}.",
                mapping={"date": assignment.valid_from.strftime("%d/%m/%Y")},
            )
        )
    assignment.valid_to = ends_on
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="teaching_assignment",
        entity_id=assignment.id,
        org_unit_id=assignment.section.school_id,
        now=now,
        changes={"valid_to": {"before": None, "after": ends_on.isoformat()}},
    )


# Queries for browsing the tree.


@dataclass(frozen=True)
class UnitSummary:
    unit: OrgUnit
    schools: int
    students: int


def child_summaries(
    session: Session, unit: OrgUnit, principal, permission: str
) -> list[UnitSummary]:
    """Return the units right below `unit` that the principal reaches, with school and student counts.

    The counts cover the whole subtree of each child, in one grouped query.
    """
    from spets.services.scope import org_unit_clause

    children = list(
        session.scalars(
            select(OrgUnit)
            .where(OrgUnit.parent_id == unit.id, OrgUnit.is_active.is_(True))
            .order_by(OrgUnit.name_en)
        )
    )
    if not children:
        return []
    visible_ids = set(
        session.scalars(
            select(OrgUnit.id).where(
                OrgUnit.id.in_([c.id for c in children]), org_unit_clause(principal, permission)
            )
        )
    )
    children = [c for c in children if c.id in visible_ids]

    school = aliased(OrgUnit)
    counts: dict[int, tuple[int, int]] = {}
    for child in children:
        counts[child.id] = (0, 0)
    rows = session.execute(
        select(
            OrgUnit.id,
            func.count(func.distinct(school.id)),
            func.count(func.distinct(Student.id)),
        )
        .join(school, school.path.startswith(OrgUnit.path))
        .outerjoin(Student, Student.school_id == school.id)
        .where(OrgUnit.id.in_([c.id for c in children]), school.kind == OrgKind.SCHOOL)
        .group_by(OrgUnit.id)
    ).all()
    for unit_id, schools, students in rows:
        counts[unit_id] = (schools, students)
    return [UnitSummary(c, *counts[c.id]) for c in children]


@dataclass(frozen=True)
class SectionSummary:
    section: Section
    students: int


def sections_of_school(
    session: Session, school: OrgUnit, year_id: int | None, principal, permission: str
) -> list[SectionSummary]:
    """Return the school's sections in a year that the principal reaches, with current rolls."""
    from spets.services.scope import section_clause

    if year_id is None:
        return []
    roll = (
        select(func.count(Enrollment.id))
        .where(Enrollment.section_id == Section.id, Enrollment.ends_on.is_(None))
        .correlate(Section)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Section, roll)
        .options(selectinload(Section.class_teacher))
        .where(
            Section.school_id == school.id,
            Section.academic_year_id == year_id,
            section_clause(principal, permission),
        )
        .order_by(Section.grade, Section.name)
    ).all()
    return [SectionSummary(section, count) for section, count in rows]


def section_roll(session: Session, section: Section) -> list[tuple[Student, Enrollment]]:
    """Return the students now enrolled in a section, ordered by name."""
    rows = session.execute(
        select(Student, Enrollment)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .where(Enrollment.section_id == section.id, Enrollment.ends_on.is_(None))
        .order_by(Student.name_en, Student.id)
    )
    return [(student, enrollment) for student, enrollment in rows]


def teaching_of_section(
    session: Session, section: Section, today: date
) -> list[TeachingAssignment]:
    return list(
        session.scalars(
            select(TeachingAssignment)
            .options(
                selectinload(TeachingAssignment.subject), selectinload(TeachingAssignment.teacher)
            )
            .where(
                TeachingAssignment.section_id == section.id,
                TeachingAssignment.valid_from <= today,
                (TeachingAssignment.valid_to.is_(None)) | (TeachingAssignment.valid_to >= today),
            )
        )
    )


def staff_of_school(
    session: Session, school: OrgUnit, today: date, roles: Sequence[Role]
) -> list[User]:
    """Return users holding one of `roles` at the school today, for choosing a teacher."""
    return list(
        session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(
                RoleAssignment.org_unit_id == school.id,
                RoleAssignment.role.in_(list(roles)),
                RoleAssignment.valid_from <= today,
                (RoleAssignment.valid_to.is_(None)) | (RoleAssignment.valid_to >= today),
                User.is_active.is_(True),
            )
            .distinct()
            .order_by(User.display_name)
        )
    )


def subjects_of_tenant(session: Session, tenant_id: int, active_only: bool = True) -> list[Subject]:
    query = select(Subject).where(Subject.tenant_id == tenant_id)
    if active_only:
        query = query.where(Subject.is_active.is_(True))
    return list(session.scalars(query.order_by(Subject.name_en)))
