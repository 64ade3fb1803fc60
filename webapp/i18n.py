"""Languages: pick English or Urdu per request and render Deform forms in that language."""

import deform
from pyramid.events import BeforeRender, subscriber
from pyramid.i18n import get_localizer
from pyramid.threadlocal import get_current_request

from spets.i18n import LOCALES, RTL_LOCALES, TranslationString
from spets.webapp.rendering import SerialDeformRenderer

LOCALE_COOKIE = "spets_locale"
DEFAULT_LOCALE = "en"


def negotiate_locale(request) -> str:
    """Use the signed-in user's language, else the language cookie, else English."""
    principal = request.identity
    if principal is not None and principal.locale in LOCALES:
        return principal.locale
    cookie = request.cookies.get(LOCALE_COOKIE)
    if cookie in LOCALES:
        return cookie
    return DEFAULT_LOCALE


def translate(localizer, message, mapping=None) -> str:
    """Translate a message, translating first any message among its mapping values.

    A message such as "February 2010 has 28 days" carries the month as a message of its
    own; the translator of translationstring 1.4 would insert it untranslated.
    """
    values = mapping if mapping is not None else getattr(message, "mapping", None)
    if values:
        values = {
            key: translate(localizer, value) if isinstance(value, TranslationString) else value
            for key, value in values.items()
        }
        if isinstance(message, TranslationString):
            message = TranslationString(message, mapping=values)
            return localizer.translate(message)
        return localizer.translate(message, mapping=values)
    return localizer.translate(message)


def _translate_for_deform(term):
    request = get_current_request()
    if request is None:
        return term
    return translate(get_localizer(request), term)


def set_deform_renderer() -> None:
    """Render Deform's templates, with our overrides first, translated per request."""
    search_path = ("spets:webapp/templates/deform", "deform:templates")
    deform.Form.set_default_renderer(
        SerialDeformRenderer(search_path, translator=_translate_for_deform)
    )


@subscriber(BeforeRender)
def add_template_globals(event):
    request = event.get("request")
    if request is None:
        return
    locale = request.locale_name
    event["locale"] = locale
    event["rtl"] = locale in RTL_LOCALES
    event["t"] = request.t


def includeme(config):
    config.set_locale_negotiator(negotiate_locale)
    config.add_translation_dirs("spets:webapp/locale")
    set_deform_renderer()
    config.scan(__name__)
