"""Schemas for staff accounts and role assignments."""

import colander
import deform.widget

from spets.forms import vocab
from spets.forms.common import csrf_node, date_node, email_node, ltr_text, phone_node, version_node
from spets.forms.types import EnumType, trimmed
from spets.i18n import _
from spets.models import Role

_USERNAME = r"^[a-z0-9][a-z0-9._\-]{2,63}$"


class UserSchema(colander.MappingSchema):
    username = colander.SchemaNode(
        colander.String(),
        title=_("Username"),
        description=_("3 to 64 lower-case letters, digits, dots, hyphens or underscores."),
        preparer=lambda value: value.strip().lower() if isinstance(value, str) else value,
        validator=colander.Regex(
            _USERNAME,
            msg=_(
                "invalid_username",
                default="Use 3 to 64 lower-case letters, digits, . - or _, starting with a letter or digit.",
            ),
        ),
        widget=ltr_text(autocomplete="off"),
    )
    display_name = colander.SchemaNode(
        colander.String(),
        title=_("Name in English"),
        preparer=trimmed,
        validator=colander.Length(min=2, max=200),
    )
    display_name_ur = colander.SchemaNode(
        colander.String(),
        title=_("Name in Urdu"),
        preparer=trimmed,
        missing="",
        validator=colander.Length(max=200),
        widget=deform.widget.TextInputWidget(attributes={"dir": "rtl", "lang": "ur"}),
    )
    locale = colander.SchemaNode(
        colander.String(),
        title=_("Language"),
        missing="en",
        validator=colander.OneOf(list(vocab.LANGUAGES)),
        widget=deform.widget.SelectWidget(values=list(vocab.LANGUAGES.items())),
    )
    phone = phone_node()
    email = email_node()
    is_active = colander.SchemaNode(
        colander.Boolean(),
        title=_("Account active"),
        missing=True,
        default=True,
        widget=deform.widget.CheckboxWidget(),
    )
    version = version_node()
    csrf_token = csrf_node()


class NewUserSchema(UserSchema):
    password = colander.SchemaNode(
        colander.String(),
        title=_("First password"),
        description=_("At least 10 characters. Give it to the person privately."),
        widget=deform.widget.CheckedPasswordWidget(attributes={"autocomplete": "new-password"}),
    )


class SetPasswordSchema(colander.MappingSchema):
    password = colander.SchemaNode(
        colander.String(),
        title=_("New password"),
        description=_("At least 10 characters."),
        widget=deform.widget.CheckedPasswordWidget(attributes={"autocomplete": "new-password"}),
    )
    csrf_token = csrf_node()


class RoleAssignmentSchema(colander.MappingSchema):
    role = colander.SchemaNode(
        EnumType(Role, vocab.ROLE),
        title=_("Role"),
        widget=deform.widget.SelectWidget(
            values=[
                (role.value, label) for role, label in vocab.ROLE.items() if role != Role.GUARDIAN
            ]
        ),
    )
    org_unit_code = colander.SchemaNode(
        colander.String(),
        title=_("Org unit code"),
        description=_(
            "The EMIS code of the school, or the code of the markaz, tehsil or district."
        ),
        preparer=trimmed,
        validator=colander.Length(min=1, max=32),
        widget=ltr_text(),
    )
    valid_from = date_node("valid_from", _("From"))
    valid_to = date_node("valid_to", _("Until (leave empty if open)"), required=False)
    csrf_token = csrf_node()


class EndRoleSchema(colander.MappingSchema):
    valid_to = date_node("valid_to", _("Last day in the role"))
    csrf_token = csrf_node()
