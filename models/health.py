"""Health and well-being: screenings, well-being observations and screening instruments.

This is the most sensitive data of SPeTS: every read is audited, and well-being records
are visible only to health staff, the school counsellor and the head teacher.
"""

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spets.models.meta import Base
from spets.models.people import Student
from spets.models.types import enum_type


class Finding(enum.StrEnum):
    NORMAL = "normal"
    NEEDS_ATTENTION = "needs_attention"
    REFER = "refer"
    NOT_CHECKED = "not_checked"


class HealthScreening(Base):
    """One screening of one student: measurements with their WHO 2007 z-scores, and checks."""

    __tablename__ = "health_screenings"
    __table_args__ = (
        Index("ix_health_screenings_student_day", "student_id", "screened_on"),
        CheckConstraint("height_cm IS NULL OR height_cm BETWEEN 50 AND 250", name="height_range"),
        CheckConstraint("weight_kg IS NULL OR weight_kg BETWEEN 5 AND 250", name="weight_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    screened_on: Mapped[date]
    age_months: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    height_cm: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    bmi: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    bmi_for_age_z: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    height_for_age_z: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    weight_for_age_z: Mapped[Decimal | None] = mapped_column(
        Numeric(5, 2), comment="Up to 10 years only"
    )
    classifications: Mapped[list[str]] = mapped_column(
        JSON, default=list, comment="e.g. thinness, stunting"
    )
    implausible: Mapped[list[str]] = mapped_column(
        JSON, default=list, comment="z-scores WHO flags as implausible"
    )
    vision_left: Mapped[str] = mapped_column(String(16), default="", comment="e.g. 6/6")
    vision_right: Mapped[str] = mapped_column(String(16), default="")
    hearing: Mapped[Finding] = mapped_column(
        enum_type(Finding, "hearing_finding"), default=Finding.NOT_CHECKED
    )
    dental: Mapped[Finding] = mapped_column(
        enum_type(Finding, "dental_finding"), default=Finding.NOT_CHECKED
    )
    skin: Mapped[Finding] = mapped_column(
        enum_type(Finding, "skin_finding"), default=Finding.NOT_CHECKED
    )
    hygiene: Mapped[Finding] = mapped_column(
        enum_type(Finding, "hygiene_finding"), default=Finding.NOT_CHECKED
    )
    immunisation_card_seen: Mapped[bool | None]
    note: Mapped[str] = mapped_column(Text, default="")
    share_with_guardian: Mapped[bool] = mapped_column(
        default=False, comment="Health staff chose to share"
    )
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    student: Mapped[Student] = relationship()


class WellbeingObservation(Base):
    """A teacher's observation checklist for one student (withdrawal, sadness, aggression …)."""

    __tablename__ = "wellbeing_observations"
    __table_args__ = (Index("ix_wellbeing_observations_student_day", "student_id", "observed_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    observed_on: Mapped[date]
    signs: Mapped[list[str]] = mapped_column(JSON, comment="Codes of the checklist items seen")
    concern_level: Mapped[int] = mapped_column(default=0, comment="0 none, 1 watch, 2 refer")
    note: Mapped[str] = mapped_column(Text, default="")
    observer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]


class ScreeningInstrument(Base):
    """A validated questionnaire held as data: items, answer scale, scoring bands, safety items.

    `items` maps each language code to its item texts; a language missing from it has no
    validated translation and is not offered.
    """

    __tablename__ = "screening_instruments"
    __table_args__ = (UniqueConstraint("code", "version_label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), comment="e.g. PHQ-9")
    version_label: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(
        Text, comment="Authors, licence and where the text comes from"
    )
    instructions: Mapped[dict[str, str]] = mapped_column(
        JSON,
        default=dict,
        server_default=text("'{}'"),
        comment="The question put before the items, per language",
    )
    items: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    scale: Mapped[dict[str, list[dict[str, Any]]]] = mapped_column(
        JSON, comment="Answer labels and scores per language"
    )
    bands: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, comment="Score ranges and their meaning"
    )
    safety_items: Mapped[list[int]] = mapped_column(
        JSON, comment="Item positions (from 0) that raise an urgent referral"
    )
    missing_languages: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict, comment="Why a language is not offered"
    )
    min_grade: Mapped[int] = mapped_column(default=9)
    is_active: Mapped[bool] = mapped_column(default=True)


class InstrumentResponse(Base):
    __tablename__ = "instrument_responses"
    __table_args__ = (Index("ix_instrument_responses_student", "student_id", "answered_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("screening_instruments.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    answers: Mapped[list[int]] = mapped_column(JSON)
    score: Mapped[int]
    band: Mapped[str] = mapped_column(String(64))
    safety_positive: Mapped[bool]
    guardian_consent_by: Mapped[str] = mapped_column(
        String(200), comment="Who consented for the child"
    )
    guardian_consent_on: Mapped[date]
    answered_on: Mapped[date]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]

    instrument: Mapped[ScreeningInstrument] = relationship()


class FacilityKind(enum.StrEnum):
    BHU = "bhu"
    RHC = "rhc"
    THQ = "thq_hospital"
    DHQ = "dhq_hospital"
    MCH = "mch_centre"
    DISPENSARY = "dispensary"
    OTHER = "other"


class HealthFacility(Base):
    """A health facility of a district: where referrals go."""

    __tablename__ = "health_facilities"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name_en: Mapped[str] = mapped_column(String(200))
    name_ur: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[FacilityKind] = mapped_column(enum_type(FacilityKind, "facility_kind"))
    district_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    tehsil_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    services: Mapped[list[str]] = mapped_column(
        JSON, comment="Service codes, e.g. vision, dental, mental_health"
    )
    phone: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(300), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    def name(self, locale: str) -> str:
        return self.name_ur if locale == "ur" and self.name_ur else self.name_en


class FacilityStaff(Base):
    """Health staff who work at a facility: they see its referral queue and nothing else."""

    __tablename__ = "facility_staff"
    __table_args__ = (UniqueConstraint("facility_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("health_facilities.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)


class ReferralState(enum.StrEnum):
    RAISED = "raised"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    APPOINTMENT = "appointment"
    SEEN = "seen"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class ReferralSource(enum.StrEnum):
    SCREENING = "screening"
    TEACHER = "teacher"
    HEALTH_STAFF = "health_staff"
    WELLBEING_SAFETY = "wellbeing_safety"


class Referral(Base):
    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_facility_state", "facility_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("health_facilities.id"))
    service: Mapped[str] = mapped_column(String(32), comment="The service needed, e.g. vision")
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[ReferralSource] = mapped_column(enum_type(ReferralSource, "referral_source"))
    urgent: Mapped[bool] = mapped_column(default=False)
    state: Mapped[ReferralState] = mapped_column(enum_type(ReferralState, "referral_state"))
    screening_id: Mapped[int | None] = mapped_column(ForeignKey("health_screenings.id"))
    response_id: Mapped[int | None] = mapped_column(ForeignKey("instrument_responses.id"))
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id"), comment="The follow-up on the engine"
    )
    acknowledged_at: Mapped[datetime | None]
    appointment_on: Mapped[date | None]
    seen_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(Text, default="")
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    escalations: Mapped[int] = mapped_column(default=0, comment="Times re-sent after a missed step")
    fhir_id: Mapped[str] = mapped_column(
        String(64), default="", comment="ServiceRequest id at the department"
    )
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    raised_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    student: Mapped[Student] = relationship()
    facility: Mapped[HealthFacility] = relationship()


class ReferralEscalation(Base):
    """One escalation level of a referral's follow-up task, handled once.

    The engine records the level on the task; the referral follow-up then checks the
    referral's state at that moment and re-sends it only if the facility is still
    behind. The unique key makes a re-run after a crash handle no level twice.
    """

    __tablename__ = "referral_escalations"
    __table_args__ = (UniqueConstraint("referral_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    level: Mapped[int]
    state_at_firing: Mapped[ReferralState] = mapped_column(
        enum_type(ReferralState, "referral_escalation_state"),
        comment="The referral's state when the level was handled",
    )
    resent: Mapped[bool] = mapped_column(comment="False: the step was done by then, so no re-send")
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), comment="The district health officer told, if any"
    )
    fired_at: Mapped[datetime]
