"""The results page served again from memory while nothing it shows has changed.

On results day guardians open and reload their child's results page far more often than
anything on it changes. `ResultsPageTween` sits above every other tween and keeps each
session's rendered results page, keyed by the signed session cookie itself.
`StoredPageMiddleware`, in front of Pyramid's router, sends the pages the change feed
vouches for; the tween checks and stores all others.

Before a stored page is sent again, something must vouch that nothing on it changed:

- On PostgreSQL, the change feed (webapp/change_feed.py): triggers announce every commit
  that touches the account, the child or the tenant's grade scale. When none has arrived
  since the page was last checked, the page is sent without any database statement.
- Otherwise (SQLite, a feed not listening, a change announced), one statement outside the
  request's transaction (`portal.check_results_page`). It repeats the page's own checks:
  an active account, a portal grant in force and a link to the child. It also reads all
  the page shows that can change: the account's language, its links to children, its
  unread count and the child's results fingerprint. When the checks pass and the values
  equal the stored ones, the stored page is sent; else the app renders it again.

An approved amendment is announced for each student whose marks it touches and changes
the results fingerprint, so the next page is rendered afresh. A page is stored only when
its session sent no cookie, had no message waiting to be shown, and nothing the check
read changed while the app rendered it. It goes back only to a request with the very same
signed cookie. Entries expire after
`spets.portal.page_cache_seconds` counted from their first check.

A rename changes none of the values the check reads. A renamed child, section or school
shows within that time, as
in the switcher's own cache; a renamed subject or exam within the published-results
cache's ten minutes (`portal.PublishedResultsCache`), as before this cache.
"""

import functools
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from pyramid.response import Response
from pyramid.settings import asbool
from pyramid.tweens import INGRESS
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from webob import BaseRequest

from spets.services import portal
from spets.services.calendar import local_today
from spets.webapp.change_feed import ChangeFeed, Position
from spets.webapp.i18n import LOCALE_COOKIE
from spets.webapp.security import SESSION_COOKIE, SESSION_REISSUE_SECONDS, SESSION_USER_KEY

log = logging.getLogger(__name__)

RESULTS_PATH = re.compile(r"/portal/children/(\d+)/results")
CSRF_KEY = "_csrft_"  # where Pyramid's session keeps the CSRF token
FLASH_PREFIX = "_f_"  # and the prefix of its flash queues

# (signed session cookie, student id, application URL, language cookie)
PageKey = tuple[str, int, str, str | None]


@dataclass(frozen=True)
class StoredPage:
    user_id: int
    student_id: int
    tenant_id: int | None
    cookie_signed_at: float
    page_inputs: tuple
    checked_on: date
    position: Position | None
    expires_at: float
    status: str
    headerlist: tuple[tuple[str, str], ...]
    body: bytes

    @functools.cached_property
    def feed_keys(self) -> tuple[str, ...]:
        return (f"u:{self.user_id}", f"s:{self.student_id}", f"t:{self.tenant_id}")

    def response(self) -> Response:
        return Response(status=self.status, headerlist=list(self.headerlist), body=self.body)


class RenderedPageCache:
    """Rendered pages by session cookie and child, for `ttl_seconds` from their rendering.

    Entries are kept in the order they were rendered, which is also the order they expire,
    so storing drops expired entries from the front and the oldest ones beyond
    `max_entries`.
    """

    def __init__(self, ttl_seconds: float = 60.0, max_entries: int = 5_000):
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.hits = 0
        self._entries: OrderedDict[PageKey, StoredPage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: PageKey) -> StoredPage | None:
        page = self._entries.get(key)
        if page is None or page.expires_at < time.monotonic():
            return None
        return page

    def put(self, key: PageKey, page: StoredPage) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = page
            self._drop_old()

    def renew(self, key: PageKey, page: StoredPage) -> None:
        """Replace an entry after a check, keeping its place and its expiry."""
        with self._lock:
            if key in self._entries:
                self._entries[key] = page

    def _drop_old(self) -> None:
        now = time.monotonic()
        while self._entries:
            first = next(iter(self._entries.values()))
            if first.expires_at >= now and len(self._entries) <= self.max_entries:
                return
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def page_key(request) -> PageKey | None:
    """Return the key of a plain GET of a results page with a session cookie, else None."""
    if request.method != "GET" or request.query_string:
        return None
    match = RESULTS_PATH.fullmatch(request.path_info)
    cookies = request.cookies
    cookie = cookies.get(SESSION_COOKIE)
    if match is None or cookie is None:
        return None
    return (cookie, int(match[1]), request.application_url, cookies.get(LOCALE_COOKIE))


@dataclass(frozen=True)
class SessionFacts:
    user_id: int
    signed_at: float  # when the cookie was last signed: Pyramid's `renewed`


def session_facts(request) -> SessionFacts | None:
    """Return the signed-in session's user and cookie time if its page may be stored.

    None when no user is signed in, when the session has no CSRF token yet or a flash
    message waiting, or when this request must re-sign the cookie.
    """
    session = request.session
    user_id = session.get(SESSION_USER_KEY)
    if user_id is None or session.get(CSRF_KEY) is None or request.response_callbacks:
        return None
    if any(key.startswith(FLASH_PREFIX) and value for key, value in session.items()):
        return None
    return SessionFacts(int(user_id), float(session.renewed))


def _is_storable(request, response) -> bool:
    return (
        response.status_code == 200
        and response.content_type == "text/html"
        and "Set-Cookie" not in response.headers
        and not request.response_callbacks
        and getattr(request, "exception", None) is None
    )


def vouched_by_feed(
    page: StoredPage, feed: ChangeFeed | None, today: date, cookie_seconds: float
) -> bool:
    """Say whether the feed vouches for the page: no change announced since its check.

    `cookie_seconds` is how long a signed cookie is taken as it is: past it, the app
    must re-sign the cookie or end the session, so the request goes to the app.
    """
    return (
        feed is not None
        and page.checked_on == today
        and time.time() - page.cookie_signed_at <= cookie_seconds
        and feed.unchanged_since(page.position, page.feed_keys)
    )


def cookie_seconds(settings) -> float:
    """Return the shorter of the session's re-signing interval and its timeout."""
    return min(SESSION_REISSUE_SECONDS, int(settings["spets.session_max_age"]))


class StoredPageMiddleware:
    """Send the stored pages the feed vouches for before Pyramid's router receives the request.

    Such a page needs nothing of the router: no request object with the app's helpers, no
    tween, no transaction. Every other request, and every stored page that needs a check,
    goes to the app, where `ResultsPageTween` checks, renders and stores.
    """

    def __init__(self, app, registry):
        self.app = app
        self.registry = registry
        self.cache: RenderedPageCache = registry["spets.results_page_cache"]
        self.feed: ChangeFeed = registry["spets.change_feed"]
        self.clock = registry.settings.get("spets.clock") or _utc_now
        self.cookie_seconds = cookie_seconds(registry.settings)

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and RESULTS_PATH.fullmatch(
            environ.get("PATH_INFO", "")
        ):
            key = page_key(BaseRequest(environ))
            page = self.cache.get(key) if key is not None else None
            today = local_today(self.clock())
            if page is not None and vouched_by_feed(page, self.feed, today, self.cookie_seconds):
                self.cache.hits += 1
                start_response(page.status, list(page.headerlist))
                return [page.body]
        return self.app(environ, start_response)


def wrap(app):
    """Put `StoredPageMiddleware` in front of the app when it has a change feed."""
    if app.registry.get("spets.change_feed") is None:
        return app
    return StoredPageMiddleware(app, app.registry)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ResultsPageTween:
    """Send a stored results page when the check vouches for it; render and store the rest."""

    def __init__(self, handler, registry):
        self.handler = handler
        self.cache: RenderedPageCache = registry["spets.results_page_cache"]
        self.engine = _engine_of(registry["dbsession_factory"])
        self.feed: ChangeFeed | None = registry.get("spets.change_feed")

    def __call__(self, request):
        key = page_key(request)
        if key is None:
            return self.handler(request)

        # Pages the feed vouches for never reach here: `StoredPageMiddleware` sent them.
        today = local_today(request.now)
        facts = session_facts(request)
        if facts is None:
            return self.handler(request)

        # The clock, the feed's position and the check are read before the app reads the
        # page, so a stored page is never older than what vouches for it. It also expires
        # before the feed drops a change that arrived after its position.
        checked_at = time.monotonic()
        position = self.feed.position() if self.feed is not None else None
        check = self._check(request, user_id=facts.user_id, student_id=key[1], today=today)
        if check is None or not check.may_read:
            return self.handler(request)

        page = self.cache.get(key)
        unchanged = page is not None and page.page_inputs == check.page_inputs
        if unchanged and page.user_id == facts.user_id:
            self.cache.renew(key, replace(page, position=position, checked_on=today))
            self.cache.hits += 1
            return page.response()

        response = self.handler(request)
        if not _is_storable(request, response):
            return response
        stored = StoredPage(
            user_id=facts.user_id,
            student_id=key[1],
            tenant_id=check.tenant_id,
            cookie_signed_at=facts.signed_at,
            page_inputs=check.page_inputs,
            checked_on=today,
            position=position,
            expires_at=checked_at + self.cache.ttl_seconds,
            status=response.status,
            headerlist=tuple(response.headerlist),
            body=response.body,
        )
        if self._unchanged_while_rendering(request, stored, check):
            self.cache.put(key, stored)
        return response

    def _unchanged_while_rendering(self, request, page: StoredPage, check) -> bool:
        """Say whether nothing the check read changed while the app rendered the page.

        The app reads later than the check: a change in between would label the page with
        values it does not show, and a change back would then send it.
        """
        if page.position is not None:
            return self.feed.unchanged_since(page.position, page.feed_keys)
        again = self._check(
            request, user_id=page.user_id, student_id=page.student_id, today=page.checked_on
        )
        return again == check

    def _check(
        self, request, *, user_id: int, student_id: int, today: date
    ) -> portal.ResultsPageCheck | None:
        shared_session = request.environ.get("app.dbsession")  # the tests' one session
        try:
            if shared_session is not None:
                return portal.check_results_page(shared_session, user_id, student_id, today)
            if self.engine is None:
                return None
            with self.engine.connect() as connection:
                return portal.check_results_page(connection, user_id, student_id, today)
        except SQLAlchemyError:
            # The app's own path reports the database error to the user.
            log.exception(
                "results page check failed for user %s, student %s; the app renders the page",
                user_id,
                student_id,
            )
            return None


def _engine_of(session_factory) -> Engine | None:
    """Return the engine of the app's sessions, set to autocommit on PostgreSQL.

    One statement needs no transaction; autocommit saves a BEGIN and a ROLLBACK round
    trip. SQLite keeps its own transactions (see `spets.db`).
    """
    bind = getattr(session_factory, "kw", {}).get("bind")
    if not isinstance(bind, Engine):
        return None
    if bind.dialect.name == "postgresql":
        return bind.execution_options(isolation_level="AUTOCOMMIT")
    return bind


def _change_feed(registry, ttl_seconds: float) -> ChangeFeed | None:
    """Return a change feed for the app's PostgreSQL database, None on SQLite or in tests."""
    engine = _engine_of(registry["dbsession_factory"])
    if engine is None or engine.dialect.name != "postgresql":
        return None
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    # Keys are kept a little longer than any entry lives: an entry checked before a change
    # has always expired when the change is forgotten.
    return ChangeFeed(conninfo, forget_after_seconds=ttl_seconds + 30)


def includeme(config):
    settings = config.get_settings()
    cache = RenderedPageCache(
        ttl_seconds=int(settings.get("spets.portal.page_cache_seconds", 60)),
        max_entries=int(settings.get("spets.portal.page_cache_entries", 5_000)),
    )
    config.registry["spets.results_page_cache"] = cache
    if not asbool(settings.get("spets.portal.page_cache", True)):
        return

    if asbool(settings.get("spets.portal.change_feed", True)):
        config.registry["spets.change_feed"] = _change_feed(config.registry, cache.ttl_seconds)
    config.add_tween("spets.webapp.page_cache.ResultsPageTween", under=INGRESS)
