"""The org tree (province to school, or a private network), sections, subjects and teaching."""

import enum
from datetime import date

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spets.models.meta import Base
from spets.models.types import enum_type


class OrgKind(enum.StrEnum):
    PROVINCE = "province"
    DIVISION = "division"
    DISTRICT = "district"
    TEHSIL = "tehsil"
    MARKAZ = "markaz"
    SCHOOL = "school"
    NETWORK = "network"
    REGION = "region"


# Which kinds may sit directly under which. A kind mapped to an empty set is a root
# (a tenant): the government province, or a private school network.
ALLOWED_PARENT_KINDS: dict[OrgKind, frozenset[OrgKind]] = {
    OrgKind.PROVINCE: frozenset(),
    OrgKind.NETWORK: frozenset(),
    OrgKind.DIVISION: frozenset({OrgKind.PROVINCE}),
    OrgKind.DISTRICT: frozenset({OrgKind.DIVISION}),
    OrgKind.TEHSIL: frozenset({OrgKind.DISTRICT}),
    OrgKind.MARKAZ: frozenset({OrgKind.TEHSIL}),
    OrgKind.REGION: frozenset({OrgKind.NETWORK}),
    OrgKind.SCHOOL: frozenset({OrgKind.MARKAZ, OrgKind.TEHSIL, OrgKind.NETWORK, OrgKind.REGION}),
}


class SchoolLevel(enum.StrEnum):
    PRIMARY = "primary"
    MIDDLE = "middle"
    HIGH = "high"
    HIGHER_SECONDARY = "higher_secondary"


class SchoolGender(enum.StrEnum):
    BOYS = "boys"
    GIRLS = "girls"
    MIXED = "mixed"


class OrgUnit(Base):
    """A node of the org tree. `path` lists the ids from the root, e.g. ``/1/4/9/``."""

    __tablename__ = "org_units"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "code"),
        Index(
            "ix_org_units_path_prefix",
            "path",
            postgresql_ops={"path": "text_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrgKind] = mapped_column(enum_type(OrgKind, "org_kind"))
    code: Mapped[str] = mapped_column(
        String(32), comment="Department code; for a school, its EMIS code"
    )
    name_en: Mapped[str] = mapped_column(String(200))
    name_ur: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_units.id"), index=True, comment="Root of this unit's tree; NULL on a root"
    )
    path: Mapped[str] = mapped_column(String(400), comment="Ids from the root, '/1/4/9/'")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Karachi")
    school_level: Mapped[SchoolLevel | None] = mapped_column(enum_type(SchoolLevel, "school_level"))
    school_gender: Mapped[SchoolGender | None] = mapped_column(
        enum_type(SchoolGender, "school_gender")
    )
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    parent: Mapped["OrgUnit | None"] = relationship(
        remote_side=[id], foreign_keys=[parent_id], back_populates="children"
    )
    children: Mapped[list["OrgUnit"]] = relationship(
        foreign_keys=[parent_id], back_populates="parent", order_by="OrgUnit.name_en"
    )

    @property
    def is_root(self) -> bool:
        return self.parent_id is None

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to this unit, this unit included."""
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def name(self, locale: str) -> str:
        return self.name_ur if locale == "ur" and self.name_ur else self.name_en


class Section(Base):
    """A class section of one school in one academic year, such as grade 9 section B."""

    __tablename__ = "sections"
    __table_args__ = (UniqueConstraint("school_id", "academic_year_id", "grade", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    academic_year_id: Mapped[int] = mapped_column(ForeignKey("academic_years.id"), index=True)
    grade: Mapped[int] = mapped_column(comment="0 is kachi (early years), then 1 to 12")
    name: Mapped[str] = mapped_column(String(16))
    class_teacher_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    school: Mapped[OrgUnit] = relationship()
    academic_year: Mapped["AcademicYear"] = relationship()  # noqa: F821
    class_teacher: Mapped["User | None"] = relationship()  # noqa: F821
    teaching_assignments: Mapped[list["TeachingAssignment"]] = relationship(
        back_populates="section"
    )

    @property
    def label(self) -> str:
        return f"{self.grade}-{self.name}"


class Subject(Base):
    """A subject of a tenant's catalogue, named in English and Urdu."""

    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name_en: Mapped[str] = mapped_column(String(120))
    name_ur: Mapped[str] = mapped_column(String(120))
    is_core: Mapped[bool] = mapped_column(
        default=False, comment="Core subjects count for promotion and early warnings"
    )
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    def name(self, locale: str) -> str:
        return self.name_ur if locale == "ur" and self.name_ur else self.name_en


class TeachingAssignment(Base):
    """A teacher teaching one subject to one section, from a date until replaced."""

    __tablename__ = "teaching_assignments"
    __table_args__ = (
        Index(
            "uq_teaching_assignments_current",
            "section_id",
            "subject_id",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
            sqlite_where=text("valid_to IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]

    section: Mapped[Section] = relationship(back_populates="teaching_assignments")
    subject: Mapped[Subject] = relationship()
    teacher: Mapped["User"] = relationship()  # noqa: F821
