"""Guardian accounts: sign-up, adding a child, settings, invitations and corrections.

Sign-up is public and in Urdu unless the visitor chose English. Its failures are written
to the throttle table and must be kept, so its services run outside the savepoint that
`forms.process` rolls back; a refused step re-renders the form with the message.
"""

import deform
from pyramid.httpexceptions import HTTPFound
from pyramid.security import NO_PERMISSION_REQUIRED, remember
from pyramid.view import view_config

from spets.forms import vocab
from spets.forms.parents import (
    CorrectionSchema,
    DecisionSchema,
    LinkSchema,
    SettingsSchema,
    SignupStartSchema,
    SignupVerifySchema,
)
from spets.i18n import _, translate
from spets.models import Section, User
from spets.services import guardians, portal
from spets.services.errors import InvalidInput, Locked
from spets.services.scope import Permission as P
from spets.webapp import forms, navigation
from spets.webapp.i18n import LOCALE_COOKIE
from spets.webapp.views.auth import safe_local_path
from spets.webapp.views.common import form_page, label
from spets.webapp.views.portal import portal_values

SIGNUP_SESSION_KEY = "guardian_signup"
LOCALE_MAX_AGE = 365 * 86400

navigation.register(navigation.NavItem("corrections.list", _("Corrections"), P.CORRECTION_DECIDE))


def _prefer_urdu(request) -> None:
    """Show a visitor who chose no language the Urdu pages, and remember that choice."""
    if request.identity is None and LOCALE_COOKIE not in request.cookies:
        request.locale_name = "ur"
        request.response.set_cookie(
            LOCALE_COOKIE, "ur", max_age=LOCALE_MAX_AGE, samesite="Lax", httponly=True
        )


def _signup_page(request, form_html, title, intro=None, **values):
    return {
        "page_title": request.t(title),
        "form": form_html,
        "intro": intro,
        "step": values.pop("step", 1),
        **values,
    }


def _render_refusal(form, controls, error: InvalidInput) -> str:
    return forms.render_errors(form, controls, error.message, error.field_errors)


# Sign-up.


@view_config(
    route_name="signup.start",
    renderer="spets:webapp/templates/parents/signup.pt",
    permission=NO_PERMISSION_REQUIRED,
)
def signup_start(request):
    if request.identity is not None:
        return HTTPFound(location=request.route_url("home"))
    _prefer_urdu(request)
    form = forms.make_form(request, SignupStartSchema(), button_title=_("Send me a code"))
    title = _("Sign up as a parent or guardian")
    intro = _(
        "signup_intro",
        default="Type the invitation code from the school's slip or SMS, and your mobile number.",
    )
    if request.method != "POST":
        return _signup_page(request, form.render(), title, intro)

    controls = list(request.POST.items())
    try:
        values = form.validate(controls)
    except deform.ValidationFailure as failure:
        return _signup_page(request, failure.render(), title, intro)
    try:
        started = guardians.start_signup(
            request.dbsession,
            values["code"],
            values["phone"],
            client_addr=request.client_addr,
            locale=request.locale_name,
            now=request.now,
        )
    except guardians.SignupRefused as refused:
        request.response.status = 429 if refused.locked_until else 200
        return _signup_page(request, _render_refusal(form, controls, refused), title, intro)
    request.session[SIGNUP_SESSION_KEY] = {
        "invitation_id": started.invitation_id,
        "one_time_code_id": started.one_time_code_id,
        "phone": started.phone,
    }
    return HTTPFound(location=request.route_url("signup.verify"))


def _started(request) -> guardians.SignupStarted | None:
    stored = request.session.get(SIGNUP_SESSION_KEY)
    if not isinstance(stored, dict):
        return None
    try:
        return guardians.SignupStarted(
            int(stored["invitation_id"]), int(stored["one_time_code_id"]), str(stored["phone"])
        )
    except (KeyError, TypeError, ValueError):
        return None


@view_config(
    route_name="signup.verify",
    renderer="spets:webapp/templates/parents/signup.pt",
    permission=NO_PERMISSION_REQUIRED,
)
def signup_verify(request):
    started = _started(request)
    if started is None:
        return HTTPFound(location=request.route_url("signup.start"))
    _prefer_urdu(request)
    form = forms.make_form(request, SignupVerifySchema(), button_title=_("Create my account"))
    title = _("Confirm your number")
    intro = _(
        "signup_code_sent",
        default="If the invitation code was right, we sent a six-digit code by SMS to ${phone}. "
        "It works for 10 minutes.",
        mapping={"phone": guardians.local_phone(started.phone)},
    )
    page = {"step": 2, "restart_url": request.route_url("signup.start")}
    if request.method != "POST":
        return _signup_page(
            request, form.render({"locale": request.locale_name}), title, intro, **page
        )

    controls = list(request.POST.items())
    try:
        values = form.validate(controls)
    except deform.ValidationFailure as failure:
        return _signup_page(request, failure.render(), title, intro, **page)
    try:
        user = guardians.complete_signup(
            request.dbsession,
            started,
            values["otp"],
            values["password"],
            locale=values["locale"],
            sms_script=values["sms_script"],
            client_addr=request.client_addr,
            now=request.now,
        )
    except guardians.SignupRefused as refused:
        request.response.status = 429 if refused.locked_until else 200
        return _signup_page(request, _render_refusal(form, controls, refused), title, intro, **page)
    except InvalidInput as invalid:
        return _signup_page(request, _render_refusal(form, controls, invalid), title, intro, **page)

    headers = remember(request, user.id)
    response = HTTPFound(location=request.route_url("portal.home"), headers=headers)
    response.set_cookie(LOCALE_COOKIE, user.locale, max_age=LOCALE_MAX_AGE, samesite="Lax")
    request.session.flash(
        request.t(
            _(
                "signup_done",
                default="Welcome to SPeTS. Sign in next time with your mobile number, "
                "${username}, and your password.",
                mapping={"username": user.username},
            )
        ),
        "success",
    )
    return response


@view_config(
    route_name="signup.link",
    renderer="spets:webapp/templates/portal/form.pt",
    permission=P.PORTAL,
)
def link_child(request):
    """A signed-in guardian adds the children of another invitation to the account."""
    form = forms.make_form(request, LinkSchema(), button_title=_("Add"))
    title = _("Add a child")
    intro = _(
        "link_intro",
        default="Type the invitation code the school gave you for this child. Children you "
        "already see stay on your account.",
    )
    if request.method == "POST":
        controls = list(request.POST.items())
        try:
            values = form.validate(controls)
        except deform.ValidationFailure as failure:
            return portal_values(request, title=title, form=failure.render(), intro=intro)
        user = request.dbsession.get(User, request.identity.user_id)
        try:
            guardian = guardians.link_invitation(
                request.dbsession,
                user,
                values["code"],
                client_addr=request.client_addr,
                now=request.now,
            )
        except guardians.SignupRefused as refused:
            html = _render_refusal(form, controls, refused)
            return portal_values(request, title=title, form=html, intro=intro)
        portal.CHILDREN_CACHE.forget(user.id)
        names = ", ".join(
            s.name(request.locale_name)
            for s in guardians.students_of_guardian(request.dbsession, guardian.id)
        )
        request.session.flash(
            request.t(_("link_done", default="Added: ${names}.", mapping={"names": names})),
            "success",
        )
        return HTTPFound(location=request.route_url("portal.home"))
    return portal_values(request, title=title, form=form.render(), intro=intro)


@view_config(
    route_name="portal.settings",
    renderer="spets:webapp/templates/portal/form.pt",
    permission=P.PORTAL,
)
def settings(request):
    session = request.dbsession
    user = session.get(User, request.identity.user_id)
    account = guardians.account_settings(session, user.id)
    form = forms.make_form(request, SettingsSchema(), button_title=_("Save"))

    def save(values):
        guardians.save_settings(
            session,
            user,
            locale=values["locale"],
            sms_script=values["sms_script"],
            email=values["email"],
            now=request.now,
        )
        request.session.flash(request.t(_("settings_saved", default="Saved.")), "success")
        return request.route_url("portal.home")

    result = forms.process(
        request,
        form,
        save,
        appstruct={
            "locale": user.locale,
            "sms_script": account.sms_script if account else "ur",
            "email": user.email,
        },
    )
    if isinstance(result, HTTPFound):
        result.set_cookie(LOCALE_COOKIE, user.locale, max_age=LOCALE_MAX_AGE, samesite="Lax")
        return result
    return portal_values(
        request,
        title=_("Settings"),
        form=result["form"],
        intro=_(
            "settings_intro",
            default="With an e-mail address, messages from the school come by e-mail; without "
            "one, by SMS with a link.",
        ),
        password_url=request.route_url("account.password"),
    )


# Corrections.


@view_config(
    route_name="corrections.new",
    renderer="spets:webapp/templates/portal/form.pt",
    permission=P.PORTAL,
)
def correction_new(request):
    context = request.context
    guardian = context.guardian
    form = forms.make_form(request, CorrectionSchema(), button_title=_("Send to the school"))

    def save(values):
        note = values.pop("note", "")
        values.pop("csrf_token", None)
        guardians.propose_correction(
            request.dbsession,
            user=request.dbsession.get(User, request.identity.user_id),
            link=context.link,
            values=values,
            note=note,
            now=request.now,
        )
        request.session.flash(
            request.t(
                _(
                    "correction_sent",
                    default="Sent. The school checks the correction and tells you the decision here.",
                )
            ),
            "success",
        )
        return request.route_url("portal.child", student_id=context.student.id)

    appstruct = {name: getattr(guardian, name) for name in guardians.CORRECTABLE_FIELDS}
    result = forms.process(request, form, save, appstruct=appstruct)
    if isinstance(result, HTTPFound):
        return result
    return portal_values(
        request,
        title=_("Correct the family record"),
        child=context,
        form=result["form"],
        intro=_(
            "correction_intro",
            default="This is your entry as the school holds it. Change what is wrong; the school "
            "approves or rejects each proposal.",
        ),
    )


@view_config(
    route_name="corrections.list",
    renderer="spets:webapp/templates/parents/corrections.pt",
    permission=P.CORRECTION_DECIDE,
)
def correction_list(request):
    show_decided = request.params.get("decided") == "1"
    return {
        "page_title": request.t(_("Corrections proposed by guardians")),
        "corrections": guardians.corrections_in_scope(
            request.dbsession, request.identity, P.CORRECTION_DECIDE, include_decided=show_decided
        ),
        "show_decided": show_decided,
    }


def field_title(name: str):
    titles = {
        "name_en": _("Name in English"),
        "name_ur": _("Name in Urdu"),
        "cnic": _("CNIC number"),
        "phone": _("Mobile number"),
        "email": _("E-mail address"),
        "education": _("Education"),
        "occupation": _("Occupation"),
    }
    return titles.get(name, name)


def show_value(request, name: str, value) -> str:
    if value in (None, ""):
        return "—"
    if name == "education":
        return request.t(vocab.EDUCATION.get(_enum(vocab.EDUCATION, value), value))
    if name == "occupation":
        return request.t(vocab.OCCUPATION.get(_enum(vocab.OCCUPATION, value), value))
    return label(request, value)


def _enum(labels: dict, value):
    return next((key for key in labels if getattr(key, "value", key) == value), value)


@view_config(
    route_name="corrections.decide",
    renderer="spets:webapp/templates/parents/correction.pt",
    permission=P.CORRECTION_DECIDE,
)
def correction_decide(request):
    correction = request.context.correction
    form = forms.make_form(request, DecisionSchema(), button_title=_("Save the decision"))

    def save(values):
        guardians.decide_correction(
            request.dbsession,
            correction,
            approve=values["decision"] == "approve",
            comment=values["comment"],
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        request.session.flash(request.t(_("decision_saved", default="Decision saved.")), "success")
        return request.route_url("corrections.list")

    result = form_page(
        request,
        form,
        save,
        title=_("Proposed correction"),
        appstruct={"version": correction.version},
        back_url=request.route_url("corrections.list"),
    )
    if isinstance(result, HTTPFound):
        return result
    return {
        **result,
        "correction": correction,
        "rows": guardians.correction_rows(correction),
        "field_title": field_title,
        "show": lambda name, value: show_value(request, name, value),
        "decided": correction.state.value != "requested",
    }


# Invitations.


@view_config(
    route_name="invitations.section",
    renderer="spets:webapp/templates/parents/invitations.pt",
    permission=P.GUARDIAN_INVITE,
)
def section_invitations(request):
    section: Section = request.context.section
    session = request.dbsession
    if request.method == "POST":
        selected = {int(v) for v in request.POST.getall("guardian_id") if v.isdigit()}
        issued = guardians.issue_for_section(
            session,
            section,
            actor=request.actor,
            now=request.now,
            guardian_ids=selected or None,
        )
        return _slips(request, issued, back_url=request.path)
    return {
        "page_title": request.t(
            _(
                "guardian_accounts_title",
                default="Guardian accounts of grade ${section}",
                mapping={"section": section.label},
            )
        ),
        "section": section,
        "rows": guardians.section_guardian_status(session, section),
        "now": request.now,
        "phone": guardians.local_phone,
    }


@view_config(
    route_name="invitations.guardian",
    request_method="POST",
    renderer="spets:webapp/templates/parents/slips.pt",
    permission=P.GUARDIAN_INVITE,
)
def guardian_invitation(request):
    link = request.context.link
    back_url = request.route_url("student.view", student_id=link.student_id)
    try:
        issued = guardians.issue_invitation(
            request.dbsession,
            link.guardian,
            actor=request.actor,
            now=request.now,
            school_name=link.student.school.name_en,
        )
    except InvalidInput as error:
        request.session.flash(request.t(error.message), "warning")
        return HTTPFound(location=back_url)
    return _slips(request, [issued], back_url=back_url)


def _slips(request, issued, back_url):
    """The printable slips, shown once: the codes are not stored and cannot be shown again."""
    request.response.cache_control = "no-store"
    request.override_renderer = "spets:webapp/templates/parents/slips.pt"
    signup_url = request.route_url("signup.start")
    instructions = _(
        "slip_instructions",
        default="Open ${url} on your phone, type this code and your mobile number, and choose "
        "a password. You will then see your child's results, feedback and messages from the "
        "school. The code works once.",
        mapping={"url": signup_url},
    )
    slip_for = _("slip_for", default="For:")
    return {
        "page_title": request.t(_("Invitation slips")),
        "instructions_en": translate(instructions, "en"),
        "instructions_ur": translate(instructions, "ur"),
        "for_en": translate(slip_for, "en"),
        "for_ur": translate(slip_for, "ur"),
        "issued": issued,
        "signup_url": signup_url,
        "back_url": back_url,
        "phone": guardians.local_phone,
        "expires": lambda item: item.invitation.expires_at,
    }


@view_config(route_name="invitations.revoke", request_method="POST", permission=P.GUARDIAN_INVITE)
def revoke_invitation(request):
    invitation = request.context.invitation
    back_url = safe_local_path(request.POST.get("came_from"), request.route_url("home"))
    try:
        guardians.revoke_invitation(
            request.dbsession, invitation, actor=request.actor, now=request.now
        )
        request.session.flash(request.t(_("invitation_revoked", default="Revoked.")), "success")
    except Locked as error:
        request.session.flash(request.t(error.message), "warning")
    return HTTPFound(location=back_url)
