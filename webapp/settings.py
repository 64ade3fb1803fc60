"""Typed settings read from the ini file and the environment."""

import os
import secrets
from pathlib import Path

from pyramid.settings import asbool

SESSION_SECRET_ENV = "SPETS_SESSION_SECRET"  # noqa: S105 - the variable name, not a secret

_BOOLEANS = ("spets.session_secure", "spets.session_secret_required", "spets.imports.run_inline")
_INTEGERS = (
    "spets.session_max_age",
    "spets.imports.max_bytes",
    "spets.login.max_failures",
    "spets.login.lockout_minutes",
)
_DEFAULTS = {
    "spets.session_secure": True,
    "spets.session_secret_required": False,
    "spets.session_max_age": 8 * 3600,
    "spets.imports.max_bytes": 20_000_000,
    "spets.imports.run_inline": False,
    "spets.login.max_failures": 5,
    "spets.login.lockout_minutes": 15,
    "spets.fonts_dir": "/usr/share/fonts/truetype/noto",
    "spets.base_url": "http://127.0.0.1:6543",
}


def coerce_settings(global_config: dict, settings: dict) -> dict:
    settings = {**_DEFAULTS, **settings}
    for key in _BOOLEANS:
        settings[key] = asbool(settings[key])
    for key in _INTEGERS:
        settings[key] = int(settings[key])

    here = Path(global_config.get("here", ".")) if global_config else Path(".")
    var_dir = Path(settings.get("spets.var_dir") or here / "var")
    var_dir.mkdir(parents=True, exist_ok=True)
    settings["spets.var_dir"] = str(var_dir)
    settings["spets.session_secret"] = session_secret(settings, var_dir)
    return settings


def session_secret(settings: dict, var_dir: Path) -> str:
    """Return the cookie-signing secret: from the environment, else a per-install file.

    Production sets spets.session_secret_required, so a missing environment variable
    stops the app instead of silently creating a secret on one of several machines.
    """
    secret = os.environ.get(SESSION_SECRET_ENV)
    if secret:
        return secret
    if settings["spets.session_secret_required"]:
        raise RuntimeError(f"{SESSION_SECRET_ENV} must be set in production")
    path = var_dir / "session-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
