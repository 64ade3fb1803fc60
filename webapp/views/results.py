"""Exam results pages: the marks grid, its files, sign-off, history, amendments and settings.

The grid is one HTML form for the whole sheet, saved in one request by
`results.save_marks`. Its cells are named ``mark-<student id>`` and carry the value they
showed when the page loaded in ``was-<student id>``, so a save refused as stale can keep
the user's own edits and take every other cell from the newer version.

A write to a published sheet is checked before any savepoint opens: the service records
the refusal in the audit trail and the view returns a 403 response instead of raising,
so the transaction commits the audit row while nothing else is written.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

import colander
from pyramid.httpexceptions import HTTPForbidden, HTTPFound, HTTPNotFound
from pyramid.renderers import render_to_response
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from spets.forms import vocab
from spets.forms.results import (
    MAX_BANDS,
    REASON_MAX,
    AmendmentSchema,
    DecisionSchema,
    GridError,
    GridPost,
    ResultOptionsSchema,
    SettingsSchema,
    read_bands,
    read_grid,
)
from spets.i18n import _, normalize_digits
from spets.models import (
    Amendment,
    AmendmentState,
    AuditAction,
    CycleKind,
    MarkStatus,
    OrgUnit,
    ResultOptions,
    ResultSheet,
    SheetState,
    Student,
    User,
)
from spets.services import audit, grading, result_files, results
from spets.services.errors import InvalidInput, Locked, StaleEdit
from spets.services.scope import Permission as P
from spets.webapp import forms
from spets.webapp.views.common import breadcrumbs_for, form_page

SHEET_TEMPLATE = "spets:webapp/templates/results/sheet.pt"
AMENDMENT_TEMPLATE = "spets:webapp/templates/results/amendment.pt"
FORM_TEMPLATE = "spets:webapp/templates/form_page.pt"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

AMENDMENT_STATE = {
    AmendmentState.REQUESTED: _("amendment_requested", default="Waiting for a decision"),
    AmendmentState.APPROVED: _("amendment_approved", default="Approved"),
    AmendmentState.REJECTED: _("amendment_rejected", default="Rejected"),
}

STATE_BADGES = {
    SheetState.DRAFT: "secondary",
    SheetState.SUBMITTED: "info",
    SheetState.VERIFIED: "primary",
    SheetState.PUBLISHED: "success",
}


# Names and labels.


def _tenant_id(school: OrgUnit) -> int:
    return school.tenant_id or school.id


def sheet_title(request, sheet: ResultSheet) -> str:
    """Return a sheet's name such as "Monthly assessment (October) · Mathematics · 9-A"."""
    locale = request.locale_name
    return " · ".join(
        (sheet.exam_window.name(locale), sheet.subject.name(locale), sheet.section.label)
    )


def _breadcrumbs(request, sheet: ResultSheet, *extra) -> list:
    crumbs = breadcrumbs_for(request, sheet.section.school)
    crumbs.append(
        (sheet.section.label, request.route_url("results.section", section_id=sheet.section_id))
    )
    if extra:
        crumbs.append(
            (sheet_title(request, sheet), request.route_url("results.sheet", sheet_id=sheet.id))
        )
        crumbs.extend(extra)
    else:
        crumbs.append((sheet_title(request, sheet), None))
    return crumbs


def _mark_key(text: str | None) -> str:
    """Return a typed mark in one spelling, so "۱۲", "12.0" and "12" compare equal."""
    text = normalize_digits(text or "").strip().lower()
    if text in grading.ABSENT_WORDS:
        return "A"
    try:
        return format(Decimal(text.replace(",", ".")).normalize(), "f")
    except ArithmeticError:
        return text


def _same_mark(first: str | None, second: str | None) -> bool:
    return _mark_key(first) == _mark_key(second)


# The grid.


@dataclass
class GridRow:
    """One student's row: the saved mark, and what the cell shows (posted or saved)."""

    student: Student
    status: MarkStatus
    saved: str
    value: str
    loaded: str
    percent: Decimal | None
    grade: str
    error: object = None
    conflict: bool = False


@dataclass
class ConflictRow:
    """A student whose mark someone else saved after the user's page loaded."""

    name: str
    theirs: str
    yours: str
    in_grid: str


def _grid_rows(request, sheet, roll, *, values=None, loaded=None, errors=None, conflicts=()):
    bands = results.bands_of(request.dbsession, _tenant_id(sheet.section.school))
    values, loaded, errors = values or {}, loaded or {}, errors or {}
    rows = []
    for row in roll:
        sid = row.student.id
        percent = grade = None
        if row.status == MarkStatus.ENTERED:
            percent = grading.percent(row.marks, sheet.max_marks)
            grade = grading.grade_for(percent, bands).grade
        rows.append(
            GridRow(
                student=row.student,
                status=row.status,
                saved=row.typed,
                value=values.get(sid, row.typed),
                loaded=loaded.get(sid, row.typed),
                percent=percent,
                grade=grade or "",
                error=errors.get(sid),
                conflict=sid in conflicts,
            )
        )
    return rows


def _grid_page(
    request,
    *,
    values: dict[int, str] | None = None,
    loaded: dict[int, str] | None = None,
    errors: dict | None = None,
    message=None,
    conflict_rows: list[tuple[int, ConflictRow]] | None = None,
    lock_version: int | None = None,
    status: int | None = None,
) -> dict:
    """Build the grid's template values.

    For the students given, `values` replaces what the cells show and `loaded` the value
    each cell records as loaded. `conflict_rows` pairs a student id with what changed.
    """
    context = request.context
    sheet = context.sheet
    session = request.dbsession
    roll = results.roll(session, sheet)
    conflicts = {row_id for row_id, _row in (conflict_rows or [])}
    rows = _grid_rows(
        request, sheet, roll, values=values, loaded=loaded, errors=errors, conflicts=conflicts
    )
    figures = grading.sheet_figures(
        [(row.status, row.marks) for row in roll], sheet.max_marks, sheet.pass_marks
    )
    pending = []
    if sheet.state == SheetState.PUBLISHED:
        pending = session.scalars(
            select(Amendment)
            .options(selectinload(Amendment.student))
            .where(Amendment.sheet_id == sheet.id, Amendment.state == AmendmentState.REQUESTED)
            .order_by(Amendment.requested_at)
        ).all()
    if status is not None:
        request.response.status_int = status
    can_sign_off = context.can(P.TASK_SIGNOFF)
    task = context.task
    return {
        "page_title": sheet_title(request, sheet),
        "breadcrumbs": _breadcrumbs(request, sheet),
        "sheet": sheet,
        "task": task,
        "rows": rows,
        "figures": figures,
        "plain": lambda value: grading.show_mark(MarkStatus.ENTERED, value),
        "state_label": vocab.SHEET_STATE[sheet.state],
        "state_badge": STATE_BADGES[sheet.state],
        "editable": sheet.state == SheetState.DRAFT and context.can(P.TASK_WORK),
        "can_verify": can_sign_off and sheet.state == SheetState.SUBMITTED,
        "can_publish": can_sign_off and sheet.state == SheetState.VERIFIED,
        "can_return": can_sign_off and sheet.state in (SheetState.SUBMITTED, SheetState.VERIFIED),
        "can_amend": sheet.state == SheetState.PUBLISHED and _may_request_amendment(context),
        "task_url": request.route_url("task.view", task_id=task.id)
        if task is not None
        and (context.can(P.TASK_VIEW) or task.assignee_id == request.identity.user_id)
        else None,
        "returned_comment": task.comment
        if task is not None and sheet.state == SheetState.DRAFT and task.comment
        else "",
        "pending_amendments": pending,
        "lock_version": sheet.lock_version if lock_version is None else lock_version,
        "message": message,
        "problems": list((errors or {}).values()),
        "conflict_rows": [row for _row_id, row in (conflict_rows or [])],
    }


def _may_request_amendment(context) -> bool:
    return context.can(P.TASK_WORK) or context.can(P.TASK_SIGNOFF)


def _locked_response(request, error: Locked):
    """Render the sheet with the lock's message and status 403; the audit row still commits."""
    values = _grid_page(request, message=error.message)
    response = render_to_response(SHEET_TEMPLATE, values, request=request)
    response.status_int = 403
    return response


def _locked_write_response(request, path: str, *, drafts_only: bool = True):
    """Return a 403 response when the sheet may not be written through `path`, else None.

    A published sheet refuses every path and the refusal is audited. With `drafts_only`
    (marks, settings, uploads, submission) a submitted or verified sheet refuses too.
    """
    sheet = request.context.sheet
    if sheet.state != SheetState.PUBLISHED and (sheet.state == SheetState.DRAFT or not drafts_only):
        return None
    try:
        results.refuse_if_locked(
            request.dbsession, sheet, path=path, actor=request.actor, now=request.now
        )
    except Locked as error:
        return _locked_response(request, error)
    return None


def _save_grid(request, grid: GridPost, path: str):
    """Save the grid's marks; return the SaveResult, or the page to show instead."""
    refused = _locked_write_response(request, path)
    if refused is not None:
        return refused
    sheet = request.context.sheet
    savepoint = request.dbsession.begin_nested()
    try:
        saved = results.save_marks(
            request.dbsession,
            sheet,
            grid.typed,
            lock_version=grid.lock_version,
            actor=request.actor,
            now=request.now,
            path=path,
        )
    except results.MarkEntryErrors as refused_marks:
        savepoint.rollback()
        return _grid_page(
            request,
            values=grid.typed,
            loaded=grid.loaded,
            errors=refused_marks.errors,
            message=refused_marks.message,
            lock_version=grid.lock_version,
        )
    except StaleEdit:
        savepoint.rollback()
        return _stale_grid(request, grid)
    except (InvalidInput, Locked) as error:
        savepoint.rollback()
        return _grid_page(
            request,
            values=grid.typed,
            loaded=grid.loaded,
            message=error.message,
            lock_version=grid.lock_version,
            status=403 if isinstance(error, Locked) else None,
        )
    savepoint.commit()
    return saved


def _stale_grid(request, grid: GridPost) -> dict:
    """Show the newer sheet with the user's edits on top, and what changed meanwhile.

    A cell the user changed keeps the user's value; any other cell shows the value saved
    meanwhile. The page carries the newer version, so saving again stores what it shows.
    """
    sheet = request.context.sheet
    locale = request.locale_name
    values: dict[int, str] = {}
    conflict_rows: list[tuple[int, ConflictRow]] = []
    for row in results.roll(request.dbsession, sheet):
        sid = row.student.id
        if sid not in grid.typed:
            continue
        mine, was = grid.typed[sid], grid.loaded.get(sid)
        changed_by_me = was is None or not _same_mark(mine, was)
        changed_by_them = was is None or not _same_mark(row.typed, was)
        values[sid] = mine if changed_by_me else row.typed
        if changed_by_them and not _same_mark(row.typed, mine):
            conflict_rows.append(
                (sid, ConflictRow(row.student.name(locale), row.typed, mine, values[sid]))
            )
    if conflict_rows:
        message = _(
            "marks_stale",
            default="Someone saved this sheet after you opened it, so nothing of yours was "
            "saved. The grid now shows the newer marks with your own changes on top; check "
            "the students listed, then save again.",
        )
    else:
        message = _(
            "marks_stale_settings",
            default="Someone changed this sheet after you opened it, so nothing of yours was "
            "saved. No mark was changed meanwhile, but the maximum, pass marks or step may "
            "have been: check them, then save again.",
        )
    return _grid_page(request, values=values, conflict_rows=conflict_rows, message=message)


def _read_grid_or_page(request):
    try:
        return read_grid(request.POST)
    except GridError as error:
        return _grid_page(request, message=error.message)


@view_config(route_name="results.task_sheet", request_method="GET", permission=P.TASK_VIEW)
def task_sheet(request):
    """Open the sheet of a result-entry task, creating it on the first visit."""
    task = request.context.task
    if task.kind != CycleKind.RESULT_ENTRY or task.cycle_run.exam_window_id is None:
        raise HTTPNotFound()
    sheet = results.sheet_for_task(request.dbsession, task, request.now)
    return HTTPFound(location=request.route_url("results.sheet", sheet_id=sheet.id))


@view_config(
    route_name="results.sheet",
    request_method="GET",
    renderer=SHEET_TEMPLATE,
    permission=P.RESULTS_VIEW,
)
def sheet_view(request):
    return _grid_page(request)


@view_config(
    route_name="results.sheet",
    request_method="POST",
    renderer=SHEET_TEMPLATE,
    permission=P.TASK_WORK,
)
def sheet_save(request):
    """Save the whole grid in one request: every mark, or none of them.

    The grid's "save and submit" button posts here too, named "submit".
    """
    if "submit" in request.POST:
        return sheet_submit(request)
    grid = _read_grid_or_page(request)
    if not isinstance(grid, GridPost):
        return grid
    outcome = _save_grid(request, grid, "grid")
    if not isinstance(outcome, results.SaveResult):
        return outcome
    request.session.flash(
        request.t(
            _(
                "marks_saved",
                default="Marks saved: ${changed} changed.",
                mapping={"changed": outcome.changed},
            )
        ),
        "success",
    )
    return HTTPFound(location=request.route_url("results.sheet", sheet_id=request.context.sheet.id))


@view_config(
    route_name="results.submit",
    request_method="POST",
    renderer=SHEET_TEMPLATE,
    permission=P.TASK_WORK,
)
def sheet_submit(request):
    """Save the grid's marks if it sent any, then submit the sheet to the head teacher.

    Marks that saved stay saved when the submission is refused (a mark not entered yet).
    """
    sheet = request.context.sheet
    sheet_url = request.route_url("results.sheet", sheet_id=sheet.id)
    grid = _read_grid_or_page(request)
    if not isinstance(grid, GridPost):
        return grid
    if grid.typed:
        outcome = _save_grid(request, grid, "grid")
        if not isinstance(outcome, results.SaveResult):
            return outcome
        lock_version = outcome.lock_version
    else:
        refused = _locked_write_response(request, "submit")
        if refused is not None:
            return refused
        lock_version = grid.lock_version

    savepoint = request.dbsession.begin_nested()
    try:
        results.submit_sheet(
            request.dbsession,
            sheet,
            actor=request.actor,
            now=request.now,
            lock_version=lock_version,
        )
    except (InvalidInput, Locked, StaleEdit) as error:
        savepoint.rollback()
        if grid.typed:
            request.session.flash(
                request.t(
                    _(
                        "marks_saved_not_submitted",
                        default="Marks saved, but the sheet was not submitted.",
                    )
                ),
                "success",
            )
        request.session.flash(request.t(error.message), "warning")
        return HTTPFound(location=sheet_url)
    savepoint.commit()
    request.session.flash(
        request.t(_("sheet_submitted_flash", default="Submitted to the head teacher.")), "success"
    )
    return HTTPFound(location=sheet_url)


def _sign_off(request, trigger: str, action, done_message):
    """Run one sign-off step on the sheet and come back to it with the outcome."""
    refused = _locked_write_response(request, trigger, drafts_only=False)
    if refused is not None:
        return refused
    sheet = request.context.sheet
    savepoint = request.dbsession.begin_nested()
    try:
        action(sheet)
    except (InvalidInput, Locked, StaleEdit) as error:
        savepoint.rollback()
        request.session.flash(request.t(error.message), "warning")
    else:
        savepoint.commit()
        request.session.flash(request.t(done_message), "success")
    return HTTPFound(location=request.route_url("results.sheet", sheet_id=sheet.id))


@view_config(route_name="results.verify", request_method="POST", permission=P.TASK_SIGNOFF)
def sheet_verify(request):
    def verify(sheet):
        results.verify_sheet(request.dbsession, sheet, actor=request.actor, now=request.now)

    return _sign_off(
        request,
        "verify",
        verify,
        _(
            "sheet_verified_flash",
            default="Verified. Publish the sheet to lock it and show the results.",
        ),
    )


@view_config(route_name="results.publish", request_method="POST", permission=P.TASK_SIGNOFF)
def sheet_publish(request):
    def publish(sheet):
        results.publish_sheet(request.dbsession, sheet, actor=request.actor, now=request.now)

    return _sign_off(
        request,
        "publish",
        publish,
        _(
            "sheet_published_flash",
            default="Published and locked. A change now needs an approved amendment.",
        ),
    )


@view_config(route_name="results.return", request_method="POST", permission=P.TASK_SIGNOFF)
def sheet_return(request):
    comment = str(request.POST.get("comment", "")).strip()
    if len(comment) > REASON_MAX:
        request.session.flash(
            request.t(
                _(
                    "text_too_long",
                    default="Too long: at most ${max} characters.",
                    mapping={"max": REASON_MAX},
                )
            ),
            "warning",
        )
        return HTTPFound(
            location=request.route_url("results.sheet", sheet_id=request.context.sheet.id)
        )

    def send_back(sheet):
        results.return_sheet(
            request.dbsession, sheet, comment, actor=request.actor, now=request.now
        )

    return _sign_off(
        request,
        "return",
        send_back,
        _("sheet_returned_flash", default="Returned to the teacher as a draft."),
    )


# Settings, files and history.


@view_config(route_name="results.settings", renderer=FORM_TEMPLATE, permission=P.TASK_WORK)
def sheet_settings(request):
    sheet = request.context.sheet
    sheet_url = request.route_url("results.sheet", sheet_id=sheet.id)
    if request.method == "POST":
        refused = _locked_write_response(request, "settings")
        if refused is not None:
            return refused
    elif sheet.state != SheetState.DRAFT:
        request.session.flash(
            request.t(
                _(
                    "settings_draft_only",
                    default="The maximum, pass marks and step change only while the sheet is a draft.",
                )
            ),
            "warning",
        )
        return HTTPFound(location=sheet_url)

    form = forms.make_form(request, SettingsSchema())

    def save(values):
        results.update_settings(
            request.dbsession,
            sheet,
            max_marks=values["max_marks"],
            pass_marks=values["pass_marks"],
            step=values["step"],
            lock_version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        request.session.flash(
            request.t(_("settings_saved", default="Sheet settings saved.")), "success"
        )
        return sheet_url

    return form_page(
        request,
        form,
        save,
        title=_(
            "sheet_settings_title",
            default="Settings of ${sheet}",
            mapping={"sheet": sheet_title(request, sheet)},
        ),
        intro=_(
            "sheet_settings_intro",
            default="Marks already typed must still fit: a new maximum or step that would make a typed mark invalid is refused.",
        ),
        appstruct={
            "max_marks": sheet.max_marks,
            "pass_marks": sheet.pass_marks,
            "step": sheet.step,
            "version": sheet.lock_version,
        },
        back_url=sheet_url,
    )


def _download_name(sheet: ResultSheet, extension: str) -> str:
    return f"marks-sheet-{sheet.id}.{extension}"


def _audit_download(request, sheet: ResultSheet, kind: str) -> None:
    audit.record(
        request.dbsession,
        actor=request.actor,
        action=AuditAction.EXPORT,
        entity_type="result_sheet",
        entity_id=sheet.id,
        org_unit_id=sheet.section.school_id,
        reason=f"marks downloaded as {kind}",
        now=request.now,
    )


@view_config(route_name="results.download_csv", permission=P.RESULTS_VIEW)
def download_csv(request):
    sheet = request.context.sheet
    _audit_download(request, sheet, "CSV")
    return Response(
        body=result_files.sheet_csv(request.dbsession, sheet, request.locale_name),
        content_type="text/csv",
        charset="utf-8",
        content_disposition=f'attachment; filename="{_download_name(sheet, "csv")}"',
    )


@view_config(route_name="results.download_xlsx", permission=P.RESULTS_VIEW)
def download_xlsx(request):
    sheet = request.context.sheet
    _audit_download(request, sheet, "XLSX")
    # Excel does not allow these characters in a worksheet's name (openpyxl raises ValueError).
    title = re.sub(r"[\\/?*\[\]:]", " ", f"{sheet.section.label} {sheet.subject.code}")
    return Response(
        body=result_files.sheet_xlsx(request.dbsession, sheet, request.locale_name, title),
        content_type=XLSX_TYPE,
        content_disposition=f'attachment; filename="{_download_name(sheet, "xlsx")}"',
    )


def _upload_page(request, **extra) -> dict:
    sheet = request.context.sheet
    return {
        "page_title": request.t(_("Upload marks")),
        "breadcrumbs": _breadcrumbs(request, sheet, (request.t(_("Upload marks")), None)),
        "sheet": sheet,
        "title": sheet_title(request, sheet),
        "max_mb": request.registry.settings["spets.imports.max_bytes"] / 1_000_000,
        "lock_version": extra.pop("lock_version", sheet.lock_version),
        "message": extra.pop("message", None),
        "problems": extra.pop("problems", []),
    }


def _uploaded_file(request):
    """Return (filename, bytes) of the posted file, reading at most one byte past the limit."""
    upload = request.POST.get("file")
    if upload is None or not hasattr(upload, "file") or not upload.filename:
        return None
    limit = request.registry.settings["spets.imports.max_bytes"]
    return upload.filename, upload.file.read(limit + 1)


@view_config(
    route_name="results.upload",
    renderer="spets:webapp/templates/results/upload.pt",
    permission=P.TASK_WORK,
)
def sheet_upload(request):
    sheet = request.context.sheet
    if request.method != "POST":
        if sheet.state != SheetState.DRAFT:
            request.session.flash(
                request.t(
                    _(
                        "upload_draft_only",
                        default="Marks can be uploaded only while the sheet is a draft.",
                    )
                ),
                "warning",
            )
            return HTTPFound(location=request.route_url("results.sheet", sheet_id=sheet.id))
        return _upload_page(request)

    refused = _locked_write_response(request, "upload")
    if refused is not None:
        return refused
    version = normalize_digits(str(request.POST.get("lock_version", ""))).strip()
    if not version.isdigit():
        return _upload_page(
            request,
            message=_(
                "upload_without_version",
                default="The sheet's version is missing from the form, so the file was not "
                "saved. Open the upload page again and choose the file.",
            ),
        )
    lock_version = int(version)
    uploaded = _uploaded_file(request)
    if uploaded is None:
        return _upload_page(
            request,
            message=_("import_no_file", default="Choose a CSV or XLSX file to upload."),
            lock_version=lock_version,
        )

    savepoint = request.dbsession.begin_nested()
    try:
        rows = result_files.read_file(
            uploaded[0], uploaded[1], max_bytes=request.registry.settings["spets.imports.max_bytes"]
        )
        saved = result_files.save_upload(
            request.dbsession,
            sheet,
            rows,
            lock_version=lock_version,
            actor=request.actor,
            now=request.now,
        )
    except result_files.UploadError as error:
        savepoint.rollback()
        return _upload_page(
            request, message=error.message, problems=error.problems, lock_version=lock_version
        )
    except StaleEdit:
        savepoint.rollback()
        return _upload_page(
            request,
            message=_(
                "upload_stale",
                default="Someone saved marks on this sheet after you opened this page, so the file was not saved. "
                "Look at the sheet, then upload the file again if its marks are still the right ones.",
            ),
        )
    except (InvalidInput, Locked) as error:
        savepoint.rollback()
        return _upload_page(request, message=error.message, lock_version=lock_version)
    savepoint.commit()
    request.session.flash(
        request.t(
            _(
                "upload_saved",
                default="The file's marks are saved: ${changed} changed, ${unchanged} unchanged.",
                mapping={"changed": saved.changed, "unchanged": saved.unchanged},
            )
        ),
        "success",
    )
    return HTTPFound(location=request.route_url("results.sheet", sheet_id=sheet.id))


@dataclass
class HistoryRow:
    student: Student
    cells: list[tuple[str, bool]]  # (mark as shown, changed since the version before)


@view_config(
    route_name="results.history",
    renderer="spets:webapp/templates/results/history.pt",
    permission=P.RESULTS_VIEW,
)
def sheet_history(request):
    """Every published version side by side, and every amendment with its decision."""
    sheet = request.context.sheet
    session = request.dbsession
    versions = results.sheet_history(session, sheet)
    numbers = sorted(versions)
    student_ids = {student_id for marks in versions.values() for student_id in marks}
    students = session.scalars(
        select(Student).where(Student.id.in_(student_ids)).order_by(Student.name_en, Student.id)
    ).all()
    rows = []
    for student in students:
        cells, previous = [], None
        for number in numbers:
            shown = grading.show_mark(*versions[number].get(student.id, (MarkStatus.MISSING, None)))
            cells.append((shown, previous is not None and shown != previous))
            previous = shown
        rows.append(HistoryRow(student, cells))

    amendments = session.scalars(
        select(Amendment)
        .options(selectinload(Amendment.student), selectinload(Amendment.requested_by))
        .where(Amendment.sheet_id == sheet.id)
        .order_by(Amendment.requested_at, Amendment.id)
    ).all()
    decider_ids = {a.decided_by_id for a in amendments if a.decided_by_id}
    deciders = {
        user.id: user for user in session.scalars(select(User).where(User.id.in_(decider_ids)))
    }
    published_on = {1: sheet.published_at}
    published_on.update(
        {a.published_version: a.decided_at for a in amendments if a.published_version}
    )
    return {
        "page_title": request.t(
            _(
                "sheet_history_title",
                default="History of ${sheet}",
                mapping={"sheet": sheet_title(request, sheet)},
            )
        ),
        "breadcrumbs": _breadcrumbs(request, sheet, (request.t(_("History")), None)),
        "sheet": sheet,
        "numbers": numbers,
        "published_on": published_on,
        "rows": rows,
        "amendments": amendments,
        "deciders": deciders,
        "mark": grading.show_mark,
        "amendment_state": AMENDMENT_STATE,
        "can_amend": sheet.state == SheetState.PUBLISHED
        and _may_request_amendment(request.context),
    }


# Amendments.


@view_config(route_name="results.amend", renderer=FORM_TEMPLATE, permission=P.RESULTS_VIEW)
def amend(request):
    """Request a change to one published mark (the sheet's teacher or the head teacher)."""
    context = request.context
    sheet = context.sheet
    if not _may_request_amendment(context):
        raise HTTPForbidden()
    sheet_url = request.route_url("results.sheet", sheet_id=sheet.id)
    if sheet.state != SheetState.PUBLISHED:
        request.session.flash(
            request.t(
                _(
                    "amend_only_published",
                    default="Only a published sheet is amended; a draft is changed directly.",
                )
            ),
            "warning",
        )
        return HTTPFound(location=sheet_url)

    roll = results.roll(request.dbsession, sheet)
    choices = [
        (
            str(row.student.id),
            f"{row.student.name(request.locale_name)} ({row.student.admission_no}) — {row.typed or '—'}",
        )
        for row in roll
    ]
    form = forms.make_form(
        request, AmendmentSchema(), students=choices, button_title=_("Request the change")
    )

    def save(values):
        amendment = results.request_amendment(
            request.dbsession,
            sheet,
            values["student_id"],
            values["marks"],
            values["reason"],
            actor=request.actor,
            now=request.now,
        )
        request.session.flash(
            request.t(
                _(
                    "amendment_requested_flash",
                    default="Change requested. The approver decides it; the sheet's history shows the outcome.",
                )
            ),
            "success",
        )
        return request.route_url("results.amendment", amendment_id=amendment.id)

    chosen = request.params.get("student", "")
    return form_page(
        request,
        form,
        save,
        title=_(
            "amend_title",
            default="Request a change to ${sheet}",
            mapping={"sheet": sheet_title(request, sheet)},
        ),
        intro=_(
            "amend_intro",
            default="A published sheet is locked. Give the new mark and the reason; the head teacher "
            "(or the AEO, when the head teacher is the subject teacher or asks for the change) approves or rejects it, and an approval publishes a new version.",
        ),
        appstruct={"student_id": int(chosen)} if chosen.isdigit() else {},
        back_url=sheet_url,
    )


def _amendment_page(request, *, message=None, comment: str = "", status: int | None = None) -> dict:
    context = request.context
    amendment = context.amendment
    sheet = context.sheet
    session = request.dbsession
    may_decide = amendment.state == AmendmentState.REQUESTED and results.may_decide(
        session, amendment, request.identity
    )
    decider = session.get(User, amendment.decided_by_id) if amendment.decided_by_id else None
    current_status, current_marks = results.current_mark(
        session, amendment.sheet_id, amendment.student_id
    )
    current_is_old = (current_status, current_marks) == (
        amendment.old_status,
        amendment.old_marks,
    )
    if status is not None:
        request.response.status_int = status
    return {
        "page_title": request.t(_("amendment_title", default="Change to a published mark")),
        "breadcrumbs": _breadcrumbs(request, sheet, (request.t(_("Amendment")), None)),
        "amendment": amendment,
        "sheet": sheet,
        "title": sheet_title(request, sheet),
        "old_mark": grading.show_mark(amendment.old_status, amendment.old_marks),
        "new_mark": grading.show_mark(amendment.new_status, amendment.new_marks),
        "current_mark": grading.show_mark(current_status, current_marks),
        # A pending request whose mark was changed since it was made, by another amendment.
        "stale": amendment.state == AmendmentState.REQUESTED and not current_is_old,
        "state_label": AMENDMENT_STATE[amendment.state],
        "decider": decider,
        "may_decide": may_decide,
        "own_request": amendment.requested_by_id == request.identity.user_id,
        "approver_role": vocab.ROLE[
            results.approver_role(session, sheet, amendment.requested_by_id)
        ],
        "message": message,
        "comment": comment,
    }


@view_config(
    route_name="results.amendment",
    request_method="GET",
    renderer=AMENDMENT_TEMPLATE,
    permission=P.RESULTS_VIEW,
)
def amendment_view(request):
    return _amendment_page(request)


@view_config(
    route_name="results.amendment",
    request_method="POST",
    renderer=AMENDMENT_TEMPLATE,
    permission=P.RESULTS_VIEW,
)
def amendment_decide(request):
    """Approve or reject an amendment; anyone but its approver is refused, and audited."""
    amendment = request.context.amendment
    session = request.dbsession
    if not results.may_decide(session, amendment, request.identity):
        audit.record(
            session,
            actor=request.actor,
            action=AuditAction.REFUSED,
            entity_type="amendment",
            entity_id=amendment.id,
            student_id=amendment.student_id,
            org_unit_id=request.context.sheet.section.school_id,
            reason="decision by a user who is not the amendment's approver",
            now=request.now,
        )
        return _amendment_page(
            request,
            message=_(
                "amendment_not_your_decision",
                default="You may not decide this amendment, so nothing was changed.",
            ),
            status=403,
        )

    try:
        values = DecisionSchema().deserialize(dict(request.POST))
    except colander.Invalid as invalid:
        return _amendment_page(
            request,
            message=_(
                "amendment_form_invalid",
                default="The decision was not saved: ${problems}",
                mapping={"problems": "; ".join(invalid.asdict(translate=request.t).values())},
            ),
            comment=str(request.POST.get("comment", ""))[:1000],
        )
    approve = "approve" in request.POST
    savepoint = session.begin_nested()
    try:
        results.decide_amendment(
            session,
            amendment,
            approve,
            values["comment"],
            actor=request.actor,
            now=request.now,
            version=values["version"],
        )
    except (InvalidInput, Locked, StaleEdit) as error:
        savepoint.rollback()
        return _amendment_page(request, message=error.message, comment=values["comment"])
    savepoint.commit()
    done = (
        _(
            "amendment_approved_flash",
            default="Approved: version ${version} of the sheet is published.",
            mapping={"version": amendment.published_version},
        )
        if approve
        else _("amendment_rejected_flash", default="Rejected; the published mark stays as it was.")
    )
    request.session.flash(request.t(done), "success")
    return HTTPFound(location=request.route_url("results.amendments"))


# The results hub and the section overview.


@view_config(
    route_name="results.amendments",
    renderer="spets:webapp/templates/results/amendments.pt",
    permission=P.RESULTS_VIEW,
)
def results_home(request):
    """Show the Results page: amendments to decide, sheets to sign off, own requests, sections."""
    principal = request.identity
    session = request.dbsession
    return {
        "page_title": request.t(_("Results")),
        "to_decide": results.amendments_to_decide(session, principal),
        "to_sign_off": results.sheets_to_sign_off(session, principal),
        "own_requests": results.amendments_requested_by(session, principal.user_id),
        "sections": results.sections_of_teacher(session, principal),
        "title": lambda sheet: sheet_title(request, sheet),
        "mark": grading.show_mark,
        "state_label": lambda sheet: vocab.SHEET_STATE[sheet.state],
        "amendment_state": AMENDMENT_STATE,
        "can_admin": P.RESULTS_ADMIN in principal.permissions_anywhere(),
    }


@view_config(
    route_name="results.section",
    renderer="spets:webapp/templates/results/section.pt",
    permission=P.RESULTS_VIEW,
)
def section_results(request):
    """List each exam window and subject of a section with its sheet's state and figures."""
    section = request.context.section
    rows = results.section_overview(request.dbsession, section, request.locale_name)
    return {
        "page_title": request.t(
            _(
                "section_results_title",
                default="Results of ${section}",
                mapping={"section": section.label},
            )
        ),
        "breadcrumbs": breadcrumbs_for(request, section.school)
        + [
            (section.label, request.route_url("section.view", section_id=section.id)),
            (request.t(_("Results")), None),
        ],
        "section": section,
        "rows": rows,
        "state_label": lambda sheet: vocab.SHEET_STATE[sheet.state],
        "state_badge": lambda sheet: STATE_BADGES[sheet.state],
        "plain": lambda value: grading.show_mark(MarkStatus.ENTERED, value),
        "can_open_task": lambda task: (
            request.context.can(P.TASK_VIEW) or task.assignee_id == request.identity.user_id
        ),
    }


# The student profile's panel.


@dataclass(frozen=True)
class ProfileMark:
    exam: str
    subject: str
    mark: str
    max_marks: str
    percent: Decimal | None
    grade: str
    passed: bool | None


def profile_panel(request, student: Student) -> list[ProfileMark]:
    """Load the profile's marks panel: the latest published mark of each sheet (four queries)."""
    session = request.dbsession
    published = results.published_marks(session, student.id)
    if not published:
        return []
    bands = results.bands_of(session, _tenant_id(student.school))
    locale = request.locale_name
    marks = []
    for sheet, mark in published:
        percent = grade = passed = None
        if mark.status == MarkStatus.ENTERED:
            percent = grading.percent(mark.marks, sheet.max_marks)
            grade = grading.grade_for(percent, bands).grade
            passed = mark.marks >= sheet.pass_marks
        marks.append(
            ProfileMark(
                exam=sheet.exam_window.name(locale),
                subject=sheet.subject.name(locale),
                mark=grading.show_mark(mark.status, mark.marks),
                max_marks=grading.show_mark(MarkStatus.ENTERED, sheet.max_marks),
                percent=percent,
                grade=grade or "",
                passed=passed,
            )
        )
    return marks


# Administration: grade scale and options.


@view_config(
    route_name="results.grade_scale",
    renderer="spets:webapp/templates/results/grade_scale.pt",
    permission=P.RESULTS_ADMIN,
)
def grade_scale(request):
    tenant_id = request.identity.tenant_id
    session = request.dbsession
    page = {
        "page_title": request.t(_("Grade scale")),
        "rows": [
            {
                "grade": band.grade,
                "min_percent": format(band.min_percent.normalize(), "f"),
                "passing": band.passing,
            }
            for band in results.bands_of(session, tenant_id)
        ],
        "max_bands": MAX_BANDS,
        "message": None,
        "row_errors": {},
    }
    if request.method != "POST":
        return page

    bands, row_errors = read_bands(request.POST, translate=lambda message: request.t(message))
    posted = [
        {
            "grade": request.POST.get(f"grade-{number}", ""),
            "min_percent": request.POST.get(f"min_percent-{number}", ""),
            "passing": bool(request.POST.get(f"passing-{number}")),
        }
        for number in range(MAX_BANDS)
    ]
    if row_errors:
        return {
            **page,
            "rows": posted,
            "row_errors": row_errors,
            "message": _(
                "grade_scale_not_saved",
                default="The grade scale was not saved: correct the rows marked below.",
            ),
        }
    savepoint = session.begin_nested()
    try:
        results.save_grade_scale(
            session,
            tenant_id,
            [grading.Band(band["grade"], band["min_percent"], band["passing"]) for band in bands],
            actor=request.actor,
            now=request.now,
        )
    except InvalidInput as error:
        savepoint.rollback()
        return {**page, "rows": posted, "message": error.message}
    savepoint.commit()
    request.session.flash(
        request.t(_("grade_scale_saved", default="Grade scale saved.")), "success"
    )
    return HTTPFound(location=request.route_url("results.grade_scale"))


def _save_options(request, show_class_position: bool, version: int | None) -> None:
    """Store the tenant's result options, refusing a stale copy of the form."""
    session = request.dbsession
    tenant_id = request.identity.tenant_id
    options = session.get(ResultOptions, tenant_id)
    if options is None:
        options = ResultOptions(tenant_id=tenant_id, show_class_position=False)
        session.add(options)
    elif version is not None and version != options.version:
        raise StaleEdit(
            _(
                "stale_edit",
                default="Someone else saved this record after you opened it. Your changes were not saved. Compare the values below, then save again to keep yours.",
            ),
            current_version=options.version,
            differences={"show_class_position": (options.show_class_position, show_class_position)},
        )
    before = options.show_class_position
    options.show_class_position = show_class_position
    session.flush()
    audit.record(
        session,
        actor=request.actor,
        action=AuditAction.UPDATE,
        entity_type="result_options",
        entity_id=tenant_id,
        org_unit_id=tenant_id,
        changes={"show_class_position": {"before": before, "after": show_class_position}},
        now=request.now,
    )


@view_config(route_name="results.options", renderer=FORM_TEMPLATE, permission=P.RESULTS_ADMIN)
def result_options(request):
    options = results.options_of(request.dbsession, request.identity.tenant_id)
    form = forms.make_form(request, ResultOptionsSchema())

    def save(values):
        _save_options(request, values["show_class_position"], values["version"])
        request.session.flash(
            request.t(_("result_options_saved", default="Result options saved.")), "success"
        )
        return request.route_url("results.options")

    return form_page(
        request,
        form,
        save,
        title=_("Result options"),
        appstruct={"show_class_position": options.show_class_position, "version": options.version},
        back_url=request.route_url("admin.home"),
    )
