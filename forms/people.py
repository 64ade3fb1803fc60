"""Schemas for students, households, guardians, family members and enrollment changes.

The same schemas validate the web forms, each row of a student import and API bodies.
Nodes for finance fields are dropped when the schema is bound with
``can_edit_finance=False``.
"""

import colander
import deform.widget

from spets.forms import vocab
from spets.forms.common import (
    band_node,
    cnic_node,
    count_node,
    csrf_node,
    date_node,
    email_node,
    enum_node,
    ltr_text,
    name_en_node,
    name_ur_node,
    phone_node,
    version_node,
    yes_no_node,
)
from spets.forms.types import WholeNumber, trimmed
from spets.i18n import _
from spets.models import (
    Education,
    EnrollmentEndReason,
    Gender,
    HomeArea,
    IncomeBand,
    Occupation,
    ParentsStatus,
    Relation,
)

FINANCE_FIELDS = ("income_band", "bisp_beneficiary")


def _drop_finance_unless_allowed(node, kw):
    if not kw.get("can_edit_finance", False):
        for name in FINANCE_FIELDS:
            if name in node:
                del node[name]


class StudentIdentity(colander.MappingSchema):
    """Who the student is: the fields an admission register holds."""

    admission_no = colander.SchemaNode(
        colander.String(),
        title=_("Admission number"),
        preparer=trimmed,
        validator=colander.Length(min=1, max=32),
        widget=ltr_text(),
    )
    b_form = cnic_node("b_form", _("B-Form number"), kind="B-Form")
    name_en = name_en_node("name_en", _("Name in English"))
    name_ur = name_ur_node("name_ur", _("Name in Urdu"))
    father_name_en = name_en_node("father_name_en", _("Father's name in English"))
    father_name_ur = name_ur_node("father_name_ur", _("Father's name in Urdu"))
    date_of_birth = date_node("date_of_birth", _("Date of birth"))
    gender = enum_node("gender", _("Gender"), Gender, vocab.GENDER, required=True)


class StudentBackground(colander.MappingSchema):
    """How the student studies: optional fields a teacher fills in over time."""

    home_area = enum_node("home_area", _("Home area"), HomeArea, vocab.HOME_AREA)
    travel_time_band = band_node("travel_time_band", _("Travel time to school"), vocab.TRAVEL_TIME)
    study_time_band = band_node("study_time_band", _("Self-study time"), vocab.STUDY_TIME)
    past_failures = count_node("past_failures", _("Classes failed before"), maximum=12)
    receives_extra_support = yes_no_node("receives_extra_support", _("Extra help at school"))
    paid_tuition = yes_no_node("paid_tuition", _("Paid private tuition"))
    extracurricular = yes_no_node("extracurricular", _("Takes part in co-curricular activities"))
    attended_preschool = yes_no_node("attended_preschool", _("Attended pre-school (kachi)"))
    wants_higher_education = yes_no_node("wants_higher_education", _("Wants higher education"))
    internet_at_home = yes_no_node("internet_at_home", _("Internet at home"))


class StudentSchema(StudentBackground, StudentIdentity):
    """The edit form for an existing student.

    Colander collects inherited nodes from the last base to the first, so identity
    fields come first on the page.
    """

    version = version_node()
    csrf_token = csrf_node()


@colander.deferred
def _section_widget(node, kw):
    return deform.widget.SelectWidget(
        values=[("", _("choose_blank", default="— choose —"))] + kw.get("sections", [])
    )


@colander.deferred
def _section_validator(node, kw):
    allowed = [int(value) for value, _label in kw.get("sections", [])]
    return colander.OneOf(allowed)


class NewStudentSchema(StudentBackground, StudentIdentity):
    """The admission form: identity, background and the section the student joins."""

    section_id = colander.SchemaNode(
        WholeNumber(),
        title=_("Section"),
        widget=_section_widget,
        validator=_section_validator,
    )
    admitted_on = date_node("admitted_on", _("Date of admission"))
    csrf_token = csrf_node()


class HouseholdSchema(colander.MappingSchema):
    household_size = count_node(
        "household_size", _("People in the household"), minimum=1, maximum=60
    )
    parents_status = enum_node("parents_status", _("Parents"), ParentsStatus, vocab.PARENTS_STATUS)
    family_support = yes_no_node("family_support", _("Family helps with studies"))
    version = version_node()
    csrf_token = csrf_node()


class GuardianFields(colander.MappingSchema):
    """A guardian's own fields, shared by the form and the import columns father_*, mother_*."""

    name_en = name_en_node("name_en", _("Name in English"))
    name_ur = name_ur_node("name_ur", _("Name in Urdu"), required=False)
    cnic = cnic_node("cnic", _("CNIC number"))
    phone = phone_node()
    email = email_node()
    education = enum_node("education", _("Education"), Education, vocab.EDUCATION)
    occupation = enum_node("occupation", _("Occupation"), Occupation, vocab.OCCUPATION)
    income_band = enum_node("income_band", _("Monthly income"), IncomeBand, vocab.INCOME_BAND)
    bisp_beneficiary = yes_no_node("bisp_beneficiary", _("Receives BISP support"))
    preferred_locale = colander.SchemaNode(
        colander.String(),
        title=_("Language for messages"),
        missing="ur",
        validator=colander.OneOf(["ur", "en"]),
        widget=deform.widget.SelectWidget(values=[("ur", "اردو"), ("en", "English")]),
    )


class GuardianSchema(GuardianFields):
    """A guardian as linked to one student: the person plus the relation to the child."""

    relation = enum_node("relation", _("Relation to the student"), Relation, vocab.RELATION, True)
    is_primary = colander.SchemaNode(
        colander.Boolean(),
        title=_("Contact this guardian first"),
        missing=False,
        widget=deform.widget.CheckboxWidget(),
    )
    version = version_node()
    csrf_token = csrf_node()

    def after_bind(self, node, kw):
        _drop_finance_unless_allowed(node, kw)


class FamilyMemberSchema(colander.MappingSchema):
    relation = enum_node("relation", _("Relation to the student"), Relation, vocab.RELATION, True)
    name_en = name_en_node("name_en", _("Name in English"))
    name_ur = name_ur_node("name_ur", _("Name in Urdu"), required=False)
    date_of_birth = date_node("date_of_birth", _("Date of birth"), required=False)
    cnic = cnic_node("cnic", _("CNIC or B-Form number"))
    phone = phone_node()
    education = enum_node("education", _("Education"), Education, vocab.EDUCATION)
    occupation = enum_node("occupation", _("Occupation"), Occupation, vocab.OCCUPATION)
    income_band = enum_node("income_band", _("Monthly income"), IncomeBand, vocab.INCOME_BAND)
    lives_in_household = colander.SchemaNode(
        colander.Boolean(),
        title=_("Lives in the same household"),
        missing=False,
        default=True,
        widget=deform.widget.CheckboxWidget(),
    )
    sibling_school_name = colander.SchemaNode(
        colander.String(),
        title=_("For a sibling: school attended"),
        preparer=trimmed,
        missing=None,
        validator=colander.Length(max=200),
    )
    sibling_grade = colander.SchemaNode(
        colander.String(),
        title=_("For a sibling: class"),
        preparer=trimmed,
        missing=None,
        validator=colander.Length(max=32),
    )
    version = version_node()
    csrf_token = csrf_node()

    def after_bind(self, node, kw):
        _drop_finance_unless_allowed(node, kw)


class SectionChangeSchema(colander.MappingSchema):
    section_id = colander.SchemaNode(
        WholeNumber(), title=_("New section"), widget=_section_widget, validator=_section_validator
    )
    changed_on = date_node("changed_on", _("From"))
    csrf_token = csrf_node()


class EndEnrollmentSchema(colander.MappingSchema):
    ended_on = date_node("ended_on", _("Last day at school"))
    reason = colander.SchemaNode(
        colander.String(),
        title=_("Reason"),
        validator=colander.OneOf(
            [
                EnrollmentEndReason.TRANSFER_OUT.value,
                EnrollmentEndReason.LEFT.value,
                EnrollmentEndReason.GRADUATED.value,
            ]
        ),
        widget=deform.widget.SelectWidget(
            values=[
                (reason.value, vocab.END_REASON[reason])
                for reason in (
                    EnrollmentEndReason.TRANSFER_OUT,
                    EnrollmentEndReason.LEFT,
                    EnrollmentEndReason.GRADUATED,
                )
            ]
        ),
    )
    note = colander.SchemaNode(
        colander.String(),
        title=_("Note, e.g. the school the student moves to"),
        preparer=trimmed,
        missing="",
        validator=colander.Length(max=500),
        widget=deform.widget.TextAreaWidget(rows=2),
    )
    csrf_token = csrf_node()


class AdmitTransferSchema(colander.MappingSchema):
    """Admit a student who left another school of the same tenant, found by B-Form number."""

    b_form = cnic_node("b_form", _("B-Form number"), kind="B-Form")
    admission_no = colander.SchemaNode(
        colander.String(),
        title=_("Admission number at this school"),
        preparer=trimmed,
        validator=colander.Length(min=1, max=32),
        widget=ltr_text(),
    )
    section_id = colander.SchemaNode(
        WholeNumber(), title=_("Section"), widget=_section_widget, validator=_section_validator
    )
    admitted_on = date_node("admitted_on", _("Date of admission"))
    csrf_token = csrf_node()

    def validator(self, node, value):
        if not value.get("b_form"):
            exc = colander.Invalid(node)
            exc["b_form"] = _(
                "b_form_needed", default="Enter the B-Form number to find the student."
            )
            raise exc
