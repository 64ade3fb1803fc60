"""Contexts of the health pages: who reaches a screening, a well-being record or a referral.

They follow the rules of `webapp.resources`: a record outside the caller's scope answers
404; a student the caller may see but whose health record they may not read answers 403.
Health staff of a facility hold nothing over schools: they reach a referral only when it
was sent to a facility they work at, and then no other record of the student.
"""

import hmac
import logging
import os
from dataclasses import dataclass

from spets.models import (
    HealthFacility,
    HealthScreening,
    InstrumentResponse,
    OrgUnit,
    Referral,
    ReferralSource,
    Role,
    ScreeningInstrument,
    Student,
    WellbeingObservation,
)
from spets.services import fhir, referrals
from spets.services.scope import Permission as P
from spets.webapp.resources import (
    RecordContext,
    SectionContext,
    StudentContext,
    _current_section_id,
    _get_or_404,
    _TenantRecordContext,
)

# Granted only through ReferralContext, to staff of the facility a referral was sent to:
# acknowledge it, give an appointment, mark the child seen, close it with an outcome.
REFERRAL_HANDLE = "referral.handle"

# Granted only through InstrumentContext: read a questionnaire's text and scoring (the
# people who give screeners, and the administrators who load them).
INSTRUMENT_READ = "instrument.read"

# Granted only through FhirInboundContext, to a request that carries the health
# department's bearer token: post FHIR status updates of referrals. No role contains it.
FHIR_STATUS_UPDATE = "fhir.status_update"

FHIR_TOKEN_ENV = "SPETS_FHIR_INBOUND_TOKEN"  # noqa: S105 - the variable's name, not a secret

log = logging.getLogger(__name__)


class HealthSectionContext(SectionContext):
    """A section's screening page: the class teacher, a school health officer, the head teacher."""

    view_permission = P.HEALTH_VIEW
    known_permission = P.SECTION_VIEW


class ScreeningNewContext(StudentContext):
    view_permission = P.HEALTH_RECORD
    known_permission = P.STUDENT_VIEW


class ObserveContext(StudentContext):
    view_permission = P.WELLBEING_OBSERVE
    known_permission = P.STUDENT_VIEW


class WellbeingStudentContext(StudentContext):
    view_permission = P.WELLBEING_VIEW
    known_permission = P.STUDENT_VIEW


class ReferralNewContext(StudentContext):
    view_permission = P.REFERRAL_RAISE
    known_permission = P.STUDENT_VIEW


class _StudentRecordContext(RecordContext):
    """A record of one student, reached through the student's school and current section."""

    known_permission = P.STUDENT_VIEW

    def _attach_student(self, request, student) -> None:
        self.student = student
        self.org_path = student.school.path
        self.section_id = _current_section_id(request, student.id)


class ScreeningContext(_StudentRecordContext):
    view_permission = P.HEALTH_VIEW

    def load(self, request):
        self.screening = _get_or_404(request, HealthScreening, "screening_id")
        self._attach_student(request, self.screening.student)


class ObservationContext(_StudentRecordContext):
    view_permission = P.WELLBEING_VIEW

    def load(self, request):
        self.observation = _get_or_404(request, WellbeingObservation, "observation_id")
        self._attach_student(request, request.dbsession.get(Student, self.observation.student_id))


class ResponseContext(_StudentRecordContext):
    view_permission = P.WELLBEING_VIEW

    def load(self, request):
        self.response = _get_or_404(request, InstrumentResponse, "response_id")
        self._attach_student(request, request.dbsession.get(Student, self.response.student_id))


def is_sensitive(referral: Referral) -> bool:
    """A mental-health referral tells of well-being: the school side needs WELLBEING_VIEW for it."""
    return referral.service == "mental_health" or referral.source == ReferralSource.WELLBEING_SAFETY


class ReferralContext(RecordContext):
    """A referral: its school's viewers, the district health officer, and the facility's staff."""

    view_permission = P.REFERRAL_VIEW

    def load(self, request):
        self.referral = _get_or_404(request, Referral, "referral_id")
        self.student = self.referral.student
        self.school = request.dbsession.get(OrgUnit, self.referral.school_id)
        self.facility = self.referral.facility
        self.org_path = self.school.path
        self.section_id = _current_section_id(request, self.student.id)
        self._cache: dict[int, frozenset[str]] = {}

    def permissions_for(self, principal):
        if principal.user_id not in self._cache:
            self._cache[principal.user_id] = self._permissions(principal)
        return self._cache[principal.user_id]

    def _permissions(self, principal) -> frozenset[str]:
        school_side = principal.permissions_at(self.org_path, self.section_id)
        permissions: set[str] = set()
        if P.REFERRAL_VIEW in school_side and (
            not is_sensitive(self.referral) or P.WELLBEING_VIEW in school_side
        ):
            permissions |= school_side & {
                P.REFERRAL_VIEW,
                P.REFERRAL_RAISE,
                P.HEALTH_VIEW,
                P.WELLBEING_VIEW,
            }
        if P.REFERRAL_OVERSEE in school_side:
            permissions |= {P.REFERRAL_VIEW, P.REFERRAL_OVERSEE}
        if Role.HEALTH_STAFF in principal.roles and referrals.is_facility_staff(
            self.request.dbsession, principal.user_id, self.referral.facility_id
        ):
            permissions |= {P.REFERRAL_VIEW, REFERRAL_HANDLE}
        return frozenset(permissions)

    @property
    def is_facility_side(self) -> bool:
        return REFERRAL_HANDLE in self.permissions


class FacilityContext(_TenantRecordContext):
    view_permission = P.FACILITY_ADMIN

    def load(self, request):
        self.facility = _get_or_404(request, HealthFacility, "facility_id")
        self._attach_tenant(request, self.facility.tenant_id)


class InstrumentContext(RecordContext):
    """A screening instrument: shared by every tenant, read by whoever gives screeners."""

    view_permission = INSTRUMENT_READ

    def load(self, request):
        self.instrument = _get_or_404(request, ScreeningInstrument, "instrument_id")
        self.org_path = "/"

    def permissions_for(self, principal):
        if {P.WELLBEING_VIEW, P.FACILITY_ADMIN} & principal.permissions_anywhere():
            return frozenset({INSTRUMENT_READ})
        return frozenset()


def fhir_inbound_token(settings) -> str:
    """Return the token the department must present: the environment first, then the .ini."""
    return os.environ.get(FHIR_TOKEN_ENV) or str(settings.get("spets.fhir.inbound_token") or "")


@dataclass(frozen=True)
class DepartmentClient:
    """The health department's system after its bearer token matched: a caller, not a user.

    It has the attributes of a `Principal` that request helpers read (no user id, English)
    and no grant over any school, so only FhirInboundContext gives it a permission.
    """

    client_addr: str | None
    user_id: None = None
    locale: str = "en"
    roles: frozenset = frozenset()
    grants: tuple = ()

    def permissions_at(self, org_path: str, section_id: int | None = None) -> frozenset[str]:
        return frozenset()

    def permissions_anywhere(self) -> frozenset[str]:
        return frozenset()


class FhirInboundContext:
    """The status-update endpoint: authenticates the department by a bearer token.

    The session-based security policy denies every request without a signed-in user,
    and the department's system has no session. So this factory checks the token (in
    constant time) before the view is looked up, and on a match makes the request's
    identity a DepartmentClient, to which `permissions_for` grants FHIR_STATUS_UPDATE.
    A missing server token raises FhirError 503 and a missing or wrong bearer token
    raises FhirError 401. The exception view in webapp/views/fhir.py turns either into an
    OperationOutcome. Nothing is read or written before the token matches.
    """

    def __init__(self, request):
        self.request = request
        expected = fhir_inbound_token(request.registry.settings)
        if not expected:
            log.error("fhir_inbound_not_configured")
            raise fhir.FhirError(
                503, f"Status updates are not accepted: {FHIR_TOKEN_ENV} is not set on the server."
            )
        presented = _bearer_token(request)
        if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
            log.warning("fhir_inbound_refused", extra={"client_addr": request.client_addr})
            raise fhir.FhirError(
                401, "Missing or wrong bearer token: send Authorization: Bearer <token>."
            )
        client = DepartmentClient(request.client_addr)
        # Request.identity is a property that calls the security policy, which reads only
        # the session. set_property overrides the property on this request alone.
        request.set_property(lambda _request: client, name="identity")

    def permissions_for(self, principal) -> frozenset[str]:
        if isinstance(principal, DepartmentClient):
            return frozenset({FHIR_STATUS_UPDATE})
        return frozenset()


def _bearer_token(request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _space, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""
