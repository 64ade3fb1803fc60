"""Request helpers: the clock, the local date, the acting user and translation."""

from datetime import UTC, datetime

from spets.services.audit import Actor
from spets.services.calendar import local_today
from spets.webapp.i18n import translate as translate_message


def _utc_now() -> datetime:
    return datetime.now(UTC)


def includeme(config):
    settings = config.get_settings()
    clock = settings.get("spets.clock") or _utc_now

    def now(request) -> datetime:
        return clock()

    def today(request):
        return local_today(request.now)

    def actor(request) -> Actor:
        principal = request.identity
        return Actor(principal.user_id if principal else None, request.client_addr)

    def translate(request, message, mapping=None) -> str:
        if message is None:
            return ""
        return translate_message(request.localizer, message, mapping)

    config.add_request_method(now, reify=True)
    config.add_request_method(today, reify=True)
    config.add_request_method(actor, reify=True)
    config.add_request_method(translate, "t")
