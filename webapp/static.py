"""Static assets: the app's own files, Deform's, and the system's Urdu fonts."""

from pathlib import Path


def includeme(config):
    settings = config.get_settings()
    cache_max_age = 0 if settings.get("pyramid.reload_templates") in (True, "true") else 3600
    config.add_static_view("static", "spets:webapp/static", cache_max_age=cache_max_age)
    config.add_static_view("deform_static", "deform:static", cache_max_age=cache_max_age)

    # Noto Nastaliq Urdu and Noto Naskh Arabic come from Debian's fonts-noto-core; pages
    # name them with local() first, so a device that has them installed downloads nothing.
    fonts_dir = Path(settings["spets.fonts_dir"])
    if fonts_dir.is_dir():
        config.add_static_view("fonts", str(fonts_dir), cache_max_age=86400)
