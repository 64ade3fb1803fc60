"""Schemas for signing in and changing one's own password."""

import colander
import deform.widget

from spets.forms.common import csrf_node
from spets.i18n import _


class LoginSchema(colander.MappingSchema):
    username = colander.SchemaNode(
        colander.String(),
        title=_("Username"),
        widget=deform.widget.TextInputWidget(
            attributes={"dir": "ltr", "autocomplete": "username", "autocapitalize": "none"}
        ),
    )
    password = colander.SchemaNode(
        colander.String(),
        title=_("Password"),
        widget=deform.widget.PasswordWidget(attributes={"autocomplete": "current-password"}),
    )
    came_from = colander.SchemaNode(
        colander.String(), widget=deform.widget.HiddenWidget(), missing="/"
    )
    csrf_token = csrf_node()


class PasswordChangeSchema(colander.MappingSchema):
    current_password = colander.SchemaNode(
        colander.String(),
        title=_("Current password"),
        widget=deform.widget.PasswordWidget(attributes={"autocomplete": "current-password"}),
    )
    new_password = colander.SchemaNode(
        colander.String(),
        title=_("New password"),
        description=_("At least 10 characters."),
        widget=deform.widget.CheckedPasswordWidget(attributes={"autocomplete": "new-password"}),
    )
    csrf_token = csrf_node()
