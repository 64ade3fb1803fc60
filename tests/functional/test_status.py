"""The liveness check: /healthz responds without signing in, sets no cookie and shows no detail."""

import pytest
from pyramid.testing import DummyRequest
from sqlalchemy.exc import OperationalError

from spets.webapp.views.status import live


def test_live_answers_ok_without_a_session(testapp, world):
    response = testapp.get("/healthz")

    assert response.status_int == 200
    assert response.text == "ok\n"
    assert response.content_type == "text/plain"
    assert "no-store" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers


def test_live_answers_503_when_the_database_fails(caplog):
    class UnreachableSession:
        def execute(self, statement):
            raise OperationalError("SELECT 1", {}, Exception("connection refused on 10.0.0.5"))

    request = DummyRequest(dbsession=UnreachableSession())

    response = live(request)

    assert response.status_int == 503
    assert response.text == "database unreachable\n"
    assert "10.0.0.5" not in response.text
    assert "status_check_failed" in caplog.text


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_live_takes_only_get(testapp, method):
    response = testapp.request("/healthz", method=method, expect_errors=True)
    assert response.status_int == 404
