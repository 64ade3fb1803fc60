"""Pakistani field types: CNIC and B-Form, mobile numbers, dd/mm/yyyy dates, Urdu digits."""

from datetime import date

import colander
import pytest

from spets.forms.people import StudentSchema
from spets.forms.types import CNIC, LocalDate, MobilePhone, WholeNumber, YesNo
from spets.i18n import normalize_digits


def node(typ):
    return colander.SchemaNode(typ, name="field")


def error_text(typ, value) -> str:
    with pytest.raises(colander.Invalid) as caught:
        node(typ).deserialize(value)
    message = caught.value.msg
    return message.interpolate() if hasattr(message, "interpolate") else str(message)


@pytest.mark.parametrize(
    "typed",
    ["36302-1234567-1", "3630212345671", " 36302 1234567 1 ", "۳۶۳۰۲-۱۲۳۴۵۶۷-۱"],
)
def test_cnic_accepted_forms(typed):
    assert node(CNIC()).deserialize(typed) == "36302-1234567-1"


@pytest.mark.parametrize("typed", ["36302-123456-1", "1234", "36302-1234567-12", "abcde-fghijkl-m"])
def test_cnic_rejected_names_value(typed):
    text = error_text(CNIC(), typed)
    assert typed.strip() in text
    assert "#####-#######-#" in text


def test_b_form_message_names_b_form():
    assert "B-Form" in error_text(CNIC("B-Form"), "123")


@pytest.mark.parametrize(
    "typed",
    [
        "0300-1234567",
        "03001234567",
        "+923001234567",
        "923001234567",
        "00923001234567",
        "۰۳۰۰۱۲۳۴۵۶۷",
        "3001234567",
    ],
)
def test_mobile_normalised_to_e164(typed):
    assert node(MobilePhone()).deserialize(typed) == "+923001234567"


def test_mobile_landline_rejected():
    text = error_text(MobilePhone(), "061-4512345")
    assert "061-4512345" in text and "03" in text


def test_mobile_serialised_for_reading():
    assert node(MobilePhone()).serialize("+923001234567") == "0300-1234567"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("14/08/2012", date(2012, 8, 14)),
        ("1/4/2026", date(2026, 4, 1)),
        ("14-08-2012", date(2012, 8, 14)),
        ("2012-08-14", date(2012, 8, 14)),
        ("۱۴/۰۸/۲۰۱۲", date(2012, 8, 14)),
        ("29/02/2024", date(2024, 2, 29)),
    ],
)
def test_date_accepted(typed, expected):
    assert node(LocalDate()).deserialize(typed) == expected


def test_date_31_february_rejected():
    text = error_text(LocalDate(), "31/02/2010")
    assert '"31/02/2010"' in text
    assert "February 2010 has 28 days" in text


def test_date_29_february_non_leap_rejected():
    assert "has 28 days" in error_text(LocalDate(), "29/02/2023")


def test_date_month_13_rejected():
    assert "month" in error_text(LocalDate(), "12/13/2012")


def test_date_us_order_text_rejected():
    assert "dd/mm/yyyy" in error_text(LocalDate(), "August 14 2012")


def test_date_serialised_dd_mm_yyyy():
    assert node(LocalDate()).serialize(date(2012, 8, 4)) == "04/08/2012"


def test_whole_number_urdu_digits():
    assert node(WholeNumber()).deserialize("۱۲") == 12


def test_whole_number_rejects_decimal():
    assert '"12.5"' in error_text(WholeNumber(), "12.5")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("yes", True), ("No", False), ("ہاں", True), ("نہیں", False), ("1", True)],
)
def test_yes_no_answers(typed, expected):
    assert node(YesNo()).deserialize(typed) is expected


def test_normalize_digits_arabic_indic():
    assert normalize_digits("٣٦٫٥") == "36.5"


def valid_student(**changes):
    values = {
        "admission_no": "1201",
        "name_en": "Ayesha Bibi",
        "name_ur": "عائشہ بی بی",
        "father_name_en": "Muhammad Aslam",
        "father_name_ur": "محمد اسلم",
        "date_of_birth": "14/08/2011",
        "gender": "female",
    }
    values.update(changes)
    return values


def test_student_schema_valid():
    result = StudentSchema().deserialize(valid_student(past_failures="۲"))
    assert result["past_failures"] == 2
    assert result["date_of_birth"] == date(2011, 8, 14)


def test_student_schema_missing_required():
    with pytest.raises(colander.Invalid) as caught:
        StudentSchema().deserialize(valid_student(name_en=""))
    assert set(caught.value.asdict()) == {"name_en"}


def test_student_schema_urdu_name_in_latin_rejected():
    with pytest.raises(colander.Invalid) as caught:
        StudentSchema().deserialize(valid_student(name_ur="Ayesha"))
    assert "Urdu" in caught.value.asdict()["name_ur"]


def test_student_schema_english_name_in_urdu_rejected():
    with pytest.raises(colander.Invalid) as caught:
        StudentSchema().deserialize(valid_student(name_en="عائشہ"))
    assert "English" in caught.value.asdict()["name_en"]
