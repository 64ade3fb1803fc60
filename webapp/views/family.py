"""Guardians and family members of a student."""

import colander
from pyramid.view import view_config

from spets.forms.common import csrf_node
from spets.forms.people import FamilyMemberSchema, GuardianSchema
from spets.i18n import _
from spets.services import people
from spets.services.scope import Permission as P
from spets.webapp import forms
from spets.webapp.views.common import form_page


class ConfirmSchema(colander.MappingSchema):
    csrf_token = csrf_node()


def _profile_url(request, student) -> str:
    return request.route_url("student.view", student_id=student.id, _anchor="family")


def _finance_allowed(request) -> bool:
    return request.context.can(P.FAMILY_FINANCE_EDIT)


def _audit_finance_shown(request, student) -> None:
    """An edit form shows the finance fields' current values: that is a read to audit."""
    if _finance_allowed(request) and request.method == "GET":
        people.audit_finance_read(
            request.dbsession, student, actor=request.actor, now=request.now, reason="edit form"
        )


@view_config(
    route_name="guardian.new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.FAMILY_EDIT,
)
def guardian_new(request):
    student = request.context.student
    schema = GuardianSchema()
    form = forms.make_form(request, schema, can_edit_finance=_finance_allowed(request))

    def save(values):
        people.add_guardian(
            request.dbsession, student, values, actor=request.actor, now=request.now
        )
        return _profile_url(request, student)

    return form_page(
        request,
        form,
        save,
        title=_(
            "add_guardian_title",
            default="Add a guardian of ${name}",
            mapping={"name": student.name(request.locale_name)},
        ),
        intro=_(
            "add_guardian_intro",
            default="A guardian already in SPeTS with the same CNIC, for example the parent of a sibling, is linked rather than copied.",
        ),
        appstruct={"preferred_locale": "ur"},
        back_url=_profile_url(request, student),
    )


@view_config(
    route_name="guardian.edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.FAMILY_EDIT,
)
def guardian_edit(request):
    link = request.context.link
    guardian = link.guardian
    student = request.context.student
    form = forms.make_form(request, GuardianSchema(), can_edit_finance=_finance_allowed(request))
    _audit_finance_shown(request, student)

    def save(values):
        people.update_guardian(
            request.dbsession,
            link,
            values,
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        return _profile_url(request, student)

    appstruct = {name: getattr(guardian, name) for name in people.GUARDIAN_FIELDS}
    appstruct.update(relation=link.relation, is_primary=link.is_primary, version=guardian.version)
    if not _finance_allowed(request):
        for name in people.GUARDIAN_FINANCE_FIELDS:
            appstruct.pop(name)
    return form_page(
        request,
        form,
        save,
        title=_(
            "edit_guardian_title",
            default="Edit guardian ${name}",
            mapping={"name": guardian.name(request.locale_name)},
        ),
        intro=_(
            "edit_guardian_intro",
            default="Changes apply to this guardian for every child linked to them.",
        ),
        appstruct=appstruct,
        back_url=_profile_url(request, student),
    )


@view_config(
    route_name="guardian.unlink",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.FAMILY_EDIT,
)
def guardian_unlink(request):
    link = request.context.link
    student = request.context.student
    form = forms.make_form(request, ConfirmSchema(), button_title=_("Remove the link"))

    def save(values):
        people.unlink_guardian(request.dbsession, link, actor=request.actor, now=request.now)
        return _profile_url(request, student)

    return form_page(
        request,
        form,
        save,
        title=_(
            "unlink_guardian_title",
            default="Remove ${guardian} as guardian of ${student}?",
            mapping={
                "guardian": link.guardian.name(request.locale_name),
                "student": student.name(request.locale_name),
            },
        ),
        back_url=_profile_url(request, student),
    )


@view_config(
    route_name="family.new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.FAMILY_EDIT,
)
def family_new(request):
    student = request.context.student
    form = forms.make_form(
        request, FamilyMemberSchema(), can_edit_finance=_finance_allowed(request)
    )

    def save(values):
        people.save_family_member(
            request.dbsession,
            student,
            None,
            values,
            version=None,
            actor=request.actor,
            now=request.now,
        )
        return _profile_url(request, student)

    return form_page(
        request,
        form,
        save,
        title=_(
            "add_family_title",
            default="Add a family member of ${name}",
            mapping={"name": student.name(request.locale_name)},
        ),
        appstruct={"lives_in_household": True},
        back_url=_profile_url(request, student),
    )


@view_config(
    route_name="family.edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.FAMILY_EDIT,
)
def family_edit(request):
    member = request.context.member
    student = request.context.student
    form = forms.make_form(
        request, FamilyMemberSchema(), can_edit_finance=_finance_allowed(request)
    )
    _audit_finance_shown(request, student)

    def save(values):
        people.save_family_member(
            request.dbsession,
            student,
            member,
            values,
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        return _profile_url(request, student)

    appstruct = {name: getattr(member, name) for name in people.FAMILY_FIELDS}
    appstruct["version"] = member.version
    if not _finance_allowed(request):
        for name in people.FAMILY_FINANCE_FIELDS:
            appstruct.pop(name)
    return form_page(
        request,
        form,
        save,
        title=_(
            "edit_family_title",
            default="Edit family member ${name}",
            mapping={"name": member.name(request.locale_name)},
        ),
        appstruct=appstruct,
        back_url=_profile_url(request, student),
    )


@view_config(
    route_name="family.delete",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.FAMILY_EDIT,
)
def family_delete(request):
    member = request.context.member
    student = request.context.student
    form = forms.make_form(request, ConfirmSchema(), button_title=_("Delete"))

    def save(values):
        people.delete_family_member(request.dbsession, member, actor=request.actor, now=request.now)
        return _profile_url(request, student)

    return form_page(
        request,
        form,
        save,
        title=_(
            "delete_family_title",
            default="Delete the record of ${name}?",
            mapping={"name": member.name(request.locale_name)},
        ),
        back_url=_profile_url(request, student),
    )
