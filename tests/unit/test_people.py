"""Students, guardians and enrollment history through the services."""

from datetime import date

import pytest
from sqlalchemy import func, select

from spets.models import (
    AuditEvent,
    Enrollment,
    EnrollmentEndReason,
    EnrollmentStartReason,
    Guardian,
    Relation,
    Student,
)
from spets.services import org, people
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, StaleEdit

SYSTEM = Actor.system()


def history(world, student) -> list[tuple]:
    rows = world.session.scalars(
        select(Enrollment).where(Enrollment.student_id == student.id).order_by(Enrollment.starts_on)
    )
    return [
        (
            e.section.school.code,
            e.section.label,
            e.starts_on,
            e.ends_on,
            e.start_reason,
            e.end_reason,
        )
        for e in rows
    ]


def test_transfer_keeps_history(world):
    student = world.student_a9
    people.end_enrollment(
        world.session,
        student,
        date(2026, 9, 30),
        EnrollmentEndReason.TRANSFER_OUT,
        "To School B",
        actor=SYSTEM,
        now=world.now,
    )
    people.admit_transfer(
        world.session,
        section=world.section_b9,
        b_form="36302-1111111-1",
        admission_no="B950",
        admitted_on=date(2026, 10, 5),
        actor=SYSTEM,
        now=world.now,
    )
    assert history(world, student) == [
        (
            "36110001",
            "9-A",
            date(2026, 4, 1),
            date(2026, 9, 30),
            EnrollmentStartReason.ADMISSION,
            EnrollmentEndReason.TRANSFER_OUT,
        ),
        ("36110002", "9-A", date(2026, 10, 5), None, EnrollmentStartReason.TRANSFER_IN, None),
    ]
    assert student.school_id == world.school_b.id
    assert student.admission_no == "B950"
    assert len(student.guardian_links) == 1


def test_transfer_of_enrolled_student_rejected(world):
    with pytest.raises(InvalidInput) as caught:
        people.admit_transfer(
            world.session,
            section=world.section_b9,
            b_form="36302-1111111-1",
            admission_no="B950",
            admitted_on=date(2026, 10, 5),
            actor=SYSTEM,
            now=world.now,
        )
    assert "b_form" in caught.value.field_errors


def test_transfer_unknown_b_form_rejected(world):
    with pytest.raises(InvalidInput) as caught:
        people.admit_transfer(
            world.session,
            section=world.section_b9,
            b_form="99999-9999999-9",
            admission_no="B950",
            admitted_on=date(2026, 10, 5),
            actor=SYSTEM,
            now=world.now,
        )
    assert "99999-9999999-9" in caught.value.field_errors["b_form"].interpolate()


def test_section_change_splits_enrollment(world):
    people.change_section(
        world.session,
        world.student_a9,
        world.section_a10,
        date(2026, 10, 1),
        actor=SYSTEM,
        now=world.now,
    )
    rows = history(world, world.student_a9)
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("9-A", date(2026, 4, 1), date(2026, 9, 30)),
        ("10-A", date(2026, 10, 1), None),
    ]


def test_section_change_to_other_school_rejected(world):
    with pytest.raises(InvalidInput):
        people.change_section(
            world.session,
            world.student_a9,
            world.section_b9,
            date(2026, 10, 1),
            actor=SYSTEM,
            now=world.now,
        )


def test_only_one_open_enrollment(world):
    world.session.add(
        Enrollment(
            student_id=world.student_a9.id,
            section_id=world.section_a10.id,
            starts_on=date(2026, 5, 1),
            start_reason=EnrollmentStartReason.ADMISSION,
            created_at=world.now,
        )
    )
    with pytest.raises(Exception, match="(?i)unique"):
        world.session.flush()


def test_duplicate_admission_number_named(world):
    with pytest.raises(InvalidInput) as caught:
        world.admit(world.section_a9, "A901", "Sana Bibi", "ثنا بی بی")
    message = caught.value.field_errors["admission_no"].interpolate()
    assert "A901" in message and "Ayesha Khan" in message


def test_duplicate_b_form_points_to_transfer(world):
    with pytest.raises(InvalidInput) as caught:
        world.admit(world.section_b9, "B999", "Sana Bibi", "ثنا بی بی", b_form="36302-1111111-1")
    assert "transfer" in caught.value.field_errors["b_form"].interpolate()


def test_stale_edit_refused_with_differences(world):
    student = world.student_a9
    loaded_version = student.version
    people.update_student(
        world.session,
        student,
        {"name_en": "Ayesha Noor"},
        version=loaded_version,
        actor=SYSTEM,
        now=world.now,
    )
    with pytest.raises(StaleEdit) as caught:
        people.update_student(
            world.session,
            student,
            {"name_en": "Ayesha Bibi"},
            version=loaded_version,
            actor=SYSTEM,
            now=world.now,
        )
    assert caught.value.differences == {"name_en": ("Ayesha Noor", "Ayesha Bibi")}
    assert student.name_en == "Ayesha Noor"


def test_update_writes_audit_with_before_after(world):
    people.update_student(
        world.session,
        world.student_a9,
        {"name_en": "Ayesha Noor"},
        version=None,
        actor=SYSTEM,
        now=world.now,
    )
    event = world.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "student", AuditEvent.action == "update")
    ).one()
    assert event.changes == {"name_en": {"before": "Ayesha Khan", "after": "Ayesha Noor"}}


def test_guardian_with_same_cnic_is_shared(world):
    link = people.add_guardian(
        world.session,
        world.student_a10,
        {
            "name_en": "Muhammad Aslam",
            "name_ur": "محمد اسلم",
            "cnic": "36302-2222222-2",
            "relation": Relation.FATHER,
        },
        actor=SYSTEM,
        now=world.now,
    )
    assert link.guardian_id == world.guardian_link_a9.guardian_id
    assert (
        world.session.scalar(
            select(func.count()).select_from(Guardian).where(Guardian.cnic == "36302-2222222-2")
        )
        == 1
    )


def test_guardian_linked_twice_rejected(world):
    with pytest.raises(InvalidInput):
        people.add_guardian(
            world.session,
            world.student_a9,
            {"name_en": "Muhammad Aslam", "cnic": "36302-2222222-2", "relation": Relation.FATHER},
            actor=SYSTEM,
            now=world.now,
        )


def test_one_primary_guardian(world):
    people.add_guardian(
        world.session,
        world.student_a9,
        {"name_en": "Shazia Bibi", "relation": Relation.MOTHER, "is_primary": True},
        actor=SYSTEM,
        now=world.now,
    )
    world.session.expire_all()
    primaries = [link for link in world.student_a9.guardian_links if link.is_primary]
    assert [link.relation for link in primaries] == [Relation.MOTHER]


def test_finance_write_audited_as_finance(world):
    people.update_guardian(
        world.session,
        world.guardian_link_a9,
        {"income_band": None},
        version=None,
        actor=SYSTEM,
        now=world.now,
    )
    event = world.session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "guardian", AuditEvent.action == "update"
        )
    ).one()
    assert event.category == "family_finance"


def test_teaching_assignment_replacement_keeps_history(world):
    new_teacher = world.teacher_a10
    org.assign_teacher(
        world.session,
        section=world.section_a9,
        subject=world.subjects["MATH"],
        teacher=new_teacher,
        starts_on=date(2026, 11, 1),
        actor=SYSTEM,
        now=world.now,
    )
    rows = sorted(
        (a.teacher_id, a.valid_from, a.valid_to) for a in world.section_a9.teaching_assignments
    )
    assert (world.subject_teacher_a9.id, date(2026, 4, 1), date(2026, 10, 31)) in rows
    assert (new_teacher.id, date(2026, 11, 1), None) in rows


def test_student_record_loads_history(world):
    record = people.load_student_record(world.session, world.student_a9.id, with_family=True)
    assert record.current.section_id == world.section_a9.id
    assert [link.guardian.name_en for link in record.guardian_links] == ["Muhammad Aslam"]
    assert [m.name_en for m in record.family_members] == ["Hamza Khan"]


def test_student_record_without_family(world):
    record = people.load_student_record(world.session, world.student_a9.id, with_family=False)
    assert record.guardian_links == [] and record.family_members == []


def test_admission_outside_year_rejected(world):
    with pytest.raises(InvalidInput):
        people.admit_student(
            world.session,
            section=world.section_a9,
            values={
                "admission_no": "X1",
                "name_en": "Ali",
                "name_ur": "علی",
                "father_name_en": "Aslam",
                "father_name_ur": "اسلم",
                "date_of_birth": date(2011, 1, 1),
                "gender": "male",
            },
            admitted_on=date(2025, 1, 1),
            actor=SYSTEM,
            now=world.now,
        )
    assert world.session.scalar(select(Student).where(Student.admission_no == "X1")) is None
