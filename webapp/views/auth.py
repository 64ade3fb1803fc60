"""Signing in and out, switching language, changing one's password, and error pages."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import deform
from pyramid.httpexceptions import HTTPFound
from pyramid.security import NO_PERMISSION_REQUIRED, forget, remember
from pyramid.view import forbidden_view_config, notfound_view_config, view_config

from spets.forms.auth import LoginSchema, PasswordChangeSchema
from spets.i18n import LOCALES, _
from spets.models import User
from spets.services import auth, users
from spets.services.scope import Permission as P
from spets.webapp import forms
from spets.webapp.i18n import LOCALE_COOKIE


def safe_local_path(path: str | None, default: str = "/") -> str:
    """Return `path` if it stays on this site, else `default`, so redirects cannot leave."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def _throttle_policy(request) -> auth.ThrottlePolicy:
    settings = request.registry.settings
    return auth.ThrottlePolicy(
        max_failures=settings["spets.login.max_failures"],
        lockout=timedelta(minutes=settings["spets.login.lockout_minutes"]),
    )


@view_config(
    route_name="auth.login",
    renderer="spets:webapp/templates/auth/login.pt",
    permission=NO_PERMISSION_REQUIRED,
)
def login(request):
    if request.identity is not None and request.method == "GET":
        return HTTPFound(location=request.route_url("home"))

    form = forms.make_form(request, LoginSchema(), button_title=_("Sign in"))
    came_from = safe_local_path(request.params.get("came_from"))
    page = {"page_title": request.t(_("Sign in")), "error": None}
    if request.method != "POST":
        return {**page, "form": form.render({"came_from": came_from})}

    try:
        values = form.validate(list(request.POST.items()))
    except deform.ValidationFailure as failure:
        return {**page, "form": failure.render()}

    result = auth.authenticate(
        request.dbsession,
        values["username"],
        values["password"],
        client_addr=request.client_addr,
        now=request.now,
        policy=_throttle_policy(request),
    )
    if not result.ok:
        return {
            **page,
            "form": form.render({"username": values["username"], "came_from": came_from}),
            "error": _login_error(request, result),
        }

    headers = remember(request, result.user.id)
    response = HTTPFound(location=safe_local_path(values["came_from"]), headers=headers)
    response.set_cookie(LOCALE_COOKIE, result.user.locale, max_age=365 * 86400, samesite="Lax")
    return response


def _login_error(request, result: auth.LoginResult):
    if result.locked_until is not None:
        local = result.locked_until.astimezone(ZoneInfo("Asia/Karachi"))
        return _(
            "login_locked",
            default="Too many failed sign-ins. Try again after ${time}.",
            mapping={"time": local.strftime("%H:%M")},
        )
    return _("login_failed", default="The username or password is not correct.")


@view_config(route_name="auth.logout", request_method="POST", permission=NO_PERMISSION_REQUIRED)
def logout(request):
    headers = forget(request)
    return HTTPFound(location=request.route_url("auth.login"), headers=headers)


@view_config(route_name="auth.language", request_method="POST", permission=NO_PERMISSION_REQUIRED)
def switch_language(request):
    locale = request.POST.get("locale")
    came_from = safe_local_path(request.POST.get("came_from"))
    response = HTTPFound(location=came_from)
    if locale not in LOCALES:
        return response
    response.set_cookie(LOCALE_COOKIE, locale, max_age=365 * 86400, samesite="Lax")
    principal = request.identity
    if principal is not None:
        users.set_locale(request.dbsession, request.dbsession.get(User, principal.user_id), locale)
    return response


@view_config(
    route_name="account.password",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.ACCOUNT,
)
def change_password(request):
    user = request.dbsession.get(User, request.identity.user_id)
    form = forms.make_form(request, PasswordChangeSchema(), button_title=_("Change password"))

    def save(values):
        auth.change_password(
            request.dbsession,
            user,
            values["current_password"],
            values["new_password"],
            actor=request.actor,
            now=request.now,
        )
        request.session.flash(
            request.t(_("password_changed", default="Your password was changed.")), "success"
        )
        return request.route_url("home")

    result = forms.process(request, form, save)
    if isinstance(result, HTTPFound):
        return result
    return {
        **result,
        "page_title": request.t(_("Change password")),
        "intro": None,
        "back_url": request.route_url("home"),
    }


@forbidden_view_config(renderer="spets:webapp/templates/error.pt")
def forbidden(request):
    if request.identity is None:
        query = {"came_from": request.path_qs} if request.method == "GET" else {}
        return HTTPFound(location=request.route_url("auth.login", _query=query))
    request.response.status = 403
    return {
        "page_title": request.t(_("Not allowed")),
        "message": _("forbidden_text", default="Your role does not allow this action."),
    }


@notfound_view_config(renderer="spets:webapp/templates/error.pt")
def not_found(request):
    request.response.status = 404
    return {
        "page_title": request.t(_("Not found")),
        "message": _(
            "not_found_text",
            default="This page does not exist, or it is outside what your role may see.",
        ),
    }
