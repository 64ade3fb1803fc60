"""The `spets` command: set-up, demo data, imports and serving the web app."""

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from pyramid.paster import get_app, get_appsettings, setup_logging

from spets.db import make_engine, make_session_factory

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
@click.pass_context
def demo_run(ctx):
    """Migrate, load the demo if the database is empty, and serve the web app."""
    ctx.invoke(setup)
    ctx.invoke(demo_load)
    ctx.invoke(serve)


@main.command()
@click.pass_obj
def serve(obj: Context):
    """Serve the web app with waitress, as [server:main] of the ini file sets."""
    import waitress
    from plaster import get_settings

    server = get_settings(obj.config, "server:main")
    listen = server.get("listen", "127.0.0.1:6543")
    _print_accounts(obj)
    click.echo(f"\nSPeTS is served at http://{listen}/  (stop with Ctrl+C)")
    app = get_app(obj.config, "main")
    waitress.serve(
        app,
        listen=listen,
        threads=int(server.get("threads", 8)),
        max_request_body_size=int(server.get("max_request_body_size", 25_000_000)),
    )


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


def _english(message) -> str:
    """Return a translation string in English, with its values filled in."""
    return message.interpolate() if hasattr(message, "interpolate") else str(message)


if __name__ == "__main__":
    main()
