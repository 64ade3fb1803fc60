"""Report cards through the web app: PDFs in English and Urdu, sections, access, positions.

The Urdu card's text is read back with poppler's `pdftotext` (without -layout), and its
first page is saved as test-artifacts/report-card-ur.png for a person to look at.
"""

import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from spets.models import AuditAction, AuditEvent, ExamKind, ResultOptions, Task, User
from spets.services import calendar, cycles, org, results
from spets.services.audit import Actor

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
KARACHI = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()
# Embedding and isolate marks that pdftotext puts around right-to-left and numeric runs.
BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


def pdf_text(body: bytes, tmp_path: Path) -> str:
    path = tmp_path / "card.pdf"
    path.write_bytes(body)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    ).stdout.decode("utf-8")
    return BIDI_CONTROLS.sub("", text)


def page_count(body: bytes, tmp_path: Path) -> int:
    path = tmp_path / "cards.pdf"
    path.write_bytes(body)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return int(re.search(r"^Pages:\s+(\d+)$", info.stdout, re.MULTILINE).group(1))


def enter_marks(w, window, subject_code, marks_by_name, *, publish=True):
    """Enter the section's marks for the window and subject, and publish them if `publish`."""
    task = next(
        task
        for task in w.session.scalars(
            select(Task).where(
                Task.section_id == w.section_a9.id, Task.subject_id == w.subjects[subject_code].id
            )
        )
        if task.cycle_run.exam_window_id == window.id
    )
    sheet = results.sheet_for_task(w.session, task, w.now)
    typed = {
        row.student.id: marks_by_name[row.student.name_en] for row in results.roll(w.session, sheet)
    }
    teacher, head = Actor(task.assignee_id), Actor(w.head_a.id)
    results.save_marks(w.session, sheet, typed, lock_version=None, actor=teacher, now=w.now)
    if not publish:
        return sheet
    results.submit_sheet(w.session, sheet, actor=teacher, now=w.now)
    results.verify_sheet(w.session, sheet, actor=head, now=w.now)
    results.publish_sheet(w.session, sheet, actor=head, now=w.now)
    return sheet


@pytest.fixture
def cards_world(world):
    """Section 9-A: Mathematics published for October (then amended), Urdu left a draft."""
    w = world
    w.october = calendar.save_exam_window(
        w.session,
        w.year,
        None,
        {
            "kind": ExamKind.MONTHLY_ASSESSMENT,
            "name_en": "Monthly assessment (October)",
            "name_ur": "ماہانہ جائزہ (اکتوبر)",
            "starts_on": date(2026, 10, 26),
            "ends_on": date(2026, 10, 31),
        },
        version=None,
        actor=SYSTEM,
        now=w.now,
    )

    org.assign_teacher(
        w.session,
        section=w.section_a9,
        subject=w.subjects["URDU"],
        teacher=w.class_teacher_a9,
        starts_on=w.year.starts_on,
        actor=SYSTEM,
        now=w.now,
    )
    w.extra = [w.admit(w.section_a9, "R01", "Bushra Ali", "بشریٰ علی")]

    cycles.add_result_entry_definition(w.session, w.tenant, actor=SYSTEM, now=w.now)
    cycles.tick(w.session, local(2026, 11, 2, 0, 15))
    w.math = enter_marks(w, w.october, "MATH", {"Ayesha Khan": "17.5", "Bushra Ali": "10"})
    enter_marks(w, w.october, "URDU", {"Ayesha Khan": "24", "Bushra Ali": "24"}, publish=False)

    amendment = results.request_amendment(
        w.session,
        w.math,
        w.extra[0].id,
        "12.5",
        "Two answers were left unmarked.",
        actor=Actor(w.subject_teacher_a9.id),
        now=w.now,
    )
    results.decide_amendment(w.session, amendment, True, "", actor=Actor(w.head_a.id), now=w.now)
    w.session.flush()
    return w


def card_url(w, student=None, **params):
    student = student or w.student_a9
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/students/{student.id}/report-card.pdf" + (f"?{query}" if query else "")


def test_english_card_shows_published_marks(testapp, cards_world, tmp_path):
    w = cards_world
    testapp.login("head.a")
    response = testapp.get(card_url(w, lang="en"))
    assert response.content_type == "application/pdf"
    assert (
        'filename="report-card-A901-2026-27-year-en.pdf"' in response.headers["Content-Disposition"]
    )
    text = pdf_text(response.body, tmp_path)
    assert "Report card" in text
    assert "Ayesha Khan" in text
    assert "Mathematics" in text
    assert "17.5/25" in text
    assert "70.0%" in text


def test_draft_marks_not_on_card(testapp, cards_world, tmp_path):
    w = cards_world
    testapp.login("head.a")
    text = pdf_text(testapp.get(card_url(w, lang="en")).body, tmp_path)
    assert "Urdu" in text
    assert "24/25" not in text  # the Urdu draft


def test_card_shows_amended_mark(testapp, cards_world, tmp_path):
    w = cards_world
    testapp.login("head.a")
    text = pdf_text(testapp.get(card_url(w, w.extra[0], lang="en")).body, tmp_path)
    assert "12.5/25" in text
    assert "10/25" not in text


def test_reader_language_is_default(testapp, cards_world, tmp_path):
    w = cards_world
    testapp.login("head.a")
    assert "Report card" in pdf_text(testapp.get(card_url(w)).body, tmp_path)
    user = w.session.scalar(select(User).where(User.username == "head.a"))
    user.locale = "ur"
    w.session.flush()
    testapp.login("head.a")
    assert "رپورٹ کارڈ" in pdf_text(testapp.get(card_url(w)).body, tmp_path)


def test_urdu_card_text_in_logical_order(testapp, cards_world, tmp_path):
    w = cards_world
    testapp.login("head.a")
    response = testapp.get(card_url(w, lang="ur", term="second"))
    text = pdf_text(response.body, tmp_path)
    for expected in (
        "رپورٹ کارڈ",
        "عائشہ خان",
        "محمد اسلم",
        "ریاضی",
        "اردو",
        "دوسری ٹرم (اکتوبر تا مارچ)",
        "ماہانہ جائزہ (اکتوبر)",
        "والد کا نام",
        "صرف شائع شدہ نمبر دکھائے گئے ہیں۔",
    ):
        assert expected in text, expected
    assert "17.5/25" in text  # numbers stay left to right

    ARTIFACTS.mkdir(exist_ok=True)
    pdf = tmp_path / "report-card-ur.pdf"
    pdf.write_bytes(response.body)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "80",
            "-singlefile",
            str(pdf),
            str(ARTIFACTS / "report-card-ur"),
        ],
        check=True,
    )
    assert (ARTIFACTS / "report-card-ur.png").stat().st_size > 10_000


def test_section_pdf_one_page_per_student(testapp, cards_world, tmp_path):
    w = cards_world
    testapp.login("class.a9")
    response = testapp.get(f"/sections/{w.section_a9.id}/report-cards.pdf?lang=en")
    assert response.content_type == "application/pdf"
    assert page_count(response.body, tmp_path) == 2
    text = pdf_text(response.body, tmp_path)
    assert "Ayesha Khan" in text
    assert "Bushra Ali" in text


def test_section_pdf_first_term_without_exams(testapp, cards_world, tmp_path):
    w = cards_world
    testapp.login("head.a")
    response = testapp.get(f"/sections/{w.section_a9.id}/report-cards.pdf?term=first&lang=en")
    text = pdf_text(response.body, tmp_path)
    assert "No exam of this term is in the calendar yet." in text


@pytest.mark.parametrize("username", ["head.a", "class.a9", "subject.a9", "aeo.a"])
def test_staff_in_scope_get_cards(testapp, cards_world, username):
    w = cards_world
    testapp.login(username)
    assert testapp.get(card_url(w)).content_type == "application/pdf"
    section_file = testapp.get(f"/sections/{w.section_a9.id}/report-cards.pdf")
    assert section_file.content_type == "application/pdf"


@pytest.mark.parametrize("username", ["head.b", "teacher.b9", "health.a", "admin.net"])
def test_outside_scope_gets_404(testapp, cards_world, username):
    w = cards_world
    testapp.login(username)
    testapp.get(card_url(w), status=404)
    testapp.get(f"/sections/{w.section_a9.id}/report-cards.pdf", status=404)


def test_anonymous_sent_to_login(testapp, cards_world):
    response = testapp.get(card_url(cards_world), status=302)
    assert "/login" in response.location


def test_position_off_by_default(testapp, cards_world, tmp_path):
    w = cards_world
    testapp.login("head.a")
    text = pdf_text(testapp.get(card_url(w, lang="en")).body, tmp_path)
    assert "Position in class" not in text


def test_position_shown_when_enabled(testapp, cards_world, tmp_path):
    w = cards_world
    w.session.add(ResultOptions(tenant_id=w.tenant.id, show_class_position=True))
    w.session.flush()
    testapp.login("head.a")
    text = pdf_text(testapp.get(card_url(w, lang="en")).body, tmp_path)
    assert "Position in class: 1 of 2" in text


@pytest.mark.parametrize(
    ("query", "status"),
    [("term=winter", 400), ("lang=fr", 400), ("year=1999-00", 404), ("year=2026-27", 200)],
)
def test_parameters_checked(testapp, cards_world, query, status):
    w = cards_world
    testapp.login("head.a")
    testapp.get(f"/students/{w.student_a9.id}/report-card.pdf?{query}", status=status)


def test_pending_amendment_not_on_card(testapp, cards_world, tmp_path):
    w = cards_world
    results.request_amendment(
        w.session,
        w.math,
        w.student_a9.id,
        "20",
        "Re-counted the last page.",
        actor=Actor(w.subject_teacher_a9.id),
        now=w.now,
    )
    w.session.flush()
    testapp.login("head.a")
    text = pdf_text(testapp.get(card_url(w, lang="en")).body, tmp_path)
    assert "17.5/25" in text
    assert "20/25" not in text


def test_card_download_audited(testapp, cards_world):
    w = cards_world
    testapp.login("class.a9")
    testapp.get(card_url(w, lang="ur", term="second"))
    testapp.get(f"/sections/{w.section_a9.id}/report-cards.pdf?lang=en")
    events = w.session.execute(
        select(
            AuditEvent.entity_type, AuditEvent.entity_id, AuditEvent.student_id, AuditEvent.reason
        )
        .where(
            AuditEvent.action == AuditAction.EXPORT, AuditEvent.actor_id == w.class_teacher_a9.id
        )
        .order_by(AuditEvent.id)
    ).all()
    assert events == [
        ("report_card", w.student_a9.id, w.student_a9.id, "PDF in ur; 2026-27 second; 1 card(s)"),
        ("section_report_cards", w.section_a9.id, None, "PDF in en; 2026-27 year; 2 card(s)"),
    ]


def test_refused_card_not_audited(testapp, cards_world):
    w = cards_world
    testapp.login("head.b")
    testapp.get(card_url(w), status=404)
    exported = w.session.scalar(
        select(AuditEvent.id).where(AuditEvent.entity_type == "report_card")
    )
    assert exported is None


def test_section_results_page_links_cards(testapp, cards_world):
    w = cards_world
    testapp.login("class.a9")
    page = testapp.get(f"/sections/{w.section_a9.id}/results")
    links = {a["href"] for a in page.html.select("#report-cards a")}
    base = f"http://localhost/sections/{w.section_a9.id}/report-cards.pdf"
    assert f"{base}?term=year&lang=ur" in links
    assert f"{base}?term=first&lang=en" in links
    assert len(links) == 6
    testapp.get(f"{base}?term=second&lang=ur")


def test_profile_panel_links_cards(testapp, cards_world):
    w = cards_world
    testapp.login("subject.a9")
    page = testapp.get(f"/students/{w.student_a9.id}")
    links = [a["href"] for a in page.html.select("#report-card-links a")]
    assert len(links) == 6  # one year with published marks: three terms in two languages
    assert (
        f"http://localhost/students/{w.student_a9.id}/report-card.pdf"
        "?year=2026-27&term=second&lang=ur"
    ) in links
    assert testapp.get(links[0]).content_type == "application/pdf"
