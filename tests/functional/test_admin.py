"""Administration: the org tree, staff accounts and roles, subjects, sections and the calendar."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from spets.models import DayOff, OrgUnit, RoleAssignment, Section, Subject, Task, User
from spets.services import cycles
from spets.services.audit import Actor


def test_create_school_under_markaz(testapp, world):
    testapp.login("admin")
    response = testapp.submit_form(
        f"/admin/org/{world.markaz_a.id}/new",
        {
            "kind": "school",
            "code": "36110099",
            "name_en": "Govt. Girls High School Gulgasht",
            "name_ur": "گورنمنٹ گرلز ہائی اسکول گلگشت",
            "school_level": "high",
            "school_gender": "girls",
        },
        status=302,
    )
    school = world.session.scalar(select(OrgUnit).where(OrgUnit.code == "36110099"))
    assert school.path == f"{world.markaz_a.path}{school.id}/"
    assert school.tenant_id == world.tenant.id
    assert response.location.endswith(f"/admin/org/{school.id}")


def test_org_unit_code_taken(testapp, world):
    testapp.login("admin")
    page = testapp.submit_form(
        f"/admin/org/{world.markaz_a.id}/new",
        {
            "kind": "school",
            "code": "36110001",
            "name_en": "Another School",
            "name_ur": "دوسرا اسکول",
        },
        status=200,
    )
    assert "already used by another school" in page.text


def test_move_school_moves_paths(testapp, world):
    testapp.login("admin")
    testapp.submit_form(
        f"/admin/org/{world.school_a.id}/move", {"parent_id": str(world.markaz_b.id)}, status=302
    )
    world.session.expire_all()
    school = world.session.get(OrgUnit, world.school_a.id)
    assert school.parent_id == world.markaz_b.id
    assert school.path == f"{world.markaz_b.path}{school.id}/"


def test_moved_school_leaves_old_officer_scope(testapp, world):
    testapp.login("admin")
    testapp.submit_form(
        f"/admin/org/{world.school_a.id}/move", {"parent_id": str(world.markaz_b.id)}, status=302
    )
    testapp.login("aeo.a")
    testapp.get(f"/students/{world.student_a9.id}", status=404)


def test_non_admin_cannot_manage_org(testapp, world):
    testapp.login("deo.a")
    testapp.get(f"/admin/org/{world.district_a.id}", status=404)
    testapp.get("/admin/users", status=403)


def test_create_user_and_give_role(testapp, world):
    testapp.login("admin")
    testapp.submit_form(
        "/admin/users/new",
        {
            "username": "Teacher.New",
            "display_name": "Nadia Parveen",
            "display_name_ur": "نادیہ پروین",
            "locale": "ur",
            "phone": "0333-1112223",
            "password": "a-long-pass-phrase",
            "password-confirm": "a-long-pass-phrase",
        },
        status=302,
    )
    user = world.session.scalar(select(User).where(User.username == "teacher.new"))
    assert user.phone == "+923331112223"
    testapp.submit_form(
        f"/admin/users/{user.id}/roles/new",
        {"role": "teacher", "org_unit_code": "36110001", "valid_from": "01/04/2026"},
        status=302,
    )
    role = world.session.scalar(select(RoleAssignment).where(RoleAssignment.user_id == user.id))
    assert (role.role.value, role.org_unit_id) == ("teacher", world.school_a.id)


def test_role_on_wrong_kind_of_unit(testapp, world):
    testapp.login("admin")
    page = testapp.submit_form(
        f"/admin/users/{world.head_b.id}/roles/new",
        {"role": "aeo", "org_unit_code": "36110001", "valid_from": "01/04/2026"},
        status=200,
    )
    assert 'No markaz with code "36110001"' in page.text


def test_short_password_refused(testapp, world):
    testapp.login("admin")
    page = testapp.submit_form(
        "/admin/users/new",
        {
            "username": "short.pw",
            "display_name": "Short Password",
            "password": "abc",
            "password-confirm": "abc",
        },
        status=200,
    )
    assert "at least 10 characters" in page.text
    assert world.session.scalar(select(User).where(User.username == "short.pw")) is None


def test_duplicate_username_refused(testapp, world):
    testapp.login("admin")
    page = testapp.submit_form(
        "/admin/users/new",
        {
            "username": "head.a",
            "display_name": "Someone",
            "password": "a-long-pass-phrase",
            "password-confirm": "a-long-pass-phrase",
        },
        status=200,
    )
    assert "already taken" in page.text


def test_end_role_removes_access(testapp, world):
    assignment = world.head_a.role_assignments[0]
    testapp.login("admin")
    testapp.submit_form(f"/admin/roles/{assignment.id}/end", {"valid_to": "01/12/2026"}, status=302)
    testapp.login("head.a")
    testapp.get(f"/students/{world.student_a9.id}", status=404)


def test_subject_crud(testapp, world):
    testapp.login("admin")
    testapp.submit_form(
        "/admin/subjects/new",
        {"code": "art", "name_en": "Art and Drawing", "name_ur": "آرٹ اور ڈرائنگ"},
        status=302,
    )
    subject = world.session.scalar(select(Subject).where(Subject.code == "ART"))
    assert subject.name_ur == "آرٹ اور ڈرائنگ"
    page = testapp.submit_form(
        "/admin/subjects/new", {"code": "ART", "name_en": "Art again", "name_ur": "آرٹ"}, status=200
    )
    assert 'The subject code "ART" is already used' in page.text


def test_section_create_and_teacher_assignment(testapp, world):
    testapp.login("head.a")
    testapp.submit_form(
        f"/schools/{world.school_a.id}/sections/new",
        {"grade": "9", "name": "b", "class_teacher_id": str(world.teacher_a10.id)},
        status=302,
    )
    section = world.session.scalar(
        select(Section).where(Section.school_id == world.school_a.id, Section.name == "B")
    )
    assert section.class_teacher_id == world.teacher_a10.id
    page = testapp.submit_form(
        f"/schools/{world.school_a.id}/sections/new", {"grade": "9", "name": "A"}, status=200
    )
    assert "Grade 9 already has a section A" in page.text
    testapp.submit_form(
        f"/sections/{section.id}/teaching",
        {
            "subject_id": str(world.subjects["ENG"].id),
            "teacher_id": str(world.class_teacher_a9.id),
            "starts_on": "01/12/2026",
        },
        status=302,
    )
    testapp.login("class.a9")
    testapp.get(f"/sections/{section.id}", status=200)


def test_head_teacher_cannot_pick_other_school_teacher(testapp, world):
    testapp.login("head.a")
    page = testapp.get(f"/sections/{world.section_a9.id}/teaching")
    teachers = {
        value for value, _selected, _text in page.forms["record-form"]["teacher_id"].options
    }
    assert str(world.teacher_b9.id) not in teachers
    assert str(world.class_teacher_a9.id) in teachers


def test_new_academic_year(testapp, world):
    testapp.login("admin")
    response = testapp.submit_form("/calendar/new", {"start_year": "2027"}, status=302)
    page = response.follow()
    assert "2027-28" in page.text
    assert "Independence Day" in page.text


def test_head_teacher_records_school_closure(testapp, world):
    testapp.login("head.a")
    page = testapp.get(f"/calendar/{world.year.id}/days-off/new")
    form = page.forms["record-form"]
    assert [value for value, _label in [(o[0], o[2]) for o in form["kind"].options]] == ["closure"]
    assert {o[0] for o in form["org_unit_id"].options} == {str(world.school_a.id)}
    form["org_unit_id"] = str(world.school_a.id)
    form["name_en"] = "Heavy rain"
    form["name_ur"] = "شدید بارش"
    form["starts_on"] = "10/12/2026"
    form["ends_on"] = "11/12/2026"
    form.submit("save", status=302)
    closure = world.session.scalar(select(DayOff).where(DayOff.name_en == "Heavy rain"))
    assert closure.org_unit_id == world.school_a.id
    assert closure.created_by_id == world.head_a.id


def test_late_closure_moves_open_tasks_and_says_how_many(testapp, world):
    cycles.add_default_definitions(world.session, world.tenant, actor=Actor.system(), now=world.now)
    cycles.tick(world.session, datetime(2026, 10, 1, 0, 15, tzinfo=ZoneInfo("Asia/Karachi")))
    tasks = world.session.scalars(select(Task).where(Task.school_id == world.school_a.id)).all()
    assert tasks and {task.due_on for task in tasks} == {date(2026, 10, 13)}

    testapp.login("head.a")
    page = testapp.get(f"/calendar/{world.year.id}/days-off/new")
    form = page.forms["record-form"]
    form["org_unit_id"] = str(world.school_a.id)
    form["name_en"] = "Smog closure"
    form["name_ur"] = "اسموگ کی بندش"
    form["starts_on"] = "07/10/2026"
    form["ends_on"] = "08/10/2026"
    page = form.submit("save", status=302).follow()

    assert f"Due dates recounted: {len(tasks)} open tasks moved." in page.text
    for task in tasks:
        world.session.refresh(task)
    assert {task.due_on for task in tasks} == {date(2026, 10, 15)}


def test_head_teacher_cannot_edit_gazetted_holiday(testapp, world):
    holiday = world.session.scalar(
        select(DayOff).where(DayOff.name_en == "Iqbal Day", DayOff.org_unit_id == world.tenant.id)
    )
    testapp.login("head.a")
    testapp.get(f"/days-off/{holiday.id}/edit", status=403)


def test_teacher_reads_calendar(testapp, world):
    testapp.login("subject.a9")
    page = testapp.get(f"/calendar/{world.year.id}")
    assert "Quaid-e-Azam Day" in page.text
    assert "Add a holiday or closure" not in page.text


def test_audit_trail_lists_changes(testapp, world):
    testapp.login("head.a")
    testapp.submit_form(
        f"/students/{world.student_a9.id}/edit", {"name_en": "Ayesha Noor"}, status=302
    )
    page = testapp.get("/audit")
    assert "name_en" in page.text


def test_other_tenant_admin_sees_nothing_of_punjab(testapp, world):
    testapp.login("admin.net")
    testapp.get(f"/admin/users/{world.head_a.id}", status=404)
    testapp.get(f"/admin/org/{world.tenant.id}", status=404)
    testapp.get(f"/calendar/{world.year.id}", status=404)
    users_page = testapp.get("/admin/users")
    assert "head.a" not in users_page.text
