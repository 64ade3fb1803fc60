"""Students: search and export, the profile, admission, edits and enrollment changes."""

from pyramid.httpexceptions import HTTPFound
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select

from spets.forms.people import (
    AdmitTransferSchema,
    EndEnrollmentSchema,
    HouseholdSchema,
    NewStudentSchema,
    SectionChangeSchema,
    StudentSchema,
)
from spets.i18n import _
from spets.models import AuditAction, EnrollmentEndReason, OrgUnit, Section
from spets.services import audit, calendar, exports, people
from spets.services.scope import Permission as P
from spets.services.scope import section_clause
from spets.webapp import forms, profile_panels
from spets.webapp.views.common import breadcrumbs_for, form_page, label
from spets.webapp.views.feedback import profile_panel
from spets.webapp.views.results import profile_panel as marks_panel

PAGE_SIZE = 50

# Places on the profile for the records that the cycles will add.
PLANNED_PANELS = (
    ("attendance", _("Attendance and behaviour")),
    ("health", _("Health and well-being")),
)


def _filter_from(request) -> people.StudentFilter:
    def as_int(name):
        value = request.params.get(name, "")
        return int(value) if value.isdigit() else None

    return people.StudentFilter(
        text=request.params.get("q", "")[:100],
        school_id=as_int("school_id"),
        section_id=as_int("section_id"),
        include_left=request.params.get("left") == "1",
    )


@view_config(
    route_name="students.list",
    renderer="spets:webapp/templates/students/list.pt",
    permission=P.STUDENT_VIEW,
)
def student_list(request):
    criteria = _filter_from(request)
    page = max(
        int(request.params.get("page", "1")) if request.params.get("page", "1").isdigit() else 1, 1
    )
    rows, total = people.search_students(
        request.dbsession,
        request.identity,
        criteria,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return {
        "page_title": request.t(_("Students")),
        "criteria": criteria,
        "rows": rows,
        "total": total,
        "page": page,
        "pages": max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        "can_export": P.STUDENT_EXPORT in request.identity.permissions_anywhere(),
        "query_params": {k: v for k, v in request.params.items() if k != "page"},
    }


def _export_rows(request):
    criteria = _filter_from(request)
    rows, total = people.search_students(
        request.dbsession, request.identity, criteria, permission=P.STUDENT_EXPORT, limit=None
    )
    audit.record(
        request.dbsession,
        actor=request.actor,
        action=AuditAction.EXPORT,
        entity_type="student_list",
        entity_id=None,
        now=request.now,
        reason=f"{total} students; filter {criteria}",
    )
    return exports.student_rows(rows, lambda value: label(request, value), request.t)


@view_config(route_name="students.export_csv", permission=P.STUDENT_EXPORT)
def student_export_csv(request):
    header, rows = _export_rows(request)
    return Response(
        body=exports.to_csv(header, rows),
        content_type="text/csv",
        charset="utf-8",
        content_disposition='attachment; filename="students.csv"',
    )


@view_config(route_name="students.export_xlsx", permission=P.STUDENT_EXPORT)
def student_export_xlsx(request):
    header, rows = _export_rows(request)
    return Response(
        body=exports.to_xlsx(header, rows, sheet_title=request.t(_("Students"))),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        content_disposition='attachment; filename="students.xlsx"',
    )


@view_config(
    route_name="student.view",
    renderer="spets:webapp/templates/students/profile.pt",
    permission=P.STUDENT_VIEW,
)
def student_profile(request):
    context = request.context
    with_family = context.can(P.FAMILY_VIEW)
    with_finance = with_family and context.can(P.FAMILY_FINANCE_VIEW)
    record = people.load_student_record(
        request.dbsession, context.student.id, with_family=with_family
    )
    if with_finance:
        people.audit_finance_read(
            request.dbsession,
            record.student,
            actor=request.actor,
            now=request.now,
            reason="profile page",
        )

    breadcrumbs = breadcrumbs_for(request, record.school)
    if record.current is not None and record.current.section_id in _visible_section_ids(
        request, record
    ):
        section = record.current.section
        breadcrumbs.append(
            (section.label, request.route_url("section.view", section_id=section.id))
        )
    breadcrumbs.append((record.student.name(request.locale_name), None))
    return {
        "page_title": record.student.name(request.locale_name),
        "record": record,
        "with_family": with_family,
        "with_finance": with_finance,
        "can": context.can,
        "label": lambda value: label(request, value),
        "breadcrumbs": breadcrumbs,
        "planned_panels": [p for p in PLANNED_PANELS if p[0] not in profile_panels.PANELS],
        "extra_panels": profile_panels.rendered_panels(request, record, context.can),
        "feedback_panel": profile_panel(request, record.student.id),
        "marks_panel": marks_panel(request, record.student),
    }


def _visible_section_ids(request, record) -> set[int]:
    if record.current is None:
        return set()
    return set(
        request.dbsession.scalars(
            select(Section.id).where(
                Section.id == record.current.section_id,
                section_clause(request.identity, P.SECTION_VIEW),
            )
        )
    )


def _sections_choice(
    request, school: OrgUnit, exclude_id: int | None = None
) -> list[tuple[str, str]]:
    """Return the school's sections of the current year as (id, label) choices."""
    year = calendar.current_year(request.dbsession, school.tenant_id or school.id, request.today)
    if year is None:
        return []
    sections = request.dbsession.scalars(
        select(Section)
        .where(Section.school_id == school.id, Section.academic_year_id == year.id)
        .order_by(Section.grade, Section.name)
    ).all()
    return [
        (
            str(s.id),
            request.t(
                _(
                    "section_title",
                    default="Grade ${grade} ${name}",
                    mapping={"grade": s.grade, "name": s.name},
                )
            ),
        )
        for s in sections
        if s.id != exclude_id
    ]


@view_config(
    route_name="student.new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.STUDENT_CREATE,
)
def student_new(request):
    section = request.context.section
    choices = [(str(section.id), section.label)]
    form = forms.make_form(request, NewStudentSchema(), sections=choices, button_title=_("Admit"))

    def save(values):
        student = people.admit_student(
            request.dbsession,
            section=request.dbsession.get(Section, values["section_id"]),
            values=values,
            admitted_on=values["admitted_on"],
            actor=request.actor,
            now=request.now,
        )
        request.session.flash(
            request.t(_("student_admitted", default="The student was admitted.")), "success"
        )
        return request.route_url("student.view", student_id=student.id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "admit_title",
            default="Admit a student to grade ${label}",
            mapping={"label": section.label},
        ),
        appstruct={"section_id": section.id, "admitted_on": request.today},
        back_url=request.route_url("section.view", section_id=section.id),
    )


@view_config(
    route_name="student.edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.STUDENT_EDIT,
)
def student_edit(request):
    student = request.context.student
    form = forms.make_form(request, StudentSchema())

    def save(values):
        people.update_student(
            request.dbsession,
            student,
            values,
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        request.session.flash(request.t(_("saved", default="Saved.")), "success")
        return request.route_url("student.view", student_id=student.id)

    appstruct = {name: getattr(student, name) for name in people.STUDENT_FIELDS}
    appstruct["version"] = student.version
    return form_page(
        request,
        form,
        save,
        title=_(
            "edit_student_title",
            default="Edit ${name}",
            mapping={"name": student.name(request.locale_name)},
        ),
        appstruct=appstruct,
        back_url=request.route_url("student.view", student_id=student.id),
    )


@view_config(
    route_name="student.household",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.FAMILY_EDIT,
)
def student_household(request):
    student = request.context.student
    form = forms.make_form(request, HouseholdSchema())

    def save(values):
        people.update_household(
            request.dbsession,
            student,
            values,
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("student.view", student_id=student.id, _anchor="family")

    appstruct = {name: getattr(student, name) for name in people.HOUSEHOLD_FIELDS}
    appstruct["version"] = student.version
    return form_page(
        request,
        form,
        save,
        title=_(
            "household_title",
            default="Household of ${name}",
            mapping={"name": student.name(request.locale_name)},
        ),
        appstruct=appstruct,
        back_url=request.route_url("student.view", student_id=student.id),
    )


@view_config(
    route_name="student.change_section",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.STUDENT_TRANSFER,
)
def student_change_section(request):
    student = request.context.student
    current = people.current_enrollment(request.dbsession, student.id)
    if current is None:
        return HTTPFound(location=request.route_url("student.view", student_id=student.id))
    choices = _sections_choice(request, current.section.school, exclude_id=current.section_id)
    form = forms.make_form(request, SectionChangeSchema(), sections=choices, button_title=_("Move"))

    def save(values):
        people.change_section(
            request.dbsession,
            student,
            request.dbsession.get(Section, values["section_id"]),
            values["changed_on"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("student.view", student_id=student.id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "change_section_title",
            default="Move ${name} to another section",
            mapping={"name": student.name(request.locale_name)},
        ),
        intro=_(
            "change_section_intro",
            default="The current enrollment ends the day before; both stay in the history.",
        ),
        appstruct={"changed_on": request.today},
        back_url=request.route_url("student.view", student_id=student.id),
    )


@view_config(
    route_name="student.end_enrollment",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.STUDENT_TRANSFER,
)
def student_end_enrollment(request):
    student = request.context.student
    form = forms.make_form(request, EndEnrollmentSchema(), button_title=_("End enrollment"))

    def save(values):
        people.end_enrollment(
            request.dbsession,
            student,
            values["ended_on"],
            EnrollmentEndReason(values["reason"]),
            values["note"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("student.view", student_id=student.id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "end_enrollment_title",
            default="${name} leaves the school",
            mapping={"name": student.name(request.locale_name)},
        ),
        intro=_(
            "end_enrollment_intro",
            default="The record stays; a school the student joins later can admit them with their B-Form number.",
        ),
        appstruct={"ended_on": request.today},
        back_url=request.route_url("student.view", student_id=student.id),
    )


@view_config(
    route_name="school.admit_transfer",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.STUDENT_CREATE,
)
def school_admit_transfer(request):
    school = request.context.school
    form = forms.make_form(
        request,
        AdmitTransferSchema(),
        sections=_sections_choice(request, school),
        button_title=_("Admit"),
    )

    def save(values):
        student = people.admit_transfer(
            request.dbsession,
            section=request.dbsession.get(Section, values["section_id"]),
            b_form=values["b_form"],
            admission_no=values["admission_no"],
            admitted_on=values["admitted_on"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("student.view", student_id=student.id)

    return form_page(
        request,
        form,
        save,
        title=_("admit_transfer_title", default="Admit a student transferred from another school"),
        intro=_(
            "admit_transfer_intro",
            default="The student's earlier record, family included, comes with them.",
        ),
        appstruct={"admitted_on": request.today},
        back_url=request.route_url("school.view", school_id=school.id),
    )
