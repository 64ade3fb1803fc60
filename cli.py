"""The `spets` command: set-up, demo data, imports, the web app and the scheduled work."""

import logging
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import click
from pyramid.paster import get_app, get_appsettings, setup_logging

from spets.db import make_engine, make_session_factory
from spets.workflows.runtime import SCHOOLS_PER_TASK_RUN

log = logging.getLogger(__name__)


class Context:
    def __init__(self, config: str):
        self.config = config
        self.settings = get_appsettings(config)
        self.var_dir = Path(
            self.settings.get("spets.var_dir") or Path(config).resolve().parent / "var"
        )

    def session_factory(self):
        return make_session_factory(make_engine(self.settings))


@click.group()
@click.option(
    "-c",
    "--config",
    default="development.ini",
    show_default=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Ini file with the database and web settings.",
)
@click.pass_context
def main(ctx, config):
    """SPeTS, the Student Performance Tracking System."""
    setup_logging(config)
    ctx.obj = Context(config)


@main.command()
@click.pass_obj
def setup(obj: Context):
    """Create or upgrade the database schema to the latest migration."""
    from alembic import command
    from alembic.config import Config

    obj.var_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(Config(obj.config), "head")
    click.echo("Database is at the latest migration.")


@main.group()
def demo():
    """Demo data: one school in Multan from public data, and staff accounts."""


@demo.command("load")
@click.pass_obj
def demo_load(obj: Context):
    """Load the demo into an empty database and print the staff accounts."""
    from spets.demo.load import is_loaded, load_demo, write_accounts

    factory = obj.session_factory()
    with factory() as session, session.begin():
        if is_loaded(session):
            click.echo("The demo is already loaded.")
            return
        summary = load_demo(session, datetime.now(UTC))
    write_accounts(summary.accounts, obj.var_dir / "demo-accounts.txt")
    click.echo(f"Loaded {summary.students} students.")
    _print_accounts(obj)


def _print_accounts(obj: Context) -> None:
    from spets.demo.load import read_accounts

    accounts = read_accounts(obj.var_dir / "demo-accounts.txt")
    if not accounts:
        return
    click.echo("\nDemo accounts (username / password / role / where):")
    for account in accounts:
        click.echo(
            f"  {account.username:<24} {account.password:<14} {account.role:<13} {account.where}"
        )


@demo.command("run")
@click.option(
    "--prefect-port",
    default=4200,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port of the local Prefect server and its UI, on 127.0.0.1.",
)
@click.option(
    "--web-only", is_flag=True, help="Serve the web app alone, without Prefect and the worker."
)
@click.pass_context
def demo_run(ctx, prefect_port: int, web_only: bool):
    """Migrate, load the demo if the database is empty, and run the app with its scheduled work.

    Starts a local Prefect server on SQLite (its files in var/prefect), waits until it is
    healthy, then starts the worker that serves the scheduled flows and the web app. Ctrl+C
    stops the web app, the worker and the server, in that order.
    """
    from spets.workflows.local_stack import LocalStack, StackError, run_local_stack

    obj: Context = ctx.obj
    ctx.invoke(setup)
    ctx.invoke(demo_load)
    if web_only:
        ctx.invoke(serve)
        return
    stack = LocalStack(
        config=Path(obj.config).resolve(),
        var_dir=obj.var_dir,
        web_address=_web_address(obj),
        prefect_port=prefect_port,
        echo=click.echo,
    )
    try:
        status = run_local_stack(stack)
    except StackError as error:
        raise click.ClickException(str(error)) from error
    if status:
        sys.exit(status)


def _web_address(obj: Context) -> str:
    """Return host:port of the first address in [server:main] listen, for local connections."""
    from plaster import get_settings

    listen = get_settings(obj.config, "server:main").get("listen", "127.0.0.1:6543")
    host, _, port = listen.split()[0].rpartition(":")
    if host in ("", "*", "0.0.0.0", "[::]"):  # noqa: S104 - mapping a wildcard to loopback
        host = "127.0.0.1"
    return f"{host}:{port}"


@main.command()
@click.option(
    "--listen",
    default=None,
    metavar="HOST:PORT",
    help="Address to serve on, instead of listen in [server:main]; "
    "lets several web processes share one ini file.",
)
@click.pass_obj
def serve(obj: Context, listen: str | None):
    """Serve the web app with waitress, as [server:main] of the ini file sets."""
    import waitress
    from plaster import get_settings

    server = get_settings(obj.config, "server:main")
    listen = listen or server.get("listen", "127.0.0.1:6543")
    _print_accounts(obj)
    click.echo(f"\nSPeTS is served at http://{listen}/  (stop with Ctrl+C)")
    app = get_app(obj.config, "main")
    waitress.serve(
        app,
        listen=listen,
        threads=int(server.get("threads", 8)),
        max_request_body_size=int(server.get("max_request_body_size", 25_000_000)),
    )


# Scheduled work: the Prefect worker, work-pool deployments and the simulation.


def _prefect_environment(obj: Context) -> None:
    """Set Prefect's offline defaults and SPETS_CONFIG; call before Prefect is imported."""
    from spets.workflows.runtime import CONFIG_ENV, quiet_prefect_environment

    quiet_prefect_environment(obj.var_dir / "prefect")
    os.environ[CONFIG_ENV] = str(Path(obj.config).resolve())


def _require_prefect_server() -> str:
    """Return the API URL of the Prefect server, or fail when it is unset or unhealthy."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    if not api_url:
        raise click.ClickException(
            "PREFECT_API_URL is not set: start a Prefect server (`prefect server start`) and "
            "set PREFECT_API_URL to its API, e.g. http://127.0.0.1:4200/api."
        )
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise click.ClickException(
            f"The Prefect server at {api_url} is not healthy ({error}): start it or correct "
            "PREFECT_API_URL."
        ) from error
    return api_url


@main.command()
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Maximum number of flow runs executing at once (default: no limit).",
)
@click.pass_obj
def worker(obj: Context, limit: int | None):
    """Serve the scheduled flows from this process until SIGTERM or Ctrl+C.

    Needs a running Prefect server: set PREFECT_API_URL to its API, e.g.
    http://127.0.0.1:4200/api. Serves every deployment of workflows/deployments.py (the
    calendar tick, escalations, referral follow-up, reminders, outbox delivery, attendance
    and parents' flows) on its schedule in Karachi time. Flow runs read the ini file given
    with -c.
    """
    _prefect_environment(obj)
    api_url = _require_prefect_server()
    from spets.workflows import deployments

    # httpx logs every poll of the server at INFO; flow runs log through Prefect's own logger.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    click.echo(f"Serving {', '.join(deployments.deployment_names())} from {api_url}")
    deployments.serve_deployments(limit=limit)


@main.command()
@click.option(
    "--work-pool",
    required=True,
    help="Name of a process work pool on the Prefect server "
    "(create it with `prefect work-pool create NAME --type process`).",
)
@click.pass_obj
def deploy(obj: Context, work_pool: str):
    """Register the scheduled flows with a work pool, for `prefect worker start` processes.

    Needs PREFECT_API_URL. Each worker process needs SPETS_CONFIG (the ini file) and the
    database settings in its environment; flow runs import the flows from the installed
    spets package.
    """
    _prefect_environment(obj)
    api_url = _require_prefect_server()
    from spets.workflows import deployments

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per API request
    names = deployments.apply_to_work_pool(work_pool)
    click.echo(f"Deployed {', '.join(names)} to work pool {work_pool!r} at {api_url}.")


class DateType(click.ParamType):
    """A calendar date written YYYY-MM-DD or dd/mm/yyyy."""

    name = "date"
    FORMATS = ("%Y-%m-%d", "%d/%m/%Y")

    def convert(self, value, param, ctx):
        if isinstance(value, date):
            return value
        for pattern in self.FORMATS:
            try:
                return datetime.strptime(value, pattern).date()
            except ValueError:
                continue
        self.fail(f"{value!r} is not a date: write YYYY-MM-DD or dd/mm/yyyy.", param, ctx)


@main.command()
@click.option("--from", "first", required=True, type=DateType(), help="First day to run.")
@click.option("--to", "last", required=True, type=DateType(), help="Last day to run (included).")
@click.option(
    "--batch-size",
    default=SCHOOLS_PER_TASK_RUN,
    show_default=True,
    type=click.IntRange(min=1),
    help="Schools per task run.",
)
@click.option("--verbose", is_flag=True, help="Show Prefect's and the services' INFO logs.")
@click.pass_obj
def simulate(obj: Context, first: date, last: date, batch_size: int, verbose: bool):
    """Run the daily engine for each day from --from to --to as real Prefect flow runs.

    Each day, in Karachi time: the calendar tick at 00:15, escalations at 00:30, reminders
    at the reminder hour of each active cycle, and outbox delivery a minute after each.
    The database of the ini file is changed and messages are really sent as the ini file
    sets (e-mail only when spets.smtp.host is set).

    With PREFECT_API_URL set, the flow runs go to that server and appear in its UI.
    Without it, Prefect's ephemeral mode starts a temporary Prefect server for this
    command alone, with its database in var/prefect/simulate.db, and stops it at the end.
    """
    _prefect_environment(obj)
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_ENABLED", "true")
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
        os.environ.setdefault(
            "PREFECT_SERVER_DATABASE_CONNECTION_URL",
            f"sqlite+aiosqlite:///{obj.var_dir / 'prefect' / 'simulate.db'}",
        )
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        logging.getLogger("spets").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)
    (obj.var_dir / "prefect").mkdir(parents=True, exist_ok=True)

    from spets.workflows import simulate as simulation

    try:
        days = simulation.days_between(first, last)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--to") from error
    hours = simulation.reminder_hours()
    if not hours:
        click.echo("No active cycle definition: the days will open no tasks.", err=True)

    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    summary = simulation.SimulationSummary()
    started = time.monotonic()
    # Heartbeats let a server notice a crashed flow run; these runs live in this process.
    with (
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        click.progressbar(
            days,
            label="Simulating",
            item_show_func=lambda day: day.strftime("%d/%m/%Y") if day else "",
        ) as bar,
    ):
        for day in bar:
            simulation.simulate_day(day, hours, summary, batch_size=batch_size)
    _print_simulation(summary, first, last, time.monotonic() - started)


def _print_simulation(summary, first: date, last: date, seconds: float) -> None:
    sent = ", ".join(f"{channel} {count}" for channel, count in sorted(summary.sent.items()))
    click.echo(
        f"\nSimulated {summary.days} day{'' if summary.days == 1 else 's'} "
        f"({first:%d/%m/%Y} to {last:%d/%m/%Y}) in "
        f"{summary.flow_runs} flow runs, {seconds:.0f} s."
    )
    rows = [
        ("Cycle runs opened", f"{summary.runs_opened} (closed: {summary.runs_closed})"),
        ("Tasks opened", f"{summary.tasks_opened} (cancelled: {summary.tasks_cancelled})"),
        (
            "Reminders",
            f"{summary.reminders} (messages queued: {summary.reminder_messages})",
        ),
        (
            "Escalations",
            f"{summary.escalations} (messages queued: {summary.escalation_messages}, "
            f"without a recipient: {summary.unreachable})",
        ),
        ("Messages sent", sent or "none"),
        (
            "Messages not sent",
            f"{summary.failed} failed and waiting for a retry, {summary.gave_up} given up",
        ),
    ]
    for label, value in rows:
        click.echo(f"  {label + ':':<20} {value}")


@main.group(name="import")
def import_group():
    """Import records from CSV or XLSX files."""


@import_group.command("students")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--school", "school_code", required=True, help="EMIS code of the school.")
@click.pass_obj
def import_students(obj: Context, path: Path, school_code: str):
    """Import students with their guardians from PATH into a school, all rows or none."""
    from sqlalchemy import select

    from spets.models import OrgKind, OrgUnit
    from spets.services import calendar, imports
    from spets.services.audit import Actor

    factory = obj.session_factory()
    now = datetime.now(UTC)
    with factory() as session, session.begin():
        school = session.scalar(
            select(OrgUnit).where(OrgUnit.kind == OrgKind.SCHOOL, OrgUnit.code == school_code)
        )
        if school is None:
            raise click.ClickException(f"No school with EMIS code {school_code!r}.")
        year = calendar.current_year(session, school.tenant_id, calendar.local_today(now))
        if year is None:
            raise click.ClickException(
                "No academic year covers today; add it to the calendar first."
            )
        job = imports.create_job(
            session, school=school, year=year, filename=path.name, actor=Actor.system(), now=now
        )
        job_id = job.id

    with click.progressbar(length=100, label="Importing") as bar:
        shown = {"value": 0}

        def progress(phase: str, done: int, total: int) -> None:
            weights = {"validate": (0, 60), "check": (60, 5), "write": (65, 35)}
            start, span = weights.get(phase, (0, 0))
            value = start + (span * done // total if total else span)
            bar.update(max(value - shown["value"], 0))
            shown["value"] = max(value, shown["value"])

        job = imports.run_student_import(factory, job_id, path, now=now, progress=progress)

    if job.status.value == "succeeded":
        click.echo(f"Imported {job.rows_written} students.")
        return
    with factory() as session:
        problems = imports.problems_of(session, job_id)
    message = imports.message_from_json(job.message)
    if message:
        click.echo(_english(message), err=True)
    for problem in problems:
        text = _english(imports.message_from_json(problem.message))
        click.echo(
            f"row {problem.row_number}, column {problem.column}, value {problem.value!r}: {text}",
            err=True,
        )
    click.echo(
        f"Nothing was saved: {job.problem_count} problems in {job.rows_total} rows.", err=True
    )
    sys.exit(1)


@main.group(name="health")
def health_group():
    """Health tools: WHO 2007 growth z-scores for a spreadsheet of measurements."""


@health_group.command("zscores")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def health_zscores(source: Path, target: Path):
    """Add BMI and WHO 2007 z-scores to a CSV file of measurements of children aged 5 to 19.

    SOURCE needs the columns sex (M or F), date_of_birth and measured_on (YYYY-MM-DD or
    dd/mm/yyyy), weight_kg and height_cm; other columns are copied as they are. TARGET gets
    age_months, bmi, bmi_for_age_z, height_for_age_z, weight_for_age_z (up to 120 months),
    classification and the implausible-value flags, rounded to two decimals. A row that
    cannot be read is skipped and reported with its line number; the exit status is then 1.
    """
    from spets.services import growth

    if source.resolve() == target.resolve():
        raise click.BadParameter(
            "write the result to another file than SOURCE", param_hint="TARGET"
        )
    try:
        report = growth.convert_file(source, target)
    except (growth.CsvFileError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{source}: {error}") from error
    for line in growth.lines_of(report):
        click.echo(line, err=True)
    click.echo(f"Wrote {report.written} rows to {target}; skipped {len(report.skipped)}.")
    if report.skipped:
        sys.exit(1)


def _english(message) -> str:
    """Return a translation string in English, with its values filled in."""
    return message.interpolate() if hasattr(message, "interpolate") else str(message)


if __name__ == "__main__":
    main()
