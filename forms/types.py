"""Colander types for Pakistani data: CNIC and B-Form, mobile numbers, dd/mm/yyyy dates.

Every type reads Urdu digits as well as ASCII ones, and every error message names the
value that was typed and the form that is expected.
"""

import calendar
import enum
import re
from datetime import date

import colander

from spets.i18n import _, normalize_digits

_CNIC_DIGITS = re.compile(r"^\d{13}$")
_CNIC_DASHED = re.compile(r"^\d{5}-\d{7}-\d$")


def _text(cstruct) -> str:
    return normalize_digits(str(cstruct)).strip()


class CNIC(colander.String):
    """A NADRA identity number (CNIC, or a child's B-Form): 13 digits as #####-#######-#."""

    def __init__(self, kind: str = "CNIC"):
        super().__init__()
        self.kind = kind

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or str(cstruct).strip() == "":
            return colander.null
        text = _text(cstruct).replace(" ", "")
        if _CNIC_DIGITS.match(text):
            text = f"{text[:5]}-{text[5:12]}-{text[12]}"
        if not _CNIC_DASHED.match(text):
            raise colander.Invalid(
                node,
                _(
                    "invalid_cnic",
                    default='"${value}" is not a valid ${kind} number: it needs 13 digits '
                    "written as #####-#######-#, for example 36302-1234567-1.",
                    mapping={"value": str(cstruct).strip(), "kind": self.kind},
                ),
            )
        return text


_MOBILE = re.compile(r"^3\d{9}$")


class MobilePhone(colander.String):
    """A Pakistani mobile number, stored in E.164 form (+923001234567)."""

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or str(cstruct).strip() == "":
            return colander.null
        digits = re.sub(r"[\s\-()]", "", _text(cstruct))
        # A bare 3XXXXXXXXX is what a spreadsheet leaves after dropping the leading zero.
        for prefix in ("+92", "0092", "92", "0", ""):
            if digits.startswith(prefix) and _MOBILE.match(digits[len(prefix) :]):
                return "+92" + digits[len(prefix) :]
        raise colander.Invalid(
            node,
            _(
                "invalid_mobile",
                default='"${value}" is not a Pakistani mobile number: write 11 digits '
                "starting with 03, for example 0300-1234567.",
                mapping={"value": str(cstruct).strip()},
            ),
        )

    def serialize(self, node, appstruct):
        if appstruct is colander.null or appstruct is None:
            return colander.null
        text = str(appstruct)
        if text.startswith("+92") and len(text) == 13:
            return f"0{text[3:6]}-{text[6:]}"
        return text


_DATE_PATTERNS = (
    re.compile(r"^(?P<d>\d{1,2})[/\-.](?P<m>\d{1,2})[/\-.](?P<y>\d{4})$"),
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"),
)

MONTH_NAMES = {
    1: _("January"),
    2: _("February"),
    3: _("March"),
    4: _("April"),
    5: _("May"),
    6: _("June"),
    7: _("July"),
    8: _("August"),
    9: _("September"),
    10: _("October"),
    11: _("November"),
    12: _("December"),
}


class LocalDate(colander.SchemaType):
    """A calendar date typed as dd/mm/yyyy; ISO yyyy-mm-dd is read too."""

    def serialize(self, node, appstruct):
        if appstruct is colander.null or appstruct is None:
            return colander.null
        if not isinstance(appstruct, date):
            raise colander.Invalid(node, f"{appstruct!r} is not a date")
        return appstruct.strftime("%d/%m/%Y")

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or str(cstruct).strip() == "":
            return colander.null
        if isinstance(cstruct, date):
            return cstruct
        text = _text(cstruct)
        for pattern in _DATE_PATTERNS:
            match = pattern.match(text)
            if match:
                return self._build(node, str(cstruct).strip(), match)
        raise colander.Invalid(
            node,
            _(
                "invalid_date_format",
                default='"${value}" is not a date: write it as dd/mm/yyyy, for example 14/08/2012.',
                mapping={"value": str(cstruct).strip()},
            ),
        )

    def _build(self, node, typed: str, match: re.Match) -> date:
        day, month, year = int(match["d"]), int(match["m"]), int(match["y"])
        if not 1 <= month <= 12:
            raise colander.Invalid(
                node,
                _(
                    "invalid_month",
                    default='"${value}" is not a date: the month must be from 01 to 12.',
                    mapping={"value": typed},
                ),
            )
        last_day = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last_day:
            raise colander.Invalid(
                node,
                _(
                    "invalid_day",
                    default='"${value}" is not a date: ${month} ${year} has ${days} days.',
                    mapping={
                        "value": typed,
                        "month": MONTH_NAMES[month],
                        "year": year,
                        "days": last_day,
                    },
                ),
            )
        return date(year, month, day)


class WholeNumber(colander.Integer):
    """An integer that may be typed with Urdu digits."""

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or str(cstruct).strip() == "":
            return colander.null
        text = _text(cstruct).replace(",", "")
        if not re.fullmatch(r"[+-]?\d+", text):
            raise colander.Invalid(
                node,
                _(
                    "invalid_whole_number",
                    default='"${value}" is not a whole number: use digits only, for example 12.',
                    mapping={"value": str(cstruct).strip()},
                ),
            )
        return int(text)


class EnumType(colander.String):
    """A member of an enum, submitted as its value."""

    def __init__(self, enum_class: type[enum.Enum], labels: dict | None = None):
        super().__init__()
        self.enum_class = enum_class
        self.labels = labels or {}

    def serialize(self, node, appstruct):
        if appstruct is colander.null or appstruct is None:
            return colander.null
        return appstruct.value if isinstance(appstruct, enum.Enum) else str(appstruct)

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or str(cstruct).strip() == "":
            return colander.null
        text = str(cstruct).strip()
        for member in self.enum_class:
            if text.lower() == member.value.lower():
                return member
        for member, label in self.labels.items():
            if text.lower() == str(label.default if hasattr(label, "default") else label).lower():
                return member
        allowed = ", ".join(member.value for member in self.enum_class)
        raise colander.Invalid(
            node,
            _(
                "invalid_choice",
                default='"${value}" is not one of the allowed values: ${allowed}.',
                mapping={"value": text, "allowed": allowed},
            ),
        )


class YesNo(colander.SchemaType):
    """A yes/no answer that may be left unknown; reads yes/no, true/false, 1/0 and ہاں/نہیں."""

    _TRUE = {"yes", "y", "true", "1", "ہاں", "جی ہاں"}
    _FALSE = {"no", "n", "false", "0", "نہیں", "جی نہیں"}

    def serialize(self, node, appstruct):
        if appstruct is colander.null or appstruct is None:
            return colander.null
        return "yes" if appstruct else "no"

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or str(cstruct).strip() == "":
            return colander.null
        text = _text(cstruct).lower()
        if text in self._TRUE:
            return True
        if text in self._FALSE:
            return False
        raise colander.Invalid(
            node,
            _(
                "invalid_yes_no",
                default='"${value}" is not an answer: write yes or no.',
                mapping={"value": str(cstruct).strip()},
            ),
        )


def trimmed(value):
    """Colander preparer: strip spaces at both ends and collapse runs inside."""
    if isinstance(value, str):
        return " ".join(value.split())
    return value
