"""Home page, browsing the org tree, schools, sections and who teaches them."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config
from sqlalchemy import select

from spets.forms.org import EndTeachingSchema, SectionSchema, TeachingSchema
from spets.i18n import _
from spets.models import OrgKind, OrgUnit, Role, Section, User
from spets.services import calendar, org, tasks
from spets.services.scope import Permission as P
from spets.webapp import forms
from spets.webapp.views.common import breadcrumbs_for, form_page, unit_name


@view_config(route_name="home", renderer="spets:webapp/templates/home.pt", permission=P.ACCOUNT)
def home(request):
    principal = request.identity
    session = request.dbsession
    unit_ids = [grant.org_unit_id for grant in principal.grants]
    units = {u.id: u for u in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(unit_ids)))}
    my_sections = list(
        session.scalars(
            select(Section)
            .where(Section.id.in_(principal.taught_section_ids | principal.class_section_ids))
            .order_by(Section.grade, Section.name)
        )
    )
    return {
        "page_title": request.t(_("Home")),
        "grants": [(grant, units.get(grant.org_unit_id)) for grant in principal.grants],
        "my_sections": my_sections,
        "class_section_ids": principal.class_section_ids,
        "task_summary": tasks.task_summary(session, principal, request.now),
    }


@view_config(route_name="org.browse", permission=P.SCHOOL_VIEW)
def org_browse(request):
    """Open the top of the user's scope: their one unit, or the first school they teach in."""
    principal = request.identity
    paths = principal.paths_with(P.SCHOOL_VIEW)
    grants = sorted(
        (g for g in principal.grants if g.org_path in paths), key=lambda g: len(g.org_path)
    )
    if grants:
        return HTTPFound(location=request.route_url("org.unit", unit_id=grants[0].org_unit_id))
    return HTTPFound(location=request.route_url("home"))


@view_config(
    route_name="org.unit", renderer="spets:webapp/templates/org/unit.pt", permission=P.SCHOOL_VIEW
)
def org_unit(request):
    unit = request.context.unit
    if unit.kind == OrgKind.SCHOOL:
        return HTTPFound(location=request.route_url("school.view", school_id=unit.id))
    children = org.child_summaries(request.dbsession, unit, request.identity, P.SCHOOL_VIEW)
    return {
        "page_title": unit_name(request, unit),
        "unit": unit,
        "children": children,
        "breadcrumbs": breadcrumbs_for(request, unit, link_last=False),
    }


@view_config(
    route_name="school.view",
    renderer="spets:webapp/templates/org/school.pt",
    permission=P.SCHOOL_VIEW,
)
def school_view(request):
    school = request.context.school
    year = calendar.current_year(request.dbsession, school.tenant_id or school.id, request.today)
    sections = org.sections_of_school(
        request.dbsession, school, year.id if year else None, request.identity, P.SECTION_VIEW
    )
    return {
        "page_title": unit_name(request, school),
        "school": school,
        "year": year,
        "sections": sections,
        "can": request.context.can,
        "breadcrumbs": breadcrumbs_for(request, school, link_last=False),
    }


@view_config(
    route_name="section.view",
    renderer="spets:webapp/templates/sections/view.pt",
    permission=P.SECTION_VIEW,
)
def section_view(request):
    section = request.context.section
    return {
        "page_title": request.t(
            _(
                "section_title",
                default="Grade ${grade} ${name}",
                mapping={"grade": section.grade, "name": section.name},
            )
        ),
        "section": section,
        "roll": org.section_roll(request.dbsession, section),
        "teaching": org.teaching_of_section(request.dbsession, section, request.today),
        "can": request.context.can,
        "breadcrumbs": breadcrumbs_for(request, section.school) + [(section.label, None)],
    }


def _teacher_choices(request, school: OrgUnit) -> list[tuple[str, str]]:
    staff = org.staff_of_school(
        request.dbsession, school, request.today, [Role.TEACHER, Role.HEAD_TEACHER]
    )
    return [(str(user.id), user.name(request.locale_name)) for user in staff]


@view_config(
    route_name="section.new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.SECTION_MANAGE,
)
def section_new(request):
    school = request.context.school
    year = calendar.current_year(request.dbsession, school.tenant_id or school.id, request.today)
    if year is None:
        request.session.flash(
            request.t(
                _(
                    "no_current_year",
                    default="No academic year covers today. An administrator must add it to the calendar first.",
                )
            ),
            "warning",
        )
        return HTTPFound(location=request.route_url("school.view", school_id=school.id))
    form = forms.make_form(request, SectionSchema(), teachers=_teacher_choices(request, school))

    def save(values):
        section = org.create_section(
            request.dbsession,
            school=school,
            year=year,
            grade=values["grade"],
            name=values["name"],
            class_teacher_id=values["class_teacher_id"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("section.view", section_id=section.id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "new_section_title", default="New section for ${year}", mapping={"year": year.label}
        ),
        back_url=request.route_url("school.view", school_id=school.id),
    )


@view_config(
    route_name="section.edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.SECTION_MANAGE,
)
def section_edit(request):
    section = request.context.section
    form = forms.make_form(
        request, SectionSchema(), teachers=_teacher_choices(request, section.school)
    )

    def save(values):
        org.update_section(
            request.dbsession,
            section,
            values,
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("section.view", section_id=section.id)

    appstruct = {
        "grade": section.grade,
        "name": section.name,
        "class_teacher_id": section.class_teacher_id,
        "version": section.version,
    }
    return form_page(
        request,
        form,
        save,
        title=_(
            "edit_section_title", default="Edit section ${label}", mapping={"label": section.label}
        ),
        appstruct=appstruct,
        back_url=request.route_url("section.view", section_id=section.id),
    )


@view_config(
    route_name="section.teaching",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.SECTION_MANAGE,
)
def section_teaching(request):
    section = request.context.section
    school = section.school
    subjects = org.subjects_of_tenant(request.dbsession, school.tenant_id or school.id)
    form = forms.make_form(
        request,
        TeachingSchema(),
        teachers=_teacher_choices(request, school),
        subjects=[(str(s.id), s.name(request.locale_name)) for s in subjects],
        button_title=_("Assign"),
    )

    def save(values):
        org.assign_teacher(
            request.dbsession,
            section=section,
            subject=next(s for s in subjects if s.id == values["subject_id"]),
            teacher=request.dbsession.get(User, values["teacher_id"]),
            starts_on=values["starts_on"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("section.view", section_id=section.id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "assign_teacher_title",
            default="Assign a subject teacher to ${label}",
            mapping={"label": section.label},
        ),
        intro=_(
            "assign_teacher_intro",
            default="A new teacher for a subject replaces the current one from the day given; the history is kept.",
        ),
        appstruct={"starts_on": request.today},
        back_url=request.route_url("section.view", section_id=section.id),
    )


@view_config(
    route_name="teaching.end",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.SECTION_MANAGE,
)
def teaching_end(request):
    assignment = request.context.assignment
    section = request.context.section
    form = forms.make_form(request, EndTeachingSchema(), button_title=_("End teaching"))

    def save(values):
        org.end_teaching_assignment(
            request.dbsession, assignment, values["ends_on"], actor=request.actor, now=request.now
        )
        return request.route_url("section.view", section_id=section.id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "end_teaching_title",
            default="End ${teacher}'s teaching of ${subject}",
            mapping={
                "teacher": assignment.teacher.display_name,
                "subject": assignment.subject.name(request.locale_name),
            },
        ),
        appstruct={"ends_on": request.today},
        back_url=request.route_url("section.view", section_id=section.id),
    )
