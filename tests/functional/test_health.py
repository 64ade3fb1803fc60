"""Health pages through the web: screening, referrals end to end, slip, well-being, admin, FHIR."""

import json
import re
import subprocess
from datetime import date

import pytest
from builders import PASSWORD, SYSTEM
from health_builders import build_health
from sqlalchemy import func, select

from spets.models import (
    AuditEvent,
    CycleKind,
    HealthFacility,
    HealthScreening,
    InstrumentResponse,
    OutboxMessage,
    Referral,
    ReferralState,
    ScreeningInstrument,
    Task,
    WellbeingObservation,
)
from spets.services import cycles, guardians

TOKEN = "inbound-test-token"


@pytest.fixture
def hw(world):
    return build_health(world)


def count(session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))


# Screening.


def test_health_menu_replaces_planned_entry(testapp, hw):
    testapp.login("class.a9")
    page = testapp.get("/health")
    assert 'href="http://localhost/health"' in page.text
    assert f"/sections/{hw.world.section_a9.id}/health" in page.text


def test_section_page_lists_students(testapp, hw):
    testapp.login("class.a9")
    page = testapp.get(f"/sections/{hw.world.section_a9.id}/health")
    assert "Ayesha Khan" in page.text
    assert "Severe thinness" in page.text


def test_task_opens_section_page(testapp, hw):
    cycles.tick(hw.world.session, hw.world.now)
    task = hw.world.session.scalar(
        select(Task).where(
            Task.kind == CycleKind.HEALTH_SCREENING, Task.section_id == hw.world.section_a9.id
        )
    )
    testapp.login("class.a9")
    response = testapp.get(f"/tasks/{task.id}/health-screening", status=302)
    assert response.location.endswith(f"/sections/{hw.world.section_a9.id}/health")
    assert f"/tasks/{task.id}/health-screening" in testapp.get("/tasks").text


def test_screening_form_rejects_metres_then_saves(testapp, hw):
    testapp.login("class.a9")
    url = f"/students/{hw.world.student_a9.id}/health/screenings/new"
    page = testapp.submit_form(url, {"height_cm": "1.45", "weight_kg": "35"}, status=200)
    assert "looks like metres" in page.text
    assert "enter 145" in page.text
    before = count(hw.world.session, HealthScreening)
    response = testapp.submit_form(
        url, {"height_cm": "۱۴۵٫۵", "weight_kg": "35.2", "vision_left": "6/6"}, status=302
    )
    assert count(hw.world.session, HealthScreening) == before + 1
    page = response.follow()
    assert "145.5" in page.text
    assert 'id="bmi-z"' in page.text


GUARDIAN_USERNAME = "03001234567"
STAFF_NOTE = "Staff-only note about the family"


def guardian_account(world):
    """Give Muhammad Aslam, Ayesha's father, a portal account with GUARDIAN_USERNAME."""
    guardian = world.guardian_link_a9.guardian
    issued = guardians.issue_invitation(world.session, guardian, actor=SYSTEM, now=world.now)
    started = guardians.start_signup(
        world.session, issued.code, "+923001234567", client_addr=None, locale="en", now=world.now
    )
    sms = world.session.scalar(
        select(OutboxMessage.body).where(
            OutboxMessage.key == f"one-time-code:{started.one_time_code_id}:sms"
        )
    )
    one_time_code = re.search(r"\d{6}", sms).group(0)
    guardians.complete_signup(
        world.session, started, one_time_code, PASSWORD, client_addr=None, now=world.now
    )
    world.session.flush()


def portal_health_page(testapp, world) -> str:
    testapp.login(GUARDIAN_USERNAME)
    return testapp.get(f"/portal/children/{world.student_a9.id}/health").text


def sharing_events(session, screening_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.entity_type == "health_screening",
                AuditEvent.entity_id == screening_id,
                AuditEvent.reason.like("%shared with the guardian"),
            )
            .order_by(AuditEvent.id)
        )
    )


@pytest.mark.parametrize("staff", ["class.a9", "sho.a"])
def test_guardian_sees_screening_only_while_shared(testapp, hw, staff):
    world = hw.world
    guardian_account(world)
    assert 'id="no-health"' in portal_health_page(testapp, world)

    # The staff member records a screening and ticks the box.
    testapp.login(staff)
    url = f"/students/{world.student_a9.id}/health/screenings/new"
    form_page = testapp.get(url)
    assert "never shown to the guardian" in form_page.text
    form = form_page.forms["record-form"]
    assert form["share_with_guardian"].checked is False
    form["height_cm"] = "141.5"
    form["weight_kg"] = "30.5"
    form["vision_left"] = "6/24"
    form["note"] = STAFF_NOTE
    form["share_with_guardian"] = True
    staff_page = form.submit("save", status=302).follow()
    assert "Shared with the guardian" in staff_page.text
    screening = world.session.scalars(
        select(HealthScreening).order_by(HealthScreening.id.desc())
    ).first()
    assert screening.share_with_guardian is True

    shared = portal_health_page(testapp, world)
    assert 'id="no-health"' not in shared
    assert "6/24" in shared
    assert "141.5 cm" in shared
    assert STAFF_NOTE not in shared
    assert "6/18" not in shared  # the earlier screening, never shared

    # Unticking takes the screening off the portal again.
    testapp.login(staff)
    edit = testapp.get(f"/health/screenings/{screening.id}/edit").forms["record-form"]
    assert edit["share_with_guardian"].checked is True
    edit["share_with_guardian"] = False
    staff_page = edit.submit("save", status=302).follow()
    assert "Not shared with the guardian" in staff_page.text

    hidden = portal_health_page(testapp, world)
    assert 'id="no-health"' in hidden
    assert "6/24" not in hidden
    assert STAFF_NOTE not in hidden

    events = sharing_events(world.session, screening.id)
    assert [event.reason for event in events] == [
        "shared with the guardian",
        "no longer shared with the guardian",
    ]
    assert events[1].changes == {"share_with_guardian": {"before": True, "after": False}}


def test_unchanged_sharing_not_audited(testapp, hw):
    world = hw.world
    testapp.login("class.a9")
    testapp.submit_form(
        f"/health/screenings/{hw.screening_a.id}/edit", {"note": "Rechecked"}, status=302
    )
    assert hw.screening_a.share_with_guardian is False
    assert sharing_events(world.session, hw.screening_a.id) == []


def test_raise_referral_from_screening_flag(testapp, hw):
    testapp.login("class.a9")
    page = testapp.get(f"/health/screenings/{hw.screening_a.id}")
    link = f"/students/{hw.world.student_a9.id}/referrals/new?service=nutrition&amp;screening={hw.screening_a.id}"
    assert link in page.text
    form_page = testapp.get(link.replace("&amp;", "&"))
    form = form_page.forms["record-form"]
    assert form["service"].value == "nutrition"
    form["reason"] = "Severe thinness at the yearly screening."
    response = form.submit("save", status=302).follow()
    referral = hw.world.session.scalars(select(Referral).order_by(Referral.id.desc())).first()
    assert (referral.service, referral.screening_id, referral.source.value) == (
        "nutrition",
        hw.screening_a.id,
        "screening",
    )
    assert referral.facility_id == hw.bhu_a.id
    assert "Print the slip" in response.text


# Referrals end to end.


def step_form(page, suffix: str):
    return next(form for form in page.forms.values() if form.action.endswith(suffix))


def test_facility_steps_to_closed_outcome_seen_by_school(testapp, hw):
    referral = hw.referral_a
    testapp.login("health.a")
    page = testapp.get(f"/referrals/{referral.id}")
    assert "Vision 6/18" in page.text  # the facility reads the reason
    step_form(page, "/acknowledge").submit(status=302)
    hw.world.session.refresh(referral)
    assert referral.state == ReferralState.ACKNOWLEDGED

    testapp.submit_form(
        f"/referrals/{referral.id}/appointment", {"appointment_on": "09/12/2026"}, status=302
    )
    hw.world.session.refresh(referral)
    assert (referral.state, referral.appointment_on) == (
        ReferralState.APPOINTMENT,
        date(2026, 12, 9),
    )

    page = testapp.get(f"/referrals/{referral.id}")
    step_form(page, "/seen").submit(status=302)
    testapp.submit_form(
        f"/referrals/{referral.id}/close",
        {"outcome": "Glasses given; seat near the board."},
        status=302,
    )
    hw.world.session.refresh(referral)
    assert referral.state == ReferralState.CLOSED

    testapp.login("class.a9")
    page = testapp.get(f"/referrals/{referral.id}")
    assert "Glasses given; seat near the board." in page.text


def test_school_cannot_take_facility_steps(testapp, hw):
    testapp.login("head.a")
    response = testapp.post_with_csrf(
        f"/referrals/{hw.referral_a.id}/acknowledge", {}, expect_errors=True
    )
    assert response.status_int == 403


def test_stale_step_refused(testapp, hw):
    testapp.login("health.a")
    page = testapp.get(f"/referrals/{hw.referral_a.id}")
    form = step_form(page, "/acknowledge")
    form["version"] = str(hw.referral_a.version - 1)
    form.submit(status=302).follow()
    hw.world.session.refresh(hw.referral_a)
    assert hw.referral_a.state == ReferralState.SENT


def test_school_cancels_with_reason(testapp, hw):
    testapp.login("class.a9")
    page = testapp.submit_form(f"/referrals/{hw.referral_a.id}/cancel", {"reason": ""}, status=200)
    assert "Required" in page.text or "required" in page.text
    testapp.submit_form(
        f"/referrals/{hw.referral_a.id}/cancel", {"reason": "Family moved away."}, status=302
    )
    hw.world.session.refresh(hw.referral_a)
    assert hw.referral_a.state == ReferralState.CANCELLED


def test_slip_pdf_in_urdu_and_english(testapp, hw, tmp_path):
    testapp.login("head.a")
    response = testapp.get(f"/referrals/{hw.referral_a.id}/slip.pdf")
    assert response.content_type == "application/pdf"
    path = tmp_path / "slip.pdf"
    path.write_bytes(response.body)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Referral slip" in text
    assert "Ayesha Khan" in text
    assert "Facility BHU-A" in text
    assert "عائشہ" in text
    assert "6/18" not in text  # the reason stays with the facility


# Well-being.


def test_teacher_records_observation(testapp, hw):
    testapp.login("subject.a9")
    url = f"/students/{hw.world.student_a9.id}/wellbeing/observe"
    page = testapp.get(url)
    form = page.forms["record-form"]
    form.set("checkbox", True, index=0)  # Deform names each checkbox of the list "checkbox"
    form["note"] = "Sits alone at break."
    form.submit("save", status=302)
    observation = hw.world.session.scalars(
        select(WellbeingObservation).order_by(WellbeingObservation.id.desc())
    ).first()
    assert observation.observer_id == hw.world.subject_teacher_a9.id
    assert observation.signs == ["withdrawn"]
    assert (
        testapp.get(f"/wellbeing/observations/{observation.id}", expect_errors=True).status_int
        == 403
    )


def test_counsellor_gives_screener_with_safety_item(testapp, hw):
    session = hw.world.session
    testapp.login("counsellor.a")
    url = f"/students/{hw.world.student_a9.id}/wellbeing/screener"
    page = testapp.get(url)
    assert "No published, validated Urdu translation" in page.text
    phq = session.scalar(select(ScreeningInstrument).where(ScreeningInstrument.code == "PHQ-9"))
    form = page.forms["record-form"]
    form["instrument"] = str(phq.id)
    form["language"] = "en"
    form["guardian_consent_by"] = "Muhammad Aslam (father)"
    form["guardian_consent_on"] = "01/12/2026"
    form["answered_on"] = "03/12/2026"
    items = form.submit("save", status=302).follow()
    assert "Over the last 2 weeks" in items.text
    assert "Thoughts that you would be better off dead" in items.text
    form = items.forms["record-form"]
    # Deform names each radio group by its field id, in the order of the items.
    groups = [name for name in form.fields if name and name.startswith("deformField")]
    assert len(groups) == 9
    for position, name in enumerate(groups):
        form[name] = "1" if position == 8 else "0"
    result = form.submit("save", status=302).follow()
    assert "urgent referral was raised" in result.text
    response = session.scalars(
        select(InstrumentResponse).order_by(InstrumentResponse.id.desc())
    ).first()
    assert response.safety_positive
    referral = session.scalar(select(Referral).where(Referral.response_id == response.id))
    assert referral.urgent


def test_screener_refused_without_consent(testapp, hw):
    testapp.login("counsellor.a")
    page = testapp.submit_form(
        f"/students/{hw.world.student_a9.id}/wellbeing/screener",
        {"language": "en", "guardian_consent_by": ""},
        status=200,
    )
    assert "Required" in page.text
    assert count(hw.world.session, InstrumentResponse) == 0


# Administration.


def test_admin_loads_instrument(testapp, hw):
    testapp.login("admin")
    page = testapp.get("/admin/instruments")
    assert "PHQ-9" in page.text and "GAD-7" in page.text
    bad = testapp.submit_form("/admin/instruments", {"definition": "{nope"}, status=200)
    assert "not JSON" in bad.text
    data = json.loads(page.html.find("pre").text)
    data["version_label"] = "web-1"
    testapp.submit_form("/admin/instruments", {"definition": json.dumps(data)}, status=302)
    assert (
        count(hw.world.session, ScreeningInstrument, ScreeningInstrument.version_label == "web-1")
        == 1
    )


def test_admin_adds_facility(testapp, hw):
    testapp.login("admin")
    page = testapp.get("/admin/facilities/new")
    form = page.forms["record-form"]
    form["code"] = "BHU-NEW"
    form["name_en"] = "Basic Health Unit New"
    form["kind"] = "bhu"
    form["district"] = hw.world.district_a.code
    form["tehsil"] = hw.world.tehsil_a.code
    form.set("checkbox", True, index=0)
    form["phone"] = "061-9200123"
    form.submit("save", status=302)
    facility = hw.world.session.scalar(
        select(HealthFacility).where(HealthFacility.code == "BHU-NEW")
    )
    assert facility.services == ["general"]
    assert facility.tehsil_id == hw.world.tehsil_a.id


def test_facility_import_reports_problems_then_saves(testapp, hw):
    testapp.login("admin")
    bad = "code,name_en,kind,district,services\nX-1,Clinic,clinic,DST-A,general\n"
    page = testapp.get("/admin/facilities/import")
    form = step_form(page, "/admin/facilities/import")
    form["file"] = ("list.csv", bad.encode())
    report = form.submit(status=200)
    assert "Nothing was saved" in report.text
    assert "clinic" in report.text
    good = "code,name_en,kind,district,services\nX-1,Clinic,rhc,DST-A,general\n"
    form = step_form(testapp.get("/admin/facilities/import"), "/admin/facilities/import")
    form["file"] = ("list.csv", good.encode())
    form.submit(status=302)
    assert count(hw.world.session, HealthFacility, HealthFacility.code == "X-1") == 1


def test_admin_pages_refused_to_head_teacher(testapp, hw):
    testapp.login("head.a")
    for url in (
        "/admin/facilities",
        "/admin/facilities/new",
        "/admin/instruments",
        "/admin/facilities/import",
    ):
        assert testapp.get(url, expect_errors=True).status_int == 403


# FHIR status updates.


def completed(referral_id: int) -> bytes:
    return json.dumps(
        {
            "resourceType": "Task",
            "status": "completed",
            "intent": "order",
            "focus": {"reference": f"ServiceRequest/spets-referral-{referral_id}"},
            "output": [{"type": {"text": "outcome"}, "valueString": "Glasses prescribed."}],
        }
    ).encode()


def post_fhir(testapp, body: bytes, token: str | None = TOKEN, status=None):
    headers = {"Content-Type": "application/fhir+json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    testapp.app.reset()
    return testapp.app.post(
        "/fhir/status", body, headers=headers, status=status, expect_errors=True
    )


@pytest.fixture
def fhir_token(monkeypatch):
    monkeypatch.setenv("SPETS_FHIR_INBOUND_TOKEN", TOKEN)


def test_fhir_update_closes_referral(testapp, hw, fhir_token):
    response = post_fhir(testapp, completed(hw.referral_a.id), status=200)
    assert response.json["resourceType"] == "OperationOutcome"
    hw.world.session.refresh(hw.referral_a)
    assert hw.referral_a.state == ReferralState.CLOSED
    assert hw.referral_a.outcome == "Glasses prescribed."


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_fhir_unauthenticated_changes_nothing(testapp, hw, fhir_token, token):
    response = post_fhir(testapp, completed(hw.referral_a.id), token=token, status=401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "bearer token" in response.json["issue"][0]["diagnostics"]
    hw.world.session.refresh(hw.referral_a)
    assert hw.referral_a.state == ReferralState.SENT


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{broken", 400, "not JSON"),
        (
            b'{"resourceType": "Task", "status": "completed", "intent": "order"}',
            400,
            "No referral is named",
        ),
        (b'{"resourceType": "Task", "status": "draft", "intent": "order"}', 422, "does not move"),
    ],
)
def test_fhir_malformed_changes_nothing(testapp, hw, fhir_token, body, status, words):
    response = post_fhir(testapp, body, status=status)
    assert words in response.json["issue"][0]["diagnostics"]
    hw.world.session.refresh(hw.referral_a)
    assert hw.referral_a.state == ReferralState.SENT


def test_fhir_unknown_referral_404(testapp, hw, fhir_token):
    response = post_fhir(testapp, completed(987654), status=404)
    assert "not known" in response.json["issue"][0]["diagnostics"]


def test_fhir_refuses_all_without_configured_token(testapp, hw, monkeypatch):
    monkeypatch.delenv("SPETS_FHIR_INBOUND_TOKEN", raising=False)
    response = post_fhir(testapp, completed(hw.referral_a.id), status=503)
    assert "SPETS_FHIR_INBOUND_TOKEN" in response.json["issue"][0]["diagnostics"]


def test_fhir_get_not_served(testapp, hw):
    assert testapp.get("/fhir/status", expect_errors=True).status_int == 404


# Urdu.


def test_urdu_referral_page(testapp, hw):
    hw.world.head_a.locale = "ur"
    hw.world.session.flush()
    testapp.login("head.a")
    page = testapp.get(f"/referrals/{hw.referral_a.id}")
    assert '<html lang="ur" dir="rtl"' in page.text
