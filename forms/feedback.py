"""Schemas for quarterly subject feedback: the sheet of a feedback task, and catalogue items.

`SheetSchema` validates the sheet's POST after peppercorn has turned the flat fields into
nested data, and validates the same structure sent as a JSON body:

    {"version": 4,
     "students": [{"student_id": 12, "note": "",
                   "strengths": [3, 5],
                   "weaknesses": [{"item_id": 8, "ticked": true, "planned_action": "..."}],
                   "ratings": [{"previous_item_id": 91, "progress": "improved"}]}]}

A student left out of `students` keeps what was saved for them. For a student that is
sent, the row replaces what was saved: unticked weaknesses and unrated ratings are dropped.
"""

import re

import colander
import deform.widget

from spets.forms.common import csrf_node, version_node
from spets.forms.types import EnumType, WholeNumber, trimmed
from spets.i18n import _
from spets.models import FeedbackKind, Progress

NOTE_MAX = 1000
PLANNED_ACTION_MAX = 500
# Far above any real section or catalogue; it bounds the work one request can cause.
MAX_STUDENTS = 1000
MAX_PICKS = 100

FEEDBACK_KIND = {
    FeedbackKind.STRENGTH: _("feedback_kind_strength", default="Strength"),
    FeedbackKind.WEAKNESS: _("feedback_kind_weakness", default="Weakness"),
}

PROGRESS = {
    Progress.IMPROVED: _("progress_improved", default="Improved"),
    Progress.UNCHANGED: _("progress_unchanged", default="Unchanged"),
    Progress.WORSE: _("progress_worse", default="Worse"),
}


def _text_node(name: str, maximum: int, title=None) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=title,
        missing="",
        preparer=trimmed,
        validator=colander.Length(
            max=maximum,
            max_err=_(
                "text_too_long",
                default="Too long: at most ${max} characters.",
                mapping={"max": maximum},
            ),
        ),
    )


class WeaknessSchema(colander.MappingSchema):
    item_id = colander.SchemaNode(WholeNumber())
    ticked = colander.SchemaNode(colander.Boolean(), missing=False)
    planned_action = _text_node("planned_action", PLANNED_ACTION_MAX, _("Planned action"))


class RatingSchema(colander.MappingSchema):
    previous_item_id = colander.SchemaNode(WholeNumber())
    progress = colander.SchemaNode(EnumType(Progress, PROGRESS), missing=None)


class StrengthIdsSchema(colander.SequenceSchema):
    strength = colander.SchemaNode(WholeNumber())


class WeaknessesSchema(colander.SequenceSchema):
    weakness = WeaknessSchema()


class RatingsSchema(colander.SequenceSchema):
    rating = RatingSchema()


def _picks_limit() -> colander.Length:
    return colander.Length(max=MAX_PICKS)


class StudentFeedbackSchema(colander.MappingSchema):
    student_id = colander.SchemaNode(WholeNumber())
    note = _text_node("note", NOTE_MAX, _("Note"))
    strengths = StrengthIdsSchema(missing=(), validator=_picks_limit())
    weaknesses = WeaknessesSchema(missing=(), validator=_picks_limit())
    ratings = RatingsSchema(missing=(), validator=_picks_limit())


class StudentRowsSchema(colander.SequenceSchema):
    student = StudentFeedbackSchema()


class SheetSchema(colander.MappingSchema):
    students = StudentRowsSchema(missing=(), validator=colander.Length(max=MAX_STUDENTS))
    version = version_node()
    csrf_token = csrf_node()


# Catalogue items.

_CODE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_URDU_LETTER = re.compile(r"[\u0600-\u06FF]")


def catalogue_code(node, value):
    if not _CODE.match(value):
        raise colander.Invalid(
            node,
            _(
                "invalid_catalogue_code",
                default='"${value}" is not a valid code: use lower-case letters a to z, digits, '
                '"_" and "-", for example tables_not_secure.',
                mapping={"value": value},
            ),
        )


def has_urdu_letters(node, value):
    if not _URDU_LETTER.search(value):
        raise colander.Invalid(
            node,
            _(
                "text_not_urdu",
                default='"${value}" has no Urdu letters: write the Urdu text in Urdu script.',
                mapping={"value": value},
            ),
        )


@colander.deferred
def _subject_widget(node, kw):
    return deform.widget.SelectWidget(values=kw.get("subjects", []))


@colander.deferred
def _subject_validator(node, kw):
    return colander.OneOf([int(value) for value, _label in kw.get("subjects", [])])


@colander.deferred
def _kind_widget(node, kw):
    return deform.widget.SelectWidget(values=kw.get("kinds", []))


@colander.deferred
def _kind_validator(node, kw):
    return colander.OneOf([FeedbackKind(value) for value, _label in kw.get("kinds", [])])


def _catalogue_text(name: str, title, *, urdu: bool) -> colander.SchemaNode:
    length = colander.Length(min=2, max=300)
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=title,
        preparer=trimmed,
        validator=colander.All(length, has_urdu_letters) if urdu else length,
        widget=deform.widget.TextInputWidget(
            attributes={"dir": "rtl", "lang": "ur"} if urdu else {"dir": "ltr"}
        ),
    )


class CatalogueItemSchema(colander.MappingSchema):
    subject_id = colander.SchemaNode(
        WholeNumber(), title=_("Subject"), widget=_subject_widget, validator=_subject_validator
    )
    kind = colander.SchemaNode(
        EnumType(FeedbackKind, FEEDBACK_KIND),
        title=_("Strength or weakness"),
        widget=_kind_widget,
        validator=_kind_validator,
    )
    code = colander.SchemaNode(
        colander.String(),
        title=_("Code"),
        description=_(
            "catalogue_code_help",
            default="A short name that stays the same when the texts change, unique in the subject.",
        ),
        preparer=trimmed,
        validator=colander.All(colander.Length(min=1, max=32), catalogue_code),
        widget=deform.widget.TextInputWidget(attributes={"dir": "ltr"}),
    )
    text_en = _catalogue_text("text_en", _("Text in English"), urdu=False)
    text_ur = _catalogue_text("text_ur", _("Text in Urdu"), urdu=True)
    position = colander.SchemaNode(
        WholeNumber(),
        title=_("Position in the list"),
        description=_(
            "catalogue_position_help", default="Lower numbers come first on the feedback sheet."
        ),
        missing=0,
        validator=colander.Range(min=0, max=999),
    )
    is_active = colander.SchemaNode(
        colander.Boolean(),
        title=_("Offered on new feedback sheets"),
        missing=False,
        default=True,
        widget=deform.widget.CheckboxWidget(),
    )
    version = version_node()
    csrf_token = csrf_node()
