"""Parent–teacher meetings: days, slots, bookings, and the minutes, actions and follow-ups after.

Staff pages use the main layout; the guardian's booking page is a portal page. The work
pages of the three PTM task kinds are registered in `WORK_ROUTES`, so the task list and
the sign-off queue link to them.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

import deform
from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.view import view_config
from sqlalchemy import select

from spets.forms.ptm import (
    ACTIONS_PER_BOOKING,
    ATTENDANCE_LABELS,
    FOLLOW_UP_LABELS,
    ActionDoneSchema,
    FollowUpSchema,
    PtmDaySchema,
    SlotsSchema,
    parse_minutes,
)
from spets.i18n import _
from spets.models import CycleKind, OrgKind, OrgUnit, User
from spets.models.ptm import FollowUpMethod, PtmBooking, PtmSlot
from spets.services import guardians, ptm, tasks, threads
from spets.services.errors import InvalidInput, Locked, NotFound, StaleEdit
from spets.services.scope import Permission as P
from spets.webapp import forms, navigation
from spets.webapp.views.common import form_page
from spets.webapp.views.portal import portal_values
from spets.webapp.views.tasks import WORK_ROUTES

WORK_ROUTES[CycleKind.PTM_MINUTES] = "ptm.minutes"
WORK_ROUTES[CycleKind.AGREED_ACTION] = "ptm.action"
WORK_ROUTES[CycleKind.PTM_FOLLOW_UP] = "ptm.follow_up"

navigation.register(navigation.NavItem("ptm.days", _("Parent–teacher meetings"), P.PTM_SLOTS))

LOCAL_ZONE = ZoneInfo("Asia/Karachi")
PAST_DAYS_LISTED = 60
# Units offered for a new PTM day: a grant's own unit and these kinds below it.
DAY_UNIT_KINDS = (OrgKind.DIVISION, OrgKind.DISTRICT, OrgKind.TEHSIL, OrgKind.MARKAZ)
MAX_SCHOOLS_OFFERED = 300


def local_time(request, moment, fmt="%H:%M") -> str:
    """A UTC instant as the reader's local clock time (Karachi)."""
    return moment.astimezone(LOCAL_ZONE).strftime(fmt)


# PTM days.


@view_config(
    route_name="ptm.days", renderer="spets:webapp/templates/ptm/days.pt", permission=P.PTM_SLOTS
)
def day_list(request):
    since = request.today - timedelta(days=PAST_DAYS_LISTED)
    return {
        "page_title": request.t(_("Parent–teacher meetings")),
        "days": ptm.days_for_principal(request.dbsession, request.identity, since),
        "today": request.today,
        "can_manage": P.PTM_MANAGE in request.identity.permissions_anywhere(),
    }


def _unit_choices(request) -> list[tuple[str, str]]:
    """The units where the principal may put a PTM day, broadest first."""
    session = request.dbsession
    locale = request.locale_name
    paths = request.identity.paths_with(P.PTM_MANAGE)
    units: dict[int, OrgUnit] = {}
    for path in paths:
        for unit in session.scalars(
            select(OrgUnit)
            .where(
                OrgUnit.path.startswith(path, autoescape=True),
                OrgUnit.is_active.is_(True),
                (OrgUnit.path == path) | OrgUnit.kind.in_(DAY_UNIT_KINDS),
            )
            .order_by(OrgUnit.path)
        ):
            units[unit.id] = unit
        schools = session.scalars(
            select(OrgUnit)
            .where(
                OrgUnit.path.startswith(path, autoescape=True),
                OrgUnit.kind == OrgKind.SCHOOL,
                OrgUnit.is_active.is_(True),
            )
            .order_by(OrgUnit.name_en)
            .limit(MAX_SCHOOLS_OFFERED)
        ).all()
        for unit in schools:
            units[unit.id] = unit
    return [(str(unit.id), unit.name(locale)) for unit in units.values()]


@view_config(
    route_name="ptm.day_new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.PTM_MANAGE,
)
def day_new(request):
    choices = _unit_choices(request)
    form = forms.make_form(request, PtmDaySchema(), button_title=_("Add"), unit_choices=choices)

    def save(values):
        unit = request.dbsession.get(OrgUnit, int(values["org_unit_id"]))
        ptm_day = ptm.save_day(
            request.dbsession,
            unit=unit,
            ptm_day=None,
            values=values,
            version=None,
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("ptm.day", day_id=ptm_day.id)

    return form_page(
        request,
        form,
        save,
        title=_("New parent–teacher meeting day"),
        intro=_(
            "ptm_new_intro",
            default="Teachers of every school under the unit then open their meeting times.",
        ),
        back_url=request.route_url("ptm.days"),
    )


@view_config(
    route_name="ptm.day_edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.PTM_MANAGE,
)
def day_edit(request):
    ptm_day = request.context.ptm_day
    form = forms.make_form(request, PtmDaySchema(), button_title=_("Save"), editing=True)

    def save(values):
        ptm.save_day(
            request.dbsession,
            unit=ptm_day.org_unit,
            ptm_day=ptm_day,
            values=values,
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("ptm.day", day_id=ptm_day.id)

    return form_page(
        request,
        form,
        save,
        title=_("Change the PTM day"),
        appstruct={
            "day": ptm_day.day,
            "name_en": ptm_day.name_en,
            "name_ur": ptm_day.name_ur,
            "version": ptm_day.version,
        },
        back_url=request.route_url("ptm.day", day_id=ptm_day.id),
    )


@view_config(route_name="ptm.day_delete", request_method="POST", permission=P.PTM_MANAGE)
def day_delete(request):
    ptm_day = request.context.ptm_day
    try:
        ptm.delete_day(request.dbsession, ptm_day, actor=request.actor, now=request.now)
    except Locked as refused:
        request.session.flash(request.t(refused.message), "warning")
        return HTTPFound(location=request.route_url("ptm.day", day_id=ptm_day.id))
    request.session.flash(request.t(_("ptm_day_removed", default="Removed.")), "success")
    return HTTPFound(location=request.route_url("ptm.days"))


def _school_rows(request, ptm_day):
    """Per school of the day the principal works at: its slots, and whether they manage it."""
    session = request.dbsession
    principal = request.identity
    rows = []
    for school in ptm.schools_of_day(session, ptm_day, principal):
        manages = P.PTM_MANAGE in principal.permissions_at(school.path)
        teaches = ptm.teaches_at(principal, session, school.id)
        if manages:
            slots = ptm.slots_of_school(session, ptm_day, school.id)
        else:
            slots = [
                row
                for row in ptm.slots_of_teacher(session, ptm_day, principal.user_id)
                if row.slot.school_id == school.id
            ]
        rows.append({"school": school, "manages": manages, "teaches": teaches, "slots": slots})
    return rows


@view_config(
    route_name="ptm.day", renderer="spets:webapp/templates/ptm/day.pt", permission=P.PTM_SLOTS
)
def day_view(request):
    ptm_day = request.context.ptm_day
    schools = _school_rows(request, ptm_day)
    teaching = [row["school"] for row in schools if row["teaches"]]
    form = forms.make_form(
        request,
        SlotsSchema(),
        button_title=_("Open these times"),
        school_choices=[(str(s.id), s.name(request.locale_name)) for s in teaching],
    )
    form.action = request.route_url("ptm.slots", day_id=ptm_day.id)
    open_for_slots = ptm_day.day >= request.today and teaching
    return {
        "page_title": ptm_day.name(request.locale_name),
        "ptm_day": ptm_day,
        "schools": schools,
        "form": form.render({"minutes": 10}) if open_for_slots else "",
        "can_manage": request.context.can(P.PTM_MANAGE),
        "time": lambda moment: local_time(request, moment),
        "past": ptm_day.day < request.today,
    }


@view_config(
    route_name="ptm.slots",
    request_method="POST",
    renderer="spets:webapp/templates/ptm/day.pt",
    permission=P.PTM_SLOTS,
)
def slots_open(request):
    ptm_day = request.context.ptm_day
    session = request.dbsession
    schools = _school_rows(request, ptm_day)
    teaching = {row["school"].id: row["school"] for row in schools if row["teaches"]}
    form = forms.make_form(
        request,
        SlotsSchema(),
        button_title=_("Open these times"),
        school_choices=[(str(i), s.name(request.locale_name)) for i, s in teaching.items()],
    )
    form.action = request.route_url("ptm.slots", day_id=ptm_day.id)
    controls = list(request.POST.items())
    page = {
        "page_title": ptm_day.name(request.locale_name),
        "ptm_day": ptm_day,
        "schools": schools,
        "can_manage": request.context.can(P.PTM_MANAGE),
        "time": lambda moment: local_time(request, moment),
        "past": ptm_day.day < request.today,
    }
    try:
        values = form.validate(controls)
    except deform.ValidationFailure as failure:
        return {**page, "form": failure.render()}
    savepoint = session.begin_nested()
    try:
        created = ptm.open_slots(
            session,
            ptm_day=ptm_day,
            school=teaching[int(values["school_id"])],
            teacher=session.get(User, request.identity.user_id),
            starts=values["starts"],
            ends=values["ends"],
            minutes=values["minutes"],
            now=request.now,
        )
    except (InvalidInput, Locked, NotFound) as error:
        savepoint.rollback()
        html = forms.render_errors(
            form, controls, error.message, getattr(error, "field_errors", {})
        )
        return {**page, "form": html}
    savepoint.commit()
    request.session.flash(
        request.t(
            _("slots_opened", default="${count} time(s) opened.", mapping={"count": created})
        ),
        "success",
    )
    return HTTPFound(location=request.route_url("ptm.day", day_id=ptm_day.id))


@view_config(route_name="ptm.slot_delete", request_method="POST", permission=P.PTM_SLOTS)
def slot_delete(request):
    slot: PtmSlot = request.context.slot
    day_id = slot.ptm_day_id
    try:
        ptm.delete_slot(request.dbsession, slot, now=request.now)
    except Locked as refused:
        request.session.flash(request.t(refused.message), "warning")
    return HTTPFound(location=request.route_url("ptm.day", day_id=day_id))


# The guardian's side: booking and cancelling.


@view_config(
    route_name="portal.ptm",
    renderer="spets:webapp/templates/portal/ptm.pt",
    permission=P.PORTAL,
)
def guardian_meetings(request, error=None):
    session = request.dbsession
    student = request.context.student
    guardian_ids = threads.guardian_ids_of_user(session, request.identity.user_id)
    return portal_values(
        request,
        title=_(
            "meetings_of",
            default="Meetings about ${name}",
            mapping={"name": student.name(request.locale_name)},
        ),
        child=request.context,
        tab="ptm",
        days=ptm.bookable_days(session, student, request.now),
        meetings=ptm.meetings_of_student(session, student.id, guardian_ids),
        time=lambda moment: local_time(request, moment),
        date=lambda moment: local_time(request, moment, "%d/%m/%Y"),
        error=error,
        now=request.now,
        attendance_labels=ATTENDANCE_LABELS,
    )


@view_config(
    route_name="ptm.book",
    request_method="POST",
    renderer="spets:webapp/templates/portal/ptm.pt",
    permission=P.PORTAL,
)
def book(request):
    session = request.dbsession
    context = request.context
    raw = request.POST.get("slot_id", "")
    slot = session.get(PtmSlot, int(raw)) if raw.isdigit() else None
    try:
        if slot is None:
            raise NotFound(_("slot_not_found", default="This time is not offered for your child."))
        ptm.book(
            session,
            slot=slot,
            student=context.student,
            guardian_id=context.guardian.id,
            user=session.get(User, request.identity.user_id),
            now=request.now,
        )
    except ptm.BookingConflict as conflict:
        request.response.status = 409
        return guardian_meetings(request, error=conflict.message)
    except (InvalidInput, Locked, NotFound) as refused:
        request.response.status = 400 if not isinstance(refused, NotFound) else 404
        return guardian_meetings(request, error=refused.message)
    request.session.flash(request.t(_("booking_done", default="Booked.")), "success")
    return HTTPFound(location=request.route_url("portal.ptm", student_id=context.student.id))


@view_config(route_name="ptm.cancel", request_method="POST", permission=P.PORTAL)
def cancel(request):
    context = request.context
    try:
        ptm.cancel_booking(
            request.dbsession,
            context.booking,
            user=request.dbsession.get(User, request.identity.user_id),
            now=request.now,
        )
        request.session.flash(request.t(_("booking_cancelled", default="Cancelled.")), "success")
    except Locked as refused:
        request.session.flash(request.t(refused.message), "warning")
    return HTTPFound(location=request.route_url("portal.ptm", student_id=context.student.id))


# Work pages of the three task kinds.


def _task_page_values(request, task):
    return {
        "task": task,
        "describe": tasks.describe(task, request.locale_name),
        "can_work": request.context.can(P.TASK_WORK) and task.is_pending,
        "time": lambda moment: local_time(request, moment),
        "task_url": request.route_url("task.view", task_id=task.id),
    }


@view_config(
    route_name="ptm.minutes",
    renderer="spets:webapp/templates/ptm/minutes.pt",
    permission=P.TASK_VIEW,
    request_method="GET",
)
def minutes_view(request, errors=None, message=None, status=200):
    task = request.context.task
    session = request.dbsession
    try:
        sheet = ptm.minutes_sheet(session, task)
    except NotFound:
        raise HTTPNotFound() from None
    request.response.status = status
    return {
        **_task_page_values(request, task),
        "page_title": request.t(_("PTM minutes")),
        "sheet": sheet,
        "owners": ptm.action_owners(session, sheet.school, request.now),
        "default_due": ptm.default_action_due(session, sheet.school, request.now),
        "actions_per_booking": ACTIONS_PER_BOOKING,
        "attendance_labels": ATTENDANCE_LABELS,
        "errors": errors or {},
        "message": message,
        "posted": request.POST if request.method == "POST" else {},
        "phone": guardians.local_phone,
    }


@view_config(
    route_name="ptm.minutes",
    renderer="spets:webapp/templates/ptm/minutes.pt",
    permission=P.TASK_WORK,
    request_method="POST",
)
def minutes_save(request):
    task = request.context.task
    session = request.dbsession
    sheet = ptm.minutes_sheet(session, task)
    blocks, errors = parse_minutes(request.POST, [row.booking.id for row in sheet.rows])
    if errors:
        return minutes_view(
            request,
            errors=errors,
            message=_(
                "minutes_invalid", default="Some entries need correcting; nothing was saved."
            ),
            status=400,
        )
    submit = "submit" in request.POST
    version = request.POST.get("version", "")
    savepoint = session.begin_nested()
    try:
        ptm.save_minutes(
            session,
            task,
            [ptm.MinutesEntry(**block) for block in blocks],
            actor=request.actor,
            now=request.now,
            submit=submit,
            version=int(version) if version.isdigit() else None,
        )
    except (InvalidInput, Locked, StaleEdit, NotFound) as error:
        savepoint.rollback()
        session.expire_all()
        return minutes_view(
            request,
            errors=getattr(error, "field_errors", {}),
            message=error.message,
            status=409 if isinstance(error, StaleEdit) else 400,
        )
    savepoint.commit()
    flash = (
        _("minutes_submitted", default="Handed in for sign-off. The agreed actions are now tasks.")
        if submit
        else _("minutes_saved", default="Saved as a draft.")
    )
    request.session.flash(request.t(flash), "success")
    if submit:
        return HTTPFound(location=request.route_url("tasks.mine"))
    return HTTPFound(location=request.route_url("ptm.minutes", task_id=task.id))


def _simple_task_form(request, *, schema, loader, save_action, title, template_values):
    task = request.context.task
    try:
        record = loader(request.dbsession, task)
    except NotFound:
        raise HTTPNotFound() from None
    values = {**_task_page_values(request, task), **template_values(record)}
    read_only = {**values, "page_title": request.t(title), "form": "", "conflict": None}
    if request.method == "POST" and not request.context.can(P.TASK_WORK):
        request.response.status = 403
        return read_only
    if not values["can_work"]:
        return read_only
    form = forms.make_form(request, schema, button_title=_("Hand in"))

    def save(form_values):
        save_action(task, form_values)
        request.session.flash(request.t(_("task_handed_in", default="Handed in.")), "success")
        return request.route_url("tasks.mine")

    result = forms.process(request, form, save, appstruct={"version": task.version})
    if isinstance(result, HTTPFound):
        return result
    return {**values, **result, "page_title": request.t(title)}


@view_config(
    route_name="ptm.action",
    renderer="spets:webapp/templates/ptm/action.pt",
    permission=P.TASK_VIEW,
)
def action_task(request):
    def save(task, values):
        ptm.complete_action(
            request.dbsession,
            task,
            values["outcome"],
            actor=request.actor,
            now=request.now,
            version=values["version"],
        )

    return _simple_task_form(
        request,
        schema=ActionDoneSchema(),
        loader=ptm.action_of_task,
        save_action=save,
        title=_("Agreed action"),
        template_values=lambda action: {
            "action": action,
            "booking": request.dbsession.get(PtmBooking, action.minutes.booking_id),
        },
    )


@view_config(
    route_name="ptm.follow_up",
    renderer="spets:webapp/templates/ptm/follow_up.pt",
    permission=P.TASK_VIEW,
)
def follow_up_task(request):
    def save(task, values):
        ptm.record_follow_up(
            request.dbsession,
            task,
            method=FollowUpMethod(values["method"]),
            reached=values["reached"],
            notes=values["notes"],
            actor=request.actor,
            now=request.now,
            version=values["version"],
        )

    return _simple_task_form(
        request,
        schema=FollowUpSchema(),
        loader=ptm.follow_up_case,
        save_action=save,
        title=_("Follow up a missed meeting"),
        template_values=lambda case: {
            "case": case,
            "phone": guardians.local_phone,
            "follow_up_labels": FOLLOW_UP_LABELS,
        },
    )
