"""SQLAlchemy models, one module per domain. This package imports no other layer."""

from sqlalchemy.orm import configure_mappers

from spets.models.audit import AuditAction, AuditEvent
from spets.models.calendar import AcademicYear, DayOff, DayOffKind, ExamKind, ExamWindow, Quarter
from spets.models.imports import ImportJob, ImportProblem, ImportRow, ImportStatus
from spets.models.meta import Base
from spets.models.org import (
    ALLOWED_PARENT_KINDS,
    OrgKind,
    OrgUnit,
    SchoolGender,
    SchoolLevel,
    Section,
    Subject,
    TeachingAssignment,
)
from spets.models.people import (
    Education,
    Enrollment,
    EnrollmentEndReason,
    EnrollmentStartReason,
    FamilyMember,
    Gender,
    Guardian,
    HomeArea,
    IncomeBand,
    LoginThrottle,
    Occupation,
    ParentsStatus,
    Relation,
    Role,
    RoleAssignment,
    Student,
    StudentGuardian,
    User,
)

configure_mappers()

__all__ = [
    "ALLOWED_PARENT_KINDS",
    "AcademicYear",
    "AuditAction",
    "AuditEvent",
    "Base",
    "DayOff",
    "DayOffKind",
    "Education",
    "Enrollment",
    "EnrollmentEndReason",
    "EnrollmentStartReason",
    "ExamKind",
    "ExamWindow",
    "FamilyMember",
    "Gender",
    "Guardian",
    "HomeArea",
    "ImportJob",
    "ImportProblem",
    "ImportRow",
    "ImportStatus",
    "IncomeBand",
    "LoginThrottle",
    "Occupation",
    "OrgKind",
    "OrgUnit",
    "ParentsStatus",
    "Quarter",
    "Relation",
    "Role",
    "RoleAssignment",
    "SchoolGender",
    "SchoolLevel",
    "Section",
    "Student",
    "StudentGuardian",
    "Subject",
    "TeachingAssignment",
    "User",
]
