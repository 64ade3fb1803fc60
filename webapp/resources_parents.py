"""Route contexts of the parents pages: a guardian's child, threads, broadcasts, PTMs, corrections.

A guardian reaches a child only through their own account's guardian records
(`GuardianAccount` and `StudentGuardian`), never through the org grants that staff use;
any other child answers 404, whether or not it exists. Threads and broadcasts are reached
by their participants only. Staff records (PTM days and slots, corrections, invitations)
follow the scope rules of the school they belong to.
"""

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound
from sqlalchemy import select

from spets.models import (
    Broadcast,
    FamilyCorrection,
    Invitation,
    MessageThread,
    OrgUnit,
    Section,
)
from spets.models.ptm import PtmBooking, PtmDay, PtmSlot
from spets.services import guardians, threads
from spets.services.scope import ROLE_PERMISSIONS
from spets.services.scope import Permission as P
from spets.webapp.resources import RecordContext, _current_section_id, _get_or_404

GUARDIAN_PERMISSIONS = frozenset({P.PORTAL, P.ACCOUNT})


def _guardian_ids(request) -> list[int]:
    principal = request.identity
    if principal is None or P.PORTAL not in principal.permissions_anywhere():
        return []
    return threads.guardian_ids_of_user(request.dbsession, principal.user_id)


class GuardianChildContext:
    """A child of the signed-in guardian: 404 for anyone else, staff included."""

    def __init__(self, request):
        self.request = request
        if request.identity is None:
            raise HTTPForbidden()
        try:
            student_id = int(request.matchdict["student_id"])
        except (KeyError, ValueError):
            raise HTTPNotFound() from None
        found = guardians.child_link(request.dbsession, request.identity.user_id, student_id)
        if found is None or P.PORTAL not in request.identity.permissions_anywhere():
            raise HTTPNotFound()
        self.student, self.link, self.guardian = found

    def permissions_for(self, principal):
        return GUARDIAN_PERMISSIONS


class GuardianBookingContext(GuardianChildContext):
    """A PTM booking of the guardian's child, made by one of the guardian's records."""

    def __init__(self, request):
        super().__init__(request)
        self.booking = _get_or_404(request, PtmBooking, "booking_id")
        if (
            self.booking.student_id != self.student.id
            or self.booking.guardian_id not in _guardian_ids(request)
        ):
            raise HTTPNotFound()


class ThreadContext:
    """A message thread: its member of staff and the guardian's account reach it, nobody else."""

    def __init__(self, request):
        self.request = request
        if request.identity is None:
            raise HTTPForbidden()
        self.thread = _get_or_404(request, MessageThread, "thread_id")
        self.student = self.thread.student
        principal = request.identity
        self.is_staff = principal.user_id == self.thread.staff_id
        self.is_guardian = self.thread.guardian_id in _guardian_ids(request)
        if not (self.is_staff or self.is_guardian):
            raise HTTPNotFound()

    def permissions_for(self, principal):
        if principal.user_id != self.request.identity.user_id:
            return frozenset()
        granted = {P.ACCOUNT}
        if self.is_staff:
            granted.add(P.GUARDIAN_MESSAGE)
        if self.is_guardian:
            granted.add(P.PORTAL)
        return frozenset(granted)


class BroadcastContext:
    """A broadcast: staff who may write to its section read who has seen it; recipients read it."""

    def __init__(self, request):
        self.request = request
        principal = request.identity
        if principal is None:
            raise HTTPForbidden()
        self.broadcast = _get_or_404(request, Broadcast, "broadcast_id")
        self.section = request.dbsession.get(Section, self.broadcast.section_id)
        staff = principal.permissions_at(self.section.school.path, self.section.id)
        self.is_staff = (
            P.SECTION_BROADCAST in staff or principal.user_id == self.broadcast.author_id
        )
        self.is_recipient = bool(
            threads.recipient_guardian_ids(request.dbsession, self.broadcast.id, principal.user_id)
        )
        if not (self.is_staff or self.is_recipient):
            raise HTTPNotFound()

    def permissions_for(self, principal):
        if principal.user_id != self.request.identity.user_id:
            return frozenset()
        granted = {P.ACCOUNT}
        if self.is_staff:
            granted.add(P.SECTION_BROADCAST)
        if self.is_recipient:
            granted.add(P.PORTAL)
        return frozenset(granted)


class PtmDayContext(RecordContext):
    """A PTM day: managed by grants at or above its unit, worked on by the schools below it."""

    view_permission = P.PTM_SLOTS

    def load(self, request):
        self.ptm_day = _get_or_404(request, PtmDay, "day_id")
        self.unit = self.ptm_day.org_unit
        self.org_path = self.unit.path

    def permissions_for(self, principal):
        permissions = set(principal.permissions_at(self.org_path))
        below = any(
            grant.org_path.startswith(self.org_path) and P.PTM_SLOTS in ROLE_PERMISSIONS[grant.role]
            for grant in principal.grants
        )
        sections = principal.taught_section_ids | principal.class_section_ids
        if not below and sections:
            below = (
                self.request.dbsession.scalar(
                    select(Section.id)
                    .join(OrgUnit, OrgUnit.id == Section.school_id)
                    .where(
                        Section.id.in_(sections),
                        OrgUnit.path.startswith(self.org_path, autoescape=True),
                    )
                    .limit(1)
                )
                is not None
            )
        if below:
            permissions.add(P.PTM_SLOTS)
        return frozenset(permissions)


class PtmSlotContext(RecordContext):
    """A slot: its teacher and whoever manages PTMs at its school may remove it."""

    view_permission = P.PTM_SLOTS

    def load(self, request):
        self.slot = _get_or_404(request, PtmSlot, "slot_id")
        self.school = request.dbsession.get(OrgUnit, self.slot.school_id)
        self.org_path = self.school.path

    def permissions_for(self, principal):
        permissions = set(principal.permissions_at(self.org_path))
        if P.PTM_MANAGE not in permissions:
            permissions.discard(P.PTM_SLOTS)
        if principal.user_id == self.slot.teacher_id:
            permissions.add(P.PTM_SLOTS)
        return frozenset(permissions)


class CorrectionContext(RecordContext):
    """A correction proposed by a guardian: decided by the class teacher or the head teacher."""

    view_permission = P.CORRECTION_DECIDE
    known_permission = P.STUDENT_VIEW

    def load(self, request):
        self.correction = _get_or_404(request, FamilyCorrection, "correction_id")
        self.student = self.correction.student
        self.org_path = self.student.school.path
        self.section_id = _current_section_id(request, self.student.id)


class InvitationContext(RecordContext):
    """An invitation: revoked by whoever may invite for one of the guardian's children."""

    view_permission = P.GUARDIAN_INVITE
    known_permission = P.STUDENT_VIEW

    def load(self, request):
        self.invitation = _get_or_404(request, Invitation, "invitation_id")
        self.students = guardians.students_of_guardian(
            request.dbsession, self.invitation.guardian_id
        )
        if not self.students:
            raise HTTPNotFound()
        self.org_path = self.students[0].school.path

    def permissions_for(self, principal):
        permissions: set[str] = set()
        for student in self.students:
            section_id = _current_section_id(self.request, student.id)
            permissions |= principal.permissions_at(student.school.path, section_id)
        return frozenset(permissions)
