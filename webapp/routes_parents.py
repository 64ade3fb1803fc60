"""Routes of the parents pages, included from webapp/routes.py.

Guardians work under /portal; staff pages hang off sections, students and tasks. Sign-up
is public. /m/<id> and /b/<id> are the short links that SMS carry.
"""

from spets.services.scope import Permission as P

R = "spets.webapp.resources."
RP = "spets.webapp.resources_parents."
CHILD = "/portal/children/{student_id:\\d+}"


class GuardianPrincipalPredicate:
    """A view predicate that matches when the signed-in user is a guardian (holds PORTAL).

    It lets the parents pages give guardians their own view of a shared route, such as
    the home page, without touching the staff view of it.
    """

    def __init__(self, value, config):
        self.value = bool(value)

    def text(self):
        return f"guardian_principal = {self.value}"

    phash = text

    def __call__(self, context, request):
        principal = request.identity
        is_guardian = principal is not None and P.PORTAL in principal.permissions_anywhere()
        return is_guardian == self.value


def includeme(config):
    config.add_view_predicate("guardian_principal", GuardianPrincipalPredicate)

    # Sign-up with an invitation code and a one-time code; adding a child to an account.
    config.add_route("signup.start", "/signup")
    config.add_route("signup.verify", "/signup/verify")
    config.add_route("signup.link", "/portal/link")

    # The portal: the guardian's children and what the guardian may see of each.
    config.add_route("portal.home", "/portal")
    config.add_route("portal.settings", "/portal/settings")
    config.add_route("portal.child", CHILD, factory=RP + "GuardianChildContext")
    config.add_route("portal.results", CHILD + "/results", factory=RP + "GuardianChildContext")
    config.add_route(
        "portal.report_card", CHILD + "/report-card.pdf", factory=RP + "GuardianChildContext"
    )
    config.add_route("portal.feedback", CHILD + "/feedback", factory=RP + "GuardianChildContext")
    config.add_route(
        "portal.attendance", CHILD + "/attendance", factory=RP + "GuardianChildContext"
    )
    config.add_route("portal.health", CHILD + "/health", factory=RP + "GuardianChildContext")
    config.add_route("portal.ptm", CHILD + "/ptm", factory=RP + "GuardianChildContext")
    config.add_route("portal.messages", CHILD + "/messages", factory=RP + "GuardianChildContext")

    # Proposed corrections: by the guardian, then decided by staff.
    config.add_route(
        "corrections.new", CHILD + "/corrections/new", factory=RP + "GuardianChildContext"
    )
    config.add_route("corrections.list", "/corrections")
    config.add_route(
        "corrections.decide", "/corrections/{correction_id:\\d+}", factory=RP + "CorrectionContext"
    )

    # Invitations: per section (printable slips) and per guardian.
    config.add_route(
        "invitations.section",
        "/sections/{section_id:\\d+}/guardian-accounts",
        factory=R + "SectionContext",
    )
    config.add_route(
        "invitations.guardian",
        "/guardian-links/{link_id:\\d+}/invitation",
        factory=R + "GuardianLinkContext",
    )
    config.add_route(
        "invitations.revoke",
        "/invitations/{invitation_id:\\d+}/revoke",
        factory=RP + "InvitationContext",
    )

    # Messages: threads between a guardian and a member of staff about one student.
    config.add_route("messages.inbox", "/messages")
    config.add_route(
        "messages.student", "/students/{student_id:\\d+}/messages", factory=R + "StudentContext"
    )
    config.add_route("messages.new", CHILD + "/messages/new", factory=RP + "GuardianChildContext")
    config.add_route("messages.thread", "/messages/{thread_id:\\d+}", factory=RP + "ThreadContext")
    config.add_route(
        "messages.export", "/messages/{thread_id:\\d+}/export.csv", factory=RP + "ThreadContext"
    )
    config.add_route(
        "messages.portal_thread", "/portal/messages/{thread_id:\\d+}", factory=RP + "ThreadContext"
    )
    config.add_route(
        "messages.portal_export",
        "/portal/messages/{thread_id:\\d+}/export.csv",
        factory=RP + "ThreadContext",
    )
    config.add_route("messages.short", "/m/{thread_id:\\d+}", factory=RP + "ThreadContext")

    # Broadcasts: a teacher's message to every guardian of a section.
    config.add_route(
        "broadcasts.section",
        "/sections/{section_id:\\d+}/broadcasts",
        factory=R + "SectionContext",
    )
    config.add_route(
        "broadcasts.view", "/broadcasts/{broadcast_id:\\d+}", factory=RP + "BroadcastContext"
    )
    config.add_route(
        "broadcasts.portal_view",
        "/portal/broadcasts/{broadcast_id:\\d+}",
        factory=RP + "BroadcastContext",
    )
    config.add_route("broadcasts.short", "/b/{broadcast_id:\\d+}", factory=RP + "BroadcastContext")

    # Parent-teacher meetings: days, slots, bookings, and the tasks that follow a day.
    config.add_route("ptm.days", "/ptm")
    config.add_route("ptm.day_new", "/ptm/new")
    config.add_route("ptm.day", "/ptm/{day_id:\\d+}", factory=RP + "PtmDayContext")
    config.add_route("ptm.day_edit", "/ptm/{day_id:\\d+}/edit", factory=RP + "PtmDayContext")
    config.add_route("ptm.day_delete", "/ptm/{day_id:\\d+}/delete", factory=RP + "PtmDayContext")
    config.add_route("ptm.slots", "/ptm/{day_id:\\d+}/slots", factory=RP + "PtmDayContext")
    config.add_route(
        "ptm.slot_delete", "/ptm-slots/{slot_id:\\d+}/delete", factory=RP + "PtmSlotContext"
    )
    config.add_route("ptm.book", CHILD + "/ptm/book", factory=RP + "GuardianChildContext")
    config.add_route(
        "ptm.cancel",
        CHILD + "/ptm/bookings/{booking_id:\\d+}/cancel",
        factory=RP + "GuardianBookingContext",
    )
    config.add_route("ptm.minutes", "/tasks/{task_id:\\d+}/ptm-minutes", factory=R + "TaskContext")
    config.add_route("ptm.action", "/tasks/{task_id:\\d+}/agreed-action", factory=R + "TaskContext")
    config.add_route(
        "ptm.follow_up", "/tasks/{task_id:\\d+}/ptm-follow-up", factory=R + "TaskContext"
    )
