"""The demo's health and well-being: facilities, screenings from WHO's sample survey, referrals.

Run after the demo school, its staff and its students exist (`demo.load`). The method
and the sources are in data/README.md ("Health of the demo"). In short:

- Multan's facilities are synthetic, clearly named "(demo)", and imported from
  data/health_facilities_demo.csv with the same import an administrator uses;
- every current student of the demo school gets the weight and height of a child of
  WHO's sample survey (Survey_WHO2007.csv) of the same sex and a similar age, and the
  z-scores are computed at the student's own age;
- referrals are raised from the flags; one was not acknowledged and has been escalated
  to the district health officer, one is closed with an outcome.
"""

import csv
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from spets.models import (
    CycleKind,
    Enrollment,
    Finding,
    Gender,
    OrgKind,
    OrgUnit,
    ReferralSource,
    Role,
    ScreeningInstrument,
    Section,
    Student,
    User,
)
from spets.services import (
    calendar,
    cycles,
    engine,
    facilities,
    growth,
    health,
    referrals,
    tasks,
    wellbeing,
)
from spets.services.audit import Actor

DATA = Path(__file__).parent / "data"
SURVEY = DATA / "Survey_WHO2007.csv"
FACILITIES = DATA / "health_facilities_demo.csv"
SEED = 20072
SYSTEM = Actor.system()

# A survey child of the same sex within this many months of a student's age may lend
# their measurements; among them the least used, then the nearest in age, is taken.
AGE_WINDOW_MONTHS = 12

# Shares of students with a finding in each check, drawn with the fixed seed.
VISION_SHARE = 0.08
DENTAL_SHARE = 0.05
SKIN_SHARE = 0.02


@dataclass
class HealthDemoSummary:
    accounts: list = field(default_factory=list)
    facilities: int = 0
    screenings: int = 0
    flagged: int = 0
    referrals: int = 0
    escalated_referral_id: int | None = None
    closed_referral_id: int | None = None
    urgent_referral_id: int | None = None


@dataclass(frozen=True)
class SurveyChild:
    id: int
    sex: int
    age_months: float
    weight_kg: Decimal
    height_cm: Decimal


def survey_children() -> list[SurveyChild]:
    """The survey's children with both a weight and a height."""
    children = []
    with SURVEY.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if not row["weight"] or not row["height"]:
                continue
            children.append(
                SurveyChild(
                    int(row["id"]),
                    int(row["sex"]),
                    float(row["agemons"]),
                    Decimal(row["weight"]),
                    Decimal(row["height"]),
                )
            )
    return children


def match_children(
    students: list[tuple[int, int, float]], children: list[SurveyChild]
) -> dict[int, SurveyChild]:
    """Give each (student id, sex code, age in months) a survey child's measurements.

    Same sex, within AGE_WINDOW_MONTHS (else the nearest in age), the least used first.
    """
    uses: dict[int, int] = {}
    matched = {}
    for student_id, sex, age in students:
        same_sex = [child for child in children if child.sex == sex]
        near = [c for c in same_sex if abs(c.age_months - age) <= AGE_WINDOW_MONTHS]
        pool = near or same_sex
        child = min(pool, key=lambda c: (uses.get(c.id, 0), abs(c.age_months - age), c.id))
        uses[child.id] = uses.get(child.id, 0) + 1
        matched[student_id] = child
    return matched


def _school_day_before(day: date, days: int) -> date:
    result = day - timedelta(days=days)
    while result.isoweekday() == 7:
        result -= timedelta(days=1)
    return result


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _make_accounts(session, tenant, school, district, now, summary) -> dict:
    from spets.demo.load import Names, _make_user, _person

    names = Names.load()
    rng = random.Random(SEED)
    valid_from = calendar.current_year(session, tenant.id, calendar.local_today(now)).starts_on
    made = {}
    for username, role, unit in (
        ("dho.multan", Role.DISTRICT_HEALTH_OFFICER, district),
        ("sho.multan", Role.SCHOOL_HEALTH_OFFICER, school),
        ("health.dhq", Role.HEALTH_STAFF, district),
    ):
        name = _person(
            names, rng, rng.choice([Gender.MALE, Gender.FEMALE]), rng.choice(names.family)
        )
        made[username] = _make_user(
            session, tenant, username, name, role, unit, now, valid_from, summary.accounts
        )
    return made


def _open_screening_tasks(session, school: OrgUnit, now: datetime) -> None:
    definition = cycles.definition_for(session, CycleKind.HEALTH_SCREENING, school)
    today = calendar.local_today(now, school.timezone)
    for period in cycles.due_periods(session, definition, today):
        run = cycles.open_run(session, definition, period, now)
        cycles.generate_tasks(session, run, [(school.id, school.path)], now)


def load_health(session: Session, now: datetime) -> HealthDemoSummary:
    """Add the demo's health data in the session's transaction; the caller commits.

    `demo.load.load_demo` calls this once. A second call raises RuntimeError, because the
    demo's health accounts and facilities would clash with those already there.
    """
    from spets.demo.load import DEMO_SCHOOL_CODE, TENANT_CODE

    if _user(session, "dho.multan") is not None:
        raise RuntimeError(
            "The demo's health data is already loaded (user dho.multan exists); "
            "start from a new database to load it again."
        )
    summary = HealthDemoSummary()
    tenant = session.scalar(
        select(OrgUnit).where(OrgUnit.kind == OrgKind.PROVINCE, OrgUnit.code == TENANT_CODE)
    )
    school = session.scalar(
        select(OrgUnit).where(OrgUnit.kind == OrgKind.SCHOOL, OrgUnit.code == DEMO_SCHOOL_CODE)
    )
    district = facilities.area_of(session, school, OrgKind.DISTRICT)

    health.add_default_definitions(session, tenant, actor=SYSTEM, now=now)
    wellbeing.load_default_instruments(session, actor=SYSTEM, now=now)
    imported = facilities.import_facilities(
        session, tenant, FACILITIES.read_bytes(), actor=SYSTEM, now=now
    )
    if not imported.ok:
        raise RuntimeError(f"the demo facility list has problems: {imported.problems}")
    summary.facilities = imported.created

    people = _make_accounts(session, tenant, school, district, now, summary)
    by_code = {f.code: f for f in facilities.list_facilities(session, tenant.id)}
    facilities.add_staff(
        session, by_code["DEMO-BHU-01"], _user(session, "health.multan"), actor=SYSTEM, now=now
    )
    for code in ("DEMO-DHQ-01", "DEMO-THQ-01"):
        facilities.add_staff(session, by_code[code], people["health.dhq"], actor=SYSTEM, now=now)

    _open_screening_tasks(session, school, now)
    screenings = _load_screenings(session, school, now, summary)
    _load_referrals(session, school, screenings, people, now, summary)
    _load_wellbeing(session, school, now, summary)
    return summary


def _current_students(session, school) -> list[tuple[Student, Section]]:
    return list(
        session.execute(
            select(Student, Section)
            .join(Enrollment, Enrollment.student_id == Student.id)
            .join(Section, Section.id == Enrollment.section_id)
            .where(Student.school_id == school.id, Enrollment.ends_on.is_(None))
            .order_by(Section.grade, Section.name, Student.admission_no)
        ).all()
    )


def _load_screenings(session, school, now, summary) -> list:
    """Screen every current student but those of the last section, which is still to do."""
    rng = random.Random(SEED)
    today = calendar.local_today(now, school.timezone)
    screened_on = _school_day_before(today, 21)
    rows = _current_students(session, school)
    last_section = rows[-1][1].id if rows else None
    rows = [(student, section) for student, section in rows if section.id != last_section]
    matched = match_children(
        [
            (s.id, growth.sex_code(s.gender), growth.age_in_months(s.date_of_birth, screened_on))
            for s, _section in rows
        ],
        survey_children(),
    )
    screenings = []
    for student, section in rows:
        child = matched[student.id]
        values = {
            "screened_on": screened_on,
            "height_cm": child.height_cm,
            "weight_kg": child.weight_kg,
            "vision_left": rng.choice(["6/12", "6/18", "6/24"])
            if rng.random() < VISION_SHARE
            else "6/6",
            "vision_right": "6/6" if rng.random() < 0.5 else "6/9",
            "hearing": Finding.NORMAL,
            "dental": Finding.REFER if rng.random() < DENTAL_SHARE else Finding.NORMAL,
            "skin": Finding.NEEDS_ATTENTION if rng.random() < SKIN_SHARE else Finding.NORMAL,
            "hygiene": Finding.NORMAL,
            "immunisation_card_seen": rng.random() > 0.1,
            "note": "",
        }
        screening = health.record_screening(
            session, student, values, actor=Actor(section.class_teacher_id), now=now
        )
        screenings.append(screening)
    summary.screenings = len(screenings)
    summary.flagged = sum(1 for s in screenings if health.screening_flags(s))
    return screenings


def _load_referrals(session, school, screenings, people, now, summary) -> None:
    """One escalated, one closed, a few in between; each from a screening flag."""
    thin = [s for s in screenings if set(s.classifications) & {"thinness", "severe_thinness"}]
    poor_vision = [s for s in screenings if s.vision_left in ("6/12", "6/18", "6/24")]
    head = tasks.role_holders(session, school, Role.HEAD_TEACHER, now)[0]
    staff = Actor(_user(session, "health.multan").id)

    def refer(screening, service, reason, at):
        referral = referrals.raise_referral(
            session,
            student=session.get(Student, screening.student_id),
            service=service,
            reason=reason,
            source=ReferralSource.SCREENING,
            screening_id=screening.id,
            actor=Actor(head.id),
            now=at,
        )
        summary.referrals += 1
        return referral

    if thin:
        # Raised three weeks ago and never acknowledged: the engine has escalated it.
        escalated = refer(
            thin[0], "nutrition", "Thinness at the yearly screening.", now - timedelta(days=20)
        )
        summary.escalated_referral_id = escalated.id
    if poor_vision:
        closed = refer(
            poor_vision[0],
            "vision",
            f"Vision {poor_vision[0].vision_left} in the left eye.",
            now - timedelta(days=19),
        )
        referrals.acknowledge(session, closed, actor=staff, now=now - timedelta(days=18))
        referrals.book(
            session,
            closed,
            (now - timedelta(days=12)).date(),
            actor=staff,
            now=now - timedelta(days=18),
        )
        referrals.record_seen(session, closed, actor=staff, now=now - timedelta(days=12))
        referrals.close(
            session,
            closed,
            "Glasses prescribed (-1.50 left). Seat the student near the board; check again in a year.",
            actor=staff,
            now=now - timedelta(days=12),
        )
        summary.closed_referral_id = closed.id
    for screening in thin[1:3]:
        referral = refer(
            screening, "nutrition", "Thinness at the yearly screening.", now - timedelta(days=2)
        )
        referrals.acknowledge(session, referral, actor=staff, now=now - timedelta(days=1))
    for screening in poor_vision[1:3]:
        refer(
            screening,
            "vision",
            f"Vision {screening.vision_left} in the left eye.",
            now - timedelta(days=1),
        )

    engine.sweep_escalations(session, now, [school.id])
    referrals.follow_up_escalations(session, now, [school.id])


def _load_wellbeing(session, school, now, summary) -> None:
    """Three observations and two questionnaires, one with its safety question answered."""
    rows = [(s, sec) for s, sec in _current_students(session, school) if sec.grade >= 9]
    if len(rows) < 4:
        return
    today = calendar.local_today(now, school.timezone)
    observations = (
        (rows[3], ["withdrawn", "sad"], 1, "Sits alone at break since the winter test."),
        (rows[10 % len(rows)], ["absent", "tired"], 1, "Absent on Mondays for a month."),
        (
            rows[20 % len(rows)],
            ["aggressive", "bullied"],
            2,
            "Fought twice this week after being teased.",
        ),
    )
    for (student, section), signs, concern, note in observations:
        wellbeing.record_observation(
            session,
            student,
            {
                "observed_on": _school_day_before(today, 3),
                "signs": signs,
                "concern_level": concern,
                "note": note,
            },
            actor=Actor(section.class_teacher_id),
            now=now,
        )
    counsellor = tasks.role_holders(session, school, Role.COUNSELLOR, now)[0]
    instruments = {i.code: i for i in session.scalars(select(ScreeningInstrument)).all()}
    answers = (
        (rows[3][0], instruments["PHQ-9"], [2, 2, 1, 2, 1, 2, 1, 0, 1]),
        (rows[5][0], instruments["GAD-7"], [1, 1, 1, 0, 1, 1, 0]),
    )
    for student, instrument, given in answers:
        result = wellbeing.record_response(
            session,
            student,
            instrument,
            language="en",
            answers=given,
            consent_by="Father (demo)",
            consent_on=_school_day_before(today, 4),
            answered_on=_school_day_before(today, 2),
            actor=Actor(counsellor.id),
            now=now,
        )
        if result.referral is not None:
            summary.urgent_referral_id = result.referral.id
            summary.referrals += 1
