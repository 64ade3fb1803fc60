"""Translation strings and digit handling shared by every layer.

Messages are `translationstring.TranslationString` objects in the ``spets`` domain, so
services can build them without Pyramid; the web app translates them per request.
"""

from translationstring import TranslationString, TranslationStringFactory

_ = TranslationStringFactory("spets")

LOCALES = ("en", "ur")
RTL_LOCALES = frozenset({"ur"})

# Urdu is written with the Extended Arabic-Indic digits (U+06F0..U+06F9); Arabic-Indic
# digits (U+0660..U+0669) turn up in text typed on Arabic keyboards, so both are read.
_DIGITS = {ord(c): str(i) for i, c in enumerate("۰۱۲۳۴۵۶۷۸۹")}
_DIGITS.update({ord(c): str(i) for i, c in enumerate("٠١٢٣٤٥٦٧٨٩")})
_DIGITS[ord("٫")] = "."  # Arabic decimal separator
_DIGITS[ord("٬")] = ","  # Arabic thousands separator


def normalize_digits(text: str) -> str:
    """Return the text with Urdu and Arabic-Indic digits replaced by ASCII digits."""
    return text.translate(_DIGITS)


__all__ = ["LOCALES", "RTL_LOCALES", "TranslationString", "_", "normalize_digits"]
