"""Student imports: upload a file, watch its progress, read the report of bad rows."""

import secrets
import threading
from pathlib import Path

from pyramid.httpexceptions import HTTPFound
from pyramid.response import Response
from pyramid.view import view_config

from spets.i18n import _
from spets.models import ImportStatus
from spets.services import calendar, imports
from spets.services.errors import ServiceError
from spets.services.scope import Permission as P

ACTIVE_STATUSES = (ImportStatus.PENDING, ImportStatus.VALIDATING, ImportStatus.WRITING)


@view_config(route_name="imports.template", permission=P.STUDENT_IMPORT)
def import_template(request):
    return Response(
        body=imports.template_csv(),
        content_type="text/csv",
        charset="utf-8",
        content_disposition='attachment; filename="spets-students-template.csv"',
    )


@view_config(
    route_name="imports.new",
    renderer="spets:webapp/templates/imports/new.pt",
    permission=P.STUDENT_IMPORT,
)
def import_new(request):
    school = request.context.school
    year = calendar.current_year(request.dbsession, school.tenant_id or school.id, request.today)
    page = {
        "page_title": request.t(_("Import students")),
        "school": school,
        "year": year,
        "error": None,
        "max_mb": request.registry.settings["spets.imports.max_bytes"] / 1_000_000,
    }
    if request.method != "POST" or year is None:
        return page

    upload = request.POST.get("file")
    error = _check_upload(request, upload)
    if error is not None:
        return {**page, "error": error}

    job = imports.create_job(
        request.dbsession,
        school=school,
        year=year,
        filename=upload.filename,
        actor=request.actor,
        now=request.now,
    )
    path = _store_upload(request, job.id, upload)
    _start(request, job.id, path)
    return HTTPFound(location=request.route_url("imports.view", job_id=job.id))


def _check_upload(request, upload):
    if upload is None or not hasattr(upload, "file") or not upload.filename:
        return _("import_no_file", default="Choose a CSV or XLSX file to upload.")
    try:
        imports.file_kind(upload.filename)
    except ServiceError as error:
        return error.message
    upload.file.seek(0, 2)
    size = upload.file.tell()
    upload.file.seek(0)
    limit = request.registry.settings["spets.imports.max_bytes"]
    if size > limit:
        return _(
            "import_too_large",
            default="The file is ${size} MB; the limit is ${limit} MB. Split it into smaller files.",
            mapping={"size": f"{size / 1_000_000:.1f}", "limit": f"{limit / 1_000_000:.0f}"},
        )
    if size == 0:
        return _("import_empty", default="The file is empty.")
    return None


def _store_upload(request, job_id: int, upload) -> Path:
    folder = Path(request.registry.settings["spets.var_dir"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(upload.filename).suffix.lower()
    path = folder / f"job-{job_id}-{secrets.token_hex(8)}{suffix}"
    with path.open("wb") as target:
        while chunk := upload.file.read(1 << 20):
            target.write(chunk)
    return path


def _start(request, job_id: int, path: Path) -> None:
    """Run the job after this request commits, in a thread, or at once when configured inline.

    Inline runs serve the test suite, whose session factory shares the request's connection.
    """
    session_factory = request.registry["dbsession_factory"]
    now = request.now

    def run() -> None:
        try:
            imports.run_student_import(session_factory, job_id, path, now=now)
        finally:
            path.unlink(missing_ok=True)

    if request.registry.settings["spets.imports.run_inline"]:
        request.dbsession.flush()
        run()
        return

    def after_commit(succeeded: bool) -> None:
        if succeeded:
            threading.Thread(target=run, name=f"import-{job_id}", daemon=True).start()
        else:
            path.unlink(missing_ok=True)

    request.tm.get().addAfterCommitHook(after_commit)


@view_config(
    route_name="imports.view",
    renderer="spets:webapp/templates/imports/view.pt",
    permission=P.STUDENT_IMPORT,
)
def import_view(request):
    job = request.context.job
    problems = (
        imports.problems_of(request.dbsession, job.id) if job.status == ImportStatus.FAILED else []
    )
    return {
        "page_title": request.t(_("Import of ${name}", mapping={"name": job.filename})),
        "job": job,
        "school": request.context.school,
        "running": job.status in ACTIVE_STATUSES,
        "problems": problems,
        "message": imports.message_from_json(job.message),
        "message_from_json": imports.message_from_json,
        "max_problems": imports.MAX_PROBLEMS,
    }


@view_config(route_name="imports.progress", renderer="json", permission=P.STUDENT_IMPORT)
def import_progress(request):
    job = request.context.job
    live = imports.PROGRESS.get(job.id)
    phase_titles = {
        "validate": _("Checking rows"),
        "check": _("Looking for duplicates"),
        "write": _("Saving students"),
        "pending": _("Waiting to start"),
    }
    phase = live.phase if live else "pending"
    return {
        "status": job.status.value,
        "finished": job.status not in ACTIVE_STATUSES,
        "phase": request.t(phase_titles.get(phase, phase)),
        "done": live.done if live else 0,
        "total": live.total if live else 0,
        "percent": live.percent if live else (100 if job.status not in ACTIVE_STATUSES else 0),
    }
