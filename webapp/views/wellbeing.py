"""Well-being pages: a teacher's observation, the student's well-being record, screeners, instruments.

Teachers record observations but do not read them back; the head teacher, the counsellor
and the school health officer read them (WELLBEING_VIEW), and every read is audited.
"""

import json
from datetime import date

import deform
from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from spets.forms.health import (
    CONCERN,
    WELLBEING_SIGNS,
    InstrumentUploadSchema,
    ObservationSchema,
    ScreenerStartSchema,
    response_schema,
)
from spets.forms.vocab import LANGUAGES
from spets.i18n import _
from spets.models import ScreeningInstrument, User
from spets.services import health, wellbeing
from spets.services.errors import InvalidInput
from spets.services.scope import Permission as P
from spets.webapp import forms, profile_panels
from spets.webapp.resources_health import INSTRUMENT_READ
from spets.webapp.views.common import form_page, label

SCREENER_KEY = "screener"


def _audit(request, *, entity_type, entity_id, student, reason):
    health.audit_read(
        request.dbsession,
        actor=request.actor,
        now=request.now,
        entity_type=entity_type,
        entity_id=entity_id,
        student_id=student.id,
        org_unit_id=student.school_id,
        reason=reason,
        category=wellbeing.CATEGORY,
    )


@view_config(
    route_name="wellbeing.observe",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.WELLBEING_OBSERVE,
)
def observe(request):
    student = request.context.student
    form = forms.make_form(request, ObservationSchema(), button_title=_("Save the observation"))

    def save(values):
        wellbeing.record_observation(
            request.dbsession, student, values, actor=request.actor, now=request.now
        )
        request.session.flash(
            request.t(
                _(
                    "observation_saved",
                    default="The observation is saved. The head teacher and the counsellor can "
                    "read it; if you checked a sign of harm, they have been told now.",
                )
            ),
            "success",
        )
        return request.route_url("student.view", student_id=student.id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "observe_title",
            default="Well-being of ${name}: what you observed",
            mapping={"name": student.name(request.locale_name)},
        ),
        intro=_(
            "observe_intro",
            default="Check what you have seen yourself in the last weeks. Write facts, not "
            "guesses. Only the head teacher, the counsellor and health staff can read this.",
        ),
        appstruct={"observed_on": request.today, "concern_level": 0},
        back_url=request.route_url("student.view", student_id=student.id),
    )


@view_config(
    route_name="wellbeing.student",
    renderer="spets:webapp/templates/health/wellbeing.pt",
    permission=P.WELLBEING_VIEW,
)
def student_wellbeing(request):
    student = request.context.student
    session = request.dbsession
    _audit(
        request,
        entity_type="student_wellbeing",
        entity_id=student.id,
        student=student,
        reason="well-being page",
    )
    grade = wellbeing.current_grade(session, student.id)
    instruments = [
        i for i in wellbeing.active_instruments(session) if grade and grade >= i.min_grade
    ]
    return {
        "page_title": request.t(
            _(
                "wellbeing_title",
                default="Well-being of ${name}",
                mapping={"name": student.name(request.locale_name)},
            )
        ),
        "student": student,
        "observations": wellbeing.observations_of(session, student.id),
        "responses": wellbeing.responses_of(session, student.id),
        "can_screen": bool(instruments),
        **_labels(request),
    }


def _labels(request) -> dict:
    return {
        "sign_label": lambda code: request.t(WELLBEING_SIGNS.get(code, code)),
        "concern_label": lambda level: request.t(CONCERN.get(level, str(level))),
        "band_label": lambda response: wellbeing.band_label(
            response.instrument, response.band, request.locale_name
        ),
        "label": lambda value: label(request, value),
    }


@view_config(
    route_name="wellbeing.observation",
    renderer="spets:webapp/templates/health/observation.pt",
    permission=P.WELLBEING_VIEW,
)
def observation_view(request):
    observation = request.context.observation
    student = request.context.student
    _audit(
        request,
        entity_type="wellbeing_observation",
        entity_id=observation.id,
        student=student,
        reason="observation page",
    )
    return {
        "page_title": request.t(
            _(
                "observation_title",
                default="Observation of ${name}",
                mapping={"name": student.name(request.locale_name)},
            )
        ),
        "observation": observation,
        "student": student,
        "observer": request.dbsession.get(User, observation.observer_id),
        **_labels(request),
    }


@view_config(
    route_name="wellbeing.response",
    renderer="spets:webapp/templates/health/response.pt",
    permission=P.WELLBEING_VIEW,
)
def response_view(request):
    response = request.context.response
    student = request.context.student
    _audit(
        request,
        entity_type="instrument_response",
        entity_id=response.id,
        student=student,
        reason="questionnaire answers page",
    )
    instrument = response.instrument
    scale = {int(o["score"]): o["label"] for o in instrument.scale[response.language]}
    items = instrument.items[response.language]
    return {
        "page_title": request.t(
            _(
                "response_title",
                default="${instrument} of ${name}",
                mapping={"instrument": instrument.code, "name": student.name(request.locale_name)},
            )
        ),
        "response": response,
        "student": student,
        "instrument": instrument,
        "answers": [
            (
                position,
                items[position],
                scale.get(answer, str(answer)),
                position in instrument.safety_items,
            )
            for position, answer in enumerate(response.answers)
        ],
        **_labels(request),
    }


# The self-report screener: consent first, then the questions.


def _instrument_choices(request, student) -> list[tuple[str, str]]:
    grade = wellbeing.current_grade(request.dbsession, student.id)
    return [
        (str(instrument.id), f"{instrument.name} ({instrument.version_label})")
        for instrument in wellbeing.active_instruments(request.dbsession)
        if grade and grade >= instrument.min_grade and wellbeing.offered_languages(instrument)
    ]


@view_config(
    route_name="wellbeing.screener",
    renderer="spets:webapp/templates/health/screener.pt",
    permission=P.WELLBEING_VIEW,
)
def screener(request):
    student = request.context.student
    stored = request.session.get(SCREENER_KEY) or {}
    if request.params.get("step") == "items" and stored.get("student_id") == student.id:
        return _screener_items(request, student, stored)
    return _screener_start(request, student)


def _screener_start(request, student):
    choices = _instrument_choices(request, student)
    languages = sorted(
        {
            language
            for instrument in wellbeing.active_instruments(request.dbsession)
            for language in wellbeing.offered_languages(instrument)
        }
    )
    form = forms.make_form(
        request,
        ScreenerStartSchema(),
        button_title=_("Continue to the questions"),
        instrument_choices=choices,
        language_choices=[(code, LANGUAGES.get(code, code)) for code in languages],
    )
    page = {
        "page_title": request.t(
            _(
                "screener_title",
                default="Well-being questionnaire for ${name}",
                mapping={"name": student.name(request.locale_name)},
            )
        ),
        "student": student,
        "instructions": None,
        "missing": _missing_languages(request),
        "eligible": bool(choices),
    }
    if not choices:
        return {**page, "form": ""}

    def save(values):
        instrument = request.dbsession.get(ScreeningInstrument, int(values["instrument"]))
        wellbeing.check_eligible(request.dbsession, student, instrument)
        if values["language"] not in wellbeing.offered_languages(instrument):
            message = _(
                "screener_language",
                default="${instrument} has no validated text in this language.",
                mapping={"instrument": instrument.code},
            )
            raise InvalidInput(message, {"language": message})
        request.session[SCREENER_KEY] = {
            "student_id": student.id,
            "instrument_id": instrument.id,
            "language": values["language"],
            "consent_by": values["guardian_consent_by"],
            "consent_on": values["guardian_consent_on"].isoformat(),
            "answered_on": values["answered_on"].isoformat(),
        }
        return request.route_url(
            "wellbeing.screener", student_id=student.id, _query={"step": "items"}
        )

    result = forms.process(
        request,
        form,
        save,
        appstruct={"answered_on": request.today, "guardian_consent_on": request.today},
    )
    if isinstance(result, HTTPFound):
        return result
    return {**page, **result}


def _missing_languages(request) -> list[tuple[str, str, str]]:
    return [
        (instrument.code, LANGUAGES.get(code, code), reason)
        for instrument in wellbeing.active_instruments(request.dbsession)
        for code, reason in (instrument.missing_languages or {}).items()
    ]


def _screener_items(request, student, stored):
    instrument = request.dbsession.get(ScreeningInstrument, stored["instrument_id"])
    language = stored["language"]
    schema = response_schema(instrument.items[language], instrument.scale[language])
    form = forms.make_form(request, schema, button_title=_("Save the answers"))
    page = {
        "page_title": f"{instrument.name} · {student.name(request.locale_name)}",
        "student": student,
        "instructions": (instrument.instructions or {}).get(language),
        "language": language,
        "missing": [],
        "eligible": True,
    }
    if request.method != "POST":
        return {**page, "form": form.render()}
    try:
        values = form.validate(list(request.POST.items()))
    except deform.ValidationFailure as failure:
        return {**page, "form": failure.render()}
    answers = [values[f"item_{position}"] for position in range(len(instrument.items[language]))]
    try:
        result = wellbeing.record_response(
            request.dbsession,
            student,
            instrument,
            language=language,
            answers=answers,
            consent_by=stored["consent_by"],
            consent_on=date.fromisoformat(stored["consent_on"]),
            answered_on=date.fromisoformat(stored["answered_on"]),
            actor=request.actor,
            now=request.now,
        )
    except InvalidInput as error:
        request.session.flash(request.t(error.message), "warning")
        return HTTPFound(location=request.route_url("wellbeing.screener", student_id=student.id))
    request.session.pop(SCREENER_KEY, None)
    if result.response.safety_positive:
        request.session.flash(
            request.t(
                _(
                    "screener_safety_flash",
                    default="A safety question was answered positively. An urgent referral was "
                    "raised and the head teacher and health staff were told. Stay with the "
                    "student until someone responsible takes over.",
                )
                if result.referral is not None
                else _(
                    "screener_safety_no_referral_flash",
                    default="A safety question was answered positively. The head teacher and "
                    "health staff were told, but no referral could be raised automatically: "
                    "refer the student by hand now.",
                )
            ),
            "warning",
        )
    return HTTPFound(
        location=request.route_url("wellbeing.response", response_id=result.response.id)
    )


# Instruments (administrators).


@view_config(
    route_name="wellbeing.instruments",
    renderer="spets:webapp/templates/health/instruments.pt",
    permission=P.FACILITY_ADMIN,
)
def instruments(request):
    form = forms.make_form(
        request, InstrumentUploadSchema(), button_title=_("Load the questionnaire")
    )

    def save(values):
        instrument = wellbeing.load_instrument_text(
            request.dbsession, values["definition"], actor=request.actor, now=request.now
        )
        request.session.flash(
            request.t(
                _(
                    "instrument_loaded",
                    default="${code} version ${version} is loaded.",
                    mapping={"code": instrument.code, "version": instrument.version_label},
                )
            ),
            "success",
        )
        return request.route_url("wellbeing.instruments")

    result = forms.process(request, form, save)
    if isinstance(result, HTTPFound):
        return result
    return {
        **result,
        "page_title": request.t(_("Screening questionnaires")),
        "instruments": wellbeing.all_instruments(request.dbsession),
        "offered": wellbeing.offered_languages,
        "languages": LANGUAGES,
        "example": json.dumps(EXAMPLE_DEFINITION, indent=2, ensure_ascii=False),
    }


EXAMPLE_DEFINITION = {
    "code": "EXAMPLE-2",
    "version_label": "1-en",
    "name": "Two-question example",
    "source": "Authors, year, licence, and where the text comes from.",
    "min_grade": 9,
    "instructions": {"en": "Over the last 2 weeks, how often …"},
    "items": {"en": ["First question", "Second question"]},
    "scale": {"en": [{"score": 0, "label": "Not at all"}, {"score": 1, "label": "Often"}]},
    "bands": [
        {"min": 0, "max": 0, "code": "none", "label": {"en": "None"}},
        {"min": 1, "max": 2, "code": "some", "label": {"en": "Some"}},
    ],
    "safety_items": [1],
    "missing_languages": {"ur": "No validated Urdu translation is available yet."},
}


@view_config(
    route_name="wellbeing.instrument",
    renderer="spets:webapp/templates/health/instrument.pt",
    permission=INSTRUMENT_READ,
)
def instrument_view(request):
    instrument = request.context.instrument
    return {
        "page_title": f"{instrument.name} ({instrument.version_label})",
        "instrument": instrument,
        "languages": LANGUAGES,
        "offered": wellbeing.offered_languages(instrument),
    }


# Profile panels: the record for its readers, the observation link for every teacher.


def _wellbeing_panel(request, record):
    student = record.student
    session = request.dbsession
    _audit(
        request,
        entity_type="student_wellbeing",
        entity_id=student.id,
        student=student,
        reason="profile page",
    )
    return {
        "observations": wellbeing.observations_of(session, student.id)[:5],
        "responses": wellbeing.responses_of(session, student.id)[:5],
        "can": request.context.can,
        **_labels(request),
    }


def _observe_panel(request, record):
    if request.context.can(P.WELLBEING_VIEW):
        return None  # the full panel shows the same link
    return {"can": request.context.can}


profile_panels.register_panel(
    profile_panels.Panel(
        key="wellbeing",
        title=_("Well-being"),
        permission=P.WELLBEING_VIEW,
        template="spets:webapp/templates/health/wellbeing_panel.pt",
        load=_wellbeing_panel,
        order=41,
    )
)
profile_panels.register_panel(
    profile_panels.Panel(
        key="wellbeing_observe",
        title=_("Well-being"),
        permission=P.WELLBEING_OBSERVE,
        template="spets:webapp/templates/health/observe_panel.pt",
        load=_observe_panel,
        order=42,
    )
)
