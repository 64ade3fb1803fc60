"""Schemas and labels of the daily register and of a school's attendance options.

`RegisterSchema` validates the register's POST after peppercorn has turned the flat
fields into nested data, and the same structure sent as a JSON body:

    {"version": 3,
     "students": [{"student_id": 12, "status": "present"},
                  {"student_id": 13, "status": "leave", "leave_reason": "Wedding in the family"}]}

A student left out of `students` keeps what was saved (present on a day not marked yet).
"""

import colander
import deform.widget

from spets.forms.common import csrf_node, version_node
from spets.forms.types import EnumType, WholeNumber, trimmed
from spets.i18n import _
from spets.models import AttendanceStatus

LEAVE_REASON_MAX = 200
# Far above any real section; it bounds the work one request can cause.
MAX_STUDENTS = 1000

STATUS = {
    AttendanceStatus.PRESENT: _("attendance_present", default="Present"),
    AttendanceStatus.ABSENT: _("attendance_absent", default="Absent"),
    AttendanceStatus.LATE: _("attendance_late", default="Late"),
    AttendanceStatus.LEAVE: _("attendance_leave", default="On leave"),
}

# One-letter labels for the register's buttons, so a row fits a phone screen.
STATUS_SHORT = {
    AttendanceStatus.PRESENT: _("attendance_present_short", default="P"),
    AttendanceStatus.ABSENT: _("attendance_absent_short", default="A"),
    AttendanceStatus.LATE: _("attendance_late_short", default="L"),
    AttendanceStatus.LEAVE: _("attendance_leave_short", default="Lv"),
}


class RegisterRowSchema(colander.MappingSchema):
    student_id = colander.SchemaNode(WholeNumber())
    status = colander.SchemaNode(
        EnumType(AttendanceStatus, STATUS), missing=AttendanceStatus.PRESENT
    )
    leave_reason = colander.SchemaNode(
        colander.String(),
        missing="",
        preparer=trimmed,
        validator=colander.Length(
            max=LEAVE_REASON_MAX,
            max_err=_(
                "text_too_long",
                default="Too long: at most ${max} characters.",
                mapping={"max": LEAVE_REASON_MAX},
            ),
        ),
    )


class RegisterRowsSchema(colander.SequenceSchema):
    student = RegisterRowSchema()


class RegisterSchema(colander.MappingSchema):
    students = RegisterRowsSchema(missing=(), validator=colander.Length(max=MAX_STUDENTS))
    version = version_node()
    csrf_token = csrf_node()


class OptionsSchema(colander.MappingSchema):
    notify_guardian_of_absence = colander.SchemaNode(
        colander.Boolean(),
        title=_("Send an SMS to the guardian on the first day of an absence"),
        description=_(
            "absence_sms_help",
            default="One short SMS per student and day, in the guardian's language (Urdu unless "
            "they chose English), sent at least 15 minutes after the register is saved. A "
            "correction before then sends nothing.",
        ),
        missing=False,
        widget=deform.widget.CheckboxWidget(),
    )
    version = version_node()
    csrf_token = csrf_node()
