"""Translation strings and digit handling shared by every layer.

Messages are `translationstring.TranslationString` objects in the ``spets`` domain, so
services can build them without Pyramid; the web app translates them per request.
"""

from pathlib import Path

from babel.support import Translations
from translationstring import TranslationString, TranslationStringFactory, Translator

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


LOCALE_DIR = Path(__file__).resolve().parent / "webapp" / "locale"
_TRANSLATORS: dict[str, Translator] = {}


def _translator(locale: str) -> Translator:
    if locale not in _TRANSLATORS:
        translations = Translations.load(str(LOCALE_DIR), [locale], domain="spets")
        if isinstance(translations, Translations):
            for domain in ("colander", "deform"):
                translations.add(
                    Translations.load(str(LOCALE_DIR), [locale], domain=domain), merge=False
                )
        _TRANSLATORS[locale] = Translator(translations)
    return _TRANSLATORS[locale]


def translate(message, locale: str) -> str:
    """Translate a message outside a web request (e-mails, SMS, flows), nested values included."""
    if not isinstance(message, TranslationString):
        return str(message)
    mapping = {
        key: translate(value, locale) if isinstance(value, TranslationString) else value
        for key, value in (message.mapping or {}).items()
    }
    return _translator(locale)(TranslationString(message, mapping=mapping))
