"""The student import file: its columns and the schema one row must pass.

A row is flat (one column per field) but is validated as nested groups built from the
same schemas as the web forms: the student, the household, the father, the mother,
another guardian and the enrollment. `COLUMNS` maps each column to its group and field.
"""

import colander
import deform.widget

from spets.forms import vocab
from spets.forms.common import count_node, date_node, enum_node, name_en_node
from spets.forms.people import GuardianFields, HouseholdSchema, StudentBackground, StudentIdentity
from spets.i18n import _
from spets.models import Relation

GUARDIAN_GROUPS = ("father", "mother", "guardian")


def _group_columns(group: str, fields: list[str]) -> list[tuple[str, str, str]]:
    return [(f"{group}_{field}", group, field) for field in fields]


_STUDENT_FIELDS = [node.name for node in StudentIdentity().children] + [
    node.name for node in StudentBackground().children
]
_HOUSEHOLD_FIELDS = ["household_size", "parents_status", "family_support"]
_GUARDIAN_FIELDS = [node.name for node in GuardianFields().children]

# (column, group, field) in the order of the template. The father's name comes from the
# student's father_name_en / father_name_ur columns, so the father group has no name.
COLUMNS: list[tuple[str, str, str]] = (
    [(field, "student", field) for field in _STUDENT_FIELDS]
    + [("grade", "enrollment", "grade"), ("section", "enrollment", "section")]
    + [("admitted_on", "enrollment", "admitted_on")]
    + [(field, "household", field) for field in _HOUSEHOLD_FIELDS]
    + _group_columns("father", [f for f in _GUARDIAN_FIELDS if f not in ("name_en", "name_ur")])
    + _group_columns("mother", _GUARDIAN_FIELDS)
    + [("guardian_relation", "guardian", "relation")]
    + _group_columns("guardian", _GUARDIAN_FIELDS)
    + [("primary_guardian", "links", "primary_guardian")]
)

COLUMN_NAMES = [column for column, _group, _field in COLUMNS]
COLUMN_BY_PATH = {f"{group}.{field}": column for column, group, field in COLUMNS}
REQUIRED_COLUMNS = (
    "admission_no",
    "name_en",
    "name_ur",
    "father_name_en",
    "father_name_ur",
    "date_of_birth",
    "gender",
    "grade",
    "section",
)


class EnrollmentColumns(colander.MappingSchema):
    grade = count_node("grade", _("Grade"), minimum=0, maximum=12, required=True)
    section = colander.SchemaNode(
        colander.String(),
        title=_("Section"),
        preparer=lambda value: value.strip().upper() if isinstance(value, str) else value,
        validator=colander.Length(min=1, max=16),
    )
    admitted_on = date_node("admitted_on", _("Date of admission"), required=False)


def _optional_guardian(with_relation: bool = False, with_name: bool = True) -> colander.SchemaNode:
    node = GuardianFields(name="guardian", missing=colander.drop)
    if with_relation:
        node.add_before(
            "name_en",
            enum_node("relation", _("Relation to the student"), Relation, vocab.RELATION),
        )
    if not with_name:
        del node["name_en"]
        del node["name_ur"]
    else:
        node["name_en"] = name_en_node("name_en", _("Name in English"), required=False)
    return node


class LinkColumns(colander.MappingSchema):
    primary_guardian = colander.SchemaNode(
        colander.String(),
        title=_("Guardian to contact first"),
        preparer=lambda value: value.strip().lower() if isinstance(value, str) else value,
        missing=None,
        validator=colander.OneOf(list(GUARDIAN_GROUPS)),
        widget=deform.widget.TextInputWidget(),
    )


def import_row_schema() -> colander.SchemaNode:
    """Build the schema for one row of a student import."""
    schema = colander.SchemaNode(colander.Mapping(unknown="raise"), validator=_row_rules)
    student = StudentIdentity(name="student")
    for node in StudentBackground().children:
        student.add(node.clone())
    schema.add(student)
    schema.add(EnrollmentColumns(name="enrollment"))

    household = HouseholdSchema(name="household", missing=colander.drop)
    del household["version"]
    del household["csrf_token"]
    schema.add(household)

    father = _optional_guardian(with_name=False)
    father.name = "father"
    mother = _optional_guardian()
    mother.name = "mother"
    guardian = _optional_guardian(with_relation=True)
    guardian.name = "guardian"
    for node in (father, mother, guardian):
        schema.add(node)
    schema.add(LinkColumns(name="links", missing=colander.drop))
    return schema


def _row_rules(node, value):
    """Rules across columns: a guardian group with data needs a name, and the first contact exists."""
    errors = colander.Invalid(node)
    for group in ("mother", "guardian"):
        data = value.get(group) or {}
        has_data = any(
            v not in (None, "", colander.null) for k, v in data.items() if k != "preferred_locale"
        )
        if has_data and not data.get("name_en"):
            errors[group] = _invalid_with(
                node[group],
                "name_en",
                _(
                    "name_needed",
                    default="A name is needed when other ${group} columns are filled.",
                    mapping={"group": group},
                ),
            )
    guardian = value.get("guardian") or {}
    if guardian.get("name_en") and not guardian.get("relation"):
        errors["guardian"] = _invalid_with(
            node["guardian"],
            "relation",
            _("relation_needed", default="Give the relation of this guardian to the student."),
        )
    primary = (value.get("links") or {}).get("primary_guardian")
    if primary in ("mother", "guardian") and not (value.get(primary) or {}).get("name_en"):
        errors["links"] = _invalid_with(
            node["links"],
            "primary_guardian",
            _(
                "primary_missing",
                default='"${value}" is named as the guardian to contact first, but no ${value} name is given.',
                mapping={"value": primary},
            ),
        )
    if errors.children:
        raise errors


def _invalid_with(group_node, field: str, message) -> colander.Invalid:
    group_error = colander.Invalid(group_node)
    group_error[field] = message
    return group_error


def to_cstruct(row: dict[str, str]) -> dict:
    """Turn a flat row keyed by column name into the nested structure the schema reads."""
    cstruct: dict[str, dict] = {}
    for column, group, field in COLUMNS:
        value = row.get(column, "")
        if value is None:
            value = ""
        cstruct.setdefault(group, {})[field] = value if value != "" else colander.null
    for group in ("household", "father", "mother", "guardian", "links"):
        if all(v is colander.null for v in cstruct[group].values()):
            cstruct[group] = colander.null
    return cstruct
