"""Schemas for the term calendar: years, quarters, exam windows, holidays and closures."""

import colander
import deform.widget

from spets.forms import vocab
from spets.forms.common import csrf_node, date_node, enum_node, name_ur_node, version_node
from spets.forms.types import WholeNumber, trimmed
from spets.i18n import _
from spets.models import DayOffKind, ExamKind


class NewYearSchema(colander.MappingSchema):
    start_year = colander.SchemaNode(
        WholeNumber(),
        title=_("Year in which it starts"),
        description=_("The academic year runs from 1 April of this year to 31 March of the next."),
        validator=colander.Range(min=2000, max=2100),
    )
    weekly_off_days = colander.SchemaNode(
        colander.Set(),
        title=_("Weekly days off"),
        default={"7"},
        missing={"7"},
        widget=deform.widget.CheckboxChoiceWidget(
            values=[(str(day), label) for day, label in vocab.WEEKDAYS.items()], inline=True
        ),
    )
    csrf_token = csrf_node()


class QuarterSchema(colander.MappingSchema):
    starts_on = date_node("starts_on", _("First day"))
    ends_on = date_node("ends_on", _("Last day"))
    version = version_node()
    csrf_token = csrf_node()


def _name_en(name: str = "name_en") -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=_("Name in English"),
        preparer=trimmed,
        validator=colander.Length(min=2, max=200),
    )


class ExamWindowSchema(colander.MappingSchema):
    kind = enum_node("kind", _("Kind"), ExamKind, vocab.EXAM_KIND, required=True)
    name_en = _name_en()
    name_ur = name_ur_node("name_ur", _("Name in Urdu"))
    starts_on = date_node("starts_on", _("First day"))
    ends_on = date_node("ends_on", _("Last day"))
    version = version_node()
    csrf_token = csrf_node()


@colander.deferred
def _unit_widget(node, kw):
    return deform.widget.SelectWidget(values=kw.get("units", []))


@colander.deferred
def _unit_validator(node, kw):
    return colander.OneOf([int(value) for value, _label in kw.get("units", [])])


@colander.deferred
def _day_off_kind_widget(node, kw):
    kinds = kw.get("kinds", list(DayOffKind))
    return deform.widget.SelectWidget(values=[(k.value, vocab.DAY_OFF_KIND[k]) for k in kinds])


class DayOffSchema(colander.MappingSchema):
    kind = colander.SchemaNode(
        colander.String(),
        title=_("Kind"),
        widget=_day_off_kind_widget,
        validator=colander.OneOf([k.value for k in DayOffKind]),
    )
    org_unit_id = colander.SchemaNode(
        WholeNumber(),
        title=_("Applies to"),
        description=_("The unit and everything below it, for example a district or one school."),
        widget=_unit_widget,
        validator=_unit_validator,
    )
    name_en = _name_en()
    name_ur = name_ur_node("name_ur", _("Name in Urdu"))
    starts_on = date_node("starts_on", _("First day"))
    ends_on = date_node("ends_on", _("Last day"))
    version = version_node()
    csrf_token = csrf_node()
