"""Who reaches a referral, a screening and a well-being record: 404 outside scope, every read audited."""

import pytest
from health_builders import build_health
from sqlalchemy import select

from spets.models import AuditAction, AuditEvent, ReferralSource, User
from spets.services import referrals
from spets.services.audit import Actor


@pytest.fixture
def hw(world):
    return build_health(world)


def urls(hw) -> dict[str, dict[str, str]]:
    """School A's records, each with the pages that show or change it."""
    referral, screening, observation = hw.referral_a, hw.screening_a, hw.observation_a
    student = hw.world.student_a9.id
    return {
        "referral": {
            "view": f"/referrals/{referral.id}",
            "slip": f"/referrals/{referral.id}/slip.pdf",
            "appointment": f"/referrals/{referral.id}/appointment",
            "close": f"/referrals/{referral.id}/close",
            "cancel": f"/referrals/{referral.id}/cancel",
        },
        "screening": {
            "view": f"/health/screenings/{screening.id}",
            "edit": f"/health/screenings/{screening.id}/edit",
        },
        "wellbeing": {
            "observation": f"/wellbeing/observations/{observation.id}",
            "student record": f"/students/{student}/wellbeing",
            "screener": f"/students/{student}/wellbeing/screener",
        },
    }


# A teacher of another section, a head teacher of another school, health staff of
# another facility (in the same district and in another one), and another tenant's admin.
OUTSIDERS = ["teacher.a10", "head.b", "health.b", "health.hosp", "admin.net"]


@pytest.mark.parametrize("username", OUTSIDERS)
@pytest.mark.parametrize("record", ["referral", "screening", "wellbeing"])
def test_outsiders_get_404(testapp, hw, username, record):
    testapp.login(username)
    statuses = {
        name: testapp.get(url, expect_errors=True).status_int
        for name, url in urls(hw)[record].items()
    }
    assert statuses == {name: 404 for name in statuses}


@pytest.mark.parametrize("username", OUTSIDERS)
def test_outsiders_cannot_act_on_referral(testapp, hw, username):
    testapp.login(username)
    for step in ("acknowledge", "seen"):
        response = testapp.post_with_csrf(
            f"/referrals/{hw.referral_a.id}/{step}", {}, expect_errors=True
        )
        assert response.status_int == 404
    hw.world.session.refresh(hw.referral_a)
    assert hw.referral_a.state.value == "sent"


@pytest.mark.parametrize("username", OUTSIDERS)
def test_outsiders_see_no_record_in_lists(testapp, hw, username):
    testapp.login(username)
    student = hw.world.student_a9
    for url in ("/health", "/referrals", "/referrals/queue", "/referrals?escalated=1"):
        page = testapp.get(url, expect_errors=True)
        assert page.status_int in (200, 403)
        assert f'/referrals/{hw.referral_a.id}"' not in page.text
        assert student.name_en not in page.text


# (username, record, page): status for school A's records. Every 200 is audited.
IN_SCOPE = {
    ("class.a9", "referral", "view"): 200,
    ("head.a", "referral", "view"): 200,
    ("sho.a", "referral", "view"): 200,
    ("counsellor.a", "referral", "view"): 200,
    ("dho.a", "referral", "view"): 200,
    ("health.a", "referral", "view"): 200,
    ("subject.a9", "referral", "view"): 404,
    ("health.a", "referral", "cancel"): 403,
    ("head.a", "referral", "close"): 403,
    ("dho.a", "referral", "cancel"): 403,
    ("class.a9", "screening", "view"): 200,
    ("head.a", "screening", "view"): 200,
    ("sho.a", "screening", "view"): 200,
    ("subject.a9", "screening", "view"): 403,
    ("counsellor.a", "screening", "view"): 403,
    ("health.a", "screening", "view"): 404,
    ("dho.a", "screening", "view"): 404,
    ("head.a", "wellbeing", "observation"): 200,
    ("counsellor.a", "wellbeing", "observation"): 200,
    ("sho.a", "wellbeing", "observation"): 200,
    ("class.a9", "wellbeing", "observation"): 403,
    ("subject.a9", "wellbeing", "observation"): 403,
    ("health.a", "wellbeing", "observation"): 404,
    ("head.a", "wellbeing", "student record"): 200,
    ("counsellor.a", "wellbeing", "student record"): 200,
    ("class.a9", "wellbeing", "student record"): 403,
    # The AEO monitors the school's students but reads no health record.
    ("aeo.a", "referral", "view"): 404,
    ("aeo.a", "screening", "view"): 403,
    ("aeo.a", "wellbeing", "observation"): 403,
}

READ_ENTITY = {
    "referral": "referral",
    "screening": "health_screening",
    "observation": "wellbeing_observation",
    "student record": "student_wellbeing",
}


@pytest.mark.parametrize(("key", "status"), sorted(IN_SCOPE.items()))
def test_in_scope_access(testapp, hw, key, status):
    username, record, page = key
    testapp.login(username)
    assert testapp.get(urls(hw)[record][page], expect_errors=True).status_int == status


@pytest.mark.parametrize("key", sorted(key for key, status in IN_SCOPE.items() if status == 200))
def test_every_allowed_read_is_audited(testapp, hw, key):
    username, record, page = key
    session = hw.world.session
    user_id = session.scalar(select(User.id).where(User.username == username))
    testapp.login(username)
    testapp.get(urls(hw)[record][page], status=200)
    entity = READ_ENTITY[record if record != "wellbeing" else page]
    events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.actor_id == user_id,
            AuditEvent.action == AuditAction.READ,
            AuditEvent.entity_type == entity,
        )
    ).all()
    assert len(events) == 1
    event = events[0]
    assert event.student_id == hw.world.student_a9.id
    assert event.category in ("health", "wellbeing")
    assert event.reason


def test_profile_panel_read_audited(testapp, hw):
    session = hw.world.session
    testapp.login("class.a9")
    page = testapp.get(f"/students/{hw.world.student_a9.id}")
    assert 'id="health"' in page.text
    assert "<polyline" in page.text
    reads = session.scalars(
        select(AuditEvent.entity_type).where(
            AuditEvent.actor_id == hw.world.class_teacher_a9.id,
            AuditEvent.action == AuditAction.READ,
        )
    ).all()
    assert "student_health" in reads
    assert "student_wellbeing" not in reads  # a class teacher gets the observation link only


def test_counsellor_profile_shows_wellbeing_not_health(testapp, hw):
    testapp.login("counsellor.a")
    page = testapp.get(f"/students/{hw.world.student_a9.id}")
    assert 'id="wellbeing"' in page.text
    assert 'id="health"' not in page.text


def test_teacher_profile_offers_observation_only(testapp, hw):
    testapp.login("subject.a9")
    page = testapp.get(f"/students/{hw.world.student_a9.id}")
    assert 'id="wellbeing_observe"' in page.text
    assert f"/wellbeing/observations/{hw.observation_a.id}" not in page.text
    assert 'id="health"' not in page.text


def test_mental_health_referral_hidden_from_class_teacher(testapp, hw):
    referral = referrals.raise_referral(
        hw.world.session,
        student=hw.world.student_a9,
        service="mental_health",
        reason="Persistent sadness reported by the counsellor.",
        source=ReferralSource.TEACHER,
        actor=Actor(hw.world.counsellor_a.id),
        now=hw.world.now,
    )
    testapp.login("class.a9")
    assert testapp.get(f"/referrals/{referral.id}", expect_errors=True).status_int == 404
    assert f'/referrals/{referral.id}"' not in testapp.get("/referrals").text
    testapp.login("counsellor.a")
    assert testapp.get(f"/referrals/{referral.id}").status_int == 200
    testapp.login("health.hosp")
    assert testapp.get(f"/referrals/{referral.id}").status_int == 200


def test_facility_staff_see_their_queue_only(testapp, hw):
    testapp.login("health.a")
    queue = testapp.get("/referrals/queue")
    assert f'/referrals/{hw.referral_a.id}"' in queue.text
    assert f'/referrals/{hw.referral_b.id}"' not in queue.text
    assert testapp.get(f"/students/{hw.world.student_a9.id}", expect_errors=True).status_int == 404
    testapp.login("health.b")
    queue = testapp.get("/referrals/queue")
    assert f'/referrals/{hw.referral_b.id}"' in queue.text
    assert f'/referrals/{hw.referral_a.id}"' not in queue.text


def test_district_officer_sees_district_only(testapp, hw):
    testapp.login("dho.a")
    page = testapp.get("/referrals")
    assert f'/referrals/{hw.referral_a.id}"' in page.text
    assert f'/referrals/{hw.referral_b.id}"' not in page.text
    assert testapp.get(f"/referrals/{hw.referral_b.id}", expect_errors=True).status_int == 404


def referral_reads(session, user_id, referral_id) -> list[str]:
    return session.scalars(
        select(AuditEvent.reason).where(
            AuditEvent.actor_id == user_id,
            AuditEvent.action == AuditAction.READ,
            AuditEvent.entity_type == "referral",
            AuditEvent.entity_id == referral_id,
        )
    ).all()


@pytest.mark.parametrize(
    ("username", "url", "reason"),
    [
        ("head.a", "/referrals", "referral list"),
        ("head.a", "/health", "health page"),
        ("health.a", "/referrals/queue", "facility queue"),
        ("health.a", "/health", "health page"),
    ],
)
def test_list_reads_audited_per_referral(testapp, hw, username, url, reason):
    session = hw.world.session
    user_id = session.scalar(select(User.id).where(User.username == username))
    testapp.login(username)
    page = testapp.get(url)
    assert f'/referrals/{hw.referral_a.id}"' in page.text
    assert referral_reads(session, user_id, hw.referral_a.id) == [reason]


def test_section_page_reads_audited_per_student(testapp, hw):
    session = hw.world.session
    testapp.login("class.a9")
    testapp.get(f"/sections/{hw.world.section_a9.id}/health")
    students = session.scalars(
        select(AuditEvent.student_id).where(
            AuditEvent.actor_id == hw.world.class_teacher_a9.id,
            AuditEvent.entity_type == "health_screening",
            AuditEvent.action == AuditAction.READ,
        )
    ).all()
    assert students == [hw.world.student_a9.id]


def test_mental_health_referral_hidden_on_health_page(testapp, hw):
    referral = referrals.raise_referral(
        hw.world.session,
        student=hw.world.student_a9,
        service="mental_health",
        reason="Persistent sadness reported by the counsellor.",
        source=ReferralSource.TEACHER,
        actor=Actor(hw.world.counsellor_a.id),
        now=hw.world.now,
    )
    testapp.login("class.a9")
    page = testapp.get("/health")
    assert f'/referrals/{hw.referral_a.id}"' in page.text
    assert f'/referrals/{referral.id}"' not in page.text
    testapp.login("head.a")
    assert f'/referrals/{referral.id}"' in testapp.get("/health").text


def test_signed_in_user_cannot_post_fhir_update(testapp, hw, monkeypatch):
    monkeypatch.setenv("SPETS_FHIR_INBOUND_TOKEN", "inbound-test-token")
    testapp.login("head.a")
    response = testapp.post(
        "/fhir/status",
        b'{"resourceType": "Task", "status": "completed", "intent": "order"}',
        headers={"Content-Type": "application/fhir+json"},
        expect_errors=True,
    )
    assert response.status_int == 401
    hw.world.session.refresh(hw.referral_a)
    assert hw.referral_a.state.value == "sent"
