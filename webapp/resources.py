"""Route contexts: each loads one record and decides, through the scope rules, who reaches it.

A record outside the principal's scope answers 404, so its existence is not revealed.
A record the principal may see but not act on answers 403 for that action. An
anonymous visitor gets 403, which the forbidden view turns into the sign-in page.
"""

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound
from sqlalchemy import select

from spets.models import (
    AcademicYear,
    Amendment,
    CycleDefinition,
    DayOff,
    Enrollment,
    ExamWindow,
    FamilyMember,
    ImportJob,
    OrgKind,
    OrgUnit,
    Quarter,
    ResultSheet,
    RoleAssignment,
    Section,
    Student,
    StudentGuardian,
    Subject,
    Task,
    TeachingAssignment,
    User,
)
from spets.services.scope import Permission as P


class RootContext:
    """The context of pages that are not about one record: lists, searches, home."""

    def __init__(self, request):
        self.request = request


class RecordContext:
    """A record at `org_path` (and in `section_id`, for a student) with the caller's permissions."""

    view_permission: str = P.STUDENT_VIEW
    # Holding this permission (without `view_permission`) makes a denial 403 instead of 404.
    known_permission: str | None = None

    org_path: str
    section_id: int | None = None

    def __init__(self, request):
        self.request = request
        self.load(request)
        self.permissions = self._reach(request)

    def load(self, request) -> None:
        raise NotImplementedError

    def permissions_for(self, principal):
        return principal.permissions_at(self.org_path, self.section_id)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def _reach(self, request):
        principal = request.identity
        if principal is None:
            raise HTTPForbidden()
        permissions = self.permissions_for(principal)
        if self.view_permission in permissions:
            return permissions
        if self.known_permission and self.known_permission in permissions:
            raise HTTPForbidden()
        raise HTTPNotFound()


def _get_or_404(request, model, key: str):
    try:
        record_id = int(request.matchdict[key])
    except (KeyError, ValueError):
        raise HTTPNotFound() from None
    record = request.dbsession.get(model, record_id)
    if record is None:
        raise HTTPNotFound()
    return record


def _current_section_id(request, student_id: int) -> int | None:
    return request.dbsession.scalar(
        select(Enrollment.section_id).where(
            Enrollment.student_id == student_id, Enrollment.ends_on.is_(None)
        )
    )


class OrgUnitContext(RecordContext):
    view_permission = P.SCHOOL_VIEW

    def load(self, request):
        self.unit = _get_or_404(request, OrgUnit, "unit_id")
        self.org_path = self.unit.path


class SchoolContext(OrgUnitContext):
    def load(self, request):
        self.unit = self.school = _get_or_404(request, OrgUnit, "school_id")
        if self.school.kind != OrgKind.SCHOOL:
            raise HTTPNotFound()
        self.org_path = self.school.path

    def permissions_for(self, principal):
        permissions = principal.permissions_at(self.org_path)
        teaches_here = principal.taught_section_ids | principal.class_section_ids
        if teaches_here and P.SCHOOL_VIEW not in permissions:
            schools = self.request.dbsession.scalars(
                select(Section.school_id).where(Section.id.in_(teaches_here))
            ).all()
            if self.school.id in schools:
                permissions = permissions | {P.SCHOOL_VIEW}
        return permissions


class AdminOrgUnitContext(OrgUnitContext):
    view_permission = P.ORG_ADMIN


class SectionContext(RecordContext):
    view_permission = P.SECTION_VIEW

    def load(self, request):
        self.section = _get_or_404(request, Section, "section_id")
        self.school = self.section.school
        self.org_path = self.school.path
        self.section_id = self.section.id


class StudentContext(RecordContext):
    view_permission = P.STUDENT_VIEW

    def load(self, request):
        self.student = _get_or_404(request, Student, "student_id")
        self.org_path = self.student.school.path
        self.section_id = _current_section_id(request, self.student.id)


class _FamilyRecordContext(RecordContext):
    view_permission = P.FAMILY_VIEW
    known_permission = P.STUDENT_VIEW

    def _attach_student(self, request, student: Student) -> None:
        self.student = student
        self.org_path = student.school.path
        self.section_id = _current_section_id(request, student.id)


class GuardianLinkContext(_FamilyRecordContext):
    def load(self, request):
        self.link = _get_or_404(request, StudentGuardian, "link_id")
        self.guardian = self.link.guardian
        self._attach_student(request, self.link.student)


class FamilyMemberContext(_FamilyRecordContext):
    def load(self, request):
        self.member = _get_or_404(request, FamilyMember, "member_id")
        self._attach_student(request, self.member.student)


class _TenantRecordContext(RecordContext):
    """A record owned by a tenant as a whole: reached through a grant on the tenant's root."""

    def _attach_tenant(self, request, tenant_id: int) -> None:
        tenant = request.dbsession.get(OrgUnit, tenant_id)
        if tenant is None:
            raise HTTPNotFound()
        self.tenant = tenant
        self.org_path = tenant.path


class YearContext(_TenantRecordContext):
    view_permission = P.CALENDAR_VIEW

    def load(self, request):
        self.year = _get_or_404(request, AcademicYear, "year_id")
        self._attach_tenant(request, self.year.tenant_id)

    def permissions_for(self, principal):
        # Staff anywhere in the tenant may read its calendar; only grants at the root edit it.
        permissions = set(principal.permissions_at(self.org_path))
        if principal.tenant_id == self.tenant.id:
            permissions |= {P.CALENDAR_VIEW} & principal.permissions_anywhere()
            if P.CALENDAR_CLOSURE in principal.permissions_anywhere():
                permissions.add(P.CALENDAR_CLOSURE)
        return frozenset(permissions)


class QuarterContext(YearContext):
    def load(self, request):
        self.quarter = _get_or_404(request, Quarter, "quarter_id")
        self.year = self.quarter.academic_year
        self._attach_tenant(request, self.year.tenant_id)


class ExamWindowContext(YearContext):
    def load(self, request):
        self.window = _get_or_404(request, ExamWindow, "window_id")
        self.year = self.window.academic_year
        self._attach_tenant(request, self.year.tenant_id)


class DayOffContext(RecordContext):
    """A holiday or closure: editable by whoever holds the right over its org unit."""

    view_permission = P.CALENDAR_VIEW

    def load(self, request):
        self.day_off = _get_or_404(request, DayOff, "day_off_id")
        self.org_path = self.day_off.org_unit.path

    def permissions_for(self, principal):
        permissions = set(principal.permissions_at(self.org_path))
        tenant_id = self.day_off.org_unit.tenant_id or self.day_off.org_unit.id
        if principal.tenant_id == tenant_id:
            permissions |= {P.CALENDAR_VIEW} & principal.permissions_anywhere()
        return frozenset(permissions)


class UserContext(_TenantRecordContext):
    view_permission = P.USER_ADMIN

    def load(self, request):
        self.user = _get_or_404(request, User, "user_id")
        self._attach_tenant(request, self.user.tenant_id)


class RoleAssignmentContext(_TenantRecordContext):
    view_permission = P.USER_ADMIN

    def load(self, request):
        self.assignment = _get_or_404(request, RoleAssignment, "assignment_id")
        self.user = self.assignment.user
        self._attach_tenant(request, self.user.tenant_id)


class SubjectContext(_TenantRecordContext):
    view_permission = P.SUBJECT_ADMIN

    def load(self, request):
        self.subject = _get_or_404(request, Subject, "subject_id")
        self._attach_tenant(request, self.subject.tenant_id)


class TeachingAssignmentContext(RecordContext):
    view_permission = P.SECTION_VIEW

    def load(self, request):
        self.assignment = _get_or_404(request, TeachingAssignment, "assignment_id")
        self.section = self.assignment.section
        self.org_path = self.section.school.path
        self.section_id = self.section.id


class TaskContext(RecordContext):
    """A task: its assignee works on it; supervisors of its school see it and sign it off."""

    view_permission = P.TASK_VIEW

    def load(self, request):
        self.task = _get_or_404(request, Task, "task_id")
        self.org_path = self.task.school.path
        self.section_id = self.task.section_id

    def permissions_for(self, principal):
        permissions = set(principal.permissions_at(self.org_path))
        if principal.user_id == self.task.assignee_id:
            permissions |= {P.TASK_VIEW, P.TASK_WORK}
        return frozenset(permissions)


class ResultSheetContext(RecordContext):
    """A result sheet: its subject teacher enters marks; the section's viewers read it."""

    view_permission = P.RESULTS_VIEW

    def load(self, request):
        self.sheet = _get_or_404(request, ResultSheet, "sheet_id")
        self.section = self.sheet.section
        self.task = request.dbsession.get(Task, self.sheet.task_id) if self.sheet.task_id else None
        self.org_path = self.section.school.path
        self.section_id = self.section.id

    def permissions_for(self, principal):
        permissions = set(principal.permissions_at(self.org_path, self.section_id))
        if self.task is not None and principal.user_id == self.task.assignee_id:
            permissions |= {P.RESULTS_VIEW, P.TASK_WORK}
        return frozenset(permissions)


class AmendmentContext(ResultSheetContext):
    def load(self, request):
        self.amendment = _get_or_404(request, Amendment, "amendment_id")
        self.sheet = self.amendment.sheet
        self.section = self.sheet.section
        self.task = request.dbsession.get(Task, self.sheet.task_id) if self.sheet.task_id else None
        self.org_path = self.section.school.path
        self.section_id = self.section.id


class CycleDefinitionContext(_TenantRecordContext):
    view_permission = P.CYCLE_ADMIN

    def load(self, request):
        self.definition = _get_or_404(request, CycleDefinition, "definition_id")
        self.org_path = self.definition.org_unit.path

    def permissions_for(self, principal):
        return principal.permissions_at(self.org_path)


class ImportJobContext(RecordContext):
    view_permission = P.STUDENT_IMPORT

    def load(self, request):
        self.job = _get_or_404(request, ImportJob, "job_id")
        self.school = request.dbsession.get(OrgUnit, self.job.school_id)
        self.org_path = self.school.path
