"""Health screening pages: the health menu, a section's yearly screening, one screening.

Every page that shows health data writes an audited read (who, what, why) before it
renders. The student profile gets a "health" panel with the growth charts.
"""

from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.view import view_config

from spets.forms.health import (
    CLASSIFICATION,
    FINDING,
    INDICATOR,
    REFERRAL_STATE,
    SERVICES,
    ScreeningSchema,
)
from spets.i18n import _
from spets.models import CycleKind, Role, Section
from spets.services import facilities, growth, health, referrals
from spets.services.scope import Permission as P
from spets.webapp import forms, navigation, profile_panels
from spets.webapp.views import tasks as task_views
from spets.webapp.views.common import form_page, label
from spets.webapp.views.health_charts import build_chart

# Every staff role holds CALENDAR_VIEW and no guardian does, so the menu entry shows for
# staff only; the page itself lists what each role may do.
HEALTH_MENU_PERMISSION = P.CALENDAR_VIEW

navigation.register(
    navigation.NavItem("health.home", _("Health"), HEALTH_MENU_PERMISSION), replaces="Health"
)
task_views.WORK_ROUTES[CycleKind.HEALTH_SCREENING] = "health.task"
task_views.WORK_ROUTES[CycleKind.REFERRAL_FOLLOW_UP] = "referrals.task"


def _audit(request, *, entity_type, entity_id, student_id, org_unit_id, reason, category="health"):
    health.audit_read(
        request.dbsession,
        actor=request.actor,
        now=request.now,
        entity_type=entity_type,
        entity_id=entity_id,
        student_id=student_id,
        org_unit_id=org_unit_id,
        reason=reason,
        category=category,
    )


@view_config(
    route_name="health.home",
    renderer="spets:webapp/templates/health/home.pt",
    permission=HEALTH_MENU_PERMISSION,
)
def health_home(request):
    principal = request.identity
    session = request.dbsession
    granted = principal.permissions_anywhere()
    facility_ids = facilities.facility_ids_of_user(session, principal.user_id)
    is_staff = Role.HEALTH_STAFF in principal.roles and bool(facility_ids)
    queue = (
        referrals.list_referrals(session, principal, facility_only=True, limit=200)
        if is_staff
        else []
    )
    school_side = (
        referrals.list_referrals(session, principal, limit=50)
        if {P.REFERRAL_VIEW, P.REFERRAL_OVERSEE} & granted
        else []
    )
    school_side = [r for r in school_side if r not in queue and school_may_see(request, r)]
    referrals.audit_list_read(
        session, queue + school_side, actor=request.actor, now=request.now, reason="health page"
    )
    return {
        "page_title": request.t(_("Health")),
        "queue": queue,
        "school_referrals": school_side,
        "is_staff": is_staff,
        "can": granted.__contains__,
        "sections": [
            session.get(Section, section_id) for section_id in sorted(principal.class_section_ids)
        ],
        **referral_labels(request),
    }


def school_may_see(request, referral) -> bool:
    """Mental-health referrals show on the school side only to those who read well-being."""
    if not _is_sensitive(referral):
        return True
    principal = request.identity
    school_path = referral.student.school.path
    if P.WELLBEING_VIEW in principal.permissions_at(school_path):
        return True
    if P.REFERRAL_OVERSEE in principal.permissions_at(school_path):
        return True
    return referrals.is_facility_staff(request.dbsession, principal.user_id, referral.facility_id)


def referral_labels(request) -> dict:
    """Helpers the referral tables use: state and service labels, values as the reader sees them."""
    return {
        "state_label": lambda state: request.t(REFERRAL_STATE[state]),
        "service_label": lambda code: request.t(SERVICES.get(code, code)),
        "label": lambda value: label(request, value),
    }


# The yearly task and a section's screening.


@view_config(route_name="health.task", permission=P.TASK_VIEW)
def health_task(request):
    task = request.context.task
    if task.kind != CycleKind.HEALTH_SCREENING or task.section_id is None:
        raise HTTPNotFound()
    return HTTPFound(location=request.route_url("health.section", section_id=task.section_id))


@view_config(
    route_name="health.section",
    renderer="spets:webapp/templates/health/section.pt",
    permission=P.HEALTH_VIEW,
)
def section_screening(request):
    section = request.context.section
    rows = health.section_overview(request.dbsession, section)
    _audit(
        request,
        entity_type="section_health",
        entity_id=section.id,
        student_id=None,
        org_unit_id=section.school_id,
        reason="section screening page",
    )
    for row in rows:
        if row.screening is not None:
            _audit(
                request,
                entity_type="health_screening",
                entity_id=row.screening.id,
                student_id=row.screening.student_id,
                org_unit_id=section.school_id,
                reason="listed on the section screening page",
            )
    task = health.section_task(request.dbsession, section)
    return {
        "page_title": request.t(
            _(
                "section_screening_title",
                default="Health screening of grade ${grade} ${name}",
                mapping={"grade": section.grade, "name": section.name},
            )
        ),
        "section": section,
        "rows": rows,
        "screened": sum(1 for row in rows if row.screening is not None),
        "task": task,
        "is_assignee": task is not None and task.assignee_id == request.identity.user_id,
        "can": request.context.can,
        "flags": health.screening_flags,
        "label": lambda value: label(request, value),
        "classification": CLASSIFICATION,
    }


# One student's screenings.


def _screening_form(request):
    return forms.make_form(request, ScreeningSchema(), button_title=_("Save the screening"))


@view_config(
    route_name="health.screening_new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.HEALTH_RECORD,
)
def screening_new(request):
    student = request.context.student

    def save(values):
        screening = health.record_screening(
            request.dbsession, student, values, actor=request.actor, now=request.now
        )
        request.session.flash(
            request.t(_("screening_saved", default="The screening is saved.")), "success"
        )
        return request.route_url("health.screening", screening_id=screening.id)

    return form_page(
        request,
        _screening_form(request),
        save,
        title=_(
            "screening_new_title",
            default="Health screening of ${name}",
            mapping={"name": student.name(request.locale_name)},
        ),
        intro=_(
            "screening_new_intro",
            default="Height in centimetres and weight in kilograms. SPeTS computes BMI and "
            "the WHO 2007 z-scores; leave a check as not checked if it was not done.",
        ),
        appstruct={"screened_on": request.today},
        back_url=request.route_url("student.view", student_id=student.id, _anchor="health"),
    )


@view_config(
    route_name="health.screening",
    renderer="spets:webapp/templates/health/screening.pt",
    permission=P.HEALTH_VIEW,
)
def screening_view(request):
    screening = request.context.screening
    student = request.context.student
    _audit(
        request,
        entity_type="health_screening",
        entity_id=screening.id,
        student_id=student.id,
        org_unit_id=student.school_id,
        reason="screening page",
    )
    return {
        "page_title": request.t(
            _(
                "screening_title",
                default="Screening of ${name} on ${date}",
                mapping={
                    "name": student.name(request.locale_name),
                    "date": screening.screened_on.strftime("%d/%m/%Y"),
                },
            )
        ),
        "screening": screening,
        "student": student,
        "flags": health.screening_flags(screening),
        "can": request.context.can,
        "label": lambda value: label(request, value),
        "classification": CLASSIFICATION,
        "indicator": INDICATOR,
        "finding": FINDING,
        "measured": health.measured,
    }


@view_config(
    route_name="health.screening_edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.HEALTH_RECORD,
)
def screening_edit(request):
    screening = request.context.screening
    student = request.context.student
    if request.method == "GET":
        _audit(
            request,
            entity_type="health_screening",
            entity_id=screening.id,
            student_id=student.id,
            org_unit_id=student.school_id,
            reason="screening edit form",
        )

    def save(values):
        health.record_screening(
            request.dbsession,
            student,
            values,
            actor=request.actor,
            now=request.now,
            screening=screening,
            version=values["version"],
        )
        return request.route_url("health.screening", screening_id=screening.id)

    return form_page(
        request,
        _screening_form(request),
        save,
        title=_(
            "screening_edit_title",
            default="Correct the screening of ${name}",
            mapping={"name": student.name(request.locale_name)},
        ),
        appstruct=health.appstruct_of(screening),
        back_url=request.route_url("health.screening", screening_id=screening.id),
    )


# The profile panel.


def charts_for(screenings, sex) -> list:
    """Build the BMI-for-age and height-for-age charts of a student's screenings."""
    charts = []
    for indicator, attribute in (
        (growth.Indicator.BMI_FOR_AGE, "bmi"),
        (growth.Indicator.HEIGHT_FOR_AGE, "height_cm"),
    ):
        points = [
            (float(s.age_months), float(getattr(s, attribute)))
            for s in screenings
            if s.age_months is not None and getattr(s, attribute) is not None
        ]
        chart = build_chart(indicator, sex, points)
        if chart is not None:
            charts.append(chart)
    return charts


def _health_panel(request, record):
    student = record.student
    session = request.dbsession
    screenings = health.student_screenings(session, student.id)
    can = request.context.can
    _audit(
        request,
        entity_type="student_health",
        entity_id=student.id,
        student_id=student.id,
        org_unit_id=student.school_id,
        reason="profile page",
    )
    shown_referrals = []
    if can(P.REFERRAL_VIEW):
        shown_referrals = [
            referral
            for referral in referrals.student_referrals(session, student.id)
            if can(P.WELLBEING_VIEW) or not _is_sensitive(referral)
        ]
    return {
        "screenings": list(reversed(screenings)),
        "latest": screenings[-1] if screenings else None,
        "charts": charts_for(screenings, student.gender),
        "referrals": shown_referrals,
        "can": can,
        "classification": CLASSIFICATION,
        "indicator": INDICATOR,
        "state_label": lambda state: request.t(REFERRAL_STATE[state]),
        "label": lambda value: label(request, value),
    }


def _is_sensitive(referral) -> bool:
    from spets.webapp.resources_health import is_sensitive

    return is_sensitive(referral)


profile_panels.register_panel(
    profile_panels.Panel(
        key="health",
        title=_("Health"),
        permission=P.HEALTH_VIEW,
        template="spets:webapp/templates/health/profile_panel.pt",
        load=_health_panel,
        order=40,
        wide=True,
    )
)
