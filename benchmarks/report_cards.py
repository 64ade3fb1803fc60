"""Benchmark report cards on PostgreSQL: seconds per card for a section file and one by one.

Run from the repository root (PostgreSQL must accept trust logins on 127.0.0.1:5432):

    .venv/bin/python benchmarks/report_cards.py

The script creates a database named spets_bench_<random tag>, migrates it with Alembic and
fills one section of 60 students (by default) with seven subjects. Every subject has a
published result sheet for each of the year's six exam windows, so the whole-year card
has its widest table, and class positions are switched on. It then times, in Urdu and in
English:

- the section file: gathering the section's cards and rendering them into one PDF;
- the cards one by one: gathering and rendering each student's card as its own PDF;
- the baseline: a one-page PDF with a single line of text in the card's font, rendered
  in the same process, so that the ratio to it can be compared across machines.

Each figure is the median of `--repeats` runs. It prints a table, writes
benchmarks/results/report_cards.json and drops the database, also when a run fails.
"""

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import weasyprint
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session

from spets.db import DATABASE_URL_ENV, make_engine
from spets.models import (
    ExamKind,
    Gender,
    OrgKind,
    ResultOptions,
    Role,
    Section,
    Task,
)
from spets.services import (
    calendar,
    cycles,
    org,
    people,
    report_card_pdf,
    report_cards,
    results,
    users,
)
from spets.services.audit import Actor
from spets.services.report_cards import Term
from spets.services.starter import add_starter_subjects

ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = ROOT / "benchmarks" / "results" / "report_cards.json"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE_PREFIX = "spets_bench_"
SEED = 20261205
ZONE = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()
# The day the cards are printed: after the annual exam of 2026-27, so all six windows closed.
PRINTED_AT = datetime(2027, 3, 29, 9, 0, tzinfo=ZONE).astimezone(UTC)
SUBJECT_CODES = ("URDU", "ENG", "MATH", "PHY", "CHEM", "BIO", "PAKST")
ABSENT_SHARE = 0.02
EXAM_WINDOWS = (
    (
        ExamKind.MONTHLY_ASSESSMENT,
        "Monthly assessment (May)",
        "ماہانہ جائزہ (مئی)",
        (5, 25),
        (5, 30),
    ),
    (
        ExamKind.MONTHLY_ASSESSMENT,
        "Monthly assessment (September)",
        "ماہانہ جائزہ (ستمبر)",
        (9, 24),
        (9, 30),
    ),
    (
        ExamKind.MONTHLY_ASSESSMENT,
        "Monthly assessment (October)",
        "ماہانہ جائزہ (اکتوبر)",
        (10, 26),
        (10, 31),
    ),
    (ExamKind.DECEMBER_TEST, "December test", "دسمبر ٹیسٹ", (12, 7), (12, 19)),
    (
        ExamKind.MONTHLY_ASSESSMENT,
        "Monthly assessment (February)",
        "ماہانہ جائزہ (فروری)",
        (2, 16),
        (2, 21),
    ),
    (ExamKind.ANNUAL_EXAM, "Annual exam", "سالانہ امتحان", (3, 2), (3, 20)),
)
GIVEN_NAMES = (
    ("Ayesha", "عائشہ", Gender.FEMALE),
    ("Fatima", "فاطمہ", Gender.FEMALE),
    ("Zainab", "زینب", Gender.FEMALE),
    ("Maryam", "مریم", Gender.FEMALE),
    ("Ali", "علی", Gender.MALE),
    ("Hamza", "حمزہ", Gender.MALE),
    ("Usman", "عثمان", Gender.MALE),
    ("Bilal", "بلال", Gender.MALE),
)
FAMILY_NAMES = (
    ("Khan", "خان"),
    ("Ahmed", "احمد"),
    ("Qureshi", "قریشی"),
    ("Malik", "ملک"),
    ("Butt", "بٹ"),
    ("Chaudhry", "چوہدری"),
)


# The database.


def create_database(admin_url: str) -> str:
    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:10]}_cards"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return name


def drop_database(admin_url: str, name: str) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def migrate(url: str) -> None:
    os.environ[DATABASE_URL_ENV] = url
    command.upgrade(Config(str(ROOT / "testing.ini")), "head")


# The section and its published results.


def _local(day: date, hour: int) -> datetime:
    return datetime.combine(day, clock_time(hour, 0), ZONE).astimezone(UTC)


def fill_section(session: Session, students: int) -> int:
    """Create one section with `students` students and every sheet of the year published.

    Returns the section's id.
    """
    rng = random.Random(SEED)
    now = PRINTED_AT
    tenant = org.create_unit(
        session,
        parent=None,
        kind=OrgKind.PROVINCE,
        code="PB",
        name_en="Punjab",
        name_ur="پنجاب",
        actor=SYSTEM,
        now=now,
    )
    parent = tenant
    for kind, code, name_en, name_ur in (
        (OrgKind.DIVISION, "DIV-MLT", "Multan", "ملتان"),
        (OrgKind.DISTRICT, "DST-MLT", "Multan", "ملتان"),
        (OrgKind.TEHSIL, "TEH-MLT", "Multan City", "ملتان شہر"),
        (OrgKind.MARKAZ, "MKZ-MLT", "Markaz 1", "مرکز 1"),
    ):
        parent = org.create_unit(
            session,
            parent=parent,
            kind=kind,
            code=code,
            name_en=name_en,
            name_ur=name_ur,
            actor=SYSTEM,
            now=now,
        )
    school = org.create_unit(
        session,
        parent=parent,
        kind=OrgKind.SCHOOL,
        code="36110001",
        name_en="Government High School (Benchmark), Multan",
        name_ur="گورنمنٹ ہائی اسکول (بینچ مارک)، ملتان",
        actor=SYSTEM,
        now=now,
    )
    subjects = {s.code: s for s in add_starter_subjects(session, tenant, actor=SYSTEM, now=now)}
    year = calendar.create_year(session, tenant, 2026, actor=SYSTEM, now=now)
    for kind, name_en, name_ur, first, last in EXAM_WINDOWS:
        start_year = year.starts_on.year + (1 if first[0] < 4 else 0)
        calendar.save_exam_window(
            session,
            year,
            None,
            {
                "kind": kind,
                "name_en": name_en,
                "name_ur": name_ur,
                "starts_on": date(start_year, *first),
                "ends_on": date(start_year, *last),
            },
            version=None,
            actor=SYSTEM,
            now=now,
        )

    head = _user(session, tenant, school, "head.bench", Role.HEAD_TEACHER, year.starts_on, now)
    section = org.create_section(
        session,
        school=school,
        year=year,
        grade=10,
        name="A",
        class_teacher_id=head.id,
        actor=SYSTEM,
        now=now,
    )
    for code in SUBJECT_CODES:
        teacher = _user(
            session, tenant, school, f"teacher.{code.lower()}", Role.TEACHER, year.starts_on, now
        )
        org.assign_teacher(
            session,
            section=section,
            subject=subjects[code],
            teacher=teacher,
            starts_on=year.starts_on,
            actor=SYSTEM,
            now=now,
        )
    for number in range(1, students + 1):
        given_en, given_ur, gender = rng.choice(GIVEN_NAMES)
        family_en, family_ur = rng.choice(FAMILY_NAMES)
        people.admit_student(
            session,
            section=section,
            values={
                "admission_no": str(2000 + number),
                "b_form": None,
                "name_en": f"{given_en} {family_en}",
                "name_ur": f"{given_ur} {family_ur}",
                "father_name_en": f"Muhammad {family_en}",
                "father_name_ur": f"محمد {family_ur}",
                "date_of_birth": date(2011, 1, 1) + timedelta(days=rng.randrange(365)),
                "gender": gender,
            },
            admitted_on=year.starts_on,
            actor=SYSTEM,
            now=now,
        )

    cycles.add_result_entry_definition(session, tenant, actor=SYSTEM, now=now)
    for window in year.exam_windows:
        cycles.tick(session, _local(window.ends_on + timedelta(days=1), 0))
    for task in session.scalars(sa.select(Task).order_by(Task.id)):
        _publish(session, task, head, rng)
    session.add(ResultOptions(tenant_id=tenant.id, show_class_position=True))
    session.flush()
    return section.id


def _user(session, tenant, school, username, role, valid_from, now):
    user = users.create_user(
        session,
        tenant_id=tenant.id,
        values={
            "username": username,
            "display_name": username,
            "display_name_ur": "",
            "locale": "en",
        },
        password=uuid.uuid4().hex,
        actor=SYSTEM,
        now=now,
    )
    users.assign_role(
        session,
        user=user,
        role=role,
        org_unit=school,
        valid_from=valid_from,
        valid_to=None,
        actor=SYSTEM,
        now=now,
    )
    return user


def _publish(session: Session, task: Task, head, rng: random.Random) -> None:
    when = _local(task.due_on, 11)
    sheet = results.sheet_for_task(session, task, when)
    steps = int(sheet.max_marks / sheet.step)
    typed = {}
    for row in results.roll(session, sheet):
        if rng.random() < ABSENT_SHARE:
            typed[row.student.id] = "A"
        else:
            typed[row.student.id] = str(rng.randint(steps // 4, steps) * sheet.step)
    teacher = Actor(task.assignee_id)
    results.save_marks(session, sheet, typed, lock_version=None, actor=teacher, now=when)
    results.submit_sheet(session, sheet, actor=teacher, now=when)
    results.verify_sheet(session, sheet, actor=Actor(head.id), now=when)
    results.publish_sheet(session, sheet, actor=Actor(head.id), now=when)


# Timing.


def _median_seconds(function, repeats: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def baseline_page(locale: str) -> bytes:
    """Render a one-page PDF with one line in the card's font: the cost of any page at all."""
    face = report_card_pdf.URDU_FACE if locale == "ur" else report_card_pdf.LATIN_FACE
    text = "رپورٹ کارڈ" if locale == "ur" else "Report card"
    page = (
        f'<html lang="{locale}"><body style="font-family: \'{face}\'"><p>{text}</p></body></html>'
    )
    return weasyprint.HTML(string=page).write_pdf()


def page_count(pdf: bytes) -> int:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        info = subprocess.run(["pdfinfo", handle.name], capture_output=True, text=True, check=True)
    return int(
        next(line for line in info.stdout.splitlines() if line.startswith("Pages:")).split()[1]
    )


def measure(session_factory, section_id: int, locale: str, repeats: int) -> dict:
    printed_on = PRINTED_AT.astimezone(ZONE).date()
    baseline_page(locale)  # the first page of a process also loads the fonts: not timed
    baseline, _pdf = _median_seconds(lambda: baseline_page(locale), repeats)

    def section_file():
        with session_factory() as session:
            section = session.get(Section, section_id)
            started = time.perf_counter()
            cards = report_cards.section_cards(session, section, Term.YEAR)
            gathered = time.perf_counter() - started
            return gathered, report_card_pdf.render_pdf(cards, locale, printed_on)

    section_seconds, (gather_seconds, pdf) = _median_seconds(section_file, repeats)
    cards_in_file = page_count(pdf)

    def one_by_one():
        with session_factory() as session:
            section = session.get(Section, section_id)
            students = [
                card.student
                for card in report_cards.section_cards(session, section, Term.YEAR).cards
            ]
            for student in students:
                cards = report_cards.student_card(
                    session, student, section.academic_year, Term.YEAR
                )
                report_card_pdf.render_pdf(cards, locale, printed_on)
            return len(students)

    single_seconds, singles = _median_seconds(one_by_one, repeats)
    return {
        "locale": locale,
        "cards": cards_in_file,
        "baseline_page_s": baseline,
        "section_file_s": section_seconds,
        "section_gather_s": gather_seconds,
        "section_s_per_card": section_seconds / cards_in_file,
        "one_by_one_s": single_seconds,
        "one_by_one_s_per_card": single_seconds / singles,
        "section_per_card_vs_baseline": section_seconds / cards_in_file / baseline,
        "one_by_one_per_card_vs_baseline": single_seconds / singles / baseline,
    }


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "weasyprint": weasyprint.__version__,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--admin-url",
        default=DEFAULT_ADMIN_URL,
        help="server URL of a role that may create databases",
    )
    parser.add_argument(
        "--students", type=int, default=60, help="students in the section (default 60)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs of each timing; the median is reported (default 3)",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS_PATH, help="where to write the JSON results"
    )
    args = parser.parse_args(argv)

    name = create_database(args.admin_url)
    url = (
        sa.engine.make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    )
    print(f"database {name}", file=sys.stderr)
    try:
        migrate(url)
        engine = make_engine({"sqlalchemy.url": url})
        with Session(engine) as session:
            started = time.perf_counter()
            section_id = fill_section(session, args.students)
            session.commit()
            print(f"filled in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        with engine.connect() as connection:
            server = connection.exec_driver_sql("SHOW server_version").scalar()

        factory = lambda: Session(engine)  # noqa: E731
        load_before = os.getloadavg()
        rows = [measure(factory, section_id, locale, args.repeats) for locale in ("ur", "en")]
        engine.dispose()
    finally:
        drop_database(args.admin_url, name)

    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "students": args.students,
        "repeats": args.repeats,
        "postgresql": server,
        "machine": {**machine(), "load_average_before": load_before},
        "results": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2), encoding="utf-8")

    print(
        f"{'lang':4} {'cards':>5} {'baseline s':>10} {'file s':>7} {'gather s':>8} "
        f"{'file s/card':>11} {'1-by-1 s/card':>13} {'file/base':>9} {'1-by-1/base':>11}"
    )
    for row in rows:
        print(
            f"{row['locale']:4} {row['cards']:>5} {row['baseline_page_s']:>10.3f} "
            f"{row['section_file_s']:>7.2f} {row['section_gather_s']:>8.3f} "
            f"{row['section_s_per_card']:>11.3f} {row['one_by_one_s_per_card']:>13.3f} "
            f"{row['section_per_card_vs_baseline']:>9.1f} {row['one_by_one_per_card_vs_baseline']:>11.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
