"""Quarterly subject feedback: a task's sheet, a school's improvement figures, the catalogue.

The sheet is one HTML form for the whole section. Its fields carry peppercorn markers,
so `forms.feedback.SheetSchema` validates the POST as the nested structure an API body
would send. Sign-off happens on the task pages (`task.approve`, `task.return`); the sheet
shows their buttons to the head teacher.
"""

from dataclasses import dataclass, field

import colander
import peppercorn
from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.view import view_config

from spets.forms.feedback import FEEDBACK_KIND, PROGRESS, CatalogueItemSchema, SheetSchema
from spets.i18n import _
from spets.models import FeedbackKind, OrgUnit, Progress, Section, TaskState
from spets.services import feedback, org, tasks
from spets.services.errors import InvalidInput, Locked, NotFound, StaleEdit
from spets.services.scope import Permission as P
from spets.webapp import forms
from spets.webapp.views.common import breadcrumbs_for, form_page

SHEET_TEMPLATE = "spets:webapp/templates/feedback/sheet.pt"
PROGRESS_CHOICES = [(progress.value, PROGRESS[progress]) for progress in Progress]


# The sheet.


@dataclass
class RowState:
    """The values a student's row shows: the saved ones, or those just posted."""

    strengths: set[int] = field(default_factory=set)
    ticked: set[int] = field(default_factory=set)
    actions: dict[int, str] = field(default_factory=dict)
    ratings: dict[int, str] = field(default_factory=dict)
    note: str = ""

    @classmethod
    def from_row(cls, row: feedback.SheetRow) -> "RowState":
        return cls(
            strengths=set(row.strengths),
            ticked=set(row.weaknesses),
            actions=dict(row.weaknesses),
            ratings={p.item_id: p.progress.value for p in row.previous if p.progress},
            note=row.note,
        )


def _as_int(value) -> int | None:
    text = str(value).strip()
    return int(text) if text.isdigit() else None


def _posted_rows(pstruct: dict) -> dict[int, RowState]:
    """Read the posted rows leniently, so a page with errors shows what was typed."""
    states: dict[int, RowState] = {}
    students = pstruct.get("students")
    for student in students if isinstance(students, list) else []:
        if not isinstance(student, dict) or _as_int(student.get("student_id", "")) is None:
            continue
        state = RowState(note=str(student.get("note", "")))
        state.strengths = {_as_int(v) for v in student.get("strengths", [])} - {None}
        for pick in student.get("weaknesses", []):
            item_id = _as_int(pick.get("item_id", "")) if isinstance(pick, dict) else None
            if item_id is not None:
                state.actions[item_id] = str(pick.get("planned_action", ""))
                if pick.get("ticked"):
                    state.ticked.add(item_id)
        for rating in student.get("ratings", []):
            item_id = (
                _as_int(rating.get("previous_item_id", "")) if isinstance(rating, dict) else None
            )
            if item_id is not None and rating.get("progress"):
                state.ratings[item_id] = str(rating["progress"])
        states[_as_int(student["student_id"])] = state
    return states


def _schema_errors(request, invalid: colander.Invalid, pstruct: dict) -> dict[str, list[str]]:
    """Map colander's dotted error keys (``students.3.note``) to ``student-<id>`` rows."""
    students = pstruct.get("students") if isinstance(pstruct.get("students"), list) else []
    errors: dict[str, list[str]] = {}
    for key, message in invalid.asdict(translate=request.localizer.translate).items():
        parts = key.split(".")
        student_id = None
        if parts[0] == "students" and len(parts) > 1 and parts[1].isdigit():
            position = int(parts[1])
            if position < len(students) and isinstance(students[position], dict):
                student_id = _as_int(students[position].get("student_id", ""))
        errors.setdefault(f"student-{student_id}" if student_id else "sheet", []).append(message)
    return errors


def _feedback_sheet(request) -> feedback.Sheet:
    try:
        return feedback.load_sheet(request.dbsession, request.context.task)
    except NotFound:
        raise HTTPNotFound() from None


def _conflict_rows(request, sheet, posted: dict[int, RowState]) -> list[tuple[str, str, str]]:
    """(student, saved meanwhile, your values) for each row whose saved values differ."""
    rows = []
    for row in sheet.rows:
        mine = posted.get(row.student.id)
        saved = RowState.from_row(row)
        theirs_key = (saved.strengths, saved.ticked, saved.note, saved.ratings)
        if mine is None or (mine.strengths, mine.ticked, mine.note, mine.ratings) == theirs_key:
            continue
        describe = _row_summary(request, sheet)
        rows.append((row.student.name(request.locale_name), describe(saved), describe(mine)))
    return rows


def _row_summary(request, sheet):
    locale = request.locale_name
    texts = {item.id: item.text(locale) for item in sheet.strengths + sheet.weaknesses}

    def describe(state: RowState) -> str:
        parts = [texts.get(i, "?") for i in sorted(state.strengths)]
        parts += [f"{texts.get(i, '?')} ({state.actions.get(i, '')})" for i in sorted(state.ticked)]
        if state.note:
            parts.append(state.note)
        return "; ".join(parts) or "—"

    return describe


def _sheet_page(request, sheet, **extra) -> dict:
    """Build the sheet's template values; `extra` may add posted rows, errors and a conflict."""
    task = sheet.task
    context = request.context
    states = {row.student.id: RowState.from_row(row) for row in sheet.rows}
    states.update(extra.pop("posted", {}))
    problems, per_student = feedback.submission_problems(sheet, request.locale_name)
    required = [row for row in sheet.rows if row.still_enrolled]
    complete = [row for row in required if f"student-{row.student.id}" not in per_student]
    school_crumbs = breadcrumbs_for(request, task.school)
    return {
        "page_title": tasks.describe(task, request.locale_name),
        "breadcrumbs": school_crumbs + [(tasks.describe(task, request.locale_name), None)],
        "sheet": sheet,
        "task": task,
        "states": states,
        "editable": sheet.is_editable and context.can(P.TASK_WORK),
        "can_sign_off": task.state == TaskState.SUBMITTED
        and context.can(P.TASK_SIGNOFF)
        and tasks.can_sign_off(request.identity, task),
        "progress_choices": PROGRESS_CHOICES,
        "progress_label": lambda value: request.t(PROGRESS[Progress(value)]),
        "planned_action_label": lambda item: request.t(
            _(
                "planned_action_for",
                default="Planned action for: ${weakness}",
                mapping={"weakness": item.text(request.locale_name)},
            )
        ),
        "complete_count": len(complete),
        "required_count": len(required),
        "version": extra.pop("version", task.version),
        "message": extra.pop("message", None),
        "problems": extra.pop("problems", []),
        "row_errors": extra.pop("row_errors", {}),
        "conflict_rows": extra.pop("conflict_rows", None),
    }


@view_config(
    route_name="feedback.sheet",
    request_method="GET",
    renderer=SHEET_TEMPLATE,
    permission=P.TASK_VIEW,
)
def sheet_view(request):
    return _sheet_page(request, _feedback_sheet(request))


@view_config(
    route_name="feedback.sheet",
    request_method="POST",
    renderer=SHEET_TEMPLATE,
    permission=P.TASK_WORK,
)
def sheet_save(request):
    """Save the sheet as a draft, or save and submit it ("submit" button)."""
    task = request.context.task
    pstruct = peppercorn.parse(list(request.POST.items()))
    try:
        values = SheetSchema().bind(request=request).deserialize(pstruct)
    except colander.Invalid as invalid:
        return _sheet_page(
            request,
            _feedback_sheet(request),
            posted=_posted_rows(pstruct),
            message=_(
                "sheet_not_saved", default="The sheet was not saved: correct the rows marked below."
            ),
            row_errors=_schema_errors(request, invalid, pstruct),
            version=_as_int(pstruct.get("version", "")),
        )

    submitting = "submit" in request.POST
    save = feedback.submit_sheet if submitting else feedback.save_draft
    extra = {"locale": request.locale_name} if submitting else {}
    savepoint = request.dbsession.begin_nested()
    try:
        save(
            request.dbsession,
            task,
            values["students"],
            version=values["version"],
            actor=request.actor,
            now=request.now,
            **extra,
        )
    except feedback.IncompleteSheet as incomplete:
        savepoint.commit()  # the draft part of the save is kept
        return _sheet_page(
            request,
            _feedback_sheet(request),
            message=incomplete.message,
            problems=incomplete.problems,
            row_errors=incomplete.field_errors,
        )
    except StaleEdit as stale:
        savepoint.rollback()
        return _stale_page(request, stale, pstruct)
    except (InvalidInput, Locked) as error:
        savepoint.rollback()
        return _sheet_page(
            request,
            _feedback_sheet(request),
            posted=_posted_rows(pstruct),
            message=error.message,
            row_errors=getattr(error, "field_errors", {}),
            version=values["version"],
        )
    savepoint.commit()

    if submitting:
        flash = _("sheet_submitted", default="Submitted to the head teacher.")
    else:
        flash = _("sheet_saved", default="Draft saved.")
    request.session.flash(request.t(flash), "success")
    return HTTPFound(location=request.route_url("feedback.sheet", task_id=task.id))


def _stale_page(request, stale: StaleEdit, pstruct: dict) -> dict:
    """Show the user's values over the newer sheet, and carry the newer version.

    Saving again then deliberately replaces, for the students sent, what was saved meanwhile.
    """
    sheet = _feedback_sheet(request)
    posted = _posted_rows(pstruct)
    return _sheet_page(
        request,
        sheet,
        conflict_rows=_conflict_rows(request, sheet, posted),
        posted=posted,
        message=_(
            "sheet_stale",
            default="Someone saved this sheet after you opened it, so your changes were not "
            "saved. The rows below show your values; compare them with the values saved "
            "meanwhile, then save again to keep yours.",
        ),
        version=stale.current_version,
    )


# Improvement figures for supervisors.


@view_config(
    route_name="feedback.overview",
    renderer="spets:webapp/templates/feedback/overview.pt",
    permission=P.FEEDBACK_OVERVIEW,
)
def overview(request):
    school = request.context.school
    session = request.dbsession
    runs = [
        run for run in feedback.school_runs(session, school.id) if run.opens_on <= request.today
    ]
    chosen = _as_int(request.params.get("run", ""))
    run = next((r for r in runs if r.id == chosen), runs[0] if runs else None)
    figures = feedback.improvement_overview(session, school, run) if run else None

    section_id = _as_int(request.params.get("section", ""))
    teacher_id = _as_int(request.params.get("teacher", ""))
    details, focus = None, None
    if figures and section_id:
        focus = next((r for r in figures.by_section if r.section.id == section_id), None)
        details = feedback.improvement_details(session, school, run, section_id=section_id)
    elif figures and teacher_id:
        focus = next((r for r in figures.by_teacher if r.teacher.id == teacher_id), None)
        details = feedback.improvement_details(session, school, run, teacher_id=teacher_id)

    return {
        "page_title": request.t(
            _("feedback_overview_title", default="Subject feedback: improvement")
        ),
        "breadcrumbs": breadcrumbs_for(request, school),
        "school": school,
        "runs": runs,
        "run": run,
        "figures": figures,
        "details": details,
        "focus": focus,
        "section_label": lambda section: section_label(request, section),
        "progress_label": lambda value: request.t(PROGRESS[value]),
        "not_rated": _("not_rated_yet", default="not rated yet"),
        "percent": lambda share: "—" if share is None else f"{round(share * 100)}%",
    }


# The catalogue.


def _tenant_subjects(request):
    return org.subjects_of_tenant(request.dbsession, request.identity.tenant_id, active_only=False)


@view_config(
    route_name="feedback.catalogue",
    request_method="GET",
    renderer="spets:webapp/templates/feedback/catalogue.pt",
    permission=P.FEEDBACK_CATALOGUE,
)
def catalogue_list(request):
    subjects = _tenant_subjects(request)
    chosen = _as_int(request.params.get("subject", ""))
    subject = next((s for s in subjects if s.id == chosen), subjects[0] if subjects else None)
    items = (
        feedback.catalogue_of_tenant(request.dbsession, request.identity.tenant_id, subject.id)
        if subject
        else []
    )
    return {
        "page_title": request.t(_("Feedback catalogue")),
        "subjects": subjects,
        "subject": subject,
        "strengths_title": _("Strengths"),
        "weaknesses_title": _("Weaknesses"),
        "strengths": [item for item in items if item.kind == FeedbackKind.STRENGTH],
        "weaknesses": [item for item in items if item.kind == FeedbackKind.WEAKNESS],
    }


@view_config(
    route_name="feedback.catalogue",
    request_method="POST",
    request_param="load_starter",
    permission=P.FEEDBACK_CATALOGUE,
)
def catalogue_load_starter(request):
    tenant = request.dbsession.get(OrgUnit, request.identity.tenant_id)
    added = feedback.add_starter_catalogue(
        request.dbsession, tenant, actor=request.actor, now=request.now
    )
    request.session.flash(
        request.t(
            _(
                "starter_catalogue_loaded",
                default="${count} catalogue items added.",
                mapping={"count": added},
            )
        ),
        "success",
    )
    return HTTPFound(location=request.route_url("feedback.catalogue"))


def _catalogue_page(request, item):
    subjects = _tenant_subjects(request)
    if item is None:
        subject_choices = [
            (str(s.id), s.name(request.locale_name)) for s in subjects if s.is_active
        ]
        kinds = list(FeedbackKind)
    else:
        subject_choices = [
            (str(s.id), s.name(request.locale_name)) for s in subjects if s.id == item.subject_id
        ]
        kinds = [item.kind]
    form = forms.make_form(
        request,
        CatalogueItemSchema(),
        subjects=subject_choices,
        kinds=[(kind.value, FEEDBACK_KIND[kind]) for kind in kinds],
    )

    def save(values):
        saved = feedback.save_catalogue_item(
            request.dbsession,
            tenant_id=request.identity.tenant_id,
            item=item,
            values=values,
            version=values.get("version"),
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("feedback.catalogue", _query={"subject": saved.subject_id})

    if item is None:
        subject_id = _as_int(request.params.get("subject", ""))
        appstruct = {"is_active": True, "kind": FeedbackKind.WEAKNESS, "position": 0}
        if subject_id:
            appstruct["subject_id"] = subject_id
    else:
        appstruct = {name: getattr(item, name) for name in feedback.CATALOGUE_FIELDS}
        appstruct["version"] = item.version
    return form_page(
        request,
        form,
        save,
        title=_("New catalogue item") if item is None else _("Edit catalogue item"),
        appstruct=appstruct,
        back_url=request.route_url("feedback.catalogue"),
    )


@view_config(
    route_name="feedback.catalogue_new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.FEEDBACK_CATALOGUE,
)
def catalogue_new(request):
    return _catalogue_page(request, None)


@view_config(
    route_name="feedback.catalogue_edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.FEEDBACK_CATALOGUE,
)
def catalogue_edit(request):
    item_id = _as_int(request.matchdict.get("item_id", ""))
    try:
        item = feedback.get_catalogue_item(
            request.dbsession, item_id or 0, request.identity.tenant_id
        )
    except NotFound:
        raise HTTPNotFound() from None
    return _catalogue_page(request, item)


# The student profile's panel.

CHART_COLUMN_WIDTH = 84
CHART_BAR_WIDTH = 26
CHART_BAR_MAX = 40
CHART_TOP = 16


@dataclass(frozen=True)
class ChartColumn:
    """One quarter of a subject's chart: bars up for strengths, down for weaknesses."""

    centre: int
    strengths: int
    weaknesses: int
    strength_height: int
    weakness_height: int
    quarter: str
    year: str
    improved: int
    unchanged: int
    worse: int

    @property
    def bar_x(self) -> int:
        return self.centre - CHART_BAR_WIDTH // 2


@dataclass(frozen=True)
class Chart:
    width: int
    columns: list[ChartColumn]
    summary: str
    bar_width: int = CHART_BAR_WIDTH
    axis_y: int = CHART_TOP + CHART_BAR_MAX
    label_y: int = CHART_TOP + 2 * CHART_BAR_MAX + 30
    height: int = CHART_TOP + 2 * CHART_BAR_MAX + 74

    @property
    def rating_y(self) -> int:
        return self.label_y + 30


def history_chart(request, history: feedback.SubjectHistory) -> Chart:
    """Lay out a subject's quarters as an SVG bar chart drawn by the template."""
    quarters = history.quarters
    largest = max([3] + [max(len(q.strengths), len(q.weaknesses)) for q in quarters])
    columns = []
    for position, quarter in enumerate(quarters):
        strengths, weaknesses = len(quarter.strengths), len(quarter.weaknesses)
        columns.append(
            ChartColumn(
                centre=CHART_COLUMN_WIDTH * position + CHART_COLUMN_WIDTH // 2,
                strengths=strengths,
                weaknesses=weaknesses,
                strength_height=round(strengths / largest * CHART_BAR_MAX),
                weakness_height=round(weaknesses / largest * CHART_BAR_MAX),
                quarter=request.t(
                    _(
                        "quarter_short",
                        default="Q${number}",
                        mapping={"number": quarter.quarter_number or "?"},
                    )
                ),
                year=quarter.year_label,
                improved=quarter.ratings_given[Progress.IMPROVED],
                unchanged=quarter.ratings_given[Progress.UNCHANGED],
                worse=quarter.ratings_given[Progress.WORSE],
            )
        )
    summary = request.t(
        _(
            "chart_summary",
            default="${subject}: strengths and weaknesses in each of ${count} quarters.",
            mapping={"subject": history.subject.name(request.locale_name), "count": len(quarters)},
        )
    )
    return Chart(
        width=max(CHART_COLUMN_WIDTH * len(quarters), 160), columns=columns, summary=summary
    )


def profile_panel(request, student_id: int) -> list[tuple[feedback.SubjectHistory, Chart]]:
    """Load the profile's feedback panel: each subject's history with its chart (one query)."""
    return [
        (history, history_chart(request, history))
        for history in feedback.student_history(request.dbsession, student_id)
    ]


def section_label(request, section: Section) -> str:
    return request.t(
        _(
            "section_title",
            default="Grade ${grade} ${name}",
            mapping={"grade": section.grade, "name": section.name},
        )
    )
