"""Well-being: teachers' observation checklists, and self-report screeners held as data.

Any teacher of a section records what they observe; only the head teacher, the school
counsellor and health staff read the records (the WELLBEING_VIEW permission), and every
read is audited by the caller. A checked safety sign tells the head teacher, the
counsellor and the school health officer at once.

A screening instrument (for example PHQ-9) is a JSON document loaded by an admin: its
items and answer scale per language, scoring bands and safety items. A language without
a validated translation is listed under `missing_languages` and is not offered. For
grades 9 to 12, a screener is given only with a guardian's recorded consent; a positive
safety item raises an urgent referral and tells the head teacher and the health staff
at once. Messages carry a link, never what was answered.
"""

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spets.forms.health import CONCERN, SAFETY_SIGNS, WELLBEING_SIGNS
from spets.i18n import _
from spets.models import (
    AuditAction,
    Enrollment,
    InstrumentResponse,
    OrgUnit,
    ReferralSource,
    Role,
    ScreeningInstrument,
    Section,
    Student,
    User,
    WellbeingObservation,
)
from spets.services import audit, messaging, referrals, tasks
from spets.services.audit import Actor
from spets.services.calendar import local_today
from spets.services.errors import InvalidInput, ServiceError

log = logging.getLogger(__name__)

CATEGORY = "wellbeing"
INSTRUMENT_DIR = Path(__file__).resolve().parent / "data" / "instruments"
INSTRUMENT_KEYS = {
    "code",
    "version_label",
    "name",
    "source",
    "min_grade",
    "instructions",
    "items",
    "scale",
    "bands",
    "safety_items",
    "missing_languages",
}


# Observations.


def record_observation(
    session: Session, student: Student, values: dict, *, actor: Actor, now: datetime
) -> WellbeingObservation:
    """Save a teacher's observation. A safety sign raises the concern and notifies the school's carers."""
    school = session.get(OrgUnit, student.school_id)
    today = local_today(now, school.timezone)
    if values["observed_on"] > today:
        message = _(
            "observation_in_future",
            default="${date} is in the future: give the day of the observation.",
            mapping={"date": values["observed_on"].strftime("%d/%m/%Y")},
        )
        raise InvalidInput(message, {"observed_on": message})
    signs = sorted(set(values.get("signs") or []))
    unknown = [sign for sign in signs if sign not in WELLBEING_SIGNS]
    if unknown:
        raise InvalidInput(
            _(
                "unknown_signs",
                default="Unknown checklist item(s): ${codes}.",
                mapping={"codes": ", ".join(unknown)},
            )
        )
    concern = int(values.get("concern_level") or 0)
    if concern not in CONCERN:
        raise InvalidInput(_("unknown_concern", default="Choose one of the concern levels."))
    safety = bool(SAFETY_SIGNS.intersection(signs))
    if safety:
        concern = 2
    observation = WellbeingObservation(
        student_id=student.id,
        school_id=student.school_id,
        observed_on=values["observed_on"],
        signs=signs,
        concern_level=concern,
        note=values.get("note") or "",
        observer_id=actor.user_id,
        recorded_at=now,
    )
    session.add(observation)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="wellbeing_observation",
        entity_id=observation.id,
        student_id=student.id,
        org_unit_id=student.school_id,
        category=CATEGORY,
        now=now,
        changes={
            "observation": {"before": None, "after": "(well-being data)"},
            "concern_level": {"before": None, "after": concern},
        },
    )
    if safety or concern == 2:
        notify_carers(
            session,
            student,
            key=f"wellbeing-observation:{observation.id}",
            link=f"/wellbeing/observations/{observation.id}",
            urgent=safety,
            now=now,
        )
    return observation


def carers_of(session: Session, student: Student, now: datetime) -> list[User]:
    """Return who is notified of a concern: head teachers, counsellors and school health officers."""
    school = session.get(OrgUnit, student.school_id)
    found: dict[int, User] = {}
    for role in (Role.HEAD_TEACHER, Role.COUNSELLOR, Role.SCHOOL_HEALTH_OFFICER):
        for user in tasks.role_holders(session, school, role, now):
            found.setdefault(user.id, user)
    return list(found.values())


def notify_carers(
    session: Session,
    student: Student,
    *,
    key: str,
    link: str,
    urgent: bool,
    now: datetime,
    extra: list[User] = (),
) -> int:
    """Tell the school's carers (and `extra` people) that a student needs attention: a link only."""
    subject = (
        _("wellbeing_urgent_subject", default="Urgent: a student needs attention today")
        if urgent
        else _("wellbeing_concern_subject", default="A student may need support")
    )
    people = {user.id: user for user in carers_of(session, student, now)}
    for user in extra:
        people.setdefault(user.id, user)
    queued = 0
    for user in people.values():
        queued += messaging.queue(
            session,
            key=f"{key}:{user.id}",
            recipient=user,
            draft=messaging.Draft(
                subject=subject,
                body=_(
                    "wellbeing_message_body",
                    default="Open SPeTS to see who and why. For the child's privacy, this "
                    "message carries no details.",
                ),
                sms=subject,
                link=link,
            ),
            now=now,
        )
    return queued


def observations_of(session: Session, student_id: int) -> list[WellbeingObservation]:
    return list(
        session.scalars(
            select(WellbeingObservation)
            .where(WellbeingObservation.student_id == student_id)
            .order_by(WellbeingObservation.observed_on.desc(), WellbeingObservation.id.desc())
        )
    )


def responses_of(session: Session, student_id: int) -> list[InstrumentResponse]:
    return list(
        session.scalars(
            select(InstrumentResponse)
            .where(InstrumentResponse.student_id == student_id)
            .order_by(InstrumentResponse.answered_on.desc(), InstrumentResponse.id.desc())
        )
    )


# Instruments.


class InstrumentError(InvalidInput):
    """An instrument definition that cannot be loaded; `problems` lists every reason."""

    def __init__(self, problems: list[str]):
        super().__init__(
            _(
                "instrument_invalid",
                default="The instrument was not loaded: ${problems}",
                mapping={"problems": " ".join(problems)},
            ),
            {"definition": "; ".join(problems)},
        )
        self.problems = problems


def validate_instrument(data: Any) -> dict:
    """Check an instrument definition and return it; raise InstrumentError listing each problem."""
    if not isinstance(data, dict):
        raise InstrumentError(["The definition must be a JSON object."])
    problems: list[str] = []
    unknown = sorted(set(data) - INSTRUMENT_KEYS)
    if unknown:
        problems.append(f"Unknown key(s): {', '.join(unknown)}.")
    for key, limit in (("code", 32), ("version_label", 32), ("name", 200)):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            problems.append(f"{key} must be text of 1 to {limit} characters.")
    if not isinstance(data.get("source"), str) or not data["source"].strip():
        problems.append("source must name the authors, the licence and where the text comes from.")
    min_grade = data.get("min_grade", 9)
    if not isinstance(min_grade, int) or not 1 <= min_grade <= 12:
        problems.append("min_grade must be a grade from 1 to 12.")

    items = data.get("items")
    counts = set()
    if not isinstance(items, dict) or not items:
        problems.append("items must map each language code to its list of item texts.")
        items = {}
    for language, texts in items.items():
        if (
            not isinstance(texts, list)
            or not texts
            or not all(isinstance(t, str) and t.strip() for t in texts)
        ):
            problems.append(f"items.{language} must be a list of non-empty texts.")
        else:
            counts.add(len(texts))
    if len(counts) > 1:
        problems.append("Every language must have the same number of items.")
    item_count = counts.pop() if len(counts) == 1 else 0

    scores = _check_scale(data.get("scale"), items, problems)
    _check_bands(data.get("bands"), scores, item_count, problems)
    safety = data.get("safety_items", [])
    if not isinstance(safety, list) or not all(
        isinstance(i, int) and 0 <= i < max(item_count, 1) for i in safety
    ):
        problems.append(
            f"safety_items must list item positions from 0 to {max(item_count - 1, 0)}."
        )
    missing = data.get("missing_languages", {})
    if not isinstance(missing, dict) or not all(
        isinstance(v, str) and v.strip() for v in missing.values()
    ):
        problems.append("missing_languages must map a language code to the reason it is missing.")
    elif set(missing) & set(items):
        problems.append("A language cannot both have items and be listed as missing.")
    instructions = data.get("instructions", {})
    if not isinstance(instructions, dict) or not all(
        isinstance(v, str) for v in instructions.values()
    ):
        problems.append(
            "instructions must map a language code to the question put before the items."
        )
    if problems:
        raise InstrumentError(problems)
    return data


def _check_scale(scale, items: dict, problems: list[str]) -> list[int]:
    if not isinstance(scale, dict):
        problems.append("scale must map each language code to its answer options.")
        return []
    found: set[tuple[int, ...]] = set()
    for language in items:
        options = scale.get(language)
        if (
            not isinstance(options, list)
            or not options
            or not all(
                isinstance(o, dict)
                and isinstance(o.get("score"), int)
                and isinstance(o.get("label"), str)
                for o in options
            )
        ):
            problems.append(
                f'scale.{language} must list options as {{"score": 0, "label": "..."}}.'
            )
            continue
        found.add(tuple(sorted(o["score"] for o in options)))
    if len(found) > 1:
        problems.append("Every language's answer options must have the same scores.")
    return list(found.pop()) if len(found) == 1 else []


def _check_bands(bands, scores: list[int], item_count: int, problems: list[str]) -> None:
    if not isinstance(bands, list) or not bands:
        problems.append("bands must list the score ranges with their code and label.")
        return
    if not all(
        isinstance(b, dict)
        and isinstance(b.get("min"), int)
        and isinstance(b.get("max"), int)
        and isinstance(b.get("code"), str)
        and b["code"]
        and isinstance(b.get("label"), dict)
        for b in bands
    ):
        problems.append(
            'Each band needs integer "min" and "max", a "code" and a "label" per language.'
        )
        return
    if not scores or not item_count:
        return
    low, high = min(scores) * item_count, max(scores) * item_count
    expected = low
    for band in sorted(bands, key=lambda b: b["min"]):
        if band["min"] != expected or band["max"] < band["min"]:
            problems.append(
                f"The bands must cover the scores {low} to {high} without gaps or overlaps; "
                f"check the band starting at {band['min']}."
            )
            return
        expected = band["max"] + 1
    if expected != high + 1:
        problems.append(f"The bands must end at the highest score, {high}.")


def load_instrument(
    session: Session, data: dict, *, actor: Actor, now: datetime
) -> ScreeningInstrument:
    """Add an instrument, or replace one of the same code and version that has no answers yet."""
    data = validate_instrument(data)
    instrument = session.scalar(
        select(ScreeningInstrument).where(
            ScreeningInstrument.code == data["code"],
            ScreeningInstrument.version_label == data["version_label"],
        )
    )
    action = AuditAction.UPDATE
    if instrument is None:
        instrument = ScreeningInstrument(code=data["code"], version_label=data["version_label"])
        session.add(instrument)
        action = AuditAction.CREATE
    else:
        answered = session.scalar(
            select(func.count(InstrumentResponse.id)).where(
                InstrumentResponse.instrument_id == instrument.id
            )
        )
        if answered:
            raise InstrumentError(
                [
                    f"{data['code']} version {data['version_label']} already has {answered} "
                    "answers and cannot change: give the new text a new version_label."
                ]
            )
    instrument.name = data["name"]
    instrument.source = data["source"]
    instrument.min_grade = data.get("min_grade", 9)
    instrument.instructions = dict(data.get("instructions", {}))
    instrument.items = {k: list(v) for k, v in data["items"].items()}
    instrument.scale = {k: list(v) for k, v in data["scale"].items() if k in data["items"]}
    instrument.bands = list(data["bands"])
    instrument.safety_items = list(data.get("safety_items", []))
    instrument.missing_languages = dict(data.get("missing_languages", {}))
    instrument.is_active = True
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="screening_instrument",
        entity_id=instrument.id,
        now=now,
        reason=f"{instrument.code} {instrument.version_label}",
    )
    return instrument


def load_instrument_text(
    session: Session, text: str, *, actor: Actor, now: datetime
) -> ScreeningInstrument:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InstrumentError(
            [f"The text is not JSON (line {error.lineno}, column {error.colno}): {error.msg}."]
        ) from error
    return load_instrument(session, data, actor=actor, now=now)


def load_default_instruments(
    session: Session, *, actor: Actor, now: datetime
) -> list[ScreeningInstrument]:
    """Load the instruments shipped with SPeTS (PHQ-9 and GAD-7), once."""
    loaded = []
    for path in sorted(INSTRUMENT_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        existing = session.scalar(
            select(ScreeningInstrument).where(
                ScreeningInstrument.code == data["code"],
                ScreeningInstrument.version_label == data["version_label"],
            )
        )
        loaded.append(existing or load_instrument(session, data, actor=actor, now=now))
    return loaded


def active_instruments(session: Session) -> list[ScreeningInstrument]:
    return list(
        session.scalars(
            select(ScreeningInstrument)
            .where(ScreeningInstrument.is_active.is_(True))
            .order_by(ScreeningInstrument.code, ScreeningInstrument.version_label)
        )
    )


def all_instruments(session: Session) -> list[ScreeningInstrument]:
    return list(
        session.scalars(
            select(ScreeningInstrument).order_by(
                ScreeningInstrument.code, ScreeningInstrument.version_label
            )
        )
    )


def offered_languages(instrument: ScreeningInstrument) -> list[str]:
    """Languages with validated item texts; a language listed as missing is never offered."""
    missing = instrument.missing_languages or {}
    return [language for language in instrument.items if language not in missing]


def band_of(instrument: ScreeningInstrument, score: int) -> dict:
    for band in instrument.bands:
        if band["min"] <= score <= band["max"]:
            return band
    raise ServiceError(f"score {score} lies in no band of {instrument.code}")


def band_label(instrument: ScreeningInstrument, code: str, locale: str) -> str:
    for band in instrument.bands:
        if band["code"] == code:
            labels = band.get("label") or {}
            return labels.get(locale) or labels.get("en") or code
    return code


# Responses.


@dataclass
class ResponseResult:
    response: InstrumentResponse
    referral: object | None = None
    referral_error: object | None = None


def current_grade(session: Session, student_id: int) -> int | None:
    return session.scalar(
        select(Section.grade)
        .join(Enrollment, Enrollment.section_id == Section.id)
        .where(Enrollment.student_id == student_id, Enrollment.ends_on.is_(None))
    )


def check_eligible(session: Session, student: Student, instrument: ScreeningInstrument) -> None:
    """Raise InvalidInput unless the student's grade is one the instrument is given in."""
    grade = current_grade(session, student.id)
    if grade is None or grade < instrument.min_grade:
        raise InvalidInput(
            _(
                "screener_grade",
                default="${instrument} is given from grade ${grade} on; this student is not "
                "enrolled in such a grade.",
                mapping={"instrument": instrument.code, "grade": instrument.min_grade},
            )
        )


def record_response(
    session: Session,
    student: Student,
    instrument: ScreeningInstrument,
    *,
    language: str,
    answers: list[int],
    consent_by: str,
    consent_on: date,
    answered_on: date,
    actor: Actor,
    now: datetime,
) -> ResponseResult:
    """Score a screener's answers and save them; a positive safety item raises an urgent referral."""
    check_eligible(session, student, instrument)
    school = session.get(OrgUnit, student.school_id)
    today = local_today(now, school.timezone)
    if language not in offered_languages(instrument):
        raise InvalidInput(
            _(
                "screener_language",
                default="${instrument} has no validated text in this language.",
                mapping={"instrument": instrument.code},
            )
        )
    if not consent_by or not consent_by.strip():
        message = _("consent_needed", default="Record the guardian who consented.")
        raise InvalidInput(message, {"guardian_consent_by": message})
    if consent_on > answered_on or answered_on > today:
        message = _(
            "consent_order",
            default="Consent must come on or before the day of answering, and neither may be "
            "in the future.",
        )
        raise InvalidInput(message, {"guardian_consent_on": message})
    scores = {int(option["score"]) for option in instrument.scale[language]}
    if len(answers) != len(instrument.items[language]) or any(a not in scores for a in answers):
        raise InvalidInput(
            _(
                "screener_answers",
                default="Answer every question with one of the options given.",
            )
        )
    score = sum(answers)
    band = band_of(instrument, score)
    safety_positive = any(answers[position] > 0 for position in instrument.safety_items)
    response = InstrumentResponse(
        instrument_id=instrument.id,
        student_id=student.id,
        school_id=student.school_id,
        language=language,
        answers=list(answers),
        score=score,
        band=band["code"],
        safety_positive=safety_positive,
        guardian_consent_by=consent_by.strip(),
        guardian_consent_on=consent_on,
        answered_on=answered_on,
        recorded_by_id=actor.user_id,
        recorded_at=now,
    )
    session.add(response)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="instrument_response",
        entity_id=response.id,
        student_id=student.id,
        org_unit_id=student.school_id,
        category=CATEGORY,
        now=now,
        changes={
            "instrument": {
                "before": None,
                "after": f"{instrument.code} {instrument.version_label}",
            },
            "answers": {"before": None, "after": "(well-being data)"},
            "guardian_consent_by": {"before": None, "after": response.guardian_consent_by},
        },
    )
    result = ResponseResult(response)
    if safety_positive:
        _raise_urgent(session, student, instrument, response, result, actor=actor, now=now)
    return result


def _raise_urgent(session, student, instrument, response, result, *, actor, now) -> None:
    """Raise the urgent referral and tell the school's carers; a referral that fails is logged."""
    savepoint = session.begin_nested()
    try:
        referral = referrals.raise_referral(
            session,
            student=student,
            service="mental_health",
            reason=(
                f"A safety item of {instrument.code} was answered positively on "
                f"{response.answered_on:%d/%m/%Y} (total score {response.score}, "
                f"band {response.band}). Please see the student urgently."
            ),
            source=ReferralSource.WELLBEING_SAFETY,
            urgent=True,
            response_id=response.id,
            actor=actor,
            now=now,
        )
        savepoint.commit()
        result.referral = referral
    except ServiceError as error:
        savepoint.rollback()
        result.referral_error = error.message
        log.warning(
            "urgent_referral_not_raised",
            extra={"response_id": response.id, "student_id": student.id, "error": str(error)},
        )
    link = (
        referrals.referral_link(result.referral)
        if result.referral is not None
        else f"/wellbeing/responses/{response.id}"
    )
    staff = (
        referrals.facility_staff(session, result.referral.facility_id)
        if result.referral is not None
        else []
    )
    notify_carers(
        session,
        student,
        key=f"wellbeing-safety:{response.id}",
        link=link,
        urgent=True,
        now=now,
        extra=staff,
    )
