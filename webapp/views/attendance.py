"""Attendance: the daily register of a section, figures of a section and a school, options.

The register is one form for the whole section, saved in one request. Its fields carry
peppercorn markers, so `forms.attendance.RegisterSchema` validates the POST as the nested
structure an API body would send. The student profile's
"Attendance and behaviour" panel is registered here too.
"""

from datetime import date, timedelta

import colander
import peppercorn
from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.view import view_config
from sqlalchemy import or_, select

from spets.forms.attendance import STATUS, STATUS_SHORT, OptionsSchema, RegisterSchema
from spets.forms.behaviour import AREAS, CATEGORY_LABELS, INCIDENT_KIND, LEVELS
from spets.i18n import _
from spets.models import (
    AcademicYear,
    AttendanceStatus,
    CycleKind,
    OrgKind,
    OrgUnit,
    Section,
    Student,
    User,
)
from spets.services import attendance, behaviour, calendar
from spets.services.errors import InvalidInput, Locked, StaleEdit
from spets.services.scope import Permission as P
from spets.services.scope import section_clause
from spets.webapp import forms, navigation, profile_panels
from spets.webapp.views.common import breadcrumbs_for, form_page
from spets.webapp.views.tasks import WORK_ROUTES

REGISTER_TEMPLATE = "spets:webapp/templates/attendance/register.pt"
STATUSES = [
    (status.value, STATUS_SHORT[status], STATUS[status])
    for status in (
        AttendanceStatus.PRESENT,
        AttendanceStatus.ABSENT,
        AttendanceStatus.LATE,
        AttendanceStatus.LEAVE,
    )
]
STATUS_VALUES = frozenset(status.value for status in AttendanceStatus)
LIST_LIMIT = 300

WORK_ROUTES[CycleKind.DAILY_ATTENDANCE] = "attendance.task"
navigation.register(
    navigation.NavItem("attendance.home", _("Attendance"), P.ATTENDANCE_VIEW), replaces="Attendance"
)


def _fmt(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else "—"


def _percent(value) -> str:
    return "—" if value is None else f"{value} %"


def _section_crumbs(request, section: Section, last=None) -> list:
    crumbs = breadcrumbs_for(request, section.school)
    crumbs.append((section.label, request.route_url("section.view", section_id=section.id)))
    if last:
        crumbs.append((last, None))
    return crumbs


# Periods.


def _year_of(request, school: OrgUnit) -> AcademicYear | None:
    return calendar.current_year(request.dbsession, school.tenant_id or school.id, request.today)


def _period(request, year: AcademicYear) -> tuple[date, date, str]:
    """Return the span the figures cover: ?month=YYYY-MM, or the year so far (the default)."""
    today = min(request.today, year.ends_on)
    text = request.params.get("month", "")
    try:
        month = date.fromisoformat(f"{text}-01") if text else None
    except ValueError:
        month = None
    if month is not None and year.starts_on <= month <= year.ends_on:
        end = min(behaviour.month_end(month), today)
        return month, max(end, month), text
    return year.starts_on, max(today, year.starts_on), ""


def _months(year: AcademicYear, today: date) -> list[tuple[str, str]]:
    """Return (value, label) of each month of the year up to today, newest first."""
    months = []
    month = year.starts_on
    while month <= min(today, year.ends_on):
        months.append((month.strftime("%Y-%m"), month.strftime("%m/%Y")))
        month = behaviour.month_end(month) + timedelta(days=1)
    return list(reversed(months))


# The list of one's sections and schools.


@view_config(
    route_name="attendance.home",
    renderer="spets:webapp/templates/attendance/home.pt",
    permission=P.ATTENDANCE_VIEW,
)
def attendance_home(request):
    session, principal, today = request.dbsession, request.identity, request.today
    sections = session.scalars(
        select(Section)
        .join(AcademicYear, AcademicYear.id == Section.academic_year_id)
        .join(OrgUnit, OrgUnit.id == Section.school_id)
        .where(
            section_clause(principal, P.ATTENDANCE_VIEW),
            AcademicYear.starts_on <= today,
            AcademicYear.ends_on >= today,
        )
        .order_by(OrgUnit.name_en, Section.grade, Section.name)
        .limit(LIST_LIMIT)
    ).all()
    markable = set(
        session.scalars(
            select(Section.id).where(
                Section.id.in_([section.id for section in sections]),
                section_clause(principal, P.ATTENDANCE_MARK),
            )
        )
    )
    # Schools whose figures the user reads through a role (head teacher, AEO and above).
    paths = principal.paths_with(P.ATTENDANCE_VIEW)
    schools = []
    if paths:
        schools = session.scalars(
            select(OrgUnit)
            .where(
                OrgUnit.kind == OrgKind.SCHOOL,
                OrgUnit.is_active.is_(True),
                or_(*[OrgUnit.path.startswith(path, autoescape=True) for path in paths]),
            )
            .order_by(OrgUnit.name_en)
            .limit(LIST_LIMIT)
        ).all()
    return {
        "page_title": request.t(_("Attendance")),
        "sections": sections,
        "markable": markable,
        "marked": attendance.marked_today(session, [s.id for s in sections], today),
        "schools": schools,
        "today": today,
        "fmt": _fmt,
    }


# The register.


def _register_day(request) -> date:
    try:
        return date.fromisoformat(request.matchdict["day"])
    except ValueError:
        raise HTTPNotFound() from None


def _posted_rows(pstruct: dict) -> dict[int, tuple[str, str]]:
    """Read the posted rows leniently, so a page with errors shows what was chosen."""
    rows = {}
    students = pstruct.get("students")
    for row in students if isinstance(students, list) else []:
        if not isinstance(row, dict) or not str(row.get("student_id", "")).isdigit():
            continue
        rows[int(row["student_id"])] = (
            str(row.get("status", "present")),
            str(row.get("leave_reason", "")),
        )
    return rows


def _register_page(request, register, **extra) -> dict:
    section = register.section
    session = request.dbsession

    # What each row shows: the saved status, or the one just posted.
    posted = extra.pop("posted", {})
    states = {
        row.student.id: posted.get(row.student.id, (row.status.value, row.leave_reason))
        for row in register.rows
    }

    # The corrections, with the names of the students and of who made them.
    corrections = attendance.corrections_of(session, register.record)
    names = {row.student.id: row.student.name(request.locale_name) for row in register.rows}
    actor_ids = {c.actor_id for c in corrections if c.actor_id}
    if register.record is not None and register.record.marked_by_id:
        actor_ids.add(register.record.marked_by_id)
    actors = (
        {
            user.id: user.name(request.locale_name)
            for user in session.scalars(select(User).where(User.id.in_(actor_ids)))
        }
        if actor_ids
        else {}
    )
    missing = {c.student_id for c in corrections} - set(names)
    if missing:
        for student in session.scalars(select(Student).where(Student.id.in_(missing))):
            names[student.id] = student.name(request.locale_name)

    title = request.t(
        _(
            "register_title",
            default="Register of ${section}, ${date}",
            mapping={"section": section.label, "date": _fmt(register.day)},
        )
    )
    counts = {status: 0 for status, _short, _label in STATUSES}
    for status, _reason in states.values():
        counts[status] = counts.get(status, 0) + 1
    return {
        "page_title": title,
        "breadcrumbs": _section_crumbs(request, section, _fmt(register.day)),
        "register": register,
        "states": states,
        "statuses": STATUSES,
        "status_label": lambda value: request.t(STATUS[AttendanceStatus(value)]),
        "counts": counts,
        "editable": register.is_markable and request.context.can(P.ATTENDANCE_MARK),
        "closed_message": register.closed.message(request.locale_name) if register.closed else None,
        "corrections": corrections,
        "names": names,
        "actors": actors,
        "version": extra.pop("version", register.version),
        "message": extra.pop("message", None),
        "row_errors": extra.pop("row_errors", {}),
        "conflict_rows": extra.pop("conflict_rows", None),
        "previous_day": register.day - timedelta(days=1),
        "next_day": register.day + timedelta(days=1) if register.day < register.today else None,
        "fmt": _fmt,
        "rule": attendance.PERCENT_RULE,
    }


def _load_register(request):
    return attendance.load_register(
        request.dbsession, request.context.section, _register_day(request), request.now
    )


@view_config(
    route_name="attendance.register",
    request_method="GET",
    renderer=REGISTER_TEMPLATE,
    permission=P.ATTENDANCE_VIEW,
)
def register_view(request):
    return _register_page(request, _load_register(request))


def _schema_errors(request, invalid: colander.Invalid, pstruct: dict) -> dict[str, list]:
    """Map colander's dotted error keys (``students.3.leave_reason``) to ``student-<id>`` rows."""
    students = pstruct.get("students") if isinstance(pstruct.get("students"), list) else []
    errors: dict[str, list] = {}
    for key, message in invalid.asdict(translate=request.localizer.translate).items():
        parts = key.split(".")
        student_id = None
        if parts[0] == "students" and len(parts) > 1 and parts[1].isdigit():
            position = int(parts[1])
            if position < len(students) and isinstance(students[position], dict):
                student_id = str(students[position].get("student_id", ""))
        errors.setdefault(f"student-{student_id}" if student_id else "register", []).append(message)
    return errors


@view_config(
    route_name="attendance.register",
    request_method="POST",
    renderer=REGISTER_TEMPLATE,
    permission=P.ATTENDANCE_MARK,
)
def register_save(request):
    """Save the whole section's register in one request, then come back to it."""
    section, day = request.context.section, _register_day(request)
    pstruct = peppercorn.parse(list(request.POST.items()))
    try:
        values = RegisterSchema().bind(request=request).deserialize(pstruct)
    except colander.Invalid as invalid:
        return _register_page(
            request,
            _load_register(request),
            posted=_posted_rows(pstruct),
            message=_(
                "register_invalid", default="The register was not saved: correct the rows marked."
            ),
            row_errors=_schema_errors(request, invalid, pstruct),
        )

    savepoint = request.dbsession.begin_nested()
    try:
        attendance.save_register(
            request.dbsession,
            section,
            day,
            values["students"],
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
    except StaleEdit:
        savepoint.rollback()
        return _stale_page(request, pstruct)
    except (InvalidInput, Locked) as error:
        savepoint.rollback()
        return _register_page(
            request,
            _load_register(request),
            posted=_posted_rows(pstruct),
            message=error.message,
            row_errors={
                key: [message] for key, message in getattr(error, "field_errors", {}).items()
            },
            version=values["version"],
        )
    savepoint.commit()
    request.session.flash(request.t(_("register_saved", default="Register saved.")), "success")
    return HTTPFound(
        location=request.route_url(
            "attendance.register", section_id=section.id, day=day.isoformat()
        )
    )


def _stale_page(request, pstruct: dict) -> dict:
    """Show the user's choices over the register saved meanwhile, with the newer version.

    Saving again then deliberately replaces what was saved meanwhile.
    """
    register = _load_register(request)
    posted = _posted_rows(pstruct)
    conflicts = []
    for row in register.rows:
        mine = posted.get(row.student.id)
        if mine is None or mine[0] == row.status.value:
            continue
        conflicts.append(
            (
                row.student.name(request.locale_name),
                request.t(STATUS[row.status]),
                request.t(STATUS[AttendanceStatus(mine[0])])
                if mine[0] in STATUS_VALUES
                else mine[0],
            )
        )
    return _register_page(
        request,
        register,
        posted=posted,
        conflict_rows=conflicts,
        message=_(
            "register_stale_page",
            default="Someone saved this register after you opened it, so your changes were not "
            "saved. The rows below show your choices; compare them with the values saved "
            "meanwhile, then save again to keep yours.",
        ),
    )


@view_config(route_name="attendance.task", permission=P.TASK_VIEW)
def attendance_task(request):
    """Open the register of a daily attendance task's section and day."""
    task = request.context.task
    if task.kind != CycleKind.DAILY_ATTENDANCE or task.section_id is None:
        raise HTTPNotFound()
    return HTTPFound(
        location=request.route_url(
            "attendance.register", section_id=task.section_id, day=task.opens_on.isoformat()
        )
    )


# Figures.


@view_config(
    route_name="attendance.section",
    renderer="spets:webapp/templates/attendance/section.pt",
    permission=P.ATTENDANCE_VIEW,
)
def section_figures(request):
    section = request.context.section
    year = section.academic_year
    start, end, month = _period(request, year)
    figures = attendance.section_attendance(request.dbsession, section, start, end)
    today_is_school_day = (
        year.starts_on <= request.today <= year.ends_on
        and attendance.closed_day(request.dbsession, section, request.today) is None
    )
    return {
        "page_title": request.t(
            _(
                "section_attendance_title",
                default="Attendance of ${section}",
                mapping={"section": section.label},
            )
        ),
        "breadcrumbs": _section_crumbs(request, section, request.t(_("Attendance"))),
        "section": section,
        "figures": figures,
        "months": _months(year, request.today),
        "month": month,
        "start": start,
        "end": end,
        "today": request.today,
        "today_is_school_day": today_is_school_day,
        "can_mark": request.context.can(P.ATTENDANCE_MARK),
        "can_flags": request.context.can(P.FLAGS_LIST),
        "fmt": _fmt,
        "pct": _percent,
        "rule": attendance.PERCENT_RULE,
    }


@view_config(
    route_name="attendance.school",
    renderer="spets:webapp/templates/attendance/school.pt",
    permission=P.ATTENDANCE_VIEW,
)
def school_figures(request):
    school = request.context.school
    year = _year_of(request, school)
    if year is None:
        raise HTTPNotFound()
    start, end, month = _period(request, year)
    figures = attendance.school_attendance(request.dbsession, school, year, start, end)
    marked = attendance.marked_today(
        request.dbsession, [section.id for section, _f, _g in figures.sections], request.today
    )
    return {
        "page_title": request.t(
            _(
                "school_attendance_title",
                default="Attendance: ${school}",
                mapping={"school": school.name(request.locale_name)},
            )
        ),
        "breadcrumbs": breadcrumbs_for(request, school) + [(request.t(_("Attendance")), None)],
        "school": school,
        "figures": figures,
        "marked_today": marked,
        "months": _months(year, request.today),
        "month": month,
        "start": start,
        "end": end,
        "today": request.today,
        "can_options": request.context.can(P.ATTENDANCE_OPTIONS),
        "can_flags": request.context.can(P.FLAGS_LIST),
        "fmt": _fmt,
        "pct": _percent,
        "rule": attendance.PERCENT_RULE,
    }


@view_config(
    route_name="attendance.options",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.ATTENDANCE_OPTIONS,
)
def attendance_options(request):
    school = request.context.school
    options = attendance.options_of(request.dbsession, school.id)
    form = forms.make_form(request, OptionsSchema())

    def save(values):
        attendance.save_options(
            request.dbsession,
            school,
            values,
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        request.session.flash(request.t(_("saved", default="Saved.")), "success")
        return request.route_url("attendance.school", school_id=school.id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "attendance_options_title",
            default="Attendance options: ${school}",
            mapping={"school": school.name(request.locale_name)},
        ),
        appstruct={
            "notify_guardian_of_absence": options.notify_guardian_of_absence,
            "version": options.version,
        },
        back_url=request.route_url("attendance.school", school_id=school.id),
    )


# The profile panel.


def _attendance_panel(request, record):
    """Attendance of the year so far, month by month, the rubrics and the incidents."""
    session = request.dbsession
    student = record.student
    year = _year_of(request, record.school)
    figures = None
    if year is not None:
        figures = attendance.student_attendance(
            session, student, year.starts_on, max(min(request.today, year.ends_on), year.starts_on)
        )
    incidents = behaviour.student_incidents(session, student.id)
    return {
        "figures": figures,
        "rubrics": behaviour.student_rubrics(session, student.id),
        "incidents": incidents,
        "areas": AREAS,
        "levels": LEVELS,
        "kinds": INCIDENT_KIND,
        "categories": CATEGORY_LABELS,
        "can_record": request.context.can(P.INCIDENT_RECORD),
        "fmt": _fmt,
        "pct": _percent,
        "rule": attendance.PERCENT_RULE,
    }


profile_panels.register_panel(
    profile_panels.Panel(
        key="attendance",
        title=_("Attendance and behaviour"),
        permission=P.ATTENDANCE_VIEW,
        template="spets:webapp/templates/attendance/panel.pt",
        load=_attendance_panel,
        order=40,
        wide=True,
    )
)
