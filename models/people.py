"""Users and their roles; students, guardians, family members and enrollments."""

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spets.models.meta import Base
from spets.models.org import OrgUnit, Section
from spets.models.types import enum_type


class Role(enum.StrEnum):
    TEACHER = "teacher"
    HEAD_TEACHER = "head_teacher"
    AEO = "aeo"
    DEO = "deo"
    CEO = "ceo"
    ADMIN = "admin"
    HEALTH_STAFF = "health_staff"
    SCHOOL_HEALTH_OFFICER = "school_health_officer"
    DISTRICT_HEALTH_OFFICER = "district_health_officer"
    COUNSELLOR = "counsellor"
    GUARDIAN = "guardian"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), comment="argon2id hash")
    display_name: Mapped[str] = mapped_column(String(200))
    display_name_ur: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str] = mapped_column(String(8), default="en")
    phone: Mapped[str | None] = mapped_column(String(16), comment="E.164, e.g. +923001234567")
    email: Mapped[str | None] = mapped_column(String(254))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    tenant: Mapped[OrgUnit] = relationship()
    role_assignments: Mapped[list["RoleAssignment"]] = relationship(
        back_populates="user",
        foreign_keys="RoleAssignment.user_id",
        order_by="RoleAssignment.valid_from",
    )

    def name(self, locale: str) -> str:
        return (
            self.display_name_ur if locale == "ur" and self.display_name_ur else self.display_name
        )


class RoleAssignment(Base):
    """A role that a user holds over an org unit and everything below it, for a period."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_from <= valid_to", name="valid_period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    valid_from: Mapped[date]
    valid_to: Mapped[date | None] = mapped_column(comment="Last day the role holds; NULL: open")
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(back_populates="role_assignments", foreign_keys=[user_id])
    org_unit: Mapped[OrgUnit] = relationship()

    def is_valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class LoginThrottle(Base):
    """Failed attempts counted per key (a username or a client address) within a window."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class Gender(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"


class HomeArea(enum.StrEnum):
    URBAN = "urban"
    RURAL = "rural"


class ParentsStatus(enum.StrEnum):
    TOGETHER = "together"
    APART = "apart"
    FATHER_DECEASED = "father_deceased"
    MOTHER_DECEASED = "mother_deceased"
    BOTH_DECEASED = "both_deceased"


class Student(Base):
    """A student's identity and background. Where they study is kept in `Enrollment`."""

    __tablename__ = "students"
    __table_args__ = (
        UniqueConstraint("school_id", "admission_no"),
        Index(
            "uq_students_tenant_b_form",
            "tenant_id",
            "b_form",
            unique=True,
            postgresql_where=text("b_form IS NOT NULL"),
            sqlite_where=text("b_form IS NOT NULL"),
        ),
        Index("ix_students_name_en", "name_en"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    school_id: Mapped[int] = mapped_column(
        ForeignKey("org_units.id"),
        index=True,
        comment="School that holds the record: the current one, or the last before leaving",
    )
    admission_no: Mapped[str] = mapped_column(String(32))
    b_form: Mapped[str | None] = mapped_column(
        String(15), comment="NADRA child registration number, #####-#######-#"
    )
    name_en: Mapped[str] = mapped_column(String(200))
    name_ur: Mapped[str] = mapped_column(String(200))
    father_name_en: Mapped[str] = mapped_column(String(200))
    father_name_ur: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date]
    gender: Mapped[Gender] = mapped_column(enum_type(Gender, "gender"))
    home_area: Mapped[HomeArea | None] = mapped_column(enum_type(HomeArea, "home_area"))
    household_size: Mapped[int | None] = mapped_column(comment="People living in the household")
    parents_status: Mapped[ParentsStatus | None] = mapped_column(
        enum_type(ParentsStatus, "parents_status")
    )
    travel_time_band: Mapped[int | None] = mapped_column(
        comment="Home to school: 1 under 15 min, 2 up to 30 min, 3 up to 1 h, 4 over 1 h"
    )
    study_time_band: Mapped[int | None] = mapped_column(
        comment="Weekly self-study: 1 under 2 h, 2 up to 5 h, 3 up to 10 h, 4 over 10 h"
    )
    past_failures: Mapped[int | None] = mapped_column(comment="Classes failed before")
    receives_extra_support: Mapped[bool | None] = mapped_column(comment="Extra help at school")
    family_support: Mapped[bool | None] = mapped_column(comment="Family helps with studies")
    paid_tuition: Mapped[bool | None] = mapped_column(comment="Paid private tuition")
    extracurricular: Mapped[bool | None]
    attended_preschool: Mapped[bool | None]
    wants_higher_education: Mapped[bool | None]
    internet_at_home: Mapped[bool | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    school: Mapped[OrgUnit] = relationship(foreign_keys=[school_id])
    enrollments: Mapped[list["Enrollment"]] = relationship(
        back_populates="student", order_by="Enrollment.starts_on.desc()"
    )
    guardian_links: Mapped[list["StudentGuardian"]] = relationship(back_populates="student")
    family_members: Mapped[list["FamilyMember"]] = relationship(back_populates="student")

    def name(self, locale: str) -> str:
        return self.name_ur if locale == "ur" and self.name_ur else self.name_en


class Relation(enum.StrEnum):
    FATHER = "father"
    MOTHER = "mother"
    GRANDFATHER = "grandfather"
    GRANDMOTHER = "grandmother"
    BROTHER = "brother"
    SISTER = "sister"
    UNCLE = "uncle"
    AUNT = "aunt"
    OTHER = "other"


class Education(enum.StrEnum):
    NONE = "none"
    PRIMARY = "primary"
    MIDDLE = "middle"
    MATRIC = "matric"
    INTERMEDIATE = "intermediate"
    BACHELOR = "bachelor"
    MASTER = "master"
    DOCTORATE = "doctorate"


class Occupation(enum.StrEnum):
    HOMEMAKER = "homemaker"
    TEACHER = "teacher"
    HEALTH_WORKER = "health_worker"
    GOVERNMENT_SERVICE = "government_service"
    PRIVATE_JOB = "private_job"
    BUSINESS = "business"
    FARMER = "farmer"
    LABOURER = "labourer"
    OVERSEAS = "overseas"
    UNEMPLOYED = "unemployed"
    STUDENT = "student"
    OTHER = "other"


class IncomeBand(enum.StrEnum):
    """Monthly income in Pakistani rupees."""

    NONE = "none"
    BELOW_25K = "below_25k"
    FROM_25K_TO_50K = "25k_50k"
    FROM_50K_TO_100K = "50k_100k"
    FROM_100K_TO_200K = "100k_200k"
    ABOVE_200K = "above_200k"


class Guardian(Base):
    """A parent or guardian: one person, who may be linked to children in several schools."""

    __tablename__ = "guardians"
    __table_args__ = (
        Index(
            "uq_guardians_tenant_cnic",
            "tenant_id",
            "cnic",
            unique=True,
            postgresql_where=text("cnic IS NOT NULL"),
            sqlite_where=text("cnic IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_ur: Mapped[str] = mapped_column(String(200))
    cnic: Mapped[str | None] = mapped_column(String(15), comment="#####-#######-#")
    phone: Mapped[str | None] = mapped_column(String(16), comment="E.164, e.g. +923001234567")
    email: Mapped[str | None] = mapped_column(String(254))
    education: Mapped[Education | None] = mapped_column(enum_type(Education, "education"))
    occupation: Mapped[Occupation | None] = mapped_column(enum_type(Occupation, "occupation"))
    income_band: Mapped[IncomeBand | None] = mapped_column(
        enum_type(IncomeBand, "income_band"), comment="Finance: own permission, reads audited"
    )
    bisp_beneficiary: Mapped[bool | None] = mapped_column(
        comment="Finance: enrolled in the Benazir Income Support Programme"
    )
    preferred_locale: Mapped[str] = mapped_column(String(8), default="ur")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    student_links: Mapped[list["StudentGuardian"]] = relationship(back_populates="guardian")

    def name(self, locale: str) -> str:
        return self.name_ur if locale == "ur" and self.name_ur else self.name_en


class StudentGuardian(Base):
    __tablename__ = "student_guardians"
    __table_args__ = (UniqueConstraint("student_id", "guardian_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), index=True)
    relation: Mapped[Relation] = mapped_column(enum_type(Relation, "relation"))
    is_primary: Mapped[bool] = mapped_column(
        default=False, comment="The guardian the school contacts first"
    )

    student: Mapped[Student] = relationship(back_populates="guardian_links")
    guardian: Mapped[Guardian] = relationship(back_populates="student_links")


class FamilyMember(Base):
    """Someone in the student's family who is not a linked guardian: a sibling, a grandparent."""

    __tablename__ = "family_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    relation: Mapped[Relation] = mapped_column(enum_type(Relation, "relation"))
    name_en: Mapped[str] = mapped_column(String(200))
    name_ur: Mapped[str] = mapped_column(String(200), default="")
    date_of_birth: Mapped[date | None]
    cnic: Mapped[str | None] = mapped_column(String(15))
    phone: Mapped[str | None] = mapped_column(String(16))
    education: Mapped[Education | None] = mapped_column(enum_type(Education, "education"))
    occupation: Mapped[Occupation | None] = mapped_column(enum_type(Occupation, "occupation"))
    income_band: Mapped[IncomeBand | None] = mapped_column(
        enum_type(IncomeBand, "income_band"), comment="Finance: own permission, reads audited"
    )
    lives_in_household: Mapped[bool] = mapped_column(default=True)
    sibling_school_name: Mapped[str | None] = mapped_column(
        String(200), comment="For a sibling: the school attended, if any"
    )
    sibling_grade: Mapped[str | None] = mapped_column(String(32), comment="For a sibling: class")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    student: Mapped[Student] = relationship(back_populates="family_members")

    def name(self, locale: str) -> str:
        return self.name_ur if locale == "ur" and self.name_ur else self.name_en


class EnrollmentStartReason(enum.StrEnum):
    ADMISSION = "admission"
    PROMOTION = "promotion"
    TRANSFER_IN = "transfer_in"
    SECTION_CHANGE = "section_change"


class EnrollmentEndReason(enum.StrEnum):
    TRANSFER_OUT = "transfer_out"
    PROMOTION = "promotion"
    SECTION_CHANGE = "section_change"
    LEFT = "left"
    GRADUATED = "graduated"


class Enrollment(Base):
    """A student's place in a section from one day to another. Transfers add rows, never edit."""

    __tablename__ = "enrollments"
    __table_args__ = (
        Index(
            "uq_enrollments_open_per_student",
            "student_id",
            unique=True,
            postgresql_where=text("ends_on IS NULL"),
            sqlite_where=text("ends_on IS NULL"),
        ),
        Index("ix_enrollments_section_open", "section_id", "ends_on"),
        CheckConstraint("ends_on IS NULL OR starts_on <= ends_on", name="valid_period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None] = mapped_column(comment="Last day in the section; NULL: current")
    start_reason: Mapped[EnrollmentStartReason] = mapped_column(
        enum_type(EnrollmentStartReason, "enrollment_start_reason")
    )
    end_reason: Mapped[EnrollmentEndReason | None] = mapped_column(
        enum_type(EnrollmentEndReason, "enrollment_end_reason")
    )
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    student: Mapped[Student] = relationship(back_populates="enrollments")
    section: Mapped[Section] = relationship()
