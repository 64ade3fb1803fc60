"""The health department's status updates: a FHIR endpoint authenticated by a bearer token.

The department's system is not a signed-in user. The route's factory
(`FhirInboundContext`) compares its bearer token with SPETS_FHIR_INBOUND_TOKEN (or
`spets.fhir.inbound_token`) and only then grants FHIR_STATUS_UPDATE, which no role
contains. Without a configured token, every request is rejected. The view takes no
cookie, so it needs no CSRF token.
"""

import json
import logging

from pyramid.response import Response
from pyramid.view import exception_view_config, view_config

from spets.services import fhir, referrals
from spets.services.audit import Actor
from spets.webapp.resources_health import FHIR_STATUS_UPDATE

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000

OUTCOME_CODES = {
    401: "login",
    404: "not-found",
    409: "conflict",
    413: "too-costly",
    422: "not-supported",
    503: "exception",
}


def _answer(status: int, message: str, severity: str = "error", code: str = "invalid") -> Response:
    response = Response(
        body=json.dumps(fhir.operation_outcome(message, severity, code)).encode("utf-8"),
        status=status,
        content_type=fhir.FHIR_MEDIA_TYPE,
        charset="utf-8",
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="spets-fhir"'
    return response


@exception_view_config(fhir.FhirError, route_name="fhir.status")
def fhir_rejected(error, request):
    """Return an OperationOutcome for an update rejected by the factory or the view."""
    log.warning("fhir_update_refused", extra={"status": error.status, "error": error.message})
    return _answer(error.status, error.message, code=OUTCOME_CODES.get(error.status, "invalid"))


@view_config(
    route_name="fhir.status",
    request_method="POST",
    permission=FHIR_STATUS_UPDATE,
    require_csrf=False,
)
def fhir_status(request):
    """Apply a Task, ServiceRequest or Bundle of them to the referrals it names; all or none."""
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise fhir.FhirError(413, f"The body is larger than {MAX_BODY_BYTES} bytes.")

    updates = fhir.parse_status_updates(request.body)
    moved = referrals.apply_status_updates(
        request.dbsession,
        updates,
        actor=Actor(None, request.client_addr),
        now=request.now,
    )
    summary = ", ".join(f"referral {r.id}: {r.state.value}" for r in moved)
    log.info("fhir_update_applied", extra={"referrals": [r.id for r in moved]})
    return _answer(200, f"Updated {summary}.", severity="information", code="informational")
