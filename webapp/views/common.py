"""Helpers that many views share: form pages, breadcrumbs, names in the reader's language."""

import re
from datetime import date
from enum import Enum

from pyramid.httpexceptions import HTTPFound

from spets.forms import vocab
from spets.models import OrgKind, OrgUnit
from spets.services import org
from spets.services.scope import Permission
from spets.webapp import forms

_E164_PAKISTAN = re.compile(r"^\+92\d{10}$")
_LABELS_BY_ENUM = {}
for _labels in (
    vocab.GENDER,
    vocab.HOME_AREA,
    vocab.PARENTS_STATUS,
    vocab.RELATION,
    vocab.EDUCATION,
    vocab.OCCUPATION,
    vocab.INCOME_BAND,
    vocab.ORG_KIND,
    vocab.SCHOOL_LEVEL,
    vocab.SCHOOL_GENDER,
    vocab.ROLE,
    vocab.EXAM_KIND,
    vocab.DAY_OFF_KIND,
    vocab.START_REASON,
    vocab.END_REASON,
):
    _LABELS_BY_ENUM.update(_labels)


def label(request, value) -> str:
    """Return a stored value as the reader sees it: enums by label, dates as dd/mm/yyyy."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return request.t(vocab.YES_NO[value])
    if isinstance(value, Enum) and value in _LABELS_BY_ENUM:
        return request.t(_LABELS_BY_ENUM[value])
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, str) and _E164_PAKISTAN.match(value):
        return f"0{value[3:6]}-{value[6:]}"  # +923001234567 reads as 0300-1234567
    return str(value)


def unit_name(request, unit: OrgUnit) -> str:
    return unit.name(request.locale_name)


def breadcrumbs_for(request, unit: OrgUnit, link_last: bool = True) -> list[tuple[str, str | None]]:
    """Return (name, url) pairs from the top of the user's scope down to `unit`."""
    principal = request.identity
    browsable = principal.paths_with(Permission.SCHOOL_VIEW)
    chain = org.ancestors(request.dbsession, unit) + [unit]
    crumbs = []
    for position, item in enumerate(chain):
        reachable = any(item.path.startswith(grant.org_path) for grant in principal.grants)
        if not reachable and item is not unit:
            continue
        is_last = position == len(chain) - 1
        if item.kind == OrgKind.SCHOOL:
            url = request.route_url("school.view", school_id=item.id)
        else:
            url = request.route_url("org.unit", unit_id=item.id)
        # Health staff and counsellors reach students, not the school's pages: no link for them.
        linked = (link_last or not is_last) and any(item.path.startswith(p) for p in browsable)
        crumbs.append((unit_name(request, item), url if linked else None))
    return crumbs


def form_page(request, form, save, *, title, intro=None, appstruct=None, back_url=None):
    """Run a form page with the shared template; return the template values or a redirect."""
    result = forms.process(
        request,
        form,
        save,
        appstruct=appstruct,
        format_value=lambda _name, value: label(request, value),
    )
    if isinstance(result, HTTPFound):
        return result
    return {
        **result,
        "page_title": request.t(title),
        "intro": intro,
        "back_url": back_url,
    }
