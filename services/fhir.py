"""The health department's link: referrals as FHIR R4B resources out, status updates in.

Out: each referral becomes a transaction Bundle of a Patient (the student), an
Organization (the facility) and a ServiceRequest (the referral). Every resource has a
SPeTS id and is sent with PUT, so re-sending a referral after an escalation updates the
same resources instead of creating new ones. Each bundle is checked against the
`fhir.resources` R4B models before it is queued in the outbox; `FhirSender` posts it.

In: the department reports progress with a Task (status, its `focus` or `basedOn`
naming the ServiceRequest) or a ServiceRequest (status completed or revoked), alone or
in a Bundle. `parse_status_updates` reads and checks a body; `apply_status_updates`
moves each referral's state, all updates or none.
"""

import json
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task as FhirTask
from pydantic import ValidationError
from sqlalchemy.orm import Session

from spets.forms.health import FACILITY_KIND, SERVICES
from spets.i18n import translate
from spets.models import (
    Channel,
    Gender,
    HealthFacility,
    OrgUnit,
    OutboxMessage,
    Referral,
    ReferralState,
    Student,
)

log = logging.getLogger(__name__)

FHIR_VERSION = "4.3.0"  # R4B
FHIR_MEDIA_TYPE = "application/fhir+json"

# Identifier systems of SPeTS's own numbers.
SYSTEM_STUDENT = "urn:spets:student"
SYSTEM_B_FORM = "urn:spets:nadra-b-form"
SYSTEM_REFERRAL = "urn:spets:referral"
SYSTEM_FACILITY = "urn:spets:facility"
SYSTEM_SERVICE = "urn:spets:service"
SYSTEM_FACILITY_KIND = "urn:spets:facility-kind"

_REQUEST_ID = re.compile(r"^(?:ServiceRequest/)?spets-referral-(\d+)(?:/_history/.*)?$")


class FhirError(Exception):
    """A rejected status update: `status` is the HTTP status of the response."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# Ids.


def request_id(referral_id: int) -> str:
    return f"spets-referral-{referral_id}"


def patient_id(student_id: int) -> str:
    return f"spets-student-{student_id}"


def organization_id(facility_id: int) -> str:
    return f"spets-facility-{facility_id}"


# Out: the resources of a referral.


def patient_resource(student: Student, school: OrgUnit, guardian=None) -> dict[str, Any]:
    identifiers = [{"system": SYSTEM_STUDENT, "value": f"{school.code}/{student.admission_no}"}]
    if student.b_form:
        identifiers.append({"system": SYSTEM_B_FORM, "value": student.b_form})
    names = [{"use": "official", "text": student.name_en}]
    if student.name_ur:
        names.append({"use": "usual", "text": student.name_ur})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id(student.id),
        "identifier": identifiers,
        "name": names,
        "gender": "male" if student.gender == Gender.MALE else "female",
        "birthDate": student.date_of_birth.isoformat(),
    }
    if guardian is not None:
        contact: dict[str, Any] = {
            "relationship": [{"text": guardian.relation.value}],
            "name": {"text": guardian.guardian.name_en},
        }
        if guardian.guardian.phone:
            contact["telecom"] = [
                {"system": "phone", "value": guardian.guardian.phone, "use": "mobile"}
            ]
        resource["contact"] = [contact]
    return resource


def organization_resource(facility: HealthFacility, district: OrgUnit | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": organization_id(facility.id),
        "identifier": [{"system": SYSTEM_FACILITY, "value": facility.code}],
        "active": facility.is_active,
        "type": [
            {
                "coding": [{"system": SYSTEM_FACILITY_KIND, "code": facility.kind.value}],
                "text": translate(FACILITY_KIND[facility.kind], "en"),
            }
        ],
        "name": facility.name_en,
    }
    if facility.name_ur:
        resource["alias"] = [facility.name_ur]
    if facility.phone:
        resource["telecom"] = [{"system": "phone", "value": facility.phone}]
    address: dict[str, Any] = {"country": "PK"}
    if facility.address:
        address["text"] = facility.address
    if district is not None:
        address["district"] = district.name_en
    resource["address"] = [address]
    return resource


def service_request_resource(referral: Referral, school: OrgUnit) -> dict[str, Any]:
    cancelled = referral.state == ReferralState.CANCELLED
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": request_id(referral.id),
        "identifier": [{"system": SYSTEM_REFERRAL, "value": str(referral.id)}],
        "status": "revoked" if cancelled else "active",
        "intent": "order",
        "priority": "urgent" if referral.urgent else "routine",
        "code": {
            "coding": [
                {
                    "system": SYSTEM_SERVICE,
                    "code": referral.service,
                    "display": translate(SERVICES.get(referral.service, referral.service), "en"),
                }
            ]
        },
        "subject": {"reference": f"Patient/{patient_id(referral.student_id)}"},
        "performer": [{"reference": f"Organization/{organization_id(referral.facility_id)}"}],
        "requester": {"display": school.name_en},
        "authoredOn": referral.raised_at.isoformat(),
        "reasonCode": [{"text": referral.reason}],
    }
    if cancelled and referral.cancel_reason:
        resource["note"] = [{"text": f"Cancelled: {referral.cancel_reason}"}]
    return resource


def referral_bundle(
    referral: Referral,
    *,
    student: Student,
    school: OrgUnit,
    facility: HealthFacility,
    district: OrgUnit | None,
    guardian=None,
) -> dict[str, Any]:
    """Return the transaction Bundle of a referral, checked against the R4B models."""
    resources = [
        patient_resource(student, school, guardian),
        organization_resource(facility, district),
        service_request_resource(referral, school),
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:spets:{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
            }
            for resource in resources
        ],
    }
    validate_bundle(bundle)
    return bundle


RESOURCE_MODELS = {
    "Patient": Patient,
    "Organization": Organization,
    "ServiceRequest": ServiceRequest,
    "Task": FhirTask,
    "Bundle": Bundle,
}


def validate_bundle(bundle: dict[str, Any]) -> Bundle:
    """Check a bundle and every resource in it; raise ValueError naming the first problem."""
    try:
        model = Bundle.model_validate(bundle)
        for entry in bundle.get("entry", []):
            resource = entry["resource"]
            RESOURCE_MODELS[resource["resourceType"]].model_validate(resource)
    except ValidationError as error:
        raise ValueError(f"invalid FHIR bundle: {error.errors()[0]}") from error
    return model


# Out: the sender that posts bundles from the outbox.


@dataclass
class FhirSender:
    """Posts each FHIR message of the outbox (a transaction Bundle) to the department's base URL."""

    url: str
    token: str = ""
    timeout: float = 20.0

    def send(self, message: OutboxMessage, session: Session) -> None:
        headers = {"Content-Type": FHIR_MEDIA_TYPE, "Accept": FHIR_MEDIA_TYPE}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = httpx.post(
            self.url, content=message.body.encode("utf-8"), headers=headers, timeout=self.timeout
        )
        response.raise_for_status()
        _remember_department_id(session, message, response)


def _remember_department_id(session: Session, message: OutboxMessage, response) -> None:
    """Store the ServiceRequest id from the department's response, when it contains one."""
    match = _REQUEST_ID.match(message.address)
    if match is None:
        return
    referral = session.get(Referral, int(match.group(1)))
    if referral is None:
        return
    department_id = request_id(referral.id)
    try:
        reply = response.json()
    except ValueError:
        reply = {}
    for entry in reply.get("entry", []) if isinstance(reply, dict) else []:
        location = (entry.get("response") or {}).get("location", "")
        if location.startswith("ServiceRequest/"):
            department_id = location.split("/")[1][:64]
    if referral.fhir_id != department_id:
        referral.fhir_id = department_id


def register_sender(senders, settings) -> None:
    """Add the FHIR sender to a `messaging.Senders` when `spets.fhir.url` is set.

    Without the setting, FHIR messages fail at their first attempt with the reason
    "no sender configured for fhir", as e-mails do without an SMTP host.
    """
    url = str(settings.get("spets.fhir.url") or "").strip()
    if not url:
        return
    senders.by_channel[Channel.FHIR] = FhirSender(
        url=url,
        token=str(settings.get("spets.fhir.token") or ""),
        timeout=float(settings.get("spets.fhir.timeout") or 20),
    )


# In: status updates.


@dataclass(frozen=True)
class StatusUpdate:
    """One reported step of a referral: the state it has reached and what came with it."""

    referral_id: int
    target: ReferralState
    outcome: str = ""
    appointment_on: date | None = None
    reason: str = ""


# FHIR Task status → the referral state it means. Other statuses are refused.
TASK_STATUSES = {
    "received": ReferralState.ACKNOWLEDGED,
    "accepted": ReferralState.ACKNOWLEDGED,
    "in-progress": ReferralState.SEEN,
    "completed": ReferralState.CLOSED,
    "rejected": ReferralState.CANCELLED,
    "cancelled": ReferralState.CANCELLED,
}
REQUEST_STATUSES = {
    "completed": ReferralState.CLOSED,
    "revoked": ReferralState.CANCELLED,
}


def parse_status_updates(body: bytes) -> list[StatusUpdate]:
    """Read a status update body: a Task, a ServiceRequest, or a Bundle of them.

    Raises FhirError (400) naming what is wrong, so the sender can correct it.
    """
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FhirError(400, f"The body is not JSON: {error}.") from error
    if not isinstance(data, dict) or "resourceType" not in data:
        raise FhirError(400, "The body is not a FHIR resource: it has no resourceType.")
    kind = data["resourceType"]
    if kind == "Bundle":
        _check_model(Bundle, data)
        entries = [entry.get("resource") for entry in data.get("entry") or []]
        if not entries or any(not isinstance(entry, dict) for entry in entries):
            raise FhirError(400, "The Bundle has no entries with a resource.")
        return [_parse_one(entry) for entry in entries]
    return [_parse_one(data)]


def _parse_one(data: dict[str, Any]) -> StatusUpdate:
    kind = data.get("resourceType")
    if kind == "Task":
        return _parse_task(data)
    if kind == "ServiceRequest":
        return _parse_service_request(data)
    raise FhirError(
        400, f"A {kind} cannot report a referral's status: send a Task or a ServiceRequest."
    )


def _check_model(model, data: dict[str, Any]):
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise FhirError(
            400, f"The {data.get('resourceType')} is not valid FHIR R4B: {where}: {first['msg']}."
        ) from error


def _referral_id_from(references: list[str]) -> int:
    for reference in references:
        match = _REQUEST_ID.match(reference or "")
        if match:
            return int(match.group(1))
    raise FhirError(
        400,
        "No referral is named: give focus or basedOn as ServiceRequest/spets-referral-<id>.",
    )


def _texts(items) -> str:
    return " ".join(item.text.strip() for item in items or [] if getattr(item, "text", None))


def _parse_task(data: dict[str, Any]) -> StatusUpdate:
    task = _check_model(FhirTask, data)
    if task.status not in TASK_STATUSES:
        raise FhirError(
            422,
            f'Task status "{task.status}" does not move a referral: use one of '
            f"{', '.join(TASK_STATUSES)}.",
        )
    references = [task.focus.reference if task.focus else ""]
    references += [reference.reference for reference in task.basedOn or []]
    target = TASK_STATUSES[task.status]
    appointment = None
    if task.executionPeriod and task.executionPeriod.start and target == ReferralState.ACKNOWLEDGED:
        appointment = _as_date(task.executionPeriod.start)
        target = ReferralState.APPOINTMENT
    outputs = " ".join(
        output.valueString.strip() for output in task.output or [] if output.valueString
    )
    outcome = outputs or _texts(task.note)
    reason = (
        task.statusReason.text if task.statusReason and task.statusReason.text else ""
    ) or _texts(task.note)
    return _checked(
        StatusUpdate(_referral_id_from(references), target, outcome, appointment, reason.strip())
    )


def _parse_service_request(data: dict[str, Any]) -> StatusUpdate:
    request = _check_model(ServiceRequest, data)
    if request.status not in REQUEST_STATUSES:
        raise FhirError(
            422,
            f'ServiceRequest status "{request.status}" does not move a referral: use '
            "completed or revoked.",
        )
    references = [f"ServiceRequest/{request.id}" if request.id else ""]
    references += [
        f"spets-referral-{identifier.value}"
        for identifier in request.identifier or []
        if identifier.system == SYSTEM_REFERRAL and identifier.value
    ]
    note = _texts(request.note)
    return _checked(
        StatusUpdate(
            _referral_id_from(references), REQUEST_STATUSES[request.status], note, None, note
        )
    )


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _checked(update: StatusUpdate) -> StatusUpdate:
    if update.target == ReferralState.CLOSED and not update.outcome:
        raise FhirError(
            400,
            "A completed referral needs its outcome: give it in Task.output.valueString or a note.",
        )
    if update.target == ReferralState.CANCELLED and not update.reason:
        raise FhirError(
            400, "A cancelled referral needs a reason: give it in statusReason.text or a note."
        )
    return update


def operation_outcome(message: str, severity: str = "error", code: str = "invalid") -> dict:
    """Return an OperationOutcome with one issue: the body of every response of the inbound endpoint."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": message}],
    }
