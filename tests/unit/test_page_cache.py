"""Which requests the results page cache serves, and how it keeps and drops pages."""

import time
from datetime import date

import pytest
from pyramid.request import Request

from spets.webapp.page_cache import RenderedPageCache, StoredPage, page_key, session_facts

PATH = "/portal/children/7/results"


class Session(dict):
    renewed = 1_000.0


def results_request(path=PATH, *, session=None, method="GET", cookie=True) -> Request:
    request = Request.blank(path, method=method)
    if cookie:
        request.cookies["spets_session"] = "signed"
    request.session = Session({"user_id": 3, "_csrft_": "token"} if session is None else session)
    return request


def test_key_names_cookie_child_and_address():
    assert page_key(results_request()) == ("signed", 7, "http://localhost", None)


def test_key_includes_the_language_cookie():
    request = results_request()
    request.cookies["spets_locale"] = "en"
    assert page_key(request)[-1] == "en"


@pytest.mark.parametrize(
    "request_of",
    [
        lambda: results_request(method="POST"),
        lambda: results_request(PATH + "?x=1"),
        lambda: results_request("/portal/children/7/feedback"),
        lambda: results_request(cookie=False),
    ],
    ids=["post", "query", "other page", "no cookie"],
)
def test_no_key_for_other_requests(request_of):
    assert page_key(request_of()) is None


def test_session_facts_of_a_signed_in_session():
    facts = session_facts(results_request())
    assert (facts.user_id, facts.signed_at) == (3, 1_000.0)


@pytest.mark.parametrize(
    "session",
    [
        {"_csrft_": "token"},
        {"user_id": 3},
        {"user_id": 3, "_csrft_": "t", "_f_success": ["Saved"]},
    ],
    ids=["signed out", "no token", "flash waiting"],
)
def test_no_facts_for_unstorable_sessions(session):
    assert session_facts(results_request(session=session)) is None


def test_no_facts_when_cookie_due():
    request = results_request()
    request.add_response_callback(lambda request, response: None)
    assert session_facts(request) is None


def test_empty_flash_queue_allowed():
    session = {"user_id": 3, "_csrft_": "token", "_f_success": []}
    assert session_facts(results_request(session=session)) is not None


def stored(text: str, ttl: float = 60) -> StoredPage:
    return StoredPage(
        user_id=3,
        student_id=7,
        tenant_id=1,
        cookie_signed_at=time.time(),
        page_inputs=(),
        checked_on=date(2026, 12, 4),
        position=None,
        expires_at=time.monotonic() + ttl,
        status="200 OK",
        headerlist=(("Content-Type", "text/html; charset=UTF-8"),),
        body=text.encode(),
    )


def test_stored_page_sent_back_as_it_was():
    cache = RenderedPageCache()
    cache.put(("c", 7, "h", None), stored("first"))
    response = cache.get(("c", 7, "h", None)).response()
    assert (response.body, response.content_type) == (b"first", "text/html")


def test_oldest_pages_dropped_beyond_the_limit():
    cache = RenderedPageCache(max_entries=2)
    for student_id in (1, 2, 3):
        cache.put(("c", student_id, "h", None), stored(str(student_id)))

    assert len(cache) == 2
    assert cache.get(("c", 1, "h", None)) is None


def test_expired_pages_neither_served_nor_kept():
    cache = RenderedPageCache()
    cache.put(("c", 1, "h", None), stored("1", ttl=-1))
    assert cache.get(("c", 1, "h", None)) is None

    cache.put(("c", 2, "h", None), stored("2"))
    assert len(cache) == 1


def test_renewal_keeps_expiry():
    cache = RenderedPageCache()
    page = stored("1")
    cache.put(("c", 1, "h", None), page)
    cache.renew(("c", 1, "h", None), page)
    cache.renew(("c", 2, "h", None), page)

    assert len(cache) == 1
