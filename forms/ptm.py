"""Schemas of the PTM pages: days, slots, minutes, agreed actions and follow-ups.

The minutes sheet is a grid with one block per booking, so it is read by
`parse_minutes`, which applies the same node types to each block's fields.
"""

import re
from datetime import time

import colander
import deform.widget

from spets.forms.common import (
    csrf_node,
    date_node,
    ltr_text,
    version_node,
)
from spets.forms.types import LocalDate, WholeNumber, YesNo, _text, trimmed
from spets.i18n import _
from spets.models.ptm import FollowUpMethod, PtmAttendance

ATTENDANCE_LABELS = {
    PtmAttendance.NOT_RECORDED: _("ptm_attendance_not_recorded", default="Not recorded yet"),
    PtmAttendance.CAME: _("ptm_attendance_came", default="Came"),
    PtmAttendance.DID_NOT_COME: _("ptm_attendance_did_not_come", default="Did not come"),
}
FOLLOW_UP_LABELS = {
    FollowUpMethod.CALL: _("follow_up_call", default="Phone call"),
    FollowUpMethod.HOME_VISIT: _("follow_up_home_visit", default="Home visit"),
}
SLOT_MINUTES = (5, 10, 15, 20, 30)
ACTIONS_PER_BOOKING = 2  # new agreed actions the sheet offers per meeting at each save

_CLOCK = re.compile(r"^(?P<h>\d{1,2})[:.](?P<m>\d{2})$")


class ClockTime(colander.SchemaType):
    """A local time of day typed as HH:MM (24-hour clock); Urdu digits are read too."""

    def serialize(self, node, appstruct):
        if appstruct is colander.null or appstruct is None:
            return colander.null
        return appstruct.strftime("%H:%M")

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or str(cstruct).strip() == "":
            return colander.null
        match = _CLOCK.match(_text(cstruct))
        if match is None or int(match["h"]) > 23 or int(match["m"]) > 59:
            raise colander.Invalid(
                node,
                _(
                    "invalid_time",
                    default='"${value}" is not a time: write it as HH:MM on the 24-hour clock, '
                    "for example 09:30 or 14:00.",
                    mapping={"value": str(cstruct).strip()},
                ),
            )
        return time(int(match["h"]), int(match["m"]))


@colander.deferred
def _unit_widget(node, kw):
    return deform.widget.SelectWidget(values=kw.get("unit_choices", []))


@colander.deferred
def _unit_validator(node, kw):
    return colander.OneOf([value for value, _label in kw.get("unit_choices", [])])


def _drop_unit_when_editing(node, kw):
    if kw.get("editing"):
        del node["org_unit_id"]


class PtmDaySchema(colander.MappingSchema):
    org_unit_id = colander.SchemaNode(
        colander.String(),
        title=_("For"),
        description=_(
            "ptm_unit_help", default="A school, or a markaz or district for all its schools."
        ),
        widget=_unit_widget,
        validator=_unit_validator,
    )
    day = date_node("day", _("Date"))
    name_en = colander.SchemaNode(
        colander.String(),
        title=_("Name in English"),
        preparer=trimmed,
        validator=colander.Length(min=3, max=200),
        widget=ltr_text(),
    )
    # Not `name_ur_node`: a PTM day's name may hold digits and punctuation that people's
    # names may not.
    name_ur = colander.SchemaNode(
        colander.String(),
        title=_("Name in Urdu"),
        preparer=trimmed,
        validator=colander.Length(min=3, max=200),
        widget=deform.widget.TextInputWidget(attributes={"dir": "rtl", "lang": "ur"}),
    )
    version = version_node()
    csrf_token = csrf_node()

    def after_bind(self, node, kw):
        _drop_unit_when_editing(node, kw)


@colander.deferred
def _school_widget(node, kw):
    return deform.widget.SelectWidget(values=kw.get("school_choices", []))


@colander.deferred
def _school_validator(node, kw):
    return colander.OneOf([value for value, _label in kw.get("school_choices", [])])


class SlotsSchema(colander.MappingSchema):
    school_id = colander.SchemaNode(
        colander.String(), title=_("School"), widget=_school_widget, validator=_school_validator
    )
    starts = colander.SchemaNode(
        ClockTime(),
        title=_("First slot starts at"),
        widget=ltr_text("09:00", inputmode="numeric"),
    )
    ends = colander.SchemaNode(
        ClockTime(), title=_("Last slot ends by"), widget=ltr_text("12:00", inputmode="numeric")
    )
    minutes = colander.SchemaNode(
        WholeNumber(),
        title=_("Minutes per meeting"),
        default=10,
        validator=colander.OneOf(SLOT_MINUTES),
        widget=deform.widget.SelectWidget(values=[(str(m), str(m)) for m in SLOT_MINUTES]),
    )
    csrf_token = csrf_node()


class ActionDoneSchema(colander.MappingSchema):
    outcome = colander.SchemaNode(
        colander.String(),
        title=_("What was done"),
        validator=colander.Length(min=3, max=2000),
        widget=deform.widget.TextAreaWidget(rows=4, attributes={"dir": "auto"}),
    )
    version = version_node()
    csrf_token = csrf_node()


class FollowUpSchema(colander.MappingSchema):
    method = colander.SchemaNode(
        colander.String(),
        title=_("How you followed up"),
        validator=colander.OneOf([m.value for m in FollowUpMethod]),
        widget=deform.widget.SelectWidget(
            values=[(m.value, label) for m, label in FOLLOW_UP_LABELS.items()]
        ),
    )
    reached = colander.SchemaNode(
        YesNo(),
        title=_("Did you reach the guardian?"),
        widget=deform.widget.SelectWidget(
            values=[("yes", _("yes", default="Yes")), ("no", _("no", default="No"))]
        ),
    )
    notes = colander.SchemaNode(
        colander.String(),
        title=_("What was said or agreed"),
        validator=colander.Length(min=3, max=4000),
        widget=deform.widget.TextAreaWidget(rows=4, attributes={"dir": "auto"}),
    )
    version = version_node()
    csrf_token = csrf_node()


def parse_minutes(post, booking_ids: list[int]) -> tuple[list[dict], dict[str, object]]:
    """Read the minutes sheet: per booking, attendance, notes and up to two new actions.

    Returns the blocks as dicts and the errors by field name (booking-<id>-attendance,
    booking-<id>-action-<n>), so the sheet can show each message beside its field.
    """
    date_node_ = colander.SchemaNode(LocalDate(), name="due_on")
    owner_node = colander.SchemaNode(WholeNumber(), name="owner_id")
    blocks, errors = [], {}
    for booking_id in booking_ids:
        prefix = f"booking-{booking_id}"
        raw_attendance = post.get(f"{prefix}-attendance", PtmAttendance.NOT_RECORDED.value)
        try:
            attendance = PtmAttendance(raw_attendance)
        except ValueError:
            errors[f"{prefix}-attendance"] = _(
                "invalid_choice",
                default='"${value}" is not one of the allowed values: ${allowed}.',
                mapping={"value": raw_attendance[:40], "allowed": "came, did_not_come"},
            )
            continue
        actions = []
        for position in range(ACTIONS_PER_BOOKING):
            key = f"{prefix}-action-{position}"
            description = (post.get(f"{key}-description") or "").strip()
            if not description:
                continue
            try:
                owner_id = owner_node.deserialize(post.get(f"{key}-owner", ""))
                due_on = date_node_.deserialize(post.get(f"{key}-due", ""))
            except colander.Invalid as invalid:
                errors[key] = invalid.msg
                continue
            actions.append(
                {
                    "description": description,
                    "owner_id": None if owner_id is colander.null else owner_id,
                    "due_on": None if due_on is colander.null else due_on,
                }
            )
        blocks.append(
            {
                "booking_id": booking_id,
                "attendance": attendance,
                "notes": (post.get(f"{prefix}-notes") or "").replace("\r\n", "\n"),
                "new_actions": actions,
            }
        )
    return blocks, errors
