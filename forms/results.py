"""Schemas for results: the marks grid's POST, sheet settings, amendments, grade scale, options.

The grid posts one text field per student, named ``mark-<student id>``, with the value
the page showed when it loaded in ``was-<student id>`` and the sheet's ``lock_version``.
An API body would carry the same data as
``{"lock_version": 7, "marks": {"12": "17.5", "13": "A"}, "was": {"12": "", "13": ""}}``.
What a mark may be (a number on the sheet's step, A for absent, or empty) is checked by
`services.grading.read_mark`, so a grid, an upload and an amendment share one rule.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import colander
import deform.widget

from spets.forms.common import csrf_node, version_node
from spets.forms.types import WholeNumber, trimmed
from spets.i18n import _, normalize_digits

MARK_PREFIX = "mark-"
SHOWN_PREFIX = "was-"
# A mark is at most "1000.00"; longer text is shortened before it reaches the error
# message, so a pasted paragraph cannot fill the page.
MAX_MARK_LENGTH = 20
# Far above any real section; it bounds the work one request can cause.
MAX_ROWS = 1000
REASON_MAX = 1000
STEP_CHOICES = (
    ("1", _("step_whole", default="Whole marks (1)")),
    ("0.5", _("step_half", default="Half marks (0.5)")),
)

_FIELD = re.compile(r"^(mark|was)-(\d{1,12})$")


class GridError(ValueError):
    """The grid's POST as a whole cannot be read; `message` says why and what to do."""

    def __init__(self, message):
        super().__init__(message.interpolate() if hasattr(message, "interpolate") else str(message))
        self.message = message


@dataclass
class GridPost:
    """The marks grid as posted: what each cell holds now and what it held when loaded."""

    lock_version: int | None
    typed: dict[int, str] = field(default_factory=dict)
    loaded: dict[int, str] = field(default_factory=dict)


def _cell(text: str) -> str:
    text = str(text).strip()
    if len(text) > MAX_MARK_LENGTH:
        # Never a valid mark, so read_mark refuses it and names the student.
        return text[:MAX_MARK_LENGTH] + "…"
    return text


def read_grid(params: Mapping[str, str]) -> GridPost:
    """Read the grid's fields; raise GridError when the version is missing or rows are too many."""
    version_text = normalize_digits(str(params.get("lock_version", ""))).strip()
    if not version_text.isdigit():
        raise GridError(
            _(
                "grid_without_version",
                default="The sheet's version is missing from the form, so nothing was saved. "
                "Reload the sheet and type the marks again.",
            )
        )
    grid = GridPost(lock_version=int(version_text))
    for name, value in params.items():
        match = _FIELD.match(name)
        if match is None:
            continue
        target = grid.typed if match[1] == "mark" else grid.loaded
        target[int(match[2])] = _cell(value)
    if len(grid.typed) > MAX_ROWS:
        raise GridError(
            _(
                "grid_too_many_rows",
                default="The form has ${count} marks; a sheet has at most ${max} students.",
                mapping={"count": len(grid.typed), "max": MAX_ROWS},
            )
        )
    return grid


class MarkNumber(colander.SchemaType):
    """A decimal number such as 75 or 37.5, typed with ASCII or Urdu digits; never rounded.

    `places` is the number of decimal places the column stores; a value with more is
    refused instead of being rounded by the database.
    """

    def __init__(self, places: int = 2):
        self.places = places

    def serialize(self, node, appstruct):
        if appstruct is colander.null or appstruct is None:
            return colander.null
        return format(Decimal(appstruct).normalize(), "f")

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or str(cstruct).strip() == "":
            return colander.null
        typed = str(cstruct).strip()
        try:
            value = Decimal(normalize_digits(typed).replace(",", "."))
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            raise colander.Invalid(
                node,
                _(
                    "invalid_decimal",
                    default='"${value}" is not a number: use digits, for example 75 or 37.5.',
                    mapping={"value": typed},
                ),
            )
        if value != value.quantize(Decimal(1).scaleb(-self.places)):
            raise colander.Invalid(
                node,
                _(
                    "too_many_decimals",
                    default='"${value}" has more than ${places} decimal place(s).',
                    mapping={"value": typed, "places": self.places},
                ),
            )
        return value


def _number_node(name: str, title, maximum: int, places: int = 2) -> colander.SchemaNode:
    return colander.SchemaNode(
        MarkNumber(places),
        name=name,
        title=title,
        validator=colander.Range(
            min=0,
            max=maximum,
            min_err=_("number_too_small", default="${val} is less than the minimum, ${min}."),
            max_err=_("number_too_large", default="${val} is more than the maximum, ${max}."),
        ),
        widget=deform.widget.TextInputWidget(attributes={"dir": "ltr", "inputmode": "decimal"}),
    )


class SettingsSchema(colander.MappingSchema):
    """The maximum, pass marks and step of a draft sheet; the service checks how they fit together."""

    max_marks = _number_node("max_marks", _("Maximum marks"), 1000)
    pass_marks = _number_node("pass_marks", _("Pass marks"), 1000)
    step = colander.SchemaNode(
        MarkNumber(1),
        title=_("Marks are given in"),
        validator=colander.OneOf([Decimal(value) for value, _label in STEP_CHOICES]),
        widget=deform.widget.SelectWidget(values=STEP_CHOICES),
    )
    version = version_node()
    csrf_token = csrf_node()


@colander.deferred
def _student_widget(node, kw):
    return deform.widget.SelectWidget(
        values=[("", _("choose_blank", default="— choose —"))] + kw["students"]
    )


@colander.deferred
def _student_validator(node, kw):
    return colander.OneOf([int(value) for value, _label in kw["students"]])


class AmendmentSchema(colander.MappingSchema):
    """A request to change one published mark; bind with `students` as (id, name) choices."""

    student_id = colander.SchemaNode(
        WholeNumber(),
        title=_("Student"),
        widget=_student_widget,
        validator=_student_validator,
    )
    marks = colander.SchemaNode(
        colander.String(),
        title=_("New mark"),
        description=_("amend_mark_help", default="A number on the sheet's step, or A for absent."),
        preparer=trimmed,
        validator=colander.Length(max=MAX_MARK_LENGTH),
        widget=deform.widget.TextInputWidget(attributes={"dir": "ltr", "autocomplete": "off"}),
    )
    reason = colander.SchemaNode(
        colander.String(),
        title=_("Reason for the change"),
        preparer=trimmed,
        validator=colander.Length(max=REASON_MAX),
        widget=deform.widget.TextAreaWidget(rows=3),
    )
    csrf_token = csrf_node()


class DecisionSchema(colander.MappingSchema):
    """Approve or reject an amendment; a rejection needs a comment (the service checks it)."""

    comment = colander.SchemaNode(
        colander.String(),
        title=_("Comment"),
        preparer=trimmed,
        missing="",
        validator=colander.Length(max=REASON_MAX),
        widget=deform.widget.TextAreaWidget(rows=3),
    )
    version = version_node()
    csrf_token = csrf_node()


class BandSchema(colander.MappingSchema):
    grade = colander.SchemaNode(
        colander.String(),
        title=_("result_grade", default="Grade"),
        preparer=trimmed,
        validator=colander.Length(min=1, max=8),
        widget=deform.widget.TextInputWidget(attributes={"dir": "ltr"}),
    )
    min_percent = _number_node("min_percent", _("From percentage"), 100, places=1)
    passing = colander.SchemaNode(
        colander.Boolean(), title=_("A pass"), missing=False, widget=deform.widget.CheckboxWidget()
    )


MAX_BANDS = 12


def read_bands(
    params: Mapping[str, str], translate: Callable[[str], str] | None = None
) -> tuple[list[dict], dict[int, dict[str, str]]]:
    """Read the grade scale table (``grade-<n>``, ``min_percent-<n>``, ``passing-<n>``).

    Return the valid bands and, by row number, the message of each invalid field,
    translated by `translate`. A row with neither a grade nor a percentage is skipped.
    """
    schema = BandSchema()
    bands: list[dict] = []
    errors: dict[int, dict[str, str]] = {}
    for number in range(MAX_BANDS):
        cstruct = {
            "grade": params.get(f"grade-{number}", ""),
            "min_percent": params.get(f"min_percent-{number}", ""),
            "passing": "true" if params.get(f"passing-{number}") else "false",
        }
        if not (cstruct["grade"].strip() or cstruct["min_percent"].strip()):
            continue
        try:
            bands.append(schema.deserialize(cstruct))
        except colander.Invalid as invalid:
            errors[number] = invalid.asdict(translate=translate)
    return bands, errors


class ResultOptionsSchema(colander.MappingSchema):
    show_class_position = colander.SchemaNode(
        colander.Boolean(),
        title=_("Show each student's class position on report cards"),
        missing=False,
        widget=deform.widget.CheckboxWidget(),
    )
    version = version_node()
    csrf_token = csrf_node()
