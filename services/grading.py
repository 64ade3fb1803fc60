"""Marks arithmetic: reading a typed mark, percentages, grades and averages.

All figures use `Decimal` with half-up rounding to one decimal place, as the boards do;
the grade comes from the rounded percentage. A mark has three states: a number (zero
included), absent, or not entered yet.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from spets.i18n import _, normalize_digits
from spets.models import MarkStatus

ONE_DECIMAL = Decimal("0.1")
HUNDRED = Decimal(100)

# Punjab boards' scale, used for a tenant that has not set its own.
DEFAULT_SCALE = (
    ("A-1", Decimal(80), True),
    ("A", Decimal(70), True),
    ("B", Decimal(60), True),
    ("C", Decimal(50), True),
    ("D", Decimal(40), True),
    ("E", Decimal(33), True),
    ("F", Decimal(0), False),
)

# What a teacher may type for "absent": A, Ab, ABS, or غ / غیر حاضر in Urdu.
ABSENT_WORDS = {"a", "ab", "abs", "absent", "غ", "غیرحاضر", "غیر حاضر"}


def round_half_up(value: Decimal) -> Decimal:
    return value.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def percent(marks: Decimal, max_marks: Decimal) -> Decimal:
    """Return the percentage rounded half-up to one decimal place."""
    return round_half_up(marks * HUNDRED / max_marks)


@dataclass(frozen=True)
class Band:
    grade: str
    min_percent: Decimal
    passing: bool


def grade_for(rounded_percent: Decimal, bands: Sequence[Band]) -> Band:
    """Return the band of the highest minimum that the rounded percentage reaches."""
    for band in sorted(bands, key=lambda b: b.min_percent, reverse=True):
        if rounded_percent >= band.min_percent:
            return band
    return min(bands, key=lambda b: b.min_percent)


def default_bands() -> list[Band]:
    return [Band(grade, minimum, passing) for grade, minimum, passing in DEFAULT_SCALE]


class MarkError(ValueError):
    """A typed mark that cannot be stored; `message` names the student and the value."""

    def __init__(self, message):
        super().__init__(message.interpolate() if hasattr(message, "interpolate") else str(message))
        self.message = message


def read_mark(
    typed: str | None, *, max_marks: Decimal, step: Decimal, student: str
) -> tuple[MarkStatus, Decimal | None]:
    """Read what a teacher typed into a mark cell: a number, "A" for absent, or nothing.

    Nothing is ever rounded: a value off the sheet's step is refused, as are values below
    zero or above the maximum.
    """
    text = normalize_digits((typed or "").strip())
    if not text:
        return MarkStatus.MISSING, None
    if text.lower() in ABSENT_WORDS:
        return MarkStatus.ABSENT, None
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise MarkError(
            _(
                "mark_not_number",
                default='${student}: "${value}" is not a mark. Type a number, A for absent, or leave it empty.',
                mapping={"student": student, "value": typed.strip()},
            )
        ) from None
    if not value.is_finite():
        raise MarkError(
            _(
                "mark_not_number",
                default='${student}: "${value}" is not a mark. Type a number, A for absent, or leave it empty.',
                mapping={"student": student, "value": typed.strip()},
            )
        )
    if value < 0:
        raise MarkError(
            _(
                "mark_negative",
                default="${student}: ${value} is below zero.",
                mapping={"student": student, "value": typed.strip()},
            )
        )
    if value > max_marks:
        raise MarkError(
            _(
                "mark_above_max",
                default="${student}: ${value} is more than the maximum of ${max}.",
                mapping={"student": student, "value": typed.strip(), "max": _plain(max_marks)},
            )
        )
    if value % step != 0:
        raise MarkError(
            _(
                "mark_off_step",
                default="${student}: ${value} is not a multiple of ${step}; marks on this sheet go in steps of ${step}.",
                mapping={"student": student, "value": typed.strip(), "step": _plain(step)},
            )
        )
    return MarkStatus.ENTERED, value.quantize(Decimal("0.01"))


def _plain(value: Decimal) -> str:
    """Write 50.00 as 50 and 0.50 as 0.5."""
    text = format(value.normalize(), "f")
    return text


def show_mark(status: MarkStatus, marks: Decimal | None) -> str:
    if status == MarkStatus.ABSENT:
        return "A"
    if status == MarkStatus.MISSING or marks is None:
        return ""
    return _plain(marks)


@dataclass(frozen=True)
class SheetFigures:
    sat: int
    absent: int
    missing: int
    average: Decimal | None
    average_percent: Decimal | None
    passed: int
    highest: Decimal | None
    lowest: Decimal | None


def sheet_figures(
    marks: Iterable[tuple[MarkStatus, Decimal | None]], max_marks: Decimal, pass_marks: Decimal
) -> SheetFigures:
    """Averages count only the students who sat; absent and missing are counted beside them."""
    entered = []
    absent = missing = 0
    for status, value in marks:
        if status == MarkStatus.ENTERED and value is not None:
            entered.append(value)
        elif status == MarkStatus.ABSENT:
            absent += 1
        else:
            missing += 1
    if not entered:
        return SheetFigures(0, absent, missing, None, None, 0, None, None)
    total = sum(entered, Decimal(0))
    average = round_half_up(total / len(entered))
    return SheetFigures(
        sat=len(entered),
        absent=absent,
        missing=missing,
        average=average,
        average_percent=percent(total / len(entered), max_marks),
        passed=sum(1 for value in entered if value >= pass_marks),
        highest=max(entered),
        lowest=min(entered),
    )
