"""Schemas of the parents pages: sign-up, account settings, corrections, messages, broadcasts."""

import colander
import deform.widget

from spets.forms import vocab
from spets.forms.common import (
    cnic_node,
    csrf_node,
    email_node,
    enum_node,
    ltr_text,
    name_en_node,
    name_ur_node,
    version_node,
)
from spets.forms.types import MobilePhone, trimmed
from spets.i18n import _
from spets.models import Education, Occupation

LANGUAGE_CHOICES = (("ur", "اردو"), ("en", "English"))
SMS_SCRIPT_CHOICES = (
    ("ur", _("sms_script_urdu", default="Urdu script (اردو)")),
    ("roman", _("sms_script_roman", default="Roman Urdu (Urdu in English letters)")),
)


def _code_node(title=None) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name="code",
        title=title or _("Invitation code"),
        description=_("code_help", default="Ten letters and digits, as printed on your slip."),
        preparer=trimmed,
        validator=colander.Length(
            min=4, max=40, min_err=_("code_short", default="The code is too short.")
        ),
        widget=ltr_text(
            "XXXXX-XXXXX", autocomplete="off", autocapitalize="characters", spellcheck="false"
        ),
    )


def _body_node(title=None, rows: int = 5) -> colander.SchemaNode:
    # Not `trimmed`: a message keeps its line breaks.
    return colander.SchemaNode(
        colander.String(),
        name="body",
        title=title or _("Message"),
        validator=colander.Length(
            min=1,
            max=2000,
            max_err=_("body_too_long", default="Keep the message under 2,000 characters."),
        ),
        widget=deform.widget.TextAreaWidget(rows=rows, attributes={"dir": "auto"}),
    )


def _subject_node() -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name="subject",
        title=_("Subject"),
        preparer=trimmed,
        validator=colander.Length(min=2, max=200),
        widget=deform.widget.TextInputWidget(attributes={"dir": "auto"}),
    )


def _locale_node() -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name="locale",
        title=_("Language of the pages"),
        default="ur",
        validator=colander.OneOf([value for value, _label in LANGUAGE_CHOICES]),
        widget=deform.widget.SelectWidget(values=LANGUAGE_CHOICES),
    )


def _sms_script_node() -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name="sms_script",
        title=_("SMS written in"),
        default="ur",
        validator=colander.OneOf([value for value, _label in SMS_SCRIPT_CHOICES]),
        widget=deform.widget.SelectWidget(values=SMS_SCRIPT_CHOICES),
    )


class SignupStartSchema(colander.MappingSchema):
    code = _code_node()
    phone = colander.SchemaNode(
        MobilePhone(),
        title=_("Your mobile number"),
        description=_(
            "signup_phone_help_recorded",
            default="The number the school has on record for you. We send a six-digit code "
            "to it, and it becomes your username.",
        ),
        widget=ltr_text("03XX-XXXXXXX", inputmode="tel", autocomplete="tel"),
    )
    csrf_token = csrf_node()


class SignupVerifySchema(colander.MappingSchema):
    otp = colander.SchemaNode(
        colander.String(),
        title=_("Code from the SMS"),
        preparer=trimmed,
        validator=colander.Length(min=4, max=12),
        widget=ltr_text("123456", inputmode="numeric", autocomplete="one-time-code"),
    )
    password = colander.SchemaNode(
        colander.String(),
        title=_("Choose a password"),
        description=_("At least 10 characters."),
        widget=deform.widget.CheckedPasswordWidget(attributes={"autocomplete": "new-password"}),
    )
    locale = _locale_node()
    sms_script = _sms_script_node()
    csrf_token = csrf_node()


class LinkSchema(colander.MappingSchema):
    code = _code_node()
    csrf_token = csrf_node()


class SettingsSchema(colander.MappingSchema):
    locale = _locale_node()
    sms_script = _sms_script_node()
    email = email_node()
    csrf_token = csrf_node()


class CorrectionSchema(colander.MappingSchema):
    """The guardian's own entry as the school holds it; changed values become the proposal."""

    name_en = name_en_node("name_en", _("Name in English"), required=False)
    name_ur = name_ur_node("name_ur", _("Name in Urdu"), required=False)
    cnic = cnic_node("cnic", _("CNIC number"))
    phone = colander.SchemaNode(
        MobilePhone(),
        title=_("Mobile number"),
        missing=None,
        widget=ltr_text("03XX-XXXXXXX", inputmode="tel"),
    )
    email = email_node()
    education = enum_node("education", _("Education"), Education, vocab.EDUCATION)
    occupation = enum_node("occupation", _("Occupation"), Occupation, vocab.OCCUPATION)
    note = colander.SchemaNode(
        colander.String(),
        title=_("What else is wrong?"),
        description=_(
            "correction_note_help",
            default="For example a sibling's school or class. The school checks and corrects it.",
        ),
        missing="",
        validator=colander.Length(max=1000),
        widget=deform.widget.TextAreaWidget(rows=3, attributes={"dir": "auto"}),
    )
    csrf_token = csrf_node()


DECISIONS = (("approve", _("Approve and apply")), ("reject", _("Reject")))


class DecisionSchema(colander.MappingSchema):
    decision = colander.SchemaNode(
        colander.String(),
        title=_("Decision"),
        validator=colander.OneOf([value for value, _label in DECISIONS]),
        widget=deform.widget.SelectWidget(values=DECISIONS),
    )
    comment = colander.SchemaNode(
        colander.String(),
        title=_("Comment for the guardian"),
        missing="",
        preparer=trimmed,
        validator=colander.Length(max=1000),
        widget=deform.widget.TextAreaWidget(rows=3),
    )
    version = version_node()
    csrf_token = csrf_node()


@colander.deferred
def _staff_widget(node, kw):
    return deform.widget.SelectWidget(values=kw.get("staff_choices", []))


@colander.deferred
def _staff_validator(node, kw):
    return colander.OneOf([value for value, _label in kw.get("staff_choices", [])])


class GuardianMessageSchema(colander.MappingSchema):
    """A guardian's first message to one of the child's teachers or the head teacher."""

    staff_id = colander.SchemaNode(
        colander.String(), title=_("To"), widget=_staff_widget, validator=_staff_validator
    )
    subject = _subject_node()
    body = _body_node()
    csrf_token = csrf_node()


@colander.deferred
def _guardian_widget(node, kw):
    return deform.widget.SelectWidget(values=kw.get("guardian_choices", []))


@colander.deferred
def _guardian_validator(node, kw):
    return colander.OneOf([value for value, _label in kw.get("guardian_choices", [])])


class StaffMessageSchema(colander.MappingSchema):
    """A member of staff's first message to one of the student's guardians."""

    guardian_id = colander.SchemaNode(
        colander.String(), title=_("To"), widget=_guardian_widget, validator=_guardian_validator
    )
    subject = _subject_node()
    body = _body_node()
    csrf_token = csrf_node()


class ReplySchema(colander.MappingSchema):
    body = _body_node(_("Your reply"), rows=3)
    csrf_token = csrf_node()


class BroadcastSchema(colander.MappingSchema):
    subject = _subject_node()
    body = _body_node(rows=6)
    csrf_token = csrf_node()
