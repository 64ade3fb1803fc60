"""The parent portal: a guardian's children and what the guardian may see of each.

Every page about a child runs under `GuardianChildContext`, which answers 404 unless the
child is linked to the signed-in guardian. The pages use their own light, mobile-first
layout (portal/layout.pt): a child switcher at the top, tabs at the bottom, no scripts.
"""

from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.response import Response
from pyramid.settings import asbool
from pyramid.view import view_config

from spets.forms import behaviour as behaviour_forms
from spets.i18n import _
from spets.models import Section
from spets.services import calendar, guardians, portal, ptm, report_card_pdf, report_cards, threads
from spets.services.errors import InvalidInput, NotFound
from spets.services.scope import Permission as P
from spets.webapp import navigation

TABS = (
    ("results", "portal.results", _("Results")),
    ("feedback", "portal.feedback", _("Feedback")),
    ("attendance", "portal.attendance", _("Attendance")),
    ("ptm", "portal.ptm", _("Meetings")),
    ("messages", "portal.messages", _("Messages")),
)


FINDING_TITLES = {
    "hearing": _("Hearing"),
    "dental": _("Teeth"),
    "skin": _("Skin"),
    "hygiene": _("Personal hygiene"),
}
FINDING_LABELS = {
    "normal": _("finding_normal", default="No problem found"),
    "needs_attention": _("finding_needs_attention", default="Needs attention"),
    "refer": _("finding_refer", default="Referred to a doctor"),
    "not_checked": _("finding_not_checked", default="Not checked"),
}

navigation.register(navigation.NavItem("portal.home", _("My children"), P.PORTAL))


def portal_values(request, *, title, child=None, tab=None, state=None, **values) -> dict:
    """The values every portal page needs: the children for the switcher, tabs, unread count.

    `state` is the page's `portal.page_state` when the view read it already.
    """
    session = request.dbsession
    user_id = request.identity.user_id
    if state is None:
        state = portal.page_state(session, user_id)
    children = portal.child_cards(session, user_id, links=state.links)
    current = None
    if child is not None:
        current = next((c for c in children if c.student_id == child.student.id), None)
    return {
        "page_title": request.t(title),
        "children": children,
        "child": current,
        "tab": tab,
        "tabs": TABS,
        "unread": state.unread,
        "when": calendar.local_clock,
        "portal_page": True,
        **values,
    }


def _results_cache(request) -> portal.PublishedResultsCache | None:
    """The cache of published results, unless the ini file sets spets.portal.results_cache off.

    Turning it off is for measuring the page without it (benchmarks/results_day.py).
    """
    if not asbool(request.registry.settings.get("spets.portal.results_cache", True)):
        return None
    return portal.RESULTS_CACHE


def _child_name(request) -> str:
    return request.context.student.name(request.locale_name)


@view_config(
    route_name="home",
    guardian_principal=True,
    permission=P.PORTAL,
)
def guardian_home(request):
    """Guardians land on the portal: their only child's page, or the list of their children."""
    children = portal.child_cards(request.dbsession, request.identity.user_id)
    if len(children) == 1:
        student_id = children[0].student_id
        return HTTPFound(location=request.route_url("portal.child", student_id=student_id))
    return HTTPFound(location=request.route_url("portal.home"))


@view_config(
    route_name="portal.home",
    renderer="spets:webapp/templates/portal/home.pt",
    permission=P.PORTAL,
)
def portal_home(request):
    return portal_values(request, title=_("My children"))


@view_config(
    route_name="portal.child",
    renderer="spets:webapp/templates/portal/child.pt",
    permission=P.PORTAL,
)
def child_overview(request):
    session = request.dbsession
    student = request.context.student
    user_id = request.identity.user_id
    guardian_ids = threads.guardian_ids_of_user(session, user_id)
    exams = portal.published_results(session, student, request.locale_name)
    meetings = ptm.meetings_of_student(session, student.id, guardian_ids)
    upcoming = [
        m
        for m in meetings
        if m.booking.state.value == "confirmed" and m.booking.slot.starts_at > request.now
    ]
    return portal_values(
        request,
        title=student.name(request.locale_name),
        child=request.context,
        tab="overview",
        latest_exam=exams[-1] if exams else None,
        upcoming=upcoming,
        threads=threads.threads_for_guardian(session, user_id, student.id)[:3],
        open_corrections=portal.open_corrections(session, student.id, guardian_ids),
        corrections=guardians.corrections_of_guardian(session, user_id, student.id)[:5],
    )


@view_config(
    route_name="portal.results",
    renderer="spets:webapp/templates/portal/results.pt",
    permission=P.PORTAL,
)
def child_results(request):
    """The results page: one query for the unread count and the results' fingerprint, and the
    published results from the cache while the fingerprint holds."""
    session = request.dbsession
    student = request.context.student
    state = portal.page_state(session, request.identity.user_id, student)
    exams = portal.published_results(
        session,
        student,
        request.locale_name,
        cache=_results_cache(request),
        fingerprint=state.fingerprint,
    )
    return portal_values(
        request,
        title=_("results_of", default="Results of ${name}", mapping={"name": _child_name(request)}),
        child=request.context,
        tab="results",
        state=state,
        exams=list(reversed(exams)),
        year_label=exams[-1].year_label if exams else None,
        terms=report_cards.TERM_LABELS,
    )


@view_config(route_name="portal.report_card", permission=P.PORTAL)
def child_report_card(request):
    """The child's report card as PDF: published marks only, from the report-card service."""
    student = request.context.student
    session = request.dbsession
    try:
        term = report_cards.parse_term(request.params.get("term"))
        year = calendar.current_year(session, student.tenant_id, request.today)
        if request.params.get("year"):
            year = report_cards.find_year(session, student.tenant_id, request.params["year"])
        if year is None:
            raise HTTPNotFound()
        cards = report_cards.student_card(session, student, year, term)
    except (NotFound, InvalidInput):
        raise HTTPNotFound() from None
    locale = request.params.get("lang") if request.params.get("lang") in ("en", "ur") else None
    body = report_card_pdf.render_pdf(cards, locale or request.locale_name, issued_on=request.today)
    filename = f"report-card-{student.admission_no}-{year.label}-{term.value}.pdf"
    safe_name = "".join(c if c.isalnum() or c in "-." else "-" for c in filename)
    return Response(
        body=body,
        content_type="application/pdf",
        content_disposition=f'inline; filename="{safe_name}"',
    )


@view_config(
    route_name="portal.feedback",
    renderer="spets:webapp/templates/portal/feedback.pt",
    permission=P.PORTAL,
)
def child_feedback(request):
    student = request.context.student
    return portal_values(
        request,
        title=_(
            "feedback_of", default="Feedback for ${name}", mapping={"name": _child_name(request)}
        ),
        child=request.context,
        tab="feedback",
        quarters=portal.approved_feedback(request.dbsession, student.id, request.locale_name),
    )


@view_config(
    route_name="portal.attendance",
    renderer="spets:webapp/templates/portal/attendance.pt",
    permission=P.PORTAL,
)
def child_attendance(request):
    return portal_values(
        request,
        title=_(
            "attendance_of",
            default="Attendance and behaviour of ${name}",
            mapping={"name": _child_name(request)},
        ),
        child=request.context,
        tab="attendance",
        summary=portal.attendance_summary(request.dbsession, request.context.student, request.now),
        areas=behaviour_forms.AREAS,
        levels=behaviour_forms.LEVELS,
    )


@view_config(
    route_name="portal.health",
    renderer="spets:webapp/templates/portal/health.pt",
    permission=P.PORTAL,
)
def child_health(request):
    return portal_values(
        request,
        title=_("health_of", default="Health of ${name}", mapping={"name": _child_name(request)}),
        child=request.context,
        tab="attendance",
        shared=portal.shared_health(
            request.dbsession, request.context.student, actor=request.actor, now=request.now
        ),
        finding_titles=FINDING_TITLES,
        finding_labels=FINDING_LABELS,
    )


@view_config(
    route_name="portal.messages",
    renderer="spets:webapp/templates/portal/messages.pt",
    permission=P.PORTAL,
)
def child_messages(request):
    session = request.dbsession
    user_id = request.identity.user_id
    student = request.context.student
    return portal_values(
        request,
        title=_(
            "messages_about",
            default="Messages about ${name}",
            mapping={"name": _child_name(request)},
        ),
        child=request.context,
        tab="messages",
        threads=threads.threads_for_guardian(session, user_id, student.id),
        broadcasts=threads.broadcasts_for_guardian(session, user_id, student.id),
    )


def section_label(section: Section | None) -> str:
    return section.label if section is not None else ""
