"""Schemas for org units, sections, subjects and teaching assignments."""

import colander
import deform.widget

from spets.forms import vocab
from spets.forms.common import (
    count_node,
    csrf_node,
    date_node,
    enum_node,
    ltr_text,
    name_ur_node,
    version_node,
)
from spets.forms.types import WholeNumber, trimmed
from spets.i18n import _
from spets.models import SchoolGender, SchoolLevel


def _plain_name(name: str, title) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=title,
        preparer=trimmed,
        validator=colander.Length(min=2, max=200),
    )


@colander.deferred
def _kind_widget(node, kw):
    return deform.widget.SelectWidget(values=kw.get("kinds", []))


@colander.deferred
def _kind_validator(node, kw):
    return colander.OneOf([value for value, _label in kw.get("kinds", [])])


class OrgUnitSchema(colander.MappingSchema):
    kind = colander.SchemaNode(
        colander.String(), title=_("Kind"), widget=_kind_widget, validator=_kind_validator
    )
    code = colander.SchemaNode(
        colander.String(),
        title=_("Code"),
        description=_("For a school, its EMIS code."),
        preparer=trimmed,
        validator=colander.Length(min=1, max=32),
        widget=ltr_text(),
    )
    name_en = _plain_name("name_en", _("Name in English"))
    name_ur = name_ur_node("name_ur", _("Name in Urdu"))
    school_level = enum_node("school_level", _("School level"), SchoolLevel, vocab.SCHOOL_LEVEL)
    school_gender = enum_node("school_gender", _("Students"), SchoolGender, vocab.SCHOOL_GENDER)
    is_active = colander.SchemaNode(
        colander.Boolean(),
        title=_("Active"),
        missing=True,
        default=True,
        widget=deform.widget.CheckboxWidget(),
    )
    version = version_node()
    csrf_token = csrf_node()


@colander.deferred
def _parent_widget(node, kw):
    return deform.widget.SelectWidget(values=kw.get("parents", []))


@colander.deferred
def _parent_validator(node, kw):
    return colander.OneOf([int(value) for value, _label in kw.get("parents", [])])


class MoveUnitSchema(colander.MappingSchema):
    parent_id = colander.SchemaNode(
        WholeNumber(), title=_("New parent"), widget=_parent_widget, validator=_parent_validator
    )
    csrf_token = csrf_node()


@colander.deferred
def _teacher_widget(node, kw):
    return deform.widget.SelectWidget(
        values=[("", _("choose_blank", default="— choose —"))] + kw.get("teachers", [])
    )


@colander.deferred
def _teacher_validator(node, kw):
    return colander.OneOf([int(value) for value, _label in kw.get("teachers", [])])


class SectionSchema(colander.MappingSchema):
    grade = count_node("grade", _("Grade"), minimum=0, maximum=12, required=True)
    name = colander.SchemaNode(
        colander.String(),
        title=_("Section name"),
        description=_("For example A, B or Blue."),
        preparer=trimmed,
        validator=colander.Length(min=1, max=16),
    )
    class_teacher_id = colander.SchemaNode(
        WholeNumber(),
        title=_("Class teacher"),
        missing=None,
        widget=_teacher_widget,
        validator=_teacher_validator,
    )
    version = version_node()
    csrf_token = csrf_node()


@colander.deferred
def _subject_widget(node, kw):
    return deform.widget.SelectWidget(
        values=[("", _("choose_blank", default="— choose —"))] + kw.get("subjects", [])
    )


@colander.deferred
def _subject_validator(node, kw):
    return colander.OneOf([int(value) for value, _label in kw.get("subjects", [])])


class TeachingSchema(colander.MappingSchema):
    subject_id = colander.SchemaNode(
        WholeNumber(), title=_("Subject"), widget=_subject_widget, validator=_subject_validator
    )
    teacher_id = colander.SchemaNode(
        WholeNumber(), title=_("Teacher"), widget=_teacher_widget, validator=_teacher_validator
    )
    starts_on = date_node("starts_on", _("Teaches from"))
    csrf_token = csrf_node()


class EndTeachingSchema(colander.MappingSchema):
    ends_on = date_node("ends_on", _("Last day of teaching"))
    csrf_token = csrf_node()


class SubjectSchema(colander.MappingSchema):
    code = colander.SchemaNode(
        colander.String(),
        title=_("Code"),
        description=_("Short and unique, for example MATH."),
        preparer=trimmed,
        validator=colander.Regex(
            r"^[A-Za-z0-9_\-]{1,32}$",
            msg=_("invalid_subject_code", default="Use up to 32 letters, digits, - or _."),
        ),
        widget=ltr_text(),
    )
    name_en = _plain_name("name_en", _("Name in English"))
    name_ur = name_ur_node("name_ur", _("Name in Urdu"))
    is_core = colander.SchemaNode(
        colander.Boolean(),
        title=_("Core subject"),
        missing=False,
        widget=deform.widget.CheckboxWidget(),
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
