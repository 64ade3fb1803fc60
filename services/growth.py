"""Growth of school children by the WHO Growth Reference 2007 (5 to 19 years).

The reference gives, for each sex and whole month of age, the Box-Cox power L, the median
M and the coefficient of variation S of BMI-for-age, height-for-age and (up to 10 years)
weight-for-age. The tables in `data/who2007/` are WHO's own, as shipped with WHO's R
package anthroplus (see the README there). The computation follows anthroplus:

- L, M and S are interpolated linearly between the two whole months around the child's
  fractional age in months;
- z = ((y/M)^L - 1) / (L·S), and for L = 0, z = ln(y/M) / S;
- for BMI and weight, beyond ±3 SD the distance is measured in units of the gap between
  the 2 SD and 3 SD lines on that side (WHO's restricted rule), so the long tail of the
  Box-Cox curve does not shrink extreme values;
- z-scores are rounded to two decimals, and a rounded z-score is implausible when
  |height-for-age| > 6, |BMI-for-age| > 5, or weight-for-age > 5 or < -6;
- a z-score exists only from 61 to 228 months (weight-for-age: 61 to 120 months).

This module does no database work, so the web app, the command line and the CSV tool
share it.
"""

import csv
import enum
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import TextIO

from spets.i18n import TranslationString, _, normalize_digits

DATA_DIR = Path(__file__).resolve().parent / "data" / "who2007"

# Average length of a month in days (365.25 / 12): age in months = age in days / this.
DAYS_PER_MONTH = 30.4375

FIRST_MONTH = 61
LAST_MONTH = 228
LAST_MONTH_WEIGHT = 120

# The ranges a school measurement must fall in; the database enforces the same bounds.
HEIGHT_RANGE_CM = (Decimal(50), Decimal(250))
WEIGHT_RANGE_KG = (Decimal(5), Decimal(250))


class Indicator(enum.StrEnum):
    BMI_FOR_AGE = "bmi_for_age"
    HEIGHT_FOR_AGE = "height_for_age"
    WEIGHT_FOR_AGE = "weight_for_age"


TABLE_FILES = {
    Indicator.BMI_FOR_AGE: "bfawho2007.txt",
    Indicator.HEIGHT_FOR_AGE: "hfawho2007.txt",
    Indicator.WEIGHT_FOR_AGE: "wfawho2007.txt",
}

# Indicators that use the restricted rule beyond ±3 SD.
RESTRICTED = frozenset({Indicator.BMI_FOR_AGE, Indicator.WEIGHT_FOR_AGE})

AGE_LIMITS = {
    Indicator.BMI_FOR_AGE: (FIRST_MONTH, LAST_MONTH),
    Indicator.HEIGHT_FOR_AGE: (FIRST_MONTH, LAST_MONTH),
    Indicator.WEIGHT_FOR_AGE: (FIRST_MONTH, LAST_MONTH_WEIGHT),
}


class Classification(enum.StrEnum):
    """WHO's cut-offs for school-age children; a child may have one of each indicator."""

    SEVERE_THINNESS = "severe_thinness"  # BMI-for-age < -3
    THINNESS = "thinness"  # BMI-for-age < -2
    OVERWEIGHT = "overweight"  # BMI-for-age > +1
    OBESITY = "obesity"  # BMI-for-age > +2
    STUNTING = "stunting"  # height-for-age < -2


@dataclass(frozen=True)
class LMS:
    l: float  # noqa: E741 - the reference's own name for the Box-Cox power
    m: float
    s: float


# The tables.


@cache
def table(indicator: Indicator) -> dict[tuple[int, int], LMS]:
    """Return {(sex, month): LMS} of one indicator; sex is 1 for boys and 2 for girls."""
    rows: dict[tuple[int, int], LMS] = {}
    path = DATA_DIR / TABLE_FILES[indicator]
    with path.open(encoding="ascii", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            key = (int(row["sex"]), int(row["age"]))
            rows[key] = LMS(float(row["l"]), float(row["m"]), float(row["s"]))
    return rows


def sex_code(sex: str) -> int:
    """Return the reference's code for a sex given as M/F, male/female, boy/girl or 1/2."""
    text = str(getattr(sex, "value", sex)).strip().lower()
    if text in ("m", "male", "boy", "1"):
        return 1
    if text in ("f", "female", "girl", "2"):
        return 2
    raise ValueError(f"sex {sex!r} is neither M nor F")


def lms_at(indicator: Indicator, sex: str | int, age_months: float) -> LMS | None:
    """Return L, M and S interpolated at a fractional age, or None outside the reference."""
    first, last = AGE_LIMITS[indicator]
    if age_months is None or not first <= age_months <= last:
        return None
    code = sex if isinstance(sex, int) else sex_code(sex)
    rows = table(indicator)
    low = math.floor(age_months)
    lower = rows[(code, low)]
    fraction = age_months - low
    if fraction == 0:
        return lower
    # The tables run one month past the reference (to 229 months), so `low + 1` exists.
    upper = rows[(code, low + 1)]
    return LMS(
        lower.l + fraction * (upper.l - lower.l),
        lower.m + fraction * (upper.m - lower.m),
        lower.s + fraction * (upper.s - lower.s),
    )


# z-scores.


def raw_zscore(value: float, lms: LMS) -> float:
    """Return the Box-Cox z-score of a measurement, with no restriction."""
    if lms.l == 0:
        return math.log(value / lms.m) / lms.s
    return ((value / lms.m) ** lms.l - 1) / (lms.l * lms.s)


def centile(z: float, lms: LMS) -> float:
    """Return the measurement at z SD on the Box-Cox curve that `raw_zscore` inverts."""
    if lms.l == 0:
        return lms.m * math.exp(lms.s * z)
    return lms.m * (1 + lms.l * lms.s * z) ** (1 / lms.l)


def restricted_zscore(value: float, lms: LMS) -> float:
    """WHO's z-score for BMI and weight: linear in the 2-3 SD gap beyond ±3 SD."""
    z = raw_zscore(value, lms)
    if z > 3:
        sd3, sd2 = centile(3, lms), centile(2, lms)
        return 3 + (value - sd3) / (sd3 - sd2)
    if z < -3:
        sd3, sd2 = centile(-3, lms), centile(-2, lms)
        return -3 + (value - sd3) / (sd2 - sd3)
    return z


def value_at(indicator: Indicator, z: float, lms: LMS) -> float:
    """Return the measurement at z SD, the inverse of `zscore`.

    Beyond ±3 SD for BMI and weight the lines are spaced by the 2-3 SD gap, as in WHO's
    published SD tables.
    """
    if indicator in RESTRICTED and abs(z) > 3:
        side = 1 if z > 0 else -1
        sd3, sd2 = centile(3 * side, lms), centile(2 * side, lms)
        return sd3 + (abs(z) - 3) * (sd3 - sd2)
    return centile(z, lms)


def zscore(indicator: Indicator, sex: str | int, age_months: float, value: float) -> float | None:
    """Return the unrounded z-score of a measurement, or None outside the reference's ages."""
    lms = lms_at(indicator, sex, age_months)
    if lms is None or value is None or value <= 0:
        return None
    if indicator in RESTRICTED:
        return restricted_zscore(value, lms)
    return raw_zscore(value, lms)


def round2(value: float | None) -> Decimal | None:
    """Round half up to two decimals, as the stored z-scores and the CSV output are."""
    if value is None:
        return None
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# Ages and BMI.


def age_in_months(born: date, measured: date) -> float:
    """Age in fractional months: whole days divided by the average month length."""
    return (measured - born).days / DAYS_PER_MONTH


def bmi(weight_kg: float, height_cm: float) -> float:
    metres = height_cm / 100
    return weight_kg / (metres * metres)


# Checking measurements.


class MeasurementError(ValueError):
    """A measurement that cannot be right: in the wrong unit, or outside a child's range.

    `field` names the measurement ("height_cm" or "weight_kg") and `message` is a
    translation string for the user.
    """

    def __init__(self, field: str, message: TranslationString):
        super().__init__(message.interpolate())
        self.field = field
        self.message = message


def _show(value: Decimal) -> str:
    return format(value.normalize(), "f")


def check_measurements(height_cm: Decimal | None, weight_kg: Decimal | None) -> None:
    """Raise MeasurementError for a unit mix-up or a value outside a school child's range.

    A unit mix-up is named as such, with the value converted, so the person typing sees
    what went wrong; the value is never converted silently.
    """
    if height_cm is not None:
        _check_height(height_cm, weight_kg)
    if weight_kg is not None:
        _check_weight(weight_kg)


def _check_height(height: Decimal, weight: Decimal | None) -> None:
    low, high = HEIGHT_RANGE_CM
    if Decimal("0.5") <= height <= Decimal("2.5"):
        raise MeasurementError(
            "height_cm",
            _(
                "height_in_metres",
                default="A height of ${value} looks like metres. Heights are in centimetres: "
                "enter ${converted}.",
                mapping={"value": _show(height), "converted": _show(height * 100)},
            ),
        )
    if Decimal(500) <= height <= Decimal(2500):
        raise MeasurementError(
            "height_cm",
            _(
                "height_in_millimetres",
                default="A height of ${value} looks like millimetres. Heights are in "
                "centimetres: enter ${converted}.",
                mapping={"value": _show(height), "converted": _show(height / 10)},
            ),
        )
    if weight is not None and height < low and weight >= low:
        raise MeasurementError(
            "height_cm",
            _(
                "height_weight_swapped",
                default="A height of ${height} cm with a weight of ${weight} kg looks "
                "swapped: check which is the height and which the weight.",
                mapping={"height": _show(height), "weight": _show(weight)},
            ),
        )
    if not low <= height <= high:
        raise MeasurementError(
            "height_cm",
            _(
                "height_out_of_range",
                default="A height of ${value} cm is outside ${low} to ${high} cm: measure "
                "again and enter centimetres.",
                mapping={"value": _show(height), "low": _show(low), "high": _show(high)},
            ),
        )


def _check_weight(weight: Decimal) -> None:
    low, high = WEIGHT_RANGE_KG
    if Decimal(1000) <= weight <= Decimal(250_000):
        raise MeasurementError(
            "weight_kg",
            _(
                "weight_in_grams",
                default="A weight of ${value} looks like grams. Weights are in kilograms: "
                "enter ${converted}.",
                mapping={"value": _show(weight), "converted": _show(weight / 1000)},
            ),
        )
    if not low <= weight <= high:
        raise MeasurementError(
            "weight_kg",
            _(
                "weight_out_of_range",
                default="A weight of ${value} kg is outside ${low} to ${high} kg: weigh "
                "again and enter kilograms.",
                mapping={"value": _show(weight), "low": _show(low), "high": _show(high)},
            ),
        )


# One child's assessment.


@dataclass(frozen=True)
class Assessment:
    """The reference's results for one measurement, rounded as stored."""

    age_months: Decimal
    bmi: Decimal | None
    bmi_for_age_z: Decimal | None
    height_for_age_z: Decimal | None
    weight_for_age_z: Decimal | None
    classifications: tuple[Classification, ...] = ()
    implausible: tuple[Indicator, ...] = ()
    outside_ages: bool = False


def is_implausible(indicator: Indicator, z: Decimal | None) -> bool:
    if z is None:
        return False
    if indicator == Indicator.HEIGHT_FOR_AGE:
        return abs(z) > 6
    if indicator == Indicator.BMI_FOR_AGE:
        return abs(z) > 5
    return z > 5 or z < -6


def classify(bmi_z: Decimal | None, height_z: Decimal | None) -> tuple[Classification, ...]:
    """WHO's categories for plausible z-scores: thinness and obesity levels, and stunting."""
    found = []
    if bmi_z is not None and not is_implausible(Indicator.BMI_FOR_AGE, bmi_z):
        if bmi_z < -3:
            found.append(Classification.SEVERE_THINNESS)
        elif bmi_z < -2:
            found.append(Classification.THINNESS)
        elif bmi_z > 2:
            found.append(Classification.OBESITY)
        elif bmi_z > 1:
            found.append(Classification.OVERWEIGHT)
    plausible_height = height_z is not None and not is_implausible(
        Indicator.HEIGHT_FOR_AGE, height_z
    )
    if plausible_height and height_z < -2:
        found.append(Classification.STUNTING)
    return tuple(found)


def assess(
    sex: str | int,
    age_months: float,
    weight_kg: Decimal | float | None,
    height_cm: Decimal | float | None,
) -> Assessment:
    """Compute BMI, the three z-scores, WHO's classification and the implausible flags."""
    weight = float(weight_kg) if weight_kg is not None else None
    height = float(height_cm) if height_cm is not None else None
    body_mass = bmi(weight, height) if weight and height else None
    bmi_z = round2(zscore(Indicator.BMI_FOR_AGE, sex, age_months, body_mass))
    height_z = round2(zscore(Indicator.HEIGHT_FOR_AGE, sex, age_months, height))
    weight_z = round2(zscore(Indicator.WEIGHT_FOR_AGE, sex, age_months, weight))
    scores = {
        Indicator.BMI_FOR_AGE: bmi_z,
        Indicator.HEIGHT_FOR_AGE: height_z,
        Indicator.WEIGHT_FOR_AGE: weight_z,
    }
    return Assessment(
        age_months=round2(age_months),
        bmi=round2(body_mass),
        bmi_for_age_z=bmi_z,
        height_for_age_z=height_z,
        weight_for_age_z=weight_z,
        classifications=classify(bmi_z, height_z),
        implausible=tuple(i for i, z in scores.items() if is_implausible(i, z)),
        outside_ages=not FIRST_MONTH <= age_months <= LAST_MONTH,
    )


# Curves for the growth charts.


def curve(
    indicator: Indicator, sex: str | int, first_month: int, last_month: int, z: float
) -> list[tuple[int, float]]:
    """Return (month, value) points of the z SD line, one per month, within the reference."""
    low, high = AGE_LIMITS[indicator]
    points = []
    for month in range(max(first_month, low), min(last_month, high) + 1):
        lms = lms_at(indicator, sex, month)
        points.append((month, value_at(indicator, z, lms)))
    return points


# The CSV tool: z-scores for a spreadsheet of measurements.

INPUT_COLUMNS = ("sex", "date_of_birth", "measured_on", "weight_kg", "height_cm")
OUTPUT_COLUMNS = (
    "age_months",
    "bmi",
    "bmi_for_age_z",
    "height_for_age_z",
    "weight_for_age_z",
    "classification",
    "flag_bmi_for_age",
    "flag_height_for_age",
    "flag_weight_for_age",
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DMY_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")


class CsvFileError(ValueError):
    """The file as a whole cannot be converted: no header, or required columns missing."""


@dataclass
class CsvReport:
    """The outcome of a conversion: rows written, and (line number, message) of each row skipped or noted."""

    written: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    notes: list[tuple[int, str]] = field(default_factory=list)


def parse_date(text: str) -> date:
    """Read a date written YYYY-MM-DD or dd/mm/yyyy (Urdu digits too)."""
    value = normalize_digits(text).strip()
    if _ISO_DATE.match(value):
        return datetime.strptime(value, "%Y-%m-%d").date()
    if _DMY_DATE.match(value):
        return datetime.strptime(value, "%d/%m/%Y").date()
    raise ValueError(f"{text!r} is not a date: write YYYY-MM-DD or dd/mm/yyyy")


def parse_measurement(text: str, name: str) -> Decimal | None:
    value = normalize_digits(text).strip().replace(",", ".")
    if value == "":
        return None
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise ValueError(f"{name} {text!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{name} {text!r} is not a number")
    return number


def _format(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def convert_row(row: dict[str, str]) -> tuple[dict[str, str], str | None]:
    """Return the output columns of one input row, and a note for a row outside the ages.

    Raises ValueError with a message naming the bad value for a row that cannot be read.
    """
    try:
        sex = sex_code(row.get("sex") or "")
    except ValueError:
        raise ValueError(f"sex {row.get('sex')!r} is invalid: write M or F") from None
    born = parse_date(row.get("date_of_birth") or "")
    measured = parse_date(row.get("measured_on") or "")
    if measured < born:
        raise ValueError(
            f"measured_on {row['measured_on']!r} is before date_of_birth {row['date_of_birth']!r}"
        )
    weight = parse_measurement(row.get("weight_kg") or "", "weight_kg")
    height = parse_measurement(row.get("height_cm") or "", "height_cm")
    if weight is None and height is None:
        raise ValueError("weight_kg and height_cm are both empty")
    try:
        check_measurements(height, weight)
    except MeasurementError as error:
        raise ValueError(str(error)) from None

    months = age_in_months(born, measured)
    result = assess(sex, months, weight, height)
    flags = {}
    for indicator, z in (
        (Indicator.BMI_FOR_AGE, result.bmi_for_age_z),
        (Indicator.HEIGHT_FOR_AGE, result.height_for_age_z),
        (Indicator.WEIGHT_FOR_AGE, result.weight_for_age_z),
    ):
        flags[f"flag_{indicator.value}"] = (
            "" if z is None else str(int(indicator in result.implausible))
        )
    output = {
        "age_months": _format(result.age_months),
        "bmi": _format(result.bmi),
        "bmi_for_age_z": _format(result.bmi_for_age_z),
        "height_for_age_z": _format(result.height_for_age_z),
        "weight_for_age_z": _format(result.weight_for_age_z),
        "classification": ";".join(c.value for c in result.classifications),
        **flags,
    }
    note = None
    if result.outside_ages:
        note = (
            f"age {_format(result.age_months)} months is outside the reference's "
            f"{FIRST_MONTH} to {LAST_MONTH} months: no z-score"
        )
    return output, note


def convert_csv(source: TextIO, target: TextIO) -> CsvReport:
    """Write each readable row of `source` to `target` with the z-score columns added.

    Input columns other than the five read are kept as they are; an existing output
    column of the same name is replaced. A row that cannot be read is skipped and
    reported with its line number; nothing is guessed.
    """
    sample = source.read(4096)
    source.seek(0)
    first_line = sample.splitlines()[0] if sample else ""
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.DictReader(source, delimiter=delimiter)
    if not reader.fieldnames:
        raise CsvFileError("the file is empty: it needs a header row")
    header = [name.strip().lstrip("\ufeff") for name in reader.fieldnames]
    reader.fieldnames = header
    missing = [name for name in INPUT_COLUMNS if name not in header]
    if missing:
        raise CsvFileError(
            f"required column(s) missing: {', '.join(missing)}; the header must name "
            f"{', '.join(INPUT_COLUMNS)}"
        )
    columns = header + [name for name in OUTPUT_COLUMNS if name not in header]
    writer = csv.DictWriter(target, fieldnames=columns, delimiter=delimiter, lineterminator="\n")
    writer.writeheader()

    report = CsvReport()
    for row in _data_rows(reader):
        line, values = row
        try:
            output, note = convert_row(values)
        except ValueError as error:
            report.skipped.append((line, str(error)))
            continue
        if note:
            report.notes.append((line, note))
        writer.writerow({**{k: v for k, v in values.items() if k in header}, **output})
        report.written += 1
    return report


def _data_rows(reader: csv.DictReader) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number of the row, values) for each row that is not empty.

    The line number is where the row ends, which is where it starts unless a quoted
    value spans lines.
    """
    for values in reader:
        if None in values:
            values = {k: v for k, v in values.items() if k is not None}
        if not any(isinstance(v, str) and v.strip() for v in values.values()):
            continue
        yield reader.line_num, {k: (v or "") for k, v in values.items()}


def convert_file(source: Path, target: Path) -> CsvReport:
    """Convert a CSV file (UTF-8, with or without a byte-order mark) into another."""
    with (
        source.open(encoding="utf-8-sig", newline="") as handle_in,
        target.open("w", encoding="utf-8", newline="") as handle_out,
    ):
        return convert_csv(handle_in, handle_out)


def lines_of(report: CsvReport) -> Iterable[str]:
    """Yield the report as lines for a terminal: skipped rows first, then notes."""
    for line, message in report.skipped:
        yield f"line {line}: skipped: {message}"
    for line, message in report.notes:
        yield f"line {line}: {message}"
