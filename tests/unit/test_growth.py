"""WHO Growth Reference 2007 z-scores: WHO's SD tables, hand-worked cases, unit checks, the CSV tool."""

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from spets.services import growth
from spets.services.growth import Classification, Indicator

DATA = Path(__file__).resolve().parents[1] / "data"


def sd_table(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def sd_lines(row: dict[str, str]) -> dict[int, float]:
    """{z: value} of the SD columns of a row: SD3neg is -3, SD0 is 0, SD2 is +2."""
    lines = {}
    for name, value in row.items():
        if name.startswith("SD"):
            number = int(name[2])
            lines[-number if name.endswith("neg") else number] = float(value)
    return lines


BMI_GIRLS = sd_table("who-growth-body_mass_index-f.csv")
HEIGHT_BOYS = sd_table("who-growth-height-m.csv")


def test_sd_tables_cover_every_month():
    assert [int(row["Month"]) for row in BMI_GIRLS] == list(range(61, 229))
    assert [int(row["Month"]) for row in HEIGHT_BOYS] == list(range(61, 229))


@pytest.mark.parametrize("row", BMI_GIRLS, ids=lambda row: f"month-{row['Month']}")
def test_bmi_girls_sd_lines(row):
    """Each published SD value of the month, SD4neg to SD4, scores its own line.

    Beyond ±3 SD the published lines follow WHO's restricted rule (SD4 = SD3 + (SD3 - SD2)),
    so the restricted z-score lands on -4 and +4 exactly.
    """
    month = int(row["Month"])
    scores = {
        z: growth.round2(growth.zscore(Indicator.BMI_FOR_AGE, "F", month, value))
        for z, value in sd_lines(row).items()
    }
    assert scores == {z: Decimal(z).quantize(Decimal("0.01")) for z in scores}


@pytest.mark.parametrize("row", HEIGHT_BOYS, ids=lambda row: f"month-{row['Month']}")
def test_height_boys_sd_lines(row):
    month = int(row["Month"])
    scores = {
        z: growth.round2(growth.zscore(Indicator.HEIGHT_FOR_AGE, "M", month, value))
        for z, value in sd_lines(row).items()
    }
    assert scores == {z: Decimal(z).quantize(Decimal("0.01")) for z in scores}


@pytest.mark.parametrize(
    ("rows", "indicator", "sex"),
    [(BMI_GIRLS, Indicator.BMI_FOR_AGE, "F"), (HEIGHT_BOYS, Indicator.HEIGHT_FOR_AGE, "M")],
    ids=["bmi-girls", "height-boys"],
)
def test_lms_of_sd_tables_match(rows, indicator, sex):
    """The L, M and S the SD tables print are the shipped LMS table's, month by month."""
    different = []
    for row in rows:
        lms = growth.lms_at(indicator, sex, int(row["Month"]))
        if (lms.l, lms.m, lms.s) != (float(row["L"]), float(row["M"]), float(row["S"])):
            different.append(row["Month"])
    assert different == []


# Hand-worked cases. L, M and S are read from the shipped tables at the two whole months
# around the age and interpolated by hand; z = ((y/M)^L - 1)/(L*S).

HAND_WORKED = [
    # Girl, 150.25 months, BMI 16.0. Months 150 and 151: L -1.3621/-1.3553,
    # M 18.3986/18.4660, S 0.13295/0.13321; at 0.25: L -1.3604, M 18.41545, S 0.133015.
    # (16/18.41545)^-1.3604 = 1.21081; (1.21081 - 1)/(-1.3604 * 0.133015) = -1.1649.
    ("bmi girl 150.25", Indicator.BMI_FOR_AGE, "F", 150.25, 16.0, -1.1649),
    # Boy, 100.6 months, height 110 cm. L = 1; M 129.0466/129.4887 -> 129.31186,
    # S 0.04470/0.04478 -> 0.044748. (110/129.31186 - 1)/0.044748 = -3.3374; height
    # has no restriction beyond -3 SD.
    ("height boy 100.6 below -3", Indicator.HEIGHT_FOR_AGE, "M", 100.6, 110.0, -3.3374),
    # Boy, 183.5 months, BMI 35. L -1.45585, M 19.9909, S 0.124655. The raw z is 3.0721,
    # above 3, so: SD3 = M(1 + 3LS)^(1/L) = 34.3060, SD2 = 27.2487,
    # z = 3 + (35 - 34.3060)/(34.3060 - 27.2487) = 3.0983.
    ("bmi boy 183.5 above +3", Indicator.BMI_FOR_AGE, "M", 183.5, 35.0, 3.0983),
    # Boy, 100.5 months, BMI 11. L -1.53255, M 15.84705, S 0.09714. Raw z -5.0367; with
    # SD3neg 12.4542 and SD2neg 13.3688: z = -3 + (11 - 12.4542)/(13.3688 - 12.4542) = -4.5901.
    ("bmi boy 100.5 below -3", Indicator.BMI_FOR_AGE, "M", 100.5, 11.0, -4.5901),
    # Boy, 100.5 months, weight 45 kg. L -0.5836, M 26.40195, S 0.146435. Raw z 3.1293;
    # SD3 43.8606, SD2 36.4016: z = 3 + (45 - 43.8606)/(43.8606 - 36.4016) = 3.1528.
    ("weight boy 100.5 above +3", Indicator.WEIGHT_FOR_AGE, "M", 100.5, 45.0, 3.1528),
]


@pytest.mark.parametrize(
    ("case", "indicator", "sex", "age", "value", "expected"),
    HAND_WORKED,
    ids=[case[0] for case in HAND_WORKED],
)
def test_hand_worked_zscores(case, indicator, sex, age, value, expected):
    assert growth.zscore(indicator, sex, age, value) == pytest.approx(expected, abs=5e-5)


def test_interpolation_at_fraction():
    lms = growth.lms_at(Indicator.BMI_FOR_AGE, "F", 150.25)
    assert (lms.l, lms.m, lms.s) == pytest.approx((-1.3604, 18.41545, 0.133015))


def test_restriction_changes_extreme_bmi():
    lms = growth.lms_at(Indicator.BMI_FOR_AGE, "M", 100.5)
    assert growth.raw_zscore(11.0, lms) == pytest.approx(-5.0367, abs=5e-5)
    assert growth.restricted_zscore(11.0, lms) == pytest.approx(-4.5901, abs=5e-5)


def test_value_at_inverts_zscore():
    for indicator, sex, age in (
        (Indicator.BMI_FOR_AGE, "F", 130.4),
        (Indicator.HEIGHT_FOR_AGE, "M", 200.0),
        (Indicator.WEIGHT_FOR_AGE, "F", 90.7),
    ):
        lms = growth.lms_at(indicator, sex, age)
        for z in (-4.5, -3, -1.2, 0, 2.5, 3, 4.2):
            value = growth.value_at(indicator, z, lms)
            assert growth.zscore(indicator, sex, age, value) == pytest.approx(z, abs=1e-9)


def test_ages_outside_reference_have_no_zscore():
    assert growth.zscore(Indicator.BMI_FOR_AGE, "F", 60.9, 15) is None
    assert growth.zscore(Indicator.BMI_FOR_AGE, "F", 228.01, 20) is None
    assert growth.zscore(Indicator.BMI_FOR_AGE, "F", 228, 20) is not None
    assert growth.zscore(Indicator.HEIGHT_FOR_AGE, "M", 61, 110) is not None
    assert growth.zscore(Indicator.WEIGHT_FOR_AGE, "M", 120, 30) is not None
    assert growth.zscore(Indicator.WEIGHT_FOR_AGE, "M", 120.5, 30) is None


def test_age_in_months_uses_average_month():
    from datetime import date

    assert growth.age_in_months(date(2012, 1, 1), date(2013, 1, 1)) == pytest.approx(366 / 30.4375)


def test_sex_codes():
    assert [growth.sex_code(s) for s in ("M", "f", "male", "FEMALE", "1", "2")] == [
        1,
        2,
        1,
        2,
        1,
        2,
    ]
    with pytest.raises(ValueError):
        growth.sex_code("X")


# Classification and flags.


@pytest.mark.parametrize(
    ("bmi_z", "height_z", "expected"),
    [
        ("-3.01", "0", (Classification.SEVERE_THINNESS,)),
        ("-3.00", "0", (Classification.THINNESS,)),
        ("-2.01", "0", (Classification.THINNESS,)),
        ("-2.00", "0", ()),
        ("1.00", "0", ()),
        ("1.01", "0", (Classification.OVERWEIGHT,)),
        ("2.00", "0", (Classification.OVERWEIGHT,)),
        ("2.01", "0", (Classification.OBESITY,)),
        ("0", "-2.01", (Classification.STUNTING,)),
        ("0", "-2.00", ()),
        ("-5.01", "0", ()),
        ("0", "-6.01", ()),
    ],
)
def test_who_cut_offs(bmi_z, height_z, expected):
    assert growth.classify(Decimal(bmi_z), Decimal(height_z)) == expected


@pytest.mark.parametrize(
    ("indicator", "z", "implausible"),
    [
        (Indicator.HEIGHT_FOR_AGE, "6.00", False),
        (Indicator.HEIGHT_FOR_AGE, "-6.01", True),
        (Indicator.BMI_FOR_AGE, "5.01", True),
        (Indicator.BMI_FOR_AGE, "-5.00", False),
        (Indicator.WEIGHT_FOR_AGE, "5.01", True),
        (Indicator.WEIGHT_FOR_AGE, "-6.00", False),
        (Indicator.WEIGHT_FOR_AGE, "-6.01", True),
    ],
)
def test_implausible_limits(indicator, z, implausible):
    assert growth.is_implausible(indicator, Decimal(z)) is implausible


def test_assess_flags_implausible_height():
    result = growth.assess("M", 150.0, Decimal("40"), Decimal("90"))
    assert Indicator.HEIGHT_FOR_AGE in result.implausible
    assert Classification.STUNTING not in result.classifications


def test_assess_rounds_and_skips_weight_after_ten():
    result = growth.assess("F", 150.25, Decimal("30.0"), Decimal("140.0"))
    assert result.bmi == Decimal("15.31")
    assert result.weight_for_age_z is None
    assert result.age_months == Decimal("150.25")


# Unit mix-ups.


@pytest.mark.parametrize(
    ("height", "weight", "field", "words"),
    [
        ("1.45", "35", "height_cm", "looks like metres"),
        ("1450", "35", "height_cm", "looks like millimetres"),
        ("140", "35000", "weight_kg", "looks like grams"),
        ("35", "140", "height_cm", "looks swapped"),
        ("260", "35", "height_cm", "outside 50 to 250 cm"),
        ("140", "2", "weight_kg", "outside 5 to 250 kg"),
    ],
)
def test_unit_mix_up_rejected(height, weight, field, words):
    with pytest.raises(growth.MeasurementError) as raised:
        growth.check_measurements(Decimal(height), Decimal(weight))
    assert raised.value.field == field
    assert words in str(raised.value)


def test_metres_message_gives_centimetres():
    with pytest.raises(growth.MeasurementError) as raised:
        growth.check_measurements(Decimal("1.45"), None)
    assert "enter 145" in str(raised.value)


def test_plausible_measurements_pass():
    growth.check_measurements(Decimal("142.5"), Decimal("35.2"))


# The CSV tool.

INPUT = """id,name,sex,date_of_birth,measured_on,weight_kg,height_cm
1,Ayesha,F,2012-01-15,15/03/2025,30,140
2,Bilal,X,2012-01-15,2025-03-15,30,140

3,Hamza,M,2018-01-01,2025-03-15,25,1.2
4,Sana,F,2000-01-01,2025-03-15,70,170
5,Umar,M,2017-06-01,2025-03-15,25,
6,Zara,F,2012-01-15,2025-03-15,,
7,Ali,M,2012-01-15,2011-03-15,30,140
"""


def convert(text: str) -> tuple[list[dict[str, str]], growth.CsvReport]:
    target = io.StringIO()
    report = growth.convert_csv(io.StringIO(text), target)
    return list(csv.DictReader(io.StringIO(target.getvalue()))), report


def test_csv_rows_converted():
    rows, report = convert(INPUT)
    assert report.written == 3
    first = rows[0]
    assert (first["id"], first["name"]) == ("1", "Ayesha")
    assert first["age_months"] == "157.96"
    assert first["bmi"] == "15.31"
    assert first["bmi_for_age_z"] == "-1.82"
    assert first["height_for_age_z"] == "-2.45"
    assert first["weight_for_age_z"] == ""
    assert first["classification"] == "stunting"
    assert (first["flag_bmi_for_age"], first["flag_height_for_age"]) == ("0", "0")


def test_csv_bad_rows_reported_by_line():
    _rows, report = convert(INPUT)
    lines = dict(report.skipped)
    assert sorted(lines) == [3, 5, 8, 9]
    assert "sex 'X' is invalid" in lines[3]
    assert "looks like metres" in lines[5]
    assert "both empty" in lines[8]
    assert "before date_of_birth" in lines[9]


def test_csv_weight_for_age_up_to_ten_years():
    rows, _report = convert(INPUT)
    young = next(row for row in rows if row["id"] == "5")
    assert young["weight_for_age_z"] != ""
    assert young["bmi"] == ""
    assert young["height_for_age_z"] == ""


def test_csv_outside_ages_noted_not_skipped():
    rows, report = convert(INPUT)
    adult = next(row for row in rows if row["id"] == "4")
    assert adult["bmi_for_age_z"] == ""
    assert [line for line, _note in report.notes] == [6]


def test_csv_missing_column_rejected():
    with pytest.raises(growth.CsvFileError, match="height_cm"):
        convert("sex,date_of_birth,measured_on,weight_kg\nF,2012-01-01,2025-01-01,30\n")


def test_csv_semicolons_and_urdu_digits():
    target = io.StringIO()
    report = growth.convert_csv(
        io.StringIO(
            "sex;date_of_birth;measured_on;weight_kg;height_cm\nF;15/01/2012;۱۵/۰۳/۲۰۲۵;30,0;140\n"
        ),
        target,
    )
    rows = list(csv.DictReader(io.StringIO(target.getvalue()), delimiter=";"))
    assert report.skipped == []
    assert rows[0]["bmi"] == "15.31"
    assert rows[0]["measured_on"] == "۱۵/۰۳/۲۰۲۵"


def test_cli_zscores(tmp_path):
    from spets.cli import main

    source = tmp_path / "in.csv"
    target = tmp_path / "out.csv"
    source.write_text(INPUT, encoding="utf-8")
    result = CliRunner().invoke(
        main, ["-c", "testing.ini", "health", "zscores", str(source), str(target)]
    )
    assert result.exit_code == 1
    assert "line 3: skipped: sex 'X' is invalid" in result.output
    assert "Wrote 3 rows" in result.output
    written = list(csv.DictReader(target.open(encoding="utf-8")))
    assert [row["id"] for row in written] == ["1", "4", "5"]
