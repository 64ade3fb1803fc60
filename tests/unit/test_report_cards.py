"""Report cards: terms, published marks only, totals and grades, positions, queries, HTML."""

import re
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from spets.models import ExamKind, MarkStatus, ResultOptions, Task
from spets.services import calendar, cycles, org, report_card_pdf, report_cards, results
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, NotFound
from spets.services.report_cards import Term

KARACHI = ZoneInfo("Asia/Karachi")
SYSTEM = Actor.system()
D = Decimal


def local(*args) -> datetime:
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


def exam_window(w, name_en, name_ur, starts_on, ends_on):
    return calendar.save_exam_window(
        w.session,
        w.year,
        None,
        {
            "kind": ExamKind.MONTHLY_ASSESSMENT,
            "name_en": name_en,
            "name_ur": name_ur,
            "starts_on": starts_on,
            "ends_on": ends_on,
        },
        version=None,
        actor=SYSTEM,
        now=w.now,
    )


def sheet_of(w, window, subject_code):
    task = w.session.scalars(
        select(Task).where(
            Task.section_id == w.section_a9.id,
            Task.subject_id == w.subjects[subject_code].id,
        )
    ).all()
    task = next(t for t in task if t.cycle_run.exam_window_id == window.id)
    return results.sheet_for_task(w.session, task, w.now)


def typed_by_name(w, sheet, marks_by_name: dict[str, str]) -> dict[int, str]:
    return {
        row.student.id: marks_by_name[row.student.name_en]
        for row in results.roll(w.session, sheet)
        if row.student.name_en in marks_by_name
    }


def publish(w, sheet, marks_by_name):
    teacher = Actor(w.session.get(Task, sheet.task_id).assignee_id)
    typed = typed_by_name(w, sheet, marks_by_name)
    results.save_marks(w.session, sheet, typed, lock_version=None, actor=teacher, now=w.now)
    results.submit_sheet(w.session, sheet, actor=teacher, now=w.now)
    results.verify_sheet(w.session, sheet, actor=w.head, now=w.now)
    results.publish_sheet(w.session, sheet, actor=w.head, now=w.now)


@pytest.fixture
def cards_world(world):
    """Section 9-A of School A with four students, Mathematics published in September and
    October (October amended once), and Urdu typed in October but left a draft."""
    w = world
    w.head = Actor(w.head_a.id)
    w.september = exam_window(
        w,
        "Monthly assessment (September)",
        "ماہانہ جائزہ (ستمبر)",
        date(2026, 9, 24),
        date(2026, 9, 30),
    )
    w.october = exam_window(
        w,
        "Monthly assessment (October)",
        "ماہانہ جائزہ (اکتوبر)",
        date(2026, 10, 26),
        date(2026, 10, 31),
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
    w.extra = [
        w.admit(w.section_a9, f"R{n:02d}", f"Student {chr(66 + n)}", f"طالب علم {n}")
        for n in range(3)
    ]
    cycles.add_result_entry_definition(w.session, w.tenant, actor=SYSTEM, now=w.now)
    cycles.tick(w.session, local(2026, 10, 1, 0, 15))
    cycles.tick(w.session, local(2026, 11, 2, 0, 15))

    w.math_september = sheet_of(w, w.september, "MATH")
    w.math_october = sheet_of(w, w.october, "MATH")
    w.urdu_october = sheet_of(w, w.october, "URDU")
    publish(
        w,
        w.math_september,
        {"Ayesha Khan": "20", "Student B": "15", "Student C": "A", "Student D": "9"},
    )
    publish(
        w,
        w.math_october,
        {"Ayesha Khan": "17.5", "Student B": "20", "Student C": "5", "Student D": "10"},
    )
    student_d = w.extra[2]
    amendment = results.request_amendment(
        w.session,
        w.math_october,
        student_d.id,
        "12.5",
        "Two answers were left unmarked.",
        actor=Actor(w.subject_teacher_a9.id),
        now=w.now,
    )
    results.decide_amendment(w.session, amendment, True, "", actor=w.head, now=w.now)
    results.save_marks(
        w.session,
        w.urdu_october,
        typed_by_name(
            w,
            w.urdu_october,
            {"Ayesha Khan": "25", "Student B": "25", "Student C": "25", "Student D": "25"},
        ),
        lock_version=None,
        actor=Actor(w.class_teacher_a9.id),
        now=w.now,
    )
    w.session.flush()
    return w


def card_of(cards, name_en):
    return next(card for card in cards.cards if card.student.name_en == name_en)


def line_of(card, subject_code, w):
    return next(line for line in card.lines if line.subject_id == w.subjects[subject_code].id)


# Terms.


def test_term_dates_split_year_in_halves(world):
    assert report_cards.term_dates(world.year, Term.FIRST) == (date(2026, 4, 1), date(2026, 9, 30))
    assert report_cards.term_dates(world.year, Term.SECOND) == (
        date(2026, 10, 1),
        date(2027, 3, 31),
    )
    assert report_cards.term_dates(world.year, Term.YEAR) == (date(2026, 4, 1), date(2027, 3, 31))


def test_parse_term_values():
    assert report_cards.parse_term(None) == Term.YEAR
    assert report_cards.parse_term("") == Term.YEAR
    assert report_cards.parse_term("first") == Term.FIRST
    assert report_cards.parse_term("second") == Term.SECOND
    with pytest.raises(InvalidInput) as caught:
        report_cards.parse_term("winter")
    assert '"winter" is not a term' in caught.value.message.interpolate()


def test_exams_follow_term(cards_world):
    w = cards_world
    first = report_cards.section_cards(w.session, w.section_a9, Term.FIRST)
    second = report_cards.section_cards(w.session, w.section_a9, Term.SECOND)
    whole = report_cards.section_cards(w.session, w.section_a9, Term.YEAR)
    assert [exam.window_id for exam in first.exams] == [w.september.id]
    assert [exam.window_id for exam in second.exams] == [w.october.id]
    assert [exam.window_id for exam in whole.exams] == [w.september.id, w.october.id]


# Published marks only.


def test_draft_marks_never_appear(cards_world):
    w = cards_world
    cards = report_cards.section_cards(w.session, w.section_a9, Term.YEAR)
    for card in cards.cards:
        urdu = line_of(card, "URDU", w)
        assert urdu.papers == {}
        assert urdu.score is None


def test_amendment_shows_new_value(cards_world):
    w = cards_world
    card = card_of(report_cards.section_cards(w.session, w.section_a9, Term.SECOND), "Student D")
    paper = line_of(card, "MATH", w).papers[w.october.id]
    assert (paper.status, paper.marks) == (MarkStatus.ENTERED, D("12.50"))


def test_papers_match_published_marks(cards_world):
    """The section-wide query reads what `results.published_marks` reads for each student."""
    w = cards_world
    cards = report_cards.section_cards(w.session, w.section_a9, Term.YEAR)
    for card in cards.cards:
        expected = {
            (sheet.subject_id, sheet.exam_window_id): (mark.status, mark.marks)
            for sheet, mark in results.published_marks(w.session, card.student.id)
        }
        found = {
            (line.subject_id, window_id): (paper.status, paper.marks)
            for line in card.lines
            for window_id, paper in line.papers.items()
        }
        assert found == expected


# Totals, percentages and grades.


def test_totals_percent_and_grade(cards_world):
    w = cards_world
    card = card_of(report_cards.section_cards(w.session, w.section_a9, Term.YEAR), "Ayesha Khan")
    math = line_of(card, "MATH", w)
    assert (math.score.obtained, math.score.maximum) == (D("37.50"), D("50.00"))
    assert (math.score.percent, math.score.grade) == (D("75.0"), "A")
    assert (card.total.obtained, card.total.maximum, card.total.percent) == (
        D("37.50"),
        D("50.00"),
        D("75.0"),
    )


def test_absent_counts_as_zero(cards_world):
    w = cards_world
    card = card_of(report_cards.section_cards(w.session, w.section_a9, Term.YEAR), "Student C")
    math = line_of(card, "MATH", w)
    assert math.papers[w.september.id].status == MarkStatus.ABSENT
    assert (math.score.obtained, math.score.maximum) == (D("5.00"), D("50.00"))
    assert (math.score.percent, math.score.grade) == (D("10.0"), "F")


def test_term_totals_use_only_term_papers(cards_world):
    w = cards_world
    first = card_of(report_cards.section_cards(w.session, w.section_a9, Term.FIRST), "Ayesha Khan")
    second = card_of(
        report_cards.section_cards(w.session, w.section_a9, Term.SECOND), "Ayesha Khan"
    )
    assert (first.total.percent, first.total.grade) == (D("80.0"), "A-1")
    assert (second.total.percent, second.total.grade) == (D("70.0"), "A")


def test_tenant_grade_scale_used(cards_world):
    w = cards_world
    results.save_grade_scale(
        w.session,
        w.tenant.id,
        [results.grading.Band("Pass", D(40), True), results.grading.Band("Fail", D(0), False)],
        actor=SYSTEM,
        now=w.now,
    )
    card = card_of(report_cards.section_cards(w.session, w.section_a9, Term.YEAR), "Student D")
    assert (card.total.percent, card.total.grade) == (D("43.0"), "Pass")


# Class position.


def test_position_off_by_default(cards_world):
    w = cards_world
    cards = report_cards.section_cards(w.session, w.section_a9, Term.YEAR)
    assert cards.show_position is False
    assert [card.position for card in cards.cards] == [None] * 4


def test_position_when_enabled(cards_world):
    w = cards_world
    w.session.add(ResultOptions(tenant_id=w.tenant.id, show_class_position=True))
    w.session.flush()
    cards = report_cards.section_cards(w.session, w.section_a9, Term.YEAR)
    positions = {card.student.name_en: card.position for card in cards.cards}
    # Ayesha 75.0 %, B 70.0 %, D 43.0 %, C 10.0 %.
    assert positions == {"Ayesha Khan": 1, "Student B": 2, "Student D": 3, "Student C": 4}
    assert cards.ranked == 4


def test_equal_percent_shares_position():
    def card(percent):
        return report_cards.Card(
            student=None, lines=[], total=report_cards.Score(D(0), D(1), D(percent), "")
        )

    cards = [card("70.0"), card("85.5"), card("70.0"), card("60.0"), report_cards.Card(None, [])]
    assert report_cards._rank(cards) == 4
    assert [c.position for c in cards] == [2, 1, 2, 4, None]


def test_student_card_positions_count_whole_section(cards_world):
    w = cards_world
    w.session.add(ResultOptions(tenant_id=w.tenant.id, show_class_position=True))
    w.session.flush()
    cards = report_cards.student_card(w.session, w.extra[2], w.year, Term.YEAR)
    assert [card.student.name_en for card in cards.cards] == ["Student D"]
    assert (cards.cards[0].position, cards.ranked) == (3, 4)


def test_student_card_outside_year_not_found(cards_world):
    w = cards_world
    earlier = calendar.create_year(w.session, w.tenant, 2025, actor=SYSTEM, now=w.now)
    with pytest.raises(NotFound):
        report_cards.student_card(w.session, w.student_a9, earlier, Term.YEAR)


def test_find_year_by_label(world):
    assert report_cards.find_year(world.session, world.tenant.id, "2026-27") == world.year
    with pytest.raises(NotFound):
        report_cards.find_year(world.session, world.tenant.id, "1999-00")


# Queries.


def test_query_count_independent_of_section_size(cards_world, connection):
    w = cards_world
    counts = []
    for size in (4, 30):
        enrolled = len(report_cards.section_cards(w.session, w.section_a9, Term.YEAR).cards)
        for n in range(size - enrolled):
            w.admit(w.section_a9, f"Q{size}-{n}", f"Filler {size} {n:02d}", "طالب علم")
        w.session.flush()
        w.session.expire_all()
        statements = []

        def count(*args, statements=statements):
            statements.append(1)

        event.listen(connection, "before_cursor_execute", count)
        try:
            cards = report_cards.section_cards(w.session, w.section_a9, Term.YEAR)
        finally:
            event.remove(connection, "before_cursor_execute", count)
        assert len(cards.cards) == size
        counts.append(len(statements))
    assert counts[0] == counts[1]


# HTML and PDF.


def test_html_escapes_every_value(cards_world):
    w = cards_world
    w.student_a9.name_en = "<script>alert('x')</script> & Co"
    w.school_a.name_en = 'School "A" <b>'
    w.session.flush()
    cards = report_cards.student_card(w.session, w.student_a9, w.year, Term.YEAR)
    page = report_card_pdf.render_html(cards, "en", date(2026, 12, 4))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in page
    assert "School &quot;A&quot; &lt;b&gt;" in page


def test_urdu_html_right_to_left_with_named_fonts(cards_world):
    w = cards_world
    cards = report_cards.student_card(w.session, w.student_a9, w.year, Term.YEAR)
    page = report_card_pdf.render_html(cards, "ur", date(2026, 12, 4))
    assert '<html lang="ur" dir="rtl">' in page
    assert 'font-family: "Noto Naskh Arabic", "Noto Sans"' in page
    assert "عائشہ خان" in page
    assert '<span class="num" dir="ltr">17.5/25</span>' in page


def test_english_html_left_to_right(cards_world):
    w = cards_world
    cards = report_cards.student_card(w.session, w.student_a9, w.year, Term.YEAR)
    page = report_card_pdf.render_html(cards, "en", date(2026, 12, 4))
    assert '<html lang="en" dir="ltr">' in page
    assert "Ayesha Khan" in page
    assert "Issued on 04/12/2026" in page


def test_empty_section_renders_one_page(world):
    cards = report_cards.section_cards(world.session, world.section_b9, Term.FIRST)
    cards.cards = []
    page = report_card_pdf.render_html(cards, "en", date(2026, 12, 4))
    assert "No student was enrolled in this section during the term." in page


def test_fetcher_rejects_network_and_outside_files(tmp_path):
    inside = tmp_path / "inside.css"
    inside.write_text("p { color: red }", encoding="utf-8")
    fetcher = report_card_pdf.LocalFilesOnly(tmp_path)
    response = fetcher.fetch(inside.as_uri())
    assert response.read() == b"p { color: red }"
    response.close()
    with pytest.raises(ValueError, match="only local files"):
        fetcher.fetch("http://127.0.0.1:9/style.css")
    with pytest.raises(ValueError, match="only files under"):
        fetcher.fetch(Path("/etc/hostname").as_uri())


def test_pdf_has_one_page_per_student(cards_world, tmp_path):
    w = cards_world
    cards = report_cards.section_cards(w.session, w.section_a9, Term.YEAR)
    pdf = tmp_path / "cards.pdf"
    pdf.write_bytes(report_card_pdf.render_pdf(cards, "en", date(2026, 12, 4)))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+4$", info, re.MULTILINE)
