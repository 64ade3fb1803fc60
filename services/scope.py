"""Who may reach what: the one scope function behind every list, search, export and page.

A principal holds grants (a role over an org unit and its subtree) and, as a teacher,
sections. Permissions come from two tables: what a role grants over its subtree, and
what teaching or being class teacher of a section grants over that section's students.
`permissions_at` answers for one record; the `*_clause` functions turn the same rules
into SQL so lists never load what the user may not see.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    exists,
    false,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from spets.models import (
    AcademicYear,
    Enrollment,
    OrgUnit,
    Role,
    RoleAssignment,
    Section,
    Student,
    TeachingAssignment,
    User,
)


class Permission:
    SCHOOL_VIEW = "school.view"
    SECTION_VIEW = "section.view"
    SECTION_MANAGE = "section.manage"
    STUDENT_VIEW = "student.view"
    STUDENT_CREATE = "student.create"
    STUDENT_EDIT = "student.edit"
    STUDENT_TRANSFER = "student.transfer"
    STUDENT_EXPORT = "student.export"
    STUDENT_IMPORT = "student.import"
    FAMILY_VIEW = "family.view"
    FAMILY_EDIT = "family.edit"
    FAMILY_FINANCE_VIEW = "family_finance.view"
    FAMILY_FINANCE_EDIT = "family_finance.edit"
    CALENDAR_VIEW = "calendar.view"
    CALENDAR_CLOSURE = "calendar.closure"
    CALENDAR_ADMIN = "admin.calendar"
    ORG_ADMIN = "admin.org"
    USER_ADMIN = "admin.users"
    SUBJECT_ADMIN = "admin.subjects"
    AUDIT_VIEW = "audit.view"
    ACCOUNT = "account"
    TASK_VIEW = "task.view"
    TASK_WORK = "task.work"
    TASK_SIGNOFF = "task.signoff"
    CYCLE_ADMIN = "admin.cycles"
    FEEDBACK_CATALOGUE = "admin.feedback_catalogue"
    FEEDBACK_OVERVIEW = "feedback.overview"
    RESULTS_VIEW = "results.view"
    RESULTS_ADMIN = "admin.results"
    # Attendance, behaviour, early warnings and intervention plans.
    ATTENDANCE_VIEW = "attendance.view"
    ATTENDANCE_MARK = "attendance.mark"
    ATTENDANCE_OPTIONS = "attendance.options"
    BEHAVIOUR_RUBRIC = "behaviour.rubric"
    INCIDENT_RECORD = "behaviour.incident"
    FLAGS_LIST = "flags.list"
    PLAN_MANAGE = "plans.manage"
    WARNING_SETTINGS = "admin.warnings"
    # Health and well-being: their own permissions, every read audited.
    HEALTH_VIEW = "health.view"
    HEALTH_RECORD = "health.record"
    WELLBEING_OBSERVE = "wellbeing.observe"
    WELLBEING_VIEW = "wellbeing.view"
    REFERRAL_RAISE = "referral.raise"
    REFERRAL_VIEW = "referral.view"
    REFERRAL_OVERSEE = "referral.oversee"
    FACILITY_ADMIN = "admin.facilities"
    # Parents: accounts, messages and parent–teacher meetings.
    GUARDIAN_INVITE = "guardian.invite"
    GUARDIAN_MESSAGE = "guardian.message"
    SECTION_BROADCAST = "section.broadcast"
    CORRECTION_DECIDE = "correction.decide"
    PTM_MANAGE = "ptm.manage"
    PTM_SLOTS = "ptm.slots"
    PORTAL = "portal"


P = Permission

_STAFF = frozenset({P.ACCOUNT, P.CALENDAR_VIEW})

_SCHOOL_RECORDS = frozenset(
    {
        P.SCHOOL_VIEW,
        P.SECTION_VIEW,
        P.SECTION_MANAGE,
        P.STUDENT_VIEW,
        P.STUDENT_CREATE,
        P.STUDENT_EDIT,
        P.STUDENT_TRANSFER,
        P.STUDENT_EXPORT,
        P.STUDENT_IMPORT,
        P.FAMILY_VIEW,
        P.FAMILY_EDIT,
        P.ATTENDANCE_VIEW,
        P.ATTENDANCE_MARK,
        P.BEHAVIOUR_RUBRIC,
        P.INCIDENT_RECORD,
        P.FLAGS_LIST,
        P.PLAN_MANAGE,
        P.GUARDIAN_INVITE,
        P.GUARDIAN_MESSAGE,
        P.SECTION_BROADCAST,
        P.CORRECTION_DECIDE,
        P.PTM_MANAGE,
        P.PTM_SLOTS,
    }
)

_MONITORING = frozenset(
    {
        P.SCHOOL_VIEW,
        P.SECTION_VIEW,
        P.STUDENT_VIEW,
        P.STUDENT_EXPORT,
        P.CALENDAR_CLOSURE,
        P.TASK_VIEW,
        P.FEEDBACK_OVERVIEW,
        P.RESULTS_VIEW,
        P.ATTENDANCE_VIEW,
        P.FLAGS_LIST,
    }
)

# What a role grants over its org unit and everything below it.
ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.TEACHER: _STAFF | {P.SCHOOL_VIEW},
    Role.HEAD_TEACHER: _STAFF
    | _SCHOOL_RECORDS
    | {
        P.FAMILY_FINANCE_VIEW,
        P.FAMILY_FINANCE_EDIT,
        P.CALENDAR_CLOSURE,
        P.AUDIT_VIEW,
        P.TASK_VIEW,
        P.TASK_SIGNOFF,
        P.FEEDBACK_OVERVIEW,
        P.RESULTS_VIEW,
        P.ATTENDANCE_OPTIONS,
        P.HEALTH_VIEW,
        P.HEALTH_RECORD,
        P.WELLBEING_OBSERVE,
        P.WELLBEING_VIEW,
        P.REFERRAL_RAISE,
        P.REFERRAL_VIEW,
    },
    Role.AEO: _STAFF | _MONITORING,
    Role.DEO: _STAFF | _MONITORING,
    Role.CEO: _STAFF | _MONITORING | {P.AUDIT_VIEW},
    Role.ADMIN: _STAFF
    | _SCHOOL_RECORDS
    | {
        P.ORG_ADMIN,
        P.USER_ADMIN,
        P.CALENDAR_ADMIN,
        P.CALENDAR_CLOSURE,
        P.SUBJECT_ADMIN,
        P.AUDIT_VIEW,
        P.TASK_VIEW,
        P.CYCLE_ADMIN,
        P.FEEDBACK_CATALOGUE,
        P.FEEDBACK_OVERVIEW,
        P.RESULTS_VIEW,
        P.RESULTS_ADMIN,
        P.ATTENDANCE_OPTIONS,
        P.WARNING_SETTINGS,
        P.FACILITY_ADMIN,
    },
    # Health staff of a facility reach students only through the referrals sent to it,
    # which the referral domain checks; they hold nothing over schools.
    Role.HEALTH_STAFF: _STAFF,
    # A school health officer screens and refers the school's students and reads their
    # well-being records.
    Role.SCHOOL_HEALTH_OFFICER: _STAFF
    | {
        P.STUDENT_VIEW,
        P.HEALTH_VIEW,
        P.HEALTH_RECORD,
        P.WELLBEING_VIEW,
        P.REFERRAL_RAISE,
        P.REFERRAL_VIEW,
    },
    Role.DISTRICT_HEALTH_OFFICER: _STAFF | {P.REFERRAL_OVERSEE, P.TASK_VIEW},
    Role.COUNSELLOR: _STAFF
    | {P.STUDENT_VIEW, P.WELLBEING_OBSERVE, P.WELLBEING_VIEW, P.REFERRAL_RAISE, P.REFERRAL_VIEW},
    # Guardians reach only their own children, through their guardian account.
    Role.GUARDIAN: frozenset({P.ACCOUNT, P.PORTAL}),
}

# What a teacher holds over the students of a section they teach.
SUBJECT_TEACHER_PERMISSIONS = frozenset(
    {
        P.SECTION_VIEW,
        P.STUDENT_VIEW,
        P.RESULTS_VIEW,
        P.ATTENDANCE_VIEW,
        P.INCIDENT_RECORD,
        P.WELLBEING_OBSERVE,
        P.GUARDIAN_MESSAGE,
        P.SECTION_BROADCAST,
        P.PTM_SLOTS,
    }
)

# What the class teacher holds over their own section: the whole record, family included.
CLASS_TEACHER_PERMISSIONS = SUBJECT_TEACHER_PERMISSIONS | frozenset(
    {
        P.STUDENT_EDIT,
        P.FAMILY_VIEW,
        P.FAMILY_EDIT,
        P.ATTENDANCE_MARK,
        P.BEHAVIOUR_RUBRIC,
        P.FLAGS_LIST,
        P.PLAN_MANAGE,
        P.HEALTH_VIEW,
        P.HEALTH_RECORD,
        P.REFERRAL_RAISE,
        P.REFERRAL_VIEW,
        P.CORRECTION_DECIDE,
    }
)

# Roles a user may hold on each kind of org unit.
ROLE_ORG_KINDS: dict[Role, frozenset[str]] = {
    Role.TEACHER: frozenset({"school"}),
    Role.HEAD_TEACHER: frozenset({"school"}),
    Role.COUNSELLOR: frozenset({"school"}),
    Role.AEO: frozenset({"markaz"}),
    Role.DEO: frozenset({"tehsil", "district"}),
    Role.CEO: frozenset({"district", "division", "province", "network", "region"}),
    Role.ADMIN: frozenset({"province", "network"}),
    Role.HEALTH_STAFF: frozenset({"district", "tehsil", "markaz", "school"}),
    Role.DISTRICT_HEALTH_OFFICER: frozenset({"district"}),
    Role.SCHOOL_HEALTH_OFFICER: frozenset({"school"}),
    Role.GUARDIAN: frozenset({"province", "network"}),
}


@dataclass(frozen=True)
class Grant:
    role: Role
    org_unit_id: int
    org_path: str

    def covers(self, org_path: str) -> bool:
        return org_path.startswith(self.org_path)


@dataclass(frozen=True)
class Principal:
    """The signed-in user with the grants and sections valid today."""

    user_id: int
    tenant_id: int
    username: str
    display_name: str
    locale: str
    grants: tuple[Grant, ...]
    taught_section_ids: frozenset[int] = frozenset()
    class_section_ids: frozenset[int] = frozenset()
    roles: frozenset[Role] = field(default=frozenset())

    def permissions_at(self, org_path: str, section_id: int | None = None) -> frozenset[str]:
        """Return the permissions over a record at `org_path`, in `section_id` if given."""
        permissions: set[str] = set()
        for grant in self.grants:
            if grant.covers(org_path):
                permissions |= ROLE_PERMISSIONS[grant.role]
        if section_id is not None:
            permissions |= self.section_permissions(section_id)
        return frozenset(permissions)

    def section_permissions(self, section_id: int) -> frozenset[str]:
        permissions: set[str] = set()
        if section_id in self.taught_section_ids:
            permissions |= SUBJECT_TEACHER_PERMISSIONS
        if section_id in self.class_section_ids:
            permissions |= CLASS_TEACHER_PERMISSIONS
        return frozenset(permissions)

    def permissions_anywhere(self) -> frozenset[str]:
        """Return every permission the user holds somewhere: this decides which menus show."""
        permissions: set[str] = set()
        for grant in self.grants:
            permissions |= ROLE_PERMISSIONS[grant.role]
        if self.taught_section_ids:
            permissions |= SUBJECT_TEACHER_PERMISSIONS
        if self.class_section_ids:
            permissions |= CLASS_TEACHER_PERMISSIONS
        return frozenset(permissions)

    def paths_with(self, permission: str) -> list[str]:
        return [g.org_path for g in self.grants if permission in ROLE_PERMISSIONS[g.role]]

    def sections_with(self, permission: str) -> frozenset[int]:
        sections: set[int] = set()
        if permission in SUBJECT_TEACHER_PERMISSIONS:
            sections |= self.taught_section_ids
        if permission in CLASS_TEACHER_PERMISSIONS:
            sections |= self.class_section_ids
        return frozenset(sections)

    @property
    def tenant_grant_paths(self) -> list[str]:
        return [g.org_path for g in self.grants]


# The kinds of row `load_principal` reads in its one statement.
_USER_ROW, _GRANT_ROW, _TAUGHT_ROW, _CLASS_ROW = 0, 1, 2, 3


def _grant_valid_on(user_id, today) -> list[ColumnElement[bool]]:
    """Conditions on `RoleAssignment` joined to `OrgUnit`: the user's grants in force on `today`."""
    return [
        RoleAssignment.user_id == user_id,
        RoleAssignment.valid_from <= today,
        or_(RoleAssignment.valid_to.is_(None), RoleAssignment.valid_to >= today),
        OrgUnit.is_active.is_(True),
    ]


def holds_role_permission(user_id, today, permission: str) -> ColumnElement[bool]:
    """SQL test that the user has `permission` through a role granted on an active unit.

    Section-level rights (taught and class sections) are not counted: this is for
    permissions only roles give, such as the guardian's portal.
    """
    roles = [role for role, granted in ROLE_PERMISSIONS.items() if permission in granted]
    return exists(
        select(RoleAssignment.id)
        .join(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
        .where(*_grant_valid_on(user_id, today), RoleAssignment.role.in_(roles))
    )


@functools.cache
def _principal_statement():
    """Build one UNION ALL over the account, its grants and its sections valid on `today`.

    Every request loads the principal, so it is one round trip, not four. Each row is
    (kind, number, text, detail, locale). The account row carries the tenant id, the user
    name, the display name and the language. A grant row carries the org unit's id, its
    path and the role, and a section row the section id. Built once: the values are the bound
    parameters `user_id` and `today`.
    """
    user_id = bindparam("user_id", type_=Integer)
    today = bindparam("today", type_=Date)
    current_year = and_(AcademicYear.starts_on <= today, AcademicYear.ends_on >= today)
    account = select(
        literal(_USER_ROW).label("kind"),
        User.tenant_id.label("number"),
        User.username.label("text"),
        User.display_name.label("detail"),
        User.locale.label("locale"),
    ).where(User.id == user_id, User.is_active.is_(True))
    grants = (
        select(
            literal(_GRANT_ROW),
            OrgUnit.id,
            OrgUnit.path,
            cast(RoleAssignment.role, String),
            null(),
        )
        .join(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
        .where(*_grant_valid_on(user_id, today))
    )
    taught = (
        select(literal(_TAUGHT_ROW), TeachingAssignment.section_id, null(), null(), null())
        .join(Section, Section.id == TeachingAssignment.section_id)
        .join(AcademicYear, AcademicYear.id == Section.academic_year_id)
        .where(
            TeachingAssignment.teacher_id == user_id,
            TeachingAssignment.valid_from <= today,
            or_(TeachingAssignment.valid_to.is_(None), TeachingAssignment.valid_to >= today),
            current_year,
        )
    )
    class_sections = (
        select(literal(_CLASS_ROW), Section.id, null(), null(), null())
        .join(AcademicYear, AcademicYear.id == Section.academic_year_id)
        .where(Section.class_teacher_id == user_id, current_year)
    )
    return union_all(account, grants, taught, class_sections)


def load_principal(session: Session, user_id: int, today: date) -> Principal | None:
    """Return the principal for an active user, or None for an unknown or disabled one."""
    rows = session.execute(_principal_statement(), {"user_id": user_id, "today": today}).all()
    account = next((row for row in rows if row.kind == _USER_ROW), None)
    if account is None:
        return None

    grants = tuple(
        Grant(Role(row.detail), row.number, row.text) for row in rows if row.kind == _GRANT_ROW
    )
    return Principal(
        user_id=user_id,
        tenant_id=account.number,
        username=account.text,
        display_name=account.detail,
        locale=account.locale,
        grants=grants,
        taught_section_ids=frozenset(r.number for r in rows if r.kind == _TAUGHT_ROW),
        class_section_ids=frozenset(r.number for r in rows if r.kind == _CLASS_ROW),
        roles=frozenset(g.role for g in grants),
    )


def _path_clause(column, paths: Iterable[str]) -> ColumnElement[bool]:
    conditions = [column.startswith(path, autoescape=True) for path in paths]
    return or_(*conditions) if conditions else false()


def org_unit_clause(principal: Principal, permission: str) -> ColumnElement[bool]:
    """SQL condition on `OrgUnit` rows where the principal holds `permission`."""
    conditions = [_path_clause(OrgUnit.path, principal.paths_with(permission))]
    sections = principal.sections_with(permission)
    if permission == P.SCHOOL_VIEW:
        sections = principal.taught_section_ids | principal.class_section_ids
    if sections:
        conditions.append(OrgUnit.id.in_(select(Section.school_id).where(Section.id.in_(sections))))
    return or_(*conditions)


def section_clause(principal: Principal, permission: str) -> ColumnElement[bool]:
    """SQL condition on `Section` rows where the principal holds `permission`."""
    conditions: list[ColumnElement[bool]] = []
    paths = principal.paths_with(permission)
    if paths:
        conditions.append(
            Section.school_id.in_(select(OrgUnit.id).where(_path_clause(OrgUnit.path, paths)))
        )
    sections = principal.sections_with(permission)
    if sections:
        conditions.append(Section.id.in_(sections))
    return or_(*conditions) if conditions else false()


def student_clause(principal: Principal, permission: str) -> ColumnElement[bool]:
    """SQL condition on `Student` rows where the principal holds `permission`.

    Org-level grants reach the students whose record is held by a school in the
    granted subtree; section-level rights reach the students currently enrolled in
    the section.
    """
    conditions: list[ColumnElement[bool]] = []
    paths = principal.paths_with(permission)
    if paths:
        conditions.append(
            Student.school_id.in_(select(OrgUnit.id).where(_path_clause(OrgUnit.path, paths)))
        )
    sections = principal.sections_with(permission)
    if sections:
        # An alias, so the subquery still works inside queries that join Enrollment themselves.
        enrollment = aliased(Enrollment)
        conditions.append(
            exists().where(
                enrollment.student_id == Student.id,
                enrollment.ends_on.is_(None),
                enrollment.section_id.in_(sections),
            )
        )
    return or_(*conditions) if conditions else false()
