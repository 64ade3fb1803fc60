"""The validate, save, redirect loop for Deform forms, written once for every form page.

A POST is validated by the form's Colander schema; a valid one is passed to a save
function inside a SAVEPOINT. A service error rolls the savepoint back, so nothing of
a failed save is kept, and the form is shown again with the user's input, the message
beside the field it concerns, and, after a stale edit, the values saved meanwhile.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import colander
import deform
import peppercorn
from pyramid.httpexceptions import HTTPFound
from sqlalchemy.orm.exc import StaleDataError

from spets.i18n import _
from spets.services.errors import InvalidInput, Locked, StaleEdit


def submit_button(title=None, name: str = "save") -> deform.Button:
    """A submit button that skips the browser's own (English-only) required-field pop-ups."""
    return deform.Button(
        name=name,
        title=title or _("Save"),
        attributes={"formnovalidate": "formnovalidate"},
    )


def make_form(request, schema: colander.SchemaNode, *, button_title=None, **bind) -> deform.Form:
    bound = schema.bind(request=request, **bind)
    return deform.Form(bound, buttons=(submit_button(button_title),), formid="record-form")


@dataclass
class Conflict:
    """What someone else saved meanwhile: (field title, their value, your value) rows."""

    message: object
    rows: list[tuple[object, str, str]] = field(default_factory=list)


def process(
    request,
    form: deform.Form,
    save: Callable[[dict], str],
    *,
    appstruct: dict | None = None,
    format_value: Callable[[str, object], str] | None = None,
) -> dict | HTTPFound:
    """Show the form, or validate and save it; return the template values or a redirect.

    `save` receives the validated values and returns the URL to go to.
    """
    if request.method != "POST":
        return {"form": form.render(_without_none(appstruct or {})), "conflict": None}

    controls = list(request.POST.items())
    try:
        values = form.validate(controls)
    except deform.ValidationFailure as failure:
        return {"form": failure.render(), "conflict": None}

    savepoint = request.dbsession.begin_nested()
    try:
        url = save(values)
        savepoint.commit()
    except StaleEdit as stale:
        savepoint.rollback()
        return _render_stale(form, controls, stale, format_value)
    except StaleDataError:
        savepoint.rollback()
        stale = StaleEdit(
            _(
                "stale_edit",
                default="Someone else saved this record after you opened it. Your changes were "
                "not saved. Compare the values below, then save again to keep yours.",
            ),
            current_version=-1,
        )
        return _render_stale(form, controls, stale, format_value)
    except (InvalidInput, Locked) as error:
        savepoint.rollback()
        field_errors = getattr(error, "field_errors", {})
        return {
            "form": render_errors(form, controls, error.message, field_errors),
            "conflict": None,
        }
    return HTTPFound(location=url)


def _without_none(appstruct: dict) -> dict:
    """Replace None (an empty column) with colander.null, which renders as an empty field."""
    return {name: colander.null if value is None else value for name, value in appstruct.items()}


def _cstruct(form: deform.Form, controls: list) -> dict:
    pstruct = peppercorn.parse(controls)
    return form.widget.deserialize(form, pstruct)


def render_errors(form: deform.Form, controls: list, message, field_errors: dict) -> str:
    """Render the form again with the user's input and errors placed beside their fields."""
    cstruct = _cstruct(form, controls)
    invalid = colander.Invalid(form.schema, message)
    for position, child in enumerate(form.schema.children):
        if child.name in field_errors:
            invalid.add(colander.Invalid(child, field_errors[child.name]), position)
    form.widget.handle_error(form, invalid)
    return deform.ValidationFailure(form, cstruct, invalid).render()


def _render_stale(form, controls, stale: StaleEdit, format_value) -> dict:
    cstruct = _cstruct(form, controls)
    if stale.current_version >= 0 and "version" in cstruct:
        # The next save deliberately overwrites what is shown as saved meanwhile.
        cstruct["version"] = str(stale.current_version)
    rows = []
    for name, (current, submitted) in stale.differences.items():
        title = form.schema[name].title if name in form.schema else name
        show = format_value or (lambda _name, value: "" if value is None else str(value))
        rows.append((title, show(name, current), show(name, submitted)))
    # Setting the form's cstruct passes each value down to its field before rendering.
    form.cstruct = cstruct
    html = form.widget.serialize(form, cstruct)
    return {"form": html, "conflict": Conflict(stale.message, rows)}
