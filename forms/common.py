"""Nodes and validators that many schemas share: names, CSRF token, record version."""

import re

import colander
import deform.widget

from spets.forms.types import CNIC, EnumType, LocalDate, MobilePhone, WholeNumber, YesNo, trimmed
from spets.i18n import _

_URDU_NAME = re.compile(
    r"^[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF\u200c\u200d .\-']+$"
)
_LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z .\-']*$")


def urdu_name(node, value):
    if not _URDU_NAME.match(value):
        raise colander.Invalid(
            node,
            _(
                "invalid_urdu_name",
                default='"${value}" is not in Urdu script: write the name in Urdu letters.',
                mapping={"value": value},
            ),
        )


def latin_name(node, value):
    if not _LATIN_NAME.match(value):
        raise colander.Invalid(
            node,
            _(
                "invalid_english_name",
                default='"${value}" is not a name in English letters: use A to Z, spaces, '
                "dots and hyphens.",
                mapping={"value": value},
            ),
        )


@colander.deferred
def _csrf_default(node, kw):
    request = kw.get("request")
    return request.session.get_csrf_token() if request is not None else colander.null


def csrf_node() -> colander.SchemaNode:
    """The CSRF token field; Pyramid checks its value before the view runs."""
    return colander.SchemaNode(
        colander.String(),
        name="csrf_token",
        default=_csrf_default,
        widget=deform.widget.HiddenWidget(),
        missing=colander.drop,
    )


def version_node() -> colander.SchemaNode:
    """The version of the record when the form was loaded, so a stale save is refused."""
    return colander.SchemaNode(
        WholeNumber(),
        name="version",
        widget=deform.widget.HiddenWidget(),
        missing=None,
    )


def choices(labels: dict, blank: bool = True) -> list[tuple[str, object]]:
    values: list[tuple[str, object]] = (
        [("", _("choose_blank", default="— choose —"))] if blank else []
    )
    for key, label in labels.items():
        value = key.value if hasattr(key, "value") else str(key)
        values.append((value, label))
    return values


def ltr_text(placeholder: str = "", **attributes) -> deform.widget.TextInputWidget:
    """A text input that stays left-to-right on an Urdu page (numbers, codes, e-mail)."""
    return deform.widget.TextInputWidget(
        attributes={"dir": "ltr", "placeholder": placeholder, **attributes}
    )


def name_en_node(name: str, title, required: bool = True) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=title,
        preparer=trimmed,
        validator=colander.All(colander.Length(min=2, max=200), latin_name),
        missing=colander.required if required else None,
        widget=ltr_text(),
    )


def name_ur_node(name: str, title, required: bool = True) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=title,
        preparer=trimmed,
        validator=colander.All(colander.Length(min=2, max=200), urdu_name),
        missing=colander.required if required else "",
        widget=deform.widget.TextInputWidget(attributes={"dir": "rtl", "lang": "ur"}),
    )


def cnic_node(name: str, title, kind: str = "CNIC") -> colander.SchemaNode:
    return colander.SchemaNode(
        CNIC(kind),
        name=name,
        title=title,
        missing=None,
        widget=ltr_text("#####-#######-#", inputmode="numeric"),
    )


def phone_node(name: str = "phone", title=None) -> colander.SchemaNode:
    return colander.SchemaNode(
        MobilePhone(),
        name=name,
        title=title or _("Mobile number"),
        missing=None,
        widget=ltr_text("03XX-XXXXXXX", inputmode="tel"),
    )


def email_node(name: str = "email") -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=_("E-mail address"),
        preparer=trimmed,
        validator=colander.Email(
            msg=_(
                "invalid_email", default="Not a valid e-mail address, for example name@example.pk."
            )
        ),
        missing=None,
        widget=ltr_text("name@example.pk", type="email"),
    )


def date_node(name: str, title, required: bool = True) -> colander.SchemaNode:
    return colander.SchemaNode(
        LocalDate(),
        name=name,
        title=title,
        missing=colander.required if required else None,
        widget=ltr_text(_("dd/mm/yyyy"), inputmode="numeric"),
    )


def enum_node(name: str, title, enum_class, labels, required: bool = False) -> colander.SchemaNode:
    return colander.SchemaNode(
        EnumType(enum_class, labels),
        name=name,
        title=title,
        missing=colander.required if required else None,
        widget=deform.widget.SelectWidget(values=choices(labels)),
    )


def band_node(name: str, title, labels) -> colander.SchemaNode:
    return colander.SchemaNode(
        WholeNumber(),
        name=name,
        title=title,
        missing=None,
        validator=colander.OneOf(list(labels)),
        widget=deform.widget.SelectWidget(values=choices(labels)),
    )


def yes_no_node(name: str, title) -> colander.SchemaNode:
    return colander.SchemaNode(
        YesNo(),
        name=name,
        title=title,
        missing=None,
        widget=deform.widget.SelectWidget(
            values=[
                ("", _("not_known", default="Not known")),
                ("yes", _("yes", default="Yes")),
                ("no", _("no", default="No")),
            ]
        ),
    )


def count_node(name: str, title, minimum: int = 0, maximum: int = 99, required: bool = False):
    return colander.SchemaNode(
        WholeNumber(),
        name=name,
        title=title,
        missing=colander.required if required else None,
        validator=colander.Range(
            min=minimum,
            max=maximum,
            min_err=_(
                "number_too_small",
                default="${val} is less than the minimum, ${min}.",
            ),
            max_err=_(
                "number_too_large",
                default="${val} is more than the maximum, ${max}.",
            ),
        ),
        widget=ltr_text(inputmode="numeric"),
    )
