"""Forms of health and well-being: screenings, observations, screeners, referrals, facilities.

The facility schema validates both the admin form and each row of an imported facility
list, so a rule is written once.
"""

import re
from decimal import Decimal, InvalidOperation

import colander
import deform.widget

from spets.forms.common import choices, csrf_node, date_node, ltr_text, version_node, yes_no_node
from spets.forms.types import EnumType, YesNo, trimmed
from spets.i18n import _, normalize_digits
from spets.models import FacilityKind, Finding, ReferralSource, ReferralState

# Labels of stored codes.

SERVICES = {
    "general": _("service_general", default="General check-up"),
    "nutrition": _("service_nutrition", default="Nutrition and growth"),
    "vision": _("service_vision", default="Eyes and vision"),
    "hearing": _("service_hearing", default="Ears and hearing"),
    "dental": _("service_dental", default="Teeth and mouth"),
    "skin": _("service_skin", default="Skin"),
    "mental_health": _("service_mental_health", default="Mental health"),
    "immunisation": _("service_immunisation", default="Immunisation"),
}

FACILITY_KIND = {
    FacilityKind.BHU: _("facility_bhu", default="Basic Health Unit (BHU)"),
    FacilityKind.RHC: _("facility_rhc", default="Rural Health Centre (RHC)"),
    FacilityKind.THQ: _("facility_thq", default="Tehsil Headquarters Hospital (THQ)"),
    FacilityKind.DHQ: _("facility_dhq", default="District Headquarters Hospital (DHQ)"),
    FacilityKind.MCH: _("facility_mch", default="Mother and Child Health centre"),
    FacilityKind.DISPENSARY: _("facility_dispensary", default="Dispensary"),
    FacilityKind.OTHER: _("facility_other", default="Other facility"),
}

# Short forms the health department's lists use, read in imports.
FACILITY_KIND_ALIASES = {
    "bhu": FacilityKind.BHU,
    "rhc": FacilityKind.RHC,
    "thq": FacilityKind.THQ,
    "dhq": FacilityKind.DHQ,
    "mch": FacilityKind.MCH,
}

FINDING = {
    Finding.NORMAL: _("finding_normal", default="Normal"),
    Finding.NEEDS_ATTENTION: _("finding_needs_attention", default="Needs attention"),
    Finding.REFER: _("finding_refer", default="Refer"),
    Finding.NOT_CHECKED: _("finding_not_checked", default="Not checked"),
}

# Visual acuity in Snellen notation at 6 metres, best to worst.
VISION = ("6/6", "6/9", "6/12", "6/18", "6/24", "6/36", "6/60", "<6/60")

REFERRAL_STATE = {
    ReferralState.RAISED: _("referral_raised", default="raised"),
    ReferralState.SENT: _("referral_sent", default="sent to the facility"),
    ReferralState.ACKNOWLEDGED: _("referral_acknowledged", default="acknowledged"),
    ReferralState.APPOINTMENT: _("referral_appointment", default="appointment given"),
    ReferralState.SEEN: _("referral_seen", default="seen at the facility"),
    ReferralState.CLOSED: _("referral_closed", default="closed"),
    ReferralState.CANCELLED: _("referral_cancelled", default="cancelled"),
}

REFERRAL_SOURCE = {
    ReferralSource.SCREENING: _("source_screening", default="Health screening"),
    ReferralSource.TEACHER: _("source_teacher", default="Teacher's concern"),
    ReferralSource.HEALTH_STAFF: _("source_health_staff", default="Health staff"),
    ReferralSource.WELLBEING_SAFETY: _(
        "source_wellbeing_safety", default="Well-being screener (urgent)"
    ),
}

CLASSIFICATION = {
    "severe_thinness": _("class_severe_thinness", default="Severe thinness"),
    "thinness": _("class_thinness", default="Thinness"),
    "overweight": _("class_overweight", default="Overweight"),
    "obesity": _("class_obesity", default="Obesity"),
    "stunting": _("class_stunting", default="Stunting"),
}

INDICATOR = {
    "bmi_for_age": _("indicator_bmi_for_age", default="BMI-for-age"),
    "height_for_age": _("indicator_height_for_age", default="Height-for-age"),
    "weight_for_age": _("indicator_weight_for_age", default="Weight-for-age"),
}

# The teacher's observation checklist. Signs in SAFETY_SIGNS may mean a child is harmed or
# at risk of harming themself: they tell the head teacher and the counsellor at once.
WELLBEING_SIGNS = {
    "withdrawn": _(
        "sign_withdrawn", default="Withdrawn: keeps away from others, stopped joining in"
    ),
    "sad": _("sign_sad", default="Seems sad or tearful on most days"),
    "irritable": _("sign_irritable", default="Irritable or quick to anger"),
    "aggressive": _("sign_aggressive", default="Aggressive: fights, hurts or threatens others"),
    "anxious": _("sign_anxious", default="Worried or fearful, for example about coming to school"),
    "concentration": _(
        "sign_concentration", default="Cannot concentrate; work or marks dropped suddenly"
    ),
    "tired": _("sign_tired", default="Tired, or falls asleep in class"),
    "absent": _("sign_absent", default="Often absent or late without a reason"),
    "bullied": _("sign_bullied", default="Bullied or left out by others"),
    "bullying": _("sign_bullying", default="Bullies others"),
    "neglect": _(
        "sign_neglect",
        default="Signs of neglect: often hungry, unwashed, unsuitably dressed or ill without care",
    ),
    "injuries": _(
        "sign_injuries",
        default="Injuries that are not explained, or explained in ways that do not fit",
    ),
    "afraid_home": _("sign_afraid_home", default="Afraid to go home, or afraid of someone at home"),
    "self_harm": _(
        "sign_self_harm",
        default="Talks about hurting themself or about wanting to die, or has marks of self-harm",
    ),
    "substance": _(
        "sign_substance", default="Signs of smoking, naswar, sniffing glue or other drugs"
    ),
}
SAFETY_SIGNS = frozenset({"injuries", "afraid_home", "self_harm"})

CONCERN = {
    0: _("concern_none", default="No concern"),
    1: _("concern_watch", default="Watch: talk with the student and observe again"),
    2: _("concern_refer", default="Refer: needs the counsellor or health staff"),
}


# Types.


class Measurement(colander.SchemaType):
    """A decimal measurement as typed; Urdu digits and a comma are read too.

    The value keeps every digit typed, so a unit check sees 1.45 rather than a rounded 1.5;
    the service rounds to the stored precision after its checks.
    """

    def serialize(self, node, appstruct):
        if appstruct is colander.null or appstruct is None:
            return colander.null
        return format(Decimal(appstruct), "f")

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or str(cstruct).strip() == "":
            return colander.null
        text = normalize_digits(str(cstruct)).strip().replace(",", ".")
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or value <= 0:
            raise colander.Invalid(
                node,
                _(
                    "invalid_measurement",
                    default='"${value}" is not a measurement: use digits, with a dot for the '
                    "decimal, for example 142.5.",
                    mapping={"value": str(cstruct).strip()},
                ),
            )
        return value


class FacilityKindType(EnumType):
    """A facility kind by its stored value or a short form such as BHU or THQ."""

    def __init__(self):
        super().__init__(FacilityKind, FACILITY_KIND)

    def deserialize(self, node, cstruct):
        if isinstance(cstruct, str) and cstruct.strip().lower() in FACILITY_KIND_ALIASES:
            return FACILITY_KIND_ALIASES[cstruct.strip().lower()]
        return super().deserialize(node, cstruct)


class ServiceList(colander.SchemaType):
    """Service codes, from a checkbox list or a cell like "vision; dental"."""

    def serialize(self, node, appstruct):
        if appstruct is colander.null or appstruct is None:
            return colander.null
        return list(appstruct)

    def deserialize(self, node, cstruct):
        if cstruct is colander.null:
            return colander.null
        items = re.split(r"[;,]", cstruct) if isinstance(cstruct, str) else list(cstruct)
        codes = [item.strip().lower() for item in items if item and item.strip()]
        if not codes:
            return colander.null
        unknown = [code for code in codes if code not in SERVICES]
        if unknown:
            raise colander.Invalid(
                node,
                _(
                    "invalid_services",
                    default="Unknown service(s): ${codes}. Use ${allowed}, separated by semicolons.",
                    mapping={"codes": ", ".join(unknown), "allowed": ", ".join(SERVICES)},
                ),
            )
        return list(dict.fromkeys(codes))


class FacilityPhone(colander.String):
    """A Pakistani landline or mobile number, stored in E.164 form (+92...)."""

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or str(cstruct).strip() == "":
            return colander.null
        digits = re.sub(r"[\s\-()]", "", normalize_digits(str(cstruct)))
        if digits.startswith("+92"):
            digits = "0" + digits[3:]
        elif digits.startswith("0092"):
            digits = "0" + digits[4:]
        if not re.fullmatch(r"0\d{9,10}", digits):
            raise colander.Invalid(
                node,
                _(
                    "invalid_facility_phone",
                    default='"${value}" is not a Pakistani phone number: write it with the area '
                    "code, for example 061-9200123 or 0300-1234567.",
                    mapping={"value": str(cstruct).strip()},
                ),
            )
        return "+92" + digits[1:]


# Screenings.


def _finding_node(name: str, title) -> colander.SchemaNode:
    return colander.SchemaNode(
        EnumType(Finding, FINDING),
        name=name,
        title=title,
        missing=Finding.NOT_CHECKED,
        default=Finding.NOT_CHECKED,
        widget=deform.widget.SelectWidget(values=choices(FINDING, blank=False)),
    )


def _vision_node(name: str, title) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=title,
        missing="",
        validator=colander.OneOf(["", *VISION]),
        widget=deform.widget.SelectWidget(
            values=[("", _("finding_not_checked", default="Not checked"))]
            + [(value, value) for value in VISION]
        ),
    )


def _measurement_node(name: str, title, unit_hint) -> colander.SchemaNode:
    return colander.SchemaNode(
        Measurement(),
        name=name,
        title=title,
        description=unit_hint,
        missing=None,
        widget=ltr_text(inputmode="decimal"),
    )


class ScreeningSchema(colander.MappingSchema):
    screened_on = date_node("screened_on", _("Screened on"))
    height_cm = _measurement_node(
        "height_cm",
        _("Height (cm)"),
        _("height_hint", default="Standing height in centimetres, for example 142.5."),
    )
    weight_kg = _measurement_node(
        "weight_kg",
        _("Weight (kg)"),
        _("weight_hint", default="Weight in kilograms, for example 35.2."),
    )
    vision_left = _vision_node("vision_left", _("Vision, left eye"))
    vision_right = _vision_node("vision_right", _("Vision, right eye"))
    hearing = _finding_node("hearing", _("Hearing"))
    dental = _finding_node("dental", _("Teeth"))
    skin = _finding_node("skin", _("Skin"))
    hygiene = _finding_node("hygiene", _("Hygiene"))
    immunisation_card_seen = yes_no_node("immunisation_card_seen", _("Immunisation card seen"))
    note = colander.SchemaNode(
        colander.String(),
        title=_("Note"),
        preparer=trimmed,
        missing="",
        validator=colander.Length(max=2000),
        widget=deform.widget.TextAreaWidget(rows=3),
    )
    share_with_guardian = colander.SchemaNode(
        colander.Boolean(),
        title=_("share_with_guardian", default="Share with the guardian"),
        description=_(
            "share_with_guardian_help",
            default="The guardian's SPeTS pages then show the date, height, weight, eyesight "
            "and the hearing, teeth, skin and hygiene findings that were checked. The note, "
            "BMI, z-scores and the immunisation card are never shown to the guardian.",
        ),
        missing=False,
        default=False,
        widget=deform.widget.CheckboxWidget(),
    )
    version = version_node()
    csrf_token = csrf_node()


# Well-being.


class ObservationSchema(colander.MappingSchema):
    observed_on = date_node("observed_on", _("Observed on"))
    signs = colander.SchemaNode(
        colander.Set(),
        title=_("What you have seen in the last weeks"),
        missing=[],
        widget=deform.widget.CheckboxChoiceWidget(values=list(WELLBEING_SIGNS.items())),
    )
    concern_level = colander.SchemaNode(
        colander.Integer(),
        title=_("Your concern"),
        validator=colander.OneOf(list(CONCERN)),
        default=0,
        widget=deform.widget.RadioChoiceWidget(values=[(str(k), v) for k, v in CONCERN.items()]),
    )
    note = colander.SchemaNode(
        colander.String(),
        title=_("What you saw (facts, not guesses)"),
        preparer=trimmed,
        missing="",
        validator=colander.Length(max=2000),
        widget=deform.widget.TextAreaWidget(rows=4),
    )
    csrf_token = csrf_node()


@colander.deferred
def _instrument_widget(node, kw):
    return deform.widget.SelectWidget(values=kw.get("instrument_choices", []))


@colander.deferred
def _instrument_validator(node, kw):
    return colander.OneOf([value for value, _label in kw.get("instrument_choices", [])])


@colander.deferred
def _language_widget(node, kw):
    return deform.widget.SelectWidget(values=kw.get("language_choices", []))


class ScreenerStartSchema(colander.MappingSchema):
    instrument = colander.SchemaNode(
        colander.String(),
        title=_("Questionnaire"),
        widget=_instrument_widget,
        validator=_instrument_validator,
    )
    language = colander.SchemaNode(
        colander.String(),
        title=_("Language of the questions"),
        widget=_language_widget,
    )
    guardian_consent_by = colander.SchemaNode(
        colander.String(),
        title=_("Guardian who consented"),
        description=_(
            "consent_hint",
            default="Name and relation, for example Muhammad Aslam (father). Without a "
            "guardian's consent the questionnaire is not given.",
        ),
        preparer=trimmed,
        validator=colander.Length(min=3, max=200),
    )
    guardian_consent_on = date_node("guardian_consent_on", _("Consent given on"))
    answered_on = date_node("answered_on", _("Answered on"))
    csrf_token = csrf_node()


def response_schema(items: list[str], scale: list[dict]) -> colander.MappingSchema:
    """Build a schema with one required choice per item of an instrument, in the chosen language."""
    schema = colander.MappingSchema()
    values = [(str(option["score"]), option["label"]) for option in scale]
    allowed = [int(option["score"]) for option in scale]
    for position, text in enumerate(items):
        schema.add(
            colander.SchemaNode(
                colander.Integer(),
                name=f"item_{position}",
                title=f"{position + 1}. {text}",
                validator=colander.OneOf(allowed),
                widget=deform.widget.RadioChoiceWidget(values=values, inline=True),
            )
        )
    schema.add(csrf_node())
    return schema


class InstrumentUploadSchema(colander.MappingSchema):
    definition = colander.SchemaNode(
        colander.String(),
        title=_("Instrument definition (JSON)"),
        description=_(
            "instrument_json_hint",
            default="Paste the JSON file of a validated questionnaire; the format is "
            "described on this page.",
        ),
        validator=colander.Length(min=2, max=200_000),
        widget=deform.widget.TextAreaWidget(rows=14, attributes={"dir": "ltr"}),
    )
    csrf_token = csrf_node()


# Referrals.


@colander.deferred
def _service_widget(node, kw):
    return deform.widget.SelectWidget(values=choices(SERVICES))


class ReferralSchema(colander.MappingSchema):
    service = colander.SchemaNode(
        colander.String(),
        title=_("Service needed"),
        validator=colander.OneOf(list(SERVICES)),
        widget=_service_widget,
    )
    reason = colander.SchemaNode(
        colander.String(),
        title=_("Reason for the referral"),
        description=_(
            "referral_reason_hint",
            default="What was found and since when. The facility and the district health "
            "office read this; messages never contain it.",
        ),
        preparer=trimmed,
        validator=colander.Length(min=5, max=2000),
        widget=deform.widget.TextAreaWidget(rows=4),
    )
    urgent = colander.SchemaNode(
        colander.Boolean(),
        title=_("Urgent"),
        missing=False,
        widget=deform.widget.CheckboxWidget(),
    )
    csrf_token = csrf_node()


class AppointmentSchema(colander.MappingSchema):
    appointment_on = date_node("appointment_on", _("Appointment on"))
    version = version_node()
    csrf_token = csrf_node()


class OutcomeSchema(colander.MappingSchema):
    outcome = colander.SchemaNode(
        colander.String(),
        title=_("Outcome for the school"),
        description=_(
            "outcome_hint",
            default="What the school needs to know or do, for example: glasses given, "
            "seat the child near the board. The school and the guardian's slip show it.",
        ),
        preparer=trimmed,
        validator=colander.Length(min=3, max=2000),
        widget=deform.widget.TextAreaWidget(rows=4),
    )
    version = version_node()
    csrf_token = csrf_node()


class CancelSchema(colander.MappingSchema):
    reason = colander.SchemaNode(
        colander.String(),
        title=_("Why the referral is cancelled"),
        preparer=trimmed,
        validator=colander.Length(min=3, max=1000),
        widget=deform.widget.TextAreaWidget(rows=3),
    )
    version = version_node()
    csrf_token = csrf_node()


class ConfirmSchema(colander.MappingSchema):
    version = version_node()
    csrf_token = csrf_node()


# Facilities.


@colander.deferred
def _district_widget(node, kw):
    district_choices = kw.get("district_choices")
    if district_choices is None:
        return ltr_text()
    return deform.widget.SelectWidget(
        values=[("", _("choose_blank", default="— choose —"))] + district_choices
    )


@colander.deferred
def _tehsil_widget(node, kw):
    tehsil_choices = kw.get("tehsil_choices")
    if tehsil_choices is None:
        return ltr_text()
    return deform.widget.SelectWidget(
        values=[("", _("no_tehsil", default="— whole district —"))] + tehsil_choices
    )


class FacilitySchema(colander.MappingSchema):
    """A health facility: the admin form, and one row of an imported facility list."""

    code = colander.SchemaNode(
        colander.String(),
        title=_("Facility code"),
        preparer=trimmed,
        validator=colander.Regex(
            r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,31}$",
            msg=_(
                "invalid_facility_code",
                default="Use 1 to 32 letters, digits, hyphens or underscores.",
            ),
        ),
        widget=ltr_text(),
    )
    name_en = colander.SchemaNode(
        colander.String(),
        title=_("Name in English"),
        preparer=trimmed,
        validator=colander.Length(min=2, max=200),
        widget=ltr_text(),
    )
    name_ur = colander.SchemaNode(
        colander.String(),
        title=_("Name in Urdu"),
        preparer=trimmed,
        missing="",
        validator=colander.Length(max=200),
        widget=deform.widget.TextInputWidget(attributes={"dir": "rtl", "lang": "ur"}),
    )
    kind = colander.SchemaNode(
        FacilityKindType(),
        title=_("Type"),
        widget=deform.widget.SelectWidget(values=choices(FACILITY_KIND)),
    )
    district = colander.SchemaNode(
        colander.String(),
        title=_("District"),
        preparer=trimmed,
        widget=_district_widget,
    )
    tehsil = colander.SchemaNode(
        colander.String(),
        title=_("Tehsil"),
        preparer=trimmed,
        missing="",
        widget=_tehsil_widget,
    )
    services = colander.SchemaNode(
        ServiceList(),
        title=_("Services offered"),
        widget=deform.widget.CheckboxChoiceWidget(values=list(SERVICES.items())),
    )
    phone = colander.SchemaNode(
        FacilityPhone(),
        title=_("Phone"),
        missing=None,
        widget=ltr_text("061-9200123", inputmode="tel"),
    )
    address = colander.SchemaNode(
        colander.String(),
        title=_("Address"),
        preparer=trimmed,
        missing="",
        validator=colander.Length(max=300),
    )
    is_active = colander.SchemaNode(
        YesNo(),
        name="is_active",
        title=_("Receives referrals"),
        missing=True,
        default=True,
        widget=deform.widget.SelectWidget(
            values=[("yes", _("yes", default="Yes")), ("no", _("no", default="No"))]
        ),
    )
    version = version_node()
    csrf_token = csrf_node()


# The columns of a facility list, in the order of the template, with their schema field.
FACILITY_COLUMNS = {
    "code": "code",
    "name_en": "name_en",
    "name_ur": "name_ur",
    "kind": "kind",
    "district": "district",
    "tehsil": "tehsil",
    "services": "services",
    "phone": "phone",
    "address": "address",
    "active": "is_active",
}
FACILITY_REQUIRED_COLUMNS = ("code", "name_en", "kind", "district", "services")


@colander.deferred
def _staff_widget(node, kw):
    return deform.widget.SelectWidget(values=kw.get("user_choices", []))


class StaffSchema(colander.MappingSchema):
    user_id = colander.SchemaNode(
        colander.Integer(),
        title=_("Health staff account"),
        widget=_staff_widget,
    )
    csrf_token = csrf_node()
