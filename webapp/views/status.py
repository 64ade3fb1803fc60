"""The liveness check that a load balancer or a monitor polls: the app runs and reaches its database."""

import logging

from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


@view_config(route_name="status.live", request_method="GET", permission=NO_PERMISSION_REQUIRED)
def live(request):
    """Return 200 "ok" when one `SELECT 1` succeeds and 503 when it fails.

    The check reads no session and sets no cookie. Its response contains no host, user or
    error detail, because the address is public. The log line has the error.
    """
    try:
        request.dbsession.execute(text("SELECT 1")).scalar_one()
    except SQLAlchemyError:
        log.exception("status_check_failed: SELECT 1 failed, the database is unreachable")
        return _plain(503, "database unreachable\n")
    return _plain(200, "ok\n")


def _plain(status: int, body: str) -> Response:
    response = Response(body, status=status, content_type="text/plain", charset="utf-8")
    response.cache_control.no_store = True
    return response
