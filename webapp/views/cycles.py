"""Administration of cycle definitions: when work falls due, reminders and the escalation ladder."""

from pyramid.view import view_config
from sqlalchemy import select

from spets.forms.cycles import CycleDefinitionSchema
from spets.i18n import _
from spets.models import CycleDefinition, OrgUnit
from spets.services import cycles
from spets.services.scope import Permission as P
from spets.webapp import forms
from spets.webapp.views.common import form_page


@view_config(
    route_name="cycles.list",
    renderer="spets:webapp/templates/cycles/list.pt",
    permission=P.CYCLE_ADMIN,
)
def definition_list(request):
    tenant_id = request.identity.tenant_id
    rows = request.dbsession.execute(
        select(CycleDefinition, OrgUnit)
        .join(OrgUnit, OrgUnit.id == CycleDefinition.org_unit_id)
        .where(CycleDefinition.tenant_id == tenant_id)
        .order_by(OrgUnit.path, CycleDefinition.kind)
    ).all()
    return {"page_title": request.t(_("Cycles")), "rows": rows}


@view_config(
    route_name="cycles.edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.CYCLE_ADMIN,
)
def definition_edit(request):
    definition = request.context.definition
    form = forms.make_form(request, CycleDefinitionSchema())

    def save(values):
        cycles.save_definition(
            request.dbsession,
            org_unit=definition.org_unit,
            kind=definition.kind,
            definition=definition,
            values=values,
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        request.session.flash(request.t(_("saved", default="Saved.")), "success")
        return request.route_url("cycles.list")

    appstruct = {name: getattr(definition, name) for name in cycles.DEFINITION_FIELDS}
    appstruct["version"] = definition.version
    return form_page(
        request,
        form,
        save,
        title=_(
            "edit_cycle_title",
            default="Timing of ${name}",
            mapping={"name": definition.name(request.locale_name)},
        ),
        intro=_(
            "edit_cycle_intro",
            default="Changes apply to tasks opened from now on; open tasks keep their dates.",
        ),
        appstruct=appstruct,
        back_url=request.route_url("cycles.list"),
    )
