"""Health records for the test world: facilities with staff, cycles, instruments and one of each record.

School A's student of 9-A (Ayesha) and school B's student of 9-A (Fatima) each get a
screening, a well-being observation and a referral, so the access tests can ask for
another school's, section's or facility's record.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from builders import SYSTEM, World

from spets.models import (
    FacilityKind,
    Finding,
    HealthFacility,
    HealthScreening,
    Referral,
    ReferralSource,
    Role,
    User,
    WellbeingObservation,
)
from spets.services import facilities, health, referrals, wellbeing
from spets.services.audit import Actor

ALL_SERVICES = [
    "general",
    "nutrition",
    "vision",
    "hearing",
    "dental",
    "skin",
    "mental_health",
    "immunisation",
]


@dataclass
class HealthWorld:
    world: World
    bhu_a: HealthFacility
    hospital_a: HealthFacility
    rhc_b: HealthFacility
    staff_bhu_a: User
    staff_hospital_a: User
    staff_b: User
    dho_a: User
    sho_a: User
    screening_a: HealthScreening
    screening_b: HealthScreening
    observation_a: WellbeingObservation
    observation_b: WellbeingObservation
    referral_a: Referral
    referral_b: Referral


def facility(world: World, code: str, kind, district, tehsil, services: list[str]):
    return facilities.save_facility(
        world.session,
        world.tenant,
        None,
        {
            "code": code,
            "name_en": f"Facility {code}",
            "name_ur": "مرکز صحت",
            "kind": kind,
            "district": district.code,
            "tehsil": tehsil.code if tehsil else "",
            "services": services,
            "phone": "+92619200123",
            "address": "Test address",
            "is_active": True,
        },
        version=None,
        actor=SYSTEM,
        now=world.now,
    )


def screening_values(**extra) -> dict:
    values = {
        "screened_on": date(2026, 11, 16),
        "height_cm": Decimal("140.0"),
        "weight_kg": Decimal("27.0"),
        "vision_left": "6/18",
        "vision_right": "6/6",
        "hearing": Finding.NORMAL,
        "dental": Finding.NORMAL,
        "skin": Finding.NORMAL,
        "hygiene": Finding.NORMAL,
        "immunisation_card_seen": True,
        "note": "",
    }
    values.update(extra)
    return values


def build_health(world: World) -> HealthWorld:
    session, now = world.session, world.now
    health.add_default_definitions(session, world.tenant, actor=SYSTEM, now=now)
    wellbeing.load_default_instruments(session, actor=SYSTEM, now=now)

    bhu_a = facility(
        world,
        "BHU-A",
        FacilityKind.BHU,
        world.district_a,
        world.tehsil_a,
        ["general", "nutrition", "vision", "immunisation"],
    )
    hospital_a = facility(world, "DHQ-A", FacilityKind.DHQ, world.district_a, None, ALL_SERVICES)
    rhc_b = facility(
        world, "RHC-B", FacilityKind.RHC, world.district_b, world.tehsil_b, ALL_SERVICES
    )

    staff_bhu_a = world.health_a
    staff_hospital_a = world.role("health.hosp", Role.HEALTH_STAFF, world.district_a)
    staff_b = world.role("health.b", Role.HEALTH_STAFF, world.district_b)
    dho_a = world.role("dho.a", Role.DISTRICT_HEALTH_OFFICER, world.district_a)
    sho_a = world.role("sho.a", Role.SCHOOL_HEALTH_OFFICER, world.school_a)
    for place, user in ((bhu_a, staff_bhu_a), (hospital_a, staff_hospital_a), (rhc_b, staff_b)):
        facilities.add_staff(session, place, user, actor=SYSTEM, now=now)

    class_teacher_b = world.teacher_b9
    screening_a = health.record_screening(
        session,
        world.student_a9,
        screening_values(),
        actor=Actor(world.class_teacher_a9.id),
        now=now,
    )
    screening_b = health.record_screening(
        session, world.student_b9, screening_values(), actor=Actor(class_teacher_b.id), now=now
    )
    observation_a = wellbeing.record_observation(
        session,
        world.student_a9,
        {
            "observed_on": date(2026, 12, 1),
            "signs": ["withdrawn"],
            "concern_level": 1,
            "note": "Quiet",
        },
        actor=Actor(world.subject_teacher_a9.id),
        now=now,
    )
    observation_b = wellbeing.record_observation(
        session,
        world.student_b9,
        {"observed_on": date(2026, 12, 1), "signs": ["sad"], "concern_level": 1, "note": ""},
        actor=Actor(class_teacher_b.id),
        now=now,
    )
    referral_a = referrals.raise_referral(
        session,
        student=world.student_a9,
        service="vision",
        reason="Vision 6/18 in the left eye at the yearly screening.",
        source=ReferralSource.SCREENING,
        screening_id=screening_a.id,
        actor=Actor(world.class_teacher_a9.id),
        now=now,
    )
    referral_b = referrals.raise_referral(
        session,
        student=world.student_b9,
        service="vision",
        reason="Vision 6/18 in the left eye at the yearly screening.",
        source=ReferralSource.SCREENING,
        screening_id=screening_b.id,
        actor=Actor(class_teacher_b.id),
        now=now,
    )
    session.flush()
    return HealthWorld(
        world,
        bhu_a,
        hospital_a,
        rhc_b,
        staff_bhu_a,
        staff_hospital_a,
        staff_b,
        dho_a,
        sho_a,
        screening_a,
        screening_b,
        observation_a,
        observation_b,
        referral_a,
        referral_b,
    )
