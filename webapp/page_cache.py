"""The results page served again from memory while nothing it shows has changed.

On results day guardians open and reload their child's results page far more often than
anything on it changes. The tween below sits above every other tween. For a signed-in
GET of a results page it runs one statement outside the request's transaction
(`portal.check_results_page`). The statement repeats the page's own checks: an active
account, a portal grant in force and a link to the child. It also reads everything the
page shows that can change: the account's language, its links to children, its unread
count and the child's results fingerprint. When all checks pass and those values equal
the ones stored with a rendered page of the same session, that page is sent without
opening a transaction or rendering a template. Anything else goes through the app as usual.

An approved amendment changes the results fingerprint, so its mark shows on the very next
request in every process. A page is stored only when its session sent no cookie and had no
message waiting to be shown. It is keyed by the session's user and CSRF token, so it goes
back only to the session that rendered it. Entries also expire after
`spets.portal.page_cache_seconds`, which bounds how long a renamed school or subject keeps
its old name, as in the switcher's own cache.
"""

import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from pyramid.response import Response
from pyramid.settings import asbool
from pyramid.tweens import INGRESS
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from spets.services import portal
from spets.services.calendar import local_today
from spets.webapp.i18n import LOCALE_COOKIE
from spets.webapp.security import SESSION_COOKIE, SESSION_USER_KEY

log = logging.getLogger(__name__)

RESULTS_PATH = re.compile(r"/portal/children/(\d+)/results")
CSRF_KEY = "_csrft_"  # where Pyramid's session keeps the CSRF token
FLASH_PREFIX = "_f_"  # and the prefix of its flash queues

PageKey = tuple[int, int, str, str, str | None]


@dataclass(frozen=True)
class StoredPage:
    page_inputs: tuple
    expires_at: float
    status: str
    headerlist: tuple[tuple[str, str], ...]
    body: bytes

    def response(self) -> Response:
        return Response(status=self.status, headerlist=list(self.headerlist), body=self.body)


class RenderedPageCache:
    """Rendered pages by session and child, each kept with what it showed, for `ttl_seconds`.

    Entries are kept in the order they were stored, which is also the order they expire,
    so storing drops expired entries from the front and the oldest ones beyond
    `max_entries`.
    """

    def __init__(self, ttl_seconds: float = 60.0, max_entries: int = 10_000):
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.hits = 0
        self._entries: OrderedDict[PageKey, StoredPage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: PageKey, page_inputs: tuple) -> StoredPage | None:
        page = self._entries.get(key)
        if page is None or page.page_inputs != page_inputs or page.expires_at < time.monotonic():
            return None
        self.hits += 1
        return page

    def put(self, key: PageKey, page_inputs: tuple, response: Response) -> None:
        page = StoredPage(
            page_inputs=page_inputs,
            expires_at=time.monotonic() + self.ttl_seconds,
            status=response.status,
            headerlist=tuple(response.headerlist),
            body=response.body,
        )
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = page
            self._drop_old()

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
    """Return the key of a results page request the cache may answer, else None.

    None for anything but a plain GET of a results page by a signed-in session whose
    cookie needs no reissue and which has no flash message waiting.
    """
    if request.method != "GET" or request.query_string:
        return None
    match = RESULTS_PATH.fullmatch(request.path_info)
    if match is None or SESSION_COOKIE not in request.cookies:
        return None

    session = request.session
    user_id = session.get(SESSION_USER_KEY)
    csrf_token = session.get(CSRF_KEY)
    if user_id is None or csrf_token is None or request.response_callbacks:
        return None
    if any(key.startswith(FLASH_PREFIX) and value for key, value in session.items()):
        return None
    return (
        int(user_id),
        int(match[1]),
        csrf_token,
        request.application_url,
        request.cookies.get(LOCALE_COOKIE),
    )


def _is_storable(request, response) -> bool:
    return (
        response.status_code == 200
        and response.content_type == "text/html"
        and "Set-Cookie" not in response.headers
        and not request.response_callbacks
        and getattr(request, "exception", None) is None
    )


class ResultsPageTween:
    """Serve a stored results page when the check allows it; store the pages the app renders."""

    def __init__(self, handler, registry):
        self.handler = handler
        self.cache: RenderedPageCache = registry["spets.results_page_cache"]
        self.engine = _engine_of(registry["dbsession_factory"])

    def __call__(self, request):
        key = page_key(request)
        if key is None:
            return self.handler(request)

        check = self._check(request, user_id=key[0], student_id=key[1])
        if check is None or not check.may_read:
            return self.handler(request)

        page = self.cache.get(key, check.page_inputs)
        if page is not None:
            return page.response()

        response = self.handler(request)
        if _is_storable(request, response):
            # The check was read before the app read the page, so the page is never older.
            self.cache.put(key, check.page_inputs, response)
        return response

    def _check(self, request, *, user_id: int, student_id: int) -> portal.ResultsPageCheck | None:
        today = local_today(request.now)
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
            log.exception("results page check failed; rendering the page instead")
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


def includeme(config):
    settings = config.get_settings()
    config.registry["spets.results_page_cache"] = RenderedPageCache(
        ttl_seconds=int(settings.get("spets.portal.page_cache_seconds", 60)),
        max_entries=int(settings.get("spets.portal.page_cache_entries", 10_000)),
    )
    if asbool(settings.get("spets.portal.page_cache", True)):
        config.add_tween("spets.webapp.page_cache.ResultsPageTween", under=INGRESS)
