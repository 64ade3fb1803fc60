"""Referral pages: raising one, the lists and the facility queue, one referral and its steps.

The school side raises, reads the outcome and may cancel; the facility's staff
acknowledge, give an appointment, mark the child seen and close with an outcome. Each
page that shows a referral audits the read.
"""

import re

from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.response import Response
from pyramid.view import view_config

from spets.forms.health import (
    FACILITY_KIND,
    REFERRAL_SOURCE,
    SERVICES,
    AppointmentSchema,
    CancelSchema,
    OutcomeSchema,
    ReferralSchema,
)
from spets.i18n import _
from spets.models import (
    CycleKind,
    HealthScreening,
    InstrumentResponse,
    ReferralSource,
    ReferralState,
    Role,
)
from spets.services import health, referrals, wellbeing
from spets.services.errors import InvalidInput, Locked, StaleEdit
from spets.services.scope import Permission as P
from spets.webapp import forms
from spets.webapp.resources_health import REFERRAL_HANDLE, is_sensitive
from spets.webapp.views.common import form_page
from spets.webapp.views.health import HEALTH_MENU_PERMISSION, referral_labels, school_may_see

S = ReferralState


@view_config(route_name="referrals.task", permission=P.TASK_VIEW)
def referral_task(request):
    task = request.context.task
    if task.kind != CycleKind.REFERRAL_FOLLOW_UP or task.target_type != "referral":
        raise HTTPNotFound()
    return HTTPFound(location=request.route_url("referrals.view", referral_id=task.target_id))


# Lists.


@view_config(
    route_name="referrals.list",
    renderer="spets:webapp/templates/health/referrals.pt",
    permission=HEALTH_MENU_PERMISSION,
)
def referral_list(request):
    escalated = request.params.get("escalated") == "1"
    state = request.params.get("state", "")
    states = [ReferralState(state)] if state in {s.value for s in ReferralState} else None
    rows = referrals.list_referrals(
        request.dbsession, request.identity, states=states, escalated_only=escalated
    )
    rows = [r for r in rows if school_may_see(request, r)]
    referrals.audit_list_read(
        request.dbsession, rows, actor=request.actor, now=request.now, reason="referral list"
    )
    return {
        "page_title": request.t(_("Referrals")),
        "rows": rows,
        "escalated": escalated,
        "state": state,
        "states": list(ReferralState),
        **referral_labels(request),
    }


@view_config(
    route_name="referrals.queue",
    renderer="spets:webapp/templates/health/referrals.pt",
    permission=HEALTH_MENU_PERMISSION,
)
def facility_queue(request):
    show_done = request.params.get("done") == "1"
    states = None if show_done else [S.SENT, S.ACKNOWLEDGED, S.APPOINTMENT, S.SEEN]
    rows = referrals.list_referrals(
        request.dbsession, request.identity, states=states, facility_only=True
    )
    referrals.audit_list_read(
        request.dbsession, rows, actor=request.actor, now=request.now, reason="facility queue"
    )
    return {
        "page_title": request.t(_("Referrals to your facility")),
        "rows": rows,
        "escalated": False,
        "state": "",
        "states": [],
        "queue": True,
        "show_done": show_done,
        **referral_labels(request),
    }


# Raising.


def _linked_screening(request, student) -> HealthScreening | None:
    raw = request.params.get("screening", "")
    if not raw.isdigit():
        return None
    screening = request.dbsession.get(HealthScreening, int(raw))
    if screening is None or screening.student_id != student.id:
        return None
    return screening


@view_config(
    route_name="referrals.new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.REFERRAL_RAISE,
)
def referral_new(request):
    student = request.context.student
    screening = _linked_screening(request, student)
    if screening is not None:
        source = ReferralSource.SCREENING
    elif Role.SCHOOL_HEALTH_OFFICER in request.identity.roles:
        source = ReferralSource.HEALTH_STAFF
    else:
        source = ReferralSource.TEACHER
    form = forms.make_form(request, ReferralSchema(), button_title=_("Raise the referral"))
    if screening is not None:
        form.action = request.route_url(
            "referrals.new", student_id=student.id, _query={"screening": screening.id}
        )

    def save(values):
        referral = referrals.raise_referral(
            request.dbsession,
            student=student,
            service=values["service"],
            reason=values["reason"],
            source=source,
            urgent=values["urgent"],
            screening_id=screening.id if screening else None,
            actor=request.actor,
            now=request.now,
        )
        request.session.flash(
            request.t(
                _(
                    "referral_raised_flash",
                    default="The referral was sent to ${facility}. Print the slip for the guardian.",
                    mapping={"facility": referral.facility.name(request.locale_name)},
                )
            ),
            "success",
        )
        return request.route_url("referrals.view", referral_id=referral.id)

    service = request.params.get("service", "")
    return form_page(
        request,
        form,
        save,
        title=_(
            "referral_new_title",
            default="Refer ${name} to a health facility",
            mapping={"name": student.name(request.locale_name)},
        ),
        intro=_(
            "referral_new_intro",
            default="SPeTS sends the referral to the nearest facility that offers the service: "
            "in the school's tehsil, else in its district. The facility's staff are told at "
            "once, and the district health officer if they do not answer in time.",
        ),
        appstruct={"service": service if service in SERVICES else ""},
        back_url=request.route_url("student.view", student_id=student.id, _anchor="health"),
    )


# One referral.


@view_config(
    route_name="referrals.view",
    renderer="spets:webapp/templates/health/referral.pt",
    permission=P.REFERRAL_VIEW,
)
def referral_view(request):
    context = request.context
    referral = context.referral
    session = request.dbsession
    facility_side = context.can(REFERRAL_HANDLE)
    school_side = context.can(P.REFERRAL_RAISE) or (
        context.can(P.REFERRAL_VIEW) and not context.can(P.REFERRAL_OVERSEE) and not facility_side
    )
    show_reason = facility_side or school_side
    screening = None
    if referral.screening_id and (facility_side or context.can(P.HEALTH_VIEW)):
        screening = session.get(HealthScreening, referral.screening_id)
    response = None
    if referral.response_id and (facility_side or context.can(P.WELLBEING_VIEW)):
        response = session.get(InstrumentResponse, referral.response_id)
    referrals.audit_read(
        session,
        referral,
        actor=request.actor,
        now=request.now,
        reason="referral page",
        category="wellbeing" if is_sensitive(referral) else "health",
    )
    return {
        "page_title": request.t(
            _(
                "referral_title",
                default="Referral of ${name}",
                mapping={"name": referral.student.name(request.locale_name)},
            )
        ),
        "referral": referral,
        "facility": referral.facility,
        "facility_kind": request.t(FACILITY_KIND[referral.facility.kind]),
        "source": request.t(REFERRAL_SOURCE[referral.source]),
        "show_reason": show_reason,
        "facility_side": facility_side,
        "can_cancel": context.can(P.REFERRAL_RAISE)
        and referral.state in (S.RAISED, S.SENT, S.ACKNOWLEDGED, S.APPOINTMENT),
        "screening": screening,
        "response": response,
        "band_label": lambda r: wellbeing.band_label(r.instrument, r.band, request.locale_name),
        "flags": health.screening_flags(screening) if screening else [],
        "escalations": referrals.escalations_of(session, referral.id),
        "task": referrals._task_of(session, referral),
        "S": S,
        **referral_labels(request),
    }


def _step(request, action):
    """Run a one-click step and come back to the referral with its outcome as a message."""
    referral = request.context.referral
    version = request.POST.get("version", "")
    try:
        action(referral, int(version) if version.isdigit() else None)
    except (Locked, StaleEdit, InvalidInput) as error:
        request.session.flash(request.t(error.message), "warning")
    return HTTPFound(location=request.route_url("referrals.view", referral_id=referral.id))


@view_config(route_name="referrals.acknowledge", request_method="POST", permission=REFERRAL_HANDLE)
def referral_acknowledge(request):
    def acknowledge(referral, version):
        referrals.acknowledge(
            request.dbsession, referral, actor=request.actor, now=request.now, version=version
        )
        request.session.flash(
            request.t(_("referral_acknowledged_flash", default="Acknowledged.")), "success"
        )

    return _step(request, acknowledge)


@view_config(route_name="referrals.seen", request_method="POST", permission=REFERRAL_HANDLE)
def referral_seen(request):
    def seen(referral, version):
        referrals.record_seen(
            request.dbsession, referral, actor=request.actor, now=request.now, version=version
        )
        request.session.flash(
            request.t(_("referral_seen_flash", default="Marked as seen. Now write the outcome.")),
            "success",
        )

    return _step(request, seen)


@view_config(
    route_name="referrals.appointment",
    renderer="spets:webapp/templates/form_page.pt",
    permission=REFERRAL_HANDLE,
)
def referral_appointment(request):
    referral = request.context.referral
    form = forms.make_form(request, AppointmentSchema(), button_title=_("Save the appointment"))

    def save(values):
        referrals.book(
            request.dbsession,
            referral,
            values["appointment_on"],
            actor=request.actor,
            now=request.now,
            version=values["version"],
        )
        return request.route_url("referrals.view", referral_id=referral.id)

    return form_page(
        request,
        form,
        save,
        title=_("referral_appointment_title", default="Give an appointment"),
        intro=_(
            "referral_appointment_intro",
            default="The school and the guardian's slip show the date. If the child is not "
            "seen within two school days of it, the referral is escalated.",
        ),
        appstruct={"version": referral.version, "appointment_on": referral.appointment_on},
        back_url=request.route_url("referrals.view", referral_id=referral.id),
    )


@view_config(
    route_name="referrals.close",
    renderer="spets:webapp/templates/form_page.pt",
    permission=REFERRAL_HANDLE,
)
def referral_close(request):
    referral = request.context.referral
    form = forms.make_form(request, OutcomeSchema(), button_title=_("Close the referral"))

    def save(values):
        referrals.close(
            request.dbsession,
            referral,
            values["outcome"],
            actor=request.actor,
            now=request.now,
            version=values["version"],
        )
        return request.route_url("referrals.view", referral_id=referral.id)

    return form_page(
        request,
        form,
        save,
        title=_("referral_close_title", default="Close the referral with its outcome"),
        appstruct={"version": referral.version},
        back_url=request.route_url("referrals.view", referral_id=referral.id),
    )


@view_config(
    route_name="referrals.cancel",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.REFERRAL_RAISE,
)
def referral_cancel(request):
    referral = request.context.referral
    form = forms.make_form(request, CancelSchema(), button_title=_("Cancel the referral"))

    def save(values):
        referrals.cancel(
            request.dbsession,
            referral,
            values["reason"],
            actor=request.actor,
            now=request.now,
            version=values["version"],
        )
        return request.route_url("referrals.view", referral_id=referral.id)

    return form_page(
        request,
        form,
        save,
        title=_("referral_cancel_title", default="Cancel the referral"),
        intro=_(
            "referral_cancel_intro",
            default="The facility and the health department are told that the referral is "
            "cancelled. The reason stays in SPeTS.",
        ),
        appstruct={"version": referral.version},
        back_url=request.route_url("referrals.view", referral_id=referral.id),
    )


_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9-]+")


@view_config(route_name="referrals.slip", permission=P.REFERRAL_VIEW)
def referral_slip(request):
    """Render the guardian's slip as a PDF, in Urdu and English on one page."""
    referral = request.context.referral
    referrals.audit_read(
        request.dbsession,
        referral,
        actor=request.actor,
        now=request.now,
        reason="guardian's slip",
        category="wellbeing" if is_sensitive(referral) else "health",
    )
    body = referrals.slip_pdf(request.dbsession, referral, request.today)
    name = _UNSAFE_IN_FILENAME.sub("-", f"referral-{referral.id}-{referral.student.admission_no}")
    return Response(
        body=body,
        content_type="application/pdf",
        content_disposition=f'inline; filename="{name}.pdf"',
    )
