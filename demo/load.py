"""Load the demo: South Punjab's org tree, one higher secondary school in Multan with the
649 students of the UCI Student Performance data (Portuguese course), and staff accounts
for every role. The mapping from the UCI columns is documented in data/README.md.
"""

import csv
import random
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from spets.demo.attendance import load_attendance
from spets.demo.engine import load_current_quarter
from spets.demo.feedback import load_feedback
from spets.demo.health import load_health
from spets.demo.parents import load_parents
from spets.demo.results import load_results
from spets.models import (
    DayOffKind,
    Education,
    ExamKind,
    Gender,
    HomeArea,
    Occupation,
    OrgKind,
    OrgUnit,
    ParentsStatus,
    Relation,
    Role,
    SchoolGender,
    SchoolLevel,
    Section,
    Subject,
)
from spets.services import calendar, org, people, users
from spets.services.audit import Actor
from spets.services.starter import add_starter_subjects

DATA = Path(__file__).parent / "data"
TENANT_CODE = "PB"
DEMO_SCHOOL_CODE = "DEMO0001"
SECOND_SCHOOL_CODE = "DEMO0002"
SECTION_SIZE = 55
SEED = 20081
SYSTEM = Actor.system()

UCI_EDUCATION = {
    "0": Education.NONE,
    "1": Education.PRIMARY,
    "2": Education.MIDDLE,
    "3": Education.INTERMEDIATE,
    "4": Education.BACHELOR,
}
UCI_JOB = {
    "teacher": Occupation.TEACHER,
    "health": Occupation.HEALTH_WORKER,
    "services": Occupation.GOVERNMENT_SERVICE,
    "at_home": Occupation.HOMEMAKER,
    "other": Occupation.OTHER,
}
SIBLING_SCHOOLS = (
    "Govt. Primary School Qasim Bela",
    "Govt. Girls Elementary School Gulgasht",
    "Govt. Boys High School Mumtazabad",
    "Govt. Girls High School Shah Rukn-e-Alam",
)

# Subjects taught in grades 9-12 (the sciences group), and who teaches what.
GRADE_SUBJECTS = {
    9: ("URDU", "ENG", "MATH", "PHY", "CHEM", "BIO", "ISL"),
    10: ("URDU", "ENG", "MATH", "PHY", "CHEM", "BIO", "PAKST"),
    11: ("URDU", "ENG", "MATH", "PHY", "CHEM", "CS", "ISL"),
    12: ("URDU", "ENG", "MATH", "PHY", "CHEM", "CS", "PAKST"),
}


@dataclass
class Names:
    male: list[tuple[str, str]] = field(default_factory=list)
    female: list[tuple[str, str]] = field(default_factory=list)
    family: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def load(cls) -> "Names":
        names = cls()
        with (DATA / "names.csv").open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                getattr(names, row["kind"]).append((row["name_en"], row["name_ur"]))
        return names


@dataclass
class Account:
    username: str
    password: str
    role: str
    where: str


@dataclass
class DemoSummary:
    students: int
    accounts: list[Account]
    school_id: int
    feedback: object = None
    engine: object = None
    results: object = None
    attendance: object = None
    health: object = None
    parents: object = None


def is_loaded(session: Session) -> bool:
    return (
        session.scalar(
            select(OrgUnit.id).where(OrgUnit.kind == OrgKind.PROVINCE, OrgUnit.code == TENANT_CODE)
        )
        is not None
    )


def load_demo(session: Session, now: datetime) -> DemoSummary:
    """Create the whole demo in the session's transaction; the caller commits."""
    summary = load_base(session, now)
    _load_domains(session, now, summary)
    return summary


def load_base(session: Session, now: datetime) -> DemoSummary:
    """The org tree, calendars, staff, students, feedback and the engine's current quarter.

    Tests of one domain start from this and add only their own loader.
    """
    rng = random.Random(SEED)
    names = Names.load()
    today = calendar.local_today(now)

    units = _load_org_tree(session, now)
    tenant = units[TENANT_CODE]
    school = org.create_unit(
        session,
        parent=units["MKZ-MLT-CITY-1"],
        kind=OrgKind.SCHOOL,
        code=DEMO_SCHOOL_CODE,
        name_en="Government Higher Secondary School (Demo), Multan",
        name_ur="گورنمنٹ ہائر سیکنڈری اسکول (ڈیمو)، ملتان",
        actor=SYSTEM,
        now=now,
        school_level=SchoolLevel.HIGHER_SECONDARY,
        school_gender=SchoolGender.MIXED,
    )
    second_school = org.create_unit(
        session,
        parent=units["MKZ-KWL-1"],
        kind=OrgKind.SCHOOL,
        code=SECOND_SCHOOL_CODE,
        name_en="Government High School (Demo), Khanewal",
        name_ur="گورنمنٹ ہائی اسکول (ڈیمو)، خانیوال",
        actor=SYSTEM,
        now=now,
        school_level=SchoolLevel.HIGH,
        school_gender=SchoolGender.BOYS,
    )
    subjects = {s.code: s for s in add_starter_subjects(session, tenant, actor=SYSTEM, now=now)}

    start_year = calendar.start_year_of(today)
    previous_year = _make_year(session, tenant, start_year - 1, now)
    current_year = _make_year(session, tenant, start_year, now)

    accounts, teachers = _make_staff(
        session, tenant, units, school, second_school, names, rng, now, current_year.starts_on
    )
    students = _load_students(
        session, school, previous_year, current_year, teachers, names, rng, now
    )
    _assign_teaching(session, school, current_year, subjects, teachers, now)
    _make_second_school_sections(session, second_school, current_year, now)
    session.flush()
    feedback_summary = load_feedback(session, now)
    engine_summary = load_current_quarter(session, now)
    return DemoSummary(
        students=students,
        accounts=accounts,
        school_id=school.id,
        feedback=feedback_summary,
        engine=engine_summary,
    )


def _load_domains(session: Session, now: datetime, summary: DemoSummary) -> None:
    """Add marks, attendance, health and parents; each step reads what the one before wrote."""
    summary.results = load_results(session, now)
    summary.attendance = load_attendance(session, now)
    summary.health = load_health(session, now)
    summary.accounts += summary.health.accounts
    summary.parents = load_parents(session, now)
    summary.accounts += summary.parents.accounts


def _load_org_tree(session: Session, now: datetime) -> dict[str, OrgUnit]:
    units: dict[str, OrgUnit] = {}
    with (DATA / "south_punjab.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            units[row["code"]] = org.create_unit(
                session,
                parent=units.get(row["parent_code"]) if row["parent_code"] else None,
                kind=OrgKind(row["kind"]),
                code=row["code"],
                name_en=row["name_en"],
                name_ur=row["name_ur"],
                actor=SYSTEM,
                now=now,
            )
    return units


def _make_year(session: Session, tenant: OrgUnit, start_year: int, now: datetime):
    """An academic year with Punjab's usual vacations and exam windows (dates are typical, not notified)."""
    year = calendar.create_year(session, tenant, start_year, actor=SYSTEM, now=now)
    vacations = (
        (
            "Summer vacation",
            "موسمِ گرما کی تعطیلات",
            date(start_year, 6, 1),
            date(start_year, 8, 14),
        ),
        (
            "Winter vacation",
            "موسمِ سرما کی تعطیلات",
            date(start_year, 12, 22),
            date(start_year, 12, 31),
        ),
    )
    for name_en, name_ur, first, last in vacations:
        calendar.save_day_off(
            session,
            None,
            {
                "kind": DayOffKind.VACATION,
                "name_en": name_en,
                "name_ur": name_ur,
                "starts_on": first,
                "ends_on": last,
                "org_unit_id": tenant.id,
            },
            version=None,
            actor=SYSTEM,
            now=now,
        )
    windows = (
        (
            ExamKind.MONTHLY_ASSESSMENT,
            "Monthly assessment (May)",
            "ماہانہ جائزہ (مئی)",
            date(start_year, 5, 25),
            date(start_year, 5, 30),
        ),
        (
            ExamKind.MONTHLY_ASSESSMENT,
            "Monthly assessment (September)",
            "ماہانہ جائزہ (ستمبر)",
            date(start_year, 9, 24),
            date(start_year, 9, 30),
        ),
        (
            ExamKind.MONTHLY_ASSESSMENT,
            "Monthly assessment (October)",
            "ماہانہ جائزہ (اکتوبر)",
            date(start_year, 10, 26),
            date(start_year, 10, 31),
        ),
        (
            ExamKind.DECEMBER_TEST,
            "December test",
            "دسمبر ٹیسٹ",
            date(start_year, 12, 7),
            date(start_year, 12, 19),
        ),
        (
            ExamKind.MONTHLY_ASSESSMENT,
            "Monthly assessment (February)",
            "ماہانہ جائزہ (فروری)",
            date(start_year + 1, 2, 16),
            date(start_year + 1, 2, 21),
        ),
        (
            ExamKind.ANNUAL_EXAM,
            "Annual exam",
            "سالانہ امتحان",
            date(start_year + 1, 3, 2),
            date(start_year + 1, 3, 20),
        ),
    )
    for kind, name_en, name_ur, first, last in windows:
        calendar.save_exam_window(
            session,
            year,
            None,
            {
                "kind": kind,
                "name_en": name_en,
                "name_ur": name_ur,
                "starts_on": first,
                "ends_on": last,
            },
            version=None,
            actor=SYSTEM,
            now=now,
        )
    return year


def _person(
    names: Names, rng: random.Random, gender: Gender, family: tuple[str, str]
) -> tuple[str, str]:
    first = rng.choice(names.male if gender == Gender.MALE else names.female)
    return f"{first[0]} {family[0]}", f"{first[1]} {family[1]}"


def _make_user(session, tenant, username, name, role, unit, now, valid_from, accounts) -> object:
    password = secrets.token_urlsafe(9)
    user = users.create_user(
        session,
        tenant_id=tenant.id,
        values={
            "username": username,
            "display_name": name[0],
            "display_name_ur": name[1],
            "locale": "en",
        },
        password=password,
        actor=SYSTEM,
        now=now,
    )
    users.assign_role(
        session,
        user=user,
        role=role,
        org_unit=unit,
        valid_from=valid_from,
        valid_to=None,
        actor=SYSTEM,
        now=now,
    )
    accounts.append(Account(username, password, role.value, unit.name_en))
    return user


def _make_staff(session, tenant, units, school, second_school, names, rng, now, valid_from):
    accounts: list[Account] = []

    def make(username, gender, role, unit):
        name = _person(names, rng, gender, rng.choice(names.family))
        return _make_user(session, tenant, username, name, role, unit, now, valid_from, accounts)

    make("admin", Gender.MALE, Role.ADMIN, tenant)
    make("ceo.multan", Gender.MALE, Role.CEO, units["DST-MLT"])
    make("deo.multan", Gender.FEMALE, Role.DEO, units["DST-MLT"])
    make("aeo.multan", Gender.MALE, Role.AEO, units["MKZ-MLT-CITY-1"])
    make("head.multan", Gender.FEMALE, Role.HEAD_TEACHER, school)
    make("counsellor.multan", Gender.FEMALE, Role.COUNSELLOR, school)
    make("health.multan", Gender.MALE, Role.HEALTH_STAFF, units["DST-MLT"])
    make("head.khanewal", Gender.MALE, Role.HEAD_TEACHER, second_school)

    # Two teachers per subject: one for grades 9-10 and one for grades 11-12.
    teachers = {}
    for code in sorted({c for codes in GRADE_SUBJECTS.values() for c in codes}):
        for band in ("lower", "upper"):
            username = f"teacher.{code.lower()}.{band}"
            teachers[(code, band)] = make(
                username, rng.choice([Gender.MALE, Gender.FEMALE]), Role.TEACHER, school
            )
    return accounts, teachers


def _grade_for_age(age: int) -> int:
    return min(max(age - 6, 9), 12)


def _birth_date(rng: random.Random, age: int, on: date) -> date:
    """A birth date at which the student is `age` years old on the day `on`."""
    latest = date(on.year - age, on.month, on.day)
    return latest - timedelta(days=rng.randrange(0, 365))


def _load_students(session, school, previous_year, current_year, teachers, names, rng, now) -> int:
    with (DATA / "student-por.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))

    by_grade: dict[int, list[dict]] = {}
    for row in rows:
        by_grade.setdefault(_grade_for_age(int(row["age"])), []).append(row)

    class_teachers = iter(sorted(teachers.values(), key=lambda user: user.username))
    admission = 1000
    for grade in sorted(by_grade):
        grade_rows = by_grade[grade]
        count = -(-len(grade_rows) // SECTION_SIZE)
        sections = [
            org.create_section(
                session,
                school=school,
                year=current_year,
                grade=grade,
                name=chr(ord("A") + i),
                class_teacher_id=next(class_teachers).id,
                actor=SYSTEM,
                now=now,
            )
            for i in range(count)
        ]
        earlier = []
        if grade > 9:
            earlier = [
                org.create_section(
                    session,
                    school=school,
                    year=previous_year,
                    grade=grade - 1,
                    name=chr(ord("A") + i),
                    class_teacher_id=None,
                    actor=SYSTEM,
                    now=now,
                )
                for i in range(count)
            ]
        for position, row in enumerate(grade_rows):
            admission += 1
            section_index = position * count // len(grade_rows)
            _add_student(
                session,
                row,
                str(admission),
                sections[section_index],
                earlier[section_index] if earlier else None,
                current_year,
                names,
                rng,
                now,
            )
    return len(rows)


def _add_student(session, row, admission_no, section, earlier_section, year, names, rng, now):
    gender = Gender.FEMALE if row["sex"] == "F" else Gender.MALE
    family = rng.choice(names.family)
    name_en, name_ur = _person(names, rng, gender, family)
    father_en, father_ur = _person(names, rng, Gender.MALE, family)
    mother_en, mother_ur = _person(names, rng, Gender.FEMALE, rng.choice(names.family))
    household_size = 3 if row["famsize"] == "LE3" else 4 + rng.randrange(0, 6)

    values = {
        "admission_no": admission_no,
        "b_form": _synthetic_cnic(rng, "3630"),
        "name_en": name_en,
        "name_ur": name_ur,
        "father_name_en": father_en,
        "father_name_ur": father_ur,
        "date_of_birth": _birth_date(rng, int(row["age"]), year.starts_on),
        "gender": gender,
        "home_area": HomeArea.URBAN if row["address"] == "U" else HomeArea.RURAL,
        "travel_time_band": int(row["traveltime"]),
        "study_time_band": int(row["studytime"]),
        "past_failures": int(row["failures"]),
        "receives_extra_support": row["schoolsup"] == "yes",
        "paid_tuition": row["paid"] == "yes",
        "extracurricular": row["activities"] == "yes",
        "attended_preschool": row["nursery"] == "yes",
        "wants_higher_education": row["higher"] == "yes",
        "internet_at_home": row["internet"] == "yes",
    }
    first_section = earlier_section or section
    student = people.admit_student(
        session,
        section=first_section,
        values=values,
        admitted_on=first_section.academic_year.starts_on,
        actor=SYSTEM,
        now=now,
    )
    if earlier_section is not None:
        people.promote(session, student, section, year.starts_on, actor=SYSTEM, now=now)
    student.household_size = household_size
    student.parents_status = (
        ParentsStatus.TOGETHER if row["Pstatus"] == "T" else ParentsStatus.APART
    )
    student.family_support = row["famsup"] == "yes"

    primary = row["guardian"]
    father = {
        "name_en": father_en,
        "name_ur": father_ur,
        "cnic": _synthetic_cnic(rng, "3630"),
        "phone": _synthetic_phone(rng),
        "education": UCI_EDUCATION[row["Fedu"]],
        "occupation": UCI_JOB[row["Fjob"]],
        "preferred_locale": "ur",
        "relation": Relation.FATHER,
        "is_primary": primary == "father",
    }
    mother = {
        "name_en": mother_en,
        "name_ur": mother_ur,
        "cnic": _synthetic_cnic(rng, "3630"),
        "phone": _synthetic_phone(rng),
        "education": UCI_EDUCATION[row["Medu"]],
        "occupation": UCI_JOB[row["Mjob"]],
        "preferred_locale": "ur",
        "relation": Relation.MOTHER,
        "is_primary": primary == "mother",
    }
    people.add_guardian(session, student, father, actor=SYSTEM, now=now)
    people.add_guardian(session, student, mother, actor=SYSTEM, now=now)
    if primary == "other":
        relation = rng.choice(
            [Relation.UNCLE, Relation.GRANDFATHER, Relation.AUNT, Relation.GRANDMOTHER]
        )
        gender_of = (
            Gender.MALE if relation in (Relation.UNCLE, Relation.GRANDFATHER) else Gender.FEMALE
        )
        other_en, other_ur = _person(names, rng, gender_of, family)
        people.add_guardian(
            session,
            student,
            {
                "name_en": other_en,
                "name_ur": other_ur,
                "cnic": _synthetic_cnic(rng, "3630"),
                "phone": _synthetic_phone(rng),
                "preferred_locale": "ur",
                "relation": relation,
                "is_primary": True,
            },
            actor=SYSTEM,
            now=now,
        )

    for _sibling in range(max(0, min(household_size - 3, 2))):
        sibling_gender = rng.choice([Gender.MALE, Gender.FEMALE])
        sibling_en, sibling_ur = _person(names, rng, sibling_gender, family)
        people.save_family_member(
            session,
            student,
            None,
            {
                "relation": Relation.BROTHER if sibling_gender == Gender.MALE else Relation.SISTER,
                "name_en": sibling_en,
                "name_ur": sibling_ur,
                "education": Education.PRIMARY,
                "occupation": Occupation.STUDENT,
                "lives_in_household": True,
                "sibling_school_name": rng.choice(SIBLING_SCHOOLS),
                "sibling_grade": str(rng.randrange(1, 9)),
            },
            version=None,
            actor=SYSTEM,
            now=now,
        )


def _synthetic_cnic(rng: random.Random, prefix: str) -> str:
    digits = prefix + "".join(str(rng.randrange(10)) for _ in range(13 - len(prefix)))
    return f"{digits[:5]}-{digits[5:12]}-{digits[12]}"


def _synthetic_phone(rng: random.Random) -> str:
    return "+923" + "".join(str(rng.randrange(10)) for _ in range(9))


def _assign_teaching(session, school, year, subjects: dict[str, Subject], teachers, now):
    sections = session.scalars(
        select(Section).where(Section.school_id == school.id, Section.academic_year_id == year.id)
    ).all()
    for section in sections:
        band = "lower" if section.grade <= 10 else "upper"
        for code in GRADE_SUBJECTS[section.grade]:
            org.assign_teacher(
                session,
                section=section,
                subject=subjects[code],
                teacher=teachers[(code, band)],
                starts_on=year.starts_on,
                actor=SYSTEM,
                now=now,
            )


def _make_second_school_sections(session, school, year, now):
    for grade in (9, 10):
        org.create_section(
            session,
            school=school,
            year=year,
            grade=grade,
            name="A",
            class_teacher_id=None,
            actor=SYSTEM,
            now=now,
        )


def write_accounts(accounts: list[Account], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["username\tpassword\trole\twhere"] + [
        f"{a.username}\t{a.password}\t{a.role}\t{a.where}" for a in accounts
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)


def read_accounts(path: Path) -> list[Account]:
    if not path.exists():
        return []
    rows = path.read_text(encoding="utf-8").splitlines()[1:]
    return [Account(*row.split("\t")) for row in rows if row.strip()]
