"""The demo loads South Punjab and one school of 649 students from the UCI data."""

from sqlalchemy import func, select

from spets.demo.load import is_loaded, load_demo
from spets.models import (
    Enrollment,
    Guardian,
    OrgKind,
    OrgUnit,
    Role,
    RoleAssignment,
    Section,
    Student,
)


def test_demo_loads(dbsession, now):
    summary = load_demo(dbsession, now)
    assert is_loaded(dbsession)
    assert summary.students == 649

    count = lambda query: dbsession.scalar(query)  # noqa: E731
    assert (
        count(select(func.count()).select_from(OrgUnit).where(OrgUnit.kind == OrgKind.DIVISION))
        == 3
    )
    assert (
        count(select(func.count()).select_from(OrgUnit).where(OrgUnit.kind == OrgKind.DISTRICT))
        == 11
    )
    multan = dbsession.scalar(select(OrgUnit).where(OrgUnit.code == "DST-MLT"))
    school = dbsession.get(OrgUnit, summary.school_id)
    assert school.path.startswith(multan.path)
    assert (
        count(select(func.count()).select_from(Student).where(Student.school_id == school.id))
        == 649
    )
    current_in_school = (
        select(func.count())
        .select_from(Enrollment)
        .join(Section, Section.id == Enrollment.section_id)
        .where(Enrollment.ends_on.is_(None), Section.school_id == school.id)
    )
    assert count(current_in_school) == 649
    grades = dbsession.scalars(
        select(Section.grade).where(Section.school_id == school.id).distinct()
    ).all()
    assert {9, 10, 11, 12} <= set(grades)
    assert count(select(func.count()).select_from(Guardian)) >= 2 * 649

    roles = set(dbsession.scalars(select(RoleAssignment.role).distinct()))
    assert roles >= {
        Role.ADMIN,
        Role.HEAD_TEACHER,
        Role.TEACHER,
        Role.AEO,
        Role.DEO,
        Role.CEO,
        Role.HEALTH_STAFF,
        Role.COUNSELLOR,
    }
    assert {account.role for account in summary.accounts} >= {
        "admin",
        "head_teacher",
        "teacher",
        "aeo",
        "deo",
    }

    # The file's first row (a girl of 18, urban, parents apart, the mother as guardian, Medu 4,
    # Mjob at_home) is the first of grade 12: admission numbers run from 1001 through grades
    # 9, 10 and 11 (112 + 177 + 179 students), so hers is 1469.
    student = dbsession.scalar(select(Student).where(Student.admission_no == "1469"))
    assert student.gender.value == "female"
    assert student.home_area.value == "urban"
    assert student.parents_status.value == "apart"
    primary = [link for link in student.guardian_links if link.is_primary]
    assert [link.relation.value for link in primary] == ["mother"]
    mother = primary[0].guardian
    assert mother.education.value == "bachelor"
    assert mother.occupation.value == "homemaker"

    # On 4 December the third quarter's sheets are late: some approved, some waiting for
    # sign-off, some drafts, some untouched; reminders and escalations have gone out.
    from spets.models import OutboxMessage, Task, TaskEscalation, TaskReminder, TaskState

    summary = summary.engine
    assert summary.approved and summary.submitted and summary.drafts and summary.untouched
    states = set(dbsession.scalars(select(Task.state).distinct()))
    assert {
        TaskState.APPROVED,
        TaskState.SUBMITTED,
        TaskState.IN_PROGRESS,
        TaskState.OPEN,
    } <= states
    assert dbsession.scalar(select(func.count()).select_from(TaskReminder)) > 0
    assert dbsession.scalar(select(func.count()).select_from(TaskEscalation)) > 0
    assert dbsession.scalar(select(func.count()).select_from(OutboxMessage)) > 0

    # Every domain adds its part on top: published marks, registers with flags and a plan
    # under review, screenings with referrals, guardian accounts with a PTM day.
    demo = summary_of_domains(dbsession)
    assert demo["published sheets"] > 0
    assert demo["registers"] > 0
    assert demo["open flags"] > 0
    assert demo["plans"] > 0
    assert demo["screenings"] > 0
    assert demo["referrals"] > 0
    assert demo["guardian accounts"] > 0
    assert demo["ptm days"] > 0


def summary_of_domains(dbsession) -> dict[str, int]:
    from spets.models import (
        AttendanceDay,
        EarlyWarningFlag,
        GuardianAccount,
        HealthScreening,
        InterventionPlan,
        PtmDay,
        Referral,
        ResultSheet,
        SheetState,
    )

    def count(model, *where) -> int:
        return dbsession.scalar(select(func.count()).select_from(model).where(*where))

    return {
        "published sheets": count(ResultSheet, ResultSheet.state == SheetState.PUBLISHED),
        "registers": count(AttendanceDay),
        "open flags": count(EarlyWarningFlag),
        "plans": count(InterventionPlan),
        "screenings": count(HealthScreening),
        "referrals": count(Referral),
        "guardian accounts": count(GuardianAccount),
        "ptm days": count(PtmDay),
    }
