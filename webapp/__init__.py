"""The Pyramid application: the app factory and the order in which its parts are wired."""

from pyramid.config import Configurator

from spets.services import messaging
from spets.webapp.settings import coerce_settings


def main(global_config, **settings):
    """Build the WSGI application from the ini file's [app:main] settings."""
    from spets.webapp import page_cache

    settings = coerce_settings(global_config, settings)
    messaging.set_base_url(settings["spets.base_url"])
    with Configurator(settings=settings) as config:
        # Chameleon templates, with translations taken from the request's locale, compiled
        # one at a time.
        config.include("spets.webapp.rendering")

        # A database session per request, committed or rolled back by pyramid_tm.
        config.include("spets.webapp.database")

        # Signed session cookies, CSRF on every unsafe request, deny-by-default security.
        config.include("spets.webapp.security")

        # English and Urdu: the locale negotiator, catalogues and the Deform renderer.
        config.include("spets.webapp.i18n")

        # Request helpers shared by all views: the clock, the actor, the principal.
        config.include("spets.webapp.request")

        # The results page served again from memory while nothing on it has changed.
        config.include("spets.webapp.page_cache")

        # Static files: our CSS, Deform's assets, the right-to-left Bootstrap, Urdu fonts.
        config.include("spets.webapp.static")

        # The main menu, filtered by what the user may do.
        config.include("spets.webapp.navigation")

        # Every route, then the views that serve them.
        config.include("spets.webapp.routes")
        config.scan("spets.webapp.views")
    # Stored results pages that the change feed vouches for are sent before the router.
    return page_cache.wrap(config.make_wsgi_app())
