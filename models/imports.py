"""Import jobs, their staged rows and the problems found in them."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from spets.models.meta import Base
from spets.models.types import enum_type


class ImportStatus(enum.StrEnum):
    PENDING = "pending"
    VALIDATING = "validating"
    WRITING = "writing"
    FAILED = "failed"
    SUCCEEDED = "succeeded"


class ImportJob(Base):
    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), comment="What the file holds, e.g. students")
    school_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    academic_year_id: Mapped[int] = mapped_column(ForeignKey("academic_years.id"))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(255))
    status: Mapped[ImportStatus] = mapped_column(enum_type(ImportStatus, "import_status"))
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_written: Mapped[int] = mapped_column(default=0)
    problem_count: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ImportRow(Base):
    """A validated row waiting to be written; rows are deleted when the job ends."""

    __tablename__ = "import_rows"
    __table_args__ = (Index("ix_import_rows_job_row", "job_id", "row_number", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_jobs.id"))
    row_number: Mapped[int] = mapped_column(comment="Line or sheet row as the user sees it")
    admission_no: Mapped[str] = mapped_column(String(32))
    b_form: Mapped[str | None] = mapped_column(String(15))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class ImportProblem(Base):
    __tablename__ = "import_problems"
    __table_args__ = (Index("ix_import_problems_job_row", "job_id", "row_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_jobs.id"))
    row_number: Mapped[int]
    column: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(500))
    message: Mapped[str] = mapped_column(String(1000))
