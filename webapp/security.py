"""Sessions, CSRF and the security policy: deny by default, scope by the principal's grants.

Every view must name a permission. Views that forget fall back to
`DEFAULT_PERMISSION`, which nobody holds, so a forgotten view is closed rather than open.
"""

from pyramid.csrf import SessionCSRFStoragePolicy
from pyramid.request import RequestLocalCache
from pyramid.security import NO_PERMISSION_REQUIRED, Allowed, Denied
from pyramid.session import JSONSerializer, SignedCookieSessionFactory

from spets.services.calendar import local_today
from spets.services.scope import load_principal

DEFAULT_PERMISSION = "explicit-permission-required"
SESSION_USER_KEY = "user_id"
SESSION_COOKIE = "spets_session"
# After this many seconds a request re-signs the session cookie with the new access time.
SESSION_REISSUE_SECONDS = 300


class ScopedSecurityPolicy:
    """Identity from the signed session; permissions from the context's scope rules.

    A context that has `permissions_for(principal)` (a student, a section, a school)
    answers for itself. Any other context is a list or a form that is not tied to a
    record, where holding the permission anywhere is enough; the list itself is then
    filtered by the scope functions.
    """

    def __init__(self):
        # Pyramid asks for the identity many times per request; load the principal once.
        self._identity_cache = RequestLocalCache(self._load_identity)

    def identity(self, request):
        return self._identity_cache.get_or_create(request)

    def _load_identity(self, request):
        user_id = request.session.get(SESSION_USER_KEY)
        if user_id is None:
            return None
        today = local_today(request.now)
        return load_principal(request.dbsession, int(user_id), today)

    def authenticated_userid(self, request):
        principal = request.identity
        return principal.user_id if principal is not None else None

    def permits(self, request, context, permission):
        if permission == NO_PERMISSION_REQUIRED:
            return Allowed("public")
        principal = request.identity
        if principal is None:
            return Denied("not signed in")

        permissions_for = getattr(context, "permissions_for", None)
        granted = (
            permissions_for(principal) if permissions_for else principal.permissions_anywhere()
        )
        if permission in granted:
            return Allowed(f"{permission} granted")
        return Denied(f"{permission} not granted")

    def remember(self, request, userid, **kw):
        self._identity_cache.clear(request)
        request.session.invalidate()
        request.session[SESSION_USER_KEY] = userid
        request.session.new_csrf_token()
        return []

    def forget(self, request, **kw):
        self._identity_cache.clear(request)
        request.session.invalidate()
        return []


def includeme(config):
    settings = config.get_settings()
    session_factory = SignedCookieSessionFactory(
        settings["spets.session_secret"],
        cookie_name=SESSION_COOKIE,
        secure=settings["spets.session_secure"],
        httponly=True,
        samesite="Lax",
        max_age=settings["spets.session_max_age"],
        timeout=settings["spets.session_max_age"],
        reissue_time=SESSION_REISSUE_SECONDS,
        serializer=JSONSerializer(),
    )
    config.set_session_factory(session_factory)
    config.set_csrf_storage_policy(SessionCSRFStoragePolicy())
    config.set_default_csrf_options(require_csrf=True)
    config.set_security_policy(ScopedSecurityPolicy())
    config.set_default_permission(DEFAULT_PERMISSION)
