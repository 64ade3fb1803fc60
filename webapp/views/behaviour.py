"""Behaviour, early warnings and intervention plans: rubric sheets, incidents, flags, plans.

The monthly rubric sheet is one form for the whole section, like the feedback sheet. Sign-off
happens on the task pages, and the sheet shows their buttons to the head teacher. The
student profile's "Early warnings and plans" panel is registered here.
"""

from datetime import date, timedelta

import colander
import peppercorn
from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.view import view_config
from sqlalchemy import or_, select

from spets.forms import vocab
from spets.forms.behaviour import (
    AREAS,
    DESCRIPTORS,
    FLAG_AREA,
    FLAG_LEVEL,
    LEVELS,
    IncidentSchema,
    PlanSchema,
    ReviewSchema,
    RubricSheetSchema,
    WarningSettingsSchema,
)
from spets.i18n import _
from spets.models import (
    CycleKind,
    EarlyWarningFlag,
    Enrollment,
    InterventionReview,
    OrgUnit,
    PlanState,
    Section,
    Student,
    TaskState,
)
from spets.services import behaviour, plans, tasks, warnings
from spets.services.errors import InvalidInput, Locked, NotFound, StaleEdit
from spets.services.scope import Permission as P
from spets.webapp import forms, profile_panels
from spets.webapp.views.common import breadcrumbs_for, form_page, label
from spets.webapp.views.tasks import WORK_ROUTES

RUBRIC_TEMPLATE = "spets:webapp/templates/behaviour/rubric.pt"

WORK_ROUTES[CycleKind.BEHAVIOUR_RUBRIC] = "behaviour.rubric"
WORK_ROUTES[CycleKind.INTERVENTION_REVIEW] = "plans.review_task"


def _fmt(day) -> str:
    return day.strftime("%d/%m/%Y") if day else "—"


def _as_int(value) -> int | None:
    text = str(value).strip()
    return int(text) if text.isdigit() else None


def _student_crumbs(request, student, last) -> list:
    crumbs = breadcrumbs_for(request, student.school)
    crumbs.append(
        (
            student.name(request.locale_name),
            request.route_url("student.view", student_id=student.id),
        )
    )
    crumbs.append((request.t(last), None))
    return crumbs


# The rubric sheet.


def _rubric_sheet(request) -> behaviour.RubricSheet:
    try:
        return behaviour.load_rubric_sheet(request.dbsession, request.context.task)
    except NotFound:
        raise HTTPNotFound() from None


def _posted_levels(pstruct: dict) -> dict[int, dict]:
    """Read the posted rows leniently, so a page with errors shows what was chosen."""
    rows = {}
    students = pstruct.get("students")
    for row in students if isinstance(students, list) else []:
        if not isinstance(row, dict) or _as_int(row.get("student_id", "")) is None:
            continue
        rows[_as_int(row["student_id"])] = {
            **{area: _as_int(row.get(area, "")) for area in AREAS},
            "note": str(row.get("note", "")),
        }
    return rows


def _rubric_page(request, sheet: behaviour.RubricSheet, **extra) -> dict:
    task = sheet.task
    context = request.context
    posted = extra.pop("posted", {})
    states = {
        row.student.id: posted.get(row.student.id, {**(row.levels or {}), "note": row.note})
        for row in sheet.rows
    }
    title = tasks.describe(task, request.locale_name)
    return {
        "page_title": title,
        "breadcrumbs": breadcrumbs_for(request, task.school) + [(title, None)],
        "sheet": sheet,
        "task": task,
        "states": states,
        "areas": AREAS,
        "levels": LEVELS,
        "descriptors": DESCRIPTORS,
        "editable": sheet.is_editable and context.can(P.TASK_WORK),
        "can_sign_off": task.state == TaskState.SUBMITTED
        and context.can(P.TASK_SIGNOFF)
        and tasks.can_sign_off(request.identity, task),
        "version": extra.pop("version", task.version),
        "message": extra.pop("message", None),
        "row_errors": extra.pop("row_errors", {}),
        "fmt": _fmt,
    }


@view_config(
    route_name="behaviour.rubric",
    request_method="GET",
    renderer=RUBRIC_TEMPLATE,
    permission=P.TASK_VIEW,
)
def rubric_view(request):
    return _rubric_page(request, _rubric_sheet(request))


@view_config(
    route_name="behaviour.rubric",
    request_method="POST",
    renderer=RUBRIC_TEMPLATE,
    permission=P.TASK_WORK,
)
def rubric_save(request):
    """Save the sheet, or save and submit it ("submit" button)."""
    task = request.context.task
    sheet = _rubric_sheet(request)
    pstruct = peppercorn.parse(list(request.POST.items()))
    try:
        values = RubricSheetSchema().bind(request=request).deserialize(pstruct)
    except colander.Invalid as invalid:
        return _rubric_page(
            request,
            sheet,
            posted=_posted_levels(pstruct),
            message=_(
                "rubric_invalid", default="The rubric was not saved: correct the rows marked."
            ),
            row_errors={
                "sheet": list(invalid.asdict(translate=request.localizer.translate).values())
            },
            version=_as_int(pstruct.get("version", "")),
        )

    submitting = "submit" in request.POST
    savepoint = request.dbsession.begin_nested()
    try:
        behaviour.save_rubric_sheet(
            request.dbsession,
            task,
            values["students"],
            version=values["version"],
            actor=request.actor,
            now=request.now,
            submit=submitting,
        )
    except behaviour.IncompleteRubric as incomplete:
        savepoint.commit()  # what was sent stays saved
        return _rubric_page(
            request,
            _rubric_sheet(request),
            message=incomplete.message,
            row_errors={key: [message] for key, message in incomplete.field_errors.items()},
        )
    except (InvalidInput, Locked, StaleEdit) as error:
        savepoint.rollback()
        current = getattr(error, "current_version", None)
        return _rubric_page(
            request,
            _rubric_sheet(request),
            posted=_posted_levels(pstruct),
            message=error.message,
            row_errors={
                key: [message] for key, message in getattr(error, "field_errors", {}).items()
            },
            version=current if current is not None else values["version"],
        )
    savepoint.commit()
    if submitting:
        flash = _("rubric_submitted", default="Submitted to the head teacher.")
    else:
        flash = _("rubric_saved", default="Rubric saved.")
    request.session.flash(request.t(flash), "success")
    return HTTPFound(location=request.route_url("behaviour.rubric", task_id=task.id))


@view_config(
    route_name="behaviour.section",
    renderer="spets:webapp/templates/behaviour/section.pt",
    permission=P.ATTENDANCE_VIEW,
)
def section_behaviour(request):
    """Show the section's rubric tasks by month, and the rubrics of the month chosen."""
    section = request.context.section
    session = request.dbsession
    rubric_tasks = behaviour.rubric_tasks_of_section(session, section.id)
    months = sorted({behaviour.sheet_month(task) for task in rubric_tasks}, reverse=True)

    # The month chosen, else the latest month with a rubric task.
    text = request.params.get("month", "")
    month = months[0] if months else None
    if text:
        try:
            month = date.fromisoformat(f"{text}-01")
        except ValueError:
            month = None

    rubrics = behaviour.section_rubrics(session, section.id, month) if month else {}
    roll = []
    if month is not None:
        in_month = select(Enrollment.student_id).where(
            Enrollment.section_id == section.id,
            Enrollment.starts_on <= behaviour.month_end(month),
            or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= month),
        )
        roll = session.scalars(
            select(Student)
            .where(or_(Student.id.in_(in_month), Student.id.in_(list(rubrics))))
            .order_by(Student.name_en, Student.id)
        ).all()

    crumbs = breadcrumbs_for(request, section.school)
    crumbs.append((section.label, request.route_url("section.view", section_id=section.id)))
    crumbs.append((request.t(_("Behaviour")), None))
    return {
        "page_title": request.t(
            _(
                "section_behaviour_title",
                default="Behaviour of ${section}",
                mapping={"section": section.label},
            )
        ),
        "breadcrumbs": crumbs,
        "section": section,
        "tasks": rubric_tasks,
        "month": month,
        "months": months,
        "rubrics": rubrics,
        "roll": roll,
        "areas": AREAS,
        "levels": LEVELS,
        "describe": lambda task: tasks.describe(task, request.locale_name),
        "state_label": lambda task: request.t(vocab.TASK_STATE[task.state]),
        "fmt": _fmt,
    }


# Incidents.


def _incident_page(request, student, incident):
    form = forms.make_form(request, IncidentSchema())

    def save(values):
        behaviour.save_incident(
            request.dbsession,
            student,
            incident,
            values,
            version=values.get("version"),
            actor=request.actor,
            now=request.now,
        )
        request.session.flash(request.t(_("incident_saved", default="Incident saved.")), "success")
        return request.route_url("student.view", student_id=student.id) + "#attendance"

    if incident is None:
        title = _("Record an incident")
        appstruct = {"occurred_on": request.today}
    else:
        title = _("Edit an incident")
        appstruct = {name: getattr(incident, name) for name in behaviour.INCIDENT_FIELDS}
        appstruct["version"] = incident.version
    result = form_page(
        request,
        form,
        save,
        title=title,
        intro=_(
            "incident_intro",
            default="Record what happened, positive or negative, and what was done about it. "
            "Repeated negative incidents raise an early-warning flag.",
        ),
        appstruct=appstruct,
        back_url=request.route_url("student.view", student_id=student.id),
    )
    if isinstance(result, dict):
        result["breadcrumbs"] = _student_crumbs(request, student, title)
    return result


@view_config(
    route_name="behaviour.incident_new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.INCIDENT_RECORD,
)
def incident_new(request):
    return _incident_page(request, request.context.student, None)


@view_config(
    route_name="behaviour.incident_edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.INCIDENT_RECORD,
)
def incident_edit(request):
    return _incident_page(request, request.context.student, request.context.incident)


# Early-warning flags.


def _flag_reasons(request, flag: EarlyWarningFlag) -> list[str]:
    return [warnings.reason_text(reason, request.locale_name) for reason in flag.reasons]


def _flags_page(request, *, school: OrgUnit, section: Section | None) -> dict:
    session = request.dbsession
    show_resolved = request.params.get("resolved") == "1"
    rows = warnings.flag_rows(
        session,
        school_id=school.id if section is None else None,
        section_id=section.id if section is not None else None,
        include_resolved=show_resolved,
    )
    crumbs = breadcrumbs_for(request, school)
    if section is not None:
        crumbs.append((section.label, request.route_url("section.view", section_id=section.id)))
        title = _(
            "section_flags_title",
            default="Early warnings: ${section}",
            mapping={"section": section.label},
        )
    else:
        title = _(
            "school_flags_title",
            default="Early warnings: ${school}",
            mapping={"school": school.name(request.locale_name)},
        )
    crumbs.append((request.t(_("Early warnings")), None))
    return {
        "page_title": request.t(title),
        "breadcrumbs": crumbs,
        "school": school,
        "section": section,
        "rows": rows,
        "plans": plans.active_plans(
            session,
            school_id=school.id if section is None else None,
            section_id=section.id if section is not None else None,
        ),
        "show_resolved": show_resolved,
        "reasons": lambda flag: _flag_reasons(request, flag),
        "area_label": lambda flag: request.t(FLAG_AREA[flag.area]),
        "level_label": lambda flag: request.t(FLAG_LEVEL[flag.level]),
        "can_plan": request.context.can(P.PLAN_MANAGE),
        "can_recompute": section is None,
        "fmt": _fmt,
    }


@view_config(
    route_name="flags.school",
    renderer="spets:webapp/templates/behaviour/flags.pt",
    permission=P.FLAGS_LIST,
)
def school_flags(request):
    return _flags_page(request, school=request.context.school, section=None)


@view_config(
    route_name="flags.section",
    renderer="spets:webapp/templates/behaviour/flags.pt",
    permission=P.FLAGS_LIST,
)
def section_flags(request):
    section = request.context.section
    return _flags_page(request, school=section.school, section=section)


def _recomputed(request, result: warnings.FlagResult) -> None:
    request.session.flash(
        request.t(
            _(
                "flags_recomputed",
                default="Flags recomputed for ${students} students: ${raised} raised, ${updated} "
                "changed, ${resolved} resolved.",
                mapping={
                    "students": result.students,
                    "raised": result.raised,
                    "updated": result.updated,
                    "resolved": result.resolved,
                },
            )
        ),
        "success",
    )


@view_config(route_name="flags.recompute_school", request_method="POST", permission=P.FLAGS_LIST)
def recompute_school(request):
    school = request.context.school
    _recomputed(request, warnings.compute_flags(request.dbsession, request.now, [school.id]))
    return HTTPFound(location=request.route_url("flags.school", school_id=school.id))


@view_config(route_name="flags.recompute_student", request_method="POST", permission=P.FLAGS_LIST)
def recompute_student(request):
    student = request.context.student
    result = warnings.compute_flags(
        request.dbsession, request.now, [student.school_id], student_ids=[student.id]
    )
    _recomputed(request, result)
    return HTTPFound(
        location=request.route_url("student.view", student_id=student.id) + "#warnings"
    )


@view_config(
    route_name="flags.settings",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.WARNING_SETTINGS,
)
def warning_settings(request):
    tenant = request.dbsession.get(OrgUnit, request.identity.tenant_id)
    settings = warnings.settings_of(request.dbsession, tenant.id)
    form = forms.make_form(request, WarningSettingsSchema())

    def save(values):
        warnings.save_settings(
            request.dbsession,
            tenant,
            values,
            version=values["version"] or None,
            actor=request.actor,
            now=request.now,
        )
        request.session.flash(request.t(_("saved", default="Saved.")), "success")
        return request.route_url("flags.settings")

    appstruct = {name: getattr(settings, name) for name in warnings.SETTING_FIELDS}
    appstruct["version"] = settings.version
    return form_page(
        request,
        form,
        save,
        title=_("Early-warning thresholds"),
        intro=_(
            "warning_settings_intro",
            default="These thresholds apply to every school of the tenant from the next "
            "computation of flags (every night, or on demand from a flag list).",
        ),
        appstruct=appstruct,
    )


# Intervention plans.


def _owners(request, student) -> list[tuple[int, str]]:
    return plans.plan_owners(request.dbsession, student.school, request.today)


def _plan_form(request, student):
    return forms.make_form(request, PlanSchema(), owners=_owners(request, student))


@view_config(
    route_name="plans.new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.PLAN_MANAGE,
)
def plan_new(request):
    student = request.context.student
    flag_id = _as_int(request.params.get("flag", ""))
    flag = request.dbsession.get(EarlyWarningFlag, flag_id) if flag_id else None
    if flag is not None and flag.student_id != student.id:
        raise HTTPNotFound()
    form = _plan_form(request, student)

    def save(values):
        plan = plans.create_plan(
            request.dbsession,
            student,
            values,
            flag_id=flag.id if flag else None,
            actor=request.actor,
            now=request.now,
        )
        request.session.flash(request.t(_("plan_saved", default="Plan saved.")), "success")
        return request.route_url("plans.view", plan_id=plan.id)

    owner_ids = {user_id for user_id, _name in _owners(request, student)}
    section = request.dbsession.scalar(
        select(Section)
        .join(Enrollment, Enrollment.section_id == Section.id)
        .where(Enrollment.student_id == student.id, Enrollment.ends_on.is_(None))
    )
    owner = section.class_teacher_id if section and section.class_teacher_id in owner_ids else None
    if owner is None and request.identity.user_id in owner_ids:
        owner = request.identity.user_id
    intro = _(
        "plan_intro",
        default="Agree the plan with the parent or guardian and set the date of its first review.",
    )
    if flag is not None:
        intro = _(
            "plan_from_flag_intro",
            default="From the flag: ${reasons}",
            mapping={"reasons": " ".join(_flag_reasons(request, flag))},
        )
    result = form_page(
        request,
        form,
        save,
        title=_("Start an intervention plan"),
        intro=intro,
        appstruct={"owner_id": owner, "review_on": request.today + timedelta(days=14)},
        back_url=request.route_url("student.view", student_id=student.id),
    )
    if isinstance(result, dict):
        result["breadcrumbs"] = _student_crumbs(request, student, _("Start an intervention plan"))
    return result


@view_config(
    route_name="plans.view",
    renderer="spets:webapp/templates/behaviour/plan.pt",
    permission=P.FLAGS_LIST,
)
def plan_view(request):
    plan = request.context.plan
    session = request.dbsession
    flag = session.get(EarlyWarningFlag, plan.flag_id) if plan.flag_id else None
    title = _(
        "intervention_plan_title",
        default="Intervention plan for ${student}",
        mapping={"student": plan.student.name(request.locale_name)},
    )
    return {
        "page_title": request.t(title),
        "breadcrumbs": _student_crumbs(request, plan.student, _("Intervention plan")),
        "plan": plan,
        "flag": flag,
        "flag_reasons": _flag_reasons(request, flag) if flag else [],
        "reviews": sorted(plan.reviews, key=lambda review: review.due_on, reverse=True),
        "review_tasks": plans.review_tasks(session, plan),
        "can_manage": request.context.can(P.PLAN_MANAGE) and plan.state == PlanState.ACTIVE,
        "state_label": lambda task: request.t(vocab.TASK_STATE[task.state]),
        "yes_no": lambda value: label(request, value),
        "fmt": _fmt,
    }


@view_config(
    route_name="plans.edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.PLAN_MANAGE,
)
def plan_edit(request):
    plan = request.context.plan
    if plan.state != PlanState.ACTIVE:
        raise HTTPNotFound()
    form = _plan_form(request, plan.student)

    def save(values):
        plans.update_plan(
            request.dbsession,
            plan,
            values,
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        request.session.flash(request.t(_("plan_saved", default="Plan saved.")), "success")
        return request.route_url("plans.view", plan_id=plan.id)

    appstruct = {name: getattr(plan, name) for name in plans.PLAN_FIELDS}
    appstruct["version"] = plan.version
    return form_page(
        request,
        form,
        save,
        title=_("Edit the intervention plan"),
        intro=_(
            "plan_edit_intro",
            default="A new review date moves the pending review and its task; a new owner takes the task over.",
        ),
        appstruct=appstruct,
        back_url=request.route_url("plans.view", plan_id=plan.id),
    )


@view_config(
    route_name="plans.review",
    renderer="spets:webapp/templates/behaviour/review.pt",
    permission=P.FLAGS_LIST,
)
def plan_review(request):
    """Show a review; its owner and PLAN_MANAGE holders record a pending one here (POST)."""
    review: InterventionReview = request.context.review
    plan = review.plan
    editable = (
        review.reviewed_at is None
        and plan.state == PlanState.ACTIVE
        and request.context.can(P.PLAN_MANAGE)
    )
    values = {
        "page_title": request.t(
            _("review_title", default="Review of ${date}", mapping={"date": _fmt(review.due_on)})
        ),
        "breadcrumbs": _student_crumbs(request, plan.student, _("Plan review")),
        "review": review,
        "plan": plan,
        "form": None,
        "conflict": None,
        "yes_no": lambda value: label(request, value),
        "fmt": _fmt,
    }
    if request.method == "POST" and not editable:
        request.response.status = 403
        return values
    if not editable:
        return values
    form = forms.make_form(request, ReviewSchema(), button_title=_("Record the review"))

    def save(form_values):
        plans.record_review(
            request.dbsession, review, form_values, actor=request.actor, now=request.now
        )
        request.session.flash(request.t(_("review_saved", default="Review recorded.")), "success")
        return request.route_url("plans.view", plan_id=plan.id)

    result = forms.process(
        request,
        form,
        save,
        appstruct={"next_review_on": request.today + timedelta(days=14)},
    )
    if isinstance(result, HTTPFound):
        return result
    values.update(result)
    return values


@view_config(route_name="plans.review_task", permission=P.TASK_VIEW)
def plan_review_task(request):
    """Open the review of an intervention review task."""
    task = request.context.task
    if task.kind != CycleKind.INTERVENTION_REVIEW or task.target_type != "intervention_review":
        raise HTTPNotFound()
    return HTTPFound(location=request.route_url("plans.review", review_id=task.target_id))


# The profile panel.


def _warnings_panel(request, record):
    session = request.dbsession
    student = record.student
    rows = warnings.flag_rows(session, student_id=student.id, include_resolved=True, limit=20)
    student_plans = plans.student_plans(session, student.id)
    return {
        "open_flags": [row.flag for row in rows if row.flag.resolved_at is None],
        "resolved_flags": [row.flag for row in rows if row.flag.resolved_at is not None][:5],
        "plans": student_plans,
        "review_tasks": {plan.id: plans.review_tasks(session, plan) for plan in student_plans},
        "reasons": lambda flag: _flag_reasons(request, flag),
        "area_label": lambda flag: request.t(FLAG_AREA[flag.area]),
        "level_label": lambda flag: request.t(FLAG_LEVEL[flag.level]),
        "state_label": lambda task: request.t(vocab.TASK_STATE[task.state]),
        "can_plan": request.context.can(P.PLAN_MANAGE),
        "fmt": _fmt,
        "student": student,
    }


profile_panels.register_panel(
    profile_panels.Panel(
        key="warnings",
        title=_("Early warnings and plans"),
        permission=P.FLAGS_LIST,
        template="spets:webapp/templates/behaviour/panel.pt",
        load=_warnings_panel,
        order=45,
        wide=True,
    )
)
