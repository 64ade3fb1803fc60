"""Test data: a fake clock and a small world with every role, built through the services."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache

from sqlalchemy.orm import Session

from spets.models import (
    Education,
    Gender,
    IncomeBand,
    Occupation,
    OrgKind,
    Relation,
    Role,
    User,
)
from spets.services import calendar, org, people, users
from spets.services.audit import Actor
from spets.services.auth import hash_password
from spets.services.starter import add_starter_subjects

PASSWORD = "correct-horse-battery"
SYSTEM = Actor.system()


class FakeClock:
    """A clock the tests can set; the app and the builders read the same instant."""

    def __init__(self, start: datetime):
        self.start = start
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def set(self, value: datetime) -> None:
        self.current = value.astimezone(UTC)

    def advance(self, **kwargs) -> None:
        self.current += timedelta(**kwargs)

    def reset(self) -> None:
        self.current = self.start


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)


def make_user(session: Session, tenant, username: str, now: datetime, **extra) -> User:
    user = User(
        username=username,
        password_hash=password_hash(),
        display_name=extra.pop("display_name", username.replace(".", " ").title()),
        display_name_ur=extra.pop("display_name_ur", ""),
        locale=extra.pop("locale", "en"),
        tenant_id=tenant.id,
        created_at=now,
        **extra,
    )
    session.add(user)
    session.flush()
    return user


def student_values(admission_no: str, name_en: str, name_ur: str, **extra) -> dict:
    values = {
        "admission_no": admission_no,
        "b_form": None,
        "name_en": name_en,
        "name_ur": name_ur,
        "father_name_en": "Muhammad Aslam",
        "father_name_ur": "محمد اسلم",
        "date_of_birth": date(2011, 8, 14),
        "gender": Gender.FEMALE,
    }
    values.update(extra)
    return values


@dataclass
class World:
    session: Session
    now: datetime

    @classmethod
    def build(cls, session: Session, now: datetime) -> "World":
        world = cls(session, now)
        world._org()
        world._calendar()
        world._people()
        world._students()
        session.flush()
        return world

    def unit(self, parent, kind: OrgKind, code: str, name: str, **extra):
        return org.create_unit(
            self.session,
            parent=parent,
            kind=kind,
            code=code,
            name_en=name,
            name_ur="اکائی",
            actor=SYSTEM,
            now=self.now,
            **extra,
        )

    def _org(self) -> None:
        self.tenant = self.unit(None, OrgKind.PROVINCE, "PB", "Punjab")
        self.division = self.unit(self.tenant, OrgKind.DIVISION, "DIV", "Multan Division")
        self.district_a = self.unit(self.division, OrgKind.DISTRICT, "DST-A", "Multan")
        self.district_b = self.unit(self.division, OrgKind.DISTRICT, "DST-B", "Khanewal")
        self.tehsil_a = self.unit(self.district_a, OrgKind.TEHSIL, "TEH-A", "Multan City")
        self.tehsil_b = self.unit(self.district_b, OrgKind.TEHSIL, "TEH-B", "Khanewal")
        self.markaz_a = self.unit(self.tehsil_a, OrgKind.MARKAZ, "MKZ-A", "Markaz A")
        self.markaz_b = self.unit(self.tehsil_b, OrgKind.MARKAZ, "MKZ-B", "Markaz B")
        self.school_a = self.unit(self.markaz_a, OrgKind.SCHOOL, "36110001", "School A")
        self.school_b = self.unit(self.markaz_b, OrgKind.SCHOOL, "36110002", "School B")
        self.network = self.unit(None, OrgKind.NETWORK, "NET", "Private Network")
        self.network_school = self.unit(self.network, OrgKind.SCHOOL, "NET-1", "Network School")
        self.subjects = {
            s.code: s
            for s in add_starter_subjects(self.session, self.tenant, actor=SYSTEM, now=self.now)
        }

    def _calendar(self) -> None:
        today = calendar.local_today(self.now)
        self.year = calendar.create_year(
            self.session, self.tenant, calendar.start_year_of(today), actor=SYSTEM, now=self.now
        )
        self.network_year = calendar.create_year(
            self.session, self.network, calendar.start_year_of(today), actor=SYSTEM, now=self.now
        )

    def role(self, username: str, role: Role, unit, tenant=None) -> User:
        user = make_user(self.session, tenant or self.tenant, username, self.now)
        users.assign_role(
            self.session,
            user=user,
            role=role,
            org_unit=unit,
            valid_from=self.year.starts_on,
            valid_to=None,
            actor=SYSTEM,
            now=self.now,
        )
        return user

    def _people(self) -> None:
        self.admin = self.role("admin", Role.ADMIN, self.tenant)
        self.ceo_a = self.role("ceo.a", Role.CEO, self.district_a)
        self.deo_a = self.role("deo.a", Role.DEO, self.district_a)
        self.aeo_a = self.role("aeo.a", Role.AEO, self.markaz_a)
        self.head_a = self.role("head.a", Role.HEAD_TEACHER, self.school_a)
        self.head_b = self.role("head.b", Role.HEAD_TEACHER, self.school_b)
        self.class_teacher_a9 = self.role("class.a9", Role.TEACHER, self.school_a)
        self.subject_teacher_a9 = self.role("subject.a9", Role.TEACHER, self.school_a)
        self.teacher_a10 = self.role("teacher.a10", Role.TEACHER, self.school_a)
        self.teacher_b9 = self.role("teacher.b9", Role.TEACHER, self.school_b)
        self.health_a = self.role("health.a", Role.HEALTH_STAFF, self.district_a)
        self.counsellor_a = self.role("counsellor.a", Role.COUNSELLOR, self.school_a)
        self.network_admin = self.role("admin.net", Role.ADMIN, self.network, tenant=self.network)

        section = lambda school, grade, teacher: org.create_section(  # noqa: E731
            self.session,
            school=school,
            year=self.year,
            grade=grade,
            name="A",
            class_teacher_id=teacher.id if teacher else None,
            actor=SYSTEM,
            now=self.now,
        )
        self.section_a9 = section(self.school_a, 9, self.class_teacher_a9)
        self.section_a10 = section(self.school_a, 10, self.teacher_a10)
        self.section_b9 = section(self.school_b, 9, self.teacher_b9)
        org.assign_teacher(
            self.session,
            section=self.section_a9,
            subject=self.subjects["MATH"],
            teacher=self.subject_teacher_a9,
            starts_on=self.year.starts_on,
            actor=SYSTEM,
            now=self.now,
        )

    def admit(self, section, admission_no: str, name_en: str, name_ur: str, **extra):
        return people.admit_student(
            self.session,
            section=section,
            values=student_values(admission_no, name_en, name_ur, **extra),
            admitted_on=self.year.starts_on,
            actor=SYSTEM,
            now=self.now,
        )

    def _students(self) -> None:
        self.student_a9 = self.admit(
            self.section_a9, "A901", "Ayesha Khan", "عائشہ خان", b_form="36302-1111111-1"
        )
        self.student_a10 = self.admit(
            self.section_a10, "A1001", "Bilal Ahmed", "بلال احمد", gender=Gender.MALE
        )
        self.student_b9 = self.admit(self.section_b9, "B901", "Fatima Noor", "فاطمہ نور")
        self.guardian_link_a9 = people.add_guardian(
            self.session,
            self.student_a9,
            {
                "name_en": "Muhammad Aslam",
                "name_ur": "محمد اسلم",
                "cnic": "36302-2222222-2",
                "phone": "+923001234567",
                "education": Education.MATRIC,
                "occupation": Occupation.FARMER,
                "income_band": IncomeBand.FROM_25K_TO_50K,
                "bisp_beneficiary": True,
                "relation": Relation.FATHER,
                "is_primary": True,
                "preferred_locale": "ur",
            },
            actor=SYSTEM,
            now=self.now,
        )
        self.guardian_link_b9 = people.add_guardian(
            self.session,
            self.student_b9,
            {
                "name_en": "Noor Din",
                "name_ur": "نور دین",
                "relation": Relation.FATHER,
                "is_primary": True,
                "income_band": IncomeBand.BELOW_25K,
                "preferred_locale": "ur",
            },
            actor=SYSTEM,
            now=self.now,
        )
        self.member_a9 = people.save_family_member(
            self.session,
            self.student_a9,
            None,
            {
                "relation": Relation.BROTHER,
                "name_en": "Hamza Khan",
                "name_ur": "حمزہ خان",
                "income_band": IncomeBand.NONE,
                "sibling_school_name": "GPS Qasim Bela",
                "sibling_grade": "4",
                "lives_in_household": True,
            },
            version=None,
            actor=SYSTEM,
            now=self.now,
        )
        self.member_b9 = people.save_family_member(
            self.session,
            self.student_b9,
            None,
            {
                "relation": Relation.SISTER,
                "name_en": "Sana Noor",
                "name_ur": "ثنا نور",
                "lives_in_household": True,
            },
            version=None,
            actor=SYSTEM,
            now=self.now,
        )
