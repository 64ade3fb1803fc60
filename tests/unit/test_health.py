"""Screenings, the yearly task, facilities and their import, instruments, observations, screeners."""

import json
from datetime import date
from decimal import Decimal

import pytest
from health_builders import build_health, screening_values
from sqlalchemy import func, select

from spets.models import (
    AuditAction,
    AuditEvent,
    Channel,
    CycleKind,
    FacilityKind,
    HealthFacility,
    HealthScreening,
    InstrumentResponse,
    OutboxMessage,
    Referral,
    ReferralSource,
    ScreeningInstrument,
    Task,
    TaskState,
)
from spets.services import cycles, facilities, health, wellbeing
from spets.services.audit import Actor
from spets.services.errors import InvalidInput

SYSTEM = Actor.system()


@pytest.fixture
def hw(world):
    return build_health(world)


def count(session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))


# Screenings.


def test_screening_stores_who_scores(hw):
    screening = hw.screening_a
    # Ayesha: a girl born 14/08/2011, measured 16/11/2026 (5573 days: 183.10 months),
    # 140 cm and 27 kg. Height: M 161.9644, S 0.042343 at 183.10 months, so
    # (140/161.9644 - 1)/0.042343 = -3.20.
    assert screening.age_months == Decimal("183.10")
    assert screening.bmi == Decimal("13.78")
    assert screening.bmi_for_age_z == Decimal("-3.43")
    assert screening.height_for_age_z == Decimal("-3.20")
    assert screening.weight_for_age_z is None
    assert screening.classifications == ["severe_thinness", "stunting"]
    assert screening.implausible == []


def test_screening_flags_suggest_services(hw):
    flags = {flag.code: flag.service for flag in health.screening_flags(hw.screening_a)}
    assert flags == {
        "severe_thinness": "nutrition",
        "stunting": "nutrition",
        "vision_left": "vision",
    }


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"height_cm": Decimal("1.4")}, "height_cm", "looks like metres"),
        ({"weight_kg": Decimal("27000")}, "weight_kg", "looks like grams"),
        ({"screened_on": date(2026, 12, 25)}, "screened_on", "in the future"),
    ],
)
def test_screening_rejects_mix_ups(world, values, field, words):
    health.add_default_definitions(world.session, world.tenant, actor=SYSTEM, now=world.now)
    with pytest.raises(InvalidInput) as raised:
        health.record_screening(
            world.session, world.student_a9, screening_values(**values), actor=SYSTEM, now=world.now
        )
    assert field in raised.value.field_errors
    assert words in raised.value.message.interpolate()


def test_screening_audit_keeps_values_out(hw):
    event = hw.world.session.scalar(
        select(AuditEvent).where(
            AuditEvent.entity_type == "health_screening", AuditEvent.entity_id == hw.screening_a.id
        )
    )
    assert event.category == "health"
    assert event.changes["height_cm"] == {"before": "(health data)", "after": "(health data)"}
    assert "140" not in json.dumps(event.changes)


def test_screening_correction_checks_version(hw):
    session = hw.world.session
    with pytest.raises(Exception, match="Someone else saved"):
        health.record_screening(
            session,
            hw.world.student_a9,
            screening_values(weight_kg=Decimal("30.0")),
            actor=SYSTEM,
            now=hw.world.now,
            screening=hw.screening_a,
            version=hw.screening_a.version - 1,
        )
    health.record_screening(
        session,
        hw.world.student_a9,
        screening_values(weight_kg=Decimal("30.0")),
        actor=SYSTEM,
        now=hw.world.now,
        screening=hw.screening_a,
        version=hw.screening_a.version,
    )
    assert hw.screening_a.bmi == Decimal("15.31")
    assert "severe_thinness" not in hw.screening_a.classifications


def test_screening_sharing_default_and_kept(hw):
    session, student = hw.world.session, hw.world.student_a9
    assert hw.screening_a.share_with_guardian is False

    def correct(**extra):
        return health.record_screening(
            session,
            student,
            screening_values(**extra),
            actor=SYSTEM,
            now=hw.world.now,
            screening=hw.screening_a,
            version=hw.screening_a.version,
        )

    correct(share_with_guardian=True)
    assert hw.screening_a.share_with_guardian is True
    correct(note="No share_with_guardian value: the choice stays")
    assert hw.screening_a.share_with_guardian is True
    assert health.appstruct_of(hw.screening_a)["share_with_guardian"] is True


def test_screening_sharing_audited_with_value(hw):
    session, student = hw.world.session, hw.world.student_a9
    screening = health.record_screening(
        session,
        student,
        screening_values(share_with_guardian=True),
        actor=SYSTEM,
        now=hw.world.now,
    )
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "health_screening", AuditEvent.entity_id == screening.id)
        .order_by(AuditEvent.id)
    ).all()
    assert [event.action for event in events] == [AuditAction.CREATE, AuditAction.UPDATE]
    assert "share_with_guardian" not in events[0].changes
    assert events[1].reason == "shared with the guardian"
    assert events[1].changes == {"share_with_guardian": {"before": False, "after": True}}


def test_yearly_task_per_section_for_class_teacher(world):
    health.add_default_definitions(world.session, world.tenant, actor=SYSTEM, now=world.now)
    cycles.tick(world.session, world.now)
    screening_tasks = world.session.scalars(
        select(Task).where(Task.kind == CycleKind.HEALTH_SCREENING)
    ).all()
    assert {(task.section_id, task.assignee_id) for task in screening_tasks} == {
        (world.section_a9.id, world.class_teacher_a9.id),
        (world.section_a10.id, world.teacher_a10.id),
        (world.section_b9.id, world.teacher_b9.id),
    }
    assert {task.cycle_run.period_key for task in screening_tasks} == {"2026-27/year"}
    assert cycles.tick(world.session, world.now).tasks_created == 0


def test_screening_starts_the_section_task(world):
    health.add_default_definitions(world.session, world.tenant, actor=SYSTEM, now=world.now)
    cycles.tick(world.session, world.now)
    screening = health.record_screening(
        world.session,
        world.student_a9,
        screening_values(),
        actor=Actor(world.class_teacher_a9.id),
        now=world.now,
    )
    task = world.session.get(Task, screening.task_id)
    assert (task.section_id, task.state) == (world.section_a9.id, TaskState.IN_PROGRESS)


def test_default_definitions_added_once(world):
    first = health.add_default_definitions(world.session, world.tenant, actor=SYSTEM, now=world.now)
    again = health.add_default_definitions(world.session, world.tenant, actor=SYSTEM, now=world.now)
    assert [d.kind for d in first] == [CycleKind.HEALTH_SCREENING, CycleKind.REFERRAL_FOLLOW_UP]
    assert again == []


def test_section_overview(hw):
    rows = health.section_overview(hw.world.session, hw.world.section_a9)
    assert [(row.student.id, row.screening.id) for row in rows] == [
        (hw.world.student_a9.id, hw.screening_a.id)
    ]


# Facilities.

GOOD_LIST = """code,name_en,name_ur,kind,district,tehsil,services,phone,address,active
BHU-100,BHU Test One,بی ایچ یو,BHU,DST-A,Multan City,general; vision,061-9200123,Road 1,yes
THQ-200,THQ Test Two,,thq,Khanewal,,dental;skin;mental_health,,,
"""


def test_import_creates_and_updates(world):
    result = facilities.import_facilities(
        world.session, world.tenant, GOOD_LIST.encode("utf-8"), actor=SYSTEM, now=world.now
    )
    assert (result.created, result.updated, result.problems) == (2, 0, [])
    bhu = world.session.scalar(select(HealthFacility).where(HealthFacility.code == "BHU-100"))
    assert (bhu.kind, bhu.district_id, bhu.tehsil_id) == (
        FacilityKind.BHU,
        world.district_a.id,
        world.tehsil_a.id,
    )
    assert bhu.services == ["general", "vision"]
    assert bhu.phone == "+92619200123"
    again = facilities.import_facilities(
        world.session, world.tenant, GOOD_LIST.encode("utf-8"), actor=SYSTEM, now=world.now
    )
    assert (again.created, again.updated) == (0, 2)


def test_import_all_or_nothing_with_problems(world):
    bad = (
        GOOD_LIST
        + "X 1,,,clinic,Lahore,,teeth,12,,maybe\nBHU-100,Again,,bhu,DST-A,TEH-B,general,,,\n"
    )
    result = facilities.import_facilities(
        world.session, world.tenant, bad.encode("utf-8"), actor=SYSTEM, now=world.now
    )
    problems = {(p.row, p.column): (p.value, str(p.message)) for p in result.problems}
    assert set(problems) == {
        (4, "code"),
        (4, "name_en"),
        (4, "kind"),
        (4, "services"),
        (4, "phone"),
        (4, "active"),
        (5, "code"),
    }
    assert problems[(4, "kind")][0] == "clinic"
    assert count(world.session, HealthFacility) == 0


def test_import_unknown_area_reported(world):
    data = "code,name_en,kind,district,tehsil,services\nF-1,A facility,rhc,Lahore,,general\nF-2,B facility,rhc,DST-A,Khanewal,general\n"
    result = facilities.import_facilities(
        world.session, world.tenant, data.encode(), actor=SYSTEM, now=world.now
    )
    assert [(p.row, p.column, p.value) for p in result.problems] == [
        (2, "district", "Lahore"),
        (3, "tehsil", "Khanewal"),
    ]


def test_import_header_problems(world):
    with pytest.raises(facilities.FacilityFileError, match="Unknown column"):
        facilities.import_facilities(
            world.session, world.tenant, b"code,colour\n", actor=SYSTEM, now=world.now
        )
    with pytest.raises(facilities.FacilityFileError, match="missing"):
        facilities.import_facilities(
            world.session, world.tenant, b"code,name_en\n", actor=SYSTEM, now=world.now
        )


def test_template_imports_cleanly(world):
    data = (
        facilities.template_csv()
        .decode("utf-8-sig")
        .replace("DST-MLT", "DST-A")
        .replace("TEH-MLT-SDR", "TEH-A")
    )
    result = facilities.import_facilities(
        world.session, world.tenant, data.encode(), actor=SYSTEM, now=world.now
    )
    assert result.problems == []


def test_routing_skips_inactive_and_other_districts(hw):
    session = hw.world.session
    hw.bhu_a.is_active = False
    session.flush()
    found = facilities.find_facility(session, school=hw.world.school_a, service="vision")
    assert found.id == hw.hospital_a.id
    assert (
        facilities.find_facility(session, school=hw.world.school_b, service="vision").id
        == hw.rhc_b.id
    )


# Instruments.


def test_shipped_instruments_loaded(hw):
    instruments = {i.code: i for i in wellbeing.all_instruments(hw.world.session)}
    phq = instruments["PHQ-9"]
    assert len(phq.items["en"]) == 9
    assert phq.safety_items == [8]
    assert wellbeing.offered_languages(phq) == ["en"]
    assert "ur" in phq.missing_languages
    assert len(instruments["GAD-7"].items["en"]) == 7
    assert instruments["GAD-7"].safety_items == []


def definition(**changes) -> dict:
    data = json.loads((wellbeing.INSTRUMENT_DIR / "gad-7.json").read_text(encoding="utf-8"))
    data.update(version_label="test")
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"items": {"en": ["one"], "ur": ["ایک", "دو"]}}, "same number of items"),
        (
            {"bands": [{"min": 0, "max": 10, "code": "a", "label": {"en": "A"}}]},
            "end at the highest score",
        ),
        ({"bands": [{"min": 1, "max": 21, "code": "a", "label": {"en": "A"}}]}, "without gaps"),
        ({"safety_items": [7]}, "safety_items"),
        ({"missing_languages": {"en": "no"}}, "both have items and be listed as missing"),
        ({"colour": "red"}, "Unknown key"),
        ({"source": ""}, "source must name"),
    ],
)
def test_instrument_definition_checked(world, changes, words):
    with pytest.raises(wellbeing.InstrumentError) as raised:
        wellbeing.load_instrument(world.session, definition(**changes), actor=SYSTEM, now=world.now)
    assert any(words in problem for problem in raised.value.problems)


def test_instrument_with_answers_is_frozen(hw):
    session = hw.world.session
    phq = session.scalar(select(ScreeningInstrument).where(ScreeningInstrument.code == "PHQ-9"))
    answer(hw, phq, [0] * 9)
    data = json.loads((wellbeing.INSTRUMENT_DIR / "phq-9.json").read_text(encoding="utf-8"))
    with pytest.raises(wellbeing.InstrumentError, match="cannot change"):
        wellbeing.load_instrument(session, data, actor=SYSTEM, now=hw.world.now)
    loaded = wellbeing.load_instrument_text(
        session, json.dumps({**data, "version_label": "2001-en-b"}), actor=SYSTEM, now=hw.world.now
    )
    assert loaded.id != phq.id


def test_instrument_text_must_be_json(world):
    with pytest.raises(wellbeing.InstrumentError, match="not JSON"):
        wellbeing.load_instrument_text(world.session, "{nope", actor=SYSTEM, now=world.now)


# Screeners.


def answer(hw, instrument, answers, **extra):
    values = {
        "language": "en",
        "answers": answers,
        "consent_by": "Muhammad Aslam (father)",
        "consent_on": date(2026, 12, 1),
        "answered_on": date(2026, 12, 3),
    }
    values.update(extra)
    return wellbeing.record_response(
        hw.world.session,
        hw.world.student_a9,
        instrument,
        actor=Actor(hw.world.counsellor_a.id),
        now=hw.world.now,
        **values,
    )


def phq9(hw):
    return hw.world.session.scalar(
        select(ScreeningInstrument).where(ScreeningInstrument.code == "PHQ-9")
    )


def test_response_scored_into_band(hw):
    result = answer(hw, phq9(hw), [1, 2, 1, 2, 1, 1, 2, 1, 0])
    response = result.response
    assert (response.score, response.band, response.safety_positive) == (11, "moderate", False)
    assert result.referral is None


def test_safety_item_raises_urgent_referral(hw):
    session = hw.world.session
    result = answer(hw, phq9(hw), [0, 1, 0, 0, 0, 0, 0, 0, 1])
    referral = result.referral
    assert result.response.safety_positive
    assert (referral.urgent, referral.service, referral.source) == (
        True,
        "mental_health",
        ReferralSource.WELLBEING_SAFETY,
    )
    assert referral.facility_id == hw.hospital_a.id
    assert referral.response_id == result.response.id
    told = set(
        session.scalars(
            select(OutboxMessage.recipient_id).where(
                OutboxMessage.key.like(f"wellbeing-safety:{result.response.id}:%")
            )
        )
    )
    assert {
        hw.world.head_a.id,
        hw.world.counsellor_a.id,
        hw.sho_a.id,
        hw.staff_hospital_a.id,
    } <= told
    for message in session.scalars(
        select(OutboxMessage).where(OutboxMessage.channel != Channel.FHIR)
    ):
        assert "PHQ" not in message.body
        assert "safety item" not in message.body
        assert "PHQ" not in message.subject


def test_safety_without_facility_still_tells_carers(hw):
    session = hw.world.session
    hw.hospital_a.is_active = False
    session.flush()
    result = answer(hw, phq9(hw), [0, 0, 0, 0, 0, 0, 0, 0, 2])
    assert result.referral is None
    assert result.referral_error is not None
    links = set(
        session.scalars(
            select(OutboxMessage.link).where(
                OutboxMessage.key.like(f"wellbeing-safety:{result.response.id}:%")
            )
        )
    )
    assert links == {f"http://127.0.0.1:6543/wellbeing/responses/{result.response.id}"}
    assert count(session, InstrumentResponse) == 1


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"language": "ur"}, "no validated text"),
        ({"consent_by": " "}, "Record the guardian"),
        ({"consent_on": date(2026, 12, 4)}, "Consent must come"),
        ({"answers": [0] * 8}, "Answer every question"),
        ({"answers": [0] * 8 + [4]}, "Answer every question"),
    ],
)
def test_screener_checks(hw, extra, words):
    answers = extra.pop("answers", [0] * 9)
    with pytest.raises(InvalidInput) as raised:
        answer(hw, phq9(hw), answers, **extra)
    assert words in raised.value.message.interpolate()


def test_screener_only_from_grade_nine(hw):
    world = hw.world
    young = world.admit(world.section_a9, "A999", "Young Child", "بچہ")
    from spets.models import Enrollment, Section
    from spets.services import org

    section_6 = org.create_section(
        world.session,
        school=world.school_a,
        year=world.year,
        grade=6,
        name="A",
        class_teacher_id=None,
        actor=SYSTEM,
        now=world.now,
    )
    enrollment = world.session.scalar(select(Enrollment).where(Enrollment.student_id == young.id))
    enrollment.section_id = section_6.id
    world.session.flush()
    assert world.session.get(Section, section_6.id).grade == 6
    with pytest.raises(InvalidInput, match="grade 9"):
        wellbeing.check_eligible(world.session, young, phq9(hw))


# Observations.


def test_observation_with_safety_sign_tells_carers(hw):
    session = hw.world.session
    observation = wellbeing.record_observation(
        session,
        hw.world.student_a9,
        {
            "observed_on": date(2026, 12, 3),
            "signs": ["injuries", "sad"],
            "concern_level": 0,
            "note": "Bruises",
        },
        actor=Actor(hw.world.subject_teacher_a9.id),
        now=hw.world.now,
    )
    assert observation.concern_level == 2
    told = set(
        session.scalars(
            select(OutboxMessage.recipient_id).where(
                OutboxMessage.key.like(f"wellbeing-observation:{observation.id}:%")
            )
        )
    )
    assert told == {hw.world.head_a.id, hw.world.counsellor_a.id, hw.sho_a.id}
    for message in session.scalars(
        select(OutboxMessage).where(OutboxMessage.key.like("wellbeing-observation:%"))
    ):
        assert "Bruises" not in message.body
        assert "injur" not in message.body.lower()


def test_observation_rejects_unknown_sign(world):
    with pytest.raises(InvalidInput, match="Unknown checklist"):
        wellbeing.record_observation(
            world.session,
            world.student_a9,
            {"observed_on": date(2026, 12, 3), "signs": ["flying"], "concern_level": 1},
            actor=SYSTEM,
            now=world.now,
        )


def test_observation_audit_keeps_text_out(hw):
    event = hw.world.session.scalar(
        select(AuditEvent).where(
            AuditEvent.entity_type == "wellbeing_observation",
            AuditEvent.entity_id == hw.observation_a.id,
            AuditEvent.action == AuditAction.CREATE,
        )
    )
    assert event.category == "wellbeing"
    assert "Quiet" not in json.dumps(event.changes)


def test_referral_reason_not_in_audit(hw):
    event = hw.world.session.scalar(
        select(AuditEvent).where(
            AuditEvent.entity_type == "referral",
            AuditEvent.entity_id == hw.referral_a.id,
            AuditEvent.action == AuditAction.CREATE,
        )
    )
    assert event.changes["reason"]["after"] == "(recorded)"
    assert count(hw.world.session, Referral) == 2


# The demo.


def test_demo_health_loads(dbsession, now):
    from spets.demo.health import load_health
    from spets.demo.load import load_base

    load_base(dbsession, now)
    summary = load_health(dbsession, now)
    assert summary.facilities == 7
    assert {account.username for account in summary.accounts} == {
        "dho.multan",
        "sho.multan",
        "health.dhq",
    }
    assert summary.screenings > 500
    assert summary.flagged > 0
    escalated = dbsession.get(Referral, summary.escalated_referral_id)
    assert escalated.state.value == "sent"
    assert escalated.escalations >= 1
    closed = dbsession.get(Referral, summary.closed_referral_id)
    assert closed.state.value == "closed"
    assert closed.outcome
    urgent = dbsession.get(Referral, summary.urgent_referral_id)
    assert urgent.urgent and urgent.service == "mental_health"
    classifications = dbsession.scalars(select(HealthScreening.classifications)).all()
    assert any(c for c in classifications)
    with pytest.raises(RuntimeError, match="already loaded"):
        load_health(dbsession, now)
