"""The scope rules: what each role reaches, at one record and as SQL over lists."""

import pytest
from sqlalchemy import select

from spets.models import Student
from spets.services.scope import Permission as P
from spets.services.scope import load_principal, student_clause


def principal(world, user):
    return load_principal(world.session, user.id, world.year.starts_on.replace(month=12, day=4))


def visible_students(world, user, permission=P.STUDENT_VIEW) -> set[str]:
    clause = student_clause(principal(world, user), permission)
    return set(world.session.scalars(select(Student.admission_no).where(clause)))


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("admin", {"A901", "A1001", "B901"}),
        ("ceo_a", {"A901", "A1001"}),
        ("deo_a", {"A901", "A1001"}),
        ("aeo_a", {"A901", "A1001"}),
        ("head_a", {"A901", "A1001"}),
        ("head_b", {"B901"}),
        ("class_teacher_a9", {"A901"}),
        ("subject_teacher_a9", {"A901"}),
        ("teacher_a10", {"A1001"}),
        ("health_a", set()),
        ("counsellor_a", {"A901", "A1001"}),  # for well-being records of the school
        ("network_admin", set()),
    ],
)
def test_students_visible_by_role(world, username, expected):
    assert visible_students(world, getattr(world, username)) == expected


def test_family_only_for_class_teacher_and_above(world):
    assert visible_students(world, world.class_teacher_a9, P.FAMILY_VIEW) == {"A901"}
    assert visible_students(world, world.subject_teacher_a9, P.FAMILY_VIEW) == set()
    assert visible_students(world, world.aeo_a, P.FAMILY_VIEW) == set()
    assert visible_students(world, world.head_a, P.FAMILY_VIEW) == {"A901", "A1001"}


def test_finance_only_for_head_teacher(world):
    for user in (world.admin, world.class_teacher_a9, world.deo_a, world.aeo_a):
        assert visible_students(world, user, P.FAMILY_FINANCE_VIEW) == set()
    assert visible_students(world, world.head_a, P.FAMILY_FINANCE_VIEW) == {"A901", "A1001"}


def test_permissions_at_match_clause(world):
    """The per-record answer and the SQL answer agree for every user and student."""
    users = [
        world.admin,
        world.head_a,
        world.head_b,
        world.class_teacher_a9,
        world.subject_teacher_a9,
        world.aeo_a,
    ]
    students = [world.student_a9, world.student_a10, world.student_b9]
    for user in users:
        p = principal(world, user)
        listed = visible_students(world, user)
        for student in students:
            section_id = student.enrollments[0].section_id
            can_view = P.STUDENT_VIEW in p.permissions_at(student.school.path, section_id)
            assert can_view == (student.admission_no in listed), (
                user.username,
                student.admission_no,
            )


def test_expired_role_grants_nothing(world):
    assignment = world.head_a.role_assignments[0]
    assignment.valid_to = world.year.starts_on
    world.session.flush()
    assert visible_students(world, world.head_a) == set()


def test_disabled_user_has_no_principal(world):
    world.head_a.is_active = False
    world.session.flush()
    assert principal(world, world.head_a) is None


def test_teacher_loses_student_who_changed_section(world):
    from datetime import date

    from spets.services import people
    from spets.services.audit import Actor

    other = world.section_a10
    people.change_section(
        world.session,
        world.student_a9,
        other,
        date(2026, 10, 1),
        actor=Actor.system(),
        now=world.now,
    )
    assert visible_students(world, world.class_teacher_a9) == set()
    assert "A901" in visible_students(world, world.teacher_a10)
