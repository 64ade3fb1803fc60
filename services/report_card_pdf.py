"""Report cards as HTML and PDF, in English or Urdu, rendered with WeasyPrint.

Every value from the database goes through `html.escape`, so a name can never add markup.
Urdu cards run right to left in Noto Naskh Arabic, and their numbers stay left to right in
Noto Sans. Both faces come with Debian's fonts-noto-core.

NOTE: Noto Nastaliq Urdu would look better, but WeasyPrint (checked with 70.0) maps each
glyph of a font to one piece of text, and that face draws letter bodies and dots as
glyphs shared by several letters. Its PDFs look right, but their text layer is garbled, so
copying, searching and screen readers get wrong text. Naskh keeps the text layer correct.
"""

import html
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from weasyprint import HTML
from weasyprint.urls import URLFetcher

from spets.i18n import RTL_LOCALES, _, translate
from spets.models import MarkStatus
from spets.services import grading
from spets.services.report_cards import Card, Paper, Score, SectionCards

# The only folder a card may load files from: the web app's public static files.
ASSET_ROOT = Path(__file__).resolve().parent.parent / "webapp" / "static"
PLACEHOLDER = "—"  # a subject or paper not published yet

URDU_FACE = "Noto Naskh Arabic"
LATIN_FACE = "Noto Sans"

# Widths of the marks table's columns in percent of the page: the subject, then the total,
# percentage and grade. The exams share the rest.
SUBJECT_WIDTH = 15
SCORE_WIDTHS = (11, 10, 7)

LABELS = {
    "title": _("card_title", default="Report card"),
    "year": _("card_academic_year", default="Academic year"),
    "student": _("card_student", default="Student"),
    "father": _("card_father_name", default="Father's name"),
    "admission": _("card_admission_no", default="Admission number"),
    "class": _("card_class", default="Class"),
    "subject": _("card_subject", default="Subject"),
    "total": _("card_total", default="Total"),
    "percent": _("card_percentage", default="Percentage"),
    "grade": _("card_grade", default="Grade"),
    "absent": _("card_absent", default="Absent"),
    "class_teacher": _("card_class_teacher_signature", default="Class teacher"),
    "head_teacher": _("card_head_teacher_signature", default="Head teacher"),
    "note_published": _(
        "card_note_published",
        default="Only published marks are shown. A dash (—) means not published yet.",
    ),
    "note_absent": _(
        "card_note_absent",
        default="A paper the student was absent from counts as 0 marks in the totals.",
    ),
    "no_exams": _("card_no_exams", default="No exam of this term is in the calendar yet."),
    "no_students": _(
        "card_no_students", default="No student was enrolled in this section during the term."
    ),
}


class LocalFilesOnly(URLFetcher):
    """A WeasyPrint URL fetcher that reads only files under `root` and rejects every other URL."""

    def __init__(self, root: Path):
        super().__init__(allowed_protocols=("file",), allow_redirects=False)
        self.root = root.resolve()

    def fetch(self, url, headers=None):
        parts = urlsplit(url)
        if parts.scheme != "file":
            raise ValueError(f"rejected {url!r}: report cards load only local files")
        path = Path(url2pathname(parts.path)).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"rejected {path}: report cards load only files under {self.root}")
        return super().fetch(url, headers)


def render_pdf(cards: SectionCards, locale: str, issued_on: date) -> bytes:
    """Render one page per card into a single PDF."""
    document = HTML(
        string=render_html(cards, locale, issued_on),
        base_url=ASSET_ROOT.as_uri() + "/",
        url_fetcher=LocalFilesOnly(ASSET_ROOT),
    )
    return document.write_pdf()


def render_html(cards: SectionCards, locale: str, issued_on: date) -> str:
    """Build the HTML of the cards: one `<section>` per student, each on its own page."""
    t = _translator(locale)
    direction = "rtl" if locale in RTL_LOCALES else "ltr"
    title = t(LABELS["title"])
    if len(cards.cards) == 1:
        title = f"{title}: {cards.cards[0].student.name(locale)}"
    pages = "\n".join(_card_html(cards, card, locale, t, issued_on) for card in cards.cards)
    if not cards.cards:
        pages = f'<section class="card"><p>{_e(t(LABELS["no_students"]))}</p></section>'
    return (
        f'<!DOCTYPE html>\n<html lang="{_e(locale)}" dir="{direction}">\n<head>\n'
        f'<meta charset="utf-8">\n<title>{_e(title)}</title>\n'
        f"<style>{_stylesheet(locale)}</style>\n</head>\n<body>\n{pages}\n</body>\n</html>\n"
    )


def _translator(locale: str) -> Callable[[object], str]:
    return lambda message: translate(message, locale)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(text: str) -> str:
    """Mark a number so that it keeps the Latin face and its left-to-right order."""
    return f'<span class="num" dir="ltr">{_e(text)}</span>'


def _plain(value) -> str:
    return grading.show_mark(MarkStatus.ENTERED, value)


def _paper_cell(paper: Paper | None, t) -> str:
    if paper is None:
        return PLACEHOLDER
    if paper.status == MarkStatus.ABSENT:
        return _e(t(LABELS["absent"]))
    return _number(f"{_plain(paper.marks)}/{_plain(paper.max_marks)}")


def _score_cells(score: Score | None) -> str:
    if score is None:
        return f"<td>{PLACEHOLDER}</td><td>{PLACEHOLDER}</td><td>{PLACEHOLDER}</td>"
    return (
        f"<td>{_number(f'{_plain(score.obtained)}/{_plain(score.maximum)}')}</td>"
        f"<td>{_number(f'{score.percent}%')}</td>"
        f'<td class="grade">{_number(score.grade)}</td>'
    )


def _card_html(cards: SectionCards, card: Card, locale: str, t, issued_on: date) -> str:
    parts = [
        _header_html(cards, locale, t),
        _identity_html(cards, card, locale, t),
        _marks_table(cards, card, locale, t),
    ]
    if cards.show_position and card.position is not None:
        position = _(
            "card_position",
            default="Position in class: ${position} of ${count}",
            mapping={"position": card.position, "count": cards.ranked},
        )
        parts.append(f'<p class="position">{_e(t(position))}</p>')
    parts.append(_footer_html(t, issued_on))
    return f'<section class="card">{"".join(parts)}</section>'


def _header_html(cards: SectionCards, locale: str, t) -> str:
    return (
        f'<header><p class="school">{_e(cards.school.name(locale))}</p>'
        f"<h1>{_e(t(LABELS['title']))}</h1>"
        f'<p class="term">{_e(t(cards.term_label))} · {_e(t(LABELS["year"]))} '
        f"{_number(cards.year.label)}</p></header>"
    )


def _identity_html(cards: SectionCards, card: Card, locale: str, t) -> str:
    student = card.student
    class_label = _(
        "card_class_value",
        default="Grade ${grade}, section ${section}",
        mapping={"grade": cards.section.grade, "section": cards.section.name},
    )
    return (
        '<table class="identity"><tr>'
        f"<th>{_e(t(LABELS['student']))}</th><td>{_e(student.name(locale))}</td>"
        f"<th>{_e(t(LABELS['admission']))}</th><td>{_number(student.admission_no)}</td>"
        "</tr><tr>"
        f"<th>{_e(t(LABELS['father']))}</th><td>{_e(_father_name(student, locale))}</td>"
        f"<th>{_e(t(LABELS['class']))}</th><td>{_e(t(class_label))}</td>"
        "</tr></table>"
    )


def _footer_html(t, issued_on: date) -> str:
    issued = _(
        "card_issued_on",
        default="Issued on ${date}",
        mapping={"date": issued_on.strftime("%d/%m/%Y")},
    )
    return (
        '<ul class="notes">'
        f"<li>{_e(t(LABELS['note_published']))}</li>"
        f"<li>{_e(t(LABELS['note_absent']))}</li></ul>"
        '<table class="signatures"><tr>'
        f"<td>{_e(t(LABELS['class_teacher']))}</td><td>{_e(t(LABELS['head_teacher']))}</td>"
        "</tr></table>"
        f'<p class="issued">{_e(t(issued))}</p>'
    )


def _father_name(student, locale: str) -> str:
    if locale == "ur" and student.father_name_ur:
        return student.father_name_ur
    return student.father_name_en


def _marks_table(cards: SectionCards, card: Card, locale: str, t) -> str:
    if not cards.exams:
        return f'<p class="empty">{_e(t(LABELS["no_exams"]))}</p>'
    head = (
        f"<th>{_e(t(LABELS['subject']))}</th>"
        + "".join(f"<th>{_e(exam.name(locale))}</th>" for exam in cards.exams)
        + f"<th>{_e(t(LABELS['total']))}</th><th>{_e(t(LABELS['percent']))}</th>"
        f"<th>{_e(t(LABELS['grade']))}</th>"
    )
    rows = []
    for line in card.lines:
        cells = "".join(
            f"<td>{_paper_cell(line.papers.get(exam.window_id), t)}</td>" for exam in cards.exams
        )
        rows.append(f"<tr><th>{_e(line.name(locale))}</th>{cells}{_score_cells(line.score)}</tr>")
    total = (
        f'<tr class="total"><th>{_e(t(LABELS["total"]))}</th>'
        f'<td colspan="{len(cards.exams)}"></td>{_score_cells(card.total)}</tr>'
    )
    exam_width = (100 - SUBJECT_WIDTH - sum(SCORE_WIDTHS)) / len(cards.exams)
    widths = [SUBJECT_WIDTH] + [exam_width] * len(cards.exams) + list(SCORE_WIDTHS)
    columns = "".join(f'<col style="width: {width:.2f}%">' for width in widths)
    return (
        f'<table class="marks"><colgroup>{columns}</colgroup><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody><tfoot>{total}</tfoot></table>"
    )


def _stylesheet(locale: str) -> str:
    text_face = URDU_FACE if locale in RTL_LOCALES else LATIN_FACE
    line_height = "1.9" if locale in RTL_LOCALES else "1.35"
    return f"""
@page {{ size: A4; margin: 14mm 12mm; }}
body {{ font-family: "{text_face}", "{LATIN_FACE}"; font-size: 10.5pt;
       line-height: {line_height}; color: #111; }}
.card {{ break-after: page; }}
.card:last-child {{ break-after: auto; }}
.num {{ font-family: "{LATIN_FACE}"; direction: ltr; }}
header {{ text-align: center; border-bottom: 1.5pt solid #111; margin-bottom: 8pt; }}
.school {{ font-size: 15pt; font-weight: bold; margin: 0; }}
h1 {{ font-size: 13pt; margin: 2pt 0; }}
.term {{ margin: 0 0 6pt; }}
table {{ border-collapse: collapse; width: 100%; }}
.identity th {{ text-align: start; font-weight: normal; color: #444; width: 18%; }}
.identity td {{ font-weight: bold; width: 32%; }}
.identity th, .identity td {{ padding: 2pt 4pt; }}
.marks {{ margin-top: 10pt; table-layout: fixed; font-size: 9.5pt; }}
.marks th, .marks td {{ border: 0.75pt solid #333; padding: 3pt 2pt; text-align: center; }}
.marks tbody th, .marks tfoot th {{ text-align: start; }}
.marks thead th {{ background: #e8e8e8; font-size: 8pt; font-weight: normal; }}
.marks tfoot td, .marks tfoot th {{ font-weight: bold; background: #f4f4f4; }}
.position {{ font-weight: bold; margin-top: 8pt; }}
.notes {{ font-size: 8.5pt; color: #444; margin-top: 8pt; padding-inline-start: 14pt; }}
.signatures {{ margin-top: 36pt; border-collapse: separate; border-spacing: 24pt 0; }}
.signatures td {{ width: 50%; text-align: center; border-top: 0.75pt solid #333; padding-top: 2pt; }}
.issued {{ font-size: 8.5pt; color: #444; margin-top: 10pt; }}
"""
