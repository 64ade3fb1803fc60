"""The term calendar: academic years, quarters, exam windows, holidays and closures."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config
from sqlalchemy import select

from spets.forms.calendar import DayOffSchema, ExamWindowSchema, NewYearSchema, QuarterSchema
from spets.i18n import _
from spets.models import DayOffKind, ExamWindow, OrgKind, OrgUnit
from spets.services import calendar, cycles, scope
from spets.services.errors import InvalidInput
from spets.services.scope import Permission as P
from spets.webapp import forms
from spets.webapp.views.common import form_page
from spets.webapp.views.family import ConfirmSchema


@view_config(
    route_name="calendar.years",
    renderer="spets:webapp/templates/calendar/years.pt",
    permission=P.CALENDAR_VIEW,
)
def year_list(request):
    principal = request.identity
    years = calendar.years_of_tenant(request.dbsession, principal.tenant_id)
    current = calendar.current_year(request.dbsession, principal.tenant_id, request.today)
    return {
        "page_title": request.t(_("Term calendar")),
        "years": years,
        "current": current,
        "can_admin": P.CALENDAR_ADMIN in principal.permissions_anywhere(),
    }


@view_config(
    route_name="calendar.year_new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.CALENDAR_ADMIN,
)
def year_new(request):
    principal = request.identity
    tenant = request.dbsession.get(OrgUnit, principal.tenant_id)
    form = forms.make_form(request, NewYearSchema(), button_title=_("Create"))

    def save(values):
        year = calendar.create_year(
            request.dbsession,
            tenant,
            values["start_year"],
            actor=request.actor,
            now=request.now,
            weekly_off_days=",".join(sorted(values["weekly_off_days"])),
        )
        return request.route_url("calendar.year", year_id=year.id)

    return form_page(
        request,
        form,
        save,
        title=_("New academic year"),
        intro=_(
            "new_year_intro",
            default="The four quarters and Pakistan's gazetted holidays are added for you; check and adjust them afterwards.",
        ),
        appstruct={"start_year": calendar.start_year_of(request.today), "weekly_off_days": {"7"}},
        back_url=request.route_url("calendar.years"),
    )


@view_config(
    route_name="calendar.year",
    renderer="spets:webapp/templates/calendar/year.pt",
    permission=P.CALENDAR_VIEW,
)
def year_view(request):
    year = request.context.year
    days_off = calendar.days_off_in_year(request.dbsession, year)
    principal = request.identity
    units = {
        u.id: u
        for u in request.dbsession.scalars(
            select(OrgUnit).where(OrgUnit.id.in_({d.org_unit_id for d in days_off}))
        )
    }
    visible = [d for d in days_off if _unit_visible(principal, units[d.org_unit_id])]
    return {
        "page_title": request.t(
            _("year_title", default="Academic year ${label}", mapping={"label": year.label})
        ),
        "year": year,
        "days_off": visible,
        "units": units,
        "can_admin": request.context.can(P.CALENDAR_ADMIN),
        "can_close": request.context.can(P.CALENDAR_CLOSURE),
        "school_days": _school_day_count(request, year),
    }


def _unit_visible(principal, unit: OrgUnit) -> bool:
    """Show a day off that applies above the user's units or anywhere inside their scope."""
    return any(
        g.org_path.startswith(unit.path) or unit.path.startswith(g.org_path)
        for g in principal.grants
    )


def _school_day_count(request, year):
    """Count school days for the user's own school, when the user works at exactly one."""
    principal = request.identity
    schools = [g for g in principal.grants if g.role.value in ("teacher", "head_teacher")]
    if len({g.org_unit_id for g in schools}) != 1:
        return None
    school = request.dbsession.get(OrgUnit, schools[0].org_unit_id)
    return (
        school,
        len(calendar.school_days(request.dbsession, school, year.starts_on, year.ends_on)),
    )


@view_config(
    route_name="calendar.quarter_edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.CALENDAR_ADMIN,
)
def quarter_edit(request):
    quarter = request.context.quarter
    form = forms.make_form(request, QuarterSchema())

    def save(values):
        calendar.update_quarter(
            request.dbsession,
            quarter,
            values["starts_on"],
            values["ends_on"],
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("calendar.year", year_id=quarter.academic_year_id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "quarter_title",
            default="Quarter ${number} of ${label}",
            mapping={"number": quarter.number, "label": quarter.academic_year.label},
        ),
        appstruct={
            "starts_on": quarter.starts_on,
            "ends_on": quarter.ends_on,
            "version": quarter.version,
        },
        back_url=request.route_url("calendar.year", year_id=quarter.academic_year_id),
    )


def _exam_form_page(request, year, window: ExamWindow | None):
    form = forms.make_form(request, ExamWindowSchema())

    def save(values):
        calendar.save_exam_window(
            request.dbsession,
            year,
            window,
            values,
            version=values.get("version"),
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("calendar.year", year_id=year.id)

    appstruct = {}
    if window is not None:
        appstruct = {name: getattr(window, name) for name in calendar.EXAM_FIELDS}
        appstruct["version"] = window.version
    title = _("New exam window") if window is None else _("Edit exam window")
    return form_page(
        request,
        form,
        save,
        title=title,
        appstruct=appstruct,
        back_url=request.route_url("calendar.year", year_id=year.id),
    )


@view_config(
    route_name="calendar.exam_new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.CALENDAR_ADMIN,
)
def exam_new(request):
    return _exam_form_page(request, request.context.year, None)


@view_config(
    route_name="calendar.exam_edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.CALENDAR_ADMIN,
)
def exam_edit(request):
    return _exam_form_page(request, request.context.year, request.context.window)


@view_config(
    route_name="calendar.exam_delete",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.CALENDAR_ADMIN,
)
def exam_delete(request):
    window = request.context.window
    year = request.context.year
    form = forms.make_form(request, ConfirmSchema(), button_title=_("Delete"))

    def save(values):
        calendar.delete_exam_window(request.dbsession, window, actor=request.actor, now=request.now)
        return request.route_url("calendar.year", year_id=year.id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "delete_exam_title",
            default="Delete the exam window ${name}?",
            mapping={"name": window.name(request.locale_name)},
        ),
        back_url=request.route_url("calendar.year", year_id=year.id),
    )


def _closure_units(request) -> list[tuple[str, str]]:
    """Return the org units (not single schools below markaz level) where the user may add days off."""
    principal = request.identity
    clause = scope.org_unit_clause(principal, P.CALENDAR_CLOSURE)
    units = request.dbsession.scalars(
        select(OrgUnit)
        .where(clause, OrgUnit.kind != OrgKind.SCHOOL)
        .order_by(OrgUnit.path)
        .limit(500)
    ).all()
    schools = request.dbsession.scalars(
        select(OrgUnit).where(
            clause,
            OrgUnit.kind == OrgKind.SCHOOL,
            OrgUnit.id.in_([g.org_unit_id for g in principal.grants]),
        )
    ).all()
    return [(str(u.id), f"{u.name(request.locale_name)} ({u.code})") for u in [*units, *schools]]


def _day_off_kinds(request):
    """Admins of the tenant record any kind; other roles record closures only."""
    if P.CALENDAR_ADMIN in request.identity.permissions_anywhere():
        return list(DayOffKind)
    return [DayOffKind.CLOSURE]


def _day_off_form_page(request, year, day_off):
    kinds = _day_off_kinds(request)
    form = forms.make_form(request, DayOffSchema(), units=_closure_units(request), kinds=kinds)

    def save(values):
        values = {**values, "kind": DayOffKind(values["kind"])}
        if values["kind"] not in kinds:
            message = _("closure_only", default="Your role may record closures only.")
            raise InvalidInput(message, {"kind": message})
        units_before = [day_off.org_unit] if day_off is not None else []
        saved = calendar.save_day_off(
            request.dbsession,
            day_off,
            values,
            version=values.get("version"),
            actor=request.actor,
            now=request.now,
        )
        _move_due_dates(request, [*units_before, saved.org_unit])
        return request.route_url("calendar.year", year_id=year.id)

    appstruct = {"kind": DayOffKind.CLOSURE.value}
    if day_off is not None:
        appstruct = {name: getattr(day_off, name) for name in calendar.DAY_OFF_FIELDS}
        appstruct["kind"] = day_off.kind.value
        appstruct["version"] = day_off.version
    title = _("New holiday or closure") if day_off is None else _("Edit holiday or closure")
    return form_page(
        request,
        form,
        save,
        title=title,
        appstruct=appstruct,
        intro=_(
            "day_off_intro",
            default="School days are recounted from the calendar at once; a closure announced late applies from the day it names.",
        ),
        back_url=request.route_url("calendar.year", year_id=year.id),
    )


def _move_due_dates(request, units: list[OrgUnit]) -> None:
    """Shift the due dates of open tasks under the changed units, and say how many moved."""
    request.dbsession.flush()
    moved = sum(
        cycles.reschedule_after_calendar_change(request.dbsession, unit, request.now)
        for unit in {unit.id: unit for unit in units}.values()
    )
    message = _(
        "tasks_moved",
        default="Due dates recounted: ${count} open tasks moved.",
        mapping={"count": moved},
    )
    request.session.flash(request.t(message), "success")


@view_config(
    route_name="calendar.day_off_new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.CALENDAR_CLOSURE,
)
def day_off_new(request):
    return _day_off_form_page(request, request.context.year, None)


@view_config(
    route_name="calendar.day_off_edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.CALENDAR_CLOSURE,
)
def day_off_edit(request):
    day_off = request.context.day_off
    year = calendar.current_year(request.dbsession, request.identity.tenant_id, day_off.starts_on)
    if year is None:
        return HTTPFound(location=request.route_url("calendar.years"))
    return _day_off_form_page(request, year, day_off)


@view_config(
    route_name="calendar.day_off_delete",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.CALENDAR_CLOSURE,
)
def day_off_delete(request):
    day_off = request.context.day_off
    form = forms.make_form(request, ConfirmSchema(), button_title=_("Delete"))

    def save(values):
        unit = day_off.org_unit
        calendar.delete_day_off(request.dbsession, day_off, actor=request.actor, now=request.now)
        _move_due_dates(request, [unit])
        return request.route_url("calendar.years")

    return form_page(
        request,
        form,
        save,
        title=_(
            "delete_day_off_title",
            default="Delete ${name}?",
            mapping={"name": day_off.name(request.locale_name)},
        ),
        back_url=request.route_url("calendar.years"),
    )
