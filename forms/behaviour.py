"""Schemas and labels of behaviour: the monthly rubric, incidents, early warnings and plans.

`RubricSheetSchema` validates the rubric sheet's POST after peppercorn, and the same
structure sent as a JSON body:

    {"version": 4,
     "students": [{"student_id": 12, "discipline": 3, "punctuality": 4,
                   "cleanliness": 3, "hygiene": 4, "note": ""}]}

A student left out, or sent with no level at all, keeps what was saved.
"""

import colander
import deform.widget

from spets.forms.common import choices, csrf_node, date_node, version_node
from spets.forms.types import EnumType, WholeNumber, trimmed
from spets.i18n import _
from spets.models import FlagArea, FlagLevel, IncidentKind

NOTE_MAX = 500
TEXT_MAX = 2000
MAX_STUDENTS = 1000

# The four areas of the rubric, in the order the sheet shows them; the codes are the
# BehaviourRubric columns.
AREAS = {
    "discipline": _("Discipline"),
    "punctuality": _("Punctuality"),
    "cleanliness": _("Cleanliness"),
    "hygiene": _("Personal hygiene"),
}

LEVELS = {
    4: _("rubric_level_4", default="4 · Excellent"),
    3: _("rubric_level_3", default="3 · Good"),
    2: _("rubric_level_2", default="2 · Developing"),
    1: _("rubric_level_1", default="1 · Needs help"),
}

# Descriptors of each level in each area, shown to teachers beside the choices.
DESCRIPTORS = {
    "discipline": {
        4: _(
            "rubric_discipline_4",
            default="Follows the class rules without reminders and helps others follow them.",
        ),
        3: _(
            "rubric_discipline_3", default="Follows the class rules; needs a reminder now and then."
        ),
        2: _("rubric_discipline_2", default="Often needs reminders to follow the class rules."),
        1: _(
            "rubric_discipline_1", default="Seldom follows the class rules, even after reminders."
        ),
    },
    "punctuality": {
        4: _(
            "rubric_punctuality_4",
            default="Always on time for school and lessons; work handed in on time.",
        ),
        3: _("rubric_punctuality_3", default="Usually on time; late only rarely."),
        2: _("rubric_punctuality_2", default="Often late for school or for lessons."),
        1: _("rubric_punctuality_1", default="Late on most days and misses the start of lessons."),
    },
    "cleanliness": {
        4: _("rubric_cleanliness_4", default="Keeps books, uniform and desk clean and tidy."),
        3: _("rubric_cleanliness_3", default="Mostly keeps books, uniform and desk clean."),
        2: _("rubric_cleanliness_2", default="Books, uniform or desk are often untidy."),
        1: _("rubric_cleanliness_1", default="Books, uniform and desk are seldom clean."),
    },
    "hygiene": {
        4: _(
            "rubric_hygiene_4", default="Always clean and groomed: washed, nails cut, hair combed."
        ),
        3: _("rubric_hygiene_3", default="Usually clean and groomed."),
        2: _("rubric_hygiene_2", default="Often needs a reminder about washing or grooming."),
        1: _(
            "rubric_hygiene_1",
            default="Seldom clean or groomed; may need help from home or the school.",
        ),
    },
}

INCIDENT_KIND = {
    IncidentKind.POSITIVE: _("incident_positive", default="Positive"),
    IncidentKind.NEGATIVE: _("incident_negative", default="Negative"),
}

# Incident categories by kind; the codes are stored in Incident.category.
INCIDENT_CATEGORIES = {
    IncidentKind.NEGATIVE: {
        "fighting": _("incident_fighting", default="Fighting"),
        "bullying": _("incident_bullying", default="Bullying"),
        "disrespect": _("incident_disrespect", default="Disrespect to a teacher or student"),
        "disruption": _("incident_disruption", default="Disrupting lessons"),
        "cheating": _("incident_cheating", default="Cheating"),
        "damage": _("incident_damage", default="Damage to school property"),
        "truancy": _("incident_truancy", default="Leaving school without permission"),
        "other_negative": _("incident_other_negative", default="Other (negative)"),
    },
    IncidentKind.POSITIVE: {
        "helping_others": _("incident_helping_others", default="Helping others"),
        "leadership": _("incident_leadership", default="Leadership"),
        "achievement": _("incident_achievement", default="Achievement in or out of class"),
        "honesty": _("incident_honesty", default="Honesty"),
        "other_positive": _("incident_other_positive", default="Other (positive)"),
    },
}
CATEGORY_LABELS = {
    code: label for table in INCIDENT_CATEGORIES.values() for code, label in table.items()
}

FLAG_AREA = {
    FlagArea.ATTENDANCE: _("flag_area_attendance", default="Attendance"),
    FlagArea.BEHAVIOUR: _("flag_area_behaviour", default="Behaviour"),
    FlagArea.COURSE: _("flag_area_course", default="Course performance"),
}

FLAG_LEVEL = {
    FlagLevel.WATCH: _("flag_level_watch", default="Watch"),
    FlagLevel.AT_RISK: _("flag_level_at_risk", default="At risk"),
}


def _text(name: str, title, maximum: int, required: bool, rows: int = 3) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=title,
        preparer=trimmed,
        missing=colander.required if required else "",
        validator=colander.Length(
            min=2 if required else 0,
            max=maximum,
            max_err=_(
                "text_too_long",
                default="Too long: at most ${max} characters.",
                mapping={"max": maximum},
            ),
        ),
        widget=deform.widget.TextAreaWidget(rows=rows),
    )


# The rubric sheet.


def _rubric_level(node, value):
    if value not in LEVELS:
        raise colander.Invalid(
            node,
            _(
                "rubric_level_invalid",
                default="${value} is not a level: choose a level from 1 to 4.",
                mapping={"value": value},
            ),
        )


def _level_node(name: str) -> colander.SchemaNode:
    return colander.SchemaNode(WholeNumber(), name=name, missing=None, validator=_rubric_level)


class RubricRowSchema(colander.MappingSchema):
    student_id = colander.SchemaNode(WholeNumber())
    discipline = _level_node("discipline")
    punctuality = _level_node("punctuality")
    cleanliness = _level_node("cleanliness")
    hygiene = _level_node("hygiene")
    note = colander.SchemaNode(
        colander.String(),
        missing="",
        preparer=trimmed,
        validator=colander.Length(max=NOTE_MAX),
    )


class RubricRowsSchema(colander.SequenceSchema):
    student = RubricRowSchema()


class RubricSheetSchema(colander.MappingSchema):
    students = RubricRowsSchema(missing=(), validator=colander.Length(max=MAX_STUDENTS))
    version = version_node()
    csrf_token = csrf_node()


# Incidents.


def _category_fits_kind(node, values):
    allowed = INCIDENT_CATEGORIES.get(values.get("kind"), {})
    if values.get("category") not in allowed:
        raise colander.Invalid(
            node["category"],
            _(
                "incident_category_kind",
                default="Choose a category of the kind chosen: this category belongs to the other kind.",
            ),
        )


class IncidentSchema(colander.MappingSchema):
    kind = colander.SchemaNode(
        EnumType(IncidentKind, INCIDENT_KIND),
        title=_("Kind"),
        widget=deform.widget.SelectWidget(values=choices(INCIDENT_KIND)),
    )
    category = colander.SchemaNode(
        colander.String(),
        title=_("Category"),
        widget=deform.widget.SelectWidget(values=choices(CATEGORY_LABELS)),
    )
    occurred_on = date_node("occurred_on", _("Date"))
    description = _text("description", _("What happened"), TEXT_MAX, required=True, rows=4)
    follow_up = _text("follow_up", _("Follow-up taken"), TEXT_MAX, required=False)
    version = version_node()
    csrf_token = csrf_node()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, validator=_category_fits_kind, **kwargs)


# Early-warning thresholds.


def _percent_node(name: str, title) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.Decimal(quant="0.1"),
        name=name,
        title=title,
        validator=colander.Range(
            min=1,
            max=100,
            min_err=_("percent_range", default="Give a percentage from 1 to 100."),
            max_err=_("percent_range", default="Give a percentage from 1 to 100."),
        ),
        widget=deform.widget.TextInputWidget(attributes={"dir": "ltr", "inputmode": "decimal"}),
    )


def _count_node(name: str, title, minimum: int, maximum: int) -> colander.SchemaNode:
    return colander.SchemaNode(
        WholeNumber(),
        name=name,
        title=title,
        validator=colander.Range(
            min=minimum,
            max=maximum,
            min_err=_("number_too_small", default="${val} is less than the minimum, ${min}."),
            max_err=_("number_too_large", default="${val} is more than the maximum, ${max}."),
        ),
        widget=deform.widget.TextInputWidget(attributes={"dir": "ltr", "inputmode": "numeric"}),
    )


def _watch_above_risk(node, values):
    if values["attendance_risk_below"] >= values["attendance_watch_below"]:
        raise colander.Invalid(
            node["attendance_risk_below"],
            _(
                "risk_not_below_watch",
                default="The at-risk mark must be below the watch mark (${watch} %).",
                mapping={"watch": values["attendance_watch_below"]},
            ),
        )


class WarningSettingsSchema(colander.MappingSchema):
    attendance_watch_below = _percent_node(
        "attendance_watch_below", _("Watch when attendance is below (%)")
    )
    attendance_risk_below = _percent_node(
        "attendance_risk_below", _("At risk when attendance is below (%)")
    )
    negative_incidents = _count_node(
        "negative_incidents", _("Negative incidents that raise a behaviour flag"), 1, 50
    )
    incident_window_days = _count_node(
        "incident_window_days", _("Counted over the last (days)"), 1, 365
    )
    low_rubric_level = _count_node(
        "low_rubric_level", _("Low rubric level (a level at or below it raises a flag)"), 1, 3
    )
    course_drop_points = _percent_node(
        "course_drop_points",
        _("Drop in marks between two exams that raises a flag (percentage points)"),
    )
    version = version_node()
    csrf_token = csrf_node()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, validator=_watch_above_risk, **kwargs)


# Intervention plans.


@colander.deferred
def _owner_widget(node, kw):
    return deform.widget.SelectWidget(values=choices(dict(kw.get("owners", ())), blank=True))


@colander.deferred
def _owner_validator(node, kw):
    return colander.OneOf([user_id for user_id, _name in kw.get("owners", ())])


def _consent_date_needed(node, values):
    if values.get("parent_consent") and not values.get("parent_consent_on"):
        raise colander.Invalid(
            node["parent_consent_on"],
            _("consent_date_needed", default="Give the date the parent agreed."),
        )


class PlanSchema(colander.MappingSchema):
    goal = _text("goal", _("Goal"), TEXT_MAX, required=True)
    actions = _text("actions", _("Actions"), TEXT_MAX, required=True, rows=5)
    owner_id = colander.SchemaNode(
        WholeNumber(),
        title=_("Owner (reviews the plan)"),
        widget=_owner_widget,
        validator=_owner_validator,
    )
    parent_consent = colander.SchemaNode(
        colander.Boolean(),
        title=_("The parent or guardian agreed to the plan"),
        missing=False,
        widget=deform.widget.CheckboxWidget(),
    )
    parent_consent_on = date_node("parent_consent_on", _("Date of the agreement"), required=False)
    review_on = date_node("review_on", _("Next review"))
    version = version_node()
    csrf_token = csrf_node()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, validator=_consent_date_needed, **kwargs)


def _next_review_needed(node, values):
    if not values.get("close_plan") and not values.get("next_review_on"):
        raise colander.Invalid(
            node["next_review_on"],
            _(
                "next_review_needed",
                default="Give the date of the next review, or close the plan.",
            ),
        )


class ReviewSchema(colander.MappingSchema):
    progress = _text(
        "progress",
        _("Progress since the plan started or the last review"),
        TEXT_MAX,
        required=True,
        rows=4,
    )
    flag_resolved = colander.SchemaNode(
        colander.Boolean(),
        title=_("The concern behind the plan is resolved"),
        missing=False,
        widget=deform.widget.CheckboxWidget(),
    )
    close_plan = colander.SchemaNode(
        colander.Boolean(),
        title=_("Close the plan"),
        missing=False,
        widget=deform.widget.CheckboxWidget(),
    )
    next_review_on = date_node("next_review_on", _("Next review"), required=False)
    csrf_token = csrf_node()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, validator=_next_review_needed, **kwargs)
