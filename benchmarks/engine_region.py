"""Benchmark the cycle engine at the size of South Punjab on PostgreSQL.

Builds a region of 17,000 schools, 100,000 sections and 8 subjects per section (800,000
teaching assignments), then measures:

1. opening a quarter (`services.cycles.tick`, school batch by school batch) against a
   plain ``INSERT ... SELECT`` of the same 800,000 task rows into the same table;
2. a reminder sweep and an escalation sweep over 1,000,000 tasks: the query plans, and
   the selection of due tasks with the partial indexes against a full scan;
3. the share of Prefect's own overhead in a tick run as a flow, against the same work
   called directly;
4. recounting the due dates of the 800,000 open tasks after a closure of the whole
   province is announced a week into the quarter.

Run: ``.venv/bin/python benchmarks/engine_region.py`` (about 10 to 20 minutes on two cores).
Results go to benchmarks/results/engine_region.json.
"""

import argparse
import json
import os
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "SPETS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
KARACHI = ZoneInfo("Asia/Karachi")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


@contextmanager
def timed(results: dict, name: str):
    start = time.perf_counter()
    yield
    results[name] = round(time.perf_counter() - start, 3)
    print(f"{name:<40} {results[name]:>9.3f} s", flush=True)


def create_database() -> tuple[str, str]:
    name = f"spets_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return name, sa.engine.make_url(ADMIN_URL).set(database=name).render_as_string(
        hide_password=False
    )


def drop_database(name: str) -> None:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def migrate(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    os.environ["SPETS_DATABASE_URL"] = url
    command.upgrade(Config(str(ROOT / "testing.ini")), "head")


def build_region(
    session, now: datetime, schools: int, sections: int, subjects_per_section: int
) -> dict:
    """Create the org tree, calendar, staff and teaching assignments with set-based SQL."""
    from spets.models import OrgKind
    from spets.services import calendar, cycles, org
    from spets.services.audit import Actor
    from spets.services.auth import hash_password
    from spets.services.starter import add_starter_subjects

    system = Actor.system()
    tenant = org.create_unit(
        session,
        parent=None,
        kind=OrgKind.PROVINCE,
        code="PB",
        name_en="Punjab",
        name_ur="پنجاب",
        actor=system,
        now=now,
    )
    divisions = [
        org.create_unit(
            session,
            parent=tenant,
            kind=OrgKind.DIVISION,
            code=f"DIV{i}",
            name_en=f"Division {i}",
            name_ur="ڈویژن",
            actor=system,
            now=now,
        )
        for i in range(3)
    ]
    districts = [
        org.create_unit(
            session,
            parent=divisions[i % 3],
            kind=OrgKind.DISTRICT,
            code=f"DST{i}",
            name_en=f"District {i}",
            name_ur="ضلع",
            actor=system,
            now=now,
        )
        for i in range(11)
    ]
    for i in range(40):
        org.create_unit(
            session,
            parent=districts[i % 11],
            kind=OrgKind.TEHSIL,
            code=f"TEH{i}",
            name_en=f"Tehsil {i}",
            name_ur="تحصیل",
            actor=system,
            now=now,
        )
    session.flush()
    connection = session.connection()
    markaz_count = 1000
    connection.exec_driver_sql(
        """
        WITH new AS (
            SELECT nextval(pg_get_serial_sequence('org_units', 'id')) AS id, g,
                   t.id AS parent_id, t.path AS parent_path
            FROM generate_series(0, %(markaz)s - 1) g
            JOIN (SELECT id, path, row_number() OVER (ORDER BY id) - 1 AS n FROM org_units WHERE kind = 'tehsil') t
              ON t.n = g %% 40
        )
        INSERT INTO org_units (id, kind, code, name_en, name_ur, parent_id, tenant_id, path, timezone, is_active, version)
        SELECT id, 'markaz', 'MKZ' || g, 'Markaz ' || g, 'مرکز', parent_id, %(tenant)s, parent_path || id || '/', 'Asia/Karachi', true, 1
        FROM new
        """,
        {"markaz": markaz_count, "tenant": tenant.id},
    )
    connection.exec_driver_sql(
        """
        WITH new AS (
            SELECT nextval(pg_get_serial_sequence('org_units', 'id')) AS id, g,
                   m.id AS parent_id, m.path AS parent_path
            FROM generate_series(0, %(schools)s - 1) g
            JOIN (SELECT id, path, row_number() OVER (ORDER BY id) - 1 AS n FROM org_units WHERE kind = 'markaz') m
              ON m.n = g %% %(markaz)s
        )
        INSERT INTO org_units (id, kind, code, name_en, name_ur, parent_id, tenant_id, path, timezone, is_active, version)
        SELECT id, 'school', 'S' || g, 'School ' || g, 'اسکول', parent_id, %(tenant)s, parent_path || id || '/', 'Asia/Karachi', true, 1
        FROM new
        """,
        {"schools": schools, "markaz": markaz_count, "tenant": tenant.id},
    )

    today = calendar.local_today(now)
    year = calendar.create_year(
        session, tenant, calendar.start_year_of(today), actor=system, now=now
    )
    subjects = add_starter_subjects(session, tenant, actor=system, now=now)[:subjects_per_section]
    cycles.add_default_definitions(session, tenant, actor=system, now=now)
    session.flush()

    password = hash_password("benchmark-only-password")
    teachers = sections * subjects_per_section // 8  # each teacher takes eight section-subjects
    connection.exec_driver_sql(
        """
        INSERT INTO users (username, password_hash, display_name, display_name_ur, locale, tenant_id, is_active, created_at, version)
        SELECT 'teacher' || g, %(hash)s, 'Teacher ' || g, '', 'en', %(tenant)s, true, %(now)s, 1
        FROM generate_series(0, %(teachers)s - 1) g
        """,
        {"hash": password, "tenant": tenant.id, "now": now, "teachers": teachers},
    )
    connection.exec_driver_sql(
        """
        WITH school AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM org_units WHERE kind = 'school')
        INSERT INTO sections (school_id, academic_year_id, grade, name, version)
        SELECT school.id, %(year)s, 1 + (g / %(schools)s) %% 12, 'S' || g, 1
        FROM generate_series(0, %(sections)s - 1) g JOIN school ON school.n = g %% %(schools)s
        """,
        {"year": year.id, "schools": schools, "sections": sections},
    )
    subject_ids = [subject.id for subject in subjects]
    connection.exec_driver_sql(
        """
        WITH s AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM sections),
             t AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM users WHERE username LIKE 'teacher%%'),
             subject AS (SELECT unnest(%(subjects)s::int[]) AS id, generate_subscripts(%(subjects)s::int[], 1) - 1 AS k)
        INSERT INTO teaching_assignments (section_id, subject_id, teacher_id, valid_from)
        SELECT s.id, subject.id, t.id, %(starts)s
        FROM s CROSS JOIN subject JOIN t ON t.n = (s.n * %(per)s + subject.k) / 8
        """,
        {"subjects": subject_ids, "starts": year.starts_on, "per": subjects_per_section},
    )
    connection.exec_driver_sql(
        """
        INSERT INTO users (username, password_hash, display_name, display_name_ur, locale, tenant_id, is_active, created_at, version)
        SELECT 'head' || id, %(hash)s, 'Head ' || id, '', 'en', %(tenant)s, true, %(now)s, 1
        FROM org_units WHERE kind = 'school'
        """,
        {"hash": password, "tenant": tenant.id, "now": now},
    )
    connection.exec_driver_sql(
        """
        INSERT INTO role_assignments (user_id, role, org_unit_id, valid_from, created_at)
        SELECT u.id, 'head_teacher', o.id, %(starts)s, %(now)s
        FROM org_units o JOIN users u ON u.username = 'head' || o.id WHERE o.kind = 'school'
        """,
        {"starts": year.starts_on, "now": now},
    )
    session.commit()
    connection = session.connection()
    counts = {
        name: connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
        for name, table in (
            ("schools", "org_units WHERE kind = 'school'"),
            ("sections", "sections"),
            ("teaching_assignments", "teaching_assignments"),
        )
    }
    print(f"region: {counts}", flush=True)
    return counts


BASELINE_SQL = """
INSERT INTO tasks (cycle_run_id, schedule_id, kind, target_type, target_id, school_id, section_id, subject_id,
                   assignee_id, opens_on, due_on, due_at, state, escalation_level, reminders_sent,
                   next_reminder_at, next_escalation_at, submitted_late, comment, created_at, version)
SELECT %(run)s, %(schedule)s, 'quarterly_feedback', 'teaching_assignment', ta.id, s.school_id, s.id, ta.subject_id,
       ta.teacher_id, %(opens)s, %(due)s, %(due_at)s, 'open', 0, 0, %(reminder)s, %(escalation)s, false, '', %(now)s, 1
FROM teaching_assignments ta JOIN sections s ON s.id = ta.section_id
"""


def measure_opening(session_factory, now: datetime, results: dict) -> None:
    from sqlalchemy import select

    from spets.models import CycleDefinition, OrgUnit
    from spets.services import cycles
    from spets.services.schedules import TenantCalendar
    from spets.workflows.runtime import SCHOOLS_PER_TASK_RUN

    # The baseline needs a run and a schedule to point at: make them with the services.
    with session_factory() as session:
        definition = session.scalars(select(CycleDefinition)).one()
        tenant = session.get(OrgUnit, definition.tenant_id)
        period = cycles.due_periods(session, definition, now.astimezone(KARACHI).date())[0]
        run = cycles.open_run(session, definition, period, now)
        school = session.scalars(select(OrgUnit).where(OrgUnit.kind == "school").limit(1)).one()
        calendar = TenantCalendar.load(session, tenant, run.opens_on)
        signature, days = calendar.school_days(school.path)
        from spets.services.schedules import get_or_create_schedule

        schedule = get_or_create_schedule(
            session, definition, run.opens_on, signature, days, calendar.zone, now
        )
        params = {
            "run": run.id,
            "schedule": schedule.id,
            "opens": run.opens_on,
            "due": schedule.due_on,
            "due_at": schedule.due_at,
            "reminder": schedule.steps[0].at,
            "escalation": schedule.due_at,
            "now": now,
        }
        session.commit()

    with session_factory() as session:
        connection = session.connection()
        connection.exec_driver_sql("ANALYZE")
        with timed(results, "baseline_insert_select"):
            connection.exec_driver_sql(BASELINE_SQL, params)
            session.commit()
        results["baseline_rows"] = (
            session.connection().exec_driver_sql("SELECT count(*) FROM tasks").scalar()
        )
        session.connection().exec_driver_sql("TRUNCATE tasks CASCADE")
        session.commit()
    with session_factory() as session:
        with timed(results, "open_quarter_tick"):
            tick = cycles.tick(session, now, batch_size=SCHOOLS_PER_TASK_RUN)
            session.commit()
        results["tick_tasks_created"] = tick.tasks_created
    results["open_ratio_to_insert_select"] = round(
        results["open_quarter_tick"] / results["baseline_insert_select"], 2
    )


def add_other_tasks(session_factory, now, total: int) -> None:
    """Top the task table up to `total` rows with tasks of the previous quarter, already approved."""
    with session_factory() as session:
        connection = session.connection()
        have = connection.exec_driver_sql("SELECT count(*) FROM tasks").scalar()
        missing = total - have
        if missing <= 0:
            return
        connection.exec_driver_sql(
            """
            INSERT INTO tasks (cycle_run_id, schedule_id, kind, target_type, target_id, school_id, section_id, subject_id,
                               assignee_id, opens_on, due_on, due_at, state, escalation_level, reminders_sent,
                               next_reminder_at, next_escalation_at, submitted_late, comment, created_at, version)
            SELECT cycle_run_id, schedule_id, kind, 'archived', id, school_id, section_id, subject_id, assignee_id,
                   opens_on, due_on, due_at, 'approved', 0, 2, NULL, NULL, false, '', created_at, 1
            FROM tasks ORDER BY id LIMIT %(missing)s
            """,
            {"missing": missing},
        )
        connection.exec_driver_sql("ANALYZE tasks")
        session.commit()


def explain(connection, sql: str, params: dict) -> str:
    rows = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).all()
    return "\n".join(row[0] for row in rows)


DUE_SQL = "SELECT id FROM tasks WHERE {column} <= %(now)s AND state IN ('open', 'in_progress', 'returned')"


def measure_sweeps(session_factory, results: dict) -> None:
    from spets.services import engine

    plans = {}
    # Each selection is timed twice and the faster run kept, so a cold cache favours neither.
    for kind, column, at in (
        ("reminder_quiet_hour", "next_reminder_at", local(2026, 10, 2, 10, 0)),
        ("reminder_day", "next_reminder_at", local(2026, 10, 9, 9, 0)),
        ("escalation_day", "next_escalation_at", local(2026, 10, 14, 0, 30)),
    ):
        with session_factory() as session:
            connection = session.connection()
            sql = DUE_SQL.format(column=column)
            plans[f"{kind}_index"] = explain(connection, sql, {"now": at})
            connection.exec_driver_sql(sql, {"now": at}).all()
            with timed(results, f"{kind}_select_with_index"):
                due = len(connection.exec_driver_sql(sql, {"now": at}).all())
            connection.exec_driver_sql("SET LOCAL enable_indexscan = off")
            connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            plans[f"{kind}_full_scan"] = explain(connection, sql, {"now": at})
            connection.exec_driver_sql(sql, {"now": at}).all()
            with timed(results, f"{kind}_select_full_scan"):
                connection.exec_driver_sql(sql, {"now": at}).all()
            session.rollback()
        results[f"{kind}_due_tasks"] = due
        results[f"{kind}_select_ratio_index_to_full_scan"] = round(
            results[f"{kind}_select_with_index"] / max(results[f"{kind}_select_full_scan"], 1e-6), 4
        )

        sweep = (
            engine.sweep_escalations if kind.startswith("escalation") else engine.sweep_reminders
        )
        with session_factory() as session:
            with timed(results, f"{kind}_sweep"):
                outcome = sweep(session, at)
                session.commit()
            results[f"{kind}_sweep_steps"] = outcome.steps
    results["plans"] = plans


def measure_prefect(session_factory, url: str, now: datetime, results: dict) -> None:
    """Open the same quarter as a flow run and by calling the services, and split the flow's time.

    The flow runs against a Prefect server on PostgreSQL, as at region scale. Each flow run
    is timed end to end; Prefect's own share is the wall time minus the time its task runs
    spent in SPeTS code (their `total_run_time` on the server), as a share of the wall time.
    That split does not depend on PostgreSQL's speed from one run to the next, unlike the
    difference between a flow run and a direct call, which is also reported.
    """
    import tempfile

    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from spets.services import cycles
    from spets.workflows.cycles import calendar_tick
    from spets.workflows.runtime import SCHOOLS_PER_TASK_RUN, run_flow

    config = Path(tempfile.mkdtemp()) / "bench.ini"
    config.write_text(
        "[app:main]\nuse = egg:spets\nsqlalchemy.url = " + url + "\n"
        "[server:main]\nuse = egg:waitress#main\n"
    )
    os.environ["SPETS_DATABASE_URL"] = url

    def clear_tasks() -> None:
        with session_factory() as session:
            session.connection().exec_driver_sql("TRUNCATE tasks CASCADE")
            session.connection().exec_driver_sql("ANALYZE tasks")
            session.commit()

    def flow_run(name: str, batch_size: int) -> None:
        clear_tasks()
        with timed(results, name):
            state = run_flow(
                calendar_tick, now=now, batch_size=batch_size, config=str(config), return_state=True
            )
        summary = state.result()
        in_tasks = _task_seconds(state.state_details.flow_run_id)
        wall = results[name]
        results[f"{name}_task_runs"] = summary.batches + 2
        results[f"{name}_tasks_created"] = summary.tasks_created
        results[f"{name}_in_task_code"] = round(in_tasks, 3)
        results[f"{name}_prefect_share"] = round((wall - in_tasks) / wall, 4)
        print(f"{name + ' Prefect share':<40} {100 * (wall - in_tasks) / wall:>8.2f} %")

    # Warm up Prefect (the temporary server starts on the first flow run) on a day outside
    # every academic year, so the warm-up opens nothing.
    run_flow(calendar_tick, now=local(2020, 1, 1, 0, 15), config=str(config))
    results["schools_per_task_run"] = SCHOOLS_PER_TASK_RUN
    flow_run("prefect_tick_flow", SCHOOLS_PER_TASK_RUN)
    flow_run("prefect_tick_flow_500", 500)
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        flow_run("prefect_tick_flow_no_heartbeat", SCHOOLS_PER_TASK_RUN)
    clear_tasks()
    with session_factory() as session, timed(results, "direct_tick_same_data"):
        cycles.tick(session, now, batch_size=SCHOOLS_PER_TASK_RUN)
        session.commit()
    flow, direct = results["prefect_tick_flow"], results["direct_tick_same_data"]
    results["flow_minus_direct_share"] = round((flow - direct) / flow, 4)


def measure_reschedule(session_factory, now: datetime, results: dict) -> None:
    """Announce a two-day closure of the whole province a week into the quarter, and time
    the recount of every open task's due date that the calendar page runs after it."""
    from datetime import date, timedelta

    from sqlalchemy import select

    from spets.models import DayOffKind, OrgUnit
    from spets.services import calendar, cycles
    from spets.services.audit import Actor

    announced = now + timedelta(days=5)
    with session_factory() as session:
        province = session.scalars(select(OrgUnit).where(OrgUnit.parent_id.is_(None))).one()
        calendar.save_day_off(
            session,
            None,
            {
                "kind": DayOffKind.CLOSURE,
                "name_en": "Smog closure",
                "name_ur": "اسموگ کی بندش",
                "starts_on": date(2026, 10, 7),
                "ends_on": date(2026, 10, 8),
                "org_unit_id": province.id,
            },
            version=None,
            actor=Actor.system(),
            now=announced,
        )
        with timed(results, "province_closure_reschedule"):
            results["province_closure_tasks_moved"] = cycles.reschedule_after_calendar_change(
                session, province, announced
            )
            session.commit()
    print(f"{'tasks moved':<40} {results['province_closure_tasks_moved']:>9}")


def _task_seconds(flow_run_id) -> float:
    """Return the seconds the flow run's task runs spent running, as the Prefect server records."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return sum(task_run.total_run_time.total_seconds() for task_run in task_runs)


def measure_prefect_noop(results: dict) -> None:
    """Time flows of empty task runs: Prefect's fixed cost per flow run and per task run.

    The flows have the shape of the SPeTS flows: an async flow awaiting async tasks whose
    body runs in a worker thread (workflows/database.py), with Prefect's default
    heartbeats. Three runs each of 0, 9 and 34 task runs; the medians are reported.
    """
    import asyncio
    import statistics

    from prefect import flow

    from spets.workflows.database import database_task

    @database_task(name="noop-batch")
    def noop_batch(number: int) -> int:
        return number

    @flow(name="noop-tick")
    async def noop_tick(count: int) -> int:
        return sum([await noop_batch(number) for number in range(count)])

    asyncio.run(noop_tick(1))  # warm-up: the temporary server starts on the first flow run
    for task_runs in (0, 9, 34):
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            asyncio.run(noop_tick(task_runs))
            seconds.append(time.perf_counter() - start)
        results[f"prefect_noop_flow_{task_runs}_task_runs"] = round(statistics.median(seconds), 3)
        print(f"empty flow, {task_runs} task runs {statistics.median(seconds):>18.3f} s")


def stop_prefect_server() -> None:
    """Stop the temporary Prefect server before its database is dropped."""
    from prefect.server.api.server import SubprocessASGIServer

    SubprocessASGIServer().stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=17_000)
    parser.add_argument("--sections", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument(
        "--tasks", type=int, default=1_000_000, help="Rows in the task table for the sweeps."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database for inspection.")
    parser.add_argument(
        "--prefect-only",
        action="store_true",
        help="Only time flows of empty task runs (no SPeTS database).",
    )
    parser.add_argument(
        "--tick-only",
        action="store_true",
        help="Build the region, then time only the opening of the quarter (no sweeps).",
    )
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT.parent))
    import tempfile

    from spets.workflows.runtime import quiet_prefect_environment

    # The temporary Prefect server keeps its state in PostgreSQL, as a region's server does.
    # Prefect reads its settings when first imported: set them before that.
    prefect_name, prefect_url = create_database()
    os.environ["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = (
        sa.engine.make_url(prefect_url)
        .set(drivername="postgresql+asyncpg")
        .render_as_string(hide_password=False)
    )
    quiet_prefect_environment(Path(tempfile.mkdtemp(prefix="spets-bench-prefect-")))
    from spets.db import make_engine, make_session_factory

    results: dict = {
        "machine": f"{os.cpu_count()} cores, PostgreSQL on the same host",
        "date": datetime.now(UTC).isoformat(),
        "prefect_server": "temporary server on PostgreSQL",
    }
    if args.prefect_only:
        try:
            measure_prefect_noop(results)
        finally:
            stop_prefect_server()
            drop_database(prefect_name)
        print(json.dumps(results, indent=1, default=str))
        return
    name, url = create_database()
    try:
        migrate(url)
        engine = make_engine({"sqlalchemy.url": url, "sqlalchemy.pool_size": "5"})
        session_factory = make_session_factory(engine)
        quarter_start = local(2026, 10, 1, 0, 15)
        with session_factory() as session, timed(results, "build_region"):
            results["region"] = build_region(
                session, quarter_start, args.schools, args.sections, args.subjects
            )
        measure_opening(session_factory, quarter_start, results)
        if not args.tick_only:
            add_other_tasks(session_factory, quarter_start, args.tasks)
            with session_factory() as session:
                results["tasks_total"] = (
                    session.connection().exec_driver_sql("SELECT count(*) FROM tasks").scalar()
                )
            measure_sweeps(session_factory, results)
        measure_prefect(session_factory, url, quarter_start, results)
        if not args.tick_only:
            measure_reschedule(session_factory, quarter_start, results)
        measure_prefect_noop(results)
        engine.dispose()
    finally:
        stop_prefect_server()
        if not args.keep:
            drop_database(name)
        drop_database(prefect_name)

    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / ("engine_tick.json" if args.tick_only else "engine_region.json")).write_text(
        json.dumps(results, indent=1, ensure_ascii=False, default=str)
    )
    print(json.dumps({k: v for k, v in results.items() if k != "plans"}, indent=1, default=str))


if __name__ == "__main__":
    main()
