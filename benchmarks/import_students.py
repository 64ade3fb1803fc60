"""Benchmark the student import on PostgreSQL: speed per phase, peak memory, COPY baseline.

Run from the repository root (PostgreSQL must accept trust logins on 127.0.0.1:5432):

    .venv/bin/python benchmarks/import_students.py

The script migrates a template database with one province, one school, the current
academic year and sections A to F of grades 9 to 12. For each file size it generates a
CSV file and makes two fresh Python processes, each on its own clone of the template:

- the timed run imports the file, records the time of each phase and the peak resident
  set size (`ru_maxrss`), checks that every row was written, then times a plain
  `COPY ... FROM STDIN` of the rows the import wrote into scratch tables of the same
  shape (columns, defaults, checks, indexes and foreign keys);
- the traced run imports the file again with `tracemalloc` on, only for the peak of
  Python allocations, because tracing slows Python code down several times.

It prints a table, writes benchmarks/results/import_students.json and drops every
database it created, also when a run fails.
"""

import argparse
import csv
import json
import os
import platform
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import sql
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from spets.db import DATABASE_URL_ENV, make_engine, make_session_factory
from spets.forms.imports import COLUMN_NAMES
from spets.models import (
    AcademicYear,
    AuditEvent,
    Enrollment,
    Guardian,
    ImportStatus,
    OrgKind,
    OrgUnit,
    Student,
    StudentGuardian,
)
from spets.services import calendar, imports, org
from spets.services.audit import Actor

ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = ROOT / "benchmarks" / "results" / "import_students.json"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE_PREFIX = "spets_bench_"
DEFAULT_SIZES = (10_000, 100_000)
SEED = 20261204
SCHOOL_CODE = "36110001"
GRADES = (9, 10, 11, 12)
SECTION_NAMES = ("A", "B", "C", "D", "E", "F")
SIBLING_SHARE = 0.2  # Share of students whose father's CNIC is on one other row too.
NO_B_FORM_SHARE = 0.1  # Share of students without a B-Form number.
SCRATCH_SCHEMA = "bench_copy"
COPY_CHUNK_BYTES = 1 << 20
MIB = 1024 * 1024
PHASES = ("validate", "check", "write", "finish")

# The tables the import writes, parents first so that foreign keys hold during COPY.
# Each query selects the rows of one import job, in the column order of the table.
WRITTEN_TABLES = {
    "students": "SELECT * FROM students WHERE school_id = {school_id}",
    "guardians": "SELECT * FROM guardians WHERE tenant_id = {tenant_id}",
    "enrollments": "SELECT e.* FROM enrollments e JOIN students s ON s.id = e.student_id "
    "WHERE s.school_id = {school_id}",
    "student_guardians": "SELECT l.* FROM student_guardians l JOIN students s "
    "ON s.id = l.student_id WHERE s.school_id = {school_id}",
    "audit_events": "SELECT * FROM audit_events WHERE action = 'import' "
    "AND reason = 'import job {job_id}'",
}


# Test data.

BOY_NAMES = [
    ("Ali", "علی"),
    ("Hamza", "حمزہ"),
    ("Usman", "عثمان"),
    ("Bilal", "بلال"),
    ("Ahmed", "احمد"),
    ("Hassan", "حسن"),
    ("Zain", "زین"),
    ("Umar", "عمر"),
    ("Saad", "سعد"),
    ("Abdullah", "عبداللہ"),
    ("Fahad", "فہد"),
    ("Imran", "عمران"),
]
GIRL_NAMES = [
    ("Ayesha", "عائشہ"),
    ("Fatima", "فاطمہ"),
    ("Zainab", "زینب"),
    ("Maryam", "مریم"),
    ("Hira", "حرا"),
    ("Sana", "ثنا"),
    ("Iqra", "اقرا"),
    ("Amna", "آمنہ"),
    ("Khadija", "خدیجہ"),
    ("Rabia", "رابعہ"),
    ("Sadia", "سعدیہ"),
    ("Nimra", "نمرہ"),
]
FATHER_GIVEN_NAMES = [
    ("Muhammad", "محمد"),
    ("Ghulam", "غلام"),
    ("Malik", "ملک"),
    ("Rana", "رانا"),
    ("Mian", "میاں"),
    ("Haji", "حاجی"),
]
FAMILY_NAMES = [
    ("Aslam", "اسلم"),
    ("Akram", "اکرم"),
    ("Iqbal", "اقبال"),
    ("Rafiq", "رفیق"),
    ("Hussain", "حسین"),
    ("Raza", "رضا"),
    ("Khan", "خان"),
    ("Nawaz", "نواز"),
    ("Shafiq", "شفیق"),
    ("Jamil", "جمیل"),
    ("Latif", "لطیف"),
    ("Sadiq", "صادق"),
]
MOTHER_NAMES = [
    ("Shazia", "شازیہ"),
    ("Nasreen", "نسرین"),
    ("Rukhsana", "رخسانہ"),
    ("Parveen", "پروین"),
    ("Kausar", "کوثر"),
    ("Bushra", "بشریٰ"),
]
FATHER_EDUCATION = ["none", "primary", "middle", "matric", "intermediate", "bachelor"]
FATHER_OCCUPATIONS = ["farmer", "labourer", "business", "government_service", "private_job"]
MOTHER_EDUCATION = ["none", "primary", "middle", "matric"]
MOTHER_OCCUPATIONS = ["homemaker", "homemaker", "homemaker", "teacher", "health_worker"]


@dataclass
class ExpectedCounts:
    """Rows a successful import of a generated file writes to each table."""

    students: int
    enrollments: int
    guardians: int
    student_guardians: int
    audit_events: int


def _family(rng: random.Random, number: int) -> dict[str, str]:
    """Return the columns that siblings share: father, mother and household."""
    father_given = rng.choice(FATHER_GIVEN_NAMES)
    family_name = rng.choice(FAMILY_NAMES)
    mother_given = rng.choice(MOTHER_NAMES)
    return {
        "family_name_en": family_name[0],
        "family_name_ur": family_name[1],
        "father_name_en": f"{father_given[0]} {family_name[0]}",
        "father_name_ur": f"{father_given[1]} {family_name[1]}",
        # The family number makes the CNIC unique. The last digit is arbitrary.
        "father_cnic": f"36302-{number:07d}-{rng.randint(1, 9)}",
        "father_phone": f"03{rng.randint(0, 4)}{rng.randint(0, 9)}-{rng.randint(0, 9_999_999):07d}",
        "father_education": rng.choice(FATHER_EDUCATION),
        "father_occupation": rng.choice(FATHER_OCCUPATIONS),
        "mother_name_en": f"{mother_given[0]} Bibi",
        "mother_name_ur": f"{mother_given[1]} بی بی",
        "mother_education": rng.choice(MOTHER_EDUCATION),
        "mother_occupation": rng.choice(MOTHER_OCCUPATIONS),
        "household_size": str(rng.randint(4, 12)),
        "parents_status": "together",
        "home_area": rng.choice(["urban", "rural", "rural"]),
    }


def _student_row(
    rng: random.Random, number: int, family: dict[str, str], start_year: int
) -> dict[str, str]:
    gender = rng.choice(["male", "female"])
    given_name = rng.choice(BOY_NAMES if gender == "male" else GIRL_NAMES)
    grade = rng.choice(GRADES)
    born_on = date(start_year - grade - 5, 1, 1) + timedelta(days=rng.randint(0, 364))
    admitted_on = date(start_year, 4, 1) + timedelta(days=rng.randint(0, 60))
    # The row number makes the B-Form unique. Some rows leave this optional column empty,
    # so that rows differ in which columns are NULL.
    b_form = "" if rng.random() < NO_B_FORM_SHARE else f"36303-{number:07d}-{rng.randint(1, 9)}"
    row = {
        key: value
        for key, value in family.items()
        if key not in ("family_name_en", "family_name_ur")
    }
    row.update(
        {
            "admission_no": str(100_000 + number),
            "b_form": b_form,
            "name_en": f"{given_name[0]} {family['family_name_en']}",
            "name_ur": f"{given_name[1]} {family['family_name_ur']}",
            "date_of_birth": born_on.strftime("%d/%m/%Y"),
            "gender": gender,
            "internet_at_home": rng.choice(["yes", "no"]),
            "grade": str(grade),
            "section": rng.choice(SECTION_NAMES),
            "admitted_on": admitted_on.strftime("%d/%m/%Y"),
            "primary_guardian": "mother" if rng.random() < 0.15 else "father",
        }
    )
    return row


def write_students_csv(path: Path, rows: int, start_year: int, seed: int) -> ExpectedCounts:
    """Write a CSV file of `rows` students (UTF-8 with BOM) and return what it should import.

    Pairs of siblings make up SIBLING_SHARE of the rows. Each pair shares the father's
    CNIC, and the rows are shuffled so that siblings usually fall in different batches.
    The same seed and academic year give the same file.
    """
    rng = random.Random(seed)
    pairs = round(rows * SIBLING_SHARE / 2)
    families = rows - pairs
    family_of_row = list(range(families)) + list(range(pairs))
    rng.shuffle(family_of_row)

    family_values: dict[int, dict[str, str]] = {}
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMN_NAMES)
        for number, family_number in enumerate(family_of_row, start=1):
            family = family_values.get(family_number)
            if family is None:
                family = _family(rng, family_number + 1)
                if family_number < pairs:
                    family_values[family_number] = family
            row = _student_row(rng, number, family, start_year)
            writer.writerow([row.get(column, "") for column in COLUMN_NAMES])

    # Mothers have no CNIC, so the import stores one mother per row, siblings included.
    return ExpectedCounts(
        students=rows,
        enrollments=rows,
        guardians=families + rows,
        student_guardians=2 * rows,
        audit_events=rows,
    )


# Databases.


def _conninfo(url: str) -> str:
    """Turn a SQLAlchemy URL into a libpq URI for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _database_url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block ends.

    PostgreSQL finishes a CREATE DATABASE even when the client stops waiting, so an
    interrupt during the statement would leave a database that is missing from the list to
    drop. The mask applies to the calling thread only, which is enough because the script
    runs in one thread.
    """
    signals = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class Databases:
    """Creates databases named spets_bench_<tag>_<suffix>, and drops them again."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.tag = uuid.uuid4().hex[:8]
        self.created: list[str] = []

    def create(self, suffix: str, template: str | None = None) -> str:
        name = f"{DATABASE_PREFIX}{self.tag}_{suffix}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with (
            _signals_deferred(),
            psycopg.connect(_conninfo(self.admin_url), autocommit=True) as connection,
        ):
            connection.execute(statement)
            self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        with (
            _signals_deferred(),
            psycopg.connect(_conninfo(self.admin_url), autocommit=True) as connection,
        ):
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        self.created.remove(name)

    def drop_all(self) -> None:
        for name in reversed(list(self.created)):
            try:
                self.drop(name)
            except psycopg.Error as error:
                print(f"Failed to drop database {name}: {error}", file=sys.stderr)

    def url(self, name: str) -> str:
        return _database_url(self.admin_url, name)


def build_template(url: str, start_year: int, now: datetime) -> None:
    """Migrate the database at `url` and add the tenant, school, year and sections."""
    # migrations/env.py reads the URL from SPETS_DATABASE_URL. make_engine() prefers that
    # variable to its settings too, so it must not outlive the migration.
    previous = os.environ.get(DATABASE_URL_ENV)
    os.environ[DATABASE_URL_ENV] = url
    try:
        command.upgrade(Config(str(ROOT / "testing.ini")), "head")
    finally:
        if previous is None:
            del os.environ[DATABASE_URL_ENV]
        else:
            os.environ[DATABASE_URL_ENV] = previous

    engine = make_engine({"sqlalchemy.url": url})
    system = Actor.system()
    try:
        with make_session_factory(engine)() as session, session.begin():

            def unit(parent, kind, code, name_en, name_ur, **extra):
                return org.create_unit(
                    session,
                    parent=parent,
                    kind=kind,
                    code=code,
                    name_en=name_en,
                    name_ur=name_ur,
                    actor=system,
                    now=now,
                    **extra,
                )

            province = unit(None, OrgKind.PROVINCE, "PB", "Punjab", "پنجاب")
            division = unit(province, OrgKind.DIVISION, "MLN-DIV", "Multan Division", "ملتان ڈویژن")
            district = unit(division, OrgKind.DISTRICT, "MLN", "Multan", "ملتان")
            tehsil = unit(district, OrgKind.TEHSIL, "MLN-CITY", "Multan City", "ملتان شہر")
            school = unit(
                tehsil, OrgKind.SCHOOL, SCHOOL_CODE, "Government High School", "گورنمنٹ ہائی اسکول"
            )
            year = calendar.create_year(session, province, start_year, actor=system, now=now)
            for grade in GRADES:
                for name in SECTION_NAMES:
                    org.create_section(
                        session,
                        school=school,
                        year=year,
                        grade=grade,
                        name=name,
                        class_teacher_id=None,
                        actor=system,
                        now=now,
                    )
    finally:
        engine.dispose()


# The worker: one import in a fresh process.


def _current_rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS is missing from /proc/self/status")


class PhaseClock:
    """Records when each import phase starts, from progress reports and wrapped functions.

    The progress callback marks the start of the check phase. The write phase has no
    report before its first batch, so the clock wraps the module's `_write_rows` to mark
    its start. It also wraps `_finish`, which starts the finish phase: deleting the
    staged rows and storing the job's final status.
    """

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}

    def mark(self, phase: str) -> None:
        self.marks.setdefault(phase, time.perf_counter())

    def progress(self, phase: str, done: int, total: int) -> None:
        self.mark(phase)

    def wrap(self, phase: str, function):
        def wrapper(*args, **kwargs):
            self.mark(phase)
            return function(*args, **kwargs)

        return wrapper

    def durations(self, started: float, ended: float) -> dict[str, float | None]:
        """Return the seconds of each phase, or None for a phase that never started."""
        starts = {**self.marks, "validate": started}
        result: dict[str, float | None] = {}
        for index, phase in enumerate(PHASES):
            later = [starts[following] for following in PHASES[index + 1 :] if following in starts]
            end = later[0] if later else ended
            result[phase] = end - starts[phase] if phase in starts else None
        return result


def _count_written(session, school_id: int, tenant_id: int, job_id: int) -> dict[str, int]:
    students_of_school = select(Student.id).where(Student.school_id == school_id)
    counts = {
        "students": select(func.count()).select_from(Student).where(Student.school_id == school_id),
        "enrollments": select(func.count())
        .select_from(Enrollment)
        .where(Enrollment.student_id.in_(students_of_school)),
        "guardians": select(func.count())
        .select_from(Guardian)
        .where(Guardian.tenant_id == tenant_id),
        "student_guardians": select(func.count())
        .select_from(StudentGuardian)
        .where(StudentGuardian.student_id.in_(students_of_school)),
        "audit_events": select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "import", AuditEvent.reason == f"import job {job_id}"),
    }
    return {table: session.scalar(query) for table, query in counts.items()}


def run_import(spec: dict) -> dict:
    """Import the CSV file named in `spec` and return timings, memory and row counts."""
    engine = make_engine({"sqlalchemy.url": spec["database_url"]})
    session_factory = make_session_factory(engine)
    now = datetime.fromisoformat(spec["now"])
    path = Path(spec["csv_path"])

    with session_factory() as session, session.begin():
        school = session.scalar(
            select(OrgUnit).where(OrgUnit.kind == OrgKind.SCHOOL, OrgUnit.code == SCHOOL_CODE)
        )
        year = session.scalar(
            select(AcademicYear).where(
                AcademicYear.tenant_id == school.tenant_id,
                AcademicYear.label == calendar.year_label(spec["start_year"]),
            )
        )
        job_id = imports.create_job(
            session, school=school, year=year, filename=path.name, actor=Actor.system(), now=now
        ).id
        school_id, tenant_id = school.id, school.tenant_id

    clock = PhaseClock()
    imports._write_rows = clock.wrap("write", imports._write_rows)
    imports._finish = clock.wrap("finish", imports._finish)

    rss_before = _current_rss_bytes()
    if spec["trace_memory"]:
        tracemalloc.start()
    started = time.perf_counter()
    job = imports.run_student_import(
        session_factory, job_id, path, now=now, progress=clock.progress
    )
    ended = time.perf_counter()
    traced_peak = tracemalloc.get_traced_memory()[1] if spec["trace_memory"] else None
    tracemalloc.stop()
    # ru_maxrss is in KiB on Linux. It is read before the COPY baseline allocates anything.
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    with session_factory() as session:
        written = _count_written(session, school_id, tenant_id, job_id)
    result = {
        "status": job.status.value,
        "problem_count": job.problem_count,
        "rows_total": job.rows_total,
        "rows_written": job.rows_written,
        "tables_written": written,
        "seconds": ended - started,
        "phase_seconds": clock.durations(started, ended),
        "rss_before_bytes": rss_before,
        "max_rss_bytes": max_rss,
        "tracemalloc_peak_bytes": traced_peak,
    }
    if job.status == ImportStatus.SUCCEEDED and spec["copy_baseline"]:
        result["copy"] = time_copy_baseline(
            _conninfo(spec["database_url"]), school_id, tenant_id, job_id
        )
    engine.dispose()
    return result


# The COPY baseline.


def _scratch_table_statements(connection: psycopg.Connection, table: str) -> list[sql.Composable]:
    """Return the DDL for a scratch copy of `table`: LIKE ... INCLUDING ALL plus its foreign keys.

    LIKE copies columns, defaults, checks and indexes but no foreign keys, so each
    foreign key is added again. One that points at another written table points at its
    scratch copy instead.
    """
    statements: list[sql.Composable] = [
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
            sql.Identifier(SCRATCH_SCHEMA, table), sql.Identifier("public", table)
        )
    ]
    foreign_keys = connection.execute(
        """
        SELECT
            (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY k(num, n)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num),
            t.relname,
            (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY k(num, n)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num)
        FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.confrelid
        WHERE c.contype = 'f' AND c.conrelid = %s::regclass
        """,
        (f"public.{table}",),
    ).fetchall()
    for columns, target, target_columns in foreign_keys:
        schema = SCRATCH_SCHEMA if target in WRITTEN_TABLES else "public"
        statements.append(
            sql.SQL("ALTER TABLE {} ADD FOREIGN KEY ({}) REFERENCES {} ({})").format(
                sql.Identifier(SCRATCH_SCHEMA, table),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.Identifier(schema, target),
                sql.SQL(", ").join(map(sql.Identifier, target_columns)),
            )
        )
    return statements


def time_copy_baseline(conninfo: str, school_id: int, tenant_id: int, job_id: int) -> dict:
    """Time a COPY FROM STDIN of the rows the import wrote, in one transaction with its commit.

    The rows are first exported with COPY TO STDOUT into temporary files, so the timed
    part only reads files and sends them. Returns the total and per-table seconds and
    the rows copied per table.
    """
    with (
        tempfile.TemporaryDirectory(prefix="spets-bench-copy-") as folder,
        psycopg.connect(conninfo) as connection,
    ):
        exported: dict[str, Path] = {}
        for table, query in WRITTEN_TABLES.items():
            exported[table] = Path(folder) / f"{table}.copy"
            text = query.format(school_id=school_id, tenant_id=tenant_id, job_id=job_id)
            with (
                exported[table].open("wb") as handle,
                connection.cursor().copy(
                    sql.SQL("COPY ({}) TO STDOUT").format(sql.SQL(text))
                ) as copy,
            ):
                for data in copy:
                    handle.write(data)

        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCRATCH_SCHEMA)))
        for table in WRITTEN_TABLES:
            for statement in _scratch_table_statements(connection, table):
                connection.execute(statement)
        connection.commit()

        table_seconds: dict[str, float] = {}
        table_rows: dict[str, int] = {}
        started = time.perf_counter()
        with connection.transaction():
            for table, path in exported.items():
                table_started = time.perf_counter()
                with path.open("rb") as handle, connection.cursor() as cursor:
                    with cursor.copy(
                        sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(SCRATCH_SCHEMA, table))
                    ) as copy:
                        while chunk := handle.read(COPY_CHUNK_BYTES):
                            copy.write(chunk)
                    table_rows[table] = cursor.rowcount
                table_seconds[table] = time.perf_counter() - table_started
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "table_seconds": table_seconds, "table_rows": table_rows}


# The parent: generate files, start workers, report.


def run_worker(spec: dict) -> dict:
    """Run one import in a fresh Python process and return the JSON it prints."""
    # make_engine() would connect to SPETS_DATABASE_URL instead of the clone, if it is set.
    environment = {key: value for key, value in os.environ.items() if key != DATABASE_URL_ENV}
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        stdout=subprocess.PIPE,
        env=environment,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"The worker for {spec['rows']} rows failed with exit status {completed.returncode}. "
            "Its error is printed above."
        )
    return json.loads(completed.stdout)


def check_written(rows: int, expected: ExpectedCounts, result: dict) -> list[str]:
    """Return a message for every count that differs from what the file should import."""
    errors = []
    if result["status"] != ImportStatus.SUCCEEDED.value:
        errors.append(
            f"import status is {result['status']} with {result['problem_count']} problem(s)"
        )
    if result["rows_written"] != rows:
        errors.append(f"rows_written is {result['rows_written']}, expected {rows}")
    for table, count in asdict(expected).items():
        if result["tables_written"][table] != count:
            errors.append(f"{table} has {result['tables_written'][table]} rows, expected {count}")
    copied = result.get("copy", {}).get("table_rows", {})
    for table, count in copied.items():
        written = result["tables_written"][table]
        if count != written:
            errors.append(f"COPY baseline copied {count} {table} rows, the import wrote {written}")
    return errors


def measure_size(
    databases: Databases, template: str, folder: Path, rows: int, start_year: int, now: datetime
) -> dict:
    """Generate a file of `rows` students, import it timed and traced, and return the results."""
    path = folder / f"students_{rows}.csv"
    expected = write_students_csv(path, rows, start_year, SEED)
    record = {"rows": rows, "file_bytes": path.stat().st_size, "expected": asdict(expected)}

    for mode in ("timed", "traced"):
        name = databases.create(f"{rows}_{mode}", template=template)
        spec = {
            "database_url": databases.url(name),
            "csv_path": str(path),
            "rows": rows,
            "start_year": start_year,
            "now": now.isoformat(),
            "trace_memory": mode == "traced",
            "copy_baseline": mode == "timed",
        }
        print(f"Importing {rows} rows ({mode} run) ...", file=sys.stderr, flush=True)
        result = run_worker(spec)
        databases.drop(name)
        errors = check_written(rows, expected, result)
        if errors:
            raise RuntimeError(f"The {mode} import of {rows} rows is wrong: " + "; ".join(errors))
        record[mode] = result

    timed = record["timed"]
    record["rows_per_second"] = rows / timed["seconds"]
    record["write_to_copy_ratio"] = timed["phase_seconds"]["write"] / timed["copy"]["seconds"]
    return record


def _git_commit() -> str | None:
    completed = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return completed.stdout.strip() or None


def _postgresql_version(admin_url: str) -> str:
    with psycopg.connect(_conninfo(admin_url)) as connection:
        return connection.execute("SHOW server_version").fetchone()[0]


def print_table(records: list[dict]) -> None:
    header = (
        "rows",
        "total s",
        "rows/s",
        "validate s",
        "check s",
        "write s",
        "finish s",
        "COPY s",
        "write/COPY",
        "RSS before MiB",
        "max RSS MiB",
        "tracemalloc MiB",
    )
    lines = [header]
    for record in records:
        timed, phases = record["timed"], record["timed"]["phase_seconds"]
        lines.append(
            (
                f"{record['rows']:,}",
                f"{timed['seconds']:.1f}",
                f"{record['rows_per_second']:,.0f}",
                f"{phases['validate']:.1f}",
                f"{phases['check']:.2f}",
                f"{phases['write']:.1f}",
                f"{phases['finish']:.2f}",
                f"{timed['copy']['seconds']:.2f}",
                f"{record['write_to_copy_ratio']:.1f}",
                f"{timed['rss_before_bytes'] / MIB:.0f}",
                f"{timed['max_rss_bytes'] / MIB:.0f}",
                f"{record['traced']['tracemalloc_peak_bytes'] / MIB:.1f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))


def _parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: give positive whole numbers separated by commas, "
            "for example 10000,100000"
        )
    return sizes


def _raise_system_exit(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=_parse_sizes,
        default=list(DEFAULT_SIZES),
        help="Comma-separated numbers of students per file (default: 10000,100000).",
    )
    parser.add_argument(
        "--admin-url",
        default=DEFAULT_ADMIN_URL,
        help="SQLAlchemy URL for connecting to PostgreSQL as a role that may create and drop "
        "databases (default: the local server as postgres).",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS_PATH, help="Path of the JSON results file."
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.worker:
        print(json.dumps(run_import(json.loads(arguments.worker))))
        return 0

    # SIGTERM ends the script through the `finally` below, so the databases are dropped.
    signal.signal(signal.SIGTERM, _raise_system_exit)
    now = datetime.now(UTC)
    load_before = os.getloadavg()
    start_year = calendar.start_year_of(calendar.local_today(now))
    databases = Databases(arguments.admin_url)
    try:
        template = databases.create("template")
        build_template(databases.url(template), start_year, now)
        with tempfile.TemporaryDirectory(prefix="spets-bench-") as folder:
            records = [
                measure_size(databases, template, Path(folder), rows, start_year, now)
                for rows in arguments.sizes
            ]
    finally:
        databases.drop_all()

    results = {
        "benchmark": "student import",
        "measured_at": now.isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "postgresql": _postgresql_version(arguments.admin_url),
            # Other work on the machine adds noise: compare these with cpu_count.
            "load_average_1_5_15_min_before": load_before,
            "load_average_1_5_15_min_after": os.getloadavg(),
        },
        "git_commit": _git_commit(),
        "batch_size": imports.BATCH_SIZE,
        "seed": SEED,
        "sibling_share": SIBLING_SHARE,
        "sizes": records,
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print_table(records)
    print(f"Results written to {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
