"""Access to the attendance, behaviour, early-warning and plan pages, role by role.

The matrix lists every route of these domains with the status each role gets on school A's
records, and a test fails when a route is added without a row here. Another school's records
answer 404 to every role outside it, as on the other pages (tests/functional/test_security.py).
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from functional.test_security import OUTSIDE, registered_views

from spets.models import (
    CycleKind,
    EarlyWarningFlag,
    FlagArea,
    FlagLevel,
    IncidentKind,
    Task,
)
from spets.services import attendance, behaviour, cycles, plans
from spets.services.audit import Actor

KARACHI = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()
TODAY = date(2026, 12, 4)
DOMAINS = ("attendance.", "behaviour.", "flags.", "plans.")


def _task(session, kind, section_id):
    from sqlalchemy import select

    return session.scalars(
        select(Task).where(Task.kind == kind, Task.section_id == section_id)
    ).one()


def _school_records(w, school, section, student, class_teacher, head) -> dict[str, str]:
    """Create an incident, a flag and a plan for the student; return the school's URLs by page."""
    session = w.session
    incident = behaviour.save_incident(
        session,
        student,
        None,
        {
            "kind": IncidentKind.NEGATIVE,
            "category": "fighting",
            "occurred_on": date(2026, 12, 3),
            "description": "A fight at the gate.",
            "follow_up": "",
        },
        version=None,
        actor=Actor(head.id),
        now=w.now,
    )
    flag = EarlyWarningFlag(
        student_id=student.id,
        school_id=school.id,
        area=FlagArea.ATTENDANCE,
        level=FlagLevel.WATCH,
        reasons=[],
        raised_at=w.now,
        updated_at=w.now,
    )
    session.add(flag)
    session.flush()
    plan = plans.create_plan(
        session,
        student,
        {
            "goal": "Attend every day.",
            "actions": "Daily check-in.",
            "owner_id": class_teacher.id,
            "parent_consent": False,
            "parent_consent_on": None,
            "review_on": date(2026, 12, 5),
        },
        flag_id=flag.id,
        actor=Actor(head.id),
        now=w.now,
    )
    review = plan.reviews[0]
    daily = _task(session, CycleKind.DAILY_ATTENDANCE, section.id)
    rubric = _task(session, CycleKind.BEHAVIOUR_RUBRIC, section.id)
    return {
        "attendance.school": f"/schools/{school.id}/attendance",
        "attendance.options": f"/schools/{school.id}/attendance/options",
        "attendance.section": f"/sections/{section.id}/attendance",
        "attendance.register": f"/sections/{section.id}/attendance/{TODAY.isoformat()}",
        "attendance.task": f"/tasks/{daily.id}/attendance",
        "behaviour.rubric": f"/tasks/{rubric.id}/behaviour",
        "behaviour.section": f"/sections/{section.id}/behaviour",
        "behaviour.incident_new": f"/students/{student.id}/incidents/new",
        "behaviour.incident_edit": f"/incidents/{incident.id}/edit",
        "flags.school": f"/schools/{school.id}/flags",
        "flags.recompute_school": f"/schools/{school.id}/flags/recompute",
        "flags.section": f"/sections/{section.id}/flags",
        "flags.recompute_student": f"/students/{student.id}/flags/recompute",
        "plans.new": f"/students/{student.id}/plans/new",
        "plans.view": f"/plans/{plan.id}",
        "plans.edit": f"/plans/{plan.id}/edit",
        "plans.review": f"/plan-reviews/{review.id}",
        "plans.review_task": f"/tasks/{review.task_id}/review",
    }


@pytest.fixture
def urls(world):
    attendance.add_attendance_definitions(world.session, world.tenant, actor=SYSTEM, now=world.now)
    cycles.tick(world.session, datetime(2026, 12, 4, 0, 15, tzinfo=KARACHI).astimezone(UTC))
    found = {
        "A": _school_records(
            world,
            world.school_a,
            world.section_a9,
            world.student_a9,
            world.class_teacher_a9,
            world.head_a,
        ),
        "B": _school_records(
            world,
            world.school_b,
            world.section_b9,
            world.student_b9,
            world.teacher_b9,
            world.head_b,
        ),
        "common": {"attendance.home": "/attendance", "flags.settings": "/admin/warning-settings"},
    }
    world.session.flush()
    return found


# Routes that change something, and whose GET is no page of its own.
POST_ONLY = {"flags.recompute_school", "flags.recompute_student"}
# Routes whose POST the matrix checks too: every route with a form. An empty POST by a
# role allowed to write comes back as the form with its errors (200), or is saved as it
# was sent (302) where an empty form is valid: the register, the rubric and the options,
# whose only field is a checkbox.
WITH_POST = {
    "attendance.register",
    "attendance.options",
    "behaviour.rubric",
    "behaviour.incident_new",
    "behaviour.incident_edit",
    "flags.settings",
    "plans.new",
    "plans.edit",
    "plans.review",
} | POST_ONLY

# (role, route, method): status on school A's records (or on the pages of no school).
ROLES = (
    "head.a",
    "class.a9",
    "subject.a9",
    "teacher.a10",
    "aeo.a",
    "admin",
    "counsellor.a",
    "health.a",
)
EXPECTED = {
    "attendance.home": dict(zip(ROLES, (200, 200, 200, 200, 200, 200, 403, 403), strict=True)),
    "flags.settings": dict(zip(ROLES, (403, 403, 403, 403, 403, 200, 403, 403), strict=True)),
    "flags.settings POST": dict(zip(ROLES, (403, 403, 403, 403, 403, 200, 403, 403), strict=True)),
    "attendance.school": dict(zip(ROLES, (200, 403, 403, 403, 200, 200, 404, 404), strict=True)),
    "attendance.options": dict(zip(ROLES, (200, 403, 403, 403, 403, 200, 404, 404), strict=True)),
    "attendance.options POST": dict(
        zip(ROLES, (302, 403, 403, 403, 403, 302, 404, 404), strict=True)
    ),
    "attendance.section": dict(zip(ROLES, (200, 200, 200, 404, 200, 200, 404, 404), strict=True)),
    "attendance.register": dict(zip(ROLES, (200, 200, 200, 404, 200, 200, 404, 404), strict=True)),
    "attendance.register POST": dict(
        zip(ROLES, (302, 302, 403, 404, 403, 302, 404, 404), strict=True)
    ),
    "attendance.task": dict(zip(ROLES, (302, 302, 404, 404, 302, 302, 404, 404), strict=True)),
    "behaviour.rubric": dict(zip(ROLES, (200, 200, 404, 404, 200, 200, 404, 404), strict=True)),
    "behaviour.rubric POST": dict(
        zip(ROLES, (302, 302, 404, 404, 403, 302, 404, 404), strict=True)
    ),
    "behaviour.section": dict(zip(ROLES, (200, 200, 200, 404, 200, 200, 404, 404), strict=True)),
    "behaviour.incident_new": dict(
        zip(ROLES, (200, 200, 200, 404, 403, 200, 403, 404), strict=True)
    ),
    "behaviour.incident_new POST": dict(
        zip(ROLES, (200, 200, 200, 404, 403, 200, 403, 404), strict=True)
    ),
    "behaviour.incident_edit": dict(
        zip(ROLES, (200, 200, 200, 404, 403, 200, 403, 404), strict=True)
    ),
    "behaviour.incident_edit POST": dict(
        zip(ROLES, (200, 200, 200, 404, 403, 200, 403, 404), strict=True)
    ),
    "flags.school": dict(zip(ROLES, (200, 403, 403, 403, 200, 200, 404, 404), strict=True)),
    "flags.recompute_school POST": dict(
        zip(ROLES, (302, 403, 403, 403, 302, 302, 404, 404), strict=True)
    ),
    "flags.section": dict(zip(ROLES, (200, 200, 403, 404, 200, 200, 404, 404), strict=True)),
    "flags.recompute_student POST": dict(
        zip(ROLES, (302, 302, 403, 404, 302, 302, 403, 404), strict=True)
    ),
    "plans.new": dict(zip(ROLES, (200, 200, 403, 404, 403, 200, 403, 404), strict=True)),
    "plans.new POST": dict(zip(ROLES, (200, 200, 403, 404, 403, 200, 403, 404), strict=True)),
    "plans.view": dict(zip(ROLES, (200, 200, 403, 404, 200, 200, 403, 404), strict=True)),
    "plans.edit": dict(zip(ROLES, (200, 200, 403, 404, 403, 200, 403, 404), strict=True)),
    "plans.edit POST": dict(zip(ROLES, (200, 200, 403, 404, 403, 200, 403, 404), strict=True)),
    "plans.review": dict(zip(ROLES, (200, 200, 403, 404, 200, 200, 403, 404), strict=True)),
    "plans.review POST": dict(zip(ROLES, (200, 200, 403, 404, 403, 200, 403, 404), strict=True)),
    "plans.review_task": dict(zip(ROLES, (302, 302, 404, 404, 302, 302, 404, 404), strict=True)),
}


def test_matrix_covers_every_route(wsgi_app):
    routes = {
        introspectable["route_name"]
        for introspectable, _related in registered_views(wsgi_app)
        if (introspectable["route_name"] or "").startswith(DOMAINS)
    }
    covered = {key.removesuffix(" POST") for key in EXPECTED}
    assert routes == covered
    assert {key for key in EXPECTED if key.endswith(" POST")} == {
        f"{route} POST" for route in WITH_POST
    }


def request_status(testapp, url: str, method: str) -> int:
    if method == "POST":
        return testapp.post_with_csrf(url, {}, expect_errors=True).status_int
    return testapp.get(url, expect_errors=True).status_int


def url_of(urls, route: str, school: str = "A") -> str:
    return urls["common"].get(route) or urls[school][route]


@pytest.mark.parametrize("role", ROLES)
def test_in_scope_matrix(testapp, urls, role):
    testapp.login(role)
    statuses = {}
    for key in EXPECTED:
        route, _space, method = key.partition(" ")
        statuses[key] = request_status(testapp, url_of(urls, route), method or "GET")
    assert statuses == {key: row[role] for key, row in EXPECTED.items()}


@pytest.mark.parametrize(("username", "school"), OUTSIDE)
def test_other_school_records_answer_404(testapp, urls, username, school):
    testapp.login(username)
    statuses = {}
    for route, url in urls[school].items():
        if route not in POST_ONLY:
            statuses[route] = request_status(testapp, url, "GET")
        if route in WITH_POST:
            statuses[f"{route} POST"] = request_status(testapp, url, "POST")
    assert statuses == {key: 404 for key in statuses}


def test_plan_owner_reviews_without_other_rights(testapp, urls, world):
    """A subject teacher who owns a plan may open it and record its review, nothing more."""
    from sqlalchemy import select

    from spets.models import InterventionPlan

    plan = world.session.scalars(
        select(InterventionPlan).where(InterventionPlan.student_id == world.student_a9.id)
    ).one()
    plan.owner_id = world.subject_teacher_a9.id
    world.session.flush()
    testapp.login("subject.a9")
    assert testapp.get(urls["A"]["plans.view"]).status_int == 200
    assert testapp.get(urls["A"]["plans.review"]).status_int == 200
    assert testapp.get(urls["A"]["plans.new"], expect_errors=True).status_int == 403
    assert testapp.get(urls["A"]["flags.section"], expect_errors=True).status_int == 403


def test_pages_need_sign_in(testapp, urls):
    testapp.app.reset()
    for route, url in {**urls["A"], **urls["common"]}.items():
        if route in POST_ONLY:
            continue
        response = testapp.get(url, status=302)
        assert "/login?came_from=" in response.location, route
