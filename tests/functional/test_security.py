"""Deny by default, scope by role: every view has a permission, and out-of-scope records answer 404."""

import re
from pathlib import Path

import pytest
from pyramid.security import NO_PERMISSION_REQUIRED
from sqlalchemy import func, select

from spets.models import AuditEvent
from spets.webapp.security import DEFAULT_PERMISSION

# Views anyone may reach without signing in: signing in and out, the language switch,
# static files (registered by add_static_view) and the error pages.
PUBLIC_ROUTES = {
    "auth.login",
    "auth.logout",
    "auth.language",
    "signup.start",
    "signup.verify",
    "status.live",
}


def registered_views(wsgi_app):
    introspector = wsgi_app.registry.introspector
    for view in introspector.get_category("views"):
        yield view["introspectable"], view["related"]


def is_exception_view(introspectable) -> bool:
    from pyramid.interfaces import IExceptionResponse

    context = introspectable["context"]
    if context is IExceptionResponse:
        return True
    return isinstance(context, type) and issubclass(context, Exception)


def test_every_view_names_a_permission(wsgi_app):
    missing = []
    for introspectable, related in registered_views(wsgi_app):
        if is_exception_view(introspectable):
            continue  # the 403 and 404 pages: shown after a denial, never in its place
        route = introspectable["route_name"]
        permissions = [r for r in related if r.category_name == "permissions"]
        permission = permissions[0]["value"] if permissions else None
        if route and route.startswith("__"):
            continue  # static views
        if route in PUBLIC_ROUTES:
            assert permission == NO_PERMISSION_REQUIRED, route
            continue
        if permission in (None, NO_PERMISSION_REQUIRED, DEFAULT_PERMISSION):
            missing.append(route or introspectable["callable"])
    assert missing == []


def test_default_permission_denies(wsgi_app):
    from pyramid.interfaces import IDefaultPermission

    assert wsgi_app.registry.getUtility(IDefaultPermission) == DEFAULT_PERMISSION


def test_anonymous_redirected_to_login(testapp, world):
    response = testapp.get(f"/students/{world.student_a9.id}", status=302)
    assert "/login?came_from=" in response.location


def record_urls(world) -> dict[str, dict[str, str]]:
    """For each school, the URLs of its student, section and family records."""

    def urls(student, section, link, member, school):
        return {
            "student detail": f"/students/{student.id}",
            "student edit": f"/students/{student.id}/edit",
            "household": f"/students/{student.id}/household",
            "change section": f"/students/{student.id}/change-section",
            "end enrollment": f"/students/{student.id}/end-enrollment",
            "add guardian": f"/students/{student.id}/guardians/new",
            "guardian edit": f"/guardian-links/{link.id}/edit",
            "guardian unlink": f"/guardian-links/{link.id}/unlink",
            "add family member": f"/students/{student.id}/family/new",
            "family edit": f"/family-members/{member.id}/edit",
            "family delete": f"/family-members/{member.id}/delete",
            "section": f"/sections/{section.id}",
            "section edit": f"/sections/{section.id}/edit",
            "section teaching": f"/sections/{section.id}/teaching",
            "admit into section": f"/sections/{section.id}/students/new",
            "school": f"/schools/{school.id}",
            "school import": f"/schools/{school.id}/imports/new",
            "admit transfer": f"/schools/{school.id}/admit-transfer",
            "feedback overview": f"/schools/{school.id}/feedback",
        }

    return {
        "A": urls(
            world.student_a9,
            world.section_a9,
            world.guardian_link_a9,
            world.member_a9,
            world.school_a,
        ),
        "B": urls(
            world.student_b9,
            world.section_b9,
            world.guardian_link_b9,
            world.member_b9,
            world.school_b,
        ),
    }


# Each role, and the school whose records lie outside its scope.
OUTSIDE = [
    ("head.a", "B"),
    ("head.b", "A"),
    ("class.a9", "B"),
    ("subject.a9", "B"),
    ("teacher.a10", "B"),
    ("teacher.b9", "A"),
    ("aeo.a", "B"),
    ("deo.a", "B"),
    ("ceo.a", "B"),
    ("health.a", "A"),
    ("health.a", "B"),
    ("counsellor.a", "B"),
    ("admin.net", "A"),
    ("admin.net", "B"),
]


@pytest.mark.parametrize(("username", "school"), OUTSIDE)
def test_other_school_records_answer_404(testapp, world, username, school):
    testapp.login(username)
    statuses = {
        name: testapp.get(url, expect_errors=True).status_int
        for name, url in record_urls(world)[school].items()
    }
    assert statuses == {name: 404 for name in statuses}


@pytest.mark.parametrize(("username", "school"), OUTSIDE)
def test_other_school_absent_from_lists_search_export(testapp, world, username, school):
    testapp.login(username)
    student = world.student_a9 if school == "A" else world.student_b9
    pages = [
        testapp.get("/students", expect_errors=True),
        testapp.get(f"/students?q={student.admission_no}", expect_errors=True),
        testapp.get(f"/students?q={student.name_en.split()[0]}&left=1", expect_errors=True),
        testapp.get("/students/export.csv", expect_errors=True),
        testapp.get(f"/students/export.csv?school_id={student.school_id}", expect_errors=True),
    ]
    for page in pages:
        assert page.status_int in (200, 403)
        assert student.name_en not in page.text
        assert f'/students/{student.id}"' not in page.text
    for export in pages[3:]:
        assert student.admission_no not in export.text


def test_post_to_other_school_changes_nothing(testapp, world):
    testapp.login("head.b")
    response = testapp.post_with_csrf(
        f"/students/{world.student_a9.id}/edit",
        {"name_en": "Changed Name", "save": "save"},
        expect_errors=True,
    )
    assert response.status_int == 404
    world.session.refresh(world.student_a9)
    assert world.student_a9.name_en == "Ayesha Khan"


IN_SCOPE_EXPECTED = {
    # (username, url name): status for school A's records
    ("subject.a9", "student detail"): 200,
    ("subject.a9", "student edit"): 403,
    ("subject.a9", "family edit"): 403,
    ("subject.a9", "household"): 403,
    ("class.a9", "student edit"): 200,
    ("class.a9", "family edit"): 200,
    ("class.a9", "change section"): 403,
    ("aeo.a", "student detail"): 200,
    ("aeo.a", "family edit"): 403,
    ("aeo.a", "student edit"): 403,
    ("head.a", "family edit"): 200,
    ("head.a", "school import"): 200,
    ("teacher.a10", "student detail"): 404,
    ("subject.a9", "feedback overview"): 403,
    ("class.a9", "feedback overview"): 403,
    ("head.a", "feedback overview"): 200,
    ("aeo.a", "feedback overview"): 200,
    ("ceo.a", "feedback overview"): 200,
}


@pytest.mark.parametrize(("key", "status"), sorted(IN_SCOPE_EXPECTED.items()))
def test_in_scope_permissions(testapp, world, key, status):
    username, name = key
    testapp.login(username)
    assert testapp.get(record_urls(world)["A"][name], expect_errors=True).status_int == status


@pytest.fixture
def feedback_urls(world):
    """A quarterly feedback task in each school, and the feedback pages that hang off them.

    School A's maths sheet of 9-A belongs to subject.a9, school B's English sheet of 9-A
    to teacher.b9; the catalogue item is one of Punjab's.
    """
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from spets.models import FeedbackCatalogueItem, Task
    from spets.services import cycles, feedback, org
    from spets.services.audit import Actor

    system = Actor.system()
    cycles.add_default_definitions(world.session, world.tenant, actor=system, now=world.now)
    feedback.add_starter_catalogue(world.session, world.tenant, actor=system, now=world.now)
    org.assign_teacher(
        world.session,
        section=world.section_b9,
        subject=world.subjects["ENG"],
        teacher=world.teacher_b9,
        starts_on=world.year.starts_on,
        actor=system,
        now=world.now,
    )
    quarter_start = datetime(2026, 10, 1, 0, 15, tzinfo=ZoneInfo("Asia/Karachi"))
    cycles.tick(world.session, quarter_start.astimezone(UTC))
    task_of = {task.school_id: task.id for task in world.session.scalars(select(Task)).all()}
    item_id = world.session.scalar(
        select(FeedbackCatalogueItem.id).where(
            FeedbackCatalogueItem.subject_id == world.subjects["MATH"].id
        )
    )
    world.session.flush()
    return {
        "A": f"/tasks/{task_of[world.school_a.id]}/feedback",
        "B": f"/tasks/{task_of[world.school_b.id]}/feedback",
        "catalogue": "/admin/feedback-catalogue",
        "catalogue new": "/admin/feedback-catalogue/new",
        "catalogue edit": f"/admin/feedback-catalogue/{item_id}/edit",
    }


@pytest.mark.parametrize(("username", "school"), OUTSIDE)
def test_other_school_feedback_sheet_answers_404(testapp, feedback_urls, username, school):
    testapp.login(username)
    url = feedback_urls[school]
    assert testapp.get(url, expect_errors=True).status_int == 404
    assert testapp.post_with_csrf(url, {}, expect_errors=True).status_int == 404


# (username, page, method): status. "sheet" is school A's maths sheet of subject.a9.
FEEDBACK_EXPECTED = {
    ("subject.a9", "A", "GET"): 200,
    ("subject.a9", "A", "POST"): 302,
    ("class.a9", "A", "GET"): 404,
    ("teacher.a10", "A", "GET"): 404,
    ("head.a", "A", "GET"): 200,
    ("head.a", "A", "POST"): 403,
    ("aeo.a", "A", "GET"): 200,
    ("aeo.a", "A", "POST"): 403,
    ("admin", "A", "GET"): 200,
    ("admin", "A", "POST"): 403,
    ("admin", "catalogue", "GET"): 200,
    ("admin", "catalogue", "POST"): 302,
    ("admin", "catalogue new", "GET"): 200,
    ("admin", "catalogue edit", "GET"): 200,
    ("admin.net", "catalogue", "GET"): 200,
    ("admin.net", "catalogue edit", "GET"): 404,
    ("head.a", "catalogue", "GET"): 403,
    ("head.a", "catalogue", "POST"): 403,
    ("head.a", "catalogue new", "GET"): 403,
    ("head.a", "catalogue edit", "GET"): 403,
    ("subject.a9", "catalogue edit", "GET"): 403,
    ("aeo.a", "catalogue new", "GET"): 403,
}


@pytest.mark.parametrize(("key", "status"), sorted(FEEDBACK_EXPECTED.items()))
def test_feedback_permissions(testapp, feedback_urls, key, status):
    username, page, method = key
    testapp.login(username)
    url = feedback_urls[page]
    if method == "GET":
        response = testapp.get(url, expect_errors=True)
    else:
        params = {"load_starter": "1"} if page == "catalogue" else {}
        response = testapp.post_with_csrf(url, params, expect_errors=True)
    assert response.status_int == status


def test_feedback_pages_need_sign_in(testapp, feedback_urls):
    testapp.app.reset()
    for page in ("A", "catalogue", "catalogue edit"):
        response = testapp.get(feedback_urls[page], status=302)
        assert "/login?came_from=" in response.location


def test_csrf_required_on_post(testapp, world):
    testapp.login("head.a")
    response = testapp.post(
        f"/students/{world.student_a9.id}/edit",
        {"name_en": "X", "save": "save"},
        expect_errors=True,
    )
    assert response.status_int == 400
    world.session.refresh(world.student_a9)
    assert world.student_a9.name_en == "Ayesha Khan"


def test_session_cookie_flags(wsgi_app, testapp):
    response = testapp.get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_production_cookie_is_secure():
    from pyramid.paster import get_appsettings

    settings = get_appsettings("production.ini")
    assert settings["spets.session_secure"] == "true"
    assert settings["spets.session_secret_required"] == "true"


def test_wrong_password_message_and_audit(testapp, world):
    page = testapp.login("head.a", password="wrong-password-1", status=200)
    assert "username or password is not correct" in page.text
    assert (
        world.session.scalar(select(func.count()).where(AuditEvent.action == "login_failed")) == 1
    )


def test_unknown_user_same_message(testapp, world):
    page = testapp.login("nobody", password="wrong-password-1", status=200)
    assert "username or password is not correct" in page.text


def test_login_locked_after_failures(testapp, world):
    for _attempt in range(5):
        testapp.login("head.a", password="wrong-password-1", status=200)
    page = testapp.login("head.a", status=200)
    assert "Too many failed sign-ins" in page.text


def test_logout_requires_post_and_ends_session(testapp, world):
    testapp.login("head.a")
    testapp.get("/logout", status=404)
    testapp.post_with_csrf("/logout", status=302)
    assert testapp.get("/", status=302).location.startswith("http://localhost/login")


def test_login_redirect_stays_on_site(testapp, world):
    page = testapp.get("/login?came_from=//evil.example/steal")
    form = page.forms["record-form"]
    form["username"] = "head.a"
    form["password"] = "correct-horse-battery"
    response = form.submit("save", status=302)
    assert response.location in ("http://localhost/", "/")


def test_login_renews_session_id(testapp, world):
    testapp.app.reset()
    testapp.get("/login")
    before = testapp.app.cookies.get("spets_session")
    testapp.login("head.a")
    after = testapp.app.cookies.get("spets_session")
    assert before != after


def test_no_secret_in_repository():
    for name in ("development.ini", "production.ini", "testing.ini"):
        text = Path(name).read_text(encoding="utf-8")
        assert not re.search(r"^\s*spets\.session_secret\s*=", text, re.MULTILINE), name


@pytest.fixture
def results_urls(world):
    """A published result sheet in each school with one change requested, and their pages.

    School A's sheet is subject.a9's Mathematics of 9-A, school B's is teacher.b9's
    English of 9-A; the monthly assessment ended on 31 October.
    """
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    from spets.models import ExamKind, Task
    from spets.services import calendar, cycles, org, results
    from spets.services.audit import Actor

    system = Actor.system()
    calendar.save_exam_window(
        world.session,
        world.year,
        None,
        {
            "kind": ExamKind.MONTHLY_ASSESSMENT,
            "name_en": "Monthly assessment (October)",
            "name_ur": "ماہانہ جائزہ",
            "starts_on": date(2026, 10, 26),
            "ends_on": date(2026, 10, 31),
        },
        version=None,
        actor=system,
        now=world.now,
    )
    cycles.add_result_entry_definition(world.session, world.tenant, actor=system, now=world.now)
    org.assign_teacher(
        world.session,
        section=world.section_b9,
        subject=world.subjects["ENG"],
        teacher=world.teacher_b9,
        starts_on=world.year.starts_on,
        actor=system,
        now=world.now,
    )
    tick_at = datetime(2026, 11, 2, 0, 15, tzinfo=ZoneInfo("Asia/Karachi")).astimezone(UTC)
    cycles.tick(world.session, tick_at)
    pages = {}
    for school, head in (("A", world.head_a), ("B", world.head_b)):
        school_id = world.school_a.id if school == "A" else world.school_b.id
        task = world.session.scalars(select(Task).where(Task.school_id == school_id)).one()
        sheet = results.sheet_for_task(world.session, task, world.now)
        teacher = Actor(task.assignee_id)
        roll = results.roll(world.session, sheet)
        typed = {row.student.id: "10" for row in roll}
        results.save_marks(
            world.session, sheet, typed, lock_version=None, actor=teacher, now=world.now
        )
        results.submit_sheet(world.session, sheet, actor=teacher, now=world.now)
        results.verify_sheet(world.session, sheet, actor=Actor(head.id), now=world.now)
        results.publish_sheet(world.session, sheet, actor=Actor(head.id), now=world.now)
        amendment = results.request_amendment(
            world.session,
            sheet,
            roll[0].student.id,
            "12",
            "The marks were added up wrongly.",
            actor=teacher,
            now=world.now,
        )
        s = f"/result-sheets/{sheet.id}"
        pages[school] = {
            "task results": f"/tasks/{task.id}/results",
            "sheet": s,
            "settings": f"{s}/settings",
            "csv": f"{s}/marks.csv",
            "xlsx": f"{s}/marks.xlsx",
            "upload": f"{s}/upload",
            "history": f"{s}/history",
            "amend": f"{s}/amend",
            "amendment": f"/amendments/{amendment.id}",
            "section results": f"/sections/{sheet.section_id}/results",
        }
        pages[school + " post"] = {
            "sheet": s,
            "submit": f"{s}/submit",
            "verify": f"{s}/verify",
            "publish": f"{s}/publish",
            "return": f"{s}/return",
            "settings": f"{s}/settings",
            "upload": f"{s}/upload",
            "amend": f"{s}/amend",
            "amendment": f"/amendments/{amendment.id}",
        }
    pages["admin"] = {
        "results": "/amendments",
        "grade scale": "/admin/grade-scale",
        "options": "/admin/result-options",
    }
    world.session.flush()
    return pages


@pytest.mark.parametrize(("username", "school"), OUTSIDE)
def test_other_school_results_answer_404(testapp, results_urls, world, username, school):
    testapp.login(username)
    statuses = {
        name: testapp.get(url, expect_errors=True).status_int
        for name, url in results_urls[school].items()
    }
    statuses.update(
        {
            f"POST {name}": testapp.post_with_csrf(
                url, {"lock_version": "1", "approve": "approve"}, expect_errors=True
            ).status_int
            for name, url in results_urls[school + " post"].items()
        }
    )
    assert statuses == {name: 404 for name in statuses}
    refused = world.session.scalar(select(func.count()).where(AuditEvent.action == "refused"))
    assert refused == 0  # a 404 writes nothing, not even a refusal


# (username, page, method): status, on school A's published sheet with a change requested.
RESULTS_EXPECTED = {
    ("subject.a9", "sheet", "GET"): 200,
    ("subject.a9", "csv", "GET"): 200,
    ("subject.a9", "xlsx", "GET"): 200,
    ("subject.a9", "history", "GET"): 200,
    ("subject.a9", "amend", "GET"): 200,
    ("subject.a9", "amendment", "GET"): 200,
    ("subject.a9", "section results", "GET"): 200,
    ("subject.a9", "sheet", "POST"): 403,
    ("subject.a9", "upload", "POST"): 403,
    ("subject.a9", "settings", "POST"): 403,
    ("subject.a9", "verify", "POST"): 403,
    ("subject.a9", "amendment", "POST"): 403,
    ("class.a9", "sheet", "GET"): 200,
    ("class.a9", "task results", "GET"): 404,
    ("class.a9", "sheet", "POST"): 403,
    ("class.a9", "amend", "GET"): 403,
    ("class.a9", "settings", "GET"): 403,
    ("teacher.a10", "sheet", "GET"): 404,
    ("teacher.a10", "section results", "GET"): 404,
    ("teacher.a10", "amendment", "GET"): 404,
    ("head.a", "sheet", "GET"): 200,
    ("head.a", "task results", "GET"): 302,
    ("head.a", "amend", "GET"): 200,
    ("head.a", "sheet", "POST"): 403,
    ("head.a", "upload", "POST"): 403,
    ("head.a", "publish", "POST"): 403,
    ("head.a", "amendment", "GET"): 200,
    ("aeo.a", "sheet", "GET"): 200,
    ("aeo.a", "amend", "GET"): 403,
    ("aeo.a", "verify", "POST"): 403,
    ("aeo.a", "amendment", "POST"): 403,
    ("ceo.a", "history", "GET"): 200,
    ("admin", "sheet", "GET"): 200,
    ("admin", "grade scale", "GET"): 200,
    ("admin", "options", "GET"): 200,
    ("admin", "sheet", "POST"): 403,
    ("head.a", "grade scale", "GET"): 403,
    ("head.a", "options", "GET"): 403,
    ("subject.a9", "results", "GET"): 200,
    ("health.a", "results", "GET"): 403,
    ("counsellor.a", "results", "GET"): 403,
}


@pytest.mark.parametrize(("key", "status"), sorted(RESULTS_EXPECTED.items()))
def test_results_permissions(testapp, results_urls, key, status):
    username, page, method = key
    testapp.login(username)
    if method == "GET":
        url = {**results_urls["A"], **results_urls["admin"]}[page]
        response = testapp.get(url, expect_errors=True)
    else:
        url = results_urls["A post"][page]
        response = testapp.post_with_csrf(url, {"lock_version": "1"}, expect_errors=True)
    assert response.status_int == status


def test_results_pages_need_sign_in(testapp, results_urls):
    testapp.app.reset()
    for url in (results_urls["A"]["sheet"], results_urls["A"]["csv"], "/amendments"):
        response = testapp.get(url, status=302)
        assert "/login?came_from=" in response.location
