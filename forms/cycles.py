"""The schema of a cycle definition's timing: due date, reminders and the escalation ladder."""

import re

import colander
import deform.widget

from spets.forms.common import count_node, csrf_node, ltr_text, name_ur_node, version_node
from spets.forms.types import trimmed
from spets.i18n import _, normalize_digits


class IntegerList(colander.SchemaType):
    """Whole numbers separated by commas, such as "-3, 0"; Urdu digits are read too."""

    def serialize(self, node, appstruct):
        if appstruct is colander.null or appstruct is None:
            return colander.null
        return ", ".join(str(number) for number in appstruct)

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or not str(cstruct).strip():
            return []
        parts = [
            part.strip() for part in normalize_digits(str(cstruct)).replace("−", "-").split(",")
        ]
        if not all(re.fullmatch(r"[+-]?\d+", part) for part in parts):
            raise colander.Invalid(
                node,
                _(
                    "invalid_integer_list",
                    default='"${value}" is not a list of whole numbers: write them separated by commas, for example -3, 0.',
                    mapping={"value": str(cstruct).strip()},
                ),
            )
        return [int(part) for part in parts]


class WordList(colander.SchemaType):
    def serialize(self, node, appstruct):
        if appstruct is colander.null or appstruct is None:
            return colander.null
        return ", ".join(appstruct)

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or not str(cstruct).strip():
            return []
        return [part.strip().lower() for part in str(cstruct).split(",") if part.strip()]


class CycleDefinitionSchema(colander.MappingSchema):
    name_en = colander.SchemaNode(
        colander.String(),
        title=_("Name in English"),
        preparer=trimmed,
        validator=colander.Length(min=2, max=200),
    )
    name_ur = name_ur_node("name_ur", _("Name in Urdu"))
    due_after_school_days = count_node(
        "due_after_school_days",
        _("Due after this many school days"),
        minimum=-30,
        maximum=120,
        required=True,
    )
    reminder_offsets = colander.SchemaNode(
        IntegerList(),
        title=_("Reminders, in school days from the due date"),
        description=_("0 is the due date, -2 two school days before. Separate with commas."),
        widget=ltr_text("-3, 0"),
    )
    reminder_hour = count_node(
        "reminder_hour", _("Hour reminders go out (local time)"), maximum=23, required=True
    )
    escalation_days = colander.SchemaNode(
        IntegerList(),
        title=_("Escalation levels, in school days after the due date"),
        description=_("One number per level, increasing; 0 escalates as soon as a task is late."),
        widget=ltr_text("0, 3, 6"),
    )
    escalation_roles = colander.SchemaNode(
        WordList(),
        title=_("Who receives each level"),
        description=_("One role per level: head_teacher, aeo, deo or ceo."),
        widget=ltr_text("head_teacher, aeo, deo"),
    )
    is_active = colander.SchemaNode(
        colander.Boolean(),
        title=_("Active"),
        missing=True,
        default=True,
        widget=deform.widget.CheckboxWidget(),
    )
    version = version_node()
    csrf_token = csrf_node()
