"""Benchmark "results day": guardians open the portal's results page right after publication.

Run from the repository root (PostgreSQL must accept trust logins on 127.0.0.1:5432):

    .venv/bin/python benchmarks/results_day.py

The script creates a database named spets_bench_<random tag>, migrates it with Alembic and
generates a school system: `--schools` schools (20 by default), each with sections A and
B of grades 9 and 10 and `--students` students per section (40), each student with a
guardian who has a portal account. Every section has six subjects with a published
monthly-assessment sheet and a seventh sheet still in draft.

It then serves the app with waitress (`--threads` threads, 8 like production.ini) from
one server process, then from two (`--processes 1 2`; the processes share one listening
socket), signs in `--guardians` guardians (200) and, with `--concurrency` (50) keep-alive
connections from an asyncio client in this process, requests for `--duration` seconds
(20, after `--warmup` seconds) each of:

- the baseline: a bare Pyramid view returning "hello", served by the same waitress
  server next to the app, without the app's tweens, session or database;
- the app's floor: `GET /healthz` through the whole app (its tweens, a database
  transaction and one `SELECT 1`, no session and no template), what any page that reads
  the database costs at least;
- the results page of a random signed-in guardian's child, with the caches off (the
  server is started with spets.portal.results_cache and spets.portal.page_cache false);
- the same page with both caches on, from a server started afresh: the rendered page is
  sent again while its one check statement finds nothing on it changed.

Each measurement reports requests per second and the 50th and 99th percentile latency,
and the ratio of each to the baseline measured on the same server. It prints a
table, writes benchmarks/results/results_day.json and drops the database, also when a
run fails.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = ROOT / "benchmarks" / "results" / "results_day.json"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE_PREFIX = "spets_bench_"
PASSWORD = "results-day-password"
SEED = 20261204
SUBJECTS = ("URDU", "ENG", "MATH", "PHY", "CHEM", "BIO")
DRAFT_SUBJECT = "ISL"


# The school system.


def create_database(admin_url: str) -> str:
    import sqlalchemy as sa

    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    import sqlalchemy as sa

    name = sa.engine.make_url(url).database
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def migrate(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    os.environ["SPETS_DATABASE_URL"] = url
    config = Config(str(ROOT / "testing.ini"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")


def generate(url: str, schools: int, students: int) -> list[dict]:
    """Fill the database; return each guardian's username and their child's student id."""
    from sqlalchemy import func, insert, select

    from spets.db import make_engine, make_session_factory
    from spets.models import (
        Enrollment,
        ExamKind,
        Guardian,
        GuardianAccount,
        Mark,
        MarkStatus,
        OrgKind,
        PublishedMark,
        Relation,
        ResultSheet,
        Role,
        RoleAssignment,
        SheetState,
        Student,
        StudentGuardian,
        User,
    )
    from spets.services import calendar, org
    from spets.services.audit import Actor
    from spets.services.auth import hash_password
    from spets.services.starter import add_starter_subjects

    rng = random.Random(SEED)
    system = Actor.system()
    now = datetime.now(UTC)
    today = calendar.local_today(now)
    factory = make_session_factory(make_engine({"sqlalchemy.url": url}))
    guardians = []
    with factory() as session, session.begin():
        tenant = org.create_unit(
            session,
            parent=None,
            kind=OrgKind.PROVINCE,
            code="BENCH",
            name_en="Bench",
            name_ur="بینچ",
            actor=system,
            now=now,
        )
        division = org.create_unit(
            session,
            parent=tenant,
            kind=OrgKind.DIVISION,
            code="DIV",
            name_en="Division",
            name_ur="ڈویژن",
            actor=system,
            now=now,
        )
        district = org.create_unit(
            session,
            parent=division,
            kind=OrgKind.DISTRICT,
            code="DST",
            name_en="District",
            name_ur="ضلع",
            actor=system,
            now=now,
        )
        tehsil = org.create_unit(
            session,
            parent=district,
            kind=OrgKind.TEHSIL,
            code="TEH",
            name_en="Tehsil",
            name_ur="تحصیل",
            actor=system,
            now=now,
        )
        markaz = org.create_unit(
            session,
            parent=tehsil,
            kind=OrgKind.MARKAZ,
            code="MKZ",
            name_en="Markaz",
            name_ur="مرکز",
            actor=system,
            now=now,
        )
        subjects = {s.code: s for s in add_starter_subjects(session, tenant, actor=system, now=now)}
        year = calendar.create_year(
            session, tenant, calendar.start_year_of(today), actor=system, now=now
        )
        window_end = max(year.starts_on + timedelta(days=20), today - timedelta(days=10))
        window = calendar.save_exam_window(
            session,
            year,
            None,
            {
                "kind": ExamKind.MONTHLY_ASSESSMENT,
                "name_en": "Monthly assessment",
                "name_ur": "ماہانہ جائزہ",
                "starts_on": window_end - timedelta(days=5),
                "ends_on": window_end,
            },
            version=None,
            actor=system,
            now=now,
        )
        password_hash = hash_password(PASSWORD)
        phone = 3000000000
        for number in range(schools):
            school = org.create_unit(
                session,
                parent=markaz,
                kind=OrgKind.SCHOOL,
                code=f"BS{number:05d}",
                name_en=f"Bench School {number}",
                name_ur=f"بینچ اسکول {number}",
                actor=system,
                now=now,
            )
            for grade in (9, 10):
                for name in ("A", "B"):
                    section = org.create_section(
                        session,
                        school=school,
                        year=year,
                        grade=grade,
                        name=name,
                        class_teacher_id=None,
                        actor=system,
                        now=now,
                    )
                    rows = _students(session, section, school, tenant, year, students, rng, now)
                    ids = [row["id"] for row in rows]
                    session.execute(
                        insert(Enrollment),
                        [
                            {
                                "student_id": sid,
                                "section_id": section.id,
                                "starts_on": year.starts_on,
                                "start_reason": "admission",
                                "note": "",
                                "created_at": now,
                            }
                            for sid in ids
                        ],
                    )
                    guardian_rows = []
                    for sid in ids:
                        phone += 1
                        guardian_rows.append(
                            {
                                "tenant_id": tenant.id,
                                "name_en": f"Guardian {sid}",
                                "name_ur": f"سرپرست {sid}",
                                "phone": f"+92{phone}",
                                "preferred_locale": "ur",
                                "version": 1,
                            }
                        )
                    guardian_ids = session.scalars(
                        insert(Guardian).returning(Guardian.id, sort_by_parameter_order=True),
                        guardian_rows,
                    ).all()
                    session.execute(
                        insert(StudentGuardian),
                        [
                            {
                                "student_id": sid,
                                "guardian_id": gid,
                                "relation": Relation.FATHER,
                                "is_primary": True,
                            }
                            for sid, gid in zip(ids, guardian_ids, strict=True)
                        ],
                    )
                    user_ids = session.scalars(
                        insert(User).returning(User.id, sort_by_parameter_order=True),
                        [
                            {
                                "username": "0" + row["phone"][3:],
                                "password_hash": password_hash,
                                "display_name": row["name_en"],
                                "display_name_ur": row["name_ur"],
                                "locale": "ur",
                                "phone": row["phone"],
                                "tenant_id": tenant.id,
                                "is_active": True,
                                "created_at": now,
                                "version": 1,
                            }
                            for row in guardian_rows
                        ],
                    ).all()
                    session.execute(
                        insert(RoleAssignment),
                        [
                            {
                                "user_id": uid,
                                "role": Role.GUARDIAN,
                                "org_unit_id": tenant.id,
                                "valid_from": year.starts_on,
                                "created_at": now,
                            }
                            for uid in user_ids
                        ],
                    )
                    session.execute(
                        insert(GuardianAccount),
                        [
                            {
                                "guardian_id": gid,
                                "user_id": uid,
                                "sms_script": "ur",
                                "created_at": now,
                            }
                            for gid, uid in zip(guardian_ids, user_ids, strict=True)
                        ],
                    )
                    for code in SUBJECTS + (DRAFT_SUBJECT,):
                        published = code != DRAFT_SUBJECT
                        sheet_id = session.scalar(
                            insert(ResultSheet)
                            .returning(ResultSheet.id)
                            .values(
                                section_id=section.id,
                                subject_id=subjects[code].id,
                                exam_window_id=window.id,
                                max_marks=Decimal(25),
                                pass_marks=Decimal("8.5"),
                                step=Decimal("0.5"),
                                state=SheetState.PUBLISHED if published else SheetState.DRAFT,
                                published_version=1 if published else 0,
                                published_at=now if published else None,
                                created_at=now,
                                updated_at=now,
                                lock_version=1,
                            )
                        )
                        marks = [
                            {
                                "sheet_id": sheet_id,
                                "student_id": sid,
                                "status": MarkStatus.ENTERED,
                                "marks": Decimal(rng.randrange(0, 51)) / 2,
                            }
                            for sid in ids
                        ]
                        session.execute(insert(Mark), [{**m, "updated_at": now} for m in marks])
                        if published:
                            session.execute(
                                insert(PublishedMark),
                                [{**m, "version": 1, "published_at": now} for m in marks],
                            )
                    guardians += [
                        {"username": "0" + row["phone"][3:], "student_id": sid}
                        for row, sid in zip(guardian_rows, ids, strict=True)
                    ]
        session.flush()
        count = session.scalar(select(func.count(Student.id)))
    print(f"Generated {schools} schools, {count} students with a guardian account each.")
    return guardians


def _students(session, section, school, tenant, year, count, rng, now) -> list[dict]:
    from sqlalchemy import insert

    from spets.models import Gender, Student

    rows = [
        {
            "tenant_id": tenant.id,
            "school_id": school.id,
            "admission_no": f"{section.grade}{section.name}{position:03d}",
            "name_en": f"Student {section.id}-{position}",
            "name_ur": f"طالب علم {position}",
            "father_name_en": "Father",
            "father_name_ur": "والد",
            "date_of_birth": date(year.starts_on.year - 14, 1 + position % 12, 1 + position % 28),
            "gender": Gender.FEMALE if position % 2 else Gender.MALE,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for position in range(count)
    ]
    ids = session.scalars(
        insert(Student).returning(Student.id, sort_by_parameter_order=True), rows
    ).all()
    return [{**row, "id": sid} for row, sid in zip(rows, ids, strict=True)]


# The server.


def write_config(url: str, folder: Path, cache: bool) -> Path:
    path = folder / f"results-day-{'cached' if cache else 'uncached'}.ini"
    path.write_text(
        "\n".join(
            [
                "[app:main]",
                "use = egg:spets",
                f"sqlalchemy.url = {url}",
                f"spets.var_dir = {folder / 'var'}",
                "spets.session_secure = false",
                "spets.sms.backend = file",
                f"spets.portal.results_cache = {'true' if cache else 'false'}",
                f"spets.portal.page_cache = {'true' if cache else 'false'}",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


def serve(config: str, port: int, threads: int, processes: int) -> None:
    """Serve the app and a bare Pyramid hello view from `processes` waitress processes.

    The processes share one listening socket, opened before they fork, and the kernel
    hands each new connection to one of them: one process per core, as a server with
    several cores would run the app.
    """
    import socket

    import waitress
    from pyramid.config import Configurator
    from pyramid.paster import get_appsettings
    from pyramid.response import Response

    from spets.webapp import main as spets_main

    settings = dict(get_appsettings(config))
    app = spets_main({"here": str(ROOT)}, **settings)

    def hello(request):
        return Response("hello")

    with Configurator() as bare_config:
        bare_config.add_route("hello", "/hello")
        bare_config.add_view(hello, route_name="hello")
        bare = bare_config.make_wsgi_app()

    def dispatch(environ, start_response):
        if environ.get("PATH_INFO") == "/hello":
            return bare(environ, start_response)
        return app(environ, start_response)

    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    for _ in range(processes - 1):
        if os.fork() == 0:
            break
    waitress.serve(dispatch, sockets=[listener], threads=threads, _quiet=True)


def start_server(
    config: Path, port: int, threads: int, processes: int, url: str
) -> subprocess.Popen:
    env = {
        **os.environ,
        "SPETS_DATABASE_URL": url,
        "SPETS_SESSION_SECRET": "bench-secret-0123456789",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--threads",
            str(threads),
            "--processes",
            str(processes),
        ],
        env=env,
        cwd=ROOT,
        # A session of its own, so that stopping the server stops every forked process.
        start_new_session=True,
    )
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/hello", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    stop_server(process)
    raise RuntimeError(f"the server on port {port} did not answer within 60 s")


def sign_in(port: int, username: str) -> str:
    """Sign a guardian in through the login form; return the session cookie."""
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = client.post(
            "/login",
            data={
                "username": username,
                "password": PASSWORD,
                "csrf_token": token,
                "came_from": "/",
                "save": "save",
            },
        )
        if response.status_code != 302:
            raise RuntimeError(f"sign-in of {username} failed with {response.status_code}")
        return client.cookies["spets_session"]


# The load.


async def _connection(port, requests, stop_at, record_from, latencies, errors):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < stop_at:
            path, cookie = requests()
            head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            if cookie:
                head += f"Cookie: spets_session={cookie}\r\n"
            started = time.monotonic()
            writer.write((head + "\r\n").encode())
            await writer.drain()
            status_line = await reader.readline()
            length, close = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _sep, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and "close" in value.lower():
                    close = True
            await reader.readexactly(length)
            finished = time.monotonic()
            if not status_line.startswith(b"HTTP/1.1 200"):
                errors.append(status_line.decode("latin-1").strip())
            elif started >= record_from:
                latencies.append(finished - started)
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _load(port, requests, concurrency, warmup, duration):
    latencies, errors = [], []
    start = time.monotonic()
    record_from, stop_at = start + warmup, start + warmup + duration
    await asyncio.gather(
        *[
            _connection(port, requests, stop_at, record_from, latencies, errors)
            for _ in range(concurrency)
        ]
    )
    return latencies, errors


def measure(port, requests, concurrency, warmup, duration) -> dict:
    latencies, errors = asyncio.run(_load(port, requests, concurrency, warmup, duration))
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[0]}")
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / duration, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
    }


def stop_server(server: subprocess.Popen) -> None:
    """Stop the server and every process it forked."""
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def run_mode(url, folder, cache, processes, args, guardians) -> dict:
    port = args.port + 2 * (processes - 1) + (1 if cache else 0)
    config = write_config(url, folder, cache)
    server = start_server(config, port, args.threads, processes, url)
    try:
        rng = random.Random(SEED)
        chosen = rng.sample(guardians, min(args.guardians, len(guardians)))
        print(f"  signing in {len(chosen)} guardians ...", flush=True)
        sessions = [(g["student_id"], sign_in(port, g["username"])) for g in chosen]
        check = _check_page(port, sessions[0])
        pick = random.Random(SEED + 1)

        def results_request():
            student_id, cookie = pick.choice(sessions)
            return f"/portal/children/{student_id}/results", cookie

        def hello_request():
            return "/hello", None

        def floor_request():
            return "/healthz", None

        print("  bare Pyramid view ...", flush=True)
        bare = measure(port, hello_request, args.concurrency, args.warmup, args.duration)
        print("  app floor (/healthz) ...", flush=True)
        floor = measure(port, floor_request, args.concurrency, args.warmup, args.duration)
        print("  results page ...", flush=True)
        page = measure(port, results_request, args.concurrency, args.warmup, args.duration)
    finally:
        stop_server(server)
    return {
        "bare": bare,
        "app_floor": floor,
        "floor_rps_ratio": round(floor["rps"] / bare["rps"], 3),
        "results_page": page,
        "rps_ratio": round(page["rps"] / bare["rps"], 3),
        "p50_ratio": round(page["p50_ms"] / bare["p50_ms"], 2),
        "p99_ratio": round(page["p99_ms"] / bare["p99_ms"], 2),
        "page_check": check,
    }


def _check_page(port, session) -> dict:
    """Fetch one results page and check it holds published marks and no draft subject."""
    import httpx

    student_id, cookie = session
    response = httpx.get(
        f"http://127.0.0.1:{port}/portal/children/{student_id}/results",
        cookies={"spets_session": cookie},
    )
    marks = re.findall(r'class="mark-value">([\d.]+ / 25)<', response.text)
    if response.status_code != 200 or len(marks) != len(SUBJECTS):
        raise RuntimeError(f"the results page is wrong: {response.status_code}, marks {marks}")
    return {
        "status": response.status_code,
        "marks_shown": len(marks),
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    server_parser = sub.add_parser("serve", help="internal: serve the app for the benchmark")
    server_parser.add_argument("--config", required=True)
    server_parser.add_argument("--port", type=int, required=True)
    server_parser.add_argument("--threads", type=int, default=8)
    server_parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL admin URL")
    parser.add_argument("--schools", type=int, default=20, help="schools to generate")
    parser.add_argument("--students", type=int, default=40, help="students per section")
    parser.add_argument("--guardians", type=int, default=200, help="guardians signed in")
    parser.add_argument("--concurrency", type=int, default=50, help="open connections")
    parser.add_argument("--warmup", type=float, default=5, help="seconds before recording")
    parser.add_argument("--duration", type=float, default=20, help="seconds recorded")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[1, 2],
        help="server processes; each count is measured in turn (1 and 2)",
    )
    parser.add_argument("--port", type=int, default=6591, help="first of the ports used")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.config, args.port, args.threads, args.processes)
        return

    url = create_database(args.admin_url)
    try:
        migrate(url)
        guardians = generate(url, args.schools, args.students)
        with tempfile.TemporaryDirectory() as folder:
            report = {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "load_average": os.getloadavg(),
                },
                "parameters": {
                    k: v for k, v in vars(args).items() if k not in ("command", "output")
                },
                "students": len(guardians),
            }
            report["runs"] = {}
            for processes in args.processes:
                for mode, cache in (("uncached", False), ("cached", True)):
                    name = f"{mode}, {processes} process{'es' if processes > 1 else ''}"
                    print(f"Measuring the results page {name} ...", flush=True)
                    report["runs"][name] = run_mode(
                        url, Path(folder), cache, processes, args, guardians
                    )
            report["load_average_after"] = os.getloadavg()
    finally:
        drop_database(args.admin_url, url)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print()
    print(f"{'run':<24} {'view':<14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}")
    for mode, result in report["runs"].items():
        for name, row, ratio in (
            ("bare Pyramid", result["bare"], 1.0),
            ("app floor", result["app_floor"], result["floor_rps_ratio"]),
            ("results page", result["results_page"], result["rps_ratio"]),
        ):
            print(
                f"{mode:<24} {name:<14} {row['rps']:>8} {row['p50_ms']:>8} {row['p99_ms']:>8} "
                f"{ratio:>6}"
            )
    print(f"\nWritten to {args.output}")


if __name__ == "__main__":
    main()
