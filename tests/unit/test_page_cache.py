"""Which requests the results page cache answers, and how it keeps and drops pages."""

import pytest
from pyramid.request import Request
from pyramid.response import Response

from spets.webapp.page_cache import RenderedPageCache, page_key

PATH = "/portal/children/7/results"


def results_request(path=PATH, *, session=None, method="GET", cookie=True) -> Request:
    request = Request.blank(path, method=method)
    if cookie:
        request.cookies["spets_session"] = "signed"
    request.session = {"user_id": 3, "_csrft_": "token"} if session is None else session
    return request


def test_key_names_user_child_token_and_address():
    assert page_key(results_request()) == (3, 7, "token", "http://localhost", None)


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
        lambda: results_request(session={"_csrft_": "token"}),
        lambda: results_request(session={"user_id": 3}),
        lambda: results_request(session={"user_id": 3, "_csrft_": "t", "_f_success": ["Saved"]}),
    ],
    ids=["post", "query", "other page", "no cookie", "signed out", "no token", "flash waiting"],
)
def test_no_key_for_requests_the_cache_must_not_answer(request_of):
    assert page_key(request_of()) is None


def test_no_key_when_the_session_cookie_is_due_for_reissue():
    request = results_request()
    request.add_response_callback(lambda request, response: None)
    assert page_key(request) is None


def test_empty_flash_queue_does_not_stop_the_cache():
    session = {"user_id": 3, "_csrft_": "token", "_f_success": []}
    assert page_key(results_request(session=session)) is not None


def page(text: str) -> Response:
    return Response(body=text.encode(), content_type="text/html")


def test_page_served_only_while_what_it_shows_is_unchanged():
    cache = RenderedPageCache()
    key = (3, 7, "token", "http://localhost", None)
    cache.put(key, ("ur", 1), page("first"))

    assert cache.get(key, ("ur", 1)).response().body == b"first"
    assert cache.get(key, ("ur", 2)) is None
    assert cache.hits == 1


def test_expired_and_oldest_pages_dropped():
    cache = RenderedPageCache(ttl_seconds=60, max_entries=2)
    for student_id in (1, 2, 3):
        cache.put((3, student_id, "t", "h", None), (), page(str(student_id)))

    assert len(cache) == 2
    assert cache.get((3, 1, "t", "h", None), ()) is None


def test_expired_pages_neither_served_nor_kept():
    cache = RenderedPageCache(ttl_seconds=-1)
    cache.put((3, 1, "t", "h", None), (), page("1"))
    assert cache.get((3, 1, "t", "h", None), ()) is None

    cache.ttl_seconds = 60
    cache.put((3, 2, "t", "h", None), (), page("2"))
    assert len(cache) == 1
